"""A finished run, turned into everything the page shows and the JSON: the page is built here.

``service`` runs a request and returns an ``AnswerRun`` (data only); ``answer_view`` and
``answer_json`` are the only readers of it. ``render`` holds the pure formatting pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import render
from .downloads import RunFiles
from .service import AnswerRun


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
    return render.answer_summary(
        run.qa.best,
        run.qa_model.name,
        run.ner_model.name if run.ner_model else None,
        len(run.ner.entities) if run.ner else 0,
        run.language.value,
        run.stages,
        run.notes,
    )


def answer_view(run: AnswerRun, files: RunFiles) -> AnswerView:
    import gradio as gr

    segments = highlight(run)
    qa, win = run.qa, winner(run)
    return AnswerView(
        highlighted=gr.update(value=segments, color_map=render.color_map(segments)),
        summary=summary(run),
        nbest=render.nbest_rows(qa.answers),
        tokens=render.token_table(run.question_tokens + run.tokens),
        probs=render.probability_frame(qa.windows[win], qa.start_logits[win], qa.end_logits[win]),
        timings=render.timing_rows(run.stages),
        timing_plot=render.timing_frame(run.stages),
        timing_md=render.timing_markdown(run.stages),
        windows_md=render.windows_markdown(len(qa.windows), win),
        windows=render.window_rows(run.context, qa.windows, win),
        download=str(files.write(answer_json(run))),
    )


def answer_json(run: AnswerRun) -> dict:
    """Everything about one run as JSON-ready data: the API's answer and the download."""
    segments = render.segment_offsets(highlight(run))
    return run_record(run) | {
        "language": run.language.value,
        "ner_model": run.ner_model.name if run.ner_model else None,
        "highlight": [{"start": s, "end": e, "label": lab} for s, e, lab in segments if lab],
        "notes": list(run.notes),
    }


def run_record(run: AnswerRun) -> dict:
    """Tokens, offsets, logits, timings and precision of one run."""
    qa, ner = run.qa, run.ner
    return {
        "model": run.qa_model.name,
        "question": run.question,
        "context": run.context,
        "answers": [{**a.to_json(), "window": a.window} for a in qa.answers],
        "null_score": qa.null_score,
        "device": qa.device,
        "precision": qa.precision.to_json() if qa.precision else None,
        "ner_precision": ner.precision.to_json() if ner and ner.precision else None,
        "entities": [e.to_json() for e in ner.entities] if ner else [],
        "tokens": [t.to_json() for t in run.tokens],
        "question_tokens": [t.to_json() for t in run.question_tokens],
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


def stage_record(s: render.StageTimes) -> dict:
    return {
        **s.timings.to_json(),
        "compile_this_request": round(s.timings.compile, 3),
        "first_compile": round(s.first_compile_ms, 3),
        "device": s.device,
        "precision": s.precision.to_json() if s.precision else None,
    }
