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
