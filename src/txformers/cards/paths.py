# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Absolute local paths in results files and cards: find them, and show them repository-relative.

A card never names a folder of the machine it was rendered on: ``/work/...`` or ``/tmp/...`` in a results
file is shown as :func:`portable_path` writes it. `txformers push` uses the same functions on the JSON files
of a checkpoint.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from ..hub import REPO_ROOT

# Top-level folders whose absolute paths are local to one machine (plus whatever this machine has).
_LOCAL_ROOTS = set(
    "work tmp home root Users mnt media scratch data var private opt srv nfs gpfs lustre workspace content "
    "kaggle usr Volumes".split()
)
try:
    _LOCAL_ROOTS |= {name for name in os.listdir("/") if name not in ("dev", "proc", "sys")}
except OSError:  # pragma: no cover
    pass
# An absolute path: "/" not preceded by a path or word character (so SMILES bonds like C/C=C/C and
# URLs do not match), then path components.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/\\-])/[\w.+@-]+(?:/[\w.+@-]*)*")


def find_local_paths(text: str) -> list[str]:
    """The absolute local paths in ``text`` (``/work/x``, ``/tmp/run``; not URLs, not SMILES bonds).

    ```python
    >>> find_local_paths("--data /work/shared/data/x.tsv --out runs/a, smiles C/C=C/C, https://hf.co/x")
    ['/work/shared/data/x.tsv']
    ```
    """
    return [match for match in _ABSOLUTE_PATH.findall(text) if match.split("/")[1] in _LOCAL_ROOTS]


def portable_path(path: str) -> str:
    """``path`` as the project would write it: relative to the repository root (``../shared/data/...``
    for the data next to it, also when another machine recorded it: ``/elsewhere/shared/data/x`` ->
    ``../shared/data/x``), relative to the temporary folder for scratch runs (``/tmp/runs/a`` ->
    ``runs/a``), else its last component. Relative paths are returned unchanged.

    ```python
    >>> portable_path(str(REPO_ROOT / "checkpoints" / "x")), portable_path("/tmp/runs/mt/final")
    ('checkpoints/x', 'runs/mt/final')
    ```
    """
    pure = PurePosixPath(path)
    if not pure.is_absolute():
        return path
    for base, prefix in ((REPO_ROOT, ""), (REPO_ROOT.parent, "../")):
        try:
            relative = pure.relative_to(PurePosixPath(base.as_posix())).as_posix()
        except ValueError:
            continue
        return prefix + relative if relative != "." else (prefix.rstrip("/") or ".")
    # the shared data as another machine laid it out (``/elsewhere/shared/data/x`` -> ``../shared/data/x``)
    parts = pure.parts
    for i in range(1, len(parts) - 1):
        if parts[i : i + 2] == ("shared", "data"):
            return "../" + PurePosixPath(*parts[i:]).as_posix()
    for scratch in {tempfile.gettempdir(), "/tmp"}:
        try:
            return pure.relative_to(scratch).as_posix()
        except ValueError:
            continue
    return pure.name or path


def portable_text(text: str) -> str:
    """``text`` with every absolute local path replaced by :func:`portable_path`."""
    return _ABSOLUTE_PATH.sub(
        lambda m: portable_path(m.group(0)) if m.group(0).split("/")[1] in _LOCAL_ROOTS else m.group(0), text
    )


def portable(value: Any) -> Any:
    """A JSON value with :func:`portable_text` applied to every string (keys included)."""
    if isinstance(value, str):
        return portable_text(value)
    if isinstance(value, list):
        return [portable(v) for v in value]
    if isinstance(value, dict):
        return {portable_text(k): portable(v) for k, v in value.items()}
    return value


def scan_local_paths(value: Any, pointer: str = "") -> list[tuple[str, str]]:
    """``(JSON pointer, path)`` for every absolute local path in a JSON value.

    ```python
    >>> scan_local_paths({"args": {"data_dir": "/work/shared/data/x", "lr": 0.1}})
    [('/args/data_dir', '/work/shared/data/x')]
    ```
    """
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        found += [(pointer or "/", path) for path in find_local_paths(value)]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += scan_local_paths(item, f"{pointer}/{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            found += [(f"{pointer}/{escaped}", path) for path in find_local_paths(str(key))]
            found += scan_local_paths(item, f"{pointer}/{escaped}")
    return found


def display_path(path: str | Path) -> str:
    """How a card names a file: repository-relative when it can be."""
    path = Path(path)
    return portable_path(str(path.resolve())) if path.is_absolute() or path.exists() else path.as_posix()
