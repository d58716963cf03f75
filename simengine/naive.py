"""Plain NumPy / SciPy baselines: the straightforward way to write each simulation.

Tests use them as references, `benchmarks/` and `simengine bench` time against
them.  They favour obviousness over speed on purpose; never optimise them.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from simengine._typing import ArrayLike, SeedLike

__all__: list[str] = []


# --- hypothesis testing (issue 3): permutation tests, power, multiple testing ---


def permutation_median_loop(x: ArrayLike, y: ArrayLike, n_resamples: int = 9999, rng: SeedLike = None) -> float:
    """Two-sided permutation p-value of median(x) - median(y) (scipy's sign): shuffle + np.median per resample."""
    rng = np.random.default_rng(rng)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    pooled = np.concatenate([x, y])
    observed = np.median(x) - np.median(y)
    null = np.empty(n_resamples)
    for i in range(n_resamples):
        perm = rng.permutation(pooled)
        null[i] = np.median(perm[: len(x)]) - np.median(perm[len(x):])
    gamma = abs(100 * np.finfo(float).eps * observed)
    p_less = (np.count_nonzero(null <= observed + gamma) + 1) / (n_resamples + 1)
    p_greater = (np.count_nonzero(null >= observed - gamma) + 1) / (n_resamples + 1)
    p: float = min(1.0, 2 * min(p_less, p_greater))
    return p


def multipletests_loop(
    pvals: ArrayLike, alpha: float = 0.05, method: str = "hs"
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """statsmodels' `multipletests` called once per family (row); returns (reject, pvals_corrected)."""
    from statsmodels.stats.multitest import multipletests

    pvals = np.asarray(pvals, dtype=float)
    reject = np.empty(pvals.shape, dtype=bool)
    corrected = np.empty(pvals.shape)
    for i in range(pvals.shape[0]):
        reject[i], corrected[i] = multipletests(pvals[i], alpha=alpha, method=method)[:2]
    return reject, corrected


def ttest_power_loop(
    effect_size: float, n: int, n_sims: int = 10_000, alpha: float = 0.05, rng: SeedLike = None
) -> float:
    """Monte Carlo power of the pooled t-test: draw both groups, call scipy's ttest_ind, n_sims times."""
    from scipy import stats

    rng = np.random.default_rng(rng)
    hits = 0
    for _ in range(n_sims):
        treated = rng.normal(effect_size, 1.0, n)
        control = rng.normal(0.0, 1.0, n)
        hits += stats.ttest_ind(treated, control).pvalue <= alpha
    return hits / n_sims


# --- sequential testing (peeking) ---------------------------------------------------------------------------

def peeking_per_visitor(
    n_sims: int,
    n_looks: int,
    visitors_per_look: int,
    *,
    metric: str = "binary",
    rate: float = 0.10,
    mean: float = 0.0,
    sd: float = 1.0,
    lift: float = 0.0,
    alpha: float = 0.05,
    equal_var: bool = True,
    alternative: str = "two-sided",
    levels: ArrayLike | None = None,
    rng: SeedLike = None,
) -> tuple[npt.NDArray[Any], int]:
    """Peeking the obvious way: draw every visitor, run scipy.stats.ttest_ind(B, A) at every look.

    `levels` gives each look's nominal level (default `alpha` everywhere).  Returns
    ``(first_rejection_counts, fixed_horizon_rejections)`` like the engine's per-look counts.
    """
    from scipy import stats

    rng = np.random.default_rng(rng)
    visitors = np.broadcast_to(np.asarray(visitors_per_look, dtype=np.int64), (n_looks,))
    levels = np.full(n_looks, alpha) if levels is None else np.asarray(levels, dtype=np.float64)
    first = np.zeros(n_looks, dtype=np.int64)
    final = 0
    for _ in range(n_sims):
        a = []
        b = []
        stopped = False
        for k in range(n_looks):
            if metric == "binary":
                a.append((rng.random(visitors[k]) < rate).astype(np.float64))
                b.append((rng.random(visitors[k]) < rate + lift).astype(np.float64))
            else:
                a.append(rng.normal(mean, sd, visitors[k]))
                b.append(rng.normal(mean + lift, sd, visitors[k]))
            with np.errstate(all="ignore"):
                p = stats.ttest_ind(np.concatenate(b), np.concatenate(a), equal_var=equal_var,
                                    alternative=alternative).pvalue
            if not stopped and p <= levels[k]:
                first[k] += 1
                stopped = True
            if k == n_looks - 1 and p <= alpha:
                final += 1
    return first, final


def peeking_vectorised_binary(
    n_sims: int,
    n_looks: int,
    visitors_per_look: int,
    *,
    rate: float = 0.10,
    lift: float = 0.0,
    alpha: float = 0.05,
    rng: SeedLike = None,
) -> tuple[npt.NDArray[Any], int]:
    """Peeking with whole-array NumPy: binomial counts of shape (n_sims, n_looks), pooled t at every look.

    The fast way to write it without a compiler (memory O(n_sims x n_looks)); two-sided, nominal `alpha`.
    Returns ``(first_rejection_counts, fixed_horizon_rejections)``.
    """
    from scipy import stats

    rng = np.random.default_rng(rng)
    m = np.broadcast_to(np.asarray(visitors_per_look, dtype=np.int64), (n_looks,))
    n = np.cumsum(m).astype(np.float64)
    ca = np.cumsum(rng.binomial(m, rate, size=(n_sims, n_looks)), axis=1)
    cb = np.cumsum(rng.binomial(m, rate + lift, size=(n_sims, n_looks)), axis=1)
    with np.errstate(all="ignore"):
        ssd = ca * (n - ca) / n + cb * (n - cb) / n
        t = (cb - ca) / n / np.sqrt(ssd / (2 * n - 2) * (2.0 / n))
        p = 2.0 * stats.t.sf(np.abs(t), 2 * n - 2)
    reject = p <= alpha
    any_look = reject.any(axis=1)
    first_look = np.argmax(reject, axis=1)
    first = np.bincount(first_look[any_look], minlength=n_looks)
    return first, int(reject[:, -1].sum())
def spending_boundaries_mc(
    information: ArrayLike, cumulative_alpha: ArrayLike, n_paths: int = 200_000, rng: SeedLike = None
) -> npt.NDArray[Any]:
    """Two-sided alpha-spending boundaries the way one writes them without the recursion: simulate Brownian
    paths at the information fractions, then at each look take the |Z| quantile among the paths still running
    that spends that look's increment of `cumulative_alpha` (Monte Carlo error ~1e-2 in z at 2 * 10^5 paths).
    """
    rng = np.random.default_rng(rng)
    t = np.asarray(information, dtype=np.float64)
    spent = np.diff(np.concatenate([[0.0], np.asarray(cumulative_alpha, dtype=np.float64)]))
    z = np.abs(np.cumsum(rng.standard_normal((n_paths, t.size)) * np.sqrt(np.diff(np.concatenate([[0.0], t]))),
                         axis=1) / np.sqrt(t))
    running = np.ones(n_paths, dtype=bool)
    out = np.empty(t.size)
    for k in range(t.size):
        stop = int(round(spent[k] * n_paths))
        alive = z[running, k]
        out[k] = np.inf if stop <= 0 else np.sort(alive)[alive.size - stop]
        running &= z[:, k] < out[k]
    return out


# --------------------------------------------------------------------------- Bayesian A/B and MCMC (issue 5)


def bayes_ab_mc(
    successes_a: ArrayLike,
    trials_a: ArrayLike,
    successes_b: ArrayLike,
    trials_b: ArrayLike,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    n_draws: int = 50_000,
    rng: SeedLike = None,
) -> npt.NDArray[Any]:
    """P(B > A) and expected losses by drawing `n_draws` Beta variates per arm, one scenario at a time."""
    rng = np.random.default_rng(rng)
    sa, ta, sb, tb = (np.atleast_1d(np.asarray(v)) for v in (successes_a, trials_a, successes_b, trials_b))
    out = np.empty((sa.size, 3))
    for i in range(sa.size):
        a = rng.beta(prior[0] + sa[i], prior[1] + ta[i] - sa[i], n_draws)
        b = rng.beta(prior[0] + sb[i], prior[1] + tb[i] - sb[i], n_draws)
        out[i] = np.mean(b > a), np.mean(np.maximum(b - a, 0.0)), np.mean(np.maximum(a - b, 0.0))
    return out


def beta_draws(
    alpha_a: npt.NDArray[Any],
    beta_a: npt.NDArray[Any],
    alpha_b: npt.NDArray[Any],
    beta_b: npt.NDArray[Any],
    n_draws: int,
    rng: SeedLike = None,
) -> list[tuple[npt.NDArray[Any], npt.NDArray[Any]]]:
    """Only the Beta draws of a Monte Carlo A/B comparison (the floor of any MC method)."""
    rng = np.random.default_rng(rng)
    return [
        (rng.beta(a1, b1, n_draws), rng.beta(a2, b2, n_draws))
        for a1, b1, a2, b2 in zip(alpha_a, beta_a, alpha_b, beta_b)
    ]


def metropolis_hastings_2d(
    mean: ArrayLike, cov: ArrayLike, x0: ArrayLike, n_steps: int, proposal_scale: float = 1.0, rng: SeedLike = None
) -> npt.NDArray[Any]:
    """Random-walk MH on a Gaussian target, the textbook way: NumPy proposal and
    `np.linalg.inv` inside the log density at every step."""
    rng = np.random.default_rng(rng)
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)

    def log_density(x: npt.NDArray[Any]) -> Any:
        d = x - mean
        return -0.5 * d @ np.linalg.inv(cov) @ d

    x = np.asarray(x0, dtype=float).copy()
    lp = log_density(x)
    chain = np.empty((n_steps, x.size))
    for t in range(n_steps):
        prop = x + proposal_scale * rng.standard_normal(x.size)
        lp_new = log_density(prop)
        if np.log(rng.random()) < lp_new - lp:
            x, lp = prop, lp_new
        chain[t] = x
    return chain


def rhat_ess_numpy(samples: ArrayLike) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """(rank-normalised split R-hat, bulk ESS) of (chains, draws, params), the textbook way.

    Per parameter: split the chains, `scipy.stats.rankdata` + `ndtri` for the normal scores
    (again for the draws folded about their median), FFT autocovariances of every lag and
    Geyer's initial monotone sequence in a Python loop (Vehtari et al. 2021, as arviz).
    """
    from scipy.special import ndtri
    from scipy.stats import rankdata

    x = np.asarray(samples, dtype=float)
    half = x.shape[1] // 2
    split = np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)
    m, n = split.shape[:2]

    def z_scale(a: npt.NDArray[Any]) -> Any:
        return ndtri((rankdata(a, method="average").reshape(a.shape) - 0.375) / (a.size + 0.25))

    def rhat_basic(z: npt.NDArray[Any]) -> Any:
        within = z.var(axis=1, ddof=1).mean()
        between = n * z.mean(axis=1).var(ddof=1)
        return np.sqrt((between / within + n - 1.0) / n)

    def ess_basic(z: npt.NDArray[Any]) -> Any:
        if z.max() - z.min() < np.finfo(float).resolution:
            return float(z.size)
        dev = z - z.mean(axis=1, keepdims=True)
        f = np.fft.rfft(dev, n=2 * n, axis=1)
        acov = np.fft.irfft(f * np.conjugate(f), n=2 * n, axis=1)[:, :n] / n
        mean_var = acov[:, 0].mean() * n / (n - 1.0)
        var_plus = mean_var * (n - 1.0) / n + (z.mean(axis=1).var(ddof=1) if m > 1 else 0.0)
        rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus
        r = np.zeros(n)
        r[0], r[1] = 1.0, rho[1]
        even, odd, t = 1.0, rho[1], 1
        while t < n - 3 and even + odd > 0.0:
            even, odd = rho[t + 1], rho[t + 2]
            if even + odd >= 0.0:
                r[t + 1], r[t + 2] = even, odd
            t += 2
        last = t - 2
        if even > 0.0:
            r[last + 1] = even
        t = 1
        while t <= last - 2:
            if r[t + 1] + r[t + 2] > r[t - 1] + r[t]:
                r[t + 1] = r[t + 2] = (r[t - 1] + r[t]) / 2.0
            t += 2
        tau = max(-1.0 + 2.0 * r[: last + 1].sum() + r[last + 1: last + 2].sum(), 1.0 / np.log10(z.size))
        return z.size / tau

    rhat, ess = [], []
    for j in range(x.shape[2]):
        s = split[:, :, j]
        z = z_scale(s)
        folded = z_scale(np.abs(s - np.median(s)))
        rhat.append(max(rhat_basic(z), rhat_basic(folded)))
        ess.append(ess_basic(z))
    return np.array(rhat), np.array(ess)


# ---------------------------------------------------------------------------------------------------------
# drift detection (issue 6): PSI, DDM, ADWIN
# ---------------------------------------------------------------------------------------------------------


def psi_numpy(reference: ArrayLike, current: ArrayLike, edges: npt.NDArray[Any], eps: float = 1e-7) -> float:
    """PSI of two 1-D samples on given sorted `edges`, with np.histogram.

    Values below edges[0] are counted in the first bin and values above edges[-1] in the last one (so with
    repeated bottom edges a value below the reference's minimum lands in an empty first bin, not among the
    reference's point mass).
    """

    def counts(x: ArrayLike) -> Any:
        x = np.asarray(x, dtype=np.float64)
        n = np.histogram(x, bins=edges)[0]
        n[0] += np.sum(x < edges[0])
        n[-1] += np.sum(x > edges[-1])
        return n / x.size

    r = counts(reference) + eps
    c = counts(current) + eps
    return float(np.sum((c - r) * np.log(c / r)))


def psi_equal_width_edges(reference: ArrayLike, current: ArrayLike, bins: int) -> npt.NDArray[Any]:
    """Equal-width edges over the combined min..max (one bin holding everything for a constant sample)."""
    lo = min(np.min(reference), np.min(current))
    hi = max(np.max(reference), np.max(current))
    edges: npt.NDArray[Any] = lo + np.arange(bins + 1) * ((hi - lo) / bins)
    edges[-1] = hi
    return edges


def psi_per_feature(
    reference: npt.NDArray[Any],
    current: npt.NDArray[Any],
    bins: int = 10,
    binning: str = "equal-width",
    eps: float = 1e-7,
) -> npt.NDArray[Any]:
    """PSI per column of two (rows x features) arrays: a Python loop over features of `psi_numpy`."""
    out = np.empty(reference.shape[1])
    for j in range(reference.shape[1]):
        r, c = reference[:, j], current[:, j]
        if binning == "quantile":
            edges = np.quantile(r, np.linspace(0.0, 1.0, bins + 1))
        else:
            edges = psi_equal_width_edges(r, c, bins)
        out[j] = psi_numpy(r, c, edges, eps)
    return out


def ddm_python(
    errors: Iterable[float],
    warning_threshold: float = 2.0,
    drift_threshold: float = 3.0,
    warm_start: int = 30,
    track_from_start: bool = False,
) -> list[int]:
    """DDM (Gama et al. 2004) in plain Python, resetting after a drift; status list 0/1/2 per step.

    With ``track_from_start=True`` it is the naive variant that tracks p_min + s_min from the first
    sample (and only tests after the warm-up): after a first run of zeros p_min + s_min = 0, so it
    fires a false drift as soon as the warm-up ends.
    """
    import math

    status = []
    n = 0
    p = 0.0
    p_min = s_min = math.nan
    ps_min = math.inf
    drifted = False
    for x in errors:
        if drifted:
            n, p, p_min, s_min, ps_min = 0, 0.0, math.nan, math.nan, math.inf
        n += 1
        p += (1.0 / n) * (float(x) - p)
        s = math.sqrt(p * (1.0 - p) / n)
        st = 0
        if track_from_start or n > warm_start:
            if p + s <= ps_min:
                p_min, s_min, ps_min = p, s, p + s
        if n > warm_start:
            if p + s > p_min + drift_threshold * s_min:
                st = 2
            elif p + s > p_min + warning_threshold * s_min:
                st = 1
        drifted = st == 2
        status.append(st)
    return status


def adwin_exact(
    values: Iterable[float], delta: float = 0.002, clock: int = 32, min_window_length: int = 5, grace_period: int = 10
) -> list[int]:
    """Exact ADWIN with river's rules: keep every value of the window and test every split (brute force,
    O(W^2) per step).

    River's rules (`simengine.adwin`): every `clock`-th update since the (re)start, once the window holds
    more than `grace_period` values, while some split into older W0 and newer W1 (both >=
    min_window_length, the newest value in W1) has |mean0 - mean1| > eps_cut (river's bound), drop the
    oldest value; after a detection the next update starts from an empty window.  Returns the list of
    steps at which the window was cut.
    """
    window: list[float] = []
    hits: list[int] = []
    tick = 0
    for t, x in enumerate(values):
        if hits and hits[-1] == t - 1:
            window, tick = [], 0
        window.append(float(x))
        tick += 1
        cut = False
        if tick % clock == 0 and len(window) > grace_period:
            while _adwin_exact_split(window, delta, min_window_length):
                window.pop(0)
                cut = True
        if cut:
            hits.append(t)
    return hits


def _adwin_exact_split(window: list[float], delta: float, min_len: int) -> bool:
    """Whether some split of `window` is significant under river's bound (see `adwin_exact`)."""
    import math

    w = np.asarray(window)
    n = w.size
    if n < 2:
        return False
    var = float(np.var(w))
    log_term = math.log(2.0 * math.log(n) / delta)
    for k in range(max(min_len, 1), n - max(min_len, 1) + 1):
        n0, n1 = k, n - k
        m_recip = 1.0 / (n0 - min_len + 1) + 1.0 / (n1 - min_len + 1)
        eps = math.sqrt(2.0 * m_recip * var * log_term) + (2.0 / 3.0) * m_recip * log_term
        if abs(w[:k].mean() - w[k:].mean()) > eps:
            return True
    return False


# --- resampling designs (issue 17): paired permutation test ---


def paired_permutation_loop(x: ArrayLike, y: ArrayLike, n_resamples: int = 9999, rng: SeedLike = None) -> float:
    """Two-sided sign-flip p-value of mean(x - y): one random sign vector and one mean per resample."""
    rng = np.random.default_rng(rng)
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    observed = d.mean()
    null = np.empty(n_resamples)
    for i in range(n_resamples):
        signs = rng.choice([-1.0, 1.0], size=d.size)
        null[i] = (signs * d).mean()
    gamma = abs(100 * np.finfo(float).eps * observed)
    p_less = (np.count_nonzero(null <= observed + gamma) + 1) / (n_resamples + 1)
    p_greater = (np.count_nonzero(null >= observed - gamma) + 1) / (n_resamples + 1)
    p: float = min(1.0, 2 * min(p_less, p_greater))
    return p


# ---------------------------------------------------------------------------------------------------------
# serving simulation (issue 18): load tests
# ---------------------------------------------------------------------------------------------------------


def load_test_replay(
    gen: np.random.Generator,
    n_requests: int,
    *,
    arrival_rate: float,
    workers: int,
    service: str = "lognormal",
    service_params: dict[str, float] | None = None,
    sample: ArrayLike | None = None,
    slow_prob: float = 0.0,
    slow_factor: float = 5.0,
    queue_capacity: int | None = None,
    timeout: float | None = None,
    arrivals: str = "poisson",
    rate_limit: tuple[float, float] | None = None,
    n_clients: int = 1,
    client_weights: ArrayLike | None = None,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """One run of `simulate_load_test`'s queue, request by request, with `heapq` and NumPy's Generator.

    Returns (arrival, wait, service, status) per request; status 0 served, 1 rate-limited, 2 queue full,
    3 timed out; the wait is NaN for requests not served.  `rate_limit` is (capacity, refill_per_second).
    Draw order per request as the kernel: gap, client, service, slowdown (a block's `gen` replays it).
    """
    import heapq
    import math

    params = dict(service_params or {})
    servers = [0.0] * workers
    starts: list[float] = []  # service starts of admitted requests, in order (non-decreasing under FCFS)
    tokens: dict[int, float] = {}
    last: dict[int, float] = {}
    weights = None if client_weights is None else np.asarray(client_weights, dtype=float)
    cdf = None if weights is None else np.cumsum(weights / weights.sum())
    if cdf is not None:
        cdf[-1] = 1.0
    pool = None if sample is None else np.asarray(sample, dtype=float)
    arrival = np.empty(n_requests)
    wait = np.full(n_requests, np.nan)
    serv = np.empty(n_requests)
    status = np.zeros(n_requests, dtype=np.int8)
    t = 0.0
    for i in range(n_requests):
        t = t + gen.standard_exponential() * (1.0 / arrival_rate) if arrivals == "poisson" else (i + 1) / arrival_rate
        arrival[i] = t
        client = 0
        if rate_limit is not None and n_clients > 1:
            u = gen.random()
            client = min(n_clients - 1, int(u * n_clients)) if cdf is None else int(np.searchsorted(cdf, u, "right"))
        if service == "lognormal":
            s = math.exp(params["mu"] + params["sigma"] * gen.standard_normal())
        elif service == "exponential":
            s = params["mean"] * gen.standard_exponential()
        elif service == "gamma":
            s = params["scale"] * gen.standard_gamma(params["shape"])
        elif service == "empirical":
            assert pool is not None
            s = float(pool[min(len(pool) - 1, int(gen.random() * len(pool)))])
        else:
            s = params["value"]
        if slow_prob > 0 and gen.random() < slow_prob:
            s *= slow_factor
        serv[i] = s
        if rate_limit is not None:
            cap, refill = rate_limit
            have = cap if client not in last else min(cap, tokens[client] + (t - last[client]) * refill)
            last[client] = t
            if have >= 1.0:
                tokens[client] = have - 1.0
            else:
                tokens[client] = have
                status[i] = 1
                continue
        earliest = servers[0]
        w = max(0.0, earliest - t)
        waiting = sum(1 for st in starts[-(queue_capacity or 1):] if st > t)
        if queue_capacity is not None and (w > 0 if queue_capacity == 0 else waiting >= queue_capacity):
            status[i] = 2
            continue
        if timeout is not None and w > timeout:
            status[i] = 3
            continue
        heapq.heapreplace(servers, t + w + s)
        starts.append(t + w)
        wait[i] = w
    return arrival, wait, serv, status


def load_test_simpy(
    n_requests: int, *, arrival_rate: float, workers: int, mu: float, sigma: float, slow_prob: float,
    slow_factor: float, seed: int = 0,
) -> npt.NDArray[Any]:
    """Latencies (seconds) of one run of the lognormal load test as a SimPy model: a process per request
    holding one of `workers` units of a Resource (FCFS).  What a user would write without simengine."""
    import random

    import simpy

    rnd = random.Random(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=workers)
    latencies: list[float] = []

    def request(env: Any, s: float) -> Any:
        arrived = env.now
        with servers.request() as slot:
            yield slot
            yield env.timeout(s)
        latencies.append(env.now - arrived)

    def source(env: Any) -> Any:
        for _ in range(n_requests):
            yield env.timeout(rnd.expovariate(arrival_rate))
            s = rnd.lognormvariate(mu, sigma)
            if rnd.random() < slow_prob:
                s *= slow_factor
            env.process(request(env, s))

    env.process(source(env))
    env.run()
    return np.asarray(latencies)

# --- serving: recorded traffic and input gates (issue 18) ----------------------------------------------------


def token_bucket_steps(
    timestamps: ArrayLike, clients: ArrayLike | None, capacity: float, refill_per_second: float, cost: float = 1.0
) -> npt.NDArray[np.bool_]:
    """Admitted flag per request: one dict of (tokens, last time) per client, request by request in Python."""
    t = np.asarray(timestamps, dtype=float).tolist()
    ids = [0] * len(t) if clients is None else np.asarray(clients).tolist()
    buckets: dict[Any, list[float]] = {}
    out = np.zeros(len(t), dtype=bool)
    for i, (when, who) in enumerate(zip(t, ids)):
        if who not in buckets:
            tokens = capacity
        else:
            tokens, last = buckets[who]
            tokens = min(capacity, tokens + (when - last) * refill_per_second)
        if tokens >= cost:
            tokens -= cost
            out[i] = True
        buckets[who] = [tokens, when]
    return out


def window_metrics_filter(
    timestamps: ArrayLike, latencies: ArrayLike, errors: ArrayLike | None, window_seconds: float,
    quantiles: Iterable[float], at: ArrayLike | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Window metrics by filtering every request at every evaluation time s (s - w < t <= s) and np.quantile."""
    t = np.asarray(timestamps, dtype=float)
    lat = np.asarray(latencies, dtype=float)
    times = t if at is None else np.asarray(at, dtype=float)
    qs = list(quantiles)
    count = np.zeros(times.size, dtype=np.int64)
    rate = np.full(times.size, np.nan)
    mean = np.full(times.size, np.nan)
    quant = np.full((times.size, len(qs)), np.nan)
    for e, s in enumerate(times):
        inside = (t > s - window_seconds) & (t <= s)
        count[e] = inside.sum()
        if count[e]:
            mean[e] = lat[inside].mean()
            if errors is not None:
                rate[e] = np.asarray(errors, dtype=float)[inside].mean()
            if qs:
                quant[e] = np.quantile(lat[inside], qs)
    return {"count": count, "error_rate": rate, "mean_latency": mean, "latency_quantiles": quant}


def gate_rejections_numpy(
    n_features: int, threshold: float, shift: npt.NDArray[Any], n_rows: int, n_sims: int, rng: SeedLike = None
) -> tuple[float, float]:
    """Clean and shifted row rejection rates of a z-score gate: draw every row with NumPy, test |z| > threshold."""
    g = np.random.default_rng(rng)
    clean = shifted = 0
    for _ in range(n_sims):
        clean += int((np.abs(g.standard_normal((n_rows, n_features))) > threshold).any(axis=1).sum())
        x = g.standard_normal((n_rows, n_features)) + shift
        shifted += int((np.abs(x) > threshold).any(axis=1).sum())
    return clean / (n_rows * n_sims), shifted / (n_rows * n_sims)


# --- paired designs in simulate_power (issue 17) ------------------------------------------------------------


def paired_power_loop(
    test: str,
    effect_size: float,
    n: int,
    n_sims: int = 2000,
    alpha: float = 0.05,
    n_resamples: int = 999,
    rng: SeedLike = None,
) -> float:
    """Monte Carlo power of a paired test on normal differences N(effect_size, 1): scipy's own test per replicate.

    `test` is "paired_t" (ttest_1samp of the differences, as ttest_rel), "wilcoxon" (scipy's defaults) or
    "paired_permutation" (permutation_test of the mean difference, permutation_type="samples").
    """
    from scipy import stats

    rng = np.random.default_rng(rng)
    hits = 0
    for _ in range(n_sims):
        d = rng.normal(effect_size, 1.0, n)
        if test == "paired_t":
            p = stats.ttest_1samp(d, 0.0).pvalue
        elif test == "wilcoxon":
            p = stats.wilcoxon(d).pvalue
        else:
            p = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=n_resamples,
                                       rng=rng).pvalue
        hits += p <= alpha
    return hits / n_sims


# --------------------------------------------------------------------------- bootstrap (issue 17)


def bootstrap_loop(
    x: ArrayLike,
    statistic: Any = np.median,
    n_resamples: int = 9999,
    confidence_level: float = 0.95,
    method: str = "BCa",
    rng: SeedLike = None,
) -> tuple[float, float]:
    """Two-sided bootstrap interval of ``statistic(x)`` (one sample): a loop of ``x[rng.integers(...)]`` resamples.

    Percentile / basic / BCa ends as scipy.stats.bootstrap computes them (BCa: jackknife loop for the
    acceleration, z0 from the "mean" percentile of the observed statistic).
    """
    from scipy.special import ndtr, ndtri

    rng = np.random.default_rng(rng)
    x = np.asarray(x, dtype=float)
    n = len(x)
    theta = np.empty(n_resamples)
    for i in range(n_resamples):
        theta[i] = statistic(x[rng.integers(0, n, n)])
    observed = statistic(x)
    alpha = (1 - confidence_level) / 2
    if method == "BCa":
        jack = np.array([statistic(np.delete(x, i)) for i in range(n)])
        u = (n - 1) * (jack.mean() - jack)
        a = (u**3).sum() / n**3 / 6 / ((u**2).sum() / n**2) ** 1.5
        z0 = ndtri((np.count_nonzero(theta < observed) + np.count_nonzero(theta <= observed)) / (2 * n_resamples))
        z = ndtri(alpha)
        levels = [ndtr(z0 + (z0 + s * z) / (1 - a * (z0 + s * z))) for s in (1, -1)]
    else:
        levels = [alpha, 1 - alpha]
    low, high = np.percentile(theta, 100 * np.asarray(levels))
    if method == "basic":
        low, high = 2 * observed - high, 2 * observed - low
    return float(low), float(high)


def bootstrap_indices(bit_generator: np.random.BitGenerator, n: int) -> npt.NDArray[np.int64]:
    """One draw of `n` resample indices by `simengine.bootstrap`'s rule, from ``bit_generator.random_raw()``.

    The 64-bit words come in groups of eight; each word is cut into chunks of w bits, low chunk first
    (w = 16 when n <= 2**16, else 32); a chunk c gives m = c * n, the index m >> w, and is rejected when
    the low w bits of m are below (2**w - n) mod n (Lemire's exact rejection: every index uniform on
    0..n-1).  The draw stops at the n-th accepted chunk and drops the rest of that group of eight words.
    Not NumPy's ``integers(0, n, n)`` stream.
    """
    chunk = np.dtype("<u2") if n <= 2**16 else np.dtype("<u4")  # little-endian: the low chunk of a word first
    w = np.uint64(8 * chunk.itemsize)
    mask = np.uint64((1 << int(w)) - 1)
    threshold = np.uint64(((1 << int(w)) - n) % n)
    per_group = 8 * (8 // chunk.itemsize)  # candidates in a group of eight words
    got: list[npt.NDArray[np.uint64]] = []
    left = n
    while left > 0:
        # whole groups, enough for the indices still missing if none is rejected: the left-th acceptance
        # cannot come before the last of them, so no group is drawn that the kernel would not draw
        words = bit_generator.random_raw(8 * -(-left // per_group))
        m = words.astype("<u8").view(chunk).astype(np.uint64) * np.uint64(n)
        accepted = (m >> w)[(m & mask) >= threshold][:left]
        got.append(accepted)
        left -= len(accepted)
    return np.concatenate(got).astype(np.int64)


# --- coverage of bootstrap intervals (issue 17) ---------------------------------------------------------------


def _linear_quantile(sorted_x: npt.NDArray[Any], q: float) -> float:
    """scipy.stats.quantile's "linear" method on a sorted 1-D array, with scipy's arithmetic (jg = q n + 1 - q)."""
    import math

    n = sorted_x.shape[0]
    jg = q * n + (1.0 - q)
    jp1 = math.floor(jg)
    g = jg - jp1
    j = jp1 - 1.0
    if j < 0.0:
        g = 0.0
    j = min(max(j, 0.0), n - 1.0)
    jp1 = min(max(jp1, 0.0), n - 1.0)
    return float((1.0 - g) * sorted_x[int(j)] + g * sorted_x[int(jp1)])


def bootstrap_coverage_replay(
    distribution: str,
    n: int,
    statistic: str | tuple[str, float],
    methods: Iterable[str] = ("percentile", "basic", "BCa"),
    confidence_level: float = 0.95,
    n_resamples: int = 999,
    n_sims: int = 2000,
    rng: SeedLike = None,
    p: float = 0.5,
) -> dict[str, tuple[npt.NDArray[Any], npt.NDArray[Any]]]:
    """`simulate_bootstrap_coverage` for one `n`, one replicate at a time in NumPy and scipy.special.

    Same streams (blocks of COVERAGE_BLOCK replicates, block b drawing from child b of `rng`), same draws
    (the sample, then each resample's indices ``int(u * n)``), and scipy.stats.bootstrap's interval formulas
    written out (linear quantiles, BCa's z0 from the "mean" percentile of score and the jackknife
    acceleration).  Returns {method: (low, high)}, arrays of the `n_sims` intervals.
    """
    import math

    from scipy import special

    from simengine._rng import as_seed_sequence, n_blocks, numpy_block_generators
    from simengine.bootstrap import COVERAGE_BLOCK

    q = math.nan if statistic in ("mean", "std", "var") else 0.5 if statistic == "median" else float(statistic[1])
    methods = tuple(methods)
    block = COVERAGE_BLOCK
    out = {m: (np.empty(n_sims), np.empty(n_sims)) for m in methods}
    alpha = (1.0 - confidence_level) / 2.0

    def draw(g: np.random.Generator) -> npt.NDArray[Any]:
        if distribution == "normal":
            return g.standard_normal(n)
        if distribution == "lognormal":
            return np.array([math.exp(z) for z in g.standard_normal(n)])
        if distribution == "exponential":
            return np.array([-math.log1p(-u) for u in g.random(n)])
        if distribution == "t3":
            z = g.standard_normal((n, 4))
            return z[:, 0] / np.sqrt((z[:, 1] * z[:, 1] + z[:, 2] * z[:, 2] + z[:, 3] * z[:, 3]) / 3.0)
        return np.where(g.random(n) < p, 1.0, 0.0)

    gens = numpy_block_generators(as_seed_sequence(rng), n_blocks(n_sims, block))
    for r in range(n_sims):
        g = gens[r // block]
        x = draw(g)
        idx = (g.random((n_resamples, n)) * n).astype(np.int64)
        if statistic in ("std", "var"):
            root = np.sqrt if statistic == "std" else (lambda v: v)
            s = np.cumsum(x)[-1]
            ss = np.cumsum((x - s / n) ** 2)[-1]
            theta_hat = root(ss / n)
            counts = np.zeros((n_resamples, n))
            for b in range(n_resamples):
                counts[b] = np.bincount(idx[b], minlength=n)
            means = np.cumsum(counts * x, axis=1)[:, -1] / n
            theta = np.sort(root(np.cumsum(counts * (x - means[:, None]) ** 2, axis=1)[:, -1] / n))
            jack = root(np.maximum(ss - (x - s / n) ** 2 * n / (n - 1.0), 0.0) / (n - 1))
        elif math.isnan(q):
            s = np.cumsum(x)[-1]  # the kernel's sequential sums
            theta_hat = s / n
            theta = np.sort(np.cumsum(x[idx], axis=1)[:, -1] / n)
            jack = (s - x) / (n - 1)
        else:
            x = np.sort(x)
            theta_hat = _linear_quantile(x, q)
            res = np.sort(x[idx], axis=1)
            theta = np.sort([_linear_quantile(row, q) for row in res])
            jack = np.array([_linear_quantile(np.delete(x, j), q) for j in range(n)])
        for m in methods:
            if m == "percentile":
                low, high = _linear_quantile(theta, alpha), _linear_quantile(theta, 1.0 - alpha)
            elif m == "basic":
                low = 2.0 * theta_hat - _linear_quantile(theta, 1.0 - alpha)
                high = 2.0 * theta_hat - _linear_quantile(theta, alpha)
            else:
                z0 = special.ndtri((np.sum(theta < theta_hat) + np.sum(theta <= theta_hat)) / (2.0 * n_resamples))
                u = jack.mean() - jack
                with np.errstate(invalid="ignore", divide="ignore"):
                    a = np.sum(u**3) / (6.0 * np.sum(u**2) ** 1.5)
                z_a = special.ndtri(alpha)
                a1 = special.ndtr(z0 + (z0 + z_a) / (1.0 - a * (z0 + z_a)))
                a2 = special.ndtr(z0 + (z0 - z_a) / (1.0 - a * (z0 - z_a)))
                low = _linear_quantile(theta, a1) if a1 == a1 else math.nan
                high = _linear_quantile(theta, a2) if a2 == a2 else math.nan
            out[m][0][r], out[m][1][r] = low, high
    return out


def bootstrap_coverage_loop(
    n: int = 30,
    n_resamples: int = 999,
    n_sims: int = 2000,
    confidence_level: float = 0.95,
    rng: SeedLike = None,
) -> dict[str, float]:
    """Coverage of the percentile, basic and BCa intervals for the mean of N(0, 1) samples: a NumPy loop over
    replicates, each resampled at once (an (n_resamples, n) index array), intervals by scipy's formulas."""
    from scipy import special

    rng = np.random.default_rng(rng)
    alpha = (1.0 - confidence_level) / 2.0
    hits = {"percentile": 0, "basic": 0, "BCa": 0}
    for _ in range(n_sims):
        x = rng.normal(size=n)
        theta_hat = x.mean()
        theta = x[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)
        lo, hi = np.quantile(theta, [alpha, 1.0 - alpha])
        jack = (x.sum() - x) / (n - 1)
        u = jack.mean() - jack
        a = np.sum(u**3) / (6.0 * np.sum(u**2) ** 1.5)
        z0 = special.ndtri((np.sum(theta < theta_hat) + np.sum(theta <= theta_hat)) / (2.0 * n_resamples))
        z = special.ndtri(np.array([alpha, 1.0 - alpha]))
        levels = special.ndtr(z0 + (z0 + z) / (1.0 - a * (z0 + z)))
        b_lo, b_hi = np.quantile(theta, levels)
        hits["percentile"] += lo <= 0.0 <= hi
        hits["basic"] += 2 * theta_hat - hi <= 0.0 <= 2 * theta_hat - lo
        hits["BCa"] += b_lo <= 0.0 <= b_hi
    return {m: h / n_sims for m, h in hits.items()}


def bootstrap_coverage_scipy(
    n: int = 30, n_resamples: int = 999, n_sims: int = 2000, confidence_level: float = 0.95, rng: SeedLike = None
) -> dict[str, float]:
    """The same coverage with scipy.stats.bootstrap per replicate: BCa resamples once, percentile and basic
    reuse its bootstrap distribution (``bootstrap_result=``, ``n_resamples=0``)."""
    from scipy import stats

    rng = np.random.default_rng(rng)
    hits = {"percentile": 0, "basic": 0, "BCa": 0}
    for _ in range(n_sims):
        x = rng.normal(size=n)
        res = stats.bootstrap((x,), np.mean, n_resamples=n_resamples, confidence_level=confidence_level,
                              method="BCa", rng=rng)
        for m in hits:
            ci = res.confidence_interval if m == "BCa" else stats.bootstrap(
                (x,), np.mean, n_resamples=0, bootstrap_result=res, confidence_level=confidence_level, method=m,
                rng=rng).confidence_interval
            hits[m] += ci.low <= 0.0 <= ci.high
    return {m: h / n_sims for m, h in hits.items()}


# --- point-in-time features (issue 19) ---


def pit_features_loop(events: Any, queries: Any, windows: Iterable[Any], aggs: Iterable[str] = ("sum", "count"),
                      closed: str = "left") -> dict[tuple[str, int], np.ndarray]:
    """The notebook's method: for each query, filter its entity's events to the window and aggregate.

    `events` / `queries` are dicts (or DataFrames) with "entity", "time", "value" columns; `windows` are
    durations in the times' units (timedeltas for datetimes).  Window of w at as-of q: q - w <= t < q
    ("left") or <= q ("both").  Returns {(agg, window index): values aligned with queries}.
    """
    e_ent = np.asarray(events["entity"])
    e_t = np.asarray(events["time"])
    e_v = np.asarray(events["value"], dtype=float)
    q_ent = np.asarray(queries["entity"])
    q_t = np.asarray(queries["time"])
    windows = list(windows)
    out: dict[tuple[str, int], np.ndarray] = {}
    for agg in aggs:
        for j in range(len(windows)):
            timed = agg == "time_since_last" and q_t.dtype.kind == "M"
            out[agg, j] = np.empty(len(q_t), dtype="m8[ns]" if timed else float)
    for i in range(len(q_t)):
        mine = e_ent == q_ent[i]
        for j, w in enumerate(windows):
            end = e_t[mine] <= q_t[i] if closed == "both" else e_t[mine] < q_t[i]
            keep = (e_t[mine] >= q_t[i] - w) & end
            vals = e_v[mine][keep]
            times = e_t[mine][keep]
            last = np.argmax(times) if vals.size else None
            if last is not None:  # the latest event; among equal times the last row (the input order)
                last = np.flatnonzero(times == times.max())[-1]
            for agg in aggs:
                if agg == "sum":
                    out[agg, j][i] = vals.sum()
                elif agg == "count":
                    out[agg, j][i] = vals.size
                elif agg == "mean":
                    out[agg, j][i] = vals.mean() if vals.size else np.nan
                elif agg == "min":
                    out[agg, j][i] = vals.min() if vals.size else np.nan
                elif agg == "max":
                    out[agg, j][i] = vals.max() if vals.size else np.nan
                elif agg == "last":
                    out[agg, j][i] = vals[last] if vals.size else np.nan
                elif q_t.dtype.kind == "M":
                    out[agg, j][i] = (q_t[i] - times[last]) if vals.size else np.timedelta64("NaT")
                else:
                    out[agg, j][i] = (q_t[i] - times[last]) if vals.size else np.nan
    return out


def pit_sum_count_pandas(events: Any, queries: Any, windows: Iterable[Any], closed: str = "left") -> Any:
    """Windowed sum and count as of each query with pandas: groupby cumulative sums + merge_asof.

    The fastest pandas formulation we found (faster than concatenating queries into the events and
    calling ``groupby().rolling()``): per-entity running sum/count at each event, then for each query the
    running totals just before the window start and at its end (``merge_asof`` by entity).  Window start
    inclusive, end exclusive ("left") or inclusive ("both").  Returns a DataFrame aligned with `queries`.
    """
    import pandas as pd

    ev = pd.DataFrame({"entity": events["entity"], "time": events["time"], "value": events["value"]})
    ev = ev.sort_values("time", kind="stable")
    grouped = ev.groupby("entity", sort=False)
    ev["csum"] = grouped["value"].cumsum()
    ev["ccount"] = grouped.cumcount() + 1
    right = ev[["time", "entity", "csum", "ccount"]]
    q = pd.DataFrame({"entity": queries["entity"], "time": queries["time"]})
    q["row"] = np.arange(len(q))
    q = q.sort_values("time", kind="stable")
    end = pd.merge_asof(q, right, on="time", by="entity", allow_exact_matches=closed == "both")
    e_sum = end["csum"].fillna(0.0).to_numpy()
    e_count = end["ccount"].fillna(0).to_numpy()
    rows = end["row"].to_numpy()
    out: dict[str, np.ndarray] = {}
    for j, w in enumerate(windows):
        starts = pd.merge_asof(q.assign(time=q["time"] - w), right, on="time", by="entity",
                               allow_exact_matches=False)
        s = np.empty(len(q))
        c = np.empty(len(q), dtype=np.int64)
        s[rows] = e_sum - starts["csum"].fillna(0.0).to_numpy()
        c[rows] = e_count - starts["ccount"].fillna(0).to_numpy()
        out[f"value_sum_{j}"] = s
        out[f"value_count_{j}"] = c
    return pd.DataFrame(out)


def pit_sum_count_polars(events: Any, queries: Any, windows: Iterable[Any], closed: str = "left") -> Any:
    """The same as `pit_sum_count_pandas` with polars (``cum_sum().over`` + ``join_asof`` by entity)."""
    import polars as pl

    ev = pl.DataFrame({"entity": events["entity"], "time": events["time"], "value": events["value"]})
    ev = ev.sort("entity", "time").with_columns(
        pl.col("value").cum_sum().over("entity").alias("csum"),
        pl.int_range(1, pl.len() + 1).over("entity").alias("ccount"),
    ).select("entity", "time", "csum", "ccount").sort("time")
    q = pl.DataFrame({"entity": queries["entity"], "time": queries["time"]}).with_row_index("row").sort("time")
    end = q.join_asof(ev, on="time", by="entity", allow_exact_matches=closed == "both",
                       check_sortedness=False)
    cols = [end["row"]]
    for j, w in enumerate(windows):
        if q["time"].dtype.is_temporal():  # a duration in the column's own unit (a Python timedelta is in us)
            import pandas as pd

            unit = q["time"].dtype.time_unit  # type: ignore[attr-defined]  # a Datetime dtype here
            w = pl.duration(nanoseconds=pd.Timedelta(w).value, time_unit=unit)
        start = q.with_columns(pl.col("time") - w).join_asof(ev, on="time", by="entity",
                                                              allow_exact_matches=False, check_sortedness=False)
        cols.append((end["csum"].fill_null(0.0) - start["csum"].fill_null(0.0)).alias(f"value_sum_{j}"))
        cols.append((end["ccount"].fill_null(0) - start["ccount"].fill_null(0)).alias(f"value_count_{j}"))
    return pl.DataFrame(cols).sort("row").drop("row")


def feature_events(n_events: int, n_entities: int, n_queries: int,
                   seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Benchmark input: events (integer entity ids, datetimes over a year in seconds, exponential values) in
    arrival order across entities but not sorted, and as-of queries; dicts of NumPy arrays."""
    g = np.random.default_rng(seed)
    t0 = np.datetime64("2024-01-01", "ns")
    year = 365 * 86400
    events = {"entity": g.integers(0, n_entities, n_events),
              "time": t0 + g.integers(0, year, n_events).astype("timedelta64[s]"),
              "value": g.exponential(20.0, n_events)}
    queries = {"entity": g.integers(0, n_entities, n_queries),
               "time": t0 + g.integers(0, year, n_queries).astype("timedelta64[s]")}
    return events, queries
