"""`_long.threaded_blocks`: blocks on the calling thread and kept helpers, outputs in block order, errors
raised in the caller, nested and concurrent calls that never wait on each other, helpers made again after a fork."""
import os
import sys
import threading
import time

import numba
import pytest

from simengine import _long


@pytest.fixture
def two_threads():
    old = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    yield numba.get_num_threads()
    numba.set_num_threads(old)


def test_outputs_in_block_order_on_more_than_one_thread(two_threads):
    seen = set()

    def run(b):
        seen.add(threading.get_ident())
        time.sleep(0.002)  # releases the GIL, as the kernels do
        return b * b

    for lo, hi in [(0, 1), (3, 4), (0, 9), (5, 40)]:
        assert _long.threaded_blocks(run, lo, hi) == [b * b for b in range(lo, hi)]
    assert len(seen) == two_threads  # the caller and the helper(s) both took blocks


def test_an_error_in_a_helper_is_raised_in_the_caller_and_the_helpers_survive(two_threads):
    caller = threading.get_ident()

    def run(b):
        time.sleep(0.001)
        if b == 7 and threading.get_ident() != caller:
            raise ZeroDivisionError("block 7")
        if b == 7:
            raise ValueError("block 7")
        return b

    with pytest.raises((ZeroDivisionError, ValueError), match="block 7"):
        _long.threaded_blocks(run, 0, 20)
    assert _long.threaded_blocks(lambda b: b + 1, 0, 10) == list(range(1, 11))


def test_nested_and_concurrent_calls_finish(two_threads):
    # a block that itself runs blocks, and two callers at once: every helper may be busy elsewhere, so a call
    # must not wait for a helper to start; each finishes with its own outputs
    def inner(b):
        time.sleep(0.001)
        return -b

    def outer(b):
        return sum(_long.threaded_blocks(inner, 0, b + 1))

    results = {}

    def caller(name, n):
        results[name] = _long.threaded_blocks(outer, 0, n)

    threads = [threading.Thread(target=caller, args=(i, 6 + i)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    for i in range(3):
        assert results[i] == [-sum(range(b + 1)) for b in range(6 + i)]


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="fork() only")
def test_a_forked_child_makes_its_own_helpers(two_threads):
    _long.threaded_blocks(lambda b: b, 0, 4)  # the parent has helpers now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: helpers are not inherited, so new ones must be started
        try:
            ok = _long.threaded_blocks(lambda b: (time.sleep(0.001), b)[1], 0, 8) == list(range(8))
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    try:
        got = b""
        deadline = time.monotonic() + 60
        while not got and time.monotonic() < deadline:
            got = os.read(r, 1)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    assert got == b"1"
