"""Cheap simulations registered for the sweep fault tests (importable by subprocesses)."""
import time

import numpy as np

from simengine._sweep import register_simulation

DELAY = 0.0  # seconds per point, set by subprocess scripts (outside the parameters, so a resume may skip it)


def _total(v):
    if isinstance(v, (list, tuple)):
        return sum(_total(x) for x in v)
    return float(len(v)) if isinstance(v, str) else float(v)


def tick(*, rng, n_sims, p, v=0, delay=0.0):
    """A mean over replicates whose parameter `v` may be a number, a list or a nested list."""
    time.sleep(delay or DELAY)
    shift = _total(v)
    est = rng.binomial(n_sims, p) / n_sims + shift
    return {"rate": est, "rate_se": 0.1 / np.sqrt(n_sims)}


def check_tick(*, p, v=0, delay=0.0):
    try:
        _total(v)
    except (TypeError, ValueError):
        raise TypeError(f"`v` must be a number, a string or (nested) lists of them; got {v!r}") from None


register_simulation("test-tick", tick, parameters=("p", "v", "delay"), overwrite=True, validate=check_tick)


def jit_coin(*, rng, n_sims, p):
    """Compiles a small numba function inside the task (uncached), as the engine's kernels do on a cold worker."""
    import numba

    @numba.njit
    def heads(draws, p):
        return (draws < p).sum()

    est = heads(rng.random(n_sims), p) / n_sims
    return {"rate": est, "rate_se": float(np.sqrt(est * (1 - est) / n_sims)), "threads": numba.get_num_threads(),
            "threads_se": 0.0}


register_simulation("test-jit-coin", jit_coin, parameters=("p",), overwrite=True)
