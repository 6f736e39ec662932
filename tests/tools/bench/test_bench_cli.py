"""tools/bench/cli.py: qa-demo bench runs every engine on a tiny model and they agree (no speed
is checked); bad options are refused."""

from __future__ import annotations

import json

import pytest

from qa_demo import cli
from qa_demo.tools.bench.config import ENGINES
from qa_demo.tools.bench.contexts import english_cases
from qa_demo.tools.bench.machine import ISA_FLAGS

pytest.importorskip("onnxruntime")


@pytest.mark.slow
def test_bench_command_runs_every_engine_on_a_tiny_model(
    en_checkpoint, bench_work, tmp_path, capsys
):
    out = tmp_path / "out"
    code = cli.main(
        [
            "bench",
            "--model",
            str(en_checkpoint),
            "--contexts",
            "both",
            "--repeat",
            "1",
            "--work-dir",
            str(bench_work),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    ran = report["config"]["engines"]
    assert set(ran) | set(report["skipped"]) == set(ENGINES)
    assert {
        "pytorch",
        "ort-fp32",
        "ort-int8",
        "ov-fp32",
        "ov-int8-weights",
        "ov-int8-static",
        "ov-auto",
    } <= set(ran)
    rows = {e["engine"]: e for e in report["engines"]}
    for name in ran:
        row = rows[name]
        assert f"| {name} | {row['runtime']} | {row['executed_precision']} |" in table
        assert row["bound"] in report["rates"] and row["bound_ratio"] > 0
    assert report["disagreements"] == []
    assert "All FP32 engines gave the same top answers." in table
    cases = english_cases("both")
    for case, row in zip(cases, report["cases"], strict=True):
        assert set(row["answers"]) == set(ran)
        for text in row["answers"].values():
            assert text in case.context  # an exact slice, from every engine
    # Every precision that ran has its rate, and a ceiling that says what it bounds.
    assert {"f32", "int8"} <= set(report["rates"]) == set(report["ceiling"])
    assert set(report["ceiling"]["f32"]) == {"short", "long"}
    assert "Ceiling at f32" in table and "Ceiling at int8" in table
    assert set(report["machine"]["isa"]) == set(ISA_FLAGS)
    assert all(f in table for f in ISA_FLAGS)
    assert all(len(row["windows"]) >= 1 for row in report["cases"])
    assert (out / "bench.png").stat().st_size > 0


def test_bench_rejects_bad_options(capsys):
    assert cli.main(["bench", "--model", "/nonexistent", "--repeat", "0"]) == 2
    assert "repeat" in capsys.readouterr().err
