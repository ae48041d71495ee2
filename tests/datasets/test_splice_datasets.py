"""Splicing dataset builders: pre-mRNA, splice sites, splice variants, branchpoints.

Core tests build tiny genomes / annotations / tables in tmp_path; the real-data tests skip when
../shared/data is absent.
"""

import gzip
import itertools
import logging
import random
import re
import zlib

import datasets
import pytest

from tests.conftest import SHARED_DATA, requires_shared_data
from txformers.datasets.branchpoints import BranchpointsBuilder, read_branchpoint_bed
from txformers.datasets.genome import FastaReader, read_transcripts, reverse_complement
from txformers.datasets.premrna import PreMrnaBuilder, fragment_bounds
from txformers.datasets.splice_sites import SpliceSitesBuilder, crop_window
from txformers.datasets.splice_variants import SpliceVariantsBuilder, diff_variant, read_vexseq_rows

SPLICE = SHARED_DATA / "splice"


@pytest.fixture(autouse=True, scope="module")
def _quiet_progress_bars():
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def _build(builder_cls, tmp_path, split=None, **kwargs):
    builder = builder_cls(cache_dir=str(tmp_path / "cache"), **kwargs)
    builder.download_and_prepare()
    return builder, builder.as_dataset(split=split)


def _build_error(builder_cls, tmp_path, **kwargs) -> Exception:
    """The root error of a failed build (`datasets` wraps errors raised while generating examples)."""
    with pytest.raises(Exception) as info:
        _build(builder_cls, tmp_path, **kwargs)
    error = info.value
    if isinstance(error, datasets.exceptions.DatasetGenerationError):
        error = error.__cause__
    return error


def _random_dna(n, seed):
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


def _write_fasta(path, records, width=60):
    with open(path, "w") as f:
        for name, seq in records.items():
            f.write(f">{name}\n")
            for i in range(0, len(seq), width):
                f.write(seq[i : i + width] + "\n")
    return str(path)


# chr3 is short and written out so the minus-strand transcript can be checked by hand.
CHR3 = "TTTTACGGATCCAATTGCCGAAAA"
#          ^ 1-based 5..16 = "ACGGATCCAATT" -> reverse complement "AATTGGATCCGT"


@pytest.fixture
def genome(tmp_path):
    seqs = {"chr1": _random_dna(3000, 1), "chr2": _random_dna(1500, 2), "chr3": CHR3}
    return _write_fasta(tmp_path / "genome.fa", seqs), seqs


GTF = """\
#!comment
chr1\tt\tgene\t101\t1000\t.\t+\t.\tgene_id "G1";
chr1\tt\ttranscript\t101\t900\t.\t+\t.\tgene_id "G1"; transcript_id "T1"; transcript_type "protein_coding";
chr1\tt\texon\t101\t200\t.\t+\t.\tgene_id "G1"; transcript_id "T1";
chr1\tt\texon\t801\t900\t.\t+\t.\tgene_id "G1"; transcript_id "T1";
chr1\tt\ttranscript\t301\t1000\t.\t+\t.\tgene_id "G1"; transcript_id "T2"; transcript_type "lncRNA";
chr1\tt\texon\t301\t1000\t.\t+\t.\tgene_id "G1"; transcript_id "T2";
chr2\tt\ttranscript\t201\t1400\t.\t-\t.\tgene_id "G2"; transcript_id "T3"; transcript_type "protein_coding";
chr2\tt\texon\t201\t1400\t.\t-\t.\tgene_id "G2"; transcript_id "T3";
chr3\tt\ttranscript\t5\t16\t.\t-\t.\tgene_id "G3"; transcript_id "T4"; transcript_type "protein_coding";
chr3\tt\texon\t5\t16\t.\t-\t.\tgene_id "G3"; transcript_id "T4";
"""

GFF3 = """\
##gff-version 3
chr1\tt\tgene\t101\t1000\t.\t+\t.\tID=gene:G1;gene_id=G1
chr1\tt\tmRNA\t101\t900\t.\t+\t.\tID=transcript:T1;Parent=gene:G1;transcript_id=T1;biotype=protein_coding
chr1\tt\texon\t101\t200\t.\t+\t.\tParent=transcript:T1
chr1\tt\tCDS\t120\t200\t.\t+\t0\tID=CDS:T1;Parent=transcript:T1
chr1\tt\texon\t801\t900\t.\t+\t.\tParent=transcript:T1
chr1\tt\tlnc_RNA\t301\t1000\t.\t+\t.\tID=transcript:T2;Parent=gene:G1;transcript_id=T2;biotype=lncRNA
chr1\tt\texon\t301\t1000\t.\t+\t.\tParent=transcript:T2
chr2\tt\tgene\t201\t1400\t.\t-\t.\tID=gene:G2;gene_id=G2
chr2\tt\tmRNA\t201\t1400\t.\t-\t.\tID=transcript:T3;Parent=gene:G2;transcript_id=T3;biotype=protein_coding
chr2\tt\texon\t201\t1400\t.\t-\t.\tParent=transcript:T3
chr3\tt\tgene\t5\t16\t.\t-\t.\tID=gene:G3;gene_id=G3
chr3\tt\tmRNA\t5\t16\t.\t-\t.\tID=transcript:T4;Parent=gene:G3;transcript_id=T4;biotype=protein_coding
chr3\tt\texon\t5\t16\t.\t-\t.\tParent=transcript:T4
"""


@pytest.fixture
def annotations(tmp_path):
    gtf, gff = tmp_path / "ann.gtf", tmp_path / "ann.gff3"
    gtf.write_text(GTF)
    gff.write_text(GFF3)
    return str(gtf), str(gff)


# ------------------------------------------------------------------------------------ genome
def test_fasta_reader_fetches_regions_strands_and_pads(genome, tmp_path):
    path, seqs = genome
    with FastaReader(path) as fa:
        assert fa.fetch("chr1", 57, 190) == seqs["chr1"][57:190]  # crosses line breaks
        assert fa.fetch("1", 0, 5) == seqs["chr1"][:5]  # chr prefix resolved
        assert fa.fetch("chr3", 4, 16, strand="-") == "AATTGGATCCGT"
        assert fa.fetch("chr3", -3, 2, pad="N") == "NNN" + CHR3[:2]
        with pytest.raises(ValueError, match="runs past"):
            fa.fetch("chr3", 20, 30)
        with pytest.raises(KeyError, match="chrZ"):
            fa.fetch("chrZ", 0, 5)
    assert reverse_complement("ACGTN") == "NACGT"


def test_gtf_and_gff3_give_the_same_transcripts(annotations):
    gtf, gff = annotations

    def key(t):
        return (t.transcript_id, t.gene_id, t.chrom, t.start, t.end, t.strand, t.biotype, tuple(t.exons))

    from_gtf, from_gff = sorted(map(key, read_transcripts(gtf))), sorted(map(key, read_transcripts(gff)))
    assert from_gtf == from_gff
    assert from_gtf[0] == ("T1", "G1", "chr1", 100, 900, "+", "protein_coding", ((100, 200), (800, 900)))
    assert [t.transcript_id for t in read_transcripts(gtf, biotypes=["lncRNA"])] == ["T2"]


def test_gtf_without_transcript_rows_spans_exons(tmp_path):
    path = tmp_path / "exons.gtf"
    path.write_text(
        'chr1\tt\texon\t11\t20\t.\t-\t.\tgene_id "G"; transcript_id "T";\n'
        'chr1\tt\texon\t41\t50\t.\t-\t.\tgene_id "G"; transcript_id "T";\n'
    )
    (tx,) = read_transcripts(path)
    assert (tx.transcript_id, tx.gene_id, tx.start, tx.end, tx.exons) == ("T", "G", 10, 50, [(10, 20), (40, 50)])


# ------------------------------------------------------------------------------------ premrna
def _check_fragments_match_genome(ds, seqs):
    for row in ds:
        plus = seqs[row["chrom"]][row["start"] : row["end"]]
        expected = plus if row["strand"] == "+" else reverse_complement(plus)
        assert row["sequence"] == expected, row


def test_premrna_whole_transcripts_with_hand_checked_minus_strand(genome, annotations, tmp_path):
    path, seqs = genome
    _, ds = _build(
        PreMrnaBuilder,
        tmp_path,
        split="train",
        fasta=path,
        annotation=annotations[0],
        unit="transcript",
        chunking="none",
        min_len=1,
    )
    rows = {r["transcript_id"]: r for r in ds}
    assert set(rows) == {"T1", "T2", "T3", "T4"}
    assert rows["T4"]["sequence"] == "AATTGGATCCGT"  # reverse complement of chr3:5-16, by hand
    assert (rows["T4"]["start"], rows["T4"]["end"], rows["T4"]["strand"]) == (4, 16, "-")
    assert rows["T1"]["sequence"] == seqs["chr1"][100:900]
    assert rows["T3"]["sequence"] == reverse_complement(seqs["chr2"][200:1400])
    _check_fragments_match_genome(ds, seqs)


def test_premrna_gff3_equals_gtf(genome, annotations, tmp_path):
    path, _ = genome
    results = []
    for i, annotation in enumerate(annotations):
        _, ds = _build(
            PreMrnaBuilder,
            tmp_path / str(i),
            split="train",
            fasta=path,
            annotation=annotation,
            unit="transcript",
            chunking="random",
            min_len=64,
            max_len=300,
            seed=3,
        )
        results.append(sorted(zip(ds["transcript_id"], ds["gene_id"], ds["start"], ds["end"], ds["sequence"])))
    assert results[0] == results[1] and len(results[0]) > 4


def test_premrna_fixed_chunks_tile_the_transcript_5_to_3(genome, annotations, tmp_path):
    path, seqs = genome
    _, ds = _build(
        PreMrnaBuilder,
        tmp_path,
        split="train",
        fasta=path,
        annotation=annotations[0],
        unit="transcript",
        chunking="fixed",
        fixed_len=510,
        min_len=64,
    )
    _check_fragments_match_genome(ds, seqs)
    t3 = [r for r in ds if r["transcript_id"] == "T3"]  # 1,200 nt on minus: 510 + 510 + 180
    assert [len(r["sequence"]) for r in t3] == [510, 510, 180]
    assert "".join(r["sequence"] for r in t3) == reverse_complement(seqs["chr2"][200:1400])
    assert t3[0]["end"] == 1400  # the first fragment starts at the transcript's 5' end
    assert "T4" not in ds["transcript_id"]  # 12 nt < min_len


def test_premrna_random_lengths_are_bounded_and_seeded(genome, annotations, tmp_path):
    path, seqs = genome
    runs = []
    for seed in (0, 0, 1):
        _, ds = _build(
            PreMrnaBuilder,
            tmp_path / f"run{len(runs)}",
            split="train",
            fasta=path,
            annotation=annotations[0],
            unit="transcript",
            min_len=64,
            max_len=256,
            seed=seed,
        )
        assert all(64 <= len(s) <= 256 for s in ds["sequence"])
        runs.append(list(zip(ds["start"], ds["end"])))
    assert runs[0] == runs[1] and runs[0] != runs[2]
    _check_fragments_match_genome(ds, seqs)
    bounds = fragment_bounds(5000, "random", 64, 1024, rng=random.Random(7))
    assert all(b0[1] == b1[0] for b0, b1 in zip(bounds, bounds[1:]))  # consecutive, no gap


def test_premrna_units_gene_and_longest_and_validation_chroms(genome, annotations, tmp_path):
    path, seqs = genome
    _, ds = _build(
        PreMrnaBuilder,
        tmp_path / "gene",
        fasta=path,
        annotation=annotations[0],
        unit="gene",
        chunking="none",
        min_len=1,
        validation_chroms=["chr2"],
    )
    train = {r["gene_id"]: r for r in ds["train"]}
    assert (train["G1"]["start"], train["G1"]["end"], train["G1"]["transcript_id"]) == (100, 1000, "T1;T2")
    assert ds["validation"]["gene_id"] == ["G2"] and "G2" not in train
    _, ds = _build(
        PreMrnaBuilder,
        tmp_path / "longest",
        split="train",
        fasta=path,
        annotation=annotations[1],
        unit="longest_transcript",
        chunking="none",
        min_len=1,
    )
    assert sorted(ds["transcript_id"]) == ["T1", "T3", "T4"]  # T1 (800 nt) beats T2 (700 nt)


def test_premrna_drops_n_rich_fragments_and_needs_inputs(tmp_path):
    fasta = _write_fasta(tmp_path / "n.fa", {"chr1": "N" * 200 + _random_dna(200, 3)})
    gtf = tmp_path / "a.gtf"
    gtf.write_text('chr1\tt\ttranscript\t1\t400\t.\t+\t.\tgene_id "G"; transcript_id "T";\n')
    _, ds = _build(
        PreMrnaBuilder, tmp_path, split="train", fasta=fasta, annotation=str(gtf), chunking="fixed", fixed_len=100
    )
    assert ds["start"] == [200, 300]
    with pytest.raises(ValueError, match="fasta"):
        _build(PreMrnaBuilder, tmp_path / "x", annotation=str(gtf))


# ------------------------------------------------------------------------------------ splice sites
def _write_splice_layout(root, species="homo_sapiens", n_train=20, n_test=8, splits=("Train", "Test"), bad=0):
    """EnsembleSplice-like files; ``bad`` donor positives of Train get AG instead of GT."""
    raw = {}
    for split in splits:
        (root / species / split).mkdir(parents=True)
        n = n_train if split == "Train" else n_test
        for site, motif in (("Donor", "GT"), ("Acceptor", "AG")):
            for kind in ("Positive", "Negative"):
                lines = []
                for i in range(n):
                    core = "AG" if (split == "Train" and site == "Donor" and kind == "Positive" and i < bad) else motif
                    seq = _random_dna(300, zlib.crc32(f"{split}{site}{kind}{i}".encode())) + core + _random_dna(300, i)
                    raw[(split, site, kind, i)] = seq
                    lines.append(f"> seq {i + 1}\n{seq}\n")
                (root / species / split / f"{site}_{split}_{kind}.txt").write_text("".join(lines))
    return raw


def test_splice_sites_crop_labels_and_centre(tmp_path):
    raw = _write_splice_layout(tmp_path / "data")
    builder, ds = _build(
        SpliceSitesBuilder,
        tmp_path,
        data_dir=str(tmp_path / "data" / "homo_sapiens"),
        crop=400,
        validation_fraction=0.25,
    )
    assert set(ds) == {"train", "validation", "test"}
    test = ds["test"]
    assert test.num_rows == 4 * 8 and builder.invalid_site_counts == {"train": 0, "test": 0}
    assert test.features["label"].names == ["neither", "donor", "acceptor"]
    for row in test:
        species, stem, header = row["id"].split("/")  # homo_sapiens/Donor_Test_Positive/seq 1
        site, _, kind = stem.split("_")
        i = int(header.split()[1]) - 1
        assert row["sequence"] == raw[("Test", site, kind, i)][101:501]
        assert row["site_index"] == 199 and row["sequence"][199:201] == row["motif"]
        assert row["motif"] == ("GT" if site == "Donor" else "AG")
        assert row["is_site"] == (kind == "Positive")
        assert row["site_type"] == (0 if site == "Donor" else 1)
        assert row["label"] == (0 if kind == "Negative" else 1 if site == "Donor" else 2)
        assert row["species"] == "homo_sapiens"
    # the crop leaves 199 nt on each side of the dinucleotide
    seq, index = crop_window(raw[("Test", "Donor", "Positive", 0)], 400)
    assert len(seq[:index]) == len(seq[index + 2 :]) == 199


def test_splice_sites_validation_split_is_stratified_and_seeded(tmp_path):
    _write_splice_layout(tmp_path / "data", n_train=40)
    data_dir = str(tmp_path / "data" / "homo_sapiens")
    _, ds = _build(SpliceSitesBuilder, tmp_path / "a", data_dir=data_dir, validation_fraction=0.25, seed=1)
    train, val = ds["train"], ds["validation"]
    assert not set(train["id"]) & set(val["id"]) and train.num_rows + val.num_rows == 160
    for stratum in itertools.product([0, 1], [0, 1]):
        assert list(zip(val["site_type"], val["is_site"])).count(stratum) == 10
    _, other = _build(SpliceSitesBuilder, tmp_path / "b", data_dir=data_dir, validation_fraction=0.25, seed=2)
    assert set(other["validation"]["id"]) != set(val["id"])
    _, no_val = _build(
        SpliceSitesBuilder,
        tmp_path / "c",
        data_dir=data_dir,
        validation_fraction=0,
        crop=None,
        site_types=("acceptor",),
    )
    assert set(no_val) == {"train", "test"} and no_val["train"].num_rows == 80
    assert set(no_val["train"]["site_type"]) == {1} and len(no_val["train"][0]["sequence"]) == 602


def test_splice_sites_reports_windows_without_gt_ag(tmp_path, caplog):
    _write_splice_layout(tmp_path / "data", bad=3)
    data_dir = str(tmp_path / "data" / "homo_sapiens")
    with caplog.at_level(logging.WARNING):
        builder, ds = _build(SpliceSitesBuilder, tmp_path / "warn", data_dir=data_dir, validation_fraction=0)
    assert builder.invalid_site_counts["train"] == 3 and ds["train"].num_rows == 80
    assert ds["train"]["motif"].count("AG") == 40 + 3 and "3 train window(s) lack GT" in caplog.text
    builder, ds = _build(
        SpliceSitesBuilder, tmp_path / "drop", data_dir=data_dir, validation_fraction=0, invalid_sites="drop"
    )
    assert ds["train"].num_rows == 77 and builder.invalid_site_counts["train"] == 3
    error = _build_error(SpliceSitesBuilder, tmp_path / "error", data_dir=data_dir, invalid_sites="error")
    assert isinstance(error, ValueError)
    assert re.search(r"3 train window\(s\) lack GT.*Donor_Train_Positive/seq 1", str(error))
    with pytest.raises(ValueError, match="even"):
        SpliceSitesBuilder(data_dir=data_dir, crop=401, cache_dir=str(tmp_path / "odd"))


def test_splice_sites_several_species_and_test_only_species(tmp_path):
    _write_splice_layout(tmp_path / "data", "homo_sapiens")
    _write_splice_layout(tmp_path / "data", "arabidopsis_thaliana", splits=("Test",))
    _, ds = _build(SpliceSitesBuilder, tmp_path, data_dir=str(tmp_path / "data"))
    assert set(ds["test"]["species"]) == {"homo_sapiens", "arabidopsis_thaliana"}
    assert set(ds["train"]["species"]) == {"homo_sapiens"}
    _, only = _build(
        SpliceSitesBuilder, tmp_path / "ath", data_dir=str(tmp_path / "data"), species="arabidopsis_thaliana"
    )
    assert set(only) == {"test"} and only["test"].num_rows == 32


@requires_shared_data
def test_splice_sites_real_ensemblesplice_counts(tmp_path):
    builder, ds = _build(SpliceSitesBuilder, tmp_path, data_dir=str(SPLICE / "ensemblesplice_600nt" / "homo_sapiens"))
    assert builder.invalid_site_counts == {"train": 0, "test": 0}
    for splits, per_file in ((("train", "validation"), 6400), (("test",), 1600)):
        pairs = [p for s in splits for p in zip(ds[s]["site_type"], ds[s]["is_site"])]
        assert {p: pairs.count(p) for p in set(pairs)} == {p: per_file for p in itertools.product([0, 1], [0, 1])}
    assert {len(s) for s in ds["test"]["sequence"]} == {400}
    assert {s[199:201] for s in ds["validation"]["sequence"]} == {"GT", "AG"}


# ------------------------------------------------------------------------------------ variants
def test_diff_variant_snv_indel_and_errors():
    assert diff_variant("AAACAAA", "AAAGAAA") == (3, "C", "G")
    assert diff_variant("ACGTTTG", "ACGTTG") == (3, "T", "")  # left-aligned deletion
    assert diff_variant("ACG", "ACTTG") == (2, "", "TT")
    with pytest.raises(ValueError, match=r"row7.*differ at 2 positions \(1, 4\)"):
        diff_variant("AAAAAA", "ACAACA", name="row7")
    with pytest.raises(ValueError, match="0 positions"):
        diff_variant("ACGT", "ACGT")


MAPSY_HEADER = "ID,WT_SEQ,MUT_SEQ,Exon_Start,Exon_End,chr,strand,log2_vivo_ratio,log2_vitro_ratio,ESM,donor,acceptor\n"


def _mapsy_row(rid, wt, mut, esm, vivo="-0.5"):
    # exon = wt[20:40] (20 nt); acceptor motif ends at 20, donor motif starts at 40
    return f"{rid},{wt},{mut},1001,1020,chr1,+,{vivo},0.25,{esm},{wt[40:55]},{wt[5:20]}\n"


def test_mapsy_table_pairs(tmp_path):
    wt = _random_dna(60, 5)
    mut = wt[:25] + ("A" if wt[25] != "A" else "C") + wt[26:]
    table = tmp_path / "mapsy.txt"
    table.write_text(MAPSY_HEADER + _mapsy_row("V1", wt, mut, 1) + _mapsy_row("V2", wt, wt[:30] + wt[31:], 0, vivo=""))
    _, ds = _build(SpliceVariantsBuilder, tmp_path, split="train", config_name="mapsy", table=str(table))
    v1, v2 = ds[0], ds[1]
    assert (v1["variant_pos"], v1["ref"], v1["alt"]) == (25, wt[25], mut[25])
    assert (v1["exon_start"], v1["exon_end"], v1["label"], v1["log2_vivo_ratio"]) == (20, 40, 1, -0.5)
    assert v2["mut_sequence"] == wt[:30] + wt[31:] and len(v2["ref"]) - len(v2["alt"]) == 1
    assert v2["wt_sequence"][v2["variant_pos"] :].startswith(v2["ref"]) and v2["log2_vivo_ratio"] is None
    bad = tmp_path / "bad" / "mapsy.txt"
    bad.parent.mkdir()
    bad.write_text(MAPSY_HEADER + _mapsy_row("TWO_SNVS", wt, "T" + mut[1:] if wt[0] != "T" else "G" + mut[1:], 0))
    error = _build_error(SpliceVariantsBuilder, tmp_path / "bad", config_name="mapsy", data_dir=str(bad.parent))
    assert isinstance(error, ValueError) and "TWO_SNVS" in str(error)


@pytest.fixture
def variant_genome(tmp_path):
    seqs = {"chr1": _random_dna(2000, 11), "chr7": _random_dna(1000, 12)}
    return _write_fasta(tmp_path / "g.fa", seqs), seqs


def test_genome_variant_windows_plus_minus_indel(variant_genome, tmp_path):
    path, seqs = variant_genome
    c1 = seqs["chr1"]
    alt = "A" if c1[999] != "A" else "G"
    deletion = c1[1499:1502]  # VCF-style: anchor base + 2 deleted
    table = tmp_path / "v.tsv"
    table.write_text(
        "id\tchrom\tpos\tref\talt\tstrand\texon_start\texon_end\tlabel\tscore\n"
        f"plus\tchr1\t1000\t{c1[999]}\t{alt}\t+\t1011\t1060\t1\t0.5\n"
        f"minus\tchr1\t1000\t{c1[999]}\t{alt}\t-\t1011\t1060\t0\t\n"
        f"del\tchr1\t1500\t{deletion}\t{deletion[0]}\t-\t\t\t\t\n"
    )
    _, ds = _build(
        SpliceVariantsBuilder, tmp_path, split="train", config_name="genome", table=str(table), fasta=path, window=100
    )
    plus, minus, dele = ds[0], ds[1], ds[2]
    assert plus["wt_sequence"] == c1[949:1049] and plus["variant_pos"] == 50
    assert plus["mut_sequence"] == c1[949:999] + alt + c1[1000:1049]
    assert (plus["exon_start"], plus["exon_end"], plus["label"], plus["score"]) == (61, 111, 1, 0.5)
    assert minus["wt_sequence"] == reverse_complement(c1[949:1049])
    assert minus["variant_pos"] == 49 and minus["ref"] == reverse_complement(c1[999])
    assert minus["mut_sequence"][49] == reverse_complement(alt)
    assert (minus["exon_start"], minus["exon_end"], minus["label"], minus["score"]) == (-11, 39, 0, None)
    assert len(dele["wt_sequence"]) == 100 and len(dele["mut_sequence"]) == 98
    assert dele["exon_start"] == -1 and dele["label"] == -1
    for row in ds:
        assert row["wt_sequence"][row["variant_pos"] :].startswith(row["ref"])
        assert row["mut_sequence"][row["variant_pos"] :].startswith(row["alt"])


def test_genome_variant_ref_mismatch_names_the_variant(variant_genome, tmp_path):
    path, seqs = variant_genome
    wrong = "A" if seqs["chr7"][99] != "A" else "C"
    table = tmp_path / "v.csv"
    table.write_text(f"chrom,pos,ref,alt,label\nchr7,100,{wrong},G,1\n")
    error = _build_error(SpliceVariantsBuilder, tmp_path, config_name="genome", table=str(table), fasta=path, window=50)
    assert isinstance(error, ValueError)
    assert re.search(rf"chr7_100_{wrong}_G.*has '{seqs['chr7'][99]}' at chr7:100, not the ref '{wrong}'", str(error))


def test_genome_variant_vcf_and_exon_centring(variant_genome, tmp_path):
    path, seqs = variant_genome
    c7 = seqs["chr7"]
    vcf = tmp_path / "v.vcf.gz"
    with gzip.open(vcf, "wt") as f:
        f.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        f.write(f"chr7\t300\trs1\t{c7[299]}\tA,C\t.\t.\tLABEL=1;STRAND=-;EXON_START=321;EXON_END=400\n")
    _, ds = _build(
        SpliceVariantsBuilder,
        tmp_path,
        split="train",
        config_name="genome",
        table=str(vcf),
        fasta=path,
        window=200,
        center="exon",
    )
    assert ds.num_rows == 2 and ds["alt"] == [reverse_complement("A"), reverse_complement("C")]
    row = ds[0]
    # exon 321-400 (1-based) -> 0-based [320, 400), centre 360: window [260, 460), reverse-complemented
    assert row["wt_sequence"] == reverse_complement(c7[260:460])
    assert (row["exon_start"], row["exon_end"], row["variant_pos"], row["label"]) == (60, 140, 160, 1)


def test_vexseq_layout_on_a_tiny_genome(variant_genome, tmp_path):
    path, seqs = variant_genome
    c1 = seqs["chr1"]
    vex = tmp_path / "vexseq"
    vex.mkdir()
    (vex / "HepG2_delta_PSI_CAGI_training.csv").write_text(
        "ID,seqnames,start,end,width,strand,hg19_variant_position,reference,variant,HepG2_delta_psi,HepG2_ref_psi\n"
        f"chr1_500_{c1[499]}_T,chr1,521,580,60,+,500,{c1[499]},T,-30.5,80.0\n"
        f"chr1_600_{c1[599:601]}_{c1[599]},chr1,521,580,60,+,600,{c1[599:601]},{c1[599]},3.0,80.0\n"
    )
    (vex / "HepG2_delta_PSI_CAGI_testing.csv").write_text(
        "seqnames,start,end,width,strand,ID,hg19_variant_position,reference,variant,HepG2_ref_psi\n"
        f"chr1,1201,1260,60,-,chr1_1250_{c1[1249]}_G,1250,{c1[1249]},G,50.0\n"
    )
    (vex / "Vexseq_HepG2_delta_PSI_CAGI_test_true.tsv").write_text(
        "ID\tchromosome\thg19_variant_position\treference\tvariant\texon_start\texon_end\tHepG2_delta_psi\n"
        f"chr1_1250_{c1[1249]}_G\tchr1\t1250\t{c1[1249]}\tG\t1201\t1260\t-10.0\n"
    )
    _, ds = _build(SpliceVariantsBuilder, tmp_path, config_name="vexseq", data_dir=str(vex), fasta=path, window=200)
    train, test = ds["train"], ds["test"]
    assert train["label"] == [1, 0] and train["delta_psi"] == [-30.5, 3.0]
    assert train[0]["wt_sequence"] == c1[399:599] and (train[0]["exon_start"], train[0]["exon_end"]) == (121, 181)
    assert len(train[1]["mut_sequence"]) == 199
    assert test[0]["label"] == 0 and test[0]["delta_psi"] == -10.0 and test[0]["ref_psi"] == 50.0
    assert test[0]["wt_sequence"] == reverse_complement(c1[1149:1349])
    _, snvs = _build(
        SpliceVariantsBuilder,
        tmp_path / "snv",
        split="train",
        config_name="vexseq",
        data_dir=str(vex),
        fasta=path,
        window=200,
        snv_only=True,
        sdv_threshold=-40.0,
    )
    assert snvs["id"] == [f"chr1_500_{c1[499]}_T"] and snvs["label"] == [0]


@requires_shared_data
def test_real_mapsy_table(tmp_path):
    _, ds = _build(SpliceVariantsBuilder, tmp_path, split="train", config_name="mapsy", data_dir=str(SPLICE / "mapsy"))
    df = ds.to_pandas()
    assert len(df) == 4951 and int(df["label"].sum()) == 440
    assert (df["ref"].str.len() == 1).all() and (df["alt"].str.len() == 1).all()
    assert (df["exon_start"] >= 0).all()
    # MaPSy variants are exonic: every diffed position falls inside the exon found from the motifs
    assert ((df["variant_pos"] >= df["exon_start"]) & (df["variant_pos"] < df["exon_end"])).all()
    assert df["log2_vivo_ratio"].isna().sum() == 132


@requires_shared_data
def test_real_vexseq_tables_parse_without_a_genome():
    vex = SPLICE / "vexseq"
    train = read_vexseq_rows([str(vex / "HepG2_delta_PSI_CAGI_training.csv")], sdv_threshold=-24.0)
    test = read_vexseq_rows(
        [str(vex / "HepG2_delta_PSI_CAGI_testing.csv"), str(vex / "Vexseq_HepG2_delta_PSI_CAGI_test_true.tsv")],
        sdv_threshold=-24.0,
    )
    assert (len(train), len(test)) == (957, 1098)
    assert all(r["label"] in (0, 1) for r in train + test)  # every test variant got its dPSI
    assert all(r["exon_start"] <= r["exon_end"] and r["strand"] in "+-" for r in train + test)
    assert len({r["id"] for r in test}) == 1098 and 0 < sum(r["label"] for r in train) < 957


# ------------------------------------------------------------------------------------ branchpoints
def _bed_labels(positives, n=27, ignore=()):
    return ",".join("1" if i in positives else "-100" if i in ignore else "0" for i in range(n))


def test_branchpoint_windows_plus_minus_and_filtering(variant_genome, tmp_path):
    path, seqs = variant_genome
    c1 = seqs["chr1"]
    bed = tmp_path / "bp.bed"
    bed.write_text(
        f"chr1\t1000\t1027\tT1|bp|A\t{_bed_labels({5}, ignore={0})}\t+\n"
        f"chr1\t1200\t1227\tT2|bp|A\t{_bed_labels({3})}\t-\n"
        f"chr1\t1400\t1427\tT3|bp|A\t{_bed_labels(set())}\t+\n"  # no positive
        f"chr7\t500\t524\tT4|bp|A\t{_bed_labels({0}, n=24)}\t-\n"  # truncated (24 nt)
    )
    _, ds = _build(BranchpointsBuilder, tmp_path / "a", split="train", bed=str(bed), fasta=path)
    assert ds["name"] == ["T1|bp|A", "T2|bp|A", "T4|bp|A"]
    plus, minus, short = ds[0], ds[1], ds[2]
    for row in ds:
        assert len(row["sequence"]) == len(row["labels"]) == 510 and row["region_start"] == 241
        inside = row["labels"][241:268]
        assert row["labels"][:241] == [-100] * 241 and row["labels"][268:] == [-100] * 242
        assert 1 in inside
    assert plus["sequence"] == c1[759:1269] and plus["labels"][241 + 5] == 1 and plus["labels"][241] == -100
    # minus: reverse complement; genomic offset 3 of the region lands at 241 + (26 - 3)
    assert (minus["start"], minus["end"]) == (1200 - 242, 1227 + 241)
    assert minus["sequence"] == reverse_complement(c1[958:1468])
    assert minus["labels"].index(1) == 241 + 23
    assert minus["sequence"][241 + 23] == reverse_complement(c1[1203])
    # the truncated minus region is extended upstream (genomic right) with -100
    assert short["end"] - short["start"] == 510 and short["labels"][241:244] == [-100] * 3
    assert short["labels"].index(1) == 241 + 26
    _, all_rows = _build(
        BranchpointsBuilder, tmp_path / "b", bed=str(bed), fasta=path, keep_all=True, validation_chroms=["chr7"]
    )
    assert all_rows["train"].num_rows == 3 and all_rows["validation"]["chrom"] == ["chr7"]


def test_branchpoint_bed_errors_and_padding(variant_genome, tmp_path):
    path, _ = variant_genome
    bed = tmp_path / "bad.bed"
    bed.write_text(f"chr1\t10\t37\tx\t{_bed_labels({1}, n=26)}\t+\n")
    with pytest.raises(ValueError, match="26 labels for a 27-nt region"):
        list(read_branchpoint_bed(str(bed)))
    edge = tmp_path / "edge.bed"
    edge.write_text(f"chr7\t10\t37\tx\t{_bed_labels({1})}\t+\n")
    _, ds = _build(BranchpointsBuilder, tmp_path, split="train", bed=str(edge), fasta=path)
    assert ds[0]["sequence"].startswith("N" * 231) and len(ds[0]["sequence"]) == 510


@requires_shared_data
def test_real_mercer_bed_parses_without_a_genome():
    bed = str(SPLICE / "splicebert_mercer_bp" / "mercer_dataset.hg19.bed.gz")
    first = list(itertools.islice(read_branchpoint_bed(bed, keep_all=True), 5))
    assert [r["chrom"] for r in first] == ["chr1"] * 5 and all(len(r["labels"]) == 27 for r in first)
    kept = list(read_branchpoint_bed(bed))
    assert len(kept) == 37321 and all(1 in r["labels"] and r["end"] - r["start"] == 27 for r in kept)
    assert sum(r["labels"].count(1) for r in kept) == 55739
