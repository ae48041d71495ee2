"""`txformers evaluate`: dispatch on the checkpoint's model_type, results files, records and --check."""

import json
import subprocess
import sys

import pytest

from tests.conftest import requires_shared_data
from txformers.cli import evaluate as evaluate_cli
from txformers.cli import main
from txformers.evaluation import make_results, make_row, read_record, record_path


def checkpoint(tmp_path, model_type="metascdrug", name="ckpt"):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    return folder


def fake_evaluation(values):
    """An evaluate_checkpoint that returns fixed per-seed accuracies, and records its calls."""
    calls = []

    def evaluate_checkpoint(path, data, quick):
        calls.append((path, data, quick))
        seeds = [0, 1, 2] if quick else list(range(len(values)))
        rows = [make_row("model", "accuracy", values[: len(seeds)], setting="k=3")]
        return make_results(path, data, "test", seeds, None, rows)

    evaluate_checkpoint.calls = calls
    return evaluate_checkpoint


@pytest.fixture
def fake(monkeypatch):
    def install(values):
        function = fake_evaluation(values)
        monkeypatch.setattr(evaluate_cli, "evaluator", lambda kind: function)
        return function

    return install


def test_record_then_check_passes_and_a_changed_number_fails(tmp_path, fake, capsys):
    folder = checkpoint(tmp_path)
    fake([0.80, 0.82, 0.84, 0.86])
    assert main(["evaluate", str(folder), "--record"]) == 0
    recorded = read_record(folder, "full")
    assert recorded["rows"][0]["value"] == pytest.approx(0.83)
    assert recorded["command"].startswith("txformers evaluate")
    assert main(["evaluate", str(folder), "--check"]) == 0
    assert "check passed" in capsys.readouterr().out
    # the model now does worse: the recorded 0.83 lies outside the re-derived CI
    fake([0.60, 0.62, 0.64, 0.66])
    assert main(["evaluate", str(folder), "--check"]) == 1
    out = capsys.readouterr().out
    assert "check FAILED" in out and "model accuracy setting=k=3" in out


def test_quick_checks_against_the_quick_record(tmp_path, fake, capsys):
    folder = checkpoint(tmp_path)
    function = fake([0.9, 0.9, 0.92, 0.5])
    assert main(["evaluate", str(folder), "--quick", "--record"]) == 0
    assert function.calls[-1][2] is True
    assert read_record(folder, "full") is None and read_record(folder, "quick") is not None
    assert main(["evaluate", str(folder), "--check"]) == 2  # no full record
    assert "records no full evaluation" in capsys.readouterr().err
    assert main(["evaluate", str(folder), "--check", "--quick"]) == 0


def test_out_writes_a_results_file_and_refuses_to_overwrite(tmp_path, fake, capsys):
    folder = checkpoint(tmp_path)
    fake([0.7, 0.8, 0.9])
    out = tmp_path / "results"
    assert main(["evaluate", str(folder), "--out", str(out)]) == 0
    written = json.loads((out / "ckpt.json").read_text())
    assert written["rows"][0]["metric"] == "accuracy" and written["seeds"] == [0, 1, 2]
    assert main(["evaluate", str(folder), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["evaluate", str(folder), "--out", str(out), "--overwrite"]) == 0
    assert not record_path(folder).exists()  # nothing recorded without --record


def test_dispatch_errors(tmp_path, capsys, monkeypatch):
    assert main(["evaluate", str(tmp_path / "absent")]) == 2
    assert "not a folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["evaluate", str(empty)]) == 2
    assert "no config.json" in capsys.readouterr().err
    assert main(["evaluate", str(checkpoint(tmp_path, "splicebert", "splice"))]) == 2
    assert "not evaluated by `txformers evaluate` yet" in capsys.readouterr().err
    # the splice-site window classifier is dispatched to its evaluation, other SpliceBERT checkpoints are not
    sites = checkpoint(tmp_path, "splicebert", "sites")
    (sites / "config.json").write_text(
        json.dumps({"model_type": "splicebert", "architectures": ["SpliceBertForSequenceClassification"]})
    )
    assert evaluate_cli.model_type(sites) == "splicebert-splice-sites"
    assert evaluate_cli.EVALUATORS["splicebert-splice-sites"] == "txformers.tasks.splicing.evaluation"
    # the masked LM, per-nt sites and variant-effect models go to the same module (it dispatches on architecture)
    for architecture, kind in (
        ("SpliceBertForMaskedLM", "splicebert-mlm"),
        ("SpliceBertForTokenClassification", "splicebert-splice-sites-nt"),
        ("SpliceBertForVariantEffect", "splicebert-variant-effect"),
    ):
        (sites / "config.json").write_text(json.dumps({"model_type": "splicebert", "architectures": [architecture]}))
        assert evaluate_cli.model_type(sites) == kind
        assert evaluate_cli.EVALUATORS[kind] == "txformers.tasks.splicing.evaluation"
    assert main(["evaluate", str(checkpoint(tmp_path, "gpt2", "other"))]) == 2
    assert "no evaluation for model_type 'gpt2'" in capsys.readouterr().err
    monkeypatch.setitem(evaluate_cli.EVALUATORS, "cellformer", "txformers.tasks.cytokine.no_such_module")
    assert main(["evaluate", str(checkpoint(tmp_path, "cellformer", "cells"))]) == 2
    assert "not there yet" in capsys.readouterr().err
    folder = checkpoint(tmp_path, name="unrecorded")
    assert main(["evaluate", str(folder), "--check"]) == 2
    assert "write one with --record" in capsys.readouterr().err


def test_evaluate_help_imports_no_torch():
    probe = (
        "import contextlib, io, sys, txformers.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        txformers.cli.build_parser().parse_args(['evaluate', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(','.join(n for n in ('torch', 'transformers', 'datasets') if n in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


@pytest.mark.slow
@requires_shared_data
def test_quick_check_of_the_bundled_metascdrug_checkpoint():
    assert main(["evaluate", "metascdrug-meta", "--quick", "--check"]) == 0
