"""Tests of the Cellformer evaluation (`txformers evaluate` for cellformer checkpoints): pseudo-bulk profiles per
sample, patient-disjoint folds, the study confound, leave-one-study-out, bootstrap rows, embedding probes, on tiny
synthetic AnnData that the tests write."""

from __future__ import annotations

import json

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from tests.conftest import requires_shared_data
from txformers.evaluation import validate_results
from txformers.models.cellformer import CellformerConfig, CellformerForMaskedExpressionModeling
from txformers.tasks.cytokine.evaluation import checkpoint_task, evaluate_checkpoint
from txformers.tasks.cytokine.evaluation_cancer_type import (
    confound_scores,
    cross_validate,
    evaluate_cancer_type,
    leave_one_study_out,
    load_profiles,
)
from txformers.tasks.cytokine.evaluation_embeddings import (
    cellformer_embed,
    hvg_pca,
    log_cp10k,
    out_of_fold,
    silhouette_row,
)
from txformers.tasks.cytokine.evaluation_rows import (
    difference_rows,
    difference_verdicts,
    group_bootstrap,
    macro_f1,
    scored_rows,
)
from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

PANEL = ["IL2", "IFNG", "TNF", "CCL5", "CXCL13", "IL10"]
GENES = PANEL + ["ACTB", "CD3E"]
# study s1 holds two cancer types (3 patients each, 2 samples per patient), study s2 a third type
DESIGN = [("s1", "lung", f"L{i}") for i in range(3)] + [("s1", "renal", f"R{i}") for i in range(3)]
DESIGN += [("s2", "melanoma", f"M{i}") for i in range(3)]
MARKER = {"lung": "IL2", "renal": "IFNG", "melanoma": "TNF"}


def _write_manifest(folder, design=DESIGN, samples_per_patient=2, cells=6, seed=0):
    rng = np.random.default_rng(seed)
    rows, counts_of = [], {}
    for study, cancer, patient in design:
        for s in range(samples_per_patient):
            counts = rng.poisson(2.0, size=(cells, len(GENES))).astype(np.float32)
            counts[:, GENES.index(MARKER[cancer])] += rng.poisson(8.0, size=cells)
            counts[:, GENES.index("ACTB")] += 50
            sample = f"{patient}_{s}"
            adata = anndata.AnnData(
                X=sp.csr_matrix(counts),
                obs=pd.DataFrame(index=[f"{sample}_c{i}" for i in range(cells)]),
                var=pd.DataFrame(index=GENES),
            )
            path = folder / f"{sample}.h5ad"
            adata.write_h5ad(path)
            counts_of[sample] = counts
            rows.append(
                dict(
                    path=path.name,
                    format="h5ad",
                    cancer_type=cancer,
                    study=study,
                    patient=patient,
                    sample=sample,
                    scale="counts",
                    immune_filter="none",
                )
            )
    manifest = folder / "manifest.tsv"
    pd.DataFrame(rows).to_csv(manifest, sep="\t", index=False)
    return manifest, counts_of


# ---------------------------------------------------------------------------------------- pseudo-bulk
def test_pseudobulk_profile_per_sample(tmp_path):
    manifest, counts_of = _write_manifest(tmp_path, samples_per_patient=1, cells=4)
    profiles = load_profiles(manifest, tmp_path / "cache")
    assert sorted(profiles.sample) == sorted(counts_of)  # one row per sample
    assert set(profiles.genes) == set(PANEL)  # the cytokine panel only
    for index, sample in enumerate(profiles.sample):
        summed = counts_of[sample].sum(0)  # raw counts summed over the sample's cells ...
        expected = np.log1p(summed / summed.sum() * 1e4)  # ... then log1p(CP10k) over all genes
        columns = [GENES.index(gene) for gene in profiles.genes]
        np.testing.assert_allclose(profiles.X[index], expected[columns], rtol=1e-5)
        assert profiles.classes[profiles.y[index]] == dict((p, c) for _, c, p in DESIGN)[sample.rsplit("_", 1)[0]]


# ---------------------------------------------------------------------------------------- confound
def test_confound_scores_when_study_is_the_label():
    labels = np.array(["a", "a", "b", "b", "c"])
    scores = confound_scores(labels, labels.copy())
    assert scores["study_to_label_accuracy"] == 1.0
    assert scores["label_to_study_accuracy"] == 1.0
    assert scores["labels_from_one_study"] == 3
    assert scores["cramers_v"] == pytest.approx(1.0)


def test_confound_scores_when_study_and_label_are_crossed():
    labels = np.array(["a", "b", "a", "b"] * 3)
    studies = np.array(["s1", "s1", "s2", "s2"] * 3)
    scores = confound_scores(labels, studies)
    assert scores["study_to_label_accuracy"] == 0.5
    assert scores["label_to_study_accuracy"] == 0.5
    assert scores["labels_from_one_study"] == 0
    assert scores["cramers_v"] == pytest.approx(0.0)


def test_leave_one_study_out_counts_samples_no_other_study_can_teach(tmp_path):
    manifest, _ = _write_manifest(tmp_path, samples_per_patient=1)
    profiles = load_profiles(manifest, tmp_path / "cache")
    loso = leave_one_study_out(profiles)
    assert loso["evaluable_samples"] == 0  # every cancer type comes from one study here
    assert loso["per_study"]["s2"]["labels"] == ["melanoma"]
    assert loso["accuracy"]["logistic_regression"] == 0.0


# ---------------------------------------------------------------------------------------- folds and rows
def test_cross_validate_refuses_folds_that_share_a_patient(tmp_path):
    manifest, _ = _write_manifest(tmp_path, samples_per_patient=2)
    profiles = load_profiles(manifest, tmp_path / "cache")
    n = len(profiles.y)
    folds = [(np.arange(0, n - 1), np.array([n - 1]))]  # the last sample's patient has another sample in training
    with pytest.raises(AssertionError, match="both sides"):
        cross_validate(profiles, profiles.patient, ("majority",), folds)


def test_evaluate_cancer_type_quick_is_patient_grouped_and_beats_majority(tmp_path):
    manifest, _ = _write_manifest(tmp_path, samples_per_patient=2)
    result = evaluate_cancer_type(manifest, tmp_path, pretrained=None, quick=True, n_splits=3)
    report = result["report"]
    assert set(report) >= {"all_types", "within_s1", "confound", "leave_one_study_out"}
    for setting in ("all_types", "within_s1"):
        tested = [patient for fold in report[setting]["fold_test_patients"] for patient in fold]
        assert len(tested) == len(set(tested)) == report[setting]["patients"]  # each patient tested once
        matrix = np.array(report[setting]["confusion_matrices"]["logistic_regression"])
        assert matrix.sum() == report[setting]["samples"]  # every sample called once, out of fold
    rows = {(r["model"], r["metric"]): r for r in result["rows"]}
    validate_results(
        {"checkpoint": "c", "data": "d", "split": "s", "seeds": [0], "command": "x", "rows": result["rows"]}
    )
    assert rows[("study_only", "confound.label_to_study_accuracy")]["value"] == 1.0
    assert rows[("any", "cancer_type.leave_one_study_out.evaluable_samples")]["value"] == 0
    within = "cancer_type.within_s1.patient_cv.accuracy"
    assert rows[("logistic_regression", within)]["value"] > rows[("majority", within)]["value"]
    # the study-only model cannot tell lung from renal inside s1
    assert rows[("study_only", within)]["value"] == rows[("majority", within)]["value"]
    for item in result["rows"]:
        assert item["ci95"][0] <= item["value"] + 1e-9 and item["value"] <= item["ci95"][1] + 1e-9


def test_group_bootstrap_moves_groups_together():
    y = np.zeros(20, dtype=int)
    predicted = np.r_[np.zeros(10, dtype=int), np.ones(10, dtype=int)]  # patient A right, patient B wrong
    groups = np.array(["A"] * 10 + ["B"] * 10)
    accuracy = lambda t, p: float((t == p).mean())  # noqa: E731
    lo, hi = group_bootstrap(accuracy, y, predicted, groups, n_boot=200)
    assert lo == 0.0 and hi == 1.0  # with whole patients resampled, all-A and all-B draws happen
    lo, hi = group_bootstrap(accuracy, y, predicted, None, n_boot=200)
    assert 0.2 < lo < 0.5 < hi < 0.8  # cell resampling gives a much narrower interval


def test_macro_f1_matches_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    for _ in range(50):
        truth, predicted = rng.integers(0, 4, 25), rng.integers(0, 6, 25)
        present = sorted(set(truth.tolist()))
        expected = f1_score(truth, predicted, labels=present, average="macro", zero_division=0)
        assert macro_f1(truth, predicted) == pytest.approx(expected)
    rows = scored_rows("m", "x", np.array([0, 1]), np.array([0, 1]), None)
    assert [r["metric"] for r in rows] == ["x.accuracy", "x.macro_f1"] and rows[0]["value"] == 1.0


def test_paired_difference_rows_and_verdicts():
    y = np.zeros(40, dtype=int)
    better = np.r_[np.zeros(36, dtype=int), np.ones(4, dtype=int)]  # 36 of 40 right
    worse = np.r_[np.zeros(20, dtype=int), np.ones(20, dtype=int)]  # 20 of 40 right, wrong wherever better is
    same = better.copy()
    rows = difference_rows("t", {"a": better, "b": worse, "c": same}, y, [("a", "b"), ("a", "c"), ("a", "x")], None)
    assert [r["metric"] for r in rows] == ["t.accuracy_minus_b", "t.accuracy_minus_c"]  # unknown peers skipped
    assert rows[0]["value"] == pytest.approx(0.4) and rows[0]["ci95"][0] > 0
    assert rows[1]["value"] == 0 and rows[1]["ci95"] == [0.0, 0.0]
    lines = difference_verdicts(rows)
    assert "a is above b" in lines[0] and "level with" in lines[1]


# ---------------------------------------------------------------------------------------- embeddings
@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("encoder")
    tokenizer = GeneExpressionTokenizer.from_genes(GENES, mode="bins", n_bins=11, max_length=len(GENES) + 1)
    config = CellformerConfig(
        vocab_size=tokenizer.vocab_size,
        n_bins=11,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    torch.manual_seed(1)
    CellformerForMaskedExpressionModeling(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_cellformer_embed_pretrained_and_random_twin(tiny_encoder):
    rng = np.random.default_rng(0)
    values = log_cp10k(rng.poisson(3.0, size=(12, len(GENES))))
    first, coverage = cellformer_embed(tiny_encoder, values, GENES)
    again, _ = cellformer_embed(tiny_encoder, values, GENES)
    twin, _ = cellformer_embed(tiny_encoder, values, GENES, random_init=True, seed=0)
    mean, _ = cellformer_embed(tiny_encoder, values, GENES, pooling="mean")
    assert first.shape == twin.shape == mean.shape == (12, 16)
    assert coverage == pytest.approx(1.0)
    np.testing.assert_allclose(first, again)  # deterministic
    assert not np.allclose(first, twin) and not np.allclose(first, mean)


def test_probes_and_silhouette_on_separated_clusters():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.array(["x", "y", "z"]), 20)
    centres = {"x": 0.0, "y": 6.0, "z": 12.0}
    Z = np.stack([rng.normal(centres[label], 1.0, size=5) for label in labels])
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(Z, labels))
    for probe in ("knn", "logistic"):
        assert (out_of_fold(probe, Z, labels, folds) == labels).mean() > 0.95
    good = silhouette_row("z", "t", Z, labels, None, 0)
    shuffled = silhouette_row("z", "t", Z, rng.permutation(labels), None, 0)
    assert good["value"] > 0.5 > shuffled["value"] and good["metric"] == "t.silhouette"
    assert hvg_pca(np.abs(Z), n_genes=3, n_components=2).shape == (60, 2)


def test_checkpoint_task(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["CellformerForCellClassification"]}))
    assert checkpoint_task(tmp_path) == "cancer_type"
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["CellformerForMaskedExpressionModeling"]}))
    assert checkpoint_task(tmp_path) == "embeddings"


@requires_shared_data
@pytest.mark.slow
@pytest.mark.parametrize("name", ["cellformer-pretrained", "cellformer-cancer-type"])
def test_quick_evaluation_reproduces_the_recorded_rows(name):
    from txformers.evaluation import check, read_record
    from txformers.hub import CHECKPOINTS

    results = evaluate_checkpoint(CHECKPOINTS / name, None, quick=True)
    validate_results(results)
    recorded = read_record(CHECKPOINTS / name, "quick")
    assert recorded is not None and check(recorded, results) == []
