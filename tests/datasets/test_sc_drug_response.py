"""load_sc_drug_response, ScDrugResponseBuilder and the single-cell readers on tiny fixtures and on the shared data."""

import warnings

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SHARED_DATA
from txformers.datasets import ScDrugResponseBuilder, load_sc_drug_response
from txformers.datasets.sc_drug_response import read_cell_table, read_gene_names

SCAD = SHARED_DATA / "drug" / "sc_scad_targets"
ENTREZ = SHARED_DATA / "drug" / "reference" / "entrez_to_hgnc_symbol_march_2019.txt"
GENES = ["TP53", "EGFR", "BRAF", "MYC"]


# ------------------------------------------------------------------------------ single-cell fixtures
ENTREZ_ROWS = [("TP53", 7157.0), ("EGFR", 1956.0), ("BRCA1", 672.0), ("BRCA1", 675.0), ("WITHDRAWN", np.nan)]


@pytest.fixture()
def scad_files(tmp_path):
    rng = np.random.default_rng(1)
    cells = [f"cell_{i}" for i in range(8)]
    table = pd.DataFrame(
        rng.normal(size=(8, 5)).astype(np.float32), index=cells, columns=["7157", "1956", "672", "999999", "675"]
    )
    table.insert(0, "response", [1, 0] * 4)
    tsv = tmp_path / "Target_expr_resp_z.Fake_tp4k.tsv"
    table.to_csv(tsv, sep="\t")
    entrez = tmp_path / "entrez.txt"
    pd.DataFrame(ENTREZ_ROWS, columns=["Approved symbol", "NCBI Gene ID(supplied by NCBI)"]).to_csv(
        entrez, sep="\t", index=False
    )
    return tsv, entrez, table


def test_load_scad_tsv_maps_entrez_and_reports_genes(scad_files):
    tsv, entrez, table = scad_files
    with pytest.warns(UserWarning) as record:
        expression, labels = load_sc_drug_response(tsv, entrez_map=entrez)
    messages = " ".join(str(w.message) for w in record)
    assert "999999" in messages and "BRCA1" in messages
    assert expression.columns.tolist() == ["TP53", "EGFR", "BRCA1"]
    assert expression.attrs["gene_report"] == {"unmapped": ["999999"], "duplicated": ["BRCA1"]}
    np.testing.assert_allclose(expression["BRCA1"], table["672"])  # first column kept
    assert expression.dtypes.eq(np.float32).all() and expression.index.tolist() == table.index.tolist()
    assert labels.tolist() == table["response"].tolist() and (labels.index == expression.index).all()
    # Without a map the Entrez ids stay the gene names.
    raw, _ = load_sc_drug_response(tsv)
    assert raw.columns.tolist() == ["7157", "1956", "672", "999999", "675"]


def test_sc_builder_on_tsv(scad_files, tmp_path):
    tsv, entrez, table = scad_files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        builder = ScDrugResponseBuilder(data_files=str(tsv), entrez_map=str(entrez), cache_dir=str(tmp_path / "cache"))
        builder.download_and_prepare()
    cells = builder.as_dataset()["train"]
    assert builder.gene_names() == ["TP53", "EGFR", "BRCA1"]
    assert cells.features["expression"].length == 3 and cells.features["label"].names == ["resistant", "sensitive"]
    assert cells["cell_id"] == table.index.tolist() and cells["label"] == table["response"].tolist()
    np.testing.assert_allclose(np.array(cells["expression"]), table[["7157", "1956", "672"]].to_numpy(), rtol=1e-6)


def test_sc_h5ad_with_string_labels(tmp_path):
    anndata = pytest.importorskip("anndata")
    from scipy import sparse

    matrix = np.arange(24, dtype=np.float32).reshape(6, 4)
    adata = anndata.AnnData(
        X=sparse.csr_matrix(matrix),
        obs=pd.DataFrame({"drug_response": ["Sensitive", "resistant"] * 3}, index=[f"bc{i}" for i in range(6)]),
        var=pd.DataFrame(index=GENES),
    )
    path = tmp_path / "cells.h5ad"
    adata.write_h5ad(path)
    expression, labels = load_sc_drug_response(path, label_column="drug_response")
    assert expression.columns.tolist() == GENES and labels.tolist() == [1, 0] * 3
    np.testing.assert_allclose(expression.to_numpy(), matrix)
    builder = ScDrugResponseBuilder(
        data_files={"train": str(path), "test": str(path)}, label_column="drug_response", cache_dir=str(tmp_path / "c")
    )
    builder.download_and_prepare()
    dataset = builder.as_dataset()
    assert set(dataset) == {"train", "test"} and dataset["test"]["cell_id"] == [f"bc{i}" for i in range(6)]
    with pytest.raises(ValueError, match="no obs column 'response'.*drug_response"):
        load_sc_drug_response(path)


def test_sc_errors(scad_files, tmp_path):
    tsv, _, table = scad_files
    with pytest.raises(ValueError, match="no label column 'label'"):
        load_sc_drug_response(tsv, label_column="label")
    one_class = tmp_path / "one.tsv"
    table.assign(response=1).to_csv(one_class, sep="\t")
    with pytest.raises(ValueError, match="one class only \\(sensitive, 8 cells\\)"):
        load_sc_drug_response(one_class)
    odd = tmp_path / "odd.tsv"
    table.assign(response=["1", "0", "maybe", "1", "0", "1", "0", "1"]).to_csv(odd, sep="\t")
    with pytest.raises(ValueError, match="'maybe'"):
        load_sc_drug_response(odd)
    gap = tmp_path / "gap.tsv"
    table.assign(response=[1, 0, None, 1, 0, 1, 0, 1]).to_csv(gap, sep="\t")
    with pytest.raises(ValueError, match="missing for cells \\['cell_2'\\]"):
        load_sc_drug_response(gap)
    other = tmp_path / "other.tsv"
    table.rename(columns={"1956": "1957"}).to_csv(other, sep="\t")
    with pytest.raises(ValueError, match="split 'test' \\(other.tsv\\) has other genes"):
        ScDrugResponseBuilder(data_files={"train": str(tsv), "test": str(other)}, cache_dir=str(tmp_path / "c"))


@pytest.mark.skipif(
    not (SCAD.exists() and ENTREZ.exists()), reason="shared/data/drug SCAD targets or Entrez map absent"
)
def test_sc_real_plx4720():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every Entrez id of this file maps to one symbol
        expression, labels = load_sc_drug_response(SCAD / "Target_expr_resp_z.PLX4720_tp4k.tsv", entrez_map=ENTREZ)
    assert expression.shape == (108, 2873) and expression.columns.is_unique
    assert labels.value_counts().to_dict() == {1: 62, 0: 46}
    # SCAD convention: parental A375 cells are sensitive, BRAF-inhibitor-resistant cells are not.
    assert labels[expression.index.str.contains("_par_")].eq(1).all()
    assert labels[expression.index.str.contains("_br_")].eq(0).all()
    assert {"MITF", "SOX10"} <= set(expression.columns) and not expression.columns.str.isnumeric().any()


def test_gene_names_and_cell_tables(scad_files, tmp_path):
    anndata = pytest.importorskip("anndata")
    tsv, _, table = scad_files
    assert read_gene_names(tsv) == ["7157", "1956", "672", "999999", "675"]
    assert read_gene_names(tsv, label_column="other") == ["response", "7157", "1956", "672", "999999", "675"]
    path = tmp_path / "cells.h5ad"
    anndata.AnnData(X=np.ones((2, 4), np.float32), var=pd.DataFrame(index=GENES)).write_h5ad(path)
    assert read_gene_names(path) == GENES

    annotated = table.assign(batch="b1")
    annotated.to_csv(tmp_path / "annotated.csv")
    adata = read_cell_table(tmp_path / "annotated.csv", label_column="response")
    assert list(adata.var_names) == ["7157", "1956", "672", "999999", "675"] and adata.X.dtype == np.float32
    assert list(adata.obs.columns) == ["response", "batch"] and list(adata.obs_names) == table.index.tolist()
    table.iloc[[0, 0]].to_csv(tmp_path / "twice.tsv", sep="\t")
    with pytest.raises(ValueError, match="duplicated cell ids \\['cell_0'\\]"):
        read_cell_table(tmp_path / "twice.tsv")
    table[["response"]].astype(str).to_csv(tmp_path / "labels.tsv", sep="\t")
    with pytest.raises(ValueError, match="no numeric gene columns"):
        read_cell_table(tmp_path / "labels.tsv", label_column="response")


def test_gene_columns_named_twice_are_an_error_unless_a_rule_is_picked(tmp_path):
    import numpy as np
    import pytest

    from txformers.datasets.sc_drug_response import load_sc_drug_response, read_cell_table

    path = tmp_path / "cells.tsv"
    path.write_text("cell\tresponse\tTP53\tEGFR\tTP53\nc1\t1\t1\t2\t3\nc2\t0\t4\t5\t6\n")
    with pytest.raises(ValueError, match=r"1 gene columns occur more than once: \['TP53'\]"):
        read_cell_table(path, "response")
    with pytest.raises(ValueError, match="TP53"):
        load_sc_drug_response(path)
    with pytest.warns(UserWarning, match="sum of each"):
        summed = read_cell_table(path, "response", duplicate_genes="sum")
    assert list(summed.var_names) == ["TP53", "EGFR"]
    np.testing.assert_array_equal(summed.X, [[4, 2], [10, 5]])
    with pytest.warns(UserWarning, match="first of each"):
        expression, _ = load_sc_drug_response(path, duplicate_genes="first")
    assert list(expression.columns) == ["TP53", "EGFR"] and expression["TP53"].tolist() == [1, 4]
