"""Multiple-testing corrections, one family of p-values per row, rows in parallel.

Each method follows statsmodels' `multipletests` operation by operation (same
sort, same formulas, same clipping) so results agree bit for bit, not just to a
tolerance.  Method codes are fixed by `simengine.multitest.METHODS`.
"""
import math

import numba
import numpy as np

from simengine._jit import njit, pjit

BONFERRONI = 0
SIDAK = 1
HOLM = 2
HOLM_SIDAK = 3
SIMES_HOCHBERG = 4
HOMMEL = 5
FDR_BH = 6
FDR_BY = 7

_ROWS = 256  # rows per parallel work item


@njit
def _argsort_stable1(p, order, ps):
    """Stable argsort of `p` into `order`, sorted values into `ps`.

    Counting ranks for short families (the common 10-30 tests), insertion sort
    on (value, index) pairs up to 48, NumPy's merge sort beyond; all stable, so
    ties keep input order.
    """
    n = p.shape[0]
    if n <= 32:
        # rank by counting: n^2 branch-free compares beat insertion sort's
        # mispredicted branches on short rows
        for i in range(n):
            v = p[i]
            rank = 0
            for j in range(n):
                w = p[j]
                rank += (w < v) | ((w == v) & (j < i))  # earlier ties rank first: stable
            ps[rank] = v
            order[rank] = i
        return
    if n > 48:
        order[:] = np.argsort(p, kind="mergesort")
        for i in range(n):
            ps[i] = p[order[i]]
        return
    for i in range(n):
        v = p[i]
        j = i - 1
        while j >= 0 and ps[j] > v:
            ps[j + 1] = ps[j]
            order[j + 1] = order[j]
            j -= 1
        ps[j + 1] = v
        order[j + 1] = i


@njit
def _correct_sorted1(ps, raws, method, cuts, factors, rej, adj):
    """Correct one family of sorted p-values `ps` into `rej` / `adj` (sorted order).

    `cuts[i]` is the rejection threshold of the i-th smallest p-value and
    `factors` the Benjamini-Hochberg/Yekutieli ecdf factors, both computed by the
    caller with NumPy exactly as statsmodels does.  For the Sidak methods `raws`
    holds the unmonotonised adjusted p-values, computed with NumPy's log1p/expm1
    (whose last bit differs from libm's); other methods only need + * / here.
    """
    n = ps.shape[0]
    if method == BONFERRONI or method == SIDAK:
        for i in range(n):
            rej[i] = ps[i] <= cuts[i]
            adj[i] = ps[i] * float(n) if method == BONFERRONI else raws[i]
    elif method == HOLM or method == HOLM_SIDAK:
        # step-down: reject up to the first p-value above its threshold
        stop = n
        for i in range(n):
            if ps[i] > cuts[i]:
                stop = i
                break
        running = -math.inf
        for i in range(n):
            rej[i] = i < stop
            raw = ps[i] * (n - i) if method == HOLM else raws[i]
            if raw > running:
                running = raw
            adj[i] = running
    elif method == SIMES_HOCHBERG or method == FDR_BH or method == FDR_BY:
        # step-up: reject everything up to the last p-value under its threshold
        last = -1
        for i in range(n):
            if ps[i] <= cuts[i]:
                last = i
        running = math.inf
        for i in range(n - 1, -1, -1):
            rej[i] = i <= last
            raw = (n - i) * ps[i] if method == SIMES_HOCHBERG else ps[i] / factors[i]
            if raw < running:
                running = raw
            adj[i] = running
    else:  # HOMMEL, statsmodels' O(n^2) form
        for i in range(n):
            adj[i] = ps[i]
        for m in range(n, 1, -1):
            cim = math.inf
            for j in range(m):
                v = m * ps[n - m + j] / (j + 1.0)
                if v < cim:
                    cim = v
            for i in range(n - m, n):
                if cim > adj[i]:
                    adj[i] = cim
            for i in range(n - m):
                v = min(m * ps[i], cim)
                if v > adj[i]:
                    adj[i] = v
        for i in range(n):
            rej[i] = adj[i] <= cuts[i]
    for i in range(n):
        if adj[i] > 1.0:
            adj[i] = 1.0


@pjit
def _argsort_rows(pvals):
    """Stable argsort of every row (families x tests), rows in parallel."""
    n_fam, n = pvals.shape
    order = np.empty((n_fam, n), dtype=np.int64)
    for r in numba.prange(n_fam):
        _argsort_stable1(pvals[r], order[r], np.empty(n))
    return order


@pjit
def _multipletests(pvals, raw, method, cuts, factors):
    """Correct every row of `pvals` (families x tests); returns (reject, pvals_corrected).

    `raw` has the shape of `pvals` for the Sidak methods (see `_correct_sorted1`)
    and is ignored otherwise.
    """
    n_fam, n = pvals.shape
    use_raw = method == SIDAK or method == HOLM_SIDAK
    reject = np.empty((n_fam, n), dtype=np.bool_)
    corrected = np.empty((n_fam, n))
    n_chunks = (n_fam + _ROWS - 1) // _ROWS
    for c in numba.prange(n_chunks):
        # scratch once per chunk of rows, not per row
        order = np.empty(n, dtype=np.int64)
        ps = np.empty(n)
        rs = np.zeros(n)
        rej = np.empty(n, dtype=np.bool_)
        adj = np.empty(n)
        for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
            _argsort_stable1(pvals[r], order, ps)
            if use_raw:
                for i in range(n):
                    rs[i] = raw[r, order[i]]
            _correct_sorted1(ps, rs, method, cuts, factors, rej, adj)
            for i in range(n):
                reject[r, order[i]] = rej[i]
                corrected[r, order[i]] = adj[i]
    return reject, corrected


@pjit
def _nan_min_max(p):
    """(any NaN, min, max) of a 2-D array in one parallel pass: the public layer's range check."""
    n_fam, n = p.shape
    n_chunks = (n_fam + _ROWS - 1) // _ROWS
    bad = np.zeros(n_chunks, dtype=np.bool_)
    lo = np.full(n_chunks, np.inf)
    hi = np.full(n_chunks, -np.inf)
    for c in numba.prange(n_chunks):
        for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
            for i in range(n):
                v = p[r, i]
                bad[c] |= v != v
                lo[c] = min(lo[c], v)
                hi[c] = max(hi[c], v)
    return bad.any(), lo.min(), hi.max()
