"""What ``qa-demo loadtest`` sends: the mix of requests every user cycles through, and with
``--remote`` which of the app's models run on the model server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import QADemoError

EN_CONTEXT = (
    "Ada Lovelace wrote the report in London in 1843. The museum beside Tokyo station "
    "opened in 1914, and its first director was Hana Mori."
)
JA_CONTEXT = (
    "ｻｸﾗﾃﾞﾝｷ株式会社は２０２５年４月、熊本県菊池市に新しい工場を建設すると発表した。"
    "社長の山田太郎氏は東京都内で記者会見を開いた。"
)
LONG_SENTENCES = (
    "The river port of {town} grew quickly after the canal opened in {year}. Merchants from "
    "{town} traded wool, salt and timber along the northern road. In {year} the council of "
    "{town} voted to build a stone bridge, designed by the engineer Margaret Hale."
)
TOWNS = ("Ashford", "Bramley", "Carden", "Dunmore", "Elston", "Fairlie", "Glenholm", "Harwick")


def long_context() -> str:
    """A few thousand characters of English: several QA windows, one long infer batch."""
    parts = [LONG_SENTENCES.format(town=t, year=1790 + 7 * i) for i, t in enumerate(TOWNS * 3)]
    parts.insert(len(parts) // 2, "The lighthouse keeper of Dunmore was called Tobias Wren.")
    return " ".join(parts)


@dataclass(frozen=True)
class Case:
    """One kind of request: an endpoint and its arguments."""

    name: str
    api_name: str
    args: tuple[Any, ...]


def cases(remote: dict[tuple[str, str], str] | None = None) -> list[Case]:
    """The mix every user cycles through: QA, NER and tokenize, both languages, long text.

    ``remote``: (task, language) -> the model name to pick (``remote:<name>`` with
    ``--remote``); "auto" where it names none."""
    pick = remote or {}
    qa_en, qa_ja = pick.get(("qa", "en"), "auto"), pick.get(("qa", "ja"), "auto")
    ner_en, ner_ja = pick.get(("ner", "en"), "auto"), pick.get(("ner", "ja"), "auto")
    long = long_context()
    return [
        Case("qa-en", "/answer", ("Who wrote the report?", EN_CONTEXT, qa_en, ner_en)),
        Case("qa-ja", "/answer", ("どこに工場を建設しますか？", JA_CONTEXT, qa_ja, ner_ja)),
        Case("ner-en", "/ner", (EN_CONTEXT, ner_en)),
        Case("ner-ja", "/ner", (JA_CONTEXT, ner_ja)),
        Case("tokenize-en", "/tokenize", (EN_CONTEXT,)),
        Case("tokenize-ja", "/tokenize", (JA_CONTEXT,)),
        Case("qa-en-long", "/answer", ("Who kept the lighthouse of Dunmore?", long, qa_en, ner_en)),
    ]


def remote_picks(models: Path, url: str) -> dict[tuple[str, str], str]:
    """For each (task, language), a local model the server at ``url`` has ready, as the app
    lists it ("remote:<name>"): the mix then runs its models on the server."""
    from ..model_dir import discover_models
    from ..remote import RemoteBackend

    backend = RemoteBackend(url)
    picks: dict[tuple[str, str], str] = {}
    for m in discover_models(models):
        for language in m.languages:
            key = (m.task.value, language.value)
            if key not in picks and backend.serves(m.name):
                picks[key] = f"remote:{m.name}"
    if not picks:
        raise QADemoError(f"The model server at {url} has none of the models in {models} ready.")
    return picks
