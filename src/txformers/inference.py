# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Batched inference from raw nucleotide strings: length bucketing and sliding windows.

Sequences are sorted by length and batched with their neighbours, so a batch is padded only
to the longest of similar lengths (mixed-length inputs waste little compute on padding);
sequences longer than the model's window are cut into overlapping windows whose per-nucleotide
outputs are stitched back (each position from the window where it has the most context).

Example:

```python
>>> from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertModel
>>> from txformers.inference import per_nucleotide_outputs
>>> model = SpliceBertModel(SpliceBertConfig(num_hidden_layers=1, hidden_size=32,
...                                          num_attention_heads=4, intermediate_size=64)).eval()
>>> outputs = per_nucleotide_outputs(model, NucleotideTokenizer(), ["ACGT" * 300, "GGTAAG"])
>>> [o.shape for o in outputs]
[(1200, 32), (6, 32)]
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .tokenizers.tokenization_nucleotide import NucleotideTokenizer, stitch_windows, window_spans


def length_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Indices grouped into batches of similar length (sorted), at most ``batch_size`` items and,
    if given, at most ``max_tokens`` padded tokens per batch."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = max([lengths[i] for i in current] + [lengths[index]])
        if current and (len(current) >= batch_size or (max_tokens and longest * (len(current) + 1) > max_tokens)):
            batches.append(current)
            current = []
        current.append(int(index))
    if current:
        batches.append(current)
    return batches


def _default_output(model: torch.nn.Module) -> Callable:
    def select(outputs) -> torch.Tensor:
        if hasattr(outputs, "logits"):
            return outputs.logits
        return outputs.last_hidden_state

    return select


@torch.inference_mode()
def run_on_token_ids(
    model: torch.nn.Module,
    token_ids: Sequence[np.ndarray],
    pad_token_id: int,
    batch_size: int = 32,
    max_tokens: int | None = None,
    select: Callable | None = None,
    device: str | torch.device | None = None,
) -> list[np.ndarray]:
    """Run ``model`` on token-id arrays (with special tokens), bucketed by length.

    Returns, in input order, the selected per-token output (default: ``logits`` or
    ``last_hidden_state``) of each input with its padding removed, as float32 numpy arrays.
    """
    select = select or _default_output(model)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    results: list[np.ndarray | None] = [None] * len(token_ids)
    for batch in length_batches([len(ids) for ids in token_ids], batch_size, max_tokens):
        longest = max(len(token_ids[i]) for i in batch)
        input_ids = torch.full((len(batch), longest), pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, index in enumerate(batch):
            ids = torch.as_tensor(np.asarray(token_ids[index]), dtype=torch.long)
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        output = select(model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)))
        output = output.float().cpu().numpy()
        for row, index in enumerate(batch):
            results[index] = output[row, : len(token_ids[index])]
    return results  # type: ignore[return-value]


def per_nucleotide_outputs(
    model: torch.nn.Module,
    tokenizer: NucleotideTokenizer,
    sequences: Sequence[str],
    window_size: int | None = None,
    stride: int | None = None,
    batch_size: int = 32,
    max_tokens: int | None = None,
    select: Callable | None = None,
    device: str | torch.device | None = None,
) -> list[np.ndarray]:
    """Per-nucleotide outputs ``(length, ...)`` for sequences of any length.

    Sequences longer than ``window_size`` nucleotides (default: the model's
    ``max_position_embeddings - 2``) are cut into windows overlapping by ``window_size - stride``
    (default stride: half a window) and stitched with
    :func:`~txformers.tokenizers.tokenization_nucleotide.stitch_windows`. All windows of all
    sequences are batched together by length. Whitespace in a sequence is ignored and invalid
    characters raise :class:`~txformers.InvalidNucleotideError` naming the sequence.
    """
    if isinstance(sequences, str):
        raise TypeError("pass a list of sequences, not a single string")
    tokenizer.validate(list(sequences))
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", tokenizer.model_max_length) - 2
    window_size = min(window_size or limit, limit)
    stride = stride or max(1, window_size // 2)
    windows: list[np.ndarray] = []
    plan: list[tuple[int, list[tuple[int, int]]]] = []
    for sequence in sequences:
        ids = tokenizer.encode_ids(sequence, add_special_tokens=False)
        spans = window_spans(len(ids), window_size, stride)
        plan.append((len(windows), spans))
        for start, end in spans:
            windows.append(np.concatenate(([tokenizer.cls_token_id], ids[start:end], [tokenizer.sep_token_id])))
    outputs = run_on_token_ids(model, windows, tokenizer.pad_token_id, batch_size, max_tokens, select, device)
    results = []
    for first, spans in plan:
        per_window = [outputs[first + k][1:-1] for k in range(len(spans))]
        length = spans[-1][1]
        results.append(per_window[0] if len(spans) == 1 else stitch_windows(per_window, spans, length))
    return results
