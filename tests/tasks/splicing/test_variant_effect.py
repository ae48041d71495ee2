# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Variant-effect tables (txformers.tasks.splicing.variant_effect): WT/mutant pairs, VCF-style SNVs, MaPSy."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score

from tests.conftest import SHARED_DATA
from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM
from txformers.datasets.genome import reverse_complement
from txformers.tasks.splicing.variant_effect import (
    distance_baseline,
    evaluate_average_precision,
    load_mapsy,
    main,
    random_baseline,
    score_variants,
    score_vcf,
)

MAPSY = SHARED_DATA / "splice" / "mapsy" / "mapsy.txt"
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


# ----------------------------------------------------------------------------- variants
def test_score_variants_columns_and_cache(model, tokenizer):
    wt = random_sequence(120, 6)
    positions = [10, 60, 61]
    muts = [mutate(wt, pos) for pos in positions]
    sites = [(40, 80)] * 3

    calls = []
    hook = model.register_forward_hook(lambda module, inputs, output: calls.append(output.logits.shape[0]))
    try:
        together = score_variants(model, tokenizer, [wt] * 3, muts, positions, sites=sites, batch_size=64)
    finally:
        hook.remove()
    # 120 nt = 3 windows of 64 nt; 4 distinct sequences (1 WT, 3 mutants) -> 12 windows, one batch
    assert sum(calls) == 12

    assert list(together.columns) == [
        "position",
        "ref",
        "alt",
        "kl_context",
        "kl_variant",
        "delta_p",
        "acceptor_kl",
        "donor_kl",
        "splice_site_kl",
        "splice_site_delta_p",
        "site_distance",
    ]
    assert together["position"].tolist() == positions
    assert together["ref"].tolist() == [wt[p] for p in positions]
    assert np.isfinite(together[["kl_context", "kl_variant", "delta_p", "splice_site_kl"]].to_numpy()).all()
    for row, (mut, pos, site) in enumerate(zip(muts, positions, sites)):
        alone = score_variants(model, tokenizer, [wt], [mut], [pos], sites=[site])
        pd.testing.assert_frame_equal(together.iloc[[row]].reset_index(drop=True), alone, atol=1e-6)

    cache = {}
    first = score_variants(model, tokenizer, [wt], muts[:1], positions[:1], cache=cache)
    assert set(cache) == {wt, muts[0]}
    assert "acceptor_kl" not in first.columns
    calls.clear()
    hook = model.register_forward_hook(lambda module, inputs, output: calls.append(output.logits.shape[0]))
    try:
        again = score_variants(model, tokenizer, [wt.lower()], muts[:1], positions[:1], cache=cache)
    finally:
        hook.remove()
    assert calls == []  # everything came from the cache
    pd.testing.assert_frame_equal(first, again)


def test_score_variants_errors_name_the_row(model, tokenizer):
    wt = random_sequence(30, 7)
    good = mutate(wt, 5)
    with pytest.raises(ValueError, match=r"row 1: .*different lengths"):
        score_variants(model, tokenizer, [wt, wt], [good, good[:-1]], [5, 5])
    with pytest.raises(ValueError, match=r"row 0: position 30 is outside"):
        score_variants(model, tokenizer, [wt], [good], [30])
    with pytest.raises(ValueError, match=r"row 0: .*same base .* at position 6,.*differ at \[5\]"):
        score_variants(model, tokenizer, [wt], [good], [6])  # a 1-based position
    with pytest.raises(ValueError, match=r"row 0: .*differ at 2 positions"):
        score_variants(model, tokenizer, [wt], [mutate(good, 9)], [5])
    with pytest.raises(ValueError, match="one of each"):
        score_variants(model, tokenizer, [wt], [good], [5, 6])


# ----------------------------------------------------------------------------- VCF
@pytest.fixture()
def fasta(tmp_path):
    pytest.importorskip("pyfaidx", reason="score_vcf reads genomes with pyfaidx")
    chr1 = random_sequence(300, 8)
    chr2 = random_sequence(40, 9)
    path = tmp_path / "tiny.fa"
    wrapped = "\n".join(chr1[i : i + 60] for i in range(0, 300, 60))
    path.write_text(f">chr1 test\n{wrapped}\n>2\n{chr2}\n")
    return path, chr1, chr2


def test_score_vcf_plus_and_minus_strand(model, tokenizer, fasta):
    path, chr1, chr2 = fasta
    complement = {"A": "T", "C": "G", "G": "C", "T": "A"}
    variants = pd.DataFrame(
        {
            "chrom": ["chr1", "1", "chr2"],
            "pos": [151, 101, 20],  # 1-based
            "ref": [chr1[150], chr1[100], chr2[19]],
            "alt": [complement[chr1[150]], complement[chr1[100]], complement[chr2[19]]],
            "strand": ["+", "-", "+"],
            "exon_start": [141, 91, 11],
            "exon_end": [160, 120, 25],
        },
        index=["a", "b", "c"],
    )
    result = score_vcf(model, tokenizer, variants, path, window=100)
    assert list(result.index) == ["a", "b", "c"]
    assert result["chrom"].tolist() == ["chr1", "1", "chr2"]

    # plus strand: window 100..200 (0-based), variant at 50, exon [140, 160) -> (40, 60)
    wt = chr1[100:200]
    mut = wt[:50] + variants.loc["a", "alt"] + wt[51:]
    expected = score_variants(model, tokenizer, [wt], [mut], [50], sites=[(40, 60)])
    assert result.loc["a", "window_position"] == 50
    for column in ["kl_context", "kl_variant", "delta_p", "splice_site_kl", "site_distance"]:
        assert result.loc["a", column] == pytest.approx(expected.loc[0, column], abs=1e-6)

    # minus strand: window 50..150, reverse-complemented; variant 50 -> 49, exon [90, 120) -> [40, 70) -> (30, 60)
    wt = chr1[50:150]
    mut = wt[:50] + variants.loc["b", "alt"] + wt[51:]
    wt, mut = reverse_complement(wt), reverse_complement(mut)
    expected = score_variants(model, tokenizer, [wt], [mut], [49], sites=[(30, 60)])
    assert result.loc["b", "window_position"] == 49
    for column in ["kl_context", "kl_variant", "delta_p", "splice_site_kl", "site_distance"]:
        assert result.loc["b", column] == pytest.approx(expected.loc[0, column], abs=1e-6)

    # chromosome shorter than the window: the whole chromosome
    assert result.loc["c", "window_position"] == 19

    # SpliceBERT's protocol: windows centred on the exon (a: exon midpoint 150 -> window 120..180)
    centred = score_vcf(model, tokenizer, variants, path, window=60, center="exon")
    assert centred["window_position"].tolist() == [30, 59 - 25, 19]
    unknown = variants.assign(exon_start=[141, np.nan, 11])
    assert math.isnan(score_vcf(model, tokenizer, unknown, path, window=100).loc["b", "splice_site_kl"])


def test_score_vcf_errors(model, tokenizer, fasta):
    path, chr1, _ = fasta
    wrong = "A" if chr1[150] != "A" else "C"
    variants = pd.DataFrame({"chrom": ["chr1"], "pos": [151], "ref": [wrong], "alt": ["T" if wrong != "T" else "G"]})
    with pytest.raises(ValueError, match=r"variant 0 \(chr1:151 .*does not match the genome base"):
        score_vcf(model, tokenizer, variants, path, window=60)
    with pytest.raises(ValueError, match="chromosome 'chr9' is not in"):
        score_vcf(model, tokenizer, variants.assign(chrom="chr9"), path, window=60)
    with pytest.raises(ValueError, match="only single-nucleotide"):
        score_vcf(model, tokenizer, variants.assign(ref="AC"), path, window=60)
    with pytest.raises(ValueError, match="outside chr1"):
        score_vcf(model, tokenizer, variants.assign(pos=301), path, window=60)
    with pytest.raises(ValueError, match=r"lack the columns \['alt'\]"):
        score_vcf(model, tokenizer, variants.drop(columns="alt"), path)


# ----------------------------------------------------------------------------- evaluation
def test_average_precision_matches_sklearn():
    rng = np.random.default_rng(10)
    scores, labels = rng.random(200), rng.random(200) < 0.2
    assert evaluate_average_precision(scores, labels) == pytest.approx(average_precision_score(labels, scores))
    with_nan = scores.copy()
    with_nan[:5] = np.nan
    replaced = with_nan.copy()
    replaced[:5] = -1.0
    assert evaluate_average_precision(with_nan, labels) == pytest.approx(average_precision_score(labels, replaced))
    with pytest.raises(ValueError, match="no positive"):
        evaluate_average_precision(scores, np.zeros(200))
    with pytest.raises(ValueError, match="binary"):
        evaluate_average_precision(scores, np.arange(200))
    with pytest.raises(ValueError, match="labels for 200 scores"):
        evaluate_average_precision(scores, labels[:10])
    np.testing.assert_array_equal(random_baseline(5, seed=1), random_baseline(5, seed=1))
    assert not np.array_equal(random_baseline(5, seed=1), random_baseline(5, seed=2))


@pytest.mark.skipif(not MAPSY.exists(), reason="shared MaPSy data (../shared/data/splice/mapsy) is absent")
def test_mapsy_first_rows_and_cli(model, tokenizer, tmp_path):
    data = load_mapsy(MAPSY, limit=50)
    assert len(data) == 50
    assert (data["wt_sequence"].str.len() == 200).all()
    assert ((0 < data["exon_start"]) & (data["exon_start"] < data["exon_end"]) & (data["exon_end"] < 200)).all()
    for row in data.itertuples():
        assert row.wt_sequence[row.position] == row.ref != row.alt == row.mut_sequence[row.position]
    scores = score_variants(
        model,
        tokenizer,
        data["wt_sequence"],
        data["mut_sequence"],
        data["position"],
        sites=list(zip(data["exon_start"], data["exon_end"])),
    )
    assert scores.shape == (50, 11)
    assert np.isfinite(scores["kl_context"]).all()
    baseline = distance_baseline(data["position"], list(zip(data["exon_start"], data["exon_end"])))
    assert baseline.shape == (50,) and (baseline <= 0).all()
    assert (baseline == -scores["site_distance"].to_numpy()).all()

    checkpoint = tmp_path / "tiny"
    model.save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    out = tmp_path / "mapsy.json"
    report = main(
        ["--model", str(checkpoint), "--mapsy", str(MAPSY), "--json", str(out), "--limit", "100", "--device", "cpu"]
    )
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(report))
    assert written["n_variants"] == 100
    assert written["n_positive"] == int(pd.read_csv(MAPSY, nrows=100)["ESM"].sum()) > 0
    methods = written["all"]
    expected = {"kl_context", "neg_delta_p", "splice_site_kl", "baseline_random", "baseline_neg_site_distance"}
    assert expected <= set(methods)
    assert all(0.0 <= m["average_precision"] <= 1.0 for m in methods.values())
