"""``qa-demo eval``: run a model directory through the serving pipelines (QuestionAnswerer,
EntityTagger) and score what they return with ``scoring``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import DeviceError
from ..precision import runs_as_chosen
from ..types import Task, precision_label
from .agreement import TopAnswer, share_equal, top_answer
from .scoring import NERScores, QAScores, score_ner, score_qa

# -- running models -------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal)."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.label, self.enabled = total, label, enabled
        self.done = 0
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._last_decile = -1

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled or not self.total:
            return
        decile = self.done * 10 // self.total
        if not self.tty and decile == self._last_decile and self.done != self.total:
            return
        self._last_decile = decile
        rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
        width = 30
        filled = width * self.done // self.total
        bar = "#" * filled + "." * (width - filled)
        end = "\r" if self.tty and self.done < self.total else "\n"
        print(
            f"{self.label} [{bar}] {self.done}/{self.total} {rate:.1f}/s",
            end=end,
            file=sys.stderr,
            flush=True,
        )


def predict_qa(qa, examples, progress: bool = True) -> dict[str, TopAnswer | None]:
    """``{qid: top answer}``: its text is the prediction scored; with its span, it is what
    agreement between precisions compares."""
    bar = Progress(len(examples), "eval qa", progress)
    preds = {}
    for ex in examples:
        preds[ex.id] = top_answer(qa.ask(ex.question, ex.context).best)
        bar.update()
    return preds


def prediction_texts(preds: dict[str, TopAnswer | None]) -> dict[str, str]:
    """``{qid: answer text}``, the official predictions format ("" for no answer)."""
    return {qid: top.text if top else "" for qid, top in preds.items()}


def write_predictions(path: Path, preds: dict[str, TopAnswer | None]) -> None:
    text = json.dumps(prediction_texts(preds), ensure_ascii=False, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")


def evaluate_qa_examples(
    model_dir,
    examples,
    version: str = "1.1",
    language: str | None = None,
    progress: bool = True,
    options: dict | None = None,
    device: str = "CPU",
    precision: str = "FP32",
    dictionary: str | None = None,
    predictions_out: Path | None = None,
    int8_route: str | None = None,
) -> QAScores:
    examples = list(examples)
    preds = predict_qa_with(
        model_dir, examples, progress, options, device, precision, dictionary, int8_route
    )
    if predictions_out is not None:
        write_predictions(predictions_out, preds)
    lang = language or data_language(examples)
    return score_qa(examples, prediction_texts(preds), version, lang)


def predict_qa_with(
    model_dir,
    examples,
    progress: bool = True,
    options: dict | None = None,
    device: str = "CPU",
    precision: str = "FP32",
    dictionary: str | None = None,
    int8_route: str | None = None,
) -> dict[str, TopAnswer | None]:
    from ..qa import QAOptions, QuestionAnswerer

    qa = QuestionAnswerer.load(
        model_dir,
        device=device,
        precision=precision,
        options=QAOptions(**(options or {})),
        dictionary=dictionary,
        int8_route=int8_route,
    )
    _say_precision(qa, progress)
    return predict_qa(qa, examples, progress)


def _say_precision(pipeline, progress: bool) -> None:
    """What the scores are of: the precision chosen and executed (refused if emulation fails)."""
    executed = pipeline.compiled.executed_precision
    if not runs_as_chosen(pipeline.choice.precision, executed):
        raise DeviceError(f"BF16 executes as {executed} on this CPU; it cannot be scored here.")
    if progress:
        label = precision_label(pipeline.choice.requested.value, pipeline.choice.chosen, executed)
        print(f"precision: {label}", file=sys.stderr)


def answer_agreement(
    preds: dict[str, TopAnswer | None], reference: dict[str, TopAnswer | None]
) -> tuple[int, int]:
    """(questions whose top answer equals ``reference``'s, questions), by the one measure
    (``agreement.share_equal``): the INT8 cost in one number."""
    got = [preds.get(qid) for qid in reference]
    share = share_equal(Task.QA, got, list(reference.values()))
    return round(share * len(reference)), len(reference)


def data_language(examples) -> str:
    from ..segment import detect_language

    sample = " ".join(ex.context[:200] for ex in examples[:5])
    return detect_language(sample).value if sample else "en"


def evaluate_ner_examples(
    model_dir,
    examples,
    progress: bool = True,
    options: dict | None = None,
    device: str = "CPU",
    precision: str = "FP32",
    dictionary: str | None = None,
    int8_route: str | None = None,
) -> NERScores:
    from ..ner import EntityTagger, NEROptions

    tagger = EntityTagger.load(
        model_dir,
        device=device,
        precision=precision,
        options=NEROptions(**(options or {})),
        dictionary=dictionary,
        int8_route=int8_route,
    )
    _say_precision(tagger, progress)
    examples = list(examples)
    bar = Progress(len(examples), "eval ner", progress)
    gold, pred = [], []
    for ex in examples:
        gold.append([(e.start, e.end, e.label) for e in ex.entities])
        if ex.text.strip():
            result = tagger.tag(ex.text)
            pred.append([(e.start, e.end, e.label) for e in result.entities])
        else:
            pred.append([])
        bar.update()
    return score_ner(gold, pred)
