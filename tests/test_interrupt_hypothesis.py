"""Ctrl-C during the long hypothesis-test calls (issue 14), and slicing that never changes a number.

One child interpreter runs every case in turn: it warms the kernels, prints "ready <case>",
starts a call that would take many seconds, and the parent sends SIGINT; the child must print
"interrupted" (a plain KeyboardInterrupt, no SystemError) within 1 s, then run a small call
and print its result (the process is usable afterwards).  One child for all cases keeps the
interpreter start-up and kernel loading to one payment.
"""
import functools
import signal
import sys
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from test_permutation import _jit_mean_xy

import simengine

# the jitted statistic test_permutation uses: a custom statistic compiles per function, so share it
from _child import Child
from simengine import _long

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")

# case -> (warm-up call, long call (>= 10 s on an idle 2-core machine unless noted), small call after)
CASES = {
    "peeking": (
        "se.simulate_peeking(n_sims=2000, n_looks=20, rng=0)",
        "se.simulate_peeking(n_sims=2_000_000, n_looks=20, rng=0)",
        "se.simulate_peeking(n_sims=1000, rng=1).rejected_any_look",
    ),
    # the sufficient-statistic path keeps 8 bytes per replicate (and checks 32): 2e7 is a few seconds, not 10,
    # so that 640 MB of memory suffices
    "power-t": (
        "se.simulate_power(effect_size=0.2, n=394, n_sims=1000, rng=0)",
        "se.simulate_power(effect_size=0.2, n=394, n_sims=60_000_000, rng=0)",
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
    # single-pass calls cut into slices (issue 14): one family of 10**7 p-values, 10**4 families of 1000
    # (Hommel: O(tests^2) each), 6000 columns of 10**4 (t-test: memory-bound, 0.6-2 s; contiguous input, since
    # copying a reversed or transposed 480 MB array is one NumPy call that Ctrl-C cannot cut), 1000 columns
    # of 10**4 + 10**4 and one column of 10**7 + 10**7 (Mann-Whitney: a sort each).  A call that takes under a
    # second on an idle machine repeats in a list, so that SIGINT lands inside one of them (where, unsliced, it
    # would surface as a SystemError or wait for the call's end)
    "multipletests-family": (
        "se.multipletests(P[:2**20 + 1], method='fdr_bh')",
        "[se.multipletests(P, method='holm-sidak') for _ in range(5)]",
        "se.multipletests(P[:100], method='fdr_bh').pvals_corrected[0]",
    ),
    "multipletests-families": (
        "se.multipletests(P[:2000].reshape(-1, 1000), method='hommel')",
        "se.multipletests(P.reshape(-1, 1000), method='hommel')",
        "se.multipletests(P[:3000].reshape(-1, 30), method='holm').reject.sum()",
    ),
    "ttest_ind-columns": (
        "se.ttest_ind(A[:2], A[2:4], axis=1)",
        "[se.ttest_ind(A, A, axis=1) for _ in range(40)]",
        "se.ttest_ind(X[:50], X[50:100]).pvalue",
    ),
    "mannwhitneyu-columns": (
        "se.mannwhitneyu(A[:2], A[2:4], axis=1)",
        "[se.mannwhitneyu(A[:1000], A[1000:2000], axis=1) for _ in range(10)]",
        "se.mannwhitneyu(X[:50], X[50:100]).pvalue",
    ),
    "mannwhitneyu-column": (
        "se.mannwhitneyu(A.ravel()[:2**19], A.ravel()[2**19:2**20])",
        "se.mannwhitneyu(A.ravel()[:10**7], A.ravel()[10**7:2 * 10**7])",
        "se.mannwhitneyu(X[:50], X[50:100], method='exact').pvalue",
    ),
}

CHILD = r"""
import sys, time
import numpy as np
import simengine as se
X = np.random.default_rng(0).normal(size=1000)
P = np.random.default_rng(1).uniform(size=10**7)
A = np.random.default_rng(2).normal(size=(6000, 10**4))
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
    child = Child(f"CASES = {CASES!r}\n" + CHILD)
    out = {}
    try:
        for case in CASES:
            # the first case compiles its kernels cold (a minute on two loaded cores)
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
    assert after.startswith("after ") and len(after) > len("after "), after


def test_sigint_leaves_no_system_error(interrupted):
    assert "SystemError" not in interrupted["stderr"] and "Traceback" not in interrupted["stderr"]


# -------------------------------------------------------------------- slicing never changes a number
@pytest.fixture
def tiny_slices(monkeypatch):
    """Every run_blocks call of the four modules runs one block per slice (exact permutation: small units)."""
    from simengine import multitest, permutation, power, sequential, twosample

    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)
    monkeypatch.setattr(permutation, "_EXACT_UNIT_OPS", 2000)
    # long families, long columns: their sliced paths (sort, passes in chunks) from a few hundred values
    for module, name, value in ((multitest, "_HUGE", 1500), (multitest, "_HUGE_HOMMEL", 300),
                                (multitest, "_CHUNK", 64), (twosample, "_LONG_TTEST", 1000),
                                (twosample, "_LONG_MWU", 1000), (twosample, "_SEGMENT", 64),
                                (twosample, "SORT_RUN", 128)):
        monkeypatch.setattr(module, name, value)

    def sliced(*args, **kwargs):
        return _long.run_blocks(*args, **{**kwargs, "first": 1})

    for module in (sequential, power, multitest, permutation, twosample):
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
    # many rows: slices of rows; long rows (above the fixture's thresholds): sliced sorts and segmented passes
    "multipletests-families": lambda: simengine.multipletests(_P[:21_000].reshape(-1, 30) ** 2, method="holm-sidak"),
    "multipletests-hommel": lambda: simengine.multipletests(_P[:20_000].reshape(-1, 40), method="hommel"),
    "ttest_ind-columns": lambda: simengine.ttest_ind(_X[:, :30], _X[:, 30:], axis=1, equal_var=False),
    "ttest_ind-long": lambda: simengine.ttest_ind(_X[:2].ravel(), _X[2:4].ravel() + 0.1),
    "ttest_ind-long-columns": lambda: simengine.ttest_ind(_X[:600].T, _X[600:1200].T),
    "mannwhitneyu-columns": lambda: simengine.mannwhitneyu(_X[:, :30], _X[:, 30:], axis=1),
    "mannwhitneyu-long": lambda: simengine.mannwhitneyu(np.round(_X[:2].ravel(), 1), np.round(_X[2:4].ravel(), 1),
                                                        alternative="less"),
}

_P = np.random.default_rng(21).uniform(size=21_000)
_X = np.random.default_rng(22).normal(size=(1200, 70))


@pytest.mark.parametrize("name", list(CALLS))
def test_tiny_slices_give_identical_results(name, request):
    whole = CALLS[name]()
    request.getfixturevalue("tiny_slices")
    _same(CALLS[name](), whole)


def test_long_family_in_slices_is_bit_identical_for_every_method(request):
    from simengine.multitest import METHODS

    # ties, exact 0s and 1s (not for lfdr, which refuses 0), sorted and unsorted, both output orders
    p = np.round(_P[:2400] ** 3, 3)
    p[:4] = [0.0, 1.0, 0.0, 1.0]
    calls = [(m, kw) for m in METHODS
             for kw in ({}, {"is_sorted": True}, {"returnsorted": True}, {"maxiter": -1, "alpha": 0.3})]
    whole = [simengine.multipletests(p[p > 0] if m == "lfdr" else p, method=m, **kw) for m, kw in calls]
    request.getfixturevalue("tiny_slices")
    for (m, kw), ref in zip(calls, whole):
        res = simengine.multipletests(p[p > 0] if m == "lfdr" else p, method=m, **kw)
        assert_array_equal(res.reject, ref.reject, err_msg=f"{m} {kw}", strict=True)
        assert_array_equal(res.pvals_corrected, ref.pvals_corrected, err_msg=f"{m} {kw}", strict=True)


# -------------------------------------------------------------------- progress and target_se
from simengine._results import TargetNotReachedWarning  # noqa: E402
from simengine._rng import child_seed_sequence  # noqa: E402

# function, a cheap call, the rates a target decides on
ADAPTIVE = {
    "peeking": (simengine.simulate_peeking, dict(n_sims=400, n_looks=4, visitors_per_look=50),
                ("rejected_any_look", "rejected_final")),
    "power": (simengine.simulate_power, dict(effect_size=0.3, n=[20, 60], n_sims=400), ("power",)),
    "multiple_testing": (simengine.simulate_multiple_testing,
                         dict(effect_size=0.4, n_per_group=15, n_tests=6, n_sims=400, methods=("holm", "fdr_bh")),
                         ("fwer", "fdr", "power")),
}


@pytest.mark.parametrize("name", list(ADAPTIVE))
def test_progress_bar_on_stderr_only_when_asked(name, capsys, tiny_slices):
    fn, kw, _ = ADAPTIVE[name]
    # tiny slices: the bar is drawn after the first
    fn(**kw, rng=1, progress=False)
    assert capsys.readouterr().err == ""
    fn(**{**kw, "n_sims": 5000}, rng=1, progress=True)
    assert f"simulate_{name}" in capsys.readouterr().err
    fn(**kw, rng=1)  # None: stderr is not a terminal here
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name", list(ADAPTIVE))
def test_target_se_is_met_deterministic_and_the_rounds_combined(name):
    fn, kw, rates = ADAPTIVE[name]
    first = fn(**kw, rng=child_seed_sequence(np.random.SeedSequence(7), 0))
    target = 0.6 * max(float(np.max(getattr(first, f"{rate}_se"))) for rate in rates)  # a few rounds
    res = fn(**kw, rng=7, target_se=target)
    for rate in rates:
        assert np.all(np.asarray(getattr(res, f"{rate}_se")) <= target), rate
    assert res.n_sims % kw["n_sims"] == 0 and res.n_sims > kw["n_sims"]
    _same(fn(**kw, rng=7, target_se=target), res)  # same seed, same result
    # round i is the plain call from the i-th child stream, and the rounds combine by the declared rules
    ss = np.random.SeedSequence(7)
    rounds = [fn(**kw, rng=child_seed_sequence(ss, i)) for i in range(res.n_sims // kw["n_sims"])]
    combined = functools.reduce(lambda a, b: type(res).combine([a, b]), rounds)  # as the rounds ran
    for field in type(res)._estimates:
        assert_array_equal(getattr(combined, field), getattr(res, field))
        assert_array_equal(getattr(combined, f"{field}_se"), getattr(res, f"{field}_se"))


@pytest.mark.parametrize("name", list(ADAPTIVE))
def test_target_se_warns_at_the_cap(name):
    fn, kw, _ = ADAPTIVE[name]
    with pytest.warns(TargetNotReachedWarning, match="`max_sims` = 1200"):
        res = fn(**kw, rng=3, target_se=1e-4, max_sims=1200)
    assert res.n_sims == 1200


def test_peeking_rounds_combine_exactly_and_agree_with_one_big_run():
    kw = dict(n_looks=5, visitors_per_look=40, rate=0.2)
    ss = np.random.SeedSequence(11)
    parts = [simengine.simulate_peeking(n_sims=3000, rng=child_seed_sequence(ss, i), **kw) for i in range(4)]
    both = simengine.SimulatePeekingResult.combine(parts)
    counts = sum(p.first_rejection_look for p in parts)
    assert_array_equal(both.first_rejection_look, counts)  # counts add exactly
    assert both.n_sims == 12_000
    np.testing.assert_allclose(both.cumulative_rejection, np.cumsum(counts) / 12_000, rtol=1e-14)
    np.testing.assert_allclose(both.rejected_any_look, counts.sum() / 12_000, rtol=1e-14)
    final = sum(round(p.rejected_final * p.n_sims) for p in parts)
    np.testing.assert_allclose(both.rejected_final, final / 12_000, rtol=1e-14)
    big = simengine.simulate_peeking(n_sims=12_000, rng=12, **kw)  # an independent run: within 4 SE
    for name in ("rejected_any_look", "rejected_final", "expected_visitors_per_arm"):
        se = np.hypot(getattr(both, f"{name}_se"), getattr(big, f"{name}_se"))
        assert abs(getattr(both, name) - getattr(big, name)) <= 4 * se, name
    np.testing.assert_allclose(both.rejected_any_look_se,
                               np.sqrt(both.rejected_any_look * (1 - both.rejected_any_look) / 12_000), rtol=0.02)


def test_multiple_testing_and_power_rounds_agree_with_one_big_run():
    ss = np.random.SeedSequence(13)
    kw = dict(effect_size=0.4, n_per_group=15, n_tests=6, methods=("holm", "fdr_bh"))
    parts = [simengine.simulate_multiple_testing(n_sims=2000, rng=child_seed_sequence(ss, i), **kw) for i in range(3)]
    both = simengine.SimulateMultipleTestingResult.combine(parts)
    big = simengine.simulate_multiple_testing(n_sims=6000, rng=14, **kw)
    for name in ("fwer", "fdr", "power", "mean_rejections"):
        se = np.hypot(getattr(both, f"{name}_se"), getattr(big, f"{name}_se"))
        assert np.all(np.abs(getattr(both, name) - getattr(big, name)) <= 4 * se), name
    # fwer is a fraction of families: the combined value is a whole count over the total
    assert_array_equal(np.round(both.fwer * 6000), both.fwer * 6000)
    parts = [simengine.simulate_power(effect_size=0.3, n=[20, 60], n_sims=3000, rng=child_seed_sequence(ss, i))
             for i in range(2)]
    both = simengine.SimulatePowerResult.combine(parts)
    big = simengine.simulate_power(effect_size=0.3, n=[20, 60], n_sims=6000, rng=15)
    assert np.all(np.abs(both.power - big.power) <= 4 * np.hypot(both.power_se, big.power_se))
    np.testing.assert_allclose(both.power * 6000, np.round(both.power * 6000), atol=1e-9)
