"""The shipped models/ (not a module): their cards' quick checks reproduce, they fit the size
budget, and the shipped QA model answers plain factoid questions in both languages exactly."""

from __future__ import annotations

import json

import pytest

from conftest import MODELS, SHARED_DATA
from qa_demo.cli import main
from qa_demo.model_dir import INT8_FILES, PRECISION_FILES
from qa_demo.options import Int8Route

SHIPPED = ("ja-ner", "ja-en-qa", "en-ner")
#: Quick checks a card must have (default 1): ja-en-qa is scored on JSQuAD test, JaQuAD dev
#: and the held-out XQuAD-en articles.
QUICK_CHECKS = {"ja-en-qa": 3}
QA_MODEL = MODELS / "ja-en-qa"


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_card_quick_check_reproduces(name, capsys, monkeypatch):
    """Each card has a `--limit` quick check; `qa-demo eval` must print the same lines."""
    import re
    import shlex

    model = MODELS / name
    if not (model / "README.md").exists():
        pytest.skip(f"{model} is not shipped in this checkout")
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent")
    meta = json.loads((model / "qa_demo.json").read_text(encoding="utf-8"))
    assert "demo" in meta["description"].lower()
    # FP32 or an INT8 route, or both where the 150 MB budget has room (the card says which).
    assert meta["precisions"] and set(meta["precisions"]) <= {
        "FP32",
        "INT8",
        "INT8-weights",
        "INT8-static",
    }
    for precision in meta["precisions"]:
        route = precision.partition("-")[2]  # "INT8-static" -> "static"; older dirs say "INT8"
        ir = INT8_FILES[Int8Route(route)] if route else PRECISION_FILES[precision]
        assert (model / ir).exists(), precision
    card = (model / "README.md").read_text(encoding="utf-8")
    section = re.search(r"## Quick check.*?(?=\n## |\Z)", card, re.S)
    assert section, f"{name}/README.md has no Quick check section"
    blocks = re.findall(r"```\n\$ (qa-demo [^\n]+)\n(.*?)```", section.group(0), re.S)
    # Every block of the section is run: ja-en-qa has one per held-out set.
    assert len(blocks) >= QUICK_CHECKS.get(name, 1), f"{name}/README.md: too few quick checks"
    monkeypatch.chdir(MODELS.parent)
    for command, expected in blocks:
        argv = shlex.split(command)[1:]
        argv = [a.replace("../shared/data", str(SHARED_DATA)) for a in argv]
        assert main(argv) == 0, command
        printed = capsys.readouterr().out.strip().splitlines()
        assert printed == expected.strip().splitlines(), command


#: The issue's budget for everything under models/ (decimal megabytes).
MODELS_BUDGET_BYTES = 150_000_000


def test_shipped_models_fit_the_size_budget():
    if not MODELS.exists():
        pytest.skip("no models/ in this checkout")
    total = sum(f.stat().st_size for f in MODELS.rglob("*") if f.is_file())
    assert total < MODELS_BUDGET_BYTES, f"models/ holds {total / 1e6:.1f} MB"


#: Plain factoid questions of the kind the issue's outside set holds (who founded it, in what
#: year, which city), written for this test after the e5 ja-qa of 2026-12-04 was trained (CC0).
JA_FACTOIDS = (
    (
        "青葉天文台は1931年に天文学者の佐伯ハルが設立した。天文台は仙台市の郊外にある。",
        (
            ("誰が設立しましたか？", "佐伯ハル"),
            ("何年に設立されましたか？", "1931年"),
            ("天文台はどの都市にありますか？", "仙台市"),
        ),
    ),
    (
        "港大橋は技師の村上誠が設計し、1978年に開通した。全長は980メートルである。",
        (
            ("橋を設計したのは誰ですか？", "村上誠"),
            ("橋は何年に開通しましたか？", "1978年"),
            ("全長は何メートルですか？", "980メートル"),
        ),
    ),
    (
        "北斗製菓は1952年に創業した菓子メーカーで、本社は札幌市にある。創業者は石田勇である。",
        (
            ("会社の本社はどこにありますか？", "札幌市"),
            ("創業者は誰ですか？", "石田勇"),
            ("北斗製菓は何年に創業しましたか？", "1952年"),
        ),
    ),
)
#: The same kind in English, written for this test before ja-en-qa's answers were seen (CC0).
EN_FACTOIDS = (
    (
        "The Harbor Bridge was designed by the engineer Tom Reyes and opened in 1978. It is 980 "
        "meters long, and children under 12 cross it for free.",
        (
            ("Who designed the Harbor Bridge?", "Tom Reyes"),
            ("When did the bridge open?", "1978"),
            ("How long is the bridge?", "980 meters"),
            ("Who can cross the bridge for free?", "children under 12"),
        ),
    ),
    (
        "Green leaves take in carbon dioxide and release oxygen. The process, called "
        "photosynthesis, needs sunlight and water.",
        (
            ("What do green leaves release?", "oxygen"),
            ("What is the process called?", "photosynthesis"),
            ("What does the process need?", "sunlight and water"),
        ),
    ),
    (
        "Maria Lopez founded the bakery in Denver in 1952. Today her grandson, David Lopez, "
        "runs it.",
        (
            ("Who founded the bakery?", "Maria Lopez"),
            ("In which city is the bakery?", "Denver"),
            ("Who runs the bakery today?", "David Lopez"),
        ),
    ),
)


def _answers(factoids) -> list[tuple[str, str, str]]:
    from qa_demo.qa import QuestionAnswerer

    if not (QA_MODEL / "qa_demo.json").exists():
        pytest.skip(f"{QA_MODEL} is not shipped in this checkout")
    qa = QuestionAnswerer.load(QA_MODEL, device="CPU")
    return [
        (question, qa.ask(question, context).best.text, gold)
        for context, pairs in factoids
        for question, gold in pairs
    ]


def test_regression_1998年に_shipped_qa_answers_japanese_factoids_exactly():
    """Exact answers, no particle after them: the e5 ja-qa of 2026-12-04 (SentencePiece pieces
    such as 年に, 市の) answered 5 of 9 exactly and 4 with one particle too many; the ja-qa of
    2026-11-24 answered 0 of 9 (long wrong spans)."""
    got = _answers(JA_FACTOIDS)
    right = [q for q, answer, gold in got if answer == gold]
    assert len(right) >= 9, got


def test_shipped_qa_answers_english_factoids_exactly():
    """The English side of the bilingual model: 7 of 10 (misses: "980 meters long", "children"
    for "children under 12", "carbon dioxide and release oxygen" for "oxygen"). The MiniLM
    en-qa it replaced answered 11 of 14 on the issue's own set."""
    got = _answers(EN_FACTOIDS)
    right = [q for q, answer, gold in got if answer == gold]
    assert len(right) >= 7, got
