"""`txformers demo` and the examples it runs on.

The demo runs once (as a user would, in a subprocess) on the repository's checkpoints, results and
examples, except for the splice-site classifier: a tiny random stand-in with made-up saved metrics
takes its place, so the test does not depend on the real one. The other tests read that report, or
run the command in-process for the refusals and errors.
"""

import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForSequenceClassification
from txformers.cli import main
from txformers.hub import CHECKPOINTS, REPO_ROOT
from txformers.models.splicebert.pipeline_splicebert import add_pipelines_to_checkpoint

REPO = REPO_ROOT
EXAMPLES, RESULTS = REPO / "examples", REPO / "results"
REAL_CHECKPOINTS = [
    "splicebert-small-pretrained",
    "metascdrug-meta",
    "metascdrug-nometa",
    "cellformer-cancer-type",
    "cellformer-pretrained",
]
SECTION_LINES = ("splice sites:", "variant effects:", "drug response:", "cytokine:")
LABELS = {0: "neither", 1: "donor", 2: "acceptor"}


def _txformers(*args):
    return subprocess.run(
        [sys.executable, "-m", "txformers.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


def _load_make_examples():
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _minigenes() -> tuple[dict[str, str], dict[str, str]]:
    """(name -> header, name -> sequence) of examples/minigenes.fa, read independently of txformers."""
    headers, sequences, name = {}, {}, None
    for line in (EXAMPLES / "minigenes.fa").read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            headers[name], sequences[name] = line, ""
        else:
            sequences[name] += line.strip().upper()
    return headers, sequences


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """(checkpoints, results) folders: the repository's, plus a tiny random splice-site classifier and a
    made-up ``splicebert/splice_sites.json`` in the layout of ``txformers.training.finetune_splice``."""
    root = tmp_path_factory.mktemp("demo_inputs")
    checkpoints, results = root / "checkpoints", root / "results"
    checkpoints.mkdir()
    for name in REAL_CHECKPOINTS:
        (checkpoints / name).symlink_to(CHECKPOINTS / name, target_is_directory=True)
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=66,
        num_labels=3,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
        classifier_pooling="center",
        window_size=64,
        initializer_range=0.5,
    )
    folder = checkpoints / "splicebert-small-splice-sites"
    SpliceBertForSequenceClassification(config).eval().save_pretrained(folder)
    NucleotideTokenizer().save_pretrained(folder)
    add_pipelines_to_checkpoint(folder, "splice-site-prediction")

    (results / "splicebert").mkdir(parents=True)
    for name in ("cellformer", "metascdrug"):
        (results / name).symlink_to(RESULTS / name, target_is_directory=True)
    for path in (RESULTS / "splicebert").glob("*.json"):
        if path.name != "splice_sites.json":
            (results / "splicebert" / path.name).symlink_to(path)
    rng = np.random.default_rng(7)
    window = {"length": 64, "dinucleotide_index": 31, "labels": {str(k): v for k, v in LABELS.items()}}
    saved = {"command": "python -m txformers.training.finetune_splice --made-up-for-the-test", "window": window}
    for name in ("pretrained", "scratch", "logistic_regression_onehot_60nt"):
        saved[name] = {
            "test": {
                site: {"n": 1600, **{k: float(rng.uniform()) for k in ("auroc", "ap", "accuracy", "f1")}}
                for site in ("donor", "acceptor")
            }
        }
    (results / "splicebert" / "splice_sites.json").write_text(json.dumps(saved))
    return checkpoints, results


@pytest.fixture(scope="module")
def demo_run(inputs, tmp_path_factory):
    checkpoints, results = inputs
    out = tmp_path_factory.mktemp("demo_run") / "demo"
    run = _txformers("demo", "--out", out, "--checkpoints", checkpoints, "--results", results, "--device", "cpu")
    assert run.returncode == 0, run.stderr[-3000:]
    return out, run


def _args(out, inputs, *extra):
    checkpoints, results = inputs
    return [
        "demo",
        "--out",
        str(out),
        "--checkpoints",
        str(checkpoints),
        "--results",
        str(results),
        "--device",
        "cpu",
        *map(str, extra),
    ]


# ---------------------------------------------------------------------------------------------- the report
def test_report_opens_with_real_figures(demo_run):
    import matplotlib.image

    out, run = demo_run
    report = (out / "report.md").read_text()
    referenced = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    on_disk = sorted(str(p.relative_to(out)) for p in (out / "figures").glob("*.png"))
    assert sorted(referenced) == on_disk
    names = {Path(p).stem for p in on_disk}
    assert {
        "splice_track_minigene_short",
        "splice_track_minigene_medium",
        "splice_track_minigene_long",
        "variant_kl_profile",
        "drug_roc",
        "drug_critical_genes",
        "drug_fewshot_saved",
        "cytokine_heatmap_saved",
        "cellformer_embeddings",
    } <= names
    for relative in on_disk:
        path = out / relative
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000, relative
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) >= 200, (relative, image.shape)
        assert image[..., :3].std() > 0.02, f"{relative} is (nearly) one colour"
    for heading in (
        "## 1. Splice sites",
        "## 2. Zero-shot splice variant effects",
        "## 3. Single-cell drug response",
        "## 4. Cancer type",
    ):
        assert heading in report
    assert "synthetic" in report and "not an evaluation" in report
    lines = run.stdout.strip().splitlines()
    assert [line.split(":")[0] + ":" for line in lines[:4]] == list(SECTION_LINES)
    assert lines[-1].startswith("report: ") and str(out / "report.md") in lines[-1]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["sections"]) == {"splice-sites", "variants", "drug", "cytokine"}
    assert all((out / name).is_file() for name in summary["files"])
    assert not list(out.parent.glob(".demo.partial-*")), "the staging folder was left behind"


def test_saved_numbers_are_the_files_numbers(demo_run, inputs):
    """Every saved number in summary.json equals the results file's; the report prints them (3 decimals)."""
    out, _ = demo_run
    _, results = inputs
    summary = json.loads((out / "summary.json").read_text())["sections"]
    report = (out / "report.md").read_text()

    def shown(value):
        assert f"{value:.3f}" in report, value

    splice = json.loads((results / "splicebert/splice_sites.json").read_text())
    saved = summary["splice-sites"]["saved"]
    assert saved["command"] == splice["command"] and saved["command"] in report
    for name in ("pretrained", "scratch", "logistic_regression_onehot_60nt"):
        assert saved["test"][name] == splice[name]["test"]
        for metrics in splice[name]["test"].values():
            for key in ("auroc", "ap", "accuracy", "f1"):
                shown(metrics[key])

    evaluation = json.loads((results / "splicebert/splicebert-small-pretrained_eval.json").read_text())
    assert summary["variants"]["saved"]["pretrained_eval"]["eval"] == evaluation["eval"]
    shown(evaluation["eval"]["accuracy"])
    mapsy = results / "splicebert/mapsy_zero_shot.json"
    if mapsy.is_file():
        saved_mapsy = summary["variants"]["saved"]["mapsy_zero_shot"]
        assert {k: v for k, v in saved_mapsy.items() if k != "file"} == json.loads(mapsy.read_text())
    else:
        assert summary["variants"]["saved"]["mapsy_zero_shot"] is None

    fewshot = json.loads((results / "metascdrug/single_cell_fewshot.json").read_text())
    assert summary["drug"]["saved"]["table"] == fewshot["table"]
    for row in fewshot["table"]:
        for model in ("meta", "nometa", "logistic_regression"):
            shown(row[model]["auroc"])
            shown(row[model]["accuracy"])

    cytokine = summary["cytokine"]["saved"]
    patterns = json.loads((results / "cellformer/patterns/cytokine_patterns.json").read_text())
    assert cytokine["patterns"]["top_genes"] == patterns["top_genes"]
    for rows in patterns["top_genes"].values():
        for row in rows[:3]:
            shown(row["auroc"])
    pretrain = json.loads((results / "cellformer/pretrain.json").read_text())
    assert cytokine["pretrain"]["heldout"] == pretrain["heldout"]
    shown(pretrain["heldout"]["bin_accuracy"])
    cancer_type = json.loads((results / "cellformer/cancer_type.json").read_text())
    assert cytokine["cancer_type"]["command"] == cancer_type["command"]
    for protocol, content in cancer_type["protocols"].items():
        for model, scores in content["models"].items():
            copied = cytokine["cancer_type"]["metrics"][protocol][model]
            for key in ("accuracy", "macro_f1", "balanced_accuracy"):
                assert copied["per_cell"][key] == scores["per_cell"][key]
            assert copied["per_sample"]["accuracy"] == scores["per_sample"]["accuracy"]
            shown(scores["per_cell"]["macro_f1"])


def test_computed_numbers_match_the_written_tables(demo_run):
    """The demo's own numbers (summary.json) are those of its per-section tables, recomputed here."""
    from sklearn.metrics import roc_auc_score

    out, _ = demo_run
    summary = json.loads((out / "summary.json").read_text())["sections"]

    sites = pd.read_csv(out / "splice_sites.tsv", sep="\t", comment="#")
    headers, sequences = _minigenes()
    assert set(sites["name"]) == set(sequences)
    hits = 0
    for call in summary["splice-sites"]["calls"]:
        sequence, column = sequences[call["sequence"]], f"{call['site']}_prob"
        pair = "GT" if call["site"] == "donor" else "AG"
        # 1-based reported positions: the G of each GT, the G of each AG
        candidates = [i + 1 if pair == "GT" else i + 2 for i in range(len(sequence) - 1) if sequence[i : i + 2] == pair]
        rows = sites[sites["name"] == call["sequence"]].set_index("position")[column]
        assert call["candidates"] == len(candidates)
        assert rows.loc[call["top_call"]] == pytest.approx(rows.loc[candidates].max(), abs=2e-6)
        assert rows.loc[call["top_call"]] == pytest.approx(call["top_probability"], abs=1e-6)
        start, end = map(int, re.search(r"intron=(\d+)-(\d+)", headers[call["sequence"]]).groups())
        assert call["designed"] == (start if call["site"] == "donor" else end)
        assert rows.loc[call["designed"]] == pytest.approx(call["designed_probability"], abs=1e-6)
        assert call["hit"] == (call["top_call"] == call["designed"])
        hits += call["hit"]
    assert summary["splice-sites"]["designed_sites_hit"] == hits

    variants = pd.read_csv(out / "variants.tsv", sep="\t", comment="#")
    for record in summary["variants"]["variants"]:
        row = variants[variants["id"] == record["id"]].iloc[0]
        assert row["kl_context"] == pytest.approx(record["kl_context"], rel=1e-5)
        assert row["position"] == record["position"]
    score = summary["variants"]["score"]["name"]
    assert score == "splice_site_kl" and (variants[score] >= 0).all()  # higher = more disruptive
    assert summary["variants"]["top_variant"] == variants.loc[variants[score].idxmax(), "id"]
    assert variants.sort_values("rank")[score].is_monotonic_decreasing
    ranks = variants.set_index("id")["rank"]
    assert ranks["acceptor_AG_to_AC"] < ranks["exon2_middle"]  # destroying the acceptor AG outranks an exon middle

    cells = pd.read_csv(out / "drug_response.csv")
    for name in ("metascdrug-meta", "metascdrug-nometa"):
        auroc = roc_auc_score(cells["response"], cells[f"p_sensitive_{name}"])
        assert summary["drug"]["zero_shot"][name]["auroc"] == pytest.approx(auroc, abs=1e-4)
    genes = pd.read_csv(out / "critical_genes.tsv", sep="\t")
    assert [g["gene"] for g in summary["drug"]["critical_genes"]["top_genes"]] == genes["gene"].head(10).tolist()

    calls = pd.read_csv(out / "cancer_type_cells.csv")
    samples = pd.read_csv(out / "cancer_type_samples.csv")
    assert len(calls) == summary["cytokine"]["cells"]
    for sample in summary["cytokine"]["samples"]:
        mine = calls[calls["sample"] == sample["sample"]]
        probabilities = mine.filter(regex="^p_").mean()
        assert sample["predicted_cancer_type"] == probabilities.idxmax()[2:]
        assert (
            samples.set_index("sample").loc[sample["sample"], "predicted_cancer_type"]
            == sample["predicted_cancer_type"]
        )
        assert sample["cell_calls"] == mine["predicted_cancer_type"].value_counts().to_dict()


# ---------------------------------------------------------------------------------------------- outputs and errors
def test_existing_output_is_refused_and_left_untouched(demo_run, inputs, capsys):
    out, _ = demo_run
    before = _snapshot(out)
    assert main(_args(out, inputs)) == 2
    error = capsys.readouterr().err
    assert str(out) in error and "--overwrite" in error
    assert _snapshot(out) == before


def test_overwrite_replaces_the_report(demo_run, inputs, tmp_path):
    out = tmp_path / "demo"
    shutil.copytree(demo_run[0], out)
    drug_table = (out / "drug_response.csv").read_bytes()
    assert main(_args(out, inputs, "--sections", "variants", "--overwrite")) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["sections"]) == ["variants"] and "--sections variants" in summary["command"]
    report = (out / "report.md").read_text()
    assert "## 1. Zero-shot splice variant effects" in report and "Splice sites along" not in report
    assert (out / "drug_response.csv").read_bytes() == drug_table  # files of other sections are not removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_failed_run_leaves_no_output(inputs, tmp_path, capsys):
    checkpoints, results = inputs
    broken = tmp_path / "results"
    shutil.copytree(results, broken, symlinks=True)
    (broken / "splicebert" / "splice_sites.json").write_text("{not json")
    out = tmp_path / "reports" / "demo"
    code = main(
        [
            "demo",
            "--out",
            str(out),
            "--checkpoints",
            str(checkpoints),
            "--results",
            str(broken),
            "--sections",
            "splice-sites",
            "--device",
            "cpu",
        ]
    )
    assert code == 2
    assert "splice_sites.json is not valid JSON" in capsys.readouterr().err
    assert not out.exists() and (not out.parent.exists() or list(out.parent.iterdir()) == [])


def test_bad_checkpoints_folder_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "no_such_folder"
    assert main(["demo", "--out", str(tmp_path / "demo"), "--checkpoints", str(missing)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("txformers demo: error:") and f"--checkpoints {missing} is not a folder" in error
    assert not (tmp_path / "demo").exists()


def test_missing_checkpoint_is_named_with_how_to_make_it(inputs, tmp_path, capsys):
    checkpoints, results = inputs
    partial = tmp_path / "checkpoints"
    partial.mkdir()
    (partial / "splicebert-small-pretrained").symlink_to(CHECKPOINTS / "splicebert-small-pretrained")
    assert (
        main(["demo", "--out", str(tmp_path / "demo"), "--checkpoints", str(partial), "--results", str(results)]) == 2
    )
    error = capsys.readouterr().err
    assert str(partial / "splicebert-small-splice-sites") in error and "finetune_splice" in error
    assert str(partial / "metascdrug-meta") in error and "--sections" in error
    assert "splicebert-small-pretrained (section" not in error  # present: not reported


def test_output_locked_by_another_run_is_refused(inputs, tmp_path, capsys):
    out = tmp_path / "demo"
    lock = tmp_path / "demo.lock"
    lock.write_text(f"{os.getppid()} {socket.gethostname()}\n")  # a live process holds it
    assert main(_args(out, inputs, "--sections", "variants")) == 2
    error = capsys.readouterr().err
    assert f"process {os.getppid()}" in error and str(lock) in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.lock"]


def test_output_overlapping_an_input_folder_is_refused(inputs, capsys):
    checkpoints, results = inputs
    for out in (EXAMPLES / "demo_output", checkpoints.parent, results / "demo"):
        before = sorted(p.name for p in out.parent.iterdir())
        assert main(_args(out, inputs, "--overwrite")) == 2
        assert "overlaps the input folder" in capsys.readouterr().err
        assert sorted(p.name for p in out.parent.iterdir()) == before


# ---------------------------------------------------------------------------------------------- the examples
def test_examples_are_small_and_consistent():
    for path in EXAMPLES.iterdir():
        if path.is_file():
            assert path.stat().st_size < 300_000, path
    _, sequences = _minigenes()
    variants = pd.read_csv(EXAMPLES / "minigene_variants.tsv", sep="\t")
    assert len(variants) >= 5 and variants["id"].is_unique
    for row in variants.itertuples():
        wt = sequences[row.minigene]
        assert row.wt_sequence == wt and wt[row.position] == row.ref and row.ref != row.alt
        assert row.mut_sequence == wt[: row.position] + row.alt + wt[row.position + 1 :]
        assert wt[row.intron_start : row.intron_start + 2] == "GT" and wt[row.intron_end - 2 : row.intron_end] == "AG"
    donor = variants.set_index("id").loc["donor_GT_to_AT"]
    assert donor["position"] == donor["intron_start"]


def test_drug_example_labels_follow_the_documented_rule():
    """examples/README.md: sensitive = mean z-scored log1p(CP10k) of the MPAS genes above the median."""
    import anndata

    adata = anndata.read_h5ad(EXAMPLES / "drug_cells.h5ad")
    counts = adata.X.toarray().astype(float)
    mpas = [
        g
        for g in ("PHLDA1", "SPRY2", "SPRY4", "DUSP4", "DUSP6", "CCND1", "EPHA2", "EPHA4", "ETV4", "ETV5")
        if g in adata.var_names
    ]
    assert len(mpas) >= 5
    logged = np.log1p(counts / counts.sum(1, keepdims=True) * 1e4)[:, [adata.var_names.get_loc(g) for g in mpas]]
    score = ((logged - logged.mean(0)) / logged.std(0)).mean(1)
    np.testing.assert_array_equal(adata.obs["response"].to_numpy(), (score > np.median(score)).astype(int))
    panel = json.loads((CHECKPOINTS / "metascdrug-meta" / "gene_reference.json").read_text())["genes"]
    assert set(adata.var_names) <= set(panel) and adata.obs["response"].sum() == adata.n_obs // 2


def test_make_examples_reproduces_the_files():
    """The seeded generators give back exactly what is in examples/ (nothing is written here)."""
    import anndata

    from txformers.data import cytokine_genes

    module = _load_make_examples()
    text = (EXAMPLES / "minigenes.fa").read_text()
    for exon1, intron, exon2 in ((60, 200, 80), (120, 600, 160), (150, 2200, 150)):  # the order of main()
        sequence = module.minigene(exon1, intron, exon2)
        assert sequence[:60] in text and len(sequence) == exon1 + intron + exon2
    panel = json.loads((CHECKPOINTS / "metascdrug-meta" / "gene_reference.json").read_text())["genes"]
    counts, genes, _ = module.drug_cells(panel)
    adata = anndata.read_h5ad(EXAMPLES / "drug_cells.h5ad")
    assert list(adata.var_names) == genes
    np.testing.assert_array_equal(adata.X.toarray(), counts)
    counts, genes, obs = module.immune_cells(cytokine_genes())
    adata = anndata.read_h5ad(EXAMPLES / "immune_cells.h5ad")
    assert list(adata.var_names) == genes and list(adata.obs["sample"]) == obs["sample"]
    np.testing.assert_array_equal(adata.X.toarray(), counts)
    assert {"PTPRC", *cytokine_genes()} <= set(genes)
