# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers cytokine ...`: the tumour-immune dataset, cancer-type calls and cytokine patterns (Ren et al. 2024).

Examples:

    txformers cytokine build samples.tsv --out data/tumor_immune
    txformers cytokine classify cells.h5ad --out outputs/cells --sample-column sample
    txformers cytokine patterns --manifest samples.tsv --model checkpoints/cellformer-cancer-type --out outputs/patterns
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from ..io import atomic_path, atomic_write_text
from ._checks import check_finite
from ._common import CHECKPOINTS, UserError, check_outputs, cli_words, device

DEFAULT_CANCER_TYPE_MODEL = CHECKPOINTS / "cellformer-cancer-type"
PANELS = {"cytokine": "cytokines", "all": "all"}


def _command_line() -> str:
    return "txformers " + " ".join(sys.argv[1:])


# ---------------------------------------------------------------------------------------------- build
def cmd_build(args: argparse.Namespace) -> int:
    """Build the tumour-immune dataset of a manifest (one row per sample: path, format, cancer_type, study,
    patient; see `txformers.datasets.tumor_immune`): immune cells, log1p(CP10k) of the panel genes measured
    in every sample, labelled with sample, patient, study and cancer type. Writes OUT/dataset (datasets
    `save_to_disk`; or OUT/cells.parquet with --format parquet) and OUT/report.json (per sample: cells read and
    kept, scale, genes matched; the samples skipped). A missing or unreadable sample stops the build with its
    name and manifest row, unless --skip-bad-samples."""
    from ..datasets.tumor_immune import TumorImmuneBuilder

    manifest, out = Path(args.manifest), Path(args.out)
    if not manifest.is_file():
        raise UserError(f"manifest {manifest} does not exist")
    data_path = out / ("dataset" if args.format == "arrow" else "cells.parquet")
    report_path = out / "report.json"
    check_outputs([manifest], [data_path, report_path], args.overwrite)
    if data_path.is_dir() and not (data_path / "dataset_info.json").is_file():
        raise UserError(f"{data_path} exists and is not a saved dataset; refusing to replace it")

    with tempfile.TemporaryDirectory() as cache:
        try:  # the builder reads every sample's genes when built: bad samples fail here or while writing
            builder = TumorImmuneBuilder(
                manifest=str(manifest),
                cache_dir=cache,
                genes=PANELS[args.panel],
                pseudobulk=args.pseudobulk,
                on_error="skip" if args.skip_bad_samples else "raise",
            )
            builder.download_and_prepare()
        except (ValueError, FileNotFoundError) as error:  # SampleError names the sample and its manifest row
            raise UserError(str(error)) from None
        dataset = builder.as_dataset()["train"]
        if len(dataset) == 0:
            raise UserError(f"no immune cell kept from {manifest}; see the immune_filter / cell_type_column columns")
        out.mkdir(parents=True, exist_ok=True)
        if data_path.is_dir():
            shutil.rmtree(data_path)  # a dataset this command saved before (checked above), replaced on --overwrite
        if args.format == "arrow":
            dataset.save_to_disk(str(data_path))
        else:
            dataset.to_parquet(str(data_path))
        cancer_names = dataset.features["cancer_type"].names
        counts = {cancer_names[label]: count for label, count in sorted(Counter(dataset["cancer_type"]).items())}
        report = {
            "command": _command_line(),
            "manifest": str(manifest),
            "panel": args.panel,
            "pseudobulk": args.pseudobulk,
            "examples": len(dataset),
            "examples_per_cancer_type": counts,
            "genes": builder.gene_names(),
            "builder": builder.report,
        }
    atomic_write_text(report_path, json.dumps(report, indent=1, default=str) + "\n")
    unit = "samples (pseudo-bulk)" if args.pseudobulk else "immune cells"
    print(f"{len(dataset)} {unit} of {len(builder.report['samples'])} samples, {len(report['genes'])} genes")
    for name, count in counts.items():
        print(f"  {name:<24} {count:>7}")
    for skipped in builder.report["skipped"]:
        print(
            f"skipped sample {skipped['sample']!r} (manifest row {skipped['row']}): {skipped['reason']}",
            file=sys.stderr,
        )
    print(f"wrote {data_path} and {report_path}")
    return 0


# ---------------------------------------------------------------------------------------------- classify
def _load_classifier(model_dir: Path):
    from ..models.cellformer import CellformerForCellClassification
    from ..tokenizers import GeneExpressionTokenizer

    if not (model_dir / "config.json").is_file():
        raise UserError(
            f"no model at {model_dir} (config.json missing): give --model a Cellformer cancer-type checkpoint"
        )
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "cellformer" or not config.get("id2label"):
        raise UserError(f"{model_dir} is not a Cellformer cell classifier (model_type {config.get('model_type')!r})")
    if not (model_dir / "gene_vocab.json").is_file():
        raise UserError(f"{model_dir} has no gene-expression tokenizer (gene_vocab.json missing)")
    return CellformerForCellClassification.from_pretrained(model_dir).eval(), GeneExpressionTokenizer.from_pretrained(
        model_dir
    )


def cmd_classify(args: argparse.Namespace) -> int:
    """Cancer type of every cell of an AnnData (raw counts, TPM or log1p-normalised; every measured gene, the
    model reads its cytokine panel) with a Cellformer classifier; with --sample-column, one call per sample
    (mean class probabilities of its cells). Writes PREFIX.cells.csv (per cell: call, score, panel genes
    detected, every class probability), PREFIX.h5ad (a copy of the input with the calls in obs and the
    probabilities in obsm['cancer_type_probabilities']) and PREFIX.samples.csv. The input is never modified.
    A model whose config holds an abstain rule calls cells out of its range (panel coverage, top probability,
    distance to the training cells) 'unknown': the tables keep its top class and the reasons, the summary
    counts them."""
    h5ad, out = Path(args.h5ad), Path(args.out)
    if not h5ad.is_file():
        raise UserError(f"AnnData file {h5ad} does not exist")
    gene_map = Path(args.gene_map) if args.gene_map else None
    if gene_map is not None and not gene_map.is_file():
        raise UserError(f"--gene-map {gene_map} does not exist")
    outputs = {"cells": out.with_name(out.name + ".cells.csv"), "h5ad": out.with_name(out.name + ".h5ad")}
    if args.sample_column:
        outputs["samples"] = out.with_name(out.name + ".samples.csv")
    check_outputs([h5ad, *([gene_map] if gene_map else [])], list(outputs.values()), args.overwrite)

    import logging

    import numpy as np
    import pandas as pd  # after the output checks: a refused run imports neither pandas nor torch
    from tqdm.auto import tqdm

    from ..datasets.cells import flag_cells, read_cells, warn_flagged
    from ..models.cellformer import CancerTypePipeline
    from ..models.cellformer.pipeline_cellformer import UNKNOWN

    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    model, tokenizer = _load_classifier(Path(args.model))
    if gene_map is not None:
        try:
            n_mapped = tokenizer.add_gene_mapping(gene_map)
        except (ValueError, KeyError, OSError) as error:
            raise UserError(f"--gene-map {gene_map}: {error}") from None
        print(f"--gene-map {gene_map}: {n_mapped} identifiers mapped to the model's genes", file=sys.stderr)

    try:
        adata = read_cells(h5ad)
    except Exception as error:  # corrupt or not an h5ad
        raise UserError(f"cannot read {h5ad} as AnnData ({type(error).__name__}: {error})") from None
    if adata.n_obs == 0:
        raise UserError(f"{h5ad} holds no cells")
    if args.gene_column and args.gene_column not in adata.var.columns:
        raise UserError(f"{h5ad}: no var column {args.gene_column!r} (columns: {list(adata.var.columns)[:20]})")
    if args.layer and args.layer not in adata.layers:
        raise UserError(f"{h5ad}: no layer {args.layer!r} (layers: {list(adata.layers)})")
    if args.sample_column and args.sample_column not in adata.obs.columns:
        raise UserError(f"{h5ad}: no obs column {args.sample_column!r} (columns: {list(adata.obs.columns)[:20]})")
    report = tokenizer.gene_report(adata, gene_column=args.gene_column)
    names = list(adata.var[args.gene_column] if args.gene_column else adata.var_names)
    if not report.present_genes:
        raise UserError(
            f"{h5ad}: none of the model's {report.n_vocab_genes} cytokine panel genes is among its {len(names)} genes "
            f"(coverage 0%; its genes look like {names[:5]}); the panel: {', '.join(tokenizer.genes)}. "
            "Give HGNC symbols (--gene-column for a var column of symbols)"
        )
    if report.coverage < 0.5:
        print(
            f"warning: only {len(report.present_genes)} of {report.n_vocab_genes} panel genes "
            f"({report.coverage:.0%}) in {h5ad}; missing: {', '.join(report.missing_genes)}",
            file=sys.stderr,
        )

    pipe = CancerTypePipeline(model=model, tokenizer=tokenizer, device=device(args.device))
    pipeline_log = logging.getLogger(CancerTypePipeline.__module__)
    log_level = pipeline_log.level
    pipeline_log.setLevel(logging.ERROR)  # its low-coverage warning repeats the one printed above
    try:
        chunks = pipe.preprocess(
            adata,
            sample_column=args.sample_column,
            layer=args.layer,
            gene_column=args.gene_column,
            cell_batch_size=args.batch_size,
        )
        outputs_per_chunk = [
            pipe.forward(chunk)
            for chunk in tqdm(
                chunks,
                total=math.ceil(adata.n_obs / args.batch_size),
                desc="cells",
                unit="batch",
                file=sys.stderr,
                disable=None,
            )
        ]
    except ValueError as error:  # e.g. negative (scaled) values
        raise UserError(f"{h5ad}: {cli_words(error, '--layer')}") from None
    finally:
        pipeline_log.setLevel(log_level)
    result = pipe.postprocess(outputs_per_chunk, return_all_scores=True)
    cells = result["cells"] if args.sample_column else result
    abstains = bool(cells) and "unknown" in cells[0]  # the model's config holds an abstain rule

    labels = pipe.labels
    probabilities = pd.DataFrame([cell["scores"] for cell in cells], columns=labels, index=adata.obs_names)
    check_finite(probabilities.to_numpy(), "class probabilities", args.model)
    # cells with no expression, or none in the model's panel, get a call all the same: flag them (issue 17 item 8)
    matrix = adata.layers[args.layer] if args.layer else adata.X
    flags = flag_cells(matrix, np.flatnonzero(report.column_map >= 0), report.coverage)
    table = pd.DataFrame(
        {
            "cell": adata.obs_names,
            "predicted_cancer_type": [c["label"] for c in cells],
            "score": [c["score"] for c in cells],
            "panel_genes_detected": [c["genes_detected"] for c in cells],
            "flag": flags,
        }
    )
    if abstains:
        table.insert(table.columns.get_loc("score"), "top_cancer_type", [c["predicted_label"] for c in cells])
        table["unknown"] = [c["unknown"] for c in cells]
        table["unknown_reasons"] = [";".join(c["reasons"]) for c in cells]
    if args.sample_column:
        table.insert(1, "sample", adata.obs[args.sample_column].astype(str).to_numpy())
    table = pd.concat([table, probabilities.add_prefix("p_").reset_index(drop=True)], axis=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(outputs["cells"]) as temporary:  # a failed or killed write keeps the previous file whole
        table.to_csv(temporary, index=False, float_format="%.6g")

    annotated = adata.copy()  # the file is never written back; this copy goes to PREFIX.h5ad
    categories = [*labels, UNKNOWN] if abstains and UNKNOWN not in labels else labels
    annotated.obs["cancer_type_prediction"] = pd.Categorical(
        table["predicted_cancer_type"].to_numpy(), categories=categories
    )
    if abstains:
        annotated.obs["cancer_type_unknown"] = table["unknown"].to_numpy(dtype=bool)
    annotated.obs["cancer_type_score"] = table["score"].to_numpy()
    annotated.obs["cancer_type_panel_genes_detected"] = table["panel_genes_detected"].to_numpy()
    annotated.obs["cancer_type_flag"] = flags
    annotated.obsm["cancer_type_probabilities"] = probabilities
    annotated.uns["cancer_type_model"] = {
        "model": str(args.model),
        "classes": labels,
        "panel_coverage": report.coverage,
    }
    with atomic_path(outputs["h5ad"]) as temporary:
        annotated.write_h5ad(temporary)

    print(
        f"{adata.n_obs} cells of {h5ad}, {len(report.present_genes)}/{report.n_vocab_genes} panel genes "
        f"(coverage {report.coverage:.0%}); model {args.model}"
    )
    for label, count in table["predicted_cancer_type"].value_counts().items():
        print(f"  {label:<24} {count:>7} cells")
    if abstains:
        unknown = table["unknown"].to_numpy(dtype=bool)
        reasons = Counter(reason for cell in cells for reason in cell["reasons"])
        print(
            f"unknown (out of the model's range, no cancer type called): {int(unknown.sum())} of {len(unknown)} cells "
            f"({unknown.mean():.0%})" + (f"; reasons: {dict(reasons.most_common())}" if reasons else "")
        )
        if unknown.any():
            tops = table.loc[unknown, "top_cancer_type"].value_counts()
            print("  their top classes: " + ", ".join(f"{label} {count}" for label, count in tops.items()))
        if getattr(pipe, "abstain_note", None):
            print(f"  note: {pipe.abstain_note}")
    if args.sample_column:
        flagged_per_sample = Counter(
            str(sample) for sample, flag in zip(adata.obs[args.sample_column].astype(str), flags) if flag
        )
        samples = pd.DataFrame(
            [
                {
                    "sample": s["sample"],
                    "n_cells": s["n_cells"],
                    "predicted_cancer_type": s["label"],
                    "score": s["score"],
                    **({"top_cancer_type": s.get("predicted_label", s["label"])} if abstains else {}),
                    **({"unknown_fraction": s["unknown_fraction"]} if "unknown_fraction" in s else {}),
                    "flagged_cells": flagged_per_sample.get(str(s["sample"]), 0),
                    **{f"p_{k}": v for k, v in s["scores"].items()},
                }
                for s in result["samples"]
            ]
        )
        with atomic_path(outputs["samples"]) as temporary:
            samples.to_csv(temporary, index=False, float_format="%.6g")
        print(f"per sample ({args.sample_column}, mean class probabilities of its cells):")
        for row in samples.head(20).itertuples():
            print(f"  {row.sample:<24} {row.n_cells:>6} cells  {row.predicted_cancer_type} ({row.score:.2f})")
    warning = warn_flagged(flags)
    if warning:
        print(warning, file=sys.stderr)
    print("wrote " + ", ".join(str(path) for path in outputs.values()))
    return 0


# ---------------------------------------------------------------------------------------------- patterns
def cmd_patterns(args: argparse.Namespace) -> int:
    """Cytokine pattern of each cancer type: per cancer and cytokine gene, one-vs-rest detection rates, mean
    expression, Cohen's d and AUROC over cells (and, with --model, the Cellformer classifier's integrated-
    gradients attribution; needs captum). Input: the immune cells of a tumour-immune manifest, or one AnnData
    with a cancer-type obs column. Writes OUT/cytokine_patterns.tsv, .png (heatmap) and .json (top genes)."""
    from ..tasks.cytokine.patterns import cells_from_h5ad, output_paths, run_patterns

    source = Path(args.manifest or args.h5ad)
    if not source.is_file():
        raise UserError(f"{'manifest' if args.manifest else 'AnnData file'} {source} does not exist")
    if args.h5ad and not args.label_column:
        raise UserError("--h5ad needs --label-column (the obs column with each cell's cancer type)")
    if args.model and not (Path(args.model) / "config.json").is_file():
        raise UserError(f"no model at {args.model} (config.json missing)")
    check_outputs([source], output_paths(args.out), args.overwrite)
    if args.model:
        try:
            import captum  # noqa: F401
        except ImportError:
            raise UserError("attributions (--model) need captum: pip install captum") from None

    summary = {"command": _command_line()}
    try:
        if args.h5ad:
            X, genes, labels, info = cells_from_h5ad(args.h5ad, args.label_column, layer=args.layer)
            summary["input"] = info
        else:
            from ..tasks.cytokine.cancer_type import load_cells

            with tempfile.TemporaryDirectory() as cache:
                cells = load_cells(args.manifest, cache)
            X, genes, studies = cells.X, cells.genes, cells.study
            labels = [cells.classes[y] for y in cells.y]
            summary["input"] = {"source": str(args.manifest), "samples": [s["sample"] for s in cells.report["samples"]]}
        import numpy as np

        labels = np.asarray(labels, dtype=str)
        if len(set(labels)) < 2:
            raise UserError(f"cytokine patterns compare cancer types: {source} holds only {sorted(set(labels))}")
        result = run_patterns(
            X,
            genes,
            labels,
            args.out,
            args.model,
            n_steps=args.n_steps,
            top=args.top,
            summary=summary,
            studies=None if args.h5ad else studies,
        )
    except (ValueError, FileNotFoundError) as error:
        raise UserError(str(error)) from None
    print(f"{result['cells']} cells, {len(genes)} genes, cancer types: {result['cells_per_cancer_type']}")
    for cancer, rows in result["top_genes"].items():
        print(f"  {cancer:<24} " + ", ".join(f"{row['gene']} (d={row['cohens_d']:.2f})" for row in rows))
    print("wrote " + ", ".join(str(path) for path in output_paths(args.out)))
    return 0


# ---------------------------------------------------------------------------------------------- parser
def add_parser(commands: argparse._SubParsersAction) -> None:
    cytokine = commands.add_parser(
        "cytokine",
        help="tumour-immune dataset, cancer type of immune cells, cytokine patterns",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = cytokine.add_subparsers(dest="cytokine_command", required=True, metavar="command")
    formatter = argparse.RawDescriptionHelpFormatter

    build = sub.add_parser(
        "build",
        help="build the tumour-immune dataset of a manifest",
        description=cmd_build.__doc__,
        formatter_class=formatter,
        epilog="example:\n  txformers cytokine build samples.tsv --out data/tumor_immune\n"
        "  txformers cytokine build samples.tsv --out data/bulk --pseudobulk --format parquet\n",
    )
    build.add_argument("manifest", help="CSV/TSV, one row per sample (see txformers.datasets.tumor_immune)")
    build.add_argument("--out", required=True, help="output folder (dataset + report.json)")
    build.add_argument(
        "--panel",
        choices=sorted(PANELS),
        default="cytokine",
        help="genes: the 185 cytokine ligand genes (default) or all genes of the samples",
    )
    build.add_argument("--pseudobulk", action="store_true", help="one example per sample instead of one per cell")
    build.add_argument(
        "--format",
        choices=["arrow", "parquet"],
        default="arrow",
        help="arrow: datasets save_to_disk folder OUT/dataset (default); parquet: OUT/cells.parquet",
    )
    build.add_argument(
        "--skip-bad-samples",
        action="store_true",
        help="skip (and report) missing or unreadable samples instead of stopping",
    )
    build.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    build.set_defaults(handler=cmd_build)

    classify = sub.add_parser(
        "classify",
        help="cancer type of every cell (and sample) of an AnnData",
        description=cmd_classify.__doc__,
        formatter_class=formatter,
        epilog="example:\n  txformers cytokine classify cells.h5ad --out outputs/cells --sample-column sample\n",
    )
    classify.add_argument("h5ad", help="AnnData (.h5ad): raw counts, TPM or log1p-normalised, gene symbols")
    classify.add_argument(
        "--model", default=str(DEFAULT_CANCER_TYPE_MODEL), help="Cellformer cancer-type checkpoint folder"
    )
    classify.add_argument(
        "--out", required=True, help="output prefix: PREFIX.cells.csv, PREFIX.h5ad, PREFIX.samples.csv"
    )
    classify.add_argument("--sample-column", help="obs column of sample ids: also call each sample")
    classify.add_argument("--layer", help="layer to read instead of X (e.g. counts)")
    classify.add_argument("--gene-column", help="var column with gene symbols (default: var_names)")
    classify.add_argument(
        "--gene-map",
        help="identifier-to-symbol table (TSV/CSV with a header: a symbol column and id columns, e.g. Entrez or "
        "Ensembl) for inputs without symbols",
    )
    classify.add_argument("--batch-size", type=int, default=256, help="cells per forward pass")
    classify.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    classify.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    classify.set_defaults(handler=cmd_classify)

    patterns = sub.add_parser(
        "patterns",
        help="cytokine pattern table and heatmap of each cancer type",
        description=cmd_patterns.__doc__,
        formatter_class=formatter,
        epilog="examples:\n  txformers cytokine patterns --manifest samples.tsv "
        "--model checkpoints/cellformer-cancer-type --out outputs/patterns\n"
        "  txformers cytokine patterns --h5ad cells.h5ad --label-column cancer_type "
        "--out outputs/patterns\n",
    )
    source = patterns.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", help="tumour-immune manifest (immune cells of every sample)")
    source.add_argument("--h5ad", help="one AnnData with a cancer-type obs column (--label-column)")
    patterns.add_argument("--label-column", help="obs column with each cell's cancer type (--h5ad)")
    patterns.add_argument("--layer", help="layer to read instead of X (--h5ad)")
    patterns.add_argument("--model", help="Cellformer cancer-type checkpoint: add integrated-gradients attributions")
    patterns.add_argument("--out", required=True, help="output folder")
    patterns.add_argument("--top", type=int, default=6, help="genes per cancer type in the heatmap")
    patterns.add_argument("--n-steps", type=int, default=32, help="integrated-gradients steps")
    patterns.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    patterns.set_defaults(handler=cmd_patterns)
