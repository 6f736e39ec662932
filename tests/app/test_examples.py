"""app/examples.py: the bundled examples cover both languages, long texts and odd characters."""

from __future__ import annotations

from qa_demo.app.examples import load_examples
from qa_demo.app.serve import DEFAULT_ASSETS


def test_examples_cover_the_required_cases():
    examples = load_examples(DEFAULT_ASSETS / "examples.json")
    assert {e.language for e in examples} == {"ja", "en"}
    assert any(len(e.context) > 800 for e in examples if e.language == "en")
    assert any(len(e.context) > 800 for e in examples if e.language == "ja")
    assert any(any("\uff61" <= c <= "\uff9f" for c in e.context) for e in examples)
    assert any(any("０" <= c <= "９" for c in e.context) for e in examples)
