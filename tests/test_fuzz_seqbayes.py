"""Hostile input for the sequential, Bayesian and MCMC functions (issue 12), and the issue's reproducers.

Every public function of the slice is called with one argument replaced by a hostile value: it must
return, or raise TypeError / ValueError naming that argument without NumPy / numba internals, quickly.
Reproducers that hung or took minutes run in a fresh interpreter with a timeout.
"""
import math
import textwrap

import numba
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from numpy.testing import assert_allclose

import simengine
from _fuzz import ANY_BAD, FuzzFailure, bad_values, check_call, run_isolated
from simengine import targets
from simengine.bayes import INTERVAL_METHODS
from simengine.mcmc import mcse  # also `simengine.mcse` once exported
from simengine.sequential import _boundaries_cached, _crossing_probabilities

GAUSS2 = targets.multivariate_normal([0.0, 0.0], np.eye(2))

# (function, valid keyword arguments, parameters to attack); small sizes so a valid call takes milliseconds.
CASES = {
    "simulate_peeking": (
        simengine.simulate_peeking,
        dict(n_sims=50, n_looks=3, visitors_per_look=20, rng=1),
        ["n_sims", "n_looks", "visitors_per_look", "metric", "rate", "mean", "sd", "lift", "test", "alpha",
         "alternative", "boundary", "tau", "rng"],
    ),
    "simulate_peeking-total_visitors": (  # the maximum sample per arm split over the looks
        simengine.simulate_peeking,
        dict(n_sims=50, n_looks=3, total_visitors=61, rng=1),
        ["n_looks", "total_visitors", "visitors_per_look"],
    ),
    "simulate_peeking-futility": (  # issue 16: designs with a futility boundary
        simengine.simulate_peeking,
        dict(n_sims=50, n_looks=3, visitors_per_look=20, alternative="greater", alpha=0.025,
             boundary="ld-obrien-fleming", futility=[-1.0, 0.0, 1.0], rng=1),
        ["futility", "boundary"],
    ),
    "simulate_peeking-adaptive": (  # issue 14: progress bar, precision on demand
        simengine.simulate_peeking,
        dict(n_sims=50, n_looks=3, visitors_per_look=20, rng=1, progress=False, target_se=0.2, max_sims=200),
        ["progress", "target_se", "max_sims", "n_sims"],
    ),
    "group_sequential_boundaries": (
        simengine.group_sequential_boundaries,
        dict(n_looks=3),
        ["n_looks", "alpha", "kind", "alternative", "information"],
    ),
    "group_sequential_boundaries-hsd": (  # issue 16: spending functions and their parameters
        simengine.group_sequential_boundaries,
        dict(information=[1.0, 2.5, 4.0], kind="hsd", gamma=-2.0),
        ["information", "gamma", "alpha"],
    ),
    "group_sequential_design": (
        simengine.group_sequential_design,
        dict(n_looks=3, alpha=0.025, power=0.8, kind="ld-obrien-fleming", futility="hsd", binding=True,
             alternative="greater", futility_gamma=-1.0),
        ["n_looks", "alpha", "power", "kind", "futility", "binding", "alternative", "futility_gamma"],
    ),
    "group_sequential_design-information": (
        simengine.group_sequential_design,
        dict(information=[2.0, 3.0, 7.0], kind="hsd", gamma=-3.0),
        ["information", "gamma", "rho"],
    ),
    "msprt": (
        simengine.msprt,
        dict(x=[0.5, 1.5, 0.2, 2.0, 1.0], y=[0.1, 0.4, 1.1, 0.3, 0.9], metric="normal", tau=0.5, alpha=0.05),
        ["x", "y", "metric", "tau", "alpha"],
    ),
    "msprt-binary-looks": (
        simengine.msprt,
        dict(x=[[3, 10], [9, 20]], y=[[2, 10], [5, 20]], metric="binary"),
        ["x", "y"],
    ),
    "group_sequential_boundaries-kim-demets": (
        simengine.group_sequential_boundaries,
        dict(n_looks=2, kind="kim-demets", rho=2.0, alternative="greater"),
        ["rho", "n_looks"],
    ),
    "bayes_ab": (
        simengine.bayes_ab,
        dict(successes_a=3, trials_a=10, successes_b=4, trials_b=10),
        ["successes_a", "trials_a", "successes_b", "trials_b", "prior", "method", "progress"],
    ),
    "bayes_ab_mc": (
        simengine.bayes_ab,
        dict(successes_a=3, trials_a=10, successes_b=4, trials_b=10, method="mc", n_draws=100, rng=1),
        ["n_draws", "rng", "prior", "progress"],
    ),
    "prob_best": (
        simengine.prob_best,
        dict(successes=[3, 4], trials=[10, 10], n_draws=100, rng=1),
        ["successes", "trials", "prior", "n_draws", "rng", "progress"],
    ),
    "proportion_interval": (
        simengine.proportion_interval,
        dict(successes=3, trials=10),
        ["successes", "trials", "alpha", "method", "prior", "alternative"],
    ),
    "simulate_coverage": (
        simengine.simulate_coverage,
        dict(p=0.3, n=10, n_sims=100, rng=1),
        ["p", "n", "methods", "alpha", "n_sims", "prior", "alternative", "rng", "progress", "max_sims"],
    ),
    # a target_se run: the first round meets this target, and a hostile target stops at 4 rounds
    "simulate_coverage-target_se": (
        simengine.simulate_coverage,
        dict(p=0.3, n=10, n_sims=100, rng=1, target_se=0.05, max_sims=400),
        ["target_se", "max_sims", "n_sims"],
    ),
    "simulate_bayes_peeking": (
        simengine.simulate_bayes_peeking,
        dict(n_sims=20, n_looks=2, visitors_per_look=10, rate=0.1, rng=1),
        ["n_sims", "n_looks", "visitors_per_look", "rate", "lift", "threshold", "prior", "rng", "progress",
         "max_sims"],
    ),
    "simulate_bayes_peeking-target_se": (
        simengine.simulate_bayes_peeking,
        dict(n_sims=20, n_looks=2, visitors_per_look=10, rate=0.1, rng=1, target_se=0.2, max_sims=80),
        ["target_se", "max_sims", "n_sims"],
    ),
    "metropolis_hastings": (
        simengine.metropolis_hastings,
        dict(log_density=GAUSS2, x0=np.zeros(2), n_steps=20, n_chains=1, rng=1),  # one chain kernel to compile
        ["log_density", "x0", "n_steps", "proposal_scale", "proposal_cov", "n_chains", "burn_in", "thin", "adapt",
         "rng"],
    ),
    "rhat": (simengine.rhat, dict(samples=np.random.default_rng(0).standard_normal((2, 10))), ["samples"]),
    "ess": (simengine.ess, dict(samples=np.random.default_rng(0).standard_normal((2, 10))), ["samples", "method"]),
    "ess-tail": (
        simengine.ess,
        dict(samples=np.random.default_rng(0).standard_normal((2, 10)), method="tail"),
        ["samples"],
    ),
    "mcse": (mcse, dict(samples=np.random.default_rng(0).standard_normal((2, 10))), ["samples"]),
    "targets.multivariate_normal": (targets.multivariate_normal, dict(mean=[0.0, 0.0], cov=np.eye(2)), ["mean", "cov"]),
    "targets.banana": (targets.banana, dict(), ["b", "a", "sigma1"]),
    "targets.mixture": (
        targets.mixture,
        dict(weights=[0.5, 0.5], means=[[0.0], [1.0]], covs=[[[1.0]], [[1.0]]]),
        ["weights", "means", "covs"],
    ),
}

# The one message of ours that names numba on purpose: it tells the user to decorate with @numba.njit.
_LOG_DENSITY_HINT = "`log_density` must be a numba-jitted function"


def _check(fn, kwargs, param):
    try:
        return check_call(fn, (), kwargs, param=param, timeout=20.0)
    except FuzzFailure as exc:
        if param == "log_density" and _LOG_DENSITY_HINT in str(exc) and "leaks internals" in str(exc):
            with pytest.raises(TypeError, match=_LOG_DENSITY_HINT):
                fn(**kwargs)
            return False, None
        raise


def _valid_result_is_sane(key, out):
    """A call that returned on hostile input still returned numbers that make sense."""
    if key == "proportion_interval":
        low, high = (np.asarray(v) for v in out)
        assert np.all((0 <= low) & (low <= high) & (high <= 1))
    elif key in ("simulate_peeking", "simulate_peeking-total_visitors", "simulate_peeking-adaptive",
                 "simulate_peeking-futility",
                 "simulate_bayes_peeking", "simulate_bayes_peeking-target_se"):
        for name in ("rejected_any_look", "prob_declare_peeking"):
            if hasattr(out, name):
                assert 0.0 <= getattr(out, name) <= 1.0
        if hasattr(out, "visitors_per_look"):
            assert np.all(np.cumsum(out.visitors_per_look) > 0)
    elif key == "group_sequential_boundaries":
        assert np.all(np.isfinite(out))
    elif key.startswith("msprt"):
        assert np.all((out.pvalue >= 0) & (out.pvalue <= 1)) and np.all(np.diff(out.pvalue) <= 0)
        assert np.all(out.ci_low <= out.ci_high) or out.first_rejection >= 0
    elif key.startswith("group_sequential_design"):
        assert 1.0 <= out.inflation_factor < 10 and 0 < out.expected_sample_fraction_h1 <= out.inflation_factor
        assert not np.isnan(out.efficacy).any() and np.all(np.diff(out.information) > 0)
    elif key.startswith("group_sequential_boundaries-"):  # spending: +inf where a look spends nothing
        assert not np.isnan(out).any() and np.all(out > 0) and np.isfinite(out).any()
    elif key in ("bayes_ab", "bayes_ab_mc"):
        assert 0.0 <= np.min(out.prob_b_better) <= np.max(out.prob_b_better) <= 1.0


def _other_dimension(value):
    if not (isinstance(value, list) and value) and not hasattr(value, "__array__"):
        return False
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return arr.ndim in (1, 2) and arr.size > 0 and arr.shape[-1] != 2 and np.isfinite(arr).all()


@pytest.mark.parametrize("key", list(CASES))
def test_every_parameter_against_the_hostile_list(key):
    fn, base, params = CASES[key]
    fn(**base)  # compile first: the timeout in _check is for hangs in the call, not for the JIT
    for param in params:
        for value in ANY_BAD:
            if key == "metropolis_hastings" and param == "x0" and _other_dimension(value):
                continue  # a valid start of another dimension only compiles another chain kernel (seconds)
            ok, out = _check(fn, {**base, param: value}, param)
            if ok:
                _valid_result_is_sane(key, out)


@settings(max_examples=40, deadline=None)
@given(key=st.sampled_from(sorted(k for k in CASES if k != "metropolis_hastings")), data=st.data(),
       value=bad_values())
def test_hypothesis_hostile_values(key, data, value):
    fn, base, params = CASES[key]
    param = data.draw(st.sampled_from(params))
    # A valid but large replicate count is just a long run (2e8 coverage draws take ~10 s), not hostile.
    assume(not (param in ("n_sims", "n_draws", "n_looks") and isinstance(value, int) and 10**4 < value <= 10**9))
    ok, out = _check(fn, {**base, param: value}, param)
    if ok:
        _valid_result_is_sane(key, out)


# ------------------------------------------------------------------------------------ reproducers: peeking


def test_peeking_visitors_cannot_overflow_the_cumulative_counts():
    # Issue 12: n_looks=3, visitors_per_look=2**62 reported negative cumulative visitors (int64 overflow).
    with pytest.raises(ValueError, match=r"`visitors_per_look` x `n_looks` = .* the limit is 2\*\*53"):
        simengine.simulate_peeking(n_looks=3, visitors_per_look=2**62)
    with pytest.raises(ValueError, match="`visitors_per_look` must be <= 9007199254740992"):
        simengine.simulate_peeking(n_looks=3, visitors_per_look=[2**62, 2**62, 1])
    with pytest.raises(ValueError, match=r"`visitors_per_look` sums to .* the limit is 2\*\*53"):
        simengine.simulate_peeking(n_looks=3, visitors_per_look=[2**52, 2**52, 2**52])
    with pytest.raises(ValueError, match="`visitors_per_look` must be integers in"):
        simengine.simulate_peeking(n_looks=2, visitors_per_look=[2**70, 1])
    with pytest.raises(ValueError, match=r"`visitors_per_look` x `n_looks` = .* the limit is 2\*\*53"):
        simengine.simulate_bayes_peeking(n_sims=10, n_looks=3, visitors_per_look=2**62, rate=0.1)
    # At the limit the counts are exact and the result is sane: A/A false-positive rate ~ alpha.
    res = simengine.simulate_peeking(n_sims=2000, n_looks=2, visitors_per_look=[2**51, 2**52], test="z", rng=3)
    assert list(res.to_frame().visitors_per_arm) == [2**51, 2**51 + 2**52]
    assert res.expected_visitors_per_arm > 0
    assert abs(res.rejected_final - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 2000)


def test_normal_peeking_is_scale_invariant_at_extreme_scales():
    # sd = 1e-300 used to make every A/A look reject (sd^2 underflowed to zero variance) and mean = 1e300
    # none (the data were lost to rounding); the tests are location-scale invariant, so these runs are the
    # standard one exactly (they are simulated in units of sd about the mean).
    for test in ("t", "welch", "z", "msprt"):
        base = simengine.simulate_peeking(n_sims=300, n_looks=3, visitors_per_look=20, metric="normal", test=test, rng=4)
        for kw in (dict(sd=1e-300), dict(sd=1e200), dict(mean=1e300), dict(mean=-1e12, sd=1e-3)):
            res = simengine.simulate_peeking(n_sims=300, n_looks=3, visitors_per_look=20, metric="normal", test=test,
                                             rng=4, **kw)
            assert res.rejected_any_look == base.rejected_any_look, (test, kw)
            assert np.array_equal(res.first_rejection_look, base.first_rejection_look)
        # A huge effect is power 1, not 0.
        huge = simengine.simulate_peeking(n_sims=50, n_looks=2, visitors_per_look=20, metric="normal", test=test,
                                          mean=1e300, lift=1e300, rng=4)
        assert huge.rejected_any_look == 1.0


def test_counts_are_capped_before_any_work():
    # Issue 12: these ran with no error (for hours).  Each must refuse at once, naming the parameter.
    checks = [
        (lambda: simengine.simulate_peeking(n_sims=10**30), "`n_sims` must be an integer in"),
        (lambda: simengine.simulate_peeking(n_sims=10**9, n_looks=10_000), r"`n_sims` x `n_looks` x 2 arms asks for"),
        (lambda: simengine.bayes_ab(1, 10, 2, 10, method="mc", n_draws=10**30), "`n_draws` must be an integer in"),
        (lambda: simengine.bayes_ab(np.ones(10**4, int), 10, 2, 10, method="mc", n_draws=10**9), "`n_draws` x scenarios"),
        (lambda: simengine.prob_best([1, 2], [10, 10], n_draws=2**40), "`n_draws` must be an integer in"),
        # a million scenarios of 1e14 trials are each a ~40 ms quadrature: days of work
        (lambda: simengine.bayes_ab(np.full(10**6, 10**13), 10**14, 10**13, 10**14),
         "microseconds of exact evaluations"),
        (lambda: simengine.simulate_coverage(p=0.5, n=10, n_sims=10**30), "`n_sims` must be an integer in"),
        (lambda: simengine.simulate_coverage(p=0.5, n=2**40), r"`p` x `n` \(every k"),
        (lambda: simengine.simulate_bayes_peeking(n_sims=10**30, n_looks=2, visitors_per_look=10, rate=0.1),
         "`n_sims` must be an integer in"),
        (lambda: simengine.simulate_bayes_peeking(n_sims=10**6, n_looks=10**6, visitors_per_look=1, rate=0.1),
         "`n_sims` x `n_looks` asks for"),
        # Past 1e6 visitors per arm each look is a ~2 ms quadrature: 10**6 of them are refused.
        (lambda: simengine.simulate_bayes_peeking(n_sims=10**5, n_looks=10, visitors_per_look=10**8, rate=0.1),
         "microseconds of exact posterior evaluations"),
        (lambda: simengine.metropolis_hastings(GAUSS2, np.zeros(2), n_steps=10**30), "`n_steps` must be an integer in"),
        (lambda: simengine.metropolis_hastings(GAUSS2, np.zeros(2), n_steps=10, n_chains=2**40),
         "`n_chains` must be an integer in"),
        (lambda: simengine.metropolis_hastings(GAUSS2, np.zeros(2), n_steps=10**9, n_chains=10**4),
         r"`n_chains` x `n_steps` asks for"),
        (lambda: simengine.metropolis_hastings(GAUSS2, np.zeros(2), n_steps=10**9, n_chains=100),
         r"`n_chains` x kept steps x dim needs .* GiB"),
    ]
    for call, message in checks:
        with pytest.raises(ValueError, match=message):
            call()


def test_hang_reproducers_refuse_in_a_fresh_interpreter():
    # The hangs, end to end in a fresh process (a regression would time out instead of stalling pytest).
    code = textwrap.dedent(
        """
        import numpy as np, simengine
        from simengine import targets
        f = targets.multivariate_normal([0.0], [[1.0]])
        calls = [
            lambda: simengine.simulate_peeking(n_sims=10**30),
            lambda: simengine.simulate_peeking(n_looks=3, visitors_per_look=2**62),
            lambda: simengine.bayes_ab(1, 10, 2, 10, method="mc", n_draws=10**30),
            lambda: simengine.simulate_bayes_peeking(n_sims=10**30, n_looks=2, visitors_per_look=10, rate=0.1),
            lambda: simengine.metropolis_hastings(f, np.zeros(1), n_steps=10**30),
            lambda: simengine.proportion_interval(3, 10, alpha=5e-324),
        ]
        for call in calls:
            try:
                call()
            except ValueError:
                pass
            else:
                raise SystemExit("no error")
        print("ok")
        """
    )
    rc, out, err = run_isolated(code, timeout=120)
    assert rc == 0 and out.strip() == "ok", err


def test_group_sequential_boundaries_documented_maximum_finishes():
    # Issue 12: group_sequential_boundaries(1000), the documented maximum, took more than 100 s.
    code = textwrap.dedent(
        """
        import time, numpy as np, simengine
        t = time.perf_counter()
        c = simengine.group_sequential_boundaries(1000, kind="pocock")
        print(time.perf_counter() - t, c[0], c[-1])
        """
    )
    rc, out, err = run_isolated(code, timeout=120)
    assert rc == 0, err
    seconds, first, last = map(float, out.split())
    assert first == last
    # Between the 200-look constant and the Bonferroni bound of 1 000 looks.
    assert 2.95 < last < 4.06
    with pytest.raises(ValueError, match=r"`n_looks` must be an integer in \[1, 1000\]"):
        simengine.group_sequential_boundaries(1001)
    with pytest.raises(ValueError, match="`boundary` 'pocock' is computed for at most 1000 looks"):
        simengine.simulate_peeking(n_sims=10, n_looks=1001, boundary="pocock")


def test_many_look_boundaries_agree_with_a_finer_grid():
    # Above 20 looks the solver fixes the grid sizes and takes secant steps; the constant must still be the
    # root of the finest integration to 1e-6 (Pocock and O'Brien-Fleming, equal and unequal looks).
    from scipy.optimize import brentq

    for info in (np.arange(1, 31) / 30, np.cumsum(np.arange(1, 31)) / np.cumsum(np.arange(1, 31))[-1]):
        for kind in ("pocock", "obrien-fleming"):
            shape = np.ones(30) if kind == "pocock" else 1 / np.sqrt(info)
            fine = brentq(lambda c: _crossing_probabilities(c * shape, info, True, resolution=16).sum() - 0.05, 1.9, 4)
            c = _boundaries_cached(30, 0.05, kind, True, tuple(info))
            assert abs(c[-1] - fine) < 1e-6


def test_long_horizon_peeking_runs_in_seconds():
    res = simengine.simulate_peeking(n_sims=200, n_looks=10_000, visitors_per_look=10, rng=5)
    assert res.cumulative_rejection.shape == (10_000,)
    # Naive peeking over 10 000 looks rejects far more often than alpha (Armitage et al. 1969).
    assert res.rejected_any_look > 0.3


def test_boundaries_refuse_looks_the_recursion_cannot_resolve():
    # Looks 1e-100 apart used to be merged silently (Pocock with 5 such looks gave the 2-look constant);
    # looks 1e-8 apart made the solver fail.  Down to 1e-6 the constants are right: looks spaced by orders
    # of magnitude are nearly independent, so Pocock's constant approaches the Sidak value.
    from scipy.special import ndtri

    with pytest.raises(ValueError, match="`information` must give every look at least 1e-06"):
        simengine.group_sequential_boundaries(5, information=np.logspace(-100, 0, 5))
    with pytest.raises(ValueError, match="`information` must give every look at least 1e-06"):
        simengine.group_sequential_boundaries(3, information=[1, 1 + 1e-8, 2])
    with pytest.raises(ValueError, match="`visitors_per_look` must give every look at least 1e-06"):
        simengine.simulate_peeking(n_sims=10, n_looks=2, visitors_per_look=[1, 10**7], boundary="pocock")
    c = simengine.group_sequential_boundaries(3, information=[1e-6, 1e-3, 1.0], kind="pocock")
    assert abs(c[-1] - (-ndtri((1 - 0.95 ** (1 / 3)) / 2))) < 2e-3


def test_boundaries_alpha_limits():
    with pytest.raises(ValueError, match=r"`alpha` must be in \[1e-20, 1\) for group-sequential"):
        simengine.group_sequential_boundaries(3, alpha=5e-324)
    with pytest.raises(ValueError, match=r"`alpha` must be in \[1e-20, 1\) for group-sequential"):
        simengine.simulate_peeking(n_sims=10, boundary="obrien-fleming", alpha=1e-300)
    c = simengine.group_sequential_boundaries(3, alpha=1e-20, kind="obrien-fleming")
    assert np.all(np.isfinite(c)) and c[-1] > 9.3


# ------------------------------------------------------------------------------------ reproducers: Bayes


@pytest.mark.parametrize("method", INTERVAL_METHODS)
def test_interval_at_extreme_alpha_and_counts(method):
    # Issue 12: alpha=5e-324 gave NaN intervals.  Below 1e-100 it is refused; from there up to alpha
    # near 1 every method gives finite, ordered ends in [0, 1] for counts 0, n and near 2**63.
    with pytest.raises(ValueError, match=r"`alpha` must be in \[1e-100, 1\)"):
        simengine.proportion_interval(3, 10, alpha=5e-324, method=method)
    k = np.array([0, 1, 3, 10, 0, 2**61, 2**62, 2**63 - 1])
    n = np.array([1, 1, 10, 10, 2**62, 2**62, 2**63 - 1, 2**63 - 1])
    for alpha in (1e-100, 1e-10, 0.05, 0.999, 1 - 1e-16):
        low, high = simengine.proportion_interval(k, n, alpha=alpha, method=method)
        assert np.all(np.isfinite(low) & np.isfinite(high))
        assert np.all((0 <= low) & (low <= high) & (high <= 1))
    # Huge balanced counts: all methods agree with the normal limit p +- z sqrt(p (1 - p) / n).
    low, high = simengine.proportion_interval(2**61, 2**62, alpha=1e-10, method=method)
    half = 6.466951667 * math.sqrt(0.25 / 2**62)
    assert_allclose([low, high], [0.5 - half, 0.5 + half], rtol=0, atol=1e-6 * half)


def test_interval_matches_statsmodels_at_tiny_alpha():
    from statsmodels.stats.proportion import proportion_confint

    for method in ("normal", "wilson", "agresti_coull", "beta", "jeffreys"):
        for k, n in ((0, 20), (7, 20), (20, 20)):
            ref = proportion_confint(k, n, alpha=1e-12, method=method)
            got = simengine.proportion_interval(k, n, alpha=1e-12, method=method)
            assert_allclose(got, ref, rtol=1e-9, atol=1e-12)


def test_bad_priors_are_type_errors():
    # Issue 12: string and bool priors were accepted silently.
    bad = ["a", True, (1, "2"), (True, 1.0), None, 2.0, [[1, 2], [3]], (1, None)]
    calls = [
        lambda pr: simengine.bayes_ab(3, 10, 4, 10, prior=pr),
        lambda pr: simengine.bayes_ab(3, 10, 4, 10, prior=pr, method="mc", n_draws=10, rng=1),
        lambda pr: simengine.prob_best([3, 4], [10, 10], prior=pr, n_draws=10, rng=1),
        lambda pr: simengine.proportion_interval(3, 10, method="bayes", prior=pr),
        lambda pr: simengine.simulate_coverage(p=0.3, n=5, n_sims=10, prior=pr, rng=1),
        lambda pr: simengine.simulate_bayes_peeking(n_sims=5, n_looks=2, visitors_per_look=5, rate=0.1, prior=pr),
    ]
    for call in calls:
        for pr in bad:
            with pytest.raises(TypeError, match=r"`prior` must be a pair \(alpha, beta\) of positive numbers"):
                call(pr)


def test_ragged_and_none_counts_name_the_parameter():
    # Issue 12: NumPy's "setting an array element with a sequence" and "'NoneType' object is not iterable".
    for kwargs, name in (
        (dict(successes_a=[[1, 2], [3]], trials_a=10, successes_b=1, trials_b=10), "successes_a"),
        (dict(successes_a=1, trials_a=10, successes_b=1, trials_b=[[10], [10, 10]]), "trials_b"),
        (dict(successes_a=None, trials_a=10, successes_b=1, trials_b=10), "successes_a"),
        (dict(successes_a=True, trials_a=10, successes_b=1, trials_b=10), "successes_a"),
    ):
        # ragged input gets the message every slice shares ("a rectangular array of integers; got a ragged list")
        with pytest.raises(TypeError, match=f"`{name}` must be (array-like|a rectangular array) of integers") as info:
            simengine.bayes_ab(**kwargs)
        assert "sequence" not in str(info.value) and "NoneType" not in str(info.value)
    with pytest.raises(TypeError, match="`successes` must be a rectangular array of integers; got a ragged list"):
        simengine.prob_best([[1, 2], [3]], [10, 10])
    with pytest.raises(TypeError, match="`methods` must be a method name or a sequence"):
        simengine.simulate_coverage(p=0.3, n=5, methods=None)
    with pytest.raises(TypeError, match="`p` must be a rectangular array of real numbers; got a ragged list"):
        simengine.simulate_coverage(p=[[0.1, 0.2], [0.3]], n=5)
    with pytest.raises(TypeError, match="`boundary` must be a rectangular array of real numbers; got a ragged list"):
        simengine.simulate_peeking(n_looks=2, boundary=[[2.0, 2.0], [2.0]])
    with pytest.raises(ValueError, match="`trials` must be integers within int64"):
        simengine.proportion_interval(3, 1e300)


def test_prior_range():
    # Below 0.05 both the exact kernel and the Beta draws failed silently (P(B > A) = 0.37 for identical
    # arms with prior (0.001, 0.001)); a 1e20 prior never finished.
    for pr in ((0.001, 0.001), (1.0, 1e20), (0.049, 1.0)):
        with pytest.raises(ValueError, match=r"`prior` parameters must be in \[0.05, 1e\+09\]"):
            simengine.bayes_ab(0, 10, 0, 10, prior=pr)
        with pytest.raises(ValueError, match=r"`prior` parameters must be in \[0.05, 1e\+09\]"):
            simengine.prob_best([0, 0], [10, 10], prior=pr)
    # At the ends of the range the exact answer is right: identical arms give 1/2, and B with one success
    # beats A with none as an independent quadrature says.
    assert simengine.bayes_ab(0, 10, 0, 10, prior=(0.05, 0.05)).prob_b_better == pytest.approx(0.5, abs=1e-12)
    assert simengine.bayes_ab(0, 10, 1, 10, prior=(0.05, 0.05)).prob_b_better == pytest.approx(0.969564718888327,
                                                                                               abs=1e-9)
    big = simengine.bayes_ab(3, 10, 4, 10, prior=(1e9, 1e9)).prob_b_better
    assert 0.5 < big < 0.5001


def test_prior_pairs_still_accepted():
    # Numbers of any real type, as tuples, lists or arrays; a list of pairs where allowed.
    ref = simengine.bayes_ab(3, 10, 4, 10, prior=(2.0, 3.0)).prob_b_better
    for pr in ((2, 3), [2.0, 3.0], np.array([2, 3]), (np.float32(2), np.int64(3))):
        assert simengine.bayes_ab(3, 10, 4, 10, prior=pr).prob_b_better == pytest.approx(ref, rel=1e-15)
    many = simengine.bayes_ab(3, 10, 4, 10, prior=[(1, 1), (2, 3)])
    assert many.prob_b_better[1] == pytest.approx(ref, rel=1e-15)


# ------------------------------------------------------------------------------------ MCMC


@numba.njit
def _raising_density(x):
    raise ValueError("no density here")


def test_mh_bad_density_and_shapes_are_clear():
    # A density that can only raise has an optional return type; the chain kernel used to fail to compile
    # with an LLVM error ("inline asm with one output cannot return struct").  (NaN densities: test_mcmc.)
    with pytest.raises(RuntimeError, match="`log_density` raised at step 0 of chain 0"):
        simengine.metropolis_hastings(_raising_density, np.zeros(2), n_steps=10, n_chains=1, rng=1)
    with pytest.raises(ValueError, match="`x0` must be 1-D or 2-D"):
        simengine.metropolis_hastings(GAUSS2, np.zeros((2, 2, 2)), n_steps=10)
    with pytest.raises(TypeError, match="`x0` must be a rectangular array of real numbers; got a ragged list"):
        simengine.metropolis_hastings(GAUSS2, [[0.0, 0.0], [0.0]], n_steps=10)
    with pytest.raises(ValueError, match=r"`proposal_cov` must have shape \(2, 2\)"):
        simengine.metropolis_hastings(GAUSS2, np.zeros(2), n_steps=10, proposal_cov=np.eye(3))
    with pytest.raises(ValueError, match="`proposal_cov` must be 2-D"):
        simengine.metropolis_hastings(GAUSS2, np.zeros(2), n_steps=10, proposal_cov=np.ones(2))


def test_mixture_weights_near_the_float_maximum():
    f = targets.mixture([1e308, 1e308], [[-3.0], [3.0]], [[[1.0]], [[1.0]]])
    g = targets.mixture([0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]])
    assert f(np.array([3.0])) == pytest.approx(g(np.array([3.0])), rel=1e-14)
