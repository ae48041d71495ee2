# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Expression matrices to model inputs: reading the input, normalisation scan, and the rank, bins and panel
encodings of :class:`~.tokenization_gene_expression.GeneExpressionTokenizer`, vectorised over cells.

* input: :func:`read_input` takes an AnnData (read by duck typing: anndata is never imported), a pandas
  DataFrame or a matrix (numpy, scipy sparse, torch) plus gene names; :func:`scan_expression` tells raw
  counts from linear, log or scaled values (:func:`normalisation_plan`: whether to normalise);
  :func:`iter_chunks` walks the non-zero entries a chunk of cells at a time, as ``(rows, cols, values)``
  sorted by row then column; :func:`project_to_panel` moves them to vocabulary (panel) positions and
  :func:`normalised_chunks` does both, normalising each cell.
* encodings: :func:`encode_rank` (Geneformer: genes by descending score), :func:`encode_bins` (scGPT:
  per-cell quantile bins, :func:`quantile_bins`) and :func:`encode_panel` (a dense vector over the panel).
* sorting: entries of many cells are sorted within each cell at once on packed uint64 keys (value in the
  high bits, position in the low bits), a block of rows at a time (:func:`sort_within_rows`,
  :func:`rank_within_rows`); the result equals ``np.lexsort`` (stable, ties in vocabulary order).

Portable: imports only the standard library and numpy (copied into checkpoints next to the tokenizer).

Example:

```python
>>> import numpy as np
>>> rows, cols, values = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 1]), np.array([1.0, 3.0, 2.0, 5.0])
>>> gene_ids = np.array([10, 11, 12])  # token id of each panel gene
>>> prefix = np.array([[1], [1]])  # <cls> id 1
>>> encode_rank(rows, cols, values, 2, prefix, 4, gene_ids, pad_id=0)["input_ids"].tolist()
[[1, 11, 12, 10], [1, 11, 0, 0]]

```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

LOG_SCALE_MAX = 50.0  # non-integer data with larger values is linear (TPM, CP10k), not log


# ---------------------------------------------------------------------- input
def is_anndata(data: Any) -> bool:
    return all(hasattr(data, attribute) for attribute in ("X", "var_names", "obs_names", "layers"))


def is_sparse(X: Any) -> bool:
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def matrix_of(data: Any, layer: str | None) -> Any:
    if is_anndata(data):
        if layer is None:
            X = data.X
        else:
            if layer not in data.layers:
                raise KeyError(f"layer {layer!r} is not in the AnnData (layers: {list(data.layers.keys())})")
            X = data.layers[layer]
        if X is None:
            raise ValueError("the AnnData has no X: pass layer=")
    elif hasattr(data, "columns") and hasattr(data, "to_numpy"):
        X = data.to_numpy()
    else:
        X = data
    if is_sparse(X):
        X = X.tocsr() if getattr(X, "format", None) != "csr" else X
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        return X
    if hasattr(X, "detach"):  # torch tensor
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise ValueError(f"expression must be a 2-D cells x genes matrix, got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"expression must be numeric, got dtype {X.dtype}")
    return X


def gene_names_of(data: Any, gene_names: Sequence[Any] | None, gene_column: str | None) -> list[Any]:
    if gene_names is not None:
        return list(gene_names)
    if is_anndata(data):
        return list(data.var[gene_column]) if gene_column else list(data.var_names)
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):
        return list(data.columns)
    if isinstance(data, (list, tuple)) and (not data or not isinstance(data[0], (list, tuple, np.ndarray))):
        return list(data)
    raise ValueError("gene_names are needed when the input is not an AnnData or a DataFrame")


def read_input(data: Any, gene_names: Sequence[Any] | None, layer: str | None, gene_column: str | None):
    """(cells x genes matrix, gene names, cell names or None)."""
    if is_anndata(data) and gene_column is not None and gene_column not in data.var:
        raise KeyError(f"gene_column {gene_column!r} is not a var column (columns: {list(data.var.columns)})")
    X = matrix_of(data, layer)
    names = gene_names_of(data, gene_names, gene_column)
    if len(names) != X.shape[1]:
        raise ValueError(f"{len(names)} gene names for a matrix with {X.shape[1]} genes (columns)")
    if X.shape[0] == 0:
        raise ValueError("the expression matrix has no cells (0 rows): nothing to tokenize")
    if is_anndata(data):
        cells = [str(name) for name in data.obs_names]
    elif hasattr(data, "index") and hasattr(data, "to_numpy"):
        cells = [str(name) for name in data.index]
    else:
        cells = None
    return X, names, cells


def scan_expression(X: Any) -> dict[str, Any]:
    """One pass over the values: NaN check, range, integer-ness, per-cell totals -> scale."""
    values = np.asarray(X.data if is_sparse(X) else X)
    if values.size and not np.isfinite(values).all():
        bad = np.flatnonzero(~np.isfinite(values.ravel()))[0]
        if is_sparse(X):
            row = int(np.searchsorted(X.indptr, bad, side="right") - 1)
            column = int(X.indices[bad])
        else:
            row, column = divmod(int(bad), X.shape[1])
        raise ValueError(
            f"the expression has a non-finite value ({values.ravel()[bad]}) at cell {row}, gene column {column}"
        )
    totals = np.asarray(X.sum(axis=1)).ravel() if X.shape[0] else np.zeros(0)
    info = {
        "min": float(values.min()) if values.size else 0.0,
        "max": float(values.max()) if values.size else 0.0,
        "median_total": float(np.median(totals)) if totals.size else 0.0,
    }
    if info["min"] < 0:
        info["scale"] = "scaled"
    elif info["max"] == 0:
        info["scale"] = "empty"
    elif np.array_equal(values, np.round(values)):
        info["scale"] = "counts"
    elif info["max"] > LOG_SCALE_MAX:
        info["scale"] = "linear"
    else:
        info["scale"] = "log"
    return info


def normalisation_plan(X: Any, mode: str, normalize: bool | str) -> tuple[bool, dict[str, Any]]:
    """Whether to scale each cell to the target sum, and :func:`scan_expression`'s info. ``normalize="auto"``
    scales raw counts and linear values only; negative values are refused outside panel mode and with
    ``normalize=True``."""
    info = scan_expression(X)
    scale = info["scale"]
    if scale == "scaled":
        if mode != "panel":
            raise ValueError(
                f"the expression has negative values (min {info['min']:.3g}: z-scored or centred data?); "
                f"{mode} mode needs non-negative expression (raw counts or log-normalised values). "
                "Use mode='panel' for scaled data, or pass raw counts (e.g. layer='counts')."
            )
        if normalize is True:
            raise ValueError(
                f"normalize=True cannot total-count normalise negative values (min {info['min']:.3g}); "
                "use normalize='auto' or False"
            )
    return normalize is True or (normalize == "auto" and scale in ("counts", "linear")), info


def iter_chunks(X: Any, chunk_size: int):
    """Yield (rows, columns, values, n_rows) of the non-zero entries of row chunks, sorted by row then column."""
    for start in range(0, X.shape[0], max(1, chunk_size)):
        chunk = X[start : start + chunk_size]
        n = chunk.shape[0]
        if is_sparse(chunk):
            chunk = chunk.tocsr()
            rows = np.repeat(np.arange(n), np.diff(chunk.indptr))
            cols = np.asarray(chunk.indices, dtype=np.int64)
            values = np.asarray(chunk.data, dtype=np.float64)
            if not values.all():  # explicit zeros stored in the sparse matrix
                keep = values != 0
                rows, cols, values = rows[keep], cols[keep], values[keep]
            if not chunk.has_sorted_indices:
                order = np.lexsort((cols, rows))
                rows, cols, values = rows[order], cols[order], values[order]
        else:
            chunk = np.asarray(chunk)
            rows, cols = np.nonzero(chunk)
            values = chunk[rows, cols].astype(np.float64)
        yield rows.astype(np.int64, copy=False), cols, values, n


def project_to_panel(rows, cols, values, column_map, sum_duplicates: bool):
    """Move entries from input columns to panel positions; drop unmatched columns; sum duplicates."""
    if len(column_map) and column_map[0] == 0 and np.array_equal(column_map, np.arange(len(column_map))):
        return rows, cols, values  # the input columns are the panel, in order
    targets = column_map[cols]
    keep = targets >= 0
    rows, targets, values = rows[keep], targets[keep], values[keep]
    used = column_map[column_map >= 0]
    if not (used.size and np.all(used[1:] > used[:-1])):  # else input order is vocabulary order already
        n_targets = int(used.max()) + 1 if used.size else 1
        order = np.argsort(rows * n_targets + targets, kind="stable")  # by (row, target), faster than lexsort
        rows, targets, values = rows[order], targets[order], values[order]
    if sum_duplicates and len(rows) > 1:
        new = np.ones(len(rows), dtype=bool)
        new[1:] = (rows[1:] != rows[:-1]) | (targets[1:] != targets[:-1])
        if not new.all():
            starts = np.flatnonzero(new)
            values = np.add.reduceat(values, starts)
            rows, targets = rows[starts], targets[starts]
            nonzero = values != 0
            rows, targets, values = rows[nonzero], targets[nonzero], values[nonzero]
    return rows, targets, values


def normalised_chunks(
    X: Any,
    column_map: np.ndarray,
    chunk_size: int,
    sum_duplicates: bool,
    target_sum: float | None = None,
    log1p: bool = False,
):
    """Yield ``(rows, panel positions, values, n_rows)`` per chunk of cells (:func:`iter_chunks` then
    :func:`project_to_panel`), zeros removed; with ``target_sum``, each cell scaled to ``target_sum`` in total
    over all its input genes (then ``log1p`` when asked)."""
    for rows, cols, values, n in iter_chunks(X, chunk_size):
        factor = None
        if target_sum is not None:
            totals = np.bincount(rows, weights=values, minlength=n)
            factor = np.divide(target_sum, totals, out=np.zeros(n), where=totals > 0)
        rows, cols, values = project_to_panel(rows, cols, values, column_map, sum_duplicates)
        if factor is not None:
            values = values * factor[rows]
            if log1p:
                values = np.log1p(values)
        yield rows, cols, values, n


# ---------------------------------------------------------------------- sorting within rows
_BLOCK_ROWS = 128  # rows laid out and sorted together by _sorted_row_blocks


def _packed_keys(values: np.ndarray, low: np.ndarray, bits: int, descending: bool) -> np.ndarray | None:
    """uint64 keys that order like ``values`` (or ``-values``), with ``low`` in their low ``bits`` bits.

    The float64 bit pattern of a non-negative number orders like the number; the sign bit is dropped and
    the bottom ``bits`` bits give way to ``low``, so values keep 53 - bits mantissa bits (values within
    ~2**(bits - 53) of each other count as tied and are ordered by ``low``). None when a value is negative
    or not finite, or ``bits`` is too large to leave the values enough precision."""
    if bits > 24 or not len(values) or not (values.min() >= 0 and np.isfinite(values).all()):
        return None
    keys = (np.asarray(values, dtype=np.float64) + 0.0).view(np.uint64) << np.uint64(1)  # + 0.0: -0.0 -> 0.0
    if descending:
        np.invert(keys, out=keys)
    keys &= ~np.uint64((1 << bits) - 1)
    keys |= np.ascontiguousarray(low, dtype=np.int64).view(np.uint64)
    return keys


def _sorted_row_blocks(keys: np.ndarray, counts: np.ndarray):
    """Sort the keys of each row (entries grouped by row, ``counts`` per row): yield ``(r0, r1, block)`` for
    every ``_BLOCK_ROWS`` rows, ``block`` holding row ``r0 + i``'s sorted keys in ``block[i, :counts[r0 + i]]``
    (the rest is padding, the largest uint64).

    One padded block per 128 rows sorted with ``np.sort(axis=1)`` (numpy's SIMD sort, a row at a time, in
    cache): several times faster than one argsort over all entries."""
    starts = np.concatenate(([0], np.cumsum(counts)))
    for r0 in range(0, len(counts), _BLOCK_ROWS):
        r1 = min(len(counts), r0 + _BLOCK_ROWS)
        block_counts = counts[r0:r1]
        width = int(block_counts.max())
        if width == 0:
            continue
        block = np.full((r1 - r0, width), np.iinfo(np.uint64).max, dtype=np.uint64)
        first, last = starts[r0], starts[r1]
        shift = np.repeat(np.arange(r1 - r0) * width - (starts[r0:r1] - first), block_counts)
        block.ravel()[shift + np.arange(last - first)] = keys[first:last]
        block.sort(axis=1)
        yield r0, r1, block


def _grouped_counts(rows: np.ndarray, n: int | None = None) -> np.ndarray | None:
    """Entries per row when the entries are grouped by ascending row, else None."""
    if len(rows) > 1 and not np.all(rows[1:] >= rows[:-1]):
        return None
    return np.bincount(rows, minlength=n or 0) if len(rows) else np.zeros(n or 0, dtype=np.int64)


def sort_within_rows(rows: np.ndarray, values: np.ndarray, descending: bool = False) -> np.ndarray:
    """The stable order of entries by (row, value): ``np.lexsort((±values, rows))``, ties kept in input order.

    Entries grouped by row with non-negative values are sorted row by row on packed keys (value high,
    position in the row low: see :func:`_packed_keys`); anything else (every caller here passes grouped
    rows) by ``np.lexsort``."""
    counts = _grouped_counts(rows)
    if counts is not None and len(rows):
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        positions = np.arange(len(rows)) - np.repeat(starts, counts)
        bits = max(1, int(counts.max() - 1).bit_length())
        keys = _packed_keys(values, positions, bits, descending)
        if keys is not None:
            low = np.uint64((1 << bits) - 1)
            order = np.empty(len(rows), dtype=np.int64)
            for r0, r1, block in _sorted_row_blocks(keys, counts):
                block_counts = counts[r0:r1]
                valid = np.arange(block.shape[1])[None, :] < block_counts[:, None]
                first, last = starts[r0], starts[r0] + block_counts.sum()
                order[first:last] = np.repeat(starts[r0:r1], block_counts) + (block[valid] & low).view(np.int64)
            return order
    return np.lexsort((-values if descending else values, rows))


def rank_within_rows(
    rows: np.ndarray,
    cols: np.ndarray,
    score: np.ndarray,
    n: int,
    limit: int,
    labels: np.ndarray,
    fill: int,
    offset: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``labels[cols]`` by descending score, ties by ascending column, at most ``limit`` per row.

    Returns an ``(n, offset + width)`` int64 array (the first ``offset`` columns and the tail of each row hold
    ``fill``; width is the longest kept row) and the kept length of each row. The keys pack the score with
    the column (:func:`_packed_keys`; columns < 2**b, 2**b > ``len(labels)``: for 20,000 genes, scores within
    ~4e-12 of each other count as tied) and are sorted row by row (:func:`_sorted_row_blocks`); entries not
    grouped by row, or scores that are not positive and finite, take ``np.lexsort``.
    """
    counts = _grouped_counts(rows, n)
    lengths = np.minimum(counts if counts is not None else np.bincount(rows, minlength=n), max(limit, 0))
    out = np.full((n, offset + (int(lengths.max()) if n else 0)), fill, dtype=np.int64)
    if not len(rows) or limit <= 0:
        return out, lengths
    bits = max(1, len(labels).bit_length())  # 2**bits - 1 >= len(labels): a padding key's low bits name no column
    keys = _packed_keys(score, cols, bits, descending=True) if counts is not None and score.min() > 0 else None
    if keys is None:
        order = np.lexsort((cols, -score, rows))
        rows_sorted, cols_sorted = rows[order], cols[order]
        positions, _ = positions_in_rows(rows_sorted, n, limit)
        keep = positions < limit
        out[rows_sorted[keep], offset + positions[keep]] = labels[cols_sorted[keep]]
        return out, lengths
    lookup = np.full(1 << bits, fill, dtype=np.int64)
    lookup[: len(labels)] = labels
    for r0, r1, block in _sorted_row_blocks(keys, counts):
        top = block[:, : min(block.shape[1], limit)]
        top &= np.uint64((1 << bits) - 1)
        out[r0:r1, offset : offset + top.shape[1]] = lookup[top.view(np.int64)]
    return out, lengths


def positions_in_rows(sorted_rows: np.ndarray, n: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Position of each entry within its row (entries grouped by row) and the kept length of each row."""
    counts = np.bincount(sorted_rows, minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    positions = np.arange(len(sorted_rows)) - starts[sorted_rows]
    return positions, np.minimum(counts, limit)


def quantile_bins(rows: np.ndarray, values: np.ndarray, n: int, n_bins: int) -> np.ndarray:
    """scGPT value binning, vectorised over cells: for each cell, edges = ``np.quantile(nonzero values,
    np.linspace(0, 1, n_bins - 1))`` and bin = ``np.digitize(value, edges)`` (1..n_bins-1)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if values.min() < 0:
        raise ValueError("bins mode needs non-negative expression")
    order = sort_within_rows(rows, values)
    sorted_rows, sorted_values = rows[order], values[order]
    counts = np.bincount(sorted_rows, minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    present = np.flatnonzero(counts)
    quantiles = np.linspace(0, 1, n_bins - 1)
    # numpy's "linear" quantile: virtual index (n-1)q, lerp between neighbours as np.lib's _lerp does
    virtual = (counts[present, None] - 1) * quantiles[None, :]
    below = np.floor(virtual).astype(np.int64)
    above = np.minimum(below + 1, counts[present, None] - 1)
    gamma = virtual - below
    a = sorted_values[starts[present, None] + below]
    b = sorted_values[starts[present, None] + above]
    diff = b - a
    edges = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    # bin = number of the cell's edges <= value: one searchsorted over (row, value) keys, the row in the top
    # bits and the value's float64 bits below it (order-preserving for non-negative floats; the value keeps
    # 53 - row bits of mantissa, so only values within ~2**(row bits - 53) of an edge can differ from
    # np.digitize)
    n_edges = n_bins - 1
    row_bits = max(1, int(n - 1).bit_length())
    row_rank = np.zeros(n, dtype=np.int64)
    row_rank[present] = np.arange(len(present))

    def keys(key_rows: np.ndarray, key_values: np.ndarray) -> np.ndarray:
        bits = ((key_values + 0.0).view(np.uint64) << np.uint64(1)) >> np.uint64(row_bits)
        return bits | (key_rows.astype(np.uint64) << np.uint64(64 - row_bits))

    edge_keys = np.sort(keys(np.repeat(present, n_edges), edges.ravel()))
    digits = np.searchsorted(edge_keys, keys(sorted_rows, sorted_values), side="right")
    digits -= row_rank[sorted_rows] * n_edges
    bins = np.empty(len(values), dtype=np.int64)
    bins[order] = digits
    return bins


def column_medians(cols: np.ndarray, values: np.ndarray, n_columns: int) -> np.ndarray:
    """Median of the non-zero values of each column (NaN where a column has none)."""
    keep = values != 0
    cols, values = cols[keep], values[keep]
    order = np.lexsort((values, cols))
    sorted_values = values[order]
    counts = np.bincount(cols, minlength=n_columns)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    medians = np.full(n_columns, np.nan)
    has = counts > 0
    low = starts[has] + (counts[has] - 1) // 2
    high = starts[has] + counts[has] // 2
    medians[has] = (sorted_values[low] + sorted_values[high]) / 2
    return medians


def pad_to(array: np.ndarray, width: int, value: Any) -> np.ndarray:
    if array.shape[1] >= width:
        return array[:, :width]
    padded = np.full((array.shape[0], width), value, dtype=array.dtype)
    padded[:, : array.shape[1]] = array
    return padded


def concatenate_padded(parts: list[dict[str, np.ndarray]], width: int, pads: dict[str, Any]) -> dict[str, np.ndarray]:
    """The encodings of consecutive chunks of cells as one: each array padded with ``pads[key]`` (or cut) to
    ``width`` columns, then concatenated; one chunk: its arrays as they are (no copy)."""
    return {
        key: np.ascontiguousarray(pad_to(parts[0][key], width, pads[key]))
        if len(parts) == 1
        else np.concatenate([pad_to(p[key], width, pads[key]) for p in parts])
        for key in parts[0]
    }


# ---------------------------------------------------------------------- encodings
def encode_panel(rows, cols, values, n: int, column_map: np.ndarray, n_genes: int) -> dict[str, np.ndarray]:
    """Panel mode: ``expression`` (n x genes, float32) and ``missing_mask`` (panel genes absent from the input,
    i.e. no input column maps to them in ``column_map``)."""
    expression = np.zeros((n, n_genes), dtype=np.float32)
    expression[rows, cols] = values
    present = np.zeros(n_genes, dtype=bool)
    present[column_map[column_map >= 0]] = True
    return {"expression": expression, "missing_mask": np.broadcast_to(~present, expression.shape).copy()}


def rank_divisor(gene_medians: np.ndarray | None, n_genes: int) -> np.ndarray:
    """Rank mode's per-gene divisor: the fitted medians, the median of the usable ones (finite, positive)
    for the others; all ones when no medians were fitted."""
    if gene_medians is None:
        return np.ones(n_genes)
    medians = gene_medians.copy()
    usable = np.isfinite(medians) & (medians > 0)
    fallback = float(np.median(medians[usable])) if usable.any() else 1.0
    medians[~usable] = fallback
    return medians


def encode_rank(
    rows, cols, scores, n: int, prefix: np.ndarray, max_length: int, gene_ids: np.ndarray, pad_id: int
) -> dict[str, np.ndarray]:
    """Rank mode: each cell's ``prefix`` tokens (``<cls>``, batch token) then its genes' token ids
    (``gene_ids[col]``) by descending score, ties in panel order, at most ``max_length`` tokens in all;
    ``input_ids`` padded with ``pad_id`` to the longest cell, and ``attention_mask``."""
    offset = prefix.shape[1]
    # rows ascending, score descending, ties in vocabulary order (entries come sorted by (row, gene))
    input_ids, lengths = rank_within_rows(rows, cols, scores, n, max_length - offset, gene_ids, pad_id, offset)
    input_ids[:, :offset] = prefix
    attention_mask = (np.arange(input_ids.shape[1])[None, :] < (lengths + offset)[:, None]).astype(np.int64)
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def encode_bins(
    rows,
    cols,
    values,
    n: int,
    prefix: np.ndarray,
    max_length: int,
    n_bins: int,
    bin_pad_value: int,
    sampling: str,
    rng: np.random.Generator,
    gene_ids: np.ndarray,
    pad_id: int,
) -> dict[str, np.ndarray]:
    """Bins mode: each cell's ``prefix`` tokens then its detected genes in panel order, with their quantile
    bin (:func:`quantile_bins`, ``n_bins`` bins, ``bin_pad_value`` at padding) and value; a cell with more genes
    than room keeps its top genes by value (``sampling="top"``, ties in panel order) or a sample drawn from
    ``rng`` (``"random"``). Token ids and padding as in :func:`encode_rank`."""
    limit = max_length - prefix.shape[1]
    bins = quantile_bins(rows, values, n, n_bins)
    draws = rng.random(len(values)) if sampling == "random" else None  # drawn always: one seeded stream
    if len(rows) and np.bincount(rows, minlength=n).max() > limit:  # some cell has more genes than room
        if sampling == "top":  # stable: ties in vocabulary order
            order = sort_within_rows(rows, values, descending=True)
        else:
            order = sort_within_rows(rows, draws)
        positions, _ = positions_in_rows(rows[order], n, limit)
        chosen = np.sort(order[positions < limit])  # back to (row, vocabulary) order
        rows, cols, values, bins = rows[chosen], cols[chosen], values[chosen], bins[chosen]
    positions, lengths = positions_in_rows(rows, n, limit)
    offset = prefix.shape[1]
    width = offset + (int(lengths.max()) if n else 0)
    input_ids = np.full((n, width), pad_id, dtype=np.int64)
    input_ids[:, :offset] = prefix
    input_ids[rows, offset + positions] = gene_ids[cols]
    expression_bins = np.full((n, width), bin_pad_value, dtype=np.int64)
    expression_bins[:, :offset] = 0
    expression_bins[rows, offset + positions] = bins
    expression = np.zeros((n, width), dtype=np.float32)
    expression[rows, offset + positions] = values
    attention_mask = (np.arange(width)[None, :] < (lengths + offset)[:, None]).astype(np.int64)
    return {
        "input_ids": input_ids,
        "expression_bins": expression_bins,
        "expression": expression,
        "attention_mask": attention_mask,
    }


__all__ = [
    "column_medians",
    "concatenate_padded",
    "encode_bins",
    "encode_panel",
    "encode_rank",
    "gene_names_of",
    "is_anndata",
    "is_sparse",
    "iter_chunks",
    "matrix_of",
    "normalisation_plan",
    "normalised_chunks",
    "pad_to",
    "positions_in_rows",
    "project_to_panel",
    "quantile_bins",
    "rank_divisor",
    "rank_within_rows",
    "read_input",
    "scan_expression",
    "sort_within_rows",
]
