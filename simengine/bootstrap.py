"""Bootstrap confidence intervals with scipy.stats.bootstrap's semantics, batched over columns.

`bootstrap` resamples in compiled blocks (built-in statistics from how often each observation was
drawn, no resample is sorted) and turns each bootstrap distribution into a percentile, basic or BCa
interval with scipy's formulas (`simengine.kernels.bootstrap`).  `simulate_bootstrap_coverage` runs
the nested Monte Carlo (replicates x resamples) of their coverage; its kernels are in
`kernels/bootcov.py` and call the same interval kernels.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Union

import numpy as np
import numpy.typing as npt

from simengine import _validate as v
from simengine._long import check_progress, first_slice, run_blocks
from simengine._numba_compat import CPUDispatcher, NumbaError
from simengine._results import MEAN, SUM, MonteCarloResult, Result, proportion_se
from simengine._rng import as_seed_sequence, child_seed_sequence, n_blocks
from simengine._typing import Alternative, ArrayLike, FloatOrArray, IntOrArray, Progress, SeedLike, StrOrArray

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__ = ["bootstrap", "BootstrapResult", "ConfidenceInterval", "BOOT_BLOCK", "STATISTICS", "METHODS",
           "simulate_bootstrap_coverage", "SimulateBootstrapCoverageResult", "COVERAGE_BLOCK"]

# Resamples per random stream: a constant of the algorithm (never the thread count).  9 999 resamples
# make ten blocks, enough to keep two or four threads busy.
BOOT_BLOCK = 1000

# Work of one unit (resamples x (columns + 1) x observations): below it a unit is a whole block, above it
# a block runs as parts of fewer resamples (one column of 10**7 observations would make a block minutes).
_UNIT_OPS = 2**21

STATISTICS = ("mean", "median", "std", "var", "mean_diff", "median_diff", "ratio_of_means", "correlation")
_ONE_SAMPLE = ("mean", "median", "std", "var", "quantile")
METHODS = ("percentile", "basic", "BCa")
_METHOD_CODE = {"percentile": 0, "basic": 1, "bca": 2}

Statistic = Union[str, tuple[str, float], Callable[..., float]]

FloatArray = npt.NDArray[np.float64]


class ConfidenceInterval(NamedTuple):
    """A confidence interval ``(low, high)``, as scipy's ``ConfidenceInterval``: floats, or arrays per column."""

    low: FloatOrArray
    high: FloatOrArray


@dataclass(frozen=True, slots=True)
class BootstrapResult(Result):
    """Result of `bootstrap` (field names as in scipy's ``BootstrapResult``; like it, it does not unpack).

    Attributes
    ----------
    confidence_interval : ConfidenceInterval
        ``(low, high)`` named pair: floats for 1-D samples, arrays (one per column) for 2-D samples.
        A one-sided interval has ``low = -inf`` ("less") or ``high = inf`` ("greater").
    bootstrap_distribution : ndarray
        The statistic of every resample: shape ``(n_resamples,)`` for 1-D samples,
        ``(n_columns, n_resamples)`` for 2-D samples (the last axis is the resamples, as in scipy).
    standard_error : float or ndarray
        Bootstrap standard error: the standard deviation (ddof=1) of the bootstrap distribution.
    """

    confidence_interval: ConfidenceInterval
    bootstrap_distribution: np.ndarray = field(repr=False)
    standard_error: FloatOrArray

    def to_frame(self) -> pd.DataFrame:
        """One row per interval (low, high, standard_error); the distribution is in `to_dict`."""
        import pandas as pd

        return pd.DataFrame({
            "low": np.atleast_1d(self.confidence_interval.low),
            "high": np.atleast_1d(self.confidence_interval.high),
            "standard_error": np.atleast_1d(self.standard_error),
        })


# --------------------------------------------------------------------------- validation


def _check_statistic(statistic: object) -> tuple[str, float, Any]:
    """(kind, quantile q, jitted function or None)."""
    allowed = ("'mean', 'median', 'std', 'var', ('quantile', q), 'mean_diff', 'median_diff', 'ratio_of_means', "
               "'correlation' or a jitted function (decorated with @njit)")
    if isinstance(statistic, str):
        if statistic == "quantile":
            raise ValueError("`statistic` 'quantile' needs its level: pass ('quantile', q) with q in [0, 1]")
        return v.check_choice(statistic, "statistic", STATISTICS), math.nan, None
    if isinstance(statistic, tuple):
        if len(statistic) != 2 or statistic[0] != "quantile":
            raise ValueError(f"`statistic` as a tuple must be ('quantile', q); got {v._describe(statistic)}")
        return "quantile", v.check_real(statistic[1], "statistic", low=0.0, high=1.0), None
    if isinstance(statistic, CPUDispatcher):
        return "custom", math.nan, statistic
    if callable(statistic):
        raise TypeError(
            f"`statistic` must be {allowed}; got a plain Python callable "
            f"{getattr(statistic, '__name__', statistic)!r}. Decorate it with @njit (it receives one "
            "1-D float64 array per sample and must return a float)"
        )
    raise TypeError(f"`statistic` must be {allowed}; got {v._describe(statistic)}")


def _as_samples(data: object, axis: object) -> tuple[list[FloatArray], bool]:
    """Each sample as C-contiguous rows (k, n_j), one row per column, and whether the samples were 1-D."""
    if isinstance(data, np.ndarray) or not isinstance(data, (tuple, list)):
        raise TypeError(
            "`data` must be a tuple of samples, e.g. (x,) or (x, y) (as in scipy.stats.bootstrap); "
            f"got {v._describe(data) if not isinstance(data, np.ndarray) else f'an array of shape {data.shape}'}"
        )
    if len(data) == 0:
        raise ValueError("`data` must contain at least one sample")
    samples = [v.as_real_array(s, "data", ndim=(1, 2)) for s in data]
    ndim = samples[0].ndim
    if any(s.ndim != ndim for s in samples):
        raise ValueError("the samples in `data` must all be 1-D or all be 2-D; got "
                         + ", ".join(f"{s.ndim}-D" for s in samples))
    if ndim == 1:
        v.check_axis(axis, "axis", 1)
        rows = [s[None, :] for s in samples]
    else:
        ax = v.check_axis(axis, "axis", 2)
        rows = [np.ascontiguousarray(s.T) if ax == 0 else s for s in samples]
        widths = {r.shape[0] for r in rows}
        if len(widths) > 1:
            raise ValueError(
                f"the samples in `data` must have the same number of columns (intervals) across axis {1 - ax}; "
                f"got {sorted(widths)}"
            )
    for r in rows:
        if r.shape[1] < 2:
            raise ValueError("each sample in `data` must contain two or more observations along `axis`; "
                             f"got {r.shape[1]}")
    return rows, ndim == 1


def _check_method(method: object) -> int:
    """0 percentile, 1 basic, 2 BCa; case-insensitive as scipy's."""
    if isinstance(method, str) and method.lower() in _METHOD_CODE:
        return _METHOD_CODE[method.lower()]
    v.check_choice(method, "method", METHODS)  # raises, naming the choices
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- resampling


def _pcg64_state(seed_seq: np.random.SeedSequence) -> npt.NDArray[np.uint64]:
    """NumPy's PCG64 state of ``PCG64(seed_seq)`` as the kernels hold it: state high, low, increment high, low,
    has_uint32, uinteger (the last two are NumPy's layout, unused by the index draws)."""
    state = np.random.PCG64(seed_seq).state
    s, inc = int(state["state"]["state"]), int(state["state"]["inc"])
    mask = (1 << 64) - 1
    return np.array([s >> 64, s & mask, inc >> 64, inc & mask, state["has_uint32"], state["uinteger"]],
                    dtype=np.uint64)


def _resample(kind: str, q: float, func: Any, rows: list[FloatArray], paired: bool, n_res: int,
              ss: np.random.SeedSequence) -> tuple[FloatArray, FloatArray]:
    """(observed (k,), bootstrap distribution (k, n_res)) from the part kernel of the statistic's family.

    Blocks of BOOT_BLOCK resamples run as parts of `sub` resamples (one part when a block is cheap).  Work
    units are (block, part) pairs numbered part-major within groups of `threads` blocks, so a slice of
    `run_blocks` holds parts of several blocks; the blocks of a slice run on Python threads (the kernels
    release the GIL; `_long.threaded_blocks`), each block's parts in order with the block's own PCG64 stream,
    so the numbers depend neither on the thread count nor on the slicing.
    """
    import numba

    from simengine._long import first_slice, threaded_blocks
    from simengine.kernels import bootstrap as kb

    k = rows[0].shape[0]
    observed = np.empty(k)
    theta = np.empty((k, n_res))
    nb = n_blocks(n_res, BOOT_BLOCK)
    per_resample = sum(r.shape[1] for r in rows) * (k + 1)
    sub = max(1, min(BOOT_BLOCK, _UNIT_OPS // per_resample))
    parts = n_blocks(min(BOOT_BLOCK, n_res), sub)
    threads = max(1, numba.get_num_threads())
    x = rows[0]
    y = rows[1] if len(rows) > 1 else x
    head: tuple[Any, ...]
    if kind == "mean" and k == 1:  # one column: a kernel of its own, summed while drawing
        kernel, head = kb._mean1_part, (x,)
    elif kind in ("mean", "var", "std"):
        kernel, head = kb._moment1_part, (x, ("mean", "var", "std").index(kind))
    elif kind in ("median", "quantile"):
        order = np.argsort(x, axis=1, kind="stable")
        xs = np.take_along_axis(x, order, axis=1)
        level = 0.5 if kind == "median" else q
        if k == 1:  # one column: counted by sorted position (rank[j]: the position of observation j)
            rank = np.empty(x.shape[1], np.int64)
            rank[order[0]] = np.arange(x.shape[1])
            kernel, head = kb._order1_ranked_part, (xs, rank, level, kind == "median")
        else:
            kernel, head = kb._order1_part, (xs, order, level, kind == "median")
    elif kind in ("mean_diff", "ratio_of_means"):
        kernel, head = kb._moment2_part, (x, y, 0 if kind == "mean_diff" else 1, paired)
    elif kind == "median_diff":
        xo = np.argsort(x, axis=1, kind="stable")
        yo = np.argsort(y, axis=1, kind="stable")
        kernel, head = kb._order2_part, (np.take_along_axis(x, xo, axis=1), xo, np.take_along_axis(y, yo, axis=1),
                                         yo, paired)
    elif kind == "correlation":
        kernel, head = kb._corr_part, (x, y)
    elif kind == "_floor":  # benchmarks only: the draws alone
        kernel, head = kb._floor_part, (x,)
    elif len(rows) == 1:
        kernel, head = kb._custom1_part, (x, func)
    else:
        kernel, head = kb._custom2_part, (x, y, func, paired)

    states: dict[int, npt.NDArray[np.uint64]] = {}  # blocks under way (made on first use, dropped when done)

    def run_block(block: int, first_part: int, last_part: int) -> None:
        # made in the thread that runs the block (~20 us, beside the other threads' kernels); hashing the seeds
        # in a kernel (`_rng.slice_states`) would cost a first call ~2 s of compilation
        st = states.get(block)
        if st is None:
            st = states[block] = _pcg64_state(child_seed_sequence(ss, block))
        for part in range(first_part, last_part + 1):
            t0 = block * BOOT_BLOCK + part * sub
            t1 = min(t0 + sub, (block + 1) * BOOT_BLOCK, n_res)
            if t0 < t1:
                kernel(*head, st, t0, t1, observed, theta)
        if last_part == parts - 1:
            del states[block]

    group_units = threads * parts
    first = first_slice(sub * per_resample * 3e-9)
    if max(r.shape[1] for r in rows) <= kb._SMALL_N and nb * parts * sub * per_resample <= 5e7:
        # a call of ~0.05 s or less (~1 ns a resampled value with 16-bit chunks) runs in one slice: a second
        # would wait for the slowest thread and start the threads again
        first = nb * parts

    def call(lo: int, hi: int) -> None:
        spans: dict[int, list[int]] = {}  # block -> [first part, last part] of this slice, in order
        for u in range(lo, hi):
            gi, local = divmod(u, group_units)
            width = min(threads, nb - gi * threads)
            part, i = divmod(local, width)
            span = spans.setdefault(gi * threads + i, [part, part])
            span[1] = part
        items = [(block, p0, p1) for block, (p0, p1) in spans.items()]
        # the calling thread works too, and a thread takes the next block as it finishes one
        threaded_blocks(lambda j: run_block(*items[j]), 0, len(items))

    try:
        # no `progress` parameter (scipy's bootstrap has none): Ctrl-C is answered, no bar is drawn
        run_blocks(call, nb * parts, progress=False, desc="bootstrap", dispatchers=(kernel,), first=first)
    except NumbaError as exc:  # a custom statistic that does not compile for 1-D float64 arrays
        raise TypeError(
            f"`statistic` must be a jitted function of {len(rows)} 1-D float64 array(s) returning a float; "
            f"it could not be compiled for that ({v.compile_error_line(exc)})"
        ) from None
    except (ArithmeticError, LookupError, ValueError, TypeError, AssertionError) as exc:
        if kind != "custom":
            raise
        raise ValueError(f"`statistic` raised an exception on a resample: {type(exc).__name__}: {exc}") from None
    return observed, theta


# --------------------------------------------------------------------------- jackknife (BCa acceleration)


def _jack_moment(x: FloatArray, kind: str) -> FloatArray:
    """Leave-one-out mean / var / std (ddof=0) of each row of x (k, n), in closed form (O(n))."""
    n = x.shape[1]
    if kind == "mean":
        d = x - x[:, :1]
        out: FloatArray = x[:, :1] + (d.sum(axis=1, keepdims=True) - d) / (n - 1)
        return out
    e = x - x.mean(axis=1, keepdims=True)
    m = (e.sum(axis=1, keepdims=True) - e) / (n - 1)
    ss = np.maximum((e * e).sum(axis=1, keepdims=True) - e * e - (n - 1) * m * m, 0.0)
    var: FloatArray = ss / (n - 1)
    return var if kind == "var" else np.sqrt(var)


def _jack_order(x: FloatArray, q: float, median: bool) -> FloatArray:
    """Leave-one-out median / linear quantile of each row (as NumPy's), from the sorted row: O(n log n).

    Returned in the rows' own order (column i: observation i left out), which paired samples need.
    """
    order = np.argsort(x, axis=1, kind="stable")
    s = np.take_along_axis(x, order, axis=1)
    n = s.shape[1]
    m = n - 1
    p = np.arange(n)  # the sorted position left out

    def at(rank: int) -> FloatArray:  # value at `rank` of the row without position p
        return np.where(rank < p, s[:, rank, None], s[:, rank + 1, None])

    if median:
        lo, hi = (m - 1) // 2, m // 2
        by_position = at(lo) if lo == hi else (at(lo) + at(hi)) / 2.0
    else:
        h = (m - 1) * q
        lo = min(int(math.floor(h)), m - 1)
        hi = min(lo + 1, m - 1)
        a, b = at(lo), at(hi)
        t = h - lo
        diff = b - a
        by_position = b - diff * (1.0 - t) if t >= 0.5 else a + diff * t
    out = np.empty_like(by_position)
    np.put_along_axis(out, order, by_position, axis=1)
    return out


def _jack_corr(x: FloatArray, y: FloatArray) -> FloatArray:
    """Leave-one-out Pearson r of paired rows (k, n), from centred sums (O(n))."""
    n = x.shape[1]
    e = x - x.mean(axis=1, keepdims=True)
    f = y - y.mean(axis=1, keepdims=True)
    me = (e.sum(axis=1, keepdims=True) - e) / (n - 1)
    mf = (f.sum(axis=1, keepdims=True) - f) / (n - 1)
    sxx = (e * e).sum(axis=1, keepdims=True) - e * e - (n - 1) * me * me
    syy = (f * f).sum(axis=1, keepdims=True) - f * f - (n - 1) * mf * mf
    sxy = (e * f).sum(axis=1, keepdims=True) - e * f - (n - 1) * me * mf
    with np.errstate(invalid="ignore", divide="ignore"):
        r: FloatArray = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
    return r


def _accel_terms(jack: FloatArray) -> tuple[FloatArray, FloatArray]:
    """scipy's BCa acceleration terms of one sample's jackknife statistics (k, m): sum U^3 / m^3, sum U^2 / m^2."""
    m = float(jack.shape[1])
    d = jack - jack[:, :1]  # about the first value: a constant jackknife gives U = 0 exactly (and a = 0 / 0)
    u = (m - 1) * (d.mean(axis=1, keepdims=True) - d)
    return (u**3).sum(axis=1) / m**3, (u**2).sum(axis=1) / m**2


def _acceleration(kind: str, q: float, func: Any, rows: list[FloatArray], paired: bool) -> FloatArray:
    """BCa acceleration of each column: jackknife of each sample (the others kept whole), terms added."""
    from simengine.kernels import bootstrap as kb

    x = rows[0]
    jacks: list[FloatArray] = []
    if kind in ("mean", "var", "std"):
        jacks = [_jack_moment(x, kind)]
    elif kind in ("median", "quantile"):
        jacks = [_jack_order(x, q, kind == "median")]
    elif kind == "correlation":
        jacks = [_jack_corr(x, rows[1])]
    elif kind == "custom":
        k = x.shape[0]
        if len(rows) == 1:
            jacks = [kb._jackknife_custom1(x, func, np.empty((k, x.shape[1])))]
        elif paired:
            jacks = [kb._jackknife_custom2(x, rows[1], func, 2, np.empty((k, x.shape[1])))]
        else:
            jacks = [kb._jackknife_custom2(x, rows[1], func, w, np.empty((k, rows[w].shape[1]))) for w in (0, 1)]
    else:  # two-sample built-ins: each side's leave-one-out statistic combined with the other side's
        y = rows[1]
        if kind == "median_diff":
            jx, jy = _jack_order(x, 0.5, True), _jack_order(y, 0.5, True)
            fx, fy = np.median(x, axis=1, keepdims=True), np.median(y, axis=1, keepdims=True)
        else:
            jx, jy = _jack_moment(x, "mean"), _jack_moment(y, "mean")
            fx, fy = x.mean(axis=1, keepdims=True), y.mean(axis=1, keepdims=True)

        def combine(a: FloatArray, b: FloatArray) -> FloatArray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return a / b if kind == "ratio_of_means" else a - b

        jacks = [combine(jx, jy)] if paired else [combine(jx, fy), combine(fx, jy)]
    num = np.zeros(x.shape[0])
    den = np.zeros(x.shape[0])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for jack in jacks:
            a, b = _accel_terms(np.ascontiguousarray(jack, dtype=np.float64))
            num += a
            den += b
        return np.asarray(1 / 6 * num / den**1.5, dtype=np.float64)


def _intervals(theta: FloatArray, observed: FloatArray, accel: FloatArray, level: float, alt: int,
               method_code: int) -> tuple[FloatArray, FloatArray]:
    """(low, high) of each row of the bootstrap distribution, by the interval kernels.

    BCa's normal quantiles (z0 from the percentile of the observed statistic, z of the tail
    probability) are scipy's ndtri here, outside the kernel: numba's compile of the normal
    quantile alone would cost a user's first call a second.
    """
    from simengine.kernels import bootstrap as kb

    k, b = theta.shape
    s = np.sort(theta, axis=1)  # NaN last, as the kernels expect
    low = np.empty(k)
    high = np.empty(k)
    if method_code == 0:
        kb._intervals_percentile(s, level, alt, low, high)
    elif method_code == 1:
        kb._intervals_basic(s, observed, level, alt, low, high)
    else:
        from scipy.special import ndtri

        obs = observed[:, None]
        pct = (np.count_nonzero(s < obs, axis=1) + np.count_nonzero(s <= obs, axis=1)) / (2.0 * b)
        alpha = (1.0 - level) / 2.0 if alt == 0 else 1.0 - level
        kb._intervals_bca(s, np.asarray(ndtri(pct), dtype=np.float64), float(ndtri(alpha)), accel, alt, low, high)
    return low, high


def _standard_error(theta: FloatArray) -> FloatArray:
    """SD (ddof=1) of each row, about its first value (a constant row gives 0 exactly: np.std's mean of 0.1s
    is not 0.1) and scaled by its largest deviation (no overflow for data near the float limit)."""
    k, b = theta.shape
    if b < 2:
        return np.full(k, np.nan)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        d = theta - theta[:, :1]
        scale = np.max(np.abs(d), axis=1, keepdims=True)
        scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
        out: FloatArray = (d / scale).std(axis=1, ddof=1) * scale[:, 0]
    return out


# --------------------------------------------------------------------------- public


def bootstrap(
    data: Sequence[ArrayLike],
    statistic: Statistic = "mean",
    *,
    n_resamples: int = 9999,
    confidence_level: float = 0.95,
    method: Literal["percentile", "basic", "BCa"] = "BCa",
    alternative: Alternative = "two-sided",
    paired: bool = False,
    axis: int = 0,
    batch: int | None = None,
    rng: SeedLike = None,
) -> BootstrapResult:
    """Bootstrap confidence interval of a statistic, one interval per column.

    Same semantics, names and formulas as ``scipy.stats.bootstrap`` (Efron & Tibshirani 1993;
    percentile, basic and BCa intervals, scipy's one-sided intervals); differences from scipy:
    the statistic is a name or a numba-jitted function (not any Python callable), `data` must
    be finite (NaN and inf are refused), there is no `bootstrap_result` / `vectorized`, and
    `batch` changes nothing (the work always runs in fixed blocks).  Each sample in `data` is
    resampled independently (`paired=False`) or the rows of all samples together
    (`paired=True`), as in scipy.  Resamples are drawn in blocks of `BOOT_BLOCK`, each with its
    own stream, so the numbers depend only on the seed: not on the thread count, and not on
    the other columns (every column uses the same resample indices, as scipy does).  The
    indices are uniform, drawn four per 64-bit output of the block's PCG64 stream (16-bit
    chunks, each with Lemire's exact rejection; 32-bit chunks, two per output, when a sample
    has more than 2**16 observations), outputs taken in groups of eight (a draw drops the rest
    of the group it ends in), sample after sample, resample after resample: not NumPy's
    ``Generator.integers`` stream, which spends a 32-bit draw per index
    (`simengine.naive.bootstrap_indices` replays the rule in NumPy); "correlation" needs
    `paired=True`.

    Built-in statistics compute a resample's value from how often each observation was drawn
    (a resample is never sorted), so their values equal scipy's on the same indices up to
    rounding; a jitted statistic gets each resample in draw order, as scipy's ``x[idx]``.

    Parameters
    ----------
    data : tuple of array_like
        One or more samples, e.g. ``(x,)`` or ``(x, y)``; each 1-D, or all 2-D with one
        interval per column (observations along `axis`; e.g. 200 metrics in one call).
        Every sample needs at least two observations.
    statistic : str, ("quantile", q) or numba-jitted callable, default "mean"
        One sample: "mean", "median", "std" and "var" (NumPy's ``np.std`` / ``np.var``,
        ddof=0, as a scipy user passes ``np.std``; for ddof=1 multiply the interval of "std"
        by ``sqrt(n / (n - 1))`` (of "var" by ``n / (n - 1)``): every method is equivariant
        under that scaling), ``("quantile", q)`` (``np.quantile``'s default linear
        method).  Two samples ``(x, y)``: "mean_diff" (mean(x) - mean(y)), "median_diff",
        "ratio_of_means" (mean(x) / mean(y)) and "correlation" (Pearson r, `paired=True`
        only).  Or ``f(x) -> float`` / ``f(x, y) -> float`` compiled with ``numba.njit``,
        given each resample as 1-D float64 arrays (called from several threads: it must be
        pure).
    n_resamples : int, default 9999
        Number of resamples (>= 1).
    confidence_level : float, default 0.95
        In (0, 1).
    method : {"percentile", "basic", "BCa"}, default "BCa"
        Case-insensitive, as in scipy.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        scipy's: "less" gives ``(-inf, high)``, "greater" ``(low, inf)``, whose finite end is
        that of the two-sided interval at level ``1 - 2 (1 - confidence_level)``.
    paired : bool, default False
        Resample the rows of all samples together (same length required).
    axis : int, default 0
        Axis of 2-D samples along which the observations lie.
    batch : int or None, default None
        Accepted for scipy compatibility (a positive integer or None); results and memory do not
        depend on it.
    rng : None, int, SeedSequence or Generator
        Seed (SPEC 7).

    Returns
    -------
    BootstrapResult
        ``confidence_interval`` (``low``, ``high``), ``bootstrap_distribution`` and
        ``standard_error``; it does not unpack (scipy's does not either).

    Warns
    -----
    scipy.stats.DegenerateDataWarning
        When an end of an interval is NaN, as scipy warns: BCa when the statistic is constant
        under the jackknife (all observations equal, say: the acceleration is 0 / 0), or a
        custom statistic that returned NaN.

    Notes
    -----
    Degenerate data: when all observations of a sample are equal, the built-in statistics are
    computed from deviations from the first observation, so every resample gives exactly the
    observed value: "percentile" and "basic" give ``(c, c)``, the standard error is 0, and
    "BCa" gives NaN ends with a DegenerateDataWarning (as scipy does).  A statistic that is
    NaN on some resample (a "ratio_of_means" whose denominator resample has mean 0, a
    "correlation" of a resample with a constant side) makes the interval NaN with the same
    warning, as scipy's NaN-propagating quantile does.

    Raises
    ------
    ValueError
        Bad inputs (non-finite data, too few observations, a statistic that needs another number of
        samples, "correlation" without `paired`); too much work or memory.
    TypeError
        `data` not a tuple of samples; a statistic that is not one of the above.

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> x = np.random.default_rng(0).lognormal(size=60)
    >>> res = simengine.bootstrap((x,), "median", rng=1)
    >>> low, high = res.confidence_interval
    >>> print(f"median {np.median(x):.3f}, 95% BCa interval ({low:.3f}, {high:.3f}), se {res.standard_error:.3f}")
    median 1.105, 95% BCa interval (0.811, 1.430), se 0.171
    >>> metrics = np.random.default_rng(2).normal(size=(500, 200))  # 200 metrics, one interval each
    >>> simengine.bootstrap((metrics,), "mean", method="percentile", rng=3).confidence_interval.low.shape
    (200,)
    """
    kind, q, func = _check_statistic(statistic)
    rows, one_d = _as_samples(data, axis)
    n_samples = len(rows)
    if kind in _ONE_SAMPLE and n_samples != 1:
        raise ValueError(f"`statistic` {kind!r} is a one-sample statistic: `data` must hold one sample; "
                         f"got {n_samples}")
    if kind in STATISTICS and kind not in _ONE_SAMPLE and n_samples != 2:
        raise ValueError(f"`statistic` {kind!r} compares two samples: `data` must be (x, y); got {n_samples} sample(s)")
    if kind == "custom" and n_samples > 2:
        raise ValueError(f"a jitted `statistic` takes one or two samples; `data` holds {n_samples}")
    n_resamples = v.check_bounded_count(n_resamples, "n_resamples")
    confidence_level = v.check_probability(confidence_level, "confidence_level")
    method_code = _check_method(method)
    alt = v.alternative_code(alternative)
    paired = v.check_bool(paired, "paired")
    if batch is not None:
        v.check_positive_int(batch, "batch")
    if paired and len({r.shape[1] for r in rows}) > 1:
        raise ValueError("with `paired=True` all samples in `data` must have the same length along `axis`; got "
                         + ", ".join(str(r.shape[1]) for r in rows))
    if kind == "correlation" and not paired:
        raise ValueError("`statistic` 'correlation' needs `paired=True` (the pairs are resampled together)")
    ss = as_seed_sequence(rng)
    k = rows[0].shape[0]
    total = sum(r.shape[1] for r in rows)
    v.check_work(n_resamples * k * total, "`n_resamples` x columns x observations", unit="resampled values")
    # the distribution (k, B), a sorted row and scratch; the samples' rows, sorted copies and orders
    v.check_memory(8 * k * n_resamples + 16 * n_resamples + 40 * k * total, "`n_resamples` x columns",
                   what="the bootstrap distribution")

    observed, theta = _resample(kind, q, func, rows, paired, n_resamples, ss)
    accel = _acceleration(kind, q, func, rows, paired) if method_code == 2 else np.zeros(k)
    low, high = _intervals(theta, observed, accel, confidence_level, alt, method_code)
    if np.isnan(low).any() or np.isnan(high).any():
        from scipy.stats import DegenerateDataWarning

        warnings.warn(DegenerateDataWarning(
            "The BCa confidence interval cannot be calculated. This problem is known to occur when the "
            "distribution is degenerate or the statistic is np.min." if method_code == 2 else
            "The confidence interval is NaN: the statistic was NaN on the data or on some resample."
        ), stacklevel=2)
    se = _standard_error(theta)
    if one_d:
        return BootstrapResult(ConfidenceInterval(float(low[0]), float(high[0])), theta[0], float(se[0]))
    return BootstrapResult(ConfidenceInterval(low, high), theta, se)


# ---------------------------------------------------------------- coverage of bootstrap intervals

# Replicates per random stream of `simulate_bootstrap_coverage` (a constant of the algorithm): a
# replicate of n = 30 with 999 resamples costs ~0.3 ms, so a block is ~10 ms against ~0.1 ms for its
# Generator.  A block may be cut between slices (its Generator carries on), so Ctrl-C waits for at most
# one replicate.
COVERAGE_BLOCK = 32

BOOTSTRAP_METHODS = ("percentile", "basic", "BCa")
COVERAGE_DISTRIBUTIONS = ("normal", "lognormal", "exponential", "t3", "bernoulli")
_METHOD_CODES = {"percentile": 0, "basic": 1, "BCa": 2}


@dataclass(frozen=True, slots=True)
class SimulateBootstrapCoverageResult(MonteCarloResult):
    """Coverage and mean width of bootstrap intervals, one entry per (n, method) row.

    Rows run over `n`, then `methods` (the last fastest).  With one (n, method) every field is a
    scalar; otherwise each row field is a 1-D array.  `to_frame()` gives one row per (n, method)
    with the columns method, n, coverage, coverage_se, width, width_se, n_nan.  Does not unpack.

    Attributes
    ----------
    method, n : ndarray (or scalars)
        The interval method and sample size of each row.
    coverage, coverage_se : ndarray (or floats)
        Fraction of the `n_sims` simulated intervals containing `true_value` (ends included), and
        its Monte Carlo standard error.  An interval with a NaN end counts as not covering.
    width, width_se : ndarray (or floats)
        Mean width of the intervals with finite ends, and its standard error.
    n_nan : ndarray (or int)
        Intervals with a NaN end (BCa of a sample whose statistic is constant under the jackknife,
        where scipy.stats.bootstrap warns and returns NaN).
    distribution, statistic : str
    true_value : float
        The population value of `statistic` the intervals should cover.
    confidence_level : float
    n_resamples, n_sims : int
    """

    method: StrOrArray
    n: IntOrArray
    coverage: FloatOrArray
    coverage_se: FloatOrArray
    width: FloatOrArray
    width_se: FloatOrArray
    n_nan: IntOrArray
    distribution: str
    statistic: str
    true_value: float
    confidence_level: float
    n_resamples: int
    n_sims: int

    _estimates = {"coverage": MEAN, "width": MEAN}
    _combine_fields = {"n_nan": SUM}
    # never split: `width` is a mean over the finite intervals, which a replicate-weighted mean of
    # chunks would only approximate when some are NaN
    _chunk_size = None

    def to_frame(self) -> pd.DataFrame:
        """One row per (n, method): method, n, coverage, coverage_se, width, width_se, n_nan."""
        import pandas as pd

        rows = {}
        for name in ("method", "n", "coverage", "coverage_se", "width", "width_se", "n_nan"):
            value = getattr(self, name)
            if name == "method":
                rows[name] = np.array([value], dtype=object) if isinstance(value, str) else value
            else:
                rows[name] = np.atleast_1d(np.asarray(value, dtype=np.int64 if name in ("n", "n_nan") else np.float64))
        return pd.DataFrame(rows)


def _coverage_distribution(distribution: Any) -> tuple[str, float]:
    """(name, Bernoulli p) from `distribution`: a name, or ("bernoulli", p)."""
    if isinstance(distribution, tuple):
        if len(distribution) != 2 or distribution[0] != "bernoulli":
            raise ValueError(f'`distribution` as a tuple must be ("bernoulli", p); got {distribution!r}')
        p = v.check_real(distribution[1], "distribution", low=0.0, high=1.0, low_inclusive=False,
                         high_inclusive=False)
        return "bernoulli", p
    if not isinstance(distribution, str):
        raise TypeError(f'`distribution` must be a name, ("bernoulli", p) or a jitted sampler(g, x); '
                        f"got {v._describe(distribution)}")
    v.check_choice(distribution, "distribution", COVERAGE_DISTRIBUTIONS)
    return distribution, 0.5


def _coverage_statistic(statistic: Any) -> tuple[str, float]:
    """(label, q) from `statistic`: "mean", "std", "var" (q NaN), "median" (q 0.5) or ("quantile", q)."""
    if isinstance(statistic, tuple):
        if len(statistic) != 2 or statistic[0] != "quantile":
            raise ValueError(f'`statistic` as a tuple must be ("quantile", q); got {statistic!r}')
        q = v.check_real(statistic[1], "statistic", low=0.0, high=1.0)
        return f"quantile({q:g})", q
    if not isinstance(statistic, str):
        raise TypeError(f'`statistic` must be "mean", "median", "std", "var" or ("quantile", q); '
                        f"got {v._describe(statistic)}")
    v.check_choice(statistic, "statistic", ("mean", "median", "std", "var"))
    return statistic, (0.5 if statistic == "median" else math.nan)


def _true_value(dist: str, p: float, label: str, q: float) -> float:
    """The population mean, variance or SD (by `label`; q NaN) or q-quantile of `dist`."""
    from scipy import special

    if label in ("var", "std"):
        var = {"normal": 1.0, "lognormal": (math.e - 1.0) * math.e, "exponential": 1.0, "t3": 3.0,
               "bernoulli": p * (1.0 - p)}[dist]
        return math.sqrt(var) if label == "std" else var
    if math.isnan(q):
        return {"normal": 0.0, "lognormal": math.exp(0.5), "exponential": 1.0, "t3": 0.0, "bernoulli": p}[dist]
    if dist == "bernoulli":
        if q == 1.0 - p:
            raise ValueError(f"the {q:g}-quantile of Bernoulli({p:g}) is not unique (any value in [0, 1]); "
                             "choose another `statistic` or p")
        return 0.0 if q < 1.0 - p else 1.0
    if q in (0.0, 1.0) and dist != "bernoulli":
        raise ValueError(f"`statistic` quantile {q:g} of {dist} data is infinite or its support's end; "
                         "choose q in (0, 1)")
    if dist == "normal":
        return float(special.ndtri(q))
    if dist == "lognormal":
        return math.exp(float(special.ndtri(q)))
    if dist == "exponential":
        return -math.log1p(-q)
    return float(special.stdtrit(3.0, q))


def simulate_bootstrap_coverage(
    *,
    distribution: (Literal["normal", "lognormal", "exponential", "t3", "bernoulli"] | tuple[str, float]
                   | Callable[..., Any]),
    n: int | ArrayLike,
    statistic: Literal["mean", "median", "std", "var"] | tuple[str, float],
    methods: Sequence[Literal["percentile", "basic", "BCa"]] = ("percentile", "basic", "BCa"),
    confidence_level: float = 0.95,
    n_resamples: int = 999,
    n_sims: int = 2000,
    rng: SeedLike = None,
    progress: Progress = None,
    true_value: float | None = None,
) -> SimulateBootstrapCoverageResult:
    """Coverage and mean width of bootstrap confidence intervals at given sample sizes, by simulation.

    Each of `n_sims` replicates draws a sample of `n` from `distribution`, bootstraps `statistic`
    with `n_resamples` resamples and forms every interval of `methods` from the same bootstrap
    distribution (common random numbers across methods), with ``scipy.stats.bootstrap``'s
    formulas for a two-sided interval; coverage is the fraction containing the population value.
    scipy has no such simulation (it would call ``bootstrap`` once per replicate, re-evaluating a
    Python statistic on every resample); here the whole nested loop is compiled.  An array of `n`
    gives a coverage curve.

    Parameters
    ----------
    distribution : {"normal", "lognormal", "exponential", "t3", "bernoulli"}, ("bernoulli", p) or jitted function
        Standard normal, lognormal(0, 1), exponential(1), Student t with 3 df, Bernoulli(p)
        ("bernoulli" alone: p = 0.5); or a sampler: a numba-jitted ``sampler(g, x)`` that fills the
        1-D float64 array `x` (the sample, length n) with finite draws from the NumPy Generator `g`
        it is given (each block's own stream), with `true_value` the population value of
        `statistic`.  A sampler compiles in every process (its type is new each time), the built-in
        distributions once per machine.
    n : int or array_like of int
        Sample sizes (>= 2).
    statistic : {"mean", "median", "std", "var"} or ("quantile", q)
        As in `bootstrap`: "std" and "var" divide by n (NumPy's ddof=0); sample quantiles use the
        linear method (NumPy's default, scipy.stats.quantile's "linear").  The population value
        is the distribution's mean, SD, variance or q-quantile.
    methods : sequence of {"percentile", "basic", "BCa"}, default all three
        BCa's acceleration is the jackknife one, as in scipy.
    confidence_level : float, default 0.95
    n_resamples : int, default 999
        Bootstrap resamples per replicate.
    n_sims : int, default 2000
        Replicates (simulated samples) per `n`.
    rng : None, int, SeedSequence or Generator
        Seed (SPEC 7); replicates run in blocks of 32, each with its own stream.
    progress : None, True or False
        A progress bar on stderr: True always, False never, None only when stderr is a terminal and
        the call is expected to take more than ~2 s.  Ctrl-C stops the call within about a second.
    true_value : float, optional
        The population value of `statistic` under a sampler `distribution` (required then, and
        refused with a named distribution, whose value is known).

    Returns
    -------
    SimulateBootstrapCoverageResult
        One row per (n, method); ``to_frame()`` gives the table.

    Raises
    ------
    ValueError
        Bad inputs; a quantile of 0 or 1 of an unbounded distribution; a Bernoulli quantile at
        1 - p (not unique); more than 10^12 resample draws in one call.

    Notes
    -----
    A resample's index j is ``int(u * n)`` for one uniform draw u (the NumPy replay in
    `simengine.naive.bootstrap_coverage_replay` reproduces every number).  A BCa interval whose
    acceleration is undefined (the jackknife statistics all equal, e.g. a Bernoulli sample of one
    value) has NaN ends, as in scipy: it counts as not covering, is left out of `width` and is
    counted in `n_nan`.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_bootstrap_coverage(distribution="exponential", n=20, statistic="mean",
    ...                                             methods=("percentile", "BCa"), n_sims=1000, rng=1)
    >>> res.to_frame()[["method", "n", "coverage"]].round(3)
           method   n  coverage
    0  percentile  20     0.900
    1         BCa  20     0.911
    """
    sampler = distribution if isinstance(distribution, CPUDispatcher) else None
    if sampler is None:
        dist, p = _coverage_distribution(distribution)
        if true_value is not None:
            raise ValueError("`true_value` is given only with a sampler `distribution` (a named distribution's "
                             f"population value is known); got {true_value!r}")
    else:
        dist, p = getattr(sampler, "__name__", "sampler"), 0.5
        if true_value is None:
            raise ValueError("`true_value` (the population value of `statistic`) is required when "
                             "`distribution` is a sampler")
        true_value = v.check_real(true_value, "true_value")
    label, q = _coverage_statistic(statistic)
    n_arr = np.atleast_1d(v.as_count_array(n, "n", ndim=(0, 1), minimum=2))
    scalar_n = np.ndim(n) == 0
    if n_arr.size == 0:
        raise ValueError("`n` must not be empty")
    if isinstance(methods, str):
        methods = (methods,)  # type: ignore[assignment]  # one name passed as a string
    if not isinstance(methods, (tuple, list)):
        raise TypeError(f"`methods` must be a method name or a sequence of them; got {v._describe(methods)}")
    methods = tuple(v.check_choice(m, "methods", BOOTSTRAP_METHODS) for m in methods)
    if not methods:
        raise ValueError("`methods` must name at least one method")
    confidence_level = v.check_probability(confidence_level, "confidence_level")
    n_resamples = v.check_bounded_count(n_resamples, "n_resamples")
    n_sims = v.check_bounded_count(n_sims, "n_sims")
    progress = check_progress(progress)
    truth = _true_value(dist, p, label, q) if sampler is None else float(true_value)  # type: ignore[arg-type]
    ns = np.ascontiguousarray(n_arr.reshape(-1), dtype=np.int64)
    sum_n = int(ns.sum(dtype=object))
    v.check_work(n_sims * sum_n * (n_resamples + 1), "`n_sims` x `n` x `n_resamples`", unit="resample draws")
    import numba

    n_max = int(ns.max())
    v.check_memory((8 * (5 * n_max + 2 * n_resamples)) * numba.get_num_threads(), "`n` and `n_resamples`",
                   what="a sample and its bootstrap distribution on each thread")
    ss = as_seed_sequence(rng)

    from simengine._long import threaded_blocks
    from simengine.kernels import bootcov as k

    dcode = {"normal": k.NORMAL, "lognormal": k.LOGNORMAL, "exponential": k.EXPONENTIAL, "t3": k.T3,
             "bernoulli": k.BERNOULLI}.get(dist, -1)
    codes = np.array([_METHOD_CODES[m] for m in methods], dtype=np.int64)
    bca = "BCa" in methods
    block = COVERAGE_BLOCK
    nb = n_blocks(n_sims, block)
    jobs = ns.size * nb
    sums = np.zeros((jobs, len(methods), 4))
    moment = label in ("std", "var")
    kernel = k._coverage_moment1 if moment else k._coverage_mean1 if math.isnan(q) else k._coverage_quantile1
    if sampler is not None:
        kernel = _uncached(kernel)
    # BCa's z0 = ndtri(k / 2B) for the 2B + 1 possible percentiles of score (scipy's ndtri, tabulated once)
    from scipy import special

    ztab = special.ndtri(np.arange(2 * n_resamples + 1) / (2.0 * n_resamples))
    z_alpha = float(special.ndtri((1.0 - confidence_level) / 2.0))
    use_std = label == "std"
    carry: dict[int, np.random.Generator] = {}  # the Generator of a block cut at the end of the last slice

    def call(lo: int, hi: int) -> None:
        def job(jb: int) -> None:
            g = carry.pop(jb, None) or np.random.Generator(np.random.PCG64(child_seed_sequence(ss, jb)))
            i, b = divmod(jb, nb)
            r0 = b * block + max(lo - jb * block, 0)
            r1 = min(b * block + min(hi - jb * block, block), n_sims)
            if r0 < r1:
                if moment:
                    kernel(g, ns[i], r0, r1, dcode, p, sampler, use_std, truth, codes, confidence_level, ztab, z_alpha,
                           n_resamples, bca, sums[jb])
                elif math.isnan(q):
                    kernel(g, ns[i], r0, r1, dcode, p, sampler, truth, codes, confidence_level, ztab, z_alpha,
                           n_resamples, bca, sums[jb])
                else:
                    kernel(g, ns[i], r0, r1, dcode, p, sampler, q, truth, codes, confidence_level, ztab, z_alpha,
                           n_resamples, bca, sums[jb])
            if hi < (jb + 1) * block:
                carry[jb] = g

        threaded_blocks(job, lo // block, (hi - 1) // block + 1)

    if sampler is not None:  # compiled here, so that a sampler that does not fit fails before any work
        try:
            call_args = (np.random.default_rng(0), np.int64(2), 0, 0, dcode, p, sampler)
            tail = (truth, codes, confidence_level, ztab, z_alpha, n_resamples, bca, np.zeros((len(methods), 4)))
            if moment:
                kernel(*call_args, use_std, *tail)
            elif math.isnan(q):
                kernel(*call_args, *tail)
            else:
                kernel(*call_args, q, *tail)
        except NumbaError as exc:
            raise TypeError("`distribution` as a sampler must be a jitted function sampler(g, x) filling the "
                            f"float64 array x from the Generator g; it could not be compiled for that "
                            f"({v.compile_error_line(exc)})") from None
    # items are replicates (job * block + k); ~8 ns per resample draw
    per_item = 8e-9 * n_max * (n_resamples + 1)
    run_blocks(call, jobs * block, progress=progress, desc="simulate_bootstrap_coverage", dispatchers=(kernel,),
               first=first_slice(per_item * block) * block if per_item * block <= 0.1 else first_slice(per_item),
               unit="replicates")
    return _bootstrap_coverage_result(sums, ns, nb, methods, n_sims, scalar_n,
                                      dict(distribution=dist, statistic=label, true_value=truth,
                                           confidence_level=confidence_level, n_resamples=n_resamples))


_UNCACHED: dict[Any, Any] = {}


def _uncached(kernel: Any) -> Any:
    """The coverage kernel compiled without a disk cache, for a user's sampler: its numba type is new in every
    process, so a cache entry could never be reused and would only pile up (as the custom statistics)."""
    if kernel not in _UNCACHED:
        from simengine._jit import njit

        _UNCACHED[kernel] = njit(cache=False)(kernel.py_func)
    return _UNCACHED[kernel]


def _bootstrap_coverage_result(sums: np.ndarray, ns: np.ndarray, nb: int, methods: tuple[str, ...], n_sims: int,
                               scalar_n: bool, inputs: dict[str, Any]) -> SimulateBootstrapCoverageResult:
    """The result from the per-block sums, reduced in block order."""
    tot = sums.reshape(ns.size, nb, len(methods), 4).sum(axis=1)  # (sizes, methods, 4)
    cov = tot[:, :, 0] / n_sims
    n_nan = tot[:, :, 3].astype(np.int64)
    finite = np.maximum(n_sims - n_nan, 1).astype(np.float64)
    width = tot[:, :, 1] / finite
    var = np.maximum(tot[:, :, 2] / finite - width * width, 0.0) * finite / np.maximum(finite - 1.0, 1.0)
    width_se = np.sqrt(var / finite)
    width = np.where(n_nan == n_sims, np.nan, width)
    width_se = np.where(n_nan == n_sims, np.nan, width_se)
    rows: dict[str, Any] = {
        "method": np.tile(np.array(methods, dtype=object), ns.size),
        "n": np.repeat(ns, len(methods)),
        "coverage": cov.ravel(),
        "coverage_se": proportion_se(cov, n_sims).ravel(),
        "width": np.asarray(width).ravel(),
        "width_se": np.asarray(width_se).ravel(),
        "n_nan": n_nan.ravel(),
    }
    if scalar_n and len(methods) == 1:  # one (n, method): scalars, as a sweep row reads them
        rows = {name: value[0].item() if isinstance(value[0], np.generic) else value[0]
                for name, value in rows.items()}
    return SimulateBootstrapCoverageResult(**rows, n_sims=n_sims, **inputs)
