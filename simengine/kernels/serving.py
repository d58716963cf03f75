"""Kernels of the serving simulation: the multi-server FIFO queue, token buckets, sliding windows and z-score
gates.  @njit code only; `simengine.serving` validates and calls these.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from simengine._jit import hjit, njit, pjit
from simengine.kernels.rng import _pcg64_double, _std_exponential1, _std_normal1

# --- load tests ---
# The multi-server first-come first-served queue of `simulate_load_test`.  A run draws, per request in arrival
# order: the inter-arrival gap (Poisson arrivals), the client (rate limiting among several clients), the service
# time and the slowdown; every request draws all of them whatever happens to it, so two settings run with one
# seed see the same traffic (common random numbers).  The servers' next-free times are a binary min-heap.

# what happened to a request not served (a run's wait holds minus the code)
LIMITED = 1
QUEUE_FULL = 2
TIMED_OUT = 3
# per-run statistics, in this column order, then the latency quantiles
LOAD_STATS = ("mean_latency", "mean_wait", "p_wait", "throughput", "utilisation", "rejected_rate_limit",
              "rejected_queue_full", "timed_out")
N_LOAD_STATS = 8


@njit
def _std_gamma1(shape, sh, sl, ih, il):
    """(standard gamma(shape) draw, new sh, new sl), in NumPy's Generator.standard_gamma draw order.

    shape >= 1: Marsaglia & Tsang (2000), a normal then a uniform per try; shape < 1: the rejection method
    with a uniform and an exponential per try (Johnk / Ahrens-Dieter style, as NumPy); shape 1 is an
    exponential draw.
    """
    if shape == 1.0:
        return _std_exponential1(sh, sl, ih, il)
    if shape < 1.0:
        while True:
            u, sh, sl = _pcg64_double(sh, sl, ih, il)
            v, sh, sl = _std_exponential1(sh, sl, ih, il)
            if u <= 1.0 - shape:
                x = u ** (1.0 / shape)
                if x <= v:
                    return x, sh, sl
            else:
                y = -math.log((1.0 - u) / shape)
                x = (1.0 - shape + shape * y) ** (1.0 / shape)
                if x <= v + y:
                    return x, sh, sl
    b = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * b)
    while True:
        while True:
            z, sh, sl = _std_normal1(sh, sl, ih, il)
            v = 1.0 + c * z
            if v > 0.0:
                break
        v = v * v * v
        u, sh, sl = _pcg64_double(sh, sl, ih, il)
        if u < 1.0 - 0.0331 * (z * z) * (z * z):
            return b * v, sh, sl
        if math.log(u) < 0.5 * z * z + b * (1.0 - v + math.log(v)):
            return b * v, sh, sl


@njit
def _client1(cdf, u):
    """Client of a request from its uniform u: the first j with u < cdf[j] (cumulative weights, cdf[-1] = 1)."""
    lo = 0
    hi = cdf.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if u < cdf[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit
def _load_run(state, arrival_rate, poisson, lognormal, exponential, deterministic, gamma, sample, slow_prob,
              slow_factor, heap, ring, timeout, bucket, buckets, cdf, arrival, wait, service):
    """One run of the FCFS queue: fills, per request, its arrival time, wait and service time.

    Options not in use are None: numba then compiles the kernel without their code (its dead-branch pruning
    of ``x is None`` on arguments), so a call pays the compile of the paths it runs only.

    `state` is the run's PCG64 state (state high, low, increment high, low).  Arrivals are Poisson at
    `arrival_rate` (gaps E x (1 / rate)) or deterministic (request i at (i + 1) / rate).  The service time is
    exactly one of: `lognormal` (mu, sigma): exp(mu + sigma Z); `exponential` mean: mean E; `deterministic`
    value; `gamma` (shape, scale): scale G(shape); `sample`: sample[floor(U m)]; times `slow_factor` with
    probability `slow_prob`.  `heap` holds the servers' free times (min(workers, n) of them: with more
    servers than requests none waits).  With `bucket` (capacity, refill per second) each request's client is
    drawn (uniform, or by the cumulative weights `cdf`) and its token bucket in `buckets` (all starting full)
    decides first: a refused request is LIMITED.  Then, with `ring` (of length K = the queue capacity), a
    request finding K requests waiting is QUEUE_FULL; then one whose wait would exceed `timeout` is TIMED_OUT
    (it leaves at once and takes no server).  Others are served by the first server to be free: wait =
    max(0, earliest free time - arrival).  Service starts are non-decreasing (FCFS), so the requests waiting
    at time t are the most recent admitted ones that start after t: the ring of the last K starts tells
    whether K wait.  A request not served gets minus its status as its wait (-LIMITED, ...); every request
    draws its gap, client, service and slowdown whatever happens to it.
    """
    sh = state[0]
    sl = state[1]
    ih = state[2]
    il = state[3]
    n = arrival.shape[0]
    n_heap = heap.shape[0]
    for k in range(n_heap):
        heap[k] = 0.0
    pos = 0
    if ring is not None:
        for k in range(ring.shape[0]):
            ring[k] = -np.inf
    n_clients = 1
    if bucket is not None:
        n_clients = buckets.shape[0]
        for k in range(n_clients):
            buckets[k, 0] = bucket[0]
            buckets[k, 1] = -np.inf
    t = 0.0
    gap = 1.0 / arrival_rate  # a multiply, not a divide, on the chain of arrival times
    for i in range(n):
        if poisson:
            e, sh, sl = _std_exponential1(sh, sl, ih, il)
            t += e * gap
        else:
            t = (i + 1) / arrival_rate
        arrival[i] = t
        j = np.int64(0)
        if bucket is not None:
            if n_clients > 1:
                u, sh, sl = _pcg64_double(sh, sl, ih, il)
                if cdf is None:
                    j = min(n_clients - 1, np.int64(u * n_clients))
                else:
                    j = _client1(cdf, u)
        s = 0.0
        if lognormal is not None:
            z, sh, sl = _std_normal1(sh, sl, ih, il)
            s = math.exp(lognormal[0] + lognormal[1] * z)
        if exponential is not None:
            e, sh, sl = _std_exponential1(sh, sl, ih, il)
            s = exponential * e
        if deterministic is not None:
            s = deterministic
        if gamma is not None:
            g, sh, sl = _std_gamma1(gamma[0], sh, sl, ih, il)
            s = gamma[1] * g
        if sample is not None:
            u, sh, sl = _pcg64_double(sh, sl, ih, il)
            s = sample[min(sample.shape[0] - 1, np.int64(u * sample.shape[0]))]
        if slow_prob > 0.0:
            u, sh, sl = _pcg64_double(sh, sl, ih, il)
            if u < slow_prob:
                s *= slow_factor
        service[i] = s
        if bucket is not None:
            if not _bucket_admit(buckets, j, t, bucket[0], bucket[1], 1.0):
                wait[i] = -LIMITED
                continue
        top = heap[0]
        w = top - t if top > t else 0.0
        if ring is not None:
            if ring.shape[0] == 0:
                if w > 0.0:
                    wait[i] = -QUEUE_FULL
                    continue
            elif ring[pos] > t:
                wait[i] = -QUEUE_FULL
                continue
        if timeout is not None:
            if w > timeout:
                wait[i] = -TIMED_OUT
                continue
        start = t + w
        # the server free earliest takes the request: replace the heap's top and sift it down.  Written out
        # here: as a call, this loop ran ~4x slower inside the run's loop (~150 ns a request)
        value = start + s
        p = 0
        c = 1
        while c < n_heap:
            if c + 1 < n_heap and heap[c + 1] < heap[c]:
                c += 1
            hc = heap[c]
            if hc >= value:
                break
            heap[p] = hc
            p = c
            c = 2 * p + 1
        heap[p] = value
        if ring is not None:
            if ring.shape[0] > 0:
                ring[pos] = start
                pos += 1
                if pos == ring.shape[0]:
                    pos = 0
        wait[i] = w


@njit
def _select_kth(a, lo, hi, k):
    """Reorder a[lo:hi] so that a[k] is its (k - lo)-th smallest, smaller-or-equal values before it and
    greater-or-equal after (Hoare's FIND with a median-of-three pivot; ties split both ways, so runs of equal
    values stay fast)."""
    hi -= 1
    while lo < hi:
        mid = (lo + hi) >> 1
        x = a[lo]
        y = a[mid]
        z = a[hi]
        if x > y:
            x, y = y, x
        if y > z:
            y = z
            if x > y:
                y = x
        pivot = y
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                tmp = a[i]
                a[i] = a[j]
                a[j] = tmp
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@njit
def _quantiles_inplace(a, m, quantiles, order, out, at):
    """NumPy's default ("linear") quantiles of a[:m] into out[q], by selection (a is reordered).

    `order` visits the quantiles in increasing order, so each selection runs on the part above the last.
    Quantile q goes to out[at + q].
    """
    lo = np.int64(0)  # a plain 0 would type the first selection's call as Literal[int](0): a second compile
    for r in range(order.shape[0]):
        q = order[r]
        if m == 0:
            out[at + q] = np.nan
            continue
        h = (m - 1) * quantiles[q]
        k = min(m - 1, np.int64(math.floor(h)))
        g = h - k
        _select_kth(a, lo, m, k)
        lo = k
        x = a[k]
        if g > 0.0 and k + 1 < m:
            y = a[k + 1]
            for i in range(k + 2, m):
                if a[i] < y:
                    y = a[i]
            d = y - x
            out[at + q] = y - d * (1.0 - g) if g >= 0.5 else x + d * g
        else:
            out[at + q] = x


@njit
def _load_summary(arrival, wait, service, n_warm, workers, quantiles, order, buf, out):
    """The run's statistics (LOAD_STATS order, then the latency quantiles) over requests n_warm.. into `out`.

    Rates of rejection and time-out are per measured request; means, P(wait > 0) and quantiles are over
    the measured served requests; throughput is served measured requests per second of the measured arrival
    window (from the last warm-up arrival, or 0, to the last arrival); utilisation is their service
    seconds over `workers` x that window.  `buf` is scratch of length >= n - n_warm.
    """
    n = arrival.shape[0]
    m = np.int64(0)  # not a literal 0: see `_quantiles_inplace`
    n_limited = 0
    n_full = 0
    n_timeout = 0
    n_waited = 0
    sum_wait = 0.0
    sum_lat = 0.0
    busy = 0.0
    for i in range(n_warm, n):
        w = wait[i]
        if w >= 0.0:
            lat = w + service[i]
            buf[m] = lat
            m += 1
            sum_wait += w
            sum_lat += lat
            busy += service[i]
            if w > 0.0:
                n_waited += 1
        elif w == -LIMITED:
            n_limited += 1
        elif w == -QUEUE_FULL:
            n_full += 1
        else:
            n_timeout += 1
    measured = n - n_warm
    t0 = arrival[n_warm - 1] if n_warm > 0 else 0.0
    span = arrival[n - 1] - t0
    out[0] = sum_lat / m if m > 0 else np.nan
    out[1] = sum_wait / m if m > 0 else np.nan
    out[2] = n_waited / m if m > 0 else np.nan
    out[3] = m / span
    out[4] = busy / (workers * span)
    out[5] = n_limited / measured
    out[6] = n_full / measured
    out[7] = n_timeout / measured
    _quantiles_inplace(buf, m, quantiles, order, out, np.int64(N_LOAD_STATS))


@njit
def _load_sims(states, arrival_rate, poisson, lognormal, exponential, deterministic, gamma, sample, slow_prob,
               slow_factor, heap, ring, timeout, bucket, buckets, cdf, workers, n_warm, quantiles, order, work, out):
    """Runs of the load test, one per row of `states` (each run its own stream), statistics into out[r].

    Arguments as `_load_run`'s; `work` is scratch of shape (4, n_requests) (arrival, wait, service, served
    latencies): the caller allocates every array, so that the kernel compiles no NumPy constructor.  Not a
    `prange`: the public layer runs ranges of runs on threads of its own (this kernel releases the GIL); a
    parallel loop here compiled the queue twice.
    """
    for r in range(states.shape[0]):
        _load_run(states[r], arrival_rate, poisson, lognormal, exponential, deterministic, gamma, sample, slow_prob,
                  slow_factor, heap, ring, timeout, bucket, buckets, cdf, work[0], work[1], work[2])
        _load_summary(work[0], work[1], work[2], n_warm, workers, quantiles, order, work[3], out[r])


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
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@hjit
def _popcount(x):
    x = x - ((x >> _ONE) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@hjit
def _low_bit(x):
    """Position (0..63) of the lowest set bit of the non-zero uint64 `x`."""
    return _popcount((x & (~x + _ONE)) - _ONE)


@hjit
def _high_bit(x):
    """Position (0..63) of the highest set bit of the non-zero uint64 `x`."""
    x |= x >> np.uint64(1)
    x |= x >> np.uint64(2)
    x |= x >> np.uint64(4)
    x |= x >> np.uint64(8)
    x |= x >> np.uint64(16)
    x |= x >> np.uint64(32)
    return _popcount(x) - 1


# The window's latencies are a set of ranks (positions in one stable sort of all latencies), kept as a bitset
# of 64-rank words with a summary bitset over the words (bit w set iff word w is not empty) and a top bitset
# over the summary words: the next or the previous rank present is found in the rank's word, else through one
# summary word (4096 ranks), else through the top words (2^18 ranks each; a few dozen at 10^7 requests).  Each
# quantile keeps a pointer in rank space, a rank r and the number c of ranks present below it; a request
# entering or leaving below r moves c, and at an evaluation time the pointer steps rank by rank to the order
# statistic wanted, which moved by about as many steps as requests came and went: no search from the top.


@hjit
def _next_rank(words, summary, top, r):
    """The smallest rank present above `r` (one must exist)."""
    w = r >> 6
    b = r & 63
    x = words[w] & (_ALL << np.uint64(b) << _ONE) if b < 63 else np.uint64(0)
    if x:
        return (w << 6) + _low_bit(x)
    s = w >> 6
    b = w & 63
    y = summary[s] & (_ALL << np.uint64(b) << _ONE) if b < 63 else np.uint64(0)
    if not y:
        u = s >> 6
        b = s & 63
        z = top[u] & (_ALL << np.uint64(b) << _ONE) if b < 63 else np.uint64(0)
        while not z:
            u += 1
            z = top[u]
        s = (u << 6) + _low_bit(z)
        y = summary[s]
    w = (s << 6) + _low_bit(y)
    return (w << 6) + _low_bit(words[w])


@hjit
def _previous_rank(words, summary, top, r):
    """The largest rank present below `r` (one must exist)."""
    w = r >> 6
    x = words[w] & ((_ONE << np.uint64(r & 63)) - _ONE)
    if x:
        return (w << 6) + _high_bit(x)
    s = w >> 6
    y = summary[s] & ((_ONE << np.uint64(w & 63)) - _ONE)
    if not y:
        u = s >> 6
        z = top[u] & ((_ONE << np.uint64(s & 63)) - _ONE)
        while not z:
            u -= 1
            z = top[u]
        s = (u << 6) + _high_bit(z)
        y = summary[s]
    w = (s << 6) + _high_bit(y)
    return (w << 6) + _high_bit(words[w])


@hjit
def _window_quantile(words, summary, top, pointer, k, sorted_lat, m, q):
    """NumPy's default ("linear") q-quantile of the m > 0 latencies present, bit for bit: pointer[2k], pointer[2k + 1]
    (a rank and the number of ranks present below it) step to the order statistic wanted and stay there."""
    v = (m - 1) * q
    p = math.floor(v)
    j = np.int64(p)
    if j > m - 1:
        j = m - 1
    r = pointer[2 * k]
    c = pointer[2 * k + 1]
    while c > j:
        r = _previous_rank(words, summary, top, r)
        c -= 1
    if not (words[r >> 6] >> np.uint64(r & 63)) & _ONE:
        r = _next_rank(words, summary, top, r)
    while c < j:
        r = _next_rank(words, summary, top, r)
        c += 1
    pointer[2 * k] = r
    pointer[2 * k + 1] = c
    a = sorted_lat[r]
    if v >= m - 1:
        return a
    g = v - p
    if g == 0.0:
        return a + 0.0  # NumPy's a + (b - a) * 0 for finite b (which turns -0.0 into 0.0)
    b = sorted_lat[_next_rank(words, summary, top, r)]
    d = b - a
    if g >= 0.5:
        return b - d * (1.0 - g)
    return a + d * g


@hjit
def _past(t, p, bound):
    """First index >= p whose time exceeds `bound` (`t` sorted): four times compared at once, so that the
    usual step of 0-3 requests costs no mispredicted branch."""
    n = t.shape[0]
    while p + 4 <= n:
        k = (np.int64(t[p] <= bound) + np.int64(t[p + 1] <= bound) + np.int64(t[p + 2] <= bound)
             + np.int64(t[p + 3] <= bound))
        p += k
        if k < 4:
            return p
    while p < n and t[p] <= bound:
        p += 1
    return p


# The window scan runs the evaluation times in chunks of a fixed length, each starting from nothing (the
# window's requests found and added up again), so that chunks run on two threads and the numbers never
# depend on the threads or on the slices.  Within a chunk the latency sum is a prefix sum: a compensated
# (Neumaier) running sum over the requests in time order from the chunk's first window, kept with the running
# error count in a ring of the last R prefixes (R a power of 2 larger than the window), so that the requests
# leaving the window cost one read, not a loop whose length changes from step to step.
# scan state per thread (int64): first request in the window, one past the last, the chunk's running error
# count, whether the quantile pointers are set; (float64): the running sum and its compensation
WINDOW_STATE = 4


@njit
def _window_scan(t, lat, err, at, w, qs, rank, sorted_lat, words, summary, top, pointer, st, acc, ring_s, ring_c,
                 ring_e, chunk, e0, e1, count, rate, mean, qout):
    """Sliding-window metrics at the sorted evaluation times at[e0:e1]; returns -1, or the first evaluation time of
    the chunk whose window outgrew the ring (the caller grows the ring and runs again from there).

    The window at time s holds the requests with s - w < t_i <= s.  An evaluation time that is a multiple of
    `chunk` starts afresh; the others continue from `st` / `acc` (the state after at[e0 - 1]).  `err` is
    empty when no errors were given (then `rate` is not written); `qs` empty skips the quantiles (then `rank`,
    `sorted_lat`, `words`, `summary`, `top` and `pointer`, 2 x quantiles, are not used).  Writes count, rate, mean and
    qout (e x quantiles) for e in e0..e1-1; equal times give equal rows (the same state gives the same numbers).
    """
    nq = qs.shape[0]
    has_err = err.shape[0] > 0
    mask = ring_s.shape[0] - 1
    lo = st[0]
    hi = st[1]
    ne = st[2]
    total = acc[0]  # kept in locals: an array slot read and written every step would chain the steps
    comp = acc[1]
    for e in range(e0, e1):
        s = at[e]
        edge = s - w
        if e % chunk == 0:  # a chunk starts afresh
            if nq:
                for i in range(lo, hi):
                    x = rank[i]
                    v = x >> 6
                    words[v] &= ~(_ONE << np.uint64(x & 63))
                    if not words[v]:
                        u = v >> 6
                        summary[u] &= ~(_ONE << np.uint64(v & 63))
                        if not summary[u]:
                            top[u >> 6] &= ~(_ONE << np.uint64(u & 63))
                st[3] = 0  # the quantile pointers are set again at the first window with a request
            if lo > 0 and t[lo - 1] > edge:  # behind this chunk's window (a chunk run again): from the start
                lo = 0
            lo = _past(t, lo, edge)  # a thread's chunks come in time order: the walk is O(n) over the call
            hi = lo
            total = 0.0
            comp = 0.0
            ne = 0
            j = lo & mask
            ring_s[j] = 0.0
            ring_c[j] = 0.0
            ring_e[j] = 0
        new_lo = _past(t, lo, edge)
        if nq:
            for i in range(lo, new_lo if new_lo < hi else hi):  # in the window: take it out
                x = rank[i]
                v = x >> 6
                words[v] &= ~(_ONE << np.uint64(x & 63))
                if not words[v]:
                    u = v >> 6
                    summary[u] &= ~(_ONE << np.uint64(v & 63))
                    if not summary[u]:
                        top[u >> 6] &= ~(_ONE << np.uint64(u & 63))
                for k in range(nq):  # (no branch: whether a request is below a median is a coin toss)
                    pointer[2 * k + 1] -= np.int64(x < pointer[2 * k])
        new_hi = _past(t, hi, s)
        for i in range(hi, new_hi):
            y = lat[i]  # a compensated (Neumaier) sum
            u = total + y
            if abs(total) >= abs(y):
                comp += (total - u) + y
            else:
                comp += (y - u) + total
            total = u
            if has_err:
                ne += err[i]
            j = (i + 1) & mask
            ring_s[j] = total
            ring_c[j] = comp
            ring_e[j] = ne
            if nq and i >= new_lo:
                x = rank[i]
                v = x >> 6
                words[v] |= _ONE << np.uint64(x & 63)
                summary[v >> 6] |= _ONE << np.uint64(v & 63)
                top[v >> 12] |= _ONE << np.uint64((v >> 6) & 63)
                for k in range(nq):
                    pointer[2 * k + 1] += np.int64(x < pointer[2 * k])
        lo = new_lo
        hi = new_hi
        m = hi - lo
        if m > mask:  # the ring no longer holds the prefix at lo
            st[0] = lo
            st[1] = hi
            return e - e % chunk
        j = lo & mask
        count[e] = m
        if m:
            # (total + comp) - (ring_s[j] + ring_c[j]), the rounding error of total - ring_s[j] kept (Knuth's
            # two-sum): the window's sum from two prefixes, as accurate as adding the window up itself
            d = total - ring_s[j]
            z = d - total
            lost = (total - (d - z)) + (-ring_s[j] - z)
            mean[e] = (d + (lost + (comp - ring_c[j]))) / m
            if has_err:
                rate[e] = (ne - ring_e[j]) / m
            if nq and not st[3]:  # pointers from the window's smallest or largest rank: O(m), never O(n)
                low = high = rank[lo]
                for i in range(lo + 1, hi):
                    if rank[i] < low:
                        low = rank[i]
                    elif rank[i] > high:
                        high = rank[i]
                for k in range(nq):
                    up = qs[k] > 0.5
                    pointer[2 * k] = high if up else low
                    pointer[2 * k + 1] = m - 1 if up else 0
                st[3] = 1
            for k in range(nq):
                qout[e, k] = _window_quantile(words, summary, top, pointer, k, sorted_lat, m, qs[k])
        else:
            mean[e] = math.nan
            if has_err:
                rate[e] = math.nan
            for k in range(nq):
                qout[e, k] = math.nan
            st[3] = 0
    st[0] = lo
    st[1] = hi
    st[2] = ne
    acc[0] = total
    acc[1] = comp
    return -1


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
def _latency_ranks(lat, bits, keys, keys2, idx, idx2, counts, start, rank, sorted_lat):
    """0-based rank of each latency in a stable sort (equal values in index order, as
    ``np.argsort(kind="stable")``) into `rank`, and the sorted latencies into `sorted_lat`; `bits` is
    ``lat.view(np.uint64)``.  The caller allocates everything (no array constructor to compile here): `keys`,
    `keys2` (uint64), `idx`, `idx2` (int32) of the latencies' length, `counts` (int64 zeros, _RADIX_PASSES x
    _RADIX) and `start` (int64, _RADIX).

    An LSD radix sort of order-preserving uint64 keys, 11 bits a pass, skipping the passes whose digit is
    the same for every key: O(n) a pass over contiguous keys, where a comparison sort of indices jumps
    through memory (several times faster on 10^7 latencies).
    """
    n = lat.shape[0]
    for i in range(n):
        keys[i] = _order_key(bits[i])
    # pass p's histogram at counts[p * _RADIX:]
    mask = np.uint64(_RADIX - 1)
    for i in range(n):
        k = keys[i]
        for p in range(_RADIX_PASSES):
            counts[p * _RADIX + np.int64((k >> np.uint64(p * _RADIX_BITS)) & mask)] += 1
    for i in range(n):
        idx[i] = i
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
    for i in range(n):
        o = idx[i]
        rank[o] = i
        sorted_lat[i] = lat[o]


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
