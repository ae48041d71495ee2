# Copyright 2026 The txformers authors. BSD-3-Clause.
"""The one reader of AnnData files: every command, task and builder that takes cells calls :func:`read_cells`.

It checks the file by content (an ``.h5ad`` is HDF5; a ``.zarr`` folder is Zarr), so a FASTA or a CSV
passed where cells are expected gets an error that names the file and what it looks like, not a
``UnicodeDecodeError`` from deep inside h5py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class CellsFormatError(ValueError):
    """The file is not an AnnData file (or cannot be read as one)."""


def is_anndata_file(path: str | Path) -> bool:
    """True when ``path`` is an HDF5 file (an ``.h5ad``) or a Zarr store folder, judged by content."""
    path = Path(path)
    if path.is_dir():
        return (path / ".zgroup").exists() or (path / "zarr.json").exists()
    try:
        with open(path, "rb") as handle:
            return handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError:
        return False


def _describe(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    if not head:
        return "an empty file"
    if head.startswith(b">"):
        return "a FASTA file"
    if head[:2] == b"\x1f\x8b":
        return "a gzip file"
    if b"," in head or b"\t" in head:
        return "a text table"
    return "not HDF5"


def read_cells(path: str | Path, *, layer: str | None = None, backed: bool = False) -> Any:
    """Read an AnnData (``.h5ad`` or ``.zarr``) and return it; ``layer`` must exist when given.

    ``backed=True`` opens an ``.h5ad`` read-only without loading X (for large files; ignored with a layer,
    which needs the data in memory).
    """
    import anndata

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not is_anndata_file(path):
        raise CellsFormatError(f"{path} is not an AnnData file (.h5ad or .zarr): it is {_describe(path)}")
    try:
        if path.is_dir():
            adata = anndata.read_zarr(path)
        elif backed and layer is None:
            adata = anndata.read_h5ad(path, backed="r")
        else:
            adata = anndata.read_h5ad(path)
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise CellsFormatError(f"{path}: cannot be read as AnnData ({type(error).__name__}: {error})") from None
    if layer is not None and layer not in adata.layers:
        raise CellsFormatError(f"{path}: no layer {layer!r} (layers: {list(adata.layers)})")
    return adata


def flag_cells(matrix: Any, model_columns: Any, coverage: float, min_coverage: float = 0.1) -> list[str]:
    """Why each cell's prediction is not to be trusted ("" when nothing is wrong), for the cell commands.

    ``matrix`` is cells x genes (dense or sparse), ``model_columns`` the indices of the columns whose genes the
    model knows, ``coverage`` the fraction of the model's genes found in the file. Reasons, joined by ``;``:
    ``all-zero expression``, ``no expressed model genes`` (only genes the model does not know are non-zero) and
    ``low gene coverage`` (under ``min_coverage`` of the model's genes in the file: every cell).
    """
    import numpy as np

    def nonzero_per_row(values: Any) -> np.ndarray:
        if hasattr(values, "getnnz"):
            values = values.tocsr()
            values.eliminate_zeros()
            return np.asarray(values.getnnz(axis=1)).ravel()
        return np.count_nonzero(np.nan_to_num(np.asarray(values, dtype=np.float64)), axis=1)

    total = nonzero_per_row(matrix)
    columns = np.asarray(model_columns, dtype=np.int64)
    known = nonzero_per_row(matrix[:, columns]) if len(columns) else np.zeros_like(total)
    reasons = []
    for all_genes, model_genes in zip(total, known):
        why = []
        if all_genes == 0:
            why.append("all-zero expression")
        elif model_genes == 0:
            why.append("no expressed model genes")
        if coverage < min_coverage:
            why.append(f"low gene coverage ({coverage:.0%} of the model's genes)")
        reasons.append("; ".join(why))
    return reasons


def warn_flagged(
    reasons: list[str], what: str = "cells", results: str = "predictions", where: str = "the flag column"
) -> str | None:
    """One warning line with the counts of flagged cells per reason (None when no cell is flagged); ``results``
    names what is not to be trusted and ``where`` where the flags were written."""
    from collections import Counter

    counts = Counter(part for reason in reasons for part in reason.split("; ") if part)
    if not counts:
        return None
    flagged = sum(bool(reason) for reason in reasons)
    detail = ", ".join(f"{count} {reason}" for reason, count in counts.most_common())
    return (
        f"warning: {flagged} of {len(reasons)} {what} are flagged ({detail}); their {results} are not to be "
        f"trusted (see {where})"
    )
