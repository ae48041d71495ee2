# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Section 3 of the demo: single-cell drug response (PLX4720) with both MetaSCDrug checkpoints."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...io import UserError
from .report import SYNTHETIC, Demo, code_block, markdown_table

DRUG = "PLX4720"


# --- 3. drug response
def _short_dataset(name: str) -> str:
    """``Target_expr_resp_z.PLX4720_tp4k.tsv`` -> ``PLX4720``."""
    found = re.search(r"Target_expr_resp_z\.(.+?)_tp4k", str(name))
    return found.group(1) if found else Path(str(name)).stem


def _fewshot_command(runs: list[dict[str, Any]], n_seeds: Any) -> str:
    """The `txformers drug fewshot` command that gives the runs of a saved few-shot JSON."""
    models = dict.fromkeys(
        f"{run['name']}={run['model']}" if run.get("name") else str(run.get("model"))
        for run in runs
        if run.get("model")
    )
    data = dict.fromkeys(Path(str(run["data"])).name for run in runs if run.get("data"))
    shots = sorted({int(run["shots"]) for run in runs if "shots" in run})
    return (
        f"txformers drug fewshot --model {' '.join(models) or '...'} --data {' '.join(data) or '...'} "
        f"--shots {' '.join(map(str, shots)) or '...'} --seeds {n_seeds} "
        "--json results/metascdrug/single_cell_fewshot.json"
    )


def section_drug(demo: Demo) -> str:
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score, roc_curve

    from ...datasets.cells import read_cells
    from ...models.metascdrug import DrugResponsePipeline, MetaScDrugForDrugResponse, MetaScDrugProcessor
    from ...models.metascdrug.pipeline_metascdrug import read_smiles_table
    from ...plotting import plot_critical_genes, plot_fewshot, plot_roc
    from ..drug_response.critical_genes import critical_genes

    data, smiles_table = demo.examples / "drug_cells.h5ad", demo.examples / "drug_smiles.csv"
    try:
        adata = read_cells(data)
        smiles = read_smiles_table(smiles_table).get(DRUG)
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"cannot read the drug example ({type(error).__name__}: {error})") from None
    if smiles is None:
        raise UserError(f"{smiles_table} has no SMILES for {DRUG}")
    if "response" not in adata.obs.columns:
        raise UserError(f"{data} has no obs column 'response' (1 = sensitive, 0 = resistant)")
    labels = adata.obs["response"].astype(int).to_numpy()

    frame = pd.DataFrame({"cell": adata.obs_names, "response": labels})
    if "mpas_score" in adata.obs.columns:
        frame["mpas_score"] = adata.obs["mpas_score"].to_numpy()
    curves, scores = {}, {}
    for name in ("metascdrug-meta", "metascdrug-nometa"):
        folder = demo.checkpoint(name)
        model = MetaScDrugForDrugResponse.from_pretrained(folder).eval()
        pipe = DrugResponsePipeline(
            model=model, processor=MetaScDrugProcessor.from_pretrained(folder), device=demo.device
        )
        try:
            cells = pipe(adata, smiles=smiles)
        except ValueError as error:
            raise UserError(f"{data}: {error}") from None
        probability = np.array([cell["sensitive_probability"] for cell in cells])
        frame[f"p_sensitive_{name}"] = probability
        frame[f"{pipe.regression_target}_{name}"] = [cell[pipe.regression_target] for cell in cells]
        fpr, tpr, _ = roc_curve(labels, probability)
        auroc = float(roc_auc_score(labels, probability))
        curves[name] = (fpr, tpr, auroc)
        scores[name] = {
            "auroc": auroc,
            "mean_probability": float(probability.mean()),
            "accuracy_at_0.5": float(((probability >= 0.5) == labels).mean()),
        }
    frame.to_csv(demo.path("drug_response.csv"), index=False, float_format="%.6g")
    plot_roc(
        curves,
        demo.path("figures/drug_roc.png"),
        f"{DRUG}, zero-shot, {len(labels)} synthetic cells:\na demonstration, not an evaluation",
    )

    expression = pd.DataFrame(
        adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X),
        index=adata.obs_names,
        columns=adata.var_names,
    )
    seeds, n_steps, top = 3, 16, 20
    result = critical_genes(
        demo.checkpoint("metascdrug-meta"),
        expression,
        smiles,
        seeds=seeds,
        top=top,
        n_steps=n_steps,
        max_cells=len(expression),
    )
    ranking = result["ranking"][result["ranking"]["present"]]
    ranking.to_csv(demo.path("critical_genes.tsv"), sep="\t", index=False, float_format="%.6g")
    plot_critical_genes(
        result,
        demo.path("figures/drug_critical_genes.png"),
        n_genes=15,
        title=f"metascdrug-meta, {DRUG}, synthetic cells",
    )
    top_genes = [
        {
            "gene": row.gene,
            "mean_abs_attribution": float(row.mean_abs_attribution),
            "mean_attribution": float(row.mean_attribution),
        }
        for row in ranking.head(10).itertuples()
    ]

    saved_path = demo.results / "metascdrug/single_cell_fewshot.json"
    saved = demo.saved("metascdrug/single_cell_fewshot.json")
    table = saved.get("table") if isinstance(saved, dict) else None
    if not table:
        raise UserError(f"{saved_path} has no 'table' of few-shot results")
    bar_labels = [f"{_short_dataset(row['data'])}\nk={row['shots']}" for row in table]
    plot_fewshot(table, bar_labels, demo.path("figures/drug_fewshot_saved.png"))
    runs = saved.get("runs") or [{}]
    n_seeds = len(runs[0].get("seeds", [])) or "?"
    settings = runs[0].get("settings", {})

    demo.summary["drug"] = {
        "drug": DRUG,
        "smiles": smiles,
        "input": str(data),
        "cells": int(len(labels)),
        "sensitive_cells": int(labels.sum()),
        "zero_shot": scores,
        "critical_genes": {
            "model": str(demo.checkpoint("metascdrug-meta")),
            "seeds": seeds,
            "n_steps": n_steps,
            "stability": result["stability"],
            "top_genes": top_genes,
        },
        "saved": {"file": str(saved_path), "table": table},
    }
    demo.add(
        f"Both MetaSCDrug checkpoints predict, zero-shot, how sensitive each of {len(labels)} synthetic melanoma-like "
        f"cells (`{data.name}`, raw counts of {adata.n_vars} panel genes) is to {DRUG}. The cells' label follows a "
        "stated rule: a cell is *sensitive* when its MAPK pathway activity score (MPAS genes) is above the median "
        f"({int(labels.sum())} sensitive, {int(len(labels) - labels.sum())} resistant; see `examples/README.md`). "
        f"The ROC shows how the per-cell probabilities rank the cells against that rule: {SYNTHETIC}.",
        "",
        *markdown_table(
            ["checkpoint", "AUROC vs the rule", "accuracy at p >= 0.5", "mean probability"],
            [[name, s["auroc"], s["accuracy_at_0.5"], s["mean_probability"]] for name, s in scores.items()],
        ),
    )
    demo.figure("figures/drug_roc.png", f"ROC of the per-cell {DRUG} probabilities ({SYNTHETIC})")
    stability = result["stability"]
    demo.add(
        "**Critical genes** (`txformers.tasks.drug_response.critical_genes`): "
        f"integrated gradients ({n_steps} steps) of the sensitive "
        f"logit of `metascdrug-meta` over the panel genes, on {seeds} bootstrap samples of the synthetic cells "
        f"(top-{top} Jaccard {stability['jaccard_top']:.2f}, Spearman {stability['spearman']:.2f}). Top genes: "
        + ", ".join(f"{g['gene']} ({'+' if g['mean_attribution'] > 0 else '-'})" for g in top_genes)
        + " (+ pushes towards sensitive).",
        "",
    )
    demo.figure(
        "figures/drug_critical_genes.png",
        f"critical genes of the prediction on the synthetic cells: bar = mean |integrated gradient| over {seeds} "
        "bootstrap samples of the cells, error bar = its standard deviation over those samples (how much the "
        "attribution depends on which cells are drawn), colour = sign of the mean attribution (red: towards "
        "sensitive, blue: towards resistant)",
    )
    demo.add(
        f"**Saved few-shot results on real single cells** (`{demo.results.name}/metascdrug/single_cell_fewshot.json`): "
        f"LoRA adaptation on k labelled cells per class, scored on the other cells, mean over {n_seeds} seeds "
        f"(settings {json.dumps(settings)}), next to logistic regression on the same shots. "
        + ("Made by:" if saved.get("command") else "The file records no command; an equivalent one, from its runs:"),
        "",
        *code_block(saved.get("command") or _fewshot_command(runs, n_seeds)),
        *markdown_table(
            [
                "dataset",
                "k",
                "AUROC meta",
                "AUROC no-meta",
                "AUROC LR",
                "accuracy meta",
                "accuracy no-meta",
                "accuracy LR",
            ],
            [
                [
                    _short_dataset(row["data"]),
                    row["shots"],
                    *(
                        float(row.get(model, {}).get(metric, float("nan")))
                        for metric in ("auroc", "accuracy")
                        for model in ("meta", "nometa", "logistic_regression")
                    ),
                ]
                for row in table
            ],
        ),
    )
    demo.figure("figures/drug_fewshot_saved.png", "saved few-shot AUROC and accuracy by dataset and k (real cells)")
    return (
        f"drug response: {len(labels)} synthetic cells, zero-shot AUROC vs the MPAS rule "
        + ", ".join(f"{name} {s['auroc']:.2f}" for name, s in scores.items())
        + f"; top critical gene {top_genes[0]['gene']}; saved few-shot results: {len(table)} rows"
    )
