"""FastaReader on pysam: plain and bgzipped FASTA, and an index that is stale or wrong is rebuilt or refused."""

import gzip
import logging
import os

import pysam
import pytest

from txformers.datasets.genome import FastaIndexError, FastaReader, check_fasta_index, read_transcripts


def _write(path, text):
    path.write_text(text)
    return path


def _age(path, seconds):
    stat = os.stat(path)
    os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))


def test_plain_and_bgzipped_fasta_read_the_same(tmp_path):
    plain = _write(tmp_path / "g.fa", ">chr1 desc\nACGTACGTAA\nccgg\n>2\nTTTTGGGG\n")
    pysam.tabix_compress(str(plain), str(tmp_path / "g.fa.gz"))
    for path in (plain, tmp_path / "g.fa.gz"):
        with FastaReader(path) as fa:
            assert fa.chroms == ["chr1", "2"]
            assert fa.fetch("chr1", 8, 14) == "AACCGG"
            assert fa.fetch("1", 2, 4, strand="-") == "AC"
            assert fa.fetch("chr2", 6, 10, pad="N") == "GGNN"


def test_plain_gzip_is_refused_up_front(tmp_path):
    path = tmp_path / "g.fa.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(">1\nACGT\n")
    with pytest.raises(ValueError, match="bgzip"):
        FastaReader(path)


def test_index_older_than_fasta_is_rebuilt_never_used(tmp_path, caplog):
    """Regression (issue 17, item 7): a .fai left from an earlier FASTA gave wrong bases with exit 0."""
    path = _write(tmp_path / "g.fa", ">1\nAAAAAAAA\n>2\nCCCC\n")
    FastaReader(path).close()
    _age(path.with_name("g.fa.fai"), 100)
    _write(path, ">1\nGGGGTTTTGGGG\n>2\nACGTACGT\n")  # same names, other lengths and offsets
    assert "older" in check_fasta_index(path, str(path) + ".fai")
    with caplog.at_level(logging.WARNING), FastaReader(path) as fa:
        assert fa.fetch("2", 0, 8) == "ACGTACGT"
        assert fa.chrom_length("1") == 12
    assert "Rebuilding the FASTA index" in caplog.text
    assert check_fasta_index(path, str(path) + ".fai") == ""


def test_index_disagreeing_with_fasta_is_caught_even_when_newer(tmp_path):
    path = _write(tmp_path / "g.fa", ">1\nAAAAAAAA\n>2\nCCCC\n")
    fai = tmp_path / "g.fa.fai"
    FastaReader(path).close()
    good = fai.read_text()
    assert "2\t4\t15\t" in good
    fai.write_text(good.replace("2\t4\t15\t", "2\t4\t14\t"))  # offset one byte off
    assert "header" in check_fasta_index(path, fai)
    with pytest.raises(FastaIndexError, match="not trusted"):
        FastaReader(path, rebuild_index=False)
    with FastaReader(path) as fa:  # rebuilt
        assert fa.fetch("2", 0, 4) == "CCCC"
    fai.write_text(good.replace("1\t8\t3\t", "1\t80\t3\t"))  # past the end of the file
    assert "past the end" in check_fasta_index(path, fai)
    fai.write_text("1\tx\n")
    assert "not a FASTA index line" in check_fasta_index(path, fai)


def test_stale_index_in_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = _write(folder / "g.fa", ">1\nAAAA\n")
    FastaReader(path).close()
    _age(folder / "g.fa.fai", 100)
    _write(path, ">1\nGGGGGG\n")
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write into read-only folders")
        with pytest.raises(FastaIndexError, match="not writable"):
            FastaReader(path)
        with FastaReader(path, index_path=tmp_path / "g.fai") as fa:  # an index elsewhere works
            assert fa.fetch("1", 0, 6) == "GGGGGG"
    finally:
        folder.chmod(0o755)


def test_stale_bgzip_index_is_rebuilt(tmp_path):
    plain = _write(tmp_path / "g.fa", ">1\nAAAAAAAA\n")
    gz = tmp_path / "g.fa.gz"
    pysam.tabix_compress(str(plain), str(gz))
    FastaReader(gz).close()
    _age(tmp_path / "g.fa.gz.fai", 100)
    _age(tmp_path / "g.fa.gz.gzi", 100)
    _write(plain, ">1\nCCCCGGGGTT\n")
    pysam.tabix_compress(str(plain), str(gz), force=True)
    with FastaReader(gz) as fa:
        assert fa.fetch("1", 0, 10) == "CCCCGGGGTT"


def test_transcripts_keep_gene_names_and_tags(tmp_path):
    gtf = _write(
        tmp_path / "a.gtf",
        'chr1\tx\ttranscript\t11\t30\t.\t-\t.\tgene_id "G1"; transcript_id "T1"; gene_name "ABC"; '
        'tag "basic"; tag "Ensembl_canonical"; tag "MANE_Select";\n'
        'chr1\tx\texon\t11\t15\t.\t-\t.\tgene_id "G1"; transcript_id "T1";\n',
    )
    (tx,) = read_transcripts(gtf)
    assert (tx.gene_name, tx.tags) == ("ABC", ("basic", "Ensembl_canonical", "MANE_Select"))
    gff = _write(
        tmp_path / "a.gff3",
        "##gff-version 3\n"
        "1\tx\tgene\t11\t30\t.\t+\t.\tID=gene:G1;Name=ABC\n"
        "1\tx\tmRNA\t11\t30\t.\t+\t.\tID=transcript:T1;Parent=gene:G1;tag=basic,Ensembl_canonical\n"
        "1\tx\texon\t11\t15\t.\t+\t.\tParent=transcript:T1\n",
    )
    (tx,) = read_transcripts(gff)
    assert (tx.gene_id, tx.gene_name, tx.tags) == ("G1", "ABC", ("basic", "Ensembl_canonical"))
