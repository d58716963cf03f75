"""Kernels of the serving simulation: the multi-server FIFO queue, token buckets, sliding windows and z-score
gates.  @njit code only; `simengine.serving` validates and calls these.
"""
from __future__ import annotations

import math

import numpy as np

from simengine._jit import njit
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
def _bucket_admit(state, j, t, capacity, refill_per_second, cost):
    """Token bucket of client j at time t: refill, then admit (take `cost` tokens) iff enough are there.

    `state[j]` is (tokens, last_time); last_time -inf means never used (a full bucket).  Tokens refill at
    `refill_per_second` up to `capacity` since last_time, last_time becomes t, and the request is admitted
    (True, `cost` tokens taken) iff tokens >= cost; a refused request takes nothing.
    """
    last = state[j, 1]
    if last == -np.inf:
        tokens = capacity
    else:
        tokens = min(capacity, state[j, 0] + (t - last) * refill_per_second)
    state[j, 1] = t
    if tokens >= cost:
        state[j, 0] = tokens - cost
        return True
    state[j, 0] = tokens
    return False


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
