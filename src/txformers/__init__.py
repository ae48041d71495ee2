"""txformers: Hugging Face Hub-native models for transcriptomics.

Importing txformers registers every config, model and tokenizer with the transformers Auto
classes, so `AutoModel.from_pretrained(path)` and `AutoTokenizer.from_pretrained(path)` work on
txformers checkpoints without `trust_remote_code`.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

from .models.cellformer import (
    CellformerConfig,
    CellformerForCellClassification,
    CellformerForMaskedExpressionModeling,
    CellformerModel,
)
from .models.cellformer import register as _register_cellformer
from .models.metascdrug import (
    MetaScDrugConfig,
    MetaScDrugForDrugResponse,
    MetaScDrugModel,
    MetaScDrugProcessor,
)
from .models.metascdrug import register as _register_metascdrug
from .models.splicebert import (
    SpliceBertConfig,
    SpliceBertForMaskedLM,
    SpliceBertForSequenceClassification,
    SpliceBertForTokenClassification,
    SpliceBertModel,
    SpliceBertPreTrainedModel,
)
from .models.splicebert.pipeline_splicebert import register_pipelines as _register_splice_pipelines
from .tokenizers import (
    GeneCoverageError,
    GeneExpressionTokenizer,
    InvalidNucleotideError,
    InvalidSmilesError,
    NucleotideTokenizer,
    SmilesTokenizer,
)

__version__ = "0.1.0"


def _register() -> None:
    AutoConfig.register(SpliceBertConfig.model_type, SpliceBertConfig, exist_ok=True)
    SpliceBertConfig.register_for_auto_class()
    for auto_class, model_class in (
        (AutoModel, SpliceBertModel),
        (AutoModelForMaskedLM, SpliceBertForMaskedLM),
        (AutoModelForTokenClassification, SpliceBertForTokenClassification),
        (AutoModelForSequenceClassification, SpliceBertForSequenceClassification),
    ):
        auto_class.register(SpliceBertConfig, model_class, exist_ok=True)
        # save_pretrained then writes auto_map and copies the modeling files into the checkpoint.
        model_class.register_for_auto_class(auto_class.__name__)
    AutoTokenizer.register(SpliceBertConfig, fast_tokenizer_class=NucleotideTokenizer, exist_ok=True)


_register()
_register_metascdrug()
_register_cellformer(GeneExpressionTokenizer)
_register_splice_pipelines()

__all__ = [
    "CellformerConfig",
    "CellformerForCellClassification",
    "CellformerForMaskedExpressionModeling",
    "CellformerModel",
    "GeneCoverageError",
    "GeneExpressionTokenizer",
    "InvalidNucleotideError",
    "InvalidSmilesError",
    "MetaScDrugConfig",
    "MetaScDrugForDrugResponse",
    "MetaScDrugModel",
    "MetaScDrugProcessor",
    "SmilesTokenizer",
    "NucleotideTokenizer",
    "SpliceBertConfig",
    "SpliceBertForMaskedLM",
    "SpliceBertForSequenceClassification",
    "SpliceBertForTokenClassification",
    "SpliceBertModel",
    "SpliceBertPreTrainedModel",
]
