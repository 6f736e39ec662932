"""ner.py: entity offsets, static shapes, the model's own aggregation, overlapping entities,
parity with transformers' token-classification pipeline, and any text, however odd."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from strategies import ANY_TEXT, FUZZ, only_our_errors

from conftest import SCORE_TOL, random_contexts
from qa_demo import EntityTagger, ModelLoadError


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


def test_overlapping_kabushiki_kaisha_entity(ja_ner_dir):
    """Regression: "㈱ミナト精工" gave two overlapping 法人名 entities, "㈱" and "㈱ミナト精工"."""
    import numpy as np

    from qa_demo import EntityTagger
    from qa_demo.ner import NEROptions
    from qa_demo.options import Aggregation

    tagger = EntityTagger.load(ja_ner_dir)
    text = "㈱ミナト精工は小樽にある。"
    for aggregation in Aggregation:
        opts = NEROptions(aggregation=aggregation)
        prepared = tagger.preprocess(text, opts)
        enc = prepared.encoding
        parts = [i for i, (s, _) in enumerate(enc.offsets) if s == 0]
        assert len(parts) > 1  # NFKC made several tokens of the one character ㈱
        label = {lab: k for k, lab in enumerate(tagger.labels)}
        rows = np.full((len(enc), len(tagger.labels)), -5.0)
        company = [i for i, (s, e) in enumerate(enc.offsets) if e <= text.index("は")]
        for i in company:  # what the model did: B- on "(" and again on "株", I- after
            rows[i, label["I-ORG"]] = 5.0
        for i in parts[:2]:
            rows[i, label["B-ORG"]] = 6.0
        logits = [
            np.vstack(
                [
                    np.zeros(len(tagger.labels)),
                    rows[w.token_start : w.token_start + len(w) - 2],
                    np.zeros(len(tagger.labels)),
                ]
            )
            for w in prepared.windows
        ]
        entities, _ = tagger.decode(text, enc, prepared.windows, logits, opts)
        spans = sorted((e.start, e.end) for e in entities)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, f"{aggregation}: overlapping entities {entities}"
        assert all(e.text == text[e.start : e.end] for e in entities)
        # Per token (none) the whole ㈱ is one entity; grouped, the company name is one.
        want = "㈱" if aggregation is Aggregation.NONE else "㈱ミナト精工"
        assert entities[0].text == want, (aggregation, entities)


# -- parity with transformers 4.57's token-classification pipeline on the same weights ----


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


# -- any text, however odd: entities stay slices that never overlap ----------------------


@pytest.fixture(scope="module")
def ja_ner(ja_ner_dir):
    from qa_demo import EntityTagger

    return EntityTagger.load(ja_ner_dir)


@FUZZ
@given(text=ANY_TEXT)
def test_any_unicode_ner_gives_slices_that_never_overlap(ja_ner, text):
    from qa_demo.options import Aggregation

    for aggregation in (Aggregation.SIMPLE, Aggregation.MAX, Aggregation.NONE):
        result = only_our_errors(lambda a=aggregation: ja_ner.tag(text, aggregation=a))
        entities = sorted(result.entities, key=lambda e: e.start) if result else []
        for e in entities:
            assert e.text == text[e.start : e.end]
        for a, b in itertools.pairwise(entities):
            assert a.end <= b.start, f"overlap: {a} {b}"
