"""`txformers train`, `txformers card` and `txformers push` (dry runs only: no network in tests)."""

import json
import shlex
import subprocess
import sys

import torch

from txformers.cards import find_local_paths, portable, validate_card
from txformers.cli import main
from txformers.cli.train import RECIPES
from txformers.hub import REPO_ROOT as ROOT


def _txformers(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "txformers.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def _run(capsys, *args):
    """The same command in this process (cheaper than a subprocess); returns (exit status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


# ----------------------------------------------------------------------------- train
def test_train_list_and_unknown_recipe(capsys):
    done = _txformers("train", "--list")
    assert done.returncode == 0, done.stderr
    for name, recipe in RECIPES.items():
        assert f"\n{name}\n" in f"\n{done.stdout}" and recipe.example in done.stdout
    status, _, err = _run(capsys, "train", "splicebert-mlmm", "--", "--max-steps", "1")
    assert status == 2 and "unknown recipe 'splicebert-mlmm'" in err
    assert "did you mean 'splicebert-mlm'" in err and "cancer-type" in err


def test_train_dry_run_prints_the_exact_command(capsys):
    status, out, _ = _run(capsys, "train", "metascdrug-meta", "--dry-run", "--", "--data-dir", "d x", "--steps", "3")
    assert status == 0
    assert shlex.split(out) == [
        "python",
        "-m",
        "txformers.training.meta_pretrain",
        "--mode",
        "maml",
        "--data-dir",
        "d x",
        "--steps",
        "3",
    ]
    status, out, _ = _run(
        capsys,
        "train",
        "--dry-run",
        "--launcher",
        "accelerate",
        "--num-processes",
        "2",
        "--cpu",
        "--config-file",
        "acc.yaml",
        "cellformer-mlm",
        "--",
        "--manifest",
        "m.tsv",
    )
    assert status == 0 and shlex.split(out) == [
        "accelerate",
        "launch",
        "--config_file",
        "acc.yaml",
        "--num_processes",
        "2",
        "--cpu",
        "-m",
        "txformers.training.pretrain_cellformer",
        "--manifest",
        "m.tsv",
    ]


def test_train_bad_options_are_refused(capsys):
    status, _, err = _run(capsys, "train", "splicebert-mlm", "--train-files", "x")
    assert status == 2 and "go after `--`" in err
    status, _, err = _run(capsys, "train", "cancer-type", "--launcher", "accelerate", "--dry-run")
    assert status == 2 and "does not use Accelerate" in err
    status, _, err = _run(
        capsys, "train", "splice-sites", "--launcher", "accelerate", "--num-processes", "2", "--dry-run"
    )
    assert status == 2 and "one process" in err
    status, _, err = _run(capsys, "train", "splicebert-mlm", "--num-processes", "2", "--dry-run")
    assert status == 2 and "--launcher accelerate" in err
    status, _, err = _run(capsys, "train")
    assert status == 2 and "--list" in err


# ----------------------------------------------------------------------------- train -> card -> push, on a tiny run
def test_tiny_run_trained_carded_and_staged(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    generator = torch.Generator().manual_seed(0)
    corpus.write_text(
        "\n".join(
            "".join("ACGT"[i] for i in torch.randint(0, 4, (100,), generator=generator).tolist()) for _ in range(12)
        )
        + "\n"
    )
    run = tmp_path / "run"
    status, _, _ = _run(
        capsys,
        "train",
        "splicebert-mlm",
        "--",
        "--train-files",
        corpus,
        "--eval-files",
        corpus,
        "--eval-max-sequences",
        "4",
        "--output-dir",
        run,
        "--preset",
        "tiny",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--stage",
        "variable",
        "--min-length",
        "32",
        "--max-length",
        "64",
        "--log-every",
        "1",
        "--save-every",
        "100",
        "--cpu",
    )
    assert status == 0 and (run / "final" / "model.safetensors").is_file()
    evaluation = json.loads((run / "eval.json").read_text())["eval"]

    card_path = run / "final" / "README.md"
    status, out, _ = _run(
        capsys,
        "card",
        run / "eval.json",
        "--kind",
        "splicebert-mlm",
        "--name",
        "tiny-mlm",
        "--checkpoint",
        run / "final",
        "--out",
        card_path,
    )
    assert status == 0 and "model-index with 2 metric(s)" in out
    card = validate_card(card_path)
    assert {r.metric_type: r.metric_value for r in card.data.eval_results} == {
        "accuracy": round(evaluation["accuracy"], 4),
        "balanced_accuracy": round(evaluation["balanced_accuracy"], 4),
    }
    text = card_path.read_text()
    assert "2 layers, hidden 32" in text and "--preset tiny" in text and not find_local_paths(text)

    # junk that must not be uploaded, and an absolute path in a JSON file
    (run / "final" / "__pycache__").mkdir()
    (run / "final" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (run / "final" / ".DS_Store").write_bytes(b"\0")
    (run / "final" / "training_args.json").write_text(json.dumps({"output_dir": str(tmp_path / "run"), "lr": 1e-3}))
    staged = tmp_path / "staged"
    status, out, _ = _run(capsys, "push", run / "final", "--repo-id", "me/tiny-mlm", "--dry-run", "--out", staged)
    assert status == 0
    files = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
    expected = sorted(p.name for p in (run / "final").iterdir() if p.is_file() and not p.name.startswith("."))
    assert files == expected and "README.md" in files
    assert (staged / "README.md").read_text() == text
    assert (staged / "model.safetensors").read_bytes() == (run / "final" / "model.safetensors").read_bytes()
    args = json.loads((staged / "training_args.json").read_text())
    assert args["lr"] == 1e-3 and not find_local_paths(args["output_dir"]) and args["output_dir"].endswith("run")
    assert "training_args.json /output_dir:" in out and "__pycache__/x.cpython-311.pyc" in out
    for name in files:
        assert name in out
    # the staged folder is not overwritten without --overwrite, and is replaced with it
    (staged / "README.md").write_text("keep")
    status, _, err = _run(capsys, "push", run / "final", "--repo-id", "me/tiny-mlm", "--dry-run", "--out", staged)
    assert status == 2 and "--overwrite" in err and (staged / "README.md").read_text() == "keep"
    status, _, _ = _run(
        capsys, "push", run / "final", "--repo-id", "me/tiny-mlm", "--dry-run", "--out", staged, "--overwrite"
    )
    assert status == 0 and (staged / "README.md").read_text() == text


def test_push_refuses_missing_or_invalid_cards_and_pickles(tmp_path, capsys):
    from txformers import SpliceBertConfig, SpliceBertForMaskedLM

    folder = tmp_path / "model"
    SpliceBertForMaskedLM(
        SpliceBertConfig(
            num_hidden_layers=1, hidden_size=8, num_attention_heads=2, intermediate_size=16, max_position_embeddings=34
        )
    ).save_pretrained(folder)
    out = tmp_path / "staged"
    status, _, err = _run(capsys, "push", folder, "--repo-id", "me/m", "--dry-run", "--out", out)
    assert status == 2 and "no model card" in err and "txformers card" in err
    (folder / "README.md").write_text("---\nlicense: mit\nlibrary_name: transformers\n---\n\n# m\n")
    status, _, err = _run(capsys, "push", folder, "--repo-id", "me/m", "--dry-run", "--out", out)
    assert status == 2 and "invalid" in err and "model-index" in err
    status, _, err = _run(
        capsys,
        "push",
        folder,
        "--repo-id",
        "me/m",
        "--card",
        ROOT / "model_cards/cellformer-pretrained.md",
        "--out",
        out,
        "--dry-run",
        "--repo-id",
        "not a valid id",
    )
    assert status == 2 and "not a valid repository id" in err
    (folder / "pytorch_model.bin").write_bytes(b"\0")
    status, _, err = _run(
        capsys,
        "push",
        folder,
        "--repo-id",
        "me/m",
        "--card",
        ROOT / "model_cards/cellformer-pretrained.md",
        "--dry-run",
        "--out",
        out,
    )
    assert status == 2 and "pickle" in err
    status, _, err = _run(capsys, "push", tmp_path / "nowhere", "--repo-id", "me/m", "--dry-run")
    assert status == 2 and "does not exist" in err
    assert not out.exists()


# ----------------------------------------------------------------------------- bundled checkpoints
def test_card_command_reproduces_a_bundled_card_and_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "card.md"
    done = _txformers(
        "card",
        "results/cellformer/pretrain.json",
        "--kind",
        "cellformer-mlm",
        "--name",
        "cellformer-pretrained",
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == (ROOT / "model_cards/cellformer-pretrained.md").read_text()
    out.write_text("keep")
    status, _, err = _run(
        capsys,
        "card",
        ROOT / "results/cellformer/pretrain.json",
        "--kind",
        "cellformer-mlm",
        "--name",
        "x",
        "--out",
        out,
    )
    assert status == 2 and "--overwrite" in err and out.read_text() == "keep"
    status, _, err = _run(
        capsys,
        "card",
        ROOT / "results/cellformer/cancer_type.json",
        "--kind",
        "cellformer-mlm",
        "--name",
        "x",
        "--out",
        tmp_path / "y.md",
    )
    assert status == 2 and "'heldout'" in err and not (tmp_path / "y.md").exists()


def test_card_missing_results(tmp_path, capsys):
    status, _, err = _run(
        capsys, "card", tmp_path / "none.json", "--kind", "cancer-type", "--name", "x", "--out", tmp_path / "c.md"
    )
    assert status == 2 and "does not exist" in err and not (tmp_path / "c.md").exists()


def test_push_dry_run_of_a_bundled_checkpoint(tmp_path):
    checkpoint = ROOT / "checkpoints" / "metascdrug-meta"
    out = tmp_path / "upload"
    done = _txformers("push", checkpoint, "--repo-id", "txformers/metascdrug-meta", "--dry-run", "--out", out)
    assert done.returncode == 0, done.stderr
    expected = sorted(
        p.relative_to(checkpoint).as_posix()
        for p in checkpoint.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    )
    staged = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert staged == expected
    for name in staged:
        path = out / name
        if name.endswith(".json"):
            original = json.loads((checkpoint / name).read_text())
            assert json.loads(path.read_text()) == portable(original)
            assert not find_local_paths(path.read_text()), name
        else:
            assert path.read_bytes() == (checkpoint / name).read_bytes(), name
    assert "total" in done.stdout and "model.safetensors" in done.stdout
    if find_local_paths((checkpoint / "training_args.json").read_text()):
        assert "training_args.json /data_dir" in done.stdout
