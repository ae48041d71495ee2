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
import random
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from ..data import cytokine_genes
from ..datasets.tumor_immune import SampleSpec, open_sample, read_manifest
from ..hub import register
from ..models.cellformer import CellformerConfig, CellformerForMaskedExpressionModeling
from ..tokenizers.tokenization_gene_expression import GeneExpressionTokenizer, canonical_gene_id

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
        adata = anndata.read_h5ad(pbmc)
        raw = anndata.AnnData(X=adata.raw.X, obs=adata.obs[[]], var=adata.raw.var[[]])
        raw.write_h5ad(workdir / "pbmc68k_raw.h5ad")
        rows.append((workdir / "pbmc68k_raw.h5ad", "h5ad", "zheng2017_pbmc", "log", ""))
    lines = ["path\tformat\tstudy\tscale\torientation\timmune_filter"]
    lines += [f"{path}\t{fmt}\t{study}\t{scale}\t{orientation}\tnone" for path, fmt, study, scale, orientation in rows if path.exists()]
    manifest = workdir / "pretrain_manifest.tsv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _normalize_flag(spec: SampleSpec) -> bool | str:
    """How the tokenizer treats a sample's values: normalise linear scales, keep log scales, detect otherwise."""
    return {"counts": True, "linear": True, "log2p1": True, "log": False}.get(spec.scale, "auto")


def build_vocabulary(
    specs: Sequence[SampleSpec],
    max_genes: int = 4096,
    min_cells: int = 3,
    force_genes: Sequence[str] = (),
    chunk_size: int = 1024,
) -> list[str]:
    """Genes detected in at least ``min_cells`` cells over all samples; the ``max_genes`` detected in most
    cells (``force_genes`` measured in any sample are always kept), ordered by detection. One pass, one
    chunk in memory at a time."""
    counts: dict[str, int] = {}
    for spec in specs:
        with open_sample(spec) as opened:
            names = [canonical_gene_id(name) for name in opened.gene_names]
            for _, chunk in opened.iter_chunks(chunk_size):
                detected = np.bincount(chunk.indices, minlength=len(names))
                for index in np.flatnonzero(detected):
                    counts[names[index]] = counts.get(names[index], 0) + int(detected[index])
    ranked = sorted((gene for gene, n in counts.items() if n >= min_cells and gene), key=lambda g: (-counts[g], g))
    forced = [gene for gene in dict.fromkeys(force_genes) if counts.get(gene, 0) > 0]
    forced_set = set(forced)
    chosen = forced + [gene for gene in ranked if gene not in forced_set][: max(0, max_genes - len(forced))]
    order = {gene: rank for rank, gene in enumerate(ranked)}
    return sorted(chosen, key=lambda g: order.get(g, len(order)))


def _held_out(sample: str, n_cells: int, start: int, percent: float) -> np.ndarray:
    """Deterministic per-cell held-out flags (a hash of sample name and cell index)."""
    salt = zlib.crc32(sample.encode())
    index = np.arange(start, start + n_cells, dtype=np.uint64)
    hashed = (index * np.uint64(2654435761) + np.uint64(salt)) % np.uint64(1_000_003)
    return (hashed % np.uint64(10_000)) < np.uint64(int(percent * 100))


class CellStream(IterableDataset):
    """Tokenised cells of many samples, read a chunk at a time, shuffled through a buffer, forever.

    Each item: ``input_ids``, ``expression_bins``, ``expression`` (1-D numpy arrays, unpadded).
    ``split="eval"`` yields the held-out cells once, in order, with a fixed gene sampling.
    """

    def __init__(
        self,
        specs: Sequence[SampleSpec],
        tokenizer: GeneExpressionTokenizer,
        *,
        split: str = "train",
        eval_percent: float = 10.0,
        chunk_size: int = 256,
        shuffle_buffer: int = 2048,
        seed: int = 0,
        shard: int = 0,
        num_shards: int = 1,
    ):
        self.specs, self.tokenizer, self.split = list(specs), tokenizer, split
        self.eval_percent, self.chunk_size, self.shuffle_buffer = eval_percent, chunk_size, shuffle_buffer
        self.seed, self.shard, self.num_shards = seed, shard, num_shards

    def _cells(self, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        order = list(range(len(self.specs)))
        if self.split == "train":
            random.Random(self.seed * 7919 + epoch).shuffle(order)
        chunk_counter = 0
        for sample_index in order:
            spec = self.specs[sample_index]
            with open_sample(spec) as opened:
                for start, chunk in opened.iter_chunks(self.chunk_size):
                    chunk_counter += 1
                    if (chunk_counter - 1) % self.num_shards != self.shard:
                        continue
                    held = _held_out(spec.sample, chunk.shape[0], start, self.eval_percent)
                    rows = np.flatnonzero(held if self.split == "eval" else ~held)
                    if not len(rows):
                        continue
                    seed = self.seed if self.split == "eval" else hash((self.seed, epoch, sample_index, start)) % 2**31
                    encoded = self.tokenizer(
                        chunk[rows], gene_names=opened.gene_names, mode="bins", batch=[spec.study] * len(rows),
                        normalize=_normalize_flag(spec), sampling="random", seed=seed,
                    )  # fmt: skip
                    lengths = encoded["attention_mask"].sum(1)
                    for i, length in enumerate(lengths):
                        yield {
                            "input_ids": encoded["input_ids"][i, :length],
                            "expression_bins": encoded["expression_bins"][i, :length],
                            "expression": encoded["expression"][i, :length],
                        }

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        if self.split == "eval":
            yield from self._cells(0)
            return
        rng = random.Random(self.seed * 31 + self.shard)
        buffer: list[dict[str, np.ndarray]] = []
        epoch = 0
        while True:
            produced = False
            for cell in self._cells(epoch):
                produced = True
                if len(buffer) < self.shuffle_buffer:
                    buffer.append(cell)
                    continue
                index = rng.randrange(len(buffer))
                yield buffer[index]
                buffer[index] = cell
            if not produced and not buffer:
                raise ValueError("no training cells: every cell is held out or the samples are empty")
            rng.shuffle(buffer)
            yield from buffer
            buffer = []
            epoch += 1


def collate_cells(cells: list[dict[str, np.ndarray]], pad_token_id: int, pad_bin: int) -> dict[str, torch.Tensor]:
    """Pad a list of unpadded cells to the longest; returns tensors with an ``attention_mask``."""
    width = max(len(cell["input_ids"]) for cell in cells)
    n = len(cells)
    batch = {
        "input_ids": torch.full((n, width), pad_token_id, dtype=torch.long),
        "expression_bins": torch.full((n, width), pad_bin, dtype=torch.long),
        "expression": torch.zeros((n, width), dtype=torch.float32),
        "attention_mask": torch.zeros((n, width), dtype=torch.long),
    }
    for i, cell in enumerate(cells):
        length = len(cell["input_ids"])
        batch["input_ids"][i, :length] = torch.from_numpy(np.asarray(cell["input_ids"], dtype=np.int64))
        batch["expression_bins"][i, :length] = torch.from_numpy(np.asarray(cell["expression_bins"], dtype=np.int64))
        batch["expression"][i, :length] = torch.from_numpy(np.asarray(cell["expression"], dtype=np.float32))
        batch["attention_mask"][i, :length] = 1
    return batch


def gene_positions(input_ids: torch.Tensor, attention_mask: torch.Tensor, non_gene_ids: torch.Tensor) -> torch.Tensor:
    """Boolean mask of positions holding a gene (not padding, ``<cls>``, a study token or another special)."""
    return attention_mask.bool() & ~torch.isin(input_ids, non_gene_ids.to(input_ids.device))


def mask_expression(
    batch: dict[str, torch.Tensor],
    genes: torch.Tensor,
    mask_bin: int,
    probability: float = 0.15,
    objective: str = "bins",
    generator: torch.Generator | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Hide the values of a random ``probability`` of the gene positions (at least one per cell that has a
    gene): their ``expression_bins`` become ``mask_bin`` and their ``expression`` 0. Returns the new inputs
    and ``labels`` (true bin, or true value for ``objective="value"``; ``-100`` at every other position)."""
    scores = torch.rand(genes.shape, generator=generator).to(genes.device)
    chosen = (scores < probability) & genes
    # cells where nothing was drawn: mask their highest-scoring gene
    scores = scores.masked_fill(~genes, -1.0)
    forced = torch.zeros_like(chosen)
    forced[torch.arange(genes.shape[0]), scores.argmax(1)] = True
    chosen |= forced & genes & ~chosen.any(1, keepdim=True)
    if objective == "bins":
        labels = batch["expression_bins"].masked_fill(~chosen, -100)
    else:
        labels = batch["expression"].masked_fill(~chosen, -100.0)
    inputs = dict(batch)
    inputs["expression_bins"] = batch["expression_bins"].masked_fill(chosen, mask_bin)
    inputs["expression"] = batch["expression"].masked_fill(chosen, 0.0)
    return inputs, labels


# ----------------------------------------------------------------------------- evaluation
def _median_bins(histograms: np.ndarray) -> np.ndarray:
    """Median bin of each row of a (rows x bins) histogram / distribution."""
    cumulative = np.cumsum(histograms, axis=-1)
    total = cumulative[..., -1:]
    return (cumulative < 0.5 * np.maximum(total, 1e-12)).sum(-1)


@torch.no_grad()
def evaluate_masked_expression(
    model: CellformerForMaskedExpressionModeling,
    eval_cells: list[dict[str, np.ndarray]],
    train_cells: Iterator[dict[str, np.ndarray]] | list[dict[str, np.ndarray]],
    tokenizer: GeneExpressionTokenizer,
    *,
    probability: float = 0.15,
    batch_size: int = 64,
    seed: int = 0,
    device: Any = "cpu",
) -> dict[str, float]:
    """Masked-gene bin accuracy (mode of the prediction) and mean absolute bin error (its median) on held-out
    cells, next to baselines that see the same masks: the gene's bin distribution over the training cells
    (``gene``), the cell's visible bins (``cell``), and the global distribution (``global``)."""
    config = model.config
    if config.mlm_objective != "bins":
        raise ValueError("evaluate_masked_expression scores the bins objective")
    non_gene = torch.tensor(_non_gene_ids(tokenizer))
    n_bins = config.n_bins
    histograms = np.zeros((config.vocab_size, n_bins))
    for cell in train_cells:
        np.add.at(histograms, (cell["input_ids"], np.minimum(cell["expression_bins"], n_bins - 1)), 1)
    histograms[:, 0] = 0  # bin 0 (not detected) never occurs at a gene token
    overall = histograms.sum(0)
    unseen = histograms.sum(1) == 0
    histograms[unseen] = overall
    gene_mode, gene_median = histograms.argmax(1), _median_bins(histograms)
    global_mode, global_median = int(overall.argmax()), int(_median_bins(overall[None])[0])

    model.eval()
    generator = torch.Generator().manual_seed(seed)
    keys = ("model", "gene", "cell", "global")
    correct = dict.fromkeys(keys, 0)
    abs_error = dict.fromkeys(keys, 0.0)
    masked = 0
    for start in range(0, len(eval_cells), batch_size):
        batch = collate_cells(eval_cells[start : start + batch_size], tokenizer.pad_token_id, tokenizer.bin_pad_value)
        genes = gene_positions(batch["input_ids"], batch["attention_mask"], non_gene)
        inputs, labels = mask_expression(batch, genes, tokenizer.mask_bin, probability, "bins", generator)
        logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits.float().cpu()
        chosen = labels != -100
        rows = chosen.nonzero()[:, 0].numpy()
        truth = labels[chosen].numpy()
        ids = batch["input_ids"][chosen].numpy()
        visible = (genes & ~chosen).numpy()
        cell_hist = np.zeros((len(batch["input_ids"]), n_bins))
        np.add.at(cell_hist, (np.nonzero(visible)[0], np.minimum(batch["expression_bins"].numpy()[visible], n_bins - 1)), 1)
        no_visible = cell_hist.sum(1) == 0
        cell_hist[no_visible] = overall
        probabilities = logits[chosen].softmax(-1).numpy()
        predictions = {
            "model": (probabilities.argmax(1), _median_bins(probabilities)),
            "gene": (gene_mode[ids], gene_median[ids]),
            "cell": (cell_hist.argmax(1)[rows], _median_bins(cell_hist)[rows]),
            "global": (np.full(len(truth), global_mode), np.full(len(truth), global_median)),
        }
        masked += len(truth)
        for key, (mode, median) in predictions.items():
            correct[key] += int((mode == truth).sum())
            abs_error[key] += float(np.abs(median - truth).sum())
    n = max(masked, 1)
    result: dict[str, float] = {"eval_cells": len(eval_cells), "masked_genes": masked}
    for key in keys:
        prefix = "" if key == "model" else f"baseline_{key}_"
        result[f"{prefix}bin_accuracy"] = correct[key] / n
        result[f"{prefix}bin_mae"] = abs_error[key] / n
    return result


def _non_gene_ids(tokenizer: GeneExpressionTokenizer) -> list[int]:
    genes = set(tokenizer.genes)
    return sorted(index for token, index in tokenizer.get_vocab().items() if token not in genes)


# ----------------------------------------------------------------------------- training
def build_tokenizer(specs: Sequence[SampleSpec], args: argparse.Namespace) -> GeneExpressionTokenizer:
    force = cytokine_genes() if args.force_cytokines else []
    genes = build_vocabulary(specs, max_genes=args.max_genes, min_cells=args.min_cells, force_genes=force)
    studies = list(dict.fromkeys(spec.study for spec in specs))
    return GeneExpressionTokenizer.from_genes(
        genes, mode="bins", n_bins=args.n_bins, max_length=args.max_length, sampling="random",
        batch_tokens=studies, seed=args.seed,
    )  # fmt: skip


def load_specs(args: argparse.Namespace, workdir: str) -> list[SampleSpec]:
    if args.scrna_dir:
        return read_manifest(real_scrna_manifest(args.scrna_dir, workdir), require_labels=False)
    if args.manifest:
        return read_manifest(args.manifest, require_labels=False)
    return h5ad_specs(args.train_files)


def heldout_metrics(model, tokenizer, specs, args: argparse.Namespace, device: Any = "cpu") -> dict[str, float]:
    """Masked-expression metrics of ``model`` on the held-out cells of ``specs`` (same split as training)."""
    eval_cells = list(CellStream(specs, tokenizer, split="eval", eval_percent=args.eval_percent,
                                 chunk_size=args.chunk_size, seed=args.seed))  # fmt: skip
    train_cells = CellStream(specs, tokenizer, split="train", eval_percent=args.eval_percent,
                             chunk_size=args.chunk_size, seed=args.seed)._cells(0)  # fmt: skip
    return evaluate_masked_expression(model, eval_cells, train_cells, tokenizer, probability=args.mask_probability,
                                      seed=args.seed, device=device)  # fmt: skip


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
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        specs = load_specs(args, workdir)
        tokenizer = build_tokenizer(specs, args)
        config = CellformerConfig(
            **PRESETS[args.preset],
            vocab_size=tokenizer.vocab_size, pad_token_id=tokenizer.pad_token_id, cls_token_id=tokenizer.cls_token_id,
            mask_token_id=tokenizer.mask_token_id, n_bins=tokenizer.n_bins, pad_bin=tokenizer.bin_pad_value,
            mask_bin=tokenizer.mask_bin, value_encoding=args.value_encoding, mlm_objective=args.objective,
            tokens_per_cell=args.max_length, study_labels=tokenizer.batch_tokens,
            hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.attention_dropout,
        )  # fmt: skip
        model = CellformerForMaskedExpressionModeling(config)
        stream = CellStream(
            specs, tokenizer, eval_percent=args.eval_percent, chunk_size=args.chunk_size, shuffle_buffer=args.shuffle_buffer,
            seed=args.seed, shard=accelerator.process_index, num_shards=accelerator.num_processes,
        )  # fmt: skip
        loader = DataLoader(
            stream, batch_size=args.batch_size,
            collate_fn=lambda cells: collate_cells(cells, tokenizer.pad_token_id, tokenizer.bin_pad_value),
        )  # fmt: skip
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        warmup = min(args.warmup_steps, args.max_steps // 10 + 1)

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, args.max_steps - warmup))))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
        non_gene = torch.tensor(_non_gene_ids(tokenizer))
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
            inputs, labels = mask_expression(batch, genes, tokenizer.mask_bin, args.mask_probability, args.objective, generator)
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
            metrics = heldout_metrics(unwrapped, tokenizer, specs, args, accelerator.device) if args.objective == "bins" else {}
            n_parameters = sum(p.numel() for p in unwrapped.parameters())
            result = {
                "command": args.command,
                "samples": [{"sample": s.sample, "study": s.study, "format": s.format, "scale": s.scale} for s in specs],
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
    parser.add_argument("--results-json", help="metrics file (default <output-dir>/pretrain_results.json)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--value-encoding", choices=["bins", "continuous"], default="bins")
    parser.add_argument("--objective", choices=["bins", "value"], default="bins")
    parser.add_argument("--max-genes", type=int, default=4096, help="vocabulary size (genes)")
    parser.add_argument("--min-cells", type=int, default=3, help="vocabulary genes are detected in this many cells")
    parser.add_argument("--no-force-cytokines", dest="force_cytokines", action="store_false",
                        help="do not force the 185 cytokine genes into the vocabulary")  # fmt: skip
    parser.add_argument("--n-bins", type=int, default=51)
    parser.add_argument("--max-length", type=int, default=256, help="tokens per cell (genes sampled at random)")
    parser.add_argument("--mask-probability", type=float, default=0.15)
    parser.add_argument("--eval-percent", type=float, default=10.0, help="held-out cells per sample (percent)")
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--attention-dropout", type=float, default=0.0,
                        help="0 lets CPU attention use the fused SDPA kernel")  # fmt: skip
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=256, help="cells read at a time")
    parser.add_argument("--shuffle-buffer", type=int, default=2048)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no")
    parser.add_argument("--cpu", action="store_true", help="force CPU even when a GPU is present")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-only", action="store_true",
                        help="re-score the checkpoint in --output-dir on its held-out cells (no training)")  # fmt: skip
    args = parser.parse_args(argv)
    args.command = "python -m txformers.training.pretrain_cellformer " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    return evaluate_only(args) if args.eval_only else train(args)


if __name__ == "__main__":
    main()
