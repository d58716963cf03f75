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

__all__ = ["SPENDING_KINDS", "spending", "cumulative_spent", "spending_boundaries", "Recursion", "design", "design_at"]

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


def cumulative_spent(kind: str | Callable[[Any], Any], t: np.ndarray, total: float, two_sided: bool,
                     gamma: float | None = None, rho: float | None = None) -> np.ndarray:
    """Cumulative error spent per side by each look: non-decreasing, at most the side's share, exactly it at t = 1.

    A named kind is taken at the side's share (total / 2 two-sided); a callable returns the cumulative total,
    halved for two sides (it was checked to spend `total` at t = 1 within 1e-9).
    """
    side = total / 2.0 if two_sided else total
    if callable(kind):
        cumulative = spending(kind, t, total) / (2.0 if two_sided else 1.0)
    else:
        cumulative = spending(kind, t, side, gamma, rho)
    cumulative = np.minimum(np.maximum.accumulate(cumulative), side)
    cumulative[-1] = side
    return cumulative


def spending_boundaries(t: np.ndarray, alpha: float, kind: str | Callable[[Any], Any], two_sided: bool,
                        gamma: float | None = None, rho: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Critical z per look of an error-spending design, and the cumulative alpha it spends (total, both sides).

    `t`: information fractions, increasing, last 1.  Two-sided designs are symmetric: |Z_k| >= c_k
    rejects, alpha / 2 spent per side.  A look whose increment of spending is 0 gets c_k = +inf.
    """
    cumulative = cumulative_spent(kind, t, alpha, two_sided, gamma, rho)
    increments = np.diff(np.concatenate([[0.0], cumulative])) * (2.0 if two_sided else 1.0)
    rec = Recursion(t)
    out = np.empty(t.shape[0])
    for k in range(t.shape[0]):
        out[k] = _solve_upper(rec, k, float(increments[k]), two_sided)
        if k + 1 < t.shape[0]:
            rec.advance(k, out[k], -out[k] if two_sided else -math.inf)
    return out, cumulative * (2.0 if two_sided else 1.0)


def _solve_lower(rec: Recursion, k: int, target: float, upper: float) -> float:
    """Futility z at look k whose first-exit probability below it (upper boundary `upper` above) is `target`."""
    from scipy.optimize import brentq

    if target <= 0.0:
        return -math.inf

    def spent(a: float) -> float:
        return rec.tails(k, upper, a)[1] - target

    top = upper if math.isfinite(upper) else _Z_MAX
    if spent(top) <= 0.0:  # even stopping everything below the efficacy bound spends no more than asked
        return top
    if spent(-_Z_MAX) >= 0.0:
        return -_Z_MAX
    return float(brentq(spent, -_Z_MAX, top, xtol=1e-12, rtol=1e-14, maxiter=200))


def design_at(theta: float, t: np.ndarray, efficacy: np.ndarray | None, alpha_increments: np.ndarray | None,
              beta_increments: np.ndarray | None, two_sided: bool) -> dict[str, Any]:
    """Boundaries and exit probabilities of a design whose drift under H1 is `theta` (S_k's mean theta t_k).

    `efficacy`: fixed efficacy z per look (non-binding or no futility), or None to solve them from
    `alpha_increments` under H0 with the futility boundaries in force (binding).  `beta_increments`:
    the beta spent per look (futility), or None for no futility boundary.  Returns the boundaries, the
    probability of crossing the efficacy boundary under H1 (power), and the probabilities of stopping at
    each look under H0 and H1 (`stop_h0`, `stop_h1`: efficacy either side, or futility; the last look takes
    what remains), split into `efficacy_h0/h1` and `futility_h0/h1` exits.
    """
    n_looks = t.shape[0]
    h0, h1 = Recursion(t, 0.0), Recursion(t, theta)
    eff = np.empty(n_looks)
    fut = np.full(n_looks, -math.inf)
    exits = {name: np.zeros(n_looks) for name in ("efficacy_h0", "efficacy_h1", "futility_h0", "futility_h1")}
    power = 0.0
    for k in range(n_looks):
        if efficacy is None:
            eff[k] = _solve_upper(h0, k, float(alpha_increments[k]), two_sided)  # type: ignore[index]
        else:
            eff[k] = efficacy[k]
        if beta_increments is not None:
            fut[k] = eff[k] if k == n_looks - 1 else _solve_lower(h1, k, float(beta_increments[k]), eff[k])
        lower = -eff[k] if two_sided else fut[k]
        up1, lo1 = h1.tails(k, eff[k], lower)
        up0, lo0 = h0.tails(k, eff[k], lower)
        power += up1
        if two_sided:  # the lower boundary is efficacy too
            up0, lo0, up1, lo1 = up0 + lo0, 0.0, up1 + lo1, 0.0
        exits["efficacy_h0"][k], exits["futility_h0"][k] = up0, lo0
        exits["efficacy_h1"][k], exits["futility_h1"][k] = up1, lo1
        if k + 1 < n_looks:
            h0.advance(k, eff[k], lower)
            h1.advance(k, eff[k], lower)
    out: dict[str, Any] = {"efficacy": eff, "futility": fut if beta_increments is not None else None, "power": power}
    for h in ("h0", "h1"):
        stop = exits[f"efficacy_{h}"] + exits[f"futility_{h}"]
        stop[-1] = max(0.0, 1.0 - stop[:-1].sum())  # the last look ends every experiment still running
        out[f"stop_{h}"] = stop
    out.update(exits)
    return out


def design(t: np.ndarray, alpha: float, power: float, efficacy: np.ndarray | None,
           alpha_increments: np.ndarray | None, beta_increments: np.ndarray | None,
           two_sided: bool) -> tuple[float, dict[str, Any]]:
    """The drift theta at which the design has `power`, and the design there (see `design_at`).

    Without futility the efficacy boundaries do not depend on theta and power rises with it; with
    futility (beta spending, last look's futility = efficacy) the power at theta is 1 - (beta spent),
    and theta is where that equals `power`.  theta / (z_{alpha'} + z_{beta}) squared is the inflation
    factor (alpha' = alpha / 2 two-sided).
    """
    from scipy.optimize import brentq
    from scipy.special import ndtri

    side = alpha / 2.0 if two_sided else alpha
    fixed = float(-ndtri(side) - ndtri(1.0 - power))
    cache: dict[float, dict[str, Any]] = {}

    def gap(theta: float) -> float:
        if theta not in cache:
            cache[theta] = design_at(theta, t, efficacy, alpha_increments, beta_increments, two_sided)
        return float(cache[theta]["power"]) - power

    lo, hi = fixed, 1.05 * fixed
    while gap(hi) < 0.0:
        lo, hi = hi, hi * 1.25
        if hi > 50.0 * fixed:
            raise ValueError("no maximum information reaches `power` with these boundaries")
    while gap(lo) > 0.0 and lo > 0.2 * fixed:  # futility designs can need less than the fixed design? never
        lo *= 0.9
    theta = float(brentq(gap, lo, hi, xtol=1e-12, rtol=1e-13, maxiter=100))
    return theta, design_at(theta, t, efficacy, alpha_increments, beta_increments, two_sided)
