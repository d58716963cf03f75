"""Ctrl-C during the long multiple-testing calls (issue 14), and slicing that never changes a number.

The Benjamini-Yekutieli constant and the local-FDR fit of one long family, and the random-number
blocks of `simulate_multiple_testing`, run in slices; one child interpreter runs every case in turn
(as in test_interrupt_hypothesis.py): it warms the kernels and runs the small call, prints
"ready <case>", starts a call that would take seconds, and the parent sends SIGINT; the child
must print "interrupted" (a plain KeyboardInterrupt) within 1 s, and the small call must then give
the same numbers as before.
"""
import math
import signal
import sys
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import simengine
from _child import Child
from simengine import _long, multitest
from simengine.kernels.multitest import _lfdr1

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")

# case -> (warm-up call, long call (seconds on an idle 2-core machine), small call after)
CASES = {
    # one family of 2**22 (five times): sorted in slices, then the constant (pairwise-sum nodes) and the passes
    "multipletests-fdr_by": (
        "se.multipletests(P[:2**20 + 1], method='fdr_by')",
        "[se.multipletests(P, method='fdr_by') for _ in range(5)]",
        "se.multipletests(P[:3000], method='fdr_by').pvals_corrected.tobytes().hex()[:64]",
    ),
    # the density fit of a long family: distinct values, slopes, the pooling in slices of steps
    "multipletests-lfdr": (
        "se.multipletests(P[:2**20 + 1], method='lfdr', is_sorted=True)",
        "[se.multipletests(S, method='lfdr', is_sorted=True) for _ in range(5)]",
        "se.multipletests(P[:3000], method='lfdr').pvals_corrected.tobytes().hex()[:64]",
    ),
    # one block of three families of 4 * 10**6 tests: a single kernel call before units
    "simulate_multiple_testing-wide": (
        # blocks of more than 2**16 tests run in parts: the warm-up compiles that path too (a cold cache would
        # otherwise compile it inside the long call's first slice, seconds before Ctrl-C is seen)
        "se.simulate_multiple_testing(effect_size=0.3, n_tests=2**16 + 1000, n_true=10, n_per_group=20, n_sims=3, "
        "methods=('none', 'bonferroni'), rng=0)",
        "se.simulate_multiple_testing(effect_size=0.3, n_tests=4_000_000, n_true=100, n_per_group=20, n_sims=3, "
        "methods=('none', 'bonferroni'), rng=0)",
        "se.simulate_multiple_testing(effect_size=0.3, n_tests=5000, n_true=50, n_per_group=20, n_sims=3, "
        "methods=('none', 'bonferroni'), rng=1).to_frame().to_numpy().tobytes().hex()",
    ),
}

CHILD = r"""
import numpy as np
import simengine as se
P = 1.0 - np.random.default_rng(1).uniform(size=2**22)  # in (0, 1]: local FDR refuses 0
S = np.sort(P)
for case, (warm, long, small) in CASES.items():
    eval(warm)
    before = eval(small)
    print("ready", case, flush=True)
    try:
        eval(long)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    print("after", "same" if eval(small) == before else "changed", flush=True)
"""

# seconds between "ready" and SIGINT: the long call is then inside its slices, past any set-up
WAIT = 0.25


@pytest.fixture(scope="module")
def interrupted():
    """Run every case in one child; returns {case: (seconds from SIGINT to "interrupted", line, after)}."""
    child = Child(f"CASES = {CASES!r}\n" + CHILD)
    out = {}
    try:
        for case in CASES:
            assert child.line(600.0, f"warming {case}") == f"ready {case}"
            time.sleep(WAIT)
            child.proc.send_signal(signal.SIGINT)
            sent = time.perf_counter()
            reply = child.line(60.0, f"SIGINT during {case}").strip()
            took = time.perf_counter() - sent
            after = child.line(60.0, f"the small call after {case}").strip()
            out[case] = (took, reply, after)
        err = child.finish()
    finally:
        child.close()
    out["stderr"] = err
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_sigint_returns_within_a_second(interrupted, case):
    took, reply, after = interrupted[case]
    assert reply == "interrupted", (case, reply)
    assert took < 1.0, f"{case}: {took:.2f} s from SIGINT to KeyboardInterrupt"
    assert after == "after same", (case, after)


def test_sigint_leaves_no_system_error(interrupted):
    assert "SystemError" not in interrupted["stderr"] and "Traceback" not in interrupted["stderr"]


# -------------------------------------------------------------------- slicing never changes a number
@pytest.fixture
def tiny_slices(monkeypatch):
    """One unit per slice everywhere in multitest; long-family paths from 1500 tests, in chunks of 64."""
    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)
    for name, value in (("_HUGE", 1500), ("_CHUNK", 64)):
        monkeypatch.setattr(multitest, name, value)

    def sliced(*args, **kwargs):
        return _long.run_blocks(*args, **{**kwargs, "first": 1})

    monkeypatch.setattr(multitest, "run_blocks", sliced)
    return monkeypatch


@pytest.mark.parametrize("n", [1, 7, 8, 129, 1000, 8193, 70_001])
def test_by_constant_in_slices_is_numpys_pairwise_sum(tiny_slices, n):
    assert multitest._harmonic_sum(n) == np.sum(1.0 / np.arange(1, n + 1))


def test_by_constant_of_a_long_family_is_numpys_pairwise_sum():
    # NumPy's own buffering must not cut the sum differently at millions of terms
    n = 3 * 10**6 + 7
    assert multitest._harmonic_sum(n) == np.sum(1.0 / np.arange(1, n + 1))


def _lfdr_whole(p, alpha):
    rej, adj = np.empty(p.shape[0], dtype=np.bool_), np.empty(p.shape[0])
    _lfdr1(p, alpha, rej, adj)
    return rej, adj


@pytest.mark.parametrize("steps", [1, 2, 5, 2**21])
def test_lfdr_fit_in_slices_of_steps_is_the_kernels(tiny_slices, steps):
    tiny_slices.setattr(multitest, "_PAVA_STEPS", steps)
    rng = np.random.default_rng(31)
    # long pools, many ties, an unsorted row taken as sorted (the fit sorts it), a single distinct value
    rows = [1.0 - rng.uniform(size=800) ** 3, np.maximum(np.round(1.0 - rng.uniform(size=700), 2), 0.01),
            np.linspace(1.0, 1e-3, 600), np.full(300, 0.4), np.array([0.2])]
    for p in rows:
        for alpha in (0.05, 0.5):
            rej, adj = np.empty(p.shape[0], dtype=np.bool_), np.empty(p.shape[0])
            multitest._lfdr_long(p, alpha, rej, adj)
            ref_rej, ref_adj = _lfdr_whole(p, alpha)
            assert_array_equal(rej, ref_rej, strict=True)
            assert_array_equal(adj, ref_adj, strict=True)


def test_long_family_lfdr_and_by_through_multipletests(request):
    p = 1.0 - np.random.default_rng(32).uniform(size=2500) ** 2
    calls = [("lfdr", {}), ("lfdr", {"is_sorted": True}), ("fdr_by", {}), ("fdr_by", {"returnsorted": True})]
    whole = [simengine.multipletests(p, method=m, **kw) for m, kw in calls]
    request.getfixturevalue("tiny_slices").setattr(multitest, "_PAVA_STEPS", 3)
    for (m, kw), ref in zip(calls, whole):
        res = simengine.multipletests(p, method=m, **kw)
        assert_array_equal(res.reject, ref.reject, strict=True)
        assert_array_equal(res.pvals_corrected, ref.pvals_corrected, strict=True)


# name -> (call, `_UNIT_CELLS` values: units that cut families and blocks anywhere; a few slices each)
MT_CALLS = {
    "many-small-families": (dict(effect_size=0.4, n_per_group=10, n_sims=1100, methods=("fdr_bh", "none"),
                                 rng=8), (3001,)),
    "few-long-families": (dict(effect_size=0.3, n_tests=3000, n_true=30, n_per_group=8, n_sims=3,
                               methods=("fdr_by", "bonferroni"), rng=3), (1999,)),
    "one-test-families": (dict(effect_size=0.5, n_tests=1, n_true=1, n_per_group=3, n_sims=1001, methods="holm",
                               rng=4), (333,)),
}


@pytest.mark.parametrize("name", list(MT_CALLS))
def test_simulate_multiple_testing_units_of_any_size_give_identical_results(request, name):
    kw, units = MT_CALLS[name]
    whole = simengine.simulate_multiple_testing(**kw).to_dict()
    tiny = request.getfixturevalue("tiny_slices")
    for unit in units:
        tiny.setattr(multitest, "_UNIT_CELLS", unit)
        res = simengine.simulate_multiple_testing(**kw).to_dict()
        for key, value in whole.items():
            if isinstance(value, np.ndarray) and value.dtype != object:
                assert_array_equal(res[key], value, err_msg=f"{key} unit {unit}", strict=True)
            elif isinstance(value, float) and value != value:
                assert res[key] != res[key], key
            else:
                assert np.all(res[key] == value), (key, unit)


def test_simulate_multiple_testing_draws_as_one_block_call():
    # a NumPy replay of one block's generator: its cells family after family, four draws a test
    from simengine._rng import slice_generators
    from simengine.kernels.twosample import _ttest_pooled1

    n_tests, n = 6, 5
    sd_mean = 1.0 / math.sqrt(n)
    res_t = []
    g = slice_generators(np.random.SeedSequence(12), 0, 1)[0]
    for f in range(4):
        for j in range(n_tests):
            mu = 0.7 if j < 2 else 0.0
            m1 = mu + sd_mean * g.standard_normal()
            m2 = sd_mean * g.standard_normal()
            s1, s2 = g.chisquare(n - 1.0), g.chisquare(n - 1.0)
            res_t.append(_ttest_pooled1(float(n), m1, s1, float(n), m2, s2)[0])
    from simengine.kernels.power import _family_t_normal

    gens = slice_generators(np.random.SeedSequence(12), 0, 1)
    t = np.empty((4, n_tests))
    for lo, hi in ((0, 5), (5, 6), (6, 17), (17, 24)):  # cuts inside and at the edges of families
        _family_t_normal(gens, simengine.multitest.FAMILY_BLOCK, n_tests, 2, n, 0.7, lo, hi, t[lo // n_tests:],
                         lo // n_tests)
    assert_array_equal(t.ravel(), np.array(res_t))
