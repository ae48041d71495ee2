"""Start-up cost of the `txformers` command: `--help` and a refused overwrite, against peers timed in the same run.

Peers: `python -m pip --version` (a command-line tool of similar size) and `python -c "import torch,
transformers"` (what every command paid before the imports were made lazy). Each command is run as a
subprocess, best of --repeats wall times.

    python benchmarks/bench_cli.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def wall(command: list[str], repeats: int, expect: int = 0) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True)
        best = min(best, time.perf_counter() - start)
        if done.returncode != expect:
            raise SystemExit(f"{command}: exit {done.returncode}, expected {expect}\n{done.stderr.decode()[-500:]}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cells"
        for suffix in (".h5ad", ".cells.csv"):  # outputs of embed and cytokine classify: both refuse
            out.with_name(out.name + suffix).write_bytes(b"already here")
        refused = [python, "-m", "txformers.cli"]
        cells = "examples/immune_cells.h5ad"
        times = {
            "txformers --help": wall([*refused, "--help"], args.repeats),
            "txformers embed (refused overwrite)": wall(
                [*refused, "embed", cells, "--out", str(out)], args.repeats, expect=2
            ),
            "txformers cytokine classify (refused overwrite)": wall(
                [*refused, "cytokine", "classify", cells, "--out", str(out)], args.repeats, expect=2
            ),
        }
    peers = {
        "python -m pip --version": wall([python, "-m", "pip", "--version"], args.repeats),
        'python -c "import torch, transformers"': wall(
            [python, "-c", "import torch, transformers; transformers.AutoModel"], args.repeats
        ),
    }
    width = max(map(len, [*times, *peers]))
    for name, seconds in {**peers, **times}.items():
        print(f"{name:<{width}}  {seconds:6.2f} s")
    for name, seconds in times.items():
        ratios = ", ".join(f"{seconds / peer:.2f}x {peer_name}" for peer_name, peer in peers.items())
        print(f"{name}: {ratios}")


if __name__ == "__main__":
    main()
