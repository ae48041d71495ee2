"""Checks every command makes before its work and on its results (issue 17 items 10 and 11): the device,
truncated or non-finite checkpoint weights, unwritable outputs, the FASTA checks of `embed`, NaN outputs."""

import os
import sys

import numpy as np
import pytest
import torch

import txformers.cli
from txformers import SpliceBertConfig, SpliceBertForMaskedLM
from txformers.cli import _checks


@pytest.fixture
def tiny_model(tmp_path):
    folder = tmp_path / "model"
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1, hidden_size=16, num_attention_heads=2, intermediate_size=32, max_position_embeddings=66
    )
    SpliceBertForMaskedLM(config).save_pretrained(folder)
    return folder


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "in.fa"
    path.write_text(">a\nACGTACGTAC\n>b\nGGTAAGTACG\n")
    return path


def _run(argv, capsys):
    code = txformers.cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


def _forbid_model_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the checks")

    monkeypatch.setattr(SpliceBertForMaskedLM, "from_pretrained", refuse)


def test_cuda_without_cuda_is_one_line_before_loading(tmp_path, tiny_model, fasta, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _forbid_model_loading(monkeypatch)
    code, err = _run(["embed", fasta, "--model", tiny_model, "--out", tmp_path / "x", "--device", "cuda"], capsys)
    assert code == 2 and "CUDA is not available" in err and len(err.strip().splitlines()) == 1
    code, err = _run(["embed", fasta, "--model", tiny_model, "--out", tmp_path / "x", "--device", "gpu7"], capsys)
    assert code == 2 and "'gpu7' is not a device" in err
    assert not (tmp_path / "x.npz").exists()


def test_truncated_weights_name_the_file(tmp_path, tiny_model, fasta, capsys, monkeypatch):
    weights = tiny_model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) - 100])
    _forbid_model_loading(monkeypatch)
    code, err = _run(["embed", fasta, "--model", tiny_model, "--out", tmp_path / "x"], capsys)
    assert code == 2 and f"{weights} is truncated" in err and len(err.strip().splitlines()) == 1
    weights.write_bytes(data[:5])
    code, err = _run(["embed", fasta, "--model", tiny_model, "--out", tmp_path / "x"], capsys)
    assert code == 2 and str(weights) in err and "truncated" in err


def test_nan_weights_are_refused_naming_the_checkpoint(tmp_path, fasta, capsys, monkeypatch):
    folder = tmp_path / "nan_model"
    config = SpliceBertConfig(
        num_hidden_layers=1, hidden_size=16, num_attention_heads=2, intermediate_size=32, max_position_embeddings=66
    )
    model = SpliceBertForMaskedLM(config)
    with torch.no_grad():
        model.bert.encoder.layer[0].output.dense.weight[0, 0] = float("nan")
    model.save_pretrained(folder)
    _forbid_model_loading(monkeypatch)
    code, err = _run(["embed", fasta, "--model", folder, "--out", tmp_path / "x"], capsys)
    assert code == 2 and "NaN or infinite" in err and str(folder / "model.safetensors") in err
    assert "encoder.layer.0.output.dense.weight" in err and not (tmp_path / "x.npz").exists()


def test_bf16_nan_weights_are_found(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.tensor([1.0, float("inf")], dtype=torch.bfloat16)}, tmp_path / "a.safetensors")
    save_file({"w": torch.tensor([1.0, 2.0], dtype=torch.bfloat16)}, tmp_path / "b.safetensors")
    with pytest.raises(txformers.cli.UserError, match="NaN or infinite"):
        _checks.check_safetensors(tmp_path / "a.safetensors")
    _checks.check_safetensors(tmp_path / "b.safetensors")


def test_nan_outputs_are_not_written(tmp_path, tiny_model, fasta, capsys, monkeypatch):
    from txformers.models.splicebert import scoring_splicebert

    real = scoring_splicebert.per_nucleotide_outputs

    def nan_outputs(*args, **kwargs):
        return [np.full_like(x, np.nan) for x in real(*args, **kwargs)]

    monkeypatch.setattr(scoring_splicebert, "per_nucleotide_outputs", nan_outputs)
    code, err = _run(["embed", fasta, "--model", tiny_model, "--out", tmp_path / "x"], capsys)
    assert code == 2 and "sequence embeddings" in err and str(tiny_model) in err
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">a\nACGT\n>empty\n>b\nACGT\n", "'empty': the sequence is empty"),
        (">a\nACGT\n>a\nGGTA\n", "the name 'a' is used by more than one record"),
        (">a\nACGT\n>bad\nAC-GT\n", "record 'bad'"),
    ],
)
def test_embed_makes_the_fasta_checks_of_every_command(tmp_path, tiny_model, capsys, monkeypatch, text, message):
    path = tmp_path / "in.fa"
    path.write_text(text)
    _forbid_model_loading(monkeypatch)
    code, err = _run(["embed", path, "--model", tiny_model, "--out", tmp_path / "x"], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_unwritable_output_folder_is_refused_before_the_work(tmp_path, tiny_model, fasta, capsys, monkeypatch):
    _forbid_model_loading(monkeypatch)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code, err = _run(["embed", fasta, "--model", tiny_model, "--out", blocker / "sub" / "x"], capsys)
    assert code == 2 and "is a file, not a folder" in err
    real_access = os.access
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if path == locked else real_access(path, mode))
    code, err = _run(["embed", fasta, "--model", tiny_model, "--out", locked / "x"], capsys)
    assert code == 2 and "not writable" in err and str(locked) in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_check_output_folder_refuses_an_unwritable_parent(tmp_path):
    from txformers.io import UserError, check_output_folder

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="is a file"):
        check_output_folder(blocker / "report", [], overwrite=False)


def _nan_checkpoint(folder):
    """A checkpoint folder whose weights hold a NaN (the weight check reads no other file)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    save_file({"encoder.weight": torch.tensor([1.0, float("nan")])}, folder / "model.safetensors")
    return folder


def test_bundled_default_checkpoints_are_checked_before_the_work(tmp_path, fasta, capsys, monkeypatch):
    """Issue 17 item 10: a command that loads a bundled checkpoint by default (embed without --model, the demo,
    drug fewshot NAME=DIR) checks its weights as it checks --model, before any input is read."""
    import anndata
    import pandas as pd

    import txformers.cli.embed as embed
    import txformers.hub as hub

    _forbid_model_loading(monkeypatch)
    monkeypatch.setattr(embed, "DEFAULT_SPLICEBERT", _nan_checkpoint(tmp_path / "bundled" / "splicebert"))
    code, err = _run(["embed", fasta, "--out", tmp_path / "x"], capsys)
    assert code == 2 and "NaN or infinite" in err and str(tmp_path / "bundled" / "splicebert") in err

    monkeypatch.setattr(hub, "CHECKPOINTS", tmp_path / "bundled")
    _nan_checkpoint(tmp_path / "bundled" / "cellformer-pretrained")
    anndata.AnnData(np.ones((2, 2), np.float32), var=pd.DataFrame(index=["CD3E", "IL2"])).write_h5ad(
        tmp_path / "c.h5ad"
    )
    code, err = _run(["embed", tmp_path / "c.h5ad", "--out", tmp_path / "x"], capsys)
    assert code == 2 and str(tmp_path / "bundled" / "cellformer-pretrained" / "model.safetensors") in err

    checkpoints = tmp_path / "demo_checkpoints"
    for name in ("metascdrug-meta", "metascdrug-nometa"):
        _nan_checkpoint(checkpoints / name)
    code, err = _run(["demo", "--sections", "drug", "--checkpoints", checkpoints, "--out", tmp_path / "d"], capsys)
    assert code == 2 and str(checkpoints / "metascdrug-meta" / "model.safetensors") in err
    assert not (tmp_path / "d").exists()

    code, err = _run(
        ["drug", "fewshot", "--model", f"meta={checkpoints / 'metascdrug-nometa'}", "--data", fasta, "--shots", 1],
        capsys,
    )
    assert code == 2 and str(checkpoints / "metascdrug-nometa" / "model.safetensors") in err


def test_a_failed_overwrite_keeps_the_previous_outputs(tmp_path, tiny_model, fasta, capsys, monkeypatch):
    """Issue 17 item 4: every command writes through a temporary file; a write that fails midway with
    --overwrite leaves the previous output whole (and no partial file)."""
    out = tmp_path / "x"
    assert _run(["embed", fasta, "--model", tiny_model, "--out", out], capsys)[0] == 0
    before = {name: (tmp_path / name).read_bytes() for name in ("x.npz", "x.tsv")}

    def dies_midway(file, **arrays):
        with open(file, "wb") as handle:
            handle.write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", dies_midway)
    with pytest.raises(OSError, match="No space left"):
        txformers.cli.main([str(a) for a in ["embed", fasta, "--model", tiny_model, "--out", out, "--overwrite"]])
    assert {name: (tmp_path / name).read_bytes() for name in ("x.npz", "x.tsv")} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("x", ".x"))) == ["x.npz", "x.tsv"]
