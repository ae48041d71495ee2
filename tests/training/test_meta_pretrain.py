"""The training entry points end to end on a tiny synthetic GDSC folder and single-cell table: multitask and MAML
pre-training, ``--mode evaluate`` and ``--mode baseline`` of ``txformers.training.meta_pretrain``, and the few-shot
benchmark of ``txformers.training.fewshot``. The task logic is tested in tests/tasks/drug_response."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from tests.tasks.drug_response.synthetic import write_gdsc, write_single_cells
from txformers.models.metascdrug import GenePanelOverlapError, MetaScDrugForDrugResponse, MetaScDrugProcessor
from txformers.tasks.drug_response.fewshot import run_fewshot
from txformers.tasks.drug_response.inputs import load_dataset
from txformers.training import fewshot, meta_pretrain


@pytest.fixture(scope="module")
def gdsc(tmp_path_factory):
    pytest.importorskip("rdkit")
    return write_gdsc(tmp_path_factory.mktemp("gdsc"))


# ----------------------------------------------------------------------------- end to end on synthetic data
def test_pretrain_maml_evaluate_and_fewshot_cli(gdsc, tmp_path):
    common = [
        "--data-dir",
        str(gdsc),
        "--preset",
        "tiny",
        "--n-genes",
        "20",
        "--test-drugs",
        "3",
        "--validation-drugs",
        "2",
        "--eval-every",
        "4",
        "--eval-shots",
        "4",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        multitask = meta_pretrain.main(
            [
                "--mode",
                "multitask",
                "--output-dir",
                str(tmp_path / "mt"),
                "--steps",
                "4",
                "--drugs-per-batch",
                "4",
                "--cells-per-drug",
                "8",
                *common,
            ]
        )
        maml = meta_pretrain.main(
            [
                "--mode",
                "maml",
                "--init-from",
                str(multitask),
                "--output-dir",
                str(tmp_path / "maml"),
                "--steps",
                "4",
                "--meta-batch",
                "2",
                "--n-support",
                "6",
                "--n-query",
                "8",
                "--inner-steps",
                "2",
                *common,
            ]
        )
    split = json.loads((maml / "drug_split.json").read_text())
    assert split == json.loads((multitask / "drug_split.json").read_text()) and len(split["test"]) == 3
    args = json.loads((maml / "training_args.json").read_text())
    assert args["mode"] == "maml" and args["init_from_args"]["mode"] == "multitask"
    assert (tmp_path / "maml" / "metrics.jsonl").read_text().count("seconds_per_step") >= 1
    model = MetaScDrugForDrugResponse.from_pretrained(maml)
    assert model.config.has_default_drug and model.metascdrug.default_drug_embeds.abs().sum() > 0

    result = meta_pretrain.main(
        [
            "--mode",
            "evaluate",
            "--data-dir",
            str(gdsc),
            "--models",
            f"meta={maml}",
            f"nometa={multitask}",
            "--shots",
            "0",
            "4",
            "--seeds",
            "2",
            "--json",
            str(tmp_path / "unseen.json"),
        ]
    )
    assert json.loads((tmp_path / "unseen.json").read_text())["drugs"] == result["drugs"]
    assert set(result["drugs"]) == set(split["test"])
    methods = result["shots"]["4"]
    for method in (
        "general_sensitivity",
        "general_sensitivity_all_other_drugs",
        "logistic_regression",
        "meta_zeroshot",
        "meta_fewshot",
        "nometa_fewshot",
    ):
        assert 0 <= methods[method]["auroc"] <= 1

    spread = meta_pretrain.main(
        [
            "--mode",
            "baseline",
            "--data-dir",
            str(gdsc),
            "--models",
            f"meta={maml}",
            "--json",
            str(tmp_path / "baseline.json"),
        ]
    )
    assert json.loads((tmp_path / "baseline.json").read_text())["per_drug"] == spread["per_drug"]
    assert set(split["test"]) <= set(spread["per_drug"]) and spread["n_drugs"] == len(spread["per_drug"])
    held_out = np.mean([spread["per_drug"][drug] for drug in split["test"]])
    assert spread["held_out"]["auroc_mean"] == pytest.approx(held_out)
    assert 0 <= spread["random_sets"]["fraction_at_or_above_reference"] <= 1 and "--mode baseline" in spread["command"]
    # a drug's baseline comes from the other drugs only: the same AUROC as the evaluate run's all-other-drugs method
    assert spread["held_out"]["auroc_mean"] == pytest.approx(
        result["shots"]["0"]["general_sensitivity_all_other_drugs"]["auroc"]
    )

    genes = MetaScDrugProcessor.from_pretrained(maml).genes
    data = write_single_cells(tmp_path / "Target_expr_resp_z.Drug-0_tp4k.tsv", genes + ["EXTRA"])
    pd.DataFrame({"drug": ["Drug-0"], "smiles": ["CCO"]}).to_csv(tmp_path / "smiles.csv", index=False)
    output = fewshot.main(
        [
            "--model",
            str(maml),
            "--data",
            str(data),
            "--shots",
            "2",
            "--seeds",
            "3",
            "--steps",
            "5",
            "--json",
            str(tmp_path / "fs.json"),
            "--smiles-table",
            str(tmp_path / "smiles.csv"),
        ]
    )
    saved = json.loads((tmp_path / "fs.json").read_text())
    assert saved["drug"]["smiles"] == "CCO" and saved["shots"] == 2 and saved["seeds"] == [0, 1, 2]
    for metric in ("accuracy", "auroc", "ap", "f1"):
        assert 0 <= saved["metrics"][metric] <= 1 and saved[metric] == saved["metrics"][metric]
        assert f"{metric}_sd" in saved["metrics"] and metric in saved["logistic_regression"]["metrics"]
    assert saved["n_evaluated_per_seed"] == 16 - 4 and len(saved["per_seed"]) == 3
    assert output["metrics"] == saved["metrics"]

    # comparison mode: two models, two k -> a table
    table = fewshot.main(
        [
            "--model",
            f"meta={maml}",
            f"nometa={multitask}",
            "--data",
            str(data),
            "--shots",
            "1",
            "2",
            "--seeds",
            "2",
            "--steps",
            "3",
            "--smiles-table",
            str(tmp_path / "smiles.csv"),
        ]
    )
    assert len(table["runs"]) == 4 and {row["shots"] for row in table["table"]} == {1, 2}
    assert {"meta", "nometa", "logistic_regression"} <= set(table["table"][0])

    # bad inputs through the public function
    expression, labels = load_dataset(data)
    with pytest.raises(ValueError, match="too many"):
        run_fewshot(maml, expression, labels, 8, 1)
    with pytest.raises(ValueError, match="one class only"):
        run_fewshot(maml, expression, np.ones(len(labels), dtype=int), 2, 1)
    other = pd.DataFrame(np.random.default_rng(0).normal(size=(16, 5)), columns=[f"X{i}" for i in range(5)])
    with pytest.raises(GenePanelOverlapError, match="only 0 of the 20 panel genes"):
        run_fewshot(maml, other, labels, 2, 1)
