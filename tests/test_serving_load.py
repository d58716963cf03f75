"""simulate_load_test and TokenBucket (issue 18): the FCFS multi-server queue against a per-request NumPy/heapq
replay (exact, request for request), queueing theory (M/M/1, M/M/c Erlang C, M/D/1 Pollaczek-Khinchine) within
4 Monte Carlo SE, token buckets against a step-by-step reference, thread and slice invariance, bad input.

Kernels compile per set of options used (unused options are None), so the tests share a few option sets.
"""
import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from simengine import _long, naive
from simengine._rng import as_seed_sequence, numpy_block_generators, pcg64_block_states
from simengine.kernels import serving as k
from simengine.serving import NOTEBOOK_SERVICE, TokenBucket, _service_spec, simulate_load_test

# one run replayed: (options of simulate_load_test, arrival rate, workers)
REPLAYS = {
    "lognormal-slow": (dict(slow_prob=0.1, slow_factor=5.0), 300.0, 12),
    "exponential-queue-timeout-weighted-clients": (
        dict(service="exponential", service_params={"mean": 0.1}, queue_capacity=4, timeout=0.15,
             rate_limit=TokenBucket(3.0, 10.0), n_clients=4, client_weights=[1.0, 2.0, 0.0, 3.0]), 30.0, 2),
    "gamma-loss-uniform-clients": (
        dict(service="gamma", service_params={"shape": 0.6, "scale": 0.2}, queue_capacity=0,
             rate_limit=TokenBucket(2.0, 1.5), n_clients=3), 12.0, 2),
    "gamma-shape-above-one": (
        dict(service="gamma", service_params={"shape": 2.5, "scale": 0.04}, queue_capacity=0,
             rate_limit=TokenBucket(2.0, 1.5), n_clients=3), 12.0, 2),
    "deterministic-both": (
        dict(service="deterministic", service_params={"value": 0.09}, arrivals="deterministic"), 10.5, 1),
    "empirical-timeout": (dict(service=np.array([0.01, 0.05, 0.4, 0.02]), timeout=0.05), 20.0, 2),
}


def _run_kernel(opts, rate, workers, n, seed, run):
    """Run `run` of a call's kernel directly: per-request arrival, wait, service, status."""
    name, spec, _ = _service_spec(opts.get("service", "lognormal"), opts.get("service_params"))
    rl = opts.get("rate_limit")
    nc = opts.get("n_clients", 1)
    cdf = None
    if opts.get("client_weights") is not None:
        w = np.asarray(opts["client_weights"], dtype=float)
        cdf = np.cumsum(w / w.sum())
        cdf[-1] = 1.0
    qc = opts.get("queue_capacity")
    arrival, wait, service = np.empty(n), np.empty(n), np.empty(n)
    k._load_run(pcg64_block_states(seed, run + 1)[run], float(rate), opts.get("arrivals", "poisson") == "poisson",
                spec["lognormal"], spec["exponential"], spec["deterministic"], spec["gamma"], spec["sample"],
                float(opts.get("slow_prob", 0.0)), float(opts.get("slow_factor", 5.0)), np.empty(min(workers, n)),
                None if qc is None else np.empty(qc), opts.get("timeout"),
                None if rl is None else (rl.capacity, rl.refill_per_second),
                None if rl is None else np.empty((nc, 2)), cdf, arrival, wait, service)
    status = np.where(wait >= 0, 0, -wait).astype(np.int8)
    return name, spec, arrival, np.where(wait >= 0, wait, np.nan), service, status


@pytest.mark.parametrize("case", sorted(REPLAYS))
def test_kernel_replays_numpy_heapq_reference_exactly(case):
    opts, rate, workers = REPLAYS[case]
    n, seed, run = 3000, 11, 2
    name, spec, arrival, wait, service, status = _run_kernel(opts, rate, workers, n, seed, run)
    gen = numpy_block_generators(as_seed_sequence(seed), run + 1)[run]
    rl = opts.get("rate_limit")
    params = opts.get("service_params", NOTEBOOK_SERVICE if name == "lognormal" else None)
    ref = naive.load_test_replay(
        gen, n, arrival_rate=rate, workers=workers, service=name, service_params=params, sample=spec["sample"],
        slow_prob=opts.get("slow_prob", 0.0), slow_factor=opts.get("slow_factor", 5.0),
        queue_capacity=opts.get("queue_capacity"), timeout=opts.get("timeout"),
        arrivals=opts.get("arrivals", "poisson"), rate_limit=None if rl is None else (rl.capacity, rl.refill_per_second),
        n_clients=opts.get("n_clients", 1), client_weights=opts.get("client_weights"))
    # same draws, same arithmetic: equal bit for bit, request for request
    assert_array_equal(arrival, ref[0])
    assert_array_equal(service, ref[2])
    assert_array_equal(status, ref[3])
    assert_array_equal(wait, ref[1])
    assert (status == 0).sum() > n // 4  # every case serves, and the options in it act:
    if rl is not None:
        assert (status == 1).any()
    if opts.get("queue_capacity") is not None:
        assert (status == 2).any()
    if opts.get("timeout") is not None:
        assert (status == 3).any()


def test_run_statistics_are_numpy_statistics_of_the_replay():
    """A call's per-run statistics (its estimates with n_sims=1) are NumPy's on the replayed requests."""
    opts, rate, workers = REPLAYS["exponential-queue-timeout-weighted-clients"]
    n, seed = 3000, 5
    q = (0.0, 0.5, 0.9, 0.99, 1.0)
    res = simulate_load_test(arrival_rate=rate, workers=workers, n_requests=n, n_sims=1, quantiles=q, rng=seed,
                             warmup=0.2, **opts)
    _, _, arrival, wait, service, status = _run_kernel(opts, rate, workers, n, seed, 0)
    m = slice(600, None)
    served = status[m] == 0
    lat = (wait + service)[m][served]
    assert_allclose(res.latency_quantiles, np.quantile(lat, q), rtol=1e-13)
    assert_allclose(res.mean_latency, lat.mean(), rtol=1e-12)
    assert_allclose(res.mean_wait, wait[m][served].mean(), rtol=1e-12)
    assert res.p_wait == np.mean(wait[m][served] > 0)
    span = arrival[-1] - arrival[599]
    assert_allclose(res.throughput, served.sum() / span, rtol=1e-12)
    assert_allclose(res.utilisation, service[m][served].sum() / (workers * span), rtol=1e-12)
    for code, field in ((1, "rejected_rate_limit"), (2, "rejected_queue_full"), (3, "timed_out")):
        assert getattr(res, field) == np.mean(status[m] == code)
    assert math.isnan(res.mean_latency_se)  # one run: no spread to estimate an SE from


def _close(est, se, exact, label):
    assert abs(est - exact) <= 4 * se, f"{label}: {est} vs {exact} (4 SE = {4 * se})"


@pytest.mark.parametrize("rho", [0.3, 0.9])
def test_mm1_latency_is_exponential(rho):
    """M/M/1: latency (sojourn time) ~ exponential(mu - lambda); every quantile and the mean within 4 SE."""
    q = np.array([0.5, 0.9, 0.99])
    res = simulate_load_test(arrival_rate=rho, workers=1, service="exponential", service_params={"mean": 1.0},
                             n_requests=30_000, n_sims=24, quantiles=q, rng=3)
    rate = 1.0 - rho
    for j, qq in enumerate(q):
        _close(res.latency_quantiles[j], res.latency_quantiles_se[j], -math.log1p(-qq) / rate, f"q{qq}")
    _close(res.mean_latency, res.mean_latency_se, 1.0 / rate, "mean")
    _close(res.p_wait, res.p_wait_se, rho, "P(wait > 0)")  # PASTA: an arrival finds the server busy w.p. rho
    _close(res.utilisation, res.utilisation_se, rho, "utilisation")


def _erlang_c(c, a):
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**i / math.factorial(i) for i in range(c)) + top)


@pytest.mark.parametrize("c, rho", [(4, 0.5), (3, 0.95)])
def test_mmc_matches_erlang_c(c, rho):
    lam = rho * c
    res = simulate_load_test(arrival_rate=lam, workers=c, service="exponential", service_params={"mean": 1.0},
                             n_requests=40_000, n_sims=24, quantiles=0.5, rng=4)
    pw = _erlang_c(c, lam)
    _close(res.p_wait, res.p_wait_se, pw, "Erlang C")
    _close(res.mean_wait, res.mean_wait_se, pw / (c - lam), "mean wait")


@pytest.mark.parametrize("rho", [0.6, 0.95])
def test_md1_mean_wait_is_pollaczek_khinchine(rho):
    d = 0.02
    res = simulate_load_test(arrival_rate=rho / d, workers=1, service="deterministic", service_params={"value": d},
                             n_requests=40_000, n_sims=24, quantiles=0.5, rng=5)
    _close(res.mean_wait, res.mean_wait_se, rho * d / (2 * (1 - rho)), "P-K mean wait")
    _close(res.mean_latency, res.mean_latency_se, d + rho * d / (2 * (1 - rho)), "mean latency")


def test_loss_system_matches_erlang_b():
    """queue_capacity=0 with c servers is M/M/c/c: the rejected fraction is Erlang B."""
    c, a = 3, 2.0
    res = simulate_load_test(arrival_rate=a, workers=c, service="exponential", service_params={"mean": 1.0},
                             queue_capacity=0, n_requests=20_000, n_sims=16, quantiles=0.5, rng=6)
    b = a**c / math.factorial(c) / sum(a**i / math.factorial(i) for i in range(c + 1))
    _close(res.rejected_queue_full, res.rejected_queue_full_se, b, "Erlang B")
    assert res.p_wait == 0.0 and res.mean_wait == 0.0


def test_same_numbers_on_one_or_two_threads_and_any_slicing(monkeypatch):
    kw = dict(arrival_rate=250.0, workers=12, slow_prob=0.1, n_requests=2000, n_sims=7, rng=9)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_load_test(**kw)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = simulate_load_test(**kw)
    finally:
        numba.set_num_threads(before)
    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)  # a run per slice after the first
    sliced = simulate_load_test(**kw)
    for a in (two, sliced):
        for name, value in one.to_dict().items():
            assert_array_equal(np.asarray(getattr(a, name)), np.asarray(value), err_msg=name)


def _bucket_reference(times, clients, capacity, refill, cost=1.0):
    tokens, last, out = {}, {}, []
    for t, j in zip(times, clients):
        have = capacity if j not in last else min(capacity, tokens[j] + (t - last[j]) * refill)
        last[j] = t
        ok = have >= cost
        tokens[j] = have - cost if ok else have
        out.append(ok)
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.1, 0.5, 2.0, 30.0]), min_size=1, max_size=60),
    clients=st.lists(st.integers(0, 3), min_size=60, max_size=60),
    capacity=st.sampled_from([0.5, 1.0, 2.0, 3.5, 100.0]),
    refill=st.sampled_from([0.0, 0.25, 1.0, 100 / 60]),
)
def test_bucket_admit_is_the_step_by_step_bucket(gaps, clients, capacity, refill):
    """`_bucket_admit` (bursts, ties, several clients) decides as the step-by-step bucket, and no window of
    time [s, t] admits more than capacity + refill (t - s) requests of one client."""
    times = np.cumsum(gaps)
    clients = clients[: len(times)]
    state = np.empty((4, 2))
    state[:, 0] = capacity
    state[:, 1] = -np.inf
    got = np.array([k._bucket_admit(state, j, t, capacity, refill, 1.0) for t, j in zip(times, clients)])
    assert_array_equal(got, _bucket_reference(times, clients, capacity, refill))
    for j in range(4):
        ts = times[(np.asarray(clients) == j) & got]
        for a in range(len(ts)):
            for b in range(a, len(ts)):
                assert b - a + 1 <= capacity + refill * (ts[b] - ts[a]) + 1e-9


def test_notebook_burst_and_rate_limit_rates():
    """A burst of arrivals against 100 tokens lets 100 through; in the long run each client is admitted at
    about its refill rate, so the rejected fraction is 1 - n_clients x refill / arrival rate."""
    bucket = TokenBucket(capacity=100, refill_per_second=100 / 60)
    burst = simulate_load_test(arrival_rate=1e4, workers=200, service="deterministic",
                               service_params={"value": 1e-3}, n_requests=120, warmup=0.0, n_sims=1,
                               rate_limit=bucket, rng=0, quantiles=0.5)
    assert burst.rejected_rate_limit == pytest.approx(20 / 120)
    res = simulate_load_test(arrival_rate=50.0, workers=4, service="deterministic", service_params={"value": 1e-3},
                             n_requests=20_000, n_sims=8, rate_limit=bucket, n_clients=5, rng=1, quantiles=0.5)
    expected = 1 - 5 * (100 / 60) / 50.0
    assert abs(res.rejected_rate_limit - expected) < 0.02  # the initial 5 x 100 tokens: < 500 / 18000
    assert res.offered_utilisation == pytest.approx(5 * (100 / 60) * 1e-3 / 4)


def test_result_protocol_and_scalar_quantile():
    res = simulate_load_test(arrival_rate=300.0, workers=12, n_requests=2000, n_sims=5, rng=2)
    assert res.quantiles.tolist() == [0.5, 0.9, 0.95, 0.99, 0.999]
    assert np.all(np.diff(res.latency_quantiles) >= 0)
    frame = res.to_frame()
    assert len(frame) == 5 and {"latency_quantiles", "latency_quantiles_se", "mean_latency"} <= set(frame)
    one = simulate_load_test(arrival_rate=300.0, workers=12, n_requests=2000, n_sims=5, rng=2, quantiles=0.99)
    assert isinstance(one.latency_quantiles, float) and one.latency_quantiles == res.latency_quantiles[3]
    assert one.mean_latency == res.mean_latency  # the quantiles asked for change nothing else
    # unsorted and repeated quantiles are answered in the order given
    mixed = simulate_load_test(arrival_rate=300.0, workers=12, n_requests=2000, n_sims=5, rng=2,
                               quantiles=[0.99, 0.5, 0.99])
    assert_array_equal(mixed.latency_quantiles, res.latency_quantiles[[3, 0, 3]])


def test_simulate_load_test_iv():
    ok = dict(arrival_rate=10.0, workers=2, n_requests=100, n_sims=2)

    def call(**kw):
        return simulate_load_test(**{**ok, **kw})

    with pytest.raises(ValueError, match="`arrival_rate` must be"):
        call(arrival_rate=-1.0)
    with pytest.raises(ValueError, match="`workers` must be an integer in"):
        call(workers=0)
    with pytest.raises(TypeError, match="`workers` must be an integer"):
        call(workers=2.5)
    with pytest.raises(ValueError, match="`service` must be one of"):
        call(service="weibull")
    with pytest.raises(ValueError, match="`service_params` is required"):
        call(service="gamma")
    with pytest.raises(ValueError, match="exactly the keys"):
        call(service="exponential", service_params={"rate": 1.0})
    with pytest.raises(TypeError, match="`service_params` must be a dict"):
        call(service_params=[3.0, 0.5])
    with pytest.raises(ValueError, match=r"`service_params\['sigma'\]` must be"):
        call(service_params={"mu": -3.0, "sigma": -1.0})
    with pytest.raises(ValueError, match="`service_params` only applies to a named"):
        call(service=[0.1, 0.2], service_params={"mean": 1.0})
    with pytest.raises(ValueError, match="`service` must hold service times >= 0"):
        call(service=[0.1, -0.2])
    with pytest.raises(ValueError, match="`service` must be finite"):
        call(service=[0.1, np.nan])
    with pytest.raises(ValueError, match="`slow_prob` must be"):
        call(slow_prob=1.5)
    with pytest.raises(ValueError, match="`slow_factor` must be"):
        call(slow_factor=0.0)
    with pytest.raises(ValueError, match="`n_requests` must be an integer in"):
        call(n_requests=1)
    with pytest.raises(ValueError, match="`warmup` must be"):
        call(warmup=1.0)
    with pytest.raises(ValueError, match="`queue_capacity` must be an integer in"):
        call(queue_capacity=-1)
    with pytest.raises(ValueError, match="`timeout` must be"):
        call(timeout=-0.5)
    with pytest.raises(ValueError, match="`arrivals` must be one of"):
        call(arrivals="bursty")
    with pytest.raises(ValueError, match="`n_sims` must be"):
        call(n_sims=0)
    with pytest.raises(ValueError, match="`quantiles` must lie in"):
        call(quantiles=[0.5, 1.5])
    with pytest.raises(ValueError, match="`quantiles` must be"):
        call(quantiles=-0.1)
    with pytest.raises(TypeError, match="`rate_limit` must be a TokenBucket"):
        call(rate_limit=(100, 1.0))
    with pytest.raises(ValueError, match="`n_clients` and `client_weights` only apply with `rate_limit`"):
        call(n_clients=3)
    with pytest.raises(ValueError, match="`client_weights` must hold `n_clients` = 2"):
        call(rate_limit=TokenBucket(5, 1), n_clients=2, client_weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="`client_weights` must hold"):
        call(rate_limit=TokenBucket(5, 1), n_clients=2, client_weights=[0.0, 0.0])
    with pytest.raises(ValueError, match="`n_clients` must be an integer in"):
        call(rate_limit=TokenBucket(5, 1), n_clients=0)
    with pytest.raises(ValueError, match=r"utilisation is 1\.2 >= 1"):
        call(arrival_rate=12.0, workers=1, service="deterministic", service_params={"value": 0.1})
    with pytest.raises(ValueError, match="`n_sims` x `n_requests` asks for"):
        call(n_sims=10**6, n_requests=10**7)
    with pytest.raises(TypeError, match="`progress` must be"):
        call(progress="yes")
    with pytest.raises(TypeError, match="`rng` must be"):
        call(rng="seed")
    with pytest.raises(ValueError, match="`capacity` must be"):
        TokenBucket(0, 1.0)
    with pytest.raises(ValueError, match="`refill_per_second` must be"):
        TokenBucket(10, -1.0)
    # overload is fine once the queue is bounded: a capacity, a timeout, or a rate limit that admits less
    call(arrival_rate=12.0, workers=1, service="deterministic", service_params={"value": 0.1}, queue_capacity=5)
    call(arrival_rate=12.0, workers=1, service="deterministic", service_params={"value": 0.1}, timeout=1.0)
    call(arrival_rate=12.0, workers=1, service="deterministic", service_params={"value": 0.1},
         rate_limit=TokenBucket(5, 8.0))


def test_load_test_demo_tables():
    from simengine._demo import _load_test_demo

    tables = _load_test_demo(True, 0)
    assert [df.shape for _, df in tables] == [(5, 7), (5, 6)]
    assert all("±" in str(v) for v in tables[0][1]["p99"])
