"""Tokenizers: nucleotide (SpliceBERT), SMILES and gene-expression."""

from .tokenization_gene_expression import (
    GeneCoverageError,
    GeneExpressionTokenizer,
    GeneMatchReport,
    build_vocab_from_adata,
)
from .tokenization_nucleotide import (
    InvalidNucleotideError,
    NucleotideTokenizer,
    stitch_windows,
    window_spans,
)
from .tokenization_smiles import InvalidSmilesError, SmilesTokenizer, morgan_fingerprint, split_smiles

__all__ = [
    "GeneCoverageError",
    "GeneExpressionTokenizer",
    "GeneMatchReport",
    "build_vocab_from_adata",
    "InvalidNucleotideError",
    "InvalidSmilesError",
    "NucleotideTokenizer",
    "SmilesTokenizer",
    "morgan_fingerprint",
    "split_smiles",
    "stitch_windows",
    "window_spans",
]
