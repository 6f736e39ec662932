"""app/render.py: pure views of answers, entities, tokens, timings and windows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from test_markdown import _stage

from qa_demo.app import render
from qa_demo.app.service import Stage
from qa_demo.tokenization import Encoded
from qa_demo.types import Answer, Entity, Morpheme, TaggedToken, Timings, Window


def _join(segments):
    return "".join(piece for piece, _ in segments)


def test_highlight_segments_cover_the_text_and_keep_offsets():
    text = "Ada Lovelace wrote the report in London."
    answer = Answer("Ada Lovelace", 0, 12, 0.9)
    entities = [Entity("B-PER", "Ada Lovelace", 0, 12, 0.8), Entity("LOC", "London", 33, 39, 0.7)]
    segs = render.highlight_segments(text, answer, entities)
    assert _join(segs) == text
    spans = {lab: (s, e) for s, e, lab in render.segment_offsets(segs) if lab}
    assert spans == {"ANSWER+PER": (0, 12), "LOC": (33, 39)}


def test_partial_overlap_of_answer_and_entity_stays_distinguishable():
    text = "Tokyo station opened in 1914."
    answer = Answer("station opened", 6, 20, 0.5)
    entities = [Entity("LOC", "Tokyo station", 0, 13, 0.9)]
    segs = render.highlight_segments(text, answer, entities)
    assert segs == [
        ("Tokyo ", "LOC"),
        ("station", "ANSWER+LOC"),
        (" opened", "ANSWER"),
        (" in 1914.", None),
    ]
    colors = render.color_map(segs)
    assert len({colors["LOC"], colors["ANSWER"], colors["ANSWER+LOC"]}) == 3


def test_no_answer_and_no_entities_is_plain_text():
    assert render.highlight_segments("abc", None, ()) == [("abc", None)]
    assert render.highlight_segments("abc", Answer("", 0, 0, 0.1, -1), ()) == [("abc", None)]


def test_highlight_offsets_with_emoji_and_half_width_katakana():
    # Python offsets are code points: 😀 is one character here (two in UTF-16).
    text = "😀ｻｸﾗﾃﾞﾝｷは２０２５年に設立😀"
    start = text.index("ｻｸﾗﾃﾞﾝｷ")
    answer = Answer("ｻｸﾗﾃﾞﾝｷ", start, start + 7, 0.9)
    segs = render.highlight_segments(text, answer, [Entity("ORG", "ｻｸﾗﾃﾞﾝｷ", start, start + 7, 0.9)])
    ((s, e, label),) = [x for x in render.segment_offsets(segs) if x[2]]
    assert (s, e, label) == (1, 8, "ANSWER+ORG")
    assert text[s:e] == "ｻｸﾗﾃﾞﾝｷ"


def test_highlight_offsets_equal_engine_offsets(ja_qa_dir, ja_ner_dir):
    """The highlighted answer and entities sit exactly at the engine's start/end."""
    from qa_demo import EntityTagger, QuestionAnswerer

    context = (
        "😀ｻｸﾗﾃﾞﾝｷ株式会社は２０２５年４月、熊本県に工場を建てると発表した。🚀投資額は約３５０億円。"
    )
    result = QuestionAnswerer.load(ja_qa_dir).ask("どこに工場を建てますか？", context, top_k=3)
    entities = EntityTagger.load(ja_ner_dir).tag(context).entities
    best = result.best
    segs = render.highlight_segments(context, best, entities)
    assert _join(segs) == context
    runs = render.segment_offsets(segs)
    answer_runs = [(s, e) for s, e, lab in runs if lab and lab.startswith(render.ANSWER_LABEL)]
    assert answer_runs[0][0] == best.start and answer_runs[-1][1] == best.end
    # Contiguous: the answer runs join up with no gap.
    assert all(a[1] == b[0] for a, b in itertools.pairwise(answer_runs))
    for ent in entities:
        covering = [(s, e) for s, e, lab in runs if lab and s < ent.end and ent.start < e]
        assert covering[0][0] == ent.start and covering[-1][1] == ent.end


def test_nbest_rows():
    rows = render.nbest_rows([Answer("x", 1, 2, 0.51234, 3), Answer("", 0, 0, 0.2, -1)])
    assert rows == [[1, "x", 0.5123, 1, 2, 3], [2, "(no answer)", 0.2, 0, 0, -1]]


def test_token_rows_join_morphemes_and_tags_by_offsets():
    text = "ｻｸﾗは東京"
    enc = Encoded(
        ids=np.array([5, 1, 7]),
        pieces=("サクラ", "[UNK]", "東京"),
        offsets=((0, 3), (3, 4), (4, 6)),
        word_ids=(0, 1, 2),
    )
    morphemes = [
        Morpheme("サクラ", "名詞", 0, 3),
        Morpheme("は", "助詞", 3, 4),
        Morpheme("東京", "名詞", 4, 6),
    ]
    tagged = [TaggedToken("東京", 9, 4, 6, "B-LOC", 0.876543)]
    rows = render.token_rows(text, enc, morphemes, unk_id=1, tagged=tagged)
    assert [(r.surface, r.nfkc, r.morpheme, r.pos) for r in rows] == [
        ("ｻｸﾗ", "サクラ", "サクラ", "名詞"),
        ("は", "は", "は", "助詞"),
        ("東京", "東京", "東京", "名詞"),
    ]
    assert [r.unknown for r in rows] == [False, True, False]
    assert (rows[2].tag, rows[2].tag_score) == ("B-LOC", 0.8765)
    table = render.token_table(rows)
    assert len(table[0]) == len(render.TOKEN_COLUMNS)
    assert table[1][-1] == "⚠ [UNK]" and table[0][render.TOKEN_COLUMNS.index("NER tag")] == "O"
    assert table[0][0] == "context" and rows[0].to_json()["text"] == "context"


def _window(n_q: int = 2, n_c: int = 4) -> Window:
    seq = (None, *([0] * n_q), None, *([1] * n_c), None)
    offsets = tuple(None if s is None else (i, i + 1) for i, s in enumerate(seq))
    n = len(seq)
    return Window(
        index=0,
        input_ids=np.arange(n),
        token_type_ids=np.zeros(n, dtype=np.int64),
        attention_mask=np.ones(n, dtype=np.int64),
        offsets=offsets,
        word_ids=tuple(range(n)),
        sequence_ids=seq,
        char_start=0,
        char_end=n_c,
    )


def test_probability_frame_covers_context_tokens_only():
    w = _window()
    logits = np.linspace(-1, 1, len(w))
    mask = np.array([s == 1 for s in w.sequence_ids])
    frame = render.probability_frame(w, logits, logits[::-1], mask)
    assert set(frame["kind"]) == {"start", "end"}
    positions = sorted(set(frame["position"]))
    assert positions == [i for i, s in enumerate(w.sequence_ids) if s == 1]
    # With [CLS] in the normalisation the context probabilities sum to at most 1.
    assert frame[frame.kind == "start"]["probability"].sum() <= 1.0 + 1e-9


def test_regression_probability_plot_masks_a_literal_sep_as_the_span_search_does(ja_qa):
    from qa_demo.app import render

    context = "富士山 [SEP] 富士山は日本で最も高い山であり、標高は３７７６メートルである。"
    result = ja_qa.ask("日本で最も高い山は？", context)
    window, mask = result.windows[0], result.candidate_masks[0]
    sep = [i for i, t in enumerate(window.input_ids) if t == ja_qa.tokenizer.sep_id]
    literal = [i for i in sep if window.sequence_ids[i] == 1]
    assert literal and not mask[literal].any()
    frame = render.probability_frame(window, result.start_logits[0], result.end_logits[0], mask)
    assert not set(literal) & set(frame["position"])


def test_timing_rows_and_frame_keep_compile_apart():
    stages = [
        Stage("QA", Timings(1.0, 2.0, 3.0, 4.0, compile=120.0), 120.0, "CPU"),
        Stage("NER", Timings(0.5, 0.5, 1.0, 0.5), 80.0, "CPU"),
    ]
    rows = render.timing_rows(stages)
    assert rows[0][5] == 10.0 and rows[0][6] == 120.0 and rows[0][7] == "yes"
    assert rows[1][7] == "no (cached)"
    frame = render.timing_frame(stages)
    assert set(frame["stage"]) == set(render.STAGES)  # compile is not a bar
    assert frame["ms"].sum() == pytest.approx(12.5)


def test_window_rows_mark_the_winner():
    w0, w1 = _window(), _window()
    w1 = Window(**{**w1.__dict__, "index": 1, "char_start": 2, "char_end": 6})
    rows = render.window_rows("abcdefgh", [w0, w1], winner=1)
    assert [r[-1] for r in rows] == ["", "★"]
    assert rows[1][2:4] == [2, 6]


def test_entity_type_reads_bilou_l_and_u_prefixes():
    """Regression: L-/U- (BILOU) labels showed as "L-PER" legend entries, not "PER"."""
    for label in ("B-PER", "I-PER", "E-PER", "S-PER", "L-PER", "U-PER", "PER", "B_PER"):
        assert render.entity_type(label) == "PER", label
    assert render.entity_type("U-人名") == "人名"
    segs = render.highlight_segments("Ada x", None, [Entity("U-PER", "Ada", 0, 3, 0.9)])
    assert segs[0] == ("Ada", "PER")


def test_timing_rows_show_precision():
    row = render.timing_rows([_stage()])[0]
    cols = render.TIMING_COLUMNS
    assert row[cols.index("precision")] == "INT8 (static)"
    assert row[cols.index("executed")].startswith("int8 matmuls")
