import json
import random

import numpy as np
import pytest
import torch

from txformers import SpliceBertConfig, SpliceBertForMaskedLM, SpliceBertForSequenceClassification
from txformers.tasks.splicing.sites import one_hot_flank, site_metrics
from txformers.training.finetune_splice import main


def _write_layout(root, n=24, seed=0):
    """Tiny ensemblesplice-layout files: true sites carry a motif that decoys lack."""
    rng = random.Random(seed)
    for split in ("Train", "Test"):
        folder = root / split
        folder.mkdir(parents=True)
        for site, dinucleotide, motif in (("Donor", "GT", "AAGGTAAGTA"), ("Acceptor", "AG", "TTTTTTCAGG")):
            for kind in ("Positive", "Negative"):
                with (folder / f"{site}_{split}_{kind}.txt").open("w") as handle:
                    for i in range(n):
                        flank = "".join(rng.choice("ACGT") for _ in range(602))
                        core = motif if kind == "Positive" else "".join(rng.choice("ACGT") for _ in range(10))
                        offset = 3 if site == "Donor" else 7  # dinucleotide at 300-301 inside the core
                        core = core[:offset] + dinucleotide + core[offset + 2 :]
                        sequence = flank[: 300 - offset] + core + flank[300 - offset + 10 :]
                        handle.write(f"> seq {i}\n{sequence[:602]}\n")


def test_one_hot_flank_is_exact():
    features = one_hot_flank(np.array(["AACGTT", "NNGTNN"]), flank=2)
    assert features.shape == (2, 16)
    assert features[0].reshape(4, 4).argmax(1).tolist() == [0, 1, 2, 3]  # centre 3, +-2: "ACGT"
    assert features[1].reshape(4, 4).sum(1).tolist() == [0, 1, 1, 0]  # N -> all zeros


def test_site_metrics_scores_each_site_type_by_its_own_class():
    split = {"label": np.array([1, 0, 2, 0]), "site_type": np.array(["donor", "donor", "acceptor", "acceptor"])}
    probabilities = np.array([[0.1, 0.9, 0.0], [0.8, 0.2, 0.0], [0.3, 0.0, 0.7], [0.6, 0.0, 0.4]])
    metrics = site_metrics(probabilities, split)
    assert metrics["donor"]["auroc"] == 1.0 and metrics["acceptor"]["accuracy"] == 1.0


def test_one_command_trains_pretrained_scratch_and_baseline(tmp_path):
    _write_layout(tmp_path / "data")
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1, hidden_size=16, num_attention_heads=2, intermediate_size=32, max_position_embeddings=130
    )
    SpliceBertForMaskedLM(config).save_pretrained(tmp_path / "pretrained")
    results = main(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "--pretrained",
            str(tmp_path / "pretrained"),
            "--output-dir",
            str(tmp_path / "out"),
            "--crop",
            "100",
            "--max-steps",
            "6",
            "--batch-size",
            "8",
            "--eval-every",
            "3",
            "--validation-fraction",
            "0.25",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--cpu",
        ]
    )
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(saved) >= {"pretrained", "scratch", "logistic_regression_onehot_60nt"}
    assert saved["splits"] == {"train": 72, "validation": 24, "test": 96}
    for name in ("pretrained", "scratch", "logistic_regression_onehot_60nt"):
        for site in ("donor", "acceptor"):
            metrics = saved[name]["test"][site]
            assert metrics["n"] == 48 and all(0.0 <= metrics[k] <= 1.0 for k in ("auroc", "ap", "accuracy", "f1"))
    assert saved["logistic_regression_onehot_60nt"]["test"]["donor"]["auroc"] > 0.9  # the motif is learnable
    assert results["pretrained"]["best"]["step"] in (3, 6)
    model = SpliceBertForSequenceClassification.from_pretrained(tmp_path / "out" / "model")
    assert model.config.id2label == {0: "neither", 1: "donor", 2: "acceptor"}
    assert model.config.window_size == 100 and model.config.classifier_pooling == "center"
    # the saved folder ships the splice-site pipeline, and only it
    saved_config = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert list(saved_config["custom_pipelines"]) == ["splice-site-prediction"]
    assert (tmp_path / "out" / "model" / "pipeline_splicebert.py").is_file()
    assert (tmp_path / "out" / "model" / "scoring_splicebert.py").is_file()


@pytest.mark.parametrize("flag", ["--lora"])
def test_lora_variant_runs(tmp_path, flag):
    _write_layout(tmp_path / "data", n=8)
    config = SpliceBertConfig(
        num_hidden_layers=1, hidden_size=16, num_attention_heads=2, intermediate_size=32, max_position_embeddings=130
    )
    SpliceBertForMaskedLM(config).save_pretrained(tmp_path / "pretrained")
    main(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "--pretrained",
            str(tmp_path / "pretrained"),
            "--output-dir",
            str(tmp_path / "out"),
            "--crop",
            "100",
            "--max-steps",
            "2",
            "--batch-size",
            "4",
            "--eval-every",
            "2",
            "--validation-fraction",
            "0.25",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--cpu",
            "--skip-scratch",
            flag,
        ]
    )
    model = SpliceBertForSequenceClassification.from_pretrained(tmp_path / "out" / "model")
    assert not any("lora" in name for name, _ in model.named_parameters())
