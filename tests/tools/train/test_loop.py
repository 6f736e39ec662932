"""tools/train/loop.py: training end to end on tiny models: train a few steps, export, load,
evaluate; the same seed gives the same losses; INT8-only output; Japanese NER from scratch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import JA_NER, squad_file
from qa_demo.cli import main
from qa_demo.errors import InputError
from qa_demo.tools.train import SCRATCH_JA, ScratchConfig, TrainConfig, train
from qa_demo.types import Task


@pytest.mark.slow
def test_qa_trains_exports_and_evaluates(en_checkpoint, tmp_path, capsys):
    data = squad_file(tmp_path)
    out = tmp_path / "model"
    assert (
        main(
            [
                "train",
                "qa",
                "--base",
                str(en_checkpoint),
                "--data",
                str(data),
                "--eval",
                str(data),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--batch-size",
                "4",
                "--lr",
                "1e-3",
                "--max-seq-len",
                "64",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "epoch 1: loss" in captured.err and "epoch 2: loss" in captured.err
    # NNCF may print its own progress to stdout; the report is the last thing printed.
    report = json.loads(captured.out[captured.out.rindex('{\n  "out"') :])
    assert set(report["eval"]) >= {"exact", "f1", "total"} and report["eval"]["total"] == 7
    assert (out / "openvino_model.xml").exists() and (out / "openvino_model_int8.xml").exists()
    meta = json.loads((out / "qa_demo.json").read_text(encoding="utf-8"))
    assert meta["task"] == "qa" and "demo" in meta["description"]
    assert meta["training"]["params"]["lr"] == 1e-3
    # The answer-length limit learnt from the training answers; eval below reproduces the
    # training-time score only if it is the model's default.
    assert isinstance(meta["max_answer_len"], int) and 1 <= meta["max_answer_len"] <= 30
    # The written directory is what the app loads; `qa-demo eval` reproduces the number.
    assert (
        main(
            [
                "eval",
                "qa",
                "--model",
                str(out),
                "--data",
                str(data),
                "--json",
                "--max-seq-len",
                "64",
                "--doc-stride",
                "21",
                "--predictions",
                str(tmp_path / "p.json"),
            ]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert again["f1"] == pytest.approx(report["eval"]["f1"])


def test_training_refuses_a_non_empty_out_dir(en_checkpoint, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert (
        main(
            [
                "train",
                "qa",
                "--base",
                str(en_checkpoint),
                "--data",
                str(squad_file(tmp_path)),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_same_seed_same_losses(en_checkpoint, tmp_path):
    cfg = TrainConfig(
        Task.QA,
        str(en_checkpoint),
        squad_file(tmp_path),
        None,
        epochs=2,
        batch_size=2,
        lr=1e-3,
        max_seq_len=64,
        doc_stride=16,
        seed=7,
    )
    first = [h.loss for h in train(cfg, log=lambda m: None).history]
    second = [h.loss for h in train(cfg, log=lambda m: None).history]
    assert first == second and all(np.isfinite(first))


@pytest.mark.slow
def test_int8_only_model_when_fp32_is_left_out(en_checkpoint, tmp_path):
    from qa_demo.qa import QuestionAnswerer

    out = tmp_path / "int8-only"
    cfg = TrainConfig(
        Task.QA,
        str(en_checkpoint),
        squad_file(tmp_path),
        out,
        epochs=1,
        batch_size=4,
        lr=1e-3,
        max_seq_len=64,
        doc_stride=16,
        fp32=False,
    )
    train(cfg, log=lambda m: None)
    assert not (out / "openvino_model.xml").exists() and not (out / "openvino_model.bin").exists()
    meta = json.loads((out / "qa_demo.json").read_text(encoding="utf-8"))
    # Only INT8 IRs (one per route export writes), no FP32.
    assert meta["precisions"] and all(p.startswith("INT8") for p in meta["precisions"])
    context = "Ada Lovelace wrote the report in London."
    best = QuestionAnswerer.load(out, precision="INT8").ask("Who?", context).best
    assert best.text == context[best.start : best.end]
    with pytest.raises(InputError, match="no model"):
        TrainConfig(Task.QA, str(en_checkpoint), squad_file(tmp_path), out, int8=False, fp32=False)


@pytest.mark.slow
def test_japanese_ner_from_scratch_with_holdout(tmp_path):
    data = tmp_path / "ner.json"
    data.write_text(json.dumps(JA_NER, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "ja-ner"
    cfg = TrainConfig(
        Task.NER,
        SCRATCH_JA,
        data,
        out,
        eval_data=data,
        epochs=2,
        batch_size=4,
        lr=1e-3,
        max_seq_len=64,
        doc_stride=16,
        int8=False,
        fp16_weights=True,
        aggregation="max",
        scratch=ScratchConfig(
            vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64
        ),
    )
    result = train(cfg, log=lambda m: None)
    assert result.final_eval["support"] == 20
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert set(config["id2label"].values()) == {"O", "B-人名", "I-人名", "B-地名", "I-地名"}
    tok_config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_config["tokenizer_class"] == "BertJapaneseTokenizer"
    from qa_demo.ner import EntityTagger

    tagger = EntityTagger.load(out)
    assert tagger.language.value == "ja"
    assert tagger.default_aggregation == "max"  # the aggregation it was evaluated with
    tagger.tag("東京で山田太郎が話した。")  # loads and runs on the serving path
    with pytest.raises(InputError, match="--overwrite"):
        train(cfg, log=lambda m: None)
