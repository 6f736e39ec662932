"""Requests (answer, ner, tokenize, compare) against a registry; no gradio here.

``Settings`` is what the user picked, parsed once into the project's enums; ``DemoService``
resolves it (model, device, precision), runs the pipelines and returns plain dataclasses.
A fallback the user did not ask for (another precision, CPU for a missing device) is a note on
the run, in the UI language; the UI says it once per session and on the run's summary line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

from ..errors import InputError, NonFiniteOutputError, QADemoError
from ..inputs import MAX_QUESTION_CHARS
from ..model_dir import ModelDir
from ..options import Dictionary, Precision
from ..precision import unsupported_message
from ..qa import QAOptions
from ..segment import morpheme_segmenter
from ..types import Language, NERResult, QAResult, Task
from . import render
from .messages import UserMessage, check_input, message, ui_language
from .registry import AUTO, ModelRegistry, Selection

#: The device a missing accelerator falls back to.
FALLBACK_DEVICE = "CPU"
#: Accelerators a user may ask for that this machine may lack (a fallback, not an error).
ACCELERATORS = ("GPU", "NPU")


@dataclass(frozen=True)
class Settings:
    """What the user picked; "auto" where they left it. Parsed (and checked) once, here."""

    model: str = AUTO
    ner_model: str = AUTO
    language: str = AUTO
    device: str = "CPU"
    precision: Precision = Precision.AUTO
    dictionary: str = AUTO

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision.parse(self.precision, "precision"))
        language = (self.language or AUTO).lower()
        if language not in (AUTO, *(lang.value for lang in Language)):
            raise InputError(f"Unknown language {self.language!r}; expected auto, ja or en.")
        object.__setattr__(self, "language", language)
        if self.dictionary not in (AUTO, "", None):
            object.__setattr__(self, "dictionary", Dictionary.parse(self.dictionary).value)

    @property
    def dictionary_name(self) -> str | None:
        return None if self.dictionary in (AUTO, "", None) else self.dictionary

    @property
    def auto_ner(self) -> bool:
        return self.ner_model in (AUTO, "", None)


def has_precision(model: ModelDir, precision: Precision) -> bool:
    """Whether ``model`` has the IR ``precision`` runs (BF16 and FP16 run the FP32 IR)."""
    if precision is Precision.AUTO:
        return True
    return ("INT8" if precision is Precision.INT8 else "FP32") in model.precisions


@dataclass(frozen=True)
class AnswerRun:
    """Everything one click of "Answer" produced."""

    question: str
    context: str
    language: Language
    qa_model: ModelDir
    qa: QAResult
    tokens: tuple[render.TokenRow, ...]  # the context's, from the QA pipeline's own encoding
    stages: tuple[render.StageTimes, ...]
    ner_model: ModelDir | None = None
    ner: NERResult | None = None
    notes: tuple[str, ...] = ()  # fallbacks and a missing NER model, in the UI language
    question_tokens: tuple[render.TokenRow, ...] = ()


@dataclass(frozen=True)
class _Tagged:
    """The NER half of an answer: its model, result and stage, or only the notes why not."""

    notes: tuple[str, ...]
    model: ModelDir | None = None
    result: NERResult | None = None
    stage: render.StageTimes | None = None


class DemoService:
    """Runs requests against a registry; no gradio here."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        #: Tokenizers for /tokenize by (model dir, dictionary): loading one per request read
        #: its vocabulary every time (slow, and the memory churn of it grew RSS under load).
        self._tokenizers: dict[tuple[str, str | None], object] = {}
        self._tokenizers_lock = threading.Lock()

    # -- resolving settings -------------------------------------------------------------------
    def _language(self, settings: Settings, text: str) -> Language:
        from ..segment import detect_language

        if settings.language != AUTO:
            return Language(settings.language)
        return detect_language(text)

    def _select(
        self, task: Task, name: str, language: Language, settings: Settings, lang: str
    ) -> tuple[Selection, tuple[str, ...]]:
        """The model, device and precision to run, and the fallbacks that were needed."""
        model = self.registry.model(name, task, language, lang)
        notes: list[str] = []
        device = self._device(settings.device, lang, notes)
        precision = self._precision(model, device, settings.precision, lang, notes)
        return Selection(model, device, precision, settings.dictionary_name), tuple(notes)

    def _device(self, device: str, lang: str, notes: list[str]) -> str:
        """``device``, or CPU (with a note) for an accelerator this machine lacks."""
        device = (device or FALLBACK_DEVICE).strip().upper()
        base = device.split(":", 1)[0].split(".", 1)[0]
        if base in ACCELERATORS and not self.registry.has_device(device):
            notes.append(message("no_device", lang, device=device, fallback=FALLBACK_DEVICE))
            return FALLBACK_DEVICE
        return self.registry.engine.check_device(device)

    def _precision(
        self, model: ModelDir, device: str, asked: Precision, lang: str, notes: list[str]
    ) -> Precision:
        """``asked`` if the device supports it (else one clear line) and the model has its IR;
        otherwise the precision the model has, with a note."""
        caps = self.registry.capabilities(device)
        if not caps.supports(asked):
            detail = unsupported_message(asked, caps)
            raise UserMessage(message("unsupported_precision", lang, detail=detail))
        if has_precision(model, asked):
            return asked
        fallback = Precision.FP32 if asked is Precision.INT8 else Precision.INT8
        notes.append(
            message(
                "no_precision",
                lang,
                model=model.name,
                precision=asked.value,
                fallback=fallback.value,
            )
        )
        return fallback

    def _run(
        self,
        task: Task,
        sel: Selection,
        call: Callable,
        lang: str,
        notes: tuple[str, ...],
    ) -> tuple:
        """(pipeline, call(pipeline), notes): once more at FP32, with a note, if the runtime
        returned NaN at a faster precision (a runtime fault, as on AMX in issue 20)."""
        pipeline = self.registry.pipeline(task, sel)
        try:
            return pipeline, call(pipeline), notes
        except NonFiniteOutputError:
            fp32 = replace(sel, precision=Precision.FP32)
            if pipeline.precision is Precision.FP32 or not has_precision(sel.model, Precision.FP32):
                raise
        note = message(
            "non_finite",
            lang,
            model=sel.model.name,
            precision=pipeline.choice.label,
            device=sel.device,
        )
        pipeline = self.registry.pipeline(task, fp32)
        return pipeline, call(pipeline), (*notes, note)

    # -- requests -----------------------------------------------------------------------------
    def answer(
        self, question: str, context: str, settings: Settings, options: QAOptions | None = None
    ) -> AnswerRun:
        """QA on the context, NER on it with a model of the same language, the token table."""
        lang = ui_language(settings.language, context)
        check_input(question, "question", lang, MAX_QUESTION_CHARS)
        check_input(context, "context", lang)
        language = self._language(settings, context)
        sel, notes = self._select(Task.QA, settings.model, language, settings, lang)
        overrides = asdict(options) if options else {}
        qa, result, notes = self._run(
            Task.QA, sel, lambda qa: qa.ask(question, context, **overrides), lang, notes
        )
        stage = render.StageTimes(
            "QA", result.timings, qa.compiled.compile_ms, result.device, result.precision, notes
        )
        tagged = self._tag(context, settings, sel.model.language, lang)
        question_rows, context_rows = self._token_rows(
            qa.tokenizer, sel.model.language, question, context, result, tagged.result
        )
        return AnswerRun(
            question=question,
            context=context,
            language=language,
            qa_model=sel.model,
            qa=result,
            tokens=context_rows,
            stages=(stage, tagged.stage) if tagged.stage else (stage,),
            ner_model=tagged.model,
            ner=tagged.result,
            notes=tuple(dict.fromkeys(notes + tagged.notes + self.engine_notes(lang))),
            question_tokens=question_rows,
        )

    def _token_rows(
        self,
        tok,
        lang: Language,
        question: str,
        context: str,
        result: QAResult,
        ner: NERResult | None,
    ) -> tuple[tuple, tuple]:
        """Question and context rows from the encodings the QA pipeline made (no second
        tokenization), joined with morphemes and with the NER tags by offsets."""
        segment = morpheme_segmenter(tok.dictionary, lang)
        tags = ner.tokens if ner else ()
        q_rows = render.token_rows(
            question, result.question_encoding, segment(question), tok.unk_id, which="question"
        )
        c_rows = render.token_rows(
            context, result.context_encoding, segment(context), tok.unk_id, tags
        )
        return tuple(q_rows), tuple(c_rows)

    def _tag(self, context: str, settings: Settings, language: Language, lang: str) -> _Tagged:
        """NER beside QA; in "auto", no NER model of the QA model's language is a note."""
        try:
            sel, notes = self._select(Task.NER, settings.ner_model, language, settings, lang)
        except UserMessage:
            if not settings.auto_ner:
                raise
            return _Tagged((message("no_ner", lang),))
        if settings.auto_ner and sel.model.language is not language:
            return _Tagged((message("no_ner", lang),))
        tagger, result, notes = self._run(
            Task.NER, sel, lambda tagger: tagger.tag(context), lang, notes
        )
        stage = render.StageTimes(
            "NER",
            result.timings,
            tagger.compiled.compile_ms,
            result.device,
            result.precision,
            notes,
        )
        return _Tagged(notes, sel.model, result, stage)

    def ner(self, text: str, settings: Settings) -> tuple[ModelDir, NERResult, tuple[str, ...]]:
        lang = ui_language(settings.language, text)
        check_input(text, "text", lang)
        language = self._language(settings, text)
        sel, notes = self._select(Task.NER, settings.ner_model, language, settings, lang)
        _, result, notes = self._run(Task.NER, sel, lambda tagger: tagger.tag(text), lang, notes)
        return sel.model, result, notes + self.engine_notes(lang)

    def engine_notes(self, lang: str) -> tuple[str, ...]:
        """What the runtime had to work around (an unusable compile cache), in the UI language;
        read after the run, since a compile adds them."""
        notes = getattr(self.registry.engine, "notes", None) or ()
        return tuple(message("engine_note", lang, note=n) for n in notes)

    def tokenize(self, text: str, settings: Settings) -> dict:
        """Morphemes and WordPiece tokens of a text (no model runs, so this encodes once)."""
        from ..tokenization import load_tokenizer

        lang = ui_language(settings.language, text)
        check_input(text, "text", lang)
        language = self._language(settings, text)
        model = self.registry.model(settings.model, Task.QA, language, lang)
        dictionary = settings.dictionary_name if model.language is Language.JA else None
        key = (str(model.path), dictionary or model.dictionary)
        with self._tokenizers_lock:
            if key not in self._tokenizers:
                self._tokenizers[key] = load_tokenizer(*key)
            tok = self._tokenizers[key]
        morphemes = morpheme_segmenter(tok.dictionary, model.language)(text)
        rows = render.token_rows(text, tok.encode(text), morphemes, tok.unk_id)
        return {
            "model": model.name,
            "language": model.language.value,
            "dictionary": tok.dictionary,
            "morphemes": [
                {"surface": m.surface, "pos": m.pos, "start": m.start, "end": m.end}
                for m in morphemes
            ],
            "tokens": [r.to_json() for r in rows],
        }

    def compare(
        self, question: str, context: str, settings: Settings, options: QAOptions | None = None
    ) -> list[dict]:
        """The same question on every device × every precision it supports, FP32 first."""
        lang = ui_language(settings.language, context)
        check_input(question, "question", lang, MAX_QUESTION_CHARS)
        check_input(context, "context", lang)
        language = self._language(settings, context)
        model = self.registry.model(settings.model, Task.QA, language, lang)
        return [
            self._compare_row(
                Selection(model, device, precision, settings.dictionary_name),
                question,
                context,
                options,
            )
            for device in self.registry.devices()
            for precision in self.registry.capabilities(device).supported()
        ]

    def _compare_row(
        self, sel: Selection, question: str, context: str, options: QAOptions | None
    ) -> dict:
        row = {"device": sel.device, "precision": sel.precision.value}
        if not has_precision(sel.model, sel.precision):
            what = "INT8" if sel.precision is Precision.INT8 else "FP32"
            return row | {"ran on": "", "answer": f"(no {what} IR in {sel.model.name})"}
        try:
            qa = self.registry.pipeline(Task.QA, sel)
            result = qa.ask(question, context, **(asdict(options) if options else {}))
        except QADemoError as exc:  # one failing device must not hide the others
            return row | {"ran on": "", "answer": f"error: {exc}"}
        best, info = result.best, result.precision
        return row | {
            "chosen": info.chosen if info else "",
            "executed": info.executed if info else "",
            "ran on": result.device,
            "answer": best.text if best else "",
            "score": round(best.score, 4) if best else None,
            "infer ms": round(result.timings.infer, 2),
            "total ms": round(result.timings.total, 2),
            "first compile ms": round(qa.compiled.compile_ms, 1),
        }


def unseen(notes: Sequence[str], seen: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """The notes not yet said in this session, and the session's notes after saying them."""
    new = [n for n in dict.fromkeys(notes) if n not in seen]
    return new, (*seen, *new)
