"""Supervised splice variant effect on MaPSy: folds, features, heads, baselines and metrics.

Shared by ``training/finetune_variant_effect.py`` (cross-validation, the kept-aside test, the bundled
checkpoint), the ``txformers splice variants --table`` command and the pipeline.

* Folds: :func:`grouped_folds` (stratified, grouped by exon: no exon on both sides of a split).
* Encoder features: :func:`pair_features` runs ``SpliceBertForVariantEffect.pair_features`` once per pair
  (the encoder is frozen), :func:`train_head` fits the head on them, :func:`head_scores` scores.
* Baseline: :func:`hand_features` (distances to the splice sites, exon place, the base change, exonic
  hexamer changes scored by :func:`hexamer_scores` from the training rows only, conservation, exon strength,
  input counts) for LightGBM (:func:`gbm_scores`).
* :func:`metrics_with_ci`: AP and AUROC with percentile bootstrap 95 % CIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ...datasets.mapsy_pairs import OPTIONAL_INPUTS

BASES = "ACGT"


# ------------------------------------------------------------------------------------------ folds
def grouped_folds(groups: Sequence[str], labels: Sequence[int], n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Fold index per row: stratified by label, grouped so each exon lies in exactly one fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    folds = np.full(len(groups), -1)
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for fold, (_, held) in enumerate(splitter.split(np.zeros(len(groups)), np.asarray(labels), np.asarray(groups))):
        folds[held] = fold
    return folds


# ---------------------------------------------------------------------------------------- metrics
def metrics_with_ci(scores, labels, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """``average_precision`` and ``auroc`` with bootstrap 95 % CIs (rows resampled); NaN scores rank last."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    scores = np.where(np.isnan(scores), np.nanmin(scores) - 1 if np.isfinite(scores).any() else 0.0, scores)
    rng = np.random.default_rng(seed)
    boot = {"average_precision": [], "auroc": []}
    for _ in range(n_boot):
        index = rng.integers(0, len(labels), len(labels))
        if labels[index].min() == labels[index].max():
            continue
        boot["average_precision"].append(average_precision_score(labels[index], scores[index]))
        boot["auroc"].append(roc_auc_score(labels[index], scores[index]))
    out: dict[str, Any] = {"n": int(len(labels)), "n_positive": int(labels.sum()), "prevalence": float(labels.mean())}
    for name, value in (
        ("average_precision", average_precision_score(labels, scores)),
        ("auroc", roc_auc_score(labels, scores)),
    ):
        low, high = np.percentile(boot[name], [2.5, 97.5])
        out[name] = round(float(value), 4)
        out[f"{name}_ci95"] = [round(float(low), 4), round(float(high), 4)]
    return out


# -------------------------------------------------------------------------------- encoder + head
@torch.no_grad()
def pair_features(model, tokenizer, rows: Sequence[dict], batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """``model.pair_features`` for every row (``wt_sequence``, ``mut_sequence``, ``variant_pos``, exon bounds)."""
    model = model.to(device).eval()
    out = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        wt = tokenizer([r["wt_sequence"] for r in chunk], padding=True, return_tensors="pt")
        mut = tokenizer([r["mut_sequence"] for r in chunk], padding=True, return_tensors="pt")
        tensors = [torch.tensor([r[k] for r in chunk]) for k in ("variant_pos", "exon_start", "exon_end")]
        features = model.pair_features(
            wt["input_ids"].to(device), mut["input_ids"].to(device), *tensors, wt["attention_mask"].to(device)
        )
        out.append(features.cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def ratio_targets(rows: Sequence[dict]) -> np.ndarray:
    """``(n, 2)`` log2 allelic ratios (vivo, vitro); NaN where unknown (+-inf kept, clipped by the loss)."""
    return np.array([[r.get("log2_vivo_ratio", np.nan), r.get("log2_vitro_ratio", np.nan)] for r in rows], dtype=float)


def train_head(model, features, labels, ratios, epochs=30, lr=1e-3, weight_decay=1e-2, seed=0, batch_size=128):
    """Fit ``model.variant_head`` (re-initialised) on cached pair features: AdamW, shuffled mini-batches; returns it."""
    torch.manual_seed(seed)
    for module in model.variant_head.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.float32)
    r = torch.as_tensor(ratios, dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.variant_head.parameters(), lr=lr, weight_decay=weight_decay)
    model.variant_head.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(batch_size):
            optimizer.zero_grad()
            loss = model.variant_loss(model.variant_head(x[batch]), y[batch], r[batch])
            loss.backward()
            optimizer.step()
    model.variant_head.eval()
    return model


def fit_head_scores(model, features, rows: Sequence[dict], train, test, config: dict, seeds=(0, 1, 2)) -> np.ndarray:
    """The head fitted on rows ``train`` of the cached ``features`` (``config``: ratio_loss_weight, weight_decay,
    epochs; ESM weighted by the training rows' imbalance), its ESM logits on rows ``test``, mean over ``seeds``."""
    y = np.array([r["label"] for r in rows])
    ratios = ratio_targets(rows)
    model.config.ratio_loss_weight = config["ratio_loss_weight"]
    model.config.esm_pos_weight = float((y[train] == 0).sum() / max((y[train] == 1).sum(), 1))
    scores = []
    for seed in seeds:
        train_head(
            model, features[train], y[train], ratios[train], config["epochs"], 1e-3, config["weight_decay"], seed
        )
        scores.append(head_scores(model, features[test]))
    return np.mean(scores, axis=0)


@torch.no_grad()
def head_scores(model, features) -> np.ndarray:
    """ESM logits of the head on cached pair features."""
    model.variant_head.eval()
    return model.variant_head(torch.as_tensor(features, dtype=torch.float32))[:, 0].numpy()


def score_pairs(model, tokenizer, rows: Sequence[dict], batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """P(exonic splicing mutation) per row of :func:`~txformers.datasets.mapsy_pairs.read_pairs`; NaN where the
    row has a ``reason`` (not scorable)."""
    scores = np.full(len(rows), np.nan)
    index = [i for i, r in enumerate(rows) if not r.get("reason")]
    if index:
        features = pair_features(model, tokenizer, [rows[i] for i in index], batch_size, device)
        model = model.cpu()
        scores[index] = 1 / (1 + np.exp(-head_scores(model, features)))
    return scores


# ------------------------------------------------------------------------------------ hand features
def _hexamers(seq: str, pos: int, start: int, end: int) -> list[str]:
    """The exonic hexamers overlapping ``pos``."""
    return [seq[i : i + 6] for i in range(max(start, pos - 5), min(pos, end - 6) + 1)]


def hexamer_scores(rows: Sequence[dict], prior: float = 10.0) -> dict[str, dict[str, float]]:
    """Exonic hexamer effects learnt from training rows only: for each hexamer, the shrunken mean log2
    allelic ratio (mean of vivo and vitro, clipped to +-6) of the variants that destroy it and of those
    that create it. Positive = variants touching it raise inclusion."""
    destroy: dict[str, list[float]] = {}
    create: dict[str, list[float]] = {}
    for r in rows:
        known = [v for v in (r.get("log2_vivo_ratio", np.nan), r.get("log2_vitro_ratio", np.nan)) if not np.isnan(v)]
        if not known:
            continue
        ratio = float(np.mean(np.clip(known, -6, 6)))
        args = (r["variant_pos"], r["exon_start"], r["exon_end"])
        for h in _hexamers(r["wt_sequence"], *args):
            destroy.setdefault(h, []).append(ratio)
        for h in _hexamers(r["mut_sequence"], *args):
            create.setdefault(h, []).append(ratio)
    return {
        name: {h: float(np.sum(v) / (len(v) + prior)) for h, v in table.items()}
        for name, table in (("destroy", destroy), ("create", create))
    }


HAND_FEATURES = (
    "dist_acceptor",
    "dist_donor",
    "dist_nearest_site",
    "exon_length",
    "relative_position",
    "ref_A",
    "ref_C",
    "ref_G",
    "alt_A",
    "alt_C",
    "alt_G",
    "hexamer_destroy",
    "hexamer_create",
    "hexamer_destroy_min",
    "hexamer_create_min",
    *OPTIONAL_INPUTS,
    "log_mut_over_wt_input_vivo",
    "log_mut_over_wt_input_vitro",
)


def hand_features(rows: Sequence[dict], tables: dict[str, dict[str, float]]) -> np.ndarray:
    """The :data:`HAND_FEATURES` matrix (NaN where a column is absent; LightGBM handles it)."""
    out = []
    for r in rows:
        pos, start, end = r["variant_pos"], r["exon_start"], r["exon_end"]
        args = (pos, start, end)
        destroy = [tables["destroy"].get(h, 0.0) for h in _hexamers(r["wt_sequence"], *args)] or [0.0]
        create = [tables["create"].get(h, 0.0) for h in _hexamers(r["mut_sequence"], *args)] or [0.0]
        vivo = np.log((r.get("Vivo_MUT_Input", np.nan) + 1) / (r.get("Vivo_WT_Input", np.nan) + 1))
        vitro = np.log((r.get("Vitro_MUT_Input", np.nan) + 1) / (r.get("Vitro_WT_Input", np.nan) + 1))
        out.append(
            [
                pos - start,
                end - 1 - pos,
                min(abs(pos - start), abs(end - 1 - pos)),
                end - start,
                (pos - start) / max(end - start - 1, 1),
                *(float(r["ref"] == b) for b in BASES[:3]),
                *(float(r["alt"] == b) for b in BASES[:3]),
                float(np.sum(destroy)),
                float(np.sum(create)),
                float(np.min(destroy)),
                float(np.min(create)),
                *(float(r.get(c, np.nan)) for c in OPTIONAL_INPUTS),
                vivo,
                vitro,
            ]
        )
    return np.asarray(out, dtype=float)


def logistic_scores(train_rows, test_rows) -> np.ndarray:
    """Logistic regression on :func:`hand_features` (median-imputed, standardised; hexamer tables from ``train_rows``
    only): ESM probability of ``test_rows``."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tables = hexamer_scores(train_rows)
    x_train, x_score = hand_features(train_rows, tables), hand_features(test_rows, tables)
    finite = np.isfinite(x_train).any(axis=0)  # a column absent from every training row is dropped
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    model.fit(x_train[:, finite], np.array([r["label"] for r in train_rows]))
    return model.predict_proba(np.where(np.isinf(x_score), np.nan, x_score)[:, finite])[:, 1]


def gbm_scores(train_rows, test_rows, seed: int = 0, **params) -> np.ndarray:
    """LightGBM on :func:`hand_features` (hexamer tables from ``train_rows`` only): ESM probability of ``test_rows``."""
    import lightgbm

    tables = hexamer_scores(train_rows)
    defaults = dict(n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=20, subsample=0.8)
    defaults.update(subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, random_state=seed, verbose=-1, n_jobs=1)
    model = lightgbm.LGBMClassifier(**{**defaults, **params})
    model.fit(hand_features(train_rows, tables), np.array([r["label"] for r in train_rows]))
    return model.predict_proba(hand_features(test_rows, tables))[:, 1]


__all__ = [
    "HAND_FEATURES",
    "fit_head_scores",
    "gbm_scores",
    "grouped_folds",
    "hand_features",
    "head_scores",
    "hexamer_scores",
    "logistic_scores",
    "metrics_with_ci",
    "pair_features",
    "ratio_targets",
    "score_pairs",
    "train_head",
]
