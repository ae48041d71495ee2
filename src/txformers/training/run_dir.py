# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Training output folders: one run per folder, resumable only by the same run, checkpoints written whole.

Every recipe calls :func:`check_run_dir` before its work and :func:`start_run_dir` once it may write:

* A folder that holds files is refused unless ``--overwrite`` (a new run; the old run's ``checkpoint-*`` and
  ``metrics.jsonl`` are removed, its final outputs stay until the new ones replace them atomically) or
  ``--resume`` (the same run, continued).
* ``run.json`` records what the run is: the recipe, its options (less those that do not change the result) and
  a fingerprint of each data file (size and hashes of its first and last MiB). ``--resume`` refuses a folder
  whose ``run.json`` differs, naming the fields.
* :func:`save_checkpoint` writes ``checkpoint-<step>/`` through :func:`txformers.io.atomic_folder`: a
  checkpoint folder exists only once complete, so :func:`latest_checkpoint` (what resume loads) is complete.
* :func:`trim_metrics` drops the lines of ``metrics.jsonl`` past the step a resumed run starts from, so each
  step is logged once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from ..io import UserError, atomic_folder, atomic_write_text

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT = re.compile(r"checkpoint-(\d+)")
# options that do not change what a run computes
VOLATILE = frozenset({"output_dir", "overwrite", "resume", "stop_after", "cpu", "log_every", "save_every"})
_CHUNK = 1 << 20


def file_fingerprint(path: str | Path) -> dict:
    """Size and SHA-256 of the first and last MiB of a file (or of every file in a folder)."""
    path = Path(path)
    if path.is_dir():
        return {"path": str(path), "files": [file_fingerprint(p) for p in sorted(path.rglob("*")) if p.is_file()]}
    if not path.exists():
        return {"path": str(path), "missing": True}
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(_CHUNK))
        if size > _CHUNK:
            handle.seek(max(_CHUNK, size - _CHUNK))
            digest.update(handle.read(_CHUNK))
    return {"path": str(path), "size": size, "sha256_ends": digest.hexdigest()}


def run_identity(recipe: str, args: argparse.Namespace | dict, data: Iterable[str | Path] = ()) -> dict:
    """What makes a run this run: the recipe, its result-changing options and its data files."""
    options = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    options = {key: value for key, value in sorted(options.items()) if key not in VOLATILE}
    options = json.loads(json.dumps(options, default=str))
    return {"recipe": recipe, "options": options, "data": [file_fingerprint(p) for p in data]}


def _differences(saved: dict, identity: dict) -> list[str]:
    names = []
    if saved.get("recipe") != identity["recipe"]:
        names.append(f"recipe ({saved.get('recipe')} vs {identity['recipe']})")
    old, new = saved.get("options", {}), identity["options"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            names.append(f"--{key.replace('_', '-')} ({old.get(key)!r} vs {new.get(key)!r})")
    if saved.get("data") != identity["data"]:
        names.append("the data files (contents or paths differ)")
    return names


def check_run_dir(output_dir: str | Path, identity: dict, overwrite: bool = False, resume: bool = False) -> str:
    """Refuse an output folder this run may not use, before any work. Returns ``"new"`` or ``"resume"``.

    Raises :class:`~txformers.io.UserError` for a file, a non-empty folder without ``overwrite`` / ``resume``,
    both flags, or a ``resume`` of a folder that holds another run (naming what differs).
    """
    output_dir = Path(output_dir)
    if overwrite and resume:
        raise UserError("--overwrite starts a new run and --resume continues one: pass only one")
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output-dir {output_dir} is a file; give a folder")
    if output_dir.exists() and not os.access(output_dir, os.W_OK | os.X_OK):
        raise UserError(f"--output-dir {output_dir} is not writable")
    parent = next((p for p in [output_dir, *output_dir.parents] if p.exists()), Path("."))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot create --output-dir {output_dir}: {parent} is not writable")
    has_files = output_dir.is_dir() and any(output_dir.iterdir())
    if not has_files:
        return "new"
    if resume:
        run_file = output_dir / RUN_FILE
        if not run_file.is_file():
            raise UserError(f"--resume: {output_dir} has no {RUN_FILE}, so it is not a run of this recipe to continue")
        try:
            saved = json.loads(run_file.read_text())
        except (OSError, ValueError) as error:
            raise UserError(f"--resume: {run_file} is unreadable ({error})") from None
        differences = _differences(saved, identity)
        if differences:
            raise UserError(
                f"--resume: {output_dir} holds another run; it differs in " + ", ".join(differences)
                + ". Use the same options and data, or another --output-dir"
            )  # fmt: skip
        return "resume"
    if not overwrite:
        raise UserError(
            f"--output-dir {output_dir} already holds files; pass --resume to continue that run, --overwrite to "
            "start a new one there, or choose another --output-dir"
        )
    return "new"


def start_run_dir(output_dir: str | Path, identity: dict, mode: str) -> Path:
    """Create the folder and, for a new run, clear the old run's state and write ``run.json`` (main process)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if mode == "new":
        for path in output_dir.iterdir():
            if CHECKPOINT.fullmatch(path.name) and path.is_dir():
                shutil.rmtree(path)
        (output_dir / METRICS_FILE).unlink(missing_ok=True)
        atomic_write_text(output_dir / RUN_FILE, json.dumps(identity, indent=1) + "\n")
    return output_dir


def claim_run_dir(output_dir: str | Path, identity: dict, overwrite: bool, resume: bool = False, state=None) -> str:
    """:func:`check_run_dir` in every process, then :func:`start_run_dir` by the main one (``state``: an
    accelerate ``Accelerator`` / ``PartialState``, or None for one process). Returns ``"new"`` or ``"resume"``."""
    mode = check_run_dir(output_dir, identity, overwrite=overwrite, resume=resume)
    if state is not None:
        state.wait_for_everyone()
    if state is None or state.is_main_process:
        start_run_dir(output_dir, identity, mode)
    if state is not None:
        state.wait_for_everyone()
    return mode


def data_paths(args: argparse.Namespace, *names: str) -> list[str]:
    """The data files and folders named by the options ``names`` (lists flattened, unset ones skipped)."""
    paths: list[str] = []
    for name in names:
        value = getattr(args, name, None)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item and Path(str(item)).exists():
                paths.append(str(item))
    return paths


def latest_checkpoint(output_dir: str | Path) -> tuple[Path, int] | tuple[None, int]:
    """The last complete ``checkpoint-<step>`` folder and its step, or ``(None, 0)``."""
    found = [
        (int(match.group(1)), path)
        for path in Path(output_dir).glob("checkpoint-*")
        if (match := CHECKPOINT.fullmatch(path.name)) and path.is_dir()
    ]
    if not found:
        return None, 0
    step, path = max(found)
    return path, step


def save_checkpoint(output_dir: str | Path, step: int, save: Callable[[Path], object]) -> Path:
    """``save(folder)`` into a temporary folder that becomes ``checkpoint-<step>`` only once complete."""
    target = Path(output_dir) / f"checkpoint-{step}"
    with atomic_folder(target) as temporary:
        save(temporary)
    return target


def save_accelerate_state(accelerator, output_dir: str | Path, step: int) -> Path:
    """``accelerator.save_state`` by every process into ``.checkpoint-<step>.partial``, renamed to
    ``checkpoint-<step>`` by the main process once all have written: a checkpoint folder is always complete."""
    output_dir = Path(output_dir)
    partial, target = output_dir / f".checkpoint-{step}.partial", output_dir / f"checkpoint-{step}"
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
    accelerator.wait_for_everyone()
    return target


def trim_metrics(output_dir: str | Path, step: int) -> None:
    """Keep only the ``metrics.jsonl`` lines of steps up to ``step`` (what a resumed run has not redone)."""
    path = Path(output_dir) / METRICS_FILE
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # a line cut by a kill
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
            kept.append(line)
    atomic_write_text(path, "".join(line + "\n" for line in kept))


def add_run_dir_arguments(parser: argparse.ArgumentParser, resume: bool = True) -> None:
    """``--overwrite`` (and ``--resume`` where the recipe can continue a run)."""
    parser.add_argument(
        "--overwrite", action="store_true", help="start a new run in a non-empty --output-dir (old checkpoints go)"
    )
    if resume:
        parser.add_argument(
            "--resume", action="store_true", help="continue the run in --output-dir from its last complete checkpoint"
        )


__all__ = [
    "add_run_dir_arguments",
    "check_run_dir",
    "claim_run_dir",
    "data_paths",
    "file_fingerprint",
    "latest_checkpoint",
    "run_identity",
    "save_accelerate_state",
    "save_checkpoint",
    "start_run_dir",
    "trim_metrics",
]
