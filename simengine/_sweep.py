"""Parameter sweeps: run a simulation over a grid, with standard errors, checkpoints and Dask.

Each grid point's random stream is derived from the root seed and the point's
own parameters, and large `n_sims` are cut into fixed-size chunks, so a point's
numbers never depend on the other points, the backend or the number of workers.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from simengine._rng import as_seed_sequence
from simengine._validate import check_bool, check_choice, check_positive_int

__all__ = ["sweep", "register_simulation", "simulations", "Simulation", "SpecError"]

_RESERVED = ("n_sims", "seconds")


class SpecError(ValueError):
    """A sweep specification (grid, fixed parameters, TOML file) is invalid."""


@dataclass(frozen=True, slots=True)
class Simulation:
    """A simulation the sweep engine can run.

    Attributes
    ----------
    name : str
        Registry name.
    func : callable
        ``func(*, rng, n_sims, **params) -> dict`` of estimates; an estimate's
        standard error is returned under ``"<name>_se"``.
    parameters : tuple of str or None
        Parameters the function accepts (used to validate grids); None accepts any.
    chunk_size : int or None
        If set, a point with more than `chunk_size` replicates is run as chunks of
        that many replicates (each with its own stream) and combined.  Only valid
        when every estimate is a mean over independent replicates, so that the
        chunk means combine exactly (weighted by replicates) and so do their SEs.
    description : str
        One line shown by ``simengine sweep --list``.
    validate : callable or None
        ``validate(**params)`` raises ValueError/TypeError for parameters the
        simulation would refuse; `sweep` calls it for every grid point before it
        runs any, so a bad value late in a grid fails at once, not hours in.
    """

    name: str
    func: Callable
    parameters: tuple | None = None
    chunk_size: int | None = None
    description: str = ""
    validate: Callable | None = None


_REGISTRY: dict[str, Simulation] = {}


def register_simulation(
    name, func=None, *, parameters=None, chunk_size=None, description="", validate=None, overwrite=False
):
    """Register `func` under `name` for `sweep` and ``simengine sweep``.

    Usable directly or as a decorator::

        @simengine.register_simulation("coin", parameters=("p",), chunk_size=100_000)
        def coin(*, rng, n_sims, p):
            heads = rng.binomial(n_sims, p)
            est = heads / n_sims
            return {"rate": est, "rate_se": (est * (1 - est) / n_sims) ** 0.5}

    Parameters
    ----------
    name : str
        Registry name.
    func : callable, optional
        ``func(*, rng, n_sims, **params) -> dict[str, float]``; `rng` is a
        ``numpy.random.Generator`` dedicated to this point (and chunk).
    parameters : iterable of str, optional
        Accepted parameter names, for validation of grids; None accepts any.
    chunk_size : int, optional
        Split points with more replicates than this into chunks (see `Simulation`).
    description : str
        Shown by ``simengine sweep --list``.
    validate : callable, optional
        ``validate(**params)``: raise ValueError/TypeError for a bad point; called
        for every point before the sweep runs any.
    overwrite : bool
        Replace an existing registration instead of raising.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string; got {name!r}")
    if parameters is not None:
        parameters = tuple(parameters)
        bad = [p for p in parameters if not isinstance(p, str) or p in _RESERVED or p == "rng"]
        if bad:
            raise ValueError(f"`parameters` must be names other than 'rng', 'n_sims', 'seconds'; got {bad}")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    overwrite = check_bool(overwrite, "overwrite")
    if validate is not None and not callable(validate):
        raise TypeError(f"`validate` must be callable or None; got {type(validate).__name__}")

    def _register(f):
        if not callable(f):
            raise TypeError(f"`func` must be callable; got {type(f).__name__}")
        if name in _REGISTRY and not overwrite:
            raise ValueError(f"a simulation named {name!r} is already registered; pass overwrite=True to replace it")
        _REGISTRY[name] = Simulation(name, f, parameters, chunk_size, description, validate)
        return f

    return _register if func is None else _register(func)


def simulations() -> dict:
    """The registered simulations, by name."""
    _load_builtins()
    return dict(_REGISTRY)


def _load_builtins():
    # The built-in adapters import the simulators; done on first use so that
    # `import simengine` stays light.
    from simengine import _sweep_builtins  # noqa: F401


# ---------------------------------------------------------------- validation


def _resolve_simulation(simulation) -> Simulation:
    _load_builtins()
    if isinstance(simulation, Simulation):
        return simulation
    if isinstance(simulation, str):
        if simulation not in _REGISTRY:
            allowed = ", ".join(sorted(_REGISTRY))
            raise SpecError(f"`simulation` must be one of {allowed}; got {simulation!r}")
        return _REGISTRY[simulation]
    if callable(simulation):
        for sim in _REGISTRY.values():
            if sim.func is simulation:
                return sim
        raise SpecError(
            "`simulation` is a function that is not registered; register it with "
            "simengine.register_simulation(name, func) and pass the name or the function"
        )
    raise TypeError(f"`simulation` must be a registered name or function; got {type(simulation).__name__}")


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
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_check_value(key, v, where) for v in value]
    raise SpecError(f"`{where}.{key}` values must be numbers, strings, booleans or lists of them; got {type(value).__name__}")


def _check_params(sim: Simulation, grid, fixed):
    if not isinstance(grid, Mapping):
        raise SpecError(f"`grid` must be a dict of parameter -> list of values; got {type(grid).__name__}")
    if not grid:
        raise SpecError("`grid` must name at least one parameter with at least one value; got an empty grid")
    fixed = {} if fixed is None else fixed
    if not isinstance(fixed, Mapping):
        raise SpecError(f"`fixed` must be a dict of parameter -> value; got {type(fixed).__name__}")
    clean_grid = {}
    for key, values in grid.items():
        if not isinstance(key, str):
            raise SpecError(f"`grid` keys must be parameter names; got {key!r}")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise SpecError(f"`grid.{key}` must be a list of values; got {values!r}")
        values = [_check_value(key, v, "grid") for v in values]
        if not values:
            raise SpecError(f"`grid.{key}` must have at least one value; got an empty list")
        keys = [json.dumps(v) for v in values]
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
        unknown = [n for n in names if n not in sim.parameters]
        if unknown:
            allowed = ", ".join(sim.parameters)
            raise SpecError(f"unknown parameter(s) {unknown} for simulation {sim.name!r}; allowed: {allowed}")
    return clean_grid, clean_fixed


def _validate_points(sim: Simulation, points, fixed):
    """Run the simulation's own parameter checks on every point before anything runs."""
    if sim.validate is None:
        return
    for point in points:
        try:
            sim.validate(**fixed, **point)
        except (ValueError, TypeError) as exc:
            where = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise SpecError(f"grid point ({where}): {exc}") from None


def _points(grid):
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]


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


def _run_chunk(func, params, entropy, spawn_key, chunk_index, n, threads=None):
    """One task: one chunk of one grid point.  Runs in this process or on a Dask worker."""
    if threads is not None:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    # the chunk's stream is child `chunk_index` of the point's SeedSequence (built in one step)
    ss = np.random.SeedSequence(entropy=entropy, spawn_key=(*spawn_key, int(chunk_index)))
    rng = np.random.Generator(np.random.PCG64(ss))
    start = time.perf_counter()
    out = func(rng=rng, n_sims=n, **params)
    elapsed = time.perf_counter() - start
    if not isinstance(out, Mapping):
        raise TypeError(f"a sweep simulation must return a dict of estimates; got {type(out).__name__}")
    clean = {}
    for key, value in out.items():
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"estimate {key!r} must be a real number; got {type(value).__name__}")
        clean[str(key)] = float(value)
    return clean, elapsed


def _combine(parts, sizes):
    """Combine chunk results: replicate-weighted means; SEs of independent chunk means."""
    if len(parts) == 1:
        return dict(parts[0][0]), parts[0][1]
    total = float(sum(sizes))
    w = np.asarray(sizes, dtype=np.float64) / total
    out = {}
    for key in parts[0][0]:
        vals = np.array([p[0][key] for p in parts])
        if key.endswith("_se"):
            out[key] = float(math.sqrt(float(np.sum((w * vals) ** 2))))
        else:
            out[key] = float(np.sum(w * vals))
    return out, float(sum(p[1] for p in parts))


def _row(point, n_sims, estimates, seconds):
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
    row["seconds"] = seconds
    return row


# ---------------------------------------------------------------- checkpoints


def _spec_fingerprint(sim: Simulation, n_sims, ss, grid, fixed):
    spec = {
        "simulation": sim.name,
        "n_sims": n_sims,
        "entropy": str(ss.entropy),
        "spawn_key": list(ss.spawn_key),
        "chunk_size": sim.chunk_size,
        "parameters": sorted(grid),
        "fixed": fixed,
    }
    return json.dumps(spec, sort_keys=True)


def _read_checkpoint(path):
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    spec = meta.get(b"simengine.sweep")
    if spec is None:
        raise SpecError(f"`checkpoint` {str(path)!r} is not a simengine sweep checkpoint")
    return table.to_pandas(), json.loads(spec.decode())


def _write_checkpoint(path, frame, spec_json):
    """Write the whole table to a temporary file, fsync, then rename over `path`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"simengine.sweep": spec_json.encode()})
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".sweep-", suffix=".parquet.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------- public


def sweep(
    simulation,
    grid,
    *,
    n_sims=10_000,
    rng=None,
    backend="local",
    client=None,
    checkpoint=None,
    progress=True,
    fixed=None,
):
    """Run a simulation over a grid of parameters; one row per point, with standard errors.

    Parameters
    ----------
    simulation : str or callable
        A registered name (see `simulations`) or a function registered with
        `register_simulation`.
    grid : dict
        Parameter -> list of values; the sweep runs their Cartesian product.
    n_sims : int
        Replicates per grid point.
    rng : None, int, SeedSequence or Generator
        Root seed (SPEC 7).  A point's stream is derived from the root seed and the
        point's parameters, so adding, removing or reordering points never changes
        the numbers of the others.
    backend : {"local", "dask"}
        "local" runs in this process with numba's threads; "dask" submits one task
        per chunk to a ``dask.distributed`` `client` (a LocalCluster is started and
        closed for the call when `client` is None).
    client : distributed.Client, optional
        Client for ``backend="dask"``.
    checkpoint : str or path, optional
        Parquet file.  Each finished point is written at once (temporary file +
        rename), so an interrupted sweep loses at most the points in flight; a rerun
        with the same spec skips finished points.  A checkpoint from a different
        spec (simulation, seed, n_sims, fixed parameters, parameter names) is refused.
        With ``rng=None`` a resumed sweep reuses the checkpoint's seed.
    progress : bool
        Show a progress bar.
    fixed : dict, optional
        Parameters shared by every point.

    Returns
    -------
    pandas.DataFrame
        Grid parameters, each estimate and its ``_se``, ``n_sims`` and ``seconds``
        (compute time of the point, summed over its chunks), in grid order.

    Examples
    --------
    >>> import simengine
    >>> table = simengine.sweep("power", {"n": [20, 50]}, n_sims=2000, rng=1,
    ...                         fixed={"effect_size": 0.5}, progress=False)
    >>> list(table.columns)[:4]
    ['n', 'power', 'power_se', 'n_sims']
    """
    sim = _resolve_simulation(simulation)
    grid, fixed = _check_params(sim, grid, fixed)
    n_sims = check_positive_int(n_sims, "n_sims")
    backend = check_choice(backend, "backend", ("local", "dask"))
    progress = check_bool(progress, "progress")
    if client is not None and backend != "dask":
        raise ValueError("`client` is only used with backend='dask'")

    done = {}
    stored = None
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        if os.path.exists(checkpoint):
            stored, stored_spec = _read_checkpoint(checkpoint)
            if rng is None:
                rng = np.random.SeedSequence(
                    entropy=int(stored_spec["entropy"]), spawn_key=tuple(stored_spec["spawn_key"])
                )
    ss = as_seed_sequence(rng)
    spec_json = _spec_fingerprint(sim, n_sims, ss, grid, fixed)
    if stored is not None:
        if json.loads(spec_json) != stored_spec:
            theirs, ours = stored_spec, json.loads(spec_json)
            diff = sorted(k for k in ours if ours.get(k) != theirs.get(k))
            raise SpecError(
                f"`checkpoint` {checkpoint!r} was written by a different sweep (differs in: {', '.join(diff)}); "
                "use another path or delete it"
            )
        for record in stored.to_dict("records"):
            key = json.dumps({k: record[k] for k in grid}, sort_keys=True, default=_json_default)
            done[key] = record

    points = _points(grid)
    _validate_points(sim, points, fixed)
    keys = [json.dumps(point, sort_keys=True) for point in points]
    key_of = {id(point): key for point, key in zip(points, keys)}
    todo = [point for point, key in zip(points, keys) if key not in done]
    rows = dict(done)
    columns_frame = stored

    def finished(point, estimates, seconds):
        nonlocal columns_frame
        rows[key_of[id(point)]] = _row(point, n_sims, estimates, seconds)
        if checkpoint is not None:
            import pandas as pd

            columns_frame = pd.DataFrame(list(rows.values()))
            _write_checkpoint(checkpoint, columns_frame, spec_json)

    from tqdm.auto import tqdm

    bar = tqdm(total=len(points), initial=len(points) - len(todo), desc=f"sweep {sim.name}", disable=not progress)
    try:
        if backend == "local":
            _run_local(sim, todo, fixed, ss, n_sims, finished, bar)
        else:
            _run_dask(sim, todo, fixed, ss, n_sims, finished, bar, client)
    finally:
        bar.close()

    import pandas as pd

    ordered = [rows[key] for key in keys]
    frame = pd.DataFrame(ordered)
    first = list(grid) + [c for c in frame.columns if c not in grid and c not in _RESERVED] + list(_RESERVED)
    return frame[first].reset_index(drop=True)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _point_seed(ss, params):
    """Entropy and spawn key of the point's SeedSequence: the root's child at the parameters' hash."""
    if ss.pool_size != 4:  # pragma: no cover - as_seed_sequence never builds other pool sizes
        raise ValueError("sweep seeds need the default SeedSequence pool size")
    return ss.entropy, (*ss.spawn_key, *_param_key(params))


def _run_local(sim, todo, fixed, ss, n_sims, finished, bar):
    for point in todo:
        params = {**fixed, **point}
        entropy, key = _point_seed(ss, params)
        sizes = _chunks(sim, n_sims)
        parts = [_run_chunk(sim.func, params, entropy, key, i, n) for i, n in enumerate(sizes)]
        estimates, seconds = _combine(parts, sizes)
        finished(point, estimates, seconds)
        bar.update(1)


def _worker_threads(client):
    """numba threads per task so that tasks x threads do not exceed each worker's cores."""
    info = client.scheduler_info()["workers"]
    if not info:
        return 1
    per = [max(1, int(w.get("nthreads", 1))) for w in info.values()]
    cores = os.cpu_count() or 1
    return max(1, cores // max(1, sum(per)))


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


def _run_batch(func, work, threads=None):
    """One Dask task: several chunks, run one after the other on the worker."""
    return [_run_chunk(func, params, entropy, key, c_index, n, threads) for params, entropy, key, c_index, n in work]


def _run_dask(sim, todo, fixed, ss, n_sims, finished, bar, client):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("backend='dask' needs dask.distributed: pip install 'numba-simengine[dask]'") from exc
    own = client is None
    cluster = None
    if own:
        workers = max(1, min(2, os.cpu_count() or 1))
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"NUMBA_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // workers))},
        )
        client = Client(cluster)
    elif not isinstance(client, Client):
        raise TypeError(f"`client` must be a distributed.Client; got {type(client).__name__}")
    try:
        threads = _worker_threads(client)
        items, pending = [], {}
        for p_index, point in enumerate(todo):
            params = {**fixed, **point}
            entropy, key = _point_seed(ss, params)
            sizes = _chunks(sim, n_sims)
            pending[p_index] = [None] * len(sizes)
            items += [(p_index, c_index, params, entropy, key, n) for c_index, n in enumerate(sizes)]
        futures = {}
        for batch in _batches(items, _task_slots(client)):
            work = [(params, entropy, key, c_index, n) for _, c_index, params, entropy, key, n in batch]
            fut = client.submit(_run_batch, sim.func, work, threads, pure=False)
            futures[fut] = [(p_index, c_index) for p_index, c_index, *_ in batch]
        for fut in as_completed(list(futures)):
            for (p_index, c_index), part in zip(futures[fut], fut.result()):
                pending[p_index][c_index] = part
                if all(done is not None for done in pending[p_index]):
                    estimates, seconds = _combine(pending.pop(p_index), _chunks(sim, n_sims))
                    finished(todo[p_index], estimates, seconds)
                    bar.update(1)
    finally:
        if own:
            client.close()
            cluster.close()
