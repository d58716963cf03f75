"""Parameter sweeps: run a simulation over a grid, with standard errors, checkpoints and Dask.

Each grid point's random stream is derived from the root seed and the point's
own parameters, and large `n_sims` are cut into fixed-size chunks, so a point's
numbers never depend on the other points, the backend or the number of workers.
With `target_se`, a point adds chunks (a fixed sequence of streams) until its SEs
meet the target; stopping depends only on its own chunks (`_PointRun`).
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import numbers
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import numpy as np

from simengine._rng import as_seed_sequence
from simengine._typing import Progress, SeedLike
from simengine._validate import MAX_COUNT, check_bool, check_choice, check_positive_int

__all__ = ["sweep", "register_simulation", "simulations", "Simulation", "SpecError", "MAX_GRID_POINTS"]

if TYPE_CHECKING:  # pandas is imported when a sweep runs, not with the package
    import pandas as pd

_F = TypeVar("_F", bound=Callable[..., Any])

_RESERVED = ("n_sims", "seconds")


class SpecError(ValueError):
    """A sweep specification (grid, fixed parameters, TOML file) is invalid."""


class SpecTypeError(SpecError, TypeError):
    """A sweep specification has a value of the wrong type (both a SpecError and a TypeError)."""


def _type_name(value) -> str:
    return "None" if value is None else type(value).__name__


@dataclass(frozen=True, slots=True)
class Simulation:
    """A simulation the sweep engine can run.

    Attributes
    ----------
    name : str
        Registry name (the function's name for an unregistered function).
    func : callable
        ``func(*, rng, <replicates>, **params)`` returning a `MonteCarloResult` (its
        declared estimates and their ``_se`` become the row) or a dict of estimates,
        an estimate's standard error under ``"<name>_se"``.
    parameters : tuple of str or None
        Parameters the function accepts (used to validate grids); None accepts any.
    chunk_size : int or None
        If set, a point with more than `chunk_size` replicates is run as chunks of
        that many replicates (each with its own stream) and combined.  Only valid
        when every estimate combines across chunks (means weighted by replicates,
        counts added); a result class declares it (`MonteCarloResult._chunk_size`).
    description : str
        One line shown by ``simengine sweep --list``.
    validate : callable or None
        ``validate(**params)`` raises ValueError/TypeError for parameters the
        simulation would refuse; `sweep` calls it for every grid point before it
        runs any, so a bad value late in a grid fails at once, not hours in.
    result : type or None
        The `MonteCarloResult` class the function returns, when declared (return
        annotation); it says how chunks combine.
    replicates : str
        The keyword that receives the number of replicates (``"n_sims"``, or
        ``"n_draws"`` for `bayes_ab`), from the result class's declaration.
    """

    name: str
    func: Callable[..., Any]
    parameters: tuple[str, ...] | None = None
    chunk_size: int | None = None
    description: str = ""
    validate: Callable[..., object] | None = None
    result: type | None = None
    replicates: str = "n_sims"


# The built-in simulations: registry name -> (module, public function, description).  The sweep
# runs the public function itself; its result class declares the estimates, their standard errors,
# the replicate keyword and how chunks combine, so there is no adapter per simulation.
_BUILTINS = {
    "peeking": ("simengine.sequential", "simulate_peeking",
                "A/A or A/B test analysed at every look: any-look and final rejection rates (simulate_peeking)"),
    "bayes_peeking": ("simengine.bayes", "simulate_bayes_peeking",
                      "Bayesian stopping rule P(B > A) > threshold checked at every look vs only at the end"),
    "power": ("simengine.power", "simulate_power",
              "Monte Carlo power of t / Welch / Mann-Whitney / permutation tests (simulate_power)"),
    "multiple_testing": ("simengine.multitest", "simulate_multiple_testing",
                         "FWER, FDR and power of a multiple-testing correction over simulated families of t-tests"),
    "coverage": ("simengine.bayes", "simulate_coverage",
                 "Coverage and width of binomial intervals (Wald, Wilson, Agresti-Coull, Clopper-Pearson, ...)"),
    "bayes_ab": ("simengine.bayes", "bayes_ab",
                 "P(B > A) and expected losses for Beta posteriors (exact, or Monte Carlo with n_sims draws)"),
    "drift_detection": ("simengine.drift", "simulate_drift_detection",
                        "DDM / ADWIN over simulated error streams: detection rate, false alarms, delay"),
    "load_test": ("simengine.serving", "simulate_load_test",
                  "FCFS multi-server queue load test: latency percentiles, waits, rejections (simulate_load_test)"),
    "bootstrap_coverage": ("simengine.bootstrap", "simulate_bootstrap_coverage",
                           "Coverage and width of percentile / basic / BCa bootstrap intervals by sample size"),
    "gate": ("simengine.serving", "simulate_gate", "z-score input gate: rejection rate on clean and shifted traffic"),
}

_USER: dict[str, Simulation] = {}
_BUILT: dict[str, Simulation] = {}

_PROBE_SEED = 0


def _result_class(func):
    """The MonteCarloResult subclass `func` declares as its return type, if any."""
    import typing

    from simengine._results import MonteCarloResult

    try:
        hint = typing.get_type_hints(func).get("return")
    except Exception:  # an annotation that does not resolve declares nothing
        return None
    return hint if isinstance(hint, type) and issubclass(hint, MonteCarloResult) else None


# a sweep sets these itself (its own bar, its own target_se per point), so a grid may not
_SWEEP_CONTROLLED = ("progress", "target_se", "max_sims")


def _signature_parameters(func, replicates):
    """Keyword parameters of `func` a grid may set (None when it takes ``**kwargs``)."""
    import inspect

    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return tuple(
        name for name, p in sig.parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        and name not in ("rng", replicates, *_SWEEP_CONTROLLED)
    )


def _probe(func, replicates):
    """Validation by running the point once with one replicate (cheap; fills the kernel cache)."""

    def validate(**params):
        # the point runs once, and what it returns must make one row
        _estimates_of(func(rng=np.random.default_rng(_PROBE_SEED), **{replicates: 1}, **params))

    return validate


def _probe_estimates(sim, grid, fixed):
    """Estimate names (those with an ``_se``) of one replicate run at the grid's first point."""
    point = {k: v[0] for k, v in grid.items()}
    out = _estimates_of(sim.func(rng=np.random.default_rng(_PROBE_SEED), **{sim.replicates: 1}, **fixed, **point))
    return [k for k in out if not k.endswith("_se") and f"{k}_se" in out]


def _simulation_of(name, func, *, parameters=None, chunk_size=None, description="", validate=None, probe=False):
    result = _result_class(func)
    replicates = result._replicates if result is not None else "n_sims"
    if result is not None and chunk_size is None and result.combinable():
        chunk_size = result._chunk_size
    if parameters is None and result is not None:
        parameters = _signature_parameters(func, replicates)
    if validate is None and probe:
        validate = _probe(func, replicates)
    return Simulation(name, func, parameters, chunk_size, description, validate, result, replicates)


def _builtin(name) -> Simulation:
    sim = _BUILT.get(name)
    if sim is None:
        import importlib

        module, attr, description = _BUILTINS[name]
        func = getattr(importlib.import_module(module), attr)
        sim = _BUILT[name] = _simulation_of(name, func, description=description, probe=True)
    return sim


@overload
def register_simulation(
    name: str,
    func: None = None,
    *,
    parameters: Iterable[str] | None = None,
    chunk_size: int | None = None,
    description: str = "",
    validate: Callable[..., object] | None = None,
    overwrite: bool = False,
) -> Callable[[_F], _F]: ...


@overload
def register_simulation(
    name: str,
    func: _F,
    *,
    parameters: Iterable[str] | None = None,
    chunk_size: int | None = None,
    description: str = "",
    validate: Callable[..., object] | None = None,
    overwrite: bool = False,
) -> _F: ...


def register_simulation(
    name: str,
    func: _F | None = None,
    *,
    parameters: Iterable[str] | None = None,
    chunk_size: int | None = None,
    description: str = "",
    validate: Callable[..., object] | None = None,
    overwrite: bool = False,
) -> _F | Callable[[_F], _F]:
    """Register `func` under `name` for `sweep` and ``simengine sweep``.

    A function that returns a `MonteCarloResult` (declared by its return annotation)
    needs nothing else: its estimates, replicate keyword and chunking come from the
    result class.  A function returning a dict of estimates and their ``*_se`` works too.
    Usable directly or as a decorator (see Examples).

    Parameters
    ----------
    name : str
        Registry name.  Registering a name that exists (a built-in or an earlier
        registration) raises ValueError unless `overwrite` is True; the registry is
        unchanged by a refused registration.
    func : callable, optional
        ``func(*, rng, n_sims, **params)``; `rng` is a ``numpy.random.Generator``
        dedicated to this point (and chunk).
    parameters : iterable of str, optional
        Accepted parameter names, for validation of grids; None accepts any (or,
        for a function declaring its result class, its keyword parameters).
    chunk_size : int, optional
        Split points with more replicates than this into chunks (see `Simulation`);
        only for dicts of means: a result class declares its own.
    description : str
        Shown by ``simengine sweep --list``.
    validate : callable, optional
        ``validate(**params)``: raise ValueError/TypeError for a bad point; called
        for every point before the sweep runs any.
    overwrite : bool
        Replace an existing registration (or shadow a built-in) instead of raising.

    Returns
    -------
    callable
        `func` itself; without `func`, a decorator that registers and returns the function.

    Examples
    --------
    >>> import simengine
    >>> @simengine.register_simulation("coin", parameters=("p",), chunk_size=100_000)
    ... def coin(*, rng, n_sims, p):
    ...     heads = rng.binomial(n_sims, p)
    ...     est = heads / n_sims
    ...     return {"rate": est, "rate_se": (est * (1 - est) / n_sims) ** 0.5}
    >>> table = simengine.sweep("coin", {"p": [0.1, 0.5]}, n_sims=10_000, rng=0, progress=False)
    >>> table[["p", "rate", "rate_se"]].round(3)
         p   rate  rate_se
    0  0.1  0.102    0.003
    1  0.5  0.502    0.005
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string; got {name!r}")
    if parameters is not None:
        if (
            isinstance(parameters, (str, bytes, Mapping))
            or not hasattr(parameters, "__iter__")
            or getattr(parameters, "ndim", 1) == 0
        ):
            raise TypeError(f"`parameters` must be a list of parameter names or None; got {_type_name(parameters)}")
        parameters = tuple(parameters)
        bad = [p for p in parameters if not isinstance(p, str) or p in _RESERVED or p == "rng"]
        if bad:
            raise ValueError(f"`parameters` must be names other than 'rng', 'n_sims', 'seconds'; got {bad}")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size", maximum=MAX_COUNT)
    overwrite = check_bool(overwrite, "overwrite")
    if validate is not None and not callable(validate):
        raise TypeError(f"`validate` must be callable or None; got {_type_name(validate)}")
    if not isinstance(description, str):
        raise TypeError(f"`description` must be a string; got {_type_name(description)}")

    def _register(f: _F) -> _F:
        if not callable(f):
            raise TypeError(f"`func` must be callable; got {_type_name(f)}")
        if (name in _USER or name in _BUILTINS) and not overwrite:
            kind = "built-in simulation" if name in _BUILTINS and name not in _USER else "simulation"
            raise ValueError(f"a {kind} named {name!r} is already registered; pass overwrite=True to replace it")
        _USER[name] = _simulation_of(name, f, parameters=parameters, chunk_size=chunk_size,
                                     description=description, validate=validate)
        return f

    return _register if func is None else _register(func)


def simulations() -> dict[str, Simulation]:
    """The simulations `sweep` knows by name: the built-ins, then registered ones (which may shadow them).

    Examples
    --------
    >>> import simengine
    >>> sims = simengine.simulations()
    >>> "peeking" in sims and sims["peeking"].replicates
    'n_sims'
    """
    out = {name: _builtin(name) for name in _BUILTINS if name not in _USER}
    out.update(_USER)
    return out


# ---------------------------------------------------------------- validation


def _resolve_simulation(simulation) -> Simulation:
    if isinstance(simulation, Simulation):
        return simulation
    if isinstance(simulation, str):
        if simulation in _USER:
            return _USER[simulation]
        if simulation in _BUILTINS:
            return _builtin(simulation)
        allowed = ", ".join(sorted(set(_BUILTINS) | set(_USER)))
        raise SpecError(f"`simulation` must be one of {allowed}; got {simulation!r}")
    if callable(simulation):
        for sim in simulations().values():
            if sim.func is simulation:
                return sim
        # any function returning a MonteCarloResult (or a dict of estimates) runs as it is
        name = getattr(simulation, "__name__", type(simulation).__name__)
        return _simulation_of(name, simulation)
    raise TypeError(f"`simulation` must be a registered name or a function; got {_type_name(simulation)}")


def _check_value(key, value, where):
    if isinstance(value, (bool, np.bool_, str)) or value is None:
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise SpecError(f"`{where}.{key}` values must be finite; got {value}")
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _check_value(key, value.item(), where)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_check_value(key, v, where) for v in value]
    raise SpecError(
        f"`{where}.{key}` values must be numbers, strings, booleans or lists of them; got {_type_name(value)}"
    )


def _canonical(value) -> str:
    """The identity of a checked grid value as JSON text: equal values give equal text.

    Numbers that are equal are the same value (0 and 0.0, 1000 and 1e3), whatever their
    type; lists and tuples are the same; booleans and strings stay distinct from numbers.
    The point's random stream does not use this (see `_param_key`); only the checkpoint's
    point identity and the check for repeated values do.
    """
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return _canonical(_plain(value))


def _plain(value):
    """A value read back from Parquet (NumPy scalars and arrays) as plain Python values."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise SpecError(f"cannot read a grid value of type {_type_name(value)} from the checkpoint")


def _point_identity(names, canon_values) -> str:
    """The point's identity: canonical JSON of its grid values, keys sorted (grid order does not matter)."""
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in sorted(zip(names, canon_values))) + "}"


def _check_params(sim: Simulation, grid, fixed):
    if not isinstance(grid, Mapping):
        raise SpecTypeError(f"`grid` must be a dict of parameter -> list of values; got {_type_name(grid)}")
    if not grid:
        raise SpecError("`grid` must name at least one parameter with at least one value; got an empty grid")
    fixed = {} if fixed is None else fixed
    if not isinstance(fixed, Mapping):
        raise SpecTypeError(f"`fixed` must be a dict of parameter -> value; got {_type_name(fixed)}")
    raw = {}
    for key, values in grid.items():
        if not isinstance(key, str):
            raise SpecError(f"`grid` keys must be parameter names; got {key!r}")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise SpecError(f"`grid.{key}` must be a list of values; got {values!r}")
        raw[key] = list(values)
    _grid_size(raw)  # a huge grid is refused before any of its values is looked at
    clean_grid = {}
    for key, values in raw.items():
        values = [_check_value(key, v, "grid") for v in values]
        if not values:
            raise SpecError(f"`grid.{key}` must have at least one value; got an empty list")
        keys = [_canonical(v) for v in values]
        if len(set(keys)) != len(keys):
            raise SpecError(f"`grid.{key}` has repeated values: {values}")
        clean_grid[key] = values
    clean_fixed = {str(k): _check_value(k, v, "fixed") for k, v in fixed.items()}
    overlap = sorted(set(clean_grid) & set(clean_fixed))
    if overlap:
        raise SpecError(f"parameters {overlap} are both in `grid` and in `fixed`; give each in one place")
    names = list(clean_grid) + list(clean_fixed)
    reserved = [n for n in names if n in _RESERVED or n == "rng"]
    if reserved:
        raise SpecError(f"{reserved} cannot be sweep parameters (`n_sims` and `rng` are set by the sweep itself)")
    if sim.parameters is not None:
        allowed = ", ".join(sim.parameters)
        for where, given in (("grid", clean_grid), ("fixed", clean_fixed)):
            unknown = [n for n in given if n not in sim.parameters]
            controlled = [n for n in unknown if n in _SWEEP_CONTROLLED]
            if controlled:
                raise SpecError(
                    f"`{where}` names {controlled}: the sweep sets these itself; pass them to sweep() "
                    "(target_se=, max_sims=, progress=) or as top-level keys of a spec"
                )
            if unknown:
                raise SpecError(
                    f"`{where}` names unknown parameter(s) {unknown} for simulation {sim.name!r}; allowed: {allowed}"
                )
    return clean_grid, clean_fixed


# A grid above this many points is refused before anything is built: the result table alone
# holds a few hundred bytes per point, and at the ~30 us the engine spends per point 10**6
# points are already half a minute of pure overhead.
MAX_GRID_POINTS = 10**6
# Whole-point validation stops after this many seconds on large grids (see `_validate_points`).
_VALIDATE_SECONDS = 5.0


def _grid_size(grid) -> int:
    """Number of points of the grid (Python ints: no overflow), refused above MAX_GRID_POINTS."""
    total = math.prod(len(values) for values in grid.values())
    if total > MAX_GRID_POINTS:
        sizes = " x ".join(f"{len(v)} ({k})" for k, v in grid.items())
        raise SpecError(
            f"`grid` has {total:,} points ({sizes}); the maximum is {MAX_GRID_POINTS:,} points per sweep; "
            "split it into several sweeps or use fewer values"
        )
    return total


def _validation_order(grid, total):
    """Point indices: first a design holding every value of every parameter (one at a time,
    the others at their first value), then every other point in grid order."""
    sizes = [len(v) for v in grid.values()]
    strides = [math.prod(sizes[i + 1:]) for i in range(len(sizes))]
    first = [0]
    for stride, size in zip(strides, sizes):
        first += [j * stride for j in range(1, size)]
    seen = set(first)
    yield from first
    for index in range(total):
        if index not in seen:
            yield index


def _validate_points(sim: Simulation, grid, fixed, combos, *, budget=None):
    """Run the simulation's own parameter checks before anything runs.

    Every value of every parameter is checked (one parameter at a time, the others at their
    first value); then every whole point, in grid order, until `budget` seconds are spent.
    The built-in checks run the point once (milliseconds each), so on a very large grid a
    point that is bad only through a combination of values may be caught when it runs
    instead; its error names the point and the finished points are saved first.
    Returns the number of whole points checked.
    """
    if sim.validate is None:
        return len(combos)
    budget = _VALIDATE_SECONDS if budget is None else budget
    names = list(grid)
    n_first = 1 + sum(len(v) - 1 for v in grid.values())
    start = time.perf_counter()
    checked = 0
    for count, index in enumerate(_validation_order(grid, len(combos))):
        if count >= n_first and time.perf_counter() - start > budget:
            break
        point = dict(zip(names, combos[index]))
        try:
            sim.validate(**fixed, **point)
        except (ValueError, TypeError) as exc:
            raise SpecError(f"grid point ({_describe_point(point)}): {exc}") from None
        checked += 1
    return checked


def _describe_point(point):
    text = ", ".join(f"{k}={v!r}" for k, v in point.items())
    return text if len(text) <= 200 else text[:197] + "..."


def _param_key(params: Mapping) -> tuple:
    """Stable spawn key for a point: a hash of its parameters, independent of grid order."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


# ---------------------------------------------------------------- running


def _chunks(sim: Simulation, n_sims: int):
    if sim.chunk_size is None or n_sims <= sim.chunk_size:
        return [n_sims]
    full, rest = divmod(n_sims, sim.chunk_size)
    return [sim.chunk_size] * full + ([rest] if rest else [])


# Default cap on a point's replicates with `target_se`: this many times `n_sims`.
MAX_SIMS_FACTOR = 100


@dataclass(frozen=True, slots=True)
class _Plan:
    """How a point's replicates are cut: `first` chunks always; with a `target`, more chunks of
    `step` replicates (the last one cut at `cap`) until every SE is at or below the target."""

    n_sims: int
    first: tuple
    target: float | None = None
    step: int = 0
    cap: int = 0

    def next_size(self, ran: int) -> int:
        return min(self.step, self.cap - ran)


def _plan(sim: Simulation, n_sims, target_se, max_sims) -> _Plan:
    first = tuple(_chunks(sim, n_sims))
    if target_se is None:
        if max_sims is not None:
            raise ValueError("`max_sims` is only used with `target_se`")
        return _Plan(n_sims, first)
    if isinstance(target_se, (bool, np.bool_)) or not isinstance(target_se, numbers.Real):
        raise TypeError(f"`target_se` must be a positive number or None; got {_type_name(target_se)}")
    target_se = float(target_se)
    if not (math.isfinite(target_se) and target_se > 0):
        raise ValueError(f"`target_se` must be a positive finite number; got {target_se}")
    if max_sims is None:
        cap = min(MAX_COUNT, MAX_SIMS_FACTOR * n_sims)
    else:
        cap = check_positive_int(max_sims, "max_sims", maximum=MAX_COUNT)
        if cap < n_sims:
            raise ValueError(f"`max_sims` must be at least `n_sims` ({n_sims}); got {cap}")
    if sim.chunk_size is None:
        raise ValueError(
            f"`target_se` needs a simulation whose chunks of replicates combine (a result class whose estimates "
            f"are means or counts, or a function registered with `chunk_size`); {sim.name!r} declares none"
        )
    return _Plan(n_sims, first, target_se, min(n_sims, sim.chunk_size), cap)


def _target_names(sim, estimates):
    """The estimates a point's `target_se` applies to: the result class's, or every ``x`` with ``x_se``."""
    if sim is not None and sim.result is not None:
        return [n for n in sim.result.target_names() if n in estimates]
    return [k[:-3] for k in estimates if k.endswith("_se") and k[:-3] in estimates]


def _worst(sim, estimates):
    from simengine._results import worst_se

    names = _target_names(sim, estimates)
    return worst_se({n: estimates[n] for n in names}, {n: estimates[f"{n}_se"] for n in names})[1]


def _needs_more(estimates, target, sim=None) -> bool | None:
    """True: some SE is above the target; False: every SE meets it; None: an SE is NaN (can never meet it).

    The rule is `simengine._results.worst_se`'s: exact quantities (SE 0) meet any target, an
    undefined (NaN) estimate is skipped, a NaN SE of a defined estimate never meets it.
    """
    worst = _worst(sim, estimates)
    if math.isinf(worst):
        return None
    return worst > target


class _PointRun:
    """One point's chunks, consumed strictly in order; decides when the point is done.

    The same object drives the local and the Dask backends, so both stop after the same
    chunk: stopping depends only on the point's own chunks.
    """

    __slots__ = ("plan", "sim", "parts", "sizes", "pending", "submitted", "estimates", "seconds", "met")

    def __init__(self, plan, sim):
        self.plan, self.sim = plan, sim
        self.parts, self.sizes = [], []
        self.pending = {}          # chunk index -> (estimates, seconds), arrived out of order
        self.submitted = 0         # chunks handed out so far
        self.estimates = None
        self.seconds = 0.0
        self.met = None            # None while running; then True/False with a target, True without

    @property
    def ran(self) -> int:
        return sum(self.sizes)

    def wave(self):
        """Chunks (index, size) to hand out next: the first stage, then as many as the SE suggests.

        The number handed out changes only how much is computed, never the result: chunks
        past the stopping point are dropped.
        """
        plan = self.plan
        if self.submitted == 0:
            out = list(enumerate(plan.first))
        else:
            worst = _worst(self.sim, self.estimates)
            ran = self.ran
            # SE ~ 1/sqrt(n): replicates still needed, in chunks, at least one
            need = ran * ((worst / plan.target) ** 2 - 1.0) if worst > plan.target else plan.step
            count = max(1, min(64, math.ceil(need / plan.step))) if math.isfinite(need) else 64  # SE inf: many
            out, total = [], ran
            for i in range(self.submitted, self.submitted + count):
                if total >= plan.cap:
                    break
                n = min(plan.step, plan.cap - total)
                out.append((i, n))
                total += n
        self.submitted += len(out)
        return out

    def add(self, index, part) -> bool:
        """Take chunk `index`'s result; True once the point is done."""
        if self.met is not None:
            return False  # a chunk past the stopping point (Dask): dropped
        self.pending[index] = part
        first = len(self.plan.first)
        while len(self.parts) in self.pending:
            i = len(self.parts)
            self.parts.append(self.pending.pop(i))
            self.sizes.append(self.plan.first[i] if i < first else self.plan.next_size(self.ran))
            if len(self.parts) < first:
                continue
            self.estimates, self.seconds = _combine(self.parts, self.sizes, self.sim)
            if self.plan.target is None:
                self.met = True
                return True
            more = _needs_more(self.estimates, self.plan.target, self.sim)
            if more is False:
                self.met = True
            elif more is None or self.ran >= self.plan.cap:
                self.met = False
            if self.met is not None:
                self.pending.clear()
                return True
        return False

    def waiting(self) -> bool:
        """Every handed-out chunk has arrived and the point needs more."""
        return self.met is None and len(self.parts) == self.submitted


def _run_chunk(func, params, entropy, spawn_key, chunk_index, n, threads=None, replicates="n_sims"):
    """One task: one chunk of one grid point.  Runs in this process or on a Dask worker."""
    if threads is not None:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    # the chunk's stream is child `chunk_index` of the point's SeedSequence (built in one step)
    ss = np.random.SeedSequence(entropy=entropy, spawn_key=(*spawn_key, int(chunk_index)))
    rng = np.random.Generator(np.random.PCG64(ss))
    if "progress" not in params and _takes_progress_safe(func):
        params = {**params, "progress": False}  # the sweep draws its own bar; no bar per chunk
    start = time.perf_counter()
    try:
        out = func(rng=rng, **{replicates: n}, **params)
    except SystemError as exc:
        if _interruption(exc) is not None:  # Ctrl-C inside a numba kernel: a plain interrupt
            raise KeyboardInterrupt from None
        raise
    elapsed = time.perf_counter() - start
    return _estimates_of(out), elapsed


@functools.lru_cache(maxsize=256)
def _takes_progress(func) -> bool:
    import inspect

    try:
        return "progress" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _takes_progress_safe(func) -> bool:
    try:
        return _takes_progress(func)
    except TypeError:  # an unhashable callable: look without the cache
        return _takes_progress.__wrapped__(func)


def _estimates_of(out) -> dict:
    """The flat dict of float estimates (and their ``_se``) of what a simulation returned."""
    from simengine._results import MonteCarloResult

    if isinstance(out, MonteCarloResult):
        out = out.estimates()
    elif not isinstance(out, Mapping):
        raise TypeError(
            "a sweep simulation must return a dict of estimates or a MonteCarloResult; "
            f"got {_type_name(out)}"
        )
    clean = {}
    for key, value in out.items():
        if isinstance(value, np.ndarray):
            if value.size != 1:
                raise TypeError(
                    f"estimate {key!r} has {value.size} values at one grid point (a parameter taking several "
                    "values in one call, such as a list of methods or sample sizes?); a sweep row holds one "
                    "scenario: give that parameter one value per point, in the grid or in fixed"
                )
            value = value.reshape(-1)[0]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"estimate {key!r} must be a real number; got {_type_name(value)}")
        clean[str(key)] = float(value)
    return clean


def _combine(parts, sizes, sim=None):
    """Combine chunk results as the result class declares (else: replicate-weighted means)."""
    if len(parts) == 1:
        return dict(parts[0][0]), parts[0][1]
    seconds = float(sum(p[1] for p in parts))
    if sim is not None and sim.result is not None:
        combined = sim.result.combine_estimates([p[0] for p in parts], sizes)
        return {k: float(v) for k, v in combined.items()}, seconds
    total = float(sum(sizes))
    w = np.asarray(sizes, dtype=np.float64) / total
    out = {}
    for key in parts[0][0]:
        vals = np.array([p[0][key] for p in parts])
        if key.endswith("_se"):
            out[key] = float(math.sqrt(float(np.sum((w * vals) ** 2))))
        else:
            out[key] = float(np.sum(w * vals))
    return out, seconds


def _row(point, n_sims, estimates, seconds, met=None):
    row = dict(point)
    for key, value in estimates.items():
        if key.endswith("_se"):
            continue
        row[key] = value
        row[f"{key}_se"] = estimates.get(f"{key}_se", math.nan)
    for key, value in estimates.items():  # an SE without its estimate is still reported
        if key.endswith("_se") and key not in row:
            row[key] = value
    row["n_sims"] = n_sims
    if met is not None:
        row["target_met"] = met
    row["seconds"] = seconds
    return row


# ---------------------------------------------------------------- checkpoints


def _spec_fingerprint(sim: Simulation, plan, ss, grid, fixed):
    spec = {
        "simulation": sim.name,
        "n_sims": plan.n_sims,
        "entropy": str(ss.entropy),
        "spawn_key": list(ss.spawn_key),
        "chunk_size": sim.chunk_size,
        "parameters": sorted(grid),
        "fixed": fixed,
    }
    if plan.target is not None:  # absent for fixed runs, so their checkpoints stay as they were
        spec["target_se"] = plan.target
        spec["max_sims"] = plan.cap
    return json.dumps(spec, sort_keys=True)


_META_SPEC = b"simengine.sweep"
_META_POINTS = b"simengine.sweep.points"  # JSON list: the identity of each row, in row order
_META_JSON_COLUMNS = b"simengine.sweep.json_columns"  # columns stored as JSON text (mixed types)

# Batched checkpoint writes: finished points are written when FLUSH_SECONDS have passed since
# the last write or FLUSH_POINTS are waiting, but never sooner than FLUSH_COST_RATIO times the
# last write's own duration after it, so that rewriting the table costs at most ~1/FLUSH_COST_RATIO
# of the sweep's time however long the table grows.  A kill loses at most the points since the
# last write; the file on disk is always a whole table (temporary file, fsync, rename).
FLUSH_SECONDS = 1.0
FLUSH_POINTS = 1000
FLUSH_COST_RATIO = 20.0


class _Checkpoint:
    """The Parquet file behind `checkpoint=` / ``-o``: one writer (a lock), batched atomic writes.

    The lock is ``<file>.lock`` in the same folder, held with ``fcntl.flock`` for the whole
    sweep (the kernel drops it when the process dies, even on SIGKILL) and holding the
    owner's pid, host and start time for the refusal message of a second sweep.
    """

    def __init__(self, path):
        if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"`checkpoint` must be a file path (str or os.PathLike); got {_type_name(path)}")
        path = os.fspath(path)
        if isinstance(path, bytes) or not path:
            raise ValueError(f"`checkpoint` must be a non-empty file path; got {path!r}")
        self.path = path
        self.directory = os.path.dirname(os.path.abspath(path))
        self.lock_path = path + ".lock"
        self._lock_fd = None
        if os.path.isdir(path):
            raise SpecError(
                f"`checkpoint` {path!r} is a directory; give a file path such as "
                f"{os.path.join(path, 'results.parquet')!r}"
            )
        if not os.path.isdir(self.directory):
            what = "is not a directory" if os.path.exists(self.directory) else "does not exist"
            raise SpecError(
                f"`checkpoint` {path!r}: its directory {self.directory!r} {what}; create it or choose another path"
            )
        if os.path.exists(path) and not os.path.isfile(path):
            raise SpecError(f"`checkpoint` {path!r} is not a regular file; choose another path")
        try:  # the file is Parquet: without pyarrow the first write would fail after the first points ran
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise ImportError("`checkpoint` needs pyarrow, which is not installed; install it with "
                              'python -m pip install "numba-simengine[parquet]" (or [all])') from None
        self.tmp_prefix = f".{os.path.basename(path)}.sweep-"
        self.spec_json: str | None = None
        self.keys = []       # identity of each stored row, in row order
        self.records = []    # the rows themselves (plain Python values)
        self.index = {}      # identity -> row number
        self.pending = 0
        self.last_flush = time.monotonic()
        self.last_cost = 0.0

    # ------------------------------------------------------------ lock

    def acquire(self):
        import socket

        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no flock; one writer is then the user's job
            fcntl = None  # type: ignore[assignment]
        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise SpecError(
                    f"`checkpoint` {self.path!r} cannot be written: cannot create {self.lock_path!r} "
                    f"({exc.strerror or exc}); choose a path in a folder you can write"
                ) from None
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = ""
                try:
                    holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
                except OSError:
                    pass
                os.close(fd)
                raise SpecError(
                    f"`checkpoint` {self.path!r} is in use by another sweep ({holder or 'holder unknown'}); "
                    "wait for it to finish or choose another path"
                ) from None
            # the previous holder may have removed the lock file between our open and our lock
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.lock_path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        info = f"pid {os.getpid()} on host {socket.gethostname()}, started {started}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        self._lock_fd = fd
        self._clean_temporaries()

    def release(self):
        fd, self._lock_fd = self._lock_fd, None
        if fd is None:
            return
        try:
            os.unlink(self.lock_path)  # while still holding it: see the samestat check in `acquire`
        except OSError:
            pass
        os.close(fd)

    def _clean_temporaries(self):
        # only this checkpoint's temporaries, and only under its lock: no live writer owns them
        for name in os.listdir(self.directory):
            if name.startswith(self.tmp_prefix) and name.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(self.directory, name))
                except OSError:
                    pass

    # ------------------------------------------------------------ reading

    def read(self):
        """Stored spec (dict) and rows, or None when there is no checkpoint yet."""
        if not os.path.exists(self.path):
            return None
        import pyarrow.parquet as pq

        advice = "delete it to start again, or choose another path"
        try:
            table = pq.read_table(self.path)
        except Exception:  # pyarrow raises several types for truncated or foreign files
            raise SpecError(
                f"`checkpoint` {self.path!r} is not a readable Parquet file (truncated or corrupt); {advice}"
            ) from None
        meta = table.schema.metadata or {}
        spec = meta.get(_META_SPEC)
        if spec is None:
            raise SpecError(f"`checkpoint` {self.path!r} is not a simengine sweep checkpoint; {advice}")
        try:
            stored_spec = json.loads(spec.decode())
            keys = json.loads(meta[_META_POINTS].decode()) if _META_POINTS in meta else None
            json_columns = json.loads(meta.get(_META_JSON_COLUMNS, b"[]").decode())
            frame = table.to_pandas()
            records = [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]
            for column in json_columns:
                for r in records:
                    r[column] = json.loads(r[column])
            if keys is None:  # written before identities were stored: rebuild them from the values
                names = stored_spec["parameters"]
                keys = [_point_identity(names, [_canonical(r[n]) for n in names]) for r in records]
            if len(keys) != len(records) or not isinstance(stored_spec, dict):
                raise ValueError
        except Exception:
            raise SpecError(f"`checkpoint` {self.path!r} has damaged sweep metadata; {advice}") from None
        self.keys, self.records = list(keys), records
        self.index = {key: i for i, key in enumerate(self.keys)}
        return stored_spec

    # ------------------------------------------------------------ writing

    def add(self, key, row):
        """Record a finished point; write the table when the batch is due."""
        if key in self.index:
            self.records[self.index[key]] = row
        else:
            self.index[key] = len(self.keys)
            self.keys.append(key)
            self.records.append(row)
        self.pending += 1
        now = time.monotonic()
        since = now - self.last_flush
        if (since >= FLUSH_SECONDS or self.pending >= FLUSH_POINTS) and since >= FLUSH_COST_RATIO * self.last_cost:
            self.flush()

    def flush(self):
        if not self.pending:
            return
        start = time.monotonic()
        self._write()
        self.pending = 0
        self.last_flush = time.monotonic()
        self.last_cost = self.last_flush - start

    def _table(self):
        import pandas as pd
        import pyarrow as pa

        frame = pd.DataFrame(self.records)
        json_columns = []
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError):
            # a column mixing types (numbers and lists, strings and numbers) is stored as JSON text
            columns = {}
            for name in frame.columns:
                values = frame[name].tolist()
                try:
                    columns[name] = pa.array(values)
                except (pa.ArrowException, TypeError, ValueError):
                    columns[name] = pa.array([json.dumps(v) for v in values], type=pa.string())
                    json_columns.append(name)
            table = pa.table(columns)
        meta = {**(table.schema.metadata or {}), _META_SPEC: self.spec_json.encode(),  # type: ignore[union-attr]  # set before any write
                _META_POINTS: json.dumps(self.keys, separators=(",", ":")).encode(),
                _META_JSON_COLUMNS: json.dumps(json_columns).encode()}
        return table.replace_schema_metadata(meta)

    def _write(self):
        """Write the whole table to a temporary file, fsync, then rename over the checkpoint."""
        import pyarrow.parquet as pq

        table = self._table()
        fd, tmp = tempfile.mkstemp(prefix=self.tmp_prefix, suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# ---------------------------------------------------------------- public


def sweep(
    simulation: str | Callable[..., Any] | Simulation,
    grid: Mapping[str, Any],
    *,
    n_sims: int = 10_000,
    rng: SeedLike = None,
    backend: Literal["local", "dask"] = "local",
    client: Any = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Progress = None,
    fixed: Mapping[str, Any] | None = None,
    target_se: float | None = None,
    max_sims: int | None = None,
) -> pd.DataFrame:
    """Run a simulation over a grid of parameters; one row per point, with standard errors.

    Parameters
    ----------
    simulation : str or callable
        A registered name (see `simulations`) or a function registered with
        `register_simulation`.
    grid : dict
        Parameter -> list of values; the sweep runs their Cartesian product (at most
        `MAX_GRID_POINTS` points).  Values are numbers, strings, booleans or (nested)
        lists of them.
    n_sims : int
        Replicates per grid point; with `target_se`, the replicates every point runs
        first (the minimum).
    rng : None, int, SeedSequence or Generator
        Root seed (SPEC 7).  A point's stream is derived from the root seed and the
        point's parameters, so adding, removing or reordering points never changes
        the numbers of the others.
    backend : {"local", "dask"}
        "local" runs in this process with numba's threads; "dask" submits tasks of
        chunks to a ``dask.distributed`` `client` (when `client` is None, a LocalCluster
        of one single-threaded process per local core is started and closed for the
        call).  Each task sizes numba's threads on its own worker: the host's cores over
        the task slots of the workers on that host.  Works from a plain script with the
        usual ``if __name__ == "__main__":`` guard.
    client : distributed.Client, optional
        Client for ``backend="dask"``.
    checkpoint : str or path, optional
        Parquet file holding the results; a rerun with the same spec skips the points
        it holds, and at the end it is the whole table (``pandas.read_parquet`` reads
        it).  Finished points are written in batches (at most every ``FLUSH_SECONDS``
        or ``FLUSH_POINTS`` points, throttled so writing costs a few percent of the
        run), and always before an error or Ctrl-C propagates; each write is a whole
        table (temporary file, fsync, rename), so a kill loses at most the points since
        the last write and never damages what was saved.  A point is identified by its
        grid values compared as values: lists and tuples, and equal numbers such as 0
        and 0.0, are the same point (the identities are stored in the file's metadata).
        One sweep at a time may use a checkpoint: a second one is refused with the
        holder's pid, host and start time (lock file ``<checkpoint>.lock``, removed at
        the end).  The path is checked before anything runs; a file that is not a
        readable sweep checkpoint, or one from a different spec (simulation, seed,
        n_sims, fixed parameters, parameter names), is refused.  With ``rng=None`` a
        resumed sweep reuses the checkpoint's seed.
    progress : None or bool
        Show a progress bar (tqdm, on stderr).  None (default): only when stderr is a
        terminal, and only once the sweep has run for 2 s (so short sweeps print nothing).
    fixed : dict, optional
        Parameters shared by every point.
    target_se : float, optional
        Precision on demand: each point runs its `n_sims` replicates (cut in chunks as
        a fixed run is), then adds chunks of ``min(n_sims, chunk_size)`` replicates,
        chunk ``i`` always drawing from the point's child stream ``i``, until the
        standard error of every estimate (every ``*_se`` of the combined chunks) is at
        or below `target_se`, or the point has run `max_sims` replicates.  Stopping is
        judged after each chunk, in order, from that point's chunks only, so the
        numbers depend on the seed alone (not on the backend, workers or order of
        completion).  An SE of exactly 0 (an exact quantity) meets any target; a NaN SE
        never does and stays NaN whatever is added, so the point stops at once.  The
        table gains a bool column ``target_met``; points that stop unmet are named in a
        RuntimeWarning.  Needs a simulation whose chunks combine: a result class whose
        estimates are means or counts, or a function registered with `chunk_size`.
    max_sims : int, optional
        Cap on a point's replicates with `target_se` (default ``100 * n_sims``, at most
        ``10**9``); at least `n_sims`.  The last chunk is cut so that no point exceeds it.

    Returns
    -------
    pandas.DataFrame
        Grid parameters, each estimate and its ``_se``, ``n_sims`` (replicates the point
        ran), ``target_met`` (with `target_se`) and ``seconds`` (compute time of the
        point, summed over its chunks: not wall time; with several workers the sum
        exceeds the wall time), in grid order.  ``table.attrs["seed"]`` holds the root
        seed's entropy (the seed to pass to repeat a sweep run with ``rng=None``).

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C (also when it surfaces from a numba kernel as a SystemError), after
        the finished points are saved; its message says how many points were saved and
        where, and that rerunning the same sweep resumes (attributes ``saved``,
        ``total``, ``checkpoint`` and ``seed`` give the same facts).  A resumed sweep
        prints ``resuming N/M points from FILE`` on stderr.

    Examples
    --------
    >>> import simengine
    >>> table = simengine.sweep("power", {"n": [20, 50]}, n_sims=2000, rng=1,
    ...                         fixed={"effect_size": 0.5}, progress=False)
    >>> list(table.columns)[:4]
    ['n', 'power', 'power_se', 'n_sims']

    Precision on demand: each point runs until its SE is at most 0.01.

    >>> precise = simengine.sweep("power", {"n": [20, 50]}, n_sims=1000, target_se=0.01, rng=1,
    ...                           fixed={"effect_size": 0.5}, progress=False)
    >>> bool(precise["target_met"].all()), bool((precise["power_se"] <= 0.01).all())
    (True, True)
    """
    sim = _resolve_simulation(simulation)
    grid, fixed = _check_params(sim, grid, fixed)
    n_sims = check_positive_int(n_sims, "n_sims")
    if n_sims > MAX_COUNT:
        raise ValueError(f"`n_sims` must be an integer in [1, {MAX_COUNT}]; got {n_sims}")
    backend = check_choice(backend, "backend", ("local", "dask"))
    if progress is not None:
        if not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"`progress` must be None, True or False; got {_type_name(progress)}")
        progress = bool(progress)
    if client is not None and backend != "dask":
        raise ValueError("`client` is only used with backend='dask'")
    plan = _plan(sim, n_sims, target_se, max_sims)
    total = _grid_size(grid)

    store = None
    if checkpoint is not None:
        store = _Checkpoint(checkpoint)
        store.acquire()
    try:
        return _sweep(sim, grid, fixed, plan, rng, backend, client, store, progress, total)
    finally:
        if store is not None:
            store.release()


def _sweep(sim, grid, fixed, plan, rng, backend, client, store, progress, total):
    stored_spec = store.read() if store is not None else None
    if stored_spec is not None and rng is None:
        rng = np.random.SeedSequence(entropy=int(stored_spec["entropy"]), spawn_key=tuple(stored_spec["spawn_key"]))
    ss = as_seed_sequence(rng)
    spec_json = _spec_fingerprint(sim, plan, ss, grid, fixed)
    if stored_spec is not None and json.loads(spec_json) != stored_spec:
        theirs, ours = stored_spec, json.loads(spec_json)
        diff = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        raise SpecError(
            f"`checkpoint` {store.path!r} was written by a different sweep (differs in: {', '.join(diff)}); "
            "use another path or delete it"
        )
    if store is not None:
        store.spec_json = spec_json

    names = list(grid)
    combos = list(itertools.product(*grid.values()))
    done = {}
    if store is not None and store.keys:
        canon = [[_canonical(v) for v in values] for values in grid.values()]
        for index, combo_canon in enumerate(itertools.product(*canon)):
            row = store.index.get(_point_identity(names, combo_canon))
            if row is not None:
                done[index] = row
    try:
        _validate_points(sim, grid, fixed, combos)
    except BaseException as exc:  # Ctrl-C while the points are checked: say so as for a run
        if _interruption(exc) is None:
            raise
        raise _interrupted(len(done), total, store.path if done else None, ss, rng is None) from None
    results: list[dict[str, Any] | None] = [None] * total  # estimates, n_sims and seconds of each point, in grid order
    for index, row in done.items():
        record = store.records[row]
        results[index] = {k: v for k, v in record.items() if k not in grid}
    todo = [index for index in range(total) if index not in done]
    if done:
        print(f"resuming {len(done)}/{total} points from {store.path}", file=sys.stderr, flush=True)

    def finished(index, estimates, seconds, n_run, met):
        row = _row(dict(zip(names, combos[index])), n_run, estimates, seconds, met)
        results[index] = {k: v for k, v in row.items() if k not in grid}
        if store is not None:
            store.add(_point_identity(names, [_canonical(v) for v in combos[index]]), row)

    from tqdm.auto import tqdm

    if progress is None:  # interactive only, and only for a sweep that lasts
        show, delay = _stderr_is_terminal(), 2.0
    else:
        show, delay = progress, 0.0
    bar = tqdm(total=total, initial=total - len(todo), desc=f"sweep {sim.name}", disable=not show,
               delay=delay, file=sys.stderr)
    try:
        if backend == "local":
            _run_local(sim, names, combos, todo, fixed, ss, plan, finished, bar)
        else:
            _run_dask(sim, names, combos, todo, fixed, ss, plan, finished, bar, client)
    except BaseException as exc:
        interrupt = _interruption(exc)
        # finished points are saved before the error (or Ctrl-C) propagates
        saved = False
        if store is not None:
            try:
                store.flush()
                saved = True
            except Exception as write_error:  # keep the original error; say the save failed
                warnings.warn(f"the finished points could not be saved to {store.path!r}: {write_error}",
                              RuntimeWarning, stacklevel=3)
        if interrupt is None:
            raise
        raise _interrupted(sum(r is not None for r in results), total, store.path if saved else None,
                           ss, rng is None) from None
    finally:
        bar.close()
    if store is not None:
        store.flush()

    frame = _frame(names, combos, results, grid)
    frame.attrs["seed"] = int(ss.entropy)  # type: ignore[arg-type]  # entropy of a root sequence is an int
    if ss.spawn_key:
        frame.attrs["spawn_key"] = list(ss.spawn_key)
    if plan.target is not None:
        _warn_unmet(frame, names, plan)
    return frame


def _frame(names, combos, results, grid):
    import pandas as pd

    columns = {name: [combo[i] for combo in combos] for i, name in enumerate(names)}
    frame = pd.concat([pd.DataFrame(columns), pd.DataFrame(results)], axis=1)
    tail = [c for c in ("n_sims", "target_met", "seconds") if c in frame.columns]
    first = names + [c for c in frame.columns if c not in grid and c not in tail] + tail
    return frame[first].reset_index(drop=True)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def _interruption(exc):
    """The KeyboardInterrupt behind `exc`, or None.

    A SIGINT inside a numba kernel can surface as ``SystemError: ... returned a result
    with an exception set`` whose context is the KeyboardInterrupt: that is an interrupt too.
    """
    if isinstance(exc, KeyboardInterrupt):
        return exc
    if isinstance(exc, SystemError):
        for inner in (exc.__cause__, exc.__context__):
            if isinstance(inner, KeyboardInterrupt):
                return inner
    return None


def _interrupted(saved, total, path, ss, fresh_seed):
    """The plain KeyboardInterrupt a stopped sweep raises: what was saved, where, and how to resume."""
    if path is not None:
        text = (f"sweep interrupted: {saved}/{total} points saved to {path}; "
                "rerun the same sweep (same spec and checkpoint) to resume")
    else:
        text = (f"sweep interrupted after {saved}/{total} points; nothing saved "
                "(pass `checkpoint` to keep finished points)")
    if fresh_seed:
        text += f"; seed {int(ss.entropy)} (none was given)"
    exc = KeyboardInterrupt(text)
    exc.saved, exc.total, exc.checkpoint, exc.seed = saved, total, path, int(ss.entropy)  # type: ignore[attr-defined]
    return exc


def _warn_unmet(frame, names, plan):
    unmet = frame.index[~frame["target_met"].astype(bool)]
    if len(unmet) == 0:
        return
    shown = [f"({_describe_point({k: _plain(frame.at[i, k]) for k in names})})" for i in unmet[:5]]
    more = f" and {len(unmet) - 5} more" if len(unmet) > 5 else ""
    warnings.warn(
        f"{len(unmet)}/{len(frame)} points did not reach target_se={plan.target:g} within max_sims={plan.cap} "
        f"(or have a NaN standard error): {', '.join(shown)}{more}; their rows have target_met=False",
        RuntimeWarning, stacklevel=3,
    )


def _point_seed(ss, params):
    """Entropy and spawn key of the point's SeedSequence: the root's child at the parameters' hash."""
    if ss.pool_size != 4:  # pragma: no cover - as_seed_sequence never builds other pool sizes
        raise ValueError("sweep seeds need the default SeedSequence pool size")
    return ss.entropy, (*ss.spawn_key, *_param_key(params))


def _run_local(sim, names, combos, todo, fixed, ss, plan, finished, bar):
    for index in todo:
        params = {**fixed, **dict(zip(names, combos[index]))}
        entropy, key = _point_seed(ss, params)
        point = _PointRun(plan, sim)
        is_done = False
        while not is_done:
            for c_index, n in point.wave() if plan.target is None else _one_at_a_time(point):
                is_done = point.add(c_index, _run_chunk(sim.func, params, entropy, key, c_index, n, None,
                                                        sim.replicates))
        finished(index, point.estimates, point.seconds, point.ran, point.met if plan.target is not None else None)
        bar.update(1)


def _one_at_a_time(point):
    """Locally, extra chunks run one by one (none is wasted); the first stage runs whole."""
    if point.submitted == 0:
        return point.wave()
    i = point.submitted
    point.submitted += 1
    return [(i, point.plan.next_size(point.ran))]


def _host_slots(client):
    """Task slots (worker threads) per host, so that a task can size numba's threads to its own host."""
    slots: dict[str, int] = {}
    for w in client.scheduler_info()["workers"].values():
        host = w.get("host")
        slots[host] = slots.get(host, 0) + max(1, int(w.get("nthreads", 1)))
    return slots


def _task_threads(host_slots):
    """numba threads for this task, from the worker that runs it: its host's cores over the host's task slots."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a Dask worker (a test calling the batch directly)
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    slots = (host_slots or {}).get(worker.address.split("://")[-1].rsplit(":", 1)[0])
    if not slots:
        slots = max(1, int(getattr(worker.state, "nthreads", 1)))
    return max(1, cores // slots)


def _task_slots(client):
    info = client.scheduler_info()["workers"]
    return max(1, sum(max(1, int(w.get("nthreads", 1))) for w in info.values()))


def _batches(items, slots, per_slot=4, most=16):
    """Cut the work into about `per_slot` tasks per worker thread, in grid order.

    Dask costs a few milliseconds per task, so a grid of many cheap points runs as
    tasks of several chunks each (at most `most`, so that a killed sweep loses little);
    a grid of few points keeps one chunk per task.  Batching never changes the numbers:
    every chunk keeps its own stream.
    """
    size = max(1, min(most, math.ceil(len(items) / (per_slot * slots))))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _run_batch(func, work, host_slots=None, replicates="n_sims"):
    """One Dask task: several chunks, run one after the other on the worker."""
    threads = _task_threads(host_slots)
    return [_run_chunk(func, params, entropy, key, c_index, n, threads, replicates)
            for params, entropy, key, c_index, n in work]


def _local_cluster(n_workers):
    """A LocalCluster of `n_workers` single-threaded processes.

    No NUMBA_NUM_THREADS is put in the workers' environment: a worker started from a
    plain script imports numba before the nanny's environment applies, and numba then
    refuses the changed value; each task sizes its threads on its worker instead.
    """
    from distributed import LocalCluster

    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)


def _run_dask(sim, names, combos, todo, fixed, ss, plan, finished, bar, client):
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("backend='dask' needs dask.distributed: pip install 'numba-simengine[dask]'") from exc
    own = client is None
    cluster: Any = None
    if own:
        cluster = _local_cluster(_local_cores())
        client = Client(cluster)
    elif not isinstance(client, Client):
        raise TypeError(f"`client` must be a distributed.Client; got {_type_name(client)}")
    futures = {}
    try:
        host_slots = _host_slots(client)
        slots = _task_slots(client)
        points, seeds, items = {}, {}, []
        for index in todo:
            params = {**fixed, **dict(zip(names, combos[index]))}
            entropy, key = _point_seed(ss, params)
            points[index] = _PointRun(plan, sim)
            seeds[index] = (params, entropy, key)
            items += [(index, c_index, n) for c_index, n in points[index].wave()]

        def submit(batch):
            work = [(*seeds[index], c_index, n) for index, c_index, n in batch]
            fut = client.submit(_run_batch, sim.func, work, host_slots, sim.replicates, pure=False)
            futures[fut] = [(index, c_index) for index, c_index, _ in batch]
            return fut

        # the first stage of every point, batched in grid order; later waves per point (target_se)
        queue = as_completed([submit(batch) for batch in _batches(items, slots)])
        for fut in queue:
            for (index, c_index), part in zip(futures.pop(fut), fut.result()):
                point = points.get(index)
                if point is None:
                    continue  # a chunk of a point already finished
                if point.add(c_index, part):
                    del points[index]
                    finished(index, point.estimates, point.seconds, point.ran,
                             point.met if plan.target is not None else None)
                    bar.update(1)
                elif point.waiting():
                    wave = [(index, c_index, n) for c_index, n in point.wave()]
                    for batch in _batches(wave, slots, per_slot=1, most=1):
                        queue.add(submit(batch))
    finally:
        if not own and futures:  # on a shared client, do not leave our tasks running after an error
            client.cancel(list(futures))
        if own:
            client.close()
            cluster.close()


def _local_cores() -> int:
    """Cores this process may use (all local cores for an own Dask cluster)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
