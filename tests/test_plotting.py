"""Figures: what the panels say, read back from the matplotlib figure before it is closed."""

import numpy as np

from txformers import plotting


def _capture(monkeypatch) -> list:
    """Figures that plotting closes, kept for inspection."""
    real, figures = plotting.pyplot(), []

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def close(self, figure):
            figures.append(figure)
            real.close(figure)

    monkeypatch.setattr(plotting, "pyplot", Spy)
    return figures


def test_kl_profiles_say_where_the_sequence_ends(tmp_path, monkeypatch):
    figures = _capture(monkeypatch)
    items = [
        {"kl": np.full(150, 1e-3), "position": 140, "sites": [], "label": "near the end", "score": 0.25},
        {"kl": np.full(400, 1e-3), "position": 200, "sites": [201], "label": "inside", "score": 0.5},
        {"kl": np.full(60, 1e-3), "position": 20, "sites": [], "label": "short", "score": 1.0, "score_name": "x"},
    ]
    plotting.plot_kl_profiles(items, tmp_path / "kl.png", max_distance=100)
    assert (tmp_path / "kl.png").stat().st_size > 0
    axes = figures[0].axes
    assert [[text.get_text() for text in axis.texts] for axis in axes] == [
        ["sequence ends at +9 nt (grey: no sequence)"],
        [],
        ["sequence starts at -20 nt; sequence ends at +39 nt (grey: no sequence)"],
    ]
    assert axes[0].get_title().endswith("kl_context 0.25") and axes[2].get_title().endswith("x 1")


def test_embeddings_axes_give_the_variance_and_both_legends(tmp_path, monkeypatch):
    figures = _capture(monkeypatch)
    points = np.random.default_rng(0).normal(size=(6, 2))
    plotting.plot_embeddings(
        points, ["T", "B", "T", "B", "T", "B"], ["s1", "s1", "s2", "s2", "s3", "s3"], tmp_path / "pca.png", "t",
        explained=[0.3, 0.21],
    )  # fmt: skip
    (axis,) = figures[0].axes
    assert axis.get_xlabel() == "PC 1 (30% of the variance)" and axis.get_ylabel() == "PC 2 (21% of the variance)"
    legends = [child for child in axis.get_children() if type(child).__name__ == "Legend"]
    labels = sorted(tuple(text.get_text() for text in legend.get_texts()) for legend in legends)
    assert labels == [("B", "T"), ("s1", "s2", "s3")]


def test_label_fraction_plot_draws_each_model_at_its_fractions(tmp_path, monkeypatch):
    figures = _capture(monkeypatch)

    def stats(values):
        return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)), "values": values}

    rows = [
        {
            "model": model,
            "label_fraction": f,
            "test_donor_auroc": stats([a, a + 0.01]),
            "test_acceptor_auroc": stats([a, a]),
        }
        for model, base in (("cnn", 0.8), ("splicebert-pretrained", 0.9))
        for f, a in ((0.01, base), (1.0, base + 0.05))
    ]
    plotting.plot_label_fraction({"rows": rows}, tmp_path / "lf.png")
    assert (tmp_path / "lf.png").stat().st_size > 0
    donor, acceptor = figures[0].axes
    assert donor.get_xscale() == "log" and "donor" in donor.get_title() and "acceptor" in acceptor.get_title()
    lines = {bars.get_label(): bars.lines[0] for bars in acceptor.containers}  # errorbar: (data line, caps, bars)
    assert set(lines) == {"cnn", "splicebert-pretrained"}
    assert np.allclose(lines["splicebert-pretrained"].get_ydata(), [0.9, 0.95])
    assert np.allclose(lines["cnn"].get_xdata(), [0.01, 1.0])
