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

Gene matching lives in ``gene_vocabulary.py`` (:class:`~.gene_vocabulary.GeneMatcher`) and the encodings
in ``expression_encoding.py``; this file holds the tokenizer (settings, vocabulary, saving and loading).

Portable: the three files import only the standard library, numpy, transformers (and torch when
``return_tensors="pt"``) and each other. ``save_pretrained`` copies them next to the vocabulary, so a
saved tokenizer loads where txformers is not installed, with
``AutoTokenizer.from_pretrained(path, trust_remote_code=True)`` or by importing the copied file (its
folder on ``sys.path``).

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

import inspect
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from transformers import BatchEncoding
from transformers.utils import PushToHubMixin, cached_file, logging

try:  # a package: txformers.tokenizers, or transformers' copy of a checkpoint's code (trust_remote_code)
    from .expression_encoding import (
        column_medians,
        concatenate_padded,
        encode_bins,
        encode_panel,
        encode_rank,
        gene_names_of,
        matrix_of,
        normalisation_plan,
        normalised_chunks,
        rank_divisor,
        read_input,
        scan_expression,
    )
    from .gene_vocabulary import (
        GeneCoverageError,
        GeneMatcher,
        GeneMatchReport,
        build_vocab_from_adata,
        canonical_gene_id,
        canonical_gene_list,
        check_coverage,
        check_genes_detected,
        load_vocab,
        preview,
    )
except ImportError:  # this file imported on its own, from a checkpoint folder on sys.path
    from expression_encoding import (
        column_medians,
        concatenate_padded,
        encode_bins,
        encode_panel,
        encode_rank,
        gene_names_of,
        matrix_of,
        normalisation_plan,
        normalised_chunks,
        rank_divisor,
        read_input,
        scan_expression,
    )
    from gene_vocabulary import (
        GeneCoverageError,
        GeneMatcher,
        GeneMatchReport,
        build_vocab_from_adata,
        canonical_gene_id,
        canonical_gene_list,
        check_coverage,
        check_genes_detected,
        load_vocab,
        preview,
    )

logger = logging.get_logger(__name__)

VOCAB_FILE = "gene_vocab.json"
CONFIG_FILE = "tokenizer_config.json"
MEDIANS_FILE = "gene_medians.json"
MAPPING_FILE = "gene_id_map.json"
SOURCE_FILES = ("tokenization_gene_expression.py", "gene_vocabulary.py", "expression_encoding.py")  # copied on save
MODES = ("rank", "bins", "panel")
DEFAULT_MIN_COVERAGE = {"rank": 0.0, "bins": 0.0, "panel": 0.5}
BATCH_PREFIX, BATCH_SUFFIX = "<batch:", ">"


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
        vocab = dict(vocab) if vocab is not None else load_vocab(vocab_file)
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
        self.gene_matcher = GeneMatcher(self.genes)

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
        canonical = canonical_gene_list(genes)
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
        position = self.gene_matcher.resolve(canonical_gene_id(token))[0]
        return int(self._gene_vocab_ids[position]) if position is not None else self.unk_token_id

    def __repr__(self) -> str:
        fitted = "fitted" if self.gene_medians is not None else "not fitted"
        return (
            f"{type(self).__name__}(mode={self.mode!r}, genes={len(self.genes)}, vocab_size={self.vocab_size}, "
            f"max_length={self.max_length}, n_bins={self.n_bins}, normalize={self.normalize!r}, medians {fitted}, "
            f"{len(self.gene_mapping)} mapped ids)"
        )

    # ------------------------------------------------------------------ gene matching
    @property
    def gene_mapping(self) -> dict[str, str]:
        """Identifier (upper case) -> vocabulary gene pairs added with :meth:`add_gene_mapping`."""
        return self.gene_matcher.gene_mapping

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
        return self.gene_matcher.add_gene_mapping(mapping, target_column, source_columns)

    def gene_report(
        self, data: Any, gene_names: Sequence[Any] | None = None, *, gene_column: str | None = None
    ) -> GeneMatchReport:
        """How the genes of ``data`` (AnnData, DataFrame or a list of gene names) match the vocabulary."""
        names = gene_names_of(data, gene_names, gene_column)
        return self.gene_matcher.match(names, self.duplicates)

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
        X, names, _ = read_input(data, gene_names, layer, gene_column)
        report = self.gene_matcher.match(names, self.duplicates)
        counts = [np.bincount(rows, minlength=n) for rows, _, _, n in self._normalised_chunks(X, report, False)]
        return np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------------ normalisation
    @staticmethod
    def detect_scale(data: Any, *, layer: str | None = None) -> str:
        """``"counts"`` (non-negative integers), ``"linear"`` (non-integer values above 50, e.g. TPM),
        ``"log"`` (non-negative, at most 50, not all integers), ``"scaled"`` (negative values, e.g.
        z-scores) or ``"empty"`` (all zero)."""
        return scan_expression(matrix_of(data, layer))["scale"]

    def _plan_normalisation(self, X: Any, mode: str, normalize: bool | str) -> tuple[bool, dict[str, Any]]:
        do_normalise, info = normalisation_plan(X, mode, normalize)
        logger.info(
            f"expression looks like {info['scale']} (max {info['max']:.4g}, median total {info['median_total']:.4g}); "
            + (
                f"normalising to {self.target_sum:g} per cell" + (" + log1p" if self.log1p else "")
                if do_normalise
                else "used as is"
            )
        )
        return do_normalise, info

    def _normalised_chunks(self, X: Any, report: GeneMatchReport, do_normalise: bool):
        """Yield (rows, panel positions, values, n_rows) per chunk of cells, normalised, zeros removed."""
        target_sum = self.target_sum if do_normalise else None
        sum_duplicates = self.duplicates == "sum"
        return normalised_chunks(X, report.column_map, self.chunk_size, sum_duplicates, target_sum, self.log1p)

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
        X, names, _ = read_input(data, gene_names, layer, gene_column)
        report = self.gene_matcher.match(names, self.duplicates)
        self._check_coverage(report, "rank", None)
        do_normalise, _ = self._plan_normalisation(X, "rank", self.normalize)
        all_cols, all_values = [], []
        for _, cols, values, _ in self._normalised_chunks(X, report, do_normalise):
            all_cols.append(cols)
            all_values.append(values)
        cols = np.concatenate(all_cols) if all_cols else np.zeros(0, dtype=np.int64)
        values = np.concatenate(all_values) if all_values else np.zeros(0)
        self.gene_medians = column_medians(cols, values, len(self.genes))
        logger.info(f"fitted medians of {int(np.isfinite(self.gene_medians).sum())}/{len(self.genes)} genes")
        return self

    def _align_medians(self, medians: Any) -> np.ndarray | None:
        if medians is None:
            return None
        if isinstance(medians, Mapping):
            aligned = np.full(len(self.genes), np.nan)
            for gene, value in medians.items():
                position = self.gene_matcher.resolve(canonical_gene_id(gene), use_mapping=False)[0]
                if position is not None and value is not None:
                    aligned[position] = float(value)
            return aligned
        aligned = np.asarray(medians, dtype=np.float64)
        if aligned.shape != (len(self.genes),):
            raise ValueError(f"gene_medians has {aligned.size} values for {len(self.genes)} genes")
        return aligned

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

        X, names, cell_names = read_input(data, gene_names, layer, gene_column)
        report = self.gene_matcher.match(names, self.duplicates)
        self._warn_report(report)
        self._check_coverage(report, mode, min_coverage)
        do_normalise, _ = self._plan_normalisation(X, mode, normalize)
        batch_ids = self._batch_ids(batch, data, X.shape[0])

        prefix = int(self.add_cls_token) + int(batch_ids is not None)
        if mode != "panel" and max_length <= prefix:
            raise ValueError(f"max_length={max_length} leaves no room for genes after {prefix} special tokens")
        rng = np.random.default_rng(seed)
        divisor = rank_divisor(self.gene_medians, len(self.genes)) if mode == "rank" else None
        gene_ids, pad_id = self._gene_vocab_ids, self.pad_token_id  # token id of each panel gene, padding id
        parts, detected, start = [], [], 0
        for rows, cols, values, n in self._normalised_chunks(X, report, do_normalise):
            chunk_batch = batch_ids[start : start + n] if batch_ids is not None else None
            start += n
            detected.append(np.bincount(rows, minlength=n))
            if mode == "panel":
                parts.append(encode_panel(rows, cols, values, n, report.column_map, len(self.genes)))
                continue
            prefix = self._prefix(n, chunk_batch)
            if mode == "rank":
                parts.append(encode_rank(rows, cols, values / divisor[cols], n, prefix, max_length, gene_ids, pad_id))
            else:
                bins = {"n_bins": self.n_bins, "bin_pad_value": self.bin_pad_value, "sampling": sampling, "rng": rng}
                parts.append(
                    encode_bins(rows, cols, values, n, prefix, max_length, **bins, gene_ids=gene_ids, pad_id=pad_id)
                )
        n_detected = np.concatenate(detected) if detected else np.zeros(0, dtype=np.int64)
        check_genes_detected(n_detected, min_genes, cell_names)

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
            encoded = concatenate_padded(parts, width, pads)
        encoded["n_genes_detected"] = n_detected
        encoded["coverage"] = report.coverage
        return _to_batch_encoding(encoded, return_tensors)

    def _prefix(self, n: int, batch_ids: np.ndarray | None) -> np.ndarray:
        columns = []
        if self.add_cls_token:
            columns.append(np.full(n, self.cls_token_id, dtype=np.int64))
        if batch_ids is not None:
            columns.append(np.asarray(batch_ids, dtype=np.int64))
        return np.stack(columns, axis=1) if columns else np.zeros((n, 0), dtype=np.int64)

    # ------------------------------------------------------------------ checks and reports
    def _check_coverage(self, report: GeneMatchReport, mode: str, min_coverage: float | None) -> None:
        threshold = min_coverage if min_coverage is not None else self.min_coverage
        check_coverage(report, DEFAULT_MIN_COVERAGE[mode] if threshold is None else threshold, mode, self.genes)

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
            logger.warning(f"batch labels without a token become {self.unk_token}: {preview(unknown)}")
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
        ``gene_id_map.json`` (when a mapping was added) and a copy of this file and its sibling modules (the
        code a checkpoint needs to load without txformers) into ``save_directory``."""
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
        here = os.path.dirname(os.path.abspath(__file__))
        for name in SOURCE_FILES:
            source, target = os.path.join(here, name), os.path.join(os.path.abspath(save_directory), name)
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
def _batch_token(label: Any) -> str:
    return f"{BATCH_PREFIX}{label}{BATCH_SUFFIX}"


def _is_batch_token(token: str) -> bool:
    return token.startswith(BATCH_PREFIX) and token.endswith(BATCH_SUFFIX)


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


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


__all__ = [  # GeneCoverageError, GeneMatchReport, build_vocab_from_adata, canonical_gene_id: gene_vocabulary's
    "GeneCoverageError",
    "GeneExpressionTokenizer",
    "GeneMatchReport",
    "build_vocab_from_adata",
    "canonical_gene_id",
]
