import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED_DATA, requires_shared_data
from txformers import InvalidNucleotideError, NucleotideTokenizer
from txformers.tokenizers.tokenization_nucleotide import stitch_windows, window_spans

CLS, SEP, PAD = 2, 3, 0
IDS = {"N": 5, "A": 6, "C": 7, "G": 8, "T": 9}


@pytest.fixture(scope="module")
def tok():
    return NucleotideTokenizer()


def test_vocabulary_is_splicebert(tok):
    assert tok.get_vocab() == {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, **IDS}
    assert (tok.pad_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (0, 2, 3, 4)


@requires_shared_data
def test_vocabulary_matches_original_vocab_file(tok):
    tokens = (SHARED_DATA / "splice/splicebert_configs/SpliceBERT.1024nt/vocab.txt").read_text().split()
    assert {token: i for i, token in enumerate(tokens)} == tok.get_vocab()


def test_mixed_case_dna_and_rna(tok):
    assert tok("aCgTuA")["input_ids"] == [CLS, 6, 7, 8, 9, 9, 6, SEP]
    assert tok("ACGUUA")["input_ids"] == tok("acgtta")["input_ids"]
    assert tok("gAu")["input_ids"] == [CLS, IDS["G"], IDS["A"], IDS["T"], SEP]


def test_ambiguity_codes_become_n(tok):
    ids = tok("RYSWKMBDHVNryswkmbdhvn", add_special_tokens=False)["input_ids"]
    assert ids == [IDS["N"]] * 22


def test_whitespace_is_ignored_and_offsets_point_into_raw_string(tok):
    raw = "AC G\nT"
    enc = tok(raw, return_offsets_mapping=True)
    assert enc["input_ids"] == [CLS, 6, 7, 8, 9, SEP]
    letters = [raw[a:b] for a, b in enc["offset_mapping"][1:-1]]
    assert letters == ["A", "C", "G", "T"]
    # the original SpliceBERT input (space-joined letters) gives the same ids
    assert tok(" ".join("ACGT"))["input_ids"] == tok("ACGT")["input_ids"]


@pytest.mark.parametrize("bad, position", [("ACGX", 3), ("AC-GT", 2), ("ACGT*", 4), ("ACé", 2), ("1ACG", 0)])
def test_bad_characters_are_named(tok, bad, position):
    with pytest.raises(InvalidNucleotideError) as error:
        tok(["ACGT", bad])
    message = str(error.value)
    assert "sequence 1" in message and f"position {position}" in message and repr(bad[position]) in message


def test_truncation_keeps_special_tokens(tok):
    enc = tok("ACGTACGTAC", truncation=True, max_length=6)
    assert enc["input_ids"] == [CLS, 6, 7, 8, 9, SEP]
    slow = tok("ACGTACGTAC", truncation=True, max_length=6, return_offsets_mapping=True)
    assert slow["input_ids"] == enc["input_ids"]


def test_padding_and_tensors(tok):
    enc = tok(["ACGT", "AC"], padding=True, return_tensors="pt")
    assert enc["input_ids"].tolist() == [[CLS, 6, 7, 8, 9, SEP], [CLS, 6, 7, SEP, PAD, PAD]]
    assert enc["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 1, 0, 0]]
    with pytest.raises(ValueError, match="padding"):
        tok(["ACGT", "AC"], return_tensors="pt")


def test_save_load_round_trip(tok, tmp_path):
    tok.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "NucleotideTokenizer" and "auto_map" not in config
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(loaded, NucleotideTokenizer)
    assert loaded("acgun")["input_ids"] == tok("acgun")["input_ids"]


def test_tokenizer_json_loads_without_txformers(tok, tmp_path):
    """AutoTokenizer in a process where txformers cannot be imported reads tokenizer.json alone."""
    tok.save_pretrained(tmp_path)
    code = (
        "import sys; sys.modules['txformers'] = None\n"
        "from transformers import AutoTokenizer\n"
        f"t = AutoTokenizer.from_pretrained({str(tmp_path)!r})\n"
        "print(t('acGU ryn')['input_ids'], t('ACXG')['input_ids'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[2, 6, 7, 8, 9, 5, 5, 5, 3] [2, 6, 7, 1, 8, 3]"


NUCLEOTIDE_CHARS = "ACGTUNRYSWKMBDHVacgtunryswkmbdhv \n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=NUCLEOTIDE_CHARS, max_size=60), min_size=1, max_size=4))
def test_fast_path_equals_rust_path(sequences):
    tok = NucleotideTokenizer()
    fast = tok(sequences, padding=True)
    rust = tok(sequences, padding=True, return_offsets_mapping=True)  # offsets force the tokenizers path
    assert fast["input_ids"] == rust["input_ids"]
    assert fast["attention_mask"] == rust["attention_mask"]
    for sequence, ids, offsets in zip(sequences, rust["input_ids"], rust["offset_mapping"]):
        n = sum(1 for c in sequence if not c.isspace())
        assert sum(1 for i in ids if i >= 5) == n
        assert all(sequence[a:b].upper().replace("U", "T") in "ACGTNRYSWKMBDHV" for a, b in offsets if b > a)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_tokenizes_or_raises_the_documented_error(text):
    tok = NucleotideTokenizer()
    try:
        ids = tok(text)["input_ids"]
    except InvalidNucleotideError as error:
        assert "position" in str(error)
        assert any(not (c in NUCLEOTIDE_CHARS or c.isspace() and c in " \t\n\r\v\f") for c in text)
    else:
        assert ids[0] == CLS and ids[-1] == SEP and all(5 <= i <= 9 for i in ids[1:-1])


def test_sliding_windows_cover_sequence(tok):
    sequence = "ACGTN" * 50  # 250 nt
    windows = tok.sliding_windows(sequence, window_size=100, stride=60)
    assert windows[0]["start"] == 0 and windows[-1]["end"] == 250
    for window in windows:
        assert window["end"] - window["start"] <= 100
        assert window["input_ids"][0] == CLS and window["input_ids"][-1] == SEP
        assert window["input_ids"][1:-1] == tok(sequence[window["start"] : window["end"]])["input_ids"][1:-1]
    with pytest.raises(ValueError, match="stride"):
        tok.sliding_windows(sequence, window_size=100, stride=101)


def test_stitch_takes_most_central_window():
    length, spans = 250, window_spans(250, 100, 50)
    assert spans == [(0, 100), (50, 150), (100, 200), (150, 250)]
    outputs = [np.full((end - start, 1), k, dtype=float) for k, (start, end) in enumerate(spans)]
    stitched = stitch_windows(outputs, spans, length)[:, 0]
    assert stitched[:75].tolist() == [0] * 75  # first window: no left edge penalty
    assert stitched[75] in (0, 1) and stitched[100] == 1 and stitched[125] in (1, 2)
    assert stitched[-50:].tolist() == [3] * 50
    # identity: stitching windows of a position-valued array gives the positions back
    positions = np.arange(length, dtype=float)[:, None]
    outputs = [positions[start:end] for start, end in spans]
    assert np.array_equal(stitch_windows(outputs, spans, length), positions)
