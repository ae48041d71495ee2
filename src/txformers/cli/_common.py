# Copyright 2026 The txformers authors. BSD-3-Clause.
"""What every `txformers` command shares: the user-error type, output checks, device choice, defaults."""

from __future__ import annotations

from pathlib import Path

from ..hub import CHECKPOINTS, REPO_ROOT
DEFAULT_SPLICEBERT = CHECKPOINTS / "splicebert-small-pretrained"


class UserError(Exception):
    """A problem with the user's input or options: printed as one clear line, exit status 2."""


def check_outputs(inputs: list[Path], outputs: list[Path], overwrite: bool) -> None:
    """Refuse to write over an input, or over an existing file unless ``overwrite``."""
    resolved_inputs = {Path(p).resolve() for p in inputs}
    for path in outputs:
        path = Path(path)
        if path.resolve() in resolved_inputs:
            raise UserError(f"output {path} is one of the inputs; choose another --out")
        if path.exists() and not overwrite:
            raise UserError(f"{path} exists; pass --overwrite to replace it or choose another --out")


def device(name: str | None) -> str:
    """The torch device to run on: ``name`` when given, else cuda when available, else cpu."""
    import torch

    if name:
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (commands write PNG files; no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
