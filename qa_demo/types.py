"""Small frozen dataclasses that flow between the stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any

import numpy as np


def values_equal(a: Any, b: Any) -> bool:
    """``==`` that also holds for numpy arrays (and tuples of them): same shape, same values."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and bool(np.array_equal(a, b))
        )
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(values_equal, a, b))
    return bool(a == b)


class ArrayEq:
    """Value equality for frozen dataclasses that hold numpy arrays (``eq=False`` on them):
    the generated ``==`` would compare arrays element-wise and raise on ``bool()``."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(
            values_equal(getattr(self, f.name), getattr(other, f.name))
            for f in fields(self)
            if f.compare
        )  # type: ignore[arg-type]

    __hash__ = None  # type: ignore[assignment]


class Language(str, Enum):
    JA = "ja"
    EN = "en"


class Task(str, Enum):
    QA = "qa"
    NER = "ner"


@dataclass(frozen=True)
class Morpheme:
    """A word from the segmenter; ``text[start:end]`` is its span in the original text."""

    surface: str
    pos: str
    start: int
    end: int


@dataclass(frozen=True)
class Token:
    """A WordPiece token. Offsets are into the original text; None for special tokens."""

    piece: str
    id: int
    start: int | None
    end: int | None
    sequence: int | None = None  # 0 = question (or NER text), 1 = context, None = special


@dataclass(frozen=True, eq=False)
class Window(ArrayEq):
    """One model input: a slice of the context (plus the question for QA)."""

    index: int
    input_ids: np.ndarray
    token_type_ids: np.ndarray
    attention_mask: np.ndarray
    offsets: tuple[tuple[int, int] | None, ...]  # char span in the original text, None if not text
    word_ids: tuple[int | None, ...]
    sequence_ids: tuple[int | None, ...]
    char_start: int  # first character of the text this window covers
    char_end: int
    token_start: int = 0  # index in the text's encoding of this window's first text token

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


@dataclass(frozen=True)
class Answer:
    """An answer span: always ``context[start:end]`` of the original context."""

    text: str
    start: int
    end: int
    score: float
    window: int = 0

    def to_json(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end, "score": self.score}


@dataclass(frozen=True)
class Entity:
    """A named entity: ``text[start:end]`` of the original text."""

    label: str
    text: str
    start: int
    end: int
    score: float

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "label": self.label,
            "start": self.start,
            "end": self.end,
            "score": self.score,
        }


@dataclass(frozen=True)
class TaggedToken:
    """A WordPiece token of the NER input with its predicted tag."""

    piece: str
    id: int
    start: int
    end: int
    tag: str
    score: float

    def to_json(self) -> dict:
        return {
            "piece": self.piece,
            "start": self.start,
            "end": self.end,
            "tag": self.tag,
            "score": self.score,
        }


def precision_label(requested: str, chosen: str, executed: str | None = None) -> str:
    """The one way a precision is written: "INT8 (static)", "AUTO → BF16", and with what
    executed when it is known: "AUTO → BF16, executed: bf16"."""
    label = f"AUTO → {chosen}" if requested == "AUTO" else chosen
    return f"{label}, executed: {executed}" if executed else label


@dataclass(frozen=True)
class PrecisionInfo:
    """The precision of a run: as asked, as chosen (and why), and as executed."""

    requested: str  # e.g. "AUTO"
    chosen: str  # e.g. "INT8 (static)"
    executed: str  # read back from the compiled model, e.g. "bf16"
    reason: str = ""

    def __str__(self) -> str:
        return precision_label(self.requested, self.chosen, self.executed)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Timings:
    """Wall-clock milliseconds per stage. ``compile`` is the one-off model compile, if any."""

    segment: float = 0.0
    tokenize: float = 0.0
    infer: float = 0.0
    postprocess: float = 0.0
    compile: float = 0.0
    #: Of ``infer``, the time on the wire to a model server (0 when the model runs here): the
    #: call's time less the server's own, or the whole call where the server reports none.
    network: float = 0.0

    @property
    def total(self) -> float:
        return self.segment + self.tokenize + self.infer + self.postprocess

    def to_json(self) -> dict:
        out = {k: round(v, 3) for k, v in asdict(self).items() if k != "compile"}
        out["total"] = round(self.total, 3)
        return out


class Completed:
    """A result: a task's decoded output completed with how the run went, in one step
    (``Pipeline.run``), so that no field is a placeholder filled in later."""

    @classmethod
    def of(cls, decoded: Any, timings: Timings, device: str, precision: PrecisionInfo):
        own = {f.name: getattr(decoded, f.name) for f in fields(decoded)}
        return cls(**own, timings=timings, device=device, precision=precision)


@dataclass(frozen=True, eq=False)
class QADecoded(ArrayEq):
    """What QA's postprocess decodes, with the encodings the token table reuses."""

    answers: tuple[Answer, ...]
    windows: tuple[Window, ...]
    start_logits: tuple[np.ndarray, ...]
    end_logits: tuple[np.ndarray, ...]
    #: Per window, the tokens an answer may start and end on (the span search's mask).
    candidate_masks: tuple[np.ndarray, ...]
    null_score: float | None
    question_encoding: Any  # tokenization.Encoded
    context_encoding: Any  # tokenization.Encoded

    @property
    def best(self) -> Answer | None:
        return self.answers[0] if self.answers else None


@dataclass(frozen=True, eq=False)
class QAResult(Completed, QADecoded):
    """What ``QuestionAnswerer.ask`` returns."""

    timings: Timings
    device: str
    precision: PrecisionInfo

    def to_json(self) -> dict:
        return {
            "answers": [a.to_json() for a in self.answers],
            "timings_ms": self.timings.to_json(),
            "device": self.device,
            "precision": self.precision.to_json(),
        }


@dataclass(frozen=True, eq=False)
class NERDecoded(ArrayEq):
    """What NER's postprocess decodes, with the encoding the token table reuses."""

    entities: tuple[Entity, ...]
    tokens: tuple[TaggedToken, ...]
    encoding: Any  # tokenization.Encoded


@dataclass(frozen=True, eq=False)
class NERResult(Completed, NERDecoded):
    """What ``EntityTagger.tag`` returns."""

    timings: Timings
    device: str
    precision: PrecisionInfo

    def to_json(self) -> dict:
        return {
            "entities": [e.to_json() for e in self.entities],
            "tokens": [t.to_json() for t in self.tokens],
            "timings_ms": self.timings.to_json(),
            "device": self.device,
            "precision": self.precision.to_json(),
        }
