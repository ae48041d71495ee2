"""Tokenizer throughput (nucleotides/s): txformers NucleotideTokenizer vs the original recipe.

The original SpliceBERT recipe is `BertTokenizer` (vocab.txt) on upper-cased, U->T,
space-joined letters. Both sides turn the same raw mixed-case RNA strings into padded
`input_ids`/`attention_mask` tensors.

    python benchmarks/bench_tokenizer.py [--n 2000] [--length 1024]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from _common import SPLICEBERT_VOCAB, best_of, random_sequences
from transformers import BertTokenizer

from txformers import NucleotideTokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sequences = random_sequences(args.n, args.length, args.length)
    total = sum(map(len, sequences))

    ours = NucleotideTokenizer()
    with tempfile.TemporaryDirectory() as folder:
        vocab = Path(folder) / "vocab.txt"
        vocab.write_text("\n".join(SPLICEBERT_VOCAB) + "\n")
        original = BertTokenizer(str(vocab), do_lower_case=False)

    def run_ours():
        return ours(sequences, padding=True, return_tensors="pt")

    def run_original():
        prepared = [" ".join(s.upper().replace("U", "T")) for s in sequences]
        return original(prepared, padding=True, return_tensors="pt")

    a, b = run_ours(), run_original()
    assert torch.equal(a["input_ids"], b["input_ids"]), "the two recipes disagree"
    t_ours, t_original = best_of(run_ours, args.repeats), best_of(run_original, args.repeats)
    print(f"sequences: {args.n} x {args.length} nt (mixed-case RNA), identical input_ids: yes")
    print(f"txformers NucleotideTokenizer : {total / t_ours / 1e6:8.2f} M nt/s")
    print(f"original BertTokenizer recipe : {total / t_original / 1e6:8.2f} M nt/s")
    print(f"ratio (txformers / original)  : {t_original / t_ours:8.1f}x")


if __name__ == "__main__":
    main()
