# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Single-nucleotide tokenizer with SpliceBERT's vocabulary.

Portable: imports only the standard library, numpy, tokenizers and transformers, so it is copied
into checkpoints and loads where txformers is not installed.

Input policy (the same in the fast path and the `tokenizers` path):

* raw sequence, any case; RNA ``U`` is read as ``T``;
* IUPAC ambiguity codes (``R Y S W K M B D H V N``) become ``N``;
* whitespace (spaces, tabs, newlines) is ignored, so FASTA-wrapped text and the original
  space-separated SpliceBERT input both work; offsets still point into the raw string;
* any other character is an error: :class:`InvalidNucleotideError` names the sequence (its index
  in the batch), the position and the character.  Loaded *without* txformers (plain
  ``AutoTokenizer`` on ``tokenizer.json``) such characters become ``[UNK]`` instead.

Example:

```python
>>> from txformers import NucleotideTokenizer
>>> tok = NucleotideTokenizer()
>>> tok("acgUn")["input_ids"]
[2, 6, 7, 8, 9, 5, 3]
```
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import BatchEncoding, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
NUCLEOTIDES = ["N", "A", "C", "G", "T"]
SPLICEBERT_VOCAB = {token: index for index, token in enumerate(SPECIAL_TOKENS + NUCLEOTIDES)}
IUPAC_AMBIGUITY = "RYSWKMBDHV"
WHITESPACE = " \t\n\r\v\f"

VOCAB_FILES_NAMES = {"vocab_file": "vocab.txt", "tokenizer_file": "tokenizer.json"}


class InvalidNucleotideError(ValueError):
    """A sequence holds a character that is not a nucleotide, an IUPAC code or whitespace."""


def build_nucleotide_backend(vocab: dict[str, int] | None = None) -> Tokenizer:
    """The `tokenizers` pipeline: normalise case/U/IUPAC, drop whitespace, one token per letter."""
    vocab = dict(vocab or SPLICEBERT_VOCAB)
    tokenizer = Tokenizer(WordLevel(vocab=vocab, unk_token="[UNK]"))
    steps = [normalizers.Replace(Regex(r"\s"), "")]
    steps += [normalizers.Replace(letter.lower(), letter) for letter in "ACGTN"]
    steps += [normalizers.Replace(Regex("[uU]"), "T")]
    ambiguity = IUPAC_AMBIGUITY + IUPAC_AMBIGUITY.lower()
    steps += [normalizers.Replace(Regex(f"[{ambiguity}]"), "N")]
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    return tokenizer


def _lookup_table(vocab: dict[str, int]) -> np.ndarray:
    """Byte -> token id; -1 for whitespace (dropped), -2 for invalid characters."""
    table = np.full(256, -2, dtype=np.int64)
    for letter in "ACGTN":
        table[ord(letter)] = table[ord(letter.lower())] = vocab[letter]
    table[ord("U")] = table[ord("u")] = vocab["T"]
    for letter in IUPAC_AMBIGUITY:
        table[ord(letter)] = table[ord(letter.lower())] = vocab["N"]
    for char in WHITESPACE:
        table[ord(char)] = -1
    return table


class NucleotideTokenizer(PreTrainedTokenizerFast):
    """Fast single-nucleotide tokenizer; the no-argument constructor gives SpliceBERT's vocabulary.

    Args:
        vocab_file: optional ``vocab.txt`` (one token per line, SpliceBERT layout).
        tokenizer_file: optional ``tokenizer.json`` written by this class.
        model_max_length: longest input in tokens including ``[CLS]``/``[SEP]`` (1026 for
            SpliceBERT.1024nt).
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    padding_side = "right"

    def __init__(
        self,
        vocab_file: str | None = None,
        tokenizer_file: str | None = None,
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        mask_token: str = "[MASK]",
        model_max_length: int = 1026,
        **kwargs: Any,
    ):
        kwargs.pop("tokenizer_object", None)
        if tokenizer_file is not None and os.path.isfile(tokenizer_file):
            backend = Tokenizer.from_file(tokenizer_file)
        else:
            vocab = _read_vocab(vocab_file) if vocab_file else SPLICEBERT_VOCAB
            backend = build_nucleotide_backend(vocab)
        super().__init__(
            tokenizer_object=backend,
            unk_token=unk_token,
            sep_token=sep_token,
            pad_token=pad_token,
            cls_token=cls_token,
            mask_token=mask_token,
            model_max_length=model_max_length,
            **kwargs,
        )
        self._table = _lookup_table(self.get_vocab())

    # ------------------------------------------------------------------ validation
    def validate(self, sequences: str | list[str]) -> None:
        """Raise :class:`InvalidNucleotideError` naming the first bad character of any sequence."""
        batch = [sequences] if isinstance(sequences, str) else sequences
        for index, sequence in enumerate(batch):
            if not isinstance(sequence, str):
                raise InvalidNucleotideError(
                    f"sequence {index} is {type(sequence).__name__} ({sequence!r:.40}), not a string of nucleotides"
                )
            codes = np.frombuffer(sequence.encode("utf-8"), dtype=np.uint8)
            bad = np.flatnonzero(self._table[codes] == -2)
            if bad.size or len(codes) != len(sequence):
                position = _first_bad_char(sequence, self._table)
                if position is None:
                    continue
                name = "sequence" if isinstance(sequences, str) else f"sequence {index}"
                shown = sequence if len(sequence) <= 40 else sequence[:37] + "..."
                raise InvalidNucleotideError(
                    f"{name} ({shown!r}) has {sequence[position]!r} at position {position} (0-based): "
                    "expected A/C/G/T/U/N, an IUPAC ambiguity code (R Y S W K M B D H V) or whitespace"
                )

    def encode_ids(self, sequence: str, add_special_tokens: bool = True) -> np.ndarray:
        """Ids of one sequence as a numpy array (no truncation)."""
        matrix, lengths = self.encode_batch([sequence], add_special_tokens)
        return matrix[0, : lengths[0]]

    # ------------------------------------------------------------------ encoding
    def __call__(self, text=None, text_pair=None, *args: Any, **kwargs: Any) -> BatchEncoding:
        if text_pair is None and not args and _fast_path_ok(text, kwargs):
            return self._fast_call(text, **kwargs)  # validates while encoding
        for value in (text, text_pair, kwargs.get("text_target"), kwargs.get("text_pair_target")):
            if isinstance(value, (list, tuple)) and value and not kwargs.get("is_split_into_words"):
                if any(isinstance(item, str) for item in value) or not all(isinstance(i, (list, tuple)) for i in value):
                    self.validate(list(value))  # a batch of strings: names a None or number inside it
            if isinstance(value, str) or (isinstance(value, (list, tuple)) and value and isinstance(value[0], str)):
                if not kwargs.get("is_split_into_words"):
                    self.validate(list(value) if not isinstance(value, str) else value)
        return super().__call__(text, text_pair, *args, **kwargs)

    def encode_batch(
        self, sequences: list[str], add_special_tokens: bool = True, max_length: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised encoding of a batch: (right-padded ``int64`` id matrix, lengths in tokens).

        One table lookup over the concatenated bytes of all sequences; whitespace is dropped,
        invalid characters raise :class:`InvalidNucleotideError`; ``max_length`` truncates
        (keeping ``[CLS]``/``[SEP]``).
        """
        if any(not isinstance(sequence, str) for sequence in sequences):
            self.validate(sequences)  # names the first non-string
        encoded = [sequence.encode("utf-8") for sequence in sequences]
        raw_lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        codes = self._table[np.frombuffer(b"".join(encoded), dtype=np.uint8)]
        if (codes == -2).any():
            self.validate(sequences)
        rows = np.repeat(np.arange(len(encoded)), raw_lengths)
        if (codes == -1).any():  # whitespace: drop it
            keep = codes >= 0
            codes, rows = codes[keep], rows[keep]
            lengths = np.bincount(rows, minlength=len(encoded))
        else:
            lengths = raw_lengths
        starts = np.cumsum(lengths) - lengths
        columns = np.arange(len(codes)) - np.repeat(starts, lengths)
        special = 2 if add_special_tokens else 0
        if max_length is not None:
            limit = max(max_length - special, 0)
            keep = columns < limit
            codes, rows, columns = codes[keep], rows[keep], columns[keep]
            lengths = np.minimum(lengths, limit)
        width = int(lengths.max(initial=0)) + special
        matrix = np.full((len(encoded), width), self.pad_token_id, dtype=np.int64)
        offset = 1 if add_special_tokens else 0
        matrix[rows, columns + offset] = codes
        if add_special_tokens:
            matrix[:, 0] = self.cls_token_id
            matrix[np.arange(len(encoded)), lengths + 1] = self.sep_token_id
        return matrix, lengths + special

    def _fast_call(
        self,
        text: str | list[str],
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        return_tensors: str | None = None,
        return_attention_mask: bool | None = None,
        return_token_type_ids: bool | None = None,
        return_length: bool = False,
        pad_to_multiple_of: int | None = None,
        **_: Any,
    ) -> BatchEncoding:
        single = isinstance(text, str)
        batch = [text] if single else list(text)
        limit = None
        if truncation is None and max_length is not None:
            truncation = True  # transformers' default (and the offsets path's): max_length alone truncates
        if truncation not in (None, False, "do_not_truncate"):
            limit = max_length or self.model_max_length
        matrix, lengths = self.encode_batch(batch, add_special_tokens, limit)
        width = matrix.shape[1]
        if padding == "max_length":
            width = max(width, max_length or self.model_max_length)
        if pad_to_multiple_of and padding not in (False, "do_not_pad"):
            width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
        if width > matrix.shape[1]:
            matrix = np.pad(matrix, ((0, 0), (0, width - matrix.shape[1])), constant_values=self.pad_token_id)
        attention_mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)
        padded = padding in (True, "longest", "max_length")
        if not padded and return_tensors is not None and len(set(lengths.tolist())) > 1:
            raise ValueError("sequences of different lengths need padding=True to be returned as tensors")
        data: dict[str, Any] = {"input_ids": matrix}
        if return_token_type_ids is not False:
            data["token_type_ids"] = np.zeros_like(matrix)
        if return_attention_mask is not False:
            data["attention_mask"] = attention_mask
        if return_tensors is None:
            # Python lists, unpadded unless padding was asked for.
            cut = (lambda row, n: row.tolist()) if padded else (lambda row, n: row[:n].tolist())
            data = {key: [cut(row, n) for row, n in zip(value, lengths)] for key, value in data.items()}
        if return_length:
            data["length"] = lengths.tolist()
        if single and return_tensors is None:
            data = {key: value[0] for key, value in data.items()}
        if return_tensors == "pt":  # zero-copy: torch.tensor() would copy every array
            import torch

            data = {
                key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value for key, value in data.items()
            }
            return BatchEncoding(data)
        return BatchEncoding(data, tensor_type=return_tensors)

    # ------------------------------------------------------------------ long sequences
    def sliding_windows(
        self, sequence: str, window_size: int | None = None, stride: int | None = None
    ) -> list[dict[str, Any]]:
        """Cut one sequence into overlapping windows of at most ``window_size`` nucleotides.

        Returns one dict per window: ``start``/``end`` (positions in the whitespace-free
        sequence), ``input_ids`` (with ``[CLS]``/``[SEP]``). Consecutive windows overlap by
        ``window_size - stride`` nucleotides (default: half a window); the last window ends at the
        sequence end. Stitch per-nucleotide outputs with :func:`stitch_windows`.
        """
        window_size = window_size or self.model_max_length - 2
        stride = stride or max(1, window_size // 2)
        if not 0 < stride <= window_size:
            raise ValueError(f"stride must be in 1..window_size ({window_size}), got {stride}")
        ids = self.encode_ids(sequence, add_special_tokens=False)
        return [
            {
                "start": start,
                "end": end,
                "input_ids": [self.cls_token_id, *ids[start:end].tolist(), self.sep_token_id],
            }
            for start, end in window_spans(len(ids), window_size, stride)
        ]

    def save_pretrained(self, save_directory, *args, **kwargs):
        files = super().save_pretrained(save_directory, *args, **kwargs)
        config_path = os.path.join(save_directory, "tokenizer_config.json")
        with open(config_path) as handle:
            config = json.load(handle)
        # No auto_map: AutoTokenizer then loads tokenizer.json with no custom code where txformers is absent.
        config.pop("auto_map", None)
        config["tokenizer_class"] = type(self).__name__
        with open(config_path, "w") as handle:
            json.dump(config, handle, indent=2, sort_keys=True)
        return files

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        path = os.path.join(save_directory, (filename_prefix + "-" if filename_prefix else "") + "vocab.txt")
        vocab = sorted(self.get_vocab().items(), key=lambda item: item[1])
        with open(path, "w") as handle:
            handle.write("".join(token + "\n" for token, _ in vocab))
        return (path,)


def window_spans(length: int, window_size: int, stride: int) -> list[tuple[int, int]]:
    """(start, end) of overlapping windows covering ``range(length)``; the last one ends at ``length``."""
    if length <= window_size:
        return [(0, length)]
    starts = list(range(0, length - window_size, stride)) + [length - window_size]
    return [(start, start + window_size) for start in starts]


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


def _fast_path_ok(text: Any, kwargs: dict[str, Any]) -> bool:
    if not (isinstance(text, str) or (isinstance(text, (list, tuple)) and text and isinstance(text[0], str))):
        return False
    unsupported = {
        "return_offsets_mapping",
        "return_overflowing_tokens",
        "return_special_tokens_mask",
        "is_split_into_words",
        "text_target",
        "text_pair_target",
        "stride",
        "padding_side",
        "tokenizer_kwargs",
        "split_special_tokens",
    }
    if any(kwargs.get(key) for key in unsupported):
        return False
    if kwargs.get("truncation") in ("only_second",) or kwargs.get("padding") in ("do_not_pad",):
        return False
    known = {
        "add_special_tokens",
        "padding",
        "truncation",
        "max_length",
        "return_tensors",
        "return_attention_mask",
        "return_token_type_ids",
        "return_length",
        "pad_to_multiple_of",
        "verbose",
    } | unsupported
    return set(kwargs) <= known and (isinstance(text, str) or all(isinstance(s, str) for s in text))


def _first_bad_char(sequence: str, table: np.ndarray) -> int | None:
    for position, char in enumerate(sequence):
        code = ord(char)
        if code > 255 or table[code] == -2:
            return position
    return None


def _read_vocab(vocab_file: str) -> dict[str, int]:
    with open(vocab_file) as handle:
        tokens = [line.rstrip("\n") for line in handle if line.rstrip("\n")]
    vocab = {token: index for index, token in enumerate(tokens)}
    missing = [token for token in SPECIAL_TOKENS + NUCLEOTIDES if token not in vocab]
    if missing:
        raise ValueError(f"{vocab_file} lacks the tokens {missing}")
    return vocab
