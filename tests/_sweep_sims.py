"""Small simulations registered for the sweep tests (importable by subprocesses)."""
import time

import numpy as np

from simengine._sweep import register_simulation


def coin(*, rng, n_sims, p, label="a"):
    """Fraction of heads in n_sims tosses: a mean over replicates, so chunkable."""
    est = rng.binomial(n_sims, p) / n_sims
    return {"rate": est, "rate_se": float(np.sqrt(est * (1 - est) / n_sims))}


def slow_coin(*, rng, n_sims, p, delay=0.0):
    time.sleep(delay)
    return coin(rng=rng, n_sims=n_sims, p=p)


register_simulation("test-coin", coin, parameters=("p", "label"), chunk_size=4000, overwrite=True)
register_simulation("test-slow-coin", slow_coin, parameters=("p", "delay"), overwrite=True)
