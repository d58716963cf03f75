"""Static checks that run with the test suite: ruff, mypy (strict on the public layer), and typed public signatures.

ruff and mypy read their settings from pyproject.toml ([tool.ruff], [tool.mypy]); both come with the `test`
extra.  mypy keeps its cache in the repository's `.mypy_cache` (ignored by git through the `.gitignore` mypy
writes there), so only the first run in a checkout is cold.
"""
import dataclasses
import inspect
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import simengine

ROOT = Path(__file__).resolve().parent.parent


def _run(module, *args, timeout):
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0 and f"No module named {module}" in proc.stderr:
        pytest.fail(f"{module} is not installed: pip install -e '.[test]' installs it")
    return proc


def test_ruff():
    proc = _run("ruff", "check", "--no-fix", "simengine", "tests", timeout=120)
    assert proc.returncode == 0, f"ruff check found problems:\n{proc.stdout}{proc.stderr}"


def test_mypy():
    proc = _run("mypy", timeout=600)  # files and settings from [tool.mypy]
    assert proc.returncode == 0, f"mypy found problems:\n{proc.stdout}{proc.stderr}"


def _public():
    for name in simengine.__all__:
        obj = getattr(simengine, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj) and obj.__module__.startswith("simengine"):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
                if isinstance(func, property):
                    func = func.fget
                if inspect.isfunction(func) and func.__qualname__.startswith(obj.__name__ + "."):
                    yield f"{name}.{attr}", func


def test_public_signatures_are_annotated():
    """Every parameter and return of the public API is annotated (what mypy users and editors see)."""
    missing = []
    for name, func in _public():
        sig = inspect.signature(func)
        for p in sig.parameters.values():
            if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty:
                missing.append(f"{name}({p.name})")
        if sig.return_annotation is inspect.Signature.empty:
            missing.append(f"{name} -> ?")
    assert not missing, f"unannotated: {missing}"


def test_public_annotations_resolve():
    """`sweep` reads a simulation's annotations with typing.get_type_hints: they must resolve at runtime.

    Names imported only for type checkers (pandas, under TYPE_CHECKING) are supplied here, as a user's
    type checker would.
    """
    import pandas as pd

    for name, func in _public():
        hints = typing.get_type_hints(func, localns={"pd": pd})
        assert "return" in hints, name
    # result fields (what an editor completes on a result)
    for name in simengine.__all__:
        obj = getattr(simengine, name)
        if dataclasses.is_dataclass(obj):
            hints = typing.get_type_hints(obj)
            untyped = [f.name for f in dataclasses.fields(obj) if hints[f.name] is object]
            assert not untyped, f"{name}: fields typed `object`: {untyped}"
    # the simulations a sweep runs resolve with no help, and name their result class
    for name in ("simulate_power", "simulate_peeking", "simulate_coverage", "simulate_bayes_peeking",
                 "simulate_multiple_testing", "simulate_drift_detection"):
        hint = typing.get_type_hints(getattr(simengine, name))["return"]
        assert issubclass(hint, simengine._results.MonteCarloResult), name
