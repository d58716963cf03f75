"""Sweep specifications in TOML: load, check every key, and hand back `sweep` arguments.

Errors are `SpecError`s that name the key and what is allowed; the CLI turns them
into exit status 2.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from simengine._sweep import SpecError, simulations

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["example_path", "example_specs", "example_summary", "load_spec"]

_KEYS = {
    "simulation": "name of a registered simulation",
    "n_sims": "replicates per grid point (integer >= 1)",
    "seed": "root seed (integer >= 0)",
    "grid": "table of parameter = [values]",
    "fixed": "table of parameter = value",
    "title": "text shown above the table and plot",
    "plot": "list of estimates to draw with --plot (default: the first four)",
    "target_se": "run each point until every standard error is at or below this (number > 0)",
    "max_sims": "cap on a point's replicates with target_se (integer >= n_sims; default 100 * n_sims)",
}


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a TOML sweep spec; return keyword arguments for `sweep` plus `title`."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise SpecError(f"spec file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"spec file {str(path)!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        allowed = ", ".join(_KEYS)
        raise SpecError(f"unknown key(s) {unknown} in the spec; allowed keys: {allowed}")
    for key in ("simulation", "grid"):
        if key not in raw:
            raise SpecError(f"the spec needs `{key}` ({_KEYS[key]})")
    sim = raw["simulation"]
    registry = simulations()
    if not isinstance(sim, str):
        raise SpecError(f"`simulation` must be a string, one of {', '.join(sorted(registry))}; got {sim!r}")
    if sim not in registry:
        raise SpecError(f"`simulation` must be one of {', '.join(sorted(registry))}; got {sim!r}")
    n_sims = raw.get("n_sims", 10_000)
    if isinstance(n_sims, bool) or not isinstance(n_sims, int) or n_sims < 1:
        raise SpecError(f"`n_sims` must be an integer >= 1; got {n_sims!r}")
    seed = raw.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise SpecError(f"`seed` must be an integer >= 0; got {seed!r}")
    grid = raw["grid"]
    if not isinstance(grid, dict):
        raise SpecError(f"`grid` must be a table of parameter = [values]; got {grid!r}")
    if not grid:
        raise SpecError("`grid` must name at least one parameter; got an empty [grid] table")
    for key, values in grid.items():
        if not isinstance(values, list):
            raise SpecError(f"`grid.{key}` must be a list of values, e.g. {key} = [1, 2]; got {values!r}")
    fixed = raw.get("fixed", {})
    if not isinstance(fixed, dict):
        raise SpecError(f"`fixed` must be a table of parameter = value; got {fixed!r}")
    title = raw.get("title", sim)
    if not isinstance(title, str):
        raise SpecError(f"`title` must be a string; got {title!r}")
    plot = raw.get("plot")
    if plot is not None and (
        not isinstance(plot, list) or not plot or not all(isinstance(v, str) and v for v in plot)
    ):
        raise SpecError(f"`plot` must be a non-empty list of estimate names; got {plot!r}")
    target_se = raw.get("target_se")
    if target_se is not None and (isinstance(target_se, bool) or not isinstance(target_se, (int, float))
                                  or not 0 < target_se < float("inf")):
        raise SpecError(f"`target_se` must be a number > 0; got {target_se!r}")
    max_sims = raw.get("max_sims")
    if max_sims is not None:
        if isinstance(max_sims, bool) or not isinstance(max_sims, int) or max_sims < n_sims:
            raise SpecError(f"`max_sims` must be an integer >= n_sims ({n_sims}); got {max_sims!r}")
        if target_se is None:
            raise SpecError("`max_sims` is only used with `target_se`; add `target_se = ...` or remove it")
    # parameter names and value types are checked against the simulation by sweep's own validation
    from simengine._sweep import _check_params, _plan

    _check_params(registry[sim], grid, fixed)
    try:
        _plan(registry[sim], n_sims, target_se, max_sims)
    except (TypeError, ValueError) as exc:
        raise SpecError(str(exc)) from None
    return {"simulation": sim, "grid": grid, "fixed": fixed, "n_sims": n_sims, "rng": seed, "title": title,
            "plot": plot, "target_se": target_se, "max_sims": max_sims}


def _examples_dir() -> Path:
    """The folder of shipped example specs: `simengine/examples` in an installed wheel, `examples/` in a checkout.

    The repository keeps the specs at its root; the build maps that folder to the package `simengine.examples`
    (an editable install maps it too), so the same names work from a wheel, an editable install and a checkout.
    """
    import importlib.util

    here = Path(__file__).resolve().parent
    candidates = [here / "examples"]
    try:
        spec = importlib.util.find_spec("simengine.examples")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) for p in spec.submodule_search_locations]
    # a source checkout run without installing (PYTHONPATH=.): only beside this project's own pyproject.toml
    root = here.parent
    if (root / "pyproject.toml").is_file() and 'name = "numba-simengine"' in (root / "pyproject.toml").read_text():
        candidates.append(root / "examples")
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.toml")):
            return folder
    raise FileNotFoundError("the example specs are missing from this installation of simengine; reinstall it")


def example_specs() -> dict[str, Path]:
    """Shipped example specs: ``{name: path}`` in name order (``peeking`` is ``examples/peeking.toml``)."""
    folder = _examples_dir()
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def example_path(name: str) -> Path:
    """Path of the shipped example spec `name`; a `SpecError` lists the names when it is unknown."""
    specs = example_specs()
    if name not in specs:
        raise SpecError(f"no example spec named {name!r}; choose from {', '.join(specs)} (see `simengine examples`)")
    return specs[name]


def example_summary(path: Path) -> str:
    """The spec's `title` (or its first comment line) for `simengine examples`."""
    text = path.read_text()
    try:
        title = tomllib.loads(text).get("title")
    except tomllib.TOMLDecodeError:
        title = None
    if isinstance(title, str):
        return title
    comments = [line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")]
    return comments[0] if comments else ""
