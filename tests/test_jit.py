"""numba options and the cache directory, including a read-only install."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import simengine
from simengine import _jit

PACKAGE = Path(simengine.__file__).resolve().parent

RUN_KERNEL = (
    "import json, numpy as np, simengine, simengine._jit as j\n"
    "from simengine.kernels.util import _parallel_probe\n"
    "assert _parallel_probe(np.arange(5.0)) == 10.0\n"
    "print(json.dumps({'cache': str(j.cache_dir()), 'file': simengine.__file__}))\n"
)


def test_options_are_the_documented_ones():
    assert _jit.OPTIONS["cache"] is True
    assert _jit.OPTIONS["fastmath"] is False
    assert _jit.OPTIONS["error_model"] == "numpy"


def test_numba_cache_dir_is_respected(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", RUN_KERNEL], env=env, capture_output=True, text=True, check=True)
    assert str(tmp_path / "cache") in out.stdout
    assert list((tmp_path / "cache").rglob("*.nbi")), "no cache index written to NUMBA_CACHE_DIR"


def _install_copy(target: Path) -> Path:
    """Lay the package out as an install would (a pure-Python package is its files)."""
    site = target / "site-packages"
    shutil.copytree(PACKAGE, site / "simengine", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _read_only_command(site: Path, code: str) -> list:
    """Run `code` with `site` read-only: chmod for ordinary users; root ignores
    permission bits, so for root a read-only bind mount in a private namespace."""
    if os.geteuid() != 0:
        return [sys.executable, "-c", code]
    unshare = shutil.which("unshare")
    assert unshare, "a read-only location needs `unshare` when the tests run as root"
    script = f'mount --bind -o ro "{site}" "{site}" && exec "{sys.executable}" -c "$0"'
    return [unshare, "-rm", "sh", "-c", script, code]


def test_read_only_install_imports_and_runs(tmp_path):
    site = _install_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH")}
    env.update(HOME=str(home), PYTHONPATH=str(site))
    for p in [site, *site.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        touch = f"open({str(site / 'simengine' / 'probe')!r}, 'w')"
        probe = subprocess.run(_read_only_command(site, touch), env=env, cwd=home, capture_output=True, text=True)
        assert probe.returncode != 0, "the install location is writable; the test would prove nothing"
        out = subprocess.run(_read_only_command(site, RUN_KERNEL), env=env, cwd=home, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    finally:
        for p in [site, *site.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
    info = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    assert info["file"].startswith(str(site)), "the test imported the source tree, not the install"
    expected = home / ".cache" / "simengine" / "numba"
    assert info["cache"] == str(expected)
    assert list(expected.rglob("*.nbi")), "compiled kernel was not cached in the user cache directory"
    assert not list(site.rglob("*.nbi")), "something was written into the read-only install"


USER_FUNCTIONS = (
    "import numba, numpy as np, simengine\n"
    "from simengine import targets\n"
    "@numba.njit\n"
    "def stat(x, y):\n"
    "    return y.mean() - x.mean()\n"
    "simengine.permutation_test(np.arange(6.0), np.arange(6.0) + 1, statistic=stat, n_resamples=50, rng=0)\n"
    "f = targets.multivariate_normal(np.zeros(2), np.eye(2))\n"
    "simengine.metropolis_hastings(f, np.zeros(2), n_steps=10, n_chains=2, rng=0)\n"
    "simengine.metropolis_hastings(f, np.zeros(2), n_steps=10, n_chains=1, rng=0)\n"
)


def test_kernels_taking_user_functions_do_not_grow_the_cache(tmp_path):
    # A kernel specialised on a user's jitted function gets a new numba type in every process, so
    # a cached copy could never be reused; caching it would add files on every run without end.
    cache = tmp_path / "cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))

    def files():
        return sorted(p.name for p in cache.rglob("*") if p.is_file())

    subprocess.run([sys.executable, "-c", USER_FUNCTIONS], env=env, capture_output=True, check=True)
    first = files()
    subprocess.run([sys.executable, "-c", USER_FUNCTIONS], env=env, capture_output=True, check=True)
    assert files() == first
