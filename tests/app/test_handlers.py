"""app/handlers.py: raw values become one request (one clear error otherwise), the UI's events
and the JSON API, hostile and odd input through them, and notes said once a session."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile import (
    BAD_OPTIONS,
    CONTEXT,
    QUESTION,
    REFUSED,
    TEXTS,
    TOO_LONG_QUESTION,
    WRONG_TYPES,
    check_answer_json,
    check_offsets,
)

from qa_demo.app import handlers, view
from qa_demo.app.downloads import RunFiles
from qa_demo.app.handlers import Api, make_request
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.service import DemoService
from qa_demo.options import Precision
from qa_demo.runtime import Engine

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843."
LONG_EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843. Tokyo station opened in 1914."
JA_CONTEXT = "山田太郎氏は東京都内で記者会見を開いた。"
LIGHTHOUSE = (
    "The lighthouse was designed by Osamu Takahashi in 1895 and finished three years later, "
    "after a storm destroyed the first tower."
)


@pytest.fixture(scope="module")
def api(service) -> Api:
    return Api(service)


@pytest.fixture(scope="module")
def blocked_cache_service(models_root, tmp_path_factory) -> DemoService:
    """A service whose compile cache cannot be made: its parent is a file."""
    root = models_root("en-qa", "en-ner", "ja-qa")
    blocker = tmp_path_factory.mktemp("cache") / "a-file"
    blocker.write_text("not a directory")
    return DemoService(ModelRegistry(root, engine=Engine(cache_dir=blocker / "ov_cache")))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"precision": "fp8"}, "Unknown precision 'fp8'"),
        ({"top_k": 0}, "top_k"),
        ({"max_seq_len": 8}, "max_seq_len must be between"),
        ({"language": "fr"}, "Unknown language 'fr'"),
        ({"dictionary": "neologd"}, "Unknown dictionary 'neologd'"),
    ],
)
def test_bad_values_are_one_clear_error(kwargs, expected):
    import gradio as gr

    with pytest.raises(gr.Error) as info:
        make_request("Who?", EN_CONTEXT, **kwargs)
    assert expected in str(info.value.message)


@pytest.mark.parametrize(
    ("question", "context", "kwargs", "expected"),
    [
        ("", LONG_EN_CONTEXT, {}, "Please enter a question."),
        ("Who?", "   \n", {"language": "en"}, "Please enter a context"),
        ("誰？", "   ", {"language": "ja"}, "文脈（答えを探す文章）を入力してください"),
        ("Who?", "x" * 100_001, {}, "100,001 characters long"),
        ("Who?", LONG_EN_CONTEXT, {"model": "nope"}, "Unknown model 'nope'"),
        ("Who?", LONG_EN_CONTEXT, {"device": "TPU"}, "Unknown device 'TPU'"),
        (
            "Who?",
            LONG_EN_CONTEXT,
            {"model": "hub:distilbert-base-cased-distilled-squad"},
            "is not downloaded yet",
        ),
    ],
)
def test_bad_input_gives_one_clear_sentence(service, question, context, kwargs, expected):
    import gradio as gr

    # Texts are refused at the edge (make_request), the rest when the service resolves them;
    # either way the user reads one sentence in the UI language.
    with pytest.raises(gr.Error) as info:
        handlers.on_answer(service, make_request(question, context, **kwargs))
    msg = str(info.value.message)
    assert expected in msg and "Traceback" not in msg


def test_app_slider_zero_means_the_models_own_limit():
    assert make_request("Who?", LIGHTHOUSE, max_answer_len=0).options.max_answer_len is None
    assert make_request("Who?", LIGHTHOUSE, max_answer_len=20.0).options.max_answer_len == 20


def test_precision_choices_are_auto_then_what_the_device_supports(en_qa_service):
    reg = en_qa_service.registry
    caps = reg.capabilities("CPU")
    choices = reg.precision_choices("CPU")
    assert choices[0] == "AUTO" and choices[1:] == [p.value for p in caps.supported()]
    assert set(choices) <= set(Precision.choices())
    update = handlers.on_device_change(reg, "CPU", "FP32")
    assert update["choices"] == choices and update["value"] == "FP32"
    assert handlers.on_device_change(reg, "CPU", "nonsense")["value"] == "AUTO"


def test_compare_view_has_executed_precision_per_row(en_qa_service):
    req = make_request("Who wrote it?", EN_CONTEXT, model="en-qa")
    view = handlers.on_compare(en_qa_service, req)
    frame, chart = view["compare"], view["compare_plot"]
    assert {"device", "precision", "chosen", "executed", "answer"} <= set(frame.columns)
    assert len(chart) == len(frame) and (frame["executed"] != "").all()


# -- hostile and odd input: every case through the handlers ---------------------------------


def refused(call, expected: str) -> None:
    import gradio as gr

    with pytest.raises(gr.Error) as info:
        call()
    assert expected in info.value.message and "Traceback" not in info.value.message


@pytest.mark.parametrize("name", TEXTS)
def test_app_handlers(name, api):
    text = TEXTS[name]
    if name in REFUSED:
        refused(lambda: api.answer(QUESTION, text), REFUSED[name][1])
        refused(lambda: api.ner(text), REFUSED[name][1].replace("a context", "some text"))
        refused(lambda: api.tokenize(text), REFUSED[name][1].replace("a context", "some text"))
        return
    check_answer_json(api.answer(QUESTION, text, top_k=20), text)
    check_offsets(text, api.ner(text)["entities"])
    check_offsets(text, api.tokenize(text)["tokens"], key="surface")
    if name in TOO_LONG_QUESTION:  # the text as the question
        refused(lambda: api.answer(text, CONTEXT), TOO_LONG_QUESTION[name])
    else:
        check_answer_json(api.answer(text, CONTEXT), CONTEXT)


@pytest.mark.parametrize(("options", "expected"), BAD_OPTIONS + WRONG_TYPES)
def test_app_options_out_of_range_or_wrong_type(options, expected, api):
    refused(lambda: api.answer(QUESTION, CONTEXT, **options), expected)


def test_app_refuses_a_long_question_and_non_text(api):
    refused(lambda: api.answer("why " * 300, CONTEXT), "1,200 characters long")
    refused(lambda: api.answer(QUESTION, 12345), "The context must be text, got int")
    refused(lambda: api.ner(CONTEXT, language="<img src=x onerror=alert(1)>"), "&lt;img")


# -- notes: said once a session, shown on every summary -------------------------------------


@pytest.mark.slow
def test_int8_only_ner_fallback_is_said_once_a_session(int8_service, tmp_path, monkeypatch):
    toasts: list[str] = []
    monkeypatch.setattr(handlers, "toast", toasts.append)
    files = RunFiles(tmp_path, limit=2)
    req = make_request(QUESTION, LONG_EN_CONTEXT, precision="FP32")
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


def test_an_unusable_cache_is_said_once_a_session_and_on_every_summary(
    blocked_cache_service, tmp_path: Path, monkeypatch
):
    toasts: list[str] = []
    monkeypatch.setattr(handlers, "toast", toasts.append)
    req = make_request("Who wrote the report?", EN_CONTEXT)
    seen: tuple[str, ...] = ()
    summaries = []
    for _ in range(3):
        view, seen = handlers.on_answer(blocked_cache_service, req, seen,
            RunFiles(tmp_path, limit=2),
        )  # fmt: skip
        summaries.append(view.summary)
    cache_notes = [t for t in toasts if "compile cache" in t]
    assert len(cache_notes) == 1 and "not writable" in cache_notes[0]
    assert all("compile cache" in s for s in summaries)
    # A new session is told again.
    handlers.on_answer(blocked_cache_service, req)
    assert len([t for t in toasts if "compile cache" in t]) == 2


def test_engine_notes_in_the_ui_language_and_the_api(blocked_cache_service):
    run = blocked_cache_service.answer(
        make_request("誰が会見を開きましたか？", JA_CONTEXT, language="ja")
    )
    assert any(n.startswith("実行環境の注意:") and "compile cache" in n for n in view.notes(run))
    api = Api(blocked_cache_service)
    assert any("compile cache" in n for n in api.answer("Who?", EN_CONTEXT)["notes"])
    assert any("compile cache" in n for n in api.ner(EN_CONTEXT)["notes"])
