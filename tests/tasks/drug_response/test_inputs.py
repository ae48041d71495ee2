"""Drug resolution (file names, SMILES tables, SMILES) and the one drug-name normalisation."""

import pandas as pd
import pytest

from txformers.models.metascdrug import pipeline_metascdrug
from txformers.tasks.drug_response import inputs, meta_learning
from txformers.tasks.drug_response.inputs import drug_name_from_path, read_smiles_tables, resolve_drug


def test_drug_resolution(tmp_path):
    pytest.importorskip("rdkit")
    assert drug_name_from_path("x/Target_expr_resp_z.AR-42_tp4k.tsv") == "AR-42"
    assert drug_name_from_path("cells.h5ad") is None
    table = tmp_path / "smiles.csv"
    pd.DataFrame({"drug": ["AR-42", "PLX-4720"], "smiles_deepdr": ["CCO", "c1ccccc1"]}).to_csv(table, index=False)
    assert resolve_drug("plx4720", None, [table])["smiles"] == "c1ccccc1"
    assert resolve_drug(None, "Target_expr_resp_z.AR-42_tp4k.tsv", [table])["smiles"] == "CCO"
    assert resolve_drug("CC(=O)O", None, [table])["smiles"] == "CC(=O)O"
    assert resolve_drug(None, "Target_expr_resp_z.Unknown_tp4k.tsv", [table])["smiles"] is None
    with pytest.raises(ValueError, match="neither a drug name"):
        resolve_drug("NotADrug", None, [table])


def test_smiles_tables_first_wins_and_bad_tables_are_named(tmp_path):
    first, second, bad = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "bad.csv"
    pd.DataFrame({"Name": ["PLX-4720"], "CanonicalSMILES": ["C"]}).to_csv(first, index=False)
    pd.DataFrame({"drug": ["plx4720", "AR-42"], "smiles": ["CC", "CCC"]}).to_csv(second, index=False)
    pd.DataFrame({"drug": ["x"], "weight": [1]}).to_csv(bad, index=False)
    assert read_smiles_tables([first, second]) == {"PLX4720": "C", "AR42": "CCC"}
    with pytest.raises(ValueError, match="bad.csv: needs a drug-name column"):
        read_smiles_tables([bad])


def test_one_drug_name_normalisation():
    # the portable pipeline's function is the only one: the tasks import it
    assert inputs.normalize_drug_name is pipeline_metascdrug.normalize_drug_name
    assert meta_learning.normalize_drug_name is pipeline_metascdrug.normalize_drug_name
    assert pipeline_metascdrug.normalize_drug_name("plx-4720 ") == "PLX4720"
