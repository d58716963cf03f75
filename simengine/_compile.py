"""Kernel families and their warm-up calls, for `simengine info --compile`.

Each family's warm-up calls its public functions once on tiny input, which is
what a user's first call costs: compiling (empty cache) or loading (warm cache).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

__all__ = ["FAMILIES", "warm_family", "measure_compile_times"]


def _warm_special():
    from simengine.kernels import special

    special.norm_cdf(0.5)
    special.norm_ppf(0.3)
    special.t_pvalue_two_sided(1.5, 10.0)
    special.betainc(2.0, 3.0, 0.4)


def _warm_rng():
    from simengine import _rng

    _rng.block_generators(_rng.as_seed_sequence(0), 2)
    _rng.pcg64_block_states(0, 2)
    _rng.pcg64_block_states(_rng.as_seed_sequence(0), 2)


def _warm_hypothesis():
    import numpy as np

    from simengine import (
        mannwhitneyu,
        multipletests,
        permutation_test,
        power_ttest,
        simulate_multiple_testing,
        simulate_power,
        ttest_ind,
    )

    x, y = np.arange(6.0), np.arange(6.0) + 0.5
    permutation_test(x, y, statistic="mean", n_resamples=50, rng=0)
    permutation_test(x, y, statistic="median", n_resamples=1000, rng=0)
    ttest_ind(x, y)
    mannwhitneyu(x, y)
    multipletests([0.01, 0.2, 0.03], method="holm")
    simulate_power(effect_size=0.5, n=5, n_sims=10, rng=0)
    simulate_power(test="mannwhitney", effect_size=0.5, n=5, n_sims=10, rng=0)
    power_ttest(effect_size=0.5, n=20)
    simulate_multiple_testing(effect_size=0.5, n_per_group=5, n_sims=10, methods=("holm", "fdr_bh"), rng=0)


def _warm_sequential():
    from simengine.sequential import group_sequential_boundaries, simulate_peeking

    simulate_peeking(n_sims=10, n_looks=2, visitors_per_look=5, rng=0)
    group_sequential_boundaries(2)
def _warm_bayes():
    import simengine

    simengine.bayes_ab([3, 30], [10, 100], [4, 35], [10, 100])
    simengine.bayes_ab(3, 10, 4, 10, prior=(0.5, 0.5))  # quadrature branch
    simengine.bayes_ab(3, 10, 4, 10, method="mc", n_draws=100, rng=0)
    simengine.prob_best([3, 4, 5], [10, 10, 10], n_draws=100, rng=0)
    simengine.simulate_coverage(p=0.3, n=10, methods=("wilson",), n_sims=100, rng=0)
    simengine.simulate_bayes_peeking(n_sims=10, n_looks=2, visitors_per_look=10, rate=0.3, rng=0)


def _warm_mcmc():
    import numpy as np

    import simengine
    from simengine import targets

    f = targets.multivariate_normal(np.zeros(2), np.eye(2))
    simengine.metropolis_hastings(f, np.zeros(2), n_steps=20, n_chains=2, rng=0)
    simengine.metropolis_hastings(f, np.zeros(2), n_steps=20, n_chains=1, rng=0)


def _warm_diagnostics():
    import numpy as np

    import simengine

    draws = np.random.default_rng(0).normal(size=(2, 50, 2))
    simengine.rhat(draws)
    simengine.ess(draws)
    simengine.ess(draws, method="tail")
    simengine.mcse(draws)


# name -> warm-up function; later families add themselves here.
FAMILIES = {
    "rng blocks": _warm_rng,
    "special functions": _warm_special,
    "hypothesis tests": _warm_hypothesis,
    "sequential testing": _warm_sequential,
}
FAMILIES["bayes"] = _warm_bayes
FAMILIES["mcmc (per log density)"] = _warm_mcmc
FAMILIES["mcmc diagnostics"] = _warm_diagnostics


def warm_family(name: str) -> float:
    """Run one family's warm-up in this process; return the seconds it took."""
    start = time.perf_counter()
    FAMILIES[name]()
    return time.perf_counter() - start


def _time_in_subprocess(name: str, cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    code = (
        "import json, simengine._compile as c; "
        f"print(json.dumps(c.warm_family({name!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def measure_compile_times(names=None, progress=None):
    """First-call seconds per family with an empty cache and then with a warm cache.

    Each measurement runs in a fresh interpreter (a cache only helps a new
    process); the empty cache is a new temporary NUMBA_CACHE_DIR.
    """
    rows = []
    for name in names or list(FAMILIES):
        with tempfile.TemporaryDirectory(prefix="simengine-cache-") as tmp:
            cold = _time_in_subprocess(name, tmp)
            warm = _time_in_subprocess(name, tmp)
        rows.append({"family": name, "empty cache s": cold, "warm cache s": warm})
        if progress is not None:
            progress.update(1)
    return rows


def _warm_drift():
    import numpy as np

    import simengine

    x = np.zeros((2, 40))
    simengine.psi(x, x + 1.0)
    simengine.psi(x, x, binning="quantile")
    simengine.psi_monitor(x[0], x)
    simengine.ddm(x.astype(np.uint8))  # up to 8 streams: one by one
    simengine.ddm(np.zeros((9, 40), dtype=np.uint8))  # more: SIMD lanes, a kernel of its own
    simengine.DDM().update(1)
    simengine.adwin(x)
    simengine.ADWIN().update(0.5)
    simengine.simulate_drift_detection(n_sims=2, n_steps=50, drift_start=25, rng=0)


FAMILIES["drift detection"] = _warm_drift
