"""The machine: its ISA flags, GEMM rates per precision (the FLOP bounds' denominators) and
versions.

A bound is FLOPs / GEMM rate. The rate of each precision is measured on large square matrices
with torch (f32: ``torch.matmul``; bf16: ``torch.matmul`` on bfloat16; int8: ``torch._int_mm``,
int8 x int8 -> int32, oneDNN's VNNI/AMX kernels where the CPU has them). Where a measurement
cannot run, the rate is the measured f32 rate times the ISA's peak ratio (``peak_ratio``), and
the report says so.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from pathlib import Path

from ...errors import require
from ...precision import cpu_flags

#: The flags that decide which kernels can run (reported in the table and the JSON).
ISA_FLAGS = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)
#: Square GEMM size for the rates: large enough to run at the kernels' peak.
GEMM_SIZE = 2048


def isa_flags(flags: frozenset[str] | None = None) -> dict[str, bool]:
    """Each of ISA_FLAGS: does this CPU have it (from /proc/cpuinfo)."""
    flags = cpu_flags() if flags is None else flags
    return {f: f in flags for f in ISA_FLAGS}


def peak_ratio(precision: str, isa: dict[str, bool]) -> tuple[float, str]:
    """Peak multiply-add rate of ``precision`` / f32's, per core and cycle, and the reason.

    AVX-512 f32: 2 FMA units x 16 lanes. VNNI (vpdpbusd): 4 int8 products per 32-bit lane, 4x.
    AVX512_BF16 (vdpbf16ps): 2 per lane, 2x. AMX: 1,024 bf16 / 2,048 int8 ops per cycle against
    AVX-512's 64 f32 flops, 16x / 32x. AVX2 without VNNI: vpmaddubsw + vpmaddwd, 2x at best.
    Without native bf16 the CPU converts to f32 and runs f32 FMAs: 1x.
    """
    if precision == "int8":
        if isa.get("amx_int8"):
            return 32.0, "amx_int8"
        if isa.get("avx512_vnni") or isa.get("avx_vnni"):
            return 4.0, "avx512_vnni" if isa.get("avx512_vnni") else "avx_vnni"
        return 2.0, "no VNNI: vpmaddubsw, at best"
    if precision == "bf16":
        if isa.get("amx_bf16"):
            return 16.0, "amx_bf16"
        if isa.get("avx512_bf16"):
            return 2.0, "avx512_bf16"
        return 1.0, "no native bf16: converted to f32"
    return 1.0, "f32"


def gemm_rate(precision: str, threads: int, n: int = GEMM_SIZE, repeat: int = 3) -> float:
    """Best rate (GFLOP/s; int8: GOP/s) of an n x n x n GEMM at ``precision`` on ``threads``."""
    torch = require("torch", "bench")
    torch.set_num_threads(threads)
    if precision == "int8":
        a = torch.randint(-128, 128, (n, n), dtype=torch.int8)
        b = torch.randint(-128, 128, (n, n), dtype=torch.int8)
        op = torch._int_mm
    else:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        op = torch.matmul
    op(a, b)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        op(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def measured_source(precision: str, n: int = GEMM_SIZE) -> str:
    op = {
        "f32": "torch.matmul f32",
        "bf16": "torch.matmul bf16",
        "int8": "torch._int_mm int8→int32",
    }[precision]
    return f"measured: {op}, {n}³"


def rate(precision: str, threads: int, f32_rate: float, isa: dict[str, bool]) -> tuple[float, str]:
    """(rate, source): measured, or ``f32_rate`` x the ISA's peak ratio where it cannot be."""
    if precision == "f32":
        return f32_rate, measured_source("f32")
    try:
        return gemm_rate(precision, threads), measured_source(precision)
    except (RuntimeError, AttributeError, NotImplementedError) as exc:
        ratio, why = peak_ratio(precision, isa)
        return (
            f32_rate * ratio,
            f"ISA peak ratio: {ratio:g}x the f32 rate ({why}); not measured: {exc}",
        )


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ov_capabilities(device: str = "CPU") -> list[str]:
    """OpenVINO's OPTIMIZATION_CAPABILITIES of ``device`` (what Precision choices go by)."""
    import openvino

    try:
        return [str(c) for c in openvino.Core().get_property(device, "OPTIMIZATION_CAPABILITIES")]
    except RuntimeError:
        return []


def machine_info(threads: int, load_at_start: float | None = None) -> dict:
    """CPU, ISA flags, OpenVINO's OPTIMIZATION_CAPABILITIES, threads, load and versions."""
    import openvino

    versions = {"openvino": openvino.__version__}
    for mod in ("torch", "transformers", "onnxruntime", "nncf"):
        with contextlib.suppress(ImportError):
            versions[mod] = __import__(mod).__version__
    load = os.getloadavg()[0]
    return {
        "cpu": cpu_name(),
        "isa": isa_flags(),
        "ov_capabilities": ov_capabilities(),
        "cpus_visible": len(os.sched_getaffinity(0)),
        "threads": threads,
        "python": platform.python_version(),
        "load_average_at_start": load if load_at_start is None else load_at_start,
        "load_average_at_end": load,
        **versions,
    }
