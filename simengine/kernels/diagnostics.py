"""Convergence diagnostics of MCMC draws (Vehtari et al. 2021), parameter by parameter.

Rank-normalised split R-hat and bulk ESS share one sort per parameter (the folded draws'
order follows from it by a merge), tail ESS and the ESS behind the MCSE of the mean sum
autocovariances lag by lag until Geyer's sequence stops.  Not here: the normal scores
of integer ranks (a table from the public layer) and FFT autocovariances for the rare
series whose sequence runs past `max_lag` (the kernels flag them; the public layer does
the FFT and calls `ess_from_acov`).
"""
import math

import numpy as np

from simengine._jit import njit
from simengine.kernels.special import norm_ppf
from simengine.kernels.twosample import _mean_ssd1

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
    bits = v.view(np.uint64)
    keys = np.empty(n, np.uint64)
    hist = np.zeros((_PASSES, _RADIX), index_kind.dtype)
    for i in range(n):
        b = bits[i]
        k = ~b if b & _SIGN else b | _SIGN
        keys[i] = k
        for p in range(_PASSES):
            hist[p, (k >> np.uint64(_RADIX_BITS * p)) & _MASK] += 1
    order = np.arange(n).astype(index_kind.dtype)
    keys2 = np.empty(n, np.uint64)
    order2 = np.empty(n, index_kind.dtype)
    for p in range(_PASSES):
        h = hist[p]
        trivial = False
        for b in range(_RADIX):
            if h[b] == n:
                trivial = True
        if trivial:
            continue
        total = 0
        for b in range(_RADIX):
            count = h[b]
            h[b] = total
            total += count
        shift = np.uint64(_RADIX_BITS * p)
        for i in range(n):
            k = keys[i]
            d = (k >> shift) & _MASK
            pos = h[d]
            h[d] = pos + 1
            keys2[pos] = k
            order2[pos] = order[i]
        keys, keys2 = keys2, keys
        order, order2 = order2, order
    out = np.empty(n)
    out_bits = out.view(np.uint64)
    for i in range(n):  # back from keys to floats: no gather through `order`
        k = keys[i]
        out_bits[i] = k ^ _SIGN if k & _SIGN else ~k
    return out, order


@njit
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


@njit
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


@njit
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


@njit
def _var1(v):
    """Sample variance (ddof 1) of a short vector, two-pass."""
    return _mean_ssd1(v)[1] / (v.shape[0] - 1.0)


@njit
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


@njit
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


@njit
def _is_constant(y):
    lo = y[0]
    hi = y[0]
    for i in range(y.shape[0]):
        lo = min(lo, y[i])
        hi = max(hi, y[i])
    return hi - lo < RESOLUTION


@njit
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
def _ess_series(y, m, n, max_lag):
    """ESS of m chains of n draws stored chain after chain in `y`, lags summed directly.

    Lags are added in doubling blocks until Geyer's sequence stops; returns (ESS, True),
    or (NaN, False) if it runs past `max_lag` lags (then FFT autocovariances are cheaper).
    """
    if _is_constant(y):
        return float(m * n), True
    dev = np.empty(m * n)
    var_means = _deviations(y, m, n, dev)
    cap = min(n, max_lag)
    acov = np.empty(cap)
    n_lags = min(cap, 4)  # well-mixed chains stop after a few lags
    _fill_lags(dev, m, n, acov, np.int64(0), n_lags)  # np.int64: a literal 0 would compile it twice
    while True:
        ess, done = _geyer_ess(acov, n_lags, n, var_means, m)
        if done or n_lags == cap:
            return ess, done
        more = min(2 * n_lags, cap)
        _fill_lags(dev, m, n, acov, n_lags, more)
        n_lags = more


@njit
def ess_from_acov(series, m, n, acov, out):
    """out[k] = ESS of row k of `series` (m chains of n draws) given its chain-averaged autocovariances."""
    for k in range(series.shape[0]):
        dev = np.empty(m * n)
        var_means = _deviations(series[k], m, n, dev)
        out[k], _ = _geyer_ess(acov[k], n, n, var_means, m)


# --------------------------------------------------------------------------- per-parameter passes


@njit
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


RHAT, BULK, TAIL, MEAN = 1, 2, 4, 8  # what `per_parameter` computes (RHAT | BULK shares the ranking)
TAIL_PROBS = (0.05, 0.95)  # arviz's tail ESS: the smaller of the ESS at these quantiles


@njit  # serial, not prange: see below
def per_parameter(x, half, what, table, index_kind, max_lag, out, series, fallback):
    """Diagnostics of every parameter of `x` (chains, draws, params), one parameter per thread.

    `what` picks the rows of `out` (2, params), NaN for a parameter with a non-finite draw:
    RHAT and/or BULK: rank-normalised split R-hat (max of bulk and folded) and bulk ESS;
    TAIL: ESS at the two `TAIL_PROBS` quantiles; MEAN: ESS of the split chains and the
    standard deviation of all draws.  `table` holds the normal scores of ranks 1..S
    (S = 2 x chains x `half`, split draws); orderings have the dtype of `index_kind`.
    An ESS whose Geyer sequence runs past `max_lag` lags is left NaN, flagged in
    ``fallback[row, j]`` and its series copied to ``series[row, j]`` for the FFT route.

    One kernel for all of them, and serial over parameters: a `prange` version took twice
    as long to compile cold (44 s against 20 s on the loaded 2-core CI machine, for
    milliseconds of work) and was slower there (17 ms against 11 ms for rhat + ess on
    4 x 10^4 x 5), as the second core is rarely free.
    """
    for j in range(x.shape[2]):
        if what & TAIL:
            _tail_parameter(x, j, half, index_kind, max_lag, out, series, fallback)
        elif what & MEAN:
            _mean_parameter(x, j, half, max_lag, out, series, fallback)
        else:
            _rank_parameter(x, j, half, table, index_kind, what & RHAT != 0, what & BULK != 0, max_lag, out, series,
                            fallback)


@njit
def _rank_parameter(x, j, half, table, index_kind, want_rhat, want_ess, max_lag, out, series, fallback):
    """`per_parameter` with RHAT / BULK for parameter j: out[0, j] = R-hat, out[1, j] = bulk ESS."""
    m = 2 * x.shape[0]
    size = m * half
    out[0, j] = math.nan
    out[1, j] = math.nan
    buf = np.empty(size)
    if not _gather_split(x, j, half, buf):
        return
    sorted_values, order = _sort_with_order(buf, index_kind)
    z = np.empty(size)
    _rank_scores(sorted_values, order, table, z)
    if want_rhat:
        tail = np.empty(size)
        _folded_scores(sorted_values, order, table, tail)
        out[0, j] = _fmax(_rhat_chains(z, m, half), _rhat_chains(tail, m, half))
    if want_ess:
        _ess_into(z, m, half, max_lag, out, series, fallback, np.int64(1), j)  # not a literal: one compile


@njit
def _ess_into(y, m, n, max_lag, out, series, fallback, row, j):
    """out[row, j] = ESS of `y`, or flag it for the FFT route with its series."""
    e, done = _ess_series(y, m, n, max_lag)
    out[row, j] = e
    if not done:
        fallback[row, j] = True
        for i in range(y.shape[0]):  # a loop: a slice assignment compiles numba's shape check (seconds, cold)
            series[row, j, i] = y[i]


@njit
def _fmax(a, b):
    """np.fmax: the larger, ignoring a NaN."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return max(a, b)


@njit
def _quantile7(sorted_values, p):
    """R's type-7 quantile of sorted draws, with the arithmetic of scipy's ``mquantiles(alphap=1, betap=1)``."""
    n = sorted_values.shape[0]
    aleph = n * p + (1.0 + p * -1.0)
    k = math.floor(min(max(aleph, 1.0), n - 1.0))
    gamma = min(max(aleph - k, 0.0), 1.0)
    k = int(k)
    return (1.0 - gamma) * sorted_values[k - 1] + gamma * sorted_values[k]


@njit
def _tail_parameter(x, j, half, index_kind, max_lag, out, series, fallback):
    """`per_parameter` with TAIL for parameter j: out[k, j] = ESS of ``x <= q_k`` (type-7 quantiles of all draws)."""
    c, n = x.shape[0], x.shape[1]
    m = 2 * c
    size = m * half
    out[0, j] = math.nan
    out[1, j] = math.nan
    draws = np.empty(c * n)
    finite = True
    for k in range(c):
        for i in range(n):
            v = x[k, i, j]
            draws[k * n + i] = v
            finite &= math.isfinite(v)
    if not finite:
        return
    ordered, _ = _sort_with_order(draws, index_kind)  # one sort for both quantiles
    split = np.empty(size)
    _gather_split(x, j, half, split)
    for side in range(2):
        q = _quantile7(ordered, TAIL_PROBS[side])
        ind = np.empty(size)
        for i in range(size):
            ind[i] = 1.0 if split[i] <= q else 0.0
        _ess_into(ind, m, half, max_lag, out, series, fallback, side, j)


@njit
def _mean_parameter(x, j, half, max_lag, out, series, fallback):
    """`per_parameter` with MEAN for parameter j: out[0, j] = ESS of the split chains, out[1, j] = sd (ddof 1)."""
    c, n = x.shape[0], x.shape[1]
    m = 2 * c
    out[0, j] = math.nan
    out[1, j] = math.nan
    buf = np.empty(m * half)
    if not _gather_split(x, j, half, buf):
        return
    s = 0.0
    for k in range(c):
        for i in range(n):
            s += x[k, i, j]
    mu = s / (c * n)
    ss = 0.0
    for k in range(c):
        for i in range(n):
            d = x[k, i, j] - mu
            ss += d * d
    out[1, j] = math.sqrt(ss / (c * n - 1.0))
    _ess_into(buf, m, half, max_lag, out, series, fallback, np.int64(0), j)  # not a literal: one compile
