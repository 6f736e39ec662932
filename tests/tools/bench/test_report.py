"""tools/bench/report.py: speed-ups are medians of per-round ratios; disagreements reported."""

from __future__ import annotations

import pytest

from qa_demo.tools.bench.contexts import BenchCase
from qa_demo.tools.bench.engines import TopAnswer
from qa_demo.tools.bench.measure import Sample
from qa_demo.tools.bench.report import check_answers, summarize

pytest.importorskip("onnxruntime")


def _case(length: str) -> BenchCase:
    return BenchCase("q?", "some context", "context", length)


def test_speedups_are_medians_of_per_round_ratios():
    cases = (_case("short"), _case("long"))
    top = TopAnswer("context", 5, 12)
    # Round 1 is slow for everybody (a busy machine): ratios stay 2x in both rounds.
    times = {
        ("pytorch", 0): 100.0,
        ("pytorch", 1): 400.0,
        ("ov-fp32", 0): 50.0,
        ("ov-fp32", 1): 200.0,
    }
    samples = [
        Sample(name, i, rnd, ms * (1 + i), top, 1.0)
        for (name, rnd), ms in times.items()
        for i in range(2)
    ]
    window = {"pytorch": [10.0, 30.0], "ov-fp32": [5.0, 15.0]}
    rows = {r.engine: r for r in summarize(["pytorch", "ov-fp32"], cases, samples, window)}
    assert rows["ov-fp32"].speedup_short == pytest.approx(2.0)
    assert rows["ov-fp32"].speedup_long == pytest.approx(2.0)
    assert rows["pytorch"].speedup_long == pytest.approx(1.0)
    assert rows["ov-fp32"].window_ms == pytest.approx(10.0)


def test_disagreements_are_reported_and_int8_is_a_rate():
    cases = (_case("short"), _case("short"))
    a, b = TopAnswer("context", 5, 12), TopAnswer("some", 0, 4)
    samples = [
        Sample("pytorch", 0, 0, 1.0, a),
        Sample("pytorch", 1, 0, 1.0, a),
        Sample("ov-fp32", 0, 0, 1.0, a),
        Sample("ov-fp32", 1, 0, 1.0, b),
        Sample("ov-int8-weights", 0, 0, 1.0, a),
        Sample("ov-int8-weights", 1, 0, 1.0, a),
    ]
    disagreements, agreement = check_answers(cases, samples)
    assert len(disagreements) == 1 and "case 1: ov-fp32" in disagreements[0]
    assert agreement == {"ov-int8-weights vs ov-fp32": 50.0}
