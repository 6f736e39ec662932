"""The Gradio demo: ``build_ui(registry, examples)`` -> gr.Blocks, and ``qa-demo serve``.

Layers, top to bottom:

* ``ModelRegistry`` finds model directories and builds QuestionAnswerer/EntityTagger lazily,
  once per (model, device, precision, dictionary), all sharing one Engine.
* ``DemoService`` runs a request (answer, ner, tokenize, compare) and returns dataclasses; it
  knows nothing about gradio, so it is tested directly.
* ``build_ui`` wires components to the service and turns QADemoError into gr.Error in the
  language of the UI.

gradio is imported inside functions only: ``qa-demo --help`` must not pay its 3-4 s import.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import (
    DeviceError,
    InputError,
    MissingDependencyError,
    ModelLoadError,
    QADemoError,
)
from ..inputs import MAX_QUESTION_CHARS, MAX_TEXT_CHARS
from ..model_dir import ModelDir, discover_models
from ..types import Language, NERResult, QAResult, Task
from . import render
from .catalog import CATALOG, CatalogEntry, fetch, find_entry


def project_dir(name: str) -> Path:
    """The project's ``name`` folder (models, assets): the working directory's, else the
    source checkout's. Not the package's own parent: installed without ``-e``, that is
    site-packages."""
    checkout = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), checkout):
        if (base / name).is_dir() and (base / "app.py").exists():
            return base / name
    return Path.cwd() / name


#: models/ and assets/ of the project; QA_DEMO_MODELS overrides the models folder.
DEFAULT_MODELS = project_dir("models")
DEFAULT_ASSETS = project_dir("assets")
MODELS_ENV = "QA_DEMO_MODELS"
AUTO = "auto"
HUB_PREFIX = "hub:"
PRECISIONS = ("FP32", "INT8")
#: Requests waiting beyond this are turned away, so a class of 40 cannot queue forever.
QUEUE_MAX_SIZE = 64


# -- messages in the UI language -----------------------------------------------------------------
MESSAGES: dict[str, dict[str, str]] = {
    "empty_context": {
        "en": "Please enter a context: the text in which to look for the answer.",
        "ja": "文脈（答えを探す文章）を入力してください。",
    },
    "empty_question": {"en": "Please enter a question.", "ja": "質問を入力してください。"},
    "empty_text": {"en": "Please enter some text.", "ja": "テキストを入力してください。"},
    "too_long": {
        "en": "The {what} is {n:,} characters long; the limit is {limit:,} characters.",
        "ja": "{what_ja}が長すぎます（{n:,}文字。上限は{limit:,}文字です）。",
    },
    "input": {
        "en": "This input cannot be used: {detail}",
        "ja": "入力が正しくありません: {detail}",
    },
    "model": {
        "en": "The model could not be loaded or used: {detail}",
        "ja": "モデルを読み込めないか、使用できません: {detail}",
    },
    "device": {
        "en": "The device cannot be used: {detail}",
        "ja": "このデバイスは使用できません: {detail}",
    },
    "missing": {
        "en": "A software component is missing: {detail}",
        "ja": "必要なパッケージがインストールされていません: {detail}",
    },
    "other": {"en": "The request failed: {detail}", "ja": "処理に失敗しました: {detail}"},
    "no_model": {
        "en": "There is no {task} model for {language} in {root}. Pick a ⬇ model from the "
        "catalog and download it, or export one: qa-demo export HUB_ID {root}/NAME --task {task}",
        "ja": "{root} に{language}の{task}モデルがありません。カタログ（⬇）から選んでダウンロード"
        "するか、次のコマンドで用意してください: qa-demo export HUB_ID {root}/NAME --task {task}",
    },
    "not_downloaded": {
        "en": "{hub_id} is not downloaded yet. Click “Download and export” below the model "
        "list, or run: {command}",
        "ja": "{hub_id} はまだダウンロードされていません。モデル一覧の下の「ダウンロードして"
        "変換」を押すか、次を実行してください: {command}",
    },
    "no_precision": {
        "en": "{model} has no {precision} model; using {fallback}.",
        "ja": "{model} には {precision} のモデルがないため {fallback} を使います。",
    },
    "no_ner": {
        "en": "No NER model for this language: entities are not shown.",
        "ja": "この言語の固有表現（NER）モデルがないため、固有表現は表示されません。",
    },
    "downloaded": {
        "en": "{hub_id} is ready in {path}.",
        "ja": "{hub_id} を {path} に用意しました。",
    },
}
WHAT_JA = {"context": "文脈", "question": "質問", "text": "テキスト"}
LANGUAGE_NAMES = {"en": {"en": "English", "ja": "Japanese"}, "ja": {"en": "英語", "ja": "日本語"}}


def message(key: str, lang: str, **kw) -> str:
    table = MESSAGES[key]
    return table.get(lang, table["en"]).format(**kw)


def error_message(exc: QADemoError, lang: str) -> str:
    """One clear sentence for a QADemoError, in the UI language."""
    if isinstance(exc, UserMessage):
        return str(exc)
    if isinstance(exc, MissingDependencyError):
        key = "missing"
    elif isinstance(exc, DeviceError):
        key = "device"
    elif isinstance(exc, ModelLoadError):
        key = "model"
    elif isinstance(exc, InputError):
        key = "input"
    else:
        key = "other"
    return message(key, lang, detail=str(exc))


class UserMessage(InputError):
    """An input problem whose message is already written in the UI language."""


def ui_language(choice: str, text: str = "") -> str:
    """The language for messages: the one picked, or the one the text is written in."""
    if choice in ("ja", "en"):
        return choice
    from ..segment import detect_language

    return detect_language(text).value if text.strip() else "en"


def check_input(text: str | None, what: str, lang: str, limit: int = MAX_TEXT_CHARS) -> str:
    """The UI's own input check, so that the message is in the UI language."""
    if text is None or not str(text).strip():
        raise UserMessage(message(f"empty_{what}", lang))
    if len(text) > limit:
        raise UserMessage(
            message("too_long", lang, what=what, what_ja=WHAT_JA[what], n=len(text), limit=limit)
        )
    return text


# -- the registry ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """A resolved model choice: a model directory, on a device, at a precision."""

    model: ModelDir
    device: str
    precision: str
    dictionary: str | None


class ModelRegistry:
    """Model directories under one root, plus the catalog; pipelines built lazily and shared."""

    def __init__(
        self,
        models_root: str | Path,
        engine=None,
        catalog: Sequence[CatalogEntry] = CATALOG,
    ) -> None:
        from ..runtime import Engine

        self.root = Path(models_root)
        self.engine = engine or Engine()
        self.catalog = tuple(catalog)
        self._lock = threading.Lock()
        self._pipelines: dict[tuple, object] = {}
        self._models: dict[str, ModelDir] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-read the root: after a download, or when a helper drops a model there."""
        found = {m.name: m for m in discover_models(self.root)}
        with self._lock:
            self._models = found

    # -- listing ---------------------------------------------------------------------------
    def models(self, task: Task | None = None, language: Language | None = None) -> list[ModelDir]:
        return [
            m
            for m in self._models.values()
            if (task is None or m.task is task) and (language is None or m.language is language)
        ]

    def catalog_entries(self, task: Task) -> list[CatalogEntry]:
        return [e for e in self.catalog if e.task is task]

    def choices(self, task: Task) -> list[tuple[str, str]]:
        """Dropdown (label, value) pairs: auto, local models, then catalog models not yet local."""
        out = [("auto", AUTO)]
        for m in self.models(task):
            out.append((f"{m.name}  [{m.language.value}, {'/'.join(m.precisions)}]", m.name))
        for e in self.catalog_entries(task):
            if e.dir_name not in self._models:
                out.append((f"⬇ {e.hub_id}  [{e.language.value}, Hub]", HUB_PREFIX + e.hub_id))
        return out

    def devices(self) -> list[str]:
        return self.engine.devices()

    def dictionaries(self) -> list[str]:
        from ..segment import available_dictionaries

        return available_dictionaries()

    def find(self, name: str | None) -> ModelDir | None:
        """A local model by directory name, or None."""
        return self._models.get(name) if name else None

    # -- resolving a choice -------------------------------------------------------------------
    def model(self, name: str, task: Task, language: Language, lang: str = "en") -> ModelDir:
        """The model directory for a dropdown value ("auto", a local name or "hub:<id>")."""
        if name in (None, "", AUTO):
            candidates = self.models(task, language) or self.models(task)
            if not candidates:
                raise UserMessage(
                    message(
                        "no_model", lang, task=task.value.upper(),
                        language=LANGUAGE_NAMES[lang][language.value], root=self.root,
                    )
                )
            return candidates[0]
        if name.startswith(HUB_PREFIX):
            entry = find_entry(name[len(HUB_PREFIX):], self.catalog)
            if entry.task is not task:
                raise ModelLoadError(
                    f"{entry.hub_id} is a {entry.task.value} model, not a {task.value} model."
                )
            if entry.dir_name in self._models:
                return self._models[entry.dir_name]
            raise UserMessage(
                message(
                    "not_downloaded", lang, hub_id=entry.hub_id,
                    command=entry.export_command(self.root),
                )
            )
        if name not in self._models:
            known = ", ".join(self._models) or "none"
            raise ModelLoadError(f"Unknown model {name!r}; the models in {self.root} are: {known}.")
        found = self._models[name]
        if found.task is not task:
            raise ModelLoadError(f"{name} is a {found.task.value} model, not a {task.value} model.")
        return found

    def pipeline(self, task: Task, sel: Selection):
        """The QuestionAnswerer/EntityTagger for a selection, built on first use."""
        from ..ner import EntityTagger
        from ..qa import QuestionAnswerer

        dictionary = sel.dictionary if sel.model.language is Language.JA else None
        key = (task, str(sel.model.path), sel.device.upper(), sel.precision, dictionary)
        with self._lock:
            if key not in self._pipelines:
                cls = QuestionAnswerer if task is Task.QA else EntityTagger
                self._pipelines[key] = cls(
                    sel.model,
                    engine=self.engine,
                    device=sel.device,
                    precision=sel.precision,
                    dictionary=dictionary,
                )
            return self._pipelines[key]

    def fetch(self, hub_id: str, log: Callable[[str], None] = lambda m: None) -> ModelDir:
        entry = find_entry(hub_id, self.catalog)
        path = fetch(entry, self.root, log=log)
        self.refresh()
        return self._models[path.name]


# -- requests and what they return -------------------------------------------------------------
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
            self.question, self.context, self.qa_model.name, self.qa, self.tokens, self.ner,
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
        self, task: Task, name: str, language: Language, settings: Settings, lang: str,
        notes: list[str],
    ) -> Selection:
        model = self.registry.model(name, task, language, lang)
        precision = settings.precision.upper()
        if precision not in PRECISIONS:
            raise InputError(f"Unknown precision {settings.precision!r}; expected FP32 or INT8.")
        if precision not in model.precisions:
            fallback = next(iter(model.precisions))
            notes.append(
                message("no_precision", lang, model=model.name, precision=precision,
                        fallback=fallback)
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
            question, context, language, sel.model, result, tuple(rows), tuple(stages),
            ner_model, ner_result, tuple(notes),
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
        morphemes = (
            mecab(tok.dictionary).segment(text) if tok.dictionary else english_words(text)
        )
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


# -- examples --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    title_en: str
    title_ja: str
    language: str
    question: str
    context: str

    @property
    def label(self) -> str:
        # Each example exists in both languages; lead with the example's own language.
        if self.language == "ja":
            return f"🇯🇵 {self.title_ja}"
        return f"🇬🇧 {self.title_en}"


def load_examples(path: str | Path | None = None) -> list[Example]:
    """Examples from assets/examples.json; none (not an error) if the file is absent."""
    path = Path(path) if path else DEFAULT_ASSETS / "examples.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Example(e["title_en"], e["title_ja"], e["language"], e["question"], e["context"])
        for e in data["examples"]
    ]


def read_css(assets: Path = DEFAULT_ASSETS) -> str:
    css = assets / "style.css"
    return css.read_text(encoding="utf-8") if css.exists() else ""


def concurrency_limit(devices: Sequence[str]) -> int:
    """Requests run at once: one per two CPU cores (each infer uses several threads), at
    least one; an accelerator takes a few more since the CPU then only tokenizes."""
    cores = os.cpu_count() or 1
    cpu_limit = max(1, cores // 2)
    if any(d.split(".")[0] in ("GPU", "NPU") for d in devices):
        return max(cpu_limit, 4)
    return min(cpu_limit, 8)


# -- the gradio app --------------------------------------------------------------------------------
INTRO = """\
## qa-demo — 日本語・英語の抽出型質問応答と固有表現抽出 / Japanese & English extractive QA + NER

文脈と質問を入力して **回答 / Answer** を押してください。 Paste a context, ask a question, \
press **Answer**. 答えは文脈の文字位置そのままで示され、固有表現も同じ画面に表示されます。 \
The answer is an exact slice of your text; entities are shown in the same view.

> **注意 / Note:** `models/` に同梱のモデルは小さなデモ用モデルです。 The models shipped in \
`models/` are small demo models. 本格的なモデルは「モデル」一覧の ⬇ から取得するか、 For a \
full-size model pick a ⬇ entry in the model list, or run \
`qa-demo export distilbert-base-cased-distilled-squad models/distilbert-squad --task qa --int8`.
"""


def build_ui(service: DemoService, examples: Sequence[Example] = (), title: str = "qa-demo"):
    """The Blocks app over already-built objects (a DemoService and its registry)."""
    import gradio as gr

    registry = service.registry
    run_dir = Path(tempfile.mkdtemp(prefix="qa-demo-runs-"))

    def fail(exc: QADemoError, lang: str):
        return gr.Error(error_message(exc, lang), print_exception=False)

    @contextmanager
    def user_errors(lang: str) -> Iterator[None]:
        """Turn our errors into a gr.Error in the UI language; the app keeps serving."""
        try:
            yield
        except QADemoError as exc:
            raise fail(exc, lang) from None

    def settings_of(model, ner_model, language, device, precision, dictionary) -> Settings:
        return Settings(model or AUTO, ner_model or AUTO, language or AUTO, device or "CPU",
                        precision or "FP32", dictionary or AUTO)

    def options_of(top_k, max_answer_len, doc_stride, max_seq_len, null_threshold) -> dict:
        try:
            from ..qa import QAOptions

            opts = {
                "top_k": int(top_k),
                "max_answer_len": int(max_answer_len),
                "doc_stride": int(doc_stride),
                "max_seq_len": int(max_seq_len),
                "null_threshold": None if null_threshold in (None, "") else float(null_threshold),
            }
            QAOptions(**opts)  # validate once, here, with the option's own message
        except (TypeError, ValueError) as exc:
            raise InputError(str(exc)) from exc
        return opts

    # -- handlers --------------------------------------------------------------------------------
    def on_answer(question, context, language, model, ner_model, device, precision, dictionary,
                  top_k, max_answer_len, doc_stride, max_seq_len, null_threshold):
        lang = ui_language(language, context or "")
        with user_errors(lang):
            opts = options_of(top_k, max_answer_len, doc_stride, max_seq_len, null_threshold)
            run = service.answer(
                question, context,
                settings_of(model, ner_model, language, device, precision, dictionary), opts,
            )
        for note in run.notes:
            gr.Warning(note)
        return answer_outputs(run, lang)

    def answer_outputs(run: AnswerRun, lang: str):
        segments = run.highlight()
        best = run.qa.best
        if best is None or best.end <= best.start:
            headline = "**回答なし / No answer**"
        else:
            headline = (
                f"**回答 / Answer:** {render.escape(best.text)} — score {best.score:.4f}, "
                f"chars {best.start}–{best.end}, window {best.window}"
            )
        n_ent = len(run.ner.entities) if run.ner else 0
        summary = (
            f"{headline}  \nQA: `{run.qa_model.name}` · NER: "
            f"`{run.ner_model.name if run.ner_model else '—'}` · {n_ent} entities · "
            f"language {run.language.value}"
        )
        win = run.winner
        probs = render.probability_frame(
            run.qa.windows[win], run.qa.start_logits[win], run.qa.end_logits[win]
        )
        timing_md = "  \n".join(
            f"**{s.pipeline}**: ran on **{s.device}** · steady-state {s.timings.total:.1f} ms · "
            f"first compile {s.first_compile_ms:.0f} ms (one-off"
            f"{', this request' if s.timings.compile > 0.5 else ', cached'})"
            for s in run.stages
        )
        n_win = len(run.qa.windows)
        windows_md = (
            f"**{n_win}** window{'s' if n_win != 1 else ''} / ウィンドウ数 {n_win}; the answer "
            f"came from window **{win}** (★)."
        )
        path = run_dir / f"run-{os.getpid()}-{threading.get_ident()}-{id(run)}.json"
        path.write_text(json.dumps(run.to_json(), ensure_ascii=False, indent=1), "utf-8")
        return (
            gr.update(value=segments, color_map=render.color_map(segments)),
            summary,
            render.nbest_rows(run.qa.answers),
            render.token_table(run.tokens),
            probs,
            render.timing_rows(run.stages),
            render.timing_frame(run.stages),
            timing_md,
            windows_md,
            render.window_rows(run.context, run.qa.windows, win),
            str(path),
        )

    def on_compare(question, context, language, model, ner_model, device, precision,
                   dictionary, top_k, max_answer_len, doc_stride, max_seq_len, null_threshold):
        import pandas as pd

        lang = ui_language(language, context or "")
        with user_errors(lang):
            opts = options_of(top_k, max_answer_len, doc_stride, max_seq_len, null_threshold)
            rows = service.compare(
                question, context,
                settings_of(model, ner_model, language, device, precision, dictionary), opts,
            )
        frame = pd.DataFrame(rows)
        chart = pd.DataFrame(
            [(f"{r['device']}/{r['precision']}", r.get("infer ms") or 0.0) for r in rows],
            columns=["device × precision", "infer ms"],
        )
        return frame, chart

    def on_model_change(name):
        entry = None
        if name and name.startswith(HUB_PREFIX):
            entry = find_entry(name[len(HUB_PREFIX):], registry.catalog)
        if entry is not None:
            text = (
                f"**{entry.hub_id}** — {entry.description}  \n"
                "まだダウンロードされていません。ダウンロードして OpenVINO に変換しますか？ "
                "Not downloaded yet: download it and convert it to OpenVINO? "
                f"(needs network and `pip install 'qa-demo[export]'`; by hand: "
                f"`{entry.export_command(registry.root)}`)"
            )
            return gr.update(visible=True), text
        return gr.update(visible=False), ""

    def precision_choices(name):
        found = registry.find(name)
        choices = list(found.precisions) if found else list(PRECISIONS)
        return gr.update(choices=choices, value=choices[0])

    def on_fetch(name, language, progress=None):
        lang = ui_language(language)
        if not name or not name.startswith(HUB_PREFIX):
            return gr.update(), gr.update(), gr.update(visible=False), ""
        hub_id = name[len(HUB_PREFIX):]
        steps = {"n": 0}

        def log(msg: str) -> None:
            steps["n"] += 1
            if progress is not None:
                progress(min(0.95, steps["n"] / 6), desc=msg)

        with user_errors(lang):
            if progress is not None:
                progress(0.02, desc=f"Downloading {hub_id} ...")
            found = registry.fetch(hub_id, log=log)
        gr.Info(message("downloaded", lang, hub_id=hub_id, path=found.path))
        qa_up = gr.update(choices=registry.choices(Task.QA))
        ner_up = gr.update(choices=registry.choices(Task.NER))
        if found.task is Task.QA:
            qa_up = gr.update(choices=registry.choices(Task.QA), value=found.name)
        else:
            ner_up = gr.update(choices=registry.choices(Task.NER), value=found.name)
        return qa_up, ner_up, gr.update(visible=False), ""

    # -- API-only endpoints: structured JSON for gradio_client -----------------------------------
    def api_answer(
        question: str,
        context: str,
        model: str = AUTO,
        ner_model: str = AUTO,
        language: str = AUTO,
        device: str = "CPU",
        precision: str = "FP32",
        dictionary: str = AUTO,
        top_k: int = 5,
        max_answer_len: int = 30,
        doc_stride: int = 128,
        max_seq_len: int = 384,
    ) -> dict:
        """Answer a question about a context; returns answers, entities, tokens, timings."""
        lang = ui_language(language, context or "")
        with user_errors(lang):
            opts = options_of(top_k, max_answer_len, doc_stride, max_seq_len, None)
            run = service.answer(
                question, context,
                Settings(model, ner_model, language, device, precision, dictionary), opts,
            )
        return run.to_json()

    def api_ner(
        text: str,
        model: str = AUTO,
        language: str = AUTO,
        device: str = "CPU",
        precision: str = "FP32",
        dictionary: str = AUTO,
    ) -> dict:
        """Tag named entities; returns entities and per-token tags with offsets."""
        lang = ui_language(language, text or "")
        with user_errors(lang):
            found, result = service.ner(
                text, Settings(AUTO, model, language, device, precision, dictionary)
            )
        return {"model": found.name, **result.to_json()}

    def api_tokenize(
        text: str, model: str = AUTO, language: str = AUTO, dictionary: str = AUTO
    ) -> dict:
        """Morphemes and WordPiece tokens of a text, with offsets into it."""
        lang = ui_language(language, text or "")
        with user_errors(lang):
            return service.tokenize(text, Settings(model, AUTO, language, "CPU", "FP32",
                                                   dictionary))

    # -- layout ----------------------------------------------------------------------------------
    devices = registry.devices()
    with gr.Blocks(title=title) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                context = gr.Textbox(
                    label="文脈 / Context", lines=10, max_lines=30, elem_id="context",
                    placeholder="ここに文章を貼り付けてください / Paste the text here",
                    max_length=MAX_TEXT_CHARS,
                )
                question = gr.Textbox(
                    label="質問 / Question", lines=1, elem_id="question",
                    placeholder="例: 富士山の標高は？ / e.g. Who wrote the report?",
                )
                with gr.Row():
                    answer_btn = gr.Button("回答 / Answer", variant="primary",
                                           elem_id="answer-btn")
                    compare_btn = gr.Button("比較 / Compare devices × precisions",
                                            elem_id="compare-btn")
            with gr.Column(scale=2):
                language = gr.Radio(
                    [("auto", AUTO), ("日本語", "ja"), ("English", "en")], value=AUTO,
                    label="言語 / Language", elem_id="language",
                )
                model = gr.Dropdown(registry.choices(Task.QA), value=AUTO,
                                    label="QAモデル / QA model", elem_id="model")
                ner_model = gr.Dropdown(registry.choices(Task.NER), value=AUTO,
                                        label="NERモデル / NER model", elem_id="ner-model")
                with gr.Group(visible=False) as fetch_box:
                    fetch_md = gr.Markdown()
                    fetch_btn = gr.Button("ダウンロードして変換 / Download and export",
                                          variant="secondary")
                with gr.Row():
                    device = gr.Dropdown(devices, value=devices[0],
                                         label="デバイス / Device", elem_id="device")
                    precision = gr.Dropdown(list(PRECISIONS), value="FP32",
                                            label="精度 / Precision", elem_id="precision")
                dictionary = gr.Dropdown(
                    [("auto (model's own / モデル既定)", AUTO), *registry.dictionaries()],
                    value=AUTO, label="形態素解析辞書 / Japanese dictionary (MeCab)",
                )
                with gr.Accordion("詳細設定 / Advanced", open=False):
                    top_k = gr.Slider(1, 20, value=5, step=1, label="top-k (n-best)")
                    max_answer_len = gr.Slider(1, 100, value=30, step=1,
                                               label="最大回答長 / max answer length (tokens)")
                    doc_stride = gr.Slider(0, 256, value=128, step=8,
                                           label="ドキュメントストライド / doc stride")
                    max_seq_len = gr.Slider(64, 512, value=384, step=32,
                                            label="最大系列長 / max sequence length")
                    null_threshold = gr.Number(
                        value=None, label="回答なし閾値 / no-answer threshold "
                        "(空欄 = モデル既定 / empty = model default)",
                    )
        if examples:
            gr.Examples(
                [[e.question, e.context, e.language] for e in examples],
                inputs=[question, context, language],
                example_labels=[e.label for e in examples],
                label="例 / Examples",
            )
        summary = gr.Markdown(elem_id="summary")
        highlighted = gr.HighlightedText(
            label="回答と固有表現 / Answer and entities", show_legend=True,
            combine_adjacent=False, elem_id="highlighted",
        )
        with gr.Tabs():
            with gr.Tab("n-best"):
                nbest = gr.Dataframe(headers=render.NBEST_COLUMNS, label="n-best",
                                     interactive=False)
            with gr.Tab("トークン / Tokens"):
                tokens = gr.Dataframe(headers=render.TOKEN_COLUMNS, interactive=False,
                                      label="surface → NFKC → MeCab → WordPiece → id → offsets "
                                      "→ NER", elem_id="tokens", max_height=420)
            with gr.Tab("確率 / Probabilities"):
                probs = gr.LinePlot(x="position", y="probability", color="kind",
                                    tooltip=["token", "probability", "kind"],
                                    label="start / end probabilities (winning window)")
            with gr.Tab("時間 / Timings"):
                timing_md = gr.Markdown()
                timings = gr.Dataframe(headers=render.TIMING_COLUMNS, interactive=False,
                                       label="ms per stage")
                timing_plot = gr.BarPlot(x="stage", y="ms", color="pipeline", y_lim=[0, None],
                                         label="steady-state ms per stage (compile excluded)")
            with gr.Tab("ウィンドウ / Windows"):
                windows_md = gr.Markdown()
                windows = gr.Dataframe(headers=render.WINDOW_COLUMNS, interactive=False)
            with gr.Tab("比較 / Compare"):
                compare = gr.Dataframe(interactive=False, label="device × precision")
                compare_plot = gr.BarPlot(x="device × precision", y="infer ms", y_lim=[0, None])
            with gr.Tab("ダウンロード / Download"):
                download = gr.File(label="JSON: tokens, offsets, logits, timings (last run)")

        inputs = [question, context, language, model, ner_model, device, precision, dictionary,
                  top_k, max_answer_len, doc_stride, max_seq_len, null_threshold]
        answer_outs = [highlighted, summary, nbest, tokens, probs, timings, timing_plot,
                       timing_md, windows_md, windows, download]
        answer_btn.click(on_answer, inputs, answer_outs, api_name="answer_view")
        question.submit(on_answer, inputs, answer_outs, api_name=False)
        compare_btn.click(on_compare, inputs, [compare, compare_plot], api_name="compare")
        model.change(on_model_change, [model], [fetch_box, fetch_md], api_name=False)
        model.change(precision_choices, [model], [precision], api_name=False)
        ner_model.change(on_model_change, [ner_model], [fetch_box, fetch_md], api_name=False)

        def fetch_selected(qa_name, ner_name, lang_choice, progress=gr.Progress()):  # noqa: B008
            name = qa_name if qa_name and qa_name.startswith(HUB_PREFIX) else ner_name
            return on_fetch(name, lang_choice, progress)

        fetch_btn.click(fetch_selected, [model, ner_model, language],
                        [model, ner_model, fetch_box, fetch_md], api_name="fetch_model")
        gr.api(api_answer, api_name="answer")
        gr.api(api_ner, api_name="ner")
        gr.api(api_tokenize, api_name="tokenize")
        gr.Markdown(
            f"Devices: {', '.join(devices)} · models: `{registry.root}` · "
            f"MeCab dictionaries: {', '.join(registry.dictionaries()) or 'none'}",
            elem_id="footer",
        )
    demo.queue(default_concurrency_limit=concurrency_limit(devices), max_size=QUEUE_MAX_SIZE)
    return demo


def build_app(models_root: str | Path | None = None, assets: str | Path | None = None):
    """Read models/ (or $QA_DEMO_MODELS), build the registry and the UI. Downloads nothing."""
    root = Path(models_root or os.environ.get(MODELS_ENV) or DEFAULT_MODELS)
    assets_dir = Path(assets) if assets else DEFAULT_ASSETS
    service = DemoService(ModelRegistry(root))
    return build_ui(service, load_examples(assets_dir / "examples.json"))


def launch(demo, host: str | None = None, port: int | None = None, share: bool = False,
           **kwargs):
    """Launch with the project's theme and CSS (gradio 6 takes them at launch)."""
    import gradio as gr

    return demo.launch(
        server_name=host, server_port=port, share=share, theme=gr.themes.Soft(),
        css=read_css(), **kwargs,
    )


# -- qa-demo serve ---------------------------------------------------------------------------------
def cmd_serve(args) -> None:
    demo = build_app(args.models)
    if args.concurrency:
        demo.queue(default_concurrency_limit=args.concurrency, max_size=QUEUE_MAX_SIZE)
    launch(demo, host=args.host, port=args.port, share=args.share)


def add_subcommands(sub) -> None:
    p = sub.add_parser("serve", help="launch the web demo (Gradio)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; 0.0.0.0 lets a classroom LAN connect")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--models", help=f"models directory (default: ${MODELS_ENV} or models/)")
    p.add_argument("--concurrency", type=int, default=None,
                   help="requests run at once (default: from the CPU count and devices)")
    p.set_defaults(func=cmd_serve)
