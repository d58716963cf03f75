"""Serving simulation (issue 18): load tests, token buckets, sliding-window metrics, input gates.

Targets (read from the ratios in one group, never asserted): token_bucket on 10^7 requests over 10^4 clients
< 0.5 s; window_metrics on 10^7 requests within 5x of reading the inputs once (the "numpy read once" row).
"""
import numpy as np
import pytest
from conftest import sizes

import simengine
from simengine import naive

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
                                  "simengine"])
def test_window_metrics(run, benchmark, impl, quantiles, n):
    benchmark.group = f"window_metrics {n} requests, 60 s, quantiles={quantiles}"
    t, _, lat, err = _traffic(n, 1)
    if impl == "simengine":
        run(simengine.window_metrics, t, lat, err, quantiles=quantiles)
    elif impl.startswith("numpy"):
        run(lambda: (t.sum(), lat.sum(), np.count_nonzero(err)))
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
