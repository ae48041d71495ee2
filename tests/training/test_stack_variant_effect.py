import json

import numpy as np

from txformers.training import stack_variant_effect as sve


def test_head_scores_are_strictly_out_of_fold(monkeypatch):
    calls = []

    def fake(model, x, rows, train, score):
        calls.append((set(train.tolist()), set(score.tolist())))
        return np.full(len(score), float(len(train)))

    monkeypatch.setattr(sve, "_head_fit_score", fake)
    folds = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    train, score = np.array([0, 1, 2, 3, 4, 5]), np.array([6, 7])
    inner, outer = sve.oof_head(None, None, None, folds, train, score)
    assert len(inner) == 6 and len(outer) == 2
    assert all(not (fit & scored) for fit, scored in calls)  # never a prediction on a row the head trained on
    assert calls[-1] == (set(train.tolist()), {6, 7})  # the scored rows: a head trained on all training rows
    assert inner.tolist() == [4.0] * 6 and outer.tolist() == [6.0, 6.0]


def test_merge_results_adds_the_stacked_rows_and_keeps_the_baselines(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"cv": {"lightgbm_hand_features": {"average_precision": 0.2}}, "test": {}, "x": 1}))
    stacked = {"cv": {"stacked_lightgbm": {"average_precision": 0.3}}, "test": {"stacked_lightgbm": {}}, "chosen": {}}
    merged = sve.merge_results(str(path), stacked)
    assert set(merged["cv"]) == {"lightgbm_hand_features", "stacked_lightgbm"} and merged["x"] == 1
    assert merged["stacked"] == {"chosen": {}} and json.loads(path.read_text()) == merged


def test_paired_ap_difference_sign_and_interval():
    rng = np.random.default_rng(0)
    labels = np.array([1] * 20 + [0] * 180)
    good = labels + rng.normal(0, 0.5, 200)
    noise = rng.normal(0, 1, 200)
    out = sve.paired_ap_difference(good, noise, labels, n_boot=200)
    low, high = out["ci95"]
    assert 0 < low <= out["ap_difference"] <= high and out["share_of_resamples_above_0"] == 1.0
    same = sve.paired_ap_difference(good, good, labels, n_boot=50)
    assert same["ap_difference"] == 0 and same["ci95"] == [0.0, 0.0]
