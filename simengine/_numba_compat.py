"""The one place where simengine reaches into numba's and NumPy's non-public modules, and
where the kernels learn what the processor lets them do.

Each name below lives in a module that is not part of numba's (or NumPy's) documented API
and could move between releases; `tests/test_jit.py` checks every name, so a move fails
loudly in one test, not deep inside a kernel, and importing simengine then says which
internal is missing and which numba / NumPy version moved it.  Kernels, the public layer
and the tests import these names from here, never directly.

`X86_64` decides, from LLVM's process triple, whether the Metropolis-Hastings kernels may
read the cycle counter (``llvm.readcyclecounter``: ``rdtsc`` on x86-64, but a trap on
AArch64 where user space cannot read the counter) and use their inline-asm register
barrier; everywhere else they take the portable path, which gives the same chains.
"""
from __future__ import annotations

from typing import Any

import numba
import numpy as np


def _moved(what: str, exc: Exception) -> ImportError:
    return ImportError(
        f"simengine needs {what}, which this installation does not have (numba {numba.__version__}, "
        f"NumPy {np.__version__}; this simengine was last checked with numba 0.68 and NumPy 2.4): {exc}. "
        "Install a numba / NumPy release it supports, or a simengine release that supports yours."
    )


try:
    from numba.core.errors import NumbaError, TypingError
    from numba.core.extending import intrinsic
    from numba.core.registry import CPUDispatcher
except ImportError as exc:  # pragma: no cover - only on a numba release that moved them
    raise _moved("numba.core.errors / extending / registry (NumbaError, TypingError, intrinsic, CPUDispatcher)",
                 exc) from exc

# NumPy's ziggurat tables as numba ships them for its own Generator support; kernels/rng.py
# rebuilds NumPy's normal and exponential draws from them bit for bit.
try:
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
except ImportError as exc:  # pragma: no cover - only on a numba release that moved them
    raise _moved("numba.np.random._constants (NumPy's ziggurat tables)", exc) from exc

class _HelperDispatcher(CPUDispatcher):  # type: ignore[misc]
    """A dispatcher compiled without Python or C entry points: kernels call it, Python cannot."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Without a CPython wrapper a call from Python would jump to a null entry point (a segfault).
        raise TypeError(f"{self.py_func.__qualname__} is an internal kernel helper: call it from an @njit kernel")


def helper_dispatcher(func: Any, options: dict[str, Any], *, cache: bool) -> Any:
    """`func` as a numba dispatcher built without its CPython and C-callable wrappers (`simengine._jit.hjit`).

    Internals used: the dispatcher's constructor (py_func, locals, targetoptions), `enable_caching`, and the
    target options ``no_cpython_wrapper`` / ``no_cfunc_wrapper`` that numba uses for its own helpers;
    `tests/test_jit.py` compiles and calls such a helper from a kernel, so a change there fails loudly.
    """
    disp = _HelperDispatcher(py_func=func, locals={},
                             targetoptions={**options, "no_cpython_wrapper": True, "no_cfunc_wrapper": True})
    if cache:
        disp.enable_caching()
    return disp


__all__ = [
    "X86_64",
    "CPUDispatcher",
    "helper_dispatcher",
    "NumbaError",
    "TypingError",
    "coerce_to_uint32_array",
    "compiled_entry_point",
    "fe_double",
    "fi_double",
    "intrinsic",
    "is_x86_64",
    "ke_double",
    "ki_double",
    "we_double",
    "wi_double",
    "ziggurat_exp_r",
    "ziggurat_nor_inv_r",
    "ziggurat_nor_r",
]


def is_x86_64(triple: str) -> bool:
    """True if LLVM target `triple` (e.g. ``x86_64-unknown-linux-gnu``) is an x86-64 processor."""
    arch = triple.split("-", 1)[0].lower()
    return arch in ("x86_64", "amd64")


def _process_triple() -> str:
    from llvmlite.binding import get_process_triple

    return str(get_process_triple())


# Decided once, from the triple LLVM compiles the kernels for (not `platform.machine()`, which
# an x86-64 Python under Rosetta or an emulator reports as it was built, not as LLVM targets).
X86_64 = is_x86_64(_process_triple())


def coerce_to_uint32_array(value: Any) -> Any:
    """NumPy's ``SeedSequence`` word splitting of an int or int sequence (``numpy.random.bit_generator``)."""
    try:
        from numpy.random.bit_generator import _coerce_to_uint32_array  # type: ignore[attr-defined]
    except ImportError as exc:
        raise _moved("numpy.random.bit_generator._coerce_to_uint32_array", exc) from exc
    return _coerce_to_uint32_array(value)


def compiled_entry_point(dispatcher: Any, args: tuple[Any, ...]) -> Any:
    """The compiled C entry point of `dispatcher` for the numba types of `args`, or None.

    Calling it skips the dispatcher's argument typing (a few microseconds); only safe when
    the caller fixes every argument's numba type by construction.  Reads the dispatcher's
    `overloads` and the compile result's `entry_point`, neither documented API.
    """
    compiled = dispatcher.overloads.get(tuple(numba.typeof(a) for a in args))
    return None if compiled is None else compiled.entry_point
