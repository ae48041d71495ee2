# Copyright 2026 The txformers authors. BSD-3-Clause.
"""The ``txformers evaluate`` sections of the Cellformer cards, rendered from the evaluation a checkpoint records
(``CHECKPOINT/evaluation.json``, written by ``txformers evaluate CHECKPOINT --record``; see
:mod:`txformers.tasks.cytokine.evaluation`): cell embeddings for ``cellformer-pretrained``, per-sample cancer type
and the study confound for ``cellformer-cancer-type``. Every number comes from the recorded rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .paths import portable_text

nan = float("nan")

EMBEDDING_TASKS = {
    "wu2020_source": "wu2020 T cells: tumour / normal / blood, held-out patients",
    "headneck_cell_type": "head-and-neck: 9 cell types, held-out cells",
    "headneck_to_melanoma": "head-and-neck -> melanoma (another study; CHETAH calls)",
    "pbmc_cell_type": "pbmc68k: 10 cell types, held-out cells",
}
EMBEDDINGS = ("cellformer_pretrained", "cellformer_pretrained_mean", "cellformer_random_init", "hvg_pca", "majority")
CANCER_MODELS = {
    "majority": "majority class",
    "study_only": "study only (label most frequent in the sample's study)",
    "logistic_regression": "logistic regression",
    "lightgbm": "LightGBM",
    "random_forest": "random forest (the paper's model)",
    "cellformer": "**Cellformer fine-tuned from cellformer-pretrained** (this recipe)",
    "cellformer_random_init": "Cellformer from random weights",
}


def recorded_evaluation(checkpoint: Path | None) -> dict | None:
    """The full evaluation recorded in ``checkpoint/evaluation.json``, or None."""
    if checkpoint is None:
        return None
    from ..evaluation import read_record

    return read_record(checkpoint, "full")


def _rows(record: dict) -> dict[tuple[str, str], dict]:
    return {(row["model"], row["metric"]): row for row in record["rows"]}


def _cell(row: dict | None) -> str:
    if row is None:
        return "-"
    return f"{row['value']:.3f} [{row['ci95'][0]:.2f}, {row['ci95'][1]:.2f}]"


def _tally(rows: dict, model: str, peer: str, prefixes: list[str]) -> dict[str, int]:
    counts = {"above": 0, "level": 0, "below": 0}
    for prefix in prefixes:
        row = rows.get((model, f"{prefix}.accuracy_minus_{peer}"))
        if row is None:
            continue
        lo, hi = row["ci95"]
        counts["above" if lo > 0 else "below" if hi < 0 else "level"] += 1
    return counts


def embedding_section(record: dict | None, record_file: str) -> dict[str, Any]:
    """Template values of the embedding evaluation (``evaluation`` is None when nothing is recorded)."""
    if record is None:
        return {"evaluation": None}
    rows = _rows(record)
    lines = [
        "| task | probe | pretrained (`<cls>`) | pretrained (mean of genes) | random init | HVG + PCA | majority |",
        "|---|---|---|---|---|---|---|",
    ]
    prefixes = []
    for task, text in EMBEDDING_TASKS.items():
        for probe in ("knn", "logistic"):
            prefix = f"embedding.{task}.{probe}"
            if ("hvg_pca", f"{prefix}.accuracy") not in rows:
                continue
            prefixes.append(prefix)
            majority = rows.get(("majority", f"embedding.{task}.accuracy"))
            cells = [_cell(rows.get((model, f"{prefix}.accuracy"))) for model in EMBEDDINGS[:-1]] + [_cell(majority)]
            lines.append(f"| {text} | {'kNN (k=10)' if probe == 'knn' else 'logistic'} | " + " | ".join(cells) + " |")
        if ("hvg_pca", f"embedding.{task}.silhouette") in rows:
            cells = [_cell(rows.get((model, f"embedding.{task}.silhouette"))) for model in EMBEDDINGS[:-1]]
            lines.append(f"| {text} | silhouette | " + " | ".join(cells) + " | - |")
    pca = _tally(rows, "cellformer_pretrained", "hvg_pca", prefixes)
    twin = _tally(rows, "cellformer_pretrained", "cellformer_random_init", prefixes)
    n = sum(pca.values())
    verdict = (
        f"**Pretraining does not beat PCA.** Against HVG + PCA of the normalised expression, the pretrained "
        f"embedding is below in {pca['below']}, level in {pca['level']} and above in {pca['above']} of {n} task x "
        "probe comparisons"
        if pca["above"] == 0
        else f"Against HVG + PCA, the pretrained embedding is above in {pca['above']}, level in {pca['level']} and "
        f"below in {pca['below']} of {n} task x probe comparisons"
    )
    verdict += (
        f" (paired bootstrap 95 % CI of the accuracy difference); against its random-init twin it is above in "
        f"{twin['above']}, level in {twin['level']} and below in {twin['below']}."
    )
    if pca["above"] == 0:
        verdict += (
            " For cell-state analysis (clustering, label transfer) use HVG + PCA; use this checkpoint as an "
            "initialisation for fine-tuning."
        )
    return {
        "evaluation": True,
        "evaluation_file": record_file,
        "evaluation_table": "\n".join(lines),
        "evaluation_verdict": verdict,
        "evaluation_command": portable_text(str(record.get("command", ""))),
        "evaluation_split": record.get("split", ""),
    }


def cancer_type_section(record: dict | None, record_file: str) -> dict[str, Any]:
    """Template values of the per-sample cancer-type evaluation and its confound report."""
    if record is None:
        return {"evaluation": None}
    rows = _rows(record)
    report = record.get("report", {})
    settings = [key for key in report if key == "all_types" or key.startswith("within_")]
    header = "| model | " + " | ".join(f"{s}: accuracy [95% CI] | {s}: macro-F1" for s in settings) + " |"
    lines = [header, "|---|" + "---|---|" * len(settings)]
    for model, text in CANCER_MODELS.items():
        cells = []
        for setting in settings:
            prefix = f"cancer_type.{setting}.patient_cv"
            cells += [_cell(rows.get((model, f"{prefix}.accuracy"))), _cell(rows.get((model, f"{prefix}.macro_f1")))]
        if any(cell != "-" for cell in cells):
            lines.append(f"| {text} | " + " | ".join(cells) + " |")
    describe = []
    for setting in settings:
        block = report[setting]
        types = ", ".join(f"{name} {count}" for name, count in block.get("samples_per_type", {}).items())
        describe.append(f"`{setting}`: {block.get('samples')} samples of {block.get('patients')} patients ({types})")
    confound = report.get("confound", {})
    loso = report.get("leave_one_study_out", {})
    study_cv = rows.get(("study_only", "cancer_type.all_types.patient_cv.accuracy"))
    from_profile = rows.get(("logistic_regression", "confound.study_from_profile.patient_cv.accuracy"))
    one_study, labels = confound.get("labels_from_one_study", "?"), confound.get("labels", "?")
    label_to_study, cramers_v = confound.get("label_to_study_accuracy", nan), confound.get("cramers_v", nan)
    text = (
        f"{one_study} of {labels} cancer types come from a single study (predicting the study from the label: "
        f"accuracy {label_to_study:.2f}; Cramér's V {cramers_v:.2f}). The study alone, with no expression at all, "
        f"scores {_cell(study_cv)} under the same patient-grouped folds, and logistic regression tells the study of "
        f"held-out patients from their cytokine profile with accuracy {_cell(from_profile)}. Leave-one-study-out "
        f"cannot be scored: {loso.get('evaluable_samples', '?')} of {report.get('samples', '?')} samples have a cancer "
        "type that another study holds, so every held-out study's labels are unseen in training."
    )
    within = [s for s in settings if s != "all_types"]
    for setting in within:
        prefix = f"cancer_type.{setting}.patient_cv"
        best = max(
            (m for m in CANCER_MODELS if (m, f"{prefix}.accuracy") in rows and m not in ("majority", "study_only")),
            key=lambda m: rows[(m, f"{prefix}.accuracy")]["value"],
            default=None,
        )
        majority = rows.get(("majority", f"{prefix}.accuracy"))
        if best is None or majority is None:
            continue
        difference = rows.get((best, f"{prefix}.accuracy_minus_majority"))
        tail, verdict = "", ""
        if difference:
            lo, hi = difference["ci95"]
            tail = f" (paired difference {difference['value']:+.3f} [{lo:+.3f}, {hi:+.3f}])"
            verdict = (
                " No model tells these cancer types apart better than the majority class."
                if lo <= 0
                else f" {best} does better than the majority class."
            )
        text += (
            f" What remains once the study is removed ({setting}: one study, several cancer types): the best model, "
            f"{best}, reaches {_cell(rows[(best, f'{prefix}.accuracy')])} against the majority class's "
            f"{_cell(majority)}{tail}.{verdict}"
        )
    return {
        "evaluation": True,
        "evaluation_file": record_file,
        "evaluation_table": "\n".join(lines),
        "evaluation_settings": "; ".join(describe),
        "evaluation_confound": text,
        "evaluation_command": portable_text(str(record.get("command", ""))),
    }


__all__ = ["cancer_type_section", "embedding_section", "recorded_evaluation"]
