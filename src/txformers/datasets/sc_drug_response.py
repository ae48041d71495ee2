# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Single-cell drug response: cells with expression, a sensitive/resistant label and a cell id.

Two input formats:

* SCAD-format TSV (``Target_expr_resp_z.<drug>_tp4k.tsv``): rows = cells, first column = cell id,
  a label column (``response``: 1 sensitive, 0 resistant), then one column per gene; genes may be
  Entrez Gene IDs, mapped to HGNC symbols with an Entrez-to-symbol table (``entrez_map=``);
* an ``.h5ad`` file: ``X`` (or ``layer``) cells x genes, ``var_names`` genes, ``obs[label_column]``.

Labels may be 0/1, booleans, or the strings ``sensitive``/``resistant``. Genes the map does not
know are dropped and duplicated genes keep their first column; both are reported (a warning and
``expression.attrs["gene_report"]``).

Example:

```python
>>> from txformers.datasets import ScDrugResponseBuilder, load_sc_drug_response
>>> expression, labels = load_sc_drug_response(
...     "../shared/data/drug/sc_scad_targets/Target_expr_resp_z.PLX4720_tp4k.tsv",
...     entrez_map="../shared/data/drug/reference/entrez_to_hgnc_symbol_march_2019.txt",
... )
>>> builder = ScDrugResponseBuilder(data_files="cells.h5ad", label_column="response")
>>> builder.download_and_prepare()
>>> cells = builder.as_dataset()["train"]  # cell_id, label, expression (over builder.gene_names())
```
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import datasets
import numpy as np
import pandas as pd

LABEL_NAMES = ["resistant", "sensitive"]
_LABEL_WORDS = {"0": 0, "1": 1, "resistant": 0, "sensitive": 1, "false": 0, "true": 1, "0.0": 0, "1.0": 1}


def read_entrez_map(entrez_map: str | os.PathLike | Mapping[Any, str] | pd.Series) -> dict[str, str]:
    """Entrez Gene ID (as a string, e.g. ``"7157"``) -> gene symbol.

    Accepts a mapping / Series, or a tab-separated table with a header that has a symbol column
    (name containing ``symbol``) and an id column (name containing ``NCBI``, ``Entrez`` or
    ``gene id``), such as HGNC's custom download ``Approved symbol`` / ``NCBI Gene ID(supplied by NCBI)``.
    """
    if isinstance(entrez_map, (Mapping, pd.Series)):
        items = entrez_map.items()
    else:
        table = pd.read_csv(entrez_map, sep="\t", dtype=str)
        lower = {column: column.lower() for column in table.columns}
        symbol = [column for column, name in lower.items() if "symbol" in name]
        ids = [column for column, name in lower.items() if any(key in name for key in ("ncbi", "entrez", "gene id"))]
        if not symbol or not ids:
            raise ValueError(
                f"{entrez_map}: expected a symbol column and an NCBI/Entrez id column, found {list(table.columns)}"
            )
        table = table[[ids[0], symbol[0]]].dropna()
        items = zip(table[ids[0]], table[symbol[0]])
    mapping = {}
    for entrez, gene in items:
        key = _entrez_key(entrez)
        if key is not None and key not in mapping:
            mapping[key] = str(gene)
    return mapping


def load_sc_drug_response(
    path: str | os.PathLike,
    label_column: str = "response",
    entrez_map: str | os.PathLike | Mapping[Any, str] | pd.Series | None = None,
    layer: str | None = None,
    duplicate_genes: str = "error",
) -> tuple[pd.DataFrame, pd.Series]:
    """Read a SCAD-format TSV/CSV or an ``.h5ad`` into ``(expression, labels)``.

    A gene column named twice in a table is a ``ValueError`` naming it unless ``duplicate_genes`` is ``"sum"``
    or ``"first"``; symbols that several Entrez ids map to keep the first column (reported).

    Returns:
        expression: float32 DataFrame, cells x genes (index = cell ids, columns = gene names);
            ``expression.attrs["gene_report"]`` lists unmapped and duplicated genes.
        labels: int Series (1 = sensitive, 0 = resistant) with the same index, name ``"label"``.

    Raises:
        ValueError: the label column is missing, a label is missing or not a known value, the labels hold
            one class only, cell ids are duplicated, or gene columns are not numeric.

    Example:

    ```python
    >>> expression, labels = load_sc_drug_response("cells.tsv", entrez_map={"7157": "TP53"})
    >>> expression.shape[0] == labels.shape[0]
    True
    ```
    """
    path = os.fspath(path)
    if path.endswith(".h5ad"):
        expression, raw_labels = _read_h5ad(path, label_column, layer)
    else:
        expression, raw_labels = _read_table(path, label_column, duplicate_genes)
    name = os.path.basename(path)
    if expression.index.has_duplicates:
        duplicated = expression.index[expression.index.duplicated()].unique().tolist()
        raise ValueError(f"{name}: duplicated cell ids {duplicated[:10]}")
    labels = _parse_labels(raw_labels, name, label_column)
    expression.columns = [str(gene) for gene in expression.columns]
    report: dict[str, list[str]] = {"unmapped": [], "duplicated": []}
    if entrez_map is not None:
        mapping = read_entrez_map(entrez_map)
        keys = [_entrez_key(gene) for gene in expression.columns]
        report["unmapped"] = [gene for gene, key in zip(expression.columns, keys) if key not in mapping]
        keep = [key in mapping for key in keys]
        expression = expression.loc[:, keep]
        expression.columns = [mapping[key] for key, kept in zip(keys, keep) if kept]
    duplicated = expression.columns.duplicated()
    if duplicated.any():
        report["duplicated"] = sorted(set(expression.columns[duplicated]))
        expression = expression.loc[:, ~duplicated]
    if report["unmapped"]:
        warnings.warn(
            f"{name}: {len(report['unmapped'])} of {len(keys)} genes are not in the Entrez map and were dropped "
            f"(first: {report['unmapped'][:10]})",
            stacklevel=2,
        )
    if report["duplicated"]:
        warnings.warn(
            f"{name}: {len(report['duplicated'])} genes occur more than once; kept the first column of each "
            f"(first: {report['duplicated'][:10]})",
            stacklevel=2,
        )
    if expression.shape[1] == 0:
        raise ValueError(
            f"{name}: no gene columns left (after the Entrez mapping)" if entrez_map else f"{name}: no gene columns"
        )
    expression = expression.astype(np.float32)
    expression.index.name = "cell_id"
    expression.attrs["gene_report"] = report
    labels.index = expression.index
    return expression, labels


def _separator(path: str | os.PathLike) -> str:
    return "," if os.fspath(path).endswith((".csv", ".csv.gz")) else "\t"


def read_gene_names(path: str | os.PathLike, label_column: str = "response") -> list[str]:
    """The gene columns of a SCAD-format table (its header without the cell-id and label columns), or the
    ``var_names`` of an ``.h5ad``, without reading the expression values."""
    if os.fspath(path).endswith(".h5ad"):
        from .cells import read_cells

        adata = read_cells(path, backed=True)
        genes = [str(gene) for gene in adata.var_names]
        adata.file.close()
        return genes
    header = pd.read_csv(path, sep=_separator(path), nrows=0).columns
    return [str(gene) for gene in header[1:] if gene != label_column]


DUPLICATE_GENE_RULES = ("error", "sum", "first")


def _original_columns(path: str | os.PathLike, table: pd.DataFrame, duplicate_genes: str) -> pd.DataFrame:
    """Undo pandas' renaming of repeated header names (``TP53``, ``TP53.1``): a gene column named twice is a
    ``ValueError`` naming the genes, unless ``duplicate_genes`` is ``"sum"`` (add the columns) or ``"first"``."""
    if duplicate_genes not in DUPLICATE_GENE_RULES:
        raise ValueError(f"duplicate_genes must be one of {DUPLICATE_GENE_RULES}, got {duplicate_genes!r}")
    header = pd.read_csv(path, sep=_separator(path), header=None, nrows=1, dtype=str).iloc[0].tolist()[1:]
    if len(header) != table.shape[1]:
        return table
    table.columns = [mangled if pd.isna(name) else name for name, mangled in zip(header, table.columns)]
    repeated = table.columns.duplicated()
    if not repeated.any():
        return table
    names = sorted({str(name) for name in table.columns[repeated]})
    if duplicate_genes == "error":
        raise ValueError(
            f"{path}: {len(names)} gene columns occur more than once: {names[:10]}; remove them or choose a rule "
            "(--duplicate-genes sum or first)"
        )
    kept = table.loc[:, ~repeated].copy()
    if duplicate_genes == "sum":
        for name in table.columns[repeated].unique():
            kept[name] = table.loc[:, [name]].sum(axis=1)
    warnings.warn(
        f"{path}: {len(names)} gene columns occur more than once ({duplicate_genes} of each): {names[:10]}",
        stacklevel=3,
    )
    return kept


def read_cell_table(path: str | os.PathLike, label_column: str | None = None, duplicate_genes: str = "error") -> Any:
    """A SCAD-style table (one row per cell, the cell id first) as an AnnData: numeric columns are the genes
    (``X``, float32), the others and ``label_column`` go to ``obs``; the labels are not checked. A gene column
    named twice is an error unless ``duplicate_genes`` is ``"sum"`` or ``"first"``."""
    import anndata

    try:
        table = pd.read_csv(path, sep=_separator(path), index_col=0)
    except Exception as error:  # any parser error: name the file
        raise ValueError(f"cannot read {path} as a table ({type(error).__name__}: {error})") from None
    table = _original_columns(path, table, duplicate_genes)
    table.index = table.index.astype(str)
    if table.index.has_duplicates:
        duplicated = table.index[table.index.duplicated()].unique().tolist()
        raise ValueError(f"{path}: duplicated cell ids {duplicated[:10]}")
    meta = [c for c in table.columns if c == label_column or not pd.api.types.is_numeric_dtype(table[c])]
    genes = table.drop(columns=meta)
    if genes.shape[1] == 0:
        raise ValueError(f"{path}: no numeric gene columns (columns: {list(table.columns)[:10]})")
    obs = table[meta].copy()
    for column in meta:
        if obs[column].dtype == object:
            obs[column] = obs[column].astype(str)
    var = pd.DataFrame(index=pd.Index([str(g) for g in genes.columns]))
    return anndata.AnnData(X=genes.to_numpy(np.float32), obs=obs, var=var)


def _read_table(path: str, label_column: str, duplicate_genes: str = "error") -> tuple[pd.DataFrame, pd.Series]:
    table = pd.read_csv(path, sep=_separator(path), index_col=0)
    table = _original_columns(path, table, duplicate_genes)
    table.index = table.index.astype(str)
    if label_column not in table.columns:
        raise ValueError(
            f"{os.path.basename(path)} has no label column {label_column!r} (first columns: {list(table.columns[:5])})"
        )
    labels = table.pop(label_column)
    bad = [column for column in table.columns if not pd.api.types.is_numeric_dtype(table[column])]
    if bad:
        raise ValueError(f"{os.path.basename(path)}: gene columns with non-numeric values: {bad[:10]}")
    return table, labels


def _read_h5ad(path: str, label_column: str, layer: str | None) -> tuple[pd.DataFrame, pd.Series]:
    from .cells import read_cells

    adata = read_cells(path, layer=layer)
    if label_column not in adata.obs.columns:
        raise ValueError(
            f"{os.path.basename(path)} has no obs column {label_column!r} (obs columns: {list(adata.obs.columns)})"
        )
    matrix = adata.layers[layer] if layer is not None else adata.X
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    expression = pd.DataFrame(matrix, index=adata.obs_names.astype(str), columns=adata.var_names.astype(str))
    return expression, adata.obs[label_column]


def _parse_labels(raw: pd.Series, name: str, label_column: str) -> pd.Series:
    missing = raw.index[raw.isna()].tolist()
    if missing:
        raise ValueError(f"{name}: column {label_column!r} is missing for cells {missing[:10]}")
    words = raw.astype(str).str.strip().str.lower()
    labels = words.map(_LABEL_WORDS)
    unknown = sorted(set(raw[labels.isna()].astype(str)))
    if unknown:
        raise ValueError(
            f"{name}: column {label_column!r} holds {unknown[:10]}; expected 1/0, true/false or sensitive/resistant"
        )
    labels = labels.astype(int).rename("label")
    if labels.nunique() < 2:
        only = LABEL_NAMES[int(labels.iloc[0])] if len(labels) else "none"
        raise ValueError(
            f"{name}: column {label_column!r} has one class only ({only}, {len(labels)} cells); "
            "drug-response data needs sensitive and resistant cells"
        )
    return labels


def _entrez_key(value: Any) -> str | None:
    """``"7157"``, ``7157``, ``7157.0`` and ``"7157.0"`` -> ``"7157"``; anything else -> its string."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number.is_integer() else str(value)


@dataclass
class ScDrugResponseConfig(datasets.BuilderConfig):
    """Options of :class:`ScDrugResponseBuilder`.

    Args:
        label_column: column (TSV) or ``obs`` column (h5ad) with the response labels.
        entrez_map: optional Entrez-to-symbol table (path or mapping) for Entrez-ID gene columns.
        layer: h5ad layer to read instead of ``X``.
    """

    label_column: str = "response"
    entrez_map: Any = None
    layer: str | None = None


class ScDrugResponseBuilder(datasets.GeneratorBasedBuilder):
    """Cells of single-cell drug-response files; construct with ``data_files=`` (one file or ``{split: file}``)."""

    BUILDER_CONFIG_CLASS = ScDrugResponseConfig
    BUILDER_CONFIGS = [ScDrugResponseConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    VERSION = datasets.Version("1.0.0")

    def _files(self) -> dict[str, str]:
        if not self.config.data_files:
            raise ValueError("ScDrugResponseBuilder needs data_files= (a SCAD-format .tsv or an .h5ad)")
        files = {}
        for split, paths in self.config.data_files.items():
            if len(paths) != 1:
                raise ValueError(f"split {split!r}: give exactly one file, got {len(paths)}")
            files[str(split)] = str(paths[0])
        return files

    def _load(self, path: str) -> tuple[pd.DataFrame, pd.Series]:
        cache = self.__dict__.setdefault("_loaded", {})
        if path not in cache:
            cache[path] = load_sc_drug_response(
                path, self.config.label_column, entrez_map=self.config.entrez_map, layer=self.config.layer
            )
        return cache[path]

    def gene_names(self) -> list[str]:
        """Gene names in the order of every ``expression`` vector (identical in all splits)."""
        genes = None
        for split, path in self._files().items():
            names = self._load(path)[0].columns.tolist()
            if genes is not None and names != genes:
                differ = sorted(set(names) ^ set(genes))
                raise ValueError(
                    f"split {split!r} ({os.path.basename(path)}) has other genes or another gene order than the "
                    f"first split (differing genes: {differ[:10]})"
                )
            genes = names
        return genes

    def _info(self) -> datasets.DatasetInfo:
        length = len(self.gene_names()) if self.config.data_files else -1
        return datasets.DatasetInfo(
            description=(
                "Single-cell drug response (1 = sensitive, 0 = resistant) with expression over "
                "ScDrugResponseBuilder.gene_names()."
            ),
            features=datasets.Features(
                {
                    "cell_id": datasets.Value("string"),
                    "label": datasets.ClassLabel(names=LABEL_NAMES),
                    "expression": datasets.Sequence(datasets.Value("float32"), length=length),
                }
            ),
        )

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        self.gene_names()  # checks that all splits share one gene list
        return [datasets.SplitGenerator(name=split, gen_kwargs={"path": path}) for split, path in self._files().items()]

    def _generate_examples(self, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        expression, labels = self._load(path)
        for cell_id, values, label in zip(expression.index, expression.to_numpy(np.float32), labels.to_numpy()):
            yield cell_id, {"cell_id": cell_id, "label": int(label), "expression": values.tolist()}
