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


def test_a_bilingual_model_is_offered_for_both_languages(en_qa_dir, tmp_path):
    import json
    import shutil

    from qa_demo.app.registry import ModelRegistry

    own = tmp_path / "qa"
    shutil.copytree(en_qa_dir, own)
    meta = json.loads((own / "qa_demo.json").read_text(encoding="utf-8"))
    (own / "qa_demo.json").write_text(json.dumps({**meta, "languages": ["ja", "en"]}))
    reg = ModelRegistry(tmp_path)
    assert reg.model(AUTO, Task.QA, Language.JA).name == "qa"
    assert reg.model(AUTO, Task.QA, Language.EN).name == "qa"
    assert any("[en+ja," in label for label, _ in reg.choices(Task.QA))
