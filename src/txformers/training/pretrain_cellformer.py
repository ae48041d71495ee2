# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Masked-expression pretraining of Cellformer over many single-cell samples, with Accelerate.

The samples are the rows of a tumour-immune manifest (:mod:`txformers.datasets.tumor_immune`: h5ad,
10x or CSV, with ``study`` and ``scale`` per row; labels not needed) or plain ``.h5ad`` files
(``--train-files``; study = file name). Nothing is loaded whole: h5ad files are read in backed mode
``--chunk-size`` cells at a time, one sample after the other, and each chunk is tokenised on the fly
(:class:`~txformers.GeneExpressionTokenizer`, ``"bins"`` mode: per-cell quantile bins of log1p(CP10k)
values, ``--max-length`` genes sampled at random per cell, a ``<batch:STUDY>`` token after ``<cls>``).
A shuffle buffer mixes cells of different samples; each process of ``accelerate launch`` reads
every ``num_processes``-th chunk.

Objective: ``--mask-probability`` (15 %) of each cell's genes have their value hidden (bin set to
``mask_bin``, at least one per cell) and predicted back (cross-entropy over bins, or MSE on the
value with ``--objective value``). A fixed fraction of cells of every sample (``--eval-percent``,
chosen by a hash of sample and cell index) is held out and scored at the end (``--eval-only``
re-scores a saved checkpoint) against baselines that see the same masks: the gene's bin
distribution over the training cells, the cell's visible bins, and the global bin distribution
(accuracy of the modal bin, mean absolute error of the median bin).

    accelerate launch -m txformers.training.pretrain_cellformer --manifest samples.tsv \\
        --output-dir checkpoints/cellformer-pretrained --preset small --max-steps 2000

    # the real scRNA at hand (../shared/data/scrna; manifest written in a temp dir):
    python -m txformers.training.pretrain_cellformer --scrna-dir ../shared/data/scrna \\
        --output-dir checkpoints/cellformer-pretrained --results-json results/cellformer/pretrain.json

Outputs in ``--output-dir``: a Hub-layout checkpoint (``CellformerForMaskedExpressionModeling``,
safetensors, portable model files) with its gene-expression tokenizer, so
``GeneExpressionTokenizer.from_pretrained(output_dir)`` works; ``pretrain_log.jsonl``; and the
metrics JSON (``--results-json``, default ``<output-dir>/pretrain_results.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data import cytokine_genes
from ..datasets.scrna_samples import SampleSpec, read_manifest
from ..datasets.shared_scrna import real_scrna_manifest
from ..hub import register
from ..models.cellformer import CellformerConfig, CellformerForMaskedExpressionModeling
from ..tasks.cytokine.masked_expression import (
    CellStream,
    build_vocabulary,
    collate_cells,
    evaluate_masked_expression,
    gene_positions,
    mask_expression,
    non_gene_ids,
)
from ..tokenizers.tokenization_gene_expression import GeneExpressionTokenizer
from .run_dir import add_run_dir_arguments, claim_run_dir, data_paths, run_identity

register()  # checkpoints saved here get auto_map and the portable model files

PRESETS = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64),
    "small": dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256),
    "base": dict(hidden_size=256, num_hidden_layers=6, num_attention_heads=8, intermediate_size=1024),
}


# ----------------------------------------------------------------------------- inputs
def h5ad_specs(files: Sequence[str | Path]) -> list[SampleSpec]:
    """One sample per ``.h5ad`` file; study and sample = the file name without extension."""
    specs = []
    for row, file in enumerate(files, start=1):
        name = Path(file).name.removesuffix(".h5ad")
        specs.append(SampleSpec(row=row, path=str(file), format="h5ad", study=name, sample=name, immune_filter="none"))
    return specs


def load_specs(args: argparse.Namespace, workdir: str) -> list[SampleSpec]:
    if args.scrna_dir:
        return read_manifest(real_scrna_manifest(args.scrna_dir, workdir), require_labels=False)
    if args.manifest:
        return read_manifest(args.manifest, require_labels=False)
    return h5ad_specs(args.train_files)


def build_tokenizer(specs: Sequence[SampleSpec], args: argparse.Namespace) -> GeneExpressionTokenizer:
    force = cytokine_genes() if args.force_cytokines else []
    genes = build_vocabulary(specs, max_genes=args.max_genes, min_cells=args.min_cells, force_genes=force)
    studies = list(dict.fromkeys(spec.study for spec in specs))
    return GeneExpressionTokenizer.from_genes(
        genes,
        mode="bins",
        n_bins=args.n_bins,
        max_length=args.max_length,
        sampling="random",
        batch_tokens=studies,
        seed=args.seed,
    )


# ----------------------------------------------------------------------------- training
def heldout_metrics(model, tokenizer, specs, args: argparse.Namespace, device: Any = "cpu") -> dict[str, float]:
    """Masked-expression metrics of ``model`` on the held-out cells of ``specs`` (same split as training)."""
    eval_cells = list(
        CellStream(
            specs, tokenizer, split="eval", eval_percent=args.eval_percent, chunk_size=args.chunk_size, seed=args.seed
        )
    )
    train_cells = CellStream(
        specs, tokenizer, split="train", eval_percent=args.eval_percent, chunk_size=args.chunk_size, seed=args.seed
    )._cells(0)
    return evaluate_masked_expression(
        model, eval_cells, train_cells, tokenizer, probability=args.mask_probability, seed=args.seed, device=device
    )


def evaluate_only(args: argparse.Namespace) -> dict[str, Any]:
    """Re-score a checkpoint in ``--output-dir`` on its held-out cells; updates ``heldout`` in the results JSON."""
    model = CellformerForMaskedExpressionModeling.from_pretrained(args.output_dir)
    tokenizer = GeneExpressionTokenizer.from_pretrained(args.output_dir)
    with tempfile.TemporaryDirectory() as workdir:
        metrics = heldout_metrics(model, tokenizer, load_specs(args, workdir), args)
    results_json = Path(args.results_json) if args.results_json else Path(args.output_dir) / "pretrain_results.json"
    result = json.loads(results_json.read_text()) if results_json.is_file() else {}
    result.update({"heldout": metrics, "heldout_command": args.command})
    results_json.parent.mkdir(parents=True, exist_ok=True)
    results_json.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(metrics))
    return result


def train(args: argparse.Namespace) -> dict[str, Any]:
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    accelerator = Accelerator(cpu=args.cpu, mixed_precision=args.mixed_precision)
    set_seed(args.seed)
    started = time.time()
    output_dir = Path(args.output_dir)
    identity = run_identity("pretrain_cellformer", args, data_paths(args, "manifest"))
    claim_run_dir(output_dir, identity, overwrite=args.overwrite, state=accelerator)
    with tempfile.TemporaryDirectory() as workdir:
        specs = load_specs(args, workdir)
        tokenizer = build_tokenizer(specs, args)
        config = CellformerConfig(
            **PRESETS[args.preset],
            vocab_size=tokenizer.vocab_size,
            pad_token_id=tokenizer.pad_token_id,
            cls_token_id=tokenizer.cls_token_id,
            mask_token_id=tokenizer.mask_token_id,
            n_bins=tokenizer.n_bins,
            pad_bin=tokenizer.bin_pad_value,
            mask_bin=tokenizer.mask_bin,
            value_encoding=args.value_encoding,
            mlm_objective=args.objective,
            tokens_per_cell=args.max_length,
            study_labels=tokenizer.batch_tokens,
            hidden_dropout_prob=args.dropout,
            attention_probs_dropout_prob=args.attention_dropout,
        )
        model = CellformerForMaskedExpressionModeling(config)
        stream = CellStream(
            specs,
            tokenizer,
            eval_percent=args.eval_percent,
            chunk_size=args.chunk_size,
            shuffle_buffer=args.shuffle_buffer,
            seed=args.seed,
            shard=accelerator.process_index,
            num_shards=accelerator.num_processes,
        )
        loader = DataLoader(
            stream,
            batch_size=args.batch_size,
            collate_fn=lambda cells: collate_cells(cells, tokenizer.pad_token_id, tokenizer.bin_pad_value),
        )
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        warmup = min(args.warmup_steps, args.max_steps // 10 + 1)

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, args.max_steps - warmup))))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
        non_gene = torch.tensor(non_gene_ids(tokenizer))
        generator = torch.Generator().manual_seed(args.seed + 1000 * accelerator.process_index)
        log_file = output_dir / "pretrain_log.jsonl"
        if accelerator.is_main_process:
            log_file.write_text("")
        model.train()
        running: list[float] = []
        batches = iter(loader)
        for step in range(1, args.max_steps + 1):
            batch = next(batches)
            genes = gene_positions(batch["input_ids"], batch["attention_mask"], non_gene)
            inputs, labels = mask_expression(
                batch, genes, tokenizer.mask_bin, args.mask_probability, args.objective, generator
            )
            inputs = {key: value.to(accelerator.device) for key, value in inputs.items()}
            loss = model(**inputs, labels=labels.to(accelerator.device)).loss
            accelerator.backward(loss)
            if args.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            running.append(accelerator.gather(loss.detach()[None]).mean().item())
            if step % args.log_every == 0 or step == args.max_steps:
                record = {"step": step, "loss": float(np.mean(running)), "lr": scheduler.get_last_lr()[0]}
                running = []
                accelerator.print(json.dumps(record))
                if accelerator.is_main_process:
                    with log_file.open("a") as handle:
                        handle.write(json.dumps(record) + "\n")

        accelerator.wait_for_everyone()
        result: dict[str, Any] = {}
        if accelerator.is_main_process:
            unwrapped = accelerator.unwrap_model(model)
            unwrapped.save_pretrained(output_dir)
            tokenizer.save_pretrained(output_dir)
            metrics = (
                heldout_metrics(unwrapped, tokenizer, specs, args, accelerator.device)
                if args.objective == "bins"
                else {}
            )
            n_parameters = sum(p.numel() for p in unwrapped.parameters())
            result = {
                "command": args.command,
                "samples": [
                    {"sample": s.sample, "study": s.study, "format": s.format, "scale": s.scale} for s in specs
                ],
                "vocabulary_genes": len(tokenizer.genes),
                "studies": tokenizer.batch_tokens,
                "parameters": n_parameters,
                "steps": args.max_steps,
                "batch_size": args.batch_size,
                "final_train_loss": record["loss"],
                "heldout": metrics,
                "wall_seconds": round(time.time() - started, 1),
                "args": {k: v for k, v in vars(args).items() if k != "command"},
            }
            results_json = Path(args.results_json) if args.results_json else output_dir / "pretrain_results.json"
            results_json.parent.mkdir(parents=True, exist_ok=True)
            results_json.write_text(json.dumps(result, indent=2, default=str))
            accelerator.print(json.dumps(metrics))
        accelerator.wait_for_everyone()
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", help="tumour-immune manifest (CSV/TSV; path, format, study, optional scale...)")
    source.add_argument("--train-files", nargs="+", help=".h5ad files (one study each)")
    source.add_argument("--scrna-dir", help="the shared real scRNA folder (../shared/data/scrna)")
    parser.add_argument("--output-dir", required=True)
    add_run_dir_arguments(parser, resume=False)
    parser.add_argument("--results-json", help="metrics file (default <output-dir>/pretrain_results.json)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--value-encoding", choices=["bins", "continuous"], default="bins")
    parser.add_argument("--objective", choices=["bins", "value"], default="bins")
    parser.add_argument("--max-genes", type=int, default=4096, help="vocabulary size (genes)")
    parser.add_argument("--min-cells", type=int, default=3, help="vocabulary genes are detected in this many cells")
    parser.add_argument(
        "--no-force-cytokines",
        dest="force_cytokines",
        action="store_false",
        help="do not force the 185 cytokine genes into the vocabulary",
    )
    parser.add_argument("--n-bins", type=int, default=51)
    parser.add_argument("--max-length", type=int, default=256, help="tokens per cell (genes sampled at random)")
    parser.add_argument("--mask-probability", type=float, default=0.15)
    parser.add_argument("--eval-percent", type=float, default=10.0, help="held-out cells per sample (percent)")
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument(
        "--attention-dropout", type=float, default=0.0, help="0 lets CPU attention use the fused SDPA kernel"
    )
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=256, help="cells read at a time")
    parser.add_argument("--shuffle-buffer", type=int, default=2048)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no")
    parser.add_argument("--cpu", action="store_true", help="force CPU even when a GPU is present")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--eval-only",
        action="store_true",
        help="re-score the checkpoint in --output-dir on its held-out cells (no training)",
    )
    args = parser.parse_args(argv)
    args.command = "python -m txformers.training.pretrain_cellformer " + " ".join(
        argv if argv is not None else __import__("sys").argv[1:]
    )
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    return evaluate_only(args) if args.eval_only else train(args)


if __name__ == "__main__":
    main()
