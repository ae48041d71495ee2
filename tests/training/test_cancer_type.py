"""Tests of the cancer-type evaluation command (``python -m txformers.training.cancer_type``) and of its
learning-rate / epoch selection on the training patients."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from txformers.models.cellformer import (
    CellformerConfig,
    CellformerForCellClassification,
    CellformerForMaskedExpressionModeling,
)
from txformers.tasks.cytokine.cancer_type import encode_cells
from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

CYTOKINES = ["IL2", "IFNG", "TNF", "CCL5", "CXCL13", "IL10"]


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
        adata = ad.AnnData(
            sp.csr_matrix(counts),
            obs=pd.DataFrame(index=[f"p{p}c{i}" for i in range(10)]),
            var=pd.DataFrame(index=genes),
        )
        adata.write_h5ad(folder / f"p{p}.h5ad")
        rows.append(
            dict(path=f"p{p}.h5ad", format="h5ad", cancer_type=cancer, study=f"study_{cancer}", patient=f"P{p}")
        )
    pd.DataFrame(rows).to_csv(folder / "manifest.tsv", sep="\t", index=False)
    return folder / "manifest.tsv"


def test_evaluation_command_end_to_end(tmp_path):
    from txformers.training.cancer_type import main

    manifest = _synthetic_study(tmp_path)
    tok = GeneExpressionTokenizer.from_genes(["ACTB", *CYTOKINES], mode="bins", n_bins=11, batch_tokens=["x"])
    config = CellformerConfig(
        vocab_size=tok.vocab_size,
        n_bins=11,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    CellformerForMaskedExpressionModeling(config).save_pretrained(tmp_path / "pretrained")
    tok.save_pretrained(tmp_path / "pretrained")
    result = main(
        [
            "--manifest",
            str(manifest),
            "--pretrained",
            str(tmp_path / "pretrained"),
            "--folds",
            "3",
            "--epochs",
            "3",
            "--no-select",
            "--protocols",
            "strict",
            "--output-json",
            str(tmp_path / "out.json"),
            "--save-model",
            str(tmp_path / "model"),
        ]
    )
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
    config = CellformerConfig(
        vocab_size=tok.vocab_size,
        n_bins=11,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    inputs = encode_cells(tok, X, ["IL2", "IFNG"])
    model, selection = select_and_finetune(
        inputs,
        y,
        groups,
        ["a", "b"],
        None,
        FinetuneOptions(batch_size=8),
        scratch_config=config,
        lrs=(1e-3, 5e-3),
        epoch_grid=(1, 3),
    )
    assert set(selection["candidates"]) == {"0.001", "0.005"}
    assert all(set(history) == {1, 3} for history in selection["candidates"].values())
    best = max(score for history in selection["candidates"].values() for score in history.values())
    assert selection["validation_macro_f1"] == best and selection["epochs"] in (1, 3)
    assert 0 < selection["validation_cells"] < 48 and selection["validation_cells"] % 6 == 0  # whole patients
    assert isinstance(model, CellformerForCellClassification) and not model.training
