"""Sweeps never lose results: kills, concurrent writers, corrupt checkpoints, list grids, huge grids, Dask scripts.

Every test here uses cheap registered simulations (tests/_sweep_fault_sims.py); the
subprocess tests start a fresh interpreter, so they cost a second or two each.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st
from pandas.testing import assert_frame_equal

import _sweep_fault_sims  # noqa: F401  (registers test-tick)
import _sweep_sims  # noqa: F401  (registers test-coin)
from _fuzz import bad_values, check_call
from simengine import _sweep, cli
from simengine._sweep import MAX_GRID_POINTS, SpecError, register_simulation, sweep

HERE = Path(__file__).parent
ROOT = HERE.parent


def numbers(frame):
    return frame.drop(columns=["seconds"]).reset_index(drop=True)


@pytest.fixture
def counting(monkeypatch):
    """Re-register test-tick so that each call is recorded (restored afterwards)."""
    calls = []
    original = _sweep_fault_sims.tick

    def tick(**kw):
        calls.append(kw.get("v"))
        return original(**kw)

    register_simulation("test-tick", tick, parameters=("p", "v", "delay"), overwrite=True)
    yield calls
    register_simulation("test-tick", original, parameters=("p", "v", "delay"), overwrite=True,
                        validate=_sweep_fault_sims.check_tick)


def env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}


# ---------------------------------------------------------------- point identity


def test_list_valued_grid_points_resume(tmp_path, counting):
    # reproducer: list-valued points ran once and never resumed ("cannot serialise ndarray")
    path = tmp_path / "lists.parquet"
    grid = {"p": [0.3], "v": [[100, 200], [150, 150], [1, [2, 3.5]], 7]}
    first = sweep("test-tick", grid, n_sims=200, rng=4, checkpoint=path, progress=False)
    assert len(counting) == 4
    again = sweep("test-tick", grid, n_sims=200, rng=4, checkpoint=path, progress=False)
    assert len(counting) == 4  # nothing recomputed
    assert_frame_equal(numbers(first), numbers(again))
    # tuples are the same values as lists
    tuples = {"p": [0.3], "v": [(100, 200), (150, 150), (1, (2, 3.5)), 7]}
    sweep("test-tick", tuples, n_sims=200, rng=4, checkpoint=path, progress=False)
    assert len(counting) == 4
    stored = pd.read_parquet(path)
    assert len(stored) == 4


def test_builtin_list_grid_resumes(tmp_path):
    path = tmp_path / "peek.parquet"
    grid = {"visitors_per_look": [[100, 200], [150, 150]]}
    first = sweep("peeking", grid, fixed={"n_looks": 2}, n_sims=300, rng=5, checkpoint=path, progress=False)
    again = sweep("peeking", grid, fixed={"n_looks": 2}, n_sims=300, rng=5, checkpoint=path, progress=False)
    assert_frame_equal(numbers(first), numbers(again))
    assert len(pd.read_parquet(path)) == 2


def test_equal_numbers_are_the_same_point(tmp_path, counting):
    # reproducer: lift = [0, 0.01] recomputed the finished 0 point and wrote 3 rows for 2
    path = tmp_path / "lift.parquet"
    first = sweep("test-tick", {"p": [0.3], "v": [0, 0.01]}, n_sims=100, rng=2, checkpoint=path, progress=False)
    second = sweep("test-tick", {"p": [0.3], "v": [0, 0.01]}, n_sims=100, rng=2, checkpoint=path, progress=False)
    third = sweep("test-tick", {"p": [0.3], "v": [0.0, 0.01]}, n_sims=100, rng=2, checkpoint=path, progress=False)
    assert len(counting) == 2
    assert len(pd.read_parquet(path)) == 2
    assert_frame_equal(numbers(first), numbers(second))
    assert third["rate"].tolist() == first["rate"].tolist()
    with pytest.raises(SpecError, match="`grid.v` has repeated values"):
        sweep("test-tick", {"p": [0.3], "v": [0, 0.0]}, n_sims=100, rng=2, progress=False)


def test_streams_of_ordinary_points_are_unchanged():
    # the stream of a point still comes from the JSON of its parameters as given (tests pin them)
    from simengine._sweep import _param_key

    assert _param_key({"p": 0.3}) != _param_key({"p": 0})
    assert _param_key({"a": 1, "b": [1, 2]}) == _param_key({"b": [1, 2], "a": 1})


def test_checkpoint_from_before_identities_is_read(tmp_path, counting):
    # a checkpoint written without the identity metadata (older versions) resumes from its values
    path = tmp_path / "old.parquet"
    sweep("test-tick", {"p": [0.3], "v": [0, 1]}, n_sims=100, rng=2, checkpoint=path, progress=False)
    table = pq.read_table(path)
    meta = {k: v for k, v in table.schema.metadata.items() if k != b"simengine.sweep.points"}
    pq.write_table(table.replace_schema_metadata(meta), path)
    sweep("test-tick", {"p": [0.3], "v": [0, 1, 2]}, n_sims=100, rng=2, checkpoint=path, progress=False)
    assert counting == [0, 1, 2]


# ---------------------------------------------------------------- the checkpoint path


def test_checkpoint_without_pyarrow_is_refused_before_any_work(tmp_path, counting, monkeypatch):
    for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")] + ["pyarrow"]:
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if pyarrow were not installed
    with pytest.raises(ImportError, match=r'`checkpoint` needs pyarrow.*numba-simengine\[parquet\]'):
        sweep("test-tick", {"p": [0.3], "v": [1]}, n_sims=10, rng=1, checkpoint=tmp_path / "x.parquet",
              progress=False)
    assert counting == [] and list(tmp_path.iterdir()) == []


def test_checkpoint_path_is_checked_before_any_work(tmp_path, counting):
    grid = {"p": [0.3], "v": [1]}
    with pytest.raises(SpecError, match=r"`checkpoint` '.*' is a directory; give a file path"):
        sweep("test-tick", grid, n_sims=10, rng=1, checkpoint=tmp_path, progress=False)
    with pytest.raises(SpecError, match=r"its directory '.*missing' does not exist"):
        sweep("test-tick", grid, n_sims=10, rng=1, checkpoint=tmp_path / "missing" / "x.parquet", progress=False)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SpecError, match="is not a directory"):
        sweep("test-tick", grid, n_sims=10, rng=1, checkpoint=afile / "x.parquet", progress=False)
    with pytest.raises(TypeError, match="`checkpoint` must be a file path"):
        sweep("test-tick", grid, n_sims=10, rng=1, checkpoint=3, progress=False)
    with pytest.raises(ValueError, match="`checkpoint` must be a non-empty file path"):
        sweep("test-tick", grid, n_sims=10, rng=1, checkpoint="", progress=False)
    assert counting == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_checkpoint_folder_fails_at_once(tmp_path, counting):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    with pytest.raises(SpecError, match="cannot be written"):
        sweep("test-tick", {"p": [0.3]}, n_sims=10, rng=1, checkpoint=folder / "x.parquet", progress=False)
    assert counting == []


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_checkpoint_names_the_file_and_what_to_do(tmp_path, damage):
    path = tmp_path / "ck.parquet"
    sweep("test-tick", {"p": [0.3], "v": [0, 1]}, n_sims=100, rng=2, checkpoint=path, progress=False)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"PAR1 not really", "empty": b""}[damage])
    message = r"`checkpoint` '.*ck.parquet' is not a readable Parquet file .*delete it to start again"
    with pytest.raises(SpecError, match=message):
        sweep("test-tick", {"p": [0.3], "v": [0, 1]}, n_sims=100, rng=2, checkpoint=path, progress=False)
    assert not Path(str(path) + ".lock").exists()


def test_stale_temporaries_of_this_checkpoint_are_removed(tmp_path):
    path = tmp_path / "ck.parquet"
    ours = tmp_path / ".ck.parquet.sweep-abc123.tmp"
    theirs = tmp_path / ".other.parquet.sweep-abc123.tmp"
    legacy = tmp_path / ".sweep-xyz.parquet.tmp"
    for f in (ours, theirs, legacy):
        f.write_bytes(b"half a write")
    sweep("test-tick", {"p": [0.3]}, n_sims=100, rng=2, checkpoint=path, progress=False)
    assert not ours.exists() and theirs.exists() and legacy.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".other.parquet.sweep-abc123.tmp", "ck.parquet",
                                                                 ".sweep-xyz.parquet.tmp"])


# ---------------------------------------------------------------- one writer


HOLD = """
import _sweep_fault_sims
from simengine._sweep import sweep
_sweep_fault_sims.DELAY = 0.05
sweep("test-tick", {{"p": [0.3], "v": list(range(400))}}, n_sims=10, rng=1, checkpoint={path!r}, progress=False)
"""


def wait_for(predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_second_writer_is_refused_with_the_holder(tmp_path, capsys):
    path = tmp_path / "ck.parquet"
    lock = Path(str(path) + ".lock")
    proc = subprocess.Popen([sys.executable, "-c", HOLD.format(path=str(path))], env=env())
    try:
        assert wait_for(lambda: lock.exists() and lock.read_text().startswith("pid"))
        message = rf"`checkpoint` '.*ck.parquet' is in use by another sweep \(pid {proc.pid} on host .*, started "
        with pytest.raises(SpecError, match=message):
            sweep("test-tick", {"p": [0.3], "v": [1]}, n_sims=10, rng=1, checkpoint=path, progress=False)
        spec = tmp_path / "s.toml"
        spec.write_text('simulation = "test-tick"\nn_sims = 10\nseed = 1\n[grid]\np = [0.3]\nv = [1]\n')
        assert cli.main(["sweep", str(spec), "-o", str(path), "--no-progress"]) == 2
        assert f"in use by another sweep (pid {proc.pid}" in capsys.readouterr().err
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the kernel drops the lock of a killed holder: the next sweep proceeds and resumes its work
    table = sweep("test-tick", {"p": [0.3], "v": list(range(400))}, n_sims=10, rng=1, checkpoint=path,
                  progress=False)
    clean = sweep("test-tick", {"p": [0.3], "v": list(range(400))}, n_sims=10, rng=1, progress=False)
    assert_frame_equal(numbers(table), numbers(clean))
    assert not lock.exists()
    sweep("test-tick", {"p": [0.3], "v": [1]}, n_sims=10, rng=1, checkpoint=tmp_path / "free.parquet",
          progress=False)
    assert not lock.with_name("free.parquet.lock").exists()  # a finished sweep removes its lock file


# ---------------------------------------------------------------- kills and interrupts


KILL = """
import _sweep_fault_sims
from simengine import _sweep
_sweep.FLUSH_SECONDS, _sweep.FLUSH_POINTS, _sweep.FLUSH_COST_RATIO = 0.0, 1, 0.0  # write after every point
_sweep_fault_sims.DELAY = 0.01
_sweep.sweep("test-tick", {{"p": [0.2, 0.6], "v": list(range(30))}}, n_sims=50, rng=8, checkpoint={path!r},
             progress=False)
"""
KILL_GRID = {"p": [0.2, 0.6], "v": list(range(30))}


@pytest.fixture(scope="module")
def uninterrupted():
    return sweep("test-tick", KILL_GRID, n_sims=50, rng=8, progress=False)


@settings(max_examples=4, deadline=None)
@given(after=st.floats(min_value=0.0, max_value=0.8))
def test_sigkill_at_any_moment_then_resume_is_complete_and_exact(tmp_path_factory, uninterrupted, after):
    folder = tmp_path_factory.mktemp("kill")
    path = folder / "ck.parquet"
    lock = Path(str(path) + ".lock")
    proc = subprocess.Popen([sys.executable, "-c", KILL.format(path=str(path))], env=env())
    try:
        wait_for(lambda: lock.exists() or proc.poll() is not None)
        time.sleep(after)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if path.exists():  # what was saved is always a whole, readable table without duplicates
        saved = pd.read_parquet(path)
        assert not saved.duplicated(subset=["p", "v"]).any()
    resumed = sweep("test-tick", KILL_GRID, n_sims=50, rng=8, checkpoint=path, progress=False)
    assert_frame_equal(numbers(resumed), numbers(uninterrupted))
    stored = pd.read_parquet(path)
    assert len(stored) == 60 and not stored.duplicated(subset=["p", "v"]).any()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp") or p.name.endswith(".lock")]


def test_sigkill_resume_equals_uninterrupted(tmp_path):
    # the same as above at one kill moment, comparing every number with an uninterrupted run
    path = tmp_path / "ck.parquet"
    script = KILL.format(path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env())
    try:
        assert wait_for(lambda: path.exists() and pq.read_metadata(path).num_rows >= 5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    saved = pd.read_parquet(path)
    assert 5 <= len(saved) < 60 and not saved.duplicated(subset=["p", "v"]).any()
    resumed = sweep("test-tick", KILL_GRID, n_sims=50, rng=8, checkpoint=path, progress=False)
    clean = sweep("test-tick", KILL_GRID, n_sims=50, rng=8, progress=False)
    assert_frame_equal(numbers(resumed), numbers(clean))
    stored = pd.read_parquet(path)
    assert len(stored) == 60 and not stored.duplicated(subset=["p", "v"]).any()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_interrupt_saves_finished_points_first(tmp_path, monkeypatch):
    monkeypatch.setattr(_sweep, "FLUSH_SECONDS", 1e9)
    monkeypatch.setattr(_sweep, "FLUSH_POINTS", 10**9)
    seen = []

    def stop_at_five(*, rng, n_sims, p, v=0, delay=0.0):
        if len(seen) == 5:
            raise KeyboardInterrupt
        seen.append(v)
        return {"rate": 0.5, "rate_se": 0.1}

    register_simulation("test-stop", stop_at_five, parameters=("p", "v"), overwrite=True)
    path = tmp_path / "ck.parquet"
    with pytest.raises(KeyboardInterrupt):
        sweep("test-stop", {"p": [0.3], "v": list(range(10))}, n_sims=10, rng=1, checkpoint=path, progress=False)
    assert sorted(pd.read_parquet(path)["v"]) == [0, 1, 2, 3, 4]
    assert not Path(str(path) + ".lock").exists()


def test_checkpoint_writes_are_batched(tmp_path, monkeypatch):
    # reproducer: the whole table was rewritten after every point (400 / 1600 / 3200 points: +1 / +8 / +24 s)
    writes = []
    original = _sweep._Checkpoint._write

    def counted(self):
        writes.append(len(self.records))
        return original(self)

    monkeypatch.setattr(_sweep._Checkpoint, "_write", counted)
    path = tmp_path / "ck.parquet"
    start = time.perf_counter()
    table = sweep("test-tick", {"p": [0.5], "v": list(range(3200))}, n_sims=10, rng=1, checkpoint=path,
                  progress=False)
    elapsed = time.perf_counter() - start
    # at most one write per FLUSH_POINTS points or per FLUSH_SECONDS, plus the last one
    assert len(writes) <= 3200 // _sweep.FLUSH_POINTS + elapsed / _sweep.FLUSH_SECONDS + 1
    assert writes[-1] == 3200 and len(pd.read_parquet(path)) == 3200
    assert_frame_equal(numbers(table), numbers(sweep("test-tick", {"p": [0.5], "v": list(range(3200))}, n_sims=10,
                                                     rng=1, progress=False)))


# ---------------------------------------------------------------- huge grids


def test_grid_above_the_maximum_is_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(SpecError, match=r"`grid` has 100,000,000 points .*the maximum is 1,000,000 points"):
        sweep("test-tick", {"p": list(np.linspace(0, 1, 10_000)), "v": list(range(10_000))}, progress=False)
    with pytest.raises(SpecError, match="the maximum is"):
        sweep("test-tick", {"p": [0.5], "v": list(range(MAX_GRID_POINTS + 1))}, progress=False)
    assert time.perf_counter() - start < 30  # a hang guard, not a speed target


def test_huge_grid_validates_every_value_quickly(monkeypatch):
    # reproducer: a 10^7-point grid sat in per-point validation for minutes
    seen = [set() for _ in range(6)]

    def validate(**params):
        time.sleep(0.0005)  # a check that costs like the built-in probes
        for i in range(6):
            seen[i].add(params[f"x{i}"])
        if params["x5"] == 9 and params["x0"] == 0:
            raise ValueError("`x5` must be < 9")

    sim = _sweep.Simulation("test-huge", lambda **kw: {}, validate=validate)
    grid = {f"x{i}": list(range(10)) for i in range(6)}  # 10^6 points
    combos = list(__import__("itertools").product(*grid.values()))
    start = time.perf_counter()
    with pytest.raises(SpecError, match=r"grid point \(x0=0, .*x5=9\): `x5` must be < 9"):
        _sweep._validate_points(sim, grid, {}, combos, budget=0.2)
    grid["x5"] = list(range(9))
    combos = list(__import__("itertools").product(*grid.values()))
    seen = [set() for _ in range(6)]
    checked = _sweep._validate_points(sim, grid, {}, combos, budget=0.2)
    assert time.perf_counter() - start < 10
    assert all(len(s) == len(grid[f"x{i}"]) for i, s in enumerate(seen))  # every value checked
    assert 1 + 9 * 5 + 8 <= checked < len(combos)


def test_cheap_validation_checks_every_point_of_a_large_grid():
    calls = []
    sim = _sweep.Simulation("test-cheap", lambda **kw: {}, validate=lambda **kw: calls.append(1))
    grid = {"a": list(range(300)), "b": list(range(300))}
    combos = list(__import__("itertools").product(*grid.values()))
    assert _sweep._validate_points(sim, grid, {}, combos) == 90_000
    assert len(calls) == 90_000


# ---------------------------------------------------------------- Dask from a plain script


DASK_SCRIPT = """
import json
import _sweep_fault_sims
import simengine

if __name__ == "__main__":
    t = simengine.sweep("test-jit-coin", {"p": [0.2, 0.7]}, n_sims=3000, rng=3, backend="dask", progress=False)
    print(json.dumps(t.drop(columns=["seconds"]).to_dict("list")))
"""


def test_dask_from_a_script_file_equals_local(tmp_path):
    # reproducer: "Cannot set NUMBA_NUM_THREADS to a different value once the threads have been launched"
    # (a task compiling numba code on a worker of the sweep's own cluster, started from a script file)
    script = tmp_path / "run_sweep.py"
    script.write_text(DASK_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env(), timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    remote = pd.DataFrame(json.loads(out.stdout.strip().splitlines()[-1]))
    local = sweep("test-jit-coin", {"p": [0.2, 0.7]}, n_sims=3000, rng=3, progress=False)
    columns = ["p", "rate", "rate_se", "n_sims"]
    assert_frame_equal(remote[columns], local[columns], check_dtype=False)
    # the own cluster has one single-threaded worker per core: each task sizes numba to cores / slots = 1
    assert remote["threads"].tolist() == [1.0, 1.0]


def test_plot_of_a_list_valued_grid(tmp_path):
    from simengine._plot import plot_sweep

    table = sweep("test-tick", {"p": [0.2, 0.5], "v": [[1, 2], [3, 4]]}, n_sims=100, rng=1, progress=False)
    png = tmp_path / "lists.png"
    assert plot_sweep(table, ["p", "v"], png) == ["rate"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- bad input (fuzz) and messages


SWEEP_PARAMS = ("simulation", "grid", "grid value", "fixed", "fixed value", "n_sims", "rng", "backend", "progress",
                "checkpoint")


@settings(max_examples=60, deadline=None)
@given(param=st.sampled_from(SWEEP_PARAMS), value=bad_values())
def test_sweep_fuzz(tmp_path_factory, param, value):
    kwargs = dict(simulation="test-tick", grid={"p": [0.5], "v": [1]}, n_sims=10, rng=1, progress=False)
    if param == "grid value":
        kwargs["grid"] = {"p": [0.5], "v": [value]}
    elif param == "fixed value":
        kwargs["grid"], kwargs["fixed"] = {"p": [0.5]}, {"v": value}
    elif param == "checkpoint":
        if isinstance(value, str):  # a string is a (relative) path: keep the test's files in a temporary folder
            value = str(tmp_path_factory.mktemp("fuzz") / (value or "x"))
        kwargs["checkpoint"] = value
    else:
        kwargs[param] = value
    name = param.split()[0]
    ok, out = check_call(sweep, kwargs=kwargs, param=name, timeout=20)
    if ok:
        assert len(out) == 1 and np.isfinite(out["rate"]).all()


@settings(max_examples=30, deadline=None)
@given(param=st.sampled_from(("name", "parameters", "chunk_size", "validate", "overwrite", "func")), value=bad_values())
def test_register_simulation_fuzz(param, value):
    kwargs = dict(name="test-fuzz-reg", func=_sweep_fault_sims.tick, parameters=("p", "v"), overwrite=True)
    kwargs[param] = value
    ok, _ = check_call(register_simulation, kwargs=kwargs, param=param)
    _sweep._USER.pop("test-fuzz-reg", None)


def test_sweep_faults_iv(tmp_path):
    with pytest.raises(ValueError, match=r"`n_sims` must be an integer in \[1, 1000000000\]; got 1000000001"):
        sweep("test-tick", {"p": [0.5]}, n_sims=10**9 + 1, progress=False)
    with pytest.raises(SpecError, match=r"`grid` has 1,000,001 points \(1000001 \(v\)\); the maximum is 1,000,000"):
        sweep("test-tick", {"v": range(MAX_GRID_POINTS + 1)}, progress=False)
    with pytest.raises(SpecError, match="`grid.v` has repeated values"):
        sweep("test-tick", {"v": [[1, 2], (1, 2)]}, progress=False)
