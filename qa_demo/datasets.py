"""Readers for SQuAD-format QA data and NER data, with clear errors on malformed files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError


@dataclass(frozen=True)
class QAExample:
    id: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...]  # (text, answer_start); empty when unanswerable
    title: str = ""

    @property
    def is_impossible(self) -> bool:
        return not self.answers


def _load_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON: {exc}") from exc


def _answers(path, qid, context, texts, starts) -> tuple[tuple[str, int], ...]:
    out = []
    for text, start in zip(texts, starts, strict=True):
        if not isinstance(start, int) or context[start : start + len(text)] != text:
            raise DataError(
                f"{path}: question {qid}: answer_start {start} does not match answer text "
                f"{text!r} (the context there reads {context[start : start + len(text)]!r})."
            )
        out.append((text, start))
    return tuple(out)


def squad_version(path: str | Path) -> str:
    data = _load_json(Path(path))
    return str(data.get("version", "1.1")) if isinstance(data, dict) else "1.1"


def read_squad(path: str | Path) -> list[QAExample]:
    """Nested SQuAD v1.1/v2.0 (and JSQuAD), or the flat Hugging Face ``datasets`` layout."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError(f"{path}: expected a JSON object with a 'data' list (SQuAD format).")
    examples: list[QAExample] = []
    for i, item in enumerate(data["data"]):
        try:
            if "paragraphs" in item:  # nested: article -> paragraphs -> qas
                for para in item["paragraphs"]:
                    context = para["context"]
                    for qa in para["qas"]:
                        qid = str(qa["id"])
                        answers = () if qa.get("is_impossible") else _answers(
                            path,
                            qid,
                            context,
                            [a["text"] for a in qa["answers"]],
                            [a["answer_start"] for a in qa["answers"]],
                        )
                        examples.append(
                            QAExample(qid, qa["question"], context, answers, item.get("title", ""))
                        )
            else:  # flat: one question per item, answers as parallel lists
                qid = str(item["id"])
                ans = item["answers"]
                answers = _answers(path, qid, item["context"], ans["text"], ans["answer_start"])
                examples.append(
                    QAExample(qid, item["question"], item["context"], answers, item.get("title", ""))
                )
        except KeyError as exc:
            ident = item.get("id") or item.get("title") or f"item {i}"
            raise DataError(f"{path}: {ident}: missing key {exc.args[0]!r}.") from None
    return examples
