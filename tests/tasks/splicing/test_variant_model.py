import numpy as np

from txformers.tasks.splicing import variant_model as vm


def test_grouped_folds_keep_each_exon_on_one_side():
    groups = [f"e{i // 3}" for i in range(60)]
    labels = [int(i % 7 == 0) for i in range(60)]
    folds = vm.grouped_folds(groups, labels, n_splits=5)
    assert set(folds) == set(range(5))
    for g in set(groups):
        assert len({f for f, h in zip(folds, groups) if h == g}) == 1


def test_metrics_with_ci_perfect_and_random():
    labels = np.array([0] * 80 + [1] * 20)
    perfect = vm.metrics_with_ci(labels.astype(float), labels, n_boot=50)
    assert perfect["average_precision"] == 1.0 and perfect["auroc"] == 1.0
    noise = vm.metrics_with_ci(np.random.default_rng(0).random(100), labels, n_boot=50)
    low, high = noise["auroc_ci95"]
    assert low < noise["auroc"] < high and noise["auroc"] < 0.8


def _row(pos, ref, alt, ratio):
    wt = "CCAG" + "ACGTACGTACGTACGTACGT" + "GTAA"
    mut = wt[:pos] + alt + wt[pos + 1 :]
    return dict(wt_sequence=wt, mut_sequence=mut, variant_pos=pos, ref=ref, alt=alt, exon_start=4, exon_end=24,
                log2_vivo_ratio=ratio, log2_vitro_ratio=ratio, label=int(ratio < -1))  # fmt: skip


def test_hexamer_scores_learn_from_training_rows_and_hand_features_use_them():
    rows = [_row(10, "G", "A", -3.0)] * 5 + [_row(15, "C", "A", 1.0)] * 5
    tables = vm.hexamer_scores(rows)
    destroyed = rows[0]["wt_sequence"][5:11]  # a hexamer overlapping position 10
    assert tables["destroy"][destroyed] < 0
    x = vm.hand_features(rows, tables)
    assert x.shape == (10, len(vm.HAND_FEATURES))
    column = vm.HAND_FEATURES.index("hexamer_destroy")
    assert x[0, column] < x[-1, column]
    assert x[0, vm.HAND_FEATURES.index("dist_acceptor")] == 6


def test_fit_head_scores_learns_the_label_from_cached_features_and_never_sees_the_test_labels(tiny_splicebert_config):
    from txformers.models.splicebert import SpliceBertForVariantEffect

    model = SpliceBertForVariantEffect(tiny_splicebert_config)
    width = model.variant_head[0].normalized_shape[0]
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    features = rng.normal(size=(200, width)).astype(np.float32)
    features[:, :20] += 2.0 * labels[:, None]  # twenty features carry the label
    rows = [{"label": int(y), "log2_vivo_ratio": np.nan, "log2_vitro_ratio": np.nan} for y in labels]
    train, test = np.arange(150), np.arange(150, 200)
    config = {"ratio_loss_weight": 0.0, "weight_decay": 0.01, "epochs": 60}
    scores = vm.fit_head_scores(model, features, rows, train, test, config, seeds=(0, 1))
    assert scores.shape == (50,)
    assert vm.metrics_with_ci(scores, labels[test], n_boot=1)["auroc"] > 0.9
    flipped = [dict(r, label=1 - r["label"]) if i >= 150 else r for i, r in enumerate(rows)]  # test labels only
    again = vm.fit_head_scores(model, features, flipped, train, test, config, seeds=(0, 1))
    np.testing.assert_allclose(again, scores, rtol=1e-5, atol=1e-6)


def test_hand_feature_baselines_learn_which_position_disrupts_and_use_training_rows_only():
    train = [_row(10, "G", "A", -3.0)] * 20 + [_row(15, "C", "A", 1.0)] * 20  # position 10 disrupts
    test = [_row(10, "G", "A", -3.0), _row(15, "C", "A", 1.0)]
    for scores in (vm.logistic_scores(train, test), vm.gbm_scores(train, test, min_child_samples=2)):
        assert scores.shape == (2,) and scores[0] > scores[1]
    flipped = [dict(r, label=1 - r["label"]) for r in test]  # the test rows' labels are never read
    np.testing.assert_allclose(vm.logistic_scores(train, flipped), vm.logistic_scores(train, test))
