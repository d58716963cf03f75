"""Tests for simulate_peeking and group_sequential_boundaries.

References: Jennison & Turnbull (2000) Tables 2.1 / 2.3 for boundary constants, multivariate normal
probabilities (scipy) as a second exact method, scipy.stats.ttest_ind and statsmodels' proportions_ztest on
per-visitor data replayed from the same block generators, and a per-visitor Monte Carlo.
"""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

import simengine
from _subproc import run_with_threads
from simengine import group_sequential_boundaries, simulate_peeking
from simengine._rng import as_seed_sequence, n_blocks, numpy_block_generators
from simengine.kernels import sequential as K
from simengine.naive import peeking_per_visitor, peeking_vectorised_binary
from simengine.sequential import BLOCK, _crossing_probabilities


def within_4se(a, b, se):
    assert abs(a - b) <= 4.0 * se, f"{a} vs {b}: |diff| = {abs(a - b):.5f} > 4 SE = {4 * se:.5f}"


# ---------------------------------------------------------------------------------------------- boundaries

# Jennison & Turnbull (2000), Table 2.1 (Pocock C_P(K, alpha)) and Table 2.3 (O'Brien-Fleming C_B(K, alpha)),
# two-sided alpha = 0.05, equal group sizes; three decimals.
POCOCK_JT = {2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413, 10: 2.555}
OBF_JT = {2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040}


@pytest.mark.parametrize("n_looks, value", sorted(POCOCK_JT.items()))
def test_pocock_matches_jennison_turnbull_table_2_1(n_looks, value):
    c = group_sequential_boundaries(n_looks, alpha=0.05, kind="pocock")
    assert c.shape == (n_looks,)
    assert_allclose(c, value, atol=5.5e-4)  # the table is rounded to 3 decimals
    assert np.ptp(c) == 0.0


@pytest.mark.parametrize("n_looks, value", sorted(OBF_JT.items()))
def test_obrien_fleming_matches_jennison_turnbull_table_2_3(n_looks, value):
    c = group_sequential_boundaries(n_looks, alpha=0.05, kind="obrien-fleming")
    assert_allclose(c[-1], value, atol=5.5e-4)
    assert_allclose(c, c[-1] * np.sqrt(n_looks / np.arange(1, n_looks + 1)), rtol=1e-12)


def _mvn_any_crossing(crit, t, two_sided):
    """1 - P(no crossing) from the multivariate normal of (Z_1..Z_K), corr sqrt(t_i / t_j): exact, independent."""
    t = np.asarray(t, dtype=float)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    lower = -np.asarray(crit) if two_sided else np.full(len(t), -np.inf)
    mvn = stats.multivariate_normal(mean=np.zeros(len(t)), cov=cov, abseps=1e-8, releps=1e-8, maxpts=2_000_000)
    return 1.0 - mvn.cdf(np.asarray(crit), lower_limit=lower)


@pytest.mark.parametrize(
    "kind, alternative, alpha, information",
    [
        ("pocock", "two-sided", 0.05, None),
        ("obrien-fleming", "two-sided", 0.05, None),
        ("pocock", "one-sided", 0.025, [0.2, 0.5, 1.0]),
        ("obrien-fleming", "two-sided", 0.01, [10, 45, 60]),
        ("obrien-fleming", "greater", 0.1, [1, 2, 5]),
    ],
)
def test_boundaries_spend_alpha_exactly_by_multivariate_normal(kind, alternative, alpha, information):
    # Second exact method: the joint normal of the z statistics; the boundary must spend exactly alpha.
    c = group_sequential_boundaries(3, alpha=alpha, kind=kind, alternative=alternative, information=information)
    t = np.arange(1, 4) / 3 if information is None else np.asarray(information, float) / information[-1]
    assert_allclose(_mvn_any_crossing(c, t, alternative == "two-sided"), alpha, atol=2e-6)
    if kind == "obrien-fleming":
        assert_allclose(c * np.sqrt(t), c[-1], rtol=1e-12)  # c / sqrt(t_k) shape


def test_boundaries_resolution_converged_to_1e_4():
    # Halving the grid step four times over must not move the critical value by more than 1e-6.
    t = np.array([0.1, 0.15, 0.5, 0.55, 1.0])
    for kind in ("pocock", "obrien-fleming"):
        shape = np.ones(5) if kind == "pocock" else 1 / np.sqrt(t)
        from scipy.optimize import brentq

        fine = brentq(lambda c: _crossing_probabilities(c * shape, t, True, resolution=40).sum() - 0.05, 1.9, 4)
        c = group_sequential_boundaries(5, kind=kind, information=t)
        assert abs(c[-1] - fine) < 1e-6


def test_boundaries_by_seeded_simulation():
    # Third method: Brownian motion at unequal looks; any-look crossing rate = alpha within 4 SE.
    rng = np.random.default_rng(20240601)
    info = np.array([1.0, 3.0, 4.0, 8.0])
    t = info / info[-1]
    n = 400_000
    steps = rng.standard_normal((n, 4)) * np.sqrt(np.diff(np.concatenate([[0], t])))
    z = np.cumsum(steps, axis=1) / np.sqrt(t)
    for kind in ("pocock", "obrien-fleming"):
        c = group_sequential_boundaries(4, alpha=0.05, kind=kind, information=info)
        rate = np.mean((np.abs(z) >= c).any(axis=1))
        within_4se(rate, 0.05, math.sqrt(0.05 * 0.95 / n))
        c1 = group_sequential_boundaries(4, alpha=0.05, kind=kind, information=info, alternative="one-sided")
        rate1 = np.mean((z >= c1).any(axis=1))
        within_4se(rate1, 0.05, math.sqrt(0.05 * 0.95 / n))


def test_boundaries_one_look_is_the_fixed_sample_quantile():
    assert_allclose(group_sequential_boundaries(1), stats.norm.isf(0.025), rtol=1e-14)
    assert_allclose(group_sequential_boundaries(1, alternative="greater", alpha=0.1), stats.norm.isf(0.1), rtol=1e-14)
    assert_allclose(group_sequential_boundaries(1, kind="obrien-fleming"), stats.norm.isf(0.025), rtol=1e-14)


def test_repeated_significance_testing_inflation_armitage():
    # Armitage, McPherson & Rowe (1969) / Jennison & Turnbull Table 1.1: nominal 5% two-sided tests at K equal
    # looks give overall error 0.083, 0.107, 0.126, 0.142 (K = 2..5), 0.193 (10), 0.248 (20).
    expected = {2: 0.083, 3: 0.107, 4: 0.126, 5: 0.142, 10: 0.193, 20: 0.248}
    for k, value in expected.items():
        t = np.arange(1, k + 1) / k
        total = _crossing_probabilities(np.full(k, stats.norm.isf(0.025)), t, True).sum()
        assert abs(total - value) < 6e-4


@given(
    n_looks=st.integers(2, 6),
    alpha=st.floats(0.001, 0.3),
    kind=st.sampled_from(["pocock", "obrien-fleming"]),
    two_sided=st.booleans(),
)
@settings(deadline=None, max_examples=15)
def test_boundaries_properties(n_looks, alpha, kind, two_sided):
    alt = "two-sided" if two_sided else "one-sided"
    c = group_sequential_boundaries(n_looks, alpha=alpha, kind=kind, alternative=alt)
    fixed = stats.norm.isf(alpha / 2 if two_sided else alpha)
    # Every boundary is stricter than the fixed-sample test and laxer than Bonferroni.
    assert np.all(c > fixed)
    assert np.all(c[-1] < stats.norm.isf((alpha / 2 if two_sided else alpha) / n_looks))
    assert np.all(np.diff(c) <= 1e-12)
    # More looks need a stricter constant.
    c_more = group_sequential_boundaries(n_looks + 1, alpha=alpha, kind=kind, alternative=alt)
    assert c_more[-1] > c[-1]


def test_group_sequential_boundaries_iv():
    with pytest.raises(TypeError, match="`n_looks` must be an integer"):
        group_sequential_boundaries(2.5)
    with pytest.raises(ValueError, match="`n_looks` must be an integer in"):
        group_sequential_boundaries(0)
    with pytest.raises(ValueError, match="`alpha` must be in"):
        group_sequential_boundaries(3, alpha=1.5)
    with pytest.raises(ValueError, match="`kind` must be one of"):
        group_sequential_boundaries(3, kind="haybittle")
    with pytest.raises(ValueError, match="`alternative` must be one of"):
        group_sequential_boundaries(3, alternative="both")
    with pytest.raises(ValueError, match="`information` must have length"):
        group_sequential_boundaries(3, information=[1, 2])
    with pytest.raises(ValueError, match="`information` must be positive and strictly increasing"):
        group_sequential_boundaries(3, information=[1, 1, 2])
    with pytest.raises(ValueError, match="`information` must be finite"):
        group_sequential_boundaries(2, information=[1, np.nan])
    with pytest.raises(TypeError, match="`information` must contain real numbers"):
        group_sequential_boundaries(2, information=["a", "b"])


# -------------------------------------------------------------------------------------- scalar statistics

def _suff_from_samples(x):
    n = float(len(x))
    return n, float(np.mean(x)), float(np.sum((x - np.mean(x)) ** 2))


@given(
    data=st.data(),
    n_a=st.integers(2, 40),
    n_b=st.integers(2, 40),
    binary=st.booleans(),
    welch=st.booleans(),
    alt=st.sampled_from([0, 1, 2]),
)
@settings(deadline=None, max_examples=60)
def test_look_pvalue_matches_scipy_ttest_ind(data, n_a, n_b, binary, welch, alt):
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if binary:
        a = (rng.random(n_a) < 0.3).astype(float)
        b = (rng.random(n_b) < 0.3).astype(float)
    else:
        a = rng.normal(0, 2, n_a)
        b = rng.normal(0.5, 1, n_b)
    with np.errstate(all="ignore"):
        ref = stats.ttest_ind(b, a, equal_var=not welch, alternative=["two-sided", "less", "greater"][alt])
    assume(not np.isnan(ref.pvalue))
    test = K.TEST_WELCH if welch else K.TEST_T
    stat, df = K._look_statistic1(test, 0, *_suff_from_samples(a), *_suff_from_samples(b), 1.0, 0.0)
    p = K._look_pvalue1(test, alt, stat, df)
    assert_allclose(stat, ref.statistic, rtol=1e-9, atol=1e-12)
    assert_allclose(p, ref.pvalue, rtol=1e-8, atol=1e-14)


def test_merge_moments_is_the_two_pass_variance():
    rng = np.random.default_rng(3)
    x = rng.normal(5, 3, 37)
    n, mean, ssd = 0.0, 0.0, 0.0
    for part in np.split(x, [5, 6, 20]):
        n, mean, ssd = K._merge_moments1(n, mean, ssd, float(len(part)), part.mean(), ((part - part.mean()) ** 2).sum())
    assert_allclose([n, mean, ssd], [37, x.mean(), ((x - x.mean()) ** 2).sum()], rtol=1e-13)


def test_msprt_statistic_is_the_normal_mixture_likelihood_ratio():
    # Lambda = integral of N(d; theta, V) / N(d; 0, V) against N(theta; 0, tau^2), by quadrature.
    from scipy import integrate

    for d, var, tau2 in [(0.3, 0.04, 0.01), (-0.05, 0.001, 0.02), (0.0, 0.5, 2.0)]:
        def integrand(theta):
            return stats.norm.pdf(d, theta, math.sqrt(var)) / stats.norm.pdf(d, 0, math.sqrt(var)) * stats.norm.pdf(
                theta, 0, math.sqrt(tau2))

        lam = integrate.quad(integrand, -np.inf, np.inf, epsabs=0, epsrel=1e-11)[0]
        # Normal metric: V = pooled variance * (1/nA + 1/nB); choose ssd to give `var`.
        n = 10.0
        ssd = var / (2.0 / n) * (2 * n - 2) / 2
        stat, _ = K._look_statistic1(K.TEST_MSPRT, K.METRIC_NORMAL, n, 0.0, ssd, n, d, ssd, 1.0, tau2)
        assert_allclose(math.exp(stat), lam, rtol=1e-8)
    # The look's p-value is 1 / Lambda, capped at 1.
    assert_allclose(K._look_pvalue1(K.TEST_MSPRT, 0, math.log(40.0), math.nan), 1 / 40, rtol=1e-14)
    assert K._look_pvalue1(K.TEST_MSPRT, 0, -2.0, math.nan) == 1.0


# ------------------------------------------------------------------------------------- exact NumPy replay

def _equivalent_samples(look_means, look_ssds, visitors):
    """Per-visitor data with exactly each look's mean and within-look ssd."""
    parts = []
    for mean, ssd, m in zip(look_means, look_ssds, visitors):
        if m == 1:
            parts.append(np.array([mean]))
            continue
        v = np.linspace(-1.0, 1.0, m)
        parts.append(mean + v * math.sqrt(ssd / np.sum(v * v)))
    return parts


def _replay(res, seed, p_a, p_b, test):
    """Replay the kernel's draws in NumPy, build per-visitor data, test with scipy/statsmodels at each look."""
    from statsmodels.stats.proportion import proportions_ztest

    visitors = res.visitors_per_look
    gens = numpy_block_generators(as_seed_sequence(seed), n_blocks(res.n_sims, BLOCK))
    first = np.zeros(res.n_looks, dtype=np.int64)
    final = 0
    for b, g in enumerate(gens):
        for _ in range(b * BLOCK, min((b + 1) * BLOCK, res.n_sims)):
            a_parts, b_parts = [], []
            stopped = False
            for k, m in enumerate(visitors):
                if res.metric == "binary":
                    ca = g.binomial(m, p_a)
                    cb = g.binomial(m, p_b)
                    a_parts.append(np.r_[np.ones(ca), np.zeros(m - ca)])
                    b_parts.append(np.r_[np.ones(cb), np.zeros(m - cb)])
                else:
                    look = []
                    for mu in (p_a, p_b):
                        total = m * mu + res.sd * math.sqrt(m) * g.standard_normal()
                        ssd = res.sd**2 * g.chisquare(m - 1.0) if m > 1 else 0.0
                        look.append(_equivalent_samples([total / m], [ssd], [m])[0])
                    a_parts.append(look[0])
                    b_parts.append(look[1])
                xa, xb = np.concatenate(a_parts), np.concatenate(b_parts)
                with np.errstate(all="ignore"):
                    if test == "z":
                        p = proportions_ztest([xb.sum(), xa.sum()], [len(xb), len(xa)], alternative={
                            "two-sided": "two-sided", "less": "smaller", "greater": "larger"}[res.alternative])[1]
                    else:
                        p = stats.ttest_ind(xb, xa, equal_var=test == "t", alternative=res.alternative).pvalue
                if not stopped and p <= res.nominal_alpha[k]:
                    first[k] += 1
                    stopped = True
                if k == len(visitors) - 1 and p <= res.alpha:
                    final += 1
    return first, final


@pytest.mark.parametrize(
    "kw",
    [
        dict(metric="binary", rate=0.1, lift=0.0, test="t", boundary="none"),
        dict(metric="binary", rate=0.05, lift=0.03, test="welch", boundary="pocock", alternative="greater"),
        dict(metric="binary", rate=0.2, lift=0.0, test="z", boundary="obrien-fleming"),
        dict(metric="normal", mean=1.0, sd=2.0, lift=0.3, test="t", boundary="none", alternative="less"),
        dict(metric="normal", mean=0.0, sd=1.0, lift=0.0, test="welch", boundary="pocock"),
    ],
)
def test_peeking_replays_exactly_with_scipy_on_per_visitor_data(kw):
    seed = 11
    visitors = np.array([7, 1, 12, 20, 5])
    res = simulate_peeking(n_sims=2 * BLOCK + 37, n_looks=5, visitors_per_look=visitors, rng=seed, **kw)
    if kw["metric"] == "binary":
        p_a, p_b = kw["rate"], kw["rate"] + kw["lift"]
    else:
        p_a, p_b = kw["mean"], kw["mean"] + kw["lift"]
    first, final = _replay(res, seed, p_a, p_b, kw["test"])
    assert_array_equal(res.first_rejection_look, first)
    assert round(res.rejected_final * res.n_sims) == final
    assert res.first_rejection_look.sum() > 0


def test_peeking_matches_per_visitor_simulation():
    # Sufficient statistics vs drawing every visitor (independent streams): same distribution within 4 SE.
    kw = dict(n_looks=5, visitors_per_look=30, rate=0.2, lift=0.05)
    res = simulate_peeking(n_sims=40_000, rng=5, **kw)
    n_naive = 1_500
    first, final = peeking_per_visitor(n_naive, 5, 30, rate=0.2, lift=0.05, rng=6)
    any_naive = first.sum() / n_naive
    fin_naive = final / n_naive
    se = math.sqrt(res.rejected_any_look_se**2 + any_naive * (1 - any_naive) / n_naive)
    within_4se(res.rejected_any_look, any_naive, se)
    se = math.sqrt(res.rejected_final_se**2 + fin_naive * (1 - fin_naive) / n_naive)
    within_4se(res.rejected_final, fin_naive, se)
    # The whole-array NumPy baseline used by the benchmarks agrees too.
    first, final = peeking_vectorised_binary(20_000, 5, 30, rate=0.2, lift=0.05, rng=9)
    any_vec = first.sum() / 20_000
    se = math.sqrt(res.rejected_any_look_se**2 + any_vec * (1 - any_vec) / 20_000)
    within_4se(res.rejected_any_look, any_vec, se)
    # normal data, Welch
    res = simulate_peeking(n_sims=40_000, metric="normal", sd=2.0, lift=0.0, test="welch", n_looks=4,
                           visitors_per_look=8, rng=7)
    first, final = peeking_per_visitor(n_naive, 4, 8, metric="normal", sd=2.0, equal_var=False, rng=8)
    any_naive = first.sum() / n_naive
    se = math.sqrt(res.rejected_any_look_se**2 + any_naive * (1 - any_naive) / n_naive)
    within_4se(res.rejected_any_look, any_naive, se)


# ---------------------------------------------------------------------------------------------- calibration

def test_fixed_horizon_and_boundaries_hold_alpha():
    n = 40_000
    for boundary in ("pocock", "obrien-fleming"):
        res = simulate_peeking(n_sims=n, n_looks=6, visitors_per_look=50, metric="normal", test="t",
                               boundary=boundary, rng=21)
        within_4se(res.rejected_final, 0.05, math.sqrt(0.05 * 0.95 / n))
        within_4se(res.rejected_any_look, 0.05, math.sqrt(0.05 * 0.95 / n))
    # The seed scenario: binary t-test, 14 looks of 100; Pocock brings the any-look rate back to alpha.
    res = simulate_peeking(n_sims=n, boundary="pocock", rng=22)
    within_4se(res.rejected_any_look, 0.05, math.sqrt(0.05 * 0.95 / n))
    within_4se(res.rejected_final, 0.05, math.sqrt(0.05 * 0.95 / n))
    res = simulate_peeking(n_sims=n, boundary="obrien-fleming", alternative="greater", rng=23)
    within_4se(res.rejected_any_look, 0.05, math.sqrt(0.05 * 0.95 / n))


def test_nominal_peeking_inflation_matches_integration():
    # Known-sd z-test on normal data is Brownian motion at the looks: any-look rate = the integral, all looks.
    n = 40_000
    for looks in (1, 2, 5, 10):
        res = simulate_peeking(n_sims=n, n_looks=looks, visitors_per_look=10, metric="normal", test="z", rng=looks)
        t = np.arange(1, looks + 1) / looks
        # Z_k does not depend on the time scale, so the cumulative crossing curve of the K-look design is the
        # any-look rate after each look.
        exact = np.cumsum(_crossing_probabilities(np.full(looks, stats.norm.isf(0.025)), t, True))
        for k in range(looks):
            within_4se(res.cumulative_rejection[k], exact[k], math.sqrt(exact[k] * (1 - exact[k]) / n))


def test_power_under_pocock_matches_integration_with_drift():
    # Power of a z-test with unequal looks under a lift: the drift of the score statistic is
    # lift / (sd sqrt(2 / N)), N the final visitors per arm.
    n = 30_000
    visitors = np.array([20, 40, 15, 25])
    lift, sd = 0.4, 1.5
    res = simulate_peeking(n_sims=n, n_looks=4, visitors_per_look=visitors, metric="normal", sd=sd, lift=lift,
                           test="z", boundary="pocock", rng=99)
    t = np.cumsum(visitors) / visitors.sum()
    drift = lift / (sd * math.sqrt(2.0 / visitors.sum()))
    exact = np.cumsum(_crossing_probabilities(res.critical_values, t, True, drift=drift))
    for k in range(4):
        within_4se(res.cumulative_rejection[k], exact[k], math.sqrt(exact[k] * (1 - exact[k]) / n))
    assert res.expected_visitors_per_arm < visitors.sum()


def test_msprt_is_always_valid_and_has_power():
    n = 20_000
    res = simulate_peeking(n_sims=n, n_looks=20, visitors_per_look=50, metric="normal", test="msprt", rng=31)
    assert res.tau is not None and res.tau > 0
    assert np.isnan(res.critical_values).all()
    # Always valid: at most alpha over any number of looks (plug-in variance: 4 SE slack).
    assert res.rejected_any_look <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / n)
    nominal = simulate_peeking(n_sims=n, n_looks=20, visitors_per_look=50, metric="normal", rng=31)
    assert nominal.rejected_any_look > 0.2
    powered = simulate_peeking(n_sims=4000, n_looks=20, visitors_per_look=50, metric="normal", test="msprt",
                               lift=0.25, rng=32)
    assert powered.rejected_any_look > 0.5
    binary = simulate_peeking(n_sims=n, n_looks=14, test="msprt", rng=33)
    assert binary.rejected_any_look <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / n)


# ------------------------------------------------------------------------------------------- edge cases

def test_degenerate_rates_follow_scipy():
    # All-zero (or all-one) arms: t = 0/0 -> nan p -> never rejects (scipy gives nan).
    for rate in (0.0, 1.0):
        for test in ("t", "welch", "z", "msprt"):
            res = simulate_peeking(n_sims=300, n_looks=3, rate=rate, test=test, rng=1)
            assert res.rejected_any_look == 0.0 and res.rejected_final == 0.0
    # A all 0, B all 1: scipy gives t = -inf/inf and p = 0 -> rejects at the first look.
    for test in ("t", "welch", "z", "msprt"):
        res = simulate_peeking(n_sims=300, n_looks=3, rate=0.0, lift=1.0, test=test, rng=1)
        assert_array_equal(res.first_rejection_look, [300, 0, 0])
        assert res.rejected_final == 1.0
    with np.errstate(all="ignore"):
        assert stats.ttest_ind(np.ones(5), np.zeros(5)).pvalue == 0.0
        assert np.isnan(stats.ttest_ind(np.zeros(5), np.zeros(5)).pvalue)


def test_one_look_and_infinite_boundary():
    res = simulate_peeking(n_sims=5000, n_looks=1, metric="normal", boundary="pocock", rng=4)
    assert res.rejected_any_look == res.rejected_final
    assert_allclose(res.critical_values, stats.norm.isf(0.025))
    res = simulate_peeking(n_sims=2000, n_looks=3, metric="normal", lift=5.0, boundary=[np.inf, np.inf, 1.96], rng=4)
    assert_array_equal(res.first_rejection_look[:2], [0, 0])
    assert res.first_rejection_look[2] == 2000
    # Even a p-value of exactly 0 (A all 0, B all 1) does not cross an infinite critical value.
    res = simulate_peeking(n_sims=50, n_looks=3, rate=0.0, lift=1.0, boundary=[np.inf, np.inf, 3.0], rng=4)
    assert_array_equal(res.first_rejection_look, [0, 0, 50])


def test_huge_n_sims_memory_is_bounded():
    code = (
        "import simengine, numpy as np\n"
        "from numba.core.runtime import rtsys\n"
        "simengine.simulate_peeking(n_sims=10, n_looks=2, visitors_per_look=10**6, rng=0)\n"
        "before = rtsys.get_allocation_stats().alloc\n"
        "r = simengine.simulate_peeking(n_sims=600_000, n_looks=2, visitors_per_look=10**6, rng=0)\n"
        "result = (rtsys.get_allocation_stats().alloc - before, r.rejected_final)\n"
    )
    import os

    os.environ["NUMBA_NRT_STATS"] = "1"
    try:
        allocs, rate = run_with_threads(code, 2)
    finally:
        del os.environ["NUMBA_NRT_STATS"]
    # 6e11 visitors per arm in total, 600 000 replicates: the kernel and its set-up allocate only per-block
    # objects (generators, counters), never per replicate or per visitor.
    assert allocs < 600_000 // BLOCK * 4
    within_4se(rate, 0.05, math.sqrt(0.05 * 0.95 / 600_000))


def test_thread_invariance():
    code = (
        "import simengine\n"
        "r = simengine.simulate_peeking(n_sims=3000, n_looks=6, metric='normal', test='welch', "
        "boundary='obrien-fleming', rng=17)\n"
        "result = (r.first_rejection_look.tolist(), r.rejected_final)\n"
    )
    assert run_with_threads(code, 1) == run_with_threads(code, 2)


def test_seed_reproducibility_and_generator():
    a = simulate_peeking(n_sims=1500, rng=3)
    b = simulate_peeking(n_sims=1500, rng=np.random.SeedSequence(3))
    assert_array_equal(a.first_rejection_look, b.first_rejection_look)
    g = np.random.default_rng(0)
    c = simulate_peeking(n_sims=1500, rng=g)
    d = simulate_peeking(n_sims=1500, rng=g)
    assert not np.array_equal(c.first_rejection_look, d.first_rejection_look)


def test_peeking_result_frame_and_fields():
    res = simulate_peeking(n_sims=2000, n_looks=4, visitors_per_look=[10, 20, 30, 40], rng=2)
    df = res.to_frame()
    assert list(df["visitors_per_arm"]) == [10, 30, 60, 100]
    assert_allclose(df["cumulative_rejection"], np.cumsum(res.first_rejection_look) / 2000)
    assert_allclose(df["cumulative_rejection_se"], np.sqrt(df["cumulative_rejection"] * (1 - df["cumulative_rejection"]) / 2000))
    assert res.cumulative_rejection[-1] == res.rejected_any_look
    stops = np.r_[np.repeat([10, 30, 60, 100], res.first_rejection_look), np.full(2000 - res.first_rejection_look.sum(), 100)]
    assert_allclose(res.expected_visitors_per_arm, stops.mean())
    assert_allclose(res.expected_visitors_per_arm_se, stops.std(ddof=1) / math.sqrt(2000))
    assert "first_rejection_look" not in repr(res)
    assert res.to_dict()["boundary"] == "none"


@given(
    looks=st.integers(1, 6),
    m=st.integers(1, 30),
    rate=st.floats(0.0, 1.0),
    test=st.sampled_from(["t", "welch", "z", "msprt"]),
    seed=st.integers(0, 1000),
)
@settings(deadline=None, max_examples=25)
def test_peeking_properties(looks, m, rate, test, seed):
    res = simulate_peeking(n_sims=200, n_looks=looks, visitors_per_look=m, rate=rate, test=test, rng=seed)
    assert res.first_rejection_look.shape == (looks,)
    assert np.all(np.diff(res.cumulative_rejection) >= 0)
    assert 0 <= res.rejected_any_look <= 1 and 0 <= res.rejected_final <= 1
    if test != "msprt":
        # The fixed-horizon test is one of the looks at the same level: it cannot reject more than any-look.
        assert res.rejected_final <= res.rejected_any_look
    # Same draws, same statistics: each one-sided test at alpha/2 rejects a subset of the two-sided test's
    # replicates at alpha, and every two-sided rejection is a rejection of one of them.
    assume(test != "msprt")
    two = simulate_peeking(n_sims=200, n_looks=looks, visitors_per_look=m, rate=rate, test=test, rng=seed,
                           alpha=0.1)
    one = [simulate_peeking(n_sims=200, n_looks=looks, visitors_per_look=m, rate=rate, test=test, rng=seed,
                            alpha=0.05, alternative=alt).first_rejection_look.sum() for alt in ("less", "greater")]
    assert max(one) <= two.first_rejection_look.sum() <= sum(one)


def test_simulate_peeking_iv():
    cases = [
        (TypeError, "`n_sims` must be an integer", dict(n_sims=1.5)),
        (ValueError, "`n_sims` must be an integer >= 1", dict(n_sims=0)),
        (ValueError, "`n_looks` must be an integer in", dict(n_looks=0)),
        (TypeError, "`visitors_per_look` must be an integer or an array", dict(visitors_per_look=2.5)),
        (ValueError, "`visitors_per_look` must be >= 1", dict(visitors_per_look=0)),
        (ValueError, "`visitors_per_look` must have length `n_looks`", dict(n_looks=3, visitors_per_look=[1, 2])),
        (ValueError, "`visitors_per_look` must be >= 1", dict(n_looks=2, visitors_per_look=[1, 0])),
        (ValueError, "`metric` must be one of", dict(metric="poisson")),
        (ValueError, "`rate` must be in", dict(rate=1.5)),
        (ValueError, "`lift` must keep B's rate", dict(rate=0.9, lift=0.2)),
        (ValueError, "`sd` must be in", dict(metric="normal", sd=0.0)),
        (ValueError, "`mean` must be a finite number", dict(metric="normal", mean=np.nan)),
        (ValueError, "`test` must be one of", dict(test="chi2")),
        (ValueError, "`alpha` must be in", dict(alpha=0.0)),
        (ValueError, "`alternative` must be one of", dict(alternative="both")),
        (ValueError, "`alternative` must be 'two-sided' when `test` is 'msprt'", dict(test="msprt", alternative="less")),
        (ValueError, "`boundary` must be one of", dict(boundary="haybittle")),
        (ValueError, "`boundary` must be 'none' when `test` is 'msprt'", dict(test="msprt", boundary="pocock")),
        (ValueError, "`boundary` must have length", dict(n_looks=3, boundary=[2.0, 2.0])),
        (ValueError, "`boundary` critical values must be positive", dict(n_looks=2, boundary=[2.0, -1.0])),
        (ValueError, "`tau` only applies to test='msprt'", dict(tau=0.1)),
        (ValueError, "`tau` must be in", dict(test="msprt", tau=-1.0)),
        (TypeError, "`rng` must be None, an int", dict(rng="seed")),
        (ValueError, "give `visitors_per_look` or `total_visitors`, not both", dict(visitors_per_look=10,
                                                                                 total_visitors=100)),
        (TypeError, "`total_visitors` must be an integer", dict(total_visitors=100.0)),
        (ValueError, "`total_visitors` must be an integer in", dict(total_visitors=0)),
        (ValueError, r"`total_visitors` must be an integer in \[1, 9007199254740992\]", dict(total_visitors=2**53 + 1)),
        (ValueError, "`total_visitors` must be at least `n_looks` = 14", dict(total_visitors=13)),
        (TypeError, "`progress` must be None, True or False", dict(progress="yes")),
        (TypeError, "`progress` must be None, True or False", dict(progress=1)),
        (ValueError, r"`target_se` must be in \(0, inf\)", dict(target_se=0.0)),
        (ValueError, "`target_se` must be a finite number", dict(target_se=np.nan)),
        (TypeError, "`target_se` must be a real number", dict(target_se="0.01")),
        (ValueError, "`max_sims` only applies with `target_se`", dict(max_sims=10**6)),
        (ValueError, r"`max_sims` must be an integer in \[`n_sims` = 10000, 1000000000\]; got 100$", dict(target_se=0.01, max_sims=100)),
        (ValueError, r"`max_sims` must be an integer in \[`n_sims` = 10000, 1000000000\]; got 10000000000", dict(target_se=0.01, max_sims=10**10)),
        (TypeError, "`max_sims` must be an integer", dict(target_se=0.01, max_sims=1e6)),
    ]
    for exc, msg, kw in cases:
        with pytest.raises(exc, match=msg):
            simulate_peeking(**kw)


def test_public_names_exported():
    for name in ("simulate_peeking", "SimulatePeekingResult", "group_sequential_boundaries"):
        assert name in simengine.__all__


# ---------------------------------------------------------------------------------------------- issue 13


def test_simulate_peeking_result_protocol():
    from simengine._results import declaration_problems

    cls = simengine.SimulatePeekingResult
    assert declaration_problems(cls) == [] and cls._chunk_size == 200_000 and cls._replicates == "n_sims"
    res = simulate_peeking(n_sims=300, n_looks=4, rng=2)
    for name in cls._estimates:
        assert isinstance(getattr(res, name), float) and isinstance(getattr(res, f"{name}_se"), float)
    assert list(res.to_frame().columns) == ["look", "visitors_per_arm", "critical_value", "nominal_alpha",
                                            "first_rejections", "first_rejection_rate", "cumulative_rejection",
                                            "cumulative_rejection_se"]
    assert res.to_dict()["rejected_any_look"] == res.rejected_any_look
    with pytest.raises(TypeError, match="does not unpack"):
        tuple(res)


def test_total_visitors_splits_exactly_like_exact_rounding():
    # look k ends at round(k T / K) (halves to even) in exact arithmetic, also where floats cannot hold k T / K
    from fractions import Fraction

    from simengine.sequential import _split_visitors

    for total in list(range(1, 60)) + [999, 1000, 1001, 2**53 - 1, 2**53]:
        for looks in {1, 2, 3, 4, 6, 7, 10, 14, 59, 9999}:
            if looks > total:
                continue
            v = _split_visitors(total, looks)
            edges = [round(Fraction(k * total, looks)) for k in range(looks + 1)]
            assert v.tolist() == np.diff(np.array(edges, dtype=object)).tolist()
            assert int(v.sum()) == total and v.max() - v.min() <= 1


def test_total_visitors_equals_the_same_visitors_per_look():
    kw = dict(n_sims=2000, n_looks=3, rate=0.2, lift=0.02, rng=5)
    a = simulate_peeking(total_visitors=1000, **kw)
    b = simulate_peeking(visitors_per_look=[333, 334, 333], **kw)
    assert a.total_visitors == 1000 and b.total_visitors is None
    assert_array_equal(a.visitors_per_look, [333, 334, 333])
    assert a.rejected_any_look == b.rejected_any_look and a.expected_visitors_per_arm == b.expected_visitors_per_arm
    # the default is still 100 per look
    assert_array_equal(simulate_peeking(n_sims=10, n_looks=2, rng=1).visitors_per_look, [100, 100])


def test_direction_b_minus_a():
    # Statistical acceptance: B = A + lift, and alternative="greater" means B larger (scipy's ttest_ind(B, A))
    kw = dict(n_sims=2000, n_looks=2, visitors_per_look=500, rate=0.10, lift=0.05, rng=8)  # z about 3.4 at the end
    greater = simulate_peeking(alternative="greater", **kw)
    less = simulate_peeking(alternative="less", **kw)
    assert greater.rejected_final > 0.9 and less.rejected_final < 0.01
    normal = dict(kw, metric="normal", mean=1.0, sd=1.0, lift=-0.2)
    assert simulate_peeking(alternative="less", **normal).rejected_final > 0.8
    assert simulate_peeking(alternative="greater", **normal).rejected_final < 0.01


@pytest.mark.parametrize("metric, test, futility", [("binary", "t", [0.0, 0.5, -np.inf]), ("normal", "welch", None)])
def test_peeking_band_blocks_rerun_with_pvalues(monkeypatch, metric, test, futility):
    # The t / Welch paths first run a kernel without p-values and run a block again with them when a look falls in
    # the band about a critical value.  A band as wide as the whole line sends every block back: the counts must
    # be those of the default (narrow) band bit for bit, and every block must have been run twice.
    import simengine.sequential as seq

    kw = dict(n_sims=600, n_looks=3, visitors_per_look=40, metric=metric, test=test, lift=0.05,
              boundary="pocock", futility=futility, alternative="greater", rng=7)
    ref = simulate_peeking(**kw)
    path = (K.METRIC_BINARY if metric == "binary" else K.METRIC_NORMAL, K.TEST_T if test == "t" else K.TEST_WELCH)
    band = K.BAND_KERNELS[path]
    calls = []

    def spy(*args):
        out = band(*args)
        calls.append(out[1])
        return out

    monkeypatch.setitem(K.BAND_KERNELS, path, spy)
    monkeypatch.setattr(seq, "_BAND", 1e300)
    wide = simulate_peeking(**kw)
    assert calls and all(c == -1 for c in calls)
    for name in ("first_rejection_look", "futility_look"):
        assert_array_equal(getattr(wide, name), getattr(ref, name))
    assert wide.rejected_final == ref.rejected_final
    assert wide.expected_visitors_per_arm == ref.expected_visitors_per_arm


def test_compile_fills_the_peeking_pvalue_kernel():
    # `simengine compile` reaches the t kernel with p-values, which a first call no longer compiles
    import simengine.sequential as seq
    from simengine import _compile

    band = seq._BAND
    _compile.FILL_EXTRA["sequential testing"]()
    assert seq._BAND == band
    assert K._peeking_binary_t.signatures
