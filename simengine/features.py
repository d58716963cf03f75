"""Point-in-time feature windows, session (rolling) features, freshness and training-serving skew.

Public layer only: validation, conversion of frames and ids, labelling of the output tables.  The window
pass is in `simengine.kernels.features`; skew reuses the drift module's `psi` and scipy's `ks_2samp`.
Every function returns a pandas DataFrame (the table a feature pipeline joins), not a result object.
"""
from __future__ import annotations

import datetime as _dt
import numbers
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from simengine._long import run_blocks
from simengine._validate import _describe, check_choice
from simengine.kernels import features as _k

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__ = ["point_in_time_features", "session_features", "freshness", "skew_report", "AGGREGATES"]

#: the aggregates `point_in_time_features` and `session_features` compute, in column order
AGGREGATES = ("sum", "count", "mean", "min", "max", "last", "time_since_last")
_CLOSED = ("left", "both")
_NAT = np.iinfo(np.int64).min  # numpy's NaT as int64
# entities per block of the window pass (blocks run in slices of growing size, see `run_blocks`)
_ENTITY_BLOCK = 256
# inputs (events + queries) from this many rows run the scatter and the window pass on numba's threads
_THREADED_ROWS = 1 << 16


# ------------------------------------------------------------------------------------------ input helpers


def _columns_of(frame: Any, name: str) -> list[str]:
    if isinstance(frame, Mapping):
        return [str(k) for k in frame]
    cols = getattr(frame, "columns", None)
    if cols is None:
        raise TypeError(f"`{name}` must be a pandas or polars DataFrame or a dict of arrays; got {_describe(frame)}")
    return [str(c) for c in cols]


def _column(frame: Any, frame_name: str, column: object, param: str) -> Any:
    """The column `column` of `frame` as an array (or pandas Series, which keeps its dtype)."""
    if not isinstance(column, str):
        raise TypeError(f"`{param}` must be a column name (str); got {_describe(column)}")
    cols = _columns_of(frame, frame_name)
    if column not in cols:
        shown = ", ".join(repr(c) for c in cols[:10]) + (", ..." if len(cols) > 10 else "")
        raise ValueError(f"`{param}` column {column!r} is not in `{frame_name}` (its columns: {shown})")
    values = frame[column]
    if hasattr(values, "to_numpy") and not _is_pandas(values):  # polars Series
        values = values.to_numpy()
    if not _is_pandas(values):
        try:
            values = np.asarray(values)
        except (TypeError, ValueError):
            raise ValueError(f"`{param}` column {column!r} of `{frame_name}` must be a 1-D array; got "
                             f"{_describe(values)}") from None
        if values.ndim != 1:
            raise ValueError(f"`{param}` column {column!r} of `{frame_name}` must be 1-D; got shape {values.shape}")
    return values


def _is_pandas(values: Any) -> bool:
    return type(values).__module__.startswith("pandas")


def _length(values: Any) -> int:
    return int(values.shape[0])


def _times(values: Any, param: str, frame_name: str) -> tuple[np.ndarray, str]:
    """(int64 nanoseconds or float64 times, kind "datetime" | "numeric"); NaT / NaN refused."""
    import pandas as pd

    if _is_pandas(values):
        dtype = values.dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            arr = values.to_numpy()
        elif pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
            raise TypeError(f"`{param}` column of `{frame_name}` must hold datetimes or numbers; got dtype "
                            f"{values.dtype}")
        else:
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = values
        if arr.dtype == object:
            try:
                arr = pd.to_datetime(arr).to_numpy()
            except (TypeError, ValueError):
                raise TypeError(f"`{param}` column of `{frame_name}` must hold datetimes or numbers; got "
                                f"objects") from None
    if arr.dtype.kind == "M":
        ns = arr.astype("datetime64[ns]", copy=False).view(np.int64)
        if ns.shape[0] and (ns == _NAT).any():
            raise ValueError(f"`{param}` column of `{frame_name}` holds NaT at row {int(np.argmax(ns == _NAT))}")
        return np.ascontiguousarray(ns), "datetime"
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"`{param}` column of `{frame_name}` must hold datetimes or numbers; got dtype {arr.dtype}")
    out = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        raise ValueError(f"`{param}` column of `{frame_name}` holds NaN or inf at row {int(np.argmax(bad))}")
    return out, "numeric"


def _id_kind(values: Any, param: str, frame_name: str) -> str:
    import pandas as pd

    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        pass
    elif pd.api.types.is_integer_dtype(dtype):
        return "integer"
    elif pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(values, skipna=False)
        if kind == "string":
            return "string"
        if kind == "integer":
            return "integer"
        raise TypeError(f"`{param}` column of `{frame_name}` must hold strings or integers; got {kind} values")
    raise TypeError(f"`{param}` column of `{frame_name}` must hold strings or integers; got dtype {dtype}")


def _values(values: Any, param: str, frame_name: str) -> np.ndarray:
    import pandas as pd

    if _is_pandas(values):
        if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
            raise TypeError(f"`{param}` column of `{frame_name}` must be numeric; got dtype {values.dtype}")
        arr: np.ndarray = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        if values.dtype.kind not in "iuf":
            raise TypeError(f"`{param}` column of `{frame_name}` must be numeric; got dtype {values.dtype}")
        arr = np.ascontiguousarray(values, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"`{param}` column of `{frame_name}` holds NaN or inf at row {int(np.argmax(bad))} "
                         "(drop or fill missing values first)")
    return arr


def _duration(value: object, kind: str, param: str) -> tuple[Any, str]:
    """A window / age as int64 ns (datetime times) or float64 (numeric times), and its label; must be > 0."""
    import pandas as pd

    if isinstance(value, bool) or value is None:
        raise TypeError(f"`{param}` must be a duration (offset string such as '7D', timedelta or number); "
                        f"got {_describe(value)}")
    if kind == "numeric":
        if not isinstance(value, numbers.Real):
            raise TypeError(f"`{param}` must be a number when times are numeric; got {_describe(value)}")
        number = float(value)
        if not np.isfinite(number) or number <= 0:
            raise ValueError(f"`{param}` must be positive and finite; got {value!r}")
        return number, f"{number:g}"
    if isinstance(value, str):
        try:
            delta = pd.Timedelta(value)
        except ValueError:
            raise ValueError(f"`{param}` {value!r} is not a duration (use e.g. '7D', '30min', '24h')") from None
        label = value
    elif isinstance(value, (_dt.timedelta, np.timedelta64)):
        delta = pd.Timedelta(value)
        label = "" if pd.isna(delta) else _label(int(delta.value))
    else:
        raise TypeError(f"`{param}` must be an offset string such as '7D' or a timedelta when times are "
                        f"datetimes; got {_describe(value)}")
    if pd.isna(delta) or delta.value <= 0:
        raise ValueError(f"`{param}` must be a positive duration; got {value!r}")
    return np.int64(delta.value), label


_UNITS = (("D", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9), ("s", 10**9), ("ms", 10**6),
          ("us", 10**3), ("ns", 1))


def _label(ns: int) -> str:
    """A timedelta as pandas would write it as an offset: the largest unit that divides it ("10D", "90min")."""
    for unit, size in _UNITS:
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"  # pragma: no cover  (every integer is a multiple of 1 ns)


def _items(value: object, param: str, what: str) -> list[Any]:
    """`value` as a list of items: one item, or the items of a list / tuple / 1-D array."""
    if isinstance(value, np.ndarray):
        if value.ndim > 1:
            raise ValueError(f"`{param}` must be {what} or a 1-D sequence of them; got shape {value.shape}")
        return [value.item()] if value.ndim == 0 else value.tolist()
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (Mapping, set, frozenset)) or not isinstance(value, Iterable) or isinstance(value, str):
        return [value]
    try:
        return list(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{param}` must be {what} or a sequence of them; got {_describe(value)}") from None


def _windows(windows: object, kind: str, param: str = "windows") -> tuple[np.ndarray, list[str]]:
    items = _items(windows, param, "a duration")
    if not items:
        raise ValueError(f"`{param}` must name at least one window")
    parsed = [_duration(w, kind, param) for w in items]
    labels = [label for _, label in parsed]
    if len(set(labels)) != len(labels):
        raise ValueError(f"`{param}` repeats a window: {labels}")
    dtype = np.int64 if kind == "datetime" else np.float64
    return np.array([w for w, _ in parsed], dtype=dtype), labels


def _aggs(aggs: object) -> list[str]:
    items = _items(aggs, "aggs", "an aggregate name")
    if not items:
        raise ValueError("`aggs` must name at least one aggregate")
    for a in items:
        if not isinstance(a, str) or a not in AGGREGATES:
            raise ValueError(f"`aggs` must be drawn from {AGGREGATES}; got {_describe(a)}")
    if len(set(items)) != len(items):
        raise ValueError(f"`aggs` repeats an aggregate: {items}")
    return items


def _entity_keys(ev_ids: Any, q_ids: Any | None) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    """Integer keys of the event and query entities, their offset `low` and the number of entities k.

    Entity g (0 <= g < k) is the key ``low + g``; a query key outside [low, low + k) has no events.  Integer
    ids spanning at most a few times the number of events are their own keys (no factorising pass, no
    hashing: entities of the span without events are empty groups); others go through ``pandas.factorize``
    (codes 0..k-1 in order of first appearance, -1 for query ids not among the events).
    """
    import pandas as pd

    arr = ev_ids if isinstance(ev_ids, np.ndarray) else None
    if _is_pandas(ev_ids) and pd.api.types.is_integer_dtype(ev_ids.dtype) and not ev_ids.hasnans:
        arr = ev_ids.to_numpy()
    if arr is not None and arr.dtype.kind in "iu" and arr.shape[0]:
        low, high = int(arr.min()), int(arr.max())
        # ids as keys need ids that fit int64 and a span of a few times the events (memory)
        if high < 2**63 and high - low < 4 * arr.shape[0] + 1024:
            keys = arr.astype(np.int64, copy=False)
            if q_ids is None:
                return keys, None, low, high - low + 1
            q_arr = np.asarray(q_ids)
            if q_arr.dtype.kind in "iu" and (q_arr.shape[0] == 0 or int(q_arr.max()) < 2**63):
                return keys, q_arr.astype(np.int64, copy=False), low, high - low + 1
    codes, uniques = pd.factorize(ev_ids, sort=False)
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    if codes.shape[0] and codes.min() < 0:
        raise ValueError(f"`entity` column of `events` holds a missing id at row {int(np.argmax(codes < 0))}")
    if q_ids is not None and len(q_ids) and bool(pd.isna(q_ids).any()):
        raise ValueError(f"`entity` column of `queries` holds a missing id at row "
                         f"{int(np.argmax(np.asarray(pd.isna(q_ids))))}")
    if q_ids is None:
        return codes, None, 0, len(uniques)
    q_codes = pd.Index(uniques).get_indexer(q_ids)
    return codes, np.ascontiguousarray(q_codes, dtype=np.int64), 0, len(uniques)


# ------------------------------------------------------------------------------------------ the window pass


def _threads(n: int) -> int:
    """Threads for a pass over n rows: numba's thread count, one for small inputs (a pool costs ~0.1 ms)."""
    import numba

    return 1 if n < _THREADED_ROWS else max(1, min(numba.get_num_threads(), 8))


def _in_threads(pool: Any, calls: list[Any]) -> None:
    """Run the zero-argument `calls` (nogil kernels) on `pool`'s threads, or here without a pool."""
    if pool is None or len(calls) == 1:
        for c in calls:
            c()
        return
    for f in [pool.submit(c) for c in calls]:
        f.result()


def _group(keys: np.ndarray, low: int, n_groups: int, times: np.ndarray, payload: np.ndarray,
           pool: Any, parts: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by block of `_ENTITY_BLOCK` entities (a stable counting sort): (group starts, records
    (time, payload) in block order, each record's group within its block as int32).  `sort_groups` scatters
    each block into its groups.

    `payload` has the times' dtype.  The rows are cut into `parts` consecutive ranges, counted and scattered
    on `pool`'s threads, each range with its own slots: the layout is the same for any number of parts.
    """
    n = keys.shape[0]
    shift = _ENTITY_BLOCK.bit_length() - 1
    last = np.int64(n_groups - 1)
    cuts = [n * p // parts for p in range(parts + 1)]
    counts = np.zeros((parts, n_groups), np.int64)
    nothing = np.empty((0, 2), times.dtype)  # no records: count only
    no_bits = np.empty(0, np.int32)
    _in_threads(pool, [lambda p=p: _k.scatter_groups(keys, np.int64(low), last, cuts[p], cuts[p + 1], counts[p],
                                                     times, payload, nothing, no_bits, shift) for p in range(parts)])
    starts = np.zeros(n_groups + 1, np.int64)
    np.cumsum(counts.sum(axis=0) if parts > 1 else counts[0], out=starts[1:])
    firsts = np.arange(0, n_groups, _ENTITY_BLOCK)
    slots = np.add.reduceat(counts, firsts, axis=1) if _ENTITY_BLOCK > 1 else counts
    below = starts[firsts]  # in place: range p's slots are the block starts plus ranges < p's counts
    for p in range(parts):
        below, slots[p] = below + slots[p], below
    records = np.empty((n, 2), times.dtype)
    low_bits = np.empty(n, np.int32)  # (int32 stores: uint8 ones made the scatter 2-3x slower)
    _in_threads(pool, [lambda p=p: _k.scatter_groups(keys, np.int64(low), last, cuts[p], cuts[p + 1], slots[p],
                                                     times, payload, records, low_bits, shift)
                       for p in range(parts)])
    return starts, records, low_bits


def _window_table(ev_keys: np.ndarray, q_keys: np.ndarray, low: int, n_entities: int, ev_t: np.ndarray,
                  ev_v: np.ndarray, q_t: np.ndarray, kind: str, wins: np.ndarray, labels: list[str],
                  aggs: list[str], closed: str, value: str, index: Any) -> tuple[pd.DataFrame, np.ndarray]:
    import pandas as pd

    # events and queries grouped by entity (queries of entities without events form one more group, with
    # no events) as records (time, payload) of the times' dtype: the values ride along as their bit pattern
    # (int64 for datetime times) and the query rows as numbers, so one scatter and one sort kernel serve both
    n_groups = n_entities + 1
    threads = _threads(ev_t.shape[0] + q_t.shape[0])
    pool = None
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=threads)
    try:
        ev_starts, ev, ev_bits = _group(ev_keys, low, n_groups, ev_t, ev_v.view(ev_t.dtype), pool, threads)
        q_starts, qs, q_bits = _group(q_keys, low, n_groups, q_t, np.arange(q_t.shape[0], dtype=q_t.dtype), pool,
                                      threads)
        ev_values = ev.view(np.float64)  # column 1: the values
        longest = int(np.diff(ev_starts).max(initial=0))
        q_longest = int(np.diff(q_starts).max(initial=0))
        n_q, n_w = q_t.shape[0], wins.shape[0]
        sums = np.empty((n_w, n_q))
        counts = np.empty((n_w, n_q), np.int64)

        def optional(agg: str, dtype: Any = np.float64) -> np.ndarray:
            return np.empty((n_w if agg in aggs else 0, n_q), dtype)

        mins, maxs, lasts = optional("min"), optional("max"), optional("last")
        since = optional("time_since_last", q_t.dtype)
        age = np.empty(n_q, q_t.dtype)
        missing = q_t.dtype.type(_NAT if kind == "datetime" else np.nan)
        n_w_minmax = n_w * (longest + 1)
        firsts = np.r_[0:n_groups:_ENTITY_BLOCK, n_groups]
        sort_size = max(longest, q_longest, int(np.diff(ev_starts[firsts]).max()), int(np.diff(q_starts[firsts]).max()))

        def workspace() -> tuple[Any, ...]:  # one per thread
            return (np.empty(longest + 1), np.zeros((6, n_w), np.int64),
                    np.empty(n_w_minmax if "min" in aggs else 1, np.int64),
                    np.empty(n_w_minmax if "max" in aggs else 1, np.int64), longest + 1,
                    np.empty((sort_size, 2), q_t.dtype), np.empty(3 * sort_size + _ENTITY_BLOCK + 1, np.int64))

        spaces = [workspace() for _ in range(threads)]

        def part(space: tuple[Any, ...], lo: int, hi: int) -> None:
            # a block's events and queries are sorted, then read while they are in cache
            for a in range(lo, hi, _ENTITY_BLOCK):
                b = min(a + _ENTITY_BLOCK, hi)
                _k.sort_groups(ev, ev_bits, ev_starts, q_starts, a, b, *space[5:])
                _k.sort_groups(qs, q_bits, q_starts, ev_starts, a, b, *space[5:])
                _k.window_features(ev, ev_values, ev_starts, qs, q_starts, wins,
                                   closed == "both", sums, counts, mins, maxs, lasts, since, age, missing, *space[:5],
                                   a, b)

        def entities(lo: int, hi: int) -> None:
            # blocks of entities are independent (each sorts its own events and queries and writes only its
            # queries' rows): neither the slicing nor the threads change a number
            # (threads take whole blocks: each block is one scatter block of `_group`)
            cuts = [min((lo + (hi - lo) * p // threads) * _ENTITY_BLOCK, n_groups) for p in range(threads + 1)]
            _in_threads(pool, [lambda p=p: part(spaces[p], cuts[p], cuts[p + 1]) for p in range(threads)
                               if cuts[p] < cuts[p + 1]])

        # in slices, so that Ctrl-C answers between them on 10^7 events
        run_blocks(entities, -(-n_groups // _ENTITY_BLOCK), progress=False, desc="point_in_time_features")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    columns: dict[str, Any] = {}
    for j, label in enumerate(labels):
        for agg in aggs:
            name = f"{value}_{agg}_{label}"
            if agg == "sum":
                columns[name] = sums[j]
            elif agg == "count":
                columns[name] = counts[j]
            elif agg == "mean":
                with np.errstate(invalid="ignore", divide="ignore"):
                    columns[name] = np.where(counts[j] > 0, sums[j] / np.maximum(counts[j], 1), np.nan)
            elif agg == "min":
                columns[name] = mins[j]
            elif agg == "max":
                columns[name] = maxs[j]
            elif agg == "last":
                columns[name] = lasts[j]
            else:
                columns[name] = since[j].view("timedelta64[ns]") if kind == "datetime" else since[j]
    frame = pd.DataFrame(columns, index=index, copy=False)
    return frame, age


def _age_array(age: np.ndarray, kind: str) -> np.ndarray:
    return age.view("timedelta64[ns]") if kind == "datetime" else age


def _stale(age: np.ndarray, kind: str, max_age: Any) -> np.ndarray:
    if kind == "datetime":
        stale: np.ndarray = (age == _NAT) | (age > max_age)
    else:
        stale = np.isnan(age) | (age > max_age)
    return stale


def _index_of(frame: Any, n: int) -> Any:
    import pandas as pd

    index = getattr(frame, "index", None)
    if isinstance(index, pd.Index) and len(index) == n:
        return index
    return pd.RangeIndex(n)


def _read_events(events: Any, entity: str, time: str, value: str) -> tuple[Any, str | None, np.ndarray, str,
                                                                         np.ndarray]:
    ev_ids = _column(events, "events", entity, "entity")
    ev_time = _column(events, "events", time, "time")
    ev_val = _column(events, "events", value, "value")
    n = _length(ev_ids)
    if not (_length(ev_time) == _length(ev_val) == n):
        raise ValueError("the `entity`, `time` and `value` columns of `events` must have the same length")
    id_kind = _id_kind(ev_ids, "entity", "events") if n else None
    t, kind = _times(ev_time, "time", "events")
    v = _values(ev_val, "value", "events")
    return ev_ids, id_kind, t, kind, v


def point_in_time_features(
    events: Any,
    queries: Any,
    *,
    entity: str = "entity",
    time: str = "time",
    value: str = "value",
    windows: Any = ("7D", "30D", "90D"),
    aggs: Iterable[str] = ("sum", "count"),
    closed: Literal["left", "both"] = "left",
    max_age: Any = None,
) -> pd.DataFrame:
    """Windowed aggregates of each entity's events as of each query's time, without leaking the future.

    For every query row (entity, as-of time q) and every window w, the aggregates of that entity's events with
    ``q - w <= time < q`` (``closed="left"``, the default: never an event at or after the as-of time) or
    ``q - w <= time <= q`` (``closed="both"``).  The window names follow pandas' ``rolling(closed=...)``: its
    start is inclusive.  Unlike a pandas ``merge_asof`` + ``rolling`` pipeline, every window and aggregate
    comes from one sorted pass over the events (O(events + queries) per window, no per-window copies), ties
    at the as-of time are handled by time, not by row order, and the output keeps the queries' row order.

    Parameters
    ----------
    events : pandas or polars DataFrame, or dict of 1-D arrays
        One row per event, in any order: `entity`, `time` and `value` columns.
    queries : pandas or polars DataFrame, or dict of 1-D arrays
        One row per (entity, as-of time), in any order; its `entity` and `time` columns.
    entity, time, value : str
        Column names.  Entity ids are strings or integers (the same kind in both frames); times are
        datetimes (datetime64, tz-aware converted to UTC) or numbers, the same kind in both frames; values
        are numbers.  NaT / NaN times and NaN values are refused.
    windows : duration or sequence of durations, default ("7D", "30D", "90D")
        Positive window lengths: pandas offset strings ("7D", "30min", "24h") or timedeltas for datetime
        times, numbers for numeric times.
    aggs : sequence of str, default ("sum", "count")
        Drawn from ``AGGREGATES``: "sum", "count", "mean", "min", "max", "last" (value of the latest event in
        the window) and "time_since_last" (as-of time minus the latest event's time in the window, a
        timedelta for datetime times).  An empty window gives sum 0, count 0 and NaN / NaT for the others.
    closed : {"left", "both"}
        "left" uses only events strictly before the as-of time; "both" also those at it.
    max_age : duration, optional
        Adds a boolean column ``stale``: True when the entity's latest event up to the as-of time (in any
        window, under `closed`) is older than `max_age`, or when there is none.

    Returns
    -------
    pandas.DataFrame
        Aligned with `queries` (same length and order, its index for pandas input), one column
        ``f"{value}_{agg}_{window}"`` per window and aggregate (window as given, e.g. ``value_sum_7D``; counts
        int64), plus ``stale`` when `max_age` is given.

    Notes
    -----
    Sums come from per-entity prefix sums: equal to summing the window's values up to rounding (relative
    error about 1e-16 times the entity's running total).  Min and max use monotone deques (exact).

    Examples
    --------
    >>> import pandas as pd, simengine
    >>> events = pd.DataFrame({
    ...     "entity": ["a", "a", "a", "b"],
    ...     "time": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-09", "2024-01-02"]),
    ...     "value": [10.0, 20.0, 5.0, 7.0]})
    >>> queries = pd.DataFrame({"entity": ["a", "b", "c"], "time": pd.to_datetime(["2024-01-09"] * 3)})
    >>> simengine.point_in_time_features(events, queries, windows=["7D"], aggs=["sum", "count", "mean"])
       value_sum_7D  value_count_7D  value_mean_7D
    0          20.0               1           20.0
    1           7.0               1            7.0
    2           0.0               0            NaN
    """
    check_choice(closed, "closed", _CLOSED)
    agg_list = _aggs(aggs)
    ev_ids, ev_id_kind, ev_t, kind, ev_v = _read_events(events, entity, time, value)
    q_ids = _column(queries, "queries", entity, "entity")
    q_time = _column(queries, "queries", time, "time")
    n_q = _length(q_ids)
    if _length(q_time) != n_q:
        raise ValueError("the `entity` and `time` columns of `queries` must have the same length")
    q_id_kind = _id_kind(q_ids, "entity", "queries") if n_q else None
    if ev_id_kind and q_id_kind and ev_id_kind != q_id_kind:
        raise TypeError(f"`entity` ids must be of one kind: {ev_id_kind} in `events`, {q_id_kind} in `queries`")
    q_t, q_kind = _times(q_time, "time", "queries")
    if _length(ev_t) and n_q and q_kind != kind:
        raise TypeError(f"`time` columns must be of one kind: {kind} in `events`, {q_kind} in `queries`")
    if not _length(ev_t):
        kind = q_kind
        ev_t = ev_t.astype(q_t.dtype)
    wins, labels = _windows(windows, kind)
    stale_after = None if max_age is None else _duration(max_age, kind, "max_age")[0]
    ev_keys, q_keys, low, n_entities = _entity_keys(ev_ids, q_ids)
    assert q_keys is not None
    frame, age = _window_table(ev_keys, q_keys, low, n_entities, ev_t, ev_v, q_t, kind, wins, labels, agg_list,
                               closed, value, _index_of(queries, n_q))
    if stale_after is not None:
        frame["stale"] = _stale(age, kind, stale_after)
    return frame


def session_features(
    events: Any,
    *,
    entity: str = "entity",
    time: str = "time",
    value: str = "value",
    window: Any = "30min",
    aggs: Iterable[str] = ("sum", "count"),
    closed: Literal["left", "both"] = "left",
) -> pd.DataFrame:
    """The aggregates of `point_in_time_features` evaluated at every event (rolling per entity).

    A real-time feature as a serving system would compute it when each event arrives: for event i of an
    entity at time t, the aggregates of that entity's events with ``t - window <= time < t`` (``closed="left"``:
    the event itself and any other event at the same time are left out) or ``<= t`` (``closed="both"``: the
    event and its ties are in).  Unlike pandas' ``groupby().rolling()``, which treats rows with equal
    timestamps by row order, equal times are treated alike, and no sorted copy is returned: the output keeps
    the events' row order.

    Parameters
    ----------
    events : pandas or polars DataFrame, or dict of 1-D arrays
        As for `point_in_time_features`.
    entity, time, value : str
        Column names.
    window : duration or sequence of durations, default "30min"
    aggs : sequence of str, default ("sum", "count")
        Drawn from ``AGGREGATES``.
    closed : {"left", "both"}

    Returns
    -------
    pandas.DataFrame
        Aligned with `events`, one column ``f"{value}_{agg}_{window}"`` per window and aggregate.

    Examples
    --------
    >>> import pandas as pd, simengine
    >>> clicks = pd.DataFrame({
    ...     "entity": ["u1", "u1", "u1", "u2"],
    ...     "time": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:20", "2024-01-01 11:00",
    ...                             "2024-01-01 10:05"]),
    ...     "value": [1.0, 2.0, 4.0, 8.0]})
    >>> simengine.session_features(clicks, closed="both")
       value_sum_30min  value_count_30min
    0              1.0                  1
    1              3.0                  2
    2              4.0                  1
    3              8.0                  1
    """
    check_choice(closed, "closed", _CLOSED)
    agg_list = _aggs(aggs)
    ev_ids, _, ev_t, kind, ev_v = _read_events(events, entity, time, value)
    wins, labels = _windows(window, kind, "window")
    ev_keys, _, low, n_entities = _entity_keys(ev_ids, None)
    frame, _ = _window_table(ev_keys, ev_keys, low, n_entities, ev_t, ev_v, ev_t, kind, wins, labels, agg_list,
                             closed, value, _index_of(events, _length(ev_t)))
    return frame


# ------------------------------------------------------------------------------------------ freshness


def freshness(updated_at: Any, *, now: Any, max_age: Any = "24h") -> pd.DataFrame:
    """Age and stale flag of each feature's last update, vectorised over features and entities.

    Unlike a per-feature loop over timestamps, one array operation covers every (entity, feature) cell.
    A cell never updated (NaT / NaN) has a missing age and counts as stale; a cell updated after `now`
    (clock skew) has a negative age and is not stale.

    Parameters
    ----------
    updated_at : pandas Series or DataFrame, dict, or 1-D array of times
        Last update time per feature (Series / dict keyed by feature, or an array), or a DataFrame with one
        row per entity and one column per feature.  Times are datetimes or numbers.
    now : datetime-like or number
        The time the report is made (same kind as the times).
    max_age : duration, default "24h"
        Older updates are stale (``age > max_age``).

    Returns
    -------
    pandas.DataFrame
        Columns ``updated_at``, ``age`` and ``stale``; indexed like the Series / dict / array, or by
        (row, feature) for a DataFrame (one row per cell).

    Examples
    --------
    >>> import pandas as pd, simengine
    >>> last = pd.Series(pd.to_datetime(["2024-01-09 20:00", "2024-01-08 06:00"]), index=["spend_7d", "clicks_1h"])
    >>> simengine.freshness(last, now=pd.Timestamp("2024-01-10"))
                         updated_at             age  stale
    spend_7d  2024-01-09 20:00:00 0 days 04:00:00  False
    clicks_1h 2024-01-08 06:00:00 1 days 18:00:00   True
    """
    import pandas as pd

    if isinstance(updated_at, pd.DataFrame):
        series = updated_at.stack(future_stack=True) if updated_at.shape[1] else pd.Series([], dtype=float)
    elif isinstance(updated_at, pd.Series):
        series = updated_at
    elif isinstance(updated_at, Mapping):
        series = pd.Series(dict(updated_at))
    else:
        try:
            arr = np.asarray(updated_at)
        except (TypeError, ValueError):
            raise ValueError(f"`updated_at` must be 1-D (or a DataFrame); got {_describe(updated_at)}") from None
        if arr.ndim != 1:
            raise ValueError(f"`updated_at` must be 1-D (or a DataFrame); got shape {arr.shape}")
        series = pd.Series(arr)
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or (
            series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in ("datetime", "date")):
        try:
            stamps = pd.to_datetime(series)
        except (TypeError, ValueError):
            raise TypeError("`updated_at` must hold datetimes or numbers") from None
        if isinstance(stamps.dtype, pd.DatetimeTZDtype):
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        times = stamps.to_numpy().astype("datetime64[ns]")
        try:
            moment = pd.Timestamp(now)
        except (TypeError, ValueError):
            raise TypeError(f"`now` must be a datetime when `updated_at` holds datetimes; got {_describe(now)}") \
                from None
        if pd.isna(moment):
            raise ValueError("`now` must not be NaT")
        if moment.tzinfo is not None:
            moment = moment.tz_convert("UTC").tz_localize(None)
        limit, _ = _duration(max_age, "datetime", "max_age")
        age = np.datetime64(moment.as_unit("ns").to_datetime64(), "ns") - times
        ages = age.view(np.int64)
        stale = (ages == _NAT) | (ages > limit)
        return pd.DataFrame({"updated_at": times, "age": age, "stale": stale}, index=series.index)
    if not (pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)):
        raise TypeError(f"`updated_at` must hold datetimes or numbers; got dtype {series.dtype}")
    if isinstance(now, bool) or not isinstance(now, numbers.Real) or not np.isfinite(float(now)):
        raise TypeError(f"`now` must be a finite number when `updated_at` holds numbers; got {_describe(now)}")
    limit, _ = _duration(max_age, "numeric", "max_age")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    age_num = float(now) - values
    return pd.DataFrame({"updated_at": values, "age": age_num, "stale": np.isnan(age_num) | (age_num > limit)},
                        index=series.index)


# ------------------------------------------------------------------------------------------ skew


def _feature_columns(frame: Any, name: str) -> dict[str, np.ndarray]:
    import pandas as pd

    if isinstance(frame, pd.Series) or (isinstance(frame, np.ndarray) and frame.ndim == 1) or (
            hasattr(frame, "to_numpy") and not hasattr(frame, "columns") and not _is_pandas(frame)):
        label = getattr(frame, "name", None)
        return {str(label) if label is not None else "x": _numeric_feature(frame, name, "")}
    if isinstance(frame, (list, tuple)):
        return {"x": _numeric_feature(frame, name, "")}
    cols = _columns_of(frame, name)
    return {c: _numeric_feature(frame[c], name, f" column {c!r}") for c in cols}


def _numeric_feature(values: Any, name: str, column: str) -> np.ndarray:
    import pandas as pd

    if _is_pandas(values):
        if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
            raise TypeError(f"`{name}`{column} must be numeric; got dtype {values.dtype}")
        out: np.ndarray = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return out
    try:
        arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    except (TypeError, ValueError):
        arr = np.empty((0, 0))
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}`{column} must be a 1-D numeric column; got {_describe(values)}")
    return arr.astype(np.float64)


def skew_report(
    training: Any,
    serving: Any,
    *,
    bins: int = 10,
    binning: Literal["quantile", "equal-width"] = "quantile",
) -> pd.DataFrame:
    """Training-serving skew per feature: PSI, two-sample KS, mean shift, std ratio and a flag.

    PSI is `simengine.psi` (edges from the training sample under ``binning="quantile"``); the KS statistic
    and p-value are scipy's ``ks_2samp`` (two-sided, ``method="auto"``), not re-derived.  Two versions of one
    feature (v1 vs v2) are compared the same way: pass them as `training` and `serving`.

    Parameters
    ----------
    training, serving : pandas or polars DataFrame, dict of 1-D arrays, or one 1-D column
        The same feature columns on both sides (row counts may differ).  NaN values are left out per
        feature (inf is refused by `psi`).  A single Series / array is one feature, named by the training
        Series' name (else "x").
    bins : int, default 10
        Number of PSI bins.
    binning : {"quantile", "equal-width"}
        Passed to `simengine.psi`.

    Returns
    -------
    pandas.DataFrame
        Indexed by feature: ``psi``, ``ks_statistic``, ``ks_pvalue``, ``mean_shift`` (mean(serving) -
        mean(training)), ``std_ratio`` (std(serving) / std(training), ddof=1) and ``flag``.  ``flag`` is True
        when ``psi > 0.2`` (the usual "significant shift" rule) or when ``ks_pvalue < 0.01`` and
        ``ks_statistic > 0.1`` (a shift KS detects that is not a mere large-sample artefact).

    Examples
    --------
    >>> import numpy as np, pandas as pd, simengine
    >>> g = np.random.default_rng(0)
    >>> train = pd.DataFrame({"spend": g.normal(50, 10, 2000), "visits": g.poisson(3, 2000)})
    >>> serve = pd.DataFrame({"spend": g.normal(55, 10, 1000), "visits": g.poisson(3, 1000)})
    >>> simengine.skew_report(train, serve).round(3)
              psi  ks_statistic  ks_pvalue  mean_shift  std_ratio   flag
    spend   0.253         0.208       0.00       5.130      1.001   True
    visits  0.005         0.023       0.87       0.054      1.014  False
    """
    import pandas as pd
    from scipy import stats

    from simengine.drift import psi

    check_choice(binning, "binning", ("quantile", "equal-width"))
    train = _feature_columns(training, "training")
    serve = _feature_columns(serving, "serving")
    if len(train) == 1 and len(serve) == 1 and set(train) != set(serve):
        serve = {next(iter(train)): next(iter(serve.values()))}  # v1 vs v2 of one feature
    missing = [c for c in train if c not in serve]
    extra = [c for c in serve if c not in train]
    if missing or extra:
        raise ValueError(f"`training` and `serving` must have the same feature columns; only in training: "
                         f"{missing}, only in serving: {extra}")
    rows = []
    for name, x in train.items():
        y = serve[name]
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]
        if x.shape[0] < 2 or y.shape[0] < 2:
            raise ValueError(f"feature {name!r} needs at least 2 non-NaN values in `training` and `serving`")
        p = float(psi(x, y, bins=bins, binning=binning))
        ks = stats.ks_2samp(x, y)
        rows.append((name, p, float(ks.statistic), float(ks.pvalue), float(y.mean() - x.mean()),
                     float(y.std(ddof=1) / x.std(ddof=1))))
    table = pd.DataFrame(rows, columns=["feature", "psi", "ks_statistic", "ks_pvalue", "mean_shift", "std_ratio"])
    table = table.set_index("feature")
    table.index.name = None
    table["flag"] = (table["psi"] > 0.2) | ((table["ks_pvalue"] < 0.01) & (table["ks_statistic"] > 0.1))
    return table
