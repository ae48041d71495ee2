# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Per-nucleotide splice-site data and evaluation (labels ``none / acceptor / donor`` per nucleotide).

**Position convention (SpliceAI's).** A donor is reported at the *last exon nucleotide* (the one
before the intron's ``GT``), an acceptor at the *first exon nucleotide* (the one after the intron's
``AG``). In the EnsembleSplice 602-nt windows the central dinucleotide sits at 0-based 300-301
(1-based 301-302), so a donor window's site is 0-based :data:`DONOR_INDEX` = 299 (1-based 300) and
an acceptor window's site is 0-based :data:`ACCEPTOR_INDEX` = 302 (1-based 303).
:func:`check_layout` verifies this on the files (GT right after 299 in every donor window, AG right
before 302 in every acceptor window).

**Labels** (:func:`nucleotide_labels`, :data:`NT_ID2LABEL` in SpliceAI's output order): the annotated
centre of a true-site window gets its class; the centre of a decoy window gets ``none``; every
position that cannot be a site (not followed by ``GT``, not preceded by ``AG``) gets ``none``; the
other ``GT``/``AG`` candidates are not annotated by the files and are ignored (-100).

**Crops** (:func:`random_crop_start`): training takes ``context`` nt at a random offset that keeps
the centre site (and its dinucleotide) inside, so sites occur anywhere in the input; evaluation takes
the central crop (:func:`central_crop_start`, the same as ``datasets.splice_sites.crop_window``).

**Evaluation** (:func:`centre_metrics`): each Test window's centre scored by P(donor) at 299 for
donor windows / P(acceptor) at 302 for acceptor windows, true sites vs decoys: AUROC and AP with
bootstrap 95 % CIs. :func:`off_target_calls`: calls above a threshold away from the annotated site in
real (true-site) windows, per kb.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ...datasets.branchpoints import IGNORE_INDEX

NT_ID2LABEL = {0: "none", 1: "acceptor", 2: "donor"}
NT_LABEL2ID = {v: k for k, v in NT_ID2LABEL.items()}
SITE_POSITION = 300  # 0-based first nucleotide of the central GT/AG in the 602-nt windows
DONOR_INDEX = SITE_POSITION - 1  # last exon nucleotide, before GT
ACCEPTOR_INDEX = SITE_POSITION + 2  # first exon nucleotide, after AG
SITE_INDEX = {"donor": DONOR_INDEX, "acceptor": ACCEPTOR_INDEX}
CONVENTION_NT = (
    "SpliceAI convention: donor_prob at the last exon nucleotide (before GT), acceptor_prob at the first exon "
    "nucleotide (after AG)"
)
# token ids of the SpliceBERT vocabulary: [PAD]0 [UNK]1 [CLS]2 [SEP]3 [MASK]4 N5 A6 C7 G8 T9
_CODES = np.full(256, 5, dtype=np.uint8)
for _base, _id in zip("ACGTU", (6, 7, 8, 9, 9)):
    _CODES[ord(_base)] = _CODES[ord(_base.lower())] = _id


def encode_ids(sequences: Sequence[str]) -> np.ndarray:
    """Token ids (uint8, no ``[CLS]``/``[SEP]``) of equal-length sequences; unknown letters read as N."""
    return _CODES[np.frombuffer("".join(sequences).encode("ascii"), np.uint8)].reshape(len(sequences), -1)


def load_windows(data_dir: str, validation_fraction: float = 0.1, seed: int = 42, cache_dir: str | None = None):
    """Full 602-nt windows of :class:`~txformers.datasets.splice_sites.SpliceSitesBuilder` per split
    (``train``/``validation`` cut from Train, ``test``): ``id``, ``sequence``, ``site_type``, ``is_site``."""
    from ...datasets.splice_sites import SpliceSitesBuilder

    builder = SpliceSitesBuilder(
        data_dir=data_dir, crop=None, validation_fraction=validation_fraction, seed=seed, cache_dir=cache_dir
    )
    builder.download_and_prepare()
    splits = builder.as_dataset()
    result = {}
    for name, split in splits.items():
        names = split.features["site_type"].names
        result[name] = {
            "id": np.array(split["id"]),
            "sequence": np.array(split["sequence"]),
            "site_type": np.array([names[i] for i in split["site_type"]]),
            "is_site": np.array(split["is_site"], dtype=bool),
        }
    return result


def check_layout(split: dict) -> dict[str, int]:
    """Windows per site type whose dinucleotide is where the convention expects it (and how many not)."""
    counts = {}
    for site, motif in (("donor", "GT"), ("acceptor", "AG")):
        rows = split["site_type"] == site
        start = DONOR_INDEX + 1 if site == "donor" else ACCEPTOR_INDEX - 2
        found = np.array([s[start : start + 2] == motif for s in split["sequence"][rows]])
        counts[f"{site}_ok"], counts[f"{site}_bad"] = int(found.sum()), int((~found).sum())
    return counts


def nucleotide_labels(sequence: str, site_type: str, is_site: bool) -> np.ndarray:
    """Per-nucleotide labels (int8) of one full window (see the module docstring).

    Example:
        >>> seq = "C" * 299 + "AGTAAGC" + "C" * 296  # 602 nt, GT at 300-301
        >>> labels = nucleotide_labels(seq, "donor", True)
        >>> labels[299], labels[300], labels[0], labels[303]
        (2, 0, 0, -100)
    """
    ids = encode_ids([sequence])[0]
    labels = np.zeros(len(ids), dtype=np.int8)
    g, t, a = ids == 8, ids == 9, ids == 6
    donor = np.zeros(len(ids), dtype=bool)
    donor[:-2] = g[1:-1] & t[2:]  # position i is followed by GT
    acceptor = np.zeros(len(ids), dtype=bool)
    acceptor[2:] = a[:-2] & g[1:-1]  # position i is preceded by AG
    labels[donor | acceptor] = IGNORE_INDEX
    index = SITE_INDEX[site_type]
    if is_site:
        labels[index] = NT_LABEL2ID[site_type]
    elif not (acceptor[index] if site_type == "donor" else donor[index]):
        labels[index] = 0  # a decoy: not this site type, and not a candidate of the other one
    return labels


def window_labels(split: dict) -> np.ndarray:
    """``nucleotide_labels`` of every window of a split, stacked ``(windows, length)``."""
    return np.stack([nucleotide_labels(*row) for row in zip(split["sequence"], split["site_type"], split["is_site"])])


def central_crop_start(length: int, context: int) -> int:
    """Start of the ``context``-nt crop with the central dinucleotide astride its centre."""
    if not 4 <= context <= length:
        raise ValueError(f"context must be in 4..{length}, got {context}")
    return max(0, min(SITE_POSITION + 1 - context // 2, length - context))


def random_crop_start(rng: np.random.Generator, length: int, context: int, size: int, margin: int = 0) -> np.ndarray:
    """``size`` random crop starts that keep 0-based 299..302 (both site positions and the dinucleotide)
    at least ``margin`` nt from both crop edges."""
    low = max(0, ACCEPTOR_INDEX + margin - context + 1)
    high = min(DONOR_INDEX - margin, length - context)
    if low > high:
        raise ValueError(f"a {context}-nt crop cannot hold positions {DONOR_INDEX}-{ACCEPTOR_INDEX}")
    return rng.integers(low, high + 1, size=size)


# ----------------------------------------------------------------------------- metrics
def bootstrap_ci(
    truth: np.ndarray, score: np.ndarray, metric: Callable, n: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Percentile 95 % CI of ``metric`` over ``n`` resamples of the windows (with replacement)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        rows = rng.integers(0, len(truth), len(truth))
        if 0 < truth[rows].sum() < len(rows):
            values.append(metric(truth[rows], score[rows]))
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def centre_metrics(scores: np.ndarray, split: dict, n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """Per site type, true sites vs decoys scored by ``scores`` (one per window): AUROC and AP with
    bootstrap 95 % CIs, accuracy and F1 at 0.5."""
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

    result = {}
    for site in ("donor", "acceptor"):
        rows = split["site_type"] == site
        truth, score = split["is_site"][rows].astype(int), np.asarray(scores)[rows]
        entry = {"n": int(rows.sum()), "n_sites": int(truth.sum())}
        for name, metric in (("auroc", roc_auc_score), ("ap", average_precision_score)):
            entry[name] = float(metric(truth, score))
            if n_bootstrap:
                entry[f"{name}_ci95"] = list(bootstrap_ci(truth, score, metric, n_bootstrap, seed))
        entry["accuracy"] = float(accuracy_score(truth, score > 0.5))
        entry["f1"] = float(f1_score(truth, score > 0.5))
        result[site] = entry
    return result


def centre_scores(probabilities: np.ndarray, split: dict, start: int) -> np.ndarray:
    """P(site type) at the convention position of each window from crop probabilities
    ``(windows, context, 3)`` taken at crop ``start``."""
    index = np.where(split["site_type"] == "donor", DONOR_INDEX, ACCEPTOR_INDEX) - start
    column = np.where(split["site_type"] == "donor", NT_LABEL2ID["donor"], NT_LABEL2ID["acceptor"])
    return probabilities[np.arange(len(index)), index, column]


def off_target_calls(probabilities: Sequence[np.ndarray], split: dict, threshold: float = 0.5) -> dict:
    """Calls (P(donor) or P(acceptor) > ``threshold``) in true-site windows away from the annotated
    site, per kb, from full-window probabilities ``(length, 3)`` (one per window of ``split``)."""
    calls = hits = nucleotides = 0
    for probs, site, real in zip(probabilities, split["site_type"], split["is_site"]):
        if not real:
            continue
        called = (probs[:, NT_LABEL2ID["donor"]] > threshold) | (probs[:, NT_LABEL2ID["acceptor"]] > threshold)
        index = SITE_INDEX[site]
        hits += int(probs[index, NT_LABEL2ID[site]] > threshold)
        called[index] = False
        calls += int(called.sum())
        nucleotides += len(probs)
    return {
        "threshold": threshold,
        "windows": int(split["is_site"].sum()),
        "nucleotides": nucleotides,
        "off_target_calls": calls,
        "off_target_per_kb": 1000 * calls / max(nucleotides, 1),
        "annotated_sites_called": hits,
    }


def candidate_positions(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convention positions (0-based) of every donor candidate (the nucleotide before a ``GT``) and
    acceptor candidate (the nucleotide after an ``AG``) in token ids.

    Example:
        >>> candidate_positions(encode_ids(["CAGGTA"])[0])
        (array([2]), array([3]))
    """
    ids = np.asarray(ids)
    pair_g, pair_t, pair_a = ids[:-1] == 8, ids[1:] == 9, ids[:-1] == 6
    donors = np.flatnonzero(pair_g & pair_t) - 1  # GT at i, i+1: donor at i-1
    acceptors = np.flatnonzero(pair_a & (ids[1:] == 8)) + 2  # AG at i, i+1: acceptor at i+2
    return donors[donors >= 0], acceptors[acceptors < len(ids)]


def predict_sequence(
    model,
    tokenizer,
    sequence: str,
    window: int,
    block: int = 100_000,
    batch_size: int = 64,
    device=None,
    precision: str = "float32",
) -> dict[str, np.ndarray | str]:
    """Per-nucleotide donor/acceptor probabilities of one sequence of any length with a
    per-nucleotide model (``id2label`` with ``donor`` and ``acceptor``), in SpliceAI's convention.

    The sequence is read ``block`` nt at a time, each block with ``window`` nt of flank on both sides,
    through the scoring engine (``window``-nt windows overlapping by half, stitched), so memory is
    bounded by the block, not the sequence. ``precision="bfloat16"`` runs the model under bf16 autocast
    (about 2.4x faster on a CPU with AMX; probabilities within 0.01 of float32's, the same Test AUROC).
    Returns the result dict of the ``splice predict`` tables
    (``sequence``, ``donor_prob``, ``acceptor_prob`` float32 over every position, and the candidate
    ``donor_positions`` / ``acceptor_positions`` of :func:`candidate_positions`).
    """
    import torch

    from ...models.splicebert.scoring_splicebert import clean_sequence, per_nucleotide_outputs

    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be float32 or bfloat16, got {precision!r}")
    sequence = clean_sequence(sequence)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    label2id = {str(k).lower(): int(v) for k, v in model.config.label2id.items()}
    donor_prob = np.zeros(len(sequence), dtype=np.float32)
    acceptor_prob = np.zeros(len(sequence), dtype=np.float32)
    for start in range(0, len(sequence), block):
        end = min(start + block, len(sequence))
        left, right = max(0, start - window), min(len(sequence), end + window)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            logits = per_nucleotide_outputs(
                model, tokenizer, [sequence[left:right]], window_size=window, batch_size=batch_size, device=device
            )[0][start - left : end - left]
        probabilities = torch.as_tensor(logits).softmax(-1).numpy()
        donor_prob[start:end] = probabilities[:, label2id["donor"]]
        acceptor_prob[start:end] = probabilities[:, label2id["acceptor"]]
    donors, acceptors = candidate_positions(encode_ids([sequence])[0])
    return {
        "sequence": sequence,
        "donor_prob": donor_prob,
        "acceptor_prob": acceptor_prob,
        "donor_positions": donors,
        "acceptor_positions": acceptors,
    }


def one_hot_positions(ids: np.ndarray, rows: np.ndarray, positions: np.ndarray, flank: int) -> np.ndarray:
    """One-hot (A, C, G, T) of the ``2 * flank + 1`` nt centred on each ``(row, position)`` of token ids
    ``(windows, length)``; past the window ends reads as N (all zeros)."""
    padded = np.pad(ids, ((0, 0), (flank, flank)), constant_values=5)
    columns = positions[:, None] + np.arange(2 * flank + 1)[None, :]
    window = padded[rows[:, None], columns].astype(np.int64) - 6  # A0 C1 G2 T3, N/pad < 0
    features = np.zeros(window.shape + (4,), dtype=np.float32)
    r, c = np.nonzero(window >= 0)
    features[r, c, window[r, c]] = 1
    return features.reshape(len(rows), -1)


__all__ = [
    "ACCEPTOR_INDEX",
    "CONVENTION_NT",
    "DONOR_INDEX",
    "NT_ID2LABEL",
    "NT_LABEL2ID",
    "SITE_INDEX",
    "SITE_POSITION",
    "bootstrap_ci",
    "candidate_positions",
    "central_crop_start",
    "centre_metrics",
    "centre_scores",
    "check_layout",
    "encode_ids",
    "load_windows",
    "nucleotide_labels",
    "off_target_calls",
    "one_hot_positions",
    "predict_sequence",
    "random_crop_start",
    "window_labels",
]
