# Copyright 2026 The txformers authors. BSD-3-Clause.
"""``CancerTypePipeline``: the cancer type of single cells (and of samples) from their expression, with a
``CellformerForCellClassification`` and its ``GeneExpressionTokenizer``; task ``"cancer-type-classification"``.

Input: an AnnData (``X`` or a ``layer``; gene names from ``var_names`` or ``var[gene_column]``), a
``dict(expression=cells x genes, genes=[...])`` (optionally ``cells=[ids]`` and ``samples=[one id per
cell]``; a 1-D ``expression`` is one cell) or a pandas DataFrame (cells x genes). Give every measured gene,
as raw counts, TPM or log1p(CP10k): counts and linear values are scaled to 10,000 per cell over *all* input
genes then log1p-transformed, as for the training data; genes outside the model's panel are ignored.

Output: one dict per cell, ``{"cell", "label", "score", "genes_detected"}`` (``genes_detected``: panel genes
with non-zero expression; a cell with none gets the model's prior, not a call worth reading), with
``"scores"`` (every label's probability) when ``return_all_scores=True``. When the checkpoint's config holds
``abstain`` thresholds (tuned on held-out training folds, :mod:`txformers.tasks.cytokine.abstain`), a cell
whose panel coverage, top probability or distance to the training cells is out of range is called
``"unknown"``: it gets ``"unknown": True``, its ``"reasons"`` and the top class as ``"predicted_label"``
(``abstain=False`` turns this off). With ``sample_column=`` (an
``obs`` column) or ``samples`` in the dict, the result is ``{"cells": [...], "samples": [...]}``, a sample's
call being the mean class probabilities of its cells. Cells are run ``cell_batch_size`` at a time.

Portable: imports only numpy, torch and transformers, so a checkpoint folder that ships this file and a
``custom_pipelines`` entry in its ``config.json`` works without txformers:

```python
>>> from transformers import pipeline
>>> classify = pipeline("cancer-type-classification", model="checkpoints/cellformer-cancer-type",
...                     trust_remote_code=True)  # doctest: +SKIP
>>> classify(adata, sample_column="sample")["samples"][0]  # doctest: +SKIP
{'sample': 'P1', 'label': 'lung', 'score': 0.41, 'n_cells': 52}
```

With txformers imported the task is registered (``txformers.hub.register``): a folder without
``custom_pipelines`` needs no ``trust_remote_code``, e.g. ``pipeline("cancer-type-classification", model=folder)``;
for one with it (the bundled checkpoint) pass ``trust_remote_code=True`` or ``pipeline_class=CancerTypePipeline``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer
from transformers.pipelines.base import ChunkPipeline

logger = logging.getLogger(__name__)

TASK = "cancer-type-classification"
MODEL_INPUTS = ("input_ids", "expression_bins", "expression", "attention_mask")
LOW_COVERAGE = 0.5
UNKNOWN = "unknown"


def abstain_flags(
    probabilities: np.ndarray,
    coverage: np.ndarray,
    embeddings: np.ndarray | None,
    rule: Mapping[str, Any],
    distance: np.ndarray | None = None,
) -> tuple[np.ndarray, list[list[str]]]:
    """Which cells to call ``unknown`` under an abstain ``rule`` (the ``abstain`` entry of the config), and why.

    A cell is out of range when its fraction of panel genes detected is below ``min_panel_coverage``, its top
    class probability below ``min_probability``, or its distance to the training cells (:func:`cell_distance`)
    above ``max_distance``: ``distance`` when given (e.g. :func:`detection_surprise` of a rule with a
    ``reference`` file; NaN: not checked), else :func:`cell_distance` of the pooled ``embeddings``.

    >>> rule = {"min_panel_coverage": 0.1, "min_probability": 0.3, "max_distance": 2.0,
    ...         "mean": [0.0], "scale": [1.0], "centroids": [[0.0]], "distance_unit": 1.0}
    >>> flags, why = abstain_flags(np.array([[0.9, 0.1], [0.5, 0.5]]), np.array([0.5, 0.05]),
    ...                            np.array([[0.5], [3.0]]), rule)
    >>> flags.tolist(), why
    ([False, True], [[], ['panel_coverage', 'distance']])
    """
    if distance is None:
        distance = cell_distance(embeddings, rule)
    distance = np.asarray(distance, dtype=np.float64)
    checks = {
        "panel_coverage": coverage < float(rule["min_panel_coverage"]),
        "probability": probabilities.max(1) < float(rule["min_probability"]),
        "distance": np.nan_to_num(distance, nan=-np.inf) > float(rule["max_distance"]),
    }
    reasons = [[name for name, flagged in checks.items() if flagged[row]] for row in range(len(probabilities))]
    return np.array([bool(why) for why in reasons], dtype=bool), reasons


def cell_distance(embeddings: np.ndarray, rule: Mapping[str, Any]) -> np.ndarray:
    """Distance of each pooled cell embedding to the nearest training-class centroid, after standardising with
    the training cells' ``mean`` and ``scale``, in units of the training cells' median distance
    (``distance_unit``): about 1 for a typical training cell."""
    z = (np.asarray(embeddings, dtype=np.float64) - np.asarray(rule["mean"])) / np.asarray(rule["scale"])
    centroids = np.asarray(rule["centroids"], dtype=np.float64)
    distances = np.sqrt(((z[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)).min(1)
    return distances / float(rule["distance_unit"])


def detection_surprise(log_p: np.ndarray, detected: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """How unlike every training class a cell's pattern of detected genes is: per class ``c`` (rows of
    ``log_p``, the log of each gene's detection rate among the class's training cells), the cell's negative
    log-likelihood per gene under independent detection, minus the class's expected value (its entropy), so 0
    is a typical cell of the class; the minimum over classes. Only the ``present`` genes (measured in the
    input) count. Detection (> 0) does not depend on normalisation, so counts, TPM and log values agree.

    >>> log_p = np.log(np.array([[0.9, 0.9, 0.01, 0.01]]))
    >>> detection_surprise(log_p, np.array([[1, 1, 0, 0], [0, 0, 1, 1]])).round(2).tolist()
    [-0.17, 4.64]
    """
    log_p = np.asarray(log_p, dtype=np.float64)
    if present is None:
        present = np.ones(log_p.shape[1], dtype=bool)
    present = np.asarray(present, dtype=bool)
    if not present.any():
        return np.full(len(detected), np.nan)
    log_p = log_p[:, present]
    p = np.exp(log_p)
    log_q = np.log1p(-np.minimum(p, 1 - 1e-12))
    entropy = -(p * log_p + (1 - p) * log_q).mean(1)
    hit = (np.asarray(detected)[:, present] > 0).astype(np.float64)
    log_likelihood = (hit @ log_p.T + (1 - hit) @ log_q.T) / present.sum()
    return (-log_likelihood - entropy[None, :]).min(1)


def load_abstain_reference(source: str, filename: str) -> dict[str, Any]:
    """The ``reference`` file of an abstain rule (``genes``, ``log_p``: classes x genes), from the model folder
    ``source`` (or its Hub repository). The rule's ``min_reference_genes`` is the fewest of these genes an input
    must hold for the distance to be checked (the thresholds were calibrated over all of them)."""
    import os

    path = os.path.join(source, filename)
    if not os.path.isfile(path):
        from transformers.utils import cached_file

        path = cached_file(source, filename)
    with np.load(path, allow_pickle=False) as data:
        return {"genes": [str(g) for g in data["genes"]], "log_p": data["log_p"].astype(np.float64)}


def aggregate_by_sample(proba: np.ndarray, samples: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean class probabilities of each sample's cells: ``(sample ids (sorted), samples x classes, cells per sample)``.

    >>> ids, mean, n = aggregate_by_sample(np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]), ["b", "a", "a"])
    >>> ids.tolist(), mean.round(2).tolist(), n.tolist()
    (['a', 'b'], [[0.3, 0.7], [0.9, 0.1]], [2, 1])
    """
    ids, inverse = np.unique(np.asarray(samples).astype(str), return_inverse=True)
    sums = np.zeros((len(ids), proba.shape[1]))
    np.add.at(sums, inverse, proba)
    counts = np.bincount(inverse, minlength=len(ids))
    return ids, sums / counts[:, None], counts


class CancerTypePipeline(ChunkPipeline):
    """Cancer type of every cell of an AnnData / expression matrix, optionally aggregated per sample.

    Call options (also accepted by the constructor): ``sample_column`` (``obs`` column of sample ids),
    ``layer`` (AnnData layer), ``gene_column`` (``var`` column of gene names), ``cell_batch_size`` (cells per
    forward pass, default 256), ``min_coverage`` (smallest fraction of the model's panel genes the input must
    hold; default: at least one gene; below one half a warning is logged), ``return_all_scores``.
    """

    _load_tokenizer = None  # optional for transformers; loaded from the model folder in __init__ if needed

    def __init__(self, model: Any, tokenizer: Any = None, **kwargs: Any):
        if tokenizer is None:
            tokenizer = _tokenizer_of(model)
        super().__init__(model=model, tokenizer=tokenizer, **kwargs)
        config = self.model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]

    def _sanitize_parameters(
        self,
        sample_column: str | None = None,
        layer: str | None = None,
        gene_column: str | None = None,
        cell_batch_size: int | None = None,
        min_coverage: float | None = None,
        return_all_scores: bool | None = None,
        abstain: bool | None = None,
        **kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        if kwargs:
            raise TypeError(f"unknown options for {type(self).__name__}: {sorted(kwargs)}")
        preprocess: dict[str, Any] = {}
        for name, value in (
            ("sample_column", sample_column),
            ("layer", layer),
            ("gene_column", gene_column),
            ("cell_batch_size", cell_batch_size),
            ("min_coverage", min_coverage),
        ):
            if value is not None:
                preprocess[name] = value
        if cell_batch_size is not None and int(cell_batch_size) < 1:
            raise ValueError(f"cell_batch_size must be at least 1, got {cell_batch_size}")
        postprocess = {"return_all_scores": bool(return_all_scores)} if return_all_scores is not None else {}
        if abstain is not None:
            postprocess["abstain"] = bool(abstain)
        return preprocess, {}, postprocess

    # ------------------------------------------------------------------ preprocess
    def preprocess(
        self,
        inputs: Any,
        sample_column: str | None = None,
        layer: str | None = None,
        gene_column: str | None = None,
        cell_batch_size: int = 256,
        min_coverage: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        data, gene_names, cells, samples = _unpack(inputs, sample_column)
        if getattr(data, "shape", (1,))[0] == 0:
            raise ValueError("the input holds no cells")
        report = self.tokenizer.gene_report(data, gene_names, gene_column=gene_column)
        if not report.present_genes:
            raise ValueError(
                f"none of the model's {report.n_vocab_genes} panel genes is in the input ({report.n_input_genes} "
                f"genes, e.g. {list(report.unknown_genes[:5])}); the panel: {list(self.tokenizer.genes)}. Use HGNC "
                "symbols (or pass gene_column= for a var column of symbols)"
            )
        if report.coverage < LOW_COVERAGE:
            logger.warning(
                f"only {len(report.present_genes)} of {report.n_vocab_genes} panel genes ({report.coverage:.0%}) are "
                f"in the input; missing: {report.missing_genes[:20]}. Calls rest on the genes present."
            )
        encoded = self.tokenizer(
            data,
            gene_names,
            mode="bins",
            layer=layer,
            gene_column=gene_column,
            min_coverage=min_coverage,
            return_tensors="pt",
        )
        n_cells = int(encoded["input_ids"].shape[0])
        if cells is None:
            cells = [str(i) for i in range(n_cells)]
        for name, ids in (("sample", samples), ("cell", cells)):
            if ids is not None and len(ids) != n_cells:
                raise ValueError(f"{len(ids)} {name} ids for {n_cells} cells")
        detected = np.asarray(encoded["n_genes_detected"])
        step = max(1, int(cell_batch_size))
        reference = self._abstain_reference()
        self.abstain_note = None
        if reference is not None:
            found = reference["tokenizer"].gene_report(data, gene_names, gene_column=gene_column).present_genes
            n_found = len(found)
            if n_found < reference["min_genes"]:
                self.abstain_note = (
                    f"distance to the training cells not checked: {n_found} of the abstain reference's "
                    f"{len(reference['genes'])} genes are in the input (at least {reference['min_genes']} needed)"
                )
                logger.warning(self.abstain_note)
        for start in range(0, max(n_cells, 1), step):
            stop = min(start + step, n_cells)
            chunk = {key: encoded[key][start:stop] for key in MODEL_INPUTS}
            chunk.update(
                cells=list(cells[start:stop]),
                genes_detected=detected[start:stop],
                distance=None
                if reference is None
                else self._surprise(reference, data, gene_names, start, stop, layer, gene_column),
                n_panel_genes=report.n_vocab_genes,
                samples=None if samples is None else list(samples[start:stop]),
                is_last=stop >= n_cells,
            )
            yield chunk

    def _abstain_reference(self) -> dict[str, Any] | None:
        """The abstain rule's ``reference`` file (per-class gene detection rates), loaded once; None without one."""
        rule = getattr(self.model.config, "abstain", None) or {}
        if not rule.get("reference"):
            return None
        if getattr(self, "_reference", None) is None:
            source = getattr(self.model, "name_or_path", None) or getattr(self.model.config, "_name_or_path", "")
            reference = load_abstain_reference(source, rule["reference"])
            reference["tokenizer"] = type(self.tokenizer).from_genes(reference["genes"], mode="panel")
            reference["min_genes"] = int(rule.get("min_reference_genes", 1))
            self._reference = reference
        return self._reference

    @staticmethod
    def _surprise(
        reference: dict[str, Any], data: Any, gene_names: Any, start: int, stop: int, layer: Any, gene_column: Any
    ) -> Any:
        """:func:`detection_surprise` of cells ``start:stop`` over the reference genes the input measures."""
        rows = data.iloc[start:stop] if hasattr(data, "iloc") else data[start:stop]
        try:
            panel = reference["tokenizer"](
                rows, gene_names, mode="panel", layer=layer, gene_column=gene_column, normalize=False, min_coverage=0.0
            )
        except ValueError:  # none of the reference genes in the input: the distance is not checked
            return np.full(stop - start, np.nan)
        present = ~np.asarray(panel["missing_mask"][0], dtype=bool)
        if present.sum() < reference["min_genes"]:  # too few genes for a calibrated distance: not checked
            return np.full(stop - start, np.nan)
        return detection_surprise(reference["log_p"], np.asarray(panel["expression"]), present)

    # ------------------------------------------------------------------ forward
    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        inputs = {key: model_inputs.pop(key) for key in MODEL_INPUTS}
        if inputs["input_ids"].shape[0] == 0:
            probabilities = torch.zeros((0, len(self.labels)))
            pooled = torch.zeros((0, self.model.config.hidden_size))
        else:  # the classifier's own forward, keeping the pooled cell state for the distance to the training cells
            pooled = self.model.cellformer(**inputs).pooler_output
            probabilities = self.model.classifier(pooled).float().softmax(-1)
        return {"probabilities": probabilities, "pooled": pooled.float(), **model_inputs}

    # ------------------------------------------------------------------ postprocess
    def postprocess(
        self, model_outputs: list[dict[str, Any]], return_all_scores: bool = False, abstain: bool = True
    ) -> Any:
        proba = np.concatenate([output["probabilities"].numpy() for output in model_outputs]).astype(np.float64)
        cells = [cell for output in model_outputs for cell in output["cells"]]
        detected = np.concatenate([np.asarray(output["genes_detected"]) for output in model_outputs])
        best = proba.argmax(1) if len(proba) else np.zeros(0, dtype=int)
        rule = getattr(self.model.config, "abstain", None) if abstain else None
        if rule:
            pooled = np.concatenate([output["pooled"].cpu().numpy() for output in model_outputs])
            coverage = detected / max(int(model_outputs[0]["n_panel_genes"]), 1)
            distance = None
            if model_outputs[0].get("distance") is not None:
                distance = np.concatenate([np.asarray(output["distance"]) for output in model_outputs])
            unknown, reasons = abstain_flags(proba, coverage, pooled, rule, distance)
        results = []
        for row, cell in enumerate(cells):
            result = {
                "cell": str(cell),
                "label": self.labels[best[row]],
                "score": float(proba[row, best[row]]),
                "genes_detected": int(detected[row]),
            }
            if rule:
                result.update(unknown=bool(unknown[row]), reasons=reasons[row], predicted_label=result["label"])
                if unknown[row]:
                    result["label"] = UNKNOWN
            if return_all_scores:
                result["scores"] = {label: float(p) for label, p in zip(self.labels, proba[row])}
            results.append(result)
        if model_outputs[0]["samples"] is None:
            return results
        samples = [sample for output in model_outputs for sample in output["samples"]]
        ids, mean, counts = aggregate_by_sample(proba, samples)
        if rule:
            inverse = np.unique(np.asarray(samples).astype(str), return_inverse=True)[1]
            unknown_share = np.bincount(inverse, weights=unknown.astype(float), minlength=len(ids)) / counts
        per_sample = []
        for row, sample in enumerate(ids):
            top = int(mean[row].argmax())
            entry = {
                "sample": str(sample),
                "label": self.labels[top],
                "score": float(mean[row, top]),
                "n_cells": int(counts[row]),
            }
            if rule:  # a sample whose cells are mostly out of range is unknown too
                share = float(unknown_share[row])
                entry["unknown_fraction"] = share
                if share > 0.5:
                    entry.update(predicted_label=entry["label"], label=UNKNOWN)
            if return_all_scores:
                entry["scores"] = {label: float(p) for label, p in zip(self.labels, mean[row])}
            per_sample.append(entry)
        return {"cells": results, "samples": per_sample}


def _tokenizer_of(model: Any) -> Any:
    """The gene-expression tokenizer saved with ``model`` (its ``name_or_path``). Remote tokenizer code is run
    only when the model itself came from remote code of that folder, which the caller has already trusted."""
    source = getattr(model, "name_or_path", None)
    if not source:
        raise ValueError("CancerTypePipeline needs tokenizer= (the model's GeneExpressionTokenizer)")
    remote = type(model).__module__.startswith("transformers_modules")
    return AutoTokenizer.from_pretrained(source, trust_remote_code=remote)


def _unpack(inputs: Any, sample_column: str | None) -> tuple[Any, Sequence[Any] | None, list | None, list | None]:
    """``(data for the tokenizer, gene names or None, cell ids or None, sample ids or None)``."""
    if hasattr(inputs, "obs") and hasattr(inputs, "var_names"):  # AnnData, read by duck typing
        samples = None
        if sample_column is not None:
            if sample_column not in inputs.obs.columns:
                columns = list(inputs.obs.columns)[:20]
                raise ValueError(f"sample_column {sample_column!r} is not an obs column (columns: {columns})")
            samples = inputs.obs[sample_column].astype(str).tolist()
        return inputs, None, [str(name) for name in inputs.obs_names], samples
    if isinstance(inputs, Mapping):
        if "expression" not in inputs or "genes" not in inputs:
            raise ValueError(f"a dict input needs 'expression' (cells x genes) and 'genes'; got keys {sorted(inputs)}")
        expression = inputs["expression"]
        if not hasattr(expression, "tocsr") and np.ndim(expression) == 1:  # one cell
            expression = np.asarray(expression)[None, :]
        samples = inputs.get("samples")
        if sample_column is not None and samples is None:
            raise ValueError("sample_column is for AnnData inputs; give a dict input its 'samples' (one id per cell)")
        cells = inputs.get("cells")
        return (
            expression,
            list(inputs["genes"]),
            None if cells is None else [str(c) for c in cells],
            None if samples is None else [str(s) for s in samples],
        )
    if hasattr(inputs, "columns") and hasattr(inputs, "index"):  # pandas DataFrame, cells x genes
        if sample_column is not None:
            raise ValueError("sample_column is for AnnData inputs; give a dict input with 'samples' instead")
        return inputs, None, [str(name) for name in inputs.index], None
    kind = type(inputs).__name__
    raise TypeError(
        f"CancerTypePipeline takes an AnnData, a dict(expression=..., genes=...) or a DataFrame, got {kind}"
    )


__all__ = [
    "TASK",
    "UNKNOWN",
    "CancerTypePipeline",
    "abstain_flags",
    "aggregate_by_sample",
    "cell_distance",
    "detection_surprise",
    "load_abstain_reference",
]
