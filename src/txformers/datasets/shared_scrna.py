# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Manifests over the real scRNA of ``../shared/data/scrna`` (never shipped, never copied into the repository).

* :func:`prepare_real_manifest`: the labelled tumour-immune samples of the cancer-type task and the cytokine
  patterns (wu2020 T cells per sample, CHETAH head-and-neck and melanoma immune cells by sex call);
* :func:`real_scrna_manifest`: every cell of every study, unlabelled, for Cellformer pretraining.

Both write what they need into a work folder and return the path of a manifest that
:func:`~txformers.datasets.scrna_samples.read_manifest` and
:class:`~txformers.datasets.tumor_immune.TumorImmuneBuilder` read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cells import read_cells
from .scrna_samples import UNKNOWN_PATIENT

WU2020_CANCERS = {"Lung": "lung", "Endo": "endometrial", "Renal": "renal", "Colon": "colorectal"}


def sex_call(xist: np.ndarray, rps4y1: np.ndarray) -> np.ndarray:
    """``female`` (XIST detected, RPS4Y1 not), ``male`` (RPS4Y1 detected, XIST not), else ``ambiguous``."""
    xist, rps4y1 = np.asarray(xist) > 0, np.asarray(rps4y1) > 0
    return np.where(xist & ~rps4y1, "female", np.where(rps4y1 & ~xist, "male", "ambiguous"))


def prepare_real_manifest(scrna_dir: str | Path, workdir: str | Path, include_glioma: bool = False) -> Path:
    """Write the samples of the shared real scRNA into ``workdir`` and return a manifest over them.

    * wu2020: one h5ad per sample (``sample`` column: patient x tissue, 30 samples of 14 patients; cancer
      from the patient prefix); sorted T cells, so ``immune_filter=none`` (the PTPRC rule would drop the
      T cells whose PTPRC dropped out); raw counts.
    * CHETAH head-and-neck (Puram 2017) and melanoma (Tirosh 2016): genes x cells log2(TPM/10+1) CSVs
      split by sex call into ``?<study>/female|male|ambiguous`` pseudo-patients; immune cells by the
      annotation (head-and-neck: curated types; melanoma: CHETAH predictions).
    * ``include_glioma``: the oligodendroglioma microglia/macrophages (3 patients, TPM-like).
    """
    scrna, workdir = Path(scrna_dir).resolve(), Path(workdir)
    samples_dir = workdir / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    wu = read_cells(scrna / "wu2020_200_tcells_4cancers.h5ad")
    for sample, obs in wu.obs.groupby("sample", observed=True):
        patient = str(obs["patient"].iloc[0])
        cancer = WU2020_CANCERS[patient.rstrip("0123456789")]
        part = wu[obs.index].copy()
        part.obs = part.obs[["patient", "source", "cluster_orig"]].astype(str)
        part.obs["cell_type"] = "T cell " + part.obs["cluster_orig"]  # sorted T cells, by subcluster
        path = samples_dir / f"wu2020_{sample}.h5ad"
        part.write_h5ad(path)
        rows.append(
            dict(
                path=path,
                format="h5ad",
                cancer_type=cancer,
                study="wu2020",
                patient=patient,
                sample=f"wu2020_{sample}",
                tissue=str(obs["source"].iloc[0]),
                scale="counts",
                immune_filter="none",
                cell_type_column="cell_type",
            )
        )
    for stem, obs_file, column, study, cancer in (
        ("chetah_headneck_ref", "chetah_headneck_ref_obs.csv", "celltype", "puram2017_hnscc", "head_and_neck"),
        ("chetah_input_mel", "chetah_input_mel_obs.csv", "celltype_CHETAH", "tirosh2016_melanoma", "melanoma"),
    ):
        table = pd.read_csv(scrna / f"{stem}_log2tpm.csv.gz", index_col=0)
        obs = pd.read_csv(scrna / obs_file, index_col=0)
        sexes = sex_call(table.loc["XIST"].to_numpy(), table.loc["RPS4Y1"].to_numpy())
        for sex in ("female", "male", "ambiguous"):
            cells = table.columns[sexes == sex]
            if not len(cells):
                continue
            path = samples_dir / f"{study}_{sex}.csv.gz"
            table[cells].to_csv(path)
            obs.loc[cells, [column]].to_csv(samples_dir / f"{study}_{sex}_obs.csv")
            rows.append(
                dict(
                    path=path,
                    format="csv",
                    cancer_type=cancer,
                    study=study,
                    patient=f"{UNKNOWN_PATIENT}{study}/{sex}",
                    sample=f"{study}_{sex}",
                    tissue="Tumor",
                    scale="log2p1",
                    orientation="genes_x_cells",
                    immune_filter="annotation",
                    cell_type_column=column,
                    obs_path=f"samples/{study}_{sex}_obs.csv",
                )
            )
    if include_glioma:
        glioma = read_cells(scrna / "tirosh2016_oligodendroglioma_184cells.h5ad")
        patients = glioma.obs_names.str.split("_").str[0]
        for patient in sorted(set(patients)):
            part = glioma[patients == patient].copy()
            path = samples_dir / f"tirosh2016_oligodendroglioma_{patient}.h5ad"
            part.write_h5ad(path)
            rows.append(
                dict(
                    path=path,
                    format="h5ad",
                    cancer_type="oligodendroglioma",
                    study="tirosh2016_oligodendroglioma",
                    patient=patient,
                    sample=f"tirosh2016_oligodendroglioma_{patient}",
                    tissue="Tumor",
                    scale="linear",
                    immune_filter="annotation",
                    cell_type_column="cell_type",
                )
            )
    manifest = workdir / "manifest.tsv"
    pd.DataFrame(rows).to_csv(manifest, sep="\t", index=False)
    return manifest


def real_scrna_manifest(scrna_dir: str | Path, workdir: str | Path) -> Path:
    """A pretraining manifest over the real scRNA of ``shared/data/scrna`` (all cells, all genes).

    wu2020 (10x, raw counts), CHETAH head-and-neck and melanoma (Smart-seq2, log2(TPM/10+1), genes x
    cells CSV), the oligodendroglioma data (TPM-like) and pbmc68k_reduced (its ``.raw``: log-normalised,
    written to ``workdir`` as an h5ad). Nothing is copied into the repository.
    """
    import anndata

    scrna, workdir = Path(scrna_dir).resolve(), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rows = [
        (scrna / "wu2020_200_tcells_4cancers.h5ad", "h5ad", "wu2020", "counts", ""),
        (scrna / "chetah_headneck_ref_log2tpm.csv.gz", "csv", "puram2017_hnscc", "log2p1", "genes_x_cells"),
        (scrna / "chetah_input_mel_log2tpm.csv.gz", "csv", "tirosh2016_melanoma", "log2p1", "genes_x_cells"),
        (scrna / "tirosh2016_oligodendroglioma_184cells.h5ad", "h5ad", "tirosh2016_oligodendroglioma", "linear", ""),
    ]
    pbmc = scrna / "pbmc68k_reduced_700cells.h5ad"
    if pbmc.is_file():
        adata = read_cells(pbmc)
        raw = anndata.AnnData(X=adata.raw.X, obs=adata.obs[[]], var=adata.raw.var[[]])
        raw.write_h5ad(workdir / "pbmc68k_raw.h5ad")
        rows.append((workdir / "pbmc68k_raw.h5ad", "h5ad", "zheng2017_pbmc", "log", ""))
    lines = ["path\tformat\tstudy\tscale\torientation\timmune_filter"]
    lines += [
        f"{path}\t{fmt}\t{study}\t{scale}\t{orientation}\tnone"
        for path, fmt, study, scale, orientation in rows
        if path.exists()
    ]
    manifest = workdir / "pretrain_manifest.tsv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


#: The CHETAH tables of ``shared/data/scrna``: stem -> (obs file, label column, study, cancer type).
CHETAH_TABLES = {
    "chetah_headneck_ref": ("chetah_headneck_ref_obs.csv", "celltype", "puram2017_hnscc", "head_and_neck"),
    "chetah_input_mel": ("chetah_input_mel_obs.csv", "celltype_CHETAH", "tirosh2016_melanoma", "melanoma"),
}


def read_chetah(scrna_dir: str | Path, stem: str) -> Any:
    """One CHETAH table (genes x cells ``log2(TPM/10+1)`` CSV plus its obs CSV) as an AnnData of cells x genes.

    ``X`` is back on the linear TPM scale (``10 * (2**x - 1)``); ``obs`` holds ``cell_type`` (the table's
    label column: curated for head-and-neck, CHETAH *predictions* for melanoma), ``study``, ``cancer_type``
    and ``sex`` (:func:`sex_call`: cells of different sex come from different patients).
    """
    import anndata

    if stem not in CHETAH_TABLES:
        raise ValueError(f"unknown CHETAH table {stem!r} (known: {sorted(CHETAH_TABLES)})")
    obs_file, column, study, cancer = CHETAH_TABLES[stem]
    scrna = Path(scrna_dir)
    table = pd.read_csv(scrna / f"{stem}_log2tpm.csv.gz", index_col=0)
    obs = pd.read_csv(scrna / obs_file, index_col=0).reindex(table.columns)
    frame = pd.DataFrame(
        {
            "cell_type": obs[column].astype(str).to_numpy(),
            "study": study,
            "cancer_type": cancer,
            "sex": sex_call(table.loc["XIST"].to_numpy(), table.loc["RPS4Y1"].to_numpy()),
        },
        index=table.columns.astype(str),
    )
    linear = 10.0 * (np.exp2(table.to_numpy(dtype=np.float64).T) - 1.0)
    var = pd.DataFrame(index=table.index.astype(str))
    return anndata.AnnData(X=linear.astype(np.float32), obs=frame, var=var)


__all__ = ["CHETAH_TABLES", "WU2020_CANCERS", "prepare_real_manifest", "read_chetah", "real_scrna_manifest", "sex_call"]
