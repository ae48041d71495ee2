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


def precision(name: str, run_device: str) -> str:
    """``float32`` or ``bfloat16``: ``name`` when not ``auto``, else ``bfloat16`` where the hardware computes
    it natively (a CUDA GPU with bf16, a CPU with AMX or AVX512-BF16), else ``float32``."""
    import torch

    if name != "auto":
        return name
    if str(run_device).startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    native = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    return "bfloat16" if str(run_device) == "cpu" and native else "float32"


# The tokenizers are used from Python too, so their errors name keyword arguments; a command says its flags.
PYTHON_SCALED_HINT = "Use mode='panel' for scaled data, or pass raw counts (e.g. layer='counts')."


def cli_words(error: BaseException | str, layer_option: str = "--layer") -> str:
    """``error``'s message with the tokenizer's Python advice for z-scored input phrased for a command whose
    AnnData layer option is ``layer_option`` (its model's mode is fixed, so only raw counts help)."""
    return str(error).replace(
        PYTHON_SCALED_HINT,
        f"Pass raw counts or log-normalised values instead (e.g. {layer_option} counts for a layer of raw counts).",
    )


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
    "cli_words",
    "device",
    "pyplot",
]
