"""Unseen drugs: kernel ridge regression of a new drug's response profile from fingerprint kernels."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from txformers.tasks.drug_response.baselines import tanimoto
from txformers.tasks.drug_response.profile_ridge import (
    choose_on_drugs,
    drug_folds,
    kernel_ridge_scores,
    minmax_kernel,
)


def synthetic(n_drugs=60, n_cells=80, n_bits=24, seed=0):
    """z = general sensitivity + a drug-specific part that is a function of the fingerprint + noise."""
    rng = np.random.default_rng(seed)
    bits = (rng.random((n_drugs, n_bits)) < 0.3).astype(np.float32)
    general = rng.normal(size=n_cells)
    bit_effects = rng.normal(size=(n_bits, n_cells))  # each substructure shifts some cell lines' sensitivity
    z = general[None] + 0.6 * bits @ bit_effects + 0.3 * rng.normal(size=(n_drugs, n_cells))
    z[rng.random(z.shape) < 0.1] = np.nan
    return z, bits


def mean_auroc(z, scores, tasks):
    values = []
    for row, task in zip(scores, tasks):
        known = np.isfinite(z[task])
        labels = (z[task][known] < np.mean(z[task][known])).astype(int)  # sensitive: below the drug's mean
        values.append(roc_auc_score(labels, row[known]))
    return float(np.mean(values))


def test_minmax_kernel_by_hand():
    counts = np.array([[2, 0, 1], [1, 1, 1], [0, 0, 0]])
    kernel = minmax_kernel(counts)
    assert kernel[0, 1] == pytest.approx((1 + 0 + 1) / (2 + 1 + 1))
    assert kernel[0, 0] == pytest.approx(1.0) and kernel[2, 2] == 1.0 and kernel[0, 2] == 0.0
    np.testing.assert_allclose(kernel, kernel.T)


def test_kernel_ridge_beats_general_sensitivity_when_the_drug_specific_part_follows_the_fingerprint():
    z, bits = synthetic()
    kernel = tanimoto(bits)
    reference, targets = np.arange(40), np.arange(40, 60)
    general = kernel_ridge_scores(z, kernel, reference, targets, lam=1.0, power=1, alpha=0.0)
    np.testing.assert_allclose(general, np.tile(-np.nanmean(z[reference], 0), (20, 1)))
    ridge = kernel_ridge_scores(z, kernel, reference, targets, lam=1.0, power=1, alpha=1.0)
    assert mean_auroc(z, ridge, targets) > mean_auroc(z, general, targets) + 0.05
    # a drug-specific part unrelated to the fingerprint: shuffled kernels lose the gain
    shuffled = kernel[np.random.default_rng(1).permutation(60)][:, np.random.default_rng(2).permutation(60)]
    noise = kernel_ridge_scores(z, shuffled, reference, targets, lam=1.0, power=1, alpha=1.0)
    assert mean_auroc(z, ridge, targets) > mean_auroc(z, noise, targets)


def test_kernel_ridge_never_reads_the_targets_rows():
    z, bits = synthetic(seed=3)
    kernel = tanimoto(bits)
    reference, targets = np.arange(30), np.array([30, 31, 45])
    scores = kernel_ridge_scores(z, kernel, reference, targets, lam=0.1, power=2, alpha=2.0)
    changed = z.copy()
    changed[30:] = np.random.default_rng(0).normal(size=changed[30:].shape) * 100
    np.testing.assert_allclose(kernel_ridge_scores(changed, kernel, reference, targets, 0.1, 2, 2.0), scores)
    # a cell line no reference drug measured has no score
    z[:30, 7] = np.nan
    assert np.isnan(kernel_ridge_scores(z, kernel, reference, targets, 0.1, 2, 2.0)[:, 7]).all()


def test_choose_on_drugs_uses_only_training_and_validation_drugs():
    train, validation, held_out = np.arange(20), np.arange(20, 25), np.arange(25, 30)
    folds = drug_folds(train, 5, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == train.tolist()
    seen = []

    def score(reference, targets, option):
        seen.append((set(reference.tolist()), set(targets.tolist())))
        return np.full((len(targets), 3), float(option))

    def aurocs(scores, targets):
        return scores[:, 0]  # the option itself: the largest wins

    option, value, means = choose_on_drugs(score, [0.2, 0.9, 0.5], train, validation, aurocs)
    assert option == 0.9 and value == pytest.approx(0.9)
    assert means == pytest.approx({"0.2": 0.2, "0.9": 0.9, "0.5": 0.5})
    for reference, targets in seen:
        assert not (reference | targets) & set(held_out.tolist())
        assert not reference & targets  # a drug is never scored from itself
    assert any(targets == set(validation.tolist()) and reference == set(train.tolist()) for reference, targets in seen)


def test_drug_kernel_averages_fingerprint_similarities():
    pytest.importorskip("rdkit")
    from txformers.tasks.drug_response.profile_ridge import count_fingerprints, drug_kernel

    smiles = ["CCO", "CCCO", "c1ccccc1O", "not a smiles"]
    counts = count_fingerprints(smiles, "morgan")
    assert counts[3].sum() == 0 and counts[0].sum() > 0
    bits = (counts > 0).astype(np.float32)
    kernel = drug_kernel(smiles, bits)
    np.testing.assert_allclose(kernel, kernel.T)
    assert kernel[0, 1] > kernel[0, 2]  # ethanol is closer to propanol than to phenol
    np.testing.assert_allclose(np.diag(kernel)[:3], 1.0)
    with pytest.raises(ValueError, match="unknown fingerprint"):
        count_fingerprints(smiles, "ecfp99")
