"""Peeking Monte Carlo kernels: A/A and A/B tests analysed at every look, from sufficient statistics.

Each replicate draws, per look and per arm, only what the tests need: a binomial count for binary data, or the
look's sum and within-look sum of squared deviations for normal data.  Rejection rules, critical values and the
mSPRT mixing variance are decided by the public layer (`simengine.sequential`); nothing here validates input.
"""
import math

import numba
import numpy as np

from simengine._jit import hjit, njit, pjit
from simengine.kernels.special import _t_two_tail
from simengine.kernels.twosample import (
    _pvalue_t1,
    _pvalue_z1,
    _ttest_pooled1,
    _ttest_welch1,
    _ztest_prop_pooled1,
)

METRIC_BINARY = 0
METRIC_NORMAL = 1

TEST_T = 0
TEST_WELCH = 1
TEST_Z = 2
TEST_MSPRT = 3

TWO_SIDED = 0
LESS = 1
GREATER = 2


@njit
def _merge_moments1(n, mean, ssd, m, mean_new, ssd_new):
    """Add a batch (m, mean_new, ssd_new) to running (n, mean, ssd): Chan et al.'s parallel-variance update."""
    total = n + m
    delta = mean_new - mean
    mean_out = mean + delta * (m / total)
    ssd_out = ssd + ssd_new + delta * delta * (n * m / total)
    return total, mean_out, ssd_out


@hjit
def _binary_moments1(successes, n):
    """Mean and sum of squared deviations of `n` 0/1 values with `successes` ones (exact: s(n-s)/n)."""
    return successes / n, successes * (n - successes) / n


@hjit
def _stat_welch1(nA, meanA, ssdA, nB, meanB, ssdB):
    """Welch t of B minus A and its df; df = 1 when both variances are zero (scipy: any df gives the same p)."""
    t, df = _ttest_welch1(nB, meanB, ssdB, nA, meanA, ssdA)
    if math.isnan(df):
        df = 1.0
    return t, df


@hjit
def _stat_z_binary1(nA, meanA, nB, meanB):
    """Pooled two-proportion z of B minus A."""
    return _ztest_prop_pooled1(meanB * nB, nB, meanA * nA, nA)


@hjit
def _stat_z_normal1(nA, meanA, nB, meanB, sd):
    """z of B minus A with known `sd`."""
    return (meanB - meanA) / (sd * math.sqrt(1.0 / nA + 1.0 / nB))


@hjit
def _msprt_log_lr1(var, diff, tau2):
    """log of the mixture likelihood ratio (Johari et al.) for a difference `diff` with variance estimate `var`."""
    if var == 0.0:
        # Limit V -> 0: the ratio vanishes unless the difference is nonzero, then it is infinite.
        return math.inf if diff != 0.0 else -math.inf
    return 0.5 * math.log(var / (var + tau2)) + tau2 * diff * diff / (2.0 * var * (var + tau2))


@hjit
def _stat_msprt_binary1(nA, meanA, nB, meanB, tau2):
    """mSPRT log Lambda for binary data: N(0, tau2) mixture over the difference in rates."""
    var = meanA * (1.0 - meanA) / nA + meanB * (1.0 - meanB) / nB
    return _msprt_log_lr1(var, meanB - meanA, tau2)


@hjit
def _stat_msprt_normal1(nA, meanA, ssdA, nB, meanB, ssdB, tau2):
    """mSPRT log Lambda for normal data, the variance pooled from both arms."""
    var = (ssdA + ssdB) / (nA + nB - 2.0) * (1.0 / nA + 1.0 / nB)
    return _msprt_log_lr1(var, meanB - meanA, tau2)


@njit
def _look_statistic1(test, metric, nA, meanA, ssdA, nB, meanB, ssdB, sd, tau2):
    """(statistic, df) of B minus A at one look, any test (the kernels below each call one branch).

    t and welch give Student t and its df (scipy's ttest_ind(B, A) convention, including Welch's df = 1 when
    both variances are zero); z gives a standard-normal statistic (pooled two-proportion for binary, known
    `sd` for normal) with df = inf; msprt gives log of the mixture likelihood ratio (Johari et al.), df = nan.
    """
    if test == TEST_T:
        return _ttest_pooled1(nB, meanB, ssdB, nA, meanA, ssdA)
    if test == TEST_WELCH:
        return _stat_welch1(nA, meanA, ssdA, nB, meanB, ssdB)
    if test == TEST_Z:
        if metric == METRIC_BINARY:
            return _stat_z_binary1(nA, meanA, nB, meanB), math.inf
        return _stat_z_normal1(nA, meanA, nB, meanB, sd), math.inf
    if metric == METRIC_BINARY:
        return _stat_msprt_binary1(nA, meanA, nB, meanB, tau2), math.nan
    return _stat_msprt_normal1(nA, meanA, ssdA, nB, meanB, ssdB, tau2), math.nan


@njit
def _look_pvalue1(test, alternative, stat, df):
    """p-value of a `_look_statistic1` result; for msprt the look's own 1/Lambda (capped at 1)."""
    if test == TEST_MSPRT:
        if math.isnan(stat):
            return math.nan
        return min(1.0, math.exp(-stat))
    if test == TEST_Z:
        return _pvalue_z1(stat, alternative)
    if df <= 0.0:
        return math.nan
    return _pvalue_t1(stat, df, alternative)


# `sure` / `never` bracket the critical value on the statistic's one-directional scale (|stat| two-sided, stat
# for greater, -stat for less): beyond `sure` the p-value is certainly <= level, below `never` certainly above,
# so the costly p-value is evaluated only in the thin band between them.  NaN statistics and level 0 (an
# infinite critical value; it rejects not even p = 0) never reject.  (Each is written out whole: every small
# helper function costs ~0.1 s of compilation on a first call.)

@hjit
def _reject_t1(alternative, stat, df, sure, never, level):
    """True if a t look rejects at nominal `level`, i.e. its p-value <= level.

    The p-value is kernels.twosample._pvalue_t1's, taken from one _t_two_tail call (t_pvalue_two_sided, t_cdf
    and t_sf are wrappers around it), so a kernel compiles the one tail routine.
    """
    if math.isnan(stat) or level <= 0.0:
        return False
    if alternative == TWO_SIDED:
        a = abs(stat)
    elif alternative == GREATER:
        a = stat
    else:
        a = -stat
    if a >= sure:
        return True
    if a < never or not df > 0.0:  # df <= 0 or nan: a nan p-value
        return False
    tail, middle = _t_two_tail(abs(stat), df)
    if alternative == TWO_SIDED:
        p = tail
    elif alternative == LESS:  # t_cdf
        p = 0.5 * tail if stat <= 0.0 else 0.5 + 0.5 * middle
    else:  # t_sf
        p = 0.5 * tail if stat >= 0.0 else 0.5 + 0.5 * middle
    return p <= level


@hjit
def _reject_z1(alternative, stat, sure, never, level):
    """True if a z look rejects at nominal `level`, i.e. its p-value <= level."""
    if math.isnan(stat) or level <= 0.0:
        return False
    if alternative == TWO_SIDED:
        a = abs(stat)
    elif alternative == GREATER:
        a = stat
    else:
        a = -stat
    if a >= sure:
        return True
    if a < never:
        return False
    return _pvalue_z1(stat, alternative) <= level


@hjit
def _reject_msprt1(stat, sure, level):
    """True if an mSPRT look rejects: log Lambda >= `sure` = log(1/level)."""
    if math.isnan(stat) or level <= 0.0:
        return False
    return stat >= sure


@hjit
def _futile_t1(alternative, stat, df, sure, never, level):
    """True if a one-sided t look stops for futility: its p-value in the tested direction is >= `level`.

    `level` = Phi(-f) for a futility boundary f on the z scale (1: no futility at this look); `sure` /
    `never` bracket the critical value as for `_reject_t1` (below `never` certainly futile, at or above
    `sure` certainly not).
    """
    if math.isnan(stat) or level >= 1.0:
        return False
    a = stat if alternative == GREATER else -stat
    if a < never:
        return True
    if a >= sure or not df > 0.0:
        return False
    tail, middle = _t_two_tail(abs(stat), df)
    if alternative == LESS:  # t_cdf
        p = 0.5 * tail if stat <= 0.0 else 0.5 + 0.5 * middle
    else:  # t_sf
        p = 0.5 * tail if stat >= 0.0 else 0.5 + 0.5 * middle
    return p >= level


@hjit
def _futile_z1(alternative, stat, sure, never, level):
    """True if a one-sided z look stops for futility (see `_futile_t1`)."""
    if math.isnan(stat) or level >= 1.0:
        return False
    a = stat if alternative == GREATER else -stat
    if a < never:
        return True
    if a >= sure:
        return False
    return _pvalue_z1(stat, alternative) >= level


@hjit
def _draw_normal_look1(g, m, mean, sd):
    """One arm's look of `m` normal visitors: (look mean, within-look ssd), exact in distribution."""
    total = m * mean + sd * math.sqrt(m) * g.standard_normal()
    ssd = 0.0
    if m > 1:
        ssd = sd * sd * g.chisquare(m - 1.0)
    return total / m, ssd


# One kernel per (metric, test), each running the `reps` experiments of one block from that block's Generator
# `g`: a kernel compiles only its own draws, statistic and p-value (one kernel for all eight paths compiled
# every one of them on the first call), and it is serial, the public layer spreading blocks over threads (a
# prange kernel costs ~2 s more to compile).  All take the same arguments: `looks` (4, n_looks) holds each
# look's visitors per arm (whole numbers <= 2**53, exact as float64) and the sequential rule's sure / never /
# level (see _reject_t1), one array so that a block call unboxes few objects; pA/pB are the arms' rates
# (binary) or means (normal); f_sure/f_never/f_level is the fixed-horizon rule applied at the last look alone;
# `sd` and `tau2` are read only where the path needs them; rows 4-6 of `looks`, when present, are a
# futility boundary's sure / never / level (see _futile_t1).  Each returns (first-rejection counts per look followed by
# futility-stop counts per look (one array: one allocation per block), fixed-horizon rejection count).  After an experiment's
# first rejection only its last look is analysed (for the fixed-horizon rule).


@njit
def _peeking_binary_t(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.zeros(2 * n_looks, dtype=np.int64)  # [0, n): first rejections; [n, 2n): futility stops
    futile = looks.shape[0] > 4  # rows 4-6: a futility boundary's sure / never / level
    final = 0
    for _ in range(reps):
        n, cA, cB, stopped = 0.0, 0, 0, False
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            # integer counts keep the zero-variance looks exact (scipy's nan / inf cases)
            cA += g.binomial(m, pA)
            cB += g.binomial(m, pB)
            n += m
            if stopped and k < n_looks - 1:
                continue
            mA, sA = _binary_moments1(cA, n)
            mB, sB = _binary_moments1(cB, n)
            s, df = _ttest_pooled1(n, mB, sB, n, mA, sA)  # B minus A
            if not stopped and _reject_t1(alternative, s, df, looks[1, k], looks[2, k], looks[3, k]):
                first[k] += 1
                stopped = True
            if not stopped and futile and _futile_t1(alternative, s, df, looks[4, k], looks[5, k], looks[6, k]):
                first[n_looks + k] += 1
                stopped = True
            if k == n_looks - 1 and _reject_t1(alternative, s, df, f_sure, f_never, f_level):
                final += 1
    return first, final


@njit
def _peeking_binary_welch(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.zeros(2 * n_looks, dtype=np.int64)  # [0, n): first rejections; [n, 2n): futility stops
    futile = looks.shape[0] > 4  # rows 4-6: a futility boundary's sure / never / level
    final = 0
    for _ in range(reps):
        n, cA, cB, stopped = 0.0, 0, 0, False
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            # integer counts keep the zero-variance looks exact (scipy's nan / inf cases)
            cA += g.binomial(m, pA)
            cB += g.binomial(m, pB)
            n += m
            if stopped and k < n_looks - 1:
                continue
            mA, sA = _binary_moments1(cA, n)
            mB, sB = _binary_moments1(cB, n)
            s, df = _stat_welch1(n, mA, sA, n, mB, sB)
            if not stopped and _reject_t1(alternative, s, df, looks[1, k], looks[2, k], looks[3, k]):
                first[k] += 1
                stopped = True
            if not stopped and futile and _futile_t1(alternative, s, df, looks[4, k], looks[5, k], looks[6, k]):
                first[n_looks + k] += 1
                stopped = True
            if k == n_looks - 1 and _reject_t1(alternative, s, df, f_sure, f_never, f_level):
                final += 1
    return first, final


@njit
def _peeking_binary_z(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.zeros(2 * n_looks, dtype=np.int64)  # [0, n): first rejections; [n, 2n): futility stops
    futile = looks.shape[0] > 4  # rows 4-6: a futility boundary's sure / never / level
    final = 0
    for _ in range(reps):
        n, cA, cB, stopped = 0.0, 0, 0, False
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            # integer counts keep the zero-variance looks exact (scipy's nan / inf cases)
            cA += g.binomial(m, pA)
            cB += g.binomial(m, pB)
            n += m
            if stopped and k < n_looks - 1:
                continue
            mA, sA = _binary_moments1(cA, n)
            mB, sB = _binary_moments1(cB, n)
            s = _stat_z_binary1(n, mA, n, mB)
            if not stopped and _reject_z1(alternative, s, looks[1, k], looks[2, k], looks[3, k]):
                first[k] += 1
                stopped = True
            if not stopped and futile and _futile_z1(alternative, s, looks[4, k], looks[5, k], looks[6, k]):
                first[n_looks + k] += 1
                stopped = True
            if k == n_looks - 1 and _reject_z1(alternative, s, f_sure, f_never, f_level):
                final += 1
    return first, final


@njit
def _peeking_binary_msprt(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.zeros(2 * n_looks, dtype=np.int64)  # [n, 2n): futility stops (mSPRT has none: zeros)
    final = 0
    for _ in range(reps):
        n, cA, cB, stopped = 0.0, 0, 0, False
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            # integer counts keep the zero-variance looks exact (scipy's nan / inf cases)
            cA += g.binomial(m, pA)
            cB += g.binomial(m, pB)
            n += m
            if stopped and k < n_looks - 1:
                continue
            mA, sA = _binary_moments1(cA, n)
            mB, sB = _binary_moments1(cB, n)
            s = _stat_msprt_binary1(n, mA, n, mB, tau2)
            if not stopped and _reject_msprt1(s, looks[1, k], looks[3, k]):
                first[k] += 1
                stopped = True
            if k == n_looks - 1 and _reject_msprt1(s, f_sure, f_level):
                final += 1
    return first, final


@njit
def _peeking_normal_t(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.zeros(2 * n_looks, dtype=np.int64)  # [0, n): first rejections; [n, 2n): futility stops
    futile = looks.shape[0] > 4  # rows 4-6: a futility boundary's sure / never / level
    final = 0
    for _ in range(reps):
        n, mA, sA, mB, sB, stopped = 0.0, 0.0, 0.0, 0.0, 0.0, False
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            lmA, lsA = _draw_normal_look1(g, m, pA, sd)
            lmB, lsB = _draw_normal_look1(g, m, pB, sd)
            _, mA, sA = _merge_moments1(n, mA, sA, m, lmA, lsA)
            n, mB, sB = _merge_moments1(n, mB, sB, m, lmB, lsB)
            if stopped and k < n_looks - 1:
                continue
            s, df = _ttest_pooled1(n, mB, sB, n, mA, sA)  # B minus A
            if not stopped and _reject_t1(alternative, s, df, looks[1, k], looks[2, k], looks[3, k]):
                first[k] += 1
                stopped = True
            if not stopped and futile and _futile_t1(alternative, s, df, looks[4, k], looks[5, k], looks[6, k]):
                first[n_looks + k] += 1
                stopped = True
            if k == n_looks - 1 and _reject_t1(alternative, s, df, f_sure, f_never, f_level):
                final += 1
    return first, final


@njit
def _peeking_normal_welch(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.zeros(2 * n_looks, dtype=np.int64)  # [0, n): first rejections; [n, 2n): futility stops
    futile = looks.shape[0] > 4  # rows 4-6: a futility boundary's sure / never / level
    final = 0
    for _ in range(reps):
        n, mA, sA, mB, sB, stopped = 0.0, 0.0, 0.0, 0.0, 0.0, False
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            lmA, lsA = _draw_normal_look1(g, m, pA, sd)
            lmB, lsB = _draw_normal_look1(g, m, pB, sd)
            _, mA, sA = _merge_moments1(n, mA, sA, m, lmA, lsA)
            n, mB, sB = _merge_moments1(n, mB, sB, m, lmB, lsB)
            if stopped and k < n_looks - 1:
                continue
            s, df = _stat_welch1(n, mA, sA, n, mB, sB)
            if not stopped and _reject_t1(alternative, s, df, looks[1, k], looks[2, k], looks[3, k]):
                first[k] += 1
                stopped = True
            if not stopped and futile and _futile_t1(alternative, s, df, looks[4, k], looks[5, k], looks[6, k]):
                first[n_looks + k] += 1
                stopped = True
            if k == n_looks - 1 and _reject_t1(alternative, s, df, f_sure, f_never, f_level):
                final += 1
    return first, final


@njit
def _peeking_normal_z(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.zeros(2 * n_looks, dtype=np.int64)  # [0, n): first rejections; [n, 2n): futility stops
    futile = looks.shape[0] > 4  # rows 4-6: a futility boundary's sure / never / level
    final = 0
    for _ in range(reps):
        n, mA, sA, mB, sB, stopped = 0.0, 0.0, 0.0, 0.0, 0.0, False
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            lmA, lsA = _draw_normal_look1(g, m, pA, sd)
            lmB, lsB = _draw_normal_look1(g, m, pB, sd)
            _, mA, sA = _merge_moments1(n, mA, sA, m, lmA, lsA)
            n, mB, sB = _merge_moments1(n, mB, sB, m, lmB, lsB)
            if stopped and k < n_looks - 1:
                continue
            s = _stat_z_normal1(n, mA, n, mB, sd)
            if not stopped and _reject_z1(alternative, s, looks[1, k], looks[2, k], looks[3, k]):
                first[k] += 1
                stopped = True
            if not stopped and futile and _futile_z1(alternative, s, looks[4, k], looks[5, k], looks[6, k]):
                first[n_looks + k] += 1
                stopped = True
            if k == n_looks - 1 and _reject_z1(alternative, s, f_sure, f_never, f_level):
                final += 1
    return first, final


@njit
def _peeking_normal_msprt(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.zeros(2 * n_looks, dtype=np.int64)  # [n, 2n): futility stops (mSPRT has none: zeros)
    final = 0
    for _ in range(reps):
        n, mA, sA, mB, sB, stopped = 0.0, 0.0, 0.0, 0.0, 0.0, False
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            lmA, lsA = _draw_normal_look1(g, m, pA, sd)
            lmB, lsB = _draw_normal_look1(g, m, pB, sd)
            _, mA, sA = _merge_moments1(n, mA, sA, m, lmA, lsA)
            n, mB, sB = _merge_moments1(n, mB, sB, m, lmB, lsB)
            if stopped and k < n_looks - 1:
                continue
            s = _stat_msprt_normal1(n, mA, sA, n, mB, sB, tau2)
            if not stopped and _reject_msprt1(s, looks[1, k], looks[3, k]):
                first[k] += 1
                stopped = True
            if k == n_looks - 1 and _reject_msprt1(s, f_sure, f_level):
                final += 1
    return first, final


# (metric code, test code) -> its kernel, for the public layer
PEEKING_KERNELS = {
    (METRIC_BINARY, TEST_T): _peeking_binary_t,
    (METRIC_BINARY, TEST_WELCH): _peeking_binary_welch,
    (METRIC_BINARY, TEST_Z): _peeking_binary_z,
    (METRIC_BINARY, TEST_MSPRT): _peeking_binary_msprt,
    (METRIC_NORMAL, TEST_T): _peeking_normal_t,
    (METRIC_NORMAL, TEST_WELCH): _peeking_normal_welch,
    (METRIC_NORMAL, TEST_Z): _peeking_normal_z,
    (METRIC_NORMAL, TEST_MSPRT): _peeking_normal_msprt,
}


# The t and Welch kernels without their p-values.  A look's rule needs the Student-t tail only when the statistic
# falls in the thin band between `never` and `sure` (relative width 1e-7 about the critical value), which few
# blocks ever meet, yet compiling that tail (incomplete beta, continued fraction, log-gamma) costs about 2 s CPU of
# a first call.  These kernels decide every look from `sure` / `never` alone, exactly as _reject_t1 / _futile_t1
# do outside the band, and give up on a block (final count -1, counts meaningless) at its first look inside the
# band; the public layer then runs that block again, from the same stream, with the kernel above that computes
# the p-value, so every count is the one that kernel would give.

BAND_NO = 0
BAND_YES = 1
BAND_UNSURE = 2


@hjit
def _reject_band1(alternative, stat, df, sure, never, level):
    """`_reject_t1` without the p-value: BAND_YES / BAND_NO, or BAND_UNSURE where only the p-value decides."""
    if math.isnan(stat) or level <= 0.0:
        return BAND_NO
    if alternative == TWO_SIDED:
        a = abs(stat)
    elif alternative == GREATER:
        a = stat
    else:
        a = -stat
    if a >= sure:
        return BAND_YES
    if a < never or not df > 0.0:
        return BAND_NO
    return BAND_UNSURE


@hjit
def _futile_band1(alternative, stat, df, sure, never, level):
    """`_futile_t1` without the p-value: BAND_YES / BAND_NO, or BAND_UNSURE where only the p-value decides."""
    if math.isnan(stat) or level >= 1.0:
        return BAND_NO
    a = stat if alternative == GREATER else -stat
    if a < never:
        return BAND_YES
    if a >= sure or not df > 0.0:
        return BAND_NO
    return BAND_UNSURE


@hjit
def _band_look1(alternative, s, df, looks, k, stopped, futile, first, f_sure, f_never, f_level):
    """Look k of a replicate in a band kernel: counts a rejection (first[k]) or a futility stop
    (first[n_looks + k]) of a replicate not yet stopped, and at the last look the fixed-horizon test.
    Returns -1 if a decision falls inside a band (the block must run again with p-values), else
    1 if the replicate stopped at this look + 2 if the last look's fixed-horizon test rejects."""
    n_looks = looks.shape[1]
    out = 0
    if not stopped:
        r = _reject_band1(alternative, s, df, looks[1, k], looks[2, k], looks[3, k])
        if r == BAND_UNSURE:
            return -1
        if r == BAND_YES:
            first[k] += 1
            stopped = True
            out = 1
    if not stopped and futile:
        r = _futile_band1(alternative, s, df, looks[4, k], looks[5, k], looks[6, k])
        if r == BAND_UNSURE:
            return -1
        if r == BAND_YES:
            first[n_looks + k] += 1
            out = 1
    if k == n_looks - 1:
        r = _reject_band1(alternative, s, df, f_sure, f_never, f_level)
        if r == BAND_UNSURE:
            return -1
        if r == BAND_YES:
            out += 2
    return out


@njit
def _peeking_binary_t_band(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.empty(2 * n_looks, dtype=np.int64)
    for k in range(2 * n_looks):  # zeros (np.zeros compiles two more overloads on a first call)
        first[k] = 0
    futile = looks.shape[0] > 4
    final = 0
    for _ in range(reps):
        n, cA, cB, stopped = 0.0, 0, 0, np.bool_(False)  # not a literal False: _band_look1 compiles once
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            cA += g.binomial(m, pA)
            cB += g.binomial(m, pB)
            n += m
            if stopped and k < n_looks - 1:
                continue
            mA, sA = _binary_moments1(cA, n)
            mB, sB = _binary_moments1(cB, n)
            s, df = _ttest_pooled1(n, mB, sB, n, mA, sA)  # B minus A
            r = _band_look1(alternative, s, df, looks, k, stopped, futile, first, f_sure, f_never, f_level)
            if r < 0:
                return first, -1
            stopped = stopped or (r & 1) == 1
            final += r >> 1
    return first, final


@njit
def _peeking_binary_welch_band(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.empty(2 * n_looks, dtype=np.int64)
    for k in range(2 * n_looks):  # zeros (np.zeros compiles two more overloads on a first call)
        first[k] = 0
    futile = looks.shape[0] > 4
    final = 0
    for _ in range(reps):
        n, cA, cB, stopped = 0.0, 0, 0, np.bool_(False)  # not a literal False: _band_look1 compiles once
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            cA += g.binomial(m, pA)
            cB += g.binomial(m, pB)
            n += m
            if stopped and k < n_looks - 1:
                continue
            mA, sA = _binary_moments1(cA, n)
            mB, sB = _binary_moments1(cB, n)
            s, df = _stat_welch1(n, mA, sA, n, mB, sB)
            r = _band_look1(alternative, s, df, looks, k, stopped, futile, first, f_sure, f_never, f_level)
            if r < 0:
                return first, -1
            stopped = stopped or (r & 1) == 1
            final += r >> 1
    return first, final


@njit
def _peeking_normal_t_band(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.empty(2 * n_looks, dtype=np.int64)
    for k in range(2 * n_looks):  # zeros (np.zeros compiles two more overloads on a first call)
        first[k] = 0
    futile = looks.shape[0] > 4
    final = 0
    for _ in range(reps):
        n, mA, sA, mB, sB, stopped = 0.0, 0.0, 0.0, 0.0, 0.0, np.bool_(False)  # (see above)
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            lmA, lsA = _draw_normal_look1(g, m, pA, sd)
            lmB, lsB = _draw_normal_look1(g, m, pB, sd)
            _, mA, sA = _merge_moments1(n, mA, sA, m, lmA, lsA)
            n, mB, sB = _merge_moments1(n, mB, sB, m, lmB, lsB)
            if stopped and k < n_looks - 1:
                continue
            s, df = _ttest_pooled1(n, mB, sB, n, mA, sA)  # B minus A
            r = _band_look1(alternative, s, df, looks, k, stopped, futile, first, f_sure, f_never, f_level)
            if r < 0:
                return first, -1
            stopped = stopped or (r & 1) == 1
            final += r >> 1
    return first, final


@njit
def _peeking_normal_welch_band(g, reps, looks, pA, pB, sd, alternative, tau2, f_sure, f_never, f_level):
    n_looks = looks.shape[1]
    first = np.empty(2 * n_looks, dtype=np.int64)
    for k in range(2 * n_looks):  # zeros (np.zeros compiles two more overloads on a first call)
        first[k] = 0
    futile = looks.shape[0] > 4
    final = 0
    for _ in range(reps):
        n, mA, sA, mB, sB, stopped = 0.0, 0.0, 0.0, 0.0, 0.0, np.bool_(False)  # (see above)
        for k in range(n_looks):
            m = np.int64(looks[0, k])
            lmA, lsA = _draw_normal_look1(g, m, pA, sd)
            lmB, lsB = _draw_normal_look1(g, m, pB, sd)
            _, mA, sA = _merge_moments1(n, mA, sA, m, lmA, lsA)
            n, mB, sB = _merge_moments1(n, mB, sB, m, lmB, lsB)
            if stopped and k < n_looks - 1:
                continue
            s, df = _stat_welch1(n, mA, sA, n, mB, sB)
            r = _band_look1(alternative, s, df, looks, k, stopped, futile, first, f_sure, f_never, f_level)
            if r < 0:
                return first, -1
            stopped = stopped or (r & 1) == 1
            final += r >> 1
    return first, final


# (metric code, test code) -> its kernel without p-values, tried first (see above); paths without one compute no
# costly p-value
BAND_KERNELS = {
    (METRIC_BINARY, TEST_T): _peeking_binary_t_band,
    (METRIC_BINARY, TEST_WELCH): _peeking_binary_welch_band,
    (METRIC_NORMAL, TEST_T): _peeking_normal_t_band,
    (METRIC_NORMAL, TEST_WELCH): _peeking_normal_welch_band,
}


@pjit
def _binomial_floor(gens, block, n_sims, visitors, pA, pB):
    """RNG floor for benchmarks: draw exactly the binomial counts `_peeking` draws, and nothing else."""
    n_looks = visitors.shape[0]
    nb = len(gens)
    out = np.zeros(nb, dtype=np.int64)
    for b in numba.prange(nb):
        g = gens[np.int64(b)]
        total = 0
        for r in range(b * block, min((b + 1) * block, n_sims)):
            for k in range(n_looks):
                total += g.binomial(visitors[k], pA)
                total += g.binomial(visitors[k], pB)
        out[b] = total
    return out


# Gaussian-kernel band of the group-sequential recursion: terms beyond 10 sd are below 2e-22 of the peak.
_GS_CUTOFF = 10.0
_GS_WIDTH = 12.0  # each look's grid spans at most centre +- 12 sd of S_k (the density beyond is below 1e-30)


@hjit
def _gs_transition(x_new, x_old, mass, shift, sd, out):
    """out[i] = sum_j mass[j] exp(-((x_new[i] - x_old[j] - shift) / sd)^2 / 2), over |z| <= 10.

    `x_old` is a uniform grid.  Along a row the Gaussian factors follow a two-term recurrence
    (e_{j+1} = e_j r_j, r_{j+1} = r_j exp(-d^2) with d the grid step in sd units), so a row costs two
    exps and a few multiplications per term; only the band of old points within 10 sd is summed, which
    makes a look O(grid x band) instead of O(grid^2).
    """
    n_new = x_new.shape[0]
    n_old = x_old.shape[0]
    lo = x_old[0]
    h = (x_old[n_old - 1] - lo) / (n_old - 1)
    d = h / sd
    # min / max / int are written out below: each builtin call compiles a small numba overload per signature
    # and caller (~0.05-0.1 s of a first call each); the expressions are the ones numba's min/max evaluate
    width = math.ceil(_GS_CUTOFF / d) + 1  # an int64 already
    q = math.exp(-d * d)
    for i in range(n_new):
        target = x_new[i] - shift
        c = (target - lo) / h
        out[i] = 0.0
        if c < -width or c > n_old - 1 + width:
            continue
        j0 = round(c)  # an int64
        j0 = 0 if 0 > j0 else j0
        j0 = n_old - 1 if n_old - 1 < j0 else j0
        j_lo = j0 - width if j0 - width > 0 else 0
        j_hi = j0 + width if j0 + width < n_old - 1 else n_old - 1
        z0 = (target - x_old[j0]) / sd
        e0 = math.exp(-0.5 * z0 * z0)
        acc = mass[j0] * e0
        if d <= 1.0:
            # upwards z_{j+1} = z_j - d and downwards z_{j-1} = z_j + d, walked together: two independent
            # multiply chains per iteration instead of one (the loop is latency-bound)
            eu = e0
            ru = math.exp(z0 * d - 0.5 * d * d)
            ed = e0
            rd = math.exp(-z0 * d - 0.5 * d * d)
            both = j0 - j_lo if j0 - j_lo < j_hi - j0 else j_hi - j0
            acc_d = 0.0
            for o in range(1, both + 1):
                eu *= ru
                ru *= q
                ed *= rd
                rd *= q
                acc += mass[j0 + o] * eu
                acc_d += mass[j0 - o] * ed
            for j in range(j0 + both + 1, j_hi + 1):
                eu *= ru
                ru *= q
                acc += mass[j] * eu
            for j in range(j0 - both - 1, j_lo - 1, -1):
                ed *= rd
                rd *= q
                acc_d += mass[j] * ed
            acc += acc_d
        else:  # a grid coarse against the increment: few terms, exact exps (the recurrence could overflow)
            for j in range(j_lo, j_hi + 1):
                if j != j0:
                    z = (target - x_old[j]) / sd
                    acc += mass[j] * math.exp(-0.5 * z * z)
        out[i] = acc


@hjit
def _ndtr1(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@hjit
def _gs_tails1(edge_hi, edge_lo, centre, scale, two_sided):
    """P(S >= edge_hi) + P(S <= edge_lo) (the second only two-sided) for S ~ N(centre, scale^2)."""
    p = _ndtr1((centre - edge_hi) / scale)
    if two_sided:
        p += _ndtr1((edge_lo - centre) / scale)
    return p


@hjit
def _gs_grid1(k, bound, t, drift, two_sided, step, max_points, counts):
    """(lo, hi, intervals) of look k's continuation grid; intervals 0 when the region is empty.

    counts[k] > 0 fixes the number of intervals (so that the crossing probability is a smooth function of
    the boundary while a root finder moves it); otherwise it follows from the grid step `step`.
    """
    centre = drift * t[k]
    width = _GS_WIDTH * math.sqrt(t[k])
    # min(a, b) and max(a, b) as numba evaluates them (b if b < a else a; b if b > a else a: NaN stays as given)
    hi = centre + width if centre + width < bound[k] else bound[k]
    if two_sided:
        lo = centre - width if centre - width > -bound[k] else -bound[k]
    else:
        lo = centre - width
    if not hi > lo:
        return lo, hi, 0
    if counts[k] > 0:
        return lo, hi, counts[k]
    c = np.float64(math.ceil((hi - lo) / step))  # int(min(max(ceil, 2.0), max_points - 1.0)), written out
    c = 2.0 if 2.0 > c else c
    c = max_points - 1.0 if max_points - 1.0 < c else c
    m = np.int64(c)
    m += m % 2  # Simpson needs an even number of intervals
    return lo, hi, m


@hjit
def _gs_fill_grid1(lo, hi, m, x, w):
    """Uniform grid of m intervals on [lo, hi] (as numpy.linspace) and its Simpson weights."""
    h = (hi - lo) / m
    for j in range(m + 1):
        x[j] = lo + j * h
        w[j] = (2.0 if j % 2 == 0 else 4.0) * h / 3.0
    x[m] = hi
    w[0] = h / 3.0
    w[m] = h / 3.0


@njit
def _gs_crossing(bound, t, drift, two_sided, step, max_points, counts):
    """First-crossing probability at each look of Brownian motion with `drift` observed at `t`, boundary
    +-`bound` on the score scale S_k (Armitage, McPherson & Rowe 1969): see `sequential._crossing_probabilities`.
    """
    n_looks = bound.shape[0]
    out = np.empty(n_looks)  # zeros, filled by the loop below (np.zeros compiles two more overloads)
    sd = np.empty(n_looks)
    prev = 0.0
    for k in range(n_looks):
        out[k] = 0.0
        sd[k] = math.sqrt(t[k] - prev)
        prev = t[k]
    out[0] = _gs_tails1(bound[0], -bound[0], drift * t[0], sd[0], two_sided)
    if n_looks == 1:
        return out
    # np.int64: with a literal 0 numba would compile _gs_grid1 a second time
    lo, hi, m = _gs_grid1(np.int64(0), bound, t, drift, two_sided, step, max_points, counts)
    if m == 0:
        return out
    size = np.int64(max_points) + 1
    x = np.empty(size)
    w = np.empty(size)
    xn = np.empty(size)
    wn = np.empty(size)
    dens = np.empty(size)
    mass = np.empty(size)
    _gs_fill_grid1(lo, hi, m, x, w)
    norm0 = sd[0] * math.sqrt(2.0 * math.pi)
    for j in range(m + 1):
        z = (x[j] - drift * t[0]) / sd[0]
        dens[j] = math.exp(-0.5 * z * z) / norm0
    for k in range(1, n_looks):
        shift = drift * (t[k] - t[k - 1])
        acc = 0.0
        for j in range(m + 1):
            mass[j] = dens[j] * w[j]
            acc += mass[j] * _gs_tails1(bound[k], -bound[k], x[j] + shift, sd[k], two_sided)
        out[k] = acc
        if k == n_looks - 1:
            break
        lo, hi, mn = _gs_grid1(k, bound, t, drift, two_sided, step, max_points, counts)
        if mn == 0:
            break
        _gs_fill_grid1(lo, hi, mn, xn, wn)
        _gs_transition(xn[: mn + 1], x[: m + 1], mass[: m + 1], shift, sd[k], dens[: mn + 1])
        norm = sd[k] * math.sqrt(2.0 * math.pi)
        for j in range(mn + 1):
            dens[j] /= norm
        x, xn = xn, x
        w, wn = wn, w
        m = mn
    return out
