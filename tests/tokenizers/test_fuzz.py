"""Property-based tests (hypothesis) over every tokenizer: whatever a user passes, only documented exceptions
(ValueError and its subclasses) escape. Bounded: 50 examples a property, no deadline."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from txformers import NucleotideTokenizer
from txformers.tokenizers import GeneExpressionTokenizer, SmilesTokenizer

BOUNDED = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NUCLEOTIDES = st.text(alphabet="ACGTNacgtn \n", max_size=40)
ANY_TEXT = st.text(max_size=40)
JUNK = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.binary(max_size=8), ANY_TEXT)
GENES = ["CD3E", "CD8A", "GZMB", "IL7R", "MS4A1"]


def only_value_errors(call):
    try:
        call()
    except ValueError:
        pass


@pytest.fixture(scope="module")
def nucleotide():
    return NucleotideTokenizer()


@pytest.fixture(scope="module")
def smiles():
    return SmilesTokenizer()


@pytest.fixture(scope="module")
def genes():
    return GeneExpressionTokenizer.from_genes(GENES, max_length=8)


@BOUNDED
@given(batch=st.lists(st.one_of(NUCLEOTIDES, JUNK), min_size=1, max_size=4), padding=st.booleans())
def test_nucleotide_batches_with_junk_raise_value_errors(nucleotide, batch, padding):
    only_value_errors(lambda: nucleotide(batch, padding=padding))
    only_value_errors(lambda: nucleotide(batch, padding=True, return_tensors="pt"))


@BOUNDED
@given(text=st.one_of(NUCLEOTIDES, ANY_TEXT), max_length=st.integers(min_value=2, max_value=12))
def test_nucleotide_max_length_agrees_with_offsets(nucleotide, text, max_length):
    try:
        plain = nucleotide(text, max_length=max_length)
    except ValueError:
        return
    with_offsets = nucleotide(text, max_length=max_length, return_offsets_mapping=True)
    assert plain["input_ids"] == with_offsets["input_ids"]
    assert len(with_offsets["offset_mapping"]) == len(with_offsets["input_ids"])


def test_nucleotide_none_inside_a_batch_names_it(nucleotide):
    with pytest.raises(ValueError, match="sequence 1 is NoneType"):
        nucleotide(["ACGT", None])
    with pytest.raises(ValueError, match="sequence 0 is int"):
        nucleotide([3, "ACGT"])
    assert nucleotide("ACGTACGTAC", max_length=5)["input_ids"] == [2, 6, 7, 8, 3]


@BOUNDED
@given(batch=st.lists(st.one_of(ANY_TEXT, JUNK), min_size=1, max_size=4))
def test_smiles_batches_with_junk_raise_value_errors(smiles, batch):
    only_value_errors(lambda: smiles(batch, padding=True))
    only_value_errors(lambda: smiles(batch[0]))


@BOUNDED
@given(
    cells=st.integers(min_value=0, max_value=3),
    values=st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-5, 50)),
        min_size=15,
        max_size=15,
    ),
    mode=st.sampled_from(["rank", "bins", "panel"]),
)
def test_gene_tokenizer_matrices_raise_value_errors(genes, cells, values, mode):
    matrix = np.asarray(values, dtype=np.float32)[: cells * 5].reshape(cells, 5)
    only_value_errors(lambda: genes(matrix, gene_names=GENES, mode=mode))


@BOUNDED
@given(names=st.lists(st.one_of(st.sampled_from(GENES), JUNK), min_size=5, max_size=5))
def test_gene_tokenizer_odd_gene_names_raise_value_errors(genes, names):
    only_value_errors(lambda: genes(np.ones((2, 5), dtype=np.float32), gene_names=names))


def test_a_zero_cell_matrix_is_a_clear_value_error(genes):
    with pytest.raises(ValueError, match="no cells"):
        genes(np.zeros((0, 5), dtype=np.float32), gene_names=GENES)
