"""app/upkeep.py: what gradio's queue remembers per request stays bounded (in a launched app)."""

from __future__ import annotations

import pytest

from conftest import launched
from qa_demo.app import upkeep
from qa_demo.app.layout import build_ui
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.service import DemoService

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843."


@pytest.fixture(scope="module")
def queued_app(models_root):
    """The real app over the English pair, its queue as a busy Space's: one request at a time,
    one waiting."""
    service = DemoService(ModelRegistry(models_root("en-qa", "en-ner")))
    demo = build_ui(service)
    demo.queue(default_concurrency_limit=1, max_size=1)
    with launched(demo) as url:
        yield url, service, demo


@pytest.mark.slow
def test_finished_events_are_not_kept(queued_app):
    """gradio keeps every finished event (with its texts); upkeep drops them."""
    from gradio_client import Client

    url, _, demo = queued_app
    client = Client(url, verbose=False)
    for _ in range(3):
        client.predict(EN_CONTEXT, api_name="/tokenize")
    queue = demo._queue  # the one build_ui made and launch bounded
    assert getattr(queue, "_qa_demo_bounded", False)
    assert len(queue.event_ids_to_events) <= 2
    assert upkeep.prune(queue) >= 0 and len(queue.event_analytics) <= upkeep.MAX_ANALYTICS
