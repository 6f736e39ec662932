"""``qa-demo fetch``: IR from the Hub, against a local stand-in that serves files the way the
Hub's endpoints do (``/api/models/{repo}/revision/{rev}``, ``/{repo}/resolve/{rev}/{file}``)."""

from __future__ import annotations

import errno
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browser import launch_browser, needs_chromium, open_app, wait_until

from qa_demo.app.hub import IR_FILES, fetch_ir
from qa_demo.cli import main
from qa_demo.errors import ModelLoadError
from qa_demo.model_dir import discover_models, load_model_dir
from qa_demo.qa import QuestionAnswerer

hub = pytest.importorskip("huggingface_hub")

SHA = "0123456789abcdef0123456789abcdef01234567"
CONTEXT = "Ada Lovelace wrote the report in London in 1843."


class StandInHub:
    """repo id -> {file name: bytes}, served on loopback; ``cut`` files end mid-body."""

    def __init__(self, repos: dict[str, dict[str, bytes]]) -> None:
        self.repos = repos
        self.cut: set[str] = set()
        #: Files whose body waits for this event: a download that takes as long as a test says.
        self.hold: dict[str, threading.Event] = {}
        self.requests: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._serve(body=False)

            def do_GET(self):
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                stand_in.requests.append(self.path)
                path = self.path.split("?", 1)[0]
                if path.startswith("/api/models/"):
                    repo = path[len("/api/models/") :].split("/revision/")[0]
                    return self._info(repo)
                if "/resolve/" in path:
                    repo, rest = path.lstrip("/").split("/resolve/", 1)
                    name = rest.split("/", 1)[1]
                    return self._file(repo, name, body)
                self._missing("EntryNotFound")

            def _info(self, repo: str) -> None:
                if repo not in stand_in.repos:
                    return self._missing("RepoNotFound")
                files = stand_in.repos[repo]
                doc = {"id": repo, "sha": SHA, "siblings": [{"rfilename": f} for f in files]}
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _file(self, repo: str, name: str, body: bool) -> None:
                data = stand_in.repos.get(repo, {}).get(name)
                if data is None:
                    return self._missing("EntryNotFound")
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", SHA)
                self.end_headers()
                if body and name in stand_in.hold:
                    stand_in.hold[name].wait(120)
                if body:
                    cut = name in stand_in.cut
                    self.wfile.write(data[: len(data) // 2] if cut else data)
                    if cut:
                        self.wfile.flush()
                        self.connection.close()

            def _missing(self, code: str) -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in(en_qa_dir, monkeypatch):
    """A Hub holding en-qa's IR as optimum-intel lays it out (plus files fetch must skip)."""
    files = {f: (en_qa_dir / f).read_bytes() for f in IR_FILES if (en_qa_dir / f).exists()}
    files["pytorch_model.bin"] = b"weights nobody should download"
    files["README.md"] = b"# a model card"
    repos = {"owner/qa-ir": files, "owner/no-ir": {"config.json": files["config.json"]}}
    server = StandInHub(repos)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # conftest sets it for every test
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.close()


def test_fetch_downloads_only_the_ir_and_the_model_answers(stand_in, tmp_path):
    out = fetch_ir("owner/qa-ir", tmp_path / "models")
    assert out == tmp_path / "models" / "owner--qa-ir"
    assert not (out / "pytorch_model.bin").exists() and not (out / "README.md").exists()
    assert not any("pytorch_model" in r for r in stand_in.requests if "/resolve/" in r)
    meta = json.loads((out / "qa_demo.json").read_text())
    assert (meta["task"], meta["language"], meta["revision"]) == ("qa", "en", SHA)
    assert meta["source"] == "hf://owner/qa-ir"
    model = load_model_dir(out)
    best = QuestionAnswerer(model, precision="FP32").ask("Who wrote it?", CONTEXT).best
    assert best.text == CONTEXT[best.start : best.end]


def test_fetch_cli_prints_the_directory(stand_in, tmp_path, capsys):
    assert main(["fetch", "owner/qa-ir", "--models", str(tmp_path)]) == 0
    assert str(tmp_path / "owner--qa-ir") in capsys.readouterr().out


def test_an_interrupted_fetch_leaves_nothing_listed(stand_in, tmp_path):
    stand_in.cut.add("openvino_model.bin")
    root = tmp_path / "models"
    with pytest.raises(ModelLoadError, match="nothing was kept"):
        fetch_ir("owner/qa-ir", root)
    assert discover_models(root) == [] and list(root.iterdir()) == []


@pytest.mark.parametrize(
    ("repo", "needle"),
    [
        ("owner/missing", "not a repository on the Hub"),
        ("owner/no-ir", "holds no OpenVINO IR"),
    ],
)
def test_each_failure_is_one_clear_message(stand_in, tmp_path, repo, needle):
    with pytest.raises(ModelLoadError, match=needle) as err:
        fetch_ir(repo, tmp_path)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_no_network(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", False)
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    with pytest.raises(ModelLoadError, match="Cannot reach the Hugging Face Hub"):
        fetch_ir("owner/qa-ir", tmp_path, endpoint=closed)


def test_offline_mode_is_respected(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE is set"):
        fetch_ir("owner/qa-ir", tmp_path, endpoint="http://127.0.0.1:9")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_said_and_nothing_kept(stand_in, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(hub, "snapshot_download", full)
    with pytest.raises(ModelLoadError, match="disk filled up"):
        fetch_ir("owner/qa-ir", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fetch_refuses_to_overwrite(stand_in, tmp_path):
    (tmp_path / "owner--qa-ir").mkdir()
    with pytest.raises(ModelLoadError, match="exists already"):
        fetch_ir("owner/qa-ir", tmp_path)


def test_the_ir_files_are_the_optimum_intel_layout():
    assert {"openvino_model.xml", "openvino_model.bin", "config.json"} <= set(IR_FILES)
    assert Path("openvino_model.xml").name in IR_FILES


# -- a Space's full-size default, fetched at start-up (QA_DEMO_PRELOAD) ---------------------------
def _registry(tmp_path, en_qa_dir):
    from qa_demo.app.registry import ModelRegistry

    root = tmp_path / "models"
    root.mkdir()
    (root / "en-qa").symlink_to(en_qa_dir, target_is_directory=True)
    return ModelRegistry(root)


def test_preload_serves_the_bundled_model_at_once_then_switches(stand_in, tmp_path, en_qa_dir):
    from qa_demo.app import view
    from qa_demo.app.handlers import make_request
    from qa_demo.app.service import DemoService
    from qa_demo.types import Language, Task

    registry = _registry(tmp_path, en_qa_dir)
    service = DemoService(registry)
    thread = registry.preload("owner/qa-ir")
    before = service.answer(make_request("Who wrote it?", CONTEXT, precision="FP32"))
    assert before.qa_model.name in ("en-qa", "owner--qa-ir")  # usable while it downloads
    thread.join(120)
    assert registry.model("auto", Task.QA, Language.EN).name == "owner--qa-ir"
    after = service.answer(make_request("Who wrote it?", CONTEXT, precision="FP32"))
    assert after.qa_model.name == "owner--qa-ir"
    assert any("is ready and is now the default" in n for n in view.notes(after))


def test_a_failed_preload_keeps_the_bundled_model_and_says_why(stand_in, tmp_path, en_qa_dir):
    from qa_demo.app import view
    from qa_demo.app.handlers import make_request
    from qa_demo.app.service import DemoService

    registry = _registry(tmp_path, en_qa_dir)
    registry.preload("owner/missing").join(60)
    run = DemoService(registry).answer(make_request("Who wrote it?", CONTEXT, precision="FP32"))
    assert run.qa_model.name == "en-qa"
    said = [n for n in view.notes(run) if "could not be fetched" in n]
    assert said and "not a repository on the Hub" in said[0]


@pytest.mark.slow
@needs_chromium
def test_browser_app_is_usable_at_once_and_switches_when_the_preload_is_done(
    stand_in, tmp_path, en_qa_dir, monkeypatch
):
    """The Space's QA_DEMO_PRELOAD in headless Chromium: the bundled model answers while the
    download is held; once it is let through, the next answer comes from the fetched model."""
    import time

    sync_api = pytest.importorskip("playwright.sync_api")
    from browser import needs_chromium

    from conftest import launched
    from qa_demo.app.serve import build_app

    if needs_chromium.args[0]:
        pytest.skip(needs_chromium.kwargs["reason"])
    root = tmp_path / "models"
    root.mkdir()
    (root / "en-qa").symlink_to(en_qa_dir, target_is_directory=True)
    release = stand_in.hold["openvino_model.bin"] = threading.Event()
    monkeypatch.setenv("QA_DEMO_PRELOAD", "owner/qa-ir")
    with launched(build_app(root)) as url, sync_api.sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_app(page, url)
            page.locator("#context textarea").fill(CONTEXT)
            page.locator("#question textarea").fill("Who wrote it?")
            page.locator("#answer-btn").click()
            wait_until(
                page,
                "() => document.querySelector('#summary').innerText.includes('QA: en-qa')",
                "an answer from the bundled en-qa while the download is held",
                "#summary",
            )
            release.set()
            deadline = time.monotonic() + 120
            while not (root / "owner--qa-ir").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # the registry makes it the default right after it loads
            page.locator("#answer-btn").click()
            wait_until(
                page,
                "() => document.querySelector('#summary').innerText.includes('owner--qa-ir')",
                "the next answer from the fetched model",
                "#summary",
            )
            assert "is ready and is now the default" in page.locator("#summary").inner_text()
        finally:
            browser.close()
