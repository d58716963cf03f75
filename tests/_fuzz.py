"""Shared pieces of the bad-input fuzz suite (tests/test_fuzz_*.py).

Each public function is called with one argument replaced by a hostile value; the
call must either return or raise TypeError / ValueError naming that argument, and
must end quickly.  Memory-unsafe reproducers run in a subprocess (`run_isolated`).
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from hypothesis import strategies as st

# Huge, negative and boundary integers: int64 overflow, int32 overflow, absurd counts.
BAD_INTS = [-(2**63), -1, 0, 2**31 - 1, 2**31, 2**32, 2**40, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64, 10**30]
BAD_REALS = [math.nan, math.inf, -math.inf, 5e-324, -5e-324, 1e-300, 1e300, 1.7e308, -1.7e308, 0.0, -0.0, 1.0, -1.0]
BAD_TYPES = [
    None,
    "x",
    "",
    b"1",
    True,
    False,
    1 + 2j,
    object(),
    {"a": 1},
    {1, 2},
    [],
    [[1.0, 2.0], [3.0]],  # ragged
    [None, 1.0],
    ["a", "b"],
    np.array(1.0),  # 0-d
    np.empty(0),
    np.empty((0, 3)),
    np.ones((2, 2, 2)),
    np.array([1.0, np.nan]),
    np.array([1.0, np.inf]),
    np.array([1, 2], dtype=np.int8),
    np.array(["a", "b"]),
    np.array([1.0, 2.0], dtype=object),
    pd.Series([1.0, 2.0, 3.0]),
    pd.DataFrame({"a": [1.0, 2.0]}),
    1.5,
    -1,
    2**70,
]

ANY_BAD = BAD_INTS + BAD_REALS + BAD_TYPES


def bad_values():
    """A hypothesis strategy over every hostile value above plus random huge ints and floats."""
    return st.one_of(
        st.sampled_from(range(len(ANY_BAD))).map(lambda i: ANY_BAD[i]),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=True, allow_infinity=True),
    )


class FuzzFailure(AssertionError):
    pass


def check_call(fn, args=(), kwargs=None, *, param: str | None = None, timeout: float = 20.0,
               allowed=(TypeError, ValueError)):
    """Call `fn`; it must return, or raise one of `allowed` whose message names `param` in backticks.

    Returns ``(ok, result_or_exception)``.  Any other exception type, an error that
    does not name the parameter, or a call slower than `timeout` seconds fails.
    (A kernel cannot be interrupted in-process, so a true hang stalls the test; the
    regression tests for known hangs run in a subprocess with a timeout instead.)
    """
    kwargs = {} if kwargs is None else kwargs
    start = time.perf_counter()
    try:
        out = fn(*args, **kwargs)
    except allowed as exc:
        elapsed = time.perf_counter() - start
        if elapsed > timeout:
            raise FuzzFailure(f"{_show(fn, param, kwargs)} took {elapsed:.1f} s to refuse") from exc
        if param is not None and f"`{param}`" not in str(exc) and not _names_any_param(str(exc)):
            raise FuzzFailure(f"{_show(fn, param, kwargs)} raised {type(exc).__name__} not naming `{param}`: {exc}")
        _no_internals(fn, param, kwargs, exc)
        return False, exc
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise FuzzFailure(f"{_show(fn, param, kwargs)} raised {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - start
    if elapsed > timeout:
        raise FuzzFailure(f"{_show(fn, param, kwargs)} took {elapsed:.1f} s")
    return True, out


_INTERNALS = re.compile(
    r"setting an array element with a sequence|object is not iterable|numba|llvm|pyarrow|"
    r"NoneType|unsupported operand|could not convert|invalid literal|Traceback",
    re.IGNORECASE,
)


def _no_internals(fn, param, kwargs, exc):
    text = str(exc)
    if _INTERNALS.search(text):
        raise FuzzFailure(f"{_show(fn, param, kwargs)}: message leaks internals: {text}")


def _names_any_param(text: str) -> bool:
    # A cross-parameter check ("`n_sims` x `n` asks for ...") names several; it still names one.
    return bool(re.search(r"`[A-Za-z_][A-Za-z0-9_.\[\]]*`", text))


def _show(fn, param, kwargs):
    name = getattr(fn, "__qualname__", repr(fn))
    value = kwargs.get(param, "?") if param else "?"
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{name}({param}={text})"


def run_isolated(code: str, *, timeout: float = 60.0):
    """Run `code` in a fresh interpreter; returns (returncode, stdout, stderr).

    For reproducers that corrupted memory or hung: a crash or a hang there fails the
    test instead of taking pytest down with it.
    """
    env = dict(os.environ)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise FuzzFailure(f"subprocess did not finish in {timeout} s:\n{code}") from exc
    return out.returncode, out.stdout, out.stderr
