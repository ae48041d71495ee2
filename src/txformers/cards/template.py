# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Render a card: ``ModelCardData`` (metadata and model-index) plus the Jinja template of its kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .results import number
from .validate import CardError

TEMPLATES = Path(__file__).parent / "templates"
"""One Jinja template per card kind: ``templates/KIND.md.jinja``."""


def metric(
    task: str,
    task_name: str,
    dataset_type: str,
    dataset_name: str,
    metric: str,
    name: str,
    value: Any,
    *,
    config: str | None = None,
    split: str | None = None,
) -> EvalResult:
    """A model-index entry; values rounded to 4 decimals (what the card's tables show, or finer)."""
    return EvalResult(
        task_type=task,
        task_name=task_name,
        dataset_type=dataset_type,
        dataset_name=dataset_name,
        dataset_config=config,
        dataset_split=split,
        metric_type=metric,
        metric_name=name,
        metric_value=round(number(value, f"{dataset_name} {name}"), 4),
    )


def _result_key(result: EvalResult) -> tuple:
    return (
        result.task_type,
        result.dataset_name,
        result.dataset_config,
        result.dataset_split,
        result.metric_type,
        result.metric_name,
        result.metric_value,
    )


def render_template(kind: str, card_data: ModelCardData, **values: Any) -> ModelCard:
    """The card of ``kind``: ``templates/KIND.md.jinja`` rendered by ``ModelCard.from_template`` with ``values``.

    The body is normalised to one blank line after the metadata and one newline at the end (Jinja drops the
    template's last newline).
    """
    card = ModelCard.from_template(card_data, template_path=str(TEMPLATES / f"{kind}.md.jinja"), **values)
    card.text = f"\n{card.text.strip()}\n"
    # The model-index groups results by task / dataset type / config / split (not by dataset name):
    # check that every result comes back as it went in.
    if sorted(map(_result_key, card.data.eval_results or []), key=str) != sorted(
        map(_result_key, card_data.eval_results or []), key=str
    ):
        raise CardError(
            "results of different datasets share task, dataset type, config and split: the model-index merges them"
        )
    return card
