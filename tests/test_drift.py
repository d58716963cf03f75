"""Tests for drift detection: PSI, PSI monitor, DDM (vs river), ADWIN2 (vs brute force), detector simulations."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import simengine
from _fuzz import run_isolated
from _subproc import run_with_threads
from simengine import naive
from simengine._rng import as_seed_sequence, numpy_block_generators
from simengine.kernels import drift as kd

# ---------------------------------------------------------------------------------------------------------
# PSI
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("binning", ["equal-width", "quantile"])
def test_psi_1d_matches_numpy_definition(binning):
    g = np.random.default_rng(0)
    ref = g.normal(size=3000)
    cur = g.normal(0.3, 1.2, size=2000)
    if binning == "quantile":
        edges = np.quantile(ref, np.linspace(0, 1, 11))
    else:
        edges = naive.psi_equal_width_edges(ref, cur, 10)
    expected = naive.psi_numpy(ref, cur, edges)
    assert abs(simengine.psi(ref, cur, binning=binning) - expected) <= 1e-12


def test_psi_explicit_edges_and_out_of_range_values():
    g = np.random.default_rng(1)
    ref = g.normal(size=1000)
    cur = g.normal(0.5, 2.0, size=1000)  # many values beyond the edges: they go to the end bins
    edges = np.array([-1.0, -0.3, 0.0, 0.2, 1.5])
    assert abs(simengine.psi(ref, cur, bins=edges) - naive.psi_numpy(ref, cur, edges)) <= 1e-12
    uniform = np.linspace(-1, 1, 9)
    assert abs(simengine.psi(ref, cur, bins=uniform) - naive.psi_numpy(ref, cur, uniform)) <= 1e-12


@pytest.mark.parametrize("binning", ["equal-width", "quantile"])
def test_psi_2d_matches_per_feature_loop(binning):
    g = np.random.default_rng(2)
    ref = g.normal(size=(5000, 7)) * np.arange(1, 8)
    cur = g.normal(0.2, 1.0, size=(3000, 7)) * np.arange(1, 8)
    cur[:, 3] = np.round(cur[:, 3])  # ties on the edges
    expected = naive.psi_per_feature(ref, cur, 10, binning)
    assert_allclose(simengine.psi(ref, cur, binning=binning), expected, rtol=0, atol=1e-12)
    assert_allclose(simengine.psi(ref.T, cur.T, binning=binning, axis=1), expected, rtol=0, atol=1e-12)


def test_psi_dataframe_gives_series():
    g = np.random.default_rng(3)
    ref = pd.DataFrame(g.normal(size=(500, 3)), columns=["a", "b", "c"])
    cur = pd.DataFrame(g.normal(size=(400, 3)), columns=["a", "b", "c"])
    out = simengine.psi(ref, cur)
    assert isinstance(out, pd.Series)
    assert list(out.index) == ["a", "b", "c"]
    assert_allclose(out.to_numpy(), simengine.psi(ref.to_numpy(), cur.to_numpy()), rtol=0, atol=0)


def test_psi_constant_column_is_zero_and_detects_shifted_constant():
    ref = np.ones((100, 2))
    cur = np.ones((50, 2))
    cur[:, 1] = 2.0
    out = simengine.psi(ref, cur)
    assert out[0] == 0.0
    # all reference mass in the first bin and all current mass in the last one
    eps = 1e-7
    expected = 2 * (1 + eps - eps) * math.log((1 + eps) / eps)
    assert abs(out[1] - expected) <= 1e-9


def test_psi_nan_policy_omit_equals_dropping_nan():
    g = np.random.default_rng(4)
    ref = g.normal(size=(400, 2))
    cur = g.normal(size=(300, 2))
    ref[::7, 0] = np.nan
    cur[::5, 1] = np.nan
    out = simengine.psi(ref, cur, nan_policy="omit")
    for j in range(2):
        r = ref[:, j][~np.isnan(ref[:, j])]
        c = cur[:, j][~np.isnan(cur[:, j])]
        assert abs(out[j] - simengine.psi(r, c)) <= 1e-12
    all_nan = cur.copy()
    all_nan[:, 1] = np.nan
    assert np.isnan(simengine.psi(ref, all_nan, nan_policy="omit")[1])


@settings(deadline=None, max_examples=30)
@given(
    data=st.data(),
    n_ref=st.integers(1, 60),
    n_cur=st.integers(1, 60),
    p=st.integers(1, 4),
    bins=st.integers(1, 12),
    binning=st.sampled_from(["equal-width", "quantile"]),
)
def test_psi_properties(data, n_ref, n_cur, p, bins, binning):
    elems = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64) | st.integers(-3, 3).map(float)
    ref = data.draw(hnp.arrays(np.float64, (n_ref, p), elements=elems))
    cur = data.draw(hnp.arrays(np.float64, (n_cur, p), elements=elems))
    out = simengine.psi(ref, cur, bins=bins, binning=binning)
    assert out.shape == (p,)
    assert np.all(out >= 0.0)
    assert_allclose(out, naive.psi_per_feature(ref, cur, bins, binning), rtol=0, atol=1e-12)
    # row order does not matter (exactly: only integer counts change order)
    perm = data.draw(st.permutations(range(n_cur)))
    assert_array_equal(simengine.psi(ref, cur[list(perm)], bins=bins, binning=binning), out)
    # permuting features permutes the result
    cols = list(data.draw(st.permutations(range(p))))
    assert_array_equal(simengine.psi(ref[:, cols], cur[:, cols], bins=bins, binning=binning), out[cols])
    assert_array_equal(simengine.psi(ref, ref, bins=bins, binning=binning), np.zeros(p))


def test_psi_iv():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="`binning` must be one of"):
        simengine.psi(x, x, binning="kmeans")
    with pytest.raises(ValueError, match="`bins` must be an integer >= 1"):
        simengine.psi(x, x, bins=0)
    with pytest.raises(TypeError, match="`bins` must be an int >= 1 or a 1-D array"):
        simengine.psi(x, x, bins=True)
    with pytest.raises(ValueError, match="`bins` as edges needs at least 2"):
        simengine.psi(x, x, bins=[1.0])
    with pytest.raises(ValueError, match="`bins` as edges must be sorted"):
        simengine.psi(x, x, bins=[3.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="`eps` must be in"):
        simengine.psi(x, x, eps=0.0)
    with pytest.raises(ValueError, match="`reference` must not be empty"):
        simengine.psi([], x)
    with pytest.raises(ValueError, match="`current` must not be empty"):
        simengine.psi(x, np.empty((0, 3)))
    with pytest.raises(ValueError, match="`current` contains NaN"):
        simengine.psi(x, np.r_[x, np.nan])
    with pytest.raises(ValueError, match="`reference` must not contain inf"):
        simengine.psi(np.r_[x, np.inf], x, nan_policy="omit")
    with pytest.raises(ValueError, match="`nan_policy` must be one of"):
        simengine.psi(x, x, nan_policy="propagate")
    with pytest.raises(ValueError, match="same number of dimensions"):
        simengine.psi(x, x[:, None])
    with pytest.raises(ValueError, match="same number of features"):
        simengine.psi(np.ones((5, 2)), np.ones((5, 3)))
    with pytest.raises(ValueError, match="`axis` must be 0 or 1"):
        simengine.psi(np.ones((5, 2)), np.ones((5, 2)), axis=2)
    with pytest.raises(ValueError, match="`reference` must be 1-D or 2-D"):
        simengine.psi(np.ones((2, 2, 2)), np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="`reference` must contain real numbers"):
        simengine.psi(np.array(["a", "b"]), x)
    with pytest.raises(TypeError, match="both be DataFrames"):
        simengine.psi(pd.DataFrame({"a": x}), x)
    with pytest.raises(ValueError, match="same columns"):
        simengine.psi(pd.DataFrame({"a": x}), pd.DataFrame({"b": x}))


def test_psi_value_errors_come_before_shape_errors():
    # equal-width binning checks values in its min/max pass, after the shapes; the errors stay as before
    bad = np.ones((5, 2))
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="`reference` contains NaN"):
        simengine.psi(bad, np.ones((5, 3)))
    with pytest.raises(ValueError, match="`reference` contains NaN"):
        simengine.psi(bad, np.ones((5, 2)), axis=2)
    with pytest.raises(ValueError, match="`reference` contains NaN"):
        simengine.psi(bad, np.ones((5, 2)), axis="0")
    with pytest.raises(ValueError, match="`current` contains NaN"):
        simengine.psi(np.ones(5), bad)
    inf = np.ones((5, 2))
    inf[3, 1] = -np.inf
    with pytest.raises(ValueError, match="`reference` contains NaN"):
        simengine.psi(bad, inf)
    with pytest.raises(ValueError, match="`current` must not contain inf"):
        simengine.psi(bad, inf, nan_policy="omit")
    with pytest.raises(ValueError, match="`reference` must not contain inf"):
        simengine.psi(inf, bad, nan_policy="omit")
    with pytest.raises(ValueError, match="`reference` must not contain inf"):
        simengine.psi(inf, bad, bins=[0.0, 1.0, 2.0])


def test_psi_scan_and_probe_kernels():
    g = np.random.default_rng(7)
    x = g.normal(size=(2 * kd.PSI_CHUNK + 37, 19))
    x[g.random(x.shape) < 0.1] = np.nan
    x[:, 3] = np.nan
    x[5, 4] = np.inf
    x[-1, 5] = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN column
        expected_lo, expected_hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    expected_lo[3], expected_hi[3] = np.inf, -np.inf  # no value: the empty min and max
    for cols in ([4], [0, 5, 3], list(range(19))):  # tiles of 256, 255 and 247 values
        lo, hi, n_nan = simengine.drift._scan1(np.ascontiguousarray(x[:, cols]))  # the kernel, chunks reduced
        assert_array_equal(lo, expected_lo[cols])
        assert_array_equal(hi, expected_hi[cols])
        assert_array_equal(n_nan, np.isnan(x[:, cols]).sum(axis=0))
    flat = x.reshape(-1)
    assert simengine.drift._nonfinite1(flat) == np.count_nonzero(~np.isfinite(flat))  # the kernel, chunks summed
    assert simengine.drift._nonfinite1(np.nan_to_num(flat, posinf=0.0, neginf=0.0)) == 0


@pytest.mark.parametrize("has_nan", [False, True])
@pytest.mark.parametrize("p", [3, 21])
def test_psi_uniform_counts_equal_edge_search(has_nan, p):
    # the vectorised uniform-width counting must give exactly the bins of a search in the edges, also for
    # values on, just beside and outside the edges, and for edges whose rounding bound forces every check
    g = np.random.default_rng(8)
    n, k = 2 * kd.PSI_CHUNK + 11, 7
    x = g.uniform(-1.5, 1.5, size=(n, p))
    lo = g.uniform(-1.0, 0.0, size=p)
    width = g.uniform(0.5, 2.0, size=p)
    edges = lo[:, None] + np.arange(k + 1) / k * width[:, None]
    edges[:, -1] = lo + width
    edges[-1] = np.linspace(1e16, 1e16 + 14.0, k + 1)  # rounding error above 1/4 bin: every value checked
    edges[-2] = 5.0  # zero width: one bin
    rows = g.integers(0, n, size=(6, p))
    cols = np.arange(p)
    x[rows[0], cols] = edges[cols, g.integers(0, k + 1, size=p)]
    x[rows[1], cols] = np.nextafter(edges[cols, g.integers(0, k + 1, size=p)], np.inf)
    x[rows[2], cols] = np.nextafter(edges[cols, g.integers(0, k + 1, size=p)], -np.inf)
    x[rows[3], cols] = edges[cols, 0]
    x[rows[4], cols] = edges[cols, -1]
    x[:, -1] = 1e16 + g.integers(-4, 20, size=n) * 1.0
    x[:, -2] = 5.0 + g.integers(-1, 2, size=n)
    if has_nan:
        x[g.random(x.shape) < 0.05] = np.nan
    nan = np.isnan(x).sum(axis=0) if has_nan else None
    fast, fast_valid = simengine.drift._counts(x, edges, True, nan)  # the kernel, chunks summed, NaN out of bin 0
    search, search_valid = simengine.drift._counts(x, edges, False, nan)
    assert_array_equal(fast, search)
    assert_array_equal(fast_valid, search_valid)
    for j in range(p):
        v = x[:, j][~np.isnan(x[:, j])]
        expected, _ = np.histogram(np.clip(v, edges[j, 0], edges[j, -1]), bins=edges[j])
        if edges[j, 0] == edges[j, -1]:  # below the repeated edge: first bin; on or above it: last bin
            expected = np.zeros(k, dtype=np.int64)
            expected[0] = np.count_nonzero(v < edges[j, 0])
            expected[-1] = v.size - expected[0]
        assert_array_equal(fast[j], expected)


# ---------------------------------------------------------------------------------------------------------
# PSI monitor
# ---------------------------------------------------------------------------------------------------------


def _windows(seed=5):
    g = np.random.default_rng(seed)
    shifts = [0, 0, 0, 1.0, 0, 1.0, 1.0, 1.0, 1.0, 0, 1.0, 1.0, 1.0]
    return g.normal(size=3000), np.array([g.normal(s, 1.0, size=400) for s in shifts])


@pytest.mark.parametrize("binning", ["quantile", "equal-width"])
def test_psi_monitor_matches_per_window_numpy(binning):
    ref, wins = _windows()
    res = simengine.psi_monitor(ref, wins, binning=binning, consecutive=3)
    if binning == "quantile":
        edges = np.quantile(ref, np.linspace(0, 1, 11))
    else:
        edges = naive.psi_equal_width_edges(ref, ref, 10)
    expected = np.array([naive.psi_numpy(ref, w, edges) for w in wins])
    assert_allclose(res.psi, expected, rtol=0, atol=1e-12)
    assert_array_equal(res.drift, expected > 0.2)
    # streaks by hand: a run resets at a non-drifting window
    run, streak = 0, []
    for d in expected > 0.2:
        run = run + 1 if d else 0
        streak.append(run)
    assert_array_equal(res.streak, streak)
    assert_array_equal(res.alert, np.array(streak) >= 3)
    assert_array_equal(res.alert_windows, np.flatnonzero(np.array(streak) == 3))


def test_psi_monitor_exact_alerts_and_streaming_equality():
    ref, wins = _windows()
    res = simengine.psi_monitor(ref, wins)
    assert res.drift.tolist() == [False] * 3 + [True, False] + [True] * 4 + [False] + [True] * 3
    assert res.alert_windows.tolist() == [7, 12]
    # an iterable of ragged windows and the streaming class give the same numbers
    ragged = [w[: 300 + 10 * i] for i, w in enumerate(wins)]
    batch = simengine.psi_monitor(ref, ragged)
    mon = simengine.PSIMonitor(ref)
    for i, w in enumerate(ragged):
        mon.update(w)
        assert mon.psi == batch.psi[i]
        assert mon.streak == batch.streak[i]
        assert mon.alert == batch.alert[i]
        assert mon.drift_detected == batch.drift[i]
    streamed = mon.result()
    for name in ("psi", "drift", "streak", "alert", "alert_windows"):
        assert_array_equal(getattr(streamed, name), getattr(batch, name))
    assert len(res.to_frame()) == len(wins)


def test_psi_monitor_iv():
    ref = np.arange(100.0)
    with pytest.raises(ValueError, match="`threshold` must be in"):
        simengine.psi_monitor(ref, [ref], threshold=0)
    with pytest.raises(ValueError, match="`consecutive` must be an integer >= 1"):
        simengine.psi_monitor(ref, [ref], consecutive=0)
    with pytest.raises(ValueError, match="`reference` must be 1-D"):
        simengine.psi_monitor(np.ones((3, 3)), [ref])
    with pytest.raises(ValueError, match="`windows` must contain at least one window"):
        simengine.psi_monitor(ref, [])
    with pytest.raises(ValueError, match=r"`windows\[1\]` must not be empty"):
        simengine.psi_monitor(ref, [ref, []])
    with pytest.raises(TypeError, match="`windows` must be a 2-D array"):
        simengine.psi_monitor(ref, 3.0)
    with pytest.raises(ValueError, match="`windows` must be finite"):
        simengine.psi_monitor(ref, np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="`binning` must be one of"):
        simengine.psi_monitor(ref, [ref], binning="x")


def test_PSIMonitor_iv():
    with pytest.raises(ValueError, match="`reference` must not be empty"):
        simengine.PSIMonitor([])
    mon = simengine.PSIMonitor(np.arange(10.0))
    with pytest.raises(ValueError, match=r"`windows\[0\]` must be 1-D"):
        mon.update(np.ones((2, 2)))


# ---------------------------------------------------------------------------------------------------------
# DDM
# ---------------------------------------------------------------------------------------------------------


def _river_ddm(stream):
    from river.drift.binary import DDM as RiverDDM

    det = RiverDDM()
    out = []
    for x in stream:
        det.update(int(x))
        out.append(2 if det.drift_detected else (1 if det.warning_detected else 0))
    return np.array(out)


@settings(deadline=None, max_examples=40)
@given(
    n=st.integers(1, 1500),
    p0=st.floats(0.0, 1.0),
    p1=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_ddm_equals_river(n, p0, p1, seed):
    g = np.random.default_rng(seed)
    cut = n // 2
    x = np.r_[g.random(cut) < p0, g.random(n - cut) < p1].astype(np.int64)
    expected = _river_ddm(x)
    res = simengine.ddm(x)
    assert_array_equal(res.status, expected)
    assert res.first_warning == (np.flatnonzero(expected == 1)[0] if (expected == 1).any() else -1)
    assert res.first_drift == (np.flatnonzero(expected == 2)[0] if (expected == 2).any() else -1)
    assert_array_equal(res.drift_indices, np.flatnonzero(expected == 2))


@settings(deadline=None, max_examples=25)
@given(
    n=st.integers(1, 1200),
    p0=st.floats(0.0, 0.6),
    p1=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    warm_start=st.integers(0, 60),
    wt=st.floats(0.0, 3.0),
    extra=st.floats(0.0, 2.0),
)
def test_ddm_with_river_arguments_equals_river(n, p0, p1, seed, warm_start, wt, extra):
    """Issue 13: river's constructor call, positional as river orders it, gives river's statuses."""
    from river.drift.binary import DDM as RiverDDM

    g = np.random.default_rng(seed)
    cut = n // 3
    x = np.r_[g.random(cut) < p0, g.random(n - cut) < p1].astype(np.int64)
    args = (warm_start, wt, wt + extra)
    river, ours = RiverDDM(*args), simengine.DDM(*args)
    expected, streamed = [], []
    for v in x.tolist():
        river.update(v)
        expected.append(2 if river.drift_detected else (1 if river.warning_detected else 0))
        ours.update(v)
        streamed.append(ours.status)
        assert (ours.warning_detected, ours.drift_detected) == (river.warning_detected, river.drift_detected)
    assert streamed == expected
    res = simengine.ddm(x, warm_start=warm_start, warning_threshold=wt, drift_threshold=wt + extra)
    assert_array_equal(res.status, expected)
    assert (ours.warm_start, ours.warning_threshold, ours.drift_threshold) == args


@settings(deadline=None, max_examples=25)
@given(
    x=hnp.arrays(np.int8, st.tuples(st.integers(1, 6), st.integers(1, 300)), elements=st.integers(0, 1)),
    wl=st.floats(0.5, 3.0),
    extra=st.floats(0.0, 2.0),
    ms=st.integers(0, 40),
    reset=st.booleans(),
)
def test_ddm_batch_equals_streaming_and_rows(x, wl, extra, ms, reset):
    kw = dict(warm_start=ms, warning_threshold=wl, drift_threshold=wl + extra, reset=reset)
    res = simengine.ddm(x, **kw)
    for i, row in enumerate(x):
        one = simengine.ddm(row, **kw)
        assert_array_equal(one.status, res.status[i])
        assert one.first_drift == res.first_drift[i]
        assert one.first_warning == res.first_warning[i]
        assert_array_equal(one.drift_indices, res.drift_indices[i])
        det = simengine.DDM(**kw)
        streamed = [det.update(v).status for v in row]
        assert_array_equal(streamed, res.status[i])
    if reset:
        assert_array_equal(
            res.status, np.array([naive.ddm_python(r, wl, wl + extra, ms) for r in x], dtype=np.int8)
        )


@settings(deadline=None, max_examples=30)
@given(
    n_streams=st.sampled_from([9, 17, 24, 25, 64, 70, 131]),
    n_steps=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
    wl=st.floats(0.5, 3.0),
    extra=st.floats(0.0, 2.0),
    ms=st.integers(0, 40),
    reset=st.booleans(),
)
def test_ddm_simd_path_equals_step_by_step(n_streams, n_steps, seed, wl, extra, ms, reset):
    # Enough streams for the lockstep SIMD path of `_ddm_scan` (branch-free `_ddm_update`, padded lanes,
    # blocks of steps), with error rates that jump per stream so that drifts, resets and warnings occur;
    # every stream must match `_ddm_step` (what 1-D input and the streaming class run) bit for bit.
    g = np.random.default_rng(seed)
    cut = g.integers(0, n_steps + 1, size=(n_streams, 1))
    rate = np.where(np.arange(n_steps) < cut, g.random((n_streams, 1)) * 0.3, g.random((n_streams, 1)))
    x = (g.random((n_streams, n_steps)) < rate).astype(np.uint8)
    kw = dict(warm_start=ms, warning_threshold=wl, drift_threshold=wl + extra, reset=reset)
    res = simengine.ddm(x, **kw)
    for i, row in enumerate(x):
        one = simengine.ddm(row, **kw)
        assert_array_equal(res.status[i], one.status)
        assert res.first_warning[i] == one.first_warning
        assert res.first_drift[i] == one.first_drift
        assert res.n_drifts[i] == one.n_drifts
        assert_array_equal(res.drift_indices[i], one.drift_indices)
    det = simengine.DDM(**kw)
    assert_array_equal([det.update(v).status for v in x[-1]], res.status[-1])


def test_ddm_simd_path_equals_river():
    g = np.random.default_rng(11)
    x = (g.random((40, 3000)) < np.where(np.arange(3000) < 1500, 0.1, 0.35)).astype(np.uint8)
    res = simengine.ddm(x)
    assert (res.n_drifts > 0).all()
    for i in range(0, 40, 7):
        assert_array_equal(res.status[i], _river_ddm(x[i]))


def test_ddm_thread_invariance():
    code = (
        "import numpy as np, simengine\n"
        "g = np.random.default_rng(3)\n"
        "x = (g.random((203, 700)) < np.where(np.arange(700) < 350, 0.15, 0.4)).astype(np.uint8)\n"
        "r = simengine.ddm(x)\n"
        "result = (r.status, r.first_warning, r.first_drift, r.n_drifts)\n"
    )
    one = run_with_threads(code, 1)
    two = run_with_threads(code, 2)
    for u, v in zip(one, two):
        assert_array_equal(u, v)


def test_ddm_no_false_drift_at_end_of_warm_up():
    # Streams whose first errors come after a run of correct predictions: tracking p_min + s_min from the
    # first sample gives p_min = s_min = 0 and a drift at index 30, the first tested step.
    g = np.random.default_rng(7)
    x = (g.random((400, 200)) < 0.15).astype(np.uint8)
    naive_first = np.array([next((t for t, s in enumerate(naive.ddm_python(r, track_from_start=True)) if s == 2), -1) for r in x])
    assert np.mean(naive_first == 30) > 0.5
    res = simengine.ddm(x)
    assert np.mean(res.status[:, 30] == 2) == 0.0
    # the same streams as the naive variant, so any stream ours flags the naive one flags too or earlier
    assert np.mean(res.first_drift >= 0) < np.mean(naive_first >= 0)


def test_ddm_exact_regression():
    g = np.random.default_rng(42)
    x = np.r_[g.random(1000) < 0.2, g.random(1000) < 0.5]
    res = simengine.ddm(x)
    expected = _river_ddm(x)
    assert res.drift_indices.tolist() == np.flatnonzero(expected == 2).tolist()
    assert res.drift_indices.tolist() == [1457]
    assert res.first_warning == 59
    assert np.flatnonzero(res.status == 1)[:5].tolist() == [59, 293, 294, 1164, 1165]


def test_ddm_input_dtypes_agree():
    # one-byte inputs are read in place (no conversion copy), wider ones converted: same results either way
    g = np.random.default_rng(5)
    x = g.random((30, 400)) < np.where(np.arange(400) < 200, 0.1, 0.5)
    ref = simengine.ddm(x.astype(np.float64))
    for arr in (x, x.astype(np.uint8), x.astype(np.int8), x.astype(np.int64), x.astype(np.uint16)):
        res = simengine.ddm(arr)
        assert_array_equal(res.status, ref.status)
        assert_array_equal(res.first_drift, ref.first_drift)
        assert_array_equal(res.n_drifts, ref.n_drifts)
    strided = np.zeros((30, 800), dtype=np.int8)
    strided[:, ::2] = x
    assert_array_equal(simengine.ddm(strided[:, ::2]).status, ref.status)
    # bool bytes other than 0/1 (a view of other data) still mean True
    odd = np.where(x, np.uint8(7), np.uint8(0)).view(np.bool_)
    assert_array_equal(simengine.ddm(odd).status, ref.status)
    with pytest.raises(ValueError, match="`errors` must be binary"):
        simengine.ddm(np.array([0, 1, -1], dtype=np.int8))
    with pytest.raises(ValueError, match="`errors` must be binary"):
        simengine.ddm(np.array([0, 1, 2], dtype=np.uint8))


def test_ddm_iv():
    with pytest.raises(ValueError, match="`errors` must be binary"):
        simengine.ddm([0, 1, 2])
    with pytest.raises(ValueError, match="`errors` must be binary"):
        simengine.ddm([0.0, 0.5])
    with pytest.raises(ValueError, match="`errors` must be 1-D or 2-D"):
        simengine.ddm(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="`errors` must not be empty"):
        simengine.ddm([])
    with pytest.raises(TypeError, match="`errors` must contain 0/1 values"):
        simengine.ddm(["a"])
    with pytest.raises(ValueError, match=r"`warning_threshold` must be in \[0, inf\)"):
        simengine.ddm([0, 1], warning_threshold=-1)
    with pytest.raises(ValueError, match="`drift_threshold` must be >= `warning_threshold`"):
        simengine.ddm([0, 1], warning_threshold=3.0, drift_threshold=2.0)
    with pytest.raises(ValueError, match="`warm_start` must be an integer >= 0"):
        simengine.ddm([0, 1], warm_start=-1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'min_samples'"):
        simengine.ddm([0, 1], min_samples=30)  # the old name is gone (river's names since issue 13)
    with pytest.raises(TypeError, match="`reset` must be True or False"):
        simengine.ddm([0, 1], reset=1)


def test_DDM_iv():
    with pytest.raises(ValueError, match="`drift_threshold` must be a finite number"):
        simengine.DDM(drift_threshold=float("nan"))
    with pytest.raises(ValueError, match="`warm_start` must be an integer"):
        simengine.DDM(-1)  # river's positional order: warm_start first
    with pytest.raises(TypeError, match="`reset` must be True or False"):
        simengine.DDM(reset=None)
    det = simengine.DDM()
    with pytest.raises(ValueError, match="`x` must be 0 or 1"):
        det.update(0.5)
    with pytest.raises(ValueError, match="`x` must be 0 or 1"):
        det.update("1")


# ---------------------------------------------------------------------------------------------------------
# ADWIN
# ---------------------------------------------------------------------------------------------------------


@settings(deadline=None, max_examples=50)
@given(
    n=st.integers(1, 160),
    shift=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**32 - 1),
    binary=st.booleans(),
    delta=st.sampled_from([0.002, 0.05, 0.3]),
    min_len=st.integers(1, 8),
    clock=st.integers(1, 4),
)
def test_adwin_uncompressed_equals_brute_force(n, shift, seed, binary, delta, min_len, clock):
    g = np.random.default_rng(seed)
    if binary:
        x = (g.random(n) < np.where(np.arange(n) < n // 2, 0.2, min(0.2 + shift / 4, 1.0))).astype(float)
    else:
        x = g.integers(0, 4, n) + np.where(np.arange(n) < n // 2, 0.0, shift)
    kw = dict(delta=delta, min_window_length=min_len, grace_period=10, clock=clock)
    # with more buckets per level than values every bucket holds one value: ADWIN2 is then exact ADWIN
    res = simengine.adwin(x, max_buckets=200, **kw)
    assert res.drift_indices.tolist() == naive.adwin_exact(x, **kw)


def test_adwin_compressed_cuts_are_exact_window_cuts():
    # With the exponential histogram the window still holds exactly the last `width` values, and a cut is
    # only made when a split at a bucket boundary is significant: the brute force must agree it is.
    g = np.random.default_rng(8)
    x = np.r_[g.random(600) < 0.2, g.random(600) < 0.5, g.random(600) < 0.1].astype(float)
    det = simengine.ADWIN()
    cuts = 0
    for t, v in enumerate(x):
        width_before = det.width
        if det.update(v).drift_detected:
            cuts += 1
            window = x[t - width_before : t + 1]
            assert naive._adwin_exact_split(list(window), 0.002, 5)
            assert det.width < width_before + 1
    assert cuts >= 2


@settings(deadline=None, max_examples=25)
@given(
    x=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 400)), elements=st.integers(0, 3).map(float)),
    max_buckets=st.integers(2, 6),
    clock=st.integers(1, 40),
)
def test_adwin_batch_equals_streaming_and_rows(x, max_buckets, clock):
    kw = dict(max_buckets=max_buckets, clock=clock, delta=0.1)
    res = simengine.adwin(x, **kw)
    for i, row in enumerate(x):
        one = simengine.adwin(row, **kw)
        assert_array_equal(one.detected, res.detected[i])
        assert one.width == res.width[i]
        det = simengine.ADWIN(**kw)
        assert_array_equal([det.update(v).drift_detected for v in row], res.detected[i])
        assert det.width == res.width[i]
        assert det.estimation == res.estimation[i]
        assert det.n_detections == res.n_drifts[i]


def test_adwin_false_alarms_on_stationary_streams_bounded_by_delta():
    # ADWIN's guarantee: on a stationary stream the probability of shrinking the window at a given step is at
    # most delta.  We check the per-step rate of detections over 100 streams x 5000 steps against delta
    # plus 4 binomial standard errors.
    delta = 0.01
    g = np.random.default_rng(9)
    x = (g.random((100, 5000)) < 0.3).astype(float)
    res = simengine.adwin(x, delta=delta)
    steps = x.size
    rate = res.detected.sum() / steps
    assert rate <= delta + 4 * math.sqrt(delta * (1 - delta) / steps)
    # a looser delta must not give fewer alarms than a strict one on the same data (monotone in delta)
    assert simengine.adwin(x[:20], delta=0.3).detected.sum() >= simengine.adwin(x[:20], delta=0.001).detected.sum()


def test_adwin_exact_regression_and_estimation():
    g = np.random.default_rng(0)
    x = np.r_[g.random(1000) < 0.2, g.random(1000) < 0.6].astype(float)
    # river's ADWIN (issue 13: river's bound and restart after a detection) gives these same numbers
    res = simengine.adwin(x)
    assert res.drift_indices.tolist() == [1055]
    assert res.width == 944
    assert_allclose(res.estimation, x[-res.width :].mean(), rtol=1e-12)
    res = simengine.adwin(x, clock=1)
    assert res.drift_indices.tolist() == [1030]
    assert res.width == 969
    assert_allclose(res.estimation, x[-res.width :].mean(), rtol=1e-12)


def _river_adwin(x, *args, **kwargs):
    from river.drift import ADWIN as RiverADWIN

    det = RiverADWIN(*args, **kwargs)
    hits = []
    for t, v in enumerate(x.tolist()):
        det.update(v)
        if det.drift_detected:
            hits.append(t)
    return hits, det.width, det.estimation


# river's constructor calls (positional in river's order, or keywords), covering every parameter
_RIVER_ADWIN_CALLS = [
    ((), {}),
    ((), {"clock": 1}),
    ((0.05, 4, 3, 2, 0), {}),
    ((), {"delta": 0.3, "clock": 7, "max_buckets": 2, "min_window_length": 1, "grace_period": 30}),
    ((0.01,), {"min_window_length": 0, "max_buckets": 8}),
]
_ADWIN_NAMES = ("delta", "clock", "max_buckets", "min_window_length", "grace_period")


def _adwin_streams(kind, n_streams, n_steps, seed):
    """Streams with a few changes of level: 0/1 errors or real values (normal, and scaled integers)."""
    g = np.random.default_rng(seed)
    change = np.sort(g.integers(0, n_steps, size=(n_streams, 3)), axis=1)
    segment = (np.arange(n_steps)[None, :, None] >= change[:, None, :]).sum(axis=2)
    level = g.random((n_streams, 4))[np.arange(n_streams)[:, None], segment]
    if kind == "binary":
        return (g.random((n_streams, n_steps)) < level).astype(np.float64)
    x = g.normal(level * 2.0, 1.0)
    x[::2] = np.round(x[::2] * 3.0) * 0.7  # ties and non-representable steps
    return x


@pytest.mark.parametrize("kind", ["binary", "real"])
@pytest.mark.parametrize("args, kwargs", _RIVER_ADWIN_CALLS)
def test_adwin_with_river_arguments_equals_river(args, kwargs, kind):
    """Issue 13: river's ADWIN constructor calls give river's detections exactly (indices, and the final
    width and estimation bit for bit), in the streaming class and in the batch over many streams."""
    x = _adwin_streams(kind, 4, 2500, seed=len(args) + 10 * len(kwargs) + (kind == "real"))
    res = simengine.adwin(x, **dict(zip(_ADWIN_NAMES, args)), **kwargs)
    n_river_hits = 0
    for i, row in enumerate(x):
        hits, width, estimation = _river_adwin(row, *args, **kwargs)
        n_river_hits += len(hits)
        assert res.drift_indices[i].tolist() == hits
        assert (res.width[i], res.estimation[i]) == (width, estimation)
        det = simengine.ADWIN(*args, **kwargs)
        assert [t for t, v in enumerate(row) if det.update(v).drift_detected] == hits
        assert (det.width, det.estimation) == (width, estimation)
    assert n_river_hits > 0  # the streams do exercise cuts and restarts


@settings(deadline=None, max_examples=30)
@given(
    n=st.integers(1, 2000),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["binary", "normal", "cauchy", "constant", "offset"]),
    delta=st.sampled_from([1e-6, 0.002, 0.05, 0.5, 0.99]),
    clock=st.integers(1, 50),
    max_buckets=st.integers(2, 10),
    min_window_length=st.integers(0, 12),
    grace_period=st.integers(0, 60),
)
def test_adwin_equals_river_generated(n, seed, kind, delta, clock, max_buckets, min_window_length, grace_period):
    """River's ADWIN on generated parameters and streams (heavy tails, large offsets, constants): the same
    detections, width and estimation."""
    g = np.random.default_rng(seed)
    levels = np.repeat(g.normal(size=8), -(-n // 8))[:n]
    x = {
        "binary": lambda: (g.random(n) < 1.0 / (1.0 + np.exp(-2.0 * levels))).astype(float),
        "normal": lambda: g.normal(levels, 1.0) * 1e50,
        "cauchy": lambda: g.standard_cauchy(n),
        "constant": lambda: np.full(n, levels[0]),
        "offset": lambda: np.round(g.normal(levels, 1.0), 1) - 1e6,
    }[kind]()
    args = (delta, clock, max_buckets, min_window_length, grace_period)
    hits, width, estimation = _river_adwin(x, *args)
    res = simengine.adwin(x, **dict(zip(_ADWIN_NAMES, args)))
    assert res.drift_indices.tolist() == hits
    assert (res.width, res.estimation) == (width, estimation)


def test_adwin_river_bound_and_restart_differ_from_the_paper():
    """The two departures of river's ADWIN from the paper, seen on one stream: after a detection the next
    update starts an empty window (river replaces its helper), and the clock restarts with it."""
    g = np.random.default_rng(0)
    x = np.r_[g.random(1000) < 0.2, g.random(1000) < 0.6].astype(float)
    det = simengine.ADWIN()
    for t, v in enumerate(x):
        det.update(v)
        if det.drift_detected:
            assert det.width > 1 and det.n_detections == 1
            det.update(x[t + 1])
            assert det.width == 1 and not det.drift_detected
            break
    # the first 32 updates after the restart hold no cut test, whatever they are
    for v in np.ones(30):
        assert not det.update(v).drift_detected
    # with 1/(n0 - L + 1) + 1/(n1 - L + 1) a split of 2 x L values is tested as if each part had one
    assert not naive._adwin_exact_split([0.0] * 5 + [1.0] * 5, 0.002, 5)
    assert naive._adwin_exact_split([0.0] * 40 + [1.0] * 40, 0.002, 5)


def test_ddm_and_adwin_results_to_frame_one_row_per_stream():
    g = np.random.default_rng(4)
    x = (g.random((3, 800)) < np.where(np.arange(800) < 400, 0.1, 0.6)).astype(np.uint8)
    d = simengine.ddm(x)
    frame = d.to_frame()
    assert list(frame.columns) == ["first_warning", "first_drift", "n_drifts"]
    assert_array_equal(frame["first_drift"], d.first_drift)
    assert simengine.ddm(x[0]).to_frame()["n_drifts"].tolist() == [d.n_drifts[0]]
    a = simengine.adwin(x.astype(float))
    frame = a.to_frame()
    assert list(frame.columns) == ["first_drift", "n_drifts", "width", "estimation"]
    assert_array_equal(frame["width"], a.width)
    assert set(a.to_dict()) == {"detected", "first_drift", "drift_indices", "n_drifts", "width", "estimation"}
    with pytest.raises(TypeError, match="does not unpack"):
        tuple(a)


def test_adwin_iv():
    x = np.zeros(20)
    with pytest.raises(ValueError, match="`delta` must be in"):
        simengine.adwin(x, delta=0)
    with pytest.raises(ValueError, match="`max_buckets` must be an integer >= 2"):
        simengine.adwin(x, max_buckets=1)
    with pytest.raises(ValueError, match="`min_window_length` must be an integer >= 0"):
        simengine.adwin(x, min_window_length=-1)
    with pytest.raises(ValueError, match="`clock` must be an integer >= 1"):
        simengine.adwin(x, clock=0)
    with pytest.raises(ValueError, match="`grace_period` must be an integer >= 0"):
        simengine.adwin(x, grace_period=-1)
    with pytest.raises(ValueError, match="`values` must be finite"):
        simengine.adwin([0.0, np.nan])
    with pytest.raises(ValueError, match="`values` must not be empty"):
        simengine.adwin([])
    with pytest.raises(ValueError, match="`values` must be 1-D or 2-D"):
        simengine.adwin(np.zeros((1, 1, 1)))


def test_ADWIN_iv():
    with pytest.raises(ValueError, match="`delta` must be in"):
        simengine.ADWIN(delta=1.5)
    det = simengine.ADWIN()
    with pytest.raises(ValueError, match="`x` must be a finite real number"):
        det.update(float("inf"))


# ---------------------------------------------------------------------------------------------------------
# Detector simulations
# ---------------------------------------------------------------------------------------------------------


def _replay(ss, n_streams, n_steps, start, end, p0, p1, step):
    """NumPy replay of the fused kernel: stream by stream from its block's Generator, stop at first hit."""
    gens = numpy_block_generators(ss, -(-n_streams // kd.SIM_BLOCK))
    n_false = np.zeros(n_streams, dtype=np.int64)
    first = np.full(n_streams, -1)
    for s in range(n_streams):
        g = gens[s // kd.SIM_BLOCK]
        state = step()
        for t in range(n_steps):
            p = p0 if t < start else (p1 if t >= end else p0 + (p1 - p0) * (t - start) / (end - start))
            x = 1 if g.random() < p else 0
            if state(x):
                if t < start:
                    n_false[s] += 1
                else:
                    first[s] = t
                    break
    return n_false, first


@pytest.mark.parametrize("detector", ["ddm", "adwin"])
@pytest.mark.parametrize("drift", ["sudden", "gradual"])
def test_simulate_matches_numpy_replay(detector, drift):
    n_streams, n_steps, start = 150, 400, 200
    end = 300 if drift == "gradual" else start

    def make():
        det = simengine.DDM() if detector == "ddm" else simengine.ADWIN()
        return lambda x: det.update(x).drift_detected

    res = simengine.simulate_drift_detection(
        detector=detector, drift=drift, n_sims=n_streams, n_steps=n_steps, drift_start=start,
        drift_end=None if drift == "sudden" else end, rng=11,
    )
    n_false, first = _replay(as_seed_sequence(11), n_streams, n_steps, start, end, 0.15, 0.40, make)
    assert_array_equal(res.delays, np.where(first >= 0, first - start, -1))
    assert res.false_alarm_rate == np.mean(n_false > 0)
    assert res.false_alarms_per_stream == n_false.mean()
    assert_allclose(res.false_alarms_per_stream_se, n_false.std(ddof=1) / np.sqrt(n_streams), rtol=1e-12)
    d = first[first >= 0] - start
    assert res.detection_rate == d.size / n_streams
    assert_allclose(res.delay_mean, d.mean(), rtol=1e-12)
    assert_allclose(res.delay_mean_se, d.std(ddof=1) / np.sqrt(d.size), rtol=1e-12)
    assert res.delay_median == np.median(d)


def test_simulate_quantile_se_against_monte_carlo_spread():
    # The order-statistic SE of the median delay should match the spread of medians over replications
    # (checked against the SD of 30 independent runs, within the sampling error of an SD from 30 values).
    meds, ses = [], []
    for seed in range(30):
        r = simengine.simulate_drift_detection(n_sims=400, n_steps=800, drift_start=400, rng=seed)
        meds.append(r.delay_median)
        ses.append(r.delay_median_se)
    sd = np.std(meds, ddof=1)
    assert 0.5 * sd < np.mean(ses) < 2.0 * sd


def test_simulate_statistical_acceptance():
    # Larger error jump -> faster and surer detection; gradual drift -> longer delay than sudden.
    a = simengine.simulate_drift_detection(n_sims=2000, n_steps=1000, error_after=0.4, rng=1)
    b = simengine.simulate_drift_detection(n_sims=2000, n_steps=1000, error_after=0.6, rng=2)
    c = simengine.simulate_drift_detection(n_sims=2000, drift="gradual", drift_end=800, rng=3)
    assert b.delay_mean + 4 * math.hypot(a.delay_mean_se, b.delay_mean_se) < a.delay_mean
    assert c.delay_mean - 4 * math.hypot(a.delay_mean_se, c.delay_mean_se) > a.delay_mean
    assert abs(a.detection_rate_se - math.sqrt(a.detection_rate * (1 - a.detection_rate) / 2000)) < 1e-15
    # no change at all: ADWIN (delta = 0.002) rarely detects in the 500 steps after the nominal drift start
    null = simengine.simulate_drift_detection(n_sims=2000, error_after=0.15, detector="adwin", rng=4)
    assert null.detection_rate <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / 2000)


def test_simulate_thread_invariance():
    code = (
        "import simengine\n"
        "r = simengine.simulate_drift_detection(n_sims=300, n_steps=600, drift_start=300, rng=5)\n"
        "a = simengine.simulate_drift_detection(detector='adwin', n_sims=200, n_steps=600, drift_start=300, rng=6)\n"
        "import numpy as np\n"
        "g = np.random.default_rng(0)\n"
        "p = simengine.psi(g.normal(size=(5000, 30)), g.normal(size=(4000, 30)))\n"
        "result = (r.delays, a.delays, p)\n"
    )
    one = run_with_threads(code, 1)
    two = run_with_threads(code, 2)
    for u, v in zip(one, two):
        assert_array_equal(u, v)


def test_simulate_result_declares_its_estimates():
    from simengine._results import declaration_problems

    cls = simengine.SimulateDriftDetectionResult if hasattr(simengine, "SimulateDriftDetectionResult") else (
        simengine.drift.SimulateDriftDetectionResult
    )
    assert declaration_problems(cls) == []
    assert not cls.combinable()
    r = simengine.simulate_drift_detection(n_sims=100, n_steps=300, drift_start=150, rng=3)
    for name, value in r.estimates().items():
        assert type(value) is float, name
    assert (r.n_sims, r.error_before, r.error_after, r.drift_start, r.drift_end) == (100, 0.15, 0.40, 150, None)
    assert r.detector_settings == {"warm_start": 30, "warning_threshold": 2.0, "drift_threshold": 3.0, "reset": True}
    frame = r.to_frame()
    assert frame.loc["detection rate", "estimate"] == r.detection_rate
    assert frame.loc["mean delay", "se"] == r.delay_mean_se


@pytest.mark.parametrize("detector", ["ddm", "adwin"])
def test_simulate_detector_parameters_are_plain_keywords(detector):
    """Issue 13: the detector's parameters are keywords a sweep grid can vary; None means the detector's
    default, a sudden drift ignores `drift_end` (so one grid can share it with gradual drifts)."""
    f = simengine.simulate_drift_detection
    kw = dict(detector=detector, n_sims=130, n_steps=400, drift_start=200, rng=7)
    base = f(**kw)
    defaults = (
        dict(warm_start=30, warning_threshold=2.0, drift_threshold=3.0, reset=True)
        if detector == "ddm"
        else dict(delta=0.002, clock=32, max_buckets=5, min_window_length=5, grace_period=10)
    )
    assert_array_equal(f(**kw, **defaults).delays, base.delays)
    assert_array_equal(f(**kw, drift_end=350).delays, base.delays)
    assert f(**kw, drift_end=350).drift_end is None
    looser = dict(warning_threshold=1.0, drift_threshold=1.5) if detector == "ddm" else dict(delta=0.3, clock=1)
    other = f(**kw, **looser)
    assert other.false_alarms_per_stream > base.false_alarms_per_stream
    assert other.detector_settings == {**defaults, **looser}
    g = f(**{**kw, "drift": "gradual", "drift_end": 350})
    assert g.drift_end == 350 and g.drift == "gradual"


def test_simulate_drift_detection_iv():
    f = simengine.simulate_drift_detection
    with pytest.raises(ValueError, match="`detector` must be one of"):
        f(detector="kswin")
    with pytest.raises(ValueError, match="`drift` must be one of"):
        f(drift="abrupt")
    with pytest.raises(ValueError, match="`n_sims` must be an integer >= 1"):
        f(n_sims=0)
    with pytest.raises(ValueError, match="`drift_start` must be an integer in"):
        f(n_steps=100, drift_start=100)
    with pytest.raises(ValueError, match="`drift_end` is required"):
        f(drift="gradual")
    with pytest.raises(ValueError, match="`drift_end` must be an integer in"):
        f(drift="gradual", drift_end=400)
    with pytest.raises(ValueError, match="`error_after` must be in"):
        f(error_after=1.5)
    with pytest.raises(ValueError, match="`delta` is a parameter of ADWIN, not of the simulated detector 'ddm'"):
        f(delta=0.1)
    with pytest.raises(ValueError, match="`warm_start` is a parameter of DDM, not of the simulated detector 'adwin'"):
        f(detector="adwin", warm_start=30)
    with pytest.raises(ValueError, match="`delta` must be in"):
        f(detector="adwin", delta=2.0)
    with pytest.raises(TypeError, match="`warm_start` must be an integer"):
        f(warm_start=1.5)
    with pytest.raises(ValueError, match="`clock` must be an integer >= 1"):
        f(detector="adwin", clock=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'detector_params'"):
        f(detector_params={"delta": 0.1})
    with pytest.raises(TypeError, match="`rng` must be None"):
        f(rng="seed")
    with pytest.raises(TypeError, match="`progress` must be None, True or False"):
        f(progress="bar")
    with pytest.raises(TypeError, match="unexpected keyword argument 'target_se'"):
        f(target_se=0.01)  # delays (means over detecting streams, quantiles) do not combine across rounds


# ---------------------------------------------------------------------------------------------------------
# Issue 12 (hardening): limits, extreme values, exception discipline
# ---------------------------------------------------------------------------------------------------------

_ADWIN_STREAM = (
    "import numpy as np, simengine\n"
    "g = np.random.default_rng(0)\n"
    "x = np.r_[g.random(1000) < 0.2, g.random(1000) < 0.6].astype(float)\n"
)


def test_adwin_huge_max_buckets_refused_before_any_kernel():
    """Issue 12: max_buckets=2**63-1 corrupted the heap, 2**60 crashed ADWIN.update, 2**31 gave a wrong
    first_drift or a SystemError.  Now each is a ValueError, and the process stays healthy (a subprocess:
    a regression would corrupt memory)."""
    code = _ADWIN_STREAM + (
        "for mb in (2**63 - 1, 2**60, 2**31, 1001):\n"
        "    for call in (lambda: simengine.adwin(x, max_buckets=mb), lambda: simengine.ADWIN(max_buckets=mb)):\n"
        "        try:\n"
        "            call()\n"
        "        except ValueError as e:\n"
        "            assert '`max_buckets` must be an integer in [2, 1000]' in str(e), e\n"
        "        else:\n"
        "            raise SystemExit(f'max_buckets={mb} accepted')\n"
        "junk = [np.ones(1000) for _ in range(2000)]  # allocations after the refused calls\n"
        "assert simengine.adwin(x).first_drift == simengine.adwin(x, max_buckets=5).first_drift\n"
        "print('ok')\n"
    )
    rc, out, err = run_isolated(code, timeout=300)
    assert rc == 0 and out.strip() == "ok", err


def test_adwin_largest_max_buckets_batch_equals_streaming():
    g = np.random.default_rng(3)
    x = np.r_[g.random(300) < 0.2, g.random(300) < 0.7].astype(float)
    kw = dict(max_buckets=simengine.drift.ADWIN_MAX_BUCKETS, delta=0.01)
    res = simengine.adwin(x, **kw)
    det = simengine.ADWIN(**kw)
    hits = [i for i, v in enumerate(x) if det.update(v).drift_detected]
    assert hits == res.drift_indices.tolist()
    # with every value still in its own bucket the cuts are the exact window cuts of the brute force
    assert hits == naive.adwin_exact(x, delta=0.01)
    assert 300 <= res.first_drift < 400


def test_adwin_top_level_never_written_past_the_state():
    """A window so long that the top level of the histogram (buckets of 2**47) fills: the oldest bucket is
    forgotten instead of being written past the state array (unreachable by streams, so a crafted state)."""
    mb = 2
    size = kd._adwin_state_size(mb)
    H, L, cap = kd.ADWIN_HEADER, kd.ADWIN_LEVELS, mb + 1
    buf = np.full(size + 64, 12345.0)  # sentinels after the state
    state = buf[:size]
    state[:] = 0.0
    for lev in range(L):  # every level full: the next value cascades merges up to the top
        state[H + lev] = mb
    width = float(mb * (2**L - 1))
    state[0] = width
    state[6] = L  # every level in use
    state[3] = 0.0  # clock=2: no cut test at the next update (the first since the start)
    kd._adwin_step(state, 0.0, 0.002, mb, 5, 10, 2)
    assert state[H + L - 1] == mb
    assert all(state[H + lev] == 1 for lev in range(L - 1))
    assert state[0] == width + 1 - 2.0 ** (L - 1)
    assert (buf[size:] == 12345.0).all()
    # the value slots stay where they belong: nothing was written into the M2 block of level 0 by the sums
    assert (state[H + L + L * cap :] == 0.0).all()


def test_adwin_values_whose_moments_overflow_are_refused():
    """Issue 12: ADWIN on finite values near 1e160 never detected (the window variance overflowed to inf)."""
    g = np.random.default_rng(0)
    x = np.r_[g.random(1000) < 0.2, g.random(1000) < 0.6].astype(float)
    with pytest.raises(ValueError, match=r"`values` must be in \[-1e100, 1e100\]"):
        simengine.adwin(x * 1e160)
    with pytest.raises(ValueError, match=r"`x` must be a finite real number in \[-1e100, 1e100\]"):
        simengine.ADWIN().update(1e160)
    with pytest.raises(ValueError, match="`x`"):
        simengine.ADWIN().update(10**400)
    # at the largest accepted scale the moments stay finite and the change is found (earlier than on the
    # 0/1 scale: the range term of the bound does not scale with the data)
    res = simengine.adwin(x * 1e100)
    assert 1000 <= res.first_drift < 1100
    assert np.isfinite(res.estimation)
    assert_allclose(res.estimation, (x * 1e100)[-res.width :].mean(), rtol=1e-9)


@pytest.mark.parametrize("bins", [1, 2, 3, 10])
def test_psi_equal_width_near_float64_limits(bins):
    """Issue 12: equal-width edges overflowed to inf for values near 1.7e308 (max - min overflows).  Data
    spread over [-1.7e308, 1.7e308] has the PSI of the same data scaled by 2**-4 when no value sits within
    rounding of an edge (the edges are then the scaled edges up to rounding)."""
    g = np.random.default_rng(5)
    ref = g.uniform(-1.0, 1.0, 1000) * 1.7e308
    cur = g.uniform(-0.5, 1.0, 800) * 1.7e308
    got = simengine.psi(ref, cur, bins=bins)
    assert got == simengine.psi(ref / 16, cur / 16, bins=bins)
    lo, hi = min(ref.min(), cur.min()), max(ref.max(), cur.max())
    edges = kd._equal_width_edges(np.array([lo]), np.array([hi]), bins)[0]
    assert np.isfinite(edges).all()
    assert got == pytest.approx(naive.psi_numpy(ref, cur, edges), rel=1e-12)
    mon = simengine.psi_monitor(ref, [cur, ref], bins=bins, binning="equal-width")
    scaled = simengine.psi_monitor(ref / 16, [cur / 16, ref / 16], bins=bins, binning="equal-width")
    assert_allclose(mon.psi, scaled.psi)
    stream = simengine.PSIMonitor(ref, bins=bins, binning="equal-width")
    assert stream.update(cur).psi == mon.psi[0]


def test_psi_quantile_edges_near_float64_limits():
    """np.quantile's a + (b - a) t overflows between -1.7e308 and 1.7e308 (nan or inf edges, which were then
    silently replaced): the edges are now the exact quantiles."""
    ref = np.array([-1.7e308, 1.7e308, 0.0, 1.0, -1e308])
    edges = simengine.drift._quantile_edges(ref[:, None], 4)[0]
    assert np.isfinite(edges).all()
    assert_array_equal(edges, simengine.drift._quantile_edges(ref[:, None] / 16, 4)[0] * 16)
    cur = np.array([-1.6e308, 1.5e308, 3.0, 1e300])
    got = simengine.psi(ref, cur, binning="quantile", bins=4)
    assert got == simengine.psi(ref / 16, cur / 16, binning="quantile", bins=4)


def test_psi_quantile_edges_of_long_columns_sorted_in_tiny_slices(monkeypatch):
    """Issue 14: a long reference column is sorted in slices for its quantile edges; the edges are np.quantile's
    (np.nanquantile's with NaN) bit for bit, also in slices of 7 values, near the float64 limits (the halved
    redo) and for an all-NaN column, and psi gives the same bits as the one-call path."""
    rng = np.random.default_rng(3)
    ref = np.stack([rng.normal(size=400), rng.integers(-3, 4, 400).astype(float),
                    np.where(rng.random(400) < 0.3, np.nan, rng.normal(size=400) * 1e5),
                    rng.uniform(-1.0, 1.0, 400) * 1.7e308, np.full(400, np.nan)], axis=1)
    cur = rng.normal(size=(300, 5))
    whole = [simengine.drift._quantile_edges(ref, bins) for bins in (1, 7, 10)]
    psi_whole = simengine.psi(ref, cur, binning="quantile", nan_policy="omit")
    monkeypatch.setattr(simengine.drift, "_SORTED_ROWS", 50)
    monkeypatch.setattr(simengine.drift, "_SORT_BLOCK", 7)
    monkeypatch.setattr(simengine.drift, "_SORT_FIRST", 1)
    for bins, expected in zip((1, 7, 10), whole):
        got = simengine.drift._quantile_edges(ref, bins)
        assert_array_equal(got.view(np.uint64), expected.view(np.uint64))
    q = np.linspace(0.0, 1.0, 11)
    assert_array_equal(simengine.drift._column_quantiles(ref, 0, q).view(np.uint64),
                       np.quantile(ref[:, 0], q).view(np.uint64))
    assert_array_equal(simengine.drift._column_quantiles(ref, 2, q).view(np.uint64),
                       np.nanquantile(ref[:, 2], q).view(np.uint64))
    assert_array_equal(simengine.psi(ref, cur, binning="quantile", nan_policy="omit"), psi_whole)


def test_numpy_twins_of_the_edge_and_table_kernels_give_the_same_bits():
    """Issue 15 part 6: psi builds its equal-width edges and counting tables in NumPy (no kernels to compile
    for a first call); the numbers are the kernels' bit for bit, overflowing spans and empty columns included."""
    kd = simengine.drift._k
    rng = np.random.default_rng(4)
    for t in range(40):
        p, bins = int(rng.integers(1, 6)), int(rng.integers(1, 30))
        scale = 10.0 ** rng.integers(-300, 308)
        lo = rng.normal(size=p) * scale
        hi = lo + np.abs(rng.normal(size=p)) * scale * rng.integers(0, 3, p)  # some constant columns
        if t % 5 == 0:
            lo[0], hi[0] = np.inf, -np.inf  # no value
        if t % 4 == 0:
            lo[-1], hi[-1] = -1.7e308, 1.7e308  # the span overflows
        edges = kd._equal_width_edges(lo, hi, bins)
        assert_array_equal(simengine.drift._equal_width_edges(lo, hi, bins).view(np.uint64), edges.view(np.uint64))
        for uniform in (True, False):
            ours = simengine.drift._count_tables(edges, max(1, 256 // p) * p, uniform)
            theirs = kd._count_tables(edges, max(1, 256 // p) * p, uniform)
            for a, b in zip(ours[:4], theirs[:4]):
                assert a.dtype == b.dtype
                assert_array_equal(a.view(np.uint64), b.view(np.uint64))
            assert ours[4] == theirs[4]


def test_update_methods_type_and_value_errors():
    """Issue 12: DDM().update(None) raised ValueError and PSIMonitor.update blamed `windows`."""
    ddm_det, adwin_det = simengine.DDM(), simengine.ADWIN()
    mon = simengine.PSIMonitor(np.arange(50.0))
    for bad in (None, np.array([1.0]), np.array(1.0), [1], object(), 1 + 0j):
        with pytest.raises(TypeError, match="`x` must be 0 or 1"):
            ddm_det.update(bad)
        with pytest.raises(TypeError, match="`x` must be a real number"):
            adwin_det.update(bad)
    for bad in ("1", b"1"):
        with pytest.raises(TypeError, match="`x`"):  # also a ValueError, as before (test_DDM_iv)
            ddm_det.update(bad)
        with pytest.raises(TypeError, match="`x`"):
            adwin_det.update(bad)
    for bad in (math.nan, math.inf, -math.inf, 0.5, 2, -1, 2**70, np.float64("nan")):
        with pytest.raises(ValueError, match="`x` must be 0 or 1"):
            ddm_det.update(bad)
    for bad in (math.nan, math.inf, -math.inf, np.float64("nan"), 2.0e100):
        with pytest.raises(ValueError, match="`x` must be a finite real number"):
            adwin_det.update(bad)
    for ok in (True, False, np.bool_(True), np.int8(1), np.float32(0.0), 1.0, 0):
        ddm_det.update(ok)
        adwin_det.update(ok)
    assert ddm_det.n == 7 and adwin_det.width == 7
    with pytest.raises(TypeError, match="`window` must contain real numbers"):
        mon.update(None)
    with pytest.raises(TypeError, match="`window` must be array-like"):
        mon.update("abc")
    with pytest.raises(TypeError, match="`window` must be array-like"):
        mon.update([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="`window` must be 1-D"):
        mon.update(np.ones((2, 2)))
    for zero_d in (np.array(1.0), 1.0, np.float64(2.0)):
        with pytest.raises(ValueError, match="`window` must be 1-D .*; got 0-D"):
            mon.update(zero_d)
    with pytest.raises(ValueError, match="`window` must be finite"):
        mon.update(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="`window` must not be empty"):
        mon.update([])
    assert mon.result().psi.size == 0  # nothing refused was recorded


def test_simulate_drift_detection_counts_work_and_memory_bounded(monkeypatch):
    """Issue 12: n_streams=10**30 (or 2**31) ran with no error; now every count is refused at once (the count
    is `n_sims` since issue 13)."""
    f = simengine.simulate_drift_detection
    for n in (10**30, 2**31, 2**63):
        with pytest.raises(ValueError, match=r"`n_sims` must be an integer in \[1, 1000000000\]"):
            f(n_sims=n)
        with pytest.raises(ValueError, match=r"`n_steps` must be an integer in \[2, 1000000000\]"):
            f(n_steps=n)
    with pytest.raises(ValueError, match=r"`n_sims` x `n_steps` asks for 1e\+13 detector updates"):
        f(n_sims=10**9, n_steps=10**4, drift_start=10)
    monkeypatch.setenv("SIMENGINE_MAX_MEMORY", str(2**30))
    with pytest.raises(ValueError, match=r"`n_sims` needs 11.9 GiB for the per-stream results and block generators"):
        f(n_sims=10**8, n_steps=2, drift_start=1)


def test_drift_limits_iv():
    """The messages of the limits added in issue 12."""
    x = np.zeros(20)
    with pytest.raises(ValueError, match=r"`max_buckets` must be an integer in \[2, 1000\] \(more buckets"):
        simengine.adwin(x, max_buckets=1001)
    for name in ("min_window_length", "grace_period", "clock"):
        with pytest.raises(ValueError, match=rf"`{name}` must be an integer in \[\d, 1000000000\]; got {2**63}"):
            simengine.adwin(x, **{name: 2**63})
        with pytest.raises(ValueError, match=rf"`{name}` must be an integer in"):
            simengine.ADWIN(**{name: 10**30})
    with pytest.raises(ValueError, match=r"`warm_start` must be an integer in \[0, 1000000000\]"):
        simengine.ddm([0, 1], warm_start=2**63)
    with pytest.raises(ValueError, match=r"`warm_start` must be an integer in \[0, 1000000000\]"):
        simengine.DDM(warm_start=10**10)
    with pytest.raises(ValueError, match=r"`bins` must be an integer in \[1, 1000000\]"):
        simengine.psi(x, x, bins=2**62)
    with pytest.raises(ValueError, match=r"`bins` as edges must have at most 1000001 values"):
        simengine.psi(x, x, bins=np.arange(1_000_002.0))
    with pytest.raises(TypeError, match="`bins` must be an int >= 1 or a 1-D array of bin edges; got a 2-D"):
        simengine.psi(x, x, bins=np.ones((2, 2)))
    with pytest.raises(TypeError, match="`bins` must be array-like of real numbers; got a ragged"):
        simengine.psi(x, x, bins=[[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match=r"`consecutive` must be an integer in \[1, 1000000000\]"):
        simengine.psi_monitor(x, [x], consecutive=2**63)
    with pytest.raises(ValueError, match=r"`consecutive` must be an integer in \[1, 1000000000\]"):
        simengine.PSIMonitor(x, consecutive=10**30)
    with pytest.raises(TypeError, match="`windows` must be a 2-D array"):
        simengine.psi_monitor(x, np.array(1.0))
    with pytest.raises(TypeError, match="`reference` must contain real numbers"):
        simengine.psi(pd.DataFrame({"a": ["u", "v"]}), pd.DataFrame({"a": ["u", "v"]}))
    with pytest.raises(TypeError, match="`errors` must be array-like of 0/1 values; got a ragged"):
        simengine.ddm([[0, 1], [1]])
    with pytest.raises(TypeError, match="`values` must be array-like of real numbers; got a ragged"):
        simengine.adwin([[0.0, 1.0], [1.0]])
    with pytest.raises(ValueError, match=r"`grace_period` is a parameter of ADWIN"):
        simengine.simulate_drift_detection(grace_period=2**63)
