"""`txformers drug predict | adapt | genes | fewshot` on tiny inputs: a tiny random MetaSCDrug checkpoint, a tiny
AnnData and a tiny SCAD-style TSV with Entrez ids (made here). Happy paths run as a user would (subprocess);
bad inputs run the same entry point in-process (`txformers.cli.main`) to keep the file fast."""

import argparse
import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("rdkit")
anndata = pytest.importorskip("anndata")

from txformers.cli import build_parser, main  # noqa: E402
from txformers.hub import CHECKPOINTS  # noqa: E402
from txformers.models.metascdrug import MetaScDrugConfig, MetaScDrugForDrugResponse, MetaScDrugProcessor  # noqa: E402

GENES = [f"G{i}" for i in range(24)]
ENTREZ = {gene: str(1000 + i) for i, gene in enumerate(GENES)}
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
TINY = dict(
    cell_hidden_sizes=[16],
    cell_embed_dim=8,
    drug_hidden_size=8,
    drug_num_layers=1,
    drug_num_heads=2,
    drug_intermediate_size=16,
    drug_embed_dim=8,
    fusion_hidden_sizes=[16],
    joint_embed_dim=8,
    fingerprint_bits=32,
    hidden_dropout_prob=0.0,
)


def _txformers(*args):
    return subprocess.run([sys.executable, "-m", "txformers.cli", *map(str, args)], capture_output=True, text=True)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cells(n_per_class=8, genes=GENES, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array([1] * n_per_class + [0] * n_per_class)
    values = rng.normal(size=(len(labels), len(genes))) + 1.5 * labels[:, None] * (np.arange(len(genes)) % 3 == 0)
    frame = pd.DataFrame(values.astype(np.float32).round(4), columns=genes, index=[f"c{i}" for i in range(len(labels))])
    return frame, labels


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("drug")
    processor = MetaScDrugProcessor.from_genes(GENES, fingerprint_bits=32)
    torch.manual_seed(0)
    config = MetaScDrugConfig(gene_panel_size=len(GENES), smiles_vocab_size=len(processor.smiles_tokenizer), **TINY)
    model = MetaScDrugForDrugResponse(config).eval()
    model.save_pretrained(root / "model")
    processor.save_pretrained(root / "model")

    cells, labels = _cells()
    extra = pd.DataFrame(
        np.ones((len(cells), 2), np.float32), columns=["NOTINPANEL1", "NOTINPANEL2"], index=cells.index
    )
    adata = anndata.AnnData(pd.concat([cells, extra], axis=1))
    adata.obs["response"] = np.where(labels == 1, "sensitive", "resistant")
    adata.obs["batch"] = "b1"
    adata.write_h5ad(root / "cells.h5ad")

    table = cells.rename(columns=ENTREZ)  # SCAD layout: cell id, response, Entrez-id genes
    table.insert(0, "response", labels)
    table.to_csv(root / "cells.tsv", sep="\t")
    pd.DataFrame({"Approved symbol": GENES, "NCBI Gene ID(supplied by NCBI)": list(ENTREZ.values())}).to_csv(
        root / "entrez_to_symbol.txt", sep="\t", index=False
    )
    pd.DataFrame({"name": ["Paracetamol"], "smiles": [PARACETAMOL]}).to_csv(root / "drugs.csv", index=False)
    return {
        "root": root,
        "model": root / "model",
        "h5ad": root / "cells.h5ad",
        "tsv": root / "cells.tsv",
        "gene_map": root / "entrez_to_symbol.txt",
        "drugs": root / "drugs.csv",
        "cells": cells,
        "labels": labels,
    }


def _direct_probabilities(model_dir, cells, smiles=PARACETAMOL):
    model = MetaScDrugForDrugResponse.from_pretrained(model_dir).eval()
    processor = MetaScDrugProcessor.from_pretrained(model_dir)
    with torch.no_grad():
        out = model(**processor(cells=cells, smiles=smiles))
    return out.sensitive_logit.sigmoid().numpy(), out.ln_ic50.numpy()


# ---------------------------------------------------------------------------------------------- predict
def test_predict_writes_an_annotated_copy_equal_to_a_direct_model_call(files, tmp_path, capsys):
    before = _digest(files["h5ad"])
    out = tmp_path / "out" / "pred"
    done = _txformers(
        "drug",
        "predict",
        files["h5ad"],
        "--drug",
        "paracetamol",
        "--smiles-table",
        files["drugs"],
        "--model",
        files["model"],
        "--out",
        out,
        "--batch-size",
        "5",
    )
    assert done.returncode == 0, done.stderr
    assert _digest(files["h5ad"]) == before
    probability, ln_ic50 = _direct_probabilities(files["model"], files["cells"])

    annotated = anndata.read_h5ad(out.with_suffix(".h5ad"))
    original = anndata.read_h5ad(files["h5ad"])
    assert list(annotated.obs_names) == list(original.obs_names)
    assert np.array_equal(annotated.X, original.X) and list(annotated.obs["batch"]) == ["b1"] * 16
    np.testing.assert_allclose(annotated.obs["paracetamol_sensitive_probability"], probability, atol=1e-6)
    np.testing.assert_allclose(annotated.obs["paracetamol_ln_ic50_z"], ln_ic50, atol=1e-6)
    expected_calls = np.where(probability >= 0.5, "sensitive", "resistant")
    assert list(annotated.obs["paracetamol_prediction"]) == list(expected_calls)
    assert annotated.uns["txformers_drug_response"]["paracetamol"]["smiles"] == PARACETAMOL

    table = pd.read_csv(out.with_suffix(".csv"))
    assert list(table.columns) == [
        "cell",
        "paracetamol_sensitive_probability",
        "paracetamol_prediction",
        "paracetamol_ln_ic50_z",
        "paracetamol_flag",
        "response",
    ]
    assert table["paracetamol_flag"].isna().all()  # no cell flagged
    np.testing.assert_allclose(table["paracetamol_sensitive_probability"], probability, atol=1e-5)
    assert "24/24 panel genes" in done.stdout and "AUROC" in done.stdout

    # run again: both outputs exist, nothing is replaced without --overwrite
    stamps = {path: _digest(path) for path in (out.with_suffix(".h5ad"), out.with_suffix(".csv"))}
    code = main(
        [
            "drug",
            "predict",
            str(files["h5ad"]),
            "--drug",
            PARACETAMOL,
            "--model",
            str(files["model"]),
            "--out",
            str(out),
        ]
    )
    assert code == 2 and "--overwrite" in capsys.readouterr().err
    assert {path: _digest(path) for path in stamps} == stamps


def test_predict_maps_entrez_ids_of_a_scad_table(files, tmp_path):
    before = _digest(files["tsv"])
    out = tmp_path / "pred"
    code = main(
        [
            "drug",
            "predict",
            str(files["tsv"]),
            "--drug",
            PARACETAMOL,
            "--gene-map",
            str(files["gene_map"]),
            "--model",
            str(files["model"]),
            "--out",
            str(out),
            "--name",
            "para",
        ]
    )
    assert code == 0 and _digest(files["tsv"]) == before
    probability, _ = _direct_probabilities(files["model"], files["cells"])
    annotated = anndata.read_h5ad(out.with_suffix(".h5ad"))
    assert list(annotated.var_names) == list(ENTREZ.values()) and list(annotated.obs["response"]) == [1] * 8 + [0] * 8
    np.testing.assert_allclose(annotated.obs["para_sensitive_probability"], probability, atol=1e-6)


@pytest.mark.parametrize(
    "drug, expected",
    [("C1CC(", r"'C1CC\('.*cannot be parsed by RDKit"), ("Notadrugmab", r"'Notadrugmab'.*--smiles-table")],
)
def test_predict_rejects_bad_drugs_and_writes_nothing(files, tmp_path, capsys, drug, expected):
    out = tmp_path / "pred"
    code = main(
        [
            "drug",
            "predict",
            str(files["h5ad"]),
            "--drug",
            drug,
            "--smiles-table",
            str(files["drugs"]),
            "--model",
            str(files["model"]),
            "--out",
            str(out),
        ]
    )
    error = capsys.readouterr().err
    assert code == 2 and re.search(expected, error), error
    assert list(tmp_path.iterdir()) == []


def test_predict_names_the_gene_overlap(files, tmp_path, capsys):
    cells, _ = _cells(genes=[f"OTHER{i}" for i in range(10)] + GENES[:2])
    path = tmp_path / "few_genes.h5ad"
    anndata.AnnData(cells).write_h5ad(path)
    code = main(
        [
            "drug",
            "predict",
            str(path),
            "--drug",
            PARACETAMOL,
            "--model",
            str(files["model"]),
            "--out",
            str(tmp_path / "pred"),
        ]
    )
    error = capsys.readouterr().err
    assert code == 2 and "only 2 of the 24 panel genes (8.3%)" in error and "min_coverage=0.2" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few_genes.h5ad"]


# ---------------------------------------------------------------------------------------------- adapt
def test_adapt_saves_a_merged_checkpoint_and_the_shots(files, tmp_path):
    before = _digest(files["tsv"])
    out = tmp_path / "adapted"
    done = _txformers(
        "drug",
        "adapt",
        files["tsv"],
        "--drug",
        PARACETAMOL,
        "--gene-map",
        files["gene_map"],
        "--label-column",
        "response",
        "--shots",
        "3",
        "--steps",
        "20",
        "--lr",
        "0.01",
        "--model",
        files["model"],
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    assert _digest(files["tsv"]) == before
    report = json.loads((out / "adaptation.json").read_text())
    labels = pd.Series(files["labels"], index=files["cells"].index)
    shots = report["shot_cells"]
    assert len(shots["sensitive"]) == len(shots["resistant"]) == 3
    assert set(labels[shots["sensitive"]]) == {1} and set(labels[shots["resistant"]]) == {0}
    assert report["n_evaluated"] == 10 and report["panel_coverage"] == 1.0

    # the saved folder loads with from_pretrained + the processor and reproduces the reported metrics
    from txformers.tasks.drug_response.fewshot import classification_metrics

    probability, _ = _direct_probabilities(out, files["cells"])
    evaluation = [cell not in shots["sensitive"] + shots["resistant"] for cell in labels.index]
    scores = classification_metrics(labels.to_numpy()[evaluation], probability[evaluation])
    assert scores == pytest.approx(report["metrics"], abs=1e-6)
    adapted = MetaScDrugForDrugResponse.from_pretrained(out).state_dict()
    base = MetaScDrugForDrugResponse.from_pretrained(files["model"]).state_dict()
    assert adapted.keys() == base.keys()  # LoRA merged: no adapter weights left
    assert not torch.equal(
        adapted["metascdrug.cell_encoder.layers.0.weight"], base["metascdrug.cell_encoder.layers.0.weight"]
    )
    assert torch.equal(
        adapted["metascdrug.drug_encoder.projection.weight"], base["metascdrug.drug_encoder.projection.weight"]
    )
    assert json.loads((out / "config.json").read_text())["custom_pipelines"]["drug-response"]
    assert (out / "pipeline_metascdrug.py").is_file()


def test_adapt_refuses_bad_outputs_and_labels(files, tmp_path, capsys):
    common = ["--drug", PARACETAMOL, "--model", str(files["model"]), "--label-column", "response"]
    code = main(["drug", "adapt", str(files["h5ad"]), *common, "--shots", "2", "--out", str(files["model"])])
    assert code == 2 and "is the --model folder" in capsys.readouterr().err

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("keep")
    code = main(["drug", "adapt", str(files["h5ad"]), *common, "--shots", "2", "--out", str(existing)])
    assert code == 2 and "--overwrite" in capsys.readouterr().err
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]

    code = main(["drug", "adapt", str(files["h5ad"]), *common, "--shots", "8", "--out", str(tmp_path / "a")])
    assert code == 2 and "k=8 labelled cells per class is too many" in capsys.readouterr().err

    one_class = tmp_path / "one_class.h5ad"
    adata = anndata.read_h5ad(files["h5ad"])
    adata.obs["response"] = "sensitive"
    adata.write_h5ad(one_class)
    code = main(["drug", "adapt", str(one_class), *common, "--shots", "2", "--out", str(tmp_path / "b")])
    assert code == 2 and "one class only" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "one_class.h5ad"]


# ---------------------------------------------------------------------------------------------- genes, fewshot, help
def test_genes_writes_the_ranking_and_plot(files, tmp_path):
    pytest.importorskip("captum")
    out = tmp_path / "genes"
    code = main(
        [
            "drug",
            "genes",
            str(files["h5ad"]),
            "--drug",
            PARACETAMOL,
            "--model",
            str(files["model"]),
            "--out",
            str(out),
            "--top",
            "5",
            "--seeds",
            "2",
            "--n-steps",
            "4",
        ]
    )
    assert code == 0
    ranking = pd.read_csv(out.with_suffix(".tsv"), sep="\t")
    assert sorted(ranking["gene"]) == sorted(GENES) and list(ranking["rank"]) == list(range(1, 25))
    assert (np.diff(ranking["mean_abs_attribution"]) <= 0).all()
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["top_genes"] == list(ranking["gene"][:5]) and summary["stability"]["n_seeds"] == 2


def test_fewshot_runs_the_benchmark_of_the_training_entry_point(files, tmp_path):
    out = tmp_path / "fewshot.json"
    code = main(
        [
            "drug",
            "fewshot",
            "--model",
            str(files["model"]),
            "--data",
            str(files["tsv"]),
            "--gene-map",
            str(files["gene_map"]),
            "--drug",
            PARACETAMOL,
            "--shots",
            "2",
            "--seeds",
            "2",
            "--steps",
            "2",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["shots"] == 2 and result["seeds"] == [0, 1] and result["settings"]["steps"] == 2
    assert result["drug_smiles"] == PARACETAMOL and len(result["per_seed"]) == 2
    assert result["command"].startswith("python -m txformers.training.fewshot ")  # the run can be repeated
    assert f"--json {out}" in result["command"] and "--shots 2" in result["command"]


def test_fewshot_never_overwrites_the_json(tmp_path):
    existing = tmp_path / "out.json"
    existing.write_text("{}")
    done = _txformers(
        "drug", "fewshot", "--model", CHECKPOINTS / "metascdrug-meta", "--data", tmp_path / "x.tsv", "--json", existing
    )
    assert done.returncode == 2 and "--overwrite" in done.stderr and existing.read_text() == "{}"


def _subcommands(parser):
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction)).choices


def test_drug_help_lists_every_command_and_the_fewshot_options(capsys):
    from txformers.training import fewshot

    drug = _subcommands(build_parser())["drug"]
    text = drug.format_help()
    for command in ("predict", "adapt", "genes", "fewshot"):
        assert f"txformers drug {command}" in text
    commands = _subcommands(drug)
    for command, parser in commands.items():
        assert "example" in parser.format_help(), command
    with pytest.raises(SystemExit):
        fewshot._parse_args(["--help"])
    training_options = set(re.findall(r"--[a-z][a-z-]+", capsys.readouterr().out))
    assert training_options <= set(re.findall(r"--[a-z][a-z-]+", commands["fewshot"].format_help()))


def _fewshot_args(files, out, *extra):
    return ["drug", "fewshot", "--model", str(files["model"]), "--data", str(files["tsv"]), "--gene-map",
            str(files["gene_map"]), "--drug", PARACETAMOL, "--shots", "2", "--seeds", "1", "--steps", "1",
            "--json", str(out), *extra]  # fmt: skip


def test_fewshot_json_never_resolves_to_its_data(files, tmp_path):
    before = files["tsv"].read_bytes()
    link = tmp_path / "link.tsv"
    link.symlink_to(files["tsv"])
    for target in (files["tsv"], link):
        done = _txformers(*_fewshot_args(files, target, "--overwrite"))
        assert done.returncode == 2 and "one of the inputs" in done.stderr
    assert files["tsv"].read_bytes() == before


def test_fewshot_write_killed_midway_keeps_the_previous_json(files, tmp_path, monkeypatch):
    """Fault injection at the CLI: the process dies while writing the new --json; the old one stays whole."""
    import txformers.io

    out = tmp_path / "k.json"
    out.write_text('{"previous": true}\n')

    def killed(descriptor):
        raise KeyboardInterrupt  # dies after the bytes are written, before they are moved into place

    monkeypatch.setattr(txformers.io.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        main(_fewshot_args(files, out, "--overwrite"))
    assert json.loads(out.read_text()) == {"previous": True}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["k.json"]  # no partial file, no lock left


def test_predict_flags_cells_with_no_expression_and_warns_once(files, tmp_path, capsys):
    cells, labels = _cells()
    cells.iloc[2] = 0.0  # all-zero expression
    extra = pd.DataFrame(np.zeros((len(cells), 1), np.float32), columns=["NOTINPANEL"], index=cells.index)
    extra.iloc[5] = 3.0
    cells.iloc[5] = 0.0  # only a gene the model does not know
    adata = anndata.AnnData(pd.concat([cells, extra], axis=1))
    path = tmp_path / "cells.h5ad"
    adata.write_h5ad(path)
    out = tmp_path / "pred"
    code = main(
        ["drug", "predict", str(path), "--drug", PARACETAMOL, "--model", str(files["model"]), "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    table = pd.read_csv(out.with_suffix(".csv")).set_index("cell")
    flags = table["drug_flag"].fillna("")
    assert flags["c2"] == "all-zero expression" and flags["c5"] == "no expressed model genes"
    assert (flags.drop(["c2", "c5"]) == "").all()
    assert err.count("warning:") == 1 and "2 of 16 cells are flagged" in err
    assert "1 all-zero expression" in err and "1 no expressed model genes" in err
    written = anndata.read_h5ad(out.with_suffix(".h5ad"))
    assert written.obs.loc["c2", "drug_flag"] == "all-zero expression"


def test_adapt_that_diverges_writes_no_checkpoint(files, tmp_path, capsys):
    """Issue 17 item 11: LoRA with a far too high --lr gives NaN weights; no such checkpoint is written."""
    out = tmp_path / "diverged"
    argv = ["drug", "adapt", str(files["h5ad"]), "--drug", PARACETAMOL, "--model", str(files["model"])]
    argv += ["--label-column", "response", "--shots", "3", "--steps", "10", "--lr", "1e30", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the adaptation diverged" in err and "NaN or infinite" in err and "lower --lr" in err
    assert not out.exists()


def test_genes_refuses_nan_attributions(files, tmp_path, capsys, monkeypatch):
    pytest.importorskip("captum")
    from txformers.tasks.drug_response import critical_genes

    real = critical_genes.critical_genes

    def nan_ranking(*args, **kwargs):
        result = real(*args, **kwargs)
        result["ranking"].loc[0, "mean_attribution"] = np.nan
        return result

    monkeypatch.setattr(critical_genes, "critical_genes", nan_ranking)
    out = tmp_path / "genes"
    argv = ["drug", "genes", str(files["h5ad"]), "--drug", PARACETAMOL, "--model", str(files["model"])]
    assert main([*argv, "--out", str(out), "--seeds", "1", "--n-steps", "2", "--max-cells", "4"]) == 2
    err = capsys.readouterr().err
    assert "gene attributions" in err and str(files["model"]) in err and not list(tmp_path.glob("genes*"))


def test_fewshot_refuses_nan_predictions_naming_the_model(files, tmp_path, capsys, monkeypatch):
    """Issue 17 item 11: NaN predictions gave sklearn's bare 'Input contains NaN.'; the error names the model."""
    from txformers.tasks.drug_response import fewshot

    monkeypatch.setattr(fewshot, "adapt_and_predict", lambda model, inputs, *a, **k: np.full(16, np.nan))
    assert main(_fewshot_args(files, tmp_path / "out.json")) == 2
    err = capsys.readouterr().err
    assert "16 of 16 predictions of the model in" in err and str(files["model"]) in err and "NaN" in err
    assert not (tmp_path / "out.json").exists()
