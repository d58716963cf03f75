"""Beta-Binomial A/B kernels: exact P(X2 > X1), expected losses, fused Beta Monte Carlo,
binomial-interval coverage and Bayesian peeking.

Exact probabilities use Evan Miller's finite sum over one integer Beta parameter
(walked outwards from its largest term by the term ratio, no special function per
term, so the cost follows the spread of the terms rather than the counts) and fall
back to tanh-sinh quadrature over the narrower posterior's mass when no parameter is
an integer or the shortest sum would exceed `MAX_TERMS`.
"""
import math

import numba
import numpy as np

from simengine._jit import hjit, njit, pjit
from simengine.kernels import special

MAX_TERMS = 1_000_000  # longer sums go to quadrature (the walked window is ~sqrt of this)
_NEGLIGIBLE = 1e-18  # stop walking once terms are this small relative to the running total
_QUAD_SDS = 40.0  # integrate the density arm over mean +- 40 spreads (see _window1)
_QUAD_MAX_LEVEL = 9
_QUAD_TOL = 1e-11  # tanh-sinh error is about the square of successive differences
_T_MAX = 4.0


@hjit
def _clip01(p):
    """min(1.0, max(0.0, p)) as numba evaluates it (NaN gives 0.0), without compiling the builtins' overloads."""
    p = p if p > 0.0 else 0.0
    return p if p < 1.0 else 1.0


@hjit
def _miller_sums(p, q, r, s):
    """Miller's sum S(p, q, r, s) = P(Y > X) for X ~ Beta(p, q), Y ~ Beta(r, s), r a positive
    integer, and the same sum with each one parameter raised by 1, from one pass.

    S = sum_{i<r} t_i, t_i = B(p+i, q+s) / ((s+i) B(1+i, s) B(p, q))  (Miller 2015).
    t_{i+1} / t_i = (p+i)(s+i) / ((c+i)(1+i)) with c = p+q+s, so the terms are unimodal
    with their largest at i* = ceil((p s - c) / (q + 1)).  The sum starts there (one
    log-space term) and walks outwards by the ratio until terms drop below 1e-18 of the
    total, so its cost grows like the spread of the terms, not like r.  Raising one
    parameter multiplies t_i by (p+q)(p+i) / (p (c+i)) [p], (p+q)(q+s) / (q (c+i)) [q],
    (q+s)(s+i) / (s (c+i)) [s], or adds the term t_r [r].

    Returns (S, S[p+1], S[q+1], S[r+1], S[s+1]).
    """
    n = np.int64(r)
    c = p + q + s
    # int(min(max(m, 0.0), n - 1.0)) written out as numba evaluates it (each builtin min / max / int call
    # compiles a small overload on a first call)
    m = np.float64(math.ceil((p * s - c) / (q + 1.0)))
    m = 0.0 if 0.0 > m else m
    m = np.int64(n - 1.0 if n - 1.0 < m else m)
    log_scale = (
        special._betaln(p + m, q + s) - math.log(s + m) - special._betaln(1.0 + m, s) - special._betaln(p, q)
    )
    tot = 0.0
    wp = 0.0
    wq = 0.0
    ws = 0.0
    # upwards from the largest term: i = m, m+1, ..., n-1 (terms relative to t_m = 1)
    t = 1.0
    i = m
    while i < n:
        d = 1.0 / ((c + i) * (1.0 + i))
        u = t * d * (1.0 + i)  # t_i / (c + i)
        tot += t
        wp += u * (p + i)
        wq += u
        ws += u * (s + i)
        t = t * d * (p + i) * (s + i)
        i += 1
        if t < _NEGLIGIBLE * tot:
            break
    t_next = t if i == n else 0.0  # t_r, or a term too small to matter
    # downwards: t_{i} = t_{i+1} (c+i)(1+i) / ((p+i)(s+i))
    t = 1.0
    i = m - 1
    while i >= 0:
        t = t * ((c + i) * (1.0 + i)) / ((p + i) * (s + i))
        u = t / (c + i)
        tot += t
        wp += u * (p + i)
        wq += u
        ws += u * (s + i)
        if t < _NEGLIGIBLE * tot:
            break
        i -= 1
    scale = math.exp(log_scale)
    return (
        tot * scale,
        wp * ((p + q) / p) * scale,
        wq * ((p + q) * (q + s) / q) * scale,
        (tot + t_next) * scale,
        ws * ((q + s) / s) * scale,
    )


@njit
def _miller_sums1(p, q, r, s):
    """`_miller_sums` with a Python entry point (tests and benchmarks call it)."""
    return _miller_sums(p, q, r, s)


@njit
def _miller_sum1(a1, b1, a2, b2):
    """P(X2 > X1) for X1 ~ Beta(a1, b1), X2 ~ Beta(a2, b2) with a2 a positive integer."""
    return _miller_sums(a1, b1, a2, b2)[0]


@hjit
def _is_count(v):
    return v >= 1.0 and v == math.floor(v)


@hjit
def _beta_pdf_xy(x, y, a, b):
    """Beta(a, b) density at x with y = 1 - x supplied exactly (stable for huge a, b)."""
    if x <= 0.0 or y <= 0.0:
        return 0.0
    return math.exp(special._log_beta_power_terms(a, b, x, y)) / (x * y)


@hjit
def _other_factor1(x, y, oa, ob, upper_tail):
    """CDF (or survival function) of Beta(oa, ob) at x = 1 - y."""
    # I_x(a, b) = 1 - I_y(b, a): pick the form whose argument is small for accuracy.
    if x <= 0.5:
        cdf = special._betainc(oa, ob, x)
        sf = 1.0 - cdf
    else:
        sf = special._betainc(ob, oa, y)
        cdf = 1.0 - sf
    return sf if upper_tail else cdf


@hjit
def _quad_integrand(x, y, da, db, oa, ob, upper_tail):
    """Density of Beta(da, db) times the CDF (or survival) of Beta(oa, ob), at x = 1 - y."""
    f = _beta_pdf_xy(x, y, da, db)
    if f == 0.0:
        return 0.0
    return f * _other_factor1(x, y, oa, ob, upper_tail)


@hjit
def _piece_value1(v, side, outer, span, k, da, db, oa, ob, upper_tail):
    """Integrand of one half-interval in the variable v in [0, 1], Jacobian included.

    side 0 maps x = outer + span * v**k (outer = lower end), side 1 maps
    1 - x = (1 - outer) + span * v**k (outer = upper end), so 1 - x stays exact next
    to 1.  With k = 1 / (density parameter) at an end where that parameter is below 1,
    density times Jacobian is bounded there: the x**(a-1) singularity is gone.
    """
    if v <= 0.0:
        return 0.0
    vk = v**k
    if side == 0:
        x = outer + span * vk
        y = 1.0 - x
    else:
        y = (1.0 - outer) + span * vk
        x = 1.0 - y
    if x <= 0.0 or y <= 0.0:
        return 0.0
    jac = span * k * vk / v
    return _quad_integrand(x, y, da, db, oa, ob, upper_tail) * jac


@hjit
def _tanh_sinh_piece1(side, outer, m, da, db, oa, ob, upper_tail):
    """Integral over [outer, m] (side 0) or [m, outer] (side 1) by tanh-sinh quadrature
    (Takahasi & Mori 1974) in v = 0..1, halving the step until successive estimates
    agree to `_QUAD_TOL` (the error is then about its square).
    """
    span = m - outer if side == 0 else outer - m
    if span <= 0.0:
        return 0.0
    k = 1.0
    if side == 0 and outer <= 0.0 and da < 1.0:
        k = 1.0 / da
    elif side == 1 and outer >= 1.0 and db < 1.0:
        k = 1.0 / db
    total = (math.pi / 4.0) * _piece_value1(0.5, side, outer, span, k, da, db, oa, ob, upper_tail)
    h = 1.0
    prev = math.nan
    estimate = 0.0
    for level in range(_QUAD_MAX_LEVEL + 1):
        step = 1 if level == 0 else 2  # later levels add the odd multiples of the new h
        j = 1
        while j * h <= _T_MAX:
            t = j * h
            e = math.exp(-math.pi * math.sinh(t))
            dist = e / (1.0 + e)  # distance of the node from the nearer end of [0, 1]
            w = 0.5 * (math.pi / 2.0) * math.cosh(t) * 4.0 * e / ((1.0 + e) * (1.0 + e))
            vl = _piece_value1(dist, side, outer, span, k, da, db, oa, ob, upper_tail)
            vr = _piece_value1(1.0 - dist, side, outer, span, k, da, db, oa, ob, upper_tail)
            contrib = w * (vl + vr)
            if math.isfinite(contrib):
                total += contrib
            j += step
        estimate = total * h
        if level >= 3 and abs(estimate - prev) <= _QUAD_TOL:
            break
        prev = estimate
        h *= 0.5
    return estimate


@hjit
def _beta_mean_sd(a, b):
    s = a + b
    return a / s, math.sqrt(a * b / (s * s * (s + 1.0)))


@hjit
def _window1(a, b):
    """[lo, hi] holding all but ~1e-17 of Beta(a, b): mean +- 40 spreads, clipped to [0, 1].

    The spread is the larger of the sd and 1 / (a + b): with a parameter below 1 the
    mass piles against one end and the long tail away from it decays on the scale
    1 / (a + b), which can be several sds (Beta(87, 1/8): sd 0.004, scale 0.011).
    """
    m, sd = _beta_mean_sd(a, b)
    # max / min written out as numba evaluates them (max(x, y) = y if y > x else x, min likewise)
    spread = 1.0 / (a + b)
    spread = spread if spread > sd else sd
    lo = m - _QUAD_SDS * spread
    hi = m + _QUAD_SDS * spread
    return m, lo if lo > 0.0 else 0.0, hi if hi < 1.0 else 1.0


@hjit
def _prob_greater_quad(a1, b1, a2, b2):
    """P(X2 > X1) by quadrature over the narrower Beta's mass, split at its mean."""
    s1 = _beta_mean_sd(a1, b1)[1]
    s2 = _beta_mean_sd(a2, b2)[1]
    # `side` and `upper_tail` are run-time values, not literals: numba would compile the
    # quadrature once per literal combination (four copies, seconds on a cold cache)
    upper_tail = not s2 <= s1
    if upper_tail:  # integral of f1(x) * (1 - F2(x))
        da, db, oa, ob = a1, b1, a2, b2
    else:  # integral of f2(x) * F1(x)
        da, db, oa, ob = a2, b2, a1, b1
    m, lo, hi = _window1(da, db)
    side = np.int64(0)
    low = _tanh_sinh_piece1(side, lo, m, da, db, oa, ob, upper_tail)
    return low + _tanh_sinh_piece1(side + 1, hi, m, da, db, oa, ob, upper_tail)


@njit
def _prob_greater_quad1(a1, b1, a2, b2):
    """`_prob_greater_quad` with a Python entry point (tests and benchmarks call it)."""
    return _prob_greater_quad(a1, b1, a2, b2)


@hjit
def _shortest_sum1(a1, b1, a2, b2):
    """Which exact sum is shortest: 0 over a2, 1 over b1, 2 over a1, 3 over b2; -1 for none.

    P(X2 > X1) = S(a1,b1,a2,b2) = S(b2,a2,b1,a1) = 1 - S(a2,b2,a1,b1) = 1 - S(b1,a1,b2,a2),
    the middle ones because 1 - X ~ Beta(b, a).  Sums longer than MAX_TERMS count as none.
    """
    best = math.inf
    which = -1
    if _is_count(a2) and a2 < best:
        best, which = a2, 0
    if _is_count(b1) and b1 < best:
        best, which = b1, 1
    if _is_count(a1) and a1 < best:
        best, which = a1, 2
    if _is_count(b2) and b2 < best:
        best, which = b2, 3
    if best > MAX_TERMS:
        return -1
    return which


@hjit
def _prob_greater_sums1(which, a1, b1, a2, b2):
    """`_prob_greater1` from the exact sum `which` (>= 0) of `_shortest_sum1`, without quadrature."""
    if which == 0:
        p = _miller_sums(a1, b1, a2, b2)[0]
    elif which == 1:
        p = _miller_sums(b2, a2, b1, a1)[0]
    elif which == 2:
        p = 1.0 - _miller_sums(a2, b2, a1, b1)[0]
    else:
        p = 1.0 - _miller_sums(b1, a1, b2, a2)[0]
    return _clip01(p)


@hjit
def _prob_greater(a1, b1, a2, b2):
    """P(X2 > X1) for independent X1 ~ Beta(a1, b1), X2 ~ Beta(a2, b2)."""
    which = _shortest_sum1(a1, b1, a2, b2)
    if which >= 0:
        return _prob_greater_sums1(which, a1, b1, a2, b2)
    return _clip01(_prob_greater_quad(a1, b1, a2, b2))


@njit
def _prob_greater1(a1, b1, a2, b2):
    """`_prob_greater` with a Python entry point (tests and benchmarks call it)."""
    return _prob_greater(a1, b1, a2, b2)


@hjit
def _bayes_ab_sums1(which, a1, b1, a2, b2):
    """`_bayes_ab1` from the exact sum `which` (>= 0) of `_shortest_sum1`, without quadrature: a kernel that
    never needs quadrature does not compile it (~3 s)."""
    if which == 0:
        r = _miller_sums(a1, b1, a2, b2)
        p, p_b1, p_a1 = r[0], r[3], r[1]
    elif which == 1:
        r = _miller_sums(b2, a2, b1, a1)
        p, p_b1, p_a1 = r[0], r[2], r[4]
    elif which == 2:
        r = _miller_sums(a2, b2, a1, b1)
        p, p_b1, p_a1 = 1.0 - r[0], 1.0 - r[1], 1.0 - r[3]
    else:
        r = _miller_sums(b1, a1, b2, a2)
        p, p_b1, p_a1 = 1.0 - r[0], 1.0 - r[4], 1.0 - r[2]
    mean1 = a1 / (a1 + b1)
    mean2 = a2 / (a2 + b2)
    loss_a = mean2 * p_b1 - mean1 * p_a1
    loss_a = 0.0 if 0.0 > loss_a else loss_a  # max(loss_a, 0.0), as numba evaluates it
    loss_b = mean1 - mean2 + loss_a
    loss_b = 0.0 if 0.0 > loss_b else loss_b
    return _clip01(p), loss_a, loss_b


@hjit
def _bayes_ab1(a1, b1, a2, b2):
    """(P(B > A), E[max(B - A, 0)], E[max(A - B, 0)]) for A ~ Beta(a1, b1), B ~ Beta(a2, b2).

    E[B 1{B > A}] = mean_B P(B' > A) with B' ~ Beta(a2 + 1, b2), because
    x f_B(x) = mean_B f_B'(x); likewise E[A 1{B > A}] = mean_A P(B > A'), so
    E[max(B - A, 0)] = mean_B P(B' > A) - mean_A P(B > A') and
    E[max(A - B, 0)] = E[A] - E[B] + E[max(B - A, 0)].  With a sum, all three
    probabilities come from one pass (`_miller_sums1`, in `_bayes_ab_sums1`).
    """
    which = _shortest_sum1(a1, b1, a2, b2)
    if which >= 0:
        return _bayes_ab_sums1(which, a1, b1, a2, b2)
    return _bayes_ab_quad1(a1, b1, a2, b2)


@hjit
def _bayes_ab_quad1(a1, b1, a2, b2):
    """`_bayes_ab1` by quadrature alone (for parameters without an exact sum)."""
    p = _prob_greater_quad(a1, b1, a2, b2)
    p_b1 = _prob_greater_quad(a1, b1, a2 + 1.0, b2)  # P(B' > A)
    p_a1 = _prob_greater_quad(a1 + 1.0, b1, a2, b2)  # P(B > A')
    mean1 = a1 / (a1 + b1)
    mean2 = a2 / (a2 + b2)
    loss_a = mean2 * p_b1 - mean1 * p_a1
    loss_a = 0.0 if 0.0 > loss_a else loss_a  # max(loss_a, 0.0), as numba evaluates it
    loss_b = mean1 - mean2 + loss_a
    loss_b = 0.0 if 0.0 > loss_b else loss_b
    return _clip01(p), loss_a, loss_b


def _bayes_ab_exact_impl(a1, b1, a2, b2):
    """Elementwise `_bayes_ab1` over flat parameter arrays; returns (n, 3)."""
    n = a1.shape[0]
    out = np.empty((n, 3))
    for i in numba.prange(n):
        p, la, lb = _bayes_ab1(a1[i], b1[i], a2[i], b2[i])
        out[i, 0] = p
        out[i, 1] = la
        out[i, 2] = lb
    return out


# A handful of scenarios finish before a parallel region would have started.
_bayes_ab_exact = pjit(_bayes_ab_exact_impl)
_bayes_ab_exact_serial = njit(_bayes_ab_exact_impl)
PARALLEL_MIN = 64


@hjit
def _fill_posteriors(counts, priors, params):
    """Beta posterior parameters of both arms into `params` (4, n_priors * n), prior-major.

    `counts` is (4, n) int64: successes and trials of A, then of B.  Row order of
    `params` is alpha_a, beta_a, alpha_b, beta_b, each ``prior + count`` computed as
    NumPy would (the int count converted to float, then added).  Returns False,
    leaving `params` unfilled, when some successes are negative or exceed their trials:
    the public layer then re-runs its validation to raise the precise error.
    """
    n = counts.shape[1]
    for i in range(n):
        if counts[0, i] < 0 or counts[2, i] < 0 or counts[0, i] > counts[1, i] or counts[2, i] > counts[3, i]:
            return False
    for j in range(priors.shape[0]):
        pa = priors[j, 0]
        pb = priors[j, 1]
        for i in range(n):
            params[0, j * n + i] = pa + counts[0, i]
            params[1, j * n + i] = pb + (counts[1, i] - counts[0, i])
            params[2, j * n + i] = pa + counts[2, i]
            params[3, j * n + i] = pb + (counts[3, i] - counts[2, i])
    return True


@njit
def _beta_posteriors(counts, priors):
    """(params, ok) of `_fill_posteriors` in a fresh array."""
    params = np.empty((4, priors.shape[0] * counts.shape[1]))
    return params, _fill_posteriors(counts, priors, params)


def _bayes_ab_counts_impl(counts, priors):
    """Posteriors from counts and `_bayes_ab1` on each, in one call (no NumPy temporaries).

    Returns (params (4, m), out (3, m), ok) with m = n_priors * n: rows of `out` are
    P(B > A) and the two expected losses, unfilled when `ok` is False (invalid counts,
    see `_fill_posteriors`).
    """
    m = priors.shape[0] * counts.shape[1]
    params = np.empty((4, m))
    out = np.empty((3, m))
    ok = _fill_posteriors(counts, priors, params)
    if ok:
        for i in numba.prange(m):
            p, la, lb = _bayes_ab1(params[0, i], params[1, i], params[2, i], params[3, i])
            out[0, i] = p
            out[1, i] = la
            out[2, i] = lb
    return params, out, ok


_bayes_ab_counts = pjit(_bayes_ab_counts_impl)
_bayes_ab_counts_serial = njit(_bayes_ab_counts_impl)


@njit
def _bayes_ab_counts_sums(counts, priors):
    """`_bayes_ab_counts_serial` for calls where every scenario may have an exact sum (some prior parameter a
    whole number): (params, out, ok, done), `done` False, with `out` partly filled, as soon as a scenario
    needs quadrature (the caller then runs `_bayes_ab_counts_serial`; the sums agree bit for bit)."""
    m = priors.shape[0] * counts.shape[1]
    params = np.empty((4, m))
    out = np.empty((3, m))
    ok = _fill_posteriors(counts, priors, params)
    if ok:
        for i in range(m):
            which = _shortest_sum1(params[0, i], params[1, i], params[2, i], params[3, i])
            if which < 0:
                return params, out, ok, False
            p, la, lb = _bayes_ab_sums1(which, params[0, i], params[1, i], params[2, i], params[3, i])
            out[0, i] = p
            out[1, i] = la
            out[2, i] = lb
    return params, out, ok, True


@njit
def _bayes_ab_counts_quad(counts, priors):
    """`_bayes_ab_counts_serial` for calls where no prior parameter is a whole number, so that no posterior
    parameter is one and every scenario takes quadrature: (params, out, ok), without the sums compiled."""
    m = priors.shape[0] * counts.shape[1]
    params = np.empty((4, m))
    out = np.empty((3, m))
    ok = _fill_posteriors(counts, priors, params)
    if ok:
        for i in range(m):
            p, la, lb = _bayes_ab_quad1(params[0, i], params[1, i], params[2, i], params[3, i])
            out[0, i] = p
            out[1, i] = la
            out[2, i] = lb
    return params, out, ok


@njit(inline="always")
def _block_span(j, blocks_per_cell, block, n):
    """Block j of cells of `n` replicates cut into `blocks_per_cell` blocks of `block`: (cell, start, stop)."""
    start = (j % blocks_per_cell) * block
    return j // blocks_per_cell, start, min(start + block, n)


# The Monte Carlo kernels below run one block from its Generator `g`; the public layer spreads the blocks over
# threads (`_long.threaded_blocks`): serial kernels, as a prange kernel costs ~2 s more to compile.

@njit
def _bayes_ab_mc(a1, b1, a2, b2, n_draws, block, g, j):
    """Fused Monte Carlo for many scenarios, block j: no arrays of draws.

    Block j serves scenario j // blocks_per_scenario and draws [(j % bps) * block, ...) of its `n_draws`
    pairs (A first, then B).  Returns the block's partial sums (5,): count(B > A), sum and sum of squares
    of max(B - A, 0), sum and sum of squares of max(A - B, 0).
    """
    bps = (n_draws + block - 1) // block
    out = np.zeros(5)
    i, start, stop = _block_span(j, bps, block, n_draws)
    wins = 0.0
    la = 0.0
    la2 = 0.0
    lb = 0.0
    lb2 = 0.0
    for _ in range(start, stop):
        x = g.beta(a1[i], b1[i])
        y = g.beta(a2[i], b2[i])
        d = y - x
        if d > 0.0:
            wins += 1.0
            la += d
            la2 += d * d
        else:
            lb -= d
            lb2 += d * d
    out[0] = wins
    out[1] = la
    out[2] = la2
    out[3] = lb
    out[4] = lb2
    return out


@pjit
def _beta_draw_floor(a1, b1, a2, b2, n_draws, block, gens):
    """Only the Beta draws of `_bayes_ab_mc`, summed: the floor its speed is judged against."""
    bps = (n_draws + block - 1) // block
    out = np.zeros(len(gens))
    for j in numba.prange(len(gens)):
        g = gens[np.int64(j)]
        i, start, stop = _block_span(np.int64(j), bps, block, n_draws)
        acc = 0.0
        for _ in range(start, stop):
            acc += g.beta(a1[i], b1[i])
            acc += g.beta(a2[i], b2[i])
        out[j] = acc
    return out


@njit
def _prob_best_mc(alpha, beta, n_draws, block, g, j):
    """k-arm Monte Carlo, block j: counts of each arm being best and sums of its loss.

    Returns (k, 3): wins, sum of (max - x_j), sum of squares.  Ties go to the lowest index (probability zero
    for continuous draws).
    """
    k = alpha.shape[0]
    out = np.zeros((k, 3))
    x = np.empty(k)
    start = j * block
    stop = min(start + block, n_draws)
    for _ in range(start, stop):
        best = 0
        for m in range(k):
            x[m] = g.beta(alpha[m], beta[m])
            if x[m] > x[best]:
                best = m
        out[best, 0] += 1.0
        top = x[best]
        for m in range(k):
            d = top - x[m]
            out[m, 1] += d
            out[m, 2] += d * d
    return out


@njit
def _coverage_mc(p, n, covered, width, offsets, n_sims, block, g, j):
    """Monte Carlo coverage of interval methods for many (p, n) cells, block j.

    The interval only depends on the number of successes k, so the public layer
    tabulates ``covered[m, offsets[c] + k]`` and ``width[m, offsets[c] + k]`` for
    each method m and cell c; each replicate draws k ~ Binomial(n[c], p[c]) once and
    every method is scored on the same draw.  Block j serves cell j // blocks_per_cell.
    Returns (methods, 3): covered count, sum and sum of squares of the width.
    """
    n_methods = covered.shape[0]
    bpc = (n_sims + block - 1) // block
    out = np.zeros((n_methods, 3))
    c, start, stop = _block_span(j, bpc, block, n_sims)
    for _ in range(start, stop):
        k = g.binomial(n[c], p[c])
        idx = offsets[c] + k
        for m in range(n_methods):
            out[m, 0] += covered[m, idx]
            w = width[m, idx]
            out[m, 1] += w
            out[m, 2] += w * w
    return out


@njit
def _bayes_peeking(gens, t, step, u0, u1, n_sims, n_looks, visitors, rate_a, rate_b, prior_a, prior_b, threshold,
                   block, sub, first, final):
    """A/B tests checked after every look with the exact P(B > A) rule, for work units u0..u1-1.

    Block b (generator ``gens[b]``; `gens` holds at least the blocks these units touch) owns replicates
    [b * block, (b + 1) * block), run in order.  A unit is `sub` consecutive replicates of one block: unit u is
    part u // nb of block u % nb of the nb = ceil(n_sims / block) blocks, so units are numbered part-major.
    Each block's units in [u0, u1) run in order in one call, and every part of a block after the one before
    it (in an earlier call: a Generator keeps its state between calls), so the draws are those of one pass
    over the block.  This call runs the blocks of units u0 + t, u0 + t + step, ... (the public layer runs
    t = 0..step-1 on `step` threads: a serial kernel, as a prange kernel costs ~2 s more to compile).
    Writes, per replicate, the first look (1-based) where P(B > A) > threshold (0 if never) into `first`
    (zeros on entry) and P(B > A) at the final look into `final`.
    """
    nb = (n_sims + block - 1) // block
    # min written out as numba evaluates it (min(x, y) = y if y < x else x): no overload compiled
    for il in range(t, u1 - u0 if u1 - u0 < nb else nb, step):
        u = u0 + il
        b = u % nb
        g = gens[b]
        while u < u1:
            lo = b * block + (u // nb) * sub
            hi = (b + 1) * block if (b + 1) * block < lo + sub else lo + sub
            hi = n_sims if n_sims < hi else hi
            u += nb
            for r in range(lo, hi):
                sa = 0
                sb = 0
                n = 0
                for look in range(1, n_looks + 1):
                    sa += g.binomial(visitors, rate_a)
                    sb += g.binomial(visitors, rate_b)
                    n += visitors
                    if first[r] == 0 or look == n_looks:
                        pb = _prob_greater(prior_a + sa, prior_b + n - sa, prior_a + sb, prior_b + n - sb)
                        if first[r] == 0 and pb > threshold:
                            first[r] = look
                        if look == n_looks:
                            final[r] = pb


@njit
def _bayes_peeking_sums(gens, t, step, u0, u1, n_sims, n_looks, visitors, rate_a, rate_b, prior_a, prior_b,
                        threshold, block, sub, first, final):
    """`_bayes_peeking` for designs where every look has an exact sum (whole-number priors and few enough
    visitors, decided by the public layer): the same loop without the quadrature (~3 s less to compile)."""
    nb = (n_sims + block - 1) // block
    # min written out as numba evaluates it (min(x, y) = y if y < x else x): no overload compiled
    for il in range(t, u1 - u0 if u1 - u0 < nb else nb, step):
        u = u0 + il
        b = u % nb
        g = gens[b]
        while u < u1:
            lo = b * block + (u // nb) * sub
            hi = (b + 1) * block if (b + 1) * block < lo + sub else lo + sub
            hi = n_sims if n_sims < hi else hi
            u += nb
            for r in range(lo, hi):
                sa = 0
                sb = 0
                n = 0
                for look in range(1, n_looks + 1):
                    sa += g.binomial(visitors, rate_a)
                    sb += g.binomial(visitors, rate_b)
                    n += visitors
                    if first[r] == 0 or look == n_looks:
                        a1, b1, a2, b2 = prior_a + sa, prior_b + n - sa, prior_a + sb, prior_b + n - sb
                        pb = _prob_greater_sums1(_shortest_sum1(a1, b1, a2, b2), a1, b1, a2, b2)
                        if first[r] == 0 and pb > threshold:
                            first[r] = look
                        if look == n_looks:
                            final[r] = pb
