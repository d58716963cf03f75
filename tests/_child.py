"""A child interpreter that a test talks to line by line, with a deadline on every line.

The SIGINT tests run their long calls in a child and read what it prints.  A child that
stalls (or dies) must fail the test quickly and say where: every read has its own
timeout, and on a timeout the child prints the stacks of all its threads (faulthandler on
SIGUSR1) before it is killed; the failure shows the stage and the end of its stderr.
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

# prepended to the child's code: stacks of every thread on SIGUSR1
_PRELUDE = "import faulthandler, signal\nfaulthandler.register(signal.SIGUSR1, all_threads=True)\n"


def default_sigint():
    """`preexec_fn` of a child that must answer SIGINT: the default disposition, whatever the test runner's.

    A runner started in the background by a non-interactive shell ignores SIGINT, and its children inherit
    that; Python then installs no KeyboardInterrupt handler, and the call under test would run to its end.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Child:
    def __init__(self, code: str, *, cwd_on_path: bool = True):
        env = dict(os.environ)
        if cwd_on_path:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))
        self._errors = tempfile.TemporaryFile(mode="w+")  # not a pipe: a chatty child never blocks on it
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _PRELUDE + code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._errors, text=True, env=env, preexec_fn=default_sigint,
        )
        self.started = time.perf_counter()
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # end of output: the child exited

    def stderr(self) -> str:
        self._errors.flush()
        self._errors.seek(0)
        return self._errors.read()

    def fail(self, why: str):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)  # stacks of every thread to stderr
            time.sleep(1.0)
            self.proc.kill()
            self.proc.wait()
        pytest.fail(f"{why} ({time.perf_counter() - self.started:.1f} s after the child started, exit code "
                    f"{self.proc.returncode}); the end of its stderr:\n{self.stderr()[-4000:]}")

    def line(self, timeout: float, stage: str) -> str:
        """The next line the child prints; fails the test when none comes within `timeout` seconds."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.fail(f"no line from the child within {timeout:.0f} s at: {stage}")
        if line is None:
            self.proc.wait()
            self.fail(f"the child exited at: {stage}")
        return line

    def send(self, text: str):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 60.0) -> str:
        """Close the child's stdin, wait for it to exit with 0; returns its stderr."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:  # pragma: no cover - it exited already
            pass
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"the child did not exit within {timeout:.0f} s")
        err = self.stderr()
        assert code == 0, f"exit code {code}; stderr:\n{err[-4000:]}"
        return err

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._errors.close()
