"""numba options and the cache directory, including a read-only install."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


# ---------------------------------------------------------------- cache directory safety


def test_unsafe_reason_accepts_only_private_directories_of_this_user(tmp_path):
    me = os.geteuid()
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    assert _jit.unsafe_reason(private) is None
    assert "owned by uid" in _jit.unsafe_reason(private, uid=me + 1)
    shared = tmp_path / "shared"
    shared.mkdir()
    for mode in (0o777, 0o770, 0o722):
        shared.chmod(mode)
        assert "writable by group or others" in _jit.unsafe_reason(shared)
    link = tmp_path / "link"
    link.symlink_to(private)
    assert "symbolic link" in _jit.unsafe_reason(link)
    plain = tmp_path / "file"
    plain.write_text("")
    assert "not a directory" in _jit.unsafe_reason(plain)
    assert "cannot be inspected" in _jit.unsafe_reason(tmp_path / "missing")
    # a parent that others may write lets them swap the directory, unless it is sticky like /tmp
    open_parent = tmp_path / "open"
    open_parent.mkdir()
    inner = open_parent / "cache"
    inner.mkdir(mode=0o700)
    open_parent.chmod(0o777)
    assert "group or others can write" in _jit.unsafe_reason(inner)
    open_parent.chmod(0o1777)
    assert _jit.unsafe_reason(inner) is None


PROBE = (
    "import json, warnings, numpy as np\n"
    "with warnings.catch_warnings(record=True) as caught:\n"
    "    warnings.simplefilter('always')\n"
    "    import simengine, simengine._jit as j\n"
    "from simengine.kernels.special import norm_cdf\n"  # one small kernel: compiles in a fraction of a second
    "assert norm_cdf(0.0) == 0.5\n"
    "print(json.dumps({'cache': str(j.cache_dir()), 'cached': j.OPTIONS['cache'],\n"
    "                  'warnings': [str(w.message) for w in caught]}))\n"
)

# A pickle that, when numba loads it as a cache index, leaves a marker file: planted code running.
PLANT = (
    "import os, pickle\n"
    "class Plant:\n"
    "    def __init__(self, marker): self.marker = marker\n"
    "    def __reduce__(self): return (os.system, (f'touch {self.marker}',))\n"
    "def plant(path, marker):\n"
    "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
    "    with open(path, 'wb') as f: pickle.dump(Plant(marker), f)\n"
)


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory):
    """One install copy for the cache-safety tests (numba names cache files after the source path)."""
    return _install_copy(tmp_path_factory.mktemp("install"))


@pytest.fixture(scope="module")
def index_files(shared_site, tmp_path_factory):
    """Relative paths of the cache index files the probe's kernel writes (numba names them per source file)."""
    names = tmp_path_factory.mktemp("names")
    names.chmod(0o700)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(shared_site), NUMBA_CACHE_DIR=str(names))
    subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=names, capture_output=True, check=True)
    found = [p.relative_to(names) for p in names.rglob("*.nbi")]
    assert found, "the probe wrote no cache index"
    return found


def _hostile_setup(tmp_path, site):
    """An install the user cannot write, no usable user cache, and a private TMPDIR to plant in."""
    home = tmp_path / "home"
    home.mkdir()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")  # XDG_CACHE_HOME below a file: no user cache, even for root
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env.update(HOME=str(home), PYTHONPATH=str(site), XDG_CACHE_HOME=str(blocker / "cache"), TMPDIR=str(tmp))
    return site, home, tmp, env


def _run_probe(site, home, env):
    for p in [site, *site.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        out = subprocess.run(_read_only_command(site, PROBE), env=env, cwd=home, capture_output=True, text=True)
    finally:
        for p in [site, *site.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
    assert out.returncode == 0, out.stderr
    return __import__("json").loads(out.stdout.strip().splitlines()[-1])


def _plant(directory, relative, marker):
    code = PLANT + "".join(f"plant({str(directory / r)!r}, {str(marker)!r})\n" for r in relative)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_planted_cache_index_runs_code_when_trusted(tmp_path, shared_site, index_files):
    # The control for the next test: the planted file really runs code if a cache directory is trusted.
    site, home, tmp, env = _hostile_setup(tmp_path, shared_site)
    relative = index_files
    trusted = tmp_path / "trusted"
    trusted.mkdir(mode=0o700)
    marker = tmp_path / "ran-planted-code"
    _plant(trusted, relative, marker)
    subprocess.run([sys.executable, "-c", PROBE], env=dict(env, NUMBA_CACHE_DIR=str(trusted)), cwd=home,
                   capture_output=True)
    assert marker.exists(), "the planted index did not run: the hostile-directory test below would prove nothing"


def test_hostile_world_writable_fallback_is_never_loaded(tmp_path, shared_site, index_files):
    # Another user pre-creates the predictable fallback 0777 and plants a pickled index in it.
    site, home, tmp, env = _hostile_setup(tmp_path, shared_site)
    relative = index_files
    hostile = tmp / f"simengine-numba-{os.geteuid()}"
    hostile.mkdir()
    marker = tmp_path / "ran-planted-code"
    _plant(hostile, relative, marker)
    for p in [hostile, *hostile.rglob("*")]:
        p.chmod(0o777)
    info = _run_probe(site, home, env)
    assert not marker.exists(), "simengine loaded a cache index from a directory others can write"
    assert info["cache"] != str(hostile) and not info["cache"].startswith(str(hostile) + os.sep)
    assert Path(info["cache"]).parent == tmp, "the process-private cache should be a fresh mkdtemp in TMPDIR"
    assert any("writable by group or others" in w for w in info["warnings"]), info["warnings"]
    assert not Path(info["cache"]).exists(), "the process-private cache directory was not removed at exit"


def test_fallback_owned_by_another_user_is_not_used(tmp_path, shared_site):
    # Pre-created 0755 by someone else: used to break `import simengine` ("no locator available").
    site, home, tmp, env = _hostile_setup(tmp_path, shared_site)
    hostile = tmp / f"simengine-numba-{os.geteuid()}"
    hostile.mkdir(mode=0o755)
    if os.geteuid() == 0:
        os.chown(hostile, 65534, 65534)
        info = _run_probe(site, home, env)
        assert info["cache"] != str(hostile)
        assert any("owned by uid 65534" in w for w in info["warnings"]), info["warnings"]
    else:  # cannot give a directory away; pretend to be another user instead
        assert "owned by uid" in _jit.unsafe_reason(hostile, uid=os.geteuid() + 1)


def test_private_fallback_is_created_0700_and_reused(tmp_path, shared_site):
    site, home, tmp, env = _hostile_setup(tmp_path, shared_site)
    first = _run_probe(site, home, env)
    expected = tmp / f"simengine-numba-{os.geteuid()}"
    assert first["cache"] == str(expected) and first["cached"] and not first["warnings"]
    assert (expected.stat().st_mode & 0o777) == 0o700
    assert list(expected.rglob("*.nbi")), "nothing was cached in the private fallback"
    assert _run_probe(site, home, env)["cache"] == str(expected)


def test_unsafe_numba_cache_dir_runs_uncached_with_one_warning(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(shared))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    info = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    assert info["cache"] == "None" and info["cached"] is False
    assert len(info["warnings"]) == 1 and "NUMBA_CACHE_DIR" in info["warnings"][0]
    assert not list(shared.rglob("*.nbi"))


def test_numba_internals_are_where_the_compat_module_expects():
    # simengine/_numba_compat.py is the only importer of numba's non-top-level modules; if a
    # numba release moves one of them, this fails here with the name, not inside a kernel.
    import numba
    import numpy as np

    from simengine import _numba_compat as nc

    for name in nc.__all__:
        assert getattr(nc, name) is not None, name
    assert isinstance(numba.njit(lambda: 1), nc.CPUDispatcher)
    assert issubclass(nc.TypingError, nc.NumbaError)
    # the ziggurat tables NumPy uses: 256 layers for the normal and the exponential
    for name in ("ki_double", "wi_double", "fi_double", "ke_double", "we_double", "fe_double"):
        assert np.asarray(getattr(nc, name)).shape == (256,), name
    assert abs(nc.ziggurat_nor_r - 3.6541528853610088) < 1e-15
    assert abs(nc.ziggurat_exp_r - 7.69711747013104972) < 1e-15
    # the compiled entry point metropolis_hastings calls directly on repeated calls
    add = numba.njit(lambda a, b: a + b)
    assert nc.compiled_entry_point(add, (1.0, 2.0)) is None  # not compiled for these types yet
    assert add(1.0, 2.0) == 3.0
    entry = nc.compiled_entry_point(add, (1.0, 2.0))
    assert callable(entry) and entry(1.0, 2.0) == 3.0



def test_hjit_helpers_run_in_kernels_and_refuse_python_calls():
    # _jit.hjit: a helper without Python / C entry points (numba's no_cpython_wrapper / no_cfunc_wrapper
    # options); kernels call it as any dispatcher, a call from Python raises instead of jumping to a null entry.
    import math

    from simengine._jit import hjit, njit

    @hjit(cache=False)
    def helper(x):
        return math.sqrt(x) + 1.0

    @njit(cache=False)
    def kernel(x):
        return 2.0 * helper(x)

    assert kernel(4.0) == 6.0
    with pytest.raises(TypeError, match="internal kernel helper"):
        helper(4.0)
    assert helper.targetoptions["no_cpython_wrapper"] and helper.targetoptions["no_cfunc_wrapper"]

def test_import_writes_nothing_into_the_package(tmp_path):
    # -B: Python's own bytecode aside, importing simengine (and a kernel module) must not touch the install
    site = _install_copy(tmp_path)
    before = sorted(str(p.relative_to(site)) for p in site.rglob("*"))
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    code = "import simengine, simengine.kernels.special, simengine._jit as j; print(j.cache_dir())"
    out = subprocess.run([sys.executable, "-B", "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert sorted(str(p.relative_to(site)) for p in site.rglob("*")) == before
    assert out.stdout.strip() == str(tmp_path / "xdg" / "simengine" / "numba")  # no __pycache__: the user cache
