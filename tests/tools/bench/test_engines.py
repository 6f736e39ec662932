"""tools/bench/engines.py: each engine runs the runtime it names, at the precision it names."""

from __future__ import annotations

import pytest

from qa_demo.options import Precision
from qa_demo.precision import unsupported_message
from qa_demo.runtime import Engine
from qa_demo.tools.bench.config import BenchConfig
from qa_demo.tools.bench.engines import make_engines, window_feed
from qa_demo.tools.bench.weights import prepare

pytest.importorskip("onnxruntime")


def _spy_on_runtimes(monkeypatch) -> dict[str, int]:
    """Count the calls into each runtime library: ONNX Runtime sessions, OpenVINO infer
    requests (sync and async), PyTorch modules, and KServe v2 calls over the wire (tritonclient;
    the model server's own OpenVINO runs in its process)."""
    import onnxruntime
    import openvino
    import torch

    calls = {"onnxruntime": 0, "openvino": 0, "pytorch": 0, "kserve-v2": 0}

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
    http = pytest.importorskip("tritonclient.http")
    count(http.InferenceServerClient, "infer", "kserve-v2")
    return calls


@pytest.mark.slow
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
    expected = {
        "pytorch": "pytorch",
        "ort-fp32": "onnxruntime",
        "ort-int8": "onnxruntime",
        "ov-remote": "kserve-v2",
    }
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
    assert executed["ov-remote"].startswith("f32 (on http://127.0.0.1:")
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
