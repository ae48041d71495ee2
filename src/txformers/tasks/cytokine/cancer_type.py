# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Cancer type from the cytokine expression of tumour immune cells (Ren et al., Comput. Biol. Chem. 2024): the
task logic that the training recipe (:mod:`txformers.training.cancer_type`), the CLI (``txformers cytokine``) and
the cytokine patterns (:mod:`txformers.tasks.cytokine.patterns`) share.

* data: :func:`load_cells` builds the immune cells of a tumour-immune manifest
  (:class:`~txformers.datasets.tumor_immune.TumorImmuneBuilder`, log1p(CP10k) over the cytokine genes measured
  in every sample) into a :class:`CellTable`; :func:`confound_report` tells how cancer type aligns with study,
  patients and cell types;
* splits: :func:`protocol_groups` (which cells, grouped how) and :func:`grouped_folds` (``StratifiedGroupKFold``
  over patients, checked patient-disjoint);
* models: the baselines (:func:`fit_predict_sklearn`: majority class, logistic regression, random forest), and
  for a Cellformer :func:`panel_tokenizer`, :func:`encode_cells` and :func:`predict_proba`;
* scores: per cell and per sample (:func:`aggregate_by_sample`), :func:`scores`, :func:`bootstrap_ci` over
  patients, :func:`summary_table`.

Patients whose id is unknown are written ``?<anything>`` in the manifest; protocols decide their groups:

* ``strict``: every unknown-patient cell of a study is one group (as if the study were one patient);
* ``sex_split``: unknown-patient cells are grouped by a sex call (``?<study>/female``, ``?<study>/male``;
  cells of different sex come from different patients, so the groups are patient-disjoint) and cells
  whose sex cannot be called (``/ambiguous``) are dropped;
* ``t_cells_sex_split``: as ``sex_split``, T cells only (``cell_type`` matching :data:`T_CELL_PATTERN`),
  which removes the cell-type composition difference between studies (wu2020 holds T cells only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ...datasets.scrna_samples import UNKNOWN_PATIENT
from ...datasets.tumor_immune import TumorImmuneBuilder, to_dense_panel
from ...models.cellformer import CellformerForCellClassification
from ...models.cellformer.pipeline_cellformer import aggregate_by_sample as _aggregate_by_sample
from ...tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

PROTOCOLS = ("strict", "sex_split", "t_cells_sex_split")
T_CELL_PATTERN = r"\bt[- ]?cells?\b|\btregs?\b|\breg\.? ?t\b|\bcd4|\bcd8"
MODELS = ("majority", "logistic_regression", "random_forest", "cellformer", "cellformer_scratch")


# ----------------------------------------------------------------------------- data
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
        fields = {
            name: getattr(self, name)[keep] for name in ("X", "y", "patient", "sample", "study", "cell_type", "tissue")
        }
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


def grouped_folds(
    y: np.ndarray, groups: np.ndarray, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
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
    """Mean class probabilities of each sample's cells: ``(sample ids, samples x classes)`` (as the pipeline does)."""
    ids, mean, _ = _aggregate_by_sample(proba, samples)
    return ids, mean


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
        macro_f1.append(
            float(f1_score(truth, predicted, labels=sorted(set(truth.tolist())), average="macro", zero_division=0))
        )
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
        vocab=panel,
        mode="bins",
        n_bins=pretrained.n_bins,
        bin_pad_value=pretrained.bin_pad_value,
        max_length=len(known) + 1,
        sampling="top",
        normalize="auto",
        target_sum=pretrained.target_sum,
        pad_token=pretrained.pad_token,
        cls_token=pretrained.cls_token,
        mask_token=pretrained.mask_token,
        unk_token=pretrained.unk_token,
    )
    return tokenizer, missing


def encode_cells(tokenizer: GeneExpressionTokenizer, X: np.ndarray, genes: list[str]) -> dict[str, torch.Tensor]:
    """Tokenise a cells x genes log1p(CP10k) matrix (values used as they are)."""
    encoded = tokenizer(X, gene_names=genes, mode="bins", normalize=False, padding="longest", return_tensors="pt")
    return {key: encoded[key] for key in ("input_ids", "expression_bins", "expression", "attention_mask")}


@torch.no_grad()
def predict_proba(
    model: CellformerForCellClassification, inputs: dict[str, torch.Tensor], batch_size: int = 256
) -> np.ndarray:
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
    rules = [
        ("T cell", T_CELL_PATTERN),
        ("B cell", r"\bb[- ]?cells?\b|plasma"),
        ("NK", r"\bnk\b"),
        ("myeloid", r"macrophage|monocyte|dendritic|microglia|\bdcs?\b|myeloid"),
        ("mast", r"\bmast"),
    ]
    compiled = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in rules]
    out = []
    for label in labels:
        text = str(label)
        out.append(
            next((name for name, pattern in compiled if pattern.search(text)), "other" if text else "unannotated")
        )
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


__all__ = [
    "MODELS",
    "PROTOCOLS",
    "T_CELL_PATTERN",
    "CellTable",
    "aggregate_by_sample",
    "bootstrap_ci",
    "coarse_cell_types",
    "confound_report",
    "encode_cells",
    "fit_predict_sklearn",
    "grouped_folds",
    "load_cells",
    "panel_tokenizer",
    "predict_proba",
    "protocol_groups",
    "scores",
    "summary_table",
]
