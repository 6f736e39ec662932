"""decode.py: pure numpy span search, tag grouping and schemes, whatever they are fed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qa_demo.decode import best_spans, check_scheme, detect_scheme, group_tags, softmax, split_tag


def test_softmax_is_stable_for_huge_logits():
    p = softmax(np.array([1000.0, 1000.0, -1000.0]))
    assert np.allclose(p, [0.5, 0.5, 0.0])
    assert np.isfinite(p).all()


def test_softmax_mask_gives_exact_zero():
    p = softmax(np.array([5.0, 1.0, 1.0]), mask=np.array([False, True, True]))
    assert p[0] == 0.0
    assert np.allclose(p[1:], 0.5)


def test_best_span_respects_order_and_mask():
    # [CLS] q q ctx ctx ctx [SEP]
    start = np.array([0.0, 9.0, 0.0, 1.0, 5.0, 0.0, 9.0])
    end = np.array([0.0, 9.0, 0.0, 0.0, 1.0, 6.0, 9.0])
    mask = np.array([False, False, False, True, True, True, False])
    spans = best_spans(start, end, mask, max_answer_len=30, top_k=1)
    assert (spans.starts[0], spans.ends[0]) == (4, 5)


def test_best_span_max_answer_len_limits_width():
    start = np.array([0.0, 8.0, 0.0, 0.0, 0.0])
    end = np.array([0.0, 0.0, 0.0, 0.0, 8.0])
    mask = np.array([False, True, True, True, True])
    wide = best_spans(start, end, mask, max_answer_len=4)
    assert (wide.starts[0], wide.ends[0]) == (1, 4)
    narrow = best_spans(start, end, mask, max_answer_len=2)
    assert narrow.ends[0] - narrow.starts[0] <= 1


def test_best_span_never_ends_before_start():
    rng = np.random.default_rng(0)
    for _ in range(50):
        s, e = rng.normal(size=20), rng.normal(size=20)
        mask = rng.random(20) > 0.3
        mask[0] = False
        spans = best_spans(s, e, mask, max_answer_len=5, top_k=5)
        assert (spans.ends >= spans.starts).all()
        assert (spans.ends - spans.starts < 5).all()
        assert mask[spans.starts].all() and mask[spans.ends].all()
        assert (np.diff(spans.scores) <= 0).all()


def test_null_score_is_cls_pair_probability():
    start = np.array([3.0, 0.0, 0.0])
    end = np.array([3.0, 0.0, 0.0])
    spans = best_spans(start, end, np.array([False, True, True]))
    p = np.exp(3) / (np.exp(3) + 2)
    assert spans.null_score == pytest.approx(p * p)


def test_bio_grouping_matches_transformers_rules():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG"]
    spans = group_tags(tags, [1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert [(s.label, s.first, s.last) for s in spans] == [
        ("PER", 0, 1),
        ("LOC", 3, 4),
        ("LOC", 5, 5),
        ("ORG", 6, 6),
    ]
    assert spans[0].score == pytest.approx(0.75)


def test_bioes_grouping():
    tags = ["S-PER", "B-LOC", "I-LOC", "E-LOC", "E-LOC", "O", "B-ORG", "E-ORG"]
    spans = group_tags(tags, [1.0] * len(tags))
    assert [(s.label, s.first, s.last) for s in spans] == [
        ("PER", 0, 0),
        ("LOC", 1, 3),
        ("LOC", 4, 4),
        ("ORG", 6, 7),
    ]


def test_bilou_is_read_as_bioes():
    spans = group_tags(["B-X", "L-X", "U-Y"], [1.0, 1.0, 1.0])
    assert [(s.label, s.first, s.last) for s in spans] == [("X", 0, 1), ("Y", 2, 2)]


def test_schemes():
    assert detect_scheme(["O", "B-A", "I-A"]) == "BIO"
    assert detect_scheme(["O", "B-A", "I-A", "E-A", "S-A"]) == "BIOES"
    assert split_tag("O") == ("O", "")
    with pytest.raises(ValueError, match="Unknown tag 'PERSON'"):
        check_scheme(["O", "PERSON"])


def test_char_groups_join_tokens_of_one_expanded_character():
    from qa_demo.decode import char_groups

    # ㈱ -> "(株)": three tokens, all pointing at character 0; then ミナト.
    offsets = [(0, 1), (0, 1), (0, 1), (1, 4), (4, 6)]
    assert char_groups(offsets) == [[0, 1, 2], [3], [4]]
    assert char_groups([]) == []


# -- whatever they are fed (issue 20: NaN logits on AMX reached the span search) ----------------


#: Any float32, NaN and infinities included: what a faulty runtime can hand back.
ANY_FLOAT = st.floats(width=32, allow_nan=True, allow_infinity=True)


@st.composite
def window_logits(draw):
    n = draw(st.integers(min_value=2, max_value=40))
    start = draw(hnp.arrays(np.float32, n, elements=ANY_FLOAT))
    end = draw(hnp.arrays(np.float32, n, elements=ANY_FLOAT))
    mask = draw(hnp.arrays(np.bool_, n))
    return start, end, mask


@settings(max_examples=300, deadline=None)
@given(window_logits(), st.integers(1, 8), st.integers(1, 10))
def test_best_spans_never_end_before_start_whatever_the_logits(logits, max_len, top_k):
    start, end, mask = logits
    spans = best_spans(start, end, mask, max_answer_len=max_len, top_k=top_k)
    assert len(spans.starts) == len(spans.ends) == len(spans.scores) <= top_k
    for s, e, score in zip(spans.starts, spans.ends, spans.scores, strict=True):
        assert s <= e < s + max_len
        assert mask[s] and mask[e]
        assert np.isfinite(score) and score > 0


def test_best_spans_of_nan_logits_is_no_span():
    # The regression: all-NaN logits (bf16 after an f32 compile in one cache, on AMX).
    nan = np.full(8, np.nan, dtype=np.float32)
    spans = best_spans(nan, nan, np.array([False, False, *[True] * 5, False]), top_k=3)
    assert spans.starts.size == 0


TAGS = st.sampled_from(["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "L-LOC"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TAGS, ANY_FLOAT), max_size=30))
def test_group_tags_spans_are_ordered_and_disjoint_whatever_the_tags(tagged):
    tags = [t for t, _ in tagged]
    spans = group_tags(tags, [s for _, s in tagged])
    previous_last = -1
    for span in spans:
        assert previous_last < span.first <= span.last < len(tags)
        assert tags[span.first] != "O"
        previous_last = span.last
