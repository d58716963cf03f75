"""Run a snippet in a fresh interpreter with a given numba thread count.

Thread invariance can only be tested across processes: numba fixes its thread
pool size when the pool starts.
"""
import os
import pickle
import subprocess
import sys


def run_with_threads(code: str, threads: int):
    """Execute `code` (which must bind `result`) with NUMBA_NUM_THREADS=threads; return `result`."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    wrapper = (
        "import pickle, sys\n"
        + code
        + "\nsys.stdout.buffer.write(pickle.dumps(result))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper], env=env, capture_output=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode())
    return pickle.loads(out.stdout)
