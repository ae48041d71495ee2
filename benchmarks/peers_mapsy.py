"""SpliceAI max delta and MMSplice delta-logit-PSI on MaPSy minigene pairs (benchmark use only).

Runs in the peers venv (``../shared/peers/setup``), not in the txformers environment, so it reads
pairs already parsed by txformers (``datasets.splice_variants.read_mapsy``, written by
``training/finetune_variant_effect.py --export-pairs``): columns ``id, wt_sequence, mut_sequence,
exon_start, exon_end`` (0-based, half-open exon in the 200-nt minigene).

    /work/peers-venv/bin/python benchmarks/peers_mapsy.py PAIRS.tsv OUT.tsv [N_SPLICEAI_MODELS]

* SpliceAI (models CC BY-NC 4.0: benchmark scores only, never a training input): the minigene padded
  with 5,000 N on each side (as SpliceAI pads sequence ends), the mean of the first N of its 5 models
  (default 5; fewer only to fit a CPU budget, and then say so); score =
  max over positions and over acceptor/donor of |p_mut - p_wt|.
* MMSplice: ``predict_on_seq`` on the exon with its minigene introns as overhang; score =
  ``-predict_deltaLogitPsi`` (higher = more exon skipping).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd


def spliceai_scores(wt: list[str], mut: list[str], batch_size: int = 64, n_models: int = 5) -> np.ndarray:
    from keras.models import load_model
    from pkg_resources import resource_filename
    from spliceai.utils import one_hot_encode

    models = [
        load_model(resource_filename("spliceai", f"models/spliceai{i}.h5"), compile=False)
        for i in range(1, n_models + 1)
    ]
    unique = sorted(set(wt) | set(mut))
    pad = "N" * 5000
    probs = {}
    for start in range(0, len(unique), batch_size):
        chunk = unique[start : start + batch_size]
        x = np.stack([one_hot_encode(pad + s + pad) for s in chunk])
        y = np.mean([m.predict(x, verbose=0) for m in models], axis=0)
        for s, p in zip(chunk, y):
            probs[s] = p[:, 1:]  # acceptor, donor
        print(f"spliceai {start + len(chunk)}/{len(unique)}", file=sys.stderr, flush=True)
    return np.array([np.abs(probs[m] - probs[w]).max() for w, m in zip(wt, mut)])


def mmsplice_scores(frame: pd.DataFrame) -> np.ndarray:
    from mmsplice import MMSplice
    from mmsplice.utils import encodeDNA, predict_deltaLogitPsi

    model = MMSplice()
    out = np.full(len(frame), np.nan)
    # Pairs of one exon share the split lengths: one batch per exon place.
    for _, group in frame.groupby(["exon_start", "exon_end"]):
        overhang = (int(group.exon_start.iloc[0]), len(group.wt_sequence.iloc[0]) - int(group.exon_end.iloc[0]))
        ref, alt = ([model.spliter.split(s, overhang) for s in group[c]] for c in ("wt_sequence", "mut_sequence"))
        batch = lambda parts: {k: encodeDNA([p[k] for p in parts]) for k in parts[0]}  # noqa: E731
        x_ref = model.predict_modular_scores_on_batch(batch(ref))
        x_alt = model.predict_modular_scores_on_batch(batch(alt))
        out[frame.index.get_indexer(group.index)] = -predict_deltaLogitPsi(x_ref, x_alt)
    return np.asarray(out)


def main(argv: list[str]) -> None:
    pairs_path, out_path = argv[:2]
    n_models = int(argv[2]) if len(argv) > 2 else 5
    frame = pd.read_csv(pairs_path, sep="\t")
    columns = ["id"]
    for column, scorer in (
        ("mmsplice_neg_delta_logit_psi", lambda: mmsplice_scores(frame)),
        (
            "spliceai_max_delta",
            lambda: spliceai_scores(list(frame.wt_sequence), list(frame.mut_sequence), n_models=n_models),
        ),
    ):
        started = time.perf_counter()
        frame[column] = scorer()
        columns.append(column)
        frame[columns].to_csv(out_path, sep="\t", index=False)  # after each tool, so a slow second one loses nothing
        print(f"{len(frame)} pairs: {column} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
