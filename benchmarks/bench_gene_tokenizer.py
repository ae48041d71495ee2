"""Gene-expression tokenizer throughput (cells/s): txformers `GeneExpressionTokenizer` against the
published recipe of the same mode, on the same raw-count AnnData, with the ratio and an output check.

* rank mode vs **Geneformer**: `TranscriptomeTokenizer.tokenize_anndata` (normalise by the cell's
  total counts x 10,000, divide by the gene medians, one `np.argsort` per cell in a Python loop) then
  `format_cell_features` (truncate, `<cls>` ... `<eos>`), padded to one array. Geneformer is not on
  PyPI, so this is a line-by-line transcription (see `geneformer_rank`); the gene medians are fitted
  once with `GeneExpressionTokenizer.fit` (not timed) and given to both sides.
* bins mode vs **scGPT**: scGPT's own code from the `scgpt` PyPI package, `scgpt.preprocess.Preprocessor`
  (`normalize_total` 1e4, `log1p`, `binning=51`: per cell `np.quantile` + `_digitize`) then
  `scgpt.tokenizer.tokenize_and_pad_batch` (the annotation tutorial's recipe). Needs `scanpy` and
  `pip install --no-deps scgpt` (its full dependency set, torchtext included, does not install next to
  torch 2.13); skipped with a message when either is missing.

Inputs: a seeded synthetic raw-count AnnData (negative-binomial counts, CSR float32, per-gene means
calibrated to the requested density) and, when present, the real wu2020 raw counts in
../shared/data/scrna. Both sides read the same in-memory AnnData (Geneformer reads its file backed,
and builds a `datasets.Dataset`: neither is timed here, which favours the peer).

    OMP_NUM_THREADS=1 python benchmarks/bench_gene_tokenizer.py [--cells 20000] [--genes 20000] [--density 0.075]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import logging
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of  # noqa: E402

from txformers.datasets.cells import read_cells  # noqa: E402
from txformers.hub import SHARED_DATA  # noqa: E402
from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer  # noqa: E402

REAL = SHARED_DATA / "scrna" / "wu2020_200_tcells_4cancers.h5ad"


# ----------------------------------------------------------------------------- inputs
def synthetic_counts(n_cells: int, n_genes: int, density: float, seed: int = 0, theta: float = 2.0):
    """Raw UMI-like counts: NB(mean = size factor x gene mean, dispersion ``theta``), gene means
    log-normal, size factors log-normal; the gene-mean scale is set so that ``density`` of the entries
    are non-zero in expectation. Returns an AnnData with CSR float32 ``X``."""
    import anndata as ad

    rng = np.random.default_rng(seed)
    gene_mean = rng.lognormal(0.0, 1.8, n_genes)
    size = rng.lognormal(0.0, 0.5, n_cells)

    cells_sample, genes_sample = size[:400], gene_mean[: min(n_genes, 4000)]

    def expected_density(scale: float) -> float:
        mu = scale * cells_sample[:, None] * genes_sample[None, :]
        return float(np.mean(1 - (theta / (theta + mu)) ** theta))

    low, high = 1e-6, 1e3
    for _ in range(30):  # bisection on the log scale
        mid = np.sqrt(low * high)
        low, high = (mid, high) if expected_density(mid) < density else (low, mid)
    gene_mean *= np.sqrt(low * high)
    chunks = []
    for start in range(0, n_cells, 1000):
        mu = size[start : start + 1000, None] * gene_mean[None, :]
        counts = rng.negative_binomial(theta, theta / (theta + mu)).astype(np.float32)
        chunks.append(sp.csr_matrix(counts))
    adata = ad.AnnData(sp.vstack(chunks, format="csr"))
    adata.var_names = [f"GENE{i:05d}" for i in range(n_genes)]
    adata.obs_names = [f"cell{i}" for i in range(n_cells)]
    return adata


def real_counts(path: Path):
    """The real wu2020 raw counts, restricted to genes detected in at least one cell (totals unchanged)."""
    adata = read_cells(path)
    X = adata.X.tocsr()
    detected = np.asarray((X != 0).sum(axis=0)).ravel() > 0
    adata = adata[:, detected].copy()
    adata.var_names_make_unique()
    return adata


# ----------------------------------------------------------------------------- peers
def geneformer_rank(
    adata,
    token_ids: np.ndarray,
    medians: np.ndarray,
    model_input_size: int,
    cls_id: int,
    eos_id: int,
    pad_id: int,
    chunk_size: int = 512,
    kind: str = "quicksort",
):
    """Geneformer's rank value encoding, transcribed from `geneformer/tokenizer.py` (Geneformer V2):
    `TranscriptomeTokenizer.tokenize_anndata` with `rank_genes`, then `format_cell_features` with
    `special_token=True`; finally padded to one array as the collator does. Every gene of ``adata`` is in
    the token dictionary here, so ``coding_miRNA_loc`` is every column. ``kind`` is the `np.argsort`
    kind: Geneformer uses the default ("quicksort", not stable); "stable" gives ties in gene order."""

    def rank_genes(gene_vector, gene_tokens):
        # sort by median-scaled gene values
        sorted_indices = np.argsort(-gene_vector, kind=kind)
        return gene_tokens[sorted_indices]

    adata.obs["n_counts"] = np.asarray(adata.X.sum(axis=1)).ravel()  # Geneformer requires it precomputed
    coding_miRNA_loc = np.arange(adata.shape[1])
    norm_factor_vector = medians[coding_miRNA_loc]
    coding_miRNA_tokens = token_ids[coding_miRNA_loc]
    filter_pass_loc = np.array([i for i in range(adata.shape[0])])
    target_sum = 10_000
    tokenized_cells = []
    for i in range(0, len(filter_pass_loc), chunk_size):
        idx = filter_pass_loc[i : i + chunk_size]
        n_counts = adata[idx].obs["n_counts"].values[:, None]
        X_view0 = adata[idx, :].X
        X_view = X_view0[:, coding_miRNA_loc]
        X_norm = X_view / n_counts * target_sum / norm_factor_vector
        X_norm = sp.csr_matrix(X_norm)
        tokenized_cells += [
            rank_genes(X_norm[i].data, coding_miRNA_tokens[X_norm[i].indices]) for i in range(X_norm.shape[0])
        ]
    # format_cell_features (run through datasets.map upstream)
    input_ids = []
    for tokens in tokenized_cells:
        tokens = tokens[0 : model_input_size - 2]  # truncate leaving space for CLS and EOS token
        tokens = np.insert(tokens, 0, cls_id)
        tokens = np.insert(tokens, len(tokens), eos_id)
        input_ids.append(tokens)
    width = max(len(tokens) for tokens in input_ids)
    padded = np.full((len(input_ids), width), pad_id, dtype=np.int64)
    for row, tokens in enumerate(input_ids):
        padded[row, : len(tokens)] = tokens
    return padded


def load_scgpt():
    """scGPT's `preprocess` and `tokenizer.gene_tokenizer` modules from the installed `scgpt` package.

    `import scgpt` runs `scgpt/__init__.py`, which imports the model code (torchtext, flash-attn ...), so
    only these two files are loaded, under a bare `scgpt` parent; when torchtext is absent its `Vocab`
    class (the base class of `GeneVocab`, unused here) is a placeholder. Raises ImportError when scgpt or
    scanpy is not installed.
    """
    spec = importlib.util.find_spec("scgpt")
    if spec is None:
        raise ImportError("scgpt is not installed (pip install --no-deps scgpt)")
    import scanpy  # noqa: F401  (Preprocessor needs it)

    root = Path(next(iter(spec.submodule_search_locations)))
    logger = logging.getLogger("scGPT")
    logger.setLevel(logging.WARNING)
    for name, folder in (("scgpt", root), ("scgpt.tokenizer", root / "tokenizer")):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        package.logger = logger
        sys.modules[name] = package
    if importlib.util.find_spec("torchtext") is None:
        torchtext, vocab = types.ModuleType("torchtext"), types.ModuleType("torchtext.vocab")
        vocab.Vocab = type("Vocab", (), {})
        torchtext.vocab = vocab
        sys.modules.update({"torchtext": torchtext, "torchtext.vocab": vocab})
    modules = []
    for name, path in (
        ("scgpt.preprocess", root / "preprocess.py"),
        ("scgpt.tokenizer.gene_tokenizer", root / "tokenizer" / "gene_tokenizer.py"),
    ):
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
        modules.append(module)
    return modules


def scgpt_bins(scgpt, adata, gene_ids: np.ndarray, max_len: int, vocab: dict, side: str = "both"):
    """scGPT's annotation-tutorial recipe: `Preprocessor(normalize_total=1e4, log1p=True, binning=51)` then
    `tokenize_and_pad_batch(X_binned, gene_ids, max_len, vocab, "<pad>", -2, append_cls=True,
    include_zero_gene=False)`. ``side="one"`` swaps `_digitize`'s default ("both": a value equal to bin
    edges gets a random bin among them) for plain `np.digitize`, the convention txformers follows."""
    import anndata as ad

    preprocess, gene_tokenizer = scgpt
    original = preprocess._digitize
    if side != "both":
        preprocess._digitize = functools.partial(original, side=side)
    try:
        data = ad.AnnData(adata.X)  # fresh object: the Preprocessor adds layers in place
        preprocess.Preprocessor(
            use_key="X",
            filter_gene_by_counts=False,
            filter_cell_by_counts=False,
            normalize_total=1e4,
            result_normed_key="X_normed",
            log1p=True,
            result_log1p_key="X_log1p",
            subset_hvg=False,
            binning=51,
            result_binned_key="X_binned",
        )(data)
    finally:
        preprocess._digitize = original
    return gene_tokenizer.tokenize_and_pad_batch(
        data.layers["X_binned"],
        gene_ids,
        max_len=max_len,
        vocab=vocab,
        pad_token="<pad>",
        pad_value=-2,
        append_cls=True,
        include_zero_gene=False,
        cls_token="<cls>",
        return_pt=True,
    )


# ----------------------------------------------------------------------------- comparisons
def gene_rows(input_ids: np.ndarray, special: set[int]) -> list[np.ndarray]:
    keep = ~np.isin(input_ids, list(special))
    return [row[mask] for row, mask in zip(input_ids, keep)]


def equivalent_up_to_ties(adata, medians: np.ndarray, token_ids: np.ndarray, ours, peer, rtol: float = 1e-6) -> int:
    """Cells whose two gene orders carry the same score (count / total x 1e4 / median) at every rank, to
    ``rtol``: they differ only in the order of genes whose scores are equal up to floating-point rounding
    (e.g. 2 counts of a gene whose median is twice another's, next to 1 count of that other gene)."""
    X = adata.X.tocsr()
    totals = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
    score = np.zeros(int(token_ids.max()) + 1)
    same = 0
    for cell, (a, b) in enumerate(zip(ours, peer)):
        if len(a) != len(b):
            continue
        start, end = X.indptr[cell], X.indptr[cell + 1]
        columns = X.indices[start:end]
        score[token_ids[columns]] = X.data[start:end] / totals[cell] * 1e4 / medians[columns]
        same += bool(np.allclose(score[a], score[b], rtol=rtol, atol=0))
        score[token_ids[columns]] = 0
    return same


def bench_rank(adata, repeats: int, max_length: int, label: str) -> None:
    tok = GeneExpressionTokenizer.from_genes(list(adata.var_names), mode="rank", log1p=False, max_length=max_length)
    tok.fit(adata)
    medians = tok.gene_medians.copy()
    medians[~np.isfinite(medians)] = np.nanmedian(medians)
    tok = GeneExpressionTokenizer.from_genes(
        list(adata.var_names), mode="rank", log1p=False, max_length=max_length, gene_medians=medians
    )
    token_ids = np.asarray(tok.convert_tokens_to_ids(list(adata.var_names)), dtype=np.int64)
    eos_id = tok.vocab_size  # not in the vocabulary: only marks the end of Geneformer's sequences
    special = {tok.pad_token_id, tok.cls_token_id, eos_id}

    def run_ours():
        return tok(adata)["input_ids"]

    def run_peer(kind="quicksort"):
        return geneformer_rank(
            adata, token_ids, medians, max_length + 1, tok.cls_token_id, eos_id, tok.pad_token_id, kind=kind
        )

    ours = gene_rows(run_ours(), special)
    peer = gene_rows(run_peer(), special)
    stable = gene_rows(run_peer("stable"), special)
    n = len(ours)
    identical = sum(np.array_equal(a, b) for a, b in zip(ours, peer))
    identical_stable = sum(np.array_equal(a, b) for a, b in zip(ours, stable))
    equivalent = equivalent_up_to_ties(adata, medians, token_ids, ours, peer)
    truncated = sum(len(a) == max_length - 1 for a in ours)
    t_ours, t_peer = best_of(run_ours, repeats), best_of(run_peer, repeats)
    print(
        f"[rank vs Geneformer, {label}] max_length {max_length} (<cls> + {max_length - 1} genes), "
        f"{truncated}/{n} cells truncated"
    )
    print(
        f"  identical gene order: {identical}/{n} cells vs Geneformer (np.argsort, unstable on ties), "
        f"{identical_stable}/{n} vs Geneformer with stable argsort"
    )
    print(
        f"  same score at every rank (differences only among scores equal to 1e-6, i.e. ties up to "
        f"rounding): {equivalent}/{n} cells"
    )
    print(f"  txformers GeneExpressionTokenizer : {n / t_ours:10.0f} cells/s")
    print(f"  Geneformer tokenize_anndata recipe: {n / t_peer:10.0f} cells/s")
    print(f"  ratio (txformers / Geneformer)    : {t_peer / t_ours:10.1f}x")


def bench_bins(adata, repeats: int, scgpt, label: str) -> None:
    genes = list(adata.var_names)
    detected = np.diff(adata.X.tocsr().indptr).max()
    max_length = int(detected) + 1  # no cell is sampled down (scGPT samples at random, txformers by top genes)
    tok = GeneExpressionTokenizer.from_genes(genes, mode="bins", n_bins=51, max_length=max_length)
    gene_ids = np.asarray(tok.convert_tokens_to_ids(genes), dtype=np.int64)
    vocab = {"<pad>": tok.pad_token_id, "<cls>": tok.cls_token_id}

    def run_ours():
        return tok(adata)

    def run_peer(side="both"):
        return scgpt_bins(scgpt, adata, gene_ids, max_length, vocab, side=side)

    ours = run_ours()
    mask = ours["attention_mask"].astype(bool)
    n = mask.shape[0]
    report = []
    for side in ("both", "one"):
        peer = run_peer(side)
        genes_equal = np.array_equal(ours["input_ids"], peer["genes"].numpy())
        peer_bins = peer["values"].numpy().astype(np.int64)
        bins_equal = (ours["expression_bins"] == peer_bins) | ~mask
        bins_equal[:, 0] = True  # <cls>: bin 0 on both sides
        report.append((side, genes_equal, bins_equal.all(axis=1).sum(), (bins_equal & mask)[:, 1:].sum()))
    total = mask[:, 1:].sum()
    t_ours, t_peer = best_of(run_ours, repeats), best_of(run_peer, repeats)
    print(f"[bins vs scGPT, {label}] n_bins 51, max_length {max_length} (every detected gene kept)")
    for side, genes_equal, cells, values in report:
        name = (
            "scGPT default _digitize(side='both'), random bin on edge ties"
            if side == "both"
            else "scGPT with _digitize(side='one') = np.digitize"
        )
        print(
            f"  vs {name}: gene ids identical: {'yes' if genes_equal else 'NO'}; bins identical in "
            f"{cells}/{n} cells, {values / total:.2%} of {total} values"
        )
    print(f"  txformers GeneExpressionTokenizer       : {n / t_ours:10.0f} cells/s")
    print(f"  scGPT Preprocessor + tokenize_and_pad   : {n / t_peer:10.0f} cells/s")
    print(f"  ratio (txformers / scGPT)               : {t_peer / t_ours:10.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=20_000)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--density", type=float, default=0.075)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-length", type=int, default=2048, help="rank mode, <cls> included")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--modes", default="rank,bins")
    parser.add_argument("--no-real", action="store_true", help="skip the real wu2020 counts")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("txformers").setLevel(logging.ERROR)
    modes = args.modes.split(",")

    scgpt = None
    if "bins" in modes:
        try:
            scgpt = load_scgpt()
        except ImportError as error:
            print(
                f"bins mode: scGPT peer skipped ({error}); install it for the benchmark only with "
                "`pip install scanpy && pip install --no-deps scgpt`"
            )

    start = time.perf_counter()
    datasets = [
        (
            f"synthetic NB {args.cells} cells x {args.genes} genes",
            synthetic_counts(args.cells, args.genes, args.density, args.seed),
        )
    ]
    X = datasets[0][1].X
    print(
        f"synthetic counts: {X.shape[0]} x {X.shape[1]}, density {X.nnz / np.prod(X.shape):.2%}, "
        f"genes detected per cell median {int(np.median(np.diff(X.indptr)))} "
        f"(max {np.diff(X.indptr).max()}), made in {time.perf_counter() - start:.0f} s (seed {args.seed})"
    )
    if not args.no_real:
        if REAL.exists():
            adata = real_counts(REAL)
            datasets.append((f"real wu2020 {adata.n_obs} cells x {adata.n_vars} detected genes", adata))
        else:
            print(f"real data skipped: {REAL} is absent")
    for label, adata in datasets:
        repeats = args.repeats if adata.n_obs > 1000 else max(args.repeats, 5)
        if "rank" in modes:
            bench_rank(adata, repeats, args.max_length, label)
        if "bins" in modes and scgpt is not None:
            bench_bins(adata, repeats, scgpt, label)


if __name__ == "__main__":
    main()
