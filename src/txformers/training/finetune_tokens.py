# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Per-nucleotide (token-classification) fine-tuning: branchpoints and splice sites.

One command fine-tunes :class:`SpliceBertForTokenClassification` from a pretrained SpliceBERT,
keeps the step with the best validation AUROC, scores the held-out test split and writes a
results JSON, the test predictions and the model:

    # Branchpoints (Mercer et al. 2015): BED of 27-nt labelled regions + the genome of its build
    python -m txformers.training.finetune_tokens --task branchpoint \\
        --bed ../shared/data/splice/splicebert_mercer_bp/mercer_dataset.hg19.bed.gz --fasta hg19.fa \\
        --pretrained checkpoints/splicebert-small-pretrained --output-dir runs/branchpoint

    # Splice sites: EnsembleSplice windows, the candidate GT/AG labelled donor/acceptor/neither
    python -m txformers.training.finetune_tokens --task splice-sites \\
        --data-dir ../shared/data/splice/ensemblesplice_600nt/homo_sapiens \\
        --pretrained checkpoints/splicebert-small-pretrained --output-dir runs/splice-tokens --lora

**Labels.** ``branchpoint``: :class:`~txformers.datasets.branchpoints.BranchpointsBuilder` windows
(``--window`` nt, 510 as SpliceBERT) with the 27-nt region labelled 1 (branchpoint) / 0 (not) and
everything else -100 (ignored). ``splice-sites``:
:class:`~txformers.datasets.splice_sites.SpliceSitesBuilder` windows (``--crop`` nt) whose
candidate dinucleotide's first nucleotide (the G of GT, the A of AG) is labelled 0 neither
(decoy) / 1 donor / 2 acceptor; the files annotate nothing else, so every other position is -100.
Labels are aligned to the tokens (``[CLS]`` and ``[SEP]`` get -100).

**Splits.** ``branchpoint``: grouped by chromosome (``--test-chroms``, default chr1, 3, 5, 7, 9 as
SpliceAI's test set; ``--valid-chroms``, default chr2): no region of a test chromosome is seen in
training or model selection. For SpliceBERT's 5-fold cross-validation run once per fold with
other ``--test-chroms``. ``splice-sites``: validation cut from Train (``--validation-fraction``,
stratified), Test held out.

**Metrics** over the labelled positions: per class (one-vs-rest) AUROC, AP, F1 and accuracy of
the arg-max decision, plus overall accuracy. For ``splice-sites`` the one-vs-rest numbers are
inflated by the other site type (a donor candidate is a G, an acceptor candidate an A), so the
view that matters is ``per_site_type``: as in :mod:`~txformers.training.finetune_splice`, the
candidates of one site type (true sites vs decoys) scored by P(that type), comparable with its
window classifier. Model selection uses the mean validation AUROC of ``per_site_type`` for
``splice-sites`` and of the branchpoint class for ``branchpoint``. A logistic regression on the one-hot
+-``--baseline-flank`` nt around each labelled position is trained on the same training split
and scored the same way (``--skip-baseline`` to skip it).

**LoRA.** ``--lora`` trains LoRA adapters on query/key/value/dense plus the head (peft) and saves
the merged model, so ``OUTPUT/model`` is always a plain ``SpliceBertForTokenClassification`` with
``id2label`` and ``window_size`` in its config.

Outputs in ``--output-dir``: ``results.json`` (with the exact command), ``test_predictions.tsv.gz``
(one row per labelled test position: ``id``, ``position`` (0-based in the window), ``nucleotide``,
``label``, ``p_<class>``) and ``model/`` (model + tokenizer).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

from ..datasets.branchpoints import IGNORE_INDEX
from ..models.splicebert import SpliceBertConfig, SpliceBertForTokenClassification
from ..tasks.splicing.sites import ID2LABEL as SPLICE_ID2LABEL
from ..tasks.splicing.sites import one_hot_flank, site_metrics
from ..tokenizers.tokenization_nucleotide import NucleotideTokenizer
from .run_dir import check_run_dir, claim_run_dir, data_paths, run_identity

BRANCHPOINT_ID2LABEL = {0: "none", 1: "branchpoint"}
DEFAULT_TEST_CHROMS = "chr1,chr3,chr5,chr7,chr9"
DEFAULT_VALID_CHROMS = "chr2"


class DataError(ValueError):
    """A problem with the input data or options; the command line prints it as one line (exit 2)."""


# ----------------------------------------------------------------------------- data
def _unwrap_generation_error(err: Exception) -> Exception:
    """The builder's own error (``datasets`` wraps it in ``DatasetGenerationError``)."""
    while err.__cause__ is not None and type(err).__name__ == "DatasetGenerationError":
        err = err.__cause__
    return err


def _prepare(builder) -> dict:
    try:
        builder.download_and_prepare()
    except Exception as err:  # re-raise the builder's message, not "An error occurred ..."
        cause = _unwrap_generation_error(err)
        if isinstance(cause, (ValueError, KeyError, FileNotFoundError)):
            raise DataError(cause.args[0] if cause.args else str(cause)) from err
        raise
    return builder.as_dataset()


def check_branchpoint_inputs(
    bed: str,
    fasta: str,
    test_chroms: list[str],
    valid_chroms: list[str],
    keep_all: bool = False,
    index_dir: str | None = None,
) -> dict[str, int]:
    """Check a labelled BED against its genome before building anything; regions per chromosome.

    Raises :class:`DataError` naming the BED chromosomes absent from the FASTA, or the
    ``test_chroms``/``valid_chroms`` absent from the BED, or a malformed BED line.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> _ = open(os.path.join(d, "g.fa"), "w").write(">chr1\\n" + "ACGT" * 50 + "\\n")
        >>> labels = ",".join(["0"] * 10 + ["1"] + ["0"] * 16)
        >>> _ = open(os.path.join(d, "bp.bed"), "w").write(f"chrZ\\t100\\t127\\tbp\\t{labels}\\t+\\n")
        >>> try:
        ...     check_branchpoint_inputs(os.path.join(d, "bp.bed"), os.path.join(d, "g.fa"), [], [])
        ... except DataError as err:
        ...     print(str(err).split(" of ")[0])
        chromosome 'chrZ' (line 1)
    """
    from ..datasets.branchpoints import read_branchpoint_bed
    from ..datasets.genome import FastaReader

    counts: dict[str, int] = {}
    first_line: dict[str, int] = {}
    try:
        for region in read_branchpoint_bed(bed, keep_all=keep_all):
            counts[region["chrom"]] = counts.get(region["chrom"], 0) + 1
            first_line.setdefault(region["chrom"], region["line"])
    except (ValueError, FileNotFoundError) as err:
        raise DataError(str(err)) from err
    if not counts:
        raise DataError(
            f"{bed}: no region with a positive label (1) in column 5"
            + ("" if keep_all else " (pass --keep-all to keep regions without one)")
        )
    index_path = None
    if index_dir is not None:
        Path(index_dir).mkdir(parents=True, exist_ok=True)
        index_path = str(Path(index_dir) / (Path(fasta).name + ".fai"))
    try:
        with FastaReader(fasta, index_path=index_path) as genome:
            missing = [chrom for chrom in counts if chrom not in genome]
            shown = ", ".join(genome.chroms[:10]) + (" ..." if len(genome.chroms) > 10 else "")
    except (ValueError, FileNotFoundError, ImportError) as err:
        raise DataError(str(err)) from err
    if missing:
        where = ", ".join(f"{c!r} (line {first_line[c]})" for c in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DataError(
            f"chromosome{'s' if len(missing) > 1 else ''} {where} of {bed} "
            f"{'are' if len(missing) > 1 else 'is'} not in the FASTA {fasta} (it has: {shown})"
        )
    for option, chroms in (("--test-chroms", test_chroms), ("--valid-chroms", valid_chroms)):
        absent = [c for c in chroms if c not in counts]
        if absent:
            raise DataError(
                f"{option}: {', '.join(absent)} not among the chromosomes of {bed} with labelled "
                f"regions ({', '.join(sorted(counts))})"
            )
    overlap = sorted(set(test_chroms) & set(valid_chroms))
    if overlap:
        raise DataError(f"chromosomes both in --test-chroms and --valid-chroms: {', '.join(overlap)}")
    if not set(counts) - set(test_chroms) - set(valid_chroms):
        raise DataError(f"no chromosome of {bed} is left for training once test and validation chromosomes are taken")
    return counts


def load_branchpoint_splits(
    bed: str,
    fasta: str,
    window: int,
    test_chroms: list[str],
    valid_chroms: list[str],
    keep_all: bool = False,
    index_dir: str | None = None,
    cache_dir: str | None = None,
) -> dict[str, dict]:
    """Train / validation / test of :class:`BranchpointsBuilder`, split by chromosome, as dicts of
    arrays: ``id``, ``sequence``, ``labels`` (one list of per-nt labels per window), ``chrom``."""
    from ..datasets.branchpoints import BranchpointsBuilder

    check_branchpoint_inputs(bed, fasta, test_chroms, valid_chroms, keep_all, index_dir)
    builder = BranchpointsBuilder(
        bed=bed,
        fasta=fasta,
        window=window,
        keep_all=keep_all,
        index_dir=index_dir,
        test_chroms=test_chroms or None,
        validation_chroms=valid_chroms or None,
        cache_dir=cache_dir,
    )
    splits = _prepare(builder)
    return {
        name: {
            "id": np.array(split["id"]),
            "sequence": np.array(split["sequence"]),
            "labels": list(split["labels"]),
            "chrom": np.array(split["chrom"]),
        }
        for name, split in splits.items()
    }


def load_splice_site_splits(
    data_dir: str, crop: int, validation_fraction: float, seed: int, cache_dir: str | None = None
) -> dict[str, dict]:
    """Train / validation / test of :class:`SpliceSitesBuilder` with per-nt labels: the candidate
    dinucleotide's first nucleotide carries the window's label (0 neither, 1 donor, 2 acceptor),
    every other position -100. Also ``label`` and ``site_type`` per window (for
    :func:`~txformers.tasks.splicing.sites.site_metrics`)."""
    from ..datasets.splice_sites import SpliceSitesBuilder

    builder = SpliceSitesBuilder(
        data_dir=data_dir, crop=crop, validation_fraction=validation_fraction, seed=seed, cache_dir=cache_dir
    )
    splits = _prepare(builder)
    if "test" not in splits or "train" not in splits:
        raise DataError(f"{data_dir} needs both Train/ and Test/ folders (found splits: {', '.join(splits)})")
    result = {}
    for name, split in splits.items():
        site_names = split.features["site_type"].names
        label, index = np.array(split["label"]), np.array(split["site_index"])
        sequences = np.array(split["sequence"])
        labels = []
        for sequence, value, position in zip(sequences, label, index):
            row = [IGNORE_INDEX] * len(sequence)
            row[position] = int(value)
            labels.append(row)
        result[name] = {
            "id": np.array(split["id"]),
            "sequence": sequences,
            "labels": labels,
            "label": label,
            "site_type": np.array([site_names[i] for i in split["site_type"]]),
        }
    return result


def subset(split: dict, rows: np.ndarray) -> dict:
    """The given rows of a split (arrays and lists alike)."""
    return {k: v[rows] if isinstance(v, np.ndarray) else [v[i] for i in rows] for k, v in split.items()}


def encode(tokenizer: NucleotideTokenizer, split: dict) -> dict[str, torch.Tensor]:
    """Token ids (uint8), attention mask and labels aligned to the tokens: the nucleotide at
    0-based position ``i`` is token ``i + 1``; ``[CLS]``, ``[SEP]`` and padding get -100.

    Example:
        >>> out = encode(NucleotideTokenizer(), {"sequence": ["ACG", "AC"], "labels": [[0, 1, -100], [1, 0]]})
        >>> out["labels"].tolist()
        [[-100, 0, 1, -100, -100], [-100, 1, 0, -100, -100]]
    """
    batch = tokenizer(list(split["sequence"]), padding=True, return_tensors="pt")
    labels = torch.full(batch["input_ids"].shape, IGNORE_INDEX, dtype=torch.int8)
    for row, (sequence, values) in enumerate(zip(split["sequence"], split["labels"])):
        if len(values) != len(sequence):
            raise DataError(f"window {row}: {len(values)} labels for a {len(sequence)}-nt sequence")
        labels[row, 1 : 1 + len(values)] = torch.as_tensor(np.asarray(values, dtype=np.int8))
    return {
        "input_ids": batch["input_ids"].to(torch.uint8),
        "attention_mask": batch["attention_mask"].to(torch.uint8),
        "labels": labels,
    }


# ----------------------------------------------------------------------------- metrics
def _safe(metric, truth: np.ndarray, score: np.ndarray) -> float:
    """``metric(truth, score)``, NaN when ``truth`` has a single class."""
    return float(metric(truth, score)) if 0 < truth.sum() < len(truth) else math.nan


def token_metrics(probabilities: np.ndarray, labels: np.ndarray, id2label: dict[int, str]) -> dict:
    """Per class (one-vs-rest over the labelled positions): AUROC and AP of P(class), F1 and
    accuracy of the arg-max decision; overall arg-max accuracy. NaN where a class is absent.

    Example:
        >>> m = token_metrics(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), np.array([0, 1, 1]),
        ...                   {0: "none", 1: "branchpoint"})
        >>> m["per_class"]["branchpoint"]["auroc"], round(m["accuracy"], 3)
        (1.0, 0.667)
    """
    predicted = probabilities.argmax(1)
    per_class = {}
    for index, name in sorted(id2label.items()):
        truth, decision = (labels == index).astype(int), (predicted == index).astype(int)
        per_class[name] = {
            "n_positive": int(truth.sum()),
            "auroc": _safe(roc_auc_score, truth, probabilities[:, index]),
            "ap": _safe(average_precision_score, truth, probabilities[:, index]),
            "f1": float(f1_score(truth, decision, zero_division=0.0)),
            "accuracy": float(accuracy_score(truth, decision)),
        }
    return {
        "n_positions": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "per_class": per_class,
    }


def _json_safe(value):
    """NaN (an undefined metric) as ``null``: strict JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def selection_score(metrics: dict, id2label: dict[int, str]) -> float:
    """Mean AUROC of the non-background classes (all but label 0), or of the site types (true
    sites vs decoys) when ``metrics`` has them; -1 when none is defined."""
    if "per_site_type" in metrics:
        values = [m["auroc"] for m in metrics["per_site_type"].values()]
    else:
        values = [metrics["per_class"][id2label[i]]["auroc"] for i in sorted(id2label) if i != 0]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else -1.0


def evaluate(probabilities: np.ndarray, labels: np.ndarray, split: dict, id2label: dict[int, str]) -> dict:
    """:func:`token_metrics`, plus the per-site-type window view for splice-site splits."""
    result = token_metrics(probabilities, labels, id2label)
    if "site_type" in split and len(labels) == len(split["site_type"]):  # one labelled position per window
        result["per_site_type"] = site_metrics(probabilities, split)
    return result


# ----------------------------------------------------------------------------- baseline
def flank_windows(split: dict, rows: np.ndarray, positions: np.ndarray, flank: int) -> np.ndarray:
    """The ``2 * flank`` nt ``[position + 1 - flank, position + 1 + flank)`` of each labelled
    position (N-padded), the window :func:`one_hot_flank` reads for a centred dinucleotide."""
    sequences = split["sequence"]
    pad = "N" * flank
    return np.array([(pad + sequences[r] + pad)[p + 1 : p + 1 + 2 * flank] for r, p in zip(rows, positions)])


def labelled_positions(split: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, positions, labels)`` of every labelled nucleotide, in window then position order."""
    rows, positions, labels = [], [], []
    for row, values in enumerate(split["labels"]):
        values = np.asarray(values)
        where = np.flatnonzero(values != IGNORE_INDEX)
        rows.append(np.full(len(where), row))
        positions.append(where)
        labels.append(values[where])
    return np.concatenate(rows), np.concatenate(positions), np.concatenate(labels).astype(int)


def position_baseline(
    splits: dict,
    id2label: dict[int, str],
    flank: int = 60,
    max_train: int = 100_000,
    seed: int = 0,
    chunk: int = 50_000,
) -> tuple[dict, np.ndarray]:
    """Logistic regression on the one-hot +-``flank`` nt of each labelled position, trained on at
    most ``max_train`` training positions; test metrics and test probabilities."""
    rows, positions, labels = labelled_positions(splits["train"])
    if len(labels) > max_train:
        keep = np.sort(np.random.default_rng(seed).permutation(len(labels))[:max_train])
        rows, positions, labels = rows[keep], positions[keep], labels[keep]
    features = one_hot_flank(flank_windows(splits["train"], rows, positions, flank), flank)
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(features, labels)
    rows, positions, labels = labelled_positions(splits["test"])
    probabilities = np.zeros((len(labels), len(id2label)))
    for start in range(0, len(labels), chunk):
        part = slice(start, start + chunk)
        x = one_hot_flank(flank_windows(splits["test"], rows[part], positions[part], flank), flank)
        probabilities[part][:, model.classes_] = model.predict_proba(x)
    return evaluate(probabilities, labels, splits["test"], id2label), probabilities


# ----------------------------------------------------------------------------- training
@torch.inference_mode()
def predict(model, encoded: dict[str, torch.Tensor], batch_size: int, device) -> tuple[np.ndarray, ...]:
    """Softmax probabilities at the labelled tokens: ``(rows, positions, labels, probabilities)``,
    positions 0-based in the nucleotide sequence, in window then position order."""
    model.eval()
    rows, positions, labels, probabilities = [], [], [], []
    for start in range(0, len(encoded["input_ids"]), batch_size):
        batch_labels = encoded["labels"][start : start + batch_size].long()
        keep = batch_labels != IGNORE_INDEX
        if not keep.any():
            continue
        batch = {k: encoded[k][start : start + batch_size].long().to(device) for k in ("input_ids", "attention_mask")}
        logits = model(**batch).logits
        row, token = keep.nonzero(as_tuple=True)
        rows.append(row + start)
        positions.append(token - 1)  # token 0 is [CLS]
        labels.append(batch_labels[keep])
        probabilities.append(logits.float().softmax(-1)[keep.to(logits.device)].cpu())
    return tuple(torch.cat(x).numpy() for x in (rows, positions, labels, probabilities))


def finetune(
    model: SpliceBertForTokenClassification, splits: dict, tokenizer: NucleotideTokenizer, args: argparse.Namespace
) -> tuple[SpliceBertForTokenClassification, dict, tuple]:
    """Train on ``splits["train"]``, keep the best step by validation AUROC; test metrics and
    test predictions ``(rows, positions, labels, probabilities)``."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    accelerator = Accelerator(cpu=args.cpu, mixed_precision=args.mixed_precision)
    id2label = model.config.id2label
    encoded = {name: encode(tokenizer, split) for name, split in splits.items()}
    if args.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=args.lora_r,
                lora_alpha=2 * args.lora_r,
                lora_dropout=0.05,
                modules_to_save=["classifier"],
                target_modules=["query", "key", "value", "dense"],
            ),
        )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    n_train = len(encoded["train"]["input_ids"])
    global_batch = args.batch_size * accelerator.num_processes
    steps = args.max_steps or max(1, args.epochs * (n_train // global_batch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(args.warmup_steps, 1)) * max(0.0, 1 - s / steps)
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    generator = torch.Generator().manual_seed(args.seed)
    order, position = torch.randperm(n_train, generator=generator), 0
    best, best_state, history, losses = {"validation_auroc": -math.inf, "step": 0}, None, [], []
    started = time.perf_counter()
    for step in tqdm(range(1, steps + 1), desc="fine-tuning", disable=not accelerator.is_main_process):
        model.train()
        if position + global_batch > n_train:
            order, position = torch.randperm(n_train, generator=generator), 0
        rows = order[position : position + global_batch][accelerator.process_index :: accelerator.num_processes]
        position += global_batch
        batch = {k: v[rows].long().to(accelerator.device) for k, v in encoded["train"].items()}
        loss = model(**batch).loss
        accelerator.backward(loss)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if step % args.eval_every == 0 or step == steps:
            _, _, labels, probabilities = predict(
                model, encoded["validation"], args.eval_batch_size, accelerator.device
            )
            metrics = evaluate(probabilities, labels, splits["validation"], id2label)
            auroc = selection_score(metrics, id2label)
            history.append({"step": step, "train_loss": float(np.mean(losses)), "validation_auroc": auroc})
            accelerator.print(f"step {step}/{steps} train loss {np.mean(losses):.4f} validation AUROC {auroc:.4f}")
            losses = []
            if auroc > best["validation_auroc"]:
                best = {"validation_auroc": auroc, "step": step, "validation": metrics}
                best_state = copy.deepcopy(accelerator.unwrap_model(model).state_dict())
    train_seconds = time.perf_counter() - started
    model = accelerator.unwrap_model(model)
    model.load_state_dict(best_state)
    if args.lora:
        model = model.merge_and_unload()
    predictions = predict(model, encoded["test"], args.eval_batch_size, accelerator.device)
    result = {
        "best": best,
        "history": history,
        "test": evaluate(predictions[3], predictions[2], splits["test"], id2label),
        "train_seconds": train_seconds,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return model, result, predictions


def write_predictions(path: Path, split: dict, predictions: tuple, id2label: dict[int, str]) -> None:
    """One TSV row per labelled position: id, position, nucleotide, label, p_<class>."""
    import pandas as pd

    rows, positions, labels, probabilities = predictions
    table = pd.DataFrame(
        {
            "id": split["id"][rows],
            "position": positions,
            "nucleotide": [split["sequence"][r][p] for r, p in zip(rows, positions)],
            "label": labels,
            **{f"p_{name}": probabilities[:, i] for i, name in sorted(id2label.items())},
        }
    )
    table.to_csv(path, sep="\t", index=False)


# ----------------------------------------------------------------------------- command line
def _chroms(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m txformers.training.finetune_tokens",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", required=True, choices=["branchpoint", "splice-sites"])
    parser.add_argument("--pretrained", required=True, help="pretrained SpliceBERT (txformers or original folder)")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the results of an earlier run in --output-dir"
    )
    group = parser.add_argument_group("branchpoint")
    group.add_argument("--bed", help="Mercer-style labelled BED (27-nt regions, per-nt labels in column 5)")
    group.add_argument("--fasta", help="genome FASTA of the BED's build (e.g. hg19)")
    group.add_argument("--window", type=int, default=510, help="window length around each region")
    group.add_argument("--test-chroms", default=DEFAULT_TEST_CHROMS, help="comma-separated test chromosomes")
    group.add_argument("--valid-chroms", default=DEFAULT_VALID_CHROMS, help="comma-separated validation chromosomes")
    group.add_argument("--keep-all", action="store_true", help="keep regions without a branchpoint")
    group.add_argument("--index-dir", default=None, help="folder for the FASTA .fai when the FASTA's is read-only")
    group = parser.add_argument_group("splice-sites")
    group.add_argument("--data-dir", help="EnsembleSplice/Spliceator layout folder of one species")
    group.add_argument("--crop", type=int, default=400, help="window length centred on the candidate GT/AG")
    group.add_argument("--validation-fraction", type=float, default=0.1)
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=1)
    group.add_argument("--max-steps", type=int, default=0, help="overrides --epochs when > 0")
    group.add_argument("--batch-size", type=int, default=32)
    group.add_argument("--eval-batch-size", type=int, default=128)
    group.add_argument("--lr", type=float, default=2e-4)
    group.add_argument("--warmup-steps", type=int, default=50)
    group.add_argument("--eval-every", type=int, default=200)
    group.add_argument("--limit-train", type=int, default=0, help="use only this many training windows (0: all)")
    group.add_argument("--lora", action="store_true", help="LoRA adapters + head instead of full fine-tuning")
    group.add_argument("--lora-r", type=int, default=8)
    group.add_argument("--baseline-flank", type=int, default=60, help="nt each side for the logistic regression")
    group.add_argument("--skip-baseline", action="store_true")
    group.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no")
    group.add_argument("--cpu", action="store_true")
    group.add_argument("--cache-dir", default=None, help="datasets cache folder")
    group.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> dict:
    """Run the command; returns the results dict also written to ``OUTPUT/results.json``."""
    from accelerate import PartialState
    from accelerate.utils import set_seed

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.task == "branchpoint" and not (args.bed and args.fasta):
        parser.error("--task branchpoint needs --bed and --fasta")
    if args.task == "splice-sites" and not args.data_dir:
        parser.error("--task splice-sites needs --data-dir")
    output = Path(args.output_dir)
    identity = run_identity("finetune_tokens", args, data_paths(args, "data_dir", "bed", "fasta", "pretrained"))
    check_run_dir(output, identity, overwrite=args.overwrite)  # before the work
    config = SpliceBertConfig.from_pretrained(args.pretrained)
    length = args.window if args.task == "branchpoint" else args.crop
    if length + 2 > config.max_position_embeddings:
        raise DataError(
            f"{'--window' if args.task == 'branchpoint' else '--crop'} {length} needs "
            f"{length + 2} positions; {args.pretrained} has max_position_embeddings="
            f"{config.max_position_embeddings}"
        )

    if args.task == "branchpoint":
        id2label = BRANCHPOINT_ID2LABEL
        test_chroms, valid_chroms = _chroms(args.test_chroms), _chroms(args.valid_chroms)
        if not test_chroms or not valid_chroms:
            raise DataError("--test-chroms and --valid-chroms must each name at least one chromosome")
        splits = load_branchpoint_splits(
            args.bed, args.fasta, args.window, test_chroms, valid_chroms, args.keep_all, args.index_dir, args.cache_dir
        )
        inputs = [args.bed, args.fasta]
    else:
        id2label = SPLICE_ID2LABEL
        splits = load_splice_site_splits(args.data_dir, args.crop, args.validation_fraction, args.seed, args.cache_dir)
        inputs = [args.data_dir]
    for name in ("train", "validation", "test"):
        if name not in splits or not len(splits[name]["sequence"]):
            raise DataError(f"the {name} split of {', '.join(inputs)} is empty")
    if args.limit_train:
        keep = np.random.default_rng(args.seed).permutation(len(splits["train"]["sequence"]))[: args.limit_train]
        splits["train"] = subset(splits["train"], np.sort(keep))

    state = PartialState(cpu=args.cpu)
    claim_run_dir(output, identity, overwrite=args.overwrite, state=state)
    tokenizer = NucleotideTokenizer()
    positions = {}
    for name, split in splits.items():
        labels = labelled_positions(split)[2]
        positions[name] = {id2label[i]: int((labels == i).sum()) for i in sorted(id2label)}
    results: dict = {
        "command": "python -m txformers.training.finetune_tokens " + " ".join(sys.argv[1:] if argv is None else argv),
        "task": args.task,
        "args": vars(args),
        "labels": id2label,
        "splits": {
            name: {"windows": len(split["sequence"]), "labelled_positions": positions[name]}
            for name, split in splits.items()
        },
    }
    if args.task == "branchpoint":
        results["chromosomes"] = {name: sorted(set(split["chrom"])) for name, split in splits.items()}
    if not args.skip_baseline:
        results[f"logistic_regression_onehot_{args.baseline_flank}nt"] = {
            "test": position_baseline(splits, id2label, args.baseline_flank, seed=args.seed)[0]
        }

    set_seed(args.seed)
    head = dict(
        num_labels=len(id2label), id2label=id2label, label2id={v: k for k, v in id2label.items()}, window_size=length
    )
    model = SpliceBertForTokenClassification.from_pretrained(args.pretrained, **head)
    model, results["model"], predictions = finetune(model, splits, tokenizer, args)
    if state.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(output / "model")
        tokenizer.save_pretrained(output / "model")
        write_predictions(output / "test_predictions.tsv.gz", splits["test"], predictions, id2label)
        (output / "results.json").write_text(json.dumps(_json_safe(results), indent=2, default=str))
        for name, result in results.items():
            if name == "model" or name.startswith("logistic_regression"):
                test = result["test"]
                shown = test.get("per_site_type") or {k: v for k, v in test["per_class"].items() if k != id2label[0]}
                print(
                    f"{name:<34}"
                    + "  ".join(
                        f"{label} AUROC {m['auroc']:.4f} AP {m['ap']:.4f} F1 {m['f1']:.4f}"
                        for label, m in shown.items()
                    )
                    + f"  accuracy {test['accuracy']:.4f}"
                )
    return results


if __name__ == "__main__":
    try:
        main()
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
