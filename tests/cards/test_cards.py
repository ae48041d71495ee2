"""Model cards: Hub-valid metadata, model-index numbers equal to the saved results, portable paths."""

import json
import math
from collections import defaultdict
from pathlib import Path

import pytest
from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results

from txformers.cards import (
    BUNDLED,
    CardError,
    ResultsError,
    bundled_card_paths,
    eval_values,
    find_local_paths,
    portable,
    portable_path,
    render_bundled,
    render_card,
    scan_local_paths,
    validate_card,
)
from txformers.hub import REPO_ROOT as ROOT

# Cards rendered from templates (bundled checkpoints); the new per-nt and variant-effect checkpoints carry
# README files written by their training scripts until their templates exist (issues 13, 15).
CARDS = sorted((ROOT / "model_cards").glob("*.md")) + sorted(
    path
    for path in (ROOT / "checkpoints").glob("*/README.md")
    if (ROOT / "model_cards" / f"{path.parent.name}.md").exists()
)
PRESENT = [name for name, entry in BUNDLED.items() if (ROOT / entry["results"]).is_file()]


def _results(name):
    return json.loads((ROOT / BUNDLED[name]["results"]).read_text())


@pytest.mark.parametrize("path", CARDS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_card_parses_and_round_trips_like_the_hub(path):
    card = ModelCard.load(path)
    metadata = card.data.to_dict()
    assert metadata["license"] and metadata["library_name"] == "transformers"
    assert ModelCardData(**metadata).to_dict() == metadata
    name, results = model_index_to_eval_results(metadata["model-index"])
    assert results and all(isinstance(r.metric_value, float) and math.isfinite(r.metric_value) for r in results)
    validate_card(path)
    assert not find_local_paths(path.read_text()), "a card names a local path"


def test_every_bundled_checkpoint_has_its_card():
    for name in PRESENT:
        paths = bundled_card_paths(name)
        assert paths[0].is_file()
        if (ROOT / "checkpoints" / name).is_dir():
            assert paths[1].read_text() == paths[0].read_text()


@pytest.mark.parametrize("name", PRESENT)
def test_bundled_cards_are_rendered_from_their_results(name):
    text = str(render_bundled(name))
    for path in bundled_card_paths(name):
        assert path.read_text() == text, f"{path} is out of date: python -m txformers.cards --bundled"


def _by(values, *keys):
    grouped = defaultdict(list)
    for v in values:
        grouped[tuple(v[k] for k in keys)].append(v["value"])
    return {k: sorted(v) for k, v in grouped.items()}


def test_model_index_equals_results_splicebert_and_cellformer():
    values = {
        v["metric"]: v["value"]
        for v in eval_values(ModelCard.load(ROOT / "model_cards/splicebert-small-pretrained.md"))
    }
    evaluation = _results("splicebert-small-pretrained")["eval"]
    assert values == {
        "accuracy": round(evaluation["accuracy"], 4),
        "balanced_accuracy": round(evaluation["balanced_accuracy"], 4),
    }

    values = {
        v["metric"]: v["value"] for v in eval_values(ModelCard.load(ROOT / "model_cards/cellformer-pretrained.md"))
    }
    heldout = _results("cellformer-pretrained")["heldout"]
    assert values == {"accuracy": round(heldout["bin_accuracy"], 4), "mae": round(heldout["bin_mae"], 4)}


def test_model_index_equals_results_cancer_type():
    values = _by(eval_values(ModelCard.load(ROOT / "model_cards/cellformer-cancer-type.md")), "config", "metric")
    expected = defaultdict(list)
    for protocol, block in _results("cellformer-cancer-type")["protocols"].items():
        model = block["models"]["cellformer"]
        expected[(protocol, "accuracy")] += [
            round(model["per_cell"]["accuracy"], 4),
            round(model["per_sample"]["accuracy"], 4),
        ]
        expected[(protocol, "f1")].append(round(model["per_cell"]["macro_f1"], 4))
        expected[(protocol, "balanced_accuracy")].append(round(model["per_cell"]["balanced_accuracy"], 4))
    recorded = json.loads((ROOT / "checkpoints/cellformer-cancer-type/evaluation.json").read_text())["full"]["rows"]
    for key, metric_type in (("accuracy", "accuracy"), ("macro_f1", "f1")):  # txformers evaluate, per sample
        (row,) = [
            r for r in recorded if r["model"] == "cellformer" and r["metric"].endswith(f"all_types.patient_cv.{key}")
        ]
        expected[("per_sample", metric_type)].append(round(row["value"], 4))
    assert values == {k: sorted(v) for k, v in expected.items()}


@pytest.mark.parametrize("name", ["metascdrug-meta", "metascdrug-nometa"])
def test_model_index_equals_results_metascdrug(name):
    card = ModelCard.load(ROOT / "model_cards" / f"{name}.md")
    values = eval_values(card)
    results = _results(name)
    runs = [r for r in results["runs"] if Path(r["model"]).name == name]
    expected = defaultdict(list)
    for run in runs:
        file = Path(run["data"]).name
        for metric, key in (("accuracy", "accuracy"), ("roc_auc", "auroc"), ("f1", "f1"), ("average_precision", "ap")):
            expected[(file, metric)].append(round(run["metrics"][key], 4))
    got = defaultdict(list)
    unseen = []
    for v in values:
        file = next((f for f, _ in expected if f in v["dataset"]), None)
        if file is None:
            unseen.append(v["value"])
        else:
            got[(file, v["metric"])].append(v["value"])
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in expected.items()}
    key = "meta" if name.endswith("-meta") else "nometa"
    shots = json.loads((ROOT / "results/metascdrug/unseen_drugs.json").read_text())["shots"]
    assert sorted(unseen) == sorted(
        [round(shots["0"][f"{key}_zeroshot"]["auroc"], 4), round(shots["10"][f"{key}_fewshot"]["auroc"], 4)]
    )


def test_metascdrug_card_body_numbers_come_from_the_results():
    text = (ROOT / "model_cards/metascdrug-meta.md").read_text()
    table = _results("metascdrug-meta")["table"]
    means = {m: sum(r[m]["accuracy"] for r in table) / len(table) for m in ("meta", "nometa", "logistic_regression")}
    summary = f"meta {means['meta']:.3f}, nometa {means['nometa']:.3f}"
    assert f"{summary}, logistic regression {means['logistic_regression']:.3f}" in text
    row = table[0]
    assert (
        f"| {row['meta']['accuracy']:.3f} ± " in text
        and f"| {row['meta']['f1']:.3f} | {row['meta']['ap']:.3f} |" in text
    )
    training = json.loads((ROOT / "checkpoints/metascdrug-meta/training_args.json").read_text())
    assert f"--inner-lr {training['inner_lr']}" in text and f"{training['n_parameters'] / 1e6:.2f} M parameters" in text
    # the adaptation-budget line: one entry per steps file, each from its own runs
    for path in sorted((ROOT / "results/metascdrug").glob("single_cell_fewshot_steps*.json")):
        budget = json.loads(path.read_text())
        steps = budget["runs"][0]["settings"]["steps"]
        mean = {m: sum(r[m]["accuracy"] for r in budget["table"]) / len(budget["table"]) for m in ("meta", "nometa")}
        assert f"{steps} steps: {mean['meta']:.3f} / {mean['nometa']:.3f}" in text


def test_local_paths_are_found_and_made_portable():
    text = "--data /work/shared/data/x.tsv --out runs/a, smiles C/C=C/C F/C(/F)=C/F, https://hf.co/a/b"
    assert find_local_paths(text) == ["/work/shared/data/x.tsv"]
    assert portable_path(str(ROOT / "checkpoints" / "m")) == "checkpoints/m"
    assert portable_path(str(ROOT.parent / "shared" / "data")) == "../shared/data"
    assert portable_path("/tmp/runs/mt/final") == "runs/mt/final"
    assert portable_path("runs/x") == "runs/x"
    # results recorded on a machine with another layout still point at the shared data
    assert portable_path("/check/work/shared/data/splice/x") == "../shared/data/splice/x"
    value = {"args": {"dirs": ["/tmp/a/b", "ok"], "lr": 0.1}, "cmd": f"python x --d {ROOT}/results/r.json"}
    assert scan_local_paths(value) == [("/args/dirs/0", "/tmp/a/b"), ("/cmd", f"{ROOT}/results/r.json")]
    clean = portable(value)
    assert clean == {"args": {"dirs": ["a/b", "ok"], "lr": 0.1}, "cmd": "python x --d results/r.json"}
    assert scan_local_paths(clean) == []


def test_results_files_with_local_paths_are_reported():
    found = {
        str(p.relative_to(ROOT)): scan_local_paths(json.loads(p.read_text()))
        for p in (ROOT / "results").rglob("*.json")
    }
    for file, paths in found.items():
        assert all(path.startswith("/") for _, path in paths), file
    # whatever the results hold, the cards rendered from them name none
    for name in PRESENT:
        assert not find_local_paths(str(render_bundled(name)))


def _splice_results(command=""):
    site = lambda auroc: {"n": 10, "auroc": auroc, "ap": auroc - 0.01, "accuracy": auroc - 0.02, "f1": auroc - 0.03}  # noqa: E731
    return {
        "command": command,
        "args": {
            "data_dir": "/work/shared/data/splice/ensemblesplice_600nt/homo_sapiens",
            "pretrained": "checkpoints/p",
            "output_dir": "/tmp/ft/run",
            "crop": 400,
            "max_steps": 30,
            "batch_size": 8,
            "lr": 0.0002,
            "warmup_steps": 5,
            "lora": False,
            "skip_scratch": False,
            "cpu": True,
            "seed": 3,
            "cache_dir": "/tmp/c",
        },
        "splits": {"train": 100, "validation": 20, "test": 40},
        "window": {"length": 400, "dinucleotide_index": 199, "labels": {"0": "neither", "1": "donor", "2": "acceptor"}},
        "logistic_regression_onehot_60nt": {"test": {"donor": site(0.91111), "acceptor": site(0.92222)}},
        "pretrained": {
            "best": {"validation_auroc": 0.9, "step": 30},
            "test": {"donor": site(0.95555), "acceptor": site(0.96666)},
            "train_seconds": 120.0,
            "parameters": 1234,
        },
        "scratch": {"test": {"donor": site(0.81111), "acceptor": site(0.82222)}},
    }


def test_splice_sites_card_from_a_results_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_splice_results()))
    card = render_card("splice-sites", path, "my-splice-model")
    validate_card(str(card))
    values = _by(eval_values(card), "name")
    assert values[("donor AUROC (true sites vs decoys)",)] == [0.9556]
    assert values[("acceptor F1 (true sites vs decoys)",)] == [round(0.96666 - 0.03, 4)]
    text = str(card)
    assert "| 0.8111 |" in text and "| 0.9111 |" in text  # scratch and logistic regression rows
    assert "donor AUROC +0.0444" in text
    # the empty recorded command is rebuilt from the saved arguments, with portable paths
    assert (
        "--data-dir ../shared/data/splice/ensemblesplice_600nt/homo_sapiens" in text and "--output-dir ft/run" in text
    )
    assert "--cache-dir" not in text and not find_local_paths(text)


def test_bad_results_give_clear_errors(tmp_path):
    with pytest.raises(ResultsError, match="does not exist"):
        render_card("cellformer-mlm", tmp_path / "missing.json", "x")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ResultsError, match="not a JSON file"):
        render_card("cellformer-mlm", tmp_path / "bad.json", "x")
    broken = _splice_results()
    del broken["pretrained"]["test"]
    with pytest.raises(ResultsError, match="'pretrained.test'"):
        render_card("splice-sites", broken, "x")
    with pytest.raises(ResultsError, match="unknown card kind"):
        render_card("nope", broken, "x")
    with pytest.raises(ResultsError, match="no 'runs'"):
        render_card("metascdrug", {"something": 1}, "x")


def test_validate_card_rejects_what_the_hub_would(tmp_path):
    good = str(render_card("splice-sites", _splice_results(), "m"))
    validate_card(good)
    with pytest.raises(CardError, match="no YAML metadata"):
        validate_card("# just a title\n")
    with pytest.raises(CardError, match="'license'"):
        validate_card(good.replace("license: bsd-3-clause\n", ""))
    with pytest.raises(CardError, match="not a number"):
        validate_card(good.replace("value: 0.9556", "value: high", 1))
    no_index = "---\n" + ModelCardData(license="mit", library_name="transformers").to_yaml() + "\n---\n\n# m\n"
    with pytest.raises(CardError, match="no model-index"):
        validate_card(no_index)
    validate_card(no_index, require_results=False)
    with pytest.raises(CardError, match="no model card"):
        validate_card(tmp_path / "README.md")
