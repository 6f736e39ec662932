"""A finished run, turned into everything the page shows and the JSON: the page is built here.

``service`` runs a request and returns an ``AnswerRun`` (data only); ``answer_view`` and
``answer_json`` are the only readers of it. ``render`` holds the pure formatting pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import markdown, render
from .downloads import RunFiles
from .service import AnswerRun, NERRun, Stage, TokenizeRun


@dataclass(frozen=True)
class AnswerView:
    """What one answer shows; the field names are the output components' names in layout."""

    highlighted: Any  # gr.update(value=segments, color_map=...)
    summary: str
    nbest: list
    tokens: list
    probs: Any
    timings: list
    timing_plot: Any
    timing_md: str
    windows_md: str
    windows: list
    download: str


def winner(run: AnswerRun) -> int:
    """The window the best answer came from (0 when there is none)."""
    best = run.qa.best
    return best.window if best is not None and best.window >= 0 else 0


def highlight(run: AnswerRun) -> list[tuple[str, str | None]]:
    best = run.qa.best
    answer = best if best is not None and best.end > best.start else None
    entities = run.ner.entities if run.ner else ()
    return render.highlight_segments(run.context, answer, entities)


def summary(run: AnswerRun) -> str:
    return markdown.answer_summary(
        run.qa.best,
        run.qa_model.name,
        run.ner_model.name if run.ner_model else None,
        len(run.ner.entities) if run.ner else 0,
        run.request.language.value,
        run.stages,
        run.notes,
        run.request.ui,
    )


def notes(run: AnswerRun | NERRun) -> list[str]:
    """The run's notes in the UI language (toasts once a session, the API's "notes")."""
    lang = run.request.ui
    return [n.text(lang) for n in run.notes]


def token_rows(run: AnswerRun) -> tuple[list[render.TokenRow], list[render.TokenRow]]:
    """Question and context rows from the encodings the QA pipeline made (no second
    tokenization), joined with morphemes and with the NER tags by offsets."""
    req, qa = run.request, run.qa
    q_morphemes, c_morphemes = run.morphemes
    tags = run.ner.tokens if run.ner else ()
    question = render.token_rows(
        req.question, qa.question_encoding, q_morphemes, run.unk_id, which="question"
    )
    context = render.token_rows(req.context, qa.context_encoding, c_morphemes, run.unk_id, tags)
    return question, context


def answer_view(run: AnswerRun, files: RunFiles) -> AnswerView:
    import gradio as gr

    segments = highlight(run)
    qa, win = run.qa, winner(run)
    question_rows, context_rows = token_rows(run)
    return AnswerView(
        highlighted=gr.update(value=segments, color_map=render.color_map(segments)),
        summary=summary(run),
        nbest=render.nbest_rows(qa.answers),
        tokens=render.token_table(question_rows + context_rows),
        probs=render.probability_frame(
            qa.windows[win], qa.start_logits[win], qa.end_logits[win], qa.candidate_masks[win]
        ),
        timings=render.timing_rows(run.stages),
        timing_plot=render.timing_frame(run.stages),
        timing_md=markdown.timing_markdown(run.stages),
        windows_md=markdown.windows_markdown(len(qa.windows), win),
        windows=render.window_rows(run.context, qa.windows, win),
        download=str(files.write(answer_json(run, (question_rows, context_rows), segments))),
    )


def answer_json(
    run: AnswerRun,
    rows: tuple[list[render.TokenRow], list[render.TokenRow]] | None = None,
    segments: list[tuple[str, str | None]] | None = None,
) -> dict:
    """Everything about one run as JSON-ready data: the API's answer and the download.
    ``rows`` and ``segments``: the page's own, when it was just built (not made twice)."""
    offsets = render.segment_offsets(segments if segments is not None else highlight(run))
    return run_record(run, rows or token_rows(run)) | {
        "language": run.request.language.value,
        "ner_model": run.ner_model.name if run.ner_model else None,
        "highlight": [{"start": s, "end": e, "label": lab} for s, e, lab in offsets if lab],
        "notes": notes(run),
    }


def run_record(run: AnswerRun, rows: tuple[list[render.TokenRow], list[render.TokenRow]]) -> dict:
    """Tokens (``rows``: question's, context's), offsets, logits, timings and precision."""
    qa, ner = run.qa, run.ner
    question_rows, context_rows = rows
    return {
        "model": run.qa_model.name,
        "question": run.request.question,
        "context": run.context,
        "answers": [{**a.to_json(), "window": a.window} for a in qa.answers],
        "null_score": qa.null_score,
        "device": qa.device,
        "precision": qa.precision.to_json() if qa.precision else None,
        "ner_precision": ner.precision.to_json() if ner and ner.precision else None,
        "entities": [e.to_json() for e in ner.entities] if ner else [],
        "tokens": [t.to_json() for t in context_rows],
        "question_tokens": [t.to_json() for t in question_rows],
        "windows": [
            {
                "index": w.index,
                "char_start": w.char_start,
                "char_end": w.char_end,
                "input_ids": [int(x) for x in w.input_ids],
                "offsets": [list(o) if o else None for o in w.offsets],
                "start_logits": [round(float(x), 5) for x in s],
                "end_logits": [round(float(x), 5) for x in e],
            }
            for w, s, e in zip(qa.windows, qa.start_logits, qa.end_logits, strict=True)
        ],
        "timings_ms": {s.pipeline: stage_record(s) for s in run.stages},
    }


def stage_record(s: Stage) -> dict:
    return {
        **s.timings.to_json(),
        "compile_this_request": round(s.timings.compile, 3),
        "first_compile": round(s.first_compile_ms, 3),
        "device": s.device,
        "precision": s.precision.to_json() if s.precision else None,
    }


def ner_json(run: NERRun) -> dict:
    return {"model": run.model.name, **run.result.to_json(), "notes": notes(run)}


def tokenize_json(run: TokenizeRun) -> dict:
    tok = run.tokenizer
    rows = render.token_rows(run.text, run.encoding, run.morphemes, tok.unk_id)
    return {
        "model": run.model.name,
        "language": run.model.language.value,
        "tokenizer": tok.kind.value,
        "dictionary": tok.dictionary,
        "morphemes": [
            {"surface": m.surface, "pos": m.pos, "start": m.start, "end": m.end}
            for m in run.morphemes
        ],
        "tokens": [r.to_json() for r in rows],
    }
