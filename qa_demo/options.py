"""The project's vocabularies, one enum each. CLI choices, UI choices and validation use them.

Each enum parses user text once, at the edge, with ``parse``: case and the usual aliases are
accepted, anything else is an InputError that lists the choices.
"""

from __future__ import annotations

from enum import Enum

from .errors import InputError


class StrEnum(str, Enum):
    """``enum.StrEnum`` (3.11+) for Python 3.10, plus a forgiving ``parse``."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def aliases(cls) -> dict[str, str]:
        return {}

    @classmethod
    def choices(cls) -> list[str]:
        return [m.value for m in cls]

    @classmethod
    def parse(cls, value: object, what: str | None = None):
        """``value`` as a member; accepts members, any letter case and the aliases."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip()
            key = cls.aliases().get(key.lower(), key)
            for member in cls:
                if member.value.lower() == key.lower():
                    return member
        name = what or cls.__name__.lower()
        raise InputError(f"Unknown {name} {value!r}; expected one of {', '.join(cls.choices())}.")


class Precision(StrEnum):
    """What a user asks for. AUTO picks the fastest precision measured to agree with FP32."""

    AUTO = "AUTO"
    FP32 = "FP32"
    BF16 = "BF16"
    FP16 = "FP16"
    INT8 = "INT8"


class Int8Route(StrEnum):
    """How an INT8 IR was made: NNCF static PTQ (weights and activations) or weight-only."""

    STATIC = "static"
    WEIGHTS = "weights"


class Hint(StrEnum):
    """OpenVINO's PERFORMANCE_HINT values the project uses."""

    LATENCY = "LATENCY"
    THROUGHPUT = "THROUGHPUT"
    CUMULATIVE_THROUGHPUT = "CUMULATIVE_THROUGHPUT"


class Aggregation(StrEnum):
    """How NER word pieces form entities; each means what it does in transformers."""

    NONE = "none"
    SIMPLE = "simple"
    FIRST = "first"
    AVERAGE = "average"
    MAX = "max"


class TagScheme(StrEnum):
    """NER tag schemes. IO (only I- tags) is a training choice; BILOU reads as BIOES."""

    BIO = "BIO"
    IOB2 = "IOB2"
    BIOES = "BIOES"
    IO = "IO"

    @classmethod
    def aliases(cls) -> dict[str, str]:
        return {"bilou": "BIOES"}


class Dictionary(StrEnum):
    """MeCab dictionaries; the aliases are transformers' and MeCab's own spellings."""

    UNIDIC_LITE = "unidic-lite"
    JUMANDIC = "jumandic"
    IPADIC = "ipadic"

    @classmethod
    def aliases(cls) -> dict[str, str]:
        """transformers' ``mecab_dic`` names (full unidic is read as unidic-lite) and MeCab's."""
        return {"unidic_lite": "unidic-lite", "unidic": "unidic-lite", "juman": "jumandic"}

    @property
    def transformers_name(self) -> str:
        """The ``mecab_dic`` value of BertJapaneseTokenizer (jumandic has none there)."""
        return {"unidic-lite": "unidic_lite", "ipadic": "ipadic"}.get(self.value, "unidic_lite")


class TokenizerKind(StrEnum):
    """How a model's tokenizer finds words before its subword model: the one switch callers
    read (whether answers widen to words, which morphemes the token table shows)."""

    #: BertJapaneseTokenizer: MeCab morphemes on the NFKC text, then WordPiece.
    MECAB_WORDPIECE = "mecab-wordpiece"
    #: BERT: whitespace and punctuation words, then WordPiece.
    WORDPIECE = "wordpiece"
    #: SentencePiece (Unigram) over whitespace runs: a Japanese sentence is one "word".
    SENTENCEPIECE = "sentencepiece"
    #: SentencePiece within MeCab morphemes: no piece crosses a morpheme boundary, so an
    #: answer ends on one (``1998年`` rather than ``1998年に``).
    MECAB_SENTENCEPIECE = "mecab-sentencepiece"

    @property
    def words_are_units(self) -> bool:
        """Whether its words are units an answer may widen to (transformers advises
        align_to_words=False for SentencePiece Japanese: its words are whole sentences)."""
        return self is not TokenizerKind.SENTENCEPIECE
