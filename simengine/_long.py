"""Long calls: run a kernel's fixed blocks in slices, so that Ctrl-C and a progress bar work.

A Monte Carlo kernel here runs `n_blocks` fixed-size blocks, each with its own random
stream, and its per-block outputs are reduced in block order afterwards.  `run_blocks`
calls the kernel on consecutive ranges of blocks (slices of ~0.25 s once warm) and
concatenates what each slice returns, so the numbers never depend on the slicing.
Between slices it checks whether SIGINT arrived: during a call the signal only sets a
flag (a KeyboardInterrupt raised inside numba's dispatcher would surface as a
SystemError), and the call then raises a plain KeyboardInterrupt within a slice.
Nothing here imports a kernel.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:  # NumPy is imported only where used: `import simengine` stays light
    import numpy as np
    import numpy.typing as npt

_T = TypeVar("_T")

__all__ = [
    "interruptible", "run_blocks", "check_progress", "show_progress", "needs_compile", "first_slice", "check_target",
    "joined", "contiguous", "all_finite", "concatenate", "asarray",
]

# A slice aims at this many seconds once the kernel is warm: Ctrl-C answers within about that.
SLICE_SECONDS = 0.25
# A bar appears (progress=None) only for calls expected to take longer than this.
BAR_SECONDS = 2.0
# Array copies and checks of the input run in pieces of about this many bytes (~10-50 ms each), so that
# converting a huge input answers Ctrl-C too; inputs up to this size are one NumPy call, as before.
COPY_BYTES = 1 << 26
# A Python list or tuple longer than this converts to an array in pieces of this many items (NumPy's own
# conversion of a list of 10^8 numbers is several seconds without a check for Ctrl-C).
LIST_ITEMS = 1 << 20


def check_progress(progress: object, name: str = "progress") -> bool | None:
    """`progress` must be None, True or False."""
    if progress is None or progress is True or progress is False:
        return progress
    import numpy as np

    if isinstance(progress, np.bool_):
        return bool(progress)
    raise TypeError(f"`{name}` must be None, True or False; got {type(progress).__name__}")


def joined(parts: Sequence[Any]) -> Any:
    """The per-slice outputs of `run_blocks` as one array, in block order."""
    import numpy as np

    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def first_slice(block_seconds: float, budget: float = 0.1) -> int:
    """Blocks in the first slice of `run_blocks` from a rough estimate of one block's seconds.

    `run_blocks` sizes later slices from the time measured, but the first runs blind: with
    blocks of a second (10 000 looks, large samples) Ctrl-C would wait for all of them.
    At most 4 blocks per numba thread, at least one.
    """
    import numba

    threads: int = max(1, numba.get_num_threads())
    return threads * max(1, min(4, int(budget / max(block_seconds, 1e-12))))


def check_target(target_se: float | None, max_sims: int | None, n_sims: int) -> tuple[Any, Any]:
    """Validate `target_se` / `max_sims` of an adaptive (precision on demand) call.

    Returns (target_se, max_sims): (float, int), or (None, None) without a target.  `max_sims` defaults to
    1000 x `n_sims` (at most MAX_COUNT), must be in [`n_sims`, MAX_COUNT] (one round at
    least) and only applies with `target_se`.
    """
    import numbers

    import numpy as np

    from simengine._validate import MAX_COUNT, check_real

    if target_se is None:
        if max_sims is not None:
            raise ValueError("`max_sims` only applies with `target_se` (it caps a `target_se` run); give "
                             "`target_se` too, or leave `max_sims` None")
        return None, None
    target_se = check_real(target_se, "target_se", low=0.0, low_inclusive=False)
    if max_sims is None:
        return target_se, min(1000 * n_sims, MAX_COUNT)
    allowed = f"`max_sims` must be an integer in [`n_sims` = {n_sims}, {MAX_COUNT}]"
    if isinstance(max_sims, (bool, np.bool_)) or not isinstance(max_sims, numbers.Integral):
        raise TypeError(f"{allowed}; got {type(max_sims).__name__}")
    max_sims = int(max_sims)
    if not n_sims <= max_sims <= MAX_COUNT:
        raise ValueError(f"{allowed}; got {max_sims}")
    return target_se, max_sims


def show_progress(progress: bool | None, expected_seconds: float | None = None) -> bool:
    """Whether to draw a bar: True / False as given; None when stderr is a terminal and the call is long."""
    if progress is not None:
        return bool(progress)
    try:
        interactive = sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        interactive = False
    return interactive and (expected_seconds is None or expected_seconds > BAR_SECONDS)


def needs_compile(*dispatchers: Any) -> bool:
    """Whether any of these numba dispatchers has no compiled (or cache-loaded) signature yet."""
    return any(not getattr(d, "signatures", ()) for d in dispatchers)


class interruptible:
    """Context manager: SIGINT sets `requested` instead of raising inside a kernel.

    Only in the main thread and only while Python's default SIGINT handler is installed
    (a program with its own handler keeps it).  `check()` raises KeyboardInterrupt when
    the signal came; leaving the block raises it too if nothing else is propagating, so
    a Ctrl-C during the last slice is never lost.
    """

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None
        self._outer: interruptible | None = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def __enter__(self) -> interruptible:
        if threading.current_thread() is threading.main_thread():
            try:
                current = signal.getsignal(signal.SIGINT)
            except (ValueError, OSError):  # pragma: no cover - no signals on this platform/thread
                current = None
            if current is signal.default_int_handler:
                self._old = current
                signal.signal(signal.SIGINT, self._handler)
            elif isinstance(getattr(current, "__self__", None), interruptible):
                # nested in another long call's slice (a correction inside simulate_multiple_testing): the
                # signal sets the outer flag, which this one's checks read too
                self._outer = current.__self__  # type: ignore[union-attr]
        return self

    def check(self) -> None:
        outer = self._outer
        if self.requested or (outer is not None and outer.requested):
            self.requested = False
            if outer is not None:
                outer.requested = False
            raise KeyboardInterrupt

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None
        if exc_type is None and self.requested:
            raise KeyboardInterrupt
        return False


class _Helpers:
    """Daemon threads kept for `threaded_blocks`: starting a Python thread costs ~0.2-0.3 ms, a tenth of a
    call of a few milliseconds, and a call's blocks are taken by whichever threads are free.

    A task is a callable run once by one helper.  Forking drops them (a child has no such threads): see
    `_forget_helpers`.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._tasks: list[Callable[[], None]] = []
        self._threads: list[threading.Thread] = []

    def run(self, task: Callable[[], None], copies: int) -> None:
        """Queue `copies` runs of `task`, starting helpers until there are at least that many."""
        with self._cond:
            self._tasks.extend([task] * copies)
            while len(self._threads) < copies:
                t = threading.Thread(target=self._loop, daemon=True, name="simengine-helper")
                self._threads.append(t)
                t.start()
            self._cond.notify(copies)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._tasks:
                    self._cond.wait()
                task = self._tasks.pop(0)
            task()


_HELPERS = _Helpers()


def _forget_helpers() -> None:
    global _HELPERS
    _HELPERS = _Helpers()


if hasattr(os, "register_at_fork"):  # a forked child (multiprocessing, Dask's fork workers) starts its own
    os.register_at_fork(after_in_child=_forget_helpers)


def threaded_blocks(run_block: Callable[[int], _T], lo: int, hi: int) -> list[_T]:
    """``[run_block(b) for b in range(lo, hi)]``, the blocks spread over numba's thread count in Python threads.

    For serial kernels of one block each that release the GIL: a prange kernel costs ~2 s more to compile
    (numba's parfor passes and gufunc), and a block's output depends on its own stream alone, so the outputs
    do not depend on which thread ran which block.  The calling thread works too, with helpers kept between
    calls (`_Helpers`); each thread takes the next block as it finishes one.  A helper that starts after
    the blocks are all taken does nothing, so a call never waits for a helper busy elsewhere (a nested
    call, or another thread's).
    """
    import itertools

    import numba

    out: list[Any] = [None] * (hi - lo)
    threads = min(max(1, numba.get_num_threads()), hi - lo)
    if threads == 1:
        return [run_block(b) for b in range(lo, hi)]
    counter = itertools.count(lo)  # next() on it is atomic under the GIL
    errors: list[BaseException] = []
    done = threading.Condition()
    running = [0]
    closed = [False]

    def work() -> None:
        try:
            for b in counter:
                if b >= hi or errors:
                    return
                out[b - lo] = run_block(b)
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    def helper() -> None:
        with done:
            if closed[0]:
                return
            running[0] += 1
        try:
            work()
        finally:
            with done:
                running[0] -= 1
                done.notify_all()

    _HELPERS.run(helper, threads - 1)
    work()
    with done:
        closed[0] = True
        while running[0]:
            done.wait()
    if errors:
        raise errors[0]
    return out


def run_blocks(
    call: Callable[[int, int], _T],
    n_blocks: int,
    *,
    progress: bool | None = None,
    desc: str = "simulating",
    dispatchers: Sequence[Any] = (),
    first: int | None = None,
    unit: str = "blocks",
) -> list[_T]:
    """Run ``call(lo, hi)`` over consecutive block ranges covering ``[0, n_blocks)``; return the outputs in order.

    Parameters
    ----------
    call : callable
        ``call(lo, hi)`` runs blocks lo..hi-1 and returns their output (concatenated by
        the caller afterwards, in order: the result must not depend on the slicing).
    n_blocks : int
    progress : None, bool
        See `show_progress`; the bar counts `unit`.
    desc : str
        Bar label, e.g. "simulate_peeking".
    dispatchers : numba dispatchers
        The kernels `call` runs: when one is not compiled yet and a bar is wanted, the
        first slice shows as "compiling <desc> kernels (first call)".
    first : int, optional
        Blocks in the first slice (default: 4 per numba thread).
    """
    import numba

    threads = max(1, numba.get_num_threads())
    size = max(1, first if first is not None else 4 * threads)
    outs = []
    bar = None
    want_bar = progress is True or (progress is None and show_progress(None, None))
    compiling = want_bar and needs_compile(*dispatchers)
    lo = 0
    with interruptible() as flag:
        try:
            while lo < n_blocks:
                hi = min(n_blocks, lo + size)
                if compiling:
                    from tqdm.auto import tqdm

                    note = tqdm(total=1, desc=f"compiling {desc} kernels (first call)", file=sys.stderr, leave=False)
                start = time.perf_counter()
                outs.append(call(lo, hi))
                elapsed: float | None = time.perf_counter() - start
                if compiling:
                    note.update(1)
                    note.close()
                    compiling = False
                    elapsed = None  # the compile says nothing about the speed
                flag.check()
                done = hi - lo
                lo = hi
                if bar is not None:
                    bar.update(done)
                if elapsed is not None and elapsed > 0:
                    per_block = elapsed / done
                    if bar is None and want_bar and lo < n_blocks:
                        if progress is True or show_progress(None, per_block * (n_blocks - lo)):
                            from tqdm.auto import tqdm

                            bar = tqdm(total=n_blocks, initial=lo, desc=desc, unit=unit, file=sys.stderr)
                    size = max(1, min(int(SLICE_SECONDS / per_block), 4 * size))
                elif elapsed is None:
                    size = max(size, 4 * threads)
                else:
                    size *= 4
        finally:
            if bar is not None:
                bar.close()
    return outs


def _pieces(shape: tuple[int, ...], itemsize: int) -> list[tuple[int | slice, ...]]:
    """Index tuples covering a 1-D or 2-D array of `shape` in C order, each about COPY_BYTES."""
    per = max(1, COPY_BYTES // max(1, itemsize))
    if len(shape) == 1:
        return [(slice(a, min(a + per, shape[0])),) for a in range(0, shape[0], per)]
    rows, cols = shape
    if cols >= per:  # long rows: pieces of one row
        return [(i, slice(a, min(a + per, cols))) for i in range(rows) for a in range(0, cols, per)]
    step = max(1, per // max(1, cols))
    return [(slice(a, min(a + step, rows)),) for a in range(0, rows, step)]


def contiguous(arr: np.ndarray, dtype: npt.DTypeLike | None = None) -> np.ndarray:
    """``np.ascontiguousarray(arr, dtype)`` with the shape kept (0-d too), answering Ctrl-C on huge input.

    Up to COPY_BYTES (and for arrays of more than two dimensions) this is one NumPy call; a
    larger 1-D or 2-D array is copied piece by piece (rows, or parts of one long row) with
    SIGINT checked between pieces.  The values are those of the one-call conversion: an
    element's cast does not depend on which piece it is in.
    """
    import numpy as np

    dtype = arr.dtype if dtype is None else np.dtype(dtype)
    if arr.dtype == dtype and arr.flags.c_contiguous:
        return arr
    size = max(arr.itemsize, dtype.itemsize) * arr.size
    if arr.ndim not in (1, 2) or size <= COPY_BYTES:
        return np.asarray(arr, dtype=dtype, order="C")
    out = np.empty(arr.shape, dtype=dtype)
    with interruptible() as flag:
        for piece in _pieces(arr.shape, max(arr.itemsize, dtype.itemsize)):
            out[piece] = arr[piece]
            flag.check()
    return out


def all_finite(arr: np.ndarray) -> bool:
    """``np.isfinite(arr).all()`` for a C-contiguous array, in pieces (Ctrl-C answered, memory bounded)."""
    import numpy as np

    if arr.size * arr.itemsize <= COPY_BYTES:
        return bool(np.isfinite(arr).all())
    flat = arr.reshape(-1)
    with interruptible() as flag:
        for (piece,) in _pieces(flat.shape, arr.itemsize):
            if not np.isfinite(flat[piece]).all():
                return False
            flag.check()
    return True


def concatenate(parts: Sequence[np.ndarray], dtype: npt.DTypeLike | None = None) -> np.ndarray:
    """``np.concatenate(parts)`` of 1-D arrays (cast to `dtype`), copied in pieces with Ctrl-C answered between them."""
    import numpy as np

    dtype = np.result_type(*parts) if dtype is None else np.dtype(dtype)
    total = sum(p.shape[0] for p in parts)
    if total * dtype.itemsize <= COPY_BYTES:
        return np.concatenate(parts).astype(dtype, copy=False)
    out = np.empty(total, dtype=dtype)
    at = 0
    with interruptible() as flag:
        for part in parts:
            step = max(1, COPY_BYTES // max(part.itemsize, dtype.itemsize))
            for a in range(0, part.shape[0], step):
                b = min(a + step, part.shape[0])
                out[at + a:at + b] = part[a:b]
                flag.check()
            at += part.shape[0]
    return out


def asarray(value: Any) -> np.ndarray:
    """``np.asarray(value)``; a long list or tuple is converted in pieces of items, Ctrl-C answered between them.

    The pieces' arrays must agree in shape beyond the first axis (else ValueError, as NumPy raises for ragged
    input); the result has their common dtype (``np.result_type``), as one call would give for numbers.
    """
    import numpy as np

    if not isinstance(value, (list, tuple)) or len(value) <= LIST_ITEMS:
        return np.asarray(value)
    pieces = []
    with interruptible() as flag:
        for a in range(0, len(value), LIST_ITEMS):
            pieces.append(np.asarray(value[a:a + LIST_ITEMS]))
            flag.check()
    if any(p.shape[1:] != pieces[0].shape[1:] or p.ndim != pieces[0].ndim for p in pieces):
        raise ValueError("setting an array element with a sequence: the input is ragged")
    dtype = np.result_type(*pieces)
    out = np.empty((len(value),) + pieces[0].shape[1:], dtype=dtype)
    with interruptible() as flag:
        at = 0
        for p in pieces:
            out[at:at + p.shape[0]] = p
            at += p.shape[0]
            flag.check()
    return out
