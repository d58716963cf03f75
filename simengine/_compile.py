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

__all__ = ["EXAMPLES", "FAMILIES", "FILL_EXTRA", "FUNCTIONS", "fill_cache", "fill_family", "measure_compile_times",
           "warm_family"]


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
    for kw in (dict(permutation_type="samples"), dict(permutation_type="samples", statistic="median"),
               dict(permutation_type="pairings", statistic="correlation")):
        permutation_test(x, y, n_resamples=50, rng=0, **kw)  # random paths (2^6, 6! > 50)
        permutation_test(x, y, n_resamples=10**4, **kw)  # exact paths
    for stat in ("f_oneway", "kruskal"):
        permutation_test(x, y, x, statistic=stat, n_resamples=50, rng=0)
        permutation_test(x[:3], y[:3], x[:2], statistic=stat, n_resamples=10**4)
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
FAMILIES["mcmc sampler"] = _warm_mcmc
FAMILIES["mcmc diagnostics"] = _warm_diagnostics


def _warm_paired_power():
    from simengine import simulate_power

    simulate_power(test="paired_t", effect_size=0.5, n=5, n_sims=10, rng=0)
    simulate_power(test="paired_t", effect_size=0.5, n=5, n_sims=10, distribution="exponential", rng=0)
    simulate_power(test="wilcoxon", effect_size=0.5, n=5, n_sims=10, rng=0)
    simulate_power(test="paired_permutation", effect_size=0.5, n=5, n_sims=10, rng=0)


FAMILIES["paired power"] = _warm_paired_power


def _warm_bootstrap_coverage():
    from simengine import simulate_bootstrap_coverage

    simulate_bootstrap_coverage(distribution="normal", n=5, statistic="mean", n_resamples=20, n_sims=10, rng=0)
    simulate_bootstrap_coverage(distribution="normal", n=5, statistic="median", n_resamples=20, n_sims=10, rng=0)


FAMILIES["bootstrap coverage"] = _warm_bootstrap_coverage


def _feature_events(numeric=False):
    import numpy as np

    times = np.array([0.0, 2.0, 1.0]) if numeric else np.array(["2024-01-01", "2024-01-03", "2024-01-02"], "M8[ns]")
    return {"entity": np.array([1, 1, 2]), "time": times, "value": np.array([1.0, 2.0, 3.0])}


def _warm_features():
    import simengine

    for numeric in (False, True):
        ev = _feature_events(numeric)
        simengine.point_in_time_features(ev, ev, windows=[1] if numeric else ["1D"], aggs=("sum", "min", "max", "last",
                                                                                           "time_since_last"))
    simengine.session_features(_feature_events(), window="1D")
    simengine.skew_report({"x": [1.0, 2.0, 3.0]}, {"x": [1.0, 2.5, 4.0]})


FAMILIES["features"] = _warm_features


def _warm_bootstrap():
    import numpy as np

    import simengine

    x, y = np.arange(6.0), np.arange(6.0) ** 1.5
    for method in ("percentile", "basic", "BCa"):
        simengine.bootstrap((x,), "mean", n_resamples=50, method=method, rng=0)
    simengine.bootstrap((x,), "median", n_resamples=50, rng=0)
    simengine.bootstrap((x,), "std", n_resamples=50, rng=0)  # std, var and batches of means: their own kernel
    simengine.bootstrap((np.c_[x, y],), "median", n_resamples=50, rng=0)  # batches of medians / quantiles
    simengine.bootstrap((x, y), "mean_diff", n_resamples=50, rng=0)
    simengine.bootstrap((x, y), "median_diff", n_resamples=50, rng=0)
    simengine.bootstrap((x, y), "correlation", paired=True, n_resamples=50, rng=0)


FAMILIES["bootstrap"] = _warm_bootstrap


# Each public function's first call on its own (fresh process, empty cache): what a user who calls
# only that function waits.  family -> {label: warm-up}; a family without an entry is timed as a whole.
def _np():
    import numpy as np

    return np


def _se():
    import simengine

    return simengine


def _rng():
    from simengine import _rng

    return _rng


def _special():
    from simengine.kernels import special

    return special


def _xy():
    return _np().arange(6.0), _np().arange(6.0) + 0.5


def _mh_density():
    from simengine import targets

    return targets.multivariate_normal(_np().zeros(2), _np().eye(2))


FUNCTIONS = {
    "rng blocks": {
        "block_generators": lambda: _rng().block_generators(_rng().as_seed_sequence(0), 2),
        "pcg64_block_states": lambda: _rng().pcg64_block_states(0, 2),
    },
    "special functions": {
        "kernels.special.norm_cdf": lambda: _special().norm_cdf(0.5),
        "kernels.special.norm_ppf": lambda: _special().norm_ppf(0.3),
        "kernels.special.t_pvalue_two_sided": lambda: _special().t_pvalue_two_sided(1.5, 10.0),
        "kernels.special.betainc": lambda: _special().betainc(2.0, 3.0, 0.4),
    },
    # hypothesis tests and drift detection: their slices own the warm-ups above; these are the single calls
    "hypothesis tests": {
        "permutation_test (mean)": lambda: _se().permutation_test(*_xy(), statistic="mean", n_resamples=50, rng=0),
        "permutation_test (median)":
            lambda: _se().permutation_test(*_xy(), statistic="median", n_resamples=1000, rng=0),
        # issue 17: the designs' paths, each a user's first call (random resamples: 50 > 2^6, 6!, 4 splits)
        "permutation_test (samples, mean)":
            lambda: _se().permutation_test(*_xy(), permutation_type="samples", n_resamples=50, rng=0),
        "permutation_test (samples, median)": lambda: _se().permutation_test(
            *_xy(), permutation_type="samples", statistic="median", n_resamples=50, rng=0),
        "permutation_test (pairings)": lambda: _se().permutation_test(
            *_xy(), permutation_type="pairings", statistic="correlation", n_resamples=50, rng=0),
        "permutation_test (f_oneway)":
            lambda: _se().permutation_test(*_xy(), _xy()[0], statistic="f_oneway", n_resamples=50, rng=0),
        "permutation_test (kruskal)":
            lambda: _se().permutation_test(*_xy(), _xy()[0], statistic="kruskal", n_resamples=50, rng=0),
        "ttest_ind": lambda: _se().ttest_ind(*_xy()),
        "mannwhitneyu": lambda: _se().mannwhitneyu(*_xy()),
        "multipletests": lambda: _se().multipletests([0.01, 0.2, 0.03], method="holm"),
        "simulate_power (t)": lambda: _se().simulate_power(effect_size=0.5, n=5, n_sims=10, rng=0),
        "simulate_power (mannwhitney)":
            lambda: _se().simulate_power(test="mannwhitney", effect_size=0.5, n=5, n_sims=10, rng=0),
    },
    "drift detection": {
        "psi": lambda: _se().psi(_np().zeros((2, 40)), _np().ones((2, 40))),
        "psi_monitor": lambda: _se().psi_monitor(_np().zeros(40), _np().zeros((2, 40))),
        "ddm": lambda: _se().ddm(_np().zeros((2, 40), dtype=_np().uint8)),
        "DDM.update": lambda: _se().DDM().update(1),
        "adwin": lambda: _se().adwin(_np().zeros((2, 40))),
        "ADWIN.update": lambda: _se().ADWIN().update(0.5),
        "simulate_drift_detection":
            lambda: _se().simulate_drift_detection(n_sims=2, n_steps=50, drift_start=25, rng=0),
    },
    "sequential testing": {
        "simulate_peeking": lambda: _se().simulate_peeking(n_sims=10, n_looks=2, visitors_per_look=5, rng=0),
        "simulate_peeking (msprt)":
            lambda: _se().simulate_peeking(n_sims=10, n_looks=2, visitors_per_look=5, test="msprt", rng=0),
        "group_sequential_boundaries": lambda: _se().group_sequential_boundaries(2),
    },
    "bayes": {
        "bayes_ab (exact)": lambda: _se().bayes_ab([3, 30], [10, 100], [4, 35], [10, 100]),
        "bayes_ab (quadrature)": lambda: _se().bayes_ab(3, 10, 4, 10, prior=(0.5, 0.5)),
        "bayes_ab (mc)": lambda: _se().bayes_ab(3, 10, 4, 10, method="mc", n_draws=100, rng=0),
        "prob_best": lambda: _se().prob_best([3, 4, 5], [10, 10, 10], n_draws=100, rng=0),
        "proportion_interval": lambda: _se().proportion_interval(3, 10),
        "simulate_coverage":
            lambda: _se().simulate_coverage(p=0.3, n=10, methods=("wilson",), n_sims=100, rng=0),
        "simulate_bayes_peeking":
            lambda: _se().simulate_bayes_peeking(n_sims=10, n_looks=2, visitors_per_look=10, rate=0.3, rng=0),
    },
    # the warm-cache column of these rows is what each new log density costs: kernels cached, density compiled
    "mcmc sampler": {
        "metropolis_hastings (1 chain)":
            lambda: _se().metropolis_hastings(_mh_density(), _np().zeros(2), n_steps=20, n_chains=1, rng=0),
        "metropolis_hastings (2 chains)":
            lambda: _se().metropolis_hastings(_mh_density(), _np().zeros(2), n_steps=20, n_chains=2, rng=0),
    },
    "mcmc diagnostics": {
        "rhat": lambda: _se().rhat(_np().random.default_rng(0).normal(size=(2, 50, 2))),
        "ess": lambda: _se().ess(_np().random.default_rng(0).normal(size=(2, 50, 2))),
        "ess (tail)": lambda: _se().ess(_np().random.default_rng(0).normal(size=(2, 50, 2)), method="tail"),
        "mcse": lambda: _se().mcse(_np().random.default_rng(0).normal(size=(2, 50, 2))),
    },
    "features": {
        "point_in_time_features (datetime)":
            lambda: _se().point_in_time_features(_feature_events(), _feature_events(), windows="1D"),
        "point_in_time_features (numeric, all aggregates)":
            lambda: _se().point_in_time_features(_feature_events(True), _feature_events(True), windows=1,
                                                 aggs=("sum", "count", "mean", "min", "max", "last",
                                                       "time_since_last")),
        "session_features": lambda: _se().session_features(_feature_events(), window="1D"),
        "freshness": lambda: _se().freshness([1.0, 5.0], now=6.0, max_age=2),
        "skew_report": lambda: _se().skew_report({"x": [1.0, 2.0, 3.0]}, {"x": [1.0, 2.5, 4.0]}),
    },
}


FUNCTIONS["paired power"] = {
    "simulate_power (paired_t)": lambda: _se().simulate_power(test="paired_t", effect_size=0.5, n=5, n_sims=10, rng=0),
    "simulate_power (paired_t, full samples)": lambda: _se().simulate_power(
        test="paired_t", effect_size=0.5, n=5, n_sims=10, distribution="exponential", rng=0),
    "simulate_power (wilcoxon)": lambda: _se().simulate_power(test="wilcoxon", effect_size=0.5, n=5, n_sims=10, rng=0),
    "simulate_power (paired_permutation)":
        lambda: _se().simulate_power(test="paired_permutation", effect_size=0.5, n=5, n_sims=10, rng=0),
}


FUNCTIONS["bootstrap coverage"] = {
    "simulate_bootstrap_coverage (mean)": lambda: _se().simulate_bootstrap_coverage(
        distribution="normal", n=5, statistic="mean", n_resamples=20, n_sims=10, rng=0),
    "simulate_bootstrap_coverage (median)": lambda: _se().simulate_bootstrap_coverage(
        distribution="normal", n=5, statistic="median", n_resamples=20, n_sims=10, rng=0),
}


# bootstrap (issue 17): one kernel per statistic family (one column's mean and median/quantile have their own;
# "std", "var" and batches of means share one, batches of medians another; "ratio_of_means" the mean
# difference's), the default BCa interval
FUNCTIONS["bootstrap"] = {
    "bootstrap (mean)": lambda: _se().bootstrap((_xy()[0],), "mean", n_resamples=50, rng=0),
    "bootstrap (std)": lambda: _se().bootstrap((_xy()[0],), "std", n_resamples=50, rng=0),
    "bootstrap (median)": lambda: _se().bootstrap((_xy()[0],), "median", n_resamples=50, rng=0),
    "bootstrap (mean_diff)": lambda: _se().bootstrap(_xy(), "mean_diff", n_resamples=50, rng=0),
    "bootstrap (median_diff)": lambda: _se().bootstrap(_xy(), "median_diff", n_resamples=50, rng=0),
    "bootstrap (correlation)":
        lambda: _se().bootstrap((_xy()[0], _xy()[0] ** 1.5), "correlation", paired=True, n_resamples=50, rng=0),
}


def _readme_long_runs():
    # README "Long runs": the first code block a reader runs, as printed there
    simengine = _se()
    simengine.simulate_power(effect_size=0.3, n=50, n_sims=2000, target_se=0.005, rng=1)
    simengine.sweep("power", {"n": [5, 20, 50, 100]}, fixed={"effect_size": 0.5}, n_sims=1000,
                    target_se=0.005, rng=2026)


def _peeking_spec():
    """The main job's example spec (shipped in the package or beside it in a checkout), or None."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for path in (here / "examples" / "peeking.toml", here.parent / "examples" / "peeking.toml"):
        if path.is_file():
            return path
    return None


def _sweep_peeking():
    import contextlib
    import io

    from simengine import cli

    with contextlib.redirect_stdout(io.StringIO()):
        cli.main(["sweep", str(_peeking_spec()), "--no-progress"])


# The README's first examples, run whole (their own work included, not only compiling).
EXAMPLES = {
    "README Long runs example (simulate_power + sweep, target_se)": _readme_long_runs,
    "simengine sweep examples/peeking.toml": _sweep_peeking,
}


def _lookup(kind: str, name: str):
    if kind == "family":
        return FAMILIES[name]
    if kind == "example":
        return EXAMPLES[name]
    for calls in FUNCTIONS.values():
        if name in calls:
            return calls[name]
    raise KeyError(name)


def warm_family(name: str) -> float:
    """Run one family's warm-up in this process; return the seconds it took."""
    start = time.perf_counter()
    FAMILIES[name]()
    return time.perf_counter() - start


def _first_call(kind: str, name: str, imported: dict) -> dict:
    """Wall and CPU seconds of one warm-up in this (fresh) process, with `imported` (the import's).

    CPU time is the whole process's (all threads): less disturbed by other load than wall time.
    """
    call = _lookup(kind, name)
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return {"wall s": time.perf_counter() - wall, "cpu s": time.process_time() - cpu, **imported}


# The child times `import simengine` itself, before anything of simengine is loaded.
_CHILD = """\
import json, time
wall, cpu = time.perf_counter(), time.process_time()
import simengine
imported = {{"import wall s": time.perf_counter() - wall, "import cpu s": time.process_time() - cpu}}
import simengine._compile as c
print(json.dumps(c._first_call({kind!r}, {name!r}, imported)))
"""


def _time_in_subprocess(kind: str, name: str, cache_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    code = _CHILD.format(kind=kind, name=name)
    out = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"timing {name!r} failed in its child process: {tail}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(kind: str, name: str, family: str) -> dict:
    """One row: the first call with an empty cache, then (a new process) with the cache it left."""
    row = {"kind": kind, "name": name, "family": family}
    try:
        with tempfile.TemporaryDirectory(prefix="simengine-cache-") as tmp:
            cold = _time_in_subprocess(kind, name, tmp)
            warm = _time_in_subprocess(kind, name, tmp)
    except RuntimeError as exc:  # one broken warm-up must not cost the rest of the table
        nan = float("nan")
        return {**row, "empty cache s": nan, "empty cache cpu s": nan, "warm cache s": nan,
                "warm cache cpu s": nan, "import s": nan, "error": str(exc)}
    return {
        **row,
        "empty cache s": cold["wall s"], "empty cache cpu s": cold["cpu s"],
        "warm cache s": warm["wall s"], "warm cache cpu s": warm["cpu s"],
        "import s": warm["import wall s"], "error": "",
    }


def measurement_plan(names=None, *, functions: bool = True, examples: bool = True) -> list:
    """(kind, name, family) of every row `measure_compile_times` produces, in order."""
    plan = []
    for family in names or list(FAMILIES):
        plan.append(("family", family, family))
        if functions:
            plan += [("function", fn, family) for fn in FUNCTIONS.get(family, {})]
    if examples:
        plan += [("example", ex, "") for ex in EXAMPLES if ex != "simengine sweep examples/peeking.toml"
                 or _peeking_spec() is not None]
    return plan


def measure_compile_times(names=None, progress=None, *, functions: bool = False, examples: bool = False):
    """First-call seconds (wall and CPU) with an empty cache and then with a warm cache.

    One row per family in `names` (default all), then, with `functions`, one per public
    function of the family on its own, and with `examples`, one per README example.  Each
    measurement runs in a fresh interpreter (a cache only helps a new process); the empty
    cache is a new temporary NUMBA_CACHE_DIR per row.
    """
    rows = []
    for kind, name, family in measurement_plan(names, functions=functions, examples=examples):
        row = _measure(kind, name, family)
        if kind == "family":  # the historical column name, kept for scripts reading the table
            row["family"] = name
        rows.append(row)
        if progress is not None:
            progress.update(1)
    return rows


def _fill_drift_parallel():
    """The drift family's parallel kernels: small calls run serial twins, so the warm-up never compiles them."""
    import numpy as np

    import simengine

    simengine.psi(np.zeros((5000, 3)), np.ones((5000, 3)))
    simengine.psi(np.zeros((5000, 3)), np.ones((5000, 3)), binning="quantile")
    simengine.psi_monitor(np.arange(1000.0), np.zeros((10, 7000)))
    simengine.adwin(np.zeros((20, 4000)))


def _fill_sequential_pvalues():
    """simulate_peeking's t-test kernel with p-values: a call runs it only for blocks with a look in the thin band
    about a critical value (rare), so the warm-up never compiles it; a band as wide as the line sends every block
    there."""
    from simengine import sequential

    band = sequential._BAND
    sequential._BAND = 1e300
    try:
        sequential.simulate_peeking(n_sims=10, n_looks=2, visitors_per_look=5, rng=0)
    finally:
        sequential._BAND = band


# Extra calls `simengine compile` makes after a family's warm-up: kernels a first (small) call does not reach.
FILL_EXTRA = {"drift detection": _fill_drift_parallel, "sequential testing": _fill_sequential_pvalues}


def fill_family(name: str) -> float:
    """`warm_family` plus the family's extra cache-filling calls; the seconds it took."""
    start = time.perf_counter()
    FAMILIES[name]()
    if name in FILL_EXTRA:
        FILL_EXTRA[name]()
    return time.perf_counter() - start


def _fill_one(name: str) -> dict:
    env = dict(os.environ)
    code = (
        "import json, time, simengine._compile as c; c0 = time.process_time(); "
        f"s = c.fill_family({name!r}); print(json.dumps([s, time.process_time() - c0]))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"family": name, "seconds": float("nan"), "cpu s": float("nan"), "error": tail}
    wall, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    return {"family": name, "seconds": wall, "cpu s": cpu, "error": ""}


# Compiled first, one at a time, by `fill_cache`: kernels every other family calls, so the parallel
# processes after them load these from the cache instead of each compiling (and writing) them again.
_SHARED_FIRST = ("rng blocks", "special functions")


def fill_cache(names=None, workers: int | None = None, on_done=None) -> list:
    """Compile every family in `names` (default all) into this installation's cache directory.

    Each family runs its warm-up in a process of its own, `workers` at a time (default: the
    CPU count); the shared families go first.  Returns one row per family: wall and CPU
    seconds of its process's warm-up, and the last error line if it failed.
    """
    from concurrent.futures import ThreadPoolExecutor

    names = list(names or FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown famil{'y' if len(unknown) == 1 else 'ies'} {unknown}; choose from {list(FAMILIES)}")
    first = [n for n in names if n in _SHARED_FIRST]
    rest = [n for n in names if n not in _SHARED_FIRST]
    rows = {}
    for name in first:
        rows[name] = _fill_one(name)
        if on_done is not None:
            on_done(rows[name])
    workers = max(1, workers or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # threads only wait for the processes
        for row in pool.map(_fill_one, rest):
            rows[row["family"]] = row
            if on_done is not None:
                on_done(row)
    return [rows[n] for n in names]


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


def _warm_load_test():
    # the kernel compiles per set of options (unused ones are None): the default call and the common others
    import numpy as np

    import simengine

    kw = dict(arrival_rate=20.0, workers=2, n_requests=50, n_sims=2, rng=0)
    simengine.simulate_load_test(**kw)
    simengine.simulate_load_test(service="exponential", service_params={"mean": 0.05}, **kw)
    simengine.simulate_load_test(service="deterministic", service_params={"value": 0.05}, **kw)
    simengine.simulate_load_test(service=np.array([0.01, 0.05]), **kw)
    simengine.simulate_load_test(queue_capacity=5, timeout=0.5, **kw)
    simengine.simulate_load_test(rate_limit=simengine.TokenBucket(10, 1.0), n_clients=3, **kw)


FAMILIES["serving load tests"] = _warm_load_test
FUNCTIONS["serving load tests"] = {
    "simulate_load_test": lambda: _se().simulate_load_test(arrival_rate=20.0, workers=2, n_requests=50, n_sims=2,
                                                           rng=0),
    "simulate_load_test (queue, timeout, rate limit)": lambda: _se().simulate_load_test(
        arrival_rate=20.0, workers=2, n_requests=50, n_sims=2, queue_capacity=5, timeout=0.5,
        rate_limit=_se().TokenBucket(10, 1.0), n_clients=3, rng=0),
}
# --- serving: recorded traffic and input gates (issue 18) ---


def _traffic_args():
    np = _np()
    t = np.arange(8.0)
    return t, t % 3, np.full(8, 0.1)


FUNCTIONS["serving traffic"] = {
    "token_bucket": lambda: _se().token_bucket(_traffic_args()[0], _np().arange(8) % 3, capacity=2,
                                               refill_per_second=1.0),
    "window_metrics": lambda: _se().window_metrics(_traffic_args()[0], _traffic_args()[2], _np().arange(8) % 2),
    "zscore_gate": lambda: _se().zscore_gate(_np().ones((3, 2)), 0.0, 1.0),
    "simulate_gate": lambda: _se().simulate_gate(n_features=2, n_rows=10, n_sims=4, rng=0),
}


def _warm_serving_traffic():
    for call in FUNCTIONS["serving traffic"].values():
        call()
    _se().window_metrics(_np().arange(8.0), _np().ones(8), quantiles=())  # no errors, no quantiles: same kernel


FAMILIES["serving traffic"] = _warm_serving_traffic
