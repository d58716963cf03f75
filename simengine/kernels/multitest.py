"""Multiple-testing corrections, one family of p-values per row, rows in parallel.

Each method follows statsmodels' `multipletests` operation by operation (same
sort, same formulas, same clipping, the two-stage FDR iteration included) so
results agree bit for bit, not just to a tolerance.  Method codes are fixed by
`simengine.multitest.METHODS`.
"""
import math

import numba
import numpy as np

from simengine._jit import njit, pjit
from simengine.kernels.sort import argsort_stable

BONFERRONI = 0
SIDAK = 1
HOLM = 2
HOLM_SIDAK = 3
SIMES_HOCHBERG = 4
HOMMEL = 5
FDR_BH = 6
FDR_BY = 7
FDR_TSBH = 8
FDR_TSBKY = 9
FDR_GBS = 10
LFDR = 11

_ROWS = 256  # rows per parallel work item
# Per-row helpers are inlined by numba (inline="always"): an out-of-line call per
# family of 20 passes each array as seven fields with reference counting, which
# cost as much as the correction itself (13 -> 7.6 ms for 10^5 x 20 on one core).
_LANES = 8  # rank-count buffers are padded to a multiple of this (a whole number of SIMD registers)
_COUNT_MAX = 256  # longest family ranked by counting (2.5x a merge sort at 256); longer ones are merge-sorted


@njit
def _padded(n):
    return (n + _LANES - 1) // _LANES * _LANES


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _rank_stable1(p, n, rank, ps):
    """Stable ranks of `p[:n]` into `rank`, sorted values into `ps`, ties in input order.

    Up to `_COUNT_MAX` values, `p` is padded with +inf to a multiple of `_LANES`
    so the counting loop compiles to whole SIMD compares with no scalar tail.
    """
    if n > _COUNT_MAX:
        order = argsort_stable(p[:n])  # numba's own mergesort compiles for a second per caller
        for k in range(n):
            rank[order[k]] = k
            ps[k] = p[order[k]]
        return
    # rank = number of smaller values: branch-free, vectorised, right when all values differ
    total = 0
    for i in range(n):
        v = p[i]
        k = 0
        for j in range(p.shape[0]):
            k += p[j] < v
        rank[i] = k
        ps[k] = v
        total += k
    # tied values share their lowest rank, so the ranks sum to less than 0 + 1 + ... + (n - 1)
    if total == n * (n - 1) // 2:
        return
    for i in range(n):
        v = p[i]
        k = rank[i]
        for j in range(i):
            k += p[j] == v  # earlier ties rank first: stable
        rank[i] = k
        ps[k] = v


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _load_row1(pvals, r, buf):
    """Copy row `r` into the front of `buf`; False if any value is NaN or outside [0, 1]."""
    ok = True
    for i in range(pvals.shape[1]):
        v = pvals[r, i]
        buf[i] = v
        ok &= (v >= 0.0) & (v <= 1.0)
    return ok


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _sorted_row1(pvals, r, presorted, buf, rank, ps):
    """Row `r` sorted into `ps` (stably; as given when `presorted`), ranks into `rank`; False if invalid.

    A row with NaN or a value outside [0, 1] is left unsorted: the driver skips it and reports.
    """
    n = pvals.shape[1]
    if not _load_row1(pvals, r, buf):
        return False
    if presorted:
        for i in range(n):
            rank[i] = i
            ps[i] = buf[i]
    else:
        _rank_stable1(buf, n, rank, ps)
    return True


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _store_row1(r, rank, rej, adj, returnsorted, reject, corrected):
    """Row `r` of the outputs from the sorted-order `rej` / `adj` (clipped to 1 here), in input order unless
    `returnsorted`."""
    n = rank.shape[0]
    for i in range(n):
        if adj[i] > 1.0:
            adj[i] = 1.0
    if returnsorted:
        for k in range(n):
            reject[r, k] = rej[k]
            corrected[r, k] = adj[k]
    else:
        for i in range(n):
            k = rank[i]
            reject[r, i] = rej[k]
            corrected[r, i] = adj[k]


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _bh_count1(ps, factors, alpha):
    """Rejections of the Benjamini-Hochberg step-up at `alpha` (statsmodels' ``ecdffactor * alpha``)."""
    last = -1
    for i in range(ps.shape[0]):
        last = i if ps[i] <= factors[i] * alpha else last
    return last + 1


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _two_stage1(ps, factors, params, rej, adj):
    # statsmodels' fdrcorrection_twostage (Benjamini, Krieger & Yekutieli 2006, definition 6; "bh" when
    # params[2] == 1): stage one at alpha' = alpha / fact, then up to `maxiter` stages at
    # alpha' m / (m - r); the corrected p-values are BH's (clipped to 1, as fdrcorrection returns them)
    # scaled by m0 / m and by fact, in statsmodels' order of operations.
    n = ps.shape[0]
    alpha_prime = params[1]
    fact = params[2]
    maxiter = int(params[3])
    running = math.inf
    for i in range(n - 1, -1, -1):
        raw = ps[i] / factors[i]
        running = raw if raw < running else running
        adj[i] = running if running <= 1.0 else 1.0
    r1 = _bh_count1(ps, factors, alpha_prime)
    if r1 == 0 or r1 == n:
        ri = r1
        for i in range(n):
            adj[i] *= fact
    else:
        ri_old = ri = r1
        ntests0 = float(n)
        for it in range(maxiter):
            ntests0 = 1.0 * n - ri_old
            # ntests0 = 0 (a stage rejected all) gives alpha* = inf and m0 / m = 0, as NumPy does in statsmodels
            alpha_star = alpha_prime * n / ntests0
            ri = _bh_count1(ps, factors, alpha_star)
            if it >= maxiter - 1 or ri == ri_old:
                break
            ri_old = ri
        scale = ntests0 * 1.0 / n
        for i in range(n):
            adj[i] *= scale
        if fact != 1.0:  # bky: statsmodels multiplies by 1 + alpha as a second step
            for i in range(n):
                adj[i] *= fact
    for i in range(n):
        rej[i] = i < ri


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _gbs1(ps, alpha, rej, adj):
    # Gavrilov, Benjamini & Sarkar (2009) adaptive step-down, as statsmodels writes it:
    # q_i = (m + 1 - i) / i * p_i / (1 - p_i), running maximum, then running minimum from the end
    # (a no-op on a non-decreasing sequence, kept for unsorted input); reject where it is <= alpha
    # before clipping to 1.
    n = ps.shape[0]
    running = -math.inf
    for i in range(n):
        ii = i + 1.0
        num = (n + 1.0 - ii) / ii * ps[i]
        den = 1.0 - ps[i]
        q = num / den  # p = 1: inf (numpy error model), as NumPy gives statsmodels
        running = q if q > running else running
        adj[i] = running
    running = math.inf
    for i in range(n - 1, -1, -1):
        running = adj[i] if adj[i] < running else running
        adj[i] = running
        rej[i] = running <= alpha


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _single_step1(ps, raws, method, cuts, rej, adj):
    n = ps.shape[0]
    for i in range(n):
        rej[i] = ps[i] <= cuts[i]
        adj[i] = ps[i] * float(n) if method == BONFERRONI else raws[i]


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _step_down1(ps, raws, method, cuts, rej, adj):
    # reject up to the first p-value above its threshold
    n = ps.shape[0]
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


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _step_up1(ps, method, cuts, factors, rej, adj):
    # reject everything up to the last p-value under its threshold; selects rather
    # than branches, since where p-values cross their thresholds and where the
    # running minimum drops is a coin flip per test
    n = ps.shape[0]
    last = -1
    for i in range(n):
        last = i if ps[i] <= cuts[i] else last
    if method == SIMES_HOCHBERG:
        for i in range(n):
            adj[i] = (n - i) * ps[i]
    else:
        for i in range(n):
            adj[i] = ps[i] / factors[i]
    running = math.inf
    for i in range(n - 1, -1, -1):
        rej[i] = i <= last
        raw = adj[i]
        running = raw if raw < running else running
        adj[i] = running


@njit
def _pava_increasing1(x, w, r, m):
    """Weighted isotonic (non-decreasing) regression of `x[:m]` in place: pool adjacent violators.

    Busing (2022), Algorithm 1, with the two ">=" comparisons and the order of every sum as
    ``scipy.optimize.isotonic_regression`` performs them, so the fitted values agree bit for bit.
    `w` is overwritten with block weights and `r` (length m + 1) with block starts.
    """
    r[0] = 0
    r[1] = 1
    b = 0
    xb_prev = x[0]
    wb_prev = w[0]
    i = 1
    while i < m:
        b += 1
        xb = x[i]
        wb = w[i]
        if xb_prev >= xb:  # a violation: pool with the previous block, then repair up and down
            b -= 1
            sb = wb_prev * xb_prev + wb * xb
            wb += wb_prev
            xb = sb / wb
            while i < m - 1 and xb >= x[i + 1]:
                i += 1
                sb += w[i] * x[i]
                wb += w[i]
                xb = sb / wb
            while b > 0 and x[b - 1] >= xb:
                b -= 1
                sb += w[b] * x[b]
                wb += w[b]
                xb = sb / wb
        x[b] = xb
        xb_prev = xb
        w[b] = wb
        wb_prev = wb
        r[b + 1] = i + 1
        i += 1
    f = m - 1
    for k in range(b, -1, -1):  # spread each block's value over its members
        t = r[k]
        xk = x[k]
        for j in range(f, t - 1, -1):
            x[j] = xk
        f = t - 1


@njit
def _lfdr1(ps, alpha, rej, adj):
    # statsmodels' local_fdr_correction(..).lfdr with null proportion 1 (Grenander estimate of the
    # p-value density: left-hand slopes of the least concave majorant of the ecdf, over the distinct
    # values weighted by their gaps), then reject where lfdr <= alpha.  The density is fitted on the
    # values in ascending order even when the caller passed an unsorted row as sorted (statsmodels'
    # np.unique sorts); slope j then goes to position j, as in statsmodels.
    n = ps.shape[0]
    srt = ps.copy()
    for i in range(1, n):
        if srt[i] < srt[i - 1]:
            srt = np.sort(ps)
            break
    vals = np.empty(n)
    counts = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        if m > 0 and srt[i] == vals[m - 1]:
            counts[m - 1] += 1
        else:
            vals[m] = srt[i]
            counts[m] = 1
            m += 1
    # slopes are non-increasing: fit the reversed sequence non-decreasing, as scipy does
    x = np.empty(m)
    w = np.empty(m)
    prev = 0.0
    for j in range(m):
        gap = vals[j] - prev
        prev = vals[j]
        x[m - 1 - j] = counts[j] / (n * gap)
        w[m - 1 - j] = gap
    r = np.empty(m + 1, dtype=np.int64)
    _pava_increasing1(x, w, r, m)
    k = 0
    for j in range(m):
        value = 1.0 / x[m - 1 - j]
        value = 1.0 if value > 1.0 else value  # np.minimum(1, .): no NaN can arise here
        for _ in range(counts[j]):
            adj[k] = value
            rej[k] = value <= alpha
            k += 1


@njit(inline="always")  # per-row helper: see the note at _ROWS
def _hommel1(ps, cuts, rej, adj):
    # statsmodels' O(n^2) form: every stage m = n..2 (a long family runs them in slices instead)
    n = ps.shape[0]
    for i in range(n):
        adj[i] = ps[i]
    _hommel_steps(ps, adj, n, 1)
    for i in range(n):
        rej[i] = adj[i] <= cuts[i]


@pjit
def _rank_rows(pvals):
    """Stable rank of every value within its row (families x tests), rows in parallel.

    Rows must hold valid p-values (the public layer checks them first).
    """
    n_fam, n = pvals.shape
    rank = np.empty((n_fam, n), dtype=np.int64)
    n_chunks = (n_fam + _ROWS - 1) // _ROWS
    for c in numba.prange(n_chunks):
        buf = np.full(_padded(n), np.inf)
        ps = np.empty(n)
        for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
            _load_row1(pvals, r, buf)
            _rank_stable1(buf, n, rank[r], ps)
    return rank


# One parallel driver per group of methods (the public layer picks it), so that a call compiles only the
# corrections it runs (issue 15, cold start: one driver for all methods took 5 s of CPU on a first call);
# a chunk of rows runs in a serial function of its own, so the parallel lowering sees only a call (and a
# call of one chunk, `_ROWS` rows or fewer, runs it directly, without compiling the parallel driver).
# Each takes rows of `pvals` (families x tests) and writes `reject` / `corrected` (same shape); returns ok.
# `presorted`: rows are taken as sorted, as they come (statsmodels' ``is_sorted=True``); `returnsorted`:
# outputs stay in sorted order.  The range check rides along: a row with NaN or a value outside [0, 1]
# is skipped and `ok` is False, and the caller must then discard the (partly unwritten) outputs and
# raise; `ok` is also False if a chunk of rows did not finish (its scratch allocation failed: numba's
# parallel loops do not re-raise, so each chunk flags its completion).  The caller runs slices of rows
# (row views of its arrays): rows never interact, so the slicing changes no number.
# For the Sidak methods `raw` (the shape of `pvals`) holds the unmonotonised adjusted p-values, computed
# with NumPy's log1p/expm1 (whose last bit differs from libm's); `cuts[i]` is the rejection threshold of
# the i-th smallest p-value and `factors` the Benjamini-Hochberg/Yekutieli ecdf factors, both computed by
# the caller with NumPy exactly as statsmodels does; other operations here are only + * /.


@njit
def _single_step_chunk(pvals, raw, method, cuts, presorted, returnsorted, reject, corrected, c):
    """Rows of chunk `c` (`_ROWS` rows): Bonferroni and Sidak (`method`); False if a row was invalid (skipped)."""
    n_fam, n = pvals.shape
    ok = True
    buf = np.full(_padded(n), np.inf)  # scratch once per chunk of rows, not per row
    rank = np.empty(n, dtype=np.int64)
    ps = np.empty(n)
    rs = np.zeros(n)
    rej = np.empty(n, dtype=np.bool_)
    adj = np.empty(n)
    for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
        if not _sorted_row1(pvals, r, presorted, buf, rank, ps):
            ok = False
            continue
        if method == SIDAK:
            for i in range(n):
                rs[rank[i]] = raw[r, i]
        _single_step1(ps, rs, method, cuts, rej, adj)
        _store_row1(r, rank, rej, adj, returnsorted, reject, corrected)
    return ok


@pjit
def _single_step_rows(pvals, raw, method, cuts, presorted, returnsorted, reject, corrected):
    """Bonferroni and Sidak (`method`), chunks of rows in parallel; see the note above."""
    n_chunks = (pvals.shape[0] + _ROWS - 1) // _ROWS
    ok = np.zeros(n_chunks, dtype=np.bool_)
    done = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        ok[c] = _single_step_chunk(pvals, raw, method, cuts, presorted, returnsorted, reject, corrected, np.int64(c))
        done[c] = True
    return ok.all() and done.all()


@njit
def _step_down_chunk(pvals, raw, method, cuts, presorted, returnsorted, reject, corrected, c):
    """Rows of chunk `c` (`_ROWS` rows): Holm and Holm-Sidak (`method`); False if a row was invalid (skipped)."""
    n_fam, n = pvals.shape
    ok = True
    buf = np.full(_padded(n), np.inf)  # scratch once per chunk of rows, not per row
    rank = np.empty(n, dtype=np.int64)
    ps = np.empty(n)
    rs = np.zeros(n)
    rej = np.empty(n, dtype=np.bool_)
    adj = np.empty(n)
    for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
        if not _sorted_row1(pvals, r, presorted, buf, rank, ps):
            ok = False
            continue
        if method == HOLM_SIDAK:
            for i in range(n):
                rs[rank[i]] = raw[r, i]
        _step_down1(ps, rs, method, cuts, rej, adj)
        _store_row1(r, rank, rej, adj, returnsorted, reject, corrected)
    return ok


@pjit
def _step_down_rows(pvals, raw, method, cuts, presorted, returnsorted, reject, corrected):
    """Holm and Holm-Sidak (`method`), chunks of rows in parallel; see the note above."""
    n_chunks = (pvals.shape[0] + _ROWS - 1) // _ROWS
    ok = np.zeros(n_chunks, dtype=np.bool_)
    done = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        ok[c] = _step_down_chunk(pvals, raw, method, cuts, presorted, returnsorted, reject, corrected, np.int64(c))
        done[c] = True
    return ok.all() and done.all()


@njit
def _step_up_chunk(pvals, method, cuts, factors, presorted, returnsorted, reject, corrected, c):
    """Rows of chunk `c` (`_ROWS` rows): Simes-Hochberg, Benjamini-Hochberg and Benjamini-Yekutieli (`method`); False if a row was invalid (skipped)."""
    n_fam, n = pvals.shape
    ok = True
    buf = np.full(_padded(n), np.inf)  # scratch once per chunk of rows, not per row
    rank = np.empty(n, dtype=np.int64)
    ps = np.empty(n)
    rej = np.empty(n, dtype=np.bool_)
    adj = np.empty(n)
    for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
        if not _sorted_row1(pvals, r, presorted, buf, rank, ps):
            ok = False
            continue
        _step_up1(ps, method, cuts, factors, rej, adj)
        _store_row1(r, rank, rej, adj, returnsorted, reject, corrected)
    return ok


@pjit
def _step_up_rows(pvals, method, cuts, factors, presorted, returnsorted, reject, corrected):
    """Simes-Hochberg, Benjamini-Hochberg and Benjamini-Yekutieli (`method`), chunks of rows in parallel; see the note above."""
    n_chunks = (pvals.shape[0] + _ROWS - 1) // _ROWS
    ok = np.zeros(n_chunks, dtype=np.bool_)
    done = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        ok[c] = _step_up_chunk(pvals, method, cuts, factors, presorted, returnsorted, reject, corrected, np.int64(c))
        done[c] = True
    return ok.all() and done.all()


@njit
def _two_stage_chunk(pvals, factors, params, presorted, returnsorted, reject, corrected, c):
    """Rows of chunk `c` (`_ROWS` rows): The two-stage FDR methods (`params`: see `_two_stage1`); False if a row was invalid (skipped)."""
    n_fam, n = pvals.shape
    ok = True
    buf = np.full(_padded(n), np.inf)  # scratch once per chunk of rows, not per row
    rank = np.empty(n, dtype=np.int64)
    ps = np.empty(n)
    rej = np.empty(n, dtype=np.bool_)
    adj = np.empty(n)
    for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
        if not _sorted_row1(pvals, r, presorted, buf, rank, ps):
            ok = False
            continue
        _two_stage1(ps, factors, params, rej, adj)
        _store_row1(r, rank, rej, adj, returnsorted, reject, corrected)
    return ok


@pjit
def _two_stage_rows(pvals, factors, params, presorted, returnsorted, reject, corrected):
    """The two-stage FDR methods (`params`: see `_two_stage1`), chunks of rows in parallel; see the note above."""
    n_chunks = (pvals.shape[0] + _ROWS - 1) // _ROWS
    ok = np.zeros(n_chunks, dtype=np.bool_)
    done = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        ok[c] = _two_stage_chunk(pvals, factors, params, presorted, returnsorted, reject, corrected, np.int64(c))
        done[c] = True
    return ok.all() and done.all()


@njit
def _gbs_chunk(pvals, alpha, presorted, returnsorted, reject, corrected, c):
    """Rows of chunk `c` (`_ROWS` rows): The adaptive step-down of Gavrilov, Benjamini & Sarkar; False if a row was invalid (skipped)."""
    n_fam, n = pvals.shape
    ok = True
    buf = np.full(_padded(n), np.inf)  # scratch once per chunk of rows, not per row
    rank = np.empty(n, dtype=np.int64)
    ps = np.empty(n)
    rej = np.empty(n, dtype=np.bool_)
    adj = np.empty(n)
    for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
        if not _sorted_row1(pvals, r, presorted, buf, rank, ps):
            ok = False
            continue
        _gbs1(ps, alpha, rej, adj)
        _store_row1(r, rank, rej, adj, returnsorted, reject, corrected)
    return ok


@pjit
def _gbs_rows(pvals, alpha, presorted, returnsorted, reject, corrected):
    """The adaptive step-down of Gavrilov, Benjamini & Sarkar, chunks of rows in parallel; see the note above."""
    n_chunks = (pvals.shape[0] + _ROWS - 1) // _ROWS
    ok = np.zeros(n_chunks, dtype=np.bool_)
    done = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        ok[c] = _gbs_chunk(pvals, alpha, presorted, returnsorted, reject, corrected, np.int64(c))
        done[c] = True
    return ok.all() and done.all()


@njit
def _hommel_chunk(pvals, cuts, presorted, returnsorted, reject, corrected, c):
    """Rows of chunk `c` (`_ROWS` rows): Hommel's method; False if a row was invalid (skipped)."""
    n_fam, n = pvals.shape
    ok = True
    buf = np.full(_padded(n), np.inf)  # scratch once per chunk of rows, not per row
    rank = np.empty(n, dtype=np.int64)
    ps = np.empty(n)
    rej = np.empty(n, dtype=np.bool_)
    adj = np.empty(n)
    for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
        if not _sorted_row1(pvals, r, presorted, buf, rank, ps):
            ok = False
            continue
        _hommel1(ps, cuts, rej, adj)
        _store_row1(r, rank, rej, adj, returnsorted, reject, corrected)
    return ok


@pjit
def _hommel_rows(pvals, cuts, presorted, returnsorted, reject, corrected):
    """Hommel's method, chunks of rows in parallel; see the note above."""
    n_chunks = (pvals.shape[0] + _ROWS - 1) // _ROWS
    ok = np.zeros(n_chunks, dtype=np.bool_)
    done = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        ok[c] = _hommel_chunk(pvals, cuts, presorted, returnsorted, reject, corrected, np.int64(c))
        done[c] = True
    return ok.all() and done.all()


@pjit
def _lfdr_rows(pvals, alpha, presorted, returnsorted, reject, corrected):
    """The local FDR (rows of valid p-values, checked by the caller); returns ok (see the note above
    `_single_step_rows`).
    """
    n_fam, n = pvals.shape
    n_chunks = (n_fam + _ROWS - 1) // _ROWS
    done = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        buf = np.full(_padded(n), np.inf)
        rank = np.empty(n, dtype=np.int64)
        ps = np.empty(n)
        rej = np.empty(n, dtype=np.bool_)
        adj = np.empty(n)
        for r in range(c * _ROWS, min((c + 1) * _ROWS, n_fam)):
            _load_row1(pvals, r, buf)
            if presorted:
                for i in range(n):
                    rank[i] = i
                    ps[i] = buf[i]
            else:
                _rank_stable1(buf, n, rank, ps)
            _lfdr1(ps, alpha, rej, adj)
            for i in range(n):
                if adj[i] > 1.0:
                    adj[i] = 1.0
            if returnsorted:
                for k in range(n):
                    reject[r, k] = rej[k]
                    corrected[r, k] = adj[k]
            else:
                for i in range(n):
                    k = rank[i]
                    reject[r, i] = rej[k]
                    corrected[r, i] = adj[k]
        done[c] = True
    return done.all()


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


@njit
def _hommel_steps(ps, adj, m_hi, m_lo):
    """Stages m = m_hi, m_hi - 1, ..., m_lo + 1 of Hommel's method on sorted `ps`, updating `adj` in place.

    `adj` starts as a copy of `ps`; running all stages n..2 in consecutive ranges gives
    `_hommel1`'s values bit for bit (same operations in the same order), so a long family
    can run in slices.
    """
    n = ps.shape[0]
    for m in range(m_hi, m_lo, -1):
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


@njit
def _pava_steps(x, w, r, m, state, fstate, budget):
    """At most `budget` steps of `_pava_increasing1`'s pooling loop, from and back into `state` / `fstate`.

    The loop as a machine of small steps, with the same operations in the same order, so that
    running it in calls of any size gives `_pava_increasing1`'s blocks bit for bit (before its
    spreading, which the caller does).  `state` = (i, b, phase), `fstate` = (xb_prev, wb_prev,
    sb, wb, xb); phase 0 starts element i, 1 pools forward, 2 pools backward, 3 stores the
    block.  Start: i = 1, b = 0, phase 0, xb_prev = x[0], wb_prev = w[0], r[:2] = 0, 1.
    Returns True when the fit is done (then x[:b + 1] and r[:b + 2] hold the blocks).
    """
    i, b, phase = state[0], state[1], state[2]
    xb_prev, wb_prev, sb, wb, xb = fstate[0], fstate[1], fstate[2], fstate[3], fstate[4]
    done = False
    for _ in range(budget):
        if phase == 0:
            if i >= m:
                done = True
                break
            b += 1
            xb = x[i]
            wb = w[i]
            if xb_prev >= xb:  # a violation: pool with the previous block, then repair up and down
                b -= 1
                sb = wb_prev * xb_prev + wb * xb
                wb += wb_prev
                xb = sb / wb
                phase = 1
            else:
                phase = 3
        elif phase == 1:
            if i < m - 1 and xb >= x[i + 1]:
                i += 1
                sb += w[i] * x[i]
                wb += w[i]
                xb = sb / wb
            else:
                phase = 2
        elif phase == 2:
            if b > 0 and x[b - 1] >= xb:
                b -= 1
                sb += w[b] * x[b]
                wb += w[b]
                xb = sb / wb
            else:
                phase = 3
        else:
            x[b] = xb
            xb_prev = xb
            w[b] = wb
            wb_prev = wb
            r[b + 1] = i + 1
            i += 1
            phase = 0
    if not done and phase == 0 and i >= m:
        done = True
    state[0], state[1], state[2] = i, b, phase
    fstate[0], fstate[1], fstate[2], fstate[3], fstate[4] = xb_prev, wb_prev, sb, wb, xb
    return done
