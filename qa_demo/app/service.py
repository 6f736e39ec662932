"""Run a resolved request (answer, ner, tokenize, compare) against a registry; no gradio here.

A ``Request`` arrives resolved and checked (``handlers.make_request``). The service picks the
model, device and precision (a ``Selection``), runs the pipelines and returns a run: data only.
A fallback the user did not ask for (another precision, CPU for a missing device) is a
``Note`` on the run; the edge says it in the UI language. ``view`` turns a run into the page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..errors import InputError, NonFiniteOutputError, QADemoError
from ..model_dir import ModelDir, ir_precision
from ..options import Dictionary, Precision
from ..precision import device_kind, unsupported_message
from ..qa import QAInput, QAOptions
from ..remote import REMOTE_DEVICE
from ..tokenization import Encoded, TextTokenizer
from ..types import Language, Morpheme, NERResult, PrecisionInfo, QAResult, Task, Timings
from .messages import AppError, Note, ui_language
from .registry import AUTO, REMOTE_PREFIX, ModelRegistry, Selection

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


@dataclass(frozen=True)
class Request:
    """One request, resolved once at the edge: texts checked, the text's language known
    (picked, or detected once), the settings and QA options parsed."""

    question: str
    context: str
    language: Language
    settings: Settings
    options: QAOptions

    @property
    def ui(self) -> str:
        """The language messages are said in."""
        return ui_language(self.settings.language, self.language)


@dataclass(frozen=True)
class Stage:
    """One pipeline in one request: timings, its one-off compile, where and how it ran."""

    pipeline: str
    timings: Timings
    first_compile_ms: float  # what compiling this model took when it was first used
    device: str  # the devices that actually ran it (what AUTO picked)
    precision: PrecisionInfo | None = None  # asked for, chosen (and why), executed
    notes: tuple[Note, ...] = ()  # fallbacks the user did not ask for


@dataclass(frozen=True)
class AnswerRun:
    """Everything one click of "Answer" produced; ``view`` is its only reader."""

    request: Request
    qa_model: object  # ModelDir
    qa: QAResult
    morphemes: tuple[tuple[Morpheme, ...], tuple[Morpheme, ...]]  # question's, context's
    unk_id: int
    stages: tuple[Stage, ...]
    ner_model: object | None = None  # ModelDir
    ner: NERResult | None = None
    notes: tuple[Note, ...] = ()  # fallbacks, a missing NER model, engine notes

    @property
    def context(self) -> str:
        return self.request.context


@dataclass(frozen=True)
class NERRun:
    request: Request
    model: object  # ModelDir
    result: NERResult
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class TokenizeRun:
    model: object  # ModelDir
    text: str
    tokenizer: TextTokenizer
    encoding: Encoded
    morphemes: tuple[Morpheme, ...]


class DemoService:
    """Runs requests against a registry."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        #: Tokenizers for /tokenize by (model dir, dictionary): loading one per request read
        #: its vocabulary every time (slow, and the memory churn of it grew RSS under load).
        self._tokenizers: dict[tuple[str, str | None], object] = {}
        self._tokenizers_lock = threading.Lock()

    # -- resolving a selection ----------------------------------------------------------------
    def _select(self, task: Task, name: str, req: Request) -> tuple[Selection, tuple[Note, ...]]:
        """The model, device and precision to run, and the fallbacks that were needed."""
        model = self.registry.model(name, task, req.language)
        if name and name.startswith(REMOTE_PREFIX):  # the server picks device and precision
            remote = Selection(model, REMOTE_DEVICE, Precision.AUTO, None, remote=True)
            return remote, ()
        notes: list[Note] = []
        device = self._device(req.settings.device, notes)
        caps = self.registry.capabilities(device)
        asked = req.settings.precision
        if not caps.supports(asked):
            raise AppError("unsupported_precision", detail=unsupported_message(asked, caps))
        precision = asked
        if not model.has_ir(asked):
            precision = Precision.FP32 if asked is Precision.INT8 else Precision.INT8
            notes.append(
                Note.of("no_precision", model=model.name, precision=asked, fallback=precision)
            )
        sel = Selection(model, device, precision, req.settings.dictionary_name)
        return sel, tuple(notes)

    def _device(self, device: str, notes: list[Note]) -> str:
        """``device``, or CPU (with a note) for an accelerator this machine lacks."""
        device = (device or FALLBACK_DEVICE).strip().upper()
        if device_kind(device) in ACCELERATORS and not self.registry.has_device(device):
            notes.append(Note.of("no_device", device=device, fallback=FALLBACK_DEVICE))
            return FALLBACK_DEVICE
        return self.registry.engine.check_device(device)

    def _run(self, task: Task, sel: Selection, call: Callable, notes: tuple[Note, ...]) -> tuple:
        """(pipeline, call(pipeline), notes): once more at FP32, with a note, if the runtime
        returned NaN at a faster precision (a runtime fault, as on AMX in issue 20)."""
        pipeline = self.registry.pipeline(task, sel)
        try:
            return pipeline, call(pipeline), notes
        except NonFiniteOutputError:
            if pipeline.precision is Precision.FP32 or not sel.model.has_ir(Precision.FP32):
                raise
        note = Note.of(
            "non_finite", model=sel.model.name, precision=pipeline.choice.label, device=sel.device
        )
        pipeline = self.registry.pipeline(task, replace(sel, precision=Precision.FP32))
        return pipeline, call(pipeline), (*notes, note)

    @staticmethod
    def _stage(name: str, pipeline, result, notes: tuple[Note, ...]) -> Stage:
        compiled = pipeline.compiled
        return Stage(
            name, result.timings, compiled.compile_ms, result.device, result.precision, notes
        )

    # -- requests -----------------------------------------------------------------------------
    def answer(self, req: Request) -> AnswerRun:
        """QA on the context, NER on it with a model of the same language, the morphemes."""
        sel, notes = self._select(Task.QA, req.settings.model, req)
        inputs = QAInput(req.question, req.context)
        qa, result, notes = self._run(
            Task.QA, sel, lambda qa: qa.answer(inputs, req.options), notes
        )
        stages = [self._stage("QA", qa, result, notes)]
        ner = self._tag(req, sel.model)
        if ner.result is not None:
            stages.append(self._stage("NER", ner.pipeline, ner.result, ner.notes))
        tok = qa.tokenizer
        return AnswerRun(
            request=req,
            qa_model=sel.model,
            qa=result,
            morphemes=(tuple(tok.morphemes(req.question)), tuple(tok.morphemes(req.context))),
            unk_id=tok.unk_id,
            stages=tuple(stages),
            ner_model=ner.model,
            ner=ner.result,
            notes=tuple(dict.fromkeys(notes + ner.notes + self.engine_notes())),
        )

    def _tag(self, req: Request, qa_model: ModelDir) -> _Tagged:
        """NER beside QA; in "auto", no NER model of a language of the QA model is a note."""
        no_ner = _Tagged((Note.of("no_ner"),))
        try:
            sel, notes = self._select(Task.NER, req.settings.ner_model, req)
        except AppError:
            if not req.settings.auto_ner:
                raise
            return no_ner
        if req.settings.auto_ner and not set(sel.model.languages) & set(qa_model.languages):
            return no_ner
        tagger, result, notes = self._run(
            Task.NER, sel, lambda tagger: tagger.tag_text(req.context), notes
        )
        return _Tagged(notes, sel.model, result, tagger)

    def ner(self, req: Request) -> NERRun:
        sel, notes = self._select(Task.NER, req.settings.ner_model, req)
        _, result, notes = self._run(
            Task.NER, sel, lambda tagger: tagger.tag_text(req.context), notes
        )
        return NERRun(req, sel.model, result, notes + self.engine_notes())

    def engine_notes(self) -> tuple[Note, ...]:
        """What the runtime had to work around (an unusable compile cache), and how a
        background preload went; read after the run, since a compile adds them."""
        engine = tuple(Note.of("engine_note", note=n) for n in self.registry.engine.notes)
        preload = tuple(Note.of(key, **fields) for key, fields in self.registry.preload_notes)
        return engine + preload

    def tokenize(self, req: Request) -> TokenizeRun:
        """Morphemes and tokens of a text (no model runs, so this encodes once)."""
        model = self.registry.model(req.settings.model, Task.QA, req.language)
        dictionary = req.settings.dictionary_name if model.language is Language.JA else None
        key = (str(model.path), dictionary or model.dictionary)
        with self._tokenizers_lock:
            if key not in self._tokenizers:
                self._tokenizers[key] = model.tokenizer(dictionary)
            tok = self._tokenizers[key]
        text = req.context
        return TokenizeRun(model, text, tok, tok.encode(text), tuple(tok.morphemes(text)))

    def compare(self, req: Request) -> list[dict]:
        """The same question on every device × every precision it supports, FP32 first."""
        model = self.registry.model(req.settings.model, Task.QA, req.language)
        dictionary = req.settings.dictionary_name
        return [
            self._compare_row(Selection(model, device, precision, dictionary), req)
            for device in self.registry.devices()
            for precision in self.registry.capabilities(device).supported()
        ]

    def _compare_row(self, sel: Selection, req: Request) -> dict:
        row = {"device": sel.device, "precision": sel.precision.value}
        if not sel.model.has_ir(sel.precision):
            what = ir_precision(sel.precision).value
            return row | {"ran on": "", "answer": f"(no {what} IR in {sel.model.name})"}
        try:
            qa = self.registry.pipeline(Task.QA, sel)
            result = qa.answer(QAInput(req.question, req.context), req.options)
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


@dataclass(frozen=True)
class _Tagged:
    """The NER half of an answer: its model, result and pipeline, or only the notes why not."""

    notes: tuple[Note, ...]
    model: object | None = None
    result: NERResult | None = None
    pipeline: object | None = None


def unseen(notes: Sequence[str], seen: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """The notes not yet said in this session, and the session's notes after saying them."""
    new = [n for n in dict.fromkeys(notes) if n not in seen]
    return new, (*seen, *new)
