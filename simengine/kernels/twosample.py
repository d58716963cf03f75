"""Scalar two-sample test statistics from sufficient statistics, shared by every simulator.

`alternative` is an int code (see `simengine._validate.ALTERNATIVES`):
0 two-sided, 1 less, 2 greater.  Degenerate inputs (zero variance) follow
NumPy arithmetic like scipy: a nonzero difference over zero spread gives
t = +-inf and p = 0; a zero difference gives nan.
"""
import math

import numba
import numpy as np

from simengine._jit import njit, pjit
from simengine.kernels import special
from simengine.kernels.sort import _after, argsort_stable, sort_inplace

TWO_SIDED = 0
LESS = 1
GREATER = 2


@njit
def _pvalue_t1(t, df, alternative):
    """p-value of a t statistic with `df` degrees of freedom."""
    if math.isnan(t) or math.isnan(df):
        return math.nan
    if alternative == TWO_SIDED:
        return special.t_pvalue_two_sided(t, df)
    if alternative == LESS:
        return special.t_cdf(t, df)
    return special.t_sf(t, df)


@njit
def _pvalue_z1(z, alternative):
    """p-value of a standard-normal statistic."""
    if math.isnan(z):
        return math.nan
    if alternative == TWO_SIDED:
        return 2.0 * special.norm_sf(abs(z))
    if alternative == LESS:
        return special.norm_cdf(z)
    return special.norm_sf(z)


@njit
def _ttest_pooled1(n1, mean1, ssd1, n2, mean2, ssd2):
    """Student's pooled-variance t for sample 1 minus sample 2.

    `ssd` is the sum of squared deviations from the sample mean.  Returns (t, df),
    matching scipy.stats.ttest_ind(sample1, sample2, equal_var=True).
    """
    df = n1 + n2 - 2.0
    var = (ssd1 + ssd2) / df
    denom = math.sqrt(var * (1.0 / n1 + 1.0 / n2))
    return (mean1 - mean2) / denom, df


@njit
def _ttest_welch1(n1, mean1, ssd1, n2, mean2, ssd2):
    """Welch's t and Welch-Satterthwaite df for sample 1 minus sample 2 (scipy's equal_var=False)."""
    v1 = ssd1 / (n1 - 1.0) / n1
    v2 = ssd2 / (n2 - 1.0) / n2
    denom = math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1.0) + v2 * v2 / (n2 - 1.0))
    return (mean1 - mean2) / denom, df


@njit
def _ztest_prop_pooled1(k1, n1, k2, n2):
    """Pooled two-proportion z for sample 1 minus sample 2 (statsmodels' proportions_ztest default)."""
    p1 = k1 / n1
    p2 = k2 / n2
    p = (k1 + k2) / (n1 + n2)
    denom = math.sqrt(p * (1.0 - p) * (1.0 / n1 + 1.0 / n2))
    return (p1 - p2) / denom


# --- issue 3: building blocks for batched tests and power simulators ---


@njit
def _mean_ssd1(x):
    """Mean and sum of squared deviations of a 1-D array (two passes, like NumPy's var)."""
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        total += x[i]
    mean = total / n
    ssd = 0.0
    for i in range(n):
        d = x[i] - mean
        ssd += d * d
    return mean, ssd


@njit
def _mean_ssd_shifted1(x):
    """Mean and sum of squared deviations computed on ``x - x[0]``.

    A constant sample gives a sum of squares of exactly 0 and its value as the mean (the
    plain two-pass form leaves rounding noise when the value is not representable, e.g.
    15 x 3.7), and a sample whose values agree to many digits keeps its spread: the
    differences from x[0] are exact for values within a factor of two of it (Sterbenz).
    """
    n = x.shape[0]
    x0 = x[0]
    total = 0.0
    for i in range(n):
        total += x[i] - x0
    dm = total / n
    ssd = 0.0
    for i in range(n):
        d = (x[i] - x0) - dm
        ssd += d * d
    return x0 + dm, ssd


@njit
def _mwu_sorted1(xs, ys):
    """Mann-Whitney U of `x` (scipy's U1) and the tie term sum(t**3 - t), from both samples sorted ascending.

    Walks the two sorted samples as one pooled sorted sample: tie groups in ascending order, each
    giving its average rank to its members from `x` one addition at a time, so the sums are those of
    ranking the stably sorted pooled sample.  A NaN (sorted last; never equal to itself) is a group
    of one, those of `x` first, as the stable pooled order puts them.
    """
    n1 = xs.shape[0]
    n2 = ys.shape[0]
    a = 0
    b = 0
    pos = 0
    r1 = 0.0
    tie_term = 0.0
    while a < n1 or b < n2:
        from_x = b >= n2 or (a < n1 and not _after(xs[a], ys[b]))
        v = xs[a] if from_x else ys[b]
        cx = 0
        cy = 0
        if v != v:
            if from_x:
                a += 1
                cx = 1
            else:
                b += 1
                cy = 1
        else:
            while a < n1 and xs[a] == v:
                a += 1
                cx += 1
            while b < n2 and ys[b] == v:
                b += 1
                cy += 1
        i = pos
        j = pos + cx + cy - 1
        t = j - i + 1.0
        rank = (i + j) / 2.0 + 1.0  # average of ranks i+1 .. j+1
        for _ in range(cx):
            r1 += rank
        tie_term += t * t * t - t
        pos = j + 1
    return r1 - n1 * (n1 + 1) / 2.0, tie_term


@njit
def _mwu_u1(x, y):
    """Mann-Whitney U of `x` (scipy's U1) and the tie term sum(t**3 - t) of the pooled sample.

    Average ranks for ties: sorted copies of the two samples walked as one (`_mwu_sorted1`).  Copies
    are written as loops and the sort is a small value sort: numba's mergesort and slice assignment
    each cost ~1-2 s to compile.
    """
    n1 = x.shape[0]
    n2 = y.shape[0]
    xs = np.empty(n1)
    ys = np.empty(n2)
    for k in range(n1):
        xs[k] = x[k]
    for k in range(n2):
        ys[k] = y[k]
    tmp = np.empty(max(n1, n2))
    sort_inplace(xs, tmp)
    sort_inplace(ys, tmp)
    return _mwu_sorted1(xs, ys)


@njit
def _mwu_z1(u1, n1, n2, tie_term, continuity, alternative):
    """Standardised U for the normal approximation, scipy's convention.

    The p-value is ``norm.sf(z)`` (times 2 for two-sided, clipped to 1): "greater"
    uses U1, "less" uses U2 = n1*n2 - U1, two-sided the larger of the two; the
    continuity correction subtracts 0.5.  Zero spread (all values tied) gives +-inf/nan
    like scipy's NumPy arithmetic.
    """
    u2 = n1 * n2 - u1
    if alternative == GREATER:
        u = u1
    elif alternative == LESS:
        u = u2
    else:
        u = max(u1, u2)
    n = n1 + n2
    s = math.sqrt(n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0))))
    num = u - n1 * n2 / 2.0
    if continuity:
        num -= 0.5
    return num / s


@njit
def _mwu_counts_int1(m, n, maxu):
    """Number of the comb(m + n, m) splits whose U is 0, 1, ..., maxu, exactly (int64).

    The counts are the coefficients of the Gaussian binomial [m + n, m]_q =
    prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), built one factor at a time: the series
    is truncated at maxu (truncation commutes with both steps) and every partial
    product is again a Gaussian binomial, so nothing exceeds comb(m + n, m).  The
    caller makes sure that fits in int64.  O(m * maxu).
    """
    c = np.zeros(maxu + 1, dtype=np.int64)
    c[0] = 1
    for i in range(1, m + 1):
        for u in range(i, maxu + 1):  # divide by (1 - q^i): running sums with stride i
            c[u] += c[u - i]
        for u in range(maxu, n + i - 1, -1):  # multiply by (1 - q^(n+i)), from the top down
            c[u] -= c[u - n - i]
    return c


@njit
def _mwu_pmf_float1(m, n, maxu):
    """P(U = 0..maxu) for samples of m and n when the counts overflow int64.

    The largest pooled value is from the second sample with probability n / (m + n)
    (U unchanged) or from the first (U gains n): p(j, k, u) = k/(j+k) p(j, k-1, u)
    + j/(j+k) p(j-1, k, u-k), a recursion of positive terms (no cancellation).
    O(m * n * maxu).
    """
    p = np.zeros((m + 1, maxu + 1))
    p[:, 0] = 1.0
    for k in range(1, n + 1):
        for j in range(1, m + 1):
            a = k / (j + k)
            b = j / (j + k)
            row = p[j]
            prev = p[j - 1]
            for u in range(maxu, -1, -1):
                row[u] = a * row[u] + (b * prev[u - k] if u >= k else 0.0)
    return p[m].copy()


# --- a stable argsort in slices, for single samples too long to sort in one uninterruptible call ---


@pjit
def _sort_runs(x, run, lo, hi, keys, order):
    """Runs lo..hi-1 of `x` (`run` values each, the last maybe shorter) stably sorted, in place.

    keys[a:b] gets the run's values in ascending order and order[a:b] their indices into
    `x` (ties in index order), for every run [a, b) = [u * run, (u + 1) * run).
    """
    n = x.shape[0]
    for j in numba.prange(hi - lo):
        a = (lo + np.int64(j)) * run
        b = min(a + run, n)
        o = argsort_stable(x[a:b])
        for i in range(b - a):
            order[a + i] = a + o[i]
            keys[a + i] = x[a + o[i]]


@pjit
def _merge_pass(keys, order, width, seg, lo, hi, keys_out, order_out):
    """Output segments lo..hi-1 (`seg` positions each) of one merge pass of sorted runs of `width`.

    Runs [s, s + width) and [s + width, s + 2 width) merge stably (on equal keys the
    first run's value comes first) into the same positions of keys_out / order_out.  A
    segment finds where it starts in the two runs by bisection (its co-rank), so segments
    are independent; `seg` divides 2 x `width`, so no segment straddles two pairs.  Every
    stable sort gives the same order, so the result does not depend on run, seg or slicing.
    """
    n = keys.shape[0]
    for j in numba.prange(hi - lo):
        o_lo = (lo + np.int64(j)) * seg
        o_hi = min(o_lo + seg, n)
        s = o_lo // (2 * width) * (2 * width)
        a_end = min(s + width, n)
        b_end = min(s + 2 * width, n)
        k = o_lo - s
        i_lo = max(0, k - (b_end - a_end))
        i_hi = min(k, a_end - s)
        while i_lo < i_hi:  # the number of first-run values among the pair's first k outputs
            mid = (i_lo + i_hi) // 2
            if keys[a_end + (k - mid) - 1] >= keys[s + mid]:
                i_lo = mid + 1
            else:
                i_hi = mid
        i = s + i_lo
        jj = a_end + (k - i_lo)
        for o in range(o_lo, o_hi):
            if jj >= b_end or (i < a_end and keys[i] <= keys[jj]):
                keys_out[o] = keys[i]
                order_out[o] = order[i]
                i += 1
            else:
                keys_out[o] = keys[jj]
                order_out[o] = order[jj]
                jj += 1
