"""Cellformer: a transformer over the (gene, value) tokens of single cells (see `modeling_cellformer`).

`register()` registers the config and models with the transformers Auto classes (``txformers`` calls
it on import), after which ``AutoModel``/``AutoModelForMaskedLM``/``AutoModelForSequenceClassification``
load Cellformer checkpoints without ``trust_remote_code``, and ``save_pretrained`` writes a full
``auto_map`` and copies the portable model files into the checkpoint. It also registers the
``"cancer-type-classification"`` pipeline (:class:`~.pipeline_cellformer.CancerTypePipeline`).
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


def register(tokenizer_class: type | None = None) -> None:
    """Register Cellformer with AutoConfig, AutoModel, AutoModelForMaskedLM (masked-expression head) and
    AutoModelForSequenceClassification (cell classification head), and the ``"cancer-type-classification"``
    pipeline with transformers' pipeline registry. Idempotent.

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
    from transformers.pipelines import PIPELINE_REGISTRY

    from .pipeline_cellformer import TASK

    if PIPELINE_REGISTRY.supported_tasks.get(TASK, {}).get("impl") is not CancerTypePipeline:
        # Pipeline.save_pretrained then writes `custom_pipelines` and copies pipeline_cellformer.py.
        PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=CancerTypePipeline, pt_model=AutoModelForSequenceClassification)


__all__ = [
    "CancerTypePipeline",
    "CellformerConfig",
    "CellformerForCellClassification",
    "CellformerForMaskedExpressionModeling",
    "CellformerMaskedExpressionOutput",
    "CellformerModel",
    "CellformerPreTrainedModel",
    "register",
]
