# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Tumour-immune microenvironment dataset: immune cells of many single-cell samples, labelled with
sample, patient, study and cancer type (the dataset of Ren et al., Comput. Biol. Chem. 2024).

The input is a **manifest**, a CSV/TSV with one row per sample:

============== ======== ===========================================================================
column         required meaning
============== ======== ===========================================================================
path           yes      the sample: an ``.h5ad`` file, a 10x folder (``matrix.mtx[.gz]``,
                        ``features.tsv[.gz]`` or ``genes.tsv[.gz]``, ``barcodes.tsv[.gz]``) or a
                        CSV/TSV table; relative paths are relative to the manifest
format         yes      ``h5ad``, ``10x`` (also ``mtx``) or ``csv`` (also ``tsv``)
cancer_type    yes      label of the sample
study          yes      study / data source (the batch)
patient        yes      patient (donor) id; splits downstream must be grouped by it
sample         no       sample id (default: the file name); must be unique
cell_type_column no     ``obs`` column with cell-type annotations (for immune filtering)
obs_path       no       CSV/TSV of per-cell metadata (first column = cell id) for 10x and CSV inputs
orientation    no       CSV inputs: ``cells_x_genes`` (default) or ``genes_x_cells``
scale          no       ``auto`` (default), ``counts``, ``linear`` (TPM...), ``log`` (log1p-normalised)
                        or ``log2p1`` (``log2(x + 1)`` of a linear scale, e.g. log2(TPM/10+1))
immune_filter  no       ``auto`` (default), ``annotation``, ``ptprc`` or ``none``
tissue         no       tumour / normal / blood ... (passed through)
layer          no       h5ad layer to read instead of ``X`` (the file is then read whole)
============== ======== ===========================================================================

The manifest is parsed and the samples are read by :mod:`txformers.datasets.scrna_samples` (re-exported here).
Per sample, one at a time (h5ad files are opened in backed mode and read ``chunk_size`` cells at a
time, so memory is bounded by one chunk plus one sample's ``obs``):

1. **Genes** are harmonised with :class:`~txformers.GeneExpressionTokenizer`'s gene matching
   (Ensembl version suffixes stripped, Entrez ``GeneID:`` prefixes, case-insensitive symbols, an
   optional ``gene_mapping`` table for Ensembl/Entrez ids); columns that resolve to one gene are summed.
   Target genes: the 185 cytokine ligand genes (default), an explicit list, or ``"all"`` (the union of
   the samples' genes). With ``common_genes_only`` (default) only target genes measured in *every*
   sample are kept, so an unmeasured gene never looks like an unexpressed one (a study confound).
2. **Immune cells** are kept: with ``immune_filter="annotation"`` (the default when the row names a
   ``cell_type_column``) cells whose label matches :data:`IMMUNE_LABEL_PATTERN` (T/B/NK/plasma cells,
   macrophages, monocytes, microglia, dendritic, mast cells, neutrophils ...; or ``immune_labels``);
   with ``"ptprc"`` (default otherwise) cells with PTPRC (CD45) expression ``> ptprc_min`` (0) in the
   input values, meant for raw counts; ``"none"`` keeps every cell (e.g. sorted T cells). The PTPRC rule
   misses immune cells where PTPRC dropped out (about one in three T cells of 10x data: 137/200 of the
   wu2020 T cells have PTPRC counts) and is unusable on data without PTPRC.
3. **Normalisation**: raw counts and linear values (``scale`` ``counts``/``linear``/``log2p1``, or
   detected by ``GeneExpressionTokenizer.detect_scale``) are scaled to ``target_sum`` (1e4) per cell,
   over all input genes, then ``log1p``; ``log`` inputs are used as they are. Negative values (scaled
   data) and NaN are errors.
4. Each kept cell is yielded with its labels; with ``pseudobulk=True`` one example per sample instead
   (raw values summed over the sample's immune cells, then normalised the same way; log inputs
   averaged in linear space).

Bad samples (a missing or unreadable file, no gene of the panel, no PTPRC for the PTPRC rule,
negative or NaN values...) raise :class:`SampleError` naming the sample and the manifest row with
``on_error="raise"`` (default: the build stops, the cache is not written), or are skipped with a
warning and listed in ``builder.report["skipped"]`` (and ``report_path``) with ``on_error="skip"``:
every other sample is kept whole.

Example:

```python
>>> from txformers.datasets.tumor_immune import TumorImmuneBuilder
>>> builder = TumorImmuneBuilder(manifest="samples.tsv", cache_dir="cache")  # doctest: +SKIP
>>> builder.download_and_prepare()  # doctest: +SKIP
>>> cells = builder.as_dataset()["train"]  # doctest: +SKIP
>>> builder.gene_names()[:3], cells.features["cancer_type"].names  # doctest: +SKIP
```
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import scipy.sparse as sp

from ..data import cytokine_genes
from ..tokenizers.gene_vocabulary import canonical_gene_id
from ..tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
from .scrna_samples import (
    IMMUNE_LABEL_PATTERN,
    OpenSample,
    SampleError,
    SampleSpec,
    _blank,
    is_immune_label,
    open_sample,
    read_manifest,
    sample_gene_names,
)

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- builder
@dataclass
class TumorImmuneConfig(datasets.BuilderConfig):
    """Options of :class:`TumorImmuneBuilder`.

    Args:
        manifest: path of the manifest (CSV/TSV, one row per sample; see the module docstring).
        genes: ``"cytokines"`` (the 185 shipped cytokine ligand genes), ``"all"`` (union of the samples'
            genes) or a list of gene symbols.
        common_genes_only: keep only target genes measured in every sample.
        gene_mapping: identifier table (dict, DataFrame or TSV path) mapping Ensembl/Entrez ids to symbols,
            used through ``GeneExpressionTokenizer.add_gene_mapping``.
        immune_labels: exact cell-type labels counted as immune (default: :data:`IMMUNE_LABEL_PATTERN`).
        ptprc_min: the PTPRC rule keeps cells with PTPRC expression above this (input values).
        target_sum: total per cell after normalisation (before log1p).
        pseudobulk: one example per sample instead of one per cell.
        layout: ``"dense"`` (``expression`` over :meth:`TumorImmuneBuilder.gene_names`), ``"sparse"``
            (``gene_ids``/``values`` of the non-zero genes) or ``"auto"`` (dense up to 2,048 genes).
        min_genes: a sample sharing fewer target genes than this is an error (skipped with ``on_error="skip"``).
        chunk_size: cells read at a time.
        on_error: ``"raise"`` (stop at the first bad sample) or ``"skip"`` (warn, record, go on).
        report_path: optional JSON file written with the per-sample report.
    """

    manifest: str | None = None
    genes: Any = "cytokines"
    common_genes_only: bool = True
    gene_mapping: Any = None
    immune_labels: tuple[str, ...] | None = None
    ptprc_min: float = 0.0
    target_sum: float = 1e4
    pseudobulk: bool = False
    layout: str = "auto"
    min_genes: int = 1
    chunk_size: int = 2048
    on_error: str = "raise"
    report_path: str | None = None

    def create_config_id(self, config_kwargs: dict, custom_features: Any = None) -> str:
        # The cache must change when the manifest or any sample file changes, not only its path.
        return super().create_config_id(
            {**config_kwargs, "_fingerprint": _manifest_fingerprint(self.manifest)}, custom_features
        )


def _manifest_fingerprint(manifest: str | None) -> str:
    if not manifest or not Path(manifest).is_file():
        return ""
    digest = hashlib.sha256(Path(manifest).read_bytes())
    try:
        specs = read_manifest(manifest, require_labels=False)
    except ValueError:
        return digest.hexdigest()
    for spec in specs:
        for path in (spec.path, spec.obs_path):
            if path and Path(path).exists():
                stat = Path(path).stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


class TumorImmuneBuilder(datasets.GeneratorBasedBuilder):
    """Immune cells (or pseudo-bulk samples) of a manifest of single-cell samples; one ``train`` split.

    Construct with ``manifest=`` and the options of :class:`TumorImmuneConfig`; split downstream by
    ``patient`` (never by cell). :attr:`report` holds, per sample, the cells read and kept, the scale
    found, the genes matched, and the samples skipped.
    """

    BUILDER_CONFIG_CLASS = TumorImmuneConfig
    BUILDER_CONFIGS = [TumorImmuneConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    VERSION = datasets.Version("1.0.0")

    # -- manifest, genes
    def samples(self) -> list[SampleSpec]:
        if not self.config.manifest:
            raise ValueError("TumorImmuneBuilder needs manifest= (a CSV/TSV with one row per sample)")
        cache = self.__dict__.setdefault("_samples", None)
        if cache is None:
            cache = self.__dict__["_samples"] = read_manifest(self.config.manifest)
            _check_choice("on_error", self.config.on_error, ("raise", "skip"))
            _check_choice("layout", self.config.layout, ("auto", "dense", "sparse"))
        return cache

    @property
    def report(self) -> dict[str, Any]:
        return self.__dict__.setdefault("_report", {"samples": [], "skipped": []})

    def _skip(self, spec: SampleSpec, error: Exception) -> None:
        if self.config.on_error == "raise":
            raise error if isinstance(error, SampleError) else SampleError(f"{spec.describe()}: {error}") from error
        message = str(error)
        warnings.warn(f"skipping {message}", stacklevel=3)
        if all(entry["sample"] != spec.sample for entry in self.report["skipped"]):
            self.report["skipped"].append(
                {"sample": spec.sample, "row": spec.row, "path": spec.path, "reason": message}
            )

    def _target_genes(self) -> list[str]:
        genes = self.config.genes
        if isinstance(genes, str) and genes == "cytokines":
            return cytokine_genes()
        if isinstance(genes, str) and genes == "all":
            names = [canonical_gene_id(n) for spec in self.usable_samples() for n in self._sample_genes(spec)]
            names = [name for name in names if name]
            mapping = self._mapping_table(names)
            return list(dict.fromkeys(mapping.get(name.upper(), name) for name in names))
        if isinstance(genes, str):
            raise ValueError(f"genes must be 'cytokines', 'all' or a list of genes, got {genes!r}")
        return [str(gene) for gene in genes]

    def _mapping_table(self, names: Sequence[str]) -> dict[str, str]:
        """Upper-case canonical id -> gene, from ``gene_mapping`` (a table is read by the tokenizer, whose
        target column is the one naming most of ``names``)."""
        if self.config.gene_mapping is None:
            return {}
        if isinstance(self.config.gene_mapping, dict):
            return {canonical_gene_id(k).upper(): str(v) for k, v in self.config.gene_mapping.items()}
        probe = GeneExpressionTokenizer.from_genes(list(dict.fromkeys(names)))
        probe.add_gene_mapping(self.config.gene_mapping)
        return dict(probe.gene_mapping)

    def _sample_genes(self, spec: SampleSpec) -> list[str]:
        cache = self.__dict__.setdefault("_gene_cache", {})
        if spec.sample not in cache:
            cache[spec.sample] = sample_gene_names(spec)
        return cache[spec.sample]

    def usable_samples(self) -> list[SampleSpec]:
        """Samples whose file exists and whose gene names can be read (the others raise or are skipped)."""
        if "_usable" not in self.__dict__:
            usable = []
            for spec in self.samples():
                try:
                    self._sample_genes(spec)
                except SampleError as error:
                    self._skip(spec, error)
                    continue
                usable.append(spec)
            self.__dict__["_usable"] = usable
        return self.__dict__["_usable"]

    def matcher(self) -> GeneExpressionTokenizer:
        """The gene matcher: a panel-mode tokenizer over the target genes (with ``gene_mapping``)."""
        if "_matcher" not in self.__dict__:
            genes = self._target_genes()
            matcher = GeneExpressionTokenizer.from_genes(genes, mode="panel")
            if self.config.gene_mapping is not None:
                matcher.add_gene_mapping(self.config.gene_mapping)
            if self.config.common_genes_only:
                present = np.ones(len(matcher.genes), dtype=bool)
                for spec in self.usable_samples():
                    found = np.zeros(len(matcher.genes), dtype=bool)
                    column_map = matcher.gene_report(self._sample_genes(spec)).column_map
                    found[column_map[column_map >= 0]] = True
                    present &= found
                kept = [gene for gene, keep in zip(matcher.genes, present) if keep]
                if len(kept) < self.config.min_genes:
                    raise ValueError(
                        f"only {len(kept)} of {len(matcher.genes)} target genes are measured in every sample "
                        f"(min_genes={self.config.min_genes}); pass common_genes_only=False or drop the samples with "
                        "few genes"
                    )
                if len(kept) < len(matcher.genes):
                    logger.info(f"{len(kept)} of {len(matcher.genes)} target genes are measured in every sample")
                mapping = {k: v for k, v in matcher.gene_mapping.items() if v in set(kept)}
                matcher = GeneExpressionTokenizer.from_genes(kept, mode="panel", gene_mapping=mapping or None)
            self.__dict__["_matcher"] = matcher
        return self.__dict__["_matcher"]

    def gene_names(self) -> list[str]:
        """Genes of every ``expression`` vector (dense layout) / the names of ``gene_ids`` (sparse layout)."""
        return list(self.matcher().genes)

    def cancer_types(self) -> list[str]:
        return sorted({spec.cancer_type for spec in self.samples()})

    def _dense(self) -> bool:
        return self.config.layout == "dense" or (self.config.layout == "auto" and len(self.gene_names()) <= 2048)

    # -- datasets API
    def _info(self) -> datasets.DatasetInfo:
        features = {
            "id": datasets.Value("string"),
            "cell_id": datasets.Value("string"),
            "sample": datasets.Value("string"),
            "patient": datasets.Value("string"),
            "study": datasets.Value("string"),
            "tissue": datasets.Value("string"),
            "cell_type": datasets.Value("string"),
            "n_cells": datasets.Value("int32"),
        }
        if self.config.manifest:
            features["cancer_type"] = datasets.ClassLabel(names=self.cancer_types())
            if self._dense():
                features["expression"] = datasets.List(datasets.Value("float32"), length=len(self.gene_names()))
            else:
                features["gene_ids"] = datasets.List(datasets.ClassLabel(names=self.gene_names()))
                features["values"] = datasets.List(datasets.Value("float32"))
        return datasets.DatasetInfo(
            description=(
                "Tumour-immune cells of many single-cell samples: log1p(CP10k) expression of the target genes with "
                "sample, patient, study and cancer-type labels (txformers TumorImmuneBuilder)."
            ),
            features=datasets.Features(features),
        )

    def download_and_prepare(self, *args: Any, **kwargs: Any) -> None:
        """As in datasets; a bad sample found while writing raises its :class:`SampleError` (not the generic
        ``DatasetGenerationError`` datasets wraps it in), and no cache is written."""
        try:
            super().download_and_prepare(*args, **kwargs)
            return
        except datasets.exceptions.DatasetGenerationError as error:
            cause = error.__cause__
            if not isinstance(cause, SampleError):
                raise
        raise cause  # outside the handler: no cycle between the two exceptions' contexts

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        # read every sample's gene names first: missing or unreadable files fail (or are skipped) before any work
        self.usable_samples()
        self.gene_names()
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={})]

    def _generate_examples(self) -> Iterator[tuple[str, dict[str, Any]]]:
        self.report["samples"] = []
        skipped = {entry["sample"] for entry in self.report["skipped"]}
        for spec in self.samples():
            if spec.sample in skipped:
                continue
            try:
                examples = list(self._sample_examples(spec)) if self.config.on_error == "skip" else None
            except SampleError as error:
                self._skip(spec, error)
                continue
            yield from examples if examples is not None else self._sample_examples(spec)
        if self.config.report_path:
            Path(self.config.report_path).write_text(json.dumps(self.report, indent=1, default=str))
        if self.report["skipped"]:
            logger.warning(
                f"skipped {len(self.report['skipped'])} sample(s): {[s['sample'] for s in self.report['skipped']]}"
            )

    # -- one sample
    def _sample_examples(self, spec: SampleSpec) -> Iterator[tuple[str, dict[str, Any]]]:
        config = self.config
        matcher = self.matcher()
        with open_sample(spec) as opened:
            report = matcher.gene_report(opened.gene_names)
            if len(report.present_genes) < config.min_genes:
                raise SampleError(
                    f"{spec.describe()}: only {len(report.present_genes)} target genes found (min_genes="
                    f"{config.min_genes}); its genes look like {opened.gene_names[:3]}, the targets like "
                    f"{matcher.genes[:3]} (use gene_mapping= for Ensembl/Entrez ids)"
                )
            used = np.flatnonzero(report.column_map >= 0)
            projection = sp.csr_matrix(
                (np.ones(len(used)), (used, report.column_map[used])),
                shape=(len(opened.gene_names), len(matcher.genes)),
            )
            rule = spec.immune_filter
            if rule == "auto":
                rule = "annotation" if spec.cell_type_column else "ptprc"
            ptprc = self._ptprc_columns(spec, opened.gene_names) if rule == "ptprc" else None
            labels = (
                opened.obs[spec.cell_type_column].astype(object).to_numpy()
                if spec.cell_type_column
                else np.full(opened.n_cells, None, dtype=object)
            )
            immune_all = is_immune_label(labels, config.immune_labels) if rule == "annotation" else None

            scale, normalise = spec.scale, None
            n_kept = 0
            bulk_sum = np.zeros(len(opened.gene_names))
            for start, chunk in opened.iter_chunks(config.chunk_size):
                if normalise is None:
                    scale = _resolve_scale(spec, chunk)
                    normalise = scale != "log"
                stop = start + chunk.shape[0]
                if rule == "annotation":
                    keep = immune_all[start:stop]
                elif rule == "ptprc":
                    keep = np.asarray(chunk[:, ptprc].sum(axis=1)).ravel() > config.ptprc_min
                else:
                    keep = np.ones(chunk.shape[0], dtype=bool)
                rows = np.flatnonzero(keep)
                n_kept += len(rows)
                if not len(rows):
                    continue
                chunk = chunk[rows]
                if not normalise:
                    chunk = chunk.copy()
                    chunk.data = np.expm1(chunk.data)
                if config.pseudobulk:
                    bulk_sum += np.asarray(chunk.sum(axis=0)).ravel()
                    continue
                values = _log_normalise(chunk, projection, config.target_sum if normalise else None)
                for offset, row in enumerate(rows):
                    index = start + int(row)
                    cell_id = str(opened.obs.index[index])
                    yield f"{spec.sample}/{cell_id}", self._example(spec, cell_id, labels[index], 1, values[offset])
            if config.pseudobulk and n_kept:
                if normalise:
                    profile = _log_normalise(sp.csr_matrix(bulk_sum[None, :]), projection, config.target_sum)
                else:
                    profile = _log_normalise(sp.csr_matrix(bulk_sum[None, :] / n_kept), projection, None)
                yield f"{spec.sample}/pseudobulk", self._example(spec, "pseudobulk", "", n_kept, profile[0])
            entry = {
                "sample": spec.sample,
                "row": spec.row,
                "cells": opened.n_cells,
                "immune_cells": n_kept,
                "immune_rule": rule,
                "scale": scale,
                "normalised": bool(normalise),
                "genes_matched": len(report.present_genes),
                "genes_missing": report.missing_genes[:50],
                "input_genes": len(opened.gene_names),
            }
            self.report["samples"].append(entry)
            if not n_kept:
                logger.warning(f"{spec.describe()}: no immune cell kept ({rule} rule, {opened.n_cells} cells)")

    def _ptprc_columns(self, spec: SampleSpec, gene_names: list[str]) -> np.ndarray:
        probe = GeneExpressionTokenizer.from_genes(["PTPRC"], mode="panel")
        if self.config.gene_mapping is not None:
            try:
                probe.add_gene_mapping(self.config.gene_mapping)
            except ValueError:  # the mapping has no PTPRC entry
                pass
        columns = np.flatnonzero(probe.gene_report(gene_names).column_map >= 0)
        if not len(columns):
            raise SampleError(
                f"{spec.describe()}: the PTPRC rule needs the PTPRC (CD45) gene, which the sample lacks; give a "
                "cell_type_column, or immune_filter='none' if every cell is immune"
            )
        return columns

    def _example(
        self, spec: SampleSpec, cell_id: str, cell_type: Any, n_cells: int, values: sp.csr_matrix | np.ndarray
    ):
        example = {
            "id": f"{spec.sample}/{cell_id}",
            "cell_id": cell_id,
            "sample": spec.sample,
            "patient": spec.patient,
            "study": spec.study,
            "tissue": spec.tissue,
            "cell_type": "" if _blank(cell_type) else str(cell_type),
            "n_cells": int(n_cells),
            "cancer_type": spec.cancer_type,
        }
        row = values.toarray().ravel() if sp.issparse(values) else np.asarray(values).ravel()
        if self._dense():
            example["expression"] = row.astype(np.float32)
        else:
            nonzero = np.flatnonzero(row)
            example["gene_ids"] = nonzero.astype(np.int64).tolist()
            example["values"] = row[nonzero].astype(np.float32)
        return example


def _resolve_scale(spec: SampleSpec, chunk: sp.csr_matrix) -> str:
    """``counts``/``linear``/``log`` of a sample: from the manifest, else detected on its first chunk."""
    if spec.scale == "log2p1":
        return "linear"
    if spec.scale != "auto":
        return spec.scale
    detected = GeneExpressionTokenizer.detect_scale(chunk)
    return {"empty": "counts"}.get(detected, detected)


def _log_normalise(linear: sp.csr_matrix, projection: sp.csr_matrix, target_sum: float | None) -> sp.csr_matrix:
    """Rows scaled to ``target_sum`` over all input genes (if given), projected on the target genes
    (duplicated genes summed), then log1p."""
    if target_sum is not None:
        totals = np.asarray(linear.sum(axis=1)).ravel()
        factor = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
        linear = sp.diags(factor) @ linear
    projected = sp.csr_matrix(linear @ projection)
    projected.data = np.log1p(projected.data)
    return projected


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def to_dense_panel(dataset: datasets.Dataset, gene_names: Sequence[str] | None = None) -> np.ndarray:
    """Cells x genes float32 matrix of a built dataset (dense ``expression`` or sparse ``gene_ids``/``values``)."""
    if "expression" in dataset.column_names:
        return np.asarray(dataset.with_format("numpy")["expression"], dtype=np.float32)
    names = gene_names or dataset.features["gene_ids"].feature.names
    matrix = np.zeros((len(dataset), len(names)), dtype=np.float32)
    for row, (ids, values) in enumerate(zip(dataset["gene_ids"], dataset["values"])):
        matrix[row, ids] = values
    return matrix


__all__ = [
    "IMMUNE_LABEL_PATTERN",
    "OpenSample",
    "SampleError",
    "SampleSpec",
    "TumorImmuneBuilder",
    "TumorImmuneConfig",
    "is_immune_label",
    "open_sample",
    "read_manifest",
    "sample_gene_names",
    "to_dense_panel",
]
