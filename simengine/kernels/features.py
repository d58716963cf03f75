"""Kernels of point-in-time feature windows: group-and-sort of events, then one pass per entity.

Times are int64 (datetime64 nanoseconds) or float64 (numeric times); each kernel compiles for the one a call
uses.  No validation here: the public layer (`simengine.features`) checks, converts and labels.
"""
import numpy as np

from simengine._jit import njit

# segments of at most this many items are insertion-sorted (cheap, and already sorted input costs one pass)
_SHORT = 32


@njit
def dense_codes(ids, low, table, codes):
    """Codes 0..k-1 of integer ids >= low into `codes` (first appearance order); returns k.

    The hash-free path of factorising: `table` (filled with -1, one slot per id from `low`) ends with
    ``table[id - low]`` = the id's code, -1 if absent.  Arrays are allocated by the caller (NumPy), which
    keeps allocation code out of the kernels' compile time.
    """
    k = 0
    for i in range(ids.shape[0]):
        j = ids[i] - low
        if table[j] < 0:
            table[j] = k
            k += 1
        codes[i] = table[j]
    return k


@njit
def lookup_codes(ids, low, table, codes):
    """The codes of `ids` in a `dense_codes` table into `codes` (-1 for ids it does not hold)."""
    span = table.shape[0]
    for i in range(ids.shape[0]):
        j = ids[i] - low
        codes[i] = table[j] if 0 <= j < span else -1


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
def group_sort(codes, times, payload, starts, t, carried, tmp_t, tmp_i):
    """Rows grouped by code, each group sorted stably by time, into `t` and `carried`.

    `codes` are in [0, n_groups) with `starts` (n_groups + 1, zeros) getting the group offsets; `t`,
    `carried` have the rows' length, `tmp_t` / `tmp_i` at least the largest group's (the caller sizes
    them from a bincount).  A counting sort by group (stable: input order within a group) writes each
    row's time and int64 `payload` (row numbers, or float64 values viewed as int64: carried bit for bit)
    next to its group's; each group's contiguous segment is then sorted by time unless it already is
    (one pass).  Group g occupies [starts[g], starts[g + 1]).
    """
    n_groups = starts.shape[0] - 1
    for i in range(codes.shape[0]):
        starts[codes[i] + 1] += 1
    for g in range(n_groups):
        starts[g + 1] += starts[g]
    # starts[g] doubles as group g's next free slot, then is shifted back
    for i in range(codes.shape[0]):
        c = codes[i]
        p = starts[c]
        t[p] = times[i]
        carried[p] = payload[i]
        starts[c] = p + 1
    for g in range(n_groups, 0, -1):
        starts[g] = starts[g - 1]
    starts[0] = 0
    for g in range(n_groups):
        a = starts[g]
        b = starts[g + 1]
        for i in range(a + 1, b):
            if t[i] < t[i - 1]:
                if b - a <= _SHORT:
                    _insertion_sort(t, carried, a, b)
                else:
                    _merge_sort(t, carried, a, b, tmp_t, tmp_i)
                break


@njit
def _slide(dq, state, j, v, first, hi, a, sign):
    """Max of sign * v over events [a, hi) from window j's monotone deque (sign -1: the min), or NaN if empty.

    The deque is dq[state[r, j]:state[r + 1, j]] (head, tail; r = 1 for the min, 3 for the max).  Events
    first..hi-1 are pushed (dropping those they dominate), then those before `a` leave the front.
    """
    r = 1 if sign < 0 else 3
    h = state[r, j]
    e = state[r + 1, j]
    for i in range(first, hi):
        x = sign * v[i]
        while e > h and sign * v[dq[e - 1]] <= x:
            e -= 1
        dq[e] = i
        e += 1
    while h < e and dq[h] < a:
        h += 1
    state[r, j] = h
    state[r + 1, j] = e
    return v[dq[h]] if h < e else np.nan


@njit
def window_features(ev_t, ev_v, ev_starts, q_t, q_rows, q_starts, windows, inclusive_end,
                    sums, counts, mins, maxs, lasts, since, age, missing, prefix, state, dq_min, dq_max, stride,
                    g_lo, g_hi):
    """Aggregates of each query's window of events, written at the query's row, for entities g_lo..g_hi-1.

    Events are sorted by (entity, time): entity g's are ev_t/ev_v[ev_starts[g]:ev_starts[g + 1]]; its
    queries are q_t[q_starts[g]:q_starts[g + 1]] in time order, with output rows q_rows.  A window of
    length w at as-of time q holds the events with q - w <= t < q (t <= q when `inclusive_end`).  Output
    arrays are (n_windows, n_queries); mins/maxs/lasts/since with 0 rows are not computed.  `age` gets q
    minus the latest event up to the as-of time (any window), `missing` if none; `since` the same within
    each window.  Per entity the end pointer and each window's start pointer only move forward, and
    min/max come from monotone deques of event indices, so the work is O(events + queries) per window.

    Workspace from the caller: `prefix` (events + 1 floats), `state` (6 x windows int64: start pointer,
    min deque head/tail, max deque head/tail, events pushed), `dq_min` / `dq_max` (windows x `stride`,
    stride > the largest entity's event count; 1 element when not wanted).
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
        # running sums restart per entity, so a window's sum carries only its entity's rounding
        prefix[ea] = 0.0
        for i in range(ea, eb):
            prefix[i + 1] = prefix[i] + ev_v[i]
        for j in range(n_w):
            state[0, j] = ea
            state[1, j] = j * stride
            state[2, j] = j * stride
            state[3, j] = j * stride
            state[4, j] = j * stride
            state[5, j] = ea
        hi = ea
        for k in range(qa, qb):
            row = q_rows[k]
            q = q_t[k]
            while hi < eb and (ev_t[hi] < q or (inclusive_end and ev_t[hi] == q)):
                hi += 1
            age[row] = q - ev_t[hi - 1] if hi > ea else missing
            for j in range(n_w):
                start = q - windows[j]
                a = state[0, j]
                while a < hi and ev_t[a] < start:
                    a += 1
                state[0, j] = a
                n = hi - a
                sums[j, row] = prefix[hi] - prefix[a] if n > 0 else 0.0
                counts[j, row] = n
                if want_last:
                    lasts[j, row] = ev_v[hi - 1] if n > 0 else np.nan
                if want_since:
                    since[j, row] = q - ev_t[hi - 1] if n > 0 else missing
                if want_min:
                    mins[j, row] = _slide(dq_min, state, j, ev_v, state[5, j], hi, a, -1.0)
                if want_max:
                    maxs[j, row] = _slide(dq_max, state, j, ev_v, state[5, j], hi, a, 1.0)
                state[5, j] = hi
