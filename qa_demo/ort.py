"""An ONNX Runtime backend behind the same seam as OpenVINO's ``Engine``.

``QuestionAnswerer(model, engine=OrtEngine({Precision.FP32: "model.onnx"}))`` runs our own
pre- and post-processing around ONNX Runtime, so only the runtime differs (``qa-demo bench``).
onnxruntime is imported lazily: it is a development dependency, never on the serving path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DeviceError, ModelLoadError, require
from .model_dir import ModelDir
from .options import Hint, Precision
from .precision import Choice, DeviceCaps, cpu_flags, int8_dot_product
from .windows import check_feeds

#: What ONNX Runtime runs for each file it is given (dynamic INT8 quantizes activations at
#: run time; its MatMulInteger kernels use VNNI where the CPU has it).
EXECUTED = {Precision.FP32: "f32 (ONNX Runtime)", Precision.INT8: "dynamic int8 (ONNX Runtime)"}


@dataclass
class OrtRunner:
    """An InferenceSession as a ``runtime.Runner``."""

    session: object
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    executed_precision: str
    compile_ms: float
    execution_devices: tuple[str, ...] = ("CPU",)
    runtime: str = "onnxruntime"
    calls: int = field(default=0, repr=False)

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = check_feeds(self.input_names, feeds)
        self.calls += 1
        values = self.session.run(list(self.output_names), feeds)
        return dict(zip(self.output_names, values, strict=True))

    def infer_each(self, feeds_list: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        return [self.infer(f) for f in feeds_list]


class OrtEngine:
    """ONNX Runtime on the CPU, one session per file; ``files`` maps FP32/INT8 to .onnx."""

    def __init__(self, files: dict[Precision, str | Path], threads: int = 0) -> None:
        self.files = {Precision.parse(k): Path(v) for k, v in files.items()}
        self.threads = threads
        self._runners: dict[Precision, OrtRunner] = {}
        self.notes: list[str] = []

    def devices(self) -> list[str]:
        return ["CPU"]

    def check_device(self, device: str) -> str:
        if device.strip().upper() != "CPU":
            raise DeviceError(f"The ONNX Runtime backend runs on CPU only, not {device!r}.")
        return "CPU"

    def capabilities(self, device: str) -> DeviceCaps:
        """The precisions it has files for: AUTO then runs the fastest of them that the
        model's recorded agreement allows, by the same rule as OpenVINO's."""
        self.check_device(device)
        caps = frozenset(p.value for p in self.files)
        int8_dot = int8_dot_product(cpu_flags())
        return DeviceCaps("CPU", caps, int8_dot, "CPU (ONNX Runtime)")

    def runner(
        self,
        model: ModelDir,
        device: str,
        choice: Choice,
        hint: Hint = Hint.LATENCY,
        shape: tuple[int, int] | None = None,
    ) -> OrtRunner:
        precision = choice.precision
        if precision not in self.files:
            raise ModelLoadError(
                f"No ONNX file for {precision.value}; have "
                f"{', '.join(p.value for p in self.files)}."
            )
        if precision not in self._runners:
            self._runners[precision] = self._session(precision)
        return self._runners[precision]

    def _session(self, precision: Precision) -> OrtRunner:
        ort = require("onnxruntime", "bench")
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        t0 = time.perf_counter()
        session = ort.InferenceSession(
            str(self.files[precision]), options, providers=["CPUExecutionProvider"]
        )
        compile_ms = (time.perf_counter() - t0) * 1000
        return OrtRunner(
            session,
            tuple(i.name for i in session.get_inputs()),
            tuple(o.name for o in session.get_outputs()),
            EXECUTED[precision],
            compile_ms,
        )
