"""Random-walk Metropolis-Hastings chains, one block Generator per chain.

The user's log density is a numba dispatcher passed in as a first-class function
(numba compiles this kernel once per density).  The kernels that take it are not
cached on disk: a dispatcher's numba type differs in every process, so a cache entry
could never be reused and each process would only add another file to the cache.
Failures never raise here: each
chain reports a status and the step where it stopped; the public layer raises.
"""
import math

import numba
import numpy as np

from simengine._jit import njit, pjit

OK = 0
NAN_DENSITY = 1  # log density returned NaN (or +inf)
RAISED = 2  # log density raised an exception
ZERO_DENSITY = 3  # log density is -inf at the starting point

TARGET_ACCEPT = 0.234  # Roberts, Gelman & Gilks (1997) optimum for random-walk proposals


@njit(cache=False)  # specialised on the log density: see the module note
def _safe_logp1(log_density, x):
    """(value, status): the density's value, or status RAISED if it threw."""
    try:
        return log_density(x), OK
    except Exception:  # any user exception; the public layer re-raises it with context
        return math.nan, RAISED


@njit(cache=False)  # specialised on the log density: see the module note
def _mh_chain1(log_density, x0, chol, scale, n_steps, burn_in, thin, adapt, g, samples, logps, fail_x):
    """Run one chain of ``n_steps`` Gaussian random-walk steps from `x0`, drawing from `g`.

    Each step draws ``dim`` standard normals z, proposes ``x + s * chol @ z``, draws one
    standard exponential E and accepts when ``log p(x') - log p(x) >= -E`` (the same
    event as ``log U < log p(x') - log p(x)`` with ``U = exp(-E)`` uniform, without a log
    per step).  With `adapt`, ``log(s)`` follows a Robbins-Monro recursion towards 0.234
    acceptance during the first `burn_in` steps and is frozen afterwards.

    The state and the proposal are the two rows of a small pool and accepting flips
    which row is current, so acceptance is a data dependency rather than a branch the
    CPU mispredicts about half the time, and no state is copied.

    Fills `samples` (kept, dim) and `logps` (kept,) with every `thin`-th state after
    burn-in; on failure writes the offending point into `fail_x`.  Returns
    (accepted moves after burn-in, final scale, status, failing step or -1).
    """
    dim = x0.shape[0]
    pool = np.empty((2, dim))
    lps = np.empty(2)
    z = np.empty(dim)
    for d in range(dim):
        pool[0, d] = x0[d]
    lp, st = _safe_logp1(log_density, pool[0])
    if st != OK or math.isnan(lp) or lp == math.inf:
        fail_x[:] = x0
        return 0, scale, RAISED if st != OK else NAN_DENSITY, 0
    if lp == -math.inf:
        fail_x[:] = x0
        return 0, scale, ZERO_DENSITY, 0
    lps[0] = lp
    cur = 0
    log_s = math.log(scale)
    s = scale
    accepted = 0
    j = 0
    countdown = thin  # a counter, not `k % thin`: an integer division per step is not free
    for t in range(n_steps):
        for d in range(dim):
            z[d] = g.standard_normal()
        nxt = 1 - cur
        for d in range(dim):
            acc = 0.0
            for e in range(d + 1):
                acc += chol[d, e] * z[e]
            pool[nxt, d] = pool[cur, d] + s * acc
        neg_e = -g.standard_exponential()
        lp_new, st = _safe_logp1(log_density, pool[nxt])
        if st != OK or math.isnan(lp_new) or lp_new == math.inf:
            fail_x[:] = pool[nxt]
            return accepted, s, RAISED if st != OK else NAN_DENSITY, t + 1
        lps[nxt] = lp_new
        log_ratio = lp_new - lps[cur]
        take = np.int64(log_ratio >= neg_e)
        cur ^= take
        if t < burn_in:
            if adapt:
                alpha = 1.0 if log_ratio >= 0.0 else math.exp(log_ratio)
                log_s += (alpha - TARGET_ACCEPT) / (t + 1.0) ** 0.6
                s = math.exp(log_s)
        else:
            accepted += take
            countdown -= 1
            if countdown == 0:
                countdown = thin
                for d in range(dim):
                    samples[j, d] = pool[cur, d]
                logps[j] = lps[cur]
                j += 1
    return accepted, s, OK, -1


@njit
def _mh_outputs(n_chains, dim, n_steps, burn_in, thin):
    kept = (n_steps - burn_in) // thin
    samples = np.empty((n_chains, kept, dim))
    logps = np.empty((n_chains, kept))
    accepted = np.zeros(n_chains, dtype=np.int64)
    scales = np.empty(n_chains)
    status = np.zeros(n_chains, dtype=np.int64)
    fail_step = np.full(n_chains, -1, dtype=np.int64)
    fail_x = np.zeros((n_chains, dim))
    return samples, logps, accepted, scales, status, fail_step, fail_x


@pjit(cache=False)  # specialised on the log density: see the module note
def _mh_chains(log_density, x0, chol, scale, n_steps, burn_in, thin, adapt, gens):
    """Run ``len(gens)`` chains (`_mh_chain1`) in parallel, chain c drawing from ``gens[c]``.

    Returns samples (chains, kept, dim), their log densities (chains, kept),
    accepted post-burn-in moves per chain, final scales, status and failing step
    per chain, and the point where a chain failed (chains, dim).
    """
    n_chains, dim = x0.shape
    samples, logps, accepted, scales, status, fail_step, fail_x = _mh_outputs(n_chains, dim, n_steps, burn_in, thin)
    for c in numba.prange(n_chains):
        accepted[c], scales[c], status[c], fail_step[c] = _mh_chain1(
            log_density, x0[c], chol, scale, n_steps, burn_in, thin, adapt, gens[np.int64(c)],
            samples[c], logps[c], fail_x[c],
        )
    return samples, logps, accepted, scales, status, fail_step, fail_x


@njit(cache=False)  # specialised on the log density: see the module note
def _mh_chain(log_density, x0, chol, scale, n_steps, burn_in, thin, adapt, g):
    """`_mh_chains` for one chain (`x0` of shape (1, dim)) with its Generator passed directly:
    building a typed List and starting a parallel region cost more than a short chain."""
    samples, logps, accepted, scales, status, fail_step, fail_x = _mh_outputs(1, x0.shape[1], n_steps, burn_in, thin)
    accepted[0], scales[0], status[0], fail_step[0] = _mh_chain1(
        log_density, x0[0], chol, scale, n_steps, burn_in, thin, adapt, g, samples[0], logps[0], fail_x[0]
    )
    return samples, logps, accepted, scales, status, fail_step, fail_x


@njit
def _geyer_tau1(rho):
    """Integrated autocorrelation time from combined autocorrelations `rho` (rho[0] = 1).

    Geyer's (1992) initial positive sequence truncates at the first pair
    rho[2m] + rho[2m+1] that is negative; the initial monotone sequence then
    caps each pair by the previous one.  Follows the estimator of Vehtari et al.
    (2021, section 3.2), including Stan's bound tau >= 1 / log10(draws).
    Returns (tau, ok); `ok` is False when a NaN appeared.
    """
    n = rho.shape[0]
    r = np.zeros(n)
    r[0] = 1.0
    even = 1.0
    odd = rho[1]
    r[1] = odd
    t = 1
    while t < n - 3 and even + odd > 0.0:
        even = rho[t + 1]
        odd = rho[t + 2]
        if even + odd >= 0.0:
            r[t + 1] = even
            r[t + 2] = odd
        t += 2
    last = t - 2
    # a positive last even term still carries information (Stan's refinement)
    if even > 0.0:
        r[last + 1] = even
    t = 1
    while t <= last - 2:
        prev = r[t - 1] + r[t]
        if r[t + 1] + r[t + 2] > prev:
            r[t + 1] = prev / 2.0
            r[t + 2] = prev / 2.0
        t += 2
    total = 0.0
    for i in range(last + 1):
        total += r[i]
    tau = -1.0 + 2.0 * total
    if last + 1 < n:
        tau += r[last + 1]
    ok = True
    for i in range(n):
        if math.isnan(r[i]):
            ok = False
    return tau, ok
