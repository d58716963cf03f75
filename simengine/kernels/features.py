"""Kernels of point-in-time feature windows: group-and-sort of events, then one pass per entity.

Times are int64 (datetime64 nanoseconds) or float64 (numeric times); each kernel compiles for the one a call
uses.  No validation here: the public layer (`simengine.features`) checks, converts and labels.
"""
import numpy as np

from simengine._jit import njit

# segments of at most this many items are insertion-sorted (cheap, and already sorted input costs one pass)
_SHORT = 32


@njit
def dense_codes(ids, low, span):
    """Codes 0..k-1 of integer ids in [low, low + span), in order of first appearance, and the lookup table.

    The hash-free path of factorising: `table[id - low]` is the id's code (-1 if absent).
    """
    table = np.full(span, -1, np.int64)
    codes = np.empty(ids.shape[0], np.int64)
    k = 0
    for i in range(ids.shape[0]):
        j = ids[i] - low
        if table[j] < 0:
            table[j] = k
            k += 1
        codes[i] = table[j]
    return codes, table, k


@njit
def lookup_codes(ids, low, table):
    """The codes of `ids` in a `dense_codes` table (-1 for ids it does not hold)."""
    codes = np.empty(ids.shape[0], np.int64)
    span = table.shape[0]
    for i in range(ids.shape[0]):
        j = ids[i] - low
        codes[i] = table[j] if 0 <= j < span else -1
    return codes


@njit
def _insertion_sort(t, idx, lo, hi):
    for i in range(lo + 1, hi):
        key = t[i]
        row = idx[i]
        j = i - 1
        while j >= lo and t[j] > key:
            t[j + 1] = t[j]
            idx[j + 1] = idx[j]
            j -= 1
        t[j + 1] = key
        idx[j + 1] = row


@njit
def _merge_sort(t, idx, a, b, tmp_t, tmp_i):
    """Stable sort of t[a:b] (carrying idx) by merging insertion-sorted runs of `_SHORT`."""
    for lo in range(a, b, _SHORT):
        _insertion_sort(t, idx, lo, min(lo + _SHORT, b))
    width = _SHORT
    while width < b - a:
        for lo in range(a, b, 2 * width):
            mid = min(lo + width, b)
            hi = min(lo + 2 * width, b)
            if mid >= hi or t[mid - 1] <= t[mid]:
                continue
            n_left = mid - lo
            for i in range(n_left):
                tmp_t[i] = t[lo + i]
                tmp_i[i] = idx[lo + i]
            i = 0
            j = mid
            k = lo
            while i < n_left and j < hi:
                if t[j] < tmp_t[i]:
                    t[k] = t[j]
                    idx[k] = idx[j]
                    j += 1
                else:
                    t[k] = tmp_t[i]
                    idx[k] = tmp_i[i]
                    i += 1
                k += 1
            while i < n_left:
                t[k] = tmp_t[i]
                idx[k] = tmp_i[i]
                i += 1
                k += 1
        width *= 2


@njit
def group_sort(codes, n_groups, times, payload):
    """Rows grouped by code (codes < 0 left out), each group sorted stably by time: (t, carried, starts).

    A counting sort by group (stable: input order within a group) writes each row's time and int64
    `payload` (row numbers, or float64 values viewed as int64: carried bit for bit) next to its group's;
    each group's contiguous segment is then sorted by time unless it already is (one pass).  Group g
    occupies [starts[g], starts[g + 1]) of `t` (the sorted times) and `carried` (their payloads).
    """
    starts = np.zeros(n_groups + 1, np.int64)
    for i in range(codes.shape[0]):
        if codes[i] >= 0:
            starts[codes[i] + 1] += 1
    longest = 0
    for g in range(n_groups):
        longest = max(longest, starts[g + 1])
        starts[g + 1] += starts[g]
    pos = np.empty(n_groups, np.int64)
    for g in range(n_groups):
        pos[g] = starts[g]
    n = starts[n_groups]
    t = np.empty(n, times.dtype)
    rows = np.empty(n, np.int64)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0:
            p = pos[c]
            t[p] = times[i]
            rows[p] = payload[i]
            pos[c] = p + 1
    tmp_t = np.empty(longest, times.dtype)
    tmp_i = np.empty(longest, np.int64)
    for g in range(n_groups):
        a = starts[g]
        b = starts[g + 1]
        for i in range(a + 1, b):
            if t[i] < t[i - 1]:
                if b - a <= _SHORT:
                    _insertion_sort(t, rows, a, b)
                else:
                    _merge_sort(t, rows, a, b, tmp_t, tmp_i)
                break
    return t, rows, starts


@njit
def window_features(ev_t, ev_v, ev_starts, q_t, q_rows, q_starts, windows, inclusive_end,
                    sums, counts, mins, maxs, lasts, since, age, missing):
    """Aggregates of each query's window of events, written at the query's row.

    Events are sorted by (entity, time): entity g's are ev_t/ev_v[ev_starts[g]:ev_starts[g + 1]]; its
    queries are q_t[q_starts[g]:q_starts[g + 1]] in time order, with output rows q_rows.  A window of
    length w at as-of time q holds the events with q - w <= t < q (t <= q when `inclusive_end`).  Output
    arrays are (n_windows, n_queries); mins/maxs/lasts/since with 0 rows are not computed.  `age` gets q
    minus the latest event up to the as-of time (any window), `missing` if none; `since` the same within
    each window.  Per entity the end pointer and each window's start pointer only move forward, and
    min/max come from monotone deques of event indices, so the work is O(events + queries) per window.
    """
    n_w = windows.shape[0]
    n_groups = q_starts.shape[0] - 1
    want_min = mins.shape[0] > 0
    want_max = maxs.shape[0] > 0
    want_last = lasts.shape[0] > 0
    want_since = since.shape[0] > 0
    longest = 0
    if want_min or want_max:
        for g in range(n_groups):
            longest = max(longest, ev_starts[g + 1] - ev_starts[g])
    prefix = np.empty(ev_t.shape[0] + 1, np.float64)
    lo = np.empty(n_w, np.int64)
    # deque of window j: dq[head[j]:tail[j]] within [j * stride, (j + 1) * stride), event indices whose
    # values are monotone (increasing for min, decreasing for max)
    stride = longest + 1
    dq_min = np.empty(n_w * stride if want_min else 1, np.int64)
    dq_max = np.empty(n_w * stride if want_max else 1, np.int64)
    head_min = np.zeros(n_w, np.int64)
    tail_min = np.zeros(n_w, np.int64)
    head_max = np.zeros(n_w, np.int64)
    tail_max = np.zeros(n_w, np.int64)
    added = np.zeros(n_w, np.int64)
    for g in range(n_groups):
        qa = q_starts[g]
        qb = q_starts[g + 1]
        if qa == qb:
            continue
        ea = ev_starts[g]
        eb = ev_starts[g + 1]
        # running sums restart per entity, so a window's sum carries only its entity's rounding
        prefix[ea] = 0.0
        for i in range(ea, eb):
            prefix[i + 1] = prefix[i] + ev_v[i]
        for j in range(n_w):
            lo[j] = ea
            head_min[j] = j * stride
            tail_min[j] = j * stride
            head_max[j] = j * stride
            tail_max[j] = j * stride
            added[j] = ea
        hi = ea
        for k in range(qa, qb):
            row = q_rows[k]
            q = q_t[k]
            if inclusive_end:
                while hi < eb and ev_t[hi] <= q:
                    hi += 1
            else:
                while hi < eb and ev_t[hi] < q:
                    hi += 1
            age[row] = q - ev_t[hi - 1] if hi > ea else missing
            for j in range(n_w):
                start = q - windows[j]
                a = lo[j]
                while a < hi and ev_t[a] < start:
                    a += 1
                lo[j] = a
                n = hi - a
                sums[j, row] = prefix[hi] - prefix[a] if n > 0 else 0.0
                counts[j, row] = n
                if want_last:
                    lasts[j, row] = ev_v[hi - 1] if n > 0 else np.nan
                if want_since:
                    since[j, row] = q - ev_t[hi - 1] if n > 0 else missing
                if want_min:
                    h = head_min[j]
                    e = tail_min[j]
                    for i in range(added[j], hi):
                        while e > h and ev_v[dq_min[e - 1]] >= ev_v[i]:
                            e -= 1
                        dq_min[e] = i
                        e += 1
                    while h < e and dq_min[h] < a:
                        h += 1
                    head_min[j] = h
                    tail_min[j] = e
                    mins[j, row] = ev_v[dq_min[h]] if n > 0 else np.nan
                if want_max:
                    h = head_max[j]
                    e = tail_max[j]
                    for i in range(added[j], hi):
                        while e > h and ev_v[dq_max[e - 1]] <= ev_v[i]:
                            e -= 1
                        dq_max[e] = i
                        e += 1
                    while h < e and dq_max[h] < a:
                        h += 1
                    head_max[j] = h
                    tail_max[j] = e
                    maxs[j, row] = ev_v[dq_max[h]] if n > 0 else np.nan
                added[j] = hi


@njit
def fill_empty(rows, sums, counts, mins, maxs, lasts, since, age, missing):
    """The outputs of queries whose entity has no event at all (empty windows)."""
    for k in range(rows.shape[0]):
        row = rows[k]
        age[row] = missing
        for j in range(sums.shape[0]):
            sums[j, row] = 0.0
            counts[j, row] = 0
            if mins.shape[0] > 0:
                mins[j, row] = np.nan
            if maxs.shape[0] > 0:
                maxs[j, row] = np.nan
            if lasts.shape[0] > 0:
                lasts[j, row] = np.nan
            if since.shape[0] > 0:
                since[j, row] = missing
