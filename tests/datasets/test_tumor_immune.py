"""Tests of the tumour-immune dataset builder: h5ad / 10x / CSV samples, gene harmonisation, immune
filtering (annotation and PTPRC), normalisation, pseudo-bulk, and bad samples."""

from __future__ import annotations

import gzip
import re
import warnings
from pathlib import Path

import anndata as ad
import datasets
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from txformers.datasets.tumor_immune import (
    SampleError,
    TumorImmuneBuilder,
    is_immune_label,
    read_manifest,
    to_dense_panel,
)
from txformers.hub import SHARED_DATA

SHARED = SHARED_DATA
GENES = ["PTPRC", "IL2", "IFNG", "TNF", "CD3E", "ACTB"]
PANEL = ["IL2", "IFNG", "TNF", "IL10"]
# Row totals 10, 10, 10, 20: CP10k multiplies counts by 1,000 (500 for the last cell).
COUNTS = np.array(
    [
        [1, 2, 0, 1, 3, 3],  # immune (PTPRC), T cell
        [0, 5, 1, 0, 0, 4],  # no PTPRC, fibroblast
        [2, 0, 0, 0, 1, 7],  # immune, B cell
        [0, 4, 4, 2, 2, 8],  # no PTPRC, T cell
    ],
    dtype=np.float64,
)
CELL_TYPES = ["CD8 T cell", "Fibroblast", "B cell", "CD4 T cell"]


def expected_panel(rows, counts=COUNTS, genes=GENES, panel=PANEL) -> np.ndarray:
    normalised = np.log1p(counts[rows] / counts[rows].sum(1, keepdims=True) * 1e4)
    out = np.zeros((len(rows), len(panel)))
    for j, gene in enumerate(panel):
        if gene in genes:
            out[:, j] = normalised[:, genes.index(gene)]
    return out


def write_h5ad(path: Path, counts=COUNTS, genes=GENES, cell_types=CELL_TYPES, prefix="c") -> None:
    obs = pd.DataFrame({"ct": cell_types}, index=[f"{prefix}{i}" for i in range(len(counts))])
    ad.AnnData(sp.csr_matrix(counts.astype(np.float32)), obs=obs, var=pd.DataFrame(index=genes)).write_h5ad(path)


def write_10x(folder: Path, counts=COUNTS, genes=GENES) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "features.tsv.gz", "wt") as handle:
        handle.writelines(f"ENSG{i:011d}.3\t{gene}\tGene Expression\n" for i, gene in enumerate(genes))
        handle.write("ADT_CD3\tCD3_TotalSeqB\tAntibody Capture\n")
    with gzip.open(folder / "barcodes.tsv.gz", "wt") as handle:
        handle.writelines(f"BC{i}-1\n" for i in range(len(counts)))
    # genes x cells, with the antibody-capture feature last (it must be dropped)
    with gzip.open(folder / "matrix.mtx.gz", "wb") as handle:
        scipy.io.mmwrite(handle, sp.coo_matrix(np.vstack([counts.T, np.full(len(counts), 7.0)])))


def write_csv(path: Path, counts=COUNTS, genes=GENES, cell_types=CELL_TYPES) -> Path:
    """genes x cells log2(x + 1) of a linear scale (x = counts * 3, as TPM-like values), plus an obs CSV."""
    cells = [f"x{i}" for i in range(len(counts))]
    pd.DataFrame(np.log2(counts.T * 3 + 1), index=genes, columns=cells).to_csv(path)
    obs = path.with_name(path.name.split(".")[0] + "_obs.csv")
    pd.DataFrame({"celltype": cell_types}, index=pd.Index(cells, name="cell")).to_csv(obs)
    return obs


@pytest.fixture
def samples(tmp_path) -> Path:
    write_h5ad(tmp_path / "lung1.h5ad")
    write_10x(tmp_path / "renal1")
    obs = write_csv(tmp_path / "mel1.csv.gz")
    rows = [
        dict(
            path="lung1.h5ad",
            format="h5ad",
            cancer_type="lung",
            study="A",
            patient="P1",
            sample="",
            cell_type_column="ct",
            obs_path="",
            orientation="",
            scale="",
            tissue="Tumor",
        ),
        dict(
            path="renal1",
            format="10x",
            cancer_type="renal",
            study="A",
            patient="P2",
            sample="renal1",
            cell_type_column="",
            obs_path="",
            orientation="",
            scale="counts",
            tissue="",
        ),
        dict(
            path="mel1.csv.gz",
            format="csv",
            cancer_type="melanoma",
            study="B",
            patient="P3",
            sample="mel1",
            cell_type_column="celltype",
            obs_path=obs.name,
            orientation="genes_x_cells",
            scale="log2p1",
            tissue="",
        ),
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.tsv", sep="\t", index=False)
    return tmp_path


def build(folder: Path, **options) -> tuple[TumorImmuneBuilder, datasets.Dataset]:
    options = {"genes": PANEL, "common_genes_only": False, **options}
    builder = TumorImmuneBuilder(manifest=str(folder / "manifest.tsv"), cache_dir=str(folder / "cache"), **options)
    builder.download_and_prepare()
    return builder, builder.as_dataset()["train"]


# ---------------------------------------------------------------------------------------- building
def test_three_formats_immune_filtering_and_normalisation(samples):
    builder, ds = build(samples)
    assert builder.gene_names() == PANEL
    assert ds.features["cancer_type"].names == ["lung", "melanoma", "renal"]
    ids = ds["id"]
    # h5ad: annotation rule keeps T and B cells (0, 2, 3); 10x: PTPRC rule keeps cells 0 and 2;
    # CSV: annotation rule (T and B cells)
    assert ids == ["lung1/c0", "lung1/c2", "lung1/c3", "renal1/BC0-1", "renal1/BC2-1", "mel1/x0", "mel1/x2", "mel1/x3"]
    X = to_dense_panel(ds)
    np.testing.assert_allclose(X[:3], expected_panel([0, 2, 3]), rtol=1e-5)
    np.testing.assert_allclose(X[3:5], expected_panel([0, 2]), rtol=1e-5)
    # log2(3 x + 1) -> 3 x -> CP10k: the constant factor cancels out
    np.testing.assert_allclose(X[5:], expected_panel([0, 2, 3]), rtol=1e-5)
    row = ds[0]
    assert (row["sample"], row["patient"], row["study"], row["tissue"], row["cell_type"], row["n_cells"]) == (
        "lung1",
        "P1",
        "A",
        "Tumor",
        "CD8 T cell",
        1,
    )
    report = {entry["sample"]: entry for entry in builder.report["samples"]}
    assert report["renal1"]["immune_rule"] == "ptprc" and report["renal1"]["immune_cells"] == 2
    assert report["lung1"]["scale"] == "counts" and report["mel1"]["scale"] == "linear"
    assert report["lung1"]["genes_missing"] == ["IL10"]


def test_immune_filter_none_and_explicit_labels(samples):
    manifest = pd.read_csv(samples / "manifest.tsv", sep="\t", keep_default_na=False)
    manifest["immune_filter"] = ["none", "ptprc", "annotation"]
    manifest.to_csv(samples / "manifest.tsv", sep="\t", index=False)
    builder, ds = build(samples, immune_labels=("CD4 T cell",))
    samples_of = pd.Series(ds["sample"]).value_counts().to_dict()
    assert samples_of == {"lung1": 4, "renal1": 2, "mel1": 1}
    assert ds.filter(lambda r: r["sample"] == "mel1")["cell_type"] == ["CD4 T cell"]


def test_pseudobulk_sums_counts_per_sample(samples):
    _, ds = build(samples, pseudobulk=True)
    assert ds["id"] == ["lung1/pseudobulk", "renal1/pseudobulk", "mel1/pseudobulk"]
    assert ds["n_cells"] == [3, 2, 3]
    summed = COUNTS[[0, 2, 3]].sum(0, keepdims=True)
    np.testing.assert_allclose(to_dense_panel(ds)[0], expected_panel([0], counts=summed)[0], rtol=1e-5)


def test_common_genes_and_sparse_all_genes_layout(samples, tmp_path):
    write_h5ad(tmp_path / "few.h5ad", counts=COUNTS[:, [0, 1, 2, 5]], genes=["PTPRC", "IL2", "IFNG", "ACTB"])
    manifest = pd.read_csv(samples / "manifest.tsv", sep="\t", keep_default_na=False)
    extra = manifest.iloc[[0]].assign(path="few.h5ad", sample="few", patient="P4")
    pd.concat([manifest, extra]).to_csv(samples / "manifest.tsv", sep="\t", index=False)
    builder, ds = build(samples, common_genes_only=True)
    assert builder.gene_names() == ["IL2", "IFNG"]  # TNF is unmeasured in 'few', IL10 everywhere
    builder, ds = build(samples, genes="all", layout="sparse", common_genes_only=True)
    names = ds.features["gene_ids"].feature.names
    assert set(names) == {"PTPRC", "IL2", "IFNG", "ACTB"}  # genes measured in every sample
    first = ds[0]
    dense = to_dense_panel(ds)
    assert dense.shape == (len(ds), 4)
    assert dict(zip([names[i] for i in first["gene_ids"]], first["values"])) == pytest.approx(
        {g: v for g, v in zip(names, dense[0]) if v}
    )
    # normalised over all input genes (ACTB and CD3E included), not over the kept ones
    assert dense[0][names.index("IL2")] == pytest.approx(np.log1p(2 / 10 * 1e4), rel=1e-5)


def test_gene_ids_are_harmonised(samples, tmp_path):
    ensembl = {"IL2": "ENSG00000109471", "IFNG": "ENSG00000111537", "TNF": "ENSG00000232810"}
    names = ["ptprc", f"{ensembl['IL2']}.7", ensembl["IFNG"], ensembl["TNF"], "CD3E", "ACTB"]
    write_h5ad(tmp_path / "ens.h5ad", genes=names)
    manifest = pd.read_csv(samples / "manifest.tsv", sep="\t", keep_default_na=False).iloc[[0]]
    manifest.assign(path="ens.h5ad", cell_type_column="", sample="ens").to_csv(
        samples / "manifest.tsv", sep="\t", index=False
    )
    _, ds = build(samples, gene_mapping={v: k for k, v in ensembl.items()})
    # PTPRC matched case-insensitively (PTPRC rule: cells 0 and 2), Ensembl ids through the mapping
    assert ds["cell_id"] == ["c0", "c2"]
    np.testing.assert_allclose(to_dense_panel(ds), expected_panel([0, 2]), rtol=1e-5)


def test_changing_a_sample_file_rebuilds(samples):
    _, first = build(samples)
    write_h5ad(samples / "lung1.h5ad", counts=COUNTS * 2 + 1)
    builder, second = build(samples)
    assert len(second.filter(lambda r: r["sample"] == "lung1")) == 3
    assert not np.allclose(to_dense_panel(first)[:3], to_dense_panel(second)[:3])


# ---------------------------------------------------------------------------------------- bad input
def test_manifest_problems_are_listed_with_rows(tmp_path):
    pd.DataFrame([{"path": "a.h5ad", "format": "h5ad", "cancer_type": "lung", "study": "A"}]).to_csv(
        tmp_path / "m.csv", index=False
    )
    with pytest.raises(ValueError, match=r"lacks the columns \['patient'\]"):
        read_manifest(tmp_path / "m.csv")
    rows = [
        {"path": "a.h5ad", "format": "loom", "cancer_type": "lung", "study": "A", "patient": "P1", "sample": "s"},
        {"path": "b.h5ad", "format": "h5ad", "cancer_type": "", "study": "A", "patient": "P1", "sample": "t"},
        {"path": "c.h5ad", "format": "h5ad", "cancer_type": "lung", "study": "A", "patient": "P2", "sample": "u"},
        {"path": "d.h5ad", "format": "h5ad", "cancer_type": "lung", "study": "A", "patient": "P2", "sample": "u"},
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(ValueError) as error:
        read_manifest(tmp_path / "m.csv")
    message = str(error.value)
    assert "row 1: unknown format 'loom'" in message
    assert "row 2: empty ['cancer_type']" in message
    assert "rows [3, 4]: duplicated sample id 'u'" in message


def test_missing_sample_stops_or_is_skipped(samples):
    manifest = pd.read_csv(samples / "manifest.tsv", sep="\t", keep_default_na=False)
    gone = manifest.iloc[[0]].assign(path="gone.h5ad", sample="gone")
    pd.concat([manifest, gone]).to_csv(samples / "manifest.tsv", sep="\t", index=False)
    with pytest.raises(SampleError, match=r"sample 'gone' \(manifest row 4.*file not found"):
        build(samples)
    with pytest.warns(UserWarning, match="gone"):
        builder, ds = build(samples, on_error="skip", report_path=str(samples / "report.json"))
    assert [entry["sample"] for entry in builder.report["skipped"]] == ["gone"]
    assert len(ds) == 8  # every other sample whole
    assert "gone" in (samples / "report.json").read_text()


def test_corrupt_and_invalid_samples_are_named(samples):
    (samples / "corrupt.h5ad").write_bytes(b"not an hdf5 file at all")
    write_h5ad(samples / "negative.h5ad", counts=COUNTS - 3)
    nan = COUNTS.copy()
    nan[1, 1] = np.nan
    write_h5ad(samples / "nan.h5ad", counts=nan)
    write_h5ad(samples / "noptprc.h5ad", counts=COUNTS[:, 1:], genes=GENES[1:])
    manifest = pd.read_csv(samples / "manifest.tsv", sep="\t", keep_default_na=False)
    for name, pattern in (
        ("corrupt", "cannot read"),
        ("negative", "negative values"),
        ("nan", "non-finite value .* cell 'c1'"),
        ("noptprc", "PTPRC"),
    ):
        bad = manifest.iloc[[0]].assign(path=f"{name}.h5ad", sample=name, cell_type_column="")
        pd.concat([manifest, bad]).to_csv(samples / "manifest.tsv", sep="\t", index=False)
        with pytest.raises(SampleError) as error:
            build(samples)
        text = str(error.value)
        assert f"sample '{name}'" in text and re.search(pattern, text), text
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            builder, ds = build(samples, on_error="skip")
        assert [entry["sample"] for entry in builder.report["skipped"]] == [name]
        assert len(ds) == 8


def test_immune_label_rule():
    labels = [
        "CD8 T cell",
        "reg. T cell",
        "Macrophage",
        "Microglia/Macrophage",
        "Mast",
        "NK",
        "B cell",
        "Fibroblast",
        "Endothelial",
        "malignant_93",
        "Oligodendrocytes (non-malignant)",
        "Unassigned",
        None,
    ]
    assert is_immune_label(labels).tolist() == [True] * 7 + [False] * 6


# ---------------------------------------------------------------------------------------- real data
@pytest.mark.skipif(not SHARED.exists(), reason=f"real data folder {SHARED} is absent")
def test_real_wu2020_ptprc_rule_and_panel(tmp_path):
    wu = SHARED / "scrna" / "wu2020_200_tcells_4cancers.h5ad"
    rows = [
        dict(
            path=str(wu),
            format="h5ad",
            cancer_type="mixed",
            study="wu2020",
            patient="all",
            sample="wu",
            immune_filter=rule,
        )
        for rule in ("ptprc",)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.tsv", sep="\t", index=False)
    builder, ds = build(tmp_path, genes="cytokines", common_genes_only=True)
    adata = ad.read_h5ad(wu)
    assert len(ds) == int((adata[:, "PTPRC"].X.toarray().ravel() > 0).sum())
    assert len(builder.gene_names()) == 183  # 2 of the 185 cytokines are not in this 10x gene list
    gene = builder.gene_names().index("CCL5")
    cell = adata[ds[0]["cell_id"]]
    expected = np.log1p(cell[:, "CCL5"].X.toarray().item() / cell.X.sum() * 1e4)
    assert ds[0]["expression"][gene] == pytest.approx(expected, rel=1e-5)
