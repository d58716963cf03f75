"""Random-walk Metropolis-Hastings chains, each drawing from its own PCG64 block stream.

The chain kernels are compiled once and cached on disk, whatever the log density: the
user's density reaches them as the address of a C function (`compile_density` wraps the
numba dispatcher in a `numba.cfunc`, which compiles only the density), called through
`_density_at`.  Small dimensions get their own compiled copy (the dimension is the length
of the `dimtag` tuple, a constant of the compiled code), so that per-coordinate loops unroll.
Draws come from `kernels.rng` (NumPy's PCG64 and ziggurat, bit-identical to a
Generator on the same block stream) with the state in registers.
One kernel (`chains`) runs any number of chains one after another; the public layer runs
blocks of them in its own threads (the kernel releases the GIL), so no parallel region
(a parfor, seconds to compile) is built.
Failures never raise here: each chain reports a status and the step where it
stopped; the public layer raises.
"""
import math
from types import FunctionType

import numba
import numpy as np
from llvmlite import ir
from numba import types

from simengine._jit import hjit, njit
from simengine._numba_compat import X86_64, TypingError, intrinsic
from simengine.kernels import rng as _rng
from simengine.kernels.bits import float_bits

# Kernels called only from other kernels are `hjit` helpers: no CPython or C entry point, which numba would
# otherwise build, optimise and compile for each of them on a cold cache and never call.

OK = 0
NAN_DENSITY = 1  # log density returned NaN (or +inf)
RAISED = 2  # log density raised an exception
ZERO_DENSITY = 3  # log density is -inf at the starting point
STOPPED = 4  # the caller asked the chain to stop (Ctrl-C): control[0] != 0

TARGET_ACCEPT = 0.234  # Roberts, Gelman & Gilks (1997) optimum for random-walk proposals

AUTO, PLAIN, SPECULATIVE = -1, 0, 1  # how the post-burn-in steps run (same chain either way)
_PROBE_STEPS = 128  # steps timed per strategy when choosing automatically
_UNROLL_MAX = 8  # dimensions up to this get a kernel with the dimension as a constant
# Steps a chain runs between looks at its control array (stop flag, progress): a few ms at most,
# and the segments continue one another exactly, so the chain does not depend on it.
SEGMENT = 1 << 16


# The cycle counter and the inline-asm barrier below are used only on x86-64 (`X86_64`, from the
# process triple): elsewhere `_opaque` is the identity and the chains time nothing (the caller
# passes `can_time=CAN_TIME`).  Read when a kernel is compiled, so a test can switch it off.
CAN_TIME = X86_64
_ASM_BARRIER = X86_64


def _hidden(builder, value):
    """`value` unchanged, but hidden from the optimiser: an empty inline-asm statement, no instruction.

    A chain's accept decision is a select (``a if take else b``).  Left alone, LLVM turns
    a select between two loads into a load from a selected address, and x86's
    cmov-to-branch pass then into a branch on `take`, which the CPU mispredicts at
    every other step of a chain; passing the loaded values through here keeps the
    select a select (a blend on registers).  Off x86-64 (`_ASM_BARRIER` false) and for
    values no register holds, the value is returned as is: the same number, maybe a branch.
    """
    ty = value.type
    if not _ASM_BARRIER:
        return value
    if isinstance(ty, ir.IntType):
        reg = "r"
    elif isinstance(ty, (ir.DoubleType, ir.FloatType)):
        reg = "x"  # an SSE register
    else:  # e.g. the optional value of a density that can only raise: no register holds a struct
        return value
    return builder.asm(ir.FunctionType(ty, [ty]), "", f"={reg},0", [value], side_effect=False)


@intrinsic
def _opaque(typingctx, v):
    """`v` unchanged, hidden from the optimiser (see `_hidden`)."""
    sig = v(v)

    def codegen(context, builder, sig, args):
        return _hidden(builder, args[0])

    return sig, codegen


@intrinsic
def _select(typingctx, take, a, b):
    """``a if take else b`` as a select on registers, never a branch (see `_hidden`).

    An intrinsic, emitted into each caller as it is compiled: `_ASM_BARRIER` is read then, and
    neither numba's IR inlining (slow to compile) nor a call is involved.
    """
    ty = typingctx.unify_types(types.unliteral(a), types.unliteral(b))
    if ty is None or not isinstance(take, types.Boolean):
        return None
    sig = ty(types.boolean, ty, ty)

    def codegen(context, builder, sig, args):
        return builder.select(args[0], _hidden(builder, args[1]), _hidden(builder, args[2]))

    return sig, codegen


@intrinsic
def _cycles(typingctx):
    """The CPU's cycle counter (``rdtsc`` on x86-64); only differences mean anything.

    Only reached with ``can_time`` true, i.e. on x86-64 (`CAN_TIME`): on AArch64 reading
    it from user space traps (SIGILL).
    """
    sig = types.int64()

    def codegen(context, builder, sig, args):
        fn = builder.module.declare_intrinsic("llvm.readcyclecounter", fnty=ir.FunctionType(ir.IntType(64), []))
        return builder.call(fn, [])

    return sig, codegen


# `kernels.rng`'s ziggurat draws are inline="always" helpers nested three deep: numba inlines by copying
# the callee's IR at every call site, again for every nested call (11 copies per normal draw), and
# types each copy in place, which made its inlining pass 3-4 s of a cold first call.  Here they are
# compiled once each, as functions of four integers: `_compiled_as` gives rng's own function (its code,
# not a copy of it) a name of its own and sends the draws' calls to the PCG64 steps compiled here, so
# numba inlines nothing (a normal draw compiled in ~1.0 s this way with rng's steps inlined, ~0.5 s now),
# and LLVM inlines all of them into the step loops (forceinline: LLVM's alwaysinline), the same chains at
# the same speed per step.
# Helpers that take arrays stay inline="always": a numba function call increfs and decrefs its array
# arguments, which LLVM's inlining leaves in the step loop (measured: 1.3-1.5x slower steps).
def _compiled_as(name, dispatcher, **calls):
    """`dispatcher`'s Python function (a `kernels.rng` draw), renamed `name`, calling `calls` instead of the
    module-level functions of those names, as an `hjit(forceinline=True)` helper.

    The code object is rng's, unchanged; only the names it looks up differ.  The new name keeps numba's
    cache index of this helper apart from rng's function of the same code.
    """
    func = dispatcher.py_func
    scope = dict(func.__globals__)
    scope.update(calls)
    twin = FunctionType(func.__code__, scope, name, func.__defaults__, func.__closure__)
    twin.__qualname__ = name
    twin.__doc__ = func.__doc__
    return hjit(forceinline=True)(twin)


_pcg64_next = _compiled_as("_pcg64_next_mcmc", _rng._pcg64_next)
_pcg64_double = _compiled_as("_pcg64_double_mcmc", _rng._pcg64_double, _pcg64_next=_pcg64_next)
_std_normal1 = _compiled_as("_std_normal1_mcmc", _rng._std_normal1, _pcg64_next=_pcg64_next,
                            _pcg64_double=_pcg64_double)
_std_exponential1 = _compiled_as("_std_exponential1_mcmc", _rng._std_exponential1, _pcg64_next=_pcg64_next,
                                 _pcg64_double=_pcg64_double)


# What the wrapper of `compile_density` returns when the density raised: a quiet NaN with a payload
# no arithmetic produces (NaNs from arithmetic carry none), so the chain fails at that step as for a
# NaN, and the status says it raised.  The bits travel with the value through the speculative selects.
RAISED_BITS = 0x7FF8_5AFE_0BAD_C0DE
RAISED_VALUE = float(np.array([RAISED_BITS], dtype=np.uint64).view(np.float64)[0])
_RAISED_U64 = np.uint64(RAISED_BITS)  # a uint64 global: compared with float_bits without a float promotion

#: C signature of a compiled log density: ``double f(double *x, intp dim)``
DENSITY_SIG = types.float64(types.CPointer(types.float64), types.intp)


def compile_density(log_density):
    """The numba ``cfunc`` through which the chain kernels call `log_density` (pass its ``.address``).

    Compiles the density for a C-contiguous float64 array (``numba.carray`` over the
    kernel's pointer: the type a direct call with a NumPy array uses) and a wrapper that
    returns `RAISED_VALUE` if it raised.  A density typed as returning None (one that can
    only raise) gives NaN when it returns.  Raises numba's TypingError if the density does
    not take such an array or does not return a number.
    """
    raised = RAISED_VALUE

    def density(x, dim):
        try:
            return log_density(numba.carray(x, dim))
        except Exception:  # any user exception; the public layer re-raises it with context
            return raised

    def density_without_value(x, dim):
        try:
            log_density(numba.carray(x, dim))
        except Exception:
            return raised
        return math.nan

    # a closure over the user's dispatcher: never cached
    try:
        return numba.cfunc(DENSITY_SIG, cache=False)(density)
    except TypingError:
        returns = [sig.return_type for sig in log_density.nopython_signatures
                   if sig.args == (types.float64[::1],)]
        if returns != [types.none]:
            raise
    return numba.cfunc(DENSITY_SIG, cache=False)(density_without_value)


@intrinsic
def _density_at(typingctx, address, x):
    """``f(x)`` for the C function at `address` (`DENSITY_SIG`), with `x` a C-contiguous float64 array."""
    sig = types.float64(types.int64, x)

    def codegen(context, builder, sig, args):
        arr = context.make_array(sig.args[1])(context, builder, args[1])
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType().as_pointer(), ir.IntType(64)])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(fn, [arr.data, builder.extract_value(arr.shape, 0)])

    return sig, codegen


@njit(inline="always")
def _safe_logp1(ld, x):
    """(value, status) of the density at `ld` (an address) at `x`: status RAISED if it threw."""
    lp = _density_at(ld, x)
    return lp, RAISED if float_bits(lp) == _RAISED_U64 else OK


@hjit(forceinline=True)
def _bad_value(lp, st):
    return st != OK or math.isnan(lp) or lp == math.inf


@hjit(forceinline=True)
def _fail_status(st):
    return RAISED if st != OK else NAN_DENSITY


# Helpers used inside the step loops must be inlined: an out-of-line call from one numba function to
# another costs more per step (~13 ns for `_propose`) than the work it does (see the note above `_std_normal1`).
# The thinning counter is written out in both loops: as an inlined helper returning the counters
# next to the arrays it fills, numba's reference counting made the chains 3-4x slower (measured).
@njit(inline="always")
def _chol_row(chol, z, d):
    """Row d of ``chol @ z`` (lower triangular), from its first product: the same number as from 0.0, one add less."""
    acc = chol[d, 0] * z[0]
    for k in range(1, d + 1):
        acc += chol[d, k] * z[k]
    return acc


@njit(inline="always")
def _keep(samples, logps, j, x, lp):
    """Store state `x` and its log density as kept draw `j`."""
    for d in range(x.shape[0]):
        samples[j, d] = x[d]
    logps[j] = lp


@njit(inline="always")  # see the note above `_chol_row`
def _propose(ld, dimtag, x, y, inc, chol, identity, s, sh, sl, ih, il):
    """A step's draws in stream order (z, then E), its proposal ``y = x + s * chol @ z`` and log density.

    Returns (-E, log density at y, its status, sh, sl); `inc` is scratch for z.
    """
    D = len(dimtag)
    dim = x.shape[0] if D == 0 else D
    for d in range(dim):
        inc[d], sh, sl = _std_normal1(sh, sl, ih, il)
    for d in range(dim):
        y[d] = x[d] + s * (inc[d] if identity else _chol_row(chol, inc, d))
    e, sh, sl = _std_exponential1(sh, sl, ih, il)
    lp_y, st_y = _safe_logp1(ld, y)
    return -e, lp_y, st_y, sh, sl


@hjit
def _plain(ld, dimtag, t, t_end, x, lp, y, lp_y, st_y, neg_e, inc, chol, identity, s, log_s, adapt_until, burn_in, thin,
           samples, logps, accepted, j, countdown, sh, sl, ih, il, fail_x):
    """Steps t .. t_end-1, one density evaluation per step, after the accept decision.

    On entry `y` is step t's proposal with log density `lp_y` (status `st_y`) and
    `neg_e` = -E of step t; so on return for step `t_end`.  Steps before
    `adapt_until` (`burn_in` with adaptation, else 0) move log(s) by Robbins-Monro
    towards 0.234 acceptance.
    """
    D = len(dimtag)
    dim = x.shape[0] if D == 0 else D
    while t < t_end:
        if _bad_value(lp_y, st_y):
            for d in range(dim):
                fail_x[d] = y[d]
            return t, lp, lp_y, st_y, neg_e, s, log_s, accepted, j, countdown, sh, sl, _fail_status(st_y)
        log_ratio = lp_y - lp
        take = log_ratio >= neg_e
        for d in range(dim):
            x[d] = _select(take, y[d], x[d])
        lp = _select(take, lp_y, lp)
        if t < burn_in:
            if t < adapt_until:
                alpha = 1.0 if log_ratio >= 0.0 else math.exp(log_ratio)
                log_s += (alpha - TARGET_ACCEPT) / (t + 1.0) ** 0.6
                s = math.exp(log_s)
        else:  # count the move; keep every `thin`-th state (a counter: no division per step)
            accepted += take
            countdown -= 1
            if countdown == 0:
                countdown = thin
                _keep(samples, logps, j, x, lp)
                j += 1
        neg_e, lp_y, st_y, sh, sl = _propose(ld, dimtag, x, y, inc, chol, identity, s, sh, sl, ih, il)
        t += 1
    return t, lp, lp_y, st_y, neg_e, s, log_s, accepted, j, countdown, sh, sl, OK


@hjit
def _speculative(ld, dimtag, t, t_end, x, lp, y, lp_y, st_y, neg_e, chol, identity, s, burn_in, thin,
                 samples, logps, accepted, j, countdown, sh, sl, ih, il, fail_x):
    """`_plain` without adaptation, evaluating the density at both possible next proposals.

    Step t+1's proposal is ``x + inc`` if step t rejects and ``y + inc`` if it
    accepts; both are evaluated while step t's decision is still pending, so a
    decision waits on a select instead of a density evaluation and the chain's
    latency is halved, for one more evaluation per step.  The chain is the same
    as `_plain`'s (same draws, same arithmetic, same decisions).  A failure at the
    point not taken is never seen.
    """
    D = len(dimtag)
    dim = x.shape[0] if D == 0 else D
    # private copies of the work arrays: LLVM then knows no store to `samples` can change them
    # (~3% a step); copied back on return (on failure only `fail_x` matters)
    xo = x
    yo = y
    x = np.empty(dim)
    y = np.empty(dim)
    qa = np.empty(dim)
    qb = np.empty(dim)
    inc = np.empty(dim)
    for d in range(dim):
        x[d] = xo[d]
        y[d] = yo[d]
    while t < t_end:
        if _bad_value(lp_y, st_y):
            for d in range(dim):
                fail_x[d] = y[d]
            return t, lp, lp_y, st_y, neg_e, accepted, j, countdown, sh, sl, _fail_status(st_y)
        for d in range(dim):
            inc[d], sh, sl = _std_normal1(sh, sl, ih, il)
        e, sh, sl = _std_exponential1(sh, sl, ih, il)
        for d in range(dim):
            step = s * (inc[d] if identity else _chol_row(chol, inc, d))
            qa[d] = x[d] + step
            qb[d] = y[d] + step
        lp_a, st_a = _safe_logp1(ld, qa)
        lp_b, st_b = _safe_logp1(ld, qb)
        take = lp_y - lp >= neg_e
        lp = _select(take, lp_y, lp)
        lp_y = _select(take, lp_b, lp_a)
        st_y = _select(take, st_b, st_a)
        neg_e = -e
        for d in range(dim):
            x[d], y[d] = _select(take, y[d], x[d]), _select(take, qb[d], qa[d])
        if t >= burn_in:
            accepted += take
            countdown -= 1
            if countdown == 0:
                countdown = thin
                _keep(samples, logps, j, x, lp)
                j += 1
        t += 1
    for d in range(dim):
        xo[d] = x[d]
        yo[d] = y[d]
    return t, lp, lp_y, st_y, neg_e, accepted, j, countdown, sh, sl, OK


@hjit
def chain1(ld, dimtag, x0, chol, identity, scale, n_steps, burn_in, thin, adapt, mode, can_time, state,
           samples, logps, fail_x, control, c):
    """Run one chain of ``n_steps`` Gaussian random-walk steps from `x0`, drawing from PCG64 `state`.

    Step t draws ``dim`` standard normals z, proposes ``x + s * chol @ z``, draws
    one standard exponential E and accepts when ``log p(x') - log p(x) >= -E`` (the
    event ``log U < log p(x') - log p(x)`` with ``U = exp(-E)`` uniform, without a
    log per step).  With `adapt`, ``log(s)`` follows a Robbins-Monro recursion
    towards 0.234 acceptance during the first `burn_in` steps, then is frozen.

    After burn-in (or from the start without `adapt`) the steps run `_plain` or
    `_speculative` (`mode`); AUTO times both on the first steps with the cycle
    counter (when `can_time`) and keeps the faster: cheap densities gain from
    speculation, costly ones lose up to half.  The chain does not depend on it.

    Fills `samples` (kept, dim) and `logps` (kept,) with every `thin`-th state after
    burn-in; on failure writes the offending point into `fail_x`.  Every `SEGMENT`
    steps it writes its step count to ``control[1 + c]`` and stops with status
    STOPPED when ``control[0]`` is set (Ctrl-C).  Returns (accepted moves after
    burn-in, final scale, status, failing step or -1).
    """
    D = len(dimtag)
    dim = x0.shape[0] if D == 0 else D
    sh, sl, ih, il = state[0], state[1], state[2], state[3]
    x = np.empty(dim)
    y = np.empty(dim)
    inc = np.empty(dim)
    for d in range(dim):
        x[d] = x0[d]
    lp, st = _safe_logp1(ld, x)
    if _bad_value(lp, st) or lp == -math.inf:
        for d in range(dim):
            fail_x[d] = x0[d]
        return 0, scale, ZERO_DENSITY if st == OK and lp == -math.inf else _fail_status(st), 0
    s = scale
    log_s = math.log(scale)
    # np.int64, not a literal 0: numba would compile `_plain` once more for literal arguments
    accepted = np.int64(0)
    j = np.int64(0)
    countdown = thin
    neg_e, lp_y, st_y, sh, sl = _propose(ld, dimtag, x, y, inc, chol, identity, s, sh, sl, ih, il)  # step 0's
    t = np.int64(0)
    adapt_until = burn_in if adapt else np.int64(0)
    if adapt:
        while t < burn_in:
            if control[0] != 0:
                return accepted, s, STOPPED, t
            t, lp, lp_y, st_y, neg_e, s, log_s, accepted, j, countdown, sh, sl, st = _plain(
                ld, dimtag, t, min(burn_in, t + SEGMENT), x, lp, y, lp_y, st_y, neg_e, inc, chol, identity, s, log_s,
                adapt_until, burn_in, thin, samples, logps, accepted, j, countdown, sh, sl, ih, il, fail_x)
            if st != OK:
                return accepted, s, st, t + 1
            control[1 + c] = t
    speculate = mode == SPECULATIVE
    if mode == AUTO:
        speculate = False
        if can_time and n_steps - t > 4 * _PROBE_STEPS:
            c0 = _cycles()
            t, lp, lp_y, st_y, neg_e, s, log_s, accepted, j, countdown, sh, sl, st = _plain(
                ld, dimtag, t, t + _PROBE_STEPS, x, lp, y, lp_y, st_y, neg_e, inc, chol, identity, s, log_s, adapt_until,
                burn_in, thin, samples, logps, accepted, j, countdown, sh, sl, ih, il, fail_x)
            if st != OK:
                return accepted, s, st, t + 1
            c1 = _cycles()
            t, lp, lp_y, st_y, neg_e, accepted, j, countdown, sh, sl, st = _speculative(
                ld, dimtag, t, t + _PROBE_STEPS, x, lp, y, lp_y, st_y, neg_e, chol, identity, s, burn_in,
                thin, samples, logps, accepted, j, countdown, sh, sl, ih, il, fail_x)
            if st != OK:
                return accepted, s, st, t + 1
            speculate = _cycles() - c1 < c1 - c0
    while t < n_steps:
        if control[0] != 0:
            return accepted, s, STOPPED, t
        t_end = min(n_steps, t + SEGMENT)
        if speculate:
            t, lp, lp_y, st_y, neg_e, accepted, j, countdown, sh, sl, st = _speculative(
                ld, dimtag, t, t_end, x, lp, y, lp_y, st_y, neg_e, chol, identity, s, burn_in, thin,
                samples, logps, accepted, j, countdown, sh, sl, ih, il, fail_x)
        else:
            t, lp, lp_y, st_y, neg_e, s, log_s, accepted, j, countdown, sh, sl, st = _plain(
                ld, dimtag, t, t_end, x, lp, y, lp_y, st_y, neg_e, inc, chol, identity, s, log_s, adapt_until, burn_in,
                thin, samples, logps, accepted, j, countdown, sh, sl, ih, il, fail_x)
        if st != OK:
            return accepted, s, st, t + 1
        control[1 + c] = t
    return accepted, s, OK, -1


@njit(nogil=True)  # the public layer runs blocks of chains in threads of its own, and long calls in a worker thread
def chains(ld, dimtag, x0, chol, identity, scale, n_steps, burn_in, thin, adapt, mode, can_time, states,
           samples, logps, counts, scales, fail_x, control):
    """Run the ``x0.shape[0]`` chains one after another, chain c from ``x0[c]`` drawing from PCG64 ``states[c]``.

    Fills samples (chains, kept, dim), their log densities (chains, kept), per
    chain `counts` (accepted post-burn-in moves, status, failing step or -1) and
    final `scales`, and the point where a chain failed (chains, dim).  Returns
    whether any chain failed.  Chains run in parallel as blocks (row slices of these
    arrays, each with its own `control`) in threads of the public layer: no parallel
    region here, whose compilation (a parfor) cost more than the chain loop itself.
    """
    for c in range(x0.shape[0]):
        counts[c, 0], scales[c], counts[c, 1], counts[c, 2] = chain1(
            ld, dimtag, x0[c], chol, identity, scale, n_steps, burn_in, thin, adapt, mode, can_time, states[c],
            samples[c], logps[c], fail_x[c], control, c)
    failed = False
    for c in range(x0.shape[0]):
        failed |= counts[c, 1] != OK
    return failed


one = chains  # a single chain: the same kernel (one compiled copy per dimension for any number of chains)


_TAGS = tuple((0.0,) * d for d in range(_UNROLL_MAX + 1))


def dim_tag(dim):
    """The `dimtag` argument of the kernels for chains of dimension `dim`.

    A tuple of `dim` zeros up to `_UNROLL_MAX` dimensions (its length is then a constant
    of the compiled code, one compiled copy per dimension, so that the per-coordinate loops
    unroll); the empty tuple above (the kernels read the dimension from `x0`).
    """
    return _TAGS[dim] if dim <= _UNROLL_MAX else ()
