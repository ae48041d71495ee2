# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Convert an original SpliceBERT folder (HF `BertForMaskedLM`, transformers 4.20, `pytorch_model.bin`)
into a txformers checkpoint: safetensors weights, `SpliceBertConfig` with `auto_map` and the
modeling files, and the raw-sequence `NucleotideTokenizer` (the original tokenizer needs
upper-case, space-separated letters).

Every weight is checked: the conversion fails if any is missing or unused, and the converted
model's logits are compared with the original on a test sequence.

    python -m txformers.models.splicebert.convert_splicebert_original SpliceBERT.1024nt out/splicebert-1024nt

Not imported by the modeling file, so it is not copied into checkpoints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ...tokenizers import NucleotideTokenizer
from .modeling_splicebert import SpliceBertForMaskedLM

CHECK_SEQUENCE = "CAGGUAAGUAUCUUUCCUUUUUCCCUUAGGUCAAGGAGGCAGAAGAUGGAGUUCCAG"


def convert(original_dir: str | Path, output_dir: str | Path) -> SpliceBertForMaskedLM:
    original_dir, output_dir = Path(original_dir), Path(output_dir)
    if output_dir.resolve() == original_dir.resolve():
        raise ValueError("write the converted checkpoint to a new folder, not over the original")
    model = SpliceBertForMaskedLM.from_pretrained(original_dir).eval()  # strict: fails on any mismatch
    tokenizer = NucleotideTokenizer(model_max_length=model.config.max_position_embeddings)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    reloaded = SpliceBertForMaskedLM.from_pretrained(output_dir).eval()
    inputs = tokenizer(CHECK_SEQUENCE, return_tensors="pt")
    with torch.no_grad():
        difference = (model(**inputs).logits - reloaded(**inputs).logits).abs().max().item()
    if difference > 1e-5:
        raise RuntimeError(f"converted model differs from the original (max |logit diff| {difference})")
    return reloaded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("original_dir", help="folder with config.json (model_type bert) and pytorch_model.bin")
    parser.add_argument("output_dir")
    args = parser.parse_args(argv)
    model = convert(args.original_dir, args.output_dir)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"converted {args.original_dir} -> {args.output_dir} ({parameters:,} parameters)")


if __name__ == "__main__":
    main()
