# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Read what a card is rendered from: the results file of a run and the checkpoint folder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


class ResultsError(ValueError):
    """A results file is missing, unreadable, or lacks what the card of its kind needs."""


def load_results(path: str | Path) -> dict:
    """Read a results JSON (a clear :class:`ResultsError` when missing or not JSON)."""
    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"results file {path} does not exist")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsError(f"{path} is not a JSON file: {error}") from None
    if not isinstance(results, dict):
        raise ResultsError(f"{path} holds a JSON {type(results).__name__}, not an object of results")
    return results


def get(results: dict, *keys: str | int, where: str = "the results file") -> Any:
    """``results[key0][key1]...``, or a :class:`ResultsError` naming the missing key path."""
    value: Any = results
    for index, key in enumerate(keys):
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            path = ".".join(map(str, keys[: index + 1]))
            raise ResultsError(f"{where} has no {path!r}") from None
    return value


def number(value: Any, where: str) -> float:
    """``value`` as a float, or a :class:`ResultsError` when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultsError(f"{where} is not a finite number: {value!r}")
    return float(value)


def read_json(path: Path) -> dict | None:
    """The JSON file at ``path``, or None when there is none."""
    return json.loads(path.read_text()) if path.is_file() else None


def checkpoint_config(checkpoint: Path | None) -> dict:
    """The ``config.json`` of the checkpoint folder (empty without one)."""
    if checkpoint is None or not (checkpoint / "config.json").is_file():
        return {}
    return json.loads((checkpoint / "config.json").read_text())


def checkpoint_weights(checkpoint: Path | None) -> tuple[int, int] | None:
    """(stored values, bytes) of ``model.safetensors``, read from its header only."""
    file = checkpoint / "model.safetensors" if checkpoint else None
    if file is None or not file.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(file), "np") as weights:
        count = sum(math.prod(weights.get_slice(key).get_shape()) for key in weights.keys())
    return count, file.stat().st_size
