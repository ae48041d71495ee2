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
* ``rank``: rank of the gene within its cancer by ``auroc``, ties by ``cohens_d`` (1 = most over-expressed).
  AUROC is rank-based, so a few cells with a high value cannot outweigh a lower detection rate, as they
  can for Cohen's d on sparse single-cell data.

The **top genes** of a cancer (:func:`top_genes`, the heatmap) are its best-ranked genes that are
over-expressed by both measures (``auroc > 0.5`` and ``cohens_d > 0``); a cancer may have fewer than asked.
Saved as a TSV (one row per cancer x gene) and a heatmap PNG (top genes per cancer: AUROC, and
attribution when computed). Read the result with the study confound in mind: when each cancer comes
from one study, "distinguishing" also means "distinguishing the study" (platform, cell-type mix).

    python -m txformers.tasks.cytokine.patterns --scrna-dir ../shared/data/scrna \\
        --model checkpoints/cellformer-cancer-type --output-dir results/cellformer/patterns
    python -m txformers.tasks.cytokine.patterns --h5ad cells.h5ad --label-column cancer_type --output-dir out
    txformers cytokine patterns --manifest samples.tsv --model checkpoints/cellformer-cancer-type --out out

Inputs: the immune cells of a tumour-immune manifest (:class:`~txformers.datasets.tumor_immune.TumorImmuneBuilder`,
cytokine genes measured in every sample), or every cell of one AnnData with a cancer-type ``obs`` column
(:func:`cells_from_h5ad`; filter it to immune cells first). Outputs in the output folder:
``cytokine_patterns.tsv``, ``cytokine_patterns.png`` and ``cytokine_patterns.json`` (the command, the input,
cells per cancer, the top genes per cancer).

Example:

```python
>>> import numpy as np
>>> from txformers.tasks.cytokine.patterns import cytokine_pattern_table
>>> X = np.array([[2.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
>>> table = cytokine_pattern_table(X, ["IFNG", "IL10"], np.array(["lung", "lung", "renal", "renal"]))
>>> row = table.query("cancer_type == 'lung' and gene == 'IFNG'").iloc[0]
>>> float(row["detection_rate"]), float(row["auroc"]), int(row["rank"])
(1.0, 1.0, 1)

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
    "cancer_type",
    "gene",
    "family",
    "n_cells",
    "detection_rate",
    "detection_rate_rest",
    "mean_expression",
    "mean_expression_rest",
    "cohens_d",
    "auroc",
    "attribution",
    "rank",
]


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
        from ...data import cytokine_table

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
        order = np.lexsort((-frame["cohens_d"].to_numpy(), -frame["auroc"].to_numpy()))
        frame["rank"] = np.argsort(order) + 1
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
            values,
            baselines=baseline,
            target=torch.as_tensor(targets[start : start + batch_size]),
            additional_forward_args=(part["input_ids"], part["attention_mask"], part.get(other_key)),
            n_steps=n_steps,
        )
        per_token = attributions.sum(-1).detach().numpy() * genes.numpy()
        rows, positions = np.nonzero(genes.numpy())
        for row, position in zip(rows, positions):
            result[start + row, column[int(part["input_ids"][row, position])]] += per_token[row, position]
    return result


def top_rows(table: pd.DataFrame, top: int) -> pd.DataFrame:
    """The top genes of every cancer: best ``rank`` first, over-expressed by both AUROC and Cohen's d."""
    over = table[(table["auroc"] > 0.5) & (table["cohens_d"] > 0)]
    return over.sort_values(["cancer_type", "rank"]).groupby("cancer_type", sort=True).head(top)


def top_genes(table: pd.DataFrame, top: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Up to ``top`` genes over-expressed in every cancer (AUROC > 0.5 and Cohen's d > 0), best rank first,
    with their statistics (NaN written as None, so the result is valid JSON)."""
    keep = ["gene", "detection_rate", "detection_rate_rest", "cohens_d", "auroc", "attribution"]
    tidy = lambda v: (None if np.isnan(v) else round(v, 4)) if isinstance(v, float) else v  # noqa: E731 (NaN: not JSON)
    rows = top_rows(table, top)
    return {
        cancer: [
            {k: tidy(v) for k, v in row.items()} for row in rows[rows["cancer_type"] == cancer][keep].to_dict("records")
        ]
        for cancer in sorted(table["cancer_type"].unique())
    }


OUTPUT_NAMES = ("cytokine_patterns.tsv", "cytokine_patterns.png", "cytokine_patterns.json")
CONFOUND_NOTE = (
    "One-vs-rest statistics over cells. Where each cancer type comes from one study, a gene that separates a "
    "cancer also separates its study (platform, lab, cell-type mix): read the patterns as hypotheses."
)


def output_paths(output_dir: str | Path) -> list[Path]:
    """The files :func:`write_patterns` writes into ``output_dir`` (table, heatmap, summary)."""
    return [Path(output_dir) / name for name in OUTPUT_NAMES]


def cells_from_h5ad(
    path: str | Path,
    label_column: str,
    layer: str | None = None,
    gene_column: str | None = None,
    genes: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str], np.ndarray, dict[str, Any]]:
    """Cells of one AnnData as ``(X, genes, labels, info)``: log1p(CP10k) of the cytokine genes it measures.

    Raw counts and linear values are scaled to 10,000 per cell over all its genes, then log1p (the
    tokenizer's panel mode, as the tumour-immune builder does); log-normalised values are used as they are.
    Cells without a label are left out (counted in ``info``). ``genes`` defaults to the 185 cytokine genes.
    """
    from ...data import cytokine_genes
    from ...datasets.cells import read_cells
    from ...tokenizers.gene_vocabulary import GeneCoverageError
    from ...tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

    adata = read_cells(path)
    if label_column not in adata.obs.columns:
        raise ValueError(f"{path}: no obs column {label_column!r} (columns: {list(adata.obs.columns)[:20]})")
    labels = adata.obs[label_column].astype(object).to_numpy()
    unlabelled = np.array(
        [
            label is None or (isinstance(label, float) and np.isnan(label)) or str(label).strip() == ""
            for label in labels
        ]
    )
    panel = GeneExpressionTokenizer.from_genes(list(genes) if genes is not None else cytokine_genes(), mode="panel")
    scale = GeneExpressionTokenizer.detect_scale(adata, layer=layer)
    if scale == "scaled":
        raise ValueError(
            f"{path}: the expression has negative values (scaled or z-scored); give raw counts or "
            "log-normalised values (e.g. --layer counts)"
        )
    try:
        encoded = panel(adata, mode="panel", layer=layer, gene_column=gene_column, min_coverage=0.0)
    except GeneCoverageError as error:
        raise ValueError(f"{path}: {error}") from None
    present = ~encoded["missing_mask"][0] if len(encoded["missing_mask"]) else np.zeros(len(panel.genes), dtype=bool)
    kept_genes = [gene for gene, keep in zip(panel.genes, present) if keep]
    X = np.asarray(encoded["expression"], dtype=np.float64)[~unlabelled][:, present]
    info = {
        "source": str(path),
        "label_column": label_column,
        "scale": scale,
        "cells_without_label": int(unlabelled.sum()),
        "panel_genes_missing": [gene for gene, keep in zip(panel.genes, present) if not keep],
    }
    return X, kept_genes, np.asarray(labels[~unlabelled]).astype(str), info


def model_attributions(
    model_dir: str | Path,
    X: np.ndarray,
    genes: Sequence[str],
    labels: np.ndarray,
    n_steps: int = 32,
    batch_size: int = 64,
) -> np.ndarray:
    """Cells x genes integrated-gradients attribution of each gene toward the cell's own label, from a saved
    ``CellformerForCellClassification`` (and its tokenizer) in ``model_dir``; genes outside the model's
    vocabulary get NaN. Every label must be one of the model's classes."""
    from ...models.cellformer import CellformerForCellClassification
    from ...tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
    from .cancer_type import encode_cells

    model = CellformerForCellClassification.from_pretrained(model_dir).eval()
    tokenizer = GeneExpressionTokenizer.from_pretrained(model_dir)
    classes = [model.config.id2label[i] for i in range(model.config.num_labels)]
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown} are not classes of the model in {model_dir} (its classes: {classes})")
    known = np.array([tokenizer.convert_tokens_to_ids(gene) != tokenizer.unk_token_id for gene in genes])
    if not known.any():
        raise ValueError(f"none of the genes {list(genes)[:10]} is in the vocabulary of the model in {model_dir}")
    used = [gene for gene, keep in zip(genes, known) if keep]
    inputs = encode_cells(tokenizer, np.asarray(X)[:, known], used)
    targets = np.array([classes.index(label) for label in labels])
    attribution = np.full(np.shape(X), np.nan)
    attribution[:, known] = integrated_gradients(
        model, inputs, targets, tokenizer.convert_tokens_to_ids(used), n_steps=n_steps, batch_size=batch_size
    )
    bad = ~np.isfinite(attribution[:, known])
    if bad.any():  # issue 17 item 11: no table of NaN attributions
        from ...io import UserError

        raise UserError(
            f"{int(bad.sum())} of {bad.size} integrated-gradients attributions from {model_dir} are NaN or infinite; "
            "nothing was written (corrupt weights, or inputs the model cannot handle)"
        )
    return attribution


def write_patterns(
    table: pd.DataFrame, output_dir: str | Path, summary: dict[str, Any], top: int = 6, title: str | None = None
) -> list[Path]:
    """Write the table (TSV), the heatmap (PNG) and ``summary`` plus the top genes per cancer (JSON)."""
    from ...io import atomic_path, atomic_write_text
    from ...plotting import plot_heatmap

    tsv, png, summary_path = output_paths(output_dir)
    tsv.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(tsv) as temporary:  # a failed or killed write keeps the previous file whole
        table.to_csv(temporary, sep="\t", index=False, float_format="%.5g")
    plot_heatmap(table, png, top=top, title=title or "Cytokines of tumour immune cells by cancer type (one-vs-rest)")
    summary = {**summary, "top_genes": top_genes(table), "note": CONFOUND_NOTE}
    atomic_write_text(summary_path, json.dumps(summary, indent=1, default=str) + "\n")
    return [tsv, png, summary_path]


def run_patterns(
    X: np.ndarray,
    genes: Sequence[str],
    labels: np.ndarray,
    output_dir: str | Path,
    model_dir: str | Path | None = None,
    n_steps: int = 32,
    top: int = 6,
    summary: dict[str, Any] | None = None,
    studies: np.ndarray | None = None,
) -> dict[str, Any]:
    """Pattern table (with attributions when ``model_dir`` is given), heatmap and summary in ``output_dir``.

    With ``studies`` (the study of each cell), the summary also holds ``top_genes_within_study``: the top
    genes of the cancers of every study holding two or more, one-vs-rest among that study's cells only (no
    platform or lab difference between the groups compared).
    """
    labels = np.asarray(labels).astype(str)
    attribution = model_attributions(model_dir, X, genes, labels, n_steps=n_steps) if model_dir else None
    table = cytokine_pattern_table(X, genes, labels, attribution)
    counts = pd.Series(labels).value_counts().sort_index()
    within: dict[str, Any] = {}
    if studies is not None:
        studies = np.asarray(studies).astype(str)
        for study in sorted(set(studies)):
            mask = studies == study
            if len(set(labels[mask])) >= 2:
                part = cytokine_pattern_table(np.asarray(X)[mask], genes, labels[mask])
                within[study] = {
                    "cells_per_cancer_type": {
                        str(k): int(v) for k, v in pd.Series(labels[mask]).value_counts().sort_index().items()
                    },
                    "top_genes": top_genes(part),
                }
    one_study_each = studies is not None and all(len(set(studies[labels == name])) == 1 for name in counts.index)
    result = {
        **(summary or {}),
        "cells": int(len(labels)),
        "cells_per_cancer_type": {str(k): int(v) for k, v in counts.items()},
        "genes": list(genes),
        "attribution_model": str(model_dir) if model_dir else None,
        "integrated_gradients_steps": n_steps if model_dir else None,
    }
    if model_dir:
        result["attribution_note"] = (
            "Integrated gradients explain the model's logit of each cell's own cancer type; on cells the model was "
            "trained on (the bundled checkpoint saw every --scrna-dir cell) they show what it learnt, not held-out "
            "evidence."
        )
    if studies is not None:
        result["every_cancer_from_one_study"] = one_study_each
        result["top_genes_within_study"] = within
    title = "Cytokines of tumour immune cells by cancer type (one-vs-rest)"
    if one_study_each:
        title += "\neach cancer type comes from a single study: differences include study differences"
    write_patterns(table, output_dir, result, top=top, title=title)
    return {**result, "top_genes": top_genes(table)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--scrna-dir", help="the shared real scRNA folder (../shared/data/scrna)")
    source.add_argument("--manifest", help="a tumour-immune manifest (see txformers.datasets.tumor_immune)")
    source.add_argument("--h5ad", help="one AnnData whose cells carry their cancer type (--label-column)")
    parser.add_argument("--label-column", help="obs column with the cancer type of each cell (--h5ad)")
    parser.add_argument("--layer", help="AnnData layer to read instead of X (--h5ad)")
    parser.add_argument("--model", help="CellformerForCellClassification folder (with its tokenizer) for attributions")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--top", type=int, default=6, help="genes per cancer in the heatmap")
    parser.add_argument("--n-steps", type=int, default=32, help="integrated-gradients steps")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    if args.h5ad and not args.label_column:
        parser.error("--h5ad needs --label-column")
    existing = [str(path) for path in output_paths(args.output_dir) if path.exists()]
    if existing and not args.overwrite:
        parser.error(f"{existing} exist; pass --overwrite to replace them or choose another --output-dir")

    summary: dict[str, Any] = {
        "command": "python -m txformers.tasks.cytokine.patterns " + " ".join(argv if argv is not None else sys.argv[1:])
    }
    if args.h5ad:
        X, genes, labels, info = cells_from_h5ad(args.h5ad, args.label_column, layer=args.layer)
        summary["input"] = info
    else:
        from ...datasets.shared_scrna import prepare_real_manifest
        from .cancer_type import confound_report, load_cells

        with tempfile.TemporaryDirectory() as workdir:
            manifest = prepare_real_manifest(args.scrna_dir, workdir) if args.scrna_dir else Path(args.manifest)
            cells = load_cells(manifest, Path(workdir) / "cache")
        X, genes, labels, studies = cells.X, cells.genes, np.array(cells.classes)[cells.y], cells.study
        confound = confound_report(cells)
        summary["input"] = {
            "source": str(args.scrna_dir or args.manifest),
            "samples": len(cells.report.get("samples", [])),
            "studies_per_cancer_type": {name: block["studies"] for name, block in confound["per_cancer"].items()},
        }
    result = run_patterns(
        X,
        genes,
        labels,
        args.output_dir,
        args.model,
        n_steps=args.n_steps,
        top=args.top,
        summary=summary,
        studies=None if args.h5ad else studies,
    )
    print(json.dumps(result["top_genes"], indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
