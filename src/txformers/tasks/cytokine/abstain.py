# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Calibrated abstention for the cancer-type classifier: when to answer ``unknown``.

The rule (applied by the portable :class:`~txformers.models.cellformer.pipeline_cellformer.CancerTypePipeline`
from the ``abstain`` entry of the checkpoint's config) flags a cell whose fraction of panel genes detected,
top class probability or distance to the training cells is out of range. The distance is
:func:`~txformers.models.cellformer.pipeline_cellformer.detection_surprise`: how unlikely the cell's pattern of
detected genes (over thousands of genes, not only the panel) is under each training class's per-gene detection
rates (:func:`detection_log_rates`, shipped as a small file next to the config). The thresholds are tuned here
on *held-out* training folds (patient-grouped, each known type on both sides): the coverage limit is a low
quantile of held-out cells' coverage, the distance limit the lowest quantile of their distances whose rule
costs the held-out accuracy at most ``budget``, and the probability limit the largest within that budget.
Nothing of the unseen-type test cells is used. :mod:`txformers.training.cancer_type_abstain` runs it on the real
data and writes the rule into a checkpoint.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...models.cellformer.pipeline_cellformer import abstain_flags, detection_surprise


@torch.no_grad()
def cell_features(model: Any, inputs: dict[str, torch.Tensor], batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(class probabilities, pooled cell states)`` of every cell, as the pipeline computes them."""
    model.eval()
    probabilities, pooled = [], []
    for start in range(0, len(inputs["input_ids"]), batch_size):
        part = {key: value[start : start + batch_size] for key, value in inputs.items()}
        state = model.cellformer(**part).pooler_output
        probabilities.append(model.classifier(state).float().softmax(-1).numpy())
        pooled.append(state.float().numpy())
    return np.concatenate(probabilities).astype(np.float64), np.concatenate(pooled).astype(np.float64)


def detection_log_rates(detected: np.ndarray, y: np.ndarray, n_classes: int, alpha: float = 0.5) -> np.ndarray:
    """log of each gene's detection rate (> 0) among each class's cells (classes x genes), smoothed with
    ``alpha`` pseudo-cells detected and ``alpha`` not; the reference of
    :func:`~txformers.models.cellformer.pipeline_cellformer.detection_surprise`."""
    hit = np.asarray(detected) > 0
    rates = [(hit[y == c].sum(0) + alpha) / ((y == c).sum() + 2 * alpha) for c in range(n_classes)]
    return np.log(np.stack(rates))


def held_out_surprise(
    detected: np.ndarray, y: np.ndarray, n_classes: int, folds: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """:func:`detection_surprise` of each fold's held-out cells against the detection rates of that fold's
    training cells (NaN for cells in no held-out fold). A class absent from a fold's training cells is left
    out of its reference (a flat 0.5 rate would make it look near to everything)."""
    out = np.full(len(y), np.nan)
    for train, test in folds:
        classes = [c for c in range(n_classes) if (y[train] == c).any()]
        log_p = detection_log_rates(detected[train], y[train], n_classes)[classes]
        out[test] = detection_surprise(log_p, detected[test])
    return out


def choose_thresholds(
    probability: np.ndarray,
    coverage: np.ndarray,
    distance: np.ndarray,
    correct: np.ndarray,
    budget: float = 0.015,
    coverage_quantile: float = 0.01,
    distance_quantiles: tuple[float, ...] = tuple(np.round(np.arange(0.80, 0.9951, 0.005), 3)),
) -> dict[str, float]:
    """Thresholds from held-out known-type cells (abstentions count as errors): the coverage limit is a low
    quantile of their coverage (0 if that alone is over ``budget``); the distance limit the lowest quantile of
    their distances (on a grid, most abstention) whose rule costs at most ``budget`` of held-out accuracy (their
    largest distance, flagging none, if no quantile does); then the probability limit the largest (on a grid)
    that keeps the cost within ``budget``."""
    min_coverage = float(np.quantile(coverage, coverage_quantile))
    accuracy = correct.mean()

    def cost(flags: np.ndarray) -> float:
        return float(accuracy - (correct & ~flags).mean())

    low_coverage = coverage < min_coverage
    if cost(low_coverage) > budget + 1e-12:  # the coverage check alone is over budget: leave it out
        min_coverage, low_coverage = 0.0, np.zeros(len(coverage), dtype=bool)
    quantile = 1.0  # the largest distance: flags nothing, when no quantile on the grid fits the budget
    for q in sorted(distance_quantiles):
        if cost(low_coverage | (distance > np.quantile(distance, q))) <= budget + 1e-12:
            quantile = float(q)
            break
    max_distance = float(np.quantile(distance, quantile))
    base = low_coverage | (distance > max_distance)
    best = 0.0
    for limit in np.round(np.arange(0.0, 1.0001, 0.01), 2):
        if cost(base | (probability < limit)) <= budget + 1e-12:
            best = float(limit)
    return {
        "min_panel_coverage": min_coverage,
        "min_probability": best,
        "max_distance": max_distance,
        "distance_quantile": quantile,
    }


def abstain_summary(
    probabilities: np.ndarray,
    coverage: np.ndarray,
    distance: np.ndarray,
    rule: dict[str, Any],
    y: np.ndarray | None,
) -> dict[str, Any]:
    """Abstention rate, reasons and (with labels ``y``) accuracy with and without the rule."""
    unknown, reasons = abstain_flags(probabilities, coverage, None, rule, distance)
    result: dict[str, Any] = {
        "cells": int(len(unknown)),
        "unknown": int(unknown.sum()),
        "unknown_rate": float(unknown.mean()) if len(unknown) else 0.0,
        "reasons": {
            name: int(sum(name in why for why in reasons)) for name in ("panel_coverage", "probability", "distance")
        },
    }
    if y is not None:
        correct = probabilities.argmax(1) == y
        result["accuracy"] = float(correct.mean())
        result["accuracy_with_abstain"] = float((correct & ~unknown).mean())
        result["accuracy_of_answered"] = float(correct[~unknown].mean()) if (~unknown).any() else None
    return result


def bootstrap(values: np.ndarray, seed: int = 0, n: int = 1000) -> list[float]:
    """95 % bootstrap interval of the mean of ``values`` (resampled cells)."""
    rng = np.random.default_rng(seed)
    means = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(n)]
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


__all__ = [
    "abstain_summary",
    "bootstrap",
    "cell_features",
    "choose_thresholds",
    "detection_log_rates",
    "held_out_surprise",
]
