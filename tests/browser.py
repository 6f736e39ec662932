"""What the headless-browser tests share: Debian's Chromium, its flags, patient waits.

The waits are generous because a first answer on a loaded CI machine (cold model compile, other
jobs on both cores) took over 60 s once (2026-11-24); a wait that times out says what the page
showed instead, so a red run tells why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The page's first render and each answer; far above what a warm run needs (seconds).
PAGE_TIMEOUT_MS = 180_000

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def wait_until(page, script: str, what: str, region: str, arg: Any = None) -> None:
    """Wait until ``script`` (a JS function of ``arg``) holds; else fail saying what showed."""
    sync_api = pytest.importorskip("playwright.sync_api")
    try:
        page.wait_for_function(script, arg=arg, timeout=PAGE_TIMEOUT_MS)
    except sync_api.TimeoutError:
        shown = page.evaluate(
            "r => document.querySelector(r)?.innerText ?? '(not on the page)'", region
        )
        toasts = page.locator('[data-testid="toast-text"]').all_inner_texts()
        pytest.fail(
            f"Expected {what} within {PAGE_TIMEOUT_MS // 1000} s; {region} showed: {shown!r}; "
            f"toasts: {toasts!r}"
        )


def open_app(page, url: str) -> None:
    """Go to the app and wait until it is mounted with its defaults, so typing and clicks count.

    A visible Answer button is not enough on a loaded machine: text filled in before the
    components hold their values was lost and the click answered nothing (the flaky CI failures
    of 2026-11-24). The precision dropdown showing AUTO is the sign. Not "networkidle": a
    heartbeat stream stays open.
    """
    page.goto(url)
    page.locator("#answer-btn").wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
    wait_until(
        page,
        "() => document.querySelector('#precision input')?.value === 'AUTO'",
        "the precision dropdown to show its default, AUTO",
        "#precision",
    )
