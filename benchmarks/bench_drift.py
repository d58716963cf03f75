"""Drift detection: PSI over many features, DDM and ADWIN over many streams, detector simulations.

Per-update costs (DDM, ADWIN) are recorded in ``extra_info["updates"]``: divide the mean time by it to compare
simengine (all streams) with river and the plain-Python loop (a subset of the streams, same run).
"""
import numpy as np
import pytest
from conftest import QUICK, sizes

import simengine
from simengine import naive

# ---------------------------------------------------------------------------------------------------------
# PSI: 10^5 rows x 200 features (quick: 10^4 x 20)
# ---------------------------------------------------------------------------------------------------------

PSI_SHAPES = sizes((10_000, 20), (100_000, 200))


def _psi_data(shape):
    g = np.random.default_rng(0)
    return g.normal(size=shape), g.normal(0.1, 1.0, size=shape)


@pytest.mark.parametrize("shape", PSI_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["naive per-feature np.histogram", "numpy read once (ref.sum + cur.sum)", "simengine"])
def test_psi(run, benchmark, impl, shape):
    benchmark.group = f"psi equal-width {shape[0]}x{shape[1]}"
    ref, cur = _psi_data(shape)
    if impl == "simengine":
        run(simengine.psi, ref, cur)
    elif impl.startswith("naive"):
        run(naive.psi_per_feature, ref, cur, rounds=1 if shape[0] > 10_000 else None)
    else:
        run(lambda: (ref.sum(), cur.sum()))


# ---------------------------------------------------------------------------------------------------------
# DDM: simengine on 10^4 streams x 10^4 steps; river and plain Python on a subset
# ---------------------------------------------------------------------------------------------------------

DDM_STEPS = 1_000 if QUICK else 10_000
DDM_SIMENGINE_STREAMS = 100 if QUICK else 10_000
DDM_SUBSET_STREAMS = 2 if QUICK else 10


def _ddm_streams(n_streams):
    g = np.random.default_rng(1)
    p = np.where(np.arange(DDM_STEPS) < DDM_STEPS // 2, 0.15, 0.4)
    return (g.random((n_streams, DDM_STEPS)) < p).astype(np.uint8)


def _river_ddm(x):
    from river.drift.binary import DDM

    hits = 0
    for row in x:
        det = DDM()
        for v in row.tolist():
            det.update(v)
            hits += det.drift_detected
    return hits


@pytest.mark.parametrize("impl", ["naive python", "river", "simengine"])
def test_ddm_per_update(run, benchmark, impl):
    benchmark.group = f"ddm per update ({DDM_STEPS} steps per stream)"
    n = DDM_SIMENGINE_STREAMS if impl == "simengine" else DDM_SUBSET_STREAMS
    x = _ddm_streams(n)
    benchmark.extra_info["updates"] = x.size
    if impl == "simengine":
        run(simengine.ddm, x, rounds=3)
    elif impl == "river":
        run(_river_ddm, x, rounds=1)
    else:
        run(lambda: [naive.ddm_python(r) for r in x], rounds=1)


# ---------------------------------------------------------------------------------------------------------
# ADWIN: simengine (clock 1, and clock 32, the default as in river) vs river's ADWIN (clock 32); same detections
# ---------------------------------------------------------------------------------------------------------

ADWIN_STREAMS = sizes(4, 100)


def _river_adwin(x):
    from river.drift import ADWIN

    hits = 0
    for row in x:
        det = ADWIN(delta=0.002)
        for v in row.tolist():
            det.update(v)
            hits += det.drift_detected
    return hits


@pytest.mark.parametrize("n_streams", ADWIN_STREAMS)
@pytest.mark.parametrize("impl", ["river (clock=32)", "simengine (clock=1)", "simengine (clock=32)"])
def test_adwin(run, benchmark, impl, n_streams):
    benchmark.group = f"adwin {n_streams} streams x 5000 steps"
    g = np.random.default_rng(2)
    x = (g.random((n_streams, 5000)) < np.where(np.arange(5000) < 2500, 0.2, 0.5)).astype(np.float64)
    benchmark.extra_info["updates"] = x.size
    if impl.startswith("river"):
        run(_river_adwin, x, rounds=1)
    else:
        run(simengine.adwin, x, clock=1 if "clock=1)" in impl else 32, rounds=3)


# ---------------------------------------------------------------------------------------------------------
# Detector simulation: generation fused with detection
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_streams", sizes(500, 10_000))
@pytest.mark.parametrize("detector", ["ddm", "adwin"])
def test_simulate_drift_detection(run, benchmark, detector, n_streams):
    benchmark.group = f"simulate_drift_detection {detector} 1000 steps"
    benchmark.extra_info["updates"] = n_streams * 1000
    run(simengine.simulate_drift_detection, detector=detector, n_sims=n_streams, rng=0, rounds=3)
