"""The randomness contract: SPEC 7 normalisation, per-block streams, thread invariance, kernel PCG64."""
import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_array_equal

from _blockkernel import block_means, numpy_replay
from _subproc import run_with_threads
from simengine._numba_compat import coerce_to_uint32_array
from simengine._rng import (
    as_seed_sequence,
    block_generator,
    block_generators,
    child_seed_sequence,
    n_blocks,
    numpy_block_generators,
    pcg64_block_states,
)
from simengine.kernels import rng as krng


def test_int_seed_is_reproducible():
    a = as_seed_sequence(42).generate_state(4)
    b = as_seed_sequence(np.int64(42)).generate_state(4)
    assert_array_equal(a, b)
    assert not np.array_equal(a, as_seed_sequence(43).generate_state(4))


def test_seed_sequence_passes_through_unchanged():
    ss = np.random.SeedSequence(7)
    assert as_seed_sequence(ss) is ss


def test_generator_is_consumed_reproducibly():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    first = as_seed_sequence(g1).generate_state(4)
    assert_array_equal(first, as_seed_sequence(g2).generate_state(4))
    # a second call on the same Generator gives a different stream
    assert not np.array_equal(first, as_seed_sequence(g1).generate_state(4))


def test_none_gives_fresh_entropy():
    assert as_seed_sequence(None).entropy != as_seed_sequence(None).entropy


def test_as_seed_sequence_iv():
    with pytest.raises(TypeError, match="`rng` must be None, an int"):
        as_seed_sequence("seed")
    with pytest.raises(TypeError, match="`rng` .*got a bool"):
        as_seed_sequence(True)
    with pytest.raises(TypeError, match="`rng` .*got float"):
        as_seed_sequence(1.5)
    with pytest.raises(TypeError, match="RandomState is not supported"):
        as_seed_sequence(np.random.RandomState(0))
    with pytest.raises(ValueError, match="`seed` must be a non-negative int"):
        as_seed_sequence(-1, name="seed")


def test_child_equals_spawn_and_does_not_mutate():
    ss = np.random.SeedSequence(123)
    children = [child_seed_sequence(ss, i) for i in range(3)]
    assert ss.n_children_spawned == 0
    spawned = np.random.SeedSequence(123).spawn(3)
    for c, s in zip(children, spawned):
        assert_array_equal(c.generate_state(8), s.generate_state(8))
    # keys nest: a grandchild is the child's child
    assert_array_equal(
        child_seed_sequence(ss, 2, 5).generate_state(4),
        child_seed_sequence(child_seed_sequence(ss, 2), 5).generate_state(4),
    )


@pytest.mark.parametrize("rng", [0, 7, 2**70, np.int64(3), np.random.SeedSequence(9), "gen"])
def test_block_generator_is_the_block_stream(rng):
    # one-step construction for int seeds; the same stream as the block list for every rng kind
    make = (lambda: np.random.default_rng(4)) if isinstance(rng, str) else (lambda: rng)
    for index in (0, 3):
        got = block_generator(make(), index).standard_normal(5)
        want = numpy_block_generators(as_seed_sequence(make()), index + 1)[index].standard_normal(5)
        assert_array_equal(got, want)
    with pytest.raises(ValueError, match="`rng` must be a non-negative int"):
        block_generator(-1)
    with pytest.raises(TypeError, match="got a bool"):
        block_generator(True)


@pytest.mark.parametrize("n, block, expected", [(1, 256, 1), (256, 256, 1), (257, 256, 2), (10_000, 1000, 10)])
def test_n_blocks(n, block, expected):
    assert n_blocks(n, block) == expected


def test_typed_generators_draw_like_numpy():
    ss = as_seed_sequence(9)
    typed = block_generators(ss, 4)
    plain = numpy_block_generators(ss, 4)
    assert len(typed) == 4
    for g in plain:
        assert isinstance(g, np.random.Generator)
    out = block_means(typed, 3, 12, 5)
    assert_array_equal(out, numpy_replay(numpy_block_generators(ss, 4), 3, 12, 5))


def test_block_kernel_matches_numpy_replay_exactly():
    ss = as_seed_sequence(2024)
    n_sims, block, m = 1000, 64, 7
    got = block_means(block_generators(ss, n_blocks(n_sims, block)), block, n_sims, m)
    want = numpy_replay(numpy_block_generators(ss, n_blocks(n_sims, block)), block, n_sims, m)
    assert_array_equal(got, want)


def test_block_kernel_is_thread_invariant():
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from _blockkernel import block_means\n"
        "from simengine._rng import as_seed_sequence, block_generators, n_blocks\n"
        "ss = as_seed_sequence(77)\n"
        "result = block_means(block_generators(ss, n_blocks(5000, 128)), 128, 5000, 9)\n"
    ) % str(__import__("pathlib").Path(__file__).parent)
    one = run_with_threads(code, 1)
    two = run_with_threads(code, 2)
    assert one.shape == (5000, 2)
    assert_array_equal(one, two)


# ------------------------------------------------------------------ PCG64 in kernels (kernels/rng.py)


def _numpy_state(generator):
    s = generator.bit_generator.state["state"]
    mask = 2**64 - 1
    return [s["state"] >> 64, s["state"] & mask, s["inc"] >> 64, s["inc"] & mask]


@numba.njit
def _mixed_draws(state, n):
    sh, sl, ih, il = state[0], state[1], state[2], state[3]
    out = np.empty((n, 3))
    for i in range(n):
        out[i, 0], sh, sl = krng._std_normal1(sh, sl, ih, il)
        out[i, 1], sh, sl = krng._std_exponential1(sh, sl, ih, il)
        out[i, 2], sh, sl = krng._pcg64_double(sh, sl, ih, il)
    return out, sh, sl


def test_kernel_draws_equal_a_numpy_generator_bit_for_bit():
    # 200 000 rounds reach both ziggurat tails (|z| > 3.654 and E > 7.697) many times
    n = 200_000
    state = pcg64_block_states(11, 1)[0]
    out, sh, sl = _mixed_draws(state, n)
    g = numpy_block_generators(as_seed_sequence(11), 1)[0]
    ref = np.empty((n, 3))
    for i in range(n):
        ref[i] = g.standard_normal(), g.standard_exponential(), g.random()
    assert_array_equal(out, ref)
    assert (np.abs(out[:, 0]) > 3.6541528853610088).sum() > 10
    assert (out[:, 1] > 7.69711747013105).sum() > 10
    assert [int(sh), int(sl)] == _numpy_state(g)[:2]  # same state afterwards: no draw skipped or repeated


@settings(max_examples=60, deadline=None)
@given(seed=st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 2**130)), count=st.integers(1, 4))
def test_int_seed_block_states_equal_numpy(seed, count):
    states = pcg64_block_states(seed, count)
    gens = numpy_block_generators(as_seed_sequence(seed), count)
    assert [[int(v) for v in row] for row in states] == [_numpy_state(g) for g in gens]


@pytest.mark.parametrize(
    "rng",
    [np.random.SeedSequence(3), np.random.SeedSequence([1, 2], spawn_key=(4,), pool_size=8), np.int64(9)],
    ids=["seedseq", "seedseq-pool8", "np-int"],
)
def test_other_rng_block_states_equal_numpy(rng):
    states = pcg64_block_states(rng, 3)
    gens = numpy_block_generators(as_seed_sequence(rng), 3)
    assert [[int(v) for v in row] for row in states] == [_numpy_state(g) for g in gens]


def test_generator_rng_block_states_consume_it_like_the_generators():
    states = pcg64_block_states(np.random.default_rng(4), 2)
    gens = numpy_block_generators(as_seed_sequence(np.random.default_rng(4)), 2)
    assert [[int(v) for v in row] for row in states] == [_numpy_state(g) for g in gens]


def test_seed_pool_equals_seed_sequence_pool():
    for entropy, key in [(0, (0,)), (2**70 + 3, (5, 6)), ([7, 2**40], ())]:
        ss = np.random.SeedSequence(entropy, spawn_key=key)
        # assembled as NumPy's SeedSequence does: run entropy padded to the pool size, then the spawn key
        run = coerce_to_uint32_array(ss.entropy)
        spawn = coerce_to_uint32_array(ss.spawn_key)
        if len(spawn) and len(run) < ss.pool_size:
            run = np.concatenate([run, np.zeros(ss.pool_size - len(run), dtype=np.uint32)])
        assembled = np.concatenate([run, spawn]).astype(np.uint32)
        assert_array_equal(krng._seed_pool(assembled, ss.pool_size), ss.pool)


@numba.njit
def _lanes_outputs(st, groups, then_scalar):
    """`groups` vector steps of the eight-lane form, then `then_scalar` scalar outputs from the state it gives
    back (st updated), all outputs in order."""
    lanes = np.empty(16, np.uint64)
    ch, cl = krng.pcg64x8_init(st, lanes)
    out = np.empty(8 * groups + then_scalar, np.uint64)
    raw = np.empty(8, np.uint64)
    for g in range(groups):
        krng.pcg64x8_raw(lanes, ch, cl, raw)
        for j in range(8):
            out[8 * g + j] = raw[j]
    krng.pcg64x8_state(lanes, st)
    sh, sl, ih, il = st[0], st[1], st[2], st[3]
    for i in range(then_scalar):
        out[8 * groups + i], sh, sl = krng._pcg64_next(sh, sl, ih, il)
    st[0], st[1] = sh, sl
    return out


@pytest.mark.parametrize("seed", [0, 5, 2**40 + 3])
def test_eight_lane_pcg64_is_numpys_stream(seed):
    # The lanes (eight jumps of eight steps, 128-bit products in 32-bit halves) give NumPy's random_raw()
    # words in order, and the scalar state they give back continues the same stream, ending where NumPy ends.
    st = pcg64_block_states(seed, 1)[0].copy()
    out = _lanes_outputs(st, 257, 5)
    bg = numpy_block_generators(as_seed_sequence(seed), 1)[0].bit_generator
    assert_array_equal(out, bg.random_raw(8 * 257 + 5))
    assert [int(st[0]), int(st[1])] == [bg.state["state"]["state"] >> 64, bg.state["state"]["state"] & (2**64 - 1)]


@pytest.mark.parametrize("rng", [0, 7, 2**70 + 5, np.random.SeedSequence(3, spawn_key=(2,)),
                                 np.random.SeedSequence([1, 2, 3]), np.random.SeedSequence(9, pool_size=8)])
def test_slice_states_are_the_slice_generators_streams(rng):
    # the int fast path (hashed in a kernel) and the pools path give the states of the blocks' Generators
    from simengine._rng import slice_states

    ss = as_seed_sequence(rng)
    states = slice_states(ss, 3, 7)
    assert states.shape == (4, 4) and states.dtype == np.uint64
    for row, g in zip(states, numpy_block_generators(ss, 7)[3:]):
        assert [int(v) for v in row] == _numpy_state(g)
