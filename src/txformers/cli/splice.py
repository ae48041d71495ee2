# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers splice ...`: splice sites along sequences and zero-shot splice variant effects.

    txformers splice predict examples/minigenes.fa --model checkpoints/splicebert-small-splice-sites --out outputs/sites
    txformers splice variants --vcf variants.vcf --fasta genome.fa --out outputs/variants
    txformers splice variants --table mapsy.txt --out outputs/mapsy

``predict`` runs the ``"splice-site-prediction"`` pipeline (:class:`SpliceSitePipeline`) on every
FASTA record (tables from ``txformers.tasks.splicing.sites``). ``variants`` scores SNVs with
``txformers.tasks.splicing.variant_effect`` (the scoring engine of the ``"splice-variant-effect"`` pipeline).
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from ..io import atomic_path, atomic_write_text, output_file
from ..tasks.splicing.sites import CONVENTION
from ._checks import NON_FINITE, check_finite, non_finite_rows
from ._common import CHECKPOINTS, DEFAULT_SPLICEBERT, UserError, check_outputs, device, precision

DEFAULT_SPLICE_SITE_MODEL = CHECKPOINTS / "splicebert-small-splice-sites"


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------
def _model_config(model_dir: Path, what: str) -> Any:
    if not (model_dir / "config.json").is_file():
        raise UserError(f"no model at {model_dir} (config.json missing): give --model {what}")
    from transformers import AutoConfig  # txformers (imported with this package) registered SpliceBERT

    try:
        return AutoConfig.from_pretrained(model_dir)
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"cannot read the model config in {model_dir}: {error}") from None


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "sequence"


# ---------------------------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------------------------
def _read_fasta(fasta: Path) -> list[tuple[str, str]]:
    """(id, sequence) of each record: the id is the header's first word; bad records are named."""
    from ..tasks.splicing.sites import read_named_sequences

    try:
        return read_named_sequences(fasta)
    except ValueError as error:
        raise UserError(str(error)) from None


def cmd_predict(args: argparse.Namespace) -> int:
    """Per-nucleotide donor/acceptor probabilities of FASTA sequences of any length.

    Every GT is scored as a donor candidate and every AG as an acceptor candidate by a fine-tuned
    SpliceBERT window classifier (labels neither/donor/acceptor, config.window_size), or, with a
    per-nucleotide model (SpliceBertForTokenClassification, labels none/acceptor/donor, e.g.
    checkpoints/splicebert-small-splice-sites-nt), every nucleotide is scored in overlapping windows and
    reported in SpliceAI's convention (donor at the last exon nucleotide, acceptor at the first). Writes
    PREFIX.tsv (candidate positions, or all with --all-positions), PREFIX.bed (calls with
    probability > --threshold) and PREFIX_<name>.png (one track per sequence, up to --plot-limit).
    """
    fasta, model_dir, out = Path(args.fasta), Path(args.model), Path(args.out)
    if not 0 <= args.threshold <= 1:
        raise UserError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    tsv, bed = output_file(out, ".tsv"), output_file(out, ".bed")
    # the table and BED first: a refused overwrite stops before the FASTA is read (which imports the tokenizers)
    check_outputs([fasta], [tsv, bed], args.overwrite)
    records = _read_fasta(fasta)
    plots, used = {}, set()
    for name, _ in records[: max(args.plot_limit, 0)]:
        stem, number = _safe_name(name), 1
        while stem in used:  # names that differ only in odd characters
            number += 1
            stem = f"{_safe_name(name)}_{number}"
        used.add(stem)
        plots[name] = out.parent / f"{out.name}_{stem}.png"
    check_outputs([fasta], [tsv, bed, *plots.values()], args.overwrite)

    config = _model_config(
        model_dir,
        "a fine-tuned splice-site model (python -m txformers.training.finetune_splice writes one in OUTPUT/model)",
    )
    from ..models.splicebert.scoring_splicebert import splice_site_label_ids

    try:
        splice_site_label_ids(config)
    except ValueError as error:
        raise UserError(f"{model_dir}: {error}") from None
    window = args.window_size or getattr(config, "window_size", None)
    if not window:
        raise UserError(f"{model_dir}: the config has no window_size; pass --window-size (the training window)")
    limit = getattr(config, "max_position_embeddings", None)
    if window < 2 or (limit and window + 2 > limit):
        raise UserError(f"window size {window} does not fit {model_dir} (2 to {(limit or 2) - 2} nt)")

    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification

    from ..models.splicebert.pipeline_splicebert import SpliceSitePipeline
    from ..plotting import plot_splice_track
    from ..tasks.splicing.sites import site_calls, site_rows
    from ..tokenizers import NucleotideTokenizer

    run_device = device(args.device)
    dtype = precision(args.precision, run_device)
    # a per-nucleotide model (SpliceBertForTokenClassification, finetune_splice_nt) or a window classifier
    per_nucleotide = any("TokenClassification" in name for name in (getattr(config, "architectures", None) or []))
    if per_nucleotide:
        from transformers import AutoModelForTokenClassification

        from ..tasks.splicing.nt_sites import CONVENTION_NT, predict_sequence

        model = AutoModelForTokenClassification.from_pretrained(model_dir).to(run_device).eval()
    else:
        model = AutoModelForSequenceClassification.from_pretrained(model_dir).to(run_device).eval()
    try:
        if per_nucleotide:  # streamed: one sequence at a time, each read in bounded blocks
            tokenizer = NucleotideTokenizer()
            stream = (
                predict_sequence(
                    model, tokenizer, x, window, batch_size=args.batch_size, device=run_device, precision=dtype
                )
                for _, x in records
            )
        else:
            finder = SpliceSitePipeline(
                model=model,
                tokenizer=NucleotideTokenizer(),
                device=run_device,
                batch_size=args.batch_size,
                window_size=window,
            )
            stream = finder(x for _, x in records)
        results = tqdm(stream, total=len(records), desc="sequences", unit="seq", file=sys.stderr)
        rows, calls, to_plot, n_candidates = [], [], [], 0
        autocast = torch.autocast(torch.device(run_device).type, torch.bfloat16, enabled=dtype == "bfloat16")
        with autocast:  # the window classifier's pipeline runs its forward passes as the loop pulls results
            for (name, _), result in zip(records, results):
                probabilities = [result["donor_prob"], result["acceptor_prob"]]
                check_finite(probabilities, f"splice-site probabilities of {name!r}", model_dir)  # item 11
                n_candidates += len(result["donor_positions"]) + len(result["acceptor_positions"])
                rows.extend(site_rows(name, result, all_positions=args.all_positions))
                calls.extend(site_calls(name, result, args.threshold))
                if name in plots:
                    to_plot.append((name, result))
    except ValueError as error:
        raise UserError(str(error)) from None

    header = [
        f"# txformers splice predict: {fasta} with {model_dir} ({window}-nt windows, {dtype})",
        f"# position is 1-based; {CONVENTION_NT if per_nucleotide else CONVENTION}",
        "name\tposition\tnucleotide\tdonor_prob\tacceptor_prob",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(tsv, "\n".join(header + rows) + "\n")  # a failed or killed write keeps the previous file
    order = {name: k for k, (name, _) in enumerate(records)}
    calls.sort(key=lambda call: (order[call[0]], call[1], call[2]))
    atomic_write_text(
        bed, "".join(f"{name}\t{i}\t{i + 1}\t{kind}\t{round(p * 1000)}\t+\n" for name, i, kind, p in calls)
    )
    for name, result in to_plot:
        plot_splice_track(result, name, plots[name], args.threshold)
    total = sum(len(sequence) for _, sequence in records)
    print(f"model: {model_dir} ({model.config.num_hidden_layers} layers, {window}-nt windows, {dtype})")
    print(
        f"{len(records)} sequences, {total} nt, {n_candidates} GT/AG candidates, "
        f"{len(calls)} calls with probability > {args.threshold:g}"
    )
    print(f"wrote {tsv}, {bed}" + (f" and {len(plots)} plot(s) {out}_*.png" if plots else ""))
    return 0


# ---------------------------------------------------------------------------------------------
# variants
# ---------------------------------------------------------------------------------------------
def _read_vcf(path: Path) -> Any:
    """VCF (or CSV/TSV with chrom/pos/ref/alt) as a DataFrame with canonical column names."""
    from ..datasets.splice_variants import _column_map, _read_variant_table

    try:
        table = _read_variant_table(str(path))
        if table.empty:
            raise ValueError(f"{path} holds no variants")
        mapping = _column_map(table.columns, None, None, str(path))
    except (ValueError, KeyError, UnicodeDecodeError) as error:
        raise UserError(str(error)) from None
    table = table.rename(columns={column: field for field, column in mapping.items()})
    keep = [c for c in ("id", "chrom", "pos", "ref", "alt", "strand", "exon_start", "exon_end", "label") if c in table]
    return table[keep]


_TABLE_ALIASES = {
    "wt_sequence": ("wt_sequence", "wt", "wt_seq", "wild_type"),
    "mut_sequence": ("mut_sequence", "mut", "mut_seq", "mutant"),
    "position": ("position", "pos", "variant_pos"),
    "exon_start": ("exon_start",),
    "exon_end": ("exon_end",),
    "id": ("id", "name", "variant_id"),
    "label": ("label",),
}


def _read_table(path: Path) -> Any:
    """A WT/mutant table: the MaPSy layout (``load_mapsy``) or columns wt_sequence, mut_sequence and
    optional position (0-based), exon_start/exon_end (0-based, half-open), id, label."""
    import pandas as pd

    from ..datasets.splice_variants import MAPSY_COLUMNS
    from ..models.splicebert.scoring_splicebert import check_snv, clean_sequence
    from ..tasks.splicing.variant_effect import load_mapsy

    try:
        sep = "," if path.suffix.lower() == ".csv" else None
        table = pd.read_csv(path, sep=sep, engine="python")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read the table {path}: {error}") from None
    if set(MAPSY_COLUMNS) <= set(table.columns):
        try:
            return load_mapsy(path)
        except ValueError as error:
            raise UserError(str(error)) from None
    lookup = {str(column).lower(): column for column in table.columns}
    mapping = {}
    for field, aliases in _TABLE_ALIASES.items():
        found = next((lookup[alias] for alias in aliases if alias in lookup), None)
        if found is not None:
            mapping[found] = field
    missing = [f for f in ("wt_sequence", "mut_sequence") if f not in mapping.values()]
    if missing:
        raise UserError(
            f"{path} lacks the column(s) {missing} (columns: {list(table.columns)}); give wt_sequence and "
            "mut_sequence (optional: position 0-based, exon_start/exon_end 0-based half-open, id), or the MaPSy layout"
        )
    table = table.rename(columns=mapping)[list(mapping.values())]
    if table.empty:
        raise UserError(f"{path} holds no variants")
    positions, refs, alts = [], [], []
    for row, record in enumerate(table.itertuples(index=False)):
        try:
            wt = clean_sequence(record.wt_sequence, f"row {row}: the WT sequence")
            mut = clean_sequence(record.mut_sequence, f"row {row}: the mutant sequence")
            given = getattr(record, "position", None)
            pos, ref, alt = check_snv(wt, mut, None if given is None or pd.isna(given) else given, name=f"row {row}")
        except (ValueError, TypeError) as error:
            raise UserError(f"{path}, {error}") from None
        positions.append(pos)
        refs.append(ref)
        alts.append(alt)
    table["position"], table["ref"], table["alt"] = positions, refs, alts
    if "id" not in table:
        table.insert(0, "id", [f"row {i}" for i in range(len(table))])
    return table


def cmd_variants(args: argparse.Namespace) -> int:
    """Zero-shot splice variant-effect scores from the SpliceBERT masked LM.

    Both WT and mutant go through the model unmasked; per-position KL(mut || wt) of the A/C/G/T
    probabilities gives kl_context (SpliceBERT's score; higher = more disruptive), kl_variant,
    delta_p (p_mut(alt) - p_wt(ref)) and, where the exon is known, splice-site KL. Writes
    PREFIX.tsv and PREFIX.png (KL profiles around the --plot-top highest kl_context variants).
    """
    import numpy as np
    import pandas as pd

    if bool(args.vcf) == bool(args.table):
        raise UserError("give either --vcf FILE --fasta FILE or --table FILE")
    from ._splice_table import cmd_variant_effect_table, is_variant_effect_model

    if args.table and is_variant_effect_model(Path(args.model)):  # supervised model (issue 15): score column
        return cmd_variant_effect_table(args)
    if args.vcf and not args.fasta:
        raise UserError("--vcf needs --fasta (the reference genome the variants refer to)")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_distance < 1:
        raise UserError(f"--max-distance must be at least 1, got {args.max_distance}")
    source = Path(args.vcf or args.table)
    inputs = [source] + ([Path(args.fasta)] if args.vcf else [])
    for path in inputs:
        if not path.is_file():
            raise UserError(f"{path} does not exist")
    out, model_dir = Path(args.out), Path(args.model)
    tsv, png = output_file(out, ".tsv"), output_file(out, ".png")
    check_outputs(inputs, [tsv] + ([png] if args.plot_top > 0 else []), args.overwrite)

    from ..models.splicebert.scoring_splicebert import clean_sequence, kl_profile, splice_site_positions
    from ..plotting import plot_kl_profiles
    from ..tasks.splicing.variant_effect import score_variants, vcf_sequences

    # Read and check every variant before loading the model: errors come fast and name the variant.
    if args.vcf:
        variants = _read_vcf(source)
        try:
            windows = vcf_sequences(variants, args.fasta, window=args.window, center=args.center)
        except (ValueError, FileNotFoundError) as error:
            raise UserError(str(error)) from None
        labels = [f"{row.chrom}:{row.pos} {row.ref}>{row.alt}" for row in variants.itertuples()]
        if "id" in variants:
            labels = [f"{i} ({label})" if str(i) else label for i, label in zip(variants["id"], labels)]
    else:
        variants = _read_table(source)
        windows = variants
        labels = [
            f"{i}: {r}>{a} at {p}"
            for i, r, a, p in zip(variants["id"], variants["ref"], variants["alt"], variants["position"])
        ]
    has_sites = {"exon_start", "exon_end"} <= set(windows.columns)
    wt = [clean_sequence(s) for s in windows["wt_sequence"]]
    mut = [clean_sequence(s) for s in windows["mut_sequence"]]
    sites = list(zip(windows["exon_start"], windows["exon_end"])) if has_sites else None

    _model_config(model_dir, "a SpliceBERT masked-LM folder (txformers or original weights)")
    from ..models.splicebert import SpliceBertForMaskedLM
    from ..tokenizers import NucleotideTokenizer

    run_device = device(args.device)
    model = SpliceBertForMaskedLM.from_pretrained(model_dir).to(run_device).eval()
    tokenizer = NucleotideTokenizer()
    cache: dict[str, np.ndarray] = {}
    distinct = len(set(wt) | set(mut))
    print(f"scoring {len(wt)} variants ({distinct} distinct sequences) with {model_dir}", file=sys.stderr)
    try:
        scores = score_variants(
            model,
            tokenizer,
            wt,
            mut,
            list(windows["position"]),
            sites=sites,
            batch_size=args.batch_size,
            device=run_device,
            max_distance=args.max_distance,
            edge=args.edge,
            cache=cache,
        )
    except ValueError as error:
        raise UserError(str(error)) from None

    if args.vcf:
        scores = scores.drop(columns=["ref", "alt"]).rename(columns={"position": "window_position"})
        frame = pd.concat([variants.reset_index(drop=True), scores], axis=1)
    else:
        keep = [c for c in ("id", "position", "ref", "alt", "exon_start", "exon_end", "label") if c in variants]
        frame = pd.concat(
            [variants[keep].reset_index(drop=True), scores.drop(columns=["position", "ref", "alt"])], axis=1
        )

    # issue 17 item 11: a variant whose scores are NaN/inf is written with empty scores and a reason
    core = ["kl_context", "kl_variant", "delta_p"]
    non_finite = non_finite_rows(frame[core].to_numpy(), "variant scores", model_dir)
    if non_finite.any():
        frame.loc[non_finite, core] = np.nan
        frame["reason"] = np.where(non_finite, NON_FINITE, "")
        print(
            f"warning: {int(non_finite.sum())} of {len(frame)} variants have NaN or infinite model outputs "
            f"(reason {NON_FINITE} in {tsv}); first: {labels[int(np.flatnonzero(non_finite)[0])]}",
            file=sys.stderr,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    position_note = (
        "pos is 1-based on the plus strand (as in VCF); window_position is 0-based in the transcript-oriented window"
        if args.vcf
        else "position is 0-based in the sequence as given; exon_start/exon_end 0-based, half-open"
    )
    header = [
        f"# txformers splice variants: {source} with {model_dir} (zero-shot, unmasked WT and mutant)",
        f"# kl_context = sum_{{d=1..{args.max_distance}}} log(max(mean(KL[p-d], KL[p+d]), 1e-6)), higher = more "
        "disruptive; kl_variant = KL at the variant; delta_p = p_mut(alt) - p_wt(ref)",
        f"# {position_note}",
    ]
    with atomic_path(tsv) as temporary, temporary.open("w") as handle:
        handle.write("\n".join(header) + "\n")
        frame.to_csv(handle, sep="\t", index=False, float_format="%.6g", na_rep="nan")

    kl_context = frame["kl_context"].to_numpy()
    ranked = [i for i in np.argsort(-kl_context, kind="stable") if np.isfinite(kl_context[i])]
    top = ranked[: max(args.plot_top, 0)]
    if top:
        items = []
        for i in top:
            site_positions = []
            if sites is not None:
                acceptor, donor = splice_site_positions(*_site_or_none(sites[i]), len(wt[i]))
                site_positions = acceptor + donor
            kl = kl_profile(cache[wt[i]], cache[mut[i]])
            position = int(windows["position"].iloc[i])
            score = float(kl_context[i])
            items.append({"kl": kl, "position": position, "sites": site_positions, "label": labels[i], "score": score})
        plot_kl_profiles(items, png, args.max_distance)

    print(f"{len(frame)} variants scored with {model_dir}; highest kl_context:")
    for i in ranked[:5]:
        print(f"  {labels[i]:<40} kl_context {kl_context[i]:9.3f}   delta_p {frame['delta_p'][i]:+.4f}")
    print(f"wrote {tsv}" + (f" and {png} (KL profiles of the top {len(top)})" if top else ""))
    return 0


def _site_or_none(site: tuple[Any, Any]) -> tuple[int | None, int | None]:
    import pandas as pd

    start, end = (None if value is None or pd.isna(value) else int(value) for value in site)
    return start, end


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------
def add_parser(commands: argparse._SubParsersAction) -> None:
    splice = commands.add_parser(
        "splice",
        help="splice-site probabilities along sequences; zero-shot splice variant effects",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  txformers splice predict genes.fa --model runs/splice-sites/model --out outputs/sites\n"
        "  txformers splice variants --vcf variants.vcf --fasta genome.fa --out outputs/variants\n",
    )
    actions = splice.add_subparsers(dest="splice_command", required=True, metavar="command")

    predict = actions.add_parser(
        "predict",
        help="per-nucleotide donor/acceptor probabilities of FASTA sequences (any length)",
        description=f"{inspect.cleandoc(cmd_predict.__doc__)}\n\nConvention: {CONVENTION}. Positions in the "
        "outputs are 1-based (BED: 0-based start, end = start + 1, score = round(1000 * probability), strand +).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  txformers splice predict examples/minigenes.fa --model runs/splice-sites/model "
        "--out outputs/sites --threshold 0.5 --plot-limit 5\n",
    )
    predict.add_argument("fasta", help="FASTA file (DNA or RNA, any case, any length; IUPAC codes read as N)")
    predict.add_argument(
        "--model",
        default=str(DEFAULT_SPLICE_SITE_MODEL),
        help="fine-tuned splice-site window classifier or per-nucleotide model (default: %(default)s)",
    )
    predict.add_argument(
        "--out", default="outputs/splice_sites", help="output prefix: PREFIX.tsv, PREFIX.bed, PREFIX_<name>.png"
    )
    predict.add_argument("--threshold", type=float, default=0.5, help="BED calls: probability > this (default 0.5)")
    predict.add_argument("--plot-limit", type=int, default=10, help="plot the first N sequences (default 10; 0: none)")
    predict.add_argument("--all-positions", action="store_true", help="TSV rows for every position, not only GT/AG")
    predict.add_argument("--window-size", type=int, default=None, help="window length (default: the model's)")
    predict.add_argument("--batch-size", type=int, default=64, help="windows per forward pass (default 64)")
    predict.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    predict.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="auto: bfloat16 where the hardware computes it natively (CPU with AMX or AVX512-BF16, GPU with bf16: "
        "about 2.4x faster, probabilities within 0.01), else float32; the table's header records the one used",
    )
    predict.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    predict.set_defaults(handler=cmd_predict)

    variants = actions.add_parser(
        "variants",
        help="zero-shot variant-effect scores (KL-context, splice-site KL, delta-p) of SNVs",
        description=inspect.cleandoc(cmd_variants.__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  txformers splice variants --vcf variants.vcf --fasta hg38.fa --out outputs/variants\n"
        "  txformers splice variants --table mapsy.txt --out outputs/mapsy --plot-top 3\n"
        "  txformers splice variants --table cagi.csv --model checkpoints/splicebert-small-variant-effect --out out\n"
        "    (a SpliceBertForVariantEffect model: OUT.tsv with every row, its ID, score, orientation, reason)\n"
        "VCF: CHROM, POS (1-based), REF, ALT on the plus strand; optional INFO STRAND=-, EXON_START/EXON_END\n"
        "(1-based, inclusive) for the splice-site scores. Table: wt_sequence, mut_sequence, optional position\n"
        "(0-based), exon_start/exon_end (0-based, half-open), id; or the MaPSy layout (WT_SEQ, MUT_SEQ, ...).\n",
    )
    source = variants.add_mutually_exclusive_group()
    source.add_argument("--vcf", help="VCF (or CSV/TSV with chrom, pos, ref, alt) of SNVs; needs --fasta")
    source.add_argument("--table", help="table of WT/mutant sequence pairs (CSV/TSV, or MaPSy mapsy.txt)")
    variants.add_argument("--fasta", help="reference genome FASTA of the --vcf variants")
    variants.add_argument(
        "--model", default=str(DEFAULT_SPLICEBERT), help="SpliceBERT masked LM (default: %(default)s)"
    )
    variants.add_argument("--out", default="outputs/splice_variants", help="output prefix: PREFIX.tsv, PREFIX.png")
    variants.add_argument("--window", type=int, default=510, help="--vcf: window length in nt (default 510)")
    variants.add_argument(
        "--center",
        choices=["variant", "exon"],
        default="variant",
        help="--vcf: centre windows on the variant or on the exon (needs exon bounds)",
    )
    variants.add_argument("--max-distance", type=int, default=100, help="KL-context distance D (default 100)")
    variants.add_argument(
        "--edge",
        choices=["one_sided", "strict"],
        default="one_sided",
        help="KL-context rule near sequence ends (see scoring_splicebert.kl_context_score)",
    )
    variants.add_argument("--plot-top", type=int, default=5, help="plot KL profiles of the N highest kl_context")
    variants.add_argument("--batch-size", type=int, default=32, help="sequences per forward pass (default 32)")
    variants.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    variants.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    variants.set_defaults(handler=cmd_variants)
    _add_vcf_parser(actions)


# ---------------------------------------------------------------------------------------------
# vcf (issue 14): SpliceAI-style VCF annotation with a per-nucleotide splice-site model
# ---------------------------------------------------------------------------------------------
DEFAULT_NT_SPLICE_MODEL = "splicebert-small-splice-sites-nt"


def _vcf_model(name: str) -> str:
    """A local folder (or Hub id) of a per-nucleotide splice-site model with acceptor/donor labels."""
    from ..hub import resolve_checkpoint

    resolved = str(resolve_checkpoint(name))
    how = (
        "pass --model FOLDER: a SpliceBertForTokenClassification with labels none/acceptor/donor in config.id2label "
        "(python -m txformers.training.finetune_splice_nt trains one)"
    )
    if not Path(resolved).is_dir():
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(resolved)
        except (OSError, ValueError):
            if name == DEFAULT_NT_SPLICE_MODEL:
                raise UserError(
                    f"the per-nucleotide splice-site model {name} is not available (no checkpoints/{name} folder and "
                    f"the Hub repo {resolved} cannot be reached); {how}"
                ) from None
            raise UserError(f"--model {name}: no such folder or reachable Hub repo; {how}") from None
    else:
        config = _model_config(Path(resolved), how)
    labels = {str(v).lower() for v in (getattr(config, "id2label", None) or {}).values()}
    if not {"acceptor", "donor"} <= labels:
        raise UserError(f"--model {name}: its labels are {sorted(labels)}, not none/acceptor/donor; {how}")
    return resolved


def cmd_vcf(args: argparse.Namespace) -> int:
    """Annotate a VCF with splice-site delta scores (SpliceAI's INFO layout), losing no record.

    For each ALT allele and each annotated gene holding POS, a per-nucleotide splice-site model scores the
    reference and alternative sequence (gene orientation) and writes INFO/SpliceBERT=ALLELE|SYMBOL|DS_AG|DS_AL|
    DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL (SpliceAI's layout; deltas within +-D nt). Every input line comes out in
    order; records that cannot be scored get SpliceBERT_SKIP=<reason>. OUT ending in .gz is bgzipped and
    tabix-indexed. Outputs are written to temporary files and renamed at the end.
    """
    from ..io import output_lock

    source, fasta, annotation, out = Path(args.vcf), Path(args.fasta), Path(args.annotation), Path(args.out)
    for path in (source, fasta, annotation):
        if not path.is_file():
            raise UserError(f"{path} does not exist")
    if args.distance < 1 or args.max_indel < 0 or args.batch_size < 1 or args.workers < 1:
        raise UserError("--distance, --batch-size and --workers must be at least 1, --max-indel at least 0")
    shard = None
    if args.shard:
        from ..tasks.splicing.vcf import parse_shard

        try:
            shard = parse_shard(args.shard)
        except ValueError as error:
            raise UserError(str(error)) from None
    regions = [r for text in args.regions or [] for r in text.split(",") if r]
    if shard and regions:
        raise UserError("--shard and --regions cannot be combined")
    outputs = [out] + ([Path(args.tsv)] if args.tsv else [])
    if str(out).endswith(".gz"):
        outputs.append(Path(str(out) + ".tbi"))
    check_outputs([source, fasta, annotation], outputs, args.overwrite)
    # after the output checks: these import the Hugging Face datasets library (through datasets.genome)
    from ..datasets.annotation import read_annotation
    from ..datasets.genome import FastaReader
    from ..tasks.splicing.vcf import AnnotatorFactory, VcfOptions, annotate_vcf, read_header

    model = _vcf_model(args.model)
    mlm = str(args.kl_model) if args.kl_context else None
    if mlm:
        _model_config(Path(mlm), "a SpliceBERT masked LM (--kl-model)")
    try:
        read_header(str(source))
        genes = read_annotation(annotation, transcripts=args.transcripts)
        FastaReader(fasta).close()  # checks (and if needed rebuilds) the index before the work
    except (ValueError, FileNotFoundError) as error:
        raise UserError(str(error)) from None
    options = VcfOptions(
        distance=args.distance,
        mask=args.mask,
        max_indel=args.max_indel,
        context=args.context,
        batch_size=args.batch_size,
        kl_context=args.kl_context,
    )
    factory = AnnotatorFactory(model, str(fasta), genes, options, mlm=mlm, device=device(args.device))
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        try:
            summary = annotate_vcf(
                str(source),
                str(out),
                factory,
                tsv=args.tsv,
                regions=regions,
                shard=shard,
                workers=args.workers,
                records_per_batch=args.records_per_batch,
                model_name=Path(model).name,
                command=" ".join(["txformers", *sys.argv[1:]]),
            )
        except ValueError as error:
            raise UserError(str(error)) from None
    skipped = ", ".join(f"{reason} {n}" for reason, n in summary["skipped"].items()) or "none"
    print(
        f"{summary['records']} records: {summary['scored']} scored ({summary['entries']} allele x gene entries), "
        f"skipped: {skipped}; {summary['records_per_second']:.1f} records/s"
    )
    for line in summary["annotation"] + summary["contigs"]:
        print(f"  {line}")
    print(f"wrote {out}" + (f" and {args.tsv}" if args.tsv else ""))
    return 0


# datasets.annotation.TRANSCRIPT_CHOICES, spelled out here: importing that module pulls in the Hugging Face
# `datasets` library (through datasets.genome), which --help must not pay for (tests/cli check they agree).
TRANSCRIPT_CHOICES = ("canonical", "mane", "all")


def _add_vcf_parser(actions: argparse._SubParsersAction) -> None:
    vcf = actions.add_parser(
        "vcf",
        help="annotate a VCF with splice-site delta scores (SpliceAI layout); every record kept",
        description=inspect.cleandoc(cmd_vcf.__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  txformers splice vcf in.vcf.gz --fasta hg38.fa --annotation gencode.gtf.gz --out out.vcf.gz\n"
        "  txformers splice vcf in.vcf.gz --fasta hg38.fa.gz --annotation grch38.txt --out part3.vcf.gz "
        "--shard 3/20\n"
        "  txformers splice vcf in.vcf.gz --fasta hg38.fa --annotation genes.gff3 --out chr1.vcf "
        "--regions chr1:1-5000000 --tsv chr1.tsv\n"
        "skip reasons: ref_mismatch, unknown_contig, outside_genes, symbolic_allele, indel_too_long, n_rich, "
        "malformed\n",
    )
    vcf.add_argument("vcf", help="input VCF (plain or bgzipped)")
    vcf.add_argument("--fasta", required=True, help="reference genome FASTA (plain or bgzipped; .fai checked)")
    vcf.add_argument(
        "--annotation", required=True, help="genes: GTF / GFF3 (GENCODE, Ensembl, RefSeq) or SpliceAI's table"
    )
    vcf.add_argument("--out", required=True, help="output VCF (.gz: bgzip + tabix index)")
    vcf.add_argument("--tsv", default=None, help="also write one row per allele x gene (and per skipped record)")
    vcf.add_argument(
        "--model",
        default=DEFAULT_NT_SPLICE_MODEL,
        help="per-nucleotide splice-site model, labels none/acceptor/donor (default: %(default)s)",
    )
    vcf.add_argument("--transcripts", choices=TRANSCRIPT_CHOICES, default="canonical", help="default: canonical")
    vcf.add_argument("--distance", "-D", type=int, default=50, help="score within +-D nt of POS (default 50)")
    vcf.add_argument(
        "--mask", "-M", action="store_true", help="SpliceAI's -M 1: mask annotated gains, unannotated losses"
    )
    vcf.add_argument("--max-indel", type=int, default=50, help="longest indel scored (default 50)")
    vcf.add_argument("--context", type=int, default=150, help="nt of context beyond +-D on each side (default 150)")
    vcf.add_argument("--kl-context", action="store_true", help="add SpliceBERT_KL (masked-LM KL-context) for SNVs")
    vcf.add_argument("--kl-model", default=str(DEFAULT_SPLICEBERT), help="masked LM for --kl-context")
    vcf.add_argument("--regions", action="append", help="chr:start-end (tabix-indexed input); repeat or comma-join")
    vcf.add_argument("--shard", default=None, help="K/N: the K-th of N contiguous parts (1-based)")
    vcf.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    vcf.add_argument("--batch-size", type=int, default=16, help="sequences per forward pass (default 16)")
    vcf.add_argument("--records-per-batch", type=int, default=256, help="records read per batch (default 256)")
    vcf.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    vcf.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    vcf.set_defaults(handler=cmd_vcf)
