"""qa-demo bench: every engine runs and agrees on a tiny model; no speed is checked."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED_DATA
from qa_demo import cli
from qa_demo.options import Precision
from qa_demo.precision import unsupported_message
from qa_demo.runtime import Engine
from qa_demo.tools.bench.config import ENGINES, BenchConfig
from qa_demo.tools.bench.contexts import LONG_CHARS, SHORT_CHARS, BenchCase, english_cases
from qa_demo.tools.bench.engines import TopAnswer, make_engines, window_feed
from qa_demo.tools.bench.machine import ISA_FLAGS, peak_ratio
from qa_demo.tools.bench.measure import Sample, ceiling, flops_per_window
from qa_demo.tools.bench.report import check_answers, summarize
from qa_demo.tools.bench.weights import prepare

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


@pytest.fixture(scope="module")
def bench_work(tmp_path_factory):
    """One work directory for the tests below, so the tiny model is exported once."""
    return tmp_path_factory.mktemp("bench-work")


def test_bench_command_runs_every_engine_on_a_tiny_model(
    en_checkpoint, bench_work, tmp_path, capsys
):
    out = tmp_path / "out"
    code = cli.main(
        [
            "bench",
            "--model",
            str(en_checkpoint),
            "--contexts",
            "both",
            "--repeat",
            "1",
            "--work-dir",
            str(bench_work),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    ran = report["config"]["engines"]
    assert set(ran) | set(report["skipped"]) == set(ENGINES)
    assert {
        "pytorch",
        "ort-fp32",
        "ort-int8",
        "ov-fp32",
        "ov-int8-weights",
        "ov-int8-static",
        "ov-auto",
    } <= set(ran)
    rows = {e["engine"]: e for e in report["engines"]}
    for name in ran:
        row = rows[name]
        assert f"| {name} | {row['runtime']} | {row['executed_precision']} |" in table
        assert row["bound"] in report["rates"] and row["bound_ratio"] > 0
    assert report["disagreements"] == []
    assert "All FP32 engines gave the same top answers." in table
    cases = english_cases("both")
    for case, row in zip(cases, report["cases"], strict=True):
        assert set(row["answers"]) == set(ran)
        for text in row["answers"].values():
            assert text in case.context  # an exact slice, from every engine
    # Every precision that ran has its rate, and a ceiling that says what it bounds.
    assert {"f32", "int8"} <= set(report["rates"]) == set(report["ceiling"])
    assert set(report["ceiling"]["f32"]) == {"short", "long"}
    assert "Ceiling at f32" in table and "Ceiling at int8" in table
    assert set(report["machine"]["isa"]) == set(ISA_FLAGS)
    assert all(f in table for f in ISA_FLAGS)
    assert all(len(row["windows"]) >= 1 for row in report["cases"])
    assert (out / "bench.png").stat().st_size > 0


def _spy_on_runtimes(monkeypatch) -> dict[str, int]:
    """Count the calls into each runtime library: ONNX Runtime sessions, OpenVINO infer
    requests (sync and async), PyTorch modules."""
    import onnxruntime
    import openvino
    import torch

    calls = {"onnxruntime": 0, "openvino": 0, "pytorch": 0}

    def count(cls, method: str, runtime: str) -> None:
        original = getattr(cls, method)

        def counted(self, *args, **kwargs):
            calls[runtime] += 1
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, counted)

    count(onnxruntime.InferenceSession, "run", "onnxruntime")
    count(openvino.InferRequest, "infer", "openvino")
    count(openvino.InferRequest, "start_async", "openvino")
    count(torch.nn.Module, "__call__", "pytorch")
    return calls


def test_each_engine_runs_the_runtime_it_names(en_checkpoint, bench_work, monkeypatch):
    """ort-* answers through ONNX Runtime only, ov-* through OpenVINO only (an ORT engine whose
    answers ran OpenVINO, as before the Runner seam, fails here), and each OpenVINO engine
    executes the precision it names, read back from the compiled model."""
    cfg = BenchConfig(arch=None, model=en_checkpoint, work_dir=bench_work, threads=1)
    prep = prepare(cfg, lambda m: None)
    engines, skipped = make_engines(cfg, prep, lambda m: None)
    long_case = max(prep.cases, key=lambda c: len(c.context))  # several windows
    feed = window_feed(prep)
    calls = _spy_on_runtimes(monkeypatch)
    expected = {"pytorch": "pytorch", "ort-fp32": "onnxruntime", "ort-int8": "onnxruntime"}
    for e in engines:
        runtime = expected.get(e.name, "openvino")
        for run in (lambda e=e: e.answer(long_case), lambda e=e: e.window(feed)):
            calls.update(dict.fromkeys(calls, 0))
            run()
            assert calls[runtime] > 0 and sum(calls.values()) == calls[runtime], (e.name, calls)
        assert e.runtime == runtime
    executed = {e.name: e.executed_precision for e in engines}
    bound = {e.name: e.bound for e in engines}
    assert executed["pytorch"] == executed["ov-fp32"] == executed["ov-fp32-parallel"] == "f32"
    assert executed["ort-fp32"].startswith("f32") and "int8" in executed["ort-int8"]
    for name in ("ov-int8-static", "ov-int8-weights", "ort-int8"):
        assert "int8" in executed[name]
    assert bound["ov-int8-static"] == bound["ort-int8"] == "int8"
    weights = next(e for e in engines if e.name == "ov-int8-weights")
    # Weight-only INT8 computes int8 only where the CPU plugin quantizes activations too.
    assert bound["ov-int8-weights"] == "int8" or "decompressed" in weights.note
    caps = Engine().capabilities("CPU")
    if caps.supports(Precision.BF16):
        assert executed["ov-bf16"] == "bf16" and bound["ov-bf16"] == "bf16"
    else:
        assert skipped["ov-bf16"] == unsupported_message(Precision.BF16, caps)
    auto = next(e for e in engines if e.name == "ov-auto")
    chosen = auto.qa.choice.precision
    assert auto.note.startswith("AUTO → ")
    assert {Precision.FP32: "f32", Precision.BF16: "bf16"}.get(chosen, "int8") in executed[
        "ov-auto"
    ]


def test_peak_ratios_per_isa():
    none = dict.fromkeys(ISA_FLAGS, False)
    assert peak_ratio("int8", {**none, "avx2": True})[0] == 2.0
    assert peak_ratio("int8", {**none, "avx512f": True, "avx512_vnni": True})[0] == 4.0
    assert peak_ratio("bf16", {**none, "avx512f": True, "avx512_vnni": True})[0] == 1.0
    assert peak_ratio("bf16", {**none, "avx512_bf16": True})[0] == 2.0
    assert peak_ratio("int8", {**none, "amx_int8": True})[0] > 4.0
    assert peak_ratio("f32", none)[0] == 1.0


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
    one = QuestionAnswerer.load(en_qa_dir, engine=engine, options=opts, parallel_windows=False).ask(
        "Who?", context
    )
    assert len(par.windows) > 4
    # Padding changes float rounding, not the answer.
    assert [(a.text, a.start, a.end) for a in par.answers] == [
        (a.text, a.start, a.end) for a in one.answers
    ]
    assert [a.score for a in par.answers] == pytest.approx([a.score for a in one.answers])
    for a, b in zip(
        par.start_logits + par.end_logits, one.start_logits + one.end_logits, strict=True
    ):
        assert a.shape == b.shape
        assert abs(a - b).max() < 1e-4
