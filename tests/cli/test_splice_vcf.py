"""`txformers splice vcf`: run as a user would, with a tiny random per-nucleotide model the test saves."""

import gzip
import subprocess
import sys

import pytest
import torch

from tests.tasks.splicing.vcf_fixtures import HEADER, make_genome, vcf_records, write_inputs
from txformers import SpliceBertConfig, SpliceBertForTokenClassification
from txformers.cli import main


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_vcf")
    genome = make_genome()
    fasta, gtf = write_inputs(folder, genome)
    vcf = folder / "in.vcf"
    vcf.write_text(HEADER + "\n".join(vcf_records(genome)) + "\n")
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=258,
        num_labels=3,
        id2label={0: "none", 1: "acceptor", 2: "donor"},
        label2id={"none": 0, "acceptor": 1, "donor": 2},
    )
    model = folder / "nt_model"
    SpliceBertForTokenClassification(config).save_pretrained(model)
    return folder, fasta, gtf, vcf, model


def test_cli_writes_bgzipped_vcf_and_tsv(setup, tmp_path):
    folder, fasta, gtf, vcf, model = setup
    out, tsv = tmp_path / "out.vcf.gz", tmp_path / "out.tsv"
    args = ["splice", "vcf", vcf, "--fasta", fasta, "--annotation", gtf, "--out", out, "--tsv", tsv, "--model", model]
    result = subprocess.run(
        [sys.executable, "-m", "txformers.cli", *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "14 records: 7 scored" in result.stdout and "ref_mismatch 1" in result.stdout
    with gzip.open(out, "rt") as handle:
        records = [line for line in handle if not line.startswith("#")]
    assert [r.split("\t")[2] for r in records] == [r.split("\t")[2] for r in vcf_records(make_genome())]
    assert tsv.read_text().startswith("chrom\tpos\tid")
    # the input is never overwritten, an existing output needs --overwrite
    assert main(["splice", "vcf", str(vcf), "--fasta", str(fasta), "--annotation", str(gtf), "--out", str(vcf),
                 "--model", str(model)]) == 2  # fmt: skip


def test_missing_default_model_is_named(setup, tmp_path, capsys, monkeypatch):
    folder, fasta, gtf, vcf, _ = setup
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("txformers.hub.CHECKPOINTS", tmp_path / "no_checkpoints")  # as if not bundled
    code = main(["splice", "vcf", str(vcf), "--fasta", str(fasta), "--annotation", str(gtf), "--out",
                 str(tmp_path / "o.vcf")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "splicebert-small-splice-sites-nt" in err and "--model" in err


def test_model_without_splice_labels_is_refused(setup, tmp_path, capsys):
    folder, fasta, gtf, vcf, _ = setup
    config = SpliceBertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=4, intermediate_size=64)
    bad = tmp_path / "bad"
    SpliceBertForTokenClassification(config).save_pretrained(bad)
    code = main(["splice", "vcf", str(vcf), "--fasta", str(fasta), "--annotation", str(gtf), "--out",
                 str(tmp_path / "o.vcf"), "--model", str(bad)])  # fmt: skip
    assert code == 2 and "none/acceptor/donor" in capsys.readouterr().err
