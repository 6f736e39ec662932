"""Bounding what gradio's queue remembers per request, so a long-running app does not grow.

gradio 6 keeps every finished event in ``Queue.event_ids_to_events`` (with its request body:
the user's question and context) and a record per event in ``Queue.event_analytics``, for the
life of the process; it removes an event only while it still waits in the queue.
``qa-demo loadtest`` measured ~30 kB a request (40 users x 25 requests: +27 MB); it also keeps
an empty message queue per session ever seen. ``bound_queue`` wraps the queue's
``send_message``: after each completed event it drops the finished events that no session still
waits for and the idle sessions' queues, and keeps the last ``MAX_ANALYTICS`` records.

It also forgets, per session, the last inputs and outputs of the API-only endpoints
(``API_ONLY``): gradio keeps them in the session's config for as long as the session lives, and
an /answer on a 100,000-character context is ~24 MB of JSON. The web UI's own values are kept.

These are gradio's private attributes: where they are missing (another gradio version), nothing
is wrapped and ``bound_queue`` returns False.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

#: Per-event analytics records kept (gradio's monitoring page summarises these).
MAX_ANALYTICS = 1000
#: Endpoints with no component on the page (gr.api): their values need not be kept.
API_ONLY = frozenset({"answer", "ner", "tokenize"})
NEEDED = ("send_message", "event_ids_to_events", "pending_event_ids_session", "event_analytics")


def finished_events(queue: Any) -> list[str]:
    """Events no longer queued, running, or awaited by a session's stream."""
    keep: set[str] = set()
    for ids in queue.pending_event_ids_session.values():
        keep |= ids
    for event_queue in queue.event_queue_per_concurrency_id.values():
        keep.update(e._id for e in event_queue.queue)
    for jobs in getattr(queue, "active_jobs", None) or ():
        keep.update(e._id for e in jobs or ())
    return [eid for eid in queue.event_ids_to_events if eid not in keep]


def prune(queue: Any, max_analytics: int = MAX_ANALYTICS) -> int:
    """Drop finished events, idle sessions' empty queues and old analytics records; returns
    how many events went."""
    done = finished_events(queue)
    for eid in done:
        queue.event_ids_to_events.pop(eid, None)
    # A session with nothing pending has no open stream; gradio makes both entries again
    # when it sends the next request (Queue.push).
    for session in [k for k, ids in queue.pending_event_ids_session.items() if not ids]:
        queue.pending_event_ids_session.pop(session, None)
        getattr(queue, "pending_messages_per_session", {}).pop(session, None)
    analytics = queue.event_analytics
    extra = len(analytics) - max_analytics
    if extra > 0:  # dicts keep insertion order: the oldest first
        for eid in list(islice(analytics, extra)):
            analytics.pop(eid, None)
        # gradio recomputes its summary when the count moved on since the last one
        if hasattr(queue, "event_count_at_last_cache"):
            queue.event_count_at_last_cache = max(0, queue.event_count_at_last_cache - extra)
    return len(done)


def forget_values(queue: Any, event: Any) -> None:
    """Drop what ``event``'s session keeps of an API-only endpoint's inputs and outputs."""
    fn = getattr(event, "fn", None)
    if getattr(fn, "api_name", None) not in API_ONLY:
        return
    holder = getattr(getattr(queue, "blocks", None), "state_holder", None)
    state = getattr(holder, "session_data", {}).get(getattr(event, "session_hash", None))
    values = getattr(state, "config_values", None)
    if not isinstance(values, dict):
        return
    for block in [*fn.inputs, *fn.outputs]:
        config = values.get(getattr(block, "_id", None))
        if isinstance(config, dict) and isinstance(config.get("props"), dict):
            config["props"]["value"] = None


def bound_queue(demo: Any, max_analytics: int = MAX_ANALYTICS) -> bool:
    """Prune ``demo``'s queue after every completed event. Call after the last ``queue()``."""
    queue = getattr(demo, "_queue", None)
    if queue is None or not all(hasattr(queue, name) for name in NEEDED):
        return False
    if getattr(queue, "_qa_demo_bounded", False):
        return True
    send = queue.send_message

    def send_message(event: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
        out = send(event, message, *args, **kwargs)
        # Runs on the server's event loop, like every change gradio makes to these dicts.
        if getattr(message, "msg", None) == "process_completed":
            forget_values(queue, event)
            prune(queue, max_analytics)
        return out

    queue.send_message = send_message
    queue._qa_demo_bounded = True
    return True
