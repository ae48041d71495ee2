import json
import math
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM, SpliceBertForTokenClassification
from txformers.training.finetune_tokens import DataError, encode, main, token_metrics

COMPLEMENT = str.maketrans("ACGT", "TGCA")
MOTIF = "CTGAC"  # branchpoint-like yUnAy: the labelled A is at index 3


def _tiny_pretrained(path):
    torch.manual_seed(0)
    config = SpliceBertConfig(
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=130,
        hidden_dropout_prob=0.0,
    )
    SpliceBertForMaskedLM(config).save_pretrained(path)
    return str(path)


def _write_genome_and_bed(root, chroms=("chr1", "chr2", "chr3", "chr4"), per_chrom=30, seed=0):
    """Random genome; 27-nt regions on both strands, one branchpoint each, marked by MOTIF in
    transcript orientation; one ignored (-100) position per region. Returns the BED rows."""
    rng = random.Random(seed)
    rows = []
    with open(root / "genome.fa", "w") as fasta:
        for chrom in chroms:
            genome = [rng.choice("ACGT") for _ in range(100 * (per_chrom + 2))]
            for i in range(per_chrom):
                start, strand = 100 * (i + 1), "+-"[i % 2]
                k = rng.randrange(4, 23)  # branchpoint index in transcript orientation
                labels = [0] * 27
                labels[k] = 1
                labels[(k + 9) % 27] = -100
                if strand == "+":
                    g = start + k
                    genome[g - 3 : g + 2] = MOTIF
                else:
                    labels = labels[::-1]  # BED labels are in genome order
                    g = start + 26 - k
                    genome[g - 1 : g + 4] = MOTIF.translate(COMPLEMENT)[::-1]
                rows.append((chrom, start, start + 27, f"r{i}", labels, strand))
            fasta.write(f">{chrom}\n" + "".join(genome) + "\n")
    with open(root / "bp.bed", "w") as bed:
        for chrom, start, end, name, labels, strand in rows:
            bed.write(f"{chrom}\t{start}\t{end}\t{name}\t{','.join(map(str, labels))}\t{strand}\n")
    return rows


def _write_ensemblesplice(root, n=16, seed=0):
    """Tiny EnsembleSplice layout (``> seq i`` + one 602-nt line): true sites carry a motif."""
    rng = random.Random(seed)
    for split in ("Train", "Test"):
        (root / split).mkdir(parents=True)
        for site, dinucleotide, motif, offset in (
            ("Donor", "GT", "AAGGTAAGTA", 3),
            ("Acceptor", "AG", "TTTTTTCAGG", 7),
        ):
            for kind in ("Positive", "Negative"):
                with open(root / split / f"{site}_{split}_{kind}.txt", "w") as handle:
                    for i in range(n):
                        sequence = [rng.choice("ACGT") for _ in range(602)]
                        core = motif if kind == "Positive" else "".join(rng.choice("ACGT") for _ in range(10))
                        sequence[300 - offset : 310 - offset] = core[:offset] + dinucleotide + core[offset + 2 :]
                        handle.write(f"> seq {i + 1}\n{''.join(sequence)}\n")


def _common(tmp_path, out, steps, *extra):
    return [
        "--pretrained",
        _tiny_pretrained(tmp_path / "pretrained"),
        "--output-dir",
        str(out),
        "--max-steps",
        str(steps),
        "--batch-size",
        "8",
        "--eval-every",
        str(steps // 3 or 1),
        "--lr",
        "5e-3",
        "--warmup-steps",
        "1",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--cpu",
        *extra,
    ]


def _check_metrics_against_sklearn(metrics, table, id2label):
    probabilities = table[[f"p_{name}" for _, name in sorted(id2label.items())]].to_numpy()
    labels, predicted = table["label"].to_numpy(), probabilities.argmax(1)
    assert metrics["n_positions"] == len(table)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    for index, name in id2label.items():
        truth = (labels == index).astype(int)
        m = metrics["per_class"][name]
        assert m["auroc"] == pytest.approx(roc_auc_score(truth, probabilities[:, index]))
        assert m["ap"] == pytest.approx(average_precision_score(truth, probabilities[:, index]))
        assert m["f1"] == pytest.approx(f1_score(truth, predicted == index))
        assert m["accuracy"] == pytest.approx(accuracy_score(truth, predicted == index))


def test_encode_aligns_labels_to_tokens():
    tokenizer = NucleotideTokenizer()
    out = encode(tokenizer, {"sequence": ["ACGTA", "GGA"], "labels": [[0, -100, 1, 0, -100], [1, -100, 0]]})
    assert out["input_ids"].shape == out["labels"].shape == (2, 7)
    assert out["labels"][0].tolist() == [-100, 0, -100, 1, 0, -100, -100]  # [CLS] and [SEP] ignored
    assert out["labels"][1].tolist() == [-100, 1, -100, 0, -100, -100, -100]  # padding ignored
    assert tokenizer.decode(out["input_ids"][0, 3:4].long()) == "G"  # label of nt 2 sits on its token
    with pytest.raises(DataError, match="window 0: 2 labels for a 3-nt sequence"):
        encode(tokenizer, {"sequence": ["ACG"], "labels": [[0, 1]]})


def test_token_metrics_match_sklearn_and_mark_absent_classes():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(3), size=50)
    labels = rng.integers(0, 2, size=50)  # class 2 never occurs
    metrics = token_metrics(probabilities, labels, {0: "neither", 1: "donor", 2: "acceptor"})
    assert metrics["per_class"]["donor"]["auroc"] == pytest.approx(roc_auc_score(labels == 1, probabilities[:, 1]))
    assert metrics["per_class"]["neither"]["ap"] == pytest.approx(
        average_precision_score(labels == 0, probabilities[:, 0])
    )
    assert math.isnan(metrics["per_class"]["acceptor"]["auroc"]) and metrics["per_class"]["acceptor"]["n_positive"] == 0
    assert metrics["accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == labels))


def test_branchpoint_trains_on_chromosome_split_and_saves_consistent_outputs(tmp_path):
    rows = _write_genome_and_bed(tmp_path)
    out = tmp_path / "out"
    argv = [
        "--task",
        "branchpoint",
        "--bed",
        str(tmp_path / "bp.bed"),
        "--fasta",
        str(tmp_path / "genome.fa"),
        "--window",
        "61",
        "--test-chroms",
        "chr3",
        "--valid-chroms",
        "chr4",
        *_common(tmp_path, out, 90),
    ]
    results = main(argv)
    saved = json.loads((out / "results.json").read_text())
    assert saved["command"].endswith(" ".join(argv))
    assert saved["chromosomes"] == {"train": ["chr1", "chr2"], "validation": ["chr4"], "test": ["chr3"]}
    assert saved["splits"]["test"] == {"windows": 30, "labelled_positions": {"none": 30 * 25, "branchpoint": 30}}

    history = results["model"]["history"]
    best = results["model"]["best"]
    assert best["validation_auroc"] == max(h["validation_auroc"] for h in history)  # model selection
    assert best["validation_auroc"] == best["validation"]["per_class"]["branchpoint"]["auroc"]
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]  # it learns
    assert saved["model"]["test"]["per_class"]["branchpoint"]["auroc"] > 0.8  # the motif is learnable
    assert saved["logistic_regression_onehot_60nt"]["test"]["per_class"]["branchpoint"]["auroc"] > 0.9

    table = pd.read_csv(out / "test_predictions.tsv.gz", sep="\t")
    assert table["id"].str.startswith("chr3:").all()
    expected_ids = {f"chr3:{start}-{end}({strand})" for chrom, start, end, _, _, strand in rows if chrom == "chr3"}
    assert set(table["id"]) == expected_ids
    assert (table.loc[table["label"] == 1, "nucleotide"] == "A").all()  # labels follow the strand
    assert table["position"].between(17, 17 + 26).all()  # only the 27-nt region (window 61: 17 nt before)
    _check_metrics_against_sklearn(saved["model"]["test"], table, {0: "none", 1: "branchpoint"})

    # The saved model is the selected one: it reproduces the saved test probabilities.
    model = SpliceBertForTokenClassification.from_pretrained(out / "model").eval()
    assert model.config.id2label == {0: "none", 1: "branchpoint"} and model.config.window_size == 61
    first = table[table["id"] == table["id"].iloc[0]]
    chrom, start, end = rows[60][0], rows[60][1], rows[60][2]
    assert first["id"].iloc[0] == f"{chrom}:{start}-{end}(+)"
    from txformers.datasets.genome import FastaReader

    with FastaReader(tmp_path / "genome.fa") as genome:
        window = genome.fetch(chrom, start - 17, end + 17)
    with torch.no_grad():
        logits = model(**NucleotideTokenizer()(window, return_tensors="pt")).logits[0]
    expected = logits.softmax(-1)[first["position"].to_numpy() + 1, 1].numpy()
    np.testing.assert_allclose(first["p_branchpoint"].to_numpy(), expected, atol=1e-5)


def test_splice_sites_lora_labels_the_candidate_dinucleotide(tmp_path):
    _write_ensemblesplice(tmp_path / "homo_sapiens")
    out = tmp_path / "out"
    results = main(
        [
            "--task",
            "splice-sites",
            "--data-dir",
            str(tmp_path / "homo_sapiens"),
            "--crop",
            "100",
            "--validation-fraction",
            "0.25",
            "--lora",
            "--lora-r",
            "4",
            *_common(tmp_path, out, 6),
        ]
    )
    assert results["splits"]["train"]["labelled_positions"] == {"neither": 24, "donor": 12, "acceptor": 12}
    table = pd.read_csv(out / "test_predictions.tsv.gz", sep="\t")
    assert len(table) == 64 and (table["position"] == 49).all()  # crop 100: the dinucleotide at 49-50
    donor = table["id"].str.contains("/Donor_")
    assert (table.loc[donor, "nucleotide"] == "G").all() and (table.loc[~donor, "nucleotide"] == "A").all()
    assert set(table.loc[donor & table["id"].str.contains("Positive"), "label"]) == {1}
    assert set(table.loc[~donor & table["id"].str.contains("Negative"), "label"]) == {0}
    saved = json.loads((out / "results.json").read_text())
    id2label = {0: "neither", 1: "donor", 2: "acceptor"}
    _check_metrics_against_sklearn(saved["model"]["test"], table, id2label)
    donor_rows = table[donor]  # the window view: donor candidates scored by P(donor)
    assert saved["model"]["test"]["per_site_type"]["donor"]["auroc"] == pytest.approx(
        roc_auc_score(donor_rows["label"] == 1, donor_rows["p_donor"])
    )
    best = results["model"]["best"]  # selected on true sites vs decoys, not one-vs-rest
    assert best["validation_auroc"] == pytest.approx(
        np.mean([m["auroc"] for m in best["validation"]["per_site_type"].values()])
    )
    model = SpliceBertForTokenClassification.from_pretrained(out / "model")
    assert model.config.id2label == id2label
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_bed_chromosome_missing_from_fasta_is_named_and_nothing_written(tmp_path):
    _write_genome_and_bed(tmp_path, per_chrom=3)
    with open(tmp_path / "bp.bed", "a") as bed:
        bed.write("chrZ\t100\t127\tbad\t" + ",".join(["1"] + ["0"] * 26) + "\t+\n")
    out = tmp_path / "out"
    argv = [
        "--task",
        "branchpoint",
        "--bed",
        str(tmp_path / "bp.bed"),
        "--fasta",
        str(tmp_path / "genome.fa"),
        "--window",
        "61",
        "--test-chroms",
        "chr3",
        "--valid-chroms",
        "chr4",
        *_common(tmp_path, out, 2),
    ]
    with pytest.raises(DataError, match=r"chromosome 'chrZ' \(line 13\) of .*bp.bed is not in the FASTA"):
        main(argv)
    assert not out.exists() and not (tmp_path / "cache").exists()

    good = [line for line in (tmp_path / "bp.bed").read_text().splitlines() if not line.startswith("chrZ")]
    (tmp_path / "bp.bed").write_text("\n".join(good) + "\n")
    argv[argv.index("chr3")] = "chr9"
    process = subprocess.run(
        [sys.executable, "-m", "txformers.training.finetune_tokens", *argv], capture_output=True, text=True
    )
    assert process.returncode == 2
    assert process.stderr.strip().splitlines() == [
        f"error: --test-chroms: chr9 not among the chromosomes of {tmp_path / 'bp.bed'} with labelled regions "
        "(chr1, chr2, chr3, chr4)"
    ]
    assert not out.exists()


def test_refuses_to_overwrite_an_earlier_run(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.json").write_text("{}")
    from txformers.io import UserError

    with pytest.raises(UserError, match="already holds files; pass --resume.*--overwrite"):
        main(
            [
                "--task",
                "splice-sites",
                "--data-dir",
                str(tmp_path),
                "--pretrained",
                str(tmp_path),
                "--output-dir",
                str(tmp_path / "out"),
            ]
        )
    assert (tmp_path / "out" / "results.json").read_text() == "{}"
