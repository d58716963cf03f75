"""Bootstrap kernels vs naive loops and scipy.stats.bootstrap (issue 17).

Speed targets are read from the ratios within each group.
"""
import pytest
from conftest import sizes

from simengine import naive, simulate_bootstrap_coverage

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
