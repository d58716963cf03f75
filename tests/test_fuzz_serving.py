"""Bad-input fuzz of the serving module (issue 18).

Every public function is called with one argument replaced by a hostile value (tests/_fuzz.py): each call
returns, or raises TypeError / ValueError naming that argument without NumPy or numba internals, and ends
quickly.  Valid counts that only make a call long are skipped.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings

import simengine
from _fuzz import ANY_BAD, bad_values, check_call

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
