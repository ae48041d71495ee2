"""The checks every model class of every family runs: save/load round trip, loading without txformers through
trust_remote_code, batch == single rows, strict loading and dtype.

Each model gets a tiny config and random tensor inputs (no tokenizer, no RDKit), so the whole file runs in
well under a minute on one core. A new model class joins by being added to MODEL_CLASSES (and its family to
`tiny_config` / `model_inputs` if the family is new).
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from txformers import (
    CellformerConfig,
    CellformerForCellClassification,
    CellformerForMaskedExpressionModeling,
    CellformerModel,
    MetaScDrugConfig,
    MetaScDrugForDrugResponse,
    MetaScDrugModel,
    SpliceBertConfig,
    SpliceBertForMaskedLM,
    SpliceBertForSequenceClassification,
    SpliceBertForTokenClassification,
    SpliceBertModel,
)

MODEL_CLASSES = [
    SpliceBertModel,
    SpliceBertForMaskedLM,
    SpliceBertForTokenClassification,
    SpliceBertForSequenceClassification,
    MetaScDrugModel,
    MetaScDrugForDrugResponse,
    CellformerModel,
    CellformerForMaskedExpressionModeling,
    CellformerForCellClassification,
]
BATCH_SIZE = 2
SEQUENCE_LENGTH = 12
GENE_PANEL_SIZE = 24
SMILES_VOCAB_SIZE = 40
FINGERPRINT_BITS = 32
N_GENES = 16  # Cellformer vocabulary: 4 special tokens + genes + 2 batch tokens


def tiny_config(model_class):
    if model_class.config_class is SpliceBertConfig:
        return SpliceBertConfig(
            num_hidden_layers=2,
            hidden_size=32,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=2 * SEQUENCE_LENGTH,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            num_labels=3,
        )
    if model_class.config_class is MetaScDrugConfig:
        return MetaScDrugConfig(
            gene_panel_size=GENE_PANEL_SIZE,
            cell_hidden_sizes=[16],
            cell_embed_dim=8,
            smiles_vocab_size=SMILES_VOCAB_SIZE,
            drug_hidden_size=8,
            drug_num_layers=1,
            drug_num_heads=2,
            drug_intermediate_size=16,
            max_smiles_length=2 * SEQUENCE_LENGTH,
            fingerprint_bits=FINGERPRINT_BITS,
            drug_embed_dim=8,
            fusion_type="concat_product",
            fusion_hidden_sizes=[16],
            joint_embed_dim=8,
            hidden_dropout_prob=0.0,
        )
    if model_class.config_class is CellformerConfig:
        return CellformerConfig(
            vocab_size=4 + N_GENES + 2,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            n_bins=11,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            num_labels=3,
        )
    raise NotImplementedError(f"add a tiny config for {model_class.__name__}")


def model_inputs(model_class, batch_size=BATCH_SIZE):
    """Random valid inputs whose rows differ (no padding: batch == single compares whole rows)."""
    generator = torch.Generator().manual_seed(0)
    length = SEQUENCE_LENGTH
    if model_class.config_class is SpliceBertConfig:  # [CLS] nucleotides (A C G T N: ids 5-9) [SEP]
        input_ids = torch.randint(5, 10, (batch_size, length), generator=generator)
        input_ids[:, 0], input_ids[:, -1] = 2, 3
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    if model_class.config_class is MetaScDrugConfig:  # one drug per cell
        missing_mask = torch.zeros(batch_size, GENE_PANEL_SIZE, dtype=torch.bool)
        missing_mask[:, :3] = True
        return {
            "expression": torch.randn(batch_size, GENE_PANEL_SIZE, generator=generator),
            "missing_mask": missing_mask,
            "input_ids": torch.randint(1, SMILES_VOCAB_SIZE, (batch_size, length), generator=generator),
            "attention_mask": torch.ones(batch_size, length, dtype=torch.long),
            "fingerprint": torch.randint(0, 2, (batch_size, FINGERPRINT_BITS), generator=generator).float(),
        }
    if model_class.config_class is CellformerConfig:  # <cls> then genes (ids 4..) with their value bins
        genes = torch.stack([torch.randperm(N_GENES, generator=generator)[: length - 1] for _ in range(batch_size)])
        input_ids = torch.cat([torch.ones(batch_size, 1, dtype=torch.long), 4 + genes], dim=1)
        expression_bins = torch.randint(1, 11, (batch_size, length), generator=generator)
        expression_bins[:, 0] = 0
        return {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "expression_bins": expression_bins,
        }
    raise NotImplementedError(f"add inputs for {model_class.__name__}")


def tensor_outputs(output):
    return {name: value for name, value in output.items() if isinstance(value, torch.Tensor)}


def run_model(model, inputs):
    with torch.no_grad():
        return tensor_outputs(model(**inputs))


def assert_same_outputs(expected, got, atol=1e-6):
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=atol, msg=lambda m: f"{name}: {m}")


def checkpoint_key(folder, model_class, part):
    """A weight of the saved checkpoint: the first of the base model ("base") or of the task head ("head")."""
    keys = sorted(key for key in load_file(folder / "model.safetensors") if key.endswith(".weight"))
    prefix = model_class.base_model_prefix + "."
    base = [key for key in keys if key.startswith(prefix)] or keys  # a bare model saves no prefix
    return (base if part == "base" else [key for key in keys if key not in base])[0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every model class, randomly initialised, saved to its own folder (named after the class)."""
    root = tmp_path_factory.mktemp("checkpoints")
    checkpoints = {}
    for model_class in MODEL_CLASSES:
        torch.manual_seed(0)
        model = model_class(tiny_config(model_class)).eval()
        model.save_pretrained(root / model_class.__name__)
        torch.save(model_inputs(model_class), root / model_class.__name__ / "inputs.pt")
        checkpoints[model_class.__name__] = (model, root / model_class.__name__)
    return checkpoints


REMOTE = r"""
import json, sys
sys.modules["txformers"] = None  # any `import txformers` now fails
import torch
import transformers

results = {}
for folder in json.loads(sys.argv[1]):
    name = folder.rsplit("/", 1)[-1]
    auto_map = json.load(open(f"{folder}/config.json"))["auto_map"]
    (auto_name,) = [auto for auto, target in auto_map.items() if target.endswith("." + name)]
    model = getattr(transformers, auto_name).from_pretrained(folder, trust_remote_code=True).eval()
    inputs = torch.load(f"{folder}/inputs.pt", weights_only=True)
    with torch.no_grad():
        output = model(**inputs)
    outputs = {key: value for key, value in output.items() if isinstance(value, torch.Tensor)}
    torch.save(outputs, f"{folder}/remote_outputs.pt")
    results[name] = type(model).__module__ + "." + type(model).__name__
print("RESULT", json.dumps(results))
"""


@pytest.fixture(scope="module")
def remote(saved, tmp_path_factory):
    """Loads every saved folder in ONE subprocess where txformers cannot be imported; class paths by name."""
    home = tmp_path_factory.mktemp("hf_home")
    folders = [str(folder) for _, folder in saved.values()]
    env = {**os.environ, "HF_HOME": str(home), "HF_MODULES_CACHE": str(home / "modules"), "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", REMOTE, json.dumps(folders)],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line[len("RESULT ") :])


parametrize_models = pytest.mark.parametrize("model_class", MODEL_CLASSES, ids=lambda cls: cls.__name__)


@parametrize_models
def test_save_load_round_trip(saved, model_class):
    model, folder = saved[model_class.__name__]
    reloaded = model_class.from_pretrained(folder).eval()
    assert type(reloaded) is model_class
    expected, got = model.state_dict(), reloaded.state_dict()
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    inputs = model_inputs(model_class)
    assert_same_outputs(run_model(model, inputs), run_model(reloaded, inputs))


@parametrize_models
def test_loads_without_txformers_through_trust_remote_code(saved, remote, model_class):
    model, folder = saved[model_class.__name__]
    loaded_class = remote[model_class.__name__]
    assert not loaded_class.startswith("txformers")
    assert loaded_class.endswith(f".{model_class.__name__}")
    expected = run_model(model, model_inputs(model_class))
    assert_same_outputs(expected, torch.load(folder / "remote_outputs.pt", weights_only=True), atol=1e-5)


@parametrize_models
def test_batch_equals_single_rows(saved, model_class):
    model, _ = saved[model_class.__name__]
    inputs = model_inputs(model_class)
    batched = run_model(model, inputs)
    for row in range(BATCH_SIZE):
        single = run_model(model, {name: value[row : row + 1] for name, value in inputs.items()})
        assert_same_outputs({name: value[row : row + 1] for name, value in batched.items()}, single, atol=1e-5)


def strict_cases():
    for model_class in MODEL_CLASSES:
        bare = model_class in (SpliceBertModel, MetaScDrugModel, CellformerModel)
        for part in ("base",) if bare else ("base", "head"):
            yield pytest.param(model_class, part, id=f"{model_class.__name__}-{part}")


@pytest.mark.parametrize("model_class, part", list(strict_cases()))
def test_loading_fails_on_a_missing_weight(saved, tmp_path, model_class, part):
    _, folder = saved[model_class.__name__]
    shutil.copytree(folder, tmp_path / "broken")
    key = checkpoint_key(tmp_path / "broken", model_class, part)
    weights = load_file(tmp_path / "broken" / "model.safetensors")
    del weights[key]
    save_file(weights, tmp_path / "broken" / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=re.escape(key)):
        model_class.from_pretrained(tmp_path / "broken")


@parametrize_models
def test_loading_fails_on_an_unexpected_weight(saved, tmp_path, model_class):
    _, folder = saved[model_class.__name__]
    shutil.copytree(folder, tmp_path / "broken")
    weights = load_file(tmp_path / "broken" / "model.safetensors")
    weights["unexpected_extra.weight"] = torch.zeros(2, 2)
    save_file(weights, tmp_path / "broken" / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=re.escape("unexpected_extra.weight")):
        model_class.from_pretrained(tmp_path / "broken")


@parametrize_models
def test_dtype_bfloat16(saved, model_class):
    _, folder = saved[model_class.__name__]
    model = model_class.from_pretrained(folder, dtype=torch.bfloat16).eval()
    floating = {name: p.dtype for name, p in model.named_parameters() if p.is_floating_point()}
    assert set(floating.values()) == {torch.bfloat16}, floating
    # float inputs in the model's dtype, as a user casts them; ids and masks stay as they are
    inputs = {
        name: value.to(torch.bfloat16) if value.is_floating_point() else value
        for name, value in model_inputs(model_class).items()
    }
    for name, value in run_model(model, inputs).items():
        assert torch.isfinite(value.float()).all(), name


# classes whose task head may be new (fine-tuning from another class's checkpoint)
HEADED = [cls for cls in MODEL_CLASSES if cls._fresh_head_prefixes]


@pytest.mark.parametrize("model_class", HEADED, ids=lambda cls: cls.__name__)
def test_a_new_head_only_when_asked_for(saved, tmp_path, model_class):
    """Another class (the bare model's checkpoint into a headed class) gets a new head, with transformers'
    report; the same class with its head deleted does not (test_loading_fails_on_a_missing_weight)."""
    bare = {"splicebert": SpliceBertModel, "metascdrug": MetaScDrugModel, "cellformer": CellformerModel}
    _, folder = saved[bare[model_class.config_class.model_type].__name__]
    model, info = model_class.from_pretrained(folder, output_loading_info=True)
    assert type(model) is model_class
    assert info["missing_keys"] and not any(k.startswith(model_class.base_model_prefix) for k in info["missing_keys"])


@pytest.mark.parametrize("model_class", HEADED, ids=lambda cls: cls.__name__)
def test_another_num_labels_gets_a_new_head(saved, model_class):
    _, folder = saved[model_class.__name__]
    num_labels = 1 if model_class is MetaScDrugForDrugResponse else 5  # MetaSCDrug: 1 or 2 labels
    model = model_class.from_pretrained(folder, num_labels=num_labels, ignore_mismatched_sizes=True)
    assert model(**model_inputs(model_class)).logits.shape[-1] == num_labels
