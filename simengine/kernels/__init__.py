"""@njit kernels only: arrays and scalars in, arrays or scalars out.

No validation, no defaults that matter, no Python objects.  Nothing here imports
the public layer; kernels import only `simengine._jit` (the numba options) and
`simengine._numba_compat` (the one door to numba's / NumPy's internals, and the
x86-64 decision of the MH kernels), neither of which imports the public layer.

The names in `__all__` are the public kernel API: documented, stable @njit functions
(and three constants) to call from your own numba code, e.g.::

    from numba import njit
    from simengine import kernels

    @njit
    def welch_p(x, y):
        m1, v1 = kernels.mean_var(x)
        m2, v2 = kernels.mean_var(y)
        t, df = kernels.welch_t_from_stats(len(x), m1, v1, len(y), m2, v2)
        return kernels.t_pvalue(t, df, kernels.TWO_SIDED)

They load on first use (importing `simengine` compiles nothing and loads none of them),
each compiles for the argument types it is called with, and each docstring states its
signature, dtypes and what NaN does.  Removing or changing one is a breaking change.
Every other name in the kernel modules, with or without a leading underscore, is
internal and may change in any release.

From `simengine.kernels.special` (float64 scalars in and out, scipy's meaning):
    norm_pdf, norm_cdf, norm_sf, norm_logcdf, norm_ppf, norm_isf,
    t_pdf, t_cdf, t_sf, t_ppf, t_pvalue_two_sided,
    betaln, beta_logpdf, betainc, betaincc
From `simengine.kernels.api`:
    distributions: t_isf, beta_cdf, beta_sf, beta_ppf, beta_isf, binom_pmf, binom_cdf, binom_sf
    two-sample tests: TWO_SIDED, LESS, GREATER, mean_var, student_t_from_stats,
        welch_t_from_stats, t_pvalue, z_pvalue, two_proportion_z, mannwhitneyu_u,
        mannwhitneyu_z, mannwhitneyu_pvalue, mannwhitneyu_asymptotic
    drift: ddm_state, ddm_update, ddm_drift_detected, ddm_n, ddm_error_rate,
        adwin_state, adwin_update, adwin_drift_detected, adwin_width, adwin_estimation,
        adwin_variance, adwin_n_detections, psi_bin_counts, psi_from_counts, psi_block
    Beta-Binomial A/B: beta_prob_greater, bayes_ab_beta
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the lazy names below, for type checkers and IDEs
    from simengine.kernels.api import (
        GREATER,
        LESS,
        TWO_SIDED,
        adwin_drift_detected,
        adwin_estimation,
        adwin_n_detections,
        adwin_state,
        adwin_update,
        adwin_variance,
        adwin_width,
        bayes_ab_beta,
        beta_cdf,
        beta_isf,
        beta_ppf,
        beta_prob_greater,
        beta_sf,
        binom_cdf,
        binom_pmf,
        binom_sf,
        ddm_drift_detected,
        ddm_error_rate,
        ddm_n,
        ddm_state,
        ddm_update,
        mannwhitneyu_asymptotic,
        mannwhitneyu_pvalue,
        mannwhitneyu_u,
        mannwhitneyu_z,
        mean_var,
        psi_bin_counts,
        psi_block,
        psi_from_counts,
        student_t_from_stats,
        t_isf,
        t_pvalue,
        two_proportion_z,
        welch_t_from_stats,
        z_pvalue,
    )
    from simengine.kernels.special import (
        beta_logpdf,
        betainc,
        betaincc,
        betaln,
        norm_cdf,
        norm_isf,
        norm_logcdf,
        norm_pdf,
        norm_ppf,
        norm_sf,
        t_cdf,
        t_pdf,
        t_ppf,
        t_pvalue_two_sided,
        t_sf,
    )

__all__ = [
    # simengine.kernels.special
    "norm_pdf",
    "norm_cdf",
    "norm_sf",
    "norm_logcdf",
    "norm_ppf",
    "norm_isf",
    "t_pdf",
    "t_cdf",
    "t_sf",
    "t_ppf",
    "t_pvalue_two_sided",
    "betaln",
    "beta_logpdf",
    "betainc",
    "betaincc",
    # simengine.kernels.api
    # distributions not in `special`
    "t_isf",
    "beta_cdf",
    "beta_sf",
    "beta_ppf",
    "beta_isf",
    "binom_pmf",
    "binom_cdf",
    "binom_sf",
    # two-sample tests from sufficient statistics
    "TWO_SIDED",
    "LESS",
    "GREATER",
    "mean_var",
    "student_t_from_stats",
    "welch_t_from_stats",
    "t_pvalue",
    "z_pvalue",
    "two_proportion_z",
    "mannwhitneyu_u",
    "mannwhitneyu_z",
    "mannwhitneyu_pvalue",
    "mannwhitneyu_asymptotic",
    # drift detection
    "ddm_state",
    "ddm_update",
    "ddm_drift_detected",
    "ddm_n",
    "ddm_error_rate",
    "adwin_state",
    "adwin_update",
    "adwin_drift_detected",
    "adwin_width",
    "adwin_estimation",
    "adwin_variance",
    "adwin_n_detections",
    "psi_bin_counts",
    "psi_from_counts",
    "psi_block",
    # Beta-Binomial A/B
    "beta_prob_greater",
    "bayes_ab_beta",
]

# The kernel modules load on first access (PEP 562), so that `import simengine` stays fast and the
# public layer keeps loading a family's kernels only when it is used.
_HOMES = ("special", "api")


def __getattr__(name: str) -> object:
    if name in __all__:
        for home in _HOMES:
            module = importlib.import_module(f"simengine.kernels.{home}")
            if name in module.__all__:
                return getattr(module, name)
    raise AttributeError(f"module 'simengine.kernels' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
