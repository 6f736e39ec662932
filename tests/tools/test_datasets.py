"""Data readers: QA and NER formats, malformed files, deterministic splits."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED_DATA
from qa_demo.errors import DataError
from qa_demo.tools.datasets import (
    EntitySpan,
    in_holdout,
    qa_group,
    read_conll,
    read_ner,
    read_squad,
    read_stockmark,
    split_examples,
)


def test_conll_gives_space_joined_text_and_char_spans(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text(
        "Empire\tB-location\nState\tI-location\nBuilding\tI-location\n=\tO\nESB\tB-location\n"
        "\n\nAda\tB-person\n",
        encoding="utf-8",
    )
    a, b = list(read_conll(path))
    assert a.text == "Empire State Building = ESB"
    assert [(a.text[e.start : e.end], e.label) for e in a.entities] == [
        ("Empire State Building", "location"),
        ("ESB", "location"),
    ]
    assert b.text == "Ada" and b.entities == (EntitySpan(0, 3, "person"),)


def test_conll_bioes_is_read(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("New\tB-LOC\nYork\tE-LOC\nis\tO\nbig\tS-MISC\n", encoding="utf-8")
    (ex,) = read_conll(path)
    assert [(ex.text[e.start : e.end], e.label) for e in ex.entities] == [
        ("New York", "LOC"),
        ("big", "MISC"),
    ]


@pytest.mark.parametrize("bad", ["Ada\tPER\n", "Ada\tB-corporation,B-person\n", "Ada\n"])
def test_conll_malformed_lines_name_file_and_line(tmp_path, bad):
    path = tmp_path / "bad.conll"
    path.write_text("ok\tO\n" + bad, encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.conll: line 2"):
        list(read_conll(path))


def test_stockmark_json_and_its_errors(tmp_path):
    path = tmp_path / "ner.json"
    items = [
        {
            "curid": "7",
            "text": "東京に行く",
            "entities": [{"name": "東京", "span": [0, 2], "type": "地名"}],
        }
    ]
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    (ex,) = read_ner(path)
    assert ex.group == "7" and ex.entities == (EntitySpan(0, 2, "地名"),)

    items[0]["entities"][0]["span"] = [1, 3]
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match=r"ner\.json: item 0 \(curid 7\): entity 0 span"):
        read_stockmark(path)
    del items[0]["text"]
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match=r"curid 7\): missing key 'text'"):
        read_stockmark(path)


def test_squad_answer_start_mismatch_names_the_question(tmp_path):
    path = tmp_path / "q.json"
    path.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "id": "x9",
                        "question": "?",
                        "context": "abc",
                        "answers": {"text": ["b"], "answer_start": [0]},
                    }
                ]
            }
        )
    )
    with pytest.raises(DataError, match=r"q\.json: question x9: answer_start 0"):
        read_squad(path)


def test_holdout_split_is_deterministic_and_by_group():
    groups = [f"page {i}" for i in range(2000)]
    held = [g for g in groups if in_holdout(g, 10)]
    assert held == [g for g in groups if in_holdout(g, 10)]
    assert 150 < len(held) < 250
    items = [(g, q) for g in groups[:50] for q in range(3)]
    train = list(split_examples(items, 10, "train", lambda x: x[0]))
    test = list(split_examples(items, 10, "heldout", lambda x: x[0]))
    assert len(train) + len(test) == len(items)
    assert not {g for g, _ in train} & {g for g, _ in test}  # no article on both sides


@pytest.mark.skipif(not (SHARED_DATA / "ja_ner").exists(), reason="../shared/data is absent")
def test_shared_data_counts():
    ner = list(read_ner(SHARED_DATA / "ja_ner" / "ner.json"))
    assert len(ner) == 5343 and sum(len(e.entities) for e in ner) == 13185
    wnut = list(read_ner(SHARED_DATA / "wnut17" / "emerging.test.annotated"))
    assert len(wnut) == 1287 and sum(len(e.entities) for e in wnut) == 1079
    for ex in wnut[:200]:
        assert all(
            ex.text[e.start : e.end].strip() == ex.text[e.start : e.end] for e in ex.entities
        )
    xquad = read_squad(SHARED_DATA / "squad_en" / "xquad.en.json")
    held = list(split_examples(xquad, 20, "heldout", qa_group))
    assert len(xquad) == 1190 and 0 < len(held) < 400
