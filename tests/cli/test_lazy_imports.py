"""The command line parses arguments and prints help without importing torch, transformers or datasets."""

import subprocess
import sys

import pytest

PROBE = """
import contextlib, io, sys
import txformers.cli
with contextlib.redirect_stdout(io.StringIO()):
    try:
        txformers.cli.build_parser().parse_args({argv!r})
    except SystemExit:
        pass
heavy = sorted(name for name in ("torch", "transformers", "datasets") if name in sys.modules)
print(",".join(heavy))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["embed", "--help"],
        ["cytokine", "classify", "--help"],
        ["drug", "fewshot", "--help"],
        ["splice", "vcf", "--help"],
    ],
)
def test_parsing_and_help_import_no_torch(argv):
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported while parsing {argv}: {done.stdout.strip()}"


def test_import_txformers_still_registers_with_transformers():
    code = (
        "import sys, txformers\n"
        "assert 'torch' not in sys.modules\n"
        "from transformers import AutoConfig\n"
        "print(type(AutoConfig.for_model('cellformer')).__name__, txformers.SpliceBertConfig.model_type)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["CellformerConfig", "splicebert"]


HEAVY = "print(code, *(name in sys.modules for name in ('torch', 'transformers', 'datasets')))\n"


def _refused(argv: list[str]) -> subprocess.CompletedProcess:
    code = f"import sys, txformers.cli\ncode = txformers.cli.main({argv!r})\n" + HEAVY
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_refused_overwrite_imports_no_torch(tmp_path):
    from txformers.hub import REPO_ROOT

    out = tmp_path / "cells"
    (tmp_path / "cells.h5ad").write_bytes(b"already here")
    done = _refused(["embed", str(REPO_ROOT / "examples" / "immune_cells.h5ad"), "--out", str(out)])
    assert done.stdout.split() == ["2", "False", "False", "False"], done.stderr
    assert "--overwrite" in done.stderr


def test_refused_splice_predict_overwrite_reads_no_fasta(tmp_path):
    from txformers.hub import REPO_ROOT

    out = tmp_path / "sites"
    (tmp_path / "sites.tsv").write_text("already here\n")
    done = _refused(["splice", "predict", str(REPO_ROOT / "examples" / "minigenes.fa"), "--out", str(out)])
    assert done.stdout.split() == ["2", "False", "False", "False"], done.stderr
    assert "--overwrite" in done.stderr


def test_cli_transcript_choices_match_the_annotation_reader():
    from txformers.cli.splice import TRANSCRIPT_CHOICES
    from txformers.datasets.annotation import TRANSCRIPT_CHOICES as READER_CHOICES

    assert TRANSCRIPT_CHOICES == READER_CHOICES


def test_refused_splice_vcf_overwrite_imports_no_datasets(tmp_path):
    from txformers.hub import REPO_ROOT

    for name in ("in.vcf", "genes.gtf", "out.vcf"):
        (tmp_path / name).write_text("")
    argv = ["splice", "vcf", str(tmp_path / "in.vcf"), "--fasta", str(REPO_ROOT / "examples" / "minigenes.fa")]
    done = _refused([*argv, "--annotation", str(tmp_path / "genes.gtf"), "--out", str(tmp_path / "out.vcf")])
    assert done.stdout.split() == ["2", "False", "False", "False"], done.stderr
    assert "--overwrite" in done.stderr
