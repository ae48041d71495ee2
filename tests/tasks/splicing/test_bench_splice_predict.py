"""benchmarks/bench_splice_predict.py: the reproducible input sequence and the per-process wall / peak-memory probe."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from txformers.tasks.splicing.sites import read_named_sequences

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_splice_predict.py"
spec = importlib.util.spec_from_file_location("bench_splice_predict", SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_random_fallback_is_seeded_acgt(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "TEST_WINDOWS", tmp_path / "absent")
    first, source = bench.make_sequence(5000, seed=3)
    assert len(first) == 5000 and set(first) <= set("ACGT")
    assert "random" in source
    assert bench.make_sequence(5000, seed=3)[0] == first
    assert bench.make_sequence(5000, seed=4)[0] != first


def test_windows_are_shuffled_concatenated_and_repeated_past_their_total(monkeypatch, tmp_path):
    windows = {"Donor_Test_Positive.txt": ["ACGTAC" * 3, "GGGGTT" * 3], "Acceptor_Test_Negative.txt": ["ttagca" * 3]}
    for name, rows in windows.items():
        (tmp_path / name).write_text("".join(f"> seq {i}\n{row}\n" for i, row in enumerate(rows)))
    monkeypatch.setattr(bench, "TEST_WINDOWS", tmp_path)
    sequence, source = bench.make_sequence(100, seed=0)
    assert len(sequence) == 100 and "3 EnsembleSplice" in source
    pieces = sorted(row.upper() for rows in windows.values() for row in rows)
    assert sorted(sequence[i : i + 18] for i in (0, 18, 36)) == pieces  # each window once before any repeats
    assert bench.make_sequence(100, seed=0)[0] == sequence


def test_fasta_round_trips_through_the_cli_reader(tmp_path):
    sequence = bench.make_sequence(1000, seed=0)[0]
    path = bench.write_fasta(tmp_path / "x.fa", sequence)
    assert read_named_sequences(path) == [("bench", sequence)]


def test_run_child_reports_that_process_peak_memory(tmp_path):
    # from a small parent, as the benchmark runs (a child's ru_maxrss starts at its parent's size at the fork)
    probe = f"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("b", {str(SCRIPT)!r})
b = importlib.util.module_from_spec(spec)
spec.loader.exec_module(b)
small = b.run_child([sys.executable, "-c", "print('ok')"], {{}}, b.Path({str(tmp_path / "small.log")!r}))
big = b.run_child([sys.executable, "-c", "x = bytearray(300 * 2**20); x[::4096] = bytes(len(x[::4096]))"],
                  {{}}, b.Path({str(tmp_path / "big.log")!r}))
print(json.dumps([small, big]))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    small, big = json.loads(out.stdout.strip().splitlines()[-1])
    assert small["stdout"].strip() == "ok"
    assert small["peak_rss_mb"] < 200 < 300 < big["peak_rss_mb"]
    assert small["seconds"] > 0 and small["cpu_seconds"] >= 0
    with pytest.raises(RuntimeError, match="failed"):
        bench.run_child([sys.executable, "-c", "raise SystemExit(3)"], {}, tmp_path / "fail.log")
