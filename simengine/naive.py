"""Plain NumPy / SciPy baselines: the straightforward way to write each simulation.

Tests use them as references, `benchmarks/` and `simengine bench` time against
them.  They favour obviousness over speed on purpose; never optimise them.
"""
from __future__ import annotations

import numpy as np

__all__: list[str] = []


# ---------------------------------------------------------------------------------------------------------
# drift detection (issue 6): PSI, DDM, ADWIN
# ---------------------------------------------------------------------------------------------------------


def psi_numpy(reference, current, edges, eps=1e-7):
    """PSI of two 1-D samples on given sorted `edges`, with np.histogram.

    Values below edges[0] are counted in the first bin and values above edges[-1] in the last one (so with
    repeated bottom edges a value below the reference's minimum lands in an empty first bin, not among the
    reference's point mass).
    """

    def counts(x):
        x = np.asarray(x, dtype=np.float64)
        n = np.histogram(x, bins=edges)[0]
        n[0] += np.sum(x < edges[0])
        n[-1] += np.sum(x > edges[-1])
        return n / x.size

    r = counts(reference) + eps
    c = counts(current) + eps
    return float(np.sum((c - r) * np.log(c / r)))


def psi_equal_width_edges(reference, current, bins):
    """Equal-width edges over the combined min..max (one bin holding everything for a constant sample)."""
    lo = min(np.min(reference), np.min(current))
    hi = max(np.max(reference), np.max(current))
    edges = lo + np.arange(bins + 1) * ((hi - lo) / bins)
    edges[-1] = hi
    return edges


def psi_per_feature(reference, current, bins=10, binning="equal-width", eps=1e-7):
    """PSI per column of two (rows x features) arrays: a Python loop over features of `psi_numpy`."""
    out = np.empty(reference.shape[1])
    for j in range(reference.shape[1]):
        r, c = reference[:, j], current[:, j]
        if binning == "quantile":
            edges = np.quantile(r, np.linspace(0.0, 1.0, bins + 1))
        else:
            edges = psi_equal_width_edges(r, c, bins)
        out[j] = psi_numpy(r, c, edges, eps)
    return out


def ddm_python(errors, warning_level=2.0, drift_level=3.0, min_samples=30, track_from_start=False):
    """DDM (Gama et al. 2004) in plain Python, resetting after a drift; status list 0/1/2 per step.

    With ``track_from_start=True`` it is the naive variant that tracks p_min + s_min from the first
    sample (and only tests after the warm-up): after a first run of zeros p_min + s_min = 0, so it
    fires a false drift as soon as the warm-up ends.
    """
    import math

    status = []
    n = 0
    p = 0.0
    p_min = s_min = math.nan
    ps_min = math.inf
    drifted = False
    for x in errors:
        if drifted:
            n, p, p_min, s_min, ps_min = 0, 0.0, math.nan, math.nan, math.inf
        n += 1
        p += (1.0 / n) * (float(x) - p)
        s = math.sqrt(p * (1.0 - p) / n)
        st = 0
        if track_from_start or n > min_samples:
            if p + s <= ps_min:
                p_min, s_min, ps_min = p, s, p + s
        if n > min_samples:
            if p + s > p_min + drift_level * s_min:
                st = 2
            elif p + s > p_min + warning_level * s_min:
                st = 1
        drifted = st == 2
        status.append(st)
    return status


def adwin_exact(values, delta=0.002, min_window_length=5, grace_period=10, clock=1):
    """Exact ADWIN: keep every value of the window and test every split (brute force, O(W^2) per step).

    Same cut rule as `simengine.adwin` (variance bound of Bifet & Gavalda 2007, d' = delta / ln n): while
    some split into older W0 and newer W1 (both >= min_window_length) has |mean0 - mean1| > eps_cut, drop
    the oldest value.  Returns the list of steps at which the window was cut.
    """
    window = []
    hits = []
    for t, x in enumerate(values):
        window.append(float(x))
        cut = False
        if len(window) >= grace_period and (t + 1) % clock == 0:
            while len(window) >= 2 * min_window_length and _adwin_exact_split(window, delta, min_window_length):
                window.pop(0)
                cut = True
        if cut:
            hits.append(t)
    return hits


def _adwin_exact_split(window, delta, min_len):
    import math

    w = np.asarray(window)
    n = w.size
    var = float(np.var(w))
    log_term = math.log(2.0 * math.log(n) / delta)
    for k in range(min_len, n - min_len + 1):
        n0, n1 = k, n - k
        m_inv = 1.0 / n0 + 1.0 / n1
        eps = math.sqrt(2.0 * m_inv * var * log_term) + (2.0 / 3.0) * m_inv * log_term
        if abs(w[:k].mean() - w[k:].mean()) > eps:
            return True
    return False
