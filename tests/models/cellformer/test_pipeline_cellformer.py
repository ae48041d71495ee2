"""Tests of the "cancer-type-classification" pipeline (CancerTypePipeline): inputs, values against a direct
model call, per-sample aggregation, errors, saving, and loading the bundled checkpoint with plain transformers
(trust_remote_code) in a process where txformers cannot be imported."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from transformers import pipeline

from txformers.hub import CHECKPOINTS, SHARED_DATA
from txformers.models.cellformer import (
    CancerTypePipeline,
    CellformerConfig,
    CellformerForCellClassification,
    pipeline_cellformer,
)
from txformers.tasks.cytokine.cancer_type import aggregate_by_sample
from txformers.tokenizers import GeneExpressionTokenizer

BUNDLED = CHECKPOINTS / "cellformer-cancer-type"
SHARED = SHARED_DATA
PANEL = ["IL2", "IFNG", "TNF", "CCL5", "CXCL13", "IL10"]
GENES = PANEL + ["ACTB", "CD3E"]
LABELS = ["lung", "melanoma", "renal"]
KEYS = ("input_ids", "expression_bins", "expression", "attention_mask")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    tokenizer = GeneExpressionTokenizer.from_genes(PANEL, mode="bins", n_bins=11, max_length=len(PANEL) + 1)
    config = CellformerConfig(
        vocab_size=tokenizer.vocab_size,
        n_bins=11,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
        id2label=dict(enumerate(LABELS)),
        label2id={c: i for i, c in enumerate(LABELS)},
    )
    torch.manual_seed(0)
    CellformerForCellClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def adata() -> ad.AnnData:
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, size=(10, len(GENES))).astype(np.float32)
    counts[:, GENES.index("ACTB")] += 30
    counts[3, : len(PANEL)] = 0  # a cell with no panel gene detected
    obs = pd.DataFrame({"sample": list("aabbbccccc")}, index=[f"cell{i}" for i in range(10)])
    return ad.AnnData(counts, obs=obs, var=pd.DataFrame(index=GENES))


def _direct(model_dir: Path, data, gene_names=None) -> np.ndarray:
    model = CellformerForCellClassification.from_pretrained(model_dir).eval()
    encoded = GeneExpressionTokenizer.from_pretrained(model_dir)(data, gene_names, return_tensors="pt")
    with torch.no_grad():
        return model(**{key: encoded[key] for key in KEYS}).logits.softmax(-1).numpy()


def test_registered_task_loads_without_remote_code(model_dir, adata):
    classify = pipeline("cancer-type-classification", model=str(model_dir), device="cpu")
    assert isinstance(classify, CancerTypePipeline)
    cells = classify(adata, cell_batch_size=3, return_all_scores=True)
    expected = _direct(model_dir, adata)
    assert [cell["cell"] for cell in cells] == adata.obs_names.tolist()
    np.testing.assert_allclose([[cell["scores"][label] for label in LABELS] for cell in cells], expected, atol=1e-6)
    assert [cell["label"] for cell in cells] == [LABELS[i] for i in expected.argmax(1)]
    np.testing.assert_allclose([cell["score"] for cell in cells], expected.max(1), atol=1e-6)
    assert [cell["genes_detected"] for cell in cells] == (adata[:, PANEL].X > 0).sum(1).tolist()
    assert cells[3]["genes_detected"] == 0
    assert set(classify(adata)[0]) == {"cell", "label", "score", "genes_detected"}  # no "scores" unless asked


def test_samples_are_the_mean_of_their_cells(model_dir, adata):
    classify = pipeline("cancer-type-classification", model=str(model_dir), device="cpu")
    result = classify(adata, sample_column="sample", return_all_scores=True, cell_batch_size=4)
    ids, mean = aggregate_by_sample(_direct(model_dir, adata), adata.obs["sample"].to_numpy(dtype=str))
    assert [s["sample"] for s in result["samples"]] == ids.tolist() == ["a", "b", "c"]
    assert [s["n_cells"] for s in result["samples"]] == [2, 3, 5]
    np.testing.assert_allclose([[s["scores"][label] for label in LABELS] for s in result["samples"]], mean, atol=1e-6)
    assert [s["label"] for s in result["samples"]] == [LABELS[i] for i in mean.argmax(1)]
    assert len(result["cells"]) == 10


def test_dict_dataframe_and_list_inputs(model_dir, adata):
    classify = CancerTypePipeline(
        model=CellformerForCellClassification.from_pretrained(model_dir),
        tokenizer=GeneExpressionTokenizer.from_pretrained(model_dir),
        device="cpu",
    )
    X = np.asarray(adata.X)
    expected = _direct(model_dir, X, GENES)
    from_dict = classify(
        {"expression": X, "genes": GENES, "cells": adata.obs_names, "samples": list(adata.obs["sample"])},
        return_all_scores=True,
    )
    np.testing.assert_allclose(
        [[c["scores"][label] for label in LABELS] for c in from_dict["cells"]], expected, atol=1e-6
    )
    one = classify({"expression": X[0], "genes": GENES}, return_all_scores=True)
    assert len(one) == 1 and one[0]["cell"] == "0"
    np.testing.assert_allclose([one[0]["scores"][label] for label in LABELS], expected[0], atol=1e-6)
    frame = classify(pd.DataFrame(X, index=adata.obs_names, columns=GENES))
    assert [c["label"] for c in frame] == [c["label"] for c in from_dict["cells"]]
    batches = classify([adata[:4], adata[4:]])
    assert [len(b) for b in batches] == [4, 6]
    assert [c["label"] for b in batches for c in b] == [c["label"] for c in from_dict["cells"]]


def test_bad_inputs_name_the_problem(model_dir, adata):
    classify = pipeline("cancer-type-classification", model=str(model_dir), device="cpu")
    other = ad.AnnData(np.ones((2, 2), dtype=np.float32), var=pd.DataFrame(index=["ENSG00000111640", "ACTB"]))
    with pytest.raises(ValueError, match=r"none of the model's 6 panel genes.*ENSG00000111640.*'IL2', 'IFNG'"):
        classify(other)
    with pytest.raises(ValueError, match="sample_column 'donor' is not an obs column"):
        classify(adata, sample_column="donor")
    with pytest.raises(ValueError, match="needs 'expression'"):
        classify({"values": [1, 2]})
    with pytest.raises(ValueError, match="3 sample ids for 10 cells"):
        classify({"expression": np.asarray(adata.X), "genes": GENES, "samples": ["a", "b", "c"]})
    with pytest.raises(TypeError, match="unknown options"):
        classify(adata, top_k=2)
    with pytest.raises(ValueError, match="negative values"):
        classify({"expression": -np.ones((2, len(GENES))), "genes": GENES})


def test_save_pretrained_ships_the_pipeline_and_the_bundled_checkpoint_matches(model_dir, tmp_path):
    classify = pipeline("cancer-type-classification", model=str(model_dir), device="cpu")
    classify.save_pretrained(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    entry = {"impl": "pipeline_cellformer.CancerTypePipeline", "pt": ["AutoModelForSequenceClassification"]}
    assert config["custom_pipelines"] == {"cancer-type-classification": entry}
    assert filecmp.cmp(tmp_path / "saved" / "pipeline_cellformer.py", pipeline_cellformer.__file__, shallow=False)
    # the bundled checkpoint carries the same entry and an up-to-date copy of the pipeline file
    bundled = json.loads((BUNDLED / "config.json").read_text())
    assert bundled["custom_pipelines"] == {"cancer-type-classification": entry}
    assert filecmp.cmp(BUNDLED / "pipeline_cellformer.py", pipeline_cellformer.__file__, shallow=False)


REMOTE = r"""
import json, sys
sys.modules["txformers"] = None  # any `import txformers` now fails
import numpy as np
from transformers import pipeline
classify = pipeline("cancer-type-classification", model=sys.argv[1], trust_remote_code=True, device="cpu")
data = json.loads(sys.argv[2])
result = classify({"expression": np.array(data["X"]), "genes": data["genes"], "samples": data["samples"]},
                  return_all_scores=True)
modules = [type(classify).__module__, type(classify.model).__module__, type(classify.tokenizer).__module__]
print("RESULT", json.dumps({"modules": modules, "result": result}))
"""


def test_bundled_checkpoint_runs_with_plain_transformers(tmp_path):
    tokenizer = GeneExpressionTokenizer.from_pretrained(BUNDLED)
    rng = np.random.default_rng(1)
    genes = tokenizer.genes + ["ACTB", "MALAT1"]
    X = rng.poisson(0.7, size=(6, len(genes))).astype(float)
    X[:, -2:] += 40
    samples = ["s1", "s1", "s1", "s2", "s2", "s2"]
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", REMOTE, str(BUNDLED), json.dumps({"X": X.tolist(), "genes": genes, "samples": samples})],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    payload = json.loads(line[len("RESULT ") :])
    assert all(module.startswith("transformers_modules.") for module in payload["modules"])
    assert payload["modules"][0].endswith("pipeline_cellformer")

    model = CellformerForCellClassification.from_pretrained(BUNDLED).eval()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    encoded = tokenizer(X, genes, return_tensors="pt")
    with torch.no_grad():
        expected = model(**{key: encoded[key] for key in KEYS}).logits.softmax(-1).numpy()
    cells = payload["result"]["cells"]
    np.testing.assert_allclose([[c["scores"][label] for label in labels] for c in cells], expected, atol=1e-5)
    ids, mean = aggregate_by_sample(expected, np.array(samples))
    np.testing.assert_allclose(
        [[s["scores"][label] for label in labels] for s in payload["result"]["samples"]], mean, atol=1e-5
    )


@pytest.mark.skipif(not SHARED.exists(), reason=f"real data folder {SHARED} is absent")
def test_bundled_checkpoint_on_real_wu2020_t_cells():
    cells = ad.read_h5ad(SHARED / "scrna" / "wu2020_200_tcells_4cancers.h5ad")
    classify = pipeline(
        "cancer-type-classification", model=str(BUNDLED), pipeline_class=CancerTypePipeline, device="cpu"
    )
    result = classify(cells, sample_column="patient")
    assert len(result["cells"]) == cells.n_obs
    assert sorted(s["sample"] for s in result["samples"]) == sorted(set(cells.obs["patient"]))
    assert sum(s["n_cells"] for s in result["samples"]) == cells.n_obs
    assert all(0 < c["score"] <= 1 and c["predicted_label"] in classify.labels for c in result["cells"])
    # the bundled abstain rule: these are training cells of known types, so few are called unknown
    unknown = [c["unknown"] for c in result["cells"]]
    assert [c["label"] == "unknown" for c in result["cells"]] == unknown and np.mean(unknown) < 0.1


def test_abstain_rule_in_the_config_calls_out_of_range_cells_unknown(model_dir, adata, tmp_path):
    folder = tmp_path / "with_rule"
    model = CellformerForCellClassification.from_pretrained(model_dir)
    # a rule no cell can pass on coverage except cells with every panel gene detected
    model.config.abstain = {
        "min_panel_coverage": 0.5,
        "min_probability": 0.0,
        "max_distance": 1e9,
        "mean": [0.0] * 16,
        "scale": [1.0] * 16,
        "centroids": [[0.0] * 16],
        "distance_unit": 1.0,
    }
    model.save_pretrained(folder)
    GeneExpressionTokenizer.from_pretrained(model_dir).save_pretrained(folder)
    classify = pipeline("cancer-type-classification", model=str(folder), device="cpu")
    cells = classify(adata, sample_column="sample")["cells"]
    plain = pipeline("cancer-type-classification", model=str(model_dir), device="cpu")(adata)
    low = [cell["genes_detected"] / len(PANEL) < 0.5 for cell in cells]
    assert any(low) and [cell["unknown"] for cell in cells] == low
    assert cells[3]["label"] == "unknown" and cells[3]["reasons"] == ["panel_coverage"]
    assert [cell["predicted_label"] for cell in cells] == [cell["label"] for cell in plain]
    assert classify(adata, abstain=False)[3]["label"] == plain[3]["label"]  # the rule can be turned off
    distance = pipeline_cellformer.cell_distance(np.zeros((1, 16)), model.config.abstain)
    assert distance.tolist() == [0.0]
