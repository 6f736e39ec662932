"""What QA and NER share: one stage contract, a model directory, its tokenizer and a backend.

``Pipeline.run`` is the only place that times stages: preprocess (segment + tokenize + windows)
-> infer -> postprocess. QA and NER supply only their typed stages.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import InputError, ModelLoadError, NonFiniteOutputError
from .model_dir import ModelDir, load_model_dir
from .options import Hint, Int8Route, Precision
from .precision import Choice, choose_for, device_kind
from .runtime import Backend, Engine, Runner
from .segment import mecab
from .tokenization import Encoded, TextTokenizer
from .types import Language, PrecisionInfo, Task, Timings, Window
from .windows import STATIC_BUCKETS, batch, bucket_width, length_groups

#: Windows per infer call: one batch of all windows of a 100,000-character context made the
#: infer request keep ~3.5 GB of buffers until restart; 8 gives the same answers at ~0.3 GB.
MAX_BATCH_WINDOWS = 8
#: Devices whose plugin needs static shapes: windows go to per-length static compiles.
STATIC_SHAPE_DEVICES = ("NPU",)


def _on_wire(runner: Runner) -> bool:
    """Whether ``runner`` calls a server (``remote.RemoteRunner``) and counts its wire time."""
    return hasattr(runner, "take_wire_ms")


class Prepared(Protocol):
    """What a preprocess stage hands on; ``segment_ms`` is MeCab's share of its time."""

    segment_ms: float


class Pipeline:
    """Base of QuestionAnswerer and EntityTagger; compiles on first use, once."""

    task: Task
    #: The result a run returns: ``result_type.of(decoded, timings, device, precision)``.
    result_type: type

    def __init__(
        self,
        model: ModelDir,
        engine: Backend | None = None,
        device: str = "CPU",
        precision: Precision | str | Choice = Precision.AUTO,
        dictionary: str | None = None,
        hint: Hint | str = Hint.LATENCY,
        static_buckets: tuple[int, ...] | None = None,
        int8_route: Int8Route | str | None = None,
    ) -> None:
        """``precision`` is what the user asks for (AUTO picks); a ``Choice`` is taken as it is
        (tools that measure one route). ``int8_route`` forces the INT8 IR of that route."""
        if model.task is not self.task:
            raise InputError(
                f"{model.path} is a {model.task.value} model; expected a {self.task.value} model."
            )
        self.model = model
        self.engine: Backend = engine or Engine()
        self.device = self.engine.check_device(device)
        #: The precision and INT8 route this pipeline runs, and why (AUTO's pick): the policy
        #: is ``precision.choose_for``, fed with what the backend says the device offers.
        self.choice: Choice = (
            precision
            if isinstance(precision, Choice)
            else choose_for(
                model, self.engine.capabilities(self.device), Precision.parse(precision)
            )
        )
        if int8_route is not None and self.choice.precision is Precision.INT8:
            route = Int8Route.parse(int8_route, "INT8 route")
            self.choice = replace(self.choice, route=route, reason=f"INT8 {route.value} as asked")
        self.hint = Hint.parse(hint, "performance hint")
        needs_static = device_kind(self.device) in STATIC_SHAPE_DEVICES
        #: Sequence lengths to compile static shapes for; None runs the IR's dynamic shapes.
        self.static_buckets = static_buckets or (STATIC_BUCKETS if needs_static else None)
        model.xml(self.choice.precision, self.choice.route)  # fail now, not at a request
        self.tokenizer: TextTokenizer = model.tokenizer(dictionary)
        self._check_vocab()
        #: Runners by (static width, hint), held for the pipeline's life: a request looks each
        #: up here, not in the backend.
        self._runners: dict[tuple[int | None, Hint], Runner] = {}

    def _check_vocab(self) -> None:
        """Ids beyond the embedding table would be read out of bounds: refuse such a pair."""
        rows = self.model.config.get("vocab_size")
        pieces = self.tokenizer.tokenizer.get_vocab_size()
        if isinstance(rows, int) and pieces > rows:
            raise ModelLoadError(
                f"{self.model.path}: the tokenizer has {pieces:,} pieces but the model's "
                f"embedding has {rows:,} rows (config.json vocab_size); they do not belong "
                "together."
            )

    def check_seq_len(self, max_seq_len: int) -> None:
        """Windows longer than the model's position table cannot run: say so, not crash."""
        limit = self.model.config.get("max_position_embeddings")
        if isinstance(limit, int) and max_seq_len > limit:
            raise InputError(
                f"max_seq_len {max_seq_len} is longer than this model's "
                f"{limit} positions; use at most {limit}."
            )

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str = "CPU",
        precision: Precision | str = Precision.AUTO,
        **kwargs,
    ):
        """Load a model directory: ``QuestionAnswerer.load("models/x", device="CPU")``."""
        return cls(load_model_dir(path), device=device, precision=precision, **kwargs)

    @property
    def language(self) -> Language:
        return self.model.language

    @property
    def precision(self) -> Precision:
        """The precision that runs (what AUTO chose, if it was asked for)."""
        return self.choice.precision

    # -- the runner: asked for here and nowhere else ------------------------------------------
    def runner(self, width: int | None = None, hint: Hint | None = None) -> Runner:
        """The backend's runner for one static width (None: dynamic shapes) and hint."""
        key = (width, hint or self.hint)
        found = self._runners.get(key)
        if found is None:
            shape = None if width is None else (1, width)
            found = self.engine.runner(self.model, self.device, self.choice, key[1], shape)
            self._runners[key] = found
        return found

    @property
    def compiled(self) -> Runner:
        """The runner every request uses (the largest bucket's, with static shapes)."""
        return self.runner(max(self.static_buckets) if self.static_buckets else None)

    def precision_info(self) -> PrecisionInfo:
        return PrecisionInfo(
            self.choice.requested.value,
            self.choice.chosen,
            self.compiled.executed_precision,
            self.choice.reason,
        )

    def warm_up(self) -> float:
        """Compile now; returns the compile time in ms (0 if it was already compiled)."""
        t0 = time.perf_counter()
        for width in self.static_buckets or (None,):  # every bucket: none compiles mid-request
            self.runner(width)
        return (time.perf_counter() - t0) * 1000

    # -- the stage contract -------------------------------------------------------------------
    def run(self, inputs: Any, opts: Any) -> Any:
        """preprocess -> infer -> postprocess, each timed; the result is built here, once, from
        what postprocess decoded and how the run went."""
        t0 = time.perf_counter()
        prepared = self.preprocess(inputs, opts)
        pre_ms = (time.perf_counter() - t0) * 1000
        compile_ms = self.warm_up()
        t0 = time.perf_counter()
        raw = self.infer(prepared)
        infer_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        decoded = self.postprocess(inputs, prepared, raw, opts)
        post_ms = (time.perf_counter() - t0) * 1000
        seg_ms = prepared.segment_ms
        network_ms = sum(r.take_wire_ms() for r in self._runners.values() if _on_wire(r))
        timings = Timings(seg_ms, pre_ms - seg_ms, infer_ms, post_ms, compile_ms, network_ms)
        device = ",".join(self.compiled.execution_devices)
        return self.result_type.of(decoded, timings, device, self.precision_info())

    def preprocess(self, inputs: Any, opts: Any) -> Prepared:
        raise NotImplementedError

    def infer(self, prepared: Any) -> Any:
        raise NotImplementedError

    def postprocess(self, inputs: Any, prepared: Any, raw: Any, opts: Any) -> Any:
        raise NotImplementedError

    # -- helpers the stages share -------------------------------------------------------------
    def infer_windows(self, windows: list[Window]) -> list[dict[str, np.ndarray]]:
        """Every window's outputs, cut back to the window's own length.

        Dynamic shapes: one batched call per window length (see ``length_groups``). Static
        shapes: one call per window, padded to its bucket, on that bucket's compile.
        """
        if self.static_buckets:
            calls = [
                ([i], bucket_width(len(w), self.static_buckets)) for i, w in enumerate(windows)
            ]
        else:
            calls = [
                (idx[i : i + MAX_BATCH_WINDOWS], None)
                for idx in length_groups(windows)
                for i in range(0, len(idx), MAX_BATCH_WINDOWS)
            ]
        out: list[dict[str, np.ndarray]] = [{} for _ in windows]
        for idx, width in calls:
            group = [windows[i] for i in idx]
            runner = self.runner(width)
            outputs = self.checked(runner, runner.infer(batch(group, self.tokenizer.pad_id, width)))
            for row, i in enumerate(idx):
                n = len(windows[i])
                out[i] = {name: value[row, :n] for name, value in outputs.items()}
        return out

    def checked(self, runner: Runner, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``outputs`` of one runner call, refused if any value is NaN or infinite.

        Checked right after inference so that such logits never reach decoding: a span search
        fed NaN once returned an answer that ended before it started (issue 20, AMX).
        """
        bad = [name for name, value in outputs.items() if not np.isfinite(value).all()]
        if bad:
            raise NonFiniteOutputError(
                f"{self.model.name} returned non-finite values (NaN or infinity) in "
                f"{', '.join(bad)} on {self.device} at {self.choice.label} (executed: "
                f"{runner.executed_precision}). This is a fault of the runtime at that "
                "precision on this device, not of the text; run it at FP32 "
                "(--precision FP32, or FP32 in the app)."
            )
        return outputs

    def encode_timed(self, text: str) -> tuple[Encoded, float]:
        """Encode ``text``; returns (encoding, MeCab ms)."""
        segmenter = mecab(self.tokenizer.dictionary) if self.tokenizer.dictionary else None
        if segmenter:
            segmenter.reset_clock()
        enc = self.tokenizer.encode(text)
        return enc, segmenter.elapsed * 1000 if segmenter else 0.0
