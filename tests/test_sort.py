"""simengine.kernels.sort: the shared stable sort equals NumPy's stable order exactly.

A stable order is unique, so equality is the whole specification: ascending, NaN after
every number (NaNs among themselves in index order), -0.0 and 0.0 equal (index order).
"""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from simengine.kernels.sort import argsort_stable, sort_values

# few distinct values (ties), signed zeros, NaN, infinities and ordinary floats; lengths
# around the insertion-sort run (16) and several merge passes
VALUES = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 2.5]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 200), elements=VALUES), st.integers(1, 3))
def test_equals_numpys_stable_order(x, step):
    view = x[::step]  # a strided view sorts like its copy
    expected = np.argsort(view, kind="stable")
    assert np.array_equal(argsort_stable(view), expected)
    assert np.array_equal(sort_values(view), view[expected], equal_nan=True)


def test_long_input_with_ties():
    rng = np.random.default_rng(5)
    for x in (rng.normal(size=100_003), rng.integers(0, 7, 65_537).astype(np.float64)):
        assert np.array_equal(argsort_stable(x), np.argsort(x, kind="stable"))
