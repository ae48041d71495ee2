"""`txformers splice vcf` on a VCF it never saw, over genes stitched from REAL human splice sites.

    nice -n 10 python benchmarks/vcf_real_sites.py [--model checkpoints/splicebert-small-splice-sites-nt]
        [--random-twin] [--spliceai-records 40] [--genes 40] [--work DIR] [--json results/...json]

Inputs: the kept-aside Test split of ``../shared/data/splice/ensemblesplice_600nt/homo_sapiens`` (602-nt windows
with a real donor GT / acceptor AG at 0-based 300-301; no model of this repository trains on Test). Each gene
(5' -> 3') is: exon 1 = donor window D1[:300]; intron k = Dk[300:] + a Test *negative* window (602 nt of real
genomic sequence) + Ak[:302]; exon k+1 = Ak[302:] + D(k+1)[:300]; last exon = An[302:]. Every real site thus
keeps its own 300 nt of real context on each side. Genes alternate strands (minus-strand genes are written
reverse-complemented), separated by 600 nt of Test negative sequence, in a FASTA / GTF (exact exon
coordinates) / SpliceAI table written under ``--work`` (a temporary folder by default; nothing is copied into
the repository).

The VCF: SNVs destroying the GT of real donors and the AG of real acceptors (``site``), SNVs 1-3 nt beside the
dinucleotide (``near``), deep-intronic SNVs > 200 nt from any site (``deep``), exonic SNVs >= 20 nt from any
site (``exonic``), 1-10 nt insertions / deletions within 10 nt of a site (``indel_near``) and > 200 nt from any
site (``indel_far``), and bad records (REF mismatch, unknown contig, symbolic ALT, ``*`` ALT, intergenic, a
malformed line). It runs ``txformers splice vcf`` on it, checks that every line comes out in order with its
columns untouched, counts skip reasons, and reports the separation of max(DS) between ``site`` and ``deep``
SNVs (AUROC, means, bootstrap 95 % CIs). ``--random-twin`` scores the same VCF with a randomly initialised
model of the same architecture (the floor); with ``/work/peers-venv`` SpliceAI 1.3.1 scores a subset of the
``site`` and ``deep`` SNVs (benchmark use only: its weights are CC BY-NC).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "splice" / "ensemblesplice_600nt" / "homo_sapiens" / "Test"
PEERS_VENV = Path(os.environ.get("PEERS_VENV", "/work/peers-venv"))
DEFAULT_MODEL = ROOT / "checkpoints" / "splicebert-small-splice-sites-nt"
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
SITE = 300  # 0-based position of GT / AG in a 602-nt window
SPACER = 600
CATEGORIES = ("site", "near", "deep", "exonic", "indel_near", "indel_far")


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def read_windows(path: str | Path, motif: str | None, limit: int, rng: random.Random) -> list[str]:
    """``limit`` windows of a ``> header`` / sequence file (random order), ACGT only, with ``motif`` at 300-301."""
    seqs, header = [], False
    for line in Path(path).read_text().splitlines():
        if line.startswith(">"):
            header = True
        elif header and line.strip():
            seq = line.strip().upper().replace("U", "T")
            if len(seq) == 602 and set(seq) <= set("ACGT") and (motif is None or seq[SITE : SITE + 2] == motif):
                seqs.append(seq)
            header = False
    rng.shuffle(seqs)
    return seqs[:limit]


def build_gene(donors: list[str], acceptors: list[str], fillers: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Gene sequence 5'->3' and its exons ``[(start, end)]`` (0-based half-open, gene coordinates).

    ``len(donors) == len(acceptors) == len(fillers)`` = number of introns."""
    if not (len(donors) == len(acceptors) == len(fillers) >= 1):
        raise ValueError("need as many donors, acceptors and fillers, at least one")
    parts, exons, pos = [donors[0][:SITE]], [], 0
    exon_start = 0
    pos = SITE
    for k, (donor, acceptor, filler) in enumerate(zip(donors, acceptors, fillers)):
        exons.append((exon_start, pos))
        intron = donor[SITE:] + filler + acceptor[: SITE + 2]
        parts.append(intron)
        pos += len(intron)
        exon = acceptor[SITE + 2 :] + (donors[k + 1][:SITE] if k + 1 < len(donors) else "")
        parts.append(exon)
        exon_start, pos = pos, pos + len(exon)
    exons.append((exon_start, pos))
    seq = "".join(parts)
    for (_, end), (start, _) in zip(exons, exons[1:]):  # GT...AG at every intron
        assert seq[end : end + 2] == "GT" and seq[start - 2 : start] == "AG"
    return seq, exons


def build_genome(
    donors: list[str], acceptors: list[str], fillers: list[str], n_genes: int, introns: int, chrom: str = "chr1"
) -> tuple[str, list[dict]]:
    """One contig of ``n_genes`` genes (alternating strands, ``introns`` introns each) between spacers.

    Returns the contig and, per gene, ``name``, ``strand``, ``start``/``end`` (0-based half-open genome
    span), ``exons`` (genome coordinates, ascending) and ``sites``: ``(kind, pos0)`` with pos0 the genome
    position of the first base of the dinucleotide in gene orientation (G of GT, A of AG)."""
    need = n_genes * introns
    if len(donors) < need or len(acceptors) < need or len(fillers) < 2 * need + n_genes + 1:
        raise ValueError(f"{n_genes} genes x {introns} introns need more windows than given")
    contig, genes, f = [fillers[0][:SPACER]], [], 1
    offset = SPACER
    for g in range(n_genes):
        d = donors[g * introns : (g + 1) * introns]
        a = acceptors[g * introns : (g + 1) * introns]
        seq, exons = build_gene(d, a, fillers[f : f + introns])
        f += introns
        strand = "+" if g % 2 == 0 else "-"
        n = len(seq)
        sites = []
        for (_, end), (start, _) in zip(exons, exons[1:]):
            sites += [("donor", end), ("acceptor", start - 2)]
        if strand == "-":
            seq = revcomp(seq)
            exons = sorted((n - e, n - s) for s, e in exons)
            sites = [(kind, n - 1 - x) for kind, x in sites]
        genes.append(
            {
                "name": f"RS{g + 1}",
                "strand": strand,
                "start": offset,
                "end": offset + n,
                "exons": [(offset + s, offset + e) for s, e in exons],
                "sites": [(kind, offset + x) for kind, x in sites],
            }
        )
        contig.append(seq)
        contig.append(fillers[f][:SPACER])
        f += 1
        offset += n + SPACER
    return "".join(contig), genes


def _site_span(gene: dict, kind: str, pos0: int) -> tuple[int, int]:
    """Genome span [lo, hi] of a dinucleotide (pos0 is its first base in gene orientation)."""
    return (pos0, pos0 + 1) if gene["strand"] == "+" else (pos0 - 1, pos0)


def make_records(genome: str, genes: list[dict], rng: random.Random, chrom: str = "chr1") -> list[dict]:
    """Variant records (``chrom pos ref alt id category``, 1-based pos) over the genes, sorted by position."""
    recs = []

    def snv(pos0: int, category: str, **extra) -> None:
        ref = genome[pos0]
        recs.append({"pos": pos0 + 1, "ref": ref, "alt": rng.choice([b for b in "ACGT" if b != ref]),
                     "category": category, **extra})  # fmt: skip

    for gene in genes:
        spans = [_site_span(gene, kind, x) for kind, x in gene["sites"]]

        def dist(p: int, spans=spans) -> int:
            return min(0 if lo <= p <= hi else min(abs(p - lo), abs(p - hi)) for lo, hi in spans)

        for (kind, x), (lo, hi) in zip(gene["sites"], spans):
            for p in (lo, hi):
                snv(p, "site", site=kind, site_pos=x, gene=gene["name"])
            off = rng.choice([1, 2, 3])
            snv(lo - off if rng.random() < 0.5 else hi + off, "near", site=kind, gene=gene["name"])
            # indel within 10 nt of the site (anchor base outside the dinucleotide)
            length = rng.randint(1, 10)
            anchor = rng.choice([lo - 1 - rng.randint(0, 9), hi + rng.randint(0, 9)])
            recs.append(_indel(genome, anchor, length, rng, "indel_near"))
        introns = [(e1, s2) for (_, e1), (s2, _) in zip(gene["exons"], gene["exons"][1:])]
        for start, end in introns:
            deep = [p for p in range(start, end) if dist(p) > 200]
            for p in rng.sample(deep, 2):
                snv(p, "deep", gene=gene["name"])
            anchor = rng.choice([p for p in deep if dist(p + 11) > 200])
            recs.append(_indel(genome, anchor, rng.randint(1, 10), rng, "indel_far"))
        for start, end in gene["exons"]:
            exonic = [p for p in range(start, end) if dist(p) >= 20]
            snv(rng.choice(exonic), "exonic", gene=gene["name"])
    for i, rec in enumerate(recs):
        rec.setdefault("chrom", chrom)
        rec["id"] = f"{rec['category']}_{i}"
    return recs


def _indel(genome: str, anchor: int, length: int, rng: random.Random, category: str) -> dict:
    if rng.random() < 0.5:  # deletion of `length` nt after the anchor base
        ref, alt = genome[anchor : anchor + 1 + length], genome[anchor]
    else:
        ref = genome[anchor]
        alt = ref + "".join(rng.choice("ACGT") for _ in range(length))
    return {"pos": anchor + 1, "ref": ref, "alt": alt, "category": category}


def bad_records(genome: str, genes: list[dict], chrom: str = "chr1") -> list[dict]:
    """One record per skip reason the CLI must pass through (``malformed`` is a line of 3 columns)."""
    g = genes[0]
    mid = (g["exons"][0][0] + g["exons"][0][1]) // 2
    wrong = {"A": "C", "C": "G", "G": "T", "T": "A"}[genome[mid]]
    intergenic = genes[0]["end"] + SPACER // 2
    return [
        {"chrom": chrom, "pos": mid + 1, "ref": wrong, "alt": genome[mid], "category": "bad:ref_mismatch"},
        {"chrom": "chrUn_x", "pos": 1000, "ref": "A", "alt": "G", "category": "bad:unknown_contig"},
        {"chrom": chrom, "pos": mid + 2, "ref": genome[mid + 1], "alt": "<DEL>", "category": "bad:symbolic_allele"},
        {"chrom": chrom, "pos": mid + 3, "ref": genome[mid + 2], "alt": "*", "category": "bad:symbolic_allele"},
        {
            "chrom": chrom,
            "pos": intergenic + 1,
            "ref": genome[intergenic],
            "alt": wrong if wrong != genome[intergenic] else "A",
            "category": "bad:outside_genes",
        },
        {"chrom": chrom, "pos": mid + 4, "malformed": True, "category": "bad:malformed"},
    ]


def vcf_lines(records: list[dict], contigs: dict[str, int]) -> list[str]:
    header = ["##fileformat=VCFv4.2", '##INFO=<ID=CAT,Number=1,Type=String,Description="benchmark category">']
    header += [f"##contig=<ID={c},length={n}>" for c, n in contigs.items()]
    header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    rows = []
    for r in sorted(records, key=lambda r: (r["chrom"] != "chr1", r["chrom"], r["pos"])):
        if r.get("malformed"):
            rows.append(f"{r['chrom']}\t{r['pos']}\tmalformed_line")
        else:
            rows.append(f"{r['chrom']}\t{r['pos']}\t{r['id']}\t{r['ref']}\t{r['alt']}\t.\tPASS\tCAT={r['category']}")
    return header + rows


def gtf_lines(genes: list[dict], chrom: str = "chr1") -> list[str]:
    out = []
    for g in genes:
        attr = f'gene_id "{g["name"]}"; transcript_id "{g["name"]}.1"; gene_name "{g["name"]}";'
        out.append(f"{chrom}\tbench\tgene\t{g['start'] + 1}\t{g['end']}\t.\t{g['strand']}\t.\t{attr}")
        out.append(f"{chrom}\tbench\ttranscript\t{g['start'] + 1}\t{g['end']}\t.\t{g['strand']}\t.\t{attr}")
        for s, e in g["exons"]:
            out.append(f"{chrom}\tbench\texon\t{s + 1}\t{e}\t.\t{g['strand']}\t.\t{attr}")
    return out


def spliceai_table(genes: list[dict], chrom: str = "chr1") -> list[str]:
    rows = ["#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END"]
    for g in genes:
        starts = "".join(f"{s}," for s, _ in g["exons"])
        ends = "".join(f"{e}," for _, e in g["exons"])
        rows.append(f"{g['name']}\t{chrom}\t{g['strand']}\t{g['start']}\t{g['end']}\t{starts}\t{ends}")
    return rows


# ------------------------------------------------------------------------------------------- evaluation
def parse_output(in_lines: list[str], out_lines: list[str], field: str = "SpliceBERT") -> tuple[list, dict, list]:
    """Check every input line is out, in order, columns other than INFO untouched and INFO extended only.

    Returns ``(per-record (id, max DS or None, entries), skip counts, problems)``."""
    body_in = [x for x in in_lines if not x.startswith("#")]
    body_out = [x for x in out_lines if not x.startswith("#")]
    problems, rows, skips = [], [], {}
    if len(body_in) != len(body_out):
        problems.append(f"{len(body_in)} records in, {len(body_out)} out")
    for a, b in zip(body_in, body_out):
        ca, cb = a.split("\t"), b.split("\t")
        if len(ca) < 8:
            if a != b:
                problems.append(f"malformed line changed: {a!r} -> {b!r}")
            skips["malformed"] = skips.get("malformed", 0) + 1
            continue
        if ca[:7] != cb[:7] or ca[8:] != cb[8:] or not cb[7].startswith(ca[7]):
            problems.append(f"record changed: {a!r} -> {b!r}")
        info = dict(kv.split("=", 1) for kv in cb[7].split(";") if "=" in kv)
        if "SpliceBERT_SKIP" in info:
            skips[info["SpliceBERT_SKIP"]] = skips.get(info["SpliceBERT_SKIP"], 0) + 1
        entries = [e.split("|") for e in info.get(field, "").split(",") if e]
        best = max((max(float(v) for v in e[2:6]) for e in entries), default=None)
        rows.append((ca[2], best, entries))
    return rows, skips, problems


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUROC (ties count one half)."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def separation(pos: list[float], neg: list[float], n_boot: int = 2000, seed: int = 0) -> dict:
    """AUROC of ``pos`` over ``neg`` and both means, with percentile bootstrap 95 % CIs (groups resampled)."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    rng = np.random.default_rng(seed)
    boots = {"auroc": [], "mean_pos": [], "mean_neg": []}
    for _ in range(n_boot):
        p, n = rng.choice(pos, len(pos)), rng.choice(neg, len(neg))
        boots["auroc"].append(auroc(p, n))
        boots["mean_pos"].append(p.mean())
        boots["mean_neg"].append(n.mean())
    point = {"auroc": auroc(pos, neg), "mean_pos": float(pos.mean()), "mean_neg": float(neg.mean())}
    out = {"n_pos": len(pos), "n_neg": len(neg)}
    for key, value in point.items():
        lo, hi = np.percentile(boots[key], [2.5, 97.5])
        out[key] = [round(value, 4), round(float(lo), 4), round(float(hi), 4)]
    return out


def category_means(rows: list, categories: dict[str, str]) -> dict:
    by: dict[str, list[float]] = {}
    for rid, best, _ in rows:
        if best is not None:
            by.setdefault(categories.get(rid, "?"), []).append(best)
    return {c: {"n": len(v), "mean_max_ds": round(float(np.mean(v)), 4)} for c, v in sorted(by.items())}


def position_hits(rows: list, records: dict[str, dict]) -> dict:
    """For ``site`` SNVs: how often the loss of the destroyed site's kind is the largest delta and DP points at the
    site (|DP - (site position - POS)| <= 1, plus strand genome offsets; donor/acceptor in SpliceAI's convention)."""
    hits = total = 0
    for rid, best, entries in rows:
        rec = records.get(rid)
        if not rec or rec["category"] != "site" or not entries:
            continue
        total += 1
        e = entries[0]
        ds = dict(zip(("AG", "AL", "DG", "DL"), map(float, e[2:6])))
        dp = dict(zip(("AG", "AL", "DG", "DL"), map(int, e[6:10])))
        key = "DL" if rec["site"] == "donor" else "AL"
        # SpliceAI convention: donor = last exon nt (1 before G of GT), acceptor = first exon nt (1 after AG)
        gene_strand = rec["strand"]
        x = rec["site_pos"]
        expect = (
            (x - 1 if gene_strand == "+" else x + 1)
            if rec["site"] == "donor"
            else (x + 2 if gene_strand == "+" else x - 2)
        )
        if max(ds, key=ds.get) == key and abs(dp[key] - (expect + 1 - rec["pos"])) <= 1:
            hits += 1
    return {"n": total, "loss_is_max_at_site": hits, "fraction": round(hits / max(total, 1), 4)}


def random_twin(model: Path, folder: Path) -> Path:
    """A randomly initialised model with the same config and tokenizer files (seed 0)."""
    import torch
    from transformers import AutoConfig, AutoModelForTokenClassification

    import txformers  # noqa: F401  (registers the Auto classes)

    shutil.copytree(model, folder, dirs_exist_ok=True)
    torch.manual_seed(0)
    AutoModelForTokenClassification.from_config(AutoConfig.from_pretrained(model)).save_pretrained(folder)
    return folder


SPLICEAI_CHILD = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import pysam
from spliceai.utils import Annotator, get_delta_scores
vcf, fasta, annotation = sys.argv[1:4]
annotator = Annotator(fasta, annotation)
rows, start = [], time.perf_counter()
for record in pysam.VariantFile(vcf):
    scores = get_delta_scores(record, annotator, 50, 0)
    best = max((max(float(v) for v in s.split("|")[2:6]) for s in scores), default=None)
    rows.append([record.id, best])
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start}))
"""


def run_spliceai(work: Path, in_lines: list[str], ids: set[str], fasta: Path, table: Path) -> dict | None:
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        print(f"SpliceAI skipped: no peers venv at {PEERS_VENV}")
        return None
    keep = [x for x in in_lines if x.startswith("#") or x.split("\t")[2] in ids]
    vcf = work / "spliceai_subset.vcf"
    vcf.write_text("\n".join(keep) + "\n")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    out = subprocess.run([str(python), "-c", SPLICEAI_CHILD, str(vcf), str(fasta), str(table)],
                         capture_output=True, text=True, env=env)  # fmt: skip
    if out.returncode != 0:
        print(f"SpliceAI failed: {out.stderr.strip().splitlines()[-3:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def build_inputs(work: Path, n_genes: int, introns: int, seed: int) -> tuple[list[dict], list[dict], list[str]]:
    """Writes genome.fa, genes.gtf, spliceai_genes.txt, variants.vcf under ``work``."""
    rng = random.Random(seed)
    need = n_genes * introns
    donors = read_windows(DATA / "Donor_Test_Positive.txt", "GT", need, rng)
    acceptors = read_windows(DATA / "Acceptor_Test_Positive.txt", "AG", need, rng)
    fillers = read_windows(DATA / "Donor_Test_Negative.txt", None, need + n_genes + 1, rng)
    fillers += read_windows(DATA / "Acceptor_Test_Negative.txt", None, need + n_genes + 1, rng)
    rng.shuffle(fillers)
    genome, genes = build_genome(donors, acceptors, fillers, n_genes, introns)
    records = make_records(genome, genes, rng)
    strand = {g["name"]: g["strand"] for g in genes}
    for r in records:
        if "gene" in r:
            r["strand"] = strand[r["gene"]]
    records += bad_records(genome, genes)
    for i, r in enumerate(records):
        r.setdefault("id", f"{r['category'].replace(':', '_')}_b{i}")
    (work / "genome.fa").write_text(">chr1\n" + "\n".join(genome[i : i + 80] for i in range(0, len(genome), 80)) + "\n")
    (work / "genes.gtf").write_text("\n".join(gtf_lines(genes)) + "\n")
    (work / "spliceai_genes.txt").write_text("\n".join(spliceai_table(genes)) + "\n")
    lines = vcf_lines(records, {"chr1": len(genome)})
    (work / "variants.vcf").write_text("\n".join(lines) + "\n")
    return genes, records, lines


def score(model: Path, work: Path, tag: str, in_lines: list[str], records: list[dict]) -> dict:
    out = work / f"out_{tag}.vcf"
    cmd = ["txformers", "splice", "vcf", str(work / "variants.vcf"), "--fasta", str(work / "genome.fa"),
           "--annotation", str(work / "genes.gtf"), "--out", str(out), "--model", str(model), "--device", "cpu",
           "--overwrite"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    rows, skips, problems = parse_output(in_lines, out.read_text().splitlines())
    by_id = {r["id"]: r for r in records}
    cats = {r["id"]: r["category"] for r in records}
    scored = {c: [b for rid, b, _ in rows if cats.get(rid) == c and b is not None] for c in CATEGORIES}
    expected_skips = {}
    for r in records:
        if r["category"].startswith("bad:"):
            reason = r["category"][4:]
            expected_skips[reason] = expected_skips.get(reason, 0) + 1
    return {
        "model": str(model),
        "command": " ".join(cmd[:1] + [Path(c).name if "/" in c else c for c in cmd[1:]]),
        "wall_seconds": round(seconds, 1),
        "cli_summary": proc.stdout.strip().splitlines()[0],
        "records_in_order_untouched": not problems,
        "problems": problems[:5],
        "skips": skips,
        "expected_skips": expected_skips,
        "unscored_good_records": sum(1 for rid, b, _ in rows if cats.get(rid) in CATEGORIES and b is None),
        "categories": category_means(rows, cats),
        "site_vs_deep": separation(scored["site"], scored["deep"]),
        "near_vs_deep": separation(scored["near"], scored["deep"]),
        "indel_near_vs_far": separation(scored["indel_near"], scored["indel_far"]),
        "site_loss_at_site": position_hits(rows, by_id),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="per-nucleotide model folder")
    parser.add_argument("--random-twin", action="store_true", help="also score with a random-init twin")
    parser.add_argument("--genes", type=int, default=40)
    parser.add_argument("--introns", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spliceai-records", type=int, default=40, help="per group (site, deep); 0: skip")
    parser.add_argument("--work", default=None)
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument(
        "--spliceai-only", action="store_true", help="reuse --work's out_model.vcf and --json; run SpliceAI only"
    )
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"no Test split at {DATA}")
    work = Path(args.work or tempfile.mkdtemp(prefix="vcf_real_sites_"))
    work.mkdir(parents=True, exist_ok=True)
    genes, records, in_lines = build_inputs(work, args.genes, args.introns, args.seed)
    counts = {}
    for r in records:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    print(f"inputs in {work}: {len(genes)} genes ({sum(g['strand'] == '-' for g in genes)} minus strand), "
          f"{len(records)} records {counts}")  # fmt: skip
    results = {"inputs": {"genes": len(genes), "introns_per_gene": args.introns, "seed": args.seed,
                          "records": counts, "data": "ensemblesplice_600nt/homo_sapiens/Test"}}  # fmt: skip
    models = [("model", Path(args.model))]
    if args.spliceai_only:
        results = json.loads(Path(args.json).read_text())
        models = []
    elif args.random_twin:
        models.append(("random_twin", random_twin(Path(args.model), work / "random_twin")))
    for tag, model in models:
        res = score(model, work, tag, in_lines, records)
        results[tag] = res
        sep = res["site_vs_deep"]
        print(f"[{tag}] {res['cli_summary']}")
        print(f"[{tag}] in order and untouched: {res['records_in_order_untouched']}; skips {res['skips']} "
              f"(expected {res['expected_skips']}); unscored good records {res['unscored_good_records']}")  # fmt: skip
        print(f"[{tag}] site vs deep max(DS): AUROC {sep['auroc']}, mean {sep['mean_pos']} vs {sep['mean_neg']}")
        print(f"[{tag}] per category {res['categories']}; loss at site {res['site_loss_at_site']}")
    if args.spliceai_records > 0:
        rng = random.Random(args.seed + 1)
        ids = {r["id"] for c in ("site", "deep") for r in
               rng.sample([r for r in records if r["category"] == c], args.spliceai_records)}  # fmt: skip
        peer = run_spliceai(work, in_lines, ids, work / "genome.fa", work / "spliceai_genes.txt")
        if peer:
            cats = {r["id"]: r["category"] for r in records}
            got = {c: [b for rid, b in peer["rows"] if cats[rid] == c and b is not None] for c in ("site", "deep")}
            ours = {
                rid: b for rid, b, _ in parse_output(in_lines, (work / "out_model.vcf").read_text().splitlines())[0]
            }
            same = {c: [ours[rid] for rid, b in peer["rows"] if cats[rid] == c and b is not None] for c in got}
            results["spliceai_subset"] = {
                "records": len(peer["rows"]),
                "seconds": round(peer["seconds"], 1),
                "spliceai_site_vs_deep": separation(got["site"], got["deep"]),
                "ours_same_records": separation(same["site"], same["deep"]),
            }
            print(f"[SpliceAI subset] {results['spliceai_subset']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
