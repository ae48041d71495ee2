# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Calibrated abstention for the cancer-type classifier: when to answer ``unknown``.

The rule (applied by the portable :class:`~txformers.models.cellformer.pipeline_cellformer.CancerTypePipeline`
from the ``abstain`` entry of the checkpoint's config) flags a cell whose fraction of panel genes detected,
top class probability or distance to the training cells is out of range. The thresholds are tuned here on
*held-out* training folds (patient-grouped): the distance limit is a high quantile of held-out cells'
distances, the coverage limit a low quantile of their coverage, and the probability limit the largest one
whose combined rule costs the held-out accuracy at most ``budget``. Nothing of the unseen-type test cells is
used. :mod:`txformers.training.cancer_type_abstain` runs it on the real data and writes the rule into a
checkpoint.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...models.cellformer.pipeline_cellformer import abstain_flags, cell_distance


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


def distance_reference(embeddings: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Centroids of the training cells' classes after standardising, and their median distance (the unit)."""
    mean = embeddings.mean(0)
    scale = embeddings.std(0) + 1e-6
    z = (embeddings - mean) / scale
    centroids = np.stack([z[y == label].mean(0) for label in np.unique(y)])
    reference = {"mean": mean.tolist(), "scale": scale.tolist(), "centroids": centroids.tolist(), "distance_unit": 1.0}
    reference["distance_unit"] = float(np.median(cell_distance(embeddings, reference)))
    return reference


def choose_thresholds(
    probability: np.ndarray,
    coverage: np.ndarray,
    distance: np.ndarray,
    correct: np.ndarray,
    budget: float = 0.015,
    distance_quantile: float = 0.95,
    coverage_quantile: float = 0.01,
) -> dict[str, float]:
    """Thresholds from held-out known-type cells: the distance and coverage limits are quantiles, the
    probability limit the largest (on a grid) that costs at most ``budget`` of accuracy (abstentions count as
    errors)."""
    max_distance = float(np.quantile(distance, distance_quantile))
    min_coverage = float(np.quantile(coverage, coverage_quantile))
    base = (coverage < min_coverage) | (distance > max_distance)
    accuracy = correct.mean()
    best = 0.0
    for limit in np.round(np.arange(0.0, 1.0001, 0.01), 2):
        kept = ~(base | (probability < limit))
        if accuracy - (correct & kept).mean() <= budget + 1e-12:
            best = float(limit)
    return {"min_panel_coverage": min_coverage, "min_probability": best, "max_distance": max_distance}


def abstain_summary(
    probabilities: np.ndarray, coverage: np.ndarray, embeddings: np.ndarray, rule: dict[str, Any], y: np.ndarray | None
) -> dict[str, Any]:
    """Abstention rate, reasons and (with labels ``y``) accuracy with and without the rule."""
    unknown, reasons = abstain_flags(probabilities, coverage, embeddings, rule)
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


__all__ = ["abstain_summary", "bootstrap", "cell_features", "choose_thresholds", "distance_reference"]
