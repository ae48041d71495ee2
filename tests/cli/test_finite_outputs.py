"""Non-finite model outputs (issue 17 item 11): every command that writes model outputs refuses NaN/inf ones
naming the checkpoint (nothing written); batch commands pass a record with NaN/inf scores through with the
reason ``non_finite_score`` and stop only when every record is such. Weights scaled by 1e30 are finite (the
weight check before the work passes them) but overflow in the forward pass, as a badly trained model can."""

import numpy as np
import pandas as pd
import pytest
import torch

from txformers import NucleotideTokenizer, SpliceBertConfig
from txformers.cli import main
from txformers.models.splicebert import (
    SpliceBertForMaskedLM,
    SpliceBertForSequenceClassification,
    SpliceBertForVariantEffect,
)

LABELS = {0: "neither", 1: "donor", 2: "acceptor"}
WT = "CCCCCAG" + "ACGTACGTAC" + "GTAAGCCCCC"
MUT = WT[:10] + "A" + WT[11:]


def _config(**kwargs):
    return SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=66,
        **kwargs,
    )


def _save(model, folder, overflow=False):
    if overflow:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.mul_(1e30)
    model.save_pretrained(folder)
    return folder


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_splice_predict_refuses_nan_probabilities_naming_the_sequence(tmp_path, capsys):
    config = _config(num_labels=3, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}, window_size=40)
    torch.manual_seed(0)
    folder = _save(SpliceBertForSequenceClassification(config), tmp_path / "model", overflow=True)
    fasta = tmp_path / "in.fa"
    fasta.write_text(">first\n" + "ACGTAGGTAAGTCCAG" * 6 + "\n")
    code, err = _run(
        ["splice", "predict", fasta, "--model", folder, "--out", tmp_path / "x", "--plot-limit", 0], capsys
    )
    assert code == 2 and "splice-site probabilities of 'first'" in err and str(folder) in err
    assert "NaN or infinite" in err and not list(tmp_path.glob("x*"))


def test_splice_variants_kl_rows_with_nan_get_a_reason(tmp_path, capsys, monkeypatch):
    from txformers.tasks.splicing import variant_effect

    torch.manual_seed(1)
    mlm = _save(SpliceBertForMaskedLM(_config()), tmp_path / "mlm")
    rows = [("a", WT, MUT), ("b", WT, WT[:3] + "T" + WT[4:])]
    table = tmp_path / "pairs.tsv"
    pd.DataFrame(rows, columns=["id", "wt_sequence", "mut_sequence"]).to_csv(table, sep="\t", index=False)
    real = variant_effect.score_variants

    def one_nan(*args, **kwargs):
        scores = real(*args, **kwargs)
        scores.loc[1, "kl_context"] = np.nan
        return scores

    monkeypatch.setattr(variant_effect, "score_variants", one_nan)
    argv = ["splice", "variants", "--table", table, "--model", mlm, "--plot-top", 0]
    code, err = _run([*argv, "--out", tmp_path / "one"], capsys)
    assert code == 0 and "1 of 2 variants have NaN or infinite model outputs" in err
    out = pd.read_csv(tmp_path / "one.tsv", sep="\t", comment="#", keep_default_na=False)
    assert out["reason"].tolist() == ["", "non_finite_score"]
    assert out.loc[1, "kl_variant"] == "nan" and out.loc[0, "kl_context"] != "nan"

    monkeypatch.setattr(variant_effect, "score_variants", real)
    overflowing = _save(SpliceBertForMaskedLM(_config()), tmp_path / "huge", overflow=True)
    code, err = _run(
        ["splice", "variants", "--table", table, "--model", overflowing, "--out", tmp_path / "all"], capsys
    )
    assert code == 2 and "variant scores" in err and str(overflowing) in err
    assert not list(tmp_path.glob("all*"))


def test_splice_variants_table_model_rows_with_nan_get_a_reason(tmp_path, capsys, monkeypatch):
    from txformers.tasks.splicing import variant_model

    model = SpliceBertForVariantEffect(_config())
    model.config.architectures = ["SpliceBertForVariantEffect"]
    folder = _save(model, tmp_path / "model")
    NucleotideTokenizer().save_pretrained(folder)
    base = {"Exon_Start": 1001, "Exon_End": 1010, "chr": "chr1", "strand": "+"}
    rows = [
        {"ID": "good", "WT_ID": "g_W", "MUT_ID": "g_M", "WT_SEQ": WT, "MUT_SEQ": MUT, **base},
        {"ID": "nan", "WT_ID": "n_W", "MUT_ID": "n_M", "WT_SEQ": WT, "MUT_SEQ": MUT, **base},
        {"ID": "indel", "WT_ID": "i_W", "MUT_ID": "i_M", "WT_SEQ": WT, "MUT_SEQ": WT[:-1], **base},
    ]
    table = tmp_path / "in.tsv"
    pd.DataFrame(rows).to_csv(table, sep="\t", index=False)
    real = variant_model.score_pairs

    def one_nan(*args, **kwargs):
        scores = real(*args, **kwargs)
        scores[1] = np.inf
        return scores

    monkeypatch.setattr(variant_model, "score_pairs", one_nan)
    argv = ["splice", "variants", "--table", table, "--model", folder]
    assert _run([*argv, "--out", tmp_path / "one"], capsys)[0] == 0
    out = pd.read_csv(tmp_path / "one.tsv", sep="\t", comment="#")
    assert out["reason"].fillna("").tolist()[:2] == ["", "non_finite_score"] and out["score"].isna().tolist()[:2] == [
        False,
        True,
    ]
    monkeypatch.setattr(variant_model, "score_pairs", lambda *a, **k: np.full(3, np.nan))
    code, err = _run([*argv, "--out", tmp_path / "all"], capsys)
    assert code == 2 and "variant scores" in err and str(folder) in err and not list(tmp_path.glob("all*"))


@pytest.mark.parametrize("command", ["classify", "embed"])
def test_cell_commands_refuse_nan_outputs(tmp_path, capsys, command):
    import anndata as ad

    from txformers.models.cellformer import CellformerConfig, CellformerForCellClassification, CellformerModel
    from txformers.tokenizers import GeneExpressionTokenizer

    genes = ["IL2", "IFNG", "TNF", "CCL5", "CXCL13", "IL10"]
    tokenizer = GeneExpressionTokenizer.from_genes(genes, mode="bins", n_bins=11, max_length=len(genes) + 1)
    config = CellformerConfig(
        vocab_size=tokenizer.vocab_size,
        n_bins=11,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=2,
        id2label={0: "lung", 1: "renal"},
        label2id={"lung": 0, "renal": 1},
    )
    torch.manual_seed(0)
    model = CellformerForCellClassification(config) if command == "classify" else CellformerModel(config)
    folder = _save(model, tmp_path / "model", overflow=True)
    tokenizer.save_pretrained(folder)
    counts = np.random.default_rng(0).poisson(2.0, size=(5, len(genes))).astype(np.float32) + 1
    ad.AnnData(counts, var=pd.DataFrame(index=genes)).write_h5ad(tmp_path / "cells.h5ad")
    argv = ["cytokine", "classify"] if command == "classify" else ["embed"]
    code, err = _run([*argv, tmp_path / "cells.h5ad", "--model", folder, "--out", tmp_path / "x"], capsys)
    assert code == 2 and "NaN or infinite" in err and str(folder) in err
    assert not list(tmp_path.glob("x*"))
