# Copyright 2026 The txformers authors. BSD-3-Clause.
"""SpliceBERT configuration. Portable: standard library and transformers only."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

# Keys of an original SpliceBERT (HF `BertConfig`) config.json that carry over unchanged.
ORIGINAL_CONFIG_KEYS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
    "layer_norm_eps",
    "pad_token_id",
    "classifier_dropout",
)


class SpliceBertConfig(PretrainedConfig):
    r"""Configuration of a SpliceBERT model: a post-LN BERT encoder over single nucleotides.

    The defaults are those of the published SpliceBERT.1024nt (Chen et al., Brief. Bioinform. 2024):
    6 layers, hidden 512, 16 heads, FFN 2048, learned absolute positions for 1024 nt plus
    ``[CLS]``/``[SEP]``, vocabulary ``[PAD] [UNK] [CLS] [SEP] [MASK] N A C G T``.

    Args:
        classifier_dropout: dropout before task heads (``None``: ``hidden_dropout_prob``).
        classifier_pooling: how `SpliceBertForSequenceClassification` summarises a window:
            ``"cls"`` (the ``[CLS]`` state), ``"mean"`` (mean over nucleotides) or ``"center"``
            (the state of the central nucleotide, e.g. the candidate GT/AG of a centred window).
        window_size: optional input window (nucleotides) a fine-tuned model expects, recorded so
            users and pipelines know it (e.g. 400 for a splice-site classifier).
        classifier_conv_kernel: `SpliceBertForTokenClassification` only: ``0`` (default) is the
            linear per-token head; ``k > 0`` puts a width-``k`` convolution (hidden -> hidden, GELU)
            over the final hidden states before it, so each token's label reads its ``k // 2``
            neighbours directly (weights ``classifier_conv.*``).
        unpad: run the dense layers on real tokens only when a batch is padded (same results,
            less compute on mixed-length batches; outputs at padding positions are zero).

    Example:

    ```python
    >>> from txformers import SpliceBertConfig, SpliceBertForMaskedLM
    >>> config = SpliceBertConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128)
    >>> model = SpliceBertForMaskedLM(config)
    ```
    """

    model_type = "splicebert"

    def __init__(
        self,
        vocab_size: int = 10,
        hidden_size: int = 512,
        num_hidden_layers: int = 6,
        num_attention_heads: int = 16,
        intermediate_size: int = 2048,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 1026,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pad_token_id: int = 0,
        classifier_dropout: float | None = None,
        classifier_pooling: str = "cls",
        window_size: int | None = None,
        classifier_conv_kernel: int = 0,
        tie_word_embeddings: bool = True,
        unpad: bool = True,
        **kwargs: Any,
    ):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.tie_word_embeddings = tie_word_embeddings
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size {hidden_size} is not a multiple of num_attention_heads {num_attention_heads}"
            )
        if classifier_pooling not in ("cls", "mean", "center"):
            raise ValueError(f"classifier_pooling must be 'cls', 'mean' or 'center', got {classifier_pooling!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout = classifier_dropout
        self.classifier_pooling = classifier_pooling
        self.window_size = window_size
        if classifier_conv_kernel < 0 or (classifier_conv_kernel and classifier_conv_kernel % 2 == 0):
            raise ValueError(f"classifier_conv_kernel must be 0 or a positive odd number, got {classifier_conv_kernel}")
        self.classifier_conv_kernel = classifier_conv_kernel
        self.unpad = unpad

    @classmethod
    def from_original_config(cls, config_dict: dict[str, Any], **kwargs: Any) -> SpliceBertConfig:
        """Build from an original SpliceBERT ``config.json`` (``model_type: bert``)."""
        if config_dict.get("model_type") not in ("bert", cls.model_type):
            raise ValueError(f"not a SpliceBERT/BERT config: model_type {config_dict.get('model_type')!r}")
        if config_dict.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        values = {key: config_dict[key] for key in ORIGINAL_CONFIG_KEYS if key in config_dict}
        values.update(kwargs)
        return cls(**values)
