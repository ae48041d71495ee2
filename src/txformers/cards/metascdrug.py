# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Values of the MetaSCDrug card (template ``templates/metascdrug.md.jinja``).

The main results file is the few-shot JSON of `txformers.training.fewshot`; the card also reads, when they
sit next to it, the unseen-drug results (`meta_pretrain --mode evaluate`), the MMD and adaptation-budget
variants, the validation sweep, the critical genes and the timings; and from the checkpoint folder its
config, training arguments, drug split and processor settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from .formatting import flags, megabytes, millions, paths_note, shell, signed, value_range
from .metascdrug_evaluation import evaluation_section, recorded_evaluation
from .paths import display_path, find_local_paths, portable_path, portable_text
from .results import ResultsError, checkpoint_config, checkpoint_weights, get, read_json
from .template import metric, render_template

TAGS = ["biology", "drug-response", "single-cell", "few-shot", "peft", "txformers", "metascdrug"]
FEWSHOT_TASK = ("tabular-classification", "single-cell drug response, few-shot", "scad-single-cell-drug-response")
UNSEEN_TASK = ("tabular-classification", "drug response of unseen drugs", "gdsc")
FEWSHOT_METRICS = {
    "accuracy": ("accuracy", "accuracy"),
    "auroc": ("roc_auc", "AUROC"),
    "f1": ("f1", "F1"),
    "ap": ("average_precision", "AP"),
}
UNSEEN_METHODS = {
    "general_sensitivity": "general sensitivity (no model)",
    "logistic_regression": "logistic regression on the k cell lines",
    "general_sensitivity_all_other_drugs": "general sensitivity over every other drug (DESIGN.md's baseline)",
}
# The saved arguments of `meta_pretrain` that its command repeats, in this order (then those of the mode).
META_PRETRAIN_COMMON = (
    "data_dir output_dir sources n_genes panel_genes_from gene_map preset gene_dropout dropout test_drugs "
    "validation_drugs split_seed steps lr weight_decay"
).split()
META_PRETRAIN_BY_MODE = {
    "multitask": "drugs_per_batch cells_per_drug".split(),
    "maml": "init_from meta_batch n_support n_query inner_steps inner_lr first_order adapt".split(),
}


def _fewshot_runs(results: dict, where: str) -> list[dict]:
    runs = results.get("runs") or ([results] if "metrics" in results else None)
    if not runs:
        raise ResultsError(f"{where} has no 'runs' (write it with `python -m txformers.training.fewshot ... --json`)")
    for run in runs:
        for key in ("model", "data", "shots", "metrics"):
            get(run, key, where=f"a run of {where}")
    return runs


def _run_key(run: dict) -> str:
    return run.get("name") or Path(run["model"]).name


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _mean_accuracy(runs: list[dict], keys: list[str]) -> dict[str, float]:
    return {key: _mean([r["metrics"]["accuracy"] for r in runs if _run_key(r) == key]) for key in keys}


class FewShot:
    """The few-shot runs of one results file, seen from the model the card describes (``model_key``)."""

    def __init__(self, runs: list[dict], model_key: str):
        self.runs, self.model_key = runs, model_key
        keys = list(dict.fromkeys(_run_key(run) for run in runs))
        self.others = [key for key in keys if key != model_key]
        self.mine = [run for run in runs if _run_key(run) == model_key]
        self.by_key = {(_run_key(r), Path(r["data"]).name, r["shots"]): r for r in runs}
        self.datasets = list(dict.fromkeys(Path(r["data"]).name for r in self.mine))
        self.drug_of = {
            Path(r["data"]).name: (r.get("drug") or {}).get("name") or Path(r["data"]).stem for r in self.mine
        }
        self.shots = sorted({r["shots"] for r in self.mine})
        self.seeds = len(self.mine[0].get("seeds", [])) or "?"
        self.has_lr = all(
            "logistic_regression" in self.by_key.get((keys[0], d, k), {}) for d in self.datasets for k in self.shots
        )
        self.columns = [model_key, *self.others] + (["logistic regression"] if self.has_lr else [])

    def metrics(self, where: str) -> list:
        """The model-index entries: every metric of the model on every (dataset, k)."""
        eval_results = []
        for data in self.datasets:
            for k in self.shots:
                run = self.by_key[(self.model_key, data, k)]
                for key, (metric_type, label) in FEWSHOT_METRICS.items():
                    name = f"{label}, {k} labelled cell{'s' if k > 1 else ''} per class, mean of {self.seeds} seeds"
                    value = get(run, "metrics", key, where=where)
                    dataset = f"{self.drug_of[data]} single cells ({data})"
                    eval_results.append(
                        metric(*FEWSHOT_TASK, dataset, metric_type, name, value, config=self.drug_of[data])
                    )
        return eval_results

    def logistic_regression(self, data: str, k: int) -> dict:
        return next(
            r["logistic_regression"]["metrics"]
            for r in self.runs
            if Path(r["data"]).name == data and r["shots"] == k and "logistic_regression" in r
        )

    def values(self, data: str, k: int) -> dict[str, dict]:
        """The metrics of every column on one (dataset, k)."""
        values = {key: self.by_key[(key, data, k)]["metrics"] for key in [self.model_key, *self.others]}
        if self.has_lr:
            values["logistic regression"] = self.logistic_regression(data, k)
        return values

    def table(self) -> str:
        columns, own = self.columns, self.model_key
        header = (
            "| dataset | k | "
            + " | ".join(f"{c} acc" for c in columns)
            + " | "
            + " | ".join(f"{c} AUROC" for c in columns)
            + f" | {own} F1 | {own} AP |"
        )
        table = [header, "|---|---|" + "---|" * (2 * len(columns) + 2)]
        for data in self.datasets:
            for k in self.shots:
                values = self.values(data, k)
                accuracy = " | ".join(
                    f"{values[c]['accuracy']:.3f} ± {values[c].get('accuracy_sd', float('nan')):.3f}" for c in columns
                )
                auroc = " | ".join(f"{values[c]['auroc']:.3f}" for c in columns)
                mine = values[own]
                table.append(
                    f"| {self.drug_of[data]} | {k} | {accuracy} | {auroc} | {mine['f1']:.3f} | {mine['ap']:.3f} |"
                )
        return "\n".join(table)

    def accuracy(self) -> dict[str, dict[int, list[float]]]:
        """Accuracy of every column, by k, over the datasets."""
        accuracy = {c: {k: [] for k in self.shots} for c in self.columns}
        for data in self.datasets:
            for k in self.shots:
                values = self.values(data, k)
                for column in self.columns:
                    accuracy[column][k].append(values[column]["accuracy"])
        return accuracy

    def overall(self) -> dict[str, float]:
        accuracy = self.accuracy()
        return {c: _mean([a for k in self.shots for a in accuracy[c][k]]) for c in self.columns}

    def summary(self) -> dict[str, Any]:
        accuracy, overall = self.accuracy(), self.overall()
        return {
            "n_settings": len(self.datasets) * len(self.shots),
            "summary": ", ".join(f"{c} {overall[c]:.3f}" for c in self.columns),
            "columns": self.columns,
            "per_k": "; ".join(
                f"k={k}: " + " / ".join(f"{_mean(accuracy[c][k]):.3f}" for c in self.columns) for k in self.shots
            ),
        }

    def vs_logistic_regression(self) -> dict[str, str] | None:
        if not self.has_lr:
            return None
        accuracy, overall = self.accuracy(), self.overall()
        lr = "logistic regression"
        better_at = [k for k in self.shots if _mean(accuracy[self.model_key][k]) > _mean(accuracy[lr][k])]
        min_auroc = min(self.values(d, k)[lr]["auroc"] for d in self.datasets for k in self.shots)
        return {
            "points": signed(100 * (overall[self.model_key] - overall[lr]), ".1f"),
            "better_at": ", ".join(map(str, better_at)),
            "min_auroc": f"{min(1.0, min_auroc):.3f}",
        }

    def vs_others(self) -> list[dict[str, str]]:
        overall = self.overall()
        return [
            {"other": other, "points": signed(100 * (overall[self.model_key] - overall[other]), ".1f")}
            for other in self.others
        ]

    def twins(self) -> list[dict[str, Any]]:
        """Datasets with the same cells and class sizes (the same cells, labelled for another drug)."""
        sizes = {}
        for data in self.datasets:
            run = self.by_key[(self.model_key, data, self.shots[0])]
            sizes[data] = (run.get("n_cells"), tuple(sorted((run.get("class_sizes") or {}).values())))
        return [
            {"first": self.drug_of[a], "second": self.drug_of[b], "cells": sizes[a][0]}
            for i, a in enumerate(self.datasets)
            for b in self.datasets[i + 1 :]
            if sizes[a] == sizes[b] and sizes[a][0]
        ]

    def mmd(self, mmd: dict | None) -> dict[str, Any] | None:
        """The same protocol with the MMD term (``single_cell_fewshot_mmd.json``)."""
        if not mmd:
            return None
        runs = _fewshot_runs(mmd, "single_cell_fewshot_mmd.json")
        means = _mean_accuracy(runs, [self.model_key, *self.others])
        worst = min((r for r in runs if _run_key(r) == self.model_key), key=lambda r: r["metrics"]["accuracy"])
        data = Path(worst["data"]).name
        return {
            "weight": runs[0].get("settings", {}).get("mmd_weight"),
            "means": ", ".join(f"{key} {value:.3f}" for key, value in means.items()),
            "lowest_drug": self.drug_of.get(data, data),
            "lowest_shots": worst["shots"],
            "lowest_accuracy": f"{worst['metrics']['accuracy']:.3f}",
        }

    def budget(self, folder: Path | None, steps: int | None) -> dict[str, Any] | None:
        """The same protocol with fewer adaptation steps (``single_cell_fewshot_steps<N>.json``)."""
        budget = []
        for path in sorted(folder.glob("single_cell_fewshot_steps*.json")) if folder else []:
            runs = _fewshot_runs(read_json(path) or {}, path.name)
            budget.append(
                (runs[0].get("settings", {}).get("steps"), _mean_accuracy(runs, [self.model_key, *self.others]))
            )
        if not (budget and self.others):
            return None
        budget.append((steps, self.overall()))
        other = self.others[0]
        budget.sort(key=lambda item: item[0] or 0)
        deltas = [100 * (means[self.model_key] - means[other]) for _, means in budget]
        parts = [
            f"{steps} steps: {means[self.model_key]:.3f} / {means[other]:.3f} ({signed(delta, '.1f')})"
            for (steps, means), delta in zip(budget, deltas)
        ]
        return {"other": other, "steps": "; ".join(parts), "lead_only_when_short": deltas[0] > 0 >= deltas[-1]}

    def command(self, settings: dict, results_file: str | None) -> str:
        models = [f"{_run_key(r)}={portable_text(r['model'])}" for r in {_run_key(r): r for r in self.runs}.values()]
        data = [portable_text(r["data"]) for r in {r["data"]: r for r in self.mine}.values()]
        tokens = [
            "OMP_NUM_THREADS=1",
            "python",
            "-m",
            "txformers.training.fewshot",
            "--model",
            *models,
            "--data",
            *data,
        ]
        tokens += ["--shots", *map(str, self.shots), "--seeds", str(self.seeds)]
        tokens += flags(settings, ["steps", "lr", "lora_r", "lora_alpha", "mmd_weight"])
        tokens += ["--json", results_file or "results.json"]
        return shell(tokens)


# ----------------------------------------------------------------------------- unseen drugs
def _unseen_metrics(unseen: dict, model_key: str) -> list:
    """The model-index entries of the unseen-drug results: zero-shot and few-shot AUROC within drug."""
    shots, split = unseen["shots"], unseen.get("split")
    dataset = f"{unseen.get('source', 'GDSC')}, {len(unseen.get('drugs', []))} held-out drugs (drug-blind split)"
    eval_results = []
    zero = shots.get("0", {})
    if f"{model_key}_zeroshot" in zero:
        auroc = zero[f"{model_key}_zeroshot"]["auroc"]
        eval_results.append(
            metric(*UNSEEN_TASK, dataset, "roc_auc", "AUROC within drug, zero-shot", auroc, split=split)
        )
    for k in sorted(int(k) for k in shots if k != "0"):
        if f"{model_key}_fewshot" in shots[str(k)]:
            name = f"AUROC within drug, few-shot on {k} labelled cell lines"
            auroc = shots[str(k)][f"{model_key}_fewshot"]["auroc"]
            eval_results.append(metric(*UNSEEN_TASK, dataset, "roc_auc", name, auroc, split=split))
    return eval_results


def _unseen_table(shots: dict) -> str:
    methods = list(dict.fromkeys(m for k in shots for m in shots[k] if m != "general_sensitivity_GDSC2"))
    rows = ["| method | " + " | ".join(f"k = {k}" for k in shots) + " |", "|---|" + "---|" * len(shots)]
    for method in methods:
        label = UNSEEN_METHODS.get(method, method.replace("_zeroshot", ", zero-shot").replace("_fewshot", ", few-shot"))
        cells = [f"{shots[k][method]['auroc']:.3f}" if method in shots[k] else "" for k in shots]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _baseline_spread(spread: dict | None, reference: float | None) -> dict[str, Any] | None:
    """DESIGN.md's baseline over all drugs and over random drug sets (``unseen_drugs_baseline.json``)."""
    if not spread or reference is None:
        return None
    sets = spread["random_sets"]
    held_out = spread["held_out"]["auroc_mean"]
    return {
        "n_drugs": spread["n_drugs"],
        "source": spread["source"],
        "mean": f"{spread['auroc_mean']:.3f}",
        "median": f"{spread['auroc_median']:.3f}",
        "size": sets["size"],
        "sets_mean": f"{sets['mean']:.3f}",
        "sets_sd": f"{sets['sd']:.3f}",
        "percent_reaching": f"{100 * sets['fraction_at_or_above_reference']:.0f}",
        "reference": f"{reference:.3f}",
        "held_out": f"{held_out:.3f}",
        "held_out_sd": f"{(held_out - sets['mean']) / sets['sd']:+.1f}",
        "command": spread["command"].replace("python -m txformers.training.meta_pretrain", "meta_pretrain"),
    }


def _unseen_comparisons(shots: dict, model_key: str, others: list[str]) -> list[dict[str, str]]:
    few_k = sorted(int(k) for k in shots if k != "0")
    comparisons = []
    for other in others:
        for k in ["0", *map(str, few_k)]:
            kind = "zeroshot" if k == "0" else "fewshot"
            a, b = shots[k].get(f"{model_key}_{kind}"), shots[k].get(f"{other}_{kind}")
            if a and b:
                setting = "zero-shot" if k == "0" else f"few-shot k = {k}"
                comparisons.append(
                    {"other": other, "setting": setting, "delta": signed(a["auroc"] - b["auroc"], ".3f")}
                )
    return comparisons


def _inner_loop(inner: dict | None, model_key: str) -> dict[str, Any] | None:
    """Few-shot with the MAML inner loop itself (``unseen_drugs_maml_inner_loop.json``)."""
    if not inner:
        return None
    adapt = inner.get("adapt_settings", {}).get(model_key, {})
    results = [
        f"{m.replace('_fewshot', '')} {v['auroc']:.3f}"
        for k, s in inner["shots"].items()
        if k != "0"
        for m, v in s.items()
        if m.endswith("_fewshot")
    ]
    return {"steps": adapt.get("steps"), "lr": adapt.get("lr"), "results": ", ".join(results)}


def _unseen_section(
    unseen: dict | None,
    model_key: str,
    others: list[str],
    folder: Path | None,
    sibling: Callable,
    training: dict | None,
) -> dict[str, Any] | None:
    """The unseen-drug section (``unseen_drugs.json`` next to the few-shot results), if the model is in it."""
    if not (unseen and model_key in unseen.get("models", {})):
        return None
    shots = unseen["shots"]
    zero = shots.get("0", {})
    adapt = unseen.get("adapt_settings", {}).get(model_key, {})
    validation_dir = folder / "validation" if folder else None
    validation = sorted(validation_dir.glob("*.json")) if validation_dir and validation_dir.is_dir() else []
    reference = unseen.get("reference_baseline_design_md")
    own_zero = zero.get(f"{model_key}_zeroshot", {}).get("auroc")
    baseline_zero = zero.get("general_sensitivity", {}).get("auroc")
    zero_shot = target = None
    if own_zero is not None and baseline_zero is not None:
        zero_shot = {
            "own": f"{own_zero:.3f}",
            "baseline": f"{baseline_zero:.3f}",
            "delta": signed(own_zero - baseline_zero, ".3f"),
        }
    if reference is not None and own_zero is not None:
        design = zero.get("general_sensitivity_all_other_drugs", {}).get("auroc")
        target = {
            "reference": f"{reference:.3f}",
            "met": own_zero >= reference,
            "own": f"{own_zero:.3f}",
            "design": f"{design:.3f}" if design is not None else None,
        }
    models = [f"{key}={portable_text(path)}" for key, path in unseen["models"].items()]
    data_dir = (
        portable_text(training["data_dir"]) if training and "data_dir" in training else "../shared/data/drug/bulk_gdsc"
    )
    tokens = ["OMP_NUM_THREADS=1", "python", "-m", "txformers.training.meta_pretrain", "--mode", "evaluate"]
    tokens += ["--data-dir", data_dir, "--sources", *unseen.get("sources", ["GDSC2"]), "--models", *models]
    tokens += ["--shots", *shots.keys(), "--adapt-steps", str(adapt.get("steps")), "--adapt-lr", str(adapt.get("lr"))]
    tokens += ["--split", str(unseen.get("split", "test"))]
    tokens += ["--json", display_path(folder / "unseen_drugs.json") if folder else "unseen_drugs.json"]
    command = shell(tokens)
    return {
        "source": unseen.get("source", "GDSC"),
        "n_drugs": len(unseen.get("drugs", [])),
        "adapt_steps": adapt.get("steps"),
        "adapt_lr": adapt.get("lr"),
        "adapt": adapt.get("adapt", "head"),
        "n_settings": len(validation),
        "n_validation_drugs": len((read_json(validation[0]) or {}).get("drugs", [])) if validation else 0,
        "table": _unseen_table(shots),
        "zero_shot": zero_shot,
        "target": target,
        "spread": _baseline_spread(sibling("unseen_drugs_baseline.json"), reference),
        "comparisons": _unseen_comparisons(shots, model_key, others),
        "inner_loop": _inner_loop(sibling("unseen_drugs_maml_inner_loop.json"), model_key),
        "command": command,
    }


# ----------------------------------------------------------------------------- critical genes, timings
def _critical_genes_command(path: Path, critical: dict, runs: list[dict]) -> str:
    """The critical-genes command of one result: single-cell file (with shots) or GDSC drug."""
    settings = critical["settings"]
    looked_up = str((critical.get("drug") or {}).get("source", ""))  # "name looked up in ['PATH', ...]"
    source = next(iter(re.findall(r"'([^']+\.csv)'", looked_up)), None) or next(iter(find_local_paths(looked_up)), None)
    data = next((r["data"] for r in runs if path.parent.name in Path(r["data"]).name), None)
    if settings.get("shots") is None and source:
        where = ["--gdsc-dir", portable_path(str(PurePosixPath(source).parent)), "--drug", critical["drug"]["name"]]
    else:
        where = ["--data", portable_text(data)] if data else ["--data", "CELLS.tsv"]
    shots = ["--shots", str(settings["shots"])] if settings.get("shots") is not None else []
    tokens = [
        "python",
        "-m",
        "txformers.tasks.drug_response.critical_genes",
        "--model",
        settings["model"],
        *where,
        *shots,
    ]
    tokens += ["--seeds", str(settings["seeds"]), "--top", str(settings["top"]), "--n-steps", str(settings["n_steps"])]
    tokens += ["--out-dir", display_path(path.parent)]
    return shell(tokens)


def _critical_genes_section(folder: Path | None, model_name: str, runs: list[dict]) -> dict[str, Any] | None:
    """Integrated-gradients results of this model (``critical_genes/*/critical_genes.json``)."""
    critical_dir = folder / "critical_genes" if folder else None
    paths = sorted(critical_dir.glob("*/critical_genes.json")) if critical_dir and critical_dir.is_dir() else []
    critical = [(path, read_json(path)) for path in paths]
    critical = [(path, c) for path, c in critical if Path(c.get("settings", {}).get("model", "")).name == model_name]
    if not critical:
        return None
    rows = [
        "| dataset | shots | top-N Jaccard | Spearman | completeness error | top genes |",
        "|---|---|---|---|---|---|",
    ]
    for path, c in critical:
        shots = c["settings"].get("shots")
        stability = c["stability"]
        genes = ", ".join(g["gene"] if isinstance(g, dict) else str(g) for g in c.get("top_genes", [])[:8])
        rows.append(
            f"| {path.parent.name} | {shots if shots is not None else 'none'} | "
            f"{stability['jaccard_top']:.2f} (top {stability['top']}) | {stability['spearman']:.2f} | "
            f"{c['completeness']['median_relative_delta']:.1e} | {genes} |"
        )
    jaccard = [c["stability"]["jaccard_top"] for _, c in critical if c["settings"].get("shots") is not None]
    return {
        "n_steps": critical[0][1]["settings"].get("n_steps"),
        "table": "\n".join(rows),
        "spearman": value_range([c["stability"]["spearman"] for _, c in critical]),
        "jaccard": value_range(jaccard) if jaccard else None,
        "commands": "\n".join(_critical_genes_command(path, c, runs) for path, c in critical),
    }


def _timing_section(bench: dict | None, folder: Path | None) -> dict[str, Any] | None:
    """CPU timings of `benchmarks/bench_meta.py` (``bench_meta.json``)."""
    if not (bench and "seconds" in bench):
        return None
    seconds = bench["seconds"]
    fewshot = bench.get("fewshot", {}).values()
    return {
        "threads": bench.get("torch_threads", "?"),
        "meta_batch": bench.get("meta_batch"),
        "support": bench.get("support"),
        "query": bench.get("query"),
        "inner_steps": bench.get("inner_steps"),
        "second_order": f"{seconds['maml_second_order_iteration']:.2f}",
        "first_order": f"{seconds['maml_first_order_iteration']:.2f}",
        "multitask": f"{seconds['multitask_step']:.2f}",
        "first_order_over_multitask": f"{bench.get('ratio_first_order_over_multitask', float('nan')):.1f}",
        "second_over_first_order": f"{bench.get('ratio_second_order_over_first_order', float('nan')):.2f}",
        "fewshot_k": bench.get("fewshot_k"),
        "fewshot_steps": bench.get("fewshot_steps"),
        "fewshot": value_range([v["lora_adaptation_s"] for v in fewshot]),
        "logistic_regression": value_range([v["logistic_regression_s"] for v in fewshot]),
        "results_file": display_path(folder / "bench_meta.json"),
    }


# ----------------------------------------------------------------------------- architecture and training
def _architecture(config: dict, n_parameters: int | None, weights: tuple[int, int] | None) -> dict[str, Any] | None:
    if not config:
        return None
    cell = [config["gene_panel_size"], *config["cell_hidden_sizes"], config["cell_embed_dim"]]
    fingerprint = config.get("use_fingerprint")
    return {
        "parameters": millions(n_parameters) if n_parameters else None,
        "megabytes": megabytes(weights[1]) if weights else None,
        "cell": " → ".join(f"{n:,}" for n in cell),
        "activation": config["hidden_act"].upper(),
        "dropout": config["hidden_dropout_prob"],
        "gene_dropout": f"{100 * config['gene_dropout']:.0f}",
        "drug_layers": config["drug_num_layers"],
        "drug_hidden": config["drug_hidden_size"],
        "drug_heads": config["drug_num_heads"],
        "drug_ffn": config["drug_intermediate_size"],
        "drug_pooling": config["drug_pooling"],
        "fingerprint_bits": f"{config['fingerprint_bits']:,}" if fingerprint else None,
        "fingerprint_radius": config["fingerprint_radius"] if fingerprint else None,
        "drug_embed": config["drug_embed_dim"] if fingerprint else None,
        "fusion_type": config["fusion_type"],
        "fusion": " → ".join(str(n) for n in [*config["fusion_hidden_sizes"], config["joint_embed_dim"]]),
        "regression_target": config.get("regression_target", "ln IC50"),
    }


def _train_command(args: dict) -> str:
    """The `meta_pretrain` command of one training stage, rebuilt from its saved arguments."""
    keys = META_PRETRAIN_COMMON + META_PRETRAIN_BY_MODE.get(args["mode"], META_PRETRAIN_BY_MODE["maml"])
    tokens = ["python", "-m", "txformers.training.meta_pretrain", "--mode", args["mode"]]
    tokens += flags(args, keys + ["max_grad_norm", "eval_every", "eval_shots", "seed"])
    if "max_grad_norm" not in args:
        tokens += ["--max-grad-norm", "0"]  # the run predates the option: no clipping
    return shell(tokens)


def _drug_split(training: dict, split: dict, target_drugs: list[str]) -> dict[str, Any]:
    """The drug-blind split of the checkpoint, and where the drugs of the single-cell targets fall in it."""
    from ..models.metascdrug.pipeline_metascdrug import normalize_drug_name  # imports torch: only when rendering

    where_drug = {normalize_drug_name(d): part for part in ("train", "validation", "test") for d in split[part]}
    placed = {d: where_drug.get(normalize_drug_name(d)) for d in target_drugs}
    return {
        "seed": training.get("split_seed"),
        "test": len(split["test"]),
        "validation": len(split["validation"]),
        "train": len(split["train"]),
        "best_validation": f"{training.get('best_validation', float('nan')):.3f}",
        "targets_in_train": ", ".join(d for d, part in placed.items() if part == "train"),
        "targets_absent": ", ".join(d for d, part in placed.items() if part is None),
    }


def _training_section(training: dict | None, split: dict | None, target_drugs: list[str]) -> dict[str, Any] | None:
    """How the checkpoint was trained (``training_args.json``, with the stage it started from)."""
    if not training:
        return None
    stages = ([training["init_from_args"]] if "init_from_args" in training else []) + [training]
    commands = "\n".join(
        f"# {i + 1}. {'multitask training' if s['mode'] == 'multitask' else 'MAML over drugs'}"
        f"{' (predates --max-grad-norm: no clipping)' if 'max_grad_norm' not in s else ''}\n{_train_command(s)}"
        for i, s in enumerate(stages)
    )
    first = stages[0]
    panel_files = [Path(f).name for f in first.get("panel_genes_from") or []]
    speeds = "; ".join(
        f"{'multitask step' if s['mode'] == 'multitask' else 'meta-iteration'} {s['mean_seconds_per_step']:.2f} s"
        for s in stages
        if "mean_seconds_per_step" in s
    )
    return {
        "sources": ", ".join(training.get("sources", [])),
        "split": _drug_split(training, split, target_drugs) if split else None,
        "n_genes": f"{first.get('n_genes', 0):,}",
        "panel_files": ", ".join(f"`{f}`" for f in panel_files),
        "commands": commands,
        "speeds": speeds,
    }


# ----------------------------------------------------------------------------- the card
def _resolve_model_key(runs: list[dict], name: str, model_key: str | None, where: str) -> str:
    """The model of the results that the card describes: ``model_key``, else the run of checkpoint ``name``."""
    keys = list(dict.fromkeys(_run_key(run) for run in runs))
    if model_key is None:
        model_key = next((_run_key(r) for r in runs if Path(r["model"]).name == name), None)
        if model_key is None and len(keys) == 1:
            model_key = keys[0]
    if model_key not in keys:
        raise ResultsError(
            f"{where} has no runs of model {model_key or name!r} (models: {', '.join(keys)}); pass --model-key"
        )
    return model_key


def metascdrug_card(
    results: dict,
    name: str,
    *,
    checkpoint: Path | None = None,
    results_file: str | None = None,
    results_path: Path | None = None,
    model_key: str | None = None,
    provenance: str | None = None,
    **_: Any,
) -> ModelCard:
    """Card of a MetaSCDrug checkpoint from the few-shot results of `txformers.training.fewshot` (the main
    file) and, when present next to it, the unseen-drug (`meta_pretrain --mode evaluate`), MMD, validation,
    critical-gene and timing results."""
    where = results_file or "the few-shot results"
    runs = _fewshot_runs(results, where)
    model_key = _resolve_model_key(runs, name, model_key, where)
    fewshot = FewShot(runs, model_key)
    folder = results_path.parent if results_path else None

    def sibling(file: str) -> dict | None:
        return read_json(folder / file) if folder else None

    training = read_json(checkpoint / "training_args.json") if checkpoint else None
    split = read_json(checkpoint / "drug_split.json") if checkpoint else None
    processor = read_json(checkpoint / "processor_config.json") if checkpoint else None
    config = checkpoint_config(checkpoint)
    settings = fewshot.mine[0].get("settings", {})
    eval_results = fewshot.metrics(where)
    unseen = sibling("unseen_drugs.json")
    unseen_section = _unseen_section(unseen, model_key, fewshot.others, folder, sibling, training)
    if unseen_section:
        eval_results += _unseen_metrics(unseen, model_key)
    weights = checkpoint_weights(checkpoint)
    n_parameters = (training or {}).get("n_parameters") or (weights[0] if weights else None)
    first_k = fewshot.shots[0]
    coverage = [fewshot.by_key[(model_key, d, first_k)].get("panel_coverage") for d in fewshot.datasets]
    coverage = [c for c in coverage if c is not None]
    first_sd = [fewshot.by_key[(model_key, d, first_k)]["metrics"].get("accuracy_sd", 0.0) for d in fewshot.datasets]
    mode = (training or {}).get("mode")
    card_data = ModelCardData(
        library_name="transformers",
        license="bsd-3-clause",
        tags=TAGS + (["meta-learning", "maml"] if mode == "maml" else []),
        model_name=name,
        eval_results=eval_results,
    )
    min_coverage = (processor or {}).get("min_coverage")
    return render_template(
        "metascdrug",
        card_data,
        name=name,
        model_key=model_key,
        others=fewshot.others,
        mode=mode,
        fingerprint=config.get("use_fingerprint"),
        min_coverage=f"{100 * min_coverage:.0f}",
        architecture=_architecture(config, n_parameters, weights),
        training=_training_section(training, split, list(dict.fromkeys(fewshot.drug_of.values()))),
        results_file=where,
        paths_note=paths_note(results),
        settings=settings,
        seeds=fewshot.seeds,
        fewshot_table=fewshot.table(),
        **fewshot.summary(),
        vs_logistic_regression=fewshot.vs_logistic_regression(),
        vs_others=fewshot.vs_others(),
        twins=fewshot.twins(),
        mmd=fewshot.mmd(sibling("single_cell_fewshot_mmd.json")),
        budget=fewshot.budget(folder, settings.get("steps")),
        fewshot_command=fewshot.command(settings, results_file),
        unseen=unseen_section,
        critical=_critical_genes_section(folder, checkpoint.name if checkpoint else name, runs),
        timing=_timing_section(sibling("bench_meta.json"), folder),
        coverage=value_range([100 * c for c in coverage], ".0f") if coverage else None,
        max_first_sd=f"{max(first_sd):.2f}",
        first_k=first_k,
        provenance=provenance,
        **evaluation_section(recorded_evaluation(checkpoint), f"checkpoints/{name}/evaluation.json", name),
    )
