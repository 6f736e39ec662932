"""What QA and NER share: a model directory, its tokenizer, an Engine and a lazy compile."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .errors import InputError
from .model_dir import ModelDir, load_model_dir
from .runtime import CompiledModel, Engine
from .segment import mecab
from .tokenization import Encoded, TextTokenizer, load_tokenizer
from .types import Language, Task, Window
from .windows import STATIC_BUCKETS, batch, bucket_width, length_groups

PRECISIONS = ("FP32", "INT8")
#: Devices whose plugin needs static shapes: windows go to per-length static compiles.
STATIC_SHAPE_DEVICES = ("NPU",)


class Pipeline:
    """Base of QuestionAnswerer and EntityTagger; compiles on first use, once."""

    task: Task

    def __init__(
        self,
        model: ModelDir,
        engine: Engine | None = None,
        device: str = "CPU",
        precision: str = "FP32",
        dictionary: str | None = None,
        hint: str = "LATENCY",
        static_buckets: tuple[int, ...] | None = None,
    ) -> None:
        if model.task is not self.task:
            raise InputError(
                f"{model.path} is a {model.task.value} model; expected a {self.task.value} model."
            )
        self.model = model
        self.engine = engine or Engine()
        self.device = self.engine.check_device(device)
        self.precision = precision.upper()
        self.hint = hint
        needs_static = self.device.split(":", 1)[0].split(".", 1)[0] in STATIC_SHAPE_DEVICES
        #: Sequence lengths to compile static shapes for; None runs the IR's dynamic shapes.
        self.static_buckets = static_buckets or (STATIC_BUCKETS if needs_static else None)
        model.xml(self.precision)  # fail now, not at the first request
        self.tokenizer: TextTokenizer = load_tokenizer(
            model.path, dictionary or model.dictionary
        )

    @classmethod
    def load(cls, path: str | Path, device: str = "CPU", precision: str = "FP32", **kwargs):
        """Load a model directory: ``QuestionAnswerer.load("models/x", device="CPU")``."""
        return cls(load_model_dir(path), device=device, precision=precision, **kwargs)

    @property
    def language(self) -> Language:
        return self.tokenizer.language

    @property
    def compiled(self) -> CompiledModel:
        """The compile every request uses (the largest bucket's, with static shapes)."""
        width = max(self.static_buckets) if self.static_buckets else None
        return self.compiled_for(width)

    def compiled_for(self, width: int | None, hint: str | None = None) -> CompiledModel:
        shape = None if width is None else (1, width)
        return self.engine.compile(self.model.xml(self.precision), self.device,
                                   hint or self.hint, shape=shape)

    def infer_windows(self, windows: list[Window]) -> list[dict[str, np.ndarray]]:
        """Every window's outputs, cut back to the window's own length.

        Dynamic shapes: one batched call per window length (see ``length_groups``). Static
        shapes: one call per window, padded to its bucket, on that bucket's compile.
        """
        if self.static_buckets:
            calls = [([i], bucket_width(len(w), self.static_buckets))
                     for i, w in enumerate(windows)]
        else:
            calls = [(idx, None) for idx in length_groups(windows)]
        out: list[dict[str, np.ndarray]] = [{} for _ in windows]
        for idx, width in calls:
            group = [windows[i] for i in idx]
            outputs = self.compiled_for(width).infer(batch(group, self.tokenizer.pad_id, width))
            for row, i in enumerate(idx):
                n = len(windows[i])
                out[i] = {name: value[row, :n] for name, value in outputs.items()}
        return out

    def warm_up(self) -> float:
        """Compile now; returns the compile time in ms (0 if it was already compiled)."""
        t0 = time.perf_counter()
        for width in self.static_buckets or (None,):  # every bucket: none compiles mid-request
            self.compiled_for(width)
        return (time.perf_counter() - t0) * 1000

    def encode_timed(self, text: str) -> tuple[Encoded, float, float]:
        """Encode ``text``; returns (encoding, MeCab ms, rest-of-tokenizer ms)."""
        segmenter = mecab(self.tokenizer.dictionary) if self.tokenizer.dictionary else None
        if segmenter:
            segmenter.reset_clock()
        t0 = time.perf_counter()
        enc = self.tokenizer.encode(text)
        total = (time.perf_counter() - t0) * 1000
        seg = segmenter.elapsed * 1000 if segmenter else 0.0
        return enc, seg, total - seg
