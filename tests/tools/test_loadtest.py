"""tools/loadtest.py: ``qa-demo loadtest`` at CI size (a launched app, 3 users x 3 requests,
over the tiny models), its verdicts and its mix."""

from __future__ import annotations

import json

import pytest

from qa_demo.cli import EXIT_USER_ERROR, main
from qa_demo.tools import loadtest, loadtest_mix


@pytest.mark.slow
def test_loadtest_small_passes_and_reports(models_root, capsys):
    code = main(
        ["loadtest", "--users", "3", "--requests", "3", "--models", str(models_root()), "--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["requests"] == report["answered"] == 9
    assert report["failures"] == {"error": 0, "timeout": 0, "mismatch": 0}
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p95"]
    assert report["throughput_rps"] > 0
    rss = report["rss_mb"]
    assert 0 < rss["after_warmup"] <= rss["peak"] and rss["after"] <= rss["peak"]
    # 3 users x 3 requests cycle through the first cases of the mix, each user from its own.
    assert {"qa-en", "qa-ja", "ner-en"} <= set(report["latency_ms_by_case"])


def test_a_grown_rss_fails_with_one_clear_line(monkeypatch, capsys):
    report = {
        "requests": 1000,
        "answered": 1000,
        "failures": {"error": 0, "timeout": 0, "mismatch": 0},
        "rss_mb": {"after_warmup": 392.0, "peak": 470.0, "after": 455.0},
        "rss_growth_pct": 16.1,
        "rss_growth_limit_pct": 10.0,
    }
    monkeypatch.setattr(loadtest, "loadtest", lambda args: report)
    monkeypatch.setattr(loadtest, "human", lambda r: "report")
    assert main(["loadtest"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err == (
        "qa-demo: error: loadtest failed: server RSS after the run (455 MB) is 16.1% above "
        "RSS after warm-up (392 MB); the limit is 10%."
    )


def test_failed_requests_fail_the_run():
    report = {
        "requests": 10,
        "answered": 7,
        "failures": {"error": 1, "timeout": 2, "mismatch": 0},
        "rss_growth_pct": 0.0,
        "rss_growth_limit_pct": 10.0,
    }
    assert loadtest.verdict(report) == (
        "loadtest failed: 3 of 10 requests failed (1 error, 2 timeout)."
    )


def test_answers_are_compared_without_their_timings():
    a = {"answers": [{"text": "x", "score": 0.5}], "timings_ms": {"QA": {"total": 1.0}}}
    b = {"answers": [{"text": "x", "score": 0.5}], "timings_ms": {"QA": {"total": 9.0}}}
    assert loadtest.canonical(a) == loadtest.canonical(b)
    assert loadtest.canonical(a) != loadtest.canonical({**b, "answers": []})


def test_the_mix_has_both_languages_all_endpoints_and_a_long_context():
    mix = loadtest_mix.cases()
    assert {c.api_name for c in mix} == {"/answer", "/ner", "/tokenize"}
    assert any("ja" in c.name for c in mix) and any("en" in c.name for c in mix)
    assert max(len(c.args[1]) for c in mix if c.api_name == "/answer") > 2000
    assert loadtest.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_a_missing_models_dir_is_one_line(tmp_path, capsys):
    assert main(["loadtest", "--models", str(tmp_path / "nope")]) == EXIT_USER_ERROR
    assert "does not exist" in capsys.readouterr().err
