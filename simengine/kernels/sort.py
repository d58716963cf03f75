"""One stable sort for every kernel family.

numba's own ``np.argsort(..., kind="mergesort")`` costs 1-2 s of compilation per kernel
family that uses it (its implementation is generated for each caller's types); this
small merge sort of float64 keys compiles once (a few tenths of a second) and is shared.
It orders like NumPy's stable sort: ascending, NaN after every number, equal keys
(including -0.0 and 0.0) in index order, so its result is ``np.argsort(x, kind="stable")``
exactly (a stable order is unique).
"""
import math

import numpy as np

from simengine._jit import njit

# runs of this many keys are insertion-sorted before merging
_RUN = 16


@njit
def _after(a, b):
    """True if key `a` sorts strictly after key `b` (NaN after numbers, NaNs equal)."""
    if math.isnan(a):
        return not math.isnan(b)
    return a > b


@njit
def argsort_stable(x):
    """Indices that sort the 1-D float64 array `x` stably (int64 array of x's length)."""
    n = x.shape[0]
    order = np.empty(n, np.int64)
    for i in range(n):
        order[i] = i
    for a in range(0, n, _RUN):
        b = min(a + _RUN, n)
        for i in range(a + 1, b):
            v = order[i]
            key = x[v]
            j = i - 1
            while j >= a and _after(x[order[j]], key):
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = v
    if n <= _RUN:
        return order
    src = order
    dst = np.empty(n, np.int64)
    width = _RUN
    while width < n:
        for s in range(0, n, 2 * width):
            m = min(s + width, n)
            e = min(s + 2 * width, n)
            i = s
            j = m
            k = s
            while i < m and j < e:
                if _after(x[src[i]], x[src[j]]):  # the right run's key only when strictly smaller
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < m:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < e:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        width *= 2
    return src


@njit
def sort_inplace(a, tmp):
    """Sort the 1-D float64 array `a` ascending in place (NaN last), using `tmp` (at least as long) as scratch.

    Values only, no order: NaNs are moved to the end first (so the sort compares numbers only, with
    plain comparisons), then runs of 16 are insertion-sorted and merged bottom-up between `a` and `tmp`.
    Equal values (-0.0 and 0.0 included) may end in either order: for sorted values alone that is invisible.
    """
    n = a.shape[0]
    m = 0
    for k in range(n):
        v = a[k]
        if v == v:
            a[m] = v
            m += 1
    for k in range(m, n):
        a[k] = math.nan
    for s in range(0, m, _RUN):
        e = min(s + _RUN, m)
        for i in range(s + 1, e):
            v = a[i]
            j = i - 1
            while j >= s and a[j] > v:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = v
    src = a
    dst = tmp
    in_tmp = False
    width = _RUN
    while width < m:
        for s in range(0, m, 2 * width):
            mid = min(s + width, m)
            e = min(s + 2 * width, m)
            i = s
            j = mid
            k = s
            while i < mid and j < e:
                if src[j] < src[i]:
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < e:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        in_tmp = not in_tmp
        width *= 2
    if in_tmp:
        for k in range(m):
            a[k] = tmp[k]


@njit
def sort_values(x):
    """A sorted copy of the 1-D float64 array `x` (NumPy's order: NaN last)."""
    out = np.empty(x.shape[0], np.float64)
    for i in range(x.shape[0]):
        out[i] = x[i]
    sort_inplace(out, np.empty(x.shape[0], np.float64))
    return out
