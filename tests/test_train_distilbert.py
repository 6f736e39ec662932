"""Regression: train.collate always sent token_type_ids, so `train --base` a DistilBERT
checkpoint failed (DistilBERT has no segment embeddings), although export handled it."""

from __future__ import annotations

import json

from qa_demo.cli import main
from qa_demo.model_dir import load_model_dir


def test_train_accepts_a_distilbert_base(en_checkpoint, tmp_path, capsys):
    import torch
    from test_train import squad_file
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
