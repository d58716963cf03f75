"""Ctrl-C during the long hypothesis-test calls (issue 14), and slicing that never changes a number.

One child interpreter runs every case in turn: it warms the kernels, prints "ready <case>",
starts a call that would take many seconds, and the parent sends SIGINT; the child must print
"interrupted" (a plain KeyboardInterrupt, no SystemError) within 1 s, then run a small call
and print its result (the process is usable afterwards).  One child for all cases keeps the
interpreter start-up and kernel loading to one payment.
"""
import functools
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal
# the jitted statistic test_permutation uses: a custom statistic compiles per function, so share it
from test_permutation import _jit_mean_xy

import simengine
from simengine import _long

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")

# case -> (warm-up call, long call (>= 10 s on an idle 2-core machine unless noted), small call after)
CASES = {
    "peeking": (
        "se.simulate_peeking(n_sims=2000, n_looks=20, rng=0)",
        "se.simulate_peeking(n_sims=2_000_000, n_looks=20, rng=0)",
        "se.simulate_peeking(n_sims=1000, rng=1).rejected_any_look",
    ),
    # the sufficient-statistic path needs 8 bytes per replicate: 3e7 is a few seconds, not 10
    "power-t": (
        "se.simulate_power(effect_size=0.2, n=394, n_sims=1000, rng=0)",
        "se.simulate_power(effect_size=0.2, n=394, n_sims=30_000_000, rng=0)",
        "se.simulate_power(effect_size=0.2, n=[100, 394], rng=1).power.tolist()",
    ),
    "power-welch": (
        "se.simulate_power(test='welch', effect_size=0.2, n=1000, n_sims=100, rng=0)",
        "se.simulate_power(test='welch', effect_size=0.2, n=1000, n_sims=1_000_000, rng=0)",
        "se.simulate_power(test='welch', effect_size=0.5, n=20, n_sims=2000, rng=1).power",
    ),
    "power-mannwhitney": (
        "se.simulate_power(test='mannwhitney', effect_size=0.2, n=1000, n_sims=100, rng=0)",
        "se.simulate_power(test='mannwhitney', effect_size=0.2, n=1000, n_sims=100_000, rng=0)",
        "se.simulate_power(test='mannwhitney', effect_size=0.5, n=20, n_sims=2000, rng=1).power",
    ),
    "power-permutation": (
        "se.simulate_power(test='permutation', effect_size=0.2, n=100, n_sims=20, n_resamples=99, rng=0)",
        "se.simulate_power(test='permutation', effect_size=0.2, n=100, n_sims=20_000, n_resamples=999, rng=0)",
        "se.simulate_power(test='permutation', effect_size=0.5, n=20, n_sims=200, n_resamples=99, rng=1).power",
    ),
    "multiple_testing": (
        "se.simulate_multiple_testing(effect_size=0.3, n_per_group=20, n_sims=1000, rng=0)",
        "se.simulate_multiple_testing(effect_size=0.3, n_per_group=20, n_sims=1_000_000, rng=0)",
        "se.simulate_multiple_testing(effect_size=0.3, n_per_group=20, n_sims=2000, methods='holm', rng=1).fwer",
    ),
    "permutation_test": (
        "se.permutation_test(X, X + 0.1, n_resamples=999, rng=0)",
        "se.permutation_test(X, X + 0.1, n_resamples=2_000_000, rng=0)",
        "se.permutation_test(X[:50], X[:50] + 1.0, rng=1).pvalue",
    ),
    # exact: 100 001 splits of one long column, ~10**10 element operations
    "permutation_test-exact": (
        "se.permutation_test(X[:1], X[:300], n_resamples=10**6)",
        "se.permutation_test(X[:1], np.tile(X, 100), n_resamples=10**6)",
        "se.permutation_test(X[:3], X[3:9], alternative='greater').pvalue",
    ),
}

CHILD = r"""
import sys, time
import numpy as np
import simengine as se
X = np.random.default_rng(0).normal(size=1000)
for case, (warm, long, small) in CASES.items():
    eval(warm)
    print("ready", case, flush=True)
    try:
        eval(long)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    print("after", eval(small), flush=True)
"""

# seconds between "ready" and SIGINT: the long call is then inside its kernel, past any set-up
WAIT = 0.4


@pytest.fixture(scope="module")
def interrupted():
    """Run every case in one child; returns {case: (seconds from SIGINT to "interrupted", line, after)}."""
    code = f"CASES = {CASES!r}\n" + CHILD
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    out = {}
    try:
        for case in CASES:
            line = proc.stdout.readline()
            assert line.strip() == f"ready {case}", (line, proc.stderr.read() if not line else "")
            time.sleep(WAIT)
            proc.send_signal(signal.SIGINT)
            sent = time.perf_counter()
            reply = proc.stdout.readline().strip()
            took = time.perf_counter() - sent
            after = proc.stdout.readline().strip()
            out[case] = (took, reply, after)
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out["stderr"] = err
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_sigint_returns_within_a_second(interrupted, case):
    took, reply, after = interrupted[case]
    assert reply == "interrupted", (case, reply)
    assert took < 1.0, f"{case}: {took:.2f} s from SIGINT to KeyboardInterrupt"
    assert after.startswith("after ") and len(after) > len("after "), after


def test_sigint_leaves_no_system_error(interrupted):
    assert "SystemError" not in interrupted["stderr"] and "Traceback" not in interrupted["stderr"]


# -------------------------------------------------------------------- slicing never changes a number
@pytest.fixture
def tiny_slices(monkeypatch):
    """Every run_blocks call of the four modules runs one block per slice (exact permutation units of 2 splits)."""
    from simengine import multitest, permutation, power, sequential

    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)
    monkeypatch.setattr(permutation, "_EXACT_UNIT_OPS", 64)
    sliced = functools.partial(_long.run_blocks, first=1)
    for module in (sequential, power, multitest, permutation):
        monkeypatch.setattr(module, "run_blocks", sliced)


def _same(a, b):
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key in da:
        x, y = da[key], db[key]
        if isinstance(x, np.ndarray) and x.dtype != object:
            assert_array_equal(x, y, err_msg=key, strict=True)
        elif isinstance(x, float) and x != x:
            assert y != y, key
        else:
            assert np.all(x == y), key


CALLS = {
    "peeking": lambda: simengine.simulate_peeking(n_sims=3 * 512 + 7, n_looks=4, rng=3),
    "peeking-normal": lambda: simengine.simulate_peeking(n_sims=2000, n_looks=3, metric="normal", test="welch",
                                                         boundary="pocock", rng=4),
    "power-t": lambda: simengine.simulate_power(effect_size=0.3, n=[20, 50], n_sims=12_001, rng=5),
    "power-welch": lambda: simengine.simulate_power(test="welch", effect_size=0.3, n=[8, 9], n_sims=1100, rng=6),
    "power-permutation": lambda: simengine.simulate_power(test="permutation", effect_size=0.3, n=6, n_sims=1001,
                                                          n_resamples=19, rng=7),
    "multiple_testing": lambda: simengine.simulate_multiple_testing(effect_size=0.4, n_per_group=10, n_sims=3500,
                                                                    methods=("holm", "fdr_bh", "none"), rng=8),
    "permutation_test": lambda: simengine.permutation_test(np.arange(9.0), np.arange(11.0) ** 1.5, n_resamples=6000,
                                                           rng=9),
    "permutation_test-exact": lambda: simengine.permutation_test(
        np.arange(12.0).reshape(6, 2), np.arange(14.0).reshape(7, 2) * 0.7, statistic="median", n_resamples=2000),
    "permutation_test-exact-custom": lambda: simengine.permutation_test(
        np.arange(5.0), np.arange(6.0) ** 1.2, statistic=_jit_mean_xy, n_resamples=500),
    "permutation_test-custom": lambda: simengine.permutation_test(
        np.arange(15.0), np.arange(16.0) ** 1.2, statistic=_jit_mean_xy, n_resamples=5001, rng=10),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_tiny_slices_give_identical_results(name, request):
    whole = CALLS[name]()
    request.getfixturevalue("tiny_slices")
    _same(CALLS[name](), whole)
