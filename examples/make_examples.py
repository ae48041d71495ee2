"""Writes the example inputs in examples/: synthetic data made by the project (no third-party data).

* ``minigenes.fa``: pre-mRNA minigenes. Each is exon - intron - exon with the canonical splice
  signals placed by design: a GTRAGT donor after the first exon, a UACUAAC-like branchpoint 18-40 nt
  upstream of the acceptor, a polypyrimidine tract and a YAG acceptor; the remaining bases are drawn
  at random (seeded) with a human-like GC content. They exercise the tokenizer and the models on
  realistic-looking input of several lengths, including one longer than a 1024-nt window.
* ``minigene_variants.tsv``: single-nucleotide variants of ``minigene_short`` at designed positions
  (donor, acceptor, branchpoint, polypyrimidine tract, neutral intron and exon positions), as
  WT/mutant pairs that ``txformers splice variants --table`` reads.
* ``drug_cells.h5ad`` and ``drug_smiles.csv``: raw counts of synthetic melanoma-like cells over genes of
  the MetaSCDrug panel, labelled sensitive/resistant to PLX4720 by a stated rule (see
  :func:`drug_cells`), and the SMILES of PLX4720.
* ``immune_cells.h5ad``: raw counts of synthetic tumour immune cells (4 samples) over the 185 cytokine
  ligand genes shipped in ``txformers/data`` and a few cell-type marker genes.

Gene names are real HGNC symbols; every expression value is generated here. Run from anywhere:

    python examples/make_examples.py
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
rng = np.random.default_rng(20261122)  # the minigenes only: other examples use their own seeds


def random_bases(n: int, gc: float = 0.42) -> str:
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return "".join(rng.choice(list("ACGT"), size=n, p=p))


def pyrimidines(n: int) -> str:
    return "".join(rng.choice(list("CT"), size=n))


def minigene(exon1: int, intron: int, exon2: int) -> str:
    body = intron - 6 - 7 - 25 - 3
    return (
        random_bases(exon1 - 3)
        + "CAG"  # exon 1, ending in the consensus CAG|
        + "GTAAGT"  # donor
        + random_bases(body)
        + "TACTAAC"  # branchpoint
        + random_bases(7)
        + pyrimidines(18)  # spacer, polypyrimidine tract
        + "CAG"  # acceptor
        + "G"
        + random_bases(exon2 - 1)  # exon 2
    )


def write_minigenes(records: dict[str, str]) -> Path:
    path = HERE / "minigenes.fa"
    with path.open("w") as handle:
        for name, sequence in records.items():
            handle.write(f">{name}\n")
            for i in range(0, len(sequence), 60):
                handle.write(sequence[i : i + 60] + "\n")
    return path


# ---------------------------------------------------------------------------------------------- variants
def minigene_variants(name: str, sequence: str, intron_start: int, intron_end: int) -> list[dict]:
    """SNVs of one minigene at designed positions. ``intron_start``/``intron_end``: 0-based, half-open
    (the donor GT at ``intron_start``, the acceptor AG ending at ``intron_end - 1``; see ``minigene``)."""
    branchpoint_a = intron_end - 3 - 18 - 7 - 2  # the A of TACTA(A)C: the branch nucleotide
    designed = [
        ("donor_GT_to_AT", "donor G (intron +1)", intron_start, "A"),
        ("donor_GT_to_GC", "donor T (intron +2)", intron_start + 1, "C"),
        ("acceptor_AG_to_AC", "acceptor G (intron -1)", intron_end - 1, "C"),
        ("branchpoint_A_to_G", "branchpoint A", branchpoint_a, "G"),
        ("polypyrimidine_to_A", "polypyrimidine tract (intron -12)", intron_end - 12, "A"),
        ("deep_intron", "middle of the intron", (intron_start + intron_end) // 2, None),
        ("exon2_middle", "middle of exon 2", (intron_end + len(sequence)) // 2, None),
    ]
    rows = []
    for variant_id, region, position, alt in designed:
        ref = sequence[position]
        alt = alt or {"A": "G", "G": "A", "C": "T", "T": "C"}[ref]  # a transition at the neutral positions
        assert ref != alt, (variant_id, ref)
        rows.append({"id": variant_id, "minigene": name, "region": region, "position": position, "ref": ref, "alt": alt,
                     "intron_start": intron_start, "intron_end": intron_end, "wt_sequence": sequence,
                     "mut_sequence": sequence[:position] + alt + sequence[position + 1 :]})  # fmt: skip
    return rows


def write_variants(rows: list[dict]) -> Path:
    path = HERE / "minigene_variants.tsv"
    columns = list(rows[0])
    with path.open("w") as handle:
        handle.write("\t".join(columns) + "\n")
        for row in rows:
            handle.write("\t".join(str(row[c]) for c in columns) + "\n")
    return path


# ---------------------------------------------------------------------------------------------- counts
def _counts(rates: np.ndarray, library_sizes: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """Negative-binomial-like counts: Poisson(library size x relative rate x Gamma(2, 1/2) noise)."""
    noise = generator.gamma(2.0, 0.5, size=rates.shape)
    return generator.poisson(library_sizes[:, None] * rates * noise).astype(np.int32)


def _write_h5ad(counts: np.ndarray, genes: list[str], obs: dict, path: Path, note: str) -> Path:
    import anndata
    import pandas as pd
    from scipy import sparse

    frame = pd.DataFrame(obs)
    frame.index = [f"cell{i:03d}" for i in range(len(frame))]
    adata = anndata.AnnData(X=sparse.csr_matrix(counts), obs=frame, var=pd.DataFrame(index=pd.Index(genes)))
    adata.uns["provenance"] = note
    adata.write_h5ad(path, compression="gzip")
    return path


# ---------------------------------------------------------------------------------------------- drug response
PLX4720_SMILES = "CCCS(=O)(=O)NC1=C(C(=C(C=C1)F)C(=O)C2=CNC3=C2C=C(C=N3)Cl)F"  # PubChem CID 24180719
MPAS_GENES = ["PHLDA1", "SPRY2", "SPRY4", "DUSP4", "DUSP6", "CCND1", "EPHA2", "EPHA4", "ETV4", "ETV5"]
"""MAPK pathway activity score genes (Wagle et al., npj Precis. Oncol. 2018); those in the panel are used."""
RESISTANCE_GENES = ["AXL", "WNT5A", "SERPINE1", "TNC", "PLAU"]  # an AXL-high, MAPK-independent programme
N_DRUG_CELLS, N_DRUG_GENES = 60, 600


def drug_cells(panel: list[str], seed: int = 4720) -> tuple[np.ndarray, list[str], dict]:
    """Raw counts of synthetic cells and their PLX4720 label.

    Each cell has a latent MAPK activity ``a`` drawn uniformly in [-1, 1]: the MPAS genes are scaled by
    ``exp(1.2 a)`` and the resistance genes by ``exp(-0.8 a)``; every other gene has a fixed log-normal
    relative abundance. The **label rule**: the MPAS score of a cell is the mean, over the MPAS genes in
    the file, of log1p(counts per 10,000) z-scored over the cells; a cell is sensitive (``response`` 1)
    when its score is above the median of the cells, resistant (0) otherwise (MAPK-addicted cells respond
    to BRAF inhibition). The label is computed from the counts written, so anyone can check it.
    """
    generator = np.random.default_rng(seed)
    signature = [g for g in MPAS_GENES if g in panel]
    resistance = [g for g in RESISTANCE_GENES if g in panel]
    others = [g for g in panel if g not in signature and g not in resistance]
    genes = signature + resistance + others[: N_DRUG_GENES - len(signature) - len(resistance)]
    base = generator.lognormal(0.0, 1.3, size=len(genes))
    base[: len(signature) + len(resistance)] = np.exp(1.5)  # programme genes: well expressed
    base /= base.sum()
    activity = generator.uniform(-1.0, 1.0, size=N_DRUG_CELLS)
    log_scale = np.zeros((N_DRUG_CELLS, len(genes)))
    log_scale[:, : len(signature)] = 1.2 * activity[:, None]
    log_scale[:, len(signature) : len(signature) + len(resistance)] = -0.8 * activity[:, None]
    rates = base * np.exp(log_scale)
    rates /= rates.sum(1, keepdims=True)
    library = generator.lognormal(np.log(6000), 0.3, size=N_DRUG_CELLS)
    counts = _counts(rates, library, generator)
    score = mpas_score(counts, genes, signature)
    response = (score > np.median(score)).astype(np.int64)
    return counts, genes, {"response": response, "mpas_score": np.round(score, 6)}


def mpas_score(counts: np.ndarray, genes: list[str], signature: list[str]) -> np.ndarray:
    """Mean over ``signature`` of log1p(CP10k) z-scored over the cells (the label rule of ``drug_cells``)."""
    counts = np.asarray(counts, dtype=np.float64)
    logged = np.log1p(counts / counts.sum(1, keepdims=True) * 1e4)
    columns = [genes.index(g) for g in signature]
    part = logged[:, columns]
    return ((part - part.mean(0)) / part.std(0)).mean(1)


# ---------------------------------------------------------------------------------------------- immune cells
MARKERS = {  # relative abundance per cell type (HGNC symbols; shared genes in every type)
    "shared": {"B2M": 0.04, "TMSB4X": 0.04, "MALAT1": 0.05, "ACTB": 0.03, "TPT1": 0.02, "EEF1A1": 0.03,
               "FTL": 0.01, "GAPDH": 0.008, "RPL13": 0.015, "RPS27": 0.015, "PTPRC": 0.004},
    "T cell": {"CD3E": 0.004, "CD3D": 0.004, "CD2": 0.003, "IL7R": 0.003, "LCK": 0.002, "NKG7": 0.003,
               "GZMA": 0.002},
    "myeloid": {"LYZ": 0.03, "CD68": 0.004, "CST3": 0.01, "TYROBP": 0.006, "FCER1G": 0.004, "AIF1": 0.005,
                "HLA-DRA": 0.02, "CD74": 0.03},
    "B cell": {"CD79B": 0.004, "HLA-DRA": 0.015, "CD74": 0.03},
}  # fmt: skip
CYTOKINES = {  # cytokines each immune cell type expresses at a visible level (relative abundance)
    "T cell": {"CCL5": 2e-3, "IL32": 1.5e-3, "LTB": 1e-3, "CCL4": 5e-4, "IFNG": 2e-4, "TGFB1": 2e-4,
               "IL16": 2e-4, "CD40LG": 1e-4, "FLT3LG": 1e-4, "XCL2": 1e-4, "TNF": 1e-4, "CXCL13": 1e-4},
    "myeloid": {"IL1B": 1e-3, "C1QA": 1e-3, "C1QB": 1e-3, "C1QC": 8e-4, "CCL3": 8e-4, "CCL4": 6e-4,
                "CXCL16": 3e-4, "CXCL2": 3e-4, "TGFB1": 3e-4, "CCL2": 2e-4, "TNF": 2e-4, "IL10": 1e-4,
                "CCL22": 1e-4, "CSF1": 1e-4, "VEGFB": 1e-4, "TNFSF13B": 1e-4},
    "B cell": {"LTB": 1e-3, "IL16": 2e-4, "TGFB1": 1e-4},
}  # fmt: skip
SAMPLES = {  # sample: (cells per type, cancer type whose top genes are raised, those genes)
    # the genes: the first four top genes of that cancer in results/cellformer/patterns/cytokine_patterns.json
    "sample_A": ({"T cell": 16, "myeloid": 3, "B cell": 1}, "melanoma", ["CCL22", "IL10", "TNFSF14", "TNFSF8"]),
    "sample_B": ({"T cell": 10, "myeloid": 8, "B cell": 2}, "head_and_neck", ["CCL22", "CXCL16", "IL10", "PDGFA"]),
    "sample_C": ({"T cell": 18, "myeloid": 1, "B cell": 1}, "lung", ["FLT3LG", "LTB", "IL32", "CCL4"]),
    "sample_D": ({"T cell": 18, "myeloid": 2, "B cell": 0}, "endometrial", ["CCL5", "LTB", "XCL2", "CCL4"]),
}  # fmt: skip


def immune_cells(cytokine_panel: list[str], seed: int = 185) -> tuple[np.ndarray, list[str], dict]:
    """Raw counts of synthetic tumour immune cells: 4 samples x 20 cells (T cells, myeloid cells, B cells).

    A cell's relative abundances: the shared and cell-type marker genes, the cytokines of its type, and
    1e-6 for every other cytokine. In each sample the cytokines listed in ``SAMPLES`` (the top genes of one
    cancer type in the saved real cytokine patterns) get at least 1e-4 and are multiplied by 6, in every
    cell. Library sizes are log-normal around 3,000 counts.
    """
    generator = np.random.default_rng(seed)
    markers = list(dict.fromkeys(g for table in MARKERS.values() for g in table))
    genes = list(dict.fromkeys(list(cytokine_panel) + markers))
    index = {g: i for i, g in enumerate(genes)}
    rows, obs = [], {"sample": [], "cell_type": [], "pattern_of": []}
    for sample, (mix, cancer, raised) in SAMPLES.items():
        for cell_type, n in mix.items():
            for _ in range(n):
                rate = np.full(len(genes), 1e-6)
                for table in (MARKERS["shared"], MARKERS[cell_type], CYTOKINES[cell_type]):
                    for gene, value in table.items():
                        rate[index[gene]] = value
                for gene in raised:
                    rate[index[gene]] = 6 * max(rate[index[gene]], 1e-4)
                rows.append(rate)
                obs["sample"].append(sample)
                obs["cell_type"].append(cell_type)
                obs["pattern_of"].append(cancer)
    rates = np.stack(rows)
    rates /= rates.sum(1, keepdims=True)
    library = generator.lognormal(np.log(3000), 0.35, size=len(rates))
    return _counts(rates, library, generator), genes, obs


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    import json
    import sys

    records = {
        "minigene_short exon1=1-60 intron=61-260 exon2=261-340": minigene(60, 200, 80),
        "minigene_medium exon1=1-120 intron=121-720 exon2=721-880": minigene(120, 600, 160),
        "minigene_long exon1=1-150 intron=151-2350 exon2=2351-2500": minigene(150, 2200, 150),
    }
    written = [write_minigenes(records)]
    short = next(sequence for name, sequence in records.items() if name.startswith("minigene_short"))
    written.append(write_variants(minigene_variants("minigene_short", short, intron_start=60, intron_end=260)))

    panel = json.loads((REPO / "checkpoints" / "metascdrug-meta" / "gene_reference.json").read_text())["genes"]
    counts, genes, obs = drug_cells(panel)
    written.append(
        _write_h5ad(
            counts,
            genes,
            obs,
            HERE / "drug_cells.h5ad",
            "synthetic (examples/make_examples.py, drug_cells); label rule in examples/README.md",
        )
    )
    smiles = HERE / "drug_smiles.csv"
    smiles.write_text(f"drug,smiles\nPLX4720,{PLX4720_SMILES}\n")
    written.append(smiles)

    sys.path.insert(0, str(REPO))
    from txformers.data import cytokine_genes

    counts, genes, obs = immune_cells(cytokine_genes())
    written.append(
        _write_h5ad(
            counts, genes, obs, HERE / "immune_cells.h5ad", "synthetic (examples/make_examples.py, immune_cells)"
        )
    )
    for path in written:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
