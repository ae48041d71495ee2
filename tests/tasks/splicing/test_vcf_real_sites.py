"""benchmarks/vcf_real_sites.py: the genome / GTF / VCF builder and the output checks, on tiny synthetic windows."""

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

from txformers.datasets.annotation import read_annotation

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "vcf_real_sites.py"
spec = importlib.util.spec_from_file_location("vcf_real_sites", SCRIPT)
vrs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vrs)


def _windows(n, motif, rng):
    out = []
    for _ in range(n):
        seq = "".join(rng.choice("ACGT") for _ in range(602))
        out.append(seq if motif is None else seq[:300] + motif + seq[302:])
    return out


@pytest.fixture(scope="module")
def built():
    rng = random.Random(1)
    donors, acceptors = _windows(4, "GT", rng), _windows(4, "AG", rng)
    fillers = _windows(11, None, rng)
    genome, genes = vrs.build_genome(donors, acceptors, fillers, n_genes=2, introns=2)
    return genome, genes, donors, acceptors


def test_gene_sequences_and_sites_on_both_strands(built):
    genome, genes, donors, acceptors = built
    assert [g["strand"] for g in genes] == ["+", "-"]
    for g, offset in zip(genes, (0, 2)):
        seq = genome[g["start"] : g["end"]]
        seq = seq if g["strand"] == "+" else vrs.revcomp(seq)
        # the first exon is the first donor window's exonic half, the intron starts with its intronic half
        assert seq.startswith(donors[offset][:300] + donors[offset][300:])
        assert seq.endswith(acceptors[offset + 1][302:])
        for kind, x in g["sites"]:
            dinuc = genome[x : x + 2] if g["strand"] == "+" else vrs.revcomp(genome[x - 1 : x + 1])
            assert dinuc == ("GT" if kind == "donor" else "AG")
        # exons are ascending, inside the gene, and every intron is GT...AG in gene orientation
        exons = g["exons"]
        assert exons == sorted(exons) and exons[0][0] == g["start"] and exons[-1][1] == g["end"]
        assert len(exons) == 3 and len(g["sites"]) == 4


def test_gtf_and_table_give_the_same_sites(built, tmp_path):
    genome, genes, _, _ = built
    (tmp_path / "g.gtf").write_text("\n".join(vrs.gtf_lines(genes)) + "\n")
    (tmp_path / "g.txt").write_text("\n".join(vrs.spliceai_table(genes)) + "\n")
    for name in ("g.gtf", "g.txt"):
        ann = {g.name: g for g in read_annotation(tmp_path / name).genes}
        for g in genes:
            got = ann[g["name"]]
            assert (got.strand, got.start, got.end) == (g["strand"], g["start"], g["end"])
            # SpliceAI convention: donor = last exon nt, acceptor = first exon nt
            step = 1 if g["strand"] == "+" else -1
            donors = {x - step for kind, x in g["sites"] if kind == "donor"}
            acceptors = {x + 2 * step for kind, x in g["sites"] if kind == "acceptor"}
            assert set(got.donors) == donors and set(got.acceptors) == acceptors


def test_records_refs_categories_and_distances(built):
    genome, genes, _, _ = built
    records = vrs.make_records(genome, genes, random.Random(0))
    spans = [vrs._site_span(g, k, x) for g in genes for k, x in g["sites"]]

    def dist(p):
        return min(0 if lo <= p <= hi else min(abs(p - lo), abs(p - hi)) for lo, hi in spans)

    for r in records:
        p = r["pos"] - 1
        assert genome[p : p + len(r["ref"])] == r["ref"] and r["alt"] != r["ref"]
        if r["category"] == "site":
            assert dist(p) == 0 and len(r["ref"]) == len(r["alt"]) == 1
        elif r["category"] == "near":
            assert 1 <= dist(p) <= 3
        elif r["category"] in ("deep", "indel_far"):
            assert dist(p) > 200
        elif r["category"] == "exonic":
            assert dist(p) >= 20 and any(s <= p < e for g in genes for s, e in g["exons"])
        elif r["category"] == "indel_near":
            assert dist(p) <= 11 and 1 <= abs(len(r["ref"]) - len(r["alt"])) <= 10
    assert sum(r["category"] == "site" for r in records) == 2 * len(spans)


def test_parse_output_flags_dropped_and_changed_records():
    lines = ["#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO", "c\t1\ta\tA\tG\t.\t.\tX=1", "c\t2\tbad"]
    scored = ["c\t1\ta\tA\tG\t.\t.\tX=1;SpliceBERT=G|G1|0.10|0.80|0.00|0.20|1|-2|0|5"]
    rows, skips, problems = vrs.parse_output(lines, lines[:1] + scored + lines[2:])
    assert rows == [("a", 0.8, [["G", "G1", "0.10", "0.80", "0.00", "0.20", "1", "-2", "0", "5"]])]
    assert skips == {"malformed": 1} and problems == []
    _, _, problems = vrs.parse_output(lines, lines[:2])
    assert problems and "2 records in, 1 out" in problems[0]
    _, _, problems = vrs.parse_output(lines, [lines[0], "c\t1\ta\tA\tT\t.\t.\tX=1", lines[2]])
    assert problems and "record changed" in problems[0]


def test_separation_auroc_and_cis():
    assert vrs.auroc(np.array([0.9, 0.8]), np.array([0.1, 0.8])) == pytest.approx(0.875)
    res = vrs.separation([0.9, 0.7, 0.8, 0.6], [0.1, 0.2, 0.65, 0.3], n_boot=200)
    low, point, high = res["auroc"][1], res["auroc"][0], res["auroc"][2]
    assert point == pytest.approx(15 / 16) and low <= point <= high <= 1.0
    assert res["mean_pos"][0] == pytest.approx(0.75) and res["n_neg"] == 4
