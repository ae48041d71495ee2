"""The "drug-response" pipeline (`DrugResponsePipeline`): in-process on a tiny random checkpoint, shipped with a
checkpoint through `custom_pipelines` and loaded with trust_remote_code where txformers cannot be imported, and
on the bundled checkpoints."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("rdkit")

from transformers import pipeline  # noqa: E402

from txformers.hub import CHECKPOINTS, REPO_ROOT  # noqa: E402
from txformers.models.metascdrug import (  # noqa: E402
    DrugResponsePipeline,
    GenePanelOverlapError,
    MetaScDrugConfig,
    MetaScDrugForDrugResponse,
    MetaScDrugProcessor,
)

BUNDLED = ["metascdrug-meta", "metascdrug-nometa"]
PIPELINE_FILE = REPO_ROOT / "src" / "txformers" / "models" / "metascdrug" / "pipeline_metascdrug.py"
GENES = [f"G{i}" for i in range(24)]
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
TINY = dict(
    cell_hidden_sizes=[16],
    cell_embed_dim=8,
    drug_hidden_size=8,
    drug_num_layers=1,
    drug_num_heads=2,
    drug_intermediate_size=16,
    drug_embed_dim=8,
    fusion_hidden_sizes=[16],
    joint_embed_dim=8,
    fingerprint_bits=32,
    hidden_dropout_prob=0.0,
)


def _cells(n=7, genes=GENES, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.normal(size=(n, len(genes))).astype(np.float32), columns=genes, index=[f"cell{i}" for i in range(n)]
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny") / "model"
    processor = MetaScDrugProcessor.from_genes(GENES, fingerprint_bits=32)
    torch.manual_seed(0)
    config = MetaScDrugConfig(gene_panel_size=len(GENES), smiles_vocab_size=len(processor.smiles_tokenizer), **TINY)
    MetaScDrugForDrugResponse(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _direct(folder, cells, smiles=ASPIRIN):
    model = MetaScDrugForDrugResponse.from_pretrained(folder).eval()
    processor = MetaScDrugProcessor.from_pretrained(folder)
    with torch.no_grad():
        out = model(**processor(cells=cells, smiles=smiles))
    return out.sensitive_logit.sigmoid().numpy(), out.ln_ic50.numpy()


def test_pipeline_equals_a_direct_model_call_for_every_input_type(tiny):
    anndata = pytest.importorskip("anndata")
    response = pipeline("drug-response", model=str(tiny), device="cpu")
    assert isinstance(response, DrugResponsePipeline)
    cells = _cells()
    probability, ln_ic50 = _direct(tiny, cells)

    result = response(cells, smiles=ASPIRIN, cell_batch_size=3)
    assert [row["cell"] for row in result] == list(cells.index)
    np.testing.assert_allclose([row["sensitive_probability"] for row in result], probability, atol=1e-6)
    np.testing.assert_allclose([row["ln_ic50_z"] for row in result], ln_ic50, atol=1e-6)
    assert [row["label"] for row in result] == ["sensitive" if p >= 0.5 else "resistant" for p in probability]

    shuffled = cells[GENES[::-1]].assign(EXTRA=1.0)  # column order and genes outside the panel do not matter
    as_dict = response({"expression": shuffled.to_numpy(), "genes": list(shuffled.columns)}, smiles=ASPIRIN)
    as_adata = response(anndata.AnnData(shuffled.astype(np.float32)), drug="aspirin", smiles_table={"Aspirin": ASPIRIN})
    for other in (as_dict, as_adata):
        np.testing.assert_allclose([row["sensitive_probability"] for row in other], probability, atol=1e-6)
    assert [row["cell"] for row in as_dict] == [str(i) for i in range(7)]

    strict = response(cells, smiles=ASPIRIN, threshold=0.99)
    assert [row["label"] for row in strict] == ["sensitive" if p >= 0.99 else "resistant" for p in probability]


def test_pipeline_errors_name_the_problem(tiny, tmp_path):
    response = DrugResponsePipeline(
        model=MetaScDrugForDrugResponse.from_pretrained(tiny),
        processor=MetaScDrugProcessor.from_pretrained(tiny),
        device="cpu",
    )
    cells = _cells()
    with pytest.raises(ValueError, match=r"invalid SMILES 'C1CC\('"):
        response(cells, smiles="C1CC(")
    table = tmp_path / "drugs.csv"
    table.write_text("name,smiles\nAspirin,CC(=O)Oc1ccccc1C(=O)O\n")
    with pytest.raises(ValueError, match=r"unknown drug 'Notadrugmab'.*smiles="):
        response(cells, drug="Notadrugmab", smiles_table=str(table))
    assert response(cells, drug="ASPIRIN", smiles_table=str(table))[0] == response(cells, smiles=ASPIRIN)[0]
    with pytest.raises(ValueError, match="give the drug"):
        response(cells)
    with pytest.raises(GenePanelOverlapError, match=r"only 2 of the 24 panel genes"):
        response(_cells(genes=["A", "B", "C", "G0", "G1"]), smiles=ASPIRIN)
    with pytest.raises(TypeError, match="unknown options"):
        response(cells, smiles=ASPIRIN, temperature=2)


PORTABLE = textwrap.dedent(
    """
    import json, sys
    sys.modules["txformers"] = None  # the pipeline must work where txformers cannot be imported
    import numpy as np
    from transformers import pipeline

    folder, expression, genes, smiles = sys.argv[1], np.load(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
    response = pipeline("drug-response", model=folder, trust_remote_code=True, device="cpu")
    result = response({"expression": expression, "genes": genes}, smiles=smiles)
    print("RESULT", json.dumps({"pipeline": type(response).__module__, "processor": type(response.processor).__module__,
                                "probability": [row["sensitive_probability"] for row in result]}))
    """
)


def _run_portable(folder, cells, tmp_path, smiles=ASPIRIN):
    np.save(tmp_path / "expression.npy", cells.to_numpy())
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": "", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PORTABLE,
            str(folder),
            str(tmp_path / "expression.npy"),
            json.dumps(list(cells.columns)),
            smiles,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line[len("RESULT ") :])
    assert "txformers" not in result["pipeline"] and "txformers" not in result["processor"]
    return np.array(result["probability"])


def test_saved_pipeline_loads_with_trust_remote_code_without_txformers(tiny, tmp_path):
    response = pipeline("drug-response", model=str(tiny), device="cpu")
    folder = tmp_path / "shipped"
    response.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"]["drug-response"]["impl"] == "pipeline_metascdrug.DrugResponsePipeline"
    assert (folder / "pipeline_metascdrug.py").read_bytes() == PIPELINE_FILE.read_bytes()
    cells = _cells()
    probability = _run_portable(folder, cells, tmp_path)
    np.testing.assert_allclose(probability, _direct(tiny, cells)[0], atol=1e-5)


# ---------------------------------------------------------------------------------------------- bundled checkpoints
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_checkpoints_ship_the_pipeline(name):
    folder = CHECKPOINTS / name
    assert (folder / "pipeline_metascdrug.py").read_bytes() == PIPELINE_FILE.read_bytes()
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"] == {
        "drug-response": {
            "impl": "pipeline_metascdrug.DrugResponsePipeline",
            "pt": ["AutoModelForSequenceClassification"],
            "type": "multimodal",
        }
    }


def _panel_cells(folder, n_genes=600, n_cells=6):
    genes = MetaScDrugProcessor.from_pretrained(folder).genes[:n_genes]
    return _cells(n_cells, genes, seed=1)


def test_bundled_checkpoint_with_trust_remote_code():
    folder = CHECKPOINTS / "metascdrug-meta"
    response = pipeline("drug-response", model=str(folder), trust_remote_code=True, device="cpu")
    cells = _panel_cells(folder)
    result = response(cells, smiles=ASPIRIN)
    np.testing.assert_allclose([row["sensitive_probability"] for row in result], _direct(folder, cells)[0], atol=1e-5)


@pytest.mark.slow
def test_bundled_checkpoint_loads_without_txformers(tmp_path):
    folder = CHECKPOINTS / "metascdrug-meta"
    cells = _panel_cells(folder)
    probability = _run_portable(folder, cells, tmp_path)
    np.testing.assert_allclose(probability, _direct(folder, cells)[0], atol=1e-5)
