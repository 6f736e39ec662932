"""A backend whose runner is a model server speaking the KServe v2 (Open Inference) protocol.

Tokenization, windows and decoding stay local, from the model directory's tokenizer files; only
the runner's call goes over the wire, as binary tensors, to OpenVINO Model Server, KServe,
Triton or ``qa-demo model-server``. The client is ``tritonclient.http`` (the ``serve`` extra),
imported lazily: the serving core needs none of it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from .errors import DeviceError, ModelLoadError, require
from .model_dir import ModelDir
from .options import Hint
from .precision import Choice, DeviceCaps
from .windows import check_feeds

#: The device name a remote backend reports: the server decides where it runs.
REMOTE_DEVICE = "REMOTE"
#: Seconds a call may take before it is one clear error (``--timeout``).
DEFAULT_TIMEOUT_S = 30.0
#: Response parameters ``qa-demo model-server`` sends: what executed, and the embedding rows.
EXECUTED_PARAMETER = "executed_precision"
VOCAB_PARAMETER = "vocab_size"
#: Milliseconds the server spent inside the model, when it says (``qa-demo model-server``).
SERVER_MS_PARAMETER = "server_ms"
#: v2 datatypes of the numpy dtypes our models take and give.
V2_TYPES = {np.dtype(np.int64): "INT64", np.dtype(np.int32): "INT32", np.dtype(np.float32): "FP32"}


class RemoteError(DeviceError):
    """The model server could not be used: down, timed out, refused or mismatched."""


def server_address(url: str) -> str:
    """``host:port`` for tritonclient from a URL or a bare address."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        raise RemoteError(f"Not a server address: {url!r}; expected e.g. http://127.0.0.1:8080.")
    return f"{parts.hostname}:{parts.port or 80}"


@dataclass
class RemoteRunner:
    """One model on the server as a ``runtime.Runner``: names checked against the local IR."""

    backend: RemoteBackend  # gives each thread its own client
    model_name: str
    url: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    timeout_s: float
    vocab_size: int | None = None
    executed_precision: str = "as the server runs it"
    compile_ms: float = 0.0
    execution_devices: tuple[str, ...] = (REMOTE_DEVICE,)
    runtime: str = "kserve-v2"
    #: Per thread: milliseconds on the wire since the last ``take_wire_ms`` (requests run on
    #: several threads at once, each reading only its own calls).
    _wire: threading.local = field(default_factory=threading.local, repr=False)

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        http = require("tritonclient.http", "serve")
        feeds = check_feeds(self.input_names, feeds)
        inputs = []
        for name, value in feeds.items():
            value = np.ascontiguousarray(value)
            tensor = http.InferInput(name, list(value.shape), V2_TYPES[value.dtype])
            tensor.set_data_from_numpy(value, binary_data=True)
            inputs.append(tensor)
        outputs = [http.InferRequestedOutput(n, binary_data=True) for n in self.output_names]
        t0 = time.perf_counter()
        result = self._call(
            "infer",
            self.backend.client.infer,
            self.model_name,
            inputs,
            outputs=outputs,
            timeout=int(self.timeout_s * 1_000_000),  # microseconds, as the server reads it
        )
        call_ms = (time.perf_counter() - t0) * 1000
        params = result.get_response().get("parameters") or {}
        self._read_parameters(params)
        server_ms = params.get(SERVER_MS_PARAMETER)
        wire = call_ms - server_ms if isinstance(server_ms, (int, float)) else call_ms
        self._wire.ms = getattr(self._wire, "ms", 0.0) + max(wire, 0.0)
        return {name: result.as_numpy(name) for name in self.output_names}

    def take_wire_ms(self) -> float:
        """This thread's time on the wire since the last take (a request's calls)."""
        ms, self._wire.ms = getattr(self._wire, "ms", 0.0), 0.0
        return ms

    def infer_each(self, feeds_list: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        return [self.infer(f) for f in feeds_list]

    def _read_parameters(self, params: dict) -> None:
        executed = params.get(EXECUTED_PARAMETER)
        if executed:
            self.executed_precision = f"{executed} (on {self.url})"
        rows = params.get(VOCAB_PARAMETER)
        if self.vocab_size is not None and isinstance(rows, int) and rows != self.vocab_size:
            raise RemoteError(
                f"{self.model_name} on {self.url} has {rows:,} vocabulary rows but the local "
                f"tokenizer has {self.vocab_size:,} pieces: the server runs another model than "
                "the local directory's tokenizer belongs to."
            )

    def _call(self, what: str, fn, *args, **kwargs):
        return call_server(self.url, what, fn, *args, **kwargs)


def call_server(url: str, what: str, fn, *args, **kwargs):
    """``fn(*args)``; a connection, time-out or server error is one RemoteError line."""
    utils = require("tritonclient.utils", "serve")
    try:
        return fn(*args, **kwargs)
    except utils.InferenceServerException as exc:
        status = exc.status() or ""
        text = exc.message() or str(exc)
        if "timed out" in text.lower() or "timeout" in text.lower():
            raise RemoteError(f"{url} did not answer {what} in time ({text}).") from None
        raise RemoteError(f"{url} refused {what}: {status} {text}".replace("  ", " ")) from None
    except (ConnectionError, TimeoutError, OSError) as exc:
        reason = exc.strerror or type(exc).__name__
        raise RemoteError(f"Cannot reach the model server at {url}: {reason}.") from None


class RemoteBackend:
    """The ``runtime.Backend`` of a model server: ``QuestionAnswerer(model, engine=
    RemoteBackend("http://127.0.0.1:8080"))``. The model name on the server defaults to the
    model directory's name."""

    def __init__(
        self, url: str, model_name: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.url = url
        self.address = server_address(url)
        self.model_name = model_name
        self.timeout_s = timeout_s
        self.notes: list[str] = []
        self._runners: dict[str, RemoteRunner] = {}
        self._local = threading.local()

    @property
    def client(self):
        """This thread's client: tritonclient's HTTP client runs on gevent, whose connections
        must not be shared between OS threads (the app answers on several; four threads on one
        client hung in the fleet test)."""
        client = getattr(self._local, "client", None)
        if client is None:
            http = require("tritonclient.http", "serve")
            client = http.InferenceServerClient(
                self.address,
                connection_timeout=self.timeout_s,
                network_timeout=self.timeout_s,
            )
            self._local.client = client
        return client

    def devices(self) -> list[str]:
        return [REMOTE_DEVICE]

    def serves(self, name: str) -> bool:
        """Whether the server has ``name`` ready (v2 ``/v2/models/{name}/ready``); False when
        it cannot be reached, so a server that went away hides its models, nothing more."""
        try:
            return bool(call_server(self.url, "readiness", self.client.is_model_ready, name))
        except RemoteError:
            return False

    def check_device(self, device: str) -> str:
        """Any device name means the server's: where it runs is the server's choice."""
        return REMOTE_DEVICE

    def capabilities(self, device: str) -> DeviceCaps:
        # The server picks its own precision (qa-demo model-server: AUTO); asking for one here
        # would only rename it, so only the model's own IR precisions are offered.
        return DeviceCaps(REMOTE_DEVICE, frozenset({"FP32"}), False, self.url)

    def runner(
        self,
        model: ModelDir,
        device: str,
        choice: Choice,
        hint: Hint = Hint.LATENCY,
        shape: tuple[int, int] | None = None,
    ) -> RemoteRunner:
        name = self.model_name or model.name
        if name not in self._runners:
            self._runners[name] = self._connect(model, name)
        return self._runners[name]

    def _connect(self, model: ModelDir, name: str) -> RemoteRunner:
        """The server's metadata for ``name``, checked against the local model directory."""
        t0 = time.perf_counter()
        ready = call_server(self.url, "the readiness check", self.client.is_server_ready)
        if not ready:
            raise RemoteError(f"The model server at {self.url} is not ready.")
        meta = call_server(self.url, f"model {name!r}", self.client.get_model_metadata, name)
        inputs = check_tensors(meta.get("inputs") or [], local_inputs(model), name, self.url)
        outputs = tuple(t["name"] for t in meta.get("outputs") or [])
        if not outputs:
            raise RemoteError(f"{name} on {self.url} declares no outputs.")
        return RemoteRunner(
            self,
            name,
            self.url,
            inputs,
            outputs,
            self.timeout_s,
            vocab_size=_vocab_size(model),
            compile_ms=(time.perf_counter() - t0) * 1000,
        )


def local_inputs(model: ModelDir) -> dict[str, str]:
    """{input name: v2 datatype} of the model directory's IR (read, not compiled)."""
    import openvino as ov

    xml = next(iter(model.precisions.values()), None)
    if xml is None or not Path(xml).exists():
        raise ModelLoadError(f"{model.path} has no IR to check the server's inputs against.")
    ir = ov.Core().read_model(str(xml))
    return {p.any_name: v2_type(p.get_element_type().to_dtype()) for p in ir.inputs}


def v2_type(dtype) -> str:
    """The v2 protocol's name of a numpy dtype (INT64, FP32, ...)."""
    return V2_TYPES.get(np.dtype(dtype), str(np.dtype(dtype)).upper())


def check_tensors(
    declared: list[dict], expected: dict[str, str], name: str, url: str
) -> tuple[str, ...]:
    """The server's input names, refused where a name, datatype or shape does not fit."""
    got = {t["name"]: t for t in declared}
    missing = sorted(set(expected) - set(got))
    if missing:
        raise RemoteError(
            f"{name} on {url} has inputs {sorted(got)}, but the local model needs {missing}."
        )
    for tensor_name, dtype in expected.items():
        t = got[tensor_name]
        if t.get("datatype") != dtype:
            raise RemoteError(
                f"{name} on {url}: input {tensor_name} is {t.get('datatype')}, expected {dtype}."
            )
        shape = [int(d) for d in t.get("shape") or []]
        if len(shape) != 2 or any(d not in (-1,) and d < 1 for d in shape):
            raise RemoteError(
                f"{name} on {url}: input {tensor_name} has shape {shape}, expected "
                "[batch, sequence] (-1 for dynamic)."
            )
    return tuple(expected)


def _vocab_size(model: ModelDir) -> int | None:
    rows = model.config.get("vocab_size")
    return rows if isinstance(rows, int) else None
