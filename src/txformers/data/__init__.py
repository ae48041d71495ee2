"""Small licence-clean data files shipped with txformers (see NOTICE.md for provenance and licences).

Example:

```python
>>> from txformers.data import cytokine_genes
>>> genes = cytokine_genes()
>>> len(genes), genes[:3]
(185, ['BMP2', 'BMP4', 'BMP6'])
>>> len(cytokine_genes(family="interferon"))
22

```
"""

from __future__ import annotations

import csv
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
CYTOKINE_GENES_FILE = DATA_DIR / "human_cytokine_ligand_genes.tsv"


def cytokine_table() -> list[dict[str, str]]:
    """Rows of ``human_cytokine_ligand_genes.tsv``: ``gene``, ``family_level_1``, ``family_level_2``."""
    with open(CYTOKINE_GENES_FILE, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def cytokine_genes(family: str | None = None) -> list[str]:
    """The 185 human cytokine ligand genes (HGNC symbols, huCIRA-derived, MIT), optionally one
    ``family_level_1`` (interleukin, chemokine, growth factor, interferon, TNF family, complement, other)."""
    rows = cytokine_table()
    families = sorted({row["family_level_1"] for row in rows})
    if family is not None and family not in families:
        raise ValueError(f"unknown cytokine family {family!r}; families: {families}")
    return [row["gene"] for row in rows if family is None or row["family_level_1"] == family]


__all__ = ["CYTOKINE_GENES_FILE", "cytokine_genes", "cytokine_table"]
