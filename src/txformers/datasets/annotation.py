# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Gene annotations for variant scoring: genes, strands and annotated splice sites, and contig-name matching.

:func:`read_annotation` reads

* a GTF or GFF3 (GENCODE, Ensembl, RefSeq; plain or gzipped) through :func:`txformers.datasets.genome.read_transcripts`,
  keeping the transcripts that ``transcripts`` selects:

  - ``"canonical"`` (default): per gene, the transcript tagged ``Ensembl_canonical``; failing that, the one
    tagged ``MANE_Select`` / ``MANE Select`` / ``RefSeq Select``; failing that, the longest transcript;
  - ``"mane"``: only ``MANE_Select`` transcripts (genes without one are left out; an error if the file has none);
  - ``"all"``: every transcript;

* or SpliceAI's annotation table (``#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END``, one transcript per
  row, 0-based starts, 1-based inclusive ends, comma-terminated exon lists), used as it is.

Each gene becomes a :class:`Gene`: its span is the union of its selected transcripts, and its annotated sites
the union of theirs, in SpliceAI's position convention: the **donor** is the last exon nucleotide and the
**acceptor** the first exon nucleotide (0-based genome positions, whatever the strand).

:class:`ContigMap` matches chromosome names between the VCF, the FASTA and the annotation (``chr1``/``1``,
``chrM``/``M``/``MT``) and reports the contigs that match nothing.

Example:

```python
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "genes.txt")
>>> _ = open(path, "w").write("#NAME\\tCHROM\\tSTRAND\\tTX_START\\tTX_END\\tEXON_START\\tEXON_END\\n"
...                           "G1\\tchr1\\t-\\t99\\t400\\t99,299,\\t150,400,\\n")
>>> annotation = read_annotation(path)
>>> gene = annotation.overlapping("chr1", 200)[0]
>>> gene.name, gene.strand, sorted(gene.donors), sorted(gene.acceptors)
('G1', '-', [299], [149])

```
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .genome import Transcript, open_text, read_transcripts

TRANSCRIPT_CHOICES = ("canonical", "mane", "all")
_CANONICAL_TAGS = {"ensembl_canonical"}
_MANE_TAGS = {"mane_select"}
_SELECT_TAGS = {"mane_select", "refseq_select"}


def contig_key(name: str) -> str:
    """The name shared by a contig's spellings: ``chr1``/``1``/``Chr1`` -> ``1``; ``chrM``/``M``/``MT`` -> ``MT``."""
    key = name[3:] if name[:3].lower() == "chr" else name
    return "MT" if key.upper() in ("M", "MT") else key


def _tag_key(tag: str) -> str:
    return re.sub(r"[\s-]+", "_", tag.strip()).lower()


@dataclass
class Gene:
    """A gene as the scorer sees it: span ``[start, end)`` (0-based), strand and annotated splice sites."""

    name: str
    gene_id: str
    chrom: str
    strand: str
    start: int
    end: int
    donors: set[int] = field(default_factory=set)
    acceptors: set[int] = field(default_factory=set)
    transcripts: list[str] = field(default_factory=list)

    def add_exons(self, exons: Iterable[tuple[int, int]]) -> None:
        """Add the sites of one transcript's exons (0-based, half-open, any order)."""
        exons = sorted(exons)
        first_ends = [end - 1 for _, end in exons[:-1]]  # last nucleotide of every exon but the genome-last
        last_starts = [start for start, _ in exons[1:]]  # first nucleotide of every exon but the genome-first
        if self.strand == "+":
            self.donors.update(first_ends)
            self.acceptors.update(last_starts)
        else:
            self.donors.update(last_starts)
            self.acceptors.update(first_ends)


class Annotation:
    """Genes by contig, with an interval lookup (:meth:`overlapping`)."""

    def __init__(self, genes: list[Gene], source: str = "", notes: list[str] | None = None):
        self.source = source
        self.notes = list(notes or [])
        self._by_chrom: dict[str, list[Gene]] = {}
        for gene in genes:
            self._by_chrom.setdefault(gene.chrom, []).append(gene)
        self._starts: dict[str, list[int]] = {}
        self._reach: dict[str, list[int]] = {}  # running maximum of the ends
        for chrom, items in self._by_chrom.items():
            items.sort(key=lambda g: (g.start, g.end, g.name))
            self._starts[chrom] = [g.start for g in items]
            reach, best = [], -1
            for gene in items:
                best = max(best, gene.end)
                reach.append(best)
            self._reach[chrom] = reach

    @property
    def chroms(self) -> list[str]:
        return list(self._by_chrom)

    @property
    def genes(self) -> list[Gene]:
        return [gene for items in self._by_chrom.values() for gene in items]

    def __len__(self) -> int:
        return sum(len(items) for items in self._by_chrom.values())

    def overlapping(self, chrom: str, position: int) -> list[Gene]:
        """Genes whose span holds the 0-based ``position`` on the annotation's contig ``chrom``, by start."""
        items = self._by_chrom.get(chrom)
        if not items:
            return []
        starts, reach = self._starts[chrom], self._reach[chrom]
        found = []
        index = bisect.bisect_right(starts, position) - 1
        while index >= 0 and reach[index] > position:
            if items[index].end > position:
                found.append(items[index])
            index -= 1
        return found[::-1]


def is_spliceai_table(path: str | os.PathLike) -> bool:
    """Whether ``path`` is SpliceAI's annotation table (header ``#NAME CHROM STRAND ...``, 7 columns)."""
    with open_text(path) as handle:
        for line in handle:
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if line.startswith("#"):
                if cols[0].lstrip("#").upper() == "NAME" and len(cols) == 7:
                    return True
                continue
            return len(cols) == 7 and cols[5].rstrip(",").replace(",", "").isdigit()
    return False


def read_spliceai_table(path: str | os.PathLike) -> Annotation:
    """SpliceAI's annotation table (see the module docstring), one :class:`Gene` per row."""
    genes = []
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, 1):
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            try:
                name, chrom, strand, tx_start, tx_end, exon_starts, exon_ends = cols
                starts = [int(x) for x in exon_starts.split(",") if x.strip()]
                ends = [int(x) for x in exon_ends.split(",") if x.strip()]
                tx_start, tx_end = int(tx_start), int(tx_end)
            except ValueError:
                raise ValueError(
                    f"{path}:{lineno}: not a SpliceAI annotation row "
                    "(NAME CHROM STRAND TX_START TX_END EXON_START EXON_END)"
                ) from None
            if strand not in ("+", "-") or len(starts) != len(ends) or tx_end <= tx_start:
                raise ValueError(f"{path}:{lineno}: bad strand, exon lists of different lengths, or an empty span")
            gene = Gene(name, name, chrom, strand, tx_start, tx_end, transcripts=[name])
            gene.add_exons(zip(starts, ends))  # starts 0-based, ends 1-based inclusive = half-open
            genes.append(gene)
    return Annotation(genes, source=os.fspath(path), notes=[f"SpliceAI table: {len(genes)} rows, used as given"])


def select_transcripts(transcripts: list[Transcript], rule: str) -> tuple[list[Transcript], list[str]]:
    """The transcripts ``rule`` keeps (see the module docstring), and notes on how they were chosen."""
    if rule not in TRANSCRIPT_CHOICES:
        raise ValueError(f"--transcripts must be one of {TRANSCRIPT_CHOICES}, got {rule!r}")
    if rule == "all":
        return transcripts, [f"all {len(transcripts)} transcripts"]
    by_gene: dict[str, list[Transcript]] = {}
    for tx in transcripts:
        by_gene.setdefault(tx.gene_id, []).append(tx)

    def tagged(items: list[Transcript], tags: set[str]) -> list[Transcript]:
        return [tx for tx in items if tags & {_tag_key(t) for t in tx.tags}]

    if rule == "mane":
        kept = tagged(transcripts, _MANE_TAGS)
        if not kept:
            raise ValueError("--transcripts mane: the annotation has no MANE_Select tags; use canonical or all")
        missing = len(by_gene) - len({tx.gene_id for tx in kept})
        return kept, [f"MANE_Select: {len(kept)} transcripts of {len(by_gene)} genes ({missing} genes have none)"]
    kept, counts = [], {"Ensembl_canonical": 0, "MANE/RefSeq Select": 0, "longest": 0}
    for items in by_gene.values():
        for label, tags in (("Ensembl_canonical", _CANONICAL_TAGS), ("MANE/RefSeq Select", _SELECT_TAGS)):
            chosen = tagged(items, tags)
            if chosen:
                kept.append(chosen[0])
                counts[label] += 1
                break
        else:
            kept.append(max(items, key=lambda tx: (sum(e - s for s, e in tx.exons), len(tx))))
            counts["longest"] += 1
    note = "canonical transcript per gene by " + ", ".join(f"{k}: {v}" for k, v in counts.items() if v)
    return kept, [note]


def read_annotation(path: str | os.PathLike, transcripts: str = "canonical", fmt: str | None = None) -> Annotation:
    """Genes of a GTF / GFF3 or of SpliceAI's annotation table (see the module docstring)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation not found: {path}")
    if fmt in (None, "spliceai") and is_spliceai_table(path):
        return read_spliceai_table(path)
    all_transcripts = read_transcripts(path, fmt=fmt)
    if not all_transcripts:
        raise ValueError(f"{path} holds no transcripts with exons")
    kept, notes = select_transcripts(all_transcripts, transcripts)
    genes: dict[tuple[str, str, str], Gene] = {}
    for tx in kept:
        key = (tx.gene_id, tx.chrom, tx.strand)
        gene = genes.get(key)
        if gene is None:
            gene = genes[key] = Gene(tx.gene_name or tx.gene_id, tx.gene_id, tx.chrom, tx.strand, tx.start, tx.end)
        gene.start, gene.end = min(gene.start, tx.start), max(gene.end, tx.end)
        gene.transcripts.append(tx.transcript_id)
        gene.add_exons(tx.exons)
    return Annotation(list(genes.values()), source=path, notes=notes)


class ContigMap:
    """Chromosome names matched across the VCF, the FASTA and the annotation.

    A VCF contig is matched to the FASTA (and annotation) contig of the same name, else to the one with the same
    :func:`contig_key` (``chr1``/``1``, ``chrM``/``MT``). :meth:`report` lists the contigs that match nothing.
    """

    def __init__(self, fasta_contigs: Iterable[str], annotation_contigs: Iterable[str]):
        self.fasta_contigs, self.annotation_contigs = list(fasta_contigs), list(annotation_contigs)
        self._fasta = {contig_key(c): c for c in reversed(self.fasta_contigs)}
        self._annotation = {contig_key(c): c for c in reversed(self.annotation_contigs)}
        self._fasta_exact, self._annotation_exact = set(self.fasta_contigs), set(self.annotation_contigs)
        self.seen: dict[str, tuple[str | None, str | None]] = {}

    def resolve(self, chrom: str) -> tuple[str | None, str | None]:
        """(FASTA name, annotation name) of a VCF contig; ``None`` where it matches nothing."""
        found = self.seen.get(chrom)
        if found is None:
            key = contig_key(chrom)
            fasta = chrom if chrom in self._fasta_exact else self._fasta.get(key)
            annotation = chrom if chrom in self._annotation_exact else self._annotation.get(key)
            found = self.seen[chrom] = (fasta, annotation)
        return found

    def report(self, vcf_contigs: Iterable[str] = ()) -> list[str]:
        """Lines naming the contigs that match nothing (VCF contigs given plus those seen in records)."""
        vcf = list(dict.fromkeys([*vcf_contigs, *self.seen]))
        lines = []
        no_fasta = [c for c in vcf if self.resolve(c)[0] is None]
        if no_fasta:
            lines.append(f"VCF contigs not in the FASTA: {_shown(no_fasta)}")
        no_annotation = [c for c in vcf if self.resolve(c)[0] is not None and self.resolve(c)[1] is None]
        if no_annotation:
            lines.append(f"VCF contigs with no annotated gene: {_shown(no_annotation)}")
        unmatched = [c for c in self.annotation_contigs if contig_key(c) not in self._fasta]
        if unmatched:
            lines.append(f"annotation contigs not in the FASTA: {_shown(unmatched)}")
        renamed = sorted({f"{c}->{f}" for c, (f, _) in self.seen.items() if f is not None and f != c})
        if renamed:
            lines.append(f"VCF contigs matched to FASTA names: {_shown(renamed)}")
        return lines


def _shown(names: list[str], limit: int = 10) -> str:
    return ", ".join(names[:limit]) + (f" ... ({len(names)} in all)" if len(names) > limit else "")


__all__ = [
    "TRANSCRIPT_CHOICES",
    "Annotation",
    "ContigMap",
    "Gene",
    "contig_key",
    "is_spliceai_table",
    "read_annotation",
    "read_spliceai_table",
    "select_transcripts",
]
