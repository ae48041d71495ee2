# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Per-nucleotide splice-site training (labels none / acceptor / donor per nucleotide) and its baselines.

One entry point trains one model on the EnsembleSplice human windows with per-nucleotide labels
(:mod:`txformers.tasks.splicing.nt_sites`: SpliceAI position convention, non-consensus positions
``none``, decoy centres ``none``, random crops of ``--context`` nt), picks the step with the best
validation AUROC (validation cut from Train), and scores the Test windows (centre site, AUROC/AP with
bootstrap 95 % CIs; off-target calls per kb in real windows)::

    # SpliceBERT from the pretrained checkpoint (or --init random: same architecture, random weights)
    nice -n 10 python -m txformers.training.finetune_splice_nt --model splicebert --init pretrained \\
        --data-dir ../shared/data/splice/ensemblesplice_600nt/homo_sapiens --context 400 \\
        --max-steps 600 --output-dir runs/splice-nt/bert-400
    # baselines on the same windows
    ... --model cnn --output-dir runs/splice-nt/cnn-400
    ... --model logreg --output-dir runs/splice-nt/logreg

Resumable: every ``--save-every`` steps ``OUTPUT/checkpoint/`` (model, optimizer, scheduler, step,
best score) is replaced atomically; rerunning the same command continues from it (the batches are
a function of ``--seed`` and the step, so a resumed run sees the same data). Each evaluation appends
a line to ``OUTPUT/metrics.jsonl``. The best model goes to ``OUTPUT/best/`` (``save_pretrained`` for
SpliceBERT, so ``AutoModelForTokenClassification.from_pretrained(..., trust_remote_code=True)`` loads
it), the results to ``OUTPUT/results.json`` (and ``--results-json`` if given).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..io import atomic_folder, atomic_write_text
from ..tasks.splicing import nt_sites as nt
from ..tasks.splicing.cnn_baseline import SpliceCNN

CLS_ID, SEP_ID = 2, 3


# ----------------------------------------------------------------------------- models
def build_model(args: argparse.Namespace):
    if args.model == "cnn":
        torch.manual_seed(args.seed)
        return SpliceCNN(channels=args.cnn_channels)
    from ..models.splicebert import SpliceBertConfig, SpliceBertForTokenClassification

    head = dict(
        num_labels=3,
        id2label=nt.NT_ID2LABEL,
        label2id=nt.NT_LABEL2ID,
        window_size=args.context,
        classifier_conv_kernel=args.conv_kernel,
        custom_pipelines={},
    )
    if args.init == "pretrained":
        return SpliceBertForTokenClassification.from_pretrained(args.pretrained, **head)
    torch.manual_seed(args.seed)
    config = SpliceBertConfig.from_pretrained(args.pretrained, **head)
    return SpliceBertForTokenClassification(config)


def weighted_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the labelled positions, each weighted (the annotated centres by ``--site-weight``)."""
    losses = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="none"
    )
    weights = weights.reshape(-1) * (labels.reshape(-1) != -100)
    return (losses * weights).sum() / weights.sum().clamp_min(1e-8)


def forward_logits(model, ids: torch.Tensor, labels: torch.Tensor | None = None):
    """Per-nucleotide logits ``(batch, length, 3)`` (and the loss) from nucleotide token ids."""
    if isinstance(model, SpliceCNN) or isinstance(getattr(model, "module", None), SpliceCNN):
        out = model(input_ids=ids, labels=labels)
        return out.logits, out.loss
    n = len(ids)
    cls, sep = (torch.full((n, 1), token, dtype=ids.dtype, device=ids.device) for token in (CLS_ID, SEP_ID))
    full = torch.cat([cls, ids, sep], 1)
    full_labels = None
    if labels is not None:
        pad = torch.full((n, 1), -100, dtype=labels.dtype, device=labels.device)
        full_labels = torch.cat([pad, labels, pad], 1)
    out = model(input_ids=full, labels=full_labels)
    return out.logits[:, 1:-1], out.loss


@torch.inference_mode()
def predict_crops(model, ids: np.ndarray, batch_size: int, device) -> np.ndarray:
    """Softmax probabilities ``(windows, length, 3)`` (float16 to bound memory) of equal-length crops."""
    model.eval()
    out = []
    for start in range(0, len(ids), batch_size):
        batch = torch.as_tensor(ids[start : start + batch_size].astype(np.int64), device=device)
        out.append(forward_logits(model, batch)[0].float().softmax(-1).cpu().numpy().astype(np.float16))
    return np.concatenate(out)


def predict_full(model, sequences, context: int, batch_size: int, device) -> list[np.ndarray]:
    """Full-window probabilities: the CNN reads whole windows; SpliceBERT reads ``context``-nt windows
    overlapping by half, stitched by the scoring engine (the way ``splice predict`` reads sequences)."""
    if isinstance(model, SpliceCNN):
        return list(predict_crops(model, nt.encode_ids(list(sequences)), batch_size, device).astype(np.float32))
    from ..models.splicebert.scoring_splicebert import per_nucleotide_outputs
    from ..tokenizers.tokenization_nucleotide import NucleotideTokenizer

    logits = per_nucleotide_outputs(
        model, NucleotideTokenizer(), list(sequences), window_size=context, batch_size=batch_size, device=device
    )
    return [torch.as_tensor(x).softmax(-1).numpy() for x in logits]


def evaluate_split(model, split: dict, args, device, full: int = 0) -> dict:
    start = nt.central_crop_start(len(split["sequence"][0]), args.context)
    ids = nt.encode_ids(list(split["sequence"]))[:, start : start + args.context]
    probabilities = predict_crops(model, ids, args.eval_batch_size, device)
    result = {"centre": nt.centre_metrics(nt.centre_scores(probabilities, split, start), split, args.bootstrap)}
    if full:
        real = np.flatnonzero(split["is_site"])  # a fixed random subset of the real windows
        rows = np.sort(np.random.default_rng(0).permutation(real)[:full])
        part = {k: v[rows] for k, v in split.items()}
        result["off_target"] = nt.off_target_calls(
            predict_full(model, part["sequence"], args.context, args.eval_batch_size, device), part
        )
    return result


def selection(metrics: dict) -> float:
    return float(np.mean([m["auroc"] for m in metrics["centre"].values()]))


# ----------------------------------------------------------------------------- logistic regression
def logistic_regression(splits: dict, labels: np.ndarray, args) -> dict:
    """Multinomial logistic regression on one-hot +-``--lr-flank`` nt around each labelled position
    (all centres plus ``--lr-none-per-window`` random labelled positions per window)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(args.seed)
    ids = nt.encode_ids(list(splits["train"]["sequence"]))
    centre = np.where(splits["train"]["site_type"] == "donor", nt.DONOR_INDEX, nt.ACCEPTOR_INDEX)
    rows, positions = [np.arange(len(ids))], [centre]
    for _ in range(args.lr_none_per_window):
        pos = rng.integers(0, ids.shape[1], len(ids))
        rows.append(np.arange(len(ids)))
        positions.append(pos)
    rows, positions = np.concatenate(rows), np.concatenate(positions)
    y = labels[rows, positions]
    keep = y != -100
    x = nt.one_hot_positions(ids, rows[keep], positions[keep], args.lr_flank)
    started = time.perf_counter()
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y[keep])
    seconds = time.perf_counter() - started

    def probs(split, rows, positions):
        p = np.zeros((len(rows), 3))
        p[:, model.classes_] = model.predict_proba(
            nt.one_hot_positions(nt.encode_ids(list(split["sequence"])), rows, positions, args.lr_flank)
        )
        return p

    result = {"train_seconds": seconds, "training_positions": int(keep.sum())}
    for name in ("validation", "test"):
        split = splits[name]
        index = np.where(split["site_type"] == "donor", nt.DONOR_INDEX, nt.ACCEPTOR_INDEX)
        column = np.where(split["site_type"] == "donor", 2, 1)
        p = probs(split, np.arange(len(index)), index)
        result[name] = {"centre": nt.centre_metrics(p[np.arange(len(index)), column], split, args.bootstrap)}
    real = np.flatnonzero(splits["test"]["is_site"])
    real = np.sort(np.random.default_rng(0).permutation(real)[: args.off_target_windows])
    part = {k: v[real] for k, v in splits["test"].items()}
    length = len(part["sequence"][0])
    p = probs(part, np.repeat(np.arange(len(real)), length), np.tile(np.arange(length), len(real)))
    result["test"]["off_target"] = nt.off_target_calls(list(p.reshape(len(real), length, 3)), part)
    return result


# ----------------------------------------------------------------------------- training
def batch_for_step(train_ids, train_labels, train_centres, step: int, args) -> tuple[torch.Tensor, ...]:
    """The batch of one step (ids, labels, loss weights): a function of (seed, step) only, so a resumed
    run sees the same data. The annotated centre (site or decoy) weighs ``--site-weight``, unannotated GT/AG
    candidates ``--candidate-weight`` (labelled none; ignored at 0), the rest 1."""
    rng = np.random.default_rng([args.seed, step])
    rows = rng.integers(0, len(train_ids), args.batch_size)
    starts = nt.random_crop_start(rng, train_ids.shape[1], args.context, args.batch_size, args.label_margin)
    columns = starts[:, None] + np.arange(args.context)[None, :]
    ids = train_ids[rows[:, None], columns].astype(np.int64)
    labels = train_labels[rows[:, None], columns].astype(np.int64)
    weights = np.ones(labels.shape, dtype=np.float32)
    if args.candidate_weight:  # the files' unannotated GT/AG candidates as "none", each weighing --candidate-weight
        candidates = labels == -100
        candidates[np.arange(len(rows)), train_centres[rows] - starts] = False
        labels[candidates] = 0
        weights[candidates] = args.candidate_weight
    if args.label_margin:  # supervise only positions with --label-margin nt of context on both sides
        labels[:, : args.label_margin] = -100
        labels[:, args.context - args.label_margin :] = -100
    weights[np.arange(len(rows)), train_centres[rows] - starts] = args.site_weight
    return torch.as_tensor(ids), torch.as_tensor(labels), torch.as_tensor(weights)


def save_checkpoint(folder: Path, model, optimizer, scheduler, step: int, best: dict) -> None:
    with atomic_folder(folder) as tmp:
        torch.save(model.state_dict(), tmp / "model.pt")
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({"step": step, "best": best}))


def save_best(folder: Path, model) -> None:
    with atomic_folder(folder) as tmp:
        if isinstance(model, SpliceCNN):
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
            (tmp / "config.json").write_text(json.dumps(model.hparams))
        else:
            from ..tokenizers.tokenization_nucleotide import NucleotideTokenizer

            model.save_pretrained(tmp)
            NucleotideTokenizer().save_pretrained(tmp)


def load_best(folder: Path, model):
    if isinstance(model, SpliceCNN):
        from safetensors.torch import load_file

        model.load_state_dict(load_file(folder / "model.safetensors"))
        return model
    from ..models.splicebert import SpliceBertForTokenClassification

    return SpliceBertForTokenClassification.from_pretrained(folder)


def train(splits: dict, labels: np.ndarray, args, output: Path) -> dict:
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=args.cpu, mixed_precision=args.mixed_precision)
    model = build_model(args)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.max_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(args.warmup_steps, 1)) * max(0.0, 1 - s / steps)
    )
    step, best = 0, {"validation_auroc": -math.inf, "step": 0}
    checkpoint = output / "checkpoint"
    if (checkpoint / "state.json").exists():
        model.load_state_dict(torch.load(checkpoint / "model.pt", weights_only=True, map_location="cpu"))
        states = torch.load(checkpoint / "optimizer.pt", weights_only=True)
        optimizer.load_state_dict(states["optimizer"])
        scheduler.load_state_dict(states["scheduler"])
        state = json.loads((checkpoint / "state.json").read_text())
        step, best = state["step"], state["best"]
        accelerator.print(f"resuming from step {step} (best validation AUROC {best['validation_auroc']:.4f})")
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    log = output / "metrics.jsonl"
    if log.exists():  # drop lines past the checkpoint (written after it, before an interruption)
        kept = [line for line in log.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        atomic_write_text(log, "".join(line + "\n" for line in kept))
    train_ids = nt.encode_ids(list(splits["train"]["sequence"]))
    centres = np.where(splits["train"]["site_type"] == "donor", nt.DONOR_INDEX, nt.ACCEPTOR_INDEX)
    # a fixed random subset (the split is ordered by file: donor sites, donor decoys, acceptor ...)
    subset = np.sort(
        np.random.default_rng(0).permutation(len(splits["validation"]["sequence"]))[: args.validation_windows]
    )
    validation = {k: v[subset] for k, v in splits["validation"].items()}
    losses, started, step_seconds = [], time.perf_counter(), []
    while step < steps:
        step += 1
        model.train()
        tick = time.perf_counter()
        ids, batch_labels, weights = (
            x.to(accelerator.device) for x in batch_for_step(train_ids, labels, centres, step, args)
        )
        logits, _ = forward_logits(model, ids)
        loss = weighted_loss(logits, batch_labels, weights)
        accelerator.backward(loss)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        step_seconds.append(time.perf_counter() - tick)
        if step % args.eval_every == 0 or step == steps:
            metrics = evaluate_split(accelerator.unwrap_model(model), validation, args, accelerator.device)
            auroc = selection(metrics)
            line = {
                "step": step,
                "train_loss": float(np.mean(losses)),
                "validation_auroc": auroc,
                "validation": {s: {k: m[k] for k in ("auroc", "ap")} for s, m in metrics["centre"].items()},
                "seconds_per_step": float(np.mean(step_seconds)),
            }
            with open(log, "a") as handle:
                handle.write(json.dumps(line) + "\n")
            accelerator.print(
                f"step {step}/{steps} loss {line['train_loss']:.4f} val AUROC {auroc:.4f} "
                f"({line['seconds_per_step']:.3f} s/step)"
            )
            losses, step_seconds = [], []
            if auroc > best["validation_auroc"]:
                best = {"validation_auroc": auroc, "step": step}
                save_best(output / "best", accelerator.unwrap_model(model))
        if step % args.save_every == 0 or step == steps:
            save_checkpoint(checkpoint, accelerator.unwrap_model(model), optimizer, scheduler, step, best)
    history = [json.loads(line) for line in log.read_text().splitlines() if line]
    model = load_best(output / "best", accelerator.unwrap_model(model)).to(accelerator.device)
    result = {
        "best": best,
        "history": history,
        "seconds_per_step": float(np.mean([h["seconds_per_step"] for h in history])),
        "session_train_seconds": time.perf_counter() - started,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    result["validation"] = evaluate_split(model, splits["validation"], args, accelerator.device)
    result["test"] = evaluate_split(model, splits["test"], args, accelerator.device, full=args.off_target_windows)
    return result


# ----------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m txformers.training.finetune_splice_nt",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", required=True, help="EnsembleSplice layout folder of one species")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--model", choices=["splicebert", "cnn", "logreg"], default="splicebert")
    parser.add_argument("--init", choices=["pretrained", "random"], default="pretrained")
    parser.add_argument("--pretrained", default="checkpoints/splicebert-small-pretrained")
    parser.add_argument("--context", type=int, default=400, help="nucleotides per training/evaluation crop")
    parser.add_argument("--label-fraction", type=float, default=1.0, help="fraction of the training windows used")
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--validation-windows", type=int, default=1000, help="windows scored at each evaluation")
    parser.add_argument("--max-steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument(
        "--site-weight", type=float, default=1.0, help="loss weight of each window's annotated centre (others 1)"
    )
    parser.add_argument(
        "--candidate-weight",
        type=float,
        default=0.0,
        help="train the GT/AG candidates the files do not annotate (other than the centre) as none with this "
        "weight (0: ignore them; some are real sites the windows do not annotate)",
    )
    parser.add_argument(
        "--label-margin",
        type=int,
        default=0,
        help="train on positions at least this many nt from both crop edges (the site always among them)",
    )
    parser.add_argument(
        "--conv-kernel",
        type=int,
        default=0,
        help="SpliceBERT: width of the convolution over the hidden states before the per-nt head (0: linear head)",
    )
    parser.add_argument("--cnn-channels", type=int, default=32)
    parser.add_argument("--lr-flank", type=int, default=60, help="logistic regression: nt each side")
    parser.add_argument("--lr-none-per-window", type=int, default=4)
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95 %% CIs")
    parser.add_argument("--off-target-windows", type=int, default=400, help="real Test windows scanned whole")
    parser.add_argument("--results-json", default=None, help="also write the results here")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even where a GPU is available")
    parser.add_argument(
        "--mixed-precision",
        choices=["no", "fp16", "bf16"],
        default="no",
        help="autocast (bf16 is fast on CPUs with AMX or AVX512-BF16 and on recent GPUs)",
    )
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    splits = nt.load_windows(args.data_dir, args.validation_fraction, cache_dir=args.cache_dir)
    if not 0 < args.label_fraction <= 1:
        raise SystemExit("error: --label-fraction must be in (0, 1]")
    if args.label_fraction < 1:
        keep = np.random.default_rng(args.seed).permutation(len(splits["train"]["sequence"]))
        keep = np.sort(keep[: max(1, round(args.label_fraction * len(keep)))])
        splits["train"] = {k: v[keep] for k, v in splits["train"].items()}
    labels = nt.window_labels(splits["train"])
    results: dict = {
        "command": "python -m txformers.training.finetune_splice_nt "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "args": vars(args),
        "convention": nt.CONVENTION_NT,
        "labels": nt.NT_ID2LABEL,
        "layout_check": {name: nt.check_layout(split) for name, split in splits.items()},
        "splits": {name: int(len(split["sequence"])) for name, split in splits.items()},
        "training_labels": {nt.NT_ID2LABEL.get(v, "ignored"): int((labels == v).sum()) for v in (-100, 0, 1, 2)},
    }
    if args.model == "logreg":
        results["logreg"] = logistic_regression(splits, labels, args)
    else:
        results[args.model] = train(splits, labels, args, output)
    text = json.dumps(results, indent=2, default=str)
    atomic_write_text(output / "results.json", text)
    if args.results_json:
        Path(args.results_json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.results_json, text)
    test = results[args.model]["test"]
    for site, m in test["centre"].items():
        print(
            f"{args.model} test {site}: AUROC {m['auroc']:.4f} [{m['auroc_ci95'][0]:.4f}, {m['auroc_ci95'][1]:.4f}] "
            f"AP {m['ap']:.4f} [{m['ap_ci95'][0]:.4f}, {m['ap_ci95'][1]:.4f}]"
            if "auroc_ci95" in m
            else f"{args.model} test {site}: AUROC {m['auroc']:.4f} AP {m['ap']:.4f}"
        )
    print(f"off-target calls per kb: {test['off_target']['off_target_per_kb']:.3f}")
    return results


if __name__ == "__main__":
    main()
