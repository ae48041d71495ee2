# Copyright 2026 The txformers authors. BSD-3-Clause.
"""The results of ``txformers evaluate``: one schema for every model family, bootstrap CIs, the check.

A results dict::

    {"checkpoint": "checkpoints/metascdrug-meta", "data": "../shared/data/drug", "split": "...",
     "seeds": [0, 1, ...], "command": "txformers evaluate ...",
     "rows": [{"model": "lightgbm", "metric": "accuracy", "value": 0.91, "ci95": [0.88, 0.93], "n": 30,
               "setting": "k=3", "data": "mean of 3"}, ...]}

A row's identity (:func:`row_key`) is every field except ``value``, ``ci95`` and ``n`` (so ``model``, ``metric``
and whatever setting a family adds: ``setting``, ``data``, ...). Extra top-level keys (``comparisons``,
``notes``, ``seconds``) are allowed.

Each bundled checkpoint records its evaluation in ``<checkpoint>/evaluation.json`` (:data:`RECORD_FILE`):
``{"full": results, "quick": results}`` (one entry per mode). ``txformers evaluate CHECKPOINT --check``
re-runs the evaluation and :func:`check` fails when a recorded number lies outside the re-derived CI.

Example:

```python
>>> rows = [make_row("m", "accuracy", [0.8, 0.9, 1.0], n_resamples=200)]
>>> results = make_results("ckpt", "data", "test", [0, 1, 2], "cmd", rows)
>>> check(results, results)
[]
>>> other = make_results("ckpt", "data", "test", [0, 1, 2], "cmd", [{**rows[0], "value": 0.5}])
>>> check(other, results)[0].startswith("m accuracy: recorded 0.5")
True

```
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .io import atomic_write_text

RECORD_FILE = "evaluation.json"
MODES = ("full", "quick")
ROW_FIELDS = ("model", "metric", "value", "ci95", "n")
RESULT_FIELDS = ("checkpoint", "data", "split", "seeds", "command", "rows")
NUMBER_FIELDS = ("value", "ci95", "n")
# a recorded value this close to a CI bound counts as inside (float noise of a re-run on another machine)
TOLERANCE = 1e-6


class ResultsError(ValueError):
    """A results dict or file that does not follow the schema."""


# ---------------------------------------------------------------------------------------------- statistics
def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> list[float]:
    """Percentile bootstrap interval of ``statistic`` (default: the mean, NaNs ignored) of ``values``.

    ``values`` is 1-D (one value per unit: seed, drug, sample) or 2-D (units x parts, e.g. seeds x datasets):
    units (rows) are resampled with replacement, so parts measured on the same unit stay paired. One unit gives
    ``[v, v]``; no finite value gives ``[nan, nan]``.
    """
    array = np.asarray(values, dtype=float)
    if array.ndim not in (1, 2):
        raise ValueError(f"values must be 1-D or 2-D, got shape {array.shape}")
    if array.size == 0 or not np.isfinite(array).any():
        return [float("nan"), float("nan")]
    if len(array) == 1:
        value = float(statistic(array)) if statistic else float(np.nanmean(array))
        return [value, value]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(array), size=(n_resamples, len(array)))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample of NaNs only
        if statistic is None:  # the mean, vectorised over resamples
            samples = array[draws].reshape(n_resamples, -1)
            stats = np.nanmean(samples, axis=1)
        else:
            stats = np.array([statistic(array[index]) for index in draws], dtype=float)
    stats = stats[np.isfinite(stats)]
    alpha = (1 - level) / 2
    return [float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))]


def make_row(
    model: str,
    metric: str,
    values: Sequence[float] | np.ndarray,
    n_resamples: int = 2000,
    seed: int = 0,
    **keys: Any,
) -> dict[str, Any]:
    """A row: the mean of ``values`` (1-D per unit, or 2-D units x parts as in :func:`bootstrap_ci`), its
    bootstrap 95 % CI, ``n`` (the units), and the identifying ``keys`` (``setting="k=3"``, ...)."""
    array = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        value = float(np.nanmean(array)) if array.size and np.isfinite(array).any() else float("nan")
    return {
        "model": model,
        "metric": metric,
        "value": value,
        "ci95": bootstrap_ci(array, n_resamples=n_resamples, seed=seed),
        "n": int(len(array)),
        **keys,
    }


def paired_difference(
    values: Sequence[float] | np.ndarray, peer: Sequence[float] | np.ndarray, n_resamples: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Mean of ``values - peer`` (paired units: the same seeds and shots) with its bootstrap 95 % CI and a word:
    ``above`` (CI above 0), ``below`` (CI below 0), else ``level`` (the CI holds 0)."""
    difference = np.asarray(values, dtype=float) - np.asarray(peer, dtype=float)
    ci = bootstrap_ci(difference, n_resamples=n_resamples, seed=seed)
    verdict = "above" if ci[0] > 0 else "below" if ci[1] < 0 else "level"
    return {"difference": float(np.nanmean(difference)), "ci95": ci, "verdict": verdict}


# ---------------------------------------------------------------------------------------------- schema
def row_key(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """What identifies a row: every field but ``value``, ``ci95`` and ``n`` (sorted, as text)."""
    return tuple(sorted((key, str(value)) for key, value in row.items() if key not in NUMBER_FIELDS))


def describe(row: dict[str, Any]) -> str:
    """A row's identity as words: ``model metric`` then any other identifying fields (``k=3``, ``data=...``)."""
    extra = [f"{key}={value}" for key, value in row.items() if key not in ROW_FIELDS]
    return " ".join([str(row.get("model")), str(row.get("metric")), *extra])


def validate_results(results: Any, where: str = "results") -> dict[str, Any]:
    """``results`` if it follows the schema (see the module docstring), else :class:`ResultsError` naming the
    first problem."""
    if not isinstance(results, dict):
        raise ResultsError(f"{where}: not a JSON object")
    missing = [key for key in RESULT_FIELDS if key not in results]
    if missing:
        raise ResultsError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(results["rows"], list):
        raise ResultsError(f"{where}: rows must be a list")
    seen = set()
    for index, row in enumerate(results["rows"]):
        if not isinstance(row, dict) or any(key not in row for key in ROW_FIELDS):
            raise ResultsError(f"{where}: row {index} lacks one of {', '.join(ROW_FIELDS)}")
        ci = row["ci95"]
        if not (isinstance(ci, list | tuple) and len(ci) == 2):
            raise ResultsError(f"{where}: row {index} ({describe(row)}): ci95 must be [low, high]")
        key = row_key(row)
        if key in seen:
            raise ResultsError(f"{where}: row {index} ({describe(row)}) appears twice")
        seen.add(key)
    return results


def make_results(
    checkpoint: str | Path,
    data: str | Path | None,
    split: str,
    seeds: Sequence[int],
    command: str | None,
    rows: Iterable[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """A results dict (validated); ``extra`` adds top-level keys (``comparisons``, ``notes``, ...)."""
    results = {
        "checkpoint": str(checkpoint),
        "data": None if data is None else str(data),
        "split": split,
        "seeds": [int(seed) for seed in seeds],
        "command": command,
        "rows": list(rows),
        **extra,
    }
    return validate_results(results)


# ---------------------------------------------------------------------------------------------- check
def check(recorded: dict[str, Any], reproduced: dict[str, Any], tolerance: float = TOLERANCE) -> list[str]:
    """Problems (empty: reproduced): each recorded row whose value lies outside the reproduced row's CI, or which
    the reproduction lacks. A recorded NaN is reproduced by a NaN only."""
    validate_results(recorded, "recorded")
    validate_results(reproduced, "reproduced")
    found = {row_key(row): row for row in reproduced["rows"]}
    problems = []
    for row in recorded["rows"]:
        other = found.get(row_key(row))
        if other is None:
            problems.append(f"{describe(row)}: recorded {row['value']} but not reproduced (no such row)")
            continue
        value, (low, high) = float(row["value"]), (float(x) for x in other["ci95"])
        if np.isnan(value) or np.isnan(low) or np.isnan(high):
            if not (np.isnan(value) and np.isnan(float(other["value"]))):
                problems.append(f"{describe(row)}: recorded {value} vs reproduced {other['value']}")
            continue
        if not (low - tolerance <= value <= high + tolerance):
            problems.append(
                f"{describe(row)}: recorded {value:.4f} outside the reproduced 95% CI [{low:.4f}, {high:.4f}] "
                f"(reproduced value {float(other['value']):.4f})"
            )
    return problems


# ---------------------------------------------------------------------------------------------- files
def write_results(path: str | Path, results: dict[str, Any]) -> Path:
    """Write ``results`` (validated) as JSON, atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(validate_results(results), indent=1) + "\n")
    return path


def read_results(path: str | Path) -> dict[str, Any]:
    """A results JSON file (validated)."""
    try:
        return validate_results(json.loads(Path(path).read_text()), str(path))
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path}: not valid JSON ({error})") from None


def record_path(checkpoint: str | Path) -> Path:
    """``<checkpoint>/evaluation.json``."""
    return Path(checkpoint) / RECORD_FILE


def read_record(checkpoint: str | Path, mode: str = "full") -> dict[str, Any] | None:
    """The recorded results of ``mode`` (``full`` / ``quick``) of a checkpoint, or None when none is recorded."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    path = record_path(checkpoint)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(record, dict) or mode not in record:
        return None
    return validate_results(record[mode], f"{path} [{mode}]")


def write_record(checkpoint: str | Path, results: dict[str, Any], mode: str = "full") -> Path:
    """Record ``results`` as the ``mode`` evaluation of a checkpoint (other modes kept); returns the path."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    path = record_path(checkpoint)
    record = json.loads(path.read_text()) if path.is_file() else {}
    record[mode] = validate_results(results)
    atomic_write_text(path, json.dumps({key: record[key] for key in MODES if key in record}, indent=1) + "\n")
    return path


# ---------------------------------------------------------------------------------------------- printing
def format_table(results: dict[str, Any], rows: Iterable[dict[str, Any]] | None = None) -> list[str]:
    """The rows as text lines, one per (setting, model) with ``metric value [low, high]`` cells."""
    rows = list(results["rows"] if rows is None else rows)
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}  # heading -> model -> rows, in first-seen order
    for row in rows:
        heading = ", ".join(f"{key} {row[key]}" for key in row if key not in ROW_FIELDS)
        groups.setdefault(heading, {}).setdefault(str(row["model"]), []).append(row)
    width = max((len(model) for models in groups.values() for model in models), default=5)
    lines = []
    for heading, models in groups.items():
        if heading:
            lines.append(f"[{heading}]")
        lines += _model_lines(models, width)
    return lines


def _model_lines(models: dict[str, list[dict[str, Any]]], width: int) -> list[str]:
    lines = []
    for model, members in models.items():
        cells = [f"{row['metric']} {row['value']:.3f} [{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}]" for row in members]
        lines.append(f"  {model:<{width}}  " + "  ".join(cells) + f"  (n={members[0]['n']})")
    return lines


__all__ = [
    "MODES",
    "RECORD_FILE",
    "ResultsError",
    "bootstrap_ci",
    "check",
    "describe",
    "format_table",
    "make_results",
    "make_row",
    "paired_difference",
    "read_record",
    "read_results",
    "record_path",
    "row_key",
    "validate_results",
    "write_record",
    "write_results",
]
