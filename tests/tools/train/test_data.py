"""tools/train/data.py: windows labelled from character spans, the answer-length limit the
training answers imply, and batches without token types for DistilBERT."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import squad_file
from qa_demo.cli import main
from qa_demo.model_dir import load_model_dir
from qa_demo.options import TagScheme
from qa_demo.tools.train.config import Feature
from qa_demo.tools.train.data import answer_length_limit


def _feature(start: int, end: int) -> Feature:
    ids = np.zeros(8, dtype=np.int64)
    return Feature(ids, ids, np.array([start, end]))


def test_answer_length_limit_covers_99_percent_of_training_answers():
    feats = [_feature(5, 7)] * 200 + [_feature(5, 44)]  # 200 answers of 3 tokens, one of 40
    feats += [_feature(0, 0)] * 50  # windows without the answer point at [CLS]: not answers
    assert answer_length_limit(feats) == 3
    assert answer_length_limit([_feature(5, 44)] * 3) == 40
    assert answer_length_limit([_feature(0, 0)]) is None


def test_ner_labels_follow_char_spans_in_bio_and_io(en_ner_checkpoint):
    from qa_demo.tokenization import load_tokenizer
    from qa_demo.tools.datasets import EntitySpan, NERExample
    from qa_demo.tools.train.data import ner_features, ner_labels

    tok = load_tokenizer(en_ner_checkpoint)
    ex = NERExample(
        "1", "Ada Lovelace went to London", (EntitySpan(0, 12, "PER"), EntitySpan(21, 27, "LOC"))
    )
    for scheme, want in (
        (TagScheme.BIO, ["B-PER", "I-PER", "O", "O", "B-LOC"]),
        (TagScheme.IO, ["I-PER", "I-PER", "O", "O", "I-LOC"]),
    ):
        labels = ner_labels([ex], scheme)
        (feat,) = ner_features(tok, [ex], {lab: i for i, lab in enumerate(labels)}, 64, 16)
        enc = tok.encode(ex.text)
        # One tag per word's first piece is enough to check; pieces of a word share its tag.
        words = {}
        for i, w in enumerate(enc.word_ids):
            words.setdefault(w, labels[feat.labels[1 + i]])
        assert list(words.values()) == want
        assert feat.labels[0] == -100 and feat.labels[-1] == -100  # [CLS], [SEP] not scored


# Regression: train.collate always sent token_type_ids, so `train --base` a DistilBERT
# checkpoint failed (DistilBERT has no segment embeddings), although export handled it.


@pytest.mark.slow
def test_train_accepts_a_distilbert_base(en_checkpoint, tmp_path, capsys):
    import torch
    from transformers import (
        AutoTokenizer,
        DistilBertConfig,
        DistilBertForQuestionAnswering,
        DistilBertTokenizerFast,
    )

    bert_tok = AutoTokenizer.from_pretrained(en_checkpoint)
    base = tmp_path / "distilbert"
    tok = DistilBertTokenizerFast(vocab_file=str(en_checkpoint / "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(base)
    torch.manual_seed(0)
    config = DistilBertConfig(
        vocab_size=len(bert_tok),
        dim=32,
        n_layers=1,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=128,
    )
    DistilBertForQuestionAnswering(config).save_pretrained(base)
    data = squad_file(tmp_path)
    out = tmp_path / "model"
    code = main(
        [
            "train",
            "qa",
            "--base",
            str(base),
            "--data",
            str(data),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--max-seq-len",
            "64",
            "--no-int8",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "epoch 1: loss" in captured.err
    model = load_model_dir(out)
    assert model.task.value == "qa"
    meta = json.loads((out / "qa_demo.json").read_text(encoding="utf-8"))
    assert meta["training"]["params"]["base"] == str(base)


def _squad(path, titles: list[str]):
    data = [
        {
            "title": t,
            "paragraphs": [
                {
                    "context": f"{t} is here.",
                    "qas": [
                        {
                            "id": t,
                            "question": "Where?",
                            "answers": [{"text": "here", "answer_start": len(t) + 4}],
                        }
                    ],
                }
            ],
        }
        for t in titles
    ]
    path.write_text(json.dumps({"version": "1.1", "data": data}), encoding="utf-8")
    return path


def test_holdout_splits_the_first_data_only(tmp_path):
    from qa_demo.tools.datasets import in_holdout
    from qa_demo.tools.train.data import load_training_examples
    from qa_demo.types import Task

    titles = [f"Article {i}" for i in range(40)]
    held = {t for t in titles if in_holdout(t, 20)}
    assert held and held != set(titles)
    first, second = _squad(tmp_path / "en.json", titles), _squad(tmp_path / "ja.json", titles)
    train = load_training_examples(Task.QA, (first, second), 20, "train", None)
    # The first file loses its held-out articles; the second is read whole.
    assert len(train) == 2 * len(titles) - len(held)
    heldout = load_training_examples(Task.QA, (first, second), 20, "heldout", None)
    assert sorted(ex.title for ex in heldout) == sorted(held)
