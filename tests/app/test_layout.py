"""app/layout.py: the controls are the adapter's parameters, read into one request."""

from __future__ import annotations

import inspect
from dataclasses import fields

from qa_demo.app import handlers
from qa_demo.app.handlers import make_request
from qa_demo.app.layout import ANSWER_OUTPUTS, Controls
from qa_demo.app.service import Settings
from qa_demo.options import Precision

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843."


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
