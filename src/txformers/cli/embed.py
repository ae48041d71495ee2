# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers embed`: embeddings of FASTA sequences (SpliceBERT, with masked-nucleotide reconstruction) or of the
cells of an AnnData (Cellformer), told apart by the file's content."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io import atomic_path, atomic_write_text, output_file
from ._checks import check_finite
from ._common import DEFAULT_SPLICEBERT, UserError, check_outputs, cli_words, device

CELL_KEY = "X_cellformer"
FLAG_COLUMN = "cellformer_flag"


def cmd_embed(args: argparse.Namespace) -> int:
    """Embeddings of FASTA sequences or of the cells of an AnnData (.h5ad or .zarr), told apart by content.

    FASTA: per-sequence (mean over nucleotides) and optional per-nucleotide SpliceBERT embeddings in PREFIX.npz,
    masked-nucleotide reconstruction per sequence in PREFIX.tsv.
    AnnData: one Cellformer embedding per cell (the pooled cell state of cellformer-pretrained by default), in
    a copy of the input, PREFIX.h5ad, as obsm['X_cellformer'] (and PREFIX.npy with --npy). Gene names are
    matched to the model's vocabulary (HGNC symbols, Ensembl ids); the coverage is reported. The input is never
    modified.
    """
    from ..datasets.cells import is_anndata_file

    source = Path(args.input)
    if not source.exists():
        raise UserError(f"input {source} does not exist")
    if is_anndata_file(source):
        return _embed_cells(args, source)
    return _embed_sequences(args, source)


def _default_checkpoints(args: argparse.Namespace) -> list[Path]:
    """The bundled checkpoint embed loads without --model (checked before the work, issue 17 item 10)."""
    if args.model:
        return []
    from ..datasets.cells import is_anndata_file
    from ..hub import resolve_checkpoint

    if is_anndata_file(args.input):
        return [Path(resolve_checkpoint("cellformer-pretrained"))]
    return [Path(DEFAULT_SPLICEBERT)]


def _embed_sequences(args: argparse.Namespace, fasta: Path) -> int:
    """Per-sequence (mean over nucleotides) and optional per-nucleotide SpliceBERT embeddings."""
    if args.npy or args.layer_name or args.gene_column:
        raise UserError(f"{fasta} is not an AnnData file: --npy, --input-layer and --gene-column are for cells")
    model_dir = Path(args.model or DEFAULT_SPLICEBERT)
    if not (model_dir / "config.json").is_file():
        raise UserError(
            f"no model at {model_dir} (config.json missing): give --model a txformers or original SpliceBERT folder"
        )
    out = Path(args.out)
    outputs = [output_file(out, ".npz"), output_file(out, ".tsv")]
    check_outputs([fasta], outputs, args.overwrite)

    import numpy as np  # after the output checks: a refused run stays fast

    from ..models.splicebert import SpliceBertForMaskedLM
    from ..models.splicebert.scoring_splicebert import per_nucleotide_outputs
    from ..tasks.splicing.mlm import evaluate_mlm
    from ..tasks.splicing.sites import read_named_sequences
    from ..tokenizers import NucleotideTokenizer

    try:  # the FASTA checks of every command: names, empty records, duplicates, invalid characters
        records = read_named_sequences(fasta)
    except ValueError as error:
        raise UserError(f"{error} (the input is not an AnnData either)") from None
    names = [name for name, _ in records]
    sequences = [sequence for _, sequence in records]
    tokenizer = NucleotideTokenizer()

    run_device = device(args.device)
    mlm = SpliceBertForMaskedLM.from_pretrained(model_dir).to(run_device).eval()
    layer = args.layer
    per_nt = per_nucleotide_outputs(
        mlm,
        tokenizer,
        sequences,
        window_size=args.window_size,
        batch_size=args.batch_size or 16,
        select=lambda outputs: outputs.hidden_states[layer],
        forward_kwargs={"output_hidden_states": True},
        device=run_device,
    )
    pooled = np.stack([x.mean(0) for x in per_nt])
    check_finite(pooled, "sequence embeddings", model_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"names": np.array(names), "pooled": pooled}
    if args.per_nucleotide:
        arrays.update({f"per_nucleotide_{i}": x for i, x in enumerate(per_nt)})
    with atomic_path(outputs[0]) as temporary:  # a failed or killed write keeps the previous file whole
        np.savez_compressed(temporary, **arrays)

    limit = mlm.config.max_position_embeddings - 2
    rows = ["name\tlength\tN_count\tmasked_accuracy\tmasked_tokens"]
    for name, sequence in zip(names, sequences):
        clean = "".join(sequence.split())
        windows = [clean[i : i + limit] for i in range(0, len(clean), limit)]
        score = evaluate_mlm(mlm, tokenizer, windows, seed=0, device=run_device)
        n_count = sum(c in "Nn" for c in clean)
        rows.append(f"{name}\t{len(clean)}\t{n_count}\t{score['accuracy']:.4f}\t{score['masked_tokens']}")
    atomic_write_text(outputs[1], "\n".join(rows) + "\n")

    print(f"model: {model_dir} ({mlm.config.num_hidden_layers} layers, hidden {mlm.config.hidden_size})")
    print(f"{len(sequences)} sequences, {sum(len(s) for s in per_nt)} nt from {fasta}")
    print("masked-nucleotide reconstruction (15 % masked, seed 0; chance is about 0.25-0.30):")
    for row in rows[1:]:
        name, length, _, accuracy, _ = row.split("\t")
        print(f"  {name:<20} {length:>6} nt   accuracy {accuracy}")
    per_nucleotide = ", per-nucleotide" if args.per_nucleotide else ""
    print(f"wrote {outputs[0]} (pooled embeddings {pooled.shape}{per_nucleotide}) and {outputs[1]}")
    return 0


def _embed_cells(args: argparse.Namespace, h5ad: Path) -> int:
    """One Cellformer embedding per cell, into a copy of the AnnData (obsm['X_cellformer']) and an optional .npy."""
    from ..hub import resolve_checkpoint

    model_dir = Path(args.model or resolve_checkpoint("cellformer-pretrained"))
    if not (model_dir / "config.json").is_file():
        raise UserError(f"no model at {model_dir} (config.json missing): give --model a Cellformer checkpoint folder")
    if args.per_nucleotide:
        raise UserError("--per-nucleotide is for FASTA input; the input is an AnnData")
    batch_size = args.batch_size or 256
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    out = Path(args.out)
    outputs = [out.with_name(out.name + ".h5ad")] + ([out.with_name(out.name + ".npy")] if args.npy else [])
    check_outputs([h5ad], outputs, args.overwrite)

    import json

    import numpy as np  # after the output checks: a refused run stays fast
    import torch

    from ..datasets.cells import CellsFormatError, flag_cells, read_cells, warn_flagged
    from ..models.cellformer import CellformerModel
    from ..tokenizers import GeneCoverageError, GeneExpressionTokenizer

    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "cellformer" or not (model_dir / "gene_vocab.json").is_file():
        raise UserError(
            f"{model_dir} is not a Cellformer checkpoint with a gene-expression tokenizer "
            f"(model_type {config.get('model_type')!r}); the default is cellformer-pretrained"
        )
    try:
        adata = read_cells(h5ad, layer=args.layer_name)
    except (CellsFormatError, OSError) as error:
        raise UserError(str(error)) from None
    if adata.n_obs == 0:
        raise UserError(f"{h5ad} holds no cells")
    if args.gene_column and args.gene_column not in adata.var.columns:
        raise UserError(f"{h5ad}: no var column {args.gene_column!r} (columns: {list(adata.var.columns)[:20]})")
    tokenizer = GeneExpressionTokenizer.from_pretrained(model_dir)
    report = tokenizer.gene_report(adata, gene_column=args.gene_column)
    names = list(adata.var[args.gene_column] if args.gene_column else adata.var_names)
    if not report.present_genes:
        raise UserError(
            f"{h5ad}: none of the model's {report.n_vocab_genes} vocabulary genes is among its {len(names)} genes "
            f"(its genes look like {names[:5]}). Give HGNC symbols or Ensembl ids (--gene-column for a var column)"
        )
    print(
        f"{adata.n_obs} cells of {h5ad}: {len(report.present_genes)} of the model's {report.n_vocab_genes} "
        f"vocabulary genes are in the file (coverage {report.coverage:.1%}); {len(report.unknown_genes)} of its "
        f"{len(names)} genes are not in the vocabulary"
    )

    run_device = device(args.device)
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the masked-expression head of a pretrained checkpoint is left out by design
    hf_logging.disable_progress_bar()
    try:
        model = CellformerModel.from_pretrained(model_dir).to(run_device).eval()
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    parts = []
    for start in range(0, adata.n_obs, batch_size):
        chunk = adata[start : start + batch_size]
        try:
            encoded = tokenizer(
                chunk,
                mode="bins",
                sampling="top",
                layer=args.layer_name,
                gene_column=args.gene_column,
                return_tensors="pt",
            )
        except (GeneCoverageError, ValueError) as error:  # e.g. z-scored (negative) values
            raise UserError(f"{h5ad}: {cli_words(error, '--input-layer')}") from None
        inputs = {
            key: encoded[key].to(run_device) for key in ("input_ids", "attention_mask", "expression_bins", "expression")
        }
        with torch.no_grad():
            parts.append(model(**inputs).pooler_output.float().cpu().numpy())
    embeddings = np.concatenate(parts)
    check_finite(embeddings, "cell embeddings", model_dir)
    # cells with no expression, or none in the vocabulary, get an embedding all the same: flag them (item 8).
    # The pretrained vocabulary is genome-wide (4,096 genes), so a targeted panel covers a few percent of it;
    # the whole file is flagged only when under 1% of the vocabulary matched.
    matrix = adata.layers[args.layer_name] if args.layer_name else adata.X
    flags = flag_cells(matrix, np.flatnonzero(report.column_map >= 0), report.coverage, min_coverage=0.01)

    annotated = adata.copy()  # the input file is never written back; this copy goes to PREFIX.h5ad
    annotated.obsm[CELL_KEY] = embeddings
    annotated.obs[FLAG_COLUMN] = flags
    annotated.uns[CELL_KEY] = {"model": str(model_dir), "vocabulary_coverage": float(report.coverage)}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(outputs[0]) as temporary:  # a failed or killed write keeps the previous file whole
        annotated.write_h5ad(temporary)
    if args.npy:
        with atomic_path(outputs[1]) as temporary:
            np.save(temporary, embeddings)
    print(f"model: {model_dir} ({config.get('num_hidden_layers')} layers, hidden {embeddings.shape[1]})")
    print(
        f"wrote {outputs[0]} (obsm[{CELL_KEY!r}], {embeddings.shape[0]} x {embeddings.shape[1]})"
        + (f" and {outputs[1]}" if args.npy else "")
    )
    warning = warn_flagged(flags, results="embeddings", where=f"obs[{FLAG_COLUMN!r}] of {outputs[0]}")
    if warning:
        print(warning, file=sys.stderr)
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    embed = commands.add_parser(
        "embed",
        help="embeddings of FASTA sequences (SpliceBERT) or of the cells of an AnnData (Cellformer)",
        description=cmd_embed.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  txformers embed examples/minigenes.fa --out outputs/minigenes --per-nucleotide\n"
        "  txformers embed examples/immune_cells.h5ad --out outputs/immune_cells --npy\n",
    )
    embed.add_argument("input", help="FASTA file (DNA or RNA, any case, any length) or AnnData (.h5ad, .zarr)")
    embed.add_argument(
        "--model",
        default=None,
        help="FASTA: txformers or original SpliceBERT folder (default: splicebert-small-pretrained); "
        "AnnData: Cellformer folder (default: cellformer-pretrained)",
    )
    embed.add_argument(
        "--out",
        default="outputs/embeddings",
        help="output prefix: FASTA writes PREFIX.npz and PREFIX.tsv, AnnData PREFIX.h5ad (and PREFIX.npy)",
    )
    embed.add_argument("--layer", type=int, default=-1, help="FASTA: hidden layer to return (-1: last)")
    embed.add_argument("--per-nucleotide", action="store_true", help="FASTA: also store per-nucleotide embeddings")
    embed.add_argument("--npy", action="store_true", help="AnnData: also write the embeddings as PREFIX.npy")
    embed.add_argument("--input-layer", dest="layer_name", help="AnnData: layer to read instead of X (e.g. counts)")
    embed.add_argument("--gene-column", help="AnnData: var column of gene names (default: var_names)")
    embed.add_argument("--window-size", type=int, default=None, help="sliding-window length in nt (default: model max)")
    embed.add_argument("--batch-size", type=int, default=None, help="sequences (default 16) or cells (256) per batch")
    embed.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    embed.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    embed.set_defaults(handler=cmd_embed, checkpoints_of=_default_checkpoints)
