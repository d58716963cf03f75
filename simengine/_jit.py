"""The one place where numba options are decided.

Kernels import `njit` / `pjit` from here, so cache, error model, fastmath and
parallelism are set once.  This module also picks a writable cache directory
before any kernel is decorated, so a read-only install still imports and runs.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numba

__all__ = ["njit", "pjit", "cache_dir", "PACKAGE_DIR"]

PACKAGE_DIR = Path(__file__).resolve().parent

# fastmath stays off: kernels compare p-values against alpha and count ties,
# where reassociated sums would change results between builds.
# error_model="numpy": x / 0 gives inf/nan like NumPy instead of raising inside
# a kernel; the public layer validates inputs, so a raise would only cost speed.
OPTIONS = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}


def _is_writable(directory: Path) -> bool:
    """True if numba could write its index files into `directory`/__pycache__."""
    target = directory / "__pycache__"
    try:
        target.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target, prefix=".simengine-probe-"):
            pass
    except OSError:
        return False
    return True


def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "simengine" / "numba"


def _choose_cache_dir() -> Path:
    """Where compiled kernels go: NUMBA_CACHE_DIR, else next to the module, else a user cache."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    if _is_writable(PACKAGE_DIR / "kernels"):
        return PACKAGE_DIR / "kernels" / "__pycache__"
    fallback = _user_cache_dir()
    try:
        fallback.mkdir(parents=True, exist_ok=True)
    except OSError:
        fallback = Path(tempfile.gettempdir()) / f"simengine-numba-{os.getuid()}"
        fallback.mkdir(parents=True, exist_ok=True)
    # numba reads config.CACHE_DIR when a cached dispatcher is created, i.e. when
    # the kernel modules are imported below us; setting it here is early enough.
    numba.config.CACHE_DIR = str(fallback)
    return fallback


_CACHE_DIR = _choose_cache_dir()


def cache_dir() -> Path:
    """Directory where compiled kernels are cached for this process."""
    return _CACHE_DIR


def njit(*args, **kwargs):
    """`numba.njit` with simengine's options; keyword arguments override them."""
    options = {**OPTIONS, **kwargs}
    if args and callable(args[0]):
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)


def pjit(*args, **kwargs):
    """`njit` with ``parallel=True``, for kernels whose outer loop is a `prange`."""
    return njit(*args, parallel=True, **kwargs)
