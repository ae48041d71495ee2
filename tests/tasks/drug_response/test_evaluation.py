"""The MetaSCDrug evaluation of `txformers evaluate`: leakage-free baselines, rows and comparisons."""

import numpy as np
import pytest

from tests.conftest import requires_shared_data
from txformers.tasks.drug_response.baselines import (
    choose_setting,
    fewshot_baseline,
    leave_drug_out_sensitivity,
    pair_folds,
    signal_to_noise,
    unseen_drug_lightgbm,
)
from txformers.tasks.drug_response.evaluation import single_cell_rows


def separable(n_per_class=20, n_genes=200, informative=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat([1, 0], n_per_class)
    x = rng.normal(size=(2 * n_per_class, n_genes)).astype(np.float32)
    x[:, :informative] += 2.0 * (2 * labels[:, None] - 1)
    return x, labels


def test_signal_to_noise_ranks_the_informative_genes_first():
    x, y = separable()
    assert set(np.argsort(-signal_to_noise(x, y))[:5]) == set(range(5))


def test_pair_folds_hold_out_one_shot_of_each_class():
    y = np.array([1, 0, 1, 0, 1, 0])
    folds = pair_folds(y)
    assert len(folds) == 3
    assert all(sorted(y[fold]) == [0, 1] for fold in folds)
    assert pair_folds(np.array([1, 0])) == []


@pytest.mark.parametrize("kind", ["logistic_regression", "lightgbm"])
def test_fewshot_baselines_learn_from_the_shots_only(kind):
    x, y = separable()
    support = np.array([0, 1, 2, 20, 21, 22])  # 3 shots per class
    probability, setting = fewshot_baseline(kind, x, y, support, seed=0)
    rest = np.setdiff1d(np.arange(len(y)), support)
    assert setting["tuned"] is True
    assert np.mean((probability[rest] >= 0.5) == y[rest]) >= 0.8
    # the shots alone decide: changing the cells outside them changes nothing of the fit
    shuffled = x.copy()
    shuffled[rest] = np.random.default_rng(1).normal(size=shuffled[rest].shape)
    again, again_setting = fewshot_baseline(kind, shuffled, y, support, seed=0)
    assert again_setting == setting
    np.testing.assert_allclose(again[support], probability[support], rtol=1e-6)


def test_one_shot_per_class_uses_the_default_setting():
    x, y = separable()
    setting, tuned = choose_setting("lightgbm", x[[0, 20]], y[[0, 20]])
    assert tuned is False and setting["n_genes"] == 500
    with pytest.raises(ValueError, match="unknown baseline"):
        fewshot_baseline("svm", x, y, np.array([0, 1, 20, 21]))


def test_leave_drug_out_sensitivity_excludes_the_pairs_own_value():
    cells = np.array([0, 0, 0, 1])
    tasks = np.array([0, 1, 2, 0])
    z = np.array([1.0, 3.0, 100.0, -2.0])
    train = np.array([0, 1, 3])  # task 2 is held out
    general = leave_drug_out_sensitivity(cells, tasks, z, train, n_cells=2)
    assert general[0] == pytest.approx(-3.0)  # cell 0 without its own task 0: the task-1 value
    assert general[1] == pytest.approx(-1.0)
    assert general[2] == pytest.approx(-2.0)  # held-out pair: every training pair of cell 0
    assert np.isnan(general[3])  # cell 1 has no other training pair


def test_unseen_drug_lightgbm_learns_a_drug_specific_interaction():
    rng = np.random.default_rng(0)
    n_cells, n_tasks = 120, 24
    cell_features = rng.normal(size=(n_cells, 4)).astype(np.float32)
    fingerprints = rng.integers(0, 2, size=(n_tasks, 16)).astype(np.float32)
    cells, tasks = np.meshgrid(np.arange(n_cells), np.arange(n_tasks))
    cells, tasks = cells.ravel(), tasks.ravel()
    # z depends on a cell feature whose sign is set by a fingerprint bit: no general sensitivity explains it
    sign = 2 * fingerprints[tasks, 0] - 1
    z = sign * cell_features[cells, 0] + 0.3 * rng.normal(size=len(cells))
    train, validation, test = np.arange(0, 16), np.arange(16, 20), np.arange(20, 24)
    scores, info = unseen_drug_lightgbm(cells, tasks, z, cell_features, fingerprints, train, validation, max_trees=200)
    assert info["n_train_pairs"] == 16 * n_cells and info["features"]["fingerprint_bits"] == 16
    from sklearn.metrics import roc_auc_score

    aurocs = [roc_auc_score(z[tasks == t] < 0, scores[tasks == t]) for t in test]
    assert np.mean(aurocs) > 0.8


def records(files=("A", "B"), shots=(3,), seeds=4):
    rows = []
    for f in files:
        for k in shots:
            for seed in range(seeds):
                for model, base in (("ckpt", 0.95), ("random_init", 0.9), ("lightgbm_tuned", 0.7)):
                    value = base + 0.01 * seed
                    rows.append(
                        {
                            "data": f,
                            "k": k,
                            "seed": seed,
                            "model": model,
                            "accuracy": value,
                            "auroc": value,
                            "ap": value,
                            "f1": value,
                        }
                    )
                for model in ("logistic_regression_tuned", "logistic_regression"):
                    value = 0.96 + 0.01 * seed
                    rows.append(
                        {
                            "data": f,
                            "k": k,
                            "seed": seed,
                            "model": model,
                            "accuracy": value,
                            "auroc": value,
                            "ap": value,
                            "f1": value,
                        }
                    )
    return rows


def test_single_cell_rows_per_file_and_mean_with_comparisons():
    rows, comparisons = single_cell_rows(records(), "ckpt")
    keys = {(r["model"], r["metric"], r["data"]) for r in rows}
    assert ("ckpt", "accuracy", "mean of 2") in keys and ("lightgbm_tuned", "f1", "A") in keys
    assert len(rows) == 5 * 4 * 3  # 5 models x 4 metrics x (2 files + mean)
    verdict = {(c["peer"], c["metric"]): c["verdict"] for c in comparisons}
    assert verdict[("lightgbm_tuned", "accuracy")] == "above"
    assert verdict[("logistic_regression_tuned", "accuracy")] == "below"
    mean = next(r for r in rows if r["model"] == "ckpt" and r["metric"] == "accuracy" and r["data"] == "mean of 2")
    assert mean["value"] == pytest.approx(0.965) and mean["n"] == 4


@pytest.mark.slow
@requires_shared_data
def test_quick_evaluation_of_the_bundled_checkpoint_reproduces_its_card_number():
    from txformers.hub import CHECKPOINTS
    from txformers.tasks.drug_response.evaluation import evaluate_checkpoint

    result = evaluate_checkpoint(CHECKPOINTS / "metascdrug-meta", quick=True)
    models = {row["model"] for row in result["rows"]}
    assert {"metascdrug-meta", "random_init", "lightgbm_tuned", "logistic_regression_tuned"} <= models
    accuracy = next(r for r in result["rows"] if r["model"] == "metascdrug-meta" and r["metric"] == "accuracy")
    # seeds 0-2 of the card's PLX4720 k=3 run (results/metascdrug/single_cell_fewshot.json)
    import json

    from txformers.hub import REPO_ROOT

    card = json.loads((REPO_ROOT / "results/metascdrug/single_cell_fewshot.json").read_text())
    run = next(r for r in card["runs"] if r["name"] == "meta" and r["shots"] == 3 and "PLX4720" in r["data"])
    expected = np.mean([row["accuracy"] for row in run["per_seed"][:3]])
    assert accuracy["value"] == pytest.approx(expected, abs=1e-6)


def test_compare_checkpoints_pairs_the_two_runs_by_seed():
    from txformers.tasks.drug_response.evaluation import compare_checkpoints

    def run(name, base):
        rows = [r | {"model": name} for r in records(shots=(3,)) if r["model"] == "ckpt"]
        rows = [r | {m: r[m] + base for m in ("accuracy", "auroc")} for r in rows]
        return {"checkpoint": f"checkpoints/{name}", "plan": {"shots": [3]}, "records": rows}

    result = compare_checkpoints(run("meta", 0.0), run("nometa", 0.02), command="cmd")
    accuracy = next(c for c in result["comparisons"] if c["metric"] == "accuracy")
    assert accuracy["difference"] == pytest.approx(-0.02) and accuracy["verdict"] == "below"
    assert result["models"] == ["meta", "nometa"] and "meta is BELOW nometa" in result["verdicts"][0]
    with pytest.raises(ValueError, match="different plans"):
        compare_checkpoints(run("meta", 0.0), {**run("nometa", 0.0), "plan": {"shots": [5]}})


def test_tanimoto_and_similar_drug_scores_never_use_the_drug_itself():
    from txformers.tasks.drug_response.baselines import similar_drug_scores, tanimoto

    fingerprints = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1]])
    similarity = tanimoto(fingerprints)
    assert similarity[0, 1] == pytest.approx(1.0) and similarity[0, 2] == pytest.approx(1 / 3)
    assert similarity[0, 3] == 0.0
    z = np.array([[5.0, 5.0], [1.0, -1.0], [-2.0, 2.0], [9.0, np.nan]])
    scores = similar_drug_scores(z, similarity, reference=[0, 1, 2, 3], m=1, power=1.0)
    # drug 0's nearest other drug is drug 1 (identical bits): its own z (5, 5) is never used
    np.testing.assert_allclose(scores[0], [-1.0, 1.0])
    np.testing.assert_allclose(scores[1], [-5.0, -5.0])
    # drug 3: nearest is drug 2 (similarity 1/3)
    np.testing.assert_allclose(scores[3], [2.0, -2.0])
    weighted = similar_drug_scores(z, similarity, reference=[1, 2], m=2, power=1.0)
    expected = -(1.0 * z[1] + (1 / 3) * z[2]) / (1 + 1 / 3)
    np.testing.assert_allclose(weighted[0], expected)


def test_residual_knn_scores_add_the_similar_drugs_drug_specific_part_to_general_sensitivity():
    from txformers.tasks.drug_response.baselines import residual_knn_scores, tanimoto

    rng = np.random.default_rng(0)
    n_cells = 40
    general = rng.normal(size=n_cells)  # how sensitive each cell line is to everything
    family_cells = rng.normal(size=n_cells)  # extra sensitivity to one drug family only
    family = np.array([1, 1, 1, 0, 0, 0, 1, 0])  # task 6 and 7 are held out
    bits = np.array([[1, 1, 0, 0], [0, 0, 1, 1]])[1 - family]
    bits[:, 0] = 1
    z = general[None] + 2.0 * family[:, None] * family_cells[None] + 0.1 * rng.normal(size=(8, n_cells))
    z[2, 5] = np.nan
    similarity = tanimoto(bits)
    reference = [0, 1, 2, 3, 4, 5]
    plain = residual_knn_scores(z, similarity, reference, m=3, power=1.0, alpha=0.0)
    cell_mean = np.nanmean(z[reference], 0)
    np.testing.assert_allclose(plain[6], -cell_mean)
    scores = residual_knn_scores(z, similarity, reference, m=3, power=1.0, alpha=1.0)
    # the held-out family drug ranks its cell lines by general + family sensitivity: closer than general alone
    # and the other held-out drug by general sensitivity without the family's part that the cell means carry
    for task, truth in ((6, -(general + 2.0 * family_cells)), (7, -general)):

        def error(score):
            return np.abs((score - score.mean()) - (truth - truth.mean())).mean()  # noqa: B023

        assert error(scores[task]) < 0.5 * error(plain[task])
    # by hand for m=1: the nearest other reference drug's residual (task 0 -> task 1, the first of its family)
    one = residual_knn_scores(z, similarity, reference, m=1, power=1.0, alpha=1.0)
    residual_1 = z[1] - np.nanmean(z[1]) - cell_mean
    np.testing.assert_allclose(one[0], -(cell_mean + residual_1))
    # a task never uses itself: changing its own row leaves its score unchanged (the cell means move, so
    # compare the borrowed part only)
    changed = z.copy()
    changed[0] += 100.0 * rng.normal(size=n_cells)
    borrowed = residual_knn_scores(changed, similarity, reference, m=1, power=1.0, alpha=1.0)[0]
    borrowed -= residual_knn_scores(changed, similarity, reference, m=1, power=1.0, alpha=0.0)[0]
    new_mean = np.nanmean(changed[reference], 0)
    np.testing.assert_allclose(borrowed, -(changed[1] - np.nanmean(changed[1]) - new_mean))


def test_rank_ensemble_averages_scaled_ranks_and_keeps_nan():
    from txformers.tasks.drug_response.baselines import rank_ensemble

    first = np.array([10.0, 20.0, 30.0, np.nan])
    second = np.array([3.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(rank_ensemble(first, second, 1.0)[:3], [1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(rank_ensemble(first, second, 0.0), [0.75, 0.25, 0.5, np.nan])
    np.testing.assert_allclose(rank_ensemble(first, second, 0.5)[:3], [(1 / 3 + 0.75) / 2, (2 / 3 + 0.25) / 2, 0.75])
    assert np.isnan(rank_ensemble(first, second, 0.5)[3])
