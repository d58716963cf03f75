"""Sweep overhead and adaptive precision.

- Overhead factor: wall time of a 100-point grid against the sum of its points' own times
  (wall / sum of the `seconds` column), printed and stored in extra_info.
- Overhead per point: a grid of cheap points (a function returning a constant dict), with and
  without a checkpoint; the issue's target is <= 2 ms per point.
- `target_se` against a fixed `n_sims` that reaches the same worst-point SE: total replicates
  and time (the adaptive sweep spends replicates only where the SE needs them).
"""
import os
import tempfile
import time

import numpy as np
import pytest
from conftest import QUICK

from simengine import register_simulation, sweep
from simengine._jit import njit


@njit
def _mean_of_normals(rng, n, mu):
    total = 0.0
    for _ in range(n):
        total += rng.normal(mu, 1.0)
    return total / n


def cheap(*, rng, n_sims, mu):
    est = _mean_of_normals(rng, n_sims, mu)
    return {"mean": est, "mean_se": 1.0 / np.sqrt(n_sims)}


register_simulation("bench-cheap", cheap, parameters=("mu",), overwrite=True)
GRID = {"mu": [round(0.01 * i, 2) for i in range(10 if QUICK else 100)]}


@pytest.mark.parametrize("n_sims", [20_000, 200_000])
def test_sweep_overhead_local(benchmark, n_sims):
    benchmark.group = f"sweep overhead: {len(GRID['mu'])} points x {n_sims} sims (local)"
    sweep("bench-cheap", {"mu": [0.0]}, n_sims=10, rng=0, progress=False)  # compile
    tables = []

    def run():
        tables.append(sweep("bench-cheap", GRID, n_sims=n_sims, rng=1, progress=False))

    start = time.perf_counter()
    benchmark.pedantic(run, rounds=3, iterations=1)
    wall = (time.perf_counter() - start) / 3
    kernel = float(np.mean([t["seconds"].sum() for t in tables]))
    benchmark.extra_info["sum of point seconds"] = kernel
    benchmark.extra_info["overhead ratio"] = wall / kernel
    print(f"\nlocal sweep: wall {wall:.4f} s, points {kernel:.4f} s, ratio {wall / kernel:.3f}")


def test_sweep_overhead_dask(benchmark):
    from distributed import Client, LocalCluster

    benchmark.group = "sweep overhead per point (dask, 2 workers)"
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(lambda: __import__("sys").path.insert(0, __file__.rsplit("/", 1)[0]))
        # compile (or load) the kernel on every worker, not only on the one that gets a warm-up task
        client.run(lambda: cheap(rng=np.random.default_rng(0), n_sims=10, mu=0.0))
        n = len(GRID["mu"])
        tables = []

        def run():
            tables.append(sweep("bench-cheap", GRID, n_sims=20_000, rng=1, progress=False, backend="dask",
                                client=client))

        start = time.perf_counter()
        benchmark.pedantic(run, rounds=2, iterations=1)
        wall = (time.perf_counter() - start) / 2
        kernel = float(np.mean([t["seconds"].sum() for t in tables]))
        per_point = (wall - kernel / 2) / n
        benchmark.extra_info["per-point overhead s"] = per_point
        print(f"\ndask sweep: wall {wall:.4f} s, points {kernel:.4f} s, overhead per point {per_point * 1e3:.2f} ms")


def constant(*, rng, n_sims, i, j):
    return {"x": 0.5, "x_se": 0.01}


register_simulation("bench-constant", constant, parameters=("i", "j"), overwrite=True)
MANY = {"i": list(range(100 if QUICK else 1000)), "j": list(range(10 if QUICK else 100))}  # 10**3 / 10**5 points


@pytest.mark.parametrize("checkpoint", [False, True], ids=["no checkpoint", "checkpoint"])
def test_sweep_overhead_per_point(benchmark, checkpoint):
    n = len(MANY["i"]) * len(MANY["j"])
    benchmark.group = f"sweep overhead per point: {n} cheap points (local)"
    sweep("bench-constant", {"i": [0], "j": [0]}, n_sims=1, rng=0, progress=False)
    folder = tempfile.mkdtemp()
    runs = []

    def run():
        path = os.path.join(folder, f"r{len(runs)}.parquet") if checkpoint else None
        runs.append(sweep("bench-constant", MANY, n_sims=1, rng=1, progress=False, checkpoint=path))

    benchmark.pedantic(run, rounds=1 if not QUICK else 3, iterations=1)
    per_point = benchmark.stats.stats.min / n
    benchmark.extra_info["ms per point"] = per_point * 1e3
    print(f"\n{n} points, checkpoint={checkpoint}: {per_point * 1e3:.3f} ms per point")


def coin(*, rng, n_sims, p):
    est = rng.binomial(n_sims, p) / n_sims
    return {"rate": est, "rate_se": float(np.sqrt(est * (1 - est) / n_sims))}


register_simulation("bench-coin", coin, parameters=("p",), chunk_size=2000, overwrite=True)
RATES = {"p": [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]}
TARGET = 0.002


@pytest.mark.parametrize("mode", ["fixed n_sims", "target_se"])
def test_target_se_vs_fixed_n_sims(benchmark, mode):
    """Same worst-point SE (the point p=0.5 needs ~62 500 replicates): fixed runs that everywhere."""
    benchmark.group = f"target_se={TARGET} vs fixed n_sims reaching the same worst-point SE ({len(RATES['p'])} points)"
    adaptive = sweep("bench-coin", RATES, n_sims=2000, target_se=TARGET, rng=1, progress=False)
    worst = int(adaptive["n_sims"].max())
    if mode == "target_se":
        kwargs = dict(n_sims=2000, target_se=TARGET)
    else:
        kwargs = dict(n_sims=worst)
    tables = []
    benchmark.pedantic(lambda: tables.append(sweep("bench-coin", RATES, rng=1, progress=False, **kwargs)),
                       rounds=3, iterations=1)
    table = tables[-1]
    benchmark.extra_info["total replicates"] = int(table["n_sims"].sum())
    benchmark.extra_info["worst-point SE"] = float(table["rate_se"].max())
    print(f"\n{mode}: {int(table['n_sims'].sum()):,} replicates, worst-point SE {table['rate_se'].max():.5f}")
