"""The Blocks layout and its wiring: ``build_ui(service, examples)`` -> gr.Blocks.

Only components and events live here. What an event does is in ``handlers``; the one adapter
from component values to a Settings and a QAOptions is ``Controls.read``; views come back as
dataclasses or dicts keyed by output name and become component updates in ``Outputs.fill``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from ..inputs import MAX_TEXT_CHARS
from ..options import Precision
from ..types import Task
from . import handlers, render
from .downloads import run_files
from .examples import Example
from .handlers import make_request
from .registry import AUTO, ModelRegistry
from .service import DemoService, Request

INTRO = """\
## qa-demo — 日本語・英語の抽出型質問応答と固有表現抽出 / Japanese & English extractive QA + NER

文脈と質問を入力して **回答 / Answer** を押してください。 Paste a context, ask a question, \
press **Answer**. 答えは文脈の文字位置そのままで示され、固有表現も同じ画面に表示されます。 \
The answer is an exact slice of your text; entities are shown in the same view.

> **注意 / Note:** `models/` に同梱のモデルは小さなデモ用モデルです。 The models shipped in \
`models/` are small demo models (held-out scores: ja-en-qa JSQuAD test char F1 87.1, \
JaQuAD dev 74.1, XQuAD-en F1 57.0; ja-ner entity F1 0.77; en-ner WNUT-17 F1 0.37). \
本格的なモデルは「モデル」一覧の ⬇ から取得するか、 For a \
full-size model pick a ⬇ entry in the model list, or run \
`qa-demo export distilbert-base-cased-distilled-squad models/distilbert-squad --task qa --int8`.
"""


@dataclass
class Controls:
    """The request's components, one per ``make_request`` parameter, under the same names."""

    question: Any
    context: Any
    model: Any
    ner_model: Any
    language: Any
    device: Any
    precision: Any
    dictionary: Any
    top_k: Any
    max_answer_len: Any
    doc_stride: Any
    max_seq_len: Any
    null_threshold: Any

    def components(self) -> set:
        return {getattr(self, f.name) for f in fields(self)}

    def read(self, values: dict) -> Request:
        """The one adapter: {component: value} -> Request (Settings + QAOptions)."""
        return make_request(**{f.name: values[getattr(self, f.name)] for f in fields(self)})


class Outputs:
    """Output components by name; a view (dataclass or dict) becomes updates by those names."""

    def __init__(self, **components: Any) -> None:
        self.by_name = components

    def of(self, *names: str) -> list:
        return [self.by_name[n] for n in names]

    def fill(self, view: Any) -> dict:
        if is_dataclass(view):  # not asdict(): it would deep-copy frames and updates
            view = {f.name: getattr(view, f.name) for f in fields(view)}
        return {self.by_name[name]: value for name, value in view.items()}


#: Requests waiting beyond this are turned away, so a class of 40 cannot queue forever.
QUEUE_MAX_SIZE = 64


def concurrency_limit(devices: Sequence[str]) -> int:
    """Requests run at once: one per two CPU cores (each infer uses several threads), at
    least one; an accelerator takes a few more since the CPU then only tokenizes."""
    cores = os.cpu_count() or 1
    cpu_limit = max(1, cores // 2)
    if any(d.split(".")[0] in ("GPU", "NPU") for d in devices):
        return max(cpu_limit, 4)
    return min(cpu_limit, 8)


ANSWER_OUTPUTS = tuple(f.name for f in fields(handlers.AnswerView))
#: The events that run a model share one concurrency group, so that at most
#: ``concurrency_limit(devices)`` of them run at once in all: gradio otherwise counts each event
#: on its own, and /answer, /ner, Answer and Compare together ran four models at once on two
#: cores. It also bounds the infer requests each compiled model creates (one per caller at once).
MODEL_EVENTS = "models"


def _text_column(gr) -> dict:
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
        compare_btn = gr.Button("比較 / Compare devices × precisions", elem_id="compare-btn")
    return dict(context=context, question=question, answer_btn=answer_btn, compare_btn=compare_btn)


def _model_pickers(gr, registry: ModelRegistry) -> dict:
    c: dict = {}
    c["language"] = gr.Radio(
        [("auto", AUTO), ("日本語", "ja"), ("English", "en")],
        value=AUTO,
        label="言語 / Language",
        elem_id="language",
    )
    c["model"] = gr.Dropdown(
        registry.choices(Task.QA), value=AUTO, label="QAモデル / QA model", elem_id="model"
    )
    c["ner_model"] = gr.Dropdown(
        registry.choices(Task.NER), value=AUTO, label="NERモデル / NER model", elem_id="ner-model"
    )
    with gr.Group(visible=False) as c["fetch_box"]:
        c["fetch_md"] = gr.Markdown()
        c["fetch_btn"] = gr.Button("ダウンロードして変換 / Download and export")
    return c


def _runtime_pickers(gr, registry: ModelRegistry, devices: list[str]) -> dict:
    """Device, precision (what the device supports, AUTO first), dictionary, QA options."""
    c: dict = {}
    with gr.Row():
        c["device"] = gr.Dropdown(
            devices, value=devices[0], label="デバイス / Device", elem_id="device"
        )
        c["precision"] = gr.Dropdown(
            registry.precision_choices(devices[0]),
            value=Precision.AUTO.value,
            label="精度 / Precision",
            elem_id="precision",
        )
    c["dictionary"] = gr.Dropdown(
        [("auto (model's own / モデル既定)", AUTO), *registry.dictionaries()],
        value=AUTO,
        label="形態素解析辞書 / Japanese dictionary (MeCab)",
    )
    with gr.Accordion("詳細設定 / Advanced", open=False):
        for name, low, high, step, label in SLIDERS:
            c[name] = gr.Slider(
                low,
                high,
                value=getattr(handlers, f"DEFAULT_{name.upper()}"),
                step=step,
                label=label,
            )
        c["null_threshold"] = gr.Number(
            value=None,
            label="回答なし閾値 / no-answer threshold (空欄 = モデル既定 / empty = model default)",
        )
    return c


#: The QA option sliders: name (as in make_request), range, step, label.
SLIDERS = (
    ("top_k", 1, 20, 1, "top-k (n-best)"),
    (
        "max_answer_len",
        0,
        100,
        1,
        "最大回答長 / max answer length (tokens; 0 = モデル既定 / model's own)",
    ),
    ("doc_stride", 0, 256, 8, "ドキュメントストライド / doc stride"),
    ("max_seq_len", 64, 512, 32, "最大系列長 / max sequence length"),
)


def _results(gr) -> Outputs:
    o: dict = {}
    o["summary"] = gr.Markdown(elem_id="summary")
    o["highlighted"] = gr.HighlightedText(
        label="回答と固有表現 / Answer and entities",
        show_legend=True,
        combine_adjacent=False,
        elem_id="highlighted",
    )
    with gr.Tabs():
        _inspection_tabs(gr, o)
        with gr.Tab("比較 / Compare"):
            o["compare"] = gr.Dataframe(
                interactive=False, label="device × precision (executed)", elem_id="compare"
            )
            o["compare_plot"] = gr.BarPlot(x="device × precision", y="infer ms", y_lim=[0, None])
        with gr.Tab("ダウンロード / Download"):
            o["download"] = gr.File(label="JSON: tokens, offsets, logits, timings (last run)")
    return Outputs(**o)


def _inspection_tabs(gr, o: dict) -> None:
    """n-best, tokens, probabilities, timings and windows of the last answer."""
    with gr.Tab("n-best"):
        o["nbest"] = gr.Dataframe(headers=render.NBEST_COLUMNS, label="n-best", interactive=False)
    with gr.Tab("トークン / Tokens"):
        o["tokens"] = gr.Dataframe(
            headers=render.TOKEN_COLUMNS,
            interactive=False,
            label="surface → NFKC → MeCab → WordPiece → id → offsets → NER",
            elem_id="tokens",
            max_height=420,
        )
    with gr.Tab("確率 / Probabilities"):
        o["probs"] = gr.LinePlot(
            x="position",
            y="probability",
            color="kind",
            tooltip=["token", "probability", "kind"],
            label="start / end probabilities (winning window)",
        )
    with gr.Tab("時間 / Timings"):
        o["timing_md"] = gr.Markdown(elem_id="timing-md")
        o["timings"] = gr.Dataframe(
            headers=render.TIMING_COLUMNS, interactive=False, label="ms per stage"
        )
        o["timing_plot"] = gr.BarPlot(
            x="stage",
            y="ms",
            color="pipeline",
            y_lim=[0, None],
            label="steady-state ms per stage (compile excluded)",
        )
    with gr.Tab("ウィンドウ / Windows"):
        o["windows_md"] = gr.Markdown()
        o["windows"] = gr.Dataframe(headers=render.WINDOW_COLUMNS, interactive=False)


def _wire_requests(gr, service: DemoService, controls: Controls, parts: dict, outs: Outputs):
    """Answer and Compare: the controls read once into a Request, the view filled back."""
    seen = gr.State(())  # the notes already said in this session
    files = run_files()

    def answer(values: dict) -> dict:
        req = controls.read(values)
        view, now_seen = handlers.on_answer(service, req, values[seen], files)
        return {**outs.fill(view), seen: now_seen}

    def compare(values: dict) -> dict:
        return outs.fill(handlers.on_compare(service, controls.read(values)))

    inputs = controls.components() | {seen}
    answer_outs = [*outs.of(*ANSWER_OUTPUTS), seen]
    group = {"concurrency_id": MODEL_EVENTS}
    parts["answer_btn"].click(answer, inputs, answer_outs, api_name="answer_view", **group)
    controls.question.submit(answer, inputs, answer_outs, api_name=False, **group)
    parts["compare_btn"].click(
        compare,
        controls.components(),
        outs.of("compare", "compare_plot"),
        api_name="compare",
        **group,
    )


def _wire_choices(gr, registry: ModelRegistry, controls: Controls, parts: dict):
    """Precision choices follow the device; a ⬇ catalog model offers its download."""
    fetch = Outputs(
        fetch_box=parts["fetch_box"],
        fetch_md=parts["fetch_md"],
        model=controls.model,
        ner_model=controls.ner_model,
    )
    controls.device.change(
        lambda d, p: handlers.on_device_change(registry, d, p),
        [controls.device, controls.precision],
        [controls.precision],
        api_name=False,
    )
    for dropdown in (controls.model, controls.ner_model):
        dropdown.change(
            lambda name: fetch.fill(handlers.on_model_change(registry, name)),
            [dropdown],
            fetch.of("fetch_box", "fetch_md"),
            api_name=False,
        )

    # Not track_tqdm: gradio then patches tqdm for every thread, and huggingface_hub's bars in
    # the preload thread (no event of its own) failed with AttributeError.
    def fetch_selected(qa_name, ner_name, language, progress=gr.Progress()):  # noqa: B008
        return fetch.fill(handlers.on_fetch(registry, qa_name, ner_name, language, progress))

    parts["fetch_btn"].click(
        fetch_selected,
        [controls.model, controls.ner_model, controls.language],
        fetch.of("model", "ner_model", "fetch_box", "fetch_md"),
        api_name="fetch_model",
    )


def _examples(gr, examples: Sequence[Example], controls: Controls) -> None:
    if examples:
        gr.Examples(
            [[e.question, e.context, e.language] for e in examples],
            inputs=[controls.question, controls.context, controls.language],
            example_labels=[e.label for e in examples],
            label="例 / Examples",
        )


def build_ui(
    service: DemoService,
    examples: Sequence[Example] = (),
    title: str = "qa-demo",
    concurrency: int | None = None,
):
    """The Blocks app over already-built objects (a DemoService and its registry), its queue
    set up here and only here (``concurrency`` requests at once; default: by the devices)."""
    import gradio as gr

    registry = service.registry
    devices = registry.devices()
    with gr.Blocks(title=title) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                parts = _text_column(gr)
            with gr.Column(scale=2):
                parts |= _model_pickers(gr, registry)
                parts |= _runtime_pickers(gr, registry, devices)
        controls = Controls(**{f.name: parts[f.name] for f in fields(Controls)})
        _examples(gr, examples, controls)
        outs = _results(gr)
        _wire_requests(gr, service, controls, parts, outs)
        _wire_choices(gr, registry, controls, parts)
        api = handlers.Api(service)
        gr.api(api.answer, api_name="answer", concurrency_id=MODEL_EVENTS)
        gr.api(api.ner, api_name="ner", concurrency_id=MODEL_EVENTS)
        gr.api(api.tokenize, api_name="tokenize")
        gr.Markdown(
            f"Devices: {', '.join(devices)} · models: `{registry.root}` · "
            f"MeCab dictionaries: {', '.join(registry.dictionaries()) or 'none'}",
            elem_id="footer",
        )
    limit = concurrency or concurrency_limit(devices)
    demo.queue(default_concurrency_limit=limit, max_size=QUEUE_MAX_SIZE)
    return demo
