"""The command line parses arguments and prints help without importing torch or transformers."""

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
heavy = sorted(name for name in ("torch", "transformers") if name in sys.modules)
print(",".join(heavy))
"""


@pytest.mark.parametrize(
    "argv", [["--help"], ["embed", "--help"], ["cytokine", "classify", "--help"], ["drug", "fewshot", "--help"]]
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


def test_refused_overwrite_imports_no_torch(tmp_path):
    from txformers.hub import REPO_ROOT

    out = tmp_path / "cells"
    (tmp_path / "cells.h5ad").write_bytes(b"already here")
    code = (
        "import sys, txformers.cli\n"
        f"code = txformers.cli.main(['embed', {str(REPO_ROOT / 'examples' / 'immune_cells.h5ad')!r}, "
        f"'--out', {str(out)!r}])\n"
        "print(code, 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert "--overwrite" in done.stderr
