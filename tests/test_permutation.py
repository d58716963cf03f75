"""permutation_test: scipy parity (exact mode), exact rational arithmetic on tied decimal data, NumPy replay
(randomized mode), calibration, properties, nan_policy."""
import itertools
import math
from fractions import Fraction

import numba
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from simengine import permutation_test
from simengine._rng import as_seed_sequence, n_blocks, numpy_block_generators
from simengine.permutation import PERM_BLOCK

ALTS = ["two-sided", "less", "greater"]


def _mean_xy(x, y, axis):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _median_xy(x, y, axis):
    return np.median(x, axis=axis) - np.median(y, axis=axis)


@numba.njit
def _jit_mean_xy(x, y):
    return x.mean() - y.mean()


def _scipy(x, y, stat, alt, n_resamples=9999):
    f = _mean_xy if stat == "mean" else _median_xy
    return stats.permutation_test(
        (x, y), f, permutation_type="independent", alternative=alt, vectorized=True, n_resamples=n_resamples, rng=0
    )


@pytest.mark.parametrize("stat", ["mean", "median"])
@pytest.mark.parametrize("alt", ALTS)
def test_exact_mode_equals_scipy(stat, alt):
    # Reference: scipy enumerates all splits too; p-values must be identical.
    rng = np.random.default_rng(11)
    for nx, ny in [(2, 2), (3, 5), (6, 4), (7, 7)]:
        for ties in (False, True):
            x = rng.normal(size=nx)
            y = rng.normal(0.7, 1.0, size=ny)
            if ties:
                x, y = np.round(x * 2), np.round(y * 2)
            ours = permutation_test(x, y, statistic=stat, alternative=alt)
            ref = _scipy(x, y, stat, alt)
            assert ours.exact and ours.n_resamples == math.comb(nx + ny, nx)
            assert ours.pvalue == ref.pvalue
            assert_allclose(ours.statistic, ref.statistic, rtol=1e-13, atol=1e-15)
            assert_allclose(np.sort(ours.null_distribution), np.sort(ref.null_distribution), rtol=1e-13, atol=1e-14)


def test_exact_threshold_is_n_resamples():
    x, y = np.arange(5.0), np.arange(5.0) + 2.5  # comb(10, 5) = 252 splits
    assert permutation_test(x, y, n_resamples=252).exact
    res = permutation_test(x, y, n_resamples=251, rng=0)
    assert not res.exact and res.null_distribution.shape == (251,)
    # randomized p-values are (k + 1) / (R + 1)
    k = res.pvalue * 252
    assert abs(k - round(k)) < 1e-9


def test_custom_jitted_statistic_matches_builtin_exact():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=5), rng.normal(size=6)
    for alt in ALTS:
        a = permutation_test(x, y, statistic=_jit_mean_xy, alternative=alt)
        b = permutation_test(x, y, statistic="mean", alternative=alt)
        assert a.pvalue == b.pvalue
        assert_allclose(np.sort(a.null_distribution), np.sort(b.null_distribution), rtol=1e-12, atol=1e-14)


def _replay_median(x, y, n_resamples, seed):
    """Plain-NumPy replay of the randomized kernel: same streams, same partial Fisher-Yates."""
    nx, ny = len(x), len(y)
    n = nx + ny
    pooled = np.concatenate([x, y])
    m = min(nx, ny)
    pooled = pooled - (0.5 * pooled.min() + 0.5 * pooled.max())  # the kernel centres at the midrange
    gens = numpy_block_generators(as_seed_sequence(seed), n_blocks(n_resamples, PERM_BLOCK))
    null = np.empty(n_resamples)
    for b, g in enumerate(gens):
        perm = np.arange(n)
        for t in range(b * PERM_BLOCK, min((b + 1) * PERM_BLOCK, n_resamples)):
            for i in range(m):
                j = i + int(g.random() * (n - i))
                perm[i], perm[j] = perm[j], perm[i]
            drawn = np.zeros(n, bool)
            drawn[perm[:m]] = True  # the smaller group's new members, as pooled indices
            in_x = drawn if nx <= ny else ~drawn
            null[t] = np.median(pooled[in_x]) - np.median(pooled[~in_x])
    return null


@pytest.mark.parametrize("sizes", [(12, 15), (15, 12)])
def test_randomized_null_equals_numpy_replay(sizes):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=sizes[0]), rng.normal(size=sizes[1])
    res = permutation_test(x, y, statistic="median", n_resamples=6000, rng=42)
    assert_array_equal(res.null_distribution, _replay_median(x, y, 6000, 42))


def test_randomized_agrees_with_scipy_within_mc_error():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=30), rng.normal(0.4, 1.0, size=30)
    for stat in ("mean", "median"):
        ours = permutation_test(x, y, statistic=stat, rng=1).pvalue
        ref = _scipy(x, y, stat, "two-sided").pvalue
        # both are Monte Carlo estimates of one p with R = 9999: 4 SE of their difference
        se = math.sqrt(2 * ref * (1 - ref) / 9999)
        assert abs(ours - ref) <= 4 * se + 1e-4


def test_calibrated_under_null():
    # 2000 independent null tests (columns) with 199 resamples: p-values ~ U{1/200, ..., 1}.
    rng = np.random.default_rng(21)
    X, Y = rng.normal(size=(20, 2000)), rng.normal(size=(20, 2000))
    for stat in ("mean", "median"):
        p = permutation_test(X, Y, statistic=stat, n_resamples=199, rng=3).pvalue
        rate = np.mean(p <= 0.05)
        assert abs(rate - 0.05) <= 4 * math.sqrt(0.05 * 0.95 / 2000)
        assert stats.kstest(p, "uniform").pvalue > 1e-3


def test_batched_equals_column_by_column_exact():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(4, 6)), rng.normal(size=(5, 6))
    res = permutation_test(X, Y, statistic="median", alternative="greater")
    rowwise = permutation_test(X.T, Y.T, statistic="median", alternative="greater", axis=1)
    assert_array_equal(res.pvalue, rowwise.pvalue)
    for j in range(6):
        single = permutation_test(X[:, j], Y[:, j], statistic="median", alternative="greater")
        assert res.pvalue[j] == single.pvalue
        assert_array_equal(res.null_distribution[:, j], single.null_distribution)


def test_batched_equals_column_by_column_randomized():
    # one set of random splits serves every column (as in scipy), so batching changes nothing
    rng = np.random.default_rng(12)
    X, Y = rng.normal(size=(40, 5)), rng.normal(size=(31, 5))
    for stat in ("mean", "median", _jit_mean_xy):
        res = permutation_test(X, Y, statistic=stat, n_resamples=6000, rng=77)
        for j in (0, 3):
            single = permutation_test(X[:, j], Y[:, j], statistic=stat, n_resamples=6000, rng=77)
            assert res.pvalue[j] == single.pvalue
            assert_array_equal(res.null_distribution[:, j], single.null_distribution)


def test_random_blocks_in_tiny_units_are_bit_identical(monkeypatch):
    # a block of PERM_BLOCK resamples cut into parts of 97 (which do not divide it), one part per slice: the
    # block's stream and Fisher-Yates state carry from part to part, so every number is the same; the
    # observed statistics and tolerances are those of the rows sorted whole
    from simengine import _long, permutation, twosample

    rng = np.random.default_rng(13)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(25, 3))

    def calls():
        return [permutation_test(X, Y, statistic=stat, n_resamples=5001, rng=5)
                for stat in ("mean", "median", _jit_mean_xy)]

    whole = calls()
    assert 3 * 45 * PERM_BLOCK <= permutation._RANDOM_UNIT_OPS  # the default runs whole blocks
    monkeypatch.setattr(permutation, "_RANDOM_UNIT_OPS", 97 * 3 * 45)
    # and long rows' sort in slices (runs of 8 values merged in passes) from 40 values on
    monkeypatch.setattr(permutation, "_LONG_ROW", 40)
    monkeypatch.setattr(twosample, "SORT_RUN", 8)
    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)
    sliced = []

    def one_unit(call, n_units, **kwargs):
        sliced.append(n_units)
        return _long.run_blocks(call, n_units, **{**kwargs, "first": 1})

    monkeypatch.setattr(permutation, "run_blocks", one_unit)
    for a, b in zip(whole, calls()):
        assert_array_equal(a.null_distribution, b.null_distribution, strict=True)
        assert_array_equal(a.pvalue, b.pvalue, strict=True)
        assert_array_equal(a.statistic, b.statistic, strict=True)
    assert max(sliced) == 3 * 26  # 3 blocks of ceil(2500 / 97) units each
    # many long columns run in batches of columns (here one each), every batch with the same splits
    monkeypatch.undo()
    exact = permutation_test(X[:5], Y[:6], statistic="median", n_resamples=500)
    monkeypatch.setattr(permutation, "_ROW_CHUNK_OPS", 12)
    for a, b in zip(whole + [exact], calls() + [permutation_test(X[:5], Y[:6], statistic="median",
                                                                 n_resamples=500)]):
        assert_array_equal(a.null_distribution, b.null_distribution, strict=True)
        assert_array_equal(a.pvalue, b.pvalue, strict=True)


def test_randomized_reproducible_and_seed_sensitive():
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=(30, 3))
    a = permutation_test(X, Y, n_resamples=3000, rng=9)
    b = permutation_test(X, Y, n_resamples=3000, rng=np.random.SeedSequence(9))
    c = permutation_test(X, Y, n_resamples=3000, rng=10)
    assert_array_equal(a.null_distribution, b.null_distribution)
    assert not np.array_equal(a.null_distribution, c.null_distribution)
    assert a.null_distribution.shape == (3000, 3)


def test_thread_count_does_not_change_results():
    from _subproc import run_with_threads

    code = (
        "import numpy as np\n"
        "from simengine import permutation_test\n"
        "r = np.random.default_rng(0)\n"
        "x, y = r.normal(size=(52, 3)), r.normal(size=(52, 3))\n"
        "a = permutation_test(x, y, statistic='median', rng=7)\n"
        "b = permutation_test(x[:, 0], y[:, 0], statistic='mean', n_resamples=5001, rng=8)\n"
        "c = permutation_test(r.normal(size=1500), r.normal(size=1000), n_resamples=5001, rng=9)\n"  # blocks in parts
        "result = (a.pvalue, a.null_distribution, b.pvalue, b.null_distribution, c.null_distribution)\n"
    )
    one = run_with_threads(code, 1)
    two = run_with_threads(code, 2)
    for u, w in zip(one, two):
        assert_array_equal(u, w)


def test_exact_regression_small_example():
    # all 20 splits of {1..6} into 3 + 3: only the observed one reaches a mean difference of -3
    # (issue 13: the statistic is x minus y, scipy's sign; it was y minus x)
    res = permutation_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], alternative="less")
    assert res.exact and res.n_resamples == 20 and res.statistic == -3.0 and res.pvalue == 1 / 20
    assert permutation_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], alternative="greater").pvalue == 1.0
    assert permutation_test([4.0, 5.0, 6.0], [1.0, 2.0, 3.0], alternative="greater").pvalue == 1 / 20
    assert permutation_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]).pvalue == 2 / 20
    stat, p = permutation_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])  # unpacks like scipy's result
    assert (stat, p) == (-3.0, 0.1)


@settings(deadline=None, max_examples=40)
@given(
    nx=st.integers(1, 6),
    ny=st.integers(1, 6),
    stat=st.sampled_from(["mean", "median"]),
    alt=st.sampled_from(ALTS),
    data=st.data(),
)
def test_property_exact_matches_scipy_with_ties_and_scale(nx, ny, stat, alt, data):
    # ties (small integers), large magnitudes, constant samples, groups of 1 and 2
    scale = data.draw(st.sampled_from([1.0, 1e6, 1e-3]))
    xs = data.draw(st.lists(st.integers(-3, 3), min_size=nx, max_size=nx))
    ys = data.draw(st.lists(st.integers(-3, 3), min_size=ny, max_size=ny))
    x, y = np.array(xs, float) * scale, np.array(ys, float) * scale
    ours = permutation_test(x, y, statistic=stat, alternative=alt)
    assert ours.exact and 0.0 < ours.pvalue <= 1.0
    # issue 13: ties are decided as exact arithmetic decides them; on integer data (exact sums)
    # that is scipy's answer too, on 1e-3 multiples scipy's floating-point ties can differ
    assert ours.pvalue == _exact_fraction_pvalue(x, y, stat, alt)
    if nx >= 2 and ny >= 2 and scale != 1e-3:  # scipy needs two observations per sample
        assert ours.pvalue == _scipy(x, y, stat, alt).pvalue


@settings(deadline=None, max_examples=25)
@given(shift=st.integers(-1000, 1000), seed=st.integers(0, 2**32 - 1))
def test_property_shift_invariance_and_symmetry(shift, seed):
    assume(shift != 0)  # integer shifts keep the arithmetic exact
    rng = np.random.default_rng(seed)
    x, y = rng.integers(-5, 5, 6).astype(float), rng.integers(-5, 5, 5).astype(float)
    base = permutation_test(x, y, statistic="median", alternative="greater")
    moved = permutation_test(x + shift, y + shift, statistic="median", alternative="greater")
    assert math.isclose(base.pvalue, moved.pvalue)
    swapped = permutation_test(y, x, statistic="median", alternative="less")
    assert base.pvalue == swapped.pvalue


def test_permutation_test_iv():
    x, y = np.arange(5.0), np.arange(6.0)
    with pytest.raises(ValueError, match="`x` must not be empty"):
        permutation_test([], y)
    with pytest.raises(ValueError, match="`nan_policy` must be one of"):
        permutation_test(x, y, nan_policy="ignore")
    with pytest.raises(ValueError, match="`y` contains NaN and `nan_policy` is 'raise'"):
        permutation_test(x, [1.0, np.nan], nan_policy="raise")
    with pytest.raises(ValueError, match="`x` must be finite; it contains inf"):
        permutation_test([1.0, np.inf], y)
    with pytest.raises(ValueError, match="same number of columns"):
        permutation_test(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="same number of dimensions"):
        permutation_test(np.ones((4, 3)), y)
    with pytest.raises(ValueError, match="`alternative` must be one of"):
        permutation_test(x, y, alternative="two_sided")
    with pytest.raises(ValueError, match="`n_resamples` must be an integer >= 1"):
        permutation_test(x, y, n_resamples=0)
    with pytest.raises(TypeError, match="`n_resamples` must be an integer"):
        permutation_test(x, y, n_resamples=99.5)
    with pytest.raises(ValueError, match="`statistic` must be one of"):
        permutation_test(x, y, statistic="mode")
    with pytest.raises(TypeError, match="numba.njit"):
        permutation_test(x, y, statistic=lambda a, b: b.mean() - a.mean())
    with pytest.raises(ValueError, match="`axis` must be in"):
        permutation_test(np.ones((4, 3)), np.ones((4, 3)), axis=2)
    with pytest.raises(TypeError, match="`rng` must be None"):
        permutation_test(x, y, rng="seed")


# --- issue 12: non-finite statistics, failures inside the kernel, bounds ---


@pytest.mark.parametrize("n_resamples", [5, 10**6])  # randomized and exact
def test_non_finite_statistic_is_refused(n_resamples):
    # was: p = 0.0002 from a NaN statistic.  The jitted mean difference (compiled once for this
    # file) overflows on these data: to NaN on the observed split, to inf on some resamples.
    big = 1.7e308
    with pytest.raises(ValueError, match="`statistic` returned a non-finite value .* for the observed data"):
        permutation_test([big, big, 1.0], [0.0, 1.0, 2.0], statistic=_jit_mean_xy, n_resamples=n_resamples, rng=1)
    with pytest.raises(ValueError, match="`statistic` returned a non-finite value .* for a resample"):
        permutation_test([big, -big, 0.0], [big, -big, 1.0], statistic=_jit_mean_xy, n_resamples=n_resamples,
                         rng=1)


def test_statistic_raising_inside_the_parallel_loop_is_a_value_error(monkeypatch):
    # numba's parallel loop either swallows the statistic's exception (the null distribution then
    # holds garbage) or returns with it set (SystemError); both become one clear ValueError
    from simengine.kernels import permutation as kp

    def swallowed(real):
        def kernel(*args):
            done = real(*args)
            done[-1] = 0  # as if the last row's (exact) or block's (random) iteration had stopped early
            return done
        return kernel

    def set_but_returned(real):
        def kernel(*args):
            try:
                raise ZeroDivisionError("boom")
            except ZeroDivisionError:
                raise SystemError("returned a result with an exception set")
        return kernel

    x, y = np.arange(6.0), np.arange(6.0) + 0.5
    for name, n_resamples in (("_perm_custom_random", 99), ("_perm_custom_exact", 999)):
        for fake in (swallowed, set_but_returned):
            monkeypatch.setattr(kp, name, fake(getattr(kp, name)))
            with pytest.raises(ValueError, match="`statistic` raised an exception"):
                permutation_test(x, y, statistic=_jit_mean_xy, n_resamples=n_resamples, rng=1)
            monkeypatch.undo()


def test_overflowing_means_are_refused():
    x = np.array([1e308, 1.7e308, -1e308, 1.5e308])
    with pytest.raises(ValueError, match="mean difference overflowed .* `x` and `y`"):
        permutation_test(x, np.arange(4.0), rng=1)


def test_statistic_that_does_not_compile_is_a_type_error():
    @numba.njit
    def returns_array(x, y):
        return x

    with pytest.raises(TypeError, match="`statistic` must be a jitted function f\\(x, y\\) -> float"):
        permutation_test(np.arange(5.0), np.arange(5.0) + 1, statistic=returns_array, rng=1)


def test_n_resamples_and_memory_are_capped(monkeypatch):
    monkeypatch.setenv("SIMENGINE_MAX_MEMORY", str(2**30))  # the same answer on any machine
    x, y = np.arange(30.0), np.arange(30.0) + 1
    with pytest.raises(ValueError, match=r"`n_resamples` must be an integer in \[1, 1000000000\]; got 2147483648"):
        permutation_test(x, y, n_resamples=2**31)
    with pytest.raises(ValueError, match=r"`n_resamples` x columns .* asks for"):
        permutation_test(np.ones((30, 50)) * x[:, None], np.ones((30, 50)) * y[:, None], n_resamples=10**9)
    with pytest.raises(ValueError, match=r"`n_resamples` x columns of `x` needs .* GiB"):
        permutation_test(x, y, n_resamples=10**8)


def test_kernel_that_stops_early_is_a_memory_error(monkeypatch):
    from simengine.kernels import permutation as kp

    def failing(real):
        def kernel(*args):
            done = real(*args)
            done[0] = 0  # as if the first block's (row's) scratch allocation had failed
            return done
        return kernel

    for name, statistic, n_resamples in (("_perm_random_mean", "mean", 999), ("_perm_random_median", "median", 999),
                                         ("_perm_exact_mean", "mean", 10**6), ("_perm_exact_median", "median", 10**6)):
        monkeypatch.setattr(kp, name, failing(getattr(kp, name)))
        with pytest.raises(MemoryError, match=f"`n_resamples` = {n_resamples}"):
            permutation_test(np.arange(10.0), np.arange(10.0), statistic=statistic, n_resamples=n_resamples, rng=1)
        monkeypatch.undo()


def test_exact_threshold_without_the_huge_binomial():
    # math.comb(2 * 10**6, 10**6) took 40 s before any resample was drawn
    from simengine.permutation import _n_splits

    for nx in range(1, 16):
        for ny in range(1, 16):
            c = math.comb(nx + ny, nx)
            for limit in (1, 5, 99, 9999, 10**6):
                assert _n_splits(nx, ny, limit) == (c if c <= limit else limit + 1)
    assert _n_splits(10**6, 10**6, 10**9) == 10**9 + 1
    assert _n_splits(1, 10**8, 10**9) == 10**8 + 1


# --- issue 13: exact arithmetic on tied decimal data, direction, nan_policy ---


def _exact_fraction_pvalue(x, y, stat, alt):
    """Exact p-value by enumerating every split with rational arithmetic on the decimal data
    (each float read as the shortest decimal that round-trips, e.g. 0.3 as 3/10)."""
    xs = [Fraction(repr(float(v))) for v in x]
    ys = [Fraction(repr(float(v))) for v in y]
    pooled = xs + ys
    n, nx = len(pooled), len(xs)

    def f(a, b):
        if stat == "mean":
            return sum(a) / len(a) - sum(b) / len(b)
        a, b = sorted(a), sorted(b)
        return (a[(len(a) - 1) // 2] + a[len(a) // 2]) / 2 - (b[(len(b) - 1) // 2] + b[len(b) // 2]) / 2

    observed = f(xs, ys)
    ge = le = total = 0
    for idx in itertools.combinations(range(n), nx):
        chosen = set(idx)
        s = f([pooled[i] for i in idx], [pooled[i] for i in range(n) if i not in chosen])
        total += 1
        ge += s >= observed
        le += s <= observed
    p_greater, p_less = ge / total, le / total
    return {"greater": p_greater, "less": p_less, "two-sided": min(1.0, 2 * min(p_greater, p_less))}[alt]


@pytest.mark.parametrize("stat", ["mean", "median"])
@pytest.mark.parametrize("alt", ALTS)
def test_tied_decimal_data_decided_as_exact_arithmetic(stat, alt):
    # the example: x = y, observed statistic 0; scipy's tolerance (100 eps |observed|) is 0
    # there, so splits equal to it in exact arithmetic but not in floating point were missed
    x = y = [0.3, 0.7, 0.3, 0.3]
    assert permutation_test(x, y, statistic=stat, alternative=alt).pvalue == _exact_fraction_pvalue(x, y, stat, alt)
    assert permutation_test(x, y, statistic="mean", alternative="greater").pvalue == 55 / 70


@settings(deadline=None, max_examples=60)
@given(
    xs=st.lists(st.integers(-20, 20), min_size=1, max_size=5),
    ys=st.lists(st.integers(-20, 20), min_size=1, max_size=5),
    denom=st.sampled_from([1, 10, 100, 1000]),
    offset=st.sampled_from(["0", "-3.3", "123.45", "1000000"]),
    stat=st.sampled_from(["mean", "median"]),
)
def test_property_exact_pvalues_equal_rational_arithmetic(xs, ys, denom, offset, stat):
    # decimal data (k / denom + offset, each float the nearest to that decimal), offsets that make
    # the floating-point sums inexact: every exact p-value equals the one of exact fractions
    x = [float(Fraction(k, denom) + Fraction(offset)) for k in xs]
    y = [float(Fraction(k, denom) + Fraction(offset)) for k in ys]
    for alt in ALTS:
        ours = permutation_test(x, y, statistic=stat, alternative=alt)
        assert ours.exact
        assert ours.pvalue == _exact_fraction_pvalue(x, y, stat, alt)


@pytest.mark.parametrize("policy", ["propagate", "omit"])
@pytest.mark.parametrize("n_resamples", [9999, 200])  # exact and randomized
def test_nan_policy(policy, n_resamples):
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(6, 4)), rng.normal(0.5, 1, size=(5, 4))
    X[2, 1] = np.nan
    Y[0, 3] = Y[4, 3] = np.nan
    res = permutation_test(X, Y, n_resamples=n_resamples, rng=5, nan_policy=policy)
    clean = permutation_test(X[:, [0, 2]], Y[:, [0, 2]], n_resamples=n_resamples, rng=5)
    assert_array_equal(res.pvalue[[0, 2]], clean.pvalue)
    assert_array_equal(res.null_distribution[:, [0, 2]], clean.null_distribution)
    for j in (1, 3):
        a, b = X[:, j], Y[:, j]
        if policy == "propagate":
            assert np.isnan(res.statistic[j]) and np.isnan(res.pvalue[j])
            assert np.isnan(res.null_distribution[:, j]).all()
        else:  # as a call on that column alone without its NaNs, same seed
            alone = permutation_test(a[~np.isnan(a)], b[~np.isnan(b)], n_resamples=n_resamples, rng=5)
            assert (res.statistic[j], res.pvalue[j]) == (alone.statistic, alone.pvalue)
            m = alone.null_distribution.size
            assert_array_equal(res.null_distribution[:m, j], alone.null_distribution)
            assert np.isnan(res.null_distribution[m:, j]).all()
    one = permutation_test(X[:, 1], Y[:, 1], n_resamples=n_resamples, rng=5, nan_policy=policy)
    assert (np.isnan(one.pvalue) if policy == "propagate" else one.pvalue == res.pvalue[1])
    with pytest.raises(ValueError, match="`x` contains NaN and `nan_policy` is 'raise'"):
        permutation_test(X, Y, nan_policy="raise")
    empty = permutation_test([np.nan, np.nan], [1.0, 2.0], nan_policy="omit")
    assert np.isnan(empty.statistic) and np.isnan(empty.pvalue)


def test_result_unpacks_and_tabulates_one_row_per_test():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(9, 3))
    res = permutation_test(X, Y, n_resamples=99, rng=2)
    stat, p = res
    assert_array_equal(stat, res.statistic)
    assert len(res) == 2
    frame = res.to_frame()
    assert list(frame.columns) == ["statistic", "pvalue", "exact", "n_resamples"] and len(frame) == 3
    assert_array_equal(frame["pvalue"], res.pvalue)
    one = permutation_test(X[:, 0], Y[:, 0], n_resamples=99, rng=2).to_frame()
    assert len(one) == 1 and one["pvalue"][0] == res.pvalue[0]
    assert res.to_dict()["null_distribution"].shape == (99, 3)
