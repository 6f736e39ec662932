"""Measuring: interleaved rounds, the GEMM rates of each round, FLOP bounds and ceilings."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..agreement import TopAnswer
from .config import REFERENCE, WINDOW_TOKENS
from .contexts import BenchCase
from .engines import BenchEngine
from .machine import gemm_rate, isa_flags, rate


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


@dataclass
class Measured:
    """What the rounds give: samples, model-only ms per engine, GEMM rates per precision."""

    samples: list[Sample] = field(default_factory=list)
    window: dict[str, list[float]] = field(default_factory=dict)  # engine -> ms per round
    rates: dict[str, list[float]] = field(default_factory=dict)  # "f32"... -> GFLOP/s per round
    rate_sources: dict[str, str] = field(default_factory=dict)


def measure(
    engines: list[BenchEngine],
    cases: tuple[BenchCase, ...],
    feed: dict[str, np.ndarray],
    repeat: int,
    threads: int,
    log: Callable[[str], None],
) -> Measured:
    """Warm up, then ``repeat`` rounds; in each, the GEMM rate of every precision an engine
    runs at is measured (so the bounds see the same machine load as the engines), then every
    engine answers every case once and runs the model alone on one window. The engine order
    rotates from round to round."""
    _warm_up(engines, cases, feed)
    out = Measured(window={e.name: [] for e in engines})
    precisions = ["f32", *sorted({e.bound for e in engines} - {"f32"})]
    isa = isa_flags()
    for rnd in range(repeat):
        f32 = gemm_rate("f32", threads)
        for precision in precisions:
            gflops, source = rate(precision, threads, f32, isa)
            out.rates.setdefault(precision, []).append(gflops)
            out.rate_sources[precision] = source
        shift = rnd % len(engines)
        for e in engines[shift:] + engines[:shift]:
            out.samples.extend(_answer_all(e, cases, rnd))
            t0 = time.perf_counter()
            e.window(feed)
            out.window[e.name].append((time.perf_counter() - t0) * 1000)
        log(f"round {rnd + 1}/{repeat} done")
    return out


def _warm_up(engines: list[BenchEngine], cases: tuple[BenchCase, ...], feed) -> None:
    """Compile (LATENCY and THROUGHPUT), allocate and fill caches: not measured."""
    warm = {min(cases, key=lambda c: len(c.context)), max(cases, key=lambda c: len(c.context))}
    for e in engines:
        for case in warm:
            e.answer(case)
        e.window(feed)


def _answer_all(engine: BenchEngine, cases: tuple[BenchCase, ...], rnd: int) -> list[Sample]:
    out = []
    for i, case in enumerate(cases):
        t0 = time.perf_counter()
        top, overhead = engine.answer(case)
        ms = (time.perf_counter() - t0) * 1000
        out.append(Sample(engine.name, i, rnd, ms, top, overhead))
    return out


def flops_per_window(params: int, hidden: int, layers: int, tokens: int = WINDOW_TOKENS) -> float:
    """2 x weights x tokens for the matmuls, plus QK^T and AV: 2 x 2 x T^2 x H per layer."""
    return 2.0 * params * tokens + 4.0 * layers * tokens * tokens * hidden


def bound_ms(flops: float, gflops: float) -> float:
    return flops / (gflops * 1e9) * 1000


def bound_ratios(engines: list[BenchEngine], measured: Measured, flops: float) -> dict[str, float]:
    """Model-only time / the FLOP bound at the engine's own precision (``engine.bound``), per
    round (that round's GEMM rate), then the median."""
    return {
        e.name: statistics.median(
            w / bound_ms(flops, g)
            for w, g in zip(measured.window[e.name], measured.rates[e.bound], strict=True)
        )
        for e in engines
    }


def ceiling(
    cases: tuple[BenchCase, ...],
    case_flops: list[float],
    samples: list[Sample],
    rates: list[float],
    reference: str = REFERENCE,
) -> dict[str, float]:
    """Per length: median over rounds of the reference's end-to-end time / the FLOP bound of
    the windows it runs, at one precision's GEMM rate (``rates``, one per round): the largest
    speed-up an engine computing at that rate, with no overhead at all, could show."""
    out = {}
    for length in ("short", "long"):
        idx = [i for i, c in enumerate(cases) if c.length == length]
        if not idx:
            continue
        flops = sum(case_flops[i] for i in idx)
        ratios = []
        for rnd, gflops in enumerate(rates):
            ms = sum(
                s.total_ms
                for s in samples
                if s.engine == reference and s.round == rnd and s.case in idx
            )
            if ms:
                ratios.append(ms / bound_ms(flops, gflops))
        if ratios:
            out[length] = statistics.median(ratios)
    return out
