"""``Engine.notes`` (an unusable compile cache) reach the user: once a session, on every summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_demo.app import handlers, view
from qa_demo.app.downloads import RunFiles
from qa_demo.app.handlers import Api, make_request
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.service import DemoService
from qa_demo.runtime import Engine

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843."
JA_CONTEXT = "山田太郎氏は東京都内で記者会見を開いた。"


@pytest.fixture(scope="module")
def service(tmp_path_factory, en_qa_dir, en_ner_dir, ja_qa_dir) -> DemoService:
    """A service whose compile cache cannot be made: its parent is a file."""
    root = tmp_path_factory.mktemp("notes_models")
    for name, src in [("en-qa", en_qa_dir), ("en-ner", en_ner_dir), ("ja-qa", ja_qa_dir)]:
        (root / name).symlink_to(src, target_is_directory=True)
    blocker = tmp_path_factory.mktemp("cache") / "a-file"
    blocker.write_text("not a directory")
    return DemoService(ModelRegistry(root, engine=Engine(cache_dir=blocker / "ov_cache")))


def test_an_unusable_cache_is_said_once_a_session_and_on_every_summary(
    service, tmp_path: Path, monkeypatch
):
    toasts: list[str] = []
    monkeypatch.setattr(handlers, "toast", toasts.append)
    req = make_request("Who wrote the report?", EN_CONTEXT)
    seen: tuple[str, ...] = ()
    summaries = []
    for _ in range(3):
        view, seen = handlers.on_answer(service, req, seen,
            RunFiles(tmp_path, limit=2),
        )  # fmt: skip
        summaries.append(view.summary)
    cache_notes = [t for t in toasts if "compile cache" in t]
    assert len(cache_notes) == 1 and "not writable" in cache_notes[0]
    assert all("compile cache" in s for s in summaries)
    # A new session is told again.
    handlers.on_answer(service, req)
    assert len([t for t in toasts if "compile cache" in t]) == 2


def test_engine_notes_in_the_ui_language_and_the_api(service):
    run = service.answer(make_request("誰が会見を開きましたか？", JA_CONTEXT, language="ja"))
    assert any(n.startswith("実行環境の注意:") and "compile cache" in n for n in view.notes(run))
    api = Api(service)
    assert any("compile cache" in n for n in api.answer("Who?", EN_CONTEXT)["notes"])
    assert any("compile cache" in n for n in api.ner(EN_CONTEXT)["notes"])
