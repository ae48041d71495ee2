"""Stacked MaPSy variant-effect model: LightGBM over hand features and our own models' per-pair outputs.

    nice -n 10 python -m txformers.training.stack_variant_effect \\
        --mapsy ../shared/data/splice/mapsy/mapsy.txt --work WORKDIR \\
        --site-model checkpoints/splicebert-small-splice-sites-nt --mlm-model checkpoints/splicebert-small-pretrained \\
        --head-model checkpoints/splicebert-small-variant-effect --head-features FEATURES.npy \\
        --json results/splicebert/variant_effect_mapsy.json --save checkpoints/splicebert-small-variant-effect

Same folds as ``finetune_variant_effect`` (5, stratified by ESM, grouped by exon, seed 0); fold ``--test-fold``
is kept aside and scored once at the end. Candidates (feature blocks x LightGBM settings) are compared by
4-fold grouped CV on the development folds. The fine-tuned head's score enters strictly out of fold: for a
stacker trained on rows R, each row of R gets the score of a head trained on the other folds of R, and the
rows it scores get a head trained on all of R (at the end: the bundled head, trained on the development folds).
The results file of ``finetune_variant_effect`` (same folds) already holds the baselines (the head, its
random-init twin, LightGBM on hand features, SpliceAI, MMSplice); this adds the stacked model and a logistic
regression on the hand features to its ``cv`` / ``test`` tables. SpliceAI / MMSplice are never features.
Run it after ``finetune_variant_effect`` (which rewrites the results file and the head): a new head needs a new
stacked model.
Features are cached under ``--work`` per model path (a rerun with a better splice-site model recomputes
only that block).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..datasets.mapsy_pairs import read_pairs
from ..io import atomic_write_text
from ..tasks.splicing import variant_model as vm
from ..tasks.splicing import variant_stack as vs

PARAMS = {}  # LightGBM settings over variant_stack.DEFAULT_PARAMS; one setting, sized for 2 shared CPUs
OBJECTIVES = ("classify", "classify+ratio")  # "regress" (the ratio alone) was far behind on CV: 0.152 vs 0.19-0.20
SINGLE = [(), ("site",), ("mlm",), ("cnn",)]
FULL = [("cnn", "kmer"), ("cnn", "kmer", "head"), ("cnn", "site", "mlm"), ("cnn", "site", "mlm", "kmer")]
FULL += [("cnn", "site", "mlm", "kmer", "head")]
CANDIDATES = [(blocks, "classify") for blocks in SINGLE] + list(itertools.product(FULL, OBJECTIVES))
HEAD_CONFIG = {"ratio_loss_weight": 1.0, "weight_decay": 0.01, "epochs": 20}  # finetune_variant_effect's choice
SEEDS = (0, 1, 2)


def cache_key(source: str) -> str:
    """Feature-cache key of a model folder: its path and its weights (a re-trained model gets new features)."""
    digest = hashlib.sha1(str(Path(source).resolve()).encode())
    weights = Path(source) / "model.safetensors"
    if weights.is_file():
        digest.update(weights.read_bytes())
    return digest.hexdigest()[:8]


def _cached(work: Path, name: str, source: str, compute) -> np.ndarray:
    path = work / f"{name}_{cache_key(source)}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    x = compute()
    np.save(path, x)
    print(f"{name} features {x.shape} from {source} in {time.perf_counter() - started:.0f} s", flush=True)
    return x


def model_blocks(rows, site_model: str, mlm_model: str, work: Path, cnn_model: str | None = None) -> dict:
    """``{"site": ..., "mlm": ..., "cnn": ...}`` feature blocks of ``rows`` (cached under ``work``)."""
    from transformers import AutoModelForMaskedLM, AutoModelForTokenClassification, AutoTokenizer

    def site():
        model = AutoModelForTokenClassification.from_pretrained(site_model).eval()
        return vs.site_model_features(model, AutoTokenizer.from_pretrained(site_model), rows)

    def mlm():
        model = AutoModelForMaskedLM.from_pretrained(mlm_model).eval()
        return vs.mlm_features(model, AutoTokenizer.from_pretrained(mlm_model), rows)

    blocks = {"site": _cached(work, "site", site_model, site), "mlm": _cached(work, "mlm", mlm_model, mlm)}
    if cnn_model:
        blocks["cnn"] = _cached(work, "cnn", cnn_model, lambda: vs.cnn_model_features(vs.load_cnn(cnn_model), rows))
    return blocks


def _head_fit_score(model, x, rows, train, score):
    """Sigmoid head score of rows ``score`` from a head (seed 0, the bundled recipe) trained on rows ``train``."""
    y = np.array([r["label"] for r in rows])
    model.config.ratio_loss_weight = HEAD_CONFIG["ratio_loss_weight"]
    model.config.esm_pos_weight = float((y[train] == 0).sum() / max((y[train] == 1).sum(), 1))
    ratios = vm.ratio_targets(rows)
    cfg = HEAD_CONFIG
    vm.train_head(model, x[train], y[train], ratios[train], cfg["epochs"], 1e-3, cfg["weight_decay"], 0)
    return 1 / (1 + np.exp(-vm.head_scores(model, x[score])))


def oof_head(model, x, rows, folds, train, score) -> tuple[np.ndarray, np.ndarray]:
    """Head scores for a stacker trained on ``train``: out-of-fold on ``train`` (grouped by ``folds``), and on
    ``score`` from a head trained on all of ``train``."""
    inner = np.full(len(train), np.nan)
    for f in np.unique(folds[train]):
        held = folds[train] == f
        inner[held] = _head_fit_score(model, x, rows, train[~held], train[held])
    return inner, _head_fit_score(model, x, rows, train, score)


def _stack_scores(rows, blocks, extra, train, score, params, head=None, objective="classify"):
    """The stacker (one booster per seed of :data:`SEEDS`) trained on ``train``: its probabilities on ``score``
    and the model."""
    sub = {k: v[train] for k, v in extra.items()}
    out = {k: v[score] for k, v in extra.items()}
    if head is not None:
        sub["head"], out["head"] = head
    model = vs.StackedVariantModel(blocks, params, SEEDS, objective).fit([rows[i] for i in train], sub)
    return model.predict([rows[i] for i in score], out), model


def logistic_scores(rows, train, score) -> np.ndarray:
    """Logistic regression on the hand features of rows ``train``, scored on rows ``score``."""
    return vm.logistic_scores([rows[i] for i in train], [rows[i] for i in score])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mapsy", required=True)
    parser.add_argument("--work", required=True, help="feature cache folder; reruns resume from it")
    parser.add_argument("--site-model", default="checkpoints/splicebert-small-splice-sites-nt")
    parser.add_argument("--mlm-model", default="checkpoints/splicebert-small-pretrained")
    parser.add_argument("--cnn-model", help="txformers' dilated-CNN splice-site model (finetune_splice_nt --model cnn)")
    parser.add_argument("--head-model", default="checkpoints/splicebert-small-variant-effect")
    parser.add_argument("--head-features", help="cached pair features of the frozen encoder (finetune --work)")
    parser.add_argument("--json", help="results file to add the stacked model and the baselines to")
    parser.add_argument("--save", help="variant-effect checkpoint folder to write the stacked model into")
    parser.add_argument("--test-fold", type=int, default=0)
    parser.add_argument("--cv-only", action="store_true", help="model selection only: the kept-aside fold untouched")
    parser.add_argument("--peer-scores", help="benchmarks/peers_mapsy.py TSV: paired AP differences on the kept-aside "
                        "fold (comparison only, never features)")  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    rows = [r for r in read_pairs(args.mapsy, with_targets=True) if not r["reason"]]
    frame = pd.DataFrame(rows)
    folds = vm.grouped_folds(frame["exon_key"], frame["label"], n_splits=5, seed=0)
    y = frame["label"].to_numpy()
    dev, test = np.flatnonzero(folds != args.test_fold), np.flatnonzero(folds == args.test_fold)
    extra = model_blocks(rows, args.site_model, args.mlm_model, work, args.cnn_model)
    candidates = [(b, o) for b, o in CANDIDATES if set(b) - {"kmer", "head"} <= set(extra)]

    from transformers import AutoTokenizer

    from ..models.splicebert import SpliceBertForVariantEffect

    head_model = SpliceBertForVariantEffect.from_pretrained(args.head_model)
    if args.head_features:
        x_head = np.load(args.head_features)
    else:
        tokenizer = AutoTokenizer.from_pretrained(args.head_model)
        x_head = _cached(work, "pair", args.head_model, lambda: vm.pair_features(head_model, tokenizer, rows))
    bundled_head = {k: v.clone() for k, v in head_model.variant_head.state_dict().items()}

    cv_folds = [f for f in range(5) if f != args.test_fold]
    head_cache = {}

    def cv(fn) -> np.ndarray:
        oof = np.full(len(rows), np.nan)
        for f in cv_folds:
            train, held = np.flatnonzero((folds != f) & (folds != args.test_fold)), np.flatnonzero(folds == f)
            oof[held] = fn(train, held, f)
        return oof[dev]

    def head_for(train, held, f):
        if f not in head_cache:
            head_cache[f] = oof_head(head_model, x_head, rows, folds, train, held)
        return head_cache[f]

    selection = []
    best = None
    params = PARAMS
    for blocks, objective in candidates:
        scores = cv(
            lambda tr, he, f, b=blocks, o=objective: _stack_scores(
                rows, b, extra, tr, he, params, head_for(tr, he, f) if "head" in b else None, o
            )[0]
        )
        ap = vm.metrics_with_ci(scores, y[dev], n_boot=1)["average_precision"]
        selection.append({"blocks": list(blocks), "params": params, "objective": objective, "cv_average_precision": ap})
        print(f"stack {blocks} {objective}: CV AP {ap:.4f}", flush=True)
        if best is None or ap > best[0]:
            best = (ap, blocks, objective, scores)
    _, blocks, objective, cv_best = best
    cv_raw = {
        "stacked_lightgbm": cv_best,
        "logistic_regression_hand_features": cv(lambda tr, he, f: logistic_scores(rows, tr, he)),
    }

    # The kept-aside fold, once: stacker trained on the dev folds (head scores out of fold there) and the bundled
    # head (trained on the dev folds) for the test rows.
    head = None
    if "head" in blocks:
        inner, _ = oof_head(head_model, x_head, rows, folds, dev, test[:1])
        head_model.variant_head.load_state_dict(bundled_head)
        head = (inner, 1 / (1 + np.exp(-vm.head_scores(head_model, x_head[test]))))
    test_scores, final = _stack_scores(rows, blocks, extra, dev, test, params, head, objective)
    test_raw = {
        "stacked_lightgbm": test_scores,
        "logistic_regression_hand_features": logistic_scores(rows, dev, test),
    }
    report = {
        "chosen": {"blocks": list(blocks), "params": params, "objective": objective, "seeds": list(SEEDS)},
        "selection": selection,
        "site_model": args.site_model,
        "mlm_model": args.mlm_model,
        "cnn_model": args.cnn_model,
        "head_model": args.head_model,
        "cv": {k: vm.metrics_with_ci(v, y[dev]) for k, v in cv_raw.items()},
        "test": {k: vm.metrics_with_ci(v, y[test]) for k, v in test_raw.items()},
    }
    if args.peer_scores:
        peers = pd.read_csv(args.peer_scores, sep="\t").set_index("id")
        report["paired_vs_peers"] = {}
        for column in [c for c in ("spliceai_max_delta", "mmsplice_neg_delta_logit_psi") if c in peers]:
            theirs = frame["id"].iloc[test].map(peers[column]).to_numpy(dtype=float)
            if np.isfinite(theirs).all():
                report["paired_vs_peers"][column] = paired_ap_difference(test_scores, theirs, y[test])
    subset = frame["mmsplice_test"].to_numpy()[test]  # MMSplice's CAGI test rows (every ESM positive is one)
    report["test_mmsplice_test_rows"] = {k: vm.metrics_with_ci(v[subset], y[test][subset]) for k, v in test_raw.items()}
    command = shlex.join(["nice", "-n", "10", "python", "-m", "txformers.training.stack_variant_effect"])
    report["command"] = command + " " + shlex.join(argv or sys.argv[1:])
    pd.DataFrame({"id": frame["id"].iloc[test].to_numpy(), "label": y[test], **test_raw}).to_csv(
        work / "stacked_test_scores.tsv", sep="\t", index=False
    )
    for split in ("cv", "test"):
        for name, m in report[split].items():
            ci = m["average_precision_ci95"]
            print(
                f"{split} {name:<36}AP {m['average_precision']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] AUROC {m['auroc']:.3f}"
            )

    if args.save:
        # The bundled stacker is the one the kept-aside numbers describe (trained on the dev folds).
        final.meta = {
            "site_model": args.site_model,
            "mlm_model": args.mlm_model,
            "cnn_model": args.cnn_model,
            "trained_on": f"MaPSy dev folds (all but fold {args.test_fold})",
            "head": "this checkpoint's SpliceBertForVariantEffect head (sigmoid)" if head else None,
        }
        final.save(args.save)
        test_extra = {k: v[test] for k, v in extra.items()}
        if head:
            test_extra["head"] = head[1]
        again = vs.StackedVariantModel.load(args.save).predict([rows[i] for i in test], test_extra)
        if not np.allclose(again, test_scores, atol=1e-6):
            raise RuntimeError("the saved stacked model does not reproduce the kept-aside scores")
        report["saved"] = args.save
    if args.json:
        results = merge_results(args.json, report)
        if args.save and "command" in results:
            from .finetune_variant_effect import readme

            atomic_write_text(Path(args.save) / "README.md", readme(results, results["command"]))
    return report


def paired_ap_difference(ours, theirs, labels, n_boot: int = 1000, seed: int = 0) -> dict:
    """AP(ours) - AP(theirs) on the same rows with a paired bootstrap 95 % CI and the share of resamples above 0."""
    from sklearn.metrics import average_precision_score

    ours, theirs, labels = (np.asarray(v, dtype=float) for v in (ours, theirs, labels))
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        index = rng.integers(0, len(labels), len(labels))
        if labels[index].min() == labels[index].max():
            continue
        y = labels[index]
        diffs.append(average_precision_score(y, ours[index]) - average_precision_score(y, theirs[index]))
    point = average_precision_score(labels, ours) - average_precision_score(labels, theirs)
    low, high = np.percentile(diffs, [2.5, 97.5])
    share = float(np.mean(np.asarray(diffs) > 0))
    return {"ap_difference": round(float(point), 4), "ci95": [round(float(low), 4), round(float(high), 4)],
            "share_of_resamples_above_0": round(share, 3)}  # fmt: skip


def merge_results(path: str, stacked: dict) -> dict:
    """Add the stacked model and the LR baseline to the results file's ``cv`` / ``test`` tables."""
    results = json.loads(Path(path).read_text()) if Path(path).exists() else {"cv": {}, "test": {}}
    tables = ("cv", "test", "test_mmsplice_test_rows")
    for split in tables:
        results.setdefault(split, {}).update(stacked.get(split, {}))
    results["stacked"] = {k: v for k, v in stacked.items() if k not in tables}
    atomic_write_text(path, json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":  # pragma: no cover
    main()
