# Copyright 2026 The txformers authors. BSD-3-Clause.
"""``txformers evaluate`` for Cellformer checkpoints: :func:`evaluate_checkpoint` picks the evaluation by the
checkpoint's task.

* a cancer-type classifier (``CellformerForCellClassification``, e.g. ``cellformer-cancer-type``): cytokine
  cancer type per sample, patient-grouped, against majority / study-only / logistic regression / LightGBM /
  random forest and the Cellformer fine-tuned from the pretrained model vs from random weights, with the study
  confound (:mod:`.evaluation_cancer_type`). The bundled classifier itself was trained on every sample, so its
  recipe (fine-tuning ``cellformer-pretrained``) is what the folds re-run;
* a pretrained encoder (``cellformer-pretrained``): cell embeddings against HVG + PCA and the random-init twin
  (:mod:`.evaluation_embeddings`).

``quick``: cancer type without the Cellformer rows (the profile models and the confound, under a minute
on two cores); embeddings on the wu2020 source task only.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from .evaluation_rows import difference_verdicts

SEED = 0


def checkpoint_task(checkpoint: Path) -> str:
    """``cancer_type`` or ``embeddings``, from the checkpoint's ``config.json`` (architectures, labels)."""
    config = json.loads((Path(checkpoint) / "config.json").read_text())
    architectures = config.get("architectures") or []
    if any("CellClassification" in name for name in architectures) or config.get("id2label"):
        return "cancer_type"
    return "embeddings"


def pretrained_source(checkpoint: Path) -> Path | None:
    """The pretrained encoder a classifier's recipe fine-tunes (``cellformer-pretrained``), if present."""
    from ...hub import resolve_checkpoint

    path = Path(resolve_checkpoint("cellformer-pretrained"))
    return path if (path / "config.json").is_file() else None


def evaluate_checkpoint(checkpoint: Path, data: Path | None, quick: bool) -> dict[str, Any]:
    """Re-run a Cellformer checkpoint's evaluation on the shared scRNA (``data``: the ``scrna`` folder, default
    ``../shared/data/scrna``). Returns the results dict of :mod:`txformers.evaluation`.

    Runs on one thread (BLAS, OpenMP and torch): the models are small, and on a shared two-core machine threads
    make scikit-learn's solvers ten times slower."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            return _evaluate(Path(checkpoint), data, quick)
    finally:
        torch.set_num_threads(threads)


def _evaluate(checkpoint: Path, data: Path | None, quick: bool) -> dict[str, Any]:
    from ...hub import SHARED_DATA

    checkpoint = Path(checkpoint)
    scrna = Path(data) if data is not None else SHARED_DATA / "scrna"
    if not (scrna / "wu2020_200_tcells_4cancers.h5ad").is_file():
        raise FileNotFoundError(f"{scrna} does not hold the shared scRNA (wu2020_200_tcells_4cancers.h5ad)")
    task = checkpoint_task(checkpoint)
    if task == "cancer_type":
        from ...datasets.shared_scrna import prepare_real_manifest
        from .evaluation_cancer_type import FINETUNE, LIGHTGBM, RANDOM_FOREST, evaluate_cancer_type

        with tempfile.TemporaryDirectory(prefix="txformers_cytokine_eval_") as workdir:
            manifest = prepare_real_manifest(scrna, workdir)
            result = evaluate_cancer_type(manifest, Path(workdir), pretrained_source(checkpoint), quick, SEED)
        rows = result["rows"]
        lines = difference_verdicts(rows)
        split = (
            "one pseudo-bulk profile per sample (immune cells, cytokine panel, log1p CP10k); 5-fold "
            "StratifiedGroupKFold by patient over all 6 types (34 samples) and within wu2020 (4 types, 30 samples); "
            "leave-one-study-out; 95% CIs by patient bootstrap"
        )
        settings = {"lightgbm": LIGHTGBM, "random_forest": RANDOM_FOREST, "cellformer_finetune": FINETUNE}
    else:
        from .evaluation_embeddings import evaluate_embeddings

        result = evaluate_embeddings(scrna, checkpoint, quick, SEED)
        rows = result["rows"]
        lines = difference_verdicts(rows)
        split = (
            "probes fitted on held-out folds: wu2020 source by patient (StratifiedGroupKFold 5), head-and-neck and "
            "pbmc cell types by cell (StratifiedKFold 5), head-and-neck -> melanoma across studies; 95% CIs by "
            "patient (wu2020) or cell bootstrap"
        )
        settings = {}
    return {
        "checkpoint": str(checkpoint),
        "data": str(scrna),
        "split": split,
        "seeds": [SEED],
        "command": f"txformers evaluate {checkpoint}" + (" --quick" if quick else ""),
        "rows": rows,
        "task": task,
        "verdicts": lines,
        "settings": settings,
        "report": result["report"],
    }


def embedding_verdict(checkpoint: Path) -> str | None:
    """One plain sentence on the recorded embedding evaluation of ``checkpoint`` (its ``evaluation.json``, full
    mode): how its embedding compares with HVG + PCA on the wu2020 source task; None when nothing is recorded."""
    from ...evaluation import ResultsError, read_record

    try:
        record = read_record(checkpoint, "full")
    except ResultsError:
        return None
    if record is None:
        return None
    rows = {(row["model"], row["metric"]): row for row in record["rows"]}
    prefix = "embedding.wu2020_source.logistic"
    mine, pca = rows.get(("cellformer_pretrained", f"{prefix}.accuracy")), rows.get(("hvg_pca", f"{prefix}.accuracy"))
    differences = [row for (model, metric), row in rows.items() if metric.endswith(".accuracy_minus_hvg_pca")]
    if mine is None or pca is None or not differences:
        return None
    above = sum(row["ci95"][0] > 0 for row in differences)
    below = sum(row["ci95"][1] < 0 for row in differences)
    lead = "These embeddings do not beat PCA" if above == 0 else "These embeddings beat PCA on some tasks"
    return (
        f"{lead} of the normalised expression on real cells: logistic regression on held-out wu2020 patients calls "
        f"a T cell's source (tumour / normal / blood) with accuracy {mine['value']:.3f} "
        f"[{mine['ci95'][0]:.3f}, {mine['ci95'][1]:.3f}] from them and {pca['value']:.3f} "
        f"[{pca['ci95'][0]:.3f}, {pca['ci95'][1]:.3f}] from HVG + PCA; over {len(differences)} task x probe "
        f"comparisons they are below PCA in {below} and above in {above} (`{record.get('command', '')}`)."
    )


__all__ = ["checkpoint_task", "embedding_verdict", "evaluate_checkpoint"]
