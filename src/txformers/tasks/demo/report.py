# Copyright 2026 The txformers authors. BSD-3-Clause.
"""What every section of the demo shares: the sections and what they read, the :class:`Demo` being written,
the input checks, Markdown helpers and the writing of ``report.md`` and ``summary.json``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...io import UserError

SECTIONS = ("splice-sites", "variants", "drug", "cytokine")
TITLES = {
    "splice-sites": "Splice sites along synthetic minigenes",
    "variants": "Zero-shot splice variant effects",
    "drug": "Single-cell drug response (PLX4720)",
    "cytokine": "Cancer type and cytokine patterns of tumour immune cells",
}
NEEDS = {  # section: (checkpoint folders, results files, example files)
    "splice-sites": (["splicebert-small-splice-sites"], ["splicebert/splice_sites.json"], ["minigenes.fa"]),
    "variants": (
        ["splicebert-small-pretrained"],
        ["splicebert/splicebert-small-pretrained_eval.json"],
        ["minigene_variants.tsv"],
    ),
    "drug": (
        ["metascdrug-meta", "metascdrug-nometa"],
        ["metascdrug/single_cell_fewshot.json"],
        ["drug_cells.h5ad", "drug_smiles.csv"],
    ),
    "cytokine": (
        ["cellformer-cancer-type", "cellformer-pretrained"],
        [
            "cellformer/cancer_type.json",
            "cellformer/pretrain.json",
            "cellformer/patterns/cytokine_patterns.tsv",
            "cellformer/patterns/cytokine_patterns.json",
        ],
        ["immune_cells.h5ad"],
    ),
}
HOW_TO_MAKE = {
    "splicebert-small-splice-sites": "python -m txformers.training.finetune_splice --pretrained "
    "checkpoints/splicebert-small-pretrained ... writes it in OUTPUT/model",
}
SYNTHETIC = "synthetic cells: a demonstration of the pipeline, not an evaluation"


@dataclass
class Demo:
    """Where the inputs are, where the report is being written, and what it holds so far."""

    checkpoints: Path
    results: Path
    examples: Path
    work: Path
    device: str
    markdown: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)

    def checkpoint(self, name: str) -> Path:
        return self.checkpoints / name

    def saved(self, relative: str) -> Any:
        """A results JSON, read as is."""
        path = self.results / relative
        try:
            return json.loads(path.read_text())
        except ValueError as error:
            raise UserError(f"{path} is not valid JSON ({error})") from None

    def path(self, relative: str) -> Path:
        """A new file of the report (``figures/x.png``, ``x.tsv``); recorded for the summary."""
        target = self.work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(relative)
        return target

    def add(self, *lines: str) -> None:
        self.markdown.extend(lines)

    def figure(self, relative: str, caption: str) -> None:
        self.add(f"![{caption}]({relative})", "", f"*{caption}*", "")


def check_inputs(
    checkpoints: str | Path, results: str | Path, examples: str | Path, sections: list[str]
) -> tuple[Path, Path, Path]:
    """The three input folders, after checking that every file the chosen sections read is there."""
    folders = {}
    for option, value in (("--checkpoints", checkpoints), ("--results", results), ("--examples", examples)):
        folder = Path(value)
        if not folder.is_dir():
            raise UserError(f"{option} {folder} is not a folder")
        folders[option] = folder
    checkpoints, results, examples = folders.values()
    missing = []
    for section in sections:
        models, saved, inputs = NEEDS[section]
        for name in models:
            if not (checkpoints / name / "config.json").is_file():
                hint = f" ({HOW_TO_MAKE[name]})" if name in HOW_TO_MAKE else ""
                missing.append(f"checkpoint {checkpoints / name} (section {section}){hint}")
        missing += [
            f"results file {results / name} (section {section})" for name in saved if not (results / name).is_file()
        ]
        missing += [
            f"example {examples / name} (section {section}; python examples/make_examples.py writes it)"
            for name in inputs
            if not (examples / name).is_file()
        ]
    if missing:
        raise UserError(
            "the demo needs " + "; ".join(missing) + ". Point --checkpoints/--results/--examples at other folders, "
            "or run only some sections with --sections"
        )
    return checkpoints, results, examples


def write_report(demo: Demo, sections: list[str], command: str, seconds: float) -> None:
    intro = [
        "# txformers demo",
        "",
        f"Made by `{command}` in {seconds:.0f} s on {demo.device}. Each section runs bundled checkpoints through the "
        "library's own pipelines on small example inputs shipped in `examples/`.",
        "",
        "**Which numbers are which.** The examples are *synthetic*, made by `python examples/make_examples.py` "
        "(minigenes with designed splice signals, designed SNVs, generated cells with real gene symbols; see "
        "`examples/README.md`). What the models do on them shows that the pipelines run end to end and what "
        "their outputs look like; it is a demonstration, not an evaluation. The evaluations are the *saved "
        "results*: measured on real data by the commands quoted with each table, copied here from the results "
        "files unchanged (`summary.json` holds them at full precision).",
        "",
        "| section | what runs here | saved results shown |",
        "|---|---|---|",
    ]
    rows = {
        "splice-sites": (
            "splice-site probabilities along synthetic minigenes, designed sites marked",
            "test AUROC/AP/accuracy/F1 of the splice-site classifiers",
        ),
        "variants": (
            "zero-shot KL-context of designed SNVs of one minigene",
            "masked-LM accuracy of the pretrained SpliceBERT",
        ),
        "drug": (
            "PLX4720 response of synthetic cells (both checkpoints), critical genes",
            "few-shot AUROC/accuracy on 3 real single-cell datasets",
        ),
        "cytokine": (
            "cancer-type calls of synthetic immune cells and samples, pretrained embeddings",
            "cytokine patterns and cancer-type metrics of real tumour immune cells",
        ),
    }
    for number, section in enumerate(sections, 1):
        intro.append(f"| {number}. {TITLES[section]} | {rows[section][0]} | {rows[section][1]} |")
    intro.append("")
    demo.work.joinpath("report.md").write_text("\n".join(intro + demo.markdown).rstrip() + "\n")
    summary = {
        "command": command,
        "seconds": seconds,
        "device": demo.device,
        "inputs": {"checkpoints": str(demo.checkpoints), "results": str(demo.results), "examples": str(demo.examples)},
        "sections": demo.summary,
        "files": sorted(demo.written),
    }
    demo.work.joinpath("summary.json").write_text(json.dumps(clean(summary), indent=1, allow_nan=False) + "\n")


def clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars as Python numbers, NaN/inf as None."""
    if isinstance(value, dict):
        return {str(key): clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def markdown_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table; floats with 3 decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "n/a" if math.isnan(value) else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines + [""]


def command_of(saved: dict[str, Any], fallback: str) -> str:
    command = saved.get("command") if isinstance(saved, dict) else None
    return str(command).strip() if command else fallback


def code_block(text: str) -> list[str]:
    return ["```", text, "```", ""]
