"""Scorers on hand-made cases, the official v2.0 rules on the shared sample, and `qa-demo eval`."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED_DATA
from qa_demo.cli import main
from qa_demo.tools.agreement import TopAnswer
from qa_demo.tools.datasets import QAExample, read_squad
from qa_demo.tools.evaluate import answer_agreement
from qa_demo.tools.scoring import (
    exact_match,
    f1_score,
    majority_baseline,
    normalize_en,
    normalize_ja,
    score_ner,
    score_qa,
)

SQUAD_V2_SAMPLE = SHARED_DATA / "squad_en" / "hf_squad_v2_sample.json"


# -- normalisation ------------------------------------------------------------------------------


def test_english_normalisation_follows_the_official_script():
    assert normalize_en("  The  Eiffel-Tower, (Paris)!  ") == "eiffeltower paris"
    assert normalize_en("An apple a day") == "apple day"
    # Articles go only as whole words; "theory" and "another" keep their letters.
    assert normalize_en("the theory of another") == "theory of another"
    # Unicode punctuation is not ASCII punctuation: it stays.
    assert normalize_en("東京。") == "東京。"


def test_japanese_normalisation_strips_only_trailing_maru_and_does_no_nfkc():
    assert normalize_ja("ＡＢＣ東京。。") == "ａｂｃ東京"
    assert normalize_ja("東京。大阪") == "東京。大阪"
    assert normalize_ja(" 東京  大阪 ") == "東京 大阪"


# -- QA scores ------------------------------------------------------------------------------------


def test_english_token_f1_and_exact_match():
    assert exact_match("the France.", "France") == 1.0
    # pred [william], gold [william, conqueror]: P 1, R 1/2.
    assert f1_score("William", "William the Conqueror") == pytest.approx(2 / 3)
    # Repeated tokens count up to the smaller count (multiset overlap).
    assert f1_score("paris paris paris", "paris") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert f1_score("London", "Paris") == 0.0


def test_japanese_character_f1():
    # pred 東京都 (3 chars) vs gold 東京 (2): overlap 2, P 2/3, R 1 -> F1 0.8.
    assert f1_score("東京都。", "東京", "ja") == pytest.approx(0.8)
    assert exact_match("東京。", "東京", "ja") == 1.0
    # Full and half width differ: no Unicode normalization, as JGLUE.
    assert f1_score("abc", "ＡＢＣ", "ja") == 0.0


def test_best_over_several_gold_answers():
    ex = QAExample("q", "?", "ctx", (("10th and 11th centuries", 0), ("in the 10th century", 0)))
    scores = score_qa([ex], {"q": "10th century"})
    # vs gold 2: normalized "in 10th century" -> P 2/2, R 2/3 -> 0.8; gold 1 gives only 1/3.
    assert scores.f1 == pytest.approx(80.0)
    assert scores.exact == 0.0


def test_v2_empty_against_empty_scores_one_and_v1_missing_scores_zero():
    unanswerable = QAExample("u", "?", "ctx", ())
    answerable = QAExample("a", "?", "ctx", (("Paris", 0),))
    v2 = score_qa([unanswerable, answerable], {"u": "", "a": "paris"}, version="2.0")
    assert (v2.exact, v2.f1, v2.total) == (100.0, 100.0, 2)
    assert (v2.no_ans_f1, v2.has_ans_f1) == (100.0, 100.0)
    wrong = score_qa([unanswerable], {"u": "Paris"}, version="2.0")
    assert (wrong.exact, wrong.f1) == (0.0, 0.0)
    # v2.0 skips a missing prediction; v1.1 counts it as 0.
    assert score_qa([unanswerable, answerable], {"a": "Paris"}, version="2.0").total == 1
    v1 = score_qa([answerable, QAExample("b", "?", "ctx", (("Rome", 0),))], {"a": "Paris"})
    assert (v1.exact, v1.f1, v1.total, v1.missing) == (50.0, 50.0, 2, 1)


@pytest.mark.skipif(not SQUAD_V2_SAMPLE.exists(), reason="../shared/data is absent")
def test_english_scorer_agrees_with_hand_computed_official_result_on_squad_v2_sample():
    examples = read_squad(SQUAD_V2_SAMPLE)
    preds = {
        "56ddde6b9a695914005b9628": "france.",  # EM 1
        "56ddde6b9a695914005b9629": "the 10th century",  # F1 max(1/3, 2/7) = 1/3
        # 56ddde6b9a695914005b962a has no prediction: v2.0 leaves it out of the total.
        "5ad39d53604f3c001a3fe8d3": "",  # unanswerable, empty: 1
        "5ad39d53604f3c001a3fe8d4": "10th century",  # unanswerable, answered: 0
        "56dddf4066d3e219004dad5f": "William",  # F1 2/3
        "5ad3a266604f3c001a3fea2b": "",  # 1
        "56e16182e3433e1400422e28": "computational complexity theory",  # 1
        "5ad5316b5b96ef001a10ab76": "",  # 1
        "56e16839cd28a01900c67887": "solution requires significant resources",  # F1 8/9
        "56e16839cd28a01900c67888": "models of computation",  # F1 6/7
        "56e16839cd28a01900c67889": "time and storage",  # 1
        "5ad532575b96ef001a10ab7f": "",  # 1
        "5ad532575b96ef001a10ab80": "42",  # 0
    }
    s = score_qa(examples, preds, version="2.0", language="en")
    assert s.total == 13 and s.missing == 1
    assert s.exact == pytest.approx(100 * 7 / 13)
    assert s.f1 == pytest.approx(100 * (8 + 8 / 9 + 6 / 7) / 13)
    assert (s.has_ans_total, s.no_ans_total) == (7, 6)
    assert s.has_ans_exact == pytest.approx(100 * 3 / 7)
    assert s.has_ans_f1 == pytest.approx(100 * (4 + 8 / 9 + 6 / 7) / 7)
    assert s.no_ans_exact == pytest.approx(100 * 4 / 6)
    assert s.no_ans_f1 == pytest.approx(100 * 4 / 6)


# -- NER scores -----------------------------------------------------------------------------------


def test_ner_scores_are_strict_on_span_and_type():
    gold = [[(0, 5, "PER"), (10, 15, "LOC")], [(0, 3, "ORG")]]
    pred = [[(0, 5, "PER"), (10, 14, "LOC")], [(0, 3, "LOC")]]
    s = score_ner(gold, pred)
    assert (s.overall.precision, s.overall.recall) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert s.per_type["PER"].f1 == 1.0
    assert s.per_type["LOC"].precision == 0.0 and s.per_type["LOC"].predicted == 2
    assert s.per_type["ORG"].recall == 0.0 and s.per_type["ORG"].support == 1
    assert s.sentences == 2


def test_majority_baseline_finds_nothing():
    from qa_demo.tools.datasets import EntitySpan, NERExample

    s = majority_baseline([NERExample("1", "Ada went", (EntitySpan(0, 3, "PER"),))])
    assert s.overall.f1 == 0.0 and s.overall.support == 1


# -- CLI ------------------------------------------------------------------------------------------


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
