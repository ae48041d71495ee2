# Copyright 2026 The txformers authors. BSD-3-Clause.
"""MetaSCDrug processor: cells -> gene-panel vectors, drugs -> SMILES tokens (+ Morgan fingerprints).

The processor holds the model's two tokenizers and saves them with the checkpoint:

* a gene-expression tokenizer in ``panel`` mode (``gene_tokenizer/``): a dense vector over the panel
  genes in vocabulary order plus a ``missing_mask`` of panel genes the input lacks; gene ids may be
  symbols, Ensembl or Entrez ids (through a mapping table);
* a SMILES tokenizer (``smiles_tokenizer/``, a fast tokenizer).

Cells are then standardised per gene (``standardize``): ``"dataset"`` z-scores every panel gene over
the cells of the call (how the model was trained: GDSC cell lines z-scored over all cell lines,
single-cell data over the cells of the dataset), ``"reference"`` uses the GDSC means and standard
deviations saved with the processor (for one or a few bulk samples), ``"none"`` keeps the values.

Portable: this file imports only the standard library, numpy, torch and transformers. Where txformers
is installed its tokenizer classes and :func:`morgan_fingerprint` are used (``register()`` sets them);
elsewhere the tokenizers load with ``AutoTokenizer`` (the gene tokenizer from the code saved next to
it, with ``trust_remote_code``) and the fingerprint is computed with RDKit here.

Example:

```python
>>> import numpy as np, pandas as pd
>>> from txformers.models.metascdrug import MetaScDrugProcessor
>>> processor = MetaScDrugProcessor.from_genes(["TP53", "EGFR", "MYC", "KRAS"], fingerprint_bits=64)
>>> cells = pd.DataFrame(np.random.default_rng(0).normal(size=(5, 3)), columns=["EGFR", "MYC", "TP53"])
>>> inputs = processor(cells=cells, smiles="CCO", min_coverage=0.5)
>>> inputs["expression"].shape, inputs["missing_mask"][0].tolist(), inputs["fingerprint"].shape
(torch.Size([5, 4]), [False, False, False, True], torch.Size([1, 64]))

```
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer, BatchEncoding
from transformers.utils import PushToHubMixin, cached_file

PROCESSOR_FILE = "processor_config.json"
REFERENCE_FILE = "gene_reference.json"
GENE_TOKENIZER_DIR = "gene_tokenizer"
SMILES_TOKENIZER_DIR = "smiles_tokenizer"
STANDARDIZE_MODES = ("dataset", "reference", "none")


class GenePanelOverlapError(ValueError):
    """The input shares too few genes with the model's gene panel."""


def _rdkit_fingerprint(smiles: Sequence[str], radius: int, n_bits: int) -> np.ndarray:
    """Morgan bit vectors with RDKit (used where txformers' ``morgan_fingerprint`` is not available)."""
    try:
        from rdkit import Chem, rdBase
        from rdkit.Chem import rdFingerprintGenerator
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("Morgan fingerprints need RDKit: pip install rdkit") from error
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    result = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    for index, item in enumerate(smiles):
        with rdBase.BlockLogs():
            molecule = Chem.MolFromSmiles(item) if isinstance(item, str) and item else None
        if molecule is None:
            raise ValueError(f"SMILES {index} {item!r} cannot be parsed by RDKit")
        result[index] = generator.GetFingerprintAsNumPy(molecule)
    return result


class MetaScDrugProcessor(PushToHubMixin):
    """Turns cells (AnnData, DataFrame, matrix + gene names) and drugs (SMILES) into model inputs.

    Args:
        gene_tokenizer: a ``GeneExpressionTokenizer`` over the gene panel (used in ``panel`` mode).
        smiles_tokenizer: a SMILES fast tokenizer (txformers ``SmilesTokenizer``).
        standardize: default per-gene standardisation of cells: ``"dataset"``, ``"reference"`` or ``"none"``.
        gene_means, gene_stds: reference statistics of the panel genes (GDSC) for ``standardize="reference"``.
        use_fingerprint, fingerprint_bits, fingerprint_radius: Morgan fingerprint settings (as the model's config).
        max_smiles_length: SMILES longer than this (in tokens) are truncated.
        min_coverage: smallest fraction of panel genes the cells must hold (else :class:`GenePanelOverlapError`).
    """

    # set by txformers' register(); None where txformers is absent (portable loading)
    gene_tokenizer_class: Any = None
    smiles_tokenizer_class: Any = None
    fingerprint_function: Any = None
    _auto_class = None

    def __init__(
        self,
        gene_tokenizer: Any,
        smiles_tokenizer: Any,
        *,
        standardize: str = "dataset",
        gene_means: Sequence[float] | None = None,
        gene_stds: Sequence[float] | None = None,
        use_fingerprint: bool = True,
        fingerprint_bits: int = 1024,
        fingerprint_radius: int = 2,
        max_smiles_length: int = 256,
        min_coverage: float = 0.2,
    ):
        if standardize not in STANDARDIZE_MODES:
            raise ValueError(f"standardize must be one of {STANDARDIZE_MODES}, got {standardize!r}")
        self.gene_tokenizer = gene_tokenizer
        self.smiles_tokenizer = smiles_tokenizer
        self.standardize = standardize
        n_genes = len(gene_tokenizer.genes)
        for name, values in (("gene_means", gene_means), ("gene_stds", gene_stds)):
            if values is not None and len(values) != n_genes:
                raise ValueError(f"{name} has {len(values)} values for a panel of {n_genes} genes")
        self.gene_means = None if gene_means is None else np.asarray(gene_means, dtype=np.float32)
        self.gene_stds = None if gene_stds is None else np.asarray(gene_stds, dtype=np.float32)
        self.use_fingerprint = bool(use_fingerprint)
        self.fingerprint_bits = int(fingerprint_bits)
        self.fingerprint_radius = int(fingerprint_radius)
        self.max_smiles_length = int(max_smiles_length)
        self.min_coverage = float(min_coverage)

    @classmethod
    def from_genes(cls, genes: Sequence[str], smiles_tokenizer: Any = None, **kwargs: Any) -> MetaScDrugProcessor:
        """A processor over the panel ``genes`` with txformers' default SMILES tokenizer (needs txformers)."""
        if cls.gene_tokenizer_class is None or (smiles_tokenizer is None and cls.smiles_tokenizer_class is None):
            raise RuntimeError("MetaScDrugProcessor.from_genes needs txformers (import txformers first)")
        gene_tokenizer = cls.gene_tokenizer_class.from_genes(list(genes), mode="panel")
        return cls(gene_tokenizer, smiles_tokenizer or cls.smiles_tokenizer_class(), **kwargs)

    @property
    def genes(self) -> list[str]:
        """The gene panel, in the order of the ``expression`` vectors."""
        return list(self.gene_tokenizer.genes)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(genes={len(self.genes)}, smiles_vocab={len(self.smiles_tokenizer)}, "
            f"standardize={self.standardize!r}, fingerprint={self.fingerprint_bits if self.use_fingerprint else None})"
        )

    # ------------------------------------------------------------------ cells
    def encode_cells(
        self,
        cells: Any,
        gene_names: Sequence[Any] | None = None,
        *,
        standardize: str | None = None,
        gene_mapping: Any = None,
        min_coverage: float | None = None,
        layer: str | None = None,
        return_tensors: str | None = "pt",
    ) -> BatchEncoding:
        """``expression`` (cells x panel, float32, standardised) and ``missing_mask`` (cells x panel, bool).

        Raises :class:`GenePanelOverlapError` naming the overlap when fewer than ``min_coverage`` of the
        panel genes are in the input.
        """
        standardize = standardize or self.standardize
        if standardize not in STANDARDIZE_MODES:
            raise ValueError(f"standardize must be one of {STANDARDIZE_MODES}, got {standardize!r}")
        threshold = self.min_coverage if min_coverage is None else float(min_coverage)
        if gene_mapping is not None:
            self.gene_tokenizer.add_gene_mapping(gene_mapping)
        report = self.gene_tokenizer.gene_report(cells, gene_names)
        n_present, n_panel = len(report.present_genes), report.n_vocab_genes
        if n_present == 0 or report.coverage < threshold:
            raise GenePanelOverlapError(
                f"only {n_present} of the {n_panel} panel genes ({report.coverage:.1%}) are among the "
                f"{report.n_input_genes} input genes (min_coverage={threshold:g}). Panel genes look like "
                f"{self.genes[:3]}, input genes like {list(report.unknown_genes[:3])}; map other identifiers "
                "(e.g. Entrez ids) to gene symbols with gene_mapping= / --gene-map."
            )
        encoded = self.gene_tokenizer(cells, gene_names, mode="panel", layer=layer, min_coverage=0.0)
        expression = np.asarray(encoded["expression"], dtype=np.float32)
        missing = np.asarray(encoded["missing_mask"], dtype=bool)
        expression = self._standardize(expression, missing, standardize)
        result = {"expression": expression, "missing_mask": missing}
        if return_tensors == "pt":
            result = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in result.items()}
        encoding = BatchEncoding(result)
        encoding["coverage"] = report.coverage
        return encoding

    def _standardize(self, expression: np.ndarray, missing: np.ndarray, mode: str) -> np.ndarray:
        if mode == "none":
            return expression
        if mode == "reference":
            if self.gene_means is None or self.gene_stds is None:
                raise ValueError("this processor has no reference gene statistics: use standardize='dataset'")
            means, stds = self.gene_means, self.gene_stds
        else:
            if expression.shape[0] < 2:
                raise ValueError(
                    f"standardize='dataset' z-scores each gene over the cells of the call and needs at least 2 "
                    f"cells, got {expression.shape[0]}; use standardize='reference' for single bulk samples"
                )
            means = expression.mean(0)
            stds = expression.std(0)
        scaled = np.divide(expression - means, stds, out=np.zeros_like(expression), where=stds > 1e-6)
        scaled[missing] = 0.0
        return scaled.astype(np.float32)

    # ------------------------------------------------------------------ drugs
    def encode_drugs(self, smiles: str | Sequence[str], return_tensors: str | None = "pt") -> BatchEncoding:
        """``input_ids``, ``attention_mask`` (padded SMILES tokens) and ``fingerprint`` (Morgan bits) per drug.

        An invalid SMILES raises an error that names it (and its index).
        """
        batch = [smiles] if isinstance(smiles, str) else list(smiles)
        if not batch:
            raise ValueError("no SMILES given")
        tokens = self.smiles_tokenizer(
            batch, padding=True, truncation=True, max_length=self.max_smiles_length, return_tensors="np"
        )
        result = {
            "input_ids": np.asarray(tokens["input_ids"], dtype=np.int64),
            "attention_mask": np.asarray(tokens["attention_mask"], dtype=np.int64),
        }
        if self.use_fingerprint:
            result["fingerprint"] = self.fingerprints(batch).astype(np.float32)
        if return_tensors == "pt":
            result = {key: torch.from_numpy(value) for key, value in result.items()}
        return BatchEncoding(result)

    def fingerprints(self, smiles: Sequence[str]) -> np.ndarray:
        """Morgan fingerprints ``(n, fingerprint_bits)`` with the processor's radius."""
        function = type(self).fingerprint_function
        if function is not None:
            return np.asarray(function(list(smiles), radius=self.fingerprint_radius, n_bits=self.fingerprint_bits))
        return _rdkit_fingerprint(list(smiles), self.fingerprint_radius, self.fingerprint_bits)

    def __call__(
        self,
        cells: Any = None,
        smiles: str | Sequence[str] | None = None,
        gene_names: Sequence[Any] | None = None,
        return_tensors: str | None = "pt",
        **kwargs: Any,
    ) -> BatchEncoding:
        """Encode cells and/or drugs; keyword options go to :meth:`encode_cells`. One SMILES is
        broadcast by the model to all cells; otherwise give one SMILES per cell."""
        if cells is None and smiles is None:
            raise ValueError("give cells=, smiles= or both")
        result = {}
        if cells is not None:
            result.update(self.encode_cells(cells, gene_names, return_tensors=return_tensors, **kwargs))
        if smiles is not None:
            result.update(self.encode_drugs(smiles, return_tensors=return_tensors))
        return BatchEncoding(result)

    # ------------------------------------------------------------------ saving and loading
    def _config(self) -> dict[str, Any]:
        return {
            "processor_class": type(self).__name__,
            "auto_map": {"AutoProcessor": f"processing_metascdrug.{type(self).__name__}"},
            "standardize": self.standardize,
            "use_fingerprint": self.use_fingerprint,
            "fingerprint_bits": self.fingerprint_bits,
            "fingerprint_radius": self.fingerprint_radius,
            "max_smiles_length": self.max_smiles_length,
            "min_coverage": self.min_coverage,
            "gene_tokenizer_dir": GENE_TOKENIZER_DIR,
            "smiles_tokenizer_dir": SMILES_TOKENIZER_DIR,
        }

    def save_pretrained(self, save_directory: str | os.PathLike, push_to_hub: bool = False, **kwargs: Any) -> list[str]:
        """Write ``processor_config.json``, ``gene_reference.json`` (when set), both tokenizers in their
        sub-folders and a copy of this file. The SMILES tokenizer is also saved at the top of the folder, so
        ``AutoTokenizer.from_pretrained(folder)`` gives the drug (text) side, as it gives the text tokenizer of
        other two-input models; only the processor encodes cells."""
        os.makedirs(save_directory, exist_ok=True)
        files = [os.path.join(save_directory, PROCESSOR_FILE)]
        with open(files[0], "w", encoding="utf-8") as handle:
            json.dump(self._config(), handle, indent=2)
            handle.write("\n")
        if self.gene_means is not None and self.gene_stds is not None:
            path = os.path.join(save_directory, REFERENCE_FILE)
            reference = {
                "genes": self.genes,
                "means": [round(float(v), 6) for v in self.gene_means],
                "stds": [round(float(v), 6) for v in self.gene_stds],
            }
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(reference, handle)
            files.append(path)
        self.gene_tokenizer.save_pretrained(os.path.join(save_directory, GENE_TOKENIZER_DIR))
        self.smiles_tokenizer.save_pretrained(os.path.join(save_directory, SMILES_TOKENIZER_DIR))
        self.smiles_tokenizer.save_pretrained(save_directory)  # for AutoTokenizer.from_pretrained(save_directory)
        source = os.path.abspath(__file__)
        target = os.path.join(os.path.abspath(save_directory), os.path.basename(source))
        if source != target:
            shutil.copyfile(source, target)
            files.append(target)
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(str(save_directory))))
            self.push_to_hub(
                repo_id, **{k: v for k, v in kwargs.items() if k in ("commit_message", "private", "token")}
            )
        return files

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> MetaScDrugProcessor:
        """Load a processor saved with :meth:`save_pretrained` (a local folder; Hub ids through ``cached_file``).

        ``kwargs`` override saved options (``standardize=``, ``min_coverage=``); Hub options are passed on.
        """
        hub_keys = ("cache_dir", "force_download", "local_files_only", "token", "revision", "proxies")
        hub = {key: kwargs.pop(key) for key in hub_keys if key in kwargs}
        for key in ("trust_remote_code", "_from_auto", "_commit_hash", "code_revision", "use_fast"):
            kwargs.pop(key, None)
        path = str(pretrained_model_name_or_path)
        with open(cached_file(path, PROCESSOR_FILE, **hub), encoding="utf-8") as handle:
            config = json.load(handle)
        reference = cached_file(path, REFERENCE_FILE, _raise_exceptions_for_missing_entries=False, **hub)
        options = {
            key: config[key]
            for key in ("standardize", "use_fingerprint", "fingerprint_bits", "fingerprint_radius",
                        "max_smiles_length", "min_coverage")
            if key in config
        }  # fmt: skip
        if reference is not None:
            with open(reference, encoding="utf-8") as handle:
                saved = json.load(handle)
            options["gene_means"], options["gene_stds"] = saved["means"], saved["stds"]
        options.update(kwargs)
        gene_dir = config.get("gene_tokenizer_dir", GENE_TOKENIZER_DIR)
        smiles_dir = config.get("smiles_tokenizer_dir", SMILES_TOKENIZER_DIR)
        local = os.path.isdir(path)
        if cls.gene_tokenizer_class is not None:
            gene_tokenizer = cls.gene_tokenizer_class.from_pretrained(
                os.path.join(path, gene_dir) if local else path, **({} if local else {"subfolder": gene_dir}), **hub
            )
        else:  # portable: the tokenizer code saved next to the vocabulary
            gene_tokenizer = (
                AutoTokenizer.from_pretrained(path, subfolder=gene_dir, trust_remote_code=True, **hub)
                if not local
                else AutoTokenizer.from_pretrained(os.path.join(path, gene_dir), trust_remote_code=True)
            )
        if cls.smiles_tokenizer_class is not None:
            smiles_tokenizer = cls.smiles_tokenizer_class.from_pretrained(
                os.path.join(path, smiles_dir) if local else path, **({} if local else {"subfolder": smiles_dir}), **hub
            )
        else:
            smiles_tokenizer = AutoTokenizer.from_pretrained(
                os.path.join(path, smiles_dir) if local else path, **({} if local else {"subfolder": smiles_dir}), **hub
            )
        return cls(gene_tokenizer, smiles_tokenizer, **options)

    @classmethod
    def register_for_auto_class(cls, auto_class: str = "AutoProcessor") -> None:
        """Called by ``AutoProcessor`` on remote code; ``save_pretrained`` always writes ``auto_map``."""
        cls._auto_class = auto_class


__all__ = ["GenePanelOverlapError", "MetaScDrugProcessor"]
