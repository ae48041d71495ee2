# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers card`: a Hugging Face model card rendered from a saved results file."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io import atomic_write_text
from ._common import CHECKPOINTS, UserError, check_outputs


def cmd_card(args: argparse.Namespace) -> int:
    """Render the model card of a checkpoint from the results file of its training run.

    The metadata (licence, tags, a model-index of the measured results) is built with
    huggingface_hub's ModelCardData and validated as the Hub does; every number of the card is read
    from the results file (and the checkpoint folder), never typed.
    """
    from ..cards import (
        BUNDLED,
        CARD_KINDS,
        CardError,
        ResultsError,
        eval_values,
        load_results,
        render_card,
        scan_local_paths,
        validate_card,
    )

    results_path = Path(args.results)
    out = Path(args.out)
    if not results_path.is_file():
        raise UserError(f"results file {results_path} does not exist")
    check_outputs([results_path], [out], args.overwrite)
    if args.kind not in CARD_KINDS:
        raise UserError(f"unknown --kind {args.kind!r}; kinds: {', '.join(CARD_KINDS)}")
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    if checkpoint is None and (CHECKPOINTS / args.name / "config.json").is_file():
        checkpoint = CHECKPOINTS / args.name
        print(f"architecture and size from {checkpoint} (pass --checkpoint to choose another folder)")
    if checkpoint is not None and not (checkpoint / "config.json").is_file():
        raise UserError(f"--checkpoint {checkpoint} has no config.json")
    options = {key: value for key, value in (("data", args.data), ("model_key", args.model_key)) if value}
    bundled = BUNDLED.get(args.name, {})
    if bundled.get("kind") == args.kind and "provenance" in bundled:
        options.setdefault("provenance", bundled["provenance"])
    try:
        local = scan_local_paths(load_results(results_path))
        card = render_card(args.kind, results_path, args.name, checkpoint=checkpoint, **options)
        validate_card(str(card))
    except (ResultsError, CardError) as error:
        raise UserError(str(error)) from None
    if local:
        example = f"e.g. {local[0][1]} at {local[0][0]}"
        print(
            f"note: {results_path} holds {len(local)} absolute local path(s) ({example}); "
            "the card shows them repository-relative"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, str(card))
    values = eval_values(card)
    datasets = {(v["dataset"], v["config"]) for v in values}
    print(f"wrote {out}: model-index with {len(values)} metric(s) on {len(datasets)} dataset(s)")
    for value in values[:6]:
        config = f" [{value['config']}]" if value["config"] else ""
        print(f"  {value['dataset']}{config}: {value['name']} = {value['value']}")
    if len(values) > 6:
        print(f"  ... and {len(values) - 6} more")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    from ..cards import CARD_KINDS, KIND_RESULTS

    kinds = "\n".join(f"  {kind:<15} {KIND_RESULTS[kind]}" for kind in CARD_KINDS)
    card = commands.add_parser(
        "card",
        help="render a Hub model card from a saved results file",
        description=cmd_card.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"kinds (and the results file each reads):\n{kinds}\n\nexamples:\n"
        "  txformers card results/cellformer/pretrain.json --kind cellformer-mlm --name cellformer-pretrained \\\n"
        "      --out model_cards/cellformer-pretrained.md --overwrite\n"
        "  txformers card runs/splice-sites/results.json --kind splice-sites --name splicebert-small-splice-sites \\\n"
        "      --checkpoint runs/splice-sites/model --out runs/splice-sites/model/README.md\n"
        "  python -m txformers.cards --bundled   # re-render every bundled card (model_cards/ and checkpoints/)\n",
    )
    card.add_argument("results", help="saved results JSON of the run")
    card.add_argument(
        "--kind",
        required=True,
        choices=list(CARD_KINDS),
        metavar="KIND",
        help="checkpoint kind: " + ", ".join(CARD_KINDS),
    )
    card.add_argument("--name", required=True, help="model name (the Hub repository name)")
    card.add_argument("--out", required=True, help="card file to write (e.g. CHECKPOINT/README.md)")
    card.add_argument(
        "--checkpoint", help="checkpoint folder, for the architecture and size (default: checkpoints/NAME if it exists)"
    )
    card.add_argument("--data", help="one-line description of the training data (splicebert-mlm)")
    card.add_argument(
        "--model-key", help="metascdrug: the model of the results to describe (default: the run of checkpoint NAME)"
    )
    card.add_argument("--overwrite", action="store_true", help="replace an existing card")
    card.set_defaults(handler=cmd_card)
