"""GDSC tasks, drug-blind splits, episodes from disjoint tissues and the MAML inner loop (torch.func), on a tiny
synthetic GDSC folder."""

import numpy as np
import pandas as pd
import pytest
import torch

from tests.tasks.drug_response.synthetic import SMILES, write_gdsc
from txformers.datasets.gdsc import read_expression
from txformers.models.metascdrug import MetaScDrugConfig, MetaScDrugForDrugResponse
from txformers.tasks.drug_response.meta_learning import (
    DrugInputs,
    adaptable_parameters,
    build_processor,
    inner_adapt,
    load_gdsc_tables,
    make_drug_split,
    sample_episode,
    select_gene_panel,
    split_tissues,
)
from txformers.tasks.drug_response.unseen_drugs import baseline_over_drugs, evaluate_drugs, general_sensitivity

TINY = dict(
    cell_hidden_sizes=[32],
    cell_embed_dim=16,
    drug_hidden_size=16,
    drug_num_layers=1,
    drug_num_heads=2,
    drug_intermediate_size=32,
    drug_embed_dim=16,
    fusion_hidden_sizes=[32],
    joint_embed_dim=16,
    fingerprint_bits=64,
)


@pytest.fixture(scope="module")
def gdsc(tmp_path_factory):
    pytest.importorskip("rdkit")
    return write_gdsc(tmp_path_factory.mktemp("gdsc"))


@pytest.fixture(scope="module")
def setup(gdsc):
    genes = select_gene_panel(read_expression(gdsc), 20)
    tables = load_gdsc_tables(gdsc, genes)
    processor = build_processor(genes, tables, fingerprint_bits=64)
    config = MetaScDrugConfig(
        gene_panel_size=len(genes),
        smiles_vocab_size=len(processor.smiles_tokenizer),
        hidden_dropout_prob=0.0,
        **TINY,
    )
    torch.manual_seed(0)
    model = MetaScDrugForDrugResponse(config)
    return tables, processor, model, DrugInputs(processor, tables.tasks["smiles"].tolist())


# ----------------------------------------------------------------------------- data and splits
def test_tables_and_drug_split(setup):
    tables, *_ = setup
    assert tables.expression.shape == (60, 20)
    assert torch.allclose(tables.expression.mean(0), torch.zeros(20), atol=1e-4)
    assert len(tables.tasks) == len(SMILES) and set(tables.pairs["label"].unique()) == {0.0, 1.0}
    split = make_drug_split(tables.tasks, n_test=3, n_validation=2, seed=0, never_held_out=("Drug-0",))
    assert len(split["test"]) == 3 and len(split["validation"]) == 2
    assert not set(split["test"]) & set(split["train"]) and not set(split["validation"]) & set(split["train"])
    assert "Drug-0" in split["train"]
    assert split == make_drug_split(tables.tasks, n_test=3, n_validation=2, seed=0, never_held_out=("Drug-0",))
    # a training drug with the SMILES of a held-out drug (another name of the molecule) is held out too
    held_out_smiles = tables.tasks.loc[tables.tasks.drug == split["test"][0], "smiles"].iloc[0]
    tasks = pd.concat(
        [tables.tasks, pd.DataFrame({"source": ["GDSC1"], "drug": ["alias"], "smiles": [held_out_smiles]})]
    )
    assert "alias" in make_drug_split(tasks, n_test=3, n_validation=2, seed=0, never_held_out=("Drug-0",))["test"]
    # held-out names are compared normalised: "drug 0" blocks Drug-0 as "Drug-0" does
    assert "Drug-0" in make_drug_split(tables.tasks, n_test=3, n_validation=2, never_held_out=("drug 0",))["train"]


def test_support_and_query_tissues_are_disjoint(setup):
    tables, *_ = setup
    for seed in range(20):
        rng = np.random.default_rng(seed)
        episode = sample_episode(tables, task=seed % len(tables.tasks), rng=rng, n_support=10, n_query=15)
        assert episode is not None
        support_tissues = set(tables.tissues[episode["support_cell"]])
        query_tissues = set(tables.tissues[episode["query_cell"]])
        assert support_tissues and query_tissues and not support_tissues & query_tissues
        assert len(episode["support_cell"]) == 10 and len(episode["query_cell"]) == 15
        assert len(set(episode["support_label"])) == 2
    one_tissue = np.array(["lung"] * 30)
    assert split_tissues(one_tissue, np.random.default_rng(0), 5, 5) is None


# ----------------------------------------------------------------------------- MAML
def _episode_embeddings(setup, seed=0):
    tables, _, model, drugs = setup
    episode = sample_episode(tables, 0, np.random.default_rng(seed), 10, 15)
    drug = model.metascdrug.drug_encoder(**drugs(torch.tensor([0])))
    support = model.metascdrug.cell_encoder(tables.expression[episode["support_cell"]])
    query = model.metascdrug.cell_encoder(tables.expression[episode["query_cell"]])

    def as_tensor(key):
        return torch.as_tensor(episode[key], dtype=torch.float32)

    return model, episode, drug, support, query, as_tensor


def test_inner_loop_changes_only_the_adapted_head(setup):
    model, _, drug, support, _, t = _episode_embeddings(setup)
    params = adaptable_parameters(model, "head")
    assert set(params) == {"classifier.weight", "classifier.bias", "regressor.weight", "regressor.bias"}
    adapted = inner_adapt(model, params, support, drug, t("support_label"), t("support_z"), 3, 0.5, True)
    assert set(adapted) == set(params)
    assert all(not torch.equal(adapted[name], params[name]) for name in params)
    inputs = dict(cell_embeds=support, drug_embeds=drug, labels=t("support_label"), regression_labels=t("support_z"))
    before = model(**inputs).loss
    after = torch.func.functional_call(model, adapted, args=(), kwargs=inputs).loss
    assert after < before  # the support loss went down
    fusion = adaptable_parameters(model, "head+fusion")
    assert set(params) < set(fusion) and any(name.startswith("metascdrug.fusion.") for name in fusion)


def test_first_and_second_order_differ(setup):
    grads = {}
    for first_order in (True, False):
        model, _, drug, support, query, t = _episode_embeddings(setup)
        model.zero_grad()
        params = adaptable_parameters(model, "head")
        adapted = inner_adapt(model, params, support, drug, t("support_label"), t("support_z"), 2, 0.5, first_order)
        inputs = dict(cell_embeds=query, drug_embeds=drug, labels=t("query_label"), regression_labels=t("query_z"))
        loss = torch.func.functional_call(model, adapted, args=(), kwargs=inputs).loss
        loss.backward()
        grads[first_order] = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    for name in ("classifier.weight", "metascdrug.cell_encoder.layers.0.weight"):
        assert grads[True][name].abs().sum() > 0 and grads[False][name].abs().sum() > 0
    assert not torch.allclose(grads[True]["classifier.weight"], grads[False]["classifier.weight"])
    assert not torch.allclose(
        grads[True]["metascdrug.cell_encoder.layers.0.weight"], grads[False]["metascdrug.cell_encoder.layers.0.weight"]
    )


# ----------------------------------------------------------------------------- unseen drugs
def test_unseen_drug_scores_and_the_baseline_agree(setup):
    tables, _, model, drugs = setup
    split = make_drug_split(tables.tasks, n_test=3, n_validation=2, seed=0, never_held_out=())
    train_tasks = tables.tasks.index[tables.tasks["drug"].isin(split["train"])].to_numpy()
    score = general_sensitivity(tables, train_tasks)
    assert score.shape == (60,) and np.isfinite(score).all()
    result = evaluate_drugs({"m": model}, tables, drugs, split["test"], train_tasks, shots=(0, 4), seeds=2)
    assert result["drugs"] == split["test"] and set(result["shots"]) == {"0", "4"}
    for method in ("general_sensitivity", "general_sensitivity_all_other_drugs", "m_zeroshot"):
        assert 0 <= result["shots"]["0"][method]["auroc"] <= 1
    assert {"logistic_regression", "m_fewshot"} <= set(result["shots"]["4"])
    spread = baseline_over_drugs(tables, split["test"], n_sets=50)
    assert spread["n_drugs"] == len(SMILES) and spread["random_sets"]["size"] == 3
    # a drug's baseline comes from the other drugs only, as the all-other-drugs method of evaluate_drugs
    expected = result["shots"]["0"]["general_sensitivity_all_other_drugs"]["auroc"]
    assert spread["held_out"]["auroc_mean"] == pytest.approx(expected)
