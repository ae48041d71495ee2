# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers demo`: every bundled checkpoint on the bundled examples, written up as a report folder.

    txformers demo --out outputs/demo

Four sections, each run through the library's own pipelines:

1. ``splice-sites``: ``checkpoints/splicebert-small-splice-sites`` (``SpliceSitePipeline``) along the
   synthetic minigenes of ``examples/minigenes.fa``, with their designed exon-intron boundaries marked;
   next to it the saved test metrics of ``results/splicebert/splice_sites.json``.
2. ``variants``: ``checkpoints/splicebert-small-pretrained`` (``SpliceVariantEffectPipeline``, zero-shot)
   on the designed SNVs of ``examples/minigene_variants.tsv``; the saved masked-LM evaluation.
3. ``drug``: ``checkpoints/metascdrug-meta`` and ``-nometa`` (``DrugResponsePipeline``) on the synthetic
   cells of ``examples/drug_cells.h5ad`` with PLX4720, integrated-gradient critical genes; the saved
   real few-shot results of ``results/metascdrug/single_cell_fewshot.json``.
4. ``cytokine``: ``checkpoints/cellformer-cancer-type`` (``CancerTypePipeline``) and the embeddings of
   ``checkpoints/cellformer-pretrained`` on the synthetic immune cells of ``examples/immune_cells.h5ad``;
   the saved real cytokine patterns and cancer-type metrics of ``results/cellformer/``.

OUT gets ``report.md`` (Markdown, figures embedded by relative path), ``figures/*.png``,
``summary.json`` (every number of the report) and one table per section. Numbers under "saved" are
copied from the results files, never recomputed. The folder is written next to OUT first and moved
into place at the end, so a failed run leaves no half-written report; an existing OUT is refused
unless ``--overwrite``, and OUT may not be, contain or lie inside an input folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io import atomic_folder, check_output_folder, output_lock
from ..tasks.demo import SECTIONS, check_inputs, run_demo
from ._common import CHECKPOINTS, REPO_ROOT, device


def _command(args: argparse.Namespace) -> str:
    parts = ["txformers demo", f"--out {args.out}"]
    if args.sections != list(SECTIONS):
        parts.append("--sections " + " ".join(args.sections))
    for option, value, default in (
        ("--checkpoints", args.checkpoints, str(CHECKPOINTS)),
        ("--results", args.results, str(REPO_ROOT / "results")),
        ("--examples", args.examples, str(REPO_ROOT / "examples")),
        ("--device", args.device, None),
    ):
        if value is not None and str(value) != default:
            parts.append(f"{option} {value}")
    if args.overwrite:
        parts.append("--overwrite")
    return " ".join(parts)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run every bundled checkpoint on the bundled examples and write a report folder (see the module doc)."""
    sections = list(dict.fromkeys(args.sections))
    checkpoints, results, examples = check_inputs(args.checkpoints, args.results, args.examples, sections)
    inputs = [checkpoints, results, examples]
    out = Path(args.out)
    check_output_folder(out, inputs, args.overwrite, what="report")
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        check_output_folder(out, inputs, args.overwrite, what="report")  # again: another run may have finished
        with atomic_folder(out, merge=True) as work:  # a failed run leaves no half-written report
            lines, seconds = run_demo(
                work, sections, checkpoints, results, examples, device(args.device), _command(args), log=_progress
            )
    for line in lines:
        print(line)
    print(f"report: {out / 'report.md'} ({seconds:.0f} s; numbers in {out / 'summary.json'})")
    return 0


def _checkpoints_of(args: argparse.Namespace) -> list[Path]:
    """The checkpoint folders the chosen sections load (their weights are checked before the work)."""
    from ..tasks.demo.report import NEEDS

    return [Path(args.checkpoints) / name for section in args.sections for name in NEEDS.get(section, ([],))[0]]


def _progress(line: str) -> None:
    print(line, file=sys.stderr)


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="run every bundled checkpoint on the bundled examples; writes a report folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  txformers demo --out outputs/demo\n"
        "  txformers demo --out outputs/demo --sections drug cytokine --device cpu --overwrite\n",
    )
    demo.add_argument("--out", default="outputs/demo", help="report folder (default: %(default)s)")
    demo.add_argument("--overwrite", action="store_true", help="replace the report files of an existing --out")
    demo.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    demo.add_argument(
        "--checkpoints", default=str(CHECKPOINTS), help="folder of the checkpoints (default: %(default)s)"
    )
    demo.add_argument(
        "--results", default=str(REPO_ROOT / "results"), help="folder of the saved results (default: %(default)s)"
    )
    demo.add_argument(
        "--examples", default=str(REPO_ROOT / "examples"), help="folder of the example inputs (default: %(default)s)"
    )
    demo.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        metavar="SECTION",
        help="sections to run, in this order: " + " ".join(SECTIONS) + " (default: all)",
    )
    demo.set_defaults(handler=cmd_demo, checkpoints_of=_checkpoints_of)
