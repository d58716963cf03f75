"""Batched classical two-sample tests: one test per row, rows in parallel.

Kernels return statistics (and t's degrees of freedom); the public layer turns
them into p-values with scipy's own distribution functions.
"""
import math

import numba
import numpy as np

from simengine._jit import njit, pjit
from simengine.kernels.twosample import _mean_ssd_shifted1, _mwu_u1, _mwu_z1, _ttest_pooled1, _ttest_welch1


@pjit
def _ttest_ind_rows(x, y, equal_var):
    """t (x minus y) and df for every row of x (k, n1) and y (k, n2).

    Also returns `overflow`, True for a row whose means, sums of squares or variance
    terms overflowed (finite data near 1e308 or 1e154) or underflowed (data near 1e-154):
    its t and df are wrong, and the caller recomputes it on rescaled data (t and df do
    not depend on the scale).
    """
    k, n1 = x.shape
    n2 = y.shape[1]
    t = np.empty(k)
    df = np.empty(k)
    overflow = np.zeros(k, dtype=np.bool_)
    for r in numba.prange(k):
        # shifted moments: constant samples get an exact 0 spread (t = nan or +-inf, not noise)
        m1, s1 = _mean_ssd_shifted1(x[r])
        m2, s2 = _mean_ssd_shifted1(y[r])
        t[r], df[r], overflow[r] = _ttest_moments1(n1, m1, s1, n2, m2, s2, equal_var)
    return t, df, overflow


@njit
def _ttest_moments1(n1, m1, s1, n2, m2, s2, equal_var):
    """t, df and the overflow flag of `_ttest_ind_rows` for one row, from its shifted moments."""
    if equal_var:
        t, df = _ttest_pooled1(float(n1), m1, s1, float(n2), m2, s2)
    else:
        t, df = _ttest_welch1(float(n1), m1, s1, float(n2), m2, s2)
    ss = s1 + s2
    # ss = 0 also means underflow when the data are tiny (deviations under 1e-162 need
    # means under ~1e-146); constant samples of ordinary size are left alone
    bad = (
        not (math.isfinite(m1 - m2) and math.isfinite(ss))
        or 0.0 < ss < _TINY
        or (ss == 0.0 and abs(m1) + abs(m2) < 1e-140)
    )
    if not equal_var:
        # Welch's df squares the variance terms: they overflow near 1e154, underflow near 1e-154
        v1 = s1 / (n1 - 1.0) / n1
        v2 = s2 / (n2 - 1.0) / n2
        q = v1 * v1 + v2 * v2
        bad = bad or not math.isfinite((v1 + v2) * (v1 + v2)) or (v1 + v2 > 0.0 and q < _TINY)
    return t, df, bad


@njit
def _shifted_sum_seg(x, x0, lo, hi, total):
    """`total` plus the sum of x[i] - x0 for i in lo..hi-1, in order: consecutive segments from 0 give
    `_mean_ssd_shifted1`'s sum bit for bit (a long sample runs in slices)."""
    for i in range(lo, hi):
        total += x[i] - x0
    return total


@njit
def _shifted_ssd_seg(x, x0, dm, lo, hi, ssd):
    """`ssd` plus the sum of ((x[i] - x0) - dm)**2 for i in lo..hi-1 (`_mean_ssd_shifted1`'s second pass)."""
    for i in range(lo, hi):
        d = (x[i] - x0) - dm
        ssd += d * d
    return ssd


@njit
def _mwu_scan_seg(keys, order, n1, i, stop, r1, tie_term):
    """`_mwu_u1`'s pass over the sorted pooled sample for the tie groups starting at i .. stop - 1.

    `keys` are the pooled values sorted (stably), `order` their pooled indices; i must start a
    tie group.  Returns the start of the next group and the running rank sum of x and tie term:
    consecutive calls from 0 give `_mwu_u1`'s sums bit for bit.
    """
    n = keys.shape[0]
    while i < stop:
        j = i
        v = keys[i]
        while j + 1 < n and keys[j + 1] == v:
            j += 1
        t = j - i + 1.0
        rank = (i + j) / 2.0 + 1.0  # average of ranks i+1 .. j+1
        for k in range(i, j + 1):
            if order[k] < n1:
                r1 += rank
        tie_term += t * t * t - t
        i = j + 1
    return i, r1, tie_term


# sums of squares below this have lost digits to subnormal underflow
_TINY = 1e-280


@pjit
def _mannwhitneyu_rows(x, y, continuity, alternative):
    """scipy's U1 statistic, the standardised z of the normal approximation and the tie term
    sum(t**3 - t) (0 when the row has no ties), per row, and done flags."""
    k, n1 = x.shape
    n2 = y.shape[1]
    u = np.empty(k)
    z = np.empty(k)
    ties = np.empty(k)
    # _mwu_u1 allocates the pooled row; a row whose allocation fails stops without raising
    # (numba's parallel loops do not re-raise), so each row flags its completion
    done = np.zeros(k, dtype=np.bool_)
    for r in numba.prange(k):
        u1, tie_term = _mwu_u1(x[r], y[r])
        u[r] = u1
        ties[r] = tie_term
        z[r] = _mwu_z1(u1, float(n1), float(n2), tie_term, continuity, alternative)
        done[r] = True
    return u, z, ties, done
