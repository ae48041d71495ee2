"""`txformers splice predict` and `txformers splice variants`: run as a user would (subprocess) for
the main paths, in-process (`txformers.cli.main`) for the many bad-input cases."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM, SpliceBertForSequenceClassification
from txformers.cli import main
from txformers.datasets.splice_variants import _read_variant_table
from txformers.tasks.splicing.variant_effect import score_variants, score_vcf

WINDOW = 40
LABELS = {0: "neither", 1: "donor", 2: "acceptor"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _txformers(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "txformers.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def _config(**kwargs):
    return SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=66,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **kwargs,
    )


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A tiny random splice-site window classifier (40-nt windows) with spread-out probabilities."""
    folder = tmp_path_factory.mktemp("splice_sites")
    torch.manual_seed(0)
    config = _config(
        num_labels=3,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
        window_size=WINDOW,
        classifier_pooling="center",
        initializer_range=0.5,
    )
    model = SpliceBertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    return folder, model


@pytest.fixture(scope="module")
def mlm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlm")
    torch.manual_seed(1)
    model = SpliceBertForMaskedLM(_config(initializer_range=0.2)).eval()
    model.save_pretrained(folder)
    return folder, model


def _window_probability(model, sequence, first, label):
    """The classifier on the window centred on the dinucleotide at ``first`` (built independently)."""
    padded = "N" * WINDOW + sequence.upper().replace("U", "T") + "N" * WINDOW
    start = WINDOW + first - (WINDOW // 2 - 1)
    with torch.no_grad():
        logits = model(**NucleotideTokenizer()([padded[start : start + WINDOW]], return_tensors="pt")).logits
    return float(logits.softmax(-1)[0, label])


def _read_tsv(path):
    return pd.read_csv(path, sep="\t", comment="#", dtype={"name": str})


def _is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5000


RECORDS = {
    "long": "GTCCAGGTAAGTATTTTTTCCCTTTCAGGTCCAAGGTGAGTACCCCCAAAAAACAGAAGTCCCTGTAGGTAGCCAGG",  # > one window
    "rna": "acgucagguaaguuuag",
    "plain": "CCCCCCCCCC",
}


def test_predict_writes_tsv_bed_and_tracks(tmp_path, classifier):
    folder, model = classifier
    expected = {}  # (name, 1-based position) -> (donor, acceptor) from direct model calls
    for name, sequence in RECORDS.items():
        s = sequence.upper().replace("U", "T")
        for i in range(len(s) - 1):
            if s[i : i + 2] == "GT":
                expected.setdefault((name, i + 1), [0.0, 0.0])[0] = _window_probability(model, s, i, 1)
            if s[i : i + 2] == "AG":  # reported at the G, one past the A
                expected.setdefault((name, i + 2), [0.0, 0.0])[1] = _window_probability(model, s, i, 2)
    values = [v for pair in expected.values() for v in pair if v]
    assert max(values) - min(values) > 0.05
    threshold = round(float(np.median(values)), 3) + 0.0005  # some calls, some not
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">{name} some description\n{seq[:30]}\n{seq[30:]}\n" for name, seq in RECORDS.items()))
    out = tmp_path / "results" / "sites"
    done = _txformers(
        "splice",
        "predict",
        fasta,
        "--model",
        folder,
        "--out",
        out,
        "--threshold",
        threshold,
        "--plot-limit",
        2,
        "--batch-size",
        5,
        "--precision",
        "float32",  # compared with the model's float32 probabilities below
    )
    assert done.returncode == 0, done.stderr[-3000:]

    text = (tmp_path / "results" / "sites.tsv").read_text()
    assert "1-based" in text and "G of each GT" in text and "G of each AG" in text  # the convention, stated
    table = _read_tsv(out.with_suffix(".tsv"))
    assert list(table.columns) == ["name", "position", "nucleotide", "donor_prob", "acceptor_prob"]
    assert sorted(zip(table["name"], table["position"])) == sorted(expected)  # candidates only
    for row in table.itertuples():
        donor, acceptor = expected[(row.name, row.position)]
        assert row.donor_prob == pytest.approx(donor, abs=2e-6)
        assert row.acceptor_prob == pytest.approx(acceptor, abs=2e-6)
        assert row.nucleotide == "G" == RECORDS[row.name].upper().replace("U", "T")[row.position - 1]

    bed = [line.split("\t") for line in out.with_suffix(".bed").read_text().splitlines()]
    calls = {(name, int(start) + 1, kind) for name, start, _, kind, _, _ in bed}
    wanted = {(r.name, r.position, "donor") for r in table.itertuples() if r.donor_prob > threshold}
    wanted |= {(r.name, r.position, "acceptor") for r in table.itertuples() if r.acceptor_prob > threshold}
    assert calls == wanted and 0 < len(calls) < 2 * len(table)
    for name, start, end, kind, score, strand in bed:
        probability = table.set_index(["name", "position"]).loc[(name, int(start) + 1), f"{kind}_prob"]
        assert int(end) == int(start) + 1 and strand == "+" and int(score) == round(probability * 1000)

    assert _is_png(tmp_path / "results" / "sites_long.png") and _is_png(tmp_path / "results" / "sites_rna.png")
    assert not (tmp_path / "results" / "sites_plain.png").exists()  # --plot-limit 2
    assert "3 sequences" in done.stdout


def test_predict_all_positions_and_bad_inputs(tmp_path, classifier, mlm, capsys):
    folder, _ = classifier
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\nCAGGTAAGT\n>b\nTTAGG\n")
    out = tmp_path / "all"
    assert (
        main(
            [
                "splice",
                "predict",
                str(fasta),
                "--model",
                str(folder),
                "--out",
                str(out),
                "--all-positions",
                "--plot-limit",
                "0",
            ]
        )
        == 0
    )
    table = _read_tsv(out.with_suffix(".tsv"))
    assert table.groupby("name")["position"].apply(list).to_dict() == {"a": list(range(1, 10)), "b": list(range(1, 6))}
    assert (table.loc[table["nucleotide"] != "G", ["donor_prob", "acceptor_prob"]] == 0).all().all()
    assert not list(tmp_path.glob("all_*.png"))

    def fails(*args):
        capsys.readouterr()
        assert main(["splice", "predict", *map(str, args)]) == 2
        return capsys.readouterr().err

    bad = tmp_path / "bad.fa"
    bad.write_text(">good\nACGT\n>broken one\nACGTTAXG\n")
    error = fails(bad, "--model", folder, "--out", tmp_path / "bad_out")
    assert "'broken'" in error and "'X' at position 6" in error
    assert not list(tmp_path.glob("bad_out*"))
    assert "does not exist" in fails(tmp_path / "missing.fa", "--model", folder, "--out", tmp_path / "m")
    assert "no model at" in fails(fasta, "--model", tmp_path / "nowhere", "--out", tmp_path / "m")
    assert "'donor' and 'acceptor'" in fails(fasta, "--model", mlm[0], "--out", tmp_path / "m")
    duplicated = tmp_path / "dup.fa"
    duplicated.write_text(">x\nACGT\n>x\nGGGG\n")
    assert "more than one record" in fails(duplicated, "--model", folder, "--out", tmp_path / "m")

    bed = out.with_suffix(".bed")
    bed.write_text("keep me")
    assert "--overwrite" in fails(fasta, "--model", folder, "--out", out)
    assert bed.read_text() == "keep me"
    assert main(["splice", "predict", str(fasta), "--model", str(folder), "--out", str(out), "--overwrite"]) == 0
    assert bed.read_text() != "keep me"


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    folder = tmp_path_factory.mktemp("genome")
    rng = np.random.default_rng(0)
    chrom = "".join(rng.choice(list("ACGT"), 400))
    fasta = folder / "genome.fa"
    fasta.write_text(">chr1\n" + "\n".join(chrom[i : i + 60] for i in range(0, 400, 60)) + "\n")
    return fasta, chrom


def _other(base):
    return "A" if base != "A" else "C"


def test_variants_from_vcf(tmp_path, genome, mlm):
    fasta, chrom = genome
    vcf = tmp_path / "variants.vcf"
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for pos, name, info in ((151, "v1", "."), (201, "v2", "STRAND=-;EXON_START=181;EXON_END=240"), (5, "v3", ".")):
        lines.append(f"chr1\t{pos}\t{name}\t{chrom[pos - 1]}\t{_other(chrom[pos - 1])}\t.\t.\t{info}")
    vcf.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out" / "vcf"
    done = _txformers(
        "splice",
        "variants",
        "--vcf",
        vcf,
        "--fasta",
        fasta,
        "--model",
        mlm[0],
        "--out",
        out,
        "--window",
        60,
        "--plot-top",
        2,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = _read_tsv(out.with_suffix(".tsv"))
    assert table["id"].tolist() == ["v1", "v2", "v3"] and table["pos"].tolist() == [151, 201, 5]

    variants = _read_variant_table(str(vcf))
    expected = score_vcf(mlm[1], NucleotideTokenizer(), variants, fasta, window=60)
    for column in ("kl_context", "kl_variant", "delta_p", "window_position"):
        np.testing.assert_allclose(table[column], expected[column].astype(float), rtol=1e-5, atol=1e-9)
    assert np.isnan(table["splice_site_kl"][0]) and np.isfinite(table["splice_site_kl"][1])  # exon known for v2
    assert _is_png(out.with_suffix(".png"))
    assert "highest kl_context" in done.stdout


def test_variants_from_table_and_bad_inputs(tmp_path, genome, mlm, capsys):
    fasta, chrom = genome
    wt1, wt2 = chrom[:80], chrom[100:170]
    rows = [("a", wt1, wt1[:30] + _other(wt1[30]) + wt1[31:]), ("b", wt2.lower(), wt2[:5] + _other(wt2[5]) + wt2[6:])]
    table_path = tmp_path / "pairs.tsv"
    pd.DataFrame(rows, columns=["id", "wt_sequence", "mut_sequence"]).to_csv(table_path, sep="\t", index=False)
    out = tmp_path / "scores"
    assert main(["splice", "variants", "--table", str(table_path), "--model", str(mlm[0]), "--out", str(out)]) == 0
    table = _read_tsv(out.with_suffix(".tsv"))
    assert table["position"].tolist() == [30, 5]  # found by comparing WT and mutant (0-based)
    expected = score_variants(mlm[1], NucleotideTokenizer(), [r[1] for r in rows], [r[2] for r in rows], [30, 5])
    np.testing.assert_allclose(table["kl_context"], expected["kl_context"], rtol=1e-5)
    assert _is_png(out.with_suffix(".png"))

    def fails(*args):
        capsys.readouterr()
        assert main(["splice", "variants", *map(str, args), "--model", str(mlm[0])]) == 2
        return capsys.readouterr().err

    wrong = tmp_path / "wrong.vcf"
    ref = "C" if chrom[150] != "C" else "G"  # not the genome base at chr1:151
    wrong.write_text(f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t151\tx\t{ref}\t{_other(ref)}\t.\t.\t.\n")
    error = fails("--vcf", wrong, "--fasta", fasta, "--out", tmp_path / "w")
    assert "chr1:151" in error and "does not match the genome base" in error
    assert not list(tmp_path.glob("w.*"))
    assert "needs --fasta" in fails("--vcf", wrong, "--out", tmp_path / "w")
    assert "does not exist" in fails("--table", tmp_path / "missing.tsv", "--out", tmp_path / "w")
    two = tmp_path / "two.tsv"
    pd.DataFrame([("ACGTACGT", "TCGTACGA")], columns=["wt", "mut"]).to_csv(two, sep="\t", index=False)
    assert "row 0" in (error := fails("--table", two, "--out", tmp_path / "w")) and "differ at 2 positions" in error
    out.with_suffix(".tsv").write_text("keep me")
    assert "--overwrite" in fails("--table", table_path, "--out", out)
    assert out.with_suffix(".tsv").read_text() == "keep me"
