"""app/service.py: running a resolved request (QA paired with NER of its language, compare),
and the fallbacks it says on the summary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa_demo.app import view
from qa_demo.app.handlers import make_request
from qa_demo.app.messages import error_message
from qa_demo.app.registry import ModelRegistry
from qa_demo.app.service import DemoService
from qa_demo.errors import NonFiniteOutputError, QADemoError
from qa_demo.options import Precision
from qa_demo.runtime import Engine

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843."
LONG_EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843. Tokyo station opened in 1914."
JA_CONTEXT = "ｻｸﾗﾃﾞﾝｷ株式会社は２０２５年４月、熊本県菊池市に新しい工場を建設すると発表した。"
QUESTION = "Who wrote the report?"


def test_answer_pairs_qa_with_ner_of_the_same_language(service):
    run = service.answer(make_request("Who wrote the report?", LONG_EN_CONTEXT))
    assert run.qa_model.name == "en-qa" and run.ner_model.name == "en-ner"
    best = run.qa.best
    assert best.text == LONG_EN_CONTEXT[best.start : best.end]
    tokens = view.token_rows(run)[1]
    assert len(tokens) > 5 and all(t.surface == LONG_EN_CONTEXT[t.start : t.end] for t in tokens)
    assert [s.pipeline for s in run.stages] == ["QA", "NER"]
    json.dumps(view.answer_json(run))  # the download must serialise

    ja = service.answer(
        make_request("どこに工場を建設しますか？", JA_CONTEXT, dictionary="jumandic")
    )
    assert ja.qa_model.name == "ja-qa" and ja.ner_model.name == "ja-ner"
    assert {t.pos for t in view.token_rows(ja)[1]} - {""}  # MeCab POS joined in


def test_missing_precision_falls_back_with_a_note(service):
    run = service.answer(make_request("誰？", JA_CONTEXT, precision="INT8"))
    assert run.qa_model.name == "ja-qa"  # exported without INT8
    assert any("INT8" in n for n in view.notes(run))


def test_compare_runs_every_device_and_precision(service):
    rows = service.compare(make_request("Who wrote the report?", LONG_EN_CONTEXT, model="en-qa"))
    engine = service.registry.engine
    expected = {(d, p.value) for d in engine.devices() for p in engine.capabilities(d).supported()}
    assert {(r["device"], r["precision"]) for r in rows} == expected
    assert {("CPU", "FP32"), ("CPU", "INT8")} <= expected
    assert all(r["ran on"] and r["executed"] for r in rows)
    int8 = next(r for r in rows if r["device"] == "CPU" and r["precision"] == "INT8")
    assert int8["chosen"].startswith("INT8") and "int8" in int8["executed"]


def test_unsupported_precision_is_one_line(en_qa_service):
    supported = set(en_qa_service.registry.capabilities("CPU").supported())
    missing = [p for p in (Precision.BF16, Precision.FP16) if p not in supported]
    if not missing:
        pytest.skip("this CPU supports BF16 and FP16")
    with pytest.raises(QADemoError) as info:
        en_qa_service.answer(make_request("Who?", EN_CONTEXT, precision=missing[0]))
    msg = error_message(info.value, "en")
    assert msg.startswith(f"{missing[0].value} is not supported on CPU") and "\n" not in msg
    assert "it supports FP32" in msg


# -- fallbacks -------------------------------------------------------------------------------


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
def nan_service(tmp_path, models_root, monkeypatch) -> DemoService:
    registry = ModelRegistry(
        models_root("en-qa", "en-ner"), engine=Engine(cache_dir=tmp_path / "cache")
    )
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


@pytest.mark.slow
def test_auto_on_an_int8_only_model_is_no_fallback(int8_service):
    run = int8_service.answer(make_request(QUESTION, LONG_EN_CONTEXT))
    assert run.notes == ()
    ner = next(s for s in run.stages if s.pipeline == "NER")
    assert ner.precision.requested == "AUTO" and ner.precision.chosen.startswith("INT8")
    assert "ships only INT8" in view.summary(run) and "AUTO → INT8" in view.summary(run)


@pytest.mark.slow
def test_missing_accelerator_falls_back_to_cpu_with_a_note(int8_service):
    if int8_service.registry.has_device("GPU"):
        pytest.skip("this machine has a GPU")
    run = int8_service.answer(make_request(QUESTION, LONG_EN_CONTEXT, device="GPU"))
    assert view.notes(run) == ["GPU is not available on this machine; running on CPU."]
    assert all(s.device.startswith("CPU") for s in run.stages)
    assert view.summary(run).count("GPU is not available") == 1  # said once, not per pipeline


# -- a model server beside the local models (--remote) ------------------------------------------
@pytest.mark.slow
def test_remote_models_are_listed_beside_local_ones_and_a_dead_server_hides_only_them(
    models_root,
):
    pytest.importorskip("kserve")
    pytest.importorskip("tritonclient.http")
    from conftest import model_server
    from qa_demo.remote import RemoteBackend
    from qa_demo.types import Task

    root = models_root("en-qa", "en-ner")
    with model_server(root / "en-qa") as (url, proc):
        registry = ModelRegistry(root, remote=RemoteBackend(url, timeout_s=10))
        service = DemoService(registry)
        values = [v for _, v in registry.choices(Task.QA)]
        assert "remote:en-qa" in values and "en-qa" in values
        remote = service.answer(make_request(QUESTION, EN_CONTEXT, model="remote:en-qa"))
        local = service.answer(make_request(QUESTION, EN_CONTEXT, model="en-qa", precision="FP32"))
        assert remote.qa.device == "REMOTE" and remote.stages[0].device == "REMOTE"
        assert (remote.qa.best.start, remote.qa.best.end) == (
            local.qa.best.start,
            local.qa.best.end,
        )
        proc.kill()
        proc.wait(10)
        with pytest.raises(QADemoError) as err:
            service.answer(make_request(QUESTION, EN_CONTEXT, model="remote:en-qa"))
        message = error_message(err.value, "en")
        assert "Cannot reach the model server" in message and "\n" not in message
        assert service.answer(make_request(QUESTION, EN_CONTEXT, model="en-qa")).qa.best
        assert "remote:en-qa" not in [v for _, v in registry.choices(Task.QA)]
