# Copyright 2026 The txformers authors. BSD-3-Clause.
"""A generic "Evaluation (`txformers evaluate NAME`)" card section, rendered from ``CHECKPOINT/evaluation.json``.

:func:`evaluation_markdown` turns the recorded full evaluation (see :mod:`txformers.evaluation`) into markdown: one
table row per recorded row (model, metric, value [95 % CI], n, and the row's setting), the data, split and seeds
it names, its notes and verdicts, and the commands that reproduce (``txformers evaluate``) and check it
(``--check``). Every number comes from the recorded rows; nothing is re-run.

Cards rendered from a Jinja template include it as a value; READMEs written by a training script carry it in a
marked block (:data:`BEGIN` ... :data:`END`) that :func:`replace_block` replaces (or appends) idempotently.
"""

from __future__ import annotations

from pathlib import Path

from .paths import portable_text

BEGIN = "<!-- txformers-evaluate -->"
END = "<!-- /txformers-evaluate -->"
IDENTITY = ("model", "metric", "value", "ci95", "n")


def _number(value: float) -> str:
    return f"{value:.4f}"


def _setting(row: dict) -> str:
    """The row's identity beyond model and metric (``setting``, ``method``, ``data``, ...), joined."""
    extras = [f"{row[key]}" if key == "setting" else f"{key}: {row[key]}" for key in row if key not in IDENTITY]
    return "; ".join(extras) or "-"


def evaluation_table(rows: list[dict], name: str) -> str:
    """Markdown table of ``rows``: the checkpoint's own rows (model ``name``) in bold."""
    lines = ["| setting | model | metric | value [95 % CI] | n |", "|---|---|---|---|---|"]
    for row in rows:
        low, high = row["ci95"]
        model = f"**`{row['model']}`**" if row["model"] == name else f"`{row['model']}`"
        value = f"{_number(row['value'])} [{_number(low)}, {_number(high)}]"
        lines.append(f"| {_setting(row)} | {model} | {row['metric']} | {value} | {row['n']} |")
    return "\n".join(lines)


def evaluation_markdown(record: dict | None, name: str, heading: str = "##") -> str:
    """The section (starting with its ``heading``) from a recorded full evaluation; "" without one."""
    if not record:
        return ""
    seeds = ", ".join(str(seed) for seed in record.get("seeds", [])) or "-"
    command = record.get("command") or f"txformers evaluate checkpoints/{name}"
    parts = [
        f"{heading} Evaluation (`txformers evaluate {name}`)",
        f"Recorded in `checkpoints/{name}/evaluation.json` (full mode)"
        + (
            "; bold rows are this checkpoint, the other rows the baselines of the same run."
            if any(row["model"] == name for row in record["rows"])
            else "; every model of the same run, with its baselines."
        ),
        evaluation_table(record["rows"], name),
        f"* data: `{portable_text(str(record.get('data', '-')))}`\n* split: {record.get('split', '-')}\n"
        f"* seeds: {seeds}"
        + "".join(f"\n* {note}" for note in [*record.get("notes", []), *record.get("verdicts", [])]),
    ]
    parts.append(
        "Reproduce it, or check that these numbers still hold (fails when a recorded value leaves the re-derived "
        f"95 % CI):\n\n```bash\n{command}\n{command} --check\n```"
    )
    return "\n\n".join(parts)


def replace_block(text: str, section: str) -> str:
    """``text`` with its marked evaluation block set to ``section`` (appended at the end if absent).

    Idempotent: ``replace_block(replace_block(t, s), s) == replace_block(t, s)``.
    """
    block = f"{BEGIN}\n{section.strip()}\n{END}"
    start = text.find(BEGIN)
    if start >= 0:
        end = text.find(END, start)
        if end < 0:
            raise ValueError(f"{BEGIN} without {END}")
        return text[:start] + block + text[end + len(END) :]
    return f"{text.rstrip()}\n\n{block}\n"


def recorded_section(checkpoint: Path | None, name: str, heading: str = "##") -> str:
    """:func:`evaluation_markdown` of ``checkpoint/evaluation.json`` (full mode); "" when none is recorded."""
    if checkpoint is None:
        return ""
    from ..evaluation import read_record

    return evaluation_markdown(read_record(checkpoint, "full"), name, heading)


__all__ = ["BEGIN", "END", "evaluation_markdown", "evaluation_table", "recorded_section", "replace_block"]
