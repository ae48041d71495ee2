"""txformers.datasets.cells: the flags of cells whose predictions are not to be trusted (issue 17 item 8)."""

import numpy as np
import scipy.sparse as sp

from txformers.datasets.cells import flag_cells, warn_flagged


def test_flags_name_each_reason_dense_and_sparse():
    matrix = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 3.0], [np.nan, 0.0, 0.0]])
    for values in (matrix, sp.csr_matrix(np.nan_to_num(matrix))):
        flags = flag_cells(values, [0, 1], coverage=0.5)  # the model knows genes 0 and 1
        assert flags == ["", "all-zero expression", "no expressed model genes", "all-zero expression"]
    low = flag_cells(matrix[:1], [0, 1], coverage=0.05)
    assert low == ["low gene coverage (5% of the model's genes)"]
    assert flag_cells(matrix[:1], [0, 1], coverage=0.05, min_coverage=0.01) == [""]


def test_warning_counts_cells_per_reason_and_says_where():
    assert warn_flagged(["", ""]) is None
    line = warn_flagged(["", "all-zero expression", "all-zero expression; low gene coverage (5%)"])
    assert line.startswith("warning: 2 of 3 cells are flagged (2 all-zero expression, 1 low gene coverage (5%))")
    assert line.endswith("their predictions are not to be trusted (see the flag column)")
    custom = warn_flagged(["all-zero expression"], results="embeddings", where="obs['f']")
    assert "their embeddings are not to be trusted (see obs['f'])" in custom
