"""Compilation settings and bit-cast intrinsics shared by the numba kernels."""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic

FASTMATH = {"nsz", "arcp", "contract", "afn"}
"""LLVM flags: FMA contraction and reciprocal tricks, but no ``reassoc`` (it would fold the
round-to-nearest magic constant and reorder the compensated sums) and no ``nnan``/``ninf``
(NaN inputs must come out as NaN)."""
JIT = {"nogil": True, "cache": True, "error_model": "numpy", "fastmath": FASTMATH}
"""Options of every kernel: ``error_model="numpy"`` drops the zero-division checks (a branch
per division), ``cache`` keeps compiled code on disk between processes."""
PARALLEL_JIT = {**JIT, "parallel": True}


@intrinsic
def f64_bits(typingctx, x):  # noqa: ANN001, ARG001 - numba intrinsic signature
    """Reinterpret a float64 as its int64 bit pattern (no conversion)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):  # noqa: ANN001, ARG001
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


@intrinsic
def bits_f64(typingctx, x):  # noqa: ANN001, ARG001
    """Reinterpret an int64 bit pattern as a float64."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):  # noqa: ANN001, ARG001
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen
