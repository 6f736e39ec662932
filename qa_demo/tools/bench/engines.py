"""The engines: each answers a case end to end (``answer``) and runs the model alone on one
window (``window``), and says which runtime runs it and at which precision it executed.

* ``pytorch``: transformers' ``pipeline("question-answering")``, the reference.
* ``ort-fp32`` / ``ort-int8``: ONNX Runtime FP32 and its dynamic INT8 behind ``OrtEngine``, fed
  by our own pre- and post-processing, so only the runtime differs from ours.
* ``ov-fp32``: this project (``QuestionAnswerer``) at FP32 (executes f32 on every CPU): the
  windows of one length in one batched call on the LATENCY compile.
* ``ov-fp32-parallel``: the same with ``parallel_windows=True``: several windows as parallel
  requests on a THROUGHPUT compile.
* ``ov-bf16``: Precision.BF16, where the device lists BF16 in OPTIMIZATION_CAPABILITIES.
* ``ov-int8-weights`` / ``ov-int8-static``: Precision.INT8, forced to one route by a model
  directory that holds only that route's IR.
* ``ov-auto``: Precision.AUTO, the app's default: the fastest route on this device whose
  agreement with FP32 (recorded by ``export --int8``) is high enough.
* ``optimum``: optimum-intel's OVModelForQuestionAnswering pipeline, when installed.
"""

from __future__ import annotations

import atexit
import inspect
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

import numpy as np

from ...errors import DeviceError, MissingDependencyError, require
from ...kernels import INT8_TYPES, executed_precision, matmul_kernels
from ...model_dir import ModelDir, load_model_dir
from ...options import Int8Route, Precision
from ...ort import OrtEngine
from ...precision import cpu_flags, int8_dot_product
from ...qa import QAOptions, QuestionAnswerer
from ...runtime import Engine
from ...windows import batch, build_windows
from ..agreement import TopAnswer
from .config import WINDOW_TOKENS, BenchConfig
from .contexts import BenchCase
from .weights import BenchSetup

#: The GEMM rate that bounds an engine's model-only time, by the precision it runs.
BOUND_OF = {Precision.BF16: "bf16", Precision.INT8: "int8"}  # anything else: "f32"
#: OpenVINO engines: (precision, parallel windows, INT8 route forced or None).
OV_ENGINES = {
    "ov-fp32": (Precision.FP32, False, None),
    "ov-fp32-parallel": (Precision.FP32, True, None),
    "ov-bf16": (Precision.BF16, False, None),
    "ov-int8-weights": (Precision.INT8, False, Int8Route.WEIGHTS),
    "ov-int8-static": (Precision.INT8, False, Int8Route.STATIC),
    "ov-auto": (Precision.AUTO, False, None),
}


class BenchEngine:
    """One way of answering; ``answer`` runs end to end, ``window`` the model alone."""

    name: str
    note: str = ""

    @property
    def runtime(self) -> str:
        raise NotImplementedError

    @property
    def executed_precision(self) -> str:
        raise NotImplementedError

    @property
    def bound(self) -> str:
        """ "f32", "bf16" or "int8": which measured GEMM rate bounds its model-only time."""
        return "f32"

    @property
    def exact(self) -> bool:
        """Does it run FP32 weights, so that its answers must equal the reference's?"""
        return True

    def answer(self, case: BenchCase) -> tuple[TopAnswer, float | None]:
        raise NotImplementedError

    def window(self, feed: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


class PipelineEngine(BenchEngine):
    """transformers' question-answering pipeline on PyTorch (or optimum-intel's model)."""

    def __init__(
        self, name: str, model, tokenizer, opts: QAOptions, runtime: str = "pytorch"
    ) -> None:
        from transformers import pipeline

        self.name = name
        self.model = model
        self._runtime = runtime
        self.pipe = pipeline("question-answering", model=model, tokenizer=tokenizer)
        self.kwargs = {
            "max_seq_len": opts.max_seq_len,
            "doc_stride": opts.doc_stride,
            "max_answer_len": opts.max_answer_len,
            "max_question_len": opts.max_question_len,
            "top_k": 1,
        }

    @property
    def runtime(self) -> str:
        return self._runtime

    @property
    def executed_precision(self) -> str:
        """PyTorch: the weights' dtype; optimum: read back from its compiled model."""
        request = getattr(self.model, "request", None)
        if request is not None:
            return executed_precision(request)
        params = getattr(self.model, "parameters", None)
        dtype = str(next(params()).dtype) if params else "?"
        return {"torch.float32": "f32", "torch.bfloat16": "bf16"}.get(dtype, dtype)

    def answer(self, case: BenchCase) -> tuple[TopAnswer, float | None]:
        out = self.pipe(question=case.question, context=case.context, **self.kwargs)
        return TopAnswer(out["answer"], int(out["start"]), int(out["end"])), None

    def window(self, feed: dict[str, np.ndarray]) -> None:
        import torch

        params = inspect.signature(self.model.forward).parameters
        with torch.no_grad():
            self.model(**{k: torch.from_numpy(v) for k, v in feed.items() if k in params})


class OursEngine(BenchEngine):
    """Our QuestionAnswerer on any backend (OpenVINO ``Engine``, ONNX Runtime ``OrtEngine``)."""

    def __init__(self, name: str, qa: QuestionAnswerer) -> None:
        self.name = name
        self.qa = qa

    @property
    def note(self) -> str:
        """AUTO's choice, and how int8 weights run (read after a run: the CPU plugin picks its
        kernels on the first inference)."""
        notes = []
        if self.qa.choice.requested is Precision.AUTO:
            notes.append(f"{self.qa.choice.label}: {self.qa.choice.reason}")
        weights = self._int8_kernels(compute=False)
        if weights and not self._int8_kernels(compute=True):
            group = self._dynamic_quantization()
            notes.append(
                f"int8 weights ({', '.join(sorted(weights))}); activations quantized at run "
                f"time (DYNAMIC_QUANTIZATION_GROUP_SIZE {group}, int8 dot products), bound int8"
                if group
                else f"int8 weights ({', '.join(sorted(weights))}) decompressed for "
                "floating-point matmuls, bound f32"
            )
        return "; ".join(notes)

    @property
    def runtime(self) -> str:
        return self.qa.compiled.runtime

    @property
    def executed_precision(self) -> str:
        return self.qa.compiled.executed_precision

    @property
    def exact(self) -> bool:
        return self.qa.choice.precision is Precision.FP32

    @property
    def bound(self) -> str:
        """OpenVINO: read back from the kernels and the compiled model; ONNX Runtime: the
        precision of its file (dynamic INT8 runs MatMulInteger)."""
        if self.runtime != "openvino":
            return BOUND_OF.get(self.qa.choice.precision, "f32")
        if self._int8_kernels(compute=True):
            return "int8"
        if self._int8_kernels(compute=False) and self._dynamic_quantization():
            return "int8"
        return "bf16" if self.executed_precision.endswith("bf16") else "f32"

    def _int8_kernels(self, compute: bool) -> set[str]:
        """OpenVINO matmul kernels with int8 inputs ("primitive:precision"): with ``compute``
        the int8 primitives (static INT8: activations quantized in the graph), else the
        floating-point primitives that take int8 weights (weight-only INT8)."""
        if self.runtime != "openvino":
            return set()
        kernels = matmul_kernels(self.qa.compiled.model)
        return {
            f"{prim}:{prec}"
            for prim, prec in kernels
            if prec in INT8_TYPES and ("i8" in prim.lower()) == compute
        }

    def _dynamic_quantization(self) -> int:
        """The group size with which the CPU plugin quantizes activations at run time for
        int8-weight matmuls (0: it decompresses the weights instead).

        It does so where DYNAMIC_QUANTIZATION_GROUP_SIZE > 0 and the CPU has int8 dot products:
        on the AVX-512 VNNI machine the weight-only distilbert IR ran a window in 129 ms with it
        and 244 ms with group size 0 (FP32: 231 ms), with the same primitive name
        (brgemm_avx512_f32:u8); on the AVX2 machine it ran slower than FP32.
        """
        try:
            group = int(self.qa.compiled.model.get_property("DYNAMIC_QUANTIZATION_GROUP_SIZE"))
        except (RuntimeError, TypeError, ValueError):
            return 0
        return group if group > 0 and int8_dot_product(cpu_flags()) else 0

    def answer(self, case: BenchCase) -> tuple[TopAnswer, float | None]:
        result = self.qa.ask(case.question, case.context)
        best = result.answers[0]
        t = result.timings
        return TopAnswer(best.text, best.start, best.end), t.segment + t.tokenize + t.postprocess

    def window(self, feed: dict[str, np.ndarray]) -> None:
        compiled = self.qa.compiled
        compiled.infer({n: feed[n] for n in compiled.input_names})


@dataclass
class _Maker:
    """What the engines share: the config, the weights, one OpenVINO Engine, the model dir."""

    cfg: BenchConfig
    prep: BenchSetup
    opts: QAOptions
    engine: Engine
    base: ModelDir
    #: Servers the engines started (ov-remote), stopped when the process exits.
    servers: ExitStack = field(default_factory=ExitStack)

    def pytorch(self, name: str) -> BenchEngine:
        import transformers

        model = transformers.AutoModelForQuestionAnswering.from_pretrained(self.prep.checkpoint)
        tok = transformers.AutoTokenizer.from_pretrained(self.prep.checkpoint)
        return PipelineEngine(name, model.eval(), tok, self.opts)

    def ort(self, name: str) -> BenchEngine:
        require("onnxruntime", "bench")
        precision = Precision.parse(name.split("-", 1)[1])
        backend = OrtEngine(
            {precision: self.prep.onnx_files[precision.value.lower()]}, threads=self.cfg.n_threads
        )
        # ORT batches windows as ov-fp32 does (parallel_windows is OpenVINO's).
        qa = QuestionAnswerer(self.base, engine=backend, options=self.opts, precision=precision)
        return OursEngine(name, qa)

    def ov(self, name: str) -> BenchEngine:
        precision, parallel, route = OV_ENGINES[name]
        md = self.base if route is None else only_route(self.base, route)
        qa = QuestionAnswerer(
            md,
            engine=self.engine,
            options=self.opts,
            precision=precision,
            parallel_windows=parallel,
        )
        return OursEngine(name, qa)

    def optimum(self, name: str) -> BenchEngine:
        import transformers

        try:
            from optimum.intel import OVModelForQuestionAnswering
        except ImportError:
            raise MissingDependencyError(
                "optimum-intel is not installed (it pins an older transformers than the "
                "parity tests need)"
            ) from None
        model = OVModelForQuestionAnswering.from_pretrained(self.prep.checkpoint, export=True)
        tok = transformers.AutoTokenizer.from_pretrained(self.prep.checkpoint)
        return PipelineEngine(name, model, tok, self.opts, runtime="openvino (optimum-intel)")

    def remote(self, name: str) -> BenchEngine:
        """ov-fp32 run by a ``qa-demo model-server`` on loopback (same threads, same IR): what
        the KServe v2 protocol costs per window against ov-fp32 in this process."""
        require("kserve", "serve")
        require("tritonclient.http", "serve")
        from ...remote import RemoteBackend
        from ..model_server import spawned

        url, _ = self.servers.enter_context(
            spawned([self.base.path], Precision.FP32, self.cfg.n_threads)
        )
        qa = QuestionAnswerer(self.base, engine=RemoteBackend(url), options=self.opts)
        return OursEngine(name, qa)

    def make(self, name: str) -> BenchEngine:
        if name == "ov-remote":
            return self.remote(name)
        if name in OV_ENGINES:
            return self.ov(name)
        if name.startswith("ort-"):
            return self.ort(name)
        return getattr(self, name)(name)


def only_route(base: ModelDir, route: Int8Route) -> ModelDir:
    """``base`` with one INT8 IR, so that Precision.INT8 runs that route on any device."""
    path = base.int8_files[route]
    return replace(base, precisions={**base.precisions, "INT8": path}, int8_files={route: path})


def make_engines(cfg: BenchConfig, prep: BenchSetup, log) -> tuple[list[BenchEngine], dict]:
    """The engines asked for; those that cannot run here are returned with the one-line
    reason (a missing package, or a precision the device does not support)."""
    require("transformers", "bench")
    torch = require("torch", "bench")
    torch.set_num_threads(cfg.n_threads)
    engine = Engine(
        cache_dir=cfg.work_dir / "ov_cache", config={"INFERENCE_NUM_THREADS": cfg.n_threads}
    )
    model_dir = load_model_dir(prep.model_dir)
    # Every engine decodes with the same limits, the model's own answer length included.
    maker = _Maker(cfg, prep, QAOptions().for_model(model_dir), engine, model_dir)
    atexit.register(maker.servers.close)
    engines: list[BenchEngine] = []
    skipped: dict[str, str] = {}
    for name in cfg.engines:
        try:
            engines.append(maker.make(name))
        except (MissingDependencyError, DeviceError) as exc:
            skipped[name] = str(exc)
            log(f"skipping {name}: {exc}")
    return engines, skipped


def window_feed(prep: BenchSetup) -> dict[str, np.ndarray]:
    """One full 384-token window (question + context), as our preprocessing builds it."""
    from ...tokenization import load_tokenizer

    tok = load_tokenizer(prep.model_dir)
    case = max(prep.cases, key=lambda c: len(c.context))
    q = tok.encode(case.question)
    windows = build_windows(tok, tok.encode(case.context), WINDOW_TOKENS, 128, question=q)
    return batch([windows[0]], tok.pad_id)


def kernel_summary(engine: BenchEngine) -> dict[str, int] | None:
    """Which primitives the CPU plugin picked for the matmuls of an OpenVINO engine of ours."""
    if not isinstance(engine, OursEngine) or engine.runtime != "openvino":
        return None
    counts: dict[str, int] = {}
    for op in engine.qa.compiled.model.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer = info["layerType"].astype(str) if "layerType" in info else ""
        if layer in ("FullyConnected", "MatMul", "ScaledDotProductAttention"):
            prim = info["primitiveType"].astype(str) if "primitiveType" in info else "?"
            prec = info["runtimePrecision"].astype(str) if "runtimePrecision" in info else "?"
            key = f"{layer}:{prim}:{prec}"
            counts[key] = counts.get(key, 0) + 1
    return counts
