"""The one adapter (component values -> Settings + QAOptions) and precision choices in the UI."""

from __future__ import annotations

import inspect
import shutil
from dataclasses import fields

import pytest

from qa_demo.app import handlers
from qa_demo.app.handlers import make_request
from qa_demo.app.layout import ANSWER_OUTPUTS, Controls
from qa_demo.app.messages import error_message
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.service import DemoService, Settings
from qa_demo.errors import QADemoError
from qa_demo.options import Precision

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843."


@pytest.fixture(scope="module")
def service(tmp_path_factory, en_qa_dir) -> DemoService:
    root = tmp_path_factory.mktemp("handler_models")
    shutil.copytree(en_qa_dir, root / "en-qa")
    return DemoService(ModelRegistry(root))


def test_controls_are_named_as_the_adapter_parameters():
    params = list(inspect.signature(make_request).parameters)
    assert [f.name for f in fields(Controls)] == [p for p in params if p != "needs_question"]
    assert set(ANSWER_OUTPUTS) == {f.name for f in fields(handlers.AnswerView)}


def test_controls_read_builds_settings_and_options_once():
    comps = {f.name: object() for f in fields(Controls)}
    raw = {
        "question": "Who?", "context": EN_CONTEXT, "model": None, "ner_model": "auto",
        "language": "en", "device": "CPU", "precision": "int8", "dictionary": "auto",
        "top_k": 3.0, "max_answer_len": 20, "doc_stride": 64, "max_seq_len": 128,
        "null_threshold": "",
    }  # fmt: skip
    req = Controls(**comps).read({comps[name]: value for name, value in raw.items()})
    assert req.settings == Settings("auto", "auto", "en", "CPU", Precision.INT8, "auto")
    assert (req.options.top_k, req.options.doc_stride, req.options.null_threshold) == (3, 64, None)
    assert req.question == "Who?" and req.context == EN_CONTEXT


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"precision": "fp8"}, "Unknown precision 'fp8'"),
        ({"top_k": 0}, "top_k"),
        ({"max_seq_len": 8}, "max_seq_len must be between"),
        ({"language": "fr"}, "Unknown language 'fr'"),
        ({"dictionary": "neologd"}, "Unknown dictionary 'neologd'"),
    ],
)
def test_bad_values_are_one_clear_error(kwargs, expected):
    import gradio as gr

    with pytest.raises(gr.Error) as info:
        make_request("Who?", EN_CONTEXT, **kwargs)
    assert expected in str(info.value.message)


def test_precision_choices_are_auto_then_what_the_device_supports(service):
    reg = service.registry
    caps = reg.capabilities("CPU")
    choices = reg.precision_choices("CPU")
    assert choices[0] == "AUTO" and choices[1:] == [p.value for p in caps.supported()]
    assert set(choices) <= set(Precision.choices())
    update = handlers.on_device_change(reg, "CPU", "FP32")
    assert update["choices"] == choices and update["value"] == "FP32"
    assert handlers.on_device_change(reg, "CPU", "nonsense")["value"] == "AUTO"


def test_unsupported_precision_is_one_line(service):
    supported = set(service.registry.capabilities("CPU").supported())
    missing = [p for p in (Precision.BF16, Precision.FP16) if p not in supported]
    if not missing:
        pytest.skip("this CPU supports BF16 and FP16")
    with pytest.raises(QADemoError) as info:
        service.answer(make_request("Who?", EN_CONTEXT, precision=missing[0]))
    msg = error_message(info.value, "en")
    assert msg.startswith(f"{missing[0].value} is not supported on CPU") and "\n" not in msg
    assert "it supports FP32" in msg


def test_compare_view_has_executed_precision_per_row(service):
    req = make_request("Who wrote it?", EN_CONTEXT, model="en-qa")
    view = handlers.on_compare(service, req)
    frame, chart = view["compare"], view["compare_plot"]
    assert {"device", "precision", "chosen", "executed", "answer"} <= set(frame.columns)
    assert len(chart) == len(frame) and (frame["executed"] != "").all()
