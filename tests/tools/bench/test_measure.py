"""tools/bench/measure.py: FLOP bounds and ceilings."""

from __future__ import annotations

import pytest

from qa_demo.tools.bench.contexts import BenchCase
from qa_demo.tools.bench.engines import TopAnswer
from qa_demo.tools.bench.measure import Sample, ceiling, flops_per_window

pytest.importorskip("onnxruntime")


def test_flop_bound_of_distilbert_size():
    # DistilBERT: 6 layers of 4 x 768^2 + 2 x 768 x 3072 weights (+ biases, norms, QA head).
    params = 6 * (4 * 768 * 768 + 2 * 768 * 3072)
    gflops = flops_per_window(params, 768, 6, 384) / 1e9
    assert 35.0 < gflops < 35.5


def _case(length: str) -> BenchCase:
    return BenchCase("q?", "some context", "context", length)


def test_ceiling_is_reference_time_over_the_flop_bound_of_its_windows():
    cases = (_case("short"), _case("short"), _case("long"))
    top = TopAnswer("context", 5, 12)
    # 1 GFLOP per short case, 4 per long; sgemm 10 GFLOP/s in round 0 and 5 in round 1 (busy).
    flops = [1e9, 1e9, 4e9]
    samples = [
        Sample("pytorch", 0, 0, 150.0, top),
        Sample("pytorch", 1, 0, 150.0, top),
        Sample("pytorch", 2, 0, 500.0, top),
        Sample("pytorch", 0, 1, 300.0, top),
        Sample("pytorch", 1, 1, 300.0, top),
        Sample("pytorch", 2, 1, 1000.0, top),
        Sample("ov-fp32", 0, 0, 1.0, top),
    ]
    got = ceiling(cases, flops, samples, [10.0, 5.0])
    # short: 300 ms / (2 GFLOP at 10 GFLOP/s = 200 ms) = 1.5 in both rounds; long: 500 / 400.
    assert got == {"short": pytest.approx(1.5), "long": pytest.approx(1.25)}
