# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Drug response of drugs held out of pre-training: AUROC within each drug, zero-shot and few-shot.

:func:`evaluate_drugs` scores MetaSCDrug models on held-out GDSC drugs next to no-model baselines (cell lines
ranked by their mean z-scored ln IC50 over other drugs) and logistic regression on the same ``k`` cell lines;
:func:`evaluate_checkpoints` does it for saved checkpoints (``meta_pretrain --mode evaluate``).
:func:`baseline_over_drugs` places the held-out drugs in the distribution of the no-model baseline over every
drug (``meta_pretrain --mode baseline``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from ...models.metascdrug import MetaScDrugForDrugResponse, MetaScDrugProcessor
from .meta_learning import (
    ARGS_FILE,
    SPLIT_FILE,
    DrugInputs,
    GdscTables,
    adaptable_parameters,
    inner_adapt,
    load_gdsc_tables,
)

# the baseline's mean AUROC that DESIGN.md quotes (for another drug set)
REFERENCE_BASELINE = 0.818


def _auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, scores))


def general_sensitivity(tables: GdscTables, train_tasks: Sequence[int], source: str | None = None) -> np.ndarray:
    """No-model baseline score per cell line: minus its mean z-scored ln IC50 over ``train_tasks``
    (optionally only tasks of ``source``). NaN for cell lines never measured."""
    tasks = set(int(t) for t in train_tasks)
    if source is not None:
        tasks &= set(tables.tasks.index[tables.tasks["source"] == source])
    pairs = tables.pairs[tables.pairs["task"].isin(tasks)]
    mean = pairs.groupby("cell")["z"].mean()
    score = np.full(len(tables.cell_keys), np.nan)
    score[mean.index.to_numpy()] = -mean.to_numpy()
    return score


@torch.no_grad()
def _embed(model: MetaScDrugForDrugResponse, tables: GdscTables, drugs: DrugInputs, task: int, cells: np.ndarray):
    model.eval()
    device = next(model.parameters()).device
    drug = model.metascdrug.drug_encoder(**{k: v.to(device) for k, v in drugs(torch.tensor([task])).items()})
    cell = model.metascdrug.cell_encoder(tables.expression[cells].to(device))
    return cell, drug


def fewshot_drug_scores(
    model: MetaScDrugForDrugResponse,
    tables: GdscTables,
    drugs: DrugInputs,
    task: int,
    support: np.ndarray,
    steps: int,
    lr: float,
    adapt: str = "head",
    score: str = "logit",
) -> np.ndarray:
    """Scores of all cell lines of ``task`` after adapting on the pairs at positions ``support`` (none: zero-shot).

    ``score``: ``"logit"`` (the sensitive logit) or ``"regression"`` (minus the predicted z-scored ln IC50).
    """
    pairs = tables.task_pairs(task)
    cell_embeds, drug_embeds = _embed(model, tables, drugs, task, pairs["cell"].to_numpy())
    params = {name: value.detach() for name, value in adaptable_parameters(model, adapt).items()}
    if len(support) and steps > 0:
        with torch.enable_grad():
            params = inner_adapt(
                model,
                params,
                cell_embeds[support],
                drug_embeds,
                torch.as_tensor(pairs["label"].to_numpy()[support]),
                torch.as_tensor(pairs["z"].to_numpy()[support]),
                steps,
                lr,
                first_order=True,
            )
    with torch.no_grad():
        inputs = {"cell_embeds": cell_embeds, "drug_embeds": drug_embeds}
        output = functional_call(model, params, args=(), kwargs=inputs)
    values = output.sensitive_logit if score == "logit" else -output.ln_ic50
    return values.cpu().numpy()


def _stratified(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` positions with both classes (``k // 2`` sensitive, the rest resistant)."""
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    n_positive = k // 2
    return np.concatenate(
        [rng.choice(positive, n_positive, replace=False), rng.choice(negative, k - n_positive, replace=False)]
    )


def evaluate_drugs(
    models: dict[str, MetaScDrugForDrugResponse],
    tables: GdscTables,
    drugs: DrugInputs,
    drug_names: Sequence[str],
    train_tasks: Sequence[int],
    shots: Sequence[int] = (10,),
    seeds: int = 5,
    source: str = "GDSC2",
    adapt_settings: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """AUROC within each held-out drug (its ``source`` task): baselines and each model, zero-shot and few-shot.

    For each seed and ``k`` in ``shots``, ``k`` labelled cell lines (half sensitive) are drawn per drug; every
    method is scored on the other cell lines of that drug. Methods: ``general_sensitivity`` (mean z-scored
    ln IC50 over the training drugs, no model), ``general_sensitivity_<source>`` (the same over the training
    drugs of ``source``), ``general_sensitivity_all_other_drugs`` (over every other drug, held-out ones
    included: the baseline as DESIGN.md defines it), ``logistic_regression`` on the ``k`` cell lines' panel
    expression, and for each model ``<name>_zeroshot`` and ``<name>_fewshot`` (inner-loop adaptation of the
    head on the ``k`` cell lines).
    """
    from sklearn.linear_model import LogisticRegression

    adapt_settings = adapt_settings or {}
    general = general_sensitivity(tables, train_tasks)
    general_source = general_sensitivity(tables, train_tasks, source)
    task_of = {drug: int(i) for i, drug in tables.tasks.loc[tables.tasks["source"] == source, "drug"].items()}
    missing = [drug for drug in drug_names if drug not in task_of]
    if missing:
        raise ValueError(f"drugs without a {source} task: {missing[:10]}")
    results: dict[str, Any] = {"drugs": list(drug_names), "source": source, "shots": {}}
    all_other = {
        drug: general_sensitivity(tables, tables.tasks.index[tables.tasks["drug"] != drug]) for drug in drug_names
    }
    zero_shot = {}
    for name, model in models.items():
        score = adapt_settings.get(name, {}).get("score", "logit")
        zero_shot[name] = {
            drug: fewshot_drug_scores(model, tables, drugs, task_of[drug], np.array([], int), 0, 0.0, score=score)
            for drug in drug_names
        }
    for k in shots:
        per_method: dict[str, list[list[float]]] = {}
        for drug in drug_names:
            task = task_of[drug]
            pairs = tables.task_pairs(task)
            labels = pairs["label"].to_numpy()
            cells = pairs["cell"].to_numpy()
            for seed in range(seeds):
                rng = np.random.default_rng([seed, task, k])
                support = _stratified(labels, k, rng) if k else np.array([], dtype=int)
                rest = np.setdiff1d(np.arange(len(pairs)), support)
                scores = {
                    "general_sensitivity": general[cells],
                    f"general_sensitivity_{source}": general_source[cells],
                    "general_sensitivity_all_other_drugs": all_other[drug][cells],
                }
                if k:
                    classifier = LogisticRegression(max_iter=2000)
                    classifier.fit(tables.expression[cells[support]].numpy(), labels[support])
                    scores["logistic_regression"] = classifier.decision_function(tables.expression[cells].numpy())
                for name, model in models.items():
                    scores[f"{name}_zeroshot"] = zero_shot[name][drug]
                    if k:
                        setting = {"steps": 5, "lr": 0.005, "adapt": "head", **adapt_settings.get(name, {})}
                        scores[f"{name}_fewshot"] = fewshot_drug_scores(
                            model,
                            tables,
                            drugs,
                            task,
                            support,
                            setting["steps"],
                            setting["lr"],
                            setting["adapt"],
                            setting.get("score", "logit"),
                        )
                for method, values in scores.items():
                    known = np.isfinite(values[rest])
                    auroc = _auroc(labels[rest][known], values[rest][known])
                    per_method.setdefault(method, [[] for _ in drug_names])[drug_names.index(drug)].append(auroc)
        summary = {}
        for method, table in per_method.items():
            per_drug = np.array([np.nanmean(values) for values in table])
            summary[method] = {
                "auroc": float(np.nanmean(per_drug)),
                "auroc_median": float(np.nanmedian(per_drug)),
                "auroc_sd_over_seeds": float(np.nanstd([np.nanmean([row[s] for row in table]) for s in range(seeds)])),
                "per_drug": {drug: float(value) for drug, value in zip(drug_names, per_drug)},
            }
        results["shots"][str(k)] = summary
    return results


def baseline_over_drugs(
    tables: GdscTables,
    held_out: Sequence[str],
    source: str = "GDSC2",
    n_sets: int = 2000,
    seed: int = 0,
    reference: float | None = REFERENCE_BASELINE,
) -> dict[str, Any]:
    """DESIGN.md's no-model baseline (cell lines ranked by their mean z-scored ln IC50 over every other
    drug) for every ``source`` drug, to place a held-out set and a reference figure in its distribution:
    per-drug AUROC, their mean and median, the held-out drugs' mean, and the means of ``n_sets`` random
    drug sets of the held-out set's size (mean, sd, percentiles, and the fraction at or above ``reference``)."""
    per_drug = {}
    for task, drug in tables.tasks.loc[tables.tasks["source"] == source, "drug"].items():
        pairs = tables.task_pairs(int(task))
        labels, cells = pairs["label"].to_numpy(), pairs["cell"].to_numpy()
        score = general_sensitivity(tables, tables.tasks.index[tables.tasks["drug"] != drug])[cells]
        known = np.isfinite(score)
        auroc = _auroc(labels[known], score[known])
        if np.isfinite(auroc):
            per_drug[drug] = auroc
    missing = [drug for drug in held_out if drug not in per_drug]
    if missing:
        raise ValueError(f"held-out drugs without a scorable {source} task: {missing[:10]}")
    values = np.array(list(per_drug.values()))
    rng = np.random.default_rng(seed)
    set_means = np.array([values[rng.choice(len(values), len(held_out), replace=False)].mean() for _ in range(n_sets)])
    result = {
        "source": source,
        "n_drugs": len(values),
        "auroc_mean": float(values.mean()),
        "auroc_median": float(np.median(values)),
        "auroc_sd": float(values.std()),
        "held_out": {"n_drugs": len(held_out), "auroc_mean": float(np.mean([per_drug[d] for d in held_out]))},
        "random_sets": {
            "n_sets": n_sets,
            "size": len(held_out),
            "seed": seed,
            "mean": float(set_means.mean()),
            "sd": float(set_means.std()),
            "percentiles": {str(q): float(np.percentile(set_means, q)) for q in (5, 50, 95)},
        },
        "per_drug": per_drug,
    }
    if reference is not None:
        result["reference"] = reference
        result["random_sets"]["fraction_at_or_above_reference"] = float(np.mean(set_means >= reference))
    return result


# ----------------------------------------------------------------------------- saved checkpoints
def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def gdsc2_drugs(tables: GdscTables) -> set[str]:
    """The drugs with a GDSC2 task."""
    return set(tables.tasks.loc[tables.tasks.source == "GDSC2", "drug"])


def evaluate_checkpoints(
    data_dir: str | Path,
    checkpoints: dict[str, str],
    split: str = "test",
    shots: Sequence[int] = (0, 10),
    seeds: int = 5,
    adapt_steps: int | None = None,
    adapt_lr: float | None = None,
) -> dict[str, Any]:
    """:func:`evaluate_drugs` for saved checkpoints (``{name: folder}``) on the ``split`` drugs of the first one.

    Every checkpoint must share the first one's held-out drugs and gene panel; all adapt with one setting (the
    first checkpoint's inner loop unless ``adapt_steps`` / ``adapt_lr`` are given), a fair comparison.
    """
    first = next(iter(checkpoints.values()))
    drug_split = _read_json(Path(first) / SPLIT_FILE)
    processor = MetaScDrugProcessor.from_pretrained(first)
    first_args = _read_json(Path(first) / ARGS_FILE)
    setting = {
        "steps": adapt_steps if adapt_steps is not None else first_args.get("inner_steps", 5),
        "lr": adapt_lr if adapt_lr is not None else first_args.get("inner_lr", 0.005),
        "adapt": first_args.get("adapt", "head"),
    }
    models, settings = {}, {}
    for name, path in checkpoints.items():
        other = _read_json(Path(path) / SPLIT_FILE)
        if other["test"] != drug_split["test"]:
            raise ValueError(f"{path} was trained with other held-out drugs than {first}")
        if MetaScDrugProcessor.from_pretrained(path).genes != processor.genes:
            raise ValueError(f"{path} has another gene panel than {first}")
        models[name] = MetaScDrugForDrugResponse.from_pretrained(path).eval()
        settings[name] = dict(setting)
    sources = first_args.get("sources", ["GDSC1", "GDSC2"])
    tables = load_gdsc_tables(data_dir, processor.genes, sources)
    drugs = DrugInputs(processor, tables.tasks["smiles"].tolist())
    train_tasks = tables.tasks.index[tables.tasks["drug"].isin(set(drug_split["train"]))].to_numpy()
    start = time.perf_counter()
    gdsc2 = gdsc2_drugs(tables)
    evaluated = [drug for drug in drug_split[split] if drug in gdsc2]
    result = evaluate_drugs(models, tables, drugs, evaluated, train_tasks, shots, seeds, adapt_settings=settings)
    result.update(
        split=split,
        models=dict(checkpoints),
        adapt_settings=settings,
        seconds=time.perf_counter() - start,
        sources=sources,
        reference_baseline_design_md=REFERENCE_BASELINE,
    )
    return result


def checkpoint_baseline(data_dir: str | Path, checkpoint: str | Path, split: str = "test") -> dict[str, Any]:
    """:func:`baseline_over_drugs` for the held-out ``split`` drugs of ``checkpoint`` (its drug split and panel)."""
    drug_split = _read_json(Path(checkpoint) / SPLIT_FILE)
    processor = MetaScDrugProcessor.from_pretrained(checkpoint)
    tables = load_gdsc_tables(data_dir, processor.genes, ["GDSC2"])
    gdsc2 = gdsc2_drugs(tables)
    held_out = [drug for drug in drug_split[split] if drug in gdsc2]
    return baseline_over_drugs(tables, held_out)
