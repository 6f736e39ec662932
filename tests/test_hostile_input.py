"""Hostile and odd input through ``qa-demo ask/ner`` and through the app's API.

Each input must end either in one clear, specific message (and the app still serving the next
request), or in a correct result whose offsets are true to the original string:
``context[start:end] == text`` for answers, entities and tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_demo.app.handlers import Api
from qa_demo.app.layout import build_ui
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.serve import launch
from qa_demo.app.service import DemoService
from qa_demo.cli import EXIT_USER_ERROR, main
from qa_demo.tools.loadtest import free_port

QUESTION = "Who wrote the report?"
CONTEXT = "Ada Lovelace wrote the report in London in 1843."

#: name -> text. Those in REFUSED must be refused with a message containing the value.
TEXTS = {
    "empty": "",
    "whitespace": " \t\n\u3000\r ",
    "invisible-only": "\u200b\u200d\ufeff\u2060",
    "nul-control": "Ada\x00 Lovelace\x07 wrote\x1b the\x7f report\x0b in\x0c London\r.",
    "ansi": "\x1b[31mAda Lovelace\x1b[0m wrote the report in \x1b]8;;http://x\x07London\x1b]8;;\x07.",
    "rtl-override": "\u202eAda Lovelace\u202c wrote the report in \u202bLondon\u202c \u2067x.",
    "combining-run": "Ada" + "\u0301" * 5000 + " Lovelace wrote the report in Lon\u0308\u0308don.",
    "emoji-only": "😀😃🎉👍🏽👨‍👩‍👧‍👦🏳️‍🌈",
    "mixed-scripts": "Ada Lovelace（エイダ）wrote Отчёт in London 伦敦 ١٢٣ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ㈱ ﬁ ½.",
    "symbols-only": "!@#$%^&*()_+-=[]{}|;':\",./<>?`~\\",
    "script-tag": "<script>window.__xss=1</script> Ada Lovelace wrote the report.",
    "img-onerror": '<img src=x onerror="window.__xss=2"> Ada Lovelace wrote the report.',
    "javascript-link": '<a href="javascript:window.__xss=3">Ada</a> Lovelace wrote the report.',
    "1mb": "word " * 200_000,
}
#: Texts refused, and what the CLI and the app say (as context, as NER text).
REFUSED = {
    "empty": ("The context is empty", "Please enter a context"),
    "whitespace": ("The context is empty", "Please enter a context"),
    "invisible-only": ("The context has no visible characters", "has no visible characters"),
    "1mb": ("1,000,000 characters long; the limit is 100,000", "1,000,000 characters long"),
}
#: Texts refused as a question (beyond those in REFUSED): 1,000 characters at most.
TOO_LONG_QUESTION = {"combining-run": "5,042 characters long; the limit is 1,000"}
#: QA options far out of range or of the wrong type -> the words the message must contain.
BAD_OPTIONS = [
    ({"top_k": 10**9}, "top_k must be at most 20"),
    ({"top_k": -5}, "and top_k must be >= 1, got top_k -5."),
    ({"top_k": 0}, "and top_k must be >= 1, got top_k 0."),
    ({"max_answer_len": 10**6}, "max_answer_len must be at most 512"),
    ({"max_answer_len": -1}, "max_answer_len"),
    ({"max_seq_len": 10**6}, "max_seq_len must be between 16 and 4096"),
    ({"max_seq_len": 1}, "max_seq_len must be between 16 and 4096"),
    ({"max_seq_len": 1024}, "longer than this model's 512 positions"),
    ({"doc_stride": 10**6}, "doc_stride"),
    ({"doc_stride": -1}, "doc_stride must be >= 0"),
]
WRONG_TYPES = [
    ({"top_k": "five"}, "top_k must be a whole number, got 'five'"),
    ({"top_k": 2.5}, "top_k must be a whole number, got 2.5"),
    ({"max_seq_len": [384]}, "max_seq_len must be a whole number"),
    ({"max_answer_len": None}, "max_answer_len must be a whole number"),
]


def check_offsets(text: str, items: list[dict], key: str = "text") -> None:
    for item in items:
        assert 0 <= item["start"] <= item["end"] <= len(text)
        assert text[item["start"] : item["end"]] == item[key], item


def check_answer_json(out: dict, context: str) -> None:
    """Every offset in an /answer (or `ask --json`) result is true to ``context``."""
    check_offsets(context, out["answers"])
    check_offsets(context, out.get("entities", []))
    check_offsets(context, out.get("tokens", []), key="surface")
    for h in out.get("highlight", []):
        assert 0 <= h["start"] < h["end"] <= len(context)


# -- the CLI ---------------------------------------------------------------------------------------
def cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refuses a wrong type itself
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", TEXTS)
def test_cli_ask_and_ner(name, en_qa_dir, en_ner_dir, capsys):
    text = TEXTS[name]
    code, out, err = cli(capsys, "ask", "--model", str(en_qa_dir), "--question", QUESTION,
                         "--context", text, "--top-k", "3", "--json")  # fmt: skip
    ner_code, ner_out, ner_err = cli(capsys, "ner", "--model", str(en_ner_dir), "--text", text,
                                     "--json")  # fmt: skip
    if name in REFUSED:
        expected = REFUSED[name][0]
        assert code == ner_code == EXIT_USER_ERROR
        assert expected in err and expected.replace("context", "text") in ner_err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + ner_err
        return
    assert code == ner_code == 0, err + ner_err
    check_offsets(text, json.loads(out)["answers"])
    check_offsets(text, json.loads(ner_out)["entities"])


@pytest.mark.parametrize("name", [n for n in TEXTS if n != "1mb"])
def test_cli_odd_questions(name, en_qa_dir, capsys):
    question = TEXTS[name]
    code, out, err = cli(capsys, "ask", "--model", str(en_qa_dir), "--question", question,
                         "--context", CONTEXT, "--json")  # fmt: skip
    if name in REFUSED:
        assert code == EXIT_USER_ERROR
        assert REFUSED[name][0].replace("context", "question") in err
        return
    if name in TOO_LONG_QUESTION:
        assert code == EXIT_USER_ERROR and TOO_LONG_QUESTION[name] in err
        return
    assert code == 0, err
    check_offsets(CONTEXT, json.loads(out)["answers"])


def test_cli_question_over_the_limit(en_qa_dir, capsys):
    code, _, err = cli(capsys, "ask", "--model", str(en_qa_dir), "--question", "why " * 300,
                       "--context", CONTEXT)  # fmt: skip
    assert code == EXIT_USER_ERROR
    assert "question is 1,200 characters long; the limit is 1,000" in err


@pytest.mark.parametrize(("options", "expected"), BAD_OPTIONS + WRONG_TYPES[:2])
def test_cli_options_out_of_range_or_wrong_type(options, expected, en_qa_dir, capsys):
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    code, _, err = cli(capsys, "ask", "--model", str(en_qa_dir), "--question", QUESTION,
                       "--context", CONTEXT, *flags)  # fmt: skip
    assert code == EXIT_USER_ERROR and "Traceback" not in err
    if isinstance(next(iter(options.values())), int):
        assert expected in err
    else:  # argparse's own words for a value that is not an int
        assert "invalid int value" in err


# -- the app: handlers for every case, the launched API for a few ----------------------------------
@pytest.fixture(scope="module")
def models_root(tmp_path_factory, en_qa_dir, en_ner_dir, ja_qa_dir, ja_ner_dir) -> Path:
    root = tmp_path_factory.mktemp("hostile_models")
    for name, src in [("en-qa", en_qa_dir), ("en-ner", en_ner_dir), ("ja-qa", ja_qa_dir),
                      ("ja-ner", ja_ner_dir)]:  # fmt: skip
        (root / name).symlink_to(src, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def api(models_root) -> Api:
    return Api(DemoService(ModelRegistry(models_root)))


@pytest.fixture(scope="module")
def client(api):
    from gradio_client import Client

    demo = build_ui(api.service)
    port = free_port()
    launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    demo.close()


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


API_CASES = ["nul-control", "rtl-override", "combining-run", "script-tag", "empty", "1mb"]


@pytest.mark.parametrize("name", API_CASES)
def test_launched_api_answers_or_refuses_and_keeps_serving(name, client):
    from gradio_client.exceptions import AppError

    text = TEXTS[name]
    if name in REFUSED:
        with pytest.raises(AppError, match=REFUSED[name][1]):
            client.predict(QUESTION, text, api_name="/answer")
    else:
        check_answer_json(client.predict(QUESTION, text, api_name="/answer"), text)
        check_offsets(text, client.predict(text, api_name="/ner")["entities"])
    assert client.predict(QUESTION, CONTEXT, api_name="/answer")["answers"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [({"top_k": 10**9}, "top_k must be at most 20"), ({"top_k": "five"}, "whole number")],
)
def test_launched_api_options(options, expected, client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=expected):
        client.predict(QUESTION, CONTEXT, api_name="/answer", **options)
    assert client.predict(QUESTION, CONTEXT, api_name="/answer", top_k=20)["answers"]
