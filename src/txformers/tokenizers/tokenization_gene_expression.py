# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Gene-expression tokenizer: turns cells x genes matrices into model inputs.

Three encodings of one cell, chosen with ``mode``:

* ``"rank"`` (Geneformer): the cell's detected genes ordered by normalised expression divided by a
  per-gene median (medians learnt with :meth:`GeneExpressionTokenizer.fit` on a reference dataset
  and saved with the tokenizer; without ``fit`` plain expression order), ``[<cls>] + top genes``,
  padded, with an attention mask.
* ``"bins"`` (scGPT): the detected genes with their value binned into ``n_bins`` per-cell quantile
  bins (bin 0 is zero expression, bins ``1..n_bins-1`` are the non-zero values), the normalised
  values themselves, top genes by expression or a seeded random sample, in vocabulary order.
* ``"panel"``: a dense float vector over the vocabulary genes (a fixed gene panel, e.g. the input
  of an MLP cell encoder) plus a boolean ``missing_mask`` of panel genes absent from the input.

Input is an AnnData (dense or scipy-sparse ``X`` or a ``layer``; read by duck typing, anndata is
never imported), a pandas DataFrame (cells x genes), or a matrix plus gene names. Gene names may
be HGNC symbols, Ensembl ids (version suffix stripped) or Entrez ids (``"7157"``, ``"GeneID:7157"``);
ids that are not vocabulary tokens are mapped through an optional table
(:meth:`~GeneExpressionTokenizer.add_gene_mapping`), then matched case-insensitively, and every
call can be audited with :meth:`~GeneExpressionTokenizer.gene_report`.

Normalisation (``normalize="auto"``): raw counts (non-negative integers) and other linear-scale
values (non-integer values above 50, e.g. TPM) are scaled to ``target_sum`` (1e4) per cell - the
total over *all* input genes, not only the vocabulary genes - then ``log1p``-transformed;
non-negative values up to 50 that are not all integers are taken as already log-normalised and
used as they are; negative values (z-scores) are used as they are and accepted by the panel mode only.

Duplicated genes (several input columns that resolve to one vocabulary gene, e.g. two Ensembl ids
of one symbol) are **summed** by default (``duplicates="sum"``, right for counts; pass
``duplicates="first"`` to keep the first column); either way they are listed in the report and a
warning is logged.

Portable: imports only the standard library, numpy, transformers (and torch when
``return_tensors="pt"``). ``save_pretrained`` copies this file next to the vocabulary, so a saved
tokenizer loads where txformers is not installed, with
``AutoTokenizer.from_pretrained(path, trust_remote_code=True)`` or by importing the copied file.

Example:

```python
>>> import numpy as np
>>> from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
>>> tok = GeneExpressionTokenizer.from_genes(["CD3E", "CD8A", "GZMB", "IL7R"], max_length=4)
>>> counts = np.array([[5, 0, 1, 2], [0, 3, 0, 0]])
>>> enc = tok(counts, gene_names=["CD3E", "CD8A", "GZMB", "ENSG00000168685.15"],
...           gene_mapping={"ENSG00000168685": "IL7R"})
>>> tok.convert_ids_to_tokens(enc["input_ids"][0].tolist())
['<cls>', 'CD3E', 'IL7R', 'GZMB']
>>> enc["attention_mask"].tolist(), enc["coverage"]
([[1, 1, 1, 1], [1, 1, 0, 0]], 1.0)
>>> panel = tok(counts, gene_names=["CD3E", "CD8A", "GZMB", "IL7R"], mode="panel")  # log1p(CP10k)
>>> np.round(panel["expression"].astype(float), 2).tolist()
[[8.74, 0.0, 7.13, 7.82], [0.0, 9.21, 0.0, 0.0]]

```
"""

from __future__ import annotations

import csv
import gzip
import inspect
import json
import math
import os
import re
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from transformers import BatchEncoding
from transformers.utils import PushToHubMixin, cached_file, logging


logger = logging.get_logger(__name__)

VOCAB_FILE = "gene_vocab.json"
CONFIG_FILE = "tokenizer_config.json"
MEDIANS_FILE = "gene_medians.json"
MAPPING_FILE = "gene_id_map.json"
MODES = ("rank", "bins", "panel")
DEFAULT_MIN_COVERAGE = {"rank": 0.0, "bins": 0.0, "panel": 0.5}
BATCH_PREFIX, BATCH_SUFFIX = "<batch:", ">"
LOG_SCALE_MAX = 50.0  # non-integer data with larger values is linear (TPM, CP10k), not log

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


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in ("", "nan", "NaN", "None", "NA")


def _preview(names: Sequence[str], limit: int = 10) -> str:
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
                + _preview([f"{k}->{v}" for k, v in self.case_insensitive_matches.items()], 5)
            )
            if self.case_insensitive_matches
            else "",
            (
                f"{len(self.duplicate_genes)} vocabulary genes given by several input columns "
                f"({'summed' if self.duplicates == 'sum' else 'first column kept'}): "
                + _preview([f"{k} <- {'+'.join(v)}" for k, v in self.duplicate_genes.items()], 5)
            )
            if self.duplicate_genes
            else "",
        ]
        return "; ".join(line for line in lines if line)

    def __str__(self) -> str:
        return self.summary()


def _read_table(path: str | os.PathLike) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        first = handle.readline()
        delimiter = "\t" if "\t" in first else ","
        header = next(csv.reader([first], delimiter=delimiter))
        rows = list(csv.reader(handle, delimiter=delimiter))
    columns = [[row[i] if i < len(row) else "" for row in rows] for i in range(len(header))]
    return [name.strip() for name in header], columns


class GeneExpressionTokenizer(PushToHubMixin):
    """Tokenizer for single-cell or bulk expression matrices (rank, bins or panel encoding).

    Build one with :meth:`from_genes` (a gene list) or :meth:`from_adata` (the genes of a dataset),
    or load one with :meth:`from_pretrained`. Calling the tokenizer on an AnnData (or a matrix plus
    gene names) returns a :class:`transformers.BatchEncoding`.

    Example:

    ```python
    >>> import anndata as ad, numpy as np, scipy.sparse as sp
    >>> adata = ad.AnnData(sp.csr_matrix(np.array([[3.0, 0, 1], [0, 2, 2]])))
    >>> adata.var_names = ["IL2", "IFNG", "TNF"]
    >>> tok = GeneExpressionTokenizer.from_genes(["IFNG", "IL2", "IL10", "TNF"], mode="bins", n_bins=3)
    >>> enc = tok(adata, return_tensors="pt")
    >>> enc["input_ids"].tolist(), enc["expression_bins"].tolist(), round(enc["coverage"].item(), 2)
    ([[1, 5, 7], [1, 4, 7]], [[0, 2, 1], [0, 2, 2]], 0.75)
    >>> tok(adata, mode="panel")["missing_mask"][0].tolist()
    [False, False, True, False]

    ```

    Args:
        vocab_file: ``gene_vocab.json`` (``{token: id}``, e.g. scGPT's ``vocab.json``) or a text file
            with one token per line; tokens written ``<...>`` are special, all others are genes.
        vocab: the same as a dict, instead of ``vocab_file``.
        mode: ``"rank"``, ``"bins"`` or ``"panel"`` (see the module docstring); every call may override it.
        max_length: longest sequence in tokens, ``<cls>`` and batch token included (rank and bins modes).
        n_bins: number of value bins in bins mode, bin 0 included (scGPT: 51).
        normalize: ``"auto"`` (normalise raw counts and linear values only), ``True`` or ``False``.
        target_sum: total per cell after normalisation.
        log1p: apply ``log1p`` after scaling to ``target_sum`` (Geneformer ranks linear values: ``False``).
        sampling: bins mode, cells with more than ``max_length`` detected genes: ``"top"`` (highest
            expression) or ``"random"`` (uniform sample seeded with ``seed``).
        seed: seed of the random sampling.
        duplicates: ``"sum"`` or ``"first"``: what to do with input columns that resolve to one gene.
        min_coverage: smallest fraction of vocabulary genes the input must hold, else
            :class:`GeneCoverageError`; ``None`` means 0.5 in panel mode and 0 (at least one gene) otherwise.
        min_genes_detected: smallest number of vocabulary genes detected (non-zero) in every cell.
        add_cls_token: start rank/bins sequences with ``<cls>``.
        bin_pad_value: bin at padded positions (default ``n_bins``, scGPT's "category" convention; the
            mask bin is ``n_bins + 1``).
        chunk_size: cells processed at a time.
        batch_tokens: batch or study labels given their own token ``<batch:LABEL>``; pass ``batch=`` when
            calling to insert it after ``<cls>``.
        gene_medians: per-gene medians (``{gene: median}``) for rank mode, normally learnt with :meth:`fit`.
        gene_mapping: table mapping other identifiers to vocabulary genes (see :meth:`add_gene_mapping`).
    """

    vocab_files_names = {"vocab_file": VOCAB_FILE}

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        vocab: Mapping[str, int] | None = None,
        *,
        mode: str = "rank",
        max_length: int = 2048,
        n_bins: int = 51,
        normalize: bool | str = "auto",
        target_sum: float = 1e4,
        log1p: bool = True,
        sampling: str = "top",
        seed: int = 0,
        duplicates: str = "sum",
        min_coverage: float | None = None,
        min_genes_detected: int = 0,
        add_cls_token: bool = True,
        bin_pad_value: int | None = None,
        chunk_size: int = 2048,
        pad_token: str = "<pad>",
        cls_token: str = "<cls>",
        mask_token: str = "<mask>",
        unk_token: str = "<unk>",
        batch_tokens: Sequence[str] | None = None,
        gene_medians: Mapping[str, float | None] | Sequence[float] | None = None,
        gene_mapping: Any = None,
    ):
        if vocab is None and vocab_file is None:
            raise ValueError(
                "GeneExpressionTokenizer needs a vocabulary: use GeneExpressionTokenizer.from_genes(genes), "
                ".from_adata(adata), .from_pretrained(path) or pass vocab_file="
            )
        vocab = dict(vocab) if vocab is not None else _load_vocab(vocab_file)
        self.pad_token, self.cls_token, self.mask_token, self.unk_token = pad_token, cls_token, mask_token, unk_token
        for token in self.all_special_tokens:
            if token not in vocab:
                vocab[token] = max(vocab.values(), default=-1) + 1
        for label in batch_tokens or ():
            token = _batch_token(label)
            if token not in vocab:
                vocab[token] = max(vocab.values()) + 1
        if len(set(vocab.values())) != len(vocab):
            raise ValueError("the vocabulary maps several tokens to one id")
        self.vocab = dict(sorted(vocab.items(), key=lambda item: item[1]))
        self.ids_to_tokens = {index: token for token, index in self.vocab.items()}

        # every "<...>" token (specials, batch tokens, other models' extras such as scGPT's <eoc>) is not a gene
        self.genes = [t for t in self.vocab if not (t.startswith("<") and t.endswith(">"))]
        if not self.genes:
            raise ValueError("the vocabulary holds no genes")
        self._gene_vocab_ids = np.array([self.vocab[g] for g in self.genes], dtype=np.int64)
        self._lookup: dict[str, int] = {}
        self._lookup_upper: dict[str, int] = {}
        for position, gene in enumerate(self.genes):
            key = canonical_gene_id(gene)
            self._lookup.setdefault(key, position)
            self._lookup_upper.setdefault(key.upper(), position)

        self.mode = _check_choice("mode", mode, MODES)
        self.max_length = int(max_length)
        self.n_bins = int(n_bins)
        if self.n_bins < 3:
            raise ValueError(f"n_bins must be at least 3 (bin 0 for zeros and two non-zero bins), got {n_bins}")
        if normalize not in (True, False, "auto"):
            raise ValueError(f"normalize must be 'auto', True or False, got {normalize!r}")
        self.normalize = normalize
        self.target_sum = float(target_sum)
        self.log1p = bool(log1p)
        self.sampling = _check_choice("sampling", sampling, ("top", "random"))
        self.seed = int(seed)
        self.duplicates = _check_choice("duplicates", duplicates, ("sum", "first"))
        self.min_coverage = None if min_coverage is None else float(min_coverage)
        self.min_genes_detected = int(min_genes_detected)
        self.add_cls_token = bool(add_cls_token)
        self.bin_pad_value = self.n_bins if bin_pad_value is None else int(bin_pad_value)
        self.chunk_size = int(chunk_size)
        self.gene_medians = self._align_medians(gene_medians)
        self.gene_mapping: dict[str, str] = {}
        self._match_cache: tuple[tuple, GeneMatchReport] | None = None
        if gene_mapping is not None:
            self.add_gene_mapping(gene_mapping)

    # ------------------------------------------------------------------ vocabulary
    @classmethod
    def from_genes(
        cls,
        genes: Sequence[Any],
        *,
        pad_token: str = "<pad>",
        cls_token: str = "<cls>",
        mask_token: str = "<mask>",
        unk_token: str = "<unk>",
        **kwargs: Any,
    ) -> GeneExpressionTokenizer:
        """Tokenizer whose vocabulary is ``<pad> <cls> <mask> <unk>`` then ``genes`` in the given order.

        Gene ids are canonicalised (Ensembl version removed); a duplicated gene is an error.
        ``kwargs`` are the constructor options (``mode``, ``max_length``, ``batch_tokens``, ``gene_mapping`` ...).
        """
        canonical = [canonical_gene_id(gene) for gene in genes]
        if not canonical:
            raise ValueError("from_genes needs at least one gene")
        empty = [i for i, gene in enumerate(canonical) if not gene]
        if empty:
            raise ValueError(f"gene list has empty names at positions {empty[:10]}")
        duplicated = sorted(gene for gene, count in Counter(canonical).items() if count > 1)
        if duplicated:
            raise ValueError(f"gene list has {len(duplicated)} duplicated genes: {_preview(duplicated)}")
        specials = [pad_token, cls_token, mask_token, unk_token]
        clash = [gene for gene in canonical if gene in specials]
        if clash:
            raise ValueError(f"gene names clash with special tokens: {clash}")
        vocab = {token: index for index, token in enumerate(specials + canonical)}
        return cls(
            vocab=vocab, pad_token=pad_token, cls_token=cls_token, mask_token=mask_token, unk_token=unk_token, **kwargs
        )

    @classmethod
    def from_adata(
        cls,
        adata: Any,
        *,
        layer: str | None = None,
        gene_column: str | None = None,
        min_cells: int = 1,
        max_genes: int | None = None,
        fit: bool | None = None,
        **kwargs: Any,
    ) -> GeneExpressionTokenizer:
        """Tokenizer over the genes of ``adata`` (see :func:`build_vocab_from_adata`).

        In rank mode (the default) the gene medians are fitted on the same data unless ``fit=False``.
        """
        genes = build_vocab_from_adata(
            adata, layer=layer, gene_column=gene_column, min_cells=min_cells, max_genes=max_genes
        )
        tokenizer = cls.from_genes(genes, **kwargs)
        if fit if fit is not None else tokenizer.mode == "rank":
            tokenizer.fit(adata, layer=layer, gene_column=gene_column)
        return tokenizer

    @property
    def all_special_tokens(self) -> list[str]:
        return [self.pad_token, self.cls_token, self.mask_token, self.unk_token]

    @property
    def pad_token_id(self) -> int:
        return self.vocab[self.pad_token]

    @property
    def cls_token_id(self) -> int:
        return self.vocab[self.cls_token]

    @property
    def mask_token_id(self) -> int:
        return self.vocab[self.mask_token]

    @property
    def unk_token_id(self) -> int:
        return self.vocab[self.unk_token]

    @property
    def mask_bin(self) -> int:
        """Bin id to use for masked values (bins mode, MLM on values): ``n_bins + 1``."""
        return self.n_bins + 1

    @property
    def batch_tokens(self) -> list[str]:
        return [t[len(BATCH_PREFIX) : -len(BATCH_SUFFIX)] for t in self.vocab if _is_batch_token(t)]

    @property
    def vocab_size(self) -> int:
        return max(self.vocab.values()) + 1

    @property
    def model_input_names(self) -> list[str]:
        return {
            "rank": ["input_ids", "attention_mask"],
            "bins": ["input_ids", "expression_bins", "expression", "attention_mask"],
            "panel": ["expression", "missing_mask"],
        }[self.mode]

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        if isinstance(tokens, str):
            return self._token_id(tokens)
        return [self._token_id(token) for token in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> str | list[str]:
        if isinstance(ids, (int, np.integer)):
            return self.ids_to_tokens.get(int(ids), self.unk_token)
        return [self.ids_to_tokens.get(int(i), self.unk_token) for i in ids]

    def _token_id(self, token: str) -> int:
        if token in self.vocab:
            return self.vocab[token]
        position = self._resolve(canonical_gene_id(token))[0]
        return int(self._gene_vocab_ids[position]) if position is not None else self.unk_token_id

    def __repr__(self) -> str:
        fitted = "fitted" if self.gene_medians is not None else "not fitted"
        return (
            f"{type(self).__name__}(mode={self.mode!r}, genes={len(self.genes)}, vocab_size={self.vocab_size}, "
            f"max_length={self.max_length}, n_bins={self.n_bins}, normalize={self.normalize!r}, medians {fitted}, "
            f"{len(self.gene_mapping)} mapped ids)"
        )

    # ------------------------------------------------------------------ gene matching
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
            if _is_missing(source) or _is_missing(target):
                continue
            position = self._resolve(canonical_gene_id(target), use_mapping=False)[0]
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
                f"{_preview([t for _, t in pairs], 5)}; vocabulary genes: {_preview(self.genes, 5)})"
            )
        self._match_cache = None
        return added

    def _mapping_pairs(self, mapping: Any, target_column: str | None, source_columns: Sequence[str] | None):
        if isinstance(mapping, (str, os.PathLike)):
            header, columns = _read_table(mapping)
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
                    self._resolve(canonical_gene_id(v), use_mapping=False)[0] is not None
                    for v in values
                    if not _is_missing(v)
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

    def _resolve(self, key: str, use_mapping: bool = True) -> tuple[int | None, str]:
        """Panel position of one canonical gene id and how it matched (exact, mapped, case)."""
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

    def _match(self, names: Sequence[Any], duplicates: str) -> GeneMatchReport:
        key = (tuple(names), duplicates)
        if self._match_cache is not None and self._match_cache[0] == key:
            return self._match_cache[1]
        column_map = np.full(len(names), -1, dtype=np.int64)
        unknown, case, mapped, sources = [], {}, {}, {}
        for column, name in enumerate(names):
            if _is_missing(name):
                unknown.append(str(name))
                continue
            position, how = self._resolve(canonical_gene_id(name))
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

    def gene_report(
        self, data: Any, gene_names: Sequence[Any] | None = None, *, gene_column: str | None = None
    ) -> GeneMatchReport:
        """How the genes of ``data`` (AnnData, DataFrame or a list of gene names) match the vocabulary."""
        names = _gene_names_only(data, gene_names, gene_column)
        return self._match(names, self.duplicates)

    def coverage(self, data: Any, gene_names: Sequence[Any] | None = None, *, gene_column: str | None = None) -> float:
        """Fraction of vocabulary genes present in ``data`` (AnnData, DataFrame or a list of gene names)."""
        return self.gene_report(data, gene_names, gene_column=gene_column).coverage

    def genes_detected(
        self,
        data: Any,
        gene_names: Sequence[Any] | None = None,
        *,
        layer: str | None = None,
        gene_column: str | None = None,
    ) -> np.ndarray:
        """Number of vocabulary genes with non-zero expression in each cell (the cell-level coverage)."""
        X, names, _ = _read_input(data, gene_names, layer, gene_column)
        report = self._match(names, self.duplicates)
        counts = []
        for rows, cols, values, n in _iter_chunks(X, self.chunk_size):
            rows, cols, values = _project(rows, cols, values, report.column_map, self.duplicates == "sum")
            counts.append(np.bincount(rows, minlength=n))
        return np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------------ normalisation
    @staticmethod
    def detect_scale(data: Any, *, layer: str | None = None) -> str:
        """``"counts"`` (non-negative integers), ``"linear"`` (non-integer values above 50, e.g. TPM),
        ``"log"`` (non-negative, at most 50, not all integers), ``"scaled"`` (negative values, e.g.
        z-scores) or ``"empty"`` (all zero)."""
        X = _matrix_of(data, layer)
        return _scan(X)["scale"]

    def _plan_normalisation(self, X: Any, mode: str, normalize: bool | str) -> tuple[bool, dict[str, Any]]:
        info = _scan(X)
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
        do_normalise = normalize is True or (normalize == "auto" and scale in ("counts", "linear"))
        logger.info(
            f"expression looks like {scale} (max {info['max']:.4g}, median total {info['median_total']:.4g}); "
            + (f"normalising to {self.target_sum:g} per cell" + (" + log1p" if self.log1p else "")
               if do_normalise else "used as is")
        )
        return do_normalise, info

    def _normalised_chunks(self, X: Any, report: GeneMatchReport, do_normalise: bool):
        """Yield (rows, panel positions, values, n_rows) per chunk of cells, normalised, zeros removed."""
        for rows, cols, values, n in _iter_chunks(X, self.chunk_size):
            factor = None
            if do_normalise:
                totals = np.bincount(rows, weights=values, minlength=n)
                factor = np.divide(self.target_sum, totals, out=np.zeros(n), where=totals > 0)
            rows, cols, values = _project(rows, cols, values, report.column_map, self.duplicates == "sum")
            if factor is not None:
                values = values * factor[rows]
                if self.log1p:
                    values = np.log1p(values)
            yield rows, cols, values, n

    # ------------------------------------------------------------------ fitting (rank mode)
    def fit(
        self,
        data: Any,
        gene_names: Sequence[Any] | None = None,
        *,
        layer: str | None = None,
        gene_column: str | None = None,
    ) -> GeneExpressionTokenizer:
        """Learn the per-gene median of the normalised non-zero expression (Geneformer's gene medians).

        Genes never detected in ``data`` keep no median; in rank mode they are divided by the median of
        all fitted medians. Returns ``self``.
        """
        X, names, _ = _read_input(data, gene_names, layer, gene_column)
        report = self._match(names, self.duplicates)
        self._check_coverage(report, "rank", None)
        do_normalise, _ = self._plan_normalisation(X, "rank", self.normalize)
        all_cols, all_values = [], []
        for _, cols, values, _ in self._normalised_chunks(X, report, do_normalise):
            all_cols.append(cols)
            all_values.append(values)
        cols = np.concatenate(all_cols) if all_cols else np.zeros(0, dtype=np.int64)
        values = np.concatenate(all_values) if all_values else np.zeros(0)
        self.gene_medians = _column_medians(cols, values, len(self.genes))
        logger.info(f"fitted medians of {int(np.isfinite(self.gene_medians).sum())}/{len(self.genes)} genes")
        return self

    def _align_medians(self, medians: Any) -> np.ndarray | None:
        if medians is None:
            return None
        if isinstance(medians, Mapping):
            aligned = np.full(len(self.genes), np.nan)
            for gene, value in medians.items():
                position = self._resolve(canonical_gene_id(gene), use_mapping=False)[0]
                if position is not None and value is not None:
                    aligned[position] = float(value)
            return aligned
        aligned = np.asarray(medians, dtype=np.float64)
        if aligned.shape != (len(self.genes),):
            raise ValueError(f"gene_medians has {aligned.size} values for {len(self.genes)} genes")
        return aligned

    def _rank_divisor(self) -> np.ndarray:
        if self.gene_medians is None:
            return np.ones(len(self.genes))
        medians = self.gene_medians.copy()
        usable = np.isfinite(medians) & (medians > 0)
        fallback = float(np.median(medians[usable])) if usable.any() else 1.0
        medians[~usable] = fallback
        return medians

    # ------------------------------------------------------------------ encoding
    def __call__(
        self,
        data: Any,
        gene_names: Sequence[Any] | None = None,
        *,
        mode: str | None = None,
        layer: str | None = None,
        gene_column: str | None = None,
        max_length: int | None = None,
        padding: bool | str = "longest",
        sampling: str | None = None,
        seed: int | None = None,
        normalize: bool | str | None = None,
        min_coverage: float | None = None,
        min_genes_detected: int | None = None,
        batch: str | Sequence[Any] | None = None,
        gene_mapping: Any = None,
        return_tensors: str | None = None,
    ) -> BatchEncoding:
        """Tokenize cells.

        Args:
            data: AnnData (``X`` or ``layer``), pandas DataFrame (cells x genes), or a 2-D matrix (numpy,
                scipy sparse, torch) / 1-D vector with ``gene_names``.
            gene_names: one name per column (default: ``var_names``, or ``var[gene_column]``).
            mode, max_length, sampling, seed, normalize, min_coverage, min_genes_detected: override the
                tokenizer's settings for this call.
            padding: ``"longest"`` (or ``True``) pads to the longest cell, ``"max_length"`` to ``max_length``.
            batch: batch/study label per cell, or the name of an ``obs`` column; its ``<batch:LABEL>``
                token follows ``<cls>`` (rank/bins) or is returned as ``batch_ids`` (panel). Unknown labels
                become ``<unk>``.
            gene_mapping: identifier table added with :meth:`add_gene_mapping` before matching.
            return_tensors: ``"pt"`` (torch) or ``"np"``/``None`` (numpy arrays).

        Returns:
            BatchEncoding with, by mode: rank: ``input_ids``, ``attention_mask``; bins: ``input_ids``,
            ``expression_bins``, ``expression``, ``attention_mask``; panel: ``expression`` (cells x genes,
            float32), ``missing_mask`` (cells x genes, bool); always ``n_genes_detected`` (per cell) and
            ``coverage`` (fraction of vocabulary genes present in the input).
        """
        mode = _check_choice("mode", mode or self.mode, MODES)
        max_length = int(max_length or self.max_length)
        sampling = _check_choice("sampling", sampling or self.sampling, ("top", "random"))
        seed = self.seed if seed is None else int(seed)
        normalize = self.normalize if normalize is None else normalize
        min_genes = self.min_genes_detected if min_genes_detected is None else int(min_genes_detected)
        if padding is True:
            padding = "longest"
        padding = _check_choice("padding", padding, ("longest", "max_length"))
        if return_tensors not in (None, "np", "pt"):
            raise ValueError(f"return_tensors must be 'pt', 'np' or None, got {return_tensors!r}")
        if gene_mapping is not None:
            self.add_gene_mapping(gene_mapping)

        X, names, cell_names = _read_input(data, gene_names, layer, gene_column)
        report = self._match(names, self.duplicates)
        self._warn_report(report)
        self._check_coverage(report, mode, min_coverage)
        do_normalise, _ = self._plan_normalisation(X, mode, normalize)
        batch_ids = self._batch_ids(batch, data, X.shape[0])

        prefix = int(self.add_cls_token) + int(batch_ids is not None)
        if mode != "panel" and max_length <= prefix:
            raise ValueError(f"max_length={max_length} leaves no room for genes after {prefix} special tokens")
        rng = np.random.default_rng(seed)
        divisor = self._rank_divisor() if mode == "rank" else None
        parts, detected, start = [], [], 0
        for rows, cols, values, n in self._normalised_chunks(X, report, do_normalise):
            chunk_batch = batch_ids[start : start + n] if batch_ids is not None else None
            start += n
            detected.append(np.bincount(rows, minlength=n))
            if mode == "panel":
                parts.append(self._encode_panel(rows, cols, values, n, report))
            elif mode == "rank":
                parts.append(self._encode_rank(rows, cols, values, n, divisor, max_length, chunk_batch))
            else:
                parts.append(self._encode_bins(rows, cols, values, n, max_length, sampling, rng, chunk_batch))
        n_detected = np.concatenate(detected) if detected else np.zeros(0, dtype=np.int64)
        self._check_cells(n_detected, min_genes, cell_names)

        if mode == "panel":
            encoded = {key: np.concatenate([p[key] for p in parts]) for key in ("expression", "missing_mask")}
            if batch_ids is not None:
                encoded["batch_ids"] = batch_ids
        else:
            width = max_length if padding == "max_length" else max(p["input_ids"].shape[1] for p in parts)
            pads = {
                "input_ids": self.pad_token_id,
                "attention_mask": 0,
                "expression_bins": self.bin_pad_value,
                "expression": 0.0,
            }
            encoded = {  # one chunk: its arrays as they are (no copy)
                key: np.ascontiguousarray(_pad_to(parts[0][key], width, pads[key])) if len(parts) == 1
                else np.concatenate([_pad_to(p[key], width, pads[key]) for p in parts])
                for key in parts[0]
            }  # fmt: skip
        encoded["n_genes_detected"] = n_detected
        encoded["coverage"] = report.coverage
        return _to_batch_encoding(encoded, return_tensors)

    def _encode_panel(self, rows, cols, values, n, report: GeneMatchReport) -> dict[str, np.ndarray]:
        expression = np.zeros((n, len(self.genes)), dtype=np.float32)
        expression[rows, cols] = values
        present = np.zeros(len(self.genes), dtype=bool)
        present[report.column_map[report.column_map >= 0]] = True
        return {"expression": expression, "missing_mask": np.broadcast_to(~present, expression.shape).copy()}

    def _prefix(self, n: int, batch_ids: np.ndarray | None) -> np.ndarray:
        columns = []
        if self.add_cls_token:
            columns.append(np.full(n, self.cls_token_id, dtype=np.int64))
        if batch_ids is not None:
            columns.append(np.asarray(batch_ids, dtype=np.int64))
        return np.stack(columns, axis=1) if columns else np.zeros((n, 0), dtype=np.int64)

    def _encode_rank(self, rows, cols, values, n, divisor, max_length, batch_ids) -> dict[str, np.ndarray]:
        prefix = self._prefix(n, batch_ids)
        offset = prefix.shape[1]
        # rows ascending, score descending, ties in vocabulary order (entries come sorted by (row, gene))
        input_ids, lengths = _rank_within_rows(
            rows, cols, values / divisor[cols], n, max_length - offset, self._gene_vocab_ids, self.pad_token_id, offset
        )
        input_ids[:, :offset] = prefix
        attention_mask = (np.arange(input_ids.shape[1])[None, :] < (lengths + offset)[:, None]).astype(np.int64)
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def _encode_bins(self, rows, cols, values, n, max_length, sampling, rng, batch_ids) -> dict[str, np.ndarray]:
        prefix = self._prefix(n, batch_ids)
        limit = max_length - prefix.shape[1]
        bins = _quantile_bins(rows, values, n, self.n_bins)
        draws = rng.random(len(values)) if sampling == "random" else None  # drawn always: one seeded stream
        if len(rows) and np.bincount(rows, minlength=n).max() > limit:  # some cell has more genes than room
            if sampling == "top":  # stable: ties in vocabulary order
                order = _sort_within_rows(rows, values, descending=True)
            else:
                order = _sort_within_rows(rows, draws)
            positions, _ = _positions_in_rows(rows[order], n, limit)
            chosen = np.sort(order[positions < limit])  # back to (row, vocabulary) order
            rows, cols, values, bins = rows[chosen], cols[chosen], values[chosen], bins[chosen]
        positions, lengths = _positions_in_rows(rows, n, limit)
        offset = prefix.shape[1]
        width = offset + (int(lengths.max()) if n else 0)
        input_ids = np.full((n, width), self.pad_token_id, dtype=np.int64)
        input_ids[:, :offset] = prefix
        input_ids[rows, offset + positions] = self._gene_vocab_ids[cols]
        expression_bins = np.full((n, width), self.bin_pad_value, dtype=np.int64)
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

    # ------------------------------------------------------------------ checks and reports
    def _check_coverage(self, report: GeneMatchReport, mode: str, min_coverage: float | None) -> None:
        threshold = min_coverage if min_coverage is not None else self.min_coverage
        if threshold is None:
            threshold = DEFAULT_MIN_COVERAGE[mode]
        if report.present_genes and report.coverage >= threshold:
            return
        hint = (
            "Check the gene identifiers: vocabulary genes look like "
            f"{_preview(self.genes, 3)}, input genes like {_preview(report.unknown_genes, 3)}; map other ids "
            "with gene_mapping= (a dict, DataFrame or TSV of e.g. Ensembl/Entrez id -> symbol)"
        )
        raise GeneCoverageError(
            f"only {len(report.present_genes)} of {report.n_vocab_genes} vocabulary genes "
            f"({report.coverage:.1%}) are present in the input (min_coverage={threshold:g}, {mode} mode); "
            f"{len(report.missing_genes)} missing: {_preview(report.missing_genes)}. {hint}"
            + ("" if not report.present_genes else ", or lower min_coverage.")
        )

    @staticmethod
    def _check_cells(n_detected: np.ndarray, min_genes: int, cell_names: list[str] | None) -> None:
        if min_genes <= 0:
            return
        low = np.flatnonzero(n_detected < min_genes)
        if low.size:
            names = [
                f"{cell_names[i] if cell_names is not None else f'row {i}'} ({int(n_detected[i])} genes)" for i in low
            ]
            raise GeneCoverageError(
                f"{low.size} of {len(n_detected)} cells have fewer than min_genes_detected={min_genes} vocabulary "
                f"genes detected: {_preview(names)}. Filter them first (tokenizer.genes_detected(adata) gives the "
                "count per cell) or lower min_genes_detected."
            )

    @staticmethod
    def _warn_report(report: GeneMatchReport) -> None:
        if report.duplicate_genes or report.case_insensitive_matches:
            logger.warning(report.summary())
        else:
            logger.info(report.summary())

    def _batch_ids(self, batch: Any, data: Any, n_cells: int) -> np.ndarray | None:
        if batch is None:
            return None
        if not self.batch_tokens:
            raise ValueError("this tokenizer has no batch tokens: build it with batch_tokens=[...] to use batch=")
        if isinstance(batch, str):
            obs = getattr(data, "obs", None)
            if obs is None or batch not in obs:
                raise ValueError(f"batch={batch!r} is not an obs column of the input")
            batch = list(obs[batch])
        labels = list(batch)
        if len(labels) != n_cells:
            raise ValueError(f"batch has {len(labels)} labels for {n_cells} cells")
        ids = np.array([self.vocab.get(_batch_token(label), self.unk_token_id) for label in labels], dtype=np.int64)
        unknown = sorted({str(label) for label, i in zip(labels, ids) if i == self.unk_token_id})
        if unknown:
            logger.warning(f"batch labels without a token become {self.unk_token}: {_preview(unknown)}")
        return ids

    # ------------------------------------------------------------------ saving and loading
    def _config(self) -> dict[str, Any]:
        return {
            "tokenizer_class": type(self).__name__,
            "auto_map": {"AutoTokenizer": [f"tokenization_gene_expression.{type(self).__name__}", None]},
            "mode": self.mode,
            "max_length": self.max_length,
            "n_bins": self.n_bins,
            "normalize": self.normalize,
            "target_sum": self.target_sum,
            "log1p": self.log1p,
            "sampling": self.sampling,
            "seed": self.seed,
            "duplicates": self.duplicates,
            "min_coverage": self.min_coverage,
            "min_genes_detected": self.min_genes_detected,
            "add_cls_token": self.add_cls_token,
            "bin_pad_value": self.bin_pad_value,
            "chunk_size": self.chunk_size,
            "pad_token": self.pad_token,
            "cls_token": self.cls_token,
            "mask_token": self.mask_token,
            "unk_token": self.unk_token,
            "model_max_length": self.max_length,
        }

    def save_pretrained(self, save_directory: str | os.PathLike, push_to_hub: bool = False, **kwargs: Any) -> tuple:
        """Write ``gene_vocab.json``, ``tokenizer_config.json``, ``gene_medians.json`` (when fitted),
        ``gene_id_map.json`` (when a mapping was added) and a copy of this file into ``save_directory``."""
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory {save_directory} is a file, not a directory")
        os.makedirs(save_directory, exist_ok=True)
        files = []

        def write(name: str, content: Any) -> None:
            path = os.path.join(save_directory, name)
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(content, handle, indent=1, ensure_ascii=False)
                handle.write("\n")
            files.append(path)

        write(VOCAB_FILE, self.vocab)
        write(CONFIG_FILE, self._config())
        if self.gene_medians is not None:
            write(
                MEDIANS_FILE,
                {g: (float(m) if np.isfinite(m) else None) for g, m in zip(self.genes, self.gene_medians)},
            )
        if self.gene_mapping:
            write(MAPPING_FILE, self.gene_mapping)
        source = os.path.abspath(__file__)
        target = os.path.join(os.path.abspath(save_directory), "tokenization_gene_expression.py")
        if os.path.isfile(source) and source != target:
            shutil.copyfile(source, target)
            files.append(target)
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(str(save_directory))))
            hub_options = {k: v for k, v in kwargs.items() if k in ("commit_message", "private", "token")}
            self.push_to_hub(repo_id, **hub_options)
        return tuple(files)

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any
    ) -> GeneExpressionTokenizer:
        """Load a tokenizer saved with :meth:`save_pretrained` from a folder or a Hub repo id.

        ``kwargs`` are Hub options (``revision``, ``token``, ``cache_dir``, ``subfolder``, ``local_files_only``
        ...) or constructor options that override the saved ones (e.g. ``mode="panel"``).
        """
        hub_keys = ("cache_dir", "force_download", "local_files_only", "token", "revision", "subfolder", "proxies")
        hub = {key: kwargs.pop(key) for key in hub_keys if key in kwargs}
        for key in ("_from_auto", "_from_pipeline", "trust_remote_code", "_commit_hash", "code_revision", "use_fast"):
            kwargs.pop(key, None)
        path = str(pretrained_model_name_or_path)

        def resolve(name: str, required: bool) -> str | None:
            return cached_file(path, name, _raise_exceptions_for_missing_entries=required, **hub)

        with open(resolve(CONFIG_FILE, True), encoding="utf-8") as handle:
            config = json.load(handle)
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "vocab", "vocab_file"}
        ignored = set(config) - accepted - {"tokenizer_class", "auto_map", "model_max_length"}
        if ignored:
            logger.warning(f"ignoring unknown tokenizer_config.json entries: {sorted(ignored)}")
        options = {key: value for key, value in config.items() if key in accepted}
        for name, key in ((MEDIANS_FILE, "gene_medians"), (MAPPING_FILE, "gene_mapping")):
            file = resolve(name, False)
            if file is not None and key not in kwargs:
                with open(file, encoding="utf-8") as handle:
                    options[key] = json.load(handle)
        options.update(kwargs)
        return cls(vocab_file=resolve(VOCAB_FILE, True), **options)

    @classmethod
    def register_for_auto_class(cls, auto_class: str = "AutoTokenizer") -> None:
        """Called by ``AutoTokenizer`` on remote code; a no-op, ``save_pretrained`` always writes ``auto_map``."""
        cls._auto_class = auto_class


# ---------------------------------------------------------------------- module helpers
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
    X, names, _ = _read_input(adata, None, layer, gene_column)
    n_cells = np.zeros(len(names), dtype=np.int64)
    for _, cols, _, _ in _iter_chunks(X, 4096):
        n_cells += np.bincount(cols, minlength=len(names))
    selected = np.flatnonzero(n_cells >= min_cells)
    if max_genes is not None and selected.size > max_genes:
        best = selected[np.lexsort((selected, -n_cells[selected]))[:max_genes]]
        selected = np.sort(best)
    genes, seen = [], set()
    for column in selected:
        if _is_missing(names[column]):
            continue
        gene = canonical_gene_id(names[column])
        if gene and gene not in seen:
            seen.add(gene)
            genes.append(gene)
    if not genes:
        raise ValueError(f"no gene is detected in at least min_cells={min_cells} cells")
    return genes


def _batch_token(label: Any) -> str:
    return f"{BATCH_PREFIX}{label}{BATCH_SUFFIX}"


def _is_batch_token(token: str) -> bool:
    return token.startswith(BATCH_PREFIX) and token.endswith(BATCH_SUFFIX)


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def _load_vocab(vocab_file: str | os.PathLike) -> dict[str, int]:
    with open(vocab_file, encoding="utf-8") as handle:
        text = handle.read()
    if str(vocab_file).endswith(".json"):
        vocab = json.loads(text)
        if not isinstance(vocab, dict):
            raise ValueError(f"{vocab_file} must hold a JSON object {{token: id}}")
        return {str(token): int(index) for token, index in vocab.items()}
    tokens = [line.strip() for line in text.splitlines() if line.strip()]
    return {token: index for index, token in enumerate(tokens)}


def _is_anndata(data: Any) -> bool:
    return all(hasattr(data, attribute) for attribute in ("X", "var_names", "obs_names", "layers"))


def _is_sparse(X: Any) -> bool:
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def _matrix_of(data: Any, layer: str | None) -> Any:
    if _is_anndata(data):
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
    if _is_sparse(X):
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
        raise TypeError(f"expression must be numeric, got dtype {X.dtype}")
    return X


def _gene_names_only(data: Any, gene_names: Sequence[Any] | None, gene_column: str | None) -> list[Any]:
    if gene_names is not None:
        return list(gene_names)
    if _is_anndata(data):
        return list(data.var[gene_column]) if gene_column else list(data.var_names)
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):
        return list(data.columns)
    if isinstance(data, (list, tuple)) and (not data or not isinstance(data[0], (list, tuple, np.ndarray))):
        return list(data)
    raise ValueError("gene_names are needed when the input is not an AnnData or a DataFrame")


def _read_input(data: Any, gene_names: Sequence[Any] | None, layer: str | None, gene_column: str | None):
    """(cells x genes matrix, gene names, cell names or None)."""
    if _is_anndata(data) and gene_column is not None and gene_column not in data.var:
        raise KeyError(f"gene_column {gene_column!r} is not a var column (columns: {list(data.var.columns)})")
    X = _matrix_of(data, layer)
    names = _gene_names_only(data, gene_names, gene_column)
    if len(names) != X.shape[1]:
        raise ValueError(f"{len(names)} gene names for a matrix with {X.shape[1]} genes (columns)")
    if _is_anndata(data):
        cells = [str(name) for name in data.obs_names]
    elif hasattr(data, "index") and hasattr(data, "to_numpy"):
        cells = [str(name) for name in data.index]
    else:
        cells = None
    return X, names, cells


def _scan(X: Any) -> dict[str, Any]:
    """One pass over the values: NaN check, range, integer-ness, per-cell totals -> scale."""
    values = np.asarray(X.data if _is_sparse(X) else X)
    if values.size and not np.isfinite(values).all():
        bad = np.flatnonzero(~np.isfinite(values.ravel()))[0]
        if _is_sparse(X):
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


def _iter_chunks(X: Any, chunk_size: int):
    """Yield (rows, columns, values, n_rows) of the non-zero entries of row chunks, sorted by row then column."""
    for start in range(0, X.shape[0], max(1, chunk_size)):
        chunk = X[start : start + chunk_size]
        n = chunk.shape[0]
        if _is_sparse(chunk):
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


def _project(rows, cols, values, column_map, sum_duplicates: bool):
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


def _sort_within_rows(rows: np.ndarray, values: np.ndarray, descending: bool = False) -> np.ndarray:
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


def _rank_within_rows(
    rows: np.ndarray, cols: np.ndarray, score: np.ndarray, n: int, limit: int, labels: np.ndarray, fill: int,
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
        positions, _ = _positions_in_rows(rows_sorted, n, limit)
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


def _positions_in_rows(sorted_rows: np.ndarray, n: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Position of each entry within its row (entries grouped by row) and the kept length of each row."""
    counts = np.bincount(sorted_rows, minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    positions = np.arange(len(sorted_rows)) - starts[sorted_rows]
    return positions, np.minimum(counts, limit)


def _quantile_bins(rows: np.ndarray, values: np.ndarray, n: int, n_bins: int) -> np.ndarray:
    """scGPT value binning, vectorised over cells: for each cell, edges = ``np.quantile(nonzero values,
    np.linspace(0, 1, n_bins - 1))`` and bin = ``np.digitize(value, edges)`` (1..n_bins-1)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if values.min() < 0:
        raise ValueError("bins mode needs non-negative expression")
    order = _sort_within_rows(rows, values)
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


def _column_medians(cols: np.ndarray, values: np.ndarray, n_columns: int) -> np.ndarray:
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


def _pad_to(array: np.ndarray, width: int, value: Any) -> np.ndarray:
    if array.shape[1] >= width:
        return array[:, :width]
    padded = np.full((array.shape[0], width), value, dtype=array.dtype)
    padded[:, : array.shape[1]] = array
    return padded


def _to_batch_encoding(encoded: dict[str, Any], return_tensors: str | None) -> BatchEncoding:
    if return_tensors == "pt":
        import torch

        encoded = {
            key: torch.from_numpy(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else torch.tensor(value)
            for key, value in encoded.items()
        }
    elif return_tensors == "np":
        encoded = {key: np.asarray(value) for key, value in encoded.items()}
    return BatchEncoding(encoded)


__all__ = [
    "GeneCoverageError",
    "GeneExpressionTokenizer",
    "GeneMatchReport",
    "build_vocab_from_adata",
    "canonical_gene_id",
]
