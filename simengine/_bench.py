"""Side-by-side timings for `simengine bench`: naive NumPy, the usual library, simengine.

The naive baselines come from `simengine.naive`, the same functions the tests and
the pytest-benchmark suite use.  Each task builds its inputs once, warms the JIT,
then times every implementation in the same run.
"""
from __future__ import annotations

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


def time_call(fn, *, min_time: float = 0.2, max_repeats: int = 50, max_time: float = 20.0) -> float:
    """Best-of-several wall time of `fn()`, repeating until `min_time` has been spent."""
    best = float("inf")
    spent = 0.0
    for _ in range(max_repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        if spent >= min_time or spent >= max_time:
            break
    return best


def run_tasks(tasks, *, quick: bool = False, progress: bool = True):
    """Time every task; returns a DataFrame with one row per task."""
    import pandas as pd
    from tqdm.auto import tqdm

    rows = []
    for task in tqdm(list(tasks), desc="bench", disable=not progress, leave=False):
        impls = task.make(quick)
        engine = impls["simengine"]
        engine()  # compile / load from cache before timing
        min_time = 0.05 if quick else 0.3
        t_engine = time_call(engine, min_time=min_time)
        t_naive = time_call(impls["naive"], min_time=min_time, max_repeats=3)
        row = {"task": task.name, "naive s": t_naive}
        library = [k for k in impls if k not in ("naive", "simengine")]
        for lib in library:
            impls[lib]()
            row[f"{lib} s"] = time_call(impls[lib], min_time=min_time, max_repeats=5)
        row["simengine s"] = t_engine
        row["speed-up vs naive"] = t_naive / t_engine
        for lib in library:
            row[f"speed-up vs {lib}"] = row[f"{lib} s"] / t_engine
        rows.append(row)
    return pd.DataFrame(rows)


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
