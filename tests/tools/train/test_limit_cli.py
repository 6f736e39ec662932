"""tools/train/limit_cli.py: `qa-demo answer-length` recomputes the limit training wrote."""

from __future__ import annotations

import pytest

from conftest import squad_file
from qa_demo.model_dir import load_model_dir, write_meta


@pytest.mark.slow
def test_answer_length_command_recomputes_what_training_wrote(
    en_checkpoint, en_ner_dir, tmp_path, capsys
):
    """`qa-demo answer-length` reproduces train's limit from the model's own training record
    (its windows), and --write stores it where serving reads it."""
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
