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


def test_readme_describes_the_stacked_model_from_the_report():
    report = {
        "n_pairs": 4951, "n_positive": 440, "test_fold": 0, "n_test": 990, "n_test_positive": 88,
        "selection": {"splicebert_pretrained_chosen": {"epochs": 20}},
        "test": {"splicebert_pretrained": _m(0.15, 0.6), "spliceai_max_delta": _m(0.2, 0.7),
                 "stacked_lightgbm": _m(0.3, 0.75)},
        "cv": {"splicebert_pretrained": _m(0.14, 0.6), "stacked_lightgbm": _m(0.25, 0.7)},
        "stacked": {"chosen": {"blocks": ["site", "mlm"], "seeds": [0, 1, 2]}, "site_model": "SITE",
                    "mlm_model": "MLM", "command": "python -m txformers.training.stack_variant_effect --y",
                    "selection": [{"blocks": ["cnn", "kmer"], "objective": "classify",
                                   "cv_average_precision": 0.2224}],
                    "paired_vs_peers": {"spliceai_max_delta": {"ap_difference": 0.1, "ci95": [0.02, 0.18]}}},
    }  # fmt: skip
    text = readme(report, "cmd")
    assert "0.300 [0.290, 0.310]" in text and "1.50x" in text and "| hand + cnn + kmer | classify | 0.2224 |" in text
    assert "`SITE`" in text and "`MLM`" in text and "stack_variant_effect --y" in text and "stacked LightGBM" in text
    assert "4- and 5-mer" not in text  # only the chosen blocks are described
    assert "difference +0.100, 95% CI [+0.020, +0.180]" in text
