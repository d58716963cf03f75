"""Ctrl-C during `permutation_test` on one long column (issue 14): a random block of PERM_BLOCK resamples of
10**6 + 10**6 values took ~15 s as one kernel call; it now runs in parts of a few milliseconds.

One child interpreter runs the cases in turn: a small call (its numbers printed), "ready", a call of many
seconds, SIGINT ~0.25 s in (while the column is sorted or its first parts run), then the small call again:
"interrupted" must come within 1 s (a plain KeyboardInterrupt, no SystemError), and the process must give
the same numbers as before.  The tiny-unit bit identity is in test_permutation.py.
"""
import signal
import sys
import time

import pytest

from _child import Child

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")

# case -> (long call: several seconds or more on an idle 2-core machine, small call printed before and after)
CASES = {
    "mean": (
        "se.permutation_test(L[0], L[1], n_resamples=999, rng=0)",
        "se.permutation_test(X[:50], X[50:100] + 0.3, rng=1).pvalue",
    ),
    "median": (
        "se.permutation_test(L[0], L[1] + 0.01, statistic='median', n_resamples=999, rng=0)",
        "se.permutation_test(X[:3000], X[3000:] + 0.05, statistic='median', n_resamples=3001, rng=2)"
        ".null_distribution.tolist()",
    ),
}

CHILD = r"""
import numpy as np
import simengine as se
X = np.random.default_rng(0).normal(size=5000)
L = np.random.default_rng(1).normal(size=(2, 10**6))
for case, (long, small) in CASES.items():
    print("before", hash(repr(eval(small))), flush=True)
    print("ready", case, flush=True)
    try:
        eval(long)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    print("after", hash(repr(eval(small))), flush=True)
"""

WAIT = 0.25


@pytest.fixture(scope="module")
def interrupted():
    """{case: (seconds from SIGINT to the reply, reply, small call before, after)}, and the child's stderr."""
    child = Child(f"CASES = {CASES!r}\n" + CHILD)
    out = {}
    try:
        for case in CASES:
            # the first small call may compile the kernels cold (a minute on two loaded cores)
            before = child.line(600.0, f"the small call before {case}")
            assert child.line(60.0, f"starting {case}") == f"ready {case}"
            time.sleep(WAIT)
            child.proc.send_signal(signal.SIGINT)
            sent = time.perf_counter()
            reply = child.line(60.0, f"SIGINT during {case}").strip()
            took = time.perf_counter() - sent
            after = child.line(60.0, f"the small call after {case}")
            out[case] = (took, reply, before, after)
        out["stderr"] = child.finish()
    finally:
        child.close()
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_sigint_on_one_long_column_returns_within_a_second(interrupted, case):
    took, reply, before, after = interrupted[case]
    assert reply == "interrupted", (case, reply)
    assert took < 1.0, f"{case}: {took:.2f} s from SIGINT to KeyboardInterrupt"
    assert before.startswith("before ") and after == "after " + before[len("before "):], (before, after)


def test_sigint_leaves_no_system_error(interrupted):
    assert "SystemError" not in interrupted["stderr"] and "Traceback" not in interrupted["stderr"]
