# Copyright 2026 The txformers authors. BSD-3-Clause.
"""``txformers evaluate`` for the SpliceBERT checkpoints other than the window classifier (dispatched from
:mod:`txformers.tasks.splicing.evaluation` on the config's architecture):

* **masked LM** (``SpliceBertForMaskedLM``, ``splicebert-small-pretrained``): masked-nucleotide accuracy and
  balanced accuracy on Test windows of the EnsembleSplice folder (never in the pretraining corpus, which holds
  Train windows and MaPSy WT sequences), masking as in training (:func:`~txformers.tasks.splicing.mlm.mask_tokens`,
  seed 0), the same masks for every model; next to the random-init twin (same config, ``torch.manual_seed(0)``),
  the most frequent nucleotide of Train and a context k-mer table (the +-2 true neighbours, counted on 5,000
  Train windows).
  CIs: bootstrap over windows.
* **per-nucleotide sites** (``SpliceBertForTokenClassification``, ``splicebert-small-splice-sites-nt``): Test
  windows' centres scored as ``finetune_splice_nt`` scores them (central crop of the config's ``window_size``),
  donor / acceptor AUROC and AP, next to multinomial logistic regression on one-hot +-60 nt trained on Train in
  the same run (as ``--model logreg`` of the recipe).
* **variant effect** (``SpliceBertForVariantEffect`` with a stacked model, ``splicebert-small-variant-effect``):
  the stacked model on the kept-aside MaPSy fold (``test_fold`` of ``results/splicebert/variant_effect_mapsy.json``),
  AP and AUROC, next to LightGBM on the hand features trained on the other folds in the same run. SpliceAI and
  MMSplice are recorded peers read from the results file (not re-run).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...evaluation import bootstrap_ci, make_results
from ...hub import REPO_ROOT, SHARED_DATA

WINDOWS = ("splice", "ensemblesplice_600nt", "homo_sapiens")
MAPSY = ("splice", "mapsy", "mapsy.txt")
VARIANT_RESULTS = REPO_ROOT / "results" / "splicebert" / "variant_effect_mapsy.json"
MLM_RESULTS = REPO_ROOT / "results" / "splicebert" / "splicebert-small-pretrained_eval.json"
MLM_WINDOWS, MLM_WINDOWS_QUICK = 500, 150
NT_QUICK_TEST, NT_QUICK_TRAIN = 400, 2000
VARIANT_QUICK = 400
KMER_FLANK = 2
KMER_WINDOWS = 5000  # Train windows (a fixed draw) the k-mer table and the nucleotide frequencies count
ACGT_IDS = (6, 7, 8, 9)  # A C G T in the SpliceBERT vocabulary


# ---------------------------------------------------------------------------------------------- pure helpers
def count_statistic(kind: str) -> Callable[[np.ndarray], float]:
    """A statistic over per-window counts ``(windows, 8)`` = (correct, total) for A, C, G, T: ``accuracy``
    (pooled) or ``balanced_accuracy`` (mean recall over the nucleotides present)."""

    def statistic(counts: np.ndarray) -> float:
        totals = counts.sum(0)
        correct, total = totals[0::2], totals[1::2]
        if kind == "accuracy":
            return float(correct.sum() / total.sum()) if total.sum() else float("nan")
        present = total > 0
        return float((correct[present] / total[present]).mean()) if present.any() else float("nan")

    return statistic


def window_counts(window: np.ndarray, truth: np.ndarray, predicted: np.ndarray, n_windows: int) -> np.ndarray:
    """Per-window (correct, total) for A, C, G, T (columns 0/1, 2/3, 4/5, 6/7) from masked positions given as
    ``window`` index, ``truth`` and ``predicted`` nucleotide (0-3)."""
    counts = np.zeros((n_windows, 8), dtype=np.int64)
    np.add.at(counts, (window, 2 * truth), (truth == predicted).astype(np.int64))
    np.add.at(counts, (window, 2 * truth + 1), 1)
    return counts


def kmer_context(ids: np.ndarray, rows: np.ndarray, positions: np.ndarray, flank: int = KMER_FLANK) -> np.ndarray:
    """Context code of each ``(row, position)``: the ``flank`` true nucleotides on each side (base 5: A C G T and
    anything else, including past the ends)."""
    padded = np.pad(ids, ((0, 0), (flank, flank)), constant_values=5)
    offsets = np.concatenate([np.arange(flank), np.arange(flank + 1, 2 * flank + 1)])
    letters = padded[rows[:, None], positions[:, None] + offsets[None, :]].astype(np.int64) - 6
    letters = np.where((letters >= 0) & (letters < 4), letters, 4)
    return (letters * (5 ** np.arange(2 * flank))[None, :]).sum(1)


def kmer_table(ids: np.ndarray, flank: int = KMER_FLANK) -> np.ndarray:
    """Most frequent centre nucleotide (0-3) per context code of :func:`kmer_context`, counted over every A/C/G/T
    position of token ids ``(windows, length)``; unseen contexts get the overall most frequent nucleotide."""
    rows, positions = np.nonzero(np.isin(ids, ACGT_IDS))
    codes = kmer_context(ids, rows, positions, flank)
    centre = ids[rows, positions].astype(np.int64) - 6
    counts = np.bincount(codes * 4 + centre, minlength=4 * 5 ** (2 * flank)).reshape(-1, 4)
    table = counts.argmax(1)
    table[counts.sum(1) == 0] = counts.sum(0).argmax()
    return table


def binary_rows(
    model: str,
    truth: np.ndarray,
    score: np.ndarray,
    n_bootstrap: int,
    metrics: tuple[str, ...] = ("auroc", "ap"),
    **keys: Any,
) -> list[dict]:
    """Rows of ``metrics`` (``auroc``, ``ap``, ``accuracy`` at 0.5) of one scored set with window-bootstrap 95 % CIs
    (resamples with one class dropped)."""
    from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

    from .nt_sites import bootstrap_ci as resampled_ci

    functions = {
        "auroc": roc_auc_score,
        "ap": average_precision_score,
        "accuracy": lambda truth, score: accuracy_score(truth, score > 0.5),
    }
    truth = np.asarray(truth).astype(int)
    score = np.asarray(score, dtype=float)
    rows = []
    for metric in metrics:
        function = functions[metric]
        ci = resampled_ci(truth, score, function, n_bootstrap)
        rows.append(
            {"model": model, "metric": metric, "value": float(function(truth, score)), "ci95": list(ci)}
            | {"n": int(len(truth)), **keys}
        )
    return rows


def stratified_draw(groups: np.ndarray, per_group: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices: ``per_group`` rows (or all, when fewer) of each value of ``groups``, a fixed draw."""
    rng = np.random.default_rng(seed)
    picked = []
    for value in np.unique(groups):
        rows = np.flatnonzero(groups == value)
        picked.append(rng.choice(rows, min(per_group, len(rows)), replace=False))
    return np.sort(np.concatenate(picked))


# ---------------------------------------------------------------------------------------------- masked LM
def _masked_batches(sequences: list[str], tokenizer, seed: int = 0, batch_size: int = 16) -> list[tuple]:
    """(masked input ids, attention mask, labels) per batch, masking as in training (fixed generator)."""
    import torch

    from .mlm import mask_tokens

    generator = torch.Generator().manual_seed(seed)
    batches = []
    for start in range(0, len(sequences), batch_size):
        batch = tokenizer(sequences[start : start + batch_size], padding=True, truncation=True, return_tensors="pt")
        inputs, labels = mask_tokens(batch["input_ids"], batch["attention_mask"], tokenizer, generator)
        labels[~torch.isin(labels, torch.tensor(ACGT_IDS))] = -100
        batches.append((inputs, batch["attention_mask"], labels))
    return batches


def _masked_positions(batches: list[tuple], batch_size: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(window index, position in the window without [CLS], truth 0-3) of every scored masked position."""
    windows, positions, truth = [], [], []
    for number, (_, _, labels) in enumerate(batches):
        rows, columns = np.nonzero(labels.numpy() != -100)
        windows.append(rows + number * batch_size)
        positions.append(columns - 1)
        truth.append(labels.numpy()[rows, columns] - 6)
    return np.concatenate(windows), np.concatenate(positions), np.concatenate(truth)


def _mlm_predictions(model, batches: list[tuple]) -> np.ndarray:
    import torch

    model.eval()
    predicted = []
    with torch.inference_mode():
        for inputs, attention, labels in batches:
            logits = model(input_ids=inputs, attention_mask=attention).logits
            predicted.append(logits[labels != -100][:, list(ACGT_IDS)].argmax(-1).numpy())
    return np.concatenate(predicted)


def evaluate_mlm_checkpoint(checkpoint: Path, data: Path, quick: bool) -> dict:
    import torch

    from ...models.splicebert import SpliceBertConfig, SpliceBertForMaskedLM
    from ...tokenizers.tokenization_nucleotide import NucleotideTokenizer
    from .nt_sites import encode_ids, load_windows

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        windows = load_windows(str(data), 0.1, cache_dir=cache)
    test = windows["test"]
    unique = np.unique(test["sequence"], return_index=True)[1]
    count = MLM_WINDOWS_QUICK if quick else MLM_WINDOWS
    picked = np.sort(np.random.default_rng(0).permutation(unique)[:count])
    sequences = list(test["sequence"][picked])
    tokenizer = NucleotideTokenizer()
    batches = _masked_batches(sequences, tokenizer)
    window, position, truth = _masked_positions(batches)
    torch.manual_seed(0)
    twin = SpliceBertForMaskedLM(SpliceBertConfig.from_pretrained(checkpoint))
    train = np.concatenate([windows["train"]["sequence"], windows["validation"]["sequence"]])
    train_ids = encode_ids(list(train[np.sort(np.random.default_rng(0).permutation(len(train))[:KMER_WINDOWS])]))
    frequency = np.bincount(train_ids[np.isin(train_ids, ACGT_IDS)].astype(np.int64) - 6, minlength=4).argmax()
    context = kmer_context(encode_ids(sequences), window, position)
    predictions = {
        checkpoint.name: _mlm_predictions(SpliceBertForMaskedLM.from_pretrained(checkpoint), batches),
        "random_init_twin": _mlm_predictions(twin, batches),
        "most_frequent_nucleotide": np.full(len(truth), frequency),
        f"kmer_context_{KMER_FLANK}nt_each_side": kmer_table(train_ids)[context],
    }
    n_bootstrap = 200 if quick else 1000
    rows = []
    for model, predicted in predictions.items():
        counts = window_counts(window, truth, predicted, len(sequences))
        for metric in ("accuracy", "balanced_accuracy"):
            statistic = count_statistic(metric)
            rows.append(
                {
                    "model": model,
                    "metric": metric,
                    "value": statistic(counts),
                    "ci95": bootstrap_ci(counts, statistic, n_resamples=n_bootstrap),
                    "n": len(sequences),
                    "setting": "masked nucleotides of Test windows",
                }
            )
    notes = []
    if not quick:
        rows += mapsy_zero_shot_rows(checkpoint, n_bootstrap)
        notes.append(
            "MaPSy zero-shot: MMSplice's test rows of mapsy.txt (every ESM positive is one), as test_split of "
            "results/splicebert/mapsy_zero_shot.json (python -m txformers.tasks.splicing.variant_effect)."
        )
    card = json.loads(MLM_RESULTS.read_text())["eval"] if MLM_RESULTS.is_file() else {}
    verdicts = []
    model_row = rows[0]
    if "accuracy" in card:
        low, high = model_row["ci95"]
        inside = "inside" if low <= card["accuracy"] <= high else "outside"
        verdicts.append(
            f"card accuracy {card['accuracy']:.4f} (500 held-out Train windows, heldout.txt, not kept) is {inside} "
            f"this Test-window CI [{low:.4f}, {high:.4f}]"
        )
    return make_results(
        checkpoint,
        data,
        f"{len(sequences)} unique Test windows (fixed draw, seed 0), 15 % masked with seed 0 as in training",
        [0],
        None,
        rows,
        notes=[
            "CIs: bootstrap over windows. The k-mer baseline sees the true neighbours (the model sees them masked "
            "15 % of the time).",
            "The card's held-out windows (heldout.txt of the pretraining run) were not kept: Test windows, never "
            "in the pretraining corpus, stand in for them.",
            f"{len(truth)} masked nucleotides scored.",
            *notes,
        ],
        verdicts=verdicts,
        seconds=round(time.perf_counter() - start, 1),
    )


def mapsy_zero_shot_rows(checkpoint: Path, n_bootstrap: int) -> list[dict]:
    """AP and AUROC of the masked LM's zero-shot scores (and the site-distance baseline) on MMSplice's ``test``
    rows of MaPSy (``test_split`` of ``results/splicebert/mapsy_zero_shot.json``)."""
    from ...models.splicebert import SpliceBertForMaskedLM
    from ...tokenizers.tokenization_nucleotide import NucleotideTokenizer
    from .variant_effect import load_mapsy, score_variants

    frame = load_mapsy(SHARED_DATA.joinpath(*MAPSY))
    frame = frame[frame["test"].astype(str).str.lower() == "true"].reset_index(drop=True)
    model = SpliceBertForMaskedLM.from_pretrained(checkpoint).eval()
    scores = score_variants(
        model,
        NucleotideTokenizer(),
        frame["wt_sequence"],
        frame["mut_sequence"],
        frame["position"],
        sites=list(zip(frame["exon_start"], frame["exon_end"])),
    )
    methods = {
        "kl_context": scores["kl_context"],
        "kl_variant": scores["kl_variant"],
        "neg_delta_p": -scores["delta_p"],
        "splice_site_delta_p": scores["splice_site_delta_p"],
    }
    rows = []
    setting = "MaPSy zero-shot (MMSplice test rows)"
    for method, values in methods.items():
        values = np.asarray(values, dtype=float)
        values = np.where(np.isnan(values), np.nanmin(values) - 1, values)  # unscored rank last
        rows += binary_rows(
            checkpoint.name, frame["label"].to_numpy(), values, n_bootstrap, setting=setting, method=method
        )
    distance = -np.asarray(scores["site_distance"], dtype=float)
    distance = np.where(np.isnan(distance), np.nanmin(distance) - 1, distance)
    rows += binary_rows("neg_site_distance", frame["label"].to_numpy(), distance, n_bootstrap, setting=setting)
    return rows


# ---------------------------------------------------------------------------------------------- per-nt sites
def nt_centre_scores(checkpoint: Path, split: dict, context: int, batch_size: int = 128) -> np.ndarray:
    """P(site type) at each window's convention position from the central ``context``-nt crop, read by the
    per-nucleotide checkpoint (under whatever autocast the caller has entered)."""
    import torch

    from ...models.splicebert import SpliceBertForTokenClassification
    from . import nt_sites as nt

    model = SpliceBertForTokenClassification.from_pretrained(checkpoint).eval()
    start = nt.central_crop_start(len(split["sequence"][0]), context)
    ids = nt.encode_ids(list(split["sequence"]))[:, start : start + context].astype(np.int64)
    out = []
    with torch.inference_mode():
        for first in range(0, len(ids), batch_size):
            batch = torch.as_tensor(ids[first : first + batch_size])
            ends = torch.full((len(batch), 1), 2), torch.full((len(batch), 1), 3)  # [CLS], [SEP]
            logits = model(input_ids=torch.cat([ends[0], batch, ends[1]], 1)).logits[:, 1:-1]
            out.append(logits.float().softmax(-1).numpy())
    return nt.centre_scores(np.concatenate(out), split, start)


def _nt_logistic_scores(train: dict, test: dict, flank: int = 60, none_per_window: int = 4, seed: int = 0):
    """``finetune_splice_nt --model logreg``: multinomial logistic regression on one-hot +-``flank`` nt of every
    labelled centre and ``none_per_window`` random labelled positions per Train window; Test centres scored."""
    from sklearn.linear_model import LogisticRegression

    from .evaluation_baselines import nt_centre_probabilities, nt_training_set

    x, y = nt_training_set(train, flank, none_per_window, seed)
    return nt_centre_probabilities(LogisticRegression(C=1.0, max_iter=1000).fit(x, y), test, flank)


def twin_workdir(checkpoint: Path):
    """Where the random-init twin trains: ``$TXFORMERS_EVALUATE_WORKDIR/<checkpoint name>-twin`` (kept, with its
    log: a long run can be watched, and ``finetune_splice_nt`` resumes from it), else a temporary folder."""
    import contextlib
    import os

    root = os.environ.get("TXFORMERS_EVALUATE_WORKDIR")
    if root:
        return contextlib.nullcontext(str(Path(root) / f"{checkpoint.name}-twin"))
    return tempfile.TemporaryDirectory(prefix="twin-")


def evaluate_nt_checkpoint(checkpoint: Path, data: Path, quick: bool) -> dict:
    from .nt_sites import load_windows

    start = time.perf_counter()
    config = json.loads((checkpoint / "config.json").read_text())
    context = int(config.get("window_size", 120))
    with tempfile.TemporaryDirectory() as cache:
        splits = load_windows(str(data), 0.1, cache_dir=cache)
    if "test" not in splits:
        raise ValueError(f"{data} holds no Test/ windows to score")
    # a Test-only folder (another species kept aside): the baselines and the twin train on the human Train
    # windows the checkpoint was trained on, so every row is the same cross-species transfer
    train_data = data if "train" in splits else default_data("SpliceBertForTokenClassification")
    if train_data != data:
        with tempfile.TemporaryDirectory() as cache:
            splits["train"] = load_windows(str(train_data), 0.1, cache_dir=cache)["train"]
    train, test = splits["train"], splits["test"]
    if quick:
        train = {k: v[stratified_draw(train["site_type"], NT_QUICK_TRAIN)] for k, v in train.items()}
        test = {k: v[stratified_draw(test["site_type"], NT_QUICK_TEST)] for k, v in test.items()}
    n_bootstrap = 200 if quick else 1000
    from .evaluation_baselines import NT_MODULE, lightgbm_nt_scores, nt_recipe, train_random_twin

    scores = {
        checkpoint.name: nt_centre_scores(checkpoint, test, context),
        "logistic_regression_onehot_60nt": _nt_logistic_scores(train, test),
        "lightgbm_onehot_60nt": lightgbm_nt_scores(train, test),
    }
    recipe = None if quick else nt_recipe(checkpoint)
    if recipe:  # the twin: the checkpoint's recipe from random weights, trained now
        with twin_workdir(checkpoint) as workdir:
            twin = train_random_twin(recipe, NT_MODULE, train_data, workdir)
            scores["random_init_twin"] = nt_centre_scores(twin, test, context)
    rows = []
    for site in ("donor", "acceptor"):
        mask = test["site_type"] == site
        for model, score in scores.items():
            rows += binary_rows(
                model, test["is_site"][mask], score[mask], n_bootstrap, setting=f"{site} centres (Test)"
            )
    return make_results(
        checkpoint,
        data,
        f"Test windows' centres (quick: {NT_QUICK_TEST} per site type, seed 0); logistic regression and LightGBM "
        + (
            "trained on Train (validation fraction 0.1 cut off, as in finetune_splice_nt)"
            if train_data == data
            else f"trained on the Train windows of {train_data} (the folder has no Train/: cross-species)"
        ),
        [0],
        None,
        rows,
        notes=[
            f"central {context}-nt crop; CIs: bootstrap over windows.",
            "LightGBM: the logistic regression's one-hot features and positions, fixed hyper-parameters, trees "
            "stopped early on 10 % of its training positions (never Test).",
            (
                "random_init_twin: the checkpoint's recipe (README) re-run in this evaluation with --init random: "
                + recipe
                if recipe
                else "The random-init twin is trained in full mode only (txformers evaluate CHECKPOINT)."
            ),
            "The CNN needs training; its numbers are in results/splicebert/splice_sites_nt.json "
            "(python -m txformers.training.finetune_splice_nt).",
        ],
        seconds=round(time.perf_counter() - start, 1),
    )


# ---------------------------------------------------------------------------------------------- variant effect
def _variant_head_rows(checkpoint, recorded, dev, test, truth, quick, n_bootstrap, setting) -> list[dict]:
    """The checkpoint's own head alone (the pretrained encoder) and, in full mode, its random-init twin: the same
    head on a random-init encoder (seed 0), fitted now on the training folds with the recipe's chosen setting."""
    import torch
    from transformers import AutoTokenizer

    from ...models.splicebert import SpliceBertForVariantEffect
    from . import variant_model as vm

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    own = SpliceBertForVariantEffect.from_pretrained(checkpoint).eval()
    rows = binary_rows(
        "splicebert_variant_head", truth, vm.score_pairs(own, tokenizer, test), n_bootstrap, setting=setting
    )
    chosen = recorded.get("selection", {}).get("splicebert_random_init_chosen")
    if quick or not chosen:
        return rows
    torch.manual_seed(0)
    twin = SpliceBertForVariantEffect(own.config)
    pairs = list(dev) + list(test)
    features = vm.pair_features(twin, tokenizer, pairs)
    train, held = np.arange(len(dev)), np.arange(len(dev), len(pairs))
    logits = vm.fit_head_scores(twin, features, pairs, train, held, chosen)
    return rows + binary_rows("random_init_twin", truth, 1 / (1 + np.exp(-logits)), n_bootstrap, setting=setting)


def evaluate_variant_checkpoint(checkpoint: Path, data: Path, quick: bool) -> dict:
    from ...datasets.mapsy_pairs import read_pairs
    from . import variant_model as vm
    from .variant_stack import has_stack, score_pairs_stacked

    if not has_stack(checkpoint):
        raise ValueError(f"{checkpoint} holds no stacked model (stacked.json): nothing recorded to re-derive")
    start = time.perf_counter()
    recorded = json.loads(VARIANT_RESULTS.read_text())
    rows = [r for r in read_pairs(data, with_targets=True) if not r["reason"]]
    folds = vm.grouped_folds([r["exon_key"] for r in rows], [r["label"] for r in rows])
    fold = int(recorded["test_fold"])
    dev = [r for r, f in zip(rows, folds) if f != fold]
    test = [r for r, f in zip(rows, folds) if f == fold]
    if quick:
        test = [test[i] for i in np.sort(np.random.default_rng(0).permutation(len(test))[:VARIANT_QUICK])]
    truth = np.array([r["label"] for r in test])
    n_bootstrap = 200 if quick else 1000
    setting = f"kept-aside MaPSy fold {fold}" + (f" ({VARIANT_QUICK} rows, seed 0)" if quick else "")
    results = binary_rows(
        "stacked_lightgbm", truth, score_pairs_stacked(checkpoint, test), n_bootstrap, setting=setting
    )
    results += binary_rows("lightgbm_hand_features", truth, vm.gbm_scores(dev, test), n_bootstrap, setting=setting)
    logistic = vm.logistic_scores(dev, test)
    results += binary_rows("logistic_regression_hand_features", truth, logistic, n_bootstrap, setting=setting)
    results += _variant_head_rows(checkpoint, recorded, dev, test, truth, quick, n_bootstrap, setting)
    if not quick:
        for peer in ("spliceai_max_delta", "mmsplice_neg_delta_logit_psi"):
            entry = recorded.get("test", {}).get(peer)
            if entry:
                for metric, key in (("auroc", "auroc"), ("ap", "average_precision")):
                    results.append(
                        {"model": peer, "metric": metric, "value": entry[key], "ci95": entry[f"{key}_ci95"]}
                        | {"n": entry["n"], "setting": setting, "data": "recorded peer (not re-run)"}
                    )
    card = recorded.get("test", {}).get("stacked_lightgbm", {})
    verdicts = []
    if card and not quick:
        ap = results[1]
        inside = "inside" if ap["ci95"][0] <= card["average_precision"] <= ap["ci95"][1] else "outside"
        verdicts.append(f"results file's stacked AP {card['average_precision']:.4f} is {inside} the re-derived CI")
    return make_results(
        checkpoint,
        data,
        f"MaPSy pairs, exon-grouped stratified folds (seed 0): fold {fold} kept aside, LightGBM trained on the rest",
        [0],
        None,
        results,
        notes=[
            "CIs: bootstrap over pairs. SpliceAI (CC BY-NC, benchmark only) and MMSplice are read from "
            "results/splicebert/variant_effect_mapsy.json, not re-run.",
            "splicebert_variant_head: this checkpoint's head alone (pretrained encoder, frozen). random_init_twin "
            "(full mode): the same head on a random-init encoder (seed 0), fitted in this run on the other folds "
            "with the recipe's chosen setting, 3 seeds averaged.",
        ],
        verdicts=verdicts,
        seconds=round(time.perf_counter() - start, 1),
    )


def default_data(architecture: str) -> Path:
    return SHARED_DATA.joinpath(*(MAPSY if architecture == "SpliceBertForVariantEffect" else WINDOWS))


EVALUATORS = {
    "SpliceBertForMaskedLM": evaluate_mlm_checkpoint,
    "SpliceBertForTokenClassification": evaluate_nt_checkpoint,
    "SpliceBertForVariantEffect": evaluate_variant_checkpoint,
}

__all__ = [
    "EVALUATORS",
    "binary_rows",
    "count_statistic",
    "default_data",
    "evaluate_mlm_checkpoint",
    "evaluate_nt_checkpoint",
    "evaluate_variant_checkpoint",
    "kmer_context",
    "kmer_table",
    "stratified_draw",
    "window_counts",
]
