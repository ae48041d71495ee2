# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Gather per-nucleotide splice-site runs (``finetune_splice_nt`` output folders) into one results file.

    python -m txformers.tasks.splicing.nt_report runs/splice-nt/* --out results/splicebert/splice_sites_nt.json \\
        --bundle runs/splice-nt/bert-pre-120 --to checkpoints/splicebert-small-splice-sites-nt

For each run: the options that define it (model, init, context, site weight, steps, label fraction,
seed), the step picked on validation, validation and Test AUROC/AP (with the bootstrap 95 % CIs),
off-target calls per kb and seconds per training step; and a markdown table of them (``--markdown``).
``--bundle RUN --to FOLDER`` saves RUN's best model through the package (``save_pretrained``: ``auto_map``
and the portable model files) with the tokenizer and a README holding the measured numbers.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from ...io import atomic_write_text

_KEYS = (
    "model",
    "init",
    "context",
    "site_weight",
    "max_steps",
    "label_fraction",
    "seed",
    "lr",
    "conv_kernel",
    "batch_size",
    "candidate_weight",
)
OFF_TARGET = Path("results/splicebert/splice_sites_nt_offtarget.json")  # nt_offtarget compare, with SpliceAI
SPEED = Path("results/splicebert/splice_predict_1mb.json")  # benchmarks/bench_splice_predict.py
TARGET = {"donor": 0.985, "acceptor": 0.979}  # SpliceAI 1.3.1 on these Test windows (issue 13)


def summarize_run(folder: Path) -> dict | None:
    """One row of the report from ``folder/results.json`` (None when the run has not finished)."""
    path = Path(folder) / "results.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    args = results["args"]
    run = results[args["model"]]
    # the data cache folder does not change a result; a machine's own path would only mislead a reader
    command = re.sub(r"\s--cache-dir(=|\s+)\S+", "", results["command"])
    row = {"run": Path(folder).name, "command": command}
    row.update({k: args.get(k) for k in _KEYS})
    if args["model"] == "logreg":
        row.update(init=None, context=2 * args["lr_flank"] + 1, site_weight=None, max_steps=None, lr=None)
    row["best_step"] = run.get("best", {}).get("step")
    row["seconds_per_step"] = run.get("seconds_per_step")
    row["train_seconds"] = run.get("train_seconds")
    for split in ("validation", "test"):
        for site, m in run[split]["centre"].items():
            for metric in ("auroc", "ap"):
                row[f"{split}_{site}_{metric}"] = m[metric]
                if f"{metric}_ci95" in m:
                    row[f"{split}_{site}_{metric}_ci95"] = m[f"{metric}_ci95"]
    row["off_target_per_kb"] = run["test"]["off_target"]["off_target_per_kb"]
    row["off_target"] = run["test"]["off_target"]
    return row


def markdown(rows: list[dict]) -> str:
    """A table: run, context, steps, validation mean AUROC, Test donor/acceptor AUROC and AP [95 % CI]."""

    def cell(row, split, site, metric):
        value, ci = row[f"{split}_{site}_{metric}"], row.get(f"{split}_{site}_{metric}_ci95")
        return f"{value:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")

    lines = [
        "| run | context | steps (best) | s/step | val AUROC donor / acceptor | test donor AUROC | test donor AP "
        "| test acceptor AUROC | test acceptor AP | off-target /kb |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        steps = f"{r['max_steps']} ({r['best_step']})" if r["max_steps"] else "-"
        speed = f"{r['seconds_per_step']:.2f}" if r["seconds_per_step"] else "-"
        lines.append(
            f"| {r['run']} | {r['context']} | {steps} | {speed} | {r['validation_donor_auroc']:.4f} / "
            f"{r['validation_acceptor_auroc']:.4f} | {cell(r, 'test', 'donor', 'auroc')} | "
            f"{cell(r, 'test', 'donor', 'ap')} | {cell(r, 'test', 'acceptor', 'auroc')} | "
            f"{cell(r, 'test', 'acceptor', 'ap')} | {r['off_target_per_kb']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def group_name(row: dict) -> str:
    """``splicebert-pretrained`` / ``splicebert-random`` / ``cnn`` / ``logreg``."""
    return f"splicebert-{row['init']}" if row["model"] == "splicebert" else row["model"]


def label_fraction_table(rows: list[dict]) -> dict:
    """Test AUROC per (model, label fraction) over seeds: mean, SD and the per-seed values."""
    groups: dict = {}
    for row in rows:
        key = (group_name(row), float(row["label_fraction"]))
        groups.setdefault(key, []).append(row)
    table = []
    for (name, fraction), members in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0])):
        entry = {"model": name, "label_fraction": fraction, "seeds": sorted(r["seed"] for r in members)}
        entry["steps"] = sorted({r["max_steps"] for r in members if r["max_steps"]})
        for site in ("donor", "acceptor"):
            values = np.array([r[f"test_{site}_auroc"] for r in members])
            entry[f"test_{site}_auroc"] = {
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if len(values) > 1 else None,
                "values": values.tolist(),
            }
        table.append(entry)
    bert = [r for r in rows if r["model"] == "splicebert"]
    protocol = None
    if bert:  # one SpliceBERT run's command without what varies (seed, fraction, init, output folder)
        words, kept, skip = bert[0]["command"].split(), [], False
        for word in words:
            if skip:
                skip = False
            elif word in ("--seed", "--label-fraction", "--init", "--output-dir"):
                skip = True
            else:
                kept.append(word)
        protocol = " ".join(kept)
    return {"rows": table, "protocol": protocol}


def label_fraction_markdown(table: dict) -> str:
    lines = [
        "| label fraction | model | seeds | steps | test donor AUROC (mean +- SD) | test acceptor AUROC (mean +- SD) |",
        "|---|---|---|---|---|---|",
    ]

    def cell(m):
        return f"{m['mean']:.4f}" + (f" +- {m['sd']:.4f}" if m["sd"] is not None else "")

    for e in table["rows"]:
        steps = ", ".join(str(s) for s in e["steps"]) or "-"
        lines.append(
            f"| {e['label_fraction']:g} | {e['model']} | {len(e['seeds'])} | {steps} | "
            f"{cell(e['test_donor_auroc'])} | {cell(e['test_acceptor_auroc'])} |"
        )
    return "\n".join(lines) + "\n"


def bundle(run: Path, rows: list[dict], destination: Path, fractions: dict | None = None) -> None:
    """Save ``run/best`` into ``destination`` (atomically) with a README of the measured numbers."""
    from ...io import atomic_folder
    from ...models.splicebert import SpliceBertForTokenClassification
    from ...tokenizers.tokenization_nucleotide import NucleotideTokenizer

    row = next(r for r in rows if r["run"] == Path(run).name)
    model = SpliceBertForTokenClassification.from_pretrained(Path(run) / "best")
    with atomic_folder(destination) as folder:
        model.save_pretrained(folder)
        NucleotideTokenizer().save_pretrained(folder)
        if fractions and fractions["rows"]:
            from ...plotting import plot_label_fraction

            plot_label_fraction(
                fractions,
                folder / "label_fraction.png",
                "Pretrained vs random-init SpliceBERT, CNN and logistic regression",
            )
        (folder / "README.md").write_text(readme(row, rows, destination.name, fractions), encoding="utf-8")


def verdict(row: dict, rows: list[dict]) -> str:
    """Whether ``row`` reaches issue 13's Test targets and beats every CNN / logistic-regression row."""
    baselines = [r for r in rows if r["model"] in ("cnn", "logreg") and r["label_fraction"] == 1]
    parts = []
    for site in ("donor", "acceptor"):
        value = row[f"test_{site}_auroc"]
        best = max(baselines, key=lambda r: r[f"test_{site}_auroc"]) if baselines else None
        beats = best is None or value > best[f"test_{site}_auroc"]
        parts.append(
            f"{site} AUROC {value:.4f}: {'at or above' if value >= TARGET[site] else 'below'} the target "
            f"{TARGET[site]}"
            + (
                f", {'above' if beats else 'not above'} the best baseline ({best['run']}, "
                f"{best[f'test_{site}_auroc']:.4f})"
                if best
                else ""
            )
        )
    met = all(row[f"test_{s}_auroc"] >= TARGET[s] for s in TARGET)
    head = "**Meets the Test targets of issue 13**" if met else "**Not yet at the Test targets of issue 13**"
    return head + " (SpliceAI 1.3.1 on the same windows: donor AUROC 0.985, acceptor 0.979): " + "; ".join(parts) + "."


def peer_off_target(run: str, path: str | Path = OFF_TARGET) -> str:
    """A sentence comparing ``run``'s off-target calls with SpliceAI's on the same real windows, from the results
    of ``python -m txformers.tasks.splicing.nt_offtarget compare`` (empty when ``run`` is not in them)."""
    path = Path(path)
    if not path.is_file():
        return ""
    result = json.loads(path.read_text())
    ours, peer = result["off_target"].get(run), result["off_target"].get("spliceai")
    if not ours or not peer or "matched_to_spliceai_0.5" not in ours:
        return ""
    n = result["windows"]
    matched = ours["matched_to_spliceai_0.5"]
    return (
        f"On {n} of these windows also scored by SpliceAI 1.3.1 (`{path.as_posix()}`): at 0.5 this model makes "
        f"{ours['0.5']['off_target_per_kb']:.1f} off-target calls per kb and calls "
        f"{ours['0.5']['annotated_sites_called']}/{n} annotated sites, "
        f"SpliceAI {peer['0.5']['off_target_per_kb']:.1f} per kb and "
        f"{peer['0.5']['annotated_sites_called']}/{n}; at equal sensitivity (threshold {matched['threshold']:.3f}, "
        f"{matched['annotated_sites_called']}/{n} sites called) {matched['off_target_per_kb']:.1f} per kb "
        f"against SpliceAI's {peer['0.5']['off_target_per_kb']:.1f}.\n"
    )


def predict_speed(name: str, path: str | Path = SPEED) -> str:
    """A paragraph on ``splice predict`` speed and memory with checkpoint ``name`` from the benchmark's JSON
    (empty when it is absent or measured another checkpoint)."""
    path = Path(path)
    if not path.is_file():
        return ""
    result = json.loads(path.read_text())
    if Path(result.get("nt_model", "")).name != name:
        return ""
    f, run = result["figures"], result["runs"]
    long = max((r for k, r in run.items() if k.startswith("nt_")), key=lambda r: r["nt"])
    text = (
        f"\n## Speed (`{result['command']}`, {result['date_utc']} UTC, {result['threads']} CPU threads)\n\n"
        f"`txformers splice predict` read {long['nt']:,} nt in {long['seconds']:.0f} s ({f['nt_model_nt_per_s']:,.0f} "
        f"nt/s end to end, {f.get('nt_model_precision', 'float32')}), peak memory {f['peak_rss_mb_long']:.0f} MB "
        f"({f['peak_rss_ratio_long_over_short']:.2f}x that of a 100 kb run): {f['ratio_over_today_as_filed']:.1f}x "
        f"the 2,604 nt/s of the window classifier as issue 13 found it, "
        f"{f['ratio_over_window_classifier']:.1f}x the window classifier in the same run"
    )
    if "ratio_precision_over_float32_net" in f:
        text += f"; {f['ratio_precision_over_float32_net']:.1f}x its own float32 run (`--precision float32`)"
    if "ratio_over_spliceai" in f:
        text += (
            f"; SpliceAI 1.3.1 (5 models, same threads) read {f['spliceai_nt_per_s']:,.0f} nt/s: ours is "
            f"{f['ratio_over_spliceai']:.1f}x its speed end to end "
            f"({f['ratio_over_spliceai_net']:.1f}x net of start-up)"
        )
    return text + ". Full output: benchmarks/RESULTS.md.\n"


def readme(row: dict, rows: list[dict], name: str, fractions: dict | None = None) -> str:
    """The bundled checkpoint's README (a card template can replace it later)."""
    kernel = row.get("conv_kernel") or 0
    head = (
        f"a width-{kernel} convolution over the final hidden states (`classifier_conv_kernel: {kernel}`) and a linear "
        "per-nucleotide head"
        if kernel
        else "a linear per-nucleotide head"
    )
    ablation = (
        "\n## Pretrained vs random initialisation (label fractions)\n\n"
        + label_fraction_markdown(fractions)
        + "\n![Test AUROC against the label fraction](label_fraction.png)\n"
        + (
            f"\nSpliceBERT runs: `{fractions['protocol']} --init pretrained|random --label-fraction F --seed S`.\n"
            if fractions.get("protocol")
            else ""
        )
        + "\nEach cell: Test AUROC over seeds (label fraction of the Train windows, the same subset for every "
        "model of a seed); see results/splicebert/splice_sites_nt.json for the commands.\n"
        if fractions and fractions["rows"]
        else ""
    )
    return f"""---
license: bsd-3-clause
library_name: transformers
pipeline_tag: token-classification
tags: [splicing, splice-sites, rna, dna, txformers]
---

# {name}

SpliceBERT-small (4 layers, hidden 128) with {head}: `none / acceptor / donor` for every
nucleotide, fine-tuned on the EnsembleSplice human Train windows (`{row["init"]}` initialisation,
{row["context"]}-nt random crops). SpliceAI's position convention: **donor = last exon nucleotide** (before
the intron's GT), **acceptor = first exon nucleotide** (after the intron's AG).

```python
from transformers import AutoModelForTokenClassification
model = AutoModelForTokenClassification.from_pretrained("{name}", trust_remote_code=True)
```

or, with txformers installed, `txformers splice predict genes.fa --model checkpoints/{name}` (sequences of
any length, read in {row["context"]}-nt windows overlapping by half).

## Measured (human Test windows, site at the window centre; bootstrap 95 % CIs)

Picked on a validation split cut from Train (step {row["best_step"]} of {row["max_steps"]}). Baselines
trained on the same windows in the same recipe (`python -m txformers.training.finetune_splice_nt`).

{markdown(rows)}
Off-target: calls with probability > 0.5 away from the annotated site in
{row["off_target"]["windows"]} real Test windows ({row["off_target"]["nucleotides"]} nt), per kb.

{peer_off_target(row["run"])}
{verdict(row, rows)} Trained on a shared 2-core CPU ({row["seconds_per_step"]:.2f} s per step); see
results/splicebert/splice_sites_nt.json.
{predict_speed(name)}{ablation}
Command:

```
{row["command"]}
```
"""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m txformers.tasks.splicing.nt_report", description=__doc__)
    parser.add_argument("runs", nargs="+", help="finetune_splice_nt output folders")
    parser.add_argument("--out", required=True, help="results JSON")
    parser.add_argument("--markdown", default=None, help="also write the table here")
    parser.add_argument("--fractions", nargs="*", default=[], help="label-fraction ablation run folders")
    parser.add_argument("--bundle", default=None, help="run folder whose best model to bundle")
    parser.add_argument("--to", default=None, help="checkpoint folder for --bundle")
    args = parser.parse_args(argv)
    rows = [row for row in (summarize_run(Path(f)) for f in args.runs) if row is not None]
    report = {
        "description": "Per-nucleotide splice-site models on the EnsembleSplice human windows (Test: site at the "
        "window centre; picked on a validation split cut from Train). Convention: donor at the last exon "
        "nucleotide, acceptor at the first exon nucleotide.",
        "runs": rows,
    }
    fraction_rows = [row for row in (summarize_run(Path(f)) for f in args.fractions) if row is not None]
    fractions = label_fraction_table(fraction_rows) if fraction_rows else None
    if fractions:
        report["label_fraction"] = {**fractions, "runs": fraction_rows}
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    table = markdown(rows) + ("\n" + label_fraction_markdown(fractions) if fractions else "")
    if args.markdown:
        atomic_write_text(args.markdown, table)
    print(table)
    if args.bundle:
        bundle(Path(args.bundle), rows, Path(args.to), fractions)
        print(f"wrote {args.to}")
    return report


if __name__ == "__main__":
    main()
