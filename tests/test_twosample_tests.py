"""ttest_ind and mannwhitneyu: batched results equal scipy's (rtol 1e-10), properties, errors."""
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from simengine import mannwhitneyu, ttest_ind

ALTS = ["two-sided", "less", "greater"]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(9, 40)), rng.normal(0.4, 2.0, size=(13, 40))
    x[:, 1], y[:, 1] = np.round(x[:, 1]), np.round(y[:, 1])  # ties
    x[:, 2] *= 1e8
    y[:, 2] *= 1e8
    x[:, 3], y[:, 3] = 2.0, 2.0  # constant and equal: t = nan, U p-value = 1
    x[:, 4], y[:, 4] = 1.0, 3.0  # constant, different: t = -inf
    return x, y


@pytest.mark.parametrize("equal_var", [True, False])
@pytest.mark.parametrize("alt", ALTS)
def test_ttest_ind_equals_scipy(equal_var, alt):
    x, y = _data()
    ours = ttest_ind(x, y, equal_var=equal_var, alternative=alt)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on the constant columns
        ref = stats.ttest_ind(x, y, equal_var=equal_var, alternative=alt)
    assert_allclose(ours.statistic, ref.statistic, rtol=1e-10)
    assert_allclose(ours.pvalue, ref.pvalue, rtol=1e-10)
    assert_allclose(ours.df, ref.df, rtol=1e-10)


@pytest.mark.parametrize("continuity", [True, False])
@pytest.mark.parametrize("alt", ALTS)
def test_mannwhitneyu_equals_scipy_asymptotic(continuity, alt):
    x, y = _data(1)
    ours = mannwhitneyu(x, y, alternative=alt, use_continuity=continuity)
    ref = stats.mannwhitneyu(x, y, alternative=alt, use_continuity=continuity, method="asymptotic")
    assert_allclose(ours.statistic, ref.statistic, rtol=1e-10)
    assert_allclose(ours.pvalue, ref.pvalue, rtol=1e-10)


def test_axis_and_one_d_and_columns():
    x, y = _data(2)
    a = ttest_ind(x, y)
    b = ttest_ind(x.T, y.T, axis=1)
    assert_array_equal(a.statistic, b.statistic)
    single = ttest_ind(x[:, 7], y[:, 7])
    assert isinstance(single.pvalue, float) and single.statistic == a.statistic[7]
    u = mannwhitneyu(x, y)
    assert mannwhitneyu(x[:, 7], y[:, 7]).pvalue == u.pvalue[7]


def test_exact_regression_mwu_small():
    # x entirely below y: U1 = 0; z = (n1 n2 / 2 - 0.5) / sqrt(n1 n2 (n + 1) / 12) with n1 = n2 = 3
    res = mannwhitneyu([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], alternative="less")
    assert res.statistic == 0.0
    assert_allclose(res.pvalue, stats.norm.sf(4.0 / np.sqrt(9 * 7 / 12)), rtol=1e-12)


@settings(deadline=None, max_examples=40)
@given(
    x=hnp.arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 4)),
                 elements=st.one_of(st.integers(-3, 3).map(float), st.floats(-1e6, 1e6))),
    ny=st.integers(2, 12),
    data=st.data(),
)
def test_property_agree_with_scipy(x, ny, data):
    y = data.draw(hnp.arrays(np.float64, (ny, x.shape[1]), elements=st.integers(-3, 3).map(float)))
    # skip near-constant columns where scipy's own variance is only round-off
    var = np.concatenate([x, y]).var(axis=0)
    assume((var > 1e-6).all())
    for alt in ALTS:
        ours = mannwhitneyu(x, y, alternative=alt)
        ref = stats.mannwhitneyu(x, y, alternative=alt, method="asymptotic")
        assert_allclose(ours.pvalue, ref.pvalue, rtol=1e-10)
        t_ours = ttest_ind(x, y, alternative=alt, equal_var=False)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t_ref = stats.ttest_ind(x, y, alternative=alt, equal_var=False)
        assert_allclose(t_ours.pvalue, t_ref.pvalue, rtol=1e-9, atol=1e-300)


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), shift=st.integers(-100, 100))
def test_property_shift_invariance_and_swap(seed, shift):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 6, (8, 3)).astype(float), rng.integers(0, 6, (10, 3)).astype(float)
    assume((np.concatenate([x, y]).var(axis=0) > 0).all())
    assert_array_equal(mannwhitneyu(x, y).pvalue, mannwhitneyu(x + shift, y + shift).pvalue)
    assert_allclose(mannwhitneyu(x, y, alternative="less").pvalue, mannwhitneyu(y, x, alternative="greater").pvalue)
    assert_allclose(ttest_ind(x, y).statistic, -ttest_ind(y, x).statistic)


def test_ttest_ind_iv():
    x, y = np.arange(5.0), np.arange(6.0)
    with pytest.raises(TypeError, match="`equal_var` must be True or False"):
        ttest_ind(x, y, equal_var="yes")
    with pytest.raises(ValueError, match="`alternative` must be one of"):
        ttest_ind(x, y, alternative="bigger")
    with pytest.raises(ValueError, match="`y` must not be empty"):
        ttest_ind(x, [])
    with pytest.raises(ValueError, match="`x` must be finite"):
        ttest_ind([np.nan, 1.0], y)
    with pytest.raises(ValueError, match="same number of columns"):
        ttest_ind(np.ones((3, 2)), np.ones((3, 4)))


def test_mannwhitneyu_iv():
    x, y = np.arange(5.0), np.arange(6.0)
    with pytest.raises(TypeError, match="`use_continuity` must be True or False"):
        mannwhitneyu(x, y, use_continuity=1)
    with pytest.raises(ValueError, match="`alternative` must be one of"):
        mannwhitneyu(x, y, alternative="two_sided")
    with pytest.raises(ValueError, match="`x` must be finite; it contains inf"):
        mannwhitneyu([np.inf, 1.0], y)
    with pytest.raises(ValueError, match="`axis` must be in"):
        mannwhitneyu(np.ones((3, 2)), np.ones((3, 2)), axis=-3)
    with pytest.raises(TypeError, match="`y` must contain real numbers"):
        mannwhitneyu(x, ["a", "b"])


# --- issue 12: data whose moments overflow ---


@pytest.mark.parametrize("equal_var", [True, False])
@pytest.mark.parametrize("scale", [1e154, 1e200, 1e300, 1e-154, 1e-200, 1e-300])
def test_ttest_ind_values_near_the_float_limits_give_the_scale_free_answer(equal_var, scale):
    # t and df do not depend on the scale, so data near 1e308 (whose sums of squares overflow)
    # or near 1e-300 (whose squares underflow) must give scipy's answer on unscaled data;
    # it was a silent t = 0, a NaN, or a wrong Welch df
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, (20, 3)), rng.normal(0.5, 1, (25, 3))
    ref = stats.ttest_ind(x, y, equal_var=equal_var)
    factor = np.array([scale, 1.0, scale])  # an ordinary column next to the extreme ones
    res = ttest_ind(x * factor, y * factor, equal_var=equal_var)
    assert_allclose(res.statistic, ref.statistic, rtol=1e-12)
    assert_allclose(res.pvalue, ref.pvalue, rtol=1e-11)
    assert_allclose(res.df, ref.df, rtol=1e-12)
    one = ttest_ind([1.7e308, -1.7e308], [1.7e308, 1.7e308], equal_var=equal_var)
    assert_allclose(one.statistic, -1.0, rtol=1e-15)
