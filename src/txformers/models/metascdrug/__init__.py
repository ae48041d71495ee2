"""MetaSCDrug: drug response from a gene-panel cell encoder and a SMILES/fingerprint drug encoder.

``register()`` (called by ``txformers/__init__.py``) registers the config, models and processor with
the transformers Auto classes, gives the processor txformers' tokenizer classes and registers the
``"drug-response"`` pipeline.
"""

from .configuration_metascdrug import MetaScDrugConfig
from .modeling_metascdrug import (
    DrugResponseOutput,
    MetaScDrugForDrugResponse,
    MetaScDrugModel,
    MetaScDrugModelOutput,
    MetaScDrugPreTrainedModel,
)
from .pipeline_metascdrug import TASK as PIPELINE_TASK
from .pipeline_metascdrug import DrugResponsePipeline, add_pipeline_to_checkpoint
from .processing_metascdrug import GenePanelOverlapError, MetaScDrugProcessor


def register() -> None:
    """Register MetaSCDrug with ``AutoConfig``, ``AutoModel``, ``AutoModelForSequenceClassification``
    (the drug-response model) and ``AutoProcessor``; ``save_pretrained`` then writes a full ``auto_map``.
    Also registers the ``"drug-response"`` pipeline (:class:`DrugResponsePipeline`)."""
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoProcessor

    from ...tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
    from ...tokenizers.tokenization_smiles import SmilesTokenizer, morgan_fingerprint

    MetaScDrugProcessor.gene_tokenizer_class = GeneExpressionTokenizer
    MetaScDrugProcessor.smiles_tokenizer_class = SmilesTokenizer
    MetaScDrugProcessor.fingerprint_function = staticmethod(morgan_fingerprint)

    AutoConfig.register(MetaScDrugConfig.model_type, MetaScDrugConfig, exist_ok=True)
    MetaScDrugConfig.register_for_auto_class()
    for auto_class, model_class in (
        (AutoModel, MetaScDrugModel),
        (AutoModelForSequenceClassification, MetaScDrugForDrugResponse),
    ):
        auto_class.register(MetaScDrugConfig, model_class, exist_ok=True)
        model_class.register_for_auto_class(auto_class.__name__)
    AutoProcessor.register(MetaScDrugConfig, MetaScDrugProcessor, exist_ok=True)
    from transformers.pipelines import PIPELINE_REGISTRY

    if PIPELINE_REGISTRY.supported_tasks.get(PIPELINE_TASK, {}).get("impl") is not DrugResponsePipeline:
        # Pipeline.save_pretrained then writes `custom_pipelines` and copies pipeline_metascdrug.py.
        PIPELINE_REGISTRY.register_pipeline(
            PIPELINE_TASK, pipeline_class=DrugResponsePipeline, pt_model=AutoModelForSequenceClassification,
            type="multimodal",
        )

register()

__all__ = [
    "DrugResponseOutput",
    "DrugResponsePipeline",
    "GenePanelOverlapError",
    "MetaScDrugConfig",
    "MetaScDrugForDrugResponse",
    "MetaScDrugModel",
    "MetaScDrugModelOutput",
    "MetaScDrugPreTrainedModel",
    "MetaScDrugProcessor",
    "add_pipeline_to_checkpoint",
    "register",
]
