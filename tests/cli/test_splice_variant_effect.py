import pandas as pd
import pytest

from txformers import NucleotideTokenizer
from txformers.cli import main
from txformers.models.splicebert import SpliceBertForVariantEffect

WT = "CCCCCAG" + "ACGTACGTAC" + "GTAAGCCCCC"
MUT = WT[:10] + "A" + WT[11:]


@pytest.fixture
def variant_model(tiny_splicebert_config, tmp_path):
    model = SpliceBertForVariantEffect(tiny_splicebert_config)
    model.config.architectures = ["SpliceBertForVariantEffect"]
    model.save_pretrained(tmp_path / "model")
    NucleotideTokenizer().save_pretrained(tmp_path / "model")
    return tmp_path / "model"


def test_table_rows_pass_through_with_score_or_reason(variant_model, tmp_path):
    base = {"Exon_Start": 1001, "Exon_End": 1010, "chr": "chr1", "strand": "+", "Extra": "kept"}
    rows = [
        {"ID": "good", "WT_ID": "g_W", "MUT_ID": "g_M", "WT_SEQ": WT, "MUT_SEQ": MUT, **base},
        {"ID": "flipped", "WT_ID": "g_M", "MUT_ID": "g_W", "WT_SEQ": MUT, "MUT_SEQ": WT, **base},
        {"ID": "indel", "WT_ID": "i_W", "MUT_ID": "i_M", "WT_SEQ": WT, "MUT_SEQ": WT[:-1], **base},
        {"ID": "noexon", "WT_ID": "n_W", "MUT_ID": "n_M", "WT_SEQ": WT, "MUT_SEQ": MUT, **{**base, "Exon_End": 1003}},
    ]
    table = tmp_path / "in.tsv"
    pd.DataFrame(rows).to_csv(table, sep="\t", index=False)
    argv = ["splice", "variants", "--table", str(table), "--model", str(variant_model), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    out = pd.read_csv(tmp_path / "out.tsv", sep="\t", comment="#")
    assert list(out["ID"]) == ["good", "flipped", "indel", "noexon"]
    assert (out["Extra"] == "kept").all()
    assert out["score"].iloc[:2].between(0, 1).all() and out["score"].iloc[2:].isna().all()
    assert out["score"].iloc[0] == pytest.approx(out["score"].iloc[1], abs=1e-6)  # same pair once oriented
    assert out["orientation"].str.startswith("swapped").tolist() == [False, True, False, False]
    assert out["reason"].isna().iloc[:2].all() and out["reason"].iloc[2:].str.len().gt(0).all()
    assert "swapped" in (tmp_path / "out.tsv").read_text().splitlines()[2]


def test_csv_without_required_columns_is_a_clear_error(variant_model, tmp_path, capsys):
    table = tmp_path / "in.csv"
    pd.DataFrame([{"ID": "x", "WT_SEQ": WT}]).to_csv(table, index=False)
    argv = ["splice", "variants", "--table", str(table), "--model", str(variant_model), "--out", str(tmp_path / "o")]
    assert main(argv) != 0
    assert "required column" in capsys.readouterr().err
