"""Markup typed by a user is shown as text and never runs, in a real headless browser.

The context and the question carry a <script>, an <img onerror> and a javascript: link; after
Answer (QA and NER in one view) and Compare, the page must have run none of them
(``window.__xss`` undefined), hold no element they would inject (in the highlight view, the
tables and the summary line, or anywhere else), and show the markup as text.
"""

from __future__ import annotations

import pytest
from browser import launch_browser, needs_chromium, open_app, wait_until

from qa_demo.app.handlers import make_request
from qa_demo.app.layout import build_ui
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.serve import launch
from qa_demo.app.service import DemoService
from qa_demo.tools.loadtest import free_port

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
LINK = '<a href="javascript:window.__xss=3">London</a>'
CONTEXT = f"{SCRIPT} Ada Lovelace {IMG} wrote the report in {LINK} in 1843. Tokyo <b>x</b>."
QUESTION = f"Who <i>wrote</i> it? {IMG} {LINK}"
#: Where the user's text comes back: highlight view, summary line, tables.
REGIONS = ("#highlighted", "#summary", "#tokens", "#compare", "#timing-md", ".table-wrap")
INJECTED = 'img[src="x"], [onerror], a[href^="javascript:" i], iframe, object, embed'

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, en_qa_dir, en_ner_dir):
    root = tmp_path_factory.mktemp("safety_models")
    (root / "en-qa").symlink_to(en_qa_dir, target_is_directory=True)
    (root / "en-ner").symlink_to(en_ner_dir, target_is_directory=True)
    service = DemoService(ModelRegistry(root))
    # Compile every model and precision the page will use before the browser asks, so the waits
    # below measure rendering, not a first compile on a loaded machine.
    service.answer(make_request(QUESTION, CONTEXT))
    service.compare(make_request(QUESTION, CONTEXT))
    demo = build_ui(service)
    port = free_port()
    launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


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


def test_markup_is_text_and_never_runs(app_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_app(page, app_url)
            page.locator("#context textarea").fill(CONTEXT)
            page.locator("#question textarea").fill(QUESTION)
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
