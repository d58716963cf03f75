"""Tests for simengine.bayes: exact Beta comparisons, Monte Carlo, intervals, coverage, peeking."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import integrate, stats

import simengine
from _subproc import run_with_threads
from simengine._rng import as_seed_sequence, numpy_block_generators
from simengine.bayes import COVERAGE_BLOCK, MC_BLOCK, PEEKING_BLOCK
from simengine.kernels import bayes as kb

# --------------------------------------------------------------------------- references


def _mass(a, b, k=40.0):  # mean +- k * max(sd, 1 / (a + b)): see kernels.bayes._window1
    m = a / (a + b)
    s = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    spread = max(s, 1.0 / (a + b))
    return m, s, max(0.0, m - k * spread), min(1.0, m + k * spread)


def quad_prob(a1, b1, a2, b2):
    """P(X2 > X1) by scipy.integrate.quad over the narrower posterior's mass."""
    m1, s1, lo1, hi1 = _mass(a1, b1)
    m2, s2, lo2, hi2 = _mass(a2, b2)
    if s2 <= s1:
        f = lambda x: stats.beta.pdf(x, a2, b2) * stats.beta.cdf(x, a1, b1)
        m, s, lo, hi = m2, s2, lo2, hi2
    else:
        f = lambda x: stats.beta.pdf(x, a1, b1) * stats.beta.sf(x, a2, b2)
        m, s, lo, hi = m1, s1, lo1, hi1
    pts = [m + j * s for j in range(-6, 7) if lo < m + j * s < hi]
    return integrate.quad(f, lo, hi, points=pts, epsabs=1e-13, epsrel=1e-12, limit=1000)[0]


def quad_loss(a1, b1, a2, b2):
    """E[max(X2 - X1, 0)] = integral of F1(t) (1 - F2(t)) dt, by scipy.integrate.quad."""
    _, _, lo1, hi1 = _mass(a1, b1)
    _, _, lo2, hi2 = _mass(a2, b2)
    lo, hi = min(lo1, lo2), max(hi1, hi2)
    f = lambda t: stats.beta.cdf(t, a1, b1) * stats.beta.sf(t, a2, b2)
    pts = list(np.linspace(lo, hi, 40)[1:-1]) if hi > lo else None
    return integrate.quad(f, lo, hi, points=pts, epsabs=1e-13, epsrel=1e-12, limit=2000)[0] if hi > lo else 0.0


POSTERIORS = [
    (1.0, 1.0, 1.0, 1.0),
    (11.0, 91.0, 16.0, 86.0),
    (101.0, 1901.0, 121.0, 1881.0),
    (0.5, 10.5, 2.5, 8.5),  # Jeffreys prior: half-integer, integer-free -> quadrature
    (0.5, 0.5, 0.5, 0.5),  # U-shaped densities, both endpoints singular
    (3.3, 7.1, 4.2, 5.9),
    (1.0, 40.0, 3.0, 2.0),  # far apart
    (20001.5, 180001.5, 20051.5, 179951.5),  # large, no integer
    (25001.0, 975001.0, 25101.0, 974901.0),  # long sum: walked from its largest term
    (1_500_001.0, 28_500_001.0, 1_501_001.0, 28_499_001.0),  # shortest sum > MAX_TERMS -> quadrature
    (5.0, 200000.0, 9.0, 150000.0),  # very different widths
]


@pytest.mark.parametrize("params", POSTERIORS)
def test_exact_matches_quad(params):
    res = simengine.bayes_ab(0, 0, 0, 0, prior=[params[:2]])  # shapes only; real check below
    assert res.prob_b_better.shape == (1,)
    out = kb._bayes_ab_exact_serial(*(np.array([v]) for v in params))[0]
    assert_array_equal(out, kb._bayes_ab_exact(*(np.array([v]) for v in params))[0])
    assert_allclose(out[0], quad_prob(*params), atol=1e-9, rtol=0)
    a1, b1, a2, b2 = params
    assert_allclose(out[1], quad_loss(a1, b1, a2, b2), atol=1e-9, rtol=1e-7)
    assert_allclose(out[2], quad_loss(a2, b2, a1, b1), atol=1e-9, rtol=1e-7)


def test_exact_public_matches_quad_with_counts():
    # counts -> posteriors through the public layer, uniform and Jeffreys priors
    sa, ta, sb, tb = np.array([10, 100, 0, 7]), np.array([100, 2000, 50, 7]), np.array([15, 120, 3, 0]), np.array([100, 2000, 60, 9])
    res = simengine.bayes_ab(sa, ta, sb, tb, prior=[(1, 1), (0.5, 0.5)])
    for j, (pa, pb) in enumerate([(1, 1), (0.5, 0.5)]):
        for i in range(4):
            ref = quad_prob(pa + sa[i], pb + ta[i] - sa[i], pa + sb[i], pb + tb[i] - sb[i])
            assert_allclose(res.prob_b_better[j, i], ref, atol=1e-9)
    assert_allclose(res.alpha_a[1], 0.5 + sa)
    assert_allclose(res.beta_b[0], 1 + tb - sb)


def test_exact_fast_path_equals_general_path():
    # plain int64 counts with one plain prior take the fused path (one stacked array, posteriors
    # and P(B > A) in one kernel); whole floats, lists, broadcasting and a list of priors take the
    # general one.  Both, and the elementwise kernel on NumPy-built posteriors, agree exactly.
    rng = np.random.default_rng(11)
    ta, tb = rng.integers(0, 3000, 80), rng.integers(0, 3000, 80)
    sa, sb = rng.integers(0, ta + 1), rng.integers(0, tb + 1)
    for prior in [(1.0, 1.0), (1, 1), (0.5, 2.5)]:
        for cut in (3, 80):  # serial and parallel builds (PARALLEL_MIN = 64)
            args = (sa[:cut], ta[:cut], sb[:cut], tb[:cut])
            fast = simengine.bayes_ab(*args, prior=prior)
            slow = simengine.bayes_ab(*(a.astype(np.float64) for a in args), prior=[list(prior)])
            pa, pb = prior
            ref = kb._bayes_ab_exact_serial(pa + args[0], pb + (args[1] - args[0]), pa + args[2], pb + (args[3] - args[2]))
            assert_array_equal(fast.prob_b_better, ref[:, 0])
            assert_array_equal(fast.expected_loss_a, ref[:, 1])
            assert_array_equal(fast.expected_loss_b, ref[:, 2])
            for name in ("prob_b_better", "expected_loss_a", "expected_loss_b", "alpha_a", "beta_a", "alpha_b", "beta_b"):
                assert_array_equal(getattr(fast, name), getattr(slow, name)[0])
            assert_array_equal(fast.prob_b_better_se, 0.0)
    # scalars stay scalars on both paths; a broadcast scalar arm B takes the general path
    one = simengine.bayes_ab(12, 200, 15, 200)
    assert isinstance(one.prob_b_better, float) and one.alpha_a.shape == ()
    assert one.prob_b_better == simengine.bayes_ab(12.0, 200, 15, 200).prob_b_better
    bro = simengine.bayes_ab(sa[:3], ta[:3], 15, 200)
    assert_array_equal(bro.prob_b_better, simengine.bayes_ab(sa[:3], ta[:3], np.full(3, 15), np.full(3, 200)).prob_b_better)
    # 2-D counts keep their shape on the fused path
    sq = simengine.bayes_ab(*(a[:80].reshape(8, 10) for a in (sa, ta, sb, tb)))
    assert_array_equal(sq.prob_b_better, simengine.bayes_ab(sa[:80], ta[:80], sb[:80], tb[:80]).prob_b_better.reshape(8, 10))


def test_exact_closed_forms():
    # Uniform vs uniform: P = 1/2, E[max(B - A, 0)] = 1/6.  Beta(2,1) vs U: P = E[B] = 2/3.
    r = simengine.bayes_ab(0, 0, 0, 0)
    assert_allclose([r.prob_b_better, r.expected_loss_a, r.expected_loss_b], [0.5, 1 / 6, 1 / 6], atol=1e-15)
    r = simengine.bayes_ab(0, 0, 1, 1)
    assert_allclose(r.prob_b_better, 2 / 3, atol=1e-15)
    # E[max(B - A, 0)] with B ~ Beta(2,1), A ~ U: integral of t (1 - t^2) dt = 1/4
    assert_allclose(r.expected_loss_a, 0.25, atol=1e-15)
    assert_allclose(r.expected_loss_b, 0.25 - (2 / 3 - 1 / 2), atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.05, 50), st.floats(0.05, 1e6), st.floats(0.05, 1e6))
def test_quadrature_closed_form_power_cdf(alpha, a, b):
    # X1 ~ Beta(alpha, 1) has CDF x**alpha, so P(X2 > X1) = E[X2**alpha] = B(a + alpha, b) / B(a, b):
    # an exact reference for the quadrature, including densities piled against 0 or 1 (a or b < 1).
    # mpmath, because scipy's betaln differences lose ~1e-9 at a ~ 1e6.
    import mpmath

    with mpmath.workdps(40):
        log_ratio = mpmath.log(mpmath.beta(a + alpha, b)) - mpmath.log(mpmath.beta(a, b))
        ref, comp = float(mpmath.exp(log_ratio)), float(-mpmath.expm1(log_ratio))
    assert_allclose(kb._prob_greater_quad1(alpha, 1.0, a, b), ref, atol=1e-9, rtol=1e-9)
    # and with the arms' roles swapped (the other arm becomes the integration variable)
    assert_allclose(kb._prob_greater_quad1(a, b, alpha, 1.0), comp, atol=1e-9)


def test_sum_and_quadrature_branches_agree():
    # the same posteriors either side of MAX_TERMS, and the quadrature directly
    for base in (kb.MAX_TERMS - 1.0, kb.MAX_TERMS + 1.0):
        a1, b1, a2, b2 = base, base * 19.0, base + 40.0, base * 19.0 - 40.0
        assert_allclose(kb._prob_greater1(a1, b1, a2, b2), kb._prob_greater_quad1(a1, b1, a2, b2), atol=1e-11)
    for params in POSTERIORS[:4]:
        assert_allclose(kb._prob_greater1(*params), kb._prob_greater_quad1(*params), atol=1e-11)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3000), st.integers(1, 3000), st.integers(1, 3000), st.integers(1, 3000)
)
def test_every_exact_sum_identity_agrees(a1, b1, a2, b2):
    # four sums (over a1, b1, a2, b2) and the quadrature give the same probability
    s = [
        kb._miller_sum1(a1, b1, a2, b2),
        kb._miller_sum1(b2, a2, b1, a1),
        1.0 - kb._miller_sum1(a2, b2, a1, b1),
        1.0 - kb._miller_sum1(b1, a1, b2, a2),
        kb._prob_greater_quad1(float(a1), float(b1), float(a2), float(b2)),
    ]
    assert_allclose(s, s[0], atol=1e-10, rtol=0)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.3, 400), st.floats(0.3, 400), st.integers(1, 400), st.floats(0.3, 400))
def test_one_pass_shifted_sums(p, q, r, s):
    # the four "parameter + 1" sums from one pass equal the sums computed afresh
    out = kb._miller_sums1(p, q, float(r), s)
    direct = [kb._miller_sum1(p, q, r, s), kb._miller_sum1(p + 1, q, r, s), kb._miller_sum1(p, q + 1, r, s),
              kb._miller_sum1(p, q, r + 1, s), kb._miller_sum1(p, q, r, s + 1)]
    assert_allclose(out, direct, rtol=1e-11, atol=1e-14)
    assert_allclose(direct[0], quad_prob(p, q, r, s), atol=1e-9)


def test_large_counts_finite_and_sane():
    # 10^7 visitors per arm: finite, in [0, 1], and close to the normal approximation
    n = 10_000_000
    sa, sb = 500_000, 501_500
    r = simengine.bayes_ab(sa, n, sb, n)
    pa, pb = (1 + sa) / (n + 2), (1 + sb) / (n + 2)
    sd = np.sqrt(pa * (1 - pa) / n + pb * (1 - pb) / n)
    assert np.isfinite([r.prob_b_better, r.expected_loss_a, r.expected_loss_b]).all()
    assert_allclose(r.prob_b_better, stats.norm.cdf((pb - pa) / sd), atol=1e-4)
    assert_allclose(r.prob_b_better, quad_prob(1 + sa, 1 + n - sa, 1 + sb, 1 + n - sb), atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 400), st.integers(0, 400), st.integers(1, 400), st.integers(1, 400),
       st.sampled_from([(1.0, 1.0), (0.5, 0.5), (2.0, 30.0)]))
def test_swapping_arms(sa, sb, fa, fb, prior):
    r = simengine.bayes_ab(sa, sa + fa, sb, sb + fb, prior=prior)
    s = simengine.bayes_ab(sb, sb + fb, sa, sa + fa, prior=prior)
    assert_allclose(r.prob_b_better + s.prob_b_better, 1.0, atol=1e-10)
    assert_allclose(r.expected_loss_a, s.expected_loss_b, atol=1e-12)
    assert_allclose(r.expected_loss_b, s.expected_loss_a, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 500), st.integers(10, 500), st.integers(0, 499), st.integers(10, 500))
def test_monotone_in_successes_b(sa, na, sb, nb):
    assume(sa <= na and sb < nb)
    lo = simengine.bayes_ab(sa, na, sb, nb)
    hi = simengine.bayes_ab(sa, na, sb + 1, nb)
    assert hi.prob_b_better >= lo.prob_b_better - 1e-12
    assert hi.expected_loss_b <= lo.expected_loss_b + 1e-12
    assert hi.expected_loss_a >= lo.expected_loss_a - 1e-12


def test_mc_within_4se_of_exact():
    sa, ta, sb, tb = [120, 30, 5, 500], [2400, 400, 60, 10000], [145, 28, 9, 540], [2400, 400, 60, 10000]
    priors = [(1, 1), (0.5, 0.5), (20, 380)]
    ex = simengine.bayes_ab(sa, ta, sb, tb, prior=priors)
    mc = simengine.bayes_ab(sa, ta, sb, tb, prior=priors, method="mc", n_draws=50_000, rng=2024)
    for name in ("prob_b_better", "expected_loss_a", "expected_loss_b"):
        diff = np.abs(getattr(mc, name) - getattr(ex, name))
        assert (diff <= 4 * getattr(mc, name + "_se")).all(), name
        assert (getattr(mc, name + "_se") > 0).all()
    assert mc.n_draws == 50_000 and mc.method == "mc"


def _replay_mc(a1, b1, a2, b2, n_draws, seed):
    bps = -(-n_draws // MC_BLOCK)
    gens = numpy_block_generators(as_seed_sequence(seed), bps * len(a1))
    out = np.zeros((len(a1), 5))
    for j, g in enumerate(gens):
        i = j // bps
        for _ in range(min(MC_BLOCK, n_draws - (j % bps) * MC_BLOCK)):
            x, y = g.beta(a1[i], b1[i]), g.beta(a2[i], b2[i])
            d = y - x
            out[i] += [1, d, d * d, 0, 0] if d > 0 else [0, 0, 0, -d, d * d]
    return out


def test_mc_numpy_replay():
    n_draws = MC_BLOCK + 300  # two blocks, the second short
    r = simengine.bayes_ab([3, 40], [20, 300], [5, 44], [20, 300], method="mc", n_draws=n_draws, rng=7)
    ref = _replay_mc(r.alpha_a, r.beta_a, r.alpha_b, r.beta_b, n_draws, 7)
    assert_array_equal(r.prob_b_better, ref[:, 0] / n_draws)
    assert_allclose(r.expected_loss_a, ref[:, 1] / n_draws, rtol=1e-12)
    assert_allclose(r.expected_loss_b, ref[:, 3] / n_draws, rtol=1e-12)


def test_prob_best_against_exact_two_arms_and_replay():
    # with two arms, prob_best = (1 - P(B > A), P(B > A)) and expected losses match bayes_ab
    pb = simengine.prob_best([30, 41], [500, 520], n_draws=60_000, rng=3)
    ex = simengine.bayes_ab(30, 500, 41, 520)
    assert abs(pb.prob_best[1] - ex.prob_b_better) <= 4 * pb.prob_best_se[1]
    assert_allclose(pb.prob_best.sum(), 1.0)
    assert abs(pb.expected_loss[0] - ex.expected_loss_a) <= 4 * pb.expected_loss_se[0]
    assert abs(pb.expected_loss[1] - ex.expected_loss_b) <= 4 * pb.expected_loss_se[1]
    # three arms: NumPy replay of the kernel
    s, t = np.array([10, 12, 9]), np.array([100, 100, 100])
    r = simengine.prob_best(s, t, n_draws=5000, rng=11)
    gens = numpy_block_generators(as_seed_sequence(11), -(-5000 // MC_BLOCK))
    wins = np.zeros(3)
    loss = np.zeros(3)
    for j, g in enumerate(gens):
        for _ in range(min(MC_BLOCK, 5000 - j * MC_BLOCK)):
            x = np.array([g.beta(1 + s[m], 1 + t[m] - s[m]) for m in range(3)])
            wins[np.argmax(x)] += 1
            loss += x.max() - x
    assert_array_equal(r.prob_best, wins / 5000)
    assert_allclose(r.expected_loss, loss / 5000, rtol=1e-12)


def test_thread_invariance():
    code = (
        "import simengine\n"
        "r = simengine.bayes_ab([5, 50], [40, 400], [7, 61], [40, 400], method='mc', n_draws=20000, rng=5)\n"
        "q = simengine.prob_best([5, 7, 6], [40, 40, 40], n_draws=20000, rng=5)\n"
        "c = simengine.simulate_coverage(p=0.2, n=[10, 30], n_sims=20000, rng=5)\n"
        "k = simengine.simulate_bayes_peeking(n_sims=600, n_looks=4, visitors_per_look=50, rate=0.2, rng=5)\n"
        "result = (r.prob_b_better, r.expected_loss_a, q.prob_best, q.expected_loss, c.coverage,"
        " c.mean_width, k.first_crossing, k.final_prob_b_better)\n"
    )
    one, two = run_with_threads(code, 1), run_with_threads(code, 2)
    for x, y in zip(one, two):
        assert_array_equal(x, y)


def test_result_classes_declare_their_estimates():
    from simengine._results import declaration_problems

    for cls, replicates, chunk in ((simengine.BayesAbResult, "n_draws", 10_000_000),
                                   (simengine.ProbBestResult, "n_draws", 10_000_000),
                                   (simengine.SimulateBayesPeekingResult, "n_sims", 200_000),
                                   (simengine.SimulateCoverageResult, "n_sims", 1_000_000)):
        assert declaration_problems(cls) == [], cls
        assert (cls._replicates, cls._chunk_size) == (replicates, chunk)
        assert cls.combinable()
    ex = simengine.bayes_ab(12, 200, 15, 200)
    mc = simengine.bayes_ab(12, 200, 15, 200, method="mc", n_draws=1000, rng=1)
    for r in (ex, mc):
        assert isinstance(r, simengine.BayesAbResult)
        assert all(type(v) is float for v in r.estimates().values())
        with pytest.raises(TypeError, match="does not unpack"):
            tuple(r)
        assert r.to_frame().shape[0] == 1
    assert ex.estimates() == {"prob_b_better": ex.prob_b_better, "prob_b_better_se": 0.0,
                              "expected_loss_a": ex.expected_loss_a, "expected_loss_a_se": 0.0,
                              "expected_loss_b": ex.expected_loss_b, "expected_loss_b_se": 0.0}
    frame = simengine.bayes_ab([12, 30], 200, [15, 20], 200).to_frame()
    assert len(frame) == 2 and list(frame.columns[:2]) == ["prob_b_better", "prob_b_better_se"]
    pk = simengine.simulate_bayes_peeking(rng=2, n_sims=300, n_looks=3, visitors_per_look=50, rate=0.2, prior=[1, 1])
    assert isinstance(pk, simengine.SimulateBayesPeekingResult)
    assert all(type(v) is float for v in pk.estimates().values())
    assert list(pk.to_frame().columns) == ["prob_declare_peeking", "prob_declare_peeking_se", "prob_declare_final",
                                           "prob_declare_final_se", "n_sims"]
    pb = simengine.prob_best([3, 5, 4], [40, 40, 40], n_draws=500, rng=0)
    assert isinstance(pb, simengine.ProbBestResult) and len(pb.to_frame()) == 3


def test_arms_direction_b_minus_a():
    # A is the first pair of counts (control), B the second (treatment); losses and P(B > A) are about B - A
    r = simengine.bayes_ab(10, 200, 30, 200)
    assert r.prob_b_better > 0.99 and r.expected_loss_a > r.expected_loss_b
    assert_allclose(r.expected_loss_b - r.expected_loss_a, r.alpha_a / (r.alpha_a + r.beta_a)
                    - r.alpha_b / (r.alpha_b + r.beta_b), rtol=1e-12)
    up = simengine.simulate_bayes_peeking(n_sims=400, n_looks=2, visitors_per_look=1000, rate=0.1, lift=0.05, rng=3)
    down = simengine.simulate_bayes_peeking(n_sims=400, n_looks=2, visitors_per_look=1000, rate=0.15, lift=-0.05,
                                            rng=3)
    assert up.prob_declare_final > 0.9 > 0.01 > down.prob_declare_final


def test_bayes_ab_iv():
    with pytest.raises(ValueError, match="`successes_a` must be <= `trials_a`"):
        simengine.bayes_ab(5, 4, 1, 10)
    with pytest.raises(ValueError, match="`trials_b` must be >= 0"):
        simengine.bayes_ab(1, 4, 0, -1)
    with pytest.raises(ValueError, match="`successes_a` must contain whole numbers"):
        simengine.bayes_ab(1.5, 4, 1, 4)
    with pytest.raises(TypeError, match="`successes_b` must be array-like of integers"):
        simengine.bayes_ab(1, 4, "a", 4)
    with pytest.raises(ValueError, match="do not broadcast"):
        simengine.bayes_ab([1, 2], [4, 4], [1, 2, 3], [4, 4, 4])
    with pytest.raises(ValueError, match="`method` must be one of"):
        simengine.bayes_ab(1, 4, 1, 4, method="quad")
    with pytest.raises(ValueError, match="`prior` parameters must be finite and > 0"):
        simengine.bayes_ab(1, 4, 1, 4, prior=(0, 1))
    with pytest.raises(ValueError, match="`prior` must be a pair"):
        simengine.bayes_ab(1, 4, 1, 4, prior=(1, 1, 1))
    with pytest.raises(TypeError, match="`prior` must be a pair"):
        simengine.bayes_ab(1, 4, 1, 4, prior="flat")
    with pytest.raises(ValueError, match="`n_draws` must be an integer >= 1"):
        simengine.bayes_ab(1, 4, 1, 4, method="mc", n_draws=0)
    with pytest.raises(TypeError, match="`rng` must be None"):
        simengine.bayes_ab(1, 4, 1, 4, method="mc", rng="seed")
    with pytest.raises(TypeError, match="`progress` must be None, True or False"):
        simengine.bayes_ab(1, 4, 1, 4, progress="yes")
    with pytest.raises(TypeError, match="`progress` must be None, True or False"):
        simengine.bayes_ab(1, 4, 1, 4, method="mc", progress=1)


def test_prob_best_iv():
    with pytest.raises(TypeError, match="`progress` must be None, True or False"):
        simengine.prob_best([1, 1], [10, 10], progress="no")
    with pytest.raises(ValueError, match="at least 2 arms"):
        simengine.prob_best([1], [10])
    with pytest.raises(ValueError, match="`successes` must be <= `trials`"):
        simengine.prob_best([11, 1], [10, 10])
    with pytest.raises(ValueError, match="`n_draws` must be an integer >= 1"):
        simengine.prob_best([1, 1], [10, 10], n_draws=-5)
    with pytest.raises(ValueError, match="`prior` must be a pair"):
        simengine.prob_best([1, 1], [10, 10], prior=[(1, 1), (2, 2)])


# --------------------------------------------------------------------------- intervals


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
@pytest.mark.parametrize("method", ["normal", "wilson", "agresti_coull", "beta", "jeffreys"])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2, 0.7])
def test_interval_matches_statsmodels(method, alpha, alternative):
    # statsmodels 0.15's proportion_confint has `alternative` for every method here: equal to 1e-10
    from statsmodels.stats.proportion import proportion_confint

    for n in (1, 2, 7, 50, 1000):
        k = np.arange(n + 1)
        low, high = simengine.proportion_interval(k, n, alpha=alpha, method=method, alternative=alternative)
        l2, h2 = proportion_confint(k, n, alpha=alpha, method=method, alternative=alternative)
        # statsmodels gives a scalar 0 / 1 for the fixed end of a one-sided interval
        assert_allclose(low, np.broadcast_to(l2, k.shape), atol=1e-10, rtol=0)
        assert_allclose(high, np.broadcast_to(h2, k.shape), atol=1e-10, rtol=0)
    # scalar in, floats out, like statsmodels
    low, high = simengine.proportion_interval(3, 17, alpha=alpha, method=method, alternative=alternative)
    assert isinstance(low, float) and isinstance(high, float)
    assert_allclose((low, high), proportion_confint(3, 17, alpha=alpha, method=method, alternative=alternative),
                    atol=1e-10)


def test_interval_default_differs_from_statsmodels_only_in_method():
    from statsmodels.stats.proportion import proportion_confint

    assert_allclose(tuple(simengine.proportion_interval(3, 17)), proportion_confint(3, 17, method="wilson"),
                    atol=1e-12)
    assert_allclose(tuple(simengine.proportion_interval(3, 17, method="normal")), proportion_confint(3, 17),
                    atol=1e-12)


def test_interval_result_unpacks_and_frames():
    res = simengine.proportion_interval([0, 3, 10], 10, alternative="larger")
    assert isinstance(res, simengine.ProportionIntervalResult)
    low, high = res
    assert low is res.low and high is res.high and len(res) == 2 and res[1] is res.high
    assert_array_equal(low, [0.0, 0.0, 0.0])
    frame = res.to_frame()
    assert list(frame.columns) == ["low", "high"] and len(frame) == 3
    assert res.to_dict().keys() == {"low", "high"}
    one = simengine.proportion_interval(3, 10).to_frame()
    assert one.shape == (1, 2)


@pytest.mark.parametrize("n", [1, 5, 37, 400])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.3])
def test_one_sided_clopper_pearson_is_the_exact_bound(n, alpha):
    # "larger" -> (0, u) with P(X <= k | u) = alpha (u = 1 at k = n); "smaller" -> (l, 1) with
    # P(X >= k | l) = alpha (l = 0 at k = 0): Clopper & Pearson's one-sided bounds at level 1 - alpha.
    k = np.arange(n + 1)
    _, upper = simengine.proportion_interval(k, n, alpha=alpha, method="beta", alternative="larger")
    lower, one = simengine.proportion_interval(k, n, alpha=alpha, method="beta", alternative="smaller")
    assert_array_equal(one, 1.0)
    assert upper[-1] == 1.0 and lower[0] == 0.0
    assert_allclose(stats.binom.cdf(k[:-1], n, upper[:-1]), alpha, rtol=1e-9)
    assert_allclose(stats.binom.sf(k[1:] - 1, n, lower[1:]), alpha, rtol=1e-9)
    # the exact one-sided coverage never falls below 1 - alpha
    for p in (0.003, 0.1, 0.37, 0.5, 0.93):
        pmf = stats.binom.pmf(k, n, p)
        assert pmf[p <= upper].sum() >= 1 - alpha - 1e-12
        assert pmf[lower <= p].sum() >= 1 - alpha - 1e-12


def test_one_sided_normal_methods_use_z_at_alpha():
    k, n, alpha = np.array([0, 4, 11, 30]), 30, 0.1
    z = stats.norm.isf(alpha)
    q = k / n
    _, up = simengine.proportion_interval(k, n, alpha=alpha, method="normal", alternative="larger")
    assert_allclose(up, np.clip(q + z * np.sqrt(q * (1 - q) / n), 0, 1), rtol=1e-14)
    lo, _ = simengine.proportion_interval(k, n, alpha=alpha, method="wilson", alternative="smaller")
    # the Wilson lower bound solves (q - p)^2 = z^2 p (1 - p) / n for p below q (0 at k = 0)
    root = lo[1:]
    assert_allclose((q[1:] - root) ** 2, z * z * root * (1 - root) / n, rtol=1e-10)
    assert lo[0] == 0.0


def test_one_sided_posterior_bounds_are_quantiles():
    k, n = np.array([0, 3, 20]), 20
    _, up = simengine.proportion_interval(k, n, method="bayes", prior=(2.0, 5.0), alpha=0.1, alternative="larger")
    lo, _ = simengine.proportion_interval(k, n, method="bayes", prior=(2.0, 5.0), alpha=0.1, alternative="smaller")
    assert_allclose(up, stats.beta.ppf(0.9, 2.0 + k, 5.0 + n - k), rtol=1e-12)
    assert_allclose(lo, stats.beta.ppf(0.1, 2.0 + k, 5.0 + n - k), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2000), st.data(), st.floats(1e-6, 0.49), st.sampled_from(["normal", "wilson", "agresti_coull",
                                                                               "beta", "jeffreys", "bayes"]))
def test_one_sided_is_one_end_of_two_sided_at_twice_alpha(n, data, alpha, method):
    k = data.draw(st.integers(0, n))
    two = simengine.proportion_interval(k, n, alpha=2 * alpha, method=method, prior=(0.7, 0.7))
    larger = simengine.proportion_interval(k, n, alpha=alpha, method=method, prior=(0.7, 0.7), alternative="larger")
    smaller = simengine.proportion_interval(k, n, alpha=alpha, method=method, prior=(0.7, 0.7), alternative="smaller")
    assert (larger.low, smaller.high) == (0.0, 1.0)
    assert larger.high == two.high and smaller.low == two.low
    # mirror symmetry (the prior is symmetric): the upper bound at k is 1 - the lower bound at n - k
    mirror = simengine.proportion_interval(n - k, n, alpha=alpha, method=method, prior=(0.7, 0.7),
                                           alternative="smaller")
    assert_allclose(larger.high, 1.0 - mirror.low, atol=1e-12)


def test_bayes_interval_is_posterior_quantiles():
    k, n = np.array([0, 3, 10, 20]), np.array([20, 20, 20, 20])
    low, high = simengine.proportion_interval(k, n, method="bayes", prior=(2.0, 5.0), alpha=0.1)
    ref = stats.beta.interval(0.9, 2.0 + k, 5.0 + n - k)
    assert_allclose(low, ref[0], rtol=1e-12)
    assert_allclose(high, ref[1], rtol=1e-12)
    j = simengine.proportion_interval(k, n, method="jeffreys")
    b = simengine.proportion_interval(k, n, method="bayes", prior=(0.5, 0.5))
    assert_allclose(tuple(j), tuple(b), rtol=1e-14)


def test_proportion_interval_iv():
    with pytest.raises(ValueError, match="`method` must be one of"):
        simengine.proportion_interval(1, 10, method="wald")
    with pytest.raises(ValueError, match="`alpha` must be in"):
        simengine.proportion_interval(1, 10, alpha=1.5)
    with pytest.raises(ValueError, match="`trials` must be >= 1"):
        simengine.proportion_interval(0, 0)
    with pytest.raises(ValueError, match="`successes` must be <= `trials`"):
        simengine.proportion_interval(11, 10)
    with pytest.raises(ValueError, match="`prior` parameters must be finite and > 0"):
        simengine.proportion_interval(1, 10, method="bayes", prior=(1, -1))
    with pytest.raises(ValueError, match="`alternative` must be one of 'two-sided', 'larger', 'smaller'"):
        simengine.proportion_interval(1, 10, alternative="greater")
    with pytest.raises(TypeError, match="`alternative` must be one of"):
        simengine.proportion_interval(1, 10, alternative=None)
    with pytest.raises(TypeError):  # keyword-only: statsmodels' positional alpha is refused, not misread
        simengine.proportion_interval(1, 10, 0.1)


def test_exact_coverage_matches_independent_sum():
    from statsmodels.stats.proportion import proportion_confint

    df = simengine.simulate_coverage(p=[0.03, 0.3], n=[15, 80], methods=("wilson", "beta"), n_sims=1000,
                                     rng=0).to_frame()
    for row in df.itertuples():
        k = np.arange(row.n + 1)
        lo, hi = proportion_confint(k, row.n, method=row.method)
        pmf = stats.binom.pmf(k, row.n, row.p)
        assert_allclose(row.exact_coverage, pmf[(lo <= row.p) & (row.p <= hi)].sum(), atol=1e-12)
        assert_allclose(row.exact_mean_width, (pmf * (hi - lo)).sum(), atol=1e-12)


def test_coverage_mc_within_4se_and_clopper_pearson_conservative():
    p = np.array([0.01, 0.05, 0.2, 0.5])
    df = simengine.simulate_coverage(p=p, n=[10, 40, 150], methods=("normal", "wilson", "beta", "jeffreys", "bayes"),
                                     n_sims=40_000, rng=99).to_frame()
    assert len(df) == 4 * 3 * 5
    assert (np.abs(df.coverage - df.exact_coverage) <= 4 * df.coverage_se + 1e-12).all()
    assert (np.abs(df.mean_width - df.exact_mean_width) <= 4 * df.mean_width_se + 1e-12).all()
    cp = df[df.method == "beta"]
    assert (cp.exact_coverage >= 0.95 - 1e-12).all()
    assert (cp.coverage >= 0.95 - 4 * cp.coverage_se).all()
    # the Wald interval is known to undercover badly at small n p (Brown, Cai & DasGupta 2001)
    wald = df[(df.method == "normal") & (df.p == 0.01) & (df.n == 10)]
    assert float(wald.exact_coverage.iloc[0]) < 0.2


def test_coverage_numpy_replay():
    res = simengine.simulate_coverage(p=[0.3], n=[12], methods=("wilson",), n_sims=COVERAGE_BLOCK + 10, rng=4)
    gens = numpy_block_generators(as_seed_sequence(4), 2)
    lo, hi = simengine.proportion_interval(np.arange(13), 12, method="wilson")
    ks = np.concatenate([g.binomial(12, 0.3, size=m) for g, m in zip(gens, (COVERAGE_BLOCK, 10))])
    # scalar draws in the kernel and vector draws here come from the same stream
    assert_allclose(res.coverage, np.mean((lo[ks] <= 0.3) & (0.3 <= hi[ks])), rtol=1e-15)
    assert_allclose(res.mean_width, np.mean(hi[ks] - lo[ks]), rtol=1e-12)
    # one-sided: the same draws, scored against the upper bound alone
    up = simengine.simulate_coverage(p=0.3, n=12, methods="wilson", n_sims=COVERAGE_BLOCK + 10, rng=4,
                                     alternative="larger")
    _, hi1 = simengine.proportion_interval(np.arange(13), 12, method="wilson", alternative="larger")
    assert_allclose(up.coverage, np.mean(0.3 <= hi1[ks]), rtol=1e-15)
    assert_allclose(up.mean_width, np.mean(hi1[ks]), rtol=1e-12)


def test_coverage_result_shapes_declaration_and_frame():
    from simengine._results import declaration_problems

    one = simengine.simulate_coverage(rng=3, n_sims=500, p=0.2, n=25, methods="jeffreys", prior=[1, 1], alpha=0.1)
    assert isinstance(one, simengine.SimulateCoverageResult)
    assert declaration_problems(simengine.SimulateCoverageResult) == []
    for name, value in one.estimates().items():
        assert type(value) is float, name
    assert (one.p, one.n, one.method, one.n_sims) == (0.2, 25, "jeffreys", 500)
    assert one.exact_coverage_se == 0.0 and one.exact_mean_width_se == 0.0
    with pytest.raises(TypeError, match="does not unpack"):
        tuple(one)
    columns = ["p", "n", "method", "coverage", "coverage_se", "mean_width", "mean_width_se", "exact_coverage",
               "exact_mean_width"]
    assert list(one.to_frame().columns) == columns
    many = simengine.simulate_coverage(p=[0.1, 0.4], n=[8, 30, 60], methods=("wilson", "beta"), n_sims=300, rng=2)
    frame = many.to_frame()
    assert list(frame.columns) == columns and len(frame) == 12
    assert list(frame.method) == ["wilson", "beta"] * 6
    assert_array_equal(frame.n, np.tile(np.repeat([8, 30, 60], 2), 2))
    assert_array_equal(frame.p, np.repeat([0.1, 0.4], 6))
    assert frame.n.dtype == np.int64 and frame.coverage.dtype == np.float64
    assert_array_equal(many.exact_coverage_se, 0.0)
    # the same draws whether the methods come together or alone (common random numbers per cell)
    alone = simengine.simulate_coverage(p=0.4, n=30, methods="beta", n_sims=300, rng=2)
    assert alone.exact_coverage == frame.exact_coverage.iloc[9]


def test_one_sided_coverage_calibration():
    # Clopper-Pearson one-sided bounds never cover less than 1 - alpha; the MC estimate agrees with the exact
    # figure within 4 SE; Wilson's one-sided bounds cover near 1 - alpha on average over p (Brown et al. 2001)
    p = np.linspace(0.05, 0.95, 10)
    for alternative in ("larger", "smaller"):
        df = simengine.simulate_coverage(p=p, n=[20, 100], methods=("beta", "wilson"), alpha=0.1, n_sims=20_000,
                                         alternative=alternative, rng=7).to_frame()
        assert (np.abs(df.coverage - df.exact_coverage) <= 4 * df.coverage_se + 1e-12).all()
        cp = df[df.method == "beta"]
        assert (cp.exact_coverage >= 0.9 - 1e-12).all()
        wilson = df[df.method == "wilson"]
        assert abs(wilson.exact_coverage.mean() - 0.9) < 0.03


def test_simulate_coverage_iv():
    with pytest.raises(ValueError, match="`p` must be in"):
        simengine.simulate_coverage(p=1.5, n=10)
    with pytest.raises(ValueError, match="`n` must be >= 1"):
        simengine.simulate_coverage(p=0.5, n=0)
    with pytest.raises(ValueError, match="`methods` must be one of"):
        simengine.simulate_coverage(p=0.5, n=10, methods=("wald",))
    with pytest.raises(ValueError, match="`n_sims` must be an integer >= 1"):
        simengine.simulate_coverage(p=0.5, n=10, n_sims=0)
    with pytest.raises(ValueError, match="`alpha` must be in"):
        simengine.simulate_coverage(p=0.5, n=10, alpha=0)
    with pytest.raises(ValueError, match="`alternative` must be one of"):
        simengine.simulate_coverage(p=0.5, n=10, alternative="less")
    with pytest.raises(TypeError, match="`progress` must be None, True or False"):
        simengine.simulate_coverage(p=0.5, n=10, progress=0)
    with pytest.raises(ValueError, match="`target_se` must be in"):
        simengine.simulate_coverage(p=0.5, n=10, target_se=0.0)
    with pytest.raises(TypeError, match="`target_se` must be a real number"):
        simengine.simulate_coverage(p=0.5, n=10, target_se="0.01")
    with pytest.raises(ValueError, match="`max_sims` only applies with `target_se`"):
        simengine.simulate_coverage(p=0.5, n=10, max_sims=10**6)
    with pytest.raises(ValueError, match=r"`max_sims` must be an integer in \[`n_sims` = 1000, "):
        simengine.simulate_coverage(p=0.5, n=10, n_sims=1000, target_se=0.01, max_sims=999)
    with pytest.raises(TypeError, match="`max_sims` must be an integer"):
        simengine.simulate_coverage(p=0.5, n=10, target_se=0.01, max_sims=1e6)


# --------------------------------------------------------------------------- peeking


def _exact_final_rate(n, rate, threshold, prior=(1.0, 1.0)):
    k = np.arange(n + 1)
    sa, sb = np.meshgrid(k, k, indexing="ij")
    p = kb._bayes_ab_exact(
        np.ascontiguousarray(prior[0] + sa.ravel(), dtype=float), np.ascontiguousarray(prior[1] + n - sa.ravel(), dtype=float),
        np.ascontiguousarray(prior[0] + sb.ravel(), dtype=float), np.ascontiguousarray(prior[1] + n - sb.ravel(), dtype=float),
    )[:, 0].reshape(sa.shape)
    pmf = stats.binom.pmf(k, n, rate)
    return float(pmf @ (p > threshold) @ pmf)


def test_peeking_final_rate_matches_exact_and_peeking_inflates():
    res = simengine.simulate_bayes_peeking(n_sims=20_000, n_looks=5, visitors_per_look=40, rate=0.15, rng=8)
    exact = _exact_final_rate(200, 0.15, 0.95)
    assert abs(res.prob_declare_final - exact) <= 4 * res.prob_declare_final_se
    assert res.prob_declare_peeking > res.prob_declare_final + 4 * res.prob_declare_peeking_se
    assert res.stop_look_counts.sum() == np.count_nonzero(res.first_crossing)
    # one look: peeking and final coincide
    one = simengine.simulate_bayes_peeking(n_sims=2000, n_looks=1, visitors_per_look=100, rate=0.3, rng=1)
    assert one.prob_declare_peeking == one.prob_declare_final


def test_peeking_numpy_replay_and_lift():
    n_sims, looks, v = PEEKING_BLOCK + 20, 3, 30
    res = simengine.simulate_bayes_peeking(n_sims=n_sims, n_looks=looks, visitors_per_look=v, rate=0.2, lift=0.05,
                                           threshold=0.9, prior=(2.0, 8.0), rng=12)
    gens = numpy_block_generators(as_seed_sequence(12), 2)
    first = np.zeros(n_sims, dtype=np.int64)
    final = np.zeros(n_sims)
    for j, g in enumerate(gens):
        for r in range(j * PEEKING_BLOCK, min((j + 1) * PEEKING_BLOCK, n_sims)):
            sa = sb = n = 0
            for look in range(1, looks + 1):
                sa += g.binomial(v, 0.2)
                sb += g.binomial(v, 0.25)
                n += v
                pb = kb._prob_greater1(2.0 + sa, 8.0 + n - sa, 2.0 + sb, 8.0 + n - sb)
                if first[r] == 0 and pb > 0.9:
                    first[r] = look
                final[r] = pb
    assert_array_equal(res.first_crossing, first)
    assert_allclose(res.final_prob_b_better, final, rtol=1e-14)
    aa = simengine.simulate_bayes_peeking(n_sims=n_sims, n_looks=looks, visitors_per_look=v, rate=0.2,
                                          threshold=0.9, prior=(2.0, 8.0), rng=12)
    assert res.prob_declare_peeking > aa.prob_declare_peeking


def test_simulate_bayes_peeking_iv():
    kw = dict(n_sims=10, n_looks=2, visitors_per_look=10, rate=0.1)
    with pytest.raises(ValueError, match="`n_looks` must be an integer >= 1"):
        simengine.simulate_bayes_peeking(**{**kw, "n_looks": 0})
    with pytest.raises(ValueError, match="`rate` must be in"):
        simengine.simulate_bayes_peeking(**{**kw, "rate": 1.2})
    with pytest.raises(ValueError, match="`rate` \\+ `lift` must be in"):
        simengine.simulate_bayes_peeking(**{**kw, "lift": 0.95})
    with pytest.raises(ValueError, match="`threshold` must be in"):
        simengine.simulate_bayes_peeking(**{**kw, "threshold": 1.0})
    with pytest.raises(TypeError, match="`visitors_per_look` must be an integer"):
        simengine.simulate_bayes_peeking(**{**kw, "visitors_per_look": 2.5})
    with pytest.raises(ValueError, match="`prior` parameters"):
        simengine.simulate_bayes_peeking(**kw, prior=(1, 0))
    with pytest.raises(TypeError, match="`progress` must be None, True or False"):
        simengine.simulate_bayes_peeking(**kw, progress="auto")
    with pytest.raises(ValueError, match="`target_se` must be a finite number"):
        simengine.simulate_bayes_peeking(**kw, target_se=float("nan"))
    with pytest.raises(ValueError, match="`max_sims` only applies with `target_se`"):
        simengine.simulate_bayes_peeking(**kw, max_sims=100)
    with pytest.raises(ValueError, match=r"`max_sims` must be an integer in \[`n_sims` = 10, 1000000000\]"):
        simengine.simulate_bayes_peeking(**kw, target_se=0.01, max_sims=10**10)


# --------------------------------------------------------------------------- target_se


def test_coverage_rounds_combine_like_one_run_of_all_their_intervals():
    """Rounds of a target_se run are runs on the child streams of the seed: combined, their estimates are
    the pooled counts over all rounds (and agree with one big run within Monte Carlo error)."""
    kw = dict(p=[0.05, 0.3], n=[20, 60], methods=("wilson", "beta"), n_sims=4000)
    ss = as_seed_sequence(11)
    rounds = [simengine.simulate_coverage(**kw, rng=ss.spawn(1)[0]) for _ in range(3)]
    both = simengine.SimulateCoverageResult.combine(rounds)
    assert both.n_sims == 12_000
    pooled = np.mean([r.coverage for r in rounds], axis=0)  # equal round sizes
    assert_allclose(both.coverage, pooled, rtol=1e-14)
    assert_allclose(both.coverage_se, np.sqrt(np.sum([r.coverage_se**2 for r in rounds], axis=0)) / 3, rtol=1e-14)
    assert_allclose(both.exact_coverage, rounds[0].exact_coverage, rtol=1e-15)
    assert_array_equal(both.method, rounds[0].method)
    big = simengine.simulate_coverage(**{**kw, "n_sims": 12_000}, rng=12)
    se = np.hypot(both.coverage_se, big.coverage_se)
    assert (np.abs(both.coverage - big.coverage) <= 4 * se + 1e-12).all()
    assert (np.abs(both.mean_width - big.mean_width) <= 4 * np.hypot(both.mean_width_se, big.mean_width_se)).all()


def test_coverage_target_se_met_deterministic_and_capped():
    kw = dict(p=[0.1, 0.5], n=30, methods=("wilson", "normal"), n_sims=2000)
    res = simengine.simulate_coverage(**kw, target_se=0.004, rng=5)
    assert np.max(res.coverage_se) <= 0.004 and np.max(res.mean_width_se) <= 0.004
    assert res.n_sims % 2000 == 0 and res.n_sims > 2000
    again = simengine.simulate_coverage(**kw, target_se=0.004, rng=5)
    assert again.n_sims == res.n_sims and np.array_equal(again.coverage, res.coverage)
    # round i is the run on the i-th child stream: the first round is that plain run
    first = simengine.simulate_coverage(**kw, rng=np.random.SeedSequence(5, spawn_key=(0,)))
    assert_allclose(simengine.SimulateCoverageResult.combine(
        [first] + [simengine.simulate_coverage(**kw, rng=np.random.SeedSequence(5, spawn_key=(i,)))
                   for i in range(1, res.n_sims // 2000)]).coverage, res.coverage, rtol=1e-14)
    with pytest.warns(simengine.TargetNotReachedWarning, match="`target_se` = 0.0001 not reached"):
        capped = simengine.simulate_coverage(**kw, target_se=1e-4, max_sims=6000, rng=5)
    assert capped.n_sims == 6000


def test_bayes_peeking_target_se_combines_counts_and_replicates():
    kw = dict(n_looks=3, visitors_per_look=40, rate=0.2, n_sims=500)
    res = simengine.simulate_bayes_peeking(**kw, target_se=0.008, rng=4)
    assert res.prob_declare_peeking_se <= 0.008 and res.prob_declare_final_se <= 0.008
    n = res.n_sims
    assert n % 500 == 0 and n > 500
    assert res.first_crossing.shape == (n,) and res.final_prob_b_better.shape == (n,)
    assert res.stop_look_counts.dtype == np.int64
    assert_array_equal(res.stop_look_counts, np.bincount(res.first_crossing, minlength=4)[1:])
    assert_allclose(res.prob_declare_peeking, np.mean(res.first_crossing > 0), rtol=1e-14)
    assert_allclose(res.prob_declare_final, np.mean(res.final_prob_b_better > 0.95), rtol=1e-14)
    rounds = [simengine.simulate_bayes_peeking(**kw, rng=np.random.SeedSequence(4, spawn_key=(i,)))
              for i in range(n // 500)]
    assert_array_equal(res.first_crossing, np.concatenate([r.first_crossing for r in rounds]))
    with pytest.warns(simengine.TargetNotReachedWarning):
        capped = simengine.simulate_bayes_peeking(**kw, target_se=1e-4, max_sims=1000, rng=4)
    assert capped.n_sims == 1000
    assert_array_equal(capped.first_crossing, np.concatenate([r.first_crossing for r in rounds[:2]]))


def test_method_specific_kernels_equal_the_full_kernels():
    import numba

    # Calls that need only exact sums, or only quadrature, run kernels compiled without the other method (cold
    # start): they must give the full kernels' numbers bit for bit, and the sums kernel must hand a scenario
    # without a short enough sum back to the full kernel.
    counts = np.array([[3, 30, 0, 500], [10, 100, 5, 1000], [4, 35, 5, 520], [10, 100, 5, 1000]], dtype=np.int64)
    for priors, kernel in ((np.array([[1.0, 1.0], [2.0, 3.0]]), kb._bayes_ab_counts_sums),
                           (np.array([[0.5, 0.5], [0.5, 2.5]]), kb._bayes_ab_counts_quad)):
        full = kb._bayes_ab_counts_serial(counts, priors)
        part = kernel(counts, priors)
        assert part[2] and (len(part) == 3 or part[3])
        assert_array_equal(part[0], full[0])
        assert_array_equal(part[1], full[1])
    big = np.array([[2_000_000], [4_000_000], [2_000_100], [4_000_000]], dtype=np.int64)
    assert not kb._bayes_ab_counts_sums(big, np.array([[1.0, 1.0]]))[3]
    res = simengine.bayes_ab(2_000_000, 4_000_000, 2_000_100, 4_000_000)  # falls back to the full kernel
    assert_array_equal(res.prob_b_better, kb._bayes_ab_counts_serial(big, np.array([[1.0, 1.0]]))[1][0, 0])
    outs = []
    for kernel in (kb._bayes_peeking, kb._bayes_peeking_sums):
        first, final = np.zeros(300, dtype=np.int64), np.empty(300)
        g = np.random.default_rng(5)
        gens = numba.typed.List.empty_list(numba.typeof(g))
        gens.append(g)
        # one block of 300 experiments as one unit: 4 looks of 50 visitors, rates 0.1 and 0.12, uniform prior
        kernel(gens, 0, 1, 0, 1, 300, 4, 50, 0.1, 0.12, 1.0, 1.0, 0.9, 300, 300, first, final)
        outs.append((first, final))
    assert outs[0][0].any()
    assert_array_equal(outs[0][0], outs[1][0])
    assert_array_equal(outs[0][1], outs[1][1])
