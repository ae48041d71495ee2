"""`txformers splice predict` on a 1 Mb sequence: per-nucleotide model vs the window classifier vs SpliceAI.

    nice -n 10 python benchmarks/bench_splice_predict.py [--length 1000000] [--short-length 100000]
        [--window-length 100000] [--spliceai-length 20000] [--json results/splicebert/splice_predict_1mb.json]

One reproducible sequence (concatenated EnsembleSplice human Test windows, shuffled with a fixed seed, from
``../shared/data/splice/ensemblesplice_600nt/homo_sapiens/Test`` when present, else seeded random ACGT); every
piece below is a prefix of it, written as a one-record FASTA in a temporary folder. Each run is a fresh process
with ``OMP_NUM_THREADS`` = ``--threads`` (default 2) on both sides; its peak memory is that process's max RSS
(``os.wait4``):

* (a) ``txformers splice predict`` with the per-nucleotide model (``checkpoints/splicebert-small-splice-sites-nt``)
  on ``--length`` nt and on ``--short-length`` nt (the memory-flatness check: peak RSS 1 Mb / 100 kb), at
  ``--precision`` (default ``auto``: bfloat16 on a CPU with AMX or AVX512-BF16), and again in float32 on
  ``--short-length`` nt (what the precision buys);
* (b) the same command with today's window classifier (``checkpoints/splicebert-small-splice-sites``, one
  120-nt window per GT/AG candidate) on ``--window-length`` nt (1 Mb took 6 min 24 s when the issue was filed);
* (c) SpliceAI 1.3.1 from the peers venv (``--peers-venv``; benchmark use only, its weights are CC BY-NC) on
  ``--spliceai-length`` nt: the piece padded with 5,000 N on each side (as SpliceAI pads sequence ends), one
  forward pass per model, mean of its 5 models. Its time covers scoring only: the models are loaded and run once
  on the same input first (Keras traces a graph per input shape, ~4 s per model here, which would otherwise
  dominate a short piece); 100 kb by default because the padding adds 10 kb of input to any piece (1.5x at 20 kb).

The CLI figures are end to end (process start to exit: imports, model load, FASTA, TSV/BED/plot); "net" also
subtracts the same command's wall time on a ``--startup-length`` nt piece (the fixed cost), so ratios at
different lengths compare scoring throughput. "Per CPU second" divides by the process's CPU time (user + sys,
net of the startup run; SpliceAI: its scoring only) instead of wall time: with the same thread count on every side
it drifts less with machine load. Absolute numbers drift with machine load; ratios are the result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import peak_rss_mb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEST_WINDOWS = ROOT.parent / "shared" / "data" / "splice" / "ensemblesplice_600nt" / "homo_sapiens" / "Test"
TODAY_NT_PER_S = 1_000_000 / 384  # 6 min 24 s per Mb with the window classifier, as filed in issue 13

SPLICEAI_CHILD = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
threads = int(sys.argv[2])
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
from keras.models import load_model
from pkg_resources import resource_filename
from spliceai.utils import one_hot_encode
sequence = "".join(line.strip() for line in open(sys.argv[1]) if not line.startswith(">"))
started = time.perf_counter()
models = [load_model(resource_filename("spliceai", f"models/spliceai{i}.h5"), compile=False) for i in range(1, 6)]
x = one_hot_encode("N" * 5000 + sequence + "N" * 5000)[None]
for model in models:
    model.predict(x, verbose=0)  # graph tracing for this input shape (seconds per model), not timed
load_seconds = time.perf_counter() - started
started, cpu = time.perf_counter(), time.process_time()
probabilities = np.mean([model.predict(x, verbose=0) for model in models], axis=0)[0]
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
assert probabilities.shape == (len(sequence), 3), probabilities.shape
print(json.dumps({"nt": len(sequence), "seconds": seconds, "cpu_seconds": cpu, "load_seconds": load_seconds,
                  "calls": int(((probabilities[:, 1:] > 0.5).any(1)).sum())}))
"""


def make_sequence(length: int, seed: int = 0) -> tuple[str, str]:
    """``length`` nt of concatenated human Test windows (shuffled, seeded), or seeded random ACGT."""
    rng = np.random.default_rng(seed)
    files = sorted(TEST_WINDOWS.glob("*.txt")) if TEST_WINDOWS.is_dir() else []
    windows = [line.strip() for f in files for line in f.open() if line.strip() and not line.startswith(">")]
    if windows:
        order = rng.permutation(len(windows))
        source = f"{len(windows)} EnsembleSplice human Test windows, shuffled (seed {seed}), concatenated"
        text = "".join(windows[k] for k in order)
        while len(text) < length:  # more than the windows hold: repeat them in a second order
            text += "".join(windows[k] for k in rng.permutation(len(windows)))
        return text[:length].upper(), source
    return "".join(rng.choice(list("ACGT"), size=length)), f"random ACGT (seed {seed}; no {TEST_WINDOWS})"


def write_fasta(path: Path, sequence: str) -> Path:
    path.write_text(">bench\n" + "\n".join(sequence[i : i + 80] for i in range(0, len(sequence), 80)) + "\n")
    return path


def run_child(command: list[str], env: dict, log: Path) -> dict:
    """Run ``command`` to its end; wall seconds, CPU seconds, peak RSS (MB) of that process, and its stdout.

    On Linux a child's ``ru_maxrss`` starts from its parent's resident size at the fork, so the figure is
    max(parent at the fork, the child's own peak): this script stays small (numpy and the sequence only,
    its own peak is printed) so that the children's figures are their own.
    """
    started = time.perf_counter()
    with log.open("w") as stdout:
        process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{text[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime  # CPU seconds of the process: with wall time, how contended the run was
    load = round(os.getloadavg()[0], 2)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "load_1min_after": load,
        "stdout": text,
    }


def splice_predict(fasta: Path, model: str, out: Path, env: dict, precision: str) -> dict:
    command = [sys.executable, "-m", "txformers.cli", "splice", "predict", str(fasta), "--model", model]
    command += ["--out", str(out), "--device", "cpu", "--precision", precision, "--overwrite"]
    result = run_child(command, env, out.with_suffix(".log"))
    summary = next((line for line in result.pop("stdout").splitlines() if " GT/AG candidates" in line), "")
    with open(out.with_suffix(".tsv")) as table:  # "(120-nt windows, bfloat16)": the precision auto chose
        header = table.readline()
    return {**result, "summary": summary.strip(), "precision": header.rsplit(", ", 1)[-1].rstrip(")\n")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=1_000_000, help="per-nucleotide model run (nt)")
    parser.add_argument("--short-length", type=int, default=100_000, help="same model, memory-flatness run (nt)")
    parser.add_argument("--window-length", type=int, default=100_000, help="window classifier run (nt)")
    parser.add_argument("--spliceai-length", type=int, default=100_000, help="SpliceAI run (nt; 0: skip)")
    parser.add_argument("--startup-length", type=int, default=2_000, help="fixed-cost run of each CLI model (nt)")
    parser.add_argument("--nt-model", default=str(ROOT / "checkpoints" / "splicebert-small-splice-sites-nt"))
    parser.add_argument("--window-model", default=str(ROOT / "checkpoints" / "splicebert-small-splice-sites"))
    parser.add_argument("--peers-venv", default=os.environ.get("PEERS_VENV", "/work/peers-venv"))
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS / TF intra-op threads, both sides")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="keep inputs and outputs here (default: a temp folder)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument(
        "--precision", default="auto", help="splice predict --precision of the main runs (default: auto)"
    )
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_splice_predict_"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    env.update(CUDA_VISIBLE_DEVICES="", TQDM_DISABLE="1")
    lengths = {args.length, args.short_length, args.window_length, args.spliceai_length, args.startup_length}
    sequence, source = make_sequence(max(lengths), args.seed)
    fastas = {n: write_fasta(work / f"seq_{n}.fa", sequence[:n]) for n in sorted(lengths - {0})}
    load = os.getloadavg()
    print(f"sequence: {source}; GC {np.mean([c in 'GC' for c in sequence[: args.length]]):.3f}; inputs in {work}")
    print(f"threads {args.threads} per side; load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    runs: dict[str, dict] = {}

    def cli(label: str, model: str, length: int, precision: str = args.precision) -> dict:
        result = splice_predict(fastas[length], model, work / f"{label}_{length}", env, precision)
        result["nt"] = length
        result["nt_per_s"] = length / result["seconds"]
        runs[f"{label}_{length}"] = result
        print(
            f"{label:>6} {length:>9,} nt: {result['seconds']:7.1f} s, {result['nt_per_s']:8.0f} nt/s end to end, "
            f"peak RSS {result['peak_rss_mb']:6.0f} MB, {result['cpu_seconds']:.0f} CPU s, {result['precision']}  "
            f"[{result['summary']}]",
            flush=True,
        )
        return result

    def net(label: str, length: int) -> float:
        startup = runs[f"{label}_{args.startup_length}"]["seconds"]
        run = runs[f"{label}_{length}"]
        run["net_nt_per_s"] = (length - args.startup_length) / max(run["seconds"] - startup, 1e-9)
        startup_cpu = runs[f"{label}_{args.startup_length}"]["cpu_seconds"]  # nt per CPU second: load-robust
        run["net_nt_per_cpu_s"] = (length - args.startup_length) / max(run["cpu_seconds"] - startup_cpu, 1e-9)
        return run["net_nt_per_s"]

    for label, model in (("nt", args.nt_model), ("window", args.window_model)):
        cli(label, model, args.startup_length)
    nt_long = cli("nt", args.nt_model, args.length)
    nt_short = cli("nt", args.nt_model, args.short_length)
    window = cli("window", args.window_model, args.window_length)
    # the per-nucleotide model in float32 too, to show what the precision buys
    cli("nt_float32", args.nt_model, args.startup_length, "float32")
    cli("nt_float32", args.nt_model, args.short_length, "float32")
    nt_net, nt_short_net, window_net, float32_net = (
        net("nt", args.length),
        net("nt", args.short_length),
        net("window", args.window_length),
        net("nt_float32", args.short_length),
    )
    figures = {
        "nt_model_nt_per_s": nt_long["nt_per_s"],
        "nt_model_net_nt_per_s": nt_net,
        "nt_model_short_net_nt_per_s": nt_short_net,
        "nt_model_precision": nt_long["precision"],
        "nt_model_float32_short_net_nt_per_s": float32_net,
        "ratio_precision_over_float32_net": nt_short_net / float32_net,
        "window_classifier_nt_per_s": window["nt_per_s"],
        "window_classifier_net_nt_per_s": window_net,
        "peak_rss_mb_long": nt_long["peak_rss_mb"],
        "peak_rss_mb_short": nt_short["peak_rss_mb"],
        "peak_rss_ratio_long_over_short": nt_long["peak_rss_mb"] / nt_short["peak_rss_mb"],
        "ratio_over_today_as_filed": nt_long["nt_per_s"] / TODAY_NT_PER_S,
        "ratio_over_window_classifier": nt_long["nt_per_s"] / window["nt_per_s"],
        "ratio_over_window_classifier_net": nt_net / window_net,
        "nt_model_net_nt_per_cpu_s": nt_long["net_nt_per_cpu_s"],
        "window_classifier_net_nt_per_cpu_s": window["net_nt_per_cpu_s"],
        "ratio_over_window_classifier_cpu": nt_long["net_nt_per_cpu_s"] / window["net_nt_per_cpu_s"],
    }
    startup = {label: runs[f"{label}_{args.startup_length}"]["seconds"] for label in ("nt", "window")}
    print(
        f"startup (the {args.startup_length:,}-nt runs): nt model {startup['nt']:.1f} s, "
        f"window classifier {startup['window']:.1f} s"
    )
    print(
        f"net of startup: nt model {figures['nt_model_net_nt_per_s']:.0f} nt/s ({args.length:,} nt), "
        f"{figures['nt_model_short_net_nt_per_s']:.0f} nt/s ({args.short_length:,} nt); "
        f"window classifier {figures['window_classifier_net_nt_per_s']:.0f} nt/s ({args.window_length:,} nt)"
    )
    print(
        f"nt model {nt_long['precision']} / float32 ({args.short_length:,} nt, net of startup): "
        f"{figures['ratio_precision_over_float32_net']:.2f}x ({nt_short_net:.0f} vs {float32_net:.0f} nt/s)"
    )
    print(
        f"peak RSS {args.length:,} vs {args.short_length:,} nt (nt model): {nt_long['peak_rss_mb']:.0f} vs "
        f"{nt_short['peak_rss_mb']:.0f} MB = {figures['peak_rss_ratio_long_over_short']:.2f}x"
    )
    print(
        f"ratio nt model / today as filed (2,604 nt/s, 6 min 24 s per Mb): {figures['ratio_over_today_as_filed']:.1f}x"
    )
    print(
        f"ratio nt model / window classifier (same run): {figures['ratio_over_window_classifier']:.1f}x end to end, "
        f"{figures['ratio_over_window_classifier_net']:.1f}x net of startup, "
        f"{figures['ratio_over_window_classifier_cpu']:.1f}x per CPU second net of startup "
        f"({figures['nt_model_net_nt_per_cpu_s']:.0f} vs {figures['window_classifier_net_nt_per_cpu_s']:.0f} nt/CPU s)"
    )

    python = Path(args.peers_venv) / "bin" / "python"
    spliceai = None
    if args.spliceai_length < 1:
        print("SpliceAI skipped (--spliceai-length 0)")
    elif not python.exists():
        print(f"SpliceAI skipped: no peers venv at {args.peers_venv} (build it with ../shared/peers/setup)")
    else:
        fasta = fastas[args.spliceai_length]
        command = [str(python), "-c", SPLICEAI_CHILD, str(fasta), str(args.threads)]
        child = run_child(command, env, work / "spliceai.log")
        spliceai = json.loads(child["stdout"].strip().splitlines()[-1])
        spliceai.update(nt_per_s=spliceai["nt"] / spliceai["seconds"], peak_rss_mb=child["peak_rss_mb"])
        figures["spliceai_nt_per_s"] = spliceai["nt_per_s"]
        figures["ratio_over_spliceai"] = nt_long["nt_per_s"] / spliceai["nt_per_s"]
        figures["ratio_over_spliceai_net"] = figures["nt_model_net_nt_per_s"] / spliceai["nt_per_s"]
        figures["spliceai_nt_per_cpu_s"] = spliceai["nt"] / spliceai["cpu_seconds"]
        figures["ratio_over_spliceai_cpu"] = nt_long["net_nt_per_cpu_s"] / figures["spliceai_nt_per_cpu_s"]
        print(
            f"SpliceAI {spliceai['nt']:>9,} nt: {spliceai['seconds']:7.1f} s scoring (5 models, 5,000 N pad each side; "
            f"load + tracing + untimed first pass {spliceai['load_seconds']:.1f} s), {spliceai['nt_per_s']:8.0f} nt/s, "
            f"{figures['spliceai_nt_per_cpu_s']:.0f} nt/CPU s, peak RSS {spliceai['peak_rss_mb']:.0f} MB"
        )
        print(
            f"ratio nt model / SpliceAI: {figures['ratio_over_spliceai']:.1f}x end to end, "
            f"{figures['ratio_over_spliceai_net']:.1f}x net of startup, "
            f"{figures['ratio_over_spliceai_cpu']:.1f}x per CPU second"
        )
    end_load = os.getloadavg()
    figures["bench_parent_peak_rss_mb"] = peak_rss_mb()
    print(
        f"load average at end {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}; "
        f"this script's own peak RSS {figures['bench_parent_peak_rss_mb']:.0f} MB (a floor of the children's)"
    )
    if args.json:
        record = {
            "benchmark": "benchmarks/bench_splice_predict.py",
            "command": "python " + " ".join([f"benchmarks/{Path(__file__).name}", *sys.argv[1:]]),
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "sequence": source,
            "threads": args.threads,
            "load_average_start_end": [round(load[0], 2), round(end_load[0], 2)],
            "nt_model": os.path.relpath(args.nt_model, ROOT),
            "window_model": os.path.relpath(args.window_model, ROOT),
            "today_as_filed_nt_per_s": round(TODAY_NT_PER_S, 1),
            "runs": runs,
            "spliceai": spliceai,
            "figures": figures,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1, default=float) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
