"""Kernels of the serving simulation: the multi-server FIFO queue, token buckets, sliding windows and z-score
gates.  @njit code only; `simengine.serving` validates and calls these.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from simengine._jit import njit, pjit

# --- load tests ---

# --- recorded traffic and input gates ---

# A token bucket is two float64s per client: (tokens, time of the last request); a last time of -inf means the
# bucket has never been used and is full.  The window scan keeps its running state in small arrays too, so that
# the public layer can run a long input in slices (Ctrl-C between them) without changing a number.
BUCKET_STATE = 2
# Blocks of `_simulate_gate`: this many replicated runs per RNG stream (a constant, never the thread count).
GATE_BLOCK = 4


@njit
def _bucket_admit(state, j, t, capacity, refill_per_second, cost):
    """One request of client `j` at time `t` against its bucket: refill, then admit iff tokens >= cost.

    state[j] = (tokens, last_time); a bucket starts full (last_time = -inf); tokens refill at
    `refill_per_second` up to `capacity`; an admitted request takes `cost` tokens.  Returns True if admitted.
    """
    last = state[j, 1]
    if last == -math.inf:
        tokens = capacity
    elif refill_per_second > 0.0:  # (no refill: skipped, so that an infinite gap never makes inf * 0 = nan)
        tokens = min(capacity, state[j, 0] + (t - last) * refill_per_second)
    else:
        tokens = state[j, 0]
    state[j, 1] = t
    if tokens >= cost:
        state[j, 0] = tokens - cost
        return True
    state[j, 0] = tokens
    return False


@njit
def _token_bucket_scan(t, codes, state, capacity, refill_per_second, cost, lo, hi, allowed, n_allowed):
    """Requests lo..hi-1 (sorted times `t`, client codes `codes`) through their clients' buckets in `state`.

    Writes `allowed[i]` and adds each admitted request to `n_allowed[codes[i]]`; `state` carries on to the
    next slice.
    """
    for i in range(lo, hi):
        j = codes[i]
        ok = _bucket_admit(state, j, t[i], capacity, refill_per_second, cost)
        allowed[i] = ok
        if ok:
            n_allowed[j] += 1


@njit
def _first_decrease(t):
    """Index of the first element smaller than its predecessor, or -1 if `t` is non-decreasing."""
    for i in range(1, t.shape[0]):
        if t[i] < t[i - 1]:
            return i
    return -1


@njit
def _dense_codes(ids, low, span):
    """Codes 0..k-1 of integer ids in [low, low + span), numbered in increasing id order; the k ids; and the
    requests per id.  A lookup table over the id range instead of a sort: O(n + span).
    """
    table = np.zeros(span, np.int64)
    for i in range(ids.shape[0]):
        table[ids[i] - low] += 1
    k = 0
    for v in range(span):
        if table[v]:
            k += 1
    labels = np.empty(k, np.int64)
    totals = np.empty(k, np.int64)
    k = 0
    for v in range(span):
        c = table[v]
        if c:
            labels[k] = low + v
            totals[k] = c
            table[v] = k
            k += 1
    codes = np.empty(ids.shape[0], np.int64)
    for i in range(ids.shape[0]):
        codes[i] = table[ids[i] - low]
    return codes, labels, totals


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_ONE = np.uint64(1)
# int64 globals, not literals, at the call sites: a literal 1 and a k would compile a helper twice
_PLUS = np.int64(1)
_MINUS = np.int64(-1)


@njit
def _popcount(x):
    x = x - ((x >> _ONE) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@njit
def _select_bit(x, k):
    """Position (0..63) of the k-th (1-based) set bit of the uint64 `x`."""
    for _ in range(k - 1):
        x &= x - _ONE
    return _popcount((x & (~x + _ONE)) - _ONE)


# The window's latencies are a set of ranks (positions in one stable sort of all latencies), kept as a bitset
# of 64-rank words plus a Fenwick tree of the counts of blocks of 8 words: the tree has n / 512 entries (it
# stays in cache where a tree over every rank would not), and the k-th smallest latency of the window is a
# descent of that tree, a walk over at most 8 words and a select within one.
RANK_BLOCK_WORDS = 8


@njit
def _rank_add(words, tree, r, delta):
    """Insert (delta = 1) or remove (delta = -1) 0-based rank `r`."""
    w = r >> 6
    bit = _ONE << np.uint64(r & 63)
    if delta > 0:
        words[w] |= bit
    else:
        words[w] &= ~bit
    i = (w >> 3) + 1
    nb = tree.shape[0] - 1
    while i <= nb:
        tree[i] += delta
        i += i & -i


@njit
def _rank_kth(words, tree, top, k):
    """0-based rank of the k-th (1-based) smallest rank present; `top` is the largest power of 2 <= blocks."""
    pos = 0
    step = top
    nb = tree.shape[0] - 1
    while step:
        nxt = pos + step
        if nxt <= nb and tree[nxt] < k:
            pos = nxt
            k -= tree[nxt]
        step >>= 1
    w = pos * RANK_BLOCK_WORDS
    while True:
        c = _popcount(words[w])
        if k <= c:
            return (w << 6) + _select_bit(words[w], k)
        k -= c
        w += 1


@njit
def _rank_next(words, tree, top, r, k):
    """0-based rank of the smallest rank present after `r`, which is the k-th smallest: the rest of r's word
    and up to 8 more words are scanned (neighbours in rank are usually that close), else the tree is
    descended for the (k + 1)-th."""
    w = r >> 6
    b = r & 63
    x = words[w] & ~((_ONE << np.uint64(b)) - _ONE) & ~(_ONE << np.uint64(b)) if b < 63 else np.uint64(0)
    for j in range(w, min(w + 9, words.shape[0])):
        if j > w:
            x = words[j]
        if x:
            return (j << 6) + _select_bit(x, _PLUS)
    return _rank_kth(words, tree, top, k + 1)


@njit
def _window_quantile(words, tree, top, sorted_lat, m, q):
    """NumPy's default ("linear") q-quantile of the m latencies present, bit for bit."""
    v = (m - 1) * q
    if v >= m - 1:
        return sorted_lat[_rank_kth(words, tree, top, m)]
    p = math.floor(v)
    k = np.int64(p)
    ra = _rank_kth(words, tree, top, k + 1)
    a = sorted_lat[ra]
    g = v - p
    if g == 0.0:
        return a + 0.0  # NumPy's a + (b - a) * 0 for finite b (which turns -0.0 into 0.0)
    b = sorted_lat[_rank_next(words, tree, top, ra, k + 1)]
    d = b - a
    if g >= 0.5:
        return b - d * (1.0 - g)
    return a + d * g


@njit
def _neumaier(s, c, x):
    """(sum, compensation) + x, compensated (Neumaier): adding and removing keeps the window sum accurate."""
    t = s + x
    if abs(s) >= abs(x):
        c += (s - t) + x
    else:
        c += (x - t) + s
    return t, c


@njit
def _window_scan(t, lat, err, at, w, qs, rank, sorted_lat, words, tree, top, ptr, acc, e0, e1, count, n_err, mean,
                 qout):
    """Sliding-window metrics at the sorted evaluation times at[e0:e1], continuing from the state in `ptr`
    (first request in the window, one past the last) and `acc` (compensated latency sum).

    The window at time s holds the requests with s - w < t_i <= s.  `err` is empty when no errors were
    given; `qs` empty skips the quantiles (then `rank`, `sorted_lat`, `words`, `tree` are not used).  Writes count,
    n_err, mean and qout (e x quantiles) for e in e0..e1-1; equal times give equal rows.
    """
    n = t.shape[0]
    nq = qs.shape[0]
    has_err = err.shape[0] > 0
    lo = ptr[0]
    hi = ptr[1]
    ne = ptr[2]
    total = acc[0]  # kept in locals: an array slot read and written every step would chain the steps
    comp = acc[1]
    for e in range(e0, e1):
        s = at[e]
        if e > e0 and s == at[e - 1]:
            count[e] = count[e - 1]
            n_err[e] = n_err[e - 1]
            mean[e] = mean[e - 1]
            for k in range(nq):
                qout[e, k] = qout[e - 1, k]
            continue
        edge = s - w
        while lo < n and t[lo] <= edge:
            if lo < hi:  # in the window: take it out
                total, comp = _neumaier(total, comp, -lat[lo])
                if has_err:
                    ne -= err[lo]
                if nq:
                    _rank_add(words, tree, rank[lo], _MINUS)
            lo += 1
        if hi < lo:
            hi = lo
        while hi < n and t[hi] <= s:
            total, comp = _neumaier(total, comp, lat[hi])
            if has_err:
                ne += err[hi]
            if nq:
                _rank_add(words, tree, rank[hi], _PLUS)
            hi += 1
        m = hi - lo
        if m == 0:
            total = 0.0  # an empty window restarts the sum: no rounding carried across gaps
            comp = 0.0
        count[e] = m
        n_err[e] = ne
        mean[e] = (total + comp) / m if m else math.nan
        for k in range(nq):
            qout[e, k] = _window_quantile(words, tree, top, sorted_lat, m, qs[k]) if m else math.nan
    ptr[0] = lo
    ptr[1] = hi
    ptr[2] = ne
    acc[0] = total
    acc[1] = comp


_RADIX_BITS = 11
_RADIX = 1 << _RADIX_BITS
_RADIX_PASSES = 6  # 6 x 11 bits cover the 64 bits of a key
_SIGN = np.uint64(1) << np.uint64(63)


@njit
def _order_key(b):
    """uint64 whose unsigned order is the order of the finite float64 with bits `b` (-0.0 and 0.0 equal)."""
    if b == _SIGN:  # -0.0 sorts with 0.0
        b = np.uint64(0)
    if b & _SIGN:
        return ~b
    return b | _SIGN


@njit
def _latency_ranks(lat, bits):
    """0-based rank of each latency in a stable sort (equal values in index order, as
    ``np.argsort(kind="stable")``), and the sorted latencies; `bits` is ``lat.view(np.uint64)``.

    An LSD radix sort of order-preserving uint64 keys, 11 bits a pass, skipping the passes whose digit is
    the same for every key: O(n) a pass over contiguous keys, where a comparison sort of indices jumps
    through memory (several times faster on 10^7 latencies).
    """
    n = lat.shape[0]
    keys = np.empty(n, np.uint64)
    for i in range(n):
        keys[i] = _order_key(bits[i])
    counts = np.zeros(_RADIX_PASSES * _RADIX, np.int64)  # pass p's histogram at p * _RADIX
    mask = np.uint64(_RADIX - 1)
    for i in range(n):
        k = keys[i]
        for p in range(_RADIX_PASSES):
            counts[p * _RADIX + np.int64((k >> np.uint64(p * _RADIX_BITS)) & mask)] += 1
    idx = np.empty(n, np.int32)
    for i in range(n):
        idx[i] = i
    keys2 = np.empty(n, np.uint64)
    idx2 = np.empty(n, np.int32)
    start = np.empty(_RADIX, np.int64)
    for p in range(_RADIX_PASSES):
        trivial = False
        for d in range(_RADIX):
            if counts[p * _RADIX + d] == n:
                trivial = True
        if trivial:
            continue
        acc = 0
        for d in range(_RADIX):
            start[d] = acc
            acc += counts[p * _RADIX + d]
        shift = np.uint64(p * _RADIX_BITS)
        for i in range(n):
            k = keys[i]
            d = np.int64((k >> shift) & mask)
            j = start[d]
            start[d] = j + 1
            keys2[j] = k
            idx2[j] = idx[i]
        keys, keys2 = keys2, keys
        idx, idx2 = idx2, idx
    rank = np.empty(n, np.int64)
    sorted_lat = np.empty(n)
    for i in range(n):
        o = idx[i]
        rank[o] = i
        sorted_lat[i] = lat[o]
    return rank, sorted_lat


@njit
def _zscore_rows(X, mean, std, threshold, r0, r1, z, exceeded, rejected, n_by_feature):
    """Rows r0..r1-1: z = (X - mean) / std per feature; a feature exceeds when |z| > threshold or z is not
    finite (NaN or inf in X fails the gate); a row is rejected when any feature exceeds."""
    d = X.shape[1]
    for i in range(r0, r1):
        bad = False
        for j in range(d):
            v = (X[i, j] - mean[j]) / std[j]
            z[i, j] = v
            out = not (abs(v) <= threshold)
            exceeded[i, j] = out
            if out:
                bad = True
                n_by_feature[j] += 1
        rejected[i] = bad


@pjit
def _simulate_gate(gens, n_sims, n_rows, shift, threshold, b0, clean, shifted):
    """Blocks b0.. of `_simulate_gate`: per replicated run, `n_rows` clean rows then `n_rows` shifted rows.

    A row draws its features in order from its block's generator (standard normal; `shift[j]` added to
    feature j of a shifted row); it is rejected when some |z| > threshold.  Writes the rejected counts of
    each run of these blocks into clean[s], shifted[s] (s from the first run of block b0).
    """
    nb = len(gens)
    s0 = b0 * GATE_BLOCK
    d = shift.shape[0]
    for b in numba.prange(nb):
        bl = np.int64(b)
        gen = gens[bl]
        bi = b0 + bl
        stop = min(n_sims, (bi + 1) * GATE_BLOCK)
        for s in range(bi * GATE_BLOCK - s0, stop - s0):
            for part in range(2):
                rejected = 0
                for _ in range(n_rows):
                    bad = False
                    for j in range(d):
                        x = gen.standard_normal()
                        if part:
                            x += shift[j]
                        if abs(x) > threshold:
                            bad = True
                    rejected += bad
                if part:
                    shifted[s] = rejected
                else:
                    clean[s] = rejected
