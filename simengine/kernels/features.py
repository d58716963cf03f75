"""Kernels of point-in-time feature windows: group-and-sort of events, then one pass per entity.

Times are int64 (datetime64 nanoseconds) or float64 (numeric times); each kernel compiles for the one a call
uses.  No validation here: the public layer (`simengine.features`) checks, converts and labels.
"""
import numpy as np

from simengine._jit import njit

# segments of at most this many items are insertion-sorted (cheap, and already sorted input costs one pass)
_SHORT = 32


@njit
def group_order(codes, n_groups):
    """Counting sort by group code: (order, starts); codes < 0 are left out.

    `order` lists the rows of group 0, then group 1, ... each in input order (stable);
    group g occupies order[starts[g]:starts[g + 1]].
    """
    counts = np.zeros(n_groups + 1, np.int64)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0:
            counts[c + 1] += 1
    for g in range(n_groups):
        counts[g + 1] += counts[g]
    starts = counts.copy()
    pos = counts[:n_groups].copy()
    order = np.empty(starts[n_groups], np.int64)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0:
            order[pos[c]] = i
            pos[c] += 1
    return order, starts


@njit
def _merge_sort_segment(order, a, b, keys, tmp):
    """Stable sort of order[a:b] by keys[order[.]] (bottom-up merge of insertion-sorted runs)."""
    for lo in range(a, b, _SHORT):
        hi = min(lo + _SHORT, b)
        for i in range(lo + 1, hi):
            v = order[i]
            k = keys[v]
            j = i - 1
            while j >= lo and keys[order[j]] > k:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = v
    width = _SHORT
    while width < b - a:
        for lo in range(a, b, 2 * width):
            mid = min(lo + width, b)
            hi = min(lo + 2 * width, b)
            if mid >= hi or keys[order[mid - 1]] <= keys[order[mid]]:
                continue
            for i in range(lo, mid):
                tmp[i - lo] = order[i]
            i = 0
            n_left = mid - lo
            j = mid
            k = lo
            while i < n_left and j < hi:
                if keys[order[j]] < keys[tmp[i]]:
                    order[k] = order[j]
                    j += 1
                else:
                    order[k] = tmp[i]
                    i += 1
                k += 1
            while i < n_left:
                order[k] = tmp[i]
                i += 1
                k += 1
        width *= 2


@njit
def sort_within_groups(order, starts, keys):
    """Sort each group's segment of `order` stably by `keys` (in place); sorted segments cost one pass."""
    n_groups = starts.shape[0] - 1
    longest = 0
    for g in range(n_groups):
        longest = max(longest, starts[g + 1] - starts[g])
    tmp = np.empty(longest // 2 + _SHORT, np.int64)
    for g in range(n_groups):
        a = starts[g]
        b = starts[g + 1]
        for i in range(a + 1, b):
            if keys[order[i]] < keys[order[i - 1]]:
                _merge_sort_segment(order, a, b, keys, tmp)
                break


@njit
def gather_times_values(order, times, values):
    """times[order], values[order] in one pass (the sorted copies the window pass reads)."""
    n = order.shape[0]
    t = np.empty(n, times.dtype)
    v = np.empty(n, np.float64)
    for i in range(n):
        j = order[i]
        t[i] = times[j]
        v[i] = values[j]
    return t, v


@njit
def _push_max(dq, head, tail, vals, i):
    while tail > head and vals[dq[tail - 1]] <= vals[i]:
        tail -= 1
    dq[tail] = i
    return tail + 1


@njit
def _push_min(dq, head, tail, vals, i):
    while tail > head and vals[dq[tail - 1]] >= vals[i]:
        tail -= 1
    dq[tail] = i
    return tail + 1


@njit
def window_features(ev_t, ev_v, ev_starts, q_order, q_starts, q_t, windows, inclusive_end,
                    sums, counts, mins, maxs, lasts, since, age, missing):
    """Aggregates of each query's window of events, written at the query's row.

    Events are sorted by (entity, time): entity g's are ev_t/ev_v[ev_starts[g]:ev_starts[g + 1]].
    Queries of entity g are rows q_order[q_starts[g]:q_starts[g + 1]] of q_t, in time order.
    A window of length w at as-of time q holds the events with q - w <= t < q (t <= q when
    `inclusive_end`).  Output arrays are (n_windows, n_queries); mins/maxs/lasts/since with 0 rows are
    not computed.  `age` gets q minus the latest event up to the as-of time (any window), `missing` if none;
    `since` the same within each window.  Per entity the end pointer and each window's start pointer only
    move forward, and min/max come from monotone deques, so the work is O(events + queries) per window.
    """
    n_w = windows.shape[0]
    n_groups = q_starts.shape[0] - 1
    want_minmax = mins.shape[0] > 0 or maxs.shape[0] > 0
    want_min = mins.shape[0] > 0
    want_max = maxs.shape[0] > 0
    want_last = lasts.shape[0] > 0
    want_since = since.shape[0] > 0
    longest = 0
    for g in range(n_groups):
        longest = max(longest, ev_starts[g + 1] - ev_starts[g])
    prefix = np.empty(longest + 1, np.float64)
    lo = np.empty(n_w, np.int64)
    dq_min = np.empty((n_w, longest + 1 if want_minmax else 1), np.int64)
    dq_max = np.empty((n_w, longest + 1 if want_minmax else 1), np.int64)
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
        ne = ev_starts[g + 1] - ea
        t = ev_t[ea:ea + ne]
        v = ev_v[ea:ea + ne]
        prefix[0] = 0.0
        for i in range(ne):
            prefix[i + 1] = prefix[i] + v[i]
        for j in range(n_w):
            lo[j] = 0
            head_min[j] = 0
            tail_min[j] = 0
            head_max[j] = 0
            tail_max[j] = 0
            added[j] = 0
        hi = 0
        for k in range(qa, qb):
            row = q_order[k]
            q = q_t[row]
            if inclusive_end:
                while hi < ne and t[hi] <= q:
                    hi += 1
            else:
                while hi < ne and t[hi] < q:
                    hi += 1
            if hi > 0:
                age[row] = q - t[hi - 1]
            else:
                age[row] = missing
            for j in range(n_w):
                start = q - windows[j]
                a = lo[j]
                while a < hi and t[a] < start:
                    a += 1
                lo[j] = a
                n = hi - a
                sums[j, row] = prefix[hi] - prefix[a]
                counts[j, row] = n
                if want_last:
                    lasts[j, row] = v[hi - 1] if n > 0 else np.nan
                if want_since:
                    since[j, row] = q - t[hi - 1] if n > 0 else missing
                if want_minmax:
                    # the deques hold candidates among events [added, hi); drop those before the window
                    for i in range(added[j], hi):
                        if want_min:
                            tail_min[j] = _push_min(dq_min[j], head_min[j], tail_min[j], v, i)
                        if want_max:
                            tail_max[j] = _push_max(dq_max[j], head_max[j], tail_max[j], v, i)
                    if hi > added[j]:
                        added[j] = hi
                    if want_min:
                        while head_min[j] < tail_min[j] and dq_min[j, head_min[j]] < a:
                            head_min[j] += 1
                        mins[j, row] = v[dq_min[j, head_min[j]]] if n > 0 else np.nan
                    if want_max:
                        while head_max[j] < tail_max[j] and dq_max[j, head_max[j]] < a:
                            head_max[j] += 1
                        maxs[j, row] = v[dq_max[j, head_max[j]]] if n > 0 else np.nan


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
