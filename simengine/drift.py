"""Drift detection: PSI (batch and windowed), DDM and ADWIN over many streams, detector simulations.

Public layer only: validation, conversion and result objects.  The numerical work is in
`simengine.kernels.drift`; streaming classes call the same step functions as the batch scans.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from simengine import _rng
from simengine._long import asarray, check_progress, concatenate, contiguous, joined, run_blocks
from simengine._results import MEAN, NOT_COMBINABLE, MonteCarloResult, Result, proportion_se
from simengine._typing import ArrayLike, FloatOrArray, IntOrArray, Progress, SeedLike
from simengine._validate import (
    MAX_COUNT,
    _describe,
    as_float_array,
    check_bool,
    check_choice,
    check_int,
    check_memory,
    check_probability,
    check_real,
    check_work,
)
from simengine.kernels import drift as _k

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__ = [
    "psi",
    "psi_monitor",
    "PSIMonitor",
    "PsiMonitorResult",
    "ddm",
    "DDM",
    "DdmResult",
    "adwin",
    "ADWIN",
    "AdwinResult",
    "simulate_drift_detection",
    "SimulateDriftDetectionResult",
]

_NAN_POLICIES = ("raise", "omit")

# Documented limits (README, "Limits and guarantees").  Counts are capped by MAX_COUNT; these are the
# sizes specific to drift detection.
PSI_MAX_BINS = 10**6  # far beyond any useful PSI; also bounds the count arrays (bins x features x chunks)
ADWIN_MAX_BUCKETS = _k.ADWIN_MAX_BUCKETS  # 1000: river and the paper use 5; more only slows the cut test
# ADWIN keeps sums and squared deviations of up to ~max_buckets x 2**48 values: values beyond 1e100 in
# magnitude could overflow them to inf (and the detector would then never fire), so they are refused.
ADWIN_MAX_ABS = 1e100
# Allocations below this cannot fail in practice; above it `check_memory` (a few us) is worth its cost.
_MEMORY_CHECK_FLOOR = 2**26
# Every NumPy dimension count: arrays are converted first and their dimensions checked with our message.
_ANY_NDIM = range(65)


def _check_size(value, name, minimum, maximum, why=""):
    """An integer >= minimum (check_int's message), and <= maximum with a message that gives the range."""
    value = check_int(value, name, minimum=minimum)
    if value > maximum:
        raise ValueError(f"`{name}` must be an integer in [{minimum}, {maximum}]{why}; got {value}")
    return value


def _check_memory(nbytes, names, what):
    if nbytes >= _MEMORY_CHECK_FLOOR:
        check_memory(nbytes, names, what=what)


def _float_array(value, name, **kwargs):
    """`as_float_array`, with ragged or mixed sequences refused without NumPy's message."""
    if not isinstance(value, np.ndarray) and isinstance(value, (list, tuple)):
        try:
            value = asarray(value)
        except (ValueError, TypeError):
            raise TypeError(f"`{name}` must be array-like of real numbers; got a ragged or mixed sequence") from None
    return as_float_array(value, name, **kwargs)


class _StringValueError(TypeError, ValueError):
    """A string where a number belongs: a TypeError, still caught by code written for the ValueError raised
    before (as NumPy's AxisError is both a ValueError and an IndexError)."""


# ----------------------------------------------------------------------------------------------------------
# PSI
# ----------------------------------------------------------------------------------------------------------


def _as_data(value, name, nan_policy, check_values=True):
    """Float64 array (1-D or 2-D) of real numbers; NaN refused unless nan_policy='omit'; inf always refused.

    With ``check_values=False`` only type, dimensions and emptiness are checked here; the caller checks the
    values later (`_check_values` or `_check_scan`), before any result is computed.
    """
    arr = _float_array(value, name, ndim=(1, 2), finite=False)
    if check_values:
        _check_values(arr, name, nan_policy)
    return arr


def _check_values(arr, name, nan_policy):
    if not _nonfinite(arr.reshape(-1)):
        return  # all finite: one fast pass instead of two with temporaries
    if np.isinf(arr).any():
        raise ValueError(f"`{name}` must not contain inf")
    if nan_policy == "raise" and np.isnan(arr).any():
        raise ValueError(f"`{name}` contains NaN; drop it or pass nan_policy='omit'")


def _check_scan(name, nan_policy, lo, hi, n_nan):
    """The errors of `_check_values`, read off the per-column min, max and NaN count of `_colwise_scan`."""
    if np.any(lo == -np.inf) or np.any(hi == np.inf):
        raise ValueError(f"`{name}` must not contain inf")
    if nan_policy == "raise" and n_nan.any():
        raise ValueError(f"`{name}` contains NaN; drop it or pass nan_policy='omit'")


def _check_bins(bins, name="bins"):
    """An int in [1, PSI_MAX_BINS] (number of bins) or a 1-D array of >= 2 sorted finite edges."""
    if isinstance(bins, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an int >= 1 or a 1-D array of bin edges; got a bool")
    if isinstance(bins, numbers.Integral):
        return _check_size(bins, name, 1, PSI_MAX_BINS), None
    array_like = isinstance(bins, (np.ndarray, list, tuple)) or hasattr(bins, "__array__")
    if isinstance(bins, (str, bytes)) or not array_like:
        raise TypeError(f"`{name}` must be an int >= 1 or a 1-D array of bin edges; got {_describe(bins)}")
    edges = _float_array(bins, name, ndim=_ANY_NDIM)
    if edges.ndim != 1:
        raise TypeError(f"`{name}` must be an int >= 1 or a 1-D array of bin edges; got a {edges.ndim}-D array")
    if edges.size < 2:
        raise ValueError(f"`{name}` as edges needs at least 2 values; got {edges.size}")
    if edges.size > PSI_MAX_BINS + 1:
        raise ValueError(f"`{name}` as edges must have at most {PSI_MAX_BINS + 1} values; got {edges.size}")
    if np.any(np.diff(edges) < 0):
        raise ValueError(f"`{name}` as edges must be sorted in increasing order")
    return edges.size - 1, edges


def _is_uniform(edges):
    with np.errstate(over="ignore", invalid="ignore"):  # a span beyond float64 is not uniform (d has inf)
        d = np.diff(edges)
        return bool(d.size and 0 < d[0] < np.inf and np.allclose(d, d[0], rtol=1e-12, atol=0.0))


def _quantile_edges(reference, bins, halved=False, nan=None):
    """Reference quantiles (np.quantile, linear interpolation) per column, NaN ignored: (cols x bins+1).

    `nan`: whether `reference` has NaN (None: look).  Columns are independent, so many columns run in slices
    of columns (Ctrl-C between them); one column is one NumPy call.
    """
    q = np.linspace(0.0, 1.0, bins + 1)
    if nan is None:
        nan = bool(np.isnan(reference).any())
    if reference.shape[0] > _SORTED_ROWS:
        # long columns: each sorted in slices (one np.quantile of 10^8 values would be ~1 s in one piece)
        edges = np.empty((reference.shape[1], bins + 1))
        for j in range(reference.shape[1]):
            edges[j] = _column_quantiles(reference, j, q)
        return _finish_edges(edges, reference, bins, halved, nan)

    def call(lo, hi):
        part = reference[:, lo:hi]
        if nan:
            import warnings

            with warnings.catch_warnings():
                # an all-NaN column gets nan edges, replaced below; its PSI is nan by definition
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanquantile(part, q, axis=0)
        with np.errstate(over="ignore", invalid="ignore"):  # the overflow near +-1.8e308 is handled below
            return np.quantile(part, q, axis=0)

    parts = _pass_rows(call, reference.shape[1], reference.shape[0], "psi", fast=False)
    edges = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
    edges = np.ascontiguousarray(np.asarray(edges, dtype=np.float64).T)
    return _finish_edges(edges, reference, bins, halved, nan)


def _finish_edges(edges, reference, bins, halved, nan):
    """The overflow-safe redo and the all-NaN columns of `_quantile_edges`."""
    bad = ~np.isfinite(edges)
    if not halved and bad.any() and (bad & ~np.isnan(reference).all(axis=0)[:, None]).any():
        # np.quantile interpolates as a + (b - a) t, and b - a overflows for values near +-1.8e308:
        # halving is exact, so the quantiles of reference / 2, doubled, are the exact quantiles
        return _quantile_edges(reference * 0.5, bins, halved=True, nan=nan) * 2.0
    # all-NaN columns: put every (absent) value in one bin; their PSI is nan anyway
    edges[np.isnan(edges)] = 0.0
    return edges


# Reference columns longer than this are sorted in slices for their quantile edges (`_column_quantiles`:
# about 2.5x np.quantile's time, answering Ctrl-C); shorter ones take one np.quantile call (<= ~0.1 s).
_SORTED_ROWS = 2**22
# Values per block of the sliced sort (run_blocks' unit); the first slice of each pass holds `_SORT_FIRST`.
_SORT_BLOCK = 2**16
_SORT_FIRST = 16
_SIGN_BIT = np.uint64(1) << np.uint64(63)


def _column_quantiles(reference, j, q):
    """``np.nanquantile(reference[:, j], q)`` (linear) of a C-contiguous float64 (rows x cols) array, bit for
    bit, in slices.

    The column's values are sorted by an LSD radix sort on order-preserving 64-bit keys (NaN the largest),
    each pass over the column in slices of rows (`run_blocks`: Ctrl-C between them); then the order
    statistics are interpolated exactly as np.quantile does (`_get_indexes`, `_get_gamma`, `_lerp` of
    NumPy's linear method), so the edges are the same numbers.  Memory: two key arrays of the column's size.
    """
    n_all = reference.shape[0]
    n_blocks = -(-n_all // _SORT_BLOCK)
    keys = np.empty(n_all, dtype=np.uint64)
    digits = _k.SORT_DIGITS
    counts = np.zeros((digits, 1 << _k.SORT_DIGIT_BITS), dtype=np.int64)
    n_nan = [0]

    def to_keys(lo, hi):
        n_nan[0] += _k._radix_keys(reference, j, lo * _SORT_BLOCK, min(n_all, hi * _SORT_BLOCK), keys, counts)

    run_blocks(to_keys, n_blocks, progress=False, desc="psi", dispatchers=(_k._radix_keys,), first=_SORT_FIRST)
    other = np.empty(n_all, dtype=np.uint64)
    for d in range(digits):
        if counts[d].max() == n_all:  # one digit value for every key: this pass would change nothing
            continue
        starts = np.zeros(1 << _k.SORT_DIGIT_BITS, dtype=np.int64)
        np.cumsum(counts[d][:-1], out=starts[1:])
        shift = np.uint64(_k.SORT_DIGIT_BITS * d)
        src, dst = keys, other

        def scatter(lo, hi, src=src, dst=dst, shift=shift, starts=starts):
            _k._radix_scatter(src, dst, lo * _SORT_BLOCK, min(n_all, hi * _SORT_BLOCK), shift, starts)

        run_blocks(scatter, n_blocks, progress=False, desc="psi", dispatchers=(_k._radix_scatter,),
                   first=_SORT_FIRST)
        keys, other = other, keys
    del other
    n = n_all - n_nan[0]
    if n == 0:
        return np.full(q.shape, np.nan)
    # NumPy's linear method on the n sorted non-NaN values
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    above = virtual >= n - 1
    prev[above] = -1
    prev = prev.astype(np.intp)
    nxt = np.where(above, -1, prev + 1)
    gamma = np.asanyarray(virtual - prev, dtype=virtual.dtype)
    a = _key_values(keys[np.where(prev < 0, n + prev, prev)])
    b = _key_values(keys[np.where(nxt < 0, n + nxt, nxt)])
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow near +-1.8e308 is handled by the caller
        diff = b - a
        out = np.add(a, diff * gamma)
        np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def _key_values(keys):
    """The floats of order-preserving keys (the inverse of `_column_quantiles`' map)."""
    bits = np.where(keys & _SIGN_BIT, keys ^ _SIGN_BIT, ~keys)
    return bits.view(np.float64)


def psi(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    bins: int | ArrayLike = 10,
    binning: Literal["equal-width", "quantile"] = "equal-width",
    eps: float = 1e-7,
    axis: int = 0,
    nan_policy: Literal["raise", "omit"] = "raise",
) -> Any:  # float, ndarray, or a pandas Series for DataFrame input
    """Population stability index between a reference sample and a current sample.

    PSI = sum_b (c_b - r_b) * ln(c_b / r_b), with r_b and c_b the proportions of the reference and of the
    current sample in bin b, each plus `eps` (so empty bins do not give infinities).  Rule of thumb:
    < 0.1 stable, 0.1-0.2 moderate shift, > 0.2 significant shift.

    Parameters
    ----------
    reference, current : array_like or pandas.DataFrame
        1-D samples (one PSI), or 2-D arrays of observations along `axis` and features along the other axis
        (one PSI per feature, computed in one parallel pass).  Row counts may differ; feature counts must
        match.  A DataFrame gives a Series indexed by its columns.
    bins : int or 1-D array, default 10
        Number of bins (at most ``PSI_MAX_BINS`` = 10**6), or explicit sorted bin edges used for every
        feature.
    binning : {"equal-width", "quantile"}
        "equal-width": `bins` equal bins over the combined min..max of reference and current (per feature).
        "quantile": edges at the reference's quantiles (``np.quantile``, linear interpolation).  Ignored
        when explicit edges are given.
    eps : float, default 1e-7
        Added to both proportions of every bin.
    axis : int, default 0
        Axis of observations for 2-D input.
    nan_policy : {"raise", "omit"}
        "raise" refuses NaN; "omit" drops NaN per feature (proportions use the non-NaN count; a feature with
        no value on one side gets nan).

    Returns
    -------
    float, ndarray or pandas.Series

    Notes
    -----
    Bins are [e_i, e_{i+1}) with the last one closed, exactly as ``np.histogram``; values outside the edges
    (explicit or reference-quantile edges) go to the end bins.  Repeated edges (discrete reference data)
    give empty bins, which contribute 0 unless current values fall there: a value equal to a repeated edge
    goes to the last bin starting at it (as ``np.histogram``), a value below the lowest edge to the first
    bin, so new values below a reference point mass still count as drift.  A constant feature (combined
    min == max under equal-width) puts every value in one bin: PSI 0.  Empty input raises ValueError; inf is
    always refused.

    Values anywhere in the float64 range are binned correctly: where max - min (equal-width) or the
    quantile interpolation overflows (data spanning more than ~1.8e308), the edges are computed without
    overflow (weighted ends; quantiles of the halved data, doubled, which is exact) and values are placed
    by search in the edges.  Bin-count arrays that would not fit in memory are refused with a ValueError.

    Examples
    --------
    >>> import numpy as np, simengine
    >>> g = np.random.default_rng(0)
    >>> ref = g.normal(size=5_000)
    >>> round(simengine.psi(ref, g.normal(0.5, 1.0, size=5_000)), 3) > 0.1
    True
    >>> round(simengine.psi(ref, ref), 12)
    0.0
    """
    nan_policy = check_choice(nan_policy, "nan_policy", _NAN_POLICIES)
    binning = check_choice(binning, "binning", ("equal-width", "quantile"))
    eps = check_real(eps, "eps", low=0.0, low_inclusive=False)
    k, edges = _check_bins(bins)
    columns = None
    if _is_dataframe(reference) or _is_dataframe(current):
        if not (_is_dataframe(reference) and _is_dataframe(current)):
            raise TypeError("`reference` and `current` must both be DataFrames or both be arrays")
        if list(reference.columns) != list(current.columns):  # type: ignore[union-attr]  # DataFrames
            raise ValueError("`reference` and `current` must have the same columns in the same order")
        columns = reference.columns  # type: ignore[union-attr]  # DataFrames
        reference = _frame_values(reference, "reference")
        current = _frame_values(current, "current")
    # the values are checked by the pass that also reads each column's min, max and NaN count
    ref = _as_data(reference, "reference", nan_policy, check_values=False)
    cur = _as_data(current, "current", nan_policy, check_values=False)
    try:
        ref, cur, one_d = _psi_shapes(ref, cur, axis)
    except (TypeError, ValueError):
        _check_values(ref, "reference", nan_policy)  # value errors come first
        _check_values(cur, "current", nan_policy)
        raise
    _check_psi_memory(ref, cur, k, binning == "quantile" and edges is None)
    lo_r, hi_r, nan_r = _scan(ref)
    lo_c, hi_c, nan_c = _scan(cur)
    _check_scan("reference", nan_policy, lo_r, hi_r, nan_r)
    _check_scan("current", nan_policy, lo_c, hi_c, nan_c)
    has_nan = bool(nan_r.any() or nan_c.any())
    if edges is not None:
        uniform = _is_uniform(edges)
        edges = np.ascontiguousarray(np.broadcast_to(edges, (ref.shape[1], edges.size)))
    elif binning == "equal-width":
        uniform = True
        edges = _equal_width_edges(np.minimum(lo_r, lo_c), np.maximum(hi_r, hi_c), k)
    else:
        uniform = False
        edges = _quantile_edges(ref, k, nan=bool(nan_r.any()))
    rc, rv = _counts(ref, edges, uniform, nan_r if has_nan else None)
    cc, cv = _counts(cur, edges, uniform, nan_c if has_nan else None)
    out = _k._psi_columns(rc, rv, cc, cv, eps)
    if one_d:
        return float(out[0])
    if columns is not None:
        import pandas as pd

        return pd.Series(out, index=columns, name="psi")
    return out


def _frame_values(frame, name):
    try:
        return frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must contain real numbers; a column could not be read as float64") from None


def _check_psi_memory(ref, cur, k, quantile):
    """The count arrays of the PSI passes: per-chunk counts (chunks x features x bins) and the edges."""
    n = max(ref.shape[0], cur.shape[0])
    p = ref.shape[1]
    chunks = -(-n // _k.PSI_CHUNK)
    nbytes = 8 * p * (k + 1) * (chunks + 4 + 2 * quantile)
    _check_memory(nbytes, "`bins` x features", "the bin counts")


# Values in the first slice of a pass over big data: ~10 ms once warm at ~2 ns a value, 0.2 s at the ~40 ns
# a value of the slowest case (every value checked against the edges, as for constant data).  Smaller inputs
# are one call, with no signal handler and no slicing; longer passes run in slices of rows (~0.25 s each,
# sized by `run_blocks` from the first) and answer Ctrl-C between them.
_PASS_FIRST = 2**22
# Values (counted, or bins summed) in one piece of `psi_monitor`'s windows: a window longer than this is
# counted in pieces of it.
_WINDOW_PIECE = 2**20
# Windows of at most this much work (values plus bins) in all go through the serial `_psi_windows1`.
_SERIAL_WORK = 2**16


def _pass_rows(call, n_rows, n_cols, desc, fast=None):
    """``call(lo, hi)`` over consecutive ranges of rows of a (n_rows x n_cols) pass; the outputs in order.

    One direct call when the data is small; otherwise slices (`run_blocks`: ~0.25 s each once warm, Ctrl-C
    between them), whole PSI_CHUNK row chunks in the first one.  `fast` (default: rows of at least 64
    values, whose tile loops vectorise, ~2 ns a value) lets a first slice hold `_PASS_FIRST` values; other
    passes (few columns: 20-80 ns a value counted; NumPy's quantiles) start with 1/16 of that.
    """
    fast = n_cols >= 64 if fast is None else fast
    first = max(1, (_PASS_FIRST if fast else _PASS_FIRST // 16) // max(1, n_cols))
    if n_rows <= first:
        return [call(0, n_rows)]
    first = max(1, first // _k.PSI_CHUNK) * _k.PSI_CHUNK if first >= _k.PSI_CHUNK else first
    return run_blocks(call, n_rows, progress=False, desc=desc, first=first)


def _chunks(n_rows):
    return max(1, -(-n_rows // _k.PSI_CHUNK))


def _scan1(arr):
    """`_k._colwise_scan` of one slice, reduced over its row chunks: (min, max, NaN count) per column."""
    c, p = _chunks(arr.shape[0]), arr.shape[1]
    mins, maxs, nans = np.full((c, p), np.inf), np.full((c, p), -np.inf), np.zeros((c, p), dtype=np.int64)
    (_k._colwise_scan if c > 1 else _k._colwise_scan1)(arr, mins, maxs, nans)  # one chunk: no threads to compile
    return mins.min(axis=0), maxs.max(axis=0), nans.sum(axis=0)


def _scan(arr):
    """Per-column min, max (NaN ignored) and NaN count of (rows x cols) `arr`, in slices of rows: min and max
    of slices are exact and counts are integers, so the slicing never changes them."""
    parts = _pass_rows(lambda lo, hi: _scan1(arr[lo:hi]), arr.shape[0], arr.shape[1], "psi")
    if len(parts) == 1:
        return parts[0]
    return (np.minimum.reduce([p[0] for p in parts]), np.maximum.reduce([p[1] for p in parts]),
            np.sum([p[2] for p in parts], axis=0))


def _count_tables(edges, size, uniform):
    """`_k._count_tables` in NumPy (the same elementwise float operations, so the same numbers; one kernel
    less to compile for a first call)."""
    k = edges.shape[1] - 1
    e0, ek = edges[:, 0], edges[:, k]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        width = ek - e0
        if not (width < np.inf).all():
            # the span overflows float64 (edges near +-1.8e308): no bin guess from it, search the edges
            uniform = False
        norm = np.where(width > 0, k / width, 0.0)
        tol = 64.0 * 2.0**-52 * (k + (np.abs(e0) + np.abs(ek)) * norm)
    tol[~(tol < 0.25) | ~((0.0 < width) & (width < np.inf))] = 1.0
    j = np.arange(size) % edges.shape[0]
    return e0[j], norm[j], tol[j], j * np.int64(k), uniform


def _equal_width_edges(lo, hi, bins):
    """`_k._equal_width_edges` in NumPy (the same float operations, so the same numbers; one kernel less
    to compile for a first call): edges (cols x bins+1) over per-column [lo, hi], the last exactly hi."""
    a = np.array(lo, dtype=np.float64)
    z = np.array(hi, dtype=np.float64)
    flat = ~(z > a)  # constant column, or all NaN (lo = inf): every value in one bin
    a[flat & ~(a < np.inf)] = 0.0
    z[flat] = a[flat]
    with np.errstate(over="ignore", invalid="ignore"):
        step = (z - a) / bins
        b = np.arange(bins + 1)
        edges = a[:, None] + b * step[:, None]
        wide = ~(step < np.inf)
        if wide.any():  # z - a overflows: weigh the two ends, as the kernel
            edges[wide] = a[wide, None] * ((bins - b) / bins) + z[wide, None] * (b / bins)
    edges[:, bins] = z
    return edges


def _counts1(arr, edges, uniform):
    """Bin counts (cols x bins) of one slice, NaN counted in bin 0."""
    part = np.zeros((_chunks(arr.shape[0]), arr.shape[1], edges.shape[1] - 1), dtype=np.int64)
    p = arr.shape[1]
    lo_t, norm_t, tol_t, base_t, uniform = _count_tables(edges, max(1, _k.PSI_TILE // p) * p, uniform)
    one = part.shape[0] == 1  # one row chunk: the serial kernels (no parallel region to compile), same counts
    if uniform:
        (_k._counts_uniform1 if one else _k._counts_uniform)(arr, edges, part, lo_t, norm_t, tol_t, base_t)
    else:
        (_k._counts_search1 if one else _k._counts_search)(arr, edges, part)
    return part.sum(axis=0)


def _counts(arr, edges, uniform, nan=None):
    """Bin counts per column (cols x bins) and non-NaN count per column, in slices of rows (integer sums).

    `nan`: NaN count per column (from `_scan`), or None when there is none; NaN lands in bin 0 of the
    counting pass and is taken out of it here.
    """
    parts = _pass_rows(lambda lo, hi: _counts1(arr[lo:hi], edges, uniform), arr.shape[0], arr.shape[1], "psi")
    counts = parts[0] if len(parts) == 1 else np.sum(parts, axis=0)
    if nan is not None:
        counts[:, 0] -= nan
    return counts, counts.sum(axis=1)


def _nonfinite1(flat):
    if flat.size <= 65536:  # one chunk of the parallel probe: its serial loop (no parallel region to compile)
        return int(_k._count_nonfinite(flat))
    acc = np.empty(max(1, -(-flat.size // 65536)), dtype=np.int64)
    _k._nonfinite_probe(flat, acc)
    return int(acc.sum())


def _nonfinite(flat):
    """Number of NaN and inf values in a 1-D array, in slices."""
    return sum(_pass_rows(lambda lo, hi: _nonfinite1(flat[lo:hi]), flat.size, 1, "psi", fast=True))


def _psi_shapes(ref, cur, axis):
    """(ref, cur, one_d) as (rows x features) C-contiguous arrays; ValueError for mismatched shapes or axis."""
    if ref.ndim != cur.ndim:
        raise ValueError(
            f"`reference` and `current` must have the same number of dimensions; got {ref.ndim} and {cur.ndim}"
        )
    one_d = ref.ndim == 1
    if one_d:
        return ref[:, None], cur[:, None], True
    axis = check_int(axis, "axis")
    if axis not in (0, 1, -1, -2):
        raise ValueError(f"`axis` must be 0 or 1 for 2-D input; got {axis}")
    if axis % 2 == 1:
        ref = contiguous(ref.T)  # transposes copied in pieces (Ctrl-C answered)
        cur = contiguous(cur.T)
    if ref.shape[1] != cur.shape[1]:
        raise ValueError(
            f"`reference` and `current` must have the same number of features; got {ref.shape[1]} and {cur.shape[1]}"
        )
    return ref, cur, False


def _is_dataframe(obj):
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns")


# ----------------------------------------------------------------------------------------------------------
# Sliding-window PSI monitor
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PsiMonitorResult(Result):
    """Windowed PSI monitoring.

    Attributes
    ----------
    psi : ndarray
        PSI of each window against the reference.
    drift : ndarray of bool
        ``psi > threshold``.
    streak : ndarray of int
        Number of consecutive drifting windows ending at each window.
    alert : ndarray of bool
        ``streak >= consecutive``: the monitor is in alert at this window.
    alert_windows : ndarray of int
        Windows where an alert is raised (``streak == consecutive``).
    edges : ndarray
        Bin edges (from the reference).
    threshold, consecutive
        The settings used.
    """

    psi: np.ndarray = field(repr=False)
    drift: np.ndarray = field(repr=False)
    streak: np.ndarray = field(repr=False)
    alert: np.ndarray = field(repr=False)
    alert_windows: np.ndarray
    edges: np.ndarray = field(repr=False)
    threshold: float
    consecutive: int

    def to_frame(self) -> pd.DataFrame:
        """One row per window: psi, drift, streak, alert."""
        import pandas as pd

        return pd.DataFrame({"psi": self.psi, "drift": self.drift, "streak": self.streak, "alert": self.alert})


def _monitor_setup(reference, threshold, consecutive, bins, binning, eps):
    threshold = check_real(threshold, "threshold", low=0.0, low_inclusive=False)
    consecutive = _check_size(consecutive, "consecutive", 1, MAX_COUNT)
    binning = check_choice(binning, "binning", ("equal-width", "quantile"))
    eps = check_real(eps, "eps", low=0.0, low_inclusive=False)
    k, edges = _check_bins(bins)
    ref = _as_data(reference, "reference", "raise")
    if ref.ndim != 1:
        raise ValueError(f"`reference` must be 1-D; got {ref.ndim}-D with shape {ref.shape}")
    if edges is None:
        if binning == "quantile":
            edges = _quantile_edges(ref[:, None], k, nan=False)[0]
        else:
            lo, hi, _ = _scan(ref[:, None])
            edges = _equal_width_edges1(float(lo[0]), float(hi[0]), k)
    edges = np.ascontiguousarray(edges, dtype=np.float64)
    counts, n_valid = _counts(ref[:, None], edges[None, :], _is_uniform(edges))
    ref_props = counts[0] / n_valid[0] + eps
    return threshold, consecutive, edges, ref_props, eps


def _equal_width_edges1(lo, hi, k):
    """`k` equal-width edges over [lo, hi], the last exactly hi; the same numbers as the kernel's
    `_equal_width_edges`, including its fallback when hi - lo overflows float64."""
    with np.errstate(over="ignore"):
        step = (hi - lo) / k
    b = np.arange(k + 1)
    if step < np.inf:
        edges = lo + b * step
    else:
        edges = lo * ((k - b) / k) + hi * (b / k)
    edges[-1] = hi
    return edges


def _windows_flat(windows):
    """(values, offsets) from a 2-D array (window x rows) or an iterable of 1-D arrays."""
    if isinstance(windows, np.ndarray) and windows.ndim == 2:
        w = _float_array(windows, "windows", ndim=2, finite=False)
        offsets = np.arange(w.shape[0] + 1, dtype=np.int64) * w.shape[1]
        flat = w.reshape(-1)
    else:
        if (
            isinstance(windows, (str, bytes))
            or not hasattr(windows, "__iter__")
            or (isinstance(windows, np.ndarray) and windows.ndim == 0)
        ):
            raise TypeError(
                f"`windows` must be a 2-D array (window x rows) or an iterable of 1-D arrays; got {_describe(windows)}"
            )
        parts = [_float_array(x, f"windows[{i}]", ndim=1, finite=False) for i, x in enumerate(windows)]
        if not parts:
            raise ValueError("`windows` must contain at least one window")
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([p.size for p in parts])
        flat = parts[0] if len(parts) == 1 else concatenate(parts)  # one window: no copy
    flat = contiguous(flat)
    if _nonfinite(flat):
        raise ValueError("`windows` must be finite; it contains NaN or inf")
    return flat, offsets


def psi_monitor(
    reference: ArrayLike,
    windows: ArrayLike | Iterable[ArrayLike],
    *,
    threshold: float = 0.2,
    consecutive: int = 3,
    bins: int | ArrayLike = 10,
    binning: Literal["quantile", "equal-width"] = "quantile",
    eps: float = 1e-7,
) -> PsiMonitorResult:
    """PSI of a sequence of windows against a fixed reference, with drift flags, streaks and alerts.

    Bin edges come from the reference only (its quantiles, or equal width over its min..max), so every
    window is compared on the same bins; window values outside the edges go to the end bins.  A window
    drifts when its PSI exceeds `threshold`; an alert is raised after `consecutive` drifting windows in a row
    and lasts while the streak continues.

    Parameters
    ----------
    reference : 1-D array_like
    windows : 2-D array (window x rows) or iterable of 1-D arrays (lengths may differ)
    threshold : float, default 0.2
    consecutive : int in [1, 10**9], default 3
    bins : int or 1-D array of edges, default 10
    binning : {"quantile", "equal-width"}
    eps : float, default 1e-7

    Returns
    -------
    PsiMonitorResult

    Examples
    --------
    >>> import numpy as np, simengine
    >>> g = np.random.default_rng(1)
    >>> ref = g.normal(size=2_000)
    >>> wins = [g.normal(0.0 if w < 5 else 1.0, 1.0, size=500) for w in range(10)]
    >>> res = simengine.psi_monitor(ref, wins, consecutive=2)
    >>> res.alert_windows.tolist()
    [6]
    """
    threshold, consecutive, edges, ref_props, eps = _monitor_setup(
        reference, threshold, consecutive, bins, binning, eps
    )
    flat, offsets = _windows_flat(windows)
    values = _window_psi(ref_props, edges, _is_uniform(edges), flat, offsets, eps)
    return _monitor_result(values, edges, threshold, consecutive)


def _window_psi(ref_props, edges, uniform, flat, offsets, eps):
    """`_k._psi_windows` over all windows, in slices of about equal work when that is long.

    The work of a window is its values plus its bins.  Runs of windows of at most `_WINDOW_PIECE` work are
    tasks of about that much work, each computed by `_psi_windows`; a longer window is counted in pieces of
    `_WINDOW_PIECE` values (integer counts, summed) and its PSI computed from the sum with `_psi_props1`, the
    very function `_psi_windows` uses: the same bits either way.
    """
    sizes = np.diff(offsets)
    k = edges.size - 1
    work = sizes + k
    total = int(work.sum())
    if total <= _PASS_FIRST // 16:  # ~5-20 ns a value: at most ~0.1-0.5 s in one call
        # little work: the serial kernel (no parallel region to compile for a small call), the same numbers
        kernel = _k._psi_windows1 if total <= _SERIAL_WORK else _k._psi_windows
        return kernel(ref_props, edges, uniform, flat, offsets, eps)
    piece = _WINDOW_PIECE
    big = (work > piece) & (sizes > 0)
    # task list: (first window, end window, first value, end value); a run of small windows shares one task
    # while its cumulative work stays within one multiple of `piece`
    start = np.cumsum(work) - work
    new = np.ones(sizes.size, dtype=bool)
    new[1:] = big[1:] | big[:-1] | (start[1:] // piece != start[:-1] // piece)
    tasks: list[tuple[int, int, int, int]] = []
    heads = np.flatnonzero(new).tolist() + [sizes.size]
    for w, end in zip(heads[:-1], heads[1:]):
        if big[w]:
            a, b = int(offsets[w]), int(offsets[w + 1])
            tasks.extend((w, w + 1, v, min(b, v + piece)) for v in range(a, b, piece))
        else:
            tasks.append((w, end, -1, -1))
    out = np.empty(sizes.size)
    cnt = np.zeros(k, dtype=np.int64)  # counts of the big window being counted, carried between slices
    e2 = edges[None, :]

    def call(lo, hi):
        for w, end, a, b in tasks[lo:hi]:
            if a < 0:
                out[w:end] = _k._psi_windows(ref_props, edges, uniform, flat, offsets[w : end + 1], eps)
                continue
            cnt[:] += _counts1(flat[a:b][:, None], e2, uniform)[0]
            if b == offsets[w + 1]:
                out[w] = _k._psi_props1(cnt, int(sizes[w]), ref_props, eps)
                cnt[:] = 0

    first = max(1, _PASS_FIRST // 16 // piece)
    run_blocks(call, len(tasks), progress=False, desc="psi_monitor", first=first)
    return out


def _monitor_result(values, edges, threshold, consecutive):
    values = np.asarray(values, dtype=np.float64)
    drift = values > threshold
    streak, alert = _k._streaks(drift, consecutive)
    return PsiMonitorResult(
        psi=values,
        drift=drift,
        streak=streak,
        alert=alert,
        alert_windows=np.flatnonzero(streak == consecutive),
        edges=edges,
        threshold=threshold,
        consecutive=consecutive,
    )


class PSIMonitor:
    """Streaming PSI monitor: `update(window)` one window at a time; same numbers as `psi_monitor`.

    Attributes after each update: `psi` (last window's PSI), `drift_detected`, `streak`, `alert`.
    `result()` returns the `PsiMonitorResult` for all windows seen so far.

    Examples
    --------
    >>> import numpy as np, simengine
    >>> g = np.random.default_rng(1)
    >>> mon = simengine.PSIMonitor(g.normal(size=2_000), consecutive=2)
    >>> for w in range(6):
    ...     _ = mon.update(g.normal(0.0 if w < 3 else 1.0, 1.0, size=500))
    >>> mon.alert, mon.streak
    (True, 3)
    """

    def __init__(
        self,
        reference: ArrayLike,
        *,
        threshold: float = 0.2,
        consecutive: int = 3,
        bins: int | ArrayLike = 10,
        binning: Literal["quantile", "equal-width"] = "quantile",
        eps: float = 1e-7,
    ) -> None:
        self.threshold, self.consecutive, self.edges, self._ref_props, self.eps = _monitor_setup(
            reference, threshold, consecutive, bins, binning, eps
        )
        self._uniform = _is_uniform(self.edges)
        self._history: list[float] = []
        self.psi = float("nan")
        self.streak = 0
        self.drift_detected = False
        self.alert = False

    def update(self, window: ArrayLike) -> PSIMonitor:
        """Add one window (1-D array of finite values); returns self."""
        w = _float_array(window, "window", ndim=_ANY_NDIM, finite=False)
        # the conversion makes 0-d input 1-D: read the dimensions of what was passed
        if isinstance(window, np.ndarray):
            ndim = window.ndim
        else:
            ndim = 0 if isinstance(window, numbers.Number) else w.ndim
        if ndim != 1:
            raise ValueError(
                "`window` must be 1-D (one window, as each of `windows` in psi_monitor: `windows[0]` must be "
                f"1-D); got {ndim}-D with shape {np.shape(window) if ndim == 0 else w.shape}"
            )
        if not np.isfinite(w).all():
            raise ValueError("`window` must be finite; it contains NaN or inf")
        offsets = np.array([0, w.size], dtype=np.int64)
        value = float(_k._psi_windows1(self._ref_props, self.edges, self._uniform, w, offsets, self.eps)[0])
        self._history.append(value)
        self.psi = value
        self.drift_detected = value > self.threshold
        self.streak = self.streak + 1 if self.drift_detected else 0
        self.alert = self.streak >= self.consecutive
        return self

    def result(self) -> PsiMonitorResult:
        """`PsiMonitorResult` over every window seen so far."""
        return _monitor_result(self._history, self.edges, self.threshold, self.consecutive)


# ----------------------------------------------------------------------------------------------------------
# DDM
# ----------------------------------------------------------------------------------------------------------


def _as_binary(errors, name="errors"):
    if isinstance(errors, (str, bytes)):
        raise TypeError(f"`{name}` must be array-like of 0/1 values; got a string")
    try:
        arr = np.asarray(errors)
    except (ValueError, TypeError):
        raise TypeError(f"`{name}` must be array-like of 0/1 values; got a ragged or mixed sequence") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must contain 0/1 values; got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"`{name}` must be 1-D or 2-D; got {arr.ndim}-D with shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {arr.shape}")
    if arr.dtype.itemsize == 1:
        # bool, int8, uint8: the 0/1 bytes are already what the kernel reads, so view them instead of
        # copying 10^8 of them; -1 in int8 reads as 255 and is caught by the same check
        raw = arr.view(np.uint8)
        if arr.dtype.kind == "b":
            # a bool byte other than 0/1 (only from views of other data) still means True
            return np.ascontiguousarray(raw) if raw.max() <= 1 else (raw != 0).view(np.uint8)
        if raw.max() > 1:
            raise ValueError(f"`{name}` must be binary (0 = correct, 1 = error); got other values")
        return np.ascontiguousarray(raw)
    if arr.dtype.kind == "u":
        bad = arr.max() > 1
    else:
        bad = not ((arr == 0) | (arr == 1)).all()
    if bad:
        raise ValueError(f"`{name}` must be binary (0 = correct, 1 = error); got other values")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _check_ddm_params(warm_start, warning_threshold, drift_threshold, reset):
    warm_start = _check_size(warm_start, "warm_start", 0, MAX_COUNT)
    warning_threshold = check_real(warning_threshold, "warning_threshold", low=0.0)
    drift_threshold = check_real(drift_threshold, "drift_threshold", low=0.0)
    if drift_threshold < warning_threshold:
        raise ValueError(
            f"`drift_threshold` must be >= `warning_threshold`; got {drift_threshold:g} < {warning_threshold:g}"
        )
    reset = check_bool(reset, "reset")
    return warm_start, warning_threshold, drift_threshold, reset


@dataclass(frozen=True, slots=True)
class DdmResult(Result):
    """DDM over one or many streams.

    Attributes
    ----------
    status : ndarray of int8
        Per step: 0 normal, 1 warning, 2 drift; shape of the input.
    first_warning, first_drift : int or ndarray of int
        First warning / drift index per stream, -1 if none (int for 1-D input).
    drift_indices : ndarray or list of ndarray
        All drift indices (one array per stream for 2-D input).
    n_drifts : int or ndarray of int
    """

    status: np.ndarray = field(repr=False)
    first_warning: IntOrArray
    first_drift: IntOrArray
    drift_indices: npt.NDArray[np.int64] | list[npt.NDArray[np.int64]] = field(repr=False)
    n_drifts: IntOrArray

    def to_frame(self) -> pd.DataFrame:
        """One row per stream: first_warning, first_drift, n_drifts (the per-step `status` is left to
        `to_dict`)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "first_warning": np.atleast_1d(self.first_warning),
                "first_drift": np.atleast_1d(self.first_drift),
                "n_drifts": np.atleast_1d(self.n_drifts),
            }
        )


def ddm(
    errors: ArrayLike,
    *,
    warm_start: int = 30,
    warning_threshold: float = 2.0,
    drift_threshold: float = 3.0,
    reset: bool = True,
) -> DdmResult:
    """Drift Detection Method (Gama et al. 2004) over one stream or many streams in parallel.

    Parameters and defaults are those of ``river.drift.binary.DDM``, and on every stream the warnings and
    drifts are river's, step for step (tested for equality): ``ddm(x, warm_start=w)`` flags the same steps
    as feeding `x` to ``river.drift.binary.DDM(warm_start=w)``.  No difference in results; river accepts
    more parameter values (see Notes).

    With p_i the running error rate and s_i = sqrt(p_i (1 - p_i) / i), once more than `warm_start` samples
    have been seen the detector tracks the minimum of p_i + s_i (p_min, s_min) and signals a warning when
    p_i + s_i > p_min + warning_threshold * s_min and a drift when p_i + s_i > p_min + drift_threshold *
    s_min (a drift is not also a warning).  With ``reset=True`` (river's behaviour) the statistics restart
    at the step after a drift.

    Parameters
    ----------
    errors : array_like of 0/1 (bool or numbers)
        1-D (one stream) or 2-D (streams x steps, one stream per row); 1 = error.
    warm_start : int in [0, 10**9], default 30
        No test (and no tracking of the minimum) until more than this many samples since the (re)start.
    warning_threshold, drift_threshold : float >= 0, defaults 2.0 and 3.0
        Multiples of s_min (``drift_threshold >= warning_threshold``).
    reset : bool, default True
        Restart the statistics after a drift, as river does.

    Returns
    -------
    DdmResult

    Notes
    -----
    Where it differs from ``river.drift.binary.DDM`` (river 0.26): only in what it accepts and adds.
    `warm_start` must be an integer >= 0 and the thresholds finite numbers >= 0 with
    ``drift_threshold >= warning_threshold``, and the data must be 0/1 (river accepts any values, and any
    number as `x`); `reset=False` (keep the statistics after a drift) is an extension, river always resets.

    A long call runs in slices (of streams, or of steps with each detector's state carried from one segment
    to the next, so one long stream is cut too): Ctrl-C stops it within about a quarter of a second with
    KeyboardInterrupt.  Results do not depend on the slicing.

    Examples
    --------
    >>> import numpy as np, simengine
    >>> g = np.random.default_rng(0)
    >>> x = np.r_[g.random(1000) < 0.1, g.random(1000) < 0.4]
    >>> res = simengine.ddm(x)
    >>> 1000 <= res.first_drift < 1200
    True
    """
    x = _as_binary(errors)
    ws, wt, dt, reset = _check_ddm_params(warm_start, warning_threshold, drift_threshold, reset)
    one_d = x.ndim == 1
    x2 = x[None, :] if one_d else x
    _check_memory(2 * x2.size, "`errors`", "the status array")
    status = np.empty(x2.shape, dtype=np.int8)  # NumPy's allocation: huge pages for big outputs
    found = np.empty((x2.shape[0], 3), dtype=np.int64)  # first warning, first drift, drifts so far

    def piece(state, r0, r1, t0, t1):
        before = found[r0:r1, 2].copy()
        scan = _k._ddm_scan_rows if r1 - r0 <= _k.DDM_ROWS_MAX else _k._ddm_scan  # one stream by one / SIMD lanes
        scan(x2, status, state, found, r0, r1, t0, t1, wt, dt, ws, reset)
        counts = found[r0:r1, 2] - (before if t0 else 0)
        offsets = np.zeros(r1 - r0 + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        flat = np.empty(offsets[-1], dtype=np.int64)
        _k._collect_indices(status, 2, counts, np.ascontiguousarray(found[r0:r1, 1]), r0, t0, t1, offsets, flat)
        return r0, flat, offsets

    # ~1 ns an update as SIMD over many streams, ~5-10 ns one stream alone
    budget = 20_000_000 if x2.shape[0] > _k.DDM_ROWS_MAX else 4_000_000
    pieces = _run_scan(piece, x2.shape, budget, _k.DDM_STATE_SIZE, "ddm")
    idx = _indices(pieces, x2.shape[0])
    fw, fd, n_drifts = found[:, 0], found[:, 1], found[:, 2]
    if one_d:
        return DdmResult(status[0], int(fw[0]), int(fd[0]), idx[0], int(n_drifts[0]))
    return DdmResult(status, fw.copy(), fd.copy(), idx, n_drifts.copy())


class DDM:
    """Streaming DDM, a drop-in for ``river.drift.binary.DDM``: ``update(x)`` with x in {0, 1}.

    River's constructor calls work unchanged (same parameter names, order and defaults:
    ``DDM(warm_start=30, warning_threshold=2.0, drift_threshold=3.0)``) and give river's warnings and
    drifts, step for step; it is step for step equal to `ddm` (same kernel step).  No difference in
    results; see `ddm` for the parameter values river accepts and this refuses, and the `reset` extension.

    Attributes `warning_detected`, `drift_detected` (river's) and `status` (0/1/2) describe the last
    update; `n` is the number of samples since the last reset and `error_rate` their mean.

    Examples
    --------
    >>> import numpy as np, simengine
    >>> g = np.random.default_rng(0)
    >>> x = np.r_[g.random(1000) < 0.1, g.random(1000) < 0.4]
    >>> det = simengine.DDM()
    >>> hits = [i for i, e in enumerate(x) if det.update(e).drift_detected]
    >>> hits == simengine.ddm(x).drift_indices.tolist()
    True
    """

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0, *, reset: bool = True
    ) -> None:
        self.warm_start, self.warning_threshold, self.drift_threshold, self.reset = _check_ddm_params(
            warm_start, warning_threshold, drift_threshold, reset
        )
        self._state = np.empty(_k.DDM_STATE_SIZE)
        _k._ddm_init(self._state)
        self.status = 0

    def update(self, x: float | bool) -> DDM:
        """Add one error indicator (0 or 1, or bool); returns self.

        Raises TypeError for anything that is not a real number or bool (a string raises an error that is
        both a TypeError and a ValueError), ValueError for any other value (NaN included).
        """
        t = type(x)
        if t is not int and t is not float and t is not bool:
            x = _ddm_x(x)
        if x != 0 and x != 1:
            raise ValueError(f"`x` must be 0 or 1; got {_describe(x)}")
        self.status = int(
            _k._ddm_step(
                self._state, float(x), self.warning_threshold, self.drift_threshold, self.warm_start, self.reset
            )
        )
        return self

    @property
    def warning_detected(self) -> bool:
        return self.status == 1

    @property
    def drift_detected(self) -> bool:
        return self.status == 2

    @property
    def n(self) -> int:
        """Samples since the last reset."""
        return int(self._state[0])

    @property
    def error_rate(self) -> float:
        return float(self._state[1])


def _ddm_x(x):
    """`x` of DDM.update when it is not a plain int, float or bool: NumPy scalars pass, other types fail."""
    if isinstance(x, (bool, np.bool_)):
        return int(x)
    if isinstance(x, (str, bytes)):
        raise _StringValueError(f"`x` must be 0 or 1 (an int, float or bool); got a string {_describe(x)}")
    if not isinstance(x, numbers.Real):
        raise TypeError(f"`x` must be 0 or 1 (an int, float or bool); got {_describe(x)}")
    return x


# ----------------------------------------------------------------------------------------------------------
# ADWIN
# ----------------------------------------------------------------------------------------------------------


def _check_adwin_params(delta, clock, max_buckets, min_window_length, grace_period):
    delta = check_probability(delta, "delta")
    clock = _check_size(clock, "clock", 1, MAX_COUNT)
    max_buckets = _check_size(
        max_buckets, "max_buckets", 2, ADWIN_MAX_BUCKETS, " (more buckets only slow the cut test; river uses 5)"
    )
    min_window_length = _check_size(min_window_length, "min_window_length", 0, MAX_COUNT)
    grace_period = _check_size(grace_period, "grace_period", 0, MAX_COUNT)
    return delta, clock, max_buckets, min_window_length, grace_period


@dataclass(frozen=True, slots=True)
class AdwinResult(Result):
    """ADWIN over one or many streams.

    Attributes
    ----------
    detected : ndarray of bool
        Per step: True if the window was cut (change detected); shape of the input.
    first_drift : int or ndarray of int
        First detection per stream, -1 if none.
    drift_indices : ndarray or list of ndarray
    n_drifts : int or ndarray of int
    width : int or ndarray of int
        Final window length per stream.
    estimation : float or ndarray
        Final window mean per stream.
    """

    detected: np.ndarray = field(repr=False)
    first_drift: IntOrArray
    drift_indices: npt.NDArray[np.int64] | list[npt.NDArray[np.int64]] = field(repr=False)
    n_drifts: IntOrArray
    width: IntOrArray
    estimation: FloatOrArray

    def to_frame(self) -> pd.DataFrame:
        """One row per stream: first_drift, n_drifts, width, estimation (the per-step `detected` is left
        to `to_dict`)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "first_drift": np.atleast_1d(self.first_drift),
                "n_drifts": np.atleast_1d(self.n_drifts),
                "width": np.atleast_1d(self.width),
                "estimation": np.atleast_1d(self.estimation),
            }
        )


def adwin(
    values: ArrayLike,
    *,
    delta: float = 0.002,
    clock: int = 32,
    max_buckets: int = 5,
    min_window_length: int = 5,
    grace_period: int = 10,
) -> AdwinResult:
    """ADWIN adaptive windowing (Bifet & Gavalda 2007) exactly as ``river.drift.ADWIN``, over many streams.

    Parameters and defaults are river's, and on every stream the detections are river's, step for step
    (tested for equality): ``adwin(x, clock=c)`` flags the same steps as feeding `x` to
    ``river.drift.ADWIN(clock=c)``.  No difference in detections; river accepts more parameter values, and
    two details of river's bound depart from the paper (see Notes).

    The window is stored as an exponential histogram: at most `max_buckets` buckets of each size 1, 2, 4,
    ...; a new value is a bucket of size 1 and the two oldest buckets of a level that reaches
    ``max_buckets + 1`` merge into one of the next size.  Every `clock`-th update, once the window holds
    more than `grace_period` values, each split of the window at a bucket boundary into an older part W0
    and a newer part W1 (n0 and n1 values, both at least `min_window_length`; the newest bucket always in
    W1) is tested; while some split has |mean0 - mean1| > eps_cut the oldest bucket is dropped, and the
    update is reported as a detection.  After a detection the next update starts a fresh detector (empty
    window, clock restarted), as river does.  The bound is river's:

        eps_cut = sqrt(2 m v ln(2 ln(n) / delta)) + (2/3) m ln(2 ln(n) / delta),
        m = 1 / (n0 - min_window_length + 1) + 1 / (n1 - min_window_length + 1),

    with n the window length and v its variance (sum of squared deviations / n).

    Parameters
    ----------
    values : array_like
        1-D (one stream) or 2-D (streams x steps); finite real values (usually in [0, 1]) of magnitude
        at most ``ADWIN_MAX_ABS`` = 1e100.  Larger values are refused (ValueError), not rescaled: the
        window's sums of squares could overflow float64 and the detector would silently never fire, and
        the cut bound is not scale-invariant.
    delta : float in (0, 1), default 0.002
    clock : int in [1, 10**9], default 32
        Test for cuts every `clock` updates since the (re)start (river's default; 1 tests at every update).
    max_buckets : int in [2, 1000], default 5
        Buckets per level.  The state is ~96 x max_buckets doubles per stream and every cut test visits
        every bucket, so more buckets only make ADWIN slower; ``ADWIN_MAX_BUCKETS`` = 1000 is the
        documented maximum.
    min_window_length : int in [0, 10**9], default 5
    grace_period : int in [0, 10**9], default 10

    Returns
    -------
    AdwinResult

    Notes
    -----
    Differences from ``river.drift.ADWIN`` (river 0.26.1, whose core is the Rust port of its former
    ``adwin_c.pyx``): none in detections, width or estimation.  Parameter values river accepts and this
    refuses: `delta` outside (0, 1), `max_buckets` of 1 (river can then read an empty level) or above
    1000, non-integer or negative counts, and values beyond 1e100 in magnitude.  The histogram has 48
    levels (buckets of up to 2**47 values); should a window ever fill the top level (about
    max_buckets x 2**48 values without a cut) its oldest bucket is dropped, where river would add a level.

    Differences of river's ADWIN (and so of this one) from the paper's ADWIN2: the bound uses
    1/(n0 - min_window_length + 1) + 1/(n1 - min_window_length + 1) where the paper has 1/n0 + 1/n1, and
    after a detection the whole window is dropped (the paper keeps W1); the first makes cuts come
    earlier, the second restarts the clock and the grace period after each detection.

    A long call runs in slices (of streams, or of steps with each detector's state carried from one segment
    to the next, so one long stream is cut too): Ctrl-C stops it within about a quarter of a second with
    KeyboardInterrupt.  Results do not depend on the slicing.

    Examples
    --------
    >>> import numpy as np, simengine
    >>> g = np.random.default_rng(0)
    >>> x = np.r_[g.random(1000) < 0.2, g.random(1000) < 0.6].astype(float)
    >>> res = simengine.adwin(x)
    >>> 1000 <= res.first_drift < 1100
    True
    """
    x = _float_array(values, "values", ndim=(1, 2), finite=False)
    # min and max in two SIMD passes (NaN propagates into both) check finiteness and magnitude at once
    lo, hi = x.min(), x.max()
    if not (-ADWIN_MAX_ABS <= lo and hi <= ADWIN_MAX_ABS):
        if np.isnan(lo) or np.isnan(hi) or np.isinf(lo) or np.isinf(hi):
            raise ValueError(f"`values` must be finite; it contains {'NaN' if np.isnan(lo) else 'inf'}")
        raise ValueError(
            "`values` must be in [-1e100, 1e100] (beyond it the window's sums of squares "
            f"can overflow float64); got values up to {max(-lo, hi):g} in magnitude"
        )
    d, ck, mb, ml, gp = _check_adwin_params(delta, clock, max_buckets, min_window_length, grace_period)
    one_d = x.ndim == 1
    x2 = x[None, :] if one_d else x
    _check_memory(x2.size, "`values`", "the detection flags")

    ns, nt = x2.shape
    detected = np.zeros(x2.shape, dtype=np.bool_)
    summary = np.empty((ns, 3), dtype=np.int64)  # first detection, width, detections so far
    est = np.zeros(ns)

    def piece(state, r0, r1, t0, t1):
        # little work (~2 ms): the serial kernel, with no parallel region to compile for a small call
        scan = _k._adwin_scan1 if (r1 - r0) * (t1 - t0) <= _SERIAL_WORK else _k._adwin_scan
        scan(x2, detected, state, summary, r0, r1, t0, t1, d, mb, ml, gp, ck)
        if t1 == nt:  # the window mean, as river's estimation (0 for an empty window)
            np.divide(state[:, 1], state[:, 0], out=est[r0:r1], where=state[:, 0] > 0)
        rows, cols = np.nonzero(detected[r0:r1, t0:t1])
        offsets = np.zeros(r1 - r0 + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=r1 - r0), out=offsets[1:])
        return r0, cols.astype(np.int64) + t0, offsets

    # ~30 ns an update with river's defaults; the cut test visits every bucket, every `clock` updates
    budget = int(2e6 / (max(1, mb / 5) * max(1, 32 / ck)))
    pieces = _run_scan(piece, x2.shape, budget, int(_k._adwin_state_size(mb)), "adwin")
    idx = _indices(pieces, ns)
    first, width, n_drifts = summary[:, 0].copy(), summary[:, 1].copy(), summary[:, 2].copy()
    if one_d:
        return AdwinResult(detected[0], int(first[0]), idx[0], int(n_drifts[0]), int(width[0]), float(est[0]))
    return AdwinResult(detected, first, idx, n_drifts, width, est)


def _adwin_x(x):
    """`x` of ADWIN.update as a float when it is not one: NumPy scalars and bools pass, other types fail."""
    if isinstance(x, (str, bytes)) or not isinstance(x, (numbers.Real, np.bool_)):
        raise TypeError(f"`x` must be a real number (one value per update); got {_describe(x)}")
    try:
        return float(x)
    except OverflowError:  # an int or Fraction beyond float64
        raise ValueError(f"`x` must be a finite real number in [-1e100, 1e100]; got {_describe(x)}") from None


class ADWIN:
    """Streaming ADWIN, a drop-in for ``river.drift.ADWIN``: ``update(x)``.

    River's constructor calls work unchanged (same parameter names, order and defaults:
    ``ADWIN(delta=0.002, clock=32, max_buckets=5, min_window_length=5, grace_period=10)``) and give
    river's detections, width and estimation, step for step; it is step for step equal to `adwin` (same
    kernel step).  Differences from river are in the attributes `variance` and `n_detections` (below)
    and in the parameter values refused (see `adwin`).

    Attributes after each update: `drift_detected`, `width` (an int; river gives a float), `total`,
    `estimation` (the window mean), `variance` (the window's variance, sum of squared deviations / width;
    river's `variance` is the sum of squared deviations itself), `n_detections` (detections since
    construction; river's counts only those of its current window helper, which it replaces after each
    detection, so it reads 0 or 1).

    Examples
    --------
    >>> import numpy as np, simengine
    >>> g = np.random.default_rng(0)
    >>> det = simengine.ADWIN()
    >>> x = np.r_[g.random(1000) < 0.2, g.random(1000) < 0.6].astype(float)
    >>> hits = [i for i, v in enumerate(x) if det.update(v).drift_detected]
    >>> hits == simengine.adwin(x).drift_indices.tolist()
    True
    """

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        self.delta, self.clock, self.max_buckets, self.min_window_length, self.grace_period = _check_adwin_params(
            delta, clock, max_buckets, min_window_length, grace_period
        )
        self._state = np.zeros(_k._adwin_state_size(self.max_buckets))
        _k._adwin_init(self._state)
        self.drift_detected = False

    def update(self, x: float | bool) -> ADWIN:
        """Add one value (a finite real number with |x| <= 1e100, or a bool); returns self.

        Raises TypeError for anything that is not a real number or bool, ValueError for NaN, inf and
        values beyond 1e100 in magnitude (their squares, summed over the window, could overflow).
        """
        if type(x) is not float:
            x = _adwin_x(x)
        if not (-ADWIN_MAX_ABS <= x <= ADWIN_MAX_ABS):
            raise ValueError(f"`x` must be a finite real number in [-1e100, 1e100]; got {_describe(x)}")
        self.drift_detected = bool(
            _k._adwin_step(
                self._state, float(x), self.delta, self.max_buckets, self.min_window_length, self.grace_period,
                self.clock,
            )
        )
        return self

    @property
    def width(self) -> int:
        return int(self._state[0])

    @property
    def total(self) -> float:
        return float(self._state[1])

    @property
    def estimation(self) -> float:
        return float(self._state[1] / self._state[0]) if self._state[0] > 0 else 0.0

    @property
    def variance(self) -> float:
        return float(self._state[2] / self._state[0]) if self._state[0] > 0 else 0.0

    @property
    def n_detections(self) -> int:
        return int(self._state[4])


# ----------------------------------------------------------------------------------------------------------
# Detector simulations
# ----------------------------------------------------------------------------------------------------------

DELAY_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def _quantile_se(sorted_x, q):
    """SE of the sample q-quantile from the distribution-free binomial order-statistic 95% interval.

    The interval is [x_(l), x_(u)] with ranks n q -/+ 1.96 sqrt(n q (1 - q)) (normal approximation to the
    binomial count below the quantile); SE = (x_(u) - x_(l)) / (2 * 1.96).
    """
    n = sorted_x.size
    if n < 2:
        return float("nan")
    half = 1.959963984540054 * np.sqrt(n * q * (1.0 - q))
    lo = int(np.clip(np.floor(n * q - half), 0, n - 1))
    hi = int(np.clip(np.ceil(n * q + half), 0, n - 1))
    return float(sorted_x[hi] - sorted_x[lo]) / (2.0 * 1.959963984540054)


@dataclass(frozen=True, slots=True)
class SimulateDriftDetectionResult(MonteCarloResult):
    """Monte Carlo evaluation of a drift detector on simulated error streams.

    Each stream is the 0/1 error indicator of a model whose error rate is `error_before` before the drift
    and `error_after` after it; the detector watches that stream.

    Attributes
    ----------
    detection_rate, detection_rate_se : float
        Fraction of streams with a detection at or after `drift_start`.
    false_alarm_rate, false_alarm_rate_se : float
        Fraction of streams with at least one detection before `drift_start`.
    false_alarms_per_stream, false_alarms_per_stream_se : float
        Mean number of detections before `drift_start` and its standard error.
    delay_mean, delay_mean_se, delay_median, delay_median_se : float
        Detection delay (first detection index at or after drift_start minus drift_start) over the
        detecting streams only: a mean over a random subset and a quantile, so not combinable across
        chunks of streams; nan when no stream detects.
    delay_quantiles, delay_quantiles_se : dict
        Quantiles 0.1, 0.25, 0.5, 0.75, 0.9 and their SEs (binomial order-statistic interval / 3.92).
    delays : ndarray
        Delay per stream (-1 if not detected).
    n_sims, n_steps : int
        Streams and steps per stream.
    detector, drift : str
    drift_start : int
    drift_end : int or None
        End of the linear rise of a gradual drift (None for a sudden one).
    error_before, error_after : float
        Error rates of the stream before and after the drift.
    detector_settings : dict
        Every parameter of the detector as used (defaults filled in).
    """

    _estimates = {
        "detection_rate": MEAN,
        "false_alarm_rate": MEAN,
        "false_alarms_per_stream": MEAN,
        "delay_mean": NOT_COMBINABLE,
        "delay_median": NOT_COMBINABLE,
    }
    _replicates = "n_sims"
    _chunk_size = None

    detection_rate: float
    detection_rate_se: float
    false_alarm_rate: float
    false_alarm_rate_se: float
    false_alarms_per_stream: float
    false_alarms_per_stream_se: float
    delay_mean: float
    delay_mean_se: float
    delay_median: float
    delay_median_se: float
    delay_quantiles: dict
    delay_quantiles_se: dict
    delays: np.ndarray = field(repr=False)
    n_sims: int
    n_steps: int
    detector: str
    drift: str
    drift_start: int
    drift_end: int | None
    error_before: float
    error_after: float
    detector_settings: dict

    def to_frame(self) -> pd.DataFrame:
        """Summary as a one-column DataFrame (estimate, SE)."""
        import pandas as pd

        rows = {
            "detection rate": (self.detection_rate, self.detection_rate_se),
            "false-alarm rate": (self.false_alarm_rate, self.false_alarm_rate_se),
            "false alarms per stream": (self.false_alarms_per_stream, self.false_alarms_per_stream_se),
            "mean delay": (self.delay_mean, self.delay_mean_se),
        }
        for q in DELAY_QUANTILES:
            rows[f"delay q{q:g}"] = (self.delay_quantiles[q], self.delay_quantiles_se[q])
        return pd.DataFrame(rows, index=["estimate", "se"]).T


_DDM_KEYS = ("warm_start", "warning_threshold", "drift_threshold", "reset")
_ADWIN_KEYS = ("delta", "clock", "max_buckets", "min_window_length", "grace_period")


def simulate_drift_detection(
    *,
    detector: Literal["ddm", "adwin"] = "ddm",
    drift: Literal["sudden", "gradual"] = "sudden",
    n_sims: int = 10_000,
    n_steps: int = 1_000,
    drift_start: int = 500,
    drift_end: int | None = None,
    error_before: float = 0.15,
    error_after: float = 0.40,
    warm_start: int | None = None,
    warning_threshold: float | None = None,
    drift_threshold: float | None = None,
    reset: bool | None = None,
    delta: float | None = None,
    clock: int | None = None,
    max_buckets: int | None = None,
    min_window_length: int | None = None,
    grace_period: int | None = None,
    rng: SeedLike = None,
    progress: Progress = None,
) -> SimulateDriftDetectionResult:
    """Detection rate, false alarms and detection delay of DDM or ADWIN on simulated error streams.

    Each of the `n_sims` streams is the 0/1 error indicator of a model (1 = error) whose error rate is
    `error_before` before `drift_start` and `error_after` from then on ("sudden"), or rises linearly from
    `drift_start` to `drift_end` ("gradual"); the detector (`ddm` / `adwin`, river's semantics) watches that
    stream.  Streams are generated inside the kernel, block by block (64 streams per RNG block), and fed to
    the detector as they are drawn, so no streams x steps array is ever stored.

    Parameters
    ----------
    detector : {"ddm", "adwin"}
    drift : {"sudden", "gradual"}
    n_sims : int in [1, 10**9]
        Number of streams.
    n_steps : int in [2, 10**9]
        ``n_sims * n_steps`` (detector updates) may not exceed ``MAX_WORK`` = 10**12, and the
        per-stream results and RNG blocks (~128 bytes per stream) must fit in memory; otherwise ValueError
        before any work.
    drift_start : int in [1, n_steps)
    drift_end : int or None
        Gradual drift only (required there, drift_start < drift_end <= n_steps).  A sudden drift ignores
        it, so that one sweep grid can compare "sudden" and "gradual" with a shared `drift_end`.
    error_before, error_after : float in [0, 1]
        Error rate of the stream before and after the drift.
    warm_start, warning_threshold, drift_threshold, reset
        DDM's parameters (as in `ddm`); None = its default (30, 2.0, 3.0, True).
    delta, clock, max_buckets, min_window_length, grace_period
        ADWIN's parameters (as in `adwin`); None = its default (0.002, 32, 5, 5, 10).  Giving a parameter
        of the detector not simulated is a ValueError.
    rng : None, int, SeedSequence or Generator
    progress : None, True or False
        True draws a progress bar on stderr (and a "compiling" step on the first call), None only when
        stderr is a terminal and the call is expected to take more than ~2 s, False never.  Ctrl-C stops the
        call with KeyboardInterrupt within about a quarter of a second, or one block of 64 streams if that
        takes longer (64 x `n_steps` detector updates).

    Returns
    -------
    SimulateDriftDetectionResult

    Notes
    -----
    Delay = first detection at or after `drift_start` minus `drift_start`.  A false alarm is any detection
    before `drift_start` (the detector keeps running afterwards, restarting after each detection as
    river's detectors do).  Proportion SEs are binomial, the mean's is the sample SD / sqrt(k), and
    quantile SEs come from the distribution-free binomial order-statistic 95% interval divided by
    2 * 1.96.

    There is no `target_se` here: the delay estimates are a mean over the detecting streams (a random
    subset) and quantiles, which do not combine across rounds of streams, so a run cannot be extended
    round by round to a standard error.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_drift_detection(n_sims=500, rng=0)
    >>> res.detection_rate > 0.9
    True
    """
    detector = check_choice(detector, "detector", ("ddm", "adwin"))
    drift = check_choice(drift, "drift", ("sudden", "gradual"))
    given = {
        "warm_start": warm_start, "warning_threshold": warning_threshold, "drift_threshold": drift_threshold,
        "reset": reset, "delta": delta, "clock": clock, "max_buckets": max_buckets,
        "min_window_length": min_window_length, "grace_period": grace_period,
    }
    own, other = (_DDM_KEYS, _ADWIN_KEYS) if detector == "ddm" else (_ADWIN_KEYS, _DDM_KEYS)
    for key in other:
        if given[key] is not None:
            raise ValueError(
                f"`{key}` is a parameter of {'ADWIN' if detector == 'ddm' else 'DDM'}, not of the simulated "
                f"detector {detector!r} (whose parameters are {', '.join(own)}); leave it None"
            )
    n_sims = _check_size(n_sims, "n_sims", 1, MAX_COUNT)
    n_steps = _check_size(n_steps, "n_steps", 2, MAX_COUNT)
    check_work(n_sims * n_steps, "`n_sims` x `n_steps`", unit="detector updates")
    # per stream: two int64 results and the summary's temporaries (~64 bytes), and 1/64 of a block
    # Generator (~3.4 KB each with its bit generator and seed sequence)
    _check_memory(128 * n_sims, "`n_sims`", "the per-stream results and block generators")
    drift_start = check_int(drift_start, "drift_start", minimum=1, maximum=n_steps - 1)
    if drift == "sudden":
        drift_end = None
        end = drift_start
    else:
        if drift_end is None:
            raise ValueError("`drift_end` is required for a gradual drift")
        drift_end = end = check_int(drift_end, "drift_end", minimum=drift_start + 1, maximum=n_steps)
    p0 = check_probability(error_before, "error_before", closed=True)
    p1 = check_probability(error_after, "error_after", closed=True)

    def pick(key, default):
        return default if given[key] is None else given[key]

    if detector == "ddm":
        ws, wt, dt, rs = _check_ddm_params(
            pick("warm_start", 30), pick("warning_threshold", 2.0), pick("drift_threshold", 3.0), pick("reset", True)
        )
        settings = {"warm_start": ws, "warning_threshold": wt, "drift_threshold": dt, "reset": rs}
        fparams = np.array([wt, dt])
        iparams = np.array([ws, int(rs)], dtype=np.int64)
        kernel = _k._simulate_ddm
    else:
        d, ck, mb, ml, gp = _check_adwin_params(
            pick("delta", 0.002), pick("clock", 32), pick("max_buckets", 5), pick("min_window_length", 5),
            pick("grace_period", 10),
        )
        settings = {"delta": d, "clock": ck, "max_buckets": mb, "min_window_length": ml, "grace_period": gp}
        fparams = np.array([d])
        iparams = np.array([mb, ml, gp, ck], dtype=np.int64)
        kernel = _k._simulate_adwin
    progress = check_progress(progress)
    ss = _rng.as_seed_sequence(rng)

    def call(lo, hi):
        gens = _rng.slice_generators(ss, lo, hi)
        n_out = min(n_sims, hi * _k.SIM_BLOCK) - lo * _k.SIM_BLOCK
        n_false, first_after = np.empty(n_out, dtype=np.int64), np.empty(n_out, dtype=np.int64)
        kernel(gens, n_sims, n_steps, drift_start, end, p0, p1, fparams, iparams, lo, n_false, first_after)
        return n_false, first_after

    # a block is 64 streams of `n_steps` updates (~2 ns a DDM update, ~30 ns an ADWIN one at worst): a first
    # slice of ~2 x 10^6 updates a thread ends a typical call in one parallel launch, in well under a second
    import numba

    first = max(1, 2_000_000 // (_k.SIM_BLOCK * n_steps)) * max(1, numba.get_num_threads())
    parts = run_blocks(call, _rng.n_blocks(n_sims, _k.SIM_BLOCK), progress=progress,
                       desc="simulate_drift_detection", dispatchers=(kernel,), first=first)
    n_false = joined([nf for nf, _ in parts])
    first = joined([fa for _, fa in parts])
    return _summarise(
        n_false, first, n_sims=n_sims, n_steps=n_steps, detector=detector, drift=drift, drift_start=drift_start,
        drift_end=drift_end, error_before=p0, error_after=p1, detector_settings=settings,
    )


def _rows_first(n_steps, updates_per_thread):
    """Streams in the first slice of a scan over many streams (Ctrl-C is answered between slices): about
    `updates_per_thread` updates (~0.02-0.05 s) for each numba thread, so that most calls are one slice."""
    import numba

    return max(1, updates_per_thread // max(1, n_steps)) * max(1, numba.get_num_threads())


# A scan in segments keeps the detector states of one group of streams: at most this many bytes of them.
_SCAN_STATE_BYTES = 2**26


def _scan_plan(n_streams, n_steps, updates_per_thread, state_doubles):
    """How a scan too long for whole streams is cut: (streams per group, steps per segment), or None when
    whole streams do (a stream alone is at most `updates_per_thread` updates, or the call is one slice).

    A segment of a group is about `updates_per_thread` updates for each thread it can keep busy, so no piece
    of the scan takes longer than a slice, however long one stream is; the groups bound the memory of the
    states carried from segment to segment.
    """
    import numba

    threads = max(1, numba.get_num_threads())
    if n_steps <= updates_per_thread or n_streams * n_steps <= updates_per_thread * threads:
        return None
    rows = max(1, min(n_streams, _SCAN_STATE_BYTES // (8 * state_doubles)))
    return rows, max(1, updates_per_thread * min(rows, threads) // rows)


def _run_scan(piece, shape, updates_per_thread, state_doubles, desc):
    """Run a detector scan over all streams and steps in pieces, answering Ctrl-C between slices.

    ``piece(state, r0, r1, t0, t1)`` runs streams [r0, r1) over steps [t0, t1) from `state` (one row of
    `state_doubles` per stream, fresh when t0 == 0, carried otherwise) and returns what it found; returns
    those outputs in order.  Streams never interact and the states carry over exactly, so any cut gives the
    numbers of one pass.  A short call is one piece, run directly (no signal handler, no slicing).
    """
    ns, nt = shape
    plan = _scan_plan(ns, nt, updates_per_thread, state_doubles)
    if plan is None:
        cap = max(1, _SCAN_STATE_BYTES // (8 * state_doubles))  # streams whose states one piece keeps

        def call(lo, hi):
            state = np.empty((min(cap, hi - lo), state_doubles))
            return [piece(state[: min(hi, r0 + cap) - r0], r0, min(hi, r0 + cap), 0, nt) for r0 in range(lo, hi, cap)]

        first = _rows_first(nt, updates_per_thread)
        parts = [call(0, ns)] if ns <= first else run_blocks(call, ns, progress=False, desc=desc, first=first)
        return [out for part in parts for out in part]
    rows, steps = plan
    n_seg = -(-nt // steps)
    states: dict[int, Any] = {}

    def call_segments(lo, hi):
        # blocks are (group, segment) in group-major order: the segments of a group carry its states
        outs = []
        while lo < hi:
            g, s = divmod(lo, n_seg)
            end = min(hi, (g + 1) * n_seg)
            r0, r1 = g * rows, min(ns, (g + 1) * rows)
            if s == 0:
                states.clear()
                states[g] = np.empty((r1 - r0, state_doubles))
            outs.append(piece(states[g], r0, r1, s * steps, min(nt, (end - g * n_seg) * steps)))
            lo = end
        return outs

    parts = run_blocks(call_segments, -(-ns // rows) * n_seg, progress=False, desc=desc, first=1)
    return [out for part in parts for out in part]


def _indices(pieces, n_streams):
    """Per-stream arrays of the indices found by the pieces of `_run_scan`: (r0, flat, offsets) each, the
    indices of stream r0 + i at flat[offsets[i]:offsets[i + 1]], pieces of a stream in step order."""
    if len(pieces) == 1:
        _, flat, offsets = pieces[0]
        return np.split(flat, offsets[1:-1])
    rows = np.concatenate([np.repeat(np.arange(r0, r0 + offsets.size - 1), np.diff(offsets))
                           for r0, _, offsets in pieces])
    flat = np.concatenate([f for _, f, _ in pieces])
    flat = flat[np.argsort(rows, kind="stable")]  # by stream; within one, the pieces' (step) order
    return np.split(flat, np.cumsum(np.bincount(rows, minlength=n_streams))[:-1])


def _summarise(n_false, first, **settings):
    n_sims = settings["n_sims"]
    detected = first >= 0
    delays = np.where(detected, first - settings["drift_start"], -1)
    d = np.sort(delays[detected]).astype(np.float64)
    k = d.size
    rate = k / n_sims
    fa = float(np.mean(n_false > 0))
    if k:
        mean = float(d.mean())
        mean_se = float(d.std(ddof=1) / np.sqrt(k)) if k > 1 else float("nan")
        qs = {q: float(np.quantile(d, q)) for q in DELAY_QUANTILES}
        qse = {q: _quantile_se(d, q) for q in DELAY_QUANTILES}
    else:
        mean = mean_se = float("nan")
        qs = {q: float("nan") for q in DELAY_QUANTILES}
        qse = dict(qs)
    return SimulateDriftDetectionResult(
        detection_rate=rate,
        detection_rate_se=float(proportion_se(rate, n_sims)),
        false_alarm_rate=fa,
        false_alarm_rate_se=float(proportion_se(fa, n_sims)),
        false_alarms_per_stream=float(n_false.mean()),
        false_alarms_per_stream_se=float(n_false.std(ddof=1) / np.sqrt(n_sims)) if n_sims > 1 else float("nan"),
        delay_mean=mean,
        delay_mean_se=mean_se,
        delay_median=qs[0.5],
        delay_median_se=qse[0.5],
        delay_quantiles=qs,
        delay_quantiles_se=qse,
        delays=delays,
        **settings,
    )
