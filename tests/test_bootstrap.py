"""bootstrap: interval kernels against a NumPy + scipy replay of scipy's formulas, and scipy.stats.bootstrap."""
import math
import sys
from types import SimpleNamespace

import numba
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import special, stats

import simengine
from simengine import bootstrap, naive
from simengine._rng import as_seed_sequence, n_blocks, numpy_block_generators
from simengine.bootstrap import BOOT_BLOCK
from simengine.kernels import bootstrap as kb

ALTS = ["two-sided", "less", "greater"]
ALT_CODE = {"two-sided": kb.ALT_TWO_SIDED, "less": kb.ALT_LESS, "greater": kb.ALT_GREATER}


# --------------------------------------------------------------------------- replay of scipy's formulas


def _replay_interval(theta_b, theta_hat, jack, method, level, alt):
    """scipy 1.17 ``bootstrap``'s interval step written out in NumPy + scipy.special / stats.quantile.

    `jack` is a list of per-sample jackknife statistic arrays (BCa only)."""
    alpha = (1 - level) / 2 if alt == "two-sided" else 1 - level
    if method == "BCa":
        pct = (np.count_nonzero(theta_b < theta_hat) + np.count_nonzero(theta_b <= theta_hat)) / (2 * len(theta_b))
        z0 = special.ndtri(pct)
        nums = []
        dens = []
        for t in jack:
            n = float(len(t))
            u = (n - 1) * (np.mean(t) - t)
            nums.append(np.sum(u**3) / n**3)
            dens.append(np.sum(u**2) / n**2)
        a = 1 / 6 * sum(nums) / sum(dens) ** 1.5
        za = float(special.ndtri(alpha))
        lv = (special.ndtr(z0 + (z0 + za) / (1 - a * (z0 + za))), special.ndtr(z0 + (z0 - za) / (1 - a * (z0 - za))))
    else:
        lv = (alpha, 1 - alpha)
    lo, hi = stats.quantile(theta_b, np.asarray(lv, dtype=float))
    if method == "basic":
        lo, hi = 2 * theta_hat - hi, 2 * theta_hat - lo
    if alt == "less":
        lo = -np.inf
    elif alt == "greater":
        hi = np.inf
    return lo, hi


def _kernel_interval(theta_b, theta_hat, jack, method, level, alt):
    s = np.sort(theta_b)
    code = ALT_CODE[alt]
    if method == "percentile":
        return kb.percentile_interval1(s, level, code)
    if method == "basic":
        return kb.basic_interval1(s, theta_hat, level, code)
    num = den = 0.0
    for t in jack:
        a, b = kb.jackknife_accel_terms1(np.ascontiguousarray(t, dtype=float))
        num += a
        den += b
    return kb.bca_interval1(s, theta_hat, kb.bca_accel(num, den), level, code)


@pytest.mark.parametrize("alt", ALTS)
@pytest.mark.parametrize("method", ["percentile", "basic", "BCa"])
def test_interval_kernels_equal_replay(method, alt):
    # Reference: scipy's formulas replayed in NumPy (1e-12), and for one-sample means scipy.stats.bootstrap
    # itself, fed the same bootstrap distribution through `bootstrap_result` with no new resamples.
    rng = np.random.default_rng(3)
    for n, b, level in [(15, 999, 0.95), (40, 2000, 0.9), (7, 101, 0.5), (25, 37, 0.99)]:
        x = rng.lognormal(size=n)
        idx = rng.integers(0, n, size=(b, n))
        theta_b = x[idx].mean(axis=1)
        theta_hat = x.mean()
        jack = [np.array([np.delete(x, i).mean() for i in range(n)])]
        got = _kernel_interval(theta_b, theta_hat, jack, method, level, alt)
        want = _replay_interval(theta_b, theta_hat, jack, method, level, alt)
        assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        ref = stats.bootstrap(
            (x,), np.mean, n_resamples=0, bootstrap_result=SimpleNamespace(bootstrap_distribution=theta_b),
            method=method, confidence_level=level, alternative=alt,
        )
        assert_allclose(got, tuple(ref.confidence_interval), rtol=1e-12, atol=1e-14)
        # two samples: their jackknife terms add up (scipy's a_hat over a tuple of samples)
        y = rng.normal(size=n + 3)
        jack2 = jack + [np.array([x.mean() - np.delete(y, i).mean() for i in range(n + 3)])]
        got = _kernel_interval(theta_b, theta_hat, jack2, method, level, alt)
        assert_allclose(got, _replay_interval(theta_b, theta_hat, jack2, method, level, alt), rtol=1e-12, atol=1e-14)


def test_interval_kernels_degenerate():
    # All resamples equal and a statistic constant under the jackknife: scipy's BCa gives NaN ends (a = 0/0),
    # the percentile and basic intervals the constant.
    theta_b = np.full(50, 2.5)
    jack = [np.full(10, 2.5)]
    for alt in ALTS:
        lo, hi = _kernel_interval(theta_b, 2.5, jack, "BCa", 0.95, alt)
        assert math.isnan(hi if alt != "greater" else lo)
        assert _kernel_interval(theta_b, 2.5, jack, "percentile", 0.95, "two-sided") == (2.5, 2.5)
        assert _kernel_interval(theta_b, 2.5, jack, "basic", 0.95, "two-sided") == (2.5, 2.5)
    # A NaN in the distribution propagates (scipy.stats.quantile's nan_policy="propagate").
    t = np.arange(20.0)
    t[3] = np.nan
    assert all(math.isnan(v) for v in _kernel_interval(t, 1.0, [t], "percentile", 0.9, "two-sided"))
    # quantile levels outside [0, 1] or NaN give NaN, the ends 0 and 1 the extremes
    s = np.arange(5.0)
    assert math.isnan(kb.boot_quantile1(s, math.nan)) and math.isnan(kb.boot_quantile1(s, 1.5))
    assert kb.boot_quantile1(s, 0.0) == 0.0 and kb.boot_quantile1(s, 1.0) == 4.0
    assert kb.percentile_of_score1(s, 2.0) == 0.5 and kb.percentile_of_score1(s, -1.0) == 0.0


# --------------------------------------------------------------------------- bootstrap(): NumPy replay

METHODS = ["percentile", "basic", "BCa"]


def _replay_distribution(data, stat, n_res, seed, paired):
    """The resample indices of `bootstrap` redrawn with NumPy: block b's generator gives, per resample,
    ``naive.bootstrap_indices(g.bit_generator, n_j)`` for each sample in turn (one draw of n for paired
    samples); the statistic is computed on x[idx] as scipy does."""
    gens = numpy_block_generators(as_seed_sequence(seed), n_blocks(n_res, BOOT_BLOCK))
    out = []
    for b, g in enumerate(gens):
        for _ in range(min(BOOT_BLOCK, n_res - b * BOOT_BLOCK)):
            if paired:
                idx = naive.bootstrap_indices(g.bit_generator, len(data[0]))
                out.append(stat(*[s[idx] for s in data]))
            else:
                out.append(stat(*[s[naive.bootstrap_indices(g.bit_generator, len(s))] for s in data]))
    return np.array(out)


def _replay_jackknife(data, stat, paired):
    """Leave-one-out statistics recomputed from scratch (scipy's `_jackknife_resample`), one array per sample."""
    if paired:
        n = len(data[0])
        return [np.array([stat(*[np.delete(s, i) for s in data]) for i in range(n)])]
    out = []
    for j, s in enumerate(data):
        vals = []
        for i in range(len(s)):
            d = list(data)
            d[j] = np.delete(s, i)
            vals.append(stat(*d))
        out.append(np.array(vals))
    return out


@numba.njit
def _jit_geomean(x):
    return np.exp(np.mean(np.log(x)))


@numba.njit
def _jit_diff_of_means(x, y):
    return x.mean() - y.mean()


def _np_corr(x, y):
    return np.clip(stats.pearsonr(x, y).statistic, -1, 1)


_RNG = np.random.default_rng(21)
_X = _RNG.lognormal(size=23)
_Y = _RNG.normal(1.0, 2.0, size=17)
_P = _X + _RNG.normal(size=23)
REPLAYS = {
    # name: (data, statistic, NumPy statistic, paired)
    "mean": ((_X,), "mean", np.mean, False),
    "median": ((_X,), "median", np.median, False),
    "median-even": ((_X[:22],), "median", np.median, False),
    "std": ((_X,), "std", np.std, False),
    "var": ((_X,), "var", np.var, False),
    "quantile": ((_X,), ("quantile", 0.3), lambda a: np.quantile(a, 0.3), False),
    "quantile-high": ((_X[:20],), ("quantile", 0.95), lambda a: np.quantile(a, 0.95), False),
    "mean_diff": ((_X, _Y), "mean_diff", lambda a, b: a.mean() - b.mean(), False),
    "mean_diff-paired": ((_X, _P), "mean_diff", lambda a, b: a.mean() - b.mean(), True),
    "median_diff": ((_X, _Y), "median_diff", lambda a, b: np.median(a) - np.median(b), False),
    "median_diff-paired": ((_X, _P), "median_diff", lambda a, b: np.median(a) - np.median(b), True),
    "ratio_of_means": ((_X, _Y + 5), "ratio_of_means", lambda a, b: a.mean() / b.mean(), False),
    "ratio_of_means-paired": ((_X, _P + 5), "ratio_of_means", lambda a, b: a.mean() / b.mean(), True),
    "correlation": ((_X, _P), "correlation", _np_corr, True),
    "custom1": ((_X,), _jit_geomean, _jit_geomean.py_func, False),
    "custom2": ((_X, _Y), _jit_diff_of_means, _jit_diff_of_means.py_func, False),
    "custom2-paired": ((_X, _P), _jit_diff_of_means, _jit_diff_of_means.py_func, True),
}


@pytest.mark.parametrize("name", sorted(REPLAYS))
def test_bootstrap_equals_numpy_replay_with_scipy_formulas(name):
    # Reference: the same resample indices redrawn in NumPy, the statistic computed on x[idx] (1e-12), and
    # the three intervals by scipy's formulas (the replay above), the jackknife recomputed from scratch.
    data, statistic, f, paired = REPLAYS[name]
    n_res = 1203  # two blocks, the second short
    theta = _replay_distribution(data, f, n_res, 5, paired)
    jack = _replay_jackknife(data, f, paired)
    theta_hat = f(*data)
    for method, alt, level in [("percentile", "two-sided", 0.95), ("basic", "less", 0.9), ("BCa", "two-sided", 0.95),
                               ("BCa", "greater", 0.8)]:
        res = bootstrap(data, statistic, n_resamples=n_res, method=method, alternative=alt, confidence_level=level,
                        paired=paired, rng=5)
        assert_allclose(res.bootstrap_distribution, theta, rtol=1e-12, atol=1e-14)
        want = _replay_interval(theta, theta_hat, jack, method, level, alt)
        assert_allclose(tuple(res.confidence_interval), want, rtol=1e-12, atol=1e-13)
    assert_allclose(res.standard_error, np.std(theta, ddof=1), rtol=1e-12)


# --------------------------------------------------------------------------- against scipy.stats.bootstrap


def _endpoint_se(se, b, alpha, method):
    """Monte Carlo SE of an interval end from `b` resamples of a near-normal bootstrap distribution of SD `se`:
    the alpha-quantile's sqrt(alpha (1 - alpha) / b) / phi(z_alpha), and for BCa also z0's noise
    (sd sqrt(1 / (4 b)) / phi(0), moving the end by about 2 se per unit of z0)."""
    z = special.ndtri(alpha)
    var = alpha * (1 - alpha) / b / stats.norm.pdf(z) ** 2
    if method == "BCa":
        var += 4 * 0.25 / b / stats.norm.pdf(0) ** 2
    return se * math.sqrt(var)


@pytest.mark.parametrize("name", ["mean", "std", "mean_diff", "ratio_of_means", "correlation"])
def test_bootstrap_agrees_with_scipy_within_mc_error(name):
    # Reference: scipy.stats.bootstrap with its own RNG.  Both ends and the standard error of two independent
    # runs of 9 999 resamples differ by their Monte Carlo error: 4 SE of the difference (see _endpoint_se).
    rng = np.random.default_rng(8)
    x = rng.normal(size=120)
    y = rng.normal(2.0, 1.5, size=90)
    p = 0.6 * x + rng.normal(size=120)
    cases = {
        "mean": ((x,), "mean", np.mean, False),
        "std": ((x,), "std", np.std, False),
        "mean_diff": ((x, y), "mean_diff", lambda a, b, axis=-1: a.mean(axis) - b.mean(axis), False),
        "ratio_of_means": ((x + 10, y), "ratio_of_means", lambda a, b, axis=-1: a.mean(axis) / b.mean(axis), False),
        "correlation": ((x, p), "correlation", lambda a, b, axis=-1: stats.pearsonr(a, b, axis=axis).statistic, True),
    }
    data, statistic, f, paired = cases[name]
    for method, alt in [("percentile", "two-sided"), ("basic", "greater"), ("BCa", "two-sided")]:
        ours = bootstrap(data, statistic, method=method, alternative=alt, paired=paired, rng=3)
        ref = stats.bootstrap(data, f, method=method, alternative=alt, paired=paired, rng=4)
        se = ref.standard_error
        alpha = 0.025 if alt == "two-sided" else 0.05
        tol = 4 * math.sqrt(2) * _endpoint_se(se, 9999, alpha, method)
        for a, b in zip(ours.confidence_interval, ref.confidence_interval):
            if np.isfinite(b):
                assert abs(a - b) <= tol, (method, a, b, tol)
            else:
                assert a == b
        # the SD of 9 999 near-normal draws has SE se / sqrt(2 B)
        assert abs(ours.standard_error - se) <= 4 * math.sqrt(2) * se / math.sqrt(2 * 9999)


# --------------------------------------------------------------------------- degenerate data


def test_degenerate_data_documented_result():
    # All observations equal: every resample gives the value exactly; percentile / basic give (c, c), the SE is 0,
    # BCa gives NaN ends with scipy's DegenerateDataWarning (its acceleration is 0 / 0).
    x = np.full(12, 0.1)
    for statistic, c in [("mean", 0.1), ("median", 0.1), ("var", 0.0), ("std", 0.0), (("quantile", 0.7), 0.1)]:
        for method in ("percentile", "basic"):
            res = bootstrap((x,), statistic, method=method, n_resamples=50, rng=0)
            assert tuple(res.confidence_interval) == (c, c) and res.standard_error == 0.0
        with pytest.warns(stats.DegenerateDataWarning):
            res = bootstrap((x,), statistic, n_resamples=50, rng=0)
        assert np.isnan(res.confidence_interval.low) and np.isnan(res.confidence_interval.high)
    with pytest.warns(stats.DegenerateDataWarning):
        res = bootstrap((x, x), "mean_diff", n_resamples=50, rng=0)
    assert np.isnan(res.confidence_interval.low) and (res.bootstrap_distribution == 0).all()


def test_bca_with_jackknife_constant_statistic_warns_and_nans_as_scipy():
    # The median of [1, 2, 2, 2, 3] is 2 whichever observation is left out: the acceleration is 0 / 0; scipy
    # warns and gives NaN, so do we (the bootstrap distribution itself is not degenerate).
    x = np.array([1.0, 2.0, 2.0, 2.0, 3.0])
    with pytest.warns(stats.DegenerateDataWarning), np.errstate(invalid="ignore"):
        ref = stats.bootstrap((x,), np.median, n_resamples=200, rng=0)
    with pytest.warns(stats.DegenerateDataWarning):
        ours = bootstrap((x,), "median", n_resamples=200, rng=0)
    assert np.isnan(ref.confidence_interval).all() and np.isnan(ours.confidence_interval).all()
    assert ours.bootstrap_distribution.std() > 0
    # the other methods are fine
    low, high = bootstrap((x,), "median", n_resamples=200, method="percentile", rng=0).confidence_interval
    assert 1.0 <= low <= 2.0 <= high <= 3.0


def test_nan_from_a_statistic_propagates_with_a_warning():
    # a ratio of means 0 / 0 on a quarter of the resamples of ([-1, 1], [-1, 1]): NaN resamples, NaN interval
    z = np.array([-1.0, 1.0])
    with pytest.warns(stats.DegenerateDataWarning):
        res = bootstrap((z, z), "ratio_of_means", n_resamples=200, method="percentile", rng=1)
    assert np.isnan(res.confidence_interval.low) and np.isnan(res.bootstrap_distribution).any()


# --------------------------------------------------------------------------- batching, threads, slicing


def test_batched_columns_equal_column_by_column():
    # every column uses the same resample indices, so a column's result is that of a 1-D call with the seed
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(31, 4)), rng.exponential(size=(26, 4))
    for data, statistic, paired in [((X,), "median", False), ((X,), "std", False), ((X, Y), "mean_diff", False),
                                    ((X, X[:, ::-1] + 1), "correlation", True)]:
        res = bootstrap(data, statistic, n_resamples=1500, paired=paired, rng=6)
        assert res.bootstrap_distribution.shape == (4, 1500)
        t = bootstrap(tuple(np.ascontiguousarray(d.T) for d in data), statistic, n_resamples=1500, paired=paired,
                      axis=1, rng=6)
        assert_array_equal(t.bootstrap_distribution, res.bootstrap_distribution)
        for j in (0, 3):
            one = bootstrap(tuple(d[:, j] for d in data), statistic, n_resamples=1500, paired=paired, rng=6)
            assert_array_equal(res.bootstrap_distribution[j], one.bootstrap_distribution)
            assert res.confidence_interval.low[j] == one.confidence_interval.low
            assert res.confidence_interval.high[j] == one.confidence_interval.high
            assert res.standard_error[j] == one.standard_error


def test_thread_count_does_not_change_results():
    from _subproc import run_with_threads

    code = (
        "import numpy as np\n"
        "from simengine import bootstrap\n"
        "r = np.random.default_rng(0)\n"
        "a = bootstrap((r.normal(size=(40, 3)),), 'median', n_resamples=4321, rng=7)\n"
        "b = bootstrap((r.normal(size=1200),), 'mean', n_resamples=2500, rng=8)\n"  # blocks run in parts
        "result = (a.bootstrap_distribution, a.confidence_interval, b.bootstrap_distribution)\n"
    )
    # this process against a child with another thread count (one child: each costs an interpreter start)
    here = {}
    exec(code, here)
    threads = numba.get_num_threads()
    other = run_with_threads(code, 2 if threads == 1 else 1)
    for u, w in zip(here["result"], other):
        assert_array_equal(u, w)


def test_blocks_in_tiny_parts_and_slices_are_bit_identical(monkeypatch):
    # a block cut into parts of 37 resamples (which do not divide it), one part per slice: each block's stream
    # carries from part to part, so every number is the same
    from simengine import _long

    mod = sys.modules["simengine.bootstrap"]  # the module (the package attribute is the function)
    rng = np.random.default_rng(13)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(25, 3))

    def calls():
        return [bootstrap((X,), "median", n_resamples=2100, rng=5), bootstrap((X, Y), "mean_diff", n_resamples=2100,
                                                                             rng=5),
                bootstrap((X, Y[:20]), _jit_diff_of_means, paired=True, n_resamples=2100, rng=5)]

    whole = calls()
    monkeypatch.setattr(mod, "_UNIT_OPS", 37 * 4 * 45)
    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)
    sliced = []

    def one_unit(call, n_units, **kwargs):
        sliced.append(n_units)
        return _long.run_blocks(call, n_units, **{**kwargs, "first": 1})

    monkeypatch.setattr(mod, "run_blocks", one_unit)
    for a, b in zip(whole, calls()):
        assert_array_equal(a.bootstrap_distribution, b.bootstrap_distribution, strict=True)
        assert_array_equal(a.confidence_interval, b.confidence_interval, strict=True)
    assert max(sliced) >= 3 * 27  # three blocks of 28 parts (the last short) run one part per slice


def test_index_rule_equals_numpy_replay():
    # The kernels' draws against naive.bootstrap_indices from the same PCG64 words, bit for bit: 16-bit chunks
    # (n <= 2**16; n = 40 000 rejects 39% of them, n = 65 536 none) and 32-bit chunks above, as indices, as
    # counts through a rank map, and as the one-column sum; the state ends where NumPy's does.  n = 31, 32, 33
    # and 1000 end their draws in a group of eight outputs, at its end or just after one.
    mod = sys.modules["simengine.bootstrap"]
    for n in [1, 2, 3, 5, 31, 32, 33, 1000, 40_000, 65_536, 65_537, 100_003]:
        ss = np.random.SeedSequence(n)
        st, bg = mod._pcg64_state(ss), np.random.PCG64(ss)
        idx = np.empty(n, np.int64)
        kb._draw_indices(st, n, idx)
        assert_array_equal(idx, naive.bootstrap_indices(bg, n))
        rank = np.random.default_rng(n).permutation(n)
        counts = np.empty(n, np.int64)
        kb._draw_counts(st, rank, counts, idx)
        assert_array_equal(counts, np.bincount(rank[naive.bootstrap_indices(bg, n)], minlength=n))
        xd = np.random.default_rng(n).normal(size=n)
        want = xd[naive.bootstrap_indices(bg, n)].sum()
        assert abs(kb._draw_dev_sum(st, xd, idx) - want) <= 1e-12 * n * max(1.0, np.abs(xd).max())
        assert (int(st[0]) << 64 | int(st[1])) == bg.state["state"]["state"]


def test_order_statistics_on_ties_equal_numpy_exactly():
    # The median / quantile walk over counts by sorted position (started at the target rank, stepping down or
    # up) against np.median / np.quantile of the replayed resample: bit for bit, on heavy ties, odd and even
    # n, n = 2 and n = 3, and batch columns (the counts-by-observation walk).
    for x in [np.array([1.0, 2.0]), np.array([3.0, 3.0, -1.0]), np.array([2.0, 1.0, 2.0, 2.0, 1.0, 0.0]),
              np.round(_X, 0), np.round(_X[:20], 0)]:
        for statistic, f in [("median", np.median), (("quantile", 0.3), lambda a: np.quantile(a, 0.3))]:
            want = _replay_distribution((x,), f, 80, 11, False)
            assert_array_equal(bootstrap((x,), statistic, n_resamples=80, method="percentile",
                                         rng=11).bootstrap_distribution, want)
            both = bootstrap((np.c_[x, -x],), statistic, n_resamples=80, method="percentile", rng=11)
            assert_array_equal(both.bootstrap_distribution[0], want)


def test_reproducible_and_seed_sensitive():
    x = np.random.default_rng(4).normal(size=30)
    a = bootstrap((x,), n_resamples=300, rng=9)
    b = bootstrap((x,), n_resamples=300, rng=np.random.SeedSequence(9))
    c = bootstrap((x,), n_resamples=300, rng=10)
    assert_array_equal(a.bootstrap_distribution, b.bootstrap_distribution)
    assert not np.array_equal(a.bootstrap_distribution, c.bootstrap_distribution)


# --------------------------------------------------------------------------- properties


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(-1e3, 1e3), n=st.integers(3, 40),
       statistic=st.sampled_from(["mean", "median", ("quantile", 0.8)]), method=st.sampled_from(METHODS))
def test_property_shift_equivariance_and_order(seed, shift, n, statistic, method):
    x = np.random.default_rng(seed).normal(size=n)
    assume(np.unique(x).size == n)
    a = bootstrap((x,), statistic, n_resamples=199, method=method, rng=seed)
    b = bootstrap((x + shift,), statistic, n_resamples=199, method=method, rng=seed)
    tol = 1e-9 * (1 + abs(shift))
    assert_allclose(b.bootstrap_distribution, a.bootstrap_distribution + shift, rtol=0, atol=tol)
    if not np.isnan(a.confidence_interval).any():
        assert_allclose(tuple(b.confidence_interval), np.add(tuple(a.confidence_interval), shift), rtol=0, atol=tol)
        assert a.confidence_interval.low <= a.confidence_interval.high
    assert_allclose(b.standard_error, a.standard_error, rtol=1e-6, atol=tol)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30), level=st.floats(0.51, 0.99))
def test_property_one_sided_ends_are_two_sided_ends_at_twice_the_tail(seed, n, level):
    # scipy: the finite end of a one-sided interval is that of the two-sided one at level 1 - 2 (1 - level)
    x = np.random.default_rng(seed).exponential(size=n)
    two = bootstrap((x,), "mean", n_resamples=99, confidence_level=2 * level - 1, method="percentile", rng=1)
    less = bootstrap((x,), "mean", n_resamples=99, confidence_level=level, method="percentile", alternative="less",
                     rng=1)
    greater = bootstrap((x,), "mean", n_resamples=99, confidence_level=level, method="percentile",
                        alternative="greater", rng=1)
    assert less.confidence_interval.low == -np.inf and greater.confidence_interval.high == np.inf
    assert_allclose(less.confidence_interval.high, two.confidence_interval.high, rtol=1e-12)
    assert_allclose(greater.confidence_interval.low, two.confidence_interval.low, rtol=1e-12)


# --------------------------------------------------------------------------- input validation and result


def test_bootstrap_iv():
    x = np.arange(10.0)
    with pytest.raises(TypeError, match="`data` must be a tuple of samples"):
        bootstrap(x)
    with pytest.raises(ValueError, match="`data` must contain at least one sample"):
        bootstrap(())
    with pytest.raises(ValueError, match="`data` must be finite"):
        bootstrap((np.array([1.0, np.nan, 2.0]),))
    with pytest.raises(TypeError, match="`data` must contain real numbers"):
        bootstrap((np.array(["a", "b"]),))
    with pytest.raises(ValueError, match="`data` must be 1-D or 2-D"):
        bootstrap((np.ones((2, 2, 2)),))
    with pytest.raises(ValueError, match="all be 1-D or all be 2-D"):
        bootstrap((x, np.ones((3, 2))), "mean_diff")
    with pytest.raises(ValueError, match="two or more observations along `axis`"):
        bootstrap((np.array([1.0]),))
    with pytest.raises(ValueError, match="same number of columns"):
        bootstrap((np.ones((5, 2)), np.ones((5, 3))), "mean_diff")
    with pytest.raises(ValueError, match="`axis` must be in"):
        bootstrap((np.ones((5, 2)),), axis=2)
    with pytest.raises(ValueError, match="`statistic` must be one of"):
        bootstrap((x,), "mode")
    with pytest.raises(ValueError, match=r"`statistic` 'quantile' needs its level"):
        bootstrap((x,), "quantile")
    with pytest.raises(ValueError, match=r"must be \('quantile', q\)"):
        bootstrap((x,), ("median", 0.5))
    with pytest.raises(ValueError, match=r"`statistic` must be in \[0, 1\]"):
        bootstrap((x,), ("quantile", 1.5))
    with pytest.raises(TypeError, match="plain Python callable .mean.*@njit"):
        bootstrap((x,), np.mean)
    with pytest.raises(TypeError, match="`statistic` must be"):
        bootstrap((x,), 3)
    with pytest.raises(ValueError, match="one-sample statistic"):
        bootstrap((x, x), "median")
    with pytest.raises(ValueError, match=r"compares two samples: `data` must be \(x, y\)"):
        bootstrap((x,), "mean_diff")
    with pytest.raises(ValueError, match="takes one or two samples"):
        bootstrap((x, x, x), _jit_geomean)
    with pytest.raises(ValueError, match="`n_resamples` must be an integer >= 1"):
        bootstrap((x,), n_resamples=0)
    with pytest.raises(ValueError, match=r"`confidence_level` must be in \(0, 1\)"):
        bootstrap((x,), confidence_level=1.0)
    with pytest.raises(ValueError, match="`method` must be one of 'percentile', 'basic', 'BCa'"):
        bootstrap((x,), method="studentized")
    with pytest.raises(ValueError, match="`alternative` must be one of"):
        bootstrap((x,), alternative="both")
    with pytest.raises(TypeError, match="`paired` must be True or False"):
        bootstrap((x,), paired="yes")
    with pytest.raises(ValueError, match="`batch` must be an integer >= 1"):
        bootstrap((x,), batch=0)
    with pytest.raises(ValueError, match="with `paired=True` all samples"):
        bootstrap((x, x[:5]), "mean_diff", paired=True)
    with pytest.raises(ValueError, match="'correlation' needs `paired=True`"):
        bootstrap((x, x), "correlation")
    with pytest.raises(ValueError, match="`rng`"):
        bootstrap((x,), rng=-1)
    with pytest.raises(ValueError, match="`n_resamples` x columns x observations asks for"):
        bootstrap((x,), n_resamples=10**9, axis=0) if False else bootstrap((np.ones((10**4, 20)),), n_resamples=10**9)
    with pytest.raises(TypeError, match="`statistic` must be a jitted function of 2 1-D float64 array"):
        bootstrap((x, x), _jit_geomean)  # one argument, two samples: does not compile
    # case-insensitive method, as scipy; `batch` changes nothing
    a = bootstrap((x,), method="bca", n_resamples=99, rng=1, batch=7)
    b = bootstrap((x,), method="BCa", n_resamples=99, rng=1)
    assert a.confidence_interval == b.confidence_interval


def test_result_fields_frame_and_no_unpacking():
    x = np.random.default_rng(0).normal(size=(15, 2))
    res = bootstrap((x,), n_resamples=99, rng=0)
    frame = res.to_frame()
    assert list(frame.columns) == ["low", "high", "standard_error"] and len(frame) == 2
    assert res.confidence_interval.low.shape == (2,) and res.bootstrap_distribution.shape == (2, 99)
    one = bootstrap((x[:, 0],), n_resamples=99, rng=0)
    assert isinstance(one.confidence_interval.low, float) and isinstance(one.standard_error, float)
    assert one.bootstrap_distribution.shape == (99,)
    with pytest.raises(TypeError, match="does not unpack"):
        tuple(one)
    assert "bootstrap_distribution" not in repr(one)
    assert simengine.BootstrapResult is type(one)


def test_docstring_examples_run():
    # tests/test_docstrings.py lists its modules by hand; until simengine.bootstrap is listed there, run its
    # examples here (the same flags)
    import doctest

    module = sys.modules["simengine.bootstrap"]
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    report = []
    for test in doctest.DocTestFinder().find(module, "simengine.bootstrap"):
        runner.run(test, out=report.append)
    assert runner.summarize(verbose=False).failed == 0, "".join(report)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")
def test_sigint_during_a_long_bootstrap_returns_within_a_second():
    # one column of 10**6 observations, 999 resamples: ~10**9 draws (seconds), run as parts of a block in
    # slices; SIGINT 0.25 s in must give a plain KeyboardInterrupt within 1 s, and the process the same numbers
    import signal
    import time

    from _child import Child

    code = (
        "import numpy as np\n"
        "import simengine as se\n"
        "x = np.random.default_rng(0).normal(size=10**6)\n"
        "small = lambda: se.bootstrap((x[:50],), 'median', n_resamples=999, rng=1).bootstrap_distribution.tolist()\n"
        "print('before', hash(repr(small())), flush=True)\n"
        "print('ready', flush=True)\n"
        "try:\n"
        "    se.bootstrap((x,), 'median', n_resamples=999, rng=0)\n"
        "    print('finished', flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "print('after', hash(repr(small())), flush=True)\n"
    )
    child = Child(code)
    try:
        before = child.line(600.0, "the small call before")
        assert child.line(60.0, "starting") == "ready"
        time.sleep(0.25)
        child.proc.send_signal(signal.SIGINT)
        sent = time.perf_counter()
        reply = child.line(60.0, "SIGINT").strip()
        took = time.perf_counter() - sent
        after = child.line(60.0, "the small call after")
        stderr = child.finish()
    finally:
        child.close()
    assert reply == "interrupted" and took < 1.0, (reply, took)
    assert after == "after " + before[len("before "):]
    assert "SystemError" not in stderr and "Traceback" not in stderr
