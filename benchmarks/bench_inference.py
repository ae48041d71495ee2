"""SpliceBERT inference throughput (nucleotides/s) end to end from raw strings:
txformers (NucleotideTokenizer fast path + SpliceBertForMaskedLM + length bucketing, through
`per_nucleotide_outputs` of the scoring engine that `txformers splice variants`, `txformers embed`
and the pipelines run) against `transformers.BertForMaskedLM` (attn_implementation="sdpa") with
identical weights, fed by the original recipe (BertTokenizer on space-joined letters, batches in
input order).

Two workloads: fixed-length 1024-nt sequences, and mixed lengths uniform in 64-1024 nt (as
SpliceBERT's stage-2 pretraining data). Both sides return the same per-nucleotide logits
(checked). Peak memory of each side is measured in a fresh process.

    python benchmarks/bench_inference.py [--layers 6] [--n-fixed 16] [--n-mixed 48] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from _common import SPLICEBERT_VOCAB, best_of, peak_extra_rss_mb, peak_rss_mb, random_sequences, run_isolated
from transformers import BertConfig, BertForMaskedLM, BertTokenizer

from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM
from txformers.models.splicebert.scoring_splicebert import per_nucleotide_outputs


def build_models(layers: int):
    config = SpliceBertConfig(num_hidden_layers=layers)  # SpliceBERT.1024nt shape
    torch.manual_seed(0)
    ours = SpliceBertForMaskedLM(config).eval()
    bert_config = BertConfig(
        **{
            k: getattr(config, k)
            for k in (
                "vocab_size",
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "intermediate_size",
                "hidden_act",
                "max_position_embeddings",
                "type_vocab_size",
                "layer_norm_eps",
                "pad_token_id",
            )
        }
    )
    peer = BertForMaskedLM._from_config(bert_config, attn_implementation="sdpa").eval()
    missing, unexpected = peer.load_state_dict(ours.state_dict(), strict=False)
    assert not [k for k in missing if "position_ids" not in k and "token_type_ids" not in k], missing
    return ours, peer


def ours_runner(model, sequences, batch_size):
    tokenizer = NucleotideTokenizer()
    return lambda: per_nucleotide_outputs(model, tokenizer, sequences, batch_size=batch_size)


def peer_runner(model, sequences, batch_size):
    folder = tempfile.mkdtemp()
    (Path(folder) / "vocab.txt").write_text("\n".join(SPLICEBERT_VOCAB) + "\n")
    tokenizer = BertTokenizer(str(Path(folder) / "vocab.txt"), do_lower_case=False)

    @torch.inference_mode()
    def run():
        outputs = []
        for i in range(0, len(sequences), batch_size):
            chunk = [" ".join(s.upper().replace("U", "T")) for s in sequences[i : i + batch_size]]
            batch = tokenizer(chunk, padding=True, return_tensors="pt", return_token_type_ids=False)
            logits = model(**batch).logits.float().numpy()
            outputs += [row[1 : n - 1] for row, n in zip(logits, batch["attention_mask"].sum(1).tolist())]
        return outputs

    return run


def workloads(args):
    return {
        "fixed 1024 nt": random_sequences(args.n_fixed, 1024, 1024, seed=1),
        "mixed 64-1024 nt": random_sequences(args.n_mixed, 64, 1024, seed=2),
    }


def memory_only(args, side: str, workload: str) -> None:
    ours, peer = build_models(args.layers)
    sequences = workloads(args)[workload]
    model = ours if side == "ours" else peer
    del ours, peer  # keep only the measured model alive
    run = (ours_runner if side == "ours" else peer_runner)(model, sequences, args.batch_size)
    print(json.dumps({"peak_extra_mb": peak_extra_rss_mb(run), "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--n-fixed", type=int, default=16)
    parser.add_argument("--n-mixed", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-only", nargs=2, metavar=("SIDE", "WORKLOAD"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_only:
        return memory_only(args, *args.memory_only)

    ours, peer = build_models(args.layers)
    print(
        f"model: SpliceBERT.1024nt shape, {args.layers} layers, "
        f"{sum(p.numel() for p in ours.parameters()) / 1e6:.1f} M parameters; batch size {args.batch_size}; "
        f"{args.threads} threads"
    )
    for name, sequences in workloads(args).items():
        run_ours = ours_runner(ours, sequences, args.batch_size)
        run_peer = peer_runner(peer, sequences, args.batch_size)
        a, b = run_ours(), run_peer()
        diff = max(float(abs(x - y).max()) for x, y in zip(a, b))
        assert diff < 1e-3, f"outputs differ by {diff}"
        t_peer = best_of(run_peer, args.repeats)
        t_ours = best_of(run_ours, args.repeats)
        total = sum(map(len, sequences))
        memory = {}
        for side in ("ours", "peer"):
            extra = [
                "--memory-only",
                side,
                name,
                "--layers",
                str(args.layers),
                "--n-fixed",
                str(args.n_fixed),
                "--n-mixed",
                str(args.n_mixed),
                "--batch-size",
                str(args.batch_size),
            ]
            result = run_isolated(Path(__file__), extra)
            memory[side] = result["peak_extra_mb"]
        print(f"[{name}] {len(sequences)} sequences, {total} nt, max |logit diff| {diff:.1e}")
        print(f"  txformers       : {total / t_ours:9.0f} nt/s   peak memory above model {memory['ours']:6.0f} MB")
        print(f"  BertForMaskedLM : {total / t_peer:9.0f} nt/s   peak memory above model {memory['peer']:6.0f} MB")
        print(f"  ratio (txformers / transformers): {t_peer / t_ours:.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
