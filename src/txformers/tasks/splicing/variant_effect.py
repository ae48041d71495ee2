# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Zero-shot splice variant-effect scores from a SpliceBERT masked language model.

SpliceBERT (Chen et al., Brief. Bioinform. 2024) scores a single-nucleotide variant with no
training at all. Both sequences, wild type (WT) and mutant, go through the model **unmasked**.
At every position a softmax over the A/C/G/T logits gives a distribution, and the variant's
effect is read from how much those distributions move:

* ``kl_context``: per-position ``KL(mut || wt)``, summarised over the 100 nt on each side of the
  variant as ``sum_{d=1..100} log(max(mean(KL[pos-d], KL[pos+d]), 1e-6))``. This is the
  published score (AP 0.182 on VexSeq, 0.118 on MFASS). Higher means more disruptive.
* ``kl_variant``: the KL at the variant itself.
* ``delta_p``: ``p_mut(alt) - p_wt(ref)`` at the variant. Negative means the model finds the
  alternative base less plausible in its context than the reference base.
* with splice sites: ``acceptor_kl`` / ``donor_kl`` / ``splice_site_kl`` (KL at the AG/GT
  dinucleotides around the exon), ``splice_site_delta_p`` and ``site_distance``.

The probabilities and every score come from the portable SpliceBERT scoring engine
(:mod:`txformers.models.splicebert.scoring_splicebert`), so the ``"splice-variant-effect"`` pipeline
shipped with a checkpoint computes the same numbers. This module turns tables of variants into
scores: WT/mutant pairs (:func:`score_variants`), VCF-style SNVs on a genome (:func:`score_vcf`), and
MaPSy with baselines (:func:`evaluate_mapsy`; the table is parsed by
:func:`txformers.datasets.splice_variants.read_mapsy`).

All positions are **0-based** and refer to the sequence as given, with whitespace removed.
Exons are given as ``(exon_start, exon_end)``, 0-based and half-open. The acceptor
dinucleotide is at ``exon_start-2, exon_start-1`` and the donor dinucleotide at
``exon_end, exon_end+1``.

Example:

```python
>>> import torch
>>> from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM
>>> from txformers.tasks.splicing.variant_effect import score_variants
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<...>
>>> config = SpliceBertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64)
>>> model, tokenizer = SpliceBertForMaskedLM(config).eval(), NucleotideTokenizer()
>>> wt = "ACGTTTCAGGTAAGTCCAGGACGT" * 4
>>> mut = wt[:40] + "A" + wt[41:]
>>> scores = score_variants(model, tokenizer, [wt], [mut], [40], sites=[(30, 60)])
>>> scores[["kl_context", "kl_variant", "delta_p", "splice_site_kl"]].shape
(1, 4)
```

Run on MaPSy as a script::

    python -m txformers.tasks.splicing.variant_effect --model DIR --mapsy mapsy.txt --json results.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ...datasets.splice_variants import read_mapsy
from ...models.splicebert.scoring_splicebert import (
    DEFAULT_MAX_DISTANCE,
    NUCLEOTIDES,
    check_snv,
    clean_sequence,
    nucleotide_probabilities,
    site_distance,
    site_pair,
    variant_scores,
)


# ---------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------
def score_variants(
    model: torch.nn.Module,
    tokenizer: Any,
    wt_sequences: Sequence[str],
    mut_sequences: Sequence[str],
    positions: Sequence[int],
    sites: Sequence[Any] | None = None,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    edge: str = "one_sided",
    cache: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Score single-nucleotide variants given as WT/mutant sequence pairs.

    Every distinct sequence is scored once. A WT shared by many variants, as in saturation
    mutagenesis or MaPSy, goes through the model a single time. Pass a ``cache`` dict to reuse
    probabilities across calls: it maps cleaned sequences to ``(L, 4)`` arrays and is filled in place.

    Args:
        wt_sequences, mut_sequences: same-length sequences that differ at exactly ``positions``.
        positions: 0-based variant positions.
        sites: optional ``(exon_start, exon_end)`` per variant (0-based, half-open exon; either
            end may be ``None``) for the splice-site scores.
        max_distance, edge: see :func:`kl_context_score`.

    Returns:
        One row per variant: ``position, ref, alt, kl_context, kl_variant, delta_p``. With ``sites``
        it also has ``acceptor_kl, donor_kl, splice_site_kl, splice_site_delta_p, site_distance``.
        Larger ``kl_*`` values mean more disruptive. For ``delta_p``, lower values mean more
        disruptive. See :func:`delta_p`.

    Raises:
        ValueError: naming the row, when lengths differ, a position is out of range, the WT and
            mutant bases at the position are equal, or the sequences differ elsewhere too.
    """
    wt = [clean_sequence(s, f"WT sequence of row {i}") for i, s in enumerate(wt_sequences)]
    mut = [clean_sequence(s, f"mutant sequence of row {i}") for i, s in enumerate(mut_sequences)]
    positions = list(positions)
    if not len(wt) == len(mut) == len(positions):
        raise ValueError(
            f"got {len(wt)} WT sequences, {len(mut)} mutant sequences and {len(positions)} positions: "
            "one of each per variant"
        )
    if sites is not None:
        sites = list(sites)
        if len(sites) != len(wt):
            raise ValueError(f"got {len(sites)} sites for {len(wt)} variants")
        sites = [site_pair(site) for site in sites]
    checked = [check_snv(w, m, p, name=f"row {row}") for row, (w, m, p) in enumerate(zip(wt, mut, positions))]

    cache = {} if cache is None else cache
    todo = [s for s in dict.fromkeys(wt + mut) if s not in cache]
    if todo:
        probs = nucleotide_probabilities(model, tokenizer, todo, batch_size=batch_size, device=device)
        cache.update(zip(todo, probs))

    records = [
        variant_scores(cache[w], cache[m], w, m, pos, None if sites is None else sites[row], max_distance, edge)
        for row, ((pos, _, _), w, m) in enumerate(zip(checked, wt, mut))
    ]
    columns = ["position", "ref", "alt", "kl_context", "kl_variant", "delta_p"]
    if sites is not None:
        columns += ["acceptor_kl", "donor_kl", "splice_site_kl", "splice_site_delta_p", "site_distance"]
    return pd.DataFrame.from_records(records, columns=columns)


# ---------------------------------------------------------------------------------------------
# VCF-like variants on a genome
# ---------------------------------------------------------------------------------------------
def score_vcf(
    model: torch.nn.Module,
    tokenizer: Any,
    variants: pd.DataFrame,
    fasta_path: str | Path,
    window: int = 510,
    center: str = "variant",
    batch_size: int = 32,
    device: str | torch.device | None = None,
    **score_kwargs: Any,
) -> pd.DataFrame:
    """Score VCF-style SNVs on a reference genome.

    For each variant a ``window``-nt WT sequence is cut from the FASTA. The reference allele is
    checked against the genome, the mutant is built, and both are reverse-complemented on the
    minus strand so that the model reads the transcript. Then :func:`score_variants` scores them.
    Near a chromosome end the window is shifted inward, or shortened if the chromosome is
    shorter than ``window``.

    Args:
        variants: columns ``chrom``, ``pos`` (1-based), ``ref``, ``alt`` (plus-strand alleles, as
            in VCF); optional ``strand`` (``+``/``-``, default ``+``); optional ``exon_start`` and
            ``exon_end`` (1-based, inclusive genomic exon bounds; NaN where unknown) for the
            splice-site scores.
        fasta_path: indexed or indexable FASTA (``chr1`` and ``1`` names are matched either way).
        window: nucleotides per sequence. The default 510 is SpliceBERT's VexSeq/MFASS protocol.
        center: ``"variant"`` centres the window on the variant. ``"exon"`` centres it on the
            exon midpoint, as SpliceBERT did, and needs the exon columns.
        score_kwargs: passed to :func:`score_variants` (``max_distance``, ``edge``, ``cache``).

    Returns:
        ``variants`` with the score columns added, plus ``window_position`` (the 0-based variant
        position in the transcript-oriented window).

    Example:

    ```python
    >>> import pandas as pd
    >>> variants = pd.DataFrame({"chrom": ["chr1"], "pos": [1001], "ref": ["A"], "alt": ["G"], "strand": ["-"]})
    >>> # score_vcf(model, tokenizer, variants, "hg19.fa")
    ```
    """
    has_exons = {"exon_start", "exon_end"} <= set(variants.columns)
    windows = vcf_sequences(variants, fasta_path, window=window, center=center)
    scores = score_variants(
        model,
        tokenizer,
        windows["wt_sequence"],
        windows["mut_sequence"],
        windows["position"],
        sites=list(zip(windows["exon_start"], windows["exon_end"])) if has_exons else None,
        batch_size=batch_size,
        device=device,
        **score_kwargs,
    )
    scores = scores.drop(columns=["ref", "alt"]).rename(columns={"position": "window_position"})
    scores.index = variants.index
    return pd.concat([variants, scores], axis=1)


def vcf_sequences(
    variants: pd.DataFrame, fasta_path: str | Path, window: int = 510, center: str = "variant"
) -> pd.DataFrame:
    """Transcript-oriented WT/mutant windows of VCF-style SNVs, as :func:`score_vcf` scores them.

    Args: as :func:`score_vcf`.

    Returns:
        One row per variant (same index): ``wt_sequence``, ``mut_sequence``, ``position`` (0-based
        variant position in the window), ``exon_start`` and ``exon_end`` (0-based, half-open, in
        the window; ``None`` where unknown).

    Raises:
        ValueError: naming the variant, when the reference allele does not match the FASTA, the
            chromosome is missing, the position is outside it, or the variant is not an A/C/G/T SNV.
    """
    required = ["chrom", "pos", "ref", "alt"]
    missing = [column for column in required if column not in variants.columns]
    if missing:
        raise ValueError(f"variants lack the columns {missing} (need chrom, pos (1-based), ref, alt)")
    if center not in ("variant", "exon"):
        raise ValueError(f"center must be 'variant' or 'exon', got {center!r}")
    has_exons = {"exon_start", "exon_end"} <= set(variants.columns)
    if center == "exon" and not has_exons:
        raise ValueError("center='exon' needs exon_start and exon_end columns")
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    from ...datasets.genome import FastaReader

    genome = FastaReader(fasta_path)
    try:
        wt_sequences, mut_sequences, positions, sites = _vcf_windows(genome, variants, window, center, has_exons)
    finally:
        genome.close()
    return pd.DataFrame(
        {
            "wt_sequence": wt_sequences,
            "mut_sequence": mut_sequences,
            "position": positions,
            "exon_start": pd.Series([None if site is None else site[0] for site in sites], dtype=object),
            "exon_end": pd.Series([None if site is None else site[1] for site in sites], dtype=object),
        }
    ).set_axis(variants.index)


def _vcf_windows(
    genome: Any, variants: pd.DataFrame, window: int, center: str, has_exons: bool
) -> tuple[list[str], list[str], list[int], list[Any]]:
    """Transcript-oriented WT/mutant windows, variant positions and exon bounds of VCF-style rows."""
    from ...datasets.genome import reverse_complement

    fasta_path = genome.path

    wt_sequences, mut_sequences, positions, sites = [], [], [], []
    for label, row in variants.iterrows():
        chrom, pos, ref, alt = row["chrom"], row["pos"], str(row["ref"]).upper(), str(row["alt"]).upper()
        name = f"variant {label} ({chrom}:{pos} {ref}>{alt})"
        strand = "+" if "strand" not in variants.columns or pd.isna(row["strand"]) else str(row["strand"])
        if strand not in ("+", "-"):
            raise ValueError(f"{name}: strand must be '+' or '-', got {strand!r}")
        if len(ref) != 1 or len(alt) != 1 or ref not in NUCLEOTIDES or alt not in NUCLEOTIDES:
            raise ValueError(f"{name}: only single-nucleotide variants between A/C/G/T are supported")
        if ref == alt:
            raise ValueError(f"{name}: ref and alt are the same base")
        try:
            contig = genome.resolve(str(chrom))
        except KeyError as error:
            raise ValueError(f"{name}: chromosome {chrom!r} is not in {fasta_path}") from error
        chrom_length = genome.chrom_length(contig)
        pos0 = int(pos) - 1
        if not 0 <= pos0 < chrom_length:
            raise ValueError(f"{name}: position {pos} is outside {contig} (length {chrom_length}); pos is 1-based")
        exon = None
        if has_exons and not (pd.isna(row["exon_start"]) or pd.isna(row["exon_end"])):
            exon = (int(row["exon_start"]) - 1, int(row["exon_end"]))  # 0-based, half-open
        if center == "exon":
            if exon is None:
                raise ValueError(f"{name}: center='exon' needs its exon_start and exon_end")
            middle = (exon[0] + exon[1]) // 2
        else:
            middle = pos0
        start = min(max(0, middle - window // 2), max(0, chrom_length - window))
        end = min(chrom_length, start + window)
        if not start <= pos0 < end:
            raise ValueError(f"{name}: the variant lies outside its {window}-nt window centred on the exon")
        wt = genome.fetch(contig, start, end).upper()
        relative = pos0 - start
        if wt[relative] != ref:
            raise ValueError(
                f"{name}: reference allele {ref} does not match the genome base {wt[relative]} at "
                f"{contig}:{pos} in {fasta_path} (give ref/alt on the plus strand, pos 1-based)"
            )
        mut = wt[:relative] + alt + wt[relative + 1 :]
        site = None if exon is None else (exon[0] - start, exon[1] - start)
        if strand == "-":
            wt, mut = reverse_complement(wt), reverse_complement(mut)
            relative = len(wt) - 1 - relative
            if site is not None:
                site = (len(wt) - site[1], len(wt) - site[0])
        wt_sequences.append(wt)
        mut_sequences.append(mut)
        positions.append(relative)
        sites.append(site)
    return wt_sequences, mut_sequences, positions, sites


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------
def _binary_labels(labels: Any, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"got {labels.shape[0] if labels.ndim else 0} labels for {n} scores")
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise ValueError(f"labels contain {int(np.isnan(labels).sum())} NaN values")
    values = set(np.unique(labels).tolist())
    if not values <= {0, 1, True, False}:
        raise ValueError(f"labels must be binary (0/1), got the values {sorted(values)[:10]}")
    labels = labels.astype(int)
    if labels.sum() == 0:
        raise ValueError("labels have no positive (1): average precision is undefined")
    return labels


def evaluate_average_precision(scores: Any, labels: Any) -> float:
    """Average precision of ``scores`` (higher = more likely positive) against binary ``labels``.

    It calls :func:`sklearn.metrics.average_precision_score`. A ``nan`` score (e.g. a splice-site
    KL where the site lies outside the sequence) is ranked below every other score, not dropped,
    so every method is scored on the same variants.

    Example:

    ```python
    >>> evaluate_average_precision([0.9, 0.1, 0.8, 0.3], [1, 0, 1, 0])
    1.0
    ```
    """
    from sklearn.metrics import average_precision_score

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    labels = _binary_labels(labels, len(scores))
    return float(average_precision_score(labels, _nan_last(scores)))


def _nan_last(scores: np.ndarray) -> np.ndarray:
    missing = np.isnan(scores)
    if not missing.any():
        return scores
    scores = scores.copy()
    scores[missing] = (np.nanmin(scores) - 1.0) if (~missing).any() else 0.0
    return scores


def random_baseline(n: int, seed: int = 0) -> np.ndarray:
    """Seeded uniform random scores: the chance level of AP is the positive fraction."""
    return np.random.default_rng(seed).random(n)


def distance_baseline(positions: Sequence[int], sites: Sequence[Any]) -> np.ndarray:
    """Minus the distance to the nearest splice-site dinucleotide: the closer a variant, the higher."""
    if len(positions) != len(sites):
        raise ValueError(f"got {len(positions)} positions and {len(sites)} sites")
    return -np.asarray([site_distance(int(pos), site) for pos, site in zip(positions, sites)], dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# MaPSy
# ---------------------------------------------------------------------------------------------
def load_mapsy(path: str | Path, limit: int | None = None) -> pd.DataFrame:
    """MaPSy (Soemedi et al. 2017) exonic variants as WT/mutant pairs with exon bounds, for scoring.

    ``mapsy.txt`` (MMSplice_paper) holds 200-nt minigene sequences ``WT_SEQ``/``MUT_SEQ`` in
    transcript orientation. The rows come from :func:`txformers.datasets.splice_variants.read_mapsy`
    with ``strict=True``: every row must be a single-nucleotide variant whose exon is found as MMSplice
    did (:func:`~txformers.datasets.splice_variants.mapsy_exon_bounds`); errors name the row.

    Returns:
        Columns ``id, wt_sequence, mut_sequence, position, ref, alt, exon_start, exon_end``
        (0-based, half-open), ``label`` (``ESM``: exonic splicing mutation) and ``test``
        (MMSplice's split flag, when present).
    """
    columns = ["id", "wt_sequence", "mut_sequence", "position", "ref", "alt", "exon_start", "exon_end", "label", "test"]
    rows = [{**row, "position": row["variant_pos"]} for row in read_mapsy(str(path), limit=limit, strict=True)]
    return pd.DataFrame(rows, columns=columns)


def _rank_metrics(frame: pd.DataFrame, labels: np.ndarray, seed: int) -> dict[str, dict[str, float]]:
    from sklearn.metrics import roc_auc_score

    methods = {
        "kl_context": frame["kl_context"].to_numpy(),
        "kl_variant": frame["kl_variant"].to_numpy(),
        "neg_delta_p": -frame["delta_p"].to_numpy(),
        "splice_site_kl": frame["splice_site_kl"].to_numpy(),
        "splice_site_delta_p": frame["splice_site_delta_p"].to_numpy(),
        "baseline_random": random_baseline(len(frame), seed=seed),
        "baseline_neg_site_distance": -frame["site_distance"].to_numpy(),
    }
    results = {}
    for method, scores in methods.items():
        scores = np.asarray(scores, dtype=np.float64)
        results[method] = {
            "average_precision": evaluate_average_precision(scores, labels),
            "auroc": float(roc_auc_score(labels, _nan_last(scores))),
        }
    return results


def evaluate_mapsy(
    model: torch.nn.Module,
    tokenizer: Any,
    path: str | Path,
    limit: int | None = None,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score MaPSy with a model and compare AP/AUROC with the random and distance baselines.

    Scores for ranking (higher = predicted exonic splicing mutation): ``kl_context``,
    ``kl_variant``, ``-delta_p``, ``splice_site_kl``, ``splice_site_delta_p``. The metrics are
    reported on all variants and on MMSplice's ``test`` rows. Note that in ``mapsy.txt`` every
    ``ESM`` positive is a ``test`` row.
    """
    data = load_mapsy(path, limit=limit)
    started = time.perf_counter()
    scores = score_variants(
        model,
        tokenizer,
        data["wt_sequence"],
        data["mut_sequence"],
        data["position"],
        sites=list(zip(data["exon_start"], data["exon_end"])),
        batch_size=batch_size,
        device=device,
    )
    seconds = time.perf_counter() - started
    frame = pd.concat([data.drop(columns=["wt_sequence", "mut_sequence", "position", "ref", "alt"]), scores], axis=1)
    labels = frame["label"].to_numpy()
    report: dict[str, Any] = {
        "data": str(path),
        "n_variants": int(len(frame)),
        "n_positive": int(labels.sum()),
        "n_unique_sequences": int(len(set(data["wt_sequence"]) | set(data["mut_sequence"]))),
        "scoring_seconds": round(seconds, 3),
        "all": _rank_metrics(frame, labels, seed) if labels.sum() else {},
    }
    test = frame["test"].astype(str).str.lower() == "true"
    if test.any() and labels[test.to_numpy()].sum():
        report["n_test"] = int(test.sum())
        report["n_test_positive"] = int(labels[test.to_numpy()].sum())
        report["test_split"] = _rank_metrics(frame[test].reset_index(drop=True), labels[test.to_numpy()], seed)
    return frame, report


def _load(model_path: str, device: str | None) -> tuple[torch.nn.Module, Any]:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from ...tokenizers import NucleotideTokenizer

    model = AutoModelForMaskedLM.from_pretrained(model_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
    except (OSError, ValueError, TypeError):
        tokenizer = NucleotideTokenizer()
    if device:
        model = model.to(device)
    return model.eval(), tokenizer


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``python -m txformers.tasks.splicing.variant_effect --model DIR --mapsy FILE --json OUT``."""
    parser = argparse.ArgumentParser(
        prog="python -m txformers.tasks.splicing.variant_effect",
        description="Zero-shot SpliceBERT variant-effect scores on MaPSy: AP of KL-context, delta-p and "
        "splice-site KL against a random and a splice-site-distance baseline.",
    )
    parser.add_argument("--model", required=True, help="masked-LM checkpoint folder (or Hub id)")
    parser.add_argument("--mapsy", required=True, help="mapsy.txt (MMSplice_paper data/mapsy)")
    parser.add_argument("--json", help="write the metrics here")
    parser.add_argument("--scores", help="optionally write per-variant scores (CSV) here")
    parser.add_argument("--limit", type=int, help="score only the first N variants")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
    args = parser.parse_args(argv)

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, tokenizer = _load(args.model, device)
    frame, report = evaluate_mapsy(
        model, tokenizer, args.mapsy, limit=args.limit, batch_size=args.batch_size, device=device, seed=args.seed
    )
    report = {"model": args.model, "device": device, **report}
    print(f"MaPSy: {report['n_variants']} variants, {report['n_positive']} ESM positives ({args.model})")
    for split in ("all", "test_split"):
        if report.get(split):
            print(f"\n{split:<28}{'AP':>8}{'AUROC':>8}")
            for method, metrics in report[split].items():
                print(f"{method:<28}{metrics['average_precision']:>8.3f}{metrics['auroc']:>8.3f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.scores:
        frame.to_csv(args.scores, index=False)
    return report


__all__ = [
    "distance_baseline",
    "evaluate_average_precision",
    "evaluate_mapsy",
    "load_mapsy",
    "main",
    "random_baseline",
    "score_variants",
    "score_vcf",
    "vcf_sequences",
]


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
