# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Where a per-nucleotide SpliceBERT splice-site model looks: gradient x input by offset from the site.

For true-site validation windows (central ``window_size``-nt crop, as the model is evaluated), the
gradient of ``logit(site type) - logit(none)`` at the annotated position with respect to the input
embeddings, times the embeddings, summed over the hidden dimension: ``|grad x input|`` per input
nucleotide, averaged over windows and reported by offset from the site (0 = the convention position;
donor consensus ``-3..+6``, acceptor polypyrimidine tract and ``AG`` about ``-25..0``).

    python -m txformers.tasks.splicing.nt_saliency checkpoints/splicebert-small-splice-sites-nt \\
        --data-dir ../shared/data/splice/ensemblesplice_600nt/homo_sapiens --windows 128
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from . import nt_sites as nt

CLS_ID, SEP_ID = 2, 3


def saliency_by_offset(model, sequences, site_type: str, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``|grad x input|`` per crop position and the offsets of those positions from the site."""
    import torch

    start = nt.central_crop_start(len(sequences[0]), context)
    ids = torch.as_tensor(nt.encode_ids(list(sequences))[:, start : start + context].astype(np.int64))
    full = torch.cat([torch.full((len(ids), 1), CLS_ID), ids, torch.full((len(ids), 1), SEP_ID)], 1)
    model.eval()
    embeddings = model.get_input_embeddings()(full).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeddings).logits[:, 1:-1]
    index = nt.SITE_INDEX[site_type] - start
    column = {str(k).lower(): int(v) for k, v in model.config.label2id.items()}
    (logits[:, index, column[site_type]] - logits[:, index, column["none"]]).sum().backward()
    values = (embeddings.grad * embeddings).detach().sum(-1).abs()[:, 1:-1].mean(0).numpy()
    return values, np.arange(context) - index


def summary(values: np.ndarray, offsets: np.ndarray, top: int = 8) -> dict:
    """The top offsets and the share of the attribution in the local splice-signal span (-25..+10)."""
    order = np.argsort(-values)[:top]
    local = (offsets >= -25) & (offsets <= 10)
    return {
        "top_offsets": [[int(offsets[i]), round(float(values[i] / values.sum()), 4)] for i in order],
        "share_within_-25_+10": float(values[local].sum() / values.sum()),
        "share_of_positions_within_-25_+10": float(local.mean()),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m txformers.tasks.splicing.nt_saliency", description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--windows", type=int, default=128, help="true-site validation windows per site type")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    from ...models.splicebert import SpliceBertForTokenClassification

    model = SpliceBertForTokenClassification.from_pretrained(args.model)
    validation = nt.load_windows(args.data_dir, cache_dir=args.cache_dir)["validation"]
    result = {"model": args.model, "context": model.config.window_size}
    for site in ("donor", "acceptor"):
        rows = np.flatnonzero((validation["site_type"] == site) & validation["is_site"])[: args.windows]
        values, offsets = saliency_by_offset(model, validation["sequence"][rows], site, model.config.window_size)
        result[site] = summary(values, offsets)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
