import json

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from tests.conftest import SHARED_DATA, requires_shared_data
from txformers import (
    NucleotideTokenizer,
    SpliceBertConfig,
    SpliceBertForMaskedLM,
    SpliceBertForSequenceClassification,
    SpliceBertForTokenClassification,
    SpliceBertModel,
)

# A real human donor-site context (the consensus exon|GTAAGT intron junction inside a longer
# stretch) is not needed for parity: any real-looking sequence exercises every position.
SEQUENCE = "CAGGTAAGTATCTTTCCTTTTTCCCTTAGGTCAAGGAGGCAGAAGATGGAGTTCCAGGTAAGAGCTGCCCTGACCTCAG" * 3


def _original_checkpoint(tmp_path, config_dict, seed=0):
    """A randomly initialised transformers BertForMaskedLM saved as the released SpliceBERT is
    (transformers 4.20 layout: pytorch_model.bin with the position_ids buffer)."""
    torch.manual_seed(seed)
    reference = BertForMaskedLM(BertConfig(**{k: v for k, v in config_dict.items() if not k.startswith("_")}))
    reference.eval()
    state = reference.state_dict()
    state["bert.embeddings.position_ids"] = torch.arange(config_dict["max_position_embeddings"])[None]
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps(config_dict))
    return reference


@requires_shared_data
def test_original_weights_load_with_identical_logits_and_hidden_states(tmp_path):
    config_dict = json.loads((SHARED_DATA / "splice/splicebert_configs/SpliceBERT.510nt/config.json").read_text())
    reference = _original_checkpoint(tmp_path, config_dict)
    model = SpliceBertForMaskedLM.from_pretrained(tmp_path).eval()
    assert model.config.model_type == "splicebert" and model.config.max_position_embeddings == 512
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    inputs = NucleotideTokenizer()([SEQUENCE, SEQUENCE[:100]], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = reference(**inputs, output_hidden_states=True)
        got = model(**inputs, output_hidden_states=True)
    real = inputs["attention_mask"].bool()  # padding positions carry no meaning (ours are zero: unpadded)
    assert (expected.logits[real] - got.logits[real]).abs().max() < 1e-4
    assert len(got.hidden_states) == len(expected.hidden_states) == 7
    for a, b in zip(expected.hidden_states, got.hidden_states):
        assert (a[real] - b[real]).abs().max() < 1e-4
    with torch.no_grad():  # and the padded path (no unpadding) agrees as well
        model.config.unpad = False
        assert (expected.logits[real] - model(**inputs).logits[real]).abs().max() < 1e-4
    # the tied decoder really is the embedding matrix
    assert model.cls.predictions.decoder.weight.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr()


def _small_original_config():
    return {
        "model_type": "bert",
        "architectures": ["BertForMaskedLM"],
        "vocab_size": 10,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "hidden_act": "gelu",
        "max_position_embeddings": 130,
        "type_vocab_size": 2,
        "pad_token_id": 0,
        "layer_norm_eps": 1e-12,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
    }


def test_loading_fails_loudly_on_missing_or_unexpected_weights(tmp_path):
    _original_checkpoint(tmp_path, _small_original_config())
    state = torch.load(tmp_path / "pytorch_model.bin", weights_only=True)
    broken = dict(state)
    del broken["bert.encoder.layer.1.output.dense.weight"]
    broken["bert.encoder.layer.9.extra.weight"] = torch.zeros(3)
    torch.save(broken, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError) as error:
        SpliceBertForMaskedLM.from_pretrained(tmp_path)
    assert "bert.encoder.layer.1.output.dense.weight" in str(error.value)
    assert "bert.encoder.layer.9.extra.weight" in str(error.value)


def test_task_models_start_from_an_original_checkpoint(tmp_path):
    _original_checkpoint(tmp_path, _small_original_config())
    mlm = SpliceBertForMaskedLM.from_pretrained(tmp_path)
    token = SpliceBertForTokenClassification.from_pretrained(tmp_path, num_labels=3)
    window = SpliceBertForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    base = SpliceBertModel.from_pretrained(tmp_path)
    for model in (token, window, base):
        encoder = model if isinstance(model, SpliceBertModel) else model.bert
        assert torch.equal(encoder.encoder.layer[1].output.dense.weight, mlm.bert.encoder.layer[1].output.dense.weight)
    assert token.config.num_labels == 3 and token.classifier.out_features == 3


def test_token_head_convolution_is_optional_and_round_trips(tmp_path, tiny_splicebert_config):
    from transformers import AutoModelForTokenClassification

    base = tiny_splicebert_config.to_dict()
    plain = SpliceBertForTokenClassification(SpliceBertConfig(**{**base, "num_labels": 3}))
    assert plain.classifier_conv is None and not any("classifier_conv" in k for k in plain.state_dict())
    with pytest.raises(ValueError, match="classifier_conv_kernel"):
        SpliceBertConfig(**{**base, "classifier_conv_kernel": 4})
    mlm = SpliceBertForMaskedLM(tiny_splicebert_config)
    mlm.save_pretrained(tmp_path / "mlm")
    # a masked-LM encoder starts a conv-head model: the encoder is copied, the head is new
    conv = SpliceBertForTokenClassification.from_pretrained(tmp_path / "mlm", num_labels=3, classifier_conv_kernel=5)
    assert conv.classifier_conv.kernel_size == (5,)
    assert torch.equal(conv.bert.encoder.layer[0].output.dense.weight, mlm.bert.encoder.layer[0].output.dense.weight)
    conv.eval().save_pretrained(tmp_path / "conv")
    batch = NucleotideTokenizer()([SEQUENCE[:40]], return_tensors="pt")
    loaded = AutoModelForTokenClassification.from_pretrained(tmp_path / "conv").eval()
    with torch.no_grad():
        assert torch.allclose(conv(**batch).logits, loaded(**batch).logits)
        assert loaded.config.classifier_conv_kernel == 5


def test_padding_invariance(tiny_splicebert_config):
    model = SpliceBertForMaskedLM(tiny_splicebert_config).eval()
    tok = NucleotideTokenizer()
    sequences = [SEQUENCE[:40], SEQUENCE[:128], SEQUENCE[5:17]]
    batch = tok(sequences, padding=True, return_tensors="pt")
    with torch.no_grad():
        batched = model(**batch).logits
        for row, sequence in enumerate(sequences):
            alone = model(**tok(sequence, return_tensors="pt")).logits[0]
            assert (batched[row, : alone.shape[0]] - alone).abs().max() < 1e-5


def test_eager_attention_path_matches_sdpa(tiny_splicebert_config):
    model = SpliceBertModel(tiny_splicebert_config).eval()
    batch = NucleotideTokenizer()([SEQUENCE[:30], SEQUENCE[:10]], padding=True, return_tensors="pt")
    with torch.no_grad():
        sdpa = model(**batch).last_hidden_state
        eager = model(**batch, output_attentions=True)
    assert (sdpa - eager.last_hidden_state).abs().max() < 1e-5
    assert len(eager.attentions) == 2 and eager.attentions[0].shape == (2, 4, 32, 32)
    assert eager.attentions[0][1, :, :, 12:].abs().max() == 0  # padded keys get no attention


def test_too_long_input_is_a_clear_error(tiny_splicebert_config):
    model = SpliceBertModel(tiny_splicebert_config)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(input_ids=torch.full((1, 200), 6))


def test_heads_losses_and_gradient_checkpointing(tiny_splicebert_config):
    torch.manual_seed(0)
    tok = NucleotideTokenizer()
    batch = tok([SEQUENCE[:50], SEQUENCE[:20]], padding=True, return_tensors="pt")
    token_model = SpliceBertForTokenClassification(
        tiny_splicebert_config.__class__(**{**tiny_splicebert_config.to_dict(), "num_labels": 3})
    )
    labels = torch.randint(0, 3, batch["input_ids"].shape)
    labels[batch["attention_mask"] == 0] = -100
    out = token_model(**batch, labels=labels)
    assert out.logits.shape == (2, 52, 3) and out.loss.item() > 0
    getattr(token_model, "activation_checkpointing_enable", token_model.gradient_checkpointing_enable)()
    token_model.train()
    token_model(**batch, labels=labels).loss.backward()
    assert token_model.bert.encoder.layer[0].gradient_checkpointing
    assert token_model.bert.embeddings.word_embeddings.weight.grad is not None

    for pooling in ("cls", "mean", "center"):
        config = SpliceBertConfig(
            **{**tiny_splicebert_config.to_dict(), "num_labels": 3, "classifier_pooling": pooling}
        )
        model = SpliceBertForSequenceClassification(config).eval()
        out = model(**batch, labels=torch.tensor([1, 2]))
        assert out.logits.shape == (2, 3) and torch.isfinite(out.loss)
        with torch.no_grad():  # the pooled summary of a padded row equals the row alone
            alone = model(**tok(SEQUENCE[:20], return_tensors="pt")).logits[0]
        assert (out.logits[1] - alone).abs().max() < 1e-5


def test_save_and_auto_load(tmp_path, tiny_splicebert_config):
    from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForTokenClassification, AutoTokenizer

    model = SpliceBertForMaskedLM(tiny_splicebert_config).eval()
    model.save_pretrained(tmp_path)
    NucleotideTokenizer().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "splicebert"
    assert set(config["auto_map"]) >= {
        "AutoConfig",
        "AutoModel",
        "AutoModelForMaskedLM",
        "AutoModelForTokenClassification",
    }
    assert (tmp_path / "model.safetensors").exists()
    assert (tmp_path / "modeling_splicebert.py").exists() and (tmp_path / "configuration_splicebert.py").exists()
    assert isinstance(AutoModelForMaskedLM.from_pretrained(tmp_path), SpliceBertForMaskedLM)
    assert isinstance(AutoModel.from_pretrained(tmp_path), SpliceBertModel)
    assert isinstance(
        AutoModelForTokenClassification.from_pretrained(tmp_path, num_labels=3), SpliceBertForTokenClassification
    )
    assert isinstance(AutoTokenizer.from_pretrained(tmp_path), NucleotideTokenizer)


def test_converter_writes_a_portable_checkpoint_with_identical_logits(tmp_path):
    from txformers.models.splicebert.convert_splicebert_original import convert

    original = tmp_path / "original"
    original.mkdir()
    reference = _original_checkpoint(original, _small_original_config())
    converted = convert(original, tmp_path / "converted")
    assert (tmp_path / "converted" / "model.safetensors").exists()
    assert json.loads((tmp_path / "converted" / "tokenizer_config.json").read_text())["model_max_length"] == 130
    inputs = NucleotideTokenizer()("acguNNGGTAAGT", return_tensors="pt")
    with torch.no_grad():
        assert (reference(**inputs).logits - converted(**inputs).logits).abs().max() < 1e-5
    with pytest.raises(ValueError, match="new folder"):
        convert(original, original)
