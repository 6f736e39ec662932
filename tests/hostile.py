"""Hostile and odd input, fed through ``qa-demo ask/ner`` (test_cli.py), the app's handlers
(app/test_handlers.py) and the launched app's API (app/test_serve.py).

Each input must end either in one clear, specific message (and the app still serving the next
request), or in a correct result whose offsets are true to the original string:
``context[start:end] == text`` for answers, entities and tokens.
"""

from __future__ import annotations

QUESTION = "Who wrote the report?"
CONTEXT = "Ada Lovelace wrote the report in London in 1843."
#: name -> text. Those in REFUSED must be refused with a message containing the value.
TEXTS = {
    "empty": "",
    "whitespace": " \t\n\u3000\r ",
    "invisible-only": "\u200b\u200d\ufeff\u2060",
    "nul-control": "Ada\x00 Lovelace\x07 wrote\x1b the\x7f report\x0b in\x0c London\r.",
    "ansi": "\x1b[31mAda Lovelace\x1b[0m wrote the report in \x1b]8;;http://x\x07London\x1b]8;;\x07.",
    "rtl-override": "\u202eAda Lovelace\u202c wrote the report in \u202bLondon\u202c \u2067x.",
    "combining-run": "Ada" + "\u0301" * 5000 + " Lovelace wrote the report in Lon\u0308\u0308don.",
    "emoji-only": "😀😃🎉👍🏽👨‍👩‍👧‍👦🏳️‍🌈",
    "mixed-scripts": "Ada Lovelace（エイダ）wrote Отчёт in London 伦敦 ١٢٣ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ㈱ ﬁ ½.",
    "symbols-only": "!@#$%^&*()_+-=[]{}|;':\",./<>?`~\\",
    "script-tag": "<script>window.__xss=1</script> Ada Lovelace wrote the report.",
    "img-onerror": '<img src=x onerror="window.__xss=2"> Ada Lovelace wrote the report.',
    "javascript-link": '<a href="javascript:window.__xss=3">Ada</a> Lovelace wrote the report.',
    "1mb": "word " * 200_000,
}
#: Texts refused, and what the CLI and the app say (as context, as NER text).
REFUSED = {
    "empty": ("The context is empty", "Please enter a context"),
    "whitespace": ("The context is empty", "Please enter a context"),
    "invisible-only": ("The context has no visible characters", "has no visible characters"),
    "1mb": ("1,000,000 characters long; the limit is 100,000", "1,000,000 characters long"),
}
#: Texts refused as a question (beyond those in REFUSED): 1,000 characters at most.
TOO_LONG_QUESTION = {"combining-run": "5,042 characters long; the limit is 1,000"}
#: QA options far out of range or of the wrong type -> the words the message must contain.
BAD_OPTIONS = [
    ({"top_k": 10**9}, "top_k must be at most 20"),
    ({"top_k": -5}, "and top_k must be >= 1, got top_k -5."),
    ({"top_k": 0}, "and top_k must be >= 1, got top_k 0."),
    ({"max_answer_len": 10**6}, "max_answer_len must be at most 512"),
    ({"max_answer_len": -1}, "max_answer_len"),
    ({"max_seq_len": 10**6}, "max_seq_len must be between 16 and 4096"),
    ({"max_seq_len": 1}, "max_seq_len must be between 16 and 4096"),
    ({"max_seq_len": 1024}, "longer than this model's 512 positions"),
    ({"doc_stride": 10**6}, "doc_stride"),
    ({"doc_stride": -1}, "doc_stride must be >= 0"),
]
WRONG_TYPES = [
    ({"top_k": "five"}, "top_k must be a whole number, got 'five'"),
    ({"top_k": 2.5}, "top_k must be a whole number, got 2.5"),
    ({"max_seq_len": [384]}, "max_seq_len must be a whole number"),
    ({"max_answer_len": None}, "max_answer_len must be a whole number"),
]


def check_offsets(text: str, items: list[dict], key: str = "text") -> None:
    for item in items:
        assert 0 <= item["start"] <= item["end"] <= len(text)
        assert text[item["start"] : item["end"]] == item[key], item


def check_answer_json(out: dict, context: str) -> None:
    """Every offset in an /answer (or `ask --json`) result is true to ``context``."""
    check_offsets(context, out["answers"])
    check_offsets(context, out.get("entities", []))
    check_offsets(context, out.get("tokens", []), key="surface")
    for h in out.get("highlight", []):
        assert 0 <= h["start"] < h["end"] <= len(context)
