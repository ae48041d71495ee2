# Copyright 2026 The txformers authors. BSD-3-Clause.
"""What every `txformers` command shares: the user-error type, output checks, device choice, defaults.

The user-error type and the output checks live in :mod:`txformers.io`; they are re-exported here for the
command modules.
"""

from __future__ import annotations

from ..hub import CHECKPOINTS, REPO_ROOT, resolve_checkpoint
from ..io import UserError, check_output_folder, check_outputs

DEFAULT_SPLICEBERT = resolve_checkpoint("splicebert-small-pretrained")


def device(name: str | None) -> str:
    """The torch device to run on: ``name`` when given, else cuda when available, else cpu."""
    import torch

    if name:
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (commands write PNG files; no display needed)."""
    from ..plotting import pyplot

    return pyplot()


__all__ = [
    "CHECKPOINTS",
    "DEFAULT_SPLICEBERT",
    "REPO_ROOT",
    "UserError",
    "check_output_folder",
    "check_outputs",
    "device",
    "pyplot",
]
