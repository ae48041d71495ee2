# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Gene identifiers and how input genes match a vocabulary (HGNC symbols, Ensembl and Entrez ids).

* :func:`canonical_gene_id`: one identifier in canonical form (Ensembl version removed, Entrez ids as digits).
* :class:`GeneMatcher`: matches input gene names to the genes of a vocabulary (exact, through an id mapping
  table, then case-insensitively) and reports the result as a :class:`GeneMatchReport`, whose ``column_map``
  sends each input column to a vocabulary position. :class:`~.tokenization_gene_expression.GeneExpressionTokenizer`
  matches its input through one.
* :func:`build_vocab_from_adata` (the genes a dataset detects) and :func:`load_vocab` (a vocabulary file).
* :func:`check_coverage`, :func:`check_genes_detected`: :class:`GeneCoverageError` when too few vocabulary genes
  are in the input, or detected in a cell.

Portable: imports only the standard library, numpy and its sibling ``expression_encoding.py`` (copied into
checkpoints next to the tokenizer).

Example:

```python
>>> matcher = GeneMatcher(["TP53", "CD3E"], gene_mapping={"7157": "TP53"})
>>> report = matcher.match(["ENSG00000198851.9", "cd3e", "GeneID:7157"])
>>> report.column_map.tolist(), report.mapped_genes, report.case_insensitive_matches
([-1, 1, 0], {'GeneID:7157': 'TP53'}, {'cd3e': 'CD3E'})

```
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

try:  # a package: txformers.tokenizers, or transformers' copy of a checkpoint's code (trust_remote_code)
    from .expression_encoding import iter_chunks, read_input
except ImportError:  # imported on its own, from a checkpoint folder on sys.path
    from expression_encoding import iter_chunks, read_input

_ENSEMBL = re.compile(r"^(ENS[A-Z]*[GTP]\d{6,})\.\d+$", re.IGNORECASE)
_ENTREZ_PREFIX = re.compile(r"^(?:GeneID|Entrez(?:Gene)?|NCBIGene)\s*[:_]?\s*(\d+)$", re.IGNORECASE)
_INTEGER_FLOAT = re.compile(r"^(\d+)\.0*$")


class GeneCoverageError(ValueError):
    """Too few vocabulary genes in the input (dataset-level ``min_coverage`` or cell-level ``min_genes_detected``)."""


def canonical_gene_id(name: Any) -> str:
    """Canonical form of one gene identifier: stripped, Ensembl version removed, Entrez ids as plain digits.

    ``"ENSG00000141510.16"`` -> ``"ENSG00000141510"``; ``"GeneID:7157"``, ``7157``, ``7157.0`` -> ``"7157"``;
    symbols are returned stripped, case unchanged.
    """
    if isinstance(name, (bool, np.bool_)):
        raise TypeError(f"gene identifier {name!r} is a boolean")
    if isinstance(name, (int, np.integer)):
        return str(int(name))
    if isinstance(name, (float, np.floating)):
        if math.isfinite(name) and float(name).is_integer():
            return str(int(name))
        return str(name)
    text = str(name).strip()
    for pattern in (_ENSEMBL, _ENTREZ_PREFIX, _INTEGER_FLOAT):
        match = pattern.match(text)
        if match:
            return match.group(1)
    return text


def canonical_gene_list(genes: Sequence[Any]) -> list[str]:
    """The genes of a vocabulary in canonical form (:func:`canonical_gene_id`); an empty list, an empty name or
    a duplicated gene is an error."""
    canonical = [canonical_gene_id(gene) for gene in genes]
    if not canonical:
        raise ValueError("from_genes needs at least one gene")
    empty = [i for i, gene in enumerate(canonical) if not gene]
    if empty:
        raise ValueError(f"gene list has empty names at positions {empty[:10]}")
    duplicated = sorted(gene for gene, count in Counter(canonical).items() if count > 1)
    if duplicated:
        raise ValueError(f"gene list has {len(duplicated)} duplicated genes: {preview(duplicated)}")
    return canonical


def is_missing(value: Any) -> bool:
    """Whether a gene name is absent (None, NaN, empty, "nan", "None", "NA")."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in ("", "nan", "NaN", "None", "NA")


def preview(names: Sequence[str], limit: int = 10) -> str:
    """The first ``limit`` names, comma-separated, with the count of the others."""
    shown = ", ".join(str(name) for name in list(names)[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


@dataclass
class GeneMatchReport:
    """How the input genes matched the vocabulary (see :meth:`GeneExpressionTokenizer.gene_report`)."""

    n_input_genes: int
    n_vocab_genes: int
    present_genes: list[str]
    missing_genes: list[str]
    unknown_genes: list[str]
    duplicate_genes: dict[str, list[str]]
    case_insensitive_matches: dict[str, str]
    mapped_genes: dict[str, str]
    duplicates: str = "sum"
    column_map: np.ndarray = field(default=None, repr=False)  # input column -> panel position, -1 if unused

    @property
    def coverage(self) -> float:
        """Fraction of vocabulary genes present in the input."""
        return len(self.present_genes) / self.n_vocab_genes if self.n_vocab_genes else 0.0

    def summary(self) -> str:
        lines = [
            f"{len(self.present_genes)}/{self.n_vocab_genes} vocabulary genes present "
            f"(coverage {self.coverage:.1%}) from {self.n_input_genes} input genes",
            f"{len(self.unknown_genes)} input genes not in the vocabulary" if self.unknown_genes else "",
            f"{len(self.mapped_genes)} matched through the gene id mapping" if self.mapped_genes else "",
            (
                f"{len(self.case_insensitive_matches)} matched case-insensitively: "
                + preview([f"{k}->{v}" for k, v in self.case_insensitive_matches.items()], 5)
            )
            if self.case_insensitive_matches
            else "",
            (
                f"{len(self.duplicate_genes)} vocabulary genes given by several input columns "
                f"({'summed' if self.duplicates == 'sum' else 'first column kept'}): "
                + preview([f"{k} <- {'+'.join(v)}" for k, v in self.duplicate_genes.items()], 5)
            )
            if self.duplicate_genes
            else "",
        ]
        return "; ".join(line for line in lines if line)

    def __str__(self) -> str:
        return self.summary()


def read_table(path: str | os.PathLike) -> tuple[list[str], list[list[str]]]:
    """Header and columns of a TSV or CSV file with a header line (``.gz`` accepted)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        first = handle.readline()
        delimiter = "\t" if "\t" in first else ","
        header = next(csv.reader([first], delimiter=delimiter))
        rows = list(csv.reader(handle, delimiter=delimiter))
    columns = [[row[i] if i < len(row) else "" for row in rows] for i in range(len(header))]
    return [name.strip() for name in header], columns


def load_vocab(vocab_file: str | os.PathLike) -> dict[str, int]:
    """``{token: id}`` from a JSON object (``.json``) or a text file with one token per line (id = line number)."""
    with open(vocab_file, encoding="utf-8") as handle:
        text = handle.read()
    if str(vocab_file).endswith(".json"):
        vocab = json.loads(text)
        if not isinstance(vocab, dict):
            raise ValueError(f"{vocab_file} must hold a JSON object {{token: id}}")
        return {str(token): int(index) for token, index in vocab.items()}
    tokens = [line.strip() for line in text.splitlines() if line.strip()]
    return {token: index for index, token in enumerate(tokens)}


def check_coverage(report: GeneMatchReport, threshold: float, mode: str, genes: Sequence[str]) -> None:
    """:class:`GeneCoverageError` unless the input holds at least one and a fraction ``threshold`` of the
    vocabulary genes (``genes``); ``mode`` is named in the message."""
    if report.present_genes and report.coverage >= threshold:
        return
    hint = (
        "Check the gene identifiers: vocabulary genes look like "
        f"{preview(genes, 3)}, input genes like {preview(report.unknown_genes, 3)}; map other ids "
        "with gene_mapping= (a dict, DataFrame or TSV of e.g. Ensembl/Entrez id -> symbol)"
    )
    raise GeneCoverageError(
        f"only {len(report.present_genes)} of {report.n_vocab_genes} vocabulary genes "
        f"({report.coverage:.1%}) are present in the input (min_coverage={threshold:g}, {mode} mode); "
        f"{len(report.missing_genes)} missing: {preview(report.missing_genes)}. {hint}"
        + ("" if not report.present_genes else ", or lower min_coverage.")
    )


def check_genes_detected(n_detected: np.ndarray, min_genes: int, cell_names: list[str] | None) -> None:
    """:class:`GeneCoverageError` naming the cells with fewer than ``min_genes`` vocabulary genes detected."""
    if min_genes <= 0:
        return
    low = np.flatnonzero(n_detected < min_genes)
    if low.size:
        names = [f"{cell_names[i] if cell_names is not None else f'row {i}'} ({int(n_detected[i])} genes)" for i in low]
        raise GeneCoverageError(
            f"{low.size} of {len(n_detected)} cells have fewer than min_genes_detected={min_genes} vocabulary "
            f"genes detected: {preview(names)}. Filter them first (tokenizer.genes_detected(adata) gives the "
            "count per cell) or lower min_genes_detected."
        )


class GeneMatcher:
    """Matches gene names to the positions of ``genes`` (a vocabulary's genes, in panel order).

    A name is first put in canonical form (:func:`canonical_gene_id`), then matched exactly, then through
    the id mapping (:meth:`add_gene_mapping`, keys compared case-insensitively), then case-insensitively.

    Args:
        genes: the vocabulary genes; a gene's position in this list is its panel position.
        gene_mapping: table mapping other identifiers to vocabulary genes (see :meth:`add_gene_mapping`).
    """

    def __init__(self, genes: Sequence[str], gene_mapping: Any = None):
        self.genes = list(genes)
        self._lookup: dict[str, int] = {}
        self._lookup_upper: dict[str, int] = {}
        for position, gene in enumerate(self.genes):
            key = canonical_gene_id(gene)
            self._lookup.setdefault(key, position)
            self._lookup_upper.setdefault(key.upper(), position)
        self.gene_mapping: dict[str, str] = {}
        self._match_cache: tuple[tuple, GeneMatchReport] | None = None
        if gene_mapping is not None:
            self.add_gene_mapping(gene_mapping)

    def add_gene_mapping(
        self,
        mapping: Any,
        target_column: str | None = None,
        source_columns: Sequence[str] | None = None,
    ) -> int:
        """Add identifier -> vocabulary-gene pairs used when an input gene is not itself a vocabulary token.

        ``mapping`` is a dict (``{"ENSG00000141510": "TP53"}``), a pandas DataFrame, or the path of a
        TSV/CSV table with a header (``.gz`` accepted). For a table, ``target_column`` is the column of
        vocabulary genes (default: the column whose values match most vocabulary genes) and every other
        column (or ``source_columns``) holds identifiers to map, e.g. an HGNC export with ``symbol``,
        ``ensembl_gene_id`` and ``entrez_id``. Only pairs whose target is in the vocabulary are kept
        (and saved with the tokenizer). Returns the number of identifiers added.
        """
        pairs = self._mapping_pairs(mapping, target_column, source_columns)
        added = resolved = 0
        for source, target in pairs:
            if is_missing(source) or is_missing(target):
                continue
            position = self.resolve(canonical_gene_id(target), use_mapping=False)[0]
            if position is None:
                continue
            resolved += 1
            key = canonical_gene_id(source).upper()
            if key not in self.gene_mapping:
                self.gene_mapping[key] = self.genes[position]
                added += 1
        if pairs and not resolved:
            raise ValueError(
                f"none of the {len(pairs)} mapping targets is a vocabulary gene (first targets: "
                f"{preview([t for _, t in pairs], 5)}; vocabulary genes: {preview(self.genes, 5)})"
            )
        self._match_cache = None
        return added

    def _mapping_pairs(self, mapping: Any, target_column: str | None, source_columns: Sequence[str] | None):
        if isinstance(mapping, (str, os.PathLike)):
            header, columns = read_table(mapping)
            table = dict(zip(header, columns))
        elif hasattr(mapping, "columns") and not isinstance(mapping, Mapping):
            table = {str(name): list(mapping[name]) for name in mapping.columns}
        elif hasattr(mapping, "items"):
            return [(source, target) for source, target in mapping.items()]
        else:
            raise TypeError(f"gene_mapping must be a dict, a DataFrame or a table path, got {type(mapping).__name__}")
        if len(table) < 2:
            raise ValueError(f"a gene mapping table needs at least two columns, got {list(table)}")
        if target_column is None:
            hits = {
                name: sum(
                    self.resolve(canonical_gene_id(v), use_mapping=False)[0] is not None
                    for v in values
                    if not is_missing(v)
                )
                for name, values in table.items()
            }
            target_column = max(hits, key=hits.get)
        if target_column not in table:
            raise ValueError(f"target_column {target_column!r} is not a column of the mapping ({list(table)})")
        sources = list(source_columns) if source_columns is not None else [c for c in table if c != target_column]
        unknown = [c for c in sources if c not in table]
        if unknown:
            raise ValueError(f"source_columns {unknown} are not columns of the mapping ({list(table)})")
        return [(s, t) for column in sources for s, t in zip(table[column], table[target_column])]

    def resolve(self, key: str, use_mapping: bool = True) -> tuple[int | None, str]:
        """Panel position of one canonical gene id (None if unknown) and how it matched: ``"exact"``,
        ``"mapped"``, ``"case"`` or ``"unknown"``."""
        position = self._lookup.get(key)
        if position is not None:
            return position, "exact"
        upper = key.upper()
        if use_mapping and upper in self.gene_mapping:
            return self._lookup[canonical_gene_id(self.gene_mapping[upper])], "mapped"
        position = self._lookup_upper.get(upper)
        if position is not None:
            return position, "case"
        return None, "unknown"

    def match(self, names: Sequence[Any], duplicates: str = "sum") -> GeneMatchReport:
        """Match the input gene names (one per input column). Several columns that resolve to one gene are
        all kept (``duplicates="sum"``) or only the first one (``"first"``) in the report's ``column_map``."""
        key = (tuple(names), duplicates)
        if self._match_cache is not None and self._match_cache[0] == key:
            return self._match_cache[1]
        column_map = np.full(len(names), -1, dtype=np.int64)
        unknown, case, mapped, sources = [], {}, {}, {}
        for column, name in enumerate(names):
            if is_missing(name):
                unknown.append(str(name))
                continue
            position, how = self.resolve(canonical_gene_id(name))
            if position is None:
                unknown.append(str(name))
                continue
            gene = self.genes[position]
            if how == "case":
                case[str(name)] = gene
            elif how == "mapped":
                mapped[str(name)] = gene
            sources.setdefault(position, []).append(column)
            if duplicates == "sum" or len(sources[position]) == 1:
                column_map[column] = position
        duplicate_genes = {self.genes[p]: [str(names[c]) for c in cols] for p, cols in sources.items() if len(cols) > 1}
        present = sorted(sources)
        report = GeneMatchReport(
            n_input_genes=len(names),
            n_vocab_genes=len(self.genes),
            present_genes=[self.genes[p] for p in present],
            missing_genes=[g for p, g in enumerate(self.genes) if p not in sources],
            unknown_genes=unknown,
            duplicate_genes=duplicate_genes,
            case_insensitive_matches=case,
            mapped_genes=mapped,
            duplicates=duplicates,
            column_map=column_map,
        )
        self._match_cache = (key, report)
        return report


def build_vocab_from_adata(
    adata: Any,
    *,
    layer: str | None = None,
    gene_column: str | None = None,
    min_cells: int = 1,
    max_genes: int | None = None,
) -> list[str]:
    """Genes of ``adata`` detected (non-zero) in at least ``min_cells`` cells, in input order.

    With ``max_genes``, the ``max_genes`` genes detected in most cells (ties: input order), still in input
    order. Identifiers are canonicalised (Ensembl version removed) and duplicates dropped (first kept).
    """
    X, names, _ = read_input(adata, None, layer, gene_column)
    n_cells = np.zeros(len(names), dtype=np.int64)
    for _, cols, _, _ in iter_chunks(X, 4096):
        n_cells += np.bincount(cols, minlength=len(names))
    selected = np.flatnonzero(n_cells >= min_cells)
    if max_genes is not None and selected.size > max_genes:
        best = selected[np.lexsort((selected, -n_cells[selected]))[:max_genes]]
        selected = np.sort(best)
    genes, seen = [], set()
    for column in selected:
        if is_missing(names[column]):
            continue
        gene = canonical_gene_id(names[column])
        if gene and gene not in seen:
            seen.add(gene)
            genes.append(gene)
    if not genes:
        raise ValueError(f"no gene is detected in at least min_cells={min_cells} cells")
    return genes


__all__ = [
    "GeneCoverageError",
    "GeneMatchReport",
    "GeneMatcher",
    "build_vocab_from_adata",
    "canonical_gene_id",
    "canonical_gene_list",
    "check_coverage",
    "check_genes_detected",
    "load_vocab",
]
