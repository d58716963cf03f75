"""multipletests (statsmodels parity, bit for bit) and simulate_multiple_testing (error rates)."""
import contextlib
import gc
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from statsmodels.stats.multitest import multipletests as sm_multipletests

from simengine import MultipletestsResult, SimulateMultipleTestingResult, multipletests, simulate_multiple_testing
from simengine.multitest import ALIASES, METHODS
from simengine.naive import multipletests_loop


@contextlib.contextmanager
def _no_gc_collect():
    saved = gc.collect
    gc.collect = lambda *args: 0
    try:
        yield
    finally:
        gc.collect = saved


def _statsmodels(p, alpha, method, **kw):
    # statsmodels' holm branch calls gc.collect() on every call (0.2 s each in a big
    # process); it does not touch the numbers, so the reference skips it.
    with warnings.catch_warnings(), _no_gc_collect():
        # log1p(-1) for p = 1 in the Sidak methods, p / (1 - p) in fdr_gbs, m0 = 0 in the two-stage iteration
        warnings.simplefilter("ignore", RuntimeWarning)
        return sm_multipletests(p, alpha=alpha, method=method, **kw)


def _no_zeros(p, method):
    """For the local FDR (which statsmodels and we refuse on p = 0) exact zeros become tied 1e-4s."""
    return np.where(p == 0, 1e-4, p) if ALIASES.get(method.lower()) == "lfdr" else p


def _families(seed):
    rng = np.random.default_rng(seed)
    out = []
    for n in (1, 2, 3, 7, 20, 40, 60):
        p = rng.uniform(size=(40, n)) ** 3
        p[:10] = np.round(p[:10], 1)  # ties
        p[10:15, 0] = 0.0
        p[15:20, -1] = 1.0
        out.append(p)
    return out


@pytest.mark.parametrize("method", list(METHODS))
def test_identical_to_statsmodels(method):
    # Reference: statsmodels row by row; results must be bit-identical, including ties, 0 and 1.
    for alpha in (0.05, 0.2):
        for p in _families(1):
            p = _no_zeros(p, method)
            res = multipletests(p, alpha=alpha, method=method)
            for i in range(p.shape[0]):
                rej, corr, a_sidak, a_bonf = _statsmodels(p[i], alpha, method)
                assert_array_equal(res.reject[i], rej)
                assert_array_equal(res.pvals_corrected[i], corr)
            assert res.alphacSidak == a_sidak and res.alphacBonf == a_bonf


@pytest.mark.parametrize("n", [1, 7, 8, 9, 20, 64, 256, 257])
def test_rank_kernel_equals_stable_argsort(n):
    # The kernel ranks by counting smaller values, recounts stably only when a row has ties,
    # and merge-sorts rows longer than it counts; every path must equal a stable argsort.
    from simengine.kernels.multitest import _rank_rows

    rng = np.random.default_rng(n)
    p = rng.uniform(size=(600, n))
    p[:200] = np.round(p[:200], 1)  # ties in most of these rows
    p[200:210] = 0.5  # all tied
    p[210:220, ::2] = -0.0  # -0.0 ties with 0.0, as in NumPy's sort
    p[210:220, 1::2] = 0.0
    expected = np.empty((600, n), dtype=np.int64)
    np.put_along_axis(expected, np.argsort(p, axis=1, kind="stable"), np.arange(n), axis=1)
    assert_array_equal(_rank_rows(p), expected)
    from simengine.multitest import _ranks

    assert_array_equal(_ranks(p[:100], None), expected[:100])  # small calls: NumPy's stable argsort


@pytest.mark.parametrize("method", list(METHODS))
def test_identical_to_statsmodels_long_families(method):
    # families longer than the counting rank handles (256) take the merge-sort path
    rng = np.random.default_rng(7)
    for n in (64, 256, 257):
        p = rng.uniform(size=(6, n)) ** 3
        p[:3] = np.round(p[:3], 2)
        p = _no_zeros(p, method)
        res = multipletests(p, alpha=0.1, method=method)
        for i in range(p.shape[0]):
            rej, corr, _, _ = _statsmodels(p[i], 0.1, method)
            assert_array_equal(res.reject[i], rej)
            assert_array_equal(res.pvals_corrected[i], corr)


@pytest.mark.parametrize("method", list(METHODS))
def test_bad_pvals_anywhere_raise_before_returning(method):
    # the range check runs inside the kernel (or before it, for the Sidak methods):
    # a bad value deep in a large batch must give the same errors, NaN reported first
    p = np.random.default_rng(2).uniform(size=(3000, 20))
    bad = p.copy()
    bad[2500, 7] = 1.5
    with pytest.raises(ValueError, match=r"`pvals` must be in \[0, 1\]; got values in \[.*, 1.5\]"):
        multipletests(bad, method=method)
    bad[1200, 3] = -0.25
    with pytest.raises(ValueError, match=r"got values in \[-0.25, 1.5\]"):
        multipletests(bad, method=method)
    bad[2999, 19] = np.nan
    with pytest.raises(ValueError, match="`pvals` must not contain NaN"):
        multipletests(bad, method=method)


def test_one_d_and_tuple_unpacking():
    p = [0.01, 0.02, 0.04, 0.2]
    reject, corrected, a_sidak, a_bonf = multipletests(p, method="holm")
    rej, corr, s, b = sm_multipletests(p, method="holm")
    assert_array_equal(reject, rej)
    assert_array_equal(corrected, corr)
    assert (a_sidak, a_bonf) == (s, b)


def test_batched_over_leading_axes_equals_loop():
    p = np.random.default_rng(3).uniform(size=(3, 50, 12)) ** 2
    res = multipletests(p, method="fdr_by")
    rej, corr = multipletests_loop(p.reshape(-1, 12), method="fdr_by")
    assert_array_equal(res.reject.reshape(-1, 12), rej)
    assert_array_equal(res.pvals_corrected.reshape(-1, 12), corr)


def test_exact_regression_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4p, 3p, 2p, p = 0.02, 0.03, 0.06, 0.04 -> running max
    res = multipletests([0.01, 0.04, 0.03, 0.005], method="holm")
    assert_allclose(res.pvals_corrected, [0.03, 0.06, 0.06, 0.02], rtol=1e-14)
    assert_array_equal(res.reject, [True, False, False, True])


@settings(deadline=None, max_examples=60)
@given(
    p=st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.05, 0.5])), min_size=1, max_size=30),
    method=st.sampled_from(list(METHODS)),
    alpha=st.floats(0.001, 0.5),
)
def test_property_matches_statsmodels(p, method, alpha):
    p = _no_zeros(np.array(p), method)
    res = multipletests(p, alpha=alpha, method=method)
    rej, corr, _, _ = _statsmodels(p, alpha, method)
    assert_array_equal(res.reject, rej)
    assert_array_equal(res.pvals_corrected, corr)
    # properties: adjusted p-values lie in [0, 1] and, except for the adaptive FDR methods (which scale
    # by an estimate of m0 / m <= 1), never fall below raw ones
    assert (res.pvals_corrected >= 0).all() and (res.pvals_corrected <= 1).all()
    if method not in ("fdr_tsbh", "fdr_tsbky", "fdr_gbs"):
        assert (res.pvals_corrected >= p - 1e-15).all()


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), method=st.sampled_from(list(METHODS)))
def test_property_column_permutation_equivariant(seed, method):
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=(5, 15)) ** 2
    perm = rng.permutation(15)
    a = multipletests(p, method=method)
    b = multipletests(p[:, perm], method=method)
    assert_array_equal(a.pvals_corrected[:, perm], b.pvals_corrected)
    assert_array_equal(a.reject[:, perm], b.reject)


def test_multipletests_iv():
    with pytest.raises(ValueError, match="`method` must be one of"):
        multipletests([0.1], method="fdr")
    with pytest.raises(TypeError, match="`method` must be one of"):
        multipletests([0.1], method=3)
    with pytest.raises(ValueError, match="`alpha` must be in"):
        multipletests([0.1], alpha=1.5)
    with pytest.raises(ValueError, match=r"`pvals` must be in \[0, 1\]"):
        multipletests([0.1, 1.2])
    with pytest.raises(ValueError, match="`pvals` must not contain NaN"):
        multipletests([0.1, np.nan])
    with pytest.raises(ValueError, match="`pvals` must not be empty"):
        multipletests([])
    with pytest.raises(TypeError, match="`pvals` must contain real numbers"):
        multipletests(["a"])
    with pytest.raises(TypeError, match="`maxiter` must be an integer >= -1, None or a bool"):
        multipletests([0.1], method="fdr_tsbh", maxiter=1.5)
    with pytest.raises(ValueError, match="`maxiter` must be an integer >= -1"):
        multipletests([0.1], method="fdr_tsbh", maxiter=-2)
    with pytest.raises(TypeError, match="`is_sorted` must be True or False"):
        multipletests([0.1], is_sorted="yes")
    with pytest.raises(TypeError, match="`returnsorted` must be True or False"):
        multipletests([0.1], returnsorted=None)
    with pytest.raises(ValueError, match=r"`method` must be one of 'b', 'bonf'.*\(any case\); got 'holm_sidak'"):
        multipletests([0.1], method="holm_sidak")


def test_simulated_error_rates_controlled():
    # Statistical acceptance (4 SE): Bonferroni/Holm keep FWER <= alpha, BH keeps FDR <= alpha * m0 / m,
    # no correction inflates FWER to 1 - (1 - alpha)^m0 under independence.
    table = simulate_multiple_testing(
        n_tests=20, n_true=4, effect_size=0.6, n_per_group=30, n_sims=8000, rng=5
    ).to_frame()
    m0 = 16
    for m in ("bonferroni", "holm", "hommel"):
        assert table.loc[m, "fwer"] <= 0.05 + 4 * table.loc[m, "fwer_se"]
    assert table.loc["fdr_bh", "fdr"] <= 0.05 * m0 / 20 + 4 * table.loc["fdr_bh", "fdr_se"]
    expected = 1 - 0.95**m0
    assert abs(table.loc["none", "fwer"] - expected) <= 4 * table.loc["none", "fwer_se"]
    # the uncorrected test's power is the single-test power of the t-test
    from simengine import power_ttest

    single = power_ttest(effect_size=0.6, n=30).power
    assert abs(table.loc["none", "power"] - single) <= 4 * table.loc["none", "power_se"]
    # ordering: Holm is uniformly at least as powerful as Bonferroni; BH at least as powerful as Holm
    assert table.loc["holm", "power"] >= table.loc["bonferroni", "power"]
    assert table.loc["fdr_bh", "power"] >= table.loc["holm", "power"]


def test_simulate_multiple_testing_global_null_fwer():
    table = simulate_multiple_testing(n_true=0, effect_size=0.0, n_per_group=10, n_sims=6000, rng=2).to_frame()
    assert math.isnan(table.loc["holm", "power"])
    for m in ("bonferroni", "holm", "fdr_bh"):  # under the global null FDR = FWER
        assert table.loc[m, "fdr"] == table.loc[m, "fwer"]
        assert abs(table.loc[m, "fwer"] - 0.05) <= 4 * math.sqrt(0.05 * 0.95 / 6000) + 0.005


def test_simulate_multiple_testing_reproducible_across_threads():
    from _subproc import run_with_threads

    code = (
        "from simengine import simulate_multiple_testing\n"
        "result = simulate_multiple_testing(effect_size=0.5, n_per_group=20, n_sims=2500, rng=3).to_frame().to_dict()\n"
    )
    assert run_with_threads(code, 1) == run_with_threads(code, 2)


def test_simulate_multiple_testing_iv():
    kw = dict(effect_size=0.5, n_per_group=20)
    with pytest.raises(ValueError, match="`n_true` must be an integer in"):
        simulate_multiple_testing(n_tests=5, n_true=6, **kw)
    with pytest.raises(ValueError, match="`n_per_group` must be an integer >= 2"):
        simulate_multiple_testing(effect_size=0.5, n_per_group=1)
    with pytest.raises(ValueError, match="`methods` must be one of"):
        simulate_multiple_testing(methods=("holm", "bh"), **kw)
    with pytest.raises(ValueError, match="`methods` must name at least one"):
        simulate_multiple_testing(methods=(), **kw)
    with pytest.raises(ValueError, match="`n_sims` must be an integer >= 1"):
        simulate_multiple_testing(n_sims=0, **kw)
    with pytest.raises(TypeError, match="`effect_size` must be a real number"):
        simulate_multiple_testing(effect_size="big", n_per_group=20)
    with pytest.raises(TypeError, match="`progress` must be None, True or False"):
        simulate_multiple_testing(progress="verbose", **kw)
    with pytest.raises(TypeError, match="`target_se` must be a real number"):
        simulate_multiple_testing(target_se=[0.01], **kw)
    with pytest.raises(ValueError, match="`max_sims` only applies with `target_se`"):
        simulate_multiple_testing(max_sims=10**5, **kw)
    with pytest.raises(ValueError, match=r"`max_sims` must be an integer in \[`n_sims` = 10000, 1000000000\]; got 0"):
        simulate_multiple_testing(target_se=0.01, max_sims=0, **kw)


# --- issue 12: bounds, hostile `methods`, failures inside the kernel ---


def test_simulate_multiple_testing_counts_work_and_memory_are_capped(monkeypatch):
    monkeypatch.setenv("SIMENGINE_MAX_MEMORY", str(2**32))  # the same answer on any machine
    kw = dict(effect_size=0.5, n_per_group=20)
    with pytest.raises(ValueError, match=r"`n_sims` must be an integer in \[1, 1000000000\]; got 2147483648"):
        simulate_multiple_testing(n_sims=2**31, **kw)
    with pytest.raises(ValueError, match=r"`n_tests` must be an integer in \[1, 1000000000\]"):
        simulate_multiple_testing(n_tests=2**40, **kw)
    with pytest.raises(ValueError, match=r"`n_per_group` must be an integer in \[2, 1000000000\]"):
        simulate_multiple_testing(effect_size=0.5, n_per_group=2**63)
    with pytest.raises(ValueError, match=r"`n_sims` x `n_tests` asks for 4e\+12"):
        simulate_multiple_testing(n_sims=10**9, n_tests=1000, **kw)
    with pytest.raises(ValueError, match=r"`n_sims` x `n_tests` needs .* GiB"):
        simulate_multiple_testing(n_sims=10**8, n_tests=20, **kw)


def test_simulate_multiple_testing_methods_of_the_wrong_type():
    kw = dict(effect_size=0.5, n_per_group=20, n_sims=10)
    for bad in (None, 3, b"holm", {"holm": 1}):
        with pytest.raises(TypeError, match="`methods` must be"):
            simulate_multiple_testing(methods=bad, **kw)
    with pytest.raises(TypeError, match="`methods` must be one of"):
        simulate_multiple_testing(methods=["holm", None], **kw)


def test_multipletests_chunk_that_stops_early_is_a_memory_error(monkeypatch):
    from simengine import multitest
    from simengine.kernels import multitest as km

    # a call of one chunk of rows runs the chunk's kernel directly; more rows, the parallel driver
    for name, rows in (("_step_up_chunk", 3), ("_step_up_rows", km._ROWS + 1)):
        real = getattr(km, name)

        def failing(*args, real=real):
            real(*args)
            return False  # valid p-values, yet a chunk did not finish

        monkeypatch.setattr(km, name, failing)
        with pytest.raises(MemoryError, match="`pvals`"):
            multitest.multipletests(np.full((rows, 4), 0.5), method="fdr_bh")


def test_hommel_quadratic_work_is_capped():
    # 2 x 10**6 tests in one family is 4e12 steps of Hommel's O(m^2) procedure: refused at once
    p = np.broadcast_to(0.5, (2 * 10**6,))
    with pytest.raises(ValueError, match=r"`pvals` \(families x tests\^2 for method='hommel'\) asks for 4e\+12 steps"):
        multipletests(p, method="hommel")


# --- issue 13: statsmodels' signature, default, aliases, two-stage methods, is_sorted / returnsorted ---


def _assert_same(res, ref):
    rej, corr, a_sidak, a_bonf = ref
    assert_array_equal(res.reject, rej)
    assert_array_equal(res.pvals_corrected, corr)  # bit for bit
    assert res.alphacSidak == a_sidak and res.alphacBonf == a_bonf


def test_statsmodels_signature_and_default_is_holm_sidak():
    import inspect

    from statsmodels.stats import multitest as smm

    assert list(inspect.signature(multipletests).parameters) == list(inspect.signature(smm.multipletests).parameters)
    for name, param in inspect.signature(smm.multipletests).parameters.items():
        assert inspect.signature(multipletests).parameters[name].default == param.default
    p = np.array([0.01, 0.02, 0.04, 0.3, 0.0001])
    res = multipletests(p)
    assert res.method == "holm-sidak"
    _assert_same(res, _statsmodels(p, 0.05, "hs"))
    # positional, as statsmodels is called
    _assert_same(multipletests(p, 0.1, "fdr_tsbky", 2, False, True),
                 _statsmodels(p, 0.1, "fdr_tsbky", maxiter=2, is_sorted=False, returnsorted=True))


def test_unpacks_as_statsmodels_four_tuple():
    p = [0.01, 0.02, 0.04, 0.2]
    res = multipletests(p)
    assert isinstance(res, MultipletestsResult) and len(res) == 4
    reject, corrected, a_sidak, a_bonf = res
    assert reject is res.reject and corrected is res.pvals_corrected
    assert (a_sidak, a_bonf) == (res.alphacSidak, res.alphacBonf)
    assert res[1] is res.pvals_corrected
    frame = res.to_frame()
    assert list(frame.columns[:4]) == ["reject", "pvals_corrected", "alphacSidak", "alphacBonf"]
    assert len(frame) == 4


def test_alias_table_is_statsmodels_table():
    from statsmodels.stats.multitest import multitest_alias

    assert set(ALIASES) == set(multitest_alias)
    for alias, canonical in ALIASES.items():  # the same family of names
        assert ALIASES[[a for a, f in multitest_alias.items() if f == multitest_alias[alias]][0]] == canonical


def test_lfdr_refuses_zero_like_statsmodels():
    # statsmodels' local FDR fails on p = 0 (a zero-width gap as an isotonic-regression weight); so do we,
    # with a message that says why
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sm_multipletests([0.0, 0.2, 0.5], method="lfdr")
    with pytest.raises(ValueError, match=r"`pvals` must be > 0 for method='lfdr'"):
        multipletests([0.0, 0.2, 0.5], method="lfdr")


def test_lfdr_exact_regression():
    # one family by hand: distinct p = (0.1, 0.2, 0.8) with gaps (0.1, 0.1, 0.6); the ecdf's slopes
    # y = (1/3)/0.1, (1/3)/0.1, (1/3)/0.6 are already non-increasing, so lfdr = min(1, 1 / y) = 0.3, 0.3, 1
    res = multipletests([0.8, 0.1, 0.2], 0.31, "lfdr")  # 1 / y rounds to 0.30000000000000004
    assert_allclose(res.pvals_corrected, [1.0, 0.3, 0.3], rtol=1e-15)
    assert_array_equal(res.reject, [False, True, True])


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_every_alias_identical_to_statsmodels(alias):
    # statsmodels lower-cases the name; so do we
    rng = np.random.default_rng(11)
    for n in (1, 2, 9, 40):
        p = rng.uniform(size=(8, n)) ** 3
        p[:3] = np.round(p[:3], 1)  # ties
        p[3:5, 0] = 0.0
        p[5:7, -1] = 1.0
        p = _no_zeros(p, alias)
        for name in (alias, alias.upper()):
            res = multipletests(p, 0.1, name)
            assert res.method == ALIASES[alias]
            for i in range(p.shape[0]):
                rej, corr, _, _ = _statsmodels(p[i], 0.1, alias)
                assert_array_equal(res.reject[i], rej)
                assert_array_equal(res.pvals_corrected[i], corr)


@pytest.mark.parametrize("method", ["fdr_tsbh", "fdr_tsbky"])
@pytest.mark.parametrize("maxiter", [1, 0, 2, 5, -1, None, True, False])
def test_two_stage_maxiter_identical_to_statsmodels(method, maxiter):
    # maxiter as statsmodels' code reads it, including bools (False = 0 iterations, True = 1)
    # and iterations that end with every hypothesis rejected (m0 = 0: corrected p-values 0)
    for p in _families(3)[1::2]:
        p = p[::3]  # rows of ties, 0s, 1s and plain ones
        for alpha in (0.05, 0.3):
            res = multipletests(p, alpha, method, maxiter)
            for i in range(p.shape[0]):
                rej, corr, _, _ = _statsmodels(p[i], alpha, method, maxiter=maxiter)
                assert_array_equal(res.reject[i], rej)
                assert_array_equal(res.pvals_corrected[i], corr)


def test_two_stage_exact_regressions():
    # statsmodels 0.15 by hand: p = (0.01, 0.06), alpha 0.05, bh: stage one rejects 1, stage two at
    # 0.05 * 2 / 1 rejects both; with maxiter=-1 the next stage has m0 = 0 and the corrections are 0
    res = multipletests([0.01, 0.06], 0.05, "fdr_tsbh", maxiter=-1)
    assert_array_equal(res.reject, [True, True])
    assert_array_equal(res.pvals_corrected, [0.0, 0.0])
    res = multipletests([0.01, 0.06], 0.05, "fdr_tsbh", maxiter=1)  # BH p (0.02, 0.06) x m0 / m = 1 / 2
    assert_array_equal(res.reject, [True, True])
    assert_allclose(res.pvals_corrected, [0.01, 0.03], rtol=1e-15)
    res = multipletests([0.01, 0.06], 0.05, "fdr_tsbh", maxiter=0)  # one stage: BH
    assert_array_equal(res.reject, [True, False])
    assert_allclose(res.pvals_corrected, [0.02, 0.06], rtol=1e-15)


@pytest.mark.parametrize("method", list(METHODS))
def test_is_sorted_and_returnsorted_identical_to_statsmodels(method):
    # is_sorted=True takes each family as given, sorted or not, exactly as statsmodels does
    rng = np.random.default_rng(5)
    p = rng.uniform(size=(30, 11)) ** 2
    p[:10] = np.round(p[:10], 1)
    p[10:13, 2] = 0.0
    p[13:16, 4] = 1.0
    p = _no_zeros(p, method)
    ps = np.sort(p, axis=1)
    for is_sorted, returnsorted, data in ((True, False, ps), (True, False, p), (False, True, p), (True, True, p)):
        res = multipletests(data, 0.1, method, is_sorted=is_sorted, returnsorted=returnsorted)
        for i in range(p.shape[0]):
            _assert_same(
                type(res)(res.reject[i], res.pvals_corrected[i], res.alphacSidak, res.alphacBonf, res.method, 0.1),
                _statsmodels(data[i], 0.1, method, is_sorted=is_sorted, returnsorted=returnsorted),
            )


@st.composite
def _family(draw):
    n = draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p = rng.uniform(size=n) ** draw(st.sampled_from([1, 3, 10]))
    decimals = draw(st.sampled_from([None, 1, 2, 3]))
    if decimals is not None:  # ties
        p = np.round(p, decimals)
    for value in (0.0, 1.0):
        k = draw(st.integers(0, min(n, 5)))
        p[rng.choice(n, size=k, replace=False)] = value
    return p


@settings(deadline=None, max_examples=100)
@given(
    p=_family(),
    alias=st.sampled_from(sorted(ALIASES)),
    alpha=st.sampled_from([0.01, 0.05, 0.1, 0.25]),
    maxiter=st.sampled_from([1, 0, 2, -1, True, False, None]),
    sorting=st.sampled_from([(False, False), (True, False), (False, True)]),
)
def test_property_every_alias_matches_statsmodels_lengths_1_to_300(p, alias, alpha, maxiter, sorting):
    is_sorted, returnsorted = sorting
    p = _no_zeros(p, alias)
    if is_sorted:
        p = np.sort(p)
    res = multipletests(p, alpha, alias, maxiter, is_sorted, returnsorted)
    _assert_same(res, _statsmodels(p, alpha, alias, maxiter=maxiter, is_sorted=is_sorted, returnsorted=returnsorted))


def test_simulate_multiple_testing_result_protocol():
    from simengine._results import declaration_problems

    assert declaration_problems(SimulateMultipleTestingResult) == []
    assert SimulateMultipleTestingResult._chunk_size == 100_000
    kw = dict(effect_size=0.5, n_per_group=20, n_sims=1500, rng=9)
    many = simulate_multiple_testing(methods=("holm", "FDR_BH", "none"), **kw)
    one = simulate_multiple_testing(methods="holm", **kw)
    assert isinstance(one.fwer, float) and isinstance(one.power_se, float) and one.method == "holm"
    assert list(many.method) == ["holm", "FDR_BH", "none"] and many.fwer.shape == (3,)
    # the same simulated p-values whatever the other methods: the one-method result is a row of the table
    for name in ("fwer", "fdr", "power", "mean_rejections"):
        assert getattr(one, name) == getattr(many, name)[0]
        assert getattr(one, f"{name}_se") == getattr(many, f"{name}_se")[0]
    table = many.to_frame()
    assert table.index.name == "method" and list(table.index) == ["holm", "FDR_BH", "none"]
    assert list(table.columns) == ["fwer", "fwer_se", "fdr", "fdr_se", "power", "power_se", "mean_rejections",
                                   "mean_rejections_se"]
    assert table.loc["FDR_BH", "fdr"] == many.fdr[1]
    assert list(one.to_frame().index) == ["holm"]
    # an alias is the method it names
    bh = simulate_multiple_testing(methods="fdr_i", **kw)
    assert bh.fdr == many.fdr[1]


def test_simulate_multiple_testing_two_stage_controls_fdr():
    # Statistical acceptance: the two-stage procedures control FDR at alpha under independence (BKY 2006)
    # and are at least as powerful as BH (they estimate m0 <= m)
    res = simulate_multiple_testing(n_tests=20, n_true=10, effect_size=0.6, n_per_group=30, n_sims=4000,
                                    methods=("fdr_bh", "fdr_tsbky", "fdr_tsbh", "fdr_gbs"), alpha=0.1, rng=7)
    assert (res.fdr <= 0.1 + 4 * res.fdr_se).all()
    assert res.power[1] >= res.power[0]


def test_simulate_multiple_testing_lfdr_and_a_zero_p_value():
    kw = dict(n_tests=4, n_true=2, n_per_group=50, n_sims=20, rng=1)
    res = simulate_multiple_testing(effect_size=0.5, methods=("lfdr", "fdr_bh"), **kw)
    assert np.isfinite(res.fdr).all()
    with pytest.raises(ValueError, match=r"`methods` 'lfdr' \(local FDR\) cannot correct .* p-value of 0"):
        simulate_multiple_testing(effect_size=1e6, methods="lfdr", **kw)
