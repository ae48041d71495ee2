# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Section 4 of the demo: cancer type and cytokine patterns of tumour immune cells (Cellformer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...io import UserError
from .report import SYNTHETIC, Demo, code_block, command_of, markdown_table


# --- 4. cytokine
def _cellformer_embeddings(folder: Path, adata: Any, device_name: str) -> tuple[Any, float, int]:
    """Pooled embeddings (``CellformerModel.pooler_output``) of every cell, the share of the model's gene
    vocabulary present in ``adata`` and the vocabulary size."""
    import torch

    from ...models.cellformer import CellformerModel
    from ...tokenizers import GeneExpressionTokenizer

    tokenizer = GeneExpressionTokenizer.from_pretrained(folder)
    model = CellformerModel.from_pretrained(folder).to(device_name).eval()
    encoded = tokenizer(adata, mode="bins", sampling="top", return_tensors="pt")
    inputs = {
        key: encoded[key].to(device_name) for key in ("input_ids", "attention_mask", "expression_bins", "expression")
    }
    with torch.no_grad():
        embeddings = model(**inputs).pooler_output.float().cpu().numpy()
    return embeddings, float(encoded["coverage"]), len(tokenizer.genes)


def section_cytokine(demo: Demo) -> str:
    import numpy as np
    import pandas as pd

    from ...datasets.cells import read_cells
    from ...models.cellformer import CancerTypePipeline, CellformerForCellClassification
    from ...plotting import plot_embeddings, plot_heatmap
    from ...tokenizers import GeneExpressionTokenizer

    data = demo.examples / "immune_cells.h5ad"
    try:
        adata = read_cells(data)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {data} as AnnData ({error})") from None
    if "sample" not in adata.obs.columns:
        raise UserError(f"{data} has no obs column 'sample'")
    folder = demo.checkpoint("cellformer-cancer-type")
    model = CellformerForCellClassification.from_pretrained(folder).eval()
    tokenizer = GeneExpressionTokenizer.from_pretrained(folder)
    report = tokenizer.gene_report(adata)
    pipe = CancerTypePipeline(model=model, tokenizer=tokenizer, device=demo.device)
    try:
        result = pipe(adata, sample_column="sample", return_all_scores=True)
    except ValueError as error:
        raise UserError(f"{data}: {error}") from None
    labels = pipe.labels
    cells = pd.DataFrame(
        {
            "cell": adata.obs_names,
            "sample": adata.obs["sample"].astype(str).to_numpy(),
            "cell_type": adata.obs.get("cell_type", pd.Series([""] * adata.n_obs)).astype(str).to_numpy(),
            "predicted_cancer_type": [c["label"] for c in result["cells"]],
            "score": [c["score"] for c in result["cells"]],
            "panel_genes_detected": [c["genes_detected"] for c in result["cells"]],
        }
    )
    cells = pd.concat(
        [cells, pd.DataFrame([c["scores"] for c in result["cells"]], columns=labels).add_prefix("p_")], axis=1
    )
    cells.to_csv(demo.path("cancer_type_cells.csv"), index=False, float_format="%.6g")
    pattern_of = (
        adata.obs.groupby("sample", observed=True)["pattern_of"].first().astype(str).to_dict()
        if "pattern_of" in adata.obs.columns
        else {}
    )
    samples = [
        {
            "sample": s["sample"],
            "n_cells": int(s["n_cells"]),
            "predicted_cancer_type": s["label"],
            "score": float(s["score"]),
            "raised_genes_of": pattern_of.get(s["sample"]),
            "cell_calls": {
                k: int(v)
                for k, v in cells[cells["sample"] == s["sample"]]["predicted_cancer_type"].value_counts().items()
            },
        }
        for s in result["samples"]
    ]
    pd.DataFrame([{key: value for key, value in s.items() if key != "cell_calls"} for s in samples]).to_csv(
        demo.path("cancer_type_samples.csv"), index=False, float_format="%.6g"
    )
    agree = sum(s["predicted_cancer_type"] == s["raised_genes_of"] for s in samples if s["raised_genes_of"])

    embeddings, coverage, vocabulary = _cellformer_embeddings(
        demo.checkpoint("cellformer-pretrained"), adata, demo.device
    )
    centred = embeddings - embeddings.mean(0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    points = centred @ components[:2].T
    explained = (singular[:2] ** 2 / (singular**2).sum()).tolist()
    pd.DataFrame({"cell": adata.obs_names, "pc1": points[:, 0], "pc2": points[:, 1]}).to_csv(
        demo.path("cellformer_embeddings.csv"), index=False, float_format="%.6g"
    )
    plot_embeddings(
        points,
        cells["cell_type"],
        cells["sample"],
        demo.path("figures/cellformer_embeddings.png"),
        f"cellformer-pretrained cell embeddings (PCA), {adata.n_obs} synthetic immune cells",
        explained=explained,
    )

    patterns_dir = demo.results / "cellformer/patterns"
    patterns = demo.saved("cellformer/patterns/cytokine_patterns.json")
    pattern_table = pd.read_csv(patterns_dir / "cytokine_patterns.tsv", sep="\t")
    plot_heatmap(
        pattern_table,
        demo.path("figures/cytokine_heatmap_saved.png"),
        top=6,
        title="Saved cytokine patterns of real tumour immune cells",
    )
    cancer_type = demo.saved("cellformer/cancer_type.json")
    pretrain = demo.saved("cellformer/pretrain.json")
    metrics, metric_rows = {}, []
    for protocol, content in (cancer_type.get("protocols") or {}).items():
        for name, scores in (content.get("models") or {}).items():
            per_cell = {k: v for k, v in (scores.get("per_cell") or {}).items() if isinstance(v, (int, float))}
            per_sample = {k: v for k, v in (scores.get("per_sample") or {}).items() if isinstance(v, (int, float))}
            metrics.setdefault(protocol, {})[name] = {"per_cell": per_cell, "per_sample": per_sample}
            metric_rows.append(
                [
                    protocol,
                    content.get("cells", ""),
                    name,
                    *(
                        float(d.get(k, float("nan")))
                        for d, k in (
                            (per_cell, "accuracy"),
                            (per_cell, "macro_f1"),
                            (per_cell, "balanced_accuracy"),
                            (per_sample, "accuracy"),
                            (per_sample, "macro_f1"),
                        )
                    ),
                ]
            )

    demo.summary["cytokine"] = {
        "model": str(folder),
        "input": str(data),
        "cells": int(adata.n_obs),
        "panel_coverage": report.coverage,
        "samples": samples,
        "samples_called_as_their_raised_pattern": int(agree),
        "cell_calls": {k: int(v) for k, v in cells["predicted_cancer_type"].value_counts().items()},
        "pretrained_embeddings": {
            "model": str(demo.checkpoint("cellformer-pretrained")),
            "dimension": int(embeddings.shape[1]),
            "vocabulary_coverage": coverage,
            "explained_variance_pc1_pc2": explained,
        },
        "saved": {
            "patterns": {
                "file": str(patterns_dir / "cytokine_patterns.json"),
                "command": patterns.get("command"),
                "cells_per_cancer_type": patterns.get("cells_per_cancer_type"),
                "top_genes": patterns.get("top_genes"),
            },
            "cancer_type": {
                "file": str(demo.results / "cellformer/cancer_type.json"),
                "command": cancer_type.get("command"),
                "classes": cancer_type.get("classes"),
                "metrics": metrics,
            },
            "pretrain": {
                "file": str(demo.results / "cellformer/pretrain.json"),
                "command": pretrain.get("command"),
                "heldout_command": pretrain.get("heldout_command"),
                "heldout": pretrain.get("heldout"),
            },
        },
    }
    demo.add(
        f"`{folder.name}` (Cellformer classifier over {report.n_vocab_genes} cytokine genes) calls the cancer type of "
        f"each of {adata.n_obs} synthetic immune cells (`{data.name}`: raw counts of the 185 cytokine ligand genes "
        f"and a few cell-type markers, {adata.obs['sample'].nunique()} samples) and of each sample (mean class "
        f"probabilities of its cells). Each synthetic sample raises the top cytokines of one cancer type in the "
        "saved real patterns (column *raised genes of*): whether the call follows them shows the classifier reads "
        f"those genes; {SYNTHETIC}.",
        "",
        *markdown_table(
            ["sample", "cells", "raised genes of", "call", "mean probability", "cell calls"],
            [
                [
                    s["sample"],
                    s["n_cells"],
                    s["raised_genes_of"] or "-",
                    s["predicted_cancer_type"],
                    s["score"],
                    ", ".join(f"{k} {v}" for k, v in s["cell_calls"].items()),
                ]
                for s in samples
            ],
        ),
    )
    demo.add(
        f"`cellformer-pretrained` (masked-expression pretraining, no labels) embeds the same cells "
        f"({embeddings.shape[1]} dimensions; {coverage:.1%} of its {vocabulary}-gene vocabulary is in the file, far "
        "fewer genes per cell than in the real transcriptomes it was trained on).",
        "",
    )
    from ..cytokine.evaluation import embedding_verdict

    verdict = embedding_verdict(demo.checkpoint("cellformer-pretrained"))
    if verdict:
        demo.add(f"**{verdict.split(':', 1)[0]}:**{verdict.split(':', 1)[1]}", "")
    demo.figure(
        "figures/cellformer_embeddings.png",
        f"PCA of the pretrained cell embeddings (PC1 {explained[0]:.0%}, PC2 {explained[1]:.0%} of the variance)",
    )
    heldout = pretrain.get("heldout") or {}
    demo.add(
        "**Saved masked-expression evaluation** of `cellformer-pretrained` on held-out real cells "
        f"(`{demo.results.name}/cellformer/pretrain.json`), made by:",
        "",
        *code_block(
            command_of(
                {"command": pretrain.get("heldout_command") or pretrain.get("command")},
                "python -m txformers.training.pretrain_cellformer",
            )
        ),
        *markdown_table(
            [
                "held-out cells",
                "masked genes",
                "bin accuracy",
                "gene baseline",
                "cell baseline",
                "bin MAE",
                "gene baseline MAE",
            ],
            [
                [
                    heldout.get("eval_cells"),
                    heldout.get("masked_genes"),
                    *(
                        float(heldout.get(k, float("nan")))
                        for k in (
                            "bin_accuracy",
                            "baseline_gene_bin_accuracy",
                            "baseline_cell_bin_accuracy",
                            "bin_mae",
                            "baseline_gene_bin_mae",
                        )
                    ),
                ]
            ],
        ),
    )
    top_rows = [
        [
            cancer,
            patterns.get("cells_per_cancer_type", {}).get(cancer, ""),
            row["gene"],
            float(row["auroc"]),
            float(row["cohens_d"]),
            float(row["detection_rate"]),
            float(row["detection_rate_rest"]),
        ]
        for cancer, rows in (patterns.get("top_genes") or {}).items()
        for row in rows[:3]
    ]
    demo.add(
        f"**Saved cytokine patterns** (`{demo.results.name}/cellformer/patterns/`; first three top genes per cancer "
        "type; AUROC and Cohen's d one-vs-rest over cells), made by:",
        "",
        *code_block(command_of(patterns, "python -m txformers.tasks.cytokine.patterns")),
        *markdown_table(
            ["cancer type", "cells", "gene", "AUROC", "Cohen's d", "detected", "detected (rest)"], top_rows
        ),
    )
    demo.figure(
        "figures/cytokine_heatmap_saved.png",
        "saved cytokine patterns: one-vs-rest AUROC and attribution of the top genes per cancer type (real cells)",
    )
    if patterns.get("note"):
        demo.add(f"> {patterns['note']}", "")
    demo.add(
        f"**Saved cancer-type metrics** (`{demo.results.name}/cellformer/cancer_type.json`; cross-validation with "
        "patient-grouped splits; *strict*: some test classes never seen in training), made by:",
        "",
        *code_block(command_of(cancer_type, "python -m txformers.training.cancer_type")),
        *markdown_table(
            [
                "protocol",
                "cells",
                "model",
                "accuracy",
                "macro-F1",
                "balanced accuracy",
                "per-sample accuracy",
                "per-sample macro-F1",
            ],
            metric_rows,
        ),
    )
    calls = ", ".join(f"{s['sample']} {s['predicted_cancer_type']}" for s in samples)
    return (
        f"cytokine: {adata.n_obs} synthetic cells, per-sample calls {calls} "
        f"({agree}/{len(samples)} follow the raised genes)"
    )
