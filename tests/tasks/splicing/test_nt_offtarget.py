# Copyright 2026 The txformers authors. BSD-3-Clause.
import json

import numpy as np
import pytest
import torch

from tests.training.test_finetune_splice_nt import _data
from txformers.tasks.splicing import nt_offtarget
from txformers.tasks.splicing import nt_sites as nt
from txformers.tasks.splicing.cnn_baseline import SpliceCNN


def _cnn_folder(path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = SpliceCNN(channels=4, dilations=(1,))
    path.mkdir()
    save_file(model.state_dict(), path / "model.safetensors")
    (path / "config.json").write_text(json.dumps(model.hparams))
    return path


def test_export_then_compare_on_the_same_real_windows(tmp_path):
    data = _data(tmp_path / "homo_sapiens")
    cache = str(tmp_path / "cache")
    tsv = tmp_path / "w.tsv"
    common = ["--data-dir", str(data), "--windows", "5", "--cache-dir", cache]
    nt_offtarget.main(["export", *common, "--out", str(tsv)])
    rows = [line.split("\t") for line in tsv.read_text().splitlines()[1:]]
    windows = nt_offtarget.real_test_windows(str(data), 5, cache)
    assert [r[0] for r in rows] == list(windows["id"]) and windows["is_site"].all() and len(rows) == 5
    # a perfect "peer": the annotated site only, nothing else called
    perfect = np.zeros((5, 602, 3), dtype=np.float32)
    perfect[..., 0] = 1
    for i, site in enumerate(windows["site_type"]):
        perfect[i, nt.SITE_INDEX[site]] = np.eye(3)[nt.NT_LABEL2ID[site]]
    np.savez(tmp_path / "peer.npz", id=np.array(windows["id"], dtype=str), probabilities=perfect)
    out = tmp_path / "o.json"
    result = nt_offtarget.main(
        ["compare", *common, "--out", str(out), "--spliceai", str(tmp_path / "peer.npz")]
        + ["--model", f"cnn={_cnn_folder(tmp_path / 'cnn')}", "--thresholds", "0.5", "0.1"]
    )
    peer = result["off_target"]["spliceai"]["0.5"]
    assert peer["off_target_calls"] == 0 and peer["annotated_sites_called"] == 5 and peer["nucleotides"] == 3010
    cnn = result["off_target"]["cnn"]
    assert cnn["0.1"]["off_target_calls"] >= cnn["0.5"]["off_target_calls"]
    assert cnn["matched_to_spliceai_0.5"]["annotated_sites_called"] == 5  # as many as the peer calls
    assert json.loads(out.read_text())["windows"] == 5
    np.savez(tmp_path / "other.npz", id=windows["id"][::-1], probabilities=perfect)
    with pytest.raises(SystemExit, match="other windows"):
        nt_offtarget.main(["compare", *common, "--out", str(out), "--spliceai", str(tmp_path / "other.npz")])


def test_matched_threshold_calls_as_many_annotated_sites_as_asked():
    windows = {"site_type": np.array(["donor", "acceptor", "donor", "acceptor"]), "is_site": np.ones(4, bool)}
    probabilities = []
    for site, p in zip(windows["site_type"], (0.9, 0.6, 0.3, 0.1)):
        probs = np.zeros((602, 3))
        probs[:, 0] = 1
        probs[nt.SITE_INDEX[site], nt.NT_LABEL2ID[site]] = p
        probabilities.append(probs)
    for hits in range(5):
        threshold = nt_offtarget.matched_threshold(probabilities, windows, hits)
        assert nt.off_target_calls(probabilities, windows, threshold)["annotated_sites_called"] == hits
