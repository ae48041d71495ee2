# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Masked-nucleotide modelling with SpliceBERT: BERT masking restricted to nucleotides, and the held-out
evaluation (loss, accuracy, balanced accuracy) that ``txformers.training.pretrain_mlm`` reports after
training and ``txformers embed`` reports per sequence.

Example:

```python
>>> import torch
>>> from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<...>
>>> config = SpliceBertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=4, intermediate_size=64)
>>> scores = evaluate_mlm(SpliceBertForMaskedLM(config), NucleotideTokenizer(), ["ACGT" * 50], seed=0)
>>> sorted(scores)
['accuracy', 'balanced_accuracy', 'loss', 'masked_tokens']
```
"""

from __future__ import annotations

import numpy as np
import torch

from ...models.splicebert import SpliceBertForMaskedLM
from ...tokenizers.tokenization_nucleotide import NucleotideTokenizer


def mask_tokens(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    tokenizer: NucleotideTokenizer,
    generator: torch.Generator,
    mlm_probability: float = 0.15,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking restricted to nucleotides: returns (masked inputs, labels with -100 elsewhere).

    Of the selected positions 80 % become ``[MASK]``, 10 % a random nucleotide (A/C/G/T, never a
    special token) and 10 % are left unchanged. Special tokens and padding are never selected.
    """
    nucleotide_ids = torch.tensor([tokenizer.convert_tokens_to_ids(b) for b in "ACGT"])
    maskable = (input_ids >= tokenizer.convert_tokens_to_ids("N")) & attention_mask.bool()
    selected = (torch.rand(input_ids.shape, generator=generator) < mlm_probability) & maskable
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))
    draw = torch.rand(input_ids.shape, generator=generator)
    masked = input_ids.clone()
    masked[selected & (draw < 0.8)] = tokenizer.mask_token_id
    to_random = selected & (draw >= 0.8) & (draw < 0.9)
    random_ids = nucleotide_ids[torch.randint(0, 4, input_ids.shape, generator=generator)]
    masked[to_random] = random_ids[to_random]
    return masked, labels


@torch.inference_mode()
def evaluate_mlm(
    model: SpliceBertForMaskedLM,
    tokenizer: NucleotideTokenizer,
    sequences: list[str],
    batch_size: int = 16,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Masked-nucleotide loss, accuracy and balanced accuracy (mean recall over A/C/G/T) on held-out
    sequences, masking as in training with a fixed seed (SpliceBERT reports balanced accuracy)."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    nucleotide_ids = [tokenizer.convert_tokens_to_ids(b) for b in "ACGT"]
    confusion = np.zeros((4, 4), dtype=np.int64)
    total_loss, total_tokens = 0.0, 0
    for start in range(0, len(sequences), batch_size):
        batch = tokenizer(sequences[start : start + batch_size], padding=True, truncation=True, return_tensors="pt")
        inputs, labels = mask_tokens(batch["input_ids"], batch["attention_mask"], tokenizer, generator)
        labels[~torch.isin(labels, torch.tensor(nucleotide_ids))] = -100  # score A/C/G/T (not N)
        logits = model(input_ids=inputs.to(device), attention_mask=batch["attention_mask"].to(device)).logits.cpu()
        scored = labels != -100
        if not scored.any():
            continue
        acgt_logits = logits[scored][:, nucleotide_ids]
        truth = torch.tensor([nucleotide_ids.index(i) for i in labels[scored].tolist()])
        total_loss += torch.nn.functional.cross_entropy(logits[scored], labels[scored], reduction="sum").item()
        total_tokens += int(scored.sum())
        np.add.at(confusion, (truth.numpy(), acgt_logits.argmax(-1).numpy()), 1)
    recall = confusion.diagonal() / np.maximum(confusion.sum(1), 1)
    return {
        "masked_tokens": total_tokens,
        "loss": total_loss / max(total_tokens, 1),
        "accuracy": float(confusion.diagonal().sum() / max(confusion.sum(), 1)),
        "balanced_accuracy": float(recall[confusion.sum(1) > 0].mean()) if confusion.sum() else float("nan"),
    }


__all__ = ["evaluate_mlm", "mask_tokens"]
