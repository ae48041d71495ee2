"""MetaSCDrug timings on CPU: one meta-iteration (first- and second-order MAML) against one multitask step
on the same cells, and few-shot LoRA adaptation against logistic regression on the same shots.

Uses the real GDSC folder and the single-cell targets when ../shared/data is present (with the bundled
checkpoint), else a synthetic stand-in of the same shape. Ratios are what to compare across machines.

    OMP_NUM_THREADS=1 python benchmarks/bench_meta.py [--repeats 5] [--json results/metascdrug/bench_meta.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from txformers.datasets.gdsc import read_expression
from txformers.hub import CHECKPOINTS, REPO_ROOT, SHARED_DATA
from txformers.models.metascdrug import MetaScDrugConfig, MetaScDrugForDrugResponse, MetaScDrugProcessor
from txformers.tasks.drug_response import fewshot, inputs, meta_learning

SHARED = SHARED_DATA / "drug"
CHECKPOINT = CHECKPOINTS / "metascdrug-meta"


def median_time(function, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--meta-batch", type=int, default=8)
    parser.add_argument("--n-support", type=int, default=10)
    parser.add_argument("--n-query", type=int, default=30)
    parser.add_argument("--inner-steps", type=int, default=5)
    parser.add_argument("--fewshot-steps", type=int, default=50)
    parser.add_argument("--json")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    real = (SHARED / "bulk_gdsc").exists() and CHECKPOINT.exists()
    if real:
        processor = MetaScDrugProcessor.from_pretrained(CHECKPOINT)
        model = MetaScDrugForDrugResponse.from_pretrained(CHECKPOINT)
        tables = meta_learning.load_gdsc_tables(SHARED / "bulk_gdsc", processor.genes)
    else:
        import tempfile

        sys.path.insert(0, str(REPO_ROOT))
        from tests.tasks.drug_response.synthetic import write_gdsc  # synthetic stand-in

        folder = write_gdsc(Path(tempfile.mkdtemp()) / "gdsc", n_cells=400, n_genes=2000)
        genes = meta_learning.select_gene_panel(read_expression(folder), 2000)
        tables = meta_learning.load_gdsc_tables(folder, genes)
        processor = meta_learning.build_processor(genes, tables)
        model = MetaScDrugForDrugResponse(
            MetaScDrugConfig(gene_panel_size=len(genes), smiles_vocab_size=len(processor.smiles_tokenizer))
        )
    drugs = meta_learning.DrugInputs(processor, tables.tasks["smiles"].tolist())
    rng = np.random.default_rng(0)
    episodes = []
    while len(episodes) < args.meta_batch:
        task = int(rng.integers(len(tables.tasks)))
        episode = meta_learning.sample_episode(tables, task, rng, args.n_support, args.n_query)
        if episode is not None:
            episodes.append((task, episode))
    tasks = np.array([task for task, _ in episodes])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step(loss_function):
        def run():
            optimizer.zero_grad()
            loss_function().backward()
            optimizer.step()

        return run

    per_task = args.n_support + args.n_query
    timings = {
        "multitask_step": median_time(
            step(lambda: meta_learning.multitask_loss(model, tables, drugs, tasks, np.random.default_rng(1), per_task)),
            args.repeats,
        ),
        "maml_first_order_iteration": median_time(
            step(lambda: meta_learning.maml_loss(model, tables, drugs, episodes, args.inner_steps, 0.1, True)),
            args.repeats,
        ),
        "maml_second_order_iteration": median_time(
            step(lambda: meta_learning.maml_loss(model, tables, drugs, episodes, args.inner_steps, 0.1, False)),
            args.repeats,
        ),
    }
    model.eval()
    datasets = sorted(SHARED.glob("sc_scad_targets/*.tsv")) if real else []
    fewshot_times = {}
    for path in datasets or [None]:
        if path is not None:
            expression, labels = inputs.load_dataset(path)
            drug = inputs.resolve_drug(None, path)["smiles"]
        else:
            expression = tables.expression[:100].numpy()
            import pandas as pd

            expression = pd.DataFrame(expression, columns=processor.genes)
            labels = np.array([0, 1] * 50)
            drug = tables.tasks["smiles"].iloc[0]
        label_array = np.asarray(labels)
        cells = dict(processor.encode_cells(expression))
        cells.pop("coverage")
        with torch.no_grad():
            drug_embeds = model.metascdrug.drug_encoder(**processor.encode_drugs(drug))
        support, _ = fewshot.sample_shots(label_array, 5, 0)
        raw = expression.to_numpy(np.float32)
        lora = median_time(
            lambda: fewshot.adapt_and_predict(
                model, cells, drug_embeds, label_array, support, steps=args.fewshot_steps
            ),
            args.repeats,
        )
        logistic = median_time(lambda: fewshot.logistic_regression_predict(raw, label_array, support), args.repeats)
        fewshot_times[path.name if path else "synthetic"] = {
            "lora_adaptation_s": lora,
            "logistic_regression_s": logistic,
            "ratio_lora_over_lr": lora / logistic,
            "n_cells": int(len(label_array)),
        }
    result = {
        "data": "real GDSC + bundled checkpoint" if real else "synthetic",
        "torch_threads": torch.get_num_threads(),
        "meta_batch": args.meta_batch,
        "support": args.n_support,
        "query": args.n_query,
        "inner_steps": args.inner_steps,
        "seconds": timings,
        "ratio_first_order_over_multitask": timings["maml_first_order_iteration"] / timings["multitask_step"],
        "ratio_second_order_over_first_order": timings["maml_second_order_iteration"]
        / timings["maml_first_order_iteration"],
        "fewshot_steps": args.fewshot_steps,
        "fewshot_k": 5,
        "fewshot": fewshot_times,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
