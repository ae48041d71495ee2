# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Hugging Face pipelines for SpliceBERT: splice-site prediction and zero-shot variant effects.

Two tasks:

* ``"splice-site-prediction"``, :class:`SpliceSitePipeline`, on a window classifier
  (``AutoModelForSequenceClassification`` with ``donor``/``acceptor``/``neither`` labels and
  ``config.window_size``). Input: nucleotide sequences of any length. Output: per-nucleotide donor
  and acceptor probabilities.
* ``"splice-variant-effect"``, :class:`SpliceVariantEffectPipeline`, on a masked LM
  (``AutoModelForMaskedLM``). Input: ``(wild type, mutant)`` pairs. Output: the zero-shot
  KL-context score of SpliceBERT and the per-position KL profile.

**Position convention of splice sites** (0-based here; the command line prints 1-based).
Every ``GT`` is a donor candidate and every ``AG`` an acceptor candidate. The model reads a
``window_size``-nt window with the dinucleotide at window indices ``window_size // 2 - 1`` and
``window_size // 2`` (the layout of ``txformers.datasets.splice_sites``), padded with ``N`` past the
sequence ends. The donor probability is reported at the ``G`` of ``GT``, the first intron
nucleotide. The acceptor probability is reported at the ``G`` of ``AG``, the last intron
nucleotide. All other positions get 0.

This file is portable: it imports only the standard library, numpy, torch, transformers and its
sibling ``scoring_splicebert.py``, so both can be copied into a checkpoint folder
(:func:`add_pipelines_to_checkpoint`). Then
``pipeline(task, model=folder, trust_remote_code=True)`` works where txformers is not installed.
With txformers imported, ``txformers.hub.register`` registers both tasks: a folder without
``custom_pipelines`` then needs no ``trust_remote_code``; for one with it (the bundled
``checkpoints/splicebert-small-pretrained``) transformers asks for ``trust_remote_code=True`` or
``pipeline_class=SpliceVariantEffectPipeline``. The windows, probabilities and scores come from
the SpliceBERT scoring engine (``scoring_splicebert.py``, copied into the checkpoint with this file),
which the command line and ``txformers.tasks.splicing`` use too, so the numbers are identical.

Example:

```python
>>> from transformers import pipeline
>>> scorer = pipeline("splice-variant-effect", model="checkpoints/splicebert-small-pretrained",
...                   trust_remote_code=True)  # doctest: +SKIP
>>> wt = "ACGTTTCAGGTAAGTCCAGGACGT" * 4
>>> result = scorer((wt, wt[:40] + "A" + wt[41:]))  # doctest: +SKIP
>>> result["position"], result["kl_profile"].shape  # doctest: +SKIP
(40, (96,))
```
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers.pipelines.base import ChunkPipeline, Pipeline

from .scoring_splicebert import (
    DEFAULT_MAX_DISTANCE,
    check_snv,
    clean_sequence,
    kl_context_score,
    kl_profile,
    nucleotide_probabilities,
    splice_site_label_ids,
    splice_site_tracks,
    splice_site_windows,
    token_ids,
    validate_sequence,
)

SPLICE_SITE_TASK = "splice-site-prediction"
VARIANT_EFFECT_TASK = "splice-variant-effect"
VARIANT_PAIR_TASK = "splice-variant-pair"


# ---------------------------------------------------------------------------------------------
# Splice sites
# ---------------------------------------------------------------------------------------------
class SpliceSitePipeline(ChunkPipeline):
    """Per-nucleotide donor and acceptor probabilities of sequences of any length.

    Every ``GT`` and ``AG`` of the sequence is classified by the window model, one window per
    candidate (see the module docstring for the exact convention). Windows of all input
    sequences are batched together: ``batch_size`` is the number of windows per forward pass
    (default 32).

    Input: a sequence (DNA or RNA, any case, IUPAC codes read as ``N``), a dict
    ``{"sequence": ..., "name": ...}``, or a list of them.

    Output per sequence: a dict with ``sequence`` (cleaned, upper case, ``U`` as ``T``),
    ``donor_prob`` and ``acceptor_prob`` (float32 arrays over the sequence, 0 at non-candidate
    positions), ``donor_positions`` and ``acceptor_positions`` (0-based positions of the
    candidates, where the probabilities are reported) and ``name`` (from a dict input, else ``None``).

    Parameters (at creation or per call): ``window_size`` (default ``config.window_size``).

    Example:

    ```python
    >>> from transformers import pipeline
    >>> finder = pipeline("splice-site-prediction", model="runs/splice-sites/model")  # doctest: +SKIP
    >>> result = finder("CCCAGGTAAGTAT" * 40)  # doctest: +SKIP
    >>> result["donor_prob"].shape, result["donor_positions"][:2]  # doctest: +SKIP
    ((520,), array([5, 9]))
    ```
    """

    _load_tokenizer = True

    def __init__(self, *args: Any, **kwargs: Any):
        if kwargs.get("batch_size") is None:
            kwargs["batch_size"] = 32
        super().__init__(*args, **kwargs)

    def _sanitize_parameters(self, window_size: int | None = None, **kwargs: Any):
        preprocess = {}
        if window_size is not None:
            preprocess["window_size"] = window_size
        if kwargs:
            raise TypeError(f"unknown parameters {sorted(kwargs)} for {type(self).__name__}")
        return preprocess, {}, {}

    def _window_size(self, window_size: int | None) -> int:
        window_size = window_size or getattr(self.model.config, "window_size", None)
        if not window_size:
            raise ValueError(
                "the model's config has no window_size: pass window_size= (the window length it was trained on)"
            )
        window_size = int(window_size)
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if window_size < 2 or (limit and window_size + 2 > limit):
            raise ValueError(f"window_size {window_size} must be in 2..{(limit or 0) - 2} for this model")
        return window_size

    def preprocess(self, inputs: str | dict[str, Any], window_size: int | None = None):
        name = None
        if isinstance(inputs, dict):
            if "sequence" not in inputs:
                raise ValueError(f"a dict input needs a 'sequence' key, got {sorted(inputs)}")
            name, inputs = inputs.get("name"), inputs["sequence"]
        what = f"sequence {name!r}" if name is not None else "sequence"
        if not isinstance(inputs, str):
            raise TypeError(f"{what} is a {type(inputs).__name__}, expected a str")
        validate_sequence(self.tokenizer, inputs, what)
        splice_site_label_ids(self.model.config)  # fail early on a model without donor/acceptor labels
        window = self._window_size(window_size)
        vocab = self.tokenizer.get_vocab()
        ids = token_ids(self.tokenizer, inputs)
        letters = {vocab[base]: base for base in "ACGTN"}
        sequence = "".join(letters.get(int(i), "N") for i in ids)
        cls_id, sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        candidates = splice_site_windows(ids, vocab, window, cls_id, sep_id)
        if not candidates:  # one placeholder window so that the sequence still comes out (with no sites)
            candidates = [(-1, -1, np.concatenate([[cls_id], np.full(window, vocab["N"]), [sep_id]]))]
        for number, (position, site, window_ids) in enumerate(candidates):
            input_ids = torch.as_tensor(window_ids, dtype=torch.long)[None]
            yield {
                "input_ids": input_ids,
                "attention_mask": torch.ones_like(input_ids),
                "position": position,
                "site": site,
                "sequence": sequence,
                "name": name,
                "is_last": number == len(candidates) - 1,
            }

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        logits = self.model(input_ids=model_inputs["input_ids"], attention_mask=model_inputs["attention_mask"]).logits
        outputs = {"probabilities": logits.float().softmax(-1)}
        for key in ("position", "site", "sequence", "name", "is_last"):
            outputs[key] = model_inputs[key]
        return outputs

    def postprocess(self, all_outputs: list[dict[str, Any]]) -> dict[str, Any]:
        donor_label, acceptor_label = splice_site_label_ids(self.model.config)
        sequence = all_outputs[0]["sequence"]
        scored = [
            (int(output["position"]), int(output["site"]), output["probabilities"])
            for output in all_outputs
            if int(output["site"]) >= 0
        ]
        return {
            "name": all_outputs[0]["name"],
            "sequence": sequence,
            **splice_site_tracks(len(sequence), scored, donor_label, acceptor_label),
        }


# ---------------------------------------------------------------------------------------------
# Variant effect
# ---------------------------------------------------------------------------------------------
class SpliceVariantEffectPipeline(Pipeline):
    """Zero-shot effect of single-nucleotide variants from a SpliceBERT masked LM.

    Both sequences go through the model unmasked. The per-position ``KL(mut || wt)`` of the A/C/G/T
    distributions is the ``kl_profile``, and ``kl_context`` is SpliceBERT's KL-context score around
    the variant (``kl_context_score`` of ``scoring_splicebert.py``). ``txformers.tasks.splicing`` and
    ``txformers splice variants`` use the same functions, so the numbers are identical.

    Input: a ``(wt, mut)`` or ``(wt, mut, position)`` tuple, a dict ``{"wt": ..., "mut": ...,
    "position": ...}`` (``position`` 0-based and optional: the one differing position is used), or
    a list of them. Sequences longer than the model's window are read in overlapping windows.

    Output per variant: ``position``, ``ref``, ``alt``, ``kl_context``, ``kl_variant`` (the KL at the
    variant) and ``kl_profile`` (float64 array over the sequence); with
    ``return_probabilities=True`` also ``p_wt`` and ``p_mut`` (``(L, 4)``, columns A, C, G, T).

    Parameters (at creation or per call): ``max_distance`` (100), ``edge`` (``"one_sided"`` or
    ``"strict"``), ``window_size`` and ``stride`` (long sequences), ``window_batch_size`` (windows per
    forward pass, 32), ``return_probabilities``.

    Example:

    ```python
    >>> from transformers import pipeline
    >>> scorer = pipeline("splice-variant-effect", model="checkpoints/splicebert-small-pretrained",
    ...                   trust_remote_code=True)  # doctest: +SKIP
    >>> scorer({"wt": "ACGTAGGTAAGT" * 10, "mut": "ACGTAGCTAAGT" + "ACGTAGGTAAGT" * 9})["position"]  # doctest: +SKIP
    6
    ```
    """

    _load_tokenizer = True

    def _sanitize_parameters(
        self,
        max_distance: int | None = None,
        edge: str | None = None,
        window_size: int | None = None,
        stride: int | None = None,
        window_batch_size: int | None = None,
        return_probabilities: bool | None = None,
        **kwargs: Any,
    ):
        if kwargs:
            raise TypeError(f"unknown parameters {sorted(kwargs)} for {type(self).__name__}")
        forward = {"window_size": window_size, "stride": stride, "window_batch_size": window_batch_size}
        postprocess = {"max_distance": max_distance, "edge": edge, "return_probabilities": return_probabilities}
        forward = {key: value for key, value in forward.items() if value is not None}
        postprocess = {key: value for key, value in postprocess.items() if value is not None}
        if edge is not None and edge not in ("one_sided", "strict"):
            raise ValueError(f"edge must be 'one_sided' or 'strict', got {edge!r}")
        return {}, forward, postprocess

    def preprocess(self, inputs: Any) -> dict[str, Any]:
        if isinstance(inputs, dict):
            wt = inputs.get("wt", inputs.get("wt_sequence"))
            mut = inputs.get("mut", inputs.get("mut_sequence"))
            if wt is None or mut is None:
                raise ValueError(f"a dict input needs 'wt' and 'mut' keys, got {sorted(inputs)}")
            position = inputs.get("position")
            name = str(inputs.get("name", "variant"))
        elif isinstance(inputs, (tuple, list)) and len(inputs) in (2, 3):
            wt, mut, position = (*inputs, None) if len(inputs) == 2 else inputs
            name = "variant"
        else:
            raise TypeError(
                "a variant is a (wt, mut) or (wt, mut, position) tuple or a dict with 'wt' and 'mut', "
                f"got {type(inputs).__name__}"
            )
        for label, sequence in (("WT", wt), ("mutant", mut)):
            if not isinstance(sequence, str):
                raise TypeError(f"{name}: the {label} sequence is a {type(sequence).__name__}, expected a str")
            validate_sequence(self.tokenizer, sequence, f"{name}: the {label} sequence")
        wt, mut = clean_sequence(wt), clean_sequence(mut)
        position, ref, alt = check_snv(wt, mut, position, name=name)
        return {"wt": wt, "mut": mut, "position": position, "ref": ref, "alt": alt}

    def _forward(
        self,
        model_inputs: dict[str, Any],
        window_size: int | None = None,
        stride: int | None = None,
        window_batch_size: int = 32,
    ) -> dict[str, Any]:
        batched = isinstance(model_inputs["wt"], list)  # lists when the pipeline batches variants
        wts = model_inputs["wt"] if batched else [model_inputs["wt"]]
        muts = model_inputs["mut"] if batched else [model_inputs["mut"]]
        unique = list(dict.fromkeys(wts + muts))
        probabilities = dict(
            zip(
                unique,
                nucleotide_probabilities(
                    self.model,
                    self.tokenizer,
                    unique,
                    batch_size=window_batch_size,
                    device=self.device,
                    window_size=window_size,
                    stride=stride,
                ),
            )
        )
        p_wt, p_mut = [probabilities[s] for s in wts], [probabilities[s] for s in muts]
        outputs = {"p_wt": p_wt if batched else p_wt[0], "p_mut": p_mut if batched else p_mut[0]}
        for key in ("position", "ref", "alt"):
            outputs[key] = model_inputs[key]
        return outputs

    def postprocess(
        self,
        model_outputs: dict[str, Any],
        max_distance: int = DEFAULT_MAX_DISTANCE,
        edge: str = "one_sided",
        return_probabilities: bool = False,
    ) -> dict[str, Any]:
        # A batched run hands each variant back with a leading batch axis of 1.
        p_wt, p_mut = (np.asarray(model_outputs[key]) for key in ("p_wt", "p_mut"))
        p_wt, p_mut = (p[0] if p.ndim == 3 else p for p in (p_wt, p_mut))
        position = int(model_outputs["position"])
        kl = kl_profile(p_wt, p_mut)
        result = {
            "position": position,
            "ref": model_outputs["ref"],
            "alt": model_outputs["alt"],
            "kl_context": kl_context_score(kl, position, max_distance=max_distance, edge=edge),
            "kl_variant": float(kl[position]),
            "kl_profile": kl,
        }
        if return_probabilities:
            result.update(p_wt=p_wt, p_mut=p_mut)
        return result


class SpliceVariantPairPipeline(Pipeline):
    """Supervised splice-disruption score of an SNV from a ``SpliceBertForVariantEffect`` checkpoint.

    Input: a dict ``{"wt": ..., "mut": ..., "exon_start": ..., "exon_end": ...}`` (exon 0-based,
    half-open in the WT sequence; ``position`` optional: the one differing position is used), or a list
    of them. Reading CAGI / MaPSy tables (genomic exon coordinates, W/M orientation) is
    ``txformers.datasets.mapsy_pairs.read_pairs`` and ``txformers splice variants --table``.

    Output per variant: ``score`` (P(exonic splicing mutation); higher = more likely splice-disrupting),
    ``logit``, ``log2_vivo_ratio`` and ``log2_vitro_ratio`` (predicted allelic ratios), ``position``,
    ``ref``, ``alt``.
    """

    _load_tokenizer = True

    def _sanitize_parameters(self, **kwargs: Any):
        if kwargs:
            raise TypeError(f"unknown parameters {sorted(kwargs)} for {type(self).__name__}")
        return {}, {}, {}

    def preprocess(self, inputs: Any) -> dict[str, Any]:
        if not isinstance(inputs, dict) or not {"wt", "mut", "exon_start", "exon_end"} <= set(inputs):
            raise ValueError("a variant is a dict with 'wt', 'mut', 'exon_start' and 'exon_end' (0-based, half-open)")
        name = str(inputs.get("name", "variant"))
        for label in ("wt", "mut"):
            validate_sequence(self.tokenizer, inputs[label], f"{name}: the {label} sequence")
        wt, mut = clean_sequence(inputs["wt"]), clean_sequence(inputs["mut"])
        position, ref, alt = check_snv(wt, mut, inputs.get("position"), name=name)
        start, end = int(inputs["exon_start"]), int(inputs["exon_end"])
        if not 0 <= start < end <= len(wt):
            raise ValueError(f"{name}: exon [{start}, {end}) is not inside the {len(wt)}-nt sequence")
        encoded = self.tokenizer([wt, mut], return_tensors="pt")
        tensors = {key: torch.tensor([value]) for key, value in (("pos", position), ("start", start), ("end", end))}
        return {"ids": encoded["input_ids"], "mask": encoded["attention_mask"], **tensors, "ref": ref, "alt": alt}

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        ids, mask = model_inputs["ids"], model_inputs["mask"]
        ids, mask = ids.reshape(-1, 2, ids.shape[-1]), mask.reshape(-1, 2, mask.shape[-1])
        args = (model_inputs[key].reshape(-1) for key in ("pos", "start", "end"))
        out = self.model(ids[:, 0], ids[:, 1], *args, attention_mask=mask[:, 0])
        keep = {key: model_inputs[key] for key in ("pos", "ref", "alt")}
        return {"logits": out.logits, "ratios": out.ratios, **keep}

    def postprocess(self, model_outputs: dict[str, Any]) -> dict[str, Any]:
        logit = float(np.asarray(model_outputs["logits"]).reshape(-1)[0])
        ratios = np.asarray(model_outputs["ratios"]).reshape(-1)
        position = int(np.asarray(model_outputs["pos"]).reshape(-1)[0])
        ref, alt = model_outputs["ref"], model_outputs["alt"]
        ref, alt = (x[0] if isinstance(x, list) else x for x in (ref, alt))
        return {
            "score": float(1 / (1 + np.exp(-logit))),
            "logit": logit,
            "log2_vivo_ratio": float(ratios[0]),
            "log2_vitro_ratio": float(ratios[1]),
            "position": position,
            "ref": ref,
            "alt": alt,
        }


# ---------------------------------------------------------------------------------------------
# Registration and shipping with a checkpoint
# ---------------------------------------------------------------------------------------------
PIPELINES = {
    SPLICE_SITE_TASK: (SpliceSitePipeline, "AutoModelForSequenceClassification"),
    VARIANT_EFFECT_TASK: (SpliceVariantEffectPipeline, "AutoModelForMaskedLM"),
    # No Auto class maps to this head: registered with the model class itself (not shipped with checkpoints).
    VARIANT_PAIR_TASK: (SpliceVariantPairPipeline, "SpliceBertForVariantEffect"),
}
# Files of this folder that this file imports: a checkpoint that ships the pipelines needs them too.
_SIBLINGS = (Path(__file__).with_name("scoring_splicebert.py"),)


def add_pipelines_to_checkpoint(folder: str | Path, tasks: str | Sequence[str] = (VARIANT_EFFECT_TASK,)) -> Path:
    """Ship pipelines with a checkpoint: copy this file and the scoring engine it imports
    (``scoring_splicebert.py``) into ``folder`` and add ``custom_pipelines`` for ``tasks`` to its
    ``config.json`` (other entries and the weights are left as they are).

    Afterwards ``pipeline(task, model=folder, trust_remote_code=True)`` works in a process that has
    no txformers. This is what ``Pipeline.save_pretrained`` writes, without saving the weights again.

    Returns:
        The path of the copied pipeline file.

    Example:

    ```python
    >>> folder = "checkpoints/splicebert-small-pretrained"
    >>> add_pipelines_to_checkpoint(folder, "splice-variant-effect")  # doctest: +SKIP
    ```
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"no config.json in {folder}: not a checkpoint folder")
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    unknown = [task for task in tasks if task not in PIPELINES]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; choose from {sorted(PIPELINES)}")
    config = json.loads(config_path.read_text())
    module = Path(__file__).stem
    custom = dict(config.get("custom_pipelines") or {})
    for task in tasks:
        pipeline_class, auto_name = PIPELINES[task]
        custom[task] = {"impl": f"{module}.{pipeline_class.__name__}", "pt": [auto_name], "type": "text"}
    config["custom_pipelines"] = custom
    target = folder / f"{module}.py"
    for source in (Path(__file__), *_SIBLINGS):
        if source.resolve() != (folder / source.name).resolve():
            shutil.copyfile(source, folder / source.name)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return target


__all__ = [
    "SPLICE_SITE_TASK",
    "VARIANT_EFFECT_TASK",
    "SpliceSitePipeline",
    "SpliceVariantEffectPipeline",
    "SpliceVariantPairPipeline",
    "VARIANT_PAIR_TASK",
    "add_pipelines_to_checkpoint",
]
