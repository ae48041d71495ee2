# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Tune the cancer-type classifier's abstain rule (``unknown`` calls) on held-out training folds and write it
into the checkpoint's config; then measure it on cells of a cancer type the classifier never saw.

Same data and folds as :mod:`txformers.training.cancer_type` (``--scrna-dir``: the shared real cells, strict
protocol, patient-grouped folds). For each fold a Cellformer is fine-tuned from ``--pretrained`` on the
training patients with the saved model's learning rate and epochs; its held-out cells give the out-of-fold
probabilities, panel coverage and distances to that fold's training cells. The thresholds
(:func:`txformers.tasks.cytokine.abstain.choose_thresholds`) come from these held-out cells only. The
distance reference of the written rule is the bundled model's own pooled states of all training cells.
The unseen-type check runs the written checkpoint through ``CancerTypePipeline`` on ``--unseen`` (default: the
oligodendroglioma cells).

    python -m txformers.training.cancer_type_abstain --scrna-dir ../shared/data/scrna \\
        --model checkpoints/cellformer-cancer-type --pretrained checkpoints/cellformer-pretrained \\
        --output-json results/cellformer/abstain.json --write-config
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets.shared_scrna import prepare_real_manifest
from ..hub import register
from ..models.cellformer import CancerTypePipeline, CellformerForCellClassification
from ..models.cellformer.pipeline_cellformer import cell_distance
from ..tasks.cytokine.abstain import (
    abstain_summary,
    bootstrap,
    cell_features,
    choose_thresholds,
    distance_reference,
)
from ..tasks.cytokine.cancer_type import encode_cells, grouped_folds, load_cells, protocol_groups
from ..tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
from .cancer_type import FinetuneOptions, finetune_cellformer

register()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrna-dir", required=True, help="the shared real scRNA folder")
    parser.add_argument("--model", required=True, help="the cancer-type checkpoint to calibrate")
    parser.add_argument("--pretrained", required=True, help="the pretrained Cellformer the fold models start from")
    parser.add_argument("--unseen", help="AnnData of an unseen cancer type (default: the oligodendroglioma cells)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--lr", type=float, default=5e-4, help="fold models (default: the bundled model's choice)")
    parser.add_argument("--epochs", type=int, default=20, help="fold models (default: the bundled model's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=0.015, help="held-out accuracy the rule may cost")
    parser.add_argument("--output-json", required=True)
    parser.add_argument("--write-config", action="store_true", help="store the rule in MODEL/config.json")
    args = parser.parse_args(argv)
    args.command = "python -m txformers.training.cancer_type_abstain " + " ".join(argv or sys.argv[1:])
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        cells = load_cells(prepare_real_manifest(args.scrna_dir, workdir), Path(workdir) / "cache")
    model = CellformerForCellClassification.from_pretrained(args.model).eval()
    tokenizer = GeneExpressionTokenizer.from_pretrained(args.model)
    classes = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if classes != cells.classes:
        raise SystemExit(f"the model's classes {classes} are not the data's {cells.classes}")
    options = {"lr": args.lr, "epochs": args.epochs}
    inputs = encode_cells(tokenizer, cells.X, cells.genes)
    n_panel = len(tokenizer.genes)
    coverage = (cells.X > 0).sum(1) / n_panel

    # held-out folds: probabilities, coverage and distances of cells no fold model trained on
    _, groups = protocol_groups(cells.patient, cells.study, "strict")
    oof_proba = np.zeros((len(cells.y), len(classes)))
    oof_distance = np.zeros(len(cells.y))
    oof_embedding = np.zeros((len(cells.y), model.config.hidden_size))
    for fold, (train, test) in enumerate(grouped_folds(cells.y, groups, args.folds, args.seed)):
        fold_model, _ = finetune_cellformer(
            {k: v[train] for k, v in inputs.items()},
            cells.y[train],
            classes,
            args.pretrained,
            FinetuneOptions(seed=args.seed + fold, **options),
        )
        _, train_states = cell_features(fold_model, {k: v[train] for k, v in inputs.items()})
        proba, states = cell_features(fold_model, {k: v[test] for k, v in inputs.items()})
        reference = distance_reference(train_states, cells.y[train])
        oof_proba[test], oof_embedding[test], oof_distance[test] = proba, states, cell_distance(states, reference)
        print(f"fold {fold + 1}: {len(train)} training cells, {len(test)} held out", file=sys.stderr)
    correct = oof_proba.argmax(1) == cells.y
    thresholds = choose_thresholds(oof_proba.max(1), coverage, oof_distance, correct, budget=args.budget)

    # the rule of the bundled model: its own pooled states of all training cells are the distance reference
    _, states = cell_features(model, inputs)
    rule = {**thresholds, **distance_reference(states, cells.y)}
    rule["calibration"] = (
        f"thresholds tuned on {args.folds} patient-grouped held-out folds of {len(cells.y)} training cells "
        f"(accuracy budget {args.budget}); see txformers.training.cancer_type_abstain"
    )
    flags = (
        (coverage < thresholds["min_panel_coverage"])
        | (oof_proba.max(1) < thresholds["min_probability"])
        | (oof_distance > thresholds["max_distance"])
    )
    # held-out distances are already in training units: pass them as one-dimensional embeddings
    unit_rule = {**thresholds, "mean": [0.0], "scale": [1.0], "centroids": [[0.0]], "distance_unit": 1.0}
    known = abstain_summary(oof_proba, coverage, oof_distance[:, None], unit_rule, cells.y)
    known["accuracy_ci"] = bootstrap(correct.astype(float), args.seed)
    known["accuracy_with_abstain_ci"] = bootstrap((correct & ~flags).astype(float), args.seed)
    known["accuracy_drop_points"] = 100 * (known["accuracy"] - known["accuracy_with_abstain"])

    if args.write_config:
        config_path = Path(args.model) / "config.json"
        config = json.loads(config_path.read_text())
        config["abstain"] = rule
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        model.config.abstain = rule

    unseen_path = Path(args.unseen or Path(args.scrna_dir) / "tirosh2016_oligodendroglioma_184cells.h5ad")
    import anndata

    unseen = anndata.read_h5ad(unseen_path)
    model.config.abstain = rule
    pipe = CancerTypePipeline(model=model, tokenizer=tokenizer, device="cpu")
    calls = pipe(unseen)
    n_unknown = sum(call["unknown"] for call in calls)
    flagged = np.array([call["unknown"] for call in calls], dtype=float)
    reasons = {
        name: sum(name in call["reasons"] for call in calls) for name in ("panel_coverage", "probability", "distance")
    }
    without = {}
    for call in calls:
        without[call["predicted_label"]] = without.get(call["predicted_label"], 0) + 1
    result = {
        "command": args.command,
        "rule": {k: v for k, v in rule.items() if k not in ("mean", "scale", "centroids")},
        "fine_tuning": options,
        "known_types_held_out": known,
        "unseen_type": {
            "file": str(unseen_path),
            "cells": len(calls),
            "unknown": int(n_unknown),
            "unknown_rate": n_unknown / len(calls),
            "unknown_rate_ci": bootstrap(flagged, args.seed),
            "reasons": reasons,
            "calls_without_abstain": without,
        },
        "wall_seconds": round(time.time() - started, 1),
    }
    Path(args.output_json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output_json).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "command"}, indent=1))
    return result


if __name__ == "__main__":
    main()
