# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers embed`: SpliceBERT embeddings and masked-nucleotide reconstruction of FASTA sequences."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import DEFAULT_SPLICEBERT, UserError, check_outputs, device


def cmd_embed(args: argparse.Namespace) -> int:
    """Per-sequence (mean over nucleotides) and optional per-nucleotide SpliceBERT embeddings."""
    import numpy as np
    import torch

    from ..datasets.genome import iter_fasta_records
    from ..models.splicebert import SpliceBertForMaskedLM
    from ..models.splicebert.scoring_splicebert import per_nucleotide_outputs
    from ..tasks.splicing.mlm import evaluate_mlm
    from ..tokenizers import InvalidNucleotideError, NucleotideTokenizer

    fasta = Path(args.fasta)
    if not fasta.is_file():
        raise UserError(f"FASTA file {fasta} does not exist")
    model_dir = Path(args.model)
    if not (model_dir / "config.json").is_file():
        raise UserError(
            f"no model at {model_dir} (config.json missing): give --model a txformers or original SpliceBERT folder"
        )
    out = Path(args.out)
    outputs = [out.with_suffix(".npz"), out.with_suffix(".tsv")]
    check_outputs([fasta], outputs, args.overwrite)

    records = list(iter_fasta_records(fasta))
    if not records:
        raise UserError(f"{fasta} holds no FASTA records")
    names = [name for name, _ in records]
    sequences = [sequence for _, sequence in records]
    tokenizer = NucleotideTokenizer()
    for name, sequence in records:
        try:
            tokenizer.validate(sequence)
        except InvalidNucleotideError as error:
            raise UserError(f"{fasta}, record {name!r}: {error}") from None

    torch.set_grad_enabled(False)
    run_device = device(args.device)
    mlm = SpliceBertForMaskedLM.from_pretrained(model_dir).to(run_device).eval()
    layer = args.layer
    per_nt = per_nucleotide_outputs(
        mlm,
        tokenizer,
        sequences,
        window_size=args.window_size,
        batch_size=args.batch_size,
        select=lambda outputs: outputs.hidden_states[layer],
        forward_kwargs={"output_hidden_states": True},
        device=run_device,
    )
    pooled = np.stack([x.mean(0) for x in per_nt])
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"names": np.array(names), "pooled": pooled}
    if args.per_nucleotide:
        arrays.update({f"per_nucleotide_{i}": x for i, x in enumerate(per_nt)})
    np.savez_compressed(outputs[0], **arrays)

    limit = mlm.config.max_position_embeddings - 2
    rows = ["name\tlength\tN_count\tmasked_accuracy\tmasked_tokens"]
    for name, sequence in zip(names, sequences):
        clean = "".join(sequence.split())
        windows = [clean[i : i + limit] for i in range(0, len(clean), limit)]
        score = evaluate_mlm(mlm, tokenizer, windows, seed=0, device=run_device)
        n_count = sum(c in "Nn" for c in clean)
        rows.append(f"{name}\t{len(clean)}\t{n_count}\t{score['accuracy']:.4f}\t{score['masked_tokens']}")
    outputs[1].write_text("\n".join(rows) + "\n")

    print(f"model: {model_dir} ({mlm.config.num_hidden_layers} layers, hidden {mlm.config.hidden_size})")
    print(f"{len(sequences)} sequences, {sum(len(s) for s in per_nt)} nt from {fasta}")
    print("masked-nucleotide reconstruction (15 % masked, seed 0; chance is about 0.25-0.30):")
    for row in rows[1:]:
        name, length, _, accuracy, _ = row.split("\t")
        print(f"  {name:<20} {length:>6} nt   accuracy {accuracy}")
    per_nucleotide = ", per-nucleotide" if args.per_nucleotide else ""
    print(f"wrote {outputs[0]} (pooled embeddings {pooled.shape}{per_nucleotide}) and {outputs[1]}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    embed = commands.add_parser(
        "embed",
        help="SpliceBERT embeddings and masked-nucleotide reconstruction of FASTA sequences",
        description=cmd_embed.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  txformers embed examples/minigenes.fa --out outputs/minigenes --per-nucleotide\n",
    )
    embed.add_argument("fasta", help="FASTA file (DNA or RNA, any case, any length)")
    embed.add_argument("--model", default=str(DEFAULT_SPLICEBERT), help="txformers or original SpliceBERT folder")
    embed.add_argument("--out", default="outputs/embeddings", help="output prefix: writes PREFIX.npz and PREFIX.tsv")
    embed.add_argument("--layer", type=int, default=-1, help="hidden layer to return (-1: last)")
    embed.add_argument("--per-nucleotide", action="store_true", help="also store per-nucleotide embeddings")
    embed.add_argument("--window-size", type=int, default=None, help="sliding-window length in nt (default: model max)")
    embed.add_argument("--batch-size", type=int, default=16)
    embed.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    embed.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    embed.set_defaults(handler=cmd_embed)
