"""Tests of the manifests over the shared real scRNA (``txformers.datasets.shared_scrna``)."""

from __future__ import annotations

import anndata as ad

from tests.conftest import SHARED_DATA, requires_shared_data
from txformers.datasets.scrna_samples import read_manifest
from txformers.datasets.shared_scrna import prepare_real_manifest, sex_call


def test_sex_call():
    assert sex_call([3.0, 0.0, 1.0, 0.0], [0.0, 2.0, 1.0, 0.0]).tolist() == ["female", "male", "ambiguous", "ambiguous"]


@requires_shared_data
def test_real_manifest_has_patients_and_cancers(tmp_path):
    specs = read_manifest(prepare_real_manifest(SHARED_DATA / "scrna", tmp_path))
    wu = [spec for spec in specs if spec.study == "wu2020"]
    assert len(wu) == 30 and len({spec.patient for spec in wu}) == 14
    for spec in wu:
        cancer = {"Lung": "lung", "Endo": "endometrial", "Renal": "renal", "Colon": "colorectal"}[
            spec.patient.rstrip("0123456789")
        ]
        assert spec.cancer_type == cancer
        obs = ad.read_h5ad(spec.path, backed="r").obs
        assert set(obs["patient"]) == {spec.patient}
    chetah = [spec for spec in specs if spec.study != "wu2020"]
    assert {spec.cancer_type for spec in chetah} == {"head_and_neck", "melanoma"}
    assert all(spec.patient.startswith("?") for spec in chetah)


def test_read_chetah_returns_cells_on_the_linear_scale(tmp_path):
    import numpy as np
    import pandas as pd
    import pytest

    from txformers.datasets.shared_scrna import read_chetah

    log2tpm = pd.DataFrame(
        {"hn_cell1": [1.0, 0.0, 3.0], "hn_cell2": [0.0, 2.0, 1.0]}, index=["XIST", "RPS4Y1", "CD3E"]
    )  # genes x cells, log2(TPM/10 + 1)
    log2tpm.to_csv(tmp_path / "chetah_headneck_ref_log2tpm.csv.gz")
    pd.DataFrame({"celltype": ["CD8 T cell", "B cell"]}, index=["hn_cell2", "hn_cell1"]).to_csv(
        tmp_path / "chetah_headneck_ref_obs.csv"
    )
    cells = read_chetah(tmp_path, "chetah_headneck_ref")
    assert cells.shape == (2, 3) and list(cells.var_names) == ["XIST", "RPS4Y1", "CD3E"]
    np.testing.assert_allclose(cells.X, 10 * (2 ** log2tpm.T.to_numpy() - 1), rtol=1e-6)
    assert cells.obs["cell_type"].tolist() == ["B cell", "CD8 T cell"]  # matched by cell id, not by row order
    assert cells.obs["sex"].tolist() == ["female", "male"]
    assert set(cells.obs["study"]) == {"puram2017_hnscc"} and set(cells.obs["cancer_type"]) == {"head_and_neck"}
    with pytest.raises(ValueError, match="unknown CHETAH table"):
        read_chetah(tmp_path, "other")
