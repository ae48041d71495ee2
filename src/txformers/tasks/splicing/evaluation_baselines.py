# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Baselines ``txformers evaluate`` trains in the same run for the SpliceBERT splice-site checkpoints.

* **LightGBM on one-hot +-60 nt** (the logistic regression's features): fixed hyper-parameters
  (:data:`LIGHTGBM_PARAMS`), the number of trees chosen by early stopping on a stratified validation split cut from
  the training rows (never Test). The window classifier gets one binary model per site type
  (:func:`lightgbm_window_scores`); the per-nucleotide model a multinomial one on the logistic regression's
  positions, every annotated centre plus random labelled positions per Train window (:func:`nt_training_set`,
  :func:`lightgbm_nt_scores`).
* **The random-init twin**: the same architecture from random weights, trained with the checkpoint's own recipe
  (:func:`train_random_twin`): the recipe's command (:func:`nt_recipe`: the ``python -m
  txformers.training.finetune_splice_nt`` line of the checkpoint's README, written by ``nt_report --bundle``;
  :func:`window_recipe`: the ``command`` of ``results/splicebert/splice_sites.json``) re-run as a subprocess with
  ``--init random`` into a work folder (the task layer does not import ``training/``).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from ...hub import REPO_ROOT

LIGHTGBM_PARAMS = dict(
    n_estimators=2000,
    learning_rate=0.05,
    num_leaves=31,
    min_child_samples=20,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.5,
    reg_lambda=1.0,
    verbose=-1,
    n_jobs=1,
)
EARLY_STOPPING_ROUNDS = 50
VALIDATION_FRACTION = 0.1
NT_MODULE = "txformers.training.finetune_splice_nt"
WINDOW_MODULE = "txformers.training.finetune_splice"
WINDOW_RESULTS = REPO_ROOT / "results" / "splicebert" / "splice_sites.json"
# options of a recipe that say where it reads and writes, not how it trains: replaced by the twin's own
DROPPED = {"--data-dir", "--output-dir", "--results-json", "--cache-dir", "--init", "--overwrite"}
DROPPED_FLAGS = {"--overwrite"}


# ---------------------------------------------------------------------------------------------- LightGBM
def lightgbm_fit(x: np.ndarray, y: np.ndarray, seed: int = 0):
    """LightGBM (:data:`LIGHTGBM_PARAMS`) on ``(x, y)``; the trees stop growing when the log-loss of a stratified
    :data:`VALIDATION_FRACTION` of the rows (cut off before fitting) has not improved for
    :data:`EARLY_STOPPING_ROUNDS` rounds, and predictions use the best round."""
    import lightgbm
    from sklearn.model_selection import train_test_split

    fit, held = train_test_split(
        np.arange(len(y)), test_size=VALIDATION_FRACTION, stratify=y, random_state=seed, shuffle=True
    )
    model = lightgbm.LGBMClassifier(**LIGHTGBM_PARAMS, random_state=seed)
    model.fit(
        x[fit],
        y[fit],
        eval_X=(x[held],),
        eval_y=(y[held],),
        callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    return model


def lightgbm_window_scores(train: dict, test: dict, flank: int = 60, seed: int = 0) -> np.ndarray:
    """Window classifier's baseline: per site type, P(true site) of each Test window from LightGBM on the one-hot
    +-``flank`` nt of the Train windows of that type (``label`` 0 decoy, 1 donor, 2 acceptor)."""
    from .sites import SITE_CLASS, one_hot_flank

    scores = np.zeros(len(test["label"]))
    for site, column in SITE_CLASS.items():
        rows = train["site_type"] == site
        model = lightgbm_fit(
            one_hot_flank(train["sequence"][rows], flank), (train["label"][rows] == column).astype(int), seed
        )
        test_rows = test["site_type"] == site
        scores[test_rows] = model.predict_proba(one_hot_flank(test["sequence"][test_rows], flank))[:, 1]
    return scores


def nt_training_set(train: dict, flank: int = 60, none_per_window: int = 4, seed: int = 0):
    """``(x, y)`` of the per-nucleotide baselines (``finetune_splice_nt --model logreg``): one-hot +-``flank`` nt
    of every Train window's annotated centre and of ``none_per_window`` random labelled positions per window;
    ``y`` the per-nucleotide label (0 none, 1 acceptor, 2 donor)."""
    from . import nt_sites as nt

    labels = nt.window_labels(train)
    rng = np.random.default_rng(seed)
    ids = nt.encode_ids(list(train["sequence"]))
    rows = [np.arange(len(ids))] * (none_per_window + 1)
    positions = [np.where(train["site_type"] == "donor", nt.DONOR_INDEX, nt.ACCEPTOR_INDEX)]
    positions += [rng.integers(0, ids.shape[1], len(ids)) for _ in range(none_per_window)]
    rows, positions = np.concatenate(rows), np.concatenate(positions)
    y = labels[rows, positions]
    keep = y != -100
    return nt.one_hot_positions(ids, rows[keep], positions[keep], flank), y[keep]


def nt_centre_probabilities(model, test: dict, flank: int = 60) -> np.ndarray:
    """P(the window's site type) at each Test window's annotated centre from a fitted multinomial ``model``."""
    from . import nt_sites as nt

    index = np.where(test["site_type"] == "donor", nt.DONOR_INDEX, nt.ACCEPTOR_INDEX)
    column = np.where(test["site_type"] == "donor", nt.NT_LABEL2ID["donor"], nt.NT_LABEL2ID["acceptor"])
    probabilities = np.zeros((len(index), 3))
    x = nt.one_hot_positions(nt.encode_ids(list(test["sequence"])), np.arange(len(index)), index, flank)
    probabilities[:, model.classes_] = model.predict_proba(x)
    return probabilities[np.arange(len(index)), column]


def lightgbm_nt_scores(train: dict, test: dict, flank: int = 60, seed: int = 0) -> np.ndarray:
    """Per-nucleotide model's baseline: multinomial LightGBM on :func:`nt_training_set`, Test centres scored."""
    x, y = nt_training_set(train, flank, seed=seed)
    return nt_centre_probabilities(lightgbm_fit(x, y, seed), test, flank)


# ---------------------------------------------------------------------------------------------- random-init twin
def recipe_argv(command: str, module: str) -> list[str]:
    """The training options of a recorded ``python -m MODULE ...`` command, without those that say where it reads
    and writes (:data:`DROPPED`: data, output, cache, results file) and without ``--init``."""
    words = shlex.split(command.replace("\\\n", " "))
    try:
        start = words.index(module) + 1
    except ValueError:
        raise ValueError(f"not a `python -m {module}` command: {command!r}") from None
    argv, words = [], words[start:]
    index = 0
    while index < len(words):
        word = words[index]
        name = word.split("=", 1)[0]
        if name in DROPPED:
            takes_value = "=" not in word and name not in DROPPED_FLAGS
            index += 2 if takes_value else 1
            continue
        argv.append(word)
        index += 1
    return argv


def nt_recipe(checkpoint: str | Path) -> str:
    """The ``python -m txformers.training.finetune_splice_nt`` command recorded in a per-nucleotide checkpoint's
    README (the recipe ``nt_report --bundle`` writes under "Command:")."""
    readme = Path(checkpoint) / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    for line in text.splitlines():
        if line.strip().startswith(f"python -m {NT_MODULE} "):
            return line.strip()
    raise ValueError(f"{readme} records no `python -m {NT_MODULE}` command: no recipe to train the twin with")


def window_recipe(results: str | Path = WINDOW_RESULTS) -> str:
    """The ``python -m txformers.training.finetune_splice`` command that trained the window classifier (the
    ``command`` of ``results/splicebert/splice_sites.json``)."""
    return json.loads(Path(results).read_text())["command"]


def twin_command(recipe: str, module: str, data: str | Path, workdir: str | Path, **overrides: str) -> list[str]:
    """The subprocess argv that trains the random-init twin: the recipe's training options, ``--init random``,
    ``data`` and ``workdir``; ``overrides`` (``max_steps="2"``) replace or add options (tests)."""
    argv = recipe_argv(recipe, module)
    for key, value in overrides.items():
        option = "--" + key.replace("_", "-")
        if option in argv:
            argv[argv.index(option) + 1] = str(value)
        else:
            argv += [option, str(value)]
    return [sys.executable, "-m", module, *argv, "--init", "random"] + [
        "--data-dir",
        str(Path(data).resolve()),
        "--output-dir",
        str(Path(workdir).resolve()),
    ]


def train_random_twin(
    recipe: str, module: str, data: str | Path, workdir: str | Path, log: str | Path | None = None, **overrides: str
) -> Path:
    """Train the random-init twin with ``recipe`` (a recorded command of ``module``) into ``workdir`` and return
    its model folder (``best/`` of ``finetune_splice_nt``, ``model/`` of ``finetune_splice``). Runs in the
    repository root (the recipe's relative ``--pretrained`` path), its output appended to ``log`` (default
    ``workdir/train.log``); a failed run raises :class:`RuntimeError` with the log's tail.

    A ``workdir`` that already holds a finished run of the very same command (``workdir/command.json`` and the
    run's ``results.json``) is not trained again: its model is returned (a long twin trained once in a kept
    work folder, ``TXFORMERS_EVALUATE_WORKDIR``, serves the full evaluation that follows); an unfinished one of the
    same command resumes (``finetune_splice_nt``), any other run there is removed first."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    log = Path(log) if log else workdir / "train.log"
    command = twin_command(recipe, module, data, workdir / "run", **overrides)
    model = workdir / "run" / ("best" if module == NT_MODULE else "model")
    stamp = workdir / "command.json"
    same = stamp.is_file() and json.loads(stamp.read_text()) == command[1:]
    if same and (workdir / "run" / "results.json").is_file():
        with open(log, "a") as handle:
            handle.write("reused the finished run of the same command\n")
        return model
    if (workdir / "run").exists() and not (same and module == NT_MODULE):  # only finetune_splice_nt resumes
        shutil.rmtree(workdir / "run")
    stamp.write_text(json.dumps(command[1:]))
    with open(log, "a") as handle:
        handle.write("$ " + shlex.join(command) + "\n")
        handle.flush()
        done = subprocess.run(
            command, cwd=REPO_ROOT, stdout=handle, stderr=subprocess.STDOUT, env=os.environ.copy(), check=False
        )
    if done.returncode:
        tail = "".join(Path(log).read_text().splitlines(keepends=True)[-20:])
        raise RuntimeError(f"random-init twin training failed (exit {done.returncode}); log {log}:\n{tail}")
    return model


__all__ = [
    "LIGHTGBM_PARAMS",
    "lightgbm_fit",
    "lightgbm_nt_scores",
    "lightgbm_window_scores",
    "nt_centre_probabilities",
    "nt_recipe",
    "nt_training_set",
    "recipe_argv",
    "train_random_twin",
    "twin_command",
    "window_recipe",
]
