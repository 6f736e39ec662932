"""A QA model's own answer-length limit: learnt by `train` from its training answers, written
to qa_demo.json, the default of every request that does not ask for another (issue 12: the
small Japanese model's answers ran on into the next clause)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qa_demo.app.handlers import make_request
from qa_demo.errors import ModelLoadError
from qa_demo.model_dir import load_model_dir, write_meta
from qa_demo.qa import DEFAULT_MAX_ANSWER_LEN, QAOptions, QuestionAnswerer
from qa_demo.tools.train.config import Feature
from qa_demo.tools.train.data import answer_length_limit

CONTEXT = (
    "The lighthouse was designed by Osamu Takahashi in 1895 and finished three years later, "
    "after a storm destroyed the first tower."
)


def _feature(start: int, end: int) -> Feature:
    ids = np.zeros(8, dtype=np.int64)
    return Feature(ids, ids, np.array([start, end]))


def test_answer_length_limit_covers_99_percent_of_training_answers():
    feats = [_feature(5, 7)] * 200 + [_feature(5, 44)]  # 200 answers of 3 tokens, one of 40
    feats += [_feature(0, 0)] * 50  # windows without the answer point at [CLS]: not answers
    assert answer_length_limit(feats) == 3
    assert answer_length_limit([_feature(5, 44)] * 3) == 40
    assert answer_length_limit([_feature(0, 0)]) is None


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
    limited = QuestionAnswerer.load(own, options=QAOptions(top_k=5)).ask(question, CONTEXT)
    reference = QuestionAnswerer.load(en_qa_dir, options=QAOptions(top_k=5))
    assert limited.answers == reference.ask(question, CONTEXT, max_answer_len=1).answers
    wide = QuestionAnswerer.load(own, options=QAOptions(top_k=5, max_answer_len=30))
    assert wide.ask(question, CONTEXT).answers == reference.ask(question, CONTEXT).answers


@pytest.mark.parametrize("bad", [0, -3, 2.5, "12", True])
def test_bad_max_answer_len_in_qa_demo_json_is_a_load_error(en_qa_dir, tmp_path, bad):
    own = tmp_path / "model"
    shutil.copytree(en_qa_dir, own)
    meta = json.loads((own / "qa_demo.json").read_text(encoding="utf-8"))
    meta["max_answer_len"] = bad
    (own / "qa_demo.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="'max_answer_len' must be a whole number >= 1"):
        load_model_dir(own)


def test_app_slider_zero_means_the_models_own_limit():
    assert make_request("Who?", CONTEXT, max_answer_len=0).options.max_answer_len is None
    assert make_request("Who?", CONTEXT, max_answer_len=20.0).options.max_answer_len == 20


@pytest.mark.parametrize(("bad", "words"), [(0, "must be >= 1"), (1000, "at most 512 tokens")])
def test_train_refuses_an_answer_length_the_serving_options_refuse(tmp_path, bad, words):
    """Checked when the config is built, not at the first eval after an epoch of training."""
    from qa_demo.errors import InputError
    from qa_demo.tools.train.config import TrainConfig
    from qa_demo.types import Task

    with pytest.raises(InputError, match=words):
        TrainConfig(Task.QA, "base", tmp_path / "d.json", None, max_answer_len=bad)


def test_answer_length_command_recomputes_what_training_wrote(
    en_checkpoint, en_ner_dir, tmp_path, capsys
):
    """`qa-demo answer-length` reproduces train's limit from the model's own training record
    (its windows), and --write stores it where serving reads it."""
    from test_train import squad_file

    from qa_demo.cli import main
    from qa_demo.tools.train import TrainConfig, train
    from qa_demo.types import Task

    data, model = squad_file(tmp_path), tmp_path / "model"
    cfg = TrainConfig(
        Task.QA,
        str(en_checkpoint),
        data,
        model,
        epochs=1,
        batch_size=4,
        lr=1e-3,
        max_seq_len=64,
        doc_stride=16,
        answer_windows_only=True,
        int8=False,
    )
    trained = train(cfg, log=lambda m: None)
    limit = load_model_dir(trained.out).max_answer_len
    write_meta(model, max_answer_len=limit + 7)
    assert main(["answer-length", str(model), "--data", str(data), "--write"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{limit} tokens") and "windows of 64, stride 16, answer windows" in out
    assert load_model_dir(model).max_answer_len == limit
    assert main(["answer-length", str(en_ner_dir), "--data", str(data)]) == 2
    assert "answer lengths are for QA" in capsys.readouterr().err
