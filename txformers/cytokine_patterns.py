# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Cytokine patterns of cancer types: which cytokines distinguish the immune cells of each cancer.

For every cancer type and cytokine gene, one-vs-rest over cells:

* ``detection_rate`` / ``detection_rate_rest``: fraction of cells with the gene detected (> 0);
* ``mean_expression`` / ``mean_expression_rest``: mean log1p(CP10k);
* ``cohens_d``: standardised mean difference (pooled SD; 0 when both groups are constant);
* ``auroc``: probability that a cell of the cancer expresses the gene more than a cell of the rest
  (Mann-Whitney U / n1 n2, ties count half; 0.5 = no difference);
* ``attribution`` (with a classifier): mean integrated-gradients attribution of the gene's value to the
  cancer's logit, over the cancer's cells, from a ``CellformerForCellClassification`` (captum's
  ``LayerIntegratedGradients`` on the value embedding; baseline: every detected gene at bin 0, i.e.
  not expressed; undetected genes are not tokens and get 0). ``pip install captum``.
* ``rank``: rank of the gene within its cancer by ``cohens_d`` (1 = most over-expressed).

Saved as a TSV (one row per cancer x gene) and a heatmap PNG (top genes per cancer: effect size, and
attribution when computed). Read the result with the study confound in mind: when each cancer comes
from one study, "distinguishing" also means "distinguishing the study" (platform, cell-type mix).

    python -m txformers.cytokine_patterns --scrna-dir ../shared/data/scrna \\
        --model checkpoints/cellformer-cancer-type --output-dir results/cellformer

Example:

```python
>>> import numpy as np
>>> from txformers.cytokine_patterns import cytokine_pattern_table
>>> X = np.array([[2.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
>>> table = cytokine_pattern_table(X, ["IFNG", "IL10"], np.array(["lung", "lung", "renal", "renal"]))
>>> table.query("cancer_type == 'lung' and gene == 'IFNG'")[["detection_rate", "auroc", "rank"]].values.tolist()
[[1.0, 1.0, 1]]

```
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = [
    "cancer_type", "gene", "family", "n_cells", "detection_rate", "detection_rate_rest", "mean_expression",
    "mean_expression_rest", "cohens_d", "auroc", "attribution", "rank",
]  # fmt: skip


def cytokine_pattern_table(
    X: np.ndarray,
    genes: Sequence[str],
    labels: Sequence[str],
    attribution: np.ndarray | None = None,
    families: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One-vs-rest statistics of every gene for every label (see the module docstring).

    Args:
        X: cells x genes expression (log-normalised).
        genes: the gene of each column.
        labels: cancer type of each cell (at least two distinct labels).
        attribution: optional cells x genes attribution of each cell toward its own label.
        families: optional gene -> cytokine family (default: the shipped cytokine table).
    """
    from scipy.stats import rankdata

    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels).astype(str)
    if X.ndim != 2 or X.shape != (len(labels), len(genes)):
        raise ValueError(f"X must be cells x genes = ({len(labels)}, {len(genes)}), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or infinite values")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"one-vs-rest statistics need at least two cancer types, got {classes}")
    if attribution is not None and np.shape(attribution) != X.shape:
        raise ValueError(f"attribution must have the shape of X {X.shape}, got {np.shape(attribution)}")
    if families is None:
        from .data import cytokine_table

        families = {row["gene"]: row["family_level_1"] for row in cytokine_table()}
    ranks = rankdata(X, axis=0)  # average ranks: ties count half in the AUROC
    detected = X > 0
    frames = []
    for name in classes:
        inside = labels == name
        n1, n2 = int(inside.sum()), int((~inside).sum())
        mean1, mean2 = X[inside].mean(0), X[~inside].mean(0)
        var1 = X[inside].var(0, ddof=1) if n1 > 1 else np.zeros(len(genes))
        var2 = X[~inside].var(0, ddof=1) if n2 > 1 else np.zeros(len(genes))
        pooled = np.sqrt(((n1 - 1) * var1 + (n2 - 1) * var2) / max(n1 + n2 - 2, 1))
        d = np.divide(mean1 - mean2, pooled, out=np.zeros(len(genes)), where=pooled > 0)
        auroc = (ranks[inside].sum(0) - n1 * (n1 + 1) / 2) / (n1 * n2)
        frame = pd.DataFrame(
            {
                "cancer_type": name,
                "gene": list(genes),
                "family": [families.get(gene, "") for gene in genes],
                "n_cells": n1,
                "detection_rate": detected[inside].mean(0),
                "detection_rate_rest": detected[~inside].mean(0),
                "mean_expression": mean1,
                "mean_expression_rest": mean2,
                "cohens_d": d,
                "auroc": auroc,
                "attribution": np.asarray(attribution)[inside].mean(0) if attribution is not None else np.nan,
            }
        )
        frame["rank"] = frame["cohens_d"].rank(ascending=False, method="first").astype(int)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def integrated_gradients(
    model: Any,
    inputs: dict[str, Any],
    targets: np.ndarray,
    panel_ids: Sequence[int],
    n_steps: int = 32,
    batch_size: int = 64,
) -> np.ndarray:
    """Cells x genes integrated-gradients attribution of each gene's value to the ``targets`` logit.

    ``inputs`` are a Cellformer's tokenised cells (``input_ids``, ``expression_bins``, ``expression``,
    ``attention_mask``; torch tensors); ``panel_ids`` the vocabulary id of each output column. The
    value embedding (bins) or value encoder (continuous) is interpolated from the baseline (detected
    genes at bin 0 / value 0) to the input; attributions are summed over the hidden dimension.
    """
    try:
        from captum.attr import LayerIntegratedGradients
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("model attributions need captum: pip install captum") from error
    import torch

    model.eval()
    embeddings = model.cellformer.embeddings
    bins_mode = model.config.value_encoding == "bins"
    layer = embeddings.value_embeddings if bins_mode else embeddings.value_encoder
    key = "expression_bins" if bins_mode else "expression"
    column = {int(token): index for index, token in enumerate(panel_ids)}

    def forward(values, input_ids, attention_mask, other):
        extra = {("expression" if bins_mode else "expression_bins"): other} if other is not None else {}
        return model(input_ids=input_ids, attention_mask=attention_mask, **{key: values}, **extra).logits

    explainer = LayerIntegratedGradients(forward, layer)
    n_cells = len(inputs["input_ids"])
    result = np.zeros((n_cells, len(panel_ids)))
    other_key = "expression" if bins_mode else "expression_bins"
    for start in range(0, n_cells, batch_size):
        part = {name: value[start : start + batch_size] for name, value in inputs.items()}
        values = part[key]
        genes = part["attention_mask"].bool() & torch.isin(part["input_ids"], torch.tensor(list(column)))
        baseline = values.masked_fill(genes, 0)
        attributions = explainer.attribute(
            values, baselines=baseline, target=torch.as_tensor(targets[start : start + batch_size]),
            additional_forward_args=(part["input_ids"], part["attention_mask"], part.get(other_key)), n_steps=n_steps,
        )  # fmt: skip
        per_token = attributions.sum(-1).detach().numpy() * genes.numpy()
        rows, positions = np.nonzero(genes.numpy())
        for row, position in zip(rows, positions):
            result[start + row, column[int(part["input_ids"][row, position])]] += per_token[row, position]
    return result


def plot_heatmap(table: pd.DataFrame, path: str | Path, top: int = 6, title: str | None = None) -> Path:
    """Heatmap of the top ``top`` genes per cancer (by Cohen's d): effect size, and attribution when present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = list(dict.fromkeys(table[table["rank"] <= top].sort_values(["cancer_type", "rank"])["gene"]))
    cancers = sorted(table["cancer_type"].unique())
    panels = [("cohens_d", "effect size (Cohen's d, one vs rest)")]
    if table["attribution"].notna().any():
        panels.append(("attribution", "integrated gradients (scaled per cancer)"))
    figure, axes = plt.subplots(1, len(panels), figsize=(2.2 + 1.1 * len(cancers) * len(panels), 1.5 + 0.28 * len(chosen)))
    axes = np.atleast_1d(axes)
    for axis, (column, label) in zip(axes, panels):
        grid = table.pivot(index="gene", columns="cancer_type", values=column).loc[chosen, cancers]
        if column == "attribution":
            scale = grid.abs().max(0).replace(0, 1)
            grid = grid / scale
        limit = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
        image = axis.imshow(grid.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        axis.set_xticks(range(len(cancers)), [c.replace("_", " ") for c in cancers], rotation=45, ha="right")
        axis.set_yticks(range(len(chosen)), chosen)
        axis.set_title(label, fontsize=9)
        figure.colorbar(image, ax=axis, shrink=0.6)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    plt.close(figure)
    return path


def top_genes(table: pd.DataFrame, top: int = 5) -> dict[str, list[dict[str, Any]]]:
    """The ``top`` genes of every cancer by Cohen's d, with their statistics."""
    keep = ["gene", "detection_rate", "detection_rate_rest", "cohens_d", "auroc", "attribution"]
    return {
        cancer: [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
                 for row in group.nsmallest(top, "rank")[keep].to_dict("records")]  # fmt: skip
        for cancer, group in table.groupby("cancer_type")
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--scrna-dir", help="the shared real scRNA folder (../shared/data/scrna)")
    source.add_argument("--manifest", help="a tumour-immune manifest (see txformers.datasets.tumor_immune)")
    parser.add_argument("--model", help="CellformerForCellClassification folder (with its tokenizer) for attributions")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--top", type=int, default=6, help="genes per cancer in the heatmap")
    parser.add_argument("--n-steps", type=int, default=32, help="integrated-gradients steps")
    args = parser.parse_args(argv)

    from .training.cancer_type import encode_cells, load_cells, prepare_real_manifest

    with tempfile.TemporaryDirectory() as workdir:
        manifest = prepare_real_manifest(args.scrna_dir, workdir) if args.scrna_dir else Path(args.manifest)
        cells = load_cells(manifest, Path(workdir) / "cache")
    labels = np.array(cells.classes)[cells.y]
    attribution = None
    if args.model:
        from .models.cellformer import CellformerForCellClassification
        from .tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

        model = CellformerForCellClassification.from_pretrained(args.model)
        tokenizer = GeneExpressionTokenizer.from_pretrained(args.model)
        model_classes = [model.config.id2label[i] for i in range(model.config.num_labels)]
        if sorted(model_classes) != sorted(cells.classes):
            raise ValueError(f"the model predicts {model_classes}, the data holds {cells.classes}")
        inputs = encode_cells(tokenizer, cells.X, cells.genes)
        targets = np.array([model_classes.index(label) for label in labels])
        panel_ids = tokenizer.convert_tokens_to_ids(cells.genes)
        attribution = integrated_gradients(model, inputs, targets, panel_ids, n_steps=args.n_steps)
    table = cytokine_pattern_table(cells.X, cells.genes, labels, attribution)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    table.to_csv(output / "cytokine_patterns.tsv", sep="\t", index=False, float_format="%.5g")
    plot_heatmap(table, output / "cytokine_patterns.png", top=args.top,
                 title="Cytokines of tumour immune cells by cancer type (one study per cancer: confounded)")  # fmt: skip
    summary = {
        "command": "python -m txformers.cytokine_patterns " + " ".join(argv if argv is not None else sys.argv[1:]),
        "cells": int(len(labels)),
        "genes": cells.genes,
        "cancer_types": cells.classes,
        "attribution_model": args.model,
        "top_genes": top_genes(table),
    }
    (output / "cytokine_patterns.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps(summary["top_genes"], indent=1, default=str))
    return summary


if __name__ == "__main__":
    main()
