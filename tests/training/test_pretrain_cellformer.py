"""Tests of the Cellformer pretraining entry point (``python -m txformers.training.pretrain_cellformer``)."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from txformers.models.cellformer import CellformerForMaskedExpressionModeling
from txformers.tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

GENES = ["IL2", "IFNG", "TNF", "CXCL13", "CCL5", "IL10", "TGFB1", "CD3E"]


def _write_h5ad(path: Path, seed: int, n_cells: int = 40) -> None:
    rng = np.random.default_rng(seed)
    X = rng.poisson(2.0, size=(n_cells, len(GENES) + 4)) * (rng.random((n_cells, len(GENES) + 4)) < 0.6)
    adata = ad.AnnData(
        sp.csr_matrix(X.astype(np.float32)),
        obs=pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]),
        var=pd.DataFrame(index=GENES + ["ACTB", "B2M", "GAPDH", "MALAT1"]),
    )
    adata.write_h5ad(path)


def test_pretraining_entry_point_writes_a_loadable_checkpoint(tmp_path):
    from txformers.training.pretrain_cellformer import main

    files = []
    for i in range(2):
        _write_h5ad(tmp_path / f"study{i}.h5ad", seed=i)
        files.append(str(tmp_path / f"study{i}.h5ad"))
    result = main(
        [
            "--train-files",
            *files,
            "--output-dir",
            str(tmp_path / "out"),
            "--preset",
            "tiny",
            "--max-steps",
            "4",
            "--batch-size",
            "8",
            "--chunk-size",
            "16",
            "--max-length",
            "8",
            "--n-bins",
            "11",
            "--log-every",
            "2",
            "--min-cells",
            "1",
            "--cpu",
        ]
    )
    assert result["steps"] == 4 and result["heldout"]["masked_genes"] > 0
    assert result["studies"] == ["study0", "study1"]
    tok = GeneExpressionTokenizer.from_pretrained(tmp_path / "out")
    model = CellformerForMaskedExpressionModeling.from_pretrained(tmp_path / "out")
    assert model.config.vocab_size == tok.vocab_size and model.config.n_bins == tok.n_bins == 11
    adata = ad.read_h5ad(files[0])
    enc = tok(adata, batch=["study0"] * adata.n_obs, return_tensors="pt")
    assert (enc["input_ids"][:, 1] == tok.convert_tokens_to_ids("<batch:study0>")).all()
    assert model(**enc).logits.shape[:2] == enc["input_ids"].shape
    log = [json.loads(line) for line in (tmp_path / "out" / "pretrain_log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in log] == [2, 4]
