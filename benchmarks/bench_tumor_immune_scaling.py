"""Scaling of the tumour-immune dataset builder: time and peak memory for 10 and 100 generated samples.

The paper's dataset has 684 samples (~10^6 cells), so memory must not grow with the number of samples.
Generated samples (h5ad, raw counts, ``--cells`` cells x ``--genes`` genes including the cytokines and
PTPRC, ~10 % non-zero) are built into the cytokine-panel dataset (PTPRC rule, normalisation) by
``TumorImmuneBuilder`` in a fresh process per run; the peer is the usual in-memory script
(``anndata.concat`` of all samples, then the same filtering and normalisation with numpy/scipy), run
the same way. Printed: seconds per sample and peak extra memory (RSS above the level after imports)
at 10 and 100 samples, and the 100/10 ratios.

    python benchmarks/bench_tumor_immune_scaling.py            # 10 vs 100 samples
    python benchmarks/bench_tumor_immune_scaling.py --cells 200 --genes 2000 --small 5 --large 50
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import run_isolated  # noqa: E402


def generate(folder: Path, n_samples: int, n_cells: int, n_genes: int, seed: int = 0) -> Path:
    """``n_samples`` h5ad files of raw counts and their manifest (4 cancers, 2 samples per patient)."""
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    from txformers.data import cytokine_genes

    genes = ["PTPRC", *cytokine_genes()]
    genes += [f"GENE{i}" for i in range(n_genes - len(genes))]
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_samples):
        matrix = sp.random(n_cells, n_genes - 1, density=0.1, format="csr", random_state=rng, dtype=np.float32)
        matrix.data = rng.poisson(2.0, size=matrix.nnz).astype(np.float32) + 1
        ptprc = (rng.random(n_cells) < 0.7) * rng.integers(1, 6, size=n_cells)  # ~70 % immune cells
        matrix = sp.hstack([sp.csr_matrix(ptprc[:, None].astype(np.float32)), matrix], format="csr")
        adata = ad.AnnData(
            matrix, obs=pd.DataFrame(index=[f"s{s}c{i}" for i in range(n_cells)]), var=pd.DataFrame(index=genes)
        )
        path = folder / f"sample{s}.h5ad"
        adata.write_h5ad(path)
        rows.append(
            dict(
                path=path.name,
                format="h5ad",
                cancer_type=f"cancer{s % 4}",
                study=f"study{s % 4}",
                patient=f"P{s // 2}",
                sample=f"sample{s}",
                scale="counts",
            )
        )
    pd.DataFrame(rows).to_csv(folder / "manifest.tsv", sep="\t", index=False)
    return folder / "manifest.tsv"


def worker_builder(manifest: str, cache_dir: str) -> dict:
    from _common import peak_extra_rss_mb

    from txformers.datasets.tumor_immune import TumorImmuneBuilder

    result = {}

    def run():
        builder = TumorImmuneBuilder(manifest=manifest, cache_dir=cache_dir, genes="cytokines")
        builder.download_and_prepare()
        result["cells"] = builder.as_dataset()["train"].num_rows

    start = time.perf_counter()
    result["peak_extra_mb"] = peak_extra_rss_mb(run)
    result["seconds"] = time.perf_counter() - start
    return result


def worker_concat(manifest: str) -> dict:
    """The peer: load every sample, concatenate, filter PTPRC > 0, normalise, keep the cytokines."""
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp
    from _common import peak_extra_rss_mb

    from txformers.data import cytokine_genes

    result = {}

    def run():
        table = pd.read_csv(manifest, sep="\t")
        folder = Path(manifest).parent
        adata = ad.concat([ad.read_h5ad(folder / path) for path in table["path"]], index_unique=None)
        X = adata.X.tocsr()
        keep = np.asarray(X[:, adata.var_names.get_loc("PTPRC")].todense()).ravel() > 0
        X = X[keep]
        totals = np.asarray(X.sum(1)).ravel()
        X = sp.diags(1e4 / totals) @ X
        X.data = np.log1p(X.data)
        panel = [adata.var_names.get_loc(g) for g in cytokine_genes() if g in adata.var_names]
        result["cells"] = int(X[:, panel].shape[0])

    start = time.perf_counter()
    result["peak_extra_mb"] = peak_extra_rss_mb(run)
    result["seconds"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=500, help="cells per sample")
    parser.add_argument("--genes", type=int, default=4000, help="genes per sample")
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=100)
    parser.add_argument("--worker", choices=["builder", "concat"], help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "builder":
        print(json.dumps(worker_builder(args.manifest, args.cache_dir)))
        return
    if args.worker == "concat":
        print(json.dumps(worker_concat(args.manifest)))
        return

    results = {}
    for n in (args.small, args.large):
        with tempfile.TemporaryDirectory() as tmp:
            manifest = generate(Path(tmp), n, args.cells, args.genes)
            script = Path(__file__).resolve()
            results[n] = {
                "builder": run_isolated(
                    script,
                    ["--worker", "builder", "--manifest", str(manifest), "--cache-dir", str(Path(tmp) / "cache")],
                ),
                "concat": run_isolated(script, ["--worker", "concat", "--manifest", str(manifest)]),
            }
        for name, r in results[n].items():
            print(
                f"{n:4d} samples ({n * args.cells} cells) {name:8s}: {r['seconds']:7.1f} s "
                f"({r['seconds'] / n:.2f} s/sample), peak extra memory {r['peak_extra_mb']:7.1f} MB, "
                f"{r['cells']} immune cells"
            )
    small, large = results[args.small], results[args.large]
    factor = args.large / args.small
    for name in ("builder", "concat"):
        time_ratio = (large[name]["seconds"] / args.large) / (small[name]["seconds"] / args.small)
        memory_ratio = large[name]["peak_extra_mb"] / max(small[name]["peak_extra_mb"], 1e-6)
        print(f"{name:8s}: {factor:.0f}x samples -> time per sample x{time_ratio:.2f}, peak memory x{memory_ratio:.2f}")
    print(
        f"peak memory at {args.large} samples, builder / in-memory concat: "
        f"{large['builder']['peak_extra_mb'] / max(large['concat']['peak_extra_mb'], 1e-6):.2f}"
    )
    print("RESULT " + json.dumps({"cells_per_sample": args.cells, "genes": args.genes, "results": results}))


if __name__ == "__main__":
    main()
