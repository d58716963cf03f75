"""A minimal block-RNG kernel used to test the reproducibility contract itself.

Each replicate draws `m` normals from its block's Generator and records their
mean and maximum; block b owns replicates [b*block, (b+1)*block).
"""
import numba
import numpy as np

from simengine._jit import pjit


@pjit
def block_means(gens, block, n_sims, m):
    out = np.empty((n_sims, 2))
    for b in numba.prange(len(gens)):
        g = gens[np.int64(b)]  # prange indices are unsigned; typed.List wants int64
        for r in range(b * block, min((b + 1) * block, n_sims)):
            x = g.standard_normal(m)
            out[r, 0] = x.mean()
            out[r, 1] = x.max() + g.random()
    return out


def numpy_replay(gens, block, n_sims, m):
    out = np.empty((n_sims, 2))
    for b, g in enumerate(gens):
        for r in range(b * block, min((b + 1) * block, n_sims)):
            x = g.standard_normal(m)
            out[r, 0] = x.mean()
            out[r, 1] = x.max() + g.random()
    return out
