"""What the UI's events and the JSON API do: module-level functions over a DemoService.

Raw values (Gradio component values or API arguments) become one ``Request`` (a Settings and a
QAOptions) in ``make_request``, the one adapter. Handlers take that Settings and QAOptions and
return a view: a small dataclass, or a dict keyed by output name, that ``layout`` turns into
component updates in one place. QADemoError becomes a gr.Error in the UI language.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import InputError, QADemoError
from ..inputs import MAX_QUESTION_CHARS, check_text
from ..options import Precision
from ..qa import QAOptions
from ..segment import detect_language
from ..types import Language, Task
from . import markdown, view
from .downloads import RunFiles, run_files
from .messages import error_message, message, ui_language
from .registry import AUTO, HUB_PREFIX, ModelRegistry
from .service import DemoService, Request, Settings, unseen
from .view import AnswerView

#: The UI's defaults for the QA options (top_k 5 shows an n-best list).
DEFAULT_TOP_K = 5
#: 0 asks for the model's own answer-length limit (QAOptions.max_answer_len=None).
MODEL_MAX_ANSWER_LEN = 0
DEFAULT_MAX_ANSWER_LEN = MODEL_MAX_ANSWER_LEN
DEFAULT_DOC_STRIDE = 128
DEFAULT_MAX_SEQ_LEN = 384


@contextmanager
def user_errors(lang: str) -> Iterator[None]:
    """Turn our errors into a gr.Error in the UI language; the app keeps serving."""
    try:
        yield
    except QADemoError as exc:
        import gradio as gr

        # gradio renders a toast's text as HTML; a message may quote the user's own input.
        raise gr.Error(
            markdown.toast_text(error_message(exc, lang)), print_exception=False
        ) from None


def toast(note: str) -> None:
    import gradio as gr

    gr.Warning(markdown.toast_text(note))


def whole_number(name: str, value: Any) -> int:
    """An option as an int: ints, whole floats (sliders send 5.0) and digit strings; anything
    else (True, 2.5, "five", None, a list) is one message naming the option."""
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and math.isfinite(value) and value == int(value):
        return int(value)
    raise InputError(f"{name} must be a whole number, got {value!r:.40}.")


def _answer_len(value: int) -> int | None:
    return None if value == MODEL_MAX_ANSWER_LEN else value


def threshold(value: Any) -> float | None:
    """The no-answer threshold: empty means the model's default; otherwise a finite number."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise InputError(f"null_threshold must be a finite number, got {value!r:.40}.")
    return number


def text_value(name: str, value: Any) -> str:
    """A text box or API text: None is empty; anything but a string is refused, by name."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"The {name} must be text, got {type(value).__name__}.")
    return value


# -- the one adapter ---------------------------------------------------------------------------
def make_request(
    question: str | None = "",
    context: str | None = "",
    model: str | None = AUTO,
    ner_model: str | None = AUTO,
    language: str | None = AUTO,
    device: str | None = "CPU",
    precision: str | None = Precision.AUTO.value,
    dictionary: str | None = AUTO,
    top_k: Any = DEFAULT_TOP_K,
    max_answer_len: Any = DEFAULT_MAX_ANSWER_LEN,
    doc_stride: Any = DEFAULT_DOC_STRIDE,
    max_seq_len: Any = DEFAULT_MAX_SEQ_LEN,
    null_threshold: Any = None,
    needs_question: bool = True,
) -> Request:
    """Raw values (components, API arguments) -> one resolved Request; bad ones are one
    gr.Error in the UI language. The texts are checked and the language detected here, once."""
    text = context if isinstance(context, str) else ""
    picked = language if isinstance(language, str) else AUTO
    detected = detect_language(text) if picked not in ("ja", "en") else Language(picked)
    with user_errors(ui_language(picked, detected)):
        question, context = text_value("question", question), text_value("context", context)
        if needs_question:
            check_text(question, "question", MAX_QUESTION_CHARS)
        check_text(context, "context" if needs_question else "text")
        options = QAOptions(
            top_k=whole_number("top_k", top_k),
            max_answer_len=_answer_len(whole_number("max_answer_len", max_answer_len)),
            doc_stride=whole_number("doc_stride", doc_stride),
            max_seq_len=whole_number("max_seq_len", max_seq_len),
            null_threshold=threshold(null_threshold),
        )
        choices = [model, ner_model, language, device, precision, dictionary]
        names = ["model", "ner_model", "language", "device", "precision", "dictionary"]
        picked_values = [text_value(n, v) for n, v in zip(names, choices, strict=True)]
        defaults = [AUTO, AUTO, AUTO, "CPU", Precision.AUTO, AUTO]
        settings = Settings(*(p or d for p, d in zip(picked_values, defaults, strict=True)))
    return Request(question, context, detected, settings, options)


# -- answer ------------------------------------------------------------------------------------
def on_answer(
    service: DemoService,
    req: Request,
    seen: tuple[str, ...] = (),
    files: RunFiles | None = None,
) -> tuple[AnswerView, tuple[str, ...]]:
    """Answer; a note (a fallback) is a toast once per session, then only on the summary."""
    with user_errors(req.ui):
        run = service.answer(req)
    new, seen = unseen(view.notes(run), seen)
    for note in new:
        toast(note)
    return view.answer_view(run, files or run_files()), seen


# -- compare -----------------------------------------------------------------------------------
def on_compare(service: DemoService, req: Request) -> dict[str, Any]:
    """Every device × supported precision: the table (with executed precision) and a chart."""
    import pandas as pd

    with user_errors(req.ui):
        rows = service.compare(req)
    axis = "device × precision"
    chart = [(f"{r['device']}/{r['precision']}", r.get("infer ms") or 0.0) for r in rows]
    return {
        "compare": pd.DataFrame(rows),
        "compare_plot": pd.DataFrame(chart, columns=[axis, "infer ms"]),
    }


# -- choices and the catalog -------------------------------------------------------------------
def on_device_change(registry: ModelRegistry, device: str, current: str | None):
    """The precisions ``device`` supports (plus AUTO); the current one kept if it still is."""
    import gradio as gr

    choices = registry.precision_choices(device or "CPU")
    return gr.update(choices=choices, value=current if current in choices else choices[0])


def hub_entry(registry: ModelRegistry, name: str | None):
    from .catalog import find_entry

    if name and name.startswith(HUB_PREFIX):
        return find_entry(name[len(HUB_PREFIX) :], registry.catalog)
    return None


def on_model_change(registry: ModelRegistry, name: str | None) -> dict[str, Any]:
    """Offer to download a catalog model that is not local yet."""
    import gradio as gr

    entry = hub_entry(registry, name)
    if entry is None:
        return {"fetch_box": gr.update(visible=False), "fetch_md": ""}
    command = entry.export_command(registry.root)
    ready_ir = bool(entry.ir_revision)
    text = markdown.fetch_prompt(entry.hub_id, entry.description, command, ready_ir)
    return {"fetch_box": gr.update(visible=True), "fetch_md": text}


def on_fetch(
    registry: ModelRegistry,
    qa_name: str | None,
    ner_name: str | None,
    language: str | None,
    progress: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Download and export the selected catalog model, then select it."""
    import gradio as gr

    lang = ui_language(language or AUTO)
    name = qa_name if qa_name and qa_name.startswith(HUB_PREFIX) else ner_name
    if not name or not name.startswith(HUB_PREFIX):
        return {"fetch_box": gr.update(visible=False), "fetch_md": ""}
    hub_id = name[len(HUB_PREFIX) :]
    steps = {"n": 0}

    def log(msg: str) -> None:
        steps["n"] += 1
        if progress is not None:
            progress(min(0.95, steps["n"] / 6), desc=msg)

    with user_errors(lang):
        if progress is not None:
            progress(0.02, desc=f"Downloading {hub_id} ...")
        found = registry.fetch(hub_id, log=log)
    gr.Info(message("downloaded", lang, hub_id=hub_id, path=found.path))
    picked = {Task.QA: "model", Task.NER: "ner_model"}[found.task]
    out: dict[str, Any] = {"fetch_box": gr.update(visible=False), "fetch_md": ""}
    for task, key in ((Task.QA, "model"), (Task.NER, "ner_model")):
        value = {"value": found.name} if key == picked else {}
        out[key] = gr.update(choices=registry.choices(task), **value)
    return out


# -- the JSON API (gradio_client) --------------------------------------------------------------
class Api:
    """API-only endpoints with typed signatures (gr.api reads them): structured JSON."""

    def __init__(self, service: DemoService) -> None:
        self.service = service

    def answer(
        self,
        question: str,
        context: str,
        model: str = AUTO,
        ner_model: str = AUTO,
        language: str = AUTO,
        device: str = "CPU",
        precision: str = "AUTO",
        dictionary: str = AUTO,
        top_k: int = DEFAULT_TOP_K,
        max_answer_len: int = DEFAULT_MAX_ANSWER_LEN,
        doc_stride: int = DEFAULT_DOC_STRIDE,
        max_seq_len: int = DEFAULT_MAX_SEQ_LEN,
        null_threshold: float | None = None,
    ) -> dict:
        """Answer a question about a context: answers, entities, tokens, timings, precision."""
        req = make_request(
            question,
            context,
            model,
            ner_model,
            language,
            device,
            precision,
            dictionary,
            top_k,
            max_answer_len,
            doc_stride,
            max_seq_len,
            null_threshold,
        )
        with user_errors(req.ui):
            return view.answer_json(self.service.answer(req))

    def ner(
        self,
        text: str,
        model: str = AUTO,
        language: str = AUTO,
        device: str = "CPU",
        precision: str = "AUTO",
        dictionary: str = AUTO,
    ) -> dict:
        """Tag named entities: entities, per-token tags with offsets, timings, precision."""
        req = make_request(
            "", text, AUTO, model, language, device, precision, dictionary, needs_question=False
        )
        with user_errors(req.ui):
            return view.ner_json(self.service.ner(req))

    def tokenize(
        self, text: str, model: str = AUTO, language: str = AUTO, dictionary: str = AUTO
    ) -> dict:
        """Morphemes and tokens of a text, with offsets into it."""
        req = make_request(
            "", text, model, AUTO, language, dictionary=dictionary, needs_question=False
        )
        with user_errors(req.ui):
            return view.tokenize_json(self.service.tokenize(req))
