# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Masked-expression modelling of single cells with Cellformer: the cell stream, the masking and the held-out
evaluation that :mod:`txformers.training.pretrain_cellformer` trains and re-scores with.

* :func:`build_vocabulary`: the genes detected in most cells over many samples (one chunk in memory at a time);
* :class:`CellStream`: tokenised cells of many samples (:func:`~txformers.datasets.scrna_samples.open_sample`),
  read a chunk at a time, shuffled through a buffer; a fixed fraction of every sample's cells (a hash of sample
  and cell index) is held out;
* :func:`collate_cells`, :func:`gene_positions`, :func:`mask_expression`: batches and the masked-value objective;
* :func:`evaluate_masked_expression`: masked-gene bin accuracy and error on held-out cells, next to baselines
  that see the same masks.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset

from ...datasets.scrna_samples import SampleSpec, open_sample
from ...models.cellformer import CellformerForMaskedExpressionModeling
from ...tokenizers.gene_vocabulary import canonical_gene_id
from ...tokenizers.tokenization_gene_expression import GeneExpressionTokenizer


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
                        chunk[rows],
                        gene_names=opened.gene_names,
                        mode="bins",
                        batch=[spec.study] * len(rows),
                        normalize=_normalize_flag(spec),
                        sampling="random",
                        seed=seed,
                    )
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
    non_gene = torch.tensor(non_gene_ids(tokenizer))
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
        np.add.at(
            cell_hist, (np.nonzero(visible)[0], np.minimum(batch["expression_bins"].numpy()[visible], n_bins - 1)), 1
        )
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


def non_gene_ids(tokenizer: GeneExpressionTokenizer) -> list[int]:
    genes = set(tokenizer.genes)
    return sorted(index for token, index in tokenizer.get_vocab().items() if token not in genes)


__all__ = [
    "CellStream",
    "build_vocabulary",
    "collate_cells",
    "evaluate_masked_expression",
    "gene_positions",
    "mask_expression",
    "non_gene_ids",
]
