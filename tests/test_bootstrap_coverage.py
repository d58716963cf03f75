"""simulate_bootstrap_coverage (issue 17): NumPy replay, known coverage, BCa vs percentile, threads, slicing."""
import importlib
import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import special, stats

from simengine import _long, naive
from simengine.bootstrap import simulate_bootstrap_coverage

# the module, not the function `simengine.bootstrap` that its package attribute names
bootstrap = importlib.import_module("simengine.bootstrap")


@pytest.mark.parametrize(
    "dist,n,statistic",
    [("normal", 10, "mean"), ("exponential", 9, "median"), ("lognormal", 10, ("quantile", 0.3)), ("t3", 7, "mean"),
     (("bernoulli", 0.2), 5, "mean"), ("lognormal", 12, "var"), ("t3", 8, "std")],
)
def test_coverage_equals_numpy_replay(dist, n, statistic):
    # 70 replicates: two whole blocks of 32 and a short one; Bernoulli samples of one value give NaN BCa ends
    kw = dict(n_resamples=99, n_sims=70, rng=3)
    res = simulate_bootstrap_coverage(distribution=dist, n=n, statistic=statistic, **kw)
    name, p = (dist, 0.5) if isinstance(dist, str) else dist
    ivs = naive.bootstrap_coverage_replay(name, n, statistic, p=p, **kw)
    truth = res.true_value[0] if isinstance(res.true_value, np.ndarray) else res.true_value
    for k, m in enumerate(("percentile", "basic", "BCa")):
        low, high = ivs[m]
        bad = np.isnan(low) | np.isnan(high)
        assert res.method[k] == m and res.n_nan[k] == bad.sum()
        assert res.coverage[k] == np.mean((low <= truth) & (truth <= high))
        assert_allclose(res.width[k], np.mean((high - low)[~bad]), rtol=1e-12)
    if dist == ("bernoulli", 0.2):
        assert res.n_nan[2] > 0 and res.n_nan[0] == 0


def test_percentile_coverage_of_normal_mean_matches_its_large_b_limit():
    # Reference: for normal data the bootstrap distribution of the mean is close to N(xbar, s_n^2 / n), s_n the
    # plug-in SD (divisor n), so the B -> inf percentile interval xbar -/+ z s_n / sqrt(n) covers mu when
    # |t_{n-1}| <= z sqrt((n - 1) / n): coverage 2 F_{n-1}(z sqrt((n-1)/n)) - 1 (0.906 at n = 10, 0.939 at 40).
    # Its neglected terms (the bootstrap distribution's skewness and kurtosis, O(1/n)) and B = 199's noisy
    # order statistics (about -z phi(z) p (1 - p) / (B phi(z)^2) = -0.004 for both ends together) stay far
    # below the 4 SE tolerance (0.03 at n = 10).
    ns = np.array([10, 40])
    res = simulate_bootstrap_coverage(distribution="normal", n=ns, statistic="mean", methods=("percentile",),
                                      n_resamples=199, n_sims=1500, rng=7)
    z = special.ndtri(0.975)
    ref = 2 * stats.t.cdf(z * np.sqrt((ns - 1) / ns), ns - 1) - 1
    se = np.sqrt(ref * (1 - ref) / 1500)
    assert (np.abs(res.coverage - ref) <= 4 * se).all(), (res.coverage, ref)
    assert_allclose(res.coverage_se, np.sqrt(res.coverage * (1 - res.coverage) / 1500))


def test_bca_covers_exponential_mean_at_least_as_well_as_percentile():
    # the same samples for both methods; a one-sided check within 4 SE of the difference (taken as
    # independent, which overstates it: the two share every sample)
    res = simulate_bootstrap_coverage(distribution="exponential", n=20, statistic="mean",
                                      methods=("percentile", "BCa"), n_resamples=199, n_sims=2000, rng=5)
    pct, bca = res.coverage
    assert bca >= pct - 4 * math.hypot(*res.coverage_se)
    assert pct < 0.95 and res.true_value == 1.0


def test_bootstrap_coverage_reproducible_across_threads():
    from _subproc import run_with_threads

    code = (
        "from simengine.bootstrap import simulate_bootstrap_coverage as f\n"
        "a = f(distribution='lognormal', n=[8, 15], statistic='mean', n_resamples=49, n_sims=150, rng=2)\n"
        "b = f(distribution='t3', n=9, statistic='median', n_resamples=49, n_sims=100, rng=2)\n"
        "result = (a.coverage, a.width, b.coverage, b.width)\n"
    )
    # this process against one child with the other thread count (each child costs an interpreter start)
    here = {}
    exec(code, here)
    threads = numba.get_num_threads()
    other = run_with_threads(code, 2 if threads == 1 else 1)
    for a, b in zip(here["result"], other):
        assert_array_equal(a, b)


def test_slicing_never_changes_a_number(monkeypatch):
    kw = dict(distribution="exponential", n=[6, 11], statistic="median", n_resamples=29, n_sims=75, rng=4)
    whole = simulate_bootstrap_coverage(**kw).to_dict()
    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)
    monkeypatch.setattr(bootstrap, "run_blocks", lambda *a, **k: _long.run_blocks(*a, **{**k, "first": 5}))
    sliced = simulate_bootstrap_coverage(**kw).to_dict()
    for key in whole:
        assert_array_equal(np.asarray(whole[key]), np.asarray(sliced[key]), err_msg=key)


def test_result_shapes_and_frame():
    one = simulate_bootstrap_coverage(distribution="normal", n=12, statistic="median", methods=("basic",),
                                      n_resamples=19, n_sims=40, rng=1)
    assert isinstance(one.coverage, float) and one.method == "basic" and one.n == 12
    frame = simulate_bootstrap_coverage(distribution="normal", n=[5, 9], statistic="mean", n_resamples=19,
                                        n_sims=40, rng=1).to_frame()
    assert list(frame.columns) == ["method", "n", "coverage", "coverage_se", "width", "width_se", "n_nan"]
    assert list(frame["n"]) == [5, 5, 5, 9, 9, 9] and list(frame["method"][:3]) == ["percentile", "basic", "BCa"]


def test_true_values():
    f = bootstrap._true_value
    assert f("lognormal", 0.5, "median", 0.5) == 1.0 and f("exponential", 0.5, "median", 0.5) == math.log(2)
    assert f("t3", 0.5, "q", 0.9) == pytest.approx(stats.t.ppf(0.9, 3), rel=1e-12)
    assert f("bernoulli", 0.3, "mean", math.nan) == 0.3 and f("bernoulli", 0.3, "median", 0.5) == 0.0
    assert f("lognormal", 0.5, "var", math.nan) == pytest.approx(stats.lognorm(1.0).var(), rel=1e-12)
    assert f("t3", 0.5, "std", math.nan) == pytest.approx(stats.t(3).std(), rel=1e-12)


@numba.njit
def _normal_sampler(g, x):  # the built-in "normal" draws, one standard normal per value
    for j in range(x.shape[0]):
        x[j] = g.standard_normal()


@numba.njit
def _exponential_sampler(g, x):  # the built-in "exponential" draws (inversion of one uniform)
    for j in range(x.shape[0]):
        x[j] = -math.log1p(-g.random())


@pytest.mark.parametrize("sampler, name, statistic, truth", [
    (_normal_sampler, "normal", "mean", 0.0),
    (_exponential_sampler, "exponential", "median", math.log(2.0)),
])
def test_a_jitted_sampler_runs_the_same_simulation_as_the_distribution_it_draws(sampler, name, statistic, truth):
    kw = dict(n=[6, 11], statistic=statistic, n_resamples=59, n_sims=70, rng=5)
    builtin = simulate_bootstrap_coverage(distribution=name, **kw)
    custom = simulate_bootstrap_coverage(distribution=sampler, true_value=truth, **kw)
    assert builtin.true_value == pytest.approx(truth, rel=1e-15)
    for field in ("coverage", "coverage_se", "width", "width_se", "n_nan"):
        assert_array_equal(getattr(custom, field), getattr(builtin, field))
    assert custom.distribution == sampler.__name__


def test_simulate_bootstrap_coverage_iv():
    kw = dict(distribution="normal", n=10, statistic="mean")
    with pytest.raises(ValueError, match="`distribution` must be one of"):
        simulate_bootstrap_coverage(**{**kw, "distribution": "cauchy"})
    with pytest.raises(ValueError, match=r'`distribution` as a tuple must be \("bernoulli", p\)'):
        simulate_bootstrap_coverage(**{**kw, "distribution": ("poisson", 2.0)})
    with pytest.raises(ValueError, match="`distribution` must be in"):
        simulate_bootstrap_coverage(**{**kw, "distribution": ("bernoulli", 1.0)})
    with pytest.raises(TypeError, match="`distribution` must be a name"):
        simulate_bootstrap_coverage(**{**kw, "distribution": 3})
    with pytest.raises(TypeError, match="`distribution` must be a name"):
        simulate_bootstrap_coverage(**{**kw, "distribution": lambda g, x: None})  # not jitted
    with pytest.raises(ValueError, match="`true_value` .* is required"):
        simulate_bootstrap_coverage(**{**kw, "distribution": _normal_sampler})
    with pytest.raises(ValueError, match="`true_value` is given only with a sampler"):
        simulate_bootstrap_coverage(**kw, true_value=0.0)
    with pytest.raises(TypeError, match="`true_value` must be"):
        simulate_bootstrap_coverage(**{**kw, "distribution": _normal_sampler}, true_value="0")

    @numba.njit
    def wrong(g):  # not sampler(g, x)
        return g.random()

    with pytest.raises(TypeError, match="`distribution` as a sampler must be a jitted function sampler"):
        simulate_bootstrap_coverage(**{**kw, "distribution": wrong}, true_value=0.0)
    with pytest.raises(ValueError, match="`statistic` must be one of"):
        simulate_bootstrap_coverage(**{**kw, "statistic": "mode"})
    with pytest.raises(ValueError, match=r'`statistic` as a tuple must be \("quantile", q\)'):
        simulate_bootstrap_coverage(**{**kw, "statistic": ("trimmed", 0.1)})
    with pytest.raises(ValueError, match="`statistic` must be in"):
        simulate_bootstrap_coverage(**{**kw, "statistic": ("quantile", 1.5)})
    with pytest.raises(ValueError, match="infinite or its support's end"):
        simulate_bootstrap_coverage(**{**kw, "statistic": ("quantile", 1.0)})
    with pytest.raises(ValueError, match="is not unique"):
        simulate_bootstrap_coverage(**{**kw, "distribution": "bernoulli", "statistic": "median"})
    with pytest.raises(ValueError, match="`n` must be >= 2"):
        simulate_bootstrap_coverage(**{**kw, "n": [10, 1]})
    with pytest.raises(ValueError, match="`n` must not be empty"):
        simulate_bootstrap_coverage(**{**kw, "n": []})
    with pytest.raises(ValueError, match="`methods` must be one of"):
        simulate_bootstrap_coverage(**kw, methods=("studentized",))
    with pytest.raises(ValueError, match="`methods` must name at least one"):
        simulate_bootstrap_coverage(**kw, methods=())
    with pytest.raises(TypeError, match="`methods` must be a method name or a sequence"):
        simulate_bootstrap_coverage(**kw, methods=3)
    with pytest.raises(ValueError, match="`confidence_level` must be in"):
        simulate_bootstrap_coverage(**kw, confidence_level=1.0)
    with pytest.raises(ValueError, match="`n_resamples` must be an integer >= 1"):
        simulate_bootstrap_coverage(**kw, n_resamples=0)
    with pytest.raises(ValueError, match="`n_sims` must be an integer >= 1"):
        simulate_bootstrap_coverage(**kw, n_sims=0)
    with pytest.raises(ValueError, match="`n_sims` x `n` x `n_resamples`"):
        simulate_bootstrap_coverage(**kw, n_sims=10**9, n_resamples=10**6)
    with pytest.raises(TypeError, match="`rng` must be None"):
        simulate_bootstrap_coverage(**kw, rng=1.5)
    with pytest.raises(TypeError, match="`progress` must be None, True or False"):
        simulate_bootstrap_coverage(**kw, progress="on")


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 9), which=st.sampled_from(["mean", "median", "var"]),
       subset=st.sampled_from([("percentile",), ("basic",), ("BCa",), ("BCa", "percentile")]))
def test_property_methods_share_the_samples(seed, n, which, subset):
    # common random numbers: a subset of the methods gives exactly the rows of the full call
    kw = dict(distribution="lognormal", n=n, statistic=which, n_resamples=19, n_sims=35, rng=seed)
    full = simulate_bootstrap_coverage(**kw).to_frame().set_index("method")
    part = simulate_bootstrap_coverage(methods=subset, **kw).to_frame().set_index("method")
    assert_array_equal(part.to_numpy(), full.loc[list(subset)].to_numpy())
