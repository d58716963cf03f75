"""Random-walk Metropolis-Hastings and the Vehtari et al. (2021) convergence diagnostics.

`metropolis_hastings` validates, builds the proposal Cholesky factor and one
PCG64 block state per chain, compiles the log density into a C function
(`kernels.mcmc.compile_density`), runs the cached chain kernel on its address (blocks of
chains in threads of its own, one block for short runs) and raises if a chain failed; the result computes R-hat and
ESS when first read.  `rhat`, `ess` and `mcse` validate and run the per-parameter
kernels of `kernels.diagnostics`, doing here only the normal-score table and the FFT
autocovariances of the rare series whose autocorrelations decay too slowly for direct sums.
"""
from __future__ import annotations

import functools
import math
import numbers
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numba
import numpy as np

from simengine._long import check_progress
from simengine._numba_compat import CPUDispatcher, NumbaError, compiled_entry_point
from simengine._results import Result
from simengine._rng import pcg64_block_states
from simengine._typing import ArrayLike, FloatOrArray, Progress, SeedLike
from simengine._validate import (
    MAX_COUNT,
    as_float_array,
    as_real_array,
    check_bool,
    check_choice,
    check_count,
    check_int,
    check_memory,
    check_positive_int,
    check_real,
    check_work,
)

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__ = ["MetropolisHastingsResult", "metropolis_hastings", "rhat", "ess", "mcse"]


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
        Bulk effective sample size per coordinate, all chains pooled (Vehtari et al. 2021):
        ``simengine.ess(samples)``.
    rhat : ndarray, shape (dim,)
        Split rank-normalised R-hat per coordinate: ``simengine.rhat(samples)``.  Both are
        computed together when either is first read (ranking the draws can cost more than
        sampling a short chain), then kept; NaN with fewer than 4 kept draws per chain.
    proposal_scale : ndarray, shape (n_chains,)
        Scale multiplying the proposal Cholesky factor after burn-in (the adapted value with ``adapt=True``).
    """

    samples: np.ndarray = field(repr=False)
    log_density: np.ndarray = field(repr=False)
    acceptance_rate: np.ndarray
    # unset slots until first read: the lookup then fails and `__getattr__` fills both
    ess: np.ndarray = field(init=False, compare=False)
    rhat: np.ndarray = field(init=False, compare=False)
    proposal_scale: np.ndarray

    def __getattr__(self, name):
        # called only when normal lookup fails, i.e. for `ess` / `rhat` before they are set
        if name not in ("ess", "rhat"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        samples = self.samples
        if samples.shape[1] >= 4:
            rhat_, ess_ = _diagnostics(samples)
        else:
            ess_ = np.full(samples.shape[2], np.nan)
            rhat_ = ess_.copy()
        object.__setattr__(self, "ess", ess_)  # frozen to users; a cache slot filled once here
        object.__setattr__(self, "rhat", rhat_)
        return ess_ if name == "ess" else rhat_

    def to_frame(self) -> pd.DataFrame:
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
    log_density: Callable[..., float],
    x0: ArrayLike,
    *,
    n_steps: int,
    proposal_scale: float = 1.0,
    proposal_cov: ArrayLike | None = None,
    n_chains: int = 4,
    burn_in: int = 0,
    thin: int = 1,
    adapt: bool = False,
    progress: Progress = None,
    rng: SeedLike = None,
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
    progress : None, True or False
        A progress bar on stderr: None (default) shows one only for long runs (at least
        2**20 steps in total, expected to take over 2 s) in an interactive session; True
        always, False never.  Runs of 2**20 steps or more (or with ``progress=True``) go to a
        worker thread so that Ctrl-C stops every chain within a segment of 65 536 steps
        and raises a plain KeyboardInterrupt; the chains are the same either way.
    rng : None, int, SeedSequence or Generator
        Randomness (SPEC 7).

    Returns
    -------
    MetropolisHastingsResult
        Its `rhat` and `ess` are computed when first read, so a call that does not read
        them does not pay for ranking the draws.

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
    so a NumPy loop with those Generators reproduces the chains exactly.  Runs of 2**16 steps or
    more in total split the chains into contiguous blocks, one thread each (numba's thread
    count); shorter runs take one thread.  After burn-in a
    chain may evaluate `log_density` at both possible next proposals before deciding the
    current step (it times this against one evaluation per step on its first steps and
    keeps the faster); the chain is the same either way, and a failure at a point the
    chain never proposes is ignored.  `log_density` should therefore be a pure function.

    The chain kernels are compiled once and cached on disk; a new `log_density` compiles
    only itself and a small C wrapper (``numba.cfunc``) through which the kernels call it,
    a fraction of a second, kept with the dispatcher for later calls.

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
    progress = check_progress(progress)
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
    density = _compiled_density(log_density)  # kept referenced for the call: the kernels hold its address only
    samples = np.empty((n_chains, kept, dim))
    logps = np.empty(samples.shape[:2])
    counts = np.empty((n_chains, 3), dtype=np.int64)  # accepted moves, status, failing step
    scales = np.empty(n_chains)
    fail_x = np.zeros((n_chains, dim))
    control = np.zeros(n_chains + 1, dtype=np.int64)  # stop flag, then steps done per chain
    args = (density.address, k.dim_tag(dim), x0, chol, proposal_cov is None, scale, n_steps, burn_in, thin, adapt,
            k.AUTO, k.CAN_TIME, pcg64_block_states(rng, n_chains), samples, logps, counts, scales, fail_x, control)
    blocks = _blocks(n_chains, n_steps)
    if n_chains * n_steps < _WATCHED_STEPS and progress is not True:
        failed = _run_blocks(k.chains, args, blocks)  # short: milliseconds at most, nothing to watch
    else:
        failed = _watched(k.chains, args, blocks, n_chains * n_steps, progress)
    if failed:
        _raise_failure(log_density, counts[:, 1], counts[:, 2], fail_x)
    return MetropolisHastingsResult(
        samples=samples,
        log_density=logps,
        acceptance_rate=counts[:, 0] / float(n_steps - burn_in),
        proposal_scale=scales,
    )


# Chains with at least this many steps in total run in a worker thread watched by the caller's
# thread, which answers Ctrl-C and draws the bar; shorter ones (milliseconds) are called directly.
_WATCHED_STEPS = 1 << 20
# Below this many steps in total the chains run one after another in one thread: starting threads
# would cost more than it saves (a step costs tens of nanoseconds).
_THREADED_STEPS = 1 << 16
# argument positions of the per-chain arrays (row-sliced per block) and of the control array
_PER_CHAIN = (2, 12, 13, 14, 15, 16, 17)
_CONTROL = 18


def _blocks(n_chains, n_steps):
    """(lo, hi) ranges of chains, one per thread: numba's thread count, fewer for short runs.

    Contiguous and as equal as possible (as a prange's static schedule); a chain's numbers
    never depend on the block it runs in.
    """
    threads = 1 if n_chains * n_steps < _THREADED_STEPS else min(n_chains, max(1, numba.get_num_threads()))
    return [(n_chains * b // threads, n_chains * (b + 1) // threads) for b in range(threads)]


def _block_args(args, lo, hi):
    """`args` for chains lo..hi-1 alone: row slices of the per-chain arrays, a control array of their own."""
    out = list(args)
    for i in _PER_CHAIN:
        out[i] = args[i][lo:hi]
    out[_CONTROL] = np.zeros(hi - lo + 1, dtype=np.int64)
    return tuple(out)


def _split(args, blocks):
    """Per-block argument tuples (the whole `args` for a single block)."""
    return [args] if len(blocks) == 1 else [_block_args(args, lo, hi) for lo, hi in blocks]


def _run_blocks(kernel, args, blocks):
    """Run the chain kernel on each block, in threads when there is more than one; True if a chain failed."""
    parts = _split(args, blocks)
    if len(parts) == 1:
        return _call(kernel, args)
    return _in_threads(kernel, parts)


def _in_threads(kernel, parts):
    """Run `kernel` on each argument tuple of `parts` in a thread of its own (the kernel releases the GIL).

    A kernel not yet compiled for these types compiles once: numba's compile lock makes the
    other threads wait for it.  Returns whether a chain failed.
    """
    import threading

    out: dict[int, Any] = {}

    def work(b, part):
        try:
            out[b] = _call(kernel, part)
        except BaseException as exc:  # handed to the caller's thread
            out[b] = exc

    threads = [threading.Thread(target=work, args=item, name="simengine-mh", daemon=True)
               for item in enumerate(parts)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        if any(thread.is_alive() for thread in threads):  # interrupted while joining: stop the chains first
            for part in parts:
                part[_CONTROL][0] = 1
            for thread in threads:
                thread.join()
    failed = False
    for b in range(len(parts)):
        if isinstance(out[b], BaseException):
            raise out[b]
        failed |= bool(out[b])
    return failed


def _watched(kernel, args, blocks, total_steps, progress):
    """Run the chain kernel in worker threads; Ctrl-C stops the chains within a segment.

    The kernel releases the GIL (nogil) and looks at ``control[0]`` every `SEGMENT` steps
    per chain, writing its progress to ``control[1:]``; the numbers never depend on it.
    """
    import threading

    from simengine._long import interruptible, needs_compile, show_progress

    parts = _split(args, blocks)
    controls = [part[_CONTROL] for part in parts]

    def steps_done():
        return sum(int(control[1:].sum()) for control in controls)

    out = {}

    def work():
        try:
            out["failed"] = _in_threads(kernel, parts) if len(parts) > 1 else _call(kernel, parts[0])
        except BaseException as exc:  # handed to the caller's thread
            out["error"] = exc

    from tqdm.auto import tqdm

    def new_bar():
        return tqdm(total=total_steps, desc="metropolis_hastings", unit="steps", file=sys.stderr)

    want_bar = progress is True or (progress is None and show_progress(None, None))
    bar = note = None
    if want_bar and needs_compile(kernel):
        note = tqdm(total=1, desc="compiling metropolis_hastings kernels (first call)", file=sys.stderr, leave=False)
    elif progress is True:  # asked for: shown from the start, however short the run
        bar = new_bar()
    thread = threading.Thread(target=work, name="simengine-mh", daemon=True)
    start = time.perf_counter()
    with interruptible() as flag:
        thread.start()
        try:
            while thread.is_alive():
                thread.join(0.05)
                if flag.requested:
                    for control in controls:
                        control[0] = 1  # every chain stops at its next segment boundary
                    thread.join()
                    flag.check()
                done = steps_done()
                if note is not None and done > 0:
                    note.update(1)
                    note.close()
                    note = None
                    start = time.perf_counter()
                if bar is None and want_bar and note is None and done > 0:
                    rate = done / max(time.perf_counter() - start, 1e-9)
                    if progress is True or show_progress(None, (total_steps - done) / max(rate, 1e-9)):
                        bar = new_bar()
                if bar is not None:
                    bar.update(max(0, done - bar.n))
        finally:
            if thread.is_alive():  # an error in this thread: stop the chains before leaving
                for control in controls:
                    control[0] = 1
                thread.join()
            if note is not None:
                note.close()
            if bar is None and progress is True:  # the chains finished before the first look
                bar = new_bar()
            if bar is not None:
                bar.update(max(0, steps_done() - bar.n))
                bar.close()
    if "error" in out:
        raise out["error"]
    return out["failed"]


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
# (kernel, dimension tag) -> compiled entry point: a repeated call skips numba's argument typing
_ENTRY_POINTS: dict[tuple[Any, int], Any] = {}


def _call(kernel, args):
    """``kernel(*args)``, through the compiled entry point once the kernel has been compiled for `args`.

    Safe because every argument's numba type is fixed by construction here: an int address, a
    tuple of float zeros (its length the dimension tag), C-contiguous float64 arrays of fixed
    rank, a uint64 state array, Python ints, floats and bools.
    """
    key = (kernel, len(args[1]))
    entry = _ENTRY_POINTS.get(key)
    if entry is not None:
        return entry(*args)
    out = kernel(*args)
    entry = compiled_entry_point(kernel, args)
    if entry is not None:
        _ENTRY_POINTS[key] = entry
    return out


# Attribute of the user's dispatcher holding its compiled C wrapper: it lives as long as the density
# (a cycle through the wrapper's closure, which the garbage collector frees), compiled once per density.
_CFUNC_ATTR = "_simengine_mh_cfunc"


def _compiled_density(log_density):
    """The ``numba.cfunc`` wrapping `log_density` for the chain kernels, compiled on first use."""
    density = getattr(log_density, _CFUNC_ATTR, None)
    if density is not None:
        return density
    try:
        density = _mcmc_kernels().compile_density(log_density)
    except NumbaError as exc:
        raise TypeError(
            "`log_density` must take a 1-D float64 array and return a float; numba could not "
            f"compile it for the sampler: {str(exc).splitlines()[0]}"
        ) from exc
    try:
        setattr(log_density, _CFUNC_ATTR, density)
    except AttributeError:  # a dispatcher that takes no attributes: compiled again next call
        pass
    return density


def _mcmc_kernels():
    global _K
    if _K is None:
        from simengine.kernels import mcmc

        _K = mcmc
    return _K


# --------------------------------------------------------------------------- diagnostics


def _as_draws(samples, name="samples"):
    """(chains, draws, params) C-contiguous float64 view of 1-D, 2-D or 3-D input; and the output shape."""
    arr = as_real_array(samples, name, ndim=(1, 2, 3), finite=False)
    shape: tuple[int, ...]
    if arr.ndim == 1:
        arr, shape = arr[None, :, None], ()
    elif arr.ndim == 2:
        arr, shape = arr[:, :, None], ()
    else:
        shape = (arr.shape[2],)
    if arr.shape[1] < 4:
        raise ValueError(f"`samples` needs at least 4 draws per chain for split chains; got {arr.shape[1]}")
    return np.ascontiguousarray(arr), shape


def _diag_kernels():
    from simengine.kernels import diagnostics

    return diagnostics


def _max_lag(n):
    """Lags summed directly before FFT autocovariances of chains of n draws are cheaper (measured)."""
    return max(32, 10 * int(2 * n).bit_length())


def _score_table(size):
    """Normal scores of ranks 1..size as arviz computes them: ndtri((r - 3/8) / (size + 1/4)).

    Kept for a few sizes up to 2**20 (8 MiB each): rhat and ess of the same draws, or
    the diagnostics of repeated chains, need the same table, which costs a third of a
    parameter's ranking.
    """
    return _score_table_cached(size) if size <= 2**20 else _score_table_of(size)


def _score_table_of(size):
    from scipy.special import ndtri

    return ndtri((np.arange(1.0, size + 1.0) - 0.375) / (size + 0.25))


_score_table_cached = functools.lru_cache(maxsize=4)(_score_table_of)


def _index_kind(size):
    """A 0-length array whose dtype the kernels use for orderings of `size` draws."""
    return _INDEX32 if size < 2**31 else _INDEX64


_INDEX32 = np.empty(0, dtype=np.int32)
_INDEX64 = np.empty(0, dtype=np.int64)


def _ess_fft(series, m, n):
    """ESS of each row of `series` (m split chains of n draws each) from FFT autocovariances.

    For the series whose Geyer sequence ran past `_max_lag` lags in the kernels; the
    autocovariances are arviz's (zero padding to a 5-smooth length >= 2n, divisor n).
    """
    from scipy.fft import next_fast_len

    y = series.reshape(-1, m, n)
    dev = y - y.mean(axis=2, keepdims=True)
    size = next_fast_len(2 * n, real=True)
    f = np.fft.rfft(dev, n=size, axis=2)
    f *= np.conjugate(f)
    acov = np.fft.irfft(f, n=size, axis=2)[:, :, :n] / n
    out = np.empty(series.shape[0])
    _diag_kernels().ess_from_acov(np.ascontiguousarray(series), m, n, np.ascontiguousarray(acov.mean(axis=1)), out)
    return out


# Parameters go through the kernels in chunks of about this many split draws, so their
# 2-D buffers (ranked, indicator or split series) stay near 32 MiB whatever the input.
_CHUNK_DRAWS = 2**22


def _chunks(params, size):
    """(lo, hi) ranges of parameters whose buffers of `size` draws each hold about `_CHUNK_DRAWS`."""
    step = max(1, _CHUNK_DRAWS // size)
    return [(lo, min(lo + step, params)) for lo in range(0, params, step)]


def _ess_rows(y, ok, m, n):
    """ESS of each row of `y` (m split chains of n draws; NaN where not `ok`), FFT route included."""
    out = np.empty(y.shape[0])
    fallback = np.zeros(y.shape[0], dtype=np.bool_)
    _diag_kernels().ess_rows(y, ok, m, n, _max_lag(n), out, fallback)
    if fallback.any():
        out[fallback] = _ess_fft(y[fallback], m, n)
    return out


def _ranked(x, want_rhat, want_ess):
    """(R-hat, bulk ESS) of each parameter of (chains, draws, params), from one ranking (each left unset unless
    wanted)."""
    kd = _diag_kernels()
    c, n, p = x.shape
    half = n // 2
    size = 2 * c * half
    table = _score_table(size)
    index_kind = _index_kind(size)
    rhat_ = np.empty(p)
    ess_ = np.empty(p)
    for lo, hi in _chunks(p, size):
        z = np.empty((hi - lo, size))
        ok = np.empty(hi - lo, dtype=np.bool_)
        if want_rhat:
            kd.rank_rhat(x, lo, hi, half, table, index_kind, z, ok, rhat_)
        else:
            redo = np.empty(hi - lo, dtype=np.bool_)
            kd.rank_scores(x, lo, hi, half, table, index_kind, z, ok, redo)
            for k in np.flatnonzero(redo).tolist():  # even-sized ties: half-integer ranks (rank_rhat has them)
                kd.rank_rhat(x, lo + k, lo + k + 1, half, table, index_kind, z[k : k + 1], ok[k : k + 1], rhat_)
        if want_ess:
            ess_[lo:hi] = _ess_rows(z, ok, 2 * c, half)
    return rhat_, ess_


def _tail_ess(x):
    """(ESS at the 5% quantile, ESS at the 95% quantile) of each parameter."""
    kd = _diag_kernels()
    c, n, p = x.shape
    half = n // 2
    size = 2 * c * half
    out = np.empty((p, 2))
    for lo, hi in _chunks(p, 2 * size):
        ind = np.empty((2 * (hi - lo), size))
        ok = np.empty(2 * (hi - lo), dtype=np.bool_)
        kd.tail_indicators(x, lo, hi, half, ind, ok)
        out[lo:hi] = _ess_rows(ind, ok, 2 * c, half).reshape(hi - lo, 2)
    return out[:, 0], out[:, 1]


def _mean_ess(x):
    """(ESS of the split chains, sd of all draws) of each parameter."""
    kd = _diag_kernels()
    c, n, p = x.shape
    half = n // 2
    size = 2 * c * half
    ess_ = np.empty(p)
    sd = np.empty(p)
    for lo, hi in _chunks(p, size):
        y = np.empty((hi - lo, size))
        ok = np.empty(hi - lo, dtype=np.bool_)
        kd.mean_split(x, lo, hi, half, y, ok, sd)
        ess_[lo:hi] = _ess_rows(y, ok, 2 * c, half)
    return ess_, sd


def _diagnostics(x):
    """(rhat, ess) of (chains, draws >= 4, params), from one sort of each parameter's draws."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    return _ranked(x, True, True)


def rhat(samples: ArrayLike) -> FloatOrArray:
    """Split, rank-normalised R-hat (Vehtari, Gelman, Simpson, Carpenter & Buerkner 2021).

    The maximum of the bulk R-hat (on rank-normalised split chains) and the tail
    R-hat (on rank-normalised split chains folded about their median).  Values
    above 1.01 suggest the chains have not mixed.  Equal to arviz's
    ``rhat(method="rank")``, except that one chain gives its split R-hat (as Stan)
    where arviz gives NaN.

    Parameters
    ----------
    samples : array_like, shape (n_chains, n_draws[, n_params])
        Draws, at least 4 per chain; a 1-D array is one chain.  A parameter with a
        non-finite draw gets NaN.

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
    out = _ranked(x, True, False)[0]
    return out if shape else float(out[0])


def ess(samples: ArrayLike, method: Literal["bulk", "tail"] = "bulk") -> FloatOrArray:
    """Effective sample size of MCMC draws (Vehtari et al. 2021), as arviz's ``ess``.

    ``"bulk"``: ESS of the rank-normalised split chains.  ``"tail"``: the smaller of
    the ESS of the indicators ``draw <= q`` for the 5% and 95% quantiles q of all draws
    (type 7), on split chains.  Autocorrelations are combined across chains (Gelman et
    al. BDA3, eq. 11.7) and truncated by Geyer's (1992) initial monotone sequence.

    Parameters
    ----------
    samples : array_like, shape (n_chains, n_draws[, n_params])
        Draws, at least 4 per chain; a 1-D array is one chain.  A parameter with a
        non-finite draw gets NaN.
    method : {"bulk", "tail"}, default "bulk"

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
    >>> 2000 < simengine.ess(draws, method="tail") < 5000
    True
    """
    method = check_choice(method, "method", ("bulk", "tail"))
    x, shape = _as_draws(samples)
    if method == "bulk":
        out = _ranked(x, False, True)[1]
    else:
        low, high = _tail_ess(x)
        out = np.where(high < low, high, low)  # Python's min(low, high), as arviz: a NaN `low` stays
    return out if shape else float(out[0])


def mcse(samples: ArrayLike) -> FloatOrArray:
    """Monte Carlo standard error of the mean of MCMC draws, as arviz's ``mcse(method="mean")``.

    The standard deviation of all draws (ddof 1) over the square root of the ESS of the
    (not rank-normalised) split chains.

    Parameters
    ----------
    samples : array_like, shape (n_chains, n_draws[, n_params])
        Draws, at least 4 per chain; a 1-D array is one chain.  A parameter with a
        non-finite draw gets NaN.

    Returns
    -------
    float or ndarray of shape (n_params,)

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> draws = np.random.default_rng(0).standard_normal((4, 1000))
    >>> 0.01 < simengine.mcse(draws) < 0.02
    True
    """
    x, shape = _as_draws(samples)
    ess_, sd = _mean_ess(x)
    out = sd / np.sqrt(ess_)
    return out if shape else float(out[0])
