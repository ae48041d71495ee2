# Copyright 2026 The txformers authors. BSD-3-Clause.
import numpy as np
import pytest
import torch

from txformers.tasks.splicing import nt_sites as nt
from txformers.tasks.splicing.cnn_baseline import SpliceCNN


def _window(core: str, at: int) -> str:
    """602 nt of C with ``core`` written from 0-based ``at``."""
    seq = list("C" * 602)
    seq[at : at + len(core)] = core
    return "".join(seq)


def test_donor_labels_follow_spliceai_convention():
    seq = _window("AAGTAAGT", 298)  # GT at 300-301 (the centre) and at 304-305
    labels = nt.nucleotide_labels(seq, "donor", True)
    assert seq[300:302] == "GT"
    assert labels[nt.DONOR_INDEX] == 2  # last exon nucleotide, before GT
    assert labels[303] == -100  # another GT candidate: not annotated
    assert labels[0] == 0 and labels[300] == 0  # no consensus: certainly not a site
    assert (labels == 2).sum() == 1 and (labels == 1).sum() == 0


def test_acceptor_labels_and_decoys():
    seq = _window("TTAGGT", 298)  # AG at 300-301
    labels = nt.nucleotide_labels(seq, "acceptor", True)
    assert labels[nt.ACCEPTOR_INDEX] == 1  # first exon nucleotide, after AG
    decoy = nt.nucleotide_labels(seq, "acceptor", False)
    assert decoy[nt.ACCEPTOR_INDEX] == 0 and (decoy > 0).sum() == 0
    # the centre of an acceptor decoy followed by GT is also a donor candidate: left unlabelled
    assert nt.nucleotide_labels(_window("TTAGGT", 298), "acceptor", False)[302] == 0
    assert nt.nucleotide_labels(_window("TTAGAGT", 298), "acceptor", False)[302] == -100


def test_random_crops_keep_the_site_at_many_offsets():
    rng = np.random.default_rng(0)
    starts = nt.random_crop_start(rng, 602, 120, 2000)
    assert (starts <= nt.DONOR_INDEX).all() and (starts + 120 > nt.ACCEPTOR_INDEX).all()
    assert len(set(starts.tolist())) > 100
    assert nt.central_crop_start(602, 400) == 101
    with pytest.raises(ValueError):
        nt.random_crop_start(rng, 602, 3, 1)


def test_centre_scores_metrics_and_off_target_calls():
    split = {
        "site_type": np.array(["donor", "donor", "acceptor", "acceptor"]),
        "is_site": np.array([True, False, True, False]),
    }
    probs = np.zeros((4, 602, 3), dtype=np.float32)
    probs[0, nt.DONOR_INDEX, 2] = 0.9
    probs[1, nt.DONOR_INDEX, 2] = 0.2
    probs[2, nt.ACCEPTOR_INDEX, 1] = 0.8
    probs[3, nt.ACCEPTOR_INDEX, 1] = 0.1
    probs[2, 10, 2] = 0.7  # one off-target donor call in a real window
    probs[3, 20, 2] = 0.9  # a decoy window is not scanned
    scores = nt.centre_scores(probs, split, 0)
    np.testing.assert_allclose(scores, [0.9, 0.2, 0.8, 0.1], rtol=1e-6)
    metrics = nt.centre_metrics(scores, split, n_bootstrap=0)
    assert metrics["donor"]["auroc"] == 1.0 and metrics["acceptor"]["n"] == 2
    calls = nt.off_target_calls(list(probs), split)
    assert calls["off_target_calls"] == 1 and calls["annotated_sites_called"] == 2
    assert calls["off_target_per_kb"] == pytest.approx(1000 / 1204)


def test_one_hot_positions_pads_with_n():
    ids = nt.encode_ids(["ACGTN"])
    x = nt.one_hot_positions(ids, np.array([0]), np.array([0]), 1).reshape(3, 4)
    np.testing.assert_array_equal(x, [[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]])


def test_cnn_ignores_unlabelled_positions_and_keeps_length():
    model = SpliceCNN(channels=8, dilations=(1, 2))
    ids = torch.as_tensor(nt.encode_ids(["ACGTACGTNA" * 3]).astype(np.int64))
    labels = torch.full(ids.shape, -100)
    labels[0, 3] = 2
    out = model(ids, labels=labels)
    assert out.logits.shape == (1, 30, 3)
    expected = torch.nn.functional.cross_entropy(out.logits[0, 3:4], torch.tensor([2]))
    assert torch.isclose(out.loss, expected)


def _tiny_token_model():
    from txformers import SpliceBertConfig
    from txformers.models.splicebert import SpliceBertForTokenClassification

    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=66,
        num_labels=3,
        id2label=nt.NT_ID2LABEL,
        label2id=nt.NT_LABEL2ID,
        window_size=40,
        initializer_range=0.5,
    )
    return SpliceBertForTokenClassification(config).eval()


def test_candidate_positions_follow_the_convention():
    donors, acceptors = nt.candidate_positions(nt.encode_ids(["GTCAGGTAAG"])[0])
    assert donors.tolist() == [4]  # GT at 0 has no exon nucleotide before it; GT at 5-6 -> 4
    assert acceptors.tolist() == [5]  # AG at 3-4 -> 5; AG at 8-9 ends the sequence


def test_predict_sequence_matches_the_model_and_reads_blocks():
    from txformers import NucleotideTokenizer

    model, tokenizer = _tiny_token_model(), NucleotideTokenizer()
    short = "CAGGTAAGTACCTTTCAGGT"
    result = nt.predict_sequence(model, tokenizer, short.lower(), window=40)
    with torch.no_grad():
        direct = model(**tokenizer([short], return_tensors="pt")).logits[0, 1:-1].softmax(-1)
    np.testing.assert_allclose(result["donor_prob"], direct[:, 2].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["acceptor_prob"], direct[:, 1].numpy(), rtol=1e-5, atol=1e-6)
    long = "".join(np.random.default_rng(0).choice(list("ACGT"), 500))
    whole = nt.predict_sequence(model, tokenizer, long, window=40, block=10_000)
    # blocks of a multiple of the stride (20), flanked by a window: the same windows as the whole
    blocks = nt.predict_sequence(model, tokenizer, long, window=40, block=100)
    np.testing.assert_allclose(blocks["donor_prob"], whole["donor_prob"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(blocks["acceptor_prob"], whole["acceptor_prob"], rtol=1e-5, atol=1e-6)


def test_predict_sequence_in_bfloat16_is_close_and_checks_the_precision():
    from txformers import NucleotideTokenizer

    model, tokenizer = _tiny_token_model(), NucleotideTokenizer()
    sequence = "".join(np.random.default_rng(2).choice(list("ACGT"), 300))
    full = nt.predict_sequence(model, tokenizer, sequence, window=40)
    half = nt.predict_sequence(model, tokenizer, sequence, window=40, precision="bfloat16")
    gap = np.abs(half["donor_prob"] - full["donor_prob"]).max()
    assert 0 < gap < 0.05  # autocast took effect, and bf16 rounding moves probabilities only a little
    with pytest.raises(ValueError, match="precision must be float32 or bfloat16"):
        nt.predict_sequence(model, tokenizer, sequence, window=40, precision="fp8")


def test_random_crops_with_a_margin_keep_context_around_the_site():
    starts = nt.random_crop_start(np.random.default_rng(1), 602, 120, 2000, margin=30)
    assert (nt.DONOR_INDEX - starts >= 30).all() and (starts + 120 - 1 - nt.ACCEPTOR_INDEX >= 30).all()
    assert starts.min() < starts.max()
