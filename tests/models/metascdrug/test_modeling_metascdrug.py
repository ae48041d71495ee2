"""MetaSCDrug model, processor and portability (tiny synthetic inputs); LoRA and integrated gradients are tested
with their tasks (tests/tasks/drug_response)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from txformers.hub import CHECKPOINTS
from txformers.models.metascdrug import (
    GenePanelOverlapError,
    MetaScDrugConfig,
    MetaScDrugForDrugResponse,
    MetaScDrugModel,
    MetaScDrugProcessor,
)
from txformers.tokenizers.tokenization_smiles import InvalidSmilesError

GENES = [f"G{i}" for i in range(24)]
DRUGS = {
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
}
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


def make_processor(**kwargs):
    return MetaScDrugProcessor.from_genes(GENES, fingerprint_bits=32, **kwargs)


def make_model(processor, **kwargs):
    torch.manual_seed(0)
    config = MetaScDrugConfig(
        gene_panel_size=len(processor.genes), smiles_vocab_size=len(processor.smiles_tokenizer), **{**TINY, **kwargs}
    )
    return MetaScDrugForDrugResponse(config).eval()


def make_cells(n=6, genes=GENES, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.normal(size=(n, len(genes))).astype(np.float32), columns=genes, index=[f"cell{i}" for i in range(n)]
    )


@pytest.fixture
def processor():
    pytest.importorskip("rdkit")
    return make_processor()


def test_forward_shapes_and_losses(processor):
    model = make_model(processor)
    inputs = processor(cells=make_cells(5), smiles=DRUGS["aspirin"])
    out = model(**inputs)
    assert out.logits.shape == (5, 1) and out.ln_ic50.shape == (5,) and out.sensitive_logit.shape == (5,)
    assert out.cell_embeds.shape == (5, 8) and out.drug_embeds.shape == (5, 8) and out.joint_embeds.shape == (5, 8)
    assert out.loss is None
    labels = torch.tensor([1, 0, 1, 0, 0])
    z = torch.tensor([-1.0, 0.5, float("nan"), 1.0, 0.2])
    out = model(**inputs, labels=labels, regression_labels=z)
    expected_cls = torch.nn.functional.binary_cross_entropy_with_logits(out.sensitive_logit, labels.float())
    known = ~torch.isnan(z)
    expected_reg = ((out.ln_ic50[known] - z[known]) ** 2).mean()
    assert torch.allclose(out.classification_loss, expected_cls) and torch.allclose(out.regression_loss, expected_reg)
    assert torch.allclose(out.loss, expected_cls + expected_reg)
    out.loss.backward()
    assert model.metascdrug.cell_encoder.layers[0].weight.grad.abs().sum() > 0
    # one drug per cell gives the same result as one broadcast drug
    per_cell = processor.encode_drugs([DRUGS["aspirin"]] * 5)
    again = model(expression=inputs["expression"], missing_mask=inputs["missing_mask"], **per_cell)
    assert torch.allclose(again.logits, model(**inputs).logits, atol=1e-5)
    # two labels: softmax head, sensitive logit = difference
    two = make_model(processor, num_labels=2)
    out = two(**inputs, labels=labels)
    assert out.logits.shape == (5, 2)
    assert torch.allclose(out.sensitive_logit, out.logits[:, 1] - out.logits[:, 0])


def test_missing_genes_are_masked_and_rescaled(processor):
    model = make_model(processor)
    encoder = model.metascdrug.cell_encoder
    x = torch.randn(2, len(GENES))
    mask = torch.zeros_like(x, dtype=torch.bool)
    mask[:, :6] = True
    masked = encoder.mask_inputs(x, mask)
    assert (masked[:, :6] == 0).all()
    assert torch.allclose(masked[:, 6:], x[:, 6:] * len(GENES) / (len(GENES) - 6))
    changed = x.clone()
    changed[:, :6] = 100.0  # values of missing genes do not matter
    assert torch.allclose(encoder(changed, mask), encoder(x, mask))
    # processor: a panel gene absent from the data is missing and zero
    cells = make_cells(4).drop(columns=["G3"])
    enc = processor(cells=cells)
    position = processor.genes.index("G3")
    assert enc["missing_mask"][:, position].all() and (enc["expression"][:, position] == 0).all()
    assert not enc["missing_mask"][:, 0].any()
    assert abs(float(enc["expression"][:, 0].mean())) < 1e-5  # standardised over the cells


def test_gene_dropout_only_in_training(processor):
    model = make_model(processor, gene_dropout=0.5)
    encoder = model.metascdrug.cell_encoder
    x = torch.randn(3, len(GENES))
    encoder.eval()
    assert torch.equal(encoder.mask_inputs(x), x)
    encoder.train()
    torch.manual_seed(1)
    assert (encoder.mask_inputs(x) == 0).float().mean() > 0.2


def test_bad_inputs(processor):
    with pytest.raises(InvalidSmilesError, match="SMILES 1"):
        processor.encode_drugs(["CCO", "C1CC(X"])
    with pytest.raises(GenePanelOverlapError, match=r"only 2 of the 24 panel genes"):
        processor(cells=make_cells(3)[["G1", "G2"]])
    with pytest.raises(ValueError, match="at least 2 cells"):
        processor(cells=make_cells(1))
    model = make_model(processor)
    with pytest.raises(ValueError, match="panel has 24"):
        model(expression=torch.zeros(2, 5), **processor.encode_drugs("CCO"))
    with pytest.raises(ValueError, match="fingerprint"):
        model(expression=torch.zeros(2, 24), input_ids=processor.encode_drugs("CCO")["input_ids"])
    with pytest.raises(ValueError, match="pass a drug"):
        model(expression=torch.zeros(2, 24))
    with pytest.raises(ValueError, match="fusion_type"):
        MetaScDrugConfig(fusion_type="sum")


def test_default_drug_embedding(processor):
    model = make_model(processor)
    drugs = processor.encode_drugs(list(DRUGS.values()))
    with torch.no_grad():
        embeds = model.metascdrug.drug_encoder(**drugs)
    model.metascdrug.set_default_drug_embedding(embeds)
    assert model.config.has_default_drug
    cells = processor(cells=make_cells(3))
    out = model(**cells)
    assert torch.allclose(out.drug_embeds[0], embeds.mean(0), atol=1e-6)


def test_save_load_round_trip(tmp_path, processor):
    model = make_model(processor, fusion_type="concat_product")
    with torch.no_grad():
        model.metascdrug.set_default_drug_embedding(torch.randn(3, 8))
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModelForSequenceClassification"] == "modeling_metascdrug.MetaScDrugForDrugResponse"
    assert {"modeling_metascdrug.py", "configuration_metascdrug.py", "processing_metascdrug.py"} <= set(
        os.listdir(tmp_path)
    )
    loaded = MetaScDrugForDrugResponse.from_pretrained(tmp_path).eval()
    loaded_processor = MetaScDrugProcessor.from_pretrained(tmp_path)
    assert loaded_processor.genes == processor.genes and loaded_processor.fingerprint_bits == 32
    cells = make_cells(4)
    a = model(**processor(cells=cells, smiles=DRUGS["caffeine"]))
    b = loaded(**loaded_processor(cells=cells, smiles=DRUGS["caffeine"]))
    assert torch.allclose(a.logits, b.logits, atol=1e-6) and torch.allclose(a.ln_ic50, b.ln_ic50, atol=1e-6)
    assert torch.allclose(loaded.metascdrug.default_drug_embeds, model.metascdrug.default_drug_embeds)
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoProcessor

    assert isinstance(AutoModelForSequenceClassification.from_pretrained(tmp_path), MetaScDrugForDrugResponse)
    assert isinstance(AutoModel.from_pretrained(tmp_path), MetaScDrugModel)
    assert isinstance(AutoProcessor.from_pretrained(tmp_path), MetaScDrugProcessor)


PORTABLE = textwrap.dedent(
    """
    import json, sys
    sys.modules["txformers"] = None  # importing txformers now fails
    import pandas as pd, torch
    from transformers import AutoModelForSequenceClassification, AutoProcessor
    path, cells_file, smiles = sys.argv[1], sys.argv[2], sys.argv[3]
    model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(path, trust_remote_code=True)
    cells = pd.read_csv(cells_file, index_col=0)
    with torch.no_grad():
        out = model(**processor(cells=cells, smiles=smiles))
    print("RESULT", json.dumps({"model": type(model).__module__, "processor": type(processor).__module__,
                                "logits": out.logits.tolist()}))
    """
)


def test_loads_without_txformers(tmp_path, processor):
    model = make_model(processor)
    model.save_pretrained(tmp_path / "ckpt")
    processor.save_pretrained(tmp_path / "ckpt")
    cells = make_cells(4)
    cells.to_csv(tmp_path / "cells.csv")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": "", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    completed = subprocess.run(
        [sys.executable, "-c", PORTABLE, str(tmp_path / "ckpt"), str(tmp_path / "cells.csv"), DRUGS["aspirin"]],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line[len("RESULT ") :])
    assert "txformers" not in result["model"] and "txformers" not in result["processor"]
    with torch.no_grad():
        expected = model(**processor(cells=cells, smiles=DRUGS["aspirin"])).logits
    assert torch.allclose(torch.tensor(result["logits"]), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["metascdrug-meta", "metascdrug-nometa"])
def test_bundled_checkpoints(name):
    folder = CHECKPOINTS / name
    if not folder.exists():
        pytest.skip(f"{folder} is not built")
    pytest.importorskip("rdkit")
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    assert size < 20 * 2**20
    assert (folder / "model.safetensors").exists() and not list(folder.rglob("*.bin"))
    model = MetaScDrugForDrugResponse.from_pretrained(folder).eval()
    processor = MetaScDrugProcessor.from_pretrained(folder)
    assert model.config.gene_panel_size == len(processor.genes) and model.config.has_default_drug
    split = json.loads((folder / "drug_split.json").read_text())
    assert len(split["test"]) >= 40 and not set(split["test"]) & set(split["train"])
    args = json.loads((folder / "training_args.json").read_text())
    assert args["mode"] == ("multitask" if "nometa" in name else "maml")
    rng = np.random.default_rng(0)
    cells = pd.DataFrame(rng.normal(size=(4, len(processor.genes))), columns=processor.genes)
    with torch.no_grad():
        out = model(**processor(cells=cells, smiles=DRUGS["aspirin"]))
    assert torch.isfinite(out.logits).all() and out.logits.shape == (4, 1)


def test_bundled_checkpoints_share_the_drug_split():
    if not (CHECKPOINTS / "metascdrug-meta").exists():
        pytest.skip("checkpoints are not built")
    meta = json.loads((CHECKPOINTS / "metascdrug-meta" / "drug_split.json").read_text())
    nometa = json.loads((CHECKPOINTS / "metascdrug-nometa" / "drug_split.json").read_text())
    assert meta == nometa
