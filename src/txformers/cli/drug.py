# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers drug ...`: MetaSCDrug drug response of single cells (Ge et al., bioRxiv 2024.04.25.591050).

    txformers drug predict cells.h5ad --drug PLX-4720 --out outputs/plx4720
    txformers drug adapt cells.tsv --drug Gefitinib --label-column response --shots 5 --out models/gefitinib-k5
    txformers drug genes cells.tsv --drug Gefitinib --out outputs/gefitinib_genes --top 30
    txformers drug fewshot --model checkpoints/metascdrug-meta --data cells.tsv --shots 3 5 --seeds 10 --json k.json

DATA is an .h5ad (X or --layer; genes in var_names; labels, when needed, in obs) or a SCAD-style table
(.tsv/.csv: one row per cell, the cell id first, a label column, one column per gene). Genes are symbols, or
Entrez ids mapped with --gene-map (an Entrez-to-symbol table; found automatically next to SCAD files). --drug
is a drug name, looked up in --smiles-table CSVs (default: the GDSC tables next to the data), or a SMILES;
without --drug, the name in a SCAD file name (Target_expr_resp_z.<DRUG>_tp4k.tsv) is used. Cells are
z-scored per gene over the cells of DATA (the processor's standardisation): give a whole dataset at once.
The default model is the bundled checkpoints/metascdrug-meta. Inputs are never modified.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import math
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from ..io import atomic_path, atomic_write_text
from ._checks import check_finite
from ._common import CHECKPOINTS, UserError, check_output_folder, check_outputs, device

DEFAULT_MODEL = CHECKPOINTS / "metascdrug-meta"
TABLE_SUFFIXES = (".tsv", ".tsv.gz", ".txt", ".txt.gz", ".csv", ".csv.gz")
ADAPTATION_FILE = "adaptation.json"


def _command_line() -> str:
    return "txformers " + " ".join(sys.argv[1:])


# ---------------------------------------------------------------------------------------------- shared helpers
def _data_path(path: str) -> Path:
    data = Path(path)
    if not data.is_file():
        raise UserError(f"input file {data} does not exist")
    if not (data.name.endswith(".h5ad") or data.name.endswith(TABLE_SUFFIXES)):
        raise UserError(f"{data}: expected an .h5ad file or a table ({', '.join(TABLE_SUFFIXES)})")
    return data


def _model_dir(path: str) -> Path:
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise UserError(f"no model at {folder} (config.json missing): give --model a MetaSCDrug checkpoint folder")
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except ValueError as error:
        raise UserError(f"{folder / 'config.json'} is not valid JSON ({error})") from None
    if model_type != "metascdrug":
        raise UserError(f"{folder} is not a MetaSCDrug checkpoint (model_type {model_type!r})")
    if not (folder / "processor_config.json").is_file():
        raise UserError(f"{folder} has no MetaSCDrug processor (processor_config.json missing)")
    return folder


def _quiet() -> None:
    """No weight-loading progress bars from transformers (the commands print their own progress)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _load(folder: Path):
    from ..models.metascdrug import MetaScDrugForDrugResponse, MetaScDrugProcessor

    _quiet()
    return MetaScDrugForDrugResponse.from_pretrained(folder).eval(), MetaScDrugProcessor.from_pretrained(folder)


def _resolve_drug(
    drug: str | None, data: Path, smiles_tables: list[str] | None, duplicates: str = "error"
) -> dict[str, Any]:
    """``{"name", "smiles", "source"}`` of ``--drug`` (or of the drug in the SCAD file name); a name the tables
    give different SMILES is an error unless ``duplicates="first"`` (``--duplicate-drugs``)."""
    from ..tasks.drug_response.inputs import DuplicateDrugError, read_smiles_tables, resolve_drug

    hint = (
        "give the drug's SMILES (e.g. --drug 'CC(=O)Nc1ccc(O)cc1'), or a CSV with drug-name and SMILES columns "
        "that lists it (--smiles-table drugs.csv)"
    )
    for table in smiles_tables or []:
        if not Path(table).is_file():
            raise UserError(f"--smiles-table {table} does not exist")
    try:
        if smiles_tables:
            read_smiles_tables(smiles_tables, "first")  # a malformed table is reported as such, not as unknown
        found = resolve_drug(drug, data, smiles_tables, duplicates)
    except DuplicateDrugError as error:
        raise UserError(str(error)) from None
    except ValueError as error:
        raise UserError(f"{error}; {hint}" if drug is not None else str(error)) from None
    if found["smiles"] is None:
        if found["name"] is None:
            raise UserError(
                f"no --drug given and no drug name in the file name of {data.name}: pass --drug NAME_OR_SMILES"
            )
        raise UserError(f"no SMILES for {found['name']!r} (the drug of the file name; {found['source']}): {hint}")
    return found


def _column_prefix(name: str | None, drug: dict[str, Any]) -> str:
    """obs/CSV column prefix: ``--name``, else the drug name, else ``drug``; safe for h5ad keys."""
    text = name or drug["name"] or "drug"
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_") or "drug"


def _gene_map_path(genes: list[str], data: Path, explicit: str | None) -> Path | None:
    """The Entrez-to-symbol table to apply: ``--gene-map``, else one found next to the data when most genes
    are Entrez ids, else None."""
    from ..tasks.drug_response.inputs import find_gene_map

    if explicit:
        if not Path(explicit).is_file():
            raise UserError(f"--gene-map {explicit} does not exist")
        return Path(explicit)
    if genes and sum(str(gene).isdigit() for gene in genes) > len(genes) / 2:
        return find_gene_map(data)
    return None


def _read_cells(
    data: Path, layer: str | None, gene_map: str | None, label_column: str | None, duplicate_genes: str = "error"
):
    """``(adata, matrix, gene names for the model, gene map used)`` of an h5ad or a SCAD-style table.

    Table columns that are not numeric (and the label column) go to ``obs``. Entrez ids are mapped to symbols
    as the few-shot loader does (unmapped ids and later duplicates of a symbol are left out: ``""``).
    """
    from ..datasets.cells import CellsFormatError, read_cells
    from ..datasets.sc_drug_response import read_cell_table

    if data.name.endswith(".h5ad"):
        try:
            adata = read_cells(data, layer=layer)
        except CellsFormatError as error:  # corrupt, not an h5ad, or no such layer
            raise UserError(str(error)) from None
    else:
        if layer is not None:
            raise UserError("--layer is for .h5ad input")
        try:
            adata = read_cell_table(data, label_column, duplicate_genes)
        except ValueError as error:
            raise UserError(str(error)) from None
    if adata.n_obs == 0:
        raise UserError(f"{data} holds no cells")
    names = [str(gene) for gene in adata.var_names]
    map_path = _gene_map_path(names, data, gene_map)
    if map_path is not None:
        from ..datasets.sc_drug_response import read_entrez_map
        from ..tokenizers.gene_vocabulary import canonical_gene_id

        try:
            mapping = read_entrez_map(map_path)
        except ValueError as error:
            raise UserError(str(error)) from None
        seen: set[str] = set()
        mapped = []
        for gene in names:
            symbol = mapping.get(canonical_gene_id(gene), "")
            mapped.append("" if symbol in seen else symbol)
            seen.add(symbol)
        names = mapped
    matrix = adata.layers[layer] if layer is not None else adata.X
    return adata, matrix, names, map_path


def _labels_of(obs: Any, column: str | None):
    """0/1 labels of an obs column (1/0, true/false, sensitive/resistant), or None if absent or unreadable."""
    import numpy as np

    if not column or column not in obs.columns:
        return None
    words = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0, "sensitive": 1, "resistant": 0}
    values = obs[column].astype(str).str.strip().str.lower().map(words)
    if values.isna().any() or values.nunique() < 2:
        return None
    return values.to_numpy(dtype=np.int64)


def _fail(error: Exception, data: Path) -> UserError:
    """A model/processor error on the user's data as a one-line UserError."""
    return UserError(f"{data}: {error}")


# ---------------------------------------------------------------------------------------------- predict
def cmd_predict(args: argparse.Namespace) -> int:
    """Per-cell probability of sensitivity to a drug (and the regression head's ln IC50, z-scored within the
    drug for the bundled checkpoints) with a MetaSCDrug checkpoint, zero-shot or after `drug adapt`. Writes
    PREFIX.h5ad (a copy of DATA, a table converted to AnnData, with obs columns <DRUG>_sensitive_probability,
    <DRUG>_prediction and <DRUG>_ln_ic50_z) and PREFIX.csv (the same columns per cell). When DATA has a label
    column the zero-shot AUROC and accuracy are printed."""
    data, model_dir, out = _data_path(args.data), _model_dir(args.model), Path(args.out)
    outputs = {"h5ad": out.with_name(out.name + ".h5ad"), "csv": out.with_name(out.name + ".csv")}
    check_outputs([data], list(outputs.values()), args.overwrite)

    import numpy as np  # after the output checks: a refused run imports neither pandas nor torch
    import pandas as pd
    from tqdm.auto import tqdm

    from ..models.metascdrug import DrugResponsePipeline

    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not 0.0 <= args.threshold <= 1.0:
        raise UserError(f"--threshold must be a probability in [0, 1], got {args.threshold}")
    drug = _resolve_drug(args.drug, data, args.smiles_table, args.duplicate_drugs)
    prefix = _column_prefix(args.name, drug)
    adata, matrix, genes, map_path = _read_cells(
        data, args.layer, args.gene_map, args.label_column, args.duplicate_genes
    )
    model, processor = _load(model_dir)
    try:
        pipe = DrugResponsePipeline(model=model, processor=processor, device=device(args.device))
    except (RuntimeError, AssertionError, ValueError) as error:  # e.g. --device cuda on a machine without CUDA
        raise UserError(f"cannot run on --device {args.device!r}: {error}") from None
    columns = {
        "probability": f"{prefix}_sensitive_probability",
        "prediction": f"{prefix}_prediction",
        "regression": f"{prefix}_{pipe.regression_target}",
        "flag": f"{prefix}_flag",
    }
    clashes = [column for column in columns.values() if column in adata.obs.columns]
    if clashes and not args.overwrite:
        raise UserError(
            f"{data} already has obs columns {clashes}; pass --overwrite to replace them or --name another prefix"
        )

    inputs = {"expression": matrix, "genes": genes, "cells": list(adata.obs_names)}
    try:
        chunks = pipe.preprocess(inputs, smiles=drug["smiles"], cell_batch_size=args.batch_size)
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
    except ValueError as error:  # too few panel genes, invalid SMILES, a single cell to standardise ...
        raise _fail(error, data) from None
    coverage = float(outputs_per_chunk[0]["coverage"])
    cells = pipe.postprocess(outputs_per_chunk, threshold=args.threshold)
    probability = np.array([cell["sensitive_probability"] for cell in cells])
    regression = np.array([cell[pipe.regression_target] for cell in cells])
    prediction = np.array([cell["label"] for cell in cells])
    check_finite(np.concatenate([probability, regression]), "predictions", model_dir)
    from ..datasets.cells import flag_cells, warn_flagged

    panel = {str(gene).upper() for gene in processor.genes}
    known = [i for i, gene in enumerate(genes) if gene and str(gene).upper() in panel]
    flags = flag_cells(matrix, known, coverage)

    annotated = adata.copy() if data.name.endswith(".h5ad") else adata  # the input file is never written back
    annotated.obs[columns["probability"]] = probability
    annotated.obs[columns["prediction"]] = pd.Categorical(prediction, categories=["resistant", "sensitive"])
    annotated.obs[columns["regression"]] = regression
    annotated.obs[columns["flag"]] = flags
    runs = dict(annotated.uns.get("txformers_drug_response", {}))
    runs[prefix] = {
        "smiles": drug["smiles"],
        "drug": drug["name"] or "",
        "model": str(model_dir),
        "panel_coverage": coverage,
        "threshold": args.threshold,
    }
    annotated.uns["txformers_drug_response"] = runs
    table = pd.DataFrame({"cell": adata.obs_names})
    for name in columns.values():
        table[name] = annotated.obs[name].to_numpy()
    if args.label_column and args.label_column in adata.obs.columns:
        table[args.label_column] = adata.obs[args.label_column].to_numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(outputs["csv"]) as temporary:  # a failed or killed write keeps the previous file whole
        table.to_csv(temporary, index=False, float_format="%.6g")
    with atomic_path(outputs["h5ad"]) as temporary:
        annotated.write_h5ad(temporary)

    n_panel = len(processor.genes)
    print(
        f"{adata.n_obs} cells of {data}; {round(coverage * n_panel)}/{n_panel} panel genes (coverage {coverage:.0%})"
        + (f", genes mapped with {map_path}" if map_path else "")
    )
    print(f"drug {drug['name'] or drug['smiles']} ({drug['source']}); model {model_dir}")
    print(
        f"  sensitive (p >= {args.threshold:g}): {int((prediction == 'sensitive').sum())} cells, "
        f"resistant: {int((prediction == 'resistant').sum())}; mean probability {probability.mean():.3f}"
    )
    labels = _labels_of(adata.obs, args.label_column)
    if labels is not None:
        from ..tasks.drug_response.fewshot import classification_metrics

        scores = classification_metrics(labels, probability)
        print(
            f"  against {args.label_column!r}: AUROC {scores['auroc']:.3f}, accuracy {scores['accuracy']:.3f} "
            "(zero-shot unless the model was adapted: see `txformers drug adapt`)"
        )
    warning = warn_flagged(flags)
    if warning:
        print(warning, file=sys.stderr)
    print("wrote " + ", ".join(str(path) for path in outputs.values()))
    return 0


# ---------------------------------------------------------------------------------------------- adapt
def _read_labelled(
    data: Path, label_column: str, layer: str | None, gene_map: str | None, duplicate_genes: str = "error"
):
    """``(expression cells x symbols, 0/1 labels, gene map used)`` with the checks of the few-shot loader."""
    from ..datasets.cells import CellsFormatError, read_cells
    from ..datasets.sc_drug_response import load_sc_drug_response, read_gene_names

    if data.name.endswith(".h5ad"):
        try:
            backed = read_cells(data, backed=True)
        except CellsFormatError as error:  # corrupt or not an h5ad
            raise UserError(str(error)) from None
        genes, layers = [str(g) for g in backed.var_names], list(backed.layers)
        backed.file.close()
        if layer is not None and layer not in layers:
            raise UserError(f"{data}: no layer {layer!r} (layers: {layers})")
    else:
        if layer is not None:
            raise UserError("--layer is for .h5ad input")
        genes = read_gene_names(data, label_column)
    map_path = _gene_map_path(genes, data, gene_map)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expression, labels = load_sc_drug_response(
                data, label_column, entrez_map=map_path, layer=layer, duplicate_genes=duplicate_genes
            )
    except ValueError as error:
        raise UserError(str(error)) from None
    return expression, labels, map_path


def cmd_adapt(args: argparse.Namespace) -> int:
    """Few-shot adaptation of a MetaSCDrug checkpoint to one single-cell dataset and drug: LoRA on the cell
    encoder and a trainable classifier (as `txformers drug fewshot`), trained on K labelled cells per class
    drawn with --seed, then merged into the weights. Writes OUT/ (a checkpoint that loads with
    from_pretrained and the processor, and with the "drug-response" pipeline) and OUT/adaptation.json: the
    cells used as shots, and AUROC, AP, accuracy and F1 on all other cells for the adapted model, the model
    before adaptation and logistic regression on the same shots."""
    import numpy as np
    import torch

    from ..models.metascdrug import GenePanelOverlapError, add_pipeline_to_checkpoint
    from ..tasks.drug_response.fewshot import (
        adapt_lora,
        check_labels,
        classification_metrics,
        logistic_regression_predict,
        sample_shots,
    )

    data, model_dir, out = _data_path(args.data), _model_dir(args.model), Path(args.out)
    if out.resolve() == model_dir.resolve():
        raise UserError(f"--out {out} is the --model folder; the adapted checkpoint goes to a new folder")
    # a folder, new unless --overwrite, outside the model; locked until the command ends (issue 17 item 5)
    check_output_folder(out, [model_dir], args.overwrite, what="files (written into it)")
    for name, value, low in (("--steps", args.steps, 1), ("--lora-r", args.lora_r, 1)):
        if value < low:
            raise UserError(f"{name} must be at least {low}, got {value}")
    if args.lr <= 0:
        raise UserError(f"--lr must be positive, got {args.lr}")
    drug = _resolve_drug(args.drug, data, args.smiles_table, args.duplicate_drugs)
    expression, labels, map_path = _read_labelled(
        data, args.label_column, args.layer, args.gene_map, args.duplicate_genes
    )
    try:
        label_array = check_labels(labels.to_numpy(), args.shots)
    except ValueError as error:
        raise UserError(f"{data}: {error}") from None

    model, processor = _load(model_dir)
    try:
        encoded = processor.encode_cells(expression)
        drug_inputs = processor.encode_drugs(drug["smiles"])
    except (GenePanelOverlapError, ValueError) as error:
        raise _fail(error, data) from None
    coverage = float(encoded["coverage"])
    inputs = {"expression": encoded["expression"], "missing_mask": encoded["missing_mask"]}
    support, evaluation = sample_shots(label_array, args.shots, args.seed)
    with torch.no_grad():
        drug_embeds = model.metascdrug.drug_encoder(**drug_inputs)
        before = torch.sigmoid(model(**inputs, drug_embeds=drug_embeds).sensitive_logit).numpy()
    print(f"adapting {model_dir} on {2 * args.shots} cells of {data} ({args.steps} LoRA steps) ...", file=sys.stderr)
    peft_model = adapt_lora(
        model,
        inputs,
        drug_embeds,
        label_array,
        support,
        steps=args.steps,
        lr=args.lr,
        r=args.lora_r,
        alpha=args.lora_alpha,
        seed=args.seed,
    )
    adapted = peft_model.merge_and_unload().eval()
    with torch.no_grad():
        after = torch.sigmoid(adapted(**inputs, drug_embeds=drug_embeds).sensitive_logit).numpy()
    # issue 17 item 11: training that diverged (too high --lr) leaves NaN weights; no such checkpoint is written
    diverged = [
        name for name, value in adapted.state_dict().items() if value.is_floating_point() and not value.isfinite().all()
    ]
    if diverged:
        raise UserError(
            f"the adaptation diverged: {len(diverged)} weight tensor(s) of the adapted model are NaN or infinite "
            f"({', '.join(diverged[:3])}); nothing was written (try a lower --lr than {args.lr:g} or fewer --steps)"
        )
    check_finite(np.concatenate([before, after]), "predictions", model_dir)
    baseline = logistic_regression_predict(expression.to_numpy(np.float32), label_array, support, args.seed)
    cell_ids = np.asarray(expression.index.astype(str))
    truth = label_array[evaluation]
    report = {
        "command": _command_line(),
        "data": str(data),
        "label_column": args.label_column,
        "drug": drug,
        "base_model": str(model_dir),
        "shots": args.shots,
        "seed": args.seed,
        "shot_cells": {
            "sensitive": cell_ids[support][label_array[support] == 1].tolist(),
            "resistant": cell_ids[support][label_array[support] == 0].tolist(),
        },
        "n_cells": int(len(label_array)),
        "n_evaluated": int(len(evaluation)),
        "panel_coverage": coverage,
        "gene_map": str(map_path) if map_path else None,
        "metrics": classification_metrics(truth, after[evaluation]),
        "before_adaptation": classification_metrics(truth, before[evaluation]),
        "logistic_regression": classification_metrics(truth, baseline[evaluation]),
        "settings": {
            "steps": args.steps,
            "lr": args.lr,
            "lora_r": args.lora_r,
            "lora_alpha": args.lora_alpha,
            "lora_targets": "cell encoder Linear layers, merged; classifier trained",
        },
    }
    from ..io import atomic_folder

    with atomic_folder(out, merge=True) as folder:  # a failed or killed write leaves no half-written checkpoint
        adapted.save_pretrained(folder)
        processor.save_pretrained(folder)
        add_pipeline_to_checkpoint(folder)
        (folder / ADAPTATION_FILE).write_text(json.dumps(report, indent=1) + "\n")

    print(
        f"{len(label_array)} cells of {data}; shots: {args.shots} per class (seed {args.seed}); "
        f"evaluated on the other {len(evaluation)}; panel coverage {coverage:.0%}"
    )
    for name, key in (
        ("adapted", "metrics"),
        ("before adaptation", "before_adaptation"),
        ("logistic regression", "logistic_regression"),
    ):
        scores = report[key]
        print(
            f"  {name:<20} AUROC {scores['auroc']:.3f}  AP {scores['ap']:.3f}  accuracy {scores['accuracy']:.3f}  "
            f"F1 {scores['f1']:.3f}"
        )
    print(f"wrote the adapted checkpoint to {out} and {out / ADAPTATION_FILE}")
    return 0


# ---------------------------------------------------------------------------------------------- genes
def cmd_genes(args: argparse.Namespace) -> int:
    """Critical genes of the drug response: integrated gradients of the sensitive logit over the panel genes
    (txformers.tasks.drug_response.critical_genes), ranked by mean |attribution| over cells, with their
    stability over --seeds (bootstrap samples of the cells, or with --shots a few-shot adaptation per seed on K
    labelled cells per class). Writes PREFIX.tsv (every panel gene: attribution, sign, sd over seeds, top
    frequency, rank), PREFIX.png (the top genes) and PREFIX.json (stability, completeness, settings)."""
    data, model_dir, out = _data_path(args.data), _model_dir(args.model), Path(args.out)
    outputs = {suffix: out.with_name(out.name + "." + suffix) for suffix in ("tsv", "png", "json")}
    check_outputs([data], list(outputs.values()), args.overwrite)

    from ..models.metascdrug import GenePanelOverlapError  # after the output checks: a refused run stays fast
    from ..plotting import plot_critical_genes
    from ..tasks.drug_response.critical_genes import critical_genes

    for name, value in (("--top", args.top), ("--seeds", args.seeds), ("--n-steps", args.n_steps)):
        if value < 1:
            raise UserError(f"{name} must be at least 1, got {value}")
    if importlib.util.find_spec("captum") is None:
        raise UserError("critical genes need captum: pip install captum")
    drug = _resolve_drug(args.drug, data, args.smiles_table, args.duplicate_drugs)
    labels = None
    if args.shots is not None:
        expression, labels, map_path = _read_labelled(
            data, args.label_column, args.layer, args.gene_map, args.duplicate_genes
        )
        labels = labels.to_numpy()
    else:
        import pandas as pd

        adata, matrix, genes, map_path = _read_cells(
            data, args.layer, args.gene_map, args.label_column, args.duplicate_genes
        )
        keep = [i for i, gene in enumerate(genes) if gene]
        matrix = matrix[:, keep]
        matrix = matrix.toarray() if hasattr(matrix, "toarray") else matrix
        expression = pd.DataFrame(matrix, index=adata.obs_names, columns=[genes[i] for i in keep])
    _quiet()
    print(f"integrated gradients over {args.seeds} seeds ...", file=sys.stderr)
    try:
        result = critical_genes(
            model_dir,
            expression,
            drug["smiles"],
            labels,
            shots=args.shots,
            seeds=args.seeds,
            top=args.top,
            n_steps=args.n_steps,
            max_cells=args.max_cells,
        )
    except (GenePanelOverlapError, ValueError) as error:
        raise _fail(error, data) from None
    check_finite(result["ranking"][["mean_abs_attribution", "mean_attribution"]], "gene attributions", model_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(outputs["tsv"]) as temporary:
        result["ranking"].to_csv(temporary, sep="\t", index=False, float_format="%.6g")
    plot_critical_genes(
        result, outputs["png"], n_genes=min(args.top, 30), title=f"{data.name}: {drug['name'] or drug['smiles']}"
    )
    summary = {key: value for key, value in result.items() if key != "ranking"}
    summary.update(command=_command_line(), data=str(data), drug=drug, gene_map=str(map_path) if map_path else None)
    summary["top_genes"] = result["ranking"]["gene"].head(args.top).tolist()
    atomic_write_text(outputs["json"], json.dumps(summary, indent=1, default=float) + "\n")
    stability = result["stability"]
    print(f"{len(expression)} cells of {data}; drug {drug['name'] or drug['smiles']}; model {model_dir}")
    print(
        f"top-{args.top} genes over {args.seeds} seeds: Jaccard {stability['jaccard_top']:.2f}, "
        f"Spearman {stability['spearman']:.2f}"
    )
    top = result["ranking"].head(10)
    print("  " + ", ".join(f"{row.gene} ({'+' if row.mean_attribution > 0 else '-'})" for row in top.itertuples()))
    print("wrote " + ", ".join(str(path) for path in outputs.values()))
    return 0


# ---------------------------------------------------------------------------------------------- fewshot
def cmd_fewshot(args: argparse.Namespace) -> int:
    """The few-shot benchmark of `python -m txformers.training.fewshot`: for each seed, LoRA adaptation on K
    labelled cells per class, scored on the other cells (AUROC, AP, accuracy, F1; mean and sd over seeds),
    next to logistic regression on the same shots; several --model NAME=DIR, --data files and --shots values
    give a comparison table."""
    import contextlib
    import shlex

    from ..io import output_lock
    from ..tasks.drug_response.fewshot import run_benchmark

    if args.json:  # never over an input (a --data file), never half-written, one writer at a time
        check_outputs(args.data, [args.json], args.overwrite)
    for data in args.data:
        _data_path(data)
    argv: list[str] = []  # the options as `python -m txformers.training.fewshot` takes them: the recorded command
    for action in args.fewshot_actions:
        value = getattr(args, action.dest)
        if value is None or value is False:
            continue
        option = action.option_strings[-1]
        if value is True:
            argv.append(option)
        elif isinstance(value, list):
            argv += [option, *map(str, value)]
        else:
            argv += [option, str(value)]
    _quiet()
    try:
        with output_lock(args.json) if args.json else contextlib.nullcontext():
            run_benchmark(args, command="python -m txformers.training.fewshot " + shlex.join(argv))
    except ValueError as error:  # bad input: a clear message and exit status 2
        raise UserError(str(error)) from None
    return 0


# ---------------------------------------------------------------------------------------------- parser
def _add_common(parser: argparse.ArgumentParser, *, labels_required: bool = False) -> None:
    parser.add_argument("data", help="cells: .h5ad or SCAD-style .tsv/.csv")
    parser.add_argument("--drug", help="drug name (in the SMILES tables) or SMILES; default: from a SCAD file name")
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="MetaSCDrug checkpoint folder")
    parser.add_argument(
        "--label-column",
        default="response",
        help="obs / table column of labels (1 or 'sensitive', 0 or 'resistant')"
        + ("" if labels_required else "; optional"),
    )
    parser.add_argument("--layer", help="AnnData layer to read instead of X")
    parser.add_argument("--gene-map", help="Entrez-to-symbol table (symbol and NCBI/Entrez id columns) for Entrez ids")
    parser.add_argument(
        "--smiles-table",
        nargs="+",
        default=None,
        help="CSV(s) of drug names and SMILES (default: the GDSC tables next to the data)",
    )
    parser.add_argument(
        "--duplicate-drugs",
        choices=("error", "first"),
        default="error",
        help="a drug name the SMILES tables give different SMILES: an error (default) or the first table's",
    )
    parser.add_argument(
        "--duplicate-genes",
        choices=("error", "sum", "first"),
        default="error",
        help="a gene column named twice in a table: an error (default), or sum / keep the first of them",
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    from ..tasks.drug_response.options import add_benchmark_arguments

    formatter = argparse.RawDescriptionHelpFormatter
    drug = commands.add_parser(
        "drug",
        help="MetaSCDrug drug response: predict, few-shot adapt, critical genes, few-shot benchmark",
        description=__doc__,
        formatter_class=formatter,
    )
    sub = drug.add_subparsers(dest="drug_command", required=True, metavar="command")

    predict = sub.add_parser(
        "predict",
        help="per-cell probability of sensitivity to a drug",
        description=inspect.cleandoc(cmd_predict.__doc__),
        formatter_class=formatter,
        epilog="examples:\n"
        "  txformers drug predict cells.h5ad --drug PLX-4720 --out outputs/plx4720\n"
        "  txformers drug predict Target_expr_resp_z.Gefitinib_tp4k.tsv --out outputs/gefitinib\n"
        "  txformers drug predict cells.h5ad --drug 'COCCOc1cc2ncnc(Nc3cccc(C#C)c3)c2cc1OCCOC' --name erlotinib "
        "--model models/erlotinib-k5 --out outputs/erlotinib\n",
    )
    _add_common(predict)
    predict.add_argument("--out", required=True, help="output prefix: PREFIX.h5ad and PREFIX.csv")
    predict.add_argument("--name", help="column prefix (default: the drug name, or 'drug' for a SMILES)")
    predict.add_argument("--threshold", type=float, default=0.5, help="probability from which a cell is sensitive")
    predict.add_argument("--batch-size", type=int, default=256, help="cells per forward pass")
    predict.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    predict.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    predict.set_defaults(handler=cmd_predict)

    adapt = sub.add_parser(
        "adapt",
        help="few-shot LoRA adaptation to labelled cells; saves an adapted checkpoint",
        description=inspect.cleandoc(cmd_adapt.__doc__),
        formatter_class=formatter,
        epilog="examples:\n"
        "  txformers drug adapt cells.tsv --drug Gefitinib --label-column response --shots 5 "
        "--out models/gefitinib-k5\n"
        "  txformers drug predict other_cells.h5ad --drug Gefitinib --model models/gefitinib-k5 --out outputs/other\n",
    )
    _add_common(adapt, labels_required=True)
    adapt.add_argument("--shots", type=int, required=True, help="K labelled cells per class to adapt on")
    adapt.add_argument("--seed", type=int, default=0, help="seed of the shot draw and of training")
    adapt.add_argument("--out", required=True, help="output folder of the adapted checkpoint (must not exist)")
    adapt.add_argument("--steps", type=int, default=50, help="LoRA training steps")
    adapt.add_argument("--lr", type=float, default=3e-3)
    adapt.add_argument("--lora-r", type=int, default=8)
    adapt.add_argument("--lora-alpha", type=int, default=16)
    adapt.add_argument("--overwrite", action="store_true", help="write into an existing --out folder")
    adapt.set_defaults(handler=cmd_adapt)

    genes = sub.add_parser(
        "genes",
        help="critical genes (integrated gradients) of the drug response, with stability",
        description=inspect.cleandoc(cmd_genes.__doc__),
        formatter_class=formatter,
        epilog="examples:\n"
        "  txformers drug genes Target_expr_resp_z.PLX4720_tp4k.tsv --out outputs/plx4720_genes --top 30\n"
        "  txformers drug genes cells.h5ad --drug Gefitinib --shots 5 --seeds 5 --out outputs/gefitinib_genes\n",
    )
    _add_common(genes)
    genes.add_argument("--out", required=True, help="output prefix: PREFIX.tsv, PREFIX.png, PREFIX.json")
    genes.add_argument("--top", type=int, default=50, help="size of the top-gene sets compared across seeds")
    genes.add_argument("--seeds", type=int, default=5, help="bootstrap samples (or few-shot adaptations with --shots)")
    genes.add_argument("--shots", type=int, help="adapt per seed on K labelled cells per class (needs --label-column)")
    genes.add_argument("--n-steps", type=int, default=32, help="integrated-gradients steps")
    genes.add_argument("--max-cells", type=int, default=256, help="cells attributed per seed")
    genes.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    genes.set_defaults(handler=cmd_genes)

    fewshot = sub.add_parser(
        "fewshot",
        help="few-shot benchmark over seeds (LoRA vs logistic regression)",
        description=inspect.cleandoc(cmd_fewshot.__doc__),
        formatter_class=formatter,
        epilog="examples:\n"
        "  txformers drug fewshot --model checkpoints/metascdrug-meta --data Target_expr_resp_z.PLX4720_tp4k.tsv "
        "--shots 3 --seeds 10 --json plx4720_k3.json\n"
        "  txformers drug fewshot --model meta=checkpoints/metascdrug-meta nometa=checkpoints/metascdrug-nometa "
        "--data a.tsv b.tsv --shots 3 5 --json comparison.json\n",
    )
    actions = add_benchmark_arguments(fewshot)
    fewshot.add_argument("--overwrite", action="store_true", help="replace an existing --json")
    fewshot.set_defaults(handler=cmd_fewshot, fewshot_actions=actions)
