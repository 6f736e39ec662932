"""Parity with transformers 4.57's pipelines on the same weights (the reference users know)."""

import random

import pytest

from conftest import EN_CONTEXTS, WORDS
from qa_demo import EntityTagger, QAOptions, QuestionAnswerer

SCORE_TOL = 1e-3


def random_contexts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = list(EN_CONTEXTS)
    while len(out) < n:
        n_words = rng.choice([10, 40, 120, 400])  # 400 words span several 64-token windows
        words = [rng.choice(WORDS) for _ in range(n_words)]
        text = " ".join(words)
        for _ in range(n_words // 8):
            i = rng.randrange(len(text))
            text = text[:i] + rng.choice([",", ".", " 1999", "'s", " -", "!"]) + text[i:]
        out.append(text.capitalize())
    return out


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


@pytest.fixture(scope="module")
def hf_ner(en_ner_checkpoint):
    from transformers import pipeline

    def make(strategy):
        return pipeline(
            "token-classification",
            model=str(en_ner_checkpoint),
            tokenizer=str(en_ner_checkpoint),
            aggregation_strategy=strategy,
        )

    return make


@pytest.mark.parametrize("strategy", ["simple", "first", "average", "max", "none"])
def test_ner_matches_token_classification_pipeline(en_ner_dir, hf_ner, strategy):
    tagger = EntityTagger.load(en_ner_dir)
    ref_pipe = hf_ner(strategy)
    n_entities = 0
    for text in random_contexts(12, seed=3):
        text = text[:400]
        ours = tagger.tag(text, aggregation=strategy)
        ref = ref_pipe(text)
        key = "entity_group" if strategy != "none" else "entity"
        want = [
            (r[key].split("-", 1)[-1] if strategy == "none" else r[key], r["start"], r["end"])
            for r in ref
        ]
        got = [
            (e.label if strategy != "none" else e.label.split("-", 1)[-1], e.start, e.end)
            for e in ours.entities
        ]
        assert got == want
        for e, r in zip(ours.entities, ref, strict=True):
            assert e.score == pytest.approx(float(r["score"]), abs=SCORE_TOL)
            assert e.text == text[e.start : e.end]
        n_entities += len(got)
    assert n_entities > 10  # the random model must actually tag things for this to mean much
