"""What a compiled OpenVINO model executes, read back from its runtime model.

Precision is explicit: the hint asked for is not proof. These functions read the matmul layers'
primitives (which name their ISA and type) and the plugin's properties, so that every report
of a precision says what ran.
"""

from __future__ import annotations

from .precision import cpu_flags, int8_dot_product

#: Layers whose runtime precision tells which kernels ran (int8 or floating point).
MATMUL_LAYERS = ("FullyConnected", "MatMul", "Convolution")
INT8_TYPES = ("u8", "i8")
#: Floating types a matmul primitive's name ends with (e.g. "brgemm_avx512_amx_bf16").
FLOAT_TYPES = ("f32", "bf16", "f16")


def executed_precision(compiled, asked: str | None = None) -> str:
    """What the compiled model runs, read back from it: "f32", "bf16", or int8 matmuls + rest.

    Virtual devices (AUTO) do not report it; then it is the hint asked for, marked as such.
    """
    try:
        fp = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    except (RuntimeError, AttributeError):
        fp = f"{asked} (as asked; the device does not report it)" if asked else "unreported"
    kernels = matmul_kernels(compiled)
    int8 = {prim for (prim, prec) in kernels if prec in INT8_TYPES}
    if not int8:
        return _float_matmuls(kernels, fp)
    if all("i8" not in prim.lower() for prim in int8) and not _dynamic_int8(compiled):
        # Weight-only INT8 without int8 dot products: u8 weights unpacked to f32 for f32 math.
        return f"int8 weights decompressed, {fp} matmuls"
    # Primitive names carry the ISA where the plugin reports one (e.g. brgemm_avx512_amx).
    isa = sorted({p for (p, prec) in kernels if prec in INT8_TYPES and not p.startswith("undef")})
    where = f" ({', '.join(isa)})" if isa else ""
    return f"int8 matmuls{where}, {fp} rest"


def _float_matmuls(kernels: dict[tuple[str, str], int], fp: str) -> str:
    """``fp``, unless the matmul primitives name another floating type: the plugin may accept a
    hint and still run its matmuls otherwise (an f16 hint runs bf16 on a CPU without fp16
    kernels), and what executed is what we report."""
    ran = {prim.rsplit("_", 1)[-1] for prim, _ in kernels} & set(FLOAT_TYPES)
    if len(ran) == 1 and fp in FLOAT_TYPES and fp not in ran:
        return f"{ran.pop()} matmuls ({fp} asked)"
    return fp


def _dynamic_int8(compiled) -> bool:
    """Whether the CPU plugin quantizes activations at run time (weight-only IRs then compute
    in int8): it does with DYNAMIC_QUANTIZATION_GROUP_SIZE > 0 on CPUs with int8 dot products."""
    try:
        group = int(compiled.get_property("DYNAMIC_QUANTIZATION_GROUP_SIZE"))
    except (RuntimeError, TypeError, ValueError):
        group = 0
    return group > 0 and int8_dot_product(cpu_flags())


def matmul_kernels(compiled) -> dict[tuple[str, str], int]:
    """(primitive, runtime precision) -> count, over the matmul layers of the runtime model."""
    counts: dict[tuple[str, str], int] = {}
    try:
        ops = compiled.get_runtime_model().get_ordered_ops()
    except RuntimeError:
        return counts
    for op in ops:
        info = op.get_rt_info()
        layer = info["layerType"].astype(str) if "layerType" in info else ""
        if layer in MATMUL_LAYERS:
            prim = info["primitiveType"].astype(str) if "primitiveType" in info else "?"
            prec = info["runtimePrecision"].astype(str) if "runtimePrecision" in info else "?"
            counts[(prim, prec)] = counts.get((prim, prec), 0) + 1
    return counts
