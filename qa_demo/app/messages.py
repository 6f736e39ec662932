"""Messages in the UI language (Japanese or English) and the one-sentence error text."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import (
    DeviceError,
    InputError,
    MissingDependencyError,
    ModelLoadError,
    QADemoError,
    TextError,
)
from ..types import Language

MESSAGES: dict[str, dict[str, str]] = {
    "empty_context": {
        "en": "Please enter a context: the text in which to look for the answer.",
        "ja": "文脈（答えを探す文章）を入力してください。",
    },
    "empty_question": {"en": "Please enter a question.", "ja": "質問を入力してください。"},
    "empty_text": {"en": "Please enter some text.", "ja": "テキストを入力してください。"},
    "invisible": {
        "en": "The {what} has no visible characters (only zero-width, format or control "
        "characters). Please enter some text.",
        "ja": "{what_ja}に見える文字がありません（ゼロ幅スペースや制御文字だけです）。"
        "文章を入力してください。",
    },
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
    "non_finite": {
        "en": "{model} returned NaN at {precision} on {device}; answered at FP32 instead.",
        "ja": "{model} が {device} の {precision} で NaN を返したため、FP32 で実行しました。",
    },
    "no_device": {
        "en": "{device} is not available on this machine; running on {fallback}.",
        "ja": "このマシンには {device} がないため {fallback} で実行します。",
    },
    "unsupported_precision": {
        "en": "{detail}",
        "ja": "この精度はこのデバイスでは使えません: {detail}",
    },
    "no_ner": {
        "en": "No NER model for this language: entities are not shown.",
        "ja": "この言語の固有表現（NER）モデルがないため、固有表現は表示されません。",
    },
    "engine_note": {"en": "{note}", "ja": "実行環境の注意: {note}"},
    "preload_ready": {
        "en": "The full-size model {repo} is ready and is now the default ({name}).",
        "ja": "フルサイズのモデル {repo} の準備ができたため、既定のモデルにしました（{name}）。",
    },
    "preload_failed": {
        "en": "The full-size model {repo} could not be fetched, so the bundled model stays the "
        "default: {why}",
        "ja": "フルサイズのモデル {repo} を取得できなかったため、同梱のモデルを使い続けます: {why}",
    },
    "busy": {
        "en": "The demo is busy: the queue of waiting requests is full. Please try again in a "
        "moment.",
        "ja": "混雑しています（順番待ちのリクエストが上限に達しました）。少し待ってからもう一度"
        "お試しください。",
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


@dataclass(frozen=True)
class Note:
    """Something the user should hear about a run (a fallback, a missing NER model), kept as
    a message key and its fields: the edge says it in the UI language (``text``)."""

    key: str
    fields: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, key: str, **fields: object) -> Note:
        return cls(key, tuple((k, str(v)) for k, v in fields.items()))

    def text(self, lang: str) -> str:
        fields = dict(self.fields)
        if "language" in fields:  # a language code, named in the UI language
            fields["language"] = LANGUAGE_NAMES[lang].get(fields["language"], fields["language"])
        return message(self.key, lang, **fields)


class AppError(InputError):
    """A request the app cannot serve as asked (no model for the language, a model not yet
    downloaded): a message key and its fields, translated at the edge like every error."""

    def __init__(self, key: str, **fields: object) -> None:
        self.note = Note.of(key, **fields)
        super().__init__(self.note.text("en"))


#: TextError.problem -> the message key that says it (an empty text is asked for by name).
TEXT_PROBLEMS = {"too_long": "too_long", "invisible": "invisible", "not_text": "input"}


def error_message(exc: QADemoError, lang: str) -> str:
    """One clear sentence for a QADemoError, in the UI language: the only translation of
    errors, done at the edge (handlers.user_errors)."""
    if isinstance(exc, AppError):
        return exc.note.text(lang)
    if isinstance(exc, TextError):
        if exc.problem == "empty":
            return message(f"empty_{exc.what}", lang)
        what = {"what": exc.what, "what_ja": WHAT_JA.get(exc.what, exc.what), "detail": str(exc)}
        return message(TEXT_PROBLEMS[exc.problem], lang, **what, **exc.details)
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


def ui_language(choice: str, language: Language | None = None) -> str:
    """The language for messages: the one picked, else the language of the text."""
    if choice in ("ja", "en"):
        return choice
    return language.value if language is not None else "en"
