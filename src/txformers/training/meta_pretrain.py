# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Pre-training of MetaSCDrug on GDSC: conventional multi-drug training and MAML over drugs.

Tasks are (source, drug) pairs of GDSC (``GDSC1:Gefitinib`` and ``GDSC2:Gefitinib`` are two tasks of one
drug). Two modes:

* ``--mode multitask``: plain supervised training over all drug-cell pairs of the training drugs
  (batches of ``--drugs-per-batch`` drugs x ``--cells-per-drug`` cell lines), binary cross-entropy on the
  per-drug label (z-scored ln IC50 < 0) plus the regression of the z-scored ln IC50;
* ``--mode maml``: model-agnostic meta-learning (Finn et al. 2017) written with ``torch.func``: for every
  task, support and query cell lines come from disjoint tissues; the inner loop adapts the heads (or
  ``--adapt head+fusion``: the fusion MLP too) with ``--inner-steps`` gradient steps on the support loss
  (``torch.func.grad`` + ``functional_call``), the query loss of the adapted parameters is the outer loss
  (``--first-order``: the inner gradients are detached, FOMAML; otherwise second-order MAML through the
  inner steps), and Adam updates every parameter. Start from a multitask checkpoint with ``--init-from``.

Drug-blind split: ``--test-drugs`` GDSC2 drugs (default 40, seeded) and ``--validation-drugs`` (default 20)
are removed from training under every name and SMILES they have; the lists are saved in the checkpoint
(``drug_split.json``). ``--mode evaluate`` scores checkpoints on the held-out drugs: AUROC within each drug,
zero-shot and after few-shot adaptation on ``k`` labelled cell lines, next to the no-model baseline of
ranking cell lines by their mean z-scored ln IC50 over the training drugs and logistic regression on
the same ``k`` cell lines. ``--mode baseline`` places the held-out drugs in the distribution of that
baseline over every GDSC2 drug (and over random drug sets of the same size).

    accelerate launch -m txformers.training.meta_pretrain --mode multitask \\
        --data-dir ../shared/data/drug/bulk_gdsc --output-dir runs/multitask --steps 3000
    accelerate launch -m txformers.training.meta_pretrain --mode maml --init-from runs/multitask/final \\
        --data-dir ../shared/data/drug/bulk_gdsc --output-dir runs/maml --steps 1000 --first-order
    python -m txformers.training.meta_pretrain --mode evaluate --data-dir ../shared/data/drug/bulk_gdsc \\
        --models meta=runs/maml/final nometa=runs/multitask/final --json unseen.json
    python -m txformers.training.meta_pretrain --mode baseline --data-dir ../shared/data/drug/bulk_gdsc \\
        --models runs/maml/final --json unseen_baseline.json

Outputs of training in ``--output-dir``: ``final/`` (model + processor + ``drug_split.json`` +
``training_args.json``, Hub layout), ``metrics.jsonl`` (loss, validation AUROC and seconds per step).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..datasets.gdsc import read_expression
from ..models.metascdrug import MetaScDrugConfig, MetaScDrugForDrugResponse, MetaScDrugProcessor
from ..tasks.drug_response.meta_learning import (
    ARGS_FILE,
    SPLIT_FILE,
    DrugInputs,
    build_processor,
    genes_measured_in,
    load_gdsc_tables,
    make_drug_split,
    maml_loss,
    multitask_loss,
    sample_episode,
    select_gene_panel,
)
from ..tasks.drug_response.unseen_drugs import checkpoint_baseline, evaluate_checkpoints, evaluate_drugs, gdsc2_drugs
from .run_dir import add_run_dir_arguments, claim_run_dir, data_paths, run_identity

PRESETS = {
    "small": dict(
        cell_hidden_sizes=[512, 256],
        cell_embed_dim=128,
        drug_hidden_size=128,
        drug_num_layers=2,
        drug_num_heads=4,
        drug_intermediate_size=256,
        drug_embed_dim=128,
        fusion_hidden_sizes=[256],
        joint_embed_dim=128,
        fingerprint_bits=1024,
    ),
    "tiny": dict(
        cell_hidden_sizes=[32],
        cell_embed_dim=16,
        drug_hidden_size=16,
        drug_num_layers=1,
        drug_num_heads=2,
        drug_intermediate_size=32,
        drug_embed_dim=16,
        fusion_hidden_sizes=[32],
        joint_embed_dim=16,
        fingerprint_bits=64,
    ),
}


# ----------------------------------------------------------------------------- training loop
def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["multitask", "maml", "evaluate", "baseline"], required=True)
    parser.add_argument("--data-dir", required=True, help="folder in the layout of shared/data/drug/bulk_gdsc")
    parser.add_argument("--output-dir", help="training output folder (final/ holds the checkpoint)")
    add_run_dir_arguments(parser, resume=False)
    parser.add_argument("--init-from", help="checkpoint to start from (e.g. the multitask model for MAML)")
    parser.add_argument("--sources", nargs="+", default=["GDSC1", "GDSC2"])
    parser.add_argument("--n-genes", type=int, default=2000, help="gene panel size (most variable GDSC genes)")
    parser.add_argument(
        "--panel-genes-from",
        nargs="*",
        default=[],
        help="single-cell files (SCAD TSV / h5ad): the panel is chosen among the genes they measure",
    )
    parser.add_argument("--gene-map", help="Entrez-to-symbol table for --panel-genes-from files with Entrez ids")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--gene-dropout", type=float, default=0.3)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--test-drugs", type=int, default=40)
    parser.add_argument("--validation-drugs", type=int, default=20)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps (multitask) or meta-iterations (maml)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--drugs-per-batch", type=int, default=16, help="multitask: tasks per batch")
    parser.add_argument("--cells-per-drug", type=int, default=32, help="multitask: cell lines per task and batch")
    parser.add_argument("--meta-batch", type=int, default=8, help="maml: tasks per meta-iteration")
    parser.add_argument("--n-support", type=int, default=10)
    parser.add_argument("--n-query", type=int, default=30)
    parser.add_argument("--inner-steps", type=int, default=5)
    parser.add_argument(
        "--inner-lr",
        type=float,
        default=0.005,
        help="inner-loop step size (the joint embedding has a squared norm of ~100: keep it small)",
    )
    parser.add_argument("--max-grad-norm", type=float, default=1.0, help="clip the outer gradient norm")
    parser.add_argument("--first-order", action="store_true", help="first-order MAML (detached inner gradients)")
    parser.add_argument("--adapt", choices=["head", "head+fusion"], default="head")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-shots", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=[], help="evaluate, baseline: NAME=CHECKPOINT ...")
    parser.add_argument("--shots", nargs="+", type=int, default=[0, 10], help="evaluate: k labelled cell lines")
    parser.add_argument("--seeds", type=int, default=5, help="evaluate: seeds per drug and k")
    parser.add_argument("--json", help="evaluate, baseline: output JSON")
    parser.add_argument(
        "--split",
        choices=["test", "validation"],
        default="test",
        help="evaluate: the held-out drugs to score (pick settings on validation, report test)",
    )
    parser.add_argument(
        "--adapt-steps", type=int, help="evaluate: inner steps of few-shot (default: the first model's)"
    )
    parser.add_argument("--adapt-lr", type=float, help="evaluate: inner lr of few-shot (default: the first model's)")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def _validation_auroc(model, tables, drugs, split, train_tasks, shots, args) -> dict[str, float]:
    gdsc2 = gdsc2_drugs(tables)
    drugs_names = [d for d in split["validation"] if d in gdsc2]
    result = evaluate_drugs(
        {"model": model},
        tables,
        drugs,
        drugs_names,
        train_tasks,
        shots=(0, shots) if shots else (0,),
        seeds=2,
        adapt_settings={"model": {"steps": args.inner_steps, "lr": args.inner_lr, "adapt": args.adapt}},
    )
    out = {"val_zeroshot_auroc": result["shots"]["0"]["model_zeroshot"]["auroc"]}
    if shots:
        out["val_fewshot_auroc"] = result["shots"][str(shots)]["model_fewshot"]["auroc"]
    return out


def train(args: argparse.Namespace) -> Path:
    """Multitask or MAML pre-training (see the module docstring); returns the ``final/`` checkpoint folder."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    accelerator = Accelerator()
    set_seed(args.seed + accelerator.process_index)
    output_dir = Path(args.output_dir)
    identity = run_identity("meta_pretrain", args, data_paths(args, "data_dir", "init_from"))
    claim_run_dir(output_dir, identity, overwrite=args.overwrite, state=accelerator)
    expression = read_expression(args.data_dir)
    if args.init_from:
        model = MetaScDrugForDrugResponse.from_pretrained(args.init_from)
        processor = MetaScDrugProcessor.from_pretrained(args.init_from)
        genes = processor.genes
        split = json.loads((Path(args.init_from) / SPLIT_FILE).read_text())
    else:
        genes = select_gene_panel(expression, args.n_genes, genes_measured_in(args.panel_genes_from, args.gene_map))
        split = None
    tables = load_gdsc_tables(args.data_dir, genes, args.sources, expression=expression)
    del expression
    if split is None:
        split = make_drug_split(tables.tasks, args.test_drugs, args.validation_drugs, args.split_seed)
    if not args.init_from:
        processor = build_processor(genes, tables)
        config = MetaScDrugConfig(
            gene_panel_size=len(genes),
            smiles_vocab_size=len(processor.smiles_tokenizer),
            gene_dropout=args.gene_dropout,
            hidden_dropout_prob=args.dropout,
            **PRESETS[args.preset],
        )
        processor.fingerprint_bits = config.fingerprint_bits
        model = MetaScDrugForDrugResponse(config)
    drugs = DrugInputs(processor, tables.tasks["smiles"].tolist())
    train_tasks = tables.tasks.index[tables.tasks["drug"].isin(set(split["train"]))].to_numpy()
    accelerator.print(
        f"{len(genes)} panel genes, {len(tables.cell_keys)} cell lines, {len(train_tasks)} training tasks "
        f"({len(split['train'])} drugs), held out {len(split['test'])} test / {len(split['validation'])} "
        "validation drugs; "
        f"{sum(p.numel() for p in model.parameters()):,} parameters"
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    core = accelerator.unwrap_model(model)
    rng = np.random.default_rng([args.seed, accelerator.process_index])
    log = open(output_dir / "metrics.jsonl", "a") if accelerator.is_main_process else None
    best, best_state, timings = -math.inf, None, []
    for step in range(1, args.steps + 1):
        core.train()
        start = time.perf_counter()
        if args.mode == "multitask":
            tasks = rng.choice(train_tasks, min(args.drugs_per_batch, len(train_tasks)), replace=False)
            loss = multitask_loss(core, tables, drugs, tasks, rng, args.cells_per_drug)
        else:
            episodes = []
            while len(episodes) < args.meta_batch:
                task = int(rng.choice(train_tasks))
                episode = sample_episode(tables, task, rng, args.n_support, args.n_query)
                if episode is not None:
                    episodes.append((task, episode))
            loss = maml_loss(
                core, tables, drugs, episodes, args.inner_steps, args.inner_lr, args.first_order, args.adapt
            )
        optimizer.zero_grad()
        accelerator.backward(loss)
        if accelerator.num_processes > 1:  # the encoders are called outside the DDP wrapper: average by hand
            for param in core.parameters():
                if param.grad is not None:
                    torch.distributed.all_reduce(param.grad)
                    param.grad /= accelerator.num_processes
        if args.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(core.parameters(), args.max_grad_norm)
        optimizer.step()
        timings.append(time.perf_counter() - start)
        if step % args.eval_every == 0 or step == args.steps:
            record = {
                "step": step,
                "loss": loss.item(),
                "seconds_per_step": float(np.mean(timings[-args.eval_every :])),
            }
            if accelerator.is_main_process:
                record.update(_validation_auroc(core, tables, drugs, split, train_tasks, args.eval_shots, args))
                metric = record.get("val_fewshot_auroc" if args.mode == "maml" else "val_zeroshot_auroc")
                if metric > best:
                    best, best_state = metric, copy.deepcopy(core.state_dict())
                    record["best"] = True
                accelerator.print(json.dumps(record))
                log.write(json.dumps(record) + "\n")
                log.flush()
    final = output_dir / "final"
    if accelerator.is_main_process:
        if best_state is not None:
            core.load_state_dict(best_state)
        core.eval()
        with torch.no_grad():
            train_rows = torch.as_tensor(train_tasks)
            core.metascdrug.set_default_drug_embedding(core.metascdrug.drug_encoder(**drugs(train_rows)))
        core.save_pretrained(final)
        processor.save_pretrained(final)
        (final / SPLIT_FILE).write_text(json.dumps(split, indent=1) + "\n")
        evaluate_only = ("models", "json", "shots", "seeds", "split", "adapt_steps", "adapt_lr")
        saved = {key: value for key, value in vars(args).items() if key not in evaluate_only}
        saved.update(
            best_validation=best,
            mean_seconds_per_step=float(np.mean(timings)),
            n_parameters=sum(p.numel() for p in core.parameters()),
        )
        history = (
            json.loads((Path(args.init_from) / ARGS_FILE).read_text())
            if args.init_from and (Path(args.init_from) / ARGS_FILE).exists()
            else None
        )
        if history is not None:
            saved["init_from_args"] = history
        (final / ARGS_FILE).write_text(json.dumps(saved, indent=1) + "\n")
        log.close()
    accelerator.wait_for_everyone()
    return final


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """``--mode evaluate``: unseen-drug AUROC of ``--models`` on the ``--split`` drugs of the first model's split."""
    if not args.models:
        raise ValueError("--mode evaluate needs --models NAME=CHECKPOINT ...")
    named = dict(item.split("=", 1) for item in args.models)
    result = evaluate_checkpoints(
        args.data_dir, named, args.split, args.shots, args.seeds, adapt_steps=args.adapt_steps, adapt_lr=args.adapt_lr
    )
    _write_json(args.json, result)
    for k, summary in result["shots"].items():
        print(f"k={k}: " + ", ".join(f"{method} {values['auroc']:.3f}" for method, values in summary.items()))
    return result


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    """``--mode baseline``: the no-model baseline over every GDSC2 drug, for the held-out drugs (``--split``) of
    ``--models``' first checkpoint."""
    if not args.models:
        raise ValueError("--mode baseline needs --models NAME=CHECKPOINT (its drug split and gene panel)")
    first = args.models[0].split("=", 1)[-1]
    result = checkpoint_baseline(args.data_dir, first, args.split)
    command = shlex.join(["python", "-m", "txformers.training.meta_pretrain", *args.argv])
    result.update(split=args.split, model=first, command=command)
    _write_json(args.json, result)
    sets, held_out = result["random_sets"], result["held_out"]
    print(
        f"baseline over {result['n_drugs']} GDSC2 drugs: mean {result['auroc_mean']:.3f}, median "
        f"{result['auroc_median']:.3f}; held-out {held_out['n_drugs']}: {held_out['auroc_mean']:.3f}; random sets of "
        f"{sets['size']}: {sets['mean']:.3f} ± {sets['sd']:.3f}, fraction >= {result.get('reference')}: "
        f"{sets.get('fraction_at_or_above_reference')}"
    )
    return result


def _write_json(path: str | None, result: dict[str, Any]) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=1) + "\n")


def main(argv: Sequence[str] | None = None) -> Any:
    args = _parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if args.mode == "evaluate":
        return evaluate(args)
    if args.mode == "baseline":
        return run_baseline(args)
    if not args.output_dir:
        raise ValueError("--output-dir is required for training")
    if args.mode == "maml" and not args.init_from:
        print("note: MAML from a random initialisation (give --init-from a multitask checkpoint to start from it)")
    return train(args)


if __name__ == "__main__":
    main()
