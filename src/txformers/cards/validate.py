# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Check a model card the way the Hugging Face Hub does (metadata, model-index), plus measured results."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results


class CardError(ValueError):
    """A model card that the Hub would reject, or that carries no measured results."""


def validate_card(card: ModelCard | str | Path, *, require_results: bool = True) -> ModelCard:
    """Parse a model card the way the Hub does and check it; returns the parsed :class:`ModelCard`.

    Checks: a YAML metadata block that parses; a ``license`` and a ``library_name``; the metadata
    round-trips through ``ModelCardData``; the ``model-index`` parses with
    ``huggingface_hub.repocard_data.model_index_to_eval_results`` and every metric value is a finite
    number; with ``require_results``, at least one measured result. Raises :class:`CardError`.

    ```python
    >>> validate_card(Path("model_cards/splicebert-small-pretrained.md")).data.model_name
    'splicebert-small-pretrained'
    ```
    """
    if isinstance(card, Path):
        if not card.is_file():
            raise CardError(f"no model card at {card}")
        text = card.read_text(encoding="utf-8")
    else:
        text = str(card)
    if not text.lstrip().startswith("---"):
        raise CardError("the card has no YAML metadata block (it must start with '---')")
    try:
        parsed = ModelCard(text, ignore_metadata_errors=False)
    except Exception as error:  # yaml and huggingface_hub raise several types
        raise CardError(f"the card's metadata does not parse: {error}") from None
    metadata = parsed.data.to_dict()
    if not metadata:
        raise CardError("the card's YAML metadata block is empty")
    for key in ("license", "library_name"):
        if not metadata.get(key):
            raise CardError(f"the card's metadata has no {key!r}")
    try:
        again = ModelCardData(**metadata).to_dict()
    except Exception as error:
        raise CardError(f"the card's metadata does not load into ModelCardData: {error}") from None
    if again != metadata:
        raise CardError("the card's metadata changes when loaded into ModelCardData and written back")
    model_index = metadata.get("model-index")
    if not model_index:
        if require_results:
            raise CardError("the card has no model-index (measured results); render it with `txformers card`")
        return parsed
    try:
        _, results = model_index_to_eval_results(model_index)
    except Exception as error:
        raise CardError(f"the card's model-index does not parse: {error!r}") from None
    if require_results and not results:
        raise CardError("the card's model-index holds no results")
    for result in results:
        value = result.metric_value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CardError(
                f"model-index metric {result.metric_type!r} of {result.dataset_name!r} is not a number: {value!r}"
            )
    return parsed


def eval_values(card: ModelCard) -> list[dict[str, Any]]:
    """The card's model-index results as flat dicts (task, dataset, config, split, metric, name, value)."""
    return [
        {
            "task": r.task_type,
            "dataset": r.dataset_name,
            "dataset_type": r.dataset_type,
            "config": r.dataset_config,
            "split": r.dataset_split,
            "metric": r.metric_type,
            "name": r.metric_name,
            "value": r.metric_value,
        }
        for r in card.data.eval_results or []
    ]
