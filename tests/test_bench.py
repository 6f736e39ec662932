"""qa-demo bench: every engine runs and agrees on a tiny model; no speed is checked."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED_DATA
from qa_demo import cli
from qa_demo.tools.bench.config import ENGINES
from qa_demo.tools.bench.contexts import LONG_CHARS, SHORT_CHARS, BenchCase, english_cases
from qa_demo.tools.bench.engines import TopAnswer
from qa_demo.tools.bench.measure import Sample, ceiling, flops_per_window
from qa_demo.tools.bench.report import check_answers, markdown, summarize

pytest.importorskip("onnxruntime")


def test_english_contexts_have_the_promised_sizes():
    for case in english_cases("both"):
        lo, hi = SHORT_CHARS if case.length == "short" else LONG_CHARS
        assert lo <= len(case.context) <= hi, case.question
        assert case.expected in case.context
    assert {c.length for c in english_cases("long")} == {"long"}


@pytest.mark.skipif(not (SHARED_DATA / "jsquad").exists(), reason="needs ../shared/data/jsquad")
def test_japanese_contexts_from_jsquad():
    from qa_demo.tools.bench.contexts import japanese_cases

    cases = japanese_cases(SHARED_DATA / "jsquad" / "valid-v1.3.json")
    assert {c.length for c in cases} == {"short", "long"}
    for case in cases:
        lo, hi = SHORT_CHARS if case.length == "short" else LONG_CHARS
        assert lo <= len(case.context) <= hi
        assert case.expected in case.context


def test_flop_bound_of_distilbert_size():
    # DistilBERT: 6 layers of 4 x 768^2 + 2 x 768 x 3072 weights (+ biases, norms, QA head).
    params = 6 * (4 * 768 * 768 + 2 * 768 * 3072)
    gflops = flops_per_window(params, 768, 6, 384) / 1e9
    assert 35.0 < gflops < 35.5


def _case(length: str) -> BenchCase:
    return BenchCase("q?", "some context", "context", length)


def test_speedups_are_medians_of_per_round_ratios():
    cases = (_case("short"), _case("long"))
    top = TopAnswer("context", 5, 12)
    # Round 1 is slow for everybody (a busy machine): ratios stay 2x in both rounds.
    times = {("pytorch", 0): 100.0, ("pytorch", 1): 400.0, ("ov-fp32", 0): 50.0,
             ("ov-fp32", 1): 200.0}
    samples = [Sample(name, i, rnd, ms * (1 + i), top, 1.0)
               for (name, rnd), ms in times.items() for i in range(2)]
    window = {"pytorch": [10.0, 30.0], "ov-fp32": [5.0, 15.0]}
    rows = {r.engine: r for r in summarize(["pytorch", "ov-fp32"], cases, samples, window)}
    assert rows["ov-fp32"].speedup_short == pytest.approx(2.0)
    assert rows["ov-fp32"].speedup_long == pytest.approx(2.0)
    assert rows["pytorch"].speedup_long == pytest.approx(1.0)
    assert rows["ov-fp32"].window_ms == pytest.approx(10.0)


def test_ceiling_is_reference_time_over_the_flop_bound_of_its_windows():
    cases = (_case("short"), _case("short"), _case("long"))
    top = TopAnswer("context", 5, 12)
    # 1 GFLOP per short case, 4 per long; sgemm 10 GFLOP/s in round 0 and 5 in round 1 (busy).
    flops = [1e9, 1e9, 4e9]
    samples = [Sample("pytorch", 0, 0, 150.0, top), Sample("pytorch", 1, 0, 150.0, top),
               Sample("pytorch", 2, 0, 500.0, top),
               Sample("pytorch", 0, 1, 300.0, top), Sample("pytorch", 1, 1, 300.0, top),
               Sample("pytorch", 2, 1, 1000.0, top), Sample("ov-fp32", 0, 0, 1.0, top)]
    got = ceiling(cases, flops, samples, [10.0, 5.0])
    # short: 300 ms / (2 GFLOP at 10 GFLOP/s = 200 ms) = 1.5 in both rounds; long: 500 / 400.
    assert got == {"short": pytest.approx(1.5), "long": pytest.approx(1.25)}


def test_disagreements_are_reported_and_int8_is_a_rate():
    cases = (_case("short"), _case("short"))
    a, b = TopAnswer("context", 5, 12), TopAnswer("some", 0, 4)
    samples = [
        Sample("pytorch", 0, 0, 1.0, a), Sample("pytorch", 1, 0, 1.0, a),
        Sample("ov-fp32", 0, 0, 1.0, a), Sample("ov-fp32", 1, 0, 1.0, b),
        Sample("ov-int8-weights", 0, 0, 1.0, a), Sample("ov-int8-weights", 1, 0, 1.0, a),
    ]
    disagreements, agreement = check_answers(cases, samples)
    assert len(disagreements) == 1 and "case 1: ov-fp32" in disagreements[0]
    assert agreement == {"ov-int8-weights vs ov-fp32": 50.0}


def test_bench_command_runs_every_engine_on_a_tiny_model(en_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main([
        "bench", "--model", str(en_checkpoint), "--contexts", "both", "--repeat", "1",
        "--work-dir", str(tmp_path / "work"), "--out", str(out),
    ])
    assert code == 0
    table = capsys.readouterr().out
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    ran = report["config"]["engines"]
    assert set(ran) | set(report["skipped"]) == set(ENGINES)
    assert {"pytorch", "ort-fp32", "ort-int8", "ov-fp32", "ov-int8-weights"} <= set(ran)
    for name in ran:
        assert f"| {name} |" in table
    assert report["disagreements"] == []
    assert "All FP32 engines gave the same top answers." in table
    cases = english_cases("both")
    for case, row in zip(cases, report["cases"], strict=True):
        assert set(row["answers"]) == set(ran)
        for text in row["answers"].values():
            assert text in case.context  # an exact slice, from every engine
    assert set(report["ceiling"]) == {"short", "long"} and "Ceiling:" in table
    assert all(len(row["windows"]) >= 1 for row in report["cases"])
    assert (out / "bench.png").stat().st_size > 0
    assert markdown  # the renderer is importable on its own


def test_bench_rejects_bad_options(capsys):
    assert cli.main(["bench", "--model", "/nonexistent", "--repeat", "0"]) == 2
    assert "repeat" in capsys.readouterr().err


def test_parallel_windows_equal_one_batch(en_qa_dir):
    """The CPU path for long contexts (one request per window, THROUGHPUT) changes no logit."""
    from qa_demo import QAOptions, QuestionAnswerer
    from qa_demo.runtime import Engine

    engine = Engine()
    opts = QAOptions(max_seq_len=64, doc_stride=16)
    context = " ".join(case.context for case in english_cases("short"))
    par = QuestionAnswerer.load(en_qa_dir, engine=engine, options=opts).ask("Who?", context)
    one = QuestionAnswerer.load(en_qa_dir, engine=engine, options=opts,
                                parallel_windows=False).ask("Who?", context)
    assert len(par.windows) > 4
    # Padding changes float rounding, not the answer.
    assert [(a.text, a.start, a.end) for a in par.answers] == [
        (a.text, a.start, a.end) for a in one.answers
    ]
    assert [a.score for a in par.answers] == pytest.approx([a.score for a in one.answers])
    for a, b in zip(par.start_logits + par.end_logits, one.start_logits + one.end_logits,
                    strict=True):
        assert a.shape == b.shape
        assert abs(a - b).max() < 1e-4
