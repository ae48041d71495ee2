import pandas as pd
import pytest

from tests.conftest import SHARED_DATA, requires_shared_data
from txformers.datasets.mapsy_pairs import exon_place, read_pairs

# 5 nt intron + AG | exon of 10 nt | GT + intron: exon at [7, 17)
WT = "CCCCCAG" + "ACGTACGTAC" + "GTAAGCCCCC"
MUT = WT[:10] + ("A" if WT[10] != "A" else "C") + WT[11:]


def _row(**extra):
    row = {"ID": "v1", "WT_SEQ": WT, "MUT_SEQ": MUT, "Exon_Start": 1001, "Exon_End": 1010, "chr": "chr1", "strand": "+"}
    return {**row, **extra}


def test_exon_place_by_motifs_and_by_ag_gt():
    assert exon_place(WT, 10, acceptor="CCCCCAG", donor="GTAAG") == (7, 17, "motif")
    assert exon_place(WT, 10) == (7, 17, "AG-GT")
    assert exon_place(WT, 10, acceptor="TTTTTAG", donor="GTAAG")[2] == "AG-GT"  # motif mismatch: falls back
    assert exon_place("C" * 30, 10) == (-1, -1, "")


def test_exon_place_from_genomic_length_in_a_table():
    (row,) = read_pairs(pd.DataFrame([_row(acceptor="CCCCCAG", donor="GTAAGCCCCC")]))
    assert (row["exon_start"], row["exon_end"], row["exon_rule"], row["reason"]) == (7, 17, "motif", "")
    assert (row["variant_pos"], row["ref"]) == (10, WT[10])
    (short,) = read_pairs(pd.DataFrame([_row(Exon_End=1005)]))  # a 5-nt exon has no AG...GT place here
    assert short["exon_start"] == -1 and "exon not found" in short["reason"]


def test_pairs_listed_mutant_first_are_oriented_by_id_suffixes():
    rows = read_pairs(
        pd.DataFrame(
            [
                _row(ID="a", WT_ID="X1W", MUT_ID="X1M"),
                _row(ID="b", WT_ID="X1M", MUT_ID="X1W", WT_SEQ=MUT, MUT_SEQ=WT),
                _row(ID="c", WT_SEQ=MUT, MUT_SEQ=WT),  # no ids: taken as given
            ]
        )
    )
    assert [r["swapped"] for r in rows] == [False, True, False]
    assert rows[0]["wt_sequence"] == rows[1]["wt_sequence"] == WT
    assert rows[0]["alt"] == rows[1]["alt"] and rows[2]["wt_sequence"] == MUT


def test_bad_rows_keep_their_id_with_a_reason():
    rows = read_pairs(
        pd.DataFrame([_row(ID="indel", MUT_SEQ=WT[:-1]), _row(ID="same", MUT_SEQ=WT), _row(ID="nan", WT_SEQ=None)])
    )
    assert [r["id"] for r in rows] == ["indel", "same", "nan"]
    assert all(r["reason"] for r in rows)
    with pytest.raises(ValueError, match="required"):
        read_pairs(pd.DataFrame([{"ID": "x"}]))


@requires_shared_data
def test_real_mapsy_exons_agree_with_read_mapsy():
    from txformers.datasets.splice_variants import read_mapsy

    path = str(SHARED_DATA / "splice/mapsy/mapsy.txt")
    ours = read_pairs(path, with_targets=True)[:300]
    theirs = read_mapsy(path, limit=300)
    assert [(r["exon_start"], r["exon_end"]) for r in ours] == [(r["exon_start"], r["exon_end"]) for r in theirs]
    assert not any(r["reason"] for r in ours)
