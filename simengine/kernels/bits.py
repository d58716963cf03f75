"""A float64's IEEE bits as a uint64 and back, one element at a time.

``arr.view(np.uint64)`` inside a kernel compiles numba's dtype-change machinery (a few tenths
of a second per caller on a cold cache); these are a register bitcast each, nothing to compile.
"""
from llvmlite import ir
from numba import types

from simengine._numba_compat import intrinsic


@intrinsic
def float_bits(typingctx, v):
    """The IEEE bits of float64 `v` as a uint64 (``np.float64(v).view(np.uint64)``)."""
    sig = types.uint64(types.float64)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def bits_float(typingctx, u):
    """The float64 whose IEEE bits are uint64 `u` (``np.uint64(u).view(np.float64)``)."""
    sig = types.float64(types.uint64)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen
