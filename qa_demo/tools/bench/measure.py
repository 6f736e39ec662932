"""Measuring: interleaved rounds, the sgemm rate, FLOP bounds and the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from ...errors import require
from .config import REFERENCE, SGEMM_SIZE, WINDOW_TOKENS
from .contexts import BenchCase
from .engines import BenchEngine, TopAnswer


@dataclass(frozen=True)
class Sample:
    """One engine answering one case once."""

    engine: str
    case: int
    round: int
    total_ms: float
    answer: TopAnswer
    #: tokenize + post-processing ms, where the engine reports its stages (ours).
    overhead_ms: float | None = None



def flops_per_window(params: int, hidden: int, layers: int, tokens: int = WINDOW_TOKENS) -> float:
    """2 x weights x tokens for the matmuls, plus QK^T and AV: 2 x 2 x T^2 x H per layer."""
    return 2.0 * params * tokens + 4.0 * layers * tokens * tokens * hidden


def ceiling(cases: tuple[BenchCase, ...], case_flops: list[float], samples: list[Sample],
            sgemm: list[float], reference: str = REFERENCE) -> dict[str, float]:
    """Per length: median over rounds of the reference's time / the FLOP bound of its work."""
    out = {}
    for length in ("short", "long"):
        idx = [i for i, c in enumerate(cases) if c.length == length]
        if not idx:
            continue
        flops = sum(case_flops[i] for i in idx)
        ratios = []
        for rnd, gflops in enumerate(sgemm):
            ms = sum(s.total_ms for s in samples
                     if s.engine == reference and s.round == rnd and s.case in idx)
            if ms:
                ratios.append(ms / (flops / (gflops * 1e9) * 1000))
        if ratios:
            out[length] = statistics.median(ratios)
    return out


def bound_ratios(names: list[str], window: dict[str, list[float]],
                 flops: float) -> dict[str, float]:
    """Model-only time / FLOP bound, per round (the sgemm rate of that round), then the median."""
    return {name: statistics.median(w * g * 1e6 / flops
                                    for w, g in zip(window[name], window["sgemm"], strict=True))
            for name in names}


def sgemm_gflops(threads: int, n: int = SGEMM_SIZE, repeat: int = 5) -> float:
    """Best FP32 matmul rate (GFLOP/s) of large square matrices on ``threads`` threads."""
    torch = require("torch", "bench")
    torch.set_num_threads(threads)
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9

def measure(engines: list[BenchEngine], cases: tuple[BenchCase, ...], feed, repeat: int,
            threads: int, log) -> tuple[list[Sample], dict[str, list[float]]]:
    """Warm up, then ``repeat`` rounds; in each, every engine answers every case once and runs
    the model alone on one window, and the sgemm peak is measured (key "sgemm", GFLOP/s), so
    the FLOP bound sees the same machine load as the engines. The engine order rotates."""
    warm = {min(cases, key=lambda c: len(c.context)), max(cases, key=lambda c: len(c.context))}
    for e in engines:  # compile (LATENCY and THROUGHPUT), allocate, fill caches: not measured
        for case in warm:
            e.answer(case)
        e.window(feed)
    samples: list[Sample] = []
    window: dict[str, list[float]] = {e.name: [] for e in engines}
    window["sgemm"] = []
    for rnd in range(repeat):
        window["sgemm"].append(sgemm_gflops(threads, repeat=3))
        order = engines[rnd % len(engines):] + engines[: rnd % len(engines)]
        for e in order:
            for i, case in enumerate(cases):
                t0 = time.perf_counter()
                top, overhead = e.answer(case)
                ms = (time.perf_counter() - t0) * 1000
                samples.append(Sample(e.name, i, rnd, ms, top, overhead))
            t0 = time.perf_counter()
            e.window(feed)
            window[e.name].append((time.perf_counter() - t0) * 1000)
        log(f"round {rnd + 1}/{repeat} done")
    return samples, window


def machine_info(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                     if ln.startswith("flags")).split()
        isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile") if f in flags]
    except (OSError, StopIteration):
        isa = []
    import openvino

    versions = {"openvino": openvino.__version__}
    for mod in ("torch", "transformers", "onnxruntime", "nncf"):
        with contextlib.suppress(ImportError):
            versions[mod] = __import__(mod).__version__
    return {"cpu": cpu, "isa": isa, "cpus_visible": len(os.sched_getaffinity(0)),
            "threads": threads, "python": platform.python_version(),
            "load_average_at_start": os.getloadavg()[0], **versions}

