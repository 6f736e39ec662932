"""Named-entity recognition: preprocess (windows) -> infer -> postprocess (tags, entities)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from .decode import OUTSIDE, check_scheme, group_tags, softmax
from .errors import InputError, ModelLoadError
from .inputs import check_text
from .pipeline import Pipeline
from .types import Entity, NERResult, TaggedToken, Task, Timings, Window
from .windows import build_windows

AGGREGATIONS = ("none", "simple", "first", "average", "max")
#: transformers' default, for models whose metadata names none.
DEFAULT_AGGREGATION = "simple"


@dataclass(frozen=True)
class NEROptions:
    """Options of one NER request; aggregation means what it does in transformers.

    ``aggregation=None`` takes the model's own default (``qa_demo.json``), else "simple".
    """

    aggregation: str | None = None
    max_seq_len: int = 512
    stride: int = 128

    def __post_init__(self) -> None:
        if self.aggregation is not None and self.aggregation not in AGGREGATIONS:
            raise InputError(
                f"Unknown aggregation {self.aggregation!r}; expected one of {AGGREGATIONS}."
            )
        if not 16 <= self.max_seq_len <= 4096:
            raise InputError(f"max_seq_len must be between 16 and 4096, got {self.max_seq_len}.")
        if not 0 <= self.stride < self.max_seq_len - 2:
            raise InputError(
                f"stride must be between 0 and max_seq_len - 3, got {self.stride}."
            )


@dataclass(frozen=True)
class _Unit:
    """A token or a word with its class probabilities, before grouping."""

    start: int
    end: int
    probs: np.ndarray
    label: str
    score: float


class EntityTagger(Pipeline):
    """``EntityTagger.load("models/ner").tag(text)`` -> NERResult."""

    task = Task.NER

    def __init__(self, *args, options: NEROptions | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.options = options or NEROptions()
        #: What ``aggregation=None`` means for this model.
        self.default_aggregation = self.model.aggregation or DEFAULT_AGGREGATION
        if self.default_aggregation not in AGGREGATIONS:
            raise ModelLoadError(
                f"{self.model.path}: unknown aggregation {self.default_aggregation!r} in its "
                f"metadata; expected one of {AGGREGATIONS}."
            )
        labels = self.model.id2label
        if not labels:
            raise ModelLoadError(f"{self.model.path}/config.json has no id2label for NER.")
        self.labels = [labels[i] for i in range(len(labels))]
        try:
            self.scheme = check_scheme(self.labels)
        except ValueError as exc:
            raise ModelLoadError(f"{self.model.path}/config.json: {exc}") from None

    def tag(self, text: str, **overrides) -> NERResult:
        opts = replace(self.options, **overrides) if overrides else self.options
        if opts.aggregation is None:
            opts = replace(opts, aggregation=self.default_aggregation)
        check_text(text, "text")
        enc, seg_ms, tok_ms = self.encode_timed(text)
        t0 = time.perf_counter()
        windows = self.preprocess(enc, opts)
        tok_ms += (time.perf_counter() - t0) * 1000
        compile_ms = self.warm_up()
        t0 = time.perf_counter()
        logits = self.infer(windows)
        infer_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        entities, tokens = self.postprocess(text, enc, windows, logits, opts)
        post_ms = (time.perf_counter() - t0) * 1000
        return NERResult(
            entities=tuple(entities),
            tokens=tuple(tokens),
            timings=Timings(seg_ms, tok_ms, infer_ms, post_ms, compile_ms),
            device=",".join(self.compiled.execution_devices),
        )

    # -- stages -------------------------------------------------------------------------------
    def preprocess(self, enc, opts: NEROptions) -> list[Window]:
        return build_windows(self.tokenizer, enc, opts.max_seq_len, opts.stride)

    def infer(self, windows: list[Window]) -> list[np.ndarray]:
        outputs = self.infer_windows(windows)
        name = "logits" if "logits" in outputs[0] else next(iter(outputs[0]))
        logits = [o[name] for o in outputs]
        if logits[0].shape[-1] != len(self.labels):
            raise ModelLoadError(
                f"The model outputs {logits[0].shape[-1]} classes but config.json has "
                f"{len(self.labels)} labels."
            )
        return logits

    def postprocess(self, text, enc, windows, logits, opts: NEROptions):
        n = len(enc)
        rows = np.zeros((n, len(self.labels)), dtype=np.float64)
        best_margin = np.full(n, -1)
        for w, log in zip(windows, logits, strict=True):
            n_text = len(w) - 2
            pos = np.arange(n_text)
            margin = np.minimum(pos, n_text - 1 - pos)  # distance to the window's nearer edge
            idx = w.token_start + pos
            better = margin > best_margin[idx]
            rows[idx[better]] = log[1 : 1 + n_text][better]
            best_margin[idx[better]] = margin[better]
        probs = softmax(rows, axis=-1) if n else rows
        units = []
        for i in range(n):
            k = int(np.argmax(probs[i]))
            units.append(_Unit(*enc.offsets[i], probs[i], self.labels[k], float(probs[i, k])))
        tokens = [
            TaggedToken(enc.pieces[i], int(enc.ids[i]), u.start, u.end, u.label, u.score)
            for i, u in enumerate(units)
        ]
        if opts.aggregation == "none":
            entities = [
                Entity(u.label, text[u.start : u.end], u.start, u.end, u.score)
                for u in units
                if u.label != OUTSIDE
            ]
            return entities, tokens
        if opts.aggregation != "simple":
            units = self._words(enc, units, opts.aggregation)
        spans = group_tags([u.label for u in units], [u.score for u in units])
        entities = []
        for span in spans:
            start, end = units[span.first].start, units[span.last].end
            entities.append(Entity(span.label, text[start:end], start, end, span.score))
        return entities, tokens

    def _words(self, enc, units: list[_Unit], strategy: str) -> list[_Unit]:
        """Merge WordPiece continuation pieces into words, as transformers' aggregate_word."""
        groups: list[list[int]] = []
        for i, piece in enumerate(enc.pieces):
            is_subword = piece.startswith("##") and enc.ids[i] != self.tokenizer.unk_id
            if groups and is_subword:
                groups[-1].append(i)
            else:
                groups.append([i])
        words = []
        for g in groups:
            members = [units[i] for i in g]
            if strategy == "first":
                p = members[0].probs
            elif strategy == "max":
                p = max(members, key=lambda u: u.probs.max()).probs
            else:  # average
                p = np.nanmean(np.stack([u.probs for u in members]), axis=0)
            k = int(np.argmax(p))
            words.append(_Unit(members[0].start, members[-1].end, p, self.labels[k], float(p[k])))
        return words
