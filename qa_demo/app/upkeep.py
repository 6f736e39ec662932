"""Bounding what gradio's queue remembers per request, so a long-running app does not grow.

gradio 6 keeps every finished event in ``Queue.event_ids_to_events`` (with its request body:
the user's question and context) and a record per event in ``Queue.event_analytics``, for the
life of the process; it removes an event only while it still waits in the queue.
``qa-demo loadtest`` measured ~30 kB a request (40 users x 25 requests: +27 MB). ``bound_queue``
wraps the queue's ``send_message``: after each completed event it drops the finished events that
no session still waits for, and keeps the last ``MAX_ANALYTICS`` records.

These are gradio's private attributes: where they are missing (another gradio version), nothing
is wrapped and ``bound_queue`` returns False.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

#: Per-event analytics records kept (gradio's monitoring page summarises these).
MAX_ANALYTICS = 1000
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
    """Drop finished events and old analytics records; returns how many events went."""
    done = finished_events(queue)
    for eid in done:
        queue.event_ids_to_events.pop(eid, None)
    analytics = queue.event_analytics
    extra = len(analytics) - max_analytics
    if extra > 0:  # dicts keep insertion order: the oldest first
        for eid in list(islice(analytics, extra)):
            analytics.pop(eid, None)
        # gradio recomputes its summary when the count moved on since the last one
        if hasattr(queue, "event_count_at_last_cache"):
            queue.event_count_at_last_cache = max(0, queue.event_count_at_last_cache - extra)
    return len(done)


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
            prune(queue, max_analytics)
        return out

    queue.send_message = send_message
    queue._qa_demo_bounded = True
    return True
