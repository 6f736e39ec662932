"""tools/train/lrsearch.py: the learning-rate search prints its trials and saves a plot."""

from __future__ import annotations

import pytest

from conftest import squad_file
from qa_demo.cli import main


@pytest.mark.slow
def test_lr_search_prints_trials_and_saves_a_plot(en_checkpoint, tmp_path, capsys):
    plot = tmp_path / "lr.png"
    data = squad_file(tmp_path)
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
                "--search",
                "lr",
                "--trials",
                "2",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--max-seq-len",
                "64",
                "--plot",
                str(plot),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "best learning rate" in out and out.count("e-0") >= 2
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
