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
