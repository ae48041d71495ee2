"""Integrated gradients of the sensitive logit (completeness, missing genes) and the stability measures."""

import numpy as np
import pytest
import torch

from tests.models.metascdrug.test_modeling_metascdrug import DRUGS, make_cells, make_model, make_processor
from txformers.tasks.drug_response.critical_genes import integrated_gradients, stability


def test_integrated_gradients_completeness():
    pytest.importorskip("captum")
    pytest.importorskip("rdkit")
    processor = make_processor()
    model = make_model(processor)
    for param in model.parameters():  # non-zero biases: a generic, smooth function of the input
        torch.nn.init.normal_(param, std=0.3) if param.ndim == 1 else None
    cells = processor(cells=make_cells(6))
    cells["missing_mask"][:, :3] = True
    with torch.no_grad():
        drug = model.metascdrug.drug_encoder(**processor.encode_drugs(DRUGS["paracetamol"]))
    attribution, delta = integrated_gradients(model, cells["expression"], cells["missing_mask"], drug, n_steps=64)
    with torch.no_grad():
        full = model(
            expression=cells["expression"], missing_mask=cells["missing_mask"], drug_embeds=drug
        ).sensitive_logit
        zero = model(
            expression=torch.zeros_like(cells["expression"]), missing_mask=cells["missing_mask"], drug_embeds=drug
        ).sensitive_logit
    assert attribution.shape == cells["expression"].shape
    assert torch.allclose(attribution.sum(1), full - zero, atol=1e-3 + 1e-2 * float((full - zero).abs().max()))
    assert (attribution[:, :3] == 0).all()  # missing genes get no attribution
    assert delta.abs().max() < 1e-2


def test_stability_measures():
    scores = np.array([[5, 4, 3, 2, 1], [5, 4, 3, 1, 2], [1, 2, 3, 4, 5]], dtype=float)
    result = stability(scores, top=2)
    # top-2 sets {0,1}, {0,1}, {4,3}: Jaccard 1, 0, 0 -> 1/3
    assert result["jaccard_top"] == pytest.approx(1 / 3)
    assert -1 <= result["spearman"] <= 1 and result["n_seeds"] == 3


def test_gdsc_cell_lines_of_a_drug(tmp_path):
    from tests.tasks.drug_response.synthetic import write_gdsc
    from txformers.tasks.drug_response.critical_genes import gdsc_cell_lines

    folder = write_gdsc(tmp_path / "gdsc", n_cells=12, n_genes=5)
    expression = gdsc_cell_lines(folder, "Drug-3")
    assert expression.shape == (12, 5) and list(expression.index) == sorted(f"CELL{i}" for i in range(12))
    with pytest.raises(ValueError, match="screened with 'Unknown'"):
        gdsc_cell_lines(folder, "Unknown")


def test_command_line_on_the_gdsc_cell_lines_of_a_drug(tmp_path):
    pytest.importorskip("captum")
    pytest.importorskip("rdkit")
    import json

    from tests.tasks.drug_response.synthetic import write_gdsc
    from txformers.models.metascdrug import MetaScDrugConfig, MetaScDrugForDrugResponse
    from txformers.tasks.drug_response.critical_genes import main
    from txformers.tasks.drug_response.meta_learning import build_processor

    folder = write_gdsc(tmp_path / "gdsc", n_cells=20, n_genes=8)
    genes = [f"GENE{i}" for i in range(8)]
    processor = build_processor(genes, fingerprint_bits=32)
    config = MetaScDrugConfig(
        gene_panel_size=8,
        smiles_vocab_size=len(processor.smiles_tokenizer),
        cell_hidden_sizes=[16],
        cell_embed_dim=8,
        drug_hidden_size=8,
        drug_num_layers=1,
        drug_num_heads=2,
        drug_intermediate_size=16,
        drug_embed_dim=8,
        fusion_hidden_sizes=[16],
        joint_embed_dim=8,
        fingerprint_bits=32,
    )
    torch.manual_seed(0)
    MetaScDrugForDrugResponse(config).save_pretrained(tmp_path / "model")
    processor.save_pretrained(tmp_path / "model")
    out = tmp_path / "out"
    summary = main(
        [
            "--model",
            str(tmp_path / "model"),
            "--gdsc-dir",
            str(folder),
            "--drug",
            "Drug-1",
            "--seeds",
            "2",
            "--n-steps",
            "4",
            "--top",
            "3",
            "--out-dir",
            str(out),
        ]
    )
    assert summary["drug"]["name"] == "Drug-1" and summary["drug"]["smiles"] == "c1ccccc1O"
    assert json.loads((out / "critical_genes.json").read_text())["stability"]["n_seeds"] == 2
    assert (out / "critical_genes.png").read_bytes()[:4] == b"\x89PNG" and len(summary["top_genes"]) == 3
