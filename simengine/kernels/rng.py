"""NumPy's PCG64 stream and its ziggurat normal / exponential draws as inlinable scalar functions.

A kernel that keeps the 128-bit state in two local integers instead of a
`np.random.Generator` avoids an indirect call and a state round-trip through
memory per draw, and needs no Generator to be built and unboxed per call; the
numbers are bit-identical to ``np.random.Generator(np.random.PCG64(seed_seq))``,
so NumPy replays of such kernels still hold.  Also here: the `SeedSequence`
hashing for int seeds (O'Neill's seed_seq as NumPy implements it), so a chain's
starting state costs well under a microsecond.
The ziggurat tables are NumPy's, as numba ships them for its own Generator support.
"""
import numpy as np
from llvmlite import ir
from numba import types
from simengine._numba_compat import (
    fe_double,
    fi_double,
    intrinsic,
    ke_double,
    ki_double,
    we_double,
    wi_double,
    ziggurat_exp_r,
    ziggurat_nor_inv_r,
    ziggurat_nor_r,
)

from simengine._jit import njit

# PCG64's 128-bit LCG multiplier (O'Neill's PCG_DEFAULT_MULTIPLIER_128), high and low words
_MUL_HI = np.uint64(0x2360ED051FC65DA4)
_MUL_LO = np.uint64(0x4385DF649FCCF645)
_U11 = np.uint64(11)
_U58 = np.uint64(58)
_U63 = np.uint64(63)
_U64 = np.uint64(64)
_TWO_M53 = 1.0 / 9007199254740992.0

# SeedSequence constants (NumPy's bit_generator.pyx), all uint32 arithmetic
_INIT_A = np.uint32(0x43B0D7E5)
_MULT_A = np.uint32(0x931E8875)
_INIT_B = np.uint32(0x8B51F9DD)
_MULT_B = np.uint32(0x58F38DED)
_MIX_MULT_L = np.uint32(0xCA01F9DD)
_MIX_MULT_R = np.uint32(0x4973F715)
_XSHIFT = np.uint32(16)


@intrinsic
def _mulhi64(typingctx, a, b):
    """High 64 bits of the 128-bit product of two uint64 (one `mul` on x86-64)."""
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, sig, args):
        i128 = ir.IntType(128)
        prod = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        return builder.trunc(builder.lshr(prod, ir.Constant(i128, 64)), ir.IntType(64))

    return sig, codegen


@njit(inline="always")
def _pcg64_step(sh, sl, ih, il):
    """One LCG step of the 128-bit state (sh, sl) with increment (ih, il): state * M + inc."""
    lo = sl * _MUL_LO
    hi = _mulhi64(sl, _MUL_LO) + sl * _MUL_HI + sh * _MUL_LO
    lo2 = lo + il
    hi2 = hi + ih + np.uint64(lo2 < lo)
    return hi2, lo2


@njit(inline="always")
def _pcg64_next(sh, sl, ih, il):
    """(next uint64, new sh, new sl): advance, then XSL-RR output of the new state (as NumPy's PCG64)."""
    sh, sl = _pcg64_step(sh, sl, ih, il)
    x = sh ^ sl
    rot = sh >> _U58
    return (x >> rot) | (x << ((_U64 - rot) & _U63)), sh, sl


# --------------------------------------------------------------------------- eight outputs at a time
#
# The same stream, eight consecutive outputs per step: lane j (j = 0..7) holds the state whose output is the
# j-th of the next eight, and each lane jumps eight steps at once, s <- M**8 s + inc (1 + M + ... + M**7)
# (mod 2**128), so the lanes are independent and run as one vector of eight 64-bit words (`_emit_pcg64x8`).
# The lanes live in a uint64 array of 16 (state high words, then low words); the jump's increment is made
# once from the stream's (`pcg64x8_init`), and `pcg64x8_state` gives the scalar state back (one step behind
# lane 0), so a stream can go on in scalar or in eights from wherever it stopped.
_T128 = 1 << 128
_MUL = (int(_MUL_HI) << 64) | int(_MUL_LO)
_M8 = pow(_MUL, 8, _T128)
_K8 = sum(pow(_MUL, i, _T128) for i in range(8)) % _T128
_MINV = pow(_MUL, -1, _T128)  # the multiplier is odd: the step has an inverse
_M8_HI, _M8_LO = np.uint64(_M8 >> 64), np.uint64(_M8 & 0xFFFFFFFFFFFFFFFF)
_K8_HI, _K8_LO = np.uint64(_K8 >> 64), np.uint64(_K8 & 0xFFFFFFFFFFFFFFFF)
_MINV_HI, _MINV_LO = np.uint64(_MINV >> 64), np.uint64(_MINV & 0xFFFFFFFFFFFFFFFF)
_V8 = ir.VectorType(ir.IntType(64), 8)


def _splat8(value):
    """A constant vector of eight uint64 `value`."""
    return ir.Constant(_V8, [int(value)] * 8)


def _broadcast8(builder, value):
    """A vector of eight copies of the i64 `value`."""
    vec = builder.insert_element(ir.Constant(_V8, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8))


def _emit_pcg64x8(builder, lanes_data, ch, cl):
    """Codegen (for intrinsics): the next eight outputs of the lanes at `lanes_data` (pointer to 16 uint64) as a
    vector, the lanes jumped eight steps with increment (ch, cl).  The 64 x 64 -> 128-bit products are split
    into 32-bit halves (one vector multiply each on x86-64: there is no vector high multiply)."""
    ptr = _V8.as_pointer()
    hptr = builder.bitcast(lanes_data, ptr)
    lptr = builder.bitcast(builder.gep(lanes_data, [ir.Constant(ir.IntType(64), 8)]), ptr)
    h = builder.load(hptr, align=8)
    lo = builder.load(lptr, align=8)
    # XSL-RR output, a rotate right by the top six bits
    x = builder.xor(h, lo)
    rot = builder.lshr(h, _splat8(58))
    out = builder.or_(builder.lshr(x, rot), builder.shl(x, builder.and_(builder.sub(_splat8(64), rot), _splat8(63))))
    # s <- M8 s + C8 (mod 2**128): high word = mulhi(lo, M8_lo) + lo * M8_hi + h * M8_lo, plus the carry of the low
    m0, m1 = int(_M8_LO) & 0xFFFFFFFF, int(_M8_LO) >> 32
    mask32 = _splat8(0xFFFFFFFF)
    l0 = builder.and_(lo, mask32)
    l1 = builder.lshr(lo, _splat8(32))
    p00 = builder.mul(l0, _splat8(m0))
    p01 = builder.mul(l0, _splat8(m1))
    p10 = builder.mul(l1, _splat8(m0))
    p11 = builder.mul(l1, _splat8(m1))
    mid = builder.add(builder.add(builder.lshr(p00, _splat8(32)), builder.and_(p01, mask32)), builder.and_(p10, mask32))
    mulhi = builder.add(builder.add(p11, builder.lshr(p01, _splat8(32))),
                        builder.add(builder.lshr(p10, _splat8(32)), builder.lshr(mid, _splat8(32))))
    new_lo = builder.mul(lo, _splat8(_M8_LO))
    new_hi = builder.add(mulhi, builder.add(builder.mul(lo, _splat8(_M8_HI)), builder.mul(h, _splat8(_M8_LO))))
    lo2 = builder.add(new_lo, _broadcast8(builder, cl))
    carry = builder.zext(builder.icmp_unsigned("<", lo2, new_lo), _V8)
    builder.store(builder.add(builder.add(new_hi, _broadcast8(builder, ch)), carry), hptr, align=8)
    builder.store(lo2, lptr, align=8)
    return out


@intrinsic
def pcg64x8_raw(typingctx, lanes, ch, cl, out):
    """The next eight outputs of `lanes` (see `pcg64x8_init`) into out[0:8] (uint64), the lanes jumped."""
    sig = types.none(lanes, types.uint64, types.uint64, out)

    def codegen(context, builder, sig, args):
        la = context.make_array(sig.args[0])(context, builder, args[0])
        oa = context.make_array(sig.args[3])(context, builder, args[3])
        out = _emit_pcg64x8(builder, la.data, args[1], args[2])
        builder.store(out, builder.bitcast(oa.data, _V8.as_pointer()), align=8)
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def aligned64(count, dtype):
    """An empty array of `count` 8-byte `dtype` items starting on a 64-byte boundary (a cache line): the lanes and
    the group buffers are read and written as 64-byte vectors, which cost more when they straddle two lines
    (numba aligns arrays to 32 bytes only)."""
    big = np.empty(count + 8, dtype)
    start = ((-big.ctypes.data) % 64) // 8
    return big[start:start + count]


@njit(inline="always")
def _mul128(ah, al, bh, bl):
    """(high, low) of a * b mod 2**128."""
    return _mulhi64(al, bl) + al * bh + ah * bl, al * bl


@njit(inline="always")
def pcg64x8_init(st, lanes):
    """Fill `lanes` (uint64 (16,), best from `aligned64`) for the stream whose state is st[0:4] (high, low,
    increment high, low); returns the eight-step increment (ch, cl) that `pcg64x8_raw` and `pcg64x8_state`
    take."""
    sh, sl, ih, il = st[0], st[1], st[2], st[3]
    for j in range(8):
        sh, sl = _pcg64_step(sh, sl, ih, il)
        lanes[j] = sh
        lanes[8 + j] = sl
    return _mul128(ih, il, _K8_HI, _K8_LO)


@njit(inline="always")
def pcg64x8_state(lanes, st):
    """Write the scalar state of the lanes' stream (one step before lane 0's) into st[0:2]."""
    ih, il = st[2], st[3]
    sh, sl = lanes[0], lanes[8]
    dl = sl - il
    dh = sh - ih - np.uint64(sl < il)
    st[0], st[1] = _mul128(dh, dl, _MINV_HI, _MINV_LO)


@njit(inline="always")
def _pcg64_double(sh, sl, ih, il):
    """(uniform double in [0, 1), new sh, new sl), NumPy's `next_double`: the top 53 bits."""
    r, sh, sl = _pcg64_next(sh, sl, ih, il)
    return (r >> _U11) * _TWO_M53, sh, sl


@njit(inline="always")
def _std_normal1(sh, sl, ih, il):
    """(standard normal, new sh, new sl): NumPy's 256-layer ziggurat (Marsaglia & Tsang 2000), same draws."""
    while True:
        r, sh, sl = _pcg64_next(sh, sl, ih, il)
        idx = r & np.uint64(0xFF)
        r >>= np.uint64(8)
        negative = r & np.uint64(1)
        rabs = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
        x = rabs * wi_double[idx]
        if negative:
            x = -x
        if rabs < ki_double[idx]:
            return x, sh, sl  # the rectangle part: ~99% of draws
        if idx == 0:  # the tail beyond r, by Marsaglia's exponential method
            while True:
                u, sh, sl = _pcg64_double(sh, sl, ih, il)
                xx = -ziggurat_nor_inv_r * np.log1p(-u)
                u, sh, sl = _pcg64_double(sh, sl, ih, il)
                yy = -np.log1p(-u)
                if yy + yy > xx * xx:
                    if (rabs >> np.uint64(8)) & np.uint64(1):
                        return -(ziggurat_nor_r + xx), sh, sl
                    return ziggurat_nor_r + xx, sh, sl
        else:
            u, sh, sl = _pcg64_double(sh, sl, ih, il)
            if (fi_double[idx - 1] - fi_double[idx]) * u + fi_double[idx] < np.exp(-0.5 * x * x):
                return x, sh, sl


@njit(inline="always")
def _std_exponential1(sh, sl, ih, il):
    """(standard exponential, new sh, new sl): NumPy's ziggurat, same draws."""
    while True:
        r, sh, sl = _pcg64_next(sh, sl, ih, il)
        r >>= np.uint64(3)
        idx = r & np.uint64(0xFF)
        r >>= np.uint64(8)
        x = r * we_double[idx]
        if r < ke_double[idx]:
            return x, sh, sl
        u, sh, sl = _pcg64_double(sh, sl, ih, il)
        if idx == 0:
            return ziggurat_exp_r - np.log1p(-u), sh, sl
        if (fe_double[idx - 1] - fe_double[idx]) * u + fe_double[idx] < np.exp(-x):
            return x, sh, sl


@njit(inline="always")
def _hashmix(value, hash_const):
    """(mixed value, next hash constant) of SeedSequence's `hashmix`."""
    # numba widens uint32 arithmetic to 64 bits: truncate after every product
    value = np.uint32(value ^ hash_const)
    hash_const = np.uint32(hash_const * _MULT_A)
    value = np.uint32(value * hash_const)
    value = np.uint32(value ^ (value >> _XSHIFT))
    return value, hash_const


@njit(inline="always")
def _mix(x, y):
    result = np.uint32(np.uint32(_MIX_MULT_L * x) - np.uint32(_MIX_MULT_R * y))
    return np.uint32(result ^ (result >> _XSHIFT))


@njit
def _seed_pool(entropy, pool_size):
    """SeedSequence's entropy pool (uint32, `pool_size` words) from its assembled entropy words."""
    pool = np.zeros(pool_size, dtype=np.uint32)
    h = _INIT_A
    for i in range(pool_size):
        word = entropy[i] if i < entropy.shape[0] else np.uint32(0)
        pool[i], h = _hashmix(word, h)
    for i_src in range(pool_size):
        for i_dst in range(pool_size):
            if i_src != i_dst:
                v, h = _hashmix(pool[i_src], h)
                pool[i_dst] = _mix(pool[i_dst], v)
    for i_src in range(pool_size, entropy.shape[0]):
        for i_dst in range(pool_size):
            v, h = _hashmix(entropy[i_src], h)
            pool[i_dst] = _mix(pool[i_dst], v)
    return pool


@njit
def _pcg64_seed_state(pool):
    """(sh, sl, ih, il) of ``PCG64(seed_seq)`` given the SeedSequence's `pool`.

    PCG64 asks for four uint64 (eight uint32, little-endian pairs, cycling over the
    pool) as (state high, state low, sequence high, sequence low) and seeds as
    O'Neill's ``pcg_setseq_128_srandom_r``: state 0, increment ``seq << 1 | 1``,
    one step, add the seed, one more step.
    """
    words = np.empty(8, dtype=np.uint64)
    h = _INIT_B
    for i in range(8):
        v = np.uint32(pool[i % pool.shape[0]] ^ h)
        h = np.uint32(h * _MULT_B)
        v = np.uint32(v * h)
        v = np.uint32(v ^ (v >> _XSHIFT))
        words[i] = np.uint64(v)
    seed_hi = words[0] | (words[1] << np.uint64(32))
    seed_lo = words[2] | (words[3] << np.uint64(32))
    seq_hi = words[4] | (words[5] << np.uint64(32))
    seq_lo = words[6] | (words[7] << np.uint64(32))
    ih = (seq_hi << np.uint64(1)) | (seq_lo >> _U63)
    il = (seq_lo << np.uint64(1)) | np.uint64(1)
    sh, sl = _pcg64_step(np.uint64(0), np.uint64(0), ih, il)
    lo = sl + seed_lo
    sh = sh + seed_hi + np.uint64(lo < sl)
    sh, sl = _pcg64_step(sh, lo, ih, il)
    return sh, sl, ih, il


@njit
def _pcg64_block_states(run_entropy, pool_size, first_key, count):
    """PCG64 states (count, 4) of the child streams ``first_key .. first_key + count - 1`` of an int seed.

    `run_entropy` is the seed as uint32 words, already padded with zeros to
    `pool_size` (NumPy pads when a spawn key follows); child ``k`` appends the word
    ``k`` (keys < 2**32), as ``SeedSequence(seed, spawn_key=(k,))`` does.
    """
    n = run_entropy.shape[0]
    entropy = np.empty(n + 1, dtype=np.uint32)
    for i in range(n):  # a loop, not a slice assignment: numba compiles the slice's shape check for seconds
        entropy[i] = run_entropy[i]
    out = np.empty((count, 4), dtype=np.uint64)
    for c in range(count):
        entropy[n] = np.uint32(first_key + c)
        out[c, 0], out[c, 1], out[c, 2], out[c, 3] = _pcg64_seed_state(_seed_pool(entropy, pool_size))
    return out


@njit
def _pcg64_states_from_pools(pools):
    """PCG64 states (n, 4) from SeedSequence pools (n, pool_size)."""
    out = np.empty((pools.shape[0], 4), dtype=np.uint64)
    for c in range(pools.shape[0]):
        out[c, 0], out[c, 1], out[c, 2], out[c, 3] = _pcg64_seed_state(pools[c])
    return out
