"""OpenVINO runtime: an Engine owns the Core and compiles each model lazily, once.

Nothing here is module-global: create an Engine and pass it to the pipelines that share it.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DeviceError, ModelLoadError

#: Devices that are virtual plugins over the real ones; valid even when not listed.
VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO")
HINTS = ("LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qa_demo" / "ov_cache"


@dataclass
class CompiledModel:
    """A compiled model plus a pool of infer requests, safe to share between threads."""

    model: object  # openvino.CompiledModel
    device: str
    execution_devices: tuple[str, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    compile_ms: float
    _pool: queue.SimpleQueue = field(default_factory=queue.SimpleQueue, repr=False)

    @contextmanager
    def request(self) -> Iterator[object]:
        """Borrow an infer request; one per concurrent caller, created on demand."""
        try:
            req = self._pool.get_nowait()
        except queue.Empty:
            req = self.model.create_infer_request()
        try:
            yield req
        finally:
            self._pool.put(req)

    def check_inputs(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Keep only the inputs the graph has; fail clearly if one it needs is missing."""
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise ModelLoadError(
                f"The model expects inputs {list(self.input_names)} but got {sorted(feeds)}."
            )
        return {n: feeds[n] for n in self.input_names}

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One synchronous call; the batch dimension carries all windows at once."""
        feeds = self.check_inputs(feeds)
        with self.request() as req:
            result = req.infer(feeds)
            return {name: np.array(result[i]) for i, name in enumerate(self.output_names)}

    def infer_each(self, feeds_list: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        """Independent inputs in flight together, one infer request each.

        Compiled with the THROUGHPUT hint, the CPU plugin runs them on parallel streams; on a
        busy machine that beat one batch on one stream (``qa-demo bench``: ov-fp32-parallel).
        Requests come from the pool, so concurrent callers are safe; at most
        OPTIMAL_NUMBER_OF_INFER_REQUESTS are in flight per call, to bound memory.
        """
        try:
            width = max(1, int(self.model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        except RuntimeError:
            width = 1
        out: list[dict[str, np.ndarray]] = []
        for first in range(0, len(feeds_list), width):
            chunk = [self.check_inputs(f) for f in feeds_list[first : first + width]]
            with ExitStack() as stack:
                reqs = [stack.enter_context(self.request()) for _ in chunk]
                for req, feeds in zip(reqs, chunk, strict=True):
                    req.start_async(feeds)
                for req in reqs:
                    req.wait()
                out.extend(
                    {n: np.array(req.get_output_tensor(i).data) for i, n in
                     enumerate(self.output_names)}
                    for req in reqs
                )
        return out


class Engine:
    """Owns an ``openvino.Core``; lists devices and compiles models once per key."""

    def __init__(
        self, cache_dir: str | Path | None = None, core=None, config: dict | None = None
    ) -> None:
        import openvino as ov

        self.core = core or ov.Core()
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        #: Properties for every compile (e.g. INFERENCE_NUM_THREADS, so a benchmark gives all
        #: engines the same threads); a compile's own ``config`` overrides them.
        self.config = dict(config or {})
        self._compiled: dict[tuple, CompiledModel] = {}
        self._lock = threading.Lock()

    def devices(self) -> list[str]:
        """What OpenVINO reports here, plus AUTO."""
        return [*self.core.available_devices, "AUTO"]

    def device_name(self, device: str) -> str:
        try:
            return str(self.core.get_property(device, "FULL_DEVICE_NAME"))
        except Exception:  # virtual devices have no FULL_DEVICE_NAME
            return device

    def check_device(self, device: str) -> str:
        device = device.strip().upper()
        base = device.split(":", 1)[0].split(".", 1)[0]
        real = {d.split(".", 1)[0] for d in self.core.available_devices}
        if base not in real and base not in VIRTUAL_DEVICES:
            raise DeviceError(
                f"Unknown device {device!r}; this machine has {', '.join(self.devices())}."
            )
        return device

    def compile(
        self,
        xml: str | Path,
        device: str = "CPU",
        hint: str = "LATENCY",
        config=None,
        shape: tuple[int, int] | None = None,
    ) -> CompiledModel:
        """Compile ``xml`` for ``device`` the first time it is asked for; reuse it after.

        ``shape`` = (batch, sequence) fixes every input to that static shape, for devices that
        cannot run dynamic shapes (NPU); None keeps the IR's dynamic shapes.
        """
        device = self.check_device(device)
        if hint not in HINTS:
            raise DeviceError(f"Unknown performance hint {hint!r}; expected one of {HINTS}.")
        key = (str(Path(xml).resolve()), device, hint, tuple(sorted((config or {}).items())),
               shape)
        with self._lock:
            if key in self._compiled:
                return self._compiled[key]
            compiled = self._compile(Path(xml), device, hint, config or {}, shape)
            self._compiled[key] = compiled
            return compiled

    def _compile(self, xml: Path, device: str, hint: str, config: dict,
                 shape: tuple[int, int] | None = None) -> CompiledModel:
        if not xml.exists():
            raise ModelLoadError(f"Model file {xml} does not exist.")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        props = {
            "PERFORMANCE_HINT": hint, "CACHE_DIR": str(self.cache_dir), **self.config, **config
        }
        t0 = time.perf_counter()
        try:
            model = self.core.read_model(str(xml))
            if shape is not None:
                model.reshape({port.any_name: list(shape) for port in model.inputs})
            compiled = self.core.compile_model(model, device, props)
        except RuntimeError as exc:
            raise DeviceError(f"Could not compile {xml.name} on {device}: {exc}") from exc
        compile_ms = (time.perf_counter() - t0) * 1000
        try:
            execution = tuple(compiled.get_property("EXECUTION_DEVICES"))
        except RuntimeError:
            execution = (device,)
        return CompiledModel(
            model=compiled,
            device=device,
            execution_devices=execution,
            input_names=tuple(p.any_name for p in compiled.inputs),
            output_names=tuple(p.any_name for p in compiled.outputs),
            compile_ms=compile_ms,
        )

    def compiled_models(self) -> list[CompiledModel]:
        return list(self._compiled.values())

    def reset(self) -> None:
        """Drop every compiled model, e.g. after changing device settings."""
        with self._lock:
            self._compiled.clear()
