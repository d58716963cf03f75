"""The one place where simengine reaches into numba's non-top-level modules.

Each name below lives in a numba submodule that is not part of numba's documented
top-level API and could move between releases; `tests/test_jit.py` imports this
module and checks every name, so a move fails loudly in one test, not deep inside a
kernel. Kernels and the public layer import these names from here, never directly.
"""
from numba.core.errors import NumbaError, TypingError
from numba.core.extending import intrinsic
from numba.core.registry import CPUDispatcher

# NumPy's ziggurat tables as numba ships them for its own Generator support; kernels/rng.py
# rebuilds NumPy's normal and exponential draws from them bit for bit.
from numba.np.random._constants import (
    fe_double,
    fi_double,
    ke_double,
    ki_double,
    we_double,
    wi_double,
    ziggurat_exp_r,
    ziggurat_nor_inv_r,
    ziggurat_nor_r,
)

__all__ = [
    "CPUDispatcher",
    "NumbaError",
    "TypingError",
    "intrinsic",
    "fe_double",
    "fi_double",
    "ke_double",
    "ki_double",
    "we_double",
    "wi_double",
    "ziggurat_exp_r",
    "ziggurat_nor_inv_r",
    "ziggurat_nor_r",
]
