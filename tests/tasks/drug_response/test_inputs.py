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
    assert read_smiles_tables([first, second], duplicates="first") == {"PLX4720": "C", "AR42": "CCC"}
    with pytest.raises(ValueError, match="bad.csv: needs a drug-name column"):
        read_smiles_tables([bad])


def test_one_drug_name_normalisation():
    # the portable pipeline's function is the only one: the tasks import it
    assert inputs.normalize_drug_name is pipeline_metascdrug.normalize_drug_name
    assert meta_learning.normalize_drug_name is pipeline_metascdrug.normalize_drug_name
    assert pipeline_metascdrug.normalize_drug_name("plx-4720 ") == "PLX4720"


def test_a_drug_named_twice_with_different_smiles_is_an_error_unless_a_rule_is_picked(tmp_path):
    from txformers.tasks.drug_response.inputs import DuplicateDrugError

    table, other = tmp_path / "smiles.csv", tmp_path / "other.csv"
    pd.DataFrame({"drug": ["PLX-4720", "AR-42", "plx4720", "AR42"], "smiles": ["C", "CCO", "CC", "CCO"]}).to_csv(
        table, index=False
    )
    with pytest.raises(DuplicateDrugError, match=r"1 drug names .*PLX4720 \(C at .*smiles.csv:2; CC at .*:4\)"):
        read_smiles_tables([table])  # AR-42 twice with one SMILES is no conflict
    assert read_smiles_tables([table], duplicates="first") == {"PLX4720": "C", "AR42": "CCO"}
    with pytest.raises(DuplicateDrugError, match="'plx-4720' different SMILES"):
        resolve_drug("plx-4720", None, [table])
    assert resolve_drug("plx-4720", None, [table], duplicates="first")["smiles"] == "C"
    assert resolve_drug("AR-42", None, [table])["smiles"] == "CCO"  # only the drug looked up matters
    pd.DataFrame({"name": ["AR-42"], "CanonicalSMILES": ["CCN"]}).to_csv(other, index=False)
    with pytest.raises(DuplicateDrugError, match="AR42"):  # across tables too
        resolve_drug("AR-42", None, [table, other])
    with pytest.raises(ValueError, match="PLX4720"):
        pipeline_metascdrug.read_smiles_table(table)
    assert pipeline_metascdrug.read_smiles_table(table, duplicates="first")["PLX4720"] == "C"
    with pytest.raises(ValueError, match="PLX4720"):
        pipeline_metascdrug.read_smiles_table({"PLX-4720": "C", "plx4720": "CC"})


def test_two_spellings_of_one_molecule_are_no_conflict(tmp_path):
    """Kekulé and aromatic SMILES of PLX4720 (as the DeepDR and GraphDRP tables spell it) are one molecule."""
    first, second = tmp_path / "deepdr.csv", tmp_path / "graphdrp.csv"
    kekule = "CCCS(=O)(=O)NC1=C(C(=C(C=C1)F)C(=O)C2=CNC3=C2C=C(C=N3)Cl)F"
    other_ring_order = "CCCS(=O)(=O)NC1=C(C(=C(C=C1)F)C(=O)C2=CNC3=NC=C(C=C23)Cl)F"
    pd.DataFrame({"drug": ["PLX4720"], "smiles": [kekule]}).to_csv(first, index=False)
    pd.DataFrame({"drug": ["PLX-4720", "AR-42"], "smiles": [other_ring_order, "CCO"]}).to_csv(second, index=False)
    assert resolve_drug("PLX4720", None, [first, second])["smiles"] == kekule  # the first spelling is kept
    pd.DataFrame({"drug": ["AR-42"], "smiles": ["OCC.Cl"]}).to_csv(first, index=False)  # a salt is another molecule
    with pytest.raises(ValueError, match="AR42"):
        read_smiles_tables([first, second])


def test_find_nearby_lists_a_linked_table_once(tmp_path):
    """A SMILES table reached through a link and by its real path (e.g. data/bulk_gdsc -> shared data) is one table."""
    real = tmp_path / "shared" / "bulk_gdsc"
    real.mkdir(parents=True)
    (real / "drug_smiles_deepdr.csv").write_text("drug,smiles\nAR-42,CCO\n")
    study = tmp_path / "study"
    study.mkdir()
    (study / "bulk_gdsc").symlink_to(real)
    (tmp_path / "bulk_gdsc").symlink_to(real)  # also one folder up from the data file
    found = inputs.find_nearby(study / "cells.h5ad", [("bulk_gdsc", "drug_smiles_deepdr.csv")])
    here = [path.resolve() for path in found if tmp_path in path.parents]  # not the shared data's own tables
    assert here == [(real / "drug_smiles_deepdr.csv").resolve()]
