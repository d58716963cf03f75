"""Built-in log densities for `metropolis_hastings`: factories returning jitted closures.

Each factory validates its parameters, precomputes what the density needs
(Cholesky factors, log normalisers) and returns a ``numba.njit`` function of a
1-D float64 array.  Numba compiles each returned closure on first use (the density alone,
about 0.2 s: the sampler's chain kernels are compiled once and cached).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from simengine._typing import ArrayLike, FloatArray
from simengine._validate import as_real_array, check_real

__all__ = ["multivariate_normal", "banana", "mixture"]

#: what the factories return: a ``numba.njit`` function of a 1-D float64 array (a numba dispatcher)
LogDensity = Callable[[FloatArray], float]


def _mvn_parts(
    mean: ArrayLike, cov: ArrayLike, name_mean: str = "mean", name_cov: str = "cov"
) -> tuple[FloatArray, FloatArray, float]:
    """Mean, inverse Cholesky factor L^-1 (so that (x-m)' cov^-1 (x-m) = |L^-1 (x-m)|^2), log normaliser."""
    mean = as_real_array(mean, name_mean, ndim=1)
    cov = as_real_array(cov, name_cov, ndim=2)
    d = mean.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"`{name_cov}` must have shape ({d}, {d}) to match `{name_mean}`; got {cov.shape}")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=0.0):
        raise ValueError(f"`{name_cov}` must be symmetric")
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"`{name_cov}` must be positive definite (its Cholesky factorisation failed)") from None
    from scipy.linalg import solve_triangular

    inv_chol = solve_triangular(chol, np.eye(d), lower=True)
    log_norm = -0.5 * d * math.log(2.0 * math.pi) - float(np.log(np.diag(chol)).sum())
    return mean, np.ascontiguousarray(inv_chol), log_norm


def _make_mvn_logpdf() -> Any:
    from simengine._jit import njit

    @njit
    def mvn_logpdf(x: FloatArray, mean: FloatArray, inv_chol: FloatArray, log_norm: float) -> float:
        # |L^-1 (x - mean)|^2 row by row: no scratch array, so no allocation per call.
        d = mean.shape[0]
        q = 0.0
        for i in range(d):
            acc = 0.0
            for j in range(i + 1):
                acc += inv_chol[i, j] * (x[j] - mean[j])
            q += acc * acc
        return log_norm - 0.5 * q

    return mvn_logpdf


_MVN: Any = None


def _mvn_logpdf() -> Any:
    global _MVN
    if _MVN is None:
        _MVN = _make_mvn_logpdf()
    return _MVN


def multivariate_normal(mean: ArrayLike, cov: ArrayLike) -> LogDensity:
    """Log density of the multivariate normal N(`mean`, `cov`), normalised.

    Parameters
    ----------
    mean : array_like, shape (dim,)
    cov : array_like, shape (dim, dim)
        Symmetric positive definite.

    Returns
    -------
    numba dispatcher
        ``f(x) -> float`` for a 1-D float64 array `x`.

    Examples
    --------
    >>> import numpy as np
    >>> from simengine import targets
    >>> f = targets.multivariate_normal([0.0, 0.0], np.eye(2))
    >>> round(f(np.zeros(2)), 6)
    -1.837877
    """
    import numba

    mean, inv_chol, log_norm = _mvn_parts(mean, cov)
    logpdf = _mvn_logpdf()

    @numba.njit
    def log_density(x: FloatArray) -> float:
        return logpdf(x, mean, inv_chol, log_norm)

    return log_density


def banana(b: float = 0.1, a: float = 1.0, sigma1: float = 10.0) -> LogDensity:
    """Haario et al. (1999) "banana": a 2-D Gaussian twisted along a parabola.

    ``x1 ~ N(0, sigma1**2)``, ``x2 - b * (x1**2 - sigma1**2) ~ N(0, a**2)`` (the twist keeps
    the mean at zero), normalised; the map has unit Jacobian, so
    ``E[x1] = E[x2] = 0``, ``Var x1 = sigma1**2`` and ``Var x2 = a**2 + 2 b**2 sigma1**4``.

    Parameters
    ----------
    b : float, default 0.1
        Curvature (0 gives an axis-aligned Gaussian).
    a : float, default 1.0
        Standard deviation across the banana.
    sigma1 : float, default 10.0
        Standard deviation along the first coordinate.

    Returns
    -------
    numba dispatcher

    Examples
    --------
    >>> import numpy as np
    >>> from simengine import targets
    >>> f = targets.banana(b=0.1)
    >>> bool(f(np.array([0.0, -10.0])) > f(np.array([0.0, 5.0])))
    True
    """
    import numba

    b = check_real(b, "b")
    a = check_real(a, "a", low=0.0, low_inclusive=False)
    sigma1 = check_real(sigma1, "sigma1", low=0.0, low_inclusive=False)
    log_norm = -math.log(2.0 * math.pi) - math.log(a) - math.log(sigma1)

    @numba.njit
    def log_density(x: FloatArray) -> float:
        u = x[0] / sigma1
        v = (x[1] - b * (x[0] * x[0] - sigma1 * sigma1)) / a
        return log_norm - 0.5 * (u * u + v * v)

    return log_density


def mixture(weights: ArrayLike, means: ArrayLike, covs: ArrayLike) -> LogDensity:
    """Log density of a finite mixture of multivariate normals, via log-sum-exp.

    Parameters
    ----------
    weights : array_like, shape (k,)
        Positive; normalised to sum to one.
    means : array_like, shape (k, dim)
    covs : array_like, shape (k, dim, dim)
        Symmetric positive definite.

    Returns
    -------
    numba dispatcher

    Examples
    --------
    >>> import numpy as np
    >>> from simengine import targets
    >>> f = targets.mixture([0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]])
    >>> round(f(np.array([3.0])), 6)
    -1.612086
    """
    import numba

    w = as_real_array(weights, "weights", ndim=1)
    if (w <= 0).any():
        raise ValueError("`weights` must be positive")
    means = as_real_array(means, "means", ndim=2)
    covs = as_real_array(covs, "covs", ndim=3)
    k, d = means.shape
    if w.shape[0] != k:
        raise ValueError(f"`weights` must have one entry per row of `means` ({k}); got {w.shape[0]}")
    if covs.shape != (k, d, d):
        raise ValueError(f"`covs` must have shape ({k}, {d}, {d}); got {covs.shape}")
    chols = np.empty((k, d, d))
    log_norms = np.empty(k)
    for i in range(k):  # components, not replicates
        _, chols[i], log_norms[i] = _mvn_parts(means[i], covs[i], f"means[{i}]", f"covs[{i}]")
    w = w / w.max()  # weights near the float maximum would sum to inf and give -inf everywhere
    log_w = np.log(w / w.sum()) + log_norms
    logpdf = _mvn_logpdf()
    zero = np.zeros(k)

    @numba.njit
    def log_density(x: FloatArray) -> float:
        best = -np.inf
        # one-pass log-sum-exp: rescale the running total when a new maximum appears
        total = 0.0
        for i in range(k):
            v = log_w[i] + logpdf(x, means[i], chols[i], zero[i])
            if v > best:
                total = total * math.exp(best - v) + 1.0
                best = v
            else:
                total += math.exp(v - best)
        if best == -np.inf:
            return best
        return best + math.log(total)

    return log_density
