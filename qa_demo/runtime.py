"""The backend seam (``Runner``, ``Backend``) and its OpenVINO implementation.

A pipeline asks its backend for a ``Runner`` (``Backend.runner``) and never knows which runtime
runs it. ``Engine`` is the OpenVINO backend: it owns the Core and compiles each model lazily,
once. Nothing here is module-global: create an Engine and pass it to the pipelines that share it.
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
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import DeviceError, ModelLoadError
from .kernels import executed_precision
from .model_dir import ModelDir
from .options import Hint
from .precision import (
    INFERENCE_HINTS,
    Choice,
    DeviceCaps,
    cpu_flags,
    device_kind,
    int8_dot_product,
)
from .windows import check_feeds

#: Devices that are virtual plugins over the real ones; valid even when not listed.
VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO")
#: The cache subdirectory of compiles that leave the inference precision to the device.
DEFAULT_CACHE_NAMESPACE = "device-default"


@runtime_checkable
class Runner(Protocol):
    """A compiled model of any runtime: what a pipeline needs and nothing more."""

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    execution_devices: tuple[str, ...]
    #: What executed, read back from the runtime (e.g. "f32", "bf16", "int8 matmuls, f32 rest").
    executed_precision: str
    compile_ms: float
    runtime: str  # "openvino", "onnxruntime": which library runs it

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def infer_each(
        self, feeds_list: list[dict[str, np.ndarray]]
    ) -> list[dict[str, np.ndarray]]: ...


class Backend(Protocol):
    """A runtime, as the pipelines and the app use it (``engine=``): its devices, what each
    offers, what it had to work around, and Runners. Which precision runs is not its choice
    (``precision.choose_for`` decides, from ``capabilities``)."""

    #: Things the user should hear once (an unusable compile cache), for the app and CLI.
    notes: list[str]

    def devices(self) -> list[str]: ...

    def check_device(self, device: str) -> str: ...

    def capabilities(self, device: str) -> DeviceCaps: ...

    def runner(
        self,
        model: ModelDir,
        device: str,
        choice: Choice,
        hint: Hint = Hint.LATENCY,
        shape: tuple[int, int] | None = None,
    ) -> Runner: ...


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qa_demo" / "ov_cache"


def cache_namespace(props: dict) -> str:
    """The subdirectory of the compile cache that a compile with ``props`` uses.

    Two inference precisions never share compiled blobs. On AMX CPUs (OpenVINO 2026.4.1) one
    CACHE_DIR holding an f32 compile of an IR made a later bf16 compile of the same IR return
    all-NaN logits or crash (issue 20), though the cache key should tell them apart; a
    directory per precision was correct there, and costs nothing elsewhere.
    """
    hint = props.get("INFERENCE_PRECISION_HINT")
    return str(hint) if hint else DEFAULT_CACHE_NAMESPACE


@dataclass
class CompiledModel:
    """A compiled model plus a pool of infer requests, safe to share between threads."""

    model: object  # openvino.CompiledModel
    device: str
    execution_devices: tuple[str, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    compile_ms: float
    executed_precision: str = "f32"
    runtime: str = "openvino"
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
        return check_feeds(self.input_names, feeds)

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
                    {
                        n: np.array(req.get_output_tensor(i).data)
                        for i, n in enumerate(self.output_names)
                    }
                    for req in reqs
                )
        return out


class Engine:
    """The OpenVINO backend: owns an ``openvino.Core``; compiles models once per key."""

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
        self._caps: dict[str, DeviceCaps] = {}
        #: One lock per compile key, so a compile stalls only the requests that need it; the
        #: registry lock is held just long enough to find that key's lock.
        self._key_locks: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()
        #: Things the user should hear once (an unusable compile cache), for the app and CLI.
        self.notes: list[str] = []

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
        real = {device_kind(d) for d in self.core.available_devices}
        if device_kind(device) not in real | set(VIRTUAL_DEVICES):
            raise DeviceError(
                f"Unknown device {device!r}; this machine has {', '.join(self.devices())}."
            )
        return device

    # -- precision ----------------------------------------------------------------------------
    def capabilities(self, device: str) -> DeviceCaps:
        """OPTIMIZATION_CAPABILITIES (and int8 dot products, on a CPU) of ``device``."""
        device = self.check_device(device)
        if device not in self._caps:
            self._caps[device] = self._read_caps(device)
        return self._caps[device]

    def _read_caps(self, device: str) -> DeviceCaps:
        base = device_kind(device)
        if base in VIRTUAL_DEVICES:
            # A virtual device may run on any real one: offer only what all of them support.
            real = [self.capabilities(d) for d in self.core.available_devices]
            caps = frozenset.intersection(*(c.capabilities for c in real))
            return DeviceCaps(device, caps, all(c.int8_dot for c in real), device)
        try:
            reported = self.core.get_property(device, "OPTIMIZATION_CAPABILITIES")
            caps = frozenset(str(c) for c in reported)
        except RuntimeError:
            caps = frozenset({"FP32"})
        int8_dot = int8_dot_product(cpu_flags()) if base == "CPU" else "INT8" in caps
        return DeviceCaps(device, caps, int8_dot, self.device_name(device))

    def runner(
        self,
        model: ModelDir,
        device: str,
        choice: Choice,
        hint: Hint = Hint.LATENCY,
        shape: tuple[int, int] | None = None,
    ) -> CompiledModel:
        """The compiled IR of ``choice``, with the inference precision set explicitly."""
        return self.compile(
            model.xml(choice.precision, choice.route),
            device,
            hint,
            config=precision_config(choice),
            shape=shape,
        )

    # -- compiling ----------------------------------------------------------------------------
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
        hint = Hint.parse(hint, "performance hint").value
        key = (str(Path(xml).resolve()), device, hint, tuple(sorted((config or {}).items())), shape)
        found = self._compiled.get(key)  # the common case takes no lock at all
        if found is not None:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._compiled:
                self._compiled[key] = self._compile(Path(xml), device, hint, config or {}, shape)
            return self._compiled[key]

    def _compile(
        self, xml: Path, device: str, hint: str, config: dict, shape: tuple[int, int] | None = None
    ) -> CompiledModel:
        model = self._read(xml, shape)
        props = {"PERFORMANCE_HINT": hint, **self.config, **config}
        props.update(self._cache_config(cache_namespace(props)))
        t0 = time.perf_counter()
        try:
            compiled = self.core.compile_model(model, device, props)
        except RuntimeError as exc:
            if "CACHE_DIR" not in props:
                raise DeviceError(f"Could not compile {xml.name} on {device}: {exc}") from exc
            # A corrupt cache entry must not stop the app: compile afresh, without the cache.
            self.notes.append(
                f"The compile cache {self.cache_dir} could not be used ({exc}); "
                "compiled without it."
            )
            props.pop("CACHE_DIR")
            try:
                compiled = self.core.compile_model(model, device, props)
            except RuntimeError as exc2:
                raise DeviceError(f"Could not compile {xml.name} on {device}: {exc2}") from exc2
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
            executed_precision=executed_precision(compiled, props.get("INFERENCE_PRECISION_HINT")),
        )

    def _read(self, xml: Path, shape: tuple[int, int] | None):
        """The IR as an ov.Model; a missing, truncated or corrupt file is a ModelLoadError."""
        if not xml.exists():
            raise ModelLoadError(f"Model file {xml} does not exist.")
        if not xml.with_suffix(".bin").exists():
            raise ModelLoadError(
                f"{xml.with_suffix('.bin')} is missing: {xml.name} has no "
                "weights (copy the .bin beside it, or export again)."
            )
        try:
            model = self.core.read_model(str(xml))
            if shape is not None:
                model.reshape({port.any_name: list(shape) for port in model.inputs})
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"Cannot read {xml} (truncated or corrupt?): {first}") from exc
        return model

    def _cache_config(self, namespace: str) -> dict[str, str]:
        """CACHE_DIR (``namespace`` under the cache directory) where it can be written; else
        none, said once in ``notes``."""
        where = self.cache_dir / namespace
        try:
            where.mkdir(parents=True, exist_ok=True)
            probe = where / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            note = (
                f"The compile cache {self.cache_dir} is not writable ({exc.strerror}); "
                "models compile without it."
            )
            if note not in self.notes:
                self.notes.append(note)
            return {}
        return {"CACHE_DIR": str(where)}

    def compiled_models(self) -> list[CompiledModel]:
        return list(self._compiled.values())


def precision_config(choice: Choice) -> dict[str, str]:
    """INFERENCE_PRECISION_HINT for a choice: never the device's default.

    Without it the CPU plugin runs bf16 wherever the CPU has native bf16 (and GPU f16), so
    "FP32" would not be f32. INT8 IRs keep f32 for the layers left unquantized, so that the
    agreement measured at export holds on every CPU.
    """
    fp = INFERENCE_HINTS.get(choice.precision, "f32")
    return {"INFERENCE_PRECISION_HINT": fp}
