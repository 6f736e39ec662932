"""``qa-demo model-server``: model directories served over the KServe v2 protocol.

Each directory becomes a ``kserve.Model`` compiled by the project's own ``Engine`` (precision
AUTO by default, dynamic sequence length); ``kserve.ModelServer`` serves REST (and gRPC when
asked). Clients tokenize and decode themselves (``qa-demo ask --remote``, the app with
``--remote``), as OpenVINO Model Server's BERT demo does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import DataError, InputError, require
from ..model_dir import ModelDir, load_model_dir
from ..options import Hint, Precision
from ..precision import choose_for
from ..remote import (
    EXECUTED_PARAMETER,
    SERVER_MS_PARAMETER,
    V2_TYPES,
    VOCAB_PARAMETER,
    v2_type,
)
from ..runtime import Engine

#: Loopback unless told otherwise: a model server is not for the whole network by accident.
DEFAULT_HOST = "127.0.0.1"
ALL_ADDRESSES = ("0.0.0.0", "::", "[::]")


def make_model(model: ModelDir, engine: Engine, device: str, precision: Precision):
    """A ``kserve.Model`` of one model directory; built here so kserve is imported lazily."""
    kserve = require("kserve", "serve")
    from kserve.protocol.infer_type import InferOutput, InferResponse

    class IRModel(kserve.Model):
        def __init__(self) -> None:
            super().__init__(model.name)
            self.runner = None

        def load(self) -> bool:
            caps = engine.capabilities(device)
            choice = choose_for(model, caps, precision)
            self.runner = engine.runner(model, device, choice, Hint.LATENCY)
            self.ready = True
            return self.ready

        def get_input_types(self) -> list[dict]:
            return [
                {"name": n, "datatype": "INT64", "shape": [-1, -1]} for n in self.runner.input_names
            ]

        def get_output_types(self) -> list[dict]:
            return [
                {
                    "name": n,
                    "datatype": "FP32",
                    "shape": [-1, -1, -1] if n == "logits" else [-1, -1],
                }
                for n in self.runner.output_names
            ]

        def predict(self, payload, headers=None, response_headers=None):
            feeds = {t.name: t.as_numpy().astype(np.int64) for t in payload.inputs}
            t0 = time.perf_counter()
            outputs = self.runner.infer(feeds)
            server_ms = (time.perf_counter() - t0) * 1000
            infer_outputs = []
            for name, value in outputs.items():
                value = np.ascontiguousarray(value, dtype=np.float32)
                out = InferOutput(name, list(value.shape), V2_TYPES[value.dtype])
                out.set_data_from_numpy(value, binary_data=True)
                infer_outputs.append(out)
            params = {EXECUTED_PARAMETER: self.runner.executed_precision}
            params[SERVER_MS_PARAMETER] = round(server_ms, 3)
            rows = model.config.get("vocab_size")
            if isinstance(rows, int):
                params[VOCAB_PARAMETER] = rows
            # tritonclient sends no request id; a response id of None fails kserve's validation.
            return InferResponse(
                payload.id or str(uuid.uuid4()),
                model.name,
                infer_outputs,
                parameters=params,
                use_binary_outputs=True,
            )

    return IRModel()


def _tensors(ports) -> list[dict]:
    """v2 metadata of compiled-model ports: name, datatype, shape (-1 where dynamic)."""
    return [
        {
            "name": port.any_name,
            "datatype": v2_type(port.get_element_type().to_dtype()),
            "shape": [d.get_length() if d.is_static else -1 for d in port.get_partial_shape()],
        }
        for port in ports
    ]


def serve(
    dirs: list[Path],
    host: str = DEFAULT_HOST,
    http_port: int = 8080,
    grpc_port: int | None = None,
    device: str = "CPU",
    precision: Precision = Precision.AUTO,
    threads: int | None = None,
) -> None:
    """Load every directory, then serve until SIGTERM/SIGINT (kserve stops cleanly on both)."""
    if grpc_port is not None and host not in ALL_ADDRESSES:
        raise InputError(
            "kserve's gRPC server always listens on every address; give --host 0.0.0.0 "
            "with --grpc-port to accept that, or leave gRPC off."
        )
    kserve = require("kserve", "serve")
    engine = Engine(config={"INFERENCE_NUM_THREADS": threads} if threads else None)
    models = []
    for d in dirs:
        m = make_model(load_model_dir(d), engine, device, precision)
        m.load()
        models.append(m)
        print(f"{m.name}: {m.runner.executed_precision}", file=sys.stderr, flush=True)
    server = _server_class(kserve)(
        host=host, http_port=http_port, grpc_port=grpc_port or 0, enable_grpc=grpc_port is not None
    )
    server.start(models)


#: Seconds a spawned server may take to load its models and answer readiness.
SPAWN_TIMEOUT_S = 120


@contextmanager
def spawned(
    dirs: list[Path], precision: Precision = Precision.AUTO, threads: int | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``qa-demo model-server DIR...`` in a child process on a free loopback port: (its URL,
    the process), ready; stopped with SIGTERM on leaving the block. For the bench and tests."""
    from .loadtest import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "qa_demo", "model-server", *map(str, dirs)]
    cmd += ["--http-port", str(port), "--precision", precision.value]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = SPAWN_TIMEOUT_S) -> None:
    """Until ``url``'s v2 readiness answers 200; an exited ``proc`` or the time limit fails."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DataError(f"{' '.join(map(str, proc.args[:4]))} exited ({proc.returncode}).")
        try:
            with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise DataError(f"{url} did not become ready in {timeout_s:.0f} s.")


def _server_class(kserve):
    class HostModelServer(kserve.ModelServer):
        """``kserve.ModelServer`` on a chosen address: kserve 0.21 hard-codes 0.0.0.0 in
        RESTServer's uvicorn.Config, so the address is set on that config once the server has
        made it and before the event loop starts it (setup_event_loop runs between)."""

        def __init__(self, host: str, **kwargs) -> None:
            super().__init__(**kwargs)
            self.host = host

        def setup_event_loop(self) -> None:
            if self._rest_server is not None:
                self._rest_server.config.host = self.host
            super().setup_event_loop()

    return HostModelServer


def cmd_model_server(args) -> None:
    serve(
        [Path(d) for d in args.dirs],
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        device=args.device,
        precision=Precision.parse(args.precision),
        threads=args.threads,
    )


def add_subcommands(sub) -> None:
    p = sub.add_parser(
        "model-server", help="serve model directories over the KServe v2 protocol (kserve)"
    )
    p.add_argument("dirs", nargs="+", help="model directories; each is served under its name")
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default 127.0.0.1; 0.0.0.0 serves the whole network)",
    )
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument(
        "--grpc-port", type=int, help="also serve gRPC here (kserve binds it on every address)"
    )
    p.add_argument("--device", default="CPU")
    p.add_argument(
        "--precision",
        default=Precision.AUTO.value,
        choices=Precision.choices(),
        help="AUTO (default): the fastest precision measured to agree with FP32 for each model",
    )
    p.add_argument("--threads", type=int, help="CPU threads per inference (default: all)")
    p.set_defaults(func=cmd_model_server)
