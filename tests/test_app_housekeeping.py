"""Issue 11's housekeeping: bounded per-process run files, and fallbacks said once a session."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qa_demo.app import handlers, view
from qa_demo.app.downloads import MAX_RUN_FILES, RunFiles
from qa_demo.app.handlers import make_request
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.service import DemoService

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843. Tokyo station opened in 1914."
QUESTION = "Who wrote the report?"


# -- run files ------------------------------------------------------------------------------------
def test_run_files_are_bounded_unique_and_the_oldest_go_first(tmp_path):
    files = RunFiles(tmp_path / "runs", limit=3)
    paths = [files.write({"i": i}) for i in range(7)]
    assert len(set(paths)) == 7  # never a reused name (id(run) was)
    left = sorted((tmp_path / "runs").iterdir())
    assert left == paths[-3:] == files.files()
    assert [json.loads(p.read_text(encoding="utf-8"))["i"] for p in left] == [4, 5, 6]
    assert MAX_RUN_FILES >= 1


def test_run_files_stay_bounded_under_concurrent_answers(tmp_path):
    files = RunFiles(tmp_path, limit=5)
    written: list[Path] = []

    def worker(k: int) -> None:
        for i in range(10):
            written.append(files.write({"k": k, "i": i}))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(written)) == 60
    assert len(list(tmp_path.iterdir())) == 5


def test_one_run_directory_per_process_removed_at_exit():
    code = (
        "from qa_demo.app.downloads import run_files\n"
        "a, b = run_files(), run_files()\n"
        "assert a is b\n"
        "a.write({'x': 1})\n"
        "assert len(list(a.dir.iterdir())) == 1\n"
        "print(a.dir)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    run_dir = Path(out.stdout.strip())
    assert run_dir.name.startswith("qa-demo-runs-")
    assert not run_dir.exists()  # atexit removed it


# -- fallbacks: said once a session, shown on every summary --------------------------------------
@pytest.fixture(scope="module")
def int8_only_root(tmp_path_factory, en_qa_dir, en_ner_checkpoint) -> Path:
    """en-qa, and an en-ner shipped INT8-only (as models/en-ner is)."""
    from qa_demo.tools.export import export

    root = tmp_path_factory.mktemp("int8_only")
    shutil.copytree(en_qa_dir, root / "en-qa")
    export(str(en_ner_checkpoint), root / "en-ner", "ner", int8=True, log=lambda m: None)
    for name in ("openvino_model.xml", "openvino_model.bin"):
        (root / "en-ner" / name).unlink()
    return root


@pytest.fixture(scope="module")
def int8_service(int8_only_root) -> DemoService:
    return DemoService(ModelRegistry(int8_only_root))


def test_int8_only_ner_fallback_is_said_once_a_session(int8_service, tmp_path, monkeypatch):
    toasts: list[str] = []
    monkeypatch.setattr(handlers, "toast", toasts.append)
    files = RunFiles(tmp_path, limit=2)
    req = make_request(QUESTION, EN_CONTEXT, precision="FP32")
    seen: tuple[str, ...] = ()
    summaries = []
    for _ in range(3):
        view, seen = handlers.on_answer(int8_service, req, seen, files)
        summaries.append(view.summary)
    note = "en-ner has no FP32 model; using INT8."
    assert toasts == [note]  # once, not on every answer
    assert all(note in s for s in summaries)  # but on every run's summary line
    assert all("**NER** on CPU: INT8" in s for s in summaries)
    assert len(list(tmp_path.iterdir())) == 2
    # Another session (a fresh state) is told again.
    handlers.on_answer(int8_service, req)
    assert toasts == [note, note]


def test_auto_on_an_int8_only_model_is_no_fallback(int8_service):
    run = int8_service.answer(make_request(QUESTION, EN_CONTEXT))
    assert run.notes == ()
    ner = next(s for s in run.stages if s.pipeline == "NER")
    assert ner.precision.requested == "AUTO" and ner.precision.chosen.startswith("INT8")
    assert "ships only INT8" in view.summary(run) and "AUTO → INT8" in view.summary(run)


def test_missing_accelerator_falls_back_to_cpu_with_a_note(int8_service):
    if int8_service.registry.has_device("GPU"):
        pytest.skip("this machine has a GPU")
    run = int8_service.answer(make_request(QUESTION, EN_CONTEXT, device="GPU"))
    assert view.notes(run) == ["GPU is not available on this machine; running on CPU."]
    assert all(s.device.startswith("CPU") for s in run.stages)
    assert view.summary(run).count("GPU is not available") == 1  # said once, not per pipeline
