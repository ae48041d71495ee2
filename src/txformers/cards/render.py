# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Render a card by checkpoint kind, and the cards of the bundled checkpoints.

Each bundled card is written twice from the same rendering: ``model_cards/NAME.md`` and
``checkpoints/NAME/README.md`` (:func:`write_bundled`; ``check=True`` only compares).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard

from ..hub import REPO_ROOT
from .cellformer import cancer_type_card, cellformer_mlm_card
from .evaluation_section import recorded_section, replace_block
from .metascdrug import metascdrug_card
from .paths import display_path
from .results import ResultsError, load_results
from .splicebert import splice_sites_card, splicebert_mlm_card
from .validate import CardError, validate_card

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
_SPLICEBERT_PROVENANCE = (
    "Human pre-mRNA windows of EnsembleSplice/Spliceator (github.com/OluwadareLab/EnsembleSplice, a subset of the "
    "Splice2Deep data; the repository has no licence file, so all rights are reserved and the data is used for "
    "internal evaluation only) and MaPSy wild-type minigene sequences (Soemedi et al. 2017, via "
    "gagneurlab/MMSplice_paper; CAGI data-use terms: internal use only). Neither is redistributed. Check these "
    "terms before publishing weights trained on them."
)

BUNDLED: dict[str, dict[str, Any]] = {
    "splicebert-small-pretrained": dict(
        kind="splicebert-mlm",
        results="results/splicebert/splicebert-small-pretrained_eval.json",
        provenance=_SPLICEBERT_PROVENANCE,
    ),
    "metascdrug-meta": dict(kind="metascdrug", results="results/metascdrug/single_cell_fewshot.json"),
    "metascdrug-nometa": dict(kind="metascdrug", results="results/metascdrug/single_cell_fewshot.json"),
    "cellformer-pretrained": dict(
        kind="cellformer-mlm", results="results/cellformer/pretrain.json", provenance=_SCRNA_PROVENANCE
    ),
    "cellformer-cancer-type": dict(
        kind="cancer-type", results="results/cellformer/cancer_type.json", provenance=_SCRNA_PROVENANCE
    ),
    "splicebert-small-splice-sites": dict(kind="splice-sites", results="results/splicebert/splice_sites.json"),
}
"""The bundled checkpoints (``checkpoints/NAME``), the kind of their card and their results file."""

SCRIPT_CARDS = ("splicebert-small-splice-sites-nt", "splicebert-small-variant-effect")
"""Bundled checkpoints whose README.md a training script writes: only their marked ``txformers evaluate`` block
(:func:`~txformers.cards.evaluation_section.replace_block`) is rendered here."""


def render_card(
    kind: str, results: str | Path | dict, name: str, *, checkpoint: str | Path | None = None, **options: Any
) -> ModelCard:
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
            loaded,
            name,
            checkpoint=folder,
            results_path=path.resolve() if path else None,
            results_file=display_path(path) if path else None,
            **options,
        )
    except (ResultsError, CardError):
        raise
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as error:
        raise ResultsError(
            f"{display_path(path) if path else 'the results'} does not look like {KIND_RESULTS[kind]}: "
            f"{type(error).__name__} {error}"
        ) from None


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


def write_bundled(check: bool = False, root: Path = REPO_ROOT) -> int:
    """Render every bundled card and write it to both of its places (``check``: only compare; print what is out
    of date). Returns the exit status: 1 if a card is out of date (with ``check``), else 0."""
    stale = 0
    for name, entry in BUNDLED.items():
        if not (root / entry["results"]).is_file():
            print(f"skip {name}: no results file {entry['results']}")
            continue
        text = str(validate_card(str(render_bundled(name, root))))
        for path in bundled_card_paths(name, root):
            if check:
                if not path.is_file() or path.read_text(encoding="utf-8") != text:
                    print(f"out of date: {path.relative_to(root)} (python -m txformers.cards --bundled)")
                    stale += 1
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(root)}")
    for name in SCRIPT_CARDS:
        path = root / "checkpoints" / name / "README.md"
        section = recorded_section(path.parent, name) if path.is_file() else ""
        if not section:
            print(f"skip {name}: no README.md or no recorded evaluation")
            continue
        current = path.read_text(encoding="utf-8")
        text = replace_block(current, section)
        if check and text != current:
            print(f"out of date: {path.relative_to(root)} (python -m txformers.cards --bundled)")
            stale += 1
        elif not check and text != current:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(root)}")
    return 1 if stale else 0
