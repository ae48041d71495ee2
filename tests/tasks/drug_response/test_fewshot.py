"""The few-shot protocol: shots, label checks, LoRA adaptation, and a run on a real single-cell file."""

import numpy as np
import pytest
import torch

from tests.conftest import SHARED_DATA, requires_shared_data
from tests.models.metascdrug.test_modeling_metascdrug import make_cells, make_model, make_processor
from txformers.hub import CHECKPOINTS
from txformers.tasks.drug_response.fewshot import adapt_lora, check_labels, lora_model, run_fewshot, sample_shots
from txformers.tasks.drug_response.inputs import load_dataset, resolve_drug


def test_shot_sampling_protocol():
    labels = np.array([1] * 7 + [0] * 9)
    seen = set()
    for seed in range(10):
        support, evaluation = sample_shots(labels, 3, seed)
        assert not set(support) & set(evaluation) and len(support) + len(evaluation) == len(labels)
        assert (labels[support] == 1).sum() == 3 and (labels[support] == 0).sum() == 3
        again, _ = sample_shots(labels, 3, seed)
        assert np.array_equal(support, again)  # seeded
        seen.add(tuple(support))
    assert len(seen) > 5  # each seed draws its own shots


def test_label_errors():
    with pytest.raises(ValueError, match="one class only"):
        check_labels(np.ones(10, dtype=int), 3)
    with pytest.raises(ValueError, match=r"k=4 .*class sizes are \{'sensitive': 4, 'resistant': 6\}"):
        check_labels(np.array([1] * 4 + [0] * 6), 4)
    with pytest.raises(ValueError, match="at least 1"):
        check_labels(np.array([1, 0, 1, 0]), 0)
    with pytest.raises(ValueError, match="1 \\(sensitive\\) or 0"):
        check_labels(np.array([1, 0, 2]), 1)


def test_lora_trains_only_adapters_and_head():
    pytest.importorskip("peft")
    pytest.importorskip("rdkit")
    processor = make_processor()
    model = make_model(processor)
    peft_model = lora_model(model, r=2, alpha=4)
    trainable = {name for name, param in peft_model.named_parameters() if param.requires_grad}
    assert trainable and all("lora_" in name or "classifier.modules_to_save" in name for name in trainable)
    assert any("cell_encoder.layers.0.lora_A" in name for name in trainable)
    assert any("classifier.modules_to_save" in name for name in trainable)
    assert not any("drug_encoder" in name or "fusion" in name for name in trainable)

    base = make_model(processor)
    before = {name: value.clone() for name, value in base.state_dict().items()}
    cells = processor(cells=make_cells(8))
    inputs = {"expression": cells["expression"], "missing_mask": cells["missing_mask"]}
    with torch.no_grad():
        drug = base.metascdrug.drug_encoder(**processor.encode_drugs("CCO"))
    labels = np.array([0, 1] * 4)
    adapted = adapt_lora(base, inputs, drug, labels, np.array([0, 1, 2, 3]), steps=5, lr=1e-2, r=2, alpha=4)
    after = {name: value for name, value in base.state_dict().items()}
    assert all(torch.equal(before[name], after[name]) for name in before)  # the original is untouched
    state = adapted.state_dict()
    frozen = [n for n in state if "cell_encoder.layers.0.base_layer.weight" in n]
    assert frozen and torch.equal(state[frozen[0]], before["metascdrug.cell_encoder.layers.0.weight"])
    lora_b = [n for n in state if "cell_encoder.layers.0.lora_B" in n]
    assert state[lora_b[0]].abs().sum() > 0  # LoRA B starts at zero: it was trained


@pytest.mark.shared_data
@requires_shared_data
def test_real_single_cell_file_maps_to_the_bundled_panel():
    checkpoint = CHECKPOINTS / "metascdrug-meta"
    if not checkpoint.exists():
        pytest.skip("checkpoints/metascdrug-meta is not built")
    data = SHARED_DATA / "drug" / "sc_scad_targets" / "Target_expr_resp_z.PLX4720_tp4k.tsv"
    expression, labels = load_dataset(data)  # Entrez ids mapped with the table found next to the data
    drug = resolve_drug(None, data)
    assert drug["name"] == "PLX4720" and drug["smiles"]
    result = run_fewshot(checkpoint, expression, labels, 1, [0], drug["smiles"], steps=10, baseline=False)
    assert result["panel_coverage"] > 0.4 and result["n_evaluated_per_seed"] == 106
    assert 0.5 < result["metrics"]["auroc"] <= 1
