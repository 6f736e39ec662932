"""inputs.py: user text is checked once, at the edge: empty, invisible, too long."""

import pytest

from qa_demo import InputError
from qa_demo.inputs import MAX_TEXT_CHARS, is_invisible


@pytest.mark.parametrize(
    ("question", "context", "message"),
    [
        ("", "本文", "question is empty"),
        ("誰？", " \n\t\u3000", "context is empty"),
        ("誰？", "あ" * (MAX_TEXT_CHARS + 1), "limit is 100,000"),
        ("誰？", "\u200b\u2060\x00\u3000", "context has no visible characters"),
        ("\ufeff\u200d", "本文", "question has no visible characters"),
    ],
)
def test_bad_input_is_refused_clearly(ja_qa, question, context, message):
    with pytest.raises(InputError, match=message):
        ja_qa.ask(question, context)


def test_invisible_means_only_separators_controls_and_formats():
    assert is_invisible("\u200b\u200c\u200d\u2060\ufeff\x00\x1b \u3000\n")
    for visible in ("😀", "ｱ", "㈱", "\u0301", "!", "٣"):
        assert not is_invisible("\u200b" + visible), visible
