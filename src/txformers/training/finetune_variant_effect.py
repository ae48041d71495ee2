"""Train and evaluate SpliceBertForVariantEffect on MaPSy exonic variants, with baselines in the same run.

    nice -n 10 python -m txformers.training.finetune_variant_effect \\
        --mapsy ../shared/data/splice/mapsy/mapsy.txt --encoder checkpoints/splicebert-small-pretrained \\
        --kl-scores KL.csv --peer-scores PEERS.tsv --work WORKDIR \\
        --json results/splicebert/variant_effect_mapsy.json --save checkpoints/splicebert-small-variant-effect

Rows are split into 5 folds stratified by ESM and grouped by exon; fold ``--test-fold`` is kept aside
and scored once at the end. Model selection (head hyper-parameters) is 4-fold grouped CV on the others.
The encoder is frozen: its pair features are computed once per encoder and cached under ``--work``
(so a rerun resumes from there). Methods: the head on the pretrained encoder, the same head on a
random-init encoder, LightGBM on hand features, zero-shot KL-context (``--kl-scores``, the CSV of
``python -m txformers.tasks.splicing.variant_effect --scores``), SpliceAI / MMSplice
(``--peer-scores``, from ``benchmarks/peers_mapsy.py``; benchmark only, never used for training).
``--export-pairs`` writes the parsed pairs for the peers script and exits.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..datasets.mapsy_pairs import read_pairs
from ..io import atomic_write_text
from ..tasks.splicing import variant_model as vm

GRID = {"ratio_loss_weight": [0.3, 1.0], "weight_decay": [1e-2], "epochs": [20, 60]}  # sized for 2 shared CPUs


def _features(name, model, tokenizer, rows, work: Path) -> np.ndarray:
    path = work / f"features_{name}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    x = vm.pair_features(model, tokenizer, rows)
    np.save(path, x)
    print(f"{name}: features {x.shape} in {time.perf_counter() - started:.0f} s", flush=True)
    return x


LABELS = {
    "splicebert_pretrained": "SpliceBertForVariantEffect (pretrained encoder, frozen; this model's recipe)",
    "bundled_model_seed0": "the bundled checkpoint (one head, seed 0)",
    "splicebert_random_init": "same head on a random-init encoder",
    "lightgbm_hand_features": "LightGBM on hand features",
    "zero_shot_kl_context": "zero-shot KL-context (splicebert-small-pretrained)",
    "spliceai_max_delta": "SpliceAI max delta (benchmark only; see peer scores)",
    "mmsplice_neg_delta_logit_psi": "MMSplice -delta logit PSI",
    "stacked_lightgbm": "**stacked LightGBM** (this checkpoint's default; see below)",
    "logistic_regression_hand_features": "logistic regression on hand features",
}


def _table(metrics: dict) -> str:
    lines = ["| method | AP [95% CI] | AUROC [95% CI] |", "|---|---|---|"]
    for name, m in metrics.items():
        ap, auc = m["average_precision_ci95"], m["auroc_ci95"]
        lines.append(
            f"| {LABELS.get(name, name)} | {m['average_precision']:.3f} [{ap[0]:.3f}, {ap[1]:.3f}] "
            f"| {m['auroc']:.3f} [{auc[0]:.3f}, {auc[1]:.3f}] |"
        )
    return "\n".join(lines)


def readme(report: dict, command: str) -> str:
    """The bundled checkpoint's README, every number read from ``report`` (the results file)."""
    test = report["test"]
    first = next(iter(test.values()))
    spliceai = test.get("spliceai_max_delta", {}).get("average_precision")
    ours = test["splicebert_pretrained"]["average_precision"]
    verdict = (
        f"On the kept-aside fold the model's AP is {ours:.3f} against SpliceAI's {spliceai:.3f} on the same variants "
        f"({ours / spliceai:.2f}x)."
        if spliceai
        else "SpliceAI was not scored in this run (see the results file)."
    )
    stacked = report.get("stacked")
    if stacked and "stacked_lightgbm" in test:
        ours_stacked = test["stacked_lightgbm"]["average_precision"]
        versus = f" against SpliceAI's {spliceai:.3f} ({ours_stacked / spliceai:.2f}x)" if spliceai else ""
        paired = stacked.get("paired_vs_peers", {}).get("spliceai_max_delta")
        if paired:
            low, high = paired["ci95"]
            versus += f"; paired bootstrap difference {paired['ap_difference']:+.3f}, 95% CI [{low:+.3f}, {high:+.3f}]"
        verdict = (
            f"The stacked model (what `txformers splice variants --table` uses with this checkpoint) reaches a "
            f"kept-aside AP of {ours_stacked:.3f}{versus}; the head alone: {verdict[0].lower()}{verdict[1:]}"
        )
        described = {
            "cnn": "txformers' dilated-CNN splice-site model (`splice_cnn/`, its README) run on WT and mutant: "
            "acceptor / donor probability at the exon's boundaries and their change, largest gains and losses",
            "site": f"the same from the per-nucleotide SpliceBERT splice-site model `{stacked.get('site_model')}`",
            "mlm": f"the masked LM `{stacked.get('mlm_model')}` (KL-context, KL at the variant and at the sites, "
            "log-odds of the alternative base)",
            "kmer": "exonic 4- and 5-mer destroy / create scores learnt from the training rows' allelic ratios",
            "head": "this checkpoint's `SpliceBertForVariantEffect` score (out of fold in training: never a "
            "prediction on a pair its head trained on)",
        }
        chosen = stacked["chosen"]
        blocks = "".join(f"\n- {described[b]}" for b in chosen["blocks"])
        candidates = "\n".join(
            f"| {' + '.join(['hand', *c['blocks']])} | {c.get('objective', 'classify')} "
            f"| {c['cv_average_precision']:.4f} |"
            for c in stacked.get("selection", [])
        )
        stacked_text = f"""
## Stacked model (the default)

`stacked.json` and `stacked_lightgbm_*_seed*.txt` hold LightGBM ({len(chosen["seeds"])} seeds averaged;
objective: {chosen.get("objective", "classify")}) over the hand features (hexamer tables learnt from the training
rows) and:
{blocks}

The blocks were chosen by grouped CV on the development folds (AP of the out-of-fold scores):

| feature blocks | objective | CV AP |
|---|---|---|
{candidates}

SpliceAI and MMSplice outputs are never features. Reproduce:

```bash
{stacked["command"]}
```
"""
    else:
        stacked_text = ""
    return f"""---
library_name: transformers
license: bsd-3-clause
tags: [biology, rna, splicing, variant-effect, txformers, splicebert]
---

# splicebert-small-variant-effect

`SpliceBertForVariantEffect`: the probability that an exonic SNV disrupts splicing (MaPSy's exonic
splicing mutation, ESM), from the wild-type / mutant minigene pair and the exon's place in it, with
predicted log2 allelic ratios (in vivo, in vitro) as auxiliary outputs. Encoder: the frozen
`splicebert-small-pretrained` (4 layers, hidden 128); head: mutant-minus-WT hidden states pooled around
the variant, over the exon and around each splice site, the WT state at the variant and the variant's
distances to the splice sites, then an MLP. Inputs are only those of a CAGI MaPSy test file
(sequences, exon coordinates); never spliced counts, ratios or labels.

## Use

```bash
txformers splice variants --table IN.csv --model checkpoints/splicebert-small-variant-effect --out OUT
```

writes `OUT.tsv`: every input row with its `ID`, `score` (higher = more likely splice-disrupting),
`orientation` (pairs listed mutant-first, `WT_ID` ending in M, are swapped and marked) and a `reason` for
rows it cannot score. In Python: `pipeline("splice-variant-pair", model=...)` after `import txformers` gives the
head's score (portable, no LightGBM); the stacked score (what the command writes when `stacked.json` is present) is
`txformers.tasks.splicing.variant_stack.score_pairs_stacked(folder, read_pairs(table))`
(`read_pairs` from `txformers.datasets.mapsy_pairs`).

## Evaluation

Data: `mapsy.txt` (MMSplice paper; {report["n_pairs"]} variants, {report["n_positive"]} ESM). Five folds
stratified by ESM and grouped by exon (no exon on both sides); fold {report["test_fold"]} ({report["n_test"]}
variants, {report["n_test_positive"]} ESM) was kept aside and scored once at the end. The head's
hyper-parameters were chosen by 4-fold grouped cross-validation on the other folds
(chosen: {report["selection"]["splicebert_pretrained_chosen"]}). AP and AUROC with bootstrap 95% CIs
(1,000 resamples of rows).

Kept-aside fold (prevalence {first["prevalence"]:.3f}):

{_table(test)}

Grouped cross-validation on the development folds (out-of-fold scores):

{_table(report["cv"])}

Peer scores: {report.get("peers", "not run")}.

Kept-aside fold, only MMSplice's `test` rows (the CAGI test variants; every ESM positive is one of them):

{_table(report.get("test_mmsplice_test_rows", {}))}

{verdict} Note: in `mapsy.txt` every ESM positive is one of MMSplice's `test` rows (the CAGI test
variants, selected for strong effects); the other rows are all negatives, so these numbers mix "which
variant of a CAGI exon is an ESM" with "is this a CAGI-test-like variant". The results file also reports
the kept-aside metrics restricted to the `test` rows (`test_mmsplice_test_rows`). SpliceAI's weights are
CC BY-NC: its scores were used as a benchmark only, never for training.

{stacked_text}
Reproduce the head and the baselines (numbers from `results/splicebert/variant_effect_mapsy.json`):

```bash
{command}
```

## Limitations

Trained on 200-nt MaPSy minigenes (exon flanked by short introns and fixed primers); other contexts are
out of distribution. The bundled head is trained on the development folds only (the kept-aside numbers
describe it). SNVs only.
"""


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mapsy", required=True)
    parser.add_argument("--encoder", default="checkpoints/splicebert-small-pretrained")
    parser.add_argument("--kl-scores", help="zero-shot per-variant scores CSV (column kl_context)")
    parser.add_argument("--peer-scores", help="benchmarks/peers_mapsy.py output TSV")
    parser.add_argument("--peer-note", default="", help="how the peer scores were made (goes in the results)")
    parser.add_argument("--work", required=True, help="cache folder (features, folds); reruns resume from it")
    parser.add_argument("--json", help="results file")
    parser.add_argument("--save", help="write the final model here")
    parser.add_argument("--export-pairs", help="write id/sequences/exon bounds TSV for the peers script and exit")
    parser.add_argument("--test-fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    rows = [r for r in read_pairs(args.mapsy, with_targets=True) if not r["reason"]]
    frame = pd.DataFrame(rows)
    folds = vm.grouped_folds(frame["exon_key"], frame["label"], n_splits=5, seed=args.seed)
    frame["fold"] = folds
    if args.export_pairs:
        keep = ["id", "wt_sequence", "mut_sequence", "exon_start", "exon_end", "fold"]
        frame[keep].to_csv(args.export_pairs, sep="\t", index=False)
        return {}
    y = frame["label"].to_numpy()
    dev = np.flatnonzero(folds != args.test_fold)
    test = np.flatnonzero(folds == args.test_fold)
    cv_folds = [f for f in range(5) if f != args.test_fold]
    print(f"{len(rows)} pairs, {y.sum()} ESM; dev {len(dev)} ({y[dev].sum()} ESM), test {len(test)} ({y[test].sum()})")

    from transformers import AutoTokenizer

    from ..models.splicebert import SpliceBertForVariantEffect

    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    pretrained = SpliceBertForVariantEffect.from_pretrained(args.encoder)
    torch.manual_seed(args.seed)
    random_init = SpliceBertForVariantEffect(pretrained.config)
    encoders = {"splicebert_pretrained": pretrained, "splicebert_random_init": random_init}
    x = {name: _features(name, model, tokenizer, rows, work) for name, model in encoders.items()}

    def cv_scores(score_fn):
        oof = np.full(len(rows), np.nan)
        for f in cv_folds:
            train = np.flatnonzero((folds != f) & (folds != args.test_fold))
            held = np.flatnonzero(folds == f)
            oof[held] = score_fn(train, held)
        return oof[dev]

    report = {"data": args.mapsy, "n_pairs": len(rows), "n_positive": int(y.sum()), "test_fold": args.test_fold}
    report.update(n_dev=len(dev), n_test=len(test), n_test_positive=int(y[test].sum()), selection={}, cv={}, test={})
    cv_raw, test_raw = {}, {}
    configs = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    cache = work / "trained_scores.json"  # a rerun (e.g. once the peer scores exist) reuses the trained scores
    if cache.exists():
        saved = json.loads(cache.read_text())
        report["selection"] = saved["selection"]
        cv_raw = {k: np.asarray(v, dtype=float) for k, v in saved["cv"].items()}
        test_raw = {k: np.asarray(v, dtype=float) for k, v in saved["test"].items()}
        encoders = {}
    for name, model in encoders.items():
        best = None
        # The random-init encoder gets the same head: the configuration chosen for the pretrained one.
        chosen = report["selection"].get("splicebert_pretrained_chosen")
        for config in configs if chosen is None else [chosen]:
            scores = cv_scores(
                lambda tr, he, m=model, c=config, n=name: vm.fit_head_scores(m, x[n], rows, tr, he, c, (0,))
            )
            ap = vm.metrics_with_ci(scores, y[dev], n_boot=1)["average_precision"]
            report["selection"].setdefault(name, []).append({**config, "cv_average_precision": ap})
            print(f"{name} {config}: CV AP {ap:.3f}", flush=True)
            if best is None or ap > best[0]:
                best = (ap, config, scores)
        cv_raw[name] = best[2]
        report["selection"][name + "_chosen"] = best[1]
        test_raw[name] = vm.fit_head_scores(model, x[name], rows, dev, test, best[1])
    if not cache.exists():
        pairs = [("cv", cv_raw), ("test", test_raw)]
        as_lists = {split: {k: v.tolist() for k, v in raw.items()} for split, raw in pairs}
        atomic_write_text(cache, json.dumps({"selection": report["selection"], **as_lists}))
    cv_raw["lightgbm_hand_features"] = cv_scores(
        lambda tr, he: vm.gbm_scores([rows[i] for i in tr], [rows[i] for i in he])
    )
    test_raw["lightgbm_hand_features"] = vm.gbm_scores([rows[i] for i in dev], [rows[i] for i in test])
    if args.kl_scores:
        kl = pd.read_csv(args.kl_scores).set_index("id")["kl_context"]
        values = frame["id"].map(kl).to_numpy(dtype=float)
        cv_raw["zero_shot_kl_context"], test_raw["zero_shot_kl_context"] = values[dev], values[test]
    else:
        report["zero_shot_kl_context"] = "skipped: no --kl-scores"
    peers = None
    if args.peer_scores and Path(args.peer_scores).exists():
        peers = pd.read_csv(args.peer_scores, sep="\t").set_index("id")
        report["peers"] = f"{args.peer_scores}: {args.peer_note}"
        for column in [c for c in ("spliceai_max_delta", "mmsplice_neg_delta_logit_psi") if c in peers]:
            values = frame["id"].map(peers[column]).to_numpy(dtype=float)
            test_raw[column] = values[test]
            if np.isfinite(values[dev]).all():
                cv_raw[column] = values[dev]
    else:
        report["peers"] = f"skipped: peer scores not available ({args.peer_scores})"
    mmsplice_test = frame["mmsplice_test"].to_numpy()
    for name, scores in cv_raw.items():
        report["cv"][name] = vm.metrics_with_ci(scores, y[dev])
    for name, scores in test_raw.items():
        report["test"][name] = vm.metrics_with_ci(scores, y[test])
        subset = mmsplice_test[test]
        report.setdefault("test_mmsplice_test_rows", {})[name] = vm.metrics_with_ci(scores[subset], y[test][subset])
    pd.DataFrame({"id": frame["id"].iloc[test].to_numpy(), "label": y[test], **test_raw}).to_csv(
        work / "test_scores.tsv", sep="\t", index=False
    )
    for split in ("cv", "test"):
        print(f"\n{split:<32}{'AP':>8}{'95% CI':>16}{'AUROC':>8}")
        for name, m in report[split].items():
            ci = m["average_precision_ci95"]
            print(f"{name:<32}{m['average_precision']:>8.3f}  [{ci[0]:.3f}, {ci[1]:.3f}]{m['auroc']:>8.3f}")
    if args.save:
        chosen = report["selection"]["splicebert_pretrained_chosen"]
        final = pretrained
        # The bundled head is the one the kept-aside numbers describe: trained on the dev folds only (seed 0).
        bundled = vm.fit_head_scores(final, x["splicebert_pretrained"], rows, dev, test, chosen, seeds=(0,))
        report["test"]["bundled_model_seed0"] = vm.metrics_with_ci(bundled, y[test])
        final.config.architectures = ["SpliceBertForVariantEffect"]
        final.config.variant_training = {
            **chosen,
            "lr": 1e-3,
            "data": f"MaPSy dev folds (all but fold {args.test_fold})",
        }
        final.save_pretrained(args.save)
        tokenizer.save_pretrained(args.save)
        # Portable: the family's files ride along, and AutoModel (trust_remote_code) gives this head.
        family = Path(__file__).resolve().parents[1] / "models" / "splicebert"
        for name in ("configuration_splicebert.py", "modeling_splicebert.py"):
            shutil.copyfile(family / name, Path(args.save) / name)
        config = json.loads((Path(args.save) / "config.json").read_text())
        config["auto_map"] = {
            "AutoConfig": "configuration_splicebert.SpliceBertConfig",
            "AutoModel": "modeling_splicebert.SpliceBertForVariantEffect",
        }
        atomic_write_text(Path(args.save) / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
        report["saved"] = args.save
        command = shlex.join(["nice", "-n", "10", "python", "-m", __spec__.name if __spec__ else __name__])
        command += " " + shlex.join(argv or sys.argv[1:])
        report["command"] = command
        atomic_write_text(Path(args.save) / "README.md", readme(report, command))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":  # pragma: no cover
    main()
