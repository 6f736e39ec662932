"""Pure functions from results to what the UI shows: highlights, tables, plots, summaries.

Nothing here imports gradio or touches a model, so every view is unit-tested from dataclasses.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..decode import CLS_INDEX, OUTSIDE, softmax, split_tag
from ..tokenization import Encoded
from ..types import Answer, Entity, Morpheme, TaggedToken, Window

if TYPE_CHECKING:
    from .service import Stage

#: The highlight label of the answer span. Entities keep their own labels; where the two
#: overlap the label is "ANSWER+<entity>", so both stay visible in one view.
ANSWER_LABEL = "ANSWER"
OVERLAP_JOIN = "+"
#: Fixed colours so that the answer always looks the same; entity colours cycle through the rest.
ANSWER_COLOR = "#f59e0b"
#: Entity colours avoid the answer's orange and the overlap's red, so those stay distinct.
ENTITY_COLORS = ("#60a5fa", "#34d399", "#a78bfa", "#2dd4bf", "#a3e635", "#38bdf8", "#94a3b8")
OVERLAP_COLOR = "#ef4444"
STAGES = ("segment", "tokenize", "infer", "postprocess")


def entity_type(label: str) -> str:
    """``B-PER`` / ``I-PER`` / ``L-PER`` / ``U-PER`` / ``PER`` -> ``PER``, as decode reads tags."""
    return split_tag(label)[1] or label


# -- 1. highlighted context ---------------------------------------------------------------------
def highlight_segments(
    text: str, answer: Answer | None, entities: Sequence[Entity] = ()
) -> list[tuple[str, str | None]]:
    """``text`` cut into (piece, label) runs; concatenating the pieces gives ``text`` back.

    Labels: ``ANSWER``, the entity type, ``ANSWER+TYPE`` where the answer and an entity overlap,
    None for plain text. Offsets are Python (code point) offsets, the engine's own.
    """
    spans: list[tuple[int, int, str]] = []
    if answer is not None and answer.end > answer.start:
        spans.append((answer.start, answer.end, ANSWER_LABEL))
    spans += [(e.start, e.end, entity_type(e.label)) for e in entities if e.end > e.start]
    cuts = sorted({0, len(text), *(p for s, e, _ in spans for p in (s, e) if 0 <= p <= len(text))})
    out: list[tuple[str, str | None]] = []
    for a, b in itertools.pairwise(cuts):
        if a == b:
            continue
        covering = [lab for s, e, lab in spans if s <= a and b <= e]
        is_answer = ANSWER_LABEL in covering
        kinds = sorted({lab for lab in covering if lab != ANSWER_LABEL})
        if is_answer and kinds:
            label: str | None = OVERLAP_JOIN.join([ANSWER_LABEL, *kinds])
        elif is_answer:
            label = ANSWER_LABEL
        else:
            label = "/".join(kinds) or None
        # Only plain text is merged: two adjacent entities of one type must stay two runs.
        if out and label is None and out[-1][1] is None:
            out[-1] = (out[-1][0] + text[a:b], label)
        else:
            out.append((text[a:b], label))
    return out


def segment_offsets(
    segments: Sequence[tuple[str, str | None]],
) -> list[tuple[int, int, str | None]]:
    """(start, end, label) of every run, in characters of the original text."""
    out, pos = [], 0
    for piece, label in segments:
        out.append((pos, pos + len(piece), label))
        pos += len(piece)
    return out


def color_map(segments: Sequence[tuple[str, str | None]]) -> dict[str, str]:
    labels = sorted({lab for _, lab in segments if lab})
    colors: dict[str, str] = {}
    entity_kinds = sorted({lab for lab in labels if not lab.startswith(ANSWER_LABEL)})
    for i, kind in enumerate(entity_kinds):
        colors[kind] = ENTITY_COLORS[i % len(ENTITY_COLORS)]
    for lab in labels:
        if lab == ANSWER_LABEL:
            colors[lab] = ANSWER_COLOR
        elif lab.startswith(ANSWER_LABEL):
            colors[lab] = OVERLAP_COLOR
    return colors


# -- 2. n-best ----------------------------------------------------------------------------------
NBEST_COLUMNS = ["rank", "answer", "score", "start", "end", "window"]


def nbest_rows(answers: Sequence[Answer]) -> list[list]:
    return [
        [i + 1, a.text or "(no answer)", round(a.score, 4), a.start, a.end, a.window]
        for i, a in enumerate(answers)
    ]


# -- 3. tokens ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenRow:
    """One WordPiece token traced back through every stage."""

    index: int
    surface: str  # text[start:end], as typed
    nfkc: str
    morpheme: str
    pos: str
    piece: str
    id: int
    start: int
    end: int
    tag: str
    tag_score: float | None
    unknown: bool
    text: str = "context"  # which text the offsets are into: "question" or "context"

    def to_json(self) -> dict:
        return asdict(self)


TOKEN_COLUMNS = [
    *("text", "#", "surface", "NFKC", "morpheme", "POS", "piece", "id", "start", "end"),
    *("NER tag", "NER score", "[UNK]"),
]


def _covering(start: int, spans: Sequence[tuple[int, int]]) -> int | None:
    """Index of the span containing character ``start`` (spans sorted, non-overlapping)."""
    lo, hi = 0, len(spans)
    while lo < hi:
        mid = (lo + hi) // 2
        if spans[mid][1] <= start:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(spans) and spans[lo][0] <= start < spans[lo][1]:
        return lo
    return None


def token_rows(
    text: str,
    encoded: Encoded,
    morphemes: Sequence[Morpheme],
    unk_id: int,
    tagged: Sequence[TaggedToken] = (),
    which: str = "context",
) -> list[TokenRow]:
    """Join WordPiece tokens with the morphemes and NER tags that cover them, by offsets.

    ``encoded`` is the pipeline's own encoding of ``text`` (``QAResult.context_encoding``,
    ``NERResult.encoding``): the table shows what the model saw, and nothing is tokenized a
    second time. Joining by offsets (not by index) lets the NER model have another tokenizer.
    """
    m_spans = [(m.start, m.end) for m in morphemes]
    t_spans = [(t.start, t.end) for t in tagged]
    rows = []
    for i, (piece, tid, (start, end)) in enumerate(
        zip(encoded.pieces, encoded.ids, encoded.offsets, strict=True)
    ):
        surface = text[start:end]
        m = _covering(start, m_spans)
        t = _covering(start, t_spans)
        rows.append(
            TokenRow(
                index=i,
                surface=surface,
                nfkc=unicodedata.normalize("NFKC", surface),
                morpheme=morphemes[m].surface if m is not None else "",
                pos=morphemes[m].pos if m is not None else "",
                piece=piece,
                id=int(tid),
                start=int(start),
                end=int(end),
                tag=tagged[t].tag if t is not None else "",
                tag_score=round(tagged[t].score, 4) if t is not None else None,
                unknown=int(tid) == unk_id,
                text=which,
            )
        )
    return rows


def token_table(rows: Sequence[TokenRow]) -> list[list]:
    return [
        [
            r.text,
            r.index,
            r.surface,
            r.nfkc,
            r.morpheme,
            r.pos,
            r.piece,
            r.id,
            r.start,
            r.end,
            r.tag or OUTSIDE,
            r.tag_score if r.tag_score is not None else "",
            "⚠ [UNK]" if r.unknown else "",
        ]
        for r in rows
    ]


# -- 4. start/end probabilities ------------------------------------------------------------------
def probability_frame(
    window: Window, start_logits: np.ndarray, end_logits: np.ndarray, mask: np.ndarray
):
    """Long-form frame (position, token, probability, kind) over one window's candidates.

    ``mask`` is the span search's own (``QAResult.candidate_masks``) and the softmax runs over
    it plus [CLS], as the search does, so the curves show the probabilities the answer was
    chosen from (a literal [SEP] in the context is masked in both).
    """
    import pandas as pd

    context = np.asarray(mask, dtype=bool)
    norm = context.copy()
    if len(norm):
        norm[CLS_INDEX] = True
    p_start = softmax(start_logits, norm)
    p_end = softmax(end_logits, norm)
    rows = []
    for pos in np.flatnonzero(context):
        a, b = window.offsets[pos] or (0, 0)
        label = f"{pos}:{a}-{b}"
        rows.append((int(pos), label, float(p_start[pos]), "start"))
        rows.append((int(pos), label, float(p_end[pos]), "end"))
    return pd.DataFrame(rows, columns=["position", "token", "probability", "kind"])


# -- 5. timings ---------------------------------------------------------------------------------
TIMING_COLUMNS = [
    *("pipeline", "segment", "tokenize", "infer", "postprocess", "total"),
    *("compile (first use)", "compiled now", "device", "precision", "executed"),
    "network (of infer)",
]


def timing_rows(stages: Sequence[Stage]) -> list[list]:
    rows = []
    for s in stages:
        t, p = s.timings, s.precision
        rows.append(
            [
                s.pipeline,
                round(t.segment, 2),
                round(t.tokenize, 2),
                round(t.infer, 2),
                round(t.postprocess, 2),
                round(t.total, 2),
                round(s.first_compile_ms, 1),
                "yes" if t.compile > 0.5 else "no (cached)",
                s.device,
                p.chosen if p else "",
                p.executed if p else "",
                round(t.network, 2),
            ]
        )
    return rows


def timing_frame(stages: Sequence[Stage]):
    """Long-form frame for a bar chart: steady-state stage times, compile kept out."""
    import pandas as pd

    rows = [
        (s.pipeline, stage, float(getattr(s.timings, stage))) for s in stages for stage in STAGES
    ]
    return pd.DataFrame(rows, columns=["pipeline", "stage", "ms"])


# -- 6. windows ---------------------------------------------------------------------------------
WINDOW_COLUMNS = ["window", "chars", "char start", "char end", "tokens", "starts with", "won"]
PREVIEW_CHARS = 24


def window_rows(text: str, windows: Sequence[Window], winner: int | None) -> list[list]:
    return [
        [
            w.index,
            w.char_end - w.char_start,
            w.char_start,
            w.char_end,
            len(w),
            text[w.char_start : w.char_start + PREVIEW_CHARS].replace("\n", " "),
            "★" if w.index == winner else "",
        ]
        for w in windows
    ]
