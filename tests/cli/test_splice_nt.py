"""`txformers splice predict` with a per-nucleotide model (SpliceBertForTokenClassification)."""

import pandas as pd
import torch

from txformers import NucleotideTokenizer, SpliceBertConfig
from txformers.cli import splice
from txformers.models.splicebert import SpliceBertForTokenClassification
from txformers.tasks.splicing.nt_sites import NT_ID2LABEL, NT_LABEL2ID


def main(argv):
    """The splice command alone (independent of the other command modules)."""
    import argparse

    parser = argparse.ArgumentParser()
    splice.add_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


def _token_model(seed, **options):
    """A tiny random per-nucleotide model (40-nt windows)."""
    torch.manual_seed(seed)
    config = SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=66,
        num_labels=3,
        id2label=NT_ID2LABEL,
        label2id=NT_LABEL2ID,
        window_size=40,
        **options,
    )
    return SpliceBertForTokenClassification(config).eval()


def test_predict_with_a_per_nucleotide_model(tmp_path):
    model = _token_model(0, initializer_range=0.5)
    model.save_pretrained(tmp_path / "model")
    sequence = "CCAGGTAAGTATTTTTTCCCTTTCAGGTCCAAGGTGAGTACCCCCAAAAAACAGAAGTCCCTGTAGGTAGCCAGG" * 2
    (tmp_path / "in.fa").write_text(">seq\n" + sequence + "\n")
    out = tmp_path / "sites"
    args = ["splice", "predict", str(tmp_path / "in.fa"), "--model", str(tmp_path / "model"), "--out", str(out)]
    assert main(args + ["--plot-limit", "0", "--all-positions", "--precision", "float32"]) == 0
    table = pd.read_csv(out.with_suffix(".tsv"), sep="\t", comment="#")
    assert len(table) == len(sequence)
    header = out.with_suffix(".tsv").read_text().splitlines()
    assert "float32" in header[0] and "last exon nucleotide" in header[1]
    # the probability at a position is the model's (short windows stitched; here one window's middle)
    window = sequence[20:60]
    with torch.no_grad():
        p = model(**NucleotideTokenizer()([window], return_tensors="pt")).logits[0, 1:-1].softmax(-1)
    assert abs(table.donor_prob[40] - float(p[20, 2])) < 1e-4
    bed = out.with_suffix(".bed").read_text().splitlines()
    for line in bed:  # calls only at GT/AG candidates in the SpliceAI convention
        _, start, _, kind, _, _ = line.split("\t")
        start = int(start)
        assert sequence[start + 1 : start + 3] == "GT" if kind == "donor" else sequence[start - 2 : start] == "AG"


def test_predict_in_bfloat16_stays_close_to_float32_and_says_so(tmp_path):
    _token_model(1).save_pretrained(tmp_path / "model")
    (tmp_path / "in.fa").write_text(">seq\n" + "CAGGTAAGTATTTTTTCCCTTTCAGGTCCA" * 5 + "\n")
    tables = {}
    for dtype in ("float32", "bfloat16"):
        out = tmp_path / dtype
        argv = ["splice", "predict", str(tmp_path / "in.fa"), "--model", str(tmp_path / "model"), "--out", str(out)]
        assert main(argv + ["--plot-limit", "0", "--all-positions", "--precision", dtype]) == 0
        assert f"nt windows, {dtype})" in out.with_suffix(".tsv").read_text().splitlines()[0]
        tables[dtype] = pd.read_csv(out.with_suffix(".tsv"), sep="\t", comment="#")
    difference = (
        tables["bfloat16"][["donor_prob", "acceptor_prob"]] - tables["float32"][["donor_prob", "acceptor_prob"]]
    )
    assert 0 < difference.abs().to_numpy().max() < 0.02  # bf16 ran (not float32 again), and stays close
