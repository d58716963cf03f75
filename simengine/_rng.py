"""Random-number handling: SPEC 7 `rng` normalisation and per-block generators.

Monte Carlo work is cut into blocks of a fixed number of replicates; block ``i``
always draws from the same child stream of the caller's seed, so results depend
only on the seed and the parameters, never on the thread count or the scheduler.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from simengine._typing import SeedLike

__all__ = [
    "as_seed_sequence",
    "child_seed_sequence",
    "block_generators",
    "block_generator",
    "numpy_block_generators",
    "pcg64_block_states",
    "slice_states",
    "n_blocks",
    "RNGLike",
]

RNGLike = SeedLike  # what `rng` accepts: None | int | SeedSequence | Generator


def as_seed_sequence(rng: SeedLike = None, name: str = "rng") -> np.random.SeedSequence:
    """Normalise a SPEC 7 `rng` argument to a SeedSequence.

    ``None`` draws fresh OS entropy; an int or a SeedSequence is used as is
    (so the same value always gives the same numbers); a Generator is consumed:
    four 64-bit words are drawn from it to seed the sequence, so successive
    calls with one Generator give different, reproducible streams.
    """
    if rng is None:
        return np.random.SeedSequence()
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        words = rng.integers(0, 2**63, size=4, dtype=np.uint64)
        return np.random.SeedSequence([int(w) for w in words])
    if isinstance(rng, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be None, an int, a SeedSequence or a Generator; got a bool")
    if isinstance(rng, numbers.Integral):
        if int(rng) < 0:
            raise ValueError(f"`{name}` must be a non-negative int seed; got {int(rng)}")
        return np.random.SeedSequence(int(rng))
    if isinstance(rng, np.random.RandomState):
        raise TypeError(
            f"`{name}` must be None, an int, a SeedSequence or a Generator; "
            "legacy RandomState is not supported (use np.random.default_rng(seed))"
        )
    raise TypeError(
        f"`{name}` must be None, an int, a SeedSequence or a Generator; got {type(rng).__name__}"
    )


def child_seed_sequence(seed_seq: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    """The child of `seed_seq` at `key`, without mutating `seed_seq`.

    Equal to what ``seed_seq.spawn`` would give for the same spawn key, but
    deterministic: asking twice for the same key gives the same stream.
    """
    return np.random.SeedSequence(
        entropy=seed_seq.entropy,
        spawn_key=tuple(seed_seq.spawn_key) + tuple(int(k) for k in key),
        pool_size=seed_seq.pool_size,
    )


def n_blocks(n_sims: int, block_size: int) -> int:
    """Number of blocks of `block_size` replicates needed for `n_sims` (last may be short)."""
    return -(-int(n_sims) // int(block_size))


def numpy_block_generators(seed_seq: np.random.SeedSequence, count: int) -> list[np.random.Generator]:
    """Plain list of the `count` block Generators (for NumPy replays in tests)."""
    return [np.random.Generator(np.random.PCG64(child_seed_sequence(seed_seq, i))) for i in range(count)]


def block_generator(rng: SeedLike, index: int = 0, name: str = "rng") -> np.random.Generator:
    """The Generator of block `index` for a SPEC 7 `rng` argument.

    The same stream as ``numpy_block_generators(as_seed_sequence(rng), index + 1)[index]``;
    for an int seed the child SeedSequence is built in one step (entropy and spawn key),
    not as a root and then a child, which halves the hashing for a one-block call.
    """
    if type(rng) is int and rng >= 0:
        ss = np.random.SeedSequence(rng, spawn_key=(int(index),))
    else:
        ss = child_seed_sequence(as_seed_sequence(rng, name), index)
    return np.random.Generator(np.random.PCG64(ss))


def block_generators(seed_seq: np.random.SeedSequence, count: int) -> Any:
    """`numba.typed.List` of the `count` block Generators, ready to pass to a kernel.

    Kernels index it with the block number inside a `prange`, so no Generator is
    ever shared between threads.
    """
    return slice_generators(seed_seq, 0, count)


def slice_generators(seed_seq: np.random.SeedSequence, lo: int, hi: int) -> Any:
    """`numba.typed.List` of the Generators of blocks lo..hi-1 (those `block_generators` gives at lo..hi-1).

    Usually made inside each slice of `_long.run_blocks`, so that a long call never holds more
    streams than one slice needs.  Appending to a typed list runs compiled code, where a
    KeyboardInterrupt would surface as a SystemError: SIGINT only sets a flag while they are
    made (~0.1 ms a Generator: seconds for the 40 000 blocks of 10^7 experiments, which
    `simulate_bayes_peeking` makes at once), checked every 1024 Generators.
    """
    import numba

    from simengine._long import interruptible

    with interruptible() as flag:
        first = np.random.Generator(np.random.PCG64(child_seed_sequence(seed_seq, lo)))
        # empty_list with an explicit item type compiles far less than List(iterable).
        gens = numba.typed.List.empty_list(numba.typeof(first))
        gens.append(first)
        for i in range(lo + 1, hi):
            gens.append(np.random.Generator(np.random.PCG64(child_seed_sequence(seed_seq, i))))
            if not i & 1023:
                flag.check()
    return gens


def _int_words(value: int, pool_size: int) -> npt.NDArray[np.uint32]:
    """An int as SeedSequence reads it: little-endian uint32 words ([0] for 0), zero-padded to `pool_size`."""
    if value < 4294967296:
        words = [value]
    else:
        words = []
        while value:
            words.append(value & 0xFFFFFFFF)
            value >>= 32
    words += [0] * (pool_size - len(words))
    return np.array(words, dtype=np.uint32)


_PCG: Any = None


def _pcg_kernels() -> Any:
    global _PCG
    if _PCG is None:
        from simengine.kernels import rng

        _PCG = rng
    return _PCG


def slice_states(seed_seq: np.random.SeedSequence, lo: int, hi: int) -> npt.NDArray[np.uint64]:
    """PCG64 states (hi - lo, 4) of blocks lo..hi-1: the streams `slice_generators` gives, for kernels that
    draw with `simengine.kernels.rng` (no Generator made per block: ~0.1 ms each).  A SeedSequence of a
    non-negative int with no spawn key (what an int `rng` becomes) is hashed in a kernel."""
    k = _pcg_kernels()
    entropy = seed_seq.entropy
    if isinstance(entropy, int) and entropy >= 0 and not seed_seq.spawn_key and seed_seq.pool_size == 4:
        states: npt.NDArray[np.uint64] = k._pcg64_block_states(_int_words(entropy, 4), 4, lo, hi - lo)
        return states
    pools = np.stack([child_seed_sequence(seed_seq, i).pool for i in range(lo, hi)])
    states = k._pcg64_states_from_pools(pools)
    return states


def pcg64_block_states(rng: SeedLike, count: int, name: str = "rng") -> npt.NDArray[np.uint64]:
    """Starting PCG64 states, shape (count, 4) uint64, of the `count` block streams of a SPEC 7 `rng`.

    Row ``i`` is the state of ``numpy_block_generators(as_seed_sequence(rng), count)[i]``
    as (state high, state low, increment high, increment low), for kernels that draw
    with `simengine.kernels.rng` instead of a Generator.  For an int seed the
    SeedSequence hashing runs in a kernel (well under a microsecond per block).
    """
    return slice_states(as_seed_sequence(rng, name), 0, count)
