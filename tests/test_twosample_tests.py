"""ttest_ind and mannwhitneyu: batched results equal scipy's (rtol 1e-10; exact Mann-Whitney p bit for bit),
nan_policy, constant samples, direction agreement with permutation_test, properties, errors."""
import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from simengine import mannwhitneyu, permutation_test, ttest_ind

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
    res = mannwhitneyu([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], alternative="less", method="asymptotic")
    assert res.statistic == 0.0
    assert_allclose(res.pvalue, stats.norm.sf(4.0 / np.sqrt(9 * 7 / 12)), rtol=1e-12)
    # issue 13: method="auto" is exact here (no ties, n <= 8), as in scipy: 1 split of 20 has U = 0
    u, p = mannwhitneyu([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], alternative="less")
    assert (u, p) == (0.0, 1 / 20)


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
        for method in ("auto", "exact", "asymptotic"):
            ours = mannwhitneyu(x, y, alternative=alt, method=method)
            ref = stats.mannwhitneyu(x, y, alternative=alt, method=method)
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
    with pytest.raises(ValueError, match="`x` must be finite; it contains inf"):
        ttest_ind([np.inf, 1.0], y)
    with pytest.raises(ValueError, match="`x` contains NaN and `nan_policy` is 'raise'"):
        ttest_ind([np.nan, 1.0], y, nan_policy="raise")
    with pytest.raises(ValueError, match="`nan_policy` must be one of"):
        ttest_ind(x, y, nan_policy="drop")
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
    with pytest.raises(ValueError, match="`method` must be one of"):
        mannwhitneyu(x, y, method="permutation")
    with pytest.raises(TypeError, match="`nan_policy` must be one of"):
        mannwhitneyu(x, y, nan_policy=None)
    with pytest.raises(ValueError, match="`y` contains NaN and `nan_policy` is 'raise'"):
        mannwhitneyu(x, [np.nan, 1.0], nan_policy="raise")
    with pytest.raises(ValueError, match="`method`='exact' needs .* use method='asymptotic'"):
        mannwhitneyu(np.arange(3000.0), np.arange(3000.0) + 0.5, method="exact")


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


# --- issue 13: scipy's methods, nan_policy and unpacking; constant samples; one sign convention ---


def _quiet(fn, *args, **kwargs):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("method", ["auto", "exact", "asymptotic"])
def test_mannwhitneyu_equals_scipy_every_method(method):
    # sizes 1..10 each (both sides of scipy's n > 8 rule), with and without ties, 2-D along both axes;
    # exact p-values are scipy's bit for bit while the counts fit in int64, rtol 1e-12 otherwise
    rng = np.random.default_rng(13)
    for n1, n2 in itertools.product([1, 2, 5, 8, 9, 10], [1, 3, 8, 9]):
        for ties in (False, True):
            x, y = rng.normal(size=(n1, 3)), rng.normal(0.4, 1, size=(n2, 3))
            if ties:
                x, y = np.round(x), np.round(y)
            for alt in ALTS:
                for cont in (True, False):
                    ours = mannwhitneyu(x, y, alternative=alt, method=method, use_continuity=cont)
                    ref = stats.mannwhitneyu(x, y, alternative=alt, method=method, use_continuity=cont)
                    assert_array_equal(ours.statistic, ref.statistic)
                    if method == "asymptotic":
                        assert_allclose(ours.pvalue, ref.pvalue, rtol=1e-12)
                    else:
                        assert_array_equal(ours.pvalue, ref.pvalue)
                    rows = mannwhitneyu(x.T, y.T, alternative=alt, method=method, use_continuity=cont, axis=1)
                    assert_array_equal(rows.pvalue, ours.pvalue)
    # counts beyond int64 (comb(70, 30) > 2**63): the float recursion
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(40, 2))
    for alt in ALTS:
        ours = mannwhitneyu(x, y, alternative=alt, method="exact")
        assert_allclose(ours.pvalue, stats.mannwhitneyu(x, y, alternative=alt, method="exact").pvalue, rtol=1e-12)


def test_mannwhitneyu_exact_null_distribution_by_enumeration():
    # the counting kernels against brute force: U of every split of ranks 1..m+n
    from simengine.kernels.twosample import _mwu_counts_int1, _mwu_pmf_float1

    for m, n in [(1, 1), (2, 3), (3, 3), (4, 6), (5, 2)]:
        counts = np.zeros(m * n + 1, dtype=np.int64)
        for chosen in itertools.combinations(range(m + n), m):
            u = sum(r for r in chosen) - m * (m - 1) // 2  # ranks from 0: U1 = R1 - m(m+1)/2
            counts[u] += 1
        assert_array_equal(_mwu_counts_int1(m, n, m * n), counts)
        assert_array_equal(_mwu_counts_int1(n, m, m * n), counts)
        assert_allclose(_mwu_pmf_float1(m, n, m * n), counts / math.comb(m + n, m), rtol=1e-14)
    assert_allclose(_mwu_pmf_float1(20, 25, 250), _mwu_counts_int1(20, 25, 250) / math.comb(45, 20), rtol=1e-13)


def test_mannwhitneyu_auto_decides_like_scipy_across_a_batch():
    # scipy decides once for a batch: a tie in one small column makes every column asymptotic;
    # with NaN in the input it tests (and decides) column by column
    x = np.array([[1.0, 2, 3, 4, 5], [1, 1, 3, 4, 5], [1, 2, 7, 4, 5]]).T
    y = np.array([[2.5, 3.5, 4.5, 6, 9]] * 3).T
    for xs in (x, np.where(np.arange(5)[:, None] * [0, 0, 1] == 2, np.nan, x)):
        for policy in ("propagate", "omit"):
            ours = mannwhitneyu(xs, y, nan_policy=policy)
            ref = stats.mannwhitneyu(xs, y, nan_policy=policy)
            assert_array_equal(ours.statistic, ref.statistic)
            assert_array_equal(ours.pvalue, ref.pvalue)


@pytest.mark.parametrize("policy", ["propagate", "omit"])
@pytest.mark.parametrize("axis", [0, 1])
def test_nan_policy_equals_scipy(policy, axis):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(9, 6)), rng.normal(0.5, 1, size=(7, 6))
    x[2, 1] = np.nan
    y[[0, 3], 2] = np.nan
    x[:, 3] = np.nan  # nothing left in x: nan
    x[1:, 4] = np.nan  # one observation left in x
    y[4, 5], x[0, 5] = np.nan, np.nan
    xa, ya = (x, y) if axis == 0 else (x.T.copy(), y.T.copy())
    for alt in ALTS:
        for equal_var in (True, False):
            ours = ttest_ind(xa, ya, axis=axis, equal_var=equal_var, nan_policy=policy, alternative=alt)
            ref = _quiet(stats.ttest_ind, xa, ya, axis=axis, equal_var=equal_var, nan_policy=policy, alternative=alt)
            assert_allclose(ours.statistic, ref.statistic, rtol=1e-10, equal_nan=True)
            assert_allclose(ours.pvalue, ref.pvalue, rtol=1e-10, equal_nan=True)
            assert_allclose(ours.df, ref.df, rtol=1e-10, equal_nan=True)
        for method in ("auto", "exact", "asymptotic"):
            ours = mannwhitneyu(xa, ya, axis=axis, alternative=alt, method=method, nan_policy=policy)
            ref = _quiet(stats.mannwhitneyu, xa, ya, axis=axis, alternative=alt, method=method, nan_policy=policy)
            assert_array_equal(ours.statistic, ref.statistic)
            assert_allclose(ours.pvalue, ref.pvalue, rtol=1e-12, equal_nan=True)
    for j in range(6):  # 1-D input gives the same
        one = ttest_ind(x[:, j], y[:, j], nan_policy=policy)
        assert_allclose(one.pvalue, ttest_ind(x, y, nan_policy=policy).pvalue[j], rtol=0, equal_nan=True)
        one = mannwhitneyu(x[:, j], y[:, j], nan_policy=policy)
        ref = _quiet(stats.mannwhitneyu, x[:, j], y[:, j], nan_policy=policy)
        assert_allclose([one.statistic, one.pvalue], [ref.statistic, ref.pvalue], rtol=1e-12, equal_nan=True)
    for fn in (ttest_ind, mannwhitneyu):
        with pytest.raises(ValueError, match="`x` contains NaN and `nan_policy` is 'raise'"):
            fn(x, y, nan_policy="raise")
        with pytest.raises(ValueError, match="The input contains nan values"):
            stats.ttest_ind(x, y, nan_policy="raise")


@pytest.mark.parametrize("equal_var", [True, False])
def test_ttest_ind_constant_samples_give_the_exact_answer(equal_var):
    # issue 13: 15 x 3.7 vs 14 x 3.7 gave t = 1.6, p = 0.12 from rounding noise.  Equal constants:
    # 0/0, as scipy gives for representable constants; different constants: +-inf, p 0 (scipy
    # gives t = -1.9e14, p = 0 for 3.7 vs 3.8, and -inf for representable values)
    same = ttest_ind(np.full(15, 3.7), np.full(14, 3.7), equal_var=equal_var)
    assert np.isnan(same.statistic) and np.isnan(same.pvalue)
    ref = _quiet(stats.ttest_ind, np.full(15, 2.0), np.full(14, 2.0), equal_var=equal_var)
    assert np.isnan(ref.statistic) and np.isnan(ref.pvalue)
    for alt, p in (("two-sided", 0.0), ("less", 0.0), ("greater", 1.0)):
        t, pv = ttest_ind(np.full(15, 3.7), np.full(14, 3.8), equal_var=equal_var, alternative=alt)
        assert t == -np.inf and pv == p
        ref = _quiet(stats.ttest_ind, np.full(15, 3.7), np.full(14, 3.8), equal_var=equal_var, alternative=alt)
        assert ref.pvalue == p and ref.statistic < -1e13
        ref = _quiet(stats.ttest_ind, np.full(15, 1.0), np.full(14, 3.0), equal_var=equal_var, alternative=alt)
        assert (ref.statistic, ref.pvalue) == (-np.inf, p)
    # one constant sample, one not: an ordinary test, as scipy
    x, y = np.full(10, 0.1), np.linspace(0, 1, 12)
    assert_allclose(ttest_ind(x, y, equal_var=equal_var).pvalue,
                    _quiet(stats.ttest_ind, x, y, equal_var=equal_var).pvalue, rtol=1e-12)


def test_results_unpack_like_scipy():
    x, y = np.arange(6.0), np.arange(7.0) + 0.5
    t, p = ttest_ind(x, y)
    ref = stats.ttest_ind(x, y)
    assert_allclose([t, p], [ref.statistic, ref.pvalue], rtol=1e-12)
    assert ttest_ind(x, y).df == ref.df
    u, p = mannwhitneyu(x, y)
    assert (u, p) == tuple(stats.mannwhitneyu(x, y))
    assert len(ttest_ind(x, y)) == 2 and ttest_ind(x, y)[0] == t
    frame = ttest_ind(np.ones((4, 3)) * np.arange(4.0)[:, None], np.ones((5, 3))).to_frame()
    assert list(frame.columns) == ["statistic", "pvalue", "df"] and len(frame) == 3


@settings(deadline=None, max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    n1=st.integers(5, 30),
    n2=st.integers(5, 30),
    shift=st.floats(4.0, 50.0),
)
def test_property_direction_agreement(seed, n1, n2, shift):
    # one sign convention: x shifted up by a clear margin is "greater" for every test; the
    # one-sided p-values of a test are complementary (p_greater + p_less = 1 + P(statistic = observed))
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n2)
    x = rng.normal(size=n1) + shift
    assume(x.min() > y.max())  # completely separated samples: the clearest possible shift
    tests = {
        "t": lambda alt: ttest_ind(x, y, alternative=alt),
        "welch": lambda alt: ttest_ind(x, y, equal_var=False, alternative=alt),
        "mwu": lambda alt: mannwhitneyu(x, y, alternative=alt),
        "perm": lambda alt: permutation_test(x, y, alternative=alt, n_resamples=999, rng=seed),
    }
    floor = 0.01  # separated samples of 5 or more with a shift of 4 sd: every test gives p below this
    for name, run in tests.items():
        g, l, two = run("greater"), run("less"), run("two-sided")
        assert g.statistic > 0, name
        assert g.pvalue <= floor and l.pvalue >= 1 - floor, name
        assert two.pvalue == pytest.approx(min(1.0, 2 * min(g.pvalue, l.pvalue)), rel=1e-9), name
        if name in ("t", "welch"):  # continuous statistic: the tails add to one
            assert g.pvalue + l.pvalue == pytest.approx(1.0, abs=1e-12)
        elif name == "perm":  # the tails overlap at the observed value: p_g + p_l = 1 + (k_eq + a) / (R + a)
            k_eq = np.count_nonzero(np.abs(g.null_distribution - g.statistic) <= 1e-9 * abs(g.statistic))
            a = 0 if g.exact else 1
            assert g.pvalue + l.pvalue == pytest.approx(1.0 + (k_eq + a) / (g.n_resamples + a), abs=1e-12)
        else:  # exact: overlap P(U = u); asymptotic: both continuity corrections add mass
            assert g.pvalue + l.pvalue >= 1.0
    # and the mirror image
    assert ttest_ind(y, x, alternative="less").pvalue == pytest.approx(ttest_ind(x, y, alternative="greater").pvalue)
    assert mannwhitneyu(y, x, alternative="less").pvalue == mannwhitneyu(x, y, alternative="greater").pvalue


def test_mwu_u1_equals_ranking_the_stably_sorted_pooled_sample():
    # _mwu_u1 walks the two samples sorted separately; its sums must be those of ranking the pooled sample
    # in its stable order (the previous kernel's way), bit for bit: ties within and across samples, -0.0
    # against 0.0, NaN (a group of one each, x's first), empty-of-ties and one-value samples
    from simengine.kernels.sort import sort_inplace
    from simengine.kernels.twosample import _mwu_u1

    def replay(x, y):
        pooled = np.concatenate((x, y))
        order = np.argsort(pooled, kind="stable")
        r1 = tie_term = 0.0
        i, n = 0, len(pooled)
        while i < n:
            j = i
            while j + 1 < n and pooled[order[j + 1]] == pooled[order[i]]:
                j += 1
            t, rank = j - i + 1.0, (i + j) / 2.0 + 1.0
            for k in range(i, j + 1):
                if order[k] < len(x):
                    r1 += rank
            tie_term += t * t * t - t
            i = j + 1
        return r1 - len(x) * (len(x) + 1) / 2.0, tie_term

    rng = np.random.default_rng(5)
    cases = [(np.array([0.0]), np.array([-0.0])), (np.array([1.0, np.nan]), np.array([np.nan, 1.0, 0.5]))]
    for n1, n2 in ((1, 1), (3, 40), (37, 17), (300, 45)):
        x, y = rng.normal(size=n1), rng.normal(size=n2)
        cases += [(x, y), (np.round(x, 1), np.round(y, 1)), (np.floor(x) * 0.0, np.floor(y))]
        x, y = np.round(x, 1), y.copy()
        x[::5], y[::7] = np.nan, np.nan
        cases.append((x, y))
    for x, y in cases:
        assert _mwu_u1(x, y) == replay(x, y)
        s = x.copy()
        sort_inplace(s, np.empty(len(s)))
        assert_array_equal(s, np.sort(x))
