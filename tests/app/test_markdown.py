"""app/markdown.py: the Markdown of a run (summaries, timing lines, prompts), the user's own
words escaped."""

from __future__ import annotations

from qa_demo.app import markdown
from qa_demo.app.messages import Note
from qa_demo.app.service import Stage
from qa_demo.types import Answer, PrecisionInfo, Timings


def test_escape_neutralises_markup():
    assert markdown.escape('<script>alert("x")</script>') == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    )


INFO_AUTO = PrecisionInfo("AUTO", "INT8 (static)", "int8 matmuls (brgemm), f32 rest", "fastest")
INFO_FP32 = PrecisionInfo("FP32", "FP32", "f32", "FP32 as asked")


def _note(text: str) -> Note:
    """A note whose English text is ``text``."""
    return Note.of("engine_note", note=text)


def _stage(name="QA", info=INFO_AUTO, notes=()):
    notes = tuple(_note(n) for n in notes)
    return Stage(name, Timings(1.0, 2.0, 3.0, 4.0), 50.0, "CPU", info, notes)


def test_precision_text_shows_chosen_and_executed():
    assert markdown.precision_text(INFO_AUTO) == (
        "AUTO → INT8 (static), executed: int8 matmuls (brgemm), f32 rest"
    )
    assert markdown.precision_text(INFO_FP32) == "FP32, executed: f32"
    assert markdown.precision_text(None) == ""


def test_stage_line_gives_autos_reason_and_the_fallback():
    line = markdown.stage_line(_stage(), "en")
    assert "AUTO → INT8 (static), executed: int8 matmuls" in line and "— fastest" in line
    plain = markdown.stage_line(_stage(info=INFO_FP32, notes=("en-ner has no FP32 model",)), "en")
    assert "as asked" not in plain  # only AUTO's reason is worth a line
    assert "⚠ en-ner has no FP32 model" in plain


def test_answer_summary_escapes_user_text_and_says_each_note_once():
    best = Answer("<img src=x onerror=alert(1)> *bold* [link](x)", 0, 40, 0.5)
    note = "x has no INT8 model; using FP32."
    md = markdown.answer_summary(
        best,
        "en<qa>",
        None,
        0,
        "en",
        [_stage(notes=(note,))],
        (_note(note), _note("No NER model.")),
    )
    assert "<img" not in md and "&lt;img" in md
    assert "\\*bold\\*" in md and "\\[link\\]" in md  # Markdown is shown, not applied
    assert "en&lt;qa&gt;" in md and "NER: —" in md
    assert md.count(note) == 1 and "⚠ No NER model." in md


def test_a_note_of_every_pipeline_is_said_once():
    note = "GPU is not available on this machine; running on CPU."
    stages = [_stage("QA", notes=(note,)), _stage("NER", INFO_FP32, notes=(note, "ner only"))]
    md = markdown.answer_summary(None, "qa", "ner", 0, "en", stages, (_note(note),))
    assert md.count(note) == 1 and md.endswith(f"⚠ {markdown.escape(note)}")
    assert "**NER** on CPU: FP32, executed: f32 · ⚠ ner only" in md


def test_no_answer_headline():
    assert "No answer" in markdown.answer_headline(None)
    assert "No answer" in markdown.answer_headline(Answer("", 0, 0, 0.9, -1))
    assert "score 0.5000" in markdown.answer_headline(Answer("x", 1, 2, 0.5))


def test_timing_and_windows_markdown():
    md = markdown.timing_markdown([_stage(), _stage("NER", INFO_FP32)])
    assert md.count("  \n") == 1 and "**NER**: ran on **CPU** (FP32, executed: f32)" in md
    assert "first compile 50 ms (one-off, cached)" in md
    assert markdown.windows_markdown(1, 0).startswith("**1** window /")
    assert "**3** windows" in markdown.windows_markdown(3, 2) and "window **2**" in (
        markdown.windows_markdown(3, 2)
    )


def test_fetch_prompt_escapes_and_keeps_the_command():
    md = markdown.fetch_prompt("a/<b>", "desc_1", "qa-demo export a/b models/a--b --task qa")
    assert "&lt;b&gt;" in md and "desc\\_1" in md
    assert "`qa-demo export a/b models/a--b --task qa`" in md


def test_fetch_prompt_of_ready_ir_needs_no_export_extra():
    md = markdown.fetch_prompt("a/b", "d", "qa-demo fetch a/b --revision main", ready_ir=True)
    assert "ready-made OpenVINO IR" in md and "export" not in md.split("by hand")[0]
