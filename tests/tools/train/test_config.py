"""tools/train/config.py: a training run's configuration is parsed and checked once, when built."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_demo.errors import InputError
from qa_demo.options import TagScheme
from qa_demo.tools.train import TrainConfig
from qa_demo.types import Task


def test_train_config_parses_tag_scheme_and_aggregation_once():
    from qa_demo.options import Aggregation

    cfg = TrainConfig(Task.NER, "b", Path("d"), None, tag_scheme="io", aggregation="MAX")
    assert cfg.tag_scheme is TagScheme.IO and cfg.aggregation is Aggregation.MAX
    with pytest.raises(InputError, match="Training tags are BIO or IO; got 'BIOES'"):
        TrainConfig(Task.NER, "b", Path("d"), None, tag_scheme="BIOES")
    with pytest.raises(InputError, match="Unknown aggregation 'mean'"):
        TrainConfig(Task.NER, "b", Path("d"), None, aggregation="mean")


@pytest.mark.parametrize(("bad", "words"), [(0, "must be >= 1"), (1000, "at most 512 tokens")])
def test_train_refuses_an_answer_length_the_serving_options_refuse(tmp_path, bad, words):
    """Checked when the config is built, not at the first eval after an epoch of training."""
    from qa_demo.errors import InputError
    from qa_demo.tools.train.config import TrainConfig
    from qa_demo.types import Task

    with pytest.raises(InputError, match=words):
        TrainConfig(Task.QA, "base", tmp_path / "d.json", None, max_answer_len=bad)
