"""The engines: each answers a case end to end (``answer``) and runs the model alone on one
window (``window``)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace

import numpy as np

from ...errors import MissingDependencyError, require
from ...model_dir import load_model_dir
from ...options import Int8Route, Precision
from ...ort import OrtEngine
from ...qa import QAOptions, QuestionAnswerer
from ...runtime import Engine
from ...windows import batch, build_windows
from .config import WINDOW_TOKENS, BenchConfig
from .contexts import BenchCase
from .weights import Prepared


@dataclass(frozen=True)
class TopAnswer:
    text: str
    start: int
    end: int



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

        params = inspect.signature(self.model.forward).parameters
        with torch.no_grad():
            self.model(**{k: torch.from_numpy(v) for k, v in feed.items() if k in params})


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
        compiled = self.qa.compiled
        compiled.infer({n: feed[n] for n in compiled.input_names})


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

