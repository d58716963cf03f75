"""The sweep engine: seeding per point, chunking, backends, checkpoints, CLI specs."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import _sweep_sims
from simengine import cli
from simengine._sweep import SpecError, register_simulation, simulations, sweep

HERE = Path(__file__).parent


def numbers(frame):
    return frame.drop(columns=["seconds"]).reset_index(drop=True)


def test_table_layout_and_estimates():
    table = sweep("test-coin", {"p": [0.2, 0.7]}, n_sims=10_000, rng=3, progress=False)
    assert list(table.columns) == ["p", "rate", "rate_se", "n_sims", "seconds"]
    assert (table["n_sims"] == 10_000).all()
    assert (table["seconds"] >= 0).all()
    assert np.all(np.abs(table["rate"] - table["p"]) < 4 * table["rate_se"])


def test_point_numbers_do_not_depend_on_other_points_or_order():
    base = sweep("test-coin", {"p": [0.1, 0.5], "label": ["x"]}, n_sims=5000, rng=11, progress=False)
    more = sweep("test-coin", {"label": ["x"], "p": [0.9, 0.5, 0.3, 0.1]}, n_sims=5000, rng=11, progress=False)
    for p in (0.1, 0.5):
        a = base.loc[base.p == p, "rate"].item()
        b = more.loc[more.p == p, "rate"].item()
        assert a == b
    # a parameter given as fixed or as a one-value grid is the same point
    fixed = sweep("test-coin", {"p": [0.1, 0.5]}, fixed={"label": "x"}, n_sims=5000, rng=11, progress=False)
    assert fixed["rate"].tolist() == base["rate"].tolist()
    # another seed gives other numbers
    other = sweep("test-coin", {"p": [0.1, 0.5], "label": ["x"]}, n_sims=5000, rng=12, progress=False)
    assert other["rate"].tolist() != base["rate"].tolist()


def test_chunks_combine_exactly():
    # 10_000 replicates = chunks of 4000, 4000, 2000, each with its own stream
    table = sweep("test-coin", {"p": [0.3]}, n_sims=10_000, rng=5, progress=False)
    from simengine._rng import as_seed_sequence, child_seed_sequence
    from simengine._sweep import _param_key

    point = child_seed_sequence(as_seed_sequence(5), *_param_key({"p": 0.3}))
    heads = 0
    for i, n in enumerate([4000, 4000, 2000]):
        rng = np.random.Generator(np.random.PCG64(child_seed_sequence(point, i)))
        heads += rng.binomial(n, 0.3)
    assert table["rate"].item() == pytest.approx(heads / 10_000, rel=1e-15)
    # SE of the mean of three independent chunk means, weighted by chunk size
    assert table["rate_se"].item() > 0
    assert table["rate_se"].item() == pytest.approx(np.sqrt(0.3 * 0.7 / 10_000), rel=0.05)


def test_user_function_registration_and_callable_lookup():
    def tiny(*, rng, n_sims, mu):
        x = rng.normal(mu, 1.0, size=n_sims)
        return {"mean": x.mean(), "mean_se": x.std(ddof=1) / np.sqrt(n_sims)}

    register_simulation("test-tiny", tiny, parameters=("mu",), overwrite=True)
    by_name = sweep("test-tiny", {"mu": [0.0, 1.0]}, n_sims=2000, rng=1, progress=False)
    by_func = sweep(tiny, {"mu": [0.0, 1.0]}, n_sims=2000, rng=1, progress=False)
    assert_frame_equal(numbers(by_name), numbers(by_func))
    assert "test-tiny" in simulations()


def test_sweep_iv(tmp_path):
    with pytest.raises(SpecError, match="`simulation` must be one of .*got 'nope'"):
        sweep("nope", {"p": [0.1]})
    with pytest.raises(SpecError, match=r"unknown parameter\(s\) \['q'\] for simulation 'test-coin'; allowed: p, label"):
        sweep("test-coin", {"q": [0.1]})
    with pytest.raises(SpecError, match="got an empty grid"):
        sweep("test-coin", {})
    with pytest.raises(SpecError, match="`grid.p` must have at least one value"):
        sweep("test-coin", {"p": []})
    with pytest.raises(SpecError, match="`grid.p` must be a list of values"):
        sweep("test-coin", {"p": 0.1})
    with pytest.raises(SpecError, match="`grid.p` has repeated values"):
        sweep("test-coin", {"p": [0.1, 0.1]})
    with pytest.raises(SpecError, match="both in `grid` and in `fixed`"):
        sweep("test-coin", {"p": [0.1]}, fixed={"p": 0.2})
    with pytest.raises(SpecError, match="`grid.p` values must be finite"):
        sweep("test-coin", {"p": [float("nan")]})
    with pytest.raises(SpecError, match="cannot be sweep parameters"):
        sweep("test-coin", {"n_sims": [1]})
    with pytest.raises(ValueError, match="`n_sims` must be an integer >= 1; got 0"):
        sweep("test-coin", {"p": [0.1]}, n_sims=0)
    with pytest.raises(ValueError, match="`backend` must be one of 'local', 'dask'; got 'spark'"):
        sweep("test-coin", {"p": [0.1]}, backend="spark")
    with pytest.raises(ValueError, match="`client` is only used with backend='dask'"):
        sweep("test-coin", {"p": [0.1]}, client=object())
    with pytest.raises(TypeError, match="`rng` must be None, an int"):
        sweep("test-coin", {"p": [0.1]}, rng="x")
    with pytest.raises(ValueError, match="`target_se` must be a positive finite number; got -0.1"):
        sweep("test-coin", {"p": [0.1]}, target_se=-0.1)
    with pytest.raises(ValueError, match=r"`max_sims` must be at least `n_sims` \(10000\); got 10"):
        sweep("test-coin", {"p": [0.1]}, target_se=0.1, max_sims=10)
    with pytest.raises(TypeError, match="`progress` must be None, True or False; got str"):
        sweep("test-coin", {"p": [0.1]}, progress="yes")
    # an unregistered function runs as it is (issue 13); what it returns is still checked
    with pytest.raises(TypeError, match="must return a dict of estimates or a MonteCarloResult; got None"):
        sweep(lambda **kw: None, {"p": [0.1]}, n_sims=1, progress=False)
    with pytest.raises(ValueError, match="already registered"):
        register_simulation("test-coin", _sweep_sims.coin)
    bad = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(bad)
    with pytest.raises(SpecError, match="is not a simengine sweep checkpoint"):
        sweep("test-coin", {"p": [0.1]}, checkpoint=bad, rng=1, progress=False)


def test_simulation_must_return_a_dict_of_numbers():
    register_simulation("test-bad", lambda *, rng, n_sims, x: [1, 2], overwrite=True)
    with pytest.raises(TypeError, match="must return a dict of estimates"):
        sweep("test-bad", {"x": [1]}, n_sims=10, rng=1, progress=False)
    register_simulation("test-bad", lambda *, rng, n_sims, x: {"a": "high"}, overwrite=True)
    with pytest.raises(TypeError, match="estimate 'a' must be a real number"):
        sweep("test-bad", {"x": [1]}, n_sims=10, rng=1, progress=False)


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_resume_skips_finished_points(tmp_path, monkeypatch):
    path = tmp_path / "ck.parquet"
    first = sweep("test-coin", {"p": [0.1, 0.2]}, n_sims=3000, rng=7, checkpoint=path, progress=False)
    calls = []
    original = _sweep_sims.coin

    def counting(**kw):
        calls.append(kw["p"])
        return original(**kw)

    register_simulation("test-coin", counting, parameters=("p", "label"), chunk_size=4000, overwrite=True)
    try:
        more = sweep("test-coin", {"p": [0.1, 0.2, 0.3]}, n_sims=3000, rng=7, checkpoint=path, progress=False)
    finally:
        register_simulation("test-coin", original, parameters=("p", "label"), chunk_size=4000, overwrite=True)
    assert calls == [0.3]
    assert_frame_equal(numbers(more.iloc[:2]), numbers(first))
    fresh = sweep("test-coin", {"p": [0.1, 0.2, 0.3]}, n_sims=3000, rng=7, progress=False)
    assert_frame_equal(numbers(more), numbers(fresh))
    # rng=None on resume adopts the checkpoint's seed
    again = sweep("test-coin", {"p": [0.1, 0.2, 0.3]}, n_sims=3000, checkpoint=path, progress=False)
    assert_frame_equal(numbers(again), numbers(fresh))


def test_checkpoint_from_another_spec_is_refused(tmp_path):
    path = tmp_path / "ck.parquet"
    sweep("test-coin", {"p": [0.1]}, n_sims=1000, rng=7, checkpoint=path, progress=False)
    with pytest.raises(SpecError, match="written by a different sweep \\(differs in: n_sims\\)"):
        sweep("test-coin", {"p": [0.1]}, n_sims=2000, rng=7, checkpoint=path, progress=False)
    with pytest.raises(SpecError, match="differs in: entropy"):
        sweep("test-coin", {"p": [0.1]}, n_sims=1000, rng=8, checkpoint=path, progress=False)
    with pytest.raises(SpecError, match="differs in: .*simulation"):
        sweep("test-slow-coin", {"p": [0.1]}, n_sims=1000, rng=7, checkpoint=path, progress=False)
    with pytest.raises(SpecError, match="differs in: fixed"):
        sweep("test-coin", {"p": [0.1]}, fixed={"label": "b"}, n_sims=1000, rng=7, checkpoint=path, progress=False)


KILL_SCRIPT = """
import sys
sys.path.insert(0, {here!r})
import _sweep_sims
from simengine._sweep import sweep
sweep("test-slow-coin", {{"p": [round(0.05 * i, 2) for i in range(1, 16)]}}, fixed={{"delay": {delay}}},
      n_sims=2000, rng=99, checkpoint={path!r}, progress=False)
"""


def test_sigkill_mid_sweep_then_resume_equals_uninterrupted(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "killed.parquet"
    script = KILL_SCRIPT.format(here=str(HERE), path=str(path), delay=0.15)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    rows_seen = 0
    try:
        while time.time() < deadline:
            if path.exists():
                rows_seen = pq.read_table(path).num_rows  # must always be readable
                if rows_seen >= 4:
                    break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert 4 <= rows_seen < 15, "the sweep must be killed mid-way"
    partial = pq.read_table(path).to_pandas()
    assert 4 <= len(partial) < 15 and not partial.duplicated(subset=["p"]).any()
    grid = {"p": [round(0.05 * i, 2) for i in range(1, 16)]}
    resumed = sweep("test-slow-coin", grid, fixed={"delay": 0.15}, n_sims=2000, rng=99, checkpoint=path, progress=False)
    clean = sweep("test-slow-coin", grid, fixed={"delay": 0.15}, n_sims=2000, rng=99, progress=False)
    assert len(resumed) == 15 and not resumed.duplicated(subset=["p"]).any()
    assert_frame_equal(numbers(resumed), numbers(clean))
    stored = pq.read_table(path).to_pandas()
    assert sorted(stored["p"]) == sorted(grid["p"])


# ---------------------------------------------------------------- dask


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    # workers import the registered test simulations from this folder
    client.run(lambda p=str(HERE): sys.path.insert(0, p))
    yield client
    client.close()
    cluster.close()


def test_dask_equals_local(dask_client):
    grid = {"p": [0.1, 0.4, 0.8], "label": ["a", "b"]}
    local = sweep("test-coin", grid, n_sims=9000, rng=21, progress=False)
    remote = sweep("test-coin", grid, n_sims=9000, rng=21, progress=False, backend="dask", client=dask_client)
    assert_frame_equal(numbers(local), numbers(remote))


def test_builtin_sweep_dask_equals_local(dask_client):
    # a built-in numba simulation (moved from test_sweep_builtins.py to share this module's cluster)
    grid = {"n_looks": [1, 4], "boundary": ["none", "pocock"]}
    fixed = {"visitors_per_look": 30}
    local = sweep("peeking", grid, fixed=fixed, n_sims=20_000, rng=12, progress=False)
    remote = sweep("peeking", grid, fixed=fixed, n_sims=20_000, rng=12, progress=False, backend="dask",
                   client=dask_client)
    assert_frame_equal(numbers(local), numbers(remote))


def test_dask_with_checkpoint(dask_client, tmp_path):
    path = tmp_path / "dask.parquet"
    grid = {"p": [0.1, 0.4]}
    remote = sweep("test-coin", grid, n_sims=5000, rng=2, backend="dask", client=dask_client, checkpoint=path,
                   progress=False)
    local = sweep("test-coin", grid, n_sims=5000, rng=2, checkpoint=path, progress=False)
    assert_frame_equal(numbers(local), numbers(remote))


def test_target_se_same_numbers_locally_and_on_dask_with_two_workers_or_one_thread(dask_client):
    from distributed import Client, LocalCluster

    # points need from 1 to ~9 chunks of 1000; Dask runs them in waves and drops chunks past the stop
    grid = {"p": [0.02, 0.2, 0.5], "label": ["a", "b"]}
    kwargs = dict(n_sims=1000, target_se=0.0055, max_sims=7000, rng=31, progress=False)
    with pytest.warns(RuntimeWarning, match="2/6 points did not reach"):
        local = sweep("test-coin", grid, **kwargs)
    assert local["n_sims"].nunique() >= 3
    with pytest.warns(RuntimeWarning, match="2/6 points did not reach"):
        two = sweep("test-coin", grid, **kwargs, backend="dask", client=dask_client)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client, pytest.warns(RuntimeWarning, match="2/6 points did not reach"):
        one = sweep("test-coin", grid, **kwargs, backend="dask", client=client)
    assert_frame_equal(numbers(local), numbers(two))
    assert_frame_equal(numbers(local), numbers(one))


# ---------------------------------------------------------------- CLI


SPEC = """
simulation = "test-coin"
n_sims = 4000
seed = 5
title = "coin check"
[grid]
p = [0.1, 0.5, 0.9]
label = ["a", "b"]
"""


def run_sweep_cli(*args):
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import _sweep_sims; from simengine.cli import main; "
        f"raise SystemExit(main({['sweep', *map(str, args)]!r}))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_cli_sweep_end_to_end(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    out_path, png = tmp_path / "r.parquet", tmp_path / "r.png"
    out = run_sweep_cli(spec, "-o", out_path, "--plot", png, "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "coin check" in out.stdout and "rate_se" in out.stdout
    table = pd.read_parquet(out_path)
    assert len(table) == 6
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expected = sweep("test-coin", {"p": [0.1, 0.5, 0.9], "label": ["a", "b"]}, n_sims=4000, rng=5, progress=False)
    assert_frame_equal(numbers(table), numbers(expected))


@pytest.mark.parametrize(
    "text, message",
    [
        ('simulation = "nope"\n[grid]\np = [1]\n', "`simulation` must be one of"),
        ('simulation = "test-coin"\n[grid]\nq = [1]\n', r"unknown parameter\(s\) \['q'\]"),
        ('simulation = "test-coin"\n[grid]\n', "got an empty \\[grid\\] table"),
        ('simulation = "test-coin"\nn_sims = "many"\n[grid]\np = [0.1]\n', "`n_sims` must be an integer >= 1"),
        ('simulation = "test-coin"\nseed = -1\n[grid]\np = [0.1]\n', "`seed` must be an integer >= 0"),
        ('simulation = "test-coin"\n[grid]\np = 0.1\n', "`grid.p` must be a list of values"),
        ('simulation = "test-coin"\ncolour = 1\n[grid]\np = [0.1]\n', r"unknown key\(s\) \['colour'\]"),
        ('simulation = "test-coin"\n', "the spec needs `grid`"),
        ('simulation = 3\n[grid]\np = [0.1]\n', "`simulation` must be a string"),
        ("this is not toml", "is not valid TOML"),
    ],
)
def test_cli_spec_errors_exit_2(tmp_path, text, message):
    import re

    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    out = run_sweep_cli(spec, "--no-progress")
    assert out.returncode == 2
    assert re.search(message, out.stderr), out.stderr
    assert "Traceback" not in out.stderr


def test_cli_sweep_missing_file_and_list(capsys):
    assert cli.main(["sweep", "/nonexistent/spec.toml", "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["sweep", "--list"]) == 0
    assert "test-coin" in capsys.readouterr().out


def test_dask_batches_cover_every_chunk_once_in_order():
    from simengine._sweep import _batches

    items = list(range(101))
    for slots in (1, 2, 7, 64):
        batches = _batches(items, slots)
        assert [i for b in batches for i in b] == items
        assert max(len(b) for b in batches) <= 16
        size = len(batches[0])
        assert all(len(b) == size for b in batches[:-1])
        # about four tasks per worker thread, unless the 16-chunk cap makes more
        assert len(batches) <= 4 * slots or size == 16
        assert size == 1 or len(batches) > 2 * slots
    assert _batches([], 2) == []
