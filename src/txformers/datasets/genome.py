"""Shared genome helpers for the splicing dataset builders.

- :class:`FastaReader`: random access to a (plain or bgzip-compressed) genome FASTA through its
  ``.fai`` index (``pysam.FastaFile``), so a builder reads one region at a time and never holds a genome in
  memory. An index older than its FASTA, or disagreeing with it, is rebuilt or refused
  (:func:`check_fasta_index`), never used silently.
- :func:`reverse_complement`.
- :func:`read_transcripts`: transcript spans (and exons) from a GTF or GFF3 annotation, plain or
  gzip-compressed.

Coordinates are 0-based, half-open (``[start, end)``, BED-like) everywhere in this module.

Example:
    >>> import tempfile, os
    >>> from txformers.datasets.genome import FastaReader, reverse_complement
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "g.fa"), "w") as f:
    ...     _ = f.write(">chr1\\nACGTACGTAA\\nCCGG\\n")
    >>> with FastaReader(os.path.join(d, "g.fa")) as fa:
    ...     fa.fetch("chr1", 2, 12), fa.fetch("chr1", 0, 3, strand="-"), fa.fetch("chr1", -2, 3, pad="N")
    ('GTACGTAACC', 'CGT', 'NNACG')
    >>> reverse_complement("AACGTN")
    'NACGTT'
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

try:  # datasets >= 4 keys examples by (shard, index)
    from datasets.builder import Key as _Key
except ImportError:  # pragma: no cover
    _Key = None


def example_key(shard: int, idx: int):
    """Key of an example yielded by a builder's ``_generate_examples``."""
    return _Key(shard, idx) if _Key is not None else f"{shard}_{idx}"


_COMPLEMENT = str.maketrans("ACGTUNacgtunRYKMSWBDHVrykmswbdhv", "TGCAANtgcaanYRMKSWVHDByrmkswvhdb")


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA/RNA sequence (IUPAC codes kept, ``U`` becomes ``A``, case kept).

    >>> reverse_complement("GATTACA")
    'TGTAATC'
    """
    return seq.translate(_COMPLEMENT)[::-1]


def open_text(path: str | os.PathLike) -> io.TextIOBase:
    """Open a text file, transparently decompressing ``.gz`` (gzip or bgzip)."""
    path = os.fspath(path)
    if path.endswith((".gz", ".bgz")):
        return gzip.open(path, "rt")
    return open(path)


def _chrom_aliases(chrom: str) -> list[str]:
    """Candidate spellings of a chromosome name (``chr1`` <-> ``1``, ``chrM`` <-> ``MT``)."""
    names = [chrom]
    if chrom.startswith("chr"):
        names.append(chrom[3:])
    else:
        names.append("chr" + chrom)
    if chrom in ("chrM", "M", "chrMT"):
        names.append("MT")
    if chrom in ("MT", "M"):
        names.append("chrM")
    return names


class FastaIndexError(ValueError):
    """A FASTA's ``.fai`` (or ``.gzi``) index is stale or disagrees with the FASTA and cannot be rebuilt."""


def _is_bgzf(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(18)
    if head[:2] != b"\x1f\x8b":
        return False
    return len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC"  # bgzip's extra field


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def check_fasta_index(fasta: str | os.PathLike, fai: str | os.PathLike, gzi: str | os.PathLike | None = None) -> str:
    """Why the ``.fai`` (and ``.gzi``) of ``fasta`` cannot be trusted, or ``""`` when it can.

    An index is refused when it is older than the FASTA, is not five tab-separated integers per line, or (plain
    FASTA) disagrees with the file: a record's bytes run past the end of the file, the header line before a
    record's offset does not name that record, or its first line is not ``linebases`` letters long. A bgzipped
    FASTA is checked by age and layout only (its offsets are into the uncompressed stream).
    """
    fasta, fai = os.fspath(fasta), os.fspath(fai)
    indexes = [fai] + ([os.fspath(gzi)] if gzi is not None else [])
    for index in indexes:
        if os.path.getmtime(index) < os.path.getmtime(fasta):
            return f"{index} is older than {fasta}"
    entries = []
    with open(fai, "rb") as handle:
        for lineno, line in enumerate(handle, 1):
            cols = line.rstrip(b"\r\n").split(b"\t")
            try:
                name = cols[0].decode()
                length, offset, linebases, linewidth = (int(c) for c in cols[1:5])
            except (ValueError, IndexError, UnicodeDecodeError):
                return f"{fai}:{lineno} is not a FASTA index line (name, length, offset, linebases, linewidth)"
            if length < 0 or offset < 0 or (length and (linebases < 1 or linewidth < linebases)):
                return f"{fai}:{lineno} has impossible values for {name}"
            entries.append((name, length, offset, linebases, linewidth))
    if gzi is not None:
        return ""
    size = os.path.getsize(fasta)
    with open(fasta, "rb") as handle:
        for name, length, offset, linebases, linewidth in entries:
            full, rest = divmod(length, linebases) if length else (0, 0)
            end = offset + full * linewidth + rest
            if end > size:
                return f"{fai}: {name} ends at byte {end}, past the end of {fasta} ({size} bytes)"
            lookback = min(offset, len(name) + 4096)
            handle.seek(offset - lookback)
            before = handle.read(lookback)
            header_start = before.rfind(b"\n", 0, max(len(before) - 1, 0)) + 1
            header = before[header_start:].rstrip(b"\r\n")
            if not (before.endswith(b"\n") and header[:1] == b">" and header[1:].split()[:1] == [name.encode()]):
                return f"{fai}: the line before {name}'s offset {offset} in {fasta} is not its header '>{name}'"
            if length:
                first = handle.read(min(linewidth, length + linewidth - linebases))
                letters = first[:linebases] if length >= linebases else first[:length]
                if b"\n" in letters or b">" in letters:
                    return f"{fai}: {name}'s first line in {fasta} is shorter than the index says ({linebases})"
    return ""


def _build_fasta_index(fasta: str, fai: str, gzi: str | None) -> None:
    """Build ``fai`` (and ``gzi``) with samtools faidx (through pysam), atomically."""
    import pysam

    folder = os.path.dirname(os.path.abspath(fai))
    tmp_fai = os.path.join(folder, f".{os.path.basename(fai)}.partial-{os.getpid()}")
    tmp_gzi = None if gzi is None else os.path.join(folder, f".{os.path.basename(gzi)}.partial-{os.getpid()}")
    args = [fasta, "--fai-idx", tmp_fai] + ([] if tmp_gzi is None else ["--gzi-idx", tmp_gzi])
    try:
        pysam.faidx(*args)
        if tmp_gzi is not None:
            os.replace(tmp_gzi, gzi)
        os.replace(tmp_fai, fai)
    except pysam.SamtoolsError as err:
        raise ValueError(f"Cannot index the FASTA {fasta}: {str(err).strip()}") from None
    finally:
        for tmp in (tmp_fai, tmp_gzi):
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)


class FastaReader:
    """Indexed random access to a genome FASTA (one region read at a time, via ``pysam.FastaFile``).

    The ``.fai`` index (and ``.gzi`` for a bgzipped FASTA) is built on first use next to the FASTA, or at
    ``index_path`` when the FASTA folder is read-only. An existing index is checked first
    (:func:`check_fasta_index`): one older than the FASTA or disagreeing with it is rebuilt, with a warning,
    when ``rebuild_index`` and its folder is writable, and refused with :class:`FastaIndexError` otherwise; it
    is never used silently. bgzip-compressed FASTA (``.fa.gz``) is read directly; plain gzip is refused up front
    (it cannot be read at random: decompress it or recompress it with ``bgzip``).

    Args:
        path: FASTA file.
        index_path: where to read/write the ``.fai`` index (default ``path + ".fai"``; the ``.gzi`` of a
            bgzipped FASTA goes beside it).
        uppercase: return upper-case sequence (soft-masked repeats become plain letters).
        resolve_chrom_names: accept ``1`` for ``chr1`` (and the reverse, and ``MT``/``chrM``)
            when the exact name is not in the FASTA.
        rebuild_index: rebuild a stale or inconsistent index (``False``: refuse it).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "g.fa")
        >>> _ = open(p, "w").write(">1\\nacgtNNACGT\\n")
        >>> fa = FastaReader(p)
        >>> fa.fetch("chr1", 0, 4), fa.chrom_length("1")
        ('ACGT', 10)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        index_path: str | os.PathLike | None = None,
        uppercase: bool = True,
        resolve_chrom_names: bool = True,
        rebuild_index: bool = True,
    ):
        import pysam

        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"Genome FASTA not found: {self.path}")
        compressed = _is_gzip(self.path)
        if compressed and not _is_bgzf(self.path):
            raise ValueError(
                f"{self.path} is gzip-compressed but not with bgzip, so it cannot be read at random: "
                "decompress it or recompress it with `bgzip`."
            )
        self.index_path = os.fspath(index_path) if index_path is not None else self.path + ".fai"
        self.gzi_path = None
        if compressed:
            base = self.index_path[:-4] if self.index_path.endswith(".fai") else self.index_path
            self.gzi_path = base + ".gzi" if index_path is not None else self.path + ".gzi"
        indexes = [self.index_path] + ([self.gzi_path] if self.gzi_path else [])
        present = [os.path.exists(index) for index in indexes]
        problem = ""
        if all(present):
            problem = check_fasta_index(self.path, self.index_path, self.gzi_path)
        elif any(present):
            problem = f"{self.gzi_path} is missing beside {self.index_path}"
        if problem or not all(present):
            folder = os.path.dirname(os.path.abspath(self.index_path))
            if problem and not rebuild_index:
                raise FastaIndexError(f"FASTA index not trusted: {problem}; rebuild it with `samtools faidx`")
            if not os.access(folder, os.W_OK):
                why = f"its index is not trusted ({problem})" if problem else "it has no index"
                raise FastaIndexError(
                    f"{self.path}: {why} and {folder} is not writable: run `samtools faidx` on it, "
                    "or give an index path in a writable folder"
                )
            if problem:
                logger.warning("Rebuilding the FASTA index: %s", problem)
            _build_fasta_index(self.path, self.index_path, self.gzi_path)
        try:
            self._fasta = pysam.FastaFile(
                self.path, filepath_index=self.index_path, filepath_index_compressed=self.gzi_path
            )
        except (OSError, ValueError) as err:
            raise ValueError(f"Cannot read the FASTA {self.path}: {err}") from err
        self._lengths = dict(zip(self._fasta.references, self._fasta.lengths))
        self.uppercase = uppercase
        self.resolve_chrom_names = resolve_chrom_names

    def __enter__(self) -> FastaReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._fasta.close()

    def __getstate__(self) -> dict:  # for worker processes: reopen rather than pickle the handle
        state = dict(self.__dict__)
        state.pop("_fasta", None)
        return state

    def __setstate__(self, state: dict) -> None:
        import pysam

        self.__dict__.update(state)
        self._fasta = pysam.FastaFile(
            self.path, filepath_index=self.index_path, filepath_index_compressed=self.gzi_path
        )

    @property
    def chroms(self) -> list[str]:
        """Sequence names in the FASTA, in file order."""
        return list(self._lengths)

    def resolve(self, chrom: str) -> str:
        """The FASTA's name for ``chrom`` (see ``resolve_chrom_names``); a clear error if absent."""
        if chrom in self._lengths:
            return chrom
        if self.resolve_chrom_names:
            for alias in _chrom_aliases(chrom):
                if alias in self._lengths:
                    return alias
        shown = ", ".join(self.chroms[:10]) + (" ..." if len(self.chroms) > 10 else "")
        raise KeyError(f"Chromosome {chrom!r} is not in the FASTA {self.path} (it has: {shown})")

    def __contains__(self, chrom: str) -> bool:
        try:
            self.resolve(chrom)
        except KeyError:
            return False
        return True

    def chrom_length(self, chrom: str) -> int:
        return self._lengths[self.resolve(chrom)]

    def fetch(self, chrom: str, start: int, end: int, strand: str = "+", pad: str | None = None) -> str:
        """Sequence of ``chrom[start:end]`` (0-based, half-open), reverse-complemented on ``-``.

        Args:
            pad: ``None`` raises an error when the region runs past a chromosome end; a character
                (e.g. ``"N"``) pads the missing part instead, so the result always has
                ``end - start`` letters.
        """
        name = self.resolve(chrom)
        length = self._lengths[name]
        if end < start:
            raise ValueError(f"Bad region {chrom}:{start}-{end}: end < start")
        if strand not in ("+", "-"):
            raise ValueError(f"Bad strand {strand!r} for region {chrom}:{start}-{end} (expected '+' or '-')")
        lo, hi = max(start, 0), min(end, length)
        if (lo != start or hi != end) and pad is None:
            raise ValueError(
                f"Region {chrom}:{start}-{end} runs past the ends of {name} (length {length}); pass pad='N' to pad it"
            )
        seq = self._fasta.fetch(name, lo, hi) if hi > lo else ""
        if self.uppercase:
            seq = seq.upper()
        if pad is not None:
            seq = pad * (lo - start) + seq + pad * (end - hi)
            if hi <= lo:  # region entirely outside the chromosome
                seq = pad * (end - start)
        return reverse_complement(seq) if strand == "-" else seq


# --------------------------------------------------------------------------------------------
# GTF / GFF3
# --------------------------------------------------------------------------------------------

_GTF_ATTR = re.compile(r'\s*([^\s;]+)\s+(?:"([^"]*)"|([^;]*?))\s*(?:;|$)')
_BIOTYPE_KEYS = ("transcript_type", "transcript_biotype", "biotype", "gene_type", "gene_biotype")
_GTF_TAG = re.compile(r'(?:^|;)\s*tag\s+"([^"]*)"')


@dataclass
class Transcript:
    """A transcript span from an annotation (0-based, half-open genome coordinates)."""

    transcript_id: str
    gene_id: str
    chrom: str
    start: int
    end: int
    strand: str
    biotype: str = ""
    exons: list[tuple[int, int]] = field(default_factory=list)
    gene_name: str = ""
    tags: tuple[str, ...] = ()
    """``tag`` values (GENCODE/Ensembl ``Ensembl_canonical``, ``MANE_Select``; RefSeq ``MANE Select``)."""

    def __len__(self) -> int:
        return self.end - self.start


def _parse_gtf_attributes(text: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for match in _GTF_ATTR.finditer(text):
        key, quoted, bare = match.groups()
        attrs.setdefault(key, quoted if quoted is not None else bare)
    return attrs


def _parse_gff3_attributes(text: str) -> dict[str, str]:
    from urllib.parse import unquote

    attrs: dict[str, str] = {}
    for part in text.strip().strip(";").split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            attrs[key.strip()] = unquote(value.strip())
    return attrs


def _strip_prefix(identifier: str) -> str:
    """``transcript:ENST0001`` -> ``ENST0001`` (Ensembl GFF3 style)."""
    return identifier.split(":", 1)[1] if ":" in identifier else identifier


def detect_annotation_format(path: str | os.PathLike) -> str:
    """``"gtf"`` or ``"gff3"``, from the file name, else from the first feature line."""
    name = os.fspath(path).lower()
    for suffix in (".gz", ".bgz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith(".gtf"):
        return "gtf"
    if name.endswith((".gff3", ".gff")):
        return "gff3"
    with open_text(path) as handle:
        for line in handle:
            if line.startswith("##gff-version 3"):
                return "gff3"
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) == 9:
                return "gff3" if re.match(r"^\s*[^\s=;]+=", cols[8]) else "gtf"
            break
    raise ValueError(f"Cannot tell whether {path} is GTF or GFF3 (name it .gtf or .gff3)")


def read_transcripts(
    path: str | os.PathLike,
    fmt: str | None = None,
    biotypes: Sequence[str] | None = None,
    chroms: Iterable[str] | None = None,
) -> list[Transcript]:
    """Transcripts of a GTF or GFF3 annotation, with their exons, in file order.

    A transcript is a ``transcript`` row (GTF) or any feature that is the ``Parent`` of an exon
    (GFF3: ``mRNA``, ``transcript``, ``lnc_RNA`` ...); its span is that row, or the union of its
    exons when the annotation has exon rows only. Ensembl-style ``transcript:``/``gene:`` prefixes
    are stripped from GFF3 identifiers.

    Args:
        fmt: ``"gtf"`` or ``"gff3"`` (default: detected, see :func:`detect_annotation_format`).
        biotypes: keep only transcripts whose ``transcript_type``/``transcript_biotype``/``biotype``
            (or, failing those, ``gene_type``/``gene_biotype``) is one of these.
        chroms: keep only transcripts on these chromosomes.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.gtf")
        >>> _ = open(p, "w").write(
        ...     'chr1\\tx\\ttranscript\\t11\\t30\\t.\\t-\\t.\\tgene_id "G1"; transcript_id "T1";\\n'
        ...     'chr1\\tx\\texon\\t11\\t15\\t.\\t-\\t.\\tgene_id "G1"; transcript_id "T1";\\n')
        >>> t = read_transcripts(p)[0]
        >>> t.transcript_id, t.gene_id, t.start, t.end, t.strand, t.exons
        ('T1', 'G1', 10, 30, '-', [(10, 15)])
    """
    fmt = (fmt or detect_annotation_format(path)).lower()
    if fmt not in ("gtf", "gff3", "gff"):
        raise ValueError(f"Unknown annotation format {fmt!r} (expected 'gtf' or 'gff3')")
    is_gtf = fmt == "gtf"
    keep_chroms = set(chroms) if chroms is not None else None

    spans: dict[str, Transcript] = {}  # transcript rows
    exons: dict[str, list[tuple[str, int, int, str, dict[str, str]]]] = {}
    genes: dict[str, str] = {}  # GFF3 gene ID -> its gene_id attribute (or the ID)
    gene_names: dict[str, str] = {}  # GFF3 gene ID -> its name
    order: list[str] = []

    with open_text(path) as handle:
        for lineno, line in enumerate(handle, 1):
            if line.startswith("#") or not line.strip():
                if line.startswith("##FASTA"):
                    break
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 9:
                raise ValueError(f"{path}:{lineno}: expected 9 tab-separated columns, found {len(cols)}")
            chrom, _, feature, start, end, _, strand, _, attr_text = cols
            if keep_chroms is not None and chrom not in keep_chroms:
                continue
            try:
                start0, end0 = int(start) - 1, int(end)
            except ValueError:
                raise ValueError(f"{path}:{lineno}: start/end are not integers ({start!r}, {end!r})") from None
            attrs = _parse_gtf_attributes(attr_text) if is_gtf else _parse_gff3_attributes(attr_text)
            if is_gtf and "tag" in attrs:
                attrs["tag"] = ",".join(_GTF_TAG.findall(attr_text))

            if is_gtf:
                tid = attrs.get("transcript_id")
                if feature == "transcript" and tid:
                    spans[tid] = _new_transcript(tid, attrs.get("gene_id", ""), chrom, start0, end0, strand, attrs)
                    order.append(tid)
                elif feature == "exon" and tid:
                    exons.setdefault(tid, []).append((chrom, start0, end0, strand, attrs))
                    if tid not in spans:
                        order.append(tid)
            else:
                if "ID" in attrs and "Parent" not in attrs:  # gene-like feature
                    genes[attrs["ID"]] = _strip_prefix(attrs.get("gene_id", attrs["ID"]))
                    gene_names[attrs["ID"]] = attrs.get("gene_name", attrs.get("Name", attrs.get("gene", "")))
                if feature == "exon":
                    for parent in attrs.get("Parent", "").split(","):
                        if parent:
                            exons.setdefault(parent, []).append((chrom, start0, end0, strand, attrs))
                            order.append(parent)
                elif "ID" in attrs and "Parent" in attrs:  # transcript-like feature (or CDS/UTR ...)
                    tid = attrs["ID"]
                    parent = attrs["Parent"].split(",")[0]
                    spans[tid] = _new_transcript(
                        _strip_prefix(attrs.get("transcript_id", tid)), parent, chrom, start0, end0, strand, attrs
                    )
                    order.append(tid)

    transcripts: list[Transcript] = []
    seen: set[str] = set()
    for key in order:
        if key in seen:
            continue
        seen.add(key)
        tx_exons = exons.get(key, [])
        if not is_gtf and not tx_exons:
            continue  # GFF3 features that are not exon parents (genes, CDS ...)
        if key in spans:
            tx = spans[key]
        else:  # exon rows only: the span is the exons' union
            chrom, _, _, strand, attrs = tx_exons[0]
            gid = attrs.get("gene_id", "") if is_gtf else attrs.get("Parent", "")
            tx = _new_transcript(
                key if is_gtf else _strip_prefix(key),
                gid,
                chrom,
                min(e[1] for e in tx_exons),
                max(e[2] for e in tx_exons),
                strand,
                attrs,
            )
        if not is_gtf:
            tx.gene_name = tx.gene_name or gene_names.get(tx.gene_id, "")
            tx.gene_id = genes.get(tx.gene_id, _strip_prefix(tx.gene_id))
        tx.exons = sorted((s, e) for _, s, e, _, _ in tx_exons)
        if tx.strand not in ("+", "-"):
            logger.warning("Skipping transcript %s: strand %r is not '+' or '-'", tx.transcript_id, tx.strand)
            continue
        if biotypes is not None and tx.biotype not in biotypes:
            continue
        transcripts.append(tx)
    return transcripts


def _new_transcript(tid, gid, chrom, start, end, strand, attrs) -> Transcript:
    biotype = next((attrs[k] for k in _BIOTYPE_KEYS if k in attrs), "")
    tags = tuple(tag.strip() for tag in attrs.get("tag", "").split(",") if tag.strip())
    gene_name = attrs.get("gene_name", attrs.get("gene", ""))
    return Transcript(tid, gid, chrom, start, end, strand, biotype, gene_name=gene_name, tags=tags)


def iter_fasta_records(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """``(header, sequence)`` pairs of a small FASTA-like text file (multi-line records allowed).

    The header is the text after ``>``, stripped. Lines before the first header are an error.
    """
    header: str | None = None
    chunks: list[str] = []
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                if header is not None:
                    yield header, "".join(chunks)
                header, chunks = line[1:].strip(), []
            elif header is None:
                raise ValueError(f"{path}:{lineno}: sequence line before the first '>' header")
            else:
                chunks.append(line)
    if header is not None:
        yield header, "".join(chunks)
