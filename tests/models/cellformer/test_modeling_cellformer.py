"""Tests of Cellformer: forward, masked-expression and classification losses, padding and gene-order
invariance, save/load, Auto classes, portability without txformers, the bundled checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import anndata as ad
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from txformers.hub import REPO_ROOT, SHARED_DATA, register
from txformers.models.cellformer import (
    CellformerConfig,
    CellformerForCellClassification,
    CellformerForMaskedExpressionModeling,
    CellformerModel,
)
from txformers.tasks.cytokine.masked_expression import gene_positions, mask_expression
from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

SHARED = SHARED_DATA
REPO = REPO_ROOT
GENES = ["IL2", "IFNG", "TNF", "CXCL13", "CCL5", "IL10", "TGFB1", "CD3E"]


def tiny_config(**overrides) -> CellformerConfig:
    values = dict(
        vocab_size=4 + len(GENES) + 2,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        n_bins=11,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=3,
    )
    values.update(overrides)
    return CellformerConfig(**values)


@pytest.fixture
def tokenizer() -> GeneExpressionTokenizer:
    return GeneExpressionTokenizer.from_genes(GENES, mode="bins", n_bins=11, max_length=16, batch_tokens=["s1", "s2"])


@pytest.fixture
def counts() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.poisson(1.5, size=(6, len(GENES))) * (rng.random((6, len(GENES))) < 0.7)


def encode(tokenizer, counts, **kwargs):
    return tokenizer(counts, gene_names=GENES, return_tensors="pt", **kwargs)


# ---------------------------------------------------------------------------------------- forward
@pytest.mark.parametrize("value_encoding", ["bins", "continuous"])
def test_forward_shapes_and_tokenizer_outputs_are_accepted(tokenizer, counts, value_encoding):
    torch.manual_seed(0)
    config = tiny_config(value_encoding=value_encoding)
    enc = encode(tokenizer, counts, batch=["s1"] * 6)
    assert "n_genes_detected" in enc and "coverage" in enc  # extra keys the models must ignore
    base = CellformerModel(config).eval()
    out = base(**enc)
    length = enc["input_ids"].shape[1]
    assert out.last_hidden_state.shape == (6, length, 32)
    assert out.pooler_output.shape == (6, 32)
    assert torch.allclose(out.pooler_output, out.last_hidden_state[:, 0])
    logits = CellformerForCellClassification(config).eval()(**enc).logits
    assert logits.shape == (6, 3)
    mlm = CellformerForMaskedExpressionModeling(config).eval()(**enc).logits
    assert mlm.shape == (6, length, 11)


def test_value_objective_predicts_one_value_per_token(tokenizer, counts):
    model = CellformerForMaskedExpressionModeling(tiny_config(mlm_objective="value")).eval()
    enc = encode(tokenizer, counts)
    assert model(**enc).logits.shape == enc["input_ids"].shape


def test_values_change_the_output(tokenizer, counts):
    torch.manual_seed(0)
    model = CellformerModel(tiny_config()).eval()
    enc = encode(tokenizer, counts)
    changed = dict(enc)
    changed["expression_bins"] = enc["expression_bins"].clone()
    changed["expression_bins"][:, 1] = (changed["expression_bins"][:, 1] % 10) + 1
    assert not torch.allclose(model(**enc).pooler_output, model(**changed).pooler_output)


# ---------------------------------------------------------------------------------------- losses
def test_masked_expression_loss_uses_masked_positions_only(tokenizer, counts):
    torch.manual_seed(0)
    model = CellformerForMaskedExpressionModeling(tiny_config()).eval()
    enc = encode(tokenizer, counts)
    genes = gene_positions(enc["input_ids"], enc["attention_mask"], torch.tensor([0, 1, 2, 3, 12, 13]))
    inputs, labels = mask_expression(
        dict(enc), genes, mask_bin=12, probability=0.3, generator=torch.Generator().manual_seed(0)
    )
    out = model(**inputs, labels=labels)
    selected = labels != -100
    expected = F.cross_entropy(out.logits[selected], labels[selected])
    assert torch.allclose(out.loss, expected)
    # labels outside the masked positions do not matter as long as they are -100; a different label at a
    # masked position changes the loss
    other = labels.clone()
    position = selected.nonzero()[0]
    other[position[0], position[1]] = (labels[position[0], position[1]] + 5) % 11
    assert not torch.allclose(model(**inputs, labels=other).loss, out.loss)


def test_value_loss_ignores_minus_100_and_nan():
    torch.manual_seed(0)
    model = CellformerForMaskedExpressionModeling(tiny_config(mlm_objective="value")).eval()
    ids = torch.tensor([[1, 4, 5, 6, 7]])
    bins = torch.tensor([[0, 3, 12, 5, 12]])
    expression = torch.tensor([[0.0, 1.0, 0.0, 2.0, 0.0]])
    labels = torch.tensor([[-100.0, -100.0, 1.5, float("nan"), 0.7]])
    out = model(input_ids=ids, expression_bins=bins, expression=expression, labels=labels)
    expected = ((out.logits[0, 2] - 1.5) ** 2 + (out.logits[0, 4] - 0.7) ** 2) / 2
    assert torch.allclose(out.loss, expected)


def test_nothing_masked_gives_zero_loss_with_gradient(tokenizer, counts):
    model = CellformerForMaskedExpressionModeling(tiny_config())
    enc = encode(tokenizer, counts)
    out = model(**enc, labels=torch.full_like(enc["input_ids"], -100))
    assert out.loss.item() == 0.0
    out.loss.backward()  # no error: the graph is intact


def test_mask_expression_hides_only_genes_and_at_least_one_per_cell(tokenizer, counts):
    enc = encode(tokenizer, counts, batch=["s2"] * 6)
    non_gene = torch.tensor(sorted(i for t, i in tokenizer.get_vocab().items() if t not in tokenizer.genes))
    genes = gene_positions(enc["input_ids"], enc["attention_mask"], non_gene)
    assert not genes[:, :2].any()  # <cls> and the study token are never genes
    inputs, labels = mask_expression(
        dict(enc), genes, tokenizer.mask_bin, probability=0.0, generator=torch.Generator().manual_seed(1)
    )
    chosen = labels != -100
    assert (chosen & ~genes).sum() == 0
    has_genes = genes.any(1)
    assert torch.equal(chosen.sum(1)[has_genes], torch.ones(int(has_genes.sum()), dtype=torch.long))
    assert (inputs["expression_bins"][chosen] == tokenizer.mask_bin).all()
    assert torch.equal(labels[chosen], enc["expression_bins"][chosen])
    assert torch.equal(inputs["expression_bins"][~chosen], enc["expression_bins"][~chosen])


def test_masked_positions_equal_mask_bin_in_both_encodings(tokenizer, counts):
    enc = encode(tokenizer, counts)
    masked = torch.zeros_like(enc["input_ids"], dtype=torch.bool)
    masked[:, 1] = True
    for encoding in ("bins", "continuous"):
        torch.manual_seed(0)
        model = CellformerModel(tiny_config(value_encoding=encoding)).eval()
        by_flag = model(**enc, masked_positions=masked).pooler_output
        bins = enc["expression_bins"].masked_fill(masked, 12)
        by_bin = model(**{**enc, "expression_bins": bins}).pooler_output
        assert torch.allclose(by_flag, by_bin, atol=1e-6)
        assert not torch.allclose(by_flag, model(**enc).pooler_output)


# ---------------------------------------------------------------------------------------- invariances
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_padding_invariance(tokenizer, counts, pooling):
    torch.manual_seed(0)
    model = CellformerForCellClassification(tiny_config(classifier_pooling=pooling)).eval()
    longest = encode(tokenizer, counts)
    padded = encode(tokenizer, counts, padding="max_length")
    assert padded["input_ids"].shape[1] > longest["input_ids"].shape[1]
    single = [encode(tokenizer, counts[i : i + 1]) for i in range(len(counts))]
    with torch.no_grad():
        a = model(**longest).logits
        b = model(**padded).logits
        c = torch.cat([model(**s).logits for s in single])
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-5)


def test_gene_order_does_not_matter(tokenizer, counts):
    torch.manual_seed(0)
    model = CellformerModel(tiny_config()).eval()
    enc = encode(tokenizer, counts[:1])
    n = int(enc["attention_mask"].sum())
    order = torch.cat([torch.tensor([0]), torch.arange(n - 1, 0, -1)])
    permuted = {
        k: v[:, order] for k, v in enc.items() if k in ("input_ids", "expression_bins", "expression", "attention_mask")
    }
    with torch.no_grad():
        assert torch.allclose(model(**enc).pooler_output, model(**permuted).pooler_output, atol=1e-5)


# ---------------------------------------------------------------------------------------- bad input
def test_bad_inputs_name_the_problem(tokenizer, counts):
    model = CellformerModel(tiny_config(vocab_size=6)).eval()
    enc = encode(tokenizer, counts)
    with pytest.raises(ValueError, match="vocab_size"):
        model(**enc)
    model = CellformerModel(tiny_config()).eval()
    with pytest.raises(ValueError, match="expression_bins"):
        model(input_ids=enc["input_ids"])
    with pytest.raises(ValueError, match="n_bins"):
        model(input_ids=enc["input_ids"], expression_bins=enc["expression_bins"] + 20)
    with pytest.raises(ValueError, match="value_encoding"):
        CellformerConfig(value_encoding="rank")
    with pytest.raises(ValueError, match="mask_bin"):
        CellformerConfig(n_bins=11, pad_bin=12, mask_bin=12)


# ---------------------------------------------------------------------------------------- save / load
def test_save_load_roundtrip_and_strict_loading(tmp_path, tokenizer, counts):
    torch.manual_seed(0)
    register()
    mlm = CellformerForMaskedExpressionModeling(tiny_config()).eval()
    mlm.save_pretrained(tmp_path / "mlm")
    config = json.loads((tmp_path / "mlm" / "config.json").read_text())
    assert set(config["auto_map"]) == {
        "AutoConfig",
        "AutoModel",
        "AutoModelForMaskedLM",
        "AutoModelForSequenceClassification",
    }
    assert (tmp_path / "mlm" / "modeling_cellformer.py").is_file()
    enc = encode(tokenizer, counts)
    reloaded = CellformerForMaskedExpressionModeling.from_pretrained(tmp_path / "mlm").eval()
    with torch.no_grad():
        assert torch.equal(mlm(**enc).logits, reloaded(**enc).logits)
    # a classifier starts from the pretrained encoder with a fresh head
    classifier = CellformerForCellClassification.from_pretrained(tmp_path / "mlm", num_labels=4)
    assert torch.equal(
        classifier.cellformer.embeddings.gene_embeddings.weight, mlm.cellformer.embeddings.gene_embeddings.weight
    )
    # the Auto classes resolve to the right heads
    from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    assert type(AutoModel.from_pretrained(tmp_path / "mlm")) is CellformerModel
    assert type(AutoModelForMaskedLM.from_pretrained(tmp_path / "mlm")) is CellformerForMaskedExpressionModeling
    assert type(AutoModelForSequenceClassification.from_pretrained(tmp_path / "mlm")) is CellformerForCellClassification
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path / "mlm")
    assert type(AutoTokenizer.from_pretrained(tmp_path / "mlm")) is GeneExpressionTokenizer  # no trust_remote_code
    # strict: a missing encoder weight, or a shape mismatch, is an error, never a silent re-initialisation
    from safetensors.torch import load_file, save_file

    weights = load_file(tmp_path / "mlm" / "model.safetensors")
    del weights["cellformer.encoder.layer.0.attention.query.weight"]
    save_file(weights, tmp_path / "mlm" / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match="missing weights"):
        CellformerForMaskedExpressionModeling.from_pretrained(tmp_path / "mlm")
    with pytest.raises(Exception):
        CellformerModel.from_pretrained(tmp_path / "mlm", hidden_size=64, num_attention_heads=4)


PORTABLE = r"""
import json, sys
sys.modules["txformers"] = None  # any `import txformers` now fails
import numpy as np, torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer
path = sys.argv[1]
tok = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True).eval()
base = AutoModel.from_pretrained(path, trust_remote_code=True)
counts = np.array(json.loads(sys.argv[2]), dtype=float)
enc = tok(counts, gene_names=json.loads(sys.argv[3]), return_tensors="pt")
with torch.no_grad():
    logits = model(**enc).logits
print("RESULT", json.dumps({"model": type(model).__module__ + "." + type(model).__name__,
                            "base": type(base).__name__, "tokenizer": type(tok).__module__,
                            "logits": logits.tolist(), "labels": model.config.id2label}))
"""


def test_checkpoint_loads_without_txformers(tmp_path, tokenizer, counts):
    torch.manual_seed(0)
    register()
    labels = {0: "lung", 1: "renal", 2: "melanoma"}
    model = CellformerForCellClassification(
        tiny_config(id2label=labels, label2id={v: k for k, v in labels.items()})
    ).eval()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", PORTABLE, str(tmp_path), json.dumps(counts.tolist()), json.dumps(GENES)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line[len("RESULT ") :])
    assert "txformers" not in result["model"] + result["tokenizer"]
    assert result["model"].endswith("modeling_cellformer.CellformerForCellClassification")
    assert result["base"] == "CellformerModel"
    assert result["labels"] == {"0": "lung", "1": "renal", "2": "melanoma"}
    with torch.no_grad():
        expected = model(**encode(tokenizer, counts)).logits
    assert (torch.tensor(result["logits"]) - expected).abs().max() < 1e-5


# ---------------------------------------------------------------------------------------- bundled checkpoints
@pytest.mark.skipif(not SHARED.exists(), reason=f"real data folder {SHARED} is absent")
@pytest.mark.parametrize("name", ["cellformer-pretrained", "cellformer-cancer-type"])
def test_bundled_checkpoints_tokenize_raw_counts(name):
    folder = REPO / "checkpoints" / name
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{folder} not built yet")
    config = json.loads((folder / "config.json").read_text())
    assert "AutoModel" in config["auto_map"] and (folder / "modeling_cellformer.py").is_file()  # portable
    tok = GeneExpressionTokenizer.from_pretrained(folder)
    adata = ad.read_h5ad(SHARED / "scrna" / "wu2020_200_tcells_4cancers.h5ad")[:20].copy()
    enc = tok(adata, return_tensors="pt")
    if name == "cellformer-cancer-type":
        model = CellformerForCellClassification.from_pretrained(folder).eval()
        assert model.config.architectures == ["CellformerForCellClassification"]
        assert {"lung", "renal", "endometrial", "colorectal"} <= set(model.config.id2label.values())
        probabilities = model(**enc).logits.softmax(-1)
        assert probabilities.shape == (20, model.config.num_labels)
    else:
        model = CellformerForMaskedExpressionModeling.from_pretrained(folder).eval()
        assert model(**enc).logits.shape[:2] == enc["input_ids"].shape
