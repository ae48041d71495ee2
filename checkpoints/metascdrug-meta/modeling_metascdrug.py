# Copyright 2026 The txformers authors. BSD-3-Clause.
"""MetaSCDrug: drug response from cell expression and drug structure.

Ge S. et al., "MetaSCDrug: meta-transfer learning for single-cell-based drug response prediction
from the cellular and molecular perspective", bioRxiv 2024.04.25.591050 (v2 renamed SCREP).

Top to bottom: the cell encoder (an MLP over a fixed gene panel; genes absent from a dataset are
masked), the drug encoder (a small pre-LN transformer over SMILES tokens, optionally joined with a
Morgan fingerprint), the fused base model (cell, drug and joint embeddings) and the drug-response
model (a sensitive/resistant logit and an ln IC50 regression head).

Portable: this file imports only torch, transformers and its sibling configuration file, so
``save_pretrained`` copies it into the checkpoint and ``AutoModel.from_pretrained(...,
trust_remote_code=True)`` works without txformers. ``AutoModelForSequenceClassification`` maps to
:class:`MetaScDrugForDrugResponse` (its classification is sensitive vs resistant).

Example:

```python
>>> import torch
>>> from txformers.models.metascdrug import MetaScDrugConfig, MetaScDrugForDrugResponse
>>> config = MetaScDrugConfig(gene_panel_size=20, smiles_vocab_size=30, fingerprint_bits=32,
...                           cell_hidden_sizes=[16], cell_embed_dim=8, drug_hidden_size=8, drug_num_heads=2,
...                           drug_intermediate_size=16, drug_embed_dim=8, fusion_hidden_sizes=[16], joint_embed_dim=8)
>>> model = MetaScDrugForDrugResponse(config)
>>> out = model(expression=torch.randn(3, 20), input_ids=torch.randint(5, 30, (3, 12)),
...             fingerprint=torch.randint(0, 2, (3, 32)).float(), labels=torch.tensor([1, 0, 1]))
>>> out.logits.shape, out.ln_ic50.shape, out.loss.ndim
(torch.Size([3, 1]), torch.Size([3]), 0)

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
from transformers.utils import ModelOutput

from .configuration_metascdrug import MetaScDrugConfig


@dataclass
class MetaScDrugModelOutput(ModelOutput):
    """Embeddings of :class:`MetaScDrugModel`.

    Args:
        cell_embeds: ``(batch, cell_embed_dim)``.
        drug_embeds: ``(batch, drug_embed_dim)`` (broadcast to the cells when one drug was given).
        joint_embeds: ``(batch, joint_embed_dim)``, the fused (cell, drug) embedding.
    """

    cell_embeds: torch.Tensor | None = None
    drug_embeds: torch.Tensor | None = None
    joint_embeds: torch.Tensor | None = None


@dataclass
class DrugResponseOutput(ModelOutput):
    """Outputs of :class:`MetaScDrugForDrugResponse`.

    Args:
        loss: classification loss (+ ``regression_weight`` x regression loss) when labels were given.
        logits: ``(batch, num_labels)``; with ``num_labels=1`` the sensitive logit.
        ln_ic50: ``(batch,)`` regression prediction (``config.regression_target``: per-drug z-scored ln IC50
            by default).
        sensitive_logit: ``(batch,)`` log-odds of "sensitive" (``logits[:, 0]`` or ``logits[:, 1] - logits[:, 0]``).
        classification_loss, regression_loss: the two terms of ``loss``.
        cell_embeds, drug_embeds, joint_embeds: as in :class:`MetaScDrugModelOutput`.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    ln_ic50: torch.Tensor | None = None
    sensitive_logit: torch.Tensor | None = None
    classification_loss: torch.Tensor | None = None
    regression_loss: torch.Tensor | None = None
    cell_embeds: torch.Tensor | None = None
    drug_embeds: torch.Tensor | None = None
    joint_embeds: torch.Tensor | None = None


# ----------------------------------------------------------------------------- cell encoder
class MetaScDrugCellEncoder(nn.Module):
    """MLP over the gene-panel vector. Missing genes (``missing_mask``) are set to 0, the mean of
    per-gene z-scored data, and with ``rescale_missing`` the observed genes are scaled up by
    ``panel / observed``. In training, ``gene_dropout`` masks random genes in the same way.

    The Linear layers are ``layers.0 ... layers.N`` (the targets of LoRA in few-shot transfer). There is no
    normalisation layer: the encoder stays smooth around the all-zero input, the baseline of integrated gradients.
    """

    def __init__(self, config: MetaScDrugConfig):
        super().__init__()
        self.gene_dropout = config.gene_dropout
        self.rescale_missing = config.rescale_missing
        sizes = [config.gene_panel_size, *config.cell_hidden_sizes, config.cell_embed_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def mask_inputs(self, expression: torch.Tensor, missing_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The MLP input: missing (and, in training, randomly dropped) genes zeroed, the rest rescaled."""
        missing = missing_mask.bool() if missing_mask is not None else None
        if self.training and self.gene_dropout > 0:
            dropped = torch.rand(expression.shape, device=expression.device) < self.gene_dropout
            missing = dropped if missing is None else missing | dropped
        if missing is None:
            return expression
        observed = (~missing).to(expression.dtype)
        hidden = expression * observed
        if self.rescale_missing:
            hidden = hidden * (expression.shape[-1] / observed.sum(-1, keepdim=True).clamp(min=1.0))
        return hidden

    def forward(self, expression: torch.Tensor, missing_mask: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.mask_inputs(expression, missing_mask)
        for index, layer in enumerate(self.layers):
            hidden = layer(hidden)
            if index < len(self.layers) - 1:
                hidden = self.dropout(self.act(hidden))
        return hidden


# ----------------------------------------------------------------------------- drug encoder
class MetaScDrugSelfAttention(nn.Module):
    def __init__(self, config: MetaScDrugConfig):
        super().__init__()
        self.num_heads = config.drug_num_heads
        self.qkv = nn.Linear(config.drug_hidden_size, 3 * config.drug_hidden_size)
        self.out = nn.Linear(config.drug_hidden_size, config.drug_hidden_size)
        self.dropout = config.hidden_dropout_prob

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        batch, length, width = hidden.shape
        q, k, v = self.qkv(hidden).view(batch, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(attended.transpose(1, 2).reshape(batch, length, width))


class MetaScDrugDrugLayer(nn.Module):
    """Pre-LN transformer layer: x + attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, config: MetaScDrugConfig):
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.drug_hidden_size, eps=config.layer_norm_eps)
        self.attention = MetaScDrugSelfAttention(config)
        self.ffn_norm = nn.LayerNorm(config.drug_hidden_size, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(config.drug_hidden_size, config.drug_intermediate_size)
        self.output = nn.Linear(config.drug_intermediate_size, config.drug_hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        hidden = hidden + self.dropout(self.attention(self.attention_norm(hidden), mask))
        return hidden + self.dropout(self.output(self.act(self.intermediate(self.ffn_norm(hidden)))))


class MetaScDrugDrugEncoder(nn.Module):
    """SMILES tokens -> transformer -> pooled vector, optionally joined with a Morgan-fingerprint MLP."""

    def __init__(self, config: MetaScDrugConfig):
        super().__init__()
        self.config = config
        self.use_smiles = config.smiles_vocab_size > 0
        inputs = 0
        if self.use_smiles:
            self.token_embeddings = nn.Embedding(config.smiles_vocab_size, config.drug_hidden_size, config.pad_token_id)
            self.position_embeddings = nn.Embedding(config.max_smiles_length, config.drug_hidden_size)
            self.embedding_dropout = nn.Dropout(config.hidden_dropout_prob)
            self.layers = nn.ModuleList(MetaScDrugDrugLayer(config) for _ in range(config.drug_num_layers))
            self.final_norm = nn.LayerNorm(config.drug_hidden_size, eps=config.layer_norm_eps)
            inputs += config.drug_hidden_size
        if config.use_fingerprint:
            self.fingerprint_projection = nn.Linear(config.fingerprint_bits, config.drug_embed_dim)
            inputs += config.drug_embed_dim
        self.act = ACT2FN[config.hidden_act]
        self.projection = nn.Linear(inputs, config.drug_embed_dim)
        self.norm = nn.LayerNorm(config.drug_embed_dim, eps=config.layer_norm_eps)

    def encode_smiles(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        length = input_ids.shape[1]
        if length > self.config.max_smiles_length:
            raise ValueError(
                f"SMILES of {length} tokens is longer than max_smiles_length={self.config.max_smiles_length}"
            )
        if attention_mask is None:
            attention_mask = (input_ids != self.config.pad_token_id).long()
        positions = torch.arange(length, device=input_ids.device)
        hidden = self.embedding_dropout(self.token_embeddings(input_ids) + self.position_embeddings(positions)[None])
        keep = attention_mask.bool()
        mask = None if bool(keep.all()) else keep[:, None, None, :]
        for layer in self.layers:
            hidden = layer(hidden, mask)
        hidden = self.final_norm(hidden)
        if self.config.drug_pooling == "cls":
            return hidden[:, 0]
        weights = keep.to(hidden.dtype)[..., None]
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        fingerprint: torch.Tensor | None = None,
    ) -> torch.Tensor:
        parts = []
        if self.use_smiles:
            if input_ids is None:
                raise ValueError("this model encodes SMILES tokens: pass input_ids (from the processor)")
            parts.append(self.encode_smiles(input_ids, attention_mask))
        if self.config.use_fingerprint:
            if fingerprint is None:
                raise ValueError(
                    f"this model uses a {self.config.fingerprint_bits}-bit Morgan fingerprint: pass fingerprint= "
                    "(the processor computes it from the SMILES with RDKit)"
                )
            if fingerprint.shape[-1] != self.config.fingerprint_bits:
                raise ValueError(
                    f"fingerprint has {fingerprint.shape[-1]} bits, the model expects {self.config.fingerprint_bits}"
                )
            parts.append(
                self.act(self.fingerprint_projection(fingerprint.to(self.fingerprint_projection.weight.dtype)))
            )
        return self.norm(self.projection(torch.cat(parts, dim=-1)))


# ----------------------------------------------------------------------------- fusion
class MetaScDrugFusion(nn.Module):
    """Concatenation (optionally with the element-wise product) of cell and drug embeddings, then an MLP."""

    def __init__(self, config: MetaScDrugConfig):
        super().__init__()
        self.fusion_type = config.fusion_type
        width = config.cell_embed_dim + config.drug_embed_dim
        if config.fusion_type == "concat_product":
            width += config.cell_embed_dim
        sizes = [width, *config.fusion_hidden_sizes, config.joint_embed_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, cell_embeds: torch.Tensor, drug_embeds: torch.Tensor) -> torch.Tensor:
        parts = [cell_embeds, drug_embeds]
        if self.fusion_type == "concat_product":
            parts.append(cell_embeds * drug_embeds)
        hidden = torch.cat(parts, dim=-1)
        for layer in self.layers:
            hidden = self.dropout(self.act(layer(hidden)))
        return hidden


# ----------------------------------------------------------------------------- models
class MetaScDrugPreTrainedModel(PreTrainedModel):
    """Weight initialisation and a ``save_pretrained`` that writes a complete ``auto_map``."""

    config_class = MetaScDrugConfig
    base_model_prefix = "metascdrug"
    main_input_name = "expression"
    _supports_sdpa = True
    _fresh_head_prefixes: tuple[str, ...] = ()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # Every MetaSCDrug class in auto_map: any Auto class loads the folder with trust_remote_code
        # where txformers is not installed.
        if self._auto_class is not None:
            self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **AUTO_MAP}
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        # Strict: a checkpoint loaded into the class its config names must hold exactly the model's weights.
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(
            pretrained_model_name_or_path, *model_args, output_loading_info=True, **kwargs
        )
        new_head = asks_for_new_head(cls, model.config.architectures, kwargs)
        check_loaded_weights(cls, pretrained_model_name_or_path, model, info, new_head, ("classifier", "regressor"))
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


def _broadcast(drug: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    if drug.shape[0] == cells.shape[0]:
        return drug
    if drug.shape[0] == 1:
        return drug.expand(cells.shape[0], -1)
    raise ValueError(f"{drug.shape[0]} drugs for {cells.shape[0]} cells: give one drug, or one per cell")


class MetaScDrugModel(MetaScDrugPreTrainedModel):
    """Cell encoder + drug encoder + fusion: returns cell, drug and joint embeddings.

    One drug (batch 1) is broadcast to all cells. Pre-computed ``cell_embeds`` / ``drug_embeds`` skip
    the encoders (used by meta-learning, which adapts only the layers after them). With no drug input
    at all, a model with ``config.has_default_drug`` uses its default drug embedding (the mean over
    its training drugs, see :meth:`set_default_drug_embedding`).
    """

    def __init__(self, config: MetaScDrugConfig):
        super().__init__(config)
        self.cell_encoder = MetaScDrugCellEncoder(config)
        self.drug_encoder = MetaScDrugDrugEncoder(config)
        self.fusion = MetaScDrugFusion(config)
        self.register_buffer("default_drug_embeds", torch.zeros(1, config.drug_embed_dim))
        self.post_init()

    @torch.no_grad()
    def set_default_drug_embedding(self, drug_embeds: torch.Tensor) -> None:
        """Store the mean of ``drug_embeds`` (drugs x drug_embed_dim) as the embedding used when no drug is given."""
        self.default_drug_embeds.copy_(drug_embeds.detach().float().mean(0, keepdim=True))
        self.config.has_default_drug = True

    def forward(
        self,
        expression: torch.Tensor | None = None,
        missing_mask: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        fingerprint: torch.Tensor | None = None,
        cell_embeds: torch.Tensor | None = None,
        drug_embeds: torch.Tensor | None = None,
        **kwargs,
    ) -> MetaScDrugModelOutput:
        if cell_embeds is None:
            if expression is None:
                raise ValueError("pass expression (gene-panel vectors from the processor) or cell_embeds")
            if expression.shape[-1] != self.config.gene_panel_size:
                raise ValueError(
                    f"expression has {expression.shape[-1]} genes, the model's panel has {self.config.gene_panel_size}"
                    " (encode cells with the model's processor)"
                )
            cell_embeds = self.cell_encoder(expression.to(self.dtype), missing_mask)
        if drug_embeds is None:
            if input_ids is None and fingerprint is None:
                if not self.config.has_default_drug:
                    raise ValueError("pass a drug (input_ids / fingerprint from the processor) or drug_embeds")
                drug_embeds = self.default_drug_embeds
            else:
                drug_embeds = self.drug_encoder(input_ids, attention_mask, fingerprint)
        drug_embeds = _broadcast(drug_embeds, cell_embeds)
        joint = self.fusion(cell_embeds, drug_embeds)
        return MetaScDrugModelOutput(cell_embeds=cell_embeds, drug_embeds=drug_embeds, joint_embeds=joint)


class MetaScDrugForDrugResponse(MetaScDrugPreTrainedModel):
    """MetaSCDrug with a sensitive/resistant classifier and an ln IC50 regressor on the joint embedding.

    Losses: binary cross-entropy (``num_labels=1``) or cross-entropy (``num_labels=2``) on ``labels``
    (1 = sensitive); mean squared error on ``regression_labels`` (NaN targets are ignored).
    """

    # parameters a meta-learning inner loop may adapt: the heads, optionally with the fusion MLP
    head_prefixes = ("classifier.", "regressor.")
    fusion_prefixes = ("metascdrug.fusion.",)
    _fresh_head_prefixes = head_prefixes

    def __init__(self, config: MetaScDrugConfig):
        super().__init__(config)
        self.metascdrug = MetaScDrugModel(config)
        self.classifier = nn.Linear(config.joint_embed_dim, config.num_labels)
        self.regressor = nn.Linear(config.joint_embed_dim, 1)
        self.post_init()

    def forward(
        self,
        expression: torch.Tensor | None = None,
        missing_mask: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        fingerprint: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        regression_labels: torch.Tensor | None = None,
        cell_embeds: torch.Tensor | None = None,
        drug_embeds: torch.Tensor | None = None,
        **kwargs,
    ) -> DrugResponseOutput:
        base = self.metascdrug(
            expression=expression, missing_mask=missing_mask, input_ids=input_ids, attention_mask=attention_mask,
            fingerprint=fingerprint, cell_embeds=cell_embeds, drug_embeds=drug_embeds,
        )  # fmt: skip
        logits = self.classifier(base.joint_embeds)
        ln_ic50 = self.regressor(base.joint_embeds).squeeze(-1)
        sensitive = logits[:, 0] if logits.shape[-1] == 1 else logits[:, 1] - logits[:, 0]
        classification_loss = regression_loss = None
        if labels is not None:
            if logits.shape[-1] == 1:
                classification_loss = F.binary_cross_entropy_with_logits(sensitive, labels.to(sensitive.dtype))
            else:
                classification_loss = F.cross_entropy(logits, labels.long())
        if regression_labels is not None:
            target = regression_labels.to(ln_ic50.dtype)
            known = torch.isfinite(target)
            error = torch.where(known, ln_ic50 - torch.where(known, target, 0.0), 0.0)
            regression_loss = error.pow(2).sum() / known.sum().clamp(min=1)
        loss = None
        if classification_loss is not None or regression_loss is not None:
            loss = (classification_loss if classification_loss is not None else 0.0) + (
                self.config.regression_weight * regression_loss if regression_loss is not None else 0.0
            )
        return DrugResponseOutput(
            loss=loss, logits=logits, ln_ic50=ln_ic50, sensitive_logit=sensitive,
            classification_loss=classification_loss, regression_loss=regression_loss,
            cell_embeds=base.cell_embeds, drug_embeds=base.drug_embeds, joint_embeds=base.joint_embeds,
        )  # fmt: skip


AUTO_MAP = {
    "AutoConfig": "configuration_metascdrug.MetaScDrugConfig",
    "AutoModel": "modeling_metascdrug.MetaScDrugModel",
    "AutoModelForSequenceClassification": "modeling_metascdrug.MetaScDrugForDrugResponse",
}

__all__ = [
    "DrugResponseOutput",
    "MetaScDrugForDrugResponse",
    "MetaScDrugModel",
    "MetaScDrugModelOutput",
    "MetaScDrugPreTrainedModel",
]
