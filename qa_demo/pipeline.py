"""What QA and NER share: a model directory, its tokenizer, an Engine and a lazy compile."""

from __future__ import annotations

import time
from pathlib import Path

from .errors import InputError
from .model_dir import ModelDir, load_model_dir
from .runtime import CompiledModel, Engine
from .segment import mecab
from .tokenization import Encoded, TextTokenizer, load_tokenizer
from .types import Language, Task

PRECISIONS = ("FP32", "INT8")


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
        return self.engine.compile(self.model.xml(self.precision), self.device, self.hint)

    def warm_up(self) -> float:
        """Compile now; returns the compile time in ms (0 if it was already compiled)."""
        t0 = time.perf_counter()
        self.compiled  # noqa: B018 - compiling is the side effect we want
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
