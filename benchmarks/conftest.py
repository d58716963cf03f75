"""Shared settings for the pytest-benchmark suite.

Run with ``python3 -m pytest benchmarks/`` (add ``--benchmark-disable`` for a quick
smoke run; ``BENCH_QUICK=1`` keeps only the small sizes).  Speed targets are read
from the ratios between implementations in one group, never asserted.
"""
import os

import pytest

QUICK = bool(os.environ.get("BENCH_QUICK"))


def sizes(small, *large):
    """Parametrise over sizes; BENCH_QUICK=1 keeps only the small one."""
    return [small] if QUICK else [small, *large]


@pytest.fixture
def run(benchmark):
    """Time `fn` after one untimed call (JIT compile or cache load)."""

    def _run(fn, *args, rounds=None, **kwargs):
        fn(*args, **kwargs)
        if rounds:
            return benchmark.pedantic(fn, args=args, kwargs=kwargs, rounds=rounds, iterations=1, warmup_rounds=0)
        return benchmark(fn, *args, **kwargs)

    return _run
