"""Bad-input fuzz of the features slice: point_in_time_features, session_features, freshness, skew_report.

Every argument, and every column of the event and query tables, is replaced by a hostile value (tests/_fuzz.py):
each call returns, or raises TypeError / ValueError naming that argument (or column parameter) without NumPy,
pandas or numba internals, and ends quickly.
"""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

import simengine
from _fuzz import ANY_BAD, bad_values, check_call

_T0 = np.datetime64("2024-01-01", "ns")
_EVENTS = {"entity": np.array([1, 1, 2, 3]), "time": _T0 + np.array([0, 2, 1, 5]) * np.timedelta64(1, "D"),
           "value": np.array([1.0, 2.0, 3.0, 4.0])}
_QUERIES = {"entity": np.array([1, 2, 4]), "time": _T0 + np.array([3, 3, 3]) * np.timedelta64(1, "D")}
_TRAIN = pd.DataFrame({"x": np.linspace(0.0, 1.0, 30)})
_SERVE = pd.DataFrame({"x": np.linspace(0.2, 1.2, 20)})


def _pit(**kw):
    return simengine.point_in_time_features(kw.pop("events", _EVENTS), kw.pop("queries", _QUERIES),
                                            **{"windows": ("1D", "3D"), **kw})


def _session(**kw):
    return simengine.session_features(kw.pop("events", _EVENTS), **kw)


def _fresh(**kw):
    return simengine.freshness(kw.pop("updated_at", pd.Series([_T0, _T0])), **{"now": _T0, **kw})


def _skew(**kw):
    return simengine.skew_report(kw.pop("training", _TRAIN), kw.pop("serving", _SERVE), **kw)


def _event_column(column):
    def call(value):
        return _pit(events={**_EVENTS, column: value})

    call.__name__ = "call"
    return call


def _query_column(column):
    def call(value):
        return _pit(queries={**_QUERIES, column: value})

    call.__name__ = "call"
    return call


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """Compile every kernel once with valid input, so that the timeouts time calls, not the JIT."""
    _pit(aggs=simengine.features.AGGREGATES)
    _pit(events={**_EVENTS, "time": np.array([0.0, 2.0, 1.0, 5.0])}, queries={**_QUERIES, "time": np.ones(3)},
         windows=1, aggs=simengine.features.AGGREGATES)
    _session()
    _skew()


CASES = [(f"pit-{p}", _pit, p) for p in ("events", "queries", "entity", "time", "value", "windows", "aggs",
                                         "closed", "max_age")]
CASES += [(f"session-{p}", _session, p) for p in ("events", "entity", "window", "aggs", "closed")]
CASES += [(f"freshness-{p}", _fresh, p) for p in ("updated_at", "now", "max_age")]
CASES += [(f"skew-{p}", _skew, p) for p in ("training", "serving", "bins", "binning")]
CASES += [(f"events-column-{c}", _event_column(c), c) for c in ("entity", "time", "value")]
CASES += [(f"queries-column-{c}", _query_column(c), c) for c in ("entity", "time")]


def _call(fn, param, value):
    if fn.__name__ == "call":
        check_call(fn, (value,), None, param=param, timeout=20.0)
    else:
        check_call(fn, (), {param: value}, param=param, timeout=20.0)


@pytest.mark.parametrize("fn, param", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_fuzz_features_listed_bad_values(fn, param):
    for value in ANY_BAD:
        _call(fn, param, value)


@pytest.mark.parametrize("fn, param", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@settings(max_examples=5, deadline=None)
@given(value=bad_values())
def test_fuzz_features_generated_bad_values(fn, param, value):
    _call(fn, param, value)
