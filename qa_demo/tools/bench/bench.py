"""``qa-demo bench``: the same questions, contexts and weights through several QA engines.

Stages: build or load the weights (``prepare``) -> make the engines (``make_engines``) ->
interleaved rounds (``measure``) -> report (Markdown, JSON, PNG). Engines run one after
another in each round, in a rotating order, so a slow spell on a shared machine hits every
engine alike; speed-ups against the transformers pipeline are computed per round, then the
median is taken.

Engines (all on one set of weights, all with the same number of threads):

* ``pytorch``: transformers' ``pipeline("question-answering")``, the reference.
* ``ort-fp32`` / ``ort-int8``: ONNX Runtime FP32 and its dynamic INT8, fed by our own pre- and
  post-processing, so only the runtime differs from ours.
* ``ov-fp32``: this project (``QuestionAnswerer``) as the app runs it: the windows of one
  length in one batched call on the LATENCY compile (the short last window apart).
* ``ov-fp32-parallel``: the same with ``parallel_windows=True``: several windows as parallel
  requests on a THROUGHPUT compile (the other way we measured).
* ``ov-int8-weights`` / ``ov-int8-static``: the two INT8 routes of ``export.make_int8``.
* ``optimum``: optimum-intel's OVModelForQuestionAnswering pipeline, when installed.

torch, transformers and onnxruntime are imported lazily: the bench is a development tool
(``pip install qa-demo[bench]``), never on the serving path.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ...errors import DataError, InputError, MissingDependencyError, require
from ...model_dir import PRECISION_FILES, load_model_dir
from ...options import Int8Route, Precision
from ...ort import OrtEngine
from ...qa import QAInput, QAOptions, QuestionAnswerer
from ...runtime import Engine
from ...types import Task
from ...windows import batch, build_windows
from .contexts import BenchCase, english_cases, japanese_cases

ENGINES = (
    "pytorch",
    "ort-fp32",
    "ort-int8",
    "ov-fp32",
    "ov-fp32-parallel",
    "ov-int8-weights",
    "ov-int8-static",
    "optimum",
)
REFERENCE = "pytorch"
#: Real sizes; vocab sizes of bert-base-uncased and of cl-tohoku/bert-base-japanese-v3.
VOCAB_SIZES = {"en": 30522, "ja": 32768}
ARCHS = {
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 64},
    "minilm": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
               "intermediate_size": 1536},
    "distilbert": {},  # DistilBertConfig() defaults: 6 layers, hidden 768
    "bert-base": {},  # BertConfig() defaults: 12 layers, hidden 768
}
#: Random QA heads give near-flat logits and arbitrary near-ties; a larger head gives a clear
#: best span, so engines can be compared on their top answer.
QA_HEAD_SCALE = 10.0
#: Window length for the model-only time and the FLOP bound.
WINDOW_TOKENS = 384
SGEMM_SIZE = 2048
DEFAULT_WORK_DIR = Path(
    os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
) / "qa_demo" / "bench"
JSQUAD = "jsquad/valid-v1.3.json"


@dataclass(frozen=True)
class BenchConfig:
    arch: str | None = "distilbert"
    model: Path | None = None
    lang: str = "en"
    contexts: str = "both"
    engines: tuple[str, ...] = ENGINES
    repeat: int = 3
    threads: int = 0  # 0: every CPU this process may use
    work_dir: Path = DEFAULT_WORK_DIR
    out_dir: Path = Path("bench-results")
    shared_data: Path | None = None
    startup: bool = False

    def __post_init__(self) -> None:
        if (self.arch is None) == (self.model is None):
            raise InputError("Give exactly one of --arch and --model.")
        if self.arch is not None and self.arch not in ARCHS:
            raise InputError(f"Unknown --arch {self.arch!r}; expected one of {tuple(ARCHS)}.")
        if self.lang not in VOCAB_SIZES:
            raise InputError(f"--lang must be en or ja, got {self.lang!r}.")
        if self.contexts not in ("short", "long", "both"):
            raise InputError(f"--contexts must be short, long or both, got {self.contexts!r}.")
        unknown = [e for e in self.engines if e not in ENGINES]
        if unknown:
            raise InputError(f"Unknown engines {unknown}; expected some of {ENGINES}.")
        if self.repeat < 1:
            raise InputError(f"--repeat must be >= 1, got {self.repeat}.")

    @property
    def n_threads(self) -> int:
        return self.threads or len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Prepared:
    """Everything the engines share: one checkpoint, its IR files and the cases."""

    checkpoint: Path  # transformers checkpoint (config, weights, tokenizer)
    model_dir: Path  # qa-demo model directory: FP32 IR + tokenizer + qa_demo.json
    int8_files: dict[str, Path]  # route -> IR
    onnx_files: dict[str, Path]  # "fp32"/"int8" -> ONNX
    cases: tuple[BenchCase, ...]
    params_non_embedding: int
    hidden_size: int
    layers: int


@dataclass(frozen=True)
class TopAnswer:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Sample:
    """One engine answering one case once."""

    engine: str
    case: int
    round: int
    total_ms: float
    answer: TopAnswer
    #: tokenize + post-processing ms, where the engine reports its stages (ours).
    overhead_ms: float | None = None


@dataclass(frozen=True)
class EngineSummary:
    engine: str
    short_ms: float | None  # median per question
    long_ms: float | None
    speedup_short: float | None  # median over rounds of reference time / engine time
    speedup_long: float | None
    window_ms: float | None  # model only, one 384-token window, batch 1
    overhead_pct: float | None  # tokenize + post-process, % of end to end
    note: str = ""


@dataclass
class BenchReport:
    config: dict
    machine: dict
    engines: list[EngineSummary]
    skipped: dict[str, str]
    disagreements: list[str]
    known_differences: list[str]  # the Japanese pipeline's word widening, see run()
    int8_agreement: dict[str, float]
    flops_per_window: float
    sgemm_gflops: float
    bound_ms: float
    bound_ratio: dict[str, float]  # model-only time / FLOP bound, median of per-round ratios
    cases: list[dict]
    kernels: dict[str, dict[str, int]] = field(default_factory=dict)
    startup: dict = field(default_factory=dict)
    #: Reference time / FLOP bound of the (unpadded) windows it runs, per context length: the
    #: largest speed-up any FP32 engine could show at the measured sgemm rate.
    ceiling: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        out["engines"] = [asdict(e) for e in self.engines]
        return out


# -- the weights ------------------------------------------------------------------------------
def _english_vocab(texts: list[str], size: int) -> list[str]:
    from tokenizers import BertWordPieceTokenizer

    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(texts, vocab_size=min(size, 8000), min_frequency=1, show_progress=False)
    vocab = sorted(wp.get_vocab().items(), key=lambda kv: kv[1])
    return [t for t, _ in vocab]


def _pad_vocab(tokens: list[str], size: int) -> list[str]:
    """Synthetic entries up to the real vocab size, so the embedding has its real shape."""
    return tokens + [f"[unused{i}]" for i in range(size - len(tokens))]


def _write_tokenizer(out: Path, lang: str, cases: list[BenchCase], vocab_size: int, arch: str):
    """A real WordPiece vocab learnt on the bench texts, padded to the real size."""
    texts = [c.context for c in cases] + [c.question for c in cases]
    if lang == "en":
        from transformers import BertTokenizerFast, DistilBertTokenizerFast

        tokens = _pad_vocab(_english_vocab(texts, vocab_size), vocab_size)
        out.mkdir(parents=True, exist_ok=True)
        (out / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
        # DistilBERT's tokenizer gives no token_type_ids, which its forward() would refuse.
        cls = DistilBertTokenizerFast if arch == "distilbert" else BertTokenizerFast
        tok = cls(vocab_file=str(out / "vocab.txt"), do_lower_case=True)
        tok.save_pretrained(out)
        return tok
    from transformers import BertJapaneseTokenizer

    from ...tokenization import train_japanese_vocab, write_japanese_tokenizer_files

    learnt = train_japanese_vocab(texts, 8000, min_frequency=1)
    tokens = _pad_vocab([t for t, _ in sorted(learnt.items(), key=lambda kv: kv[1])], vocab_size)
    write_japanese_tokenizer_files(out, {t: i for i, t in enumerate(tokens)})
    if arch != "distilbert":
        return BertJapaneseTokenizer.from_pretrained(out)
    names = ["input_ids", "attention_mask"]
    tok = BertJapaneseTokenizer.from_pretrained(out, model_input_names=names)
    tok.save_pretrained(out)
    return tok


def build_checkpoint(arch: str, lang: str, cases: list[BenchCase], out: Path, task: Task = Task.QA):
    """A random-weight model of the real size of ``arch``; nothing is downloaded."""
    torch = require("torch", "bench")
    transformers = require("transformers", "bench")

    tok = _write_tokenizer(out, lang, cases, VOCAB_SIZES[lang], arch)
    vocab = len(tok.get_vocab())
    extra = {}
    if task is Task.NER:
        labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
        extra = {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                 "label2id": {lab: i for i, lab in enumerate(labels)}}
    if arch == "distilbert":
        config = transformers.DistilBertConfig(vocab_size=vocab, **extra)
    else:
        config = transformers.BertConfig(vocab_size=vocab, **ARCHS[arch], **extra)
    cls = (transformers.AutoModelForQuestionAnswering if task is Task.QA
           else transformers.AutoModelForTokenClassification)
    torch.manual_seed(0)
    model = cls.from_config(config).eval()
    if task is Task.QA:
        with torch.no_grad():
            model.qa_outputs.weight.mul_(QA_HEAD_SCALE)
    model.save_pretrained(out)
    return model, tok


def load_cases(lang: str, contexts: str, shared_data: Path | None) -> list[BenchCase]:
    if lang == "en":
        return english_cases(contexts)
    path = (shared_data or _default_shared_data()) / JSQUAD
    if not path.exists():
        raise DataError(f"Japanese bench contexts come from {path}, which is missing.")
    return japanese_cases(path, contexts)


def _default_shared_data() -> Path:
    """$QA_DEMO_SHARED_DATA, else ../shared/data beside the working directory or checkout."""
    if os.environ.get("QA_DEMO_SHARED_DATA"):
        return Path(os.environ["QA_DEMO_SHARED_DATA"])
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (base.parent / "shared" / "data").is_dir():
            return base.parent / "shared" / "data"
    return Path.cwd().parent / "shared" / "data"


def _squad_file(cases: list[BenchCase], path: Path) -> Path:
    """The cases as SQuAD JSON: export's calibration input for the static INT8 route."""
    paragraphs = [{"context": c.context, "qas": [{"id": str(i), "question": c.question,
                                                  "answers": []}]} for i, c in enumerate(cases)]
    path.write_text(json.dumps({"data": [{"title": "bench", "paragraphs": paragraphs}]},
                               ensure_ascii=False), encoding="utf-8")
    return path


def prepare(cfg: BenchConfig, log: Callable[[str], None]) -> Prepared:
    """Build (or reuse) the checkpoint, its IR (FP32 + both INT8 routes) and ONNX files."""
    require("torch", "bench")
    transformers = require("transformers", "bench")
    from .. import export as ex

    cases = load_cases(cfg.lang, cfg.contexts, cfg.shared_data)
    all_cases = load_cases(cfg.lang, "both", cfg.shared_data)  # the vocab sees every text
    if cfg.arch:
        work = cfg.work_dir / f"{cfg.arch}-{cfg.lang}"
        ckpt = work / "checkpoint"
        if not (ckpt / "config.json").exists():
            log(f"Building a random-weight {cfg.arch} ({cfg.lang}) in {ckpt} ...")
            build_checkpoint(cfg.arch, cfg.lang, all_cases, ckpt)
    else:
        ckpt = Path(cfg.model)
        weights = [ckpt / f for f in ("model.safetensors", "pytorch_model.bin")
                   if (ckpt / f).exists()]
        if not weights:
            raise InputError(
                f"{ckpt} has no transformers weights (model.safetensors); the bench compares "
                "engines on one checkpoint, so give the checkpoint a model was exported from."
            )
        # Keyed by the weights' mtime, so a retrained checkpoint is exported again.
        work = cfg.work_dir / f"model-{ckpt.resolve().name}-{int(weights[0].stat().st_mtime)}"
    work.mkdir(parents=True, exist_ok=True)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(ckpt).eval()
    tok = transformers.AutoTokenizer.from_pretrained(ckpt)
    ir = work / "ir"
    int8 = {r: ir / f"openvino_model_int8_{r}.xml" for r in ex.INT8_ROUTES}
    if not (ir / PRECISION_FILES["FP32"]).exists() or not all(p.exists() for p in int8.values()):
        log("Exporting to OpenVINO IR (FP32, INT8 weights-only, INT8 static) ...")
        ex.export(str(ckpt), ir, "qa", model=model, tokenizer=tok, overwrite=True,
                  calibration=_squad_file(all_cases, work / "calibration.json"), log=log,
                  language=cfg.lang)
        feeds = ex.parity_feeds(ir, ex.read_calibration_texts(work / "calibration.json", Task.QA))
        import openvino as ov

        for route, path in int8.items():
            fp32 = ov.Core().read_model(ir / PRECISION_FILES["FP32"])
            ov.save_model(ex.make_int8(fp32, feeds, route), path)
    onnx = {"fp32": work / "model.onnx", "int8": work / "model_int8.onnx"}
    if any(e.startswith("ort") for e in cfg.engines) and not onnx["int8"].exists():
        log("Exporting to ONNX (FP32) and quantizing dynamically (INT8) ...")
        export_onnx(model, onnx["fp32"], onnx["int8"])
    params, hidden, layers = count_params(model)
    return Prepared(ckpt, ir, int8, onnx, tuple(cases), params, hidden, layers)


def export_onnx(model, fp32: Path, int8: Path) -> None:
    import torch

    from ..export import _example_inputs

    require("onnxruntime", "bench")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    example = _example_inputs(model, 1, 16)
    axes = {k: {0: "batch", 1: "sequence"} for k in example}
    axes.update({"start_logits": {0: "batch", 1: "sequence"},
                 "end_logits": {0: "batch", 1: "sequence"}})
    with torch.no_grad():
        # dynamo=False: the TorchScript exporter needs no onnxscript.
        torch.onnx.export(model, (dict(example),), str(fp32), input_names=list(example),
                          output_names=["start_logits", "end_logits"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)


def count_params(model) -> tuple[int, int, int]:
    """Non-embedding parameters (the matmul weights), hidden size and layer count."""
    total = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    config = model.config
    hidden = getattr(config, "hidden_size", None) or config.dim
    layers = getattr(config, "num_hidden_layers", None) or config.n_layers
    return int(total), int(hidden), int(layers)


def flops_per_window(params: int, hidden: int, layers: int, tokens: int = WINDOW_TOKENS) -> float:
    """2 x weights x tokens for the matmuls, plus QK^T and AV: 2 x 2 x T^2 x H per layer."""
    return 2.0 * params * tokens + 4.0 * layers * tokens * tokens * hidden


def ceiling(cases: tuple[BenchCase, ...], case_flops: list[float], samples: list[Sample],
            sgemm: list[float], reference: str = REFERENCE) -> dict[str, float]:
    """Per length: median over rounds of the reference's time / the FLOP bound of its work."""
    out = {}
    for length in ("short", "long"):
        idx = [i for i, c in enumerate(cases) if c.length == length]
        if not idx:
            continue
        flops = sum(case_flops[i] for i in idx)
        ratios = []
        for rnd, gflops in enumerate(sgemm):
            ms = sum(s.total_ms for s in samples
                     if s.engine == reference and s.round == rnd and s.case in idx)
            if ms:
                ratios.append(ms / (flops / (gflops * 1e9) * 1000))
        if ratios:
            out[length] = statistics.median(ratios)
    return out


def sgemm_gflops(threads: int, n: int = SGEMM_SIZE, repeat: int = 5) -> float:
    """Best FP32 matmul rate (GFLOP/s) of large square matrices on ``threads`` threads."""
    torch = require("torch", "bench")
    torch.set_num_threads(threads)
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


# -- the engines ------------------------------------------------------------------------------
class BenchEngine:
    """One way of answering; ``answer`` runs end to end, ``window`` the model alone."""

    name: str

    def answer(self, case: BenchCase) -> tuple[TopAnswer, float | None]:
        raise NotImplementedError

    def window(self, feed: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


class PipelineEngine(BenchEngine):
    """transformers' question-answering pipeline on PyTorch (or optimum-intel's model)."""

    def __init__(self, name: str, model, tokenizer, opts: QAOptions) -> None:
        from transformers import pipeline

        self.name = name
        self.model = model
        self.pipe = pipeline("question-answering", model=model, tokenizer=tokenizer)
        self.kwargs = {"max_seq_len": opts.max_seq_len, "doc_stride": opts.doc_stride,
                       "max_answer_len": opts.max_answer_len, "max_question_len":
                       opts.max_question_len, "top_k": 1}

    def answer(self, case: BenchCase) -> tuple[TopAnswer, float | None]:
        out = self.pipe(question=case.question, context=case.context, **self.kwargs)
        return TopAnswer(out["answer"], int(out["start"]), int(out["end"])), None

    def window(self, feed: dict[str, np.ndarray]) -> None:
        import torch

        with torch.no_grad():
            self.model(**{k: torch.from_numpy(v) for k, v in feed.items()})


class OursEngine(BenchEngine):
    """Our QuestionAnswerer: tokenization, windows and span decoding; ``qa.compiled`` runs."""

    def __init__(self, name: str, qa: QuestionAnswerer) -> None:
        self.name = name
        self.qa = qa

    def answer(self, case: BenchCase) -> tuple[TopAnswer, float | None]:
        result = self.qa.ask(case.question, case.context)
        best = result.answers[0]
        t = result.timings
        return TopAnswer(best.text, best.start, best.end), t.segment + t.tokenize + t.postprocess

    def window(self, feed: dict[str, np.ndarray]) -> None:
        self.qa.compiled.infer(feed)


def make_engines(cfg: BenchConfig, prep: Prepared, log) -> tuple[list[BenchEngine], dict]:
    """The engines asked for; those that cannot run here are returned with the reason."""
    transformers = require("transformers", "bench")
    torch = require("torch", "bench")
    torch.set_num_threads(cfg.n_threads)
    opts = QAOptions()
    engine = Engine(cache_dir=cfg.work_dir / "ov_cache",
                    config={"INFERENCE_NUM_THREADS": cfg.n_threads})
    base = load_model_dir(prep.model_dir)
    engines: list[BenchEngine] = []
    skipped: dict[str, str] = {}
    for name in cfg.engines:
        if name == "pytorch":
            model = transformers.AutoModelForQuestionAnswering.from_pretrained(prep.checkpoint)
            tok = transformers.AutoTokenizer.from_pretrained(prep.checkpoint)
            engines.append(PipelineEngine(name, model.eval(), tok, opts))
        elif name.startswith("ort-"):
            try:
                require("onnxruntime", "bench")
            except MissingDependencyError as exc:
                skipped[name] = str(exc)
                continue
            precision = Precision.parse(name.split("-", 1)[1])
            backend = OrtEngine({precision: prep.onnx_files[precision.value.lower()]},
                                threads=cfg.n_threads)
            # ORT batches windows as ov-fp32 does (parallel_windows is OpenVINO's).
            qa = QuestionAnswerer(base, engine=backend, options=opts, precision=precision)
            engines.append(OursEngine(name, qa))
        elif name in ("ov-fp32", "ov-fp32-parallel"):
            qa = QuestionAnswerer(base, engine=engine, options=opts, precision=Precision.FP32,
                                  parallel_windows=name == "ov-fp32-parallel")
            engines.append(OursEngine(name, qa))
        elif name.startswith("ov-int8-"):
            route = name.rsplit("-", 1)[1]
            path = prep.int8_files[route]
            md = replace(base, precisions={**base.precisions, "INT8": path},
                         int8_files={Int8Route.parse(route): path})
            engines.append(OursEngine(name, QuestionAnswerer(md, engine=engine, options=opts,
                                                             precision="INT8")))
        elif name == "optimum":
            try:
                from optimum.intel import OVModelForQuestionAnswering
            except ImportError:
                skipped[name] = ("optimum-intel is not installed (it pins an older "
                                 "transformers than the parity tests need)")
                continue
            model = OVModelForQuestionAnswering.from_pretrained(prep.checkpoint, export=True)
            tok = transformers.AutoTokenizer.from_pretrained(prep.checkpoint)
            engines.append(PipelineEngine(name, model, tok, opts))
    return engines, skipped


def window_feed(prep: Prepared) -> dict[str, np.ndarray]:
    """One full 384-token window (question + context), as our preprocessing builds it."""
    from ...tokenization import load_tokenizer

    tok = load_tokenizer(prep.model_dir)
    case = max(prep.cases, key=lambda c: len(c.context))
    q = tok.encode(case.question)
    windows = build_windows(tok, tok.encode(case.context), WINDOW_TOKENS, 128, question=q)
    return batch([windows[0]], tok.pad_id)


def kernel_summary(compiled) -> dict[str, int]:
    """Which primitives the CPU plugin picked for the matmuls (from the runtime model)."""
    counts: dict[str, int] = {}
    for op in compiled.model.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer = info["layerType"].astype(str) if "layerType" in info else ""
        if layer in ("FullyConnected", "MatMul", "ScaledDotProductAttention"):
            prim = info["primitiveType"].astype(str) if "primitiveType" in info else "?"
            prec = info["runtimePrecision"].astype(str) if "runtimePrecision" in info else "?"
            key = f"{layer}:{prim}:{prec}"
            counts[key] = counts.get(key, 0) + 1
    return counts


# -- measuring --------------------------------------------------------------------------------
def measure(engines: list[BenchEngine], cases: tuple[BenchCase, ...], feed, repeat: int,
            threads: int, log) -> tuple[list[Sample], dict[str, list[float]]]:
    """Warm up, then ``repeat`` rounds; in each, every engine answers every case once and runs
    the model alone on one window, and the sgemm peak is measured (key "sgemm", GFLOP/s), so
    the FLOP bound sees the same machine load as the engines. The engine order rotates."""
    warm = {min(cases, key=lambda c: len(c.context)), max(cases, key=lambda c: len(c.context))}
    for e in engines:  # compile (LATENCY and THROUGHPUT), allocate, fill caches: not measured
        for case in warm:
            e.answer(case)
        _feed_for(e, feed)
    samples: list[Sample] = []
    window: dict[str, list[float]] = {e.name: [] for e in engines}
    window["sgemm"] = []
    for rnd in range(repeat):
        window["sgemm"].append(sgemm_gflops(threads, repeat=3))
        order = engines[rnd % len(engines):] + engines[: rnd % len(engines)]
        for e in order:
            for i, case in enumerate(cases):
                t0 = time.perf_counter()
                top, overhead = e.answer(case)
                ms = (time.perf_counter() - t0) * 1000
                samples.append(Sample(e.name, i, rnd, ms, top, overhead))
            t0 = time.perf_counter()
            _feed_for(e, feed)
            window[e.name].append((time.perf_counter() - t0) * 1000)
        log(f"round {rnd + 1}/{repeat} done")
    return samples, window


def _feed_for(engine: BenchEngine, feed: dict[str, np.ndarray]) -> None:
    if isinstance(engine, OursEngine):
        names = engine.qa.compiled.input_names
    elif isinstance(engine, PipelineEngine):
        import inspect

        params = inspect.signature(engine.model.forward).parameters
        names = tuple(n for n in feed if n in params)
    else:
        names = tuple(feed)
    engine.window({n: feed[n] for n in names})


def summarize(engines: list[str], cases: tuple[BenchCase, ...], samples: list[Sample],
              window: dict[str, list[float]]) -> list[EngineSummary]:
    def per_round(name: str, length: str) -> dict[int, float]:
        totals: dict[int, float] = {}
        for s in samples:
            if s.engine == name and cases[s.case].length == length:
                totals[s.round] = totals.get(s.round, 0.0) + s.total_ms
        return totals

    out = []
    for name in engines:
        row: dict[str, float | None] = {}
        for length in ("short", "long"):
            ms = [s.total_ms for s in samples
                  if s.engine == name and cases[s.case].length == length]
            row[f"{length}_ms"] = statistics.median(ms) if ms else None
            mine, ref = per_round(name, length), per_round(REFERENCE, length)
            ratios = [ref[r] / mine[r] for r in mine if r in ref]
            row[f"speedup_{length}"] = statistics.median(ratios) if ratios else None
        over = [(s.overhead_ms, s.total_ms) for s in samples if s.engine == name and s.overhead_ms]
        pct = 100 * sum(o for o, _ in over) / sum(t for _, t in over) if over else None
        win = statistics.median(window[name]) if window.get(name) else None
        out.append(EngineSummary(name, row["short_ms"], row["long_ms"], row["speedup_short"],
                                 row["speedup_long"], win, pct))
    return out


def check_answers(cases: tuple[BenchCase, ...], samples: list[Sample],
                  reference: str = REFERENCE) -> tuple[list[str], dict]:
    """FP32 engines must agree with ``reference``; INT8 agreement with ov-fp32 is a rate."""
    first: dict[tuple[str, int], TopAnswer] = {}
    for s in samples:
        first.setdefault((s.engine, s.case), s.answer)
    names = sorted({e for e, _ in first})
    disagreements = []
    agreement: dict[str, float] = {}
    for name in names:
        if "int8" in name:
            base = "ov-fp32" if "ov-fp32" in names else REFERENCE
            same = [first[(name, i)] == first.get((base, i)) for i in range(len(cases))]
            agreement[f"{name} vs {base}"] = 100.0 * sum(same) / len(same)
            continue
        ref = reference if reference in names else "ov-fp32"
        for i in range(len(cases)):
            a, b = first[(name, i)], first.get((ref, i))
            if b is not None and a != b:
                disagreements.append(f"case {i}: {name} {a} != {ref} {b}")
        for s in samples:  # an engine must also agree with itself between rounds
            if s.engine == name and s.answer != first[(name, s.case)]:
                disagreements.append(f"case {s.case}: {name} changed its answer in round {s.round}")
    return disagreements, agreement


def machine_info(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                     if ln.startswith("flags")).split()
        isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile") if f in flags]
    except (OSError, StopIteration):
        isa = []
    import openvino

    versions = {"openvino": openvino.__version__}
    for mod in ("torch", "transformers", "onnxruntime", "nncf"):
        with contextlib.suppress(ImportError):
            versions[mod] = __import__(mod).__version__
    return {"cpu": cpu, "isa": isa, "cpus_visible": len(os.sched_getaffinity(0)),
            "threads": threads, "python": platform.python_version(),
            "load_average_at_start": os.getloadavg()[0], **versions}


# -- start-up and memory ----------------------------------------------------------------------
_READY_BARE = """
import gradio as gr
with gr.Blocks() as demo:
    gr.Textbox()
demo.launch(prevent_thread_lock=True)
print("READY", flush=True)
demo.close()
"""

_READY_APP = """
from qa_demo.app.ui import build_app
{load}
demo = build_app({args})
demo.launch(prevent_thread_lock=True)
print("READY", flush=True)
demo.close()
"""

#: Peak RSS from VmHWM, which starts afresh at exec; ru_maxrss would inherit the bench
#: process's own peak through fork.
_MEMORY = """
import sys
from pathlib import Path
from qa_demo import EntityTagger, QuestionAnswerer
text = Path(sys.argv[3]).read_text(encoding="utf-8")
qa = QuestionAnswerer.load(sys.argv[1], parallel_windows=sys.argv[4] == "1")
ner = EntityTagger.load(sys.argv[2])
qa.ask("Who designed the pier?", text[:900])
qa.ask("Who designed the pier?", text)
ner.tag(text[:2000])
status = Path("/proc/self/status").read_text().splitlines()
print(int(next(ln for ln in status if ln.startswith("VmHWM")).split()[1]) / 1024)
"""


def _time_until_ready(code: str, env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        if line.startswith("READY"):
            elapsed = time.perf_counter() - t0
            proc.wait(timeout=60)
            return elapsed
    err = proc.stderr.read()
    raise DataError(f"The start-up probe failed: {err.strip().splitlines()[-1:]}")


def measure_startup(cfg: BenchConfig, prep: Prepared, log) -> dict:
    """Compile times (first, cached), app start vs a bare Blocks app, and peak RSS."""
    out: dict = {}
    xml = prep.model_dir / PRECISION_FILES["FP32"]
    with tempfile.TemporaryDirectory() as cache:
        first = Engine(cache_dir=cache).compile(xml)
        cached = Engine(cache_dir=cache).compile(xml)
        out["compile_first_ms"] = round(first.compile_ms, 1)
        out["compile_cached_ms"] = round(cached.compile_ms, 1)
    log(f"compile: first {out['compile_first_ms']} ms, cached {out['compile_cached_ms']} ms")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    try:
        bare = [_time_until_ready(_READY_BARE, env) for _ in range(2)]
        out["bare_gradio_s"] = round(min(bare), 2)
    except DataError as exc:
        out["bare_gradio_s"] = None
        out["note"] = str(exc)
    ner_dir = _ner_dir(cfg, prep, log)  # beside the QA model: the app loads both
    out.update(_app_startup(prep, env))
    if ner_dir is not None:
        long_text = max(prep.cases, key=lambda c: len(c.context)).context
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(long_text)
        try:
            for parallel, key in (("0", "peak_rss_mb_qa_ner"),
                                  ("1", "peak_rss_mb_qa_ner_parallel_windows")):
                res = subprocess.run([sys.executable, "-c", _MEMORY, str(prep.model_dir),
                                      str(ner_dir), f.name, parallel], capture_output=True,
                                     text=True, timeout=600, check=True)
                out[key] = round(float(res.stdout.strip().splitlines()[-1]), 1)
        except (subprocess.SubprocessError, ValueError) as exc:
            out["memory_note"] = str(exc)[-300:]
        finally:
            os.unlink(f.name)
    return out


def _app_startup(prep: Prepared, env: dict) -> dict:
    """Our app's start to ready, with a warm compile cache, if ui.build_app exists."""
    try:
        from ...app import ui
    except ImportError as exc:
        return {"app_note": f"qa_demo.app.ui not importable: {exc}"}
    if not hasattr(ui, "build_app"):
        return {"app_note": "qa_demo.app.ui has no build_app"}
    import inspect

    params = inspect.signature(ui.build_app).parameters
    if "models_root" in params:
        load, args = "", f"models_root={str(prep.model_dir.parent)!r}"
    else:
        return {"app_note": f"build_app{inspect.signature(ui.build_app)}: unknown signature"}
    code = _READY_APP.format(load=load, args=args)
    try:
        _time_until_ready(code, env)  # fills the compile cache
        runs = [_time_until_ready(code, env) for _ in range(2)]
    except DataError as exc:
        return {"app_note": str(exc)}
    return {"app_ready_s": round(min(runs), 2)}


def _ner_dir(cfg: BenchConfig, prep: Prepared, log) -> Path | None:
    """A random NER model of the same size, for the QA + NER memory figure (--arch only)."""
    if not cfg.arch:
        return None
    from ..export import export

    work = cfg.work_dir / f"{cfg.arch}-{cfg.lang}"
    out = work / "ner-ir"
    if not (out / PRECISION_FILES["FP32"]).exists():
        log("Building a random NER model of the same size for the memory figure ...")
        model, tok = build_checkpoint(cfg.arch, cfg.lang, list(prep.cases), work / "ner-ckpt",
                                      Task.NER)
        export("bench-ner", out, "ner", model=model, tokenizer=tok, overwrite=True, log=log,
               language=cfg.lang)
    return out


# -- reporting --------------------------------------------------------------------------------
def _fmt(v: float | None, spec: str = ".0f", suffix: str = "") -> str:
    return "–" if v is None else f"{v:{spec}}{suffix}"


def markdown(report: BenchReport) -> str:
    lines = [
        "| engine | short ms/question | long ms/question | speed-up short | speed-up long "
        "| model only ms/window | tokenize+post % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e in report.engines:
        lines.append(
            f"| {e.engine} | {_fmt(e.short_ms)} | {_fmt(e.long_ms)} | "
            f"{_fmt(e.speedup_short, '.2f', 'x')} | {_fmt(e.speedup_long, '.2f', 'x')} | "
            f"{_fmt(e.window_ms)} | {_fmt(e.overhead_pct, '.1f')} |"
        )
    lines.append("")
    lines.append(
        f"FLOP lower bound: {report.flops_per_window / 1e9:.1f} GFLOP per {WINDOW_TOKENS}-token "
        f"window / sgemm peak {report.sgemm_gflops:.0f} GFLOP/s = {report.bound_ms:.0f} ms."
    )
    lines.append("Model only / bound (median of per-round ratios): " + ", ".join(
        f"{name} {ratio:.2f}x" for name, ratio in report.bound_ratio.items()) + ".")
    if report.ceiling:
        lines.append(
            "Ceiling: the reference's time / the FLOP bound of the windows it runs (unpadded): "
            + ", ".join(f"{k} {v:.2f}x" for k, v in report.ceiling.items())
            + "; no FP32 engine at the measured sgemm rate can be faster than this."
        )
    for name, why in report.skipped.items():
        lines.append(f"skipped {name}: {why}")
    for name, pct in report.int8_agreement.items():
        lines.append(f"top-answer agreement {name}: {pct:.0f}%")
    if report.config["lang"] == "ja":
        lines.append("Japanese: FP32 engines are checked against ov-fp32; transformers' pipeline "
                     "(slow BertJapaneseTokenizer) widens answers to whitespace-separated words.")
    if report.disagreements:
        lines.append("DISAGREEMENTS:")
        lines.extend(f"  {d}" for d in report.disagreements)
    else:
        lines.append("All FP32 engines gave the same top answers.")
    for key, value in report.startup.items():
        lines.append(f"{key}: {value}")
    m = report.machine
    lines.append(f"Machine: {m['cpu']}, {m['threads']} threads, ISA {'/'.join(m['isa'])}, "
                 f"load average at start {m['load_average_at_start']:.1f}.")
    return "\n".join(lines)


def chart(report: BenchReport, path: Path) -> Path | None:
    """Bars: speed-up against the transformers pipeline, short and long contexts."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [e for e in report.engines if e.speedup_short or e.speedup_long]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    for off, attr, label in ((-0.2, "speedup_short", "short (500–1,000 chars)"),
                             (0.2, "speedup_long", "long (4,000–5,000 chars)")):
        vals = [getattr(e, attr) or 0.0 for e in rows]
        bars = ax.bar(x + off, vals, 0.4, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(1.0, color="grey", lw=0.8)
    top = max([getattr(e, a) or 0.0 for e in rows for a in ("speedup_short", "speedup_long")])
    ax.set_ylim(0, top * 1.3)  # room for the legend above the bars
    ax.set_xticks(x, [e.engine for e in rows], rotation=20, fontsize=8)
    ax.set_ylabel("speed-up vs transformers pipeline")
    cfg = report.config
    ax.set_title(f"{cfg['arch'] or 'model'} ({cfg['lang']}), end to end, {cfg['threads']} "
                 "threads, median of per-round ratios", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", ncols=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def run(cfg: BenchConfig, log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)):
    """The whole bench; writes bench.json and bench.png under ``cfg.out_dir``."""
    prep = prepare(cfg, log)
    engines, skipped = make_engines(cfg, prep, log)
    if not engines:
        raise InputError("No engine can run here: " + "; ".join(skipped.values()))
    names = [e.name for e in engines]
    log(f"Engines: {', '.join(names)}; {len(prep.cases)} cases; {cfg.repeat} rounds")
    feed = window_feed(prep)
    samples, window = measure(engines, prep.cases, feed, cfg.repeat, cfg.n_threads, log)
    summaries = summarize(names, prep.cases, samples, window)
    # transformers' Japanese tokenizer is a slow one; its pipeline then widens answers to
    # whitespace-separated words, i.e. whole sentences: our FP32 engines are checked against
    # each other, and the pipeline's answers are listed as a known difference.
    reference = REFERENCE if cfg.lang == "en" else "ov-fp32"
    disagreements, agreement = check_answers(prep.cases, samples, reference)
    known = [d for d in disagreements if f": {REFERENCE} " in d] if cfg.lang == "ja" else []
    disagreements = [d for d in disagreements if d not in known]
    flops = flops_per_window(prep.params_non_embedding, prep.hidden_size, prep.layers)
    peak = statistics.median(window["sgemm"])
    bound_ratio = {  # model-only time / FLOP bound, per round, then the median
        e.name: statistics.median(
            w * g * 1e6 / flops for w, g in zip(window[e.name], window["sgemm"], strict=True))
        for e in engines}
    kernels = {e.name: kernel_summary(e.qa.compiled) for e in engines
               if isinstance(e, OursEngine) and e.name.startswith("ov-")}
    first = {(s.engine, s.case): s.answer for s in reversed(samples)}
    ours = next((e.qa for e in engines if isinstance(e, OursEngine)), None)
    case_windows = [ours.preprocess(QAInput(c.question, c.context), ours.options).windows
                    for c in prep.cases] if ours else []
    case_flops = [sum(flops_per_window(prep.params_non_embedding, prep.hidden_size,
                                       prep.layers, len(w)) for w in ws) for ws in case_windows]
    report = BenchReport(
        config={"arch": cfg.arch, "model": str(cfg.model) if cfg.model else None,
                "lang": cfg.lang, "contexts": cfg.contexts, "repeat": cfg.repeat,
                "threads": cfg.n_threads, "engines": names},
        machine=machine_info(cfg.n_threads),
        engines=summaries,
        skipped=skipped,
        disagreements=disagreements,
        known_differences=known,
        int8_agreement=agreement,
        flops_per_window=flops,
        sgemm_gflops=peak,
        bound_ms=flops / (peak * 1e9) * 1000,
        bound_ratio=bound_ratio,
        cases=[{"question": c.question, "chars": len(c.context), "length": c.length,
                **({"windows": [len(w) for w in case_windows[i]]} if case_windows else {}),
                "answers": {n: first[(n, i)].text for n in names}}
               for i, c in enumerate(prep.cases)],
        kernels=kernels,
        ceiling=(ceiling(prep.cases, case_flops, samples, window["sgemm"])
                 if case_flops and REFERENCE in names else {}),
    )
    if cfg.startup:
        report.startup = measure_startup(cfg, prep, log)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    (cfg.out_dir / "bench.json").write_text(
        json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    chart(report, cfg.out_dir / "bench.png")
    return report


# -- command line -----------------------------------------------------------------------------
def cmd_bench(args) -> None:
    engines = tuple(args.engines) if args.engines else ENGINES
    cfg = BenchConfig(
        arch=None if args.model else args.arch,
        model=Path(args.model) if args.model else None,
        lang=args.lang,
        contexts=args.contexts,
        engines=engines,
        repeat=args.repeat,
        threads=args.threads,
        work_dir=Path(args.work_dir),
        out_dir=Path(args.out),
        startup=args.startup,
    )
    report = run(cfg)
    print(markdown(report))
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))


def add_subcommands(sub) -> None:
    p = sub.add_parser("bench", help="compare QA engines on the same weights and texts")
    p.add_argument("--model", help="transformers QA checkpoint directory (instead of --arch)")
    p.add_argument("--arch", default="distilbert", choices=list(ARCHS),
                   help="random-weight model of this real size (default: distilbert)")
    p.add_argument("--lang", default="en", choices=["en", "ja"])
    p.add_argument("--contexts", default="both", choices=["short", "long", "both"])
    p.add_argument("--engines", nargs="+", choices=ENGINES, help="default: all")
    p.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--threads", type=int, default=0, help="threads per engine (default: all)")
    p.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="built models are kept here")
    p.add_argument("--out", default="bench-results", help="bench.json and bench.png go here")
    p.add_argument("--startup", action="store_true",
                   help="also measure compile, app start-up and peak memory")
    p.add_argument("--json", action="store_true", help="also print the JSON report")
    p.set_defaults(func=cmd_bench)
