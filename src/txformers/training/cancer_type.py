# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Cancer type from the cytokine expression of tumour immune cells (Ren et al., Comput. Biol. Chem. 2024),
evaluated with splits grouped by patient: one command trains and scores every model on the same folds.

Models: ``CellformerForCellClassification`` fine-tuned from a pretrained Cellformer (and the same
architecture trained from scratch), the paper's random forest, a logistic regression (CellTypist's
model family) and the majority class of the training fold. Input: the immune cells of a tumour-immune
manifest (:class:`~txformers.datasets.tumor_immune.TumorImmuneBuilder`, log1p(CP10k) over the cytokine
genes measured in every sample). Folds: ``StratifiedGroupKFold`` over patients, so no patient has cells
on both sides (checked for every fold). Scores: per cell and per sample (mean class probabilities of a
sample's cells), accuracy, macro-F1, balanced accuracy, confusion matrices.

Patients whose id is unknown are written ``?<anything>`` in the manifest; protocols decide their groups:

* ``strict``: every unknown-patient cell of a study is one group (as if the study were one patient);
* ``sex_split``: unknown-patient cells are grouped by a sex call (``?<study>/female``, ``?<study>/male``;
  cells of different sex come from different patients, so the groups are patient-disjoint) and cells
  whose sex cannot be called (``/ambiguous``) are dropped;
* ``t_cells_sex_split``: as ``sex_split``, T cells only (``cell_type`` matching :data:`T_CELL_PATTERN`),
  which removes the cell-type composition difference between studies (wu2020 holds T cells only).

With ``--scrna-dir`` the manifest is built from the shared real data (written to a temp dir, never to
the repository): wu2020 T cells (4 cancers, 14 patients; split into its 30 samples, patient x tissue)
and the CHETAH head-and-neck and melanoma immune cells (patients unknown; split by sex call).

    python -m txformers.training.cancer_type --scrna-dir ../shared/data/scrna \\
        --pretrained checkpoints/cellformer-pretrained --output-json results/cellformer/cancer_type.json \\
        --save-model checkpoints/cellformer-cancer-type

The saved model (``--save-model``) is the Cellformer fine-tuned on all cells, with a tokenizer whose
vocabulary is the cytokine panel (ids of the pretrained vocabulary), ``id2label`` = the cancer types.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..datasets.shared_scrna import prepare_real_manifest
from ..hub import register
from ..models.cellformer import CellformerConfig, CellformerForCellClassification
from ..tasks.cytokine.cancer_type import (
    MODELS,
    PROTOCOLS,
    CellTable,
    aggregate_by_sample,
    bootstrap_ci,
    confound_report,
    encode_cells,
    fit_predict_sklearn,
    grouped_folds,
    load_cells,
    panel_tokenizer,
    predict_proba,
    protocol_groups,
    scores,
    summary_table,
)
from ..tokenizers.tokenization_gene_expression import GeneExpressionTokenizer

register()  # checkpoints saved here get auto_map and the portable model files


# ----------------------------------------------------------------------------- fine-tuning
@dataclass
class FinetuneOptions:
    """Fine-tuning settings. The learning rate warms up over ``warmup_steps`` then stays constant, so a run
    stopped after ``e`` epochs is the first ``e`` epochs of a longer run (what epoch selection relies on)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.01
    dropout: float = 0.1
    warmup_steps: int = 20
    seed: int = 0


def finetune_cellformer(
    inputs: dict[str, torch.Tensor],
    y: np.ndarray,
    classes: list[str],
    pretrained_dir: str | Path | None,
    options: FinetuneOptions,
    scratch_config: CellformerConfig | None = None,
    validation: tuple[dict[str, torch.Tensor], np.ndarray] | None = None,
    eval_epochs: tuple[int, ...] = (),
) -> tuple[CellformerForCellClassification, dict[int, float]]:
    """Fine-tune a classifier (from ``pretrained_dir``, or from scratch with ``scratch_config``) on ``inputs``
    with class-balanced cross-entropy for ``options.epochs`` epochs. With ``validation`` (inputs, labels),
    the validation macro-F1 after each epoch in ``eval_epochs`` is returned as ``{epoch: macro_f1}``."""
    from sklearn.metrics import f1_score

    torch.manual_seed(options.seed)
    labels = {
        "num_labels": len(classes),
        "id2label": dict(enumerate(classes)),
        "label2id": {c: i for i, c in enumerate(classes)},
    }
    if pretrained_dir is not None:
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the fresh classifier head is by design (strict loading checks the rest)
        try:
            model = CellformerForCellClassification.from_pretrained(
                pretrained_dir, classifier_dropout=options.dropout, hidden_dropout_prob=options.dropout, **labels
            )
        finally:
            hf_logging.set_verbosity(verbosity)
    else:
        model = CellformerForCellClassification(CellformerConfig(**{**scratch_config.to_dict(), **labels}))
    counts = np.bincount(y, minlength=len(classes)).astype(float)
    weights = np.where(counts > 0, counts.sum() / (np.maximum(counts, 1) * (counts > 0).sum()), 0.0)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / options.warmup_steps))
    targets = torch.tensor(y, dtype=torch.long)
    generator = torch.Generator().manual_seed(options.seed)
    n = len(y)
    history: dict[int, float] = {}
    for epoch in range(1, options.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, options.batch_size):
            index = order[start : start + options.batch_size]
            loss = loss_fn(model(**{key: value[index] for key, value in inputs.items()}).logits, targets[index])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        if validation is not None and epoch in eval_epochs:
            predicted = predict_proba(model, validation[0]).argmax(1)
            present = sorted(set(validation[1].tolist()))
            history[epoch] = float(f1_score(validation[1], predicted, labels=present, average="macro", zero_division=0))
    return model.eval(), history


def select_and_finetune(
    inputs: dict[str, torch.Tensor],
    y: np.ndarray,
    groups: np.ndarray,
    classes: list[str],
    pretrained_dir: str | Path | None,
    options: FinetuneOptions,
    scratch_config: CellformerConfig | None = None,
    lrs: tuple[float, ...] = (5e-4, 2e-3),
    epoch_grid: tuple[int, ...] = (5, 10, 20, 40, 60),
) -> tuple[CellformerForCellClassification, dict[str, Any]]:
    """Pick the learning rate and number of epochs on a validation split of the *training* patients (one
    inner ``StratifiedGroupKFold`` split, patient-disjoint), by macro-F1, then fine-tune on all of ``inputs``
    with that choice. Falls back to ``options`` when the training data has too few patients to split."""
    from sklearn.model_selection import StratifiedGroupKFold

    selection: dict[str, Any] = {"candidates": {}}
    try:
        inner = StratifiedGroupKFold(n_splits=min(4, len(np.unique(groups))), shuffle=True, random_state=options.seed)
        fit, val = next(inner.split(np.zeros(len(y)), y, groups))
    except ValueError:
        fit = val = None
    if fit is not None and len(set(y[val])) >= 2 and not set(groups[fit]) & set(groups[val]):
        best = (-1.0, options.lr, options.epochs)
        for lr in lrs:
            trial = FinetuneOptions(**{**options.__dict__, "lr": lr, "epochs": max(epoch_grid)})
            _, history = finetune_cellformer(
                {k: v[fit] for k, v in inputs.items()},
                y[fit],
                classes,
                pretrained_dir,
                trial,
                scratch_config,
                validation=({k: v[val] for k, v in inputs.items()}, y[val]),
                eval_epochs=epoch_grid,
            )
            selection["candidates"][str(lr)] = history
            for epochs, score in history.items():
                if score > best[0]:
                    best = (score, lr, epochs)
        options = FinetuneOptions(**{**options.__dict__, "lr": best[1], "epochs": best[2]})
        selection.update({"validation_macro_f1": best[0], "validation_cells": int(len(val))})
    selection.update({"lr": options.lr, "epochs": options.epochs})
    model, _ = finetune_cellformer(inputs, y, classes, pretrained_dir, options, scratch_config)
    return model, selection


# ----------------------------------------------------------------------------- evaluation
def run_protocol(
    cells: CellTable,
    protocol: str,
    models: list[str],
    args: argparse.Namespace,
    tokenizer: GeneExpressionTokenizer | None,
    scratch_config: CellformerConfig | None,
) -> dict[str, Any]:
    keep, groups = protocol_groups(cells.patient, cells.study, protocol, cells.cell_type)
    part = cells.subset(keep)
    groups = groups[keep]
    folds = grouped_folds(part.y, groups, args.folds, args.seed)
    n_classes = len(cells.classes)
    oof = {name: np.zeros((len(part.y), n_classes)) for name in models}
    inputs = encode_cells(tokenizer, part.X, part.genes) if tokenizer is not None else None
    absent = np.zeros(len(part.y), dtype=bool)
    fold_info = []
    selections: dict[str, list[dict[str, Any]]] = {}
    for fold, (train, test) in enumerate(folds):
        started = time.time()
        absent[test] = ~np.isin(part.y[test], part.y[train])
        for name in models:
            if name.startswith("cellformer"):
                options = FinetuneOptions(
                    epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed + fold
                )
                train_inputs = {k: v[train] for k, v in inputs.items()}
                source = args.pretrained if name == "cellformer" else None
                if args.select:
                    model, chosen = select_and_finetune(
                        train_inputs,
                        part.y[train],
                        groups[train],
                        cells.classes,
                        source,
                        options,
                        scratch_config,
                        lrs=tuple(args.lr_grid),
                        epoch_grid=tuple(args.epoch_grid),
                    )
                    selections.setdefault(name, []).append(chosen)
                else:
                    model, _ = finetune_cellformer(
                        train_inputs, part.y[train], cells.classes, source, options, scratch_config
                    )
                oof[name][test] = predict_proba(model, {k: v[test] for k, v in inputs.items()})
            else:
                oof[name][test] = fit_predict_sklearn(
                    name, part.X[train], part.y[train], part.X[test], n_classes, args.seed
                )
        fold_info.append(
            {
                "train_cells": int(len(train)),
                "test_cells": int(len(test)),
                "test_groups": sorted(set(groups[test])),
                "test_classes_absent_from_training": sorted(
                    {cells.classes[c] for c in set(part.y[test]) - set(part.y[train])}
                ),
                "seconds": round(time.time() - started, 1),
            }
        )
        print(f"[{protocol}] fold {fold + 1}/{len(folds)} done ({fold_info[-1]['seconds']} s)", file=sys.stderr)

    result: dict[str, Any] = {
        "cells": int(len(part.y)),
        "groups": int(len(set(groups))),
        "samples": int(len(set(part.sample))),
        "folds": fold_info,
        "cells_whose_class_is_absent_from_training": int(absent.sum()),
        "cellformer_selection": selections,
        "models": {},
    }
    for name in models:
        predicted = oof[name].argmax(1)
        sample_ids, sample_proba = aggregate_by_sample(oof[name], part.sample)
        sample_truth = np.array([part.y[part.sample == s][0] for s in sample_ids])
        result["models"][name] = {
            "per_cell": scores(part.y, predicted, cells.classes),
            "per_cell_95ci_patient_bootstrap": bootstrap_ci(part.y, predicted, groups, seed=args.seed),
            "per_sample": scores(sample_truth, sample_proba.argmax(1), cells.classes),
            "per_cell_learnable": scores(part.y[~absent], predicted[~absent], cells.classes)
            if (~absent).any()
            else None,
        }
    return result


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        manifest = (
            prepare_real_manifest(args.scrna_dir, workdir, include_glioma=args.include_glioma)
            if args.scrna_dir
            else Path(args.manifest)
        )
        cells = load_cells(manifest, Path(workdir) / "cache")
    models = [name for name in args.models if name in MODELS]
    tokenizer = scratch_config = None
    missing_from_vocab: list[str] = []
    if any(name.startswith("cellformer") for name in models):
        if not args.pretrained:
            raise SystemExit(
                "the cellformer models need --pretrained (a Cellformer checkpoint folder with its tokenizer)"
            )
        pretrained_tokenizer = GeneExpressionTokenizer.from_pretrained(args.pretrained)
        tokenizer, missing_from_vocab = panel_tokenizer(pretrained_tokenizer, cells.genes)
        scratch_config = CellformerConfig.from_pretrained(args.pretrained)
    result: dict[str, Any] = {
        "command": args.command,
        "task": "cancer type of tumour immune cells from cytokine expression, splits grouped by patient",
        "panel_genes": cells.genes,
        "panel_genes_missing_from_pretrained_vocabulary": missing_from_vocab,
        "classes": cells.classes,
        "builder_report": cells.report,
        "confound": confound_report(cells),
        "settings": {
            "folds": args.folds,
            "seed": args.seed,
            "epochs": args.epochs,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "cellformer_selection": (
                f"lr in {args.lr_grid} x epochs in {args.epoch_grid} by macro-F1 on a patient-disjoint "
                "validation split of each training fold"
            )
            if args.select
            else "off",
            "pretrained": str(args.pretrained) if args.pretrained else None,
            "random_forest": "500 trees, class_weight=balanced",
            "logistic_regression": "standardised, C=1, balanced",
        },
        "protocols": {},
    }
    for protocol in args.protocols:
        result["protocols"][protocol] = run_protocol(cells, protocol, models, args, tokenizer, scratch_config)
    if args.save_model and "cellformer" in models:
        inputs = encode_cells(tokenizer, cells.X, cells.genes)
        options = FinetuneOptions(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
        selection = None
        if args.select:
            _, groups = protocol_groups(cells.patient, cells.study, "strict")
            model, selection = select_and_finetune(
                inputs,
                cells.y,
                groups,
                cells.classes,
                args.pretrained,
                options,
                lrs=tuple(args.lr_grid),
                epoch_grid=tuple(args.epoch_grid),
            )
        else:
            model, _ = finetune_cellformer(inputs, cells.y, cells.classes, args.pretrained, options)
        model.config.architectures = ["CellformerForCellClassification"]
        model.save_pretrained(args.save_model)
        tokenizer.save_pretrained(args.save_model)
        train_accuracy = float((predict_proba(model, inputs).argmax(1) == cells.y).mean())
        result["saved_model"] = {
            "path": str(args.save_model),
            "trained_on_cells": int(len(cells.y)),
            "training_accuracy": train_accuracy,
            "selection": selection,
        }
    result["wall_seconds"] = round(time.time() - started, 1)
    if args.output_json:
        Path(args.output_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output_json).write_text(json.dumps(result, indent=1, default=str))
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--scrna-dir", help="the shared real scRNA folder (../shared/data/scrna)")
    source.add_argument("--manifest", help="a tumour-immune manifest (see txformers.datasets.tumor_immune)")
    parser.add_argument(
        "--include-glioma", action="store_true", help="add the oligodendroglioma microglia (--scrna-dir)"
    )
    parser.add_argument("--pretrained", help="pretrained Cellformer folder (with its tokenizer)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30, help="Cellformer epochs (without --select, or as fallback)")
    parser.add_argument("--lr", type=float, default=5e-4, help="Cellformer learning rate (without --select)")
    parser.add_argument(
        "--no-select",
        dest="select",
        action="store_false",
        help="do not pick the Cellformer lr/epochs on a validation split of the training patients",
    )
    parser.add_argument("--lr-grid", type=float, nargs="+", default=[5e-4, 2e-3])
    parser.add_argument("--epoch-grid", type=int, nargs="+", default=[5, 10, 20, 40, 60])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-json", help="results file (e.g. results/cellformer/cancer_type.json)")
    parser.add_argument("--save-model", help="save the Cellformer fine-tuned on all cells here (with its tokenizer)")
    args = parser.parse_args(argv)
    args.command = "python -m txformers.training.cancer_type " + " ".join(argv if argv is not None else sys.argv[1:])
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    result = evaluate(parse_args(argv))
    print(summary_table(result))
    return result


if __name__ == "__main__":
    main()
