"""The SpliceBERT scoring engine (txformers.models.splicebert.scoring_splicebert): windowed probabilities,
KL profile, KL-context score, delta-p and splice-site KL."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM
from txformers.models.splicebert.scoring_splicebert import (
    check_snv,
    delta_p,
    kl_context_score,
    kl_profile,
    length_batches,
    nucleotide_probabilities,
    per_nucleotide_outputs,
    site_distance,
    splice_site_kl,
    variant_scores,
)
from txformers.tasks.splicing.variant_effect import distance_baseline

# A real-looking sequence: any such sequence exercises every position.
SEQUENCE = "CAGGTAAGTATCTTTCCTTTTTCCCTTAGGTCAAGGAGGCAGAAGATGGAGTTCCAGGTAAGAGCTGCCCTGACCTCAG" * 3
WINDOW = 64  # the tiny model reads at most 64 nt, so longer sequences go through sliding windows


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=WINDOW + 2,
    )
    return SpliceBertForMaskedLM(config).eval()


@pytest.fixture(scope="module")
def tokenizer():
    return NucleotideTokenizer()


def random_sequence(length: int, seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), size=length))


def mutate(sequence: str, pos: int) -> str:
    alt = "A" if sequence[pos] != "A" else "G"
    return sequence[:pos] + alt + sequence[pos + 1 :]


# ----------------------------------------------------------------------------- probabilities
def test_probabilities_are_distributions_over_acgt(model, tokenizer):
    sequences = ["ACGTNacgu", random_sequence(40, 1), random_sequence(150, 2)]
    probs = nucleotide_probabilities(model, tokenizer, sequences, batch_size=2)
    assert [p.shape for p in probs] == [(9, 4), (40, 4), (150, 4)]
    for p in probs:
        assert (p >= 0).all()
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    single = nucleotide_probabilities(model, tokenizer, "ACGTNacgu")
    assert isinstance(single, np.ndarray) and single.shape == (9, 4)


def test_probabilities_use_the_acgt_logits(model, tokenizer):
    sequence = random_sequence(30, 3)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([tokenizer(sequence)["input_ids"]])).logits[0, 1:-1, 6:10]
    expected = torch.softmax(logits, dim=-1).numpy()
    np.testing.assert_allclose(nucleotide_probabilities(model, tokenizer, sequence), expected, atol=1e-6)


def test_batched_equals_one_by_one(model, tokenizer):
    sequences = [random_sequence(n, seed) for seed, n in enumerate([12, 64, 33, 90, 5, 64])]
    batched = nucleotide_probabilities(model, tokenizer, sequences, batch_size=4)
    for sequence, probs in zip(sequences, batched):
        alone = nucleotide_probabilities(model, tokenizer, [sequence], batch_size=1)[0]
        np.testing.assert_allclose(probs, alone, atol=1e-5)


def test_long_sequences_are_stitched_from_windows(model, tokenizer):
    sequence = random_sequence(150, 4)
    probs = nucleotide_probabilities(model, tokenizer, sequence)  # windows 0-64, 32-96, 64-128, 86-150
    first = nucleotide_probabilities(model, tokenizer, sequence[:WINDOW])
    last = nucleotide_probabilities(model, tokenizer, sequence[-WINDOW:])
    np.testing.assert_allclose(probs[:10], first[:10], atol=1e-5)  # the sequence start lies in window 0
    np.testing.assert_allclose(probs[-10:], last[-10:], atol=1e-5)
    middle = nucleotide_probabilities(model, tokenizer, sequence[32:96])
    np.testing.assert_allclose(probs[60:66], middle[28:34], atol=1e-5)  # best context: the window 32-96


def test_invalid_character_names_the_sequence(model, tokenizer):
    with pytest.raises(ValueError, match=r"sequence 1.*'X'"):
        nucleotide_probabilities(model, tokenizer, ["ACGT", "ACXT"])


def test_training_mode_is_restored(tokenizer):
    config = SpliceBertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=4, intermediate_size=64)
    train_model = SpliceBertForMaskedLM(config).train()
    first = nucleotide_probabilities(train_model, tokenizer, "ACGTACGTAC")
    second = nucleotide_probabilities(train_model, tokenizer, "ACGTACGTAC")
    np.testing.assert_allclose(first, second)  # dropout is off while scoring
    assert train_model.training


# ----------------------------------------------------------------------------- scores
def test_kl_of_identical_sequences_is_zero(model, tokenizer):
    sequence = random_sequence(80, 5)
    probs = nucleotide_probabilities(model, tokenizer, sequence)
    np.testing.assert_array_equal(kl_profile(probs, probs), np.zeros(80))
    other = nucleotide_probabilities(model, tokenizer, mutate(sequence, 40))
    kl = kl_profile(probs, other)
    assert kl.shape == (80,) and (kl >= 0).all() and kl[40] > 0


def test_kl_profile_by_hand_and_zero_probabilities():
    p_wt = np.array([[0.5, 0.5, 0.0, 0.0]])
    p_mut = np.array([[0.25, 0.25, 0.25, 0.25]])
    kl = kl_profile(p_wt, p_mut)
    assert np.isfinite(kl).all() and kl[0] > 10  # a zero in WT gives a large, finite KL
    p_wt = np.array([[0.4, 0.3, 0.2, 0.1]])
    p_mut = np.array([[0.1, 0.2, 0.3, 0.4]])
    expected = sum(m * math.log(m / w) for w, m in zip(p_wt[0], p_mut[0]))
    assert kl_profile(p_wt, p_mut)[0] == pytest.approx(expected, rel=1e-8)
    with pytest.raises(ValueError, match="same length"):
        kl_profile(np.ones((3, 4)) / 4, np.ones((4, 4)) / 4)


def test_kl_context_matches_hand_computation():
    kl = np.array([0.02, 0.5, 0.1, 0.0, 0.3, 0.9, 0.04, 0.2, 0.01, 0.6, 0.07])
    # both sides exist for d = 1..3 around position 5
    hand = math.log((0.3 + 0.04) / 2) + math.log((0.0 + 0.2) / 2) + math.log((0.1 + 0.01) / 2)
    assert kl_context_score(kl, 5, max_distance=3) == pytest.approx(hand)
    assert kl_context_score(kl, 5, max_distance=3, edge="strict") == pytest.approx(hand)
    # the floor: KL 0 on both sides gives log(1e-6)
    zeros = np.zeros(11)
    assert kl_context_score(zeros, 5, max_distance=3) == pytest.approx(3 * math.log(1e-6))
    # near the start: d = 2, 3 have only the right side
    hand = math.log((0.02 + 0.1) / 2) + math.log(0.0 + 1e-6) + math.log(0.3)
    assert kl_context_score(kl, 1, max_distance=3) == pytest.approx(hand)
    # d = 2, 3 have no side at all: skipped and the one term rescaled to 3 terms
    assert kl_context_score(kl[:3], 1, max_distance=3) == pytest.approx(3 * math.log((0.02 + 0.1) / 2))
    with pytest.raises(ValueError, match="strict"):
        kl_context_score(kl, 1, max_distance=3, edge="strict")
    with pytest.raises(ValueError, match="outside"):
        kl_context_score(kl, 11)


def test_splice_site_kl_delta_p_and_distance_by_hand():
    kl = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    site = splice_site_kl(kl, (3, 7))  # acceptor at 1, 2; donor at 7, 8
    assert site["acceptor_kl"] == pytest.approx(0.15)
    assert site["donor_kl"] == pytest.approx(0.75)
    assert site["splice_site_kl"] == pytest.approx(0.75)
    edge = splice_site_kl(kl, (1, 9))  # acceptor -1 (dropped), 0; donor 9, 10 (dropped)
    assert edge["acceptor_kl"] == 0.0 and edge["donor_kl"] == pytest.approx(0.9)
    assert math.isnan(splice_site_kl(kl, (None, None))["splice_site_kl"])

    wt, mut = "AAAGCTGTAC", "AAAGCTCTAC"  # G>C at 6
    p_wt = np.tile([0.1, 0.2, 0.3, 0.4], (10, 1))
    p_mut = np.tile([0.7, 0.1, 0.1, 0.1], (10, 1))
    scores = delta_p(p_wt, p_mut, wt, mut, 6, sites=(3, 7))
    assert scores["delta_p"] == pytest.approx(0.1 - 0.3)  # p_mut(C) - p_wt(G)
    # sites: 1 (A, A), 2 (A, A), 7 (T, T), 8 (A, A)
    assert scores["splice_site_delta_p"] == pytest.approx(np.mean([0.6, 0.6, 0.3, 0.6]))
    assert delta_p(p_wt, p_mut, wt, mut, 6) == {"delta_p": pytest.approx(-0.2)}

    assert site_distance(5, (3, 7)) == 2  # donor GT at 7
    assert site_distance(4, (3, 7)) == 2  # acceptor AG ends at 2
    assert site_distance(7, (3, 7)) == 0
    np.testing.assert_array_equal(distance_baseline([5, 0], [(3, 7), (3, 7)]), [-2.0, -1.0])


def test_variant_scores_by_hand():
    wt, mut = "AAAGCTGTAC", "AAAGCTCTAC"  # G>C at 6
    p_wt = np.tile([0.1, 0.2, 0.3, 0.4], (10, 1))
    p_mut = np.tile([0.7, 0.1, 0.1, 0.1], (10, 1))
    scores = variant_scores(p_wt, p_mut, wt, mut, 6, sites=(3, 7), max_distance=3)
    kl = kl_profile(p_wt, p_mut)
    assert (scores["position"], scores["ref"], scores["alt"]) == (6, "G", "C") == check_snv(wt, mut)
    assert scores["kl_context"] == pytest.approx(kl_context_score(kl, 6, max_distance=3))
    assert scores["kl_variant"] == pytest.approx(kl[6])
    assert scores["delta_p"] == pytest.approx(0.1 - 0.3)
    assert scores["splice_site_kl"] == splice_site_kl(kl, (3, 7))["splice_site_kl"]
    assert scores["site_distance"] == 1  # the donor GT at 7
    assert "acceptor_kl" not in variant_scores(p_wt, p_mut, wt, mut, 6)


def test_length_batches_group_similar_lengths():
    lengths = [100, 5, 50, 7, 99, 51]
    batches = length_batches(lengths, batch_size=2)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert [sorted(lengths[i] for i in b) for b in batches] == [[99, 100], [50, 51], [5, 7]]  # longest first
    assert all(len(b) * max(lengths[i] for i in b) <= 120 for b in length_batches(lengths, 10, max_tokens=120))


def test_per_nucleotide_outputs_windows_and_bucketing(tiny_splicebert_config):
    torch.manual_seed(0)
    model = SpliceBertForMaskedLM(tiny_splicebert_config).eval()
    tok = NucleotideTokenizer()
    short = [SEQUENCE[:60], SEQUENCE[3:20]]
    outputs = per_nucleotide_outputs(model, tok, short, batch_size=1)
    with torch.no_grad():
        for sequence, output in zip(short, outputs):
            direct = model(**tok(sequence, return_tensors="pt")).logits[0, 1:-1].numpy()
            assert output.shape == direct.shape and abs(output - direct).max() < 1e-5
    long = SEQUENCE * 2  # 474 nt > 128-nt window
    (stitched,) = per_nucleotide_outputs(model, tok, [long], stride=64)
    assert stitched.shape == (len(long), 10)
    with torch.no_grad():  # the first 64 nt come from the first window, as computed directly
        first = model(**tok(long[:128], return_tensors="pt")).logits[0, 1:-1].numpy()
    assert abs(stitched[:64] - first[:64]).max() < 1e-5
