# Copyright 2026 The txformers authors. BSD-3-Clause.
"""MetaSCDrug configuration. Portable: standard library and transformers only."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

FUSION_TYPES = ("concat", "concat_product")
DRUG_POOLINGS = ("mean", "cls")
REGRESSION_TARGETS = ("ln_ic50_z", "ln_ic50")


class MetaScDrugConfig(PretrainedConfig):
    r"""Configuration of a MetaSCDrug drug-response model (Ge et al., bioRxiv 2024.04.25.591050).

    A cell encoder (an MLP over a fixed gene panel, missing genes masked) and a drug encoder (a small
    transformer over SMILES tokens, optionally joined with a Morgan fingerprint) are fused by
    concatenation and an MLP into a joint embedding; task heads give a sensitive-vs-resistant logit
    and a (per-drug z-scored) ln IC50.

    Args:
        gene_panel_size: number of genes of the panel (the cell encoder's input width).
        cell_hidden_sizes: widths of the hidden layers of the cell MLP.
        cell_embed_dim: width of the cell embedding.
        gene_dropout: training-time probability of masking each panel gene, as if it were missing
            (teaches the encoder to cope with datasets that measure only part of the panel).
        rescale_missing: scale the observed genes by ``panel size / observed genes`` (as inverted dropout
            does), so the first layer sees inputs of the same magnitude whatever the coverage.
        smiles_vocab_size: size of the SMILES token vocabulary (0 disables the SMILES transformer).
        drug_hidden_size, drug_num_layers, drug_num_heads, drug_intermediate_size: shape of the SMILES
            transformer (pre-LN, GELU).
        max_smiles_length: longest SMILES in tokens, ``[CLS]``/``[SEP]`` included (learned positions).
        drug_pooling: ``"mean"`` (over real tokens) or ``"cls"``.
        use_fingerprint: join a Morgan fingerprint to the SMILES encoding.
        fingerprint_bits, fingerprint_radius: the fingerprint's length and radius (used by the processor).
        drug_embed_dim: width of the drug embedding.
        fusion_type: ``"concat"`` ([cell, drug]) or ``"concat_product"`` ([cell, drug, cell * drug];
            needs ``cell_embed_dim == drug_embed_dim``).
        fusion_hidden_sizes: widths of the hidden layers of the fusion MLP.
        joint_embed_dim: width of the joint (cell, drug) embedding.
        hidden_act: activation of all MLPs.
        hidden_dropout_prob: dropout in the MLPs and the SMILES transformer.
        layer_norm_eps: epsilon of the layer norms.
        initializer_range: standard deviation of the normal weight initialisation.
        num_labels: 1 (one sensitive logit, binary cross-entropy) or 2 (resistant/sensitive logits, softmax).
        regression_target: what the regression head predicts: ``"ln_ic50_z"`` (ln IC50 z-scored within
            each drug, the default: comparable across drugs) or ``"ln_ic50"``.
        regression_weight: weight of the regression loss when both labels and regression targets are given.
        pad_token_id: id of ``[PAD]`` in the SMILES vocabulary.
        has_default_drug: the model holds a default drug embedding (the mean embedding of its training
            drugs, set after pretraining) used when no drug is given, e.g. a dataset whose drug has no SMILES.

    Example:

    ```python
    >>> from txformers.models.metascdrug import MetaScDrugConfig, MetaScDrugForDrugResponse
    >>> config = MetaScDrugConfig(gene_panel_size=50, smiles_vocab_size=40, fingerprint_bits=64)
    >>> model = MetaScDrugForDrugResponse(config)
    >>> config.cell_embed_dim, config.joint_embed_dim
    (128, 128)

    ```
    """

    model_type = "metascdrug"

    def __init__(
        self,
        gene_panel_size: int = 2000,
        cell_hidden_sizes: list[int] | tuple[int, ...] = (512, 256),
        cell_embed_dim: int = 128,
        gene_dropout: float = 0.0,
        rescale_missing: bool = True,
        smiles_vocab_size: int = 200,
        drug_hidden_size: int = 128,
        drug_num_layers: int = 2,
        drug_num_heads: int = 4,
        drug_intermediate_size: int = 256,
        max_smiles_length: int = 256,
        drug_pooling: str = "mean",
        use_fingerprint: bool = True,
        fingerprint_bits: int = 1024,
        fingerprint_radius: int = 2,
        drug_embed_dim: int = 128,
        fusion_type: str = "concat",
        fusion_hidden_sizes: list[int] | tuple[int, ...] = (256,),
        joint_embed_dim: int = 128,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        num_labels: int = 1,
        regression_target: str = "ln_ic50_z",
        regression_weight: float = 1.0,
        pad_token_id: int = 0,
        has_default_drug: bool = False,
        **kwargs: Any,
    ):
        if num_labels not in (1, 2):
            raise ValueError(
                f"num_labels must be 1 (one sensitive logit) or 2 (resistant, sensitive), got {num_labels}"
            )
        kwargs.setdefault("id2label", {0: "sensitive"} if num_labels == 1 else {0: "resistant", 1: "sensitive"})
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        if fusion_type not in FUSION_TYPES:
            raise ValueError(f"fusion_type must be one of {FUSION_TYPES}, got {fusion_type!r}")
        if drug_pooling not in DRUG_POOLINGS:
            raise ValueError(f"drug_pooling must be one of {DRUG_POOLINGS}, got {drug_pooling!r}")
        if regression_target not in REGRESSION_TARGETS:
            raise ValueError(f"regression_target must be one of {REGRESSION_TARGETS}, got {regression_target!r}")
        if fusion_type == "concat_product" and cell_embed_dim != drug_embed_dim:
            raise ValueError("fusion_type='concat_product' needs cell_embed_dim == drug_embed_dim")
        if smiles_vocab_size > 0 and drug_hidden_size % drug_num_heads:
            raise ValueError(
                f"drug_hidden_size {drug_hidden_size} is not a multiple of drug_num_heads {drug_num_heads}"
            )
        if smiles_vocab_size <= 0 and not use_fingerprint:
            raise ValueError("the drug encoder needs SMILES tokens (smiles_vocab_size > 0) or use_fingerprint=True")
        if not 0.0 <= gene_dropout < 1.0:
            raise ValueError(f"gene_dropout must be in [0, 1), got {gene_dropout}")
        self.gene_panel_size = int(gene_panel_size)
        self.cell_hidden_sizes = [int(size) for size in cell_hidden_sizes]
        self.cell_embed_dim = int(cell_embed_dim)
        self.gene_dropout = float(gene_dropout)
        self.rescale_missing = bool(rescale_missing)
        self.smiles_vocab_size = int(smiles_vocab_size)
        self.drug_hidden_size = int(drug_hidden_size)
        self.drug_num_layers = int(drug_num_layers)
        self.drug_num_heads = int(drug_num_heads)
        self.drug_intermediate_size = int(drug_intermediate_size)
        self.max_smiles_length = int(max_smiles_length)
        self.drug_pooling = drug_pooling
        self.use_fingerprint = bool(use_fingerprint)
        self.fingerprint_bits = int(fingerprint_bits)
        self.fingerprint_radius = int(fingerprint_radius)
        self.drug_embed_dim = int(drug_embed_dim)
        self.fusion_type = fusion_type
        self.fusion_hidden_sizes = [int(size) for size in fusion_hidden_sizes]
        self.joint_embed_dim = int(joint_embed_dim)
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = float(hidden_dropout_prob)
        self.layer_norm_eps = float(layer_norm_eps)
        self.initializer_range = float(initializer_range)
        self.regression_target = regression_target
        self.regression_weight = float(regression_weight)
        self.has_default_drug = bool(has_default_drug)


__all__ = ["MetaScDrugConfig"]
