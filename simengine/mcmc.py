"""Random-walk Metropolis-Hastings and the Vehtari et al. (2021) convergence diagnostics.

`metropolis_hastings` validates, builds the proposal Cholesky factor and one
PCG64 block state per chain, runs the kernels of `kernels.mcmc.mh_kernels` (one chain
without a parallel region) and raises if a chain failed.
`rhat` and `ess` are vectorised NumPy (FFT autocovariances) plus a small kernel for
Geyer's truncation.
"""
from __future__ import annotations

import math
import numbers
import platform
import weakref
from dataclasses import dataclass, field

import numpy as np

from simengine._numba_compat import CPUDispatcher, TypingError
from simengine._results import Result
from simengine._rng import pcg64_block_states
from simengine._validate import (
    MAX_COUNT,
    as_float_array,
    as_real_array,
    check_bool,
    check_count,
    check_int,
    check_memory,
    check_positive_int,
    check_real,
    check_work,
)

__all__ = ["MetropolisHastingsResult", "metropolis_hastings", "rhat", "ess"]


@dataclass(frozen=True, slots=True)
class MetropolisHastingsResult(Result):
    """Chains from `metropolis_hastings`.  Does not unpack.

    ``to_frame()`` gives the kept draws in long form: one row per chain and kept step,
    with columns ``chain``, ``draw``, ``x0`` ... ``x{dim-1}`` and ``log_density`` (as
    ArviZ's ``InferenceData.to_dataframe`` lays out posterior draws).

    Attributes
    ----------
    samples : ndarray, shape (n_chains, kept_steps, dim)
        Kept states: after `burn_in`, every `thin`-th step.
    log_density : ndarray, shape (n_chains, kept_steps)
        Log density at each kept state.
    acceptance_rate : ndarray, shape (n_chains,)
        Fraction of accepted proposals per chain after burn-in (all steps, not only kept ones).
    ess : ndarray, shape (dim,)
        Bulk effective sample size per coordinate, all chains pooled (Vehtari et al. 2021).
    rhat : ndarray, shape (dim,)
        Split rank-normalised R-hat per coordinate.  Both are NaN with ``diagnostics=False``
        or fewer than 4 kept draws per chain.
    proposal_scale : ndarray, shape (n_chains,)
        Scale multiplying the proposal Cholesky factor after burn-in (the adapted value with ``adapt=True``).
    """

    samples: np.ndarray = field(repr=False)
    log_density: np.ndarray = field(repr=False)
    acceptance_rate: np.ndarray
    ess: np.ndarray
    rhat: np.ndarray
    proposal_scale: np.ndarray

    def to_frame(self):
        """Kept draws, one row per (chain, draw): chain, draw, x0 .. x{dim-1}, log_density."""
        import pandas as pd

        n_chains, kept, dim = self.samples.shape
        cols = {
            "chain": np.repeat(np.arange(n_chains), kept),
            "draw": np.tile(np.arange(kept), n_chains),
        }
        flat = self.samples.reshape(n_chains * kept, dim)
        for j in range(dim):
            cols[f"x{j}"] = flat[:, j]
        cols["log_density"] = self.log_density.reshape(-1)
        return pd.DataFrame(cols)




def _check_log_density(log_density):
    if not isinstance(log_density, CPUDispatcher):
        kind = type(log_density).__name__
        raise TypeError(
            "`log_density` must be a numba-jitted function of a 1-D float64 array returning a float; "
            f"got a plain {kind}. Decorate it with `@numba.njit` (closures over arrays work too)"
        )


def metropolis_hastings(
    log_density,
    x0,
    *,
    n_steps,
    proposal_scale=1.0,
    proposal_cov=None,
    n_chains=4,
    burn_in=0,
    thin=1,
    adapt=False,
    diagnostics=True,
    rng=None,
) -> MetropolisHastingsResult:
    """Gaussian random-walk Metropolis-Hastings, several chains in parallel.

    Each chain proposes ``x' = x + s * L z`` with ``z ~ N(0, I)``, ``L`` the Cholesky
    factor of `proposal_cov` (identity if None) and ``s`` the proposal scale, and
    accepts with probability ``min(1, p(x') / p(x))`` (Metropolis et al. 1953;
    Hastings 1970).  Chains run in parallel, chain ``c`` drawing only from its own
    Generator spawned from `rng`, so results do not depend on the thread count.

    Parameters
    ----------
    log_density : numba dispatcher
        ``@numba.njit`` function of a 1-D float64 array returning the log density (up to
        a constant) as a float; ``-inf`` means zero density.  See `simengine.targets`.
    x0 : array_like, shape (dim,) or (n_chains, dim)
        Starting point, shared by all chains or one per chain.
    n_steps : int
        Steps per chain, including `burn_in`, in [1, 10**9]; `n_chains` x `n_steps` is at most 10**12, and
        the kept samples must fit in memory.
    proposal_scale : float, default 1.0
        Initial scale ``s``; with ``adapt=True`` only the starting value.
    proposal_cov : array_like, shape (dim, dim), optional
        Symmetric positive-definite proposal covariance (times ``s**2``).
    n_chains : int, default 4
        Number of chains, in [1, 10**9] (ignored in favour of ``x0.shape[0]`` when `x0` is 2-D).
    burn_in : int, default 0
        Initial steps discarded; must be < `n_steps`.
    thin : int, default 1
        Keep every `thin`-th step after burn-in; ``(n_steps - burn_in) // thin`` are kept.
    adapt : bool, default False
        Tune ``log s`` per chain during burn-in with a Robbins-Monro recursion (step size
        ``t**-0.6``) towards 0.234 acceptance (Roberts, Gelman & Gilks 1997), then freeze
        it, so the kept chain is a valid time-homogeneous Markov chain.  Needs ``burn_in > 0``.
    diagnostics : bool, default True
        Compute `rhat` and `ess` of the kept samples (NaN when False or with fewer than 4
        kept draws).  Ranking the draws can cost more than sampling a short chain.
    rng : None, int, SeedSequence or Generator
        Randomness (SPEC 7).

    Returns
    -------
    MetropolisHastingsResult

    Raises
    ------
    TypeError
        `log_density` is not a numba dispatcher.
    ValueError
        Bad arguments, or `log_density` returned NaN / +inf (or -inf at the start).
    RuntimeError
        `log_density` raised; the message names the chain and step, and the original
        exception is chained.

    Notes
    -----
    Chain ``c`` draws from ``np.random.Generator(np.random.PCG64(s_c))`` with ``s_c`` the
    c-th child of ``rng``'s SeedSequence, re-implemented inside the kernel (same numbers),
    so a NumPy loop with those Generators reproduces the chains exactly.  After burn-in a
    chain may evaluate `log_density` at both possible next proposals before deciding the
    current step (it times this against one evaluation per step on its first steps and
    keeps the faster); the chain is the same either way, and a failure at a point the
    chain never proposes is ignored.  `log_density` should therefore be a pure function.

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> from simengine import targets
    >>> f = targets.multivariate_normal([0.0, 0.0], [[1.0, 0.7], [0.7, 1.0]])
    >>> res = simengine.metropolis_hastings(f, np.zeros(2), n_steps=2000, burn_in=500,
    ...                                     proposal_scale=1.5, rng=1)
    >>> res.samples.shape
    (4, 1500, 2)
    >>> bool(np.all(res.rhat < 1.05))
    True
    """
    _check_log_density(log_density)
    n_steps = check_positive_int(n_steps, "n_steps")
    if n_steps > MAX_COUNT:
        check_count(n_steps, "n_steps")
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    if burn_in >= n_steps:
        raise ValueError(f"`burn_in` must be < `n_steps` ({n_steps}); got {burn_in}")
    thin = check_positive_int(thin, "thin")
    if thin > n_steps - burn_in:
        raise ValueError(f"`thin` must be <= `n_steps` - `burn_in` ({n_steps - burn_in}) to keep any step; got {thin}")
    adapt = check_bool(adapt, "adapt")
    diagnostics = check_bool(diagnostics, "diagnostics")
    if adapt and burn_in == 0:
        raise ValueError("`adapt=True` tunes the scale during burn-in; set `burn_in` > 0")
    if type(proposal_scale) is float and 0.0 < proposal_scale < math.inf:
        scale = proposal_scale
    else:
        scale = check_real(proposal_scale, "proposal_scale", low=0.0, low_inclusive=False)
    if type(x0) is np.ndarray and x0.dtype is _F64:  # the common case, without the wrapper's call (0.3 us)
        x0 = as_float_array(x0, "x0", ndim=(1, 2))
    else:
        x0 = as_real_array(x0, "x0", ndim=(1, 2))
    if x0.ndim == 1:
        n_chains = check_positive_int(n_chains, "n_chains")
        if n_chains > MAX_COUNT:
            check_count(n_chains, "n_chains")
        if n_chains * x0.shape[0] > 2**25:  # the starts alone: refuse before allocating them
            _check_sizes(n_chains, x0.shape[0], n_steps, (n_steps - burn_in) // thin)
        if n_chains == 1:
            x0 = x0.reshape(1, -1)
        else:
            starts = np.empty((n_chains, x0.shape[0]))
            starts[:] = x0
            x0 = starts
    else:
        if not isinstance(n_chains, numbers.Integral) or isinstance(n_chains, bool):
            raise TypeError(f"`n_chains` must be an integer; got {n_chains!r}")
    dim = x0.shape[1]
    if proposal_cov is None:
        chol = _NO_CHOL  # the kernels add s * z directly
    else:
        cov = as_real_array(proposal_cov, "proposal_cov", ndim=2)
        if cov.shape != (dim, dim):
            raise ValueError(f"`proposal_cov` must have shape ({dim}, {dim}) to match `x0`; got {cov.shape}")
        if not np.allclose(cov, cov.T, rtol=1e-10, atol=0.0):
            raise ValueError("`proposal_cov` must be symmetric")
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError("`proposal_cov` must be positive definite (its Cholesky factorisation failed)") from None
        chol = np.ascontiguousarray(chol)
    n_chains = x0.shape[0]
    kept = (n_steps - burn_in) // thin
    if n_chains * n_steps * (dim + 1) > 2**25:  # bounds both the kept samples and the work: one product
        _check_sizes(n_chains, dim, n_steps, kept)
    k = _mcmc_kernels()
    one, many = k.mh_kernels(dim)
    samples = np.empty((n_chains, kept, dim))
    logps = np.empty(samples.shape[:2])
    counts = np.empty((n_chains, 3), dtype=np.int64)  # accepted moves, status, failing step
    scales = np.empty(n_chains)
    fail_x = np.zeros((n_chains, dim))
    args = (log_density, x0, chol, proposal_cov is None, scale, n_steps, burn_in, thin, adapt, k.AUTO, _CAN_TIME,
            pcg64_block_states(rng, n_chains), samples, logps, counts, scales, fail_x)
    try:
        failed = _call(one if n_chains == 1 else many, args)
    except TypingError as exc:
        raise TypeError(
            "`log_density` must take a 1-D float64 array and return a float; numba could not "
            f"compile it inside the sampler: {str(exc).splitlines()[0]}"
        ) from exc
    if failed:
        _raise_failure(log_density, counts[:, 1], counts[:, 2], fail_x)
    if diagnostics and samples.shape[1] >= 4:
        rhat_, ess_ = _diagnostics(samples)
    else:
        ess_ = np.empty(dim)
        ess_.fill(np.nan)
        rhat_ = ess_.copy()
    return MetropolisHastingsResult(
        samples=samples,
        log_density=logps,
        acceptance_rate=counts[:, 0] / float(n_steps - burn_in),
        ess=ess_,
        rhat=rhat_,
        proposal_scale=scales,
    )


def _check_sizes(n_chains, dim, n_steps, kept):
    """Refuse chains whose total steps or kept samples exceed the shared limits (before any allocation)."""
    check_work(n_chains * n_steps, "`n_chains` x `n_steps`", unit="log-density evaluations")
    check_memory(8 * n_chains * (kept * (dim + 1) + 4 * dim + 8), "`n_chains` x kept steps x dim",
                 what="the kept samples and log densities")


def _raise_failure(log_density, status, fail_step, fail_x):
    """Raise for the first chain whose `status` is not OK, naming the step and the point."""
    k = _mcmc_kernels()
    bad = np.flatnonzero(status != k.OK)
    c = int(bad[0])
    step, where = int(fail_step[c]), np.array2string(fail_x[c], precision=6)
    if status[c] == k.RAISED:
        try:
            log_density(fail_x[c].copy())
        except Exception as exc:
            raise RuntimeError(
                f"`log_density` raised at step {step} of chain {c} (x = {where}): {exc!r}"
            ) from exc
        raise RuntimeError(f"`log_density` raised at step {step} of chain {c} (x = {where})")
    if status[c] == k.ZERO_DENSITY:
        raise ValueError(f"`x0` of chain {c} has zero density (`log_density` returned -inf at x = {where})")
    value = log_density(fail_x[c].copy())
    raise ValueError(
        f"`log_density` returned {value} at step {step} of chain {c} (x = {where}); "
        "it must return a finite float or -inf"
    )


_K = None
_F64 = np.dtype(np.float64)
_NO_CHOL = np.zeros((1, 1))  # stands in for the Cholesky factor of an identity proposal covariance
# the chain kernels time their two strategies with the x86 cycle counter; elsewhere they take the plain one
_CAN_TIME = platform.machine().lower() in ("x86_64", "amd64")
# log density -> {kernel: compiled entry point}: a repeated call skips numba's argument typing,
# which for a dispatcher argument alone costs a few microseconds
_ENTRY_POINTS = weakref.WeakKeyDictionary()


def _call(kernel, args):
    """``kernel(*args)``, through the compiled entry point once the kernel has been compiled for `args`.

    Safe because every argument's numba type is fixed by construction here: C-contiguous float64
    arrays of fixed rank, a uint64 state array, Python ints, floats and bools.
    """
    density = args[0]
    entry = _ENTRY_POINTS.get(density, {}).get(kernel)
    if entry is not None:
        return entry(*args)
    out = kernel(*args)
    import numba

    compiled = kernel.overloads.get(tuple(numba.typeof(a) for a in args))
    if compiled is not None:
        _ENTRY_POINTS.setdefault(density, {})[kernel] = compiled.entry_point
    return out


def _mcmc_kernels():
    global _K
    if _K is None:
        from simengine.kernels import mcmc

        _K = mcmc
    return _K




# --------------------------------------------------------------------------- diagnostics


def _as_draws(samples, name="samples"):
    """(chains, draws, params) float64 view of 1-D, 2-D or 3-D input; and the output shape."""
    arr = as_real_array(samples, name, ndim=(1, 2, 3), finite=False)
    if arr.ndim == 1:
        return arr[None, :, None], ()
    if arr.ndim == 2:
        return arr[:, :, None], ()
    return arr, (arr.shape[2],)


def _split(x):
    """Split each chain in two halves (dropping the middle draw of an odd chain)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def _average_ranks(v):
    """1-based ranks of a 1-D array, ties sharing their average rank."""
    order = np.argsort(v)  # any order of ties gives the same average ranks; the default sort is SIMD and ~7x faster
    sv = v[order]
    starts = np.flatnonzero(np.concatenate(([True], sv[1:] != sv[:-1])))
    ends = np.append(starts[1:], sv.size)
    avg = 0.5 * (starts + ends + 1.0)  # mean of ranks start+1 .. end
    ranks = np.empty(v.size)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def _z_scale(x):
    """Rank-normalise all draws of each parameter jointly: Phi^-1((rank - 3/8) / (S + 1/4))."""
    from scipy.special import ndtri

    c, n, p = x.shape
    flat = x.reshape(c * n, p)
    ranks = np.empty((c * n, p))
    for j in range(p):  # parameters, not replicates
        ranks[:, j] = _average_ranks(flat[:, j])
    return ndtri((ranks - 0.375) / (c * n + 0.25)).reshape(c, n, p)


def _rhat_basic(x):
    """Gelman-Rubin potential scale reduction on (chains, draws, params)."""
    n = x.shape[1]
    within = x.var(axis=1, ddof=1).mean(axis=0)
    between = n * x.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1.0) / n)


def _autocov(x):
    """Autocovariance (biased, divisor n) of each chain along axis 1, via zero-padded FFT."""
    n = x.shape[1]
    m = 1 << int(2 * n - 1).bit_length()
    dev = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(dev, n=m, axis=1)
    return np.fft.irfft(f * np.conjugate(f), n=m, axis=1)[:, :n] / n


def _ess_basic(x):
    """ESS of each parameter of (chains, draws, params) by Geyer's initial monotone sequence."""
    from simengine.kernels.mcmc import _geyer_tau1

    c, n, p = x.shape
    out = np.empty(p)
    acov = _autocov(x)
    mean_var = acov[:, 0, :].mean(axis=0) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if c > 1:
        var_plus = var_plus + x.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[None, :] - acov.mean(axis=0)) / var_plus[None, :]
    total = c * n
    for j in range(p):  # over parameters, not replicates
        col = x[:, :, j]
        if not np.isfinite(col).all():
            out[j] = np.nan
            continue
        if col.max() - col.min() < np.finfo(float).resolution:
            out[j] = total
            continue
        tau, ok = _geyer_tau1(np.ascontiguousarray(rho[:, j]))
        tau = max(tau, 1.0 / np.log10(total))
        out[j] = total / tau if ok else np.nan
    return out


def _rhat_from_split(s, z_bulk):
    bulk = _rhat_basic(z_bulk)
    folded = np.abs(s - np.median(s, axis=(0, 1), keepdims=True))
    tail = _rhat_basic(_z_scale(folded))
    return np.fmax(bulk, tail)


def _diagnostics(x):
    """(rhat, ess) of (chains, draws, params) sharing the rank-normalised split chains."""
    s = _split(x)
    z = _z_scale(s)
    r, e = _rhat_from_split(s, z), _ess_basic(z)
    bad = ~np.isfinite(x).all(axis=(0, 1))
    r[bad] = np.nan
    e[bad] = np.nan
    return r, e


def rhat(samples):
    """Split, rank-normalised R-hat (Vehtari, Gelman, Simpson, Carpenter & Buerkner 2021).

    The maximum of the bulk R-hat (on rank-normalised split chains) and the tail
    R-hat (on rank-normalised split chains folded about their median).  Values
    above 1.01 suggest the chains have not mixed.

    Parameters
    ----------
    samples : array_like, shape (n_chains, n_draws[, n_params])
        Draws; a 1-D array is one chain.

    Returns
    -------
    float or ndarray of shape (n_params,)

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> draws = np.random.default_rng(0).standard_normal((4, 1000))
    >>> round(float(simengine.rhat(draws)), 2)
    1.0
    """
    x, shape = _as_draws(samples)
    if x.shape[1] < 4:
        raise ValueError(f"`samples` needs at least 4 draws per chain for split R-hat; got {x.shape[1]}")
    s = _split(x)
    out = _rhat_from_split(s, _z_scale(s))
    out[~np.isfinite(x).all(axis=(0, 1))] = np.nan
    return out if shape else float(out[0])


def ess(samples):
    """Bulk effective sample size (Vehtari et al. 2021): ESS of rank-normalised split chains.

    Autocorrelations come from FFT autocovariances combined across chains
    (Gelman et al. BDA3, eq. 11.7) and are truncated by Geyer's (1992) initial
    monotone sequence.

    Parameters
    ----------
    samples : array_like, shape (n_chains, n_draws[, n_params])
        Draws; a 1-D array is one chain.

    Returns
    -------
    float or ndarray of shape (n_params,)

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> draws = np.random.default_rng(0).standard_normal((4, 1000))
    >>> 3000 < simengine.ess(draws) < 5000
    True
    """
    x, shape = _as_draws(samples)
    if x.shape[1] < 4:
        raise ValueError(f"`samples` needs at least 4 draws per chain for split ESS; got {x.shape[1]}")
    out = _ess_basic(_z_scale(_split(x)))
    out[~np.isfinite(x).all(axis=(0, 1))] = np.nan
    return out if shape else float(out[0])
