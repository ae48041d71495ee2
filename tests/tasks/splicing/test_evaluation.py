"""`txformers evaluate` for the splice-site window classifier: rows with bootstrap CIs per site type."""

import json

import numpy as np
import pytest

from tests.conftest import requires_shared_data
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
    assert len(auroc) == 4 and all(value > 0.9 for value in auroc.values())
