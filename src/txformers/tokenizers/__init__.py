"""Tokenizers: nucleotide (SpliceBERT), SMILES and gene-expression (with gene matching and expression encodings)."""

from .gene_vocabulary import GeneCoverageError, GeneMatcher, GeneMatchReport, build_vocab_from_adata, canonical_gene_id
from .tokenization_gene_expression import GeneExpressionTokenizer
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
    "GeneMatcher",
    "build_vocab_from_adata",
    "canonical_gene_id",
    "InvalidNucleotideError",
    "InvalidSmilesError",
    "NucleotideTokenizer",
    "SmilesTokenizer",
    "morgan_fingerprint",
    "split_smiles",
    "stitch_windows",
    "window_spans",
]
