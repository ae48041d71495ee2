"""Property-based tests over the readers (issue 17): random file contents give a result or a ValueError
(subclasses included), never another exception. Bounded: 40 examples each, no deadline."""

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)
TABLE_TEXT = st.text(alphabet=st.sampled_from(list("ACGTN,\t\n\"'>;.-_ 0123456789eE+xX") + ["é"]), max_size=300)


def _write(tmp_path, name, data):
    path = tmp_path / name
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


@SETTINGS
@given(data=st.one_of(st.binary(max_size=300), st.just(b"\x89HDF\r\n\x1a\n").map(lambda h: h + b"\x00" * 40)))
def test_read_cells_raises_only_value_errors(tmp_path, data):
    from txformers.datasets.cells import read_cells

    try:
        read_cells(_write(tmp_path, "x.h5ad", data))
    except ValueError:
        pass


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from(list(">ACGTUNacgtn \n\tX-*") + ["é", "\r"]), max_size=200))
def test_read_named_sequences_raises_only_value_errors(tmp_path, text):
    from txformers.tasks.splicing.sites import read_named_sequences

    try:
        records = read_named_sequences(_write(tmp_path, "x.fa", text))
    except ValueError:
        return
    assert records and len({name for name, _ in records}) == len(records)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_read_named_sequences_on_bytes(tmp_path, data):
    from txformers.tasks.splicing.sites import read_named_sequences

    try:
        read_named_sequences(_write(tmp_path, "x.fa", data))
    except ValueError:
        pass


@SETTINGS
@given(body=TABLE_TEXT, header=st.sampled_from(["drug,smiles\n", "name,CanonicalSMILES\n", "", "drug\n"]))
def test_smiles_table_readers_raise_only_value_errors(tmp_path, header, body):
    from txformers.models.metascdrug.pipeline_metascdrug import read_smiles_table
    from txformers.tasks.drug_response.inputs import read_smiles_tables

    path = _write(tmp_path, "drugs.csv", header + body)
    for read in (lambda: read_smiles_tables([path]), lambda: read_smiles_table(path)):
        try:
            read()
        except ValueError:
            pass


@SETTINGS
@given(body=TABLE_TEXT, header=st.sampled_from(["cell\tresponse\tTP53\tEGFR\n", "cell\tTP53\tTP53\n", ""]))
def test_sc_drug_table_readers_raise_only_value_errors(tmp_path, header, body):
    from txformers.datasets.sc_drug_response import load_sc_drug_response, read_cell_table

    path = _write(tmp_path, "cells.tsv", header + body)
    for read in (lambda: read_cell_table(path, "response"), lambda: load_sc_drug_response(path)):
        try:
            read()
        except ValueError:
            pass
