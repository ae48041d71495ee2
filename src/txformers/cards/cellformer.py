# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Values of the Cellformer cards: the masked-expression pretrained model and the cancer-type classifier.

Templates: ``templates/cellformer-mlm.md.jinja`` and ``templates/cancer-type.md.jinja``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from ..hub import REPO_ROOT
from .cellformer_evaluation import cancer_type_section, embedding_section, recorded_evaluation
from .formatting import megabytes, recorded_command, signed, wrap
from .paths import portable_text
from .results import ResultsError, checkpoint_config, checkpoint_weights, get
from .template import metric, render_template

# ----------------------------------------------------------------------------- cellformer-mlm
CELLFORMER_MLM_TAGS = [
    "biology",
    "single-cell",
    "transcriptomics",
    "txformers",
    "cellformer",
    "masked-expression-modeling",
]
BIN_BASELINES = {  # results key prefix: what the baseline predicts from
    "baseline_gene_bin": "the gene's bin distribution on training cells",
    "baseline_cell_bin": "the same cell's visible (unmasked) bins",
    "baseline_global_bin": "the global bin distribution",
}
SPECIAL_TOKENS = 4


def _cellformer_size(config: dict, args: dict, parameters: int | None, weights: tuple[int, int] | None) -> str:
    if config:
        size = (
            f"{config.get('num_hidden_layers')} layers, hidden {config.get('hidden_size')}, "
            f"{config.get('num_attention_heads')} heads, FFN {config.get('intermediate_size')}"
        )
    else:
        size = f"{args.get('preset')} preset"
    size += f"; {parameters:,} parameters" if parameters else ""
    size += f" ({megabytes(weights[1])} safetensors)" if weights else ""
    return size


def _bin_results(heldout: dict) -> tuple[str, str]:
    """The held-out table (Cellformer, then each baseline the run scored) and how Cellformer compares."""
    rows = [f"| **Cellformer** | **{heldout['bin_accuracy']:.3f}** | **{heldout['bin_mae']:.2f}** |"]
    rows += [
        f"| {label} | {heldout[key + '_accuracy']:.3f} | {heldout[key + '_mae']:.2f} |"
        for key, label in BIN_BASELINES.items()
        if key + "_accuracy" in heldout
    ]
    available = [key for key in BIN_BASELINES if key + "_mae" in heldout]
    if not available:
        return "\n".join(rows), ""
    best_mae = min(available, key=lambda key: heldout[key + "_mae"])
    best_accuracy = max(available, key=lambda key: heldout[key + "_accuracy"])
    mae_gain = 1 - heldout["bin_mae"] / heldout[best_mae + "_mae"]
    accuracy_delta = heldout["bin_accuracy"] - heldout[best_accuracy + "_accuracy"]
    findings = (
        f"Against the best baseline for each metric: accuracy {signed(accuracy_delta, '.3f')} "
        f"({BIN_BASELINES[best_accuracy]}), MAE {100 * mae_gain:.0f} % {'lower' if mae_gain >= 0 else 'higher'} "
        f"({heldout['bin_mae']:.2f} vs {heldout[best_mae + '_mae']:.2f}, {BIN_BASELINES[best_mae]})."
    )
    return "\n".join(rows), findings


def _cellformer_training(results: dict, args: dict, heldout: dict) -> dict[str, Any]:
    eval_percent = args.get("eval_percent")
    train_cells = round(heldout["eval_cells"] * (100 - eval_percent) / eval_percent, -1) if eval_percent else None
    wall = results.get("wall_seconds")
    return {
        "eval_percent": eval_percent if eval_percent is not None else "?",
        "eval_cells": heldout["eval_cells"],
        "train_cells": f"{train_cells:,.0f}" if train_cells else None,
        "steps": f"{results.get('steps', args.get('max_steps')):,}",
        "batch_size": results.get("batch_size", args.get("batch_size")),
        "lr": args.get("lr"),
        "warmup_steps": args.get("warmup_steps"),
        "minutes": f"{wall / 60:.0f}" if wall else None,
        "final_loss": f"{results.get('final_train_loss', float('nan')):.3f}",
    }


def cellformer_mlm_card(
    results: dict,
    name: str,
    *,
    checkpoint: Path | None = None,
    results_file: str | None = None,
    provenance: str | None = None,
    **_: Any,
) -> ModelCard:
    """Card of a pretrained Cellformer from the results JSON of `txformers.training.pretrain_cellformer`."""
    where = results_file or "the results file"
    heldout = get(results, "heldout", where=where)
    for key in ("bin_accuracy", "bin_mae", "eval_cells", "masked_genes"):
        get(heldout, key, where=f"{where} 'heldout'")
    args = get(results, "args", where=where)
    studies = results.get("studies") or [s["study"] for s in results.get("samples", [])]
    dataset_name = f"held-out cells of {len(studies)} scRNA studies"
    task = ("fill-mask", "masked expression modeling (value bins)", "scrna-heldout", dataset_name)
    eval_results = [
        metric(*task, "accuracy", "masked-gene bin accuracy", heldout["bin_accuracy"]),
        metric(*task, "mae", "masked-gene bin MAE (bins)", heldout["bin_mae"]),
    ]
    card_data = ModelCardData(
        library_name="transformers",
        license="bsd-3-clause",
        pipeline_tag="feature-extraction",
        tags=CELLFORMER_MLM_TAGS,
        model_name=name,
        eval_results=eval_results,
    )
    config = checkpoint_config(checkpoint)
    weights = checkpoint_weights(checkpoint)
    parameters = results.get("parameters") or (weights[0] if weights else None)
    extra_tokens = 1 + (1 if studies else 0)  # <cls> and the study token
    results_table, findings = _bin_results(heldout)
    samples = results.get("samples", [])
    sample_rows = "\n".join(
        f"| `{s['study']}` | {s['sample']} | {s.get('format', '?')} | {s.get('scale', '?')} |" for s in samples
    )
    commands = [c for c in (results.get("command"), results.get("heldout_command")) if c]
    command = wrap("\n".join(portable_text(c) for c in commands)) or recorded_command(
        results, "txformers.training.pretrain_cellformer", args
    )
    return render_template(
        "cellformer-mlm",
        card_data,
        name=name,
        n_studies=len(studies),
        size=_cellformer_size(config, args, parameters, weights),
        vocabulary_genes=f"{results.get('vocabulary_genes', '?'):,}",
        force_cytokines=args.get("force_cytokines"),
        special_tokens=SPECIAL_TOKENS,
        value_encoding=args.get("value_encoding"),
        n_bins=args.get("n_bins"),
        max_genes=args.get("max_length", 0) - extra_tokens,
        mask_percent=f"{100 * args.get('mask_probability', 0):.0f}",
        sample_rows=sample_rows,
        **_cellformer_training(results, args, heldout),
        results_file=where,
        masked_genes=f"{heldout['masked_genes']:,}",
        results_table=results_table,
        findings=findings,
        command=command,
        example_study=studies[0] if studies else "STUDY",
        hidden_size=config.get("hidden_size", ""),
        provenance=provenance,
        **embedding_section(recorded_evaluation(checkpoint), f"checkpoints/{name}/evaluation.json"),
    )


# ----------------------------------------------------------------------------- cancer-type
CANCER_TYPE_TAGS = [
    "biology",
    "single-cell",
    "tumour-microenvironment",
    "cytokines",
    "cancer-type",
    "txformers",
    "cellformer",
]
CANCER_TYPE_TASK = ("tabular-classification", "cancer type from cytokine expression of immune cells", "tumour-immune")
PROTOCOL_TEXT = {
    "strict": "every cell of a study whose patients are unknown is one group (as if the study were one patient)",
    "sex_split": "cells of unknown patients grouped by a sex call (XIST / RPS4Y1), ambiguous cells dropped",
    "t_cells_sex_split": "as `sex_split`, T cells only (removes the cell-type composition difference between studies)",
}
MODEL_TEXT = {
    "majority": "majority class of the training fold",
    "logistic_regression": "logistic regression (CellTypist's model family)",
    "random_forest": "random forest (the paper's model)",
    "cellformer": "**Cellformer, fine-tuned from the pretrained checkpoint** (this recipe)",
    "cellformer_scratch": "Cellformer from random weights",
}
PER_CELL_METRICS = (
    ("accuracy", "accuracy", "per-cell accuracy"),
    ("f1", "macro_f1", "per-cell macro-F1"),
    ("balanced_accuracy", "balanced_accuracy", "per-cell balanced accuracy"),
)


def _per_sample_metrics(record: dict | None) -> list:
    """The model-index entries of `txformers evaluate`: Cellformer on one pseudo-bulk profile per sample."""
    if record is None:
        return []
    rows = {row["metric"]: row for row in record["rows"] if row["model"] == "cellformer"}
    dataset = "tumour-immune samples (pseudo-bulk of their immune cells), patient-grouped CV"
    eval_results = []
    for metric_type, key, label in (
        ("accuracy", "accuracy", "per-sample accuracy"),
        ("f1", "macro_f1", "per-sample macro-F1"),
    ):
        row = rows.get(f"cancer_type.all_types.patient_cv.{key}")
        if row is not None:
            eval_results.append(
                metric(*CANCER_TYPE_TASK, dataset, metric_type, label, row["value"], config="per_sample")
            )
    return eval_results


def _cancer_type_metrics(protocols: dict, classes: list, where: str) -> list:
    """The Cellformer rows of every protocol, for the model-index (one config per protocol)."""
    eval_results = []
    for protocol, block in protocols.items():
        model = get(block, "models", "cellformer", where=f"{where} protocol {protocol!r}")
        folds = len(block.get("folds", []))
        dataset = f"tumour-immune cells, {len(classes)} cancer types, patient-grouped {folds}-fold CV"
        for metric_type, key, label in PER_CELL_METRICS:
            value = get(model, "per_cell", key, where=where)
            eval_results.append(metric(*CANCER_TYPE_TASK, dataset, metric_type, label, value, config=protocol))
        value = get(model, "per_sample", "accuracy", where=where)
        label = "per-sample accuracy (mean cell probabilities)"
        eval_results.append(metric(*CANCER_TYPE_TASK, dataset, "accuracy", label, value, config=protocol))
    return eval_results


def _cancer_type_data_table(classes: list, per_cancer: dict) -> str:
    rows = ["| cancer type | cells | study | patients | samples | cell types |", "|---|---|---|---|---|---|"]
    for cancer in classes:
        c = per_cancer.get(cancer, {})
        patients = c.get("patients", [])
        known = [p for p in patients if not str(p).startswith("?")]
        unknown = [str(p).rsplit("/", 1)[-1] for p in patients if str(p).startswith("?")]
        patient_text = str(len(known)) + (f" + unknown (groups: {', '.join(unknown)})" if unknown else "")
        types = ", ".join(f"{t} {n}" for t, n in c.get("cell_types", {}).items())
        studies = ", ".join(c.get("studies", []))
        rows.append(
            f"| {cancer} | {c.get('cells', '?')} | {studies} | {patient_text} | {c.get('samples', '?')} | {types} |"
        )
    return "\n".join(rows)


def _protocol_section(protocol: str, block: dict) -> dict[str, Any]:
    """The values of one protocol's section: its counts and the table of every model."""
    rows = [
        "| model | per-cell accuracy [95 % CI] | macro-F1 | balanced accuracy | per-sample accuracy |",
        "|---|---|---|---|---|",
    ]
    for model_name, model in block["models"].items():
        cell, ci = model["per_cell"], model.get("per_cell_95ci_patient_bootstrap", {}).get("accuracy")
        ci_text = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
        rows.append(
            f"| {MODEL_TEXT.get(model_name, model_name)} | {cell['accuracy']:.3f}{ci_text} | {cell['macro_f1']:.3f} | "
            f"{cell['balanced_accuracy']:.3f} | {model['per_sample']['accuracy']:.3f} |"
        )
    ranking = sorted(block["models"], key=lambda m: -block["models"][m]["per_cell"]["macro_f1"])
    return {
        "name": protocol,
        "description": PROTOCOL_TEXT.get(protocol, protocol),
        "cells": block.get("cells"),
        "groups": block.get("groups"),
        "samples": block.get("samples"),
        "absent": block.get("cells_whose_class_is_absent_from_training", 0),
        "best": ranking[0],
        "table": "\n".join(rows),
    }


def _against_random_forest(protocols: dict) -> list[dict[str, str]]:
    """Cellformer minus random forest, per protocol that ran the random forest."""
    comparisons = []
    for protocol, block in protocols.items():
        if "random_forest" not in block["models"]:
            continue
        mine, forest = block["models"]["cellformer"]["per_cell"], block["models"]["random_forest"]["per_cell"]
        comparisons.append(
            {
                "protocol": protocol,
                "accuracy": signed(mine["accuracy"] - forest["accuracy"], ".3f"),
                "macro_f1": signed(mine["macro_f1"] - forest["macro_f1"], ".3f"),
            }
        )
    return comparisons


def _saved_model(results: dict) -> dict[str, Any]:
    saved = results.get("saved_model", {})
    selection = saved.get("selection", {})
    return {
        "saved_cells": saved.get("trained_on_cells", "?"),
        "selected_lr": selection.get("lr"),
        "selected_epochs": selection.get("epochs"),
        "validation_macro_f1": f"{selection.get('validation_macro_f1', float('nan')):.3f}",
        "validation_cells": selection.get("validation_cells", "?"),
        "training_accuracy": f"{saved.get('training_accuracy', float('nan')):.3f}",
    }


def _abstain_section(config: dict, results_path: Path) -> dict[str, Any] | None:
    """The checkpoint's abstain rule and, when ``results_path`` holds that rule's calibration run, its numbers."""
    rule = (config or {}).get("abstain")
    if not rule:
        return None
    section: dict[str, Any] = {"rule": rule, "measured": None}
    if results_path.is_file():
        measured = json.loads(results_path.read_text())
        if measured.get("rule", {}).get("max_distance") == rule.get("max_distance"):
            unseen, known = measured["unseen_type"], measured["known_types_held_out"]
            loto = measured.get("leave_one_type_out", {})
            section["measured"] = {
                "file": "results/cellformer/abstain.json",
                "unseen": f"{unseen['unknown']} of {unseen['cells']} ({100 * unseen['unknown_rate']:.0f}%, 95% CI "
                + "-".join(f"{100 * v:.0f}" for v in unseen["unknown_rate_ci"])
                + "%)",
                "drop": f"{known['accuracy_drop_points']:.1f} points (95% CI "
                + "-".join(f"{v:.1f}" for v in known["accuracy_drop_points_ci"])
                + f"; {100 * known['accuracy']:.1f}% -> {100 * known['accuracy_with_abstain']:.1f}%)",
                "loto": ", ".join(f"{name} {100 * v['unknown_rate']:.0f}%" for name, v in loto.items()),
            }
    return section


def cancer_type_card(
    results: dict,
    name: str,
    *,
    checkpoint: Path | None = None,
    results_file: str | None = None,
    provenance: str | None = None,
    **_: Any,
) -> ModelCard:
    """Card of a Cellformer cancer-type classifier from the results JSON of `txformers.training.cancer_type`."""
    where = results_file or "the results file"
    protocols = get(results, "protocols", where=where)
    classes = get(results, "classes", where=where)
    panel = get(results, "panel_genes", where=where)
    if not protocols:
        raise ResultsError(f"{where} has no protocol results")
    card_data = ModelCardData(
        library_name="transformers",
        license="bsd-3-clause",
        pipeline_tag="tabular-classification",
        tags=CANCER_TYPE_TAGS,
        model_name=name,
        eval_results=_per_sample_metrics(recorded_evaluation(checkpoint))
        + _cancer_type_metrics(protocols, classes, where),
    )
    confound = results.get("confound", {})
    per_cancer = confound.get("per_cancer", {})
    sections = [_protocol_section(protocol, block) for protocol, block in protocols.items()]
    settings = results.get("settings", {})
    config = checkpoint_config(checkpoint)
    weights = checkpoint_weights(checkpoint)
    size = (
        f"{config.get('num_hidden_layers')} layers, hidden {config.get('hidden_size')}" if config else "see config.json"
    )
    size += f", {weights[0]:,} parameters ({megabytes(weights[1])} safetensors)" if weights else ""
    nmi = confound.get("normalized_mutual_information_study_cancer")
    command = results.get("command", "python -m txformers.training.cancer_type --scrna-dir ../shared/data/scrna")
    return render_template(
        "cancer-type",
        card_data,
        name=name,
        n_genes=len(panel),
        pretrained=portable_text(str(settings.get("pretrained", "?"))),
        classes=", ".join(f"`{c}`" for c in classes),
        size=size,
        data_table=_cancer_type_data_table(classes, per_cancer),
        confound_note=confound.get("note", ""),
        nmi=f"{nmi:.2f}" if nmi is not None else None,
        results_file=where,
        cellformer_selection=settings.get("cellformer_selection", ""),
        random_forest=settings.get("random_forest", ""),
        logistic_regression=settings.get("logistic_regression", ""),
        protocols=sections,
        against_random_forest=_against_random_forest(protocols),
        **_saved_model(results),
        command=wrap(portable_text(str(command))),
        provenance=provenance,
        total_cells=sum(c.get("cells", 0) for c in per_cancer.values()),
        n_classes=len(classes),
        **cancer_type_section(recorded_evaluation(checkpoint), f"checkpoints/{name}/evaluation.json"),
        abstain=_abstain_section(config, REPO_ROOT / "results" / "cellformer" / "abstain.json"),
    )
