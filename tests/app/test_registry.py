"""app/registry.py: local models and the catalog under one root; pipelines built once, shared."""

from __future__ import annotations

from qa_demo.app.registry import AUTO, Selection
from qa_demo.options import Precision
from qa_demo.types import Language, Task


def test_registry_lists_local_and_catalog_models(service):
    reg = service.registry
    qa_values = [v for _, v in reg.choices(Task.QA)]
    assert qa_values[0] == AUTO and {"en-qa", "ja-qa"} <= set(qa_values)
    assert any(v.startswith("hub:") for v in qa_values)
    assert "AUTO" in reg.devices() and "CPU" in reg.devices()


def test_pipelines_are_built_once_and_shared(service):
    reg = service.registry
    sel = Selection(reg.model("en-qa", Task.QA, Language.EN), "CPU", Precision.FP32, None)
    assert reg.pipeline(Task.QA, sel) is reg.pipeline(Task.QA, sel)
