# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Cellformer: a transformer encoder over the (gene, value) tokens of single cells.

Each cell is a set of tokens: ``<cls>``, an optional study/batch token ``<batch:STUDY>``, then its
detected genes. A token's embedding is its gene embedding plus an embedding of its expression
value, either a per-cell quantile bin (scGPT's value binning) or the normalised value through a
small MLP. There are no position embeddings, so a cell's output does not depend on gene order or
on how much padding surrounds it. Heads:

* `CellformerForMaskedExpressionModeling`: hides the values of a random subset of genes (their
  bin becomes ``mask_bin``) and predicts them back (their bin with cross-entropy, or their value
  with mean squared error); the loss is computed on masked genes only (labels ``-100`` elsewhere).
* `CellformerForCellClassification`: a label per cell (e.g. cancer type) from the pooled ``<cls>``
  state.

Inputs come from :class:`txformers.GeneExpressionTokenizer` in ``"bins"`` mode; extra keys of its
output (``n_genes_detected``, ``coverage``) are ignored, so ``model(**tokenizer(adata,
return_tensors="pt"))`` works. Portable: this file imports only torch, transformers and its sibling
configuration file, so ``save_pretrained`` copies it into the checkpoint and
``AutoModel.from_pretrained(path, trust_remote_code=True)`` works without txformers.

Example:

```python
>>> import numpy as np, torch
>>> from txformers import GeneExpressionTokenizer
>>> from txformers.models.cellformer import CellformerConfig, CellformerForCellClassification
>>> tok = GeneExpressionTokenizer.from_genes(["IL2", "IFNG", "TNF", "CXCL13"], mode="bins", n_bins=11)
>>> config = CellformerConfig(vocab_size=tok.vocab_size, n_bins=11, hidden_size=32, num_hidden_layers=2,
...                           num_attention_heads=4, intermediate_size=64, num_labels=3)
>>> model = CellformerForCellClassification(config).eval()
>>> enc = tok(np.array([[3, 0, 1, 5], [0, 2, 0, 0]]), gene_names=["IL2", "IFNG", "TNF", "CXCL13"],
...           return_tensors="pt")
>>> model(**enc).logits.shape
torch.Size([2, 3])

```
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling, SequenceClassifierOutput
from transformers.utils import ModelOutput

from .configuration_cellformer import CellformerConfig


@dataclass
class CellformerMaskedExpressionOutput(ModelOutput):
    """Output of `CellformerForMaskedExpressionModeling`.

    Args:
        loss: masked-expression loss (cross-entropy over bins, or mean squared error), masked genes only.
        logits: ``(batch, length, n_bins)`` bin scores (``mlm_objective="bins"``) or ``(batch, length)``
            predicted normalised values (``mlm_objective="value"``).
        hidden_states, attentions: as in transformers.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


class CellformerContinuousValueEncoder(nn.Module):
    """scGPT's ``ContinuousValueEncoder``: value -> Linear -> activation -> Linear -> LayerNorm."""

    def __init__(self, config: CellformerConfig):
        super().__init__()
        self.dense_in = nn.Linear(1, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.dense_out = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.max_value = config.max_value

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        values = values.clamp(max=self.max_value).unsqueeze(-1)
        return self.LayerNorm(self.dense_out(self.act(self.dense_in(values))))


class CellformerEmbeddings(nn.Module):
    """Gene embedding + value embedding (bin or continuous), then LayerNorm and dropout. No positions."""

    def __init__(self, config: CellformerConfig):
        super().__init__()
        self.config = config
        self.gene_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        if config.value_encoding == "bins":
            self.value_embeddings = nn.Embedding(
                config.num_value_embeddings, config.hidden_size, padding_idx=config.pad_bin
            )
        else:
            self.value_encoder = CellformerContinuousValueEncoder(config)
            self.mask_value_embedding = nn.Parameter(torch.zeros(config.hidden_size))
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: torch.Tensor,
        expression_bins: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        masked_positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        config = self.config
        if input_ids.numel() and (int(input_ids.max()) >= config.vocab_size or int(input_ids.min()) < 0):
            raise ValueError(
                f"input_ids hold ids outside 0..{config.vocab_size - 1} (min {int(input_ids.min())}, max "
                f"{int(input_ids.max())}): the tokenizer's vocabulary does not match this model's vocab_size"
            )
        embeddings = self.gene_embeddings(input_ids)
        if config.value_encoding == "bins":
            if expression_bins is None:
                raise ValueError("value_encoding='bins' needs expression_bins (GeneExpressionTokenizer mode='bins')")
            if expression_bins.shape != input_ids.shape:
                raise ValueError(
                    f"expression_bins {tuple(expression_bins.shape)} != input_ids {tuple(input_ids.shape)}"
                )
            if expression_bins.numel() and (
                int(expression_bins.max()) >= config.num_value_embeddings or int(expression_bins.min()) < 0
            ):
                raise ValueError(
                    f"expression_bins hold bins outside 0..{config.num_value_embeddings - 1} (max "
                    f"{int(expression_bins.max())}): does the tokenizer's n_bins match the model's "
                    f"n_bins={config.n_bins}?"
                )
            if masked_positions is not None:
                expression_bins = expression_bins.masked_fill(masked_positions.bool(), config.mask_bin)
            embeddings = embeddings + self.value_embeddings(expression_bins)
        else:
            if expression is None:
                raise ValueError("value_encoding='continuous' needs expression (GeneExpressionTokenizer mode='bins')")
            if expression.shape != input_ids.shape:
                raise ValueError(f"expression {tuple(expression.shape)} != input_ids {tuple(input_ids.shape)}")
            masked = torch.zeros_like(input_ids, dtype=torch.bool)
            if masked_positions is not None:
                masked = masked | masked_positions.bool()
            if expression_bins is not None:  # the masking collator marks masked genes with mask_bin
                masked = masked | (expression_bins == config.mask_bin)
            values = self.value_encoder(expression.to(embeddings.dtype).masked_fill(masked, 0.0))
            values = torch.where(masked[..., None], self.mask_value_embedding.to(values.dtype), values)
            embeddings = embeddings + values
        return self.dropout(self.LayerNorm(embeddings))


class CellformerSelfAttention(nn.Module):
    """Multi-head self-attention through `torch.nn.functional.scaled_dot_product_attention`."""

    def __init__(self, config: CellformerConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.output = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_prob = config.attention_probs_dropout_prob

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, _ = hidden_states.shape
        shape = (batch, length, self.num_heads, self.head_size)
        query = self.query(hidden_states).view(shape).transpose(1, 2)
        key = self.key(hidden_states).view(shape).transpose(1, 2)
        value = self.value(hidden_states).view(shape).transpose(1, 2)
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
        return self.output(context.transpose(1, 2).reshape(batch, length, -1)), weights


class CellformerFeedForward(nn.Module):
    def __init__(self, config: CellformerConfig):
        super().__init__()
        self.dense_in = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT2FN[config.hidden_act]
        self.dense_out = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dense_out(self.act(self.dense_in(hidden_states)))


class CellformerLayer(GradientCheckpointingLayer):
    """One transformer block, pre-LN (``config.pre_layer_norm``) or post-LN (BERT)."""

    def __init__(self, config: CellformerConfig):
        super().__init__()
        self.pre_layer_norm = config.pre_layer_norm
        self.attention = CellformerSelfAttention(config)
        self.attention_LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = CellformerFeedForward(config)
        self.output_LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, attention_mask=None, output_attentions=False):
        if self.pre_layer_norm:
            context, weights = self.attention(
                self.attention_LayerNorm(hidden_states), attention_mask, output_attentions
            )
            hidden_states = hidden_states + self.dropout(context)
            hidden_states = hidden_states + self.dropout(self.feed_forward(self.output_LayerNorm(hidden_states)))
        else:
            context, weights = self.attention(hidden_states, attention_mask, output_attentions)
            hidden_states = self.attention_LayerNorm(hidden_states + self.dropout(context))
            hidden_states = self.output_LayerNorm(hidden_states + self.dropout(self.feed_forward(hidden_states)))
        return hidden_states, weights


class CellformerEncoder(nn.Module):
    def __init__(self, config: CellformerConfig):
        super().__init__()
        self.layer = nn.ModuleList(CellformerLayer(config) for _ in range(config.num_hidden_layers))
        self.final_LayerNorm = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.pre_layer_norm else nn.Identity()
        )

    def forward(self, hidden_states, attention_mask=None, output_attentions=False, output_hidden_states=False):
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layer:
            hidden_states, weights = layer(hidden_states, attention_mask, output_attentions)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (weights,)
        hidden_states = self.final_LayerNorm(hidden_states)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


class CellformerPreTrainedModel(PreTrainedModel):
    """Weight init, gradient checkpointing, ``auto_map`` on save and strict loading.

    ``from_pretrained`` fails loudly when a weight of the checkpoint is unused or a weight of the model
    is missing. The exceptions: a task head that is new by design (``_fresh_head_prefixes``, e.g.
    ``classifier.`` when fine-tuning a classifier from a masked-expression checkpoint) and the head of
    another task (``mlm_head.*``, ``classifier.*``) when it loads into a model without it.
    """

    config_class = CellformerConfig
    base_model_prefix = "cellformer"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["CellformerLayer"]
    _fresh_head_prefixes: tuple[str, ...] = ()
    _task_heads = ("mlm_head", "classifier")

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, CellformerEmbeddings) and hasattr(module, "mask_value_embedding"):
            init.normal_(module.mask_value_embedding, mean=0.0, std=self.config.initializer_range)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # List every Cellformer class in auto_map, so any Auto class loads the folder with
        # trust_remote_code where txformers is not installed.
        if self._auto_class is not None:
            self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **AUTO_MAP}
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(
            pretrained_model_name_or_path, *model_args, output_loading_info=True, **kwargs
        )
        new_head = asks_for_new_head(cls, model.config.architectures, kwargs)
        check_loaded_weights(cls, pretrained_model_name_or_path, model, info, new_head, cls._task_heads)
        return (model, info) if want_info else model


# Copied from txformers.models.splicebert.modeling_splicebert.asks_for_new_head
def asks_for_new_head(cls, saved_architectures, kwargs) -> bool:
    """Whether ``from_pretrained`` was asked for a new task head: a class other than the checkpoint's
    (``architectures`` in its config; unknown counts as other) or explicit labels (``num_labels``, ``id2label``)."""
    if any(key in kwargs for key in ("num_labels", "id2label", "label2id")):
        return True
    return not saved_architectures or cls.__name__ not in saved_architectures


# Copied from txformers.models.splicebert.modeling_splicebert.check_loaded_weights
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


def _attention_mask(input_ids: torch.Tensor, attention_mask: torch.Tensor | None, pad_token_id: int) -> torch.Tensor:
    """(batch, length) 1/0 mask; from ``input_ids != pad`` when not given."""
    if attention_mask is None:
        attention_mask = input_ids != pad_token_id
    if attention_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask {tuple(attention_mask.shape)} != input_ids {tuple(input_ids.shape)}")
    return attention_mask


# Copied from txformers.models.splicebert.modeling_splicebert._padding_mask
def _padding_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """(batch, length) 1/0 mask -> boolean (batch, 1, 1, length) for SDPA; None when nothing is padded."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    return attention_mask.bool()[:, None, None, :]


# Copied from txformers.models.splicebert.modeling_splicebert.sequence_classification_loss
def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config) -> torch.Tensor:
    """MSE for one label or regression, BCE for multi-label, else cross-entropy (transformers' convention)."""
    if config.num_labels == 1 or config.problem_type == "regression":
        return F.mse_loss(logits.squeeze(-1), labels.float())
    if config.problem_type == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits, labels.float())
    return F.cross_entropy(logits, labels.view(-1))


class CellformerModel(CellformerPreTrainedModel):
    """The bare Cellformer encoder: per-token hidden states and a pooled cell embedding (``pooler_output``:
    the ``<cls>`` state or the mean over genes, ``config.classifier_pooling``; no extra weights)."""

    def __init__(self, config: CellformerConfig):
        super().__init__(config)
        self.embeddings = CellformerEmbeddings(config)
        self.encoder = CellformerEncoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.gene_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.gene_embeddings = value

    def pool(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.config.classifier_pooling == "cls":
            return hidden_states[:, 0]
        mask = attention_mask.to(hidden_states.dtype).clone()
        mask[:, 0] = 0  # <cls>
        return (hidden_states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        expression_bins: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        masked_positions: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        if input_ids is None:
            raise ValueError("Cellformer needs input_ids (gene tokens from GeneExpressionTokenizer, mode='bins')")
        output_attentions = bool(output_attentions if output_attentions is not None else self.config.output_attentions)
        output_hidden_states = bool(
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        attention_mask = _attention_mask(input_ids, attention_mask, self.config.pad_token_id)
        hidden_states = self.embeddings(input_ids, expression_bins, expression, masked_positions)
        outputs = self.encoder(hidden_states, _padding_mask(attention_mask), output_attentions, output_hidden_states)
        return BaseModelOutputWithPooling(
            last_hidden_state=outputs.last_hidden_state,
            pooler_output=self.pool(outputs.last_hidden_state, attention_mask),
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class CellformerMaskedExpressionHead(nn.Module):
    def __init__(self, config: CellformerConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.n_bins if config.mlm_objective == "bins" else 1)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.LayerNorm(self.act(self.dense(hidden_states))))


class CellformerForMaskedExpressionModeling(CellformerPreTrainedModel):
    """Masked-expression pretraining: predict the value bin (``mlm_objective="bins"``) or the normalised value
    (``"value"``) of genes whose value was hidden.

    Mark hidden genes with ``masked_positions`` (boolean) or by setting their ``expression_bins`` to
    ``config.mask_bin``; ``labels`` hold the true bin (long) or value (float) at masked genes and ``-100``
    (or NaN for values) everywhere else. The loss averages over masked genes only.
    """

    def __init__(self, config: CellformerConfig):
        super().__init__(config)
        self.cellformer = CellformerModel(config)
        self.mlm_head = CellformerMaskedExpressionHead(config)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        expression_bins=None,
        expression=None,
        masked_positions=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> CellformerMaskedExpressionOutput:
        outputs = self.cellformer(
            input_ids,
            attention_mask,
            expression_bins,
            expression,
            masked_positions,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.mlm_head(outputs.last_hidden_state)
        if self.config.mlm_objective == "value":
            logits = logits.squeeze(-1)
        loss = None
        if labels is not None:
            loss = masked_expression_loss(logits, labels, self.config.mlm_objective)
        return CellformerMaskedExpressionOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


def masked_expression_loss(logits: torch.Tensor, labels: torch.Tensor, objective: str) -> torch.Tensor:
    """Cross-entropy over bins or mean squared error on values, at positions whose label is not ``-100``
    (nor NaN). Zero (with a gradient path) when nothing is masked."""
    if objective == "bins":
        selected = labels != -100
        if not bool(selected.any()):
            return logits.sum() * 0.0
        return F.cross_entropy(logits[selected].float(), labels[selected].long())
    labels = labels.to(logits.dtype)
    selected = (labels != -100) & ~torch.isnan(labels)
    if not bool(selected.any()):
        return logits.sum() * 0.0
    return F.mse_loss(logits[selected].float(), labels[selected].float())


class CellformerForCellClassification(CellformerPreTrainedModel):
    """One label per cell (e.g. cancer type or cell type) from the pooled cell state (``classifier_pooling``)."""

    _fresh_head_prefixes = ("classifier.",)

    def __init__(self, config: CellformerConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.cellformer = CellformerModel(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
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
        expression_bins=None,
        expression=None,
        masked_positions=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        outputs = self.cellformer(
            input_ids,
            attention_mask,
            expression_bins,
            expression,
            masked_positions,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.classifier(outputs.pooler_output)
        loss = None if labels is None else sequence_classification_loss(logits, labels, self.config)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


AUTO_MAP = {
    "AutoConfig": "configuration_cellformer.CellformerConfig",
    "AutoModel": "modeling_cellformer.CellformerModel",
    "AutoModelForMaskedLM": "modeling_cellformer.CellformerForMaskedExpressionModeling",
    "AutoModelForSequenceClassification": "modeling_cellformer.CellformerForCellClassification",
}

__all__ = [
    "CellformerForCellClassification",
    "CellformerForMaskedExpressionModeling",
    "CellformerMaskedExpressionOutput",
    "CellformerModel",
    "CellformerPreTrainedModel",
    "masked_expression_loss",
]
