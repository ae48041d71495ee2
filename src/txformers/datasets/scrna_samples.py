# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Manifests of single-cell samples and their readers: the raw-file side of :mod:`txformers.datasets.tumor_immune`.

:func:`read_manifest` parses and checks a manifest (one row per sample; its columns are described in
:mod:`txformers.datasets.tumor_immune`); :func:`open_sample` opens one sample (an ``.h5ad`` file through
:func:`txformers.datasets.cells.read_cells`, a 10x folder or a CSV/TSV table) and reads it ``chunk_size`` cells
at a time; :func:`is_immune_label` is the annotation rule for immune cells. The tumour-immune builder and
Cellformer pretraining read samples through this module.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .cells import read_cells

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("path", "format", "cancer_type", "study", "patient")
#: Prefix of a ``patient`` that is not a known patient id (e.g. ``?study/female``: cells grouped by a sex call).
UNKNOWN_PATIENT = "?"
FORMATS = {"h5ad": "h5ad", "10x": "10x", "mtx": "10x", "10x_mtx": "10x", "csv": "csv", "tsv": "csv"}
SCALES = ("auto", "counts", "linear", "log", "log2p1")
IMMUNE_FILTERS = ("auto", "annotation", "ptprc", "none")
ORIENTATIONS = ("cells_x_genes", "genes_x_cells")
#: Cell-type labels counted as immune by the annotation rule (case-insensitive regular expression).
IMMUNE_LABEL_PATTERN = (
    r"\b(t|b|nk|nkt|ilc\d?|mait|treg|tregs|pdc|mdc|dcs?)\b|\bt[- ]?reg|\breg\.? ?t\b"
    r"|t[- ]?cell|b[- ]?cell|nk[- ]?cell|lymphocyte|leukocyte|immune|myeloid|lymphoid|plasma|macrophage|monocyte"
    r"|microglia|dendritic|neutrophil|granulocyte|eosinophil|basophil|\bmast\b|mast[- ]?cell|kupffer"
    r"|gamma.?delta|\bcd4|\bcd8|\bcd45"
)


class SampleError(ValueError):
    """A sample of the manifest cannot be read or used; the message names the sample and its manifest row."""


# ---------------------------------------------------------------------------------------------- manifest
@dataclass
class SampleSpec:
    """One manifest row."""

    row: int  # 1-based data row of the manifest (header excluded)
    path: str
    format: str
    cancer_type: str = ""
    study: str = ""
    patient: str = ""
    sample: str = ""
    cell_type_column: str | None = None
    obs_path: str | None = None
    orientation: str = "cells_x_genes"
    scale: str = "auto"
    immune_filter: str = "auto"
    tissue: str = ""
    layer: str | None = None

    def describe(self) -> str:
        return f"sample {self.sample!r} (manifest row {self.row}, {self.path})"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""


def read_manifest(manifest: str | os.PathLike | pd.DataFrame, require_labels: bool = True) -> list[SampleSpec]:
    """Parse and check a manifest (path of a CSV/TSV, or a DataFrame); see the module docstring for columns.

    Every problem found (missing columns, empty required fields, unknown formats / scales / filters,
    duplicated sample ids) is reported at once, with manifest row numbers. With ``require_labels=False``
    only ``path``, ``format`` and ``study`` are required (pretraining needs no labels).
    """
    base = Path(".")
    if isinstance(manifest, pd.DataFrame):
        table = manifest.copy()
    else:
        manifest = Path(manifest)
        if not manifest.is_file():
            raise FileNotFoundError(f"manifest {manifest} does not exist")
        base = manifest.parent
        with open(manifest, encoding="utf-8") as handle:
            first = handle.readline()
        table = pd.read_csv(manifest, sep="\t" if "\t" in first else ",", dtype=str, keep_default_na=False)
    table.columns = [str(column).strip() for column in table.columns]
    required = REQUIRED_COLUMNS if require_labels else ("path", "format", "study")
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise ValueError(f"manifest lacks the columns {missing} (it has {list(table.columns)})")
    known = set(SampleSpec.__dataclass_fields__) - {"row"}
    extra = [column for column in table.columns if column not in known]
    if extra:
        logger.warning(f"manifest columns not used by the builder: {extra}")
    if table.empty:
        raise ValueError("the manifest has no rows")

    problems, specs = [], []
    for index, record in enumerate(table.to_dict("records"), start=1):
        values = {key: (None if _blank(value) else str(value).strip()) for key, value in record.items() if key in known}
        empty = [column for column in required if values.get(column) is None]
        if empty:
            problems.append(f"row {index}: empty {empty}")
            continue
        fmt = FORMATS.get(values["format"].lower())
        if fmt is None:
            problems.append(f"row {index}: unknown format {values['format']!r} (use one of {sorted(FORMATS)})")
            continue
        path = Path(values["path"]).expanduser()
        path = path if path.is_absolute() else base / path
        spec = SampleSpec(
            row=index,
            path=str(path),
            format=fmt,
            cancer_type=values.get("cancer_type") or "",
            study=values["study"],
            patient=values.get("patient") or "",
            sample=values.get("sample") or _default_sample_id(path),
            cell_type_column=values.get("cell_type_column"),
            obs_path=str(base / values["obs_path"]) if values.get("obs_path") else None,
            orientation=(values.get("orientation") or "cells_x_genes").lower(),
            scale=(values.get("scale") or "auto").lower(),
            immune_filter=(values.get("immune_filter") or "auto").lower(),
            tissue=values.get("tissue") or "",
            layer=values.get("layer"),
        )
        for name, choices in (("orientation", ORIENTATIONS), ("scale", SCALES), ("immune_filter", IMMUNE_FILTERS)):
            if getattr(spec, name) not in choices:
                problems.append(f"row {index}: {name} {getattr(spec, name)!r} is not one of {list(choices)}")
        if spec.immune_filter == "annotation" and not spec.cell_type_column:
            problems.append(f"row {index}: immune_filter 'annotation' needs a cell_type_column")
        specs.append(spec)
    counts = pd.Series([spec.sample for spec in specs]).value_counts()
    for sample in counts[counts > 1].index:
        rows = [spec.row for spec in specs if spec.sample == sample]
        problems.append(f"rows {rows}: duplicated sample id {sample!r}")
    if problems:
        raise ValueError(f"manifest has {len(problems)} problem(s): " + "; ".join(problems))
    return specs


def _default_sample_id(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".h5ad", ".csv", ".tsv", ".txt"):
        name = name[: -len(suffix)] if name.endswith(suffix) else name
    return name


# ---------------------------------------------------------------------------------------------- reading
def _find(folder: Path, stems: Sequence[str]) -> Path | None:
    for stem in stems:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _read_lines(path: Path) -> list[list[str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as handle:
        return [line.rstrip("\n\r").split("\t") for line in handle if line.strip()]


class OpenSample:
    """An opened sample: ``gene_names``, ``obs`` (index = cell ids), ``n_cells`` and
    :meth:`iter_chunks` over CSR chunks of cells (float64, in the input scale, or linear for ``log2p1``).

    Use as a context manager; h5ad files stay open in backed mode until it exits.
    """

    def __init__(self, spec: SampleSpec):
        self.spec = spec
        self._adata = None
        self._matrix = None
        path = Path(spec.path)
        if not path.exists():
            raise SampleError(f"{spec.describe()}: file not found")
        try:
            if spec.format == "h5ad":
                self._open_h5ad(path)
            elif spec.format == "10x":
                self._open_10x(path)
            else:
                self._open_csv(path)
            if spec.obs_path:
                self._merge_obs(Path(spec.obs_path))
        except SampleError:
            self.close()
            raise
        except Exception as error:  # corrupt file, bad table ... -> name the sample
            self.close()
            raise SampleError(
                f"{spec.describe()}: cannot read the {spec.format} input ({type(error).__name__}: {error})"
            ) from error
        if self.obs.index.has_duplicates:
            duplicated = self.obs.index[self.obs.index.duplicated()].unique().tolist()
            self.close()
            raise SampleError(f"{spec.describe()}: duplicated cell ids {duplicated[:5]}")
        if spec.cell_type_column and spec.cell_type_column not in self.obs.columns:
            columns = list(self.obs.columns)
            self.close()
            raise SampleError(
                f"{spec.describe()}: cell_type_column {spec.cell_type_column!r} is not in the cell metadata "
                f"(columns: {columns[:20]})"
            )

    # -- formats
    def _open_h5ad(self, path: Path) -> None:
        if self.spec.layer:
            adata = read_cells(path)
            if self.spec.layer not in adata.layers:
                raise SampleError(
                    f"{self.spec.describe()}: no layer {self.spec.layer!r} (layers: {list(adata.layers)})"
                )
            self._matrix = adata.layers[self.spec.layer]
        else:
            adata = read_cells(path, backed=True)
            self._adata = adata
            self._matrix = adata.X
        if self._matrix is None:
            raise SampleError(f"{self.spec.describe()}: the AnnData has no X")
        self.gene_names = [str(name) for name in adata.var_names]
        self.obs = adata.obs.copy()
        self.obs.index = self.obs.index.astype(str)

    def _open_10x(self, path: Path) -> None:
        import scipy.io

        folder = path if path.is_dir() else path.parent
        matrix_file = _find(folder, ["matrix.mtx"])
        features_file = _find(folder, ["features.tsv", "genes.tsv"])
        barcodes_file = _find(folder, ["barcodes.tsv"])
        absent = [
            name
            for name, file in (
                ("matrix.mtx", matrix_file),
                ("features.tsv/genes.tsv", features_file),
                ("barcodes.tsv", barcodes_file),
            )
            if file is None
        ]
        if absent:
            raise SampleError(f"{self.spec.describe()}: the 10x folder lacks {absent}")
        features = _read_lines(features_file)
        barcodes = [row[0] for row in _read_lines(barcodes_file)]
        opener = gzip.open if matrix_file.name.endswith(".gz") else open
        with opener(matrix_file, "rb") as handle:
            matrix = sp.csr_matrix(scipy.io.mmread(handle).T)  # genes x cells -> cells x genes
        if matrix.shape != (len(barcodes), len(features)):
            raise SampleError(
                f"{self.spec.describe()}: matrix.mtx is {matrix.shape[1]} genes x {matrix.shape[0]} cells but there "
                f"are {len(features)} features and {len(barcodes)} barcodes"
            )
        # features.tsv: id, symbol, type (10x v3); genes.tsv: id, symbol (v2). Keep gene expression rows.
        keep = np.array([len(row) < 3 or row[2] == "Gene Expression" for row in features])
        names = [row[1] if len(row) > 1 and row[1] else row[0] for row in features]
        self._matrix = matrix[:, np.flatnonzero(keep)] if not keep.all() else matrix
        self.gene_names = [name for name, kept in zip(names, keep) if kept]
        self.obs = pd.DataFrame(index=pd.Index(barcodes, dtype=str))

    def _open_csv(self, path: Path) -> None:
        name = path.name.lower()
        with (gzip.open if name.endswith(".gz") else open)(path, "rt") as handle:
            first = handle.readline()
        table = pd.read_csv(path, sep="\t" if "\t" in first else ",", index_col=0)
        numeric = table.dtypes.map(pd.api.types.is_numeric_dtype).to_numpy(dtype=bool)
        if not numeric.all():
            bad = [str(column) for column in table.columns[~numeric][:5]]
            what = "cell columns" if self.spec.orientation == "genes_x_cells" else "gene columns"
            raise SampleError(
                f"{self.spec.describe()}: non-numeric {what} {bad} (orientation={self.spec.orientation}; the first "
                "column must hold the gene names (genes_x_cells) or the cell ids (cells_x_genes))"
            )
        matrix = table.to_numpy(dtype=np.float64)
        if self.spec.orientation == "genes_x_cells":
            genes, cells, matrix = table.index, table.columns, matrix.T
        else:
            genes, cells = table.columns, table.index
        self._matrix = sp.csr_matrix(matrix)
        self.gene_names = [str(gene) for gene in genes]
        self.obs = pd.DataFrame(index=pd.Index([str(cell) for cell in cells]))

    def _merge_obs(self, obs_path: Path) -> None:
        if not obs_path.is_file():
            raise SampleError(f"{self.spec.describe()}: obs_path {obs_path} not found")
        with open(obs_path) as handle:
            first = handle.readline()
        extra = pd.read_csv(obs_path, sep="\t" if "\t" in first else ",", index_col=0, dtype=str)
        extra.index = extra.index.astype(str)
        absent = self.obs.index.difference(extra.index)
        if len(absent):
            raise SampleError(
                f"{self.spec.describe()}: {len(absent)} cells are not in {obs_path.name} (first: {list(absent[:5])})"
            )
        self.obs = self.obs.join(extra[[c for c in extra.columns if c not in self.obs.columns]], how="left")

    # -- access
    @property
    def n_cells(self) -> int:
        return int(self._matrix.shape[0])

    def iter_chunks(self, chunk_size: int) -> Iterator[tuple[int, sp.csr_matrix]]:
        """Yield ``(first cell index, CSR chunk)``; values checked (finite, non-negative), ``log2p1`` made linear."""
        for start in range(0, self.n_cells, max(1, chunk_size)):
            chunk = self._matrix[start : start + chunk_size]
            chunk = (
                sp.csr_matrix(chunk, dtype=np.float64) if not sp.issparse(chunk) else chunk.tocsr().astype(np.float64)
            )
            chunk.eliminate_zeros()
            if chunk.nnz and not np.isfinite(chunk.data).all():
                bad = int(np.flatnonzero(~np.isfinite(chunk.data))[0])
                cell = start + int(np.searchsorted(chunk.indptr, bad, side="right") - 1)
                raise SampleError(
                    f"{self.spec.describe()}: non-finite value ({chunk.data[bad]}) in cell {self.obs.index[cell]!r}"
                )
            if chunk.nnz and chunk.data.min() < 0:
                raise SampleError(
                    f"{self.spec.describe()}: negative values (min {chunk.data.min():.3g}); the builder needs raw "
                    "counts, linear (TPM) or log-normalised values, not scaled/z-scored data"
                )
            if self.spec.scale == "log2p1":
                chunk.data = np.exp2(chunk.data) - 1.0
            yield start, chunk

    def close(self) -> None:
        if self._adata is not None and getattr(self._adata, "file", None) is not None:
            try:
                self._adata.file.close()
            except Exception:  # pragma: no cover - already closed
                pass
        self._adata = None

    def __enter__(self) -> OpenSample:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_sample(spec: SampleSpec) -> OpenSample:
    """Open one manifest sample (see :class:`OpenSample`); raises :class:`SampleError` naming it."""
    return OpenSample(spec)


def sample_gene_names(spec: SampleSpec) -> list[str]:
    """Gene names of a sample, reading as little as the format allows (h5ad ``var``, 10x features, CSV header)."""
    path = Path(spec.path)
    if not path.exists():
        raise SampleError(f"{spec.describe()}: file not found")
    try:
        if spec.format == "h5ad" and not spec.layer:
            adata = read_cells(path, backed=True)
            try:
                return [str(name) for name in adata.var_names]
            finally:
                adata.file.close()
        if spec.format == "csv":
            with (gzip.open if path.name.endswith(".gz") else open)(path, "rt") as handle:
                first = handle.readline()
            sep = "\t" if "\t" in first else ","
            if spec.orientation == "cells_x_genes":
                return [str(name) for name in pd.read_csv(path, sep=sep, index_col=0, nrows=0).columns]
            return [str(name) for name in pd.read_csv(path, sep=sep, usecols=[0]).iloc[:, 0]]
    except Exception as error:
        raise SampleError(f"{spec.describe()}: cannot read the gene names ({type(error).__name__}: {error})") from error
    with open_sample(spec) as opened:
        return opened.gene_names


def is_immune_label(labels: Sequence[Any], immune_labels: Sequence[str] | None = None) -> np.ndarray:
    """Boolean per label: in ``immune_labels`` (exact, case-insensitive) if given, else matching
    :data:`IMMUNE_LABEL_PATTERN`. Missing labels are not immune.

    >>> is_immune_label(["CD8 T cell", "reg. T cell", "Macrophage", "Fibroblast", "Unassigned", None]).tolist()
    [True, True, True, False, False, False]
    """
    if immune_labels is not None:
        wanted = {str(label).strip().lower() for label in immune_labels}
        return np.array([not _blank(label) and str(label).strip().lower() in wanted for label in labels], dtype=bool)
    pattern = re.compile(IMMUNE_LABEL_PATTERN, re.IGNORECASE)
    return np.array([not _blank(label) and bool(pattern.search(str(label))) for label in labels], dtype=bool)


__all__ = [
    "IMMUNE_LABEL_PATTERN",
    "OpenSample",
    "SampleError",
    "SampleSpec",
    "UNKNOWN_PATIENT",
    "is_immune_label",
    "open_sample",
    "read_manifest",
    "sample_gene_names",
]
