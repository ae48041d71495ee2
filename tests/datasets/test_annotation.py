"""datasets/annotation.py: transcript choice by tags, SpliceAI's table, sites on both strands, contig matching."""

import pytest

from txformers.datasets.annotation import ContigMap, contig_key, read_annotation


def _gtf_row(chrom, feature, start, end, strand, gene, tx, tags=(), name=None):
    attrs = f'gene_id "{gene}"; transcript_id "{tx}"; gene_name "{name or gene}";' + "".join(
        f' tag "{t}";' for t in tags
    )
    return f"{chrom}\tt\t{feature}\t{start}\t{end}\t.\t{strand}\t.\t{attrs}"


@pytest.fixture
def gtf(tmp_path):
    rows = [  # gene A: a long untagged and a short canonical+MANE transcript; gene B (minus): two, none tagged
        _gtf_row("chr1", "exon", 101, 200, "+", "A", "A.1"),
        _gtf_row("chr1", "exon", 301, 400, "+", "A", "A.1"),
        _gtf_row("chr1", "exon", 501, 900, "+", "A", "A.1"),
        _gtf_row("chr1", "exon", 101, 200, "+", "A", "A.2", ("Ensembl_canonical", "MANE_Select")),
        _gtf_row("chr1", "exon", 301, 350, "+", "A", "A.2", ("Ensembl_canonical", "MANE_Select")),
        _gtf_row("chrM", "exon", 11, 50, "-", "B", "B.1"),
        _gtf_row("chrM", "exon", 81, 120, "-", "B", "B.1"),
        _gtf_row("chrM", "exon", 11, 30, "-", "B", "B.2"),
    ]
    path = tmp_path / "genes.gtf"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_transcript_choice(gtf):
    canonical = {g.name: g for g in read_annotation(gtf).genes}
    assert canonical["A"].transcripts == ["A.2"] and (canonical["A"].start, canonical["A"].end) == (100, 350)
    assert canonical["B"].transcripts == ["B.1"]  # no tag: the longest
    everything = {g.name: g for g in read_annotation(gtf, "all").genes}
    assert sorted(everything["A"].transcripts) == ["A.1", "A.2"] and everything["A"].end == 900
    mane = read_annotation(gtf, "mane")
    assert [g.name for g in mane.genes] == ["A"] and "1 genes have none" in mane.notes[0]


def test_sites_follow_spliceai_convention_on_both_strands(gtf, tmp_path):
    genes = {g.name: g for g in read_annotation(gtf, "all").genes}
    assert genes["A"].donors == {199, 399} and genes["A"].acceptors == {300, 500}
    assert genes["B"].donors == {80} and genes["B"].acceptors == {49}  # minus: donor = genome-left exon start
    table = tmp_path / "t.txt"
    table.write_text(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nB\tchrM\t-\t10\t120\t10,80,\t50,120,\n"
    )
    (row,) = read_annotation(table).genes
    assert (row.donors, row.acceptors) == (genes["B"].donors, genes["B"].acceptors)


def test_overlap_lookup_and_contig_matching(gtf):
    annotation = read_annotation(gtf, "all")
    assert [g.name for g in annotation.overlapping("chr1", 100)] == ["A"]
    assert annotation.overlapping("chr1", 99) == [] and annotation.overlapping("chr1", 900) == []
    assert contig_key("chrM") == contig_key("MT") == "MT" and contig_key("chr1") == contig_key("1")
    contigs = ContigMap(["1", "MT", "2"], annotation.chroms)
    assert contigs.resolve("chr1") == ("1", "chr1") and contigs.resolve("M") == ("MT", "chrM")
    assert contigs.resolve("chrX") == (None, None) and contigs.resolve("2") == ("2", None)
    report = "\n".join(contigs.report(["chrX", "2"]))
    assert "not in the FASTA: chrX" in report and "no annotated gene: 2" in report
