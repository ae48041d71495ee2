# Copyright 2026 The txformers authors. BSD-3-Clause.
"""``txformers evaluate`` for a MetaSCDrug checkpoint: every number re-derived with CIs, next to the baselines.

Two parts, each with its peers trained and scored in the same run (rows of :mod:`txformers.evaluation`):

* **Single-cell targets** (the SCAD files of ``<data>/sc_scad_targets``: A375 PLX4720, SCC47 AR-42 and
  gefitinib): for each ``k`` and seed, ``k`` labelled cells per class (the shots of
  :func:`~.fewshot.sample_shots`), scored on all other cells. Models: the checkpoint (LoRA few-shot transfer,
  :func:`~.fewshot.adapt_and_predict` with the card's settings), its random-init twin (the same architecture
  from random weights, the same adaptation), logistic regression as the card has it (C=1, every gene), and
  logistic regression and LightGBM with feature selection and tuning inside the shots
  (:func:`~.baselines.fewshot_baseline`). Rows per file and their mean over files; CIs by bootstrap over seeds
  (files paired within a seed). ``comparisons`` give the paired difference checkpoint - peer per ``k`` (same
  shots) with its CI and a word: above / level / below.
* **Unseen drugs** (the checkpoint's held-out ``test`` drugs with a GDSC2 task): AUROC within each drug of the
  checkpoint zero-shot, the no-model baseline (cell lines ranked by their mean z-scored ln IC50 over the
  training drugs), a second no-model baseline from the drugs most similar to the held-out one
  (:func:`~.baselines.similar_drug_scores`, neighbours and weighting chosen on the validation drugs) and LightGBM
  on drug fingerprints + cell features + that similar-drug score (:func:`~.baselines.unseen_drug_lightgbm`),
  ``residual_knn`` and ``kernel_ridge`` (general sensitivity + the drug-specific profile predicted from
  fingerprint kernels, :mod:`~.profile_ridge`; chosen on the validation drugs + a drug-wise CV of the training
  drugs) alone and blended; CIs by bootstrap over drugs.

``quick`` runs one file, ``k = 3``, three seeds and no unseen-drug part: what CI can afford (see
:data:`QUICK`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...evaluation import make_results, make_row, paired_difference
from ...hub import SHARED_DATA

SC_FOLDER = "sc_scad_targets"
SC_FILE = "Target_expr_resp_z.{}_tp4k.tsv"
SC_DRUGS = ("PLX4720", "AR-42", "Gefitinib")
METRICS = ("accuracy", "auroc", "ap", "f1")
FULL = {"files": SC_DRUGS, "shots": (1, 3, 5), "seeds": 10, "unseen_drugs": True}
QUICK = {"files": ("PLX4720",), "shots": (3,), "seeds": 3, "unseen_drugs": False}
# the LoRA few-shot settings of the cards' runs (results/metascdrug/single_cell_fewshot.json)
ADAPT = {"steps": 50, "lr": 3e-3, "r": 8, "alpha": 16}
BASELINES = ("logistic_regression", "logistic_regression_tuned", "lightgbm_tuned")
PEERS = ("lightgbm_tuned", "logistic_regression_tuned", "random_init")


def default_data() -> Path:
    """``../shared/data/drug`` beside the repository."""
    return SHARED_DATA / "drug"


def _random_init_twin(model, seed: int = 0):
    import torch

    from ...models.metascdrug import MetaScDrugForDrugResponse

    torch.manual_seed(seed)
    return MetaScDrugForDrugResponse(model.config).eval()


# ----------------------------------------------------------------------------- single cells
def single_cell_scores(
    checkpoint: str | Path,
    data: str | Path,
    files: Sequence[str] = SC_DRUGS,
    shots: Sequence[int] = (1, 3, 5),
    seeds: int = 10,
    name: str | None = None,
) -> list[dict[str, Any]]:
    """One record per (file, k, seed, model): the metrics on the cells outside the shots and, for the tuned
    baselines, the chosen setting."""
    import torch

    from .baselines import fewshot_baseline
    from .fewshot import (
        _load,
        adapt_and_predict,
        check_labels,
        classification_metrics,
        logistic_regression_predict,
        sample_shots,
    )
    from .inputs import load_dataset, resolve_drug

    name = name or Path(checkpoint).name
    model, processor = _load(checkpoint)
    twin = _random_init_twin(model)
    records = []
    for drug in files:
        path = Path(data) / SC_FOLDER / SC_FILE.format(drug)
        if not path.is_file():
            raise FileNotFoundError(f"single-cell target {path} is missing")
        expression, labels = load_dataset(path)
        labels = labels.to_numpy()
        smiles = resolve_drug(None, path, None)["smiles"]
        inputs = dict(processor.encode_cells(expression))
        inputs.pop("coverage")
        raw = expression.to_numpy(np.float32)
        with torch.no_grad():
            drug_inputs = processor.encode_drugs(smiles)
            nets = ((name, model), ("random_init", twin))
            embeds = {m: net.metascdrug.drug_encoder(**drug_inputs) for m, net in nets}
        for k in shots:
            labels = check_labels(labels, k)
            for seed in range(seeds):
                support, rest = sample_shots(labels, k, seed)
                probabilities, settings = {}, {}
                for model_name, net in ((name, model), ("random_init", twin)):
                    probabilities[model_name] = adapt_and_predict(
                        net, inputs, embeds[model_name], labels, support, seed=seed, **ADAPT
                    )
                probabilities["logistic_regression"] = logistic_regression_predict(raw, labels, support, seed)
                for kind in ("logistic_regression", "lightgbm"):
                    probability, setting = fewshot_baseline(kind, raw, labels, support, seed)
                    probabilities[f"{kind}_tuned"], settings[f"{kind}_tuned"] = probability, setting
                for model_name, probability in probabilities.items():
                    metrics = classification_metrics(labels[rest], probability[rest])
                    record = {"data": drug, "k": int(k), "seed": seed, "model": model_name, **metrics}
                    if model_name in settings:
                        record["setting"] = settings[model_name]
                    records.append(record)
    return records


def single_cell_rows(records: list[dict[str, Any]], name: str) -> tuple[list[dict], list[dict]]:
    """Rows per (k, file) and per k over files (seeds x files, paired by seed), and the paired comparisons of
    ``name`` with each peer per k and metric."""
    rows, comparisons = [], []
    files = list(dict.fromkeys(r["data"] for r in records))
    models = list(dict.fromkeys(r["model"] for r in records))
    for k in sorted({r["k"] for r in records}):
        table: dict[tuple[str, str], dict[str, dict[int, float]]] = {}
        for r in records:
            if r["k"] == k:
                for metric in METRICS:
                    table.setdefault((r["model"], metric), {}).setdefault(r["data"], {})[r["seed"]] = r[metric]
        seeds = sorted({r["seed"] for r in records if r["k"] == k})

        def matrix(model: str, metric: str) -> np.ndarray:
            cells = table[(model, metric)]
            return np.array([[cells[f][s] for f in files] for s in seeds])  # noqa: B023

        for model in models:
            for metric in METRICS:
                values = matrix(model, metric)
                for index, drug in enumerate(files):
                    rows.append(make_row(model, metric, values[:, index], setting=f"k={k}", data=drug))
                if len(files) > 1:
                    rows.append(make_row(model, metric, values, setting=f"k={k}", data=f"mean of {len(files)}"))
        for peer in PEERS:
            for metric in ("accuracy", "auroc"):
                ours, theirs = matrix(name, metric).mean(1), matrix(peer, metric).mean(1)
                comparisons.append(
                    {"setting": f"k={k}", "metric": metric, "model": name, "peer": peer, "n_seeds": len(seeds)}
                    | paired_difference(ours, theirs)
                )
    return rows, comparisons


# ----------------------------------------------------------------------------- unseen drugs
def unseen_drug_scores(checkpoint: str | Path, data: str | Path, name: str | None = None) -> dict[str, Any]:
    """Per held-out drug (the checkpoint's ``test`` drugs with a GDSC2 task): AUROC over its cell lines of the
    checkpoint zero-shot, the no-model baseline and LightGBM; plus the LightGBM training details."""
    import json

    from ...models.metascdrug import MetaScDrugForDrugResponse, MetaScDrugProcessor
    from .baselines import (
        ENSEMBLE_WEIGHTS,
        RESIDUAL_GRID,
        SIMILAR_GRID,
        cell_components,
        rank_ensemble,
        residual_knn_scores,
        similar_drug_scores,
        tanimoto,
        unseen_drug_lightgbm,
    )
    from .meta_learning import ARGS_FILE, SPLIT_FILE, DrugInputs, load_gdsc_tables
    from .profile_ridge import (
        BLEND_WEIGHTS,
        COUNT_FINGERPRINTS,
        KERNEL_RIDGE_GRID,
        choose_on_drugs,
        drug_kernel,
        kernel_ridge_scores,
    )
    from .unseen_drugs import _auroc, evaluate_drugs, fewshot_drug_scores, gdsc2_drugs, general_sensitivity

    name = name or Path(checkpoint).name
    checkpoint = Path(checkpoint)
    split = json.loads((checkpoint / SPLIT_FILE).read_text())
    args = json.loads((checkpoint / ARGS_FILE).read_text()) if (checkpoint / ARGS_FILE).is_file() else {}
    processor = MetaScDrugProcessor.from_pretrained(checkpoint)
    model = MetaScDrugForDrugResponse.from_pretrained(checkpoint).eval()
    tables = load_gdsc_tables(Path(data) / "bulk_gdsc", processor.genes, args.get("sources", ["GDSC2"]))
    gdsc2 = gdsc2_drugs(tables)
    held_out = [drug for drug in split["test"] if drug in gdsc2]
    train_tasks = tables.tasks.index[tables.tasks["drug"].isin(set(split["train"]))].to_numpy()
    validation_tasks = tables.tasks.index[tables.tasks["drug"].isin(set(split.get("validation", [])))].to_numpy()
    drugs = DrugInputs(processor, tables.tasks["smiles"].tolist())
    zero_shot = evaluate_drugs({name: model}, tables, drugs, held_out, train_tasks, shots=(0,), seeds=1)["shots"]["0"]
    per_drug = {
        name: zero_shot[f"{name}_zeroshot"]["per_drug"],
        "general_sensitivity": zero_shot["general_sensitivity"]["per_drug"],
    }
    pairs = tables.pairs
    pair_cells, pair_tasks, labels = pairs["cell"].to_numpy(), pairs["task"].to_numpy(), pairs["label"].to_numpy()
    fingerprints = processor.fingerprints(tables.tasks["smiles"].tolist()).astype(np.float32)
    # similarity to the drugs seen in training: z of the cell line under the most similar training drugs,
    # neighbours and weighting chosen on the validation drugs
    z = np.full((len(tables.tasks), len(tables.cell_keys)), np.nan)
    z[pair_tasks, pair_cells] = pairs["z"].to_numpy()
    similarity = tanimoto(fingerprints)
    general = general_sensitivity(tables, train_tasks)

    def drug_aurocs(score_matrix: np.ndarray, tasks: Sequence[int]) -> list[float]:
        out = []
        for task in tasks:
            mask = pair_tasks == task
            score = score_matrix[task, pair_cells[mask]]
            out.append(_auroc(labels[mask], np.where(np.isfinite(score), score, general[pair_cells[mask]])))
        return out

    def target_aurocs(scores: np.ndarray, tasks: Sequence[int]) -> list[float]:
        full = np.full(z.shape, np.nan)
        full[np.asarray(tasks)] = scores
        return drug_aurocs(full, tasks)

    choice = max(
        SIMILAR_GRID,
        key=lambda g: np.nanmean(
            drug_aurocs(similar_drug_scores(z, similarity, train_tasks, g["m"], g["power"]), validation_tasks)
        ),
    )
    similar = similar_drug_scores(z, similarity, train_tasks, choice["m"], choice["power"])
    task_of = {drug: int(i) for i, drug in tables.tasks.loc[tables.tasks["source"] == "GDSC2", "drug"].items()}
    held_out_tasks = [task_of[d] for d in held_out]
    per_drug["similar_drugs"] = dict(zip(held_out, drug_aurocs(similar, held_out_tasks)))
    # the drug-specific part beyond general sensitivity, from similar training drugs' residuals; then the same
    # ensembled with the checkpoint's zero-shot score (rank average); settings and weight chosen on validation
    residual_choice = max(
        RESIDUAL_GRID,
        key=lambda g: np.nanmean(drug_aurocs(residual_knn_scores(z, similarity, train_tasks, **g), validation_tasks)),
    )
    residual = residual_knn_scores(z, similarity, train_tasks, **residual_choice)
    per_drug["residual_knn"] = dict(zip(held_out, drug_aurocs(residual, held_out_tasks)))
    # the drug-specific profile predicted by kernel ridge on fingerprint kernels, alone and blended with
    # residual_knn; setting and weight chosen on the validation drugs + a drug-wise CV of the training drugs
    kernel = drug_kernel(tables.tasks["smiles"].tolist(), fingerprints)
    ridge_choice, ridge_validation, _ = choose_on_drugs(
        lambda ref, targets, g: kernel_ridge_scores(z, kernel, ref, targets, **g),
        KERNEL_RIDGE_GRID,
        train_tasks,
        validation_tasks,
        target_aurocs,
    )
    cached: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def blend(ref: np.ndarray, targets: np.ndarray, weight: float) -> np.ndarray:
        key = np.asarray(ref).tobytes() + np.asarray(targets).tobytes()
        if key not in cached:
            ridge = kernel_ridge_scores(z, kernel, ref, targets, **ridge_choice)
            cached[key] = (ridge, residual_knn_scores(z, similarity, ref, **residual_choice)[targets])
        return weight * cached[key][0] + (1.0 - weight) * cached[key][1]

    blend_weight, blend_validation, _ = choose_on_drugs(
        blend, BLEND_WEIGHTS, train_tasks, validation_tasks, target_aurocs
    )
    ridge = kernel_ridge_scores(z, kernel, train_tasks, held_out_tasks, **ridge_choice)
    per_drug["kernel_ridge"] = dict(zip(held_out, target_aurocs(ridge, held_out_tasks)))
    blended = blend(train_tasks, np.asarray(held_out_tasks), blend_weight)
    per_drug["kernel_ridge+residual_knn"] = dict(zip(held_out, target_aurocs(blended, held_out_tasks)))
    model_scores = np.full(z.shape, np.nan)
    for task in [*validation_tasks, *held_out_tasks]:
        cells = tables.task_pairs(int(task))["cell"].to_numpy()
        model_scores[task, cells] = fewshot_drug_scores(model, tables, drugs, int(task), np.array([], int), 0, 0.0)
    weight = max(
        ENSEMBLE_WEIGHTS,
        key=lambda w: np.nanmean(drug_aurocs(rank_ensemble(model_scores, residual, w), validation_tasks)),
    )
    ensemble = np.vstack([rank_ensemble(model_scores[t], residual[t], weight) for t in range(len(z))])
    per_drug[f"{name}+residual_knn"] = dict(zip(held_out, drug_aurocs(ensemble, held_out_tasks)))
    validation_auroc = {
        "similar_drugs": float(np.nanmean(drug_aurocs(similar, validation_tasks))),
        "residual_knn": float(np.nanmean(drug_aurocs(residual, validation_tasks))),
        f"{name}+residual_knn": float(np.nanmean(drug_aurocs(ensemble, validation_tasks))),
        "general_sensitivity": float(np.nanmean(drug_aurocs(np.tile(general, (len(z), 1)), validation_tasks))),
        name: float(np.nanmean(drug_aurocs(model_scores, validation_tasks))),
        "kernel_ridge": float(
            np.nanmean(
                target_aurocs(
                    kernel_ridge_scores(z, kernel, train_tasks, validation_tasks, **ridge_choice), validation_tasks
                )
            )
        ),
        "kernel_ridge+residual_knn": float(
            np.nanmean(target_aurocs(blend(train_tasks, validation_tasks, blend_weight), validation_tasks))
        ),
    }
    scores, info = unseen_drug_lightgbm(
        pair_cells,
        pair_tasks,
        pairs["z"].to_numpy(np.float64),
        cell_components(tables.expression.numpy()),
        fingerprints,
        train_tasks,
        validation_tasks,
        pair_features=similar[pair_tasks, pair_cells],
    )
    per_drug["lightgbm"] = {}
    for drug in held_out:
        mask = pair_tasks == task_of[drug]
        per_drug["lightgbm"][drug] = _auroc(labels[mask], scores[mask])
    return {
        "drugs": held_out,
        "per_drug": per_drug,
        "lightgbm": info,
        "similar_drugs": {"chosen_on_validation_drugs": choice, "grid": SIMILAR_GRID},
        "residual_knn": {"chosen_on_validation_drugs": residual_choice, "grid": RESIDUAL_GRID},
        "kernel_ridge": {
            "chosen_on_validation_and_cv_training_drugs": ridge_choice,
            "grid": KERNEL_RIDGE_GRID,
            "kernel": ["morgan_bits_tanimoto", *[f"{kind}_counts_minmax" for kind in COUNT_FINGERPRINTS]],
            "selection_auroc": ridge_validation,
            "blend_weight_on_kernel_ridge": blend_weight,
            "blend_selection_auroc": blend_validation,
            "blend_weights": list(BLEND_WEIGHTS),
        },
        "ensemble": {"model": name, "weight_chosen_on_validation_drugs": weight, "weights": list(ENSEMBLE_WEIGHTS)},
        "validation_auroc": validation_auroc,
        "n_validation_drugs": int(len(validation_tasks)),
        "n_train_drugs": int(len(train_tasks)),
    }


def unseen_drug_rows(result: dict[str, Any], name: str) -> tuple[list[dict], list[dict]]:
    """AUROC rows (CI over drugs) and the paired comparisons of ``name`` and LightGBM with the no-model baseline."""
    drugs = result["drugs"]
    values = {model: np.array([per[d] for d in drugs]) for model, per in result["per_drug"].items()}
    setting = "unseen drugs (zero-shot)"
    rows = [make_row(model, "auroc", v, setting=setting, data="GDSC2") for model, v in values.items()]
    comparisons = [
        {"setting": setting, "metric": "auroc", "model": model, "peer": "general_sensitivity"}
        | paired_difference(values[model], values["general_sensitivity"])
        for model in (
            name,
            "similar_drugs",
            "lightgbm",
            "residual_knn",
            f"{name}+residual_knn",
            "kernel_ridge",
            "kernel_ridge+residual_knn",
        )
        if model in values
    ]
    if "lightgbm" in values:
        comparisons.append(
            {"setting": setting, "metric": "auroc", "model": name, "peer": "lightgbm"}
            | paired_difference(values[name], values["lightgbm"])
        )
    return rows, comparisons


# ----------------------------------------------------------------------------- the evaluation
def verdicts(comparisons: list[dict[str, Any]]) -> list[str]:
    """Plain sentences: is the checkpoint at or above each peer (paired CI of the difference)."""
    words = {"above": "ABOVE", "level": "LEVEL WITH (CI of the difference holds 0)", "below": "BELOW"}
    lines = []
    for c in comparisons:
        lines.append(
            f"{c['setting']}, {c['metric']}: {c['model']} is {words[c['verdict']]} {c['peer']}: "
            f"difference {c['difference']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]"
        )
    return lines


def evaluate_checkpoint(
    checkpoint: str | Path, data: str | Path | None = None, quick: bool = False, command: str | None = None
) -> dict[str, Any]:
    """The evaluation of a MetaSCDrug checkpoint (see the module docstring) as a results dict of
    :mod:`txformers.evaluation`; ``data`` is the drug data folder (default ``../shared/data/drug``)."""
    data = Path(data) if data is not None else default_data()
    if not (data / SC_FOLDER).is_dir():
        raise FileNotFoundError(
            f"{data} has no {SC_FOLDER}/ folder: give --data the drug data folder (sc_scad_targets/, bulk_gdsc/, ...)"
        )
    plan = QUICK if quick else FULL
    name = Path(checkpoint).name
    start = time.perf_counter()
    records = single_cell_scores(checkpoint, data, plan["files"], plan["shots"], plan["seeds"], name)
    rows, comparisons = single_cell_rows(records, name)
    extra: dict[str, Any] = {}
    if plan["unseen_drugs"]:
        unseen = unseen_drug_scores(checkpoint, data, name)
        more_rows, more_comparisons = unseen_drug_rows(unseen, name)
        rows += more_rows
        comparisons += more_comparisons
        extra["unseen_drugs"] = unseen
    return make_results(
        checkpoint,
        data,
        "single cells: all cells outside the k shots per class; unseen drugs: the checkpoint's test drugs",
        list(range(plan["seeds"])),
        command,
        rows,
        plan={key: list(value) if isinstance(value, tuple) else value for key, value in plan.items()},
        adaptation=ADAPT,
        comparisons=comparisons,
        verdicts=verdicts(comparisons),
        records=records,
        notes=[
            "AR-42 and gefitinib are the same 66 SCC47 cells with inverted labels; the 'mean of 3' rows count them "
            "both.",
            "Baselines are tuned on the shots only (leave-one-pair-out CV); at k=1 no inner fold exists and they use "
            "fixed defaults.",
            "The kept-aside JHU006 afatinib / sorafenib targets are not used here.",
        ],
        seconds=round(time.perf_counter() - start, 1),
        **extra,
    )


def compare_checkpoints(first: dict[str, Any], second: dict[str, Any], command: str | None = None) -> dict[str, Any]:
    """Paired comparisons of two checkpoints' evaluations (results dicts of :func:`evaluate_checkpoint` run with
    the same plan: same files, shots and seeds): ``first - second`` per k and metric over the single-cell
    records (mean over files per seed), and over the unseen drugs when both have them; with the verdicts."""
    names = [Path(results["checkpoint"]).name for results in (first, second)]
    if first.get("plan") != second.get("plan"):
        raise ValueError(f"{names[0]} and {names[1]} were evaluated with different plans; compare like with like")
    comparisons = []
    for k in first["plan"]["shots"]:
        for metric in ("accuracy", "auroc"):
            per_seed = []
            for results, name in zip((first, second), names):
                table: dict[int, list[float]] = {}
                for r in results["records"]:
                    if r["k"] == k and r["model"] == name:
                        table.setdefault(r["seed"], []).append(r[metric])
                per_seed.append([float(np.mean(table[seed])) for seed in sorted(table)])
            comparisons.append(
                {
                    "setting": f"k={k}",
                    "metric": metric,
                    "model": names[0],
                    "peer": names[1],
                    "n_seeds": len(per_seed[0]),
                }
                | paired_difference(*per_seed)
            )
    if "unseen_drugs" in first and "unseen_drugs" in second:
        drugs = first["unseen_drugs"]["drugs"]
        values = [
            [results["unseen_drugs"]["per_drug"][name][d] for d in drugs]
            for results, name in zip((first, second), names)
        ]
        comparisons.append(
            {"setting": "unseen drugs (zero-shot)", "metric": "auroc", "model": names[0], "peer": names[1]}
            | paired_difference(*values)
        )
    return {"models": names, "command": command, "comparisons": comparisons, "verdicts": verdicts(comparisons)}


__all__ = [
    "FULL",
    "QUICK",
    "compare_checkpoints",
    "evaluate_checkpoint",
    "single_cell_rows",
    "single_cell_scores",
    "unseen_drug_rows",
]
