"""Sweep overhead: wall time of a 100-point grid against the sum of its points' own times.

The ratio (wall / sum of the `seconds` column) is the overhead factor the issue
asks about; it is printed and stored in the benchmark's extra_info.
"""
import time

import numba
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
