"""Messages in the UI language (Japanese or English) and the one-sentence error text."""

from __future__ import annotations

from ..errors import DeviceError, InputError, MissingDependencyError, ModelLoadError, QADemoError
from ..inputs import MAX_TEXT_CHARS, is_invisible

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
    if is_invisible(text):
        raise UserMessage(message("invisible", lang, what=what, what_ja=WHAT_JA[what]))
    return text
