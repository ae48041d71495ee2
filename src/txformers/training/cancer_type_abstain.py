# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Tune the cancer-type classifier's abstain rule (``unknown`` calls) on held-out training folds, write it into
the checkpoint (config ``abstain`` entry + ``abstain_reference.npz``), and measure it on cancer types the
classifier never saw.

Same data as :mod:`txformers.training.cancer_type` (``--scrna-dir``: the shared real cells). Calibration folds
are patient-grouped with the ``sex_split`` groups, so every known type is on both sides of a fold (under
``strict`` a whole study, hence a whole type, is held out, and its cells are not "known"). For each fold a
Cellformer is fine-tuned from ``--pretrained`` with the saved model's learning rate and epochs; its held-out
cells give out-of-fold probabilities (cached in ``--cache``, so a rerun skips the fine-tuning), and the
detection rates of the fold's training cells give the held-out cells' distances
(:func:`txformers.tasks.cytokine.abstain.held_out_surprise`, over the genes measured in every sample).
Thresholds: :func:`txformers.tasks.cytokine.abstain.choose_thresholds` (accuracy budget ``--budget``).

Unseen types: the written checkpoint runs through ``CancerTypePipeline`` on the oligodendroglioma cells (never in
training); and leave-one-type-out over the six training types: the distance rule is rebuilt without type T
(detection rates and the threshold at the chosen quantile from held-out folds of the other types) and applied to
T's cells. Its cost on known types is bounded by the fraction of held-out known cells it flags.

    python -m txformers.training.cancer_type_abstain --scrna-dir ../shared/data/scrna \\
        --model checkpoints/cellformer-cancer-type --pretrained checkpoints/cellformer-pretrained \\
        --output-json results/cellformer/abstain.json --cache runs/abstain_oof.npz --write-config
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
from ..io import atomic_write_bytes, atomic_write_text
from ..models.cellformer import CancerTypePipeline, CellformerForCellClassification
from ..models.cellformer.pipeline_cellformer import abstain_flags, detection_surprise
from ..tasks.cytokine.abstain import (
    abstain_summary,
    bootstrap,
    cell_features,
    choose_thresholds,
    detection_log_rates,
    held_out_surprise,
)
from ..tasks.cytokine.cancer_type import encode_cells, grouped_folds, load_cells, protocol_groups
from ..tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
from .cancer_type import FinetuneOptions, finetune_cellformer

register()
REFERENCE = "abstain_reference.npz"
# fewest reference genes an input must hold for the distance check (the threshold is calibrated over all of them;
# the result's known_cells_flagged_by_distance_with_random_reference_genes shows how it holds over fewer)
MIN_REFERENCE_GENES = 200


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
    parser.add_argument("--cache", help="npz of the out-of-fold probabilities (read if present, else written)")
    parser.add_argument("--output-json", required=True)
    parser.add_argument("--write-config", action="store_true", help="store the rule in MODEL (config + reference)")
    args = parser.parse_args(argv)
    args.command = "python -m txformers.training.cancer_type_abstain " + " ".join(argv or sys.argv[1:])
    return args


def out_of_fold_probabilities(args, inputs, y, classes, folds) -> np.ndarray:
    """Class probabilities of every held-out cell from fold models fine-tuned as the bundled model was."""
    if args.cache and Path(args.cache).is_file():
        cached = np.load(args.cache)
        if cached["y"].tolist() == y.tolist():
            print(f"out-of-fold probabilities from {args.cache}", file=sys.stderr)
            return cached["probabilities"]
    proba = np.full((len(y), len(classes)), np.nan)
    for fold, (train, test) in enumerate(folds):
        fold_model, _ = finetune_cellformer(
            {k: v[train] for k, v in inputs.items()},
            y[train],
            classes,
            args.pretrained,
            FinetuneOptions(seed=args.seed + fold, lr=args.lr, epochs=args.epochs),
        )
        proba[test] = cell_features(fold_model, {k: v[test] for k, v in inputs.items()})[0]
        print(f"fold {fold + 1}: {len(train)} training cells, {len(test)} held out", file=sys.stderr)
    if args.cache:
        Path(args.cache).parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.cache, probabilities=proba, y=y)
    return proba


def leave_one_type_out(
    detected: np.ndarray, y: np.ndarray, classes: list[str], groups: np.ndarray, keep: np.ndarray, args, q: float
) -> dict[str, Any]:
    """Per training type T: the distance rule rebuilt without T, applied to T's cells."""
    out = {}
    for c, name in enumerate(classes):
        others = np.flatnonzero((y != c) & keep)
        folds = [(others[a], others[b]) for a, b in grouped_folds(y[others], groups[others], args.folds, args.seed)]
        held = held_out_surprise(detected, y, len(classes), folds)[others]
        threshold = float(np.quantile(held, q))
        known = [k for k in range(len(classes)) if k != c]
        log_p = detection_log_rates(detected[y != c], y[y != c], len(classes))[known]
        flagged = (detection_surprise(log_p, detected[y == c]) > threshold).astype(float)
        known_flagged = (held > threshold).astype(float)
        out[name] = {
            "cells": int((y == c).sum()),
            "unknown_rate": float(flagged.mean()),
            "unknown_rate_ci": bootstrap(flagged, args.seed),
            "known_cells_flagged_rate": float(known_flagged.mean()),
            "known_cells_flagged_rate_ci": bootstrap(known_flagged, args.seed),
        }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        manifest = prepare_real_manifest(args.scrna_dir, workdir)
        cells = load_cells(manifest, Path(workdir) / "cache")
        every_gene = load_cells(manifest, Path(workdir) / "cache_all", genes="all")
    if every_gene.y.tolist() != cells.y.tolist() or every_gene.sample.tolist() != cells.sample.tolist():
        raise SystemExit("the panel and all-gene builds hold different cells")
    detected = every_gene.X > 0
    model = CellformerForCellClassification.from_pretrained(args.model).eval()
    tokenizer = GeneExpressionTokenizer.from_pretrained(args.model)
    classes = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if classes != cells.classes:
        raise SystemExit(f"the model's classes {classes} are not the data's {cells.classes}")
    inputs = encode_cells(tokenizer, cells.X, cells.genes)
    coverage = (cells.X > 0).sum(1) / len(tokenizer.genes)

    keep, groups = protocol_groups(cells.patient, cells.study, "sex_split")
    index = np.flatnonzero(keep)
    folds = [(index[a], index[b]) for a, b in grouped_folds(cells.y[index], groups[index], args.folds, args.seed)]
    proba = out_of_fold_probabilities(args, inputs, cells.y, classes, folds)
    distance = held_out_surprise(detected, cells.y, len(classes), folds)
    y, proba, coverage_k, distance_k = cells.y[index], proba[index], coverage[index], distance[index]
    correct = proba.argmax(1) == y
    thresholds = choose_thresholds(proba.max(1), coverage_k, distance_k, correct, budget=args.budget)
    rule = {
        **thresholds,
        "reference": REFERENCE,
        "min_reference_genes": MIN_REFERENCE_GENES,
        "calibration": (
            f"thresholds tuned on {args.folds} patient-grouped (sex_split) held-out folds of {len(index)} training "
            f"cells, accuracy budget {args.budget}; distance: detection_surprise over {detected.shape[1]} genes; "
            "see txformers.training.cancer_type_abstain"
        ),
    }
    known = abstain_summary(proba, coverage_k, distance_k, rule, y)
    flags = (
        (coverage_k < rule["min_panel_coverage"])
        | (proba.max(1) < rule["min_probability"])
        | (distance_k > rule["max_distance"])
    )
    drop = (correct & flags).astype(float)  # the correct calls the rule withholds
    known["accuracy_ci"] = bootstrap(correct.astype(float), args.seed)
    known["accuracy_with_abstain_ci"] = bootstrap((correct & ~flags).astype(float), args.seed)
    known["accuracy_drop_points"] = 100 * float(drop.mean())
    known["accuracy_drop_points_ci"] = [100 * v for v in bootstrap(drop, args.seed)]

    log_p = detection_log_rates(detected, cells.y, len(classes))
    if args.write_config:
        import io

        buffer = io.BytesIO()
        np.savez_compressed(buffer, genes=np.array(every_gene.genes), log_p=log_p.astype(np.float32))
        atomic_write_bytes(Path(args.model) / REFERENCE, buffer.getvalue())
        config_path = Path(args.model) / "config.json"
        config = json.loads(config_path.read_text())
        config["abstain"] = rule
        atomic_write_text(config_path, json.dumps(config, indent=2, sort_keys=True) + "\n")
        model = CellformerForCellClassification.from_pretrained(args.model).eval()
    model.config.abstain = rule

    unseen_path = Path(args.unseen or Path(args.scrna_dir) / "tirosh2016_oligodendroglioma_184cells.h5ad")
    import anndata

    unseen = anndata.read_h5ad(unseen_path)
    if args.write_config:
        pipe = CancerTypePipeline(model=model, tokenizer=tokenizer, device="cpu")
        calls = pipe(unseen)
    else:  # the rule is not in the folder: score the unseen cells directly
        probe = GeneExpressionTokenizer.from_genes(every_gene.genes, mode="panel")
        panel = probe(unseen, mode="panel", normalize=False, min_coverage=0.0)
        surprise = detection_surprise(log_p, panel["expression"], ~panel["missing_mask"][0])
        plain = CancerTypePipeline(model=model, tokenizer=tokenizer, device="cpu")(unseen, abstain=False)
        probabilities = np.zeros((len(plain), len(classes)))
        probabilities[np.arange(len(plain)), [classes.index(c["label"]) for c in plain]] = [c["score"] for c in plain]
        flags_u, why = abstain_flags(
            probabilities, np.array([c["genes_detected"] for c in plain]) / len(tokenizer.genes), None, rule, surprise
        )
        calls = [
            {**c, "unknown": bool(f), "reasons": r, "predicted_label": c["label"]}
            for c, f, r in zip(plain, flags_u, why)
        ]
    flagged = np.array([call["unknown"] for call in calls], dtype=float)
    cell_types = unseen.obs["cell_type"].astype(str).to_numpy() if "cell_type" in unseen.obs else None
    per_cell_type = {}
    if cell_types is not None:
        for name in sorted(set(cell_types)):
            mask = cell_types == name
            per_cell_type[name] = {"cells": int(mask.sum()), "unknown_rate": float(flagged[mask].mean())}
    without: dict[str, int] = {}
    for call in calls:
        without[call["predicted_label"]] = without.get(call["predicted_label"], 0) + 1
    # how the calibrated threshold holds when an input measures only some of the reference genes
    rng = np.random.default_rng(args.seed)
    subsets = {}
    for n_genes in (MIN_REFERENCE_GENES // 2, MIN_REFERENCE_GENES, 1000, 3000):
        genes = rng.choice(detected.shape[1], n_genes, replace=False)
        held = held_out_surprise(detected[:, genes], cells.y, len(classes), folds)[index]
        subsets[str(n_genes)] = float((held > rule["max_distance"]).mean())
    loto = leave_one_type_out(detected, cells.y, classes, groups, keep, args, thresholds["distance_quantile"])
    result = {
        "command": args.command,
        "rule": rule,
        "fine_tuning": {"lr": args.lr, "epochs": args.epochs, "folds": "sex_split, patient-grouped"},
        "known_types_held_out": known,
        "unseen_type": {
            "file": str(unseen_path),
            "cells": len(calls),
            "unknown": int(flagged.sum()),
            "unknown_rate": float(flagged.mean()),
            "unknown_rate_ci": bootstrap(flagged, args.seed),
            "reasons": {
                name: sum(name in call["reasons"] for call in calls)
                for name in ("panel_coverage", "probability", "distance")
            },
            "per_cell_type": per_cell_type,
            "calls_without_abstain": without,
        },
        "known_cells_flagged_by_distance_with_random_reference_genes": subsets,
        "leave_one_type_out": loto,
        "leave_one_type_out_note": (
            "distance rule only (detection rates and threshold at the chosen quantile rebuilt without the type); "
            "known_cells_flagged_rate bounds the accuracy cost on the known types (each flagged cell costs at most "
            "one correct call). Types of one study share it with other types (wu2020: colorectal, endometrial, "
            "lung, renal), so their cells are near the training cells."
        ),
        "wall_seconds": round(time.time() - started, 1),
    }
    Path(args.output_json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.output_json), json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "command"}, indent=1))
    return result


if __name__ == "__main__":
    main()
