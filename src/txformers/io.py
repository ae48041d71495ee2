# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Writing outputs safely: output-path checks, atomic writes and locks.

Every command and task that writes for the user goes through this module:

* :func:`check_outputs` / :func:`check_output_folder` refuse an output that is (or overlaps) an input, and an
  existing output unless ``overwrite``; the error is a :class:`UserError` (one clear line, exit status 2).
* :func:`atomic_write_text`, :func:`atomic_write_bytes` and :func:`atomic_path` write into a temporary file in
  the same folder and move it into place with ``os.replace``; :func:`atomic_folder` does the same for a whole
  folder (a checkpoint, a report). A write that fails or is killed leaves the previous file as it was.
* :func:`output_lock` creates ``<output>.lock`` exclusively, so two processes never write the same output;
  within :func:`command_outputs` (every ``txformers`` command) the output checks take these locks themselves.

Example:

```python
>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> with output_lock(folder / "table.csv"):
...     _ = atomic_write_text(folder / "table.csv", "a,b\\n1,2\\n")
>>> (folder / "table.csv").read_text()
'a,b\\n1,2\\n'
>>> with atomic_path(folder / "values.npy") as temporary:  # for libraries that write by path
...     import numpy as np
...     np.save(temporary, np.arange(3))
>>> sorted(path.name for path in folder.iterdir())
['table.csv', 'values.npy']

```
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


class UserError(Exception):
    """A problem with the user's input or options: the command line prints it as one clear line, exit status 2."""


class OutputLockedError(UserError):
    """Another process holds the lock of an output."""


# ---------------------------------------------------------------------------------------------- checks
def check_outputs(inputs: Iterable[str | Path], outputs: Iterable[str | Path], overwrite: bool) -> None:
    """Refuse to write over an input, or over an existing file unless ``overwrite``.

    Paths are compared after resolving links, so an output that reaches an input through a symlink or ``..``
    is refused too.
    """
    resolved_inputs = {Path(p).resolve() for p in inputs}
    for path in outputs:
        path = Path(path)
        if path.resolve() in resolved_inputs:
            raise UserError(f"output {path} is one of the inputs; choose another --out")
        check_writable(path.parent)
        _lock_for_command(path)  # within a command: no other run writes it until this one ends
        if path.exists() and not overwrite:
            raise UserError(f"{path} exists; pass --overwrite to replace it or choose another --out")


def check_writable(folder: str | Path) -> None:
    """Refuse an output place that cannot be written, before any work: ``folder`` (made later when missing)
    must be a folder, or under its nearest existing ancestor, and that must be writable."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot write to {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to {folder}: {existing} is not writable (permission denied)")


def check_output_folder(
    out: str | Path, inputs: Iterable[str | Path], overwrite: bool, option: str = "--out", what: str = "files"
) -> None:
    """Refuse an output folder that is a file, exists without ``overwrite``, or is, contains or lies inside an
    input folder. ``option`` and ``what`` (what ``--overwrite`` replaces) word the error."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{option} {out} is a file; give a folder")
    check_writable(out if out.exists() else out.parent)
    _lock_for_command(out)
    if out.exists() and not overwrite:
        raise UserError(f"{out} exists; pass --overwrite to replace its {what} or choose another {option}")
    target = out.resolve()
    for folder in inputs:
        folder = Path(folder).resolve()
        if target == folder or folder in target.parents or target in folder.parents:
            raise UserError(f"{option} {out} overlaps the input folder {folder}; choose a folder outside the inputs")


# Suffixes a command writes; `--out x.tsv` names the prefix x, any other dot is part of the prefix.
OUTPUT_SUFFIXES = frozenset({".tsv", ".bed", ".png", ".npz", ".json", ".csv", ".h5ad", ".txt", ".pdf", ".svg"})


def output_file(prefix: str | Path, suffix: str) -> Path:
    """The output ``prefix`` + ``suffix``. Unlike ``Path.with_suffix``, a dot in the prefix stays
    (``run.v1`` -> ``run.v1.tsv``, so ``run.v1`` and ``run.v2`` never collide); only an output suffix the
    user typed (``run.tsv``) is replaced."""
    prefix = Path(prefix)
    if prefix.suffix.lower() in OUTPUT_SUFFIXES:
        prefix = prefix.with_suffix("")
    return prefix.with_name(prefix.name + suffix)


# ---------------------------------------------------------------------------------------------- atomic writes
def _default_mode(directory: bool = False) -> int:
    """The permissions a plain ``open``/``mkdir`` would give (``mkstemp``/``mkdtemp`` make private ones)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same folder, same suffix); on success move it onto ``path``.

    For libraries that write by path (``DataFrame.to_csv``, ``numpy.save``, ``Figure.savefig``, ``save_file``).
    If the block raises, or the process dies, ``path`` keeps its previous content and the temporary file is
    removed (or, after a kill, left as a hidden ``.NAME.partial-*`` file).
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.partial-", suffix=path.suffix)
    os.close(descriptor)
    temporary = Path(temporary)
    try:
        yield temporary
        temporary.chmod(_default_mode())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then ``os.replace``)."""
    return atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def atomic_folder(path: str | Path, merge: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it becomes ``path``.

    For checkpoints (``save_pretrained(temporary)``) and report folders. When ``path`` exists, ``merge=False``
    replaces the whole folder (no stale file of the old one survives); ``merge=True`` moves each new file into
    it with ``os.replace`` and keeps the files the new folder does not have. If the block raises, ``path`` is
    left as it was and the temporary folder is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.partial-"))
    temporary.chmod(_default_mode(directory=True))
    try:
        yield temporary
        if not path.exists():
            temporary.rename(path)
        elif merge:
            for source in sorted(temporary.rglob("*")):
                if source.is_file():
                    target = path / source.relative_to(temporary)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(source, target)
        else:
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
            old.rmdir()
            path.rename(old)
            temporary.rename(path)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- locks
def lock_path(path: str | Path) -> Path:
    """The lock file of an output: ``<output>.lock`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _holder(lock: Path) -> tuple[int | None, str]:
    try:
        pid, _, host = lock.read_text().strip().partition(" ")
        return int(pid), host
    except (OSError, ValueError):
        return None, ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


_COMMAND: list[tuple[contextlib.ExitStack, list[Path], set[str]]] = []  # the command now running, if any


@contextlib.contextmanager
def command_outputs() -> Iterator[None]:
    """The scope of one command (``txformers.cli.main`` runs every command in one). Within it, each output that
    :func:`check_outputs` or :func:`check_output_folder` accepts is locked first (:func:`output_lock`) and
    checked once locked, and stays locked until the command ends: two runs writing the same ``--out`` at once
    can no longer both pass the checks and both report success (the second gets :class:`OutputLockedError`,
    or, after the first finished, the refusal of an existing output). Folders made for the locks are removed
    again when they stay empty."""
    with contextlib.ExitStack() as stack:
        made: list[Path] = []
        _COMMAND.append((stack, made, set()))
        try:
            yield
        finally:
            _COMMAND.pop()
            stack.close()
            for folder in reversed(made):  # deepest first
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _lock_for_command(path: Path) -> None:
    """Lock ``path`` until the running command ends (nothing outside :func:`command_outputs`)."""
    if not _COMMAND:
        return
    stack, made, held = _COMMAND[-1]
    if os.path.abspath(lock_path(path)) in held:
        return
    missing = []
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    made.extend(reversed(missing))
    stack.enter_context(output_lock(path))
    held.add(os.path.abspath(lock_path(path)))


@contextlib.contextmanager
def output_lock(path: str | Path) -> Iterator[Path]:
    """Hold ``<path>.lock`` (created exclusively, holding this process's pid) while writing ``path``.

    A second process asking for the same lock gets :class:`OutputLockedError` naming the holder's pid. A lock
    left by a process of this machine that no longer runs is taken over. The lock file is removed on exit.
    Not re-entrant, except that a command (:func:`command_outputs`) may lock again an output its checks locked.
    """
    lock = lock_path(path)
    if _COMMAND and os.path.abspath(lock) in _COMMAND[-1][2]:
        yield lock  # held by the running command until it ends
        return
    content = f"{os.getpid()} {socket.gethostname()}\n"
    for attempt in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            pid, host = _holder(lock)
            if attempt == 0 and pid is not None and host == socket.gethostname() and not _alive(pid):
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            holder = "an unknown process" if pid is None else f"process {pid}"
            if host and host != socket.gethostname():
                holder += f" on {host}"
            raise OutputLockedError(
                f"{path} is being written by another process ({holder}; lock {lock}); "
                f"wait for it to finish, or remove {lock} if that process is gone"
            ) from None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


__all__ = [
    "OutputLockedError",
    "UserError",
    "atomic_folder",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_folder",
    "check_outputs",
    "check_writable",
    "command_outputs",
    "lock_path",
    "output_file",
    "output_lock",
]
