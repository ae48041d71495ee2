"""txformers.tasks.splicing.vcf: delta scores on both strands, indels, skips with reasons, order, bgzip, shards."""

import gzip

import numpy as np
import pysam
import pytest

from tests.tasks.splicing.vcf_fixtures import HEADER, MotifSpliceModel, make_genome, vcf_records, write_inputs
from txformers.datasets.annotation import read_annotation
from txformers.datasets.genome import FastaReader
from txformers.tasks.splicing.vcf import (
    VcfAnnotator,
    VcfOptions,
    align_alt_track,
    annotate_vcf,
    parse_shard,
    shard_bounds,
)
from txformers.tokenizers import NucleotideTokenizer


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vcf")
    genome = make_genome()
    fasta, gtf = write_inputs(folder, genome)
    vcf = folder / "in.vcf"
    vcf.write_text(HEADER + "\n".join(vcf_records(genome)) + "\n")
    return folder, fasta, gtf, vcf


def _factory(fasta, gtf, **options):
    def make():
        return VcfAnnotator(
            MotifSpliceModel(),
            NucleotideTokenizer(),
            FastaReader(fasta),
            read_annotation(gtf),
            VcfOptions(**options),
        )

    return make


def _records(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        return [line for line in handle if not line.startswith("#")]


def _info(line):
    fields = line.rstrip("\n").split("\t")[7].split(";")
    return dict(f.split("=", 1) if "=" in f else (f, "") for f in fields)


def _entries(line):
    return [e.split("|") for e in _info(line).get("SpliceBERT", "").split(",") if e]


def test_align_alt_track_matches_spliceai_rules():
    d = 3
    y = np.arange(2 * d + 1 + 2, dtype=float)[:, None]  # insertion of 2 nt after one ref base
    aligned = align_alt_track(y, 1, 3, d)
    assert aligned.shape == (2 * d + 1, 1) and aligned[d, 0] == y[d : d + 3].max()
    y = np.arange(1, 2 * d + 1 - 2 + 1, dtype=float)[:, None]  # deletion of 2 nt
    aligned = align_alt_track(y, 3, 1, d)
    assert aligned.shape == (2 * d + 1, 1) and aligned[d + 1 : d + 3, 0].tolist() == [0.0, 0.0]


def test_annotated_vcf_keeps_every_line_in_order_with_reasons(inputs, tmp_path):
    folder, fasta, gtf, vcf = inputs
    out, tsv = tmp_path / "out.vcf", tmp_path / "out.tsv"
    summary = annotate_vcf(str(vcf), str(out), _factory(fasta, gtf), tsv=str(tsv), progress=False)
    lines_in, lines_out = _records(vcf), _records(out)
    assert len(lines_out) == len(lines_in) == summary["records"]
    for before, after in zip(lines_in, lines_out):
        cols_in, cols_out = before.rstrip("\n").split("\t"), after.rstrip("\n").split("\t")
        if len(cols_in) < 8:
            assert after == before  # a malformed line passes through untouched
            continue
        assert cols_out[:7] == cols_in[:7] and cols_out[8:] == cols_in[8:]
        assert cols_in[7] == "." or cols_out[7].startswith(cols_in[7] + ";")
    by_id = {line.split("\t")[2]: line for line in lines_out}
    for reason in ("ref_mismatch", "unknown_contig", "outside_genes", "indel_too_long", "n_rich"):
        assert _info(by_id[reason])["SpliceBERT_SKIP"] == reason
    assert _info(by_id["symbolic"])["SpliceBERT_SKIP"] == "symbolic_allele"
    assert summary["skipped"] == {
        "indel_too_long": 1,
        "malformed": 1,
        "n_rich": 1,
        "outside_genes": 1,
        "ref_mismatch": 1,
        "symbolic_allele": 1,
        "unknown_contig": 1,
    }
    assert _entries(by_id["after_bad_lines"])  # the run went on after the bad lines
    for vid in ("deletion", "insertion", "mnp"):
        (entry,) = _entries(by_id[vid])
        assert entry[1] == "G1" and len(entry) == 10
    multi = _entries(by_id["multiallelic"])
    assert [e[0] for e in multi] == by_id["multiallelic"].split("\t")[4].split(",")
    assert any("chrUn" in line for line in summary["contigs"])  # contig matching nothing is reported
    assert any("chr1->1" in line for line in summary["contigs"])
    header = [line for line in out.read_text().splitlines() if line.startswith("##INFO=<ID=SpliceBERT")]
    assert len(header) == 2 and "ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL" in header[0]
    rows = tsv.read_text().splitlines()
    assert rows[0].startswith("chrom\tpos\tid") and len(rows) > len(lines_in)


@pytest.mark.parametrize("vid, gene, position", [("plus_donor_snv", "G1", -1), ("minus_donor_snv", "G2", 1)])
def test_destroyed_donor_scores_high_at_the_right_position(inputs, vid, gene, position):
    folder, fasta, gtf, vcf = inputs
    annotator = _factory(fasta, gtf)()
    lines = [line + "\n" for line in vcf_records(make_genome()) if f"\t{vid}\t" in line]
    ((line, skip, _),) = annotator.annotate(lines)
    assert skip is None
    (entry,) = _entries(line)
    ds_dl, dp_dl = float(entry[5]), int(entry[9])
    assert entry[1] == gene and ds_dl > 0.9 and dp_dl == position
    assert float(entry[4]) < 0.1  # no donor gained


def test_mask_zeroes_losses_at_unannotated_and_keeps_annotated(inputs):
    folder, fasta, gtf, vcf = inputs
    lines = [line + "\n" for line in vcf_records(make_genome()) if "\tplus_donor_snv\t" in line]
    ((line, _, _),) = _factory(fasta, gtf, mask=True)().annotate(lines)
    (entry,) = _entries(line)
    assert float(entry[5]) > 0.9  # 399 is an annotated donor: its loss is kept


def test_bgzip_in_and_out_with_index_and_regions(inputs, tmp_path):
    folder, fasta, gtf, vcf = inputs
    sorted_lines = [line for line in vcf.read_text().splitlines() if "chrUn" not in line and "short_line" not in line]
    body = sorted([line for line in sorted_lines if not line.startswith("#")], key=lambda rec: int(rec.split("\t")[1]))
    plain = tmp_path / "sorted.vcf"
    plain.write_text("\n".join([line for line in sorted_lines if line.startswith("#")] + body) + "\n")
    gz = pysam.tabix_index(str(plain), preset="vcf", keep_original=True)
    out = tmp_path / "out.vcf.gz"
    summary = annotate_vcf(gz, str(out), _factory(fasta, gtf), progress=False)
    assert summary["records"] == len(body)
    assert (tmp_path / "out.vcf.gz.tbi").exists()
    with pysam.VariantFile(str(out)) as reader:
        assert "SpliceBERT" in reader.header.info
        assert len(list(reader.fetch("chr1", 0, 3000))) == len(body)
    region = tmp_path / "region.vcf"
    summary = annotate_vcf(gz, str(region), _factory(fasta, gtf), regions=["chr1:1-1000"], progress=False)
    assert summary["records"] == sum(int(line.split("\t")[1]) <= 1000 for line in body)


def test_shards_join_to_the_whole(inputs, tmp_path):
    folder, fasta, gtf, vcf = inputs
    whole = tmp_path / "whole.vcf"
    annotate_vcf(str(vcf), str(whole), _factory(fasta, gtf), progress=False, records_per_batch=4)
    parts = []
    for k in (1, 2, 3):
        part = tmp_path / f"part{k}.vcf"
        annotate_vcf(str(vcf), str(part), _factory(fasta, gtf), shard=(k, 3), progress=False)
        parts += _records(part)
    assert parts == _records(whole)
    assert [shard_bounds(10, k, 3) for k in (1, 2, 3)] == [(0, 3), (3, 6), (6, 10)]
    assert parse_shard("2/5") == (2, 5)
    with pytest.raises(ValueError):
        parse_shard("0/5")


def test_kl_context_for_snvs_only(inputs):
    import torch

    from txformers import SpliceBertConfig, SpliceBertForMaskedLM

    folder, fasta, gtf, vcf = inputs
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1, hidden_size=32, num_attention_heads=4, intermediate_size=64, max_position_embeddings=514
    )
    annotator = VcfAnnotator(
        MotifSpliceModel(),
        NucleotideTokenizer(),
        FastaReader(fasta),
        read_annotation(gtf),
        VcfOptions(kl_context=True),
        mlm=SpliceBertForMaskedLM(config).eval(),
    )
    wanted = ("plus_donor_snv", "minus_donor_snv", "deletion")
    lines = [line + "\n" for line in vcf_records(make_genome()) if line.split("\t")[2] in wanted]
    results = {line.split("\t")[2]: _info(line) for line, _, _ in annotator.annotate(lines)}
    for vid in wanted[:2]:
        allele, symbol, score = results[vid]["SpliceBERT_KL"].split("|")
        assert np.isfinite(float(score)) and symbol in ("G1", "G2")
    assert "SpliceBERT_KL" not in results["deletion"]
    assert "SpliceBERT_KL" in "".join(annotator.header_lines("m"))


def test_worker_processes_give_the_same_output(inputs, tmp_path):
    import torch

    from txformers import SpliceBertConfig, SpliceBertForTokenClassification
    from txformers.tasks.splicing.vcf import AnnotatorFactory

    folder, fasta, gtf, vcf = inputs
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=514,
        num_labels=3,
        id2label={0: "none", 1: "acceptor", 2: "donor"},
        label2id={"none": 0, "acceptor": 1, "donor": 2},
    )
    SpliceBertForTokenClassification(config).save_pretrained(tmp_path / "model")
    factory = AnnotatorFactory(str(tmp_path / "model"), str(fasta), read_annotation(gtf), VcfOptions(), device="cpu")
    one, two = tmp_path / "one.vcf", tmp_path / "two.vcf"
    annotate_vcf(str(vcf), str(one), factory, progress=False, records_per_batch=3)
    annotate_vcf(str(vcf), str(two), factory, progress=False, records_per_batch=3, workers=2)
    assert one.read_text() == two.read_text()


def test_non_finite_model_outputs_skip_the_record_or_stop_the_run(inputs, tmp_path, monkeypatch):
    """Issue 17 item 11: a record whose probability track holds NaN is passed through with
    SpliceBERT_SKIP=non_finite_score; when every track is NaN the model is at fault: an error, nothing written."""
    from txformers.io import UserError

    folder, fasta, gtf, vcf = inputs
    lines = [line + "\n" for line in vcf_records(make_genome()) if "\tplus_donor_snv\t" in line or "\tmnp\t" in line]
    annotator = _factory(fasta, gtf)()
    real = annotator._tracks
    poisoned = []

    def tracks(sequences):
        result = real(sequences)
        key = next(key for key in result if key in poisoned or not poisoned)
        poisoned.append(key)
        result[key] = np.full_like(result[key], np.nan)
        return result

    monkeypatch.setattr(annotator, "_tracks", tracks)
    results = annotator.annotate(lines)
    assert [skip for _, skip, _ in results] == ["non_finite_score", None]
    assert _info(results[0][0])["SpliceBERT_SKIP"] == "non_finite_score" and _entries(results[1][0])

    monkeypatch.setattr(annotator, "_tracks", lambda sequences: {s: np.full((len(s), 2), np.nan) for s in sequences})
    with pytest.raises(UserError, match="NaN or infinite"):
        annotator.annotate(lines)
