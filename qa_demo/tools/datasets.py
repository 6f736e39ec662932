"""Readers for SQuAD-format QA data and NER data, with clear errors on malformed files."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError


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
                        answers = (
                            ()
                            if qa.get("is_impossible")
                            else _answers(
                                path,
                                qid,
                                context,
                                [a["text"] for a in qa["answers"]],
                                [a["answer_start"] for a in qa["answers"]],
                            )
                        )
                        examples.append(
                            QAExample(qid, qa["question"], context, answers, item.get("title", ""))
                        )
            else:  # flat: one question per item, answers as parallel lists
                qid = str(item["id"])
                ans = item["answers"]
                answers = _answers(path, qid, item["context"], ans["text"], ans["answer_start"])
                title = item.get("title", "")
                examples.append(QAExample(qid, item["question"], item["context"], answers, title))
        except KeyError as exc:
            ident = item.get("id") or item.get("title") or f"item {i}"
            raise DataError(f"{path}: {ident}: missing key {exc.args[0]!r}.") from None
    return examples


# -- NER ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntitySpan:
    """A gold entity: ``text[start:end]`` has type ``label``."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class NERExample:
    id: str
    text: str
    entities: tuple[EntitySpan, ...]
    group: str = ""  # the page (Stockmark curid) or document it comes from, for splits


def read_conll(path: str | Path) -> Iterator[NERExample]:
    """CoNLL ``token<TAB>tag`` lines, a blank line between sentences; BIO/IOB2 or BIOES tags.

    The text of a sentence is its tokens joined by single spaces, so the entity character
    spans computed here are the spans an EntityTagger reports on that text. Read line by line.
    """
    from ..decode import group_tags

    path = Path(path)
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0

    def sentence(number: int) -> NERExample:
        starts, pos = [], 0
        for tok in tokens:
            starts.append(pos)
            pos += len(tok) + 1
        spans = group_tags(tags, [1.0] * len(tags))
        entities = tuple(
            EntitySpan(starts[s.first], starts[s.last] + len(tokens[s.last]), s.label)
            for s in spans
        )
        return NERExample(
            f"sentence {number} (line {first_line})", " ".join(tokens), entities, str(number)
        )

    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc}") from exc
    number = 0
    with handle:
        for lineno, raw in enumerate(handle, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                if tokens:
                    yield sentence(number)
                    number += 1
                    tokens, tags = [], []
                continue
            if line.startswith("-DOCSTART-"):
                continue
            parts = line.split("\t") if "\t" in line else line.split()
            if len(parts) < 2:
                raise DataError(f"{path}: line {lineno}: expected 'token<TAB>tag', got {line!r}.")
            tag = parts[-1].strip()
            if not _valid_tag(tag):
                raise DataError(
                    f"{path}: line {lineno}: unknown tag {tag!r}; expected O or B-/I-/E-/S- "
                    "followed by a type (BIO, IOB2 or BIOES)."
                )
            if not tokens:
                first_line = lineno
            tokens.append(parts[0])
            tags.append(tag)
        if tokens:
            yield sentence(number)


def _valid_tag(tag: str) -> bool:
    from ..decode import OUTSIDE

    return tag == OUTSIDE or (
        len(tag) > 2 and tag[0] in "BIESLU" and tag[1] in "-_" and "," not in tag
    )


def read_stockmark(path: str | Path) -> list[NERExample]:
    """The Stockmark Wikipedia NER JSON: a list of {curid, text, entities: [{name, span, type}]}."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of {{curid, text, entities}} items.")
    examples = []
    for i, item in enumerate(data):
        ident = f"item {i}" + (
            f" (curid {item['curid']})" if isinstance(item, dict) and "curid" in item else ""
        )
        try:
            text = item["text"]
            entities = []
            for j, ent in enumerate(item["entities"]):
                start, end = ent["span"]
                if not (
                    isinstance(start, int)
                    and isinstance(end, int)
                    and 0 <= start < end <= len(text)
                ):
                    raise DataError(
                        f"{path}: {ident}: entity {j} span {ent['span']} is outside the text "
                        f"({len(text)} characters)."
                    )
                if text[start:end] != ent["name"]:
                    raise DataError(
                        f"{path}: {ident}: entity {j} span [{start}, {end}) reads "
                        f"{text[start:end]!r}, not its name {ent['name']!r}."
                    )
                entities.append(EntitySpan(start, end, str(ent["type"])))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            problem = f"missing key {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
            raise DataError(f"{path}: {ident}: {problem}.") from None
        entities.sort(key=lambda e: (e.start, e.end))
        examples.append(
            NERExample(str(item.get("curid", i)), text, tuple(entities), str(item.get("curid", i)))
        )
    return examples


def read_ner(path: str | Path) -> Iterator[NERExample]:
    """Stockmark JSON (``.json``) or CoNLL (anything else)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        yield from read_stockmark(path)
    else:
        yield from read_conll(path)


# -- deterministic splits -------------------------------------------------------------------------


def in_holdout(group: str, percent: float) -> bool:
    """Whether a group (article title, page id) falls in the held-out ``percent``.

    A hash of the group name, not a random draw: the split is the same on every machine and
    run, and all questions of one article (or sentences of one page) stay on one side.
    """
    if not 0 < percent < 100:
        raise ValueError(f"holdout percent must be between 0 and 100, got {percent}")
    return zlib.crc32(group.encode("utf-8")) % 10_000 < percent * 100


def qa_group(example: QAExample) -> str:
    return example.title or example.context


def split_examples(items: Iterable, percent: float | None, part: str, key) -> Iterator:
    """Keep the ``part`` ("train" or "heldout") of a hash split; everything if percent is None."""
    if part not in ("train", "heldout", "all"):
        raise ValueError(f"part must be train, heldout or all, got {part!r}")
    for item in items:
        if (
            percent is None
            or part == "all"
            or in_holdout(key(item), percent) == (part == "heldout")
        ):
            yield item
