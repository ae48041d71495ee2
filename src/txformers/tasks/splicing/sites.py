# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Splice sites: predictions of the ``"splice-site-prediction"`` pipeline as tables, and how splice-site
classifiers are scored.

* Prediction (``txformers splice predict``, the demo): :func:`read_named_sequences` reads and checks
  the FASTA records, :func:`site_rows` gives TSV rows and :func:`site_calls` the BED calls of one
  pipeline result. :data:`CONVENTION` says where the probabilities are reported.
* Training and evaluation (``txformers.training.finetune_splice`` and ``finetune_tokens``): the window
  labels (:data:`ID2LABEL`), :func:`site_metrics` (true sites vs decoys, per site type) and the
  one-hot logistic-regression baseline (:func:`one_hot_flank`, :func:`logistic_baseline`).

Example:

```python
>>> import numpy as np
>>> result = {"sequence": "CAGGTA", "donor_prob": np.array([0, 0, 0, 0.9, 0, 0], dtype=np.float32),
...           "acceptor_prob": np.array([0, 0, 0.2, 0, 0, 0], dtype=np.float32),
...           "donor_positions": np.array([3]), "acceptor_positions": np.array([2])}
>>> site_rows("x", result)
['x\\t3\\tG\\t0.000000\\t0.200000', 'x\\t4\\tG\\t0.900000\\t0.000000']
>>> site_calls("x", result, threshold=0.5)
[('x', 3, 'donor', 0.8999999761581421)]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

CONVENTION = (
    "donor_prob is reported at the G of each GT (the first intron nucleotide) and acceptor_prob at the G of "
    "each AG (the last intron nucleotide); every other position gets 0"
)
ID2LABEL = {0: "neither", 1: "donor", 2: "acceptor"}
SITE_CLASS = {"donor": 1, "acceptor": 2}


# ----------------------------------------------------------------------------- prediction
def read_named_sequences(fasta: str | Path) -> list[tuple[str, str]]:
    """``(name, sequence)`` of each FASTA record; the name is the header's first word.

    Raises:
        ValueError: naming the file and the record, when the file is missing or not FASTA, holds no
            records, a header has no name, two records share a name, a sequence is empty or holds a
            character that is not a nucleotide, an IUPAC code or whitespace.
    """
    from ...datasets.genome import iter_fasta_records
    from ...tokenizers import InvalidNucleotideError, NucleotideTokenizer

    fasta = Path(fasta)
    if not fasta.is_file():
        raise ValueError(f"FASTA file {fasta} does not exist")
    try:
        records = list(iter_fasta_records(fasta))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{fasta} is not a FASTA file: {error}") from None
    if not records:
        raise ValueError(f"{fasta} holds no FASTA records")
    tokenizer = NucleotideTokenizer()
    seen: set[str] = set()
    named = []
    for number, (header, sequence) in enumerate(records, 1):
        name = header.split()[0] if header.split() else ""
        if not name:
            raise ValueError(f"{fasta}, record {number}: the header line has no name")
        if name in seen:
            raise ValueError(f"{fasta}: the name {name!r} is used by more than one record (names must be unique)")
        seen.add(name)
        if not sequence:
            raise ValueError(f"{fasta}, record {name!r}: the sequence is empty")
        try:
            tokenizer.validate(sequence)
        except InvalidNucleotideError as error:
            raise ValueError(f"{fasta}, record {name!r}: {error}") from None
        named.append((name, sequence))
    return named


def site_rows(name: str, result: dict[str, Any], all_positions: bool = False) -> list[str]:
    """TSV rows ``name, position (1-based), nucleotide, donor_prob, acceptor_prob`` of one pipeline result:
    the GT/AG candidates, or every position with ``all_positions``."""
    sequence, donor, acceptor = result["sequence"], result["donor_prob"], result["acceptor_prob"]
    if all_positions:
        positions = np.arange(len(sequence))
    else:
        positions = np.union1d(result["donor_positions"], result["acceptor_positions"])
    return [f"{name}\t{i + 1}\t{sequence[i]}\t{donor[i]:.6f}\t{acceptor[i]:.6f}" for i in positions.tolist()]


def site_calls(name: str, result: dict[str, Any], threshold: float) -> list[tuple[str, int, str, float]]:
    """``(name, position (0-based), "donor"/"acceptor", probability)`` of each candidate with probability
    above ``threshold``: donors first, then acceptors, each in position order."""
    calls = []
    for kind in ("donor", "acceptor"):
        probabilities, candidates = result[f"{kind}_prob"], result[f"{kind}_positions"]
        for i in candidates[probabilities[candidates] > threshold].tolist():
            calls.append((name, i, kind, float(probabilities[i])))
    return calls


# ----------------------------------------------------------------------------- evaluation
def site_metrics(probabilities: np.ndarray, split: dict) -> dict:
    """Per site type: the candidates of that type (true sites vs decoys), scored by P(that type)."""
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

    result = {}
    for site, column in SITE_CLASS.items():
        rows = split["site_type"] == site
        truth = (split["label"][rows] == column).astype(int)
        score = probabilities[rows, column] if probabilities.ndim == 2 else probabilities[rows]
        result[site] = {
            "n": int(rows.sum()),
            "auroc": float(roc_auc_score(truth, score)),
            "ap": float(average_precision_score(truth, score)),
            "accuracy": float(accuracy_score(truth, score > 0.5)),
            "f1": float(f1_score(truth, score > 0.5)),
        }
    return result


def one_hot_flank(sequences: np.ndarray, flank: int = 60) -> np.ndarray:
    """One-hot (A, C, G, T) of the ``2 * flank`` nt around the centre of equal-length windows
    (``flank`` shrinks to what a short window holds)."""
    centre = len(sequences[0]) // 2
    flank = min(flank, centre, len(sequences[0]) - centre)
    codes = np.frombuffer("".join(s[centre - flank : centre + flank] for s in sequences).upper().encode(), np.uint8)
    table = np.full(256, -1)
    for i, base in enumerate("ACGT"):
        table[ord(base)] = i
    index = table[codes].reshape(len(sequences), 2 * flank)
    features = np.zeros((len(sequences), 2 * flank, 4), dtype=np.float32)
    rows, cols = np.nonzero(index >= 0)
    features[rows, cols, index[rows, cols]] = 1
    return features.reshape(len(sequences), -1)


def logistic_baseline(splits: dict, flank: int = 60, seed: int = 0) -> dict:
    """One logistic regression per site type on one-hot +-``flank`` nt, trained on train+validation."""
    from sklearn.linear_model import LogisticRegression

    scores = np.zeros(len(splits["test"]["label"]))
    for site, column in SITE_CLASS.items():
        train_rows = {k: v[np.isin(splits["train"]["site_type"], [site])] for k, v in splits["train"].items()}
        valid_rows = {k: v[np.isin(splits["validation"]["site_type"], [site])] for k, v in splits["validation"].items()}
        x = one_hot_flank(np.concatenate([train_rows["sequence"], valid_rows["sequence"]]), flank)
        y = (np.concatenate([train_rows["label"], valid_rows["label"]]) == column).astype(int)
        model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(x, y)
        test_rows = splits["test"]["site_type"] == site
        scores[test_rows] = model.predict_proba(one_hot_flank(splits["test"]["sequence"][test_rows], flank))[:, 1]
    return site_metrics(scores, splits["test"])


__all__ = [
    "CONVENTION",
    "ID2LABEL",
    "SITE_CLASS",
    "logistic_baseline",
    "one_hot_flank",
    "read_named_sequences",
    "site_calls",
    "site_metrics",
    "site_rows",
]
