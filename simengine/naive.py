"""Plain NumPy / SciPy baselines: the straightforward way to write each simulation.

Tests use them as references, `benchmarks/` and `simengine bench` time against
them.  They favour obviousness over speed on purpose; never optimise them.
"""
from __future__ import annotations

import numpy as np

__all__: list[str] = []


# --- hypothesis testing (issue 3): permutation tests, power, multiple testing ---


def permutation_median_loop(x, y, n_resamples=9999, rng=None):
    """Two-sided permutation p-value of median(y) - median(x): shuffle + np.median per resample."""
    rng = np.random.default_rng(rng)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    pooled = np.concatenate([x, y])
    observed = np.median(y) - np.median(x)
    null = np.empty(n_resamples)
    for i in range(n_resamples):
        perm = rng.permutation(pooled)
        null[i] = np.median(perm[len(x):]) - np.median(perm[: len(x)])
    gamma = abs(100 * np.finfo(float).eps * observed)
    p_less = (np.count_nonzero(null <= observed + gamma) + 1) / (n_resamples + 1)
    p_greater = (np.count_nonzero(null >= observed - gamma) + 1) / (n_resamples + 1)
    return min(1.0, 2 * min(p_less, p_greater))


def multipletests_loop(pvals, alpha=0.05, method="holm"):
    """statsmodels' `multipletests` called once per family (row); returns (reject, pvals_corrected)."""
    from statsmodels.stats.multitest import multipletests

    pvals = np.asarray(pvals, dtype=float)
    reject = np.empty(pvals.shape, dtype=bool)
    corrected = np.empty(pvals.shape)
    for i in range(pvals.shape[0]):
        reject[i], corrected[i] = multipletests(pvals[i], alpha=alpha, method=method)[:2]
    return reject, corrected


def ttest_power_loop(effect_size, n, n_sims=10_000, alpha=0.05, rng=None):
    """Monte Carlo power of the pooled t-test: draw both groups, call scipy's ttest_ind, n_sims times."""
    from scipy import stats

    rng = np.random.default_rng(rng)
    hits = 0
    for _ in range(n_sims):
        treated = rng.normal(effect_size, 1.0, n)
        control = rng.normal(0.0, 1.0, n)
        hits += stats.ttest_ind(treated, control).pvalue <= alpha
    return hits / n_sims
