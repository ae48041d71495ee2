"""`AutoTokenizer.from_pretrained` on a MetaSCDrug folder gives its SMILES tokenizer (the drug side, as other
two-input models give their text tokenizer), with txformers and with trust_remote_code where it is absent."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from transformers import AutoTokenizer

from txformers import SmilesTokenizer
from txformers.hub import CHECKPOINTS
from txformers.models.metascdrug import MetaScDrugProcessor

BUNDLED = ["metascdrug-meta", "metascdrug-nometa"]
DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "C[C@H](N)C(=O)O"]


def _ids(tokenizer):
    return tokenizer(DRUGS)["input_ids"]


def test_saved_processor_folder_gives_its_smiles_tokenizer(tmp_path):
    processor = MetaScDrugProcessor.from_genes(["TP53", "EGFR", "MYC"], fingerprint_bits=32)
    processor.save_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(tokenizer, SmilesTokenizer)
    assert _ids(tokenizer) == _ids(processor.smiles_tokenizer)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["tokenizer_class"] == "SmilesTokenizer"


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_checkpoint_autotokenizer_is_the_smiles_tokenizer(name):
    folder = CHECKPOINTS / name
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert isinstance(tokenizer, SmilesTokenizer)
    assert _ids(tokenizer) == _ids(MetaScDrugProcessor.from_pretrained(folder).smiles_tokenizer)


PORTABLE = textwrap.dedent(
    """
    import json, sys
    sys.modules["txformers"] = None  # as where txformers is not installed
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)
    print("RESULT", json.dumps(tokenizer(json.loads(sys.argv[2]))["input_ids"]))
    """
)


def test_bundled_checkpoint_autotokenizer_without_txformers(tmp_path):
    folder = CHECKPOINTS / "metascdrug-meta"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": "", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run(
        [sys.executable, "-c", PORTABLE, str(folder), json.dumps(DRUGS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert json.loads(line[len("RESULT ") :]) == _ids(MetaScDrugProcessor.from_pretrained(folder).smiles_tokenizer)
