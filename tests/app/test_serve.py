"""app/serve.py: the launched app. Its JSON API through gradio_client (hostile input too), a
real browser (answers, markup that never runs), and a full queue that answers "busy" at once.

Apps are launched on 127.0.0.1 at a free port, over tiny random-weight models.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from browser import launch_browser, needs_chromium, open_app, wait_until
from hostile import CONTEXT, QUESTION, REFUSED, TEXTS, check_answer_json, check_offsets

from conftest import launched
from qa_demo.app.examples import load_examples
from qa_demo.app.handlers import make_request
from qa_demo.app.layout import build_ui
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.serve import DEFAULT_ASSETS, GRADIO_BUSY, busy_script
from qa_demo.app.service import DemoService

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843. Tokyo station opened in 1914."
JA_CONTEXT = "ｻｸﾗﾃﾞﾝｷ株式会社は２０２５年４月、熊本県菊池市に新しい工場を建設すると発表した。"


@pytest.fixture(scope="module")
def app_url(service):
    """The app over the four tiny models, with the bundled examples."""
    with launched(build_ui(service, load_examples(DEFAULT_ASSETS / "examples.json"))) as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


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


# -- the JSON API ----------------------------------------------------------------------------


@pytest.mark.slow
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


API_CASES = ["nul-control", "rtl-override", "combining-run", "script-tag", "empty", "1mb"]


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "expected"),
    [({"top_k": 10**9}, "top_k must be at most 20"), ({"top_k": "five"}, "whole number")],
)
def test_launched_api_options(options, expected, client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=expected):
        client.predict(QUESTION, CONTEXT, api_name="/answer", **options)
    assert client.predict(QUESTION, CONTEXT, api_name="/answer", top_k=20)["answers"]


# -- the browser -----------------------------------------------------------------------------


@pytest.mark.slow
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


# -- markup typed by a user is shown as text and never runs, in a real headless browser ------

# The context and the question carry a <script>, an <img onerror> and a javascript: link; after
# Answer (QA and NER in one view) and Compare, the page must have run none of them
# (``window.__xss`` undefined), hold no element they would inject (in the highlight view, the
# tables and the summary line, or anywhere else), and show the markup as text.


SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
LINK = '<a href="javascript:window.__xss=3">London</a>'
MARKUP_CONTEXT = f"{SCRIPT} Ada Lovelace {IMG} wrote the report in {LINK} in 1843. Tokyo <b>x</b>."
MARKUP_QUESTION = f"Who <i>wrote</i> it? {IMG} {LINK}"
#: Where the user's text comes back: highlight view, summary line, tables.
REGIONS = ("#highlighted", "#summary", "#tokens", "#compare", "#timing-md", ".table-wrap")
INJECTED = 'img[src="x"], [onerror], a[href^="javascript:" i], iframe, object, embed'


@pytest.fixture(scope="module")
def safety_url(models_root):
    service = DemoService(ModelRegistry(models_root("en-qa", "en-ner")))
    # Compile every model and precision the page will use before the browser asks, so the waits
    # below measure rendering, not a first compile on a loaded machine.
    service.answer(make_request(MARKUP_QUESTION, MARKUP_CONTEXT))
    service.compare(make_request(MARKUP_QUESTION, MARKUP_CONTEXT))
    with launched(build_ui(service)) as url:
        yield url


def injected(page, region: str = "") -> int:
    """Elements the payloads would have created, under ``region`` (or the whole page)."""
    selector = ", ".join(f"{region} {s.strip()}" for s in INJECTED.split(", "))
    return page.locator(selector).count()


def scripts_with_payload(page) -> int:
    return page.evaluate(
        "() => [...document.querySelectorAll('script')]"
        ".filter(s => s.textContent.includes('__xss')).length"
    )


def flat(text: str) -> str:
    return "".join(text.split())


@pytest.mark.slow
@needs_chromium
def test_markup_is_text_and_never_runs(safety_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_app(page, safety_url)
            page.locator("#context textarea").fill(MARKUP_CONTEXT)
            page.locator("#question textarea").fill(MARKUP_QUESTION)
            page.locator("#answer-btn").click()
            wait_until(
                page,
                "() => document.querySelector('#summary').innerText.includes('en-qa')",
                "the answer's summary to name en-qa",
                "#summary",
            )
            wait_until(
                page,
                "() => (document.querySelector('#highlighted .textfield')?.innerText || '')"
                ".replace(/\\s/g, '').includes('__xss=3')",
                "the context, as text, in the highlight view",
                "#highlighted",
            )
            page.locator("#compare-btn").click()
            page.get_by_role("tab", name="比較 / Compare").click()  # rendered once shown
            wait_until(
                page,
                "() => (document.querySelector('#compare')?.innerText || '').includes('CPU')",
                "the Compare table",
                "#compare",
            )
            # Every tab once, so that each table has been rendered.
            for tab in page.get_by_role("tab").all():
                tab.click()
            page.wait_for_timeout(500)

            assert page.evaluate("() => typeof window.__xss") == "undefined"
            assert scripts_with_payload(page) == 0
            assert injected(page) == 0, page.content()[:2000]
            for region in REGIONS:
                assert injected(page, region) == 0, region

            # The markup is on the page as text, as typed.
            highlight = flat(page.locator("#highlighted .textfield").inner_text())
            for payload in (SCRIPT, IMG, LINK):
                assert flat(payload) in highlight
            summary = page.locator("#summary").inner_html()
            assert "<i>" not in summary and "<img" not in summary
            # The check itself: an element put there by the DOM API is seen.
            page.evaluate(
                "() => { const i = document.createElement('img'); i.setAttribute('src', 'x'); "
                "document.querySelector('#summary').appendChild(i); }"
            )
            assert injected(page, "#summary") == 1
        finally:
            browser.close()


# -- a full queue answers at once with a clear "busy" message, and the app keeps serving ----

# The app is the real one (build_ui over the tiny models) with a queue of one waiting request,
# one request at a time, and answers held until the test releases them, so that the queue fills.
# Events, not a stopwatch, say what happened first: a busy 2-core machine cannot fail them.


#: The longest any step may take before the test gives up (never reached when it passes).
PATIENCE_S = 60


class SlowService(DemoService):
    """Answers once ``release`` is set; ``started`` is set when one begins."""

    started = threading.Event()
    release = threading.Event()

    def answer(self, *args, **kwargs):
        self.started.set()
        self.release.wait(PATIENCE_S)
        return super().answer(*args, **kwargs)


@pytest.fixture(scope="module")
def slow_app(models_root):
    service = SlowService(ModelRegistry(models_root("en-qa", "en-ner")))
    demo = build_ui(service)
    demo.queue(default_concurrency_limit=1, max_size=1)
    with launched(demo) as url:
        yield url, service, demo


def fill_queue(url: str, service: SlowService):
    """One request running and one waiting: the queue (max_size=1) is full."""
    from gradio_client import Client
    from gradio_client.utils import Status

    service.started.clear()
    service.release.clear()
    running = Client(url, verbose=False).submit(QUESTION, CONTEXT, api_name="/answer")
    assert service.started.wait(30)
    waiting = Client(url, verbose=False).submit(QUESTION, CONTEXT, api_name="/answer")
    deadline = time.monotonic() + 10
    while waiting.status().code is not Status.IN_QUEUE and time.monotonic() < deadline:
        time.sleep(0.05)
    return running, waiting


@pytest.mark.slow
def test_a_full_queue_refuses_at_once_and_the_app_keeps_serving(slow_app):
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    url, service, _ = slow_app
    late = Client(url, verbose=False)
    running, waiting = fill_queue(url, service)
    with pytest.raises(QueueError, match=r"Queue is full! Please try again\."):
        late.predict(QUESTION, CONTEXT, api_name="/ner")  # any model event: one queue
    # Refused at once: while the request ahead is still held, not after the queue drains.
    assert not running.done()
    service.release.set()
    assert running.result(60)["answers"] and waiting.result(60)["answers"]
    # Served again once there is room; an error in between does not stop it either.
    with pytest.raises(AppError, match="Please enter a question"):
        late.predict("  ", CONTEXT, api_name="/answer")
    assert late.predict(QUESTION, CONTEXT, api_name="/answer")["answers"]


def test_busy_script_says_it_in_both_languages():
    js = busy_script()
    assert GRADIO_BUSY in js and "混雑しています" in js and "The demo is busy" in js
    assert "textContent" in js and "innerHTML" not in js and js.startswith("<script>")


@pytest.mark.slow
@needs_chromium
def test_browser_shows_busy_in_japanese_and_english(slow_app):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, service, _ = slow_app
    with sync_api.sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page()
            open_app(page, url)
            page.locator("#context textarea").fill(CONTEXT)
            page.locator("#question textarea").fill(QUESTION)
            running, waiting = fill_queue(url, service)
            page.locator("#answer-btn").click()
            toast = page.locator('[data-testid="toast-text"]').first
            toast.wait_for(state="visible", timeout=5_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=\"toast-text\"]')]"
                ".some(e => e.textContent.includes('混雑しています'))",
                timeout=5_000,
            )
            assert not running.done()  # said while the queue was still full
            text = toast.inner_text()
            assert "混雑しています" in text and "The demo is busy" in text
            service.release.set()
            running.result(60), waiting.result(60)
        finally:
            browser.close()
