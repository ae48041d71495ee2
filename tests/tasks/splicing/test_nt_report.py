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
