"""Any text, however odd, keeps offsets true to the original string and never crashes."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_demo import QAOptions, QuestionAnswerer
from qa_demo.inputs import is_invisible
from qa_demo.segment import segment
from qa_demo.tokenization import load_tokenizer

ODD = st.sampled_from(
    [
        *"ｱｯﾌﾟﾙﾊﾞ㈱㈲①２０Ａ　\u200f\u200e\u202e\u0301\u3099\x00\x07\x1b\t\r\n😀👨‍👩‍👧🇯🇵",
        *["東京", "は", "。", "abc", " ", "[SEP]", "<b>", "&amp;"],
    ]
)
TEXTS = st.lists(st.one_of(ODD, st.text(min_size=1, max_size=3)), min_size=1, max_size=40).map(
    "".join
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def check_offsets(text, offsets):
    prev_start = 0
    for start, end in offsets:
        assert 0 <= start <= end <= len(text)
        assert start >= prev_start
        prev_start = start


@FUZZ
@given(TEXTS)
def test_japanese_tokenizer_offsets_are_in_bounds_and_ordered(ja_vocab_dir, text):
    check_offsets(text, load_tokenizer(ja_vocab_dir).encode(text).offsets)


@FUZZ
@given(TEXTS)
def test_english_tokenizer_offsets_are_in_bounds_and_ordered(en_checkpoint, text):
    check_offsets(text, load_tokenizer(en_checkpoint).encode(text).offsets)


@FUZZ
@given(TEXTS)
def test_segmenter_never_crashes(text):
    for lang in ("ja", "en"):
        for m in segment(text, lang):
            assert 0 <= m.start <= m.end <= len(text)


@pytest.fixture(scope="module")
def ja_qa(ja_qa_dir):
    return QuestionAnswerer.load(ja_qa_dir, options=QAOptions(top_k=3))


@FUZZ
@given(question=TEXTS, context=TEXTS)
def test_answers_are_slices_for_any_text(ja_qa, question, context):
    if is_invisible(question) or is_invisible(context):
        return  # refused with InputError, covered elsewhere
    for a in ja_qa.ask(question, context).answers:
        assert a.text == context[a.start : a.end]


#: Characters NFKC expands into several (each stays one character of the original text).
EXPANDING = st.sampled_from(["㈱", "㍻", "ﬁ", "㌔", "½", "™", "①", "ｶﾞ", "…", "㎡"])
EXPANDING_TEXTS = st.lists(
    st.one_of(EXPANDING, ODD, st.text(max_size=2)), min_size=1, max_size=30
).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=60), TEXTS, EXPANDING_TEXTS)


@pytest.fixture(scope="module")
def ja_ner(ja_ner_dir):
    from qa_demo import EntityTagger

    return EntityTagger.load(ja_ner_dir)


def _only_our_errors(call):
    """Run ``call``; only the project's own input errors may escape (None then)."""
    from qa_demo import InputError

    try:
        return call()
    except InputError:
        return None


@FUZZ
@given(question=ANY_TEXT, context=ANY_TEXT)
def test_any_unicode_qa_gives_slices_or_an_input_error(ja_qa, question, context):
    result = _only_our_errors(lambda: ja_qa.ask(question, context))
    for a in result.answers if result else ():
        assert a.text == context[a.start : a.end]


@FUZZ
@given(text=ANY_TEXT)
def test_any_unicode_ner_gives_slices_that_never_overlap(ja_ner, text):
    from qa_demo.options import Aggregation

    for aggregation in (Aggregation.SIMPLE, Aggregation.MAX, Aggregation.NONE):
        result = _only_our_errors(lambda a=aggregation: ja_ner.tag(text, aggregation=a))
        entities = sorted(result.entities, key=lambda e: e.start) if result else []
        for e in entities:
            assert e.text == text[e.start : e.end]
        for a, b in itertools.pairwise(entities):
            assert a.end <= b.start, f"overlap: {a} {b}"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"top_k": 10_000}, "top_k must be at most 20"),
        ({"top_k": "3"}, "top_k must be an integer"),
        ({"top_k": 0}, "must be >= 1"),
        ({"max_answer_len": 100_000}, "max_answer_len must be at most 512"),
        ({"max_seq_len": 4096}, "longer than this model's"),
        ({"max_seq_len": 3.5}, "max_seq_len must be an integer"),
        ({"doc_stride": -1}, "doc_stride must be >= 0"),
    ],
)
def test_options_far_out_of_range_or_of_the_wrong_type(ja_qa, overrides, message):
    from qa_demo import InputError

    with pytest.raises(InputError, match=message):
        ja_qa.ask("誰？", "山田が書いた。", **overrides)
    assert ja_qa.ask("誰？", "山田が書いた。").best is not None  # and it keeps serving
