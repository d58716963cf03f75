"""Ctrl-C during a long Metropolis-Hastings run (issue 14), and the watched path's chains equal the direct ones.

A run of 2**20 steps or more goes to a worker thread (the kernels release the GIL); the caller's
thread answers SIGINT by setting the chains' stop flag, which each chain reads every 65 536
steps, and raises a plain KeyboardInterrupt.  The chains never depend on the path they ran on.
"""
import signal
import sys
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import simengine
from _child import Child
from simengine import mcmc, targets

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")

CHILD = r"""
import numpy as np
import simengine
from simengine import targets
f = targets.multivariate_normal([0.0, 0.0], [[1.0, 0.7], [0.7, 1.0]])
# the parallel many-chain kernel (compiled once and cached; the one-chain kernel shares its chain loop)
for n_chains in (4,):
    simengine.metropolis_hastings(f, np.zeros(2), n_steps=2**20, n_chains=n_chains, thin=1024, rng=0)
    print("ready", n_chains, flush=True)
    try:  # 10**9 steps a chain: 10 s and more
        simengine.metropolis_hastings(f, np.zeros(2), n_steps=10**9, n_chains=n_chains, thin=10**6, rng=0)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    res = simengine.metropolis_hastings(f, np.zeros(2), n_steps=1000, n_chains=2, rng=1)
    print("after", res.samples.shape, flush=True)
"""


def test_sigint_stops_the_chains_within_a_second():
    child = Child(CHILD)
    try:
        for n_chains in (4,):
            assert child.line(600.0, "compiling the chain kernel") == f"ready {n_chains}"
            time.sleep(0.4)
            child.proc.send_signal(signal.SIGINT)
            sent = time.perf_counter()
            reply = child.line(60.0, f"SIGINT during {n_chains} chains").strip()
            took = time.perf_counter() - sent
            assert reply == "interrupted", reply
            assert took < 1.0, f"{n_chains} chains: {took:.2f} s from SIGINT to KeyboardInterrupt"
            assert child.line(60.0, "the small call after").strip() == "after (2, 1000, 2)"
        child.finish()
    finally:
        child.close()


GAUSS = targets.multivariate_normal([0.0, 0.0], [[1.0, 0.7], [0.7, 1.0]])


# one chain each: the chain loop with its segments is shared by both kernels, and each kernel is a
# compile of seconds on an empty cache, so one kernel serves both cases
@pytest.mark.parametrize("kw", [dict(n_chains=1), dict(n_chains=1, burn_in=70_000, adapt=True, thin=7)],
                         ids=["plain", "adapt-thin"])
def test_watched_path_gives_the_same_chains(monkeypatch, kw):
    n_steps = 3 * (1 << 16) + 123  # several segments, the last one partial
    direct = simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=n_steps, rng=5, **kw)
    monkeypatch.setattr(mcmc, "_WATCHED_STEPS", 1)  # every call through the worker thread
    watched = simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=n_steps, rng=5, **kw)
    assert_array_equal(watched.samples, direct.samples)
    assert_array_equal(watched.log_density, direct.log_density)
    assert_array_equal(watched.acceptance_rate, direct.acceptance_rate)
    assert_array_equal(watched.proposal_scale, direct.proposal_scale)


def test_progress_bar_only_when_asked(capfd):
    simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=2000, n_chains=1, rng=0, progress=False)
    assert capfd.readouterr().err == ""
    simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=2000, n_chains=1, rng=0, progress=True)
    assert "metropolis_hastings" in capfd.readouterr().err


def test_watched_path_hands_errors_to_the_caller(monkeypatch):
    # an error in the worker thread (here: numba cannot type the density) reaches the caller as on the direct path
    from numba import njit

    @njit
    def not_a_number(x):
        return "x"

    monkeypatch.setattr(mcmc, "_WATCHED_STEPS", 1)
    with pytest.raises(TypeError, match="`log_density` must take a 1-D float64 array and return a float"):
        simengine.metropolis_hastings(not_a_number, np.zeros(1), n_steps=100, n_chains=1, rng=0)


def test_progress_iv():
    with pytest.raises(TypeError, match="`progress` must be None, True or False; got str"):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, progress="yes")
