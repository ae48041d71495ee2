"""Shared helpers for the benchmarks: random but realistic nucleotide strings and timing."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SPLICEBERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "N", "A", "C", "G", "T"]


def random_sequences(n: int, min_len: int, max_len: int, seed: int = 0, rna: bool = True) -> list[str]:
    """Mixed-case DNA/RNA strings (as users pass them) with uniform random lengths."""
    rng = np.random.default_rng(seed)
    alphabet = np.array(list("ACGUacgu" if rna else "ACGTacgt"))
    lengths = rng.integers(min_len, max_len + 1, size=n)
    return ["".join(rng.choice(alphabet, size=length)) for length in lengths]


def best_of(function, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` runs (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_extra_rss_mb(function) -> float:
    """Peak resident memory above the level before ``function()`` ran (MB), sampled every 2 ms."""
    import threading

    import psutil

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            done.wait(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        function()
    finally:
        done.set()
        thread.join()
    return (max(peak[0], process.memory_info().rss) - baseline) / 2**20


def run_isolated(script: Path, args: list[str]) -> dict:
    """Run ``script args`` in a fresh process (for a clean peak-memory figure); it prints one JSON line."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
