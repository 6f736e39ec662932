import numpy as np
import pytest

from qa_demo import (
    DeviceError,
    Engine,
    EntityTagger,
    InputError,
    ModelLoadError,
    QAOptions,
    QuestionAnswerer,
)
from qa_demo.inputs import MAX_TEXT_CHARS, is_invisible

JA_CONTEXTS = [
    "ｱｯﾌﾟﾙ㈱は２０２４年に東京で新製品を発表した。",
    "富士山😀は日本で最も高い山であり、\n標高は３７７６メートルである。🗻🎌",
    "ﾊﾟﾝ屋の㈲ﾔﾏﾀﾞは\r\n１９９９年創業。👨‍👩‍👧 家族経営です。\u200f",
    "株式会社\u3000テスト\tは e\u0301 と Ｅ を区別する。" * 30,
]


@pytest.fixture(scope="module")
def ja_qa(ja_qa_dir):
    return QuestionAnswerer.load(
        ja_qa_dir, options=QAOptions(top_k=20, max_seq_len=128, doc_stride=32)
    )


def test_every_answer_is_a_slice_of_the_original_context(ja_qa):
    for context in JA_CONTEXTS:
        result = ja_qa.ask("何を発表した？", context)
        assert result.answers
        for a in result.answers:
            assert a.text == context[a.start : a.end]
            assert 0 <= a.start < a.end <= len(context)
            assert a.text.strip() == a.text or a.text.strip()


def test_answers_never_cut_a_half_width_character_apart(ja_qa):
    context = JA_CONTEXTS[2]
    for a in ja_qa.ask("どこ？", context).answers:
        # ﾟ and ﾞ are folded into the preceding kana by NFKC: never split from it.
        assert not context[a.start].startswith(("ﾟ", "ﾞ"))
        assert not (a.end < len(context) and context[a.end] in "ﾟﾞ")


def test_long_context_uses_several_windows(ja_qa):
    result = ja_qa.ask("区別する？", JA_CONTEXTS[3])
    assert len(result.windows) > 1
    assert {a.window for a in result.answers} <= set(range(len(result.windows)))
    for w in result.windows:
        assert len(w) <= 128


def test_timings_are_reported(ja_qa):
    t = ja_qa.ask("何？", JA_CONTEXTS[0]).timings
    assert t.segment > 0 and t.tokenize > 0 and t.infer > 0 and t.postprocess > 0
    assert t.total == pytest.approx(t.segment + t.tokenize + t.infer + t.postprocess)
    assert set(t.to_json()) == {"segment", "tokenize", "infer", "postprocess", "total"}


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


def test_options_are_validated_once():
    with pytest.raises(InputError, match="top_k must be"):
        QAOptions(top_k=0)
    with pytest.raises(InputError, match="max_seq_len must be between"):
        QAOptions(max_seq_len=8)


def test_stride_too_large_for_window(ja_qa):
    with pytest.raises(InputError, match="doc_stride"):
        ja_qa.ask("何？", JA_CONTEXTS[0], max_seq_len=32, doc_stride=30)


def test_html_and_control_characters_are_just_text(en_qa_dir):
    qa = QuestionAnswerer.load(en_qa_dir)
    context = "<script>alert(1)</script> The king\x00 built\x1b[31m the bridge in 1843 &amp; more."
    result = qa.ask("<b>Who</b> built it?", context, top_k=5)
    for a in result.answers:
        assert a.text == context[a.start : a.end]


def test_int8_model_loads_and_answers(en_qa_dir):
    fp32 = QuestionAnswerer.load(en_qa_dir).ask("Who?", "Ada Lovelace wrote the report.")
    int8 = QuestionAnswerer.load(en_qa_dir, precision="INT8").ask(
        "Who?", "Ada Lovelace wrote the report."
    )
    assert int8.best.text == "Ada Lovelace wrote the report."[int8.best.start : int8.best.end]
    assert fp32.best is not None


def test_null_answer_when_threshold_allows(en_qa_dir):
    qa = QuestionAnswerer.load(en_qa_dir)
    result = qa.ask("Who?", "Ada Lovelace wrote the report.", null_threshold=-1.0)
    assert result.best.text == "" and (result.best.start, result.best.end) == (0, 0)


def test_compile_happens_once_per_model_device_precision(en_qa_dir):
    engine = Engine()
    a = QuestionAnswerer.load(en_qa_dir, engine=engine)
    b = QuestionAnswerer.load(en_qa_dir, engine=engine)
    assert a.compiled is b.compiled
    c = QuestionAnswerer.load(en_qa_dir, engine=engine, precision="INT8")
    assert c.compiled is not a.compiled
    assert len(engine.compiled_models()) == 2
    assert a.compiled.input_names == ("input_ids", "attention_mask", "token_type_ids")


def test_unknown_device_and_precision(en_qa_dir, ja_qa_dir):
    with pytest.raises(DeviceError, match="Unknown device 'TPU'"):
        QuestionAnswerer.load(en_qa_dir, device="TPU")
    with pytest.raises(ModelLoadError, match="has no INT8 model"):
        QuestionAnswerer.load(ja_qa_dir, precision="INT8")
    with pytest.raises(ModelLoadError, match="does not exist"):
        QuestionAnswerer.load(en_qa_dir / "missing")


def test_wrong_task_is_refused(en_qa_dir):
    with pytest.raises(InputError, match="is a qa model; expected a ner model"):
        EntityTagger.load(en_qa_dir)


def test_model_without_token_type_ids(tmp_path, en_checkpoint):
    """DistilBERT has no token_type_ids input: feed only what the graph has."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForQuestionAnswering

    from qa_demo.tools.export import export

    tok = AutoTokenizer.from_pretrained(en_checkpoint)
    torch.manual_seed(0)
    model = DistilBertForQuestionAnswering(
        DistilBertConfig(vocab_size=tok.vocab_size, dim=32, n_layers=1, n_heads=2, hidden_dim=64)
    ).eval()
    export("tiny-distilbert", tmp_path / "m", "qa", model=model, tokenizer=tok, log=lambda m: None)
    qa = QuestionAnswerer.load(tmp_path / "m")
    assert "token_type_ids" not in qa.compiled.input_names
    context = "The bridge was built in 1843."
    best = qa.ask("When?", context).best
    assert best.text == context[best.start : best.end]


def test_ner_offsets_and_long_text(en_ner_dir):
    tagger = EntityTagger.load(en_ner_dir, options=None)
    text = "Ada Lovelace lived in London 😀 and Paris. " * 80
    result = tagger.tag(text, max_seq_len=64, doc_stride=16)
    assert len(result.tokens) > 64
    assert [t.start for t in result.tokens] == sorted(t.start for t in result.tokens)
    for e in result.entities:
        assert e.text == text[e.start : e.end]
    # Each token is tagged once, from the window where it sits furthest from an edge.
    assert len({(t.start, t.end) for t in result.tokens}) == len(result.tokens)
    probs = [t.score for t in result.tokens]
    assert np.all((np.array(probs) > 0) & (np.array(probs) <= 1))


def test_regression_answer_crosses_literal_sep_in_jsquad_context(ja_qa):
    """JSQuAD contexts are "title [SEP] paragraph"; an answer must not run across [SEP]."""
    context = "富士山 [SEP] 富士山は日本で最も高い山であり、標高は３７７６メートルである。"
    sep = context.index("[SEP]")
    for a in ja_qa.ask("富士山の標高は？", context, top_k=20).answers:
        assert a.end <= sep or a.start >= sep + len("[SEP]")


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


def _per_window_logits(qa, windows):
    """Reference: each window alone, unpadded, in its own call."""
    from qa_demo.windows import batch

    start, end = [], []
    for w in windows:
        out = qa.compiled.infer(batch([w], qa.tokenizer.pad_id))
        names = qa.compiled.output_names
        start.append(out[names[0]][0])
        end.append(out[names[-1]][0])
    return start, end


def test_windows_of_each_length_share_one_call_and_match_single_window_logits(ja_qa):
    from qa_demo.qa import QAInput

    prepared = ja_qa.preprocess(QAInput("区別する？", JA_CONTEXTS[3]), ja_qa.options)
    lengths = [len(w) for w in prepared.windows]
    assert len(set(lengths)) == 2  # full windows and a shorter last one
    start, end = ja_qa.infer(prepared)
    ref_start, ref_end = _per_window_logits(ja_qa, prepared.windows)
    for got, ref, n in zip(start + end, ref_start + ref_end, lengths + lengths, strict=True):
        assert got.shape == (n,)
        np.testing.assert_allclose(got, ref, atol=1e-5)


@pytest.mark.parametrize("context", [JA_CONTEXTS[0], JA_CONTEXTS[3]])
def test_static_shape_buckets_give_the_dynamic_answers(ja_qa_dir, ja_qa, context):
    static = QuestionAnswerer.load(ja_qa_dir, options=ja_qa.options, static_buckets=(64, 128))
    got = static.ask("何を区別する？", context)
    want = ja_qa.ask("何を区別する？", context)
    assert [(a.start, a.end) for a in got.answers] == [(a.start, a.end) for a in want.answers]
    for g, w in zip(got.start_logits, want.start_logits, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-4)
    shapes = {
        c.model.inputs[0].get_partial_shape().to_string() for c in static.engine.compiled_models()
    }
    assert shapes == {"[1,64]", "[1,128]"}  # warm_up compiled every bucket


def test_static_shapes_refuse_a_window_longer_than_every_bucket(ja_qa_dir):
    qa = QuestionAnswerer.load(
        ja_qa_dir, static_buckets=(16,), options=QAOptions(max_seq_len=64, doc_stride=16)
    )
    with pytest.raises(InputError, match="static shapes"):
        qa.ask("何？", JA_CONTEXTS[3])


def test_ner_static_shapes_match_dynamic(en_ner_dir):
    text = "Ada Lovelace lived in London and Paris. " * 10
    dynamic = EntityTagger.load(en_ner_dir).tag(text, max_seq_len=64, doc_stride=16)
    tagger = EntityTagger.load(en_ner_dir, static_buckets=(32, 64))
    static = tagger.tag(text, max_seq_len=64, doc_stride=16)
    assert [(t.start, t.tag) for t in static.tokens] == [(t.start, t.tag) for t in dynamic.tokens]
    np.testing.assert_allclose(
        [t.score for t in static.tokens], [t.score for t in dynamic.tokens], atol=1e-4
    )


def _ner_dir_with_meta(en_ner_dir, tmp_path, **meta):
    import shutil

    from qa_demo.model_dir import write_meta

    path = tmp_path / "ner"
    shutil.copytree(en_ner_dir, path)
    write_meta(path, **meta)
    return path


def test_ner_aggregation_defaults_to_the_models_own(en_ner_dir, tmp_path):
    from qa_demo import NEROptions

    text = "Ada Lovelace lived in London and Paris."
    path = _ner_dir_with_meta(en_ner_dir, tmp_path, aggregation="first")
    tagger = EntityTagger.load(path)
    assert tagger.default_aggregation == "first"
    explicit = EntityTagger.load(en_ner_dir, options=NEROptions(aggregation="first")).tag(text)
    assert tagger.tag(text).entities == explicit.entities
    assert EntityTagger.load(en_ner_dir).default_aggregation == "simple"
    # A request's own choice still wins.
    simple = EntityTagger.load(en_ner_dir).tag(text)
    assert tagger.tag(text, aggregation="simple").entities == simple.entities


def test_ner_unknown_aggregation_in_metadata_is_a_load_error(en_ner_dir, tmp_path):
    path = _ner_dir_with_meta(en_ner_dir, tmp_path, aggregation="mean")
    with pytest.raises(ModelLoadError, match=r"(?i)unknown aggregation 'mean'"):
        EntityTagger.load(path)
