# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers train RECIPE [-- recipe options]`: the training entry points of txformers, by name."""

from __future__ import annotations

import argparse
import difflib
import importlib
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

from ._common import UserError


@dataclass(frozen=True)
class Recipe:
    """A named way to run one entry point of ``txformers.training`` (or ``txformers``).

    ``preset`` options come first on the entry point's command line, the user's options after them
    (so the user's win). ``accelerate``: ``"multi"`` (runs under ``accelerate launch`` on any number of
    processes), ``"single"`` (uses Accelerate on one process: GPU, mixed precision) or ``"no"``.
    """

    module: str
    description: str
    example: str
    preset: tuple[str, ...] = ()
    accelerate: str = "no"
    card: str | None = None
    results: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


RECIPES: dict[str, Recipe] = {
    "splicebert-mlm": Recipe(
        "txformers.training.pretrain_mlm",
        "SpliceBERT masked-LM pretraining on pre-mRNA (FASTA or one sequence a line)",
        "txformers train splicebert-mlm --launcher accelerate --num-processes 2 --cpu -- "
        "--train-files corpus.fa --output-dir runs/mlm --preset small --max-steps 1000",
        accelerate="multi",
        card="splicebert-mlm",
        results="OUTPUT/eval.json",
    ),
    "splice-sites": Recipe(
        "txformers.training.finetune_splice",
        "splice-site window classifier (donor / acceptor / decoy): pretrained vs scratch vs one-hot LR",
        "txformers train splice-sites -- --data-dir ../shared/data/splice/ensemblesplice_600nt/homo_sapiens "
        "--pretrained checkpoints/splicebert-small-pretrained --output-dir runs/splice-sites",
        accelerate="single",
        card="splice-sites",
        results="OUTPUT/results.json",
    ),
    "splice-sites-tokens": Recipe(
        "txformers.training.finetune_tokens",
        "per-nucleotide splice-site tagging (token classification)",
        "txformers train splice-sites-tokens -- --data-dir ../shared/data/splice/ensemblesplice_600nt/homo_sapiens "
        "--pretrained checkpoints/splicebert-small-pretrained --output-dir runs/splice-tokens --lora",
        preset=("--task", "splice-sites"),
        accelerate="multi",
        results="OUTPUT/results.json",
    ),
    "branchpoints": Recipe(
        "txformers.training.finetune_tokens",
        "per-nucleotide branchpoint tagging (Mercer 2015 BED + genome FASTA)",
        "txformers train branchpoints -- --bed ../shared/data/splice/splicebert_mercer_bp/mercer_dataset.hg19.bed.gz "
        "--fasta hg19.fa --pretrained checkpoints/splicebert-small-pretrained --output-dir runs/branchpoint",
        preset=("--task", "branchpoint"),
        accelerate="multi",
        results="OUTPUT/results.json",
    ),
    "metascdrug-multitask": Recipe(
        "txformers.training.meta_pretrain",
        "MetaSCDrug conventional multi-drug training on GDSC (the no-meta model)",
        "txformers train metascdrug-multitask -- --data-dir ../shared/data/drug/bulk_gdsc "
        "--output-dir runs/multitask --sources GDSC2 --steps 2000",
        preset=("--mode", "multitask"),
        accelerate="multi",
        results="OUTPUT/final/training_args.json",
    ),
    "metascdrug-meta": Recipe(
        "txformers.training.meta_pretrain",
        "MetaSCDrug MAML meta pre-training over drugs (from a multitask model)",
        "txformers train metascdrug-meta -- --init-from runs/multitask/final --data-dir ../shared/data/drug/bulk_gdsc "
        "--output-dir runs/maml --sources GDSC2 --steps 800",
        preset=("--mode", "maml"),
        accelerate="multi",
        results="OUTPUT/final/training_args.json",
    ),
    "metascdrug-unseen-drugs": Recipe(
        "txformers.training.meta_pretrain",
        "evaluate MetaSCDrug checkpoints on held-out GDSC drugs (zero/few-shot)",
        "txformers train metascdrug-unseen-drugs -- --data-dir ../shared/data/drug/bulk_gdsc "
        "--models meta=checkpoints/metascdrug-meta --json runs/unseen_drugs.json",
        preset=("--mode", "evaluate"),
        card="metascdrug",
        results="--json (next to the few-shot results)",
    ),
    "metascdrug-fewshot": Recipe(
        "txformers.training.fewshot",
        "few-shot LoRA transfer of MetaSCDrug to single cells, vs logistic regression",
        "txformers train metascdrug-fewshot -- --model checkpoints/metascdrug-meta --data cells.tsv "
        "--shots 1 3 5 --seeds 10 --json runs/fewshot.json",
        card="metascdrug",
        results="--json",
    ),
    "cellformer-mlm": Recipe(
        "txformers.training.pretrain_cellformer",
        "Cellformer masked-expression pretraining over many scRNA samples",
        "txformers train cellformer-mlm --launcher accelerate -- --manifest samples.tsv "
        "--output-dir runs/cellformer --max-steps 2000",
        accelerate="multi",
        card="cellformer-mlm",
        results="--results-json",
    ),
    "cancer-type": Recipe(
        "txformers.training.cancer_type",
        "cancer type from cytokine expression of immune cells, patient-grouped CV",
        "txformers train cancer-type -- --scrna-dir ../shared/data/scrna "
        "--pretrained checkpoints/cellformer-pretrained --output-json runs/cancer_type.json "
        "--save-model runs/cellformer-cancer-type",
        card="cancer-type",
        results="--output-json",
    ),
}
"""Recipes of `txformers train`, by name."""


def recipe_command(
    name: str,
    recipe_args: list[str],
    launcher: str = "python",
    num_processes: int | None = None,
    config_file: str | None = None,
    cpu: bool = False,
) -> list[str]:
    """The command line that runs ``name`` (what ``--dry-run`` prints).

    ```python
    >>> recipe_command("metascdrug-meta", ["--steps", "10"])
    ['python', '-m', 'txformers.training.meta_pretrain', '--mode', 'maml', '--steps', '10']
    ```
    """
    recipe = RECIPES[name]
    entry = ["-m", recipe.module, *recipe.preset, *recipe_args]
    if launcher == "python":
        return ["python", *entry]
    launch = ["accelerate", "launch"]
    if config_file:
        launch += ["--config_file", config_file]
    if num_processes:
        launch += ["--num_processes", str(num_processes)]
    if cpu:
        launch.append("--cpu")
    return [*launch, *entry]


def list_recipes() -> str:
    """The text of ``txformers train --list``."""
    lines = ["recipes (txformers train RECIPE [--launcher accelerate ...] -- RECIPE OPTIONS):", ""]
    for name, recipe in RECIPES.items():
        launch = {
            "multi": "python or accelerate (multi-process)",
            "single": "python or accelerate (1 process)",
            "no": "python",
        }[recipe.accelerate]
        lines.append(f"{name}")
        lines.append(f"    {recipe.description}")
        lines.append(f"    entry point: python -m {recipe.module} {' '.join(recipe.preset)}".rstrip())
        lines.append(
            f"    launcher: {launch}; results: {recipe.results or '-'}"
            + (f"; card: txformers card RESULTS --kind {recipe.card}" if recipe.card else "")
        )
        lines.append(f"    example: {recipe.example}")
        lines.append("")
    lines.append("recipe options: txformers train RECIPE -- --help")
    return "\n".join(lines)


def _unknown(name: str) -> UserError:
    close = difflib.get_close_matches(name, RECIPES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return UserError(
        f"unknown recipe {name!r}{hint}; recipes: {', '.join(RECIPES)} (txformers train --list describes them)"
    )


def cmd_train(args: argparse.Namespace) -> int:
    """Run a training recipe: one of the entry points of txformers.training, by name.

    Options of `txformers train` come before `--`, the recipe's own options after it (see
    `txformers train RECIPE -- --help`). By default the recipe runs in this process; with
    `--launcher accelerate` it runs under `accelerate launch` (several processes, GPUs, mixed
    precision from an accelerate config). `--dry-run` prints the command and runs nothing.
    """
    rest = list(args.rest or [])
    if rest[:1] == ["--"]:
        rest = rest[1:]
    args.recipe = rest.pop(0) if rest and not rest[0].startswith("-") else None
    own, recipe_args = _split(rest)
    if {"-h", "--help"} & set(own) and _PARSER:
        _PARSER.print_help()
        return 0
    if own:  # txformers-train options written after the recipe name
        try:
            _OPTIONS.parse_args(own, namespace=args)
        except _OptionError as error:
            raise UserError(
                f"{error}; the recipe's own options go after `--` "
                f"(txformers train {args.recipe or 'RECIPE'} -- {' '.join(own)})"
            ) from None
    if args.list:
        print(list_recipes())
        return 0
    if not args.recipe:
        raise UserError(f"give a RECIPE ({', '.join(RECIPES)}) or --list")
    if args.recipe not in RECIPES:
        raise _unknown(args.recipe)
    recipe = RECIPES[args.recipe]
    if args.launcher == "accelerate":
        if recipe.accelerate == "no":
            raise UserError(f"recipe {args.recipe!r} does not use Accelerate; run it without --launcher accelerate")
        if recipe.accelerate == "single" and (args.num_processes or 1) > 1:
            raise UserError(f"recipe {args.recipe!r} runs on one process; drop --num-processes {args.num_processes}")
    elif args.num_processes or args.config_file or args.cpu:
        raise UserError("--num-processes, --config-file and --cpu are options of --launcher accelerate")
    if args.num_processes is not None and args.num_processes < 1:
        raise UserError(f"--num-processes must be at least 1, not {args.num_processes}")
    command = recipe_command(args.recipe, recipe_args, args.launcher, args.num_processes, args.config_file, args.cpu)
    if args.dry_run:
        print(shlex.join(command))
        return 0
    print(f"running: {shlex.join(command)}", file=sys.stderr)
    if args.launcher == "accelerate":
        # `accelerate launch` with this interpreter (the `accelerate` script may not be on PATH)
        launch = [sys.executable, "-m", "accelerate.commands.accelerate_cli", *command[1:]]
        return subprocess.call(launch)
    module = importlib.import_module(recipe.module)
    saved_argv = sys.argv
    sys.argv = [f"txformers train {args.recipe} --", *recipe.preset, *recipe_args]  # argparse's prog in messages
    try:
        module.main([*recipe.preset, *recipe_args])
    except (ValueError, FileNotFoundError) as error:  # bad input of the recipe: one clear line, exit 2
        raise UserError(f"{args.recipe}: {error}") from None
    finally:
        sys.argv = saved_argv
    return 0


def _split(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(txformers-train options, recipe options) of what follows the recipe name."""
    if "--" not in tokens:
        return tokens, []
    cut = tokens.index("--")
    return tokens[:cut], tokens[cut + 1 :]


class _OptionError(Exception):
    pass


class _OptionParser(argparse.ArgumentParser):
    def error(self, message: str):  # raise instead of exiting: the caller explains where the options go
        raise _OptionError(message)


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true", help="list the recipes with a description and an example")
    parser.add_argument("--dry-run", action="store_true", help="print the exact command and run nothing")
    parser.add_argument(
        "--launcher",
        choices=["python", "accelerate"],
        default=argparse.SUPPRESS,
        help="python: run in this process (default); accelerate: `accelerate launch`",
    )
    parser.add_argument(
        "--num-processes", type=int, default=argparse.SUPPRESS, help="accelerate launch --num_processes"
    )
    parser.add_argument(
        "--config-file", default=argparse.SUPPRESS, help="accelerate launch --config_file (accelerate config)"
    )
    parser.add_argument("--cpu", action="store_true", default=argparse.SUPPRESS, help="accelerate launch --cpu")


_OPTIONS = _OptionParser(prog="txformers train", add_help=False)
_add_options(_OPTIONS)
_PARSER: argparse.ArgumentParser | None = None  # the `txformers train` parser, for `txformers train RECIPE --help`


def add_parser(commands: argparse._SubParsersAction) -> None:
    examples = "\n".join(f"  {recipe.example}" for recipe in list(RECIPES.values())[:3])
    train = commands.add_parser(
        "train",
        help="run a training recipe (pretraining, fine-tuning, meta-learning) by name",
        description=cmd_train.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"recipes: {', '.join(RECIPES)}\n\nexamples:\n  txformers train --list\n{examples}\n"
        "  txformers train splicebert-mlm --dry-run -- --train-files corpus.fa --output-dir runs/mlm\n",
    )
    # One REMAINDER positional keeps the `--` that separates the recipe's options (argparse would
    # swallow it after a separate RECIPE positional); cmd_train splits it.
    train.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        metavar="RECIPE [-- RECIPE OPTIONS]",
        help="recipe name (txformers train --list), then `--` and the options of its entry point",
    )
    _add_options(train)
    global _PARSER
    _PARSER = train
    train.set_defaults(handler=cmd_train, launcher="python", num_processes=None, config_file=None, cpu=False)
