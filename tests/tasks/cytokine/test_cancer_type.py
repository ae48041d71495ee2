"""Tests of the cancer-type task: patient-grouped splits, protocols, sample aggregation, metrics, the panel
tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from txformers.tasks.cytokine.cancer_type import (
    aggregate_by_sample,
    bootstrap_ci,
    encode_cells,
    grouped_folds,
    panel_tokenizer,
    protocol_groups,
    scores,
)
from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

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
    pretrained = GeneExpressionTokenizer.from_genes(
        ["ACTB", "IL2", "B2M", "IFNG"], mode="bins", n_bins=11, batch_tokens=["s"]
    )
    tok, missing = panel_tokenizer(pretrained, ["IFNG", "IL2", "IL10"])
    assert missing == ["IL10"]
    assert tok.genes == ["IL2", "IFNG"]
    assert tok.convert_tokens_to_ids(["IL2", "IFNG"]) == pretrained.convert_tokens_to_ids(["IL2", "IFNG"])
    assert tok.batch_tokens == []  # no study token: the study would give the cancer away
    enc = encode_cells(tok, np.array([[1.0, 2.0, 0.5]]), ["IFNG", "IL2", "IL10"])
    # genes come in vocabulary order, whatever the column order
    assert enc["input_ids"][0].tolist() == [pretrained.cls_token_id, *pretrained.convert_tokens_to_ids(["IL2", "IFNG"])]
