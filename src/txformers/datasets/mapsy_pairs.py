"""Variant pair tables in the CAGI / MaPSy layout: the reader behind the variant-effect model.

A table (CSV or TSV) has one row per variant with required columns ``ID, WT_SEQ, MUT_SEQ,
Exon_Start, Exon_End, chr, strand`` and optional ``WT_ID, MUT_ID, donor, acceptor`` plus the
:data:`OPTIONAL_INPUTS` (input counts, conservation, intron lengths, exon strength). Labels
(``ESM``) and allelic ratios are read only as targets (``with_targets=True``), never as inputs.

* Orientation: when ``WT_ID`` / ``MUT_ID`` end in ``W`` / ``M``, each pair is oriented by them; a pair
  listed mutant-first (``WT_ID`` ending in ``M`` and ``MUT_ID`` in ``W``) has its sequences swapped
  and ``swapped=True`` (the published CAGI test file lists about a third of its pairs this way).
* Exon place: ``Exon_Start`` / ``Exon_End`` are genomic (1-based, inclusive), so they give the exon
  length. With ``donor`` / ``acceptor`` motifs the exon is placed by MMSplice's rule
  (:func:`~txformers.datasets.splice_variants.mapsy_exon_bounds`, ``exon_rule="motif"``). Without
  them (or when that fails) it is the AG ... GT-flanked stretch of that length whose downstream
  length is closest to MaPSy's 35 nt (``exon_rule="AG-GT"``).
* A row that cannot be scored keeps its id and gets a ``reason``; nothing raises per row.
"""

from __future__ import annotations

import math

from .splice_variants import diff_variant, mapsy_exon_bounds

REQUIRED = ("ID", "WT_SEQ", "MUT_SEQ", "Exon_Start", "Exon_End", "chr", "strand")
OPTIONAL_INPUTS = (
    "Vivo_WT_Input",
    "Vivo_MUT_Input",
    "Vitro_WT_Input",
    "Vitro_MUT_Input",
    "Exon_PhastCons",
    "acceptor_intronL",
    "donor_intronL",
    "Exon_eng",
)
TARGETS = ("ESM", "log2_vivo_ratio", "log2_vitro_ratio")
MAPSY_DOWNSTREAM = 35
"""Nucleotides after the exon in a MaPSy minigene (20 nt of intron and the 15-nt primer) for most rows."""


def read_table(path: str):
    """A CSV or TSV (by extension; otherwise sniffed) as a pandas DataFrame of strings-or-numbers."""
    import pandas as pd

    lower = str(path).lower()
    sep = "\t" if lower.endswith((".tsv", ".tsv.gz", ".tab", ".txt.tsv")) else "," if lower.endswith(".csv") else None
    return pd.read_csv(path, sep=sep, engine="python" if sep is None else "c", dtype={"ID": str, "chr": str})


def exon_place(seq: str, exon_length: int, acceptor: str = "", donor: str = "") -> tuple[int, int, str]:
    """``(start, end, rule)`` of the exon in a minigene sequence (0-based, half-open), ``(-1, -1, "")`` if none.

    >>> exon_place("CCCAGACGTACGGTAAGCC", 7, "CAG", "GTAAG")
    (5, 12, 'motif')
    >>> exon_place("CCCAGACGTACGGTAAGCC", 7)
    (5, 12, 'AG-GT')
    """
    if acceptor and donor:
        start, end = mapsy_exon_bounds(seq, acceptor, donor, exon_length)
        if start >= 0:
            return start, end, "motif"
    n = len(seq)
    candidates = [
        s
        for s in range(2, n - exon_length - 1)
        if seq[s - 2 : s] == "AG" and seq[s + exon_length : s + exon_length + 2] == "GT"
    ]
    if not candidates:
        return -1, -1, ""
    best = min(candidates, key=lambda s: (abs(n - (s + exon_length) - MAPSY_DOWNSTREAM), -s))
    return best, best + exon_length, "AG-GT"


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _number(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return value


def read_pairs(table, with_targets: bool = False) -> list[dict]:
    """Rows of a CAGI / MaPSy variant table (a path or a DataFrame), each oriented and placed.

    Every input row gives one dict, in order: ``id, wt_id, mut_id, swapped, chrom, strand,
    wt_sequence, mut_sequence, variant_pos, ref, alt, exon_start, exon_end, exon_rule`` and each of
    :data:`OPTIONAL_INPUTS` (NaN when absent), ``exon_key`` (``chr:Exon_Start-Exon_End``, for grouping),
    ``reason`` ("" when scorable); with ``with_targets`` also ``label`` (``ESM``, -1 when absent), the two
    log2 ratios (NaN when absent) and ``mmsplice_test`` (the table's ``test`` flag).
    """
    frame = read_table(table) if isinstance(table, (str, bytes)) or hasattr(table, "__fspath__") else table
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"variant table lacks required column(s) {missing} (have {list(frame.columns)})")
    rows = []
    for index, record in enumerate(frame.to_dict("records")):
        row = {"id": _text(record.get("ID")) or f"row{index}", "reason": ""}
        row["wt_id"], row["mut_id"] = _text(record.get("WT_ID")), _text(record.get("MUT_ID"))
        wt, mut = _text(record.get("WT_SEQ")).upper(), _text(record.get("MUT_SEQ")).upper()
        swapped = row["wt_id"][-1:].upper() == "M" and row["mut_id"][-1:].upper() == "W"
        if swapped:
            wt, mut = mut, wt
        row.update(swapped=swapped, chrom=_text(record.get("chr")), strand=_text(record.get("strand")))
        row["exon_key"] = f"{row['chrom']}:{_text(record.get('Exon_Start'))}-{_text(record.get('Exon_End'))}"
        row.update(wt_sequence=wt, mut_sequence=mut, variant_pos=-1, ref="", alt="")
        row.update(exon_start=-1, exon_end=-1, exon_rule="")
        for column in OPTIONAL_INPUTS:
            row[column] = _number(record.get(column))
        if with_targets:
            label = _number(record.get("ESM"))
            row["label"] = -1 if math.isnan(label) else int(label)
            row["log2_vivo_ratio"] = _number(record.get("log2_vivo_ratio"))
            row["log2_vitro_ratio"] = _number(record.get("log2_vitro_ratio"))
            row["mmsplice_test"] = _text(record.get("test")).lower() == "true"  # MMSplice's split flag, for reports
        rows.append(row)
        if not wt or not mut or set(wt + mut) - set("ACGTN"):
            row["reason"] = "WT_SEQ/MUT_SEQ missing or not A/C/G/T/N"
            continue
        if len(wt) != len(mut):
            row["reason"] = f"not an SNV: WT and mutant lengths differ ({len(wt)} vs {len(mut)})"
            continue
        try:
            pos, ref, alt = diff_variant(wt, mut)
        except ValueError as error:
            row["reason"] = str(error).split(";")[0]
            continue
        row.update(variant_pos=pos, ref=ref, alt=alt)
        start, end = _number(record.get("Exon_Start")), _number(record.get("Exon_End"))
        if math.isnan(start) or math.isnan(end) or end < start:
            row["reason"] = "Exon_Start/Exon_End missing or invalid"
            continue
        acceptor, donor = _text(record.get("acceptor")).upper(), _text(record.get("donor")).upper()
        es, ee, rule = exon_place(wt, int(end - start + 1), acceptor, donor)
        if es < 0:
            row["reason"] = "exon not found in WT_SEQ (no donor/acceptor motif match, no AG...GT stretch of its length)"
            continue
        row.update(exon_start=es, exon_end=ee, exon_rule=rule)
    return rows


__all__ = ["MAPSY_DOWNSTREAM", "OPTIONAL_INPUTS", "REQUIRED", "TARGETS", "exon_place", "read_pairs", "read_table"]
