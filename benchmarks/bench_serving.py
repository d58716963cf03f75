"""Serving simulation: load tests of a FCFS multi-server queue.

The notebook's scenario (lognormal(3.2, 0.6) ms service, 10% of requests x5 slower, 20 workers, 400 requests a
second), runs of 10^5 requests: simengine against SimPy (the `compare` extra; skipped without it), the
per-request Python reference and the floor (NumPy drawing the same random numbers alone).
``extra_info["requests"]`` holds the requests simulated per call: divide the mean time by it for ns a request.
"""
import math

import numpy as np
import pytest
from conftest import QUICK

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
