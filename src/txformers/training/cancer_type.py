# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Cancer type from the cytokine expression of tumour immune cells (Ren et al., Comput. Biol. Chem. 2024),
evaluated with splits grouped by patient: one command trains and scores every model on the same folds.

Models: ``CellformerForCellClassification`` fine-tuned from a pretrained Cellformer (and the same
architecture trained from scratch), the paper's random forest, a logistic regression (CellTypist's
model family) and the majority class of the training fold. Input: the immune cells of a tumour-immune
manifest (:class:`~txformers.datasets.tumor_immune.TumorImmuneBuilder`, log1p(CP10k) over the cytokine
genes measured in every sample). Folds: ``StratifiedGroupKFold`` over patients, so no patient has cells
on both sides (checked for every fold). Scores: per cell and per sample (mean class probabilities of a
sample's cells), accuracy, macro-F1, balanced accuracy, confusion matrices.

Patients whose id is unknown are written ``?<anything>`` in the manifest; protocols decide their groups:

* ``strict``: every unknown-patient cell of a study is one group (as if the study were one patient);
* ``sex_split``: unknown-patient cells are grouped by a sex call (``?<study>/female``, ``?<study>/male``;
  cells of different sex come from different patients, so the groups are patient-disjoint) and cells
  whose sex cannot be called (``/ambiguous``) are dropped;
* ``t_cells_sex_split``: as ``sex_split``, T cells only (``cell_type`` matching :data:`T_CELL_PATTERN`),
  which removes the cell-type composition difference between studies (wu2020 holds T cells only).

With ``--scrna-dir`` the manifest is built from the shared real data (written to a temp dir, never to
the repository): wu2020 T cells (4 cancers, 14 patients; split into its 30 samples, patient x tissue)
and the CHETAH head-and-neck and melanoma immune cells (patients unknown; split by sex call).

    python -m txformers.training.cancer_type --scrna-dir ../shared/data/scrna \\
        --pretrained checkpoints/cellformer-pretrained --output-json results/cellformer/cancer_type.json \\
        --save-model checkpoints/cellformer-cancer-type

The saved model (``--save-model``) is the Cellformer fine-tuned on all cells, with a tokenizer whose
vocabulary is the cytokine panel (ids of the pretrained vocabulary), ``id2label`` = the cancer types.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..datasets.tumor_immune import TumorImmuneBuilder, to_dense_panel
from ..hub import register
from ..models.cellformer import CellformerConfig, CellformerForCellClassification
from ..tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

register()  # checkpoints saved here get auto_map and the portable model files

UNKNOWN_PATIENT = "?"
WU2020_CANCERS = {"Lung": "lung", "Endo": "endometrial", "Renal": "renal", "Colon": "colorectal"}
PROTOCOLS = ("strict", "sex_split", "t_cells_sex_split")
T_CELL_PATTERN = r"\bt[- ]?cells?\b|\btregs?\b|\breg\.? ?t\b|\bcd4|\bcd8"
MODELS = ("majority", "logistic_regression", "random_forest", "cellformer", "cellformer_scratch")


# ----------------------------------------------------------------------------- data
def sex_call(xist: np.ndarray, rps4y1: np.ndarray) -> np.ndarray:
    """``female`` (XIST detected, RPS4Y1 not), ``male`` (RPS4Y1 detected, XIST not), else ``ambiguous``."""
    xist, rps4y1 = np.asarray(xist) > 0, np.asarray(rps4y1) > 0
    return np.where(xist & ~rps4y1, "female", np.where(rps4y1 & ~xist, "male", "ambiguous"))


def prepare_real_manifest(scrna_dir: str | Path, workdir: str | Path, include_glioma: bool = False) -> Path:
    """Write the samples of the shared real scRNA into ``workdir`` and return a manifest over them.

    * wu2020: one h5ad per sample (``sample`` column: patient x tissue, 30 samples of 14 patients; cancer
      from the patient prefix); sorted T cells, so ``immune_filter=none`` (the PTPRC rule would drop the
      T cells whose PTPRC dropped out); raw counts.
    * CHETAH head-and-neck (Puram 2017) and melanoma (Tirosh 2016): genes x cells log2(TPM/10+1) CSVs
      split by sex call into ``?<study>/female|male|ambiguous`` pseudo-patients; immune cells by the
      annotation (head-and-neck: curated types; melanoma: CHETAH predictions).
    * ``include_glioma``: the oligodendroglioma microglia/macrophages (3 patients, TPM-like).
    """
    import anndata

    scrna, workdir = Path(scrna_dir).resolve(), Path(workdir)
    samples_dir = workdir / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    wu = anndata.read_h5ad(scrna / "wu2020_200_tcells_4cancers.h5ad")
    for sample, obs in wu.obs.groupby("sample", observed=True):
        patient = str(obs["patient"].iloc[0])
        cancer = WU2020_CANCERS[patient.rstrip("0123456789")]
        part = wu[obs.index].copy()
        part.obs = part.obs[["patient", "source", "cluster_orig"]].astype(str)
        part.obs["cell_type"] = "T cell " + part.obs["cluster_orig"]  # sorted T cells, by subcluster
        path = samples_dir / f"wu2020_{sample}.h5ad"
        part.write_h5ad(path)
        rows.append(dict(path=path, format="h5ad", cancer_type=cancer, study="wu2020", patient=patient,
                         sample=f"wu2020_{sample}", tissue=str(obs["source"].iloc[0]), scale="counts",
                         immune_filter="none", cell_type_column="cell_type"))  # fmt: skip
    for stem, obs_file, column, study, cancer in (
        ("chetah_headneck_ref", "chetah_headneck_ref_obs.csv", "celltype", "puram2017_hnscc", "head_and_neck"),
        ("chetah_input_mel", "chetah_input_mel_obs.csv", "celltype_CHETAH", "tirosh2016_melanoma", "melanoma"),
    ):
        table = pd.read_csv(scrna / f"{stem}_log2tpm.csv.gz", index_col=0)
        obs = pd.read_csv(scrna / obs_file, index_col=0)
        sexes = sex_call(table.loc["XIST"].to_numpy(), table.loc["RPS4Y1"].to_numpy())
        for sex in ("female", "male", "ambiguous"):
            cells = table.columns[sexes == sex]
            if not len(cells):
                continue
            path = samples_dir / f"{study}_{sex}.csv.gz"
            table[cells].to_csv(path)
            obs.loc[cells, [column]].to_csv(samples_dir / f"{study}_{sex}_obs.csv")
            rows.append(dict(path=path, format="csv", cancer_type=cancer, study=study,
                             patient=f"{UNKNOWN_PATIENT}{study}/{sex}", sample=f"{study}_{sex}", tissue="Tumor",
                             scale="log2p1", orientation="genes_x_cells", immune_filter="annotation",
                             cell_type_column=column, obs_path=f"samples/{study}_{sex}_obs.csv"))  # fmt: skip
    if include_glioma:
        glioma = anndata.read_h5ad(scrna / "tirosh2016_oligodendroglioma_184cells.h5ad")
        patients = glioma.obs_names.str.split("_").str[0]
        for patient in sorted(set(patients)):
            part = glioma[patients == patient].copy()
            path = samples_dir / f"tirosh2016_oligodendroglioma_{patient}.h5ad"
            part.write_h5ad(path)
            rows.append(dict(path=path, format="h5ad", cancer_type="oligodendroglioma",
                             study="tirosh2016_oligodendroglioma", patient=patient,
                             sample=f"tirosh2016_oligodendroglioma_{patient}", tissue="Tumor", scale="linear",
                             immune_filter="annotation", cell_type_column="cell_type"))  # fmt: skip
    manifest = workdir / "manifest.tsv"
    pd.DataFrame(rows).to_csv(manifest, sep="\t", index=False)
    return manifest


@dataclass
class CellTable:
    """The built dataset as arrays (one row per cell)."""

    X: np.ndarray  # cells x genes, log1p(CP10k)
    genes: list[str]
    y: np.ndarray  # class index
    classes: list[str]
    patient: np.ndarray
    sample: np.ndarray
    study: np.ndarray
    cell_type: np.ndarray
    tissue: np.ndarray
    report: dict[str, Any]

    def subset(self, keep: np.ndarray) -> CellTable:
        fields = {name: getattr(self, name)[keep] for name in ("X", "y", "patient", "sample", "study", "cell_type", "tissue")}
        return CellTable(genes=self.genes, classes=self.classes, report=self.report, **fields)


def load_cells(manifest: str | Path, cache_dir: str | Path, **builder_options: Any) -> CellTable:
    """Build the tumour-immune dataset of ``manifest`` (cytokine panel, common genes) and return it as arrays."""
    options = {"genes": "cytokines", "common_genes_only": True, "layout": "dense", **builder_options}
    builder = TumorImmuneBuilder(manifest=str(manifest), cache_dir=str(cache_dir), **options)
    builder.download_and_prepare()
    dataset = builder.as_dataset()["train"]
    columns = dataset.remove_columns([c for c in ("expression", "gene_ids", "values") if c in dataset.column_names])
    frame = columns.to_pandas()
    return CellTable(
        X=to_dense_panel(dataset),
        genes=builder.gene_names(),
        y=frame["cancer_type"].to_numpy(dtype=np.int64),
        classes=dataset.features["cancer_type"].names,
        patient=frame["patient"].to_numpy(dtype=str),
        sample=frame["sample"].to_numpy(dtype=str),
        study=frame["study"].to_numpy(dtype=str),
        cell_type=frame["cell_type"].to_numpy(dtype=str),
        tissue=frame["tissue"].to_numpy(dtype=str),
        report=builder.report,
    )


# ----------------------------------------------------------------------------- splits
def protocol_groups(
    patient: np.ndarray, study: np.ndarray, protocol: str, cell_type: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, groups)`` per cell for a protocol (see the module docstring)."""
    patient, study = np.asarray(patient, dtype=str), np.asarray(study, dtype=str)
    unknown = np.char.startswith(patient, UNKNOWN_PATIENT)
    if protocol == "strict":
        groups = np.where(unknown, np.char.add("study:", study), patient)
        return np.ones(len(patient), dtype=bool), groups
    if protocol in ("sex_split", "t_cells_sex_split"):
        keep = ~(unknown & np.char.endswith(patient, "/ambiguous"))
        if protocol == "t_cells_sex_split":
            if cell_type is None:
                raise ValueError("the t_cells_sex_split protocol needs cell types")
            pattern = re.compile(T_CELL_PATTERN, re.IGNORECASE)
            keep &= np.array([bool(pattern.search(str(label))) for label in cell_type], dtype=bool)
        return keep, patient
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


def grouped_folds(y: np.ndarray, groups: np.ndarray, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``StratifiedGroupKFold`` folds (train, test indices); raises if a group ever lands on both sides."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(f"grouped cross-validation needs at least 2 groups (patients), got {n_groups}")
    splitter = StratifiedGroupKFold(n_splits=min(n_splits, n_groups), shuffle=True, random_state=seed)
    folds = []
    for train, test in splitter.split(np.zeros(len(y)), y, groups):
        shared = set(groups[train]) & set(groups[test])
        if shared:  # never happens with a group splitter; guards against a future change
            raise AssertionError(f"patients on both sides of a fold: {sorted(shared)[:5]}")
        folds.append((train, test))
    return folds


def aggregate_by_sample(proba: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean class probabilities of each sample's cells: ``(sample ids, samples x classes)``."""
    ids, inverse = np.unique(samples, return_inverse=True)
    sums = np.zeros((len(ids), proba.shape[1]))
    np.add.at(sums, inverse, proba)
    return ids, sums / np.bincount(inverse)[:, None]


def scores(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over the classes present in ``y_true``), balanced accuracy, recall per class,
    and the confusion matrix (rows: true, columns: predicted, all ``classes``)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

    present = sorted(set(np.asarray(y_true).tolist()))
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
    recall = {classes[c]: float(matrix[c, c] / matrix[c].sum()) for c in present}
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "recall_per_class": recall,
        "confusion_matrix": matrix.tolist(),
    }


def bootstrap_ci(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """95 % intervals of accuracy and macro-F1 by resampling whole patients (groups) with replacement,
    the unit the splits are drawn over; cells of one patient are not independent."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    names, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(names))]
    accuracy, macro_f1 = [], []
    for _ in range(n_boot):
        index = np.concatenate([members[g] for g in rng.integers(0, len(names), size=len(names))])
        truth, predicted = y_true[index], y_pred[index]
        accuracy.append(float((truth == predicted).mean()))
        macro_f1.append(float(f1_score(truth, predicted, labels=sorted(set(truth.tolist())), average="macro", zero_division=0)))
    interval = lambda values: [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]  # noqa: E731
    return {"accuracy": interval(accuracy), "macro_f1": interval(macro_f1), "n_boot": n_boot}


# ----------------------------------------------------------------------------- models
def _full_proba(model: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    proba = np.zeros((len(X), n_classes))
    proba[:, model.classes_] = model.predict_proba(X)
    return proba


def fit_predict_sklearn(name: str, X_train, y_train, X_test, n_classes: int, seed: int = 0) -> np.ndarray:
    """Class probabilities of ``logistic_regression``, ``random_forest`` or ``majority`` (all classes)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "majority":
        proba = np.zeros((len(X_test), n_classes))
        proba[:, np.bincount(y_train, minlength=n_classes).argmax()] = 1.0
        return proba
    if name == "logistic_regression":
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000, random_state=seed)
        )
        model.fit(X_train, y_train)
        proba = np.zeros((len(X_test), n_classes))
        proba[:, model[-1].classes_] = model.predict_proba(X_test)
        return proba
    if name == "random_forest":
        model = RandomForestClassifier(n_estimators=500, class_weight="balanced", random_state=seed, n_jobs=1)
        model.fit(X_train, y_train)
        return _full_proba(model, X_test, n_classes)
    raise ValueError(f"unknown model {name!r}")


def panel_tokenizer(pretrained: GeneExpressionTokenizer, genes: list[str]) -> tuple[GeneExpressionTokenizer, list[str]]:
    """A bins-mode tokenizer over the panel ``genes`` that keeps the pretrained vocabulary ids (so the
    pretrained gene embeddings apply), and the panel genes that the pretrained vocabulary lacks."""
    vocab = pretrained.get_vocab()
    specials = {token: vocab[token] for token in pretrained.all_special_tokens}
    known = [gene for gene in genes if pretrained.convert_tokens_to_ids(gene) != pretrained.unk_token_id]
    missing = [gene for gene in genes if gene not in known]
    panel = {**specials, **{gene: pretrained.convert_tokens_to_ids(gene) for gene in known}}
    tokenizer = GeneExpressionTokenizer(
        vocab=panel, mode="bins", n_bins=pretrained.n_bins, bin_pad_value=pretrained.bin_pad_value,
        max_length=len(known) + 1, sampling="top", normalize="auto", target_sum=pretrained.target_sum,
        pad_token=pretrained.pad_token, cls_token=pretrained.cls_token, mask_token=pretrained.mask_token,
        unk_token=pretrained.unk_token,
    )  # fmt: skip
    return tokenizer, missing


def encode_cells(tokenizer: GeneExpressionTokenizer, X: np.ndarray, genes: list[str]) -> dict[str, torch.Tensor]:
    """Tokenise a cells x genes log1p(CP10k) matrix (values used as they are)."""
    encoded = tokenizer(X, gene_names=genes, mode="bins", normalize=False, padding="longest", return_tensors="pt")
    return {key: encoded[key] for key in ("input_ids", "expression_bins", "expression", "attention_mask")}


@dataclass
class FinetuneOptions:
    """Fine-tuning settings. The learning rate warms up over ``warmup_steps`` then stays constant, so a run
    stopped after ``e`` epochs is the first ``e`` epochs of a longer run (what epoch selection relies on)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.01
    dropout: float = 0.1
    warmup_steps: int = 20
    seed: int = 0


def finetune_cellformer(
    inputs: dict[str, torch.Tensor],
    y: np.ndarray,
    classes: list[str],
    pretrained_dir: str | Path | None,
    options: FinetuneOptions,
    scratch_config: CellformerConfig | None = None,
    validation: tuple[dict[str, torch.Tensor], np.ndarray] | None = None,
    eval_epochs: tuple[int, ...] = (),
) -> tuple[CellformerForCellClassification, dict[int, float]]:
    """Fine-tune a classifier (from ``pretrained_dir``, or from scratch with ``scratch_config``) on ``inputs``
    with class-balanced cross-entropy for ``options.epochs`` epochs. With ``validation`` (inputs, labels),
    the validation macro-F1 after each epoch in ``eval_epochs`` is returned as ``{epoch: macro_f1}``."""
    from sklearn.metrics import f1_score

    torch.manual_seed(options.seed)
    labels = {"num_labels": len(classes), "id2label": dict(enumerate(classes)), "label2id": {c: i for i, c in enumerate(classes)}}
    if pretrained_dir is not None:
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the fresh classifier head is by design (strict loading checks the rest)
        try:
            model = CellformerForCellClassification.from_pretrained(
                pretrained_dir, classifier_dropout=options.dropout, hidden_dropout_prob=options.dropout, **labels
            )
        finally:
            hf_logging.set_verbosity(verbosity)
    else:
        model = CellformerForCellClassification(CellformerConfig(**{**scratch_config.to_dict(), **labels}))
    counts = np.bincount(y, minlength=len(classes)).astype(float)
    weights = np.where(counts > 0, counts.sum() / (np.maximum(counts, 1) * (counts > 0).sum()), 0.0)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / options.warmup_steps))
    targets = torch.tensor(y, dtype=torch.long)
    generator = torch.Generator().manual_seed(options.seed)
    n = len(y)
    history: dict[int, float] = {}
    for epoch in range(1, options.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, options.batch_size):
            index = order[start : start + options.batch_size]
            loss = loss_fn(model(**{key: value[index] for key, value in inputs.items()}).logits, targets[index])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        if validation is not None and epoch in eval_epochs:
            predicted = predict_proba(model, validation[0]).argmax(1)
            present = sorted(set(validation[1].tolist()))
            history[epoch] = float(f1_score(validation[1], predicted, labels=present, average="macro", zero_division=0))
    return model.eval(), history


def select_and_finetune(
    inputs: dict[str, torch.Tensor],
    y: np.ndarray,
    groups: np.ndarray,
    classes: list[str],
    pretrained_dir: str | Path | None,
    options: FinetuneOptions,
    scratch_config: CellformerConfig | None = None,
    lrs: tuple[float, ...] = (5e-4, 2e-3),
    epoch_grid: tuple[int, ...] = (5, 10, 20, 40, 60),
) -> tuple[CellformerForCellClassification, dict[str, Any]]:
    """Pick the learning rate and number of epochs on a validation split of the *training* patients (one
    inner ``StratifiedGroupKFold`` split, patient-disjoint), by macro-F1, then fine-tune on all of ``inputs``
    with that choice. Falls back to ``options`` when the training data has too few patients to split."""
    from sklearn.model_selection import StratifiedGroupKFold

    selection: dict[str, Any] = {"candidates": {}}
    try:
        inner = StratifiedGroupKFold(n_splits=min(4, len(np.unique(groups))), shuffle=True, random_state=options.seed)
        fit, val = next(inner.split(np.zeros(len(y)), y, groups))
    except ValueError:
        fit = val = None
    if fit is not None and len(set(y[val])) >= 2 and not set(groups[fit]) & set(groups[val]):
        best = (-1.0, options.lr, options.epochs)
        for lr in lrs:
            trial = FinetuneOptions(**{**options.__dict__, "lr": lr, "epochs": max(epoch_grid)})
            _, history = finetune_cellformer(
                {k: v[fit] for k, v in inputs.items()}, y[fit], classes, pretrained_dir, trial, scratch_config,
                validation=({k: v[val] for k, v in inputs.items()}, y[val]), eval_epochs=epoch_grid,
            )  # fmt: skip
            selection["candidates"][str(lr)] = history
            for epochs, score in history.items():
                if score > best[0]:
                    best = (score, lr, epochs)
        options = FinetuneOptions(**{**options.__dict__, "lr": best[1], "epochs": best[2]})
        selection.update({"validation_macro_f1": best[0], "validation_cells": int(len(val))})
    selection.update({"lr": options.lr, "epochs": options.epochs})
    model, _ = finetune_cellformer(inputs, y, classes, pretrained_dir, options, scratch_config)
    return model, selection


@torch.no_grad()
def predict_proba(model: CellformerForCellClassification, inputs: dict[str, torch.Tensor], batch_size: int = 256) -> np.ndarray:
    model.eval()
    n = len(inputs["input_ids"])
    parts = [
        model(**{key: value[start : start + batch_size] for key, value in inputs.items()}).logits.softmax(-1).numpy()
        for start in range(0, n, batch_size)
    ]
    return np.concatenate(parts)


# ----------------------------------------------------------------------------- evaluation
def coarse_cell_types(labels: np.ndarray) -> list[str]:
    """T cell / B cell / myeloid / mast / NK / other / unannotated, from free-text cell-type labels."""
    rules = [("T cell", T_CELL_PATTERN), ("B cell", r"\bb[- ]?cells?\b|plasma"), ("NK", r"\bnk\b"),
             ("myeloid", r"macrophage|monocyte|dendritic|microglia|\bdcs?\b|myeloid"), ("mast", r"\bmast")]  # fmt: skip
    compiled = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in rules]
    out = []
    for label in labels:
        text = str(label)
        out.append(next((name for name, pattern in compiled if pattern.search(text)), "other" if text else "unannotated"))
    return out


def confound_report(cells: CellTable) -> dict[str, Any]:
    """How cancer type aligns with study, patients, samples and cell types."""
    from sklearn.metrics import normalized_mutual_info_score

    cancer = np.array(cells.classes)[cells.y]
    per_cancer = {}
    for name in cells.classes:
        mask = cancer == name
        per_cancer[name] = {
            "cells": int(mask.sum()),
            "studies": sorted(set(cells.study[mask])),
            "patients": sorted(set(cells.patient[mask])),
            "samples": int(len(set(cells.sample[mask]))),
            "cell_types": pd.Series(coarse_cell_types(cells.cell_type[mask])).value_counts().to_dict(),
        }
    studies_per_cancer = {name: len(v["studies"]) for name, v in per_cancer.items()}
    return {
        "per_cancer": per_cancer,
        "study_x_cancer": pd.crosstab(cells.study, cancer).to_dict(),
        "normalized_mutual_information_study_cancer": float(normalized_mutual_info_score(cells.study, cancer)),
        "every_cancer_from_one_study": all(n == 1 for n in studies_per_cancer.values()),
        "note": (
            "Each cancer type comes from one study (platform, lab, gene panel, cell-type composition: wu2020 holds "
            "only T cells, CHETAH head-and-neck also B cells, myeloid and mast cells), so a classifier may learn "
            "the study rather than the cancer. Patient-grouped splits remove patient leakage, not this confound."
        ),
    }


def run_protocol(cells: CellTable, protocol: str, models: list[str], args: argparse.Namespace,
                 tokenizer: GeneExpressionTokenizer | None, scratch_config: CellformerConfig | None) -> dict[str, Any]:  # fmt: skip
    keep, groups = protocol_groups(cells.patient, cells.study, protocol, cells.cell_type)
    part = cells.subset(keep)
    groups = groups[keep]
    folds = grouped_folds(part.y, groups, args.folds, args.seed)
    n_classes = len(cells.classes)
    oof = {name: np.zeros((len(part.y), n_classes)) for name in models}
    inputs = encode_cells(tokenizer, part.X, part.genes) if tokenizer is not None else None
    absent = np.zeros(len(part.y), dtype=bool)
    fold_info = []
    selections: dict[str, list[dict[str, Any]]] = {}
    for fold, (train, test) in enumerate(folds):
        started = time.time()
        absent[test] = ~np.isin(part.y[test], part.y[train])
        for name in models:
            if name.startswith("cellformer"):
                options = FinetuneOptions(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed + fold)
                train_inputs = {k: v[train] for k, v in inputs.items()}
                source = args.pretrained if name == "cellformer" else None
                if args.select:
                    model, chosen = select_and_finetune(
                        train_inputs, part.y[train], groups[train], cells.classes, source, options, scratch_config,
                        lrs=tuple(args.lr_grid), epoch_grid=tuple(args.epoch_grid),
                    )  # fmt: skip
                    selections.setdefault(name, []).append(chosen)
                else:
                    model, _ = finetune_cellformer(train_inputs, part.y[train], cells.classes, source, options, scratch_config)
                oof[name][test] = predict_proba(model, {k: v[test] for k, v in inputs.items()})
            else:
                oof[name][test] = fit_predict_sklearn(name, part.X[train], part.y[train], part.X[test], n_classes, args.seed)
        fold_info.append({
            "train_cells": int(len(train)), "test_cells": int(len(test)),
            "test_groups": sorted(set(groups[test])), "test_classes_absent_from_training":
            sorted({cells.classes[c] for c in set(part.y[test]) - set(part.y[train])}),
            "seconds": round(time.time() - started, 1),
        })  # fmt: skip
        print(f"[{protocol}] fold {fold + 1}/{len(folds)} done ({fold_info[-1]['seconds']} s)", file=sys.stderr)

    result: dict[str, Any] = {
        "cells": int(len(part.y)),
        "groups": int(len(set(groups))),
        "samples": int(len(set(part.sample))),
        "folds": fold_info,
        "cells_whose_class_is_absent_from_training": int(absent.sum()),
        "cellformer_selection": selections,
        "models": {},
    }
    for name in models:
        predicted = oof[name].argmax(1)
        sample_ids, sample_proba = aggregate_by_sample(oof[name], part.sample)
        sample_truth = np.array([part.y[part.sample == s][0] for s in sample_ids])
        result["models"][name] = {
            "per_cell": scores(part.y, predicted, cells.classes),
            "per_cell_95ci_patient_bootstrap": bootstrap_ci(part.y, predicted, groups, seed=args.seed),
            "per_sample": scores(sample_truth, sample_proba.argmax(1), cells.classes),
            "per_cell_learnable": scores(part.y[~absent], predicted[~absent], cells.classes) if (~absent).any() else None,
        }
    return result


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        manifest = (
            prepare_real_manifest(args.scrna_dir, workdir, include_glioma=args.include_glioma)
            if args.scrna_dir
            else Path(args.manifest)
        )
        cells = load_cells(manifest, Path(workdir) / "cache")
    models = [name for name in args.models if name in MODELS]
    tokenizer = scratch_config = None
    missing_from_vocab: list[str] = []
    if any(name.startswith("cellformer") for name in models):
        if not args.pretrained:
            raise SystemExit("the cellformer models need --pretrained (a Cellformer checkpoint folder with its tokenizer)")
        pretrained_tokenizer = GeneExpressionTokenizer.from_pretrained(args.pretrained)
        tokenizer, missing_from_vocab = panel_tokenizer(pretrained_tokenizer, cells.genes)
        scratch_config = CellformerConfig.from_pretrained(args.pretrained)
    result: dict[str, Any] = {
        "command": args.command,
        "task": "cancer type of tumour immune cells from cytokine expression, splits grouped by patient",
        "panel_genes": cells.genes,
        "panel_genes_missing_from_pretrained_vocabulary": missing_from_vocab,
        "classes": cells.classes,
        "builder_report": cells.report,
        "confound": confound_report(cells),
        "settings": {
            "folds": args.folds, "seed": args.seed, "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
            "cellformer_selection": (f"lr in {args.lr_grid} x epochs in {args.epoch_grid} by macro-F1 on a patient-disjoint "
                                     "validation split of each training fold") if args.select else "off",
            "pretrained": str(args.pretrained) if args.pretrained else None,
            "random_forest": "500 trees, class_weight=balanced", "logistic_regression": "standardised, C=1, balanced",
        },  # fmt: skip
        "protocols": {},
    }
    for protocol in args.protocols:
        result["protocols"][protocol] = run_protocol(cells, protocol, models, args, tokenizer, scratch_config)
    if args.save_model and "cellformer" in models:
        inputs = encode_cells(tokenizer, cells.X, cells.genes)
        options = FinetuneOptions(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
        selection = None
        if args.select:
            _, groups = protocol_groups(cells.patient, cells.study, "strict")
            model, selection = select_and_finetune(inputs, cells.y, groups, cells.classes, args.pretrained, options,
                                                   lrs=tuple(args.lr_grid), epoch_grid=tuple(args.epoch_grid))  # fmt: skip
        else:
            model, _ = finetune_cellformer(inputs, cells.y, cells.classes, args.pretrained, options)
        model.config.architectures = ["CellformerForCellClassification"]
        model.save_pretrained(args.save_model)
        tokenizer.save_pretrained(args.save_model)
        train_accuracy = float((predict_proba(model, inputs).argmax(1) == cells.y).mean())
        result["saved_model"] = {"path": str(args.save_model), "trained_on_cells": int(len(cells.y)),
                                 "training_accuracy": train_accuracy, "selection": selection}  # fmt: skip
    result["wall_seconds"] = round(time.time() - started, 1)
    if args.output_json:
        Path(args.output_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output_json).write_text(json.dumps(result, indent=1, default=str))
    return result


def summary_table(result: dict[str, Any]) -> str:
    """Markdown table of accuracy / macro-F1 per protocol and model (per cell, with patient-bootstrap 95 %
    intervals, and per sample)."""
    lines = [
        "| protocol | model | cell accuracy [95% CI] | cell macro-F1 [95% CI] | sample accuracy | sample macro-F1 |",
        "|---|---|---|---|---|---|",
    ]
    for protocol, block in result["protocols"].items():
        for name, metrics in block["models"].items():
            cell, sample = metrics["per_cell"], metrics["per_sample"]
            ci = metrics.get("per_cell_95ci_patient_bootstrap") or {"accuracy": [np.nan] * 2, "macro_f1": [np.nan] * 2}
            lines.append(
                f"| {protocol} | {name} | {cell['accuracy']:.3f} [{ci['accuracy'][0]:.2f}, {ci['accuracy'][1]:.2f}] | "
                f"{cell['macro_f1']:.3f} [{ci['macro_f1'][0]:.2f}, {ci['macro_f1'][1]:.2f}] | "
                f"{sample['accuracy']:.3f} | {sample['macro_f1']:.3f} |"
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--scrna-dir", help="the shared real scRNA folder (../shared/data/scrna)")
    source.add_argument("--manifest", help="a tumour-immune manifest (see txformers.datasets.tumor_immune)")
    parser.add_argument("--include-glioma", action="store_true", help="add the oligodendroglioma microglia (--scrna-dir)")
    parser.add_argument("--pretrained", help="pretrained Cellformer folder (with its tokenizer)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30, help="Cellformer epochs (without --select, or as fallback)")
    parser.add_argument("--lr", type=float, default=5e-4, help="Cellformer learning rate (without --select)")
    parser.add_argument("--no-select", dest="select", action="store_false",
                        help="do not pick the Cellformer lr/epochs on a validation split of the training patients")
    parser.add_argument("--lr-grid", type=float, nargs="+", default=[5e-4, 2e-3])
    parser.add_argument("--epoch-grid", type=int, nargs="+", default=[5, 10, 20, 40, 60])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-json", help="results file (e.g. results/cellformer/cancer_type.json)")
    parser.add_argument("--save-model", help="save the Cellformer fine-tuned on all cells here (with its tokenizer)")
    args = parser.parse_args(argv)
    args.command = "python -m txformers.training.cancer_type " + " ".join(argv if argv is not None else sys.argv[1:])
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    result = evaluate(parse_args(argv))
    print(summary_table(result))
    return result


if __name__ == "__main__":
    main()
