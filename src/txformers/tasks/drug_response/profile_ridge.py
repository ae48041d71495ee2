# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Unseen drugs: kernel ridge regression of a new drug's whole response profile from its structure.

A drug's z-scored ln IC50 over the cell lines is split into the cell lines' general sensitivity (their mean z over
the reference drugs, what the no-model baseline ranks by) and a drug-specific residual. For a new drug the
residual is predicted by multi-output kernel ridge regression on the reference drugs' residual profiles, with a
drug kernel averaged over several fingerprints (:func:`drug_kernel`)::

    score(new drug, cell) = -(general[cell] + alpha * k_new^T (K + lam I)^-1 R)[cell]

(``K`` and ``k_new`` raised element-wise to ``power``). Its predictions are the side-information matrix
factorisation's (SVD of ``R``, loadings predicted from the drug's features) without truncating the rank.
:func:`choose_on_drugs` picks the setting, or a blend weight, on drugs other than the held-out ones: the
validation drugs (reference: the training drugs) and every training drug in a drug-wise k-fold cross-validation
(reference: the other folds).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

KERNEL_RIDGE_GRID = [
    {"lam": lam, "power": power, "alpha": alpha} for lam in (0.1, 1.0) for power in (1, 2, 3) for alpha in (1, 2, 3)
]
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# RDKit count fingerprints averaged (MinMax kernel) with the processor's Morgan bits (Tanimoto) in drug_kernel
COUNT_FINGERPRINTS = ("morgan", "feature_morgan", "atom_pair", "torsion")


def minmax_kernel(counts: np.ndarray) -> np.ndarray:
    """MinMax (Tanimoto for counts) similarity of every pair of rows: ``sum min / sum max``; 1 for two empty rows
    (a molecule without, say, torsions is still identical to itself)."""
    counts = np.asarray(counts, dtype=np.float64)
    out = np.zeros((len(counts), len(counts)))
    for i, row in enumerate(counts):
        low, high = np.minimum(row, counts).sum(1), np.maximum(row, counts).sum(1)
        out[i] = np.divide(low, high, out=np.ones_like(low), where=high > 0)
    return out


def count_fingerprints(smiles: Sequence[str], kind: str, n_bits: int = 2048) -> np.ndarray:
    """RDKit count fingerprints (``kind`` one of :data:`COUNT_FINGERPRINTS`, radius 2 for the Morgan ones); a
    SMILES RDKit cannot parse gives a zero row."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import rdFingerprintGenerator as generators

    RDLogger.DisableLog("rdApp.*")
    makers = {
        "morgan": lambda: generators.GetMorganGenerator(radius=2, fpSize=n_bits),
        "feature_morgan": lambda: generators.GetMorganGenerator(
            radius=2, fpSize=n_bits, atomInvariantsGenerator=generators.GetMorganFeatureAtomInvGen()
        ),
        "atom_pair": lambda: generators.GetAtomPairGenerator(fpSize=n_bits),
        "torsion": lambda: generators.GetTopologicalTorsionGenerator(fpSize=n_bits),
    }
    if kind not in makers:
        raise ValueError(f"unknown fingerprint {kind!r}; use one of {COUNT_FINGERPRINTS}")
    generator = makers[kind]()
    out = np.zeros((len(smiles), n_bits), dtype=np.float32)
    for i, text in enumerate(smiles):
        molecule = Chem.MolFromSmiles(text)
        if molecule is not None:
            out[i] = generator.GetCountFingerprintAsNumPy(molecule)
    return out


def drug_kernel(smiles: Sequence[str], fingerprints: np.ndarray, kinds: Sequence[str] = COUNT_FINGERPRINTS):
    """Drug x drug similarity: the mean of the Tanimoto similarity of ``fingerprints`` (0/1 rows, e.g. the
    processor's Morgan bits) and the MinMax similarity of each RDKit count fingerprint in ``kinds``. Uses only
    each drug's structure: no response, no other drug's data."""
    from .baselines import tanimoto

    kernels = [tanimoto(fingerprints).astype(np.float64)]
    kernels += [minmax_kernel(count_fingerprints(smiles, kind)) for kind in kinds]
    return np.mean(kernels, 0)


def kernel_ridge_scores(
    z: np.ndarray,
    kernel: np.ndarray,
    reference: Sequence[int],
    targets: Sequence[int],
    lam: float,
    power: float,
    alpha: float,
) -> np.ndarray:
    """Scores (higher = more sensitive) of every cell line for each task of ``targets``: minus (the cell line's
    mean z over the ``reference`` tasks + ``alpha`` x the kernel-ridge prediction of the task's residual from the
    reference tasks' residuals ``z - cell mean``, unmeasured pairs 0). ``z`` is tasks x cell lines (NaN: not
    measured), ``kernel`` tasks x tasks. Only the ``reference`` rows of ``z`` are read: a target's own values
    never enter its score unless it is a reference task. NaN for cell lines no reference task measured."""
    reference, targets = np.asarray(reference), np.asarray(targets)
    block = z[reference]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cell lines no reference task measured: NaN
        cell_mean = np.nanmean(block, 0)
    residual = np.where(np.isfinite(block), block - np.nan_to_num(cell_mean)[None], 0.0)
    powered = np.asarray(kernel, dtype=np.float64) ** power
    gram = powered[np.ix_(reference, reference)] + lam * np.eye(len(reference))
    predicted = powered[np.ix_(targets, reference)] @ np.linalg.solve(gram, residual)
    return -(cell_mean[None] + alpha * predicted)


def drug_folds(tasks: Sequence[int], n_folds: int = 5, seed: int = 0) -> list[np.ndarray]:
    """``tasks`` shuffled (seeded) into ``n_folds`` disjoint folds, each sorted."""
    order = np.random.default_rng(seed).permutation(np.asarray(tasks))
    return [np.sort(order[i::n_folds]) for i in range(n_folds)]


def choose_on_drugs(
    score: Callable[[np.ndarray, np.ndarray, Any], np.ndarray],
    options: Sequence[Any],
    train_tasks: Sequence[int],
    validation_tasks: Sequence[int],
    aurocs: Callable[[np.ndarray, np.ndarray], Sequence[float]],
    n_folds: int = 5,
    seed: int = 0,
) -> tuple[Any, float, dict[str, float]]:
    """The option with the highest mean AUROC over the validation drugs (scored from the training drugs) and every
    training drug (scored from the other folds of a drug-wise ``n_folds``-fold split): the held-out drugs are
    never read. ``score(reference, targets, option)`` returns targets x cell lines; ``aurocs(scores, targets)``
    the AUROC of each target. Returns the option, its mean AUROC over those drugs and that mean per option
    (keyed by ``str(option)``)."""
    train_tasks, validation_tasks = np.asarray(train_tasks), np.asarray(validation_tasks)
    folds = drug_folds(train_tasks, n_folds, seed)
    means = {}
    for option in options:
        values = list(aurocs(score(train_tasks, validation_tasks, option), validation_tasks))
        for fold in folds:
            values += list(aurocs(score(np.setdiff1d(train_tasks, fold), fold, option), fold))
        means[str(option)] = float(np.nanmean(values))
    best = max(range(len(options)), key=lambda i: means[str(options[i])])
    return options[best], means[str(options[best])], means


__all__ = [
    "BLEND_WEIGHTS",
    "COUNT_FINGERPRINTS",
    "KERNEL_RIDGE_GRID",
    "choose_on_drugs",
    "count_fingerprints",
    "drug_folds",
    "drug_kernel",
    "kernel_ridge_scores",
    "minmax_kernel",
]
