"""Tests of the cancer-type evaluation (patient-grouped splits, sample aggregation, metrics, the one
evaluation command) and of the cytokine-pattern table and attributions."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from txformers.cytokine_patterns import cytokine_pattern_table, integrated_gradients, plot_heatmap, top_genes
from txformers.models.cellformer import CellformerConfig, CellformerForCellClassification, CellformerForMaskedExpressionModeling
from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
from txformers.training.cancer_type import (
    aggregate_by_sample,
    encode_cells,
    grouped_folds,
    panel_tokenizer,
    protocol_groups,
    scores,
    sex_call,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CYTOKINES = ["IL2", "IFNG", "TNF", "CCL5", "CXCL13", "IL10"]


# ---------------------------------------------------------------------------------------- splits
def test_grouped_folds_never_share_a_patient():
    rng = np.random.default_rng(0)
    patients = np.array([f"P{i}" for i in rng.integers(0, 23, size=600)])
    cancer_of = {f"P{i}": i % 4 for i in range(23)}
    y = np.array([cancer_of[p] for p in patients])
    folds = grouped_folds(y, patients, n_splits=5, seed=1)
    assert len(folds) == 5
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen.tolist()) == list(range(600))  # every cell tested exactly once
    for train, test in folds:
        assert not set(patients[train]) & set(patients[test])
        assert len(np.intersect1d(train, test)) == 0


def test_grouped_folds_need_two_groups():
    with pytest.raises(ValueError, match="at least 2 groups"):
        grouped_folds(np.array([0, 1, 0]), np.array(["P1", "P1", "P1"]))


def test_protocol_groups():
    patient = np.array(["Lung1", "Lung2", "?hn/female", "?hn/male", "?hn/ambiguous", "?mel/female"])
    study = np.array(["wu", "wu", "hn", "hn", "hn", "mel"])
    keep, groups = protocol_groups(patient, study, "strict")
    assert keep.all()
    assert groups.tolist() == ["Lung1", "Lung2", "study:hn", "study:hn", "study:hn", "study:mel"]
    keep, groups = protocol_groups(patient, study, "sex_split")
    assert keep.tolist() == [True, True, True, True, False, True]
    assert groups[keep].tolist() == ["Lung1", "Lung2", "?hn/female", "?hn/male", "?mel/female"]
    cell_type = np.array(["T cell 4.4-FOS", "T cell 8.1-Teff", "CD8 T cell", "Macrophage", "reg. T cell", "B cell"])
    keep, groups = protocol_groups(patient, study, "t_cells_sex_split", cell_type)
    assert keep.tolist() == [True, True, True, False, False, False]
    with pytest.raises(ValueError, match="protocol"):
        protocol_groups(patient, study, "by_cell")


def test_sex_call():
    assert sex_call([3.0, 0.0, 1.0, 0.0], [0.0, 2.0, 1.0, 0.0]).tolist() == ["female", "male", "ambiguous", "ambiguous"]


def test_aggregate_by_sample_and_scores():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    ids, mean = aggregate_by_sample(proba, np.array(["s2", "s1", "s1", "s2"]))
    assert ids.tolist() == ["s1", "s2"]
    np.testing.assert_allclose(mean, [[0.3, 0.7], [0.8, 0.2]])
    result = scores(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), ["a", "b", "c"])
    assert result["accuracy"] == 0.75
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    assert result["recall_per_class"] == {"a": 0.5, "b": 1.0}  # 'c' absent from the truth: not averaged
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_bootstrap_resamples_whole_patients():
    from txformers.training.cancer_type import bootstrap_ci

    y = np.array([0] * 10 + [1] * 10)
    perfect = bootstrap_ci(y, y.copy(), np.repeat(["P1", "P2", "P3", "P4"], 5), n_boot=200)
    assert perfect["accuracy"] == [1.0, 1.0] and perfect["macro_f1"] == [1.0, 1.0]
    # one patient all wrong, three all right: accuracy over resampled patients is a multiple of 1/4
    predicted = y.copy()
    predicted[:5] = 1
    ci = bootstrap_ci(y, predicted, np.repeat(["P1", "P2", "P3", "P4"], 5), n_boot=500)
    assert 0.0 <= ci["accuracy"][0] <= 0.5 and ci["accuracy"][1] == 1.0
    assert all(round(value * 4, 6).is_integer() for value in ci["accuracy"])


def test_panel_tokenizer_keeps_pretrained_ids():
    pretrained = GeneExpressionTokenizer.from_genes(["ACTB", "IL2", "B2M", "IFNG"], mode="bins", n_bins=11, batch_tokens=["s"])
    tok, missing = panel_tokenizer(pretrained, ["IFNG", "IL2", "IL10"])
    assert missing == ["IL10"]
    assert tok.genes == ["IL2", "IFNG"]
    assert tok.convert_tokens_to_ids(["IL2", "IFNG"]) == pretrained.convert_tokens_to_ids(["IL2", "IFNG"])
    assert tok.batch_tokens == []  # no study token: the study would give the cancer away
    enc = encode_cells(tok, np.array([[1.0, 2.0, 0.5]]), ["IFNG", "IL2", "IL10"])
    # genes come in vocabulary order, whatever the column order
    assert enc["input_ids"][0].tolist() == [pretrained.cls_token_id, *pretrained.convert_tokens_to_ids(["IL2", "IFNG"])]


# ---------------------------------------------------------------------------------------- cytokine patterns
def test_cytokine_pattern_table_on_a_hand_made_example():
    X = np.array(
        [  # IFNG  IL10  TNF
            [2.0, 0.0, 1.0],  # lung
            [4.0, 0.0, 1.0],  # lung
            [0.0, 1.0, 1.0],  # renal
            [0.0, 3.0, 1.0],  # renal
            [1.0, 0.0, 1.0],  # renal
        ]
    )
    labels = np.array(["lung", "lung", "renal", "renal", "renal"])
    attribution = np.arange(15, dtype=float).reshape(5, 3)
    table = cytokine_pattern_table(X, ["IFNG", "IL10", "TNF"], labels, attribution)
    assert table.shape == (6, 12)
    lung = table[table.cancer_type == "lung"].set_index("gene")
    renal = table[table.cancer_type == "renal"].set_index("gene")
    assert lung.loc["IFNG", "detection_rate"] == 1.0 and lung.loc["IFNG", "detection_rate_rest"] == pytest.approx(1 / 3)
    assert lung.loc["IFNG", "mean_expression"] == 3.0 and lung.loc["IFNG", "mean_expression_rest"] == pytest.approx(1 / 3)
    pooled = np.sqrt((1 * np.var([2, 4], ddof=1) + 2 * np.var([0, 0, 1], ddof=1)) / 3)
    assert lung.loc["IFNG", "cohens_d"] == pytest.approx((3 - 1 / 3) / pooled)
    assert lung.loc["IFNG", "auroc"] == 1.0
    assert renal.loc["IFNG", "auroc"] == 0.0
    assert lung.loc["TNF", "cohens_d"] == 0.0 and lung.loc["TNF", "auroc"] == 0.5  # constant gene
    assert renal.loc["IL10", "auroc"] == pytest.approx(5 / 6)  # 2 of 3 renal cells above both lung zeros, one tie
    assert lung.loc["IFNG", "rank"] == 1 and renal.loc["IL10", "rank"] == 1
    assert lung.loc["IL10", "attribution"] == pytest.approx((1 + 4) / 2)
    assert set(table.family) <= {"interferon", "interleukin", "TNF family", ""}
    assert [row["gene"] for row in top_genes(table, 1)["renal"]] == ["IL10"]


def test_cytokine_pattern_table_rejects_bad_input():
    with pytest.raises(ValueError, match="two cancer types"):
        cytokine_pattern_table(np.ones((2, 1)), ["IL2"], ["a", "a"])
    with pytest.raises(ValueError, match="cells x genes"):
        cytokine_pattern_table(np.ones((2, 2)), ["IL2"], ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        cytokine_pattern_table(np.array([[np.nan], [1.0]]), ["IL2"], ["a", "b"])


def test_heatmap_is_written(tmp_path):
    rng = np.random.default_rng(0)
    table = cytokine_pattern_table(rng.random((20, 4)), CYTOKINES[:4], np.repeat(["a", "b"], 10), rng.random((20, 4)))
    path = plot_heatmap(table, tmp_path / "heat.png", top=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_integrated_gradients_are_complete():
    pytest.importorskip("captum")
    torch.manual_seed(0)
    tok = GeneExpressionTokenizer.from_genes(CYTOKINES, mode="bins", n_bins=11)
    config = CellformerConfig(vocab_size=tok.vocab_size, n_bins=11, hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=64, num_labels=2)  # fmt: skip
    model = CellformerForCellClassification(config).eval()
    X = np.array([[1.0, 2.0, 0.0, 3.0, 0.5, 0.0], [0.0, 0.0, 4.0, 1.0, 0.0, 2.0]])
    inputs = encode_cells(tok, X, CYTOKINES)
    targets = np.array([0, 1])
    attribution = integrated_gradients(model, inputs, targets, tok.convert_tokens_to_ids(CYTOKINES), n_steps=200)
    assert attribution.shape == (2, 6)
    assert (attribution[X == 0] == 0).all()  # undetected genes are not tokens
    baseline = dict(inputs)
    genes = inputs["attention_mask"].bool() & (inputs["input_ids"] >= 4)
    baseline["expression_bins"] = inputs["expression_bins"].masked_fill(genes, 0)
    with torch.no_grad():
        delta = model(**inputs).logits - model(**baseline).logits
    expected = delta[torch.arange(2), torch.tensor(targets)].numpy()
    np.testing.assert_allclose(attribution.sum(1), expected, atol=2e-3 + 0.02 * np.abs(expected).max())


# ---------------------------------------------------------------------------------------- the evaluation command
def _synthetic_study(folder: Path) -> Path:
    """12 patients of 3 cancers; cancer a: CXCL13 up, b: IL10 up, c: neither. One h5ad per patient."""
    rng = np.random.default_rng(0)
    genes = CYTOKINES + ["PTPRC", "ACTB"]
    rows = []
    for p in range(12):
        cancer = "abc"[p % 3]
        counts = rng.poisson(1.0, size=(10, len(genes))).astype(np.float32)
        counts[:, genes.index("PTPRC")] += 1
        counts[:, genes.index("ACTB")] += 20
        if cancer == "a":
            counts[:, genes.index("CXCL13")] += 15
        if cancer == "b":
            counts[:, genes.index("IL10")] += 15
        adata = ad.AnnData(sp.csr_matrix(counts), obs=pd.DataFrame(index=[f"p{p}c{i}" for i in range(10)]),
                           var=pd.DataFrame(index=genes))  # fmt: skip
        adata.write_h5ad(folder / f"p{p}.h5ad")
        rows.append(dict(path=f"p{p}.h5ad", format="h5ad", cancer_type=cancer, study=f"study_{cancer}", patient=f"P{p}"))
    pd.DataFrame(rows).to_csv(folder / "manifest.tsv", sep="\t", index=False)
    return folder / "manifest.tsv"


def test_evaluation_command_end_to_end(tmp_path):
    from txformers.training.cancer_type import main

    manifest = _synthetic_study(tmp_path)
    tok = GeneExpressionTokenizer.from_genes(["ACTB", *CYTOKINES], mode="bins", n_bins=11, batch_tokens=["x"])
    config = CellformerConfig(vocab_size=tok.vocab_size, n_bins=11, hidden_size=32, num_hidden_layers=1,
                              num_attention_heads=4, intermediate_size=64, hidden_dropout_prob=0.0)  # fmt: skip
    torch.manual_seed(0)
    CellformerForMaskedExpressionModeling(config).save_pretrained(tmp_path / "pretrained")
    tok.save_pretrained(tmp_path / "pretrained")
    result = main(["--manifest", str(manifest), "--pretrained", str(tmp_path / "pretrained"), "--folds", "3",
                   "--epochs", "3", "--no-select", "--protocols", "strict", "--output-json", str(tmp_path / "out.json"),
                   "--save-model", str(tmp_path / "model")])  # fmt: skip
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["classes"] == ["a", "b", "c"]
    assert saved["confound"]["every_cancer_from_one_study"] is True
    block = saved["protocols"]["strict"]
    assert block["cells"] == 120 and block["groups"] == 12
    for fold in block["folds"]:
        assert fold["test_classes_absent_from_training"] == []
    models = block["models"]
    assert set(models) == {"majority", "logistic_regression", "random_forest", "cellformer", "cellformer_scratch"}
    for metrics in models.values():
        for level, n in (("per_cell", 120), ("per_sample", 12)):
            assert metrics[level]["n"] == n and 0 <= metrics[level]["accuracy"] <= 1
            assert np.sum(metrics[level]["confusion_matrix"]) == n
    # the signal is strong: the forest finds it, the majority class cannot
    assert models["random_forest"]["per_cell"]["accuracy"] > 0.9
    assert models["majority"]["per_cell"]["accuracy"] < 0.5
    model = CellformerForCellClassification.from_pretrained(tmp_path / "model")
    assert model.config.architectures == ["CellformerForCellClassification"]
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}
    tokenizer = GeneExpressionTokenizer.from_pretrained(tmp_path / "model")
    assert sorted(tokenizer.genes) == sorted(saved["panel_genes"]) == sorted(CYTOKINES)
    raw = ad.read_h5ad(tmp_path / "p0.h5ad")
    assert model(**tokenizer(raw, return_tensors="pt")).logits.shape == (10, 3)
    assert result["saved_model"]["trained_on_cells"] == 120


def test_epoch_and_lr_selection_uses_training_patients_only():
    from txformers.training.cancer_type import FinetuneOptions, select_and_finetune

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 24)
    X = np.zeros((48, 2))
    X[y == 0, 0] = rng.random(24) + 1
    X[y == 1, 1] = rng.random(24) + 1
    groups = np.array([f"P{i // 6}" for i in range(48)])  # 8 patients, 4 per class
    tok = GeneExpressionTokenizer.from_genes(["IL2", "IFNG"], mode="bins", n_bins=11)
    config = CellformerConfig(vocab_size=tok.vocab_size, n_bins=11, hidden_size=16, num_hidden_layers=1,
                              num_attention_heads=2, intermediate_size=32)  # fmt: skip
    inputs = encode_cells(tok, X, ["IL2", "IFNG"])
    model, selection = select_and_finetune(inputs, y, groups, ["a", "b"], None, FinetuneOptions(batch_size=8),
                                           scratch_config=config, lrs=(1e-3, 5e-3), epoch_grid=(1, 3))  # fmt: skip
    assert set(selection["candidates"]) == {"0.001", "0.005"}
    assert all(set(history) == {1, 3} for history in selection["candidates"].values())
    best = max(score for history in selection["candidates"].values() for score in history.values())
    assert selection["validation_macro_f1"] == best and selection["epochs"] in (1, 3)
    assert 0 < selection["validation_cells"] < 48 and selection["validation_cells"] % 6 == 0  # whole patients
    assert isinstance(model, CellformerForCellClassification) and not model.training


@pytest.mark.skipif(not SHARED.exists(), reason=f"real data folder {SHARED} is absent")
def test_real_manifest_has_patients_and_cancers(tmp_path):
    from txformers.datasets.tumor_immune import read_manifest
    from txformers.training.cancer_type import prepare_real_manifest

    specs = read_manifest(prepare_real_manifest(SHARED / "scrna", tmp_path))
    wu = [spec for spec in specs if spec.study == "wu2020"]
    assert len(wu) == 30 and len({spec.patient for spec in wu}) == 14
    for spec in wu:
        cancer = {"Lung": "lung", "Endo": "endometrial", "Renal": "renal", "Colon": "colorectal"}[spec.patient.rstrip("0123456789")]
        assert spec.cancer_type == cancer
        obs = ad.read_h5ad(spec.path, backed="r").obs
        assert set(obs["patient"]) == {spec.patient}
    chetah = [spec for spec in specs if spec.study != "wu2020"]
    assert {spec.cancer_type for spec in chetah} == {"head_and_neck", "melanoma"}
    assert all(spec.patient.startswith("?") for spec in chetah)
