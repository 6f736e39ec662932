"""``build_app`` and ``launch`` (app.py, Spaces), ``qa-demo serve``, examples and CSS.

gradio is imported inside functions only: ``qa-demo --help`` must not pay its 3-4 s import.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .examples import load_examples
from .paths import (
    DEFAULT_ASSETS,
    MODELS_ENV,
    PRELOAD_ENV,
    REMOTE_ENV,
)
from .paths import models_root as resolve_models_root
from .registry import ModelRegistry
from .service import DemoService

#: Sessions (browser tabs, API clients) whose state gradio keeps in memory, least recently
#: used dropped first. gradio keeps 10,000 by default and forgets none when a tab closes; each
#: holds a copy of every component's config plus its last inputs and outputs (0.2 MB, to
#: 2.4 MB after /answer on a 3,500-character context), so RSS grew with every new visitor. 64
#: is a class of 40 and their reloads; a dropped session only loses its "notes already said".
SESSION_CAPACITY = 64
#: glibc's M_ARENA_MAX (mallopt): at most this many malloc arenas. By default glibc makes up to
#: 8 per core, one per thread that allocates at once, and keeps each arena's freed memory;
#: gradio's 40 worker threads then grew RSS by a third under 40 users (``qa-demo loadtest``)
#: and never gave it back. Two arenas cost nothing measurable here: requests run one or two at
#: a time. ``MALLOC_ARENA_MAX`` in the environment, if set, is left as it is.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter number


def read_css(assets: Path = DEFAULT_ASSETS) -> str:
    css = assets / "style.css"
    return css.read_text(encoding="utf-8") if css.exists() else ""


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas before the server starts its threads; False where this is not
    glibc (macOS, musl) or MALLOC_ARENA_MAX already decides."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc
        return False


def build_app(
    models_root: str | Path | None = None,
    assets: str | Path | None = None,
    concurrency: int | None = None,
    remote: str | None = None,
):
    """Read models/ (or $QA_DEMO_MODELS), build the registry and the UI. Downloads nothing.
    ``concurrency``: requests run at once (default: ``layout.concurrency_limit``); ``remote``
    (or $QA_DEMO_REMOTE): a KServe v2 model server whose models are listed beside the local
    ones."""
    limit_malloc_arenas()
    root = resolve_models_root(models_root)
    assets_dir = Path(assets) if assets else DEFAULT_ASSETS
    from .layout import build_ui

    remote = remote or os.environ.get(REMOTE_ENV)
    backend = None
    if remote:
        from ..remote import RemoteBackend

        backend = RemoteBackend(remote)
    registry = ModelRegistry(root, remote=backend)
    preload = os.environ.get(PRELOAD_ENV, "").strip()
    if preload:  # a Space's full-size default, fetched while the bundled models serve
        registry.preload(preload)
    service = DemoService(registry)
    examples = load_examples(assets_dir / "examples.json")
    return build_ui(service, examples, concurrency=concurrency)


#: gradio's own words when its queue is full (its web client shows them, in English only).
GRADIO_BUSY = "This application is currently busy. Please try again."


#: Replaces the text of that toast; textContent, so the text never becomes markup. In <head>
#: (gradio 6 runs launch's ``js=`` no longer), so it observes the whole document.
BUSY_SCRIPT = """<script>
(() => {
  const theirs = THEIRS, ours = OURS;
  const swap = () => {
    for (const el of document.querySelectorAll('[data-testid="toast-text"]')) {
      if (el.textContent.includes(theirs)) el.textContent = ours;
    }
  };
  new MutationObserver(swap).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>"""


def js_string(text: str) -> str:
    """``text`` as a JS string literal that cannot close the <script> it is in."""
    return json.dumps(text, ensure_ascii=False).replace("<", "\\u003c")


def busy_script() -> str:
    """A <head> script: gradio's "busy" toast, shown the moment the queue is full, says it in
    Japanese and English, as the rest of the page does."""
    from .messages import message

    ours = f"{message('busy', 'ja')} / {message('busy', 'en')}"
    return BUSY_SCRIPT.replace("THEIRS", js_string(GRADIO_BUSY)).replace("OURS", js_string(ours))


def launch(demo, host: str | None = None, port: int | None = None, share: bool = False, **kwargs):
    """Launch with the project's theme and CSS (gradio 6 takes them at launch)."""
    import gradio as gr

    from .upkeep import bound_queue

    bound_queue(demo)  # after the last demo.queue(): each call makes a new queue
    return demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        theme=gr.themes.Soft(),
        css=read_css(),
        **{"state_session_capacity": SESSION_CAPACITY, "head": busy_script(), **kwargs},
    )


# -- qa-demo serve ---------------------------------------------------------------------------------
def cmd_serve(args) -> None:
    demo = build_app(args.models, concurrency=args.concurrency, remote=args.remote)
    launch(demo, host=args.host, port=args.port, share=args.share)


def add_subcommands(sub) -> None:
    p = sub.add_parser("serve", help="launch the web demo (Gradio)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 lets a classroom LAN connect",
    )
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--models", help=f"models directory (default: ${MODELS_ENV} or models/)")
    p.add_argument(
        "--remote",
        metavar="URL",
        help=f"also list the models of this KServe v2 model server (or ${REMOTE_ENV})",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="requests run at once (default: from the CPU count and devices)",
    )
    p.set_defaults(func=cmd_serve)
