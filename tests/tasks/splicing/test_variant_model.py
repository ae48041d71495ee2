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
