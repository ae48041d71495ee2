"""The common results schema of `txformers evaluate`: bootstrap CIs, paired comparisons, the check, records."""

import json

import numpy as np
import pytest

from txformers.evaluation import (
    ResultsError,
    bootstrap_ci,
    check,
    format_table,
    make_results,
    make_row,
    paired_difference,
    read_record,
    read_results,
    record_path,
    validate_results,
    write_record,
    write_results,
)


def results(*rows, seeds=(0, 1, 2)):
    return make_results("ckpt", "data", "test", list(seeds), "txformers evaluate ckpt", rows)


def test_bootstrap_ci_brackets_the_mean_and_narrows_with_more_units():
    rng = np.random.default_rng(0)
    few, many = rng.normal(0.8, 0.05, 5), rng.normal(0.8, 0.05, 500)
    low, high = bootstrap_ci(few)
    assert low <= few.mean() <= high
    wide, narrow = high - low, np.subtract(*bootstrap_ci(many)[::-1])
    assert narrow < wide
    assert bootstrap_ci([0.7, 0.7, 0.7]) == pytest.approx([0.7, 0.7])
    assert bootstrap_ci([0.4]) == [0.4, 0.4]
    assert all(np.isnan(bootstrap_ci([np.nan, np.nan])))


def test_bootstrap_ci_resamples_rows_of_a_matrix_together():
    # two parts that always move together: a paired resample keeps their mean at the row means
    values = np.array([[0.1, 0.1], [0.9, 0.9]])
    low, high = bootstrap_ci(values, n_resamples=500)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.9)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        bootstrap_ci(np.zeros((2, 2, 2)))


def test_make_row_and_paired_difference():
    row = make_row("lightgbm", "accuracy", [0.8, 0.9, 1.0], setting="k=3")
    assert row["value"] == pytest.approx(0.9) and row["n"] == 3 and row["setting"] == "k=3"
    assert row["ci95"][0] <= 0.9 <= row["ci95"][1]
    assert paired_difference([0.9, 0.95, 1.0], [0.8, 0.85, 0.9])["verdict"] == "above"
    assert paired_difference([0.8, 0.85, 0.9], [0.9, 0.95, 1.0])["verdict"] == "below"
    assert paired_difference([0.9, 0.8, 0.85], [0.8, 0.9, 0.85])["verdict"] == "level"


def test_check_passes_on_itself_and_fails_outside_the_ci():
    reproduced = results(make_row("m", "accuracy", [0.80, 0.82, 0.84]), make_row("m", "auroc", [0.9, 0.91, 0.92]))
    assert check(reproduced, reproduced) == []
    inside = results({**reproduced["rows"][0], "value": 0.83}, reproduced["rows"][1])
    assert check(inside, reproduced) == []
    outside = results({**reproduced["rows"][0], "value": 0.95}, reproduced["rows"][1])
    problems = check(outside, reproduced)
    assert len(problems) == 1 and "m accuracy" in problems[0] and "outside" in problems[0]


def test_check_fails_on_a_row_the_reproduction_lacks_and_on_nan():
    reproduced = results(make_row("m", "accuracy", [0.8, 0.9], setting="k=3"))
    other_setting = results(make_row("m", "accuracy", [0.8, 0.9], setting="k=5"))
    assert "not reproduced" in check(other_setting, reproduced)[0]
    nan = results(make_row("m", "accuracy", [np.nan, np.nan], setting="k=3"))
    assert check(nan, nan) == []
    assert len(check(reproduced, nan)) == 1


def test_validate_results_names_the_problem():
    with pytest.raises(ResultsError, match="missing"):
        validate_results({"rows": []})
    good = results(make_row("m", "accuracy", [0.8, 0.9]))
    with pytest.raises(ResultsError, match="appears twice"):
        validate_results({**good, "rows": good["rows"] * 2})
    with pytest.raises(ResultsError, match="ci95"):
        validate_results({**good, "rows": [{**good["rows"][0], "ci95": 0.1}]})


def test_results_files_and_records(tmp_path):
    full = results(make_row("m", "accuracy", [0.8, 0.9]))
    quick = results(make_row("m", "accuracy", [0.7, 0.9]), seeds=(0, 1))
    path = write_results(tmp_path / "out" / "m.json", full)
    assert read_results(path) == json.loads(json.dumps(full))
    assert read_record(tmp_path) is None
    write_record(tmp_path, full, "full")
    write_record(tmp_path, quick, "quick")
    assert set(json.loads(record_path(tmp_path).read_text())) == {"full", "quick"}
    assert read_record(tmp_path, "quick")["seeds"] == [0, 1]
    assert read_record(tmp_path, "full")["rows"][0]["value"] == pytest.approx(0.85)
    with pytest.raises(ValueError, match="mode"):
        read_record(tmp_path, "slow")


def test_format_table_groups_rows_by_setting_and_model():
    lines = format_table(
        results(
            make_row("meta", "accuracy", [0.9, 1.0], setting="k=3"),
            make_row("meta", "auroc", [0.9, 1.0], setting="k=3"),
            make_row("lightgbm", "accuracy", [0.5, 0.7], setting="k=3"),
        )
    )
    assert lines[0] == "[setting k=3]"
    assert len(lines) == 3 and "auroc 0.950" in lines[1] and lines[2].strip().startswith("lightgbm")
