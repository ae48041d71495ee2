"""Does bfloat16 inference (``splice predict --precision bfloat16``) change the per-nucleotide model's Test AUROC?

    python benchmarks/precision_auroc.py [--checkpoint checkpoints/splicebert-small-splice-sites-nt] [--threads 2]

Scores the centre of every human Test window of ``../shared/data/splice/ensemblesplice_600nt/homo_sapiens`` (central
crop of the model's ``window_size``, as ``txformers evaluate`` does) in float32 and under bf16 autocast, and prints
donor / acceptor AUROC and AP of both and the largest change of a centre probability. Skips with a message when the
data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "splice" / "ensemblesplice_600nt" / "homo_sapiens"


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

    from txformers.tasks.splicing import nt_sites as nt
    from txformers.tasks.splicing.evaluation_models import nt_centre_scores

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as cache:
        test = nt.load_windows(args.data_dir, cache_dir=cache)["test"]
    checkpoint = Path(args.checkpoint)
    context = json.loads((checkpoint / "config.json").read_text()).get("window_size") or 120
    scores = {}
    for name, bf16 in (("float32", False), ("bfloat16", True)):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):  # txformers evaluate's scoring, as is
            scores[name] = nt_centre_scores(checkpoint, test, context)
        parts = []
        for site in ("donor", "acceptor"):
            mask = test["site_type"] == site
            truth, score = test["is_site"][mask], scores[name][mask]
            parts.append(
                f"{site} AUROC {roc_auc_score(truth, score):.4f} AP {average_precision_score(truth, score):.4f}"
            )
        print(f"{name:>8}: " + ", ".join(parts) + f" ({len(test['id'])} Test windows)")
    gap = float(np.abs(scores["float32"] - scores["bfloat16"]).max())
    print(f"largest change of a centre probability, bfloat16 vs float32: {gap:.4f}")


if __name__ == "__main__":
    main()
