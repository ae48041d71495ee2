"""End-to-end tests of `txformers cytokine build | classify | patterns` on tiny inputs made here: the main
paths run as a subprocess (as a user would), the error paths through `txformers.cli.main` in-process (each
subprocess costs seconds of imports)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from txformers.cli import main as cli_main
from txformers.data import cytokine_genes
from txformers.models.cellformer import CellformerConfig, CellformerForCellClassification
from txformers.tokenizers import GeneExpressionTokenizer

PANEL = ["IL2", "IFNG", "TNF", "CCL5", "CXCL13", "IL10"]  # cytokine ligand genes
GENES = PANEL + ["PTPRC", "ACTB", "CD3E"]
CANCERS = ["lung", "melanoma", "renal"]


def _txformers(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "txformers.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _counts(rng, n, cancer):
    counts = rng.poisson(1.0, size=(n, len(GENES))).astype(np.float32)
    counts[:, GENES.index("PTPRC")] += 1  # immune by the PTPRC rule
    counts[:, GENES.index("ACTB")] += 20
    boost = {"lung": "CXCL13", "melanoma": "IL10", "renal": "CCL5"}[cancer]
    counts[:, GENES.index(boost)] += 8
    return counts


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Two h5ad samples and one CSV sample of three cancers (raw counts), their manifest, and one AnnData of
    every cell with `sample` and `cancer` obs columns."""
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    rows, parts = [], []
    for index, cancer in enumerate(CANCERS):
        counts = _counts(rng, 8, cancer)
        cells = [f"{cancer}_c{i}" for i in range(len(counts))]
        if cancer == "melanoma":
            pd.DataFrame(counts, index=pd.Index(cells, name="cell"), columns=GENES).to_csv(folder / "mel.csv")
            rows.append(dict(path="mel.csv", format="csv", cancer_type=cancer, study="S2", patient="P3", sample="mel"))
        else:
            ad.AnnData(sp.csr_matrix(counts), obs=pd.DataFrame(index=cells), var=pd.DataFrame(index=GENES)).write_h5ad(
                folder / f"{cancer}.h5ad"
            )
            rows.append(
                dict(
                    path=f"{cancer}.h5ad",
                    format="h5ad",
                    cancer_type=cancer,
                    study="S1",
                    patient=f"P{index}",
                    sample=cancer,
                )
            )
        parts.append(
            ad.AnnData(
                counts,
                obs=pd.DataFrame({"sample": f"s{index}", "cancer": cancer}, index=cells),
                var=pd.DataFrame(index=GENES),
            )
        )
    pd.DataFrame(rows).to_csv(folder / "manifest.tsv", sep="\t", index=False)
    ad.concat(parts).write_h5ad(folder / "cells.h5ad")
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny random Cellformer classifier over PANEL with its tokenizer."""
    folder = tmp_path_factory.mktemp("model")
    tokenizer = GeneExpressionTokenizer.from_genes(PANEL, mode="bins", n_bins=11, max_length=len(PANEL) + 1)
    config = CellformerConfig(
        vocab_size=tokenizer.vocab_size,
        n_bins=11,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
        id2label=dict(enumerate(CANCERS)),
        label2id={c: i for i, c in enumerate(CANCERS)},
    )
    torch.manual_seed(0)
    CellformerForCellClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _direct_probabilities(model_dir: Path, adata) -> np.ndarray:
    model = CellformerForCellClassification.from_pretrained(model_dir).eval()
    encoded = GeneExpressionTokenizer.from_pretrained(model_dir)(adata, return_tensors="pt")
    keys = ("input_ids", "expression_bins", "expression", "attention_mask")
    with torch.no_grad():
        return model(**{key: encoded[key] for key in keys}).logits.softmax(-1).numpy()


# ---------------------------------------------------------------------------------------------- build
def test_build_saves_the_builders_dataset_and_report(data, tmp_path):
    import datasets

    from txformers.datasets.tumor_immune import TumorImmuneBuilder

    manifest = pd.read_csv(data / "manifest.tsv", sep="\t")
    (tmp_path / "broken.h5ad").write_bytes(b"this is not an HDF5 file")
    bad = dict(
        path=str(tmp_path / "broken.h5ad"), format="h5ad", cancer_type="lung", study="S1", patient="P9", sample="broken"
    )
    pd.concat([manifest.assign(path=[str(data / p) for p in manifest.path]), pd.DataFrame([bad])]).to_csv(
        tmp_path / "manifest.tsv", sep="\t", index=False
    )
    done = _txformers("cytokine", "build", tmp_path / "manifest.tsv", "--out", tmp_path / "out", "--skip-bad-samples")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'broken'" in done.stderr  # the corrupt sample is named
    saved = datasets.load_from_disk(str(tmp_path / "out" / "dataset"))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [s["sample"] for s in report["builder"]["skipped"]] == ["broken"]
    assert sorted(s["sample"] for s in report["builder"]["samples"]) == ["lung", "mel", "renal"]
    assert report["examples"] == 24 and report["examples_per_cancer_type"] == {c: 8 for c in CANCERS}
    assert report["genes"] == [gene for gene in cytokine_genes() if gene in PANEL]  # cytokines measured in every sample

    builder = TumorImmuneBuilder(manifest=str(data / "manifest.tsv"), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    direct = builder.as_dataset()["train"]
    assert list(saved["id"]) == list(direct["id"]) and list(saved["cancer_type"]) == list(direct["cancer_type"])
    np.testing.assert_allclose(np.array(saved["expression"]), np.array(direct["expression"]), rtol=1e-6)
    assert saved.features["cancer_type"].names == CANCERS


def test_build_names_a_missing_sample_and_writes_nothing(data, tmp_path, capsys):
    manifest = pd.read_csv(data / "manifest.tsv", sep="\t")
    gone = dict(
        path=str(tmp_path / "nowhere.h5ad"), format="h5ad", cancer_type="lung", study="S1", patient="P8", sample="gone"
    )
    pd.concat([manifest.assign(path=[str(data / p) for p in manifest.path]), pd.DataFrame([gone])]).to_csv(
        tmp_path / "manifest.tsv", sep="\t", index=False
    )
    assert cli_main(["cytokine", "build", str(tmp_path / "manifest.tsv"), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "'gone'" in error and "row 4" in error and "file not found" in error
    assert not (tmp_path / "out").exists()

    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "report.json").write_text("keep me")
    assert cli_main(["cytokine", "build", str(data / "manifest.tsv"), "--out", str(tmp_path / "kept")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "kept" / "report.json").read_text() == "keep me"


def test_build_pseudobulk_parquet(data, tmp_path):
    from txformers.datasets.tumor_immune import TumorImmuneBuilder

    out = tmp_path / "bulk"
    assert (
        cli_main(
            ["cytokine", "build", str(data / "manifest.tsv"), "--out", str(out), "--pseudobulk", "--format", "parquet"]
        )
        == 0
    )
    table = pd.read_parquet(out / "cells.parquet")
    builder = TumorImmuneBuilder(
        manifest=str(data / "manifest.tsv"), cache_dir=str(tmp_path / "cache"), pseudobulk=True
    )
    builder.download_and_prepare()
    direct = builder.as_dataset()["train"]
    assert table["id"].tolist() == list(direct["id"]) == ["lung/pseudobulk", "mel/pseudobulk", "renal/pseudobulk"]
    assert table["n_cells"].tolist() == [8, 8, 8]
    np.testing.assert_allclose(np.stack(table["expression"]), np.array(direct["expression"]), rtol=1e-6)
    assert json.loads((out / "report.json").read_text())["pseudobulk"] is True


# ---------------------------------------------------------------------------------------------- classify
def test_classify_matches_a_direct_model_call(data, model_dir, tmp_path):
    from txformers.tasks.cytokine.cancer_type import aggregate_by_sample

    source = data / "cells.h5ad"
    before = _digest(source)
    out = tmp_path / "calls" / "cells"
    done = _txformers(
        "cytokine",
        "classify",
        source,
        "--model",
        model_dir,
        "--out",
        out,
        "--sample-column",
        "sample",
        "--batch-size",
        "5",
        "--device",
        "cpu",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert _digest(source) == before  # the input is never modified

    adata = ad.read_h5ad(source)
    expected = _direct_probabilities(model_dir, adata)
    cells = pd.read_csv(out.with_name("cells.cells.csv"))
    assert cells["cell"].tolist() == adata.obs_names.tolist()
    np.testing.assert_allclose(cells[[f"p_{c}" for c in CANCERS]].to_numpy(), expected, atol=1e-5)
    assert cells["predicted_cancer_type"].tolist() == [CANCERS[i] for i in expected.argmax(1)]
    panel_counts = adata[:, PANEL].X
    assert cells["panel_genes_detected"].tolist() == (np.asarray(panel_counts) > 0).sum(1).tolist()

    ids, mean = aggregate_by_sample(expected, adata.obs["sample"].to_numpy(dtype=str))
    samples = pd.read_csv(out.with_name("cells.samples.csv"))
    assert samples["sample"].tolist() == ids.tolist() and samples["n_cells"].tolist() == [8, 8, 8]
    np.testing.assert_allclose(samples[[f"p_{c}" for c in CANCERS]].to_numpy(), mean, atol=1e-5)

    annotated = ad.read_h5ad(out.with_name("cells.h5ad"))
    assert annotated.obs["cancer_type_prediction"].tolist() == cells["predicted_cancer_type"].tolist()
    np.testing.assert_allclose(annotated.obsm["cancer_type_probabilities"][CANCERS].to_numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(annotated.X), np.asarray(adata.X))  # the data itself is unchanged


def test_classify_flags_cells_with_no_expression_and_warns_once(data, model_dir, tmp_path, capsys):
    """Issue 17 item 8: an all-zero cell, or one expressing none of the model's panel genes, still gets a call;
    it is flagged (cells table, obs, per-sample count) and one warning counts them."""
    adata = ad.read_h5ad(data / "cells.h5ad")
    matrix = np.asarray(adata.X, dtype=np.float32).copy()
    matrix[2] = 0
    matrix[9, [GENES.index(gene) for gene in PANEL]] = 0  # only PTPRC, ACTB, CD3E expressed
    ad.AnnData(matrix, obs=adata.obs, var=adata.var).write_h5ad(tmp_path / "bad.h5ad")
    out = tmp_path / "calls"
    args = ["cytokine", "classify", str(tmp_path / "bad.h5ad"), "--model", str(model_dir), "--out", str(out)]
    assert cli_main([*args, "--sample-column", "sample", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "2 of 24 cells are flagged" in err
    assert "1 all-zero expression" in err and "1 no expressed model genes" in err
    cells = pd.read_csv(tmp_path / "calls.cells.csv", keep_default_na=False)
    assert cells.loc[2, "flag"] == "all-zero expression" and cells.loc[9, "flag"] == "no expressed model genes"
    assert (cells.drop([2, 9])["flag"] == "").all()
    assert ad.read_h5ad(tmp_path / "calls.h5ad").obs["cancer_type_flag"].tolist() == cells["flag"].tolist()
    samples = pd.read_csv(tmp_path / "calls.samples.csv")
    assert samples.set_index("sample")["flagged_cells"].to_dict() == {"s0": 1, "s1": 1, "s2": 0}


def test_classify_without_panel_overlap_fails_clearly(model_dir, tmp_path, capsys):
    other = ad.AnnData(np.ones((3, 2), dtype=np.float32), var=pd.DataFrame(index=["ENSG00000111640", "ACTB"]))
    other.write_h5ad(tmp_path / "other.h5ad")
    args = [
        "cytokine",
        "classify",
        str(tmp_path / "other.h5ad"),
        "--model",
        str(model_dir),
        "--out",
        str(tmp_path / "x"),
    ]
    assert cli_main(args) == 2
    error = capsys.readouterr().err
    assert "none of the model's 6 cytokine panel genes" in error and "coverage 0%" in error
    assert "IL2, IFNG, TNF, CCL5, CXCL13, IL10" in error and "ENSG00000111640" in error
    assert not list(tmp_path.glob("x*"))


def test_classify_refuses_to_overwrite_and_checks_options(data, model_dir, tmp_path, capsys):
    out = tmp_path / "calls"
    (tmp_path / "calls.cells.csv").write_text("keep me")
    command = ["cytokine", "classify", str(data / "cells.h5ad")]
    args = [*command, "--model", str(model_dir), "--out", str(out)]
    assert cli_main(args) == 2
    assert "--overwrite" in capsys.readouterr().err and (tmp_path / "calls.cells.csv").read_text() == "keep me"
    assert not (tmp_path / "calls.h5ad").exists()
    # an output that is the input itself is refused even with --overwrite
    assert cli_main([*command, "--model", str(model_dir), "--out", str(data / "cells"), "--overwrite"]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert cli_main([*args, "--overwrite", "--sample-column", "donor"]) == 2
    assert "no obs column 'donor'" in capsys.readouterr().err
    assert cli_main([*command, "--model", str(tmp_path / "nowhere"), "--out", str(out), "--overwrite"]) == 2
    assert "no model at" in capsys.readouterr().err
    assert (tmp_path / "calls.cells.csv").read_text() == "keep me"


def _with_abstain_rule(model_dir: Path, folder: Path, min_probability: float) -> Path:
    """A copy of the tiny classifier whose config abstains below ``min_probability`` (other checks off)."""
    import shutil

    shutil.copytree(model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    hidden = config["hidden_size"]
    config["abstain"] = {
        "min_panel_coverage": 0.0,
        "min_probability": min_probability,
        "max_distance": 1e12,
        "mean": [0.0] * hidden,
        "scale": [1.0] * hidden,
        "centroids": [[0.0] * hidden],
        "distance_unit": 1.0,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_classify_reports_unknown_calls_and_warns_about_coverage_once(data, model_dir, tmp_path):
    source = data / "cells.h5ad"
    adata = ad.read_h5ad(source)
    low = adata[:, ["IL2", "IFNG", "PTPRC", "ACTB"]].copy()  # 2 of the 6 panel genes
    low.write_h5ad(tmp_path / "low.h5ad")
    top = _direct_probabilities(model_dir, low).max(1)
    threshold = float(np.median(top))
    model = _with_abstain_rule(model_dir, tmp_path / "model", threshold)
    out = tmp_path / "calls"
    done = _txformers("cytokine", "classify", tmp_path / "low.h5ad", "--model", model, "--out", out, "--device", "cpu")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("of 6 panel genes") == 1, done.stderr  # the coverage warning, printed once

    cells = pd.read_csv(tmp_path / "calls.cells.csv")
    unknown = top < threshold
    assert 0 < unknown.sum() < len(unknown)
    assert cells["unknown"].tolist() == unknown.tolist()
    expected_top = [CANCERS[i] for i in _direct_probabilities(model_dir, low).argmax(1)]
    assert cells["top_cancer_type"].tolist() == expected_top
    calls = np.where(unknown, "unknown", expected_top).tolist()
    assert cells["predicted_cancer_type"].tolist() == calls
    assert set(cells.loc[unknown, "unknown_reasons"]) == {"probability"}
    annotated = ad.read_h5ad(tmp_path / "calls.h5ad")
    assert annotated.obs["cancer_type_prediction"].astype(str).tolist() == calls
    assert annotated.obs["cancer_type_unknown"].tolist() == unknown.tolist()
    assert (
        f"unknown (out of the model's range, no cancer type called): {unknown.sum()} of {len(unknown)}" in done.stdout
    )


def test_classify_gene_map_and_cli_words_for_scaled_input(data, model_dir, tmp_path, capsys):
    adata = ad.read_h5ad(data / "cells.h5ad")
    ids = [f"ENSG{i:011d}" for i in range(len(GENES))]
    renamed = ad.AnnData(np.asarray(adata.X), obs=adata.obs, var=pd.DataFrame(index=ids))
    renamed.write_h5ad(tmp_path / "ids.h5ad")
    pd.DataFrame({"symbol": GENES, "ensembl_gene_id": ids}).to_csv(tmp_path / "map.tsv", sep="\t", index=False)
    command = ["cytokine", "classify", str(tmp_path / "ids.h5ad"), "--model", str(model_dir), "--device", "cpu"]
    assert cli_main([*command, "--out", str(tmp_path / "nomap")]) == 2
    assert "none of the model's 6 cytokine panel genes" in capsys.readouterr().err
    assert cli_main([*command, "--out", str(tmp_path / "a"), "--gene-map", str(tmp_path / "nowhere.tsv")]) == 2
    assert "--gene-map" in capsys.readouterr().err
    assert cli_main([*command, "--out", str(tmp_path / "mapped"), "--gene-map", str(tmp_path / "map.tsv")]) == 0
    cells = pd.read_csv(tmp_path / "mapped.cells.csv")
    expected = _direct_probabilities(model_dir, adata)
    np.testing.assert_allclose(cells[[f"p_{c}" for c in CANCERS]].to_numpy(), expected, atol=1e-5)

    scaled = ad.AnnData(np.asarray(adata.X) - 5.0, var=adata.var)  # z-scored-like: negative values
    scaled.write_h5ad(tmp_path / "scaled.h5ad")
    args = [
        "cytokine",
        "classify",
        str(tmp_path / "scaled.h5ad"),
        "--model",
        str(model_dir),
        "--out",
        str(tmp_path / "s"),
    ]
    assert cli_main([*args, "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert "negative values" in error and "--layer counts" in error
    assert "mode='panel'" not in error and "layer='counts'" not in error


# ---------------------------------------------------------------------------------------------- patterns
def test_patterns_from_an_h5ad_with_attributions(data, model_dir, tmp_path):
    pytest.importorskip("captum")
    from txformers.tasks.cytokine.patterns import cytokine_pattern_table

    out = tmp_path / "patterns"
    done = _txformers(
        "cytokine",
        "patterns",
        "--h5ad",
        data / "cells.h5ad",
        "--label-column",
        "cancer",
        "--model",
        model_dir,
        "--out",
        out,
        "--n-steps",
        "8",
        "--top",
        "2",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(out / "cytokine_patterns.tsv", sep="\t")
    assert len(table) == len(CANCERS) * len(PANEL) and set(table.cancer_type) == set(CANCERS)

    adata = ad.read_h5ad(data / "cells.h5ad")
    X = np.log1p(adata.X / adata.X.sum(1, keepdims=True) * 1e4)[:, [GENES.index(g) for g in PANEL]]
    expected = cytokine_pattern_table(X, PANEL, adata.obs["cancer"].to_numpy(dtype=str))
    merged = table.merge(expected, on=["cancer_type", "gene"], suffixes=("", "_direct"))
    for column in ("detection_rate", "mean_expression", "cohens_d", "auroc"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_direct"], rtol=1e-4, atol=1e-6)
    assert table["attribution"].notna().all()
    # the planted signals come out on top
    for cancer, gene in (("lung", "CXCL13"), ("melanoma", "IL10"), ("renal", "CCL5")):
        assert table.query("cancer_type == @cancer and gene == @gene")["rank"].item() == 1
    assert (out / "cytokine_patterns.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "cytokine_patterns.json").read_text())
    assert summary["command"].startswith("txformers cytokine patterns --h5ad")
    assert summary["cells_per_cancer_type"] == {c: 8 for c in CANCERS}
    assert [row["gene"] for row in summary["top_genes"]["melanoma"]][0] == "IL10"


def test_patterns_refuses_nan_attributions(data, model_dir, tmp_path, capsys, monkeypatch):
    """Issue 17 item 11: NaN integrated-gradients attributions are refused naming the checkpoint; nothing written."""
    pytest.importorskip("captum")
    from txformers.tasks.cytokine import patterns

    monkeypatch.setattr(patterns, "integrated_gradients", lambda model, inputs, targets, *a, **k: np.nan)
    out = tmp_path / "patterns"
    args = ["cytokine", "patterns", "--h5ad", str(data / "cells.h5ad"), "--label-column", "cancer"]
    assert cli_main([*args, "--model", str(model_dir), "--out", str(out), "--n-steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "integrated-gradients attributions" in err and str(model_dir) in err and "NaN or infinite" in err
    assert not out.exists() or not any(out.iterdir())


def test_patterns_from_a_manifest_and_bad_inputs(data, tmp_path, capsys):
    out = tmp_path / "patterns"
    assert cli_main(["cytokine", "patterns", "--manifest", str(data / "manifest.tsv"), "--out", str(out)]) == 0
    table = pd.read_csv(out / "cytokine_patterns.tsv", sep="\t")
    assert table["attribution"].isna().all() and len(table) == len(CANCERS) * len(PANEL)
    summary = json.loads((out / "cytokine_patterns.json").read_text())
    assert summary["every_cancer_from_one_study"] is True  # lung and renal from S1, melanoma from S2
    within = summary["top_genes_within_study"]
    assert list(within) == ["S1"] and within["S1"]["cells_per_cancer_type"] == {"lung": 8, "renal": 8}
    assert (
        within["S1"]["top_genes"]["lung"][0]["gene"] == "CXCL13"
        and within["S1"]["top_genes"]["renal"][0]["gene"] == "CCL5"
    )
    capsys.readouterr()
    assert cli_main(["cytokine", "patterns", "--manifest", str(data / "manifest.tsv"), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "cytokine",
                "patterns",
                "--h5ad",
                str(data / "cells.h5ad"),
                "--label-column",
                "tumour",
                "--out",
                str(tmp_path / "p2"),
            ]
        )
        == 2
    )
    assert "no obs column 'tumour'" in capsys.readouterr().err and not (tmp_path / "p2").exists()


def test_help_lists_examples(capsys):
    for command in ("build", "classify", "patterns"):
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["cytokine", command, "--help"])
        assert exit_info.value.code == 0
        assert f"txformers cytokine {command}" in capsys.readouterr().out
