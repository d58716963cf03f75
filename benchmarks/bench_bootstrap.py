"""bootstrap vs a NumPy loop and scipy.stats.bootstrap (issue 17).

Speed targets are read from the ratios within each group: the median, n = 1 000, 9 999 resamples, BCa
(>= 20x scipy, >= 50x the NumPy loop), the mean (>= 10x scipy's vectorized call); the two "index floor" rows
draw the resample indices alone, in the same blocks and threads: by NumPy's ``integers(0, n, n)`` (what a user
writes) and by bootstrap's own rule (four indices per 64-bit output, eight outputs at a time).
"""
import numpy as np
import pytest
from conftest import sizes

from simengine import bootstrap, naive, simulate_bootstrap_coverage
from simengine._bench import _bootstrap_floor, _bootstrap_numpy_floor

IMPLS = ["naive", "library", "numpy index floor", "index floor", "simengine"]
STATS = {"median": np.median, "mean": np.mean}


@pytest.mark.parametrize("n_resamples", sizes(999, 9999))
@pytest.mark.parametrize("statistic", ["median", "mean"])
@pytest.mark.parametrize("impl", IMPLS)
def test_bootstrap_bca(run, benchmark, impl, statistic, n_resamples):
    benchmark.group = f"bootstrap BCa of the {statistic}, n = 1000, R = {n_resamples}"
    x = np.random.default_rng(0).normal(size=1000)
    if impl == "naive":
        run(naive.bootstrap_loop, x, STATS[statistic], n_resamples, rng=1, rounds=1)
    elif impl == "library":
        from scipy import stats

        run(stats.bootstrap, (x,), STATS[statistic], n_resamples=n_resamples, rng=1, rounds=3)
    elif impl == "numpy index floor":
        run(_bootstrap_numpy_floor, x, n_resamples)
    elif impl == "index floor":
        run(_bootstrap_floor, x, n_resamples)
    else:
        run(bootstrap, (x,), statistic, n_resamples=n_resamples, rng=1)


@pytest.mark.parametrize("n_metrics", sizes(20, 200))
@pytest.mark.parametrize("impl", ["library", "simengine"])
def test_bootstrap_batched_means(run, benchmark, impl, n_metrics):
    benchmark.group = f"bootstrap percentile of {n_metrics} means, n = 500, R = 9999"
    metrics = np.random.default_rng(0).normal(size=(500, n_metrics))
    if impl == "library":
        from scipy import stats

        run(stats.bootstrap, (metrics,), np.mean, n_resamples=9999, method="percentile", rng=1, rounds=3)
    else:
        run(bootstrap, (metrics,), "mean", n_resamples=9999, method="percentile", rng=1)


# --- coverage of bootstrap intervals (slice bootcov): n = 30, 999 resamples, 2 000 replicates, three
# methods in < 2 s


@pytest.mark.parametrize("n_sims", sizes(200, 2000))
@pytest.mark.parametrize("impl", ["naive", "library", "simengine"])
def test_simulate_bootstrap_coverage(run, benchmark, impl, n_sims):
    benchmark.group = f"bootstrap coverage of the mean, n = 30, 999 resamples, {n_sims} replicates, 3 methods"
    if impl == "naive":
        run(naive.bootstrap_coverage_loop, 30, 999, n_sims, 0.95, 1, rounds=1)
    elif impl == "library":
        run(naive.bootstrap_coverage_scipy, 30, 999, n_sims, 0.95, 1, rounds=1)
    else:
        run(simulate_bootstrap_coverage, distribution="normal", n=30, statistic="mean", n_resamples=999,
            n_sims=n_sims, rng=1, progress=False)
