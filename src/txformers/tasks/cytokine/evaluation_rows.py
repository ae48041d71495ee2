# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Rows of an evaluation (``{"model", "metric", "value", "ci95", "n"}``) and their bootstrap intervals, shared by
the cancer-type (:mod:`.evaluation_cancer_type`) and cell-embedding (:mod:`.evaluation_embeddings`) evaluations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

N_BOOT = 1000


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan")


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-F1 over the classes present in ``y_true`` (a class never seen is not averaged in); as scikit-learn's
    ``f1_score(labels=present, average="macro", zero_division=0)``, in numpy (the bootstrap calls it often)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = np.unique(y_true)
    if not len(present):
        return float("nan")
    true_pos = (y_true[:, None] == present) & (y_pred[:, None] == present)
    tp = true_pos.sum(0)
    support = (y_true[:, None] == present).sum(0)
    predicted = (y_pred[:, None] == present).sum(0)
    f1 = np.where(support + predicted > 0, 2 * tp / np.maximum(support + predicted, 1), 0.0)
    return float(f1.mean())


def group_bootstrap(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> list[float]:
    """95 % percentile interval of ``metric`` by resampling whole groups (patients) with replacement; without
    ``groups`` every item is its own group. Items of one patient are not independent, so they move together."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    groups = np.arange(len(y_true)) if groups is None else np.asarray(groups)
    rng = np.random.default_rng(seed)
    _, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)] if len(inverse) else []
    if not members:
        return [float("nan"), float("nan")]
    values = []
    for _ in range(n_boot):
        index = np.concatenate([members[g] for g in rng.integers(0, len(members), size=len(members))])
        values.append(metric(y_true[index], y_pred[index]))
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def row(model: str, metric: str, value: float, ci95: list[float] | None, n: int) -> dict[str, Any]:
    """One result row; values rounded to 4 decimals (what the cards print and ``--check`` compares). A
    deterministic fact (a count, an in-sample score) has no sampling interval: ``ci95`` is then ``[value, value]``."""
    ci = [value, value] if ci95 is None else ci95
    return {
        "model": model,
        "metric": metric,
        "value": round(float(value), 4),
        "ci95": [round(float(ci[0]), 4), round(float(ci[1]), 4)],
        "n": int(n),
    }


def scored_rows(
    model: str,
    prefix: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray | None,
    metrics: tuple[str, ...] = ("accuracy", "macro_f1"),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """``<prefix>.accuracy`` / ``<prefix>.macro_f1`` rows with group-bootstrap intervals."""
    functions = {"accuracy": accuracy, "macro_f1": macro_f1}
    return [
        row(
            model,
            f"{prefix}.{name}",
            functions[name](y_true, y_pred),
            group_bootstrap(functions[name], y_true, y_pred, groups, seed=seed),
            len(y_true),
        )
        for name in metrics
    ]


def difference_rows(
    prefix: str,
    predictions: dict[str, np.ndarray],
    y_true: np.ndarray,
    pairs: list[tuple[str, str]],
    groups: np.ndarray | None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """``<prefix>.accuracy_minus_<peer>`` rows (model = the first of each pair): the accuracy difference on the
    same items, its interval from a *paired* group bootstrap (both models scored on each resample), which is
    narrower and fairer than comparing two separate intervals."""
    rows = []
    for model, peer in pairs:
        if model not in predictions or peer not in predictions:
            continue
        both = np.stack([predictions[model], predictions[peer]], axis=1)

        def difference(t: np.ndarray, p: np.ndarray) -> float:
            return accuracy(t, p[:, 0]) - accuracy(t, p[:, 1])

        value = difference(np.asarray(y_true), both)
        ci = group_bootstrap(difference, y_true, both, groups, seed=seed)
        rows.append(row(model, f"{prefix}.accuracy_minus_{peer}", value, ci, len(y_true)))
    return rows


def difference_verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """One line per ``accuracy_minus_`` row: above / below / level (the paired 95 % CI holds 0)."""
    lines = []
    for item in rows:
        if "accuracy_minus_" not in item["metric"]:
            continue
        prefix, peer = item["metric"].split(".accuracy_minus_")
        lo, hi = item["ci95"]
        word = "above" if lo > 0 else "below" if hi < 0 else "level with (the paired 95% CI holds 0)"
        lines.append(
            f"{prefix}: {item['model']} is {word} {peer}: accuracy difference {item['value']:+.3f} "
            f"[{lo:+.3f}, {hi:+.3f}]"
        )
    return lines


def rows_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of rows (metric, model, value [95 % CI], n)."""
    lines = ["| metric | model | value [95% CI] | n |", "|---|---|---|---|"]
    for item in rows:
        lo, hi = item["ci95"]
        lines.append(f"| {item['metric']} | {item['model']} | {item['value']:.3f} [{lo:.3f}, {hi:.3f}] | {item['n']} |")
    return "\n".join(lines)


__all__ = [
    "N_BOOT",
    "accuracy",
    "difference_rows",
    "difference_verdicts",
    "group_bootstrap",
    "macro_f1",
    "row",
    "rows_table",
    "scored_rows",
]
