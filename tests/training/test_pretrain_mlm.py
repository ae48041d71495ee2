import json
import random
import shutil
import subprocess

import pytest
import torch
from safetensors.torch import load_file

from txformers import NucleotideTokenizer
from txformers.tasks.splicing.mlm import mask_tokens
from txformers.training.pretrain_mlm import FragmentStream, main, read_sequences


@pytest.fixture
def corpus(tmp_path):
    rng = random.Random(0)
    path = tmp_path / "corpus.fa"
    with path.open("w") as handle:
        for i in range(30):
            sequence = "".join(rng.choice("ACGT") for _ in range(rng.randint(80, 300)))
            handle.write(f">seq{i}\n" + "\n".join(sequence[j : j + 60] for j in range(0, len(sequence), 60)) + "\n")
    return path


def test_read_sequences_fasta_and_lines(tmp_path, corpus):
    records = list(read_sequences(corpus))
    assert len(records) == 30 and all(80 <= len(r) <= 300 for r in records)
    lines = tmp_path / "lines.txt"
    lines.write_text("ACGT\n\nGGTA\n")
    assert list(read_sequences(lines)) == ["ACGT", "GGTA"]


def test_fragment_stream_lengths_shards_and_determinism(corpus):
    fixed = FragmentStream([corpus], fixed_length=64, min_length=64, seed=1, repeat=False)
    fragments = list(fixed)
    assert fragments and all(len(f) == 64 for f in fragments[:-1]) and all(len(f) <= 64 for f in fragments)
    variable = list(FragmentStream([corpus], fixed_length=None, min_length=20, max_length=50, repeat=False))
    assert all(len(f) <= 50 for f in variable) and len({len(f) for f in variable}) > 5
    again = list(FragmentStream([corpus], fixed_length=64, min_length=64, seed=1, repeat=False))
    assert again == fragments
    shards = [set(FragmentStream([corpus], 64, 64, seed=1, shard=k, num_shards=2, repeat=False)) for k in (0, 1)]
    assert shards[0] and shards[1] and not (shards[0] & shards[1])


def test_masking_follows_80_10_10_and_spares_special_tokens():
    tok = NucleotideTokenizer()
    batch = tok(["ACGT" * 2000, "ACG"], padding=True, return_tensors="pt")
    masked, labels = mask_tokens(batch["input_ids"], batch["attention_mask"], tok, torch.Generator().manual_seed(0))
    selected = labels != -100
    assert abs(selected[0].float().mean().item() - 0.15) < 0.02
    assert not selected[:, 0].any() and not selected[batch["attention_mask"] == 0].any()
    assert torch.equal(labels[selected], batch["input_ids"][selected])
    to_mask = (masked == tok.mask_token_id)[selected].float().mean().item()
    unchanged = (masked == batch["input_ids"])[selected].float().mean().item()
    assert abs(to_mask - 0.8) < 0.03 and 0.1 < unchanged < 0.16  # 10 % kept + 1/4 of the 10 % random
    assert set(masked[selected].unique().tolist()) <= {4, 6, 7, 8, 9}


def _run(corpus, out, *extra):
    main(
        [
            "--train-files",
            str(corpus),
            "--output-dir",
            str(out),
            "--preset",
            "tiny",
            "--max-steps",
            "6",
            "--save-every",
            "3",
            "--log-every",
            "1",
            "--batch-size",
            "4",
            "--fixed-length",
            "64",
            "--warmup-steps",
            "2",
            "--lr",
            "1e-3",
            "--cpu",
            *extra,
        ]
    )


def test_resume_after_kill_gives_the_same_model(tmp_path, corpus):
    _run(corpus, tmp_path / "straight")
    _run(corpus, tmp_path / "killed", "--stop-after", "4")
    assert (tmp_path / "killed" / "checkpoint-3").exists() and not (tmp_path / "killed" / "final").exists()
    _run(corpus, tmp_path / "killed", "--resume")
    a = load_file(tmp_path / "straight" / "final" / "model.safetensors")
    b = load_file(tmp_path / "killed" / "final" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    records = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 6
    assert all(0 < r["tokens_per_second"] < float("inf") for r in records)


def test_pretraining_learns_a_skewed_composition(tmp_path):
    """70 % of the corpus is A: a model that trains at all predicts masked A's well above chance."""
    rng = random.Random(0)
    path = tmp_path / "skewed.txt"
    path.write_text("\n".join("".join(rng.choices("ACGT", weights=[7, 1, 1, 1], k=150)) for _ in range(40)) + "\n")
    main(
        [
            "--train-files",
            str(path),
            "--eval-files",
            str(path),
            "--output-dir",
            str(tmp_path / "out"),
            "--preset",
            "tiny",
            "--max-steps",
            "40",
            "--batch-size",
            "8",
            "--fixed-length",
            "100",
            "--lr",
            "1e-2",
            "--warmup-steps",
            "5",
            "--log-every",
            "10",
            "--save-every",
            "0",
            "--cpu",
        ]
    )
    result = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert result["eval"]["accuracy"] > 0.55  # uniform guessing gives 0.25
    losses = [json.loads(line)["loss"] for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0] - 0.5


@pytest.mark.slow
def test_two_processes_with_accelerate_launch(tmp_path, corpus):
    if shutil.which("accelerate") is None:
        pytest.skip("accelerate launcher not on PATH")
    command = [
        "accelerate",
        "launch",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--cpu",
        "-m",
        "txformers.training.pretrain_mlm",
        "--train-files",
        str(corpus),
        "--output-dir",
        str(tmp_path / "ddp"),
        "--preset",
        "tiny",
        "--max-steps",
        "4",
        "--batch-size",
        "4",
        "--fixed-length",
        "64",
        "--log-every",
        "1",
        "--save-every",
        "2",
        "--cpu",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (tmp_path / "ddp" / "final" / "model.safetensors").exists()
    assert (tmp_path / "ddp" / "checkpoint-2").exists()
    assert len((tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()) == 4


def test_resume_logs_each_step_once(tmp_path, corpus):
    _run(corpus, tmp_path / "killed", "--stop-after", "4")  # logged steps 1-4, checkpoint at 3
    _run(corpus, tmp_path / "killed", "--resume")
    steps = [json.loads(line)["step"] for line in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, corpus):
    from txformers.io import UserError

    _run(corpus, tmp_path / "out", "--stop-after", "3")
    with pytest.raises(UserError, match="--resume.*--overwrite"):
        _run(corpus, tmp_path / "out")
    with pytest.raises(UserError, match="--lr"):  # resume checks the run is the same run
        _run(corpus, tmp_path / "out", "--resume", "--lr", "5e-4")
    other = tmp_path / "other.fa"
    other.write_text(">x\n" + "ACGT" * 40 + "\n")
    with pytest.raises(UserError, match="data files"):
        main(["--train-files", str(other), "--output-dir", str(tmp_path / "out"), "--preset", "tiny", "--max-steps",
              "6", "--save-every", "3", "--log-every", "1", "--batch-size", "4", "--fixed-length", "64",
              "--warmup-steps", "2", "--lr", "1e-3", "--cpu", "--resume"])  # fmt: skip
    _run(corpus, tmp_path / "out", "--overwrite")  # a new run: the old checkpoints go
    steps = [json.loads(line)["step"] for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("text", ["", ">only_a_header\n", "\n\n"])
def test_an_empty_corpus_is_an_error_not_a_hang(tmp_path, text):
    import threading

    path = tmp_path / "empty.fa"
    path.write_text(text)
    outcome = {}

    def draw():
        try:
            next(iter(FragmentStream([path], fixed_length=64)))
        except Exception as error:  # noqa: BLE001 - recorded for the assertion
            outcome["error"] = error

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the stream waits forever on an empty corpus"
    assert isinstance(outcome.get("error"), ValueError) and "no sequences" in str(outcome["error"])


def test_fewer_sequences_than_processes_is_an_error(tmp_path):
    path = tmp_path / "one.fa"
    path.write_text(">a\n" + "ACGT" * 30 + "\n")
    with pytest.raises(ValueError, match="fewer than processes"):
        next(iter(FragmentStream([path], fixed_length=64, shard=1, num_shards=2)))
