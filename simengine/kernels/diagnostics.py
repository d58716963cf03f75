"""Convergence diagnostics of MCMC draws (Vehtari et al. 2021), parameter by parameter.

Rank-normalised split R-hat and bulk ESS share one sort per parameter (the folded draws'
order follows from it by a merge), tail ESS and the ESS behind the MCSE of the mean sum
autocovariances lag by lag until Geyer's sequence stops.  Not here: the normal scores
of integer ranks (a table from the public layer) and FFT autocovariances for the rare
series whose sequence runs past `max_lag` (the kernels flag them; the public layer does
the FFT and calls `ess_from_acov`).  One kernel per diagnostic (`rank_rhat`, `rank_scores`,
`tail_indicators`, `mean_split`) fills a buffer of series that `ess_rows` finishes, so a call
compiles only what it computes.
"""
import math

import numpy as np

from simengine._jit import hjit, njit
from simengine.kernels.bits import bits_float, float_bits
from simengine.kernels.special import norm_ppf

# Kernels called only from other kernels are `hjit` helpers: no CPython or C entry point, which numba would
# otherwise build, optimise and compile for each of them on a cold cache and never call.

# arviz treats a series whose range is below this as constant (ESS = its size)
RESOLUTION = float(np.finfo(np.float64).resolution)
_SIGN = np.uint64(1) << np.uint64(63)
_RADIX_BITS = 11
_RADIX = 1 << _RADIX_BITS
_MASK = np.uint64(_RADIX - 1)
_PASSES = 6  # 6 x 11 bits cover the 64 of a float


# --------------------------------------------------------------------------- sorting and ranks


@njit
def _sort_with_order(v, index_kind):
    """(sorted copy of `v`, an ordering that sorts `v`): `v` without NaN, ties in any order.

    LSD radix sort on the float's bits mapped to unsigned integers of the same order
    (3x faster than NumPy's argsort on 4 x 10^4 draws); passes whose digit is the same
    for every key are skipped.  The ordering has the dtype of `index_kind` (int32 while
    it fits: half the memory traffic).  -0.0 sorts just before 0.0, so equal values stay
    adjacent.  Radix for every size: below ~512 draws numba's argsort would be a few
    microseconds faster, but compiling it costs seconds on a cold cache (callers average
    ties, so the order within a tie never shows).
    """
    n = v.shape[0]
    keys = np.empty(n, np.uint64)
    hist = np.zeros(_PASSES * _RADIX, index_kind.dtype)
    order = np.empty(n, index_kind.dtype)
    for i in range(n):
        b = float_bits(v[i])
        k = ~b if b & _SIGN else b | _SIGN
        keys[i] = k
        order[i] = i
        for p in range(_PASSES):
            hist[p * _RADIX + ((k >> np.uint64(_RADIX_BITS * p)) & _MASK)] += 1
    keys2 = np.empty(n, np.uint64)
    order2 = np.empty(n, index_kind.dtype)
    for p in range(_PASSES):
        base = p * _RADIX
        trivial = False
        for b in range(base, base + _RADIX):
            if hist[b] == n:
                trivial = True
        if trivial:
            continue
        total = 0
        for b in range(base, base + _RADIX):
            count = hist[b]
            hist[b] = total
            total += count
        shift = np.uint64(_RADIX_BITS * p)
        for i in range(n):
            k = keys[i]
            d = base + ((k >> shift) & _MASK)
            pos = hist[d]
            hist[d] = pos + 1
            keys2[pos] = k
            order2[pos] = order[i]
        keys, keys2 = keys2, keys
        order, order2 = order2, order
    out = np.empty(n)
    for i in range(n):  # back from keys to floats: no gather through `order`
        k = keys[i]
        out[i] = bits_float(k ^ _SIGN if k & _SIGN else ~k)
    return out, order


@hjit
def _rank_scores(sorted_values, where, table, out):
    """``out[where[k]]`` = normal score of the average rank of ``sorted_values[k]`` (ties share it).

    The score of rank r among S is ``Phi^-1((r - 3/8) / (S + 1/4))`` (Blom 1958), read from
    `table` (r = 1..S) for integer ranks and computed for the half-integer ranks of
    even-sized ties.
    """
    size = sorted_values.shape[0]
    a = 0
    while a < size:
        v = sorted_values[a]
        b = a + 1
        while b < size and sorted_values[b] == v:
            b += 1
        twice = a + b + 1  # ranks a+1 .. b: twice their average
        if twice % 2 == 0:
            z = table[twice // 2 - 1]
        else:
            z = norm_ppf((0.5 * twice - 0.375) / (size + 0.25))
        for k in range(a, b):
            out[where[k]] = z
        a = b


@hjit
def _rank_scores_integer(sorted_values, where, table, out):
    """`_rank_scores` while every tie has an odd size (integer average ranks, all from `table`).

    Returns False at the first even-sized tie (a half-integer rank), leaving `out` partly
    written: the caller ranks that series again with `_rank_scores`.  Draws without such
    ties (continuous draws) then need no `norm_ppf`, so bulk ESS does not compile it.
    """
    size = sorted_values.shape[0]
    a = 0
    while a < size:
        v = sorted_values[a]
        b = a + 1
        while b < size and sorted_values[b] == v:
            b += 1
        twice = a + b + 1  # ranks a+1 .. b: twice their average
        if twice % 2 == 1:
            return False
        z = table[twice // 2 - 1]
        for k in range(a, b):
            out[where[k]] = z
        a = b
    return True


@hjit
def _folded_scores(sorted_values, order, table, out):
    """Rank scores of ``|x - median(x)|`` from the sorted draws, without another sort.

    Below the median ``|x - m|`` falls as x rises and above it it rises (rounding is
    monotone), so merging the two runs outwards from the middle sorts the folded draws.
    The median is NumPy's (the mean of the two middle draws; the size is even).
    """
    size = sorted_values.shape[0]
    h = size // 2
    med = (sorted_values[h - 1] + sorted_values[h]) / 2.0
    folded = np.empty(size)
    where = np.empty(size, order.dtype)
    lo = h - 1
    hi = h
    for k in range(size):
        if hi == size or (lo >= 0 and abs(sorted_values[lo] - med) <= abs(sorted_values[hi] - med)):
            folded[k] = abs(sorted_values[lo] - med)
            where[k] = order[lo]
            lo -= 1
        else:
            folded[k] = abs(sorted_values[hi] - med)
            where[k] = order[hi]
            hi += 1
    _rank_scores(folded, where, table, out)


# --------------------------------------------------------------------------- R-hat and ESS of one series


@hjit
def _rhat_chains(z, m, n):
    """Gelman-Rubin R-hat of `m` chains of `n` draws stored chain after chain in `z`."""
    means = np.empty(m)
    within = 0.0
    for c in range(m):
        s = 0.0
        for i in range(c * n, (c + 1) * n):
            s += z[i]
        mu = s / n
        ss = 0.0
        for i in range(c * n, (c + 1) * n):
            d = z[i] - mu
            ss += d * d
        within += ss / (n - 1.0)
        means[c] = mu
    within /= m
    between = n * _var1(means)
    return math.sqrt((between / within + n - 1.0) / n)


@hjit
def _var1(v):
    """Sample variance (ddof 1) of a short vector, two-pass (as NumPy's var)."""
    n = v.shape[0]
    total = 0.0
    for i in range(n):
        total += v[i]
    mean = total / n
    ssd = 0.0
    for i in range(n):
        d = v[i] - mean
        ssd += d * d
    return ssd / (n - 1.0)


@hjit
def _fill_lags(dev, m, n, acov, lo, hi):
    """acov[t] = chain mean of the biased (divisor n) autocovariance at lag t, for lo <= t < hi.

    Four lags at a time: each deviation is loaded once for four products whose sums are
    independent (SIMD lanes without reassociating any sum).
    """
    t = lo
    while t < hi:
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for c in range(m):
            base = c * n
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            full = max(n - t - 3, 0)  # i < full: all four lags in range
            for i in range(base, base + full):
                d = dev[i]
                a0 += d * dev[i + t]
                a1 += d * dev[i + t + 1]
                a2 += d * dev[i + t + 2]
                a3 += d * dev[i + t + 3]
            for i in range(base + full, base + n - t):
                a0 += dev[i] * dev[i + t]
            for i in range(base + full, base + n - t - 1):
                a1 += dev[i] * dev[i + t + 1]
            for i in range(base + full, base + n - t - 2):
                a2 += dev[i] * dev[i + t + 2]
            s0 += a0 / n
            s1 += a1 / n
            s2 += a2 / n
            s3 += a3 / n
        acov[t] = s0 / m
        if t + 1 < hi:
            acov[t + 1] = s1 / m
        if t + 2 < hi:
            acov[t + 2] = s2 / m
        if t + 3 < hi:
            acov[t + 3] = s3 / m
        t += 4


@hjit
def _deviations(y, m, n, dev):
    """Write each chain's deviations from its mean into `dev`; return the variance of the chain means."""
    means = np.empty(m)
    for c in range(m):
        s = 0.0
        for i in range(c * n, (c + 1) * n):
            s += y[i]
        mu = s / n
        means[c] = mu
        for i in range(c * n, (c + 1) * n):
            dev[i] = y[i] - mu
    return _var1(means) if m > 1 else 0.0


@hjit
def _geyer_ess(acov, n_lags, n, var_means, m):
    """ESS from chain-averaged autocovariances ``acov[:n_lags]`` of m chains of n draws.

    Geyer's (1992) initial positive sequence on the combined autocorrelations (BDA3
    eq. 11.7) made monotone, with Stan's use of a positive last even term and the bound
    tau >= 1 / log10(draws), as arviz computes it.  Returns (ess, True), or (NaN, False)
    when the sequence needs a lag at or beyond `n_lags`.
    """
    total = m * n
    mean_var = acov[0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n + var_means
    r = np.zeros(n_lags)
    r[0] = 1.0
    even = 1.0
    odd = 1.0 - (mean_var - acov[1]) / var_plus
    r[1] = odd
    t = 1
    while t < n - 3 and even + odd > 0.0:
        if t + 2 >= n_lags:
            return math.nan, False
        even = 1.0 - (mean_var - acov[t + 1]) / var_plus
        odd = 1.0 - (mean_var - acov[t + 2]) / var_plus
        if even + odd >= 0.0:
            r[t + 1] = even
            r[t + 2] = odd
        t += 2
    last = t - 2
    if even > 0.0:  # a positive last even term still carries information (Stan's refinement)
        r[last + 1] = even
    t = 1
    while t <= last - 2:
        if r[t + 1] + r[t + 2] > r[t - 1] + r[t]:
            r[t + 1] = (r[t - 1] + r[t]) / 2.0
            r[t + 2] = r[t + 1]
        t += 2
    total_r = 0.0
    for i in range(last + 1):
        total_r += r[i]
    tau = -1.0 + 2.0 * total_r + r[last + 1]
    floor = 1.0 / math.log10(total)
    if floor > tau:  # Python's max(tau, floor), as arviz: a NaN tau stays NaN
        tau = floor
    for i in range(n_lags):
        if math.isnan(r[i]):
            return math.nan, True
    return total / tau, True


@njit
def ess_from_acov(series, m, n, acov, out):
    """out[k] = ESS of row k of `series` (m chains of n draws) given its chain-averaged autocovariances."""
    for k in range(series.shape[0]):
        dev = np.empty(m * n)
        var_means = _deviations(series[k], m, n, dev)
        out[k], _ = _geyer_ess(acov[k], n, n, var_means, m)


# --------------------------------------------------------------------------- one kernel per diagnostic
# Each public diagnostic calls only the kernels it needs, over parameters lo..hi-1 (the public
# layer passes the parameters through in chunks, so the 2-D buffers stay bounded): one kernel
# that served all of them compiled every path for any one (11-14 s cold).  The ESS of the
# rows of a buffer is `ess_rows`, shared by bulk, tail and mean; a row whose Geyer sequence
# runs past `max_lag` lags is flagged and left NaN for the FFT route of the public layer.


@hjit
def _gather_split(x, j, half, out):
    """Parameter j of (chains, draws, params) as split chains (first halves, then last halves) into `out`.

    Returns False if a draw (of all, the middle one of an odd chain included) is not finite.
    """
    c, n = x.shape[0], x.shape[1]
    finite = True
    for k in range(c):
        for i in range(half):
            a = x[k, i, j]
            b = x[k, n - half + i, j]
            out[k * half + i] = a
            out[(c + k) * half + i] = b
            finite &= math.isfinite(a) and math.isfinite(b)
    if n % 2 == 1:  # the middle draw is dropped, but a non-finite one still makes the result NaN (as arviz)
        for k in range(c):
            finite &= math.isfinite(x[k, half, j])
    return finite


TAIL_PROBS = (0.05, 0.95)  # arviz's tail ESS: the smaller of the ESS at these quantiles


@njit
def rank_scores(x, lo, hi, half, table, index_kind, z, ok, redo):
    """Bulk ESS input: ``z[j - lo]`` = normal scores of the ranks of parameter j's split draws.

    `x` is (chains, draws, params); `table` holds the normal scores of ranks 1..S (S = 2 x
    chains x `half`, the split draws); orderings have the dtype of `index_kind`.
    ``ok[j - lo]`` is False (and the row untouched) if a draw of parameter j is not finite.
    ``redo[j - lo]`` is True where an even-sized tie stopped the ranking: `rank_rhat` of that
    parameter fills its row (the same scores, half-integer ranks by `norm_ppf`).
    """
    buf = np.empty(z.shape[1])
    for j in range(lo, hi):
        k = j - lo
        ok[k] = _gather_split(x, j, half, buf)
        redo[k] = False
        if ok[k]:
            sorted_values, order = _sort_with_order(buf, index_kind)
            redo[k] = not _rank_scores_integer(sorted_values, order, table, z[k])


@njit
def rank_rhat(x, lo, hi, half, table, index_kind, z, ok, out):
    """`rank_scores`, and ``out[j]`` = rank-normalised split R-hat (max of bulk and folded; NaN if not `ok`).

    The folded draws' scores follow from the same sort; `z` is left as `rank_scores`
    leaves it, so R-hat and bulk ESS of the same draws share one ranking.
    """
    m = 2 * x.shape[0]
    buf = np.empty(z.shape[1])
    folded = np.empty(z.shape[1])
    for j in range(lo, hi):
        k = j - lo
        out[j] = math.nan
        ok[k] = _gather_split(x, j, half, buf)
        if ok[k]:
            sorted_values, order = _sort_with_order(buf, index_kind)
            _rank_scores(sorted_values, order, table, z[k])
            _folded_scores(sorted_values, order, table, folded)
            out[j] = _fmax(_rhat_chains(z[k], m, half), _rhat_chains(folded, m, half))


@njit
def ess_rows(y, ok, m, n, max_lag, out, fallback):
    """``out[k]`` = ESS of row k of `y` (m chains of n draws, chain after chain); NaN where not ``ok[k]``.

    Lags are summed directly, in doubling blocks until Geyer's sequence stops.  A row
    whose sequence runs past `max_lag` lags is left NaN and flagged in ``fallback[k]``
    (FFT autocovariances are cheaper there: see `ess_from_acov`).  A row whose range is
    below `RESOLUTION` is constant to arviz: its ESS is its size.  One flat loop (no
    per-series helper): each nested kernel layer costs its callees' optimisation again.
    """
    size = m * n
    dev = np.empty(size)
    cap = min(n, max_lag)
    acov = np.empty(cap)
    for k in range(y.shape[0]):
        out[k] = math.nan
        if not ok[k]:
            continue
        row = y[k]
        lo = row[0]
        hi = row[0]
        for i in range(size):
            lo = min(lo, row[i])
            hi = max(hi, row[i])
        if hi - lo < RESOLUTION:
            out[k] = float(size)
            continue
        var_means = _deviations(row, m, n, dev)
        n_lags = min(cap, 4)  # well-mixed chains stop after a few lags
        _fill_lags(dev, m, n, acov, np.int64(0), n_lags)  # np.int64: a literal 0 would compile it twice
        while True:
            e, done = _geyer_ess(acov, n_lags, n, var_means, m)
            if done or n_lags == cap:
                break
            more = min(2 * n_lags, cap)
            _fill_lags(dev, m, n, acov, n_lags, more)
            n_lags = more
        out[k] = e
        fallback[k] = not done


@hjit
def _fmax(a, b):
    """np.fmax: the larger, ignoring a NaN."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return max(a, b)


@hjit
def _kth_smallest(a, k):
    """The k-th smallest (from 0) of the finite floats `a`, reordering `a` so that a[k] holds it with
    nothing larger before it and nothing smaller after it (quickselect, median-of-three pivot,
    three-way partition so that ties cannot make it quadratic)."""
    lo = 0
    hi = a.shape[0] - 1
    while lo < hi:
        x = a[lo]
        y = a[(lo + hi) >> 1]
        z = a[hi]
        pivot = max(min(x, y), min(max(x, y), z))
        lt = lo
        i = lo
        gt = hi
        while i <= gt:
            v = a[i]
            if v < pivot:
                a[i] = a[lt]
                a[lt] = v
                lt += 1
                i += 1
            elif v > pivot:
                a[i] = a[gt]
                a[gt] = v
                gt -= 1
            else:
                i += 1
        if k < lt:
            hi = lt - 1
        elif k > gt:
            lo = gt + 1
        else:
            return pivot
    return a[k]


@njit
def _quantile7(draws, p):
    """R's type-7 quantile of finite draws (reordered in place), with the arithmetic of scipy's
    ``mquantiles(alphap=1, betap=1)``.  The two order statistics it needs come from a selection
    (O(n), little to compile); only their values matter, so the result is a sort's."""
    n = draws.shape[0]
    aleph = n * p + (1.0 + p * -1.0)
    k = math.floor(min(max(aleph, 1.0), n - 1.0))
    gamma = min(max(aleph - k, 0.0), 1.0)
    k = int(k)
    below = _kth_smallest(draws, k - 1)  # sorted[k - 1]; nothing smaller from position k on
    above = draws[k]
    for i in range(k + 1, n):
        above = min(above, draws[i])  # sorted[k]
    return (1.0 - gamma) * below + gamma * above


@njit
def tail_indicators(x, lo, hi, half, ind, ok):
    """Tail ESS input: rows 2k and 2k + 1 of `ind` = split-chain indicators ``x <= q`` of parameter lo + k.

    q: the type-7 quantiles at `TAIL_PROBS` of all of the parameter's draws (by selection:
    only two order statistics each are needed); ``ok`` False for both rows if a draw is not finite.
    """
    c, n = x.shape[0], x.shape[1]
    size = ind.shape[1]
    draws = np.empty(c * n)
    split = np.empty(size)
    for j in range(lo, hi):
        k = j - lo
        finite = True
        for a in range(c):
            for i in range(n):
                v = x[a, i, j]
                draws[a * n + i] = v
                finite &= math.isfinite(v)
        ok[2 * k] = finite
        ok[2 * k + 1] = finite
        if not finite:
            continue
        _gather_split(x, j, half, split)
        for side in range(2):
            q = _quantile7(draws, TAIL_PROBS[side])  # a -0.0 for a 0.0 cannot change an indicator
            row = ind[2 * k + side]
            for i in range(size):
                row[i] = 1.0 if split[i] <= q else 0.0


@njit
def mean_split(x, lo, hi, half, y, ok, sd):
    """MCSE input: ``y[j - lo]`` = parameter j's split chains, ``sd[j]`` = sd (ddof 1) of all its draws.

    ``ok[j - lo]`` False and ``sd[j]`` NaN if a draw is not finite.
    """
    c, n = x.shape[0], x.shape[1]
    for j in range(lo, hi):
        k = j - lo
        sd[j] = math.nan
        ok[k] = _gather_split(x, j, half, y[k])
        if not ok[k]:
            continue
        s = 0.0
        for a in range(c):
            for i in range(n):
                s += x[a, i, j]
        mu = s / (c * n)
        ss = 0.0
        for a in range(c):
            for i in range(n):
                d = x[a, i, j] - mu
                ss += d * d
        sd[j] = math.sqrt(ss / (c * n - 1.0))
