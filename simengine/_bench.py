"""Side-by-side timings for `simengine bench`: naive NumPy, the usual library, simengine.

The naive baselines come from `simengine.naive`, the same functions the tests and
the pytest-benchmark suite use.  Each task builds its inputs once, warms the JIT,
then times every implementation in the same run.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["BenchTask", "TASKS", "time_call", "run_tasks"]


@dataclass(frozen=True, slots=True)
class BenchTask:
    """One benchmark: `make(quick)` returns ``{implementation: zero-argument callable}``.

    Implementations are named ``"naive"``, ``"simengine"`` and optionally the
    library a user would pick instead (its name, e.g. ``"scipy"``).
    """

    name: str
    family: str
    make: Callable[[bool], dict]


TASKS: list[BenchTask] = []


def time_call(fn, *, min_time: float = 0.2, max_repeats: int = 50, max_time: float = 20.0,
              min_repeats: int = 1) -> float:
    """Best-of-several wall time of `fn()`, repeating until `min_time` has been spent (and `min_repeats` calls)."""
    best = float("inf")
    spent = 0.0
    for i in range(max_repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        if i + 1 >= min_repeats and (spent >= min_time or spent >= max_time):
            break
    return best


def _missing(fn):
    """Call `fn` once (warm-up); the name of the missing package if it needs one that is not installed."""
    try:
        fn()
    except ModuleNotFoundError as exc:
        return (exc.name or str(exc)).split(".")[0]
    return None


def run_tasks(tasks, *, quick: bool = False, progress: bool = True):
    """Time every task; returns a DataFrame with one row per task.

    An implementation that needs a library which is not installed (statsmodels, river, arviz: the `compare`
    extra) leaves its column empty; ``table.attrs["notes"]`` says which and how to install it.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    rows = []
    notes = []
    for task in tqdm(list(tasks), desc="bench", disable=not progress, leave=False):
        impls = task.make(quick)
        engine = impls["simengine"]
        engine()  # compile / load from cache before timing
        min_time = 0.05 if quick else 0.3
        # at least three calls: a single call of a long task (~0.3 s and up) caught a transient slowdown (memory
        # returned to the system by the previous task's 8 GB scipy run) and reported 3x its usual time
        t_engine = time_call(engine, min_time=min_time, min_repeats=3)
        try:  # the naive baseline is timed cold, as before (a warm-up call of a slow loop would double it)
            t_naive = time_call(impls["naive"], min_time=min_time, max_repeats=3)
            absent = {"naive": None}
        except ModuleNotFoundError as exc:
            t_naive, absent = float("nan"), {"naive": (exc.name or str(exc)).split(".")[0]}
        absent.update({name: _missing(fn) for name, fn in impls.items() if name not in ("naive", "simengine")})
        for name, module in absent.items():
            if module is not None:
                notes.append(f"{task.name}: {name!r} column skipped ({module} is not installed; "
                             f'python -m pip install "numba-simengine[compare]" adds it)')
        row = {"task": task.name, "naive s": t_naive}
        library = [k for k in impls if k not in ("naive", "simengine") and absent[k] is None]
        for lib in library:
            row[f"{lib} s"] = time_call(impls[lib], min_time=min_time, max_repeats=5, min_repeats=3)
        row["simengine s"] = t_engine
        row["speed-up vs naive"] = t_naive / t_engine
        for lib in library:
            row[f"speed-up vs {lib}"] = row[f"{lib} s"] / t_engine
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["notes"] = notes
    return table


# --- hypothesis testing (issue 3) ---


def _make_permutation_median(quick):
    import numpy as np
    from scipy import stats

    from simengine import naive, permutation_test

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=52), rng.normal(0.3, 1.0, size=52)
    r = 999 if quick else 9999

    def scipy_median(a, b, axis):
        return np.median(a, axis=axis) - np.median(b, axis=axis)

    return {
        "naive": lambda: naive.permutation_median_loop(x, y, r, 1),
        "scipy": lambda: stats.permutation_test((x, y), scipy_median, vectorized=True, n_resamples=r, rng=1),
        "simengine": lambda: permutation_test(x, y, statistic="median", n_resamples=r, rng=1),
    }


def _make_multipletests(quick):
    import numpy as np

    from simengine import multipletests, naive

    p = np.random.default_rng(0).uniform(size=(2_000 if quick else 100_000, 20))
    # the naive baseline is the loop of statsmodels calls (fdr_bh: holm's branch runs gc.collect per call)
    return {
        "naive": lambda: naive.multipletests_loop(p, 0.05, "fdr_bh"),
        "simengine": lambda: multipletests(p, alpha=0.05, method="fdr_bh"),
    }


def _make_power_t(quick):
    import numpy as np
    from scipy import stats

    from simengine import naive, simulate_power

    n_sims = 1_000 if quick else 10_000
    rng = np.random.default_rng(1)
    rvs = (lambda size: rng.normal(0.2, 1.0, size=size), lambda size: rng.normal(0.0, 1.0, size=size))
    return {
        "naive": lambda: naive.ttest_power_loop(0.2, 394, n_sims, 0.05, 1),
        "scipy": lambda: stats.power(stats.ttest_ind, rvs, (394, 394), significance=0.05, n_resamples=n_sims),
        "simengine": lambda: simulate_power(effect_size=0.2, n=394, n_sims=n_sims, rng=1),
    }


def _make_paired_permutation(quick):
    import numpy as np
    from scipy import stats

    from simengine import naive, permutation_test

    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = x + rng.normal(0.2, 1.0, size=50)
    r = 999 if quick else 9999

    def mean_diff(a, b, axis):
        return np.mean(a, axis=axis) - np.mean(b, axis=axis)

    return {
        "naive": lambda: naive.paired_permutation_loop(x, y, r, 1),
        "scipy": lambda: stats.permutation_test((x, y), mean_diff, permutation_type="samples", vectorized=True,
                                                n_resamples=r, rng=1),
        "simengine": lambda: permutation_test(x, y, permutation_type="samples", n_resamples=r, rng=1),
    }


TASKS += [
    BenchTask("permutation test of medians, 52+52", "hypothesis", _make_permutation_median),
    BenchTask("paired permutation test (sign flips), 50 pairs", "hypothesis", _make_paired_permutation),
    BenchTask("multipletests fdr_bh, families x 20", "hypothesis", _make_multipletests),
    BenchTask("t-test power, n=394", "hypothesis", _make_power_t),
]
def _make_peeking_seed(quick):
    from simengine.naive import peeking_per_visitor, peeking_vectorised_binary
    from simengine.sequential import simulate_peeking

    n = 50 if quick else 1000
    return {
        "naive": lambda: peeking_per_visitor(n, 14, 100, rate=0.10, rng=0),
        "numpy vectorised": lambda: peeking_vectorised_binary(n, 14, 100, rate=0.10, rng=0),
        "simengine": lambda: simulate_peeking(n_sims=n, n_looks=14, visitors_per_look=100, rate=0.10, rng=0),
    }


def _make_peeking_floor(quick):
    import numpy as np

    from simengine._rng import as_seed_sequence, block_generators, n_blocks
    from simengine.kernels.sequential import _binomial_floor
    from simengine.naive import peeking_vectorised_binary
    from simengine.sequential import BLOCK, simulate_peeking

    n = 20_000 if quick else 1_000_000
    visitors = np.full(14, 100, dtype=np.int64)

    def floor():
        gens = block_generators(as_seed_sequence(0), n_blocks(n, BLOCK))
        return _binomial_floor(gens, BLOCK, n, visitors, 0.10, 0.10)

    # "naive" here is whole-array NumPy (a per-visitor loop at 10^6 would take hours); "rng floor" only draws
    # the same binomial counts in numba, so its speed-up column is the floor ratio (target >= 0.5).
    return {
        "naive": lambda: peeking_vectorised_binary(n, 14, 100, rate=0.10, rng=0),
        "rng floor": floor,
        "simengine": lambda: simulate_peeking(n_sims=n, n_looks=14, visitors_per_look=100, rate=0.10, rng=0),
    }


TASKS.append(BenchTask("peeking seed scenario (1000 A/A x 14 looks, t-test)", "sequential", _make_peeking_seed))
TASKS.append(BenchTask("peeking 10^6 sims vs binomial RNG floor", "sequential", _make_peeking_floor))


def _make_spending(quick):
    import numpy as np

    from simengine import group_sequential_boundaries, naive, sequential
    from simengine._groupseq import spending

    t = np.arange(1, 21) / 20
    target = 2 * spending("ld-obrien-fleming", t, 0.025)

    def engine():  # the design is cached per argument set: time the computation, not the cache
        sequential._spending_cached.cache_clear()
        return group_sequential_boundaries(20, kind="ld-obrien-fleming")

    # target (issue 16): K <= 20 looks in < 50 ms; "naive" solves the same boundaries by simulating paths
    return {
        "naive": lambda: naive.spending_boundaries_mc(t, target, 20_000 if quick else 200_000, 0),
        "simengine": engine,
    }


TASKS.append(BenchTask("alpha-spending boundaries, 20 looks (ld-obrien-fleming)", "sequential", _make_spending))


def _make_peeking_design(quick):
    from simengine import group_sequential_design, simulate_peeking
    from simengine.naive import peeking_vectorised_binary

    n = 20_000 if quick else 200_000
    design = group_sequential_design(14, alpha=0.025, alternative="greater", kind="ld-obrien-fleming",
                                     futility="hsd")
    common = dict(n_sims=n, n_looks=14, visitors_per_look=100, rate=0.10, lift=0.01, test="z", alpha=0.025,
                  alternative="greater", rng=0)
    # target (issue 16): a spending design with futility within 1.2x the fixed-boundary run, i.e. the speed-up
    # column vs "fixed OBF boundary" >= 0.83; "naive" is whole-array NumPy peeking (no boundary)
    return {
        "naive": lambda: peeking_vectorised_binary(n, 14, 100, rate=0.10, lift=0.01, rng=0),
        "fixed OBF boundary": lambda: simulate_peeking(boundary="obrien-fleming", **common),
        "simengine": lambda: simulate_peeking(boundary=design, **common),
    }


TASKS.append(BenchTask("peeking with a spending design + futility (2*10^5 sims)", "sequential", _make_peeking_design))


# --------------------------------------------------------------------------- Bayesian A/B and MCMC (issue 5)


def _ab_arrays():
    import numpy as np

    from simengine.bayes import AB_SCENARIOS

    return tuple(np.array([s[i] for s in AB_SCENARIOS]) for i in range(1, 5))


def _make_bayes_exact(quick):
    import simengine
    from simengine import naive

    sa, na, sb, nb = _ab_arrays()
    return {
        "naive": lambda: naive.bayes_ab_mc(sa, na, sb, nb, n_draws=50_000, rng=0),
        "simengine": lambda: simengine.bayes_ab(sa, na, sb, nb),
    }


def _make_bayes_mc(quick):
    import simengine
    from simengine import naive
    from simengine._rng import as_seed_sequence, block_generators, n_blocks
    from simengine.bayes import MC_BLOCK
    from simengine.kernels import bayes as kb

    sa, na, sb, nb = _ab_arrays()
    n_draws = 50_000 if quick else 1_000_000
    r = simengine.bayes_ab(sa, na, sb, nb)
    ss = as_seed_sequence(0)

    def floor():
        gens = block_generators(ss, n_blocks(n_draws, MC_BLOCK) * len(sa))
        return kb._beta_draw_floor(r.alpha_a, r.beta_a, r.alpha_b, r.beta_b, n_draws, MC_BLOCK, gens)

    floor()
    return {
        "naive": lambda: naive.bayes_ab_mc(sa, na, sb, nb, n_draws=n_draws, rng=0),
        "floor (beta draws only)": floor,
        "simengine": lambda: simengine.bayes_ab(sa, na, sb, nb, method="mc", n_draws=n_draws, rng=ss),
    }


def _make_mh(quick):
    import itertools

    import numpy as np

    import simengine
    from simengine import naive, targets

    cov = np.array([[1.0, 0.7], [0.7, 1.0]])
    f = targets.multivariate_normal(np.zeros(2), cov)
    steps = 2_000 if quick else 10_000

    def floor():  # only the chain's random numbers, drawn by NumPy in bulk: 2 normals and 1 exponential a step
        g = np.random.default_rng(0)
        return g.standard_normal((steps, 2)), g.standard_exponential(steps)

    # a new seed every call: repeating one chain lets the CPU's branch predictor learn its accept/reject
    # pattern, which flatters branchy code and says nothing about a user's next chain
    seeds = itertools.count()
    return {
        "naive": lambda: naive.metropolis_hastings_2d(np.zeros(2), cov, np.zeros(2), steps, 1.0, 0),
        "floor (NumPy draws alone)": floor,
        "reading rhat/ess": lambda: simengine.metropolis_hastings(
            f, np.zeros(2), n_steps=steps, n_chains=1, rng=next(seeds)
        ).rhat,
        # the default call: R-hat and ESS wait until read
        "simengine": lambda: simengine.metropolis_hastings(f, np.zeros(2), n_steps=steps, n_chains=1, rng=next(seeds)),
    }


def _make_diagnostics(quick):
    import warnings

    import numpy as np

    import simengine
    from simengine import naive

    x = np.random.default_rng(0).standard_normal((4, 2_000 if quick else 10_000, 5))
    impls = {"naive": lambda: naive.rhat_ess_numpy(x)}

    def arviz_call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # arviz's import warns on some NumPy / xarray versions
            import arviz as az  # the compare extra; skipped when absent
        return az.rhat(az.convert_to_dataset(x)), az.ess(az.convert_to_dataset(x), method="bulk")

    impls["arviz"] = arviz_call
    impls["simengine"] = lambda: (simengine.rhat(x), simengine.ess(x))
    return impls


def _make_intervals(quick):
    import numpy as np

    import simengine

    rng = np.random.default_rng(0)
    n = rng.integers(1, 1000, 10_000 if quick else 100_000)
    k = rng.integers(0, n + 1)

    def statsmodels_call():
        from statsmodels.stats.proportion import proportion_confint  # the compare extra; skipped when absent

        return proportion_confint(k, n, method="beta")

    def naive():
        from statsmodels.stats.proportion import proportion_confint

        return [proportion_confint(int(a), int(b), method="beta") for a, b in zip(k[:2000], n[:2000])]

    return {
        "naive": naive,
        "statsmodels": statsmodels_call,
        "simengine": lambda: simengine.proportion_interval(k, n, method="beta"),
    }


TASKS += [
    BenchTask("bayes_ab exact, five scenarios (naive: MC 50k draws/arm)", "bayes", _make_bayes_exact),
    BenchTask("bayes_ab mc, five scenarios", "bayes", _make_bayes_mc),
    BenchTask("Clopper-Pearson intervals (naive: 2000 scalar calls)", "bayes", _make_intervals),
    BenchTask("MH 2-D Gaussian rho=0.7, one chain", "mcmc", _make_mh),
    BenchTask("rhat + ess (bulk), 4 chains x 10^4 draws x 5 params", "mcmc", _make_diagnostics),
]


# --- drift detection (issue 6) ---------------------------------------------------------------------------


def _make_psi(quick):
    import numpy as np

    from simengine import naive, psi

    g = np.random.default_rng(0)
    shape = (10_000, 20) if quick else (100_000, 200)
    ref, cur = g.normal(size=shape), g.normal(0.1, 1.0, size=shape)
    return {
        "naive": lambda: naive.psi_per_feature(ref, cur),
        "numpy read-once floor": lambda: (ref.sum(), cur.sum()),
        "simengine": lambda: psi(ref, cur),
    }


def _make_ddm(quick):
    # Same 10^6 (quick: 10^5) updates for every implementation, so the time ratio is the per-update ratio.
    import numpy as np

    from simengine import ddm, naive

    g = np.random.default_rng(1)
    n_streams, n_steps = (100, 1_000) if quick else (100, 10_000)
    p = np.where(np.arange(n_steps) < n_steps // 2, 0.15, 0.4)
    x = (g.random((n_streams, n_steps)) < p).astype(np.uint8)

    def river_ddm():
        from river.drift.binary import DDM

        for row in x:
            det = DDM()
            for v in row.tolist():
                det.update(v)

    return {
        "naive": lambda: [naive.ddm_python(r) for r in x],
        "river": river_ddm,
        "simengine": lambda: ddm(x),
    }


def _make_adwin(quick):
    import numpy as np

    from simengine import adwin

    g = np.random.default_rng(2)
    n_streams, n_steps = (10, 2_000) if quick else (50, 5_000)
    x = (g.random((n_streams, n_steps)) < np.where(np.arange(n_steps) < n_steps // 2, 0.2, 0.5)).astype(float)

    def river_adwin():
        from river.drift import ADWIN

        for row in x:
            det = ADWIN(delta=0.002)
            for v in row.tolist():
                det.update(v)

    def naive_exact():
        from simengine import naive

        # brute force is O(W^2) per step: one short stream only, so this ratio is a floor, not like-for-like
        naive.adwin_exact(x[0, :500])

    return {"naive": naive_exact, "river": river_adwin, "simengine": lambda: adwin(x, clock=32)}


TASKS += [
    BenchTask("psi equal-width 10^5 x 200", "drift", _make_psi),
    BenchTask("ddm 100 x 10^4 (same updates for all)", "drift", _make_ddm),
    BenchTask("adwin 50 x 5000 (clock=32 like river)", "drift", _make_adwin),
]


# --- serving simulation (issue 18): load tests ---


def _make_load_test(quick):
    """The notebook's scenario: lognormal(3.2, 0.6) ms service, 10% of requests x5 slower, 20 workers, 400
    requests a second (utilisation 0.82); two runs of 10^5 requests each (quick: 10^4) in every column."""
    import math

    import numpy as np

    import simengine
    from simengine import naive

    n = 10_000 if quick else 100_000
    runs = 2
    mu, sigma = 3.2 + math.log(1e-3), 0.6
    params = {"mu": mu, "sigma": sigma}
    kw = dict(arrival_rate=400.0, workers=20, slow_prob=0.1, slow_factor=5.0)

    def replay():  # the per-request Python reference (heapq, NumPy scalar draws)
        for r in range(runs):
            naive.load_test_replay(np.random.default_rng(r), n, service_params=params, **kw)

    def simpy_runs():
        for r in range(runs):
            naive.load_test_simpy(n, mu=mu, sigma=sigma, seed=r, **kw)

    def floor():  # drawing the random numbers alone, in bulk: a gap, a normal (and its exp), a uniform a request
        g = np.random.default_rng(0)
        for _ in range(runs):
            g.standard_exponential(n), np.exp(g.standard_normal(n)), g.random(n)

    return {
        "naive": replay,
        "simpy": simpy_runs,
        "floor (NumPy draws alone)": floor,
        "simengine": lambda: simengine.simulate_load_test(n_requests=n, n_sims=runs, rng=0, **kw),
    }


TASKS.append(BenchTask("load test 2 x 10^5 requests, 20 workers (notebook scenario)", "serving", _make_load_test))


# --- serving: recorded traffic and input gates (issue 18) --------------------------------------------------


def _traffic(n, n_clients, seed=0):
    import numpy as np

    g = np.random.default_rng(seed)
    t = np.sort(g.uniform(0.0, 86_400.0, n))
    return t, g.integers(0, n_clients, n), g.lognormal(-3.0, 0.6, n), g.random(n) < 0.01


def _make_token_bucket(quick):
    # issue 18: 10^7 requests over 10^4 clients in < 0.5 s; the naive Python replay runs on 1/100 of them
    from simengine import naive, token_bucket

    n = 10**5 if quick else 10**7
    t, ids, _, _ = _traffic(n, 10**4)
    sub = n // 100
    return {
        "naive": lambda: naive.token_bucket_steps(t[:sub], ids[:sub], 100.0, 100 / 60),
        "simengine": lambda: token_bucket(t, ids, capacity=100, refill_per_second=100 / 60),
    }


def _make_window_metrics(quick, quantiles=(0.5, 0.95, 0.99)):
    # issue 18: within 5x of reading the inputs once (the "numpy read-once floor" column); the brute-force
    # filter is O(n) per evaluation: it runs on the first 1/100 of the requests at every 100th of their times
    import numpy as np

    from simengine import naive, window_metrics

    n = 10**5 if quick else 10**7
    t, _, lat, err = _traffic(n, 1)
    sub = n // 100

    def write_outputs():  # the result's arrays alone: count, error_rate, mean_latency, one column per quantile
        for a in (np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty((n, len(quantiles)))):
            a.fill(1)

    return {
        "naive": lambda: naive.window_metrics_filter(t[:sub], lat[:sub], err[:sub], 60.0, quantiles, t[:sub:100]),
        "numpy read-once floor": lambda: (t.sum(), lat.sum(), np.count_nonzero(err)),
        # why the target cannot hold with quantiles: allocating and filling the outputs is itself several reads
        "writing the outputs alone": write_outputs,
        "simengine": lambda: window_metrics(t, lat, err, quantiles=quantiles),
    }


def _make_window_counts(quick):
    return _make_window_metrics(quick, quantiles=())


def _make_gate(quick):
    from simengine import naive, simulate_gate

    n_rows, n_sims = (1_000, 20) if quick else (10_000, 100)
    shift = [1.0] + [0.0] * 9
    return {
        "naive": lambda: naive.gate_rejections_numpy(10, 3.0, shift, n_rows, n_sims, 0),
        "simengine": lambda: simulate_gate(n_features=10, threshold=3.0, shift=shift, n_rows=n_rows, n_sims=n_sims,
                                           rng=0),
    }


TASKS += [
    BenchTask("token_bucket 10^7 requests x 10^4 clients (naive: 1/100)", "serving", _make_token_bucket),
    BenchTask("window_metrics 10^7 requests, 60 s, p50/p95/p99 (naive: 1/100 of requests, 1/100 of times)", "serving",
              _make_window_metrics),
    BenchTask("window_metrics 10^7 requests, no quantiles (naive: 1/100 of requests, 1/100 of times)", "serving",
              _make_window_counts),
    BenchTask("simulate_gate 10 features, 2 x 10^6 rows", "serving", _make_gate),
]


# --- bootstrap (issue 17) ---


def _bootstrap_floor(x, n_resamples):
    """Drawing the resample indices alone, by `bootstrap`'s own rule (four per 64-bit output, groups of eight
    outputs), in the same blocks and threads as `bootstrap` (no statistic)."""
    import numpy as np

    from simengine._rng import as_seed_sequence

    mod = sys.modules["simengine.bootstrap"]
    return mod._resample("_floor", float("nan"), None, [np.ascontiguousarray(x[None, :])], False, n_resamples,
                         as_seed_sequence(1))


def _bootstrap_numpy_floor(x, n_resamples):
    """Drawing the resample indices alone as a user would, NumPy's ``integers(0, n, (R, n))`` (a 32-bit draw per
    index), with one Generator per block of `bootstrap`'s and the blocks on as many threads as `bootstrap` uses."""
    from concurrent.futures import ThreadPoolExecutor

    import numba
    import numpy as np

    from simengine._rng import as_seed_sequence, child_seed_sequence, n_blocks

    block = sys.modules["simengine.bootstrap"].BOOT_BLOCK
    ss = as_seed_sequence(1)
    n = x.shape[0]

    def one(b):
        g = np.random.Generator(np.random.PCG64(child_seed_sequence(ss, b)))
        return g.integers(0, n, (min(block, n_resamples - b * block), n))[:, 0].copy()  # one index kept per row

    with ThreadPoolExecutor(max_workers=max(1, numba.get_num_threads())) as pool:
        return list(pool.map(one, range(n_blocks(n_resamples, block))))


def _make_bootstrap_median(quick):
    import numpy as np
    from scipy import stats

    from simengine import bootstrap, naive

    x = np.random.default_rng(0).normal(size=1000)
    r = 999 if quick else 9999
    # scipy with np.median (vectorized: it takes `axis`); naive: the NumPy loop of resamples and jackknife
    return {
        "naive": lambda: naive.bootstrap_loop(x, np.median, r, rng=1),
        "scipy": lambda: stats.bootstrap((x,), np.median, n_resamples=r, rng=1),
        "index floor (NumPy integers)": lambda: _bootstrap_numpy_floor(x, r),
        "index floor (ours)": lambda: _bootstrap_floor(x, r),
        "simengine": lambda: bootstrap((x,), "median", n_resamples=r, rng=1),
    }


def _make_bootstrap_mean(quick):
    import numpy as np
    from scipy import stats

    from simengine import bootstrap, naive

    x = np.random.default_rng(0).normal(size=1000)
    r = 999 if quick else 9999
    return {
        "naive": lambda: naive.bootstrap_loop(x, np.mean, r, rng=1),
        "scipy": lambda: stats.bootstrap((x,), np.mean, n_resamples=r, rng=1),
        "index floor (NumPy integers)": lambda: _bootstrap_numpy_floor(x, r),
        "index floor (ours)": lambda: _bootstrap_floor(x, r),
        "simengine": lambda: bootstrap((x,), "mean", n_resamples=r, rng=1),
    }


def _make_bootstrap_batch(quick):
    import numpy as np
    from scipy import stats

    from simengine import bootstrap

    metrics = np.random.default_rng(0).normal(size=(500, 20 if quick else 200))
    r = 999 if quick else 9999
    return {
        "naive": lambda: [stats.bootstrap((m,), np.mean, n_resamples=r, method="percentile", rng=1)
                          for m in metrics.T],
        "scipy": lambda: stats.bootstrap((metrics,), np.mean, n_resamples=r, method="percentile", rng=1),
        "simengine": lambda: bootstrap((metrics,), "mean", n_resamples=r, method="percentile", rng=1),
    }


TASKS += [
    BenchTask("bootstrap BCa of the median, n=1000, 9999 resamples", "bootstrap", _make_bootstrap_median),
    BenchTask("bootstrap BCa of the mean, n=1000, 9999 resamples", "bootstrap", _make_bootstrap_mean),
    BenchTask("bootstrap percentile of 200 means, n=500 (naive: scipy per column)", "bootstrap", _make_bootstrap_batch),
]


# --- coverage of bootstrap intervals (issue 17, slice bootcov) ---


def _make_bootstrap_coverage(quick):
    from simengine import naive, simulate_bootstrap_coverage

    n_sims = 200 if quick else 2000
    return {
        "naive": lambda: naive.bootstrap_coverage_loop(30, 999, n_sims, 0.95, 1),
        "scipy": lambda: naive.bootstrap_coverage_scipy(30, 999, n_sims, 0.95, 1),
        "simengine": lambda: simulate_bootstrap_coverage(distribution="normal", n=30, statistic="mean",
                                                         n_resamples=999, n_sims=n_sims, rng=1, progress=False),
    }


TASKS.append(BenchTask("bootstrap coverage, n=30, 999 resamples x 2000 replicates, 3 methods", "bootstrap",
                       _make_bootstrap_coverage))


# --- point-in-time features (issue 19) -----------------------------------------------------------------------


def _make_point_in_time(quick):
    import numpy as np
    import pandas as pd

    from simengine import naive, point_in_time_features

    size = (100_000, 1_000, 10_000) if quick else (10_000_000, 100_000, 1_000_000)
    events, queries = naive.feature_events(*size)
    windows = ("7D", "30D", "90D")
    deltas = [pd.Timedelta(w) for w in windows]

    def floor():
        return (events["entity"].sum(), events["time"].view(np.int64).sum(), events["value"].sum(),
                queries["entity"].sum(), queries["time"].view(np.int64).sum())

    return {
        "naive": lambda: naive.pit_sum_count_pandas(events, queries, deltas),
        "polars": lambda: naive.pit_sum_count_polars(events, queries, deltas),  # skipped when polars is absent
        "numpy read-once floor": floor,
        "simengine": lambda: point_in_time_features(events, queries, windows=windows),
    }


TASKS += [
    BenchTask("point_in_time_features 10^7 events / 10^5 entities / 10^6 queries (quick: 10^5 / 10^3 / 10^4), "
              "3 windows x (sum, count) (naive: pandas groupby cumsum + merge_asof)", "features", _make_point_in_time),
]
