# Copyright 2026 The txformers authors. BSD-3-Clause.
"""``txformers evaluate`` for a SpliceBERT splice-site window classifier (``SpliceBertForSequenceClassification``,
the bundled ``splicebert-small-splice-sites``): the Test windows of its training recipe re-scored, with bootstrap
95 % CIs over windows, next to logistic regression and LightGBM on the one-hot +-60 nt trained on the Train windows
in the same run (as ``python -m txformers.training.finetune_splice`` does for the logistic regression) and, in full
mode, the random-init twin: the recipe of ``results/splicebert/splice_sites.json`` re-run with ``--init random``
(:mod:`.evaluation_baselines`).

``quick`` scores 400 Test windows per site type (a fixed random draw) and trains the logistic regression and
LightGBM on 2,000 Train windows per site type; the twin is trained in full mode only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...evaluation import make_results
from ...hub import SHARED_DATA

DATA = ("splice", "ensemblesplice_600nt", "homo_sapiens")
QUICK_TEST, QUICK_TRAIN = 400, 2000
METRICS = ("auroc", "ap", "accuracy")


def default_data() -> Path:
    return SHARED_DATA.joinpath(*DATA)


def _splits(data: Path, crop: int) -> dict[str, dict[str, np.ndarray]]:
    """Train and Test windows (Test is the file's Test; Train is all of Train: validation_fraction plays no role)."""
    import tempfile

    from ...datasets.splice_sites import SpliceSitesBuilder

    with tempfile.TemporaryDirectory() as cache:
        builder = SpliceSitesBuilder(data_dir=str(data), crop=crop, validation_fraction=0.05, seed=0, cache_dir=cache)
        builder.download_and_prepare()
        splits = builder.as_dataset()
        if "test" not in splits:
            raise ValueError(f"{data} holds no Test/ windows to score")
        names = splits["test"].features["site_type"].names
        out = {}
        for name, split in splits.items():
            out[name] = {
                "sequence": np.array(split["sequence"]),
                "label": np.array(split["label"]),
                "site_type": np.array([names[i] for i in split["site_type"]]),
            }
    if "train" not in out:  # a Test-only folder (another species kept aside): only Test
        return {"test": out["test"]}
    train = {key: np.concatenate([out["train"][key], out["validation"][key]]) for key in out["train"]}
    return {"train": train, "test": out["test"]}


def _subsample(split: dict[str, np.ndarray], per_type: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = np.sort(
        np.concatenate(
            [
                rng.choice(rows, min(per_type, len(rows)), replace=False)
                for rows in (np.flatnonzero(split["site_type"] == site) for site in np.unique(split["site_type"]))
            ]
        )
    )
    return {key: value[rows] for key, value in split.items()}


def _model_probabilities(checkpoint: Path, sequences: np.ndarray, batch_size: int = 256) -> np.ndarray:
    import torch

    from ...models.splicebert import SpliceBertForSequenceClassification
    from ...tokenizers.tokenization_nucleotide import NucleotideTokenizer

    model = SpliceBertForSequenceClassification.from_pretrained(checkpoint).eval()
    tokenizer = NucleotideTokenizer()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(sequences), batch_size):
            batch = tokenizer(list(sequences[start : start + batch_size]), return_tensors="pt")
            outputs.append(model(input_ids=batch["input_ids"]).logits.float().softmax(-1))
    return torch.cat(outputs).numpy()


def _logistic_scores(train: dict, test: dict, flank: int = 60, seed: int = 0) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    from .sites import SITE_CLASS, one_hot_flank

    scores = np.zeros(len(test["label"]))
    for site, column in SITE_CLASS.items():
        rows = train["site_type"] == site
        model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
        model.fit(one_hot_flank(train["sequence"][rows], flank), (train["label"][rows] == column).astype(int))
        test_rows = test["site_type"] == site
        scores[test_rows] = model.predict_proba(one_hot_flank(test["sequence"][test_rows], flank))[:, 1]
    return scores


def _rows(model: str, scores: np.ndarray, test: dict, n_bootstrap: int) -> list[dict[str, Any]]:
    from .evaluation_models import binary_rows
    from .sites import SITE_CLASS

    rows = []
    for site, column in SITE_CLASS.items():
        mask = test["site_type"] == site
        truth = (test["label"][mask] == column).astype(int)
        score = scores[mask, column] if scores.ndim == 2 else scores[mask]
        rows += binary_rows(model, truth, score, n_bootstrap, metrics=METRICS, setting=f"{site} windows (Test)")
    return rows


def evaluate_checkpoint(checkpoint: str | Path, data: str | Path | None = None, quick: bool = False) -> dict:
    """The evaluation of a SpliceBERT checkpoint as a results dict of :mod:`txformers.evaluation`: the splice-site
    window classifier here, the masked LM, per-nucleotide and variant-effect models in :mod:`.evaluation_models`."""
    checkpoint = Path(checkpoint)
    config = json.loads((checkpoint / "config.json").read_text())
    architectures = config.get("architectures") or []
    from .evaluation_models import EVALUATORS
    from .evaluation_models import default_data as other_data

    for architecture in architectures:  # the other SpliceBERT checkpoints: masked LM, per-nt sites, variant effect
        if architecture in EVALUATORS:
            folder = Path(data) if data is not None else other_data(architecture)
            if not folder.exists():
                raise FileNotFoundError(f"data {folder} is missing")
            return EVALUATORS[architecture](checkpoint, folder, quick)
    if "SpliceBertForSequenceClassification" not in architectures:
        raise ValueError(
            f"{checkpoint} is not a splice-site window classifier (SpliceBertForSequenceClassification) nor one of "
            f"{', '.join(EVALUATORS)}"
        )
    data = Path(data) if data is not None else default_data()
    if not data.is_dir():
        raise FileNotFoundError(f"splice-site windows folder {data} is missing")
    start = time.perf_counter()
    splits = _splits(data, int(config.get("window_size", 120)))
    # a Test-only folder (another species kept aside): the baselines and the twin train on the human Train
    # windows the checkpoint was trained on, so every row is the same cross-species transfer
    train_data = data if "train" in splits else default_data()
    if train_data != data:
        splits["train"] = _splits(train_data, int(config.get("window_size", 120)))["train"]
    train, test = splits["train"], splits["test"]
    if quick:
        train, test = _subsample(train, QUICK_TRAIN, 0), _subsample(test, QUICK_TEST, 0)
    n_bootstrap = 200 if quick else 1000
    rows = _rows(checkpoint.name, _model_probabilities(checkpoint, test["sequence"]), test, n_bootstrap)
    rows += _rows("logistic_regression_onehot_60nt", _logistic_scores(train, test), test, n_bootstrap)
    from .evaluation_baselines import WINDOW_MODULE, lightgbm_window_scores, train_random_twin, window_recipe
    from .evaluation_models import twin_workdir

    rows += _rows("lightgbm_onehot_60nt", lightgbm_window_scores(train, test), test, n_bootstrap)
    recipe = None if quick else window_recipe()
    if recipe:  # the twin: the recipe from random weights, trained now
        with twin_workdir(checkpoint) as workdir:
            twin = train_random_twin(recipe, WINDOW_MODULE, train_data, workdir)
            rows += _rows("random_init_twin", _model_probabilities(twin, test["sequence"]), test, n_bootstrap)
    return make_results(
        checkpoint,
        data,
        "Test windows of the folder (quick: 400 per site type, seed 0); logistic regression and LightGBM trained on "
        + ("Train" if train_data == data else f"the Train windows of {train_data} (the folder has no Train/)"),
        [0],
        None,
        rows,
        notes=[
            "CIs: bootstrap over Test windows.",
            "LightGBM: one binary model per site type, fixed hyper-parameters, trees stopped early on 10 % of its "
            "Train windows (never Test).",
            (
                "random_init_twin: the recipe of results/splicebert/splice_sites.json re-run in this evaluation with "
                "--init random: " + recipe
                if recipe
                else "The random-init twin is trained in full mode only (txformers evaluate CHECKPOINT)."
            ),
        ],
        seconds=round(time.perf_counter() - start, 1),
    )


__all__ = ["evaluate_checkpoint"]
