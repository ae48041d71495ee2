# Copyright 2026 The txformers authors. BSD-3-Clause.
"""The `txformers` command line: one entry point, one module per command group.

    txformers embed examples/minigenes.fa --out outputs/minigenes
    txformers drug fewshot --model checkpoints/metascdrug-meta --data cells.h5ad --label-column response --shots 3

Each module in this folder (``embed.py``, ``drug.py``, ...) defines ``add_parser(commands)``, which
adds its sub-command(s) with a ``handler``. Every command reads the user's files and writes only to
new paths: an existing output is never overwritten unless ``--overwrite`` is given, and an output
path equal to an input is refused. Bad input raises ``UserError``: one clear line, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ._common import CHECKPOINTS, DEFAULT_SPLICEBERT, REPO_ROOT, UserError, check_outputs, device


def command_modules() -> list[str]:
    """The command modules of this package (every module whose name does not start with ``_``)."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="txformers",
        description="Hugging Face models for transcriptomics: SpliceBERT, MetaSCDrug, cytokine patterns.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  txformers embed examples/minigenes.fa --out outputs/minigenes\n"
        "  txformers <command> --help   (each command lists its own examples)\n",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name in command_modules():
        importlib.import_module(f"{__name__}.{name}").add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from ..io import command_outputs
        from ._checks import preflight

        preflight(args)  # device and checkpoint weights, before any input is read or model loaded
        with command_outputs():  # each output the command checks stays locked until it ends
            return args.handler(args)
    except UserError as error:
        print(f"txformers {args.command}: error: {error}", file=sys.stderr)
        return 2


__all__ = [
    "CHECKPOINTS",
    "DEFAULT_SPLICEBERT",
    "REPO_ROOT",
    "UserError",
    "build_parser",
    "check_outputs",
    "device",
    "main",
]
