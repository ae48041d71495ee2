"""The "splice-site-prediction" and "splice-variant-effect" Hugging Face pipelines, in-process and
shipped with a checkpoint (trust_remote_code, in a process where txformers cannot be imported)."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import pipeline

from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM, SpliceBertForSequenceClassification
from txformers.hub import CHECKPOINTS, register
from txformers.models.splicebert import pipeline_splicebert, scoring_splicebert
from txformers.models.splicebert.pipeline_splicebert import (
    SpliceSitePipeline,
    SpliceVariantEffectPipeline,
    add_pipelines_to_checkpoint,
)
from txformers.models.splicebert.scoring_splicebert import (
    kl_profile,
    nucleotide_probabilities,
    stitch_windows,
    window_spans,
)
from txformers.tasks.splicing.variant_effect import score_variants
from txformers.tokenizers import tokenization_nucleotide

BUNDLED = CHECKPOINTS / "splicebert-small-pretrained"
WINDOW = 40
LABELS = {0: "neither", 1: "donor", 2: "acceptor"}


def tiny_config(**kwargs):
    return SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=66,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **kwargs,
    )


def make_classifier(folder, window_size=WINDOW):
    """A tiny random window classifier with spread-out probabilities (large initial weights)."""
    torch.manual_seed(0)
    config = tiny_config(
        num_labels=3,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
        window_size=window_size,
        classifier_pooling="center",
        initializer_range=0.5,
    )
    model = SpliceBertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    NucleotideTokenizer().save_pretrained(folder)
    return model


def make_mlm(folder):
    torch.manual_seed(1)
    model = SpliceBertForMaskedLM(tiny_config(initializer_range=0.2)).eval()
    model.save_pretrained(folder)
    NucleotideTokenizer().save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("splice_sites")
    return folder, make_classifier(folder)


@pytest.fixture(scope="module")
def mlm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlm")
    return folder, make_mlm(folder)


def direct_site_probability(model, sequence: str, first: int, label: int, window: int = WINDOW) -> float:
    """The window classifier on the window with the dinucleotide at ``first`` at its centre, built here
    independently: ``window // 2 - 1`` nt before it, N past the sequence ends."""
    padded = "N" * window + sequence.upper().replace("U", "T") + "N" * window
    start = window + first - (window // 2 - 1)
    text = padded[start : start + window]
    assert len(text) == window
    with torch.no_grad():
        logits = model(**NucleotideTokenizer()([text], return_tensors="pt")).logits
    return float(logits.softmax(-1)[0, label])


def substitute(sequence: str, pos: int) -> str:
    alt = "A" if sequence[pos] != "A" else "C"
    return sequence[:pos] + alt + sequence[pos + 1 :]


SEQUENCES = [
    "GTCCAGGTAAGTATTTTTTCCCTTTCAGGTCCAAGGTGAGTACCCCCAAAAAACAGAAGT",  # GT at 0, AG at the end
    "acgucagguaag",  # lower case RNA
    "CCCCCCCC",  # no candidate at all
]


def expected_candidates(sequence):
    s = sequence.upper().replace("U", "T")
    donors = [i for i in range(len(s) - 1) if s[i : i + 2] == "GT"]
    acceptors = [i + 1 for i in range(len(s) - 1) if s[i : i + 2] == "AG"]
    return donors, acceptors


def test_splice_site_pipeline_matches_the_window_classifier(classifier):
    folder, model = classifier
    register()
    finder = pipeline("splice-site-prediction", model=str(folder), device="cpu")
    assert isinstance(finder, SpliceSitePipeline)
    results = finder(SEQUENCES, batch_size=1)
    batched = finder(SEQUENCES, batch_size=7)  # windows of different sequences share forward passes
    spread = []
    for sequence, result, other in zip(SEQUENCES, results, batched):
        donors, acceptors = expected_candidates(sequence)
        assert result["donor_positions"].tolist() == donors
        assert result["acceptor_positions"].tolist() == acceptors
        assert result["sequence"] == sequence.upper().replace("U", "T")
        assert result["donor_prob"].shape == result["acceptor_prob"].shape == (len(sequence),)
        others = np.setdiff1d(np.arange(len(sequence)), donors)
        assert (result["donor_prob"][others] == 0).all()
        assert (result["acceptor_prob"][np.setdiff1d(np.arange(len(sequence)), acceptors)] == 0).all()
        for position in donors:
            expected = direct_site_probability(model, sequence, position, label=1)
            assert result["donor_prob"][position] == pytest.approx(expected, abs=1e-5)
            spread.append(expected)
        for position in acceptors:  # reported at the G of AG, the window centred on the AG
            expected = direct_site_probability(model, sequence, position - 1, label=2)
            assert result["acceptor_prob"][position] == pytest.approx(expected, abs=1e-5)
        np.testing.assert_allclose(other["donor_prob"], result["donor_prob"], atol=1e-5)
        np.testing.assert_allclose(other["acceptor_prob"], result["acceptor_prob"], atol=1e-5)
    assert max(spread) - min(spread) > 0.05  # the check above compares distinct values, not a constant

    single = finder({"sequence": SEQUENCES[1], "name": "rna"})
    assert single["name"] == "rna" and single["donor_positions"].tolist() == expected_candidates(SEQUENCES[1])[0]
    with pytest.raises(ValueError, match=r"'X' at position 3"):
        finder("ACGXGT")


def test_splice_site_pipeline_needs_a_window_and_site_labels(classifier):
    folder, _ = classifier
    model = SpliceBertForSequenceClassification.from_pretrained(folder)
    model.config.window_size = None
    finder = SpliceSitePipeline(model=model, tokenizer=NucleotideTokenizer(), device="cpu")
    with pytest.raises(ValueError, match="window_size"):
        finder("CAGGTAAG")
    assert finder("CAGGTAAG", window_size=WINDOW)["donor_positions"].tolist() == [3]
    with pytest.raises(ValueError, match="window_size 80 must be"):
        finder("CAGGTAAG", window_size=80)  # 80 + 2 > 66 positions
    unlabelled = SpliceBertForSequenceClassification(tiny_config(num_labels=3, window_size=WINDOW))
    with pytest.raises(ValueError, match="needs 'donor' and 'acceptor'"):
        SpliceSitePipeline(model=unlabelled, tokenizer=NucleotideTokenizer(), device="cpu")("CAGGTAAG")


def test_variant_effect_pipeline_equals_variant_effect_module(mlm):
    folder, model = mlm
    register()
    scorer = pipeline("splice-variant-effect", model=str(folder), device="cpu")
    assert isinstance(scorer, SpliceVariantEffectPipeline)
    rng = np.random.default_rng(0)
    wt_long = "".join(rng.choice(list("ACGT"), 150))  # longer than the model's 64 nt: sliding windows
    wt_short = "".join(rng.choice(list("ACGT"), 50))
    variants = [(wt_long, 70), (wt_long, 3), (wt_short, 25)]
    pairs = [(wt, substitute(wt, pos)) for wt, pos in variants]
    tokenizer = NucleotideTokenizer()
    one_by_one = scorer(pairs, batch_size=1)
    batched = scorer([{"wt": w, "mut": m} for w, m in pairs], batch_size=2, return_probabilities=True)
    for row, (result, other) in enumerate(zip(one_by_one, batched)):
        # The same forward passes as the pipeline (WT and mutant together): the same numbers.
        (wt, mut), pos = pairs[row], variants[row][1]
        expected = score_variants(model, tokenizer, [wt], [mut], [pos])
        assert result["position"] == pos
        assert result["kl_context"] == pytest.approx(expected["kl_context"][0], rel=1e-12)
        assert result["kl_variant"] == pytest.approx(expected["kl_variant"][0], rel=1e-12)
        p_wt, p_mut = nucleotide_probabilities(model, tokenizer, [wt, mut])
        np.testing.assert_allclose(result["kl_profile"], kl_profile(p_wt, p_mut), rtol=1e-12)
        # Batching variants changes which windows share a forward pass: float32 rounding only.
        assert other["kl_context"] == pytest.approx(result["kl_context"], rel=1e-3)
        np.testing.assert_allclose(other["p_wt"], p_wt, atol=1e-5)
        assert other["p_mut"].shape == (len(wt), 4)
    assert scorer(pairs[0], max_distance=5)["kl_context"] != pytest.approx(one_by_one[0]["kl_context"])

    wt = pairs[2][0]
    with pytest.raises(ValueError, match="differ at 2 positions"):
        scorer((wt, substitute(substitute(wt, 0), 24)))
    with pytest.raises(ValueError, match="different lengths"):
        scorer((wt, wt[:-1]))
    with pytest.raises(ValueError, match="same base"):
        scorer((wt, pairs[2][1], 3))


def test_portable_window_helpers_match_the_tokenizer():
    rng = np.random.default_rng(0)
    for length, window, stride in [(5, 10, 5), (10, 10, 5), (11, 10, 5), (1000, 64, 32), (999, 64, 17)]:
        spans = window_spans(length, window, stride)
        assert spans == tokenization_nucleotide.window_spans(length, window, stride)
        outputs = [rng.random((end - start, 3)) for start, end in spans]
        np.testing.assert_array_equal(
            stitch_windows(outputs, spans, length), tokenization_nucleotide.stitch_windows(outputs, spans, length)
        )


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


REMOTE = r"""
import json, sys
sys.modules["txformers"] = None  # any `import txformers` now fails
from transformers import pipeline
sites_dir, mlm_dir, bundled = sys.argv[1:4]
finder = pipeline("splice-site-prediction", model=sites_dir, trust_remote_code=True, device="cpu")
result = finder("GTCCAGGTAAGTATTTTTTCCCTTTCAGGTCC")
scorer = pipeline("splice-variant-effect", model=mlm_dir, trust_remote_code=True, device="cpu")
wt = "ACGTTTCAGGTAAGTCCAGGACGTAGTCCGATTACG"
variant = scorer((wt, wt[:12] + "C" + wt[13:]))
real = pipeline("splice-variant-effect", model=bundled, trust_remote_code=True, device="cpu")
wt = "ACGTTTCAGGTAAGTCCAGGACGT" * 10
big = real((wt, wt[:100] + "A" + wt[101:]))
print("RESULT", json.dumps({
    "classes": [type(p).__module__ + "." + type(p).__name__ for p in (finder, scorer, real)],
    "donor_prob": result["donor_prob"].tolist(), "acceptor_prob": result["acceptor_prob"].tolist(),
    "kl_context": variant["kl_context"], "kl_profile": variant["kl_profile"].tolist(),
    "bundled": [big["position"], big["kl_context"], len(big["kl_profile"])],
}))
"""


def test_pipelines_ship_with_checkpoints_and_run_without_txformers(tmp_path):
    sites_dir, mlm_dir = tmp_path / "sites", tmp_path / "mlm"
    sites_model, mlm_model = make_classifier(sites_dir), make_mlm(mlm_dir)
    before = _digest(sites_dir)
    add_pipelines_to_checkpoint(sites_dir, "splice-site-prediction")
    add_pipelines_to_checkpoint(sites_dir, ["splice-variant-effect"])  # merged, not replaced
    after = _digest(sites_dir)
    shipped = ("config.json", "pipeline_splicebert.py", "scoring_splicebert.py")
    assert {k: v for k, v in after.items() if k not in shipped} == {
        k: v for k, v in before.items() if k != "config.json"
    }  # weights and tokenizer untouched
    assert (sites_dir / "scoring_splicebert.py").read_bytes() == Path(scoring_splicebert.__file__).read_bytes()
    custom = json.loads((sites_dir / "config.json").read_text())["custom_pipelines"]
    assert custom["splice-site-prediction"] == {
        "impl": "pipeline_splicebert.SpliceSitePipeline",
        "pt": ["AutoModelForSequenceClassification"],
        "type": "text",
    }
    assert custom["splice-variant-effect"]["pt"] == ["AutoModelForMaskedLM"]
    add_pipelines_to_checkpoint(mlm_dir)
    with pytest.raises(ValueError, match="unknown task"):
        add_pipelines_to_checkpoint(mlm_dir, "fill-mask")

    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", REMOTE, str(sites_dir), str(mlm_dir), str(BUNDLED)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    remote = json.loads(line[len("RESULT ") :])
    assert all(
        name.endswith(("pipeline_splicebert.SpliceSitePipeline", "pipeline_splicebert.SpliceVariantEffectPipeline"))
        and not name.startswith("txformers")
        for name in remote["classes"]
    )

    register()
    local = SpliceSitePipeline(model=sites_model, tokenizer=NucleotideTokenizer(), device="cpu")(
        "GTCCAGGTAAGTATTTTTTCCCTTTCAGGTCC"
    )
    np.testing.assert_allclose(remote["donor_prob"], local["donor_prob"], atol=1e-5)
    np.testing.assert_allclose(remote["acceptor_prob"], local["acceptor_prob"], atol=1e-5)
    wt = "ACGTTTCAGGTAAGTCCAGGACGTAGTCCGATTACG"
    expected = score_variants(mlm_model, NucleotideTokenizer(), [wt], [wt[:12] + "C" + wt[13:]], [12])
    assert remote["kl_context"] == pytest.approx(expected["kl_context"][0], rel=1e-6)
    assert remote["bundled"][0] == 100 and remote["bundled"][2] == 240 and np.isfinite(remote["bundled"][1])


def test_bundled_checkpoints_carry_the_current_pipeline_and_scoring_files():
    config = json.loads((BUNDLED / "config.json").read_text())
    impl = config["custom_pipelines"]["splice-variant-effect"]["impl"]
    assert impl == "pipeline_splicebert.SpliceVariantEffectPipeline"
    for name in ("splicebert-small-pretrained", "splicebert-small-splice-sites"):
        for module in (pipeline_splicebert, scoring_splicebert):
            shipped = (CHECKPOINTS / name / Path(module.__file__).name).read_bytes()
            assert shipped == Path(module.__file__).read_bytes(), (
                f"re-run add_pipelines_to_checkpoint('checkpoints/{name}') after editing the pipeline or its engine"
            )
