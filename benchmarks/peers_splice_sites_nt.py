"""SpliceAI per-nucleotide probabilities of whole windows (benchmark use only).

Runs in the peers venv (``../shared/peers/setup``), not in the txformers environment, so it reads
windows already chosen and written by txformers (``python -m txformers.tasks.splicing.nt_offtarget
export``): a TSV with columns ``id, sequence``.

    /work/peers-venv/bin/python benchmarks/peers_splice_sites_nt.py WINDOWS.tsv OUT.npz [N_MODELS]

SpliceAI's models are CC BY-NC 4.0: the probabilities are benchmark scores only, never a training
input. Each window is padded with 5,000 N on each side (as SpliceAI pads sequence ends), and the
mean of the first N_MODELS of its 5 models (default 5) is kept: ``OUT.npz`` holds ``id`` and
``probabilities`` ``(windows, length, 3)`` in SpliceAI's output order (neither, acceptor, donor).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd


def main(argv: list[str]) -> None:
    from keras.models import load_model
    from pkg_resources import resource_filename
    from spliceai.utils import one_hot_encode

    windows_path, out_path = argv[:2]
    n_models = int(argv[2]) if len(argv) > 2 else 5
    frame = pd.read_csv(windows_path, sep="\t")
    models = [
        load_model(resource_filename("spliceai", f"models/spliceai{i}.h5"), compile=False)
        for i in range(1, n_models + 1)
    ]
    pad = "N" * 5000
    started, out = time.perf_counter(), []
    for start in range(0, len(frame), 8):
        chunk = list(frame.sequence[start : start + 8])
        x = np.stack([one_hot_encode(pad + s + pad) for s in chunk])
        out.append(np.mean([m.predict(x, verbose=0) for m in models], axis=0).astype(np.float32))
        print(f"spliceai {start + len(chunk)}/{len(frame)}", file=sys.stderr, flush=True)
    np.savez_compressed(out_path, id=np.array(frame.id, dtype=str), probabilities=np.concatenate(out))
    seconds = time.perf_counter() - started
    print(f"{len(frame)} windows, {n_models} models: {seconds:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
