"""permutation_test's designs beyond two independent samples (issue 17): paired sign flips
(permutation_type="samples"), association (permutation_type="pairings") and k independent samples.

References: scipy.stats.permutation_test in exact mode (p-values equal), NumPy replays of the random
kernels (bit for bit), the exact p-value for the randomized modes (4 Monte Carlo SE).  Kernels are shared
across tests through small inputs; the whole file runs in a few seconds warm.
"""
import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from simengine import permutation_test
from simengine._rng import as_seed_sequence, n_blocks, numpy_block_generators
from simengine.permutation import PERM_BLOCK

ALTS = ["two-sided", "less", "greater"]


def _mean_diff(x, y, axis):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _median_of_diffs(x, y, axis):
    return np.median(x - y, axis=axis)


def _pearson(x, y, axis):
    return stats.pearsonr(x, y, axis=axis).statistic


def _f(*s, axis):
    return stats.f_oneway(*s, axis=axis).statistic


def _h(*s, axis):
    return stats.kruskal(*s, axis=axis).statistic


@numba.njit
def _jit_mean_diff(x, y):
    if y[0] == -999.0:  # a marker: NaN (to test the refusal without compiling one more statistic)
        return np.nan
    return x.mean() - y.mean()


@numba.njit
def _jit_r(x, y):
    a = x - x.mean()
    b = y - y.mean()
    return (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())


@numba.njit
def _jit_range_of_means(pooled, sizes):
    lo, hi, start = np.inf, -np.inf, 0
    for m in sizes:
        mean = pooled[start:start + m].mean()
        lo, hi, start = min(lo, mean), max(hi, mean), start + m
    return hi - lo


def _scipy(data, f, ptype, alt, n_resamples=9999):
    return stats.permutation_test(data, f, permutation_type=ptype, alternative=alt, vectorized=True,
                                  n_resamples=n_resamples, rng=0)


def _data(seed, n, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 0.6 * x + rng.normal(0.3, 1.0, size=n)
    return (np.round(2 * x), np.round(2 * y)) if ties else (x, y)


# ---- exact mode = scipy -------------------------------------------------------------------------------

@pytest.mark.parametrize("stat", ["mean", "median"])
@pytest.mark.parametrize("ties", [False, True])
def test_samples_exact_equals_scipy(stat, ties):
    f = _mean_diff if stat == "mean" else _median_of_diffs
    for n in (2, 4, 9):
        x, y = _data(n, n, ties)
        for alt in ALTS:
            ours = permutation_test(x, y, statistic=stat, permutation_type="samples", alternative=alt)
            ref = _scipy((x, y), f, "samples", alt)
            assert ours.exact and ours.n_resamples == 2**n == ref.null_distribution.size
            assert ours.pvalue == ref.pvalue
            assert_allclose(ours.statistic, ref.statistic, rtol=1e-13, atol=1e-15)
            assert_allclose(np.sort(ours.null_distribution), np.sort(ref.null_distribution), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("ties", [False, True])
def test_pairings_exact_equals_scipy(ties):
    # scipy enumerates (n!)^2 permutations of both samples (each pairing n! times): the same p-value
    for n in (3, 5):
        x, y = _data(10 + n, n, ties)
        for alt in ALTS:
            ours = permutation_test(x, y, statistic="correlation", permutation_type="pairings", alternative=alt)
            ref = _scipy((x, y), _pearson, "pairings", alt, n_resamples=math.factorial(n) ** 2)
            assert ours.exact and ours.n_resamples == math.factorial(n)
            assert ours.pvalue == ref.pvalue
            assert_allclose(ours.statistic, ref.statistic, rtol=1e-13)
            assert_allclose(np.sort(ours.null_distribution), np.sort(ref.null_distribution)[::math.factorial(n)],
                            rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("stat", ["f_oneway", "kruskal"])
@pytest.mark.parametrize("ties", [False, True])
def test_k_samples_exact_equals_scipy(stat, ties):
    f = _f if stat == "f_oneway" else _h
    rng = np.random.default_rng(4)
    for sizes in ((2, 3, 3), (3, 2, 2, 2)):
        samples = [rng.normal(0.4 * i, 1.0, size=m) for i, m in enumerate(sizes)]
        if ties:
            samples = [np.round(s) for s in samples]
        count = math.factorial(sum(sizes)) // math.prod(math.factorial(m) for m in sizes)
        for alt in ("greater", "two-sided"):
            ours = permutation_test(*samples, statistic=stat, alternative=alt, n_resamples=count)
            ref = _scipy(samples, f, "independent", alt, n_resamples=count)
            assert ours.exact and ours.n_resamples == count
            assert ours.pvalue == ref.pvalue
            assert_allclose(ours.statistic, ref.statistic, rtol=1e-12)
            assert_allclose(np.sort(ours.null_distribution), np.sort(ref.null_distribution), rtol=1e-10, atol=1e-12)


def test_k_samples_two_samples_and_custom_statistics_match_builtins():
    x, y = _data(3, 6)
    z = x[:4] + 1.0
    # two samples with f_oneway: F = t^2 of the pooled-variance t-test, so the two-sided mean test's p
    a = permutation_test(x, y, statistic="f_oneway", alternative="greater")
    b = permutation_test(x, y, statistic="mean")
    assert a.exact and a.pvalue == b.pvalue
    # jitted statistics of each design against the built-in one (exact: every resample)
    for kw, builtin in ((dict(statistic=_jit_mean_diff, permutation_type="samples"), dict(statistic="mean")),
                        (dict(statistic=_jit_r, permutation_type="pairings"), dict(statistic="correlation"))):
        design = dict(permutation_type=kw["permutation_type"])
        for alt in ALTS:
            c = permutation_test(x, y, alternative=alt, **kw)
            d = permutation_test(x, y, alternative=alt, **design, **builtin)
            assert c.exact and c.pvalue == d.pvalue
            assert_allclose(c.null_distribution, d.null_distribution, rtol=1e-12, atol=1e-14)
    c = permutation_test(x[:3], y[:3], z, statistic=_jit_range_of_means, alternative="greater")
    means = [np.mean(s) for s in (x[:3], y[:3], z)]
    assert c.exact and c.n_resamples == 4200 and c.statistic == pytest.approx(max(means) - min(means))
    assert 0 < c.pvalue <= 1


# ---- randomized mode: NumPy replay (bit for bit) and agreement with the exact p ------------------------

def _replay_flip_mean(x, y, n_resamples, seed):
    d = x - y
    n = d.size
    nw = -(-n // 52)
    gens = numpy_block_generators(as_seed_sequence(seed), n_blocks(n_resamples, PERM_BLOCK))
    null = np.empty(n_resamples)
    for b, g in enumerate(gens):
        for t in range(b * PERM_BLOCK, min((b + 1) * PERM_BLOCK, n_resamples)):
            words = [int(g.random() * 2.0**52) for _ in range(nw)]
            sgn = np.array([1.0 - 2.0 * ((words[i // 52] >> (i % 52)) & 1) for i in range(n)])
            null[t] = np.cumsum(d * sgn)[-1] / n  # the kernel's sequential sum
    return null


def _replay_pairings(zx, zy, n_resamples, seed):
    n = zx.size
    gens = numpy_block_generators(as_seed_sequence(seed), n_blocks(n_resamples, PERM_BLOCK))
    null = np.empty(n_resamples)
    for b, g in enumerate(gens):
        p = np.arange(n)
        for t in range(b * PERM_BLOCK, min((b + 1) * PERM_BLOCK, n_resamples)):
            for i in range(n - 1):
                j = i + int(g.random() * (n - i))
                p[i], p[j] = p[j], p[i]
            null[t] = np.cumsum(zx * zy[p])[-1]
    return null


def test_randomized_nulls_equal_numpy_replay():
    x, y = _data(7, 60)  # 60 pairs: two random words per resample
    res = permutation_test(x, y, permutation_type="samples", n_resamples=2600, rng=42)
    assert not res.exact
    assert_array_equal(res.null_distribution, _replay_flip_mean(x, y, 2600, 42))
    x, y = x[:12], y[:12]
    res = permutation_test(x, y, permutation_type="pairings", statistic="correlation", n_resamples=2600, rng=3)
    zx, zy = x - x.mean(), y - y.mean()
    zx, zy = zx / np.sqrt((zx * zx).sum()), zy / np.sqrt((zy * zy).sum())
    assert_array_equal(res.null_distribution, _replay_pairings(zx, zy, 2600, 3))


@pytest.mark.parametrize("case", ["samples-mean", "samples-median", "pairings", "f_oneway", "kruskal"])
def test_randomized_within_4_se_of_exact(case):
    r = 3000
    if case.startswith("samples"):
        x, y = _data(8, 14)  # 16 384 sign flips
        args, kw = (x, y), dict(permutation_type="samples", statistic=case.split("-")[1])
    elif case == "pairings":
        x, y = _data(9, 8)  # 40 320 pairings
        x = x + 0.2 * y
        args, kw = (x, y), dict(permutation_type="pairings", statistic="correlation")
    else:
        rng = np.random.default_rng(10)
        args, kw = tuple(rng.normal(0.3 * i, 1, size=4) for i in range(3)), dict(statistic=case)  # 34 650
    exact = permutation_test(*args, n_resamples=10**5, **kw)
    rand = permutation_test(*args, n_resamples=r, rng=5, **kw)
    assert exact.exact and not rand.exact
    p = exact.pvalue
    assert abs(rand.pvalue - p) <= 4 * math.sqrt(p * (1 - p) / r) + 1 / (r + 1)


def test_paired_test_calibrated_under_null():
    # 1000 null columns, 99 sign flips each: p ~ U{1/100, ..., 1}
    rng = np.random.default_rng(21)
    X, Y = rng.normal(size=(20, 1000)), rng.normal(size=(20, 1000))
    p = permutation_test(X, Y, permutation_type="samples", n_resamples=99, rng=3).pvalue
    assert abs(np.mean(p <= 0.05) - 0.05) <= 4 * math.sqrt(0.05 * 0.95 / 1000)


# ---- columns, slicing, threads, nan_policy -------------------------------------------------------------

_BATCH = [
    dict(permutation_type="samples"), dict(permutation_type="samples", statistic="median"),
    dict(permutation_type="pairings", statistic="correlation"),
]


@pytest.mark.parametrize("n_resamples", [500, 3000])
def test_batched_equals_column_by_column(n_resamples):
    rng = np.random.default_rng(12)
    X, Y = rng.normal(size=(9, 3)), rng.normal(size=(9, 3))
    Z = rng.normal(size=(4, 3))
    calls = [((X, Y), kw) for kw in _BATCH] + [((X[:4], Y[:3], Z), dict(statistic="kruskal"))]
    for args, kw in calls:
        res = permutation_test(*args, n_resamples=n_resamples, rng=77, **kw)
        rowwise = permutation_test(*(a.T for a in args), n_resamples=n_resamples, rng=77, axis=1, **kw)
        assert_array_equal(res.pvalue, rowwise.pvalue)
        for j in (0, 2):
            single = permutation_test(*(a[:, j] for a in args), n_resamples=n_resamples, rng=77, **kw)
            assert res.pvalue[j] == single.pvalue
            assert_array_equal(res.null_distribution[:, j], single.null_distribution)


def test_tiny_slices_and_column_batches_are_bit_identical(monkeypatch):
    from simengine import _long, permutation

    rng = np.random.default_rng(13)
    X, Y, Z = rng.normal(size=(9, 3)), rng.normal(size=(9, 3)), rng.normal(size=(3, 3))
    calls = [((X, Y), dict(kw, n_resamples=n)) for kw in _BATCH for n in (600, 5001)]
    # (custom statistics run the same loops; left out here because each compiles anew in every process)
    calls += [((X[:3], Y[:3], Z[:2]), dict(statistic="f_oneway", n_resamples=600)),
              ((X, Y, Z), dict(statistic="kruskal", n_resamples=3001))]

    def run():
        return [permutation_test(*args, rng=5, **kw) for args, kw in calls]

    whole = run()
    monkeypatch.setattr(permutation, "_EXACT_UNIT_OPS", 20)
    monkeypatch.setattr(permutation, "_ROW_CHUNK_OPS", 1)
    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)
    sliced = []

    def one_unit(call, n_units, **kwargs):
        sliced.append(n_units)
        return _long.run_blocks(call, n_units, **{**kwargs, "first": 1})

    monkeypatch.setattr(permutation, "run_blocks", one_unit)
    for a, b in zip(whole, run()):
        assert a.exact == b.exact
        assert_array_equal(a.null_distribution, b.null_distribution, strict=True)
        assert_array_equal(a.pvalue, b.pvalue, strict=True)
        assert_array_equal(a.statistic, b.statistic, strict=True)
    assert max(sliced) > 100


def test_thread_count_does_not_change_results():
    from _subproc import run_with_threads

    code = (
        "import numpy as np\n"
        "from simengine import permutation_test\n"
        "r = np.random.default_rng(0)\n"
        "x, y, z = r.normal(size=(30, 3)), r.normal(size=(30, 3)), r.normal(size=(5, 3))\n"
        "a = permutation_test(x, y, permutation_type='samples', rng=7)\n"
        "b = permutation_test(x, y, permutation_type='pairings', statistic='correlation', n_resamples=5001, rng=8)\n"
        "c = permutation_test(x, y, z, statistic='kruskal', n_resamples=5001, rng=9)\n"
        "d = permutation_test(x[:12], y[:12], permutation_type='samples', statistic='median')\n"
        "result = [v for res in (a, b, c, d) for v in (res.pvalue, res.null_distribution)]\n"
    )
    for u, w in zip(run_with_threads(code, 1), run_with_threads(code, 2)):
        assert_array_equal(u, w)


def test_nan_policy():
    x, y = _data(14, 8)
    X, Y = np.column_stack([x, x]), np.column_stack([y, y])
    X[2, 1] = np.nan
    for kw in _BATCH:
        prop = permutation_test(X, Y, rng=1, **kw)
        assert np.isnan(prop.pvalue[1]) and np.isnan(prop.null_distribution[:, 1]).all()
        omit = permutation_test(X, Y, nan_policy="omit", rng=1, **kw)
        keep = np.arange(8) != 2
        alone = permutation_test(x[keep], y[keep], rng=1, **kw)
        assert omit.pvalue[1] == alone.pvalue and omit.pvalue[0] == prop.pvalue[0]
        assert_array_equal(omit.null_distribution[: alone.n_resamples, 1], alone.null_distribution)
        with pytest.raises(ValueError, match="`x` contains NaN"):
            permutation_test(X, Y, nan_policy="raise", **kw)
    z = np.r_[x[:3], np.nan]
    omit = permutation_test(x, y, z, statistic="f_oneway", nan_policy="omit", rng=1)
    assert omit.pvalue == permutation_test(x, y, z[:3], statistic="f_oneway", rng=1).pvalue
    assert np.isnan(permutation_test(x, y, z, statistic="f_oneway", rng=1).pvalue)


# ---- input validation ---------------------------------------------------------------------------------

def test_permutation_test_designs_iv():
    x, y = np.arange(5.0), np.arange(5.0) ** 2
    with pytest.raises(ValueError, match="`permutation_type` must be one of 'independent', 'samples', 'pairings'"):
        permutation_test(x, y, permutation_type="paired")
    with pytest.raises(TypeError, match="`permutation_type` must be one of"):
        permutation_test(x, y, permutation_type=1)
    with pytest.raises(ValueError, match="`permutation_type` 'samples' takes two samples"):
        permutation_test(x, y, x, permutation_type="samples")
    for ptype in ("samples", "pairings"):
        stat = "mean" if ptype == "samples" else "correlation"
        with pytest.raises(ValueError, match=r"`x` and `y` must have the same length \(pairs\).*got 5 and 4"):
            permutation_test(x, y[:4], permutation_type=ptype, statistic=stat)
    with pytest.raises(TypeError, match=r"`more_samples\[0\]` must be a sample.*keyword-only"):
        permutation_test(x, y, "median")
    with pytest.raises(ValueError, match="`statistic` 'mean' compares two samples; with 3 samples"):
        permutation_test(x, y, x, statistic="mean")
    with pytest.raises(ValueError, match="`statistic` 'median' compares two samples"):
        permutation_test(x, y, x, statistic="median")
    with pytest.raises(ValueError, match="`statistic` must be 'mean' or 'median' or a jitted function for "
                                         "permutation_type='samples'; got 'correlation'"):
        permutation_test(x, y, permutation_type="samples", statistic="correlation")
    with pytest.raises(ValueError, match="`statistic` must be 'correlation' or a jitted"):
        permutation_test(x, y, permutation_type="pairings", statistic="mean")
    with pytest.raises(ValueError, match="`statistic` must be 'f_oneway' or 'kruskal'"):
        permutation_test(x, y, x, statistic="correlation")
    with pytest.raises(TypeError, match=r"a jitted function f\(pooled, sizes\).*@njit; got a plain Python callable"):
        permutation_test(x, y, x, statistic=lambda p, s: 0.0)
    with pytest.raises(TypeError, match=r"f\(x, y\) -> float \(y re-paired\), decorated with @njit; got None"):
        permutation_test(x, y, permutation_type="pairings", statistic=None)
    with pytest.raises(ValueError, match="`y` is constant: its correlation is undefined"):
        permutation_test(x, np.ones(5), permutation_type="pairings", statistic="correlation")
    with pytest.raises(ValueError, match="`x` is constant in column 1"):
        permutation_test(np.c_[x, np.ones(5)], np.c_[y, y], permutation_type="pairings", statistic="correlation")
    with pytest.raises(ValueError, match=r"`x` and `more_samples\[0\]` must have the same number of dimensions"):
        permutation_test(x, y, np.ones((2, 2)), statistic="kruskal")
    with pytest.raises(ValueError, match=r"`x` and `more_samples\[1\]` must have the same number of columns"):
        permutation_test(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 3)), statistic="kruskal")
    with pytest.raises(ValueError, match=r"`more_samples\[0\]` must be finite; it contains inf"):
        permutation_test(x, y, np.r_[1.0, np.inf], statistic="f_oneway")
    with pytest.raises(ValueError, match="the paired differences `x` - `y` overflowed"):
        permutation_test(np.r_[1e308, 1.0], np.r_[-1e308, 0.0], permutation_type="samples")
    with pytest.raises(ValueError, match="`alternative` must be one of"):
        permutation_test(x, y, permutation_type="samples", alternative="both")
    with pytest.raises(ValueError, match="`n_resamples`"):
        permutation_test(x, y, permutation_type="samples", n_resamples=0)
    with pytest.raises(ValueError, match="`axis` must be in"):
        permutation_test(x, y, permutation_type="samples", axis=1)
    with pytest.raises(ValueError, match="`nan_policy` must be one of"):
        permutation_test(x, y, permutation_type="samples", nan_policy="drop")


def test_non_finite_custom_statistic_is_refused():
    x, y = np.arange(6.0), np.arange(6.0)[::-1].copy()
    x[0] = -999.0  # NaN whenever pair 0 is swapped
    with pytest.raises(ValueError, match="`statistic` returned a non-finite value"):
        permutation_test(x, y, permutation_type="samples", statistic=_jit_mean_diff)


# ---- properties ---------------------------------------------------------------------------------------

_pairs = st.integers(2, 9).flatmap(
    lambda n: st.tuples(st.lists(st.integers(-6, 6), min_size=n, max_size=n),
                        st.lists(st.integers(-6, 6), min_size=n, max_size=n)))


@settings(max_examples=15, deadline=None)
@given(_pairs, st.sampled_from(["mean", "median"]), st.randoms(use_true_random=False))
def test_property_sign_flip_symmetry_and_pair_order(pairs, stat, rnd):
    # swapping x and y negates the statistic and exchanges "less" and "greater" (exact mode; integers /
    # 4 so ties are exact decimal ties); reordering the pairs changes nothing
    x, y = np.array(pairs[0]) / 4.0, np.array(pairs[1]) / 4.0
    kw = dict(permutation_type="samples", statistic=stat)
    a = permutation_test(x, y, alternative="less", **kw)
    b = permutation_test(y, x, alternative="greater", **kw)
    assert a.exact and a.pvalue == b.pvalue and a.statistic == -b.statistic
    order = list(range(x.size))
    rnd.shuffle(order)
    for alt in ALTS:
        c = permutation_test(x, y, alternative=alt, **kw)
        assert c.pvalue == permutation_test(x[order], y[order], alternative=alt, **kw).pvalue
        assert c.pvalue == _scipy((x, y), _mean_diff if stat == "mean" else _median_of_diffs, "samples", alt).pvalue


@settings(max_examples=20, deadline=None)
@given(_pairs, st.randoms(use_true_random=False))
def test_property_pairings_invariant_to_pair_order_and_sign(pairs, rnd):
    x, y = np.array(pairs[0], dtype=float), np.array(pairs[1], dtype=float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        x, y = x + np.arange(x.size), y - np.arange(y.size) ** 2  # correlation needs spread
    kw = dict(permutation_type="pairings", statistic="correlation", n_resamples=10**6)  # exact up to 9!
    order = list(range(x.size))
    rnd.shuffle(order)
    a = permutation_test(x, y, alternative="greater", **kw)
    assert a.pvalue == permutation_test(x[order], y[order], alternative="greater", **kw).pvalue
    assert a.pvalue == permutation_test(x, -y, alternative="less", **kw).pvalue
    assert a.exact and -1 - 1e-12 <= a.statistic <= 1 + 1e-12
