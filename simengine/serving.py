"""Serving simulation: load tests of a model server, token-bucket rate limiting, sliding-window metrics and
input gates (issue 18).  The public layer validates and wraps; the kernels live in `simengine.kernels.serving`.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from simengine import _rng
from simengine._long import asarray, check_progress, contiguous, first_slice, joined, run_blocks
from simengine._results import MEAN, MonteCarloResult, Result, proportion_se
from simengine._rng import pcg64_block_states
from simengine._typing import ArrayLike, Progress, SeedLike
from simengine._validate import (
    MAX_COUNT,
    as_float_array,
    as_int_array,
    check_choice,
    check_count_at_least_one,
    check_int,
    check_memory,
    check_probability,
    check_real,
    check_work,
)
from simengine.kernels import serving as _k

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__: list[str] = [
    # load tests
    "simulate_load_test", "SimulateLoadTestResult", "TokenBucket",
    # recorded traffic and input gates
    "token_bucket", "TokenBucketResult", "window_metrics", "WindowMetricsResult",
    "zscore_gate", "ZscoreGateResult", "simulate_gate", "SimulateGateResult",
]

# --- load tests (simulate_load_test, TokenBucket) ---

#: what `simulate_load_test` accepts as `service`, with the keys of its `service_params`
SERVICES = {"lognormal": ("mu", "sigma"), "exponential": ("mean",), "deterministic": ("value",),
            "gamma": ("shape", "scale")}
ARRIVALS = ("poisson", "deterministic")
#: the notebook's service time: lognormal with mu 3.2 and sigma 0.6 of the log of milliseconds, in seconds
NOTEBOOK_SERVICE = {"mu": 3.2 + math.log(1e-3), "sigma": 0.6}
DEFAULT_QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)
_MAX_WORKERS = 10**6
# A run is the unit of work between two checks for Ctrl-C: 10^7 requests are well under a second
_MAX_REQUESTS = 10**7
_MAX_CLIENTS = 10**7


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """A token bucket per client, for `simulate_load_test`'s `rate_limit`.

    Each client's bucket holds at most `capacity` tokens and starts full; it refills continuously at
    `refill_per_second` tokens a second.  A request takes one token if there is one, else it is rejected
    (never queued).  The notebook's limiter is ``TokenBucket(capacity=100, refill_per_second=100 / 60)``.

    Attributes
    ----------
    capacity : float
        Largest number of tokens (the burst a fresh client gets through), > 0.
    refill_per_second : float
        Tokens added per second, >= 0 (the long-run admitted rate per client).

    Examples
    --------
    >>> import simengine
    >>> simengine.TokenBucket(capacity=100, refill_per_second=100 / 60).capacity
    100.0
    """

    capacity: float
    refill_per_second: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "capacity", check_real(self.capacity, "capacity", low=0.0, low_inclusive=False))
        object.__setattr__(self, "refill_per_second", check_real(self.refill_per_second, "refill_per_second",
                                                                 low=0.0))


@dataclass(frozen=True, slots=True)
class SimulateLoadTestResult(MonteCarloResult):
    """Replicated runs of a load test: latency percentiles and queue statistics with Monte Carlo errors.

    Every estimate is the mean over the `n_sims` runs of that run's statistic over its measured (post
    warm-up) requests, and ``x_se`` is the standard deviation across runs / sqrt(`n_sims`) (NaN for one
    run).  Times are in seconds.

    Attributes
    ----------
    latency_quantiles, latency_quantiles_se : ndarray or float
        Quantiles of latency (wait + service) of the served requests, aligned with `quantiles` (a float
        when `quantiles` was one number); NumPy's default (linear) quantile of each run.
    mean_latency, mean_latency_se, mean_wait, mean_wait_se : float
        Mean latency and mean wait in the queue of the served requests.
    p_wait, p_wait_se : float
        Fraction of served requests that waited (wait > 0).
    throughput, throughput_se : float
        Served requests per second of the measured arrival window.
    utilisation, utilisation_se : float
        Busy server-seconds of the served requests over `workers` x the measured window (slightly above 1 when
        an overloaded queue still holds work at the last arrival: that work is counted, its time is not).
    rejected_rate_limit, rejected_rate_limit_se : float
        Fraction of measured requests refused by the token bucket.
    rejected_queue_full, rejected_queue_full_se : float
        Fraction of measured requests refused because `queue_capacity` requests were waiting.
    timed_out, timed_out_se : float
        Fraction of measured requests dropped because their wait would exceed `timeout`.
    quantiles : ndarray or float
    offered_utilisation : float
        The load offered to the servers, arrival rate (after rate limiting, in the long run) x mean service
        time (slowdowns included) / workers: the utilisation the queue tends to without rejections.
    n_sims, n_requests, n_warmup, workers : int
        Runs, requests per run, warm-up requests excluded from each run's statistics, servers.
    arrival_rate : float
    service, arrivals : str
    """

    _estimates = {name: MEAN for name in (
        "latency_quantiles", "mean_latency", "mean_wait", "p_wait", "throughput", "utilisation",
        "rejected_rate_limit", "rejected_queue_full", "timed_out")}
    _replicates = "n_sims"
    _chunk_size = 1000  # runs (of up to 10^5-10^6 requests each): seconds of work per chunk

    latency_quantiles: Any
    latency_quantiles_se: Any
    mean_latency: float
    mean_latency_se: float
    mean_wait: float
    mean_wait_se: float
    p_wait: float
    p_wait_se: float
    throughput: float
    throughput_se: float
    utilisation: float
    utilisation_se: float
    rejected_rate_limit: float
    rejected_rate_limit_se: float
    rejected_queue_full: float
    rejected_queue_full_se: float
    timed_out: float
    timed_out_se: float
    quantiles: Any
    offered_utilisation: float
    n_sims: int
    n_requests: int
    n_warmup: int
    workers: int
    arrival_rate: float
    service: str
    arrivals: str


def _service_spec(service: Any, service_params: Any) -> tuple[str, dict[str, Any], float]:
    """(name, the kernel's service arguments, mean service seconds) of `service` / `service_params`.

    The kernel takes one argument per kind, None for the kinds not used (so that it compiles only the one used).
    """
    spec: dict[str, Any] = dict.fromkeys(("lognormal", "exponential", "deterministic", "gamma", "sample"))
    if not isinstance(service, str):
        if service_params is not None:
            raise ValueError("`service_params` only applies to a named `service`; an array of service times "
                             "takes none")
        sample = as_float_array(service, "service", ndim=1)
        if (sample < 0).any():
            raise ValueError("`service` must hold service times >= 0 (seconds)")
        spec["sample"] = sample
        return "empirical", spec, float(sample.mean())
    name = check_choice(service, "service", SERVICES)
    if service_params is None:
        if name != "lognormal":
            raise ValueError(f"`service_params` is required for service={name!r}: give "
                             f"{{{', '.join(repr(p) + ': ...' for p in SERVICES[name])}}}")
        service_params = NOTEBOOK_SERVICE
    if not isinstance(service_params, Mapping):
        raise TypeError(f"`service_params` must be a dict; got {type(service_params).__name__}")
    keys = SERVICES[name]
    if set(service_params) != set(keys):
        raise ValueError(f"`service_params` for service={name!r} must have exactly the keys {list(keys)}; got "
                         f"{sorted(map(str, service_params))}")
    if name == "lognormal":
        mu = check_real(service_params["mu"], "service_params['mu']")
        sigma = check_real(service_params["sigma"], "service_params['sigma']", low=0.0)
        mean = math.exp(mu + 0.5 * sigma * sigma)
        spec["lognormal"] = (mu, sigma)
        return name, spec, mean
    if name == "exponential":
        m = check_real(service_params["mean"], "service_params['mean']", low=0.0, low_inclusive=False)
        spec["exponential"] = m
        return name, spec, m
    if name == "deterministic":
        v = check_real(service_params["value"], "service_params['value']", low=0.0)
        spec["deterministic"] = v
        return name, spec, v
    shape = check_real(service_params["shape"], "service_params['shape']", low=0.0, low_inclusive=False)
    scale = check_real(service_params["scale"], "service_params['scale']", low=0.0, low_inclusive=False)
    spec["gamma"] = (shape, scale)
    return name, spec, shape * scale


def _on_threads(part: Any, out: np.ndarray, lo: int, hi: int, threads: int) -> None:
    """``part(out[a - lo:b - lo], a, b)`` over `threads` consecutive ranges [a, b) of the runs lo..hi-1, at once.

    The kernel releases the GIL, so Python threads run it in parallel; each run has its own stream and
    output row, so the split never changes a number.
    """
    n = hi - lo
    if threads <= 1 or n <= 1:
        part(out, lo, hi)
        return
    from concurrent.futures import ThreadPoolExecutor

    cuts = [lo + (n * i) // threads for i in range(threads + 1)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(part, out[a - lo:b - lo], a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
        for f in futures:
            f.result()


def _quantile_spec(quantiles: Any) -> tuple[np.ndarray, bool]:
    if isinstance(quantiles, numbers.Real) and not isinstance(quantiles, (bool, np.bool_)):
        return np.array([check_real(quantiles, "quantiles", low=0.0, high=1.0)]), True
    q = as_float_array(quantiles, "quantiles", ndim=1)
    if ((q < 0) | (q > 1)).any():
        raise ValueError(f"`quantiles` must lie in [0, 1]; got {q.tolist()}"[:200])
    return q, False


def simulate_load_test(
    *,
    arrival_rate: float,
    workers: int,
    service: Literal["lognormal", "exponential", "deterministic", "gamma"] | ArrayLike = "lognormal",
    service_params: Mapping[str, float] | None = None,
    slow_prob: float = 0.0,
    slow_factor: float = 5.0,
    n_requests: int = 100_000,
    warmup: float = 0.1,
    queue_capacity: int | None = None,
    timeout: float | None = None,
    arrivals: Literal["poisson", "deterministic"] = "poisson",
    n_sims: int = 100,
    quantiles: float | ArrayLike = DEFAULT_QUANTILES,
    rate_limit: TokenBucket | None = None,
    n_clients: int = 1,
    client_weights: ArrayLike | None = None,
    rng: SeedLike = None,
    progress: Progress = None,
) -> SimulateLoadTestResult:
    """Load test of a model server by simulation: latency percentiles, waits and rejections, with errors.

    Unlike SimPy or Ciw (general discrete-event simulators, microseconds per request in Python), this is one
    fixed model, compiled: a first-come first-served queue in front of `workers` parallel servers, fed by
    `n_requests` requests per run, replicated over `n_sims` independent runs so that every percentile comes
    with its Monte Carlo standard error.  All times are in seconds.

    A request arrives (Poisson or evenly spaced at `arrival_rate` a second), passes its client's token
    bucket (with `rate_limit`; refused requests are rejected, never queued), is refused when
    `queue_capacity` requests are already waiting, is dropped when its wait would exceed `timeout`, and is
    otherwise served by the first server to become free.  Its latency is its wait plus its service time;
    with probability `slow_prob` the service takes `slow_factor` times longer (a GC pause).

    Parameters
    ----------
    arrival_rate : float
        Requests per second, > 0.
    workers : int
        Parallel servers, in [1, 10**6].
    service : {"lognormal", "exponential", "deterministic", "gamma"} or array_like
        Service-time distribution, or an array of measured service times (seconds, >= 0) resampled
        uniformly with replacement.
    service_params : dict, optional
        "lognormal": ``{"mu": ..., "sigma": ...}`` of the log of the time in seconds (default: the notebook's
        lognormal(3.2, 0.6) of milliseconds, i.e. ``{"mu": 3.2 + log(1e-3), "sigma": 0.6}``, median 24.5 ms);
        "exponential": ``{"mean": ...}``; "deterministic": ``{"value": ...}``; "gamma": ``{"shape": ...,
        "scale": ...}``.
    slow_prob : float, default 0.0
        Chance, in [0, 1], that a request is slowed down.
    slow_factor : float, default 5.0
        Service-time multiplier of a slowed request, > 0.
    n_requests : int, default 100_000
        Requests per run, in [2, 10**7] (a run is what Ctrl-C waits for); `n_sims` x `n_requests` is at most
        10**12.
    warmup : float, default 0.1
        Fraction of each run's first requests, in [0, 1), left out of its statistics (the queue starts
        empty); at least one request is measured.
    queue_capacity : int, optional
        Most requests that may wait; one arriving when that many wait is rejected (0: a loss system, a
        request is served at once or rejected).  Default: unlimited.
    timeout : float, optional
        A request whose wait would exceed `timeout` seconds (>= 0) is dropped on arrival: it takes no server
        and no queue place (servers know their backlog under FCFS, so this is the request that would give
        up).  Default: none.
    arrivals : {"poisson", "deterministic"}
        Poisson arrivals (exponential gaps), or request i at (i + 1) / `arrival_rate`.
    n_sims : int, default 100
        Independent runs, in [1, 10**9], each with its own random stream.
    quantiles : float or array_like, default (0.5, 0.9, 0.95, 0.99, 0.999)
        Latency quantiles to report, in [0, 1]; one number gives float fields (as a `sweep` needs).
    rate_limit : TokenBucket, optional
        A token bucket per client, checked before the queue.
    n_clients : int, default 1
        Clients sharing the traffic (with `rate_limit`), each request's client drawn at random.
    client_weights : array_like, optional
        Share of the traffic of each of the `n_clients` clients (non-negative, normalised); default uniform.
    rng : None, int, SeedSequence or Generator
        Randomness (SPEC 7); the same seed gives the same result on any number of threads.
    progress : None, True or False
        A progress bar on stderr: True always, False never, None only when stderr is a terminal and the
        call is expected to take more than ~2 s.  Ctrl-C stops the call within about a second.

    Returns
    -------
    SimulateLoadTestResult

    Raises
    ------
    ValueError
        Among others when the offered utilisation is >= 1 with neither `queue_capacity` nor `timeout`: the
        queue would grow without bound and no percentile would settle.

    Notes
    -----
    Each run draws, per request: the gap to the previous arrival, its client (several clients with
    `rate_limit`), its service time and its slowdown, whatever then happens to the request, so runs with one
    seed and different queue settings see the same traffic.  Per run, means and P(wait > 0) are over served
    measured requests; rejection and time-out rates over measured requests; throughput is served measured
    requests per second from the last warm-up arrival to the last arrival.  Estimates are means over runs
    (a run's p99 of 10^5 requests, averaged; its bias is O(1/`n_requests`)), so they combine across chunks.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_load_test(arrival_rate=400, workers=20, slow_prob=0.1, slow_factor=5,
    ...                                    n_requests=20_000, n_sims=20, rng=1)
    >>> res.quantiles
    array([0.5  , 0.9  , 0.95 , 0.99 , 0.999])
    >>> print(f"p99 {1e3 * res.latency_quantiles[3]:.0f} ms +- {1e3 * res.latency_quantiles_se[3]:.1f}")
    p99 269 ms +- 1.2
    >>> bucket = simengine.TokenBucket(capacity=100, refill_per_second=100 / 60)
    >>> limited = simengine.simulate_load_test(arrival_rate=10, workers=4, rate_limit=bucket, n_clients=5,
    ...                                        n_requests=5_000, n_sims=10, rng=1)
    >>> print(f"{limited.rejected_rate_limit:.3f} +- {limited.rejected_rate_limit_se:.3f}")
    0.082 +- 0.004
    """
    from simengine.kernels import serving as k

    arrival_rate = check_real(arrival_rate, "arrival_rate", low=0.0, low_inclusive=False)
    workers = check_int(workers, "workers", minimum=1, maximum=_MAX_WORKERS)
    name, spec, mean_service = _service_spec(service, service_params)
    slow_prob = check_probability(slow_prob, "slow_prob", closed=True)
    slow_factor = check_real(slow_factor, "slow_factor", low=0.0, low_inclusive=False)
    n_requests = check_int(n_requests, "n_requests", minimum=2, maximum=_MAX_REQUESTS)
    warmup = check_real(warmup, "warmup", low=0.0, high=1.0, high_inclusive=False)
    n_warm = min(int(math.floor(warmup * n_requests)), n_requests - 1)
    if queue_capacity is not None:
        queue_capacity = check_int(queue_capacity, "queue_capacity", minimum=0, maximum=MAX_COUNT)
    if timeout is not None:
        timeout = check_real(timeout, "timeout", low=0.0)
    arrivals = check_choice(arrivals, "arrivals", ARRIVALS)
    n_sims = check_count_at_least_one(n_sims, "n_sims")
    q, scalar = _quantile_spec(quantiles)
    n_clients = check_int(n_clients, "n_clients", minimum=1, maximum=_MAX_CLIENTS)
    if rate_limit is not None and not isinstance(rate_limit, TokenBucket):
        raise TypeError(f"`rate_limit` must be a TokenBucket or None; got {type(rate_limit).__name__}")
    if rate_limit is None and (n_clients != 1 or client_weights is not None):
        raise ValueError("`n_clients` and `client_weights` only apply with `rate_limit` (clients matter only "
                         "to their token buckets); give `rate_limit` or leave them at their defaults")
    share = np.full(n_clients, 1.0 / n_clients)
    cdf = None
    if client_weights is not None:
        w = as_float_array(client_weights, "client_weights", ndim=1)
        if w.shape[0] != n_clients or (w < 0).any() or not w.sum() > 0:
            raise ValueError(f"`client_weights` must hold `n_clients` = {n_clients} non-negative weights with a "
                             f"positive sum; got {w.shape[0]} weights, sum {w.sum():g}")
        share = w / w.sum()
        cdf = np.cumsum(share)
        cdf[-1] = 1.0
    progress = check_progress(progress)
    check_work(n_sims * n_requests, "`n_sims` x `n_requests`", unit="simulated requests")
    import numba

    threads = max(1, numba.get_num_threads())
    check_memory((32 * n_requests + 8 * min(workers, n_requests) + 16 * n_clients) * threads, "`n_requests`",
                 what="each thread's per-request arrays")
    admitted = arrival_rate
    if rate_limit is not None:  # a client's long-run admitted rate is the smaller of its rate and its refill
        admitted = float(np.minimum(share * arrival_rate, rate_limit.refill_per_second).sum())
    load = admitted * mean_service * (1.0 + slow_prob * (slow_factor - 1.0)) / workers
    if load >= 1.0 and queue_capacity is None and timeout is None:
        raise ValueError(
            f"the offered utilisation is {load:.4g} >= 1 (arrival rate x mean service time / `workers`): the "
            "queue grows without bound and its percentiles never settle; lower `arrival_rate`, add `workers`, "
            "or bound the queue with `queue_capacity` or `timeout`")
    states = pcg64_block_states(rng, n_sims)
    order = np.argsort(q, kind="stable").astype(np.int64)
    # a queue that can hold every request of a run never fills: the same as no capacity
    ring_size = None if queue_capacity is None or queue_capacity >= n_requests else queue_capacity
    bucket = None if rate_limit is None else (rate_limit.capacity, rate_limit.refill_per_second)
    n_out = k.N_LOAD_STATS + q.shape[0]

    def part(out: np.ndarray, lo: int, hi: int) -> None:
        # every array the kernel needs, made here (per thread): see `_load_sims`
        k._load_sims(
            states[lo:hi], arrival_rate, arrivals == "poisson", spec["lognormal"], spec["exponential"],
            spec["deterministic"], spec["gamma"], spec["sample"], slow_prob, slow_factor,
            np.empty(min(workers, n_requests)), None if ring_size is None else np.empty(ring_size), timeout, bucket,
            None if bucket is None else np.empty((n_clients, 2)), cdf, workers, n_warm, q, order,
            np.empty((4, n_requests)), out)

    def call(lo: int, hi: int) -> np.ndarray:
        out = np.empty((hi - lo, n_out))
        _on_threads(part, out, lo, hi, threads)
        return out

    per_run = 60e-9 * n_requests
    parts = run_blocks(call, n_sims, progress=progress, desc="simulate_load_test", dispatchers=(k._load_sims,),
                       first=first_slice(per_run), unit="runs")
    stats = joined(parts)
    est = stats.mean(axis=0)
    se = stats.std(axis=0, ddof=1) / math.sqrt(n_sims) if n_sims > 1 else np.full(n_out, math.nan)
    fields: dict[str, Any] = {}
    for c, stat in enumerate(k.LOAD_STATS):
        fields[stat] = float(est[c])
        fields[f"{stat}_se"] = float(se[c])
    lq, lq_se = est[k.N_LOAD_STATS:], se[k.N_LOAD_STATS:]
    return SimulateLoadTestResult(
        latency_quantiles=float(lq[0]) if scalar else lq,
        latency_quantiles_se=float(lq_se[0]) if scalar else lq_se,
        quantiles=float(q[0]) if scalar else q,
        offered_utilisation=load,
        n_sims=n_sims,
        n_requests=n_requests,
        n_warmup=n_warm,
        workers=workers,
        arrival_rate=arrival_rate,
        service=name,
        arrivals=arrivals,
        **fields,
    )

# --- recorded traffic (token_bucket, window_metrics) and input gates (zscore_gate, simulate_gate) ---

_TB_BLOCK = 1 << 16  # requests per block of the token-bucket scan (slices are whole blocks)
_WM_BLOCK = 1 << 15  # evaluation times per block of the window scan (slices are whole blocks)
# The scan starts afresh every _WM_CHUNK evaluation times (a constant: never the thread count), so that two threads
# run two chunks at once.
_WM_CHUNK = 1 << 18
_WM_RING = 1 << 16  # first ring of prefix sums of a long input's window scan (it doubles when a window outgrows it)
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


def _latency_ranks(lat: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(rank of each latency in a stable sort, the sorted latencies), by the kernel's radix sort."""
    n = lat.shape[0]
    rank, sorted_lat = np.empty(n, dtype=np.int64), np.empty(n)
    _k._latency_ranks(lat, lat.view(np.uint64), np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64),
                      np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32),
                      np.zeros(_k._RADIX_PASSES * _k._RADIX, dtype=np.int64), np.empty(_k._RADIX, dtype=np.int64),
                      rank, sorted_lat)
    return rank, sorted_lat


class _WindowState:
    """One thread's window: scan state, ring of prefix sums, and (with quantiles) its rank bitsets and pointers."""

    def __init__(self, n: int, nq: int) -> None:
        self.st = np.zeros(_k.WINDOW_STATE, dtype=np.int64)
        self.acc = np.zeros(2)
        # a ring longer than the input can never overflow; a long input starts at _WM_RING and doubles on need
        size = 1 << max(1, min(n, _WM_RING - 1).bit_length())
        self.ring_s, self.ring_c, self.ring_e = np.empty(size), np.empty(size), np.empty(size, dtype=np.int64)
        n_words = (n + 63) // 64 if nq else 0
        self.words = np.zeros(n_words, dtype=np.uint64)
        self.summary = np.zeros((n_words + 63) // 64, dtype=np.uint64)
        self.top = np.zeros((self.summary.shape[0] + 63) // 64, dtype=np.uint64)
        self.pointer = np.zeros(2 * nq, dtype=np.int64)

    def grow(self) -> None:
        size = 2 * self.ring_s.shape[0]
        self.ring_s, self.ring_c, self.ring_e = np.empty(size), np.empty(size), np.empty(size, dtype=np.int64)


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
    the mean is a difference of compensated prefix sums, equal to ``np.mean`` of the window within a few ulps.

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
    Cost: count, error rate and mean are one pass over the requests with two pointers (O(n + len(at))) that
    step four requests at a time without a mispredicted branch; the latency sum is a compensated prefix sum
    (restarted at every chunk) kept in a ring, so that a request leaving the window costs one read, and the
    window's sum is the difference of two prefixes with its rounding error kept (as accurate as adding the
    window up).  The evaluation times run in chunks of 2^18 that start afresh, two at once on two threads;
    neither the threads nor the slices change a number.  Exact window quantiles keep the window's latencies as
    a bitset of their ranks in one stable sort of all latencies (an LSD radix sort, ~0.8 s for 10^7, one
    thread), with two levels of summary bitsets over its words; each quantile keeps a pointer in rank space
    that steps to the order statistic wanted as requests enter and leave (about one step per request, each a
    search of a word or two), instead of a search from the top per quantile.  The issue's target (10^7
    requests within 5x of reading the inputs once, ~6-7 ms here) is NOT met, and cannot be with the default
    quantiles: merely allocating and filling the result's arrays costs ~40 ms (count, error rate, mean: ~6x
    the read) and ~60 ms with three quantile columns (~10x).  Measured on the shared 2-core box under load
    (load average 3-5, so the two threads rarely ran at once; CPU time, best of several): the quantile-free
    call (``quantiles=()``) ~0.2 s (~30x the read; 0.26-0.29 s before this version) and the default call
    (p50/p95/p99 at every request) ~3-5 s (3.7-5.8 s before; single-thread scan 2.1-2.8 s against 3.0-3.8 s);
    the scan is bound by dependent cache misses into the rank bitset and the sorted latencies.  Evaluating at
    fewer times (`at`) cuts the quantile reads, not the sort.
    Long inputs run in slices of evaluation times (Ctrl-C answered between them); the sort is one piece.

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
    import numba

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
    # outputs, and with quantiles the radix sort's keys and indices (twice), ranks, sorted latencies, bitsets
    check_memory(8 * m * (3 + nq) + (41 * n if nq else 0), "`timestamps` and `at`", what="the window metrics")
    if nq:
        rank, sorted_lat = _latency_ranks(lat)
    else:
        rank, sorted_lat = np.empty(0, np.int64), np.empty(0)
    chunk = _WM_CHUNK
    threads = 2 if m > chunk and numba.get_num_threads() > 1 else 1
    states = [_WindowState(n, nq) for _ in range(threads)]
    count = np.empty(m, dtype=np.int64)
    rate = np.empty(m if errors is not None else 0)
    mean = np.empty(m)
    qout = np.empty((m, nq))

    def piece(state: _WindowState, a: int, b: int) -> None:
        """Evaluation times a..b-1 with `state` (continued, or fresh from a chunk start); a window that outgrows
        the ring runs its chunk again with a ring twice as long (the same numbers: the prefixes restart there)."""
        while a < b:
            a = _k._window_scan(t, lat, err, times, w, qs, rank, sorted_lat, state.words, state.summary, state.top,
                                state.pointer, state.st, state.acc, state.ring_s, state.ring_c, state.ring_e, chunk,
                                a, b, count, rate, mean, qout)
            if a < 0:
                return
            state.grow()

    pool = None
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=threads)

    def call(lo: int, hi: int) -> None:
        a, b = lo * _WM_BLOCK, min(m, hi * _WM_BLOCK)
        cut = round((a + b) / 2 / chunk) * chunk  # a chunk start near the middle
        if pool is None or not a < cut < b:
            piece(states[0], a, b)
            return
        # the second half starts a chunk: it runs at once on the other state, which then carries on
        futures = [pool.submit(piece, states[0], a, cut), pool.submit(piece, states[1], cut, b)]
        for f in futures:
            f.result()
        states.reverse()

    try:
        run_blocks(call, -(-m // _WM_BLOCK), progress=False, desc="window_metrics", dispatchers=(_k._window_scan,),
                   first=8)
    finally:
        if pool is not None:
            pool.shutdown()
    error_rate = rate if errors is not None else None
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
