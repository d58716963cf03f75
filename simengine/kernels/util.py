"""Small kernels shared by the public layer: probes and block bookkeeping."""
import numba

from simengine._jit import pjit


@pjit
def _parallel_probe(x):
    # Runs one trivial prange so numba picks (and reports) its threading layer.
    total = 0.0
    for i in numba.prange(x.shape[0]):
        total += x[i]
    return total
