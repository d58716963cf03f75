"""Peeking Monte Carlo: engine vs per-visitor naive loop, vectorised NumPy, and the RNG floor.

Targets (read from the ratios, never asserted): the seed scenario >= 2 000x faster than the per-visitor loop;
at 10^6 simulations the engine within 2x of only drawing the same binomial counts in numba.
"""
import numpy as np
import pytest
from conftest import sizes

from simengine import group_sequential_boundaries, simulate_peeking
from simengine._rng import as_seed_sequence, block_generators, n_blocks
from simengine.kernels.sequential import _binomial_floor
from simengine.naive import peeking_per_visitor, peeking_vectorised_binary
from simengine.sequential import BLOCK

LOOKS, VISITORS, RATE = 14, 100, 0.10


def rng_floor(n_sims, seed=0):
    """Block generators + drawing the engine's 2 x 14 binomial counts per replicate, nothing else."""
    gens = block_generators(as_seed_sequence(seed), n_blocks(n_sims, BLOCK))
    return _binomial_floor(gens, BLOCK, n_sims, np.full(LOOKS, VISITORS, dtype=np.int64), RATE, RATE)


@pytest.mark.parametrize("impl", ["naive per-visitor", "numpy vectorised", "simengine"])
@pytest.mark.parametrize("n_sims", sizes(20, 1000))
def test_seed_scenario(run, benchmark, impl, n_sims):
    # 1 000 A/A experiments, 14 daily looks, 100 visitors per arm per day, rate 0.10, pooled t-test.
    benchmark.group = f"peeking seed scenario: {n_sims} A/A x 14 looks x 100/arm"
    if impl == "naive per-visitor":
        run(peeking_per_visitor, n_sims, LOOKS, VISITORS, rate=RATE, rng=0, rounds=1)
    elif impl == "numpy vectorised":
        run(peeking_vectorised_binary, n_sims, LOOKS, VISITORS, rate=RATE, rng=0)
    else:
        run(simulate_peeking, n_sims=n_sims, n_looks=LOOKS, visitors_per_look=VISITORS, rate=RATE, rng=0)


@pytest.mark.parametrize("impl", ["rng floor", "numpy vectorised", "simengine"])
@pytest.mark.parametrize("n_sims", sizes(10_000, 1_000_000))
def test_floor(run, benchmark, impl, n_sims):
    benchmark.group = f"peeking vs RNG floor: {n_sims} sims x 14 looks"
    if impl == "rng floor":
        run(rng_floor, n_sims, rounds=3)
    elif impl == "numpy vectorised":
        run(peeking_vectorised_binary, n_sims, LOOKS, VISITORS, rate=RATE, rng=0, rounds=1 if n_sims > 10**5 else None)
    else:
        run(simulate_peeking, n_sims=n_sims, n_looks=LOOKS, visitors_per_look=VISITORS, rate=RATE, rng=0, rounds=3)


@pytest.mark.parametrize("kind", ["pocock", "obrien-fleming"])
@pytest.mark.parametrize("n_looks", sizes(5, 20))
def test_boundaries(run, benchmark, kind, n_looks):
    benchmark.group = f"group_sequential_boundaries K={n_looks}"
    run(group_sequential_boundaries, n_looks, kind=kind)


@pytest.mark.parametrize("n_looks", sizes(5, 20))
def test_spending_boundaries(run, benchmark, n_looks):
    """Target (issue 16): <= 50 ms for K <= 20 looks (the lru cache cleared: the computation, not the lookup)."""
    from simengine import sequential

    benchmark.group = f"alpha-spending boundaries K={n_looks}"

    def call():
        sequential._spending_cached.cache_clear()
        return group_sequential_boundaries(n_looks, kind="ld-obrien-fleming")

    run(call)


def test_design_with_futility(run, benchmark):
    """Target (issue 16): a design with beta-spending futility in < 200 ms."""
    from simengine import group_sequential_design

    benchmark.group = "group_sequential_design with futility, K=5"
    run(group_sequential_design, 5, alpha=0.025, alternative="greater", kind="hsd", futility="hsd", binding=True)


@pytest.mark.parametrize("design", ["obrien-fleming", "ld-obrien-fleming", "design with futility"])
def test_peeking_with_a_spending_design(run, benchmark, design):
    """Target (issue 16): a spending design (with futility) simulates within 1.2x the fixed-boundary run."""
    from simengine import group_sequential_design

    n_sims = sizes(20_000, 200_000)[-1]
    benchmark.group = f"simulate_peeking one-sided z, 14 looks, {n_sims} sims: boundary kinds"
    boundary = design
    if design == "design with futility":
        boundary = group_sequential_design(14, alpha=0.025, alternative="greater", kind="ld-obrien-fleming",
                                           futility="hsd")
    run(simulate_peeking, n_sims=n_sims, n_looks=LOOKS, visitors_per_look=VISITORS, rate=RATE, lift=0.01,
        test="z", alpha=0.025, alternative="greater", boundary=boundary, rng=0)
