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
    assert list(data["names"]) == ["short", "long"] and data["pooled"].shape == (2, 16)  # names: first word
    assert data["per_nucleotide_0"].shape == (16, 16) and data["per_nucleotide_1"].shape == (240, 16)
    report = out.with_suffix(".tsv").read_text().splitlines()
    assert report[0].split("\t") == ["name", "length", "N_count", "masked_accuracy", "masked_tokens"]
    assert report[1].split("\t")[:3] == ["short", "16", "2"]
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


def test_embed_cells_writes_an_embedding_for_every_cell(tmp_path):
    import anndata

    from txformers.hub import REPO_ROOT

    source = REPO_ROOT / "examples" / "immune_cells.h5ad"
    renamed = tmp_path / "cells.data"  # judged by content, not by extension
    renamed.write_bytes(source.read_bytes())
    out = tmp_path / "out" / "X"
    done = _txformers("embed", renamed, "--out", out, "--npy")
    assert done.returncode == 0, done.stderr
    cells = anndata.read_h5ad(source)
    written = anndata.read_h5ad(out.with_name("X.h5ad"))
    embeddings = written.obsm["X_cellformer"]
    assert embeddings.shape[0] == cells.n_obs and np.isfinite(embeddings).all()
    assert list(written.obs_names) == list(cells.obs_names)
    np.testing.assert_allclose(np.load(out.with_name("X.npy")), embeddings)
    assert "coverage" in done.stdout and "LOAD REPORT" not in done.stderr
    assert renamed.read_bytes() == source.read_bytes()  # the input is never modified
    again = _txformers("embed", renamed, "--out", out)
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_embed_cells_names_genes_that_match_nothing(tmp_path):
    import anndata

    cells = anndata.AnnData(np.ones((3, 4), dtype=np.float32))
    cells.var_names = ["gene_a", "gene_b", "gene_c", "gene_d"]
    path = tmp_path / "cells.h5ad"
    cells.write_h5ad(path)
    done = _txformers("embed", path, "--out", tmp_path / "X")
    assert done.returncode == 2 and "none of the model's" in done.stderr and "Traceback" not in done.stderr


def test_embed_rejects_binary_that_is_neither_fasta_nor_anndata(tmp_path):
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(256)) * 4)
    done = _txformers("embed", path, "--out", tmp_path / "X")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_embed_cells_flags_cells_with_no_expression_and_warns_once(tmp_path, capsys):
    """Issue 17 item 8: an all-zero cell, or one expressing only genes the model does not know, still gets an
    embedding; it is flagged in obs['cellformer_flag'] and one warning counts them."""
    import anndata
    import pandas as pd

    from txformers.cli import main
    from txformers.hub import REPO_ROOT

    cells = anndata.read_h5ad(REPO_ROOT / "examples" / "immune_cells.h5ad")[:6].copy()
    matrix = np.asarray(cells.X.todense() if hasattr(cells.X, "todense") else cells.X, dtype=np.float32)
    matrix = np.concatenate([matrix, np.zeros((6, 1), np.float32)], axis=1)
    matrix[1] = 0
    matrix[4] = 0
    matrix[4, -1] = 5.0  # only a gene outside the vocabulary
    bad = anndata.AnnData(matrix, obs=cells.obs, var=pd.DataFrame(index=[*cells.var_names, "NOT_A_GENE_17"]))
    bad.write_h5ad(tmp_path / "cells.h5ad")
    assert main(["embed", str(tmp_path / "cells.h5ad"), "--out", str(tmp_path / "X"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "2 of 6 cells are flagged" in err
    assert "1 all-zero expression" in err and "1 no expressed model genes" in err
    flags = anndata.read_h5ad(tmp_path / "X.h5ad").obs["cellformer_flag"].astype(str).tolist()
    assert flags[1] == "all-zero expression" and flags[4] == "no expressed model genes"
    assert [flag for i, flag in enumerate(flags) if i not in (1, 4)] == [""] * 4
