"""app/view.py: the page and the JSON built from a finished run (no second tokenization)."""

from __future__ import annotations

from qa_demo.app import view
from qa_demo.app.handlers import make_request

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843. Tokyo station opened in 1914."


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
