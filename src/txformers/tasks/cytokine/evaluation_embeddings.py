# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Cell embeddings evaluated as the single-cell field does: how well a simple probe (k nearest neighbours,
logistic regression) fitted on some donors / a reference study recovers the cell type or source of held-out
cells, and how well the labels separate (silhouette), for the pretrained Cellformer against HVG + PCA of the
normalised expression and the same architecture with random weights.

Tasks over ``shared/data/scrna`` (every representation is computed on all cells of the task without labels,
as PCA is in a scanpy workflow; the pretrained Cellformer saw these cells, unlabelled, in pretraining):

* ``wu2020_source``: the 200 wu2020 T cells, source tumour / normal adjacent tissue / blood, folds grouped by
  patient (14), intervals by patient bootstrap;
* ``headneck_cell_type``: CHETAH head-and-neck reference, 9 curated cell types x 20 cells, folds by cell
  (patients are unknown), intervals by cell bootstrap;
* ``headneck_to_melanoma``: probes fitted on all head-and-neck cells call the melanoma cells of another study
  whose CHETAH call is one of the head-and-neck types (agreement with CHETAH, not ground truth);
* ``pbmc_cell_type``: pbmc68k_reduced, 10 annotated types, folds by cell (its ``.raw``: 765 genes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .cancer_type import grouped_folds
from .evaluation_rows import difference_rows, group_bootstrap, row, scored_rows

REPRESENTATIONS = ("cellformer_pretrained", "cellformer_pretrained_mean", "cellformer_random_init", "hvg_pca")
PROBES = {"knn": {"n_neighbors": 10}, "logistic": {"C": 1.0, "max_iter": 3000}}
HVG, PCS = 2000, 50


# ----------------------------------------------------------------------------- representations
def log_cp10k(X: Any) -> np.ndarray:
    """log1p of counts (or linear values) scaled to 1e4 per cell, dense float32."""
    dense = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    totals = dense.sum(1, keepdims=True)
    return np.log1p(dense / np.maximum(totals, 1e-12) * 1e4).astype(np.float32)


def hvg_pca(log_values: np.ndarray, n_genes: int = HVG, n_components: int = PCS, seed: int = 0) -> np.ndarray:
    """PCA (centred) of the ``n_genes`` most variable genes of log-normalised values."""
    from sklearn.decomposition import PCA

    top = np.argsort(log_values.var(0))[::-1][:n_genes]
    n_components = min(n_components, len(log_values) - 1, len(top))
    return PCA(n_components=n_components, random_state=seed).fit_transform(log_values[:, top])


def cellformer_embed(
    model_dir: str | Path,
    log_values: np.ndarray,
    genes: list[str],
    random_init: bool = False,
    pooling: str | None = None,
    seed: int = 0,
    batch_size: int = 256,
) -> tuple[np.ndarray, float]:
    """Cell embeddings (``pooler_output``: the checkpoint's pooling, or ``pooling`` "cls"/"mean") of log1p(CP10k)
    values, the top-expressed genes as ``txformers embed`` reads them; ``random_init``: the same architecture with
    random weights (seeded). Returns the embeddings and the vocabulary coverage."""
    import torch

    from ...models.cellformer import CellformerConfig, CellformerModel
    from ...tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

    tokenizer = GeneExpressionTokenizer.from_pretrained(model_dir)
    config = CellformerConfig.from_pretrained(model_dir)
    if pooling is not None:
        config.classifier_pooling = pooling
    if random_init:
        torch.manual_seed(seed)
        model = CellformerModel(config)
    else:
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the masked-expression head is left out by design
        try:
            model = CellformerModel.from_pretrained(model_dir, config=config)
        finally:
            hf_logging.set_verbosity(verbosity)
    model.eval()
    parts, coverage = [], float("nan")
    for start in range(0, len(log_values), batch_size):
        encoded = tokenizer(
            log_values[start : start + batch_size],
            gene_names=genes,
            mode="bins",
            sampling="top",
            normalize=False,
            return_tensors="pt",
        )
        coverage = float(encoded["coverage"]) if "coverage" in encoded else coverage
        inputs = {key: encoded[key] for key in ("input_ids", "attention_mask", "expression_bins", "expression")}
        with torch.no_grad():
            parts.append(model(**inputs).pooler_output.float().numpy())
    return np.concatenate(parts), coverage


def representations(
    model_dir: Path, log_values: np.ndarray, genes: list[str], seed: int = 0
) -> tuple[dict[str, np.ndarray], float]:
    """Every representation of :data:`REPRESENTATIONS` for one set of cells, and the vocabulary coverage."""
    pretrained, coverage = cellformer_embed(model_dir, log_values, genes, seed=seed)
    mean, _ = cellformer_embed(model_dir, log_values, genes, pooling="mean", seed=seed)
    random_init, _ = cellformer_embed(model_dir, log_values, genes, random_init=True, seed=seed)
    reps = {
        "cellformer_pretrained": pretrained,
        "cellformer_pretrained_mean": mean,
        "cellformer_random_init": random_init,
        "hvg_pca": hvg_pca(log_values, seed=seed),
    }
    return reps, coverage


# ----------------------------------------------------------------------------- probes
def probe_predict(name: str, Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray, seed: int = 0) -> np.ndarray:
    """Labels of ``Z_test`` from a probe fitted on ``Z_train``: ``knn`` (Euclidean in the representation as it
    is, as scanpy's neighbours on PCs) or ``logistic`` (on standardised features)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "knn":
        k = min(PROBES["knn"]["n_neighbors"], len(Z_train))
        model = KNeighborsClassifier(n_neighbors=k)
    elif name == "logistic":
        model = make_pipeline(StandardScaler(), LogisticRegression(**PROBES["logistic"], random_state=seed))
    else:
        raise ValueError(f"unknown probe {name!r}")
    return model.fit(Z_train, y_train).predict(Z_test)


def out_of_fold(name: str, Z: np.ndarray, y: np.ndarray, folds: list, seed: int = 0) -> np.ndarray:
    predicted = np.empty_like(y)
    for train, test in folds:
        predicted[test] = probe_predict(name, Z[train], y[train], Z[test], seed)
    return predicted


def silhouette_row(rep: str, prefix: str, Z: np.ndarray, y: np.ndarray, groups: np.ndarray | None, seed: int) -> dict:
    """Mean silhouette (Euclidean, in the representation as it is) of the labels, interval by bootstrapping the
    per-cell silhouette values over groups."""
    from sklearn.metrics import silhouette_samples

    values = silhouette_samples(Z, y)
    ci = group_bootstrap(lambda v, _: float(np.mean(v)), values, values, groups, seed=seed)
    return row(rep, f"{prefix}.silhouette", float(values.mean()), ci, len(y))


def majority_rows(prefix: str, y: np.ndarray, folds: list, groups: np.ndarray | None, seed: int) -> list[dict]:
    predicted = np.empty_like(y)
    for train, test in folds:
        values, counts = np.unique(y[train], return_counts=True)
        predicted[test] = values[counts.argmax()]
    return scored_rows("majority", prefix, y, predicted, groups, ("accuracy",), seed)


# ----------------------------------------------------------------------------- tasks
#: paired accuracy differences reported for each probe: the pretrained encoder against its peers
PAIRS = [("cellformer_pretrained", "hvg_pca"), ("cellformer_pretrained", "cellformer_random_init")]


def _task_rows(prefix, reps, y, folds, groups, seed) -> list[dict[str, Any]]:
    rows = majority_rows(prefix, y, folds, groups, seed)
    predictions: dict[str, dict[str, np.ndarray]] = {probe: {} for probe in PROBES}
    for rep, Z in reps.items():
        for probe in PROBES:
            predicted = out_of_fold(probe, Z, y, folds, seed)
            predictions[probe][rep] = predicted
            rows += scored_rows(rep, f"{prefix}.{probe}", y, predicted, groups, ("accuracy", "macro_f1"), seed)
        rows.append(silhouette_row(rep, prefix, Z, y, groups, seed))
    for probe in PROBES:
        rows += difference_rows(f"{prefix}.{probe}", predictions[probe], y, PAIRS, groups, seed)
    return rows


def evaluate_embeddings(scrna_dir: Path, model_dir: Path, quick: bool, seed: int = 0) -> dict[str, Any]:
    """Rows and report of the embedding evaluation (``quick``: the wu2020 source task only)."""
    from sklearn.model_selection import StratifiedKFold

    from ...datasets.cells import read_cells
    from ...datasets.shared_scrna import read_chetah

    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {"representations": list(REPRESENTATIONS), "probes": PROBES, "hvg": HVG, "pcs": PCS}

    def by_cell(y):
        return list(StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))

    wu = read_cells(Path(scrna_dir) / "wu2020_200_tcells_4cancers.h5ad")
    log_values, genes = log_cp10k(wu.X), list(map(str, wu.var_names))
    reps, coverage = representations(model_dir, log_values, genes, seed)
    y, patients = wu.obs["source"].astype(str).to_numpy(), wu.obs["patient"].astype(str).to_numpy()
    folds = grouped_folds(y, patients, 5, seed)
    rows += _task_rows("embedding.wu2020_source", reps, y, folds, patients, seed)
    report["wu2020_source"] = {
        "cells": len(y),
        "labels": {k: int(v) for k, v in zip(*np.unique(y, return_counts=True))},
        "patients": int(len(set(patients))),
        "folds": "StratifiedGroupKFold(5) by patient",
        "vocabulary_coverage": coverage,
    }
    if quick:
        return {"rows": rows, "report": report}

    hn = read_chetah(scrna_dir, "chetah_headneck_ref")
    mel = read_chetah(scrna_dir, "chetah_input_mel")
    y_hn = hn.obs["cell_type"].to_numpy(dtype=str)
    both = log_cp10k(np.concatenate([hn.X, mel.X]))
    genes = list(map(str, hn.var_names))
    reps_both, coverage = representations(model_dir, both, genes, seed)
    n_hn = len(y_hn)
    reps_hn = {name: Z[:n_hn] for name, Z in reps_both.items()}
    rows += _task_rows("embedding.headneck_cell_type", reps_hn, y_hn, by_cell(y_hn), None, seed)
    report["headneck_cell_type"] = {"cells": n_hn, "types": sorted(set(y_hn)), "folds": "StratifiedKFold(5) by cell"}
    report["headneck_cell_type"]["vocabulary_coverage"] = coverage

    y_mel = mel.obs["cell_type"].to_numpy(dtype=str)
    keep = np.isin(y_mel, y_hn)
    prefix = "embedding.headneck_to_melanoma"
    predictions: dict[str, dict[str, np.ndarray]] = {probe: {} for probe in PROBES}
    for rep, Z in reps_both.items():
        for probe in PROBES:
            predicted = probe_predict(probe, Z[:n_hn], y_hn, Z[n_hn:][keep], seed)
            predictions[probe][rep] = predicted
            rows += scored_rows(rep, f"{prefix}.{probe}", y_mel[keep], predicted, None, ("accuracy",), seed)
    for probe in PROBES:
        rows += difference_rows(f"{prefix}.{probe}", predictions[probe], y_mel[keep], PAIRS, None, seed)
    values, counts = np.unique(y_hn, return_counts=True)
    majority = np.full(keep.sum(), values[counts.argmax()])
    rows += scored_rows("majority", f"{prefix}", y_mel[keep], majority, None, ("accuracy",), seed)
    report["headneck_to_melanoma"] = {
        "cells": int(keep.sum()),
        "labels": {k: int(v) for k, v in zip(*np.unique(y_mel[keep], return_counts=True))},
        "note": "melanoma labels are CHETAH calls against the head-and-neck reference, not ground truth",
        "pca": "fitted on head-and-neck and melanoma cells together (unlabelled)",
    }

    pbmc = read_cells(Path(scrna_dir) / "pbmc68k_reduced_700cells.h5ad")
    raw = pbmc.raw.X
    log_values = np.asarray(raw.toarray() if hasattr(raw, "toarray") else raw, dtype=np.float32)  # log-normalised
    reps, coverage = representations(model_dir, log_values, list(map(str, pbmc.raw.var_names)), seed)
    y = pbmc.obs["bulk_labels"].astype(str).to_numpy()
    rows += _task_rows("embedding.pbmc_cell_type", reps, y, by_cell(y), None, seed)
    report["pbmc_cell_type"] = {
        "cells": len(y),
        "genes": int(log_values.shape[1]),
        "vocabulary_coverage": coverage,
        "folds": "StratifiedKFold(5) by cell",
    }
    return {"rows": rows, "report": report}


__all__ = [
    "HVG",
    "PCS",
    "PROBES",
    "REPRESENTATIONS",
    "cellformer_embed",
    "evaluate_embeddings",
    "hvg_pca",
    "log_cp10k",
    "probe_predict",
    "representations",
]
