"""Does bfloat16 inference (``splice predict --precision bfloat16``) change the per-nucleotide model's Test AUROC?

    python benchmarks/precision_auroc.py [--checkpoint checkpoints/splicebert-small-splice-sites-nt] [--threads 2]

Scores the centre of every human Test window of ``../shared/data/splice/ensemblesplice_600nt/homo_sapiens`` (central
crop of the model's ``window_size``, as ``txformers evaluate`` does) in float32 and under bf16 autocast, and prints
donor / acceptor AUROC and AP of both and the largest change of a centre probability. Skips with a message when the
data folder is absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "splice" / "ensemblesplice_600nt" / "homo_sapiens"


def centre_probabilities(model, ids: np.ndarray, bf16: bool, batch_size: int = 256) -> np.ndarray:
    import torch

    out = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for first in range(0, len(ids), batch_size):
            batch = torch.as_tensor(ids[first : first + batch_size])
            ends = torch.full((len(batch), 1), 2), torch.full((len(batch), 1), 3)  # [CLS], [SEP]
            logits = model(input_ids=torch.cat([ends[0], batch, ends[1]], 1)).logits[:, 1:-1]
            out.append(logits.float().softmax(-1).numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "splicebert-small-splice-sites-nt"))
    parser.add_argument("--data-dir", default=str(DATA))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not Path(args.data_dir, "Test").is_dir():
        sys.exit(f"skipped: no Test windows in {args.data_dir}")
    import torch
    from sklearn.metrics import average_precision_score, roc_auc_score

    from txformers.models.splicebert import SpliceBertForTokenClassification
    from txformers.tasks.splicing import nt_sites as nt

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as cache:
        test = nt.load_windows(args.data_dir, cache_dir=cache)["test"]
    model = SpliceBertForTokenClassification.from_pretrained(args.checkpoint).eval()
    context = model.config.window_size or 120
    start = nt.central_crop_start(len(test["sequence"][0]), context)
    ids = nt.encode_ids(list(test["sequence"])).astype(np.int64)[:, start : start + context]
    scores = {}
    for name, bf16 in (("float32", False), ("bfloat16", True)):
        scores[name] = nt.centre_scores(centre_probabilities(model, ids, bf16), test, start)
        parts = []
        for site in ("donor", "acceptor"):
            mask = test["site_type"] == site
            truth, score = test["is_site"][mask], scores[name][mask]
            parts.append(
                f"{site} AUROC {roc_auc_score(truth, score):.4f} AP {average_precision_score(truth, score):.4f}"
            )
        print(f"{name:>8}: " + ", ".join(parts) + f" ({len(ids)} Test windows)")
    gap = float(np.abs(scores["float32"] - scores["bfloat16"]).max())
    print(f"largest change of a centre probability, bfloat16 vs float32: {gap:.4f}")


if __name__ == "__main__":
    main()
