"""app/messages.py: one-sentence errors in the UI language."""

from __future__ import annotations

from qa_demo.app.messages import error_message
from qa_demo.errors import ModelLoadError


def test_error_messages_follow_the_ui_language():
    exc = ModelLoadError("Model file x does not exist.")
    assert error_message(exc, "ja").startswith("モデルを読み込めない")
    assert error_message(exc, "en").startswith("The model could not be loaded")
