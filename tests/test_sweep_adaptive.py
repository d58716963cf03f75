"""Precision on demand (`target_se` / `max_sims`) and interrupts of the sweep engine."""
import math

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import _sweep_sims  # noqa: F401  (registers test-coin: chunks of 4000)
from simengine._rng import as_seed_sequence, child_seed_sequence
from simengine._sweep import SpecError, _param_key, register_simulation, sweep

GRID = {"p": [0.01, 0.1, 0.5]}


def numbers(frame):
    return frame.drop(columns=["seconds"]).reset_index(drop=True)


def replay_coin(seed, p, sizes):
    """NumPy replay of test-coin's chunks: chunk i draws from the point's child stream i."""
    point = child_seed_sequence(as_seed_sequence(seed), *_param_key({"p": p}))
    heads = [np.random.Generator(np.random.PCG64(child_seed_sequence(point, i))).binomial(n, p)
             for i, n in enumerate(sizes)]
    return sum(heads) / sum(sizes)


def test_every_point_meets_the_target_with_a_fixed_chunk_sequence():
    table = sweep("test-coin", GRID, n_sims=1000, target_se=0.006, rng=3, progress=False)
    assert list(table.columns) == ["p", "rate", "rate_se", "n_sims", "target_met", "seconds"]
    assert table["target_met"].all() and (table["rate_se"] <= 0.006).all()
    n = table.set_index("p")["n_sims"]
    # noisy points ran more: SE of p=0.5 at 1000 is 0.0158, needs ~6900 replicates (chunks of 1000)
    assert n[0.01] == 1000 and n[0.1] in (3000, 4000) and 6000 <= n[0.5] <= 8000
    assert (table["n_sims"] % 1000 == 0).all()
    for p, ran in n.items():
        # stopped after the first chunk whose combined SE met the target, not later
        assert table.set_index("p").at[p, "rate"] == pytest.approx(replay_coin(3, p, [1000] * (ran // 1000)),
                                                                   rel=1e-14)
        if ran > 1000:
            before = replay_coin(3, p, [1000] * (ran // 1000 - 1))
            assert math.sqrt(before * (1 - before) / (ran - 1000)) > 0.006 * 0.97


def test_first_stage_is_the_fixed_run_and_later_chunks_are_min_of_n_sims_and_chunk_size():
    fixed = sweep("test-coin", {"p": [0.001]}, n_sims=10_000, rng=4, progress=False)
    adaptive = sweep("test-coin", {"p": [0.001]}, n_sims=10_000, target_se=0.01, rng=4, progress=False)
    assert_frame_equal(numbers(fixed), numbers(adaptive).drop(columns=["target_met"]))
    # 10_000 = 4000 + 4000 + 2000 first, then chunks of 4000 (the chunk size)
    more = sweep("test-coin", {"p": [0.5]}, n_sims=10_000, target_se=0.004, rng=4, progress=False)
    ran = int(more["n_sims"].item())
    assert (ran - 10_000) % 4000 == 0 and ran > 10_000
    sizes = [4000, 4000, 2000] + [4000] * ((ran - 10_000) // 4000)
    assert more["rate"].item() == pytest.approx(replay_coin(4, 0.5, sizes), rel=1e-14)


def test_cap_is_reported_in_the_table_and_a_warning_naming_the_points():
    with pytest.warns(RuntimeWarning, match=r"1/3 points did not reach target_se=0.005 within max_sims=4500.*\(p=0.5\)"):
        table = sweep("test-coin", GRID, n_sims=1000, target_se=0.005, max_sims=4500, rng=3, progress=False)
    row = table.set_index("p").loc[0.5]
    assert not row["target_met"] and row["n_sims"] == 4500 and row["rate_se"] > 0.005  # last chunk cut at the cap
    assert table.set_index("p").loc[[0.01, 0.1], "target_met"].all()


def test_exact_zero_se_meets_any_target_and_nan_se_stops_at_once():
    calls = []

    def exact(*, rng, n_sims, kind):
        calls.append(n_sims)
        se = {"zero": 0.0, "nan": math.nan}[kind]
        return {"x": 1.0, "x_se": se}

    register_simulation("test-exact", exact, parameters=("kind",), chunk_size=100, overwrite=True)
    with pytest.warns(RuntimeWarning, match=r"1/2 points .*NaN.*kind='nan'"):
        table = sweep("test-exact", {"kind": ["zero", "nan"]}, n_sims=100, target_se=1e-9, rng=1, progress=False)
    assert table["target_met"].tolist() == [True, False] and table["n_sims"].tolist() == [100, 100]
    assert calls == [100, 100]


def test_target_se_iv():
    with pytest.raises(TypeError, match="`target_se` must be a positive number or None; got str"):
        sweep("test-coin", GRID, target_se="0.1")
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="`target_se` must be a positive finite number"):
            sweep("test-coin", GRID, target_se=bad)
    with pytest.raises(ValueError, match=r"`max_sims` must be at least `n_sims` \(1000\); got 999"):
        sweep("test-coin", GRID, n_sims=1000, target_se=0.1, max_sims=999)
    with pytest.raises(ValueError, match="`max_sims` is only used with `target_se`"):
        sweep("test-coin", GRID, max_sims=5000)
    with pytest.raises(ValueError, match="`target_se` needs a simulation whose chunks of replicates combine.*"
                                         "'test-slow-coin'"):
        sweep("test-slow-coin", GRID, target_se=0.1)
    with pytest.raises(ValueError, match="`target_se` needs .*'drift_detection'"):
        sweep("drift_detection", {"detector": ["ddm"]}, target_se=0.1)


def test_checkpoint_records_target_and_cap(tmp_path):
    path = tmp_path / "t.parquet"
    first = sweep("test-coin", GRID, n_sims=1000, target_se=0.01, rng=2, checkpoint=path, progress=False)
    again = sweep("test-coin", GRID, n_sims=1000, target_se=0.01, rng=2, checkpoint=path, progress=False)
    assert_frame_equal(first, again)
    assert pd.read_parquet(path)["target_met"].dtype == bool
    with pytest.raises(SpecError, match=r"differs in: target_se"):
        sweep("test-coin", GRID, n_sims=1000, target_se=0.02, rng=2, checkpoint=path, progress=False)
    with pytest.raises(SpecError, match=r"differs in: max_sims"):
        sweep("test-coin", GRID, n_sims=1000, target_se=0.01, max_sims=5000, rng=2, checkpoint=path, progress=False)
    with pytest.raises(SpecError, match=r"differs in: max_sims, target_se"):
        sweep("test-coin", GRID, n_sims=1000, rng=2, checkpoint=path, progress=False)


# ---------------------------------------------------------------- interrupts and messages


def _stopper(kind):
    seen = []

    def stop(*, rng, n_sims, v):
        if len(seen) == 3:
            if kind == "system":  # what a SIGINT inside a numba kernel looks like
                try:
                    raise KeyboardInterrupt
                except KeyboardInterrupt:
                    raise SystemError("CPUDispatcher(<function k>) returned a result with an exception set")
            raise KeyboardInterrupt
        seen.append(v)
        return {"x": float(v), "x_se": 0.0}

    return stop


@pytest.mark.parametrize("kind", ["plain", "system"])
def test_interrupt_is_plain_and_says_what_was_saved(tmp_path, kind, capsys):
    register_simulation("test-stop2", _stopper(kind), parameters=("v",), overwrite=True)
    path = tmp_path / "i.parquet"
    with pytest.raises(KeyboardInterrupt) as info:
        sweep("test-stop2", {"v": list(range(6))}, n_sims=1, checkpoint=path, progress=False)
    exc = info.value
    assert type(exc) is KeyboardInterrupt and exc.__cause__ is None and exc.__suppress_context__
    assert (exc.saved, exc.total, exc.checkpoint) == (3, 6, str(path))
    assert f"3/6 points saved to {path}; rerun the same sweep" in str(exc)
    assert f"seed {exc.seed} (none was given)" in str(exc)
    # rerunning resumes from the saved points with the stored seed
    register_simulation("test-stop2", lambda *, rng, n_sims, v: {"x": float(v), "x_se": 0.0}, parameters=("v",),
                        overwrite=True)
    table = sweep("test-stop2", {"v": list(range(6))}, n_sims=1, checkpoint=path, progress=False)
    assert f"resuming 3/6 points from {path}" in capsys.readouterr().err
    assert table["x"].tolist() == list(range(6)) and table.attrs["seed"] == exc.seed


def test_interrupt_without_checkpoint_says_nothing_was_saved():
    register_simulation("test-stop3", _stopper("plain"), parameters=("v",), overwrite=True)
    with pytest.raises(KeyboardInterrupt, match=r"after 3/6 points; nothing saved \(pass `checkpoint`"):
        sweep("test-stop3", {"v": list(range(6))}, n_sims=1, rng=1, progress=False)


def test_seed_is_recorded_and_progress_none_is_quiet_off_a_terminal(capsys):
    table = sweep("test-coin", GRID, n_sims=100, rng=None)
    seed = table.attrs["seed"]
    again = sweep("test-coin", GRID, n_sims=100, rng=seed, progress=False)
    assert_frame_equal(numbers(table), numbers(again))
    assert capsys.readouterr().err == ""  # progress=None: no bar when stderr is not a terminal


def test_interrupt_while_points_are_validated_is_plain_too():
    def refuse(**params):
        raise KeyboardInterrupt

    register_simulation("test-stop4", lambda *, rng, n_sims, v: {"x": 1.0, "x_se": 0.0}, parameters=("v",),
                        validate=refuse, overwrite=True)
    with pytest.raises(KeyboardInterrupt, match=r"after 0/2 points; nothing saved") as info:
        sweep("test-stop4", {"v": [1, 2]}, n_sims=1, rng=1, progress=False)
    assert info.value.__cause__ is None and info.value.total == 2
