"""``DemoService``: running a resolved request, and the fallbacks it says on the summary."""

from __future__ import annotations

import numpy as np
import pytest

from qa_demo.app import view
from qa_demo.app.handlers import make_request
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.service import DemoService
from qa_demo.errors import NonFiniteOutputError
from qa_demo.options import Precision
from qa_demo.runtime import Engine

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843."


class _NaNAtFastPrecisions:
    """A runner that returns NaN unless it is the FP32 compile: the AMX cache fault."""

    def __init__(self, real, fp32: bool) -> None:
        self.real, self.fp32 = real, fp32

    def __getattr__(self, name):
        return getattr(self.real, name)

    def infer(self, feeds):
        out = self.real.infer(feeds)
        return out if self.fp32 else {k: np.full_like(v, np.nan) for k, v in out.items()}


@pytest.fixture
def nan_service(tmp_path, en_qa_dir, en_ner_dir, monkeypatch) -> DemoService:
    root = tmp_path / "models"
    root.mkdir()
    for name, src in [("en-qa", en_qa_dir), ("en-ner", en_ner_dir)]:
        (root / name).symlink_to(src, target_is_directory=True)
    registry = ModelRegistry(root, engine=Engine(cache_dir=tmp_path / "cache"))
    built = registry.pipeline

    def pipeline(task, sel):
        made = built(task, sel)
        if not hasattr(made, "_real_runner"):
            made._real_runner = made.runner
            fp32 = made.precision is Precision.FP32
            made.runner = lambda *a, **k: _NaNAtFastPrecisions(made._real_runner(*a, **k), fp32)
        return made

    monkeypatch.setattr(registry, "pipeline", pipeline)
    return DemoService(registry)


def test_non_finite_logits_fall_back_to_fp32_once_and_say_so(nan_service):
    run = nan_service.answer(make_request("Who wrote the report?", EN_CONTEXT, precision="INT8"))
    assert run.qa.precision.chosen == "FP32"
    best = run.qa.best
    assert best is not None and best.text == EN_CONTEXT[best.start : best.end]
    said = [n for n in view.notes(run) if "NaN" in n]
    assert len(said) == 1, said  # the fixture's en-ner has no INT8 IR: it ran FP32
    assert "answered at FP32 instead" in said[0] and "INT8" in said[0]
    assert "NaN" in view.summary(run)


def test_non_finite_logits_at_fp32_are_one_clear_error(nan_service, monkeypatch):
    registry = nan_service.registry
    built = registry.pipeline

    def always_nan(task, sel):
        made = built(task, sel)
        real = made._real_runner
        made.runner = lambda *a, **k: _NaNAtFastPrecisions(real(*a, **k), False)
        return made

    monkeypatch.setattr(registry, "pipeline", always_nan)
    with pytest.raises(NonFiniteOutputError, match="non-finite"):
        nan_service.answer(make_request("Who wrote it?", EN_CONTEXT, precision="FP32"))
