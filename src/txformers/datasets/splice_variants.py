"""Splicing variants as wild-type / mutant sequence pairs with labels.

Three configurations (``config_name=``):

- ``"mapsy"`` (default): the MaPSy table (``mapsy.txt``, Soemedi et al. 2017): 200-nt minigene
  WT/MUT sequences are in the table. The variant position, ``ref`` and ``alt`` come from diffing
  WT and MUT (equal lengths must differ at exactly one position; different lengths are an
  indel, left-aligned by trimming the common suffix, then the common prefix). The exon bounds in
  the sequence follow MMSplice (:func:`mapsy_exon_bounds`): the exon ends where the table's ``donor``
  motif (15 nt starting at the exon end) first occurs and is ``Exon_End - Exon_Start + 1`` nt long,
  and the ``acceptor`` motif (15 nt) must end right at its start.
  ``label`` = ``ESM``; ``log2_vivo_ratio`` / ``log2_vitro_ratio`` kept (null where missing).
  :func:`read_mapsy` is the one parser of the table; ``txformers.tasks.splicing`` scores its rows.
- ``"genome"``: a variant table (CSV/TSV) or VCF plus a genome FASTA. Each row (``chrom``,
  ``pos`` 1-based, ``ref``, ``alt``, optional ``label``, ``strand``, ``exon_start``/``exon_end``
  1-based inclusive, ``id``, ``score``) becomes WT/MUT windows of ``window`` nt (see below).
- ``"vexseq"``: the VexSeq HepG2 tables (CAGI5) through the genome mode (needs hg19):
  ``train`` from ``HepG2_delta_PSI_CAGI_training.csv``, ``test`` from
  ``HepG2_delta_PSI_CAGI_testing.csv`` joined with ``Vexseq_HepG2_delta_PSI_CAGI_test_true.tsv``
  (labels -1 if that file is absent). ``label = delta_psi < sdv_threshold`` (-24 by default).

**Windows (genome/vexseq).** The FASTA bases at ``pos`` must equal ``ref`` (error naming the
variant otherwise). WT = ``window`` nt with the variant's first base at 0-based ``window // 2``
(``center="variant"``) or centred on the exon as in SpliceBERT's VexSeq analysis
(``center="exon"``, ``start = (exon_start0 + exon_end) // 2 - window // 2``). MUT replaces ``ref``
by ``alt`` with the same flanks, so for indels MUT is ``len(alt) - len(ref)`` nt longer/shorter.
On ``-`` both are reverse-complemented (so ``variant_pos`` becomes the length of the right flank
and ``ref``/``alt`` are complemented). In every configuration ``ref``/``alt`` are in sequence
orientation: ``wt_sequence[variant_pos:variant_pos + len(ref)] == ref`` and likewise for MUT.
``exon_start``/``exon_end`` are 0-based half-open positions in ``wt_sequence`` (-1 if unknown;
they may fall outside ``[0, len)`` when the exon is longer than the window). Windows running past a
chromosome end are padded with ``N``.

Example:
    >>> import tempfile, os
    >>> from txformers.datasets.splice_variants import SpliceVariantsBuilder
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "g.fa"), "w").write(">chr1\\n" + "ACGT" * 25 + "\\n")
    >>> _ = open(os.path.join(d, "v.tsv"), "w").write(
    ...     "chrom\\tpos\\tref\\talt\\tlabel\\tstrand\\nchr1\\t50\\tC\\tT\\t1\\t-\\n")
    >>> b = SpliceVariantsBuilder(config_name="genome", table=os.path.join(d, "v.tsv"),
    ...                           fasta=os.path.join(d, "g.fa"), window=20, cache_dir=os.path.join(d, "c"))
    >>> b.download_and_prepare()
    >>> row = b.as_dataset(split="train")[0]
    >>> row["variant_pos"], row["ref"], row["alt"], row["wt_sequence"][9], row["mut_sequence"][9]
    (9, 'G', 'A', 'G', 'A')
"""

from __future__ import annotations

import gzip
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import datasets

from .genome import FastaReader, example_key, reverse_complement

logger = logging.getLogger(__name__)

_DESCRIPTION = "Wild-type / mutant sequence pairs of splicing variants (MaPSy, VexSeq, or any table + genome)."

_VEXSEQ_FILES = {
    "train": "HepG2_delta_PSI_CAGI_training.csv",
    "test": "HepG2_delta_PSI_CAGI_testing.csv",
    "test_labels": "Vexseq_HepG2_delta_PSI_CAGI_test_true.tsv",
}

# accepted column names (case-insensitive) of the genome-mode table
_ALIASES = {
    "chrom": ("chrom", "chromosome", "chr", "seqnames", "#chrom"),
    "pos": ("pos", "position", "hg19_variant_position", "hg38_variant_position", "variant_position"),
    "ref": ("ref", "reference"),
    "alt": ("alt", "variant", "alternative"),
    "strand": ("strand",),
    "exon_start": ("exon_start",),
    "exon_end": ("exon_end",),
    "id": ("id", "variant_id", "name"),
    "label": ("label",),
    "score": ("score",),
}


@dataclass
class SpliceVariantsConfig(datasets.BuilderConfig):
    """Configuration of :class:`SpliceVariantsBuilder` (see the module docstring).

    Args:
        table: ``mapsy``: path of ``mapsy.txt`` (default ``data_dir/mapsy.txt``); ``genome``: the
            variant table (``.csv``, ``.tsv``/``.txt``, or ``.vcf[.gz]`` whose INFO keys become
            columns). ``vexseq`` reads ``data_dir``.
        fasta: genome FASTA (``genome``/``vexseq``).
        window: WT window length (genome/vexseq; 510 as SpliceBERT).
        center: ``"variant"`` or ``"exon"`` (needs exon bounds).
        label_column / score_column: table columns for ``label`` / ``score`` (genome mode;
            default ``label`` / ``score`` when present).
        sdv_threshold: VexSeq: splice-disrupting when ``delta_psi < sdv_threshold``.
        snv_only: drop indels/MNVs (the count is logged).
        index_dir: folder for the FASTA ``.fai`` index when the FASTA folder is read-only.
    """

    table: str | None = None
    fasta: str | None = None
    window: int = 510
    center: str = "variant"
    label_column: str | None = None
    score_column: str | None = None
    sdv_threshold: float = -24.0
    snv_only: bool = False
    index_dir: str | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.name not in ("mapsy", "genome", "vexseq"):
            raise ValueError(f"config name must be 'mapsy', 'genome' or 'vexseq', got {self.name!r}")
        if self.window < 2:
            raise ValueError(f"window must be >= 2, got {self.window}")
        if self.center not in ("variant", "exon"):
            raise ValueError(f"center must be 'variant' or 'exon', got {self.center!r}")


# ------------------------------------------------------------------------------------ helpers
def diff_variant(wt: str, mut: str, name: str = "") -> tuple[int, str, str]:
    """``(position, ref, alt)`` of the single variant between two sequences.

    Equal lengths: exactly one position may differ (an SNV). Different lengths: an indel,
    left-aligned: the common suffix is trimmed first, then the common prefix; ``ref``/``alt``
    are what remains.

    >>> diff_variant("ACGTA", "ACCTA")
    (2, 'G', 'C')
    >>> diff_variant("ACGGTA", "ACGTA")
    (2, 'G', '')
    """
    label = f" ({name})" if name else ""
    if len(wt) == len(mut):
        diffs = [i for i, (a, b) in enumerate(zip(wt, mut)) if a != b]
        if len(diffs) != 1:
            where = ", ".join(str(i) for i in diffs[:10])
            raise ValueError(
                f"WT and MUT{label} have equal lengths but differ at {len(diffs)} positions"
                + (f" ({where})" if diffs else "")
                + "; expected exactly one (an SNV)"
            )
        i = diffs[0]
        return i, wt[i], mut[i]
    shortest = min(len(wt), len(mut))
    suffix = 0  # trim the common suffix first, so the indel is left-aligned
    while suffix < shortest and wt[-1 - suffix] == mut[-1 - suffix]:
        suffix += 1
    prefix = 0
    while prefix < shortest - suffix and wt[prefix] == mut[prefix]:
        prefix += 1
    return prefix, wt[prefix : len(wt) - suffix], mut[prefix : len(mut) - suffix]


MAPSY_COLUMNS = ("WT_SEQ", "MUT_SEQ", "Exon_Start", "Exon_End", "donor", "acceptor", "ESM")
"""The columns of ``mapsy.txt`` that define a variant and its exon."""


def mapsy_exon_bounds(seq: str, acceptor: str, donor: str, exon_length: int) -> tuple[int, int]:
    """0-based half-open exon bounds in a MaPSy minigene sequence, or ``(-1, -1)`` if not found.

    MMSplice's rule: the exon ends where the ``donor`` motif (15 nt starting with the intronic GT)
    first occurs, and it is ``exon_length`` nt long. The ``acceptor`` motif (15 nt ending with the
    intronic AG) must end right at the exon start.

    >>> mapsy_exon_bounds("CCCAGACGTACGGTAAGCC", "CAG", "GTAAG", 7)
    (5, 12)
    """
    exon_end = seq.find(donor)
    exon_start = exon_end - exon_length
    if exon_end < 0 or exon_start < 0 or seq[max(0, exon_start - len(acceptor)) : exon_start] != acceptor:
        return -1, -1
    return exon_start, exon_end


def read_mapsy(path: str, limit: int | None = None, strict: bool = False) -> list[dict]:
    """Rows of the MaPSy table (``mapsy.txt``): the one parser of it.

    Each row has ``id``, ``chrom``, ``strand``, ``wt_sequence``, ``mut_sequence`` (upper case),
    ``variant_pos``, ``ref``, ``alt`` (:func:`diff_variant`), ``exon_start``, ``exon_end``
    (:func:`mapsy_exon_bounds`; -1 if not found), ``label`` (``ESM``), ``log2_vivo_ratio``,
    ``log2_vitro_ratio`` (``None`` where missing) and ``test`` (MMSplice's split flag as in the
    table, NaN without the column).

    Args:
        path: ``mapsy.txt`` (CSV).
        limit: read only the first ``limit`` rows.
        strict: for scoring: the table must have every column of :data:`MAPSY_COLUMNS`, and every
            row must be a single-nucleotide variant whose exon is found (errors name the row).
            Otherwise indels are kept and an exon not found gives -1.
    """
    import pandas as pd

    table = pd.read_csv(path, nrows=limit)
    needed = MAPSY_COLUMNS if strict else ("ID", "WT_SEQ", "MUT_SEQ", "ESM")
    missing = [column for column in needed if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing MaPSy column(s) {missing}")
    has_exons = {"acceptor", "donor", "Exon_Start", "Exon_End"} <= set(table.columns)
    rows = []
    for index, row in enumerate(table.to_dict("records")):
        name = row.get("ID", index)
        where = f"MaPSy row {index} ({name})"
        wt, mut = str(row["WT_SEQ"]).upper(), str(row["MUT_SEQ"]).upper()
        pos, ref, alt = diff_variant(wt, mut, name=f"{path}: {name}")
        if strict and len(wt) != len(mut):
            raise ValueError(f"{where}: WT and mutant lengths differ ({len(wt)} vs {len(mut)})")
        es = ee = -1
        if has_exons:
            exon_length = int(row["Exon_End"]) - int(row["Exon_Start"]) + 1
            donor, acceptor = str(row["donor"]).upper(), str(row["acceptor"]).upper()
            es, ee = mapsy_exon_bounds(wt, acceptor, donor, exon_length)
            if strict and es < 0:
                if donor not in wt:
                    raise ValueError(f"{where}: donor motif {row['donor']} not found in WT_SEQ")
                raise ValueError(
                    f"{where}: acceptor motif {acceptor} does not end at the exon start {wt.find(donor) - exon_length}"
                )
        rows.append(
            {
                "id": str(name),
                "chrom": str(row.get("chr", "")),
                "strand": str(row.get("strand", "")),
                "wt_sequence": wt,
                "mut_sequence": mut,
                "variant_pos": pos,
                "ref": ref,
                "alt": alt,
                "exon_start": es,
                "exon_end": ee,
                "label": int(row["ESM"]),
                "log2_vivo_ratio": _nullable_float(row.get("log2_vivo_ratio")),
                "log2_vitro_ratio": _nullable_float(row.get("log2_vitro_ratio")),
                "test": row.get("test", float("nan")),
            }
        )
    return rows


def _nullable_float(value) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _nullable_int(value, default: int = -1) -> int:
    value = _nullable_float(value)
    return default if value is None else int(value)


def variant_windows(
    fasta: FastaReader,
    chrom: str,
    pos: int,
    ref: str,
    alt: str,
    strand: str = "+",
    window: int = 510,
    center: str = "variant",
    exon_start: int | None = None,
    exon_end: int | None = None,
    name: str = "",
) -> dict:
    """WT/MUT windows of one variant (see the module docstring for the conventions).

    Args:
        pos: 1-based position of the first base of ``ref`` (VCF convention, ``+`` strand).
        exon_start / exon_end: 1-based inclusive exon bounds on the genome, or ``None``.

    Returns a dict with ``wt_sequence``, ``mut_sequence``, ``variant_pos``, ``ref``, ``alt``,
    ``exon_start``, ``exon_end`` (0-based half-open in ``wt_sequence``, -1 if unknown).
    """
    label = name or f"{chrom}:{pos} {ref}>{alt}"
    ref, alt = ref.upper(), alt.upper()
    if not ref or not set(ref + alt) <= set("ACGTN"):
        raise ValueError(f"Variant {label}: ref/alt must be A/C/G/T/N letters, got {ref!r}/{alt!r}")
    if strand not in ("+", "-"):
        raise ValueError(f"Variant {label}: strand must be '+' or '-', got {strand!r}")
    p0 = pos - 1
    try:
        found = fasta.fetch(chrom, p0, p0 + len(ref))
    except (KeyError, ValueError) as err:
        raise ValueError(f"Variant {label}: {err}") from None
    if found != ref:
        raise ValueError(
            f"Variant {label}: the FASTA {fasta.path} has {found!r} at {chrom}:{pos}, not the ref {ref!r} "
            "(wrong genome build, or 0-based positions?)"
        )
    has_exon = exon_start is not None and exon_end is not None
    if center == "exon":
        if not has_exon:
            raise ValueError(f"Variant {label}: center='exon' needs exon_start and exon_end")
        start = (exon_start - 1 + exon_end) // 2 - window // 2
    else:
        start = p0 - window // 2
    end = start + window
    if p0 < start or p0 + len(ref) > end:
        raise ValueError(
            f"Variant {label}: the ref allele does not fit in the {window}-nt window {chrom}:{start}-{end}"
        )
    left = fasta.fetch(chrom, start, p0, pad="N")
    right = fasta.fetch(chrom, p0 + len(ref), end, pad="N")
    wt, mut = left + ref + right, left + alt + right
    es, ee = (exon_start - 1 - start, exon_end - start) if has_exon else (-1, -1)
    variant_pos = len(left)
    if strand == "-":
        wt, mut = reverse_complement(wt), reverse_complement(mut)
        ref, alt = reverse_complement(ref), reverse_complement(alt)
        variant_pos = len(right)
        if has_exon:
            es, ee = window - ee, window - es
    return {
        "wt_sequence": wt,
        "mut_sequence": mut,
        "variant_pos": variant_pos,
        "ref": ref,
        "alt": alt,
        "exon_start": es,
        "exon_end": ee,
    }


def _read_variant_table(path: str):
    """A pandas DataFrame of a CSV/TSV table or a VCF (INFO keys as columns, multi-ALT split)."""
    import pandas as pd

    lower = path.lower()
    if lower.endswith((".vcf", ".vcf.gz")):
        opener = gzip.open if lower.endswith(".gz") else open
        rows, columns = [], None
        with opener(path, "rt") as handle:
            for lineno, line in enumerate(handle, 1):
                if line.startswith("##"):
                    continue
                cols = line.rstrip("\n").split("\t")
                if line.startswith("#"):
                    columns = [c.lstrip("#").lower() for c in cols]
                    continue
                if columns is None or len(cols) < 5:
                    raise ValueError(f"{path}:{lineno}: not a VCF data line (need a #CHROM header and 5+ columns)")
                record = dict(zip(columns, cols))
                info = record.pop("info", ".")
                for item in info.split(";"):
                    if item and item != ".":
                        key, _, value = item.partition("=")
                        record.setdefault(key.lower(), value if value else "1")
                if record.get("id") in (None, "."):
                    record["id"] = ""
                for alt in record["alt"].split(","):
                    rows.append({**record, "alt": alt})
        return pd.DataFrame(rows)
    sep = "," if lower.endswith((".csv", ".csv.gz")) else "\t" if lower.endswith((".tsv", ".tsv.gz", ".tab")) else None
    return pd.read_csv(path, sep=sep, engine="python" if sep is None else "c", dtype={"chrom": str})


def _column_map(columns, label_column: str | None, score_column: str | None, path: str) -> dict[str, str]:
    lookup = {str(c).lower(): c for c in columns}
    mapping = {}
    for field, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in lookup:
                mapping[field] = lookup[alias]
                break
    for field, override in (("label", label_column), ("score", score_column)):
        if override is not None:
            if override.lower() not in lookup:
                raise ValueError(f"{path}: no column {override!r} for {field} (columns: {list(columns)})")
            mapping[field] = lookup[override.lower()]
    missing = [f for f in ("chrom", "pos", "ref", "alt") if f not in mapping]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} (columns: {list(columns)})")
    return mapping


def _missing(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def read_vexseq_rows(paths: list[str], sdv_threshold: float) -> list[dict]:
    """Variant rows of a VexSeq table (no genome needed); ``paths[1]``, if given, holds test labels.

    Each row: ``id, chrom, pos, ref, alt, strand, exon_start, exon_end`` (1-based, inclusive),
    ``label`` (``delta_psi < sdv_threshold``, -1 if unknown) and ``extra`` (``delta_psi``, ``ref_psi``).
    """
    import pandas as pd

    table = pd.read_csv(paths[0])
    if len(paths) > 1:
        labels = pd.read_csv(paths[1], sep="\t")[["ID", "HepG2_delta_psi"]]
        table = table.merge(labels, on="ID", how="left", validate="one_to_one")
    rows = []
    for r in table.to_dict("records"):
        delta_psi = _nullable_float(r.get("HepG2_delta_psi"))
        rows.append(
            {
                "id": str(r["ID"]),
                "chrom": str(r["seqnames"]),
                "pos": int(r["hg19_variant_position"]),
                "ref": str(r["reference"]),
                "alt": str(r["variant"]),
                "strand": str(r["strand"]),
                "exon_start": int(r["start"]),
                "exon_end": int(r["end"]),
                "label": -1 if delta_psi is None else int(delta_psi < sdv_threshold),
                "extra": {"delta_psi": delta_psi, "ref_psi": _nullable_float(r.get("HepG2_ref_psi"))},
            }
        )
    return rows


def _table_rows(path: str, cfg: SpliceVariantsConfig) -> list[dict]:
    """Rows of a generic variant table or VCF (column names matched through ``_ALIASES``)."""
    table = _read_variant_table(path)
    columns = _column_map(table.columns, cfg.label_column, cfg.score_column, path)
    rows = []
    for r in table.to_dict("records"):
        value = {field: r.get(column) for field, column in columns.items()}
        name = value.get("id")
        if _missing(name):
            name = f"{value['chrom']}_{value['pos']}_{value['ref']}_{value['alt']}"
        exon_start, exon_end = _nullable_int(value.get("exon_start")), _nullable_int(value.get("exon_end"))
        rows.append(
            {
                "id": str(name),
                "chrom": str(value["chrom"]),
                "pos": int(value["pos"]),
                "ref": str(value["ref"]),
                "alt": str(value["alt"]),
                "strand": "+" if _missing(value.get("strand")) else str(value["strand"]),
                "exon_start": exon_start if exon_start >= 0 else None,
                "exon_end": exon_end if exon_end >= 0 else None,
                "label": _nullable_int(value.get("label")),
                "extra": {"score": _nullable_float(value.get("score"))},
            }
        )
    return rows


# ------------------------------------------------------------------------------------ builder
_COMMON = {
    "id": datasets.Value("string"),
    "chrom": datasets.Value("string"),
    "strand": datasets.Value("string"),
    "wt_sequence": datasets.Value("string"),
    "mut_sequence": datasets.Value("string"),
    "variant_pos": datasets.Value("int32"),
    "ref": datasets.Value("string"),
    "alt": datasets.Value("string"),
    "exon_start": datasets.Value("int32"),
    "exon_end": datasets.Value("int32"),
    "label": datasets.Value("int64"),
}


class SpliceVariantsBuilder(datasets.GeneratorBasedBuilder):
    """WT/MUT pairs of splicing variants (see the module docstring).

    Fields of every configuration: ``id``, ``chrom``, ``strand``, ``wt_sequence``,
    ``mut_sequence``, ``variant_pos``, ``ref``, ``alt``, ``exon_start``, ``exon_end``, ``label``
    (-1 = unknown). ``mapsy`` adds ``log2_vivo_ratio``/``log2_vitro_ratio``; ``genome`` adds
    ``pos`` (1-based) and ``score``; ``vexseq`` adds ``pos``, ``delta_psi`` and ``ref_psi``.
    """

    BUILDER_CONFIG_CLASS = SpliceVariantsConfig
    BUILDER_CONFIGS = [
        SpliceVariantsConfig(name="mapsy", description="MaPSy minigene WT/MUT pairs (sequences in the table)."),
        SpliceVariantsConfig(name="genome", description="Variant table or VCF + genome FASTA."),
        SpliceVariantsConfig(name="vexseq", description="VexSeq HepG2 dPSI tables + hg19 FASTA."),
    ]
    DEFAULT_CONFIG_NAME = "mapsy"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.config.__post_init__()  # `datasets` sets keyword overrides with setattr: validate them

    def _info(self) -> datasets.DatasetInfo:
        features = dict(_COMMON)
        if self.config.name == "mapsy":
            features["log2_vivo_ratio"] = datasets.Value("float64")
            features["log2_vitro_ratio"] = datasets.Value("float64")
        elif self.config.name == "genome":
            features["pos"] = datasets.Value("int64")
            features["score"] = datasets.Value("float64")
        else:
            features["pos"] = datasets.Value("int64")
            features["delta_psi"] = datasets.Value("float64")
            features["ref_psi"] = datasets.Value("float64")
        return datasets.DatasetInfo(description=_DESCRIPTION, features=datasets.Features(features))

    def _split_generators(self, dl_manager):
        cfg = self.config
        if cfg.name == "mapsy":
            table = cfg.table or (os.path.join(cfg.data_dir, "mapsy.txt") if cfg.data_dir else None)
            if table is None or not os.path.exists(table):
                raise FileNotFoundError(f"MaPSy table not found: {table} (pass table= or data_dir=)")
            return [datasets.SplitGenerator(datasets.Split.TRAIN, {"kind": "mapsy", "paths": [table]})]
        if cfg.fasta is None:
            raise ValueError(f"The {cfg.name!r} configuration needs fasta= (a genome FASTA)")
        if cfg.name == "genome":
            if cfg.table is None or not os.path.exists(cfg.table):
                raise FileNotFoundError(f"Variant table not found: {cfg.table} (pass table=)")
            return [datasets.SplitGenerator(datasets.Split.TRAIN, {"kind": "genome", "paths": [cfg.table]})]
        if cfg.data_dir is None:
            raise ValueError("The 'vexseq' configuration needs data_dir= (the folder of the VexSeq tables)")
        splits = []
        train = os.path.join(cfg.data_dir, _VEXSEQ_FILES["train"])
        test = os.path.join(cfg.data_dir, _VEXSEQ_FILES["test"])
        if os.path.exists(train):
            splits.append(datasets.SplitGenerator(datasets.Split.TRAIN, {"kind": "vexseq", "paths": [train]}))
        if os.path.exists(test):
            labels = os.path.join(cfg.data_dir, _VEXSEQ_FILES["test_labels"])
            paths = [test] + ([labels] if os.path.exists(labels) else [])
            splits.append(datasets.SplitGenerator(datasets.Split.TEST, {"kind": "vexseq", "paths": paths}))
        if not splits:
            raise FileNotFoundError(
                f"No VexSeq tables ({_VEXSEQ_FILES['train']}, {_VEXSEQ_FILES['test']}) in {cfg.data_dir}"
            )
        return splits

    def _generate_examples(self, kind: str, paths: list[str]) -> Iterator:
        if kind == "mapsy":
            yield from self._mapsy(paths[0])
        else:
            yield from self._genome(kind, paths)

    def _mapsy(self, path: str) -> Iterator:
        no_exon = skipped = 0
        idx = 0
        for row in read_mapsy(path):
            if self.config.snv_only and (len(row["ref"]) != 1 or len(row["alt"]) != 1):
                skipped += 1
                continue
            no_exon += row["exon_start"] < 0
            yield example_key(0, idx), {key: value for key, value in row.items() if key != "test"}
            idx += 1
        if no_exon:
            logger.warning("%s: exon bounds not found for %d row(s) (exon_start = exon_end = -1)", path, no_exon)
        if skipped:
            logger.warning("%s: dropped %d indel row(s) (snv_only=True)", path, skipped)

    def _rows(self, kind: str, paths: list[str]) -> list[dict]:
        """Rows ``{id, chrom, pos, ref, alt, strand, exon_start, exon_end, label, extra}``."""
        if kind == "vexseq":
            return read_vexseq_rows(paths, self.config.sdv_threshold)
        return _table_rows(paths[0], self.config)

    def _genome(self, kind: str, paths: list[str]) -> Iterator:
        cfg = self.config
        index_path = None
        if cfg.index_dir is not None:
            os.makedirs(cfg.index_dir, exist_ok=True)
            index_path = os.path.join(cfg.index_dir, os.path.basename(cfg.fasta) + ".fai")
        skipped = 0
        idx = 0
        with FastaReader(cfg.fasta, index_path=index_path) as fasta:
            for row in self._rows(kind, paths):
                if cfg.snv_only and (len(row["ref"]) != 1 or len(row["alt"]) != 1):
                    skipped += 1
                    continue
                windows = variant_windows(
                    fasta,
                    row["chrom"],
                    row["pos"],
                    row["ref"],
                    row["alt"],
                    row["strand"],
                    cfg.window,
                    cfg.center,
                    row["exon_start"],
                    row["exon_end"],
                    name=row["id"],
                )
                yield (
                    example_key(0, idx),
                    {
                        "id": row["id"],
                        "chrom": row["chrom"],
                        "strand": row["strand"],
                        "pos": row["pos"],
                        **windows,
                        "label": row["label"],
                        **row["extra"],
                    },
                )
                idx += 1
        if skipped:
            logger.warning("%s: dropped %d indel/MNV row(s) (snv_only=True)", paths[0], skipped)
