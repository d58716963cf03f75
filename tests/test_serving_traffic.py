"""Recorded traffic and input gates (issue 18): token_bucket, window_metrics, zscore_gate, simulate_gate.

References: step-by-step Python replays in `simengine.naive` (token bucket: equal; window metrics: counts, error
rates and quantiles equal, the compensated mean within 1e-12 relative), NumPy replays of the gate simulation
on the same block generators (equal counts) and its closed form (within 4 SE).
"""
import contextlib
import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import simengine
from simengine import _rng, naive, serving
from simengine.kernels import serving as ks

# ---------------------------------------------------------------------------------------------------------
# token_bucket
# ---------------------------------------------------------------------------------------------------------


def test_notebook_burst_allows_exactly_capacity_and_a_second_client_is_unaffected():
    t = np.r_[np.zeros(120), [0.5, 1.0]]
    who = np.r_[np.full(120, 7), [9, 9]]
    res = simengine.token_bucket(t, who, capacity=100, refill_per_second=100 / 60)
    assert res.allowed[:120].sum() == 100 and res.allowed[:100].all()
    assert res.allowed[120:].all()
    assert res.clients.tolist() == [7, 9]
    assert res.n_allowed.tolist() == [100, 2] and res.n_rejected.tolist() == [20, 0]
    frame = res.to_frame()
    assert frame["client"].tolist() == [7, 9] and frame["n_rejected"].tolist() == [20, 0]


def test_bucket_refills_continuously_up_to_capacity():
    # capacity 2, one token a second: t=0,0 admitted, 0.5 rejected (0.5 token), 1.0 admitted (1.0 token), ...
    t = np.array([0.0, 0.0, 0.5, 1.0, 1.2, 100.0, 100.0, 100.0])
    res = simengine.token_bucket(t, capacity=2.0, refill_per_second=1.0)
    assert res.allowed.tolist() == [True, True, False, True, False, True, True, False]
    assert_array_equal(res.allowed, naive.token_bucket_steps(t, None, 2.0, 1.0))
    # a request costing more than it refilled waits; cost 1.5 with capacity 2
    res = simengine.token_bucket(t, capacity=2.0, refill_per_second=1.0, cost=1.5)
    assert_array_equal(res.allowed, naive.token_bucket_steps(t, None, 2.0, 1.0, 1.5))


@st.composite
def _traffic(draw):
    n = draw(st.integers(1, 120))
    gaps = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.0, 5.0), st.sampled_from([0.25, 1.0, 60.0])),
                         min_size=n, max_size=n))
    t = np.cumsum(gaps) + draw(st.floats(-100.0, 100.0))
    k = draw(st.integers(1, 12))
    ids = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    return t, ids


@settings(max_examples=25, deadline=None)
@given(_traffic(), st.floats(0.5, 6.0), st.sampled_from([0.0, 0.3, 1.0, 100 / 60]), st.sampled_from([1.0, 0.5, 2.0]),
       st.sampled_from(["int", "sparse", "str"]))
def test_token_bucket_equals_the_step_by_step_reference(traffic, capacity, refill, cost, kind):
    t, ids = traffic
    given_ids = {"int": ids, "sparse": ids * 10**12 - 5, "str": np.array([f"c{i}" for i in ids])}[kind]
    res = simengine.token_bucket(t, given_ids, capacity=capacity, refill_per_second=refill, cost=cost)
    assert_array_equal(res.allowed, naive.token_bucket_steps(t, given_ids, capacity, refill, cost))
    labels = np.unique(given_ids)
    assert_array_equal(res.clients, labels)
    for j, label in enumerate(labels):
        mine = given_ids == label
        assert res.n_allowed[j] == res.allowed[mine].sum()
        assert res.n_rejected[j] == (~res.allowed[mine]).sum()


@settings(max_examples=25, deadline=None)
@given(_traffic(), st.floats(0.5, 6.0), st.sampled_from([0.0, 0.3, 1.0]))
def test_admitted_over_any_interval_is_at_most_capacity_plus_refill(traffic, capacity, refill):
    t, ids = traffic
    res = simengine.token_bucket(t, ids, capacity=capacity, refill_per_second=refill)
    for c in np.unique(ids):
        ta = t[(ids == c) & res.allowed]
        # every interval [ta[i], ta[j]] of admitted requests: j - i + 1 <= capacity + refill * length
        i, j = np.triu_indices(ta.size)
        assert (j - i + 1 <= capacity + refill * (ta[j] - ta[i]) + 1e-9).all()


def test_token_bucket_slicing_never_changes_a_number(monkeypatch):
    g = np.random.default_rng(5)
    t = np.sort(g.uniform(0, 50, 3000))
    ids = g.integers(0, 30, 3000)
    whole = simengine.token_bucket(t, ids, capacity=3, refill_per_second=0.5)
    monkeypatch.setattr(serving, "_TB_BLOCK", 7)
    sliced = simengine.token_bucket(t, ids, capacity=3, refill_per_second=0.5)
    assert_array_equal(whole.allowed, sliced.allowed)
    assert_array_equal(whole.n_allowed, sliced.n_allowed)


def test_factorised_ids_dense_sparse_and_object_strings_agree():
    ids = np.array([5, -3, 5, 2**40, -3])
    codes, labels, totals = serving._factorise(ids, 5)
    assert labels.tolist() == [-3, 5, 2**40] and codes.tolist() == [1, 0, 1, 2, 0] and totals.tolist() == [2, 2, 1]
    codes, labels, totals = serving._factorise(np.array([3, 1, 3], dtype=np.uint16), 3)
    assert labels.tolist() == [1, 3] and codes.tolist() == [1, 0, 1] and totals.tolist() == [1, 2]
    codes, labels, totals = serving._factorise(np.array(["b", "a", "b"], dtype=object), 3)
    assert labels.tolist() == ["a", "b"] and codes.tolist() == [1, 0, 1] and totals.tolist() == [1, 2]


def test_token_bucket_iv():
    t = np.arange(4.0)
    kw = dict(capacity=2, refill_per_second=1.0)
    with pytest.raises(ValueError, match="`timestamps` must be sorted"):
        simengine.token_bucket([0.0, 2.0, 1.0], **kw)
    with pytest.raises(ValueError, match="`timestamps` must be finite"):
        simengine.token_bucket([0.0, np.nan], **kw)
    with pytest.raises(ValueError, match="`timestamps` must not be empty"):
        simengine.token_bucket([], **kw)
    with pytest.raises(TypeError, match="`timestamps` must be array-like"):
        simengine.token_bucket("abc", **kw)
    with pytest.raises(ValueError, match="`clients` must have one id per request"):
        simengine.token_bucket(t, [1, 2], **kw)
    with pytest.raises(TypeError, match="`clients` must hold integer or string ids"):
        simengine.token_bucket(t, [0.5, 1.0, 2.0, 3.0], **kw)
    with pytest.raises(TypeError, match="`clients` must hold integer or string ids"):
        simengine.token_bucket(t, np.array([1, "a", 2, 3], dtype=object), **kw)
    with pytest.raises(ValueError, match="`clients` must be 1-D"):
        simengine.token_bucket(t, np.zeros((2, 2), dtype=int), **kw)
    with pytest.raises(TypeError, match="`clients` must be a 1-D array"):
        simengine.token_bucket(t, "abcd", **kw)
    with pytest.raises(ValueError, match="`capacity` must be in"):
        simengine.token_bucket(t, capacity=0, refill_per_second=1.0)
    with pytest.raises(TypeError, match="`capacity` must be a real number"):
        simengine.token_bucket(t, capacity="5", refill_per_second=1.0)
    with pytest.raises(ValueError, match="`refill_per_second` must be in"):
        simengine.token_bucket(t, capacity=2, refill_per_second=-1.0)
    with pytest.raises(ValueError, match="`refill_per_second` must be a finite"):
        simengine.token_bucket(t, capacity=2, refill_per_second=np.inf)
    with pytest.raises(ValueError, match="`cost` must be in"):
        simengine.token_bucket(t, cost=0.0, **kw)


# ---------------------------------------------------------------------------------------------------------
# window_metrics
# ---------------------------------------------------------------------------------------------------------


def _check_window(res, ref, errors):
    assert_array_equal(res.count, ref["count"])
    assert_array_equal(res.latency_quantiles, ref["latency_quantiles"])  # exact: NumPy's linear method, bit for bit
    assert_allclose(res.mean_latency, ref["mean_latency"], rtol=1e-12, atol=0)  # compensated running sum
    if errors is None:
        assert res.error_rate is None
    else:
        assert_array_equal(res.error_rate, ref["error_rate"])


@settings(max_examples=25, deadline=None)
@given(_traffic(), st.sampled_from([0.5, 1.0, 5.0, 60.0]), st.booleans(), st.booleans(),
       st.sampled_from([(0.5, 0.95, 0.99), (0.0, 1.0, 0.25), ()]), st.integers(0, 2**32 - 1))
def test_window_metrics_equal_a_brute_force_filter(traffic, w, with_errors, with_at, qs, seed):
    t, _ = traffic
    g = np.random.default_rng(seed)
    lat = np.round(g.lognormal(-3, 0.6, t.size), 3)  # rounded: ties among latencies too
    errors = (g.random(t.size) < 0.2) if with_errors else None
    at = np.sort(g.uniform(t[0] - 2 * w, t[-1] + 2 * w, 25)) if with_at else None
    if with_at:
        at[3:6] = at[3]  # equal evaluation times
    res = simengine.window_metrics(t, lat, errors, window_seconds=w, quantiles=qs, at=at)
    ref = naive.window_metrics_filter(t, lat, errors, w, qs, at)
    _check_window(res, ref, errors)
    assert res.latency_quantiles.shape == (res.times.size, len(qs))


def test_window_edges_and_ties():
    # window (s - 10, s]: the request exactly 10 s old has left; all requests stamped s are in
    t = np.array([0.0, 5.0, 5.0, 10.0, 20.0])
    res = simengine.window_metrics(t, np.arange(5.0), window_seconds=10.0, quantiles=(0.5,))
    assert res.count.tolist() == [1, 3, 3, 3, 1]
    assert res.mean_latency.tolist() == [0.0, 1.0, 1.0, 2.0, 4.0]
    res = simengine.window_metrics(t, np.arange(5.0), window_seconds=10.0, at=[-1.0, 30.0])
    assert res.count.tolist() == [0, 0] and np.isnan(res.mean_latency).all() and np.isnan(res.latency_quantiles).all()
    frame = res.to_frame()
    assert list(frame.columns) == ["time", "count", "mean_latency", "latency_q0.5", "latency_q0.95", "latency_q0.99"]


def test_window_metrics_slicing_never_changes_a_number(monkeypatch):
    g = np.random.default_rng(8)
    t = np.sort(np.round(g.uniform(0, 100, 2000), 1))
    lat, err = g.exponential(0.05, 2000), g.random(2000) < 0.1
    whole = simengine.window_metrics(t, lat, err, window_seconds=7.0)
    monkeypatch.setattr(serving, "_WM_BLOCK", 3)
    sliced = simengine.window_metrics(t, lat, err, window_seconds=7.0)
    for name in ("count", "error_rate", "mean_latency", "latency_quantiles"):
        assert_array_equal(getattr(whole, name), getattr(sliced, name))


@contextlib.contextmanager
def numba_threads(k):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(k, numba.config.NUMBA_NUM_THREADS))
        yield
    finally:
        numba.set_num_threads(before)


def test_window_metrics_chunks_threads_and_rings_never_change_a_number(monkeypatch):
    # tiny chunks (each starts afresh), so that a call splits over two threads; a ring of 2 prefixes, so that
    # windows outgrow it and their chunk runs again with a longer one; tiny slices across the chunks.  6000
    # requests: the rank bitset spans two summary words, and narrow windows leave ranks words apart
    g = np.random.default_rng(9)
    n = 6000
    t = np.sort(np.round(g.uniform(0, 100, n), 2))
    lat, err = g.exponential(0.05, n), g.random(n) < 0.1
    at = np.sort(g.uniform(-5, 105, 300))
    rows = np.sort(g.choice(n, 300, replace=False))  # a request's row is the window at its time
    plain = [simengine.window_metrics(t, lat, err, window_seconds=w, **kw) for w, kw in ((0.2, {}), (7.0, {"at": at}))]
    monkeypatch.setattr(serving, "_WM_CHUNK", 64)
    monkeypatch.setattr(serving, "_WM_RING", 2)
    monkeypatch.setattr(serving, "_WM_BLOCK", 5)
    for (w, kw), whole in zip(((0.2, {}), (7.0, {"at": at})), plain):
        runs = []
        for threads in (1, 2):
            with numba_threads(threads):
                runs.append(simengine.window_metrics(t, lat, err, window_seconds=w, **kw))
        pick = rows if not kw else slice(None)
        ref = naive.window_metrics_filter(t, lat, err, w, (0.5, 0.95, 0.99), kw.get("at", t[rows]))
        assert_array_equal(runs[0].count[pick], ref["count"])
        assert_array_equal(runs[0].error_rate[pick], ref["error_rate"])
        assert_array_equal(runs[0].latency_quantiles[pick], ref["latency_quantiles"])
        assert_allclose(runs[0].mean_latency[pick], ref["mean_latency"], rtol=1e-12, atol=0)
        for name in ("count", "error_rate", "mean_latency", "latency_quantiles"):
            assert_array_equal(getattr(runs[0], name), getattr(runs[1], name))
        for name in ("count", "error_rate", "latency_quantiles"):  # the sums restart elsewhere: means may not
            assert_array_equal(getattr(runs[0], name), getattr(whole, name))
        assert_allclose(runs[0].mean_latency, whole.mean_latency, rtol=1e-14, atol=0)


def test_window_quantiles_of_lone_requests_far_apart_in_rank():
    # one request a window over 263 000 requests, at every 97th: every quantile pointer jumps to a random rank, through the top
    # level of the rank bitset (two words of 2^18 ranks) and back; a lone latency is every quantile of its window
    n = 263_000
    lat = np.random.default_rng(10).random(n)
    t = np.arange(n) * 2.0
    res = simengine.window_metrics(t, lat, window_seconds=1.0, quantiles=(0.0, 0.5, 0.99), at=t[::97])
    assert_array_equal(res.latency_quantiles, np.repeat(lat[::97, None], 3, axis=1))
    assert_array_equal(res.mean_latency, lat[::97])


def test_window_metrics_iv():
    t, lat = np.arange(4.0), np.ones(4)
    with pytest.raises(ValueError, match="`timestamps` must be sorted"):
        simengine.window_metrics([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="`latencies` must have one value per request"):
        simengine.window_metrics(t, lat[:3])
    with pytest.raises(ValueError, match="`latencies` must be finite"):
        simengine.window_metrics(t, [1.0, np.nan, 1.0, 1.0])
    with pytest.raises(ValueError, match="`errors` must be binary"):
        simengine.window_metrics(t, lat, [0, 2, 0, 0])
    with pytest.raises(ValueError, match="`errors` must be 1-D with one value per request"):
        simengine.window_metrics(t, lat, [0, 1])
    with pytest.raises(TypeError, match="`errors` must contain 0/1"):
        simengine.window_metrics(t, lat, ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="`window_seconds` must be in"):
        simengine.window_metrics(t, lat, window_seconds=0)
    with pytest.raises(ValueError, match="`quantiles` must be in"):
        simengine.window_metrics(t, lat, quantiles=(0.5, 1.5))
    with pytest.raises(TypeError, match="`quantiles` must be"):
        simengine.window_metrics(t, lat, quantiles="p99")
    with pytest.raises(ValueError, match="`at` must be sorted"):
        simengine.window_metrics(t, lat, at=[3.0, 1.0])
    with pytest.raises(ValueError, match="`at` must be finite"):
        simengine.window_metrics(t, lat, at=[np.inf])


# ---------------------------------------------------------------------------------------------------------
# zscore_gate
# ---------------------------------------------------------------------------------------------------------


def test_zscore_gate_equals_numpy():
    g = np.random.default_rng(3)
    X = g.normal(size=(200, 6)) * 3
    X[5, 2] = np.nan
    X[9, 0] = -np.inf
    mean, std = g.normal(size=6), g.uniform(0.5, 2.0, 6)
    res = simengine.zscore_gate(X, mean, std, threshold=2.5)
    z = (X - mean) / std
    assert_array_equal(res.z, z)
    exceeded = ~(np.abs(z) <= 2.5)
    assert_array_equal(res.exceeded, exceeded)
    assert_array_equal(res.rejected, exceeded.any(axis=1))
    assert res.rejected[5] and res.rejected[9]
    assert res.n_rejected == exceeded.any(axis=1).sum() and res.rejection_rate == res.n_rejected / 200
    assert_array_equal(res.n_exceeded_by_feature, exceeded.sum(axis=0))
    one = simengine.zscore_gate(X[0], mean, std, threshold=2.5)  # 1-D: one row
    assert_array_equal(one.z, z[:1])
    scalar = simengine.zscore_gate(X, 0.0, 2.0, threshold=2.5)
    assert_array_equal(scalar.z, (X - 0.0) / 2.0)
    assert list(res.to_frame().columns) == ["rejected", "n_exceeded", "max_abs_z"]


def test_zscore_gate_iv():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="`X` must be 1-D or 2-D"):
        simengine.zscore_gate(np.ones((2, 2, 2)), 0.0, 1.0)
    with pytest.raises(ValueError, match="`X` must not be empty"):
        simengine.zscore_gate(np.ones((3, 0)), 0.0, 1.0)
    with pytest.raises(TypeError, match="`X` must"):
        simengine.zscore_gate("x", 0.0, 1.0)
    with pytest.raises(ValueError, match="`mean` must be a scalar or have one value per feature"):
        simengine.zscore_gate(X, [0.0, 0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="`mean` must be finite"):
        simengine.zscore_gate(X, [0.0, np.nan], 1.0)
    with pytest.raises(ValueError, match="`std` must be > 0"):
        simengine.zscore_gate(X, 0.0, [1.0, 0.0])
    with pytest.raises(ValueError, match="`std` must be finite"):
        simengine.zscore_gate(X, 0.0, np.inf)
    with pytest.raises(ValueError, match="`threshold` must be in"):
        simengine.zscore_gate(X, 0.0, 1.0, threshold=-1)


# ---------------------------------------------------------------------------------------------------------
# simulate_gate
# ---------------------------------------------------------------------------------------------------------


def _exact(threshold, shifts):
    p = [math.erfc((threshold - s) / math.sqrt(2)) / 2 + math.erfc((threshold + s) / math.sqrt(2)) / 2
         for s in shifts]
    return 1 - np.prod([1 - x for x in p])


@pytest.mark.parametrize("threshold, d, shift, features", [(2.0, 3, 1.5, [1]), (3.0, 10, 0.5, None)])
def test_simulate_gate_matches_the_closed_form_within_4_se(threshold, d, shift, features):
    res = simengine.simulate_gate(n_features=d, threshold=threshold, shift=shift, shifted_features=features,
                                  n_rows=4000, n_sims=12, rng=11)
    shifts = np.zeros(d)
    shifts[features if features is not None else slice(None)] = shift
    clean = 1 - (1 - 2 * (math.erfc(threshold / math.sqrt(2)) / 2)) ** d
    assert res.clean_rejection_rate_exact == pytest.approx(clean, rel=1e-12)
    assert res.shifted_rejection_rate_exact == pytest.approx(_exact(threshold, shifts), rel=1e-12)
    assert abs(res.clean_rejection_rate - clean) <= 4 * res.clean_rejection_rate_se
    assert abs(res.shifted_rejection_rate - res.shifted_rejection_rate_exact) <= 4 * res.shifted_rejection_rate_se
    assert res.shifted_rejection_rate > res.clean_rejection_rate


def test_simulate_gate_replays_numpy_and_is_thread_independent():
    shifts = np.array([0.0, 1.0, -2.0])
    kw = dict(n_features=3, threshold=1.8, shift=shifts, n_rows=50, n_sims=10, rng=4)
    res = simengine.simulate_gate(**kw)
    clean = shifted = 0
    # replay block by block: GATE_BLOCK runs per generator, each clean rows then shifted rows, row-major draws
    gens = _rng.numpy_block_generators(_rng.as_seed_sequence(4), _rng.n_blocks(10, ks.GATE_BLOCK))
    for s in range(10):
        gen = gens[s // ks.GATE_BLOCK]
        clean += int((np.abs(gen.standard_normal((50, 3))) > 1.8).any(axis=1).sum())
        shifted += int((np.abs(gen.standard_normal((50, 3)) + shifts) > 1.8).any(axis=1).sum())
    assert res.clean_rejection_rate == clean / 500 and res.shifted_rejection_rate == shifted / 500
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simengine.simulate_gate(**kw)
    finally:
        numba.set_num_threads(before)
    assert (one.clean_rejection_rate, one.shifted_rejection_rate) == (
        res.clean_rejection_rate, res.shifted_rejection_rate)


def test_simulate_gate_slicing_never_changes_a_number(monkeypatch):
    kw = dict(n_features=2, threshold=1.5, shift=0.7, n_rows=20, n_sims=37, rng=9)
    whole = simengine.simulate_gate(**kw)
    calls = []

    def tiny(call, n_blocks, **opts):
        calls.append(n_blocks)
        return [call(b, b + 1) for b in range(n_blocks)]  # one block per slice

    monkeypatch.setattr(serving, "run_blocks", tiny)
    sliced = simengine.simulate_gate(**kw)
    assert calls == [10]
    assert (sliced.clean_rejection_rate, sliced.shifted_rejection_rate) == (
        whole.clean_rejection_rate, whole.shifted_rejection_rate)


def test_simulate_gate_is_registered_for_sweep():
    table = simengine.sweep("gate", {"threshold": [2.0]}, fixed={"n_features": 2, "n_rows": 100}, n_sims=8, rng=3,
                            progress=False)
    assert "gate" in simengine.simulations()
    assert {"clean_rejection_rate", "clean_rejection_rate_se", "shifted_rejection_rate"} <= set(table.columns)


def test_simulate_gate_iv():
    with pytest.raises(ValueError, match="`n_features` must be an integer in"):
        simengine.simulate_gate(n_features=0)
    with pytest.raises(ValueError, match="`threshold` must be in"):
        simengine.simulate_gate(threshold=0.0)
    with pytest.raises(TypeError, match="`shift` must be"):
        simengine.simulate_gate(shift="1")
    with pytest.raises(ValueError, match="`shift` as an array must have one value per feature"):
        simengine.simulate_gate(n_features=3, shift=[1.0, 2.0])
    with pytest.raises(ValueError, match="`shifted_features` only applies to a scalar `shift`"):
        simengine.simulate_gate(n_features=2, shift=[1.0, 2.0], shifted_features=[0])
    with pytest.raises(ValueError, match="`shifted_features` must be feature indices"):
        simengine.simulate_gate(n_features=2, shift=1.0, shifted_features=[2])
    with pytest.raises(TypeError, match="`shifted_features` must be"):
        simengine.simulate_gate(n_features=2, shift=1.0, shifted_features="0")
    with pytest.raises(ValueError, match="`n_rows` must be an integer"):
        simengine.simulate_gate(n_rows=0)
    with pytest.raises(ValueError, match="`n_sims` must be an integer"):
        simengine.simulate_gate(n_sims=0)
    with pytest.raises(ValueError, match="`n_sims` x `n_rows` x `n_features`"):
        simengine.simulate_gate(n_features=10**6, n_rows=10**6, n_sims=10**3)
    with pytest.raises(TypeError, match="`rng` must be"):
        simengine.simulate_gate(rng="seed")
    with pytest.raises(TypeError, match="`progress` must be"):
        simengine.simulate_gate(progress="yes")


def test_latency_ranks_order_like_numpy_stable_argsort():
    g = np.random.default_rng(2)
    for x in (g.lognormal(size=500), np.round(g.normal(size=500), 1), np.r_[0.0, -0.0, 1.0, -0.0, 0.0, -2.5, 1e300]):
        rank, sorted_lat = serving._latency_ranks(x)  # the kernel, on arrays the public layer allocates
        order = np.argsort(x, kind="stable")
        assert_array_equal(rank[order], np.arange(x.size))
        assert_array_equal(np.signbit(sorted_lat), np.signbit(x[order]))
        assert_array_equal(sorted_lat, x[order])


def test_window_quantiles_with_signed_zeros_and_ties():
    # equal as values; the sign of a zero is not compared: np.quantile picks among equal values by its
    # partition (introselect), whose order of ties is NumPy's internal business
    t = np.arange(6.0)
    lat = np.array([-0.0, 0.0, -0.0, 1.0, -0.0, -0.0])
    res = simengine.window_metrics(t, lat, window_seconds=3.0, quantiles=(0.0, 0.5, 0.75, 1.0))
    ref = naive.window_metrics_filter(t, lat, None, 3.0, (0.0, 0.5, 0.75, 1.0))
    assert_array_equal(res.latency_quantiles, ref["latency_quantiles"])


def test_window_quantiles_across_sparse_and_dense_rank_words():
    # wide windows (dense words), narrow ones over many requests (neighbouring ranks words apart), ties
    g = np.random.default_rng(6)
    t = np.sort(g.uniform(0, 1000, 1000))
    lat = np.r_[g.lognormal(size=990), np.full(10, 1.0)][g.permutation(1000)]
    for w in (5.0, 100.0, 2000.0):
        res = simengine.window_metrics(t, lat, window_seconds=w, quantiles=(0.0, 0.3, 0.5, 0.99, 1.0))
        ref = naive.window_metrics_filter(t, lat, None, w, (0.0, 0.3, 0.5, 0.99, 1.0))
        assert_array_equal(res.latency_quantiles, ref["latency_quantiles"])


def test_zscore_gate_slicing_never_changes_a_number(monkeypatch):
    X = np.random.default_rng(4).normal(size=(300, 5)) * 2
    whole = simengine.zscore_gate(X, 0.1, 1.5, threshold=2.0)
    monkeypatch.setattr(serving, "_ZS_VALUES", 7)  # one row a block
    sliced = simengine.zscore_gate(X, 0.1, 1.5, threshold=2.0)
    for name in ("rejected", "exceeded", "z", "n_exceeded_by_feature"):
        assert_array_equal(getattr(whole, name), getattr(sliced, name))
