# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Baselines a reviewer asks for, leakage-free: tuned logistic regression and LightGBM.

* Few-shot single cells (:func:`fewshot_baseline`): trained on the ``2k`` labelled cells (the shots) only.
  Feature selection (the genes with the largest signal-to-noise ratio between the classes of the shots) and
  the hyper-parameters (number of genes, C / number of trees) are chosen by leave-one-pair-out
  cross-validation *inside the shots* (each inner fold holds out one sensitive and one resistant shot; log
  loss); with one shot per class no inner fold exists and a fixed default setting is used.
* Unseen drugs (:func:`unseen_drug_lightgbm`): LightGBM regression of the z-scored ln IC50 of (drug, cell
  line) pairs from the drug's Morgan fingerprint, the cell line's expression (principal components) and its
  general sensitivity (mean z over the training drugs, leaving the pair's own drug out): it can model what a
  no-model ranking cannot, the drug-specific part beyond a cell line's general sensitivity; optionally also the
  cell line's response to the training drugs most similar to the drug (:func:`similar_drug_scores`). Trained on
  the training drugs' pairs; the number of trees is chosen by early stopping on the validation drugs.

LightGBM runs with ``n_jobs=1`` and ``deterministic=True``: the same inputs give the same numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

ALL = 0  # "every gene" in a grid of gene counts
LOGISTIC_GRID = [{"n_genes": n, "C": c} for n in (50, 500, ALL) for c in (0.01, 1.0, 100.0)]
LOGISTIC_DEFAULT = {"n_genes": ALL, "C": 1.0}
LIGHTGBM_GRID = [{"n_genes": n, "n_estimators": t} for n in (50, 500, ALL) for t in (25, 100)]
LIGHTGBM_DEFAULT = {"n_genes": 500, "n_estimators": 50}
# LightGBM for a handful of samples: leaves of one cell, shallow trees
LIGHTGBM_FEWSHOT = dict(
    learning_rate=0.1,
    num_leaves=3,
    min_child_samples=1,
    min_child_weight=1e-3,
    min_data_in_bin=1,
    colsample_bytree=0.5,
    reg_lambda=1.0,
    verbose=-1,
    n_jobs=1,
    deterministic=True,
    force_col_wise=True,
)


# ----------------------------------------------------------------------------- few-shot single cells
def signal_to_noise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per gene ``|mean_1 - mean_0| / (sd_1 + sd_0 + 0.1)`` over the rows of ``x`` (the floor keeps genes that
    happen to be constant in three cells from ranking first)."""
    one, zero = x[y == 1], x[y == 0]
    return np.abs(one.mean(0) - zero.mean(0)) / (one.std(0) + zero.std(0) + 0.1)


def _genes(x: np.ndarray, y: np.ndarray, n_genes: int) -> np.ndarray:
    if n_genes == ALL or n_genes >= x.shape[1]:
        return np.arange(x.shape[1])
    return np.sort(np.argsort(-signal_to_noise(x, y), kind="stable")[:n_genes])


def _fit_predict(kind: str, setting: dict[str, Any], x: np.ndarray, y: np.ndarray, test: np.ndarray, seed: int):
    """Sensitive probability of the rows of ``test`` after fitting ``kind`` with ``setting`` on ``x``, ``y``."""
    genes = _genes(x, y, setting["n_genes"])
    if kind == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        # liblinear (dual): fast and exact for a few cells x thousands of genes
        model = LogisticRegression(C=setting["C"], solver="liblinear", dual=True, max_iter=5000, random_state=seed)
    elif kind == "lightgbm":
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=setting["n_estimators"], random_state=seed, **LIGHTGBM_FEWSHOT)
    else:
        raise ValueError(f"unknown baseline {kind!r}; use logistic_regression or lightgbm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LightGBM's feature-name notes on numpy input
        model.fit(x[:, genes], y)
        return model.predict_proba(test[:, genes])[:, 1]


def pair_folds(y: np.ndarray) -> list[np.ndarray]:
    """Leave-one-pair-out folds of the shots: fold ``i`` holds out the ``i``-th sensitive and ``i``-th resistant
    shot (positions); none when a class has a single shot."""
    one, zero = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n = min(len(one), len(zero))
    return [] if n < 2 else [np.array([one[i], zero[i]]) for i in range(n)]


def choose_setting(kind: str, x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[dict[str, Any], bool]:
    """The grid setting of ``kind`` with the lowest leave-one-pair-out log loss on ``x``, ``y`` (the shots), and
    whether it was tuned (False: a single shot per class, the default setting)."""
    folds = pair_folds(y)
    logistic = kind == "logistic_regression"
    grid, default = (LOGISTIC_GRID, LOGISTIC_DEFAULT) if logistic else (LIGHTGBM_GRID, LIGHTGBM_DEFAULT)
    if not folds:
        return dict(default), False
    losses = []
    for setting in grid:
        loss = 0.0
        for held in folds:
            kept = np.setdiff1d(np.arange(len(y)), held)
            p = np.clip(_fit_predict(kind, setting, x[kept], y[kept], x[held], seed), 1e-4, 1 - 1e-4)
            loss -= float(np.sum(y[held] * np.log(p) + (1 - y[held]) * np.log(1 - p)))
        losses.append(loss)
    return dict(grid[int(np.argmin(losses))]), True


def fewshot_baseline(
    kind: str, expression: np.ndarray, labels: np.ndarray, support: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, dict[str, Any]]:
    """``kind`` (``logistic_regression`` or ``lightgbm``) tuned and trained on the ``support`` cells only;
    the sensitive probability of every cell and the chosen setting (with ``tuned``)."""
    x, y = expression[support], labels[support]
    setting, tuned = choose_setting(kind, x, y, seed)
    return _fit_predict(kind, setting, x, y, expression, seed), {**setting, "tuned": tuned}


# ----------------------------------------------------------------------------- unseen drugs
def cell_components(expression: np.ndarray, n_components: int = 32, seed: int = 0) -> np.ndarray:
    """Principal components of the cell lines' panel expression (no labels used)."""
    from sklearn.decomposition import PCA

    n_components = min(n_components, *expression.shape)
    return PCA(n_components=n_components, random_state=seed).fit_transform(expression).astype(np.float32)


def leave_drug_out_sensitivity(
    cells: np.ndarray, tasks: np.ndarray, z: np.ndarray, train: np.ndarray, n_cells: int
) -> np.ndarray:
    """Per pair: minus the mean z of its cell line over the ``train`` pairs of *other* tasks (NaN if none).

    Pairs of training tasks leave their own value out (a feature must not contain the pair's target); pairs of
    other tasks see every training pair of their cell line.
    """
    total = np.bincount(cells[train], weights=z[train], minlength=n_cells)
    count = np.bincount(cells[train], minlength=n_cells).astype(float)
    own = np.zeros(len(cells))
    own[train] = z[train]
    numerator = total[cells] - own
    denominator = count[cells] - _indicator(len(cells), train)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, -numerator / np.maximum(denominator, 1), np.nan)


def _indicator(n: int, positions: np.ndarray) -> np.ndarray:
    mask = np.zeros(n)
    mask[positions] = 1.0
    return mask


def tanimoto(fingerprints: np.ndarray) -> np.ndarray:
    """Tanimoto similarity of every pair of rows of a 0/1 fingerprint matrix."""
    bits = np.asarray(fingerprints) > 0
    inter = bits.astype(np.float32) @ bits.T.astype(np.float32)
    counts = bits.sum(1).astype(np.float32)
    union = counts[:, None] + counts[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def similar_drug_scores(
    z: np.ndarray, similarity: np.ndarray, reference: Sequence[int], m: int, power: float
) -> np.ndarray:
    """No-model score of every (task, cell line): minus the mean z of the cell line over the ``m`` reference tasks
    most similar to the task (Tanimoto of fingerprints), weighted by ``similarity ** power``; a task never uses
    itself. ``z`` is tasks x cell lines (NaN: not measured); NaN where no similar task measured the cell line."""
    reference = np.asarray(reference)
    known = np.isfinite(z[reference])
    values = np.where(known, z[reference], 0.0)
    scores = np.full(z.shape, np.nan)
    for task in range(len(z)):
        similar = similarity[task, reference].astype(float)
        similar[reference == task] = -np.inf
        top = np.argsort(-similar, kind="stable")[:m]
        top = top[np.isfinite(similar[top])]
        weights = np.maximum(similar[top], 0.0) ** power
        total = weights @ known[top]
        with np.errstate(invalid="ignore", divide="ignore"):
            scores[task] = np.where(total > 0, -(weights @ values[top]) / total, np.nan)
    return scores


SIMILAR_GRID = [{"m": m, "power": p} for m in (3, 10, 30) for p in (0.0, 1.0, 4.0)]


def residual_knn_scores(
    z: np.ndarray, similarity: np.ndarray, reference: Sequence[int], m: int, power: float, alpha: float
) -> np.ndarray:
    """General sensitivity plus the drug-specific part borrowed from similar drugs, for every (task, cell line).

    On the ``reference`` tasks the residual ``z - cell line mean - task mean`` is what a cell line's general
    sensitivity does not explain; a task's score is minus (the cell line's mean z over the reference tasks +
    ``alpha`` x the ``similarity ** power``-weighted mean residual of the ``m`` most similar reference tasks),
    a task never using itself. NaN for cell lines no reference task measured."""
    reference = np.asarray(reference)
    block = z[reference]
    known = np.isfinite(block)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cell lines no reference task measured: NaN
        cell_mean = np.nanmean(block, 0)
        task_mean = np.nanmean(block, 1, keepdims=True)
    residual = np.where(known, block - task_mean - np.nan_to_num(cell_mean)[None], 0.0)
    scores = np.full(z.shape, np.nan)
    for task in range(len(z)):
        similar = similarity[task, reference].astype(float)
        similar[reference == task] = -np.inf
        top = np.argsort(-similar, kind="stable")[:m]
        top = top[np.isfinite(similar[top])]
        weights = np.maximum(similar[top], 0.0) ** power
        total = weights @ known[top]
        with np.errstate(invalid="ignore", divide="ignore"):
            borrowed = np.where(total > 0, (weights @ residual[top]) / np.maximum(total, 1e-12), 0.0)
        scores[task] = -(cell_mean + alpha * borrowed)
    return scores


RESIDUAL_GRID = [
    {"m": m, "power": p, "alpha": a} for m in (10, 30, 60) for p in (1.0, 4.0, 8.0) for a in (0.5, 1.0, 2.0)
]
ENSEMBLE_WEIGHTS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)


def rank_ensemble(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` x the rank of ``first`` + (1 - ``weight``) x the rank of ``second`` (ranks scaled to 0..1 over
    the finite entries of each; NaN where either is NaN): two scores of one drug's cell lines on one scale."""
    from scipy.stats import rankdata

    def scaled(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        out = np.full(values.shape, np.nan)
        finite = np.isfinite(values)
        if finite.any():
            out[finite] = rankdata(values[finite]) / finite.sum()
        return out

    return weight * scaled(first) + (1.0 - weight) * scaled(second)


def unseen_drug_lightgbm(
    pair_cells: np.ndarray,
    pair_tasks: np.ndarray,
    pair_z: np.ndarray,
    cell_features: np.ndarray,
    drug_fingerprints: np.ndarray,
    train_tasks: Sequence[int],
    validation_tasks: Sequence[int],
    max_train_pairs: int = 60000,
    max_trees: int = 1000,
    seed: int = 0,
    pair_features: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """LightGBM scores (minus the predicted z: higher = more sensitive) of every pair, trained on the pairs of
    ``train_tasks`` (at most ``max_train_pairs``, drawn at random), trees chosen by early stopping on the pairs
    of ``validation_tasks``. ``drug_fingerprints`` has one row per task, ``cell_features`` one per cell line;
    ``pair_features`` (pairs x columns) adds per-pair columns that must not use the pair's own value (as
    :func:`similar_drug_scores`, which never lets a task use itself)."""
    import lightgbm

    is_train = np.isin(pair_tasks, np.asarray(train_tasks))
    train = np.flatnonzero(is_train)
    general = leave_drug_out_sensitivity(pair_cells, pair_tasks, pair_z, train, len(cell_features))
    columns = [cell_features[pair_cells], general[:, None].astype(np.float32), drug_fingerprints[pair_tasks]]
    if pair_features is not None:
        columns.append(np.asarray(pair_features, dtype=np.float32).reshape(len(pair_cells), -1))
    features = np.hstack(columns).astype(np.float32)
    rng = np.random.default_rng(seed)
    if len(train) > max_train_pairs:
        train = np.sort(rng.choice(train, max_train_pairs, replace=False))
    validation = np.flatnonzero(np.isin(pair_tasks, np.asarray(validation_tasks)))
    model = lightgbm.LGBMRegressor(
        n_estimators=max_trees,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.5,
        reg_lambda=1.0,
        random_state=seed,
        n_jobs=1,
        deterministic=True,
        force_col_wise=True,
        verbose=-1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(
            features[train],
            pair_z[train],
            eval_set=[(features[validation], pair_z[validation])],
            callbacks=[lightgbm.early_stopping(50, verbose=False)],
        )
        scores = -model.predict(features, num_iteration=model.best_iteration_)
    info = {
        "n_train_pairs": int(len(train)),
        "n_validation_pairs": int(len(validation)),
        "best_iteration": int(model.best_iteration_),
        "features": {
            "cell_components": int(cell_features.shape[1]),
            "general_sensitivity": 1,
            "fingerprint_bits": int(drug_fingerprints.shape[1]),
            "pair_features": 0
            if pair_features is None
            else int(features.shape[1] - len(columns[0][0]) - 1 - drug_fingerprints.shape[1]),
        },
    }
    return scores, info


__all__ = [
    "ENSEMBLE_WEIGHTS",
    "LIGHTGBM_GRID",
    "LOGISTIC_GRID",
    "RESIDUAL_GRID",
    "cell_components",
    "choose_setting",
    "fewshot_baseline",
    "leave_drug_out_sensitivity",
    "pair_folds",
    "rank_ensemble",
    "residual_knn_scores",
    "signal_to_noise",
    "similar_drug_scores",
    "tanimoto",
    "unseen_drug_lightgbm",
]
