# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Cellformer configuration. Portable: standard library and transformers only."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

VALUE_ENCODINGS = ("bins", "continuous")
MLM_OBJECTIVES = ("bins", "value")
POOLINGS = ("cls", "mean")


class CellformerConfig(PretrainedConfig):
    r"""Configuration of a Cellformer: a transformer encoder over the genes of one cell.

    A cell is a set of (gene, value) tokens, as produced by
    :class:`~txformers.GeneExpressionTokenizer` in ``"bins"`` mode: ``input_ids`` are gene tokens
    (``<cls>`` first, optionally a ``<batch:STUDY>`` token next), ``expression_bins`` the per-cell
    value bins (scGPT) and ``expression`` the normalised values. Each token's embedding is the sum of
    a gene embedding and a value embedding; there are no position embeddings (the genes are a set,
    their order carries no meaning), so the model is invariant to padding and to gene order.

    Args:
        vocab_size: number of gene-vocabulary ids (genes, specials and study tokens): the tokenizer's
            ``vocab_size``.
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act: encoder shape.
        hidden_dropout_prob, attention_probs_dropout_prob: dropout in the encoder.
        initializer_range: standard deviation of the normal weight initialisation.
        layer_norm_eps: epsilon of every LayerNorm.
        pre_layer_norm: pre-LN blocks (LayerNorm before attention and FFN, a final LayerNorm; trains
            stably from scratch) or post-LN (BERT).
        pad_token_id, cls_token_id, mask_token_id: ids of ``<pad>``, ``<cls>``, ``<mask>`` in the vocabulary.
        value_encoding: ``"bins"`` (an embedding per value bin, scGPT's default) or ``"continuous"`` (an
            MLP of the normalised value, scGPT's ``ContinuousValueEncoder``).
        n_bins: number of value bins, bin 0 (not detected) included: the tokenizer's ``n_bins``.
        pad_bin: bin id at padded positions (the tokenizer's ``bin_pad_value``; default ``n_bins``).
        mask_bin: bin id of a masked value (default ``n_bins + 1``, the tokenizer's ``mask_bin``).
        max_value: continuous encoding: values are clipped to this before the MLP.
        mlm_objective: what `CellformerForMaskedExpressionModeling` predicts at masked genes:
            ``"bins"`` (cross-entropy over the ``n_bins`` value bins) or ``"value"`` (mean squared error
            on the normalised value).
        classifier_pooling: cell summary used by `CellformerForCellClassification`: ``"cls"`` (the
            ``<cls>`` state) or ``"mean"`` (mean over the non-``<cls>`` tokens).
        classifier_dropout: dropout before the classification head (``None``: ``hidden_dropout_prob``).
        tokens_per_cell: tokens per cell the model was trained with (informational: the tokenizer's
            ``max_length``). Longer inputs work: there are no position embeddings.
        study_labels: studies / batches that have a ``<batch:LABEL>`` token (informational; the token ids
            live in the tokenizer's vocabulary).

    Example:

    ```python
    >>> from txformers.models.cellformer import CellformerConfig, CellformerForMaskedExpressionModeling
    >>> config = CellformerConfig(vocab_size=200, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                           intermediate_size=64, n_bins=11)
    >>> model = CellformerForMaskedExpressionModeling(config)
    >>> config.mask_bin, config.pad_bin
    (12, 11)

    ```
    """

    model_type = "cellformer"

    def __init__(
        self,
        vocab_size: int = 4096,
        hidden_size: int = 128,
        num_hidden_layers: int = 4,
        num_attention_heads: int = 4,
        intermediate_size: int = 512,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pre_layer_norm: bool = True,
        pad_token_id: int = 0,
        cls_token_id: int = 1,
        mask_token_id: int = 2,
        value_encoding: str = "bins",
        n_bins: int = 51,
        pad_bin: int | None = None,
        mask_bin: int | None = None,
        max_value: float = 512.0,
        mlm_objective: str = "bins",
        classifier_pooling: str = "cls",
        classifier_dropout: float | None = None,
        tokens_per_cell: int | None = None,
        study_labels: list[str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size {hidden_size} is not a multiple of num_attention_heads {num_attention_heads}"
            )
        for name, value, choices in (
            ("value_encoding", value_encoding, VALUE_ENCODINGS),
            ("mlm_objective", mlm_objective, MLM_OBJECTIVES),
            ("classifier_pooling", classifier_pooling, POOLINGS),
        ):
            if value not in choices:
                raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
        if n_bins < 3:
            raise ValueError(f"n_bins must be at least 3, got {n_bins}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.pre_layer_norm = pre_layer_norm
        self.cls_token_id = cls_token_id
        self.mask_token_id = mask_token_id
        self.value_encoding = value_encoding
        self.n_bins = n_bins
        self.pad_bin = n_bins if pad_bin is None else pad_bin
        self.mask_bin = n_bins + 1 if mask_bin is None else mask_bin
        if len({self.pad_bin, self.mask_bin}) != 2 or min(self.pad_bin, self.mask_bin) < n_bins:
            raise ValueError(
                f"pad_bin ({self.pad_bin}) and mask_bin ({self.mask_bin}) must differ and lie outside the value bins "
                f"0..{n_bins - 1}"
            )
        self.max_value = max_value
        self.mlm_objective = mlm_objective
        self.classifier_pooling = classifier_pooling
        self.classifier_dropout = classifier_dropout
        self.tokens_per_cell = tokens_per_cell
        self.study_labels = list(study_labels) if study_labels else []

    @property
    def num_value_embeddings(self) -> int:
        """Rows of the value-bin embedding: the value bins plus the pad and mask bins."""
        return max(self.n_bins, self.pad_bin, self.mask_bin) + 1


__all__ = ["CellformerConfig"]
