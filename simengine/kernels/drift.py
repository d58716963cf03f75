"""Drift-detection kernels: PSI bin counts, DDM and ADWIN2 step functions and scans, detector simulations.

Only @njit code.  Detectors keep their state in a small float64 array so the batch scans over many streams
and the streaming classes of the public layer run the very same step function.  Validation lives in
`simengine.drift`.
"""
import math

import numba
import numpy as np

from simengine._jit import njit, pjit

# ----------------------------------------------------------------------------------------------------------
# PSI
# ----------------------------------------------------------------------------------------------------------

# Rows per chunk of the parallel counting passes; a constant, so counts never depend on the thread count
# (they are integers anyway, but the chunking also fixes the memory use).
PSI_CHUNK = 2048
# The inner loops of the PSI passes run over tiles of whole rows with at least this many values, so that
# they vectorise for few features too (one feature: 256 rows per tile; 200 features: one row).
PSI_TILE = 256


@njit
def _count_nonfinite(block):
    """Number of NaN and +-inf values in a 1-D array (v - v is NaN for those, 0 otherwise).

    An integer count, unlike a float sum, may be reordered, so the loop vectorises; it is a function of its
    own because the same loop written inside the `prange` body of the caller does not.
    """
    a = 0
    for i in range(block.shape[0]):
        v = block[i]
        a += (v - v) != 0.0
    return a


@pjit
def _nonfinite_probe(flat, acc):
    """Number of NaN and +-inf values per chunk of 65 536 values of the 1-D array, into `acc` (one slot per
    chunk, from the caller, who sums them), in parallel.

    One read with no temporary arrays, so validating big inputs costs about one memory pass.
    """
    n = flat.shape[0]
    for c in numba.prange(acc.shape[0]):
        ci = np.int64(c)
        acc[ci] = _count_nonfinite(flat[ci * 65536 : min(n, (ci + 1) * 65536)])


@njit
def _bin_index1(x, edges, lo, norm, uniform):
    """Bin of `x` for sorted `edges` (len k+1): i with edges[i] <= x < edges[i+1], last bin closed.

    Values below edges[0] go to bin 0 and values above edges[-1] to bin k-1.  With repeated edges a value
    goes to the last bin whose left edge is <= it, as in np.histogram.  With `uniform` the index is
    first guessed from (x - lo) * norm and then corrected against the edges, as np.histogram does, so the
    assignment is exactly the one of a search in the edges.
    """
    k = edges.shape[0] - 1
    if x < edges[0]:
        return 0
    if x >= edges[k]:
        return k - 1
    if uniform:
        return _bin_fix1(x, edges, lo, norm, k)
    # binary search: last i with edges[i] <= x
    a = 0
    b = k
    while b - a > 1:
        m = (a + b) >> 1
        if edges[m] <= x:
            a = m
        else:
            b = m
    return a


@njit
def _tile_len(p):
    """Values per tile: whole rows of `p` values, at least PSI_TILE of them."""
    return max(1, PSI_TILE // p) * p


@njit
def _scan_tiles(flat, start, stop, lo, hi, nn):
    """Fold flat[start:stop] (whole rows) into tile-long accumulators: value m of each tile into slot m.

    Slot m belongs to column m % p, since a tile holds whole rows.  The loop is branch-free so it vectorises.
    """
    size = lo.shape[0]
    for s in range(start, stop, size):
        tile = flat[s : min(stop, s + size)]
        for m in range(tile.shape[0]):
            v = tile[m]
            # NaN fails both comparisons, so it never becomes the min or max
            lo[m] = v if v < lo[m] else lo[m]
            hi[m] = v if v > hi[m] else hi[m]
            nn[m] += v != v


@pjit
def _colwise_scan(arr, mins, maxs, nans):
    """Per-chunk NaN-ignoring min and max, and NaN count, per column of a C-contiguous (rows x cols) array.

    Chunk c (rows c * PSI_CHUNK ...) writes mins[c], maxs[c] (filled with +inf / -inf by the caller) and
    nans[c] (zeros); the caller reduces them over chunks (min, max and integer sums: any order gives the
    same).  One parallel pass that also serves as the NaN/inf check of the public layer: an inf shows up as
    a min of -inf or a max of +inf, so the data is read once for both.  The kernel holds the one `prange`
    loop and nothing NumPy would turn into another parallel loop, which keeps its compilation short.
    """
    n, p = arr.shape
    flat = arr.reshape(n * p)
    size = _tile_len(p)
    for c in numba.prange(mins.shape[0]):
        ci = np.int64(c)
        lo = np.empty(size)
        hi = np.empty(size)
        nn = np.empty(size, dtype=np.int64)
        for m in range(size):
            lo[m] = np.inf
            hi[m] = -np.inf
            nn[m] = 0
        _scan_tiles(flat, ci * PSI_CHUNK * p, min(n, (ci + 1) * PSI_CHUNK) * p, lo, hi, nn)
        for m in range(size):
            j = m % p
            if lo[m] < mins[ci, j]:
                mins[ci, j] = lo[m]
            if hi[m] > maxs[ci, j]:
                maxs[ci, j] = hi[m]
            nans[ci, j] += nn[m]


@njit
def _colwise_scan1(arr, mins, maxs, nans):
    """`_colwise_scan` serially, for input of one row chunk (``mins.shape[0] == 1``): no parallel region
    to compile for a small call (the same loop, so the same numbers)."""
    n, p = arr.shape
    flat = arr.reshape(n * p)
    size = _tile_len(p)
    for ci in range(mins.shape[0]):
        lo = np.empty(size)
        hi = np.empty(size)
        nn = np.empty(size, dtype=np.int64)
        for m in range(size):
            lo[m] = np.inf
            hi[m] = -np.inf
            nn[m] = 0
        _scan_tiles(flat, ci * PSI_CHUNK * p, min(n, (ci + 1) * PSI_CHUNK) * p, lo, hi, nn)
        for m in range(size):
            j = m % p
            if lo[m] < mins[ci, j]:
                mins[ci, j] = lo[m]
            if hi[m] > maxs[ci, j]:
                maxs[ci, j] = hi[m]
            nans[ci, j] += nn[m]


@njit
def _bin_fix1(v, edges_j, lo, norm, k):
    """Exact bin of `v` for uniform edges: the guess from (v - lo) * norm corrected against the edges."""
    t = (v - lo) * norm
    b = k - 1 if t >= k - 1 else (int(t) if t > 0.0 else 0)
    while b > 0 and v < edges_j[b]:
        b -= 1
    while b < k - 1 and v >= edges_j[b + 1]:
        b += 1
    return b


@njit
def _count_tiles_uniform(flat, start, stop, cnt, edges, lo, norm, tol, base, idx):
    """Add flat[start:stop] (whole rows) to flat counts for uniform per-column edges.

    `lo`, `norm`, `tol` and `base` (= j * k) are per-column values repeated over a tile of whole rows, so
    slot m of a tile belongs to column m % p.  The bin is guessed from the uniform width; only a guess
    within rounding error of a bin boundary is checked against the edges (as np.histogram corrects), so the
    assignment is exact.  Out-of-range values end up in the end bins through the clipping; NaN fails every
    comparison and lands in bin 0.

    Each tile is done in two loops: a branch-free one that vectorises and writes the flat count index of
    every value (-1 for a guess that needs checking) into `idx`, then the scattered increments.
    """
    p = edges.shape[0]
    k = edges.shape[1] - 1
    last = float(k - 1)
    size = lo.shape[0]
    for s in range(start, stop, size):
        tile = flat[s : min(stop, s + size)]
        n_check = 0
        for m in range(tile.shape[0]):
            v = tile[m]
            t = (v - lo[m]) * norm[m]
            tc = t if t > 0.0 else 0.0  # also maps NaN to 0
            tc = tc if tc < last else last
            b = np.int64(tc)
            fr = t - b if t > 0.0 else 0.5
            check = (fr < tol[m]) | ((fr > 1.0 - tol[m]) & (b < k - 1))
            n_check += check
            idx[m] = -1 if check else base[m] + b
        if n_check:
            for m in range(tile.shape[0]):
                if idx[m] < 0:
                    idx[m] = base[m] + _bin_fix1(tile[m], edges[m % p], lo[m], norm[m], k)
        for m in range(tile.shape[0]):
            cnt[np.uint64(idx[m])] += 1  # unsigned: no negative-index wraparound code in the hot loop


@njit
def _count_rows_search(arr, start, stop, cnt, edges):
    """Add rows [start, stop) to flat counts by binary search in each column's edges (NaN lands in bin 0)."""
    p = arr.shape[1]
    k = edges.shape[1] - 1
    for i in range(start, stop):
        row = arr[i]
        for j in range(p):
            cnt[j * k + _bin_index1(row[j], edges[j], 0.0, 0.0, False)] += 1


@njit
def _count_tables(edges, size, uniform):
    """Per-slot tables of the uniform counting pass for tiles of `size` values (whole rows of p columns):
    lo, norm, tol and base (= j * k) of column j = m % p at slot m; and whether the uniform guess applies."""
    p = edges.shape[0]
    k = edges.shape[1] - 1
    lo_t = np.empty(size)
    norm_t = np.empty(size)
    tol_t = np.empty(size)
    base_t = np.empty(size, dtype=np.int64)
    for j in range(p):
        width = edges[j, k] - edges[j, 0]
        if not (width < np.inf):
            # the span overflows float64 (edges near +-1.8e308): no bin guess from it, search the edges
            uniform = False
    for m in range(size):
        j = m % p
        lo = edges[j, 0]
        width = edges[j, k] - edges[j, 0]
        norm = k / width if width > 0 else 0.0
        # generous bound (64 ulps) on the rounding error of t = (v - lo) * norm relative to the computed edges,
        # in bin units; when it is not small every value is checked against the edges
        tol = 64.0 * 2.0 ** -52 * (k + (abs(edges[j, 0]) + abs(edges[j, k])) * norm)
        if not (tol < 0.25) or not (0.0 < width < np.inf):
            tol = 1.0
        lo_t[m] = lo
        norm_t[m] = norm
        tol_t[m] = tol
        base_t[m] = j * k
    return lo_t, norm_t, tol_t, base_t, uniform


@pjit
def _counts_uniform(arr, edges, part, lo_t, norm_t, tol_t, base_t):
    """Histogram counts per row chunk and column for uniform edges: part[c, j, b] += values of chunk c
    (PSI_CHUNK rows) of column j in bin b of edges[j] (part: chunks x cols x k, zeros from the caller).

    The per-slot tables come from `_count_tables`.  NaN is not tested for: it fails every comparison and
    lands in bin 0, and the caller takes the NaN counts of its scan out of bin 0; the caller also sums the
    chunks (integers: any order gives the same).  Only the `prange` loop runs here (no NumPy call that the
    parallel compiler would turn into another parallel loop), and the edge search is a kernel of its own
    (`_counts_search`), which keeps each compilation short.
    """
    n, p = arr.shape
    size = lo_t.shape[0]
    flat = arr.reshape(n * p)
    for c in numba.prange(part.shape[0]):
        ci = np.int64(c)
        cnt = part[ci].reshape(p * (edges.shape[1] - 1))  # flat per-chunk counts: bin b of column j at j * k + b
        idx = np.empty(size, dtype=np.int64)
        _count_tiles_uniform(flat, ci * PSI_CHUNK * p, min(n, (ci + 1) * PSI_CHUNK) * p, cnt, edges, lo_t, norm_t,
                             tol_t, base_t, idx)


@njit
def _counts_uniform1(arr, edges, part, lo_t, norm_t, tol_t, base_t):
    """`_counts_uniform` serially, for input of one row chunk (see `_colwise_scan1`)."""
    n, p = arr.shape
    size = lo_t.shape[0]
    flat = arr.reshape(n * p)
    for ci in range(part.shape[0]):
        cnt = part[ci].reshape(p * (edges.shape[1] - 1))
        idx = np.empty(size, dtype=np.int64)
        _count_tiles_uniform(flat, ci * PSI_CHUNK * p, min(n, (ci + 1) * PSI_CHUNK) * p, cnt, edges, lo_t, norm_t,
                             tol_t, base_t, idx)


@pjit
def _counts_search(arr, edges, part):
    """`_counts_uniform` by binary search in each column's edges (any sorted edges)."""
    n, p = arr.shape
    for c in numba.prange(part.shape[0]):
        ci = np.int64(c)
        cnt = part[ci].reshape(p * (edges.shape[1] - 1))
        _count_rows_search(arr, ci * PSI_CHUNK, min(n, (ci + 1) * PSI_CHUNK), cnt, edges)


# Radix digits of the sliced sort of one reference column (`simengine.drift._column_quantiles`)
SORT_DIGIT_BITS = 11  # 2048 buckets: the scatter's write streams stay in cache (16 bits: 3x slower)
SORT_DIGITS = 6  # 6 x 11 bits cover the 64 of a key
_SORT_MASK = np.uint64((1 << SORT_DIGIT_BITS) - 1)


@njit
def _radix_keys(arr, j, lo, hi, keys, counts):
    """keys[i] = order-preserving uint64 key of arr[i, j] (NaN: the largest key) for lo <= i < hi, and
    ``counts[d, digit d of the key] += 1`` for its `SORT_DIGITS` digits; returns the number of NaN."""
    scratch = np.empty(1)
    bits = scratch.view(np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    n_nan = 0
    for i in range(lo, hi):
        v = arr[i, j]
        if v != v:
            k = ~np.uint64(0)
            n_nan += 1
        else:
            scratch[0] = v
            b = bits[0]
            k = ~b if b & sign else b | sign
        keys[i] = k
        for d in range(SORT_DIGITS):
            counts[d, (k >> np.uint64(SORT_DIGIT_BITS * d)) & _SORT_MASK] += 1
    return n_nan


@njit
def _radix_scatter(src, dst, lo, hi, shift, starts):
    """One stable counting-sort step: src[lo:hi] to dst by the digit at `shift`.

    ``starts[d]`` is the next free slot of digit d, advanced here; consecutive ranges of one pass, in
    order, give the stable scatter of the whole array, so a pass can run in slices.
    """
    for i in range(lo, hi):
        k = src[i]
        d = (k >> shift) & _SORT_MASK
        pos = starts[d]
        starts[d] = pos + 1
        dst[pos] = k


@njit
def _counts_search1(arr, edges, part):
    """`_counts_search` serially, for input of one row chunk (see `_colwise_scan1`)."""
    n, p = arr.shape
    for ci in range(part.shape[0]):
        cnt = part[ci].reshape(p * (edges.shape[1] - 1))
        _count_rows_search(arr, ci * PSI_CHUNK, min(n, (ci + 1) * PSI_CHUNK), cnt, edges)


@njit
def _psi_from_counts1(ref_counts, n_ref, cur_counts, n_cur, eps):
    """sum((c - r) * ln(c / r)) over bins, with `eps` added to both proportions; nan if a side is empty."""
    if n_ref == 0 or n_cur == 0:
        return math.nan
    total = 0.0
    for b in range(ref_counts.shape[0]):
        r = ref_counts[b] / n_ref + eps
        c = cur_counts[b] / n_cur + eps
        total += (c - r) * math.log(c / r)
    return total


@njit
def _psi_columns(ref_counts, ref_valid, cur_counts, cur_valid, eps):
    p = ref_counts.shape[0]
    out = np.empty(p)
    for j in range(p):
        out[j] = _psi_from_counts1(ref_counts[j], ref_valid[j], cur_counts[j], cur_valid[j], eps)
    return out


@njit
def _equal_width_edges(lo, hi, bins):
    """Equal-width edges (cols x bins+1) over per-column [lo, hi], the last edge exactly hi.

    A column with hi <= lo (constant, or no finite value: lo = inf) gets edges that put every value in one
    bin, so its PSI is 0 (or nan when a side has no value).
    """
    p = lo.shape[0]
    edges = np.empty((p, bins + 1))
    for j in range(p):
        a = lo[j]
        z = hi[j]
        if not (z > a):  # constant column, or all NaN
            if not (a < np.inf):
                a = 0.0
            z = a
        step = (z - a) / bins
        if step < np.inf:
            for b in range(bins + 1):
                edges[j, b] = a + b * step
        else:
            # z - a overflows for values near the float64 limits (and a + b * step can too, even with a
            # finite step): weigh the two ends instead, each term at most max(|a|, |z|) and monotone in b
            for b in range(bins + 1):
                edges[j, b] = a * ((bins - b) / bins) + z * (b / bins)
        edges[j, bins] = z
    return edges


@pjit
def _psi_windows(ref_props, edges, uniform, values, offsets, eps):
    """PSI of each window values[offsets[w]:offsets[w+1]] against fixed reference proportions.

    `ref_props` are the reference proportions with eps already added; NaN in a window is not counted.
    """
    nw = offsets.shape[0] - 1
    k = edges.shape[0] - 1
    out = np.empty(nw)
    lo = edges[0]
    width = edges[k] - edges[0]
    norm = k / width if width > 0 else 0.0
    if not (width < np.inf):  # the span overflows float64: search the edges instead of guessing
        uniform = False
    for w in numba.prange(nw):
        wi = np.int64(w)
        cnt = np.zeros(k, dtype=np.int64)
        nvalid = 0
        for i in range(offsets[wi], offsets[wi + 1]):
            v = values[i]
            if v != v:
                continue
            cnt[_bin_index1(v, edges, lo, norm, uniform)] += 1
            nvalid += 1
        out[wi] = _psi_props1(cnt, nvalid, ref_props, eps)
    return out


@njit
def _psi_windows1(ref_props, edges, uniform, values, offsets, eps):
    """`_psi_windows` serially, for little work (one streaming window, a small call): no parallel region to
    compile; the same loop, so the same numbers."""
    nw = offsets.shape[0] - 1
    k = edges.shape[0] - 1
    out = np.empty(nw)
    lo = edges[0]
    width = edges[k] - edges[0]
    norm = k / width if width > 0 else 0.0
    if not (width < np.inf):  # the span overflows float64: search the edges instead of guessing
        uniform = False
    for wi in range(nw):
        cnt = np.zeros(k, dtype=np.int64)
        nvalid = 0
        for i in range(offsets[wi], offsets[wi + 1]):
            v = values[i]
            if v != v:
                continue
            cnt[_bin_index1(v, edges, lo, norm, uniform)] += 1
            nvalid += 1
        out[wi] = _psi_props1(cnt, nvalid, ref_props, eps)
    return out


@njit
def _psi_props1(cnt, nvalid, ref_props, eps):
    """PSI of one window's bin counts `cnt` (int64, `nvalid` values in all) against reference proportions
    `ref_props` (eps already added); nan for an empty window.  `_psi_windows` uses it for every window, and
    the public layer for a window counted in pieces, so both give the same bits."""
    if nvalid == 0:
        return math.nan
    total = 0.0
    for b in range(cnt.shape[0]):
        c = cnt[b] / nvalid + eps
        r = ref_props[b]
        total += (c - r) * math.log(c / r)
    return total


@njit
def _streaks(flags, consecutive):
    """Run length of consecutive True flags ending at each window, and the alert flag (run >= consecutive)."""
    n = flags.shape[0]
    streak = np.zeros(n, dtype=np.int64)
    alert = np.zeros(n, dtype=np.bool_)
    run = 0
    for i in range(n):
        run = run + 1 if flags[i] else 0
        streak[i] = run
        alert[i] = run >= consecutive
    return streak, alert


# ----------------------------------------------------------------------------------------------------------
# DDM (Gama et al. 2004)
# ----------------------------------------------------------------------------------------------------------

# state layout: n, mean error rate p, p_min, s_min, p_min + s_min, drift flag of the previous step
DDM_STATE_SIZE = 6


@njit
def _ddm_init(state):
    state[0] = 0.0
    state[1] = 0.0
    state[2] = math.nan
    state[3] = math.nan
    state[4] = math.inf
    state[5] = 0.0


@njit
def _ddm_step(state, x, warning_threshold, drift_threshold, warm_start, reset):
    """One DDM update with error indicator `x` (0 or 1); returns 0 normal, 1 warning, 2 drift.

    p_min and s_min are tracked only once more than `warm_start` samples have been seen (Gama et al. 2004
    start the test after the warm-up; tracking them from the first sample makes p_min + s_min = 0 after a
    first run of zeros and fires a false drift as soon as the warm-up ends).  With `reset`, the statistics
    restart at the update that follows a drift.
    """
    if reset and state[5] != 0.0:
        _ddm_init(state)
    n = state[0] + 1.0
    state[0] = n
    p = state[1] + (1.0 / n) * (x - state[1])
    state[1] = p
    s = math.sqrt(p * (1.0 - p) / n)
    status = 0
    if n > warm_start:
        if p + s <= state[4]:
            state[2] = p
            state[3] = s
            state[4] = p + s
        if p + s > state[2] + drift_threshold * state[3]:
            status = 2
        elif p + s > state[2] + warning_threshold * state[3]:
            status = 1
    state[5] = 1.0 if status == 2 else 0.0
    return status


@njit
def _ddm_update(n, p, p_min, s_min, ps_min, drifted, x, warning_threshold, drift_threshold, warm_start, reset):
    """`_ddm_step` on unpacked state, without branches: returns the new (n, p, p_min, s_min, ps_min,
    drifted, status).

    The same operations on the same values as `_ddm_step`, so the same bits; only the control flow differs.
    With selects instead of branches, a loop over streams that calls it vectorises (the SIMD path of
    `_ddm_scan`); one stream alone runs faster through `_ddm_step`'s well-predicted branches.
    tests/test_drift.py checks the two step for step.
    """
    restart = reset & drifted
    n = 1.0 if restart else n + 1.0
    p0 = 0.0 if restart else p
    p_min = math.nan if restart else p_min
    s_min = math.nan if restart else s_min
    ps_min = math.inf if restart else ps_min
    p = p0 + (1.0 / n) * (x - p0)
    s = math.sqrt(p * (1.0 - p) / n)
    ps = p + s
    active = n > warm_start
    better = active & (ps <= ps_min)
    p_min = p if better else p_min
    s_min = s if better else s_min
    ps_min = ps if better else ps_min
    drift = active & (ps > p_min + drift_threshold * s_min)
    warn = active & (ps > p_min + warning_threshold * s_min)
    status = 2 if drift else (1 if warn else 0)
    return n, p, p_min, s_min, ps_min, drift, status


@njit
def _ddm_row(x, status, state, t_lo, t_hi, fwdn, warning_threshold, drift_threshold, warm_start, reset):
    """DDM over steps [t_lo, t_hi) of one stream `x` (1-D, 0/1) from `state`, writing `status`.

    `fwdn` holds (first_warning, first_drift, n_drifts) so far, -1 where none; updated in place, as `state`
    is, so that a stream can run in segments with the same numbers as in one pass."""
    fw = fwdn[0]
    fd = fwdn[1]
    nd = fwdn[2]
    for t in range(t_lo, t_hi):
        st = _ddm_step(state, float(x[t]), warning_threshold, drift_threshold, warm_start, reset)
        status[t] = st
        if st == 1:
            if fw < 0:
                fw = t
        elif st == 2:
            nd += 1
            if fd < 0:
                fd = t
    fwdn[0] = fw
    fwdn[1] = fd
    fwdn[2] = nd


# A thread steps a group of up to DDM_GROUP streams in lockstep, their states held field by field across
# streams, so the per-stream update (two divisions and a square root, latency-bound for one stream) runs as
# SIMD over streams.  Steps go in blocks of DDM_BLOCK, transposed to step-major order so that each step
# reads and writes the group's streams contiguously.  The stream loop runs over at least DDM_MIN_LANES
# lanes, rounded up to a multiple of DDM_LANES (the AVX-512 width in doubles), padding with all-zero
# streams whose results are dropped: LLVM keeps the scalar loop below about 24 iterations (the price of its
# run-time alias checks), and 24 SIMD lanes still beat 9 or more streams run one by one.  At most
# DDM_ROWS_MAX streams run one by one through `_ddm_step` (`_ddm_scan_rows`).  Streams never interact, so none of
# this changes a result.
DDM_GROUP = 64
DDM_BLOCK = 64
DDM_LANES = 8
DDM_MIN_LANES = 24
DDM_ROWS_MAX = 8


@njit
def _ddm_fresh(state, fwdn, r_lo, r_hi):
    """Fresh detectors for streams [r_lo, r_hi): states (rows from 0) and (first_warning, first_drift,
    n_drifts) = (-1, -1, 0)."""
    for i in range(r_hi - r_lo):
        _ddm_init(state[i])
        fwdn[r_lo + i, 0] = -1
        fwdn[r_lo + i, 1] = -1
        fwdn[r_lo + i, 2] = 0


@pjit
def _ddm_scan_rows(errors, status, state, fwdn, r_lo, r_hi, t_lo, t_hi, warning_threshold, drift_threshold,
                   warm_start, reset):
    """`_ddm_scan` for at most DDM_ROWS_MAX streams: each through `_ddm_step` (one stream alone runs faster on
    its well-predicted branches than in SIMD lanes).  A kernel of its own, so that a call compiles only the
    path it runs."""
    if t_lo == 0:
        _ddm_fresh(state, fwdn, r_lo, r_hi)
    for i in numba.prange(r_hi - r_lo):
        ii = np.int64(i)
        _ddm_row(errors[r_lo + ii], status[r_lo + ii], state[ii], t_lo, t_hi, fwdn[r_lo + ii],
                 warning_threshold, drift_threshold, warm_start, reset)


@pjit
def _ddm_scan(errors, status, state, fwdn, r_lo, r_hi, t_lo, t_hi, warning_threshold, drift_threshold, warm_start,
              reset):
    """DDM over rows [r_lo, r_hi) (more than DDM_ROWS_MAX of them; fewer: `_ddm_scan_rows`) and steps
    [t_lo, t_hi) of `errors` (streams x steps, values 0/1), groups of streams in parallel, into `status`.

    `state` (r_hi - r_lo rows of DDM_STATE_SIZE) holds each stream's detector and `fwdn` (streams x 3:
    first_warning, first_drift, n_drifts, -1 where none) what it found so far; both are read and updated, so a
    stream cut into segments of steps gives exactly the numbers of one pass.  With t_lo == 0 the states start
    fresh and `fwdn` from (-1, -1, 0).  `status` (int8, the shape of `errors`) comes from the caller: NumPy
    asks the kernel for huge pages for big arrays, numba's allocator does not, and first-touch page faults on
    10^8 bytes of 4 KiB pages cost about a third of the scan.
    """
    ns = r_hi - r_lo
    if t_lo == 0:
        _ddm_fresh(state, fwdn, r_lo, r_hi)
    # as few groups as groups of DDM_GROUP need, but of even sizes, so that threads get even shares (more
    # than DDM_ROWS_MAX streams: every group has more than DDM_ROWS_MAX too; fewer run in `_ddm_scan_rows`)
    n_groups = (ns + DDM_GROUP - 1) // DDM_GROUP
    size = (ns + n_groups - 1) // n_groups
    for grp in numba.prange(n_groups):
        lo = np.int64(grp) * size
        m = min(ns, lo + size) - lo
        lanes = max(DDM_MIN_LANES, (m + DDM_LANES - 1) // DDM_LANES * DDM_LANES)
        # padding streams m..lanes-1 start fresh and read only zeros; their results are dropped.  Plain loops
        # rather than np.zeros / np.full, which the parallel compiler would turn into loops of its own.
        sn = np.empty(lanes)
        sp = np.empty(lanes)
        sp_min = np.empty(lanes)
        ss_min = np.empty(lanes)
        sps_min = np.empty(lanes)
        sdrift = np.empty(lanes, dtype=np.bool_)
        fw = np.empty(lanes, dtype=np.int64)
        fd = np.empty(lanes, dtype=np.int64)
        nd = np.empty(lanes, dtype=np.int64)
        xb = np.empty((DDM_BLOCK, lanes), dtype=np.uint8)
        for r in range(lanes):
            sn[r] = 0.0
            sp[r] = 0.0
            sp_min[r] = math.nan
            ss_min[r] = math.nan
            sps_min[r] = math.inf
            sdrift[r] = False
            fw[r] = -1
            fd[r] = -1
            nd[r] = 0
            for t in range(DDM_BLOCK):
                xb[t, r] = 0
        for r in range(m):
            s = state[lo + r]
            sn[r] = s[0]
            sp[r] = s[1]
            sp_min[r] = s[2]
            ss_min[r] = s[3]
            sps_min[r] = s[4]
            sdrift[r] = s[5] != 0.0
            fw[r] = fwdn[r_lo + lo + r, 0]
            fd[r] = fwdn[r_lo + lo + r, 1]
            nd[r] = fwdn[r_lo + lo + r, 2]
        sb = np.empty((DDM_BLOCK, lanes), dtype=np.int8)
        for t0 in range(t_lo, t_hi, DDM_BLOCK):
            tn = min(DDM_BLOCK, t_hi - t0)
            for r in range(m):
                for t in range(tn):
                    xb[t, r] = errors[r_lo + lo + r, t0 + t]
            for t in range(tn):
                for r in range(lanes):
                    n, p, p_min, s_min, ps_min, drift, st = _ddm_update(
                        sn[r], sp[r], sp_min[r], ss_min[r], sps_min[r], sdrift[r], float(xb[t, r]),
                        warning_threshold, drift_threshold, warm_start, reset,
                    )
                    sn[r] = n
                    sp[r] = p
                    sp_min[r] = p_min
                    ss_min[r] = s_min
                    sps_min[r] = ps_min
                    sdrift[r] = drift
                    sb[t, r] = st
                    # selects rather than branches, so this bookkeeping vectorises with the update
                    fw[r] = t0 + t if (st == 1) & (fw[r] < 0) else fw[r]
                    fd[r] = t0 + t if drift & (fd[r] < 0) else fd[r]
                    nd[r] += drift
            for r in range(m):
                for t in range(tn):
                    status[r_lo + lo + r, t0 + t] = sb[t, r]
        for r in range(m):
            s = state[lo + r]
            s[0] = sn[r]
            s[1] = sp[r]
            s[2] = sp_min[r]
            s[3] = ss_min[r]
            s[4] = sps_min[r]
            s[5] = 1.0 if sdrift[r] else 0.0
            fwdn[r_lo + lo + r, 0] = fw[r]
            fwdn[r_lo + lo + r, 1] = fd[r]
            fwdn[r_lo + lo + r, 2] = nd[r]


@pjit
def _collect_indices(flags, value, counts, first, r_lo, t_lo, t_hi, offsets, flat):
    """Positions t in [t_lo, t_hi) where flags[i, t] == value, for rows r_lo .. r_lo + len(counts) - 1, row by
    row, into flat[offsets[i]:offsets[i + 1]] (offsets: the cumulative `counts`, from the caller).

    `counts` (how many per row in the range) and `first` (no hit before it, per row) come from the scan, so
    each row is read from max(t_lo, first) on, only until its last hit, and rows without any are skipped.
    """
    for i in numba.prange(counts.shape[0]):
        ii = np.int64(i)
        if counts[ii] == 0:
            continue
        k = offsets[ii]
        end = offsets[ii + 1]
        t = max(t_lo, first[ii])
        row = flags[r_lo + ii]
        while k < end and t < t_hi:
            if row[t] == value:
                flat[k] = t
                k += 1
            t += 1


# ----------------------------------------------------------------------------------------------------------
# ADWIN2 (Bifet & Gavalda 2007) as river.drift.ADWIN computes it: exponential histogram of buckets, cut
# test at bucket boundaries with river's bound, and a fresh detector after every detection
# ----------------------------------------------------------------------------------------------------------

ADWIN_LEVELS = 48  # bucket sizes 1, 2, ..., 2**47: more than any stream holds
# header: width, total, M2 of the window, updates since the (re)start modulo `clock` (river tests when its
# tick is a multiple of clock; a counter that wraps avoids a floating-point modulo per update), detections
# since construction, "a detection at the last update" flag, number of levels in use
ADWIN_HEADER = 7
# Largest `max_buckets` the public layer accepts: the state is ~96 x max_buckets doubles per stream and
# the cut test visits every bucket at each check, so beyond a few hundred buckets ADWIN only gets slower
# (river and the paper use 5).  The bound also keeps the state size far inside int64.
ADWIN_MAX_BUCKETS = 1000


@njit
def _adwin_state_size(max_buckets):
    """Doubles of state for `max_buckets` (<= ADWIN_MAX_BUCKETS, checked by the public layer)."""
    return ADWIN_HEADER + ADWIN_LEVELS + 2 * ADWIN_LEVELS * (max_buckets + 1)


@njit
def _adwin_init(state):
    """A fresh detector; the count of detections (state[4]) survives, as a running total."""
    kept = state[4]
    state[:] = 0.0
    state[4] = kept
    state[6] = 1.0  # river starts with one (empty) level


@njit
def _adwin_cut_found(state, delta, max_buckets, min_len):
    """True if some split of the window at a bucket boundary (the newest bucket always in W1) has
    |mean0 - mean1| > eps_cut, with river's bound.

    eps_cut = sqrt(2 m v ln(2 ln(n) / delta)) + (2/3) m ln(2 ln(n) / delta), m = 1/(n0 - L + 1) +
    1/(n1 - L + 1), L = min_window_length, v = M2 / n the window's variance; W0 (sums accumulated from the
    oldest bucket) is the older part.  The arithmetic is river's, operation for operation, so the decisions
    are bit for bit river's.
    """
    cap = max_buckets + 1
    H = ADWIN_HEADER
    L = ADWIN_LEVELS
    n = state[0]
    total = state[1]
    var = state[2] / n
    log_term = math.log(2.0 * math.log(n) / delta)
    n0 = 0.0
    n1 = n
    u0 = 0.0
    u1 = total
    for lev in range(int(state[6]) - 1, -1, -1):
        cnt = int(state[H + lev])
        size = float(1 << lev)
        base = H + L + lev * cap
        for j in range(cnt):
            t = state[base + j]
            n0 += size
            n1 -= size
            u0 += t
            u1 -= t
            if lev == 0 and j == cnt - 1:
                return False  # the newest bucket stays in W1
            if n1 < min_len:
                return False  # n1 only shrinks: no later split qualifies
            if n0 >= min_len:
                m_recip = 1.0 / (n0 - min_len + 1.0) + 1.0 / (n1 - min_len + 1.0)
                eps = math.sqrt(2.0 * m_recip * var * log_term) + 2.0 / 3.0 * log_term * m_recip
                if abs(u0 / n0 - u1 / n1) > eps:
                    return True
    return False


@njit
def _adwin_drop_oldest(state, max_buckets):
    """Remove the oldest bucket (first of the top level in use) and its share of the window's moments."""
    cap = max_buckets + 1
    H = ADWIN_HEADER
    L = ADWIN_LEVELS
    sums = H + L
    m2s = H + L + L * cap
    top = int(state[6]) - 1
    b = top * cap
    nb = float(1 << top)
    u = state[sums + b]
    v = state[m2s + b]
    mu = u / nb
    state[0] -= nb
    state[1] -= u
    mu_w = state[1] / state[0]
    state[2] -= v + nb * state[0] * (mu - mu_w) * (mu - mu_w) / (nb + state[0])
    cnt = int(state[H + top])
    for j in range(cnt - 1):
        state[sums + b + j] = state[sums + b + j + 1]
        state[m2s + b + j] = state[m2s + b + j + 1]
    state[H + top] = cnt - 1
    if cnt == 1 and top > 0:
        state[6] = top


@njit
def _adwin_step(state, x, delta, max_buckets, min_len, grace_period, clock):
    """One update of river's ADWIN with value `x`; returns True if the window was cut (a detection).

    After a detection the next update starts from a fresh detector (river replaces its window helper), so
    the window, its moments and the clock restart.  Otherwise: `x` enters as a bucket of size 1, the two
    oldest buckets of a level holding `max_buckets` + 1 merge into the level above, and every `clock`-th
    update, once the window holds more than `grace_period` values, the oldest bucket is dropped while some
    split is significant (`_adwin_cut_found`).
    """
    if state[5] != 0.0:
        _adwin_init(state)
    cap = max_buckets + 1
    H = ADWIN_HEADER
    L = ADWIN_LEVELS
    sums = H + L
    m2s = H + L + L * cap
    # window moments, in river's order of operations
    w = state[0] + 1.0
    state[0] = w
    if w > 1.0:
        dv = x - state[1] / (w - 1.0)
        state[2] += (w - 1.0) * dv * dv / w
    state[1] += x
    # new bucket at level 0 (newest last)
    cnt = int(state[H])
    state[sums + cnt] = x
    state[m2s + cnt] = 0.0
    state[H] = cnt + 1
    lev = 0
    while int(state[H + lev]) == cap:
        if lev == L - 1:
            # the top level has no level above to merge into: forget its oldest bucket rather than write
            # past the state (only after ~max_buckets x 2**47 values without a cut)
            _adwin_drop_oldest(state, max_buckets)
            break
        b = lev * cap
        size = float(1 << lev)
        t0 = state[sums + b]
        t1 = state[sums + b + 1]
        mu1 = t0 / size
        mu2 = t1 / size
        v12 = state[m2s + b] + state[m2s + b + 1] + size * 0.5 * (mu1 - mu2) * (mu1 - mu2)
        if lev + 1 >= int(state[6]):
            state[6] = lev + 2
        up = (lev + 1) * cap
        cnt_up = int(state[H + lev + 1])
        state[sums + up + cnt_up] = t0 + t1
        state[m2s + up + cnt_up] = v12
        state[H + lev + 1] = cnt_up + 1
        for j in range(cap - 2):
            state[sums + b + j] = state[sums + b + j + 2]
            state[m2s + b + j] = state[m2s + b + j + 2]
        state[H + lev] = cap - 2
        lev += 1
    # cut test, every `clock` updates since the (re)start
    tick = state[3] + 1.0
    if tick >= clock:
        tick = 0.0
    state[3] = tick
    detected = False
    if tick == 0.0 and state[0] > grace_period:
        while _adwin_cut_found(state, delta, max_buckets, min_len):
            _adwin_drop_oldest(state, max_buckets)
            detected = True
    if detected:
        state[4] += 1.0
        state[5] = 1.0
    return detected


@pjit
def _adwin_scan(values, detected, state, summary, r_lo, r_hi, t_lo, t_hi, delta, max_buckets, min_len,
                grace_period, clock):
    """ADWIN over rows [r_lo, r_hi) and steps [t_lo, t_hi) of `values` (streams x steps), rows in parallel.

    Sets detected[i, t] (bool, streams x steps, False on entry) at each detection.  `state` (r_hi - r_lo rows
    of `_adwin_state_size(max_buckets)`) holds each stream's detector and is read and updated, so a stream
    cut into segments of steps gives exactly the numbers of one pass; with t_lo == 0 the states start fresh.
    Writes summary[i] = (first detection or -1, width, number of detections) so far, and returns nothing
    else: the window mean is state[i, 1] / state[i, 0] (0 for an empty window).
    """
    ns = r_hi - r_lo
    for i in numba.prange(ns):
        ii = np.int64(i)
        s = state[ii]
        r = r_lo + ii
        if t_lo == 0:
            s[4] = 0.0  # no detections yet (`_adwin_init` keeps that count and clears the rest)
            _adwin_init(s)
            summary[r, 0] = -1
        row = values[r]
        fd = summary[r, 0]
        for t in range(t_lo, t_hi):
            if _adwin_step(s, row[t], delta, max_buckets, min_len, grace_period, clock):
                detected[r, t] = True
                if fd < 0:
                    fd = t
        summary[r, 0] = fd
        summary[r, 1] = int(s[0])
        summary[r, 2] = int(s[4])


@njit
def _adwin_scan1(values, detected, state, summary, r_lo, r_hi, t_lo, t_hi, delta, max_buckets, min_len,
                 grace_period, clock):
    """`_adwin_scan` serially, for little work: no parallel region to compile for a small call; the same
    loop, so the same numbers."""
    for ii in range(r_hi - r_lo):
        s = state[ii]
        r = r_lo + ii
        if t_lo == 0:
            s[4] = 0.0  # no detections yet (`_adwin_init` keeps that count and clears the rest)
            _adwin_init(s)
            summary[r, 0] = -1
        row = values[r]
        fd = summary[r, 0]
        for t in range(t_lo, t_hi):
            if _adwin_step(s, row[t], delta, max_buckets, min_len, grace_period, clock):
                detected[r, t] = True
                if fd < 0:
                    fd = t
        summary[r, 0] = fd
        summary[r, 1] = int(s[0])
        summary[r, 2] = int(s[4])


# ----------------------------------------------------------------------------------------------------------
# Detector simulations on Bernoulli error streams: generation fused with detection
# ----------------------------------------------------------------------------------------------------------

SIM_BLOCK = 64  # streams per RNG block


@njit
def _error_rate1(t, drift_start, drift_end, p0, p1):
    """Error probability at step t: p0 before drift_start, p1 from drift_end, linear in between.

    A sudden drift has drift_end == drift_start.
    """
    if t < drift_start:
        return p0
    if t >= drift_end:
        return p1
    return p0 + (p1 - p0) * (t - drift_start) / (drift_end - drift_start)


@pjit
def _simulate_ddm(gens, n_streams, n_steps, drift_start, drift_end, p0, p1, fparams, iparams, b0, n_false,
                  first_after):
    """Generate Bernoulli error streams block by block and run DDM on each, without storing streams.

    `gens` are the generators of blocks b0, b0 + 1, ... (a slice of all blocks, so that the public layer can
    run them in slices); the outputs cover the streams of those blocks, in order.  Stream s of block b draws
    u_t = gens[b].random() for t = 0..n_steps-1 (streams of a block in order) and x_t = 1 if u_t < p(t).
    fparams: warning, drift level; iparams: warm_start, reset.  A stream stops drawing at its first
    detection at or after drift_start, so the next stream continues the block's generator from there.
    Writes per stream of these blocks (arrays from the caller, one slot per stream, so that no NumPy
    constructor becomes a parallel loop of its own): number of detections before drift_start into
    `n_false`, and the first detection index at or after drift_start (-1 if none) into `first_after`.
    One kernel per detector (`_simulate_adwin`): a call compiles only the detector it runs.
    """
    nb = len(gens)
    s0 = b0 * SIM_BLOCK
    for b in numba.prange(nb):
        bl = np.int64(b)
        gen = gens[bl]
        bi = b0 + bl
        state = np.empty(DDM_STATE_SIZE)  # each stream starts from a fresh detector below
        stop = min(n_streams, (bi + 1) * SIM_BLOCK)
        for s in range(bi * SIM_BLOCK - s0, stop - s0):
            _ddm_init(state)
            nf = 0
            fa = -1
            for t in range(n_steps):
                x = 1.0 if gen.random() < _error_rate1(t, drift_start, drift_end, p0, p1) else 0.0
                if _ddm_step(state, x, fparams[0], fparams[1], iparams[0], iparams[1] != 0) == 2:
                    if t < drift_start:
                        nf += 1
                    else:
                        fa = t
                        break  # the rest of this stream cannot change the result
            n_false[s] = nf
            first_after[s] = fa


@pjit
def _simulate_adwin(gens, n_streams, n_steps, drift_start, drift_end, p0, p1, fparams, iparams, b0, n_false,
                    first_after):
    """`_simulate_ddm` with ADWIN (fparams: delta; iparams: max_buckets, min_len, grace_period, clock)."""
    nb = len(gens)
    s0 = b0 * SIM_BLOCK
    size = _adwin_state_size(iparams[0])
    for b in numba.prange(nb):
        bl = np.int64(b)
        gen = gens[bl]
        bi = b0 + bl
        state = np.empty(size)  # each stream starts from a fresh detector below
        state[4] = 0.0  # (ADWIN's running count of detections, kept by `_adwin_init`)
        stop = min(n_streams, (bi + 1) * SIM_BLOCK)
        for s in range(bi * SIM_BLOCK - s0, stop - s0):
            _adwin_init(state)
            nf = 0
            fa = -1
            for t in range(n_steps):
                x = 1.0 if gen.random() < _error_rate1(t, drift_start, drift_end, p0, p1) else 0.0
                if _adwin_step(state, x, fparams[0], iparams[0], iparams[1], iparams[2], iparams[3]):
                    if t < drift_start:
                        nf += 1
                    else:
                        fa = t
                        break  # the rest of this stream cannot change the result
            n_false[s] = nf
            first_after[s] = fa
