"""Serving simulation: load tests of a model server, token-bucket rate limiting, sliding-window metrics and
input gates (issue 18).  The public layer validates and wraps; the kernels live in `simengine.kernels.serving`.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from simengine._long import check_progress, first_slice, joined, run_blocks
from simengine._results import MEAN, MonteCarloResult
from simengine._rng import pcg64_block_states
from simengine._typing import ArrayLike, Progress, SeedLike
from simengine._validate import (
    MAX_COUNT,
    as_float_array,
    check_choice,
    check_count_at_least_one,
    check_int,
    check_memory,
    check_probability,
    check_real,
    check_work,
)

__all__: list[str] = ["simulate_load_test", "SimulateLoadTestResult", "TokenBucket"]

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
