"""Foundation costs: the import itself and setting up per-block generators."""
import subprocess
import sys

import numpy as np
import pytest

from simengine._rng import as_seed_sequence, block_generators, numpy_block_generators


def test_import_time(benchmark):
    benchmark.group = "import simengine (fresh process)"
    benchmark.pedantic(
        subprocess.run, args=([sys.executable, "-c", "import simengine"],), kwargs={"check": True}, rounds=5
    )


@pytest.mark.parametrize("impl", ["numpy list", "simengine typed list"])
def test_block_generator_setup(run, benchmark, impl):
    # 1 000 blocks is what 10^6 replicates in blocks of 1 024 need.
    benchmark.group = "rng setup: 1000 block generators"
    ss = as_seed_sequence(1)
    fn = numpy_block_generators if impl == "numpy list" else block_generators
    run(fn, ss, 1000)


def test_draw_floor(run, benchmark):
    benchmark.group = "rng floor: 10^6 standard normals"
    rng = np.random.default_rng(0)
    run(rng.standard_normal, 1_000_000)
