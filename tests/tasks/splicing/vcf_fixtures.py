"""A small synthetic genome, GTF and VCF for the VCF annotator tests, and a deterministic stand-in model.

Genome: one 3,000-nt contig named ``1`` in the FASTA but ``chr1`` in the GTF and the VCF (the naming mismatch).
G1 (plus strand) has exons [200,400), [600,800), [1000,1200); G2 (minus strand) [1500,1700), [1900,2100),
[2300,2500) (0-based, half-open), with planted GT...AG introns in transcript orientation, and 80 N at
[1760,1840).
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import torch

from txformers import SpliceBertConfig

G1_EXONS = [(200, 400), (600, 800), (1000, 1200)]
G2_EXONS = [(1500, 1700), (1900, 2100), (2300, 2500)]


def make_genome() -> str:
    rng = random.Random(3)
    seq = [rng.choice("ACGT") for _ in range(3000)]
    text = "".join(seq)
    while any(m in text for m in ("GT", "AG", "AC", "CT")):  # no site motif outside the planted sites
        text = text.replace("GT", "GG").replace("AG", "AA").replace("AC", "AA").replace("CT", "CC")
    seq = list(text)
    for (_, end), (start, _) in zip(G1_EXONS, G1_EXONS[1:]):  # plus: GT after the exon, AG before the next
        seq[end : end + 2], seq[start - 2 : start] = "GT", "AG"
    for (_, end), (start, _) in zip(G2_EXONS, G2_EXONS[1:]):  # minus: CT after genome-left exon, AC before
        seq[end : end + 2], seq[start - 2 : start] = "CT", "AC"
    seq[1760:1840] = "N" * 80  # an assembly gap inside G2's first intron
    return "".join(seq)


def write_inputs(folder, genome: str):
    fasta = folder / "genome.fa"
    fasta.write_text(">1\n" + "\n".join(genome[i : i + 60] for i in range(0, len(genome), 60)) + "\n")
    rows = []
    for gene, strand, exons in (("G1", "+", G1_EXONS), ("G2", "-", G2_EXONS)):
        attrs = f'gene_id "{gene}"; transcript_id "{gene}.1"; gene_name "{gene}";'
        rows.append(f"chr1\tt\ttranscript\t{exons[0][0] + 1}\t{exons[-1][1]}\t.\t{strand}\t.\t{attrs}")
        rows += [f"chr1\tt\texon\t{s + 1}\t{e}\t.\t{strand}\t.\t{attrs}" for s, e in exons]
    gtf = folder / "genes.gtf"
    gtf.write_text("\n".join(rows) + "\n")
    return fasta, gtf


def vcf_records(genome: str) -> list[str]:
    """(1-based POS) records: scored ones first, then every skip reason, in an order the output must keep."""

    def rec(pos0, ref, alt, vid, chrom="chr1", info="K=1"):
        return f"{chrom}\t{pos0 + 1}\t{vid}\t{ref}\t{alt}\t50\tPASS\t{info}\tGT\t0/1"

    def other(base):
        return "A" if base != "A" else "C"

    return [
        rec(400, "G", "A", "plus_donor_snv"),  # the G of GT after G1 exon 1: donor at 399 lost
        rec(2299, "C", "T", "minus_donor_snv"),  # C of AC before G2 exon 3 (GT on minus): donor at 2300 lost
        rec(500, genome[500:503], genome[500], "deletion"),
        rec(700, genome[700], genome[700] + "GTA", "insertion"),
        rec(900, genome[900:902], other(genome[900]) + other(genome[901]), "mnp"),
        rec(1000, genome[1000], f"{other(genome[1000])},T", "multiallelic", info="."),
        rec(300, other(genome[300]), "G", "ref_mismatch"),
        rec(10, genome[10], other(genome[10]), "unknown_contig", chrom="chrUn"),
        rec(1300, genome[1300], other(genome[1300]), "outside_genes"),
        rec(1600, genome[1600], "<DEL>", "symbolic"),
        rec(1650, genome[1650 : 1650 + 61], genome[1650], "indel_too_long"),
        rec(1800, "N", "A", "n_rich"),
        "chr1\t1700\tshort_line\tA",
        rec(250, genome[250], other(genome[250]), "after_bad_lines"),
    ]


HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n##contig=<ID=chrUn,length=100>\n"
    '##INFO=<ID=K,Number=1,Type=Integer,Description="kind">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
)


class MotifSpliceModel(torch.nn.Module):
    """Deterministic stand-in for a trained per-nucleotide splice-site model (labels none/acceptor/donor).

    The donor logit fires (8 against 4 for ``none``) at a nucleotide followed by ``GT`` (the last exon
    nucleotide, SpliceAI's donor position) and the acceptor logit at a nucleotide preceded by ``AG`` (the first
    exon nucleotide). So a donor destroyed by an SNV drops from p ~ 0.98 to ~ 0.02: the delta and position logic
    can be checked on both strands without a trained model.
    """

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(4.0))
        self.config = SpliceBertConfig(
            num_labels=3,
            id2label={0: "none", 1: "acceptor", 2: "donor"},
            label2id={"none": 0, "acceptor": 1, "donor": 2},
            max_position_embeddings=514,
        )

    def forward(self, input_ids, attention_mask=None, **kwargs):
        a, g, t = 6, 8, 9  # SpliceBERT vocabulary
        nxt1, nxt2 = torch.roll(input_ids, -1, 1), torch.roll(input_ids, -2, 1)
        prv1, prv2 = torch.roll(input_ids, 1, 1), torch.roll(input_ids, 2, 1)
        donor = ((nxt1 == g) & (nxt2 == t)).float()
        acceptor = ((prv2 == a) & (prv1 == g)).float()
        none = torch.ones_like(donor)
        return SimpleNamespace(logits=torch.stack([none, 2 * acceptor, 2 * donor], -1) * self.scale)
