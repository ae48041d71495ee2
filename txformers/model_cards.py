# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Model cards rendered from saved results files (numbers are never typed by hand).

    python -m txformers.model_cards splicebert-mlm runs/mlm/eval.json --name splicebert-small-pretrained \\
        --out model_cards/splicebert-small-pretrained.md

The card is a Hugging Face model card (YAML metadata validated by `huggingface_hub.ModelCardData`,
with a `model-index` of the measured results) followed by a description, the command that
produced the numbers, and the limitations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData


def splicebert_mlm_card(results: dict, name: str, data_description: str) -> ModelCard:
    """Card of a SpliceBERT masked-LM checkpoint from the ``eval.json`` of `pretrain_mlm`."""
    evaluation = results["eval"]
    args = results.get("args", {})
    metrics = [
        EvalResult(task_type="fill-mask", dataset_type="ensemblesplice-heldout", dataset_name=data_description,
                   metric_type=metric, metric_name=label, metric_value=round(float(evaluation[metric]), 4))
        for metric, label in (("accuracy", "masked-nucleotide accuracy"),
                              ("balanced_accuracy", "masked-nucleotide balanced accuracy"))
    ]  # fmt: skip
    data = ModelCardData(
        library_name="transformers", license="bsd-3-clause", pipeline_tag="fill-mask",
        tags=["biology", "rna", "splicing", "pre-mrna", "txformers", "splicebert"],
        model_name=name, eval_results=metrics,
    )  # fmt: skip
    command = results.get("command") or _pretrain_command(args)
    content = f"""---
{data.to_yaml()}
---

# {name}

A small SpliceBERT (masked language model over single nucleotides of pre-mRNA) pretrained by
txformers on real human pre-mRNA windows. It is the bundled default of `txformers embed` and the
starting point of the bundled splice-site model. It is **not** the published SpliceBERT (19.7 M
parameters, 2 M sequences of 72 vertebrates): load those weights with
`SpliceBertForMaskedLM.from_pretrained("path/to/SpliceBERT.1024nt")`.

## Load

```python
from transformers import AutoModelForMaskedLM, AutoTokenizer
model = AutoModelForMaskedLM.from_pretrained("{name}", trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained("{name}", trust_remote_code=True)   # raw DNA/RNA, any case
```

## Architecture and training

- {args.get("preset", "?")} preset: see `config.json` ({_describe(results)}); learned absolute
  positions for up to 1024 nt; SpliceBERT vocabulary `[PAD] [UNK] [CLS] [SEP] [MASK] N A C G T`.
- Data: {data_description}.
- Recipe: 15 % of nucleotides selected, 80/10/10 mask/random/keep; fragments of
  {args.get("min_length", "?")}-{args.get("max_length", "?")} nt; AdamW lr {args.get("lr", "?")},
  {results.get("steps", "?")} steps of batch {args.get("batch_size", "?")}; attention dropout
  {args.get("attention_dropout", "?")}; on CPU (2 cores).

## Evaluation (held-out windows, never trained on)

| metric | value |
|---|---|
| masked-nucleotide accuracy | {evaluation["accuracy"]:.4f} |
| masked-nucleotide balanced accuracy (mean recall over A/C/G/T) | {evaluation["balanced_accuracy"]:.4f} |
| masked-token cross-entropy (nats) | {evaluation["loss"]:.4f} |
| masked tokens scored | {evaluation["masked_tokens"]} |

For scale: predicting the most frequent nucleotide gives a balanced accuracy of 0.25; the
published SpliceBERT reports 0.638 after far more data and compute.

Reproduce:

```bash
{command}
```

## Limitations

Trained briefly, on CPU, on a few tens of thousands of human windows: its representations are
weak. Use it to try the tools, not for biology; fine-tune or load the published weights for work.
"""
    return ModelCard(content)


def _describe(results: dict) -> str:
    config = results.get("config") or {}
    if not config:
        return "parameters in config.json"
    return (f"{config['num_hidden_layers']} layers, hidden {config['hidden_size']}, "
            f"{config['num_attention_heads']} heads, FFN {config['intermediate_size']}")  # fmt: skip


def _pretrain_command(args: dict) -> str:
    flags = []
    for key, value in args.items():
        if value in (None, False, [], "") or key in ("resume", "stop_after"):
            continue
        flag = "--" + key.replace("_", "-")
        flags.append(flag if value is True else f"{flag} {' '.join(map(str, value)) if isinstance(value, list) else value}")
    return "python -m txformers.training.pretrain_mlm " + " ".join(flags)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["splicebert-mlm"])
    parser.add_argument("results", help="saved results file (eval.json of the run)")
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", default="human pre-mRNA windows", help="one-line description of the training data")
    parser.add_argument("--config", help="config.json of the checkpoint, for the architecture line")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    results = json.loads(Path(args.results).read_text())
    if args.config:
        results["config"] = json.loads(Path(args.config).read_text())
    card = splicebert_mlm_card(results, args.name, args.data)
    ModelCard(str(card))  # parses the metadata again: fails on invalid YAML
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(str(card))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
