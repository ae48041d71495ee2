"""The abstain rule of the cancer-type classifier (txformers.tasks.cytokine.abstain and the pipeline's distance):
on tiny synthetic cells, cells whose detected genes are unlike every training class are flagged, cells drawn like
the training cells are not, and the thresholds come from held-out folds within the accuracy budget."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from transformers import pipeline

from tests.conftest import requires_shared_data
from txformers.models.cellformer import CellformerConfig, CellformerForCellClassification
from txformers.models.cellformer.pipeline_cellformer import abstain_flags, detection_surprise
from txformers.tasks.cytokine.abstain import choose_thresholds, detection_log_rates, held_out_surprise
from txformers.tasks.cytokine.cancer_type import grouped_folds
from txformers.tokenizers import GeneExpressionTokenizer

N_GENES = 60


def _cells(rng, n: int, rates: np.ndarray) -> np.ndarray:
    """Counts whose genes are detected with the given per-gene rates."""
    return (rng.random((n, len(rates))) < rates) * rng.integers(1, 5, size=(n, len(rates)))


def _training(rng):
    """Two classes, each detecting its own half of the first 40 genes often; genes 40-59 never detected."""
    rates = np.full((2, N_GENES), 0.02)
    rates[0, :20], rates[1, 20:40] = 0.7, 0.7
    rates[:, 40:] = 0.0
    X = np.concatenate([_cells(rng, 60, rates[0]), _cells(rng, 60, rates[1])])
    y = np.repeat([0, 1], 60)
    patients = np.repeat(np.arange(12), 10)
    return X, y, patients, rates


def test_far_cells_are_flagged_and_near_cells_are_not():
    rng = np.random.default_rng(0)
    X, y, patients, rates = _training(rng)
    folds = grouped_folds(y, patients, 4, 0)
    held = held_out_surprise(X, y, 2, folds)
    assert not np.isnan(held).any()  # every cell is held out once
    threshold = float(np.quantile(held, 0.99))
    log_p = detection_log_rates(X, y, 2)
    near = detection_surprise(log_p, _cells(rng, 50, rates[1]))
    far_rates = np.full(N_GENES, 0.02)
    far_rates[40:] = 0.7  # an unseen type: detects genes no training cell detects
    far = detection_surprise(log_p, _cells(rng, 50, far_rates))
    assert (far > threshold).mean() > 0.9
    assert (near > threshold).mean() < 0.1
    # genes the input does not measure do not count: without genes 40-59 the far cells look like class-0-less
    # sparse cells, no longer far
    present = np.arange(N_GENES) < 40
    assert np.median(detection_surprise(log_p, _cells(rng, 50, far_rates), present)) < np.median(far)


def test_held_out_reference_leaves_out_classes_absent_from_the_fold():
    rng = np.random.default_rng(1)
    X, y, _, _ = _training(rng)
    train, test = np.flatnonzero(y == 0)[:40], np.flatnonzero(y == 1)[:10]
    held = held_out_surprise(X, y, 2, [(train, test)])
    alone = detection_surprise(detection_log_rates(X[train], y[train], 2)[[0]], X[test])
    np.testing.assert_allclose(held[test], alone)
    assert np.isnan(np.delete(held, test)).all()
    with_both = detection_surprise(detection_log_rates(X, y, 2), X[test])
    assert held[test].min() > with_both.max()  # class-1 cells are far from a class-0-only reference


def test_choose_thresholds_keeps_the_accuracy_budget():
    rng = np.random.default_rng(2)
    n = 400
    distance = rng.normal(size=n)
    correct = rng.random(n) < 0.6
    probability = rng.uniform(0.3, 1.0, size=n)
    coverage = rng.uniform(0.1, 1.0, size=n)
    for budget in (0.005, 0.02, 0.05):
        rule = choose_thresholds(probability, coverage, distance, correct, budget=budget)
        flags = (coverage < rule["min_panel_coverage"]) | (probability < rule["min_probability"])
        flags |= distance > rule["max_distance"]
        assert correct.mean() - (correct & ~flags).mean() <= budget + 1e-12
        assert rule["max_distance"] == pytest.approx(np.quantile(distance, rule["distance_quantile"]))
    loose = choose_thresholds(probability, coverage, distance, correct, budget=0.05)
    tight = choose_thresholds(probability, coverage, distance, correct, budget=0.005)
    assert loose["max_distance"] < tight["max_distance"]  # a larger budget abstains more


def test_abstain_flags_use_a_given_distance_and_skip_nan():
    rule = {"min_panel_coverage": 0.0, "min_probability": 0.0, "max_distance": 1.0}
    flags, why = abstain_flags(np.full((3, 2), 0.5), np.ones(3), None, rule, np.array([0.5, 2.0, np.nan]))
    assert flags.tolist() == [False, True, False] and why == [[], ["distance"], []]


def test_pipeline_reads_the_reference_file_and_calls_far_cells_unknown(tmp_path):
    rng = np.random.default_rng(3)
    X, y, _, rates = _training(rng)
    genes = [f"G{i}" for i in range(N_GENES)]
    panel = genes[:6]
    folder = tmp_path / "model"
    tokenizer = GeneExpressionTokenizer.from_genes(panel, mode="bins", n_bins=11, max_length=len(panel) + 1)
    config = CellformerConfig(
        vocab_size=tokenizer.vocab_size,
        n_bins=11,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=2,
        id2label={0: "a", 1: "b"},
        label2id={"a": 0, "b": 1},
    )
    torch.manual_seed(0)
    CellformerForCellClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    log_p = detection_log_rates(X, y, 2)
    np.savez(folder / "abstain_reference.npz", genes=np.array(genes), log_p=log_p)
    held = held_out_surprise(X, y, 2, grouped_folds(y, np.repeat(np.arange(12), 10), 4, 0))
    saved = json.loads((folder / "config.json").read_text())
    saved["abstain"] = {
        "min_panel_coverage": 0.0,
        "min_probability": 0.0,
        "max_distance": float(np.quantile(held, 0.99)),
        "reference": "abstain_reference.npz",
    }
    (folder / "config.json").write_text(json.dumps(saved))

    far_rates = np.full(N_GENES, 0.02)
    far_rates[:3], far_rates[40:] = 0.9, 0.7
    near_rates = rates[0].copy()
    near_rates[:3] = 0.9
    counts = np.concatenate([_cells(rng, 20, near_rates), _cells(rng, 20, far_rates)]).astype(np.float32)
    cells = ad.AnnData(counts, var=pd.DataFrame(index=genes))
    calls = pipeline("cancer-type-classification", model=str(folder), device="cpu")(cells, cell_batch_size=7)
    unknown = np.array([call["unknown"] for call in calls])
    assert unknown[20:].mean() > 0.9 and unknown[:20].mean() < 0.1
    assert all(call["label"] == "unknown" and "distance" in call["reasons"] for call in calls[20:] if call["unknown"])
    # an input that lacks some reference genes: the distance runs over the genes it measures, near cells stay known
    fewer = pipeline("cancer-type-classification", model=str(folder), device="cpu")(cells[:, :40].copy())
    assert np.mean([call["unknown"] for call in fewer[:20]]) < 0.25
    # a rule that needs more reference genes than the input holds does not check the distance, and says so
    saved["abstain"]["min_reference_genes"] = 50
    (folder / "config.json").write_text(json.dumps(saved))
    classify = pipeline("cancer-type-classification", model=str(folder), device="cpu")
    unchecked = classify(cells[:, :40].copy())
    assert not any("distance" in call["reasons"] for call in unchecked)
    assert "40 of the abstain reference's 60 genes" in classify.abstain_note
    assert np.mean([call["unknown"] for call in classify(cells)[20:]]) > 0.9 and classify.abstain_note is None


@requires_shared_data
def test_bundled_rule_calls_most_unseen_oligodendroglioma_cells_unknown():
    from txformers.hub import CHECKPOINTS, SHARED_DATA
    from txformers.models.cellformer import CancerTypePipeline

    cells = ad.read_h5ad(SHARED_DATA / "scrna" / "tirosh2016_oligodendroglioma_184cells.h5ad")
    folder = CHECKPOINTS / "cellformer-cancer-type"
    classify = pipeline(
        "cancer-type-classification", model=str(folder), pipeline_class=CancerTypePipeline, device="cpu"
    )
    calls = classify(cells)
    unknown = np.array([call["unknown"] for call in calls])
    assert unknown.mean() > 0.5 and classify.abstain_note is None
    malignant = cells.obs["cell_type"].astype(str).str.startswith("malignant").to_numpy()
    assert unknown[malignant].mean() > unknown[~malignant].mean()


def test_card_section_reports_the_rule_and_its_matching_calibration_run(tmp_path):
    from txformers.cards.cellformer import _abstain_section

    rule = {"min_panel_coverage": 0.02, "min_probability": 0.3, "max_distance": 0.12, "calibration": "tuned"}
    assert _abstain_section({}, tmp_path / "none.json") is None
    run = {
        "rule": rule,
        "unseen_type": {"unknown": 3, "cells": 4, "unknown_rate": 0.75, "unknown_rate_ci": [0.5, 1.0]},
        "known_types_held_out": {
            "accuracy_drop_points": 1.0,
            "accuracy_drop_points_ci": [0.5, 1.5],
            "accuracy": 0.4,
            "accuracy_with_abstain": 0.39,
        },
        "leave_one_type_out": {"melanoma": {"unknown_rate": 0.25}},
    }
    (tmp_path / "abstain.json").write_text(json.dumps(run))
    section = _abstain_section({"abstain": rule}, tmp_path / "abstain.json")
    assert section["measured"]["unseen"] == "3 of 4 (75%, 95% CI 50-100%)"
    assert section["measured"]["loto"] == "melanoma 25%"
    # a results file of another rule is not quoted
    other = _abstain_section({"abstain": {**rule, "max_distance": 0.5}}, tmp_path / "abstain.json")
    assert other["rule"]["max_distance"] == 0.5 and other["measured"] is None
