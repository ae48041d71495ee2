# Copyright 2026 The txformers authors. BSD-3-Clause.
import json

from txformers.tasks.splicing import nt_report


def _run(folder, model, auroc):
    folder.mkdir(parents=True)
    centre = {
        site: {"auroc": auroc, "ap": auroc - 0.01, "auroc_ci95": [auroc - 0.02, auroc + 0.01]}
        for site in ("donor", "acceptor")
    }
    args = {"model": model, "init": "random", "context": 120, "site_weight": 50.0, "max_steps": 10}
    args.update(label_fraction=1.0, seed=0, lr=1e-3, lr_flank=60)
    off = {"off_target_per_kb": 1.5, "windows": 2, "nucleotides": 1204}
    run = {"best": {"step": 10}, "seconds_per_step": 0.5, "validation": {"centre": centre}}
    run["test"] = {"centre": centre, "off_target": off}
    (folder / "results.json").write_text(json.dumps({"command": "python -m x", "args": args, model: run}))


def test_report_rows_and_table(tmp_path):
    _run(tmp_path / "cnn-120", "cnn", 0.9)
    _run(tmp_path / "lr", "logreg", 0.8)
    (tmp_path / "unfinished").mkdir()
    out = tmp_path / "report.json"
    report = nt_report.main([str(tmp_path / n) for n in ("cnn-120", "lr", "unfinished")] + ["--out", str(out)])
    assert [r["run"] for r in report["runs"]] == ["cnn-120", "lr"]
    assert report["runs"][1]["context"] == 121 and report["runs"][1]["max_steps"] is None
    assert json.loads(out.read_text())["runs"][0]["test_donor_auroc_ci95"] == [0.88, 0.91]
    table = nt_report.markdown(report["runs"])
    assert "| cnn-120 | 120 | 10 (10) | 0.50 | 0.9000 / 0.9000 | 0.9000 [0.8800, 0.9100] |" in table


def test_report_commands_leave_out_the_cache_folder(tmp_path):
    _run(tmp_path / "cnn", "cnn", 0.9)
    results = json.loads((tmp_path / "cnn" / "results.json").read_text())
    results["command"] = "python -m x --context 120 --cache-dir /work/tmp/cache --seed 0 --cache-dir=/c"
    (tmp_path / "cnn" / "results.json").write_text(json.dumps(results))
    assert nt_report.summarize_run(tmp_path / "cnn")["command"] == "python -m x --context 120 --seed 0"


def _ablation_run(folder, model, init, fraction, seed, auroc):
    _run(folder, model, auroc)
    results = json.loads((folder / "results.json").read_text())
    results["args"].update(init=init, label_fraction=fraction, seed=seed)
    results["command"] += f" --init {init} --label-fraction {fraction} --seed {seed} --output-dir {folder}"
    (folder / "results.json").write_text(json.dumps(results))


def test_label_fraction_table_groups_seeds_and_readme_verdict(tmp_path):
    runs = []
    for seed, (pre, rand) in enumerate([(0.90, 0.80), (0.92, 0.84)]):
        for init, auroc in (("pretrained", pre), ("random", rand)):
            runs.append(tmp_path / f"{init}-{seed}")
            _ablation_run(runs[-1], "splicebert", init, 0.01, seed, auroc)
    table = nt_report.label_fraction_table([nt_report.summarize_run(r) for r in runs])
    by_model = {row["model"]: row for row in table["rows"]}
    assert set(by_model) == {"splicebert-pretrained", "splicebert-random"}
    assert by_model["splicebert-pretrained"]["seeds"] == [0, 1]
    assert abs(by_model["splicebert-random"]["test_donor_auroc"]["mean"] - 0.82) < 1e-9
    assert "| 0.01 | splicebert-pretrained | 2 | 10 | 0.9100 +- 0.0141 |" in nt_report.label_fraction_markdown(table)
    assert table["protocol"] == "python -m x"  # the shared recipe, without seed / fraction / init / output
    # the README says whether the targets are met and the baselines beaten, from the numbers
    _run(tmp_path / "cnn", "cnn", 0.983)
    _run(tmp_path / "good", "splicebert", 0.99)
    _run(tmp_path / "weak", "splicebert", 0.98)
    rows = [nt_report.summarize_run(tmp_path / n) for n in ("cnn", "good", "weak")]
    assert nt_report.verdict(rows[1], rows).startswith("**Meets the Test targets")
    weak = nt_report.verdict(rows[2], rows)
    assert weak.startswith("**Not yet") and "not above the best baseline (cnn, 0.9830)" in weak
    text = nt_report.readme(rows[1], rows, "m", table)
    assert "Pretrained vs random initialisation" in text and "splicebert-random" in text


def test_peer_off_target_sentence_reads_the_compare_results(tmp_path):
    def calls(per_kb, hits, threshold=0.5):
        return {"off_target_per_kb": per_kb, "annotated_sites_called": hits, "threshold": threshold}

    path = tmp_path / "off.json"
    ours = {"0.5": calls(15.8, 33), "matched_to_spliceai_0.5": calls(3.4, 20, 0.93)}
    path.write_text(json.dumps({"windows": 40, "off_target": {"spliceai": {"0.5": calls(1.9, 20)}, "ours": ours}}))
    sentence = nt_report.peer_off_target("ours", path)
    assert "15.8 off-target calls per kb" in sentence and "33/40" in sentence
    assert "threshold 0.930, 20/40 sites called) 3.4 per kb against SpliceAI's 1.9" in sentence
    assert nt_report.peer_off_target("absent", path) == "" and nt_report.peer_off_target("ours", tmp_path / "no") == ""


def test_predict_speed_paragraph_reads_the_benchmark_of_this_checkpoint(tmp_path):
    def run(nt, seconds):
        return {"nt": nt, "seconds": seconds}

    figures = {
        "nt_model_nt_per_s": 20000.0,
        "nt_model_precision": "bfloat16",
        "peak_rss_mb_long": 700.0,
        "peak_rss_ratio_long_over_short": 1.05,
        "ratio_over_today_as_filed": 7.68,
        "ratio_over_window_classifier": 9.0,
        "ratio_precision_over_float32_net": 2.4,
    }
    record = {
        "command": "python benchmarks/bench_splice_predict.py",
        "date_utc": "2026-12-03 19:00",
        "threads": 2,
        "nt_model": "checkpoints/m",
        "runs": {"nt_2000": run(2000, 5.0), "nt_1000000": run(1_000_000, 50.0), "window_100000": run(100_000, 20)},
        "figures": figures,
    }
    path = tmp_path / "speed.json"
    path.write_text(json.dumps(record))
    text = nt_report.predict_speed("m", path)
    assert "read 1,000,000 nt in 50 s (20,000 nt/s end to end, bfloat16)" in text
    assert "7.7x the 2,604 nt/s" in text and "2.4x its own float32 run" in text and "SpliceAI" not in text
    figures.update(spliceai_nt_per_s=15000.0, ratio_over_spliceai=1.33, ratio_over_spliceai_net=1.4)
    path.write_text(json.dumps(record))
    assert "ours is 1.3x its speed end to end (1.4x net of start-up)" in nt_report.predict_speed("m", path)
    assert nt_report.predict_speed("other", path) == "" and nt_report.predict_speed("m", tmp_path / "no") == ""
