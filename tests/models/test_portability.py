"""A saved txformers checkpoint loads with plain transformers where txformers cannot be imported."""

import json
import os
import subprocess
import sys

import torch

from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForMaskedLM, SpliceBertForTokenClassification

SCRIPT = r"""
import json, sys
sys.modules["txformers"] = None  # any `import txformers` now fails
import torch
from transformers import (AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification,
                          AutoModelForTokenClassification, AutoTokenizer)
mlm_path, path = sys.argv[1], sys.argv[2]
tok = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
inputs = tok(["ACGUacgtNNGGTAAGT", "GGTAAG"], padding=True, return_tensors="pt")
result = {"tokenizer": type(tok).__name__, "input_ids": inputs["input_ids"].tolist()}
for auto in (AutoModel, AutoModelForMaskedLM, AutoModelForTokenClassification, AutoModelForSequenceClassification):
    source = mlm_path if auto is AutoModelForMaskedLM else path
    model = auto.from_pretrained(source, trust_remote_code=True).eval()
    result[auto.__name__] = type(model).__module__ + "." + type(model).__name__
    if auto is AutoModelForTokenClassification:
        with torch.no_grad():
            logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        result["logits"] = logits.tolist()
print("\nRESULT", json.dumps(result))
"""


def test_trust_remote_code_load_without_txformers(tmp_path, tiny_splicebert_config):
    torch.manual_seed(0)
    labels = {0: "none", 1: "acceptor", 2: "donor"}
    config = SpliceBertConfig(**{**tiny_splicebert_config.to_dict(), "num_labels": 3, "id2label": labels})
    model = SpliceBertForTokenClassification(config).eval()
    model.save_pretrained(tmp_path)
    SpliceBertForMaskedLM(tiny_splicebert_config).save_pretrained(tmp_path / "mlm")
    tokenizer = NucleotideTokenizer()
    tokenizer.save_pretrained(tmp_path)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "mlm"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line[len("RESULT ") :])
    assert "txformers" not in json.dumps({k: v for k, v in result.items() if k != "logits"})
    assert result["AutoModelForTokenClassification"].endswith("modeling_splicebert.SpliceBertForTokenClassification")
    assert result["AutoModel"].endswith("SpliceBertModel")
    assert result["AutoModelForMaskedLM"].endswith("SpliceBertForMaskedLM")
    assert result["AutoModelForSequenceClassification"].endswith("SpliceBertForSequenceClassification")
    inputs = tokenizer(["ACGUacgtNNGGTAAGT", "GGTAAG"], padding=True, return_tensors="pt")
    assert result["input_ids"] == inputs["input_ids"].tolist()
    with torch.no_grad():
        expected = model(**inputs).logits
    assert (torch.tensor(result["logits"]) - expected).abs().max() < 1e-5
