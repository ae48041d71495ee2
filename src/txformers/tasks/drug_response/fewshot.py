# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Few-shot transfer of a MetaSCDrug checkpoint to a single-cell drug-response dataset with LoRA.

Protocol (MetaSCDrug / SCREP): for every seed, ``k`` labelled cells per class are drawn (the shots);
the model gets LoRA adapters (PEFT) on the Linear layers of its cell encoder and a trainable copy of its
classifier, is trained on the shots (binary cross-entropy, optionally plus an MMD term that aligns the
cell embeddings of the single cells with those of bulk GDSC cell lines), and is scored on all the other
cells: AUROC, average precision, accuracy and F1 (sensitive = positive class, threshold 0.5), then mean
and standard deviation over seeds. Logistic regression on the same shots (on all genes of the file)
is scored in the same run.

:func:`run_fewshot` runs the protocol for one checkpoint and one dataset; :func:`fewshot_benchmark` runs the
comparison of ``python -m txformers.training.fewshot`` and ``txformers drug fewshot`` (several checkpoints,
files and ``k``) and prints its table. :func:`adapt_lora` is the adaptation itself, shared with
``txformers drug adapt`` and the critical genes.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...io import atomic_write_text
from ...models.metascdrug import MetaScDrugForDrugResponse, MetaScDrugProcessor

if TYPE_CHECKING:  # pandas is imported by the functions that read data: `txformers --help` stays fast
    import pandas as pd

METRICS = ("accuracy", "auroc", "ap", "f1")


# ----------------------------------------------------------------------------- shots and metrics
def check_labels(labels: Sequence[int] | np.ndarray, k: int) -> np.ndarray:
    """Labels as a 0/1 array; errors for one class only and for ``k`` not below each class size."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one value per cell, got shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        bad = sorted(set(labels[~np.isin(labels, (0, 1))].tolist()))[:5]
        raise ValueError(f"labels must be 1 (sensitive) or 0 (resistant), got {bad}")
    labels = labels.astype(int)
    counts = {name: int((labels == value).sum()) for value, name in ((1, "sensitive"), (0, "resistant"))}
    if min(counts.values()) == 0:
        only = max(counts, key=counts.get)
        raise ValueError(
            f"the labels hold one class only ({only}: {counts[only]} cells); few-shot transfer needs sensitive "
            "and resistant cells"
        )
    if k < 1:
        raise ValueError(f"shots must be at least 1 labelled cell per class, got {k}")
    small = {name: count for name, count in counts.items() if k >= count}
    if small:
        raise ValueError(
            f"k={k} labelled cells per class is too many: class sizes are {counts} and every class needs cells "
            f"left to evaluate on (k < {min(counts.values())})"
        )
    return labels


def sample_shots(labels: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` cells per class (seeded) and the remaining cells (the evaluation set), as sorted positions."""
    rng = np.random.default_rng(seed)
    support = np.sort(
        np.concatenate([rng.choice(np.flatnonzero(labels == value), k, replace=False) for value in (0, 1)])
    )
    return support, np.setdiff1d(np.arange(len(labels)), support)


def classification_metrics(labels: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """AUROC, AP, accuracy and F1 (sensitive = 1, threshold 0.5)."""
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

    predicted = (probability >= 0.5).astype(int)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "auroc": float(roc_auc_score(labels, probability)),
        "ap": float(average_precision_score(labels, probability)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
    }


def summarize(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """Mean (``accuracy``) and standard deviation (``accuracy_sd``) of each metric over seeds."""
    summary = {}
    for metric in METRICS:
        values = np.array([row[metric] for row in per_seed], dtype=float)
        summary[metric] = float(values.mean())
        summary[f"{metric}_sd"] = float(values.std())
    return summary


# ----------------------------------------------------------------------------- adaptation
def mmd(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared maximum mean discrepancy with a sum of Gaussian kernels (bandwidths around the median distance)."""
    points = torch.cat([x, y])
    distances = torch.cdist(points, points).pow(2)
    scale = distances.detach().median().clamp(min=1e-6)
    kernel = sum(torch.exp(-distances / (scale * factor)) for factor in (0.25, 1.0, 4.0))
    n = len(x)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


def lora_model(model: MetaScDrugForDrugResponse, r: int = 8, alpha: int = 16, dropout: float = 0.0):
    """``model`` wrapped by PEFT: LoRA on every Linear of the cell encoder, a trainable copy of the classifier."""
    from peft import LoraConfig, get_peft_model

    targets = [f"metascdrug.cell_encoder.layers.{i}" for i in range(len(model.metascdrug.cell_encoder.layers))]
    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, modules_to_save=["classifier"]
    )
    with warnings.catch_warnings():  # peft reads a property transformers deprecated
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


def adapt_lora(
    model: MetaScDrugForDrugResponse,
    inputs: dict[str, torch.Tensor],
    drug_embeds: torch.Tensor,
    labels: np.ndarray,
    support: np.ndarray,
    *,
    steps: int = 50,
    lr: float = 3e-3,
    r: int = 8,
    alpha: int = 16,
    mmd_weight: float = 0.0,
    bulk: dict[str, torch.Tensor] | None = None,
    mmd_batch: int = 64,
    seed: int = 0,
):
    """Train LoRA + classifier on the ``support`` cells of a copy of ``model``; returns the PEFT model (eval mode).

    ``inputs`` holds ``expression`` and ``missing_mask`` of all cells; with ``mmd_weight > 0`` the loss adds
    ``mmd_weight * MMD`` between the embeddings of random (unlabelled) single cells and of random ``bulk``
    cell lines (encoded with the single cells' missing genes masked too, so both sides see the same genes).
    """
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    peft_model = lora_model(copy.deepcopy(model), r=r, alpha=alpha)
    encoder = peft_model.base_model.model.metascdrug.cell_encoder
    trainable = [param for param in peft_model.parameters() if param.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0)
    support_inputs = {key: value[support] for key, value in inputs.items()}
    # on the device of the inputs (the model's), so adaptation runs on a GPU as on the CPU
    target = torch.as_tensor(labels[support], dtype=torch.float32, device=support_inputs["expression"].device)
    peft_model.train()
    for _ in range(steps):
        output = peft_model(**support_inputs, drug_embeds=drug_embeds, labels=target)
        loss = output.loss
        if mmd_weight > 0 and bulk is not None:
            cells = generator.choice(len(labels), min(mmd_batch, len(labels)), replace=False)
            lines = generator.choice(len(bulk["expression"]), min(mmd_batch, len(bulk["expression"])), replace=False)
            single = encoder(inputs["expression"][cells], inputs["missing_mask"][cells])
            mask = inputs["missing_mask"][:1].expand(len(lines), -1)
            loss = loss + mmd_weight * mmd(single, encoder(bulk["expression"][lines], mask))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return peft_model.eval()


def adapt_and_predict(
    model: MetaScDrugForDrugResponse,
    inputs: dict[str, torch.Tensor],
    drug_embeds: torch.Tensor,
    labels: np.ndarray,
    support: np.ndarray,
    **options: Any,
) -> np.ndarray:
    """:func:`adapt_lora`, then the sensitive probability of every cell of ``inputs``."""
    peft_model = adapt_lora(model, inputs, drug_embeds, labels, support, **options)
    with torch.no_grad():
        logits = peft_model(**inputs, drug_embeds=drug_embeds).sensitive_logit
    return torch.sigmoid(logits).numpy()


def logistic_regression_predict(
    expression: np.ndarray, labels: np.ndarray, support: np.ndarray, seed: int = 0
) -> np.ndarray:
    """Baseline: scikit-learn logistic regression (L2, C=1) on the support cells; sensitive probability of all cells."""
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=5000, random_state=seed)
    classifier.fit(expression[support], labels[support])
    return classifier.predict_proba(expression)[:, 1]


def _load(model_dir: str | os.PathLike) -> tuple[MetaScDrugForDrugResponse, MetaScDrugProcessor]:
    model = MetaScDrugForDrugResponse.from_pretrained(model_dir).eval()
    return model, MetaScDrugProcessor.from_pretrained(model_dir)


def _bulk_inputs(processor: MetaScDrugProcessor, bulk_dir: str | os.PathLike) -> dict[str, torch.Tensor]:
    from ...datasets.gdsc import read_expression

    encoded = processor.encode_cells(read_expression(bulk_dir), standardize="dataset")
    return {"expression": encoded["expression"], "missing_mask": encoded["missing_mask"]}


# ----------------------------------------------------------------------------- protocol
def run_fewshot(
    model_dir: str | os.PathLike,
    expression_df: pd.DataFrame,
    labels: Sequence[int] | pd.Series,
    shots: int | Sequence[int],
    seeds: int | Sequence[int],
    drug_smiles: str | None = None,
    *,
    steps: int = 50,
    lr: float = 3e-3,
    lora_r: int = 8,
    lora_alpha: int = 16,
    mmd_weight: float = 0.0,
    bulk_dir: str | os.PathLike | None = None,
    gene_mapping: Any = None,
    baseline: bool = True,
) -> dict[str, Any]:
    """Few-shot LoRA transfer of the checkpoint ``model_dir`` to one dataset (see the module docstring).

    Args:
        model_dir: a MetaSCDrug checkpoint folder (model + processor).
        expression_df: cells x genes (gene symbols, or ids mapped with ``gene_mapping``).
        labels: 1 = sensitive, 0 = resistant, one per row of ``expression_df``.
        shots: ``k`` labelled cells per class, or several ``k``.
        seeds: number of seeds (``0..n-1``) or the seeds themselves; each seed draws its own shots.
        drug_smiles: SMILES of the dataset's drug (None: the model's default drug embedding).
        steps, lr, lora_r, lora_alpha: LoRA training (AdamW on the adapters and the classifier copy).
        mmd_weight, bulk_dir: MMD alignment with the GDSC cell lines of ``bulk_dir`` (off when 0).
        baseline: also score logistic regression on the same shots.

    Returns:
        For one ``k``: ``metrics`` (``accuracy``, ``auroc``, ``ap``, ``f1`` as means over seeds, ``*_sd``),
        the same means at the top level, ``per_seed``, ``logistic_regression`` (same layout), settings and
        timings. For several: ``{"shots": {k: result}}``.

    Example:

    ```python
    >>> result = run_fewshot("checkpoints/metascdrug-meta", expression, labels, shots=3, seeds=10,
    ...                      drug_smiles="CC(=O)Nc1ccc(O)cc1")  # doctest: +SKIP
    >>> result["metrics"]["accuracy"], result["logistic_regression"]["metrics"]["accuracy"]  # doctest: +SKIP
    ```
    """
    if not isinstance(shots, (int, np.integer)):
        options = dict(
            steps=steps,
            lr=lr,
            lora_r=lora_r,
            lora_alpha=lora_alpha,
            mmd_weight=mmd_weight,
            bulk_dir=bulk_dir,
            gene_mapping=gene_mapping,
            baseline=baseline,
        )
        results = {
            str(k): run_fewshot(model_dir, expression_df, labels, int(k), seeds, drug_smiles, **options) for k in shots
        }
        return {"shots": results}
    k = int(shots)
    seed_list = list(range(int(seeds))) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must be a positive number or a non-empty list")
    if len(labels) != len(expression_df):
        raise ValueError(f"{len(labels)} labels for {len(expression_df)} cells")
    label_array = check_labels(np.asarray(labels), k)
    model, processor = _load(model_dir)
    inputs = processor.encode_cells(expression_df, gene_mapping=gene_mapping)
    coverage = float(inputs.pop("coverage"))
    inputs = dict(inputs)
    with torch.no_grad():
        if drug_smiles is not None:
            drug = processor.encode_drugs(drug_smiles)
            drug_embeds = model.metascdrug.drug_encoder(**drug)
        elif model.config.has_default_drug:
            drug_embeds = model.metascdrug.default_drug_embeds.clone()
        else:
            raise ValueError("no drug SMILES given and the checkpoint has no default drug embedding")
    if mmd_weight > 0 and bulk_dir is None:
        raise ValueError("mmd_weight > 0 needs bulk_dir= (a GDSC folder) for the bulk cell lines")
    bulk = _bulk_inputs(processor, bulk_dir) if mmd_weight > 0 else None
    raw = expression_df.to_numpy(np.float32)
    per_seed, baseline_per_seed, seconds = [], [], []
    for seed in seed_list:
        support, evaluation = sample_shots(label_array, k, seed)
        start = time.perf_counter()
        probability = adapt_and_predict(
            model,
            inputs,
            drug_embeds,
            label_array,
            support,
            steps=steps,
            lr=lr,
            r=lora_r,
            alpha=lora_alpha,
            mmd_weight=mmd_weight,
            bulk=bulk,
            seed=seed,
        )
        seconds.append(time.perf_counter() - start)
        if not np.isfinite(probability).all():  # issue 17 item 11: no metrics of NaN predictions
            raise ValueError(
                f"{int((~np.isfinite(probability)).sum())} of {probability.size} predictions of the model in "
                f"{model_dir} (seed {seed}, k={k}) are NaN or infinite (corrupt weights, or an adaptation that "
                f"diverged: try a lower lr than {lr:g})"
            )
        per_seed.append({"seed": seed, **classification_metrics(label_array[evaluation], probability[evaluation])})
        if baseline:
            lr_probability = logistic_regression_predict(raw, label_array, support, seed)
            baseline_per_seed.append(
                {"seed": seed, **classification_metrics(label_array[evaluation], lr_probability[evaluation])}
            )
    metrics = summarize(per_seed)
    result = {
        "model": str(model_dir),
        "shots": k,
        "seeds": seed_list,
        "n_cells": int(len(label_array)),
        "class_sizes": {"sensitive": int(label_array.sum()), "resistant": int((1 - label_array).sum())},
        "n_evaluated_per_seed": int(len(label_array) - 2 * k),
        "drug_smiles": drug_smiles,
        "panel_coverage": coverage,
        "n_panel_genes_present": int(round(coverage * len(processor.genes))),
        "metrics": metrics,
        **{metric: metrics[metric] for metric in METRICS},
        "per_seed": per_seed,
        "settings": {"steps": steps, "lr": lr, "lora_r": lora_r, "lora_alpha": lora_alpha, "mmd_weight": mmd_weight},
        "seconds_per_adaptation": float(np.mean(seconds)),
    }
    if baseline:
        result["logistic_regression"] = {"metrics": summarize(baseline_per_seed), "per_seed": baseline_per_seed}
    return result


# ----------------------------------------------------------------------------- benchmark
def run_benchmark(args: argparse.Namespace, command: str | None = None) -> dict[str, Any]:
    """:func:`fewshot_benchmark` with the options of :func:`.options.add_benchmark_arguments`."""
    return fewshot_benchmark(
        args.model,
        args.data,
        label_column=args.label_column,
        shots=args.shots,
        seeds=args.seeds,
        drug=args.drug,
        smiles_tables=args.smiles_table,
        gene_map=args.gene_map,
        steps=args.steps,
        lr=args.lr,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        mmd_weight=args.mmd_weight,
        bulk_dir=args.bulk_dir,
        baseline=not args.no_baseline,
        json_path=args.json,
        command=command,
    )


def fewshot_benchmark(
    models: Sequence[str],
    data: Sequence[str | os.PathLike],
    *,
    label_column: str = "response",
    shots: Sequence[int] = (3,),
    seeds: int = 10,
    drug: str | None = None,
    smiles_tables: Sequence[str | os.PathLike] | None = None,
    gene_map: str | os.PathLike | None = None,
    steps: int = 50,
    lr: float = 3e-3,
    lora_r: int = 8,
    lora_alpha: int = 16,
    mmd_weight: float = 0.0,
    bulk_dir: str | os.PathLike | None = None,
    baseline: bool = True,
    json_path: str | os.PathLike | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """:func:`run_fewshot` for every checkpoint (``DIR`` or ``NAME=DIR``), data file and ``k``; prints one line
    per (file, k) and writes the results (with ``command``) to ``json_path``.

    The drug of each file comes from :func:`~txformers.tasks.drug_response.inputs.resolve_drug`; logistic
    regression runs once per (file, k), with the first checkpoint. Returns the run for one checkpoint, file
    and ``k``, else ``{"runs": [...], "table": [...]}``.
    """
    from .inputs import find_nearby, load_dataset, resolve_drug

    named = {}
    for item in models:
        name, _, path = item.rpartition("=") if "=" in item else (Path(item).name, "", item)
        named[name] = path
    runs = []
    for path_of_data in data:
        expression, labels = load_dataset(path_of_data, label_column, gene_map)
        found = resolve_drug(drug, path_of_data, smiles_tables)
        if found["smiles"] is None:
            warnings.warn(
                f"{path_of_data}: no SMILES for the drug ({found['source']}); using the default drug embedding"
            )
        bulk = bulk_dir
        if mmd_weight > 0 and bulk is None:
            nearby = find_nearby(path_of_data, [("bulk_gdsc", "gdsc_expression_6163genes.csv.gz")])
            bulk = str(nearby[0].parent) if nearby else None
        for k in shots:
            check_labels(labels.to_numpy(), k)
            for index, (name, path) in enumerate(named.items()):
                result = run_fewshot(
                    path,
                    expression,
                    labels,
                    k,
                    seeds,
                    found["smiles"],
                    steps=steps,
                    lr=lr,
                    lora_r=lora_r,
                    lora_alpha=lora_alpha,
                    mmd_weight=mmd_weight,
                    bulk_dir=bulk,
                    gene_mapping=None,
                    baseline=baseline and index == 0,
                )
                result.update(name=name, data=str(path_of_data), drug=found)
                runs.append(result)
    output: dict[str, Any] = runs[0] if len(runs) == 1 else {"runs": runs, "table": comparison_table(runs)}
    output["command"] = command
    for line in format_table(runs):
        print(line)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json_path, json.dumps(output, indent=1) + "\n")
    return output


def comparison_table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (file, k): each checkpoint's and logistic regression's mean metrics."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for run in runs:
        row = rows.setdefault((run["data"], run["shots"]), {"data": Path(run["data"]).name, "shots": run["shots"]})
        row[run["name"]] = {metric: run["metrics"][metric] for metric in METRICS}
        if "logistic_regression" in run:
            row["logistic_regression"] = {m: run["logistic_regression"]["metrics"][m] for m in METRICS}
    return list(rows.values())


def format_table(runs: list[dict[str, Any]]) -> list[str]:
    """:func:`comparison_table` as text lines (accuracy and AUROC of each method)."""
    lines = []
    for row in comparison_table(runs):
        methods = [key for key in row if key not in ("data", "shots")]
        cells = ", ".join(f"{m} acc {row[m]['accuracy']:.3f} auroc {row[m]['auroc']:.3f}" for m in methods)
        lines.append(f"{row['data']} k={row['shots']}: {cells}")
    return lines
