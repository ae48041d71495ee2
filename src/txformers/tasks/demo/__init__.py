# Copyright 2026 The txformers authors. BSD-3-Clause.
"""The txformers demo: every bundled checkpoint on the bundled examples, written up as a report folder.

Four sections, each run through the library's own pipelines:

1. ``splice-sites`` (:mod:`.splicing`): ``checkpoints/splicebert-small-splice-sites`` (``SpliceSitePipeline``)
   along the synthetic minigenes of ``examples/minigenes.fa``, with their designed exon-intron boundaries
   marked; next to it the saved test metrics of ``results/splicebert/splice_sites.json``.
2. ``variants`` (:mod:`.splicing`): ``checkpoints/splicebert-small-pretrained``
   (``SpliceVariantEffectPipeline``, zero-shot) on the designed SNVs of ``examples/minigene_variants.tsv``;
   the saved masked-LM evaluation.
3. ``drug`` (:mod:`.drug_response`): ``checkpoints/metascdrug-meta`` and ``-nometa`` (``DrugResponsePipeline``)
   on the synthetic cells of ``examples/drug_cells.h5ad`` with PLX4720, integrated-gradient critical genes;
   the saved real few-shot results of ``results/metascdrug/single_cell_fewshot.json``.
4. ``cytokine`` (:mod:`.cytokine`): ``checkpoints/cellformer-cancer-type`` (``CancerTypePipeline``) and the
   embeddings of ``checkpoints/cellformer-pretrained`` on the synthetic immune cells of
   ``examples/immune_cells.h5ad``; the saved real cytokine patterns and cancer-type metrics of
   ``results/cellformer/``.

:func:`run_demo` writes into a folder ``report.md`` (Markdown, figures embedded by relative path),
``figures/*.png``, ``summary.json`` (every number of the report) and one table per section. Numbers under
"saved" are copied from the results files, never recomputed. ``txformers demo`` runs it in a staging folder
(:func:`txformers.io.atomic_folder`) under an output lock.

Example:

```python
>>> from txformers.hub import CHECKPOINTS, REPO_ROOT
>>> sections = ["variants"]
>>> folders = check_inputs(CHECKPOINTS, REPO_ROOT / "results", REPO_ROOT / "examples", sections)  # doctest: +SKIP
>>> lines, seconds = run_demo(Path("outputs/demo"), sections, *folders, device="cpu")  # doctest: +SKIP
```
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .cytokine import section_cytokine
from .drug_response import section_drug
from .report import NEEDS, SECTIONS, TITLES, Demo, check_inputs, write_report
from .splicing import section_splice_sites, section_variants

RUNNERS: dict[str, Callable[[Demo], str]] = {
    "splice-sites": section_splice_sites,
    "variants": section_variants,
    "drug": section_drug,
    "cytokine": section_cytokine,
}
"""Section name -> the function that runs it, adds its part of the report and returns a one-line summary."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No progress bars or load reports from transformers while the demo runs (it reports its own progress)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def run_demo(
    work: Path,
    sections: Sequence[str],
    checkpoints: Path,
    results: Path,
    examples: Path,
    device: str,
    command: str = "txformers demo",
    log: Callable[[str], None] | None = None,
) -> tuple[list[str], float]:
    """Run ``sections`` (in this order) and write the report into the existing folder ``work``.

    ``log`` receives a progress line before each section; ``command`` is quoted in the report. Returns one
    summary line per section and the seconds the run took. Bad inputs raise :class:`txformers.io.UserError`.
    """
    started = time.perf_counter()
    demo = Demo(checkpoints, results, examples, work, device)
    lines = []
    with quiet():
        for number, section in enumerate(sections, 1):
            if log is not None:
                log(f"[{number}/{len(sections)}] {TITLES[section]} ...")
            section_started = time.perf_counter()
            demo.add(f"## {number}. {TITLES[section]}", "")
            lines.append(RUNNERS[section](demo))
            demo.summary[section]["seconds"] = round(time.perf_counter() - section_started, 1)
    seconds = round(time.perf_counter() - started, 1)
    write_report(demo, list(sections), command, seconds)
    return lines, seconds


__all__ = ["NEEDS", "RUNNERS", "SECTIONS", "TITLES", "Demo", "check_inputs", "quiet", "run_demo"]
