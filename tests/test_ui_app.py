"""The demo app: registry and service, the JSON API through gradio_client, and a real browser.

One app is launched per module on 127.0.0.1 with a free port, over tiny random-weight models.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from browser import launch_browser, needs_chromium, open_app, wait_until

from qa_demo.app import handlers, view
from qa_demo.app.catalog import CATALOG, fetch
from qa_demo.app.examples import load_examples
from qa_demo.app.handlers import make_request
from qa_demo.app.layout import build_ui
from qa_demo.app.messages import error_message
from qa_demo.app.registry import AUTO, ModelRegistry, Selection
from qa_demo.app.serve import DEFAULT_ASSETS, launch
from qa_demo.app.service import DemoService
from qa_demo.errors import ModelLoadError
from qa_demo.options import Precision
from qa_demo.types import Language, Task

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843. Tokyo station opened in 1914."
JA_CONTEXT = "ｻｸﾗﾃﾞﾝｷ株式会社は２０２５年４月、熊本県菊池市に新しい工場を建設すると発表した。"


@pytest.fixture(scope="module")
def models_root(tmp_path_factory, en_qa_dir, en_ner_dir, ja_qa_dir, ja_ner_dir) -> Path:
    root = tmp_path_factory.mktemp("ui_models")
    for name, src in [
        ("en-qa", en_qa_dir),
        ("en-ner", en_ner_dir),
        ("ja-qa", ja_qa_dir),
        ("ja-ner", ja_ner_dir),
    ]:
        shutil.copytree(src, root / name)
    return root


@pytest.fixture(scope="module")
def service(models_root) -> DemoService:
    return DemoService(ModelRegistry(models_root))


@pytest.fixture(scope="module")
def app_url(service):
    demo = build_ui(service, load_examples(DEFAULT_ASSETS / "examples.json"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


# -- registry and service --------------------------------------------------------------------------
def test_registry_lists_local_and_catalog_models(service):
    reg = service.registry
    qa_values = [v for _, v in reg.choices(Task.QA)]
    assert qa_values[0] == AUTO and {"en-qa", "ja-qa"} <= set(qa_values)
    assert any(v.startswith("hub:") for v in qa_values)
    assert "AUTO" in reg.devices() and "CPU" in reg.devices()


def test_answer_pairs_qa_with_ner_of_the_same_language(service):
    run = service.answer(make_request("Who wrote the report?", EN_CONTEXT))
    assert run.qa_model.name == "en-qa" and run.ner_model.name == "en-ner"
    best = run.qa.best
    assert best.text == EN_CONTEXT[best.start : best.end]
    tokens = view.token_rows(run)[1]
    assert len(tokens) > 5 and all(t.surface == EN_CONTEXT[t.start : t.end] for t in tokens)
    assert [s.pipeline for s in run.stages] == ["QA", "NER"]
    json.dumps(view.answer_json(run))  # the download must serialise

    ja = service.answer(
        make_request("どこに工場を建設しますか？", JA_CONTEXT, dictionary="jumandic")
    )
    assert ja.qa_model.name == "ja-qa" and ja.ner_model.name == "ja-ner"
    assert {t.pos for t in view.token_rows(ja)[1]} - {""}  # MeCab POS joined in


def test_pipelines_are_built_once_and_shared(service):
    reg = service.registry
    sel = Selection(reg.model("en-qa", Task.QA, Language.EN), "CPU", Precision.FP32, None)
    assert reg.pipeline(Task.QA, sel) is reg.pipeline(Task.QA, sel)


@pytest.mark.parametrize(
    ("question", "context", "kwargs", "expected"),
    [
        ("", EN_CONTEXT, {}, "Please enter a question."),
        ("Who?", "   \n", {"language": "en"}, "Please enter a context"),
        ("誰？", "   ", {"language": "ja"}, "文脈（答えを探す文章）を入力してください"),
        ("Who?", "x" * 100_001, {}, "100,001 characters long"),
        ("Who?", EN_CONTEXT, {"model": "nope"}, "Unknown model 'nope'"),
        ("Who?", EN_CONTEXT, {"device": "TPU"}, "Unknown device 'TPU'"),
        (
            "Who?",
            EN_CONTEXT,
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


def test_error_messages_follow_the_ui_language():
    exc = ModelLoadError("Model file x does not exist.")
    assert error_message(exc, "ja").startswith("モデルを読み込めない")
    assert error_message(exc, "en").startswith("The model could not be loaded")


def test_missing_precision_falls_back_with_a_note(service):
    run = service.answer(make_request("誰？", JA_CONTEXT, precision="INT8"))
    assert run.qa_model.name == "ja-qa"  # exported without INT8
    assert any("INT8" in n for n in view.notes(run))


def test_compare_runs_every_device_and_precision(service):
    rows = service.compare(make_request("Who wrote the report?", EN_CONTEXT, model="en-qa"))
    engine = service.registry.engine
    expected = {(d, p.value) for d in engine.devices() for p in engine.capabilities(d).supported()}
    assert {(r["device"], r["precision"]) for r in rows} == expected
    assert {("CPU", "FP32"), ("CPU", "INT8")} <= expected
    assert all(r["ran on"] and r["executed"] for r in rows)
    int8 = next(r for r in rows if r["device"] == "CPU" and r["precision"] == "INT8")
    assert int8["chosen"].startswith("INT8") and "int8" in int8["executed"]


def test_answer_tokenizes_each_text_once(service, monkeypatch):
    """The token table comes from the pipeline's own encodings, not a second tokenization."""
    from qa_demo.tokenization import TextTokenizer

    calls = []
    encode = TextTokenizer.encode
    monkeypatch.setattr(
        TextTokenizer, "encode", lambda self, text: calls.append(text) or encode(self, text)
    )
    run = service.answer(make_request("Who wrote the report?", EN_CONTEXT))
    assert sorted(calls) == sorted(["Who wrote the report?", EN_CONTEXT, EN_CONTEXT])  # QA + NER
    enc = run.qa.context_encoding
    question_rows, context_rows = view.token_rows(run)
    assert [(t.start, t.end) for t in context_rows] == [tuple(o) for o in enc.offsets]
    assert [t.text for t in question_rows] == ["question"] * len(question_rows)
    assert "".join(t.surface for t in question_rows).startswith("Whowrote")


def test_fetch_offline_says_how_to_do_it_by_hand(tmp_path):
    entry = CATALOG[0]
    with pytest.raises(ModelLoadError) as info:
        fetch(entry, tmp_path, reachable=lambda: False)
    assert "needs network" in str(info.value) and f"qa-demo export {entry.hub_id}" in str(
        info.value
    )
    assert not (tmp_path / entry.dir_name).exists()


def test_examples_cover_the_required_cases():
    examples = load_examples(DEFAULT_ASSETS / "examples.json")
    assert {e.language for e in examples} == {"ja", "en"}
    assert any(len(e.context) > 800 for e in examples if e.language == "en")
    assert any(len(e.context) > 800 for e in examples if e.language == "ja")
    assert any(any("\uff61" <= c <= "\uff9f" for c in e.context) for e in examples)
    assert any(any("０" <= c <= "９" for c in e.context) for e in examples)


def test_serve_is_a_cli_subcommand_and_ui_import_stays_light():
    from qa_demo.cli import build_parser

    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "7000"])
    assert (args.host, args.port, args.share) == ("0.0.0.0", 7000, False)
    code = (
        "import sys, qa_demo.app.view, qa_demo.app.serve, qa_demo.app.layout, qa_demo.app.render, "
        "qa_demo.app.catalog; "
        "bad = {'gradio', 'torch', 'transformers'} & set(sys.modules); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the JSON API ----------------------------------------------------------------------------------
def test_api_answer_ner_tokenize(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    out = client.predict("Who wrote the report?", EN_CONTEXT, api_name="/answer")
    best = out["answers"][0]
    assert best["text"] == EN_CONTEXT[best["start"] : best["end"]]
    assert out["model"] == "en-qa" and out["ner_model"] == "en-ner"
    assert {"QA", "NER"} <= set(out["timings_ms"])
    # Precision as asked (AUTO by default), as chosen and why, as executed.
    assert out["precision"]["requested"] == "AUTO" and out["precision"]["executed"]
    assert out["precision"]["reason"] and out["timings_ms"]["QA"]["precision"]["chosen"]
    assert out["ner_precision"]["requested"] == "AUTO"
    assert out["tokens"] and out["windows"][0]["start_logits"]
    answer_hl = [h for h in out["highlight"] if h["label"].startswith("ANSWER")]
    assert answer_hl[0]["start"] == best["start"] and answer_hl[-1]["end"] == best["end"]

    ner = client.predict(JA_CONTEXT, api_name="/ner")
    assert ner["model"] == "ja-ner" and ner["tokens"]
    assert ner["precision"]["requested"] == "AUTO" and ner["precision"]["executed"]
    fp32 = client.predict(JA_CONTEXT, "auto", "auto", "CPU", "FP32", api_name="/ner")
    assert fp32["precision"]["chosen"] == "FP32" and fp32["precision"]["executed"] == "f32"
    for ent in ner["entities"]:
        assert ent["text"] == JA_CONTEXT[ent["start"] : ent["end"]]

    tok = client.predict(JA_CONTEXT, api_name="/tokenize")
    assert tok["language"] == "ja" and tok["dictionary"] == "unidic-lite"
    first = tok["tokens"][0]
    # The first word is half-width katakana: shown as typed and in its NFKC form.
    assert first["surface"] == JA_CONTEXT[first["start"] : first["end"]]
    assert first["surface"].startswith("ｻ") and first["nfkc"].startswith("サ")

    with pytest.raises(Exception, match="Please enter a question"):
        client.predict("  ", EN_CONTEXT, api_name="/answer")
    # The app keeps serving after an error.
    assert client.predict("Who?", EN_CONTEXT, api_name="/answer")["answers"]


# -- the browser ---------------------------------------------------------------------------------
@needs_chromium
def test_browser_answers_english_and_japanese(app_url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    cases = [
        ("en", "Where was the report written?", EN_CONTEXT),
        ("ja", "工場はどこに建設されますか？", JA_CONTEXT),
        (
            "script",
            "<b>who</b>?",
            "<script>window.__pwned = 1</script> Ada <img src=x "
            'onerror="window.__pwned = 2"> wrote it in London.',
        ),
    ]
    with sync_api.sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_app(page, app_url)
            assert page.locator("#precision input").input_value() == "AUTO"
            for name, question, context in cases:
                page.locator("#context textarea").fill(context)
                page.locator("#question textarea").fill(question)
                page.locator("#answer-btn").click()
                # The summary names the models once this request is done.
                wait_until(
                    page,
                    "c => document.querySelector('#summary').innerText.includes(c)",
                    f"the {name} answer's summary",
                    "#summary",
                    arg="ja-qa" if name == "ja" else "en-qa",
                )
                wait_until(
                    page,
                    "t => document.querySelector('#highlighted .textfield')?.innerText"
                    ".replace(/\\s/g, '').includes(t)",
                    f"the {name} context in the highlight view",
                    "#highlighted",
                    arg=context[-8:].replace(" ", ""),
                )
                summary_text = page.locator("#summary").inner_text()
                assert "AUTO →" in summary_text and "executed:" in summary_text
                legend = page.locator("#highlighted .legend-item").all_inner_texts()
                assert any(lab.startswith("ANSWER") for lab in legend), legend
                assert any(not lab.startswith("ANSWER") or "+" in lab for lab in legend), legend
                answered = page.locator("#highlighted .token.highlighted").count()
                assert answered >= 2  # the answer and at least one entity
                page.screenshot(path=str(tmp_path / f"app-{name}.png"), full_page=True)
            # Markup typed by the user is shown as text and never runs.
            assert page.evaluate("window.__pwned") is None
            text = "".join(page.locator("#highlighted .textfield").inner_text().split())
            assert "<script>window.__pwned=1</script>" in text
            summary = page.locator("#summary").inner_html()
            assert "<b>who</b>" not in summary
        finally:
            browser.close()
