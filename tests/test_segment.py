"""segment.py: MeCab morphemes with offsets into the original text, language detection."""

from unittest import mock

import pytest
from hypothesis import given
from strategies import FUZZ, TEXTS

from qa_demo.segment import available_dictionaries, detect_language, segment
from qa_demo.types import Language

TRICKY = "ｱｯﾌﾟﾙ㈱は２０２４年に\n東京で 😀 発表した。\u200fمرحبا e\u0301"


def test_morpheme_offsets_point_into_original_text():
    morphemes = segment(TRICKY, "ja")
    assert [m.surface for m in morphemes[:4]] == ["アップル", "(", "株", ")"]
    assert TRICKY[morphemes[0].start : morphemes[0].end] == "ｱｯﾌﾟﾙ"
    two = next(m for m in morphemes if m.surface == "2024")
    assert TRICKY[two.start : two.end] == "２０２４"
    for m in morphemes:
        assert 0 <= m.start < m.end <= len(TRICKY)
        assert not TRICKY[m.start : m.end].isspace()


def test_morphemes_carry_part_of_speech():
    morphemes = segment("東京で発表した。", "ja")
    assert morphemes[0].pos == "名詞"


@pytest.mark.skipif("jumandic" not in available_dictionaries(), reason="jumandic not installed")
def test_jumandic_segments_juman_style():
    surfaces = [m.surface for m in segment("東京で発表した。", "ja", "jumandic")]
    assert "した" in surfaces  # unidic splits し|た; Juman keeps the verb whole


def test_nul_and_control_characters_do_not_crash():
    text = "東京\x00で\x07発表\u202eした"
    morphemes = segment(text, "ja")
    assert "発表" in [m.surface for m in morphemes]
    for m in morphemes:
        assert text[m.start : m.end].replace("\x00", "")


def test_english_split_keeps_offsets():
    text = "Hello, world! It's 2024."
    words = segment(text, "en")
    assert [text[w.start : w.end] for w in words] == [w.surface for w in words]
    assert words[1].surface == ","


def test_language_detection():
    assert detect_language("富士山は日本で一番高い山です。") is Language.JA
    assert detect_language("Mount Fuji is the highest mountain in Japan.") is Language.EN
    assert detect_language("ＮＨＫのニュース") is Language.JA
    assert detect_language("   ") is Language.EN


def test_mecab_runs_once_for_the_token_table_and_both_tokenizers(ja_qa_dir, monkeypatch):
    """The UI segmented each context three times (QA tokenizer, NER tokenizer, token table)."""
    from qa_demo.segment import RECENT_TEXTS, mecab
    from qa_demo.tokenization import load_tokenizer

    seg = mecab("unidic-lite")  # the one every unidic-lite tokenizer of the process shares
    counting = mock.Mock(wraps=seg._tagger)
    monkeypatch.setattr(seg, "_tagger", counting)
    qa_tok, ner_tok = load_tokenizer(ja_qa_dir), load_tokenizer(ja_qa_dir)
    context = "ｻｸﾗﾃﾞﾝｷ株式会社は２０２５年４月、熊本県菊池市に工場を建設する。（一回目）"
    first, second = qa_tok.encode(context), ner_tok.encode(context)
    morphemes = seg.segment(context)
    assert counting.call_count == 1
    assert first.offsets == second.offsets
    assert context[morphemes[0].start : morphemes[0].end] == "ｻｸﾗ"  # サクラ|デンキ
    # Bounded: a text is read again once RECENT_TEXTS others came after it.
    for i in range(RECENT_TEXTS):
        seg.spans(f"東京{i}（一回目）")
    seg.spans(counting.call_args_list[0].args[0])
    assert counting.call_count == RECENT_TEXTS + 2


def test_token_table_of_a_japanese_model_without_mecab_still_shows_morphemes():
    """A SentencePiece tokenizer (the e5 ja-qa) has no MeCab dictionary; its token table used
    to show Japanese as one whitespace 'word'."""
    from qa_demo.segment import morpheme_segmenter

    text = "東京駅は1914年に開業した。"
    ja = [m.surface for m in morpheme_segmenter(None, Language.JA)(text)]
    assert len(ja) > 5 and "".join(ja) == text
    assert [m.surface for m in morpheme_segmenter(None, Language.EN)("Tokyo station")] == [
        "Tokyo",
        "station",
    ]


@FUZZ
@given(TEXTS)
def test_segmenter_never_crashes(text):
    for lang in ("ja", "en"):
        for m in segment(text, lang):
            assert 0 <= m.start <= m.end <= len(text)
