"""`txformers splice vcf` against SpliceAI 1.3.1 on the same synthetic genome, GTF and VCF, in one run.

    nice -n 10 python benchmarks/bench_vcf.py [--sizes 1000 10000] [--spliceai-records 50]

Inputs: ``../shared/peers/example/make_synthetic.py`` (2 x 200 kb, 6 genes on both strands, GT...AG introns)
plus VCFs of N records drawn from it (85 % SNVs, 15 % 1-4 nt indels; positions inside genes, deterministic).
txformers scores each size in its own process; SpliceAI (``/work/peers-venv``, benchmark use only: its weights
are CC BY-NC) scores the first ``--spliceai-records`` records of the first size only, because at ~0.37 records/s
1k records take ~45 min. Both times cover scoring only (after the models and annotation are loaded); peak
memory is each process's max RSS. The model: ``checkpoints/splicebert-small-splice-sites-nt`` when present,
else a randomly initialised SpliceBertForTokenClassification of the same architecture as
``splicebert-small-pretrained`` (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT.parent / "shared" / "peers"
PEERS_VENV = Path(os.environ.get("PEERS_VENV", "/work/peers-venv"))

TXFORMERS_CHILD = r"""
import json, resource, sys, time
from txformers.datasets.annotation import read_annotation
from txformers.tasks.splicing.vcf import AnnotatorFactory, VcfOptions, annotate_vcf
vcf, out, fasta, gtf, model = sys.argv[1:6]
factory = AnnotatorFactory(model, fasta, read_annotation(gtf), VcfOptions(distance=50), device="cpu")
summary = annotate_vcf(vcf, out, factory, progress=False)
summary["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(summary))
"""

SPLICEAI_CHILD = r"""
import json, os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import pysam
from spliceai.utils import Annotator, get_delta_scores
vcf, fasta, annotation, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
annotator = Annotator(fasta, annotation)
records = list(pysam.VariantFile(vcf))[:limit]
get_delta_scores(records[0], annotator, 50, 0)  # warm-up: first-call graph tracing, not timed
start = time.perf_counter()
scored = sum(bool(get_delta_scores(record, annotator, 50, 0)) for record in records)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"records": len(records), "scored": scored, "seconds": seconds, "peak_rss_mb": peak}))
"""


def make_vcf(path: Path, fasta: Path, spliceai_table: Path, n: int, seed: int = 0) -> None:
    """N records at random positions inside the annotated genes, sorted, REF from the genome."""
    from txformers.datasets.annotation import read_annotation
    from txformers.datasets.genome import FastaReader

    rng = random.Random(seed)
    genes = read_annotation(spliceai_table).genes
    with FastaReader(fasta) as genome:
        records = set()
        while len(records) < n:
            gene = rng.choice(genes)
            pos0 = rng.randrange(gene.start + 60, gene.end - 60)
            kind = rng.random()
            if kind < 0.85:
                ref = genome.fetch(gene.chrom, pos0, pos0 + 1)
                alt = rng.choice([b for b in "ACGT" if b != ref])
            elif kind < 0.93:
                ref = genome.fetch(gene.chrom, pos0, pos0 + 1)
                alt = ref + "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 4)))
            else:
                ref = genome.fetch(gene.chrom, pos0, pos0 + rng.randint(2, 5))
                alt = ref[0]
            records.add((gene.chrom, pos0 + 1, ref, alt))
        lengths = {name: genome.chrom_length(name) for name in genome.chroms}
    header = ["##fileformat=VCFv4.2"] + [f"##contig=<ID={c},length={n}>" for c, n in lengths.items()]
    header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    rows = [f"{c}\t{p}\tv{i}\t{r}\t{a}\t.\t.\t." for i, (c, p, r, a) in enumerate(sorted(records))]
    path.write_text("\n".join(header + rows) + "\n")


def tiny_model(folder: Path) -> str:
    bundled = ROOT / "checkpoints" / "splicebert-small-splice-sites-nt"
    if (bundled / "config.json").exists():
        return str(bundled)
    import torch
    from transformers import AutoConfig

    from txformers import SpliceBertForTokenClassification

    config = AutoConfig.from_pretrained(ROOT / "checkpoints" / "splicebert-small-pretrained")
    config.num_labels = 3
    config.id2label = {0: "none", 1: "acceptor", 2: "donor"}
    config.label2id = {v: k for k, v in config.id2label.items()}
    torch.manual_seed(0)
    SpliceBertForTokenClassification(config).save_pretrained(folder / "model")
    return str(folder / "model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--spliceai-records", type=int, default=50)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_vcf_"))
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(PEERS / "example" / "make_synthetic.py"), str(work)], check=True,
                   capture_output=True)  # fmt: skip
    fasta, gtf, table = work / "genome.fa", work / "genes.gtf", work / "spliceai_genes.txt"
    model = tiny_model(work)
    print(f"inputs in {work}; model {model}")
    results = {}
    for n in args.sizes:
        vcf = work / f"v{n}.vcf"
        make_vcf(vcf, fasta, table, n)
        out = subprocess.run(
            [sys.executable, "-c", TXFORMERS_CHILD, str(vcf), str(work / f"out{n}.vcf"), str(fasta), str(gtf), model],
            capture_output=True,
            text=True,
            check=True,
        )
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        results[n] = summary
        print(
            f"txformers  {n:>6} records: {summary['records_per_second']:8.1f} records/s "
            f"({summary['scored']} scored, {summary['entries']} entries), peak RSS {summary['peak_rss_mb']:.0f} MB"
        )
    if len(args.sizes) > 1:
        low, high = results[args.sizes[0]]["peak_rss_mb"], results[args.sizes[-1]]["peak_rss_mb"]
        print(f"peak memory {args.sizes[-1]} vs {args.sizes[0]} records: {high / low:.2f}x")
    python = PEERS_VENV / "bin" / "python"
    if args.spliceai_records < 1:
        return
    if not python.exists():
        print(f"SpliceAI skipped: no peers venv at {PEERS_VENV} (build it with {PEERS / 'setup'} {PEERS_VENV})")
        return
    subset = args.spliceai_records
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    out = subprocess.run(
        [str(python), "-c", SPLICEAI_CHILD, str(work / f"v{args.sizes[0]}.vcf"), str(fasta), str(table), str(subset)],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        print(f"SpliceAI failed: {out.stderr.strip().splitlines()[-1:]}")
        return
    peer = json.loads(out.stdout.strip().splitlines()[-1])
    peer_rate = peer["records"] / peer["seconds"]
    print(
        f"SpliceAI   {peer['records']:>6} records (first {subset} of the {args.sizes[0]}-record VCF; "
        f"{peer['scored']} scored): {peer_rate:8.2f} records/s, peak RSS {peer['peak_rss_mb']:.0f} MB"
    )
    for n in args.sizes:
        print(f"ratio txformers ({n} records) / SpliceAI: {results[n]['records_per_second'] / peer_rate:.1f}x")


if __name__ == "__main__":
    main()
