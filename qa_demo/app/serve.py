"""``build_app`` and ``launch`` (app.py, Spaces), ``qa-demo serve``, examples and CSS.

gradio is imported inside functions only: ``qa-demo --help`` must not pay its 3-4 s import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .registry import ModelRegistry
from .service import DemoService


def project_dir(name: str) -> Path:
    """The project's ``name`` folder (models, assets): the working directory's, else the
    source checkout's. Not the package's own parent: installed without ``-e``, that is
    site-packages."""
    checkout = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), checkout):
        if (base / name).is_dir() and (base / "app.py").exists():
            return base / name
    return Path.cwd() / name


#: models/ and assets/ of the project; QA_DEMO_MODELS overrides the models folder.
DEFAULT_MODELS = project_dir("models")
DEFAULT_ASSETS = project_dir("assets")
MODELS_ENV = "QA_DEMO_MODELS"
#: Requests waiting beyond this are turned away, so a class of 40 cannot queue forever.
QUEUE_MAX_SIZE = 64


# -- examples --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    title_en: str
    title_ja: str
    language: str
    question: str
    context: str

    @property
    def label(self) -> str:
        # Each example exists in both languages; lead with the example's own language.
        if self.language == "ja":
            return f"🇯🇵 {self.title_ja}"
        return f"🇬🇧 {self.title_en}"


def load_examples(path: str | Path | None = None) -> list[Example]:
    """Examples from assets/examples.json; none (not an error) if the file is absent."""
    path = Path(path) if path else DEFAULT_ASSETS / "examples.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Example(e["title_en"], e["title_ja"], e["language"], e["question"], e["context"])
        for e in data["examples"]
    ]


def read_css(assets: Path = DEFAULT_ASSETS) -> str:
    css = assets / "style.css"
    return css.read_text(encoding="utf-8") if css.exists() else ""


def concurrency_limit(devices: Sequence[str]) -> int:
    """Requests run at once: one per two CPU cores (each infer uses several threads), at
    least one; an accelerator takes a few more since the CPU then only tokenizes."""
    cores = os.cpu_count() or 1
    cpu_limit = max(1, cores // 2)
    if any(d.split(".")[0] in ("GPU", "NPU") for d in devices):
        return max(cpu_limit, 4)
    return min(cpu_limit, 8)


def build_app(models_root: str | Path | None = None, assets: str | Path | None = None):
    """Read models/ (or $QA_DEMO_MODELS), build the registry and the UI. Downloads nothing."""
    root = Path(models_root or os.environ.get(MODELS_ENV) or DEFAULT_MODELS)
    assets_dir = Path(assets) if assets else DEFAULT_ASSETS
    from .layout import build_ui

    service = DemoService(ModelRegistry(root))
    return build_ui(service, load_examples(assets_dir / "examples.json"))


def launch(demo, host: str | None = None, port: int | None = None, share: bool = False, **kwargs):
    """Launch with the project's theme and CSS (gradio 6 takes them at launch)."""
    import gradio as gr

    return demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        theme=gr.themes.Soft(),
        css=read_css(),
        **kwargs,
    )


# -- qa-demo serve ---------------------------------------------------------------------------------
def cmd_serve(args) -> None:
    demo = build_app(args.models)
    if args.concurrency:
        demo.queue(default_concurrency_limit=args.concurrency, max_size=QUEUE_MAX_SIZE)
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
        "--concurrency",
        type=int,
        default=None,
        help="requests run at once (default: from the CPU count and devices)",
    )
    p.set_defaults(func=cmd_serve)
