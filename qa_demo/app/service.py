"""Requests (answer, ner, tokenize, compare) against a registry; no gradio here."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError, QADemoError
from ..inputs import MAX_QUESTION_CHARS
from ..model_dir import ModelDir
from ..types import Language, NERResult, QAResult, Task
from . import render
from .messages import UserMessage, check_input, message, ui_language
from .registry import AUTO, ModelRegistry, Selection

PRECISIONS = ("FP32", "INT8")


@dataclass(frozen=True)
class Settings:
    """What the user picked, before resolution; "auto" where they left it."""

    model: str = AUTO
    ner_model: str = AUTO
    language: str = AUTO
    device: str = "CPU"
    precision: str = "FP32"
    dictionary: str = AUTO

    @property
    def dictionary_name(self) -> str | None:
        return None if self.dictionary in (AUTO, "", None) else self.dictionary


@dataclass(frozen=True)
class AnswerRun:
    """Everything one click of "Answer" produced."""

    question: str
    context: str
    language: Language
    qa_model: ModelDir
    qa: QAResult
    tokens: tuple[render.TokenRow, ...]
    stages: tuple[render.StageTimes, ...]
    ner_model: ModelDir | None = None
    ner: NERResult | None = None
    notes: tuple[str, ...] = ()

    @property
    def winner(self) -> int:
        best = self.qa.best
        return best.window if best is not None and best.window >= 0 else 0

    def to_json(self) -> dict:
        return render.run_record(
            self.question,
            self.context,
            self.qa_model.name,
            self.qa,
            self.tokens,
            self.ner,
            self.stages,
        ) | {
            "language": self.language.value,
            "ner_model": self.ner_model.name if self.ner_model else None,
            "highlight": [
                {"start": s, "end": e, "label": lab}
                for s, e, lab in render.segment_offsets(self.highlight())
                if lab
            ],
            "notes": list(self.notes),
        }

    def highlight(self) -> list[tuple[str, str | None]]:
        best = self.qa.best
        answer = best if best is not None and best.end > best.start else None
        entities = self.ner.entities if self.ner else ()
        return render.highlight_segments(self.context, answer, entities)


@dataclass
class DemoService:
    """Runs requests against a registry; no gradio here."""

    registry: ModelRegistry
    notes: list[str] = field(default_factory=list)

    def _language(self, settings: Settings, text: str) -> Language:
        from ..segment import detect_language

        if settings.language in ("ja", "en"):
            return Language(settings.language)
        return detect_language(text)

    def _select(
        self,
        task: Task,
        name: str,
        language: Language,
        settings: Settings,
        lang: str,
        notes: list[str],
    ) -> Selection:
        model = self.registry.model(name, task, language, lang)
        precision = settings.precision.upper()
        if precision not in PRECISIONS:
            raise InputError(f"Unknown precision {settings.precision!r}; expected FP32 or INT8.")
        if precision not in model.precisions:
            fallback = next(iter(model.precisions))
            notes.append(
                message(
                    "no_precision", lang, model=model.name, precision=precision, fallback=fallback
                )
            )
            precision = fallback
        device = self.registry.engine.check_device(settings.device or "CPU")
        return Selection(model, device, precision, settings.dictionary_name)

    def answer(self, question: str, context: str, settings: Settings, options=None) -> AnswerRun:
        from ..segment import english_words, mecab

        lang = ui_language(settings.language, context)
        check_input(question, "question", lang, MAX_QUESTION_CHARS)
        check_input(context, "context", lang)
        language = self._language(settings, context)
        notes: list[str] = []
        sel = self._select(Task.QA, settings.model, language, settings, lang, notes)
        qa = self.registry.pipeline(Task.QA, sel)
        overrides = {} if options is None else options
        result = qa.ask(question, context, **overrides)
        stages = [render.StageTimes("QA", result.timings, qa.compiled.compile_ms, result.device)]

        ner_model, ner_result = None, None
        try:
            ner_sel = self._select(
                Task.NER, settings.ner_model, sel.model.language, settings, lang, notes
            )
        except UserMessage:
            if settings.ner_model not in (AUTO, "", None):
                raise
            notes.append(message("no_ner", lang))  # no NER model is not an error in "auto"
        else:
            if settings.ner_model in (AUTO, "", None) and ner_sel.model.language is not (
                sel.model.language
            ):
                notes.append(message("no_ner", lang))
            else:
                tagger = self.registry.pipeline(Task.NER, ner_sel)
                ner_model, ner_result = ner_sel.model, tagger.tag(context)
                stages.append(
                    render.StageTimes(
                        "NER", ner_result.timings, tagger.compiled.compile_ms, ner_result.device
                    )
                )

        tok = qa.tokenizer
        encoded = tok.encode(context)
        morphemes = (
            mecab(tok.dictionary).segment(context) if tok.dictionary else english_words(context)
        )
        rows = render.token_rows(
            context, encoded, morphemes, tok.unk_id, ner_result.tokens if ner_result else ()
        )
        return AnswerRun(
            question,
            context,
            language,
            sel.model,
            result,
            tuple(rows),
            tuple(stages),
            ner_model,
            ner_result,
            tuple(notes),
        )

    def ner(self, text: str, settings: Settings) -> tuple[ModelDir, NERResult]:
        lang = ui_language(settings.language, text)
        check_input(text, "text", lang)
        language = self._language(settings, text)
        sel = self._select(Task.NER, settings.ner_model, language, settings, lang, [])
        return sel.model, self.registry.pipeline(Task.NER, sel).tag(text)

    def tokenize(self, text: str, settings: Settings) -> dict:
        from ..segment import english_words, mecab
        from ..tokenization import load_tokenizer

        lang = ui_language(settings.language, text)
        check_input(text, "text", lang)
        language = self._language(settings, text)
        model = self.registry.model(settings.model, Task.QA, language, lang)
        dictionary = settings.dictionary_name if model.language is Language.JA else None
        tok = load_tokenizer(model.path, dictionary or model.dictionary)
        encoded = tok.encode(text)
        morphemes = mecab(tok.dictionary).segment(text) if tok.dictionary else english_words(text)
        rows = render.token_rows(text, encoded, morphemes, tok.unk_id)
        return {
            "model": model.name,
            "language": tok.language.value,
            "dictionary": tok.dictionary,
            "morphemes": [
                {"surface": m.surface, "pos": m.pos, "start": m.start, "end": m.end}
                for m in morphemes
            ],
            "tokens": [r.to_json() for r in rows],
        }

    def compare(self, question: str, context: str, settings: Settings, options=None) -> list[dict]:
        """The same question on every device × precision of the chosen model."""
        lang = ui_language(settings.language, context)
        check_input(question, "question", lang, MAX_QUESTION_CHARS)
        check_input(context, "context", lang)
        language = self._language(settings, context)
        model = self.registry.model(settings.model, Task.QA, language, lang)
        rows = []
        for device in self.registry.devices():
            for precision in model.precisions:
                sel = Selection(model, device, precision, settings.dictionary_name)
                row = {"device": device, "precision": precision}
                try:
                    qa = self.registry.pipeline(Task.QA, sel)
                    result = qa.ask(question, context, **(options or {}))
                except QADemoError as exc:  # one failing device must not hide the others
                    rows.append(row | {"ran on": "", "answer": f"error: {exc}"})
                    continue
                best = result.best
                rows.append(
                    row
                    | {
                        "ran on": result.device,
                        "answer": best.text if best else "",
                        "score": round(best.score, 4) if best else None,
                        "start": best.start if best else None,
                        "end": best.end if best else None,
                        "infer ms": round(result.timings.infer, 2),
                        "total ms": round(result.timings.total, 2),
                        "first compile ms": round(qa.compiled.compile_ms, 1),
                    }
                )
        return rows
