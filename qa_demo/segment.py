"""Word segmentation: MeCab (through fugashi) for Japanese, BERT's basic split for English.

Every morpheme carries ``[start, end)`` offsets into the *original* string. MeCab runs on the
NFKC form (as transformers' BertJapaneseTokenizer does), and ``tokenizers``' NormalizedString
keeps the alignment back to the original characters.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

from .errors import MissingDependencyError
from .options import Dictionary
from .types import Language, Morpheme

#: Dictionaries users can pick (``options.Dictionary`` holds the names and their aliases).
DICTIONARIES = tuple(Dictionary.choices())
#: Where Debian's mecab-jumandic-utf8 puts the compiled dictionary.
JUMANDIC_DIRS = ("/var/lib/mecab/dic/juman-utf8", "/usr/lib/x86_64-linux-gnu/mecab/dic/juman-utf8")
#: Share of Japanese-script characters (kana, kanji, full-width forms) above which text is "ja".
JAPANESE_SCRIPT_SHARE = 0.1

_JAPANESE_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f\u3000-\u303f]")
_NON_SPACE = re.compile(r"\S+")
#: Texts whose morphemes a segmenter remembers (shared by all threads, so at most this many
#: texts of MAX_TEXT_CHARS): one request segments the same context for the QA tokenizer, the
#: NER tokenizer and the UI's token table, and MeCab then runs once, not three times.
RECENT_TEXTS = 4
#: SentencePiece's mark for "whitespace before": its pre-tokens start with it.
METASPACE = "\u2581"


def detect_language(text: str) -> Language:
    """Japanese if enough of the letters are kana/kanji, else English."""
    letters = [c for c in text if not c.isspace()]
    if not letters:
        return Language.EN
    share = sum(1 for c in letters if _JAPANESE_CHAR.match(c)) / len(letters)
    return Language.JA if share >= JAPANESE_SCRIPT_SHARE else Language.EN


def normalize_dictionary(name: str) -> str:
    """Our name for a MeCab dictionary (any case, transformers' and MeCab's spellings)."""
    return Dictionary.parse(name, "MeCab dictionary").value


def _jumandic_dir() -> str | None:
    return next((d for d in JUMANDIC_DIRS if os.path.isfile(os.path.join(d, "sys.dic"))), None)


def mecab_arguments(dictionary: str) -> str:
    """The MeCab command line for a dictionary, or a MissingDependencyError with a hint."""
    dictionary = normalize_dictionary(dictionary)
    if dictionary == "unidic-lite":
        try:
            import unidic_lite
        except ImportError as exc:
            raise MissingDependencyError("pip install unidic-lite") from exc
        rc = os.path.join(unidic_lite.DICDIR, "mecabrc")
        return f'-d "{unidic_lite.DICDIR}" -r "{rc}"'
    if dictionary == "jumandic":
        path = _jumandic_dir()
        if path is None:
            raise MissingDependencyError(
                "The jumandic dictionary is not installed; on Debian/Ubuntu run: "
                "apt-get install mecab-jumandic-utf8"
            )
        # Debian's dictionary has no mecabrc of its own and needs none of its settings.
        return f'-r /dev/null -d "{path}"'
    try:
        import ipadic
    except ImportError as exc:
        raise MissingDependencyError("The ipadic dictionary needs: pip install ipadic") from exc
    return ipadic.MECAB_ARGS


def available_dictionaries() -> list[str]:
    """The dictionaries that can be loaded on this machine, in preference order."""
    found = []
    for name in DICTIONARIES:
        try:
            mecab_arguments(name)
        except MissingDependencyError:
            continue
        found.append(name)
    return found


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    pos: str


class MecabSegmenter:
    """MeCab through fugashi. One tagger per instance, guarded by a lock (MeCab is stateful)."""

    def __init__(self, dictionary: str = "unidic-lite") -> None:
        self.dictionary = normalize_dictionary(dictionary)
        try:
            import fugashi
        except ImportError as exc:
            raise MissingDependencyError("Japanese needs fugashi: pip install fugashi") from exc
        # GenericTagger, as transformers' MecabTokenizer uses, so the surfaces are identical.
        self._tagger = fugashi.GenericTagger(mecab_arguments(self.dictionary))
        self._lock = threading.Lock()
        self._clock = threading.local()
        self._recent: OrderedDict[str, tuple[_Span, ...]] = OrderedDict()

    @property
    def elapsed(self) -> float:
        """Seconds this thread has spent inside MeCab since the last ``reset_clock``."""
        return getattr(self._clock, "seconds", 0.0)

    def reset_clock(self) -> None:
        self._clock.seconds = 0.0

    def spans(self, text: str) -> list[_Span]:
        """Morpheme spans of ``text`` (already normalized), as offsets into ``text``."""
        with self._lock:
            hit = self._recent.get(text)
            if hit is not None:
                self._recent.move_to_end(text)
                return list(hit)
        out = self._tag(text)
        with self._lock:
            self._recent[text] = tuple(out)
            if len(self._recent) > RECENT_TEXTS:
                self._recent.popitem(last=False)
        return out

    def _tag(self, text: str) -> list[_Span]:
        # MeCab reads C strings: a NUL would end the input early. A space has the same length
        # and MeCab skips it, so offsets stay valid.
        safe = text.replace("\x00", " ")
        t0 = time.perf_counter()
        with self._lock:
            words = [(w.surface, w.feature[0] if w.feature else "") for w in self._tagger(safe)]
        self._clock.seconds = self.elapsed + time.perf_counter() - t0
        out: list[_Span] = []
        cursor = 0
        for surface, pos in words:
            start = safe.find(surface, cursor)
            if not surface or start < 0:
                continue  # MeCab never invents text; skip anything we cannot place.
            end = start + len(surface)
            # transformers runs each surface through whitespace_tokenize; do the same.
            for piece in _NON_SPACE.finditer(safe, start, end):
                out.append(_Span(piece.start(), piece.end(), pos))
            cursor = end
        return out

    # -- tokenizers custom pre-tokenizer protocol -------------------------------------------
    def mecab_split(self, _index: int, normalized):  # NormalizedString -> list[NormalizedString]
        return [normalized[s.start : s.end] for s in self.spans(str(normalized))]

    def pre_tokenize(self, pretok) -> None:
        pretok.split(self.mecab_split)

    def metaspace_split(self, _index: int, normalized):
        """MeCab within one SentencePiece pre-token (``▁`` + a whitespace-delimited run): the
        ``▁`` stays on the first morpheme, as SentencePiece put it on the run."""
        text = str(normalized)
        lead = len(METASPACE) if text.startswith(METASPACE) else 0
        spans = self.spans(text[lead:])
        if len(spans) < 2:
            return [normalized]
        cuts = [0, *(s.start + lead for s in spans[1:]), len(text)]
        return [normalized[a:b] for a, b in pairwise(cuts)]

    # -- segmentation with original offsets --------------------------------------------------
    def segment(self, text: str, nfkc: bool = True) -> list[Morpheme]:
        from tokenizers import PreTokenizedString

        pts = PreTokenizedString(text)
        if nfkc:
            pts.normalize(lambda n: n.nfkc())
        pos_by_split: list[str] = []

        def split(i, normalized):
            spans = self.spans(str(normalized))
            pos_by_split.extend(s.pos for s in spans)
            return [normalized[s.start : s.end] for s in spans]

        pts.split(split)
        splits = pts.get_splits(offset_referential="original", offset_type="char")
        return [
            Morpheme(surface, pos, start, end)
            for (surface, (start, end), _), pos in zip(splits, pos_by_split, strict=True)
        ]


class MecabAfterMetaspace:
    """The pre-tokenizer step after SentencePiece's Metaspace: each run split into morphemes."""

    def __init__(self, segmenter: MecabSegmenter) -> None:
        self.segmenter = segmenter

    def pre_tokenize(self, pretok) -> None:
        pretok.split(self.segmenter.metaspace_split)


def english_words(text: str) -> list[Morpheme]:
    """BERT's basic pre-tokenization (whitespace and punctuation), with offsets."""
    from tokenizers.pre_tokenizers import BertPreTokenizer

    return [
        Morpheme(word, "punct" if not word[0].isalnum() else "word", start, end)
        for word, (start, end) in BertPreTokenizer().pre_tokenize_str(text)
    ]


def mecab(dictionary: str = "unidic-lite") -> MecabSegmenter:
    """A shared segmenter per dictionary; building a MeCab tagger costs ~50 ms.

    The name is normalised before the cache, so "juman" and "jumandic" share one tagger
    (and one clock: the segmentation time is read from the tagger that did the work).
    """
    return _mecab(normalize_dictionary(dictionary))


@cache
def _mecab(dictionary: str) -> MecabSegmenter:
    return MecabSegmenter(dictionary)


def segment(
    text: str, language: Language | str | None = None, dictionary: str = "unidic-lite"
) -> list[Morpheme]:
    """Segment text into words with original offsets; language auto-detected when None."""
    lang = Language(language) if language else detect_language(text)
    if lang is Language.JA:
        return mecab(dictionary).segment(text)
    return english_words(text)


def iter_surfaces(morphemes: list[Morpheme]) -> Iterator[str]:
    return (m.surface for m in morphemes)


def morpheme_segmenter(dictionary: str | None, language: Language):
    """What the token table shows as morphemes: MeCab for Japanese, with the tokenizer's own
    dictionary or, for a tokenizer that uses none (SentencePiece), unidic-lite; English words
    otherwise."""
    if dictionary:
        return mecab(dictionary).segment
    return mecab().segment if language is Language.JA else english_words
