# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Hugging Face pipelines for SpliceBERT: splice-site prediction and zero-shot variant effects.

Two tasks:

* ``"splice-site-prediction"``, :class:`SpliceSitePipeline`, on a window classifier
  (``AutoModelForSequenceClassification`` with ``donor``/``acceptor``/``neither`` labels and
  ``config.window_size``). Input: nucleotide sequences of any length. Output: per-nucleotide donor
  and acceptor probabilities.
* ``"splice-variant-effect"``, :class:`SpliceVariantEffectPipeline`, on a masked LM
  (``AutoModelForMaskedLM``). Input: ``(wild type, mutant)`` pairs. Output: the zero-shot
  KL-context score of SpliceBERT and the per-position KL profile.

**Position convention of splice sites** (0-based here; the command line prints 1-based).
Every ``GT`` is a donor candidate and every ``AG`` an acceptor candidate. The model reads a
``window_size``-nt window with the dinucleotide at window indices ``window_size // 2 - 1`` and
``window_size // 2`` (the layout of ``txformers.datasets.splice_sites``), padded with ``N`` past the
sequence ends. The donor probability is reported at the ``G`` of ``GT``, the first intron
nucleotide. The acceptor probability is reported at the ``G`` of ``AG``, the last intron
nucleotide. All other positions get 0.

This file is portable: it imports only the standard library, numpy, torch and transformers, so
it can be copied into a checkpoint folder (:func:`add_pipelines_to_checkpoint`). Then
``pipeline(task, model=folder, trust_remote_code=True)`` works where txformers is not installed.
With txformers imported, :func:`register_pipelines` registers both tasks: a folder without
``custom_pipelines`` then needs no ``trust_remote_code``; for one with it (the bundled
``checkpoints/splicebert-small-pretrained``) transformers asks for ``trust_remote_code=True`` or
``pipeline_class=SpliceVariantEffectPipeline``. This file also holds the single implementation of
the zero-shot scores (:func:`nucleotide_probabilities`, :func:`kl_profile`,
:func:`kl_context_score`), which ``txformers.variant_effect`` imports.

Example:

```python
>>> from transformers import pipeline
>>> scorer = pipeline("splice-variant-effect", model="checkpoints/splicebert-small-pretrained",
...                   trust_remote_code=True)  # doctest: +SKIP
>>> wt = "ACGTTTCAGGTAAGTCCAGGACGT" * 4
>>> result = scorer((wt, wt[:40] + "A" + wt[41:]))  # doctest: +SKIP
>>> result["position"], result["kl_profile"].shape  # doctest: +SKIP
(40, (96,))
```
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers.pipelines.base import ChunkPipeline, Pipeline

NUCLEOTIDES = "ACGT"
KL_EPSILON = 1e-10
"""Added to both distributions inside the logarithms of :func:`kl_profile`. A float32 softmax
over four logits can round a probability to exactly 0, and then ``log(0)`` gives ``-inf``/``nan``.
At 1e-10 the term changes no KL larger than about 1e-9."""
KL_CONTEXT_FLOOR = 1e-6
"""SpliceBERT's floor inside the logarithm of the KL-context score (``log(max(x, 1e-6))``)."""
DEFAULT_MAX_DISTANCE = 100

SPLICE_SITE_TASK = "splice-site-prediction"
VARIANT_EFFECT_TASK = "splice-variant-effect"

_ALLOWED = re.compile(r"[ACGTUNRYSWKMBDHV\s]", flags=re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Sequences
# ---------------------------------------------------------------------------------------------
def clean_sequence(sequence: Any, what: str = "sequence") -> str:
    """Whitespace removed, upper case, ``U`` read as ``T``. ``what`` names the sequence in errors."""
    if not isinstance(sequence, str):
        raise TypeError(f"{what} is a {type(sequence).__name__}, expected a str")
    return "".join(sequence.split()).upper().replace("U", "T")


def validate_sequence(tokenizer: Any, sequence: str, what: str = "sequence") -> None:
    """Raise a ``ValueError`` naming ``what``, the 0-based position and the character of the first
    character that is not a nucleotide, an IUPAC code or whitespace.

    The txformers ``NucleotideTokenizer`` has its own ``validate`` (``InvalidNucleotideError``).
    A plain tokenizer loaded from ``tokenizer.json`` would read such characters as ``[UNK]``
    silently, so they are checked here.
    """
    if hasattr(tokenizer, "validate"):
        tokenizer.validate(sequence)
        return
    for position, char in enumerate(sequence):
        if not _ALLOWED.match(char):
            raise ValueError(
                f"{what} has {char!r} at position {position} (0-based): expected A/C/G/T/U/N, "
                "an IUPAC ambiguity code (R Y S W K M B D H V) or whitespace"
            )


def _token_ids(tokenizer: Any, sequence: str) -> np.ndarray:
    """Token ids of the nucleotides of ``sequence``, without ``[CLS]``/``[SEP]``."""
    if hasattr(tokenizer, "encode_ids"):  # txformers NucleotideTokenizer: vectorised
        return np.asarray(tokenizer.encode_ids(sequence, add_special_tokens=False), dtype=np.int64)
    return np.asarray(tokenizer(sequence, add_special_tokens=False)["input_ids"], dtype=np.int64)


def check_snv(wt: str, mut: str, pos: Any = None, name: str = "variant") -> tuple[int, str, str]:
    """``(position, ref, alt)`` of a single-nucleotide variant between two cleaned sequences.

    ``pos`` (0-based) may be ``None``: then the one position where the sequences differ is used.
    Errors start with ``name`` and say what is wrong: lengths differ, position out of range, same
    base at the position, more than one difference, or bases other than A/C/G/T.

    Example:

    ```python
    >>> check_snv("ACGTA", "ACCTA")
    (2, 'G', 'C')
    ```
    """
    if len(wt) != len(mut):
        raise ValueError(
            f"{name}: WT and mutant sequences have different lengths ({len(wt)} vs {len(mut)}); "
            "only single-nucleotide variants (same length) are supported"
        )
    differ = [i for i, (a, b) in enumerate(zip(wt, mut)) if a != b]
    if pos is None:
        if len(differ) != 1:
            raise ValueError(
                f"{name}: WT and mutant differ at {len(differ)} positions {differ[:5]}; "
                "expected exactly one (a single-nucleotide variant)"
            )
        pos = differ[0]
    if isinstance(pos, (bool, np.bool_)) or not float(pos).is_integer():
        raise ValueError(f"{name}: position {pos!r} is not an integer")
    pos = int(pos)
    if not 0 <= pos < len(wt):
        raise ValueError(f"{name}: position {pos} is outside the sequence (length {len(wt)}); positions are 0-based")
    if wt[pos] == mut[pos]:
        raise ValueError(
            f"{name}: WT and mutant have the same base {wt[pos]!r} at position {pos}, so it is not a variant "
            f"(positions are 0-based; the sequences differ at {differ[:5]})"
        )
    if len(differ) > 1:
        raise ValueError(
            f"{name}: WT and mutant differ at {len(differ)} positions {differ[:5]}; "
            "only single-nucleotide variants are supported"
        )
    if wt[pos] not in NUCLEOTIDES or mut[pos] not in NUCLEOTIDES:
        raise ValueError(f"{name}: the variant {wt[pos]}>{mut[pos]} at position {pos} must be between A/C/G/T")
    return pos, wt[pos], mut[pos]


# ---------------------------------------------------------------------------------------------
# Masked-LM probabilities
# ---------------------------------------------------------------------------------------------
def nucleotide_token_ids(tokenizer: Any) -> list[int]:
    """Token ids of A, C, G, T in the tokenizer's vocabulary (SpliceBERT: ``[6, 7, 8, 9]``)."""
    vocab = tokenizer.get_vocab()
    missing = [base for base in NUCLEOTIDES if base not in vocab]
    if missing:
        raise ValueError(f"the tokenizer vocabulary has no token for {missing}: not a single-nucleotide tokenizer")
    return [vocab[base] for base in NUCLEOTIDES]


def model_window(model: torch.nn.Module, tokenizer: Any | None = None) -> int:
    """The most nucleotides the model reads at once: its position embeddings minus ``[CLS]``/``[SEP]``."""
    limits = []
    max_positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if max_positions:
        limits.append(int(max_positions) - 2)
    model_max_length = getattr(tokenizer, "model_max_length", None)
    if model_max_length and model_max_length < 1_000_000:  # transformers' "no limit" is a huge int
        limits.append(int(model_max_length) - 2)
    return min(limits) if limits else 510


def window_spans(length: int, window_size: int, stride: int) -> list[tuple[int, int]]:
    """(start, end) of overlapping windows covering ``range(length)``; the last one ends at ``length``.

    The same rule as ``NucleotideTokenizer.sliding_windows`` (``txformers.tokenizers``), repeated
    here because a checkpoint folder carries no tokenizer code; a test checks that they agree.
    """
    if length <= window_size:
        return [(0, length)]
    starts = list(range(0, length - window_size, stride)) + [length - window_size]
    return [(start, start + window_size) for start in starts]


def stitch_windows(outputs: list[np.ndarray], spans: list[tuple[int, int]], length: int) -> np.ndarray:
    """Stitch per-nucleotide window outputs back into one ``(length, ...)`` array: each position
    takes the window in which it lies furthest from an edge (an edge at a sequence end costs no
    context). The same rule as ``txformers.tokenizers.tokenization_nucleotide.stitch_windows``."""
    result = np.zeros((length,) + outputs[0].shape[1:], dtype=outputs[0].dtype)
    best = np.full(length, -1, dtype=np.int64)
    for output, (start, end) in zip(outputs, spans):
        if output.shape[0] != end - start:
            raise ValueError(f"window {start}-{end} output has {output.shape[0]} positions, expected {end - start}")
        positions = np.arange(start, end)
        left = positions - start if start > 0 else np.full(len(positions), length)
        right = end - 1 - positions if end < length else np.full(len(positions), length)
        margin = np.minimum(left, right)
        better = margin > best[start:end]
        result[start:end][better] = output[better]
        best[start:end] = np.where(better, margin, best[start:end])
    return result


def nucleotide_probabilities(
    model: torch.nn.Module,
    tokenizer: Any,
    sequences: str | Sequence[str],
    batch_size: int = 32,
    device: str | torch.device | None = None,
    window_size: int | None = None,
    stride: int | None = None,
) -> np.ndarray | list[np.ndarray]:
    """Per-nucleotide A/C/G/T probabilities of a masked LM on unmasked sequences.

    For each sequence the model reads the unmasked tokens. The logits of A, C, G and T (ids from
    the tokenizer vocabulary) go through a softmax at every nucleotide position. ``[CLS]``,
    ``[SEP]`` and padding are dropped. A sequence longer than the model's window is cut into
    overlapping windows (:func:`window_spans`) and stitched back (:func:`stitch_windows`): each
    position takes the window in which it has the most context. Windows of all sequences are
    batched together, longest first, under ``torch.inference_mode()``. A model in training mode
    is put in eval mode for the call and restored afterwards.

    Args:
        model: a masked LM (``SpliceBertForMaskedLM`` or an original ``BertForMaskedLM``).
        tokenizer: the single-nucleotide tokenizer.
        sequences: one sequence or a list (raw text: any case, ``U`` read as ``T``).
        batch_size: windows per forward pass.
        device: where to run; default the model's device.
        window_size: nucleotides per window; default the model's limit (1024 for SpliceBERT.1024nt).
        stride: step between windows; default half a window.

    Returns:
        ``(L, 4)`` float32 array (columns A, C, G, T) for a single sequence; a list of them for a list.

    Example:

    ```python
    >>> from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM
    >>> config = SpliceBertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=4, intermediate_size=64)
    >>> probs = nucleotide_probabilities(SpliceBertForMaskedLM(config), NucleotideTokenizer(), "ACGTNacgu")
    >>> probs.shape, bool(abs(probs.sum(1) - 1).max() < 1e-5)
    ((9, 4), True)
    ```
    """
    single = isinstance(sequences, str)
    batch = [sequences] if single else list(sequences)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    acgt = nucleotide_token_ids(tokenizer)
    window = window_size or model_window(model, tokenizer)
    stride = stride or max(1, window // 2)
    if not 0 < stride <= window:
        raise ValueError(f"stride must be in 1..window_size ({window}), got {stride}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for index, sequence in enumerate(batch):
        if not isinstance(sequence, str):
            raise TypeError(f"sequence {index} is a {type(sequence).__name__}, expected a str")
    if hasattr(tokenizer, "validate"):
        tokenizer.validate(batch)  # InvalidNucleotideError naming the sequence, position and character
    else:
        for index, sequence in enumerate(batch):
            validate_sequence(tokenizer, sequence, f"sequence {index}")

    chunks: list[np.ndarray] = []
    owned: list[list[int]] = []  # chunk numbers of each sequence
    spans: list[list[tuple[int, int]]] = []
    lengths: list[int] = []
    for sequence in batch:
        ids = _token_ids(tokenizer, sequence)
        pieces = window_spans(len(ids), window, stride)
        spans.append(pieces)
        lengths.append(len(ids))
        owned.append(list(range(len(chunks), len(chunks) + len(pieces))))
        cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        chunks.extend(np.concatenate([[cls_id], ids[start:end], [sep_id]]) for start, end in pieces)

    outputs: list[np.ndarray | None] = [None] * len(chunks)
    order = sorted(range(len(chunks)), key=lambda k: -len(chunks[k]))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for first in range(0, len(order), batch_size):
                rows = order[first : first + batch_size]
                longest = max(len(chunks[k]) for k in rows)
                input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
                attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
                for row, k in enumerate(rows):
                    input_ids[row, : len(chunks[k])] = torch.as_tensor(chunks[k])
                    attention_mask[row, : len(chunks[k])] = 1
                logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
                probs = torch.softmax(logits[..., acgt].float(), dim=-1).cpu().numpy()
                for row, k in enumerate(rows):
                    outputs[k] = probs[row, 1 : len(chunks[k]) - 1]
    finally:
        model.train(was_training)

    results = []
    for index in range(len(batch)):
        if lengths[index] == 0:
            results.append(np.zeros((0, 4), dtype=np.float32))
        else:
            results.append(stitch_windows([outputs[k] for k in owned[index]], spans[index], lengths[index]))
    return results[0] if single else results


# ---------------------------------------------------------------------------------------------
# Zero-shot scores from probabilities
# ---------------------------------------------------------------------------------------------
def kl_profile(p_wt: np.ndarray, p_mut: np.ndarray, eps: float = KL_EPSILON) -> np.ndarray:
    """Per-position ``KL(mut || wt) = sum_b p_mut[b] * log(p_mut[b] / p_wt[b])``.

    ``eps`` (:data:`KL_EPSILON`, 1e-10) is added to both probabilities inside the logarithms. A
    softmax can round a probability to exactly zero, and without ``eps`` that would give
    ``inf``/``nan``. Values are computed in float64 and clipped at 0. Identical inputs give
    exactly 0.

    Args:
        p_wt, p_mut: ``(..., L, 4)`` probabilities from :func:`nucleotide_probabilities`.

    Returns:
        ``(..., L)`` array.

    Example:

    ```python
    >>> p = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    >>> kl_profile(p, p).tolist()
    [0.0, 0.0]
    ```
    """
    p_wt = np.asarray(p_wt, dtype=np.float64)
    p_mut = np.asarray(p_mut, dtype=np.float64)
    if p_wt.shape != p_mut.shape:
        raise ValueError(
            f"WT probabilities {p_wt.shape} and mutant probabilities {p_mut.shape} differ in shape: "
            "KL profiles need sequences of the same length (SNVs)"
        )
    kl = np.sum(p_mut * (np.log(p_mut + eps) - np.log(p_wt + eps)), axis=-1)
    return np.maximum(kl, 0.0)


def kl_context_score(
    kl: np.ndarray,
    pos: int,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    floor: float = KL_CONTEXT_FLOOR,
    edge: str = "one_sided",
) -> float:
    """SpliceBERT's KL-context score: ``sum_{d=1..D} log(max(mean(KL[pos-d], KL[pos+d]), floor))``.

    SpliceBERT scored VexSeq and MFASS in 510-nt windows centred on the exon, so both
    ``pos-d`` and ``pos+d`` always fell inside the window. Its code slices
    ``KL[pos-100 : pos+101]`` and would fail or wrap around if they did not. Shorter inputs
    (MaPSy's 200-nt reporters, variants near a window edge) need a rule, and ``edge`` gives it:

    * ``"one_sided"`` (default): for each ``d``, average the sides that exist. A ``d`` with
      neither side is skipped, and the sum is rescaled by ``D / (number of d used)``. Then a
      score always has the scale of D terms. When both sides exist for every ``d`` the result
      is exactly the reference value. The alternatives are worse. Zero-padding the missing
      side would halve the mean and push edge variants down by ``log 2`` per term. Dropping the
      skipped terms without rescaling would push edge variants *up*, because every term is a
      logarithm of a small number and so negative.
    * ``"strict"``: the reference behaviour. A ``ValueError`` is raised unless all
      ``pos +- d`` are inside the sequence.

    Args:
        kl: ``(L,)`` KL profile from :func:`kl_profile`.
        pos: 0-based variant position.
        max_distance: D, 100 in SpliceBERT.
        floor: lower bound inside the logarithm, 1e-6 in SpliceBERT.
        edge: ``"one_sided"`` or ``"strict"``.

    Returns:
        The score (higher = larger perturbation around the variant); ``nan`` for a 1-nt sequence.

    Example:

    ```python
    >>> kl = np.array([0.1, 0.2, 0.0, 0.4, 0.3])
    >>> round(kl_context_score(kl, 2, max_distance=2), 4)  # log(mean(0.2, 0.4)) + log(mean(0.1, 0.3))
    -2.8134
    ```
    """
    if edge not in ("one_sided", "strict"):
        raise ValueError(f"edge must be 'one_sided' or 'strict', got {edge!r}")
    if max_distance < 1:
        raise ValueError(f"max_distance must be at least 1, got {max_distance}")
    kl = np.asarray(kl, dtype=np.float64)
    if kl.ndim != 1:
        raise ValueError(f"kl must be a 1-D profile, got shape {kl.shape}")
    length = len(kl)
    if not 0 <= pos < length:
        raise ValueError(f"position {pos} is outside the KL profile (length {length}); positions are 0-based")
    distances = np.arange(1, max_distance + 1)
    left, right = pos - distances, pos + distances
    has_left, has_right = left >= 0, right < length
    if edge == "strict" and not (has_left.all() and has_right.all()):
        raise ValueError(
            f"position {pos} lies within {max_distance} nt of an end of a {length}-nt sequence; "
            "edge='strict' (SpliceBERT's reference) needs the full context on both sides"
        )
    total = np.where(has_left, kl[np.clip(left, 0, length - 1)], 0.0)
    total = total + np.where(has_right, kl[np.clip(right, 0, length - 1)], 0.0)
    count = has_left.astype(int) + has_right.astype(int)
    used = count > 0
    if not used.any():
        return float("nan")
    terms = np.log(np.maximum(total[used] / count[used], floor))
    return float(terms.sum() * max_distance / used.sum())


# ---------------------------------------------------------------------------------------------
# Splice sites
# ---------------------------------------------------------------------------------------------
def splice_site_label_ids(config: Any) -> tuple[int, int]:
    """Class indices of ``donor`` and ``acceptor`` in a window classifier's ``label2id``."""
    label2id = {str(name).lower(): int(index) for name, index in (getattr(config, "label2id", None) or {}).items()}
    if "donor" not in label2id or "acceptor" not in label2id:
        raise ValueError(
            f"the model's labels are {sorted(label2id)}; a splice-site model needs 'donor' and 'acceptor' "
            "(fine-tune one with txformers.training.finetune_splice)"
        )
    return label2id["donor"], label2id["acceptor"]


def splice_site_candidates(ids: np.ndarray, vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """0-based first positions of every ``GT`` (donor) and ``AG`` (acceptor) dinucleotide in token ids."""
    ids = np.asarray(ids)
    first, second = ids[:-1], ids[1:]
    donors = np.flatnonzero((first == vocab["G"]) & (second == vocab["T"]))
    acceptors = np.flatnonzero((first == vocab["A"]) & (second == vocab["G"]))
    return donors, acceptors


class SpliceSitePipeline(ChunkPipeline):
    """Per-nucleotide donor and acceptor probabilities of sequences of any length.

    Every ``GT`` and ``AG`` of the sequence is classified by the window model, one window per
    candidate (see the module docstring for the exact convention). Windows of all input
    sequences are batched together: ``batch_size`` is the number of windows per forward pass
    (default 32).

    Input: a sequence (DNA or RNA, any case, IUPAC codes read as ``N``), a dict
    ``{"sequence": ..., "name": ...}``, or a list of them.

    Output per sequence: a dict with ``sequence`` (cleaned, upper case, ``U`` as ``T``),
    ``donor_prob`` and ``acceptor_prob`` (float32 arrays over the sequence, 0 at non-candidate
    positions), ``donor_positions`` and ``acceptor_positions`` (0-based positions of the
    candidates, where the probabilities are reported) and ``name`` (from a dict input, else ``None``).

    Parameters (at creation or per call): ``window_size`` (default ``config.window_size``).

    Example:

    ```python
    >>> from transformers import pipeline
    >>> finder = pipeline("splice-site-prediction", model="runs/splice-sites/model")  # doctest: +SKIP
    >>> result = finder("CCCAGGTAAGTAT" * 40)  # doctest: +SKIP
    >>> result["donor_prob"].shape, result["donor_positions"][:2]  # doctest: +SKIP
    ((520,), array([5, 9]))
    ```
    """

    _load_tokenizer = True

    def __init__(self, *args: Any, **kwargs: Any):
        if kwargs.get("batch_size") is None:
            kwargs["batch_size"] = 32
        super().__init__(*args, **kwargs)

    def _sanitize_parameters(self, window_size: int | None = None, **kwargs: Any):
        preprocess = {}
        if window_size is not None:
            preprocess["window_size"] = window_size
        if kwargs:
            raise TypeError(f"unknown parameters {sorted(kwargs)} for {type(self).__name__}")
        return preprocess, {}, {}

    def _window_size(self, window_size: int | None) -> int:
        window_size = window_size or getattr(self.model.config, "window_size", None)
        if not window_size:
            raise ValueError(
                "the model's config has no window_size: pass window_size= (the window length it was trained on)"
            )
        window_size = int(window_size)
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if window_size < 2 or (limit and window_size + 2 > limit):
            raise ValueError(f"window_size {window_size} must be in 2..{(limit or 0) - 2} for this model")
        return window_size

    def preprocess(self, inputs: str | dict[str, Any], window_size: int | None = None):
        name = None
        if isinstance(inputs, dict):
            if "sequence" not in inputs:
                raise ValueError(f"a dict input needs a 'sequence' key, got {sorted(inputs)}")
            name, inputs = inputs.get("name"), inputs["sequence"]
        what = f"sequence {name!r}" if name is not None else "sequence"
        if not isinstance(inputs, str):
            raise TypeError(f"{what} is a {type(inputs).__name__}, expected a str")
        validate_sequence(self.tokenizer, inputs, what)
        splice_site_label_ids(self.model.config)  # fail early on a model without donor/acceptor labels
        window = self._window_size(window_size)
        vocab = self.tokenizer.get_vocab()
        ids = _token_ids(self.tokenizer, inputs)
        letters = {vocab[base]: base for base in "ACGTN"}
        sequence = "".join(letters.get(int(i), "N") for i in ids)
        donors, acceptors = splice_site_candidates(ids, vocab)
        # (reported position, site: 0 donor / 1 acceptor, first nt of the dinucleotide)
        candidates = sorted([(int(d), 0, int(d)) for d in donors] + [(int(a) + 1, 1, int(a)) for a in acceptors])
        padded = np.full(len(ids) + 2 * window, vocab["N"], dtype=np.int64)
        padded[window : window + len(ids)] = ids
        cls_id, sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        offset = window // 2 - 1  # the dinucleotide's index in the window
        if not candidates:  # one placeholder so that the sequence still comes out (with no sites)
            candidates = [(-1, -1, 0)]
        for number, (position, site, first) in enumerate(candidates):
            start = window + first - offset
            window_ids = np.concatenate([[cls_id], padded[start : start + window], [sep_id]])
            input_ids = torch.as_tensor(window_ids, dtype=torch.long)[None]
            yield {
                "input_ids": input_ids,
                "attention_mask": torch.ones_like(input_ids),
                "position": position,
                "site": site,
                "sequence": sequence,
                "name": name,
                "is_last": number == len(candidates) - 1,
            }

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        logits = self.model(input_ids=model_inputs["input_ids"], attention_mask=model_inputs["attention_mask"]).logits
        outputs = {"probabilities": logits.float().softmax(-1)}
        for key in ("position", "site", "sequence", "name", "is_last"):
            outputs[key] = model_inputs[key]
        return outputs

    def postprocess(self, all_outputs: list[dict[str, Any]]) -> dict[str, Any]:
        donor_label, acceptor_label = splice_site_label_ids(self.model.config)
        sequence = all_outputs[0]["sequence"]
        donor_prob = np.zeros(len(sequence), dtype=np.float32)
        acceptor_prob = np.zeros(len(sequence), dtype=np.float32)
        donors, acceptors = [], []
        for output in all_outputs:
            site, position = int(output["site"]), int(output["position"])
            if site < 0:
                continue
            probabilities = output["probabilities"].reshape(-1)
            if site == 0:
                donor_prob[position] = float(probabilities[donor_label])
                donors.append(position)
            else:
                acceptor_prob[position] = float(probabilities[acceptor_label])
                acceptors.append(position)
        return {
            "name": all_outputs[0]["name"],
            "sequence": sequence,
            "donor_prob": donor_prob,
            "acceptor_prob": acceptor_prob,
            "donor_positions": np.asarray(donors, dtype=np.int64),
            "acceptor_positions": np.asarray(acceptors, dtype=np.int64),
        }


# ---------------------------------------------------------------------------------------------
# Variant effect
# ---------------------------------------------------------------------------------------------
class SpliceVariantEffectPipeline(Pipeline):
    """Zero-shot effect of single-nucleotide variants from a SpliceBERT masked LM.

    Both sequences go through the model unmasked. The per-position ``KL(mut || wt)`` of the A/C/G/T
    distributions is the ``kl_profile``, and ``kl_context`` is SpliceBERT's KL-context score around
    the variant (:func:`kl_context_score`). These are the functions ``txformers.variant_effect``
    uses, so the numbers are identical.

    Input: a ``(wt, mut)`` or ``(wt, mut, position)`` tuple, a dict ``{"wt": ..., "mut": ...,
    "position": ...}`` (``position`` 0-based and optional: the one differing position is used), or
    a list of them. Sequences longer than the model's window are read in overlapping windows.

    Output per variant: ``position``, ``ref``, ``alt``, ``kl_context``, ``kl_variant`` (the KL at the
    variant) and ``kl_profile`` (float64 array over the sequence); with
    ``return_probabilities=True`` also ``p_wt`` and ``p_mut`` (``(L, 4)``, columns A, C, G, T).

    Parameters (at creation or per call): ``max_distance`` (100), ``edge`` (``"one_sided"`` or
    ``"strict"``), ``window_size`` and ``stride`` (long sequences), ``window_batch_size`` (windows per
    forward pass, 32), ``return_probabilities``.

    Example:

    ```python
    >>> from transformers import pipeline
    >>> scorer = pipeline("splice-variant-effect", model="checkpoints/splicebert-small-pretrained",
    ...                   trust_remote_code=True)  # doctest: +SKIP
    >>> scorer({"wt": "ACGTAGGTAAGT" * 10, "mut": "ACGTAGCTAAGT" + "ACGTAGGTAAGT" * 9})["position"]  # doctest: +SKIP
    6
    ```
    """

    _load_tokenizer = True

    def _sanitize_parameters(
        self,
        max_distance: int | None = None,
        edge: str | None = None,
        window_size: int | None = None,
        stride: int | None = None,
        window_batch_size: int | None = None,
        return_probabilities: bool | None = None,
        **kwargs: Any,
    ):
        if kwargs:
            raise TypeError(f"unknown parameters {sorted(kwargs)} for {type(self).__name__}")
        forward = {"window_size": window_size, "stride": stride, "window_batch_size": window_batch_size}
        postprocess = {"max_distance": max_distance, "edge": edge, "return_probabilities": return_probabilities}
        forward = {key: value for key, value in forward.items() if value is not None}
        postprocess = {key: value for key, value in postprocess.items() if value is not None}
        if edge is not None and edge not in ("one_sided", "strict"):
            raise ValueError(f"edge must be 'one_sided' or 'strict', got {edge!r}")
        return {}, forward, postprocess

    def preprocess(self, inputs: Any) -> dict[str, Any]:
        if isinstance(inputs, dict):
            wt = inputs.get("wt", inputs.get("wt_sequence"))
            mut = inputs.get("mut", inputs.get("mut_sequence"))
            if wt is None or mut is None:
                raise ValueError(f"a dict input needs 'wt' and 'mut' keys, got {sorted(inputs)}")
            position = inputs.get("position")
            name = str(inputs.get("name", "variant"))
        elif isinstance(inputs, (tuple, list)) and len(inputs) in (2, 3):
            wt, mut, position = (*inputs, None) if len(inputs) == 2 else inputs
            name = "variant"
        else:
            raise TypeError(
                "a variant is a (wt, mut) or (wt, mut, position) tuple or a dict with 'wt' and 'mut', "
                f"got {type(inputs).__name__}"
            )
        for label, sequence in (("WT", wt), ("mutant", mut)):
            if not isinstance(sequence, str):
                raise TypeError(f"{name}: the {label} sequence is a {type(sequence).__name__}, expected a str")
            validate_sequence(self.tokenizer, sequence, f"{name}: the {label} sequence")
        wt, mut = clean_sequence(wt), clean_sequence(mut)
        position, ref, alt = check_snv(wt, mut, position, name=name)
        return {"wt": wt, "mut": mut, "position": position, "ref": ref, "alt": alt}

    def _forward(
        self,
        model_inputs: dict[str, Any],
        window_size: int | None = None,
        stride: int | None = None,
        window_batch_size: int = 32,
    ) -> dict[str, Any]:
        batched = isinstance(model_inputs["wt"], list)  # lists when the pipeline batches variants
        wts = model_inputs["wt"] if batched else [model_inputs["wt"]]
        muts = model_inputs["mut"] if batched else [model_inputs["mut"]]
        unique = list(dict.fromkeys(wts + muts))
        probabilities = dict(
            zip(
                unique,
                nucleotide_probabilities(
                    self.model, self.tokenizer, unique, batch_size=window_batch_size, device=self.device,
                    window_size=window_size, stride=stride,
                ),  # fmt: skip
            )
        )
        p_wt, p_mut = [probabilities[s] for s in wts], [probabilities[s] for s in muts]
        outputs = {"p_wt": p_wt if batched else p_wt[0], "p_mut": p_mut if batched else p_mut[0]}
        for key in ("position", "ref", "alt"):
            outputs[key] = model_inputs[key]
        return outputs

    def postprocess(
        self,
        model_outputs: dict[str, Any],
        max_distance: int = DEFAULT_MAX_DISTANCE,
        edge: str = "one_sided",
        return_probabilities: bool = False,
    ) -> dict[str, Any]:
        # A batched run hands each variant back with a leading batch axis of 1.
        p_wt, p_mut = (np.asarray(model_outputs[key]) for key in ("p_wt", "p_mut"))
        p_wt, p_mut = (p[0] if p.ndim == 3 else p for p in (p_wt, p_mut))
        position = int(model_outputs["position"])
        kl = kl_profile(p_wt, p_mut)
        result = {
            "position": position,
            "ref": model_outputs["ref"],
            "alt": model_outputs["alt"],
            "kl_context": kl_context_score(kl, position, max_distance=max_distance, edge=edge),
            "kl_variant": float(kl[position]),
            "kl_profile": kl,
        }
        if return_probabilities:
            result.update(p_wt=p_wt, p_mut=p_mut)
        return result


# ---------------------------------------------------------------------------------------------
# Registration and shipping with a checkpoint
# ---------------------------------------------------------------------------------------------
PIPELINES = {
    SPLICE_SITE_TASK: (SpliceSitePipeline, "AutoModelForSequenceClassification"),
    VARIANT_EFFECT_TASK: (SpliceVariantEffectPipeline, "AutoModelForMaskedLM"),
}


def register_pipelines() -> None:
    """Register both tasks with ``transformers.pipelines.PIPELINE_REGISTRY`` (idempotent), so
    ``pipeline("splice-site-prediction", model=...)`` and ``pipeline("splice-variant-effect", model=...)``
    work in this process without ``trust_remote_code``."""
    import transformers
    from transformers.pipelines import PIPELINE_REGISTRY

    for task, (pipeline_class, auto_name) in PIPELINES.items():
        if PIPELINE_REGISTRY.supported_tasks.get(task, {}).get("impl") is pipeline_class:
            continue
        PIPELINE_REGISTRY.register_pipeline(
            task, pipeline_class=pipeline_class, pt_model=getattr(transformers, auto_name), type="text"
        )


def add_pipelines_to_checkpoint(folder: str | Path, tasks: str | Sequence[str] = (VARIANT_EFFECT_TASK,)) -> Path:
    """Ship pipelines with a checkpoint: copy this file into ``folder`` and add ``custom_pipelines``
    for ``tasks`` to its ``config.json`` (other entries and the weights are left as they are).

    Afterwards ``pipeline(task, model=folder, trust_remote_code=True)`` works in a process that has
    no txformers. This is what ``Pipeline.save_pretrained`` writes, without saving the weights again.

    Returns:
        The path of the copied pipeline file.

    Example:

    ```python
    >>> folder = "checkpoints/splicebert-small-pretrained"
    >>> add_pipelines_to_checkpoint(folder, "splice-variant-effect")  # doctest: +SKIP
    ```
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"no config.json in {folder}: not a checkpoint folder")
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    unknown = [task for task in tasks if task not in PIPELINES]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; choose from {sorted(PIPELINES)}")
    config = json.loads(config_path.read_text())
    module = Path(__file__).stem
    custom = dict(config.get("custom_pipelines") or {})
    for task in tasks:
        pipeline_class, auto_name = PIPELINES[task]
        custom[task] = {"impl": f"{module}.{pipeline_class.__name__}", "pt": [auto_name], "type": "text"}
    config["custom_pipelines"] = custom
    target = folder / f"{module}.py"
    if Path(__file__).resolve() != target.resolve():
        shutil.copyfile(__file__, target)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return target


__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "KL_CONTEXT_FLOOR",
    "KL_EPSILON",
    "NUCLEOTIDES",
    "SPLICE_SITE_TASK",
    "VARIANT_EFFECT_TASK",
    "SpliceSitePipeline",
    "SpliceVariantEffectPipeline",
    "add_pipelines_to_checkpoint",
    "check_snv",
    "clean_sequence",
    "kl_context_score",
    "kl_profile",
    "model_window",
    "nucleotide_probabilities",
    "nucleotide_token_ids",
    "register_pipelines",
    "splice_site_candidates",
    "splice_site_label_ids",
    "stitch_windows",
    "validate_sequence",
    "window_spans",
]
