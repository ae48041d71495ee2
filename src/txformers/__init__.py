"""txformers: Hugging Face Hub-native models for transcriptomics.

Importing txformers registers every config, model, tokenizer, processor and pipeline with transformers
(`txformers.hub.register`), so `AutoModel.from_pretrained(path)`, `AutoTokenizer.from_pretrained(path)` and
`pipeline(task, model=path)` work on txformers checkpoints without `trust_remote_code`.
"""

from .hub import register
from .models.cellformer import (
    CellformerConfig,
    CellformerForCellClassification,
    CellformerForMaskedExpressionModeling,
    CellformerModel,
)
from .models.metascdrug import (
    MetaScDrugConfig,
    MetaScDrugForDrugResponse,
    MetaScDrugModel,
    MetaScDrugProcessor,
)
from .models.splicebert import (
    SpliceBertConfig,
    SpliceBertForMaskedLM,
    SpliceBertForSequenceClassification,
    SpliceBertForTokenClassification,
    SpliceBertModel,
    SpliceBertPreTrainedModel,
)
from .tokenizers import (
    GeneCoverageError,
    GeneExpressionTokenizer,
    InvalidNucleotideError,
    InvalidSmilesError,
    NucleotideTokenizer,
    SmilesTokenizer,
)

__version__ = "0.1.0"


register()

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
