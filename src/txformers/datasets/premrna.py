"""Pre-mRNA fragments for masked-language-model pretraining (SpliceBERT-style).

Primary transcripts (transcript start to end, introns included) are read from a genome FASTA,
one region at a time through its index, using a GTF or GFF3 annotation. Minus-strand regions are
reverse-complemented, so every sequence reads 5' -> 3' on the transcript. Each region is then cut
into consecutive fragments: random lengths in ``[min_len, max_len]`` (SpliceBERT stage 2,
64-1024 nt) or a fixed length (stage 1, 510 nt).

Example:
    >>> import tempfile, os
    >>> from txformers.datasets.premrna import PreMrnaBuilder
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "g.fa"), "w").write(">chr1\\n" + "ACGT" * 50 + "\\n")
    >>> _ = open(os.path.join(d, "a.gtf"), "w").write(
    ...     'chr1\\tx\\ttranscript\\t1\\t200\\t.\\t+\\t.\\tgene_id "G1"; transcript_id "T1";\\n')
    >>> b = PreMrnaBuilder(fasta=os.path.join(d, "g.fa"), annotation=os.path.join(d, "a.gtf"),
    ...                    chunking="fixed", fixed_len=100, cache_dir=os.path.join(d, "cache"))
    >>> b.download_and_prepare()
    >>> ds = b.as_dataset(split="train")
    >>> ds.num_rows, ds[1]["start"], ds[1]["end"], ds[1]["sequence"][:8]
    (2, 100, 200, 'ACGTACGT')
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import datasets

from .genome import FastaReader, Transcript, example_key, read_transcripts

logger = logging.getLogger(__name__)

_DESCRIPTION = (
    "Pre-mRNA (primary transcript) fragments from a genome FASTA and a GTF/GFF3 annotation, "
    "strand-aware, cut into random-length (64-1024 nt) or fixed-length (510 nt) pieces."
)

_UNITS = ("gene", "transcript", "longest_transcript")
_CHUNKINGS = ("random", "fixed", "none")


@dataclass
class PreMrnaConfig(datasets.BuilderConfig):
    """Configuration of :class:`PreMrnaBuilder`.

    Args:
        fasta: genome FASTA (plain or bgzip), or a list of them paired with ``annotation``.
        annotation: GTF or GFF3 (optionally gzipped), or a list paired with ``fasta``.
        annotation_format: ``"gtf"`` / ``"gff3"``; default: detected from the file.
        unit: ``"gene"`` (default: one region per gene, the union span of its transcripts, so
            overlapping transcripts are not read twice), ``"transcript"`` (one per transcript)
            or ``"longest_transcript"`` (the longest transcript of each gene).
        chunking: ``"random"`` (lengths drawn uniformly in ``[min_len, max_len]``), ``"fixed"``
            (windows of ``fixed_len`` every ``stride`` nt) or ``"none"`` (whole regions).
        min_len / max_len: fragment length bounds; fragments shorter than ``min_len`` (region
            tails, short transcripts) are dropped. Set ``min_len = fixed_len`` to keep only
            full-length fixed windows.
        fixed_len / stride: fixed window length and step (default step: ``fixed_len``).
        seed: seed of the random lengths (drawn per region, so results do not depend on order).
        biotypes: keep only transcripts of these biotypes (e.g. ``["protein_coding", "lncRNA"]``).
        max_n_fraction: drop fragments with a larger fraction of ``N`` (assembly gaps).
        validation_chroms: chromosomes whose fragments form a ``validation`` split (held out
            by chromosome); default: a single ``train`` split.
        index_dir: folder for the ``.fai`` index when the FASTA folder is read-only.
    """

    fasta: str | list[str] | None = None
    annotation: str | list[str] | None = None
    annotation_format: str | None = None
    unit: str = "gene"
    chunking: str = "random"
    min_len: int = 64
    max_len: int = 1024
    fixed_len: int = 510
    stride: int | None = None
    seed: int = 42
    biotypes: list[str] | None = None
    max_n_fraction: float = 0.1
    validation_chroms: list[str] | None = None
    index_dir: str | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.unit not in _UNITS:
            raise ValueError(f"unit must be one of {_UNITS}, got {self.unit!r}")
        if self.chunking not in _CHUNKINGS:
            raise ValueError(f"chunking must be one of {_CHUNKINGS}, got {self.chunking!r}")
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"Need 1 <= min_len <= max_len, got min_len={self.min_len}, max_len={self.max_len}")
        if self.fixed_len < 1 or (self.stride is not None and self.stride < 1):
            raise ValueError(f"fixed_len and stride must be positive, got {self.fixed_len}, {self.stride}")


def fragment_bounds(
    length: int,
    chunking: str = "random",
    min_len: int = 64,
    max_len: int = 1024,
    fixed_len: int = 510,
    stride: int | None = None,
    rng: random.Random | None = None,
) -> list[tuple[int, int]]:
    """Offsets ``[a, b)`` of the fragments of a region of ``length`` nt (see :class:`PreMrnaConfig`).

    >>> fragment_bounds(1100, "fixed", min_len=64, fixed_len=510)
    [(0, 510), (510, 1020), (1020, 1100)]
    >>> all(64 <= b - a <= 1024 for a, b in fragment_bounds(10_000, rng=random.Random(0)))
    True
    """
    if chunking == "none":
        return [(0, length)] if length >= min_len else []
    bounds = []
    a = 0
    if chunking == "fixed":
        step = stride or fixed_len
        while a < length:
            b = min(a + fixed_len, length)
            if b - a >= min_len:
                bounds.append((a, b))
            if b == length:
                break
            a += step
        return bounds
    rng = rng or random.Random(0)
    while a < length:
        b = min(a + rng.randint(min_len, max_len), length)
        if b - a >= min_len:
            bounds.append((a, b))
        a = b
    return bounds


def _as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _units(transcripts: Sequence[Transcript], unit: str) -> list[Transcript]:
    """Regions to read: transcripts, or per gene (union span / longest transcript)."""
    if unit == "transcript":
        return list(transcripts)
    groups: dict[tuple[str, str, str], list[Transcript]] = {}
    for tx in transcripts:  # a gene on two chromosomes (PAR) or strands gives two groups
        groups.setdefault((tx.gene_id or tx.transcript_id, tx.chrom, tx.strand), []).append(tx)
    units = []
    for (gene_id, chrom, strand), txs in groups.items():
        if unit == "longest_transcript":
            best = max(txs, key=lambda t: (len(t), t.transcript_id))
            units.append(best)
        else:
            units.append(
                Transcript(
                    transcript_id=";".join(sorted(t.transcript_id for t in txs)),
                    gene_id=gene_id,
                    chrom=chrom,
                    start=min(t.start for t in txs),
                    end=max(t.end for t in txs),
                    strand=strand,
                )
            )
    return units


class PreMrnaBuilder(datasets.GeneratorBasedBuilder):
    """Pre-mRNA fragments from a genome FASTA + GTF/GFF3 (see the module docstring).

    Fields: ``sequence`` (upper case, transcript orientation), ``transcript_id`` (for
    ``unit="gene"``: the gene's transcript ids joined by ``;``), ``gene_id``, ``chrom``,
    ``strand`` and ``start``/``end`` of the fragment (0-based, half-open genome coordinates, so
    ``end - start == len(sequence)``; on ``-`` the sequence is the reverse complement of
    ``chrom[start:end]``).
    """

    # A single configuration built from keyword arguments (no BUILDER_CONFIGS): the config
    # dataclass then validates them, and ``None`` can override a default.
    BUILDER_CONFIG_CLASS = PreMrnaConfig

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=datasets.Features(
                {
                    "sequence": datasets.Value("string"),
                    "transcript_id": datasets.Value("string"),
                    "gene_id": datasets.Value("string"),
                    "chrom": datasets.Value("string"),
                    "strand": datasets.Value("string"),
                    "start": datasets.Value("int64"),
                    "end": datasets.Value("int64"),
                }
            ),
            homepage="https://github.com/chenkenbio/SpliceBERT",
        )

    def _split_generators(self, dl_manager):
        fastas, annotations = _as_list(self.config.fasta), _as_list(self.config.annotation)
        if not fastas or not annotations:
            raise ValueError("PreMrnaBuilder needs `fasta=` (genome FASTA) and `annotation=` (GTF/GFF3)")
        if len(fastas) != len(annotations):
            raise ValueError(
                f"`fasta` and `annotation` must pair up: got {len(fastas)} FASTA and {len(annotations)} annotations"
            )
        pairs = list(zip(fastas, annotations))
        splits = [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"pairs": pairs, "split": "train"})]
        if self.config.validation_chroms:
            splits.append(
                datasets.SplitGenerator(
                    name=datasets.Split.VALIDATION, gen_kwargs={"pairs": pairs, "split": "validation"}
                )
            )
        return splits

    def _generate_examples(self, pairs: list[tuple[str, str]], split: str) -> Iterator:
        cfg = self.config
        held_out = set(cfg.validation_chroms or [])
        idx = 0
        for shard, (fasta_path, annotation_path) in enumerate(pairs):
            index_path = None
            if cfg.index_dir is not None:
                os.makedirs(cfg.index_dir, exist_ok=True)
                index_path = os.path.join(cfg.index_dir, f"{shard}_{os.path.basename(fasta_path)}.fai")
            transcripts = read_transcripts(annotation_path, fmt=cfg.annotation_format, biotypes=cfg.biotypes)
            missing, n_dropped = set(), 0
            with FastaReader(fasta_path, index_path=index_path) as fasta:
                for region in _units(transcripts, cfg.unit):
                    if (region.chrom in held_out) != (split == "validation"):
                        continue
                    if region.chrom not in fasta:
                        missing.add(region.chrom)
                        continue
                    seq = fasta.fetch(region.chrom, region.start, region.end, strand=region.strand)
                    rng = random.Random(f"{cfg.seed}:{region.chrom}:{region.start}:{region.transcript_id}")
                    bounds = fragment_bounds(
                        len(seq), cfg.chunking, cfg.min_len, cfg.max_len, cfg.fixed_len, cfg.stride, rng
                    )
                    for a, b in bounds:
                        fragment = seq[a:b]
                        if fragment.count("N") > cfg.max_n_fraction * len(fragment):
                            n_dropped += 1
                            continue
                        if region.strand == "+":
                            start, end = region.start + a, region.start + b
                        else:
                            start, end = region.end - b, region.end - a
                        yield (
                            example_key(shard, idx),
                            {
                                "sequence": fragment,
                                "transcript_id": region.transcript_id,
                                "gene_id": region.gene_id,
                                "chrom": region.chrom,
                                "strand": region.strand,
                                "start": start,
                                "end": end,
                            },
                        )
                        idx += 1
            if missing:
                logger.warning(
                    "%s: skipped transcripts on %d chromosome(s) absent from %s: %s",
                    annotation_path,
                    len(missing),
                    fasta_path,
                    ", ".join(sorted(missing)[:10]),
                )
            if n_dropped:
                logger.warning(
                    "%s: dropped %d fragment(s) with more than %.0f%% N",
                    fasta_path,
                    n_dropped,
                    100 * cfg.max_n_fraction,
                )
