"""The one place where simengine reaches into numba's non-top-level modules.

Each name below lives in a numba submodule that is not part of numba's documented
top-level API and could move between releases; `tests/test_jit.py` imports this
module and checks every name, so a move fails loudly in one test, not deep inside a
kernel. Kernels and the public layer import these names from here, never directly.
"""
from typing import Any

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
    "compiled_entry_point",
]


def compiled_entry_point(dispatcher: Any, args: tuple[Any, ...]) -> Any:
    """The compiled C entry point of `dispatcher` for the numba types of `args`, or None.

    Calling it skips the dispatcher's argument typing (a few microseconds); only safe when
    the caller fixes every argument's numba type by construction.  Reads the dispatcher's
    `overloads` and the compile result's `entry_point`, neither documented API.
    """
    import numba

    compiled = dispatcher.overloads.get(tuple(numba.typeof(a) for a in args))
    return None if compiled is None else compiled.entry_point
