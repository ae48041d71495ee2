"""The baselines `txformers evaluate` trains for the splice-site checkpoints: LightGBM on one-hot +-60 nt and the
random-init twin trained with the checkpoint's own recipe."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from txformers.tasks.splicing import evaluation_baselines as eb


def motif_windows(n=120, length=120, seed=0):
    """Window-classifier windows (``label`` 0 decoy, 1 donor, 2 acceptor): true sites carry a motif at the centre."""
    rng = np.random.default_rng(seed)
    site_type = np.repeat(["donor", "acceptor"], n)
    is_site = np.tile(np.arange(n) % 2, 2).astype(bool)
    sequences = []
    for site, real in zip(site_type, is_site):
        bases = rng.choice(list("ACGT"), length)
        if real:
            bases[length // 2 - 4 : length // 2 + 4] = list("AAGGTAAG" if site == "donor" else "TTTTCAGG")
        sequences.append("".join(bases))
    label = np.where(is_site, np.where(site_type == "donor", 1, 2), 0)
    return {"sequence": np.array(sequences), "label": label, "site_type": site_type}


def nt_windows(n=100, seed=0):
    """602-nt per-nucleotide windows (GT / AG at 300-301); true sites carry a motif next to the dinucleotide."""
    rng = np.random.default_rng(seed)
    site_type = np.repeat(["donor", "acceptor"], n)
    is_site = np.tile(np.arange(n) % 2, 2).astype(bool)
    sequences = []
    for site, real in zip(site_type, is_site):
        left, right = "".join(rng.choice(list("ACGT"), 300)), "".join(rng.choice(list("ACGT"), 300))
        if real:
            left = left[:-3] + ("CAG" if site == "donor" else "TTC")
        sequences.append(left + ("GT" if site == "donor" else "AG") + right)
    return {"sequence": np.array(sequences), "site_type": site_type, "is_site": is_site}


def test_lightgbm_window_scores_learn_a_motif_and_beat_chance():
    train, test = motif_windows(seed=0), motif_windows(n=60, seed=1)
    scores = eb.lightgbm_window_scores(train, test, flank=20)
    for site, column in (("donor", 1), ("acceptor", 2)):
        rows = test["site_type"] == site
        assert roc_auc_score(test["label"][rows] == column, scores[rows]) > 0.9
    # the same features with the labels shuffled carry nothing: the row is not an artefact of the features
    shuffled = {**train, "label": np.random.default_rng(0).permutation(train["label"])}
    noise = eb.lightgbm_window_scores(shuffled, test, flank=20)
    rows = test["site_type"] == "donor"
    assert roc_auc_score(test["label"][rows] == 1, noise[rows]) < 0.8


def test_lightgbm_nt_scores_score_the_centres_and_beat_chance():
    train, test = nt_windows(seed=0), nt_windows(n=40, seed=1)
    x, y = eb.nt_training_set(train, flank=10, none_per_window=2)
    assert x.shape[1] == 21 * 4 and set(np.unique(y)) <= {0, 1, 2} and (y > 0).sum() == train["is_site"].sum()
    scores = eb.lightgbm_nt_scores(train, test, flank=10)
    assert scores.shape == (len(test["sequence"]),) and np.all((scores >= 0) & (scores <= 1))
    for site in ("donor", "acceptor"):
        rows = test["site_type"] == site
        assert roc_auc_score(test["is_site"][rows], scores[rows]) > 0.9


def test_lightgbm_stops_early_on_a_split_cut_from_its_training_rows():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (400, 10)).astype(np.float32)
    y = rng.integers(0, 2, 400)  # pure noise: the held-out loss stops improving almost at once
    model = eb.lightgbm_fit(x, y)
    assert model.best_iteration_ < eb.LIGHTGBM_PARAMS["n_estimators"]


RECIPE = (
    "python -m txformers.training.finetune_splice_nt --data-dir ../shared/data/x --threads 1 --site-weight 50 "
    "--context 120 --lr 1e-3 --max-steps 1250 --conv-kernel 11 --output-dir runs/nt13/pre-c11 --init pretrained"
)


def test_recipe_keeps_the_training_options_and_drops_where_it_reads_and_writes(tmp_path):
    argv = eb.recipe_argv(RECIPE, eb.NT_MODULE)
    assert argv == "--threads 1 --site-weight 50 --context 120 --lr 1e-3 --max-steps 1250 --conv-kernel 11".split()
    command = eb.twin_command(RECIPE, eb.NT_MODULE, tmp_path / "data", tmp_path / "run", max_steps=3, bootstrap=0)
    assert command[1:3] == ["-m", eb.NT_MODULE]
    assert command[command.index("--max-steps") + 1] == "3" and command[command.index("--bootstrap") + 1] == "0"
    assert command[command.index("--init") + 1] == "random" and command.count("--init") == 1
    assert command[command.index("--output-dir") + 1] == str((tmp_path / "run").resolve())
    assert "runs/nt13/pre-c11" not in command
    with pytest.raises(ValueError, match="not a"):
        eb.recipe_argv("python -m something.else --lr 1", eb.NT_MODULE)


def test_nt_recipe_is_read_from_the_checkpoint_readme(tmp_path):
    (tmp_path / "README.md").write_text(f"# model\n\nCommand:\n\n```\n{RECIPE}\n```\n")
    assert eb.nt_recipe(tmp_path) == RECIPE
    (tmp_path / "README.md").write_text("# model without a recipe\n")
    with pytest.raises(ValueError, match="no recipe"):
        eb.nt_recipe(tmp_path)


def _tiny_pretrained(folder):
    from txformers import SpliceBertConfig, SpliceBertForMaskedLM

    torch.manual_seed(1)
    config = SpliceBertConfig(
        num_hidden_layers=1, hidden_size=16, num_attention_heads=2, intermediate_size=32, max_position_embeddings=130
    )
    config.custom_pipelines = {}  # as the bundled pretrained checkpoint's config has it
    model = SpliceBertForMaskedLM(config)
    with torch.no_grad():  # weights no random init would draw: the twin cannot match them by chance
        for parameter in model.parameters():
            parameter.add_(0.5)
    model.save_pretrained(folder)
    return {k: v for k, v in model.state_dict().items() if k.startswith("bert.encoder.")}


def _encoder(model):
    return {k: v for k, v in model.state_dict().items() if k.startswith("bert.encoder.")}


def test_nt_twin_is_the_recipe_from_random_weights(tmp_path):
    """With learning rate 0 a trained model is its initialisation: the twin's differs from the pretrained weights
    the recipe starts from, while the recipe itself (pretrained init) keeps them."""
    from tests.training.test_finetune_splice_nt import _data
    from txformers.models.splicebert import SpliceBertForTokenClassification
    from txformers.training import finetune_splice_nt

    data = _data(tmp_path / "homo_sapiens")
    pretrained = _tiny_pretrained(tmp_path / "pretrained")
    recipe = (
        f"python -m txformers.training.finetune_splice_nt --pretrained {tmp_path / 'pretrained'} --context 32 "
        "--lr 0 --max-steps 1 --eval-every 1 --bootstrap 0 --off-target-windows 2 --batch-size 2 "
        "--output-dir runs/somewhere"
    )
    folder = eb.train_random_twin(recipe, eb.NT_MODULE, data, tmp_path / "twin")
    twin = _encoder(SpliceBertForTokenClassification.from_pretrained(folder))
    assert twin.keys() == pretrained.keys() and len(pretrained) > 10
    assert all(not torch.allclose(twin[k], pretrained[k]) for k in pretrained)
    assert "--init random" in (tmp_path / "twin" / "train.log").read_text()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert eb.train_random_twin(recipe, eb.NT_MODULE, data, tmp_path / "twin") == folder  # finished: reused
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert "reused" in (tmp_path / "twin" / "train.log").read_text()
    control = tmp_path / "control"  # the same recipe from the pretrained weights
    finetune_splice_nt.main(
        eb.recipe_argv(recipe, eb.NT_MODULE) + ["--data-dir", str(data), "--output-dir", str(control)]
    )
    same = _encoder(SpliceBertForTokenClassification.from_pretrained(control / "best"))
    assert all(torch.allclose(same[k], pretrained[k]) for k in pretrained)


@pytest.mark.slow
def test_window_twin_is_the_recipe_from_random_weights(tmp_path):
    from tests.training.test_finetune_splice import _write_layout
    from txformers.models.splicebert import SpliceBertForSequenceClassification

    _write_layout(tmp_path / "data", n=8)
    pretrained = _tiny_pretrained(tmp_path / "pretrained")
    recipe = (
        f"python -m txformers.training.finetune_splice --data-dir x --pretrained {tmp_path / 'pretrained'} "
        "--output-dir runs/splice-sites --crop 100 --lr 0 --max-steps 2 --batch-size 4 --eval-every 2 "
        f"--validation-fraction 0.25 --cpu --cache-dir {tmp_path / 'cache'}"
    )
    folder = eb.train_random_twin(recipe, eb.WINDOW_MODULE, tmp_path / "data", tmp_path / "twin")
    twin = _encoder(SpliceBertForSequenceClassification.from_pretrained(folder))
    assert twin.keys() == pretrained.keys() and len(pretrained) > 10
    assert all(not torch.allclose(twin[k], pretrained[k]) for k in pretrained)
    # another recipe in the same work folder trains afresh (finetune_splice refuses a used output folder)
    again = eb.train_random_twin(recipe, eb.WINDOW_MODULE, tmp_path / "data", tmp_path / "twin", max_steps=1)
    assert again == folder and "--max-steps 1" in (tmp_path / "twin" / "train.log").read_text()
