"""Bootstrap kernels: confidence intervals from one bootstrap distribution, and the resampling itself.

The interval helpers (``*_interval1``, ``boot_quantile1``, ``percentile_of_score1``,
``jackknife_accel_terms1``, ``bca_accel``) take one 1-D float64 bootstrap distribution, sorted
ascending with NaN last, and allocate nothing; they follow scipy.stats.bootstrap's formulas
(scipy 1.17 ``_resampling.py``: quantiles by ``scipy.stats.quantile``'s linear method, z0 by the
"mean" percentile of score, the jackknife acceleration of Efron & Tibshirani 1993, eq. 14.15).
Other kernel families (bootstrap coverage) call them, so their names and signatures stay.
No validation and no warnings here: the public layer (`simengine.bootstrap`) does both.
"""
import math

import numpy as np
from llvmlite import ir
from numba import types

from simengine._jit import hjit, njit
from simengine._numba_compat import intrinsic
from simengine.kernels.rng import (
    _V8,
    _broadcast8,
    _emit_pcg64x8,
    _splat8,
    aligned64,
    pcg64x8_init,
    pcg64x8_raw,
    pcg64x8_state,
)
from simengine.kernels.special import norm_cdf, norm_ppf

# `alternative` codes (scipy's meaning: "less" has low = -inf, "greater" has high = inf)
ALT_TWO_SIDED = 0
ALT_LESS = 1
ALT_GREATER = 2


# --------------------------------------------------------------------------- interval helpers


@njit
def boot_quantile1(sorted_theta, p):
    """Quantile `p` of the sorted 1-D float64 array `sorted_theta`, as scipy.stats.quantile's "linear" method.

    ``j + g = p (B - 1)`` with B = len(sorted_theta), result ``(1 - g) a[j] + g a[j + 1]`` computed as
    scipy does (``jg = p B + 1 - p``).  NaN if `p` is NaN or outside [0, 1], or if the array holds a
    NaN (it sorts last), as scipy's nan_policy="propagate".
    """
    n = sorted_theta.shape[0]
    if not (0.0 <= p <= 1.0) or n == 0:
        return math.nan
    if sorted_theta[n - 1] != sorted_theta[n - 1]:
        return math.nan
    jg = p * n + (1.0 - p)
    jp1 = math.floor(jg)
    g = jg - jp1
    j = jp1 - 1.0
    if j < 0.0:
        g = 0.0
    j = min(max(j, 0.0), n - 1.0)
    jp1 = min(max(jp1, 0.0), n - 1.0)
    return (1.0 - g) * sorted_theta[int(j)] + g * sorted_theta[int(jp1)]


@njit
def percentile_of_score1(sorted_theta, score):
    """``(#{theta < score} + #{theta <= score}) / (2 B)`` over the sorted array (scipy's BCa percentile of score).

    Two bisections; NaN entries (last) and a NaN `score` count as neither below nor equal.
    """
    n = sorted_theta.shape[0]
    lo = 0
    hi = n
    while lo < hi:  # first index with not (theta < score)
        mid = (lo + hi) // 2
        if sorted_theta[mid] < score:
            lo = mid + 1
        else:
            hi = mid
    below = lo
    hi = n
    while lo < hi:  # first index with not (theta <= score)
        mid = (lo + hi) // 2
        if sorted_theta[mid] <= score:
            lo = mid + 1
        else:
            hi = mid
    return (below + lo) / (2.0 * n)


@njit
def jackknife_accel_terms1(theta_jack):
    """One sample's terms of the BCa acceleration from its jackknife statistics ``theta_jack`` (1-D float64).

    Returns ``(sum(U**3) / m**3, sum(U**2) / m**2)`` with ``U = (m - 1) (mean(theta_jack) - theta_jack)``,
    m = len(theta_jack).  Several samples add their terms before `bca_accel`, as scipy does.
    """
    m = theta_jack.shape[0]
    s = 0.0
    for i in range(m):
        s += theta_jack[i]
    mean = s / m
    num = 0.0
    den = 0.0
    for i in range(m):
        u = (m - 1.0) * (mean - theta_jack[i])
        u2 = u * u
        num += u2 * u
        den += u2
    return num / (float(m) ** 3), den / (float(m) ** 2)


@njit
def bca_accel(num, den):
    """The BCa acceleration ``num / (6 den**1.5)`` from summed `jackknife_accel_terms1` (NaN when den = 0)."""
    return 1.0 / 6.0 * num / den**1.5


@njit
def _alpha(confidence_level, alternative):
    """Tail probability of each end: half of 1 - level for a two-sided interval, all of it for one-sided."""
    if alternative == ALT_TWO_SIDED:
        return (1.0 - confidence_level) / 2.0
    return 1.0 - confidence_level


@njit
def _one_sided(low, high, alternative):
    if alternative == ALT_LESS:
        return -math.inf, high
    if alternative == ALT_GREATER:
        return low, math.inf
    return low, high


@njit
def percentile_interval1(sorted_theta, confidence_level, alternative):
    """Percentile interval ``(low, high)`` of a sorted bootstrap distribution.

    ``alternative``: ALT_TWO_SIDED (0), ALT_LESS (1, low = -inf) or ALT_GREATER (2, high = inf).
    """
    alpha = _alpha(confidence_level, alternative)
    low = boot_quantile1(sorted_theta, alpha)
    high = boot_quantile1(sorted_theta, 1.0 - alpha)
    return _one_sided(low, high, alternative)


@njit
def basic_interval1(sorted_theta, theta_hat, confidence_level, alternative):
    """Basic ("reverse percentile") interval ``(2 theta_hat - q_high, 2 theta_hat - q_low)``."""
    alpha = _alpha(confidence_level, alternative)
    q_low = boot_quantile1(sorted_theta, alpha)
    q_high = boot_quantile1(sorted_theta, 1.0 - alpha)
    return _one_sided(2.0 * theta_hat - q_high, 2.0 * theta_hat - q_low, alternative)


@njit
def bca_levels_z1(z0, z_alpha, accel):
    """BCa's adjusted quantile levels ``(alpha_1, alpha_2)`` from the bias correction ``z0``, the normal quantile
    ``z_alpha`` of the tail probability and the acceleration (scipy's formulas)."""
    num1 = z0 + z_alpha
    alpha_1 = norm_cdf(z0 + num1 / (1.0 - accel * num1))
    num2 = z0 - z_alpha
    alpha_2 = norm_cdf(z0 + num2 / (1.0 - accel * num2))
    return alpha_1, alpha_2


@njit
def bca_levels1(sorted_theta, theta_hat, accel, alpha):
    """BCa's adjusted quantile levels ``(alpha_1, alpha_2)`` for tail probability `alpha` (scipy's formulas)."""
    return bca_levels_z1(norm_ppf(percentile_of_score1(sorted_theta, theta_hat)), norm_ppf(alpha), accel)


@njit
def bca_interval_z1(sorted_theta, z0, z_alpha, accel, alternative):
    """`bca_interval1` given ``z0 = norm_ppf(percentile_of_score1(sorted_theta, theta_hat))`` and
    ``z_alpha = norm_ppf(alpha)`` (alpha: the tail probability of each end, see `bca_interval1`)."""
    alpha_1, alpha_2 = bca_levels_z1(z0, z_alpha, accel)
    low = boot_quantile1(sorted_theta, alpha_1)
    high = boot_quantile1(sorted_theta, alpha_2)
    return _one_sided(low, high, alternative)


@njit
def bca_interval1(sorted_theta, theta_hat, accel, confidence_level, alternative):
    """Bias-corrected and accelerated interval of a sorted bootstrap distribution.

    `theta_hat` is the statistic of the data, `accel` the acceleration (`bca_accel`).  NaN ends
    where scipy gives NaN (a NaN acceleration, e.g. a statistic constant under the jackknife).
    The tail probability of each end is ``(1 - confidence_level) / 2`` (two-sided) or
    ``1 - confidence_level`` (one-sided), as for the other methods.
    """
    z0 = norm_ppf(percentile_of_score1(sorted_theta, theta_hat))
    return bca_interval_z1(sorted_theta, z0, norm_ppf(_alpha(confidence_level, alternative)), accel, alternative)


# One kernel per method, so that a call compiles only the interval it asks for.  The rows of `sorted_theta`
# (k, B) are sorted ascending with NaN last (np.sort's order); one thread: B values per row is little work.


@njit
def _intervals_percentile(sorted_theta, confidence_level, alternative, low, high):
    """`percentile_interval1` of each row into low, high (k,)."""
    for r in range(sorted_theta.shape[0]):
        low[r], high[r] = percentile_interval1(sorted_theta[r], confidence_level, alternative)
    return low


@njit
def _intervals_basic(sorted_theta, theta_hat, confidence_level, alternative, low, high):
    """`basic_interval1` of each row into low, high (k,)."""
    for r in range(sorted_theta.shape[0]):
        low[r], high[r] = basic_interval1(sorted_theta[r], theta_hat[r], confidence_level, alternative)
    return low


@njit
def _intervals_bca(sorted_theta, z0, z_alpha, accel, alternative, low, high):
    """`bca_interval_z1` of each row into low, high (k,): z0 (k,) and z_alpha come from the caller (scipy's
    ndtri in the public layer: the normal quantile would cost this kernel a second of compilation)."""
    for r in range(sorted_theta.shape[0]):
        low[r], high[r] = bca_interval_z1(sorted_theta[r], z0[r], z_alpha, accel[r], alternative)
    return low


# --------------------------------------------------------------------------- resampling
#
# The resample index rule (replayed in NumPy by `simengine.naive.bootstrap_indices`): a draw of n indices
# takes 64-bit outputs of the block's PCG64 stream (NumPy's ``bit_generator.random_raw()`` words) in groups
# of eight, and cuts each output into chunks of w bits, low chunk first: w = 16 (four candidates per output)
# when n <= 2**16, else w = 32 (two).  A chunk c is Lemire's bounded draw: m = c * n, the index is m >> w,
# and the candidate is rejected when the low w bits of m are below (2**w - n) mod n, which makes every index
# exactly uniform on 0..n-1.  Candidates are taken in order (output by output, low chunk first) and the draw
# stops at the n-th accepted one; the rest of that group of eight outputs is dropped, so the next draw (the
# next sample, or the next resample) starts on a fresh group.  A resample draws, for each sample in order,
# n_j indices (paired samples: one draw of n for all).
#
# Why groups of eight: the eight outputs come from one vector step of eight PCG64 lanes
# (`simengine.kernels.rng.pcg64x8_raw`), and the 32 candidates of a group are cut, multiplied and tested in
# the same vectors (`_group16`); a group whose candidates all fit in the draw is then used whole, in any order
# (counts and sums do not depend on it), and only the group that ends a draw is read candidate by candidate.
# This costs about a quarter of the time of drawing output by output (which itself needed a quarter of the
# PCG64 steps of NumPy's ``integers(0, n, n)``).  NumPy's integers stream is not reproduced.
#
# Every column (row of the (k, n_j) arrays) uses the same indices, as scipy applies one resample to all
# slices.  Built-in statistics use only how often each observation was drawn (`counts`), so a resample's
# statistic does not depend on the draw order, and the observed statistic is the same formula with every
# count 1.  A block's stream state is a uint64 array `st` (state high, low, increment high, low, and two words
# kept for the layout of NumPy's PCG64 state, unused), carried from one part to the next; inside a part the
# stream runs as lanes (`pcg64x8_init` ... `pcg64x8_state`).
#
# A ``*_part`` kernel runs resamples t0..t1-1 of one block with that block's PCG64 state `st` (which it
# updates, so a block cut into parts draws what it would draw whole) and, in the call
# with t0 == 0, fills `observed`.  They are plain @njit functions that release the GIL: the public layer
# runs the blocks of a slice on Python threads.  A prange kernel over blocks would cost every statistic's
# first call ~1.5 s more of parallel-loop compilation.

_SMALL_N = 1 << 16  # largest n drawn from 16-bit chunks
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_GROUP = 32  # candidates of a group of eight outputs when n <= 2**16 (16 above)


@intrinsic
def _group16(typingctx, lanes, ch, cl, n, threshold, buf):
    """The next group of eight outputs of `lanes` cut into 16-bit candidates for a draw of n <= 2**16: candidate
    k of output o goes to buf[8 k + o] (int64), its index if accepted, else n; returns how many are accepted."""
    sig = types.int64(lanes, types.uint64, types.uint64, types.uint64, types.uint64, buf)

    def codegen(context, builder, sig, args):
        la = context.make_array(sig.args[0])(context, builder, args[0])
        ba = context.make_array(sig.args[5])(context, builder, args[5])
        r = _emit_pcg64x8(builder, la.data, args[1], args[2])
        nv = _broadcast8(builder, args[3])
        tv = _broadcast8(builder, args[4])
        low16 = _splat8(0xFFFF)
        count = _splat8(0)
        for k in range(4):
            c = builder.and_(builder.lshr(r, _splat8(16 * k)), low16)
            m = builder.mul(c, nv)  # < 2**32: each product fits its lane
            ok = builder.icmp_unsigned(">=", builder.and_(m, low16), tv)
            cand = builder.select(ok, builder.lshr(m, _splat8(16)), nv)
            dst = builder.bitcast(builder.gep(ba.data, [ir.Constant(ir.IntType(64), 8 * k)]), _V8.as_pointer())
            builder.store(cand, dst, align=8)
            count = builder.add(count, builder.zext(ok, _V8))
        total = builder.module.declare_intrinsic("llvm.vector.reduce.add.v8i64", fnty=ir.FunctionType(
            ir.IntType(64), [_V8]))
        return builder.call(total, [count])

    return sig, codegen


@njit(inline="always")
def _next_group(lanes, ch, cl, n, threshold, buf, raw):
    """The next group's candidates into buf (candidate k of output o at buf[8 k + o]; a rejected one is n) and
    how many are accepted: 32 candidates (n <= 2**16) or 16 (32-bit chunks; `raw` (8,) uint64 scratch).
    `threshold`: Lemire's, from `_threshold`."""
    nn = np.uint64(n)
    if n <= _SMALL_N:
        return _group16(lanes, ch, cl, nn, threshold, buf)
    pcg64x8_raw(lanes, ch, cl, raw)
    acc = 0
    for o in range(8):
        r = raw[o]
        for k in range(2):
            m = (r & _M32) * nn
            r >>= _S32
            if (m & _M32) >= threshold:
                buf[8 * k + o] = np.int64(m >> _S32)
                acc += 1
            else:
                buf[8 * k + o] = n
    return acc


@njit(inline="always")
def _threshold(n):
    """Lemire's rejection threshold (2**w - n) mod n of the draw of n (w = 16 or 32), once per draw: a
    division per group would cost more than the group's multiplies."""
    nn = np.uint64(n)
    if n <= _SMALL_N:
        return (np.uint64(_SMALL_N) - nn) % nn
    return (_M32 - nn + np.uint64(1)) % nn


@njit(inline="always")
def _in_order(buf, per, n, taken, out):
    """The accepted candidates of the group in `buf` (`per` a output), in draw order, into out[taken:] until
    the n-th; returns how many are taken then."""
    for o in range(8):
        for k in range(per):
            v = buf[8 * k + o]
            if v < n and taken < n:
                out[taken] = v
                taken += 1
    return taken


@njit
def _lanes_indices(lanes, ch, cl, n, out, buf, raw):
    """A draw of n indices (the rule above) into out[:n] in draw order."""
    threshold = _threshold(n)
    per = 4 if n <= _SMALL_N else 2
    taken = 0
    while taken < n:
        _next_group(lanes, ch, cl, n, threshold, buf, raw)
        taken = _in_order(buf, per, n, taken, out)


@njit
def _lanes_floor(lanes, ch, cl, n, out, buf, raw):
    """The draws of `_lanes_indices` without writing them out in draw order (the benchmarks' floor): whole
    groups while they fit, only the last written in order (into `out`); returns the last group's first
    candidate (an output, so that the draws are not optimised away)."""
    threshold = _threshold(n)
    taken = 0
    if n <= _SMALL_N:
        nn = np.uint64(n)
        while taken + _GROUP <= n:
            taken += _group16(lanes, ch, cl, nn, threshold, buf)
    per = 4 if n <= _SMALL_N else 2
    while taken < n:
        _next_group(lanes, ch, cl, n, threshold, buf, raw)
        taken = _in_order(buf, per, n, taken, out)
    return buf[0]


@njit
def _lanes_counts(lanes, ch, cl, rank, counts, n, buf, raw):
    """How often each observation is drawn in one draw of n indices, mapped by `rank` (uint64 (n + 1,),
    rank[n] = n): counts[rank[j]] += 1 for each drawn j (rank = 0..n counts by observation, a sorted row's
    rank table by sorted position; one map for both, so a first call compiles one counting draw).

    counts (n + 1,): a group used whole counts its rejected candidates (index n) in counts[n], which no
    statistic reads, so the loop over a group has no branch.
    """
    for i in range(n + 1):
        counts[i] = 0
    threshold = _threshold(n)
    taken = 0
    if n <= _SMALL_N:
        nn = np.uint64(n)
        while taken + _GROUP <= n:  # groups whose candidates all fit in the draw (most of them)
            taken += _group16(lanes, ch, cl, nn, threshold, buf)
            for i in range(_GROUP):
                counts[rank[np.uint64(buf[i])]] += 1
    size = _GROUP if n <= _SMALL_N else _GROUP // 2
    while taken < n:  # groups that may end the draw (every group with 32-bit chunks)
        acc = _next_group(lanes, ch, cl, n, threshold, buf, raw)
        if taken + acc <= n:
            for i in range(size):
                counts[rank[np.uint64(buf[i])]] += 1
            taken += acc
        else:  # the group that ends the draw: candidates in order until the n-th
            for o in range(8):
                for k in range(size // 8):
                    v = buf[8 * k + o]
                    if v < n and taken < n:
                        counts[rank[v]] += 1
                        taken += 1


@njit
def _lanes_dev_sum(lanes, ch, cl, xd, n, buf, raw):
    """One draw over the deviations xd = x - x[0] of a row (xd (n + 1,), xd[n] = 0: a rejected candidate adds
    0 in a group used whole): their sum over the drawn indices, in eight partial sums (the mean of one
    column needs no counts: the gather rides on the draw)."""
    threshold = _threshold(n)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    taken = 0
    if n <= _SMALL_N:
        nn = np.uint64(n)
        while taken + _GROUP <= n:
            taken += _group16(lanes, ch, cl, nn, threshold, buf)
            for i in range(0, _GROUP, 8):
                a0 += xd[np.uint64(buf[i])]
                a1 += xd[np.uint64(buf[i + 1])]
                a2 += xd[np.uint64(buf[i + 2])]
                a3 += xd[np.uint64(buf[i + 3])]
                a4 += xd[np.uint64(buf[i + 4])]
                a5 += xd[np.uint64(buf[i + 5])]
                a6 += xd[np.uint64(buf[i + 6])]
                a7 += xd[np.uint64(buf[i + 7])]
    size = _GROUP if n <= _SMALL_N else _GROUP // 2
    while taken < n:
        acc = _next_group(lanes, ch, cl, n, threshold, buf, raw)
        if taken + acc <= n:
            for i in range(size):
                a0 += xd[np.uint64(buf[i])]
            taken += acc
        else:
            for o in range(8):
                for k in range(size // 8):
                    v = buf[8 * k + o]
                    if v < n and taken < n:
                        a0 += xd[v]
                        taken += 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


@njit
def _padded_rank(rank, n):
    """`rank` (n,) as the uint64 (n + 1,) map `_lanes_counts` takes (rank[n] = n); `rank` None: 0..n."""
    out = np.empty(n + 1, np.uint64)
    for i in range(n):
        out[i] = i if rank is None else rank[i]
    out[n] = n
    return out


# The rule on a scalar state `st` (a draw at a time): what the part kernels do inside, for tests and replays.


@njit
def _draw_indices(st, n, out):
    """A draw of n indices (the rule above) into out[:n] (draw order), `st` updated."""
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    _lanes_indices(lanes, ch, cl, n, out, aligned64(_GROUP, np.int64), np.empty(8, np.uint64))
    pcg64x8_state(lanes, st)


@njit
def _draw_counts(st, rank, counts, idx):
    """`_lanes_counts` on a scalar state into counts (n,), `st` updated (`idx` is not used)."""
    n = counts.shape[0]
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    padded = np.empty(n + 1, np.int64)
    _lanes_counts(lanes, ch, cl, _padded_rank(rank, n), padded, n, aligned64(_GROUP, np.int64), np.empty(8, np.uint64))
    counts[:] = padded[:n]
    pcg64x8_state(lanes, st)


@njit
def _draw_dev_sum(st, xd, idx):
    """`_lanes_dev_sum` of xd (n,) on a scalar state, `st` updated (`idx` is not used)."""
    n = xd.shape[0]
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    padded = np.zeros(n + 1)
    padded[:n] = xd
    s = _lanes_dev_sum(lanes, ch, cl, padded, n, aligned64(_GROUP, np.int64), np.empty(8, np.uint64))
    pcg64x8_state(lanes, st)
    return s


@njit
def _wsum_dev(x, counts, x0, m):
    """sum counts[i] * (x[i] - x0 - m) ** p for p = 1 (m = 0 then) or 2: four partial sums, since one running
    sum is bound by the add latency (fastmath stays off, so numba may not split it)."""
    n = x.shape[0]
    a0 = a1 = a2 = a3 = 0.0
    q = n - n % 4
    if m != m:  # NaN m: first moment (about x0)
        for i in range(0, q, 4):
            a0 += counts[i] * (x[i] - x0)
            a1 += counts[i + 1] * (x[i + 1] - x0)
            a2 += counts[i + 2] * (x[i + 2] - x0)
            a3 += counts[i + 3] * (x[i + 3] - x0)
        for i in range(q, n):
            a0 += counts[i] * (x[i] - x0)
    else:
        for i in range(0, q, 4):
            d0 = x[i] - x0 - m
            d1 = x[i + 1] - x0 - m
            d2 = x[i + 2] - x0 - m
            d3 = x[i + 3] - x0 - m
            a0 += counts[i] * (d0 * d0)
            a1 += counts[i + 1] * (d1 * d1)
            a2 += counts[i + 2] * (d2 * d2)
            a3 += counts[i + 3] * (d3 * d3)
        for i in range(q, n):
            d = x[i] - x0 - m
            a0 += counts[i] * (d * d)
    return (a0 + a1) + (a2 + a3)


@njit
def _moment1(x, counts, n, code):
    """mean (code 0), variance ddof=0 (1) or standard deviation (2) of the resample `counts` of row `x`.

    Deviations from x[0]: constant data give its value (and 0) exactly, whatever the counts.
    """
    x0 = x[0]
    m = _wsum_dev(x, counts, x0, math.nan) / n
    if code == 0:
        return x0 + m
    v = _wsum_dev(x, counts, x0, m) / n
    return v if code == 1 else math.sqrt(v)


@hjit(forceinline=True)
def _target_ranks(n, q, median):
    """(lo, hi, h): the ranks of the two order statistics that NumPy's median (``median`` True) or linear
    quantile `q` of n values reads, and the virtual index h = (n - 1) q (0 for the median)."""
    if median:
        lo = (n - 1) // 2
        return lo, lo + 1 - n % 2, 0.0
    h = (n - 1) * q
    lo = min(np.int64(math.floor(h)), n - 1)
    return lo, min(lo + 1, n - 1), h


@hjit(forceinline=True)
def _between(a, b, lo, hi, h, median):
    """NumPy's median or linear quantile from the order statistics a (rank lo) and b (rank hi)."""
    if median:
        return a if lo == hi else (a + b) / 2.0
    t = h - lo
    diff = b - a
    if t >= 0.5:
        return b - diff * (1.0 - t)
    return a + diff * t


@njit
def _order1(xs, order, counts, n, q, median):
    """NumPy's median (``median`` True) or linear quantile `q` of the resample `counts` of a row.

    xs: the row sorted, order: its sorting indices.  Walks sorted positions adding counts until
    the two ranks around the virtual index (n - 1) q are passed: no sort of the resample.
    """
    lo, hi, h = _target_ranks(n, q, median)
    cum = 0
    p = 0
    while cum + counts[order[p]] <= lo:
        cum += counts[order[p]]
        p += 1
    a = xs[p]
    if cum + counts[order[p]] <= hi:  # rank hi lies further on: the next position drawn at least once
        p += 1
        while counts[order[p]] == 0:
            p += 1
    b = xs[p]
    return _between(a, b, lo, hi, h, median)


@njit
def _order1_ranked(xs, counts, n, q, median):
    """`_order1` of a resample counted by sorted position (counts[p]: draws of xs[p]), xs the sorted row.

    The walk starts at the position of the lower target rank, with the counts below it summed in one
    pass (a loop the compiler vectorises), and steps down or up to the position holding that rank: the
    resample's order statistic lies within a few sqrt(n) positions of it, so the walk is short.
    """
    lo, hi, h = _target_ranks(n, q, median)
    p = lo
    cum = 0
    for i in range(p):
        cum += counts[i]
    while cum > lo:  # rank lo lies below position p
        p -= 1
        cum -= counts[p]
    while cum + counts[p] <= lo:  # or above it
        cum += counts[p]
        p += 1
    a = xs[p]
    if cum + counts[p] <= hi:  # rank hi lies further on: the next position drawn at least once
        p += 1
        while counts[p] == 0:
            p += 1
    b = xs[p]
    return _between(a, b, lo, hi, h, median)


@njit
def _corr_counts(x, y, counts, n):
    """Pearson r of the paired resample `counts` of rows x, y (clipped to [-1, 1]; NaN for a constant side)."""
    x0 = x[0]
    y0 = y[0]
    sx = 0.0
    sy = 0.0
    for i in range(x.shape[0]):
        sx += counts[i] * (x[i] - x0)
        sy += counts[i] * (y[i] - y0)
    mx = sx / n
    my = sy / n
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for i in range(x.shape[0]):
        c = counts[i]
        dx = x[i] - x0 - mx
        dy = y[i] - y0 - my
        sxx += c * (dx * dx)
        syy += c * (dy * dy)
        sxy += c * (dx * dy)
    r = sxy / math.sqrt(sxx * syy)
    return min(max(r, -1.0), 1.0)


@njit
def _two(a, b, code):
    """Combine the two samples' statistics: difference (code 0) or ratio (1)."""
    return a - b if code == 0 else a / b


@njit
def _moment1_part(x, code, st, t0, t1, observed, theta):
    """Resamples t0..t1-1 of mean / var / std (`_moment1` code) of each row of x (k, n) (one mean: `_mean1_part`)."""
    k, n = x.shape
    counts = np.ones(n + 1, np.int64)  # counts[n]: rejected candidates (`_lanes_counts`)
    if t0 == 0:
        for r in range(k):
            observed[r] = _moment1(x[r], counts, n, code)
    ident = _padded_rank(None, n)
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    for t in range(t0, t1):
        _lanes_counts(lanes, ch, cl, ident, counts, n, buf, raw)
        for r in range(k):
            theta[r, t] = _moment1(x[r], counts, n, code)
    pcg64x8_state(lanes, st)


@njit
def _mean1_part(x, st, t0, t1, observed, theta):
    """Resamples t0..t1-1 of the mean of one row x (1, n): summed while drawing (`_lanes_dev_sum`, no counts).

    The observed mean is `_moment1`'s (the same four partial sums of x - x[0]), and only this path is
    compiled by a one-column mean.
    """
    n = x.shape[1]
    x0 = x[0, 0]
    xd = np.zeros(n + 1)  # xd[n] = 0: rejected candidates (`_lanes_dev_sum`)
    for i in range(n):
        xd[i] = x[0, i] - x0
    if t0 == 0:
        a = np.zeros(4)
        for i in range(n - n % 4):
            a[i % 4] += xd[i]
        for i in range(n - n % 4, n):
            a[0] += xd[i]
        observed[0] = x0 + ((a[0] + a[1]) + (a[2] + a[3])) / n
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    for t in range(t0, t1):
        theta[0, t] = x0 + _lanes_dev_sum(lanes, ch, cl, xd, n, buf, raw) / n
    pcg64x8_state(lanes, st)


@njit
def _order1_part(xs, order, q, median, st, t0, t1, observed, theta):
    """Resamples t0..t1-1 of the median or a quantile (`_order1`) of each sorted row of xs (k, n) (one row:
    `_order1_ranked_part`)."""
    k, n = xs.shape
    counts = np.ones(n + 1, np.int64)  # counts[n]: rejected candidates (`_lanes_counts`)
    if t0 == 0:
        for r in range(k):
            observed[r] = _order1(xs[r], order[r], counts, n, q, median)
    ident = _padded_rank(None, n)
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    for t in range(t0, t1):
        _lanes_counts(lanes, ch, cl, ident, counts, n, buf, raw)
        for r in range(k):
            theta[r, t] = _order1(xs[r], order[r], counts, n, q, median)
    pcg64x8_state(lanes, st)


@njit
def _order1_ranked_part(xs, rank, q, median, st, t0, t1, observed, theta):
    """Resamples t0..t1-1 of the median or a quantile of one sorted row xs (1, n), rank[j] the sorted position
    of observation j: each resample is counted by sorted position and walked by `_order1_ranked`."""
    n = xs.shape[1]
    counts = np.empty(n + 1, np.int64)  # counts[n]: rejected candidates (`_lanes_counts`)
    if t0 == 0:
        for i in range(n):  # every count 1 (np.ones would cost a first call its own compile)
            counts[i] = 1
        observed[0] = _order1_ranked(xs[0], counts, n, q, median)
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    rk = _padded_rank(rank, n)
    for t in range(t0, t1):
        _lanes_counts(lanes, ch, cl, rk, counts, n, buf, raw)
        theta[0, t] = _order1_ranked(xs[0], counts, n, q, median)
    pcg64x8_state(lanes, st)


@njit
def _draw_pair_counts(lanes, ch, cl, cx, cy, paired, ident, buf, raw):
    """Counts of one resample of two samples: independent, or (paired) the same row indices for both.
    cx (nx + 1,), cy (ny + 1,), `ident` = 0..max(nx, ny) (see `_lanes_counts`)."""
    _lanes_counts(lanes, ch, cl, ident, cx, cx.shape[0] - 1, buf, raw)
    if paired:
        for i in range(cx.shape[0]):
            cy[i] = cx[i]
    else:
        _lanes_counts(lanes, ch, cl, ident, cy, cy.shape[0] - 1, buf, raw)


@njit
def _moment2_part(x, y, code, paired, st, t0, t1, observed, theta):
    """Resamples t0..t1-1 of mean(x) - mean(y) (code 0) or mean(x) / mean(y) (1), rows of x (k, nx), y (k, ny)."""
    k, nx = x.shape
    ny = y.shape[1]
    cx = np.ones(nx + 1, np.int64)  # the last: rejected candidates
    cy = np.ones(ny + 1, np.int64)
    ident = _padded_rank(None, max(nx, ny))
    if t0 == 0:
        for r in range(k):
            observed[r] = _two(_moment1(x[r], cx, nx, 0), _moment1(y[r], cy, ny, 0), code)
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    for t in range(t0, t1):
        _draw_pair_counts(lanes, ch, cl, cx, cy, paired, ident, buf, raw)
        for r in range(k):
            theta[r, t] = _two(_moment1(x[r], cx, nx, 0), _moment1(y[r], cy, ny, 0), code)
    pcg64x8_state(lanes, st)


@njit
def _order2_part(xs, xo, ys, yo, paired, st, t0, t1, observed, theta):
    """Resamples t0..t1-1 of median(x) - median(y) of sorted rows xs (k, nx), ys (k, ny) (xo, yo: their orders)."""
    k, nx = xs.shape
    ny = ys.shape[1]
    cx = np.ones(nx + 1, np.int64)  # the last: rejected candidates
    cy = np.ones(ny + 1, np.int64)
    ident = _padded_rank(None, max(nx, ny))
    if t0 == 0:
        for r in range(k):
            observed[r] = _order1(xs[r], xo[r], cx, nx, 0.5, True) - _order1(ys[r], yo[r], cy, ny, 0.5, True)
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    for t in range(t0, t1):
        _draw_pair_counts(lanes, ch, cl, cx, cy, paired, ident, buf, raw)
        for r in range(k):
            theta[r, t] = _order1(xs[r], xo[r], cx, nx, 0.5, True) - _order1(ys[r], yo[r], cy, ny, 0.5, True)
    pcg64x8_state(lanes, st)


@njit
def _corr_part(x, y, st, t0, t1, observed, theta):
    """Resamples t0..t1-1 of Pearson r of paired rows x, y (k, n)."""
    k, n = x.shape
    counts = np.ones(n + 1, np.int64)  # counts[n]: rejected candidates (`_lanes_counts`)
    if t0 == 0:
        for r in range(k):
            observed[r] = _corr_counts(x[r], y[r], counts, n)
    ident = _padded_rank(None, n)
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    for t in range(t0, t1):
        _lanes_counts(lanes, ch, cl, ident, counts, n, buf, raw)
        for r in range(k):
            theta[r, t] = _corr_counts(x[r], y[r], counts, n)
    pcg64x8_state(lanes, st)


@njit
def _floor_part(x, st, t0, t1, observed, theta):
    """The benchmarks' floor: only the resample indices (`_lanes_floor`; one index kept per resample)."""
    n = x.shape[1]
    idx = np.empty(n, np.int64)
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    for t in range(t0, t1):
        theta[0, t] = _lanes_floor(lanes, ch, cl, n, idx, buf, raw)
    pcg64x8_state(lanes, st)


# Specialised on the user's jitted statistic, whose numba type differs in every process, so an on-disk
# cache entry could never be reused: compiled per process instead (as the permutation test's).
@njit(cache=False)
def _custom1_part(x, func, st, t0, t1, observed, theta):
    """Resamples t0..t1-1 of a jitted ``func(x) -> float`` of each row of x (k, n), given the resample in draw
    order (as scipy's ``x[idx]``)."""
    k, n = x.shape
    if t0 == 0:
        for r in range(k):
            observed[r] = func(x[r].copy())
    idx = np.empty(n, np.int64)
    xb = np.empty(n)
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    for t in range(t0, t1):
        _lanes_indices(lanes, ch, cl, n, idx, buf, raw)
        for r in range(k):
            for q in range(n):
                xb[q] = x[r, idx[q]]
            theta[r, t] = func(xb)
    pcg64x8_state(lanes, st)


@njit(cache=False)
def _custom2_part(x, y, func, paired, st, t0, t1, observed, theta):
    """Like `_custom1_part` for ``func(x, y) -> float`` (paired: the same row indices for x and y)."""
    k, nx = x.shape
    ny = y.shape[1]
    if t0 == 0:
        for r in range(k):
            observed[r] = func(x[r].copy(), y[r].copy())
    ix = np.empty(nx, np.int64)
    iy = np.empty(ny, np.int64)
    xb = np.empty(nx)
    yb = np.empty(ny)
    lanes = aligned64(16, np.uint64)
    ch, cl = pcg64x8_init(st, lanes)
    buf = aligned64(_GROUP, np.int64)
    raw = np.empty(8, np.uint64)
    for t in range(t0, t1):
        _lanes_indices(lanes, ch, cl, nx, ix, buf, raw)
        if paired:
            for q in range(ny):
                iy[q] = ix[q]
        else:
            _lanes_indices(lanes, ch, cl, ny, iy, buf, raw)
        for r in range(k):
            for q in range(nx):
                xb[q] = x[r, ix[q]]
            for q in range(ny):
                yb[q] = y[r, iy[q]]
            theta[r, t] = func(xb, yb)
    pcg64x8_state(lanes, st)


@njit(cache=False)  # specialised on the user's statistic (see above)
def _jackknife_custom1(x, func, out):
    """Leave-one-out statistics of each row of x (k, n) into out (k, n)."""
    k, n = x.shape
    xb = np.empty(n - 1)
    for r in range(k):
        for i in range(n):
            m = 0
            for q in range(n):
                if q != i:
                    xb[m] = x[r, q]
                    m += 1
            out[r, i] = func(xb)
    return out


@njit(cache=False)  # specialised on the user's statistic (see above)
def _jackknife_custom2(x, y, func, which, out):
    """Leave-one-out statistics ``func(x, y)`` of each row, leaving out observation i of x (which 0), of y
    (which 1) or of both (which 2, paired), into out (k, n_left_out)."""
    k, nx = x.shape
    ny = y.shape[1]
    xb = np.empty(nx - (1 if which != 1 else 0))
    yb = np.empty(ny - (1 if which != 0 else 0))
    for r in range(k):
        for i in range(out.shape[1]):
            m = 0
            for q in range(nx):
                if q != i or which == 1:
                    xb[m] = x[r, q]
                    m += 1
            m = 0
            for q in range(ny):
                if q != i or which == 0:
                    yb[m] = y[r, q]
                    m += 1
            out[r, i] = func(xb, yb)
    return out
