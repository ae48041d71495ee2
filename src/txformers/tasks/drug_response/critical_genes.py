# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Critical genes of a MetaSCDrug prediction: integrated gradients over the gene panel, ranked and checked
for stability across seeds.

For one dataset and drug, integrated gradients (Sundararajan et al. 2017, via captum) attribute the
sensitive logit of every cell to the panel genes of its input, from an all-zero baseline (the mean of
per-gene standardised data; missing genes get no attribution). Genes are ranked by their mean absolute
attribution over cells; the signed mean says whether a gene pushes towards sensitive (+) or resistant (-).

Seeds: with ``shots`` and labels, each seed few-shot adapts the checkpoint (LoRA, as
``txformers.tasks.drug_response.fewshot``) on its own ``k`` labelled cells per class, then attributes all
cells; without ``shots`` each seed attributes a bootstrap sample of the cells with the checkpoint as it is
(e.g. GDSC cell lines for a drug). Stability: mean pairwise Jaccard index of the top-``top`` gene sets and
mean pairwise Spearman correlation of the gene scores across seeds.

    python -m txformers.tasks.drug_response.critical_genes --model checkpoints/metascdrug-meta \\
        --data ../shared/data/drug/sc_scad_targets/Target_expr_resp_z.PLX4720_tp4k.tsv --shots 5 --seeds 5 \\
        --out-dir results/metascdrug/critical_genes/PLX4720

(``txformers drug genes`` is the same analysis for single-cell files.) captum is imported lazily
(``pip install captum``).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch


def _require_captum():
    try:
        from captum.attr import IntegratedGradients
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("critical genes need captum: pip install captum") from error
    return IntegratedGradients


def integrated_gradients(
    model: torch.nn.Module,
    expression: torch.Tensor,
    missing_mask: torch.Tensor | None,
    drug_embeds: torch.Tensor,
    n_steps: int = 32,
    batch_size: int = 64,
    baseline: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attributions (cells x genes) of the sensitive logit and captum's convergence delta per cell.

    ``model`` is a ``MetaScDrugForDrugResponse`` (or a PEFT wrapper of one) in eval mode; completeness: the
    attributions of a cell sum to ``f(x) - f(baseline)`` up to the delta.
    """
    IntegratedGradients = _require_captum()
    model.eval()

    def forward(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return model(expression=values, missing_mask=mask, drug_embeds=drug_embeds).sensitive_logit

    explainer = IntegratedGradients(forward)
    mask = missing_mask if missing_mask is not None else torch.zeros_like(expression, dtype=torch.bool)
    baseline = torch.zeros_like(expression) if baseline is None else baseline.expand_as(expression)
    attributions, deltas = [], []
    for start in range(0, len(expression), batch_size):
        part = slice(start, start + batch_size)
        attribution, delta = explainer.attribute(
            expression[part],
            baselines=baseline[part],
            additional_forward_args=(mask[part],),
            n_steps=n_steps,
            return_convergence_delta=True,
        )
        attributions.append(attribution.detach())
        deltas.append(delta.detach())
    return torch.cat(attributions), torch.cat(deltas)


def stability(scores: np.ndarray, top: int = 50) -> dict[str, float]:
    """Mean pairwise Jaccard of the top-``top`` sets (by score) and mean pairwise Spearman over seeds (rows)."""
    from scipy.stats import spearmanr

    tops = [set(np.argsort(-row, kind="stable")[:top]) for row in scores]
    pairs = list(itertools.combinations(range(len(scores)), 2))
    if not pairs:
        return {"jaccard_top": float("nan"), "spearman": float("nan"), "n_seeds": len(scores), "top": top}
    jaccard = [len(tops[a] & tops[b]) / len(tops[a] | tops[b]) for a, b in pairs]
    spearman = [spearmanr(scores[a], scores[b]).statistic for a, b in pairs]
    return {
        "jaccard_top": float(np.mean(jaccard)),
        "spearman": float(np.nanmean(spearman)),
        "n_seeds": len(scores),
        "top": top,
    }


def critical_genes(
    model_dir: str | Path,
    expression_df: pd.DataFrame,
    drug_smiles: str | None = None,
    labels: Sequence[int] | None = None,
    *,
    shots: int | None = None,
    seeds: int = 5,
    top: int = 50,
    n_steps: int = 32,
    max_cells: int | None = 256,
    fewshot_options: dict[str, Any] | None = None,
    gene_mapping: Any = None,
) -> dict[str, Any]:
    """Rank the panel genes of ``model_dir`` by integrated-gradient attribution on ``expression_df``.

    Returns ``ranking`` (a DataFrame: gene, mean_abs_attribution, mean_attribution, sd_over_seeds,
    top_frequency = share of seeds with the gene in their top ``top``, rank), ``stability`` (see
    :func:`stability`), ``per_seed_top`` (gene lists), ``completeness`` (largest |delta| relative to the
    output difference) and the settings.

    Example:

    ```python
    >>> result = critical_genes("checkpoints/metascdrug-meta", expression, "CCO", labels, shots=5)  # doctest: +SKIP
    >>> result["ranking"].head(10), result["stability"]  # doctest: +SKIP
    ```
    """
    from ...models.metascdrug import MetaScDrugForDrugResponse, MetaScDrugProcessor
    from .fewshot import adapt_lora, check_labels, sample_shots

    model = MetaScDrugForDrugResponse.from_pretrained(model_dir).eval()
    processor = MetaScDrugProcessor.from_pretrained(model_dir)
    encoded = processor.encode_cells(expression_df, gene_mapping=gene_mapping)
    inputs = {"expression": encoded["expression"], "missing_mask": encoded["missing_mask"]}
    with torch.no_grad():
        if drug_smiles is not None:
            drug_embeds = model.metascdrug.drug_encoder(**processor.encode_drugs(drug_smiles))
        else:
            drug_embeds = model.metascdrug.default_drug_embeds.clone()
    label_array = None
    if shots is not None:
        if labels is None:
            raise ValueError("shots= needs labels= (few-shot adaptation per seed)")
        label_array = check_labels(np.asarray(labels), shots)
    genes = processor.genes
    scores, signed, deltas, relative = [], [], [], []
    n_cells = len(inputs["expression"])
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        if shots is not None:
            support, _ = sample_shots(label_array, shots, seed)
            options = fewshot_options or {}
            explained = adapt_lora(model, inputs, drug_embeds, label_array, support, seed=seed, **options)
            cells = np.arange(n_cells)
        else:
            explained = model
            cells = rng.choice(n_cells, n_cells, replace=True)
        if max_cells is not None and len(cells) > max_cells:
            cells = rng.choice(cells, max_cells, replace=False)
        expression, mask = inputs["expression"][cells], inputs["missing_mask"][cells]
        attribution, delta = integrated_gradients(explained, expression, mask, drug_embeds, n_steps=n_steps)
        with torch.no_grad():
            full = explained(expression=expression, missing_mask=mask, drug_embeds=drug_embeds).sensitive_logit
            zeros = torch.zeros_like(expression)
            zero = explained(expression=zeros, missing_mask=mask, drug_embeds=drug_embeds).sensitive_logit
        difference = (full - zero).abs().clamp(min=1e-6)
        relative.append(float((delta.abs() / difference).median()))
        deltas.append(float(delta.abs().max()))
        scores.append(attribution.abs().mean(0).numpy())
        signed.append(attribution.mean(0).numpy())
    scores, signed = np.stack(scores), np.stack(signed)
    stable = stability(scores, top)
    tops = [set(np.argsort(-row, kind="stable")[:top]) for row in scores]
    ranking = pd.DataFrame(
        {
            "gene": genes,
            "mean_abs_attribution": scores.mean(0),
            "mean_attribution": signed.mean(0),
            "sd_over_seeds": scores.std(0),
            "top_frequency": [np.mean([i in chosen for chosen in tops]) for i in range(len(genes))],
            "present": ~inputs["missing_mask"][0].numpy(),
        }
    )
    ranking = ranking.sort_values("mean_abs_attribution", ascending=False, kind="stable").reset_index(drop=True)
    ranking["rank"] = np.arange(1, len(ranking) + 1)
    settings = {
        "shots": shots,
        "seeds": seeds,
        "top": top,
        "n_steps": n_steps,
        "max_cells": max_cells,
        "drug_smiles": drug_smiles,
        "model": str(model_dir),
    }
    return {
        "ranking": ranking,
        "stability": stable,
        "per_seed_top": [[genes[i] for i in np.argsort(-row, kind="stable")[:top]] for row in scores],
        "completeness": {"max_abs_delta": max(deltas), "median_relative_delta": float(np.median(relative))},
        "settings": settings,
    }


def gdsc_cell_lines(gdsc_dir: str | Path, drug: str) -> pd.DataFrame:
    """Expression (cell lines x genes) of the GDSC cell lines screened with ``drug`` and with expression."""
    from ...datasets.gdsc import read_expression, read_ic50

    ic50 = read_ic50(gdsc_dir, ["drug", "cell_key"])
    expression = read_expression(gdsc_dir)
    cells = sorted(set(ic50.loc[ic50["drug"] == drug, "cell_key"]) & set(expression.index))
    if not cells:
        raise ValueError(f"no GDSC cell line with expression was screened with {drug!r}")
    return expression.loc[cells]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: rank critical genes for a single-cell file (``--data``) or a GDSC drug (``--gdsc-dir``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", help="single-cell SCAD TSV / h5ad")
    parser.add_argument("--label-column", default="response")
    parser.add_argument("--gene-map")
    parser.add_argument("--gdsc-dir", help="GDSC folder: explain the cell lines of --drug instead of --data")
    parser.add_argument("--drug", help="drug name (SMILES tables) or SMILES; default: from the file name")
    parser.add_argument("--shots", type=int, help="few-shot adapt per seed on k labelled cells per class")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--top", type=int, default=50)
    parser.add_argument("--n-steps", type=int, default=32)
    parser.add_argument("--max-cells", type=int, default=256)
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args(argv)
    from ...datasets.gdsc import SMILES_FILE
    from ...plotting import plot_critical_genes
    from .inputs import load_dataset, resolve_drug

    labels = None
    if args.gdsc_dir:
        if not args.drug:
            raise ValueError("--gdsc-dir needs --drug")
        drug = resolve_drug(args.drug, None, [Path(args.gdsc_dir) / SMILES_FILE])
        expression = gdsc_cell_lines(args.gdsc_dir, args.drug)
        name = args.drug
    else:
        if not args.data:
            raise ValueError("give --data or --gdsc-dir")
        expression, labels = load_dataset(args.data, args.label_column, args.gene_map)
        drug = resolve_drug(args.drug, args.data, None)
        name = Path(args.data).name
    result = critical_genes(
        args.model,
        expression,
        drug["smiles"],
        labels,
        shots=args.shots,
        seeds=args.seeds,
        top=args.top,
        n_steps=args.n_steps,
        max_cells=args.max_cells,
    )
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result["ranking"].to_csv(out / "critical_genes.tsv", sep="\t", index=False)
    plot_critical_genes(result, out / "critical_genes.png", title=f"{name} ({drug.get('name') or 'SMILES'})")
    summary = {key: value for key, value in result.items() if key != "ranking"}
    columns = ["gene", "mean_abs_attribution", "mean_attribution", "top_frequency"]
    summary["top_genes"] = result["ranking"].head(args.top)[columns].to_dict("records")
    summary["drug"] = drug
    (out / "critical_genes.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    top10 = result["ranking"]["gene"].head(10).tolist()
    print(json.dumps({"stability": result["stability"], "completeness": result["completeness"], "top10": top10}))
    return summary


if __name__ == "__main__":
    main()
