"""txformers.hub: Auto registration in one place and checkpoint resolution."""

import transformers
from transformers import AutoConfig, AutoTokenizer
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING
from transformers.pipelines import PIPELINE_REGISTRY

import txformers
from txformers.hub import CHECKPOINTS, HUB_ORGANIZATION, register, resolve_checkpoint


def test_import_registers_every_class_once_and_register_is_idempotent():
    register()
    register()
    assert type(AutoConfig.for_model("splicebert")) is txformers.SpliceBertConfig
    assert type(AutoConfig.for_model("cellformer")) is txformers.CellformerConfig
    assert type(AutoConfig.for_model("metascdrug")) is txformers.MetaScDrugConfig
    mapping = transformers.AutoModelForMaskedLM._model_mapping
    assert mapping[txformers.SpliceBertConfig] is txformers.SpliceBertForMaskedLM
    assert mapping[txformers.CellformerConfig] is txformers.CellformerForMaskedExpressionModeling
    classify = transformers.AutoModelForSequenceClassification._model_mapping
    assert classify[txformers.MetaScDrugConfig] is txformers.MetaScDrugForDrugResponse
    assert PROCESSOR_MAPPING[txformers.MetaScDrugConfig] is txformers.MetaScDrugProcessor
    assert txformers.MetaScDrugProcessor.gene_tokenizer_class is txformers.GeneExpressionTokenizer
    assert txformers.MetaScDrugProcessor.smiles_tokenizer_class is txformers.SmilesTokenizer
    tasks = PIPELINE_REGISTRY.supported_tasks
    for task, name in (
        ("splice-site-prediction", "SpliceSitePipeline"),
        ("splice-variant-effect", "SpliceVariantEffectPipeline"),
        ("drug-response", "DrugResponsePipeline"),
        ("cancer-type-classification", "CancerTypePipeline"),
    ):
        assert tasks[task]["impl"].__name__ == name


def test_bundled_tokenizer_loads_through_the_auto_class():
    folder = CHECKPOINTS / "cellformer-pretrained"
    if folder.is_dir():
        assert isinstance(AutoTokenizer.from_pretrained(folder), txformers.GeneExpressionTokenizer)


def test_resolve_checkpoint(tmp_path):
    assert resolve_checkpoint(tmp_path) == tmp_path  # an existing path: unchanged
    assert resolve_checkpoint("someone/model") == "someone/model"  # a full repo id: unchanged
    assert resolve_checkpoint("no-such-checkpoint") == f"{HUB_ORGANIZATION}/no-such-checkpoint"
    if (CHECKPOINTS / "splicebert-small-pretrained").is_dir():
        assert resolve_checkpoint("splicebert-small-pretrained") == CHECKPOINTS / "splicebert-small-pretrained"
