"""Tests for simengine.mcmc (Metropolis-Hastings, R-hat, ESS) and simengine.targets."""
import dataclasses
import math
import warnings

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.special import logsumexp

import simengine
from _subproc import run_with_threads
from simengine import mcmc, targets
from simengine._rng import as_seed_sequence, numpy_block_generators, pcg64_block_states
from simengine.kernels import mcmc as kmcmc
from simengine.mcmc import mcse

RHO = 0.7
COV = np.array([[1.0, RHO], [RHO, 1.0]])
GAUSS = targets.multivariate_normal([0.0, 0.0], COV)


@numba.njit
def _nan_far(x):
    return np.nan if x[0] > 2.0 else -0.5 * x[0] * x[0]


@numba.njit
def _raise_far(x):
    if x[0] > 2.0:
        raise ValueError("density undefined beyond 2")
    return -0.5 * x[0] * x[0]


@numba.njit
def _always_raises(x):
    raise ValueError("never defined")


@numba.njit
def _returns_array(x):
    return x * 2.0


@numba.njit
def _half_line(x):
    return -x[0] if x[0] > 0.0 else -np.inf


# --------------------------------------------------------------------------- diagnostics vs arviz


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz

    return arviz


def _ar1(rng, chains, draws, phi, offsets=0.0):
    x = np.empty((chains, draws))
    x[:, 0] = rng.standard_normal(chains)
    e = rng.standard_normal((chains, draws))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + math.sqrt(1 - phi * phi) * e[:, t]
    return x + offsets


@pytest.mark.parametrize(
    "chains,draws,phi,offset",
    [(4, 1000, 0.0, 0.0), (4, 1001, 0.9, 0.0), (2, 300, 0.5, 0.0), (1, 500, 0.3, 0.0), (4, 400, 0.95, 0.0),
     (3, 250, 0.2, np.array([[0.0], [0.0], [1.5]]))],
)
def test_rhat_ess_match_arviz(chains, draws, phi, offset):
    az = _arviz()
    x = _ar1(np.random.default_rng(draws + chains), chains, draws, phi, offset)
    if chains > 1:  # arviz refuses one chain; we return its split R-hat, as Stan does
        assert_allclose(simengine.rhat(x), float(az.rhat(x, method="rank")), rtol=1e-10)
    else:
        assert 0.99 < simengine.rhat(x) < 1.02
    assert_allclose(simengine.ess(x), float(az.ess(x, method="bulk")), rtol=1e-10)
    assert_allclose(simengine.ess(x, method="tail"), float(az.ess(x, method="tail")), rtol=1e-10)
    assert_allclose(mcse(x), np.asarray(az.mcse(x, method="mean")).item(), rtol=1e-10)


def test_rhat_ess_match_arviz_with_ties_and_params():
    az = _arviz()
    rng = np.random.default_rng(5)
    x = np.stack([rng.poisson(3.0, (4, 200)).astype(float), _ar1(rng, 4, 200, 0.6)], axis=-1)
    r, e = simengine.rhat(x), simengine.ess(x)
    assert r.shape == e.shape == (2,)
    for j in range(2):
        assert_allclose(r[j], float(az.rhat(x[:, :, j], method="rank")), rtol=1e-10)
        assert_allclose(e[j], float(az.ess(x[:, :, j], method="bulk")), rtol=1e-10)
    assert_allclose(simengine.ess(x, method="tail"), _az_params("ess", x, method="tail"), rtol=1e-10)
    assert_allclose(mcse(x), _az_params("mcse", x, method="mean"), rtol=1e-10)


def test_naive_baseline_equals_the_kernels():
    from simengine import naive

    rng = np.random.default_rng(4)
    x = np.stack([_ar1(rng, 3, 201, 0.8), rng.poisson(2.0, (3, 201)).astype(float)], axis=-1)
    r, e = naive.rhat_ess_numpy(x)
    assert_allclose(r, simengine.rhat(x), rtol=1e-10)
    assert_allclose(e, simengine.ess(x), rtol=1e-10)


def _az_params(name, x, **kwargs):
    """arviz's diagnostic `name` of each parameter of (chains, draws, params), as an array."""
    az = _arviz()
    fn = getattr(az, name)
    return np.array([np.asarray(fn(np.ascontiguousarray(x[:, :, j]), **kwargs)).item() for j in range(x.shape[2])])


def _all_four(x):
    return simengine.rhat(x), simengine.ess(x), simengine.ess(x, method="tail"), mcse(x)


def _all_four_arviz(x):
    nan = np.full(x.shape[2], np.nan)
    rhat_ = _az_params("rhat", x, method="rank") if x.shape[0] > 1 else nan
    return rhat_, _az_params("ess", x, method="bulk"), _az_params("ess", x, method="tail"), _az_params("mcse", x)


def test_diagnostics_of_constant_ties_and_non_finite_parameters_match_arviz():
    rng = np.random.default_rng(8)
    x = np.empty((3, 9, 7))  # odd draws: the middle draw is dropped from the split chains
    x[:, :, 0] = 2.5  # constant: R-hat NaN (0/0), ESS = split draws, MCSE 0
    x[:, :, 1] = rng.integers(0, 2, (3, 9))  # two values: half-integer average ranks
    x[:, :, 2] = np.where(rng.random((3, 9)) < 0.5, -0.0, 0.0) + rng.integers(0, 3, (3, 9))  # -0.0 ties 0.0
    x[:, :, 3] = np.repeat(np.arange(3.0), 9).reshape(3, 9)  # constant within chains, different between
    x[:, :, 4] = rng.standard_normal((3, 9))
    x[1, 4, 4] = np.nan  # the middle draw of an odd chain: dropped from the split chains, still NaN (arviz)
    x[:, :, 5] = rng.standard_normal((3, 9))
    x[0, 0, 5] = np.inf
    x[:, :, 6] = np.round(rng.standard_normal((3, 9)), 0)
    az = _arviz()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz warns about the NaN parameter
        ours, theirs = _all_four(x), _all_four_arviz(x)
    for name, a, b in zip(("rhat", "ess bulk", "ess tail", "mcse"), ours, theirs):
        assert a.shape == (7,)
        # arviz ranks +inf like any draw; we give NaN for any non-finite draw (as before): not compared
        keep = np.arange(7) != 5
        assert_allclose(a[keep], b[keep], rtol=1e-10, err_msg=name)
    assert np.isnan(ours[0][[0, 4, 5]]).all() and ours[1][0] == ours[2][0] == 3 * 8 and ours[3][0] == 0.0
    assert np.isnan([o[4] for o in ours]).all() and np.isnan([o[5] for o in ours]).all()
    assert az is not None


def test_diagnostics_fft_route_equals_direct_lag_sums(monkeypatch):
    # series whose Geyer sequence runs past `_max_lag` lags get FFT autocovariances; forcing
    # every series through that route changes nothing but rounding
    from simengine import mcmc as m

    rng = np.random.default_rng(9)
    x = np.stack([_ar1(rng, 3, 301, phi) for phi in (0.0, 0.6, 0.97)], axis=-1)
    direct = _all_four(x)
    monkeypatch.setattr(m, "_max_lag", lambda n: 2)
    forced = _all_four(x)
    for a, b in zip(direct, forced):
        assert_allclose(a, b, rtol=1e-12)
    # and a chain slow enough to need it at the default, against arviz
    monkeypatch.undo()
    slow = _ar1(rng, 2, 2000, 0.999)[:, :, None]
    for a, b in zip(_all_four(slow), _all_four_arviz(slow)):
        assert_allclose(a, b, rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(4, 40), st.integers(1, 3), st.sampled_from(["normal", "ties", "ar"]),
       st.integers(0, 2**32 - 1))
def test_diagnostics_match_arviz_hypothesis(chains, draws, params, kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "normal":
        x = rng.standard_normal((chains, draws, params)) * 10.0 ** rng.integers(-3, 4)
    elif kind == "ties":
        x = rng.integers(-2, 3, (chains, draws, params)).astype(float)
    else:
        x = np.stack([_ar1(rng, chains, draws, 0.9) for _ in range(params)], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _all_four_arviz(x)
    ours = _all_four(x)
    for name, a, b in zip(("rhat", "ess bulk", "ess tail", "mcse"), ours, theirs):
        if name == "rhat" and chains == 1:
            continue  # arviz gives NaN for one chain
        assert_allclose(a, b, rtol=1e-10, atol=1e-300, err_msg=name)


@pytest.mark.parametrize("kind,values", [(np.int32, "normal"), (np.int32, "narrow"), (np.int32, "ties"),
                                         (np.int32, "short"), (np.int64, "ties")])  # int64: past 2**31 draws
def test_radix_sort_kernel(kind, values):
    from simengine.kernels import diagnostics as kd

    rng = np.random.default_rng(3)
    v = {
        "normal": rng.standard_normal(5000) * 1e3,
        "narrow": 1.0 + rng.random(5000),  # sign and exponent bits shared: the top passes are skipped
        "ties": np.where(rng.random(5000) < 0.5, -0.0, 0.0) + rng.integers(-3, 3, 5000),
        "short": rng.standard_normal(100),  # a short series: radix too (no argsort path to compile)
    }[values]
    sorted_values, order = kd._sort_with_order(v, np.empty(0, kind))
    assert order.dtype == kind
    assert_array_equal(sorted_values, np.sort(v))
    assert_array_equal(v[order], sorted_values)
    assert_array_equal(np.sort(order), np.arange(v.size))


@pytest.mark.parametrize("values", ["normal", "ties", "constant", "sorted", "reversed"])
def test_tail_quantile_by_selection_equals_the_sorted_draws_type7(values):
    # tail ESS finds its two type-7 quantiles by quickselect, not a sort: the same numbers
    from simengine.kernels import diagnostics as kd

    rng = np.random.default_rng(6)
    v = {"normal": rng.standard_normal(999), "ties": rng.integers(-2, 3, 1000).astype(float),
         "constant": np.full(64, 2.5), "sorted": np.arange(500.0), "reversed": np.arange(500.0)[::-1].copy()}[values]
    s = np.sort(v)
    n = v.size
    for p in (0.05, 0.95):
        aleph = n * p + (1.0 + p * -1.0)
        k = math.floor(min(max(aleph, 1.0), n - 1.0))
        gamma = min(max(aleph - k, 0.0), 1.0)
        assert kd._quantile7(v.copy(), p) == (1.0 - gamma) * s[k - 1] + gamma * s[k]


def test_ess_independent_draws_near_total_and_constant_chain():
    x = np.random.default_rng(1).standard_normal((4, 2000))
    assert 0.85 * 8000 < simengine.ess(x) < 1.15 * 8000
    assert simengine.ess(np.ones((2, 50))) == 100.0
    assert math.isnan(simengine.rhat(np.array([[1.0, 2.0, np.nan, 3.0, 4.0]])))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(-8, 8), st.permutations(range(3)))
def test_diagnostics_invariant_to_monotone_maps(seed, power, order):
    # both are rank based: increasing maps and the order of chains leave them unchanged
    # (scaling by powers of two, so that rounding cannot create ties in |x - median|)
    x = _ar1(np.random.default_rng(seed), 3, 120, 0.5)
    assert_allclose(simengine.rhat(2.0**power * x[list(order)]), simengine.rhat(x), rtol=1e-12)
    assert_allclose(simengine.ess(np.exp(x)), simengine.ess(x), rtol=1e-12)


def test_rhat_iv():
    with pytest.raises(ValueError, match="at least 4 draws"):
        simengine.rhat(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="`samples` must be 1-D or 2-D or 3-D"):
        simengine.rhat(np.zeros((2, 3, 4, 5)))
    with pytest.raises(TypeError, match="`samples` must contain real numbers"):
        simengine.rhat(np.array([["a"] * 5]))


def test_ess_iv():
    with pytest.raises(ValueError, match="at least 4 draws"):
        simengine.ess(np.zeros(3))
    with pytest.raises(ValueError, match="`samples` must not be empty"):
        simengine.ess(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="`method` must be one of 'bulk', 'tail'; got 'mean'"):
        simengine.ess(np.zeros((2, 10)), method="mean")
    with pytest.raises(TypeError, match="`method` must be one of 'bulk', 'tail'"):
        simengine.ess(np.zeros((2, 10)), method=None)


def test_mcse_iv():
    with pytest.raises(ValueError, match="at least 4 draws"):
        mcse(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="`samples` must be 1-D or 2-D or 3-D"):
        mcse(np.zeros((2, 3, 4, 5)))
    with pytest.raises(TypeError, match="`samples` must contain real numbers"):
        mcse(np.array([["a"] * 5]))


# --------------------------------------------------------------------------- targets


def test_multivariate_normal_matches_scipy():
    mean, cov = np.array([1.0, -2.0, 0.5]), np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    f = targets.multivariate_normal(mean, cov)
    for x in np.random.default_rng(0).normal(size=(5, 3)):
        assert_allclose(f(x), stats.multivariate_normal(mean, cov).logpdf(x), rtol=1e-12)


def test_mixture_matches_scipy_and_banana_moments():
    w, means = np.array([0.2, 0.8]), np.array([[-2.0, 0.0], [2.0, 1.0]])
    covs = np.array([np.eye(2), [[1.0, 0.5], [0.5, 2.0]]])
    f = targets.mixture(w * 3, means, covs)  # unnormalised weights are normalised
    for x in np.random.default_rng(1).normal(size=(5, 2)) * 3:
        ref = logsumexp([np.log(w[i]) + stats.multivariate_normal(means[i], covs[i]).logpdf(x) for i in range(2)])
        assert_allclose(f(x), ref, rtol=1e-12)
    # banana: the twist has unit Jacobian, so it is x1 ~ N(0, s^2), x2 | x1 ~ N(b (x1^2 - s^2), a^2)
    b, a, s = 0.05, 1.5, 4.0
    g = targets.banana(b=b, a=a, sigma1=s)
    for x in np.random.default_rng(2).normal(size=(5, 2)) * 3:
        ref = stats.norm.logpdf(x[0], 0, s) + stats.norm.logpdf(x[1], b * (x[0] ** 2 - s * s), a)
        assert_allclose(g(x), ref, rtol=1e-12)


def test_targets_iv():
    with pytest.raises(ValueError, match="`cov` must be positive definite"):
        targets.multivariate_normal([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="`cov` must have shape"):
        targets.multivariate_normal([0.0, 0.0], np.eye(3))
    with pytest.raises(ValueError, match="`cov` must be symmetric"):
        targets.multivariate_normal([0.0, 0.0], [[1.0, 0.1], [0.0, 1.0]])
    with pytest.raises(ValueError, match="`a` must be in"):
        targets.banana(a=0.0)
    with pytest.raises(ValueError, match="`weights` must be positive"):
        targets.mixture([1.0, 0.0], [[0.0], [1.0]], [[[1.0]], [[1.0]]])
    with pytest.raises(ValueError, match="`covs` must have shape"):
        targets.mixture([1.0, 1.0], [[0.0], [1.0]], [[[1.0]]])


# --------------------------------------------------------------------------- sampler


def _within_4se(values, target):
    """|mean(values) - target| <= 4 SE with the SE from values' bulk ESS; values (chains, draws)."""
    se = values.std() / math.sqrt(simengine.ess(values))
    return abs(values.mean() - target) <= 4 * se


def test_mh_correlated_gaussian_moments():
    res = simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=25_000, burn_in=2000, proposal_scale=1.6,
                                        n_chains=4, rng=2024)
    x = res.samples
    assert x.shape == (4, 23_000, 2)
    assert np.all(res.rhat < 1.01)
    assert np.all(res.ess > 2000)
    assert np.all((res.acceptance_rate > 0.2) & (res.acceptance_rate < 0.6))
    for j in range(2):
        assert _within_4se(x[:, :, j], 0.0)
        assert _within_4se(x[:, :, j] ** 2, 1.0)  # variance, the mean being 0
    assert _within_4se(x[:, :, 0] * x[:, :, 1], RHO)  # covariance = correlation here
    # kept log densities are the target's at the kept states
    some = x[1, :50]
    assert_allclose(res.log_density[1, :50], [GAUSS(np.ascontiguousarray(v)) for v in some], rtol=1e-13)


def test_mh_result_protocol_and_draws_frame():
    res = simengine.metropolis_hastings(GAUSS, np.zeros((2, 2)), n_steps=60, burn_in=10, thin=2, rng=5)
    assert isinstance(res, simengine.MetropolisHastingsResult)
    with pytest.raises(TypeError, match="does not unpack"):
        tuple(res)
    assert set(res.to_dict()) == {"samples", "log_density", "acceptance_rate", "ess", "rhat", "proposal_scale"}
    frame = res.to_frame()
    assert list(frame.columns) == ["chain", "draw", "x0", "x1", "log_density"]
    assert len(frame) == 2 * 25
    assert_array_equal(frame[["x0", "x1"]].to_numpy(), res.samples.reshape(-1, 2))
    assert_array_equal(frame.log_density, res.log_density.reshape(-1))
    assert_array_equal(frame.chain, np.repeat([0, 1], 25))
    assert_array_equal(frame.draw, np.tile(np.arange(25), 2))


def test_mh_adapt_reaches_target_and_uses_cov():
    res = simengine.metropolis_hastings(GAUSS, np.zeros((3, 2)) + [[0.0], [1.0], [-1.0]], n_steps=12_000,
                                        burn_in=4000, proposal_scale=0.05, proposal_cov=COV, adapt=True, rng=3)
    assert res.samples.shape == (3, 8000, 2)
    assert np.all(np.abs(res.acceptance_rate - 0.234) < 0.06)
    assert np.all(res.proposal_scale > 0.5)  # grew from a far too small start
    thin = simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=1001, burn_in=1, thin=7, n_chains=2, rng=3)
    assert thin.samples.shape == (2, 1000 // 7, 2)
    r, e = simengine.rhat(thin.samples), simengine.ess(thin.samples)
    assert_allclose(thin.rhat, r, rtol=1e-14)
    assert_allclose(thin.ess, e, rtol=1e-14)


def test_mh_diagnostics_are_lazy_cached_and_equal_arviz():
    az = _arviz()
    res = simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=3001, burn_in=1, n_chains=3, rng=11)
    # nothing computed yet: the slots are unset until first read
    assert "ess" not in _set_slots(res) and "rhat" not in _set_slots(res)
    r = res.rhat
    assert _set_slots(res) >= {"ess", "rhat"}  # both from one ranking of the draws
    assert res.rhat is r and res.ess is res.ess  # cached
    for j in range(2):
        assert_allclose(res.rhat[j], float(az.rhat(res.samples[:, :, j], method="rank")), rtol=1e-10)
        assert_allclose(res.ess[j], float(az.ess(res.samples[:, :, j], method="bulk")), rtol=1e-10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.rhat = r
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        res.nope  # noqa: B018
    assert "rhat=array(" in repr(res) and "samples" not in repr(res)
    assert set(res.to_dict()) == {"samples", "log_density", "acceptance_rate", "ess", "rhat", "proposal_scale"}
    # a fresh result (to_dict reads them) and one with too few kept draws (NaN)
    fresh = simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=3001, burn_in=1, n_chains=3, rng=11)
    assert_array_equal(fresh.to_dict()["ess"], res.ess)
    short = simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=4, burn_in=1, n_chains=2, rng=1)
    assert np.isnan(short.ess).all() and np.isnan(short.rhat).all() and short.ess.shape == (2,)


def _set_slots(res):
    out = set()
    for name in ("samples", "log_density", "acceptance_rate", "ess", "rhat", "proposal_scale"):
        try:
            type(res).__dict__[name].__get__(res)
        except AttributeError:
            continue
        out.add(name)
    return out


def _replay(log_density, x0, chol, scale, n_steps, burn_in, thin, adapt, seed):
    """Plain NumPy/Python replay of the chain kernels of kernels.mcmc.mh_kernels."""
    gens = numpy_block_generators(as_seed_sequence(seed), x0.shape[0])
    chains = []
    for c, g in enumerate(gens):
        x = x0[c].copy()
        lp = log_density(x)
        log_s, s = math.log(scale), scale
        kept = []
        for t in range(n_steps):
            z = np.array([g.standard_normal() for _ in range(x.size)])
            prop = x + s * (chol @ z)
            e = g.standard_exponential()  # accept iff log U < ratio, U = exp(-E) uniform
            lp_new = log_density(prop)
            ratio = lp_new - lp
            if ratio >= -e:
                x, lp = prop, lp_new
            if t < burn_in:
                if adapt:
                    log_s += ((1.0 if ratio >= 0 else math.exp(ratio)) - 0.234) / (t + 1.0) ** 0.6
                    s = math.exp(log_s)
            elif (t - burn_in + 1) % thin == 0:
                kept.append(x.copy())
        chains.append(kept)
    return np.array(chains)


@pytest.mark.parametrize("adapt,thin", [(False, 1), (True, 3)])
def test_mh_numpy_replay(adapt, thin):
    cov = np.array([[1.0, 0.3], [0.3, 0.5]])
    x0 = np.array([[0.5, -0.5], [2.0, 1.0]])
    res = simengine.metropolis_hastings(GAUSS, x0, n_steps=400, burn_in=100, thin=thin, proposal_scale=0.8,
                                        proposal_cov=cov, adapt=adapt, rng=77)
    ref = _replay(GAUSS, x0, np.linalg.cholesky(cov), 0.8, 400, 100, thin, adapt, 77)
    assert_allclose(res.samples, ref, rtol=1e-13, atol=1e-14)


def test_mh_single_chain_kernel_equals_chain_zero():
    # one chain runs the one-chain kernel; several run the parallel kernel: chain 0 draws from
    # the same block stream in both, so both give the same chain
    kw = dict(n_steps=600, burn_in=100, thin=2, proposal_scale=0.9, proposal_cov=COV, rng=5)
    one = simengine.metropolis_hastings(GAUSS, np.array([0.3, -0.2]), n_chains=1, **kw)
    two = simengine.metropolis_hastings(GAUSS, np.array([0.3, -0.2]), n_chains=2, **kw)
    assert_array_equal(one.samples[0], two.samples[0])
    assert_array_equal(one.log_density[0], two.log_density[0])
    assert one.acceptance_rate[0] == two.acceptance_rate[0]
    ref = _replay(GAUSS, np.array([[0.3, -0.2]]), np.linalg.cholesky(COV), 0.9, 600, 100, 2, False, 5)
    assert_allclose(one.samples, ref, rtol=1e-13, atol=1e-14)
    adapted = simengine.metropolis_hastings(GAUSS, np.zeros(2), n_chains=1, adapt=True, **kw)
    ref = _replay(GAUSS, np.zeros((1, 2)), np.linalg.cholesky(COV), 0.9, 600, 100, 2, True, 5)
    assert_allclose(adapted.samples, ref, rtol=1e-13, atol=1e-14)


def _run_kernel(f, x0, mode, *, n_steps, burn_in=0, thin=1, adapt=False, scale=1.0, cov=None, seed=0,
                can_time=kmcmc.CAN_TIME):
    """The chain kernels called directly with a chosen strategy (the public function always uses AUTO).

    `can_time` is the platform's decision (the cycle counter only on x86-64), as the public function passes it.
    """
    x0 = np.atleast_2d(np.asarray(x0, dtype=float))
    n, dim = x0.shape
    chol = np.zeros((1, 1)) if cov is None else np.ascontiguousarray(np.linalg.cholesky(cov))
    samples = np.empty((n, (n_steps - burn_in) // thin, dim))
    logps = np.empty(samples.shape[:2])
    counts = np.empty((n, 3), dtype=np.int64)
    scales = np.empty(n)
    fail_x = np.zeros((n, dim))
    kernel = kmcmc.one if n == 1 else kmcmc.chains  # as the public function picks them
    control = np.zeros(n + 1, dtype=np.int64)  # stop flag and steps done per chain (the Ctrl-C path)
    density = mcmc._compiled_density(f)  # the public function's C wrapper of the density, compiled once
    kernel(density.address, kmcmc.dim_tag(dim), x0, chol, cov is None, scale, n_steps, burn_in, thin, adapt, mode,
           can_time, pcg64_block_states(seed, n), samples, logps, counts, scales, fail_x, control)
    return samples, logps, counts, scales, fail_x


MVN9 = targets.multivariate_normal(np.zeros(9), 0.5 * np.eye(9) + 0.5)


@pytest.mark.parametrize(
    "f,x0,kw",
    [
        (GAUSS, [[0.5, -0.5], [2.0, 1.0]], dict(n_steps=1500, burn_in=200, thin=3, cov=COV, scale=0.9)),
        (GAUSS, [[0.0, 0.0]], dict(n_steps=1400, burn_in=300, adapt=True, scale=0.2)),
        (MVN9, [np.linspace(-1, 1, 9)] * 2, dict(n_steps=1300, burn_in=100, thin=2, scale=0.4)),  # generic-D kernel
        (_half_line, [[1.0], [3.0]], dict(n_steps=1200, scale=2.0)),  # -inf proposals, often rejected
    ],
    ids=["2d-cov-thin", "2d-adapt", "9d", "half-line"],
)
def test_mh_speculative_plain_and_auto_give_the_same_chain(f, x0, kw):
    # speculation evaluates the density at both possible next proposals; it must not change the chain
    plain = _run_kernel(f, x0, kmcmc.PLAIN, **kw)
    for mode in (kmcmc.SPECULATIVE, kmcmc.AUTO):
        other = _run_kernel(f, x0, mode, **kw)
        for a, b in zip(plain, other):
            assert_array_equal(a, b)
    assert (plain[2][:, 1] == kmcmc.OK).all()
    res = simengine.metropolis_hastings(f, np.array(x0), n_steps=kw["n_steps"], burn_in=kw.get("burn_in", 0),
                                        thin=kw.get("thin", 1), adapt=kw.get("adapt", False),
                                        proposal_scale=kw["scale"], proposal_cov=kw.get("cov"), rng=0)
    assert_array_equal(res.samples, plain[0])
    assert_array_equal(res.acceptance_rate, plain[2][:, 0] / (kw["n_steps"] - kw.get("burn_in", 0)))


@settings(max_examples=25, deadline=None)
@given(
    n_steps=st.integers(1, 1500),
    burn_frac=st.floats(0.0, 0.9),
    thin=st.integers(1, 5),
    scale=st.floats(0.05, 6.0),
    start=st.floats(-3.0, 3.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_mh_strategies_agree_hypothesis(n_steps, burn_frac, thin, scale, start, seed):
    burn_in = int(burn_frac * n_steps)
    thin = min(thin, n_steps - burn_in)
    kw = dict(n_steps=n_steps, burn_in=burn_in, thin=thin, scale=scale, cov=COV, seed=seed)
    x0 = [[start, -start]]
    plain = _run_kernel(GAUSS, x0, kmcmc.PLAIN, **kw)
    for mode in (kmcmc.SPECULATIVE, kmcmc.AUTO):
        for a, b in zip(plain, _run_kernel(GAUSS, x0, mode, **kw)):
            assert_array_equal(a, b)


def test_mh_speculation_ignores_failures_at_points_not_taken():
    # _nan_far is NaN beyond 2: speculative chains evaluate such points before the decision that
    # discards them; only a NaN at a proposal the chain actually makes is a failure, at the same step
    kw = dict(n_steps=5000, scale=1.0, seed=1)
    plain = _run_kernel(_nan_far, [[0.0]], kmcmc.PLAIN, **kw)
    spec = _run_kernel(_nan_far, [[0.0]], kmcmc.SPECULATIVE, **kw)
    assert plain[2][0, 1] == kmcmc.NAN_DENSITY
    assert_array_equal(plain[2], spec[2])
    assert_array_equal(plain[4], spec[4])
    # replay: the candidate speculation evaluated and discarded crossed 2 before the failing step
    g = numpy_block_generators(as_seed_sequence(1), 1)[0]
    x, lp = 0.0, _nan_far(np.zeros(1))
    y = x + g.standard_normal()
    e = g.standard_exponential()
    discarded = []
    for _ in range(plain[2][0, 2] - 1):
        inc = g.standard_normal()
        e_next = g.standard_exponential()
        lp_y = _nan_far(np.array([y]))
        take = lp_y - lp >= -e
        discarded.append((x if take else y) + inc)
        x, lp = (y, lp_y) if take else (x, lp)
        y, e = x + inc, e_next
    assert y == plain[4][0, 0] > 2.0  # the replay reaches the same failing proposal
    assert max(discarded) > 2.0
    raised = [_run_kernel(_raise_far, [[0.0]], m, **kw)[2] for m in (kmcmc.PLAIN, kmcmc.SPECULATIVE)]
    assert raised[0][0, 1] == kmcmc.RAISED
    assert_array_equal(raised[0], raised[1])


def test_mh_zero_density_region_and_thread_invariance():
    res = simengine.metropolis_hastings(_half_line, np.array([1.0]), n_steps=4000, burn_in=500, n_chains=1, rng=1)
    assert (res.samples > 0).all()  # -inf proposals are always rejected
    code = (
        "import numpy as np, simengine\n"
        "from simengine import targets\n"
        "f = targets.banana(b=0.05)\n"
        "r = simengine.metropolis_hastings(f, np.zeros(2), n_steps=3000, burn_in=500, adapt=True, n_chains=3, rng=9)\n"
        "from simengine.kernels import mcmc\n"
        "result = (r.samples, r.acceptance_rate, r.proposal_scale, sum(mcmc.chains.stats.cache_misses.values()))\n"
    )
    one, two = run_with_threads(code, 1), run_with_threads(code, 2)
    for a, b in zip(one[:3], two[:3]):
        assert_array_equal(a, b)
    # a new density in a new process: the chain kernels come from the disk cache (the first child saved them)
    from simengine._jit import cache_dir

    assert two[3] == 0 or cache_dir() is None


def test_mh_new_density_reuses_the_compiled_chain_kernels():
    simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, n_chains=1, rng=0)
    compiled = len(kmcmc.one.signatures)
    other = targets.multivariate_normal([1.0, 2.0], COV)  # a new dispatcher
    res = simengine.metropolis_hastings(other, np.zeros(2), n_steps=300, n_chains=1, rng=0)
    assert len(kmcmc.one.signatures) == compiled
    wrapper = getattr(other, mcmc._CFUNC_ATTR)
    simengine.metropolis_hastings(other, np.zeros(2), n_steps=10, n_chains=1, rng=0)
    assert getattr(other, mcmc._CFUNC_ATTR) is wrapper  # the density's C wrapper is compiled once
    assert_array_equal(res.log_density, [[other(v) for v in res.samples[0]]])


def test_mh_failures_name_the_step():
    with pytest.raises(ValueError, match=r"`log_density` returned nan at step \d+ of chain 0"):
        simengine.metropolis_hastings(_nan_far, np.zeros(1), n_steps=5000, proposal_scale=3.0, n_chains=1, rng=0)
    with pytest.raises(RuntimeError, match=r"`log_density` raised at step \d+ of chain \d.*density undefined beyond 2"):
        simengine.metropolis_hastings(_raise_far, np.zeros(1), n_steps=5000, proposal_scale=3.0, rng=0)
    with pytest.raises(RuntimeError, match="raised at step 0 of chain 1"):
        simengine.metropolis_hastings(_raise_far, np.array([[0.0], [3.0]]), n_steps=10, proposal_scale=0.01, rng=0)
    with pytest.raises(RuntimeError, match="raised at step 0 of chain 0.*never defined"):  # typed as returning None
        simengine.metropolis_hastings(_always_raises, np.zeros(1), n_steps=10, n_chains=1, rng=0)
    with pytest.raises(ValueError, match="`x0` of chain 0 has zero density"):
        simengine.metropolis_hastings(_half_line, np.array([-1.0]), n_steps=10, n_chains=1, rng=0)


def test_metropolis_hastings_iv():
    def plain(x):
        return -0.5 * float(x @ x)

    with pytest.raises(TypeError, match="`log_density` must be a numba-jitted function.*`@numba.njit`"):
        simengine.metropolis_hastings(plain, np.zeros(2), n_steps=10)
    with pytest.raises(TypeError, match="`log_density` must take a 1-D float64 array and return a float"):
        simengine.metropolis_hastings(_returns_array, np.zeros(2), n_steps=10)
    with pytest.raises(ValueError, match="`burn_in` must be < `n_steps`"):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, burn_in=10)
    with pytest.raises(ValueError, match="`n_steps` must be an integer >= 1"):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=0)
    with pytest.raises(ValueError, match="`proposal_scale` must be in"):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, proposal_scale=0.0)
    with pytest.raises(ValueError, match="`proposal_cov` must have shape"):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, proposal_cov=np.eye(3))
    with pytest.raises(ValueError, match="`proposal_cov` must be positive definite"):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, proposal_cov=-np.eye(2))
    with pytest.raises(ValueError, match="`adapt=True` tunes the scale during burn-in"):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, adapt=True)
    with pytest.raises(TypeError, match="`adapt` must be True or False"):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, burn_in=2, adapt=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'diagnostics'"):  # removed: R-hat/ESS are lazy
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, diagnostics=False)
    with pytest.raises(ValueError, match="`x0` must be finite"):
        simengine.metropolis_hastings(GAUSS, np.array([0.0, np.nan]), n_steps=10)
    with pytest.raises(ValueError, match="`thin` must be <="):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, burn_in=5, thin=6)
    with pytest.raises(ValueError, match="`n_chains` must be an integer >= 1"):
        simengine.metropolis_hastings(GAUSS, np.zeros(2), n_steps=10, n_chains=0)


def test_mh_portable_path_gives_the_same_chain(monkeypatch):
    # Off x86-64 the kernels neither read the cycle counter (a trap on AArch64) nor use the inline-asm
    # barrier; forcing that path here must give the chain of the x86-64 path value for value.
    from simengine import _numba_compat

    assert kmcmc.CAN_TIME == kmcmc._ASM_BARRIER == _numba_compat.X86_64  # one decision, from the triple
    assert _numba_compat.is_x86_64("x86_64-unknown-linux-gnu")
    assert not _numba_compat.is_x86_64("aarch64-unknown-linux-gnu")
    assert not _numba_compat.is_x86_64("arm64-apple-darwin23.0.0")
    kw = dict(n_steps=2000, burn_in=200, thin=2, scale=0.9, cov=COV, seed=3)  # > 4 x 128 steps: AUTO times
    native = _run_kernel(GAUSS, [[0.3, -0.2]], kmcmc.AUTO, **kw)
    monkeypatch.setattr(kmcmc, "_ASM_BARRIER", False)  # read when a kernel is compiled
    # the kernels are compiled once and cached: uncached copies of the chain loop, compiled now without the barrier
    for name in ("_plain", "_speculative", "chain1", "one"):
        kernel = getattr(kmcmc, name)
        options = {k: v for k, v in kernel.targetoptions.items() if k != "nopython"}
        monkeypatch.setattr(kmcmc, name, numba.njit(**options)(kernel.py_func))
    portable = _run_kernel(GAUSS, [[0.3, -0.2]], kmcmc.AUTO, can_time=False, **kw)
    for a, b in zip(native, portable):
        assert_array_equal(a, b)
    (ir,) = kmcmc.one.inspect_llvm().values()
    assert "_speculative" in ir and " asm " not in ir
    monkeypatch.setattr(kmcmc, "_ASM_BARRIER", True)  # the check above can see a barrier

    @numba.njit(cache=False)
    def pick(take, a, b):
        return kmcmc._select(take, a, b)

    pick(True, 1.0, 2.0)
    assert " asm " in next(iter(pick.inspect_llvm().values()))


def test_mh_chain_blocks_in_threads_give_the_serial_chains(monkeypatch):
    # Runs of 2**16 steps or more split the chains into contiguous blocks, one thread each (numba's
    # thread count); every chain must be the one the serial kernel gives, failures included.
    assert mcmc._blocks(5, 10**6) == [(0, 2), (2, 5)] or numba.get_num_threads() != 2
    assert mcmc._blocks(5, 10) == [(0, 5)]
    assert mcmc._blocks(1, 10**6) == [(0, 1)]
    monkeypatch.setattr(numba, "get_num_threads", lambda: 3)  # whatever the machine: 3 blocks
    kw = dict(n_steps=20_000, burn_in=1_000, adapt=True, thin=3, n_chains=5, rng=11)
    blocks = simengine.metropolis_hastings(GAUSS, np.zeros(2), **kw)
    monkeypatch.setattr(mcmc, "_THREADED_STEPS", 10**12)
    serial = simengine.metropolis_hastings(GAUSS, np.zeros(2), **kw)
    for name in ("samples", "log_density", "acceptance_rate", "proposal_scale"):
        assert_array_equal(getattr(blocks, name), getattr(serial, name))
    monkeypatch.setattr(mcmc, "_THREADED_STEPS", 1)
    with pytest.raises(RuntimeError, match="raised at step 0 of chain 3"):  # the first failing chain, in block 2
        simengine.metropolis_hastings(_raise_far, np.array([[0.0], [0.0], [0.0], [3.0]]), n_steps=10,
                                      proposal_scale=0.01, rng=0)
