"""txformers.io: output checks, atomic writes and locks."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from txformers.io import (
    OutputLockedError,
    UserError,
    atomic_folder,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    check_output_folder,
    check_outputs,
    lock_path,
    output_lock,
)


def _names(folder):
    return sorted(path.name for path in folder.iterdir())


# ---------------------------------------------------------------------------------------------- checks
def test_an_output_equal_to_an_input_is_refused(tmp_path):
    data = tmp_path / "cells.h5ad"
    data.write_text("input")
    with pytest.raises(UserError, match="is one of the inputs"):
        check_outputs([data], [data], overwrite=True)
    with pytest.raises(UserError, match="is one of the inputs"):  # the same file by another spelling
        check_outputs([data], [tmp_path / "sub" / ".." / "cells.h5ad"], overwrite=True)
    link = tmp_path / "link.h5ad"
    link.symlink_to(data)
    with pytest.raises(UserError, match="is one of the inputs"):  # ... or through a link
        check_outputs([data], [link], overwrite=True)
    assert data.read_text() == "input"


def test_an_existing_output_needs_overwrite(tmp_path):
    out = tmp_path / "out.csv"
    check_outputs([], [out], overwrite=False)  # new: fine
    out.write_text("old")
    with pytest.raises(UserError, match="--overwrite"):
        check_outputs([], [out], overwrite=False)
    check_outputs([], [out], overwrite=True)


def test_output_folder_may_not_overlap_an_input(tmp_path):
    inputs = tmp_path / "inputs"
    (inputs / "deeper").mkdir(parents=True)
    for out in (inputs, inputs / "report", tmp_path):
        with pytest.raises(UserError, match="overlaps the input folder"):
            check_output_folder(out, [inputs / "deeper" if out == tmp_path else inputs], overwrite=True)
    check_output_folder(tmp_path / "report", [inputs], overwrite=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        check_output_folder(tmp_path / "file", [inputs], overwrite=True)
    with pytest.raises(UserError, match="--overwrite to replace its report"):
        check_output_folder(inputs / "deeper", [], overwrite=False, what="report")


# ---------------------------------------------------------------------------------------------- atomic writes
def test_atomic_writes_replace_the_file_and_leave_nothing_else(tmp_path):
    path = tmp_path / "table.tsv"
    atomic_write_text(path, "one\n")
    atomic_write_text(path, "two\n")
    assert path.read_text() == "two\n"
    atomic_write_bytes(tmp_path / "blob.bin", b"\x00\x01")
    assert (tmp_path / "blob.bin").read_bytes() == b"\x00\x01"
    with atomic_path(tmp_path / "values.npy") as temporary:
        assert temporary.parent == tmp_path and temporary.suffix == ".npy"
        np.save(temporary, np.arange(4))
    np.testing.assert_array_equal(np.load(tmp_path / "values.npy"), np.arange(4))
    assert _names(tmp_path) == ["blob.bin", "table.tsv", "values.npy"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # the usual permissions, not mkstemp's private ones


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as temporary:
            temporary.write_text("half of the new")
            raise RuntimeError("the writer failed")
    assert path.read_text() == "previous" and _names(tmp_path) == ["results.json"]
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "text where bytes belong")  # fails inside the write
    assert path.read_text() == "previous" and _names(tmp_path) == ["results.json"]


def test_a_killed_write_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("previous")
    script = textwrap.dedent(f"""
        import os, signal
        from txformers.io import atomic_path
        with atomic_path({str(path)!r}) as temporary:
            with open(temporary, "w") as handle:
                handle.write("half of the new")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, stdin=subprocess.DEVNULL)
    assert done.returncode == -signal.SIGKILL
    assert path.read_text() == "previous"
    leftovers = [name for name in _names(tmp_path) if name != "results.json"]
    assert all(name.startswith(".results.json.partial-") for name in leftovers)  # hidden, never the file itself


def test_atomic_folder_replaces_or_merges(tmp_path):
    out = tmp_path / "model"
    with atomic_folder(out) as temporary:
        (temporary / "config.json").write_text("{}")
        (temporary / "old.bin").write_text("old")
    assert _names(out) == ["config.json", "old.bin"]
    with atomic_folder(out) as temporary:  # replace: no stale file survives
        (temporary / "config.json").write_text('{"new": 1}')
    assert _names(out) == ["config.json"] and (out / "config.json").read_text() == '{"new": 1}'
    (out / "keep.txt").write_text("keep")
    with atomic_folder(out, merge=True) as temporary:  # merge: new files in, others kept
        (temporary / "figures").mkdir()
        (temporary / "figures" / "a.png").write_bytes(b"png")
    assert _names(out) == ["config.json", "figures", "keep.txt"]
    with pytest.raises(RuntimeError):
        with atomic_folder(out) as temporary:
            (temporary / "config.json").write_text("broken")
            raise RuntimeError("save_pretrained failed")
    assert (out / "config.json").read_text() == '{"new": 1}'
    assert _names(tmp_path) == ["model"]


# ---------------------------------------------------------------------------------------------- locks
def test_two_lock_holders_conflict(tmp_path):
    out = tmp_path / "report"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from txformers.io import output_lock\nwith output_lock({str(out)!r}):\n input()"],
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):
            if lock_path(out).is_file() and lock_path(out).read_text().strip():
                break
            holder.poll()
            assert holder.returncode is None
            time.sleep(0.05)
        with pytest.raises(OutputLockedError, match=f"process {holder.pid}") as error:
            with output_lock(out):
                pass
        assert isinstance(error.value, UserError) and str(lock_path(out)) in str(error.value)
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0 and not lock_path(out).exists()
    with output_lock(out) as lock:  # free again
        assert lock == tmp_path / "report.lock" and lock.read_text().split()[0] == str(os.getpid())
        with pytest.raises(OutputLockedError):  # not re-entrant, even in one process
            with output_lock(out):
                pass
    assert _names(tmp_path) == []


def test_a_stale_lock_is_taken_over(tmp_path):
    out = tmp_path / "report"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock_path(out).write_text(f"{dead.stdout.strip()} {socket.gethostname()}\n")
    with output_lock(out):
        assert lock_path(out).read_text().split()[0] == str(os.getpid())
    assert not lock_path(out).exists()


def test_output_file_keeps_the_dots_of_a_prefix():
    from pathlib import Path

    from txformers.io import output_file

    assert output_file("runs/run.v1", ".tsv") == Path("runs/run.v1.tsv")
    assert output_file("runs/run.v1", ".tsv") != output_file("runs/run.v2", ".tsv")
    assert output_file("runs/result.tsv", ".bed") == Path("runs/result.bed")  # a typed output suffix is replaced
    assert output_file("sample.2024", ".npz") == Path("sample.2024.npz")


def test_a_command_locks_the_outputs_its_checks_accept(tmp_path):
    """Issue 17 item 5: within a command the output checks lock each output until the command ends, check it
    once locked, let the command lock it again, and remove the folders they made when they stay empty."""
    from txformers.io import command_outputs

    out = tmp_path / "new" / "deeper" / "table.tsv"
    with command_outputs():
        check_outputs([], [out], overwrite=False)
        assert lock_path(out).read_text().split()[0] == str(os.getpid())
        check_outputs([], [out], overwrite=False)  # checked again by the same command: no conflict
        with output_lock(out):  # the command's own lock around its write
            atomic_write_text(out, "x\n")
        assert lock_path(out).exists()  # held until the command ends
    assert not lock_path(out).exists() and out.read_text() == "x\n"
    with command_outputs():
        with pytest.raises(UserError, match="exists; pass --overwrite"):
            check_outputs([], [tmp_path / "elsewhere" / "a.tsv", out], overwrite=False)
    assert _names(tmp_path) == ["new"] and _names(out.parent) == ["table.tsv"]  # 'elsewhere' made, then removed
    check_outputs([], [tmp_path / "free.tsv"], overwrite=False)  # outside a command: no lock
    assert not lock_path(tmp_path / "free.tsv").exists()


def test_a_second_command_writing_the_same_output_is_refused(tmp_path, capsys):
    """Two runs writing one --out at once: the second stops with an error naming the lock, before any work."""
    from txformers.cli import main

    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\nACGTACGTAC\n")
    out = tmp_path / "x"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from txformers.io import output_lock\nwith output_lock({str(out) + '.npz'!r}):\n input()",
        ],
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):
            if lock_path(str(out) + ".npz").is_file() and lock_path(str(out) + ".npz").read_text().strip():
                break
            time.sleep(0.05)
        assert main(["embed", str(fasta), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"being written by another process (process {holder.pid}" in err and "x.npz.lock" in err
    finally:
        holder.communicate("\n", timeout=60)
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "x.tsv.lock").exists()
