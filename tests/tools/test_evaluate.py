"""tools/evaluate.py and evaluate_cli.py: `qa-demo eval` on QA and NER data, agreement between
precisions, malformed data, and the default precision."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED_DATA
from qa_demo.cli import main
from qa_demo.tools.agreement import TopAnswer
from qa_demo.tools.evaluate import answer_agreement

SQUAD_V2_SAMPLE = SHARED_DATA / "squad_en" / "hf_squad_v2_sample.json"


def _squad_file(tmp_path, data, version=None):
    path = tmp_path / "data.json"
    obj = {"data": data} if version is None else {"version": version, "data": data}
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


NESTED = [
    {
        "title": "Lovelace",
        "paragraphs": [
            {
                "context": "Ada Lovelace wrote the report in London.",
                "qas": [
                    {
                        "id": "q1",
                        "question": "Who wrote the report?",
                        "answers": [{"text": "Ada Lovelace", "answer_start": 0}],
                    },
                    {
                        "id": "q2",
                        "question": "Where?",
                        "answers": [{"text": "London", "answer_start": 33}],
                    },
                ],
            }
        ],
    }
]


def test_eval_qa_cli_writes_official_predictions(en_qa_dir, tmp_path, capsys):
    data = _squad_file(tmp_path, NESTED, "1.1")
    out = tmp_path / "predictions.json"
    assert (
        main(
            [
                "eval",
                "qa",
                "--model",
                str(en_qa_dir),
                "--data",
                str(data),
                "--predictions",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr()
    assert "exact" in printed.out and "f1" in printed.out and "total 2" in printed.out
    assert "eval qa" in printed.err  # the progress bar
    preds = json.loads(out.read_text(encoding="utf-8"))
    assert set(preds) == {"q1", "q2"}
    context = NESTED[0]["paragraphs"][0]["context"]
    assert all(isinstance(v, str) and v in context for v in preds.values())


@pytest.mark.skipif(not SQUAD_V2_SAMPLE.exists(), reason="../shared/data is absent")
def test_eval_qa_cli_reports_has_and_no_answer_on_v2(en_qa_dir, tmp_path, capsys):
    assert (
        main(
            [
                "eval",
                "qa",
                "--model",
                str(en_qa_dir),
                "--data",
                str(SQUAD_V2_SAMPLE),
                "--limit",
                "5",
                "--predictions",
                str(tmp_path / "p.json"),
                "--json",
            ]
        )
        == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert scores["total"] == 5 and scores["version"] == "2.0"
    assert scores["has_ans_total"] == 3 and scores["no_ans_total"] == 2


def test_answer_agreement_counts_identical_top_answers_and_missing_ones():
    ada, london = TopAnswer("Ada", 0, 3), TopAnswer("London", 20, 26)
    reference = {"q1": ada, "q2": london, "q3": None}
    assert (
        answer_agreement({"q1": ada, "q2": TopAnswer("Paris", 20, 25), "q3": None}, reference)[0]
        == 2
    )
    assert answer_agreement({"q1": ada}, {"q1": ada, "q2": london}) == (1, 2)  # q2 missing
    # The same text at another place is another answer: the span counts (one measure).
    assert answer_agreement({"q1": TopAnswer("Ada", 40, 43)}, {"q1": ada}) == (0, 1)


def test_eval_qa_cli_agreement_between_precisions(en_qa_dir, tmp_path, capsys):
    data = _squad_file(tmp_path, NESTED, "1.1")
    assert (
        main(
            [
                "eval",
                "qa",
                "--model",
                str(en_qa_dir),
                "--data",
                str(data),
                "--precision",
                "INT8",
                "--agreement-with",
                "FP32",
                "--predictions",
                str(tmp_path / "p.json"),
                "--json",
            ]
        )
        == 0
    )
    scores = json.loads(capsys.readouterr().out)
    same, total = scores["agreement_with_FP32"]
    assert total == 2 and 0 <= same <= 2


def test_eval_qa_cli_agreement_needs_no_predictions_file(en_qa_dir, tmp_path, capsys):
    # Agreement compares the top answers in memory; it once re-read the predictions file.
    data = _squad_file(tmp_path, NESTED, "1.1")
    argv = ["eval", "qa", "--model", str(en_qa_dir), "--data", str(data), "--json"]
    assert (
        main([*argv, "--precision", "INT8", "--agreement-with", "FP32", "--predictions", ""]) == 0
    )
    assert json.loads(capsys.readouterr().out)["agreement_with_FP32"][1] == 2


def test_eval_ner_cli_on_conll(en_ner_dir, tmp_path, capsys):
    data = tmp_path / "tiny.conll"
    data.write_text(
        "Ada\tB-PER\nLovelace\tI-PER\nwrote\tO\n\nin\tO\nLondon\tB-LOC\n", encoding="utf-8"
    )
    assert main(["eval", "ner", "--model", str(en_ner_dir), "--data", str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["support"] == 2 and scores["sentences"] == 2
    assert 0.0 <= scores["f1"] <= 1.0


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (
            [
                {
                    "title": "T",
                    "paragraphs": [
                        {
                            "context": "abc",
                            "qas": [
                                {
                                    "id": "bad1",
                                    "question": "?",
                                    "answers": [{"text": "zz", "answer_start": 0}],
                                }
                            ],
                        }
                    ],
                }
            ],
            "bad1",
        ),
        (
            [
                {
                    "title": "T",
                    "paragraphs": [{"context": "abc", "qas": [{"id": "bad2", "answers": []}]}],
                }
            ],
            "'question'",
        ),
    ],
)
def test_eval_qa_cli_malformed_data_is_one_line_exit_2(en_qa_dir, tmp_path, capsys, data, needle):
    path = _squad_file(tmp_path, data)
    assert main(["eval", "qa", "--model", str(en_qa_dir), "--data", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and needle in err


def test_eval_ner_cli_unknown_tag_is_one_line_exit_2(en_ner_dir, tmp_path, capsys):
    data = tmp_path / "bad.conll"
    data.write_text("Ada\tB-PER\nLovelace\tPERSON-ish\n", encoding="utf-8")
    assert main(["eval", "ner", "--model", str(en_ner_dir), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "line 2" in err and "PERSON-ish" in err


def test_eval_defaults_to_a_precision_every_model_has_and_says_which(en_qa_dir, tmp_path, capsys):
    # Regression (issue 20): `eval qa --model models/ja-qa` failed by default, since FP32 ran
    # the FP32 IR that the INT8-only shipped models lack.
    import shutil

    int8_only = tmp_path / "int8-only"
    shutil.copytree(en_qa_dir, int8_only)
    for fp32 in int8_only.glob("openvino_model.*"):
        fp32.unlink()
    data = _squad_file(tmp_path, NESTED, "1.1")
    for model, precision in ((en_qa_dir, "FP32"), (int8_only, "INT8")):
        argv = ["eval", "qa", "--model", str(model), "--data", str(data), "--json"]
        assert main([*argv, "--predictions", str(tmp_path / "p.json")]) == 0
        printed = capsys.readouterr()
        assert json.loads(printed.out)["precision"] == precision
        assert f"precision: {precision}" in printed.err
