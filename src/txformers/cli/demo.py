# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers demo`: every bundled checkpoint on the bundled examples, written up as a report folder.

    txformers demo --out outputs/demo

Four sections, each run through the library's own pipelines:

1. ``splice-sites``: ``checkpoints/splicebert-small-splice-sites`` (``SpliceSitePipeline``) along the
   synthetic minigenes of ``examples/minigenes.fa``, with their designed exon-intron boundaries marked;
   next to it the saved test metrics of ``results/splicebert/splice_sites.json``.
2. ``variants``: ``checkpoints/splicebert-small-pretrained`` (``SpliceVariantEffectPipeline``, zero-shot)
   on the designed SNVs of ``examples/minigene_variants.tsv``; the saved masked-LM evaluation.
3. ``drug``: ``checkpoints/metascdrug-meta`` and ``-nometa`` (``DrugResponsePipeline``) on the synthetic
   cells of ``examples/drug_cells.h5ad`` with PLX4720, integrated-gradient critical genes; the saved
   real few-shot results of ``results/metascdrug/single_cell_fewshot.json``.
4. ``cytokine``: ``checkpoints/cellformer-cancer-type`` (``CancerTypePipeline``) and the embeddings of
   ``checkpoints/cellformer-pretrained`` on the synthetic immune cells of ``examples/immune_cells.h5ad``;
   the saved real cytokine patterns and cancer-type metrics of ``results/cellformer/``.

OUT gets ``report.md`` (Markdown, figures embedded by relative path), ``figures/*.png``,
``summary.json`` (every number of the report) and one table per section. Numbers under "saved" are
copied from the results files, never recomputed. The folder is written next to OUT first and moved
into place at the end, so a failed run leaves no half-written report; an existing OUT is refused
unless ``--overwrite``, and OUT may not be, contain or lie inside an input folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._common import CHECKPOINTS, REPO_ROOT, UserError, device, pyplot

SECTIONS = ("splice-sites", "variants", "drug", "cytokine")
TITLES = {
    "splice-sites": "Splice sites along synthetic minigenes",
    "variants": "Zero-shot splice variant effects",
    "drug": "Single-cell drug response (PLX4720)",
    "cytokine": "Cancer type and cytokine patterns of tumour immune cells",
}
NEEDS = {  # section: (checkpoint folders, results files, example files)
    "splice-sites": (["splicebert-small-splice-sites"], ["splicebert/splice_sites.json"], ["minigenes.fa"]),
    "variants": (["splicebert-small-pretrained"], ["splicebert/splicebert-small-pretrained_eval.json"],
                 ["minigene_variants.tsv"]),
    "drug": (["metascdrug-meta", "metascdrug-nometa"], ["metascdrug/single_cell_fewshot.json"],
             ["drug_cells.h5ad", "drug_smiles.csv"]),
    "cytokine": (["cellformer-cancer-type", "cellformer-pretrained"],
                 ["cellformer/cancer_type.json", "cellformer/pretrain.json", "cellformer/patterns/cytokine_patterns.tsv",
                  "cellformer/patterns/cytokine_patterns.json"], ["immune_cells.h5ad"]),
}  # fmt: skip
HOW_TO_MAKE = {
    "splicebert-small-splice-sites": "python -m txformers.training.finetune_splice --pretrained "
    "checkpoints/splicebert-small-pretrained ... writes it in OUTPUT/model",
}
MAPSY_RESULTS = "splicebert/mapsy_zero_shot.json"  # shown when present
DRUG = "PLX4720"
SYNTHETIC = "synthetic cells: a demonstration of the pipeline, not an evaluation"


# ---------------------------------------------------------------------------------------------- the run
@dataclass
class Demo:
    """Where the inputs are, where the report is being written, and what it holds so far."""

    checkpoints: Path
    results: Path
    examples: Path
    work: Path
    device: str
    markdown: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)

    def checkpoint(self, name: str) -> Path:
        return self.checkpoints / name

    def saved(self, relative: str) -> Any:
        """A results JSON, read as is."""
        path = self.results / relative
        try:
            return json.loads(path.read_text())
        except ValueError as error:
            raise UserError(f"{path} is not valid JSON ({error})") from None

    def path(self, relative: str) -> Path:
        """A new file of the report (``figures/x.png``, ``x.tsv``); recorded for the summary."""
        target = self.work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(relative)
        return target

    def add(self, *lines: str) -> None:
        self.markdown.extend(lines)

    def figure(self, relative: str, caption: str) -> None:
        self.add(f"![{caption}]({relative})", "", f"*{caption}*", "")


def _check_inputs(args: argparse.Namespace, sections: list[str]) -> tuple[Path, Path, Path]:
    """The three input folders, after checking that every file the chosen sections read is there."""
    folders = {}
    for option, value in (("--checkpoints", args.checkpoints), ("--results", args.results),
                          ("--examples", args.examples)):  # fmt: skip
        folder = Path(value)
        if not folder.is_dir():
            raise UserError(f"{option} {folder} is not a folder")
        folders[option] = folder
    checkpoints, results, examples = folders.values()
    missing = []
    for section in sections:
        models, saved, inputs = NEEDS[section]
        for name in models:
            if not (checkpoints / name / "config.json").is_file():
                hint = f" ({HOW_TO_MAKE[name]})" if name in HOW_TO_MAKE else ""
                missing.append(f"checkpoint {checkpoints / name} (section {section}){hint}")
        missing += [f"results file {results / name} (section {section})" for name in saved
                    if not (results / name).is_file()]  # fmt: skip
        missing += [f"example {examples / name} (section {section}; python examples/make_examples.py writes it)"
                    for name in inputs if not (examples / name).is_file()]  # fmt: skip
    if missing:
        raise UserError(
            "the demo needs " + "; ".join(missing) + ". Point --checkpoints/--results/--examples at other folders, "
            "or run only some sections with --sections"
        )
    return checkpoints, results, examples


def _check_out(out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse an existing OUT without --overwrite, a file, and any overlap with an input folder."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder")
    if out.exists() and not overwrite:
        raise UserError(f"{out} exists; pass --overwrite to replace its report or choose another --out")
    target = out.resolve()
    for folder in inputs:
        folder = folder.resolve()
        if target == folder or folder in target.parents or target in folder.parents:
            raise UserError(f"--out {out} overlaps the input folder {folder}; choose a folder outside the inputs")


def _publish(work: Path, out: Path) -> None:
    """Move the finished report from ``work`` to ``out`` (file by file into an existing ``out``)."""
    if not out.exists():
        work.rename(out)
        return
    for source in sorted(work.rglob("*")):
        if source.is_file():
            target = out / source.relative_to(work)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    shutil.rmtree(work)


def _command(args: argparse.Namespace) -> str:
    parts = ["txformers demo", f"--out {args.out}"]
    if args.sections != list(SECTIONS):
        parts.append("--sections " + " ".join(args.sections))
    for option, value, default in (("--checkpoints", args.checkpoints, str(CHECKPOINTS)),
                                   ("--results", args.results, str(REPO_ROOT / "results")),
                                   ("--examples", args.examples, str(REPO_ROOT / "examples")),
                                   ("--device", args.device, None)):  # fmt: skip
        if value is not None and str(value) != default:
            parts.append(f"{option} {value}")
    if args.overwrite:
        parts.append("--overwrite")
    return " ".join(parts)


@contextlib.contextmanager
def _quiet():
    """No progress bars or load reports from transformers while the demo runs (it prints its own progress)."""
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


def cmd_demo(args: argparse.Namespace) -> int:
    """Run every bundled checkpoint on the bundled examples and write a report folder (see the module doc)."""
    sections = list(dict.fromkeys(args.sections))
    checkpoints, results, examples = _check_inputs(args, sections)
    out = Path(args.out)
    _check_out(out, [checkpoints, results, examples], args.overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # mkdtemp makes it private; the report folder gets the usual permissions
    started = time.perf_counter()
    try:
        demo = Demo(checkpoints, results, examples, work, device(args.device))
        lines = []
        with _quiet():
            for number, section in enumerate(sections, 1):
                print(f"[{number}/{len(sections)}] {TITLES[section]} ...", file=sys.stderr)
                section_started = time.perf_counter()
                demo.add(f"## {number}. {TITLES[section]}", "")
                lines.append(RUNNERS[section](demo))
                demo.summary[section]["seconds"] = round(time.perf_counter() - section_started, 1)
        seconds = round(time.perf_counter() - started, 1)
        _write_report(demo, sections, _command(args), seconds)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _publish(work, out)
    for line in lines:
        print(line)
    print(f"report: {out / 'report.md'} ({seconds:.0f} s; numbers in {out / 'summary.json'})")
    return 0


def _write_report(demo: Demo, sections: list[str], command: str, seconds: float) -> None:
    intro = [
        "# txformers demo",
        "",
        f"Made by `{command}` in {seconds:.0f} s on {demo.device}. Each section runs bundled checkpoints through the "
        "library's own pipelines on small example inputs shipped in `examples/`.",
        "",
        "**Which numbers are which.** The examples are *synthetic*, made by `python examples/make_examples.py` "
        "(minigenes with designed splice signals, designed SNVs, generated cells with real gene symbols; see "
        "`examples/README.md`). What the models do on them shows that the pipelines run end to end and what "
        "their outputs look like; it is a demonstration, not an evaluation. The evaluations are the *saved "
        "results*: measured on real data by the commands quoted with each table, copied here from the results "
        "files unchanged (`summary.json` holds them at full precision).",
        "",
        "| section | what runs here | saved results shown |",
        "|---|---|---|",
    ]
    rows = {
        "splice-sites": ("splice-site probabilities along synthetic minigenes, designed sites marked",
                         "test AUROC/AP/accuracy/F1 of the splice-site classifiers"),
        "variants": ("zero-shot KL-context of designed SNVs of one minigene",
                     "masked-LM accuracy of the pretrained SpliceBERT"),
        "drug": ("PLX4720 response of synthetic cells (both checkpoints), critical genes",
                 "few-shot AUROC/accuracy on 3 real single-cell datasets"),
        "cytokine": ("cancer-type calls of synthetic immune cells and samples, pretrained embeddings",
                     "cytokine patterns and cancer-type metrics of real tumour immune cells"),
    }  # fmt: skip
    for number, section in enumerate(sections, 1):
        intro.append(f"| {number}. {TITLES[section]} | {rows[section][0]} | {rows[section][1]} |")
    intro.append("")
    demo.work.joinpath("report.md").write_text("\n".join(intro + demo.markdown).rstrip() + "\n")
    summary = {
        "command": command,
        "seconds": seconds,
        "device": demo.device,
        "inputs": {"checkpoints": str(demo.checkpoints), "results": str(demo.results), "examples": str(demo.examples)},
        "sections": demo.summary,
        "files": sorted(demo.written),
    }
    demo.work.joinpath("summary.json").write_text(json.dumps(_clean(summary), indent=1, allow_nan=False) + "\n")


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars as Python numbers, NaN/inf as None."""
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------- helpers
def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table; floats with 3 decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "n/a" if math.isnan(value) else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines + [""]


def _command_of(saved: dict[str, Any], fallback: str) -> str:
    command = saved.get("command") if isinstance(saved, dict) else None
    return str(command).strip() if command else fallback


def _code(text: str) -> list[str]:
    return ["```", text, "```", ""]


# ---------------------------------------------------------------------------------------------- 1. splice sites
_COORDINATES = re.compile(r"intron=(\d+)-(\d+)")


def _designed_sites(examples: Path) -> dict[str, tuple[int, int]]:
    """Record name -> (donor, acceptor), 0-based, in the pipeline's convention (the G of GT = first intron
    nt, the G of AG = last intron nt), from the ``intron=START-END`` (1-based) of each FASTA header."""
    from ..datasets.genome import iter_fasta_records

    sites = {}
    for header, _ in iter_fasta_records(examples / "minigenes.fa"):
        found = _COORDINATES.search(header)
        if found:
            sites[header.split()[0]] = (int(found.group(1)) - 1, int(found.group(2)) - 1)
    return sites


def section_splice_sites(demo: Demo) -> str:
    import numpy as np
    from transformers import AutoModelForSequenceClassification

    from ..models.splicebert.pipeline_splicebert import SpliceSitePipeline, splice_site_label_ids
    from ..tokenizers import NucleotideTokenizer
    from .splice import CONVENTION, _model_config, _read_fasta, _safe_name, plot_splice_track

    model_dir = demo.checkpoint("splicebert-small-splice-sites")
    config = _model_config(model_dir, "a fine-tuned splice-site model")
    try:
        splice_site_label_ids(config)
    except ValueError as error:
        raise UserError(f"{model_dir}: {error}") from None
    window = getattr(config, "window_size", None)
    if not window:
        raise UserError(f"{model_dir}: the config has no window_size (the training window)")
    records = _read_fasta(demo.examples / "minigenes.fa")
    designed = _designed_sites(demo.examples)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).to(demo.device).eval()
    finder = SpliceSitePipeline(model=model, tokenizer=NucleotideTokenizer(), device=demo.device, batch_size=64,
                                window_size=window)  # fmt: skip
    results = list(finder([sequence for _, sequence in records]))

    tsv_rows, calls, figures = [], [], []
    for (name, _), result in zip(records, results):
        sequence, donor, acceptor = result["sequence"], result["donor_prob"], result["acceptor_prob"]
        candidates = np.union1d(result["donor_positions"], result["acceptor_positions"])
        tsv_rows += [f"{name}\t{i + 1}\t{sequence[i]}\t{donor[i]:.6f}\t{acceptor[i]:.6f}" for i in candidates.tolist()]
        sites = designed.get(name)
        for kind, probabilities, positions, index in (("donor", donor, result["donor_positions"], 0),
                                                      ("acceptor", acceptor, result["acceptor_positions"], 1)):  # fmt: skip
            scores = probabilities[positions]
            top = int(positions[int(np.argmax(scores))]) if len(positions) else None
            call = {"sequence": name, "site": kind, "candidates": int(len(positions)),
                    "top_call": None if top is None else top + 1,
                    "top_probability": None if top is None else float(probabilities[top])}  # fmt: skip
            if sites is not None:
                site = sites[index]
                call.update(designed=site + 1, designed_probability=float(probabilities[site]),
                            designed_rank=int((scores > probabilities[site]).sum()) + 1, hit=top == site)
            calls.append(call)
        figure = f"figures/splice_track_{_safe_name(name)}.png"
        plot_splice_track(result, name, demo.path(figure), sites=sites,
                          title=f"{name} ({len(sequence)} nt, synthetic): splice-site probability at every GT / AG")  # fmt: skip
        figures.append((figure, name))

    demo.path("splice_sites.tsv").write_text(
        f"# txformers demo: {demo.examples / 'minigenes.fa'} with {model_dir} ({window}-nt windows)\n"
        f"# position is 1-based; {CONVENTION}\nname\tposition\tnucleotide\tdonor_prob\tacceptor_prob\n"
        + "\n".join(tsv_rows) + "\n"
    )  # fmt: skip
    import pandas as pd

    pd.DataFrame(calls).to_csv(demo.path("splice_site_calls.tsv"), sep="\t", index=False, float_format="%.6g")
    hits = [call["hit"] for call in calls if "hit" in call]

    saved = demo.saved("splicebert/splice_sites.json")
    saved_rows, saved_copy = [], {}
    for name in ("pretrained", "scratch", "logistic_regression_onehot_60nt"):
        test = saved.get(name, {}).get("test") if isinstance(saved.get(name), dict) else None
        if not test:
            continue
        saved_copy[name] = test
        for site in ("donor", "acceptor"):
            if site in test:
                metrics = test[site]
                saved_rows.append([name, site, metrics.get("n", ""), *(float(metrics[key]) for key in
                                                                      ("auroc", "ap", "accuracy", "f1"))])  # fmt: skip
    if not saved_rows:
        raise UserError(f"{demo.results / 'splicebert/splice_sites.json'} has no pretrained/scratch/... test metrics")

    demo.summary["splice-sites"] = {
        "model": str(model_dir),
        "window": int(window),
        "input": str(demo.examples / "minigenes.fa"),
        "calls": calls,
        "designed_sites_hit": int(sum(hits)),
        "designed_sites": len(hits),
        "saved": {"file": str(demo.results / "splicebert/splice_sites.json"), "command": saved.get("command"),
                  "window": saved.get("window"), "test": saved_copy},  # fmt: skip
    }
    demo.add(
        f"`{model_dir.name}` (SpliceBERT window classifier, {window}-nt windows centred on each candidate) scores "
        f"every GT as a donor and every AG as an acceptor along {len(records)} synthetic minigenes (exon - intron - exon, "
        "consensus signals at designed positions, random sequence elsewhere). Triangles mark the designed "
        "sites. Positions are 1-based; the donor probability sits at the G of GT (first intron nucleotide), "
        "the acceptor probability at the G of AG (last intron nucleotide).",
        "",
    )
    rows = [[c["sequence"], c["site"], c.get("designed", "-"), c.get("designed_probability", float("nan")),
             c.get("designed_rank", "-"), c["candidates"], c["top_call"], c["top_probability"],
             {True: "yes", False: "no"}.get(c.get("hit"), "-")] for c in calls]  # fmt: skip
    demo.add(*_table(["sequence", "site", "designed", "P(designed)", "rank of designed", "candidates", "top call",
                      "P(top)", "top = designed"], rows))  # fmt: skip
    demo.add(f"The top call is the designed site for **{sum(hits)} of {len(hits)}** designed sites.", "")
    for figure, name in figures:
        demo.figure(figure, f"{name}: donor (up) and acceptor (down) probabilities; triangles: designed sites")
    demo.add(
        "**Saved test metrics** (real human splice-site windows, true sites vs decoy GT/AG; "
        f"`{demo.results.name}/splicebert/splice_sites.json`), made by:",
        "",
        *_code(_command_of(saved, "python -m txformers.training.finetune_splice")),
        *_table(["model", "site", "n", "AUROC", "AP", "accuracy", "F1"], saved_rows),
    )
    return f"splice sites: top call = designed site for {sum(hits)}/{len(hits)} sites ({len(records)} minigenes)"


# ---------------------------------------------------------------------------------------------- 2. variants
VARIANT_COLUMNS = ("id", "region", "position", "intron_start", "intron_end", "wt_sequence", "mut_sequence")


def section_variants(demo: Demo) -> str:
    import numpy as np
    import pandas as pd

    from ..models.splicebert import SpliceBertForMaskedLM
    from ..models.splicebert.pipeline_splicebert import SpliceVariantEffectPipeline
    from ..tokenizers import NucleotideTokenizer
    from ..variant_effect import check_snv, delta_p, site_distance, splice_site_kl
    from .splice import plot_kl_profiles

    path = demo.examples / "minigene_variants.tsv"
    table = pd.read_csv(path, sep="\t")
    missing = [column for column in VARIANT_COLUMNS if column not in table.columns]
    if missing:
        raise UserError(f"{path} lacks the column(s) {missing}; python examples/make_examples.py writes it")
    inputs = []
    for row in table.itertuples(index=False):
        try:
            check_snv(row.wt_sequence, row.mut_sequence, row.position, name=f"{path}, variant {row.id}")
        except ValueError as error:
            raise UserError(str(error)) from None
        inputs.append({"wt": row.wt_sequence, "mut": row.mut_sequence, "position": int(row.position), "name": row.id})

    model_dir = demo.checkpoint("splicebert-small-pretrained")
    model = SpliceBertForMaskedLM.from_pretrained(model_dir).to(demo.device).eval()
    scorer = SpliceVariantEffectPipeline(model=model, tokenizer=NucleotideTokenizer(), device=demo.device)
    outputs = scorer(inputs, return_probabilities=True)

    records, profiles = [], []
    for row, output in zip(table.itertuples(index=False), outputs):
        kl, position = output["kl_profile"], output["position"]
        donor = (None, int(row.intron_start))  # exon 1 ends where the intron starts: donor GT at intron_start
        acceptor = (int(row.intron_end), None)  # exon 2 starts where it ends: acceptor AG just before
        record = {
            "id": row.id, "region": row.region, "position": position + 1, "ref": output["ref"], "alt": output["alt"],
            "kl_context": output["kl_context"], "kl_variant": output["kl_variant"],
            "donor_kl": splice_site_kl(kl, donor)["donor_kl"], "acceptor_kl": splice_site_kl(kl, acceptor)["acceptor_kl"],
            "delta_p": delta_p(output["p_wt"], output["p_mut"], row.wt_sequence, row.mut_sequence, position)["delta_p"],
            "site_distance": min(site_distance(position, donor), site_distance(position, acceptor)),
        }  # fmt: skip
        record["splice_site_kl"] = max(record["donor_kl"], record["acceptor_kl"])
        records.append(record)
        sites = [int(row.intron_start), int(row.intron_start) + 1, int(row.intron_end) - 2, int(row.intron_end) - 1]
        label = f"{row.id} ({row.region}, {output['ref']}>{output['alt']} at {position + 1})"
        profiles.append({"kl": kl, "position": position, "sites": sites, "score": output["kl_context"], "label": label})
    frame = pd.DataFrame(records)
    order = np.argsort(-frame["kl_context"].to_numpy(), kind="stable")
    frame["rank"] = np.argsort(order) + 1
    with demo.path("variants.tsv").open("w") as handle:
        handle.write(f"# txformers demo: {path} with {model_dir} (zero-shot); position 1-based\n")
        frame.to_csv(handle, sep="\t", index=False, float_format="%.6g")
    top, least = int(order[0]), int(order[-1])
    plot_kl_profiles([profiles[top], profiles[least]], demo.path("figures/variant_kl_profile.png"), max_distance=100)

    saved = demo.saved("splicebert/splicebert-small-pretrained_eval.json")
    evaluation = saved.get("eval", {})
    mapsy = demo.saved(MAPSY_RESULTS) if (demo.results / MAPSY_RESULTS).is_file() else None
    demo.summary["variants"] = {
        "model": str(model_dir),
        "input": str(path),
        "variants": records,
        "top_variant": records[top]["id"],
        "saved": {
            "pretrained_eval": {"file": str(demo.results / "splicebert/splicebert-small-pretrained_eval.json"),
                                "command": saved.get("command"), "steps": saved.get("steps"), "eval": evaluation},
            "mapsy_zero_shot": None if mapsy is None else {"file": str(demo.results / MAPSY_RESULTS), **mapsy},
        },
    }  # fmt: skip
    demo.add(
        f"`{model_dir.name}` (the masked LM, no fine-tuning) scores {len(records)} designed SNVs of "
        f"`{table['minigene'].iloc[0] if 'minigene' in table else 'a minigene'}` the way SpliceBERT does: WT and mutant go "
        "through the model unmasked and the per-position KL(mut || wt) of the A/C/G/T probabilities is summed "
        "in log scale over +-100 nt (**kl_context**, higher = more disruptive). donor_kl / acceptor_kl: mean KL "
        "at the designed GT / AG; delta_p = p_mut(alt) - p_wt(ref) at the variant. Positions 1-based. The bundled "
        f"masked LM is small ({model.config.num_hidden_layers} layers, hidden size {model.config.hidden_size}, "
        f"{saved.get('steps', '?')} CPU training steps; its saved evaluation is below), so its zero-shot scores are "
        "not those of the published SpliceBERT.",
        "",
        *_table(["rank", "variant", "region", "position", "change", "kl_context", "kl_variant", "donor_kl",
                 "acceptor_kl", "delta_p"],
                [[r["rank"], r["id"], r["region"], r["position"], f"{r['ref']}>{r['alt']}", r["kl_context"],
                  r["kl_variant"], r["donor_kl"], r["acceptor_kl"], r["delta_p"]]
                 for r in frame.sort_values("rank").to_dict("records")]),
    )  # fmt: skip
    demo.figure("figures/variant_kl_profile.png",
                f"KL(mut || wt) by distance to the variant: the highest kl_context ({records[top]['id']}) and the "
                f"lowest ({records[least]['id']}); orange: the designed GT/AG")  # fmt: skip
    demo.add(
        "**Saved masked-LM evaluation** of the pretrained checkpoint (held-out real pre-mRNA windows, 15 % masked; "
        f"`{demo.results.name}/splicebert/splicebert-small-pretrained_eval.json`, step {saved.get('steps')}), made by:",
        "",
        *_code(_command_of(saved, "python -m txformers.training.pretrain_mlm")),
        *_table(["masked tokens", "loss", "accuracy", "balanced accuracy"],
                [[evaluation.get("masked_tokens"), *(float(evaluation[k]) if k in evaluation else float("nan")
                                                     for k in ("loss", "accuracy", "balanced_accuracy"))]]),
    )  # fmt: skip
    if mapsy is not None:
        rows = [[split, method, float(m.get("average_precision", float("nan"))), float(m.get("auroc", float("nan")))]
                for split in ("all", "test_split") for method, m in (mapsy.get(split) or {}).items()]  # fmt: skip
        demo.add(
            f"**Saved MaPSy zero-shot benchmark** (`{demo.results.name}/{MAPSY_RESULTS}`: {mapsy.get('n_variants')} "
            f"real exonic variants, {mapsy.get('n_positive')} exonic splicing mutations), made by "
            f"`python -m txformers.variant_effect --model {mapsy.get('model', '...')} --mapsy mapsy.txt`:",
            "",
            *_table(["split", "score", "AP", "AUROC"], rows),
        )
    highest, lowest = records[top], records[least]
    return (f"variant effects: {len(records)} SNVs scored; highest kl_context {highest['id']} "
            f"({highest['kl_context']:.1f}), lowest {lowest['id']} ({lowest['kl_context']:.1f})")


# ---------------------------------------------------------------------------------------------- 3. drug response
def _short_dataset(name: str) -> str:
    """``Target_expr_resp_z.PLX4720_tp4k.tsv`` -> ``PLX4720``."""
    found = re.search(r"Target_expr_resp_z\.(.+?)_tp4k", str(name))
    return found.group(1) if found else Path(str(name)).stem


def _fewshot_command(runs: list[dict[str, Any]], n_seeds: Any) -> str:
    """The `txformers drug fewshot` command that gives the runs of a saved few-shot JSON."""
    models = dict.fromkeys(f"{run['name']}={run['model']}" if run.get("name") else str(run.get("model"))
                           for run in runs if run.get("model"))  # fmt: skip
    data = dict.fromkeys(Path(str(run["data"])).name for run in runs if run.get("data"))
    shots = sorted({int(run["shots"]) for run in runs if "shots" in run})
    return (f"txformers drug fewshot --model {' '.join(models) or '...'} --data {' '.join(data) or '...'} "
            f"--shots {' '.join(map(str, shots)) or '...'} --seeds {n_seeds} "
            "--json results/metascdrug/single_cell_fewshot.json")


def plot_roc(curves: dict[str, tuple[Any, Any, float]], path: Path, title: str) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(4.8, 4.6))
    for (name, (fpr, tpr, auroc)), color in zip(curves.items(), ("tab:purple", "tab:green")):
        axis.plot(fpr, tpr, color=color, linewidth=1.6, label=f"{name} (AUROC {auroc:.3f})")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_title(title, fontsize=9)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_fewshot(table: list[dict[str, Any]], path: Path) -> None:
    """Grouped bars of the saved few-shot results: AUROC and accuracy by dataset and k."""
    import numpy as np

    plt = pyplot()
    models = [("meta", "MetaSCDrug (meta)", "tab:purple"), ("nometa", "no meta-training", "tab:green"),
              ("logistic_regression", "logistic regression", "tab:grey")]  # fmt: skip
    labels = [f"{_short_dataset(row['data'])}\nk={row['shots']}" for row in table]
    x = np.arange(len(table))
    figure, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.9 * len(table) + 1.5), 6.0), sharex=True)
    for axis, metric in zip(axes, ("auroc", "accuracy")):
        for offset, (key, name, color) in zip((-0.27, 0.0, 0.27), models):
            values = [row.get(key, {}).get(metric, np.nan) for row in table]
            axis.bar(x + offset, values, width=0.26, color=color, label=name)
        axis.set_ylabel(metric if metric == "accuracy" else "AUROC")
        axis.set_ylim(0.4, 1.1)
        axis.axhline(0.5, color="black", linewidth=0.5, linestyle=":")
    axes[0].legend(loc="upper center", fontsize=8, ncol=3, frameon=False)
    axes[0].set_title("Saved few-shot results on real single cells (mean over seeds; k labelled cells per class)",
                      fontsize=9)  # fmt: skip
    axes[1].set_xticks(x, labels, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def section_drug(demo: Demo) -> str:
    import anndata
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score, roc_curve

    from ..critical_genes import critical_genes, plot_critical_genes
    from ..models.metascdrug import DrugResponsePipeline, MetaScDrugForDrugResponse, MetaScDrugProcessor
    from ..models.metascdrug.pipeline_metascdrug import read_smiles_table

    data, smiles_table = demo.examples / "drug_cells.h5ad", demo.examples / "drug_smiles.csv"
    try:
        adata = anndata.read_h5ad(data)
        smiles = read_smiles_table(smiles_table).get(DRUG)
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"cannot read the drug example ({type(error).__name__}: {error})") from None
    if smiles is None:
        raise UserError(f"{smiles_table} has no SMILES for {DRUG}")
    if "response" not in adata.obs.columns:
        raise UserError(f"{data} has no obs column 'response' (1 = sensitive, 0 = resistant)")
    labels = adata.obs["response"].astype(int).to_numpy()

    frame = pd.DataFrame({"cell": adata.obs_names, "response": labels})
    if "mpas_score" in adata.obs.columns:
        frame["mpas_score"] = adata.obs["mpas_score"].to_numpy()
    curves, scores = {}, {}
    for name in ("metascdrug-meta", "metascdrug-nometa"):
        folder = demo.checkpoint(name)
        model = MetaScDrugForDrugResponse.from_pretrained(folder).eval()
        pipe = DrugResponsePipeline(model=model, processor=MetaScDrugProcessor.from_pretrained(folder),
                                    device=demo.device)  # fmt: skip
        try:
            cells = pipe(adata, smiles=smiles)
        except ValueError as error:
            raise UserError(f"{data}: {error}") from None
        probability = np.array([cell["sensitive_probability"] for cell in cells])
        frame[f"p_sensitive_{name}"] = probability
        frame[f"{pipe.regression_target}_{name}"] = [cell[pipe.regression_target] for cell in cells]
        fpr, tpr, _ = roc_curve(labels, probability)
        auroc = float(roc_auc_score(labels, probability))
        curves[name] = (fpr, tpr, auroc)
        scores[name] = {"auroc": auroc, "mean_probability": float(probability.mean()),
                        "accuracy_at_0.5": float(((probability >= 0.5) == labels).mean())}  # fmt: skip
    frame.to_csv(demo.path("drug_response.csv"), index=False, float_format="%.6g")
    plot_roc(curves, demo.path("figures/drug_roc.png"),
             f"{DRUG}, zero-shot, {len(labels)} synthetic cells:\na demonstration, not an evaluation")

    expression = pd.DataFrame(adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X),
                              index=adata.obs_names, columns=adata.var_names)  # fmt: skip
    seeds, n_steps, top = 3, 16, 20
    result = critical_genes(demo.checkpoint("metascdrug-meta"), expression, smiles, seeds=seeds, top=top,
                            n_steps=n_steps, max_cells=len(expression))  # fmt: skip
    ranking = result["ranking"][result["ranking"]["present"]]
    ranking.to_csv(demo.path("critical_genes.tsv"), sep="\t", index=False, float_format="%.6g")
    plot_critical_genes(result, demo.path("figures/drug_critical_genes.png"), n_genes=15,
                        title=f"metascdrug-meta, {DRUG}, synthetic cells")  # fmt: skip
    top_genes = [{"gene": row.gene, "mean_abs_attribution": float(row.mean_abs_attribution),
                  "mean_attribution": float(row.mean_attribution)} for row in ranking.head(10).itertuples()]  # fmt: skip

    saved_path = demo.results / "metascdrug/single_cell_fewshot.json"
    saved = demo.saved("metascdrug/single_cell_fewshot.json")
    table = saved.get("table") if isinstance(saved, dict) else None
    if not table:
        raise UserError(f"{saved_path} has no 'table' of few-shot results")
    plot_fewshot(table, demo.path("figures/drug_fewshot_saved.png"))
    runs = saved.get("runs") or [{}]
    n_seeds = len(runs[0].get("seeds", [])) or "?"
    settings = runs[0].get("settings", {})

    demo.summary["drug"] = {
        "drug": DRUG, "smiles": smiles, "input": str(data), "cells": int(len(labels)),
        "sensitive_cells": int(labels.sum()), "zero_shot": scores,
        "critical_genes": {"model": str(demo.checkpoint("metascdrug-meta")), "seeds": seeds, "n_steps": n_steps,
                           "stability": result["stability"], "top_genes": top_genes},
        "saved": {"file": str(saved_path), "table": table},
    }  # fmt: skip
    demo.add(
        f"Both MetaSCDrug checkpoints predict, zero-shot, how sensitive each of {len(labels)} synthetic melanoma-like "
        f"cells (`{data.name}`, raw counts of {adata.n_vars} panel genes) is to {DRUG}. The cells' label follows a "
        "stated rule: a cell is *sensitive* when its MAPK pathway activity score (MPAS genes) is above the median "
        f"({int(labels.sum())} sensitive, {int(len(labels) - labels.sum())} resistant; see `examples/README.md`). "
        f"The ROC shows how the per-cell probabilities rank the cells against that rule: {SYNTHETIC}.",
        "",
        *_table(["checkpoint", "AUROC vs the rule", "accuracy at p >= 0.5", "mean probability"],
                [[name, s["auroc"], s["accuracy_at_0.5"], s["mean_probability"]] for name, s in scores.items()]),
    )  # fmt: skip
    demo.figure("figures/drug_roc.png", f"ROC of the per-cell {DRUG} probabilities ({SYNTHETIC})")
    stability = result["stability"]
    demo.add(
        f"**Critical genes** (`txformers.critical_genes`): integrated gradients ({n_steps} steps) of the sensitive "
        f"logit of `metascdrug-meta` over the panel genes, on {seeds} bootstrap samples of the synthetic cells "
        f"(top-{top} Jaccard {stability['jaccard_top']:.2f}, Spearman {stability['spearman']:.2f}). Top genes: "
        + ", ".join(f"{g['gene']} ({'+' if g['mean_attribution'] > 0 else '-'})" for g in top_genes)
        + " (+ pushes towards sensitive).",
        "",
    )
    demo.figure("figures/drug_critical_genes.png", "critical genes of the prediction on the synthetic cells")
    demo.add(
        f"**Saved few-shot results on real single cells** (`{demo.results.name}/metascdrug/single_cell_fewshot.json`): "
        f"LoRA adaptation on k labelled cells per class, scored on the other cells, mean over {n_seeds} seeds "
        f"(settings {json.dumps(settings)}), next to logistic regression on the same shots. "
        + ("Made by:" if saved.get("command") else "The file records no command; an equivalent one, from its runs:"),
        "",
        *_code(saved.get("command") or _fewshot_command(runs, n_seeds)),
        *_table(["dataset", "k", "AUROC meta", "AUROC no-meta", "AUROC LR", "accuracy meta", "accuracy no-meta",
                 "accuracy LR"],
                [[_short_dataset(row["data"]), row["shots"],
                  *(float(row.get(model, {}).get(metric, float("nan"))) for metric in ("auroc", "accuracy")
                    for model in ("meta", "nometa", "logistic_regression"))] for row in table]),
    )  # fmt: skip
    demo.figure("figures/drug_fewshot_saved.png", "saved few-shot AUROC and accuracy by dataset and k (real cells)")
    return (f"drug response: {len(labels)} synthetic cells, zero-shot AUROC vs the MPAS rule "
            + ", ".join(f"{name} {s['auroc']:.2f}" for name, s in scores.items())
            + f"; top critical gene {top_genes[0]['gene']}; saved few-shot results: {len(table)} rows")


# ---------------------------------------------------------------------------------------------- 4. cytokine
def plot_embeddings(points: Any, cell_types: Any, samples: Any, path: Path, title: str) -> None:
    import numpy as np

    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.6, 4.4))
    markers = dict(zip(sorted(set(samples)), "osD^vP*X"))
    colors = dict(zip(sorted(set(cell_types)), ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
    for cell_type in colors:
        for sample, marker in markers.items():
            chosen = (np.asarray(cell_types) == cell_type) & (np.asarray(samples) == sample)
            if chosen.any():
                axis.scatter(points[chosen, 0], points[chosen, 1], s=22, marker=marker, color=colors[cell_type],
                             alpha=0.8, label=f"{cell_type}, {sample}")  # fmt: skip
    axis.set_xlabel("PC 1")
    axis.set_ylabel("PC 2")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _cellformer_embeddings(folder: Path, adata: Any, device_name: str) -> tuple[Any, float, int]:
    """Pooled embeddings (``CellformerModel.pooler_output``) of every cell, the share of the model's gene
    vocabulary present in ``adata`` and the vocabulary size."""
    import torch

    from ..models.cellformer import CellformerModel
    from ..tokenizers import GeneExpressionTokenizer

    tokenizer = GeneExpressionTokenizer.from_pretrained(folder)
    model = CellformerModel.from_pretrained(folder).to(device_name).eval()
    encoded = tokenizer(adata, mode="bins", sampling="top", return_tensors="pt")
    inputs = {key: encoded[key].to(device_name) for key in ("input_ids", "attention_mask", "expression_bins", "expression")}
    with torch.no_grad():
        embeddings = model(**inputs).pooler_output.float().cpu().numpy()
    return embeddings, float(encoded["coverage"]), len(tokenizer.genes)


def section_cytokine(demo: Demo) -> str:
    import anndata
    import numpy as np
    import pandas as pd

    from ..models.cellformer import CancerTypePipeline, CellformerForCellClassification
    from ..plotting import plot_heatmap
    from ..tokenizers import GeneExpressionTokenizer

    data = demo.examples / "immune_cells.h5ad"
    try:
        adata = anndata.read_h5ad(data)
    except OSError as error:
        raise UserError(f"cannot read {data} as AnnData ({error})") from None
    if "sample" not in adata.obs.columns:
        raise UserError(f"{data} has no obs column 'sample'")
    folder = demo.checkpoint("cellformer-cancer-type")
    model = CellformerForCellClassification.from_pretrained(folder).eval()
    tokenizer = GeneExpressionTokenizer.from_pretrained(folder)
    report = tokenizer.gene_report(adata)
    pipe = CancerTypePipeline(model=model, tokenizer=tokenizer, device=demo.device)
    try:
        result = pipe(adata, sample_column="sample", return_all_scores=True)
    except ValueError as error:
        raise UserError(f"{data}: {error}") from None
    labels = pipe.labels
    cells = pd.DataFrame({
        "cell": adata.obs_names, "sample": adata.obs["sample"].astype(str).to_numpy(),
        "cell_type": adata.obs.get("cell_type", pd.Series([""] * adata.n_obs)).astype(str).to_numpy(),
        "predicted_cancer_type": [c["label"] for c in result["cells"]], "score": [c["score"] for c in result["cells"]],
        "panel_genes_detected": [c["genes_detected"] for c in result["cells"]],
    })  # fmt: skip
    cells = pd.concat([cells, pd.DataFrame([c["scores"] for c in result["cells"]], columns=labels).add_prefix("p_")],
                      axis=1)  # fmt: skip
    cells.to_csv(demo.path("cancer_type_cells.csv"), index=False, float_format="%.6g")
    pattern_of = (adata.obs.groupby("sample", observed=True)["pattern_of"].first().astype(str).to_dict()
                  if "pattern_of" in adata.obs.columns else {})  # fmt: skip
    samples = [{"sample": s["sample"], "n_cells": int(s["n_cells"]), "predicted_cancer_type": s["label"],
                "score": float(s["score"]), "raised_genes_of": pattern_of.get(s["sample"]),
                "cell_calls": {k: int(v) for k, v in cells[cells["sample"] == s["sample"]]["predicted_cancer_type"]
                               .value_counts().items()}} for s in result["samples"]]  # fmt: skip
    pd.DataFrame([{key: value for key, value in s.items() if key != "cell_calls"} for s in samples]).to_csv(
        demo.path("cancer_type_samples.csv"), index=False, float_format="%.6g")
    agree = sum(s["predicted_cancer_type"] == s["raised_genes_of"] for s in samples if s["raised_genes_of"])

    embeddings, coverage, vocabulary = _cellformer_embeddings(demo.checkpoint("cellformer-pretrained"), adata,
                                                              demo.device)
    centred = embeddings - embeddings.mean(0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    points = centred @ components[:2].T
    explained = (singular[:2] ** 2 / (singular**2).sum()).tolist()
    pd.DataFrame({"cell": adata.obs_names, "pc1": points[:, 0], "pc2": points[:, 1]}).to_csv(
        demo.path("cellformer_embeddings.csv"), index=False, float_format="%.6g")
    plot_embeddings(points, cells["cell_type"], cells["sample"], demo.path("figures/cellformer_embeddings.png"),
                    f"cellformer-pretrained cell embeddings (PCA), {adata.n_obs} synthetic immune cells")  # fmt: skip

    patterns_dir = demo.results / "cellformer/patterns"
    patterns = demo.saved("cellformer/patterns/cytokine_patterns.json")
    pattern_table = pd.read_csv(patterns_dir / "cytokine_patterns.tsv", sep="\t")
    plot_heatmap(pattern_table, demo.path("figures/cytokine_heatmap_saved.png"), top=6,
                 title="Saved cytokine patterns of real tumour immune cells")  # fmt: skip
    cancer_type = demo.saved("cellformer/cancer_type.json")
    pretrain = demo.saved("cellformer/pretrain.json")
    metrics, metric_rows = {}, []
    for protocol, content in (cancer_type.get("protocols") or {}).items():
        for name, scores in (content.get("models") or {}).items():
            per_cell = {k: v for k, v in (scores.get("per_cell") or {}).items() if isinstance(v, (int, float))}
            per_sample = {k: v for k, v in (scores.get("per_sample") or {}).items() if isinstance(v, (int, float))}
            metrics.setdefault(protocol, {})[name] = {"per_cell": per_cell, "per_sample": per_sample}
            metric_rows.append([protocol, content.get("cells", ""), name, *(float(d.get(k, float("nan"))) for d, k in
                                ((per_cell, "accuracy"), (per_cell, "macro_f1"), (per_cell, "balanced_accuracy"),
                                 (per_sample, "accuracy"), (per_sample, "macro_f1")))])  # fmt: skip

    demo.summary["cytokine"] = {
        "model": str(folder), "input": str(data), "cells": int(adata.n_obs), "panel_coverage": report.coverage,
        "samples": samples, "samples_called_as_their_raised_pattern": int(agree),
        "cell_calls": {k: int(v) for k, v in cells["predicted_cancer_type"].value_counts().items()},
        "pretrained_embeddings": {"model": str(demo.checkpoint("cellformer-pretrained")),
                                  "dimension": int(embeddings.shape[1]), "vocabulary_coverage": coverage,
                                  "explained_variance_pc1_pc2": explained},
        "saved": {
            "patterns": {"file": str(patterns_dir / "cytokine_patterns.json"), "command": patterns.get("command"),
                         "cells_per_cancer_type": patterns.get("cells_per_cancer_type"),
                         "top_genes": patterns.get("top_genes")},
            "cancer_type": {"file": str(demo.results / "cellformer/cancer_type.json"),
                            "command": cancer_type.get("command"), "classes": cancer_type.get("classes"),
                            "metrics": metrics},
            "pretrain": {"file": str(demo.results / "cellformer/pretrain.json"), "command": pretrain.get("command"),
                         "heldout_command": pretrain.get("heldout_command"), "heldout": pretrain.get("heldout")},
        },
    }  # fmt: skip
    demo.add(
        f"`{folder.name}` (Cellformer classifier over {report.n_vocab_genes} cytokine genes) calls the cancer type of "
        f"each of {adata.n_obs} synthetic immune cells (`{data.name}`: raw counts of the 185 cytokine ligand genes "
        f"and a few cell-type markers, {adata.obs['sample'].nunique()} samples) and of each sample (mean class "
        f"probabilities of its cells). Each synthetic sample raises the top cytokines of one cancer type in the "
        "saved real patterns (column *raised genes of*): whether the call follows them shows the classifier reads "
        f"those genes; {SYNTHETIC}.",
        "",
        *_table(["sample", "cells", "raised genes of", "call", "mean probability", "cell calls"],
                [[s["sample"], s["n_cells"], s["raised_genes_of"] or "-", s["predicted_cancer_type"], s["score"],
                  ", ".join(f"{k} {v}" for k, v in s["cell_calls"].items())] for s in samples]),
    )  # fmt: skip
    demo.add(
        f"`cellformer-pretrained` (masked-expression pretraining, no labels) embeds the same cells "
        f"({embeddings.shape[1]} dimensions; {coverage:.1%} of its {vocabulary}-gene vocabulary is in the file, far "
        "fewer genes per cell than in the real transcriptomes it was trained on).",
        "",
    )  # fmt: skip
    demo.figure("figures/cellformer_embeddings.png",
                f"PCA of the pretrained cell embeddings (PC1 {explained[0]:.0%}, PC2 {explained[1]:.0%} of the variance)")
    heldout = pretrain.get("heldout") or {}
    demo.add(
        "**Saved masked-expression evaluation** of `cellformer-pretrained` on held-out real cells "
        f"(`{demo.results.name}/cellformer/pretrain.json`), made by:",
        "",
        *_code(_command_of({"command": pretrain.get("heldout_command") or pretrain.get("command")},
                           "python -m txformers.training.pretrain_cellformer")),
        *_table(["held-out cells", "masked genes", "bin accuracy", "gene baseline", "cell baseline", "bin MAE",
                 "gene baseline MAE"],
                [[heldout.get("eval_cells"), heldout.get("masked_genes"),
                  *(float(heldout.get(k, float("nan"))) for k in ("bin_accuracy", "baseline_gene_bin_accuracy",
                                                                  "baseline_cell_bin_accuracy", "bin_mae",
                                                                  "baseline_gene_bin_mae"))]]),
    )  # fmt: skip
    top_rows = [[cancer, patterns.get("cells_per_cancer_type", {}).get(cancer, ""), row["gene"], float(row["auroc"]),
                 float(row["cohens_d"]), float(row["detection_rate"]), float(row["detection_rate_rest"])]
                for cancer, rows in (patterns.get("top_genes") or {}).items() for row in rows[:3]]  # fmt: skip
    demo.add(
        f"**Saved cytokine patterns** (`{demo.results.name}/cellformer/patterns/`; first three top genes per cancer "
        "type; AUROC and Cohen's d one-vs-rest over cells), made by:",
        "",
        *_code(_command_of(patterns, "python -m txformers.cytokine_patterns")),
        *_table(["cancer type", "cells", "gene", "AUROC", "Cohen's d", "detected", "detected (rest)"], top_rows),
    )
    demo.figure("figures/cytokine_heatmap_saved.png",
                "saved cytokine patterns: one-vs-rest AUROC and attribution of the top genes per cancer type (real cells)")
    if patterns.get("note"):
        demo.add(f"> {patterns['note']}", "")
    demo.add(
        f"**Saved cancer-type metrics** (`{demo.results.name}/cellformer/cancer_type.json`; cross-validation with "
        "patient-grouped splits; *strict*: some test classes never seen in training), made by:",
        "",
        *_code(_command_of(cancer_type, "python -m txformers.training.cancer_type")),
        *_table(["protocol", "cells", "model", "accuracy", "macro-F1", "balanced accuracy", "per-sample accuracy",
                 "per-sample macro-F1"], metric_rows),
    )  # fmt: skip
    calls = ", ".join(f"{s['sample']} {s['predicted_cancer_type']}" for s in samples)
    return (f"cytokine: {adata.n_obs} synthetic cells, per-sample calls {calls} "
            f"({agree}/{len(samples)} follow the raised genes)")


RUNNERS = {
    "splice-sites": section_splice_sites,
    "variants": section_variants,
    "drug": section_drug,
    "cytokine": section_cytokine,
}


# ---------------------------------------------------------------------------------------------- parser
def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="run every bundled checkpoint on the bundled examples; writes a report folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  txformers demo --out outputs/demo\n"
        "  txformers demo --out outputs/demo --sections drug cytokine --device cpu --overwrite\n",
    )
    demo.add_argument("--out", default="outputs/demo", help="report folder (default: %(default)s)")
    demo.add_argument("--overwrite", action="store_true", help="replace the report files of an existing --out")
    demo.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    demo.add_argument("--checkpoints", default=str(CHECKPOINTS), help="folder of the checkpoints (default: %(default)s)")
    demo.add_argument("--results", default=str(REPO_ROOT / "results"),
                      help="folder of the saved results (default: %(default)s)")  # fmt: skip
    demo.add_argument("--examples", default=str(REPO_ROOT / "examples"),
                      help="folder of the example inputs (default: %(default)s)")  # fmt: skip
    demo.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), metavar="SECTION",
                      help="sections to run, in this order: " + " ".join(SECTIONS) + " (default: all)")  # fmt: skip
    demo.set_defaults(handler=cmd_demo)
