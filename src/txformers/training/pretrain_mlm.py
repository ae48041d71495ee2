# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Masked-LM pretraining of SpliceBERT with Accelerate (one CPU, one GPU or many).

SpliceBERT's recipe: 15 % of nucleotides chosen for prediction, of which 80 % become
``[MASK]``, 10 % a random nucleotide and 10 % stay; stage 1 on fixed 510-nt fragments, stage 2
on variable 64-1024-nt fragments (``--stage variable``, usually ``--init-from`` the stage-1
output); AdamW with linear warm-up and decay. The data stream is read lazily from FASTA or
text files (one sequence per line) and cut into fragments; each process reads its own shard.
Everything random (fragments, shuffling, masking) is a function of ``--seed`` and the step, so a
run resumed from ``save_state`` (``--resume``) continues to the same result as an unbroken run.

    accelerate launch --num_processes 2 --cpu -m txformers.training.pretrain_mlm \\
        --train-files data/*.fa --output-dir runs/mlm --max-steps 1000 --preset mini

Outputs in ``--output-dir``: ``checkpoint-<step>/`` (accelerate state), ``final/`` (a Hub-layout
checkpoint with tokenizer), ``metrics.jsonl`` (loss, accuracy and learning rate per log step)
and ``eval.json`` (held-out masked-nucleotide accuracy and balanced accuracy).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from ..io import atomic_folder, atomic_write_text
from ..models.splicebert import SpliceBertConfig, SpliceBertForMaskedLM
from ..tasks.splicing.mlm import evaluate_mlm, mask_tokens
from ..tokenizers.tokenization_nucleotide import NucleotideTokenizer
from .run_dir import (
    add_run_dir_arguments,
    check_run_dir,
    latest_checkpoint,
    run_identity,
    save_accelerate_state,
    start_run_dir,
    trim_metrics,
)

PRESETS = {
    # The published SpliceBERT shape (19.7 M parameters).
    "splicebert": dict(num_hidden_layers=6, hidden_size=512, num_attention_heads=16, intermediate_size=2048),
    # Small models that train on a laptop CPU.
    "mini": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=8, intermediate_size=1024),
    "small": dict(num_hidden_layers=4, hidden_size=128, num_attention_heads=4, intermediate_size=512),
    # For tests.
    "tiny": dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64),
}


# ----------------------------------------------------------------------------- data
def read_sequences(path: str | Path) -> Iterator[str]:
    """Sequences of a FASTA file (``>`` headers, wrapped lines) or of a text file with one per line."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        chunks: list[str] = []
        fasta = False
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                fasta = True
                if chunks:
                    yield "".join(chunks)
                chunks = []
            elif line and fasta:
                chunks.append(line)
            elif line:
                yield line
        if chunks:
            yield "".join(chunks)


class FragmentStream(IterableDataset):
    """Fragments of the sequences in ``files``, for one process of ``num_shards``.

    ``fixed_length`` gives windows of exactly that many nucleotides (shorter sequences are kept
    whole); otherwise lengths are uniform in ``[min_length, max_length]``. A shuffle buffer
    mixes fragments of different sequences. The stream repeats (epochs) forever and is a
    deterministic function of ``seed``, ``epoch`` and the shard.
    """

    def __init__(
        self,
        files: list[str],
        fixed_length: int | None = 510,
        min_length: int = 64,
        max_length: int = 1024,
        seed: int = 0,
        shard: int = 0,
        num_shards: int = 1,
        shuffle_buffer: int = 1024,
        repeat: bool = True,
    ):
        if not files:
            raise ValueError("no training files given")
        self.files = [str(f) for f in files]
        self.fixed_length, self.min_length, self.max_length = fixed_length, min_length, max_length
        self.seed, self.shard, self.num_shards = seed, shard, num_shards
        self.shuffle_buffer, self.repeat = shuffle_buffer, repeat

    def fragments(self, sequence: str, rng: random.Random) -> Iterator[str]:
        sequence = "".join(sequence.split())
        position = rng.randrange(0, 16) if len(sequence) > 2 * self.min_length else 0
        while position < len(sequence):
            length = self.fixed_length or rng.randint(self.min_length, self.max_length)
            fragment = sequence[position : position + length]
            if len(fragment) >= min(self.min_length, len(sequence)):
                yield fragment
            position += length

    def __iter__(self) -> Iterator[str]:
        epoch = 0
        while True:
            rng = random.Random(f"{self.seed}-{epoch}-{self.shard}")
            buffer: list[str] = []
            record = produced = 0
            for path in self.files:
                for sequence in read_sequences(path):
                    record += 1
                    if (record - 1) % self.num_shards != self.shard:
                        continue
                    for fragment in self.fragments(sequence, rng):
                        produced += 1
                        buffer.append(fragment)
                        if len(buffer) >= self.shuffle_buffer:
                            yield buffer.pop(rng.randrange(len(buffer)))
            if not produced:  # nothing to train on: an empty stream would be waited on forever
                where = f" for process {self.shard} of {self.num_shards}" if record else ""
                raise ValueError(
                    f"no sequences to train on{where} in {', '.join(self.files)}"
                    + (f" ({record} sequences: fewer than processes)" if record else " (empty or only headers)")
                )
            rng.shuffle(buffer)
            yield from buffer
            epoch += 1
            if not self.repeat:
                return


# ----------------------------------------------------------------------------- training
def build_model(args: argparse.Namespace) -> SpliceBertForMaskedLM:
    if args.init_from:
        return SpliceBertForMaskedLM.from_pretrained(args.init_from)
    config = SpliceBertConfig(
        **PRESETS[args.preset],
        max_position_embeddings=args.max_position_embeddings,
        attention_probs_dropout_prob=args.attention_dropout,
    )
    return SpliceBertForMaskedLM(config)


def train(args: argparse.Namespace) -> dict:
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed

    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        dataloader_config=DataLoaderConfiguration(dispatch_batches=False, split_batches=False),
        cpu=args.cpu,
    )
    set_seed(args.seed)
    output_dir = Path(args.output_dir)
    identity = run_identity(
        "pretrain_mlm", args, [*args.train_files, *args.eval_files, *filter(None, [args.init_from])]
    )
    mode = check_run_dir(output_dir, identity, overwrite=args.overwrite, resume=args.resume)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        start_run_dir(output_dir, identity, mode)
    accelerator.wait_for_everyone()
    tokenizer = NucleotideTokenizer()
    model = build_model(args)
    limit = model.config.max_position_embeddings
    length = args.fixed_length if args.stage == "fixed" else None
    if (length or args.max_length) + 2 > limit:
        raise ValueError(f"fragments of {length or args.max_length} nt do not fit max_position_embeddings {limit}")

    stream = FragmentStream(
        args.train_files,
        fixed_length=length,
        min_length=args.min_length,
        max_length=args.max_length,
        seed=args.seed,
        shard=accelerator.process_index,
        num_shards=accelerator.num_processes,
        shuffle_buffer=args.shuffle_buffer,
    )
    loader = DataLoader(stream, batch_size=args.batch_size, collate_fn=list)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.98))
    warmup = args.warmup_steps

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(warmup, 1)
        return max(0.0, (args.max_steps - step) / max(args.max_steps - warmup, 1))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    step = 0
    # The loader's iterator draws its base seed from the global torch RNG: create it before
    # load_state restores the RNG, as in an unbroken run.
    batches = iter(loader)
    checkpoint, saved_step = latest_checkpoint(output_dir) if mode == "resume" else (None, 0)
    if checkpoint is not None:  # only complete checkpoints exist (save_accelerate_state)
        accelerator.load_state(str(checkpoint))
        step = saved_step
        accelerator.print(f"resumed from {checkpoint} at step {step}")
    if accelerator.is_main_process and mode == "resume":
        trim_metrics(output_dir, step)  # each step logged once
    accelerator.wait_for_everyone()
    for _ in range(step * args.gradient_accumulation_steps):  # the stream is deterministic: skip what was seen
        next(batches)

    metrics_file = output_dir / "metrics.jsonl"
    model.train()
    running: list[float] = []
    tokens, interval_start = 0, time.perf_counter()  # throughput: real tokens of this process, summed at logging
    while step < args.max_steps:
        for _ in range(args.gradient_accumulation_steps):
            sequences = next(batches)
            batch = tokenizer(sequences, padding=True, return_tensors="pt")
            generator = torch.Generator().manual_seed(args.seed * 1_000_003 + step * 1009 + accelerator.process_index)
            inputs, labels = mask_tokens(
                batch["input_ids"], batch["attention_mask"], tokenizer, generator, args.mlm_probability
            )
            with accelerator.accumulate(model):
                outputs = model(
                    input_ids=inputs.to(accelerator.device),
                    attention_mask=batch["attention_mask"].to(accelerator.device),
                    labels=labels.to(accelerator.device),
                )
                accelerator.backward(outputs.loss)
                if accelerator.sync_gradients and args.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            running.append(accelerator.gather(outputs.loss.detach()[None]).mean().item())
            tokens += int(batch["attention_mask"].sum())
        step += 1
        if step % args.log_every == 0 or step == args.max_steps:
            elapsed = time.perf_counter() - interval_start
            all_tokens = int(accelerator.gather(torch.tensor([tokens], device=accelerator.device)).sum())
            record = {
                "step": step,
                "loss": float(np.mean(running)),
                "lr": scheduler.get_last_lr()[0],
                "tokens_per_second": round(all_tokens / elapsed, 1),
            }
            running, tokens, interval_start = [], 0, time.perf_counter()
            accelerator.print(json.dumps(record))
            if accelerator.is_main_process:
                with metrics_file.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
        if args.save_every and step % args.save_every == 0 and step < args.max_steps:
            save_accelerate_state(accelerator, output_dir, step)
        if args.stop_after and step >= args.stop_after:
            accelerator.print(f"stopping at step {step} (--stop-after), as if killed")
            return {"steps": step, "stopped": True}

    accelerator.wait_for_everyone()
    result: dict = {"steps": step}
    if accelerator.is_main_process:
        final = output_dir / "final"
        unwrapped = accelerator.unwrap_model(model)
        with atomic_folder(final) as temporary:
            unwrapped.save_pretrained(temporary)
            tokenizer.save_pretrained(temporary)
        if args.eval_files:
            sequences = [s for f in args.eval_files for s in read_sequences(f)][: args.eval_max_sequences]
            sequences = [s[: limit - 2] for s in sequences]
            result["eval"] = evaluate_mlm(unwrapped, tokenizer, sequences, device=accelerator.device, seed=args.seed)
            atomic_write_text(
                output_dir / "eval.json", json.dumps({**result, "args": vars(args)}, indent=2, default=str)
            )
            accelerator.print(json.dumps(result))
    accelerator.wait_for_everyone()
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-files", nargs="+", required=True, help="FASTA or one-sequence-per-line files (.gz ok)")
    parser.add_argument("--eval-files", nargs="*", default=[], help="held-out sequences scored after training")
    parser.add_argument("--eval-max-sequences", type=int, default=2000)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="mini")
    parser.add_argument("--init-from", help="continue from a (txformers or original SpliceBERT) checkpoint")
    parser.add_argument("--max-position-embeddings", type=int, default=1026, help="for a new model (1024 nt + 2)")
    parser.add_argument(
        "--attention-dropout",
        type=float,
        default=0.1,
        help="for a new model; 0 lets CPU attention use the fused kernel (about 3x faster)",
    )
    parser.add_argument("--stage", choices=["fixed", "variable"], default="fixed")
    parser.add_argument("--fixed-length", type=int, default=510)
    parser.add_argument("--min-length", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--mlm-probability", type=float, default=0.15)
    parser.add_argument("--batch-size", type=int, default=16, help="per process")
    parser.add_argument("--gradient-accumulation-steps", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--shuffle-buffer", type=int, default=1024)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--log-every", type=int, default=50)
    add_run_dir_arguments(parser)
    parser.add_argument("--stop-after", type=int, default=0, help="exit after this step, as if killed (tests resume)")
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no")
    parser.add_argument("--cpu", action="store_true", help="force CPU even when a GPU is present")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.stage == "variable" and args.max_length < args.min_length:
        raise SystemExit("--max-length must be >= --min-length")
    if math.isnan(args.lr) or args.lr <= 0:
        raise SystemExit("--lr must be positive")
    train(args)


if __name__ == "__main__":
    main()
