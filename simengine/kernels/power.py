"""Monte Carlo power of two-sample tests under a shift alternative.

Sample 1 (treatment) is the base distribution shifted by `shift`, sample 2 the
base distribution; each replicate stores one statistic (t, z, or a permutation
p-value) and the public layer turns them into rejections.  Replicates of one
sample size are cut into fixed blocks; block b of size index i draws only from
gens[i * n_blocks + b].  The full-sample kernels (one per test) also cut a block
into work units of replicates, run in order from the block's Generator.
"""
import math

import numba
import numpy as np

from simengine._jit import njit, pjit
from simengine.kernels.sort import sort_inplace
from simengine.kernels.twosample import (
    GREATER,
    LESS,
    _mean_ssd1,
    _mwu_sorted1,
    _mwu_z1,
    _ttest_pooled1,
    _ttest_welch1,
)

# base distributions (mean of sample 2; the shift is added to sample 1)
NORMAL = 0
LOGNORMAL = 1
EXPONENTIAL = 2


@pjit
def _power_t_normal(gens, block, n_arr, n_sims, shift, lo, hi, t):
    """Student t for the replicates of jobs lo..hi-1 from exact sufficient statistics of normal samples.

    Sample mean ~ N(mu, 1/n) and sum of squared deviations ~ chi-square(n - 1),
    independent (Cochran's theorem), so a replicate costs four draws instead of 2n.
    Job i * n_blocks + b is block b of size index i; it fills its part of t (n_points, n_sims),
    sample 1 minus sample 2, and draws from gens[job - lo] alone (`gens` holds the slice's streams).
    Returns t.
    """
    nb = (n_sims + block - 1) // block
    for j in numba.prange(hi - lo):
        job = lo + np.int64(j)
        i = job // nb
        b = job - i * nb
        g = gens[np.int64(j)]
        n = float(n_arr[i])
        sd_mean = 1.0 / math.sqrt(n)
        for r in range(b * block, min((b + 1) * block, n_sims)):
            m1 = shift + sd_mean * g.standard_normal()
            m2 = sd_mean * g.standard_normal()
            s1 = g.chisquare(n - 1.0)
            s2 = g.chisquare(n - 1.0)
            t[i, r] = _ttest_pooled1(n, m1, s1, n, m2, s2)[0]
    return t


@njit
def _draw1(g, dist, out, shift):
    for j in range(out.shape[0]):
        if dist == NORMAL:
            out[j] = g.standard_normal() + shift
        elif dist == LOGNORMAL:
            out[j] = math.exp(g.standard_normal()) + shift
        else:
            out[j] = g.standard_exponential() + shift


@njit
def _perm_pvalue1(g, x, y, alternative, n_resamples, pooled, perm):
    """Randomised permutation p-value of mean(x) - mean(y), scipy's rule with permutation_test's
    ties: within max(100 eps |observed|, 4 (n + 1) eps M), M the largest |value| (the data are
    not centred here, so the sums' rounding is relative to M)."""
    n1 = x.shape[0]
    n = pooled.shape[0]
    total = 0.0
    big = 0.0
    for j in range(n1):
        pooled[j] = x[j]
        total += x[j]
        big = max(big, abs(x[j]))
    s2 = 0.0
    for j in range(y.shape[0]):
        pooled[n1 + j] = y[j]
        s2 += y[j]
        big = max(big, abs(y[j]))
    n2 = n - n1
    observed = total / n1 - s2 / n2
    total += s2
    eps = 2.220446049250313e-16
    gamma = max(abs(100.0 * eps * observed), 4.0 * (n + 1) * eps * big)
    n_le = 0
    n_ge = 0
    for j in range(n):
        perm[j] = j
    for _ in range(n_resamples):
        s = 0.0
        for j in range(n1):
            k = j + np.int64(g.random() * (n - j))
            tmp = perm[j]
            perm[j] = perm[k]
            perm[k] = tmp
            s += pooled[perm[j]]
        stat = s / n1 - (total - s) / n2
        n_le += stat <= observed + gamma
        n_ge += stat >= observed - gamma
    p_le = (n_le + 1.0) / (n_resamples + 1.0)
    p_ge = (n_ge + 1.0) / (n_resamples + 1.0)
    if alternative == LESS:
        return p_le
    if alternative == GREATER:
        return p_ge
    return min(min(p_le, p_ge) * 2.0, 1.0)


@njit
def _unit_replicates(u, j0, nj, nb, block, unit, n_sims):
    """Size index and replicate range [lo, hi) of work unit u of the group of jobs j0..j0+nj-1.

    Jobs are numbered as in `_power_t_normal`; a job's block of replicates is cut into parts of
    `unit` replicates (one part when `unit` >= `block`), and a group's units are numbered part-major:
    unit u is part u // nj of job j0 + u % nj.
    """
    job = j0 + u % nj
    i = job // nb
    b = job - i * nb
    lo = b * block + (u // nj) * unit
    hi = min(lo + unit, (b + 1) * block, n_sims)
    return i, lo, hi


# The full-sample kernels below run units u0..u1-1 of the group of jobs j0..j0+nj-1 (see
# `_unit_replicates`); job j0 + k draws from gens[k] alone.  A call takes one job, j0 + il (il < nj and
# il < u1 - u0), and runs its units of [u0, u1) in order, and a job's parts in later calls continue its
# Generator's stream (a Generator passed in keeps its state), so the draws are those of one pass over the
# block whatever the unit size or slicing.  The public layer spreads a group's jobs over threads of its own
# (`_long.threaded_blocks`; the kernels release the GIL): serial kernels, as a prange kernel costs
# ~2 s more to compile.  Each unit sets its flag in `done` (indexed by u - u0) and the caller checks every
# flag.  One kernel per test: a call compiles only its own test's path.


@njit
def _power_t_samples(gens, j0, nj, block, unit, n_arr, n_sims, shift, dist, welch, u0, u1, il, stat, df, done):
    """Pooled (or, with `welch`, Welch) t and df of full samples: fills stat and df (n_points, n_sims)."""
    nb = (n_sims + block - 1) // block
    u = u0 + il
    g = gens[u % nj]
    i = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)[0]
    n = n_arr[i]
    fn = float(n)
    x = np.empty(n)
    y = np.empty(n)
    while u < u1:
        i, lo, hi = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)
        for r in range(lo, hi):
            _draw1(g, dist, x, shift)
            _draw1(g, dist, y, 0.0)
            m1, s1 = _mean_ssd1(x)
            m2, s2 = _mean_ssd1(y)
            if welch:
                stat[i, r], df[i, r] = _ttest_welch1(fn, m1, s1, fn, m2, s2)
            else:
                stat[i, r], df[i, r] = _ttest_pooled1(fn, m1, s1, fn, m2, s2)
        done[u - u0] = True
        u += nj
    return stat, df, done


@njit
def _power_mwu_samples(gens, j0, nj, block, unit, n_arr, n_sims, shift, dist, alternative, u0, u1, il, stat,
                       done):
    """Standardised U (scipy's z for `alternative`, continuity-corrected) of full samples: fills stat."""
    nb = (n_sims + block - 1) // block
    u = u0 + il
    g = gens[u % nj]
    i = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)[0]
    n = n_arr[i]
    fn = float(n)
    x = np.empty(n)
    y = np.empty(n)
    tmp = np.empty(n)
    while u < u1:
        i, lo, hi = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)
        for r in range(lo, hi):
            _draw1(g, dist, x, shift)
            _draw1(g, dist, y, 0.0)
            # the samples are not needed after ranking: sorted in place, no allocation per replicate
            sort_inplace(x, tmp)
            sort_inplace(y, tmp)
            u1_, tie_term = _mwu_sorted1(x, y)
            stat[i, r] = _mwu_z1(u1_, fn, fn, tie_term, True, alternative)
        done[u - u0] = True
        u += nj
    return stat, done


@njit
def _power_perm_samples(gens, j0, nj, block, unit, n_arr, n_sims, shift, dist, alternative, n_resamples, u0, u1, il,
                        stat, done):
    """Randomised permutation p-value of mean(x) - mean(y) of full samples: fills stat."""
    nb = (n_sims + block - 1) // block
    u = u0 + il
    g = gens[u % nj]
    i = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)[0]
    n = n_arr[i]
    x = np.empty(n)
    y = np.empty(n)
    pooled = np.empty(2 * n)
    perm = np.empty(2 * n, dtype=np.int64)
    while u < u1:
        i, lo, hi = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)
        for r in range(lo, hi):
            _draw1(g, dist, x, shift)
            _draw1(g, dist, y, 0.0)
            stat[i, r] = _perm_pvalue1(g, x, y, alternative, n_resamples, pooled, perm)
        done[u - u0] = True
        u += nj
    return stat, done


@njit
def _family_t_block(g, block, n_tests, n_true, n, shift, c_lo, c_hi, t, f0, b):
    """`_family_t_normal`'s cells of block `b` within c_lo..c_hi-1, drawn in order from its generator `g`."""
    per_block = block * n_tests
    fn = float(n)
    sd_mean = 1.0 / math.sqrt(fn)
    start = max(c_lo, b * per_block)
    f = start // n_tests
    j = start - f * n_tests
    for _ in range(min(c_hi, (b + 1) * per_block) - start):
        mu = shift if j < n_true else 0.0
        m1 = mu + sd_mean * g.standard_normal()
        m2 = sd_mean * g.standard_normal()
        s1 = g.chisquare(fn - 1.0)
        s2 = g.chisquare(fn - 1.0)
        t[f - f0, j] = _ttest_pooled1(fn, m1, s1, fn, m2, s2)[0]
        j += 1
        if j == n_tests:
            j = 0
            f += 1


@pjit
def _family_t_normal(gens, block, n_tests, n_true, n, shift, c_lo, c_hi, t, f0):
    """Pooled t of the cells c_lo..c_hi-1 (cell f * n_tests + j: test j of family f) into t[f - f0, j].

    The first `n_true` tests of a family have group 1 shifted by `shift`, the
    rest are null; sufficient statistics are drawn exactly as in `_power_t_normal`.
    Block b holds families b * block .. (b + 1) * block - 1 and draws their cells in order
    from its own generator, gens[b - c_lo // (block * n_tests)]; blocks run in parallel.  A generator keeps
    its state between calls, so any cut of the cells into consecutive calls (the caller
    passing a cut block's generator again) gives the same t.
    """
    b_lo = c_lo // (block * n_tests)
    for jb in numba.prange((c_hi - 1) // (block * n_tests) + 1 - b_lo):
        _family_t_block(gens[np.int64(jb)], block, n_tests, n_true, n, shift, c_lo, c_hi, t, f0,
                        b_lo + np.int64(jb))


# ---------------------------------------------------------------- paired designs (issue 17)
# One sample of n within-pair differences per replicate (`_draw1` with the centring folded into its
# shift, so that the differences have mean `shift` in the public layer's units).  Jobs, units and streams
# are numbered as for the two-sample kernels above.


@pjit
def _power_paired_t_normal(gens, block, n_arr, n_sims, shift, lo, hi, t):
    """One-sample t of normal differences from exact sufficient statistics (mean, sum of squares): fills t.

    Mean ~ N(shift, 1/n) and sum of squared deviations ~ chi-square(n - 1), independent, so a
    replicate costs two draws; jobs and streams as in `_power_t_normal`.
    """
    nb = (n_sims + block - 1) // block
    for j in numba.prange(hi - lo):
        job = lo + np.int64(j)
        i = job // nb
        b = job - i * nb
        g = gens[np.int64(j)]
        n = float(n_arr[i])
        sd_mean = 1.0 / math.sqrt(n)
        for r in range(b * block, min((b + 1) * block, n_sims)):
            m = shift + sd_mean * g.standard_normal()
            s = g.chisquare(n - 1.0)
            t[i, r] = m / math.sqrt(s / (n - 1.0) / n)
    return t


@njit
def _power_paired_t_samples(gens, j0, nj, block, unit, n_arr, n_sims, shift, dist, u0, u1, il, stat, done):
    """One-sample t of full samples of differences: fills stat (df is n - 1)."""
    nb = (n_sims + block - 1) // block
    u = u0 + il
    g = gens[u % nj]
    i = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)[0]
    n = n_arr[i]
    fn = float(n)
    d = np.empty(n)
    while u < u1:
        i, lo, hi = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)
        for r in range(lo, hi):
            _draw1(g, dist, d, shift)
            m, s = _mean_ssd1(d)
            stat[i, r] = m / math.sqrt(s / (fn - 1.0) / fn)
        done[u - u0] = True
        u += nj
    return stat, done


@njit
def _signed_rank1(d, a, s, tmp):
    """Wilcoxon's r_plus, the count of nonzero differences and the tie term sum(t**3 - t) of their |d|.

    Zeros are dropped (scipy's zero_method="wilcox").  `a` gets the sorted |d| of the nonzero
    differences, `s` the sorted positive ones; one walk over the tie groups of `a` gives each its
    average rank and takes from `s` the positives of that value.  The draws are finite (no NaN).
    """
    m = 0
    k = 0
    for j in range(d.shape[0]):
        if d[j] != 0.0:
            a[m] = abs(d[j])
            m += 1
            if d[j] > 0.0:
                s[k] = d[j]
                k += 1
    sort_inplace(a[:m], tmp)
    sort_inplace(s[:k], tmp)
    r_plus = 0.0
    tie_term = 0.0
    b = 0
    lo = 0
    while lo < m:
        v = a[lo]
        hi = lo + 1
        while hi < m and a[hi] == v:
            hi += 1
        rank = (lo + hi - 1) / 2.0 + 1.0  # average of ranks lo+1 .. hi
        while b < k and s[b] == v:
            r_plus += rank
            b += 1
        t = float(hi - lo)
        tie_term += t * t * t - t
        lo = hi
    return r_plus, float(m), tie_term


@njit
def _power_wilcoxon_samples(gens, j0, nj, block, unit, n_arr, n_sims, shift, dist, u0, u1, il, stat, aux, done):
    """Wilcoxon signed-rank r_plus of full samples of differences into stat; aux[0] the count of nonzero
    differences, aux[1] the tie term (the public layer turns them into p-values)."""
    nb = (n_sims + block - 1) // block
    u = u0 + il
    g = gens[u % nj]
    i = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)[0]
    n = n_arr[i]
    d = np.empty(n)
    a = np.empty(n)
    s = np.empty(n)
    tmp = np.empty(n)
    while u < u1:
        i, lo, hi = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)
        for r in range(lo, hi):
            _draw1(g, dist, d, shift)
            stat[i, r], aux[0, i, r], aux[1, i, r] = _signed_rank1(d, a, s, tmp)
        done[u - u0] = True
        u += nj
    return stat, aux, done


@njit
def _sign_flip_pvalue1(g, d, alternative, n_resamples):
    """Sign-flip permutation p-value of mean(d) (scipy's permutation_type="samples").

    Exact (all 2**n sign patterns, the observed one included, p = count / 2**n) when 2**n <= n_resamples,
    else `n_resamples` random patterns (each sign flipped when a uniform draw is < 0.5) and
    p = (count + 1) / (n_resamples + 1).  Ties within max(100 eps |observed|, 4 (n + 1) eps M) count,
    M the largest |d|, as in `_perm_pvalue1`.
    """
    n = d.shape[0]
    s_obs = 0.0
    big = 0.0
    for j in range(n):
        s_obs += d[j]
        big = max(big, abs(d[j]))
    observed = s_obs / n
    eps = 2.220446049250313e-16
    gamma = max(abs(100.0 * eps * observed), 4.0 * (n + 1) * eps * big)
    n_le = 0
    n_ge = 0
    exact = n < 62 and (np.int64(1) << n) <= n_resamples
    if exact:
        total = np.int64(1) << n
        for mask in range(total):
            s = 0.0
            for j in range(n):
                if (mask >> j) & 1:
                    s -= d[j]
                else:
                    s += d[j]
            stat = s / n
            n_le += stat <= observed + gamma
            n_ge += stat >= observed - gamma
        p_le = n_le / total
        p_ge = n_ge / total
    else:
        for _ in range(n_resamples):
            s = 0.0
            for j in range(n):
                if g.random() < 0.5:
                    s -= d[j]
                else:
                    s += d[j]
            stat = s / n
            n_le += stat <= observed + gamma
            n_ge += stat >= observed - gamma
        p_le = (n_le + 1.0) / (n_resamples + 1.0)
        p_ge = (n_ge + 1.0) / (n_resamples + 1.0)
    if alternative == LESS:
        return p_le
    if alternative == GREATER:
        return p_ge
    return min(min(p_le, p_ge) * 2.0, 1.0)


@njit
def _power_paired_perm_samples(gens, j0, nj, block, unit, n_arr, n_sims, shift, dist, alternative, n_resamples,
                               u0, u1, il, stat, done):
    """Sign-flip permutation p-value of the mean difference of full samples: fills stat."""
    nb = (n_sims + block - 1) // block
    u = u0 + il
    g = gens[u % nj]
    i = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)[0]
    n = n_arr[i]
    d = np.empty(n)
    while u < u1:
        i, lo, hi = _unit_replicates(u, j0, nj, nb, block, unit, n_sims)
        for r in range(lo, hi):
            _draw1(g, dist, d, shift)
            stat[i, r] = _sign_flip_pvalue1(g, d, alternative, n_resamples)
        done[u - u0] = True
        u += nj
    return stat, done
