"""Long load tests (issue 18): Ctrl-C ends `simulate_load_test` within a second with a plain KeyboardInterrupt, and
the process stays usable (same numbers from a small call afterwards, Python's SIGINT handler back).

Runs (of up to 10^7 requests) are the blocks between two checks; the runs of a slice share the threads.
"""
import signal
import textwrap
import time

from _child import Child

_CHILD = textwrap.dedent(
    """
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    import simengine

    def small():
        return simengine.simulate_load_test(arrival_rate=300, workers=20, n_requests=5000, n_sims=6, rng=2).to_dict()

    before = small()
    print("ready", flush=True)
    sys.stdin.readline()
    print("start", flush=True)
    try:
        simengine.simulate_load_test(arrival_rate=400, workers=20, slow_prob=0.1, n_requests=200_000, n_sims=10**6,
                                     rng=1)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    after = small()
    same = all(np.array_equal(np.asarray(before[k]), np.asarray(after[k])) for k in before)
    print("after", same, signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)
    """
)


def test_sigint_stops_a_long_load_test_within_a_second():
    child = Child(_CHILD)
    try:
        assert child.line(600.0, "compiling the load-test kernel") == "ready"
        child.send("go")
        assert child.line(60.0, "starting the long call") == "start"
        time.sleep(0.5)  # inside the call, past its first slice
        sent = time.perf_counter()
        child.proc.send_signal(signal.SIGINT)
        line = child.line(60.0, "SIGINT during the load test")
        elapsed = time.perf_counter() - sent
        after = child.line(60.0, "the small call afterwards")
        child.finish()
    finally:
        child.close()
    assert line == "interrupted"
    assert elapsed < 1.0
    assert after == "after True True"
