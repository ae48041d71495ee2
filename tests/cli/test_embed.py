"""`txformers embed`: SpliceBERT embeddings and masked-nucleotide reconstruction, run as a user would (subprocess)."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from txformers import SpliceBertForMaskedLM


def _txformers(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "txformers.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from txformers import SpliceBertConfig

    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1, hidden_size=16, num_attention_heads=2, intermediate_size=32, max_position_embeddings=66
    )
    SpliceBertForMaskedLM(config).save_pretrained(folder)
    return folder


def test_embed_writes_embeddings_and_report(tmp_path, tiny_model):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">short one\nACGUacgt\nNNGGTAAG\n>long\n" + "ACGTTGCA" * 30 + "\n")
    out = tmp_path / "out" / "emb"
    done = _txformers("embed", fasta, "--model", tiny_model, "--out", out, "--per-nucleotide")
    assert done.returncode == 0, done.stderr
    data = np.load(out.with_suffix(".npz"))
    assert list(data["names"]) == ["short one", "long"] and data["pooled"].shape == (2, 16)
    assert data["per_nucleotide_0"].shape == (16, 16) and data["per_nucleotide_1"].shape == (240, 16)
    report = out.with_suffix(".tsv").read_text().splitlines()
    assert report[0].split("\t") == ["name", "length", "N_count", "masked_accuracy", "masked_tokens"]
    assert report[1].split("\t")[:3] == ["short one", "16", "2"]
    assert "masked-nucleotide reconstruction" in done.stdout


def test_embed_refuses_to_overwrite_and_names_bad_records(tmp_path, tiny_model):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">ok\nACGT\n>broken\nACGXT\n")
    out = tmp_path / "emb"
    done = _txformers("embed", fasta, "--model", tiny_model, "--out", out)
    assert done.returncode == 2
    assert "'broken'" in done.stderr and "'X' at position 3" in done.stderr
    assert not out.with_suffix(".npz").exists()

    fasta.write_text(">ok\nACGT\n")
    out.with_suffix(".tsv").write_text("keep me")
    done = _txformers("embed", fasta, "--model", tiny_model, "--out", out)
    assert done.returncode == 2 and "--overwrite" in done.stderr
    assert out.with_suffix(".tsv").read_text() == "keep me"
    done = _txformers("embed", fasta, "--model", tmp_path / "nowhere", "--out", tmp_path / "x")
    assert done.returncode == 2 and "no model at" in done.stderr


def test_embed_help_lists_examples():
    done = _txformers("embed", "--help")
    assert done.returncode == 0 and "example" in done.stdout
