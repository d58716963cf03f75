"""Serving simulation: load tests of a model server, token-bucket rate limiting, sliding-window metrics and
input gates (issue 18).  The public layer validates and wraps; the kernels live in `simengine.kernels.serving`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from simengine import _rng
from simengine._long import asarray, check_progress, contiguous, joined, run_blocks
from simengine._results import MEAN, MonteCarloResult, Result, proportion_se
from simengine._typing import ArrayLike, Progress, SeedLike
from simengine._validate import (
    MAX_COUNT,
    as_float_array,
    as_int_array,
    check_int,
    check_memory,
    check_real,
    check_work,
)
from simengine.kernels import serving as _k

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__: list[str] = [
    # recorded traffic and input gates
    "token_bucket", "TokenBucketResult", "window_metrics", "WindowMetricsResult",
    "zscore_gate", "ZscoreGateResult", "simulate_gate", "SimulateGateResult",
]

# --- load tests (simulate_load_test, TokenBucket) ---

# --- recorded traffic (token_bucket, window_metrics) and input gates (zscore_gate, simulate_gate) ---

_TB_BLOCK = 1 << 16  # requests per block of the token-bucket scan (slices are whole blocks)
_WM_BLOCK = 1 << 15  # evaluation times per block of the window scan
_ZS_VALUES = 1 << 16  # values (rows x features) per block of the z-score gate
# An integer id range up to this many times the number of requests (plus a floor) is factorised by a lookup
# table (O(n)); a sparser range by a sort.
_DENSE_IDS = 4
_DENSE_FLOOR = 1 << 20


def _times(value: ArrayLike, name: str) -> npt.NDArray[np.float64]:
    """Sorted (non-decreasing) finite float64 seconds, 1-D, non-empty."""
    arr = as_float_array(value, name, ndim=1)
    bad = _k._first_decrease(arr)
    if bad >= 0:
        raise ValueError(f"`{name}` must be sorted in non-decreasing order; element {bad} ({arr[bad]:g}) comes "
                         f"after {arr[bad - 1]:g}")
    return arr


def _factorise(
    clients: ArrayLike | None, n: int
) -> tuple[npt.NDArray[np.int64], np.ndarray, npt.NDArray[np.int64]]:
    """(codes int64 per request, labels, requests per label) of integer or string client ids, numbered in
    sorted id order."""
    if clients is None:
        return np.zeros(n, dtype=np.int64), np.zeros(1, dtype=np.int64), np.array([n], dtype=np.int64)
    if isinstance(clients, (str, bytes)):
        raise TypeError("`clients` must be a 1-D array of integer or string ids (one per request); got a string")
    try:
        arr = asarray(clients)
    except (ValueError, TypeError):
        raise TypeError("`clients` must be a 1-D array of integer or string ids; got a ragged sequence") from None
    if arr.ndim != 1:
        raise ValueError(f"`clients` must be 1-D (one id per request); got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"`clients` must have one id per request ({n}); got {arr.shape[0]}")
    if arr.dtype == object:
        if all(isinstance(v, str) for v in arr.tolist()):
            arr = arr.astype(str)
        else:
            raise TypeError("`clients` must hold integer or string ids; got a mix or other objects")
    kind = arr.dtype.kind
    if kind in "US":
        labels, codes, totals = np.unique(arr, return_inverse=True, return_counts=True)
        return np.ascontiguousarray(codes.reshape(-1), dtype=np.int64), labels, totals.astype(np.int64)
    if kind not in "iu":
        raise TypeError(f"`clients` must hold integer or string ids; got dtype {arr.dtype}")
    if kind == "u" and arr.max() > np.iinfo(np.int64).max:
        raise ValueError("`clients` integer ids must be below 2**63")
    ids = contiguous(arr, np.int64)
    low, high = int(ids.min()), int(ids.max())
    span = high - low + 1
    if span <= _DENSE_IDS * n + _DENSE_FLOOR:
        dense_codes, dense_labels, totals = _k._dense_codes(ids, low, span)
        return dense_codes, dense_labels, totals
    labels, codes, totals = np.unique(ids, return_inverse=True, return_counts=True)
    return np.ascontiguousarray(codes.reshape(-1), dtype=np.int64), labels, totals.astype(np.int64)


@dataclass(frozen=True, slots=True)
class TokenBucketResult(Result):
    """Which recorded requests a per-client token bucket admits.

    Attributes
    ----------
    allowed : ndarray of bool
        Per request (in the order given): True if admitted.
    clients : ndarray
        The distinct client ids, sorted (integers or strings as given; ``[0]`` without `clients`).
    n_allowed, n_rejected : ndarray of int64
        Per client (aligned with `clients`): requests admitted and rejected.
    capacity, refill_per_second, cost : float
        The bucket as used.
    """

    allowed: npt.NDArray[np.bool_] = field(repr=False)
    clients: np.ndarray
    n_allowed: npt.NDArray[np.int64]
    n_rejected: npt.NDArray[np.int64]
    capacity: float
    refill_per_second: float
    cost: float

    def to_frame(self) -> pd.DataFrame:
        """One row per client: client, n_allowed, n_rejected (the per-request `allowed` is left to `to_dict`)."""
        import pandas as pd

        return pd.DataFrame({"client": self.clients, "n_allowed": self.n_allowed, "n_rejected": self.n_rejected})


def token_bucket(
    timestamps: ArrayLike,
    clients: ArrayLike | None = None,
    *,
    capacity: float,
    refill_per_second: float,
    cost: float = 1.0,
) -> TokenBucketResult:
    """Replay recorded requests through a token bucket per client: which are admitted, and counts per client.

    The batch, exact version of the per-client rate limiter of a model server (there is no scipy or
    statsmodels counterpart): every client's bucket starts full with `capacity` tokens and refills
    continuously at `refill_per_second` up to `capacity`; a request at time t first refills its client's
    bucket for the time since that client's previous request, then is admitted iff the bucket holds at least
    `cost` tokens, which it takes.  A rejected request takes nothing (it is refused, not queued).  Requests
    with equal timestamps are served in the order given.

    Parameters
    ----------
    timestamps : array_like of float, 1-D
        Request times in seconds, sorted in non-decreasing order (finite).
    clients : array_like of int or str, optional
        One client id per request (integers or strings); None: one client.  Ids are factorised once (a
        lookup table for integer ids in a compact range, a sort otherwise).
    capacity : float > 0
        Bucket size in tokens (the burst a fresh client may send).
    refill_per_second : float >= 0
        Tokens added per second (e.g. ``100 / 60`` for 100 requests a minute); 0: a fixed budget.
    cost : float > 0, default 1.0
        Tokens one request takes.

    Returns
    -------
    TokenBucketResult

    Notes
    -----
    Over any interval of length L a client is admitted at most ``(capacity + refill_per_second * L) / cost``
    requests (tested).  Long inputs run in slices of requests with the buckets carried across, so Ctrl-C
    answers within about a quarter of a second; slicing never changes the result.

    Examples
    --------
    >>> import numpy as np, simengine
    >>> t = np.zeros(120)                          # a burst of 120 requests at once
    >>> res = simengine.token_bucket(t, capacity=100, refill_per_second=100 / 60)
    >>> int(res.allowed.sum()), int(res.n_rejected[0])
    (100, 20)
    """
    t = _times(timestamps, "timestamps")
    capacity = check_real(capacity, "capacity", low=0.0, low_inclusive=False)
    refill = check_real(refill_per_second, "refill_per_second", low=0.0)
    cost = check_real(cost, "cost", low=0.0, low_inclusive=False)
    n = t.shape[0]
    codes, labels, n_total = _factorise(clients, n)
    k = labels.shape[0]
    check_memory(16 * k + 9 * n, "`clients`", what="the buckets and the per-request results")
    state = np.empty((k, _k.BUCKET_STATE))
    state[:, 0] = capacity
    state[:, 1] = -np.inf
    allowed = np.empty(n, dtype=np.bool_)
    n_allowed = np.zeros(k, dtype=np.int64)

    def call(lo: int, hi: int) -> None:
        _k._token_bucket_scan(t, codes, state, capacity, refill, cost, lo * _TB_BLOCK, min(n, hi * _TB_BLOCK),
                              allowed, n_allowed)

    run_blocks(call, -(-n // _TB_BLOCK), progress=False, desc="token_bucket", dispatchers=(_k._token_bucket_scan,),
               first=16)
    return TokenBucketResult(allowed, labels, n_allowed, n_total - n_allowed, capacity, refill, cost)


def _as_errors(errors: ArrayLike, n: int) -> npt.NDArray[np.uint8]:
    if isinstance(errors, (str, bytes)):
        raise TypeError("`errors` must be array-like of 0/1 (or bool) values; got a string")
    try:
        arr = asarray(errors)
    except (ValueError, TypeError):
        raise TypeError("`errors` must be array-like of 0/1 values; got a ragged or mixed sequence") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"`errors` must contain 0/1 (or bool) values; got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"`errors` must be 1-D with one value per request ({n}); got shape {arr.shape}")
    if arr.dtype.kind != "b" and not ((arr == 0) | (arr == 1)).all():
        raise ValueError("`errors` must be binary (0 = success, 1 = error); got other values")
    return contiguous(arr != 0 if arr.dtype.kind != "b" else arr, np.uint8)


def _as_quantiles(quantiles: ArrayLike) -> npt.NDArray[np.float64]:
    if isinstance(quantiles, (str, bytes)):
        raise TypeError("`quantiles` must be a sequence of probabilities in [0, 1]; got a string")
    q = as_float_array(quantiles, "quantiles", ndim=(0, 1), allow_empty=True).reshape(-1)
    if q.size and (q.min() < 0.0 or q.max() > 1.0):
        raise ValueError(f"`quantiles` must be in [0, 1]; got {q.tolist()}")
    return q


@dataclass(frozen=True, slots=True)
class WindowMetricsResult(Result):
    """What a sliding-window ``/metrics`` collector reports at each evaluation time.

    Attributes
    ----------
    times : ndarray of float
        The evaluation times (the request times, or `at`).
    count : ndarray of int64
        Requests in the window (t - window_seconds, t] at each time.
    error_rate : ndarray of float or None
        Errors / requests in the window (nan for an empty window); None without `errors`.
    mean_latency : ndarray of float
        Mean latency of the window (nan when empty).
    latency_quantiles : ndarray of float, shape (times, quantiles)
        NumPy's default ("linear") quantiles of the window's latencies (nan when empty).
    quantiles : tuple of float
    window_seconds : float
    """

    times: npt.NDArray[np.float64] = field(repr=False)
    count: npt.NDArray[np.int64] = field(repr=False)
    error_rate: npt.NDArray[np.float64] | None = field(repr=False)
    mean_latency: npt.NDArray[np.float64] = field(repr=False)
    latency_quantiles: npt.NDArray[np.float64] = field(repr=False)
    quantiles: tuple[float, ...]
    window_seconds: float

    def to_frame(self) -> pd.DataFrame:
        """One row per evaluation time: time, count, error_rate, mean_latency and one column per quantile."""
        import pandas as pd

        cols: dict[str, Any] = {"time": self.times, "count": self.count}
        if self.error_rate is not None:
            cols["error_rate"] = self.error_rate
        cols["mean_latency"] = self.mean_latency
        for k, q in enumerate(self.quantiles):
            cols[f"latency_q{q:g}"] = self.latency_quantiles[:, k]
        return pd.DataFrame(cols)


def window_metrics(
    timestamps: ArrayLike,
    latencies: ArrayLike,
    errors: ArrayLike | None = None,
    *,
    window_seconds: float = 60.0,
    quantiles: ArrayLike = (0.5, 0.95, 0.99),
    at: ArrayLike | None = None,
) -> WindowMetricsResult:
    """Sliding-window request count, error rate, mean and quantile latency over recorded traffic, in one pass.

    What a ``/metrics`` endpoint with a `window_seconds` window reports, evaluated at every request (or at the
    times `at`); there is no scipy or statsmodels counterpart.  The window at time s holds the requests with
    ``s - window_seconds < t_i <= s`` (the comparison made in float64 as written): a request exactly
    `window_seconds` old has left, and every request stamped s itself is in, including those given after the
    one evaluated (ties count as one moment).  Counts and quantiles are exact: equal to filtering the
    requests at each time and calling ``np.quantile`` (its default, "linear", method) on them, bit for bit
    (up to the sign of a zero latency, which NumPy takes from whichever equal value its partition puts first);
    the mean is a compensated running sum, equal to ``np.mean`` of the window within a few ulps.

    Parameters
    ----------
    timestamps : array_like of float, 1-D
        Request times in seconds, sorted in non-decreasing order (finite).
    latencies : array_like of float, 1-D
        Latency of each request (finite; any unit).
    errors : array_like of 0/1 or bool, optional
        1 = the request failed.  Without it `error_rate` is None.
    window_seconds : float > 0, default 60
    quantiles : sequence of float in [0, 1], default (0.5, 0.95, 0.99)
        Latency quantiles to report; ``()`` skips them (the fast path: one O(n) pass).
    at : array_like of float, optional
        Sorted evaluation times (finite; any values, not only request times); default: every request's
        timestamp.

    Returns
    -------
    WindowMetricsResult

    Notes
    -----
    Cost: count, error rate and mean are one pass over the requests with two pointers (O(n + len(at))).
    Exact window quantiles keep the window's latencies as a bitset of their ranks in one stable sort of all
    latencies (an LSD radix sort), with a Fenwick tree over blocks of 512 ranks: O(n) for the sort, O(log n)
    per request entering or leaving and per quantile read.  The issue's target (10^7 requests within 5x of
    reading the inputs once, ~7 ms here) is NOT met: measured in CPU time on the 2-core CI-like box, the
    quantile-free call (``quantiles=()``) takes ~0.3 s (~40x: the pointer walk is a serial, branchy loop of
    ~20-30 ns a request against ~1 ns a request for a vectorised read) and the default call (p50/p95/p99 at
    every request) ~6.5 s (~850x: ~1.2 s sort; the rest is mostly memory latency, as every quantile read
    fetches its order statistics from the n sorted latencies, far apart in memory, and every request entering
    or leaving updates the rank bitset and tree).  Evaluating at fewer times
    (`at`) cuts the quantile reads, not the sort.  Long inputs run in slices of evaluation times (Ctrl-C
    answered between them); the sort is one piece (about a second for 10^7 latencies).

    Examples
    --------
    >>> import numpy as np, simengine
    >>> t = np.array([0.0, 10.0, 30.0, 70.0, 75.0])
    >>> lat = np.array([0.1, 0.3, 0.2, 0.5, 0.4])
    >>> res = simengine.window_metrics(t, lat, [0, 1, 0, 0, 0], quantiles=(0.5,))
    >>> res.count.tolist(), res.error_rate.tolist()
    ([1, 2, 3, 2, 3], [0.0, 0.5, 0.3333333333333333, 0.0, 0.0])
    >>> res.latency_quantiles[:, 0].tolist()
    [0.1, 0.2, 0.2, 0.35, 0.4]
    """
    t = _times(timestamps, "timestamps")
    n = t.shape[0]
    lat = as_float_array(latencies, "latencies", ndim=1)
    if lat.shape[0] != n:
        raise ValueError(f"`latencies` must have one value per request ({n}); got {lat.shape[0]}")
    err = np.empty(0, dtype=np.uint8) if errors is None else _as_errors(errors, n)
    w = check_real(window_seconds, "window_seconds", low=0.0, low_inclusive=False)
    qs = _as_quantiles(quantiles)
    times = t if at is None else _times(at, "at")
    m = times.shape[0]
    nq = qs.shape[0]
    # outputs, and with quantiles the radix sort's keys and indices (twice), ranks, sorted latencies, bitset
    check_memory(8 * m * (3 + nq) + (41 * n if nq else 0), "`timestamps` and `at`", what="the window metrics")
    if nq:
        rank, sorted_lat = _k._latency_ranks(lat, lat.view(np.uint64))
        n_words = (n + 63) // 64
        words = np.zeros(n_words, dtype=np.uint64)
        n_blocks = -(-n_words // _k.RANK_BLOCK_WORDS)
        words = np.zeros(n_blocks * _k.RANK_BLOCK_WORDS, dtype=np.uint64)  # whole blocks: no bounds in the walk
        tree = np.zeros(n_blocks + 1, dtype=np.int32)
        top = 1 << (n_blocks.bit_length() - 1)
    else:
        rank, sorted_lat, words, tree, top = (np.empty(0, np.int64), np.empty(0), np.empty(0, np.uint64),
                                              np.empty(0, np.int32), 0)
    ptr = np.zeros(3, dtype=np.int64)
    acc = np.zeros(2)
    count = np.empty(m, dtype=np.int64)
    n_err = np.empty(m, dtype=np.int64)
    mean = np.empty(m)
    qout = np.empty((m, nq))

    def call(lo: int, hi: int) -> None:
        _k._window_scan(t, lat, err, times, w, qs, rank, sorted_lat, words, tree, top, ptr, acc, lo * _WM_BLOCK,
                        min(m, hi * _WM_BLOCK), count, n_err, mean, qout)

    run_blocks(call, -(-m // _WM_BLOCK), progress=False, desc="window_metrics", dispatchers=(_k._window_scan,),
               first=8)
    error_rate = None
    if errors is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            error_rate = n_err / count
    return WindowMetricsResult(times, count, error_rate, mean, qout, tuple(float(q) for q in qs), w)


@dataclass(frozen=True, slots=True)
class ZscoreGateResult(Result):
    """Which rows and features of a batch a z-score input gate rejects.

    Attributes
    ----------
    rejected : ndarray of bool
        Per row: some feature exceeds the threshold.
    exceeded : ndarray of bool, shape (rows, features)
        |z| > threshold, or z not finite (NaN or inf in the data fails the gate).
    z : ndarray of float, shape (rows, features)
        (X - mean) / std.
    n_rejected : int
    rejection_rate : float
        n_rejected / rows.
    n_exceeded_by_feature : ndarray of int64
        Per feature: rows where it exceeds.
    threshold : float
    """

    rejected: npt.NDArray[np.bool_] = field(repr=False)
    exceeded: npt.NDArray[np.bool_] = field(repr=False)
    z: npt.NDArray[np.float64] = field(repr=False)
    n_rejected: int
    rejection_rate: float
    n_exceeded_by_feature: npt.NDArray[np.int64]
    threshold: float

    def to_frame(self) -> pd.DataFrame:
        """One row per input row: rejected, number of features exceeded, largest |z|."""
        import pandas as pd

        with np.errstate(invalid="ignore"):
            top = np.abs(self.z).max(axis=1) if self.z.shape[1] else np.zeros(self.z.shape[0])
        return pd.DataFrame({"rejected": self.rejected, "n_exceeded": self.exceeded.sum(axis=1),
                             "max_abs_z": top})


def _feature_vector(value: ArrayLike, name: str, d: int, positive: bool = False) -> npt.NDArray[np.float64]:
    arr = as_float_array(value, name, ndim=(0, 1))
    if arr.ndim == 1 and arr.shape[0] != d:
        raise ValueError(f"`{name}` must be a scalar or have one value per feature ({d}); got {arr.shape[0]}")
    if positive and (arr <= 0).any():
        raise ValueError(f"`{name}` must be > 0 (a training standard deviation); got {float(arr.min()):g}")
    return np.ascontiguousarray(np.broadcast_to(arr, (d,)), dtype=np.float64)


def zscore_gate(X: ArrayLike, mean: ArrayLike, std: ArrayLike, *, threshold: float = 10.0) -> ZscoreGateResult:
    """A z-score input gate on a batch: which rows and which features lie more than `threshold` training
    standard deviations from the training mean, with their z-scores.

    Like ``scipy.stats.zscore`` but against given training statistics (`mean`, `std`) instead of the batch's
    own, and with the gate's decision attached: a feature exceeds when ``|z| > threshold`` (strictly) or z is
    not finite (a NaN or inf in `X` fails the gate rather than passing silently); a row is rejected when any
    of its features exceeds.

    Parameters
    ----------
    X : array_like of float
        2-D (rows x features), or 1-D for one row.  NaN and inf are allowed and fail the gate.
    mean, std : float or array_like of float, 1-D
        Training mean and standard deviation per feature (scalars apply to every feature); finite, std > 0.
    threshold : float > 0, default 10.0
        The notebook's gate rejects features more than 10 standard deviations away.

    Returns
    -------
    ZscoreGateResult

    Examples
    --------
    >>> import numpy as np, simengine
    >>> X = np.array([[0.5, 1.0], [0.2, 40.0], [np.nan, 0.0]])
    >>> res = simengine.zscore_gate(X, mean=[0.0, 0.0], std=[1.0, 2.0])
    >>> res.rejected.tolist(), res.n_exceeded_by_feature.tolist()
    ([False, True, True], [1, 1])
    """
    arr = as_float_array(X, "X", ndim=(1, 2), finite=False)
    x2 = arr.reshape(1, -1) if arr.ndim == 1 else arr
    n, d = x2.shape
    mu = _feature_vector(mean, "mean", d)
    sd = _feature_vector(std, "std", d, positive=True)
    threshold = check_real(threshold, "threshold", low=0.0, low_inclusive=False)
    check_memory(9 * x2.size, "`X`", what="the z-scores")
    z = np.empty((n, d))
    exceeded = np.empty((n, d), dtype=np.bool_)
    rejected = np.empty(n, dtype=np.bool_)
    by_feature = np.zeros(d, dtype=np.int64)
    rows = max(1, _ZS_VALUES // d)  # rows per block

    def call(lo: int, hi: int) -> None:
        _k._zscore_rows(x2, mu, sd, threshold, lo * rows, min(n, hi * rows), z, exceeded, rejected, by_feature)

    run_blocks(call, -(-n // rows), progress=False, desc="zscore_gate", dispatchers=(_k._zscore_rows,), first=16)
    n_rejected = int(rejected.sum())
    return ZscoreGateResult(rejected, exceeded, z, n_rejected, n_rejected / n, by_feature, threshold)


def _norm_sf(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def _gate_exact(threshold: float, shift: npt.NDArray[np.float64]) -> float:
    """P(a row is rejected): 1 - prod_j (1 - P(|Z + shift_j| > threshold)), Z standard normal."""
    log_pass = 0.0
    for s in shift.tolist():
        p = _norm_sf(threshold - s) + _norm_sf(threshold + s)
        log_pass += math.log1p(-min(p, 1.0)) if p < 1.0 else -math.inf
    return -math.expm1(log_pass)


@dataclass(frozen=True, slots=True)
class SimulateGateResult(MonteCarloResult):
    """Simulated rejection rate of a z-score input gate on clean and on shifted traffic.

    Attributes
    ----------
    clean_rejection_rate, clean_rejection_rate_se : float
        Fraction of clean rows (every feature standard normal, i.e. distributed as in training) rejected,
        and its binomial SE over the ``n_sims * n_rows`` independent rows.
    shifted_rejection_rate, shifted_rejection_rate_se : float
        The same for shifted rows (feature j shifted by ``shift[j]`` training SDs).
    clean_rejection_rate_exact, shifted_rejection_rate_exact : float
        The closed forms ``1 - prod_j (1 - P(|Z + shift_j| > threshold))`` (clean: all shifts 0).
    n_features : int
    threshold : float
    shift : ndarray of float
        Shift of each feature in shifted traffic, in training SDs.
    n_rows, n_sims : int
        Rows of each kind per run, runs.
    """

    _estimates = {"clean_rejection_rate": MEAN, "shifted_rejection_rate": MEAN}
    _replicates = "n_sims"
    _chunk_size = None

    clean_rejection_rate: float
    clean_rejection_rate_se: float
    shifted_rejection_rate: float
    shifted_rejection_rate_se: float
    clean_rejection_rate_exact: float
    shifted_rejection_rate_exact: float
    n_features: int
    threshold: float
    shift: npt.NDArray[np.float64] = field(repr=False)
    n_rows: int
    n_sims: int


def simulate_gate(
    *,
    n_features: int = 10,
    threshold: float = 10.0,
    shift: float | ArrayLike = 0.0,
    shifted_features: ArrayLike | None = None,
    n_rows: int = 10_000,
    n_sims: int = 100,
    rng: SeedLike = None,
    progress: Progress = None,
) -> SimulateGateResult:
    """Monte Carlo rejection rate of `zscore_gate` on clean and on shifted traffic.

    No scipy/statsmodels counterpart.  Each of `n_sims` runs sends `n_rows` clean rows (every feature an
    independent standard normal: the training distribution, so z = x) and `n_rows` shifted rows (feature j
    plus ``shift[j]`` training SDs) through the gate at `threshold`; the result is the fraction of rows
    rejected of each kind, with binomial standard errors, next to the closed forms (clean traffic rejects a
    row with P = 1 - (1 - 2 Phi(-threshold))^n_features).  Rows are drawn in the kernel and never stored.

    Parameters
    ----------
    n_features : int in [1, 10**6], default 10
    threshold : float > 0, default 10.0
    shift : float or array_like of float, default 0.0
        A scalar: the shift (in training SDs) of the features in `shifted_features`; an array: the shift of
        every feature (length `n_features`; `shifted_features` must then be None).
    shifted_features : sequence of int, optional
        Indices of the features a scalar `shift` applies to; None: all of them.
    n_rows : int in [1, 10**9], default 10_000
    n_sims : int in [1, 10**9], default 100
        ``2 * n_sims * n_rows * n_features`` normal draws may not exceed 10**12.
    rng : None, int, SeedSequence or Generator
    progress : None, True or False
        A progress bar (None: only for long calls on a terminal); Ctrl-C stops within about a quarter of a
        second or one block of 4 runs.

    Returns
    -------
    SimulateGateResult

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_gate(n_features=5, threshold=2.5, shift=1.0, shifted_features=[0],
    ...                               n_rows=1000, n_sims=20, rng=0)
    >>> abs(res.clean_rejection_rate - res.clean_rejection_rate_exact) < 4 * res.clean_rejection_rate_se
    True
    >>> res.shifted_rejection_rate > res.clean_rejection_rate
    True
    """
    d = check_int(n_features, "n_features", minimum=1, maximum=10**6)
    threshold = check_real(threshold, "threshold", low=0.0, low_inclusive=False)
    if isinstance(shift, (str, bytes)):
        raise TypeError("`shift` must be a real number or an array of one per feature; got a string")
    shift_arr = as_float_array(shift, "shift", ndim=(0, 1))
    if shift_arr.ndim == 1:
        if shifted_features is not None:
            raise ValueError("`shifted_features` only applies to a scalar `shift`; an array `shift` already gives "
                             "every feature's shift")
        if shift_arr.shape[0] != d:
            raise ValueError(f"`shift` as an array must have one value per feature ({d}); got {shift_arr.shape[0]}")
        shifts = np.ascontiguousarray(shift_arr, dtype=np.float64)
    else:
        value = float(shift_arr)
        shifts = np.zeros(d)
        if shifted_features is None:
            shifts[:] = value
        else:
            if isinstance(shifted_features, (str, bytes)):
                raise TypeError("`shifted_features` must be a sequence of feature indices; got a string")
            idx = as_int_array(shifted_features, "shifted_features", ndim=(0, 1)).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= d):
                raise ValueError(f"`shifted_features` must be feature indices in [0, {d - 1}]; got {idx.tolist()}")
            shifts[idx] = value
    n_rows = check_int(n_rows, "n_rows", minimum=1, maximum=MAX_COUNT)
    n_sims = check_int(n_sims, "n_sims", minimum=1, maximum=MAX_COUNT)
    check_work(2 * n_sims * n_rows * d, "`n_sims` x `n_rows` x `n_features`", unit="normal draws")
    check_memory(64 * n_sims, "`n_sims`", what="the per-run counts and block generators")
    progress = check_progress(progress)
    ss = _rng.as_seed_sequence(rng)

    def call(lo: int, hi: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        gens = _rng.slice_generators(ss, lo, hi)
        size = min(n_sims, hi * _k.GATE_BLOCK) - lo * _k.GATE_BLOCK
        clean, shifted = np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64)
        _k._simulate_gate(gens, n_sims, n_rows, shifts, threshold, lo, clean, shifted)
        return clean, shifted

    import numba

    per_block = 2 * _k.GATE_BLOCK * n_rows * d  # draws of one block, ~5-10 ns each
    first = max(1, 2_000_000 // per_block) * max(1, numba.get_num_threads())
    parts = run_blocks(call, _rng.n_blocks(n_sims, _k.GATE_BLOCK), progress=progress, desc="simulate_gate",
                       dispatchers=(_k._simulate_gate,), first=first)
    total = n_sims * n_rows
    p_clean = float(joined([c for c, _ in parts]).sum()) / total
    p_shift = float(joined([s for _, s in parts]).sum()) / total
    return SimulateGateResult(
        p_clean, float(proportion_se(p_clean, total)), p_shift, float(proportion_se(p_shift, total)),
        _gate_exact(threshold, np.zeros(d)), _gate_exact(threshold, shifts), d, threshold, shifts, n_rows, n_sims,
    )
