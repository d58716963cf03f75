"""Input validation for the public layer.

Every check raises before any kernel runs, names the parameter in backticks and
says what is allowed: ``ValueError`` for bad values, ``TypeError`` for bad types.
"""
from __future__ import annotations

import math
import numbers
import operator
import os
from typing import Any, Iterable, TypeVar

import numpy as np

from simengine._long import all_finite, asarray, contiguous

_T = TypeVar("_T")

__all__ = [
    "as_float_array",
    "as_int_array",
    "check_probability",
    "check_positive_int",
    "check_int",
    "check_real",
    "check_choice",
    "check_bool",
    "check_axis",
    "ALTERNATIVES",
    "alternative_code",
    "MAX_COUNT",
    "MAX_WORK",
    "check_count",
    "check_work",
    "check_memory",
    "memory_limit",
]

# Limits shared by every public function; the README's "Limits and guarantees" states them.
# A count (replicates, resamples, draws, families, streams, steps) above MAX_COUNT is refused
# whatever memory it needs: at a few ns per unit, 10**9 of anything is already minutes.
MAX_COUNT = 10**9
# The work of one call (random draws, kernel steps: each function says what it counts) is
# capped so that a typo such as n_sims=10**12 fails at once instead of running for days;
# at 1-5 ns per unit on one core, 10**12 units is 15 minutes to an hour and a half.
MAX_WORK = 10**12


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_bool(value: object, name: str) -> bool:
    """A real bool (or NumPy bool)."""
    if value is True or value is False:
        return value
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False; got {_describe(value)}")
    return bool(value)


def check_int(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (not a bool, not a float) within [minimum, maximum]."""
    if (
        type(value) is int  # the common case, without the ABC checks below (a microsecond each)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    ):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer; got {_describe(value)}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        if maximum is None:
            raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value}")
        raise ValueError(f"`{name}` must be an integer in [{minimum}, {maximum}]; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be an integer in [{minimum}, {maximum}]; got {value}")
    return value


def check_positive_int(value: object, name: str, *, maximum: int | None = None) -> int:
    """An integer >= 1."""
    return check_int(value, name, minimum=1, maximum=maximum)


def check_real(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_inf: bool = False,
) -> float:
    """A real scalar within the given bounds; NaN is always refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {_describe(value)}")
    try:
        value = float(value)
    except OverflowError:  # a Python int beyond the float range
        if not allow_inf:
            raise ValueError(f"`{name}` is too large for a float64 (|x| < 1.8e308); got {_describe(value)}") from None
        value = math.inf if value > 0 else -math.inf  # type: ignore[operator]  # a Python int here
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    opening = "[" if low_inclusive and low is not None else "("
    closing = "]" if high_inclusive and high is not None else ")"
    interval = f"{opening}{lo}, {hi}{closing}"
    if np.isnan(value) or (np.isinf(value) and not allow_inf):
        raise ValueError(f"`{name}` must be a finite number in {interval}; got {value}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        raise ValueError(f"`{name}` must be in {interval}; got {value:g}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        raise ValueError(f"`{name}` must be in {interval}; got {value:g}")
    return value


def check_probability(value: object, name: str, *, closed: bool = False) -> float:
    """A probability in (0, 1), or [0, 1] with ``closed=True``."""
    return check_real(value, name, low=0.0, high=1.0, low_inclusive=closed, high_inclusive=closed)


def check_choice(value: _T, name: str, choices: Iterable[str]) -> _T:
    """One of a fixed set of strings (returned as given, so a Literal-typed argument keeps its type)."""
    choices = tuple(choices)
    allowed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be one of {allowed}; got {_describe(value)}")
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {allowed}; got {value!r}")
    return value


def check_axis(axis: object, name: str, ndim: int) -> int:
    """A valid axis for an array of `ndim` dimensions, normalised to be non-negative."""
    axis = check_int(axis, name)
    if not -ndim <= axis < ndim:
        raise ValueError(f"`{name}` must be in [{-ndim}, {ndim - 1}] for {ndim}-D input; got {axis}")
    return axis % ndim


def _check_shape(arr: np.ndarray, name: str, ndim: int | Iterable[int], allow_empty: bool) -> None:
    """The dimensionality and emptiness checks every array converter shares."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
        dims = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"`{name}` must be {dims}; got {arr.ndim}-D with shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {arr.shape}")


def as_float_array(
    value: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] = (1, 2),
    finite: bool = True,
    allow_empty: bool = False,
    min_size: int = 1,
) -> np.ndarray:
    """A C-contiguous float64 array with an allowed number of dimensions.

    Refuses non-numeric data (TypeError), wrong dimensionality, empty arrays
    (unless `allow_empty`) and, with ``finite=True``, NaN and inf (ValueError).
    """
    if type(value) is np.ndarray and value.dtype == np.float64 and value.flags.c_contiguous:
        arr = value  # already what the kernels take: only the shape and finiteness checks remain
    elif isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be array-like of real numbers; got a string")
    else:
        arr = _as_array(value, name)
    _check_shape(arr, name, ndim, allow_empty)
    arr = contiguous(arr, np.float64)  # keeps 0-d input 0-d; huge input in pieces (Ctrl-C answered)
    if finite and arr.size and not all_finite(arr):
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise ValueError(f"`{name}` must be finite; it contains {bad}")
    if not arr.flags.writeable:
        # a read-only array (a pandas Series under copy-on-write) is another numba type:
        # every kernel would compile again for it (~10 s); one copy is far cheaper
        arr = arr.copy()
    return arr


def _as_array(value: Any, name: str) -> np.ndarray:
    try:
        arr = asarray(value)
    except (ValueError, TypeError):  # ragged lists and the like: NumPy's own text would only confuse
        raise TypeError(
            f"`{name}` must be a rectangular array of real numbers; got a ragged list (rows of unequal length)"
        ) from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must contain real numbers; got dtype {arr.dtype}")
    return arr


def as_int_array(
    value: Any, name: str, *, ndim: int | tuple[int, ...] = (0, 1, 2), minimum: int | None = None
) -> np.ndarray:
    """A C-contiguous int64 array of whole numbers (floats that are whole are accepted)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be array-like of integers; got a string")
    try:
        arr = asarray(value)
    except (ValueError, TypeError):
        raise TypeError(
            f"`{name}` must be a rectangular array of integers; got a ragged list (rows of unequal length)"
        ) from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must contain integers; got dtype {arr.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
        dims = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"`{name}` must be {dims}; got {arr.ndim}-D with shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise ValueError(f"`{name}` must contain whole numbers; got non-integer values")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"`{name}` must be below 2**63; got {arr.max()}")
    if arr.dtype.kind == "f" and arr.size and np.abs(arr).max() >= 2.0**63:
        raise ValueError(f"`{name}` must be below 2**63 in magnitude; got {np.abs(arr).max():g}")
    # as np.ascontiguousarray: 0-d input becomes shape (1,); huge input in pieces (Ctrl-C answered)
    out = contiguous(arr if arr.ndim else arr.reshape(1), np.int64)
    if not out.flags.writeable:
        out = out.copy()  # see as_float_array
    if minimum is not None and out.size and out.min() < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; got {out.min()}")
    return out


def check_count(value: object, name: str, *, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """A count (replicates, resamples, steps...) in [minimum, maximum]; MAX_COUNT by default."""
    return check_int(value, name, minimum=minimum, maximum=maximum)


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def check_work(total: int, names: str, *, limit: int = MAX_WORK, unit: str = "random draws") -> int:
    """Refuse a call whose total work (a product of counts, as a Python int) exceeds `limit`.

    `names` names the parameters whose product it is, e.g. "`n_sims` x `n`".
    """
    total = int(total)
    if total > limit:
        raise ValueError(
            f"{names} asks for {total:.3g} {unit} in one call; the limit is {limit:.0e} "
            "(split the work, e.g. with `simengine.sweep`, or use fewer)"
        )
    return total


def memory_limit() -> int:
    """Bytes one call may allocate: the machine's physical memory (SIMENGINE_MAX_MEMORY overrides)."""
    override = os.environ.get("SIMENGINE_MAX_MEMORY")
    if override:
        try:
            return int(float(override))
        except ValueError:
            raise ValueError(f"SIMENGINE_MAX_MEMORY must be a number of bytes; got {override!r}") from None
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: assume 16 GiB
        return 16 * 2**30


def check_memory(nbytes: int, names: str, *, what: str = "its arrays") -> int:
    """Refuse a call whose arrays (`nbytes`, a Python int) would not fit in memory.

    The message names the parameters (`names`), the memory needed and the limit, so that
    an oversized request fails before any kernel runs instead of dying inside one.
    """
    nbytes = int(nbytes)
    limit = memory_limit()
    if nbytes > limit or nbytes >= 2**62:
        raise ValueError(
            f"{names} needs {_gib(nbytes)} for {what}; this machine allows {_gib(limit)} "
            "(use smaller sizes, or split the work)"
        )
    return nbytes


ALTERNATIVES = {"two-sided": 0, "less": 1, "greater": 2}


def alternative_code(alternative: str, name: str = "alternative") -> int:
    """Map scipy's `alternative` string to the int code kernels use."""
    return ALTERNATIVES[check_choice(alternative, name, ALTERNATIVES)]


# --- hypothesis-tests slice (issue 12) ---


def check_bounded_count(value: object, name: str, *, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """`check_count`, keeping the message a count had before the cap ("an integer >= 1") for
    values below `minimum`, so that only values above `maximum` get the new range message."""
    if type(value) is int and minimum <= value <= maximum:
        return value
    value = check_int(value, name, minimum=minimum)
    return check_int(value, name, minimum=minimum, maximum=maximum)


# Kept as a name for the hypothesis-test modules: the core converter now gives the plain
# ragged-input message and a writeable result itself.
as_data_array = as_float_array


# ----------------------------------------------------------------------------- seqbayes slice (issue 12)
_INT64_MAX = 2**63 - 1
_F64 = np.dtype(np.float64)


def as_count_array(
    value: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] = (0, 1, 2),
    minimum: int | None = 0,
    maximum: int | None = None,
    allow_empty: bool = False,
) -> np.ndarray:
    """Like `as_int_array`, for counts typed by users: also refuses ragged or non-numeric input and bools
    (TypeError), and values beyond int64 or `maximum` (ValueError), all without NumPy's own messages."""
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"`{name}` must be array-like of integers; got {_describe(value)}")
    try:
        arr = asarray(value)
    except (TypeError, ValueError, OverflowError):  # ragged nesting and the like
        raise TypeError(
            f"`{name}` must be a rectangular array of integers; got a ragged list (rows of unequal length)"
        ) from None
    if arr.dtype == object:
        items = arr.ravel().tolist()  # only odd input gets here (Python ints beyond int64, mixed objects)
        if items and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
            raise ValueError(f"`{name}` must be integers in [{minimum}, {_INT64_MAX if maximum is None else maximum}]; "
                             f"got {max(items, key=abs)}")
        raise TypeError(f"`{name}` must be array-like of integers; got {_describe(value)}")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be array-like of integers; got dtype {arr.dtype}")
    _check_shape(arr, name, ndim, allow_empty)
    if arr.dtype.kind == "f" and arr.size:
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise ValueError(f"`{name}` must contain whole numbers; got non-integer or non-finite values")
        if np.abs(arr).max() >= 2.0**63:
            raise ValueError(f"`{name}` must be integers within int64; got {np.abs(arr).max():g}")
    elif arr.dtype.kind == "u" and arr.size and arr.max() > _INT64_MAX:
        raise ValueError(f"`{name}` must be integers within int64; got {arr.max()}")
    out = contiguous(arr, np.int64)
    if not out.flags.writeable:
        out = out.copy()  # see as_float_array
    if out.size:
        if minimum is not None and out.min() < minimum:
            raise ValueError(f"`{name}` must be >= {minimum}; got {out.min()}")
        if maximum is not None and out.max() > maximum:
            raise ValueError(f"`{name}` must be <= {maximum}; got {out.max()}")
    return out


def check_count_at_least_one(value: object, name: str, *, maximum: int = MAX_COUNT) -> int:
    """`check_positive_int` (its ">= 1" message) with `check_count`'s upper bound."""
    value = check_int(value, name, minimum=1)
    if value > maximum:
        check_count(value, name, maximum=maximum)
    return value


def as_real_array(value: Any, name: str, **kwargs: Any) -> np.ndarray:
    """`as_float_array`, also refusing ragged nesting and bools with a TypeError of its own words."""
    if type(value) is np.ndarray and value.dtype is _F64:
        return as_float_array(value, name, **kwargs)  # the common case: no extra check
    if type(value) is not np.ndarray:
        if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
            raise TypeError(f"`{name}` must be array-like of real numbers; got {_describe(value)}")
        try:
            value = asarray(value)
        except (TypeError, ValueError, OverflowError):
            raise TypeError(
                f"`{name}` must be a rectangular array of real numbers; got a ragged list (rows of unequal length)"
            ) from None
    if value.dtype.kind == "b":
        raise TypeError(f"`{name}` must be array-like of real numbers; got booleans")
    return as_float_array(value, name, **kwargs)


def compile_error_line(exc: BaseException) -> str:
    """The first line of a numba compile error for a user's jitted function, in words a user reads (no
    "nopython" / "numba" jargon), at most 200 characters: the reason part of the TypeError we raise."""
    import re

    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"nopython|numba", "compiled", first, flags=re.IGNORECASE)[:200]
