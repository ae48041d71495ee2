# Copyright 2026 The txformers authors. BSD-3-Clause.
"""txformers and the Hugging Face ecosystem: Auto registration in one place, and where checkpoints come from.

:func:`register` (called once, by ``import txformers``) registers every txformers config, model, tokenizer,
processor and pipeline with the transformers Auto classes and pipeline registry. After it,
``AutoModel.from_pretrained(folder)``, ``AutoTokenizer.from_pretrained(folder)`` and
``pipeline(task, model=folder)`` work on txformers checkpoints without ``trust_remote_code``, and
``save_pretrained`` writes a full ``auto_map`` and copies the portable model files into the checkpoint.

:func:`resolve_checkpoint` gives a checkpoint's location: ``resolve_checkpoint("splicebert-small-pretrained")``
is the bundled folder when it exists (a source checkout), else the Hub repo id
``txformers/splicebert-small-pretrained`` for ``from_pretrained`` to fetch. A path or a full repo id
(``owner/name``) is returned unchanged.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = REPO_ROOT / "checkpoints"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
HUB_ORGANIZATION = "txformers"

BUNDLED_CHECKPOINTS = (
    "splicebert-small-pretrained",
    "splicebert-small-splice-sites",
    "metascdrug-meta",
    "metascdrug-nometa",
    "cellformer-pretrained",
    "cellformer-cancer-type",
)


def resolve_checkpoint(name: str | Path) -> str | Path:
    """A local folder for a bundled checkpoint name, else the name as a path or Hub repo id."""
    text = str(name)
    if Path(text).exists() or "/" in text or "\\" in text:
        return name
    bundled = CHECKPOINTS / text
    if bundled.is_dir():
        return bundled
    return f"{HUB_ORGANIZATION}/{text}"


def register() -> None:
    """Register every txformers class with transformers (idempotent).

    * configs with ``AutoConfig``; models with ``AutoModel`` and the task Auto classes
      (``register_for_auto_class`` too, so ``save_pretrained`` writes ``auto_map`` and copies the files);
    * tokenizers with ``AutoTokenizer`` (nucleotide for SpliceBERT, gene expression for Cellformer);
    * the MetaSCDrug processor with ``AutoProcessor``, given txformers' gene and SMILES tokenizers;
    * the pipelines ``splice-site-prediction``, ``splice-variant-effect``, ``drug-response`` and
      ``cancer-type-classification`` with ``transformers.pipelines.PIPELINE_REGISTRY``.

    Example:

    ```python
    >>> import txformers  # calls register()
    >>> from transformers import AutoConfig
    >>> type(AutoConfig.for_model("splicebert")).__name__
    'SpliceBertConfig'

    ```
    """
    import transformers
    from transformers import AutoConfig, AutoProcessor, AutoTokenizer
    from transformers.pipelines import PIPELINE_REGISTRY

    from .models import cellformer, metascdrug, splicebert
    from .models.cellformer import pipeline_cellformer
    from .models.metascdrug import pipeline_metascdrug
    from .models.splicebert import pipeline_splicebert
    from .tokenizers import GeneExpressionTokenizer, NucleotideTokenizer, SmilesTokenizer, morgan_fingerprint

    models = {  # config class: (Auto class name, model class), ...
        splicebert.SpliceBertConfig: (
            ("AutoModel", splicebert.SpliceBertModel),
            ("AutoModelForMaskedLM", splicebert.SpliceBertForMaskedLM),
            ("AutoModelForTokenClassification", splicebert.SpliceBertForTokenClassification),
            ("AutoModelForSequenceClassification", splicebert.SpliceBertForSequenceClassification),
        ),
        metascdrug.MetaScDrugConfig: (
            ("AutoModel", metascdrug.MetaScDrugModel),
            ("AutoModelForSequenceClassification", metascdrug.MetaScDrugForDrugResponse),
        ),
        cellformer.CellformerConfig: (
            ("AutoModel", cellformer.CellformerModel),
            ("AutoModelForMaskedLM", cellformer.CellformerForMaskedExpressionModeling),
            ("AutoModelForSequenceClassification", cellformer.CellformerForCellClassification),
        ),
    }
    for config_class, auto_models in models.items():
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        config_class.register_for_auto_class()
        for auto_name, model_class in auto_models:
            getattr(transformers, auto_name).register(config_class, model_class, exist_ok=True)
            model_class.register_for_auto_class(auto_name)

    AutoTokenizer.register(splicebert.SpliceBertConfig, fast_tokenizer_class=NucleotideTokenizer, exist_ok=True)
    AutoTokenizer.register(cellformer.CellformerConfig, slow_tokenizer_class=GeneExpressionTokenizer, exist_ok=True)
    # a MetaSCDrug folder's top-level tokenizer is its SMILES tokenizer (AutoProcessor encodes cells and drugs)
    AutoTokenizer.register(metascdrug.MetaScDrugConfig, fast_tokenizer_class=SmilesTokenizer, exist_ok=True)

    # The processor file is portable (it imports no other txformers module): it is handed the tokenizers here.
    processor = metascdrug.MetaScDrugProcessor
    processor.gene_tokenizer_class = GeneExpressionTokenizer
    processor.smiles_tokenizer_class = SmilesTokenizer
    processor.fingerprint_function = staticmethod(morgan_fingerprint)
    AutoProcessor.register(metascdrug.MetaScDrugConfig, processor, exist_ok=True)

    pipelines = [  # (task, pipeline class, Auto model class name, input type)
        *((task, cls, auto_name, "text") for task, (cls, auto_name) in pipeline_splicebert.PIPELINES.items()),
        (pipeline_metascdrug.TASK, metascdrug.DrugResponsePipeline, "AutoModelForSequenceClassification", "multimodal"),
        (pipeline_cellformer.TASK, cellformer.CancerTypePipeline, "AutoModelForSequenceClassification", None),
    ]
    for task, pipeline_class, auto_name, input_type in pipelines:
        if PIPELINE_REGISTRY.supported_tasks.get(task, {}).get("impl") is pipeline_class:
            continue
        # Pipeline.save_pretrained then writes `custom_pipelines` and copies the pipeline file.
        PIPELINE_REGISTRY.register_pipeline(
            task,
            pipeline_class=pipeline_class,
            pt_model=getattr(transformers, auto_name, None) or getattr(splicebert, auto_name),  # a head no Auto maps
            type=input_type,
        )


__all__ = [
    "BUNDLED_CHECKPOINTS",
    "CHECKPOINTS",
    "HUB_ORGANIZATION",
    "REPO_ROOT",
    "SHARED_DATA",
    "register",
    "resolve_checkpoint",
]
