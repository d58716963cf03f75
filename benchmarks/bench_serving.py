"""Serving simulation (issue 18): load tests, token buckets, sliding-window metrics, input gates.

Load tests: the notebook's scenario (lognormal(3.2, 0.6) ms service, 10% of requests x5 slower, 20 workers, 400
requests a second), runs of 10^5 requests: simengine against SimPy (the `compare` extra; skipped without it), the
per-request Python reference and the floor (NumPy drawing the same random numbers alone).
``extra_info["requests"]`` holds the requests simulated per call: divide the mean time by it for ns a request.
Recorded traffic (read from the ratios in one group, never asserted): token_bucket on 10^7 requests over 10^4
clients < 0.5 s; window_metrics on 10^7 requests within 5x of reading the inputs once (the "numpy read once" row;
"writing the outputs alone" allocates and fills the result's arrays, a floor of its own: six 10^7 columns with the
default quantiles are several reads' worth before anything is computed).
"""
import math

import numpy as np
import pytest
from conftest import QUICK, sizes

import simengine
from simengine import naive

# ---------------------------------------------------------------------------------------------------------
# load tests: simulate_load_test
# ---------------------------------------------------------------------------------------------------------

LOAD_REQUESTS = 10_000 if QUICK else 100_000
LOAD_RUNS = 2
LOAD = dict(arrival_rate=400.0, workers=20, slow_prob=0.1, slow_factor=5.0)
MU, SIGMA = 3.2 + math.log(1e-3), 0.6


def _load_floor():
    g = np.random.default_rng(0)
    for _ in range(LOAD_RUNS):
        g.standard_exponential(LOAD_REQUESTS), np.exp(g.standard_normal(LOAD_REQUESTS)), g.random(LOAD_REQUESTS)


@pytest.mark.parametrize("impl", ["simengine", "simpy", "naive per-request heapq", "floor (NumPy draws alone)"])
def test_load_test(run, benchmark, impl):
    benchmark.group = f"load test {LOAD_RUNS} x {LOAD_REQUESTS} requests, 20 workers"
    benchmark.extra_info["requests"] = LOAD_RUNS * LOAD_REQUESTS
    if impl == "simengine":
        run(simengine.simulate_load_test, n_requests=LOAD_REQUESTS, n_sims=LOAD_RUNS, rng=0, **LOAD)
    elif impl == "simpy":
        pytest.importorskip("simpy", reason="SimPy is not installed (the `compare` extra)")
        run(lambda: [naive.load_test_simpy(LOAD_REQUESTS, mu=MU, sigma=SIGMA, seed=r, **LOAD)
                     for r in range(LOAD_RUNS)], rounds=1)
    elif impl.startswith("naive"):
        params = {"mu": MU, "sigma": SIGMA}
        run(lambda: [naive.load_test_replay(np.random.default_rng(r), LOAD_REQUESTS, service_params=params, **LOAD)
                     for r in range(LOAD_RUNS)], rounds=1)
    else:
        run(_load_floor)


# ---------------------------------------------------------------------------------------------------------
# recorded traffic and input gates: token_bucket, window_metrics, simulate_gate
# ---------------------------------------------------------------------------------------------------------

TRAFFIC_SIZES = sizes(10**5, 10**7)


def _traffic(n, n_clients):
    g = np.random.default_rng(0)
    t = np.sort(g.uniform(0.0, 86_400.0, n))
    return t, g.integers(0, n_clients, n), g.lognormal(-3.0, 0.6, n), g.random(n) < 0.01


@pytest.mark.parametrize("n", TRAFFIC_SIZES)
@pytest.mark.parametrize("impl", ["naive Python replay (1/100 of the requests)", "simengine"])
def test_token_bucket(run, benchmark, impl, n):
    benchmark.group = f"token_bucket {n} requests x 10^4 clients"
    t, ids, _, _ = _traffic(n, 10**4)
    if impl == "simengine":
        run(simengine.token_bucket, t, ids, capacity=100, refill_per_second=100 / 60)
    else:
        sub = n // 100
        run(naive.token_bucket_steps, t[:sub], ids[:sub], 100.0, 100 / 60, rounds=1)


@pytest.mark.parametrize("n", TRAFFIC_SIZES)
@pytest.mark.parametrize("quantiles", [(0.5, 0.95, 0.99), ()], ids=["p50-p95-p99", "no-quantiles"])
@pytest.mark.parametrize("impl", ["naive filter (1/100 of the requests at 1/100 of their times)", "numpy read once",
                                  "writing the outputs alone", "simengine"])
def test_window_metrics(run, benchmark, impl, quantiles, n):
    benchmark.group = f"window_metrics {n} requests, 60 s, quantiles={quantiles}"
    t, _, lat, err = _traffic(n, 1)
    if impl == "simengine":
        run(simengine.window_metrics, t, lat, err, quantiles=quantiles)
    elif impl.startswith("numpy"):
        run(lambda: (t.sum(), lat.sum(), np.count_nonzero(err)))
    elif impl.startswith("writing"):  # allocating and filling the result's arrays: a floor below the call's time
        shapes = [(n,), (n,), (n,), (n, len(quantiles))]
        run(lambda: [np.empty(shape, np.int64 if k == 0 else float).fill(1) for k, shape in enumerate(shapes)])
    else:
        sub = n // 100
        run(naive.window_metrics_filter, t[:sub], lat[:sub], err[:sub], 60.0, quantiles, t[:sub:100], rounds=1)


@pytest.mark.parametrize("impl", ["naive NumPy", "simengine"])
def test_simulate_gate(run, benchmark, impl):
    benchmark.group = "simulate_gate 10 features, 100 x 10^4 rows"
    shift = np.r_[1.0, np.zeros(9)]
    if impl == "simengine":
        run(simengine.simulate_gate, n_features=10, threshold=3.0, shift=shift, n_rows=10_000, n_sims=100, rng=0)
    else:
        run(naive.gate_rejections_numpy, 10, 3.0, shift, 10_000, 100, 0, rounds=1)
