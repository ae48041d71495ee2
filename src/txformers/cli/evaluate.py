# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers evaluate`: re-run the evaluation a checkpoint records, with CIs and baselines; --check it."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ._common import REPO_ROOT, UserError, check_outputs

# model_type -> the task module whose evaluate_checkpoint(checkpoint, data, quick) evaluates it
EVALUATORS = {
    "metascdrug": "txformers.tasks.drug_response.evaluation",
    "cellformer": "txformers.tasks.cytokine.evaluation",
    # SpliceBERT, by the config's architectures: the window classifier, the masked LM, the per-nt sites model and
    # the variant-effect model (one module dispatches on the architecture)
    "splicebert-splice-sites": "txformers.tasks.splicing.evaluation",
    "splicebert-mlm": "txformers.tasks.splicing.evaluation",
    "splicebert-splice-sites-nt": "txformers.tasks.splicing.evaluation",
    "splicebert-variant-effect": "txformers.tasks.splicing.evaluation",
}
SPLICE_SITES_ARCHITECTURE = "SpliceBertForSequenceClassification"
SPLICEBERT_KINDS = {
    SPLICE_SITES_ARCHITECTURE: "splicebert-splice-sites",
    "SpliceBertForMaskedLM": "splicebert-mlm",
    "SpliceBertForTokenClassification": "splicebert-splice-sites-nt",
    "SpliceBertForVariantEffect": "splicebert-variant-effect",
}
# families whose evaluation `txformers evaluate` does not run yet, and where their numbers come from
NOT_YET = {
    "splicebert": (
        "this SpliceBERT checkpoint is not evaluated by `txformers evaluate` yet: its config names none of the "
        "architectures evaluated (" + ", ".join(SPLICEBERT_KINDS) + ")"
    ),
}


def shown(path: str | Path) -> str:
    """``path`` relative to the repository when it lies beside or inside it (no machine paths in results)."""
    path = Path(path)
    try:
        resolved = path.resolve()
        if resolved.is_relative_to(REPO_ROOT.parent):
            return os.path.relpath(resolved, REPO_ROOT)
    except OSError:
        pass
    return str(path)


def model_type(checkpoint: Path) -> str:
    """The ``model_type`` of a checkpoint folder's config.json (read as JSON: no torch import); a SpliceBERT
    splice-site window classifier is ``splicebert-splice-sites``."""
    config = checkpoint / "config.json"
    if not config.is_file():
        raise UserError(f"{checkpoint} has no config.json: give a checkpoint folder or a bundled checkpoint name")
    try:
        values = json.loads(config.read_text())
        kind = values.get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise UserError(f"{config} is not a valid JSON config") from None
    if not kind:
        raise UserError(f"{config} names no model_type")
    if kind == "splicebert":
        for architecture in values.get("architectures") or []:
            if architecture in SPLICEBERT_KINDS:
                return SPLICEBERT_KINDS[architecture]
    return str(kind)


def evaluator(kind: str):
    """The ``evaluate_checkpoint`` function of a model type, or a UserError that says what exists."""
    import importlib

    if kind in NOT_YET:
        raise UserError(NOT_YET[kind])
    if kind not in EVALUATORS:
        known = ", ".join(sorted([*EVALUATORS, *NOT_YET]))
        raise UserError(f"no evaluation for model_type {kind!r} (known: {known})")
    module_name = EVALUATORS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise UserError(f"the {kind} evaluation ({module_name}) is not there yet in this version") from None
        raise
    function = getattr(module, "evaluate_checkpoint", None)
    if function is None:
        raise UserError(f"{module_name} has no evaluate_checkpoint(checkpoint, data, quick) yet")
    return function


def command_line(args: argparse.Namespace, checkpoint: str) -> str:
    """The command that re-derives the numbers (options that do not change them are left out)."""
    parts = ["txformers evaluate", checkpoint]
    if args.data:
        parts += ["--data", shown(args.data)]
    if args.quick:
        parts.append("--quick")
    return " ".join(parts)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Re-run the evaluation a checkpoint records: its data, split, seeds and metrics, with the baselines
    (gradient boosting, logistic regression, the random-init twin) trained and scored in the same run.

    Prints the table (each metric with its bootstrap 95 % CI) and the plain comparisons; writes the results
    to OUT/<checkpoint name>.json with --out. --check compares with the numbers the checkpoint records
    (CHECKPOINT/evaluation.json, written with --record) and exits 1 when one lies outside its re-derived CI.
    The model family is read from the checkpoint's config.json: metascdrug (single-cell few-shot and unseen
    drugs), cellformer (cancer type and cell embeddings), SpliceBERT (the splice-site window classifier and the
    per-nucleotide model on Test windows, the masked LM on masked Test nucleotides, the variant-effect model on
    the kept-aside MaPSy fold).
    """
    from ..evaluation import ResultsError, check, format_table, read_record, record_path, validate_results
    from ..hub import resolve_checkpoint
    from ._checks import check_checkpoint

    checkpoint = Path(resolve_checkpoint(args.checkpoint))
    if not checkpoint.is_dir():
        raise UserError(f"checkpoint {args.checkpoint} is not a folder here (give a checkpoint folder)")
    kind = model_type(checkpoint)
    function = evaluator(kind)
    mode = "quick" if args.quick else "full"
    outputs = [Path(args.out) / f"{checkpoint.name}.json"] if args.out else []
    inputs = [checkpoint / "config.json", record_path(checkpoint)]
    check_outputs(inputs, outputs, args.overwrite)
    if args.data and not Path(args.data).exists():
        raise UserError(f"--data {args.data} does not exist")
    recorded = None
    if args.check:
        try:
            recorded = read_record(checkpoint, mode)
        except ResultsError as error:
            raise UserError(str(error)) from None
        if recorded is None:
            raise UserError(
                f"{record_path(checkpoint)} records no {mode} evaluation to check against (write one with --record)"
            )
    check_checkpoint(checkpoint)
    name = shown(checkpoint)
    try:
        results: dict[str, Any] = function(checkpoint, Path(args.data) if args.data else None, args.quick)
    except FileNotFoundError as error:
        raise UserError(f"{error} (--data gives the data folder)") from None
    results["checkpoint"] = name
    results["data"] = shown(results["data"]) if results.get("data") else results.get("data")
    results["command"] = command_line(args, name)
    for key, default in (("split", None), ("seeds", [])):
        results.setdefault(key, default)
    try:
        validate_results(results, f"the {kind} evaluation")
    except ResultsError as error:
        raise UserError(str(error)) from None
    print(f"{name} ({kind}, {mode}): {len(results['rows'])} rows; `{results['command']}`")
    for line in format_table(results):
        print(line)
    for line in results.get("verdicts", []):
        print(line)
    from ..evaluation import write_record, write_results

    for path in outputs:
        write_results(path, results)
        print(f"wrote {path}")
    if args.record:
        print(f"recorded the {mode} evaluation in {write_record(checkpoint, results, mode)}")
    if recorded is not None:
        problems = check(recorded, results)
        if problems:
            print(f"check FAILED: {len(problems)} of {len(recorded['rows'])} recorded numbers not reproduced:")
            for problem in problems:
                print(f"  {problem}")
            return 1
        print(f"check passed: all {len(recorded['rows'])} recorded numbers lie within the re-derived 95% CIs")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="re-derive a checkpoint's numbers with CIs and baselines (--check: against the recorded ones)",
        description=cmd_evaluate.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  txformers evaluate metascdrug-meta --quick --check\n"
        "  txformers evaluate checkpoints/metascdrug-meta --data ../shared/data/drug --out results/metascdrug\n",
    )
    evaluate.add_argument("checkpoint", help="checkpoint folder or bundled checkpoint name")
    evaluate.add_argument(
        "--data", help="data folder of the evaluation (default: the family's folder in ../shared/data)"
    )
    evaluate.add_argument("--out", help="folder for the results file OUT/<checkpoint name>.json")
    evaluate.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a number recorded in CHECKPOINT/evaluation.json lies outside its re-derived 95%% CI",
    )
    evaluate.add_argument(
        "--quick", action="store_true", help="the short evaluation (fewer seeds and settings; CI runs it)"
    )
    evaluate.add_argument(
        "--record", action="store_true", help="record these results in CHECKPOINT/evaluation.json (for --check)"
    )
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing results file in --out")
    evaluate.set_defaults(handler=cmd_evaluate)
