# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Splice-site fine-tuning and evaluation: window classification (neither / donor / acceptor).

One command trains and scores, on the same splits, (a) SpliceBERT fine-tuned from a pretrained
checkpoint, (b) the same architecture from random weights, and (c) logistic regression on the
one-hot +-60 nt around the candidate dinucleotide, and writes one results JSON:

    python -m txformers.training.finetune_splice \\
        --data-dir ../shared/data/splice/ensemblesplice_600nt/homo_sapiens \\
        --pretrained checkpoints/splicebert-small-pretrained --output-dir runs/splice-sites

Model selection uses the validation split cut from Train (never Test): the step with the best
validation AUROC (mean of donor and acceptor) is kept. Test metrics per site type: AUROC, AP,
accuracy and F1 of the positive-vs-decoy decision (P(site type) > 0.5). `--lora` fine-tunes LoRA
adapters plus the head instead of all weights. The fine-tuned model (a) is saved in
``OUTPUT/model`` with ``id2label`` and ``window_size`` in its config.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..models.splicebert import SpliceBertConfig, SpliceBertForSequenceClassification
from ..models.splicebert.pipeline_splicebert import SPLICE_SITE_TASK, add_pipelines_to_checkpoint
from ..tasks.splicing.sites import ID2LABEL, logistic_baseline, site_metrics
from ..tokenizers.tokenization_nucleotide import NucleotideTokenizer
from .run_dir import add_run_dir_arguments, claim_run_dir, data_paths, run_identity


def load_splits(data_dir: str, crop: int, validation_fraction: float, seed: int, cache_dir: str | None) -> dict:
    """Train / validation / test as dicts of numpy arrays (sequence, label, site_type name)."""
    from ..datasets.splice_sites import SpliceSitesBuilder

    builder = SpliceSitesBuilder(
        data_dir=data_dir, crop=crop, validation_fraction=validation_fraction, seed=seed, cache_dir=cache_dir
    )
    builder.download_and_prepare()
    splits = builder.as_dataset()
    site_names = splits["train"].features["site_type"].names
    return {
        name: {
            "sequence": np.array(split["sequence"]),
            "label": np.array(split["label"]),
            "site_type": np.array([site_names[i] for i in split["site_type"]]),
        }
        for name, split in splits.items()
    }


# ----------------------------------------------------------------------------- fine-tuning (a, b)
@torch.inference_mode()
def predict(model, input_ids: torch.Tensor, batch_size: int, device) -> np.ndarray:
    model.eval()
    outputs = []
    for start in range(0, len(input_ids), batch_size):
        batch = input_ids[start : start + batch_size].to(device)
        outputs.append(model(input_ids=batch).logits.float().softmax(-1).cpu())
    return torch.cat(outputs).numpy()


def finetune(
    model: SpliceBertForSequenceClassification,
    splits: dict,
    tokenizer: NucleotideTokenizer,
    args: argparse.Namespace,
    name: str,
) -> tuple[SpliceBertForSequenceClassification, dict]:
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    accelerator = Accelerator(cpu=args.cpu, mixed_precision=args.mixed_precision)
    set_seed(args.seed)
    encoded = {k: tokenizer(list(v["sequence"]), return_tensors="pt")["input_ids"] for k, v in splits.items()}
    labels = torch.as_tensor(splits["train"]["label"])
    if args.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=8,
                lora_alpha=16,
                lora_dropout=0.05,
                modules_to_save=["classifier"],
                target_modules=["query", "key", "value", "dense"],
            ),
        )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    steps = args.max_steps or args.epochs * (len(labels) // args.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(args.warmup_steps, 1)) * max(0.0, 1 - s / steps)
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    generator = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(labels), generator=generator)
    best = {"validation_auroc": -1.0, "step": 0}
    best_state = None
    history = []
    position, started = 0, time.perf_counter()
    for step in range(1, steps + 1):
        model.train()
        if position + args.batch_size > len(order):
            order, position = torch.randperm(len(labels), generator=generator), 0
        rows = order[position : position + args.batch_size]
        position += args.batch_size
        loss = model(
            input_ids=encoded["train"][rows].to(accelerator.device), labels=labels[rows].to(accelerator.device)
        ).loss
        accelerator.backward(loss)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        if step % args.eval_every == 0 or step == steps:
            probabilities = predict(model, encoded["validation"], args.eval_batch_size, accelerator.device)
            metrics = site_metrics(probabilities, splits["validation"])
            auroc = float(np.mean([m["auroc"] for m in metrics.values()]))
            history.append({"step": step, "loss": loss.item(), "validation_auroc": auroc})
            accelerator.print(f"[{name}] step {step}/{steps} loss {loss.item():.4f} validation AUROC {auroc:.4f}")
            if auroc > best["validation_auroc"]:
                best = {"validation_auroc": auroc, "step": step, "validation": metrics}
                best_state = copy.deepcopy(accelerator.unwrap_model(model).state_dict())
    model = accelerator.unwrap_model(model)
    model.load_state_dict(best_state)
    if args.lora:
        model = model.merge_and_unload()
    probabilities = predict(model, encoded["test"], args.eval_batch_size, accelerator.device)
    result = {
        "best": best,
        "history": history,
        "test": site_metrics(probabilities, splits["test"]),
        "train_seconds": time.perf_counter() - started,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return model, result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="ensemblesplice/Spliceator layout folder of one species")
    parser.add_argument("--pretrained", required=True, help="pretrained SpliceBERT (txformers or original folder)")
    parser.add_argument("--output-dir", required=True)
    add_run_dir_arguments(parser, resume=False)
    parser.add_argument("--crop", type=int, default=400, help="window length centred on the candidate GT/AG")
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=0, help="overrides --epochs when > 0")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--limit-train", type=int, default=0, help="use only this many training windows (0: all)")
    parser.add_argument(
        "--pooling",
        choices=["center", "mean", "cls"],
        default="center",
        help="window summary fed to the head: the candidate's nucleotide, the mean over the window, [CLS]",
    )
    parser.add_argument("--lora", action="store_true", help="LoRA adapters + head instead of full fine-tuning")
    parser.add_argument("--skip-scratch", action="store_true", help="do not train the no-pretraining model (b)")
    parser.add_argument(
        "--init",
        choices=["pretrained", "random"],
        default="pretrained",
        help="random: train only (b), the same architecture from random weights (seed --seed), saved in OUTPUT/model "
        "(the random-init twin of txformers evaluate)",
    )
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no")
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    output = Path(args.output_dir)
    claim_run_dir(
        output, run_identity("finetune_splice", args, data_paths(args, "data_dir", "pretrained")), args.overwrite
    )
    splits = load_splits(args.data_dir, args.crop, args.validation_fraction, args.seed, args.cache_dir)
    if args.limit_train:
        keep = np.random.default_rng(args.seed).permutation(len(splits["train"]["label"]))[: args.limit_train]
        splits["train"] = {k: v[keep] for k, v in splits["train"].items()}
    tokenizer = NucleotideTokenizer()
    results: dict = {
        "command": "python -m txformers.training.finetune_splice " + " ".join(sys.argv[1:] if argv is None else argv),
        "args": vars(args),
        "splits": {k: int(len(v["label"])) for k, v in splits.items()},
        "window": {"length": args.crop, "dinucleotide_index": args.crop // 2 - 1, "labels": ID2LABEL},
    }
    if args.init == "pretrained":  # (c) once, beside the pretrained run
        results["logistic_regression_onehot_60nt"] = {"test": logistic_baseline(splits, seed=args.seed)}
        print("logistic regression:", json.dumps(results["logistic_regression_onehot_60nt"]["test"]))

    head = dict(
        num_labels=3,
        id2label=ID2LABEL,
        label2id={v: k for k, v in ID2LABEL.items()},
        classifier_pooling=args.pooling,
        window_size=args.crop,
    )
    if args.init == "random":  # the random-init twin only: the architecture of the pretrained config, no weights
        torch.manual_seed(args.seed)
        config = SpliceBertConfig(**{**SpliceBertConfig.from_pretrained(args.pretrained).to_dict(), **head})
        model, results["scratch"] = finetune(
            SpliceBertForSequenceClassification(config), splits, tokenizer, args, "scratch"
        )
    else:
        pretrained = SpliceBertForSequenceClassification.from_pretrained(args.pretrained, **head)
        model, results["pretrained"] = finetune(pretrained, splits, tokenizer, args, "pretrained")
    model.config.custom_pipelines = {}  # not the masked-LM pipelines of the pretrained checkpoint
    model.save_pretrained(output / "model")
    tokenizer.save_pretrained(output / "model")
    add_pipelines_to_checkpoint(output / "model", SPLICE_SITE_TASK)
    if args.init == "pretrained" and not args.skip_scratch:
        torch.manual_seed(args.seed)
        config = SpliceBertConfig(**{**pretrained.config.to_dict(), **head})
        scratch = SpliceBertForSequenceClassification(config)
        _, results["scratch"] = finetune(scratch, splits, tokenizer, args, "scratch")
    (output / "results.json").write_text(json.dumps(results, indent=2, default=str))
    for name in ("pretrained", "scratch", "logistic_regression_onehot_60nt"):
        if name in results:
            test = results[name]["test"]
            print(
                f"{name:<34}"
                + "  ".join(
                    f"{site} AUROC {m['auroc']:.4f} AP {m['ap']:.4f} acc {m['accuracy']:.4f}"
                    for site, m in test.items()
                )
            )
    return results


if __name__ == "__main__":
    main()
