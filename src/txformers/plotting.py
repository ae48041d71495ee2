"""Every figure txformers draws (demo, CLI, cards)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (figures are written to files; no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- cytokine ---
def _savefig(figure: Any, path: str | Path, dpi: int) -> None:
    """``figure.savefig`` through a temporary file (the format from ``path``'s suffix): a failed or killed write
    keeps the previous figure whole."""
    from .io import atomic_path

    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi)


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
    _savefig(figure, path, dpi=130)
    plt.close(figure)
    return path


# --- drug response ---
def plot_critical_genes(result: dict[str, Any], path: str | Path, n_genes: int = 25, title: str | None = None) -> Path:
    """Horizontal bar plot of the top critical genes (:func:`txformers.tasks.drug_response.critical_genes.
    critical_genes`): mean attribution (signed; colour = direction), error bars = sd over seeds of the absolute
    attribution; stability in the title. Written as PNG."""
    plt = pyplot()
    top = result["ranking"].head(n_genes).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(top) + 1.5))
    colors = ["#c0392b" if value > 0 else "#2e86c1" for value in top["mean_attribution"]]
    ax.barh(top["gene"], top["mean_abs_attribution"], xerr=top["sd_over_seeds"], color=colors)
    ax.set_xlabel(
        "mean |integrated gradient| (error bars: sd over seeds)\n"
        "red: pushes towards sensitive, blue: towards resistant",
        fontsize=9,
    )
    stable = result["stability"]
    ax.set_title(
        (title + "\n" if title else "")
        + f"top-{stable['top']} Jaccard {stable['jaccard_top']:.2f}, Spearman {stable['spearman']:.2f} "
        f"over {stable['n_seeds']} seeds",
        fontsize=9,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _savefig(fig, path, dpi=120)
    plt.close(fig)
    return path


# --- demo ---
def plot_roc(curves: dict[str, tuple[Any, Any, float]], path: str | Path, title: str) -> None:
    """ROC curves, one per model: ``curves`` maps a name to (false positive rates, true positive rates, AUROC)."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(4.8, 4.6))
    for (name, (fpr, tpr, auroc)), color in zip(curves.items(), ("tab:purple", "tab:green")):
        axis.plot(fpr, tpr, color=color, linewidth=1.6, label=f"{name} (AUROC {auroc:.3f})")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_title(title, fontsize=9)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    _savefig(figure, path, dpi=110)
    plt.close(figure)


def plot_fewshot(table: list[dict[str, Any]], labels: list[str], path: str | Path) -> None:
    """Grouped bars of saved few-shot results: AUROC and accuracy of meta / no-meta / logistic regression for each
    row of ``table`` (labelled ``labels``: dataset and k)."""
    plt = pyplot()
    models = [
        ("meta", "MetaSCDrug (meta)", "tab:purple"),
        ("nometa", "no meta-training", "tab:green"),
        ("logistic_regression", "logistic regression", "tab:grey"),
    ]
    x = np.arange(len(table))
    figure, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.9 * len(table) + 1.5), 6.0), sharex=True)
    for axis, metric in zip(axes, ("auroc", "accuracy")):
        for offset, (key, name, color) in zip((-0.27, 0.0, 0.27), models):
            values = [row.get(key, {}).get(metric, np.nan) for row in table]
            axis.bar(x + offset, values, width=0.26, color=color, label=name)
        axis.set_ylabel(metric if metric == "accuracy" else "AUROC")
        axis.set_ylim(0.4, 1.0)  # both metrics end at 1
        axis.axhline(0.5, color="black", linewidth=0.5, linestyle=":")
    axes[0].legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), fontsize=8, ncol=3, frameon=False)
    axes[0].set_title(
        "Saved few-shot results on real single cells (mean over seeds; k labelled cells per class)", fontsize=9
    )
    axes[1].set_xticks(x, labels, fontsize=8)
    figure.tight_layout()
    _savefig(figure, path, dpi=110)
    plt.close(figure)


def plot_label_fraction(table: dict[str, Any], path: str | Path, title: str | None = None) -> None:
    """Test AUROC (mean over seeds, error bars 1 SD, every seed a dot) against the fraction of labelled windows,
    one line per model, one panel per site type: ``table`` is ``nt_report.label_fraction_table``'s output."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(9.0, 3.8), sharey=True)
    models = sorted({row["model"] for row in table["rows"]})
    for axis, site in zip(axes, ("donor", "acceptor")):
        for model in models:
            rows = sorted((r for r in table["rows"] if r["model"] == model), key=lambda r: r["label_fraction"])
            x = np.array([r["label_fraction"] for r in rows])
            stats = [r[f"test_{site}_auroc"] for r in rows]
            mean = np.array([m["mean"] for m in stats])
            sd = np.array([m["sd"] if m["sd"] is not None else 0.0 for m in stats])
            line = axis.errorbar(x, mean, yerr=sd, marker="o", markersize=4, capsize=3, label=model)
            for xi, m in zip(x, stats):
                axis.scatter([xi] * len(m["values"]), m["values"], s=8, color=line[0].get_color(), alpha=0.4)
        axis.set_xscale("log")
        axis.set_xlabel("fraction of labelled Train windows")
        axis.set_title(f"{site} (Test windows' centres)", fontsize=9)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("Test AUROC")
    axes[1].legend(fontsize=8, loc="lower right")
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    _savefig(figure, path, dpi=110)
    plt.close(figure)


def plot_embeddings(
    points: Any, cell_types: Any, samples: Any, path: str | Path, title: str, explained: Any = None
) -> None:
    """Cells in two dimensions (``points``: n x 2, e.g. the first two principal components of embeddings),
    coloured by cell type, one marker per sample (two legends); ``explained`` (the two components' fractions of
    the variance) goes on the axes."""
    from matplotlib.lines import Line2D

    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7.2, 4.8))
    cell_types, samples = np.asarray(cell_types), np.asarray(samples)
    markers = dict(zip(sorted(set(samples)), "osD^vP*X"))
    colors = dict(zip(sorted(set(cell_types)), ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
    for cell_type, color in colors.items():
        for sample, marker in markers.items():
            chosen = (cell_types == cell_type) & (samples == sample)
            if chosen.any():
                axis.scatter(points[chosen, 0], points[chosen, 1], s=26, marker=marker, color=color, alpha=0.8)
    for index, name in enumerate(("PC 1", "PC 2")):
        label = name if explained is None else f"{name} ({float(explained[index]):.0%} of the variance)"
        (axis.set_xlabel if index == 0 else axis.set_ylabel)(label, fontsize=10)
    axis.set_title(title, fontsize=10)
    by_type = [Line2D([], [], marker="o", linestyle="", color=c, markersize=7, label=t) for t, c in colors.items()]
    by_sample = [
        Line2D([], [], marker=m, linestyle="", color="0.3", markersize=7, label=str(s)) for s, m in markers.items()
    ]
    first = axis.legend(
        handles=by_type, title="cell type", fontsize=9, title_fontsize=9, loc="upper left",
        bbox_to_anchor=(1.01, 1.0), frameon=False,
    )  # fmt: skip
    axis.add_artist(first)
    axis.legend(
        handles=by_sample, title="sample", fontsize=9, title_fontsize=9, loc="lower left",
        bbox_to_anchor=(1.01, 0.0), frameon=False,
    )  # fmt: skip
    figure.tight_layout()
    _savefig(figure, path, dpi=110)
    plt.close(figure)


# --- splicing ---
def plot_splice_track(
    result: dict[str, Any],
    name: str,
    path: str | Path,
    threshold: float = 0.5,
    *,
    sites: tuple[int, int] | None = None,
    title: str | None = None,
) -> None:
    """Donor probabilities up, acceptor probabilities down, along the sequence (1-based positions), from a
    ``"splice-site-prediction"`` pipeline result.

    ``sites``: known (donor, acceptor) positions (0-based) to mark with triangles; ``title`` replaces the default.
    """
    plt = pyplot()
    length = len(result["sequence"])
    figure, axis = plt.subplots(figsize=(10, 3.2))
    donors, acceptors = result["donor_positions"], result["acceptor_positions"]
    axis.vlines(donors + 1, 0, result["donor_prob"][donors], color="tab:blue", linewidth=1, label="donor (each GT)")
    axis.vlines(
        acceptors + 1, 0, -result["acceptor_prob"][acceptors], color="tab:red", linewidth=1, label="acceptor (each AG)"
    )
    if sites is not None:
        for position, y, label in ((sites[0], 1.0, "known donor"), (sites[1], -1.0, "known acceptor")):
            axis.plot([position + 1], [y], marker="v" if y > 0 else "^", color="black", markersize=9, label=label)
    for level in (threshold, -threshold):
        axis.axhline(level, color="grey", linestyle="--", linewidth=0.8)
    axis.axhline(0, color="black", linewidth=0.6)
    axis.set_xlim(0, length + 1)
    axis.set_ylim(-1.1, 1.1)
    axis.set_yticks([-1, -0.5, 0, 0.5, 1], ["1", "0.5", "0", "0.5", "1"])
    axis.set_xlabel("position (nt, 1-based)")
    axis.set_ylabel("acceptor  |  donor")
    axis.set_title(title or f"{name} ({length} nt): splice-site probabilities, threshold {threshold:g}", fontsize=10)
    axis.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    figure.tight_layout()
    _savefig(figure, path, dpi=100)
    plt.close(figure)


def plot_kl_profiles(items: list[dict[str, Any]], path: str | Path, max_distance: int) -> None:
    """One panel per variant: KL(mut || wt) by distance to the variant (log scale, floor 1e-6).

    Each item has ``kl`` (the profile), ``position`` (0-based), ``sites`` (0-based splice-site
    dinucleotide positions, shaded), ``label``, ``score`` and optionally ``score_name`` (default
    ``kl_context``). Where the sequence ends inside +-``max_distance`` the panel is greyed beyond the end
    and says so, so a profile that stops early is not read as KL falling to nothing.
    """
    plt = pyplot()
    figure, axes = plt.subplots(len(items), 1, figsize=(9, 2.3 * len(items)), squeeze=False)
    for axis, item in zip(axes[:, 0], items):
        kl, pos = item["kl"], item["position"]
        offsets = np.arange(len(kl)) - pos
        near = np.abs(offsets) <= max_distance
        axis.semilogy(offsets[near], np.maximum(kl[near], 1e-6), color="tab:purple", linewidth=1)
        axis.axvline(0, color="black", linewidth=0.8, linestyle=":")
        for site in item["sites"]:
            if abs(site - pos) <= max_distance:
                axis.axvspan(site - pos - 0.5, site - pos + 0.5, color="tab:orange", alpha=0.4, linewidth=0)
        ends = []
        if pos < max_distance:  # the sequence starts inside the window
            axis.axvspan(-max_distance - 1, -pos - 0.5, color="0.85", linewidth=0)
            ends.append(f"sequence starts at {-pos} nt")
        if len(kl) - 1 - pos < max_distance:  # and/or ends inside it
            axis.axvspan(len(kl) - 1 - pos + 0.5, max_distance + 1, color="0.85", linewidth=0)
            ends.append(f"sequence ends at +{len(kl) - 1 - pos} nt")
        if ends:
            axis.text(
                0.99, 0.95, "; ".join(ends) + " (grey: no sequence)", transform=axis.transAxes, ha="right",
                va="top", fontsize=8, color="0.3",
            )  # fmt: skip
        axis.set_xlim(-max_distance - 1, max_distance + 1)
        axis.set_ylabel("KL(mut||wt)")
        axis.set_title(f"{item['label']}: {item.get('score_name', 'kl_context')} {item['score']:.3g}", fontsize=9)
    axes[-1, 0].set_xlabel("distance to the variant (nt); orange: splice-site dinucleotides")
    figure.tight_layout()
    _savefig(figure, path, dpi=100)
    plt.close(figure)
