# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Annotate a VCF with splice-site delta scores, as labs run SpliceAI: ``txformers splice vcf``.

For every ALT allele of a record and every annotated gene whose span holds POS, a per-nucleotide splice-site
model (``SpliceBertForTokenClassification``, labels ``none``/``acceptor``/``donor`` in ``config.id2label``)
reads the reference and the alternative sequence around the variant in the gene's orientation. The acceptor
and donor probabilities within ``±D`` nt of POS give SpliceAI's four delta scores and their positions:
``INFO/SpliceBERT=ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL`` (DP relative to POS, plus
strand; donor = last exon nucleotide, acceptor = first exon nucleotide, as in SpliceAI).

Indels are aligned as SpliceAI aligns them: the ALT track of a deletion gets zeros at the deleted positions;
for an insertion the inserted positions are replaced by their maximum. MNPs and complex substitutions follow
the same rules on their length difference. ``mask`` works like SpliceAI's ``-M 1``: gains at annotated sites
and losses at unannotated positions are set to 0. With ``kl_context`` the masked LM's zero-shot KL-context
score (SpliceBERT) of each SNV goes into ``INFO/SpliceBERT_KL=ALLELE|SYMBOL|KL_CONTEXT``.

Nothing is lost: records are handled as text lines, so every input line comes out, in order and byte for byte,
with only INFO extended (pysam's ``VariantFile`` re-encodes records through htslib: it rewrites ``AF=0.10`` as
``AF=0.1`` and drops a line it cannot parse). A record that cannot be scored gets ``SpliceBERT_SKIP=<reason>``
(:data:`SKIP_REASONS`); a line without 8 columns passes through unchanged and is counted as ``malformed``.
The header is parsed by ``pysam.VariantFile`` first (a broken header is an error before any work).
"""

from __future__ import annotations

import gzip
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...datasets.annotation import Annotation, ContigMap, Gene
from ...datasets.genome import FastaReader, reverse_complement

SKIP_REASONS = (
    "ref_mismatch",
    "unknown_contig",
    "outside_genes",
    "symbolic_allele",
    "indel_too_long",
    "n_rich",
    "malformed",
    "non_finite_score",
)
FIELDS = "ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL"
TSV_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "symbol", "strand"] + FIELDS.split("|")[2:] + ["kl_context", "skip"]
_BAD_INFO = str.maketrans({c: "_" for c in ",|;= \t"})


@dataclass
class VcfOptions:
    """How ``txformers splice vcf`` scores (defaults as on the command line)."""

    distance: int = 50
    """D: deltas are read within ±D nt of POS (SpliceAI's -D)."""
    mask: bool = False
    """SpliceAI's -M 1: zero gains at annotated sites and losses at unannotated positions."""
    max_indel: int = 50
    """Longest |len(ALT) - len(REF)| scored; REF longer than 2D is skipped too (as SpliceAI does)."""
    context: int | None = 150
    """Nucleotides of context on each side beyond ±D (capped by the model's window; ``None``: fill the window).
    150 gives 401-nt inputs at D = 50: every scored position sees >= 150 nt on each side, at a quarter of the
    cost of filling a 1,024-nt window (attention is quadratic)."""
    max_n_fraction: float = 0.1
    """A record whose ±D reference span is more than this fraction N (or past a contig end) is ``n_rich``."""
    batch_size: int = 16
    """Sequences per forward pass (16 x 401 nt keeps the attention buffers small; peak memory stays flat)."""
    kl_context: bool = False
    """Add ``SpliceBERT_KL`` (masked-LM KL-context) for SNVs."""
    kl_distance: int = 100


@dataclass
class _Job:
    """One ALT allele x one gene of one record."""

    record: int
    allele: str
    gene: Gene
    ref_key: str
    alt_key: str
    alt_len: int
    snv: bool
    scores: tuple | None = None
    kl: float | None = None


@dataclass
class _Record:
    line: str
    cols: list[str] | None
    skip: str | None = None
    jobs: list[_Job] = field(default_factory=list)


def is_symbolic(allele: str) -> bool:
    return allele in ("*", ".", "-", "") or allele.startswith("<") or "[" in allele or "]" in allele


def align_alt_track(y_alt: np.ndarray, ref_len: int, alt_len: int, distance: int) -> np.ndarray:
    """The ALT track ``(2D+1+alt_len-ref_len, k)`` aligned to the REF track ``(2D+1, k)``, as SpliceAI does.

    Deletion: zeros are inserted after the ALT bases at the deleted positions. Insertion: the inserted
    positions (after the first ``ref_len - 1`` bases) are replaced by their maximum.

    ```python
    >>> y = np.arange(7, dtype=float)[:, None]  # D = 2: a 2-nt insertion (ref_len 1, alt_len 3)
    >>> align_alt_track(y, 1, 3, 2)[:, 0].tolist()
    [0.0, 1.0, 4.0, 5.0, 6.0]
    >>> align_alt_track(np.arange(3, dtype=float)[:, None], 3, 1, 2)[:, 0].tolist()  # a 2-nt deletion
    [0.0, 1.0, 2.0, 0.0, 0.0]

    ```
    """
    centre = distance
    if alt_len < ref_len:
        gap = np.zeros((ref_len - alt_len,) + y_alt.shape[1:], dtype=y_alt.dtype)
        return np.concatenate([y_alt[: centre + alt_len], gap, y_alt[centre + alt_len :]])
    if alt_len > ref_len:
        keep = centre + ref_len - 1
        inserted = y_alt[keep : centre + alt_len].max(axis=0, keepdims=True)
        return np.concatenate([y_alt[:keep], inserted, y_alt[centre + alt_len :]])
    return y_alt


def delta_scores(
    y_ref: np.ndarray, y_alt: np.ndarray, pos0: int, gene: Gene | None = None, mask: bool = False
) -> tuple[float, float, float, float, int, int, int, int]:
    """``(DS_AG, DS_AL, DS_DG, DS_DL, DP_AG, DP_AL, DP_DG, DP_DL)`` of aligned ``(2D+1, 2)`` tracks
    (columns acceptor, donor; plus-strand order; the variant at the centre, 0-based genome position ``pos0``)."""
    distance = (len(y_ref) - 1) // 2
    diff = y_alt - y_ref
    out_ds, out_dp = [], []
    for column, sites in ((0, gene.acceptors if gene else set()), (1, gene.donors if gene else set())):
        for sign in (1, -1):  # gain, loss
            index = int(np.argmax(sign * diff[:, column]))
            score = float(sign * diff[index, column])
            offset = index - distance
            if mask and ((sign == 1) == (pos0 + offset in sites)):
                score = 0.0
            out_ds.append(max(score, 0.0))
            out_dp.append(offset)
    return (*out_ds, *out_dp)


class VcfAnnotator:
    """Scores batches of VCF lines (see the module docstring).

    Args:
        model: per-nucleotide splice-site model; ``config.id2label`` names ``acceptor`` and ``donor``.
        tokenizer: the single-nucleotide tokenizer.
        fasta: the reference genome.
        annotation: the genes (:func:`txformers.datasets.annotation.read_annotation`).
        options: :class:`VcfOptions`.
        mlm: the masked LM for ``options.kl_context``.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        fasta: FastaReader,
        annotation: Annotation,
        options: VcfOptions | None = None,
        mlm: Any = None,
        device: Any = None,
    ):
        from ...models.splicebert.scoring_splicebert import model_window

        self.model, self.tokenizer, self.fasta, self.annotation = model, tokenizer, fasta, annotation
        self.options = options or VcfOptions()
        self.mlm, self.device = mlm, device
        labels = {str(v).lower(): int(k) for k, v in (getattr(model.config, "id2label", None) or {}).items()}
        if "acceptor" not in labels or "donor" not in labels:
            raise ValueError(
                f"the model's labels are {sorted(labels)}: a per-nucleotide splice-site model needs 'acceptor' and "
                "'donor' in config.id2label (a SpliceBertForTokenClassification with labels none/acceptor/donor)"
            )
        self.label_ids = [labels["acceptor"], labels["donor"]]
        o = self.options
        if o.distance < 1 or o.max_indel < 0:
            raise ValueError(f"distance must be >= 1 and max_indel >= 0, got {o.distance}, {o.max_indel}")
        window = model_window(model, tokenizer)
        room = (window - (2 * o.distance + 1) - o.max_indel) // 2
        self.context = max(room, 0) if o.context is None else max(0, min(o.context, room))
        # a model trained on short windows (config.window_size) reads them: overlapping windows, each position
        # taken from the window where it is most central, and context of half a window beyond +-D
        self.window = getattr(model.config, "window_size", None)
        if self.window:
            self.window = int(min(self.window, window))
            self.context = min(self.context, self.window // 2)
        if o.kl_context:
            self.context = max(self.context, o.kl_distance - o.distance)
        self.contigs = ContigMap(fasta.chroms, annotation.chroms)

    # ------------------------------------------------------------------ planning
    def _plan(self, line: str, index: int, sequences: dict[str, None]) -> _Record:
        o = self.options
        cols = line.rstrip("\n").split("\t")
        record = _Record(line, cols if len(cols) >= 8 else None)
        if record.cols is None:
            record.skip = "malformed"
            return record
        chrom, pos, _, ref, alts = cols[:5]
        ref = ref.upper()
        if not pos.isdigit() or int(pos) < 1 or not ref or set(ref) - set("ACGTN"):
            record.skip = "malformed"
            return record
        pos0 = int(pos) - 1
        fasta_chrom, annotation_chrom = self.contigs.resolve(chrom)
        if fasta_chrom is None:
            record.skip = "unknown_contig"
            return record
        length = self.fasta.chrom_length(fasta_chrom)
        if pos0 + len(ref) > length or self.fasta.fetch(fasta_chrom, pos0, pos0 + len(ref)) != ref:
            record.skip = "ref_mismatch"
            return record
        genes = self.annotation.overlapping(annotation_chrom, pos0) if annotation_chrom else []
        if not genes:
            record.skip = "outside_genes"
            return record
        flank = o.distance + self.context
        start = pos0 - flank
        seq = self.fasta.fetch(fasta_chrom, start, pos0 + len(ref) + flank, pad="N")
        span = seq[flank - o.distance : flank + len(ref) + o.distance]
        if span.count("N") > o.max_n_fraction * len(span):
            record.skip = "n_rich"
            return record
        reasons = []
        for allele in alts.split(","):
            if is_symbolic(allele):
                reasons.append("symbolic_allele")
                continue
            alt = allele.upper()
            if set(alt) - set("ACGTN"):
                reasons.append("malformed")
                continue
            if abs(len(alt) - len(ref)) > o.max_indel or len(ref) > 2 * o.distance:
                reasons.append("indel_too_long")
                continue
            alt_seq = seq[:flank] + alt + seq[flank + len(ref) :]
            for gene in genes:
                keys = []
                for text in (seq, alt_seq):
                    key = text if gene.strand == "+" else reverse_complement(text)
                    sequences[key] = None
                    keys.append(key)
                snv = len(ref) == 1 and len(alt) == 1
                record.jobs.append(_Job(index, allele, gene, keys[0], keys[1], len(alt), snv))
        if not record.jobs:
            record.skip = reasons[0]
        return record

    # ------------------------------------------------------------------ scoring
    def _tracks(self, sequences: list[str]) -> dict[str, np.ndarray]:
        import torch

        from ...models.splicebert.scoring_splicebert import per_nucleotide_outputs

        ids = self.label_ids
        outputs = per_nucleotide_outputs(
            self.model,
            self.tokenizer,
            sequences,
            batch_size=self.options.batch_size,
            window_size=self.window,
            stride=max(1, self.window // 8) if self.window else None,
            select=lambda out: torch.softmax(out.logits.float(), dim=-1)[..., ids],
            device=self.device,
        )
        return dict(zip(sequences, outputs))

    def _kl(self, jobs: list[_Job]) -> None:
        from ...models.splicebert.scoring_splicebert import kl_context_score, kl_profile, nucleotide_probabilities

        snvs = [job for job in jobs if job.snv]
        keys = list(dict.fromkeys([k for job in snvs for k in (job.ref_key, job.alt_key)]))
        if not keys:
            return
        probs = dict(
            zip(keys, nucleotide_probabilities(self.mlm, self.tokenizer, keys, self.options.batch_size, self.device))
        )
        centre = self.options.distance + self.context
        for job in snvs:
            kl = kl_profile(probs[job.ref_key], probs[job.alt_key])
            at = centre if job.gene.strand == "+" else len(kl) - 1 - centre
            job.kl = kl_context_score(kl, at, self.options.kl_distance)

    def _skip_non_finite(self, records: list[_Record], tracks: dict[str, np.ndarray]) -> None:
        """Skip (``non_finite_score``) each record with a NaN/inf track; when every track is such, the model is at
        fault: a ``UserError`` naming it, before anything is written (issue 17 item 11)."""
        bad = {key for key, track in tracks.items() if not np.isfinite(track).all()}
        if not bad:
            return
        if len(bad) == len(tracks):
            from ...io import UserError

            name = getattr(self.model, "name_or_path", None) or "the model"
            raise UserError(
                f"all {len(tracks)} splice-site probability tracks of this batch from {name} are NaN or infinite; "
                "nothing was written (corrupt weights, or inputs the model cannot handle)"
            )
        for record in records:
            if not record.skip and any(key in bad for job in record.jobs for key in (job.ref_key, job.alt_key)):
                record.skip = "non_finite_score"

    def annotate(self, lines: Sequence[str]) -> list[tuple[str, str | None, list[list[Any]]]]:
        """``(output line, skip reason or None, TSV rows)`` for each input line, in order."""
        o = self.options
        sequences: dict[str, None] = {}
        records = [self._plan(line, i, sequences) for i, line in enumerate(lines)]
        jobs = [job for record in records for job in record.jobs]
        tracks = self._tracks(list(sequences)) if sequences else {}
        self._skip_non_finite(records, tracks)
        if o.kl_context and self.mlm is not None:
            self._kl(jobs)
        lo = self.context
        results = []
        for record in records:
            if record.cols is None:
                results.append((record.line, "malformed", []))
                continue
            cols = list(record.cols)
            chrom, pos, vid, ref = cols[0], int(cols[1]) if cols[1].isdigit() else cols[1], cols[2], cols[3]
            info, rows = [], []
            if record.skip:
                info.append(f"SpliceBERT_SKIP={record.skip}")
                rows.append([chrom, pos, vid, ref, cols[4], "", ""] + [""] * 8 + ["", record.skip])
            else:
                entries, kl_entries = [], []
                for job in record.jobs:
                    y_ref, y_alt = tracks[job.ref_key], tracks[job.alt_key]
                    if job.gene.strand == "-":
                        y_ref, y_alt = y_ref[::-1], y_alt[::-1]
                    d = o.distance
                    y_ref = y_ref[lo : lo + 2 * d + 1]
                    y_alt = align_alt_track(
                        y_alt[lo : lo + 2 * d + 1 + job.alt_len - len(ref)], len(ref), job.alt_len, d
                    )
                    scores = delta_scores(y_ref, y_alt, int(pos) - 1, job.gene, o.mask)
                    symbol = job.gene.name.translate(_BAD_INFO)
                    ds = "|".join(f"{s:.2f}" for s in scores[:4])
                    dp = "|".join(str(p) for p in scores[4:])
                    entries.append(f"{job.allele}|{symbol}|{ds}|{dp}")
                    kl = "" if job.kl is None else f"{job.kl:.4g}"
                    if job.kl is not None:
                        kl_entries.append(f"{job.allele}|{symbol}|{kl}")
                    rows.append([chrom, pos, vid, ref, job.allele, job.gene.name, job.gene.strand])
                    rows[-1] += [f"{s:.4f}" for s in scores[:4]] + list(scores[4:]) + [kl, ""]
                info.append("SpliceBERT=" + ",".join(entries))
                if kl_entries:
                    info.append("SpliceBERT_KL=" + ",".join(kl_entries))
            cols[7] = ";".join(info) if cols[7] in (".", "") else cols[7] + ";" + ";".join(info)
            results.append(("\t".join(cols) + "\n", record.skip, rows))
        _release_memory()
        return results

    def header_lines(self, model_name: str) -> list[str]:
        o = self.options
        masked = "masked (gains at annotated sites and losses at unannotated ones set to 0)" if o.mask else "raw"
        lines = [
            f'##INFO=<ID=SpliceBERT,Number=.,Type=String,Description="txformers splice-site delta scores from '
            f"{model_name}, {masked}, within +-{o.distance} nt of POS. Format: {FIELDS}. One entry per ALT allele "
            "and overlapping gene. DS_AG/DS_AL/DS_DG/DS_DL: acceptor gain/loss, donor gain/loss (delta probability, "
            "0-1); DP_*: position of that change relative to POS in bases (plus strand). Donor = last exon "
            'nucleotide, acceptor = first exon nucleotide (SpliceAI convention)">',
            '##INFO=<ID=SpliceBERT_SKIP,Number=1,Type=String,Description="Why txformers did not score this record: '
            + ", ".join(SKIP_REASONS)
            + '">',
        ]
        if o.kl_context:
            lines.append(
                '##INFO=<ID=SpliceBERT_KL,Number=.,Type=String,Description="SpliceBERT masked-LM KL-context of SNVs '
                f"(sum over d=1..{o.kl_distance} of log(max(mean(KL[pos-d],KL[pos+d]),1e-6)), gene orientation; "
                'higher = more disruptive). Format: ALLELE|SYMBOL|KL_CONTEXT">'
            )
        return lines


@dataclass
class AnnotatorFactory:
    """Builds a :class:`VcfAnnotator` from paths (picklable: each worker process calls it once)."""

    model: str
    fasta: str
    annotation: Annotation
    options: VcfOptions
    mlm: str | None = None
    device: str | None = None

    def __call__(self) -> VcfAnnotator:
        from transformers import AutoModelForMaskedLM, AutoModelForTokenClassification

        from ...tokenizers import NucleotideTokenizer

        model = AutoModelForTokenClassification.from_pretrained(self.model).to(self.device or "cpu").eval()
        mlm = None
        if self.options.kl_context and self.mlm:
            mlm = AutoModelForMaskedLM.from_pretrained(self.mlm).to(self.device or "cpu").eval()
        return VcfAnnotator(
            model, NucleotideTokenizer(), FastaReader(self.fasta), self.annotation, self.options, mlm, self.device
        )


def _release_memory() -> None:
    """Hand freed heap back to the system after a batch (glibc): without it the resident size of a long run
    crept up by ~15 MB per 256 records, from fragmentation by batches of varying shapes."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


# ---------------------------------------------------------------------------------------------- reading
def open_vcf_text(path: str) -> Any:
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if compressed else open(path)


def read_header(path: str) -> tuple[list[str], list[str]]:
    """(header lines with their newlines, contig names). pysam parses the header: a broken one is an error."""
    import pysam

    try:
        with pysam.VariantFile(path) as vcf:
            contigs = list(vcf.header.contigs)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable VCF ({err})") from None
    lines = []
    with open_vcf_text(path) as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            lines.append(line if line.endswith("\n") else line + "\n")
    if not lines or not lines[-1].startswith("#CHROM"):
        raise ValueError(f"{path}: the header has no #CHROM line")
    return lines, contigs


def iter_records(path: str, regions: Sequence[str] | None = None) -> Iterator[str]:
    """Record lines of a VCF, in file order (or region by region through its tabix index)."""
    if regions:
        import pysam

        try:
            tabix = pysam.TabixFile(path)
        except OSError as err:
            raise ValueError(f"--regions needs a bgzipped, tabix-indexed VCF ({path}.tbi): {err}") from None
        with tabix:
            for region in regions:
                try:
                    fetched = list(tabix.fetch(region=region)) if region else []
                except ValueError:
                    fetched = []  # a contig the index lacks holds no records
                for line in fetched:
                    yield line + "\n"
        return
    with open_vcf_text(path) as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            yield line if line.endswith("\n") else line + "\n"


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)``, 1 <= K <= N."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be K/N (e.g. 3/10), got {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def shard_bounds(total: int, k: int, n: int) -> tuple[int, int]:
    """Record indices ``[first, last)`` of shard ``k`` of ``n`` (contiguous, so the parts concatenate)."""
    return (k - 1) * total // n, k * total // n


# ---------------------------------------------------------------------------------------------- workers
_WORKER: dict[str, Any] = {}


def _init_worker(factory: Any, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER["annotator"] = factory()


def _work(lines: list[str]) -> list[tuple[str, str | None, list[list[Any]]]]:
    return _WORKER["annotator"].annotate(lines)


def _batches(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def annotate_vcf(
    source: str,
    output: str,
    factory: Any,
    *,
    tsv: str | None = None,
    regions: Sequence[str] | None = None,
    shard: tuple[int, int] | None = None,
    workers: int = 1,
    records_per_batch: int = 256,
    model_name: str = "",
    command: str = "",
    progress: bool = True,
) -> dict[str, Any]:
    """Annotate ``source`` into ``output`` (``.gz``: bgzip + tabix index) and optionally a TSV; a summary.

    ``factory()`` returns a :class:`VcfAnnotator` (called once here, and once in each worker process).
    Outputs are written to temporary files beside them and moved into place at the end.
    """
    import pysam
    from tqdm.auto import tqdm

    from ...io import atomic_path

    header, vcf_contigs = read_header(source)
    annotator = factory()
    total = None
    if not regions:
        total = sum(1 for _ in iter_records(source))
    records: Iterator[str] = iter_records(source, regions)
    if shard is not None:
        if total is None:
            raise ValueError("--shard and --regions cannot be combined")
        first, last = shard_bounds(total, *shard)
        records = (line for i, line in enumerate(records) if first <= i < last)
        total = last - first
    extra = annotator.header_lines(model_name)
    if command:
        extra.append(f"##txformers_spliceCommand={command}\n".rstrip("\n"))
    new_header = header[:-1] + [line + "\n" for line in extra] + header[-1:]

    skips: Counter = Counter()
    n_records = n_scored = n_entries = 0
    started = time.perf_counter()
    bar = tqdm(total=total, unit="rec", desc="scoring", file=sys.stderr, disable=not progress, smoothing=0.1)
    compressed = output.endswith((".gz", ".bgz"))
    pool = None
    try:
        batches = _batches(records, records_per_batch)
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            threads = max(1, (os.cpu_count() or 1) // workers)
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_init_worker, initargs=(factory, threads)
            )
            results = _ordered(pool, batches, 2 * workers)
        else:
            results = (annotator.annotate(batch) for batch in batches)
        with atomic_path(output) as tmp_out:
            tsv_cm = atomic_path(tsv) if tsv else _null()
            with tsv_cm as tmp_tsv:
                out = pysam.BGZFile(str(tmp_out), "wb") if compressed else open(tmp_out, "w")
                table = open(tmp_tsv, "w") if tmp_tsv else None
                with out:
                    _put(out, "".join(new_header), compressed)
                    if table:
                        table.write("\t".join(TSV_COLUMNS) + "\n")
                    for result in results:
                        chunk = []
                        for line, skip, rows in result:
                            chunk.append(line)
                            n_records += 1
                            if skip:
                                skips[skip] += 1
                            else:
                                n_scored += 1
                                n_entries += len(rows)
                            if table:
                                table.writelines("\t".join(map(str, row)) + "\n" for row in rows)
                        _put(out, "".join(chunk), compressed)
                        bar.update(len(result))
                if table:
                    table.close()
            if compressed:
                _tabix(str(tmp_out), output)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    elapsed = time.perf_counter() - started
    return {
        "records": n_records,
        "scored": n_scored,
        "entries": n_entries,
        "skipped": dict(sorted(skips.items())),
        "seconds": elapsed,
        "records_per_second": n_records / elapsed if elapsed > 0 else math.nan,
        "contigs": annotator.contigs.report(vcf_contigs),
        "annotation": annotator.annotation.notes,
    }


def _ordered(pool: Any, batches: Iterator[list[str]], ahead: int) -> Iterator[Any]:
    """Results of ``_work`` over ``batches`` in order, with at most ``ahead`` batches in flight."""
    from collections import deque

    pending: deque = deque()
    for batch in batches:
        pending.append(pool.submit(_work, batch))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


def _put(handle: Any, text: str, compressed: bool) -> None:
    if text:
        handle.write(text.encode() if compressed else text)


def _tabix(tmp: str, output: str) -> None:
    """Index the bgzipped temporary output; its ``.tbi`` goes beside ``output`` (a warning if unsorted)."""
    import pysam

    try:
        pysam.tabix_index(tmp, preset="vcf", force=True, keep_original=True)
    except (OSError, ValueError, pysam.utils.SamtoolsError) as err:  # unsorted input: no index
        print(f"warning: no tabix index for {output}: {err}", file=sys.stderr)
        return
    os.replace(tmp + ".tbi", output + ".tbi")


__all__ = [
    "FIELDS",
    "AnnotatorFactory",
    "SKIP_REASONS",
    "VcfAnnotator",
    "VcfOptions",
    "align_alt_track",
    "annotate_vcf",
    "delta_scores",
    "iter_records",
    "parse_shard",
    "read_header",
    "shard_bounds",
]
