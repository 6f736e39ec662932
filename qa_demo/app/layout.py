"""The Blocks layout and its wiring: ``build_ui(service, examples)`` -> gr.Blocks."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError, QADemoError
from ..inputs import MAX_TEXT_CHARS
from ..types import Task
from . import render
from .catalog import find_entry
from .messages import error_message, message, ui_language
from .registry import AUTO, HUB_PREFIX
from .serve import QUEUE_MAX_SIZE, Example, concurrency_limit
from .service import PRECISIONS, AnswerRun, DemoService, Settings

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
        return Settings(
            model or AUTO,
            ner_model or AUTO,
            language or AUTO,
            device or "CPU",
            precision or "FP32",
            dictionary or AUTO,
        )

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
    def on_answer(
        question,
        context,
        language,
        model,
        ner_model,
        device,
        precision,
        dictionary,
        top_k,
        max_answer_len,
        doc_stride,
        max_seq_len,
        null_threshold,
    ):
        lang = ui_language(language, context or "")
        with user_errors(lang):
            opts = options_of(top_k, max_answer_len, doc_stride, max_seq_len, null_threshold)
            run = service.answer(
                question,
                context,
                settings_of(model, ner_model, language, device, precision, dictionary),
                opts,
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

    def on_compare(
        question,
        context,
        language,
        model,
        ner_model,
        device,
        precision,
        dictionary,
        top_k,
        max_answer_len,
        doc_stride,
        max_seq_len,
        null_threshold,
    ):
        import pandas as pd

        lang = ui_language(language, context or "")
        with user_errors(lang):
            opts = options_of(top_k, max_answer_len, doc_stride, max_seq_len, null_threshold)
            rows = service.compare(
                question,
                context,
                settings_of(model, ner_model, language, device, precision, dictionary),
                opts,
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
            entry = find_entry(name[len(HUB_PREFIX) :], registry.catalog)
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
        hub_id = name[len(HUB_PREFIX) :]
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
                question,
                context,
                Settings(model, ner_model, language, device, precision, dictionary),
                opts,
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
            return service.tokenize(
                text, Settings(model, AUTO, language, "CPU", "FP32", dictionary)
            )

    # -- layout ----------------------------------------------------------------------------------
    devices = registry.devices()
    with gr.Blocks(title=title) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                context = gr.Textbox(
                    label="文脈 / Context",
                    lines=10,
                    max_lines=30,
                    elem_id="context",
                    placeholder="ここに文章を貼り付けてください / Paste the text here",
                    max_length=MAX_TEXT_CHARS,
                )
                question = gr.Textbox(
                    label="質問 / Question",
                    lines=1,
                    elem_id="question",
                    placeholder="例: 富士山の標高は？ / e.g. Who wrote the report?",
                )
                with gr.Row():
                    answer_btn = gr.Button("回答 / Answer", variant="primary", elem_id="answer-btn")
                    compare_btn = gr.Button(
                        "比較 / Compare devices × precisions", elem_id="compare-btn"
                    )
            with gr.Column(scale=2):
                language = gr.Radio(
                    [("auto", AUTO), ("日本語", "ja"), ("English", "en")],
                    value=AUTO,
                    label="言語 / Language",
                    elem_id="language",
                )
                model = gr.Dropdown(
                    registry.choices(Task.QA),
                    value=AUTO,
                    label="QAモデル / QA model",
                    elem_id="model",
                )
                ner_model = gr.Dropdown(
                    registry.choices(Task.NER),
                    value=AUTO,
                    label="NERモデル / NER model",
                    elem_id="ner-model",
                )
                with gr.Group(visible=False) as fetch_box:
                    fetch_md = gr.Markdown()
                    fetch_btn = gr.Button(
                        "ダウンロードして変換 / Download and export", variant="secondary"
                    )
                with gr.Row():
                    device = gr.Dropdown(
                        devices, value=devices[0], label="デバイス / Device", elem_id="device"
                    )
                    precision = gr.Dropdown(
                        list(PRECISIONS),
                        value="FP32",
                        label="精度 / Precision",
                        elem_id="precision",
                    )
                dictionary = gr.Dropdown(
                    [("auto (model's own / モデル既定)", AUTO), *registry.dictionaries()],
                    value=AUTO,
                    label="形態素解析辞書 / Japanese dictionary (MeCab)",
                )
                with gr.Accordion("詳細設定 / Advanced", open=False):
                    top_k = gr.Slider(1, 20, value=5, step=1, label="top-k (n-best)")
                    max_answer_len = gr.Slider(
                        1, 100, value=30, step=1, label="最大回答長 / max answer length (tokens)"
                    )
                    doc_stride = gr.Slider(
                        0, 256, value=128, step=8, label="ドキュメントストライド / doc stride"
                    )
                    max_seq_len = gr.Slider(
                        64, 512, value=384, step=32, label="最大系列長 / max sequence length"
                    )
                    null_threshold = gr.Number(
                        value=None,
                        label="回答なし閾値 / no-answer threshold "
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
            label="回答と固有表現 / Answer and entities",
            show_legend=True,
            combine_adjacent=False,
            elem_id="highlighted",
        )
        with gr.Tabs():
            with gr.Tab("n-best"):
                nbest = gr.Dataframe(
                    headers=render.NBEST_COLUMNS, label="n-best", interactive=False
                )
            with gr.Tab("トークン / Tokens"):
                tokens = gr.Dataframe(
                    headers=render.TOKEN_COLUMNS,
                    interactive=False,
                    label="surface → NFKC → MeCab → WordPiece → id → offsets → NER",
                    elem_id="tokens",
                    max_height=420,
                )
            with gr.Tab("確率 / Probabilities"):
                probs = gr.LinePlot(
                    x="position",
                    y="probability",
                    color="kind",
                    tooltip=["token", "probability", "kind"],
                    label="start / end probabilities (winning window)",
                )
            with gr.Tab("時間 / Timings"):
                timing_md = gr.Markdown()
                timings = gr.Dataframe(
                    headers=render.TIMING_COLUMNS, interactive=False, label="ms per stage"
                )
                timing_plot = gr.BarPlot(
                    x="stage",
                    y="ms",
                    color="pipeline",
                    y_lim=[0, None],
                    label="steady-state ms per stage (compile excluded)",
                )
            with gr.Tab("ウィンドウ / Windows"):
                windows_md = gr.Markdown()
                windows = gr.Dataframe(headers=render.WINDOW_COLUMNS, interactive=False)
            with gr.Tab("比較 / Compare"):
                compare = gr.Dataframe(interactive=False, label="device × precision")
                compare_plot = gr.BarPlot(x="device × precision", y="infer ms", y_lim=[0, None])
            with gr.Tab("ダウンロード / Download"):
                download = gr.File(label="JSON: tokens, offsets, logits, timings (last run)")

        inputs = [
            question,
            context,
            language,
            model,
            ner_model,
            device,
            precision,
            dictionary,
            top_k,
            max_answer_len,
            doc_stride,
            max_seq_len,
            null_threshold,
        ]
        answer_outs = [
            highlighted,
            summary,
            nbest,
            tokens,
            probs,
            timings,
            timing_plot,
            timing_md,
            windows_md,
            windows,
            download,
        ]
        answer_btn.click(on_answer, inputs, answer_outs, api_name="answer_view")
        question.submit(on_answer, inputs, answer_outs, api_name=False)
        compare_btn.click(on_compare, inputs, [compare, compare_plot], api_name="compare")
        model.change(on_model_change, [model], [fetch_box, fetch_md], api_name=False)
        model.change(precision_choices, [model], [precision], api_name=False)
        ner_model.change(on_model_change, [ner_model], [fetch_box, fetch_md], api_name=False)

        def fetch_selected(qa_name, ner_name, lang_choice, progress=gr.Progress()):  # noqa: B008
            name = qa_name if qa_name and qa_name.startswith(HUB_PREFIX) else ner_name
            return on_fetch(name, lang_choice, progress)

        fetch_btn.click(
            fetch_selected,
            [model, ner_model, language],
            [model, ner_model, fetch_box, fetch_md],
            api_name="fetch_model",
        )
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
