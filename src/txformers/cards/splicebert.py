# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Values of the SpliceBERT cards: the masked-LM checkpoint and the splice-site classifier.

Templates: ``templates/splicebert-mlm.md.jinja`` and ``templates/splice-sites.md.jinja``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from .evaluation_section import recorded_section
from .formatting import megabytes, millions, paths_note, recorded_command
from .paths import portable_text
from .results import ResultsError, checkpoint_config, checkpoint_weights, get
from .template import metric, render_template

# ----------------------------------------------------------------------------- splicebert-mlm
MLM_TAGS = ["biology", "rna", "splicing", "pre-mrna", "txformers", "splicebert"]


def _mlm_data_description(results: dict, data: str | None) -> str:
    """``data``, else the ``# corpus: ...`` comment of the recorded command, else a generic description."""
    command = results.get("command") or ""
    comment = next((line[1:].strip() for line in command.splitlines() if line.startswith("#")), "")
    if data:
        return data
    if comment.startswith("corpus:"):
        return comment[len("corpus:") :].strip() or "pre-mRNA sequences"
    return comment or "pre-mRNA sequences"


def _mlm_architecture(config: dict, checkpoint: Path | None, args: dict) -> dict[str, str]:
    architecture = (
        f"{config['num_hidden_layers']} layers, hidden {config['hidden_size']}, "
        f"{config['num_attention_heads']} heads, FFN {config['intermediate_size']}"
        if config
        else "parameters in config.json"
    )
    weights = checkpoint_weights(checkpoint)
    size = f"; {millions(weights[0])} parameters, {megabytes(weights[1])} safetensors" if weights else ""
    positions = config.get("max_position_embeddings", args.get("max_position_embeddings"))
    return {
        "architecture": architecture,
        "size": size,
        "positions": f"learned absolute positions for up to {positions - 2} nt"
        if positions
        else "learned absolute positions",
    }


def _mlm_recipe(results: dict, args: dict) -> dict[str, Any]:
    if args.get("stage") == "variable":
        fragments = f"fragments of {args.get('min_length', '?')}-{args.get('max_length', '?')} nt"
    else:
        fragments = f"fixed fragments of {args.get('fixed_length', '?')} nt"
    return {
        "preset": args.get("preset", "?"),
        "mask_percent": f"{100 * args.get('mlm_probability', 0.15):.0f}",
        "fragments": fragments,
        "lr": args.get("lr", "?"),
        "steps": results.get("steps", "?"),
        "batch_size": args.get("batch_size", "?"),
        "attention_dropout": args.get("attention_dropout", "?"),
        "cpu": args.get("cpu"),
    }


def splicebert_mlm_card(
    results: dict,
    name: str,
    *,
    checkpoint: Path | None = None,
    data: str | None = None,
    provenance: str | None = None,
    results_file: str | None = None,
    **_: Any,
) -> ModelCard:
    """Card of a SpliceBERT masked-LM checkpoint from the ``eval.json`` of `txformers.training.pretrain_mlm`."""
    evaluation = get(results, "eval")
    args = results.get("args", {})
    for key in ("accuracy", "balanced_accuracy", "loss", "masked_tokens"):
        get(results, "eval", key)
    dataset_name = "held-out pre-mRNA windows"
    if "eval_max_sequences" in args:
        dataset_name += f" ({args['eval_max_sequences']} at most)"
    metrics = [
        metric(
            "fill-mask", "masked nucleotide prediction", "premrna-heldout", dataset_name, key, label, evaluation[key]
        )
        for key, label in (
            ("accuracy", "masked-nucleotide accuracy"),
            ("balanced_accuracy", "masked-nucleotide balanced accuracy"),
        )
    ]
    card_data = ModelCardData(
        library_name="transformers",
        license="bsd-3-clause",
        pipeline_tag="fill-mask",
        tags=MLM_TAGS,
        model_name=name,
        eval_results=metrics,
    )
    config = checkpoint_config(checkpoint) or results.get("config") or {}
    return render_template(
        "splicebert-mlm",
        card_data,
        name=name,
        **_mlm_architecture(config, checkpoint, args),
        **_mlm_recipe(results, args),
        data_description=_mlm_data_description(results, data),
        results_file=results_file or "eval.json",
        paths_note=paths_note(results),
        accuracy=f"{evaluation['accuracy']:.4f}",
        balanced_accuracy=f"{evaluation['balanced_accuracy']:.4f}",
        loss=f"{evaluation['loss']:.4f}",
        masked_tokens=evaluation["masked_tokens"],
        command=recorded_command(results, "txformers.training.pretrain_mlm", args, skip=("resume", "stop_after")),
        provenance=provenance,
        evaluation_markdown=recorded_section(checkpoint, name),
    )


# ----------------------------------------------------------------------------- splice-sites
SPLICE_SITES_TAGS = ["biology", "rna", "splicing", "splice-sites", "txformers", "splicebert"]
SITE_METRICS = {
    "auroc": ("roc_auc", "AUROC"),
    "ap": ("average_precision", "AP"),
    "accuracy": ("accuracy", "accuracy"),
    "f1": ("f1", "F1"),
}


def _splice_sites_table(results: dict, sites: list[str]) -> str:
    """Test metrics of the fine-tuned model, the model from random weights (if run) and the baseline."""
    rows = [("SpliceBERT fine-tuned from the pretrained checkpoint", results["pretrained"]["test"])]
    if "scratch" in results:
        rows.append(("same architecture from random weights", results["scratch"]["test"]))
    rows.append(("logistic regression, one-hot +-60 nt", results["logistic_regression_onehot_60nt"]["test"]))
    header = "| model | " + " | ".join(f"{site} AUROC | {site} AP | {site} acc | {site} F1" for site in sites) + " |"
    table = [header, "|---|" + "---|" * 4 * len(sites)]
    for label, values in rows:
        cells = [f"{values[site][key]:.4f}" for site in sites for key in SITE_METRICS]
        table.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(table)


def _auroc_gains(test: dict, other: dict, sites: list[str]) -> tuple[str, bool]:
    """``donor AUROC +0.0019 and acceptor AUROC ...`` (``test`` minus ``other``), and whether any gain is < 0."""
    gains = {site: test[site]["auroc"] - other[site]["auroc"] for site in sites}
    return " and ".join(f"{site} AUROC {gains[site]:+.4f}" for site in sites), any(g < 0 for g in gains.values())


def _splice_sites_training(results: dict, args: dict) -> dict[str, Any]:
    splits, best = results["splits"], results["pretrained"].get("best", {})
    seconds = results["pretrained"].get("train_seconds")
    parameters = results["pretrained"].get("parameters")
    return {
        "validation_windows": f"{splits.get('validation', 0):,}",
        "test_windows": f"{splits.get('test', 0):,}",
        "train_windows": f"{splits.get('train', 0):,}",
        "best_auroc": f"{best.get('validation_auroc', float('nan')):.4f}",
        "best_step": best.get("step", "?"),
        "steps": f"{args['max_steps']} steps" if args.get("max_steps") else f"{args.get('epochs', '?')} epoch(s)",
        "batch_size": args.get("batch_size", "?"),
        "lr": args.get("lr", "?"),
        "warmup_steps": args.get("warmup_steps", "?"),
        "seed": args.get("seed", "?"),
        "parameters": f"{parameters:,}" if parameters else None,
        "minutes": f"{seconds / 60:.1f}" if seconds else None,
    }


def splice_sites_card(
    results: dict,
    name: str,
    *,
    checkpoint: Path | None = None,
    results_file: str | None = None,
    provenance: str | None = None,
    **_: Any,
) -> ModelCard:
    """Card of a splice-site window classifier from the ``results.json`` of `txformers.training.finetune_splice`."""
    where = results_file or "results.json"
    test = get(results, "pretrained", "test", where=where)
    baseline = get(results, "logistic_regression_onehot_60nt", "test", where=where)
    args = get(results, "args", where=where)
    get(results, "splits", where=where)
    window = get(results, "window", where=where)
    sites = [site for site in ("donor", "acceptor") if site in test]
    if not sites:
        raise ResultsError(f"{where} has no donor or acceptor test metrics under 'pretrained.test'")
    dataset_name = f"EnsembleSplice human Test windows ({window['length']} nt)"
    metrics = [
        metric(
            "text-classification",
            "splice-site window classification",
            "ensemblesplice",
            dataset_name,
            metric_type,
            f"{site} {label} (true sites vs decoys)",
            get(test, site, key, where=where),
            split="test",
        )
        for site in sites
        for key, (metric_type, label) in SITE_METRICS.items()
    ]
    card_data = ModelCardData(
        library_name="transformers",
        license="bsd-3-clause",
        pipeline_tag="text-classification",
        tags=SPLICE_SITES_TAGS,
        model_name=name,
        eval_results=metrics,
    )
    gain_vs_baseline, _ = _auroc_gains(test, baseline, sites)
    gain_vs_scratch, scratch_better = None, False
    if "scratch" in results:
        gain_vs_scratch, scratch_better = _auroc_gains(test, results["scratch"]["test"], sites)
    center = window["dinucleotide_index"]
    return render_template(
        "splice-sites",
        card_data,
        name=name,
        window=window["length"],
        repeats=window["length"] // 4,
        dinucleotide=f"{center}-{center + 1}",
        lora=args.get("lora"),
        pretrained=portable_text(str(args.get("pretrained", "?"))),
        **_splice_sites_training(results, args),
        results_file=where,
        paths_note=paths_note(results),
        table=_splice_sites_table(results, sites),
        gain_vs_baseline=gain_vs_baseline,
        gain_vs_scratch=gain_vs_scratch,
        pretraining_did_not_help=scratch_better,
        command=recorded_command(results, "txformers.training.finetune_splice", args, skip=("cache_dir",)),
        provenance=provenance,
        evaluation_markdown=recorded_section(checkpoint, name),
    )
