"""Branchpoint windows with per-nucleotide labels (Mercer et al. 2015, SpliceBERT layout).

Input: a BED6 file (optionally gzipped) of 27-nt regions 18-44 nt upstream of 3' splice sites,
whose 5th column holds comma-separated per-nt labels (1 = branchpoint, 0 = not, -100 = ignore)
in genome (+ strand, left to right) order, plus the genome FASTA (hg19 for
``mercer_dataset.hg19.bed.gz``).

Output: ``window``-nt sequences (510 by default) in transcript orientation, with the region at
0-based ``region_start = (window - 27) // 2`` (241: 241 nt upstream, 27, 242 downstream) and
``labels`` aligned nucleotide by nucleotide (-100 outside the region). On ``-`` the sequence is
reverse-complemented and the labels reversed, as in SpliceBERT's ``bp_dataset.py``. Regions
shorter than 27 nt (3 rows of the Mercer file, cut by a short intron) are extended on their
upstream side with -100 labels. Like SpliceBERT, only regions with at least one positive are kept
(``keep_all=True`` keeps every region). Windows running past a chromosome end are padded with N.
The chromosome is kept (``chrom``) for grouped (by-chromosome) cross-validation, and
``validation_chroms`` / ``test_chroms`` cut such splits directly.

Example:
    >>> import tempfile, os
    >>> from txformers.datasets.branchpoints import BranchpointsBuilder
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "g.fa"), "w").write(">chr1\\n" + "ACGT" * 50 + "\\n")
    >>> labels = ",".join(["0"] * 10 + ["1"] + ["0"] * 16)
    >>> _ = open(os.path.join(d, "bp.bed"), "w").write(f"chr1\\t100\\t127\\tT1|bp|A\\t{labels}\\t+\\n")
    >>> b = BranchpointsBuilder(bed=os.path.join(d, "bp.bed"), fasta=os.path.join(d, "g.fa"), window=51,
    ...                         cache_dir=os.path.join(d, "c"))
    >>> b.download_and_prepare()
    >>> row = b.as_dataset(split="train")[0]
    >>> len(row["sequence"]), row["region_start"], row["labels"].index(1), row["start"], row["end"]
    (51, 12, 22, 88, 139)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import datasets

from .genome import FastaReader, example_key, open_text

logger = logging.getLogger(__name__)

_DESCRIPTION = (
    "Branchpoint regions (Mercer et al. 2015) as 510-nt windows with per-nucleotide labels "
    "(1 branchpoint, 0 not, -100 ignore), strand-aware."
)
IGNORE_INDEX = -100


@dataclass
class BranchpointsConfig(datasets.BuilderConfig):
    """Configuration of :class:`BranchpointsBuilder`.

    Args:
        bed: the labelled BED (default ``data_dir/mercer_dataset.hg19.bed.gz``).
        fasta: genome FASTA matching the BED's build.
        window: output length (510 as SpliceBERT).
        region_length: length of the labelled regions (27).
        keep_all: keep regions without a positive label (SpliceBERT drops them).
        validation_chroms / test_chroms: chromosomes forming ``validation`` / ``test`` splits
            (default: everything in ``train``; group by ``chrom`` for cross-validation).
        index_dir: folder for the FASTA ``.fai`` index when the FASTA folder is read-only.
    """

    bed: str | None = None
    fasta: str | None = None
    window: int = 510
    region_length: int = 27
    keep_all: bool = False
    validation_chroms: list[str] | None = None
    test_chroms: list[str] | None = None
    index_dir: str | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.window < self.region_length:
            raise ValueError(f"window ({self.window}) must be >= region_length ({self.region_length})")
        overlap = set(self.validation_chroms or []) & set(self.test_chroms or [])
        if overlap:
            raise ValueError(f"Chromosomes both in validation_chroms and test_chroms: {sorted(overlap)}")


def read_branchpoint_bed(path: str, region_length: int = 27, keep_all: bool = False) -> Iterator[dict]:
    """Regions of a labelled branchpoint BED, padded to ``region_length`` on the upstream side.

    Yields ``{"chrom", "start", "end", "name", "strand", "labels", "line"}`` with 0-based
    half-open coordinates and labels in genome order (``line`` is the 1-based line number).
    Regions without a positive label are skipped unless ``keep_all``; the count is logged.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.bed")
    >>> _ = open(p, "w").write("chr1\\t10\\t13\\tn\\t0,1,0\\t-\\n")
    >>> r = next(read_branchpoint_bed(p, region_length=5))
    >>> r["start"], r["end"], r["labels"]
    (10, 15, [0, 1, 0, -100, -100])
    """
    skipped = 0
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 6:
                raise ValueError(f"{path}:{lineno}: expected 6 BED columns (labels in column 5), found {len(cols)}")
            chrom, start, end, name, label_text, strand = cols[:6]
            try:
                start, end = int(start), int(end)
                labels = [int(x) for x in label_text.split(",")]
            except ValueError:
                raise ValueError(
                    f"{path}:{lineno}: bad coordinates or labels ({cols[1]!r}, {cols[2]!r}, {label_text[:40]!r})"
                ) from None
            if len(labels) != end - start:
                raise ValueError(
                    f"{path}:{lineno}: {len(labels)} labels for a {end - start}-nt region {chrom}:{start}-{end}"
                )
            if strand not in ("+", "-"):
                raise ValueError(f"{path}:{lineno}: strand must be '+' or '-', got {strand!r}")
            bad = set(labels) - {0, 1, IGNORE_INDEX}
            if bad:
                raise ValueError(f"{path}:{lineno}: labels must be 0, 1 or -100, found {sorted(bad)}")
            if end - start > region_length:
                raise ValueError(
                    f"{path}:{lineno}: region {chrom}:{start}-{end} is longer than region_length={region_length}"
                )
            if not keep_all and 1 not in labels:
                skipped += 1
                continue
            pad = region_length - (end - start)
            if pad:  # truncated region: extend its upstream side (left on +, right on -)
                if strand == "+":
                    start, labels = start - pad, [IGNORE_INDEX] * pad + labels
                else:
                    end, labels = end + pad, labels + [IGNORE_INDEX] * pad
            yield {
                "chrom": chrom,
                "start": start,
                "end": end,
                "name": name,
                "strand": strand,
                "labels": labels,
                "line": lineno,
            }
    if skipped:
        logger.info("%s: skipped %d region(s) without a positive label (keep_all=False)", path, skipped)


class BranchpointsBuilder(datasets.GeneratorBasedBuilder):
    """Branchpoint windows with per-nt labels (see the module docstring).

    Fields: ``id`` (``chrom:start-end(strand)`` of the region), ``name`` (BED name), ``chrom``,
    ``strand``, ``start``/``end`` (0-based half-open genome span of the window), ``sequence``
    (transcript orientation), ``labels`` (one per nt: 1, 0 or -100) and ``region_start``
    (0-based position of the labelled region in ``sequence``).
    """

    # A single configuration built from keyword arguments (no BUILDER_CONFIGS): the config
    # dataclass then validates them, and ``None`` can override a default.
    BUILDER_CONFIG_CLASS = BranchpointsConfig

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=datasets.Features(
                {
                    "id": datasets.Value("string"),
                    "name": datasets.Value("string"),
                    "chrom": datasets.Value("string"),
                    "strand": datasets.Value("string"),
                    "start": datasets.Value("int64"),
                    "end": datasets.Value("int64"),
                    "sequence": datasets.Value("string"),
                    "labels": datasets.Sequence(datasets.Value("int8")),
                    "region_start": datasets.Value("int32"),
                }
            ),
            homepage="https://github.com/chenkenbio/SpliceBERT",
        )

    def _split_generators(self, dl_manager):
        cfg = self.config
        bed = cfg.bed or (os.path.join(cfg.data_dir, "mercer_dataset.hg19.bed.gz") if cfg.data_dir else None)
        if bed is None or not os.path.exists(bed):
            raise FileNotFoundError(f"Branchpoint BED not found: {bed} (pass bed= or data_dir=)")
        if cfg.fasta is None:
            raise ValueError("BranchpointsBuilder needs fasta= (the genome FASTA of the BED's build, e.g. hg19)")
        splits = [datasets.SplitGenerator(datasets.Split.TRAIN, {"bed": bed, "split": "train"})]
        if cfg.validation_chroms:
            splits.append(datasets.SplitGenerator(datasets.Split.VALIDATION, {"bed": bed, "split": "validation"}))
        if cfg.test_chroms:
            splits.append(datasets.SplitGenerator(datasets.Split.TEST, {"bed": bed, "split": "test"}))
        return splits

    def _generate_examples(self, bed: str, split: str) -> Iterator:
        cfg = self.config
        val, test = set(cfg.validation_chroms or []), set(cfg.test_chroms or [])
        index_path = None
        if cfg.index_dir is not None:
            os.makedirs(cfg.index_dir, exist_ok=True)
            index_path = os.path.join(cfg.index_dir, os.path.basename(cfg.fasta) + ".fai")
        up = (cfg.window - cfg.region_length) // 2  # nt before the region, transcript orientation
        down = cfg.window - cfg.region_length - up
        idx = 0
        with FastaReader(cfg.fasta, index_path=index_path) as fasta:
            for region in read_branchpoint_bed(bed, cfg.region_length, cfg.keep_all):
                chrom = region["chrom"]
                region_split = "validation" if chrom in val else "test" if chrom in test else "train"
                if region_split != split:
                    continue
                if region["strand"] == "+":
                    start, end = region["start"] - up, region["end"] + down
                    labels = [IGNORE_INDEX] * up + region["labels"] + [IGNORE_INDEX] * down
                else:
                    start, end = region["start"] - down, region["end"] + up
                    labels = ([IGNORE_INDEX] * down + region["labels"] + [IGNORE_INDEX] * up)[::-1]
                try:
                    seq = fasta.fetch(chrom, start, end, strand=region["strand"], pad="N")
                except KeyError as err:
                    raise KeyError(f"{bed}:{region['line']}: {err.args[0]}") from None
                yield (
                    example_key(0, idx),
                    {
                        "id": f"{chrom}:{region['start']}-{region['end']}({region['strand']})",
                        "name": region["name"],
                        "chrom": chrom,
                        "strand": region["strand"],
                        "start": start,
                        "end": end,
                        "sequence": seq,
                        "labels": labels,
                        "region_start": up,
                    },
                )
                idx += 1
