"""Two-sample (independent) permutation-test null distributions, one test per row.

A resample is a split of the pooled row into groups of the original sizes; only
the smaller group's subset is drawn (partial Fisher-Yates).  Built-in statistics
(x minus y, scipy's sign) work on the pooled row sorted once and centred at its
midrange: a split is a mask over sorted positions, and group means or medians come
from one scan of it, so a split's statistic depends only on the split (not on the
draw order) and the observed split reproduces the observed statistic bit for bit.
p-values are computed by the caller, with the tie tolerance the kernel reports.
"""
import numba
import numpy as np

from simengine._jit import njit, pjit

MEAN = 0
MEDIAN = 1


@njit(inline="always")
def _random_subset(g, perm, m, n):
    """Partial Fisher-Yates: `perm[:m]` becomes a random m-subset of `perm`'s n values.

    The index is floor(u * (n - i)) with u = g.random(): five times cheaper than
    g.integers, with a bias below (n - i) / 2**53 (none measurable).
    """
    for i in range(m):
        j = i + np.int64(g.random() * (n - i))
        tmp = perm[i]
        perm[i] = perm[j]
        perm[j] = tmp


@njit
def _split_stat1(vals, mask, drawn_is_x, nx, ny, stat):
    """Statistic (x minus y) of the split `mask` (True = drawn group) over sorted `vals`."""
    n = vals.shape[0]
    if stat == MEAN:
        s_in = 0.0
        s_out = 0.0
        for i in range(n):
            # selects instead of branches: the mask is random, branches would mispredict
            w = vals[i]
            s_in += w if mask[i] else 0.0
            s_out += 0.0 if mask[i] else w
        if drawn_is_x:
            return s_in / nx - s_out / ny
        return s_out / nx - s_in / ny
    # MEDIAN: order statistics lo/hi of each group from one pass over sorted values
    n_in = nx if drawn_is_x else ny
    n_out = n - n_in
    lo_in = (n_in - 1) // 2
    hi_in = n_in // 2
    lo_out = (n_out - 1) // 2
    hi_out = n_out // 2
    a_in = 0.0
    b_in = 0.0
    a_out = 0.0
    b_out = 0.0
    c_in = 0
    c_out = 0
    for i in range(n):
        # branch-free: the mask is random, so if/else here would mispredict half the time
        w = vals[i]
        inside = mask[i]
        a_in = w if (inside and c_in == lo_in) else a_in
        b_in = w if (inside and c_in == hi_in) else b_in
        a_out = w if ((not inside) and c_out == lo_out) else a_out
        b_out = w if ((not inside) and c_out == hi_out) else b_out
        c_in += np.int64(inside)
        c_out += np.int64(not inside)
        if c_in > hi_in and c_out > hi_out:
            break
    m_in = a_in if lo_in == hi_in else (a_in + b_in) * 0.5
    m_out = a_out if lo_out == hi_out else (a_out + b_out) * 0.5
    if drawn_is_x:
        return m_in - m_out
    return m_out - m_in


# ulp of 1.0
_EPS = 2.220446049250313e-16


@njit
def _sorted_row1(x, y):
    """Pooled row sorted (stable) and centred at its midrange, the mask of sorted positions
    that came from `x`, and the tie tolerance of the statistics of its splits.

    Mean and median differences do not depend on the centre; centring keeps their rounding
    relative to the spread S (differences of values within a factor of two are exact),
    not to the magnitude M of the data.  Two splits whose statistics are equal in exact
    arithmetic on the decimal data give computed statistics closer than
    ``4 eps (M + n S)``: each datum carries a representation error below eps M / 2, and
    each group sum a rounding error below n eps S.
    """
    nx = x.shape[0]
    n = nx + y.shape[0]
    pooled = np.empty(n)
    pooled[:nx] = x
    pooled[nx:] = y
    order = np.argsort(pooled, kind="mergesort")
    lo = pooled[order[0]]
    hi = pooled[order[n - 1]]
    centre = 0.5 * lo + 0.5 * hi  # halves first: lo + hi may overflow
    vals = np.empty(n)
    from_x = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        vals[i] = pooled[order[i]] - centre
        from_x[i] = order[i] < nx
    spread = max(abs(vals[0]), abs(vals[n - 1]))
    tol = 4.0 * _EPS * (max(abs(lo), abs(hi)) + n * spread)
    return vals, from_x, tol


@njit
def _next_combination1(c, n):
    """Advance combination `c` (sorted indices into range(n)) lexicographically; False when done."""
    m = c.shape[0]
    i = m - 1
    while i >= 0 and c[i] == n - m + i:
        i -= 1
    if i < 0:
        return False
    c[i] += 1
    for j in range(i + 1, m):
        c[j] = c[j - 1] + 1
    return True


@pjit
def _perm_null_builtin(x, y, stat, n_null, exact, gens, block, lo, hi, observed, tol, vals, rank, comb, comb_next,
                       null, done):
    """Units lo..hi-1 of the null distribution of `stat` (MEAN / MEDIAN) for every row, filled in place.

    x: (k, nx), y: (k, ny); null (k, n_null).  The resamples are cut into units of `block`:
    unit u holds resamples u * block .. (u + 1) * block - 1, so the caller can run the units
    in slices (the numbers do not depend on the slicing).  The call with lo == 0 first fills
    observed, tol (row r's tie tolerance, see `_sorted_row1`), vals (sorted centred rows) and,
    when random, rank (original index -> sorted position).

    Exact: all `n_null` splits in lexicographic order of the drawn group's sorted positions;
    `comb` is the first split of unit lo, and the first split after unit hi - 1 is written to
    `comb_next`; done[r] is set for each row that ran to the end.  Random: unit b draws from
    gens[b - lo], each drawn split serves every row, done[b] is set for each unit that ran to the
    end; gens holds the streams of units lo..hi-1 (an iteration whose scratch allocation fails stops without raising: numba's parallel
    loops do not re-raise).
    """
    k, nx = x.shape
    ny = y.shape[1]
    n = nx + ny
    drawn_is_x = nx <= ny
    m = nx if drawn_is_x else ny
    if lo == 0:
        for r in numba.prange(k):
            v_r, from_x, tol[r] = _sorted_row1(x[r], y[r])
            vals[r] = v_r
            if not exact:
                order = np.argsort(np.concatenate((x[r], y[r])), kind="mergesort")
                for i in range(n):
                    rank[r, order[i]] = i
            mask = from_x if drawn_is_x else ~from_x
            observed[r] = _split_stat1(v_r, mask, drawn_is_x, nx, ny, stat)
    t_lo = lo * block
    t_hi = min(hi * block, n_null)
    if exact:
        for r in numba.prange(k):
            mask = np.zeros(n, dtype=np.bool_)
            c = comb.copy()
            for t in range(t_lo, t_hi):
                for i in range(m):
                    mask[c[i]] = True
                null[r, t] = _split_stat1(vals[r], mask, drawn_is_x, nx, ny, stat)
                for i in range(m):
                    mask[c[i]] = False
                _next_combination1(c, n)
            if r == 0:
                comb_next[:] = c
            done[r] = True
        return observed, null, tol, done
    # Random splits are drawn once per resample, as subsets of original indices,
    # and shared by every row (scipy applies one permutation to all slices too), so a
    # column's result does not depend on the other columns of the batch.
    for j in numba.prange(hi - lo):
        b = lo + np.int64(j)
        g = gens[np.int64(j)]
        mask = np.zeros(n, dtype=np.bool_)
        perm = np.arange(n)
        for t in range(b * block, min((b + 1) * block, n_null)):
            _random_subset(g, perm, m, n)
            for r in range(k):
                for i in range(m):
                    mask[rank[r, perm[i]]] = True
                null[r, t] = _split_stat1(vals[r], mask, drawn_is_x, nx, ny, stat)
                for i in range(m):
                    mask[rank[r, perm[i]]] = False
        done[b] = True
    return observed, null, tol, done


@njit
def _fill_split1(pooled, mask, drawn_is_x, xb, yb):
    """Copy the split `mask` of `pooled` into xb / yb, each in pooled (index) order."""
    ix = 0
    iy = 0
    for i in range(pooled.shape[0]):
        if mask[i] == drawn_is_x:
            xb[ix] = pooled[i]
            ix += 1
        else:
            yb[iy] = pooled[i]
            iy += 1


# Specialised on the user's jitted statistic, whose numba type differs in every process, so an on-disk
# cache entry could never be reused: it would only add a file per process. Compiled per process instead.
@pjit(cache=False)
def _perm_null_custom(x, y, func, n_null, exact, gens, block, lo, hi, observed, comb, comb_next, null, done):
    """Like `_perm_null_builtin` for a jitted ``func(x, y) -> float`` on the split groups.

    Each group is passed in pooled-index order, so the observed split gives
    exactly ``func(x, y)``; exact splits enumerate the drawn group's pooled indices.
    """
    k, nx = x.shape
    ny = y.shape[1]
    n = nx + ny
    drawn_is_x = nx <= ny
    m = nx if drawn_is_x else ny
    if lo == 0:
        for r in range(k):
            observed[r] = func(x[r].copy(), y[r].copy())
    t_lo = lo * block
    t_hi = min(hi * block, n_null)
    if exact:
        for r in numba.prange(k):
            pooled = np.concatenate((x[r], y[r]))
            mask = np.zeros(n, dtype=np.bool_)
            xb = np.empty(nx)
            yb = np.empty(ny)
            c = comb.copy()
            for t in range(t_lo, t_hi):
                for i in range(m):
                    mask[c[i]] = True
                _fill_split1(pooled, mask, drawn_is_x, xb, yb)
                null[r, t] = func(xb, yb)
                for i in range(m):
                    mask[c[i]] = False
                _next_combination1(c, n)
            if r == 0:
                comb_next[:] = c
            done[r] = True
        return observed, null, done
    for j in numba.prange(hi - lo):
        b = lo + np.int64(j)
        g = gens[np.int64(j)]
        mask = np.zeros(n, dtype=np.bool_)
        perm = np.arange(n)
        xb = np.empty(nx)
        yb = np.empty(ny)
        pooled = np.empty(n)
        for t in range(b * block, min((b + 1) * block, n_null)):
            _random_subset(g, perm, m, n)
            for i in range(m):
                mask[perm[i]] = True
            for r in range(k):
                pooled[:nx] = x[r]
                pooled[nx:] = y[r]
                _fill_split1(pooled, mask, drawn_is_x, xb, yb)
                null[r, t] = func(xb, yb)
            for i in range(m):
                mask[perm[i]] = False
        done[b] = True
    return observed, null, done
