"""Kept for old imports (``from qa_demo.app.ui import build_app``): the app lives in
``layout`` (build_ui), ``serve`` (build_app, launch, qa-demo serve), ``service`` and
``registry``."""

from .layout import build_ui
from .serve import add_subcommands, build_app, cmd_serve, launch

__all__ = ["add_subcommands", "build_app", "build_ui", "cmd_serve", "launch"]
