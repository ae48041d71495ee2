"""Tests of GeneExpressionTokenizer (rank / bins / panel encodings of expression matrices)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from txformers.data import CYTOKINE_GENES_FILE, cytokine_genes
from txformers.datasets.cells import read_cells
from txformers.hub import SHARED_DATA as SHARED
from txformers.tokenizers.expression_encoding import rank_within_rows, sort_within_rows
from txformers.tokenizers.gene_vocabulary import GeneCoverageError, build_vocab_from_adata, canonical_gene_id
from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

WU2020 = SHARED / "scrna" / "wu2020_200_tcells_4cancers.h5ad"
SHARED_CYTOKINES = SHARED / "cytokine" / "human_cytokine_ligand_genes.tsv"
ENTREZ_MAP = SHARED / "drug" / "reference" / "entrez_to_hgnc_symbol_march_2019.txt"

GENES = ["CD3E", "CD8A", "GZMB", "IL7R", "MS4A1"]
# Every cell totals 10 counts, so CP10k scales each count by 1,000.
COUNTS = np.array(
    [
        [4, 0, 2, 4, 0],
        [0, 1, 0, 0, 9],
        [1, 3, 0, 6, 0],
    ],
    dtype=np.float32,
)
# Vocabulary ids: <pad> 0, <cls> 1, <mask> 2, <unk> 3, then the genes from 4.
ID = {gene: 4 + index for index, gene in enumerate(GENES)}
ENSEMBL = {
    "CD3E": "ENSG00000198851",
    "CD8A": "ENSG00000153563",
    "GZMB": "ENSG00000100453",
    "IL7R": "ENSG00000168685",
    "MS4A1": "ENSG00000156738",
}
ENTREZ = {"CD3E": 916, "CD8A": 925, "GZMB": 3002, "IL7R": 3575, "MS4A1": 931}


def make_adata(X=COUNTS, genes=GENES, sparse: bool = True) -> ad.AnnData:
    matrix = sp.csr_matrix(X) if sparse else np.asarray(X)
    adata = ad.AnnData(
        X=matrix,
        obs=pd.DataFrame(index=[f"cell{i}" for i in range(matrix.shape[0])]),
        var=pd.DataFrame(index=list(genes)),
    )
    adata.layers["counts"] = matrix.copy()
    return adata


def as_np(encoding) -> dict:
    return {key: np.asarray(value) for key, value in encoding.items()}


@pytest.fixture
def tok() -> GeneExpressionTokenizer:
    return GeneExpressionTokenizer.from_genes(GENES, max_length=16)


# ---------------------------------------------------------------------- vocabulary
def test_vocabulary_layout_and_ids(tok):
    assert tok.get_vocab() == {"<pad>": 0, "<cls>": 1, "<mask>": 2, "<unk>": 3, **ID}
    assert (tok.pad_token_id, tok.cls_token_id, tok.mask_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.genes == GENES and len(tok) == 9
    assert tok.convert_tokens_to_ids(["IL7R", "il7r", "nope"]) == [7, 7, 3]
    assert tok.convert_ids_to_tokens([1, 8, 0]) == ["<cls>", "MS4A1", "<pad>"]


def test_foreign_vocab_file_with_other_ids(tmp_path):
    # scGPT-like layout: genes first, special tokens at the end, an extra <eoc> token
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"IL7R": 0, "CD3E": 1, "<pad>": 2, "<cls>": 3, "<eoc>": 4}))
    tok = GeneExpressionTokenizer(vocab_file=path, max_length=4)
    assert tok.genes == ["IL7R", "CD3E"] and (tok.pad_token_id, tok.cls_token_id) == (2, 3)
    assert (tok.mask_token_id, tok.unk_token_id) == (5, 6)  # missing specials are appended
    enc = as_np(tok(make_adata()))
    assert enc["input_ids"].tolist() == [[3, 0, 1], [3, 2, 2], [3, 0, 1]]  # CD3E/IL7R tie: vocabulary order
    assert enc["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 1]]


def test_from_genes_rejects_duplicates_and_strips_ensembl_versions():
    with pytest.raises(ValueError, match="duplicated genes: GZMB"):
        GeneExpressionTokenizer.from_genes(["GZMB", "CD3E", "GZMB"])
    with pytest.raises(ValueError, match="duplicated genes: ENSG00000100453"):
        GeneExpressionTokenizer.from_genes(["ENSG00000100453.13", "ENSG00000100453.12"])
    assert GeneExpressionTokenizer.from_genes(["ENSG00000100453.13"]).genes == ["ENSG00000100453"]


def test_canonical_gene_id():
    assert canonical_gene_id("ENSG00000141510.16") == "ENSG00000141510"
    assert canonical_gene_id(" TP53 ") == "TP53"
    for entrez in ("GeneID:7157", 7157, 7157.0, "7157.0", np.int64(7157)):
        assert canonical_gene_id(entrez) == "7157"


def test_build_vocab_from_adata_filters_by_detection():
    adata = make_adata()
    assert build_vocab_from_adata(adata) == GENES
    # detected in >= 2 cells: CD3E, CD8A, IL7R; top 2 by cells detected (3 ties at 2: input order)
    assert build_vocab_from_adata(adata, min_cells=2) == ["CD3E", "CD8A", "IL7R"]
    assert build_vocab_from_adata(adata, max_genes=2) == ["CD3E", "CD8A"]
    tok = GeneExpressionTokenizer.from_adata(adata, min_cells=2, log1p=False)
    assert tok.genes == ["CD3E", "CD8A", "IL7R"] and tok.gene_medians is not None  # rank mode fits


# ---------------------------------------------------------------------- rank mode
def test_rank_mode_without_fit_orders_by_expression(tok):
    enc = as_np(tok(make_adata(), mode="rank", max_length=4))
    # cell0: CD3E 4 and IL7R 4 tie (vocabulary order), then GZMB 2; cell1: MS4A1 9, CD8A 1
    expected = [
        [1, ID["CD3E"], ID["IL7R"], ID["GZMB"]],
        [1, ID["MS4A1"], ID["CD8A"], 0],
        [1, ID["IL7R"], ID["CD8A"], ID["CD3E"]],
    ]
    assert enc["input_ids"].tolist() == expected
    assert enc["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert enc["n_genes_detected"].tolist() == [3, 2, 3]
    assert float(enc["coverage"]) == 1.0


def test_rank_mode_with_fitted_medians():
    tok = GeneExpressionTokenizer.from_genes(GENES, log1p=False)  # Geneformer: linear CP10k values
    tok.fit(make_adata())
    # medians of the non-zero CP10k values: CD3E (4000, 1000), CD8A (1000, 3000), GZMB 2000, IL7R (4000, 6000)
    np.testing.assert_allclose(tok.gene_medians, [2500, 2000, 2000, 5000, 9000])
    enc = as_np(tok(make_adata()))
    # cell0 scores: CD3E 1.6, GZMB 1.0, IL7R 0.8; cell1: MS4A1 1.0, CD8A 0.5; cell2: CD8A 1.5, IL7R 1.2, CD3E 0.4
    assert enc["input_ids"].tolist() == [
        [1, ID["CD3E"], ID["GZMB"], ID["IL7R"]],
        [1, ID["MS4A1"], ID["CD8A"], 0],
        [1, ID["CD8A"], ID["IL7R"], ID["CD3E"]],
    ]


def test_rank_mode_padding_max_length_and_no_cls(tok):
    enc = as_np(tok(make_adata(), max_length=6, padding="max_length"))
    assert enc["input_ids"].shape == (3, 6) and enc["attention_mask"].sum(1).tolist() == [4, 3, 4]
    no_cls = GeneExpressionTokenizer.from_genes(GENES, add_cls_token=False)
    assert as_np(no_cls(make_adata(), max_length=2))["input_ids"].tolist() == [
        [ID["CD3E"], ID["IL7R"]],
        [ID["MS4A1"], ID["CD8A"]],
        [ID["IL7R"], ID["CD8A"]],
    ]
    with pytest.raises(ValueError, match="no room for genes"):
        tok(make_adata(), max_length=1)


def test_batch_tokens_follow_cls():
    tok = GeneExpressionTokenizer.from_genes(GENES, batch_tokens=["lung", "renal"])
    assert tok.vocab["<batch:lung>"] == 9 and tok.batch_tokens == ["lung", "renal"]
    adata = make_adata()
    adata.obs["study"] = ["renal", "lung", "colon"]
    enc = as_np(tok(adata, batch="study", max_length=3))
    assert enc["input_ids"][:, :2].tolist() == [[1, 10], [1, 9], [1, tok.unk_token_id]]
    assert enc["input_ids"][0, 2] == ID["CD3E"]
    panel = as_np(tok(adata, batch=["lung", "lung", "renal"], mode="panel"))
    assert panel["batch_ids"].tolist() == [9, 9, 10]
    with pytest.raises(ValueError, match="no batch tokens"):
        GeneExpressionTokenizer.from_genes(GENES)(adata, batch="study")


# ---------------------------------------------------------------------- bins mode
def test_bins_mode_exact():
    tok5 = GeneExpressionTokenizer.from_genes(GENES, mode="bins", n_bins=5, normalize=False)
    enc = as_np(tok5(make_adata()))
    # per-cell edges = quantiles (0, 1/3, 2/3, 1) of the non-zero values; bin = number of edges <= value
    # cell0 [2,4,4] -> edges [2, 3.33, 4, 4]; cell1 [1,9] -> [1, 3.67, 6.33, 9]; cell2 [1,3,6] -> [1, 2.33, 4, 6]
    assert enc["input_ids"].tolist() == [
        [1, ID["CD3E"], ID["GZMB"], ID["IL7R"]],
        [1, ID["CD8A"], ID["MS4A1"], 0],
        [1, ID["CD3E"], ID["CD8A"], ID["IL7R"]],
    ]
    assert enc["expression_bins"].tolist() == [[0, 4, 1, 4], [0, 1, 4, 5], [0, 1, 2, 4]]  # pad bin = n_bins
    assert enc["expression"].tolist() == [[0, 4, 2, 4], [0, 1, 9, 0], [0, 1, 3, 6]]
    assert enc["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert tok5.mask_bin == 6

    top = as_np(tok5(make_adata(), max_length=3))  # <cls> + the 2 highest genes, kept in vocabulary order
    assert top["input_ids"].tolist() == [
        [1, ID["CD3E"], ID["IL7R"]],
        [1, ID["CD8A"], ID["MS4A1"]],
        [1, ID["CD8A"], ID["IL7R"]],
    ]
    assert top["expression_bins"].tolist() == [[0, 4, 4], [0, 1, 4], [0, 2, 4]]  # bins use all genes


def test_rank_and_bins_match_a_per_cell_numpy_reference():
    rng = np.random.default_rng(0)
    X = rng.poisson(rng.uniform(0.2, 4, size=(40, 1)), size=(40, 60)).astype(np.float64)
    genes = [f"G{i}" for i in range(60)]
    tok = GeneExpressionTokenizer.from_genes(genes, n_bins=11, max_length=100)
    bins, rank = as_np(tok(X, gene_names=genes, mode="bins")), as_np(tok(X, gene_names=genes, mode="rank"))
    for row in range(40):
        values = np.log1p(X[row] / X[row].sum() * 1e4)
        nonzero = np.flatnonzero(values)
        edges = np.quantile(values[nonzero], np.linspace(0, 1, 10))  # scGPT binning, one cell at a time
        length = bins["attention_mask"][row].sum()
        assert bins["input_ids"][row, 1:length].tolist() == (nonzero + 4).tolist()
        assert bins["expression_bins"][row, 1:length].tolist() == np.digitize(values[nonzero], edges).tolist()
        by_rank = nonzero[np.argsort(-values[nonzero], kind="stable")]
        assert rank["input_ids"][row, 1:length].tolist() == (by_rank + 4).tolist()


@pytest.mark.parametrize("positive", [True, False], ids=["packed-key sort", "lexsort fallback"])
def test_rank_within_rows_matches_a_per_row_stable_sort(positive):
    # 300 rows (more than one 128-row block), empty rows, many ties, truncation, a prefix offset
    rng = np.random.default_rng(3)
    lengths = rng.integers(0, 60, 300)
    lengths[[0, 150, 299]] = 0
    rows = np.repeat(np.arange(300), lengths)
    cols = np.concatenate([np.sort(rng.choice(70, k, replace=False)) for k in lengths])
    score = rng.integers(1, 6, len(rows)) / rng.choice([1.0, 3.0, 7.0], len(rows))
    if not positive:
        score[5] = 0.0  # a zero score takes np.lexsort; the result must not change
    labels = np.arange(70) * 10 + 5
    out, kept = rank_within_rows(rows, cols, score, 300, 40, labels, fill=-1, offset=2)
    assert out.shape == (300, 2 + 40) and (out[:, :2] == -1).all()
    assert kept.tolist() == np.minimum(lengths, 40).tolist()
    for row in range(300):
        mine = rows == row
        expected = labels[cols[mine][np.argsort(-score[mine], kind="stable")]][:40]
        assert out[row, 2 : 2 + len(expected)].tolist() == expected.tolist(), row
        assert (out[row, 2 + len(expected) :] == -1).all()
    for descending in (False, True):  # the same sort, as an order of the entries
        expected = np.lexsort((-score if descending else score, rows))
        assert sort_within_rows(rows, score, descending).tolist() == expected.tolist()
        shuffled = rng.permutation(len(rows))  # rows not grouped
        expected = np.lexsort((-score[shuffled] if descending else score[shuffled], rows[shuffled]))
        assert sort_within_rows(rows[shuffled], score[shuffled], descending).tolist() == expected.tolist()


def test_bins_random_sampling_is_seeded():
    rng = np.random.default_rng(1)
    X = rng.poisson(2, size=(6, 40)).astype(np.float32)
    genes = [f"G{i}" for i in range(40)]
    tok = GeneExpressionTokenizer.from_genes(genes, mode="bins", sampling="random", max_length=8)
    a, b, c = (as_np(tok(X, gene_names=genes, seed=s)) for s in (3, 3, 4))
    assert np.array_equal(a["input_ids"], b["input_ids"])
    assert not np.array_equal(a["input_ids"], c["input_ids"])
    for row in range(6):  # sampled genes are detected genes, in vocabulary order
        ids = a["input_ids"][row, 1:]
        assert (np.diff(ids) > 0).all() and (X[row, ids - 4] > 0).all()


# ---------------------------------------------------------------------- panel mode
def test_panel_mode_with_missing_gene():
    tok = GeneExpressionTokenizer.from_genes(["CD3E", "CD4", "CD8A", "GZMB", "IL7R", "MS4A1"], mode="panel")
    enc = as_np(tok(make_adata()))
    expected = np.log1p(COUNTS.astype(np.float64) * 1000)
    np.testing.assert_allclose(enc["expression"][:, [0, 2, 3, 4, 5]], expected, rtol=1e-6)
    assert (enc["expression"][:, 1] == 0).all()
    assert enc["missing_mask"].tolist() == [[False, True, False, False, False, False]] * 3
    assert float(enc["coverage"]) == pytest.approx(5 / 6) and tok.coverage(make_adata()) == pytest.approx(5 / 6)


def test_panel_accepts_zscores_rank_and_bins_refuse_them(tok):
    z = (COUNTS - COUNTS.mean(0)) / (COUNTS.std(0) + 1)
    enc = as_np(tok(z, gene_names=GENES, mode="panel"))
    np.testing.assert_allclose(enc["expression"], z, rtol=1e-6)
    for mode in ("rank", "bins"):
        with pytest.raises(ValueError, match="negative values"):
            tok(z, gene_names=GENES, mode=mode)
    with pytest.raises(ValueError, match="cannot total-count normalise negative"):
        tok(z, gene_names=GENES, mode="panel", normalize=True)


# ---------------------------------------------------------------------- normalisation
def test_detect_scale():
    assert GeneExpressionTokenizer.detect_scale(make_adata()) == "counts"
    assert GeneExpressionTokenizer.detect_scale(make_adata(np.log1p(COUNTS * 1000))) == "log"
    assert GeneExpressionTokenizer.detect_scale(COUNTS * 1000.5) == "linear"  # e.g. TPM
    assert GeneExpressionTokenizer.detect_scale(COUNTS - 1) == "scaled"
    assert GeneExpressionTokenizer.detect_scale(np.zeros((2, 3))) == "empty"
    with pytest.raises(ValueError, match="non-finite value .* cell 1, gene column 2"):
        GeneExpressionTokenizer.detect_scale(np.array([[1.0, 0, 0], [0, 0, np.nan]]))


def test_normalisation_only_when_needed(tok):
    log_values = np.log1p(COUNTS.astype(np.float64) * 1000)
    from_counts = as_np(tok(make_adata(), mode="panel"))["expression"]
    from_log = as_np(tok(make_adata(log_values), mode="panel"))["expression"]
    np.testing.assert_allclose(from_counts, log_values, rtol=1e-6)
    np.testing.assert_allclose(from_log, log_values, rtol=1e-6)  # used as is, not normalised twice
    tpm = as_np(tok(COUNTS * 1000.5, gene_names=GENES, mode="panel"))["expression"]
    np.testing.assert_allclose(tpm, log_values, rtol=1e-6)  # linear scale: normalised
    raw = as_np(tok(make_adata(), mode="panel", normalize=False))["expression"]
    np.testing.assert_array_equal(raw, COUNTS)
    forced = as_np(tok(make_adata(COUNTS / 10 + 0.5 * (COUNTS > 0)), mode="panel", normalize=True))["expression"]
    assert forced[0, 0] == pytest.approx(np.log1p(0.9 / 2.5 * 1e4), rel=1e-6)  # row 0: 0.9, 0.7, 0.9


def test_total_counts_use_all_input_genes(tok):
    # an extra non-vocabulary gene with 10 counts doubles every cell's total
    X = np.hstack([COUNTS, np.full((3, 1), 10, dtype=np.float32)])
    enc = as_np(tok(X, gene_names=GENES + ["OTHER"], mode="panel"))
    np.testing.assert_allclose(enc["expression"], np.log1p(COUNTS.astype(np.float64) * 500), rtol=1e-6)


# ---------------------------------------------------------------------- gene identifiers
def test_ensembl_ids_with_versions_through_a_mapping_table(tmp_path, tok):
    table = pd.DataFrame(
        {"symbol": GENES, "ensembl_gene_id": [ENSEMBL[g] for g in GENES], "entrez_id": [ENTREZ[g] for g in GENES]}
    )
    reference = as_np(tok(make_adata(), mode="rank"))
    versioned = [ENSEMBL[g] + ".7" for g in GENES]
    with pytest.raises(GeneCoverageError):  # nothing matches without the table
        tok(make_adata(genes=versioned))
    mapped = GeneExpressionTokenizer.from_genes(GENES, gene_mapping=table)
    assert mapped.gene_report(make_adata(genes=versioned)).mapped_genes == dict(zip(versioned, GENES))
    assert np.array_equal(as_np(mapped(make_adata(genes=versioned)))["input_ids"], reference["input_ids"])
    # the same table as a TSV file, ids in lower case
    table.to_csv(tmp_path / "hgnc.tsv", sep="\t", index=False)
    from_file = GeneExpressionTokenizer.from_genes(GENES, gene_mapping=tmp_path / "hgnc.tsv")
    lower = [v.lower() for v in versioned]
    assert np.array_equal(as_np(from_file(make_adata(genes=lower)))["input_ids"], reference["input_ids"])


def test_entrez_ids_through_a_dict_and_the_call(tok):
    reference = as_np(tok(make_adata(), mode="bins"))
    entrez = [str(ENTREZ[g]) for g in GENES[:3]] + [f"GeneID:{ENTREZ[g]}" for g in GENES[3:]]
    enc = as_np(tok(make_adata(genes=entrez), mode="bins", gene_mapping={ENTREZ[g]: g for g in GENES}))
    for key in reference:
        assert np.array_equal(enc[key], reference[key]), key
    with pytest.raises(ValueError, match="none of the 2 mapping targets is a vocabulary gene"):
        tok.add_gene_mapping({"1": "A1BG", "2": "A2M"})


def test_duplicate_unknown_and_case_report(tok, caplog):
    genes = ["CD3E", "cd8a", "GZMB", "GZMB", "FOO"]
    X = np.array([[1, 2, 3, 4, 5], [0, 0, 0, 7, 1]], dtype=np.float32)
    report = tok.gene_report(genes)
    assert report.unknown_genes == ["FOO"]
    assert report.case_insensitive_matches == {"cd8a": "CD8A"}
    assert report.duplicate_genes == {"GZMB": ["GZMB", "GZMB"]}
    assert report.missing_genes == ["IL7R", "MS4A1"] and report.coverage == pytest.approx(0.6)
    assert "summed" in str(report) and "FOO" not in report.present_genes
    with caplog.at_level(logging.WARNING):
        summed = as_np(tok(X, gene_names=genes, mode="panel", normalize=False))["expression"]
    assert "GZMB <- GZMB+GZMB" in caplog.text
    assert summed.tolist() == [[1, 2, 7, 0, 0], [0, 0, 7, 0, 0]]
    first = GeneExpressionTokenizer.from_genes(GENES, duplicates="first")
    kept = as_np(first(X, gene_names=genes, mode="panel", normalize=False))["expression"]
    assert kept.tolist() == [[1, 2, 3, 0, 0], [0, 0, 0, 0, 0]]
    assert "first column kept" in str(first.gene_report(genes))


def test_gene_column_and_layer():
    adata = make_adata(genes=[f"id{i}" for i in range(5)])
    adata.var["symbol"] = GENES
    adata.X = sp.csr_matrix(np.log1p(COUNTS))
    tok = GeneExpressionTokenizer.from_genes(GENES, mode="panel")
    enc = as_np(tok(adata, gene_column="symbol", layer="counts", normalize=False))
    np.testing.assert_array_equal(enc["expression"], COUNTS)
    with pytest.raises(KeyError, match="layer 'raw' is not in the AnnData"):
        tok(adata, layer="raw", gene_column="symbol")
    with pytest.raises(ValueError, match="4 gene names for a matrix with 5 genes"):
        tok(COUNTS, gene_names=GENES[:4])


# ---------------------------------------------------------------------- coverage
def test_coverage_error_names_missing_genes():
    tok = GeneExpressionTokenizer.from_genes(GENES, mode="panel")
    adata = make_adata(COUNTS[:, :2], GENES[:2])
    with pytest.raises(GeneCoverageError, match=r"only 2 of 5 vocabulary genes \(40.0%\).*GZMB, IL7R, MS4A1"):
        tok(adata)
    assert issubclass(GeneCoverageError, ValueError)
    assert as_np(tok(adata, min_coverage=0.4))["missing_mask"][0].tolist() == [False, False, True, True, True]
    tok(adata, mode="rank")  # no threshold by default in rank mode ...
    with pytest.raises(GeneCoverageError, match="only 0 of 5"):  # ... but at least one gene
        tok(make_adata(genes=list("VWXYZ")), mode="rank")


def test_cell_level_threshold_names_cells(tok):
    assert tok.genes_detected(make_adata()).tolist() == [3, 2, 3]
    with pytest.raises(GeneCoverageError, match=r"1 of 3 cells .*min_genes_detected=3.*cell1 \(2 genes\)"):
        tok(make_adata(), min_genes_detected=3)


# ---------------------------------------------------------------------- input types
@pytest.mark.parametrize("mode", ["rank", "bins", "panel"])
def test_sparse_dense_and_chunking_give_identical_output(mode):
    rng = np.random.default_rng(2)
    X = (rng.poisson(0.7, size=(30, 25)) * (rng.random((30, 25)) < 0.5)).astype(np.float32)
    genes = [f"G{i}" for i in range(25)]
    tok = GeneExpressionTokenizer.from_genes(genes, mode=mode, max_length=8, sampling="random", n_bins=7)
    tok.fit(X, gene_names=genes)
    reference = as_np(tok(X, gene_names=genes))
    chunked = GeneExpressionTokenizer.from_genes(
        genes, mode=mode, max_length=8, sampling="random", n_bins=7, chunk_size=7, gene_medians=tok.gene_medians
    )
    frame = pd.DataFrame(X, columns=genes)
    for variant, t in (
        (sp.csr_matrix(X), tok),
        (sp.csc_matrix(X), tok),
        (make_adata(X, genes, sparse=True), tok),
        (torch.from_numpy(X), tok),
        (frame, tok),
        (X, chunked),
    ):
        names = None if isinstance(variant, (ad.AnnData, pd.DataFrame)) else genes
        encoded = as_np(t(variant, gene_names=names))
        assert reference.keys() == encoded.keys()
        for key in reference:
            assert np.array_equal(reference[key], encoded[key]), (type(variant), key)


def test_return_tensors(tok):
    enc = tok(make_adata(), mode="bins", return_tensors="pt")
    assert enc["input_ids"].dtype == torch.int64 and enc["expression"].dtype == torch.float32
    assert enc["attention_mask"].shape == (3, 4) and torch.is_tensor(enc["coverage"])
    panel = tok(make_adata(), mode="panel", return_tensors="pt")
    assert panel["missing_mask"].dtype == torch.bool and panel["expression"].shape == (3, 5)
    with pytest.raises(ValueError, match="return_tensors"):
        tok(make_adata(), return_tensors="tf")


# ---------------------------------------------------------------------- saving and loading
def _saved(tmp_path) -> tuple[GeneExpressionTokenizer, Path]:
    tok = GeneExpressionTokenizer.from_genes(
        GENES, mode="bins", n_bins=7, max_length=4, batch_tokens=["lung"], gene_mapping={"ENSG00000168685": "IL7R"}
    )
    tok.fit(make_adata())
    folder = tmp_path / "tokenizer"
    tok.save_pretrained(folder)
    return tok, folder


def test_save_and_load_round_trip(tmp_path):
    tok, folder = _saved(tmp_path)
    assert sorted(os.listdir(folder)) == [
        "expression_encoding.py",
        "gene_id_map.json",
        "gene_medians.json",
        "gene_vocab.json",
        "gene_vocabulary.py",
        "tokenization_gene_expression.py",
        "tokenizer_config.json",
    ]
    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "GeneExpressionTokenizer" and config["mode"] == "bins"
    loaded = GeneExpressionTokenizer.from_pretrained(folder)
    assert loaded.get_vocab() == tok.get_vocab() and loaded.gene_mapping == tok.gene_mapping
    np.testing.assert_array_equal(loaded.gene_medians, tok.gene_medians)
    adata = make_adata(genes=GENES[:3] + ["ENSG00000168685.3", "MS4A1"])
    for mode in ("rank", "bins", "panel"):
        a, b = as_np(tok(adata, mode=mode)), as_np(loaded(adata, mode=mode))
        for key in a:
            assert np.array_equal(a[key], b[key]), (mode, key)
    assert GeneExpressionTokenizer.from_pretrained(folder, mode="panel").mode == "panel"


def test_loads_without_txformers(tmp_path):
    tok, folder = _saved(tmp_path)
    copy = tmp_path / "elsewhere"
    shutil.copytree(folder, copy)
    np.save(tmp_path / "expected.npy", as_np(tok(make_adata(), mode="rank"))["input_ids"])
    np.save(tmp_path / "counts.npy", COUNTS)
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["txformers"] = None  # importing txformers now fails
        import numpy as np
        from transformers import AutoTokenizer
        sys.path.insert(0, {str(copy)!r})
        from tokenization_gene_expression import GeneExpressionTokenizer
        counts, expected = np.load({str(tmp_path / "counts.npy")!r}), np.load({str(tmp_path / "expected.npy")!r})
        for tok in (
            GeneExpressionTokenizer.from_pretrained({str(copy)!r}),
            AutoTokenizer.from_pretrained({str(copy)!r}, trust_remote_code=True),
        ):
            ids = tok(counts, gene_names={GENES!r}, mode="rank")["input_ids"]
            assert np.array_equal(ids, expected), (type(tok), ids)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": "", "HF_MODULES_CACHE": str(tmp_path / "modules")},
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


# ---------------------------------------------------------------------- shipped gene list and real data
def test_shipped_cytokine_gene_list():
    genes = cytokine_genes()
    assert len(genes) == 185 == len(set(genes)) and {"IL2", "IFNG", "TNF", "CXCL8"} <= set(genes)
    assert len(cytokine_genes(family="chemokine")) == 48
    with pytest.raises(ValueError, match="unknown cytokine family"):
        cytokine_genes(family="hormone")
    if SHARED_CYTOKINES.exists():
        assert CYTOKINE_GENES_FILE.read_bytes() == SHARED_CYTOKINES.read_bytes()


@pytest.mark.shared_data
@pytest.mark.skipif(
    not (WU2020.exists() and SHARED_CYTOKINES.exists()), reason="needs ../shared/data (wu2020, cytokine list)"
)
def test_wu2020_cytokine_panel_in_all_modes():
    adata = read_cells(WU2020)
    panel = pd.read_csv(SHARED_CYTOKINES, sep="\t")["gene"].tolist()
    tok = GeneExpressionTokenizer.from_genes(panel, mode="panel", max_length=32)
    report = tok.gene_report(adata)
    assert len(report.present_genes) == 183 and report.n_vocab_genes == 185
    assert sorted(report.missing_genes) == ["MYDGF", "VEGFD"]  # named C19orf10 and FIGF in this dataset

    columns = [adata.var_names.get_loc(gene) for gene in report.present_genes]
    detected = np.asarray((adata.X[:, columns] > 0).sum(1)).ravel()
    tok.fit(adata)
    for mode in ("rank", "bins", "panel"):
        enc = tok(adata, mode=mode, return_tensors="pt")
        assert float(enc["coverage"]) == pytest.approx(183 / 185)
        assert enc["n_genes_detected"].tolist() == detected.tolist()
        if mode == "panel":
            assert enc["expression"].shape == (200, 185) and int(enc["missing_mask"][0].sum()) == 2
            assert (enc["expression"] > 0).sum(1).tolist() == detected.tolist()
        else:
            lengths = enc["attention_mask"].sum(1) - 1
            assert lengths.tolist() == np.minimum(detected, 31).tolist()
            gene_ids = enc["input_ids"][:, 1:][enc["attention_mask"][:, 1:].bool()]
            assert set(tok.convert_ids_to_tokens(gene_ids.tolist())) <= set(report.present_genes)

    if ENTREZ_MAP.exists():  # the Entrez ids ("GeneID:916") through the HGNC table recover the renamed genes
        entrez = GeneExpressionTokenizer.from_genes(panel, mode="panel", gene_mapping=ENTREZ_MAP)
        assert entrez.coverage(adata, gene_column="gene_ids") > report.coverage
        assert "VEGFD" in entrez.gene_report(adata, gene_column="gene_ids").present_genes
