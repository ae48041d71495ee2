"""The txformers-evaluate sections of the Cellformer cards say what the recorded rows say."""

from __future__ import annotations

import json

from txformers.cards.cellformer_evaluation import cancer_type_section, embedding_section, recorded_evaluation
from txformers.tasks.cytokine.evaluation import embedding_verdict


def _row(model, metric, value, lo, hi, n=100):
    return {"model": model, "metric": metric, "value": value, "ci95": [lo, hi], "n": n}


def _embedding_record(difference_ci):
    prefix = "embedding.wu2020_source"
    rows = [_row("majority", f"{prefix}.accuracy", 0.42, 0.3, 0.5)]
    for model, value in (("cellformer_pretrained", 0.46), ("cellformer_random_init", 0.40), ("hvg_pca", 0.63)):
        for probe in ("knn", "logistic"):
            rows.append(_row(model, f"{prefix}.{probe}.accuracy", value, value - 0.05, value + 0.05))
    for probe in ("knn", "logistic"):
        rows.append(_row("cellformer_pretrained", f"{prefix}.{probe}.accuracy_minus_hvg_pca", -0.17, *difference_ci))
        rows.append(
            _row("cellformer_pretrained", f"{prefix}.{probe}.accuracy_minus_cellformer_random_init", 0.06, -0.01, 0.1)
        )
    return {"checkpoint": "c", "data": "d", "split": "s", "seeds": [0], "command": "txformers evaluate c", "rows": rows}


def test_embedding_section_says_plainly_when_pretraining_does_not_beat_pca():
    values = embedding_section(_embedding_record((-0.25, -0.1)), "checkpoints/c/evaluation.json")
    assert values["evaluation_verdict"].startswith("**Pretraining does not beat PCA.**")
    assert "below in 2, level in 0 and above in 0 of 2" in values["evaluation_verdict"]
    assert "| 0.460 [0.41, 0.51] |" in values["evaluation_table"]
    values = embedding_section(_embedding_record((0.02, 0.3)), "x")
    assert "does not beat" not in values["evaluation_verdict"] and "above in 2" in values["evaluation_verdict"]
    assert embedding_section(None, "x") == {"evaluation": None}


def test_embedding_verdict_reads_the_recorded_full_evaluation(tmp_path):
    assert embedding_verdict(tmp_path) is None  # nothing recorded
    (tmp_path / "evaluation.json").write_text(json.dumps({"full": _embedding_record((-0.25, -0.1))}))
    assert recorded_evaluation(tmp_path)["command"] == "txformers evaluate c"
    verdict = embedding_verdict(tmp_path)
    assert verdict.startswith("These embeddings do not beat PCA") and "0.460 [0.410, 0.510]" in verdict


def test_cancer_type_section_reports_the_confound_and_the_within_study_result():
    rows = [_row("any", "cancer_type.leave_one_study_out.evaluable_samples", 0, 0, 0, 34)]
    for setting, majority in (("all_types", 0.38), ("within_wu2020", 0.43)):
        prefix = f"cancer_type.{setting}.patient_cv"
        for model, value in (("majority", majority), ("study_only", 0.5), ("lightgbm", 0.37)):
            rows.append(_row(model, f"{prefix}.accuracy", value, value - 0.2, value + 0.2, 30))
            rows.append(_row(model, f"{prefix}.macro_f1", value / 2, 0.0, 0.5, 30))
        rows.append(_row("lightgbm", f"{prefix}.accuracy_minus_majority", -0.06, -0.3, 0.2, 30))
    rows.append(_row("logistic_regression", "confound.study_from_profile.patient_cv.accuracy", 0.94, 0.83, 1.0, 34))
    report = {
        "samples": 34,
        "all_types": {"samples": 34, "patients": 18, "samples_per_type": {"lung": 13}},
        "within_wu2020": {"samples": 30, "patients": 14, "samples_per_type": {"lung": 13}},
        "confound": {"labels_from_one_study": 6, "labels": 6, "label_to_study_accuracy": 1.0, "cramers_v": 1.0},
        "leave_one_study_out": {"evaluable_samples": 0},
    }
    record = {"command": "txformers evaluate c", "rows": rows, "report": report}
    values = cancer_type_section(record, "x")
    text = values["evaluation_confound"]
    assert "6 of 6 cancer types come from a single study" in text
    assert "0 of 34 samples" in text and "0.940 [0.83, 1.00]" in text
    assert "No model tells these cancer types apart better than the majority class" in text
    assert "| LightGBM | 0.370 [0.17, 0.57] |" in values["evaluation_table"]
