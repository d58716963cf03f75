"""The registered simulations behind `sweep`: their estimates, validation, examples and reproducibility."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pandas.testing import assert_frame_equal

import simengine
from _subproc import run_with_threads
from simengine._spec import load_spec
from simengine._sweep import SpecError, sweep

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
BUILTINS = ("peeking", "bayes_peeking", "power", "multiple_testing", "coverage", "drift_detection", "bayes_ab")


def numbers(frame):
    return frame.drop(columns=["seconds"]).reset_index(drop=True)


def within(est, se, target, k=4.0):
    return abs(est - target) <= k * se + 1e-12


def test_every_builtin_is_registered_with_a_description():
    registry = simengine.simulations()
    for name in BUILTINS:
        assert name in registry
        assert registry[name].description
        assert registry[name].validate is not None


# ---------------------------------------------------------------- estimates


def test_peeking_corrections_hold_alpha_and_none_inflates_it():
    t = sweep("peeking", {"boundary": ["none", "pocock", "obrien-fleming"]}, n_sims=40_000, rng=3,
              fixed={"n_looks": 10, "total_visitors": 1000}, progress=False).set_index("boundary")
    m = sweep("peeking", {"test": ["msprt"]}, n_sims=40_000, rng=3,
              fixed={"n_looks": 10, "total_visitors": 1000}, progress=False).set_index("test")
    t.loc["msprt"] = m.loc["msprt"]
    for c in ("pocock", "obrien-fleming"):
        assert within(t.loc[c, "rejected_any_look"], t.loc[c, "rejected_any_look_se"], 0.05)
    # Armitage et al.: ten looks at nominal 5% give an any-look rate near 0.19 (normal theory 0.193)
    assert within(t.loc["none", "rejected_any_look"], t.loc["none", "rejected_any_look_se"], 0.193, k=5)
    assert t.loc["msprt", "rejected_any_look"] < 0.05  # always valid: below alpha at any number of looks
    assert (t["rejected_final_se"] > 0).all()


def test_peeking_total_visitors_splits_the_sample_exactly():
    a = sweep("peeking", {"n_looks": [3]}, fixed={"total_visitors": 10, "lift": 0.2}, n_sims=3000, rng=4,
              progress=False)
    b = sweep("peeking", {"n_looks": [3]}, fixed={"visitors_per_look": [3, 4, 3], "lift": 0.2}, n_sims=3000,
              rng=4, progress=False)
    # same design, but the parameters (and therefore the point's stream) differ: compare statistically
    assert abs(a["rejected_any_look"][0] - b["rejected_any_look"][0]) < 5 * np.hypot(
        a["rejected_any_look_se"][0], b["rejected_any_look_se"][0])
    one = sweep("peeking", {"n_looks": [1]}, fixed={"total_visitors": 10}, n_sims=100, rng=4, progress=False)
    assert one["expected_visitors_per_arm"][0] == 10


def test_builtins_are_the_public_functions_themselves():
    # no adapters (issue 13): each built-in name runs the public simulation function
    registry = simengine.simulations()
    for name, func in [("peeking", simengine.simulate_peeking), ("bayes_peeking", simengine.simulate_bayes_peeking),
                       ("power", simengine.simulate_power), ("coverage", simengine.simulate_coverage),
                       ("multiple_testing", simengine.simulate_multiple_testing),
                       ("drift_detection", simengine.simulate_drift_detection), ("bayes_ab", simengine.bayes_ab)]:
        assert registry[name].func is func
        assert registry[name].result is not None


def test_power_sweep_matches_noncentral_t():
    t = sweep("power", {"n": [20, 64]}, fixed={"effect_size": 0.5}, n_sims=20_000, rng=5, progress=False)
    for n, est, se in zip(t["n"], t["power"], t["power_se"]):
        assert within(est, se, simengine.power_ttest(effect_size=0.5, n=n).power)


def test_coverage_sweep_agrees_with_exact_coverage():
    t = sweep("coverage", {"methods": ["normal", "wilson", "beta"]}, fixed={"p": 0.05, "n": 40}, n_sims=50_000,
              rng=6, progress=False)
    for est, se, exact in zip(t["coverage"], t["coverage_se"], t["exact_coverage"]):
        assert within(est, se, exact)
    assert (t["exact_coverage_se"] == 0).all()


def test_bayes_ab_sweep_exact_and_monte_carlo_agree():
    t = sweep("bayes_ab", {"method": ["exact", "mc"]}, n_sims=200_000, rng=7, progress=False,
              fixed=dict(successes_a=40, trials_a=400, successes_b=55, trials_b=400)).set_index("method")
    ex, mc = t.loc["exact"], t.loc["mc"]
    assert ex["prob_b_better_se"] == 0
    for key in ("prob_b_better", "expected_loss_a", "expected_loss_b"):
        assert within(mc[key], mc[f"{key}_se"], ex[key])


def test_bayes_peeking_and_multiple_testing_sweeps():
    t = sweep("bayes_peeking", {"n_looks": [1, 8]}, fixed=dict(visitors_per_look=200, rate=0.1, prior=[1, 1]),
              n_sims=20_000, rng=8, progress=False)
    # one look: declaring when P(B > A) > 0.95 is a one-sided 5% rule; peeking at 8 looks inflates it
    assert within(t["prob_declare_peeking"][0], t["prob_declare_peeking_se"][0], 0.05)
    assert t["prob_declare_peeking"][1] > t["prob_declare_final"][1] + 5 * t["prob_declare_peeking_se"][1]
    m = sweep("multiple_testing", {"methods": ["none", "bonferroni"]}, n_sims=20_000, rng=9, progress=False,
              fixed=dict(n_tests=10, n_true=0, effect_size=0.5, n_per_group=20)).set_index("methods")
    # all nulls true: FWER of uncorrected tests is 1 - 0.95**10, Bonferroni's at most alpha
    assert within(m.loc["none", "fwer"], m.loc["none", "fwer_se"], 1 - 0.95**10)
    assert m.loc["bonferroni", "fwer"] <= 0.05 + 4 * m.loc["bonferroni", "fwer_se"]


def test_drift_sweep_shares_drift_end_between_sudden_and_gradual():
    t = sweep("drift_detection", {"drift": ["sudden", "gradual"], "detector": ["ddm", "adwin"]}, n_sims=500, rng=10,
              fixed=dict(n_steps=600, drift_start=300, drift_end=450, error_after=0.5), progress=False)
    assert (t["detection_rate"] > 0.9).all()
    sudden = t[t["drift"] == "sudden"].set_index("detector")["delay_mean"]
    gradual = t[t["drift"] == "gradual"].set_index("detector")["delay_mean"]
    assert (gradual > sudden).all()  # a ramp is found later than a jump
    # a sudden drift ignores drift_end: the same numbers as without it
    a = simengine.simulate_drift_detection(detector="adwin", drift="sudden", n_sims=300, n_steps=600,
                                           drift_start=300, error_after=0.5, delta=0.01, rng=2)
    b = simengine.simulate_drift_detection(detector="adwin", drift="sudden", n_sims=300, n_steps=600,
                                           drift_start=300, drift_end=450, error_after=0.5, delta=0.01, rng=2)
    assert a.delay_mean == b.delay_mean and a.detection_rate == b.detection_rate


# ---------------------------------------------------------------- validation before anything runs


@pytest.mark.parametrize(
    "sim, grid, fixed, message",
    [
        ("peeking", {"n_looks": [2, 0]}, {}, r"grid point \(n_looks=0\).*`n_looks`"),
        ("peeking", {"boundary": ["none", "bonferroni"]}, {}, "`boundary`"),
        ("peeking", {"n_looks": [2]}, {"total_visitors": 100, "visitors_per_look": 50}, "`total_visitors`"),
        ("power", {"n": [20, 1]}, {"effect_size": 0.5, "test": "t"}, "`n`"),
        ("power", {"test": ["t", "bootstrap"]}, {"effect_size": 0.5, "n": 20}, "`test`"),
        ("coverage", {"methods": ["wilson", "wald"]}, {"p": 0.1, "n": 20}, "`method"),
        ("coverage", {"n": [10, 20]}, {"p": 0.1}, "'coverage' has 5 values at one grid point.*one value per point"),
        ("drift_detection", {"detector": ["ddm"]}, {"delta": 0.01}, "delta"),
        ("multiple_testing", {"methods": ["holm", "magic"]}, {"effect_size": 0.5, "n_per_group": 10}, "method"),
    ],
)
def test_bad_point_fails_before_any_point_runs(tmp_path, sim, grid, fixed, message):
    path = tmp_path / "c.parquet"
    with pytest.raises(SpecError, match=message):
        sweep(sim, grid, fixed=fixed, n_sims=100, rng=1, checkpoint=path, progress=False)
    assert not path.exists()  # nothing ran, nothing was written


def test_unknown_parameter_of_a_builtin_lists_the_allowed_ones():
    with pytest.raises(SpecError, match=r"unknown parameter\(s\) \['looks'\].*allowed: n_looks"):
        sweep("peeking", {"looks": [1, 2]}, n_sims=10, rng=1, progress=False)


# ---------------------------------------------------------------- reproducibility


THREAD_CODE = """
import simengine
t = simengine.sweep("peeking", {"n_looks": [2, 5], "test": ["t", "msprt"]}, n_sims=30_000, rng=11,
                    fixed={"visitors_per_look": 40, "lift": 0.02}, progress=False)
t2 = simengine.sweep("drift_detection", {"detector": ["ddm", "adwin"]}, n_sims=300, rng=11,
                     fixed={"n_steps": 400, "drift_start": 200}, progress=False)
result = (t.drop(columns=["seconds"]), t2.drop(columns=["seconds"]))
"""


def test_builtin_sweeps_are_identical_on_one_and_two_threads():
    one = run_with_threads(THREAD_CODE, 1)
    two = run_with_threads(THREAD_CODE, 2)
    for a, b in zip(one, two):
        assert_frame_equal(a, b)


# ---------------------------------------------------------------- examples and CLI


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_validate_and_run_small(path):
    spec = load_spec(path)
    spec.pop("title")
    estimates = spec.pop("plot")
    spec["n_sims"] = 200  # the examples' own n_sims give the README's figures; here only that they run
    if spec["target_se"] is not None:
        spec["target_se"] = 0.03
    table = sweep(**spec, progress=False)
    if spec["target_se"] is not None:
        assert table["target_met"].all() and (table[[c for c in table if c.endswith("_se")]] <= 0.03).all().all()
    assert len(table) == int(np.prod([len(v) for v in spec["grid"].values()]))
    for e in estimates or ():
        assert f"{e}_se" in table.columns


def test_four_examples_exist():
    assert {p.stem for p in EXAMPLES} >= {"peeking", "power", "coverage", "drift"}


def test_cli_plot_key_errors(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('simulation = "coverage"\nn_sims = 100\nplot = "coverage"\n[grid]\nn = [10]\n[fixed]\np = 0.5\n')
    out = subprocess.run([sys.executable, "-m", "simengine", "sweep", str(spec), "--no-progress"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "`plot` must be a non-empty list" in out.stderr
    spec.write_text('simulation = "coverage"\nn_sims = 100\nplot = ["covrage"]\n[grid]\nn = [10]\n[fixed]\np = 0.5\n'
                    'methods = "wilson"\n')
    out = subprocess.run([sys.executable, "-m", "simengine", "sweep", str(spec), "--no-progress", "--plot",
                          str(tmp_path / "x.png")], capture_output=True, text=True)
    assert out.returncode == 2 and re.search(r"unknown estimate\(s\) \['covrage'\].*coverage", out.stderr)


def test_main_job_command_writes_the_peeking_plot(tmp_path):
    png = tmp_path / "peeking.png"
    out = subprocess.run([sys.executable, "-m", "simengine", "sweep", str(ROOT / "examples" / "peeking.toml"),
                          "--plot", str(png), "--no-progress"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "A/A false-positive rate vs number of looks" in out.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the printed table has all 21 design points
    assert len(re.findall(r"^\s*\d+\s+\d+\s+(none|pocock|obrien-fleming)\s", out.stdout, re.M)) == 21
