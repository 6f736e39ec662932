"""tools/scoring.py: scorers on hand-made cases and the official v2.0 rules on the shared sample."""

from __future__ import annotations

import pytest

from conftest import SHARED_DATA
from qa_demo.tools.datasets import QAExample, read_squad
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


# -- normalisation ----------------------------------------------------------------------------


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


# -- QA scores ----------------------------------------------------------------------------------


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


# -- NER scores ---------------------------------------------------------------------------------


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
