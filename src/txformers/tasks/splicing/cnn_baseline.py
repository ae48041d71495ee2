# Copyright 2026 The txformers authors. BSD-3-Clause.
"""A small SpliceAI-style dilated residual CNN: the per-nucleotide splice-site baseline.

Input: SpliceBERT token ids (``A6 C7 G8 T9``, anything else read as N = all-zero one-hot), no
``[CLS]``/``[SEP]``. Output: per-nucleotide logits ``(batch, length, num_labels)`` (``same`` padding,
so any length works). Residual blocks as SpliceAI's (BN, ReLU, dilated conv, twice); the receptive
field is ``1 + 2 * (kernel - 1) * sum(dilations)`` nt (401 with the defaults).

Example:
    >>> import torch
    >>> model = SpliceCNN(channels=8, dilations=(1, 2))
    >>> model(torch.randint(5, 10, (2, 50))).logits.shape
    torch.Size([2, 50, 3])
    >>> model.receptive_field
    61
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Block(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.BatchNorm1d(channels),
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel, dilation=dilation, padding="same"),
            nn.BatchNorm1d(channels),
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel, dilation=dilation, padding="same"),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class _Output:
    def __init__(self, logits: torch.Tensor, loss: torch.Tensor | None):
        self.logits, self.loss = logits, loss


class SpliceCNN(nn.Module):
    """Dilated residual CNN with a per-nucleotide classifier; ``labels`` -100 are ignored."""

    def __init__(
        self,
        channels: int = 32,
        kernel: int = 11,
        dilations: tuple[int, ...] = (1, 1, 1, 1, 4, 4, 4, 4),
        num_labels: int = 3,
    ):
        super().__init__()
        self.hparams = {"channels": channels, "kernel": kernel, "dilations": list(dilations), "num_labels": num_labels}
        self.receptive_field = 1 + 2 * (kernel - 1) * sum(dilations)
        self.stem = nn.Conv1d(4, channels, 1)
        self.blocks = nn.Sequential(*[_Block(channels, kernel, d) for d in dilations])
        self.head = nn.Conv1d(channels, num_labels, 1)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None, attention_mask=None, **_) -> _Output:
        codes = input_ids.long() - 6
        x = F.one_hot(codes.clamp(0, 3), 4).float() * ((codes >= 0) & (codes <= 3)).unsqueeze(-1)
        logits = self.head(self.blocks(self.stem(x.transpose(1, 2)))).transpose(1, 2)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long(), ignore_index=-100)
        return _Output(logits, loss)


__all__ = ["SpliceCNN"]
