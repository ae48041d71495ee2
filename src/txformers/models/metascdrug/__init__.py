"""MetaSCDrug: drug response from a gene-panel cell encoder and a SMILES/fingerprint drug encoder.

``import txformers`` registers the config, models and processor with the transformers Auto classes,
gives the processor txformers' tokenizer classes and registers the ``"drug-response"`` pipeline
(``txformers.hub.register``).
"""

from .configuration_metascdrug import MetaScDrugConfig
from .modeling_metascdrug import (
    DrugResponseOutput,
    MetaScDrugForDrugResponse,
    MetaScDrugModel,
    MetaScDrugModelOutput,
    MetaScDrugPreTrainedModel,
)
from .pipeline_metascdrug import DrugResponsePipeline, add_pipeline_to_checkpoint
from .processing_metascdrug import GenePanelOverlapError, MetaScDrugProcessor

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
]
