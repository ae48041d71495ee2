"""Cellformer: a transformer over the (gene, value) tokens of single cells (see `modeling_cellformer`).

``import txformers`` registers the config, models, tokenizer and the ``"cancer-type-classification"``
pipeline (:class:`~.pipeline_cellformer.CancerTypePipeline`) with transformers (``txformers.hub.register``),
after which ``AutoModel``/``AutoModelForMaskedLM``/``AutoModelForSequenceClassification`` load Cellformer
checkpoints without ``trust_remote_code``, and ``save_pretrained`` writes a full ``auto_map`` and copies the
portable model files into the checkpoint.
"""

from .configuration_cellformer import CellformerConfig
from .modeling_cellformer import (
    CellformerForCellClassification,
    CellformerForMaskedExpressionModeling,
    CellformerMaskedExpressionOutput,
    CellformerModel,
    CellformerPreTrainedModel,
)
from .pipeline_cellformer import CancerTypePipeline

__all__ = [
    "CancerTypePipeline",
    "CellformerConfig",
    "CellformerForCellClassification",
    "CellformerForMaskedExpressionModeling",
    "CellformerMaskedExpressionOutput",
    "CellformerModel",
    "CellformerPreTrainedModel",
]
