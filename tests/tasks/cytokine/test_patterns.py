"""Tests of the cytokine patterns: the one-vs-rest table, the heatmap, integrated-gradients attributions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from txformers.models.cellformer import CellformerConfig, CellformerForCellClassification
from txformers.plotting import plot_heatmap
from txformers.tasks.cytokine.cancer_type import encode_cells
from txformers.tasks.cytokine.patterns import cytokine_pattern_table, integrated_gradients, top_genes
from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

CYTOKINES = ["IL2", "IFNG", "TNF", "CCL5", "CXCL13", "IL10"]


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
    assert lung.loc["IFNG", "mean_expression"] == 3.0 and lung.loc["IFNG", "mean_expression_rest"] == pytest.approx(
        1 / 3
    )
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
    config = CellformerConfig(
        vocab_size=tok.vocab_size,
        n_bins=11,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=2,
    )
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
