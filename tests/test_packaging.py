"""The package as users get it: `python -m build` makes an sdist and a wheel that hold the code, the example specs,
py.typed and the LICENSE, and each installs into a fresh virtual environment where the package imports, computes
and lists its example specs from the installed copy.

The build runs without isolation (no network) on a copy of the sources, so the working tree gets no build/ or
egg-info; the fresh environments see this environment's dependencies (numpy, numba, ...) through a .pth file,
but not this checkout (PYTHONPATH is cleared and the working directory is elsewhere).
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "simengine", "examples")


def _build_tools_or_skip():
    """`build` and setuptools >= 77 come with the test extras; outside CI a bare environment skips."""
    try:
        import build  # noqa: F401
        import setuptools
    except ImportError as exc:
        reason = f"{exc.name} is not installed (pip install -e '.[test]')"
    else:
        major = int(setuptools.__version__.split(".")[0])
        reason = None if major >= 77 else f"setuptools {setuptools.__version__} < 77 (pip install -e '.[test]')"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must build the package: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    _build_tools_or_skip()
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    out = src / "dist"
    run = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                         check=False, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_wheel_and_sdist_hold_the_examples_typing_marker_and_license(dists):
    examples = sorted(p.name for p in (ROOT / "examples").glob("*.toml"))
    with zipfile.ZipFile(dists["wheel"]) as whl:
        names = whl.namelist()
        for name in examples:
            assert whl.read(f"simengine/examples/{name}") == (ROOT / "examples" / name).read_bytes()
        metadata = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "simengine/py.typed" in names and "simengine/kernels/special.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: BSD-3-Clause" in metadata
    with tarfile.open(dists["sdist"]) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert {"LICENSE", "simengine/py.typed", "pyproject.toml"} <= members
    assert {f"examples/{name}" for name in examples} <= members


def _fresh_venv(path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # this environment's dependencies, as plain paths (its .pth files, e.g. an editable simengine, are not run);
    # never this checkout or its tests, which a developer's PYTHONPATH may hold
    # (CI's environment lives inside the checkout, in .venv: its site-packages are dependencies, not the checkout)
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    prefix = Path(sys.prefix).resolve()

    def checkout(p):
        return p.is_relative_to(ROOT) and not p.is_relative_to(prefix)

    deps = [p for p in dict.fromkeys(sys.path + [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
            if p and Path(p).is_dir() and not checkout(Path(p).resolve())
            and not Path(p).resolve().is_relative_to(stdlib)]
    (Path(purelib) / "_outer_dependencies.pth").write_text("\n".join(deps) + "\n")
    return python


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_built_package_installs_and_runs_in_a_fresh_venv(kind, dists, tmp_path):
    venv = tmp_path / "venv"
    python = _fresh_venv(venv)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR")}
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                              "--no-deps", "--no-index", "--no-build-isolation", str(dists[kind])],
                             check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    code = ("import simengine, sys\n"
            "low, high = simengine.proportion_interval(12, 100)\n"
            "print(simengine.__file__)\n"
            "print(f'{low:.4f} {high:.4f}')\n")
    smoke = subprocess.run([str(python), "-c", code],
                           check=False, capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=300)
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    where, interval = smoke.stdout.split("\n")[:2]
    assert Path(where).resolve().is_relative_to(venv.resolve())  # the installed copy, not this checkout
    assert interval == "0.0700 0.1981"  # the README's Wilson interval
    listing = subprocess.run([str(venv / "bin" / "simengine"), "examples"], check=False, capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "peeking" in listing.stdout and str(venv.resolve()) in listing.stdout
    shown = subprocess.run([str(venv / "bin" / "simengine"), "examples", "peeking"],
                           check=False, capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=120)
    assert shown.stdout == (ROOT / "examples" / "peeking.toml").read_text()
