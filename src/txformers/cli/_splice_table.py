"""`txformers splice variants --table IN --model <variant-effect checkpoint>`: supervised scores of WT/mutant pairs.

Reached from ``txformers splice variants`` when ``--model`` is a ``SpliceBertForVariantEffect`` checkpoint
(e.g. ``checkpoints/splicebert-small-variant-effect``). Reads a CSV or TSV in the CAGI / MaPSy layout
(``txformers.datasets.mapsy_pairs``) and writes ``OUT.tsv``: every input row, in order, with its ``ID`` and
``score`` (P(exonic splicing mutation); higher = more likely splice-disrupting), ``orientation`` and the
exon place used; a row that cannot be scored keeps its ID with an empty ``score`` and a ``reason``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..io import output_file
from ._checks import NON_FINITE, non_finite_rows
from ._common import UserError, check_outputs, device


def is_variant_effect_model(model_dir: Path) -> bool:
    """Whether a checkpoint folder holds a ``SpliceBertForVariantEffect``."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return "SpliceBertForVariantEffect" in (config.get("architectures") or [])


def cmd_variant_effect_table(args: argparse.Namespace) -> int:
    import pandas as pd

    source, model_dir, out = Path(args.table), Path(args.model), Path(args.out)
    if not source.is_file():
        raise UserError(f"{source} does not exist")
    tsv = output_file(out, ".tsv")
    check_outputs([source], [tsv], args.overwrite)

    from ..datasets.mapsy_pairs import read_pairs, read_table

    try:
        table = read_table(str(source))
        rows = read_pairs(table)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read the variant table {source}: {error}") from None

    from transformers import AutoTokenizer

    from ..models.splicebert import SpliceBertForVariantEffect
    from ..tasks.splicing.variant_model import score_pairs
    from ..tasks.splicing.variant_stack import has_stack, score_pairs_stacked

    stacked = has_stack(model_dir)
    what = "stacked LightGBM over txformers model features" if stacked else "SpliceBertForVariantEffect"
    scorable = sum(not r["reason"] for r in rows)
    print(f"scoring {scorable} of {len(rows)} rows with {model_dir} ({what})", file=sys.stderr)
    if stacked:
        try:
            scores = score_pairs_stacked(model_dir, rows, batch_size=args.batch_size, device=device(args.device))
        except FileNotFoundError as error:
            raise UserError(str(error)) from None
    else:
        model = SpliceBertForVariantEffect.from_pretrained(model_dir).eval()
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        scores = score_pairs(model, tokenizer, rows, batch_size=args.batch_size, device=device(args.device))

    import numpy as np

    scored = [not r["reason"] for r in rows]
    non_finite = non_finite_rows(scores, "variant scores", model_dir, scored=scored)
    for row, is_bad in zip(rows, non_finite):  # issue 17 item 11: a NaN/inf score is no score
        if is_bad:
            row["reason"] = NON_FINITE
    scores = np.where(non_finite, np.nan, np.asarray(scores, dtype=np.float64))
    frame = table.copy()
    if "ID" not in frame:
        frame.insert(0, "ID", [r["id"] for r in rows])
    frame["score"] = scores
    frame["orientation"] = [
        "swapped: listed mutant-first (WT_ID ends in M)" if r["swapped"] else "as given" for r in rows
    ]
    frame["exon_start_nt"] = [r["exon_start"] if r["exon_start"] >= 0 else None for r in rows]
    frame["exon_end_nt"] = [r["exon_end"] if r["exon_end"] >= 0 else None for r in rows]
    frame["exon_rule"] = [r["exon_rule"] for r in rows]
    frame["reason"] = [r["reason"] for r in rows]
    swapped = sum(r["swapped"] for r in rows)
    header = [
        f"# txformers splice variants: {source} with {model_dir} ({what})",
        "# score = P(exonic splicing mutation), higher = more likely splice-disrupting; empty score: see reason",
        f"# orientation: {swapped} pair(s) listed mutant-first (WT_ID ending in M, MUT_ID in W) were swapped before "
        "scoring; exon_start_nt/exon_end_nt: 0-based half-open exon in the WT sequence",
    ]
    tsv.parent.mkdir(parents=True, exist_ok=True)
    from ..io import atomic_write_text

    atomic_write_text(tsv, "\n".join(header) + "\n" + frame.to_csv(sep="\t", index=False, float_format="%.6g"))
    bad = len(rows) - int(pd.notna(scores).sum())
    print(f"wrote {tsv}: {len(rows)} rows, {bad} not scored, {swapped} swapped by W/M ids")
    return 0
