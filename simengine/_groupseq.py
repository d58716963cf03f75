"""Error-spending group-sequential boundaries by recursive numerical integration (NumPy, nothing compiled).

The score statistic S_k = Z_k sqrt(t_k) at information fractions t_k is Brownian motion with drift
`theta` per unit of information fraction (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000,
ch. 19).  `Recursion` carries S's sub-density on the continuation region from look to look (Simpson's
rule on a uniform grid, exact normal tail areas for the crossing probabilities), one look at a time, so
that a spending boundary can be solved look by look (Lan & DeMets 1983): the boundary at look k is the
value whose crossing probability, given no earlier crossing, is the alpha the spending function releases
at t_k.  Two-sided designs spend alpha / 2 on each side with the spending function taken at alpha / 2
(as gsDesign's symmetric designs and ldbounds do).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["SPENDING_KINDS", "spending", "spending_boundaries", "Recursion"]

SPENDING_KINDS = ("ld-obrien-fleming", "ld-pocock", "hsd", "kim-demets")

# Grid step = the smaller sd of the increments into and out of a look / _RESOLUTION (Simpson's error
# falls as step^4: 8 gives crossing probabilities to ~1e-9 and boundaries to ~1e-7), and the grid
# covers the drifting mean +- _WIDTH sds of S_k where no boundary limits it.
_RESOLUTION = 8.0
_WIDTH = 9.0
# The transition to the next grid sums the normal kernel over old points within _BAND sds of a new
# point, _ROWS new points at a time.
_BAND = 10.0
_ROWS = 64
# Largest |z| a boundary takes: a look that spends (almost) nothing gets +inf instead.
_Z_MAX = 37.0


def spending(kind: str | Callable[[Any], Any], t: np.ndarray, alpha: float, gamma: float | None = None,
             rho: float | None = None) -> np.ndarray:
    """Cumulative error spent at information fractions `t` (0 at t = 0, `alpha` at t = 1).

    "ld-obrien-fleming": 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t)); "ld-pocock": alpha log(1 + (e - 1) t)
    (Lan & DeMets 1983); "hsd": alpha (1 - exp(-gamma t)) / (1 - exp(-gamma)), alpha t at gamma = 0
    (Hwang, Shih & DeCani 1990); "kim-demets": alpha t^rho (Kim & DeMets 1987); a callable is called
    with the array `t` and must return the cumulative error spent (of the total `alpha`).
    """
    from scipy.special import ndtr, ndtri

    t = np.asarray(t, dtype=np.float64)
    if callable(kind):
        return np.asarray(kind(t.copy()), dtype=np.float64)
    if kind == "ld-obrien-fleming":
        with np.errstate(divide="ignore"):
            return np.where(t > 0, 2.0 * ndtr(ndtri(alpha / 2.0) / np.sqrt(np.maximum(t, 1e-300))), 0.0)
    if kind == "ld-pocock":
        return alpha * np.log1p((math.e - 1.0) * t)
    if kind == "hsd":
        if abs(gamma) < 1e-9:  # type: ignore[arg-type]  # the limit alpha t (relative error < gamma / 2)
            return alpha * t
        return np.asarray(alpha * np.expm1(-gamma * t) / math.expm1(-gamma))  # type: ignore[operator]
    if kind == "kim-demets":
        return np.asarray(alpha * t**rho)
    raise ValueError(f"unknown spending function {kind!r}")


def _simpson(lo: float, hi: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    m = max(2, math.ceil((hi - lo) / step))
    m += m % 2
    x = np.linspace(lo, hi, m + 1)
    w = np.ones(m + 1)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return x, w * ((hi - lo) / m / 3.0)


class Recursion:
    """The sub-density of S_k on the continuation region, advanced one look at a time.

    Before the first look the state is a point mass at 0 (t = 0); `tails(k, upper, lower)` gives the
    probabilities of crossing look k's upper (>= upper z) and lower (<= lower z) boundaries for the first
    time, and `advance(k, upper, lower)` moves the state to look k's continuation region.
    """

    def __init__(self, t: np.ndarray, theta: float = 0.0) -> None:
        self.t = np.asarray(t, dtype=np.float64)
        self.theta = float(theta)
        self.sd = np.sqrt(np.diff(np.concatenate([[0.0], self.t])))
        self.x = np.zeros(1)
        self.mass = np.ones(1)  # density x Simpson weight at each grid point (a point mass to start)

    def _moments(self, k: int) -> tuple[np.ndarray, float]:
        return self.x + self.theta * self.sd[k] ** 2, float(self.sd[k])

    def tails(self, k: int, upper: float, lower: float) -> tuple[float, float]:
        from scipy.special import ndtr

        mean, sd = self._moments(k)
        root_t = math.sqrt(self.t[k])
        up = float(self.mass @ ndtr((mean - upper * root_t) / sd)) if upper < math.inf else 0.0
        lo = float(self.mass @ ndtr((lower * root_t - mean) / sd)) if lower > -math.inf else 0.0
        return up, lo

    def advance(self, k: int, upper: float, lower: float) -> bool:
        """Move to look k's continuation region; False if (almost) no probability continues."""
        mean, sd = self._moments(k)
        root_t = math.sqrt(self.t[k])
        centre = self.theta * self.t[k]
        lo = max(lower * root_t, centre - _WIDTH * root_t)
        hi = min(upper * root_t, centre + _WIDTH * root_t)
        if not lo < hi:
            self.mass = np.zeros(0)
            self.x = np.zeros(0)
            return False
        nxt = self.sd[k + 1] if k + 1 < self.sd.shape[0] else sd
        x, w = _simpson(lo, hi, min(sd, nxt) / _RESOLUTION)
        dens = np.empty(x.shape[0])
        reach = _BAND * sd  # beyond it the normal density is below 1e-22 of its peak: left out
        for a in range(0, x.shape[0], _ROWS):
            rows = x[a:a + _ROWS]
            j0, j1 = np.searchsorted(mean, (rows[0] - reach, rows[-1] + reach))
            kernel = np.exp(-0.5 * ((rows[:, None] - mean[None, j0:j1]) / sd) ** 2)
            dens[a:a + _ROWS] = kernel @ self.mass[j0:j1]
        self.x, self.mass = x, dens * w / (sd * math.sqrt(2.0 * math.pi))
        return True


def _solve_upper(rec: Recursion, k: int, target: float, symmetric: bool) -> float:
    """z at look k whose first-crossing probability (both sides if `symmetric`) is `target`."""
    from scipy.optimize import brentq

    if target <= 0.0:
        return math.inf

    def spent(c: float) -> float:
        up, lo = rec.tails(k, c, -c if symmetric else -math.inf)
        return up + lo - target

    if spent(_Z_MAX) >= 0.0:  # the look releases more than the state holds beyond 37 sds: effectively none
        return _Z_MAX
    low = -_Z_MAX if not symmetric else 0.0
    if spent(low) <= 0.0:
        raise ValueError(f"look {k + 1} is asked to spend {target:.3g}, more than can still cross there")
    return float(brentq(spent, low, _Z_MAX, xtol=1e-12, rtol=1e-14, maxiter=200))


def spending_boundaries(t: np.ndarray, alpha: float, kind: str | Callable[[Any], Any], two_sided: bool,
                        gamma: float | None = None, rho: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Critical z per look of an error-spending design, and the cumulative alpha it spends (total, both sides).

    `t`: information fractions, increasing, last 1.  Two-sided designs are symmetric: |Z_k| >= c_k
    rejects, alpha / 2 spent per side.  A look whose increment of spending is 0 gets c_k = +inf.
    """
    side = alpha / 2.0 if two_sided else alpha
    if callable(kind):
        cumulative = spending(kind, t, alpha) / (2.0 if two_sided else 1.0)
    else:
        cumulative = spending(kind, t, side, gamma, rho)
    cumulative = np.minimum(np.maximum.accumulate(cumulative), side)
    cumulative[-1] = side  # t = 1 spends alpha exactly (a callable was checked to within 1e-9)
    increments = np.diff(np.concatenate([[0.0], cumulative])) * (2.0 if two_sided else 1.0)
    rec = Recursion(t)
    out = np.empty(t.shape[0])
    for k in range(t.shape[0]):
        out[k] = _solve_upper(rec, k, float(increments[k]), two_sided)
        if k + 1 < t.shape[0]:
            rec.advance(k, out[k], -out[k] if two_sided else -math.inf)
    return out, cumulative * (2.0 if two_sided else 1.0)
