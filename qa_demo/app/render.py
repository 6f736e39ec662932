"""Pure functions from results to what the UI shows: highlights, tables, plots, summaries.

Nothing here imports gradio or touches a model, so every view is unit-tested from dataclasses.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..decode import CLS_INDEX, OUTSIDE, softmax, split_tag
from ..tokenization import Encoded
from ..types import Answer, Entity, Morpheme, PrecisionInfo, TaggedToken, Window

if TYPE_CHECKING:
    from .messages import Note
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


# fmt: off
TOKEN_COLUMNS = ["text", "#", "surface", "NFKC", "morpheme", "POS", "piece", "id", "start", "end",
                 "NER tag", "NER score", "[UNK]"]
# fmt: on


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
def probability_frame(window: Window, start_logits: np.ndarray, end_logits: np.ndarray):
    """Long-form frame (position, token, probability, kind) over one window's context tokens.

    The softmax runs over the context tokens plus [CLS], as the span search does, so the
    curves show the probabilities the answer was chosen from.
    """
    import pandas as pd

    context = np.array([sid == 1 for sid in window.sequence_ids], dtype=bool)
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
# fmt: off
TIMING_COLUMNS = ["pipeline", "segment", "tokenize", "infer", "postprocess", "total",
                  "compile (first use)", "compiled now", "device", "precision", "executed"]
# fmt: on


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


# -- 7. summaries (the only Markdown built from user text: always escaped) ---------------------
#: Markdown punctuation that would format user text; backslash-escaped before HTML escaping.
_MARKDOWN = re.compile(r"([\\`*_\[\]|~$#])")


def escape(text: str) -> str:
    """User text made inert for gradio's Markdown: on one line, Markdown punctuation
    backslash-escaped, then HTML-escaped (so markup is shown, never run)."""
    one_line = text.replace("\r", " ").replace("\n", " ")
    return html.escape(_MARKDOWN.sub(r"\\\1", one_line), quote=True)


def precision_text(info: PrecisionInfo | None) -> str:
    """``AUTO → INT8 (static), executed: int8 matmuls (...), f32 rest``; "" without one."""
    if info is None:
        return ""
    chosen = f"AUTO → {info.chosen}" if info.requested == "AUTO" else info.chosen
    return f"{chosen}, executed: {info.executed}"


def stage_line(stage: Stage, lang: str, skip: Collection[str] = ()) -> str:
    """How one pipeline ran: device, chosen and executed precision, AUTO's reason, fallbacks."""
    info = stage.precision
    line = f"**{stage.pipeline}** on {escape(stage.device)}: {escape(precision_text(info))}"
    if info is not None and info.requested == "AUTO" and info.reason:
        line += f" — {escape(info.reason)}"
    notes = (n.text(lang) for n in stage.notes)
    return line + "".join(f" · ⚠ {escape(n)}" for n in notes if n not in skip)


def answer_headline(best: Answer | None) -> str:
    if best is None or best.end <= best.start:
        return "**回答なし / No answer**"
    return (
        f"**回答 / Answer:** {escape(best.text)} — score {best.score:.4f}, "
        f"chars {best.start}–{best.end}, window {best.window}"
    )


def answer_summary(
    best: Answer | None,
    qa_model: str,
    ner_model: str | None,
    n_entities: int,
    language: str,
    stages: Sequence[Stage] = (),
    notes: Sequence[Note] = (),
    lang: str = "en",
) -> str:
    """The summary line of a run: the answer, the models, how each pipeline ran, and the
    notes (fallbacks, a missing NER model) not already said on a pipeline's line, in the UI
    language ``lang``."""
    lines = [
        answer_headline(best),
        f"QA: {escape(qa_model)} · NER: {escape(ner_model or '—')} · {n_entities} entities · "
        f"language {escape(language)}",
    ]
    # A note of one pipeline goes on its line; one of several (a device fallback) once, after.
    counts = Counter(n.text(lang) for s in stages for n in dict.fromkeys(s.notes))
    shared = {n for n, k in counts.items() if k > 1}
    lines += [stage_line(s, lang, shared) for s in stages]
    notes = [n.text(lang) for n in notes]
    lines += [f"⚠ {escape(n)}" for n in dict.fromkeys([*notes, *shared]) if counts[n] != 1]
    return "  \n".join(lines)


def timing_markdown(stages: Sequence[Stage]) -> str:
    return "  \n".join(
        f"**{s.pipeline}**: ran on **{escape(s.device)}** ({escape(precision_text(s.precision))})"
        f" · steady-state {s.timings.total:.1f} ms · first compile {s.first_compile_ms:.0f} ms "
        f"(one-off{', this request' if s.timings.compile > 0.5 else ', cached'})"
        for s in stages
    )


def windows_markdown(n_windows: int, winner: int) -> str:
    return (
        f"**{n_windows}** window{'s' if n_windows != 1 else ''} / ウィンドウ数 {n_windows}; "
        f"the answer came from window **{winner}** (★)."
    )


def fetch_prompt(hub_id: str, description: str, command: str) -> str:
    """The offer to download a catalog model that is not local yet."""
    return (
        f"**{escape(hub_id)}** — {escape(description)}  \n"
        "まだダウンロードされていません。ダウンロードして OpenVINO に変換しますか？ "
        "Not downloaded yet: download it and convert it to OpenVINO? "
        f"(needs network and `pip install 'qa-demo[export]'`; by hand: `{command}`)"
    )
