"""Random-walk Metropolis-Hastings chains, one block Generator per chain.

The user's log density is a numba dispatcher passed in as a first-class function
(numba compiles this kernel once per density).  Failures never raise here: each
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


@njit
def _safe_logp1(log_density, x):
    """(value, status): the density's value, or status RAISED if it threw."""
    try:
        return log_density(x), OK
    except Exception:  # any user exception; the public layer re-raises it with context
        return math.nan, RAISED


def _mh_chains_impl(log_density, x0, chol, scale, n_steps, burn_in, thin, adapt, gens):
    """Run ``len(gens)`` chains of ``n_steps`` Gaussian random-walk steps in parallel.

    Proposal: ``x + scale_c * chol @ z`` with z standard normal (drawn one value at
    a time from the chain's Generator, then one uniform for the accept test, every
    step).  With `adapt`, ``log(scale_c)`` follows a Robbins-Monro recursion towards
    0.234 acceptance during the first `burn_in` steps and is frozen afterwards.

    Returns samples (chains, kept, dim), their log densities (chains, kept),
    accepted post-burn-in moves per chain, final scales, status and failing step
    per chain, and the point where a chain failed (chains, dim).
    """
    n_chains, dim = x0.shape
    kept = (n_steps - burn_in) // thin
    samples = np.empty((n_chains, kept, dim))
    logps = np.empty((n_chains, kept))
    accepted = np.zeros(n_chains, dtype=np.int64)
    scales = np.empty(n_chains)
    status = np.zeros(n_chains, dtype=np.int64)
    fail_step = np.full(n_chains, -1, dtype=np.int64)
    fail_x = np.zeros((n_chains, dim))
    for c in numba.prange(n_chains):
        g = gens[np.int64(c)]
        x = x0[c].copy()
        prop = np.empty(dim)
        z = np.empty(dim)
        lp, st = _safe_logp1(log_density, x)
        if st != OK or math.isnan(lp) or lp == math.inf:
            status[c] = RAISED if st != OK else NAN_DENSITY
            fail_step[c] = 0
            fail_x[c] = x
            scales[c] = scale
            continue
        if lp == -math.inf:
            status[c] = ZERO_DENSITY
            fail_step[c] = 0
            fail_x[c] = x
            scales[c] = scale
            continue
        log_s = math.log(scale)
        s = scale
        j = 0
        for t in range(n_steps):
            for d in range(dim):
                z[d] = g.standard_normal()
            for d in range(dim):
                acc = 0.0
                for e in range(d + 1):
                    acc += chol[d, e] * z[e]
                prop[d] = x[d] + s * acc
            u = g.random()
            lp_new, st = _safe_logp1(log_density, prop)
            if st != OK or math.isnan(lp_new) or lp_new == math.inf:
                status[c] = RAISED if st != OK else NAN_DENSITY
                fail_step[c] = t + 1
                fail_x[c] = prop
                break
            log_ratio = lp_new - lp
            take = log_ratio >= 0.0 or (u > 0.0 and math.log(u) < log_ratio)
            if take:
                x[:] = prop
                lp = lp_new
            if t < burn_in:
                if adapt:
                    alpha = 1.0 if log_ratio >= 0.0 else math.exp(log_ratio)
                    log_s += (alpha - TARGET_ACCEPT) / (t + 1.0) ** 0.6
                    s = math.exp(log_s)
            else:
                if take:
                    accepted[c] += 1
                k = t - burn_in + 1
                if k % thin == 0 and j < kept:
                    samples[c, j] = x
                    logps[c, j] = lp
                    j += 1
        scales[c] = s
    return samples, logps, accepted, scales, status, fail_step, fail_x


# One body, two builds: a single chain gains nothing from a parallel region, whose
# launch costs more than a short chain on a busy machine.
_mh_chains = pjit(_mh_chains_impl)
_mh_chains_serial = njit(_mh_chains_impl)


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
