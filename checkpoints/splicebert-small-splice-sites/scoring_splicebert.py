# Copyright 2026 The txformers authors. BSD-3-Clause.
"""The SpliceBERT scoring engine: per-nucleotide inference over sliding windows, zero-shot variant
scores and splice-site candidate windows.

Every SpliceBERT score in txformers comes from this file: the pipelines
(``pipeline_splicebert.py``), the command line (``txformers splice``, ``txformers embed``), the demo,
the task code (``txformers.tasks.splicing``) and ``benchmarks/bench_inference.py`` all call it.

* **Inference** (:func:`per_nucleotide_outputs`, :func:`nucleotide_probabilities`): sequences of any
  length are cut into overlapping windows that fit the model (:func:`window_spans`). The windows of
  all sequences are batched together, longest first (:func:`length_batches`), and the per-nucleotide
  outputs are stitched back (:func:`stitch_windows`), each position from the window where it has
  the most context.
* **Zero-shot variant scores** (SpliceBERT, Chen et al., Brief. Bioinform. 2024): the per-position
  ``KL(mut || wt)`` of the A/C/G/T distributions (:func:`kl_profile`), the KL-context score
  (:func:`kl_context_score`), ``delta_p`` and the KL at the splice-site dinucleotides
  (:func:`variant_scores` gives them all for one variant).
* **Splice sites**: every ``GT`` is a donor candidate and every ``AG`` an acceptor candidate
  (:func:`splice_site_candidates`), each read in a window centred on it
  (:func:`splice_site_windows`); :func:`splice_site_tracks` turns the window classifier's
  probabilities into per-nucleotide donor and acceptor tracks.

All positions are **0-based**. Exons are ``(exon_start, exon_end)``, 0-based and half-open: the
acceptor dinucleotide is at ``exon_start-2, exon_start-1`` and the donor dinucleotide at
``exon_end, exon_end+1``.

This file is portable: it imports only the standard library, numpy and torch, so it travels with
``pipeline_splicebert.py`` into a checkpoint folder and runs where txformers is not installed.

Example:

```python
>>> import torch
>>> from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<...>
>>> config = SpliceBertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=4, intermediate_size=64)
>>> model, tokenizer = SpliceBertForMaskedLM(config).eval(), NucleotideTokenizer()
>>> wt = "ACGTTTCAGGTAAGTCCAGGACGT" * 4
>>> mut = wt[:40] + "A" + wt[41:]
>>> p_wt, p_mut = nucleotide_probabilities(model, tokenizer, [wt, mut])
>>> scores = variant_scores(p_wt, p_mut, wt, mut, 40, sites=(30, 60))
>>> sorted(scores)[:4]
['acceptor_kl', 'alt', 'delta_p', 'donor_kl']
```
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

NUCLEOTIDES = "ACGT"
KL_EPSILON = 1e-10
"""Added to both distributions inside the logarithms of :func:`kl_profile`. A float32 softmax
over four logits can round a probability to exactly 0, and then ``log(0)`` gives ``-inf``/``nan``.
At 1e-10 the term changes no KL larger than about 1e-9."""
KL_CONTEXT_FLOOR = 1e-6
"""SpliceBERT's floor inside the logarithm of the KL-context score (``log(max(x, 1e-6))``)."""
DEFAULT_MAX_DISTANCE = 100

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


def token_ids(tokenizer: Any, sequence: str) -> np.ndarray:
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
# Windowed per-nucleotide inference
# ---------------------------------------------------------------------------------------------
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


# Copied from txformers.tokenizers.tokenization_nucleotide.window_spans
def window_spans(length: int, window_size: int, stride: int) -> list[tuple[int, int]]:
    """(start, end) of overlapping windows covering ``range(length)``; the last one ends at ``length``."""
    if length <= window_size:
        return [(0, length)]
    starts = list(range(0, length - window_size, stride)) + [length - window_size]
    return [(start, start + window_size) for start in starts]


# Copied from txformers.tokenizers.tokenization_nucleotide.stitch_windows
def stitch_windows(outputs: list[np.ndarray], spans: list[tuple[int, int]], length: int) -> np.ndarray:
    """Stitch per-nucleotide window outputs ``(end - start, ...)`` back into one ``(length, ...)`` array.

    Each position takes its value from the window in which it lies furthest from an edge, so
    every nucleotide is predicted with as much context on both sides as the windows give.
    """
    result = np.zeros((length,) + outputs[0].shape[1:], dtype=outputs[0].dtype)
    best = np.full(length, -1, dtype=np.int64)
    for output, (start, end) in zip(outputs, spans):
        if output.shape[0] != end - start:
            raise ValueError(f"window {start}-{end} output has {output.shape[0]} positions, expected {end - start}")
        positions = np.arange(start, end)
        # A window edge that is also a sequence end costs no context, so it does not count.
        left = positions - start if start > 0 else np.full(len(positions), length)
        right = end - 1 - positions if end < length else np.full(len(positions), length)
        margin = np.minimum(left, right)
        better = margin > best[start:end]
        result[start:end][better] = output[better]
        best[start:end] = np.where(better, margin, best[start:end])
    return result


def length_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (equal lengths keep their order).

    A batch holds at most ``batch_size`` items and, if given, at most ``max_tokens`` padded tokens.
    Longest first: a batch that does not fit in memory fails at once, not at the end of a long run.

    Example:

    ```python
    >>> length_batches([100, 5, 50, 7, 99, 51], batch_size=2)
    [[0, 4], [5, 2], [3, 1]]
    ```
    """
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = max([lengths[i] for i in current] + [lengths[index]])
        if current and (len(current) >= batch_size or (max_tokens and longest * (len(current) + 1) > max_tokens)):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _logits_or_hidden_states(outputs: Any) -> torch.Tensor:
    return outputs.logits if hasattr(outputs, "logits") else outputs.last_hidden_state


def per_nucleotide_outputs(
    model: torch.nn.Module,
    tokenizer: Any,
    sequences: Sequence[str],
    window_size: int | None = None,
    stride: int | None = None,
    batch_size: int = 32,
    max_tokens: int | None = None,
    select: Callable[[Any], torch.Tensor] | None = None,
    forward_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
) -> list[np.ndarray]:
    """Per-nucleotide model outputs ``(length, ...)`` of sequences of any length.

    Sequences longer than ``window_size`` nucleotides are cut into windows overlapping by
    ``window_size - stride`` (:func:`window_spans`) and stitched back (:func:`stitch_windows`).
    The windows of all sequences are batched together, longest first (:func:`length_batches`),
    under ``torch.inference_mode()``. A model in training mode is put in eval mode for the call
    and restored afterwards. ``[CLS]``, ``[SEP]`` and padding are dropped from the outputs.

    Args:
        model: a SpliceBERT model (or an original ``BertForMaskedLM``).
        tokenizer: the single-nucleotide tokenizer.
        sequences: a list of sequences (raw text: any case, ``U`` read as ``T``, whitespace ignored).
            Invalid characters raise an error naming the sequence.
        window_size: nucleotides per window; default and upper bound: the model's limit
            (:func:`model_window`, 1024 for SpliceBERT.1024nt).
        stride: step between windows; default half a window.
        batch_size: windows per forward pass.
        max_tokens: optionally, at most this many padded tokens per forward pass.
        select: picks the per-token tensor from the model outputs; default ``logits`` (or
            ``last_hidden_state`` for a base model).
        forward_kwargs: extra model arguments, e.g. ``{"output_hidden_states": True}``.
        device: where to run; default the model's device.

    Returns:
        One float32 numpy array ``(length, ...)`` per sequence, in input order.

    Example:

    ```python
    >>> from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertModel
    >>> model = SpliceBertModel(SpliceBertConfig(num_hidden_layers=1, hidden_size=32,
    ...                                          num_attention_heads=4, intermediate_size=64)).eval()
    >>> outputs = per_nucleotide_outputs(model, NucleotideTokenizer(), ["ACGT" * 300, "GGTAAG"])
    >>> [o.shape for o in outputs]
    [(1200, 32), (6, 32)]
    ```
    """
    if isinstance(sequences, str):
        raise TypeError("pass a list of sequences, not a single string")
    batch = list(sequences)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    limit = model_window(model, tokenizer)
    window = min(window_size or limit, limit)
    stride = stride or max(1, window // 2)
    if not 0 < stride <= window:
        raise ValueError(f"stride must be in 1..window_size ({window}), got {stride}")
    for index, sequence in enumerate(batch):
        if not isinstance(sequence, str):
            raise TypeError(f"sequence {index} is a {type(sequence).__name__}, expected a str")
    if hasattr(tokenizer, "validate"):
        tokenizer.validate(batch)  # InvalidNucleotideError naming the sequence, position and character
    else:
        for index, sequence in enumerate(batch):
            validate_sequence(tokenizer, sequence, f"sequence {index}")
    select = select or _logits_or_hidden_states
    forward_kwargs = dict(forward_kwargs or {})
    device = torch.device(device) if device is not None else next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id

    windows: list[np.ndarray] = []
    plan: list[tuple[int, list[tuple[int, int]]]] = []  # (first window, spans) of each sequence
    for sequence in batch:
        ids = token_ids(tokenizer, sequence)
        spans = window_spans(len(ids), window, stride)
        plan.append((len(windows), spans))
        windows.extend(np.concatenate([[cls_id], ids[start:end], [sep_id]]) for start, end in spans)

    outputs: list[np.ndarray | None] = [None] * len(windows)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for rows in length_batches([len(ids) for ids in windows], batch_size, max_tokens):
                longest = max(len(windows[k]) for k in rows)
                input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
                attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
                for row, k in enumerate(rows):
                    input_ids[row, : len(windows[k])] = torch.as_tensor(windows[k])
                    attention_mask[row, : len(windows[k])] = 1
                inputs = {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}
                result = select(model(**inputs, **forward_kwargs)).float().cpu().numpy()
                for row, k in enumerate(rows):
                    outputs[k] = result[row, 1 : len(windows[k]) - 1]
    finally:
        model.train(was_training)

    results = []
    for first, spans in plan:
        pieces = outputs[first : first + len(spans)]
        results.append(pieces[0] if len(spans) == 1 else stitch_windows(pieces, spans, spans[-1][1]))
    return results


def nucleotide_token_ids(tokenizer: Any) -> list[int]:
    """Token ids of A, C, G, T in the tokenizer's vocabulary (SpliceBERT: ``[6, 7, 8, 9]``)."""
    vocab = tokenizer.get_vocab()
    missing = [base for base in NUCLEOTIDES if base not in vocab]
    if missing:
        raise ValueError(f"the tokenizer vocabulary has no token for {missing}: not a single-nucleotide tokenizer")
    return [vocab[base] for base in NUCLEOTIDES]


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

    For each sequence the model reads the unmasked tokens, and the logits of A, C, G and T (ids
    from the tokenizer vocabulary) go through a softmax at every nucleotide position. This is
    :func:`per_nucleotide_outputs` with that softmax as the output, so long sequences are read in
    overlapping windows and stitched back.

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
    acgt = nucleotide_token_ids(tokenizer)
    results = per_nucleotide_outputs(
        model,
        tokenizer,
        [sequences] if single else list(sequences),
        window_size=window_size,
        stride=stride,
        batch_size=batch_size,
        select=lambda outputs: torch.softmax(outputs.logits[..., acgt].float(), dim=-1),
        device=device,
    )
    return results[0] if single else results


# ---------------------------------------------------------------------------------------------
# Zero-shot variant scores from probabilities
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


def site_pair(sites: Any) -> tuple[int | None, int | None]:
    """``(exon_start, exon_end)`` as ints or ``None`` from a pair or a mapping (``None``/NaN: unknown)."""
    if sites is None:
        return None, None
    if isinstance(sites, Mapping):
        sites = (sites.get("exon_start"), sites.get("exon_end"))
    try:
        start, end = sites
    except (TypeError, ValueError) as error:
        raise ValueError(f"sites must be (exon_start, exon_end), got {sites!r}") from error
    start = None if start is None or _is_nan(start) else int(start)
    end = None if end is None or _is_nan(end) else int(end)
    if start is not None and end is not None and end < start:
        raise ValueError(f"exon_end {end} is before exon_start {start}")
    return start, end


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def splice_site_positions(exon_start: int | None, exon_end: int | None, length: int) -> tuple[list[int], list[int]]:
    """Acceptor (``exon_start-2, exon_start-1``) and donor (``exon_end, exon_end+1``) dinucleotide
    positions that lie inside a sequence of ``length`` nt. A missing site (``None``) gives ``[]``."""
    acceptor = [] if exon_start is None else [int(exon_start) - 2, int(exon_start) - 1]
    donor = [] if exon_end is None else [int(exon_end), int(exon_end) + 1]
    return [i for i in acceptor if 0 <= i < length], [i for i in donor if 0 <= i < length]


def splice_site_kl(kl: np.ndarray, sites: Any) -> dict[str, float]:
    """KL at the splice-site dinucleotides of an exon.

    ``acceptor_kl`` is the mean KL over the two acceptor positions (the intronic AG before
    ``exon_start``). ``donor_kl`` is the mean over the two donor positions (the intronic GT at
    ``exon_end``), as in SpliceBERT's VexSeq/MFASS analysis. ``splice_site_kl`` is the larger of
    the two. Positions outside the sequence are left out, and a site with none inside gives ``nan``.

    Args:
        kl: ``(L,)`` KL profile.
        sites: ``(exon_start, exon_end)``, 0-based half-open; either may be ``None``.

    Example:

    ```python
    >>> kl = np.arange(10, dtype=float)
    >>> splice_site_kl(kl, (3, 6))
    {'acceptor_kl': 1.5, 'donor_kl': 6.5, 'splice_site_kl': 6.5}
    ```
    """
    kl = np.asarray(kl, dtype=np.float64)
    acceptor, donor = splice_site_positions(*site_pair(sites), len(kl))
    acceptor_kl = float(kl[acceptor].mean()) if acceptor else float("nan")
    donor_kl = float(kl[donor].mean()) if donor else float("nan")
    both = [value for value in (acceptor_kl, donor_kl) if not math.isnan(value)]
    return {"acceptor_kl": acceptor_kl, "donor_kl": donor_kl, "splice_site_kl": max(both) if both else float("nan")}


def delta_p(
    p_wt: np.ndarray,
    p_mut: np.ndarray,
    wt_sequence: str,
    mut_sequence: str,
    pos: int,
    sites: Any = None,
) -> dict[str, float]:
    """Changes of the MLM probability of the observed nucleotides (unmasked inputs).

    * ``delta_p = p_mut[pos, alt] - p_wt[pos, ref]``: how plausible the model finds the
      alternative base in the mutant, compared with the reference base in the wild type.
      Negative means less plausible, so use ``-delta_p`` to rank variants as disruptive.
    * with ``sites``: ``splice_site_delta_p = mean_i |p_mut[i, mut_i] - p_wt[i, wt_i]|`` over
      the acceptor and donor dinucleotide positions ``i`` inside the sequence (see
      :func:`splice_site_positions`), where ``wt_i`` and ``mut_i`` are the bases at ``i`` in each
      sequence. They are the same unless the variant hits the site. Positions with a non-ACGT
      base are skipped, and ``nan`` means none is left.

    Example:

    ```python
    >>> p = np.full((4, 4), 0.25)
    >>> delta_p(p, p, "ACGT", "AGGT", 1)
    {'delta_p': 0.0}
    ```
    """
    wt_sequence, mut_sequence = wt_sequence.upper(), mut_sequence.upper()
    ref, alt = NUCLEOTIDES.find(wt_sequence[pos]), NUCLEOTIDES.find(mut_sequence[pos])
    if ref < 0 or alt < 0:
        raise ValueError(
            f"the bases at position {pos} must be A/C/G/T, got {wt_sequence[pos]!r} > {mut_sequence[pos]!r}"
        )
    result = {"delta_p": float(p_mut[pos, alt]) - float(p_wt[pos, ref])}
    if sites is not None:
        acceptor, donor = splice_site_positions(*site_pair(sites), len(wt_sequence))
        changes = []
        for i in acceptor + donor:
            wt_base, mut_base = NUCLEOTIDES.find(wt_sequence[i]), NUCLEOTIDES.find(mut_sequence[i])
            if wt_base >= 0 and mut_base >= 0:
                changes.append(abs(float(p_mut[i, mut_base]) - float(p_wt[i, wt_base])))
        result["splice_site_delta_p"] = float(np.mean(changes)) if changes else float("nan")
    return result


def site_distance(pos: int, sites: Any) -> float:
    """Distance (nt) from ``pos`` to the nearest splice-site dinucleotide; 0 inside one, ``nan`` if none."""
    exon_start, exon_end = site_pair(sites)
    distances = []
    for low, high in (
        (None if exon_start is None else exon_start - 2, None if exon_start is None else exon_start - 1),
        (exon_end, None if exon_end is None else exon_end + 1),
    ):
        if low is not None:
            distances.append(max(low - pos, pos - high, 0))
    return float(min(distances)) if distances else float("nan")


def variant_scores(
    p_wt: np.ndarray,
    p_mut: np.ndarray,
    wt_sequence: str,
    mut_sequence: str,
    pos: int,
    sites: Any = None,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    edge: str = "one_sided",
) -> dict[str, Any]:
    """Every zero-shot score of one SNV from the A/C/G/T probabilities of its WT and mutant sequences.

    Returns ``position, ref, alt, kl_context`` (:func:`kl_context_score` with ``max_distance`` and
    ``edge``), ``kl_variant`` (the KL at the variant) and ``delta_p`` (:func:`delta_p`). With
    ``sites`` (``(exon_start, exon_end)``, either may be ``None``) also ``splice_site_delta_p``,
    ``acceptor_kl``, ``donor_kl``, ``splice_site_kl`` (:func:`splice_site_kl`) and ``site_distance``.
    """
    kl = kl_profile(p_wt, p_mut)
    record: dict[str, Any] = {
        "position": pos,
        "ref": wt_sequence[pos],
        "alt": mut_sequence[pos],
        "kl_context": kl_context_score(kl, pos, max_distance=max_distance, edge=edge),
        "kl_variant": float(kl[pos]),
    }
    record.update(delta_p(p_wt, p_mut, wt_sequence, mut_sequence, pos, sites=sites))
    if sites is not None:
        record.update(splice_site_kl(kl, sites))
        record["site_distance"] = site_distance(pos, sites)
    return record


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


def splice_site_windows(
    ids: np.ndarray, vocab: dict[str, int], window: int, cls_id: int, sep_id: int
) -> list[tuple[int, int, np.ndarray]]:
    """The window classifier's input for every ``GT``/``AG`` candidate of a sequence, in position order.

    Each item is ``(position, site, window_ids)``: ``position`` is where the probability is reported
    (the ``G`` of ``GT``, the first intron nucleotide, for a donor; the ``G`` of ``AG``, the last
    intron nucleotide, for an acceptor), ``site`` is 0 for a donor and 1 for an acceptor, and
    ``window_ids`` are ``[CLS]``, ``window`` token ids with the dinucleotide at window indices
    ``window // 2 - 1`` and ``window // 2`` (``N`` past the sequence ends), and ``[SEP]``.
    """
    ids = np.asarray(ids)
    donors, acceptors = splice_site_candidates(ids, vocab)
    # (reported position, site: 0 donor / 1 acceptor, first nt of the dinucleotide)
    candidates = sorted([(int(d), 0, int(d)) for d in donors] + [(int(a) + 1, 1, int(a)) for a in acceptors])
    padded = np.full(len(ids) + 2 * window, vocab["N"], dtype=np.int64)
    padded[window : window + len(ids)] = ids
    offset = window // 2 - 1  # the dinucleotide's index in the window
    windows = []
    for position, site, first in candidates:
        start = window + first - offset
        windows.append((position, site, np.concatenate([[cls_id], padded[start : start + window], [sep_id]])))
    return windows


def splice_site_tracks(
    length: int, scored: Sequence[tuple[int, int, np.ndarray]], donor_label: int, acceptor_label: int
) -> dict[str, np.ndarray]:
    """Per-nucleotide donor and acceptor probabilities from the classifier's output on each candidate.

    Args:
        length: sequence length.
        scored: ``(position, site, probabilities)`` per candidate (``site`` 0 donor, 1 acceptor, as
            :func:`splice_site_windows` gives them; ``probabilities`` over the model's classes).
        donor_label, acceptor_label: class indices from :func:`splice_site_label_ids`.

    Returns:
        ``donor_prob`` and ``acceptor_prob`` (float32, 0 at non-candidate positions),
        ``donor_positions`` and ``acceptor_positions`` (int64).
    """
    donor_prob = np.zeros(length, dtype=np.float32)
    acceptor_prob = np.zeros(length, dtype=np.float32)
    donors, acceptors = [], []
    for position, site, probabilities in scored:
        probabilities = np.asarray(probabilities).reshape(-1)
        if site == 0:
            donor_prob[position] = float(probabilities[donor_label])
            donors.append(position)
        else:
            acceptor_prob[position] = float(probabilities[acceptor_label])
            acceptors.append(position)
    return {
        "donor_prob": donor_prob,
        "acceptor_prob": acceptor_prob,
        "donor_positions": np.asarray(donors, dtype=np.int64),
        "acceptor_positions": np.asarray(acceptors, dtype=np.int64),
    }


__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "KL_CONTEXT_FLOOR",
    "KL_EPSILON",
    "NUCLEOTIDES",
    "check_snv",
    "clean_sequence",
    "delta_p",
    "kl_context_score",
    "kl_profile",
    "length_batches",
    "model_window",
    "nucleotide_probabilities",
    "nucleotide_token_ids",
    "per_nucleotide_outputs",
    "site_distance",
    "site_pair",
    "splice_site_candidates",
    "splice_site_kl",
    "splice_site_label_ids",
    "splice_site_positions",
    "splice_site_tracks",
    "splice_site_windows",
    "stitch_windows",
    "token_ids",
    "validate_sequence",
    "variant_scores",
    "window_spans",
]
