# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Cytokine cancer type as the paper classifies it (Ren et al. 2024): one profile per **sample** (pseudo-bulk of
its immune cells over the cytokine panel), patient-grouped cross-validation, leave-one-study-out, and the study
confound measured rather than assumed away.

* data: :func:`load_profiles` (the tumour-immune builder with ``pseudobulk=True``: raw values summed over a
  sample's immune cells, then log1p(CP10k)) and, for the Cellformer rows, the same samples' cells;
* models, fitted inside each training fold: majority class, the study-only model (the label most frequent
  among the training samples of the test sample's study), logistic regression, LightGBM (``n_jobs=1``), random
  forest (the paper's model) on the profiles; the Cellformer classifier fine-tuned on the training samples'
  cells from ``cellformer-pretrained`` and from random weights (its twin), a sample's call being the mean class
  probability of its cells (as the bundled checkpoint's pipeline calls samples);
* :func:`confound_scores`: how well the study alone tells the label (and the label the study);
* :func:`leave_one_study_out`: how many held-out samples have a label that the other studies hold at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .cancer_type import (
    CellTable,
    encode_cells,
    fit_predict_sklearn,
    grouped_folds,
    load_cells,
    panel_tokenizer,
    predict_proba,
    protocol_groups,
)
from .evaluation_rows import difference_rows, row, scored_rows

PROFILE_MODELS = ("majority", "study_only", "logistic_regression", "lightgbm", "random_forest")
CELL_MODELS = ("cellformer", "cellformer_random_init")
#: Fine-tuning of the Cellformer rows, fixed (not tuned per fold): the learning rate and epochs the bundled
#: checkpoint's recipe picked on a patient-disjoint validation split of *all* cells (results/cellformer/
#: cancer_type.json, saved_model), so patients of these test folds took part in choosing these two settings.
FINETUNE = {"lr": 5e-4, "epochs": 20, "batch_size": 32, "dropout": 0.1, "warmup_steps": 20, "weight_decay": 0.01}
LIGHTGBM = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 2}
RANDOM_FOREST = {"n_estimators": 200}
#: paired accuracy differences reported per setting (model, peer)
PAIRS = [
    *(
        (model, peer)
        for model in ("logistic_regression", "lightgbm", "random_forest", "cellformer")
        for peer in ("majority", "study_only")
    ),
    ("cellformer", "cellformer_random_init"),
    ("cellformer", "lightgbm"),
]


# ----------------------------------------------------------------------------- data
def load_profiles(manifest: str | Path, cache_dir: str | Path) -> CellTable:
    """One row per sample: the pseudo-bulk of its immune cells (raw values summed, then log1p(CP10k))."""
    return load_cells(manifest, cache_dir, pseudobulk=True)


def sample_groups(profiles: CellTable) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, patient groups)`` per sample: the ``sex_split`` protocol (unknown-patient samples split by a sex
    call are patient-disjoint pseudo-patients; samples whose sex cannot be called are dropped)."""
    return protocol_groups(profiles.patient, profiles.study, "sex_split")


# ----------------------------------------------------------------------------- confound
def confound_scores(labels: np.ndarray, studies: np.ndarray) -> dict[str, Any]:
    """How the study of origin and the label align, per sample.

    * ``study_to_label_accuracy``: accuracy of calling each sample by the most frequent label of its study
      (in-sample: the best any study-only rule can do); 1.0 when study and label are the same partition;
    * ``label_to_study_accuracy``: the same in the other direction; 1.0 when every label comes from one study;
    * ``labels_from_one_study``: how many labels occur in one study only;
    * ``cramers_v`` of the study x label table, ``normalized_mutual_information``.
    """
    import pandas as pd
    from sklearn.metrics import normalized_mutual_info_score

    labels, studies = np.asarray(labels).astype(str), np.asarray(studies).astype(str)
    table = pd.crosstab(studies, labels)
    n = int(table.to_numpy().sum())
    chi2 = (
        float(((table.to_numpy() - expected) ** 2 / expected).sum())
        if (expected := np.outer(table.sum(1), table.sum(0)) / max(n, 1)).all()
        else float("nan")
    )
    k = min(table.shape) - 1
    studies_per_label = (table > 0).sum(0)
    return {
        "n": n,
        "study_to_label_accuracy": float(table.max(1).sum() / n),
        "label_to_study_accuracy": float(table.max(0).sum() / n),
        "labels_from_one_study": int((studies_per_label == 1).sum()),
        "labels": int(table.shape[1]),
        "studies": int(table.shape[0]),
        "cramers_v": float(np.sqrt(chi2 / (n * k))) if k > 0 else float("nan"),
        "normalized_mutual_information": float(normalized_mutual_info_score(studies, labels)),
        "study_x_label": {study: {k2: int(v) for k2, v in counts.items()} for study, counts in table.iterrows()},
    }


# ----------------------------------------------------------------------------- models
def fit_predict_profiles(
    name: str,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    n_classes: int,
    study_train: np.ndarray,
    study_test: np.ndarray,
    seed: int = 0,
) -> np.ndarray:
    """Class probabilities of a profile model (:data:`PROFILE_MODELS`) fitted on the training fold only."""
    if len(set(y_train.tolist())) < 2 and name != "study_only":  # one class to learn: it is the call
        proba = np.zeros((len(X_test), n_classes))
        proba[:, y_train[0]] = 1.0
        return proba
    if name == "study_only":
        proba = np.zeros((len(X_test), n_classes))
        overall = np.bincount(y_train, minlength=n_classes).argmax()
        for i, study in enumerate(study_test):
            seen = y_train[study_train == study]
            proba[i, np.bincount(seen, minlength=n_classes).argmax() if len(seen) else overall] = 1.0
        return proba
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        model = LGBMClassifier(**LIGHTGBM, class_weight="balanced", n_jobs=1, verbose=-1, random_state=seed)
        proba = np.zeros((len(X_test), n_classes))
        model.fit(X_train, y_train)
        proba[:, model.classes_] = model.predict_proba(X_test)
        return proba
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(**RANDOM_FOREST, class_weight="balanced", random_state=seed, n_jobs=1)
        model.fit(X_train, y_train)
        proba = np.zeros((len(X_test), n_classes))
        proba[:, model.classes_] = model.predict_proba(X_test)
        return proba
    return fit_predict_sklearn(name, X_train, y_train, X_test, n_classes, seed)


def finetune_cells(inputs: dict, y: np.ndarray, classes: list[str], pretrained: Path | None, config: Any, seed: int):
    """A Cellformer cell classifier fine-tuned from ``pretrained`` (or from random weights with ``config``, the
    pretrained model's architecture) with class-balanced cross-entropy and the :data:`FINETUNE` settings."""
    import torch

    from ...models.cellformer import CellformerConfig, CellformerForCellClassification

    torch.manual_seed(seed)
    labels = {
        "num_labels": len(classes),
        "id2label": dict(enumerate(classes)),
        "label2id": {c: i for i, c in enumerate(classes)},
    }
    drop = {"classifier_dropout": FINETUNE["dropout"], "hidden_dropout_prob": FINETUNE["dropout"]}
    if pretrained is not None:
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the new classifier head is by design
        try:
            model = CellformerForCellClassification.from_pretrained(pretrained, **drop, **labels)
        finally:
            hf_logging.set_verbosity(verbosity)
    else:
        model = CellformerForCellClassification(CellformerConfig(**{**config.to_dict(), **drop, **labels}))
    counts = np.bincount(y, minlength=len(classes)).astype(float)
    weights = np.where(counts > 0, counts.sum() / (np.maximum(counts, 1) * (counts > 0).sum()), 0.0)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    optimizer = torch.optim.AdamW(model.parameters(), lr=FINETUNE["lr"], weight_decay=FINETUNE["weight_decay"])
    warmup = FINETUNE["warmup_steps"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    targets, generator = torch.tensor(y, dtype=torch.long), torch.Generator().manual_seed(seed)
    for _ in range(FINETUNE["epochs"]):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), FINETUNE["batch_size"]):
            index = order[start : start + FINETUNE["batch_size"]]
            loss = loss_fn(model(**{key: value[index] for key, value in inputs.items()}).logits, targets[index])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
    return model.eval()


def _sample_mean(proba: np.ndarray, cell_samples: np.ndarray, samples: np.ndarray) -> np.ndarray:
    return np.stack([proba[cell_samples == sample].mean(0) for sample in samples])


# ----------------------------------------------------------------------------- protocols
def cross_validate(
    profiles: CellTable,
    groups: np.ndarray,
    models: tuple[str, ...],
    folds: list[tuple[np.ndarray, np.ndarray]],
    cells: CellTable | None = None,
    pretrained: Path | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Out-of-fold class probabilities per sample for each model over the given (train, test) sample folds.
    Every fold is checked patient-disjoint; Cellformer models train on the cells of the training samples."""
    n_classes = len(profiles.classes)
    oof = {name: np.full((len(profiles.y), n_classes), np.nan) for name in models}
    inputs = config = None
    if any(name in CELL_MODELS for name in models):
        from ...models.cellformer import CellformerConfig
        from ...tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

        tokenizer, _ = panel_tokenizer(GeneExpressionTokenizer.from_pretrained(pretrained), cells.genes)
        inputs = encode_cells(tokenizer, cells.X, cells.genes)
        config = CellformerConfig.from_pretrained(pretrained)
    for fold, (train, test) in enumerate(folds):
        shared = set(groups[train]) & set(groups[test])
        if shared:
            raise AssertionError(f"patients on both sides of fold {fold}: {sorted(shared)}")
        for name in models:
            if name in CELL_MODELS:
                cell_train = np.isin(cells.sample, profiles.sample[train])
                cell_test = np.isin(cells.sample, profiles.sample[test])
                model = finetune_cells(
                    {k: v[cell_train] for k, v in inputs.items()},
                    cells.y[cell_train],
                    profiles.classes,
                    pretrained if name == "cellformer" else None,
                    config,
                    seed + fold,
                )
                proba = predict_proba(model, {k: v[cell_test] for k, v in inputs.items()})
                oof[name][test] = _sample_mean(proba, cells.sample[cell_test], profiles.sample[test])
            else:
                oof[name][test] = fit_predict_profiles(
                    name,
                    profiles.X[train],
                    profiles.y[train],
                    profiles.X[test],
                    n_classes,
                    profiles.study[train],
                    profiles.study[test],
                    seed,
                )
    return oof


def leave_one_study_out(profiles: CellTable, models: tuple[str, ...] = ("study_only", "logistic_regression")) -> dict:
    """Hold out each study in turn: per study, its samples, their labels and how many of those labels any other
    study holds (a model cannot call a label it never saw), and the accuracy of ``models``."""
    per_study, folds = {}, []
    for study in sorted(set(profiles.study)):
        test = np.flatnonzero(profiles.study == study)
        train = np.flatnonzero(profiles.study != study)
        folds.append((train, test))
        seen = np.isin(profiles.y[test], profiles.y[train])
        per_study[study] = {
            "samples": int(len(test)),
            "labels": sorted({profiles.classes[c] for c in profiles.y[test]}),
            "samples_whose_label_another_study_holds": int(seen.sum()),
        }
    oof = cross_validate(profiles, profiles.study, models, folds)
    evaluable = sum(item["samples_whose_label_another_study_holds"] for item in per_study.values())
    return {
        "per_study": per_study,
        "evaluable_samples": int(evaluable),
        "accuracy": {name: float((oof[name].argmax(1) == profiles.y).mean()) for name in models},
    }


def within_study_settings(profiles: CellTable, groups: np.ndarray, min_patients: int = 2) -> dict[str, np.ndarray]:
    """``{"within_<study>": sample mask}`` for each study holding at least two labels, each from at least
    ``min_patients`` patients: the comparison that the study of origin cannot explain."""
    settings = {}
    for study in sorted(set(profiles.study)):
        mask = profiles.study == study
        labels = set(profiles.y[mask].tolist())
        patients = [len(set(groups[mask & (profiles.y == label)])) for label in labels]
        if len(labels) >= 2 and min(patients) >= min_patients:
            settings[f"within_{study}"] = mask
    return settings


def evaluate_cancer_type(
    manifest: Path, workdir: Path, pretrained: Path | None, quick: bool, seed: int = 0, n_splits: int = 5
) -> dict[str, Any]:
    """All rows and the report of the cancer-type evaluation (``quick``: the profile models only)."""
    from sklearn.metrics import confusion_matrix

    profiles = load_profiles(manifest, workdir / "cache_profiles")
    keep, groups = sample_groups(profiles)
    dropped = sorted(set(profiles.sample[~keep]))
    profiles, groups = profiles.subset(keep), groups[keep]
    models = PROFILE_MODELS + (() if quick or pretrained is None else CELL_MODELS)
    cells = None
    if any(name in CELL_MODELS for name in models):
        cells = load_cells(manifest, workdir / "cache_cells")
        cells = cells.subset(np.isin(cells.sample, profiles.sample))
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {"samples": int(len(profiles.y)), "dropped_samples_unknown_patient": dropped}
    settings = {"all_types": np.ones(len(profiles.y), dtype=bool), **within_study_settings(profiles, groups)}
    for setting, mask in settings.items():
        part, part_groups = profiles.subset(mask), groups[mask]
        part_cells = cells.subset(np.isin(cells.sample, part.sample)) if cells is not None else None
        folds = grouped_folds(part.y, part_groups, n_splits, seed)
        oof = cross_validate(part, part_groups, models, folds, part_cells, pretrained, seed)
        prefix = f"cancer_type.{setting}.patient_cv"
        calls = {name: oof[name].argmax(1) for name in models}
        for name in models:
            rows += scored_rows(name, prefix, part.y, calls[name], part_groups, seed=seed)
        rows += difference_rows(prefix, calls, part.y, PAIRS, part_groups, seed)
        report[setting] = {
            "samples": int(len(part.y)),
            "patients": int(len(set(part_groups))),
            "folds": len(folds),
            "samples_per_type": {
                c: int((part.y == i).sum()) for i, c in enumerate(part.classes) if (part.y == i).any()
            },
            "fold_test_patients": [sorted(set(part_groups[test])) for _, test in folds],
            "classes": list(part.classes),
            "confusion_matrices": {  # rows: true class, columns: called class (indices into classes)
                name: confusion_matrix(part.y, calls[name], labels=list(range(len(part.classes)))).tolist()
                for name in models
            },
        }
    confound = confound_scores(np.array(profiles.classes)[profiles.y], profiles.study)
    rows.append(
        row("study_only", "confound.study_to_label_accuracy", confound["study_to_label_accuracy"], None, confound["n"])
    )
    rows.append(
        row("study_only", "confound.label_to_study_accuracy", confound["label_to_study_accuracy"], None, confound["n"])
    )
    # how visible the study is in the profiles: logistic regression calls the study of held-out patients
    study_names, study_y = np.unique(profiles.study, return_inverse=True)
    study_table = CellTable(**{**profiles.__dict__, "y": study_y, "classes": list(study_names)})
    folds = grouped_folds(study_y, groups, n_splits, seed)
    oof = cross_validate(study_table, groups, ("logistic_regression", "lightgbm"), folds, seed=seed)
    for name in ("logistic_regression", "lightgbm"):
        rows += scored_rows(
            name, "confound.study_from_profile.patient_cv", study_y, oof[name].argmax(1), groups, ("accuracy",), seed
        )
    loso = leave_one_study_out(profiles)
    rows.append(
        row(
            "any", "cancer_type.leave_one_study_out.evaluable_samples", loso["evaluable_samples"], None, len(profiles.y)
        )
    )
    report.update({"confound": confound, "leave_one_study_out": loso, "models": list(models)})
    return {"rows": rows, "report": report}


__all__ = [
    "CELL_MODELS",
    "FINETUNE",
    "LIGHTGBM",
    "PROFILE_MODELS",
    "RANDOM_FOREST",
    "confound_scores",
    "cross_validate",
    "evaluate_cancer_type",
    "finetune_cells",
    "fit_predict_profiles",
    "leave_one_study_out",
    "load_profiles",
    "sample_groups",
    "within_study_settings",
]
