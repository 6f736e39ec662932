"""A full queue answers at once with a clear "busy" message, and the app keeps serving.

The app is the real one (build_ui over the tiny models) with a queue of one waiting request,
one request at a time, and answers slowed down to SLOW_S seconds, so that the queue fills.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from browser import launch_browser, needs_chromium, open_app

from qa_demo.app import upkeep
from qa_demo.app.layout import build_ui
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.serve import GRADIO_BUSY, busy_script, launch
from qa_demo.app.service import DemoService
from qa_demo.tools.loadtest import free_port

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843."
QUESTION = "Who wrote the report?"
SLOW_S = 3.0


class SlowService(DemoService):
    """Answers after SLOW_S seconds; ``started`` is set when one begins."""

    started = threading.Event()

    def answer(self, *args, **kwargs):
        self.started.set()
        time.sleep(SLOW_S)
        return super().answer(*args, **kwargs)


@pytest.fixture(scope="module")
def models_root(tmp_path_factory, en_qa_dir, en_ner_dir) -> Path:
    root = tmp_path_factory.mktemp("queue_models")
    (root / "en-qa").symlink_to(en_qa_dir, target_is_directory=True)
    (root / "en-ner").symlink_to(en_ner_dir, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def slow_app(models_root):
    service = SlowService(ModelRegistry(models_root))
    demo = build_ui(service)
    demo.queue(default_concurrency_limit=1, max_size=1)
    port = free_port()
    launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", service, demo
    demo.close()


def fill_queue(url: str, service: SlowService):
    """One request running and one waiting: the queue (max_size=1) is full."""
    from gradio_client import Client
    from gradio_client.utils import Status

    service.started.clear()
    running = Client(url, verbose=False).submit(QUESTION, EN_CONTEXT, api_name="/answer")
    assert service.started.wait(30)
    waiting = Client(url, verbose=False).submit(QUESTION, EN_CONTEXT, api_name="/answer")
    deadline = time.monotonic() + 10
    while waiting.status().code is not Status.IN_QUEUE and time.monotonic() < deadline:
        time.sleep(0.05)
    return running, waiting


def test_a_full_queue_refuses_at_once_and_the_app_keeps_serving(slow_app):
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    url, service, _ = slow_app
    late = Client(url, verbose=False)
    running, waiting = fill_queue(url, service)
    t0 = time.monotonic()
    with pytest.raises(QueueError, match=r"Queue is full! Please try again\."):
        late.predict(QUESTION, EN_CONTEXT, api_name="/ner")  # any model event: one queue
    assert time.monotonic() - t0 < 2.0  # refused at once, not after the queue drains
    assert running.result(60)["answers"] and waiting.result(60)["answers"]
    # Served again once there is room; an error in between does not stop it either.
    with pytest.raises(AppError, match="Please enter a question"):
        late.predict("  ", EN_CONTEXT, api_name="/answer")
    assert late.predict(QUESTION, EN_CONTEXT, api_name="/answer")["answers"]


def test_finished_events_are_not_kept(slow_app):
    """gradio keeps every finished event (with its texts); upkeep drops them."""
    from gradio_client import Client

    url, _, demo = slow_app
    client = Client(url, verbose=False)
    for _ in range(3):
        client.predict(EN_CONTEXT, api_name="/tokenize")
    queue = demo._queue  # the one build_ui made and launch bounded
    assert getattr(queue, "_qa_demo_bounded", False)
    assert len(queue.event_ids_to_events) <= 2
    assert upkeep.prune(queue) >= 0 and len(queue.event_analytics) <= upkeep.MAX_ANALYTICS


def test_busy_script_says_it_in_both_languages():
    js = busy_script()
    assert GRADIO_BUSY in js and "混雑しています" in js and "The demo is busy" in js
    assert "textContent" in js and "innerHTML" not in js and js.startswith("<script>")


@needs_chromium
def test_browser_shows_busy_in_japanese_and_english(slow_app):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, service, _ = slow_app
    with sync_api.sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page()
            open_app(page, url)
            page.locator("#context textarea").fill(EN_CONTEXT)
            page.locator("#question textarea").fill(QUESTION)
            running, waiting = fill_queue(url, service)
            t0 = time.monotonic()
            page.locator("#answer-btn").click()
            toast = page.locator('[data-testid="toast-text"]').first
            toast.wait_for(state="visible", timeout=5_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=\"toast-text\"]')]"
                ".some(e => e.textContent.includes('混雑しています'))",
                timeout=5_000,
            )
            assert time.monotonic() - t0 < 5.0
            text = toast.inner_text()
            assert "混雑しています" in text and "The demo is busy" in text
            running.result(60), waiting.result(60)
        finally:
            browser.close()
