"""Kernels of point-in-time feature windows: a counting-sort scatter by block of entities, then per block (in
cache) a counting sort by entity and time bucket, an insertion sort, and one pass per entity.

Times are int64 (datetime64 nanoseconds) or float64 (numeric times); each kernel compiles for the one a call
uses.  No validation here: the public layer (`simengine.features`) checks, converts and labels.
"""
import numpy as np

from simengine._jit import njit

# segments of at most this many items are insertion-sorted (cheap, and already sorted input costs one pass)
_SHORT = 32
# the insertion sort after the block's bucket pass gives up (for a merge sort) after this many moves per item
_MOVES = 8


@njit
def scatter_groups(keys, low, last, lo, hi, slots, times, payload, rec, low_bits, shift):
    """Counting-sort scatter of rows lo..hi-1 by block of groups: each row's time and `payload` (of the times'
    dtype: float64 values viewed as int64 for datetime times, or row numbers) go to its block's next free slot
    of `rec` (n x 2: time, payload; ``slots[g >> shift]``, advanced), and the group's place in its block,
    ``g & (2**shift - 1)``, to the same slot of `low_bits` (int32).  With an empty `rec` the rows
    are only counted by group (``slots[g] += 1``), for the caller to make the slots.  Stable: within a block,
    input order.  Blocks of 2**shift groups keep the write streams few (one per block, not one per group:
    they stay in cache); `sort_groups` then scatters each block into its groups while it is in cache.

    The group of key k is ``k - low`` for keys in [low, low + last), else `last` (queries whose entity has
    no events): integer entity ids go in as they are (`low` their minimum: no factorising pass), dense codes
    from ``pandas.factorize`` with `low` 0 and -1 for "no events".  Rows split into consecutive ranges, each
    with its own slots (the block starts plus the counts of the ranges before it), give the same layout in
    any number of calls, so ranges can run on several threads.
    """
    count = rec.shape[0] == 0
    high = low + (last - 1)  # compared before subtracting: no overflow for any int64 key
    mask = (1 << shift) - 1
    for i in range(lo, hi):
        k = keys[i]
        g = k - low if low <= k <= high else last
        if count:
            slots[g] += 1
        else:
            b = g >> shift
            p = slots[b]
            slots[b] = p + 1
            rec[p, 0] = times[i]
            rec[p, 1] = payload[i]
            low_bits[p] = g & mask


@njit
def sort_groups(rec, low_bits, starts, other, g_lo, g_hi, tmp, work):
    """Scatter one block of `scatter_groups` (groups g_lo..g_hi-1, g_lo a multiple of its 2**shift, g_hi - g_lo
    <= 2**shift) into its groups, then sort those groups of the records `rec` (time, payload; group g is
    rec[starts[g]:starts[g + 1]]) stably by time, in place, skipping those whose group in `other` is empty
    (events of entities without queries, queries of entities without events: the window pass does not need
    their order).  The block is copied to `tmp` and each record goes back to the next slot of its group (its
    place in the block in `low_bits`) and time bucket (about as many buckets per group as records, over the
    block's time range; a monotone key, so equal times share a bucket): a stable counting sort, in cache for
    blocks of a few 10^4 records, that leaves each group nearly sorted for times spread over the range.

    A group costs one pass when already sorted, and an insertion sort when nearly sorted.  When that insertion
    sort has moved items more than `_MOVES` times per item (times clustered within the block's range), a merge
    sort sorts the group instead: O(n log n) in any case.  `tmp` holds at least the block, `work` three times
    that + 2**shift + 1 (bucket starts, then keys).
    """
    a = starts[g_lo]
    b = starts[g_hi]
    if b - a > 1:
        first = rec[a, 0]
        final = rec[a, 0]
        for i in range(a, b):
            tmp[i - a, 0] = rec[i, 0]
            tmp[i - a, 1] = rec[i, 1]
            if rec[i, 0] < first:
                first = rec[i, 0]
            elif rec[i, 0] > final:
                final = rec[i, 0]
        m = g_hi - g_lo
        nb = 1  # time buckets per group: about one record each, over the block's time range
        while nb * m < b - a:
            nb *= 2
        low = float(first)
        span = float(final) - low
        scale = nb / span if 0.0 < span <= 1.7e308 else np.inf
        if not scale <= 1e308:  # one time, or a span too wide or too narrow for float64: by group only
            nb = 1
        top = m * nb
        for k in range(top + 1):
            work[k] = 0
        work[0] = a
        for i in range(a, b):
            k = low_bits[i]
            if nb > 1:
                t = int((float(rec[i, 0]) - low) * scale)
                k = k * nb + (t if t < nb else nb - 1)
            work[top + 1 + i - a] = k  # the keys, after the counts
            work[k + 1] += 1
        for k in range(top):
            work[k + 1] += work[k]
        for i in range(b - a):
            k = work[top + 1 + i]
            p = work[k]
            work[k] = p + 1
            rec[p, 0] = tmp[i, 0]
            rec[p, 1] = tmp[i, 1]
    for g in range(g_lo, g_hi):
        a = starts[g]
        b = starts[g + 1]
        if other[g] == other[g + 1]:
            continue
        i = a + 1
        while i < b and rec[i - 1, 0] <= rec[i, 0]:
            i += 1
        if i >= b:
            continue
        # nearly sorted after the block's bucket pass: an insertion sort, while it moves few items
        budget = _MOVES * (b - a)
        while i < b and budget >= 0:
            x = rec[i, 0]
            c = rec[i, 1]
            j = i
            while j > a and rec[j - 1, 0] > x:
                rec[j, 0] = rec[j - 1, 0]
                rec[j, 1] = rec[j - 1, 1]
                j -= 1
            rec[j, 0] = x
            rec[j, 1] = c
            budget -= i - j
            i += 1
        if i >= b:
            continue
        # clustered times (or a block whose range defeats float64 buckets): the group as it is now (ties
        # still in input order) goes to a merge sort (stable): insertion-sorted runs of `_SHORT`, merged
        # pairwise; written out here rather than as a helper, which numba would compile a second time on its own
        for lo in range(a, b, _SHORT):
            hi = lo + _SHORT if lo + _SHORT < b else b
            for i in range(lo + 1, hi):
                key = rec[i, 0]
                carried = rec[i, 1]
                j = i - 1
                while j >= lo and rec[j, 0] > key:
                    rec[j + 1, 0] = rec[j, 0]
                    rec[j + 1, 1] = rec[j, 1]
                    j -= 1
                rec[j + 1, 0] = key
                rec[j + 1, 1] = carried
        width = _SHORT
        while width < b - a:
            for lo in range(a, b, 2 * width):
                mid = lo + width if lo + width < b else b
                hi = lo + 2 * width if lo + 2 * width < b else b
                if mid >= hi or rec[mid - 1, 0] <= rec[mid, 0]:
                    continue
                n_left = mid - lo
                for i in range(n_left):
                    tmp[i, 0] = rec[lo + i, 0]
                    tmp[i, 1] = rec[lo + i, 1]
                i = 0
                j = mid
                k = lo
                while i < n_left and j < hi:
                    if rec[j, 0] < tmp[i, 0]:
                        rec[k, 0] = rec[j, 0]
                        rec[k, 1] = rec[j, 1]
                        j += 1
                    else:
                        rec[k, 0] = tmp[i, 0]
                        rec[k, 1] = tmp[i, 1]
                        i += 1
                    k += 1
                while i < n_left:
                    rec[k, 0] = tmp[i, 0]
                    rec[k, 1] = tmp[i, 1]
                    i += 1
                    k += 1
            width *= 2


@njit
def _slide(dq, state, j, v, first, hi, a, sign):
    """Max of sign * v[:, 1] over events [a, hi) from window j's monotone deque (sign -1: the min), or NaN if empty.

    The deque is dq[state[r, j]:state[r + 1, j]] (head, tail; r = 1 for the min, 3 for the max).  Events
    first..hi-1 are pushed (dropping those they dominate), then those before `a` leave the front.
    """
    r = 1 if sign < 0 else 3
    h = state[r, j]
    e = state[r + 1, j]
    for i in range(first, hi):
        x = sign * v[i, 1]
        while e > h and sign * v[dq[e - 1], 1] <= x:
            e -= 1
        dq[e] = i
        e += 1
    while h < e and dq[h] < a:
        h += 1
    state[r, j] = h
    state[r + 1, j] = e
    return v[dq[h], 1] if h < e else np.nan


@njit
def window_features(ev, ev_v, ev_starts, qs, q_starts, windows, inclusive_end,
                    sums, counts, mins, maxs, lasts, since, age, missing, prefix, state, dq_min, dq_max, stride,
                    g_lo, g_hi):
    """Aggregates of each query's window of events, written at the query's row, for entities g_lo..g_hi-1.

    Events and queries are records grouped by entity and sorted by time (`scatter_groups`, then
    `sort_groups`): entity g's events are ev[ev_starts[g]:ev_starts[g + 1]] (time, value bits) with the
    values in column 1 of `ev_v` (the same memory seen as float64; read only), its queries
    qs[q_starts[g]:q_starts[g + 1]] (as-of time, output row).  A window
    of length w at as-of time q holds the events with q - w <= t < q (t <= q when `inclusive_end`).
    Output arrays are (n_windows, n_queries); mins/maxs/lasts/since with 0 rows are not computed.  `age`
    gets q minus the latest event up to the as-of time (any window), `missing` if none; `since` the same
    within each window.  Per entity the end pointer and each window's start pointer only move forward, and
    min/max come from monotone deques of event indices, so the work is O(events + queries) per window.

    Workspace from the caller (one set per thread): `prefix` (stride floats), `state` (6 x windows int64:
    start pointer, min deque head/tail, max deque head/tail, events pushed), `dq_min` / `dq_max` (windows
    x `stride`, stride > the largest entity's event count; 1 element when not wanted).
    """
    n_w = windows.shape[0]
    want_min = mins.shape[0] > 0
    want_max = maxs.shape[0] > 0
    want_last = lasts.shape[0] > 0
    want_since = since.shape[0] > 0
    for g in range(g_lo, g_hi):
        qa = q_starts[g]
        qb = q_starts[g + 1]
        if qa == qb:
            continue
        ea = ev_starts[g]
        eb = ev_starts[g + 1]
        # running sums restart per entity (prefix[i - ea] sums events ea..i-1), so a window's sum carries only
        # its entity's rounding; filled as the end pointer passes the events (none after the last query)
        prefix[0] = 0.0
        for j in range(n_w):
            state[0, j] = ea
            state[1, j] = j * stride
            state[2, j] = j * stride
            state[3, j] = j * stride
            state[4, j] = j * stride
            state[5, j] = ea
        hi = ea
        for k in range(qa, qb):
            row = int(qs[k, 1])
            q = qs[k, 0]
            while hi < eb and (ev[hi, 0] < q or (inclusive_end and ev[hi, 0] == q)):
                prefix[hi - ea + 1] = prefix[hi - ea] + ev_v[hi, 1]
                hi += 1
            age[row] = q - ev[hi - 1, 0] if hi > ea else missing
            for j in range(n_w):
                start = q - windows[j]
                a = state[0, j]
                while a < hi and ev[a, 0] < start:
                    a += 1
                state[0, j] = a
                n = hi - a
                sums[j, row] = prefix[hi - ea] - prefix[a - ea] if n > 0 else 0.0
                counts[j, row] = n
                if want_last:
                    lasts[j, row] = ev_v[hi - 1, 1] if n > 0 else np.nan
                if want_since:
                    since[j, row] = q - ev[hi - 1, 0] if n > 0 else missing
                if want_min:
                    mins[j, row] = _slide(dq_min, state, j, ev_v, state[5, j], hi, a, -1.0)
                if want_max:
                    maxs[j, row] = _slide(dq_max, state, j, ev_v, state[5, j], hi, a, 1.0)
                state[5, j] = hi
