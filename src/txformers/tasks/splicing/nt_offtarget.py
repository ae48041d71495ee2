# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Off-target splice-site calls of per-nucleotide models next to SpliceAI's, on the same real windows.

The windows are real (true-site) human Test windows of EnsembleSplice (602 nt, one annotated site at
the centre), the same fixed random subset that ``finetune_splice_nt`` scans for its off-target
figure (:func:`real_test_windows`). A call is P(donor) or P(acceptor) above the threshold at a
position other than the annotated site (:func:`~txformers.tasks.splicing.nt_sites.off_target_calls`).

    # 1. the windows, for the peers venv (SpliceAI is not installed in the txformers environment)
    python -m txformers.tasks.splicing.nt_offtarget export --data-dir DATA --windows 40 --out W.tsv
    # 2. SpliceAI's probabilities (benchmark use only: its weights are CC BY-NC 4.0)
    /work/peers-venv/bin/python benchmarks/peers_splice_sites_nt.py W.tsv spliceai.npz
    # 3. every model on the same windows
    python -m txformers.tasks.splicing.nt_offtarget compare --data-dir DATA --windows 40 \\
        --spliceai spliceai.npz --model bert=checkpoints/splicebert-small-splice-sites-nt \\
        --model cnn=runs/splice-nt/cnn-120-m30/best --out results/splicebert/splice_sites_nt_offtarget.json

A model folder is a SpliceBERT token-classification checkpoint (read in ``config.window_size``-nt
windows overlapping by half, as ``splice predict`` reads sequences) or a ``SpliceCNN`` folder
(``config.json`` of its hyper-parameters and ``model.safetensors``; it reads the whole window).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ...io import atomic_write_text
from . import nt_sites as nt


def real_test_windows(data_dir: str, n: int, cache_dir: str | None = None) -> dict:
    """The first ``n`` of the fixed random order of real Test windows (kept in file order)."""
    test = nt.load_windows(data_dir, cache_dir=cache_dir)["test"]
    real = np.flatnonzero(test["is_site"])
    rows = np.sort(np.random.default_rng(0).permutation(real)[:n])
    return {k: v[rows] for k, v in test.items()}


def model_probabilities(folder: str, sequences, threads: int = 0) -> list[np.ndarray]:
    """``(length, 3)`` probabilities (none, acceptor, donor) of each sequence from a model folder."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    if "model_type" not in config:  # a SpliceCNN folder
        from safetensors.torch import load_file

        from .cnn_baseline import SpliceCNN

        model = SpliceCNN(**{**config, "dilations": tuple(config["dilations"])})
        model.load_state_dict(load_file(folder / "model.safetensors"))
        model.eval()
        with torch.inference_mode():
            ids = torch.as_tensor(nt.encode_ids(list(sequences)).astype(np.int64))
            return list(model(input_ids=ids).logits.softmax(-1).numpy())
    from ...models.splicebert import SpliceBertForTokenClassification
    from ...tokenizers.tokenization_nucleotide import NucleotideTokenizer

    model = SpliceBertForTokenClassification.from_pretrained(folder).eval()
    tokenizer, out = NucleotideTokenizer(), []
    for sequence in sequences:
        result = nt.predict_sequence(model, tokenizer, sequence, window=model.config.window_size or 400)
        donor, acceptor = result["donor_prob"], result["acceptor_prob"]
        out.append(np.stack([1 - donor - acceptor, acceptor, donor], 1))
    return out


def compare(windows: dict, models: dict[str, str], spliceai: str | None, thresholds=(0.5,), threads: int = 0) -> dict:
    """Off-target calls per kb of each model (and SpliceAI's, when its probabilities are given)."""
    probabilities = {}
    if spliceai:  # checked first: a mismatch fails before any model runs
        data = np.load(spliceai, allow_pickle=False)
        if [str(i) for i in data["id"]] != [str(i) for i in windows["id"]]:
            raise SystemExit(f"error: {spliceai} holds other windows than these ({len(data['id'])} ids)")
        probabilities["spliceai"] = list(data["probabilities"])
    for name, path in models.items():
        probabilities[name] = model_probabilities(path, windows["sequence"], threads)
    result = {
        name: {str(t): nt.off_target_calls(p, windows, threshold=t) for t in thresholds}
        for name, p in probabilities.items()
    }
    if "spliceai" in probabilities:  # at equal sensitivity: as many annotated sites called as SpliceAI at 0.5
        hits = nt.off_target_calls(probabilities["spliceai"], windows, threshold=0.5)["annotated_sites_called"]
        for name, p in probabilities.items():
            threshold = matched_threshold(p, windows, hits)
            result[name]["matched_to_spliceai_0.5"] = nt.off_target_calls(p, windows, threshold=threshold)
    return result


def matched_threshold(probabilities, windows: dict, hits: int) -> float:
    """The threshold at which a model calls ``hits`` of the annotated sites (its ``hits``-th highest annotated-site
    probability is the last one above it): off-target calls compared at equal sensitivity."""
    site = np.array(
        [
            p[nt.SITE_INDEX[s], nt.NT_LABEL2ID[s]]
            for p, s, real in zip(probabilities, windows["site_type"], windows["is_site"])
            if real
        ]
    )
    ranked = np.sort(site)[::-1]
    if hits <= 0:
        return float(ranked[0])
    return float(ranked[hits]) if hits < len(ranked) else float(np.nextafter(ranked[-1], -np.inf))


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(prog="python -m txformers.tasks.splicing.nt_offtarget", description=__doc__)
    parser.add_argument("action", choices=["export", "compare"])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--windows", type=int, default=40)
    parser.add_argument("--out", required=True)
    parser.add_argument("--spliceai", default=None, help="SpliceAI probabilities (.npz of peers_splice_sites_nt.py)")
    parser.add_argument("--model", action="append", default=[], help="NAME=FOLDER (repeatable)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    windows = real_test_windows(args.data_dir, args.windows, args.cache_dir)
    if args.action == "export":
        lines = ["id\tsequence"] + [f"{i}\t{s}" for i, s in zip(windows["id"], windows["sequence"])]
        atomic_write_text(args.out, "\n".join(lines) + "\n")
        return None
    models = dict(item.split("=", 1) for item in args.model)
    result = {
        "windows": int(len(windows["id"])),
        "nucleotides": int(sum(len(s) for s in windows["sequence"])),
        "models": models,
        "off_target": compare(windows, models, args.spliceai, tuple(args.thresholds), args.threads),
    }
    atomic_write_text(args.out, json.dumps(result, indent=2))
    for name, by_threshold in result["off_target"].items():
        for t, m in by_threshold.items():
            print(
                f"{name} (>{m['threshold']:.4g}{', matched to SpliceAI' if t.startswith('matched') else ''}): "
                f"{m['off_target_per_kb']:.2f} off-target calls/kb, "
                f"annotated sites called {m['annotated_sites_called']}/{m['windows']}"
            )
    return result


if __name__ == "__main__":
    main()
