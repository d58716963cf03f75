"""Tests for point-in-time features: brute-force per-query filter, pandas / polars, leakage, freshness, skew."""
import datetime

import numba
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

import simengine
from simengine import naive
from simengine.features import AGGREGATES
from simengine.kernels import features as kf

DAY = np.timedelta64(1, "D")
T0 = np.datetime64("2024-01-01T00:00:00", "ns")


def _check_against_loop(events, queries, windows, labels, aggs, closed, loop_windows=None):
    """Every (agg, window) column equals the notebook's per-query filter (sums to 1e-12 relative, rest exact)."""
    out = simengine.point_in_time_features(events, queries, windows=windows, aggs=aggs, closed=closed)
    assert len(out) == len(queries["time"])
    ref = naive.pit_features_loop(events, queries, loop_windows or windows, aggs, closed)
    for (agg, j), expected in ref.items():
        got = out[f"value_{agg}_{labels[j]}"].to_numpy()
        if agg in ("sum", "mean"):
            assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=f"{agg} {labels[j]}")
        else:
            assert_array_equal(got, expected, err_msg=f"{agg} {labels[j]}")
    return out


@st.composite
def _event_sets(draw):
    n_ev = draw(st.integers(0, 60))
    n_q = draw(st.integers(1, 25))
    n_ent = draw(st.integers(1, 6))
    horizon = draw(st.integers(1, 40))  # small: many ties, events at the as-of times and at window edges
    ints = st.integers(0, horizon)
    ev_t = np.array(draw(st.lists(ints, min_size=n_ev, max_size=n_ev)), dtype=np.int64)
    ev_e = np.array(draw(st.lists(st.integers(0, n_ent - 1), min_size=n_ev, max_size=n_ev)), dtype=np.int64)
    ev_v = np.array(draw(st.lists(st.integers(-50, 50), min_size=n_ev, max_size=n_ev)), dtype=float) / 4
    q_t = np.array(draw(st.lists(ints, min_size=n_q, max_size=n_q)), dtype=np.int64)
    q_e = np.array(draw(st.lists(st.integers(0, n_ent + 1), min_size=n_q, max_size=n_q)), dtype=np.int64)
    return ev_t, ev_e, ev_v, q_t, q_e


@settings(deadline=None, max_examples=30)
@given(data=_event_sets(), closed=st.sampled_from(["left", "both"]), ids=st.sampled_from(["int", "str"]),
       times=st.sampled_from(["numeric", "datetime"]))
def test_point_in_time_matches_per_query_filter(data, closed, ids, times):
    ev_t, ev_e, ev_v, q_t, q_e = data
    ent = (lambda e: e) if ids == "int" else (lambda e: np.array([f"c{i}" for i in e], dtype=object))
    if times == "numeric":
        tt = lambda t: t.astype(float)  # noqa: E731
        windows, labels, loop = [1, 3.0, 10], ["1", "3", "10"], None
    else:
        tt = lambda t: T0 + t * DAY  # noqa: E731
        windows, labels, loop = ["1D", "3D", datetime.timedelta(days=10)], ["1D", "3D", "10D"], [DAY, 3 * DAY, 10 * DAY]
    events = {"entity": ent(ev_e), "time": tt(ev_t), "value": ev_v}
    queries = {"entity": ent(q_e), "time": tt(q_t)}
    _check_against_loop(events, queries, windows, labels, AGGREGATES, closed, loop)


def test_long_unsorted_entities_use_the_merge_path():
    g = np.random.default_rng(3)
    n = 700
    events = {"entity": g.integers(0, 3, n), "time": g.integers(0, 300, n).astype(float), "value": g.normal(size=n)}
    queries = {"entity": g.integers(0, 4, 80), "time": g.integers(0, 320, 80).astype(float)}
    _check_against_loop(events, queries, [7, 50, 400], ["7", "50", "400"], AGGREGATES, "left")
    _check_against_loop(events, queries, [7, 50, 400], ["7", "50", "400"], AGGREGATES, "both")


def test_scatter_and_sort_groups_are_stable():
    # 80 rows a group over [0, 20) (groups 1, 2: integers, ties keep their order): the block's bucket pass,
    # then an insertion sort; group 3 clustered in [0, 0.01): the insertion sort gives up, the merge sort
    # takes over; with rows at +-1.7e308 (a span that overflows float64) the block pass is by group only
    g = np.random.default_rng(4)
    n = 400
    codes = g.integers(0, 5, n)
    t0 = g.random(n) * 20
    t0[(codes == 1) | (codes == 2)] = t0[(codes == 1) | (codes == 2)].round()
    t0[codes == 3] = (g.random(np.sum(codes == 3)) / 100).round(4)
    for t in (t0, np.r_[1.7e308, -1.7e308, t0[2:]]):
        counts, records, rows = np.zeros(6, np.int64), np.empty((n, 2)), np.arange(n, dtype=float)
        low_bits, last = np.empty(n, np.int32), np.int64(5)
        kf.scatter_groups(codes, np.int64(0), last, 0, n, counts, t, rows, np.empty((0, 2)), low_bits[:0], 3)
        starts = np.r_[0, np.cumsum(counts)]
        slots = starts[:1].copy()  # one block of 2**3 groups: the scatter keeps input order, sort_groups regroups
        kf.scatter_groups(codes, np.int64(0), last, 0, n, slots, t, rows, records, low_bits, 3)
        assert_array_equal(records[:, 1], np.arange(n))
        kf.sort_groups(records, low_bits, starts, starts, 0, 6, np.empty((n, 2)), np.empty(3 * n + 9, np.int64))
        sorted_t, rows = records[:, 0], records[:, 1]
        expected = np.lexsort((np.arange(n), t, codes))
        assert_array_equal(rows, expected)
        assert_array_equal(sorted_t, t[expected])
        assert_array_equal(np.diff(starts)[:5], np.bincount(codes, minlength=5))


def test_no_leakage_with_closed_left():
    # each query's entity has past events (values < 1) and events at and after its as-of time carrying a
    # huge marker value: none of the marker may reach a feature
    g = np.random.default_rng(5)
    n_q = 200
    q_time = T0 + g.integers(100, 200, n_q) * DAY + g.integers(0, 86400, n_q).astype("timedelta64[s]")
    past = np.repeat(q_time, 5) - g.integers(1, 100 * 86400, 5 * n_q).astype("timedelta64[s]")
    future = np.r_[q_time, q_time + g.integers(0, 30 * 86400, n_q).astype("timedelta64[s]")]
    events = pd.DataFrame({"entity": np.r_[np.repeat(np.arange(n_q), 5), np.arange(n_q), np.arange(n_q)],
                           "time": np.r_[past, future],
                           "value": np.r_[g.random(5 * n_q), np.full(2 * n_q, 1e9)]}).sample(frac=1.0, random_state=0)
    queries = pd.DataFrame({"entity": np.arange(n_q), "time": q_time})
    out = simengine.point_in_time_features(events, queries, windows=["7D", "90D", "365D"],
                                           aggs=["sum", "max", "last", "time_since_last"])
    for w in ("7D", "90D", "365D"):
        assert (out[f"value_sum_{w}"] < 5).all() and (out[f"value_max_{w}"].fillna(0) < 1).all()
        assert (out[f"value_last_{w}"].fillna(0) < 1).all()
        since = out[f"value_time_since_last_{w}"].dropna()
        assert (since > pd.Timedelta(0)).all()  # never an event at or after the as-of time
    assert (out["value_sum_365D"] > 0).all()  # the past events are all found
    both = simengine.point_in_time_features(events, queries, windows=["7D"], aggs=["max"], closed="both")
    assert (both["value_max_7D"] >= 1e9).all()  # the marker at the as-of time is there to be found


def test_output_aligned_with_queries_index_and_stale_flag():
    events = pd.DataFrame({"entity": ["a", "a", "b"], "time": [1.0, 5.0, 2.0], "value": [1.0, 2.0, 4.0]})
    queries = pd.DataFrame({"entity": ["b", "a", "zz", "a"], "time": [10.0, 6.0, 3.0, 1.0]}, index=[7, 3, 9, 1])
    out = simengine.point_in_time_features(events, queries, windows=[5], aggs=["sum", "count", "mean"],
                                           max_age=3)
    assert list(out.index) == [7, 3, 9, 1]
    assert list(out.columns) == ["value_sum_5", "value_count_5", "value_mean_5", "stale"]
    assert_array_equal(out["value_sum_5"], [0.0, 3.0, 0.0, 0.0])
    assert_array_equal(out["value_count_5"], [0, 2, 0, 0])
    assert out["value_count_5"].dtype == np.int64
    assert np.isnan(out["value_mean_5"].iloc[0]) and out["value_mean_5"].iloc[1] == 1.5
    assert_array_equal(out["stale"], [True, False, True, True])  # 8 old, 1 old, no events, none before


def test_equal_to_pandas_merge_asof_and_polars():
    g = np.random.default_rng(6)
    n = 3000
    events = {"entity": g.integers(0, 50, n), "time": T0 + g.integers(0, 200 * 86400, n).astype("timedelta64[s]"),
              "value": g.exponential(10.0, n)}
    queries = {"entity": g.integers(0, 55, 400), "time": T0 + g.integers(0, 200 * 86400, 400).astype("timedelta64[s]")}
    wins = ["7D", "30D", "90D"]
    deltas = [pd.Timedelta(w) for w in wins]
    for closed in ("left", "both"):
        out = simengine.point_in_time_features(events, queries, windows=wins, closed=closed)
        ref = naive.pit_sum_count_pandas(events, queries, deltas, closed)
        for j, w in enumerate(wins):
            assert_allclose(out[f"value_sum_{w}"], ref[f"value_sum_{j}"], rtol=1e-10, atol=1e-9)
            assert_array_equal(out[f"value_count_{w}"], ref[f"value_count_{j}"])
    pl = pytest.importorskip("polars")
    ref = naive.pit_sum_count_polars(events, queries, [d.to_pytimedelta() for d in deltas], "left")
    out = simengine.point_in_time_features(pl.DataFrame(events), pl.DataFrame(queries), windows=wins)
    for j, w in enumerate(wins):
        assert_allclose(out[f"value_sum_{w}"], ref[f"value_sum_{j}"].to_numpy(), rtol=1e-10, atol=1e-9)
        assert_array_equal(out[f"value_count_{w}"], ref[f"value_count_{j}"].to_numpy())


def test_session_features_equal_pandas_groupby_rolling():
    g = np.random.default_rng(7)
    n = 2000
    secs = g.choice(np.arange(20 * 86400), n, replace=False)  # distinct times: pandas treats ties by row order
    events = pd.DataFrame({"entity": g.choice(["u1", "u2", "u3", "u4"], n),
                           "time": T0 + secs.astype("timedelta64[s]"), "value": g.normal(size=n)})
    for closed in ("left", "both"):
        out = simengine.session_features(events, window="30min", aggs=["sum", "count", "min", "max"],
                                         closed=closed)
        roll = (events.sort_values("time").set_index("time").groupby("entity")["value"]
                .rolling("30min", closed=closed))
        pieces = {name: getattr(roll, name)() for name in ("sum", "count", "min", "max")}
        for name, series in pieces.items():
            frame = series.reset_index()
            keyed = frame.set_index(["entity", "time"])["value"]
            expected = keyed.reindex(pd.MultiIndex.from_frame(events[["entity", "time"]])).to_numpy()
            got = out[f"value_{name}_30min"].to_numpy(float)
            if name == "count":
                expected = np.nan_to_num(expected)
            elif name == "sum":
                expected = np.where(out["value_count_30min"] == 0, 0.0, expected)
            assert_allclose(got, expected, rtol=1e-9, atol=1e-9, err_msg=f"{closed} {name}")


def test_session_features_at_every_event_equal_point_in_time_at_the_events():
    events = {"entity": np.array([1, 1, 2, 1, 2]), "time": np.array([0.0, 1.0, 1.0, 1.0, 5.0]),
              "value": np.array([1.0, 2.0, 3.0, 4.0, 5.0])}
    for closed in ("left", "both"):
        s = simengine.session_features(events, window=2, aggs=AGGREGATES, closed=closed)
        p = simengine.point_in_time_features(events, {"entity": events["entity"], "time": events["time"]},
                                             windows=2, aggs=AGGREGATES, closed=closed)
        pd.testing.assert_frame_equal(s, p)
    both = simengine.session_features(events, window=2, closed="both")
    assert_array_equal(both["value_sum_2"], [1.0, 7.0, 3.0, 7.0, 5.0])  # ties at time 1 counted alike


def test_point_in_time_iv():
    ev = {"entity": np.array([1, 2]), "time": np.array([1.0, 2.0]), "value": np.array([1.0, 2.0])}
    q = {"entity": np.array([1]), "time": np.array([3.0])}
    call = simengine.point_in_time_features
    with pytest.raises(ValueError, match="`entity` column 'user' is not in `events`"):
        call(ev, q, entity="user")
    with pytest.raises(ValueError, match="`time` column 'ts' is not in `events`"):
        call(ev, q, time="ts")
    with pytest.raises(ValueError, match="`value` column 'amount' is not in `events`"):
        call(ev, q, value="amount")
    with pytest.raises(TypeError, match="`events` must be a pandas or polars DataFrame"):
        call([1, 2], q)
    with pytest.raises(TypeError, match="`entity` ids must be of one kind"):
        call(ev, {"entity": np.array(["a"], dtype=object), "time": np.array([3.0])})
    with pytest.raises(TypeError, match="`time` columns must be of one kind"):
        call(ev, {"entity": np.array([1]), "time": np.array([T0])})
    with pytest.raises(TypeError, match="`entity` column of `events` must hold strings or integers"):
        call({**ev, "entity": np.array([1.5, 2.5])}, q)
    with pytest.raises(ValueError, match="`entity` column of `events` holds a missing id at row 1"):
        call(pd.DataFrame({**ev, "entity": pd.array([1, None], dtype="Int64")}), q, windows=1)
    with pytest.raises(ValueError, match="`entity` column of `queries` holds a missing id at row 0"):
        call(ev, pd.DataFrame({"entity": pd.array([None], dtype="Int64"), "time": [3.0]}), windows=1)
    with pytest.raises(ValueError, match="`entity` column of `events` holds a missing id at row 0"):
        call(pd.DataFrame({**ev, "entity": pd.array([None, "a"], dtype="string")}),
             {"entity": np.array(["a"], dtype=object), "time": np.array([3.0])}, windows=1)
    with pytest.raises(ValueError, match="`time` column of `events` holds NaN or inf at row 1"):
        call({**ev, "time": np.array([1.0, np.nan])}, q)
    with pytest.raises(ValueError, match="`time` column of `queries` holds NaT at row 0"):
        call({**ev, "time": np.array([T0, T0])}, {"entity": np.array([1]), "time": np.array(["NaT"], "M8[ns]")},
             windows="1D")
    with pytest.raises(TypeError, match="`time` column of `events` must hold datetimes or numbers"):
        call({**ev, "time": np.array(["x", "y"])}, q)
    with pytest.raises(ValueError, match="`value` column of `events` holds NaN or inf at row 0"):
        call({**ev, "value": np.array([np.nan, 1.0])}, q)
    with pytest.raises(TypeError, match="`value` column of `events` must be numeric"):
        call({**ev, "value": np.array(["a", "b"])}, q)
    with pytest.raises(ValueError, match="the `entity`, `time` and `value` columns of `events` must have the same"):
        call({**ev, "value": np.array([1.0])}, q)
    with pytest.raises(ValueError, match="`windows` must be positive"):
        call(ev, q, windows=[-1])
    with pytest.raises(ValueError, match="`windows` must be a positive duration"):
        call({**ev, "time": np.array([T0, T0])}, {"entity": np.array([1]), "time": np.array([T0])}, windows="-7D")
    with pytest.raises(ValueError, match="`windows` 'soon' is not a duration"):
        call({**ev, "time": np.array([T0, T0])}, {"entity": np.array([1]), "time": np.array([T0])}, windows="soon")
    with pytest.raises(TypeError, match="`windows` must be a number when times are numeric"):
        call(ev, q, windows="7D")
    with pytest.raises(ValueError, match="`windows` repeats a window"):
        call(ev, q, windows=[1, 1.0])
    with pytest.raises(ValueError, match="`windows` must name at least one window"):
        call(ev, q, windows=[])
    with pytest.raises(ValueError, match="`aggs` must be drawn from"):
        call(ev, q, windows=1, aggs=["median"])
    with pytest.raises(ValueError, match="`closed` must be one of"):
        call(ev, q, windows=1, closed="right")
    with pytest.raises(ValueError, match="`max_age` must be positive"):
        call(ev, q, windows=1, max_age=0)


def test_session_features_iv():
    ev = {"entity": np.array(["a"]), "time": np.array([T0]), "value": np.array([1.0])}
    with pytest.raises(ValueError, match="`window` must be a positive duration"):
        simengine.session_features(ev, window="0min")
    with pytest.raises(TypeError, match="`window` must be an offset string"):
        simengine.session_features(ev, window=30)
    with pytest.raises(ValueError, match="`value` column 'v' is not in `events`"):
        simengine.session_features(ev, value="v")


def test_freshness():
    now = pd.Timestamp("2024-01-10 00:00")
    last = pd.Series(pd.to_datetime(["2024-01-09 20:00", "2024-01-08 06:00", None, "2024-01-10 02:00"]),
                     index=["a", "b", "c", "d"])
    out = simengine.freshness(last, now=now, max_age="24h")
    assert list(out.columns) == ["updated_at", "age", "stale"]
    assert_array_equal(out["stale"], [False, True, True, False])
    assert out["age"]["a"] == pd.Timedelta("4h") and out["age"]["d"] == pd.Timedelta("-2h")
    wide = pd.DataFrame({"f1": last.to_numpy()[:2], "f2": last.to_numpy()[2:]}, index=["e1", "e2"])
    long = simengine.freshness(wide, now=now, max_age=datetime.timedelta(hours=30))
    assert list(long.index) == [("e1", "f1"), ("e1", "f2"), ("e2", "f1"), ("e2", "f2")]
    assert_array_equal(long["stale"], [False, True, True, False])
    num = simengine.freshness({"x": 1.0, "y": 8.0}, now=10.0, max_age=5)
    assert_array_equal(num["age"], [9.0, 2.0]) and list(num["stale"]) == [True, False]


def test_freshness_iv():
    last = pd.Series(pd.to_datetime(["2024-01-09"]))
    with pytest.raises(TypeError, match="`now` must be a datetime"):
        simengine.freshness(last, now=object())
    with pytest.raises(ValueError, match="`max_age` must be a positive duration"):
        simengine.freshness(last, now="2024-01-10", max_age="-1h")
    with pytest.raises(TypeError, match="`now` must be a finite number"):
        simengine.freshness([1.0, 2.0], now="2024-01-10")
    with pytest.raises(TypeError, match="`updated_at` must hold datetimes or numbers"):
        simengine.freshness(["a", "b"], now=1.0)
    with pytest.raises(ValueError, match="`updated_at` must be 1-D"):
        simengine.freshness(np.ones((2, 2)), now=1.0)


def test_skew_report_equals_scipy_and_psi():
    g = np.random.default_rng(8)
    train = pd.DataFrame({"a": g.normal(0, 1, 800), "b": g.exponential(2.0, 800)})
    serve = pd.DataFrame({"a": g.normal(0.5, 1.5, 500), "b": g.exponential(2.0, 500)})
    serve.loc[3, "b"] = np.nan
    rep = simengine.skew_report(train, serve, bins=8)
    assert list(rep.columns) == ["psi", "ks_statistic", "ks_pvalue", "mean_shift", "std_ratio", "flag"]
    assert list(rep.index) == ["a", "b"]
    for f in ("a", "b"):
        x, y = train[f].to_numpy(), serve[f].dropna().to_numpy()
        ks = stats.ks_2samp(x, y)
        assert rep.loc[f, "ks_statistic"] == ks.statistic and rep.loc[f, "ks_pvalue"] == ks.pvalue
        assert rep.loc[f, "psi"] == simengine.psi(x, y, bins=8, binning="quantile")
        assert_allclose(rep.loc[f, "mean_shift"], y.mean() - x.mean(), rtol=1e-12)
        assert_allclose(rep.loc[f, "std_ratio"], y.std(ddof=1) / x.std(ddof=1), rtol=1e-12)
    assert rep.loc["a", "flag"] and not rep.loc["b", "flag"]
    # two versions of one feature: v1 vs v2 as 1-D columns
    v = simengine.skew_report(train["a"].rename("spend_v1"), serve["a"].rename("spend_v2"), binning="equal-width")
    assert list(v.index) == ["spend_v1"]
    assert v.loc["spend_v1", "psi"] == simengine.psi(train["a"], serve["a"], binning="equal-width")


def test_skew_report_iv():
    a = pd.DataFrame({"x": np.arange(10.0)})
    with pytest.raises(ValueError, match="`training` and `serving` must have the same feature columns"):
        simengine.skew_report(pd.DataFrame({"x": np.arange(10.0), "y": 1.0}), a)
    with pytest.raises(ValueError, match="`binning` must be one of"):
        simengine.skew_report(a, a, binning="kmeans")
    with pytest.raises(TypeError, match="`training` column 's' must be numeric"):
        simengine.skew_report(pd.DataFrame({"s": ["a", "b"]}), pd.DataFrame({"s": ["a", "b"]}))
    with pytest.raises(ValueError, match="`bins` must be an integer >= 1"):
        simengine.skew_report(a, a, bins=0)


def test_slicing_the_window_pass_changes_no_number(monkeypatch):
    import simengine.features as sf

    g = np.random.default_rng(9)
    n = 3000
    events = {"entity": g.integers(0, 300, n), "time": g.integers(0, 500, n).astype(float), "value": g.normal(size=n)}
    queries = {"entity": g.integers(0, 310, 500), "time": g.integers(0, 520, 500).astype(float)}
    whole = simengine.point_in_time_features(events, queries, windows=[10, 100], aggs=AGGREGATES)
    monkeypatch.setattr(sf, "_ENTITY_BLOCK", 1)  # one entity per block, slices from one block up
    sliced = simengine.point_in_time_features(events, queries, windows=[10, 100], aggs=AGGREGATES)
    pd.testing.assert_frame_equal(whole, sliced, check_exact=True)
    # two threads (the scatter in two row ranges, the window pass in two entity ranges): the same numbers
    monkeypatch.setattr(sf, "_THREADED_ROWS", 0)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        threaded = simengine.point_in_time_features(events, queries, windows=[10, 100], aggs=AGGREGATES)
    finally:
        numba.set_num_threads(before)
    pd.testing.assert_frame_equal(whole, threaded, check_exact=True)


def test_docstring_examples():
    # simengine.features is not (yet) in tests/test_docstrings.py's MODULES: its examples run here
    import doctest

    import simengine.features as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 10
