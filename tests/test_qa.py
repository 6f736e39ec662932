"""qa.py: answers are slices of the original context, options, the model's answer-length limit,
parity with transformers' question-answering pipeline, and any text, however odd."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given
from strategies import ANY_TEXT, FUZZ, TEXTS, only_our_errors

from conftest import JA_CONTEXTS, SCORE_TOL, random_contexts
from qa_demo import InputError, QAOptions, QuestionAnswerer
from qa_demo.inputs import is_invisible
from qa_demo.model_dir import load_model_dir, write_meta
from qa_demo.qa import DEFAULT_MAX_ANSWER_LEN, QAInput
from qa_demo.tools.bench.contexts import english_cases


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


def test_options_are_validated_once(en_qa_dir, monkeypatch):
    with pytest.raises(InputError, match="top_k must be"):
        QAOptions(top_k=0)
    with pytest.raises(InputError, match="max_seq_len must be between"):
        QAOptions(max_seq_len=8)
    # Through a whole request (the app's edge, then the pipeline), the options are built and
    # validated exactly once: the service once took them apart and ask and for_model rebuilt
    # them twice more.
    from qa_demo.app.handlers import make_request

    qa = QuestionAnswerer.load(en_qa_dir, precision="FP32")  # its default options: built here
    checks = []
    real = QAOptions.__post_init__
    monkeypatch.setattr(QAOptions, "__post_init__", lambda self: checks.append(1) or real(self))
    req = make_request("Who wrote it?", "Ada Lovelace wrote the report.", max_answer_len=0)
    qa.answer(QAInput(req.question, req.context), req.options)
    assert len(checks) == 1


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


def test_regression_answer_crosses_literal_sep_in_jsquad_context(ja_qa):
    """JSQuAD contexts are "title [SEP] paragraph"; an answer must not run across [SEP]."""
    context = "富士山 [SEP] 富士山は日本で最も高い山であり、標高は３７７６メートルである。"
    sep = context.index("[SEP]")
    for a in ja_qa.ask("富士山の標高は？", context, top_k=20).answers:
        assert a.end <= sep or a.start >= sep + len("[SEP]")


# -- the model's own answer-length limit (issue 12) -------------------------------------


LIGHTHOUSE = (
    "The lighthouse was designed by Osamu Takahashi in 1895 and finished three years later, "
    "after a storm destroyed the first tower."
)


def test_options_take_the_models_limit_unless_a_request_sets_one(en_qa_dir, tmp_path):
    plain = load_model_dir(en_qa_dir)
    assert plain.max_answer_len is None
    assert QAOptions().for_model(plain).max_answer_len == DEFAULT_MAX_ANSWER_LEN
    own = tmp_path / "model"
    shutil.copytree(en_qa_dir, own)
    write_meta(own, max_answer_len=2)
    model = load_model_dir(own)
    assert QAOptions().for_model(model).max_answer_len == 2
    assert QAOptions(max_answer_len=7).for_model(model).max_answer_len == 7


def test_a_models_limit_reaches_the_span_search(en_qa_dir, tmp_path):
    own = tmp_path / "model"
    shutil.copytree(en_qa_dir, own)
    write_meta(own, max_answer_len=1)
    question = "Who designed the lighthouse?"
    limited = QuestionAnswerer.load(own, options=QAOptions(top_k=5)).ask(question, LIGHTHOUSE)
    reference = QuestionAnswerer.load(en_qa_dir, options=QAOptions(top_k=5))
    assert limited.answers == reference.ask(question, LIGHTHOUSE, max_answer_len=1).answers
    wide = QuestionAnswerer.load(own, options=QAOptions(top_k=5, max_answer_len=30))
    assert wide.ask(question, LIGHTHOUSE).answers == reference.ask(question, LIGHTHOUSE).answers


def test_parallel_windows_equal_one_batch(en_qa_dir):
    """The CPU path for long contexts (one request per window, THROUGHPUT) changes no logit."""
    from qa_demo import QAOptions, QuestionAnswerer
    from qa_demo.runtime import Engine

    engine = Engine()
    opts = QAOptions(max_seq_len=64, doc_stride=16)
    context = " ".join(case.context for case in english_cases("short"))
    par = QuestionAnswerer.load(en_qa_dir, engine=engine, options=opts).ask("Who?", context)
    one = QuestionAnswerer.load(en_qa_dir, engine=engine, options=opts, parallel_windows=False).ask(
        "Who?", context
    )
    assert len(par.windows) > 4
    # Padding changes float rounding, not the answer.
    assert [(a.text, a.start, a.end) for a in par.answers] == [
        (a.text, a.start, a.end) for a in one.answers
    ]
    assert [a.score for a in par.answers] == pytest.approx([a.score for a in one.answers])
    for a, b in zip(
        par.start_logits + par.end_logits, one.start_logits + one.end_logits, strict=True
    ):
        assert a.shape == b.shape
        assert abs(a - b).max() < 1e-4


# -- parity with transformers 4.57's question-answering pipeline on the same weights ------


QUESTIONS = ["Who wrote the report?", "When was the bridge built?", "Where is the museum?"]


@pytest.fixture(scope="module")
def hf_qa(en_checkpoint):
    from transformers import pipeline

    return pipeline("question-answering", model=str(en_checkpoint), tokenizer=str(en_checkpoint))


@pytest.mark.parametrize(
    ("max_seq_len", "doc_stride", "max_answer_len", "top_k"),
    [(384, 128, 30, 1), (64, 16, 15, 3), (96, 32, 8, 5)],
)
def test_qa_matches_transformers_pipeline(
    en_qa_dir, hf_qa, max_seq_len, doc_stride, max_answer_len, top_k
):
    opts = QAOptions(
        max_seq_len=max_seq_len,
        doc_stride=doc_stride,
        max_answer_len=max_answer_len,
        top_k=top_k,
    )
    qa = QuestionAnswerer.load(en_qa_dir, options=opts)
    multi_window = 0
    for i, context in enumerate(random_contexts(24)):
        question = QUESTIONS[i % len(QUESTIONS)]
        ours = qa.ask(question, context)
        ref = hf_qa(
            question=question,
            context=context,
            max_seq_len=max_seq_len,
            doc_stride=doc_stride,
            max_answer_len=max_answer_len,
            top_k=top_k,
        )
        ref = ref if isinstance(ref, list) else [ref]
        multi_window += len(ours.windows) > 1
        best, want = ours.answers[0], ref[0]
        assert (best.text, best.start, best.end) == (want["answer"], want["start"], want["end"])
        assert best.score == pytest.approx(want["score"], abs=SCORE_TOL)
        assert best.text == context[best.start : best.end]
        assert len(ours.answers) == len(ref)
        for a, w in zip(ours.answers, ref, strict=True):
            assert a.score == pytest.approx(w["score"], abs=SCORE_TOL)
    if max_seq_len < 384:
        assert multi_window >= 5  # the comparison covered contexts longer than one window


# -- any text, however odd: answers stay slices of the context ---------------------------


@pytest.fixture(scope="module")
def ja_qa_top3(ja_qa_dir):
    return QuestionAnswerer.load(ja_qa_dir, options=QAOptions(top_k=3))


@FUZZ
@given(question=TEXTS, context=TEXTS)
def test_answers_are_slices_for_any_text(ja_qa_top3, question, context):
    if is_invisible(question) or is_invisible(context):
        return  # refused with InputError, covered elsewhere
    for a in ja_qa_top3.ask(question, context).answers:
        assert a.text == context[a.start : a.end]


@FUZZ
@given(question=ANY_TEXT, context=ANY_TEXT)
def test_any_unicode_qa_gives_slices_or_an_input_error(ja_qa_top3, question, context):
    result = only_our_errors(lambda: ja_qa_top3.ask(question, context))
    for a in result.answers if result else ():
        assert a.text == context[a.start : a.end]


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
def test_options_far_out_of_range_or_of_the_wrong_type(ja_qa_top3, overrides, message):
    from qa_demo import InputError

    with pytest.raises(InputError, match=message):
        ja_qa_top3.ask("誰？", "山田が書いた。", **overrides)
    assert ja_qa_top3.ask("誰？", "山田が書いた。").best is not None  # and it keeps serving


def test_regression_trim_space_keeps_answers_from_starting_at_a_sentencepiece_space():
    from qa_demo.qa import trim_space

    text = "It is 980 meters long."
    assert trim_space(text, 5, 16) == (6, 16) and text[6:16] == "980 meters"
    assert trim_space(text, 2, 2) == (2, 2) and trim_space(" \n", 0, 2)[0] == 2
