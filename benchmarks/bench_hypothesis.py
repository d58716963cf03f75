"""Hypothesis-testing kernels vs naive loops and the library a user would pick instead.

Speed targets (issue 3) are read from the ratios within each group:
median permutation test (52 + 52, 9 999 resamples), paired sign-flip permutation test (50 pairs,
9 999 resamples: >= 20x scipy, issue 17), multipletests (10^5 x 20),
simulate_power for the t-test (n = 394, 10 000 replicates).
"""
import numpy as np
import pytest
from conftest import sizes

from simengine import multipletests, naive, permutation_test, simulate_power

IMPLS = ["naive", "library", "simengine"]


def _median_xy(x, y, axis):
    return np.median(x, axis=axis) - np.median(y, axis=axis)


@pytest.mark.parametrize("n_resamples", sizes(999, 9999))
@pytest.mark.parametrize("impl", IMPLS)
def test_permutation_median(run, benchmark, impl, n_resamples):
    benchmark.group = f"permutation test of medians, 52 + 52, R = {n_resamples}"
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=52), rng.normal(0.3, 1.0, size=52)
    if impl == "naive":
        run(naive.permutation_median_loop, x, y, n_resamples, 1, rounds=3)
    elif impl == "library":
        from scipy import stats

        run(stats.permutation_test, (x, y), _median_xy, vectorized=True, n_resamples=n_resamples, rng=1, rounds=5)
    else:
        run(permutation_test, x, y, statistic="median", n_resamples=n_resamples, rng=1)


def _mean_xy(x, y, axis):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


@pytest.mark.parametrize("n_resamples", sizes(999, 9999))
@pytest.mark.parametrize("impl", IMPLS)
def test_paired_permutation(run, benchmark, impl, n_resamples):
    benchmark.group = f"paired permutation test (sign flips), 50 pairs, R = {n_resamples}"
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = x + rng.normal(0.2, 1.0, size=50)
    if impl == "naive":
        run(naive.paired_permutation_loop, x, y, n_resamples, 1, rounds=3)
    elif impl == "library":
        from scipy import stats

        run(stats.permutation_test, (x, y), _mean_xy, permutation_type="samples", vectorized=True,
            n_resamples=n_resamples, rng=1, rounds=5)
    else:
        run(permutation_test, x, y, permutation_type="samples", n_resamples=n_resamples, rng=1)


@pytest.mark.parametrize("n_families", sizes(1000, 100_000))
@pytest.mark.parametrize("impl", ["statsmodels loop", "simengine"])
def test_multipletests(run, benchmark, impl, n_families):
    # fdr_bh: statsmodels' holm branch calls gc.collect() per call, which would flatter us
    benchmark.group = f"multipletests fdr_bh, {n_families} families x 20"
    p = np.random.default_rng(0).uniform(size=(n_families, 20))
    if impl == "statsmodels loop":
        run(naive.multipletests_loop, p, 0.05, "fdr_bh", rounds=1 if n_families > 1000 else 3)
    else:
        run(multipletests, p, alpha=0.05, method="fdr_bh")


@pytest.mark.parametrize("n_sims", sizes(1000, 10_000))
@pytest.mark.parametrize("impl", IMPLS)
def test_simulate_power_t(run, benchmark, impl, n_sims):
    benchmark.group = f"power of the t-test, n = 394, {n_sims} replicates"
    if impl == "naive":
        run(naive.ttest_power_loop, 0.2, 394, n_sims, 0.05, 1, rounds=1)
    elif impl == "library":
        from scipy import stats

        rng = np.random.default_rng(1)
        rvs = (lambda size: rng.normal(0.2, 1.0, size=size), lambda size: rng.normal(0.0, 1.0, size=size))
        run(stats.power, stats.ttest_ind, rvs, (394, 394), significance=0.05, n_resamples=n_sims, rounds=3)
    else:
        run(simulate_power, effect_size=0.2, n=394, n_sims=n_sims, rng=1)
