"""Tokenizers: nucleotide (SpliceBERT), and later gene-expression and SMILES tokenizers."""

from .tokenization_nucleotide import (
    InvalidNucleotideError,
    NucleotideTokenizer,
    stitch_windows,
    window_spans,
)

__all__ = ["InvalidNucleotideError", "NucleotideTokenizer", "stitch_windows", "window_spans"]
