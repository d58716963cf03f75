"""Bad-input fuzz of the drift slice: psi, psi_monitor, PSIMonitor, ddm, DDM, adwin, ADWIN, simulate_drift_detection.

Every public function, constructor and update method is called with one argument replaced by a hostile value
(tests/_fuzz.py): each call returns, or raises TypeError / ValueError naming that argument without NumPy or
numba internals, and ends quickly.  Valid values that only make a call long (a count of 10**8 streams) are
skipped: they are the caller's choice, and the count limits have their own tests in test_drift.py.
"""
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings, strategies as st

import simengine
from _fuzz import ANY_BAD, bad_values, check_call
from simengine import naive
from simengine.kernels import drift as kd

_G = np.random.default_rng(12)
_REF = _G.normal(size=60)
_CUR = _G.normal(0.5, 1.0, size=50)
_BITS = (_G.random(80) < 0.3).astype(float)
_WINDOWS = [_G.normal(size=30) for _ in range(4)]


def _psi(**kw):
    return simengine.psi(kw.pop("reference", _REF), kw.pop("current", _CUR), **kw)


def _psi2d(**kw):
    ref = kw.pop("reference", _REF[:36].reshape(6, 6))
    return simengine.psi(ref, kw.pop("current", _CUR[:36].reshape(6, 6)), **kw)


def _psi_monitor(**kw):
    return simengine.psi_monitor(kw.pop("reference", _REF), kw.pop("windows", _WINDOWS), **kw)


def _psi_monitor_init(**kw):
    return simengine.PSIMonitor(kw.pop("reference", _REF), **kw)


def _psi_monitor_update(window):
    mon = simengine.PSIMonitor(_REF)
    return mon.update(window).result()


def _ddm(**kw):
    return simengine.ddm(kw.pop("errors", _BITS), **kw)


def _ddm_update(x):
    return simengine.DDM().update(x)


def _adwin(**kw):
    return simengine.adwin(kw.pop("values", _BITS), **kw)


def _adwin_update(x):
    return simengine.ADWIN().update(x)


def _simulate(**kw):
    base = dict(n_sims=20, n_steps=60, drift_start=30, rng=1)
    if (isinstance(kw.get("drift"), str) and kw["drift"] == "gradual") or "drift_end" in kw:
        base.update(drift="gradual", drift_end=45)
    base.update(kw)
    return simengine.simulate_drift_detection(**base)


def _simulate_params(detector, key):
    def call(value):
        return _simulate(detector=detector, **{key: value})

    return call


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """Compile every kernel once with valid input, so that the timeouts time calls, not the JIT."""
    _psi()
    _psi(binning="quantile")
    _psi(bins=np.linspace(-3, 3, 7))
    _psi(reference=np.c_[_REF, _REF], current=np.c_[_CUR, _CUR])
    _psi_monitor()
    _psi_monitor(binning="equal-width")
    _psi_monitor_update(_CUR)
    _ddm()
    _ddm_update(1)
    _adwin()
    _adwin_update(1.0)
    _simulate()
    _simulate(detector="adwin")
    series = pd.Series(_REF)  # read-only arrays under pandas' copy-on-write: kernels of their own
    _psi(reference=series, current=series)
    _psi(reference=series, current=series, binning="quantile")
    _psi_monitor(reference=series, windows=[series])
    _psi_monitor(reference=series, windows=[series], binning="equal-width")
    _psi_monitor_update(series)
    _adwin(values=pd.Series(_BITS))


# (id, callable taking the parameter by keyword, parameter name)
CASES = [(f"psi-{p}", _psi, p) for p in ("reference", "current", "bins", "binning", "eps", "axis", "nan_policy")]
CASES += [(f"psi2d-{p}", _psi2d, p) for p in ("axis", "bins", "nan_policy")]
CASES += [
    (f"psi_monitor-{p}", _psi_monitor, p)
    for p in ("reference", "windows", "threshold", "consecutive", "bins", "binning", "eps")
]
CASES += [
    (f"PSIMonitor-{p}", _psi_monitor_init, p) for p in ("reference", "threshold", "consecutive", "bins", "binning", "eps")
]
CASES += [("PSIMonitor.update-window", _psi_monitor_update, "window")]
CASES += [(f"ddm-{p}", _ddm, p) for p in ("errors", "warm_start", "warning_threshold", "drift_threshold", "reset")]
CASES += [(f"DDM-{p}", simengine.DDM, p) for p in ("warm_start", "warning_threshold", "drift_threshold", "reset")]
CASES += [("DDM.update-x", _ddm_update, "x")]
CASES += [
    (f"adwin-{p}", _adwin, p) for p in ("values", "delta", "clock", "max_buckets", "min_window_length", "grace_period")
]
CASES += [(f"ADWIN-{p}", simengine.ADWIN, p) for p in ("delta", "clock", "max_buckets", "min_window_length", "grace_period")]
CASES += [("ADWIN.update-x", _adwin_update, "x")]
CASES += [
    (f"simulate-{p}", _simulate, p)
    for p in (
        "detector", "drift", "n_sims", "n_steps", "drift_start", "drift_end",
        "error_before", "error_after", "rng", "progress",
    )
]
CASES += [
    (f"simulate-ddm-{k}", _simulate_params("ddm", k), k) for k in ("warm_start", "warning_threshold", "drift_threshold", "reset")
]
CASES += [
    (f"simulate-adwin-{k}", _simulate_params("adwin", k), k)
    for k in ("delta", "clock", "max_buckets", "min_window_length", "grace_period")
]
# a parameter of the other detector is refused, naming it
CASES += [("simulate-ddm-delta", _simulate_params("ddm", "delta"), "delta")]
CASES += [("simulate-adwin-warm_start", _simulate_params("adwin", "warm_start"), "warm_start")]

# Valid values that only make the call long: counts of streams or steps, and the number of bins of a PSI.
_EXPENSIVE = {"n_sims": 10**4, "n_steps": 10**4, "bins": 10**5}


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
    if fn in (_psi_monitor_update, _ddm_update, _adwin_update) or fn.__name__ == "call":
        ok, out = check_call(fn, (value,), None, param=param, timeout=20.0)
    else:
        ok, out = check_call(fn, (), {param: value}, param=param, timeout=20.0)
    if ok and fn is _psi:
        # a PSI is a sum of non-negative terms (or nan for a side without values under nan_policy="omit")
        assert not np.any(np.asarray(out) < 0)


@pytest.mark.parametrize("fn, param", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_fuzz_drift_listed_bad_values(fn, param):
    for value in ANY_BAD:
        _call(fn, param, value)


@pytest.mark.parametrize("fn, param", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@settings(max_examples=8, deadline=None)
@given(value=bad_values())
def test_fuzz_drift_generated_bad_values(fn, param, value):
    # a large count that is valid is not hostile, only slow: leave those to the listed values
    assume(not (isinstance(value, int) and 10**4 < value <= 10**9))
    _call(fn, param, value)


_HUGE = [1e307, -1e307, 1.7e308, -1.7e308, -1.79e308, 1e160, -3.0, 5e-324, 0.0]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.sampled_from(_HUGE), min_size=1, max_size=30),
    st.lists(st.sampled_from(_HUGE), min_size=1, max_size=30),
    st.integers(1, 12),
)
def test_fuzz_psi_equal_width_near_float_limits(ref, cur, bins):
    """Equal-width PSI of data near the float64 limits: finite sorted edges within a few ulps of the exact
    equal-width positions (no overflow of max - min), and the PSI np.histogram gives on those edges."""
    ref = np.array(ref)
    cur = np.array(cur)
    ok, out = check_call(simengine.psi, (ref, cur), {"bins": bins})
    assert ok and math.isfinite(out)
    lo = min(ref.min(), cur.min())
    hi = max(ref.max(), cur.max())
    edges = kd._equal_width_edges(np.array([lo]), np.array([hi]), bins)[0]
    assert np.isfinite(edges).all() and (edges[1:] >= edges[:-1]).all()
    if hi > lo:
        span = Fraction(hi) - Fraction(lo)
        for b, e in enumerate(edges):
            exact = Fraction(lo) + span * b / bins
            assert abs(Fraction(e) - exact) <= 4 * np.spacing(max(abs(lo), abs(hi)))
    assert out == pytest.approx(naive.psi_numpy(ref, cur, edges), rel=1e-12, abs=1e-15)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.sampled_from(_HUGE[:-2]), min_size=1, max_size=30),
    st.lists(st.sampled_from(_HUGE[:-2]), min_size=1, max_size=30),
    st.integers(1, 12),
)
def test_fuzz_psi_quantile_near_float_limits(ref, cur, bins):
    """Quantile PSI near the float64 limits (where np.quantile's a + (b - a) t overflows) equals the PSI of
    the same data scaled by 2**-4: an exact scaling, so the same quantile edges and the same counts."""
    ref = np.array(ref)
    cur = np.array(cur)
    ok, out = check_call(simengine.psi, (ref, cur), {"bins": bins, "binning": "quantile"})
    assert ok and math.isfinite(out)
    assert out == simengine.psi(ref / 16, cur / 16, bins=bins, binning="quantile")
