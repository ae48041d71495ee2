# Copyright 2026 The txformers authors. BSD-3-Clause.
import numpy as np
import torch

from txformers import SpliceBertConfig, SpliceBertForTokenClassification
from txformers.tasks.splicing import nt_saliency
from txformers.tasks.splicing import nt_sites as nt


def test_saliency_is_aligned_on_the_site_and_summarised():
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
        id2label=nt.NT_ID2LABEL,
        label2id=nt.NT_LABEL2ID,
        classifier_conv_kernel=3,
    )
    model = SpliceBertForTokenClassification(config)
    rng = np.random.default_rng(0)
    sequences = np.array(["".join(rng.choice(list("ACGT"), 602)) for _ in range(3)])
    values, offsets = nt_saliency.saliency_by_offset(model, sequences, "acceptor", 40)
    assert values.shape == (40,) and (values >= 0).all() and values.sum() > 0
    start = nt.central_crop_start(602, 40)
    assert offsets[nt.ACCEPTOR_INDEX - start] == 0 and list(np.diff(offsets)) == [1] * 39
    made = np.zeros(40)
    made[offsets == -3], made[offsets == 15] = 3.0, 1.0
    summary = nt_saliency.summary(made, offsets, top=2)
    assert summary["top_offsets"] == [[-3, 0.75], [15, 0.25]] and summary["share_within_-25_+10"] == 0.75
