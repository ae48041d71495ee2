import json

import pytest

from txformers.io import UserError
from txformers.training.run_dir import (
    check_run_dir,
    latest_checkpoint,
    run_identity,
    save_checkpoint,
    start_run_dir,
    trim_metrics,
)


def identity(tmp_path, lr=1e-3):
    data = tmp_path / "data.txt"
    if not data.exists():
        data.write_text("ACGT\n")
    return run_identity("recipe", {"lr": lr, "output_dir": "x", "resume": False}, [data])


def test_new_empty_and_missing_folders_start_a_run(tmp_path):
    assert check_run_dir(tmp_path / "new", identity(tmp_path)) == "new"
    (tmp_path / "empty").mkdir()
    assert check_run_dir(tmp_path / "empty", identity(tmp_path)) == "new"


def test_non_empty_folder_needs_a_flag_and_resume_the_same_run(tmp_path):
    run = start_run_dir(tmp_path / "run", identity(tmp_path), "new")
    assert json.loads((run / "run.json").read_text())["recipe"] == "recipe"
    with pytest.raises(UserError, match="already holds files"):
        check_run_dir(run, identity(tmp_path))
    assert check_run_dir(run, identity(tmp_path), resume=True) == "resume"
    with pytest.raises(UserError, match="--lr"):
        check_run_dir(run, identity(tmp_path, lr=2e-3), resume=True)
    (tmp_path / "data.txt").write_text("GGGG\n")
    with pytest.raises(UserError, match="data files"):
        check_run_dir(run, identity(tmp_path), resume=True)
    with pytest.raises(UserError, match="only one"):
        check_run_dir(run, identity(tmp_path), overwrite=True, resume=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("")
    with pytest.raises(UserError, match="no run.json"):
        check_run_dir(tmp_path / "other", identity(tmp_path), resume=True)


def test_overwrite_clears_the_old_run_state(tmp_path):
    run = start_run_dir(tmp_path / "run", identity(tmp_path), "new")
    save_checkpoint(run, 5, lambda folder: (folder / "w").write_text("1"))
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    assert check_run_dir(run, identity(tmp_path, lr=9.0), overwrite=True) == "new"
    start_run_dir(run, identity(tmp_path, lr=9.0), "new")
    assert latest_checkpoint(run) == (None, 0) and not (run / "metrics.jsonl").exists()


def test_a_checkpoint_killed_midway_never_exists(tmp_path):
    save_checkpoint(tmp_path, 2, lambda folder: (folder / "w").write_text("complete"))

    def killed(folder):
        (folder / "w").write_text("half")
        raise KeyboardInterrupt  # the write stops midway

    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 4, killed)
    path, step = latest_checkpoint(tmp_path)
    assert step == 2 and (path / "w").read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-2"]


def test_trim_metrics_keeps_steps_up_to_the_checkpoint(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in range(1, 6)) + '{"st')
    trim_metrics(tmp_path, 3)
    assert [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_read_only_parent_is_refused_up_front(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(UserError, match="not writable"):
            check_run_dir(tmp_path / "run", identity(tmp_path))
    finally:
        tmp_path.chmod(0o700)
