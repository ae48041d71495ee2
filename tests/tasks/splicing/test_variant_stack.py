import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import requires_shared_data
from txformers import NucleotideTokenizer
from txformers.tasks.splicing import variant_model as vm
from txformers.tasks.splicing import variant_stack as vs

WT = "CCCCCAG" + "ACGTACGTACGTACGTACGT" + "GTAAGCCCCC"


def _row(pos, alt, label, wt=WT):
    mut = wt[:pos] + alt + wt[pos + 1 :]
    ratio = -3.0 if label else 0.5
    return dict(wt_sequence=wt, mut_sequence=mut, variant_pos=pos, ref=wt[pos], alt=alt, exon_start=7, exon_end=27,
                log2_vivo_ratio=ratio, log2_vitro_ratio=ratio, label=label, reason="")  # fmt: skip


def test_site_features_see_a_lost_acceptor_and_a_gained_donor():
    row = _row(8, "A", 1)
    wt = np.zeros((len(WT), 2), dtype=np.float32)
    wt[6, 0], wt[27, 1] = 0.9, 0.8  # acceptor at the G of AG, donor at the G of GT
    mut = wt.copy()
    mut[6, 0] = 0.2  # acceptor weakened
    mut[15, 1] = 0.4  # a new donor inside the exon
    f = dict(zip(vs.SITE_FEATURES, vs.site_features_from_tracks(row, wt, mut)))
    assert f["site_acceptor_wt"] == pytest.approx(0.9) and f["site_acceptor_mut"] == pytest.approx(0.2)
    assert f["site_acceptor_delta"] == pytest.approx(-0.7) and f["site_acceptor_delta_logit"] < -3
    assert f["site_acceptor_loss_max"] == pytest.approx(0.7) and f["site_acceptor_gain_max"] == 0
    assert f["site_donor_delta"] == 0 and f["site_donor_gain_max"] == pytest.approx(0.4)
    assert f["site_abs_delta_max"] == pytest.approx(0.7)
    same = dict(zip(vs.SITE_FEATURES, vs.site_features_from_tracks(row, wt, wt)))
    assert same["site_abs_delta_max"] == 0 and same["site_variant_delta"] == 0


def test_mlm_features_of_identical_probabilities_have_no_kl_but_log_odds():
    row = _row(10, "A", 0)
    p = np.full((len(WT), 4), 0.1)
    p[:, 1] = 0.7  # C likely everywhere
    f = dict(zip(vs.MLM_FEATURES, vs.mlm_features_from_probabilities(row, p, p)))
    assert row["ref"] == "T" and f["mlm_log_odds_alt_ref"] == pytest.approx(0.0, abs=1e-4)  # A vs T: both 0.1
    assert f["mlm_kl_variant"] == 0 and f["mlm_kl_exon_sum"] == 0 and f["mlm_kl_flank_sum"] == 0
    shifted = p.copy()
    shifted[12] = [0.7, 0.1, 0.1, 0.1]
    g = dict(zip(vs.MLM_FEATURES, vs.mlm_features_from_probabilities(row, p, shifted)))
    assert g["mlm_kl_exon_sum"] > 0 and g["mlm_kl_window10_sum"] == pytest.approx(g["mlm_kl_exon_sum"])


def _rows_and_extra(n=80):
    rows, site = [], []
    for i in range(n):
        label, pos = int(i % 4 == 0), 8 + i % 17
        alt = next(b for b in "ACGT"[i % 4 :] + "ACGT" if b != WT[pos])
        rows.append(_row(pos, alt, label))
        site.append([(-0.8 if label else 0.0) + 0.01 * (i % 5)] * len(vs.SITE_FEATURES))
    return rows, {"site": np.array(site)}


def test_stacked_model_learns_a_block_and_round_trips(tmp_path):
    rows, extra = _rows_and_extra()
    params = {"n_estimators": 20, "min_child_samples": 5}
    model = vs.StackedVariantModel(["site"], params, seeds=(0, 1)).fit(rows, extra)
    scores = model.predict(rows, extra)
    labels = np.array([r["label"] for r in rows])
    assert scores[labels == 1].min() > scores[labels == 0].max()
    model.meta = {"site_model": "somewhere"}
    model.save(tmp_path)
    assert vs.has_stack(tmp_path) and len(list(tmp_path.glob("stacked_lightgbm_classifier_seed*.txt"))) == 2
    again = vs.StackedVariantModel.load(tmp_path)
    assert again.feature_names == list(vm.HAND_FEATURES) + list(vs.SITE_FEATURES)
    np.testing.assert_allclose(again.predict(rows, extra), scores)
    meta = json.loads((tmp_path / vs.STACK_FILE).read_text())
    meta["blocks"] = []  # the boosters no longer match the feature list
    (tmp_path / vs.STACK_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="features"):
        vs.StackedVariantModel.load(tmp_path)


@pytest.mark.parametrize("objective", ["regress", "classify+ratio"])
def test_ratio_objectives_rank_the_low_ratio_rows_first_and_round_trip(objective, tmp_path):
    rows, extra = _rows_and_extra()
    rows = [{**r, "exon_key": f"e{i % 10}"} for i, r in enumerate(rows)]
    rows[0] = {**rows[0], "log2_vivo_ratio": float("-inf"), "log2_vitro_ratio": float("nan")}
    assert vs.ratio_target(rows[:1])[0] == -6 and vs.ratio_target(rows[1:2])[0] == 0.5
    params = {"n_estimators": 20, "min_child_samples": 5}
    model = vs.StackedVariantModel(["site"], params, objective=objective).fit(rows, extra)
    scores = model.predict(rows, extra)
    labels = np.array([r["label"] for r in rows])
    assert scores[labels == 1].min() > scores[labels == 0].max()
    model.save(tmp_path)
    np.testing.assert_allclose(vs.StackedVariantModel.load(tmp_path).predict(rows, extra), scores)
    with pytest.raises(ValueError, match="objective"):
        vs.StackedVariantModel(objective="rank")


def test_model_features_from_tiny_models_have_the_right_shape(tiny_splicebert_config):
    from txformers.models.splicebert import SpliceBertForMaskedLM, SpliceBertForTokenClassification

    tokenizer = NucleotideTokenizer()
    config = tiny_splicebert_config
    config.num_labels, config.label2id = 3, {"none": 0, "acceptor": 1, "donor": 2}
    config.id2label, config.window_size = {0: "none", 1: "acceptor", 2: "donor"}, 24
    rows = [_row(9, "A", 0), _row(20, "G", 1)]
    site = vs.site_model_features(SpliceBertForTokenClassification(config), tokenizer, rows)
    assert site.shape == (2, len(vs.SITE_FEATURES)) and np.isfinite(site).all()
    assert ((site[:, :2] >= 0) & (site[:, :2] <= 1)).all()
    mlm = vs.mlm_features(SpliceBertForMaskedLM(tiny_splicebert_config), tokenizer, rows)
    assert mlm.shape == (2, len(vs.MLM_FEATURES)) and np.isfinite(mlm[:, 1:]).all()


@pytest.fixture
def stacked_checkpoint(tiny_splicebert_config, tmp_path):
    """A tiny variant-effect checkpoint with a stacked model over all three blocks (feature models beside it)."""
    from txformers.models.splicebert import (
        SpliceBertForMaskedLM,
        SpliceBertForTokenClassification,
        SpliceBertForVariantEffect,
    )

    tokenizer = NucleotideTokenizer()
    folder = tmp_path / "variant"
    head = SpliceBertForVariantEffect(tiny_splicebert_config)
    head.config.architectures = ["SpliceBertForVariantEffect"]
    head.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SpliceBertForMaskedLM(tiny_splicebert_config).save_pretrained(tmp_path / "mlm")
    tokenizer.save_pretrained(tmp_path / "mlm")
    config = tiny_splicebert_config
    config.num_labels, config.label2id = 3, {"none": 0, "acceptor": 1, "donor": 2}
    config.id2label, config.window_size = {0: "none", 1: "acceptor", 2: "donor"}, 24
    SpliceBertForTokenClassification(config).save_pretrained(tmp_path / "site")
    tokenizer.save_pretrained(tmp_path / "site")
    import torch
    from safetensors.torch import save_file

    from txformers.tasks.splicing.cnn_baseline import SpliceCNN

    cnn = SpliceCNN(channels=8, dilations=(1, 2))
    (folder / "splice_cnn").mkdir()
    save_file(cnn.state_dict(), folder / "splice_cnn" / "model.safetensors")
    (folder / "splice_cnn" / "config.json").write_text(json.dumps(cnn.hparams))
    rows, extra = _rows_and_extra(40)
    extra["mlm"] = np.random.default_rng(0).random((40, len(vs.MLM_FEATURES)))
    extra["cnn"] = torch.rand(40, len(vs.CNN_FEATURES), generator=torch.Generator().manual_seed(0)).numpy()
    extra["head"] = np.array([r["label"] for r in rows], dtype=float)
    model = vs.StackedVariantModel(["cnn", "site", "mlm", "head"], {"n_estimators": 10, "min_child_samples": 5})
    model.fit(rows, extra)
    model.meta = {"site_model": str(tmp_path / "site"), "mlm_model": str(tmp_path / "mlm")}
    model.meta["cnn_model"] = "somewhere/else/splice_cnn"  # found inside the checkpoint folder by its name
    model.save(folder)
    return folder


def test_cli_scores_a_table_with_the_stacked_model(stacked_checkpoint, tmp_path):
    from txformers.cli import main

    wt = WT + "CCCCCCCCCCCCCCCCCCCC"
    mut = wt[:10] + "A" + wt[11:]
    base = {"Exon_Start": 1001, "Exon_End": 1020, "chr": "chr1", "strand": "+"}
    rows = [
        {"ID": "good", "WT_ID": "g_W", "MUT_ID": "g_M", "WT_SEQ": wt, "MUT_SEQ": mut, **base},
        {"ID": "flipped", "WT_ID": "g_M", "MUT_ID": "g_W", "WT_SEQ": mut, "MUT_SEQ": wt, **base},
        {"ID": "indel", "WT_ID": "i_W", "MUT_ID": "i_M", "WT_SEQ": wt, "MUT_SEQ": wt[:-1], **base},
    ]
    table = tmp_path / "in.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    argv = ["splice", "variants", "--table", str(table), "--model", str(stacked_checkpoint)]
    argv += ["--out", str(tmp_path / "o")]
    assert main(argv) == 0
    text = (tmp_path / "o.tsv").read_text()
    assert "stacked LightGBM" in text.splitlines()[0]
    out = pd.read_csv(tmp_path / "o.tsv", sep="\t", comment="#")
    assert out["score"].iloc[:2].between(0, 1).all() and np.isnan(out["score"].iloc[2])
    assert out["score"].iloc[0] == pytest.approx(out["score"].iloc[1])


def test_cli_names_a_missing_feature_model(stacked_checkpoint, tmp_path, capsys):
    import shutil

    from txformers.cli import main

    shutil.rmtree(stacked_checkpoint.parent / "mlm")
    pd.DataFrame([{"ID": "a", "WT_SEQ": WT, "MUT_SEQ": WT[:10] + "A" + WT[11:], "Exon_Start": 1, "Exon_End": 20,
                   "chr": "chr1", "strand": "+"}]).to_csv(tmp_path / "in.csv", index=False)  # fmt: skip
    argv = ["splice", "variants", "--table", str(tmp_path / "in.csv"), "--model", str(stacked_checkpoint)]
    assert main([*argv, "--out", str(tmp_path / "o")]) != 0
    assert "feature model" in capsys.readouterr().err


def test_kmer_tables_are_learnt_from_training_rows_and_saved(tmp_path):
    rows, extra = _rows_and_extra()
    tables = vs.kmer_tables(rows[:1], 4)
    destroyed = WT[7:11]  # the first exonic 4-mer, overlapping the variant at 8
    assert tables["destroy"][destroyed] < 0  # a label-1 row (ratio -3) destroyed it
    x = vs.kmer_features(rows[:2], {"4": tables, "5": vs.kmer_tables(rows[:1], 5)})
    assert x.shape == (2, len(vs.KMER_FEATURES)) and x[0, 0] < 0
    model = vs.StackedVariantModel(["kmer"], {"n_estimators": 5, "min_child_samples": 5}).fit(rows, {})
    model.save(tmp_path)
    again = vs.StackedVariantModel.load(tmp_path)
    assert again.kmer_tables == model.kmer_tables and again.feature_names[-1] == vs.KMER_FEATURES[-1]
    np.testing.assert_allclose(again.predict(rows, {}), model.predict(rows, {}))


def test_cnn_block_loads_a_saved_cnn_and_scores_pairs(tmp_path):
    import torch
    from safetensors.torch import save_file

    from txformers.tasks.splicing.cnn_baseline import SpliceCNN

    torch.manual_seed(0)
    cnn = SpliceCNN(channels=8, dilations=(1, 2))
    save_file(cnn.state_dict(), tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(cnn.hparams))
    loaded = vs.load_cnn(tmp_path)
    rows = [_row(9, "A", 0), {**_row(12, "A", 0), "mut_sequence": WT}]  # the second pair: no change
    x = vs.cnn_model_features(loaded, rows, batch_size=1)
    assert x.shape == (2, len(vs.CNN_FEATURES)) and np.isfinite(x).all()
    f = dict(zip(vs.CNN_FEATURES, x[1]))
    assert f["cnn_abs_delta_max"] == 0 and 0 <= f["cnn_acceptor_wt"] <= 1
    assert x[0, vs.CNN_FEATURES.index("cnn_abs_delta_max")] > 0


BUNDLED = Path(__file__).resolve().parents[3] / "checkpoints" / "splicebert-small-variant-effect"
needs_bundled = pytest.mark.skipif(not vs.has_stack(BUNDLED), reason="no stacked model in the bundled checkpoint")


@needs_bundled
def test_bundled_stacked_model_scores_synthetic_pairs_in_either_orientation():
    from txformers.datasets.mapsy_pairs import read_pairs

    wt = "CTTATGCGAACGTGA" + "TTTCTGTGTGTAAAATGCTATTTCTTATTCCTACAG" + "CTTCTAAGACCACGAGAGAAAAAGTTGGGACTAG"
    wt += "GTAAGTCGTGTAATCTCTAAAAAGGATTGCTGCTC"
    mut = wt[:60] + ("A" if wt[60] != "A" else "C") + wt[61:]
    base = {"Exon_Start": 1001, "Exon_End": 1034, "chr": "chr1", "strand": "+"}
    table = pd.DataFrame(
        [
            {"ID": "a", "WT_ID": "a_W", "MUT_ID": "a_M", "WT_SEQ": wt, "MUT_SEQ": mut, **base},
            {"ID": "b", "WT_ID": "a_M", "MUT_ID": "a_W", "WT_SEQ": mut, "MUT_SEQ": wt, **base},
            {"ID": "c", "WT_SEQ": wt, "MUT_SEQ": wt[:-1], **base},
        ]
    )
    rows = read_pairs(table)
    assert rows[0]["exon_start"] >= 0 and rows[2]["reason"]
    scores = vs.score_pairs_stacked(BUNDLED, rows)
    assert 0 < scores[0] < 1 and scores[0] == pytest.approx(scores[1]) and np.isnan(scores[2])


@pytest.mark.slow
@requires_shared_data
@needs_bundled
def test_bundled_stacked_model_reproduces_its_kept_aside_average_precision():
    from sklearn.metrics import average_precision_score

    from txformers.datasets.mapsy_pairs import read_pairs
    from txformers.hub import REPO_ROOT, SHARED_DATA

    results = json.loads((REPO_ROOT / "results" / "splicebert" / "variant_effect_mapsy.json").read_text())
    rows = [r for r in read_pairs(SHARED_DATA / "splice" / "mapsy" / "mapsy.txt", with_targets=True) if not r["reason"]]
    folds = vm.grouped_folds([r["exon_key"] for r in rows], [r["label"] for r in rows])
    test = [r for r, f in zip(rows, folds) if f == results["test_fold"]]
    scores = vs.score_pairs_stacked(BUNDLED, test)
    ap = average_precision_score([r["label"] for r in test], scores)
    assert ap == pytest.approx(results["test"]["stacked_lightgbm"]["average_precision"], abs=1e-4)
