"""Bad-input fuzz of the serving module (issue 18): simulate_load_test, TokenBucket, token_bucket,
window_metrics, zscore_gate, simulate_gate.

Every public function is called with one argument replaced by a hostile value (tests/_fuzz.py): each call
returns, or raises TypeError / ValueError naming that argument without NumPy or numba internals, and ends
quickly.  Valid values that only make a call long (10**6 runs, 10**7 requests) are skipped: they are the
caller's choice.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings

import simengine
from _fuzz import ANY_BAD, bad_values, check_call

_BASE = dict(arrival_rate=20.0, workers=2, n_requests=60, n_sims=2, rng=0)


def _load(**kw):
    base = dict(_BASE)
    if "n_clients" in kw or "client_weights" in kw:
        base.update(rate_limit=simengine.TokenBucket(5.0, 2.0))
        if "client_weights" in kw:
            base.update(n_clients=2)
    if "service_params" in kw:
        base.update(service="gamma")
    base.update(kw)
    return simengine.simulate_load_test(**base)


def _bucket(**kw):
    base = dict(capacity=10.0, refill_per_second=1.0)
    base.update(kw)
    return simengine.TokenBucket(**base)


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """Compile the option sets the cases reach, so that the timeouts time calls, not the JIT."""
    _load()
    _load(queue_capacity=3)
    _load(timeout=0.1)
    _load(n_clients=2)
    _load(service=np.array([0.01, 0.02]))


PARAMS = ("arrival_rate", "workers", "service", "service_params", "slow_prob", "slow_factor", "n_requests", "warmup",
          "queue_capacity", "timeout", "arrivals", "n_sims", "quantiles", "rate_limit", "n_clients", "client_weights",
          "rng", "progress")
CASES = [(f"simulate_load_test-{p}", _load, p) for p in PARAMS]
CASES += [(f"TokenBucket-{p}", _bucket, p) for p in ("capacity", "refill_per_second")]

_EXPENSIVE = {"n_sims": 10**3, "n_requests": 10**5, "n_clients": 10**5, "workers": 10**5}


def _too_long(param, value):
    limit = _EXPENSIVE.get(param)
    if limit is None or isinstance(value, (bool, np.bool_)):
        return False
    try:
        return int(value) == value and limit < int(value) <= 10**9
    except (TypeError, ValueError, OverflowError):
        return False


def _call(fn, param, value):
    if _too_long(param, value):
        return
    ok, out = check_call(fn, (), {param: value}, param=param, timeout=20.0)
    if ok and fn is _load:
        for name in ("p_wait", "rejected_rate_limit", "rejected_queue_full", "timed_out"):
            v = getattr(out, name)
            assert np.isnan(v) or 0.0 <= v <= 1.0


@pytest.mark.parametrize("fn, param", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_fuzz_serving_listed_bad_values(fn, param):
    for value in ANY_BAD:
        _call(fn, param, value)


@pytest.mark.parametrize("fn, param", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@settings(max_examples=8, deadline=None)
@given(value=bad_values())
def test_fuzz_serving_generated_bad_values(fn, param, value):
    assume(not (isinstance(value, int) and 10**3 < value <= 10**9))
    _call(fn, param, value)


# --- recorded traffic and input gates (token_bucket, window_metrics, zscore_gate, simulate_gate) ---

_G = np.random.default_rng(18)
_T = np.sort(_G.uniform(0, 30, 40))
_IDS = _G.integers(0, 4, 40)
_LAT = _G.exponential(0.05, 40)
_ERR = _G.random(40) < 0.2
_X = _G.normal(size=(12, 3))


def _token_bucket(**kw):
    base = dict(timestamps=_T, clients=_IDS, capacity=3.0, refill_per_second=0.5)
    base.update(kw)
    return simengine.token_bucket(base.pop("timestamps"), base.pop("clients"), **base)


def _window_metrics(**kw):
    base = dict(timestamps=_T, latencies=_LAT, errors=_ERR, window_seconds=5.0)
    base.update(kw)
    return simengine.window_metrics(base.pop("timestamps"), base.pop("latencies"), base.pop("errors"), **base)


def _zscore_gate(**kw):
    base = dict(X=_X, mean=np.zeros(3), std=np.ones(3), threshold=2.0)
    base.update(kw)
    return simengine.zscore_gate(base.pop("X"), base.pop("mean"), base.pop("std"), **base)


def _simulate_gate(**kw):
    base = dict(n_features=2, threshold=2.0, shift=1.0, n_rows=20, n_sims=8, rng=0, progress=False)
    base.update(kw)
    return simengine.simulate_gate(**base)


TRAFFIC_CASES = [(f"token_bucket-{p}", _token_bucket, p)
                 for p in ("timestamps", "clients", "capacity", "refill_per_second", "cost")]
TRAFFIC_CASES += [(f"window_metrics-{p}", _window_metrics, p)
                  for p in ("timestamps", "latencies", "errors", "window_seconds", "quantiles", "at")]
TRAFFIC_CASES += [(f"zscore_gate-{p}", _zscore_gate, p) for p in ("X", "mean", "std", "threshold")]
TRAFFIC_CASES += [(f"simulate_gate-{p}", _simulate_gate, p)
                  for p in ("n_features", "threshold", "shift", "shifted_features", "n_rows", "n_sims", "rng",
                            "progress")]

# Valid values that only make a call long (draws of the gate simulation)
_TRAFFIC_EXPENSIVE = {"n_sims": 10**4, "n_rows": 10**4, "n_features": 10**3}


def _traffic_call(fn, param, value):
    limit = _TRAFFIC_EXPENSIVE.get(param)
    if limit is not None and not isinstance(value, (bool, np.bool_)):
        try:
            if int(value) == value and limit < int(value) <= 10**9:
                return
        except (TypeError, ValueError, OverflowError):
            pass
    check_call(fn, (), {param: value}, param=param, timeout=20.0)


@pytest.mark.parametrize("fn, param", [c[1:] for c in TRAFFIC_CASES], ids=[c[0] for c in TRAFFIC_CASES])
def test_fuzz_traffic_listed_bad_values(fn, param):
    fn()  # compiled before the timeouts time anything
    for value in ANY_BAD:
        _traffic_call(fn, param, value)


@pytest.mark.parametrize("fn, param", [c[1:] for c in TRAFFIC_CASES], ids=[c[0] for c in TRAFFIC_CASES])
@settings(max_examples=3, deadline=None)
@given(value=bad_values())
def test_fuzz_traffic_generated_bad_values(fn, param, value):
    assume(not (isinstance(value, int) and 10**3 < value <= 10**9))
    _traffic_call(fn, param, value)
