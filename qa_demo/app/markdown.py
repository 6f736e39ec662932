"""The Markdown and toast text of a run: summaries, timing lines, prompts.

The only text built from the user's own words, so all of it is escaped here (``escape`` for
Markdown, ``toast_text`` for toasts); the user's text is shown, never run.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from ..types import Answer, PrecisionInfo

if TYPE_CHECKING:
    from .messages import Note
    from .service import Stage

#: Markdown punctuation that would format user text; backslash-escaped before HTML escaping.
_MARKDOWN = re.compile(r"([\\`*_\[\]|~$#])")


def escape(text: str) -> str:
    """User text made inert for gradio's Markdown: on one line, Markdown punctuation
    backslash-escaped, then HTML-escaped (so markup is shown, never run)."""
    one_line = text.replace("\r", " ").replace("\n", " ")
    return html.escape(_MARKDOWN.sub(r"\\\1", one_line), quote=True)


def toast_text(text: str) -> str:
    """``text`` shown as text in a toast, which gradio renders as HTML: no ``<``, so no tag,
    while ">= 1", quotes and "&" stay readable for API clients, who get the same message.
    (``escape`` is for Markdown, which shows backslashes a toast would keep.)"""
    return text.replace("<", "&lt;")


def precision_text(info: PrecisionInfo | None) -> str:
    """``AUTO → INT8 (static), executed: int8 matmuls (...), f32 rest``; "" without one."""
    return str(info) if info is not None else ""


def stage_line(stage: Stage, lang: str, skip: Collection[str] = ()) -> str:
    """How one pipeline ran: device, chosen and executed precision, AUTO's reason, fallbacks."""
    info = stage.precision
    line = f"**{stage.pipeline}** on {escape(stage.device)}: {escape(precision_text(info))}"
    if info is not None and info.requested == "AUTO" and info.reason:
        line += f" — {escape(info.reason)}"
    notes = (n.text(lang) for n in stage.notes)
    return line + "".join(f" · ⚠ {escape(n)}" for n in notes if n not in skip)


def answer_headline(best: Answer | None) -> str:
    if best is None or best.end <= best.start:
        return "**回答なし / No answer**"
    return (
        f"**回答 / Answer:** {escape(best.text)} — score {best.score:.4f}, "
        f"chars {best.start}–{best.end}, window {best.window}"
    )


def answer_summary(
    best: Answer | None,
    qa_model: str,
    ner_model: str | None,
    n_entities: int,
    language: str,
    stages: Sequence[Stage] = (),
    notes: Sequence[Note] = (),
    lang: str = "en",
) -> str:
    """The summary line of a run: the answer, the models, how each pipeline ran, and the
    notes (fallbacks, a missing NER model) not already said on a pipeline's line, in the UI
    language ``lang``."""
    lines = [
        answer_headline(best),
        f"QA: {escape(qa_model)} · NER: {escape(ner_model or '—')} · {n_entities} entities · "
        f"language {escape(language)}",
    ]
    # A note of one pipeline goes on its line; one of several (a device fallback) once, after.
    counts = Counter(n.text(lang) for s in stages for n in dict.fromkeys(s.notes))
    shared = {n for n, k in counts.items() if k > 1}
    lines += [stage_line(s, lang, shared) for s in stages]
    notes = [n.text(lang) for n in notes]
    lines += [f"⚠ {escape(n)}" for n in dict.fromkeys([*notes, *shared]) if counts[n] != 1]
    return "  \n".join(lines)


def timing_markdown(stages: Sequence[Stage]) -> str:
    return "  \n".join(
        f"**{s.pipeline}**: ran on **{escape(s.device)}** ({escape(precision_text(s.precision))})"
        f" · steady-state {s.timings.total:.1f} ms{_network(s)} · first compile "
        f"{s.first_compile_ms:.0f} ms "
        f"(one-off{', this request' if s.timings.compile > 0.5 else ', cached'})"
        for s in stages
    )


def _network(stage: Stage) -> str:
    """ ", 3.1 ms of it on the network" for a model server's stage; "" for a local one."""
    network = stage.timings.network
    return f", {network:.1f} ms of it on the network" if network > 0 else ""


def windows_markdown(n_windows: int, winner: int) -> str:
    return (
        f"**{n_windows}** window{'s' if n_windows != 1 else ''} / ウィンドウ数 {n_windows}; "
        f"the answer came from window **{winner}** (★)."
    )


def fetch_prompt(hub_id: str, description: str, command: str, ready_ir: bool = False) -> str:
    """The offer to download a catalog model that is not local yet: its ready-made IR as it
    is (no torch), or its checkpoint to convert (the export extra)."""
    if ready_ir:
        offer = (
            "まだダウンロードされていません。OpenVINO 形式のままダウンロードしますか？ "
            "Not downloaded yet: download its ready-made OpenVINO IR? (needs network; "
        )
    else:
        offer = (
            "まだダウンロードされていません。ダウンロードして OpenVINO に変換しますか？ "
            "Not downloaded yet: download it and convert it to OpenVINO? "
            "(needs network and `pip install 'qa-demo[export]'`; "
        )
    return f"**{escape(hub_id)}** — {escape(description)}  \n{offer}by hand: `{command}`)"
