"""The `txformers evaluate` section of the MetaSCDrug cards comes from the recorded rows."""

from txformers.cards.metascdrug_evaluation import evaluation_section
from txformers.evaluation import make_results, make_row, paired_difference


def record():
    rows = []
    for model, base in (("ckpt", 0.95), ("random_init", 0.96), ("lightgbm_tuned", 0.7)):
        for metric in ("accuracy", "auroc"):
            rows.append(make_row(model, metric, [base, base + 0.01], setting="k=3", data="mean of 2"))
    rows.append(make_row("ckpt", "auroc", [0.8, 0.82], setting="unseen drugs (zero-shot)", data="GDSC2"))
    rows.append(make_row("lightgbm", "auroc", [0.83, 0.84], setting="unseen drugs (zero-shot)", data="GDSC2"))
    rows.append(make_row("ckpt+residual_knn", "auroc", [0.85, 0.86], setting="unseen drugs (zero-shot)", data="GDSC2"))
    rows.append(make_row("kernel_ridge", "auroc", [0.81, 0.83], setting="unseen drugs (zero-shot)", data="GDSC2"))
    comparisons = [
        {"setting": "k=3", "metric": "accuracy", "model": "ckpt", "peer": "lightgbm_tuned"}
        | paired_difference([0.95, 0.96], [0.7, 0.71]),
        {"setting": "k=3", "metric": "auroc", "model": "ckpt", "peer": "lightgbm_tuned"}
        | paired_difference([0.95, 0.96], [0.7, 0.71]),
        {"setting": "unseen drugs (zero-shot)", "metric": "auroc", "model": "ckpt", "peer": "lightgbm"}
        | paired_difference([0.8, 0.82], [0.83, 0.84]),
        {"setting": "unseen drugs (zero-shot)", "metric": "auroc", "model": "ckpt+residual_knn", "peer": "lightgbm"}
        | paired_difference([0.85, 0.86], [0.83, 0.84]),
    ]
    return make_results(
        "checkpoints/ckpt",
        "../shared/data/drug",
        "test",
        [0, 1],
        "txformers evaluate checkpoints/ckpt",
        rows,
        plan={"files": ["A", "B"], "shots": [3]},
        comparisons=comparisons,
        unseen_drugs={
            "drugs": ["x", "y"],
            "ensemble": {"weight_chosen_on_validation_drugs": 0.4},
            "validation_auroc": {"ckpt": 0.79},
            "n_validation_drugs": 2,
        },
        notes=["a note"],
    )


def test_section_tables_and_verdicts_come_from_the_record():
    section = evaluation_section(record(), "checkpoints/ckpt/evaluation.json", "ckpt")
    assert section["evaluation"] is True and section["evaluation_seeds"] == 2
    table = section["evaluation_table"].splitlines()
    assert table[0].startswith("| k per class | metric | `ckpt` | `random_init`")
    assert table[2].startswith("| 3 | accuracy | 0.955 [")
    assert "| - |" in table[2]  # a peer the record lacks is a dash, never a number
    assert "`lightgbm`" in section["evaluation_unseen_table"] and section["evaluation_unseen_drugs"] == 2
    verdicts = section["evaluation_verdicts"].splitlines()
    # single-cell accuracy and the unseen-drug AUROC of the checkpoint and its ensemble; not the single-cell AUROC
    assert len(verdicts) == 3
    assert "is above `lightgbm_tuned`" in verdicts[0] and "is below `lightgbm`" in verdicts[1]
    assert "`ckpt+residual_knn` is above `lightgbm`" in verdicts[2]
    ensemble = next(line for line in section["evaluation_unseen_table"].splitlines() if "weight 0.4" in line)
    assert "0.855 [" in ensemble
    ridge = next(line for line in section["evaluation_unseen_table"].splitlines() if "(`kernel_ridge`)" in line)
    assert "fingerprint kernels" in ridge and "| 0.820 [" in ridge
    assert section["evaluation_unseen_target"].startswith("Drug-blind target AUROC 0.85: reached (best row `ckpt+r")
    assert "`ckpt` 0.790" in section["evaluation_unseen_validation"]


def test_target_not_reached_below_it():
    low = record()
    low["rows"] = [r for r in low["rows"] if r["model"] != "ckpt+residual_knn"]
    section = evaluation_section(low, "checkpoints/ckpt/evaluation.json", "ckpt")
    assert "0.85: not reached (best row `lightgbm`, 0.835 [" in section["evaluation_unseen_target"]
    assert section["evaluation_command"] == "txformers evaluate checkpoints/ckpt"


def test_no_record_no_section():
    assert evaluation_section(None, "x", "ckpt") == {"evaluation": False}
