"""Coverage of bootstrap intervals: the nested Monte Carlo (replicates x resamples) of `simulate_bootstrap_coverage`.

Each replicate draws a sample, bootstraps its statistic `n_resamples` times (index j of a resample is
``int(u * n)``, u one uniform draw), sorts the bootstrap distribution and scores every interval method
with the interval helpers of `kernels/bootstrap.py`.  One kernel per statistic family (the mean; a
quantile, the median included): a call compiles only its own path.  No validation here.
"""
import math

import numpy as np

from simengine._jit import njit
from simengine.kernels.bootstrap import (
    ALT_TWO_SIDED,
    basic_interval1,
    bca_accel,
    bca_interval_z1,
    boot_quantile1,
    jackknife_accel_terms1,
    percentile_interval1,
    percentile_of_score1,
)
from simengine.kernels.sort import sort_inplace

# distributions of the simulated samples
NORMAL = 0
LOGNORMAL = 1
EXPONENTIAL = 2
T3 = 3
BERNOULLI = 4

# interval methods
PERCENTILE = 0
BASIC = 1
BCA = 2


@njit
def _draw_sample1(g, dist, p, x):
    """A sample into `x` from standard normal and uniform draws only (two samplers to compile, not five):
    exponential by inversion, t with 3 df as Z0 / sqrt((Z1^2 + Z2^2 + Z3^2) / 3), Bernoulli(p) as u < p."""
    for j in range(x.shape[0]):
        if dist == NORMAL:
            x[j] = g.standard_normal()
        elif dist == LOGNORMAL:
            x[j] = math.exp(g.standard_normal())
        elif dist == EXPONENTIAL:
            x[j] = -math.log1p(-g.random())
        elif dist == T3:
            z0 = g.standard_normal()
            z1 = g.standard_normal()
            z2 = g.standard_normal()
            z3 = g.standard_normal()
            x[j] = z0 / math.sqrt((z1 * z1 + z2 * z2 + z3 * z3) / 3.0)
        else:
            x[j] = 1.0 if g.random() < p else 0.0


@njit
def _score1(theta, theta_hat, accel, methods, level, ztab, z_alpha, truth, out):
    """Score each method's interval of the sorted bootstrap distribution `theta` into out[m]:
    (covered, width, width**2, NaN intervals); a NaN interval covers nothing and has no width.

    BCa's z0 is ztab[k], k = 2 B x the percentile of score of `theta_hat` (an integer in 0..2B): the
    public layer tabulates scipy's ndtri(k / 2B), so no normal quantile is compiled here."""
    for m in range(methods.shape[0]):
        code = methods[m]
        if code == PERCENTILE:
            low, high = percentile_interval1(theta, level, ALT_TWO_SIDED)
        elif code == BASIC:
            low, high = basic_interval1(theta, theta_hat, level, ALT_TWO_SIDED)
        else:
            k = np.int64(percentile_of_score1(theta, theta_hat) * (2.0 * theta.shape[0]) + 0.5)
            low, high = bca_interval_z1(theta, ztab[k], z_alpha, accel, ALT_TWO_SIDED)
        if low != low or high != high:
            out[m, 3] += 1.0
            continue
        if low <= truth <= high:
            out[m, 0] += 1.0
        w = high - low
        out[m, 1] += w
        out[m, 2] += w * w


# The kernels run replicates r0..r1-1 of one block from its Generator `g` (which keeps its state between
# calls, so a block cut between two slices continues its stream) and add each method's sums to out[m].
# `sampler` is None for the built-in distributions (the cached specialisation) or a user's jitted
# ``sampler(g, x)`` that fills x; the public layer compiles the latter through an uncached twin.
# They are serial and release the GIL: the public layer runs blocks side by side in threads (a prange
# kernel would cost seconds more to compile).


@njit
def _coverage_mean1(g, n, r0, r1, dist, p, sampler, truth, methods, level, ztab, z_alpha, n_resamples, bca, out):
    """Coverage sums of the intervals for the mean."""
    x = np.empty(n)
    theta = np.empty(n_resamples)
    tmp = np.empty(n_resamples)
    jack = np.empty(n)
    for _ in range(r0, r1):
        if sampler is None:  # numba prunes the branch not taken: a built-in distribution compiles no call
            _draw_sample1(g, dist, p, x)
        else:
            sampler(g, x)
        s = 0.0
        for j in range(n):
            s += x[j]
        theta_hat = s / n
        for b in range(n_resamples):
            t = 0.0
            for j in range(n):
                t += x[np.int64(g.random() * n)]
            theta[b] = t / n
        sort_inplace(theta, tmp)
        accel = 0.0
        if bca:
            for j in range(n):
                jack[j] = (s - x[j]) / (n - 1)
            num, den = jackknife_accel_terms1(jack)
            accel = bca_accel(num, den)
        _score1(theta, theta_hat, accel, methods, level, ztab, z_alpha, truth, out)
    return out


@njit
def _quantile_without1(xs, q, skip):
    """`boot_quantile1` of the sorted `xs` with its element `skip` left out (-1: none), without copying."""
    n = xs.shape[0] - (1 if skip >= 0 else 0)
    jg = q * n + (1.0 - q)
    jp1 = math.floor(jg)
    g = jg - jp1
    j = jp1 - 1.0
    if j < 0.0:
        g = 0.0
    j = min(max(j, 0.0), n - 1.0)
    jp1 = min(max(jp1, 0.0), n - 1.0)
    a = int(j)
    c = int(jp1)
    if skip >= 0:
        a += 1 if a >= skip else 0
        c += 1 if c >= skip else 0
    return (1.0 - g) * xs[a] + g * xs[c]


@njit
def _coverage_quantile1(g, n, r0, r1, dist, p, sampler, q, truth, methods, level, ztab, z_alpha, n_resamples, bca,
                        out):
    """Coverage sums of the intervals for quantile `q` (linear method; the median is q = 0.5).

    The sample is sorted once; a resample is a count per sorted index, so its sorted values (and its
    quantile) come out in O(n) without a sort."""
    x = np.empty(n)
    xtmp = np.empty(n)
    res = np.empty(n)
    counts = np.zeros(n, dtype=np.int64)
    theta = np.empty(n_resamples)
    tmp = np.empty(n_resamples)
    jack = np.empty(n)
    for _ in range(r0, r1):
        if sampler is None:  # numba prunes the branch not taken: a built-in distribution compiles no call
            _draw_sample1(g, dist, p, x)
        else:
            sampler(g, x)
        sort_inplace(x, xtmp)
        theta_hat = boot_quantile1(x, q)
        for b in range(n_resamples):
            for j in range(n):
                counts[np.int64(g.random() * n)] += 1
            k = 0
            for j in range(n):
                for _c in range(counts[j]):
                    res[k] = x[j]
                    k += 1
                counts[j] = 0
            theta[b] = boot_quantile1(res, q)
        sort_inplace(theta, tmp)
        accel = 0.0
        if bca:
            for j in range(n):
                jack[j] = _quantile_without1(x, q, j)
            num, den = jackknife_accel_terms1(jack)
            accel = bca_accel(num, den)
        _score1(theta, theta_hat, accel, methods, level, ztab, z_alpha, truth, out)
    return out


@njit
def _coverage_moment1(g, n, r0, r1, dist, p, sampler, use_std, truth, methods, level, ztab, z_alpha, n_resamples, bca,
                      out):
    """Coverage sums of the intervals for the variance (or, with `use_std`, the SD), divisor n (NumPy's ddof=0).

    A resample's variance is sum_j c_j (x_j - m)^2 / n over the counts c_j of each observation, m its mean
    (two passes); the jackknife's from the downdated sum of squares SS - (x_i - mean)^2 n / (n - 1)."""
    x = np.empty(n)
    counts = np.zeros(n, dtype=np.int64)
    theta = np.empty(n_resamples)
    tmp = np.empty(n_resamples)
    jack = np.empty(n)
    for _ in range(r0, r1):
        if sampler is None:  # numba prunes the branch not taken: a built-in distribution compiles no call
            _draw_sample1(g, dist, p, x)
        else:
            sampler(g, x)
        s = 0.0
        for j in range(n):
            s += x[j]
        mean = s / n
        ss = 0.0
        for j in range(n):
            d = x[j] - mean
            ss += d * d
        theta_hat = math.sqrt(ss / n) if use_std else ss / n
        for b in range(n_resamples):
            for j in range(n):
                counts[np.int64(g.random() * n)] += 1
            t = 0.0
            for j in range(n):
                t += counts[j] * x[j]
            m = t / n
            v = 0.0
            for j in range(n):
                d = x[j] - m
                v += counts[j] * (d * d)
                counts[j] = 0
            theta[b] = math.sqrt(v / n) if use_std else v / n
        sort_inplace(theta, tmp)
        accel = 0.0
        if bca:
            for j in range(n):
                d = x[j] - mean
                ssj = max(ss - d * d * n / (n - 1.0), 0.0)
                jack[j] = math.sqrt(ssj / (n - 1)) if use_std else ssj / (n - 1)
            num, den = jackknife_accel_terms1(jack)
            accel = bca_accel(num, den)
        _score1(theta, theta_hat, accel, methods, level, ztab, z_alpha, truth, out)
    return out
