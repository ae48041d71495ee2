from .configuration_splicebert import SpliceBertConfig
from .modeling_splicebert import (
    SpliceBertForMaskedLM,
    SpliceBertForSequenceClassification,
    SpliceBertForTokenClassification,
    SpliceBertForVariantEffect,
    SpliceBertModel,
    SpliceBertPreTrainedModel,
)

__all__ = [
    "SpliceBertConfig",
    "SpliceBertForMaskedLM",
    "SpliceBertForSequenceClassification",
    "SpliceBertForTokenClassification",
    "SpliceBertForVariantEffect",
    "SpliceBertModel",
    "SpliceBertPreTrainedModel",
]
