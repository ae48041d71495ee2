"""`txformers evaluate` for the splice-site window classifier: rows with bootstrap CIs per site type."""

import json

import numpy as np
import pytest

from tests.conftest import requires_shared_data
from tests.training.test_finetune_splice_nt import _data
from txformers.tasks.splicing.evaluation import _rows, _subsample, evaluate_checkpoint


def split(n=40, seed=0):
    rng = np.random.default_rng(seed)
    site_type = np.repeat(["donor", "acceptor"], n)
    is_site = rng.integers(0, 2, 2 * n)
    label = np.where(is_site == 1, np.where(site_type == "donor", 1, 2), 0)
    return {"sequence": np.array(["ACGT"] * (2 * n)), "label": label, "site_type": site_type}


def test_rows_score_each_site_type_by_its_own_class_probability():
    test = split()
    perfect = np.zeros((len(test["label"]), 3))
    perfect[np.arange(len(test["label"])), test["label"]] = 1.0
    rows = _rows("m", perfect, test, n_bootstrap=50)
    assert {(r["setting"], r["metric"]) for r in rows} == {
        (f"{site} windows (Test)", metric) for site in ("donor", "acceptor") for metric in ("auroc", "ap", "accuracy")
    }
    assert all(r["value"] == pytest.approx(1.0) and r["n"] == 40 for r in rows)
    flipped = _rows("m", 1 - perfect, test, n_bootstrap=50)
    assert all(r["value"] < 0.5 for r in flipped if r["metric"] == "auroc")


def test_subsample_draws_per_site_type_and_is_fixed():
    test = split(n=50)
    small = _subsample(test, 10, seed=0)
    assert (small["site_type"] == "donor").sum() == 10 and (small["site_type"] == "acceptor").sum() == 10
    np.testing.assert_array_equal(small["label"], _subsample(test, 10, seed=0)["label"])


def test_refuses_a_checkpoint_that_is_not_a_window_classifier(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "splicebert", "architectures": ["X"]}))
    with pytest.raises(ValueError, match="not a splice-site window classifier"):
        evaluate_checkpoint(tmp_path)


@pytest.mark.slow
@requires_shared_data
def test_quick_evaluation_of_the_bundled_splice_site_checkpoint():
    from txformers.hub import CHECKPOINTS

    result = evaluate_checkpoint(CHECKPOINTS / "splicebert-small-splice-sites", quick=True)
    auroc = {(r["model"], r["setting"]): r["value"] for r in result["rows"] if r["metric"] == "auroc"}
    assert len(auroc) == 6 and all(value > 0.9 for value in auroc.values())
    assert {model for model, _ in auroc} == {
        "splicebert-small-splice-sites",
        "logistic_regression_onehot_60nt",
        "lightgbm_onehot_60nt",
    }
    assert any("full mode only" in note for note in result["notes"])  # no twin in quick mode


# ---------------------------------------------------------------------------- the other SpliceBERT checkpoints
def test_window_counts_and_statistics():
    from txformers.tasks.splicing.evaluation_models import count_statistic, window_counts

    window = np.array([0, 0, 1, 1, 1])
    truth = np.array([0, 1, 0, 0, 3])
    predicted = np.array([0, 0, 0, 1, 3])
    counts = window_counts(window, truth, predicted, 2)
    np.testing.assert_array_equal(counts[0], [1, 1, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(counts[1], [1, 2, 0, 0, 0, 0, 1, 1])
    assert count_statistic("accuracy")(counts) == pytest.approx(3 / 5)
    # recall: A 2/3, C 0/1, T 1/1 (G absent)
    assert count_statistic("balanced_accuracy")(counts) == pytest.approx((2 / 3 + 0 + 1) / 3)


def test_kmer_table_learns_a_context_rule():
    from txformers.tasks.splicing.evaluation_models import kmer_context, kmer_table
    from txformers.tasks.splicing.nt_sites import encode_ids

    ids = encode_ids(["ACGTACGTACGTACGT", "ACGTACGTACGTACGT"])
    table = kmer_table(ids, flank=1)
    rows, positions = np.array([0, 0]), np.array([2, 5])  # G between C and T; C between A and G
    np.testing.assert_array_equal(table[kmer_context(ids, rows, positions, flank=1)], [2, 1])
    # past the ends reads as "other", not as a wrapped-around nucleotide
    assert (
        kmer_context(ids, np.array([0]), np.array([0]), flank=1)[0]
        == kmer_context(encode_ids(["NCGT"]), np.array([0]), np.array([0]), flank=1)[0]
    )


def test_binary_rows_and_stratified_draw():
    from txformers.tasks.splicing.evaluation_models import binary_rows, stratified_draw

    truth = np.array([0, 1] * 20)
    rows = binary_rows("m", truth, truth + 0.1, 50, setting="s")
    assert [(r["metric"], r["value"]) for r in rows] == [("auroc", 1.0), ("ap", 1.0)]
    assert all(r["n"] == 40 and r["ci95"][0] <= r["value"] <= r["ci95"][1] for r in rows)
    assert binary_rows("m", truth, -truth, 50)[0]["value"] == 0.0
    groups = np.array(["a"] * 10 + ["b"] * 3)
    picked = stratified_draw(groups, 5)
    assert (groups[picked] == "a").sum() == 5 and (groups[picked] == "b").sum() == 3
    np.testing.assert_array_equal(picked, stratified_draw(groups, 5))


def test_dispatches_on_the_architecture(tmp_path, monkeypatch):
    from txformers.tasks.splicing import evaluation_models

    calls = []
    for architecture in evaluation_models.EVALUATORS:
        monkeypatch.setitem(
            evaluation_models.EVALUATORS, architecture, lambda c, d, q, a=architecture: calls.append((a, d, q))
        )
    for architecture in ("SpliceBertForMaskedLM", "SpliceBertForTokenClassification", "SpliceBertForVariantEffect"):
        folder = tmp_path / architecture
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"model_type": "splicebert", "architectures": [architecture]}))
        evaluate_checkpoint(folder, data=tmp_path, quick=True)
        assert calls[-1] == (architecture, tmp_path, True)
        with pytest.raises(FileNotFoundError, match="missing"):
            evaluate_checkpoint(folder, data=tmp_path / "absent")


@pytest.mark.slow
@requires_shared_data
@pytest.mark.parametrize(
    "name", ["splicebert-small-pretrained", "splicebert-small-splice-sites-nt", "splicebert-small-variant-effect"]
)
def test_quick_evaluation_of_the_other_bundled_splicebert_checkpoints(name):
    from txformers.hub import CHECKPOINTS

    result = evaluate_checkpoint(CHECKPOINTS / name, quick=True)
    by_model = {}
    for row in result["rows"]:
        by_model.setdefault(row["model"], []).append(row)
        assert row["ci95"][0] <= row["value"] <= row["ci95"][1]
    assert name in by_model or "stacked_lightgbm" in by_model
    if name == "splicebert-small-splice-sites-nt":  # gradient boosting in quick mode too, the twin in full only
        assert "lightgbm_onehot_60nt" in by_model and "random_init_twin" not in by_model
        assert all(r["value"] > 0.8 for r in by_model["lightgbm_onehot_60nt"])
    if name == "splicebert-small-pretrained":  # pretraining beats the random-init twin on masked nucleotides
        value = {(r["model"], r["metric"]): r["value"] for r in result["rows"]}
        assert value[(name, "accuracy")] > value[("random_init_twin", "accuracy")]


@pytest.mark.parametrize("name", ["splicebert-small-splice-sites", "splicebert-small-splice-sites-nt"])
def test_a_test_only_species_folder_is_scored_with_baselines_trained_on_the_human_train(tmp_path, monkeypatch, name):
    """Another species kept aside has Test/ only: the model is scored there, its baselines train on human Train."""
    from txformers.hub import CHECKPOINTS
    from txformers.tasks.splicing import evaluation, evaluation_models

    human = _data(tmp_path / "homo_sapiens", n=30)
    other = _data(tmp_path / "other_species", n=30, splits=("Test",), seed=1)
    monkeypatch.setattr(evaluation, "default_data", lambda: human)
    monkeypatch.setattr(evaluation_models, "default_data", lambda architecture: human)
    result = evaluate_checkpoint(CHECKPOINTS / name, data=other, quick=True)
    assert str(human) in result["split"] and "no Train" in result["split"]
    models = {row["model"] for row in result["rows"]}
    assert {name, "logistic_regression_onehot_60nt", "lightgbm_onehot_60nt"} <= models
    assert all(row["n"] == 60 for row in result["rows"])  # the other species' 2 x 30 Test windows per site type
    with pytest.raises(ValueError, match="no Test"):
        evaluate_checkpoint(
            CHECKPOINTS / name, data=_data(tmp_path / "train_only", n=30, splits=("Train",)), quick=True
        )
