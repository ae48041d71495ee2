# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Hugging Face model cards rendered from saved results files (numbers are never typed by hand).

    txformers card results/cellformer/pretrain.json --kind cellformer-mlm --name cellformer-pretrained \\
        --out model_cards/cellformer-pretrained.md
    python -m txformers.cards --bundled           # re-render every bundled card (model_cards/ and checkpoints/)
    python -m txformers.cards --bundled --check   # exit 1 if a bundled card is out of date

One renderer per checkpoint kind (:data:`CARD_KINDS`) and one Jinja template per kind (``templates/KIND.md.jinja``,
rendered with ``huggingface_hub.ModelCard.from_template``). The renderer reads the results file written by the
training entry point of that kind, and (optionally) the checkpoint folder for the architecture and size, and
computes the values (numbers, tables, commands); the prose lives in the template. The metadata is built with
``huggingface_hub.ModelCardData``, with a ``model-index`` whose results come from the saved JSON.
:func:`validate_card` checks what the Hub checks (the metadata parses, round-trips through ``ModelCardData``,
the model-index parses) plus that there are measured results.

Absolute local paths in results files (``/work/...``, ``/tmp/...``) are shown repository-relative
(:func:`portable_path`): a card never names a folder of the machine it was rendered on.

Example:

```python
>>> from txformers.cards import render_card, validate_card
>>> card = render_card("cellformer-mlm", "results/cellformer/pretrain.json", "cellformer-pretrained",
...                    checkpoint="checkpoints/cellformer-pretrained")
>>> validate_card(str(card)).data.eval_results[0].metric_type
'accuracy'
```
"""

from .paths import display_path, find_local_paths, portable, portable_path, portable_text, scan_local_paths
from .render import (
    BUNDLED,
    CARD_KINDS,
    KIND_RESULTS,
    bundled_card_paths,
    render_bundled,
    render_card,
    write_bundled,
)
from .results import ResultsError, load_results
from .validate import CardError, eval_values, validate_card

__all__ = [
    "BUNDLED",
    "CARD_KINDS",
    "KIND_RESULTS",
    "CardError",
    "ResultsError",
    "bundled_card_paths",
    "display_path",
    "eval_values",
    "find_local_paths",
    "load_results",
    "portable",
    "portable_path",
    "portable_text",
    "render_bundled",
    "render_card",
    "scan_local_paths",
    "validate_card",
    "write_bundled",
]
