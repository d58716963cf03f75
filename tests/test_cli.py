"""The command line: info, demo, bench; and a light `import simengine`."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from _child import default_sigint
from simengine import _bench, _compile, cli


def run_cli(*args, check=True):
    out = subprocess.run([sys.executable, "-m", "simengine", *args], capture_output=True, text=True)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_import_is_light_and_compiles_nothing():
    code = (
        "import sys, json, numba, simengine\n"
        "# numba itself imports the top-level scipy package; the heavy parts must stay out\n"
        "heavy = [m for m in ('scipy.stats', 'scipy.optimize', 'pandas', 'statsmodels', 'matplotlib', 'dask') if m in sys.modules]\n"
        "compiled = [f'{name}.{attr}' for name, mod in list(sys.modules.items()) if name.startswith('simengine')\n"
        "            for attr, obj in vars(mod).items()\n"
        "            if isinstance(obj, numba.core.registry.CPUDispatcher) and obj.signatures]\n"
        "print(json.dumps({'heavy': heavy, 'compiled': compiled}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report == {"heavy": [], "compiled": []}


def test_version_and_module_entry_point():
    import simengine

    assert run_cli("--version").stdout.strip() == simengine.__version__


def test_no_subcommand_prints_help_and_exits_2():
    out = run_cli(check=False)
    assert out.returncode == 2
    assert "info" in out.stdout and "demo" in out.stdout and "bench" in out.stdout


def test_info_reports_environment(capsys):
    assert cli.main(["info"]) == 0
    text = capsys.readouterr().out
    for key in ("numba threads", "threading layer", "cache directory", "numpy"):
        assert key in text


def test_info_compile_table(monkeypatch, capsys):
    # the table and totals, with the child processes stubbed (the real timing is the next test)
    calls = []

    def fake(kind, name, family):
        calls.append((kind, name))
        return {"kind": kind, "name": name, "family": family, "empty cache s": 2.0, "empty cache cpu s": 1.0,
                "warm cache s": 0.5, "warm cache cpu s": 0.25, "import s": 0.1}

    monkeypatch.setattr(_compile, "_measure", fake)
    monkeypatch.setattr(_compile, "FAMILIES", {"rng blocks": None, "bayes": None})
    monkeypatch.setattr(_compile, "FUNCTIONS", {"bayes": {"bayes_ab (exact)": None}})
    monkeypatch.setattr(_compile, "EXAMPLES", {"README example": None})
    assert cli.main(["info", "--compile", "--no-progress"]) == 0
    assert calls == [("family", "rng blocks"), ("family", "bayes"), ("function", "bayes_ab (exact)"),
                     ("example", "README example")]
    text = capsys.readouterr().out
    for column in ("empty cache s", "empty cache cpu s", "warm cache s", "warm cache cpu s", "import s"):
        assert column in text
    assert "all families, empty cache: 4.0 s wall, 2.0 s CPU" in text
    calls.clear()
    assert cli.main(["info", "--compile", "--only", "bayes", "--no-progress"]) == 0
    assert calls[:2] == [("family", "bayes"), ("function", "bayes_ab (exact)")]


def test_info_compile_keeps_measuring_past_a_broken_warm_up(monkeypatch, capsys):
    def fail(kind, name, cache_dir):
        raise RuntimeError(f"timing {name!r} failed in its child process: TypeError: boom")

    monkeypatch.setattr(_compile, "_time_in_subprocess", fail)
    monkeypatch.setattr(_compile, "FAMILIES", {"rng blocks": None, "bayes": None})
    monkeypatch.setattr(_compile, "FUNCTIONS", {})
    monkeypatch.setattr(_compile, "EXAMPLES", {})
    assert cli.main(["info", "--compile", "--no-progress"]) == 1
    text = capsys.readouterr().out
    assert "rng blocks: timing 'rng blocks' failed" in text and "bayes: timing 'bayes' failed" in text


def test_first_call_is_timed_in_fresh_processes():
    row = _compile._measure("function", "kernels.special.norm_cdf", "special functions")  # compiles in ~0.3 s
    assert row["empty cache cpu s"] > 0 and row["warm cache cpu s"] > 0 and 0 < row["import s"] < 30
    assert row["empty cache s"] > 0 and row["warm cache s"] > 0


def test_compile_fills_the_cache_directory(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-m", "simengine", "compile", "--only", "rng blocks"],
                         check=False, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"compiling into {cache}" in out.stdout
    assert re.search(r"rng blocks: [0-9.]+ s \([0-9.]+ s CPU\)", out.stdout)
    assert list(cache.rglob("*.nbi")) and list(cache.rglob("*.nbc"))  # index and compiled code



def test_compile_refuses_unknown_families(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["compile", "--only", "nope"])
    assert exc.value.code == 2 and "unknown name(s) for --only: nope" in capsys.readouterr().err


def test_fill_cache_reports_a_failing_family(monkeypatch):
    # a family whose process fails is reported with its last error line; the others still run
    monkeypatch.setattr(_compile, "FAMILIES", {"rng blocks": None, "missing": None})
    rows = _compile.fill_cache(["missing"], workers=1)
    assert rows[0]["family"] == "missing" and "KeyError" in rows[0]["error"]
    with pytest.raises(ValueError, match="unknown family"):
        _compile.fill_cache(["nope"])


def test_demo_runs_every_section_quickly(capsys):
    assert cli.main(["demo", "--quick", "--no-progress"]) == 0
    text = capsys.readouterr().out
    from simengine._demo import SECTIONS

    for name, _ in SECTIONS:
        assert f"({name}:" in text


def test_bench_table_has_ratios(monkeypatch, capsys):
    calls = []

    def make(quick):
        return {
            "naive": lambda: calls.append("naive") or sum(range(20000)),
            "simengine": lambda: calls.append("simengine") or 1,
        }

    monkeypatch.setattr(_bench, "TASKS", [_bench.BenchTask("toy sum", "toy", make)])
    table = _bench.run_tasks(_bench.TASKS, quick=True, progress=False)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["task", "naive s", "simengine s", "speed-up vs naive"]
    assert table["speed-up vs naive"].iloc[0] == pytest.approx(table["naive s"].iloc[0] / table["simengine s"].iloc[0])
    assert "naive" in calls and "simengine" in calls
    assert cli.main(["bench", "--quick", "--no-progress"]) == 0
    assert "toy sum" in capsys.readouterr().out


def test_cli_iv():
    out = run_cli("demo", "--only", "nonsense", check=False)
    assert out.returncode == 2
    assert "unknown name(s) for --only: nonsense" in out.stderr
    out = run_cli("frobnicate", check=False)
    assert out.returncode == 2
    out = run_cli("demo", "--seed", "abc", check=False)
    assert out.returncode == 2 and "--seed" in out.stderr


def test_readme_commands_match_ci_and_examples():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    blocks = re.findall(r"```bash\n(.*?)```", (root / "README.md").read_text(), re.S)
    main_job, test_cmd = blocks[0].strip(), blocks[1].strip()
    # both set-up commands make and use a virtual environment (a Debian system Python refuses pip)
    venv = "python3 -m venv .venv && .venv/bin/python -m pip install "
    assert main_job.startswith(venv + '".[all]" && .venv/bin/python -m simengine sweep --example ')
    assert test_cmd.startswith(venv + '-e ".[test]" && .venv/bin/python -m pytest ')
    example = main_job.split(" --example ")[1].split()[0]
    assert (root / "examples" / f"{example}.toml").is_file()
    ci = (root / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci  # .ci/run runs the README's test command verbatim


def test_examples_lists_and_prints_the_shipped_specs(capsys):
    root = Path(__file__).resolve().parent.parent
    assert cli.main(["examples"]) == 0
    listing = capsys.readouterr().out
    for path in sorted((root / "examples").glob("*.toml")):
        assert re.search(rf"^  {path.stem} +\S", listing, re.MULTILINE), listing
    assert "simengine sweep --example NAME" in listing
    assert cli.main(["examples", "peeking"]) == 0
    assert capsys.readouterr().out == (root / "examples" / "peeking.toml").read_text()
    assert cli.main(["examples", "peking"]) == 2
    err = capsys.readouterr().err
    assert "no example spec named 'peking'; choose from bootstrap_coverage, capacity, coverage, drift, peeking, power, precision" in err


def test_sweep_example_runs_a_shipped_spec(capsys, monkeypatch):
    from simengine import _sweep

    calls = []

    def fake_sweep(**kwargs):  # the spec as the sweep would get it; stop there (running it is the README test's)
        calls.append(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(_sweep, "sweep", fake_sweep)
    assert cli.main(["sweep", "--example", "precision", "--no-progress"]) == 130
    (kwargs,) = calls
    assert kwargs["simulation"] == "power" and kwargs["grid"] == {"n": [5, 10, 20, 30, 50, 75, 100]}
    assert (kwargs["n_sims"], kwargs["rng"], kwargs["target_se"], kwargs["max_sims"]) == (1000, 2026, 0.005, 20000)
    capsys.readouterr()
    assert cli.main(["sweep", "--example", "nope", "--no-progress"]) == 2
    assert "no example spec named 'nope'" in capsys.readouterr().err
    assert cli.main(["sweep", "spec.toml", "--example", "power", "--no-progress"]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize("flags, module, extra", [
    (["-o", "r.parquet"], "pyarrow", "parquet"),
    (["--plot", "p.png"], "matplotlib", "plot"),
    (["--backend", "dask"], "distributed", "dask"),
])
def test_sweep_missing_optional_package_is_one_line_before_any_work(flags, module, extra, tmp_path, capsys,
                                                                    monkeypatch):
    from simengine import _sweep

    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")] + [module]:
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if the package were not installed
    ran = []
    monkeypatch.setattr(_sweep, "_sweep", lambda *a, **k: ran.append(1))
    monkeypatch.chdir(tmp_path)
    # the spec does not even exist: the missing package is named before the spec is read
    assert cli.main(["sweep", "missing.toml", *flags, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{flags[0]}" in err and f"needs {module}, which is not installed" in err
    assert f'python -m pip install "numba-simengine[{extra}]"' in err
    assert ran == [] and list(tmp_path.iterdir()) == []


def test_bench_skips_a_missing_comparison_library_with_a_note(monkeypatch, capsys):
    for name in [m for m in sys.modules if m.startswith("statsmodels.")] + ["statsmodels"]:
        monkeypatch.setitem(sys.modules, name, None)
    tasks = [t for t in _bench.TASKS if t.name.startswith("Clopper-Pearson")]
    monkeypatch.setattr(_bench, "TASKS", tasks)
    table = _bench.run_tasks(tasks, quick=True, progress=False)
    assert "statsmodels s" not in table.columns and table["naive s"].isna().all()
    assert table["simengine s"].iloc[0] > 0
    assert len(table.attrs["notes"]) == 2 and all("statsmodels is not installed" in n for n in table.attrs["notes"])
    assert cli.main(["bench", "--quick", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "note: Clopper-Pearson" in out and "'statsmodels' column skipped" in out
    assert 'numba-simengine[compare]' in out


def test_benchmark_suite_is_collected_from_its_folder():
    # the README runs `python3 -m pytest benchmarks/`; bench_*.py must be collected from the folder
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "benchmarks/"], cwd=root,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    families = {line.split("::")[0] for line in out.stdout.splitlines() if "::" in line}
    assert len(families) >= 6, families


def test_sweep_output_path_errors_exit_2_before_any_work(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text('simulation = "coverage"\nn_sims = 100\nseed = 1\n[grid]\nn = [10]\n[fixed]\np = 0.5\n')
    # `-o /tmp` used to scan the folder as Parquet; a missing folder failed only after the first point
    assert cli.main(["sweep", str(spec), "-o", str(tmp_path), "--no-progress"]) == 2
    assert "is a directory; give a file path" in capsys.readouterr().err
    assert cli.main(["sweep", str(spec), "-o", str(tmp_path / "no" / "r.parquet"), "--no-progress"]) == 2
    assert "does not exist; create it or choose another path" in capsys.readouterr().err
    bad = tmp_path / "r.parquet"
    bad.write_bytes(b"PAR1 truncated")
    assert cli.main(["sweep", str(spec), "-o", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is not a readable Parquet file" in err and "delete it" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.parquet", "spec.toml"]


def test_sweep_dask_without_workers_uses_every_local_core(tmp_path, monkeypatch):
    import os

    from simengine import _sweep

    asked = []

    def fake_cluster(n_workers):
        asked.append(n_workers)
        raise RuntimeError("no cluster in this test")

    monkeypatch.setattr(_sweep, "_local_cluster", fake_cluster)
    spec = tmp_path / "spec.toml"
    spec.write_text('simulation = "bayes_ab"\nn_sims = 100\nseed = 1\n[grid]\nsuccesses_a = [3]\n'
                    '[fixed]\ntrials_a = 10\nsuccesses_b = 4\ntrials_b = 10\n')
    with pytest.raises(RuntimeError, match="no cluster in this test"):
        cli.main(["sweep", str(spec), "--backend", "dask", "--no-progress"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert asked == [cores]


# ---------------------------------------------------------------- sweep: precision, messages, interrupts

HERE = Path(__file__).resolve().parent
COIN = 'simulation = "test-coin"\nn_sims = 1000\n[grid]\np = [0.01, 0.1, 0.5]\n'


def _register_test_sims():
    sys.path.insert(0, str(HERE))
    import _sweep_fault_sims  # noqa: F401
    import _sweep_sims  # noqa: F401


def test_sweep_target_se_from_spec_and_flag_and_the_printed_summary(tmp_path, capsys):
    from simengine import sweep

    _register_test_sims()
    spec = tmp_path / "coin.toml"
    spec.write_text("target_se = 0.006\nseed = 3\n" + COIN)
    assert cli.main(["sweep", str(spec), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "1000 to 100000 simulations per point, until every SE <= 0.006" in text
    assert "target_se 0.006 met at 3/3 points" in text and "target_met" in text
    # wall time and summed compute time are told apart
    assert re.search(r"3 points: wall [\d.]+ s; compute summed over points [\d.]+ s \(column `seconds`", text)
    assert "seed" not in text  # the spec has one
    expected = sweep("test-coin", {"p": [0.01, 0.1, 0.5]}, n_sims=1000, target_se=0.006, rng=3, progress=False)
    for n in expected["n_sims"]:
        assert re.search(rf"\b{n}\b", text)
    # the flags override the spec; a bad flag is refused naming it, before any work
    assert cli.main(["sweep", str(spec), "--no-progress", "--target-se", "0.02", "--max-sims", "1000"]) == 0
    assert "met at 3/3 points; 3,000 simulations in all" in capsys.readouterr().out
    assert cli.main(["sweep", str(spec), "--no-progress", "--max-sims", "10"]) == 2
    assert "`max_sims` (--max-sims) must be at least `n_sims` (1000); got 10" in capsys.readouterr().err
    spec.write_text("max_sims = 5000\n" + COIN)
    assert cli.main(["sweep", str(spec), "--no-progress"]) == 2
    assert "`max_sims` is only used with `target_se`" in capsys.readouterr().err
    spec.write_text("target_se = 0\n" + COIN)
    assert cli.main(["sweep", str(spec), "--no-progress"]) == 2
    assert "`target_se` must be a number > 0; got 0" in capsys.readouterr().err


def test_sweep_without_seed_prints_the_seed_that_repeats_it(tmp_path, capsys):
    _register_test_sims()
    spec = tmp_path / "coin.toml"
    spec.write_text(COIN)
    assert cli.main(["sweep", str(spec), "--no-progress"]) == 0
    first = capsys.readouterr().out
    seed = int(re.search(r"seed (\d+) \(the spec has none; add `seed = \1` to repeat\)", first).group(1))
    spec.write_text(f"seed = {seed}\n" + COIN)
    assert cli.main(["sweep", str(spec), "--no-progress"]) == 0
    table = lambda text: text.split("==", 2)[-1].split("\n(")[0]  # noqa: E731
    assert table(capsys.readouterr().out) == table(first)


def test_sweep_plot_names_are_checked_before_any_work(tmp_path, capsys, monkeypatch):
    from simengine import _sweep

    _register_test_sims()
    ran = []
    monkeypatch.setattr(_sweep, "_sweep", lambda *a, **k: ran.append(1))
    spec = tmp_path / "s.toml"
    # a declared result class: names known without running anything
    spec.write_text('simulation = "power"\nn_sims = 100000000\nplot = ["powr"]\n[grid]\nn = [10, 20]\n'
                    '[fixed]\neffect_size = 0.5\n')
    assert cli.main(["sweep", str(spec), "--no-progress", "--plot", str(tmp_path / "x.png")]) == 2
    assert re.search(r"unknown estimate\(s\) \['powr'\]; this simulation gives: power", capsys.readouterr().err)
    # a function returning a dict: one replicate at the first point tells
    spec.write_text('simulation = "test-coin"\nn_sims = 1000\nplot = ["rat"]\n[grid]\np = [0.1]\n')
    assert cli.main(["sweep", str(spec), "--no-progress", "--plot", str(tmp_path / "x.png")]) == 2
    assert "unknown estimate(s) ['rat']; this simulation gives: rate" in capsys.readouterr().err
    assert ran == []


def _cli_process(spec, out, delay):
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import _sweep_fault_sims as m; m.DELAY = {delay}; "
            f"from simengine.cli import main; raise SystemExit(main(['sweep', {str(spec)!r}, '-o', {str(out)!r}]))")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)


def test_sigint_saves_says_so_exits_130_and_the_rerun_resumes_to_the_same_table(tmp_path):
    import signal
    import time

    from pandas.testing import assert_frame_equal

    from simengine import sweep

    _register_test_sims()
    spec, out = tmp_path / "tick.toml", tmp_path / "tick.parquet"
    grid = {"p": [0.2, 0.6], "v": list(range(60))}
    spec.write_text(f'simulation = "test-tick"\nn_sims = 50\n[grid]\np = {grid["p"]}\nv = {grid["v"]}\n')
    proc = _cli_process(spec, out, 0.05)  # 120 points of 50 ms: 6 s uninterrupted
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:  # the first batch is written after ~1 s
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 1.0, stderr
    assert proc.returncode == 130, stderr
    saved = re.search(rf"interrupted: (\d+)/120 points saved to {re.escape(str(out))}; rerun the same command to "
                      r"resume", stderr)
    assert saved and "Traceback" not in stderr and stdout == "", stderr
    seed = int(re.search(r"seed (\d+) \(the spec has none\)", stderr).group(1))
    n_saved = int(saved.group(1))
    assert 0 < n_saved < 120 and len(pd.read_parquet(out)) == n_saved

    rerun = _cli_process(spec, out, 0.0)
    stdout, stderr = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, stderr
    assert f"resuming {n_saved}/120 points from {out}" in stderr
    assert f"seed {seed} (the spec has none" in stdout
    clean = sweep("test-tick", grid, n_sims=50, rng=seed, progress=False)
    assert_frame_equal(pd.read_parquet(out).drop(columns="seconds"), clean.drop(columns="seconds"))


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sweep_on_a_dask_cluster_started_with_the_dask_command_line(tmp_path):
    """The README recipe: `dask scheduler`, `dask worker ADDRESS`, then `simengine sweep --scheduler ADDRESS`."""
    import os
    import shutil
    import socket
    import time

    from pandas.testing import assert_frame_equal

    from simengine import sweep

    dask_cli = shutil.which("dask", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    # the [test] extras install dask and distributed, whose `dask` command this recipe documents
    assert dask_cli is not None, "the `dask` command line is missing: pip install -e '.[test]'"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    root = str(HERE.parent)
    # the worker imports simengine and the test simulations (a pure-NumPy coin: no kernel to compile)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, str(HERE), os.environ.get("PYTHONPATH", "")]))
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    spec, out = tmp_path / "coin.toml", tmp_path / "coin.parquet"
    spec.write_text('simulation = "test-coin"\nn_sims = 10000\nseed = 1\n[grid]\np = [0.1, 0.5]\n')
    # the scheduler first (a client or worker that finds no scheduler backs off for seconds), then the worker and
    # the CLI together; --no-nanny: one worker process, quicker to start and stop (the README recipe keeps it)
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              **quiet)]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and procs[0].poll() is None, "the dask scheduler did not start"
                time.sleep(0.05)
        procs.append(subprocess.Popen([dask_cli, "worker", address, "--nthreads", "1", "--no-nanny",
                                       "--no-dashboard"], **quiet))
        command = ["sweep", str(spec), "--backend", "dask", "--scheduler", address, "-o", str(out), "--no-progress"]
        code = f"import _sweep_sims; from simengine.cli import main; raise SystemExit(main({command!r}))"
        run = subprocess.run([sys.executable, "-c", code],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert run.returncode == 0, run.stderr
        assert re.search(r"2 points: wall [\d.]+ s; .*dask, 1 workers, 1 task slots\)", run.stdout), run.stdout
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    _register_test_sims()
    local = sweep("test-coin", {"p": [0.1, 0.5]}, n_sims=10000, rng=1, progress=False)
    assert_frame_equal(pd.read_parquet(out).drop(columns="seconds"), local.drop(columns="seconds"))


def test_sweep_scheduler_that_does_not_answer_exits_2_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "SCHEDULER_WAIT", 1)
    spec = tmp_path / "coin.toml"
    spec.write_text('simulation = "bayes_ab"\nn_sims = 100\nseed = 1\n[grid]\nsuccesses_a = [3]\n'
                    '[fixed]\ntrials_a = 10\nsuccesses_b = 4\ntrials_b = 10\n')
    address = f"tcp://127.0.0.1:{_free_port()}"
    assert cli.main(["sweep", str(spec), "--backend", "dask", "--scheduler", address, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler {address} within 1 s" in err and "dask scheduler" in err


def _peeking_like_table():
    rows = []
    for boundary in ["obrien-fleming", "none", "pocock"]:  # not the spec's order: the legend must follow the spec
        for n_looks in [1, 2, 5]:
            rows.append({"n_looks": n_looks, "boundary": boundary, "rejected_any_look": 0.05,  # all lines coincide
                         "rejected_any_look_se": 0.004, "n_sims": 2000, "seconds": 0.01})
    table = pd.DataFrame(rows)
    table.attrs["seed"] = 7
    return table


def test_sweep_figure_reads_like_a_figure_in_a_paper():
    import matplotlib.pyplot as plt

    from simengine._plot import sweep_figure

    grid = {"n_looks": [1, 2, 5], "boundary": ["none", "pocock", "obrien-fleming"]}
    fig = sweep_figure(_peeking_like_table(), grid, title="A/A", fixed={"total_visitors": 1400, "alpha": 0.05},
                       simulation="peeking")
    try:
        (ax,) = fig.axes
        assert ax.get_ylabel() == "P(reject at any look)" and ax.get_xlabel() == "number of looks"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "5"]  # integer ticks at the values
        legend = ax.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == ["no boundary", "Pocock", "O'Brien-Fleming",
                                                              "nominal alpha = 0.05"]
        assert legend.get_title().get_text() == "boundary"
        ref = [line for line in ax.get_lines() if line.get_label() == "nominal alpha = 0.05"]
        assert len(ref) == 1 and list(ref[0].get_ydata()) == [0.05, 0.05]
        # the three lines have equal values: distinct markers and small sideways shifts keep each visible
        data = [container.lines[0] for container in ax.containers]  # each errorbar's data line
        assert [c.get_label() for c in ax.containers] == ["no boundary", "Pocock", "O'Brien-Fleming"]
        assert len({line.get_marker() for line in data}) == 3
        xs = [tuple(line.get_xdata()) for line in data]
        assert len(set(xs)) == 3 and all(abs(a - b) < 0.2 for x in xs for a, b in zip(x, (1, 2, 5)))
        caption = " ".join(t.get_text() for t in fig.texts)
        assert "2,000 simulations per point" in caption and "seed 7" in caption and "1.96 SE" in caption
        assert "total_visitors = 1400" in caption
        assert fig._suptitle.get_text() == "A/A"
    finally:
        plt.close(fig)


def test_sweep_figure_reference_lines_and_log_axis_for_crowded_values():
    import matplotlib.pyplot as plt

    from simengine._plot import sweep_figure

    n = [10, 20, 30, 50, 100, 200, 500]
    table = pd.DataFrame({"n": n, "coverage": 0.95, "coverage_se": 0.001, "power": 0.5, "power_se": 0.01,
                          "n_sims": [1000, 2000, 3000, 1000, 1000, 1000, 1000]})
    fig = sweep_figure(table, ["n"], fixed={"alpha": 0.1}, seed=3, target_se=0.01)
    try:
        cov, power = fig.axes
        assert cov.get_xscale() == "log" and [t.get_text() for t in cov.get_xticklabels()] == list(map(str, n))
        assert [t.get_text() for t in cov.get_legend().get_texts()] == ["nominal 90%"]
        assert [t.get_text() for t in power.get_legend().get_texts()] == ["target power 0.8"]
        assert power.get_ylabel() == "power: P(reject)" and cov.get_xlabel() == "sample size n"
        caption = " ".join(t.get_text() for t in fig.texts)
        assert "1,000 to 3,000 simulations per point (until every SE <= 0.01)" in caption
    finally:
        plt.close(fig)
