"""Validation of user text, done once at the edge before any stage runs."""

from __future__ import annotations

import unicodedata

from .errors import TextError

#: Longest context or NER text accepted, in characters. About 60 pages of Japanese text; beyond
#: this one request would hold a CPU worker for many seconds.
MAX_TEXT_CHARS = 100_000
#: Longest question accepted, in characters.
MAX_QUESTION_CHARS = 1_000
#: Most answers one request may ask for; the n-best table has no use for more.
MAX_TOP_K = 20
#: Longest answer span, in tokens (a window holds at most 512).
MAX_ANSWER_TOKENS = 512


#: Unicode category groups that show nothing: separators (Z*) and others (C*: control, format
#: such as U+200B zero-width space, unassigned).
INVISIBLE_CATEGORY_GROUPS = frozenset("ZC")


def is_invisible(text: str) -> bool:
    """Whether ``text`` shows nothing: only whitespace, control and format characters."""
    return all(unicodedata.category(c)[0] in INVISIBLE_CATEGORY_GROUPS for c in text)


def check_text(text: object, what: str = "text", limit: int = MAX_TEXT_CHARS) -> str:
    """Return ``text`` unchanged if it is usable, else raise TextError saying why.

    The one rule set for user text: the CLI, the Python API and the app all check with it (the
    app translates the TextError at its edge).
    """
    if not isinstance(text, str):
        raise TextError(
            f"The {what} must be a string, but got {type(text).__name__}.", what, "not_text"
        )
    if not text.strip():
        raise TextError(f"The {what} is empty; expected some non-whitespace text.", what, "empty")
    if len(text) > limit:
        raise TextError(
            f"The {what} is {len(text):,} characters long; the limit is {limit:,} characters.",
            what,
            "too_long",
            n=len(text),
            limit=limit,
        )
    if is_invisible(text):
        raise TextError(
            f"The {what} has no visible characters, only control or format ones such as "
            "zero-width spaces; expected some text.",
            what,
            "invisible",
        )
    return text
