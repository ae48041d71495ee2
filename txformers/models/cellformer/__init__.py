"""Cellformer: a transformer over the (gene, value) tokens of single cells (see `modeling_cellformer`).

`register()` registers the config and models with the transformers Auto classes (``txformers`` calls
it on import), after which ``AutoModel``/``AutoModelForMaskedLM``/``AutoModelForSequenceClassification``
load Cellformer checkpoints without ``trust_remote_code``, and ``save_pretrained`` writes a full
``auto_map`` and copies the portable model files into the checkpoint.
"""

from .configuration_cellformer import CellformerConfig
from .modeling_cellformer import (
    CellformerForCellClassification,
    CellformerForMaskedExpressionModeling,
    CellformerMaskedExpressionOutput,
    CellformerModel,
    CellformerPreTrainedModel,
)


def register(tokenizer_class: type | None = None) -> None:
    """Register Cellformer with AutoConfig, AutoModel, AutoModelForMaskedLM (masked-expression head) and
    AutoModelForSequenceClassification (cell classification head). Idempotent.

    ``tokenizer_class`` (e.g. ``txformers.GeneExpressionTokenizer``), when given, is registered with
    AutoTokenizer for Cellformer configs, so ``AutoTokenizer.from_pretrained(checkpoint)`` works without
    ``trust_remote_code`` (passed in rather than imported: this folder imports no other txformers module).
    """
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer

    AutoConfig.register(CellformerConfig.model_type, CellformerConfig, exist_ok=True)
    CellformerConfig.register_for_auto_class()
    for auto_class, model_class in (
        (AutoModel, CellformerModel),
        (AutoModelForMaskedLM, CellformerForMaskedExpressionModeling),
        (AutoModelForSequenceClassification, CellformerForCellClassification),
    ):
        auto_class.register(CellformerConfig, model_class, exist_ok=True)
        # save_pretrained then writes auto_map and copies the modeling files into the checkpoint.
        model_class.register_for_auto_class(auto_class.__name__)
    if tokenizer_class is not None:
        AutoTokenizer.register(CellformerConfig, slow_tokenizer_class=tokenizer_class, exist_ok=True)


__all__ = [
    "CellformerConfig",
    "CellformerForCellClassification",
    "CellformerForMaskedExpressionModeling",
    "CellformerMaskedExpressionOutput",
    "CellformerModel",
    "CellformerPreTrainedModel",
    "register",
]
