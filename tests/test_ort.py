"""The ONNX Runtime backend behind the same seam as OpenVINO's: the CLI and the app run on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_demo.app import view
from qa_demo.app.handlers import make_request
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.service import DemoService
from qa_demo.cli import main
from qa_demo.options import Precision
from qa_demo.ort import OrtEngine
from qa_demo.qa import QuestionAnswerer

pytest.importorskip("onnxruntime")

CONTEXT = "Ada Lovelace wrote the report in London in 1843."


@pytest.fixture(scope="module")
def onnx_files(en_checkpoint, tmp_path_factory) -> dict[Precision, Path]:
    from transformers import AutoModelForQuestionAnswering

    from qa_demo.tools.bench.weights import export_onnx

    out = tmp_path_factory.mktemp("onnx")
    model = AutoModelForQuestionAnswering.from_pretrained(en_checkpoint).eval()
    export_onnx(model, out / "model.onnx", out / "model_int8.onnx")
    return {Precision.FP32: out / "model.onnx", Precision.INT8: out / "model_int8.onnx"}


def test_onnx_runtime_gives_the_openvino_fp32_answer(en_qa_dir, onnx_files, tmp_path):
    from qa_demo.runtime import Engine

    ours = QuestionAnswerer.load(en_qa_dir, engine=Engine(cache_dir=tmp_path), precision="FP32")
    ort = QuestionAnswerer.load(en_qa_dir, engine=OrtEngine(onnx_files), precision="FP32")
    a, b = ours.ask("Who wrote it?", CONTEXT), ort.ask("Who wrote it?", CONTEXT)
    assert (a.best.start, a.best.end) == (b.best.start, b.best.end)
    assert b.precision.executed == "f32 (ONNX Runtime)"


def test_auto_on_onnx_runtime_goes_by_the_same_rule(en_qa_dir, onnx_files):
    engine = OrtEngine(onnx_files)
    caps = engine.capabilities("CPU")
    assert caps.supports(Precision.INT8) and not caps.supports(Precision.BF16)
    assert engine.devices() == ["CPU"] and engine.notes == []


def test_ask_on_onnx_runtime(capsys, en_qa_dir, onnx_files):
    argv = ["ask", "--model", str(en_qa_dir), "--question", "Who?", "--context", CONTEXT]
    assert main([*argv, "--onnx", str(onnx_files[Precision.FP32]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["precision"]["executed"] == "f32 (ONNX Runtime)"
    best = data["answers"][0]
    assert best["text"] == CONTEXT[best["start"] : best["end"]]


def test_the_app_runs_on_onnx_runtime(models_root, onnx_files):
    service = DemoService(ModelRegistry(models_root("en-qa"), engine=OrtEngine(onnx_files)))
    run = service.answer(make_request("Who wrote the report?", CONTEXT, precision="INT8"))
    assert run.qa.precision.executed == "dynamic int8 (ONNX Runtime)"
    page = view.answer_json(run)
    assert page["answers"][0]["text"] == CONTEXT[run.qa.best.start : run.qa.best.end]
    assert [s.device for s in run.stages] == ["CPU"]
