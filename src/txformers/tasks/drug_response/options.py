# Copyright 2026 The txformers authors. BSD-3-Clause.
"""The options of the few-shot benchmark, apart from its code: parsing them imports neither torch nor a model."""

from __future__ import annotations

import argparse


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options of the few-shot benchmark (:func:`fewshot_benchmark`), shared by
    ``python -m txformers.training.fewshot`` and ``txformers drug fewshot``; returns the added actions."""
    drug_help = "drug name (looked up in the SMILES tables) or SMILES; default: from the file name"
    bulk_help = "GDSC folder for the MMD term (default: ../bulk_gdsc next to the data)"
    return [
        parser.add_argument("--model", nargs="+", required=True, help="checkpoint folder(s), optionally NAME=DIR"),
        parser.add_argument("--data", nargs="+", required=True, help="SCAD-format TSV or h5ad file(s)"),
        parser.add_argument("--label-column", default="response"),
        parser.add_argument("--shots", nargs="+", type=int, default=[3], help="k labelled cells per class"),
        parser.add_argument("--seeds", type=int, default=10),
        parser.add_argument("--json", help="write the results here"),
        parser.add_argument("--drug", help=drug_help),
        parser.add_argument("--smiles-table", nargs="*", default=None, help="CSV tables of drug names and SMILES"),
        parser.add_argument("--gene-map", help="Entrez-to-symbol table for Entrez-id gene columns"),
        parser.add_argument("--steps", type=int, default=50),
        parser.add_argument("--lr", type=float, default=3e-3),
        parser.add_argument("--lora-r", type=int, default=8),
        parser.add_argument("--lora-alpha", type=int, default=16),
        parser.add_argument("--mmd-weight", type=float, default=0.0),
        parser.add_argument("--bulk-dir", help=bulk_help),
        parser.add_argument("--no-baseline", action="store_true", help="skip logistic regression"),
    ]
