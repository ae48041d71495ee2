from txformers.training.finetune_variant_effect import readme


def _m(ap, auroc):
    return {"average_precision": ap, "average_precision_ci95": [ap - 0.01, ap + 0.01], "auroc": auroc,
            "auroc_ci95": [auroc - 0.02, auroc + 0.02], "prevalence": 0.089, "n": 990, "n_positive": 88}  # fmt: skip


def test_readme_reads_every_number_from_the_report():
    report = {
        "n_pairs": 4951, "n_positive": 440, "test_fold": 0, "n_test": 990, "n_test_positive": 88,
        "selection": {"splicebert_pretrained_chosen": {"epochs": 20}},
        "test": {"splicebert_pretrained": _m(0.2345, 0.6789), "spliceai_max_delta": _m(0.1172, 0.6)},
        "cv": {"splicebert_pretrained": _m(0.1411, 0.5999)},
    }  # fmt: skip
    text = readme(report, "python -m txformers.training.finetune_variant_effect --x")
    assert "0.234 [0.224, 0.244]" in text and "0.679" in text and "0.141" in text
    assert "2.00x" in text and "--x" in text and "990" in text
    del report["test"]["spliceai_max_delta"]
    assert "not scored" in readme(report, "cmd")
