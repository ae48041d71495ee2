"""The leave-one-type-out check of txformers.training.cancer_type_abstain on tiny synthetic cells: a type whose
cells detect genes no other type detects is flagged when left out; a type like the others is not."""

from __future__ import annotations

import argparse

import numpy as np

from txformers.training.cancer_type_abstain import leave_one_type_out, parse_args


def test_leave_one_type_out_flags_a_distinct_type_only():
    rng = np.random.default_rng(0)
    rates = np.full((3, 60), 0.05)
    rates[0, :20] = rates[1, :20] = 0.6  # types 0 and 1 alike
    rates[2, 40:] = 0.6  # type 2 detects its own genes
    y = np.repeat([0, 1, 2], 40)
    detected = rng.random((len(y), 60)) < rates[y]
    groups = np.array([f"p{i // 8}" for i in range(len(y))])  # 5 patients per type
    args = argparse.Namespace(folds=4, seed=0)
    result = leave_one_type_out(detected, y, ["a", "b", "c"], groups, np.ones(len(y), bool), args, 0.95)
    assert result["c"]["unknown_rate"] > 0.9
    assert result["a"]["unknown_rate"] < 0.2 and result["b"]["unknown_rate"] < 0.2
    assert all(0 <= v["known_cells_flagged_rate"] <= 0.15 for v in result.values())
    low, high = result["c"]["unknown_rate_ci"]
    assert low <= result["c"]["unknown_rate"] <= high


def test_parse_args_records_the_command():
    args = parse_args(["--scrna-dir", "d", "--model", "m", "--pretrained", "p", "--output-json", "o.json"])
    assert args.command.endswith("--output-json o.json") and args.budget == 0.015 and not args.write_config
