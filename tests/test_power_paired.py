"""simulate_power's paired designs (issue 17): paired t, Wilcoxon signed-rank, sign-flip permutation.

References: statsmodels' TTestPower (4 SE), NumPy replays of the same streams run through
scipy.stats.ttest_1samp / wilcoxon / permutation_test (identical rejection counts), calibration
under the null, threads, and slicing into units.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_array_equal
from scipy import stats
from statsmodels.stats.power import TTestPower

import simengine as se
from simengine import _long, power, simulate_power
from simengine._rng import as_seed_sequence, n_blocks, numpy_block_generators
from simengine.power import SAMPLE_BLOCK, SUFFSTAT_BLOCK

_CENTRE = {"normal": 0.0, "lognormal": math.exp(0.5), "exponential": 1.0}
_SD = {"normal": 1.0, "lognormal": math.sqrt((math.e - 1) * math.e), "exponential": 1.0}


def _replay_differences(d, n, n_sims, seed, dist, each):
    """The full-sample kernels' streams in NumPy: per replicate, `each(g, differences)`."""
    shift = d * _SD[dist] - _CENTRE[dist]
    out = []
    for b, g in enumerate(numpy_block_generators(as_seed_sequence(seed), n_blocks(n_sims, SAMPLE_BLOCK))):
        for _ in range(b * SAMPLE_BLOCK, min((b + 1) * SAMPLE_BLOCK, n_sims)):
            if dist == "normal":
                x = np.array([g.standard_normal() for _ in range(n)]) + shift
            elif dist == "lognormal":
                x = np.array([math.exp(g.standard_normal()) for _ in range(n)]) + shift
            else:
                x = np.array([g.standard_exponential() for _ in range(n)]) + shift
            out.append(each(g, x))
    return np.array(out)


@pytest.mark.parametrize("alt", ["two-sided", "greater"])
def test_paired_t_matches_statsmodels_ttestpower(alt):
    # exact sufficient statistics: within 4 SE of the noncentral-t power at every n and effect size
    ns = np.array([5, 12, 30, 80])
    for d in (0.2, 0.6):
        res = simulate_power(test="paired_t", effect_size=d, n=ns, n_sims=20_000, alternative=alt, rng=21)
        ref = TTestPower().power(d, ns, 0.05, alternative={"two-sided": "two-sided", "greater": "larger"}[alt])
        assert (np.abs(res.power - ref) <= 4 * np.sqrt(ref * (1 - ref) / 20_000)).all()


def test_paired_t_normal_equals_numpy_replay():
    n, n_sims, d, seed = 15, 6000, 0.4, 3
    res = simulate_power(test="paired_t", effect_size=d, n=n, n_sims=n_sims, rng=seed)
    crit = stats.t.isf(0.025, n - 1)
    hits = 0
    for b, g in enumerate(numpy_block_generators(as_seed_sequence(seed), n_blocks(n_sims, SUFFSTAT_BLOCK))):
        for _ in range(b * SUFFSTAT_BLOCK, min((b + 1) * SUFFSTAT_BLOCK, n_sims)):
            m = d + g.standard_normal() / math.sqrt(n)
            s = g.chisquare(n - 1.0)
            hits += abs(m / math.sqrt(s / (n - 1.0) / n)) >= crit
    assert res.power == hits / n_sims


def test_paired_t_samples_equal_scipy_replay():
    n, n_sims, d = 9, 400, 0.5
    res = simulate_power(test="paired_t", effect_size=d, n=n, n_sims=n_sims, distribution="lognormal", rng=4)
    p = _replay_differences(d, n, n_sims, 4, "lognormal", lambda g, x: stats.ttest_1samp(x, 0.0).pvalue)
    assert res.power == np.mean(p <= 0.05)


@pytest.mark.parametrize("n,alt", [(11, "two-sided"), (60, "two-sided"), (20, "greater")])
def test_wilcoxon_equals_scipy_replay(n, alt):
    # scipy's defaults: exact null distribution for n <= 50 (no zeros or ties), else the normal
    # approximation without continuity correction; identical rejections at three levels
    n_sims, d, seed = 400, 0.3, 5
    p = _replay_differences(d, n, n_sims, seed, "exponential",
                            lambda g, x: stats.wilcoxon(x, alternative=alt).pvalue)
    for alpha in (0.01, 0.05, 0.2):
        res = simulate_power(test="wilcoxon", effect_size=d, n=n, n_sims=n_sims, distribution="exponential",
                             alpha=alpha, alternative=alt, rng=seed)
        assert res.power == np.mean(p <= alpha)


def test_wilcoxon_pvalues_equal_scipy_with_zeros_and_ties():
    # the p-value rule on its own: exact, and the normal approximation when zeros or ties occur
    rng = np.random.default_rng(0)
    cases = [rng.normal(size=12), rng.normal(size=70), np.round(rng.normal(size=25), 1),
             np.r_[0.0, 0.0, rng.normal(size=20)]]
    from simengine.kernels.power import _signed_rank1

    for alt in ("two-sided", "less", "greater"):
        for x in cases:
            n = x.size
            r, c, tie = _signed_rank1(x, np.empty(n), np.empty(n), np.empty(n))
            ours = power._wilcoxon_pvalue(np.array([[r]]), np.array([[c]]), np.array([[tie]]), np.array([n]), alt)
            method = "auto" if (c == n and tie == 0.0) or n > 13 else "asymptotic"
            ref = stats.wilcoxon(x, alternative=alt, method=method).pvalue
            np.testing.assert_allclose(ours[0, 0], ref, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("n,n_resamples,alt", [(7, 200, "two-sided"), (9, 99, "less")])
def test_paired_permutation_equals_scipy_replay(n, n_resamples, alt):
    # exact (2**7 <= 200): scipy.stats.permutation_test's own p-value on the same differences; randomised
    # (2**9 > 99): the same sign patterns (a flip where a uniform draw is < 0.5) replayed in NumPy
    n_sims, d, seed = 300, 0.5, 6
    res = simulate_power(test="paired_permutation", effect_size=d, n=n, n_sims=n_sims, n_resamples=n_resamples,
                         distribution="exponential", alternative=alt, rng=seed)
    exact = 2**n <= n_resamples

    def pvalue(g, x):
        if exact:
            return stats.permutation_test((x,), np.mean, permutation_type="samples", n_resamples=n_resamples,
                                          alternative=alt).pvalue
        signs = np.where(g.random((n_resamples, n)) < 0.5, -1.0, 1.0)
        null = (signs * x).sum(axis=1) / n
        obs = x.sum() / n
        gamma = max(abs(100 * 2.0**-52 * obs), 4 * (n + 1) * 2.0**-52 * np.abs(x).max())
        less = (np.sum(null <= obs + gamma) + 1) / (n_resamples + 1)
        return less if alt == "less" else min(2 * min(less, (np.sum(null >= obs - gamma) + 1) / (n_resamples + 1)), 1)

    p = _replay_differences(d, n, n_sims, seed, "exponential", pvalue)
    assert res.power == np.mean(p <= 0.05)


def _wilcoxon_size(n, alpha):
    """Exact rejection rate of the exact two-sided signed-rank test under the null."""
    pmf = power._signed_rank_pmf(n)
    cdf = np.cumsum(pmf)
    p = np.minimum(2 * np.minimum(cdf, cdf[::-1]), 1.0)  # symmetric null: sf(k) = cdf(N - k)
    return pmf[p <= alpha].sum()


@pytest.mark.parametrize("test,n_sims", [("paired_t", 40_000), ("wilcoxon", 4000), ("paired_permutation", 2000)])
def test_paired_tests_calibrated_under_null(test, n_sims):
    # symmetric (normal) differences, effect 0: rejection rate = the test's size within 4 SE; the exact
    # Wilcoxon test's size at n = 30 is the null mass of its rejection region (just below alpha), the
    # randomised sign-flip test's is floor(alpha (B + 1)) / (B + 1) = alpha for B = 199
    n = 30
    res = simulate_power(test=test, effect_size=0.0, n=n, n_sims=n_sims, n_resamples=199, rng=9)
    size = _wilcoxon_size(n, 0.05) if test == "wilcoxon" else 0.05
    assert abs(res.power - size) <= 4 * math.sqrt(size * (1 - size) / n_sims)


def test_paired_effect_direction_and_monotone_in_n():
    for test in ("paired_t", "wilcoxon", "paired_permutation"):
        up = simulate_power(test=test, effect_size=0.8, n=[6, 20], n_sims=400, alternative="greater", n_resamples=99,
                            rng=1)
        down = simulate_power(test=test, effect_size=0.8, n=20, n_sims=400, alternative="less", n_resamples=99, rng=1)
        assert up.power[1] > up.power[0] and up.power[1] > 0.8 and down.power <= 0.02


# the paired designs' 1-vs-2-thread check runs in tests/test_power.py's threads test (one pair of interpreters)


UNIT_CALLS = {
    "paired_t": dict(test="paired_t", distribution="exponential", n=[5, 8], n_sims=610),
    "wilcoxon": dict(test="wilcoxon", n=[7, 12], n_sims=610, alternative="less"),
    "paired_permutation": dict(test="paired_permutation", n=[3, 6], n_sims=607, n_resamples=9, alternative="greater"),
}


@pytest.mark.parametrize("name", list(UNIT_CALLS))
def test_paired_units_and_slices_give_identical_results(monkeypatch, name):
    kw = dict(effect_size=0.4, rng=12, **UNIT_CALLS[name])
    whole = simulate_power(**kw).to_dict()
    monkeypatch.setattr(power, "_unit_size", lambda seconds, block: 60)
    monkeypatch.setattr(power, "_GROUP_PER_THREAD", 1)
    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)
    monkeypatch.setattr(power, "run_blocks", lambda *a, **k: _long.run_blocks(*a, **{**k, "first": 1}))
    sliced = simulate_power(**kw).to_dict()
    assert whole.keys() == sliced.keys()
    for key in whole:
        assert_array_equal(np.asarray(whole[key]), np.asarray(sliced[key]), err_msg=key)


def test_simulate_power_paired_iv():
    with pytest.raises(ValueError, match="`test` must be one of .*'paired_t', 'wilcoxon', 'paired_permutation'"):
        simulate_power(test="paired", effect_size=0.2, n=10)
    with pytest.raises(ValueError, match="`n` must be >= 2"):
        simulate_power(test="wilcoxon", effect_size=0.2, n=[10, 1])
    with pytest.raises(ValueError, match="`n_resamples` must be an integer >= 1"):
        simulate_power(test="paired_permutation", effect_size=0.2, n=10, n_resamples=0)
    with pytest.raises(ValueError, match="`distribution` must be one of"):
        simulate_power(test="paired_t", effect_size=0.2, n=10, distribution="t3")
    with pytest.raises(ValueError, match=r"`n_sims` x `n` x `n_resamples`"):
        simulate_power(test="paired_permutation", effect_size=0.2, n=10**6, n_sims=10**6, n_resamples=10**6)


def test_paired_results_follow_the_protocol():
    res = se.simulate_power(test="wilcoxon", effect_size=0.5, n=[8, 16], n_sims=200, rng=0)
    frame = res.to_frame()
    assert list(frame["n"]) == [8, 16] and set(frame["test"]) == {"wilcoxon"}
    assert list(frame.columns[:2]) == ["power", "power_se"]


def test_paired_power_agrees_with_the_naive_scipy_loop():
    # independent streams: the two estimates differ by less than 4 SE of their difference
    from simengine import naive

    ref = naive.paired_power_loop("wilcoxon", 0.5, 16, n_sims=300, rng=2)
    ours = simulate_power(test="wilcoxon", effect_size=0.5, n=16, n_sims=4000, rng=2).power
    assert abs(ours - ref) <= 4 * math.sqrt(ref * (1 - ref) / 300 + ours * (1 - ours) / 4000)


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30),
       test=st.sampled_from(["paired_t", "wilcoxon", "paired_permutation"]),
       alt=st.sampled_from(["two-sided", "less", "greater"]))
def test_property_power_grows_with_alpha_on_the_same_draws(seed, n, test, alt):
    # the same seed gives the same p-values, so a larger alpha rejects a superset
    kw = dict(test=test, effect_size=0.3, n=n, n_sims=60, n_resamples=19, alternative=alt, rng=seed)
    powers = [simulate_power(alpha=a, **kw).power for a in (0.02, 0.2)]
    assert powers == sorted(powers)
