"""The one place where numba options are decided.

Kernels import `njit` / `pjit` from here, so cache, error model, fastmath and
parallelism are set once.  This module also picks a writable cache directory
before any kernel is decorated, so a read-only install still imports and runs.
"""
from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numba

from simengine._numba_compat import helper_dispatcher

__all__ = ["njit", "hjit", "pjit", "cache_dir", "unsafe_reason", "PACKAGE_DIR"]

PACKAGE_DIR = Path(__file__).resolve().parent

# fastmath stays off: kernels compare p-values against alpha and count ties,
# where reassociated sums would change results between builds.
# error_model="numpy": x / 0 gives inf/nan like NumPy instead of raising inside
# a kernel; the public layer validates inputs, so a raise would only cost speed.
OPTIONS = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}


def _is_writable(directory: Path) -> bool:
    """True if numba could write its cache files into `directory`/__pycache__.

    Asked of the system (access(2), which also refuses a read-only mount, even to root),
    not tried: importing simengine writes nothing into the package directory.  Without a
    __pycache__ (no bytecode written there) the in-tree cache is not used.
    """
    target = directory / "__pycache__"
    return target.is_dir() and os.access(target, os.W_OK | os.X_OK)


def unsafe_reason(directory: str | os.PathLike[str], uid: int | None = None) -> str | None:
    """Why `directory` must not hold compiled kernels, or None if it is safe.

    numba's cache index files are pickles, loaded (and so run) on import of a cached
    kernel: a directory that another user owns, or that group or others can write,
    lets them plant code that runs as us.  The directory must be a real directory
    (not a symlink) owned by `uid` (the effective user) and writable by its owner
    only; its parent must not let anyone else replace it (owned by us or root, and
    not writable by group/others unless sticky, as /tmp is).
    """
    uid = os.geteuid() if uid is None else uid
    path = Path(directory)
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot be inspected ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid != uid:
        return f"is owned by uid {st.st_uid}, not by this user (uid {uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    try:
        parent = os.stat(path.parent)
    except OSError as exc:
        return f"has a parent that cannot be inspected ({exc.strerror})"
    if parent.st_uid not in (uid, 0):
        return f"lies in {str(path.parent)!r}, owned by uid {parent.st_uid}"
    if parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not parent.st_mode & stat.S_ISVTX:
        return f"lies in {str(path.parent)!r}, which group or others can write"
    return None


def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "simengine" / "numba"


def _make_private(directory: Path) -> Path | None:
    """Create `directory` (and missing parents) with mode 0700; return it if it is then safe."""
    try:
        directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass  # checked below: only a directory of our own, writable by us alone, is used
    except OSError:
        return None
    return directory if unsafe_reason(directory) is None and os.access(directory, os.W_OK) else None


def _warn(message: str) -> None:
    warnings.warn(f"simengine: {message}", RuntimeWarning, stacklevel=3)


def _choose_cache_dir() -> Path | None:
    """Where compiled kernels go, or None to compile without a disk cache.

    In order: NUMBA_CACHE_DIR if it is safe; next to the kernel modules if writable
    and safe; the user's cache directory (created 0700); a per-user directory in the
    temporary directory (created 0700); a fresh `mkdtemp` removed at exit.  A directory
    that exists but is unsafe (see `unsafe_reason`) is never used, and says why once.
    """
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    if explicit:
        directory = Path(explicit)
        made = directory if directory.is_dir() else _make_private(directory)
        reason = unsafe_reason(directory) if made is not None else "cannot be created"
        if reason is None:
            return directory
        # numba applies NUMBA_CACHE_DIR to every cached function it sees; ours stay off it.
        _warn(f"NUMBA_CACHE_DIR {explicit!r} {reason}; simengine kernels run without a disk cache")
        return None
    in_tree = PACKAGE_DIR / "kernels"
    if _is_writable(in_tree) and unsafe_reason(in_tree / "__pycache__") is None:
        return in_tree / "__pycache__"
    candidates = [_user_cache_dir(), Path(tempfile.gettempdir()) / f"simengine-numba-{os.geteuid()}"]
    rejected = []
    for directory in candidates:
        if _make_private(directory) is not None:
            return _use(directory)
        if os.path.lexists(directory):
            rejected.append(f"{str(directory)!r} {unsafe_reason(directory) or 'is not writable'}")
    try:
        directory = Path(tempfile.mkdtemp(prefix="simengine-numba-"))
    except OSError:
        _warn("no private cache directory could be made; kernels run without a disk cache")
        return None
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    if rejected:
        _warn("not using " + "; ".join(rejected) + f"; caching in {str(directory)!r} for this process only")
    return _use(directory)


def _use(directory: Path) -> Path:
    # numba reads config.CACHE_DIR when a cached dispatcher is created, i.e. when
    # the kernel modules are imported below us; setting it here is early enough.
    numba.config.CACHE_DIR = str(directory)
    return directory


_CACHE_DIR = _choose_cache_dir()
if _CACHE_DIR is None:
    OPTIONS["cache"] = False


def cache_dir() -> Path | None:
    """Directory where compiled kernels are cached for this process (None: no disk cache)."""
    return _CACHE_DIR


def njit(*args: Any, **kwargs: Any) -> Any:
    """`numba.njit` with simengine's options; keyword arguments override them."""
    options = {**OPTIONS, **kwargs}
    if args and callable(args[0]):
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)


def pjit(*args: Any, **kwargs: Any) -> Any:
    """`njit` with ``parallel=True``, for kernels whose outer loop is a `prange`."""
    return njit(*args, parallel=True, **kwargs)


def hjit(*args: Any, **kwargs: Any) -> Any:
    """`njit` for a kernel helper that only other kernels call (never Python, never as a function value).

    Every dispatcher numba compiles also gets a CPython wrapper and a C-callable wrapper, each generated and
    optimised with it: ~25 % of a small helper's compile time (a chain of ten special-function helpers compiled
    in 1.55 s instead of 2.07 s).  A helper called from a kernel needs neither, and skipping them changes none of
    its code, so results are the same bit for bit.  Calling it from Python raises TypeError.  Keyword arguments
    override simengine's options, as for `njit`.
    """
    options = {**OPTIONS, **kwargs}
    cache = options.pop("cache")

    def wrap(func: Any) -> Any:
        return helper_dispatcher(func, options, cache=cache)

    if args and callable(args[0]):
        return wrap(args[0])
    return wrap
