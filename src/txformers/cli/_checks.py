# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Checks every command makes before its work (device, checkpoint weights) and on its results (finite values).

:func:`preflight` runs in :func:`txformers.cli.main` before a command's handler: ``--device cuda`` on a machine
without CUDA, and a ``--model`` folder whose ``*.safetensors`` file is truncated, malformed or holds NaN/inf
weights, are one-line :class:`~txformers.io.UserError` s naming the device or the file, before any input is read
or any model loaded. The weights are checked with the standard library and numpy only (no torch import).
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

from ..io import UserError

_DEVICE = re.compile(r"^(cpu|cuda|mps|xpu)(:\d+)?$")
_FLOAT_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}
_CHECK_BYTES = 1 << 24  # read weights in 16 MiB slices


def check_device(name: str | None) -> None:
    """Refuse a device string torch cannot use here (unknown kind, or CUDA/MPS on a machine without it)."""
    if not name:
        return
    if not _DEVICE.match(name):
        raise UserError(f"--device {name!r} is not a device (cpu, cuda, cuda:1, mps)")
    if name == "cpu":
        return
    import torch

    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise UserError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif name == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise UserError("--device mps: MPS is not available on this machine (use --device cpu)")


def check_safetensors(path: str | Path) -> None:
    """Refuse a ``.safetensors`` file that is cut short, malformed, or holds non-finite float weights, naming
    the file (and the first such tensors)."""
    import numpy as np

    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise UserError(f"{path} is truncated or not a safetensors file ({size} bytes); re-download or re-save it")
        (length,) = struct.unpack("<Q", head)
        if 8 + length > size:
            raise UserError(f"{path} is truncated: its header needs {8 + length} bytes, the file has {size}")
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, ValueError):
            raise UserError(f"{path} is corrupt: its safetensors header is not valid JSON") from None
        tensors = {key: value for key, value in header.items() if key != "__metadata__"}
        try:
            end = max((int(t["data_offsets"][1]) for t in tensors.values()), default=0)
        except (KeyError, TypeError, ValueError, IndexError):
            raise UserError(f"{path} is corrupt: its safetensors header has no valid data offsets") from None
        if 8 + length + end > size:
            raise UserError(
                f"{path} is truncated: its tensors need {8 + length + end} bytes, the file has {size}; "
                "re-download or re-save the checkpoint"
            )
        bad = []
        for key, info in tensors.items():
            dtype = info.get("dtype")
            if dtype not in _FLOAT_DTYPES and dtype != "BF16":
                continue
            start, stop = (int(x) for x in info["data_offsets"])
            item = 2 if dtype in ("F16", "BF16") else np.dtype(_FLOAT_DTYPES[dtype]).itemsize
            handle.seek(8 + length + start)
            remaining = stop - start
            while remaining > 0:
                chunk = handle.read(min(remaining, _CHECK_BYTES - _CHECK_BYTES % item))
                remaining -= len(chunk)
                if dtype == "BF16":  # exponent bits all set: inf or NaN
                    finite = (np.frombuffer(chunk, "<u2") & 0x7F80) != 0x7F80
                else:
                    finite = np.isfinite(np.frombuffer(chunk, _FLOAT_DTYPES[dtype]))
                if not finite.all():
                    bad.append(key)
                    break
        if bad:
            raise UserError(
                f"{path}: {len(bad)} weight tensor(s) hold NaN or infinite values ({', '.join(sorted(bad)[:5])}); "
                "the checkpoint is corrupt and would give NaN outputs"
            )


def check_checkpoint(folder: str | Path | None) -> None:
    """:func:`check_safetensors` on each weight file of a local checkpoint folder (Hub names are left alone)."""
    if folder is None:
        return
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.safetensors")):
        check_safetensors(path)


def checkpoint_folders(args: Any) -> list[Path]:
    """The local checkpoint folders a command will load: ``--model`` (one, or several ``NAME=DIR``),
    ``--kl-model`` with ``--kl-context``, and the defaults a command picks itself (bundled checkpoints), which
    a command names with ``set_defaults(checkpoints_of=function of args)``."""
    from ..hub import resolve_checkpoint

    chosen = getattr(args, "checkpoints_of", None)
    values: list[Any] = list(chosen(args)) if chosen is not None else []
    model = getattr(args, "model", None)
    values += model if isinstance(model, list) else [model]
    if getattr(args, "kl_context", False):
        values.append(getattr(args, "kl_model", None))
    folders = []
    for value in values:
        if not isinstance(value, str | Path) or not str(value):
            continue
        text = str(value)
        if "=" in text and not Path(text).exists():  # NAME=DIR
            text = text.split("=", 1)[1]
        folder = Path(resolve_checkpoint(text))
        if folder.is_dir() and folder not in folders:
            folders.append(folder)
    return folders


def preflight(args: Any) -> None:
    """The checks of :mod:`this module <txformers.cli._checks>` for the options a command has: the device, and
    the weights of every local checkpoint it will load (given or bundled default, see
    :func:`checkpoint_folders`)."""
    check_device(getattr(args, "device", None))
    for folder in checkpoint_folders(args):
        check_checkpoint(folder)


def check_finite(values: Any, what: str, checkpoint: str | Path | None = None) -> None:
    """Refuse to write ``values`` (array-like) holding NaN or infinite numbers: a ``UserError`` naming ``what``
    and the checkpoint that produced them."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        source = f" from {checkpoint}" if checkpoint else ""
        raise UserError(
            f"{int(bad.sum())} of {array.size} {what}{source} are NaN or infinite; nothing was written "
            "(corrupt weights, or inputs the model cannot handle)"
        )


NON_FINITE = "non_finite_score"  # the reason a batch command gives a record whose model output is NaN or infinite


def non_finite_rows(values: Any, what: str, checkpoint: str | Path | None = None, scored: Any = None) -> Any:
    """For batch commands, which pass bad records through with a reason: a boolean mask of the rows of
    ``values`` (one row per record; more columns allowed) holding NaN or infinite numbers among the ``scored``
    rows (default: all). When every scored row is such, the model itself is at fault: a ``UserError`` as in
    :func:`check_finite`, and nothing is written."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    array = array.reshape(len(array), -1)
    scored = np.ones(len(array), dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    bad = scored & ~np.isfinite(array).all(axis=1)
    if scored.any() and bad[scored].all():
        check_finite(array[scored], what, checkpoint)
    return bad
