# Copyright 2026 The txformers authors. BSD-3-Clause.
import json
import os

import numpy as np
import pytest

from txformers.training import finetune_splice_nt


def _data(root, n=8, splits=("Train", "Test"), seed=0):
    """EnsembleSplice-layout windows (602 nt, GT/AG at 301-302) with a learnable rule next to the true sites."""
    rng = np.random.default_rng(seed)
    for split in splits:
        os.makedirs(root / split)
        for site, dinuc in (("Donor", "GT"), ("Acceptor", "AG")):
            for kind in ("Positive", "Negative"):
                with open(root / split / f"{site}_{split}_{kind}.txt", "w") as f:
                    for i in range(n):
                        left = "".join(rng.choice(list("ACGT"), 300))
                        right = "".join(rng.choice(list("ACGT"), 300))
                        if kind == "Positive":  # a learnable signal next to the true sites
                            left = left[:-3] + "CAG" if site == "Donor" else left[:-3] + "TTC"
                        f.write(f"> seq {i}\n{left}{dinuc}{right}\n")
    return root


@pytest.mark.parametrize("model", ["cnn", "logreg"])
def test_runs_scores_and_resumes(tmp_path, model):
    data = _data(tmp_path / "homo_sapiens")
    out = tmp_path / "run"
    common = ["--data-dir", str(data), "--model", model, "--context", "40", "--output-dir", str(out)]
    common += ["--eval-every", "2", "--save-every", "2", "--bootstrap", "10", "--off-target-windows", "4"]
    common += ["--cache-dir", str(tmp_path / "cache"), "--lr-none-per-window", "2", "--batch-size", "4"]
    results = finetune_splice_nt.main(common + ["--max-steps", "2"])
    test = results[model]["test"]
    assert set(test["centre"]) == {"donor", "acceptor"}
    assert test["centre"]["donor"]["n"] == 16 and len(test["centre"]["donor"]["auroc_ci95"]) == 2
    assert test["off_target"]["windows"] == 4
    assert results["layout_check"]["test"]["donor_bad"] == 0
    if model == "cnn":
        resumed = finetune_splice_nt.main(common + ["--max-steps", "4"])
        steps = [h["step"] for h in resumed["cnn"]["history"]]
        assert steps == [2, 4]  # continued from the step-2 checkpoint, not restarted
        assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 4


def test_splicebert_best_model_loads_with_auto_class(tmp_path):
    from transformers import AutoModelForTokenClassification

    data = _data(tmp_path / "homo_sapiens")
    out = tmp_path / "bert"
    finetune_splice_nt.main(
        ["--data-dir", str(data), "--model", "splicebert", "--init", "random", "--context", "32"]
        + ["--max-steps", "1", "--eval-every", "1", "--bootstrap", "0", "--off-target-windows", "2"]
        + ["--batch-size", "2", "--output-dir", str(out), "--cache-dir", str(tmp_path / "cache")]
    )
    model = AutoModelForTokenClassification.from_pretrained(out / "best", trust_remote_code=True)
    assert model.config.id2label == {0: "none", 1: "acceptor", 2: "donor"}
    assert (out / "best" / "modeling_splicebert.py").exists()


def test_site_weight_scales_the_centre_loss():
    import torch

    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0]]])
    labels = torch.tensor([[0, 2, -100]])
    plain = finetune_splice_nt.weighted_loss(logits, labels, torch.ones(1, 3))
    expected = torch.nn.functional.cross_entropy(logits[0], labels[0], ignore_index=-100)
    assert torch.isclose(plain, expected)
    losses = torch.nn.functional.cross_entropy(logits[0, :2], labels[0, :2], reduction="none")
    weighted = finetune_splice_nt.weighted_loss(logits, labels, torch.tensor([[1.0, 9.0, 5.0]]))
    assert torch.isclose(weighted, (losses[0] + 9 * losses[1]) / 10)


def test_candidate_weight_labels_unannotated_gt_ag_as_none():
    from argparse import Namespace

    from txformers.tasks.splicing import nt_sites as nt

    seq = "C" * 280 + "AGC" + "C" * 16 + "AGTAAGC" + "C" * 296  # 602 nt: donor GT at 300, an extra AG at 280
    ids = nt.encode_ids([seq])
    labels = nt.nucleotide_labels(seq, "donor", True)[None, :]
    centres = np.array([nt.DONOR_INDEX])
    base = dict(seed=0, batch_size=4, context=120, label_margin=10, site_weight=50.0)
    ignored = finetune_splice_nt.batch_for_step(ids, labels, centres, 1, Namespace(candidate_weight=0.0, **base))
    used = finetune_splice_nt.batch_for_step(ids, labels, centres, 1, Namespace(candidate_weight=0.5, **base))
    assert np.array_equal(ignored[0].numpy(), used[0].numpy())  # the same crops
    checked = 0
    for row in range(4):
        start = nt.DONOR_INDEX - int(np.flatnonzero(used[2][row].numpy() == 50.0)[0])
        extra = 282 - start  # first nucleotide after the extra AG: an acceptor candidate the files do not annotate
        if 10 <= extra < 110:  # inside the supervised part of the crop
            assert ignored[1][row, extra] == -100
            assert used[1][row, extra] == 0 and used[2][row, extra] == 0.5
            checked += 1
        assert used[1][row, nt.DONOR_INDEX - start] == 2  # the annotated site keeps its class and weight
    assert checked > 0
