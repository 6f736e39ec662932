"""tools/bench/contexts.py: the bench's questions and contexts have the promised sizes."""

from __future__ import annotations

import pytest

from conftest import SHARED_DATA
from qa_demo.tools.bench.contexts import LONG_CHARS, SHORT_CHARS, english_cases

pytest.importorskip("onnxruntime")


def test_english_contexts_have_the_promised_sizes():
    for case in english_cases("both"):
        lo, hi = SHORT_CHARS if case.length == "short" else LONG_CHARS
        assert lo <= len(case.context) <= hi, case.question
        assert case.expected in case.context
    assert {c.length for c in english_cases("long")} == {"long"}


@pytest.mark.skipif(not (SHARED_DATA / "jsquad").exists(), reason="needs ../shared/data/jsquad")
def test_japanese_contexts_from_jsquad():
    from qa_demo.tools.bench.contexts import japanese_cases

    cases = japanese_cases(SHARED_DATA / "jsquad" / "valid-v1.3.json")
    assert {c.length for c in cases} == {"short", "long"}
    for case in cases:
        lo, hi = SHORT_CHARS if case.length == "short" else LONG_CHARS
        assert lo <= len(case.context) <= hi
        assert case.expected in case.context
