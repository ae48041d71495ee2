"""Every figure txformers draws (demo, CLI, cards)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (figures are written to files; no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- cytokine ---
def plot_heatmap(table: pd.DataFrame, path: str | Path, top: int = 6, title: str | None = None) -> Path:
    """Heatmap of the cytokine patterns (:func:`txformers.tasks.cytokine.patterns.cytokine_pattern_table`): the top
    ``top`` genes per cancer (:func:`~txformers.tasks.cytokine.patterns.top_rows`), one-vs-rest AUROC, and the
    attribution when present; the number of cells of each cancer is in its label."""
    from .tasks.cytokine.patterns import top_rows

    plt = pyplot()

    chosen = list(dict.fromkeys(top_rows(table, top)["gene"]))
    if not chosen:  # nothing over-expressed anywhere: show the best-ranked genes anyway
        chosen = list(dict.fromkeys(table[table["rank"] <= top].sort_values(["cancer_type", "rank"])["gene"]))
    cancers = sorted(table["cancer_type"].unique())
    n_cells = table.groupby("cancer_type")["n_cells"].first()
    panels = [("auroc", "AUROC, one vs rest (0.5: no difference)")]
    if table["attribution"].notna().any():
        panels.append(("attribution", "integrated gradients (scaled per cancer)"))
    size = (1.8 + (0.75 + 0.55 * len(cancers)) * len(panels), 1.8 + 0.26 * len(chosen))
    figure, axes = plt.subplots(1, len(panels), figsize=size)
    axes = np.atleast_1d(axes)
    for axis, (column, label) in zip(axes, panels):
        grid = table.pivot(index="gene", columns="cancer_type", values=column).loc[chosen, cancers]
        if column == "attribution":
            scale = grid.abs().max(0).replace(0, 1)
            grid = grid / scale
            low, high = -1.0, 1.0
        else:
            low, high = 0.0, 1.0
        image = axis.imshow(grid.to_numpy(dtype=float), cmap="RdBu_r", vmin=low, vmax=high, aspect="auto")
        labels = [f"{c.replace('_', ' ')} ({n_cells[c]})" for c in cancers]
        axis.set_xticks(range(len(cancers)), labels, rotation=45, ha="right")
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
