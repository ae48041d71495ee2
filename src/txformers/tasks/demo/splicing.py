# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Sections 1 and 2 of the demo: splice sites along the synthetic minigenes, zero-shot variant effects."""

from __future__ import annotations

import re
from pathlib import Path

from ...io import UserError
from .report import Demo, code_block, command_of, markdown_table

MAPSY_RESULTS = "splicebert/mapsy_zero_shot.json"  # shown when present

# --- 1. splice sites
_COORDINATES = re.compile(r"intron=(\d+)-(\d+)")


def _designed_sites(examples: Path) -> dict[str, tuple[int, int]]:
    """Record name -> (donor, acceptor), 0-based, in the pipeline's convention (the G of GT = first intron
    nt, the G of AG = last intron nt), from the ``intron=START-END`` (1-based) of each FASTA header."""
    from ...datasets.genome import iter_fasta_records

    sites = {}
    for header, _ in iter_fasta_records(examples / "minigenes.fa"):
        found = _COORDINATES.search(header)
        if found:
            sites[header.split()[0]] = (int(found.group(1)) - 1, int(found.group(2)) - 1)
    return sites


def _safe_name(name: str) -> str:
    """A file-name-safe version of a sequence name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "sequence"


def section_splice_sites(demo: Demo) -> str:
    import numpy as np
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from ...models.splicebert.pipeline_splicebert import SpliceSitePipeline, splice_site_label_ids
    from ...plotting import plot_splice_track
    from ...tokenizers import NucleotideTokenizer
    from ..splicing.sites import CONVENTION, read_named_sequences

    model_dir = demo.checkpoint("splicebert-small-splice-sites")
    try:
        config = AutoConfig.from_pretrained(model_dir)
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"cannot read the model config in {model_dir}: {error}") from None
    try:
        splice_site_label_ids(config)
    except ValueError as error:
        raise UserError(f"{model_dir}: {error}") from None
    window = getattr(config, "window_size", None)
    if not window:
        raise UserError(f"{model_dir}: the config has no window_size (the training window)")
    try:
        records = read_named_sequences(demo.examples / "minigenes.fa")
    except ValueError as error:
        raise UserError(str(error)) from None
    designed = _designed_sites(demo.examples)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).to(demo.device).eval()
    finder = SpliceSitePipeline(
        model=model, tokenizer=NucleotideTokenizer(), device=demo.device, batch_size=64, window_size=window
    )
    results = list(finder([sequence for _, sequence in records]))

    tsv_rows, calls, figures = [], [], []
    for (name, _), result in zip(records, results):
        sequence, donor, acceptor = result["sequence"], result["donor_prob"], result["acceptor_prob"]
        candidates = np.union1d(result["donor_positions"], result["acceptor_positions"])
        tsv_rows += [f"{name}\t{i + 1}\t{sequence[i]}\t{donor[i]:.6f}\t{acceptor[i]:.6f}" for i in candidates.tolist()]
        sites = designed.get(name)
        for kind, probabilities, positions, index in (
            ("donor", donor, result["donor_positions"], 0),
            ("acceptor", acceptor, result["acceptor_positions"], 1),
        ):
            scores = probabilities[positions]
            top = int(positions[int(np.argmax(scores))]) if len(positions) else None
            call = {
                "sequence": name,
                "site": kind,
                "candidates": int(len(positions)),
                "top_call": None if top is None else top + 1,
                "top_probability": None if top is None else float(probabilities[top]),
            }
            if sites is not None:
                site = sites[index]
                call.update(
                    designed=site + 1,
                    designed_probability=float(probabilities[site]),
                    designed_rank=int((scores > probabilities[site]).sum()) + 1,
                    hit=top == site,
                )
            calls.append(call)
        figure = f"figures/splice_track_{_safe_name(name)}.png"
        plot_splice_track(
            result,
            name,
            demo.path(figure),
            sites=sites,
            title=f"{name} ({len(sequence)} nt, synthetic): splice-site probability at every GT / AG",
        )
        figures.append((figure, name))

    demo.path("splice_sites.tsv").write_text(
        f"# txformers demo: {demo.examples / 'minigenes.fa'} with {model_dir} ({window}-nt windows)\n"
        f"# position is 1-based; {CONVENTION}\nname\tposition\tnucleotide\tdonor_prob\tacceptor_prob\n"
        + "\n".join(tsv_rows)
        + "\n"
    )
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
                saved_rows.append(
                    [
                        name,
                        site,
                        metrics.get("n", ""),
                        *(float(metrics[key]) for key in ("auroc", "ap", "accuracy", "f1")),
                    ]
                )
    if not saved_rows:
        raise UserError(f"{demo.results / 'splicebert/splice_sites.json'} has no pretrained/scratch/... test metrics")

    demo.summary["splice-sites"] = {
        "model": str(model_dir),
        "window": int(window),
        "input": str(demo.examples / "minigenes.fa"),
        "calls": calls,
        "designed_sites_hit": int(sum(hits)),
        "designed_sites": len(hits),
        "saved": {
            "file": str(demo.results / "splicebert/splice_sites.json"),
            "command": saved.get("command"),
            "window": saved.get("window"),
            "test": saved_copy,
        },
    }
    demo.add(
        f"`{model_dir.name}` (SpliceBERT window classifier, {window}-nt windows centred on each candidate) scores "
        f"every GT as a donor and every AG as an acceptor along {len(records)} synthetic minigenes "
        "(exon - intron - exon, "
        "consensus signals at designed positions, random sequence elsewhere). Triangles mark the designed "
        "sites. Positions are 1-based; the donor probability sits at the G of GT (first intron nucleotide), "
        "the acceptor probability at the G of AG (last intron nucleotide).",
        "",
    )
    rows = [
        [
            c["sequence"],
            c["site"],
            c.get("designed", "-"),
            c.get("designed_probability", float("nan")),
            c.get("designed_rank", "-"),
            c["candidates"],
            c["top_call"],
            c["top_probability"],
            {True: "yes", False: "no"}.get(c.get("hit"), "-"),
        ]
        for c in calls
    ]
    demo.add(
        *markdown_table(
            [
                "sequence",
                "site",
                "designed",
                "P(designed)",
                "rank of designed",
                "candidates",
                "top call",
                "P(top)",
                "top = designed",
            ],
            rows,
        )
    )
    demo.add(f"The top call is the designed site for **{sum(hits)} of {len(hits)}** designed sites.", "")
    for figure, name in figures:
        demo.figure(figure, f"{name}: donor (up) and acceptor (down) probabilities; triangles: designed sites")
    demo.add(
        "**Saved test metrics** (real human splice-site windows, true sites vs decoy GT/AG; "
        f"`{demo.results.name}/splicebert/splice_sites.json`), made by:",
        "",
        *code_block(command_of(saved, "python -m txformers.training.finetune_splice")),
        *markdown_table(["model", "site", "n", "AUROC", "AP", "accuracy", "F1"], saved_rows),
    )
    return f"splice sites: top call = designed site for {sum(hits)}/{len(hits)} sites ({len(records)} minigenes)"


# --- 2. variants
VARIANT_COLUMNS = ("id", "region", "position", "intron_start", "intron_end", "wt_sequence", "mut_sequence")
# the ranking score of the variant table: >= 0, higher = more disruptive
VARIANT_SCORE = "splice_site_kl"
VARIANT_SCORE_TEXT = (
    "KL(mut || wt) of the model's A/C/G/T probabilities at the annotated splice sites (mean over the donor GT, "
    "mean over the acceptor AG, the larger of the two); 0 = the model sees the sites unchanged, higher = more "
    "disruptive"
)


def section_variants(demo: Demo) -> str:
    import numpy as np
    import pandas as pd

    from ...models.splicebert import SpliceBertForMaskedLM
    from ...models.splicebert.pipeline_splicebert import SpliceVariantEffectPipeline
    from ...models.splicebert.scoring_splicebert import check_snv, delta_p, site_distance, splice_site_kl
    from ...plotting import plot_kl_profiles
    from ...tokenizers import NucleotideTokenizer

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
            "id": row.id,
            "region": row.region,
            "position": position + 1,
            "ref": output["ref"],
            "alt": output["alt"],
            "kl_context": output["kl_context"],
            "kl_variant": output["kl_variant"],
            "donor_kl": splice_site_kl(kl, donor)["donor_kl"],
            "acceptor_kl": splice_site_kl(kl, acceptor)["acceptor_kl"],
            "delta_p": delta_p(output["p_wt"], output["p_mut"], row.wt_sequence, row.mut_sequence, position)["delta_p"],
            "site_distance": min(site_distance(position, donor), site_distance(position, acceptor)),
        }
        record["splice_site_kl"] = max(record["donor_kl"], record["acceptor_kl"])
        records.append(record)
        sites = [int(row.intron_start), int(row.intron_start) + 1, int(row.intron_end) - 2, int(row.intron_end) - 1]
        label = f"{row.id} ({row.region}, {output['ref']}>{output['alt']} at {position + 1})"
        profiles.append(
            {
                "kl": kl,
                "position": position,
                "sites": sites,
                "score": record[VARIANT_SCORE],
                "score_name": VARIANT_SCORE,
                "label": label,
            }
        )
    frame = pd.DataFrame(records)
    order = np.argsort(-frame[VARIANT_SCORE].to_numpy(), kind="stable")
    frame["rank"] = np.argsort(order) + 1
    with demo.path("variants.tsv").open("w") as handle:
        handle.write(f"# txformers demo: {path} with {model_dir} (zero-shot); position 1-based\n")
        handle.write(f"# rank: by {VARIANT_SCORE} = {VARIANT_SCORE_TEXT}\n")
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
        "score": {"name": VARIANT_SCORE, "meaning": VARIANT_SCORE_TEXT},
        "top_variant": records[top]["id"],
        "saved": {
            "pretrained_eval": {
                "file": str(demo.results / "splicebert/splicebert-small-pretrained_eval.json"),
                "command": saved.get("command"),
                "steps": saved.get("steps"),
                "eval": evaluation,
            },
            "mapsy_zero_shot": None if mapsy is None else {"file": str(demo.results / MAPSY_RESULTS), **mapsy},
        },
    }
    demo.add(
        f"`{model_dir.name}` (the masked LM, no fine-tuning) scores {len(records)} designed SNVs of "
        f"`{table['minigene'].iloc[0] if 'minigene' in table else 'a minigene'}` the way SpliceBERT does: "
        "WT and mutant go "
        "through the model unmasked and the per-position KL(mut || wt) of the A/C/G/T probabilities is taken. "
        f"Variants are ranked by **{VARIANT_SCORE}** = {VARIANT_SCORE_TEXT}. donor_kl / acceptor_kl: the two "
        "sites separately. delta_p = p_mut(alt) - p_wt(ref) at the variant (negative: the model finds the new "
        "base less plausible than the old). kl_context: SpliceBERT's sum of log KL over +-100 nt around the "
        "variant; a sum of logarithms of small numbers, so always negative and only differences between variants "
        "mean anything (less negative = more perturbation). Positions 1-based. The bundled "
        f"masked LM is small ({model.config.num_hidden_layers} layers, hidden size {model.config.hidden_size}, "
        f"{saved.get('steps', '?')} CPU training steps; its saved evaluation is below), so its zero-shot scores are "
        "not those of the published SpliceBERT.",
        "",
        *markdown_table(
            [
                "rank",
                "variant",
                "region",
                "position",
                "change",
                VARIANT_SCORE,
                "donor_kl",
                "acceptor_kl",
                "delta_p",
                "kl_context",
                "kl_variant",
            ],
            [
                [
                    r["rank"],
                    r["id"],
                    r["region"],
                    r["position"],
                    f"{r['ref']}>{r['alt']}",
                    r[VARIANT_SCORE],
                    r["donor_kl"],
                    r["acceptor_kl"],
                    r["delta_p"],
                    r["kl_context"],
                    r["kl_variant"],
                ]
                for r in frame.sort_values("rank").to_dict("records")
            ],
        ),
    )
    demo.figure(
        "figures/variant_kl_profile.png",
        f"KL(mut || wt) by distance to the variant: the highest {VARIANT_SCORE} ({records[top]['id']}) and the "
        f"lowest ({records[least]['id']}); orange: the designed GT/AG; grey: beyond the end of the sequence",
    )
    demo.add(
        "**Saved masked-LM evaluation** of the pretrained checkpoint (held-out real pre-mRNA windows, 15 % masked; "
        f"`{demo.results.name}/splicebert/splicebert-small-pretrained_eval.json`, step {saved.get('steps')}), made by:",
        "",
        *code_block(command_of(saved, "python -m txformers.training.pretrain_mlm")),
        *markdown_table(
            ["masked tokens", "loss", "accuracy", "balanced accuracy"],
            [
                [
                    evaluation.get("masked_tokens"),
                    *(
                        float(evaluation[k]) if k in evaluation else float("nan")
                        for k in ("loss", "accuracy", "balanced_accuracy")
                    ),
                ]
            ],
        ),
    )
    if mapsy is not None:
        rows = [
            [split, method, float(m.get("average_precision", float("nan"))), float(m.get("auroc", float("nan")))]
            for split in ("all", "test_split")
            for method, m in (mapsy.get(split) or {}).items()
        ]
        demo.add(
            f"**Saved MaPSy zero-shot benchmark** (`{demo.results.name}/{MAPSY_RESULTS}`: {mapsy.get('n_variants')} "
            f"real exonic variants, {mapsy.get('n_positive')} exonic splicing mutations), made by "
            "`python -m txformers.tasks.splicing.variant_effect "
            f"--model {mapsy.get('model', '...')} --mapsy mapsy.txt`:",
            "",
            *markdown_table(["split", "score", "AP", "AUROC"], rows),
        )
    highest, lowest = records[top], records[least]
    return (
        f"variant effects: {len(records)} SNVs scored; highest {VARIANT_SCORE} {highest['id']} "
        f"({highest[VARIANT_SCORE]:.3g}), lowest {lowest['id']} ({lowest[VARIANT_SCORE]:.3g})"
    )
