# Copyright 2026 The txformers authors. BSD-3-Clause.
"""SpliceBERT: a post-LN BERT masked language model over single nucleotides of pre-mRNA.

Chen K. et al., "Self-supervised learning on millions of primary RNA sequences from 72
vertebrates improves sequence-based RNA splicing prediction", Brief. Bioinform. 2024.

Module names follow Hugging Face `BertForMaskedLM` (``bert.*``, ``cls.predictions.*``) so the
published SpliceBERT weights load unchanged. Portable: this file imports only torch,
transformers and its sibling configuration file, so ``save_pretrained`` copies it into the
checkpoint and ``AutoModel.from_pretrained(..., trust_remote_code=True)`` works without txformers.

Example:

```python
>>> import torch
>>> from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM
>>> tokenizer = NucleotideTokenizer()
>>> model = SpliceBertForMaskedLM(SpliceBertConfig(num_hidden_layers=2))
>>> inputs = tokenizer("ACGUACGUAGGTAAGT", return_tensors="pt")
>>> model(**inputs).logits.shape
torch.Size([1, 18, 10])
```
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutput,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

from .configuration_splicebert import SpliceBertConfig


class SpliceBertEmbeddings(nn.Module):
    """Nucleotide + learned absolute position + token-type (always 0) embeddings, then LayerNorm."""

    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        seq_length = inputs_embeds.shape[1]
        if seq_length > self.position_embeddings.num_embeddings:
            raise ValueError(
                f"input of {seq_length} tokens is longer than max_position_embeddings "
                f"({self.position_embeddings.num_embeddings}); truncate it or use sliding windows"
            )
        if position_ids is None:
            position_ids = torch.arange(seq_length, device=inputs_embeds.device)[None]
        embeddings = inputs_embeds + self.position_embeddings(position_ids)
        if token_type_ids is None:
            embeddings = embeddings + self.token_type_embeddings.weight[0]
        else:
            embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(embeddings))


@dataclass
class Unpadded:
    """Where the real tokens of a padded (batch, length) batch are.

    Between attention blocks the encoder works on the real tokens only, packed as
    (tokens, hidden): the dense layers, which dominate the compute, skip padding entirely, and
    only attention sees the padded (batch, heads, length, length) layout.
    """

    indices: torch.Tensor
    batch: int
    length: int

    @classmethod
    def from_mask(cls, attention_mask: torch.Tensor) -> Unpadded:
        return cls(attention_mask.flatten().nonzero().squeeze(1), *attention_mask.shape)

    def unpad(self, padded: torch.Tensor) -> torch.Tensor:
        return padded.reshape(self.batch * self.length, -1).index_select(0, self.indices)

    def pad(self, packed: torch.Tensor) -> torch.Tensor:
        zeros = packed.new_zeros(self.batch * self.length, packed.shape[-1])
        return zeros.index_copy(0, self.indices, packed).view(self.batch, self.length, -1)


class SpliceBertSelfAttention(nn.Module):
    """Multi-head self-attention through `torch.nn.functional.scaled_dot_product_attention`."""

    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_prob = config.attention_probs_dropout_prob

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        output_attentions: bool = False,
        unpadded: Unpadded | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        projections = [self.query(hidden_states), self.key(hidden_states), self.value(hidden_states)]
        if unpadded is not None:  # packed (tokens, hidden) -> padded (batch, length, hidden) for attention
            projections = [unpadded.pad(x) for x in projections]
        batch, length, _ = projections[0].shape
        shape = (batch, length, self.num_heads, self.head_size)
        query, key, value = (x.view(shape).transpose(1, 2) for x in projections)
        dropout = self.dropout_prob if self.training else 0.0
        weights = None
        if output_attentions:
            scores = query @ key.transpose(-1, -2) / self.head_size**0.5
            if attention_mask is not None:
                scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
            weights = F.dropout(scores.softmax(-1), dropout, self.training)
            context = weights @ value
        else:
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=dropout)
        context = context.transpose(1, 2).reshape(batch, length, -1)
        return (unpadded.unpad(context) if unpadded is not None else context), weights


class SpliceBertSelfOutput(nn.Module):
    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class SpliceBertAttention(nn.Module):
    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.self = SpliceBertSelfAttention(config)
        self.output = SpliceBertSelfOutput(config)

    def forward(self, hidden_states, attention_mask=None, output_attentions=False, unpadded=None):
        context, weights = self.self(hidden_states, attention_mask, output_attentions, unpadded)
        return self.output(context, hidden_states), weights


class SpliceBertIntermediate(nn.Module):
    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = ACT2FN[config.hidden_act]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class SpliceBertOutput(nn.Module):
    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class SpliceBertLayer(GradientCheckpointingLayer):
    """One post-LN transformer block: attention, add & norm, feed-forward, add & norm."""

    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.attention = SpliceBertAttention(config)
        self.intermediate = SpliceBertIntermediate(config)
        self.output = SpliceBertOutput(config)

    def forward(self, hidden_states, attention_mask=None, output_attentions=False, unpadded=None):
        attention_output, weights = self.attention(hidden_states, attention_mask, output_attentions, unpadded)
        layer_output = self.output(self.intermediate(attention_output), attention_output)
        return layer_output, weights


class SpliceBertEncoder(nn.Module):
    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.layer = nn.ModuleList(SpliceBertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(
        self, hidden_states, attention_mask=None, output_attentions=False, output_hidden_states=False, unpadded=None
    ):
        """``hidden_states`` is (batch, length, hidden), or packed (tokens, hidden) with ``unpadded``;
        the outputs are always padded (batch, length, hidden), zero at padding."""
        padded = unpadded.pad if unpadded is not None else (lambda x: x)
        all_hidden_states = (padded(hidden_states),) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layer:
            hidden_states, weights = layer(hidden_states, attention_mask, output_attentions, unpadded)
            if output_hidden_states:
                all_hidden_states += (padded(hidden_states),)
            if output_attentions:
                all_attentions += (weights,)
        return BaseModelOutput(
            last_hidden_state=padded(hidden_states), hidden_states=all_hidden_states, attentions=all_attentions
        )


class SpliceBertPredictionHeadTransform(nn.Module):
    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class SpliceBertLMPredictionHead(nn.Module):
    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.transform = SpliceBertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=True)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))


class SpliceBertOnlyMLMHead(nn.Module):
    def __init__(self, config: SpliceBertConfig):
        super().__init__()
        self.predictions = SpliceBertLMPredictionHead(config)

    def forward(self, sequence_output: torch.Tensor) -> torch.Tensor:
        return self.predictions(sequence_output)


class SpliceBertPreTrainedModel(PreTrainedModel):
    """Weight init, gradient checkpointing, and strict loading of original or txformers checkpoints.

    ``from_pretrained`` fails loudly when a weight of the checkpoint is unused or a weight of the
    model is not in the checkpoint. The only exceptions: a task head that is new by design
    (``_fresh_head_prefixes``, e.g. ``classifier.`` when fine-tuning from a masked-LM checkpoint)
    and the head of another task (``cls.*``, ``classifier.*``) when it loads into a model without it.
    An original SpliceBERT directory (``config.json`` with ``model_type: bert``) is read through
    `SpliceBertConfig.from_original_config`.
    """

    config_class = SpliceBertConfig
    base_model_prefix = "bert"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["SpliceBertLayer"]
    _fresh_head_prefixes: tuple[str, ...] = ()
    _keys_to_ignore_on_load_unexpected = [r"embeddings\.position_ids$"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, SpliceBertLMPredictionHead):
            init.zeros_(module.bias)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # List every SpliceBERT class in auto_map, so any Auto class loads the folder with
        # trust_remote_code where txformers is not installed.
        if self._auto_class is not None:
            self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **AUTO_MAP}
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        original = None
        if kwargs.get("config") is None and not model_args:
            original = _read_original_config(pretrained_model_name_or_path)
            if original is not None:
                # Config overrides given as kwargs (num_labels, id2label, ...) go into the config.
                config_keys = (set(SpliceBertConfig().to_dict()) | {"num_labels"}) - {"dtype", "torch_dtype"}
                overrides = {key: kwargs.pop(key) for key in list(kwargs) if key in config_keys}
                kwargs["config"] = SpliceBertConfig.from_original_config(original, **overrides)
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(
            pretrained_model_name_or_path, *model_args, output_loading_info=True, **kwargs
        )
        saved = model.config.architectures
        if original is not None:  # original BertFor* heads are the SpliceBertFor* heads
            saved = ["Splice" + name for name in original.get("architectures") or []]
        new_head = asks_for_new_head(cls, saved, kwargs)
        check_loaded_weights(
            cls, pretrained_model_name_or_path, model, info, new_head, ("cls", "classifier", "classifier_conv")
        )
        return (model, info) if want_info else model


def asks_for_new_head(cls, saved_architectures, kwargs) -> bool:
    """Whether ``from_pretrained`` was asked for a new task head: a class other than the checkpoint's
    (``architectures`` in its config; unknown counts as other) or explicit labels (``num_labels``, ``id2label``)."""
    if any(key in kwargs for key in ("num_labels", "id2label", "label2id")):
        return True
    return not saved_architectures or cls.__name__ not in saved_architectures


def check_loaded_weights(cls, path, model, info, new_head: bool, task_heads: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming every weight the checkpoint lacks, does not use or holds in another shape.

    Only when the user asked for a new head (``new_head``, see :func:`asks_for_new_head`) may the weights under
    ``cls._fresh_head_prefixes`` be new (or re-sized) and the heads of another task (``task_heads``) be dropped;
    transformers' load report lists them. A checkpoint loaded into the class its config names must match exactly.
    """
    fresh_prefixes = tuple(cls._fresh_head_prefixes) if new_head else ()
    mismatched_keys = info.get("mismatched_keys") or []
    missing = [key for key in info["missing_keys"] if not key.startswith(fresh_prefixes)]
    mismatched = [item for item in mismatched_keys if not str(item[0]).startswith(fresh_prefixes)]
    fresh = {key.split(".")[0] for key in info["missing_keys"] if key.startswith(fresh_prefixes)}
    fresh |= {str(item[0]).split(".")[0] for item in mismatched_keys if str(item[0]).startswith(fresh_prefixes)}
    unexpected = [
        key
        for key in info["unexpected_keys"]
        if not (
            new_head
            and key.split(".")[0] in task_heads
            and (key.split(".")[0] in fresh or not hasattr(model, key.split(".")[0]))
        )
    ]
    if missing or unexpected or mismatched:
        raise ValueError(
            f"{cls.__name__}.from_pretrained({str(path)!r}) does not match the checkpoint: missing weights "
            f"{sorted(missing)}, unused weights {sorted(unexpected)}, shape mismatches {list(mismatched)}. "
            "Nothing was silently re-initialised; a new head is made only for another class or num_labels."
        )


def _read_original_config(path) -> dict | None:
    """The config dict of an original (``model_type: bert``) SpliceBERT directory, else None."""
    config_file = os.path.join(str(path), "config.json")
    if not os.path.isfile(config_file):
        return None
    with open(config_file) as handle:
        config = json.load(handle)
    return config if config.get("model_type") == "bert" else None


def _padding_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """(batch, length) 1/0 mask -> boolean (batch, 1, 1, length) for SDPA; None when nothing is padded."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    return attention_mask.bool()[:, None, None, :]


class SpliceBertModel(SpliceBertPreTrainedModel):
    """The bare SpliceBERT encoder: per-token hidden states (no pooler, as in the released model)."""

    def __init__(self, config: SpliceBertConfig):
        super().__init__(config)
        self.embeddings = SpliceBertEmbeddings(config)
        self.encoder = SpliceBertEncoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        output_attentions = bool(output_attentions if output_attentions is not None else self.config.output_attentions)
        output_hidden_states = bool(
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        hidden_states = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        mask = _padding_mask(attention_mask)
        unpadded = None
        if mask is not None and self.config.unpad:
            unpadded = Unpadded.from_mask(attention_mask)
            hidden_states = unpadded.unpad(hidden_states)
        return self.encoder(hidden_states, mask, output_attentions, output_hidden_states, unpadded)


class SpliceBertForMaskedLM(SpliceBertPreTrainedModel):
    """SpliceBERT with its masked-LM head; loads original SpliceBERT checkpoints unchanged."""

    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: SpliceBertConfig):
        super().__init__(config)
        self.bert = SpliceBertModel(config)
        self.cls = SpliceBertOnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> MaskedLMOutput:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.cls(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class SpliceBertForTokenClassification(SpliceBertPreTrainedModel):
    """Per-nucleotide labels (e.g. none/acceptor/donor, or branchpoint); ``-100`` labels are ignored."""

    _fresh_head_prefixes = ("classifier.", "classifier_conv.")

    def __init__(self, config: SpliceBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = SpliceBertModel(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        kernel = getattr(config, "classifier_conv_kernel", 0) or 0
        # optional width-k convolution over the hidden states (config.classifier_conv_kernel; off by default)
        self.classifier_conv = (
            nn.Conv1d(config.hidden_size, config.hidden_size, kernel, padding=kernel // 2) if kernel else None
        )
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> TokenClassifierOutput:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden_states = outputs.last_hidden_state
        if self.classifier_conv is not None:
            hidden_states = F.gelu(self.classifier_conv(self.dropout(hidden_states).transpose(1, 2)).transpose(1, 2))
        logits = self.classifier(self.dropout(hidden_states))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1), ignore_index=-100)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config) -> torch.Tensor:
    """MSE for one label or regression, BCE for multi-label, else cross-entropy (transformers' convention)."""
    if config.num_labels == 1 or config.problem_type == "regression":
        return F.mse_loss(logits.squeeze(-1), labels.float())
    if config.problem_type == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits, labels.float())
    return F.cross_entropy(logits, labels.view(-1))


@dataclass
class _Pooling:
    mode: str

    def __call__(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        if self.mode == "cls":
            return hidden_states[:, 0]
        if attention_mask is None:
            attention_mask = torch.ones(hidden_states.shape[:2], device=hidden_states.device)
        # Nucleotides only: drop [CLS] (first) and [SEP] (last real token).
        mask = attention_mask.clone().float()
        mask[:, 0] = 0
        lengths = attention_mask.sum(1).long()
        mask[torch.arange(mask.shape[0]), lengths - 1] = 0
        if self.mode == "mean":
            return (hidden_states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        # "center": the central nucleotide (index (n - 1) // 2 of the n nucleotides), +1 for [CLS].
        center = 1 + (lengths - 3) // 2
        return hidden_states[torch.arange(hidden_states.shape[0]), center]


class SpliceBertForSequenceClassification(SpliceBertPreTrainedModel):
    """One label per window (e.g. donor / acceptor / neither for a window centred on a GT or AG)."""

    _fresh_head_prefixes = ("classifier.",)

    def __init__(self, config: SpliceBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = SpliceBertModel(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.pool = _Pooling(config.classifier_pooling)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(config.hidden_size, config.hidden_size),
            nn.Tanh(),
            nn.Dropout(dropout),
            nn.Linear(config.hidden_size, config.num_labels),
        )
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.classifier(self.pool(outputs.last_hidden_state, attention_mask))
        loss = None if labels is None else sequence_classification_loss(logits, labels, self.config)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


@dataclass
class VariantEffectOutput(SequenceClassifierOutput):
    """``logits``: exonic-splicing-mutation logit per pair; ``ratios``: predicted log2 allelic ratios (vivo, vitro)."""

    ratios: torch.Tensor | None = None


class SpliceBertForVariantEffect(SpliceBertPreTrainedModel):
    """Splice-disrupting effect of an SNV from its wild-type / mutant pair and the exon's place in the sequence.

    The encoder reads both sequences; the head sees the mutant-minus-WT hidden states pooled around the
    variant, over the exon and around each splice site (mean and mean absolute), the WT state at the variant
    and the variant's place relative to the exon (``variant_pos``, ``exon_start``, ``exon_end``: 0-based
    nucleotide indices, exon half-open). Outputs the exonic-splicing-mutation logit and, as auxiliary
    targets, the log2 allelic ratios in vivo and in vitro. ``config.variant_window`` (default 5) is the
    pooling half-width; ``config.esm_pos_weight`` and ``config.ratio_loss_weight`` weight the losses.
    """

    _fresh_head_prefixes = ("variant_head.",)
    n_place_features = 6

    def __init__(self, config: SpliceBertConfig):
        super().__init__(config)
        self.bert = SpliceBertModel(config)
        width = 7 * config.hidden_size + self.n_place_features
        hidden = getattr(config, "variant_head_hidden", 64)
        self.variant_head = nn.Sequential(
            nn.LayerNorm(width),
            nn.Dropout(0.1),
            nn.Linear(width, hidden),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(hidden, 3),
        )
        self.post_init()

    def pair_features(self, wt_input_ids, mut_input_ids, variant_pos, exon_start, exon_end, attention_mask=None):
        """The head's input, ``(batch, 7 * hidden + 6)``; token ``i + 1`` is nucleotide ``i`` (``[CLS]`` first)."""
        wt = self.bert(wt_input_ids, attention_mask).last_hidden_state
        mut = self.bert(mut_input_ids, attention_mask).last_hidden_state
        diff = mut - wt
        nuc = torch.arange(wt.shape[1], device=wt.device)[None, :] - 1
        mask = (wt_input_ids != 0) if attention_mask is None else attention_mask.bool()
        valid = mask & (nuc >= 0) & (nuc < mask.sum(1, keepdim=True) - 2)
        pos, start, end = (t.to(wt.device).long()[:, None] for t in (variant_pos, exon_start, exon_end))
        window = getattr(self.config, "variant_window", 5)

        def pool(values, where):
            where = (where & valid).float()[..., None]
            return (values * where).sum(1) / where.sum(1).clamp(min=1)

        near, exon = (nuc - pos).abs() <= window, (nuc >= start) & (nuc < end)
        acceptor, donor = (nuc - start).abs() <= window, (nuc - end + 1).abs() <= window
        at = wt[torch.arange(wt.shape[0], device=wt.device), (pos[:, 0] + 1).clamp(0, wt.shape[1] - 1)]
        pos, start, end = pos[:, 0].float(), start[:, 0].float(), end[:, 0].float()
        length = (end - start).clamp(min=1)
        place = torch.stack(
            [(pos - start) / 100, (end - 1 - pos) / 100, length / 100, (pos - start) / length,
             torch.minimum((pos - start).abs(), (end - 1 - pos).abs()) / 100, ((pos >= start) & (pos < end)).float()],
            dim=1,
        )  # fmt: skip
        pooled = [pool(diff, near), pool(diff.abs(), near), pool(diff, exon), pool(diff.abs(), exon)]
        return torch.cat([*pooled, pool(diff, acceptor), pool(diff, donor), at, place], dim=1)

    def variant_loss(self, head_out: torch.Tensor, labels=None, ratios=None) -> torch.Tensor | None:
        """BCE on the label (``esm_pos_weight``) + ``ratio_loss_weight`` x MSE on known ratios (clipped to +-6)."""
        loss = None
        if labels is not None:
            weight = torch.tensor(getattr(self.config, "esm_pos_weight", 1.0), device=head_out.device)
            loss = F.binary_cross_entropy_with_logits(head_out[:, 0], labels.float(), pos_weight=weight)
        if ratios is not None and getattr(self.config, "ratio_loss_weight", 1.0) > 0:
            known = ~torch.isnan(ratios)
            target = torch.nan_to_num(ratios.float(), nan=0.0).clamp(-6, 6)
            mse = ((head_out[:, 1:] - target) ** 2 * known).sum() / known.sum().clamp(min=1)
            mse = getattr(self.config, "ratio_loss_weight", 1.0) * mse
            loss = mse if loss is None else loss + mse
        return loss

    def forward(
        self,
        wt_input_ids=None,
        mut_input_ids=None,
        variant_pos=None,
        exon_start=None,
        exon_end=None,
        attention_mask=None,
        labels=None,
        ratios=None,
        **kwargs,
    ) -> VariantEffectOutput:
        features = self.pair_features(wt_input_ids, mut_input_ids, variant_pos, exon_start, exon_end, attention_mask)
        head_out = self.variant_head(features)
        loss = self.variant_loss(head_out, labels, ratios)
        return VariantEffectOutput(loss=loss, logits=head_out[:, 0], ratios=head_out[:, 1:])


AUTO_MAP = {
    "AutoConfig": "configuration_splicebert.SpliceBertConfig",
    "AutoModel": "modeling_splicebert.SpliceBertModel",
    "AutoModelForMaskedLM": "modeling_splicebert.SpliceBertForMaskedLM",
    "AutoModelForTokenClassification": "modeling_splicebert.SpliceBertForTokenClassification",
    "AutoModelForSequenceClassification": "modeling_splicebert.SpliceBertForSequenceClassification",
}

__all__ = [
    "SpliceBertForMaskedLM",
    "SpliceBertForVariantEffect",
    "SpliceBertForSequenceClassification",
    "SpliceBertForTokenClassification",
    "SpliceBertModel",
    "SpliceBertPreTrainedModel",
]
