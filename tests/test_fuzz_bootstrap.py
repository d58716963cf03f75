"""Bad-input fuzz of bootstrap (issue 17).

`bootstrap` is called with each parameter replaced by every hostile value of tests/_fuzz.py (and by
hypothesis-generated ones), and with each hostile value as the sample inside `data`: the call returns a
result without NaN, or raises TypeError / ValueError naming the parameter, without NumPy or numba
internals in the message, and ends quickly.  Valid counts that only make a call long are skipped.
"""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import simengine as se
from _fuzz import ANY_BAD, bad_values, check_call
from simengine._validate import MAX_COUNT

_X = np.linspace(0.0, 1.0, 9) ** 2
_Y = np.linspace(0.3, 1.4, 7)


def _one_sample(value, **kw):
    """bootstrap with `value` as the one sample of `data` (the hostile value inside the tuple)."""
    return se.bootstrap((value,), **kw)


CASES = {
    "bootstrap": (se.bootstrap, dict(data=(_X,), statistic="mean", n_resamples=49, confidence_level=0.9,
                                     method="BCa", alternative="two-sided", paired=False, axis=0, batch=None,
                                     rng=1)),
    "bootstrap-two": (se.bootstrap, dict(data=(_X, _Y), statistic="median_diff", n_resamples=49,
                                         method="percentile", alternative="less", rng=2)),
    "bootstrap-sample": (_one_sample, dict(value=_X, statistic="median", n_resamples=49, method="basic", rng=3)),
}
PARAMS = [(case, param) for case, (_, base) in CASES.items() for param in base]


def _sane(res):
    low, high = res.confidence_interval
    for value in (low, high, res.standard_error, res.bootstrap_distribution):
        assert not np.isnan(np.asarray(value, dtype=float)).any()


def _call(case, param, value):
    fn, base = CASES[case]
    kwargs = dict(base)
    kwargs[param] = value
    # the sample's own parameter is named `data` in the messages
    name = "data" if param == "value" else param
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok, out = check_call(fn, (), kwargs, param=name, timeout=10)
    if ok:
        _sane(out)


@pytest.fixture(scope="module", autouse=True)
def _warm():
    # the first calls compile (seconds on a cold cache under load); check_call's timeout is for hangs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn, base in CASES.values():
            fn(**base)


@pytest.mark.parametrize("case,param", PARAMS)
def test_every_hostile_value(case, param):
    for value in ANY_BAD:
        if type(value) is int and 10**4 < value <= MAX_COUNT and param in ("n_resamples", "batch"):
            continue  # valid, only long (n_resamples) or ignored (batch)
        _call(case, param, value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_hostile_values(data):
    case, param = data.draw(st.sampled_from(PARAMS))
    value = data.draw(bad_values())
    # a large count that is valid is not hostile, only slow
    assume(not (isinstance(value, int) and 10**4 < value <= MAX_COUNT))
    _call(case, param, value)


def test_extreme_but_valid_data():
    # values near the float limit: deviations from the first value stay finite for the mean of same-sign data,
    # and the median's values are order statistics (exact)
    big = np.array([1.0e307, 1.1e307, 1.3e307, 1.2e307, 1.05e307])
    res = se.bootstrap((big,), "median", n_resamples=99, method="percentile", rng=0)
    assert 1.0e307 <= res.confidence_interval.low <= res.confidence_interval.high <= 1.3e307
    assert np.isfinite(res.standard_error) and res.standard_error > 1e305
    tiny = big * 1e-307 * 1e-307
    res = se.bootstrap((tiny,), "mean", n_resamples=99, method="percentile", rng=0)
    assert np.isfinite(res.confidence_interval).all() and res.confidence_interval.low > 0


# slice bootcov: simulate_bootstrap_coverage (a separate function, so the bootstrap() cases can sit beside it)
COVERAGE_BASE = dict(distribution="exponential", n=[5, 6], statistic="median", methods=("percentile", "BCa"),
                     confidence_level=0.9, n_resamples=19, n_sims=10, rng=1, progress=False)


@pytest.mark.parametrize("param", list(COVERAGE_BASE))
def test_simulate_bootstrap_coverage_hostile_values(param):
    se.simulate_bootstrap_coverage(**COVERAGE_BASE)  # compiled before any call is timed
    for value in ANY_BAD:
        kwargs = {**COVERAGE_BASE, param: value}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_call(se.simulate_bootstrap_coverage, (), kwargs, param=param, timeout=10)
