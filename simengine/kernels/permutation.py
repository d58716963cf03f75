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
from simengine.kernels.rng import _pcg64_next
from simengine.kernels.sort import argsort_stable


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
def _split_mean1(vals, mask, drawn_is_x, nx, ny):
    """Mean difference (x minus y) of the split `mask` (True = drawn group) over sorted `vals`."""
    s_in = 0.0
    s_out = 0.0
    for i in range(vals.shape[0]):
        # selects instead of branches: the mask is random, branches would mispredict
        w = vals[i]
        s_in += w if mask[i] else 0.0
        s_out += 0.0 if mask[i] else w
    if drawn_is_x:
        return s_in / nx - s_out / ny
    return s_out / nx - s_in / ny


@njit
def _split_median1(vals, mask, drawn_is_x, nx, ny):
    """Median difference (x minus y) of the split `mask`: order statistics lo/hi of each group
    from one pass over sorted `vals`."""
    n = vals.shape[0]
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
def _centre_row1(pooled, order, vals, from_x, rank, nx):
    """Fill `vals` with the pooled row in stable sorted order (`order`) centred at its midrange,
    `from_x` with the mask of sorted positions that came from `x` (pooled indices below nx) and,
    when `rank` is not empty, `rank` with each pooled index's sorted position; return the tie
    tolerance of the statistics of the row's splits.

    Mean and median differences do not depend on the centre; centring keeps their rounding
    relative to the spread S (differences of values within a factor of two are exact),
    not to the magnitude M of the data.  Two splits whose statistics are equal in exact
    arithmetic on the decimal data give computed statistics closer than
    ``4 eps (M + n S)``: each datum carries a representation error below eps M / 2, and
    each group sum a rounding error below n eps S.
    """
    n = pooled.shape[0]
    lo = pooled[order[0]]
    hi = pooled[order[n - 1]]
    centre = 0.5 * lo + 0.5 * hi  # halves first: lo + hi may overflow
    for i in range(n):
        vals[i] = pooled[order[i]] - centre
        from_x[i] = order[i] < nx
    if rank.shape[0] > 0:
        for i in range(n):
            rank[order[i]] = i
    spread = max(abs(vals[0]), abs(vals[n - 1]))
    return 4.0 * _EPS * (max(abs(lo), abs(hi)) + n * spread)


@njit
def _sorted_rows(x, y, r0, r1, vals, from_x, rank, tol):
    """`_centre_row1` of rows r0..r1-1 of x (k, nx) and y (k, ny), sorted here: vals, from_x (k, n), rank
    ((k, n), or (k, 0) when the caller needs none) and tol (k,).

    Copies are loops: a slice assignment would compile numba's shape-mismatch message machinery
    (seconds, issue 15).  One thread: a sort is log2(n) scans, against the n_resamples scans of the
    resampling, and a parallel launch costs more than the sort of a short row.
    """
    nx = x.shape[1]
    n = nx + y.shape[1]
    pooled = np.empty(n)
    for r in range(r0, r1):
        for i in range(nx):
            pooled[i] = x[r, i]
        for i in range(nx, n):
            pooled[i] = y[r, i - nx]
        tol[r] = _centre_row1(pooled, argsort_stable(pooled), vals[r], from_x[r], rank[r], nx)
    return tol


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


# The built-in statistics have one kernel per statistic and path (exact / random), so that a call
# compiles only the one it runs (issue 15: a single kernel for all compiled every path, ~10 s).
# Their loops are the same; only the split statistic differs.
#
# Exact kernels: x splits t_lo..t_hi-1 in lexicographic order of the drawn group's sorted positions,
# t = lo * unit .. min(hi * unit, n_null); `comb` is split t_lo, and the split after t_hi - 1 is written
# to `comb_next`; done[r] is set for each row that ran to the end.  The call with lo == 0 also fills
# observed.
#
# Random kernels: resamples of block b (PERM_BLOCK resamples, t = b * block ..) come from the block's
# generator, each drawn split serving every row (as scipy applies one permutation to all slices), so a
# column's result does not depend on the other columns.  A block runs as parts of `sub` resamples, in
# order: a work unit is one part of one block of a group of len(gens) blocks (gens[i] and perms[i] are
# block base + i's generator and Fisher-Yates state), numbered part-major, so unit u is part
# u // len(gens) of block base + u % len(gens).  A call runs the group's units u0..u1-1; each block's
# parts run in order on one thread and the generator and perm keep their state between calls, so the
# draws are those of one pass over the block, whatever `sub` and the slicing.  done[b] counts the units
# of block b that ran (an iteration whose scratch allocation fails stops without raising: numba's
# parallel loops do not re-raise).  The first call (base == 0, u0 == 0) also fills observed.
# `_perm_random_mean` and `_perm_random_median` are serial kernels of one block, block base + (u0 + j) %
# len(gens) with j < min(len(gens), u1 - u0), which the public layer spreads over threads of its own
# (`_long.threaded_blocks`; they release the GIL): a prange kernel costs ~2 s more to compile, the
# first call of a user's first permutation test.  The call with j == 0 of the first call fills observed.


@pjit
def _perm_exact_mean(vals, from_x, nx, ny, n_null, unit, lo, hi, comb, comb_next, observed, null, done):
    """Exact null distribution of the mean difference, units lo..hi-1 (see above)."""
    k, n = vals.shape
    drawn_is_x = nx <= ny
    m = comb.shape[0]
    if lo == 0:
        obs = np.empty(n, dtype=np.bool_)
        for r in range(k):
            for i in range(n):
                obs[i] = from_x[r, i] == drawn_is_x
            observed[r] = _split_mean1(vals[r], obs, drawn_is_x, nx, ny)
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
    for r in numba.prange(k):
        mask = np.zeros(n, dtype=np.bool_)
        c = comb.copy()
        for t in range(t_lo, t_hi):
            for i in range(m):
                mask[c[i]] = True
            null[r, t] = _split_mean1(vals[r], mask, drawn_is_x, nx, ny)
            for i in range(m):
                mask[c[i]] = False
            _next_combination1(c, n)
        if r == 0:
            for i in range(m):
                comb_next[i] = c[i]
        done[r] = True
    return done


@pjit
def _perm_exact_median(vals, from_x, nx, ny, n_null, unit, lo, hi, comb, comb_next, observed, null, done):
    """Exact null distribution of the median difference, units lo..hi-1 (see above)."""
    k, n = vals.shape
    drawn_is_x = nx <= ny
    m = comb.shape[0]
    if lo == 0:
        obs = np.empty(n, dtype=np.bool_)
        for r in range(k):
            for i in range(n):
                obs[i] = from_x[r, i] == drawn_is_x
            observed[r] = _split_median1(vals[r], obs, drawn_is_x, nx, ny)
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
    for r in numba.prange(k):
        mask = np.zeros(n, dtype=np.bool_)
        c = comb.copy()
        for t in range(t_lo, t_hi):
            for i in range(m):
                mask[c[i]] = True
            null[r, t] = _split_median1(vals[r], mask, drawn_is_x, nx, ny)
            for i in range(m):
                mask[c[i]] = False
            _next_combination1(c, n)
        if r == 0:
            for i in range(m):
                comb_next[i] = c[i]
        done[r] = True
    return done


@njit
def _perm_random_mean(vals, from_x, rank, nx, ny, n_null, block, gens, base, sub, u0, u1, j, perms, observed, null,
                      done):
    """Random-split null distribution of the mean difference, units u0..u1-1 of a group (see above)."""
    k, n = vals.shape
    drawn_is_x = nx <= ny
    m = nx if drawn_is_x else ny
    if base == 0 and u0 == 0 and j == 0:  # the observed statistic: once, by the first job
        obs = np.empty(n, dtype=np.bool_)
        for r in range(k):
            for i in range(n):
                obs[i] = from_x[r, i] == drawn_is_x
            observed[r] = _split_mean1(vals[r], obs, drawn_is_x, nx, ny)
    nb = len(gens)
    u = u0 + j
    i = u % nb
    b = base + np.int64(i)
    g = gens[i]
    perm = perms[i]
    mask = np.zeros(n, dtype=np.bool_)
    while u < u1:
        part = u // nb
        if part == 0:
            for q in range(n):
                perm[q] = q
        t0 = b * block + part * sub
        for t in range(t0, min(t0 + sub, (b + 1) * block, n_null)):
            _random_subset(g, perm, m, n)
            for r in range(k):
                for q in range(m):
                    mask[rank[r, perm[q]]] = True
                null[r, t] = _split_mean1(vals[r], mask, drawn_is_x, nx, ny)
                for q in range(m):
                    mask[rank[r, perm[q]]] = False
        done[b] += 1
        u += nb
    return done


@njit
def _perm_random_median(vals, from_x, rank, nx, ny, n_null, block, gens, base, sub, u0, u1, j, perms, observed, null,
                        done):
    """Random-split null distribution of the median difference, units u0..u1-1 of a group (see above)."""
    k, n = vals.shape
    drawn_is_x = nx <= ny
    m = nx if drawn_is_x else ny
    if base == 0 and u0 == 0 and j == 0:  # the observed statistic: once, by the first job
        obs = np.empty(n, dtype=np.bool_)
        for r in range(k):
            for i in range(n):
                obs[i] = from_x[r, i] == drawn_is_x
            observed[r] = _split_median1(vals[r], obs, drawn_is_x, nx, ny)
    nb = len(gens)
    u = u0 + j
    i = u % nb
    b = base + np.int64(i)
    g = gens[i]
    perm = perms[i]
    mask = np.zeros(n, dtype=np.bool_)
    while u < u1:
        part = u // nb
        if part == 0:
            for q in range(n):
                perm[q] = q
        t0 = b * block + part * sub
        for t in range(t0, min(t0 + sub, (b + 1) * block, n_null)):
            _random_subset(g, perm, m, n)
            for r in range(k):
                for q in range(m):
                    mask[rank[r, perm[q]]] = True
                null[r, t] = _split_median1(vals[r], mask, drawn_is_x, nx, ny)
                for q in range(m):
                    mask[rank[r, perm[q]]] = False
        done[b] += 1
        u += nb
    return done


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
def _perm_custom_exact(x, y, func, n_null, unit, lo, hi, comb, comb_next, observed, null, done):
    """Like `_perm_exact_mean` for a jitted ``func(x, y) -> float`` on the split groups.

    Each group is passed in pooled-index order, so the observed split gives exactly
    ``func(x, y)``; splits enumerate the drawn group's pooled indices.
    """
    k, nx = x.shape
    ny = y.shape[1]
    n = nx + ny
    drawn_is_x = nx <= ny
    m = comb.shape[0]
    if lo == 0:
        for r in range(k):
            observed[r] = func(x[r].copy(), y[r].copy())
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
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
            for i in range(m):
                comb_next[i] = c[i]
        done[r] = True
    return done


@pjit(cache=False)
def _perm_custom_random(x, y, func, n_null, block, gens, base, sub, u0, u1, perms, observed, null, done):
    """Like `_perm_random_mean` for a jitted ``func(x, y) -> float`` on the split groups (in pooled-index
    order; the drawn subsets are of pooled indices)."""
    k, nx = x.shape
    ny = y.shape[1]
    n = nx + ny
    drawn_is_x = nx <= ny
    m = nx if drawn_is_x else ny
    if base == 0 and u0 == 0:
        for r in range(k):
            observed[r] = func(x[r].copy(), y[r].copy())
    nb = len(gens)
    for j in numba.prange(min(nb, u1 - u0)):
        u = u0 + np.int64(j)
        i = u % nb
        b = base + np.int64(i)
        g = gens[i]
        perm = perms[i]
        mask = np.zeros(n, dtype=np.bool_)
        xb = np.empty(nx)
        yb = np.empty(ny)
        pooled = np.empty(n)
        while u < u1:
            part = u // nb
            if part == 0:
                for q in range(n):
                    perm[q] = q
            t0 = b * block + part * sub
            for t in range(t0, min(t0 + sub, (b + 1) * block, n_null)):
                _random_subset(g, perm, m, n)
                for q in range(m):
                    mask[perm[q]] = True
                for r in range(k):
                    for q in range(nx):
                        pooled[q] = x[r, q]
                    for q in range(ny):
                        pooled[nx + q] = y[r, q]
                    _fill_split1(pooled, mask, drawn_is_x, xb, yb)
                    null[r, t] = func(xb, yb)
                for q in range(m):
                    mask[perm[q]] = False
            done[b] += 1
            u += nb
    return done


# ---------------------------------------------------------------------------------------------------------
# Designs beyond two independent samples (issue 17): paired sign flips ("samples"), pairings, k samples.
#
# Same unit conventions as above, simpler: exact kernels run enumeration units lo..hi-1 (`unit` resamples
# each) in parallel over rows, the enumeration state (a permutation, or nothing for sign flips, whose
# resample t is the bit pattern of t) carried from `state` to `state_next`; random kernels run the blocks
# base..base + len(gens) - 1 of `block` resamples, in parallel over blocks, each from its own generator,
# one draw serving every row.  Skipped work (a failed allocation or a raising statistic in a parallel loop)
# leaves the caller's NaN fill in `null`, which the caller refuses.  One small kernel per statistic and
# path, so that a call compiles only what it runs (issue 15).
# ---------------------------------------------------------------------------------------------------------

# random bits per uniform draw: the top 52 bits of g.random()'s 53
_FLIP_BITS = 52
_TWO52 = 4503599627370496.0


@njit
def _flip_signs(g, words, sgn):
    """One resample's signs: 52 random bits per uniform draw (`words`), bit i of the resample is bit
    i % 52 of words[i // 52]; sgn[i] = -1.0 where it is set (pair i swapped), else 1.0."""
    for q in range(words.shape[0]):
        words[q] = np.int64(g.random() * _TWO52)
    _signs_of(words, sgn)


@njit
def _flip_signs_state(sh, sl, ih, il, words, sgn):
    """`_flip_signs` from a PCG64 state in registers (`kernels.rng`): the same words, since
    ``int(g.random() * 2**52)`` is the output's top 52 bits (``next_double`` keeps the top 53, and the
    scalings are exact); returns the new (sh, sl)."""
    for q in range(words.shape[0]):
        r, sh, sl = _pcg64_next(sh, sl, ih, il)
        words[q] = np.int64(r >> np.uint64(12))
    _signs_of(words, sgn)
    return sh, sl


@njit
def _signs_of(words, sgn):
    """sgn[i] = -1.0 where bit i of the words (52 a word) is set, else 1.0."""
    n = sgn.shape[0]
    for q in range(words.shape[0]):
        w = words[q]
        for i in range(q * _FLIP_BITS, min(n, (q + 1) * _FLIP_BITS)):
            sgn[i] = 1.0 - 2.0 * np.float64(w & 1)
            w >>= 1


@njit
def _flip_mean1(d, sgn):
    """Mean of the paired differences d with signs sgn (+-1: products are exact, so the observed
    resample, all +1, gives the mean of d bit for bit); branch-free, sequential sum."""
    s = 0.0
    for i in range(d.shape[0]):
        s += d[i] * sgn[i]
    return s / d.shape[0]


@njit
def _flip_median1(a, neg, sgn):
    """Median of the signed differences, a = |d| sorted ascending (negative where `neg` differs from the
    flip): the signed values in ascending order are the negatives in descending |d|, then the positives in
    ascending |d|; two passes, no sort."""
    n = a.shape[0]
    c = 0
    for i in range(n):
        c += np.int64(neg[i] != (sgn[i] < 0.0))
    lo = (n - 1) // 2
    hi = n // 2
    # order statistic j is negative number c-1-j (ascending |d|) if j < c, else positive number j - c
    lo_neg = lo < c
    hi_neg = hi < c
    lo_r = c - 1 - lo if lo_neg else lo - c
    hi_r = c - 1 - hi if hi_neg else hi - c
    v_lo = 0.0
    v_hi = 0.0
    cn = 0
    cp = 0
    for i in range(n):
        if neg[i] != (sgn[i] < 0.0):
            if lo_neg and cn == lo_r:
                v_lo = -a[i]
            if hi_neg and cn == hi_r:
                v_hi = -a[i]
            cn += 1
        else:
            if (not lo_neg) and cp == lo_r:
                v_lo = a[i]
            if (not hi_neg) and cp == hi_r:
                v_hi = a[i]
            cp += 1
    return v_lo if lo == hi else (v_lo + v_hi) * 0.5


@pjit
def _flip_exact_mean(d, n_null, unit, lo, hi, observed, null):
    """All 2^n sign flips of the mean difference (resample t flips pair i when bit i of t is set)."""
    k, n = d.shape
    if lo == 0:
        ones = np.ones(n)
        for r in range(k):
            observed[r] = _flip_mean1(d[r], ones)
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
    for r in numba.prange(k):
        words = np.zeros(1, dtype=np.int64)
        sgn = np.empty(n)
        for t in range(t_lo, t_hi):
            words[0] = t
            _signs_of(words, sgn)
            null[r, t] = _flip_mean1(d[r], sgn)
    return null


@pjit
def _flip_exact_median(a, neg, n_null, unit, lo, hi, observed, null):
    """All 2^n sign flips of the median difference (as `_flip_exact_mean`, bit i flipping sorted position i)."""
    k, n = a.shape
    if lo == 0:
        ones = np.ones(n)
        for r in range(k):
            observed[r] = _flip_median1(a[r], neg[r], ones)
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
    for r in numba.prange(k):
        words = np.zeros(1, dtype=np.int64)
        sgn = np.empty(n)
        for t in range(t_lo, t_hi):
            words[0] = t
            _signs_of(words, sgn)
            null[r, t] = _flip_median1(a[r], neg[r], sgn)
    return null


@pjit
def _flip_random_mean(d, n_null, block, states, base, observed, null):
    """Random sign flips of the mean difference, blocks base.. (one PCG64 stream each: a row of `states`,
    (count, 4) state high, low, increment high, low, the streams of the blocks' Generators)."""
    k, n = d.shape
    nw = (n + _FLIP_BITS - 1) // _FLIP_BITS
    if base == 0:
        ones = np.ones(n)
        for r in range(k):
            observed[r] = _flip_mean1(d[r], ones)
    for j in numba.prange(states.shape[0]):
        i = np.int64(j)
        sh, sl, ih, il = states[i, 0], states[i, 1], states[i, 2], states[i, 3]
        b = base + i
        words = np.empty(nw, dtype=np.int64)
        sgn = np.empty(n)
        for t in range(b * block, min((b + 1) * block, n_null)):
            sh, sl = _flip_signs_state(sh, sl, ih, il, words, sgn)
            for r in range(k):
                null[r, t] = _flip_mean1(d[r], sgn)
    return null


@pjit
def _flip_random_median(a, neg, n_null, block, states, base, observed, null):
    """Random sign flips of the median difference (the draws of `_flip_random_mean`)."""
    k, n = a.shape
    nw = (n + _FLIP_BITS - 1) // _FLIP_BITS
    if base == 0:
        ones = np.ones(n)
        for r in range(k):
            observed[r] = _flip_median1(a[r], neg[r], ones)
    for j in numba.prange(states.shape[0]):
        i = np.int64(j)
        sh, sl, ih, il = states[i, 0], states[i, 1], states[i, 2], states[i, 3]
        b = base + i
        words = np.empty(nw, dtype=np.int64)
        sgn = np.empty(n)
        for t in range(b * block, min((b + 1) * block, n_null)):
            sh, sl = _flip_signs_state(sh, sl, ih, il, words, sgn)
            for r in range(k):
                null[r, t] = _flip_median1(a[r], neg[r], sgn)
    return null


@njit
def _swap_pairs1(x, y, sgn, xb, yb):
    """xb, yb = x, y with pair i swapped where sgn[i] < 0."""
    for i in range(x.shape[0]):
        f = sgn[i] < 0.0
        xb[i] = y[i] if f else x[i]
        yb[i] = x[i] if f else y[i]


@pjit(cache=False)  # specialised on the user's statistic (see _perm_custom_exact)
def _flip_custom_exact(x, y, func, n_null, unit, lo, hi, observed, null):
    """All 2^n within-pair swaps for a jitted ``func(x, y)``."""
    k, n = x.shape
    if lo == 0:
        for r in range(k):
            observed[r] = func(x[r].copy(), y[r].copy())
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
    for r in numba.prange(k):
        words = np.zeros(1, dtype=np.int64)
        sgn = np.empty(n)
        xb = np.empty(n)
        yb = np.empty(n)
        for t in range(t_lo, t_hi):
            words[0] = t
            _signs_of(words, sgn)
            _swap_pairs1(x[r], y[r], sgn, xb, yb)
            null[r, t] = func(xb, yb)
    return null


@pjit(cache=False)
def _flip_custom_random(x, y, func, n_null, block, gens, base, observed, null):
    """Random within-pair swaps for a jitted ``func(x, y)`` (the draws of `_flip_random_mean`)."""
    k, n = x.shape
    nw = (n + _FLIP_BITS - 1) // _FLIP_BITS
    if base == 0:
        for r in range(k):
            observed[r] = func(x[r].copy(), y[r].copy())
    for j in numba.prange(len(gens)):
        i = np.int64(j)
        g = gens[i]
        b = base + i
        words = np.empty(nw, dtype=np.int64)
        sgn = np.empty(n)
        xb = np.empty(n)
        yb = np.empty(n)
        for t in range(b * block, min((b + 1) * block, n_null)):
            _flip_signs(g, words, sgn)
            for r in range(k):
                _swap_pairs1(x[r], y[r], sgn, xb, yb)
                null[r, t] = func(xb, yb)
    return null


@njit
def _next_permutation1(p):
    """Advance `p` to the next permutation in lexicographic order (repeated values: the next distinct
    arrangement, so a label vector enumerates each split once); False after the last."""
    n = p.shape[0]
    i = n - 2
    while i >= 0 and p[i] >= p[i + 1]:
        i -= 1
    if i < 0:
        return False
    j = n - 1
    while p[j] <= p[i]:
        j -= 1
    tmp = p[i]
    p[i] = p[j]
    p[j] = tmp
    lo = i + 1
    hi = n - 1
    while lo < hi:
        tmp = p[lo]
        p[lo] = p[hi]
        p[hi] = tmp
        lo += 1
        hi -= 1
    return True


@njit
def _shuffle1(g, p):
    """Full Fisher-Yates shuffle of `p` in place (the index rule of `_random_subset`)."""
    n = p.shape[0]
    for i in range(n - 1):
        j = i + np.int64(g.random() * (n - i))
        tmp = p[i]
        p[i] = p[j]
        p[j] = tmp


@njit
def _pair_r1(zx, zy, perm):
    """Pearson r of x with y re-paired by `perm`, from the standardised rows (sum zx_i zy_perm(i))."""
    s = 0.0
    for i in range(zx.shape[0]):
        s += zx[i] * zy[perm[i]]
    return s


@pjit
def _pair_exact_r(zx, zy, n_null, unit, lo, hi, state, state_next, observed, null):
    """All n! pairings of Pearson r, in lexicographic order of the permutation of y."""
    k, n = zx.shape
    if lo == 0:
        ident = np.arange(n)
        for r in range(k):
            observed[r] = _pair_r1(zx[r], zy[r], ident)
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
    for r in numba.prange(k):
        p = state.copy()
        for t in range(t_lo, t_hi):
            null[r, t] = _pair_r1(zx[r], zy[r], p)
            _next_permutation1(p)
        if r == 0:
            for i in range(n):
                state_next[i] = p[i]
    return null


@pjit
def _pair_random_r(zx, zy, n_null, block, gens, base, observed, null):
    """Random pairings of Pearson r: each block shuffles one permutation of y, from the identity."""
    k, n = zx.shape
    if base == 0:
        ident = np.arange(n)
        for r in range(k):
            observed[r] = _pair_r1(zx[r], zy[r], ident)
    for j in numba.prange(len(gens)):
        i = np.int64(j)
        g = gens[i]
        b = base + i
        p = np.arange(n)
        for t in range(b * block, min((b + 1) * block, n_null)):
            _shuffle1(g, p)
            for r in range(k):
                null[r, t] = _pair_r1(zx[r], zy[r], p)
    return null


@njit
def _repaired1(y, p, yb):
    for i in range(y.shape[0]):
        yb[i] = y[p[i]]


@pjit(cache=False)
def _pair_custom_exact(x, y, func, n_null, unit, lo, hi, state, state_next, observed, null):
    """All n! pairings for a jitted ``func(x, y)`` (y re-paired)."""
    k, n = x.shape
    if lo == 0:
        for r in range(k):
            observed[r] = func(x[r].copy(), y[r].copy())
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
    for r in numba.prange(k):
        p = state.copy()
        xb = x[r].copy()
        yb = np.empty(n)
        for t in range(t_lo, t_hi):
            _repaired1(y[r], p, yb)
            null[r, t] = func(xb, yb)
            _next_permutation1(p)
        if r == 0:
            for i in range(n):
                state_next[i] = p[i]
    return null


@pjit(cache=False)
def _pair_custom_random(x, y, func, n_null, block, gens, base, observed, null):
    """Random pairings for a jitted ``func(x, y)`` (the draws of `_pair_random_r`)."""
    k, n = x.shape
    if base == 0:
        for r in range(k):
            observed[r] = func(x[r].copy(), y[r].copy())
    for j in numba.prange(len(gens)):
        i = np.int64(j)
        g = gens[i]
        b = base + i
        p = np.arange(n)
        yb = np.empty(n)
        for t in range(b * block, min((b + 1) * block, n_null)):
            _shuffle1(g, p)
            for r in range(k):
                _repaired1(y[r], p, yb)
                null[r, t] = func(x[r].copy(), yb)
    return null


@njit
def _group_ss1(v, lab, sizes, sums):
    """sum_j S_j^2 / n_j of the groups `lab` (S_j: the sum of group j's values, in index order)."""
    for j in range(sums.shape[0]):
        sums[j] = 0.0
    for i in range(v.shape[0]):
        sums[lab[i]] += v[i]
    s = 0.0
    for j in range(sums.shape[0]):
        s += sums[j] * sums[j] / sizes[j]
    return s


@pjit
def _groups_exact_ss(v, sizes, n_null, unit, lo, hi, state, state_next, observed, null):
    """All multinomial splits of the between-groups sum of squares, in lexicographic order of the labels."""
    k, n = v.shape
    g_count = sizes.shape[0]
    if lo == 0:
        sums = np.empty(g_count)
        for r in range(k):
            observed[r] = _group_ss1(v[r], state, sizes, sums)  # lo == 0: state is the observed labels
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
    for r in numba.prange(k):
        p = state.copy()
        sums = np.empty(g_count)
        for t in range(t_lo, t_hi):
            null[r, t] = _group_ss1(v[r], p, sizes, sums)
            _next_permutation1(p)
        if r == 0:
            for i in range(n):
                state_next[i] = p[i]
    return null


@pjit
def _groups_random_ss(v, labels, sizes, n_null, block, gens, base, observed, null):
    """Random splits of the between-groups sum of squares: each block shuffles the labels, from `labels`."""
    k, n = v.shape
    g_count = sizes.shape[0]
    if base == 0:
        sums = np.empty(g_count)
        for r in range(k):
            observed[r] = _group_ss1(v[r], labels, sizes, sums)
    for j in numba.prange(len(gens)):
        i = np.int64(j)
        g = gens[i]
        b = base + i
        p = labels.copy()
        sums = np.empty(g_count)
        for t in range(b * block, min((b + 1) * block, n_null)):
            _shuffle1(g, p)
            for r in range(k):
                null[r, t] = _group_ss1(v[r], p, sizes, sums)
    return null


@njit
def _grouped1(v, lab, starts, buf, fill):
    """buf = v's values grouped by label (group j from starts[j], each in index order)."""
    for j in range(starts.shape[0]):
        fill[j] = starts[j]
    for i in range(v.shape[0]):
        buf[fill[lab[i]]] = v[i]
        fill[lab[i]] += 1


@pjit(cache=False)
def _groups_custom_exact(v, sizes, func, n_null, unit, lo, hi, state, state_next, observed, null):
    """All multinomial splits for a jitted ``func(pooled, sizes)`` (pooled: the groups one after another)."""
    k, n = v.shape
    g_count = sizes.shape[0]
    starts = np.zeros(g_count, dtype=np.int64)
    for j in range(1, g_count):
        starts[j] = starts[j - 1] + sizes[j - 1]
    if lo == 0:
        for r in range(k):
            observed[r] = func(v[r].copy(), sizes.copy())
    t_lo = lo * unit
    t_hi = min(hi * unit, n_null)
    for r in numba.prange(k):
        p = state.copy()
        buf = np.empty(n)
        fill = np.empty(g_count, dtype=np.int64)
        sz = sizes.copy()
        for t in range(t_lo, t_hi):
            _grouped1(v[r], p, starts, buf, fill)
            null[r, t] = func(buf, sz)
            _next_permutation1(p)
        if r == 0:
            for i in range(n):
                state_next[i] = p[i]
    return null


@pjit(cache=False)
def _groups_custom_random(v, labels, sizes, func, n_null, block, gens, base, observed, null):
    """Random splits for a jitted ``func(pooled, sizes)`` (the draws of `_groups_random_ss`)."""
    k, n = v.shape
    g_count = sizes.shape[0]
    starts = np.zeros(g_count, dtype=np.int64)
    for j in range(1, g_count):
        starts[j] = starts[j - 1] + sizes[j - 1]
    if base == 0:
        for r in range(k):
            observed[r] = func(v[r].copy(), sizes.copy())
    for j in numba.prange(len(gens)):
        i = np.int64(j)
        g = gens[i]
        b = base + i
        p = labels.copy()
        buf = np.empty(n)
        fill = np.empty(g_count, dtype=np.int64)
        sz = sizes.copy()
        for t in range(b * block, min((b + 1) * block, n_null)):
            _shuffle1(g, p)
            for r in range(k):
                _grouped1(v[r], p, starts, buf, fill)
                null[r, t] = func(buf, sz)
    return null
