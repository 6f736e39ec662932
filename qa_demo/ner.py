"""Named-entity recognition: preprocess (windows) -> infer -> postprocess (tags, entities)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .decode import OUTSIDE, char_groups, check_scheme, group_tags, softmax
from .errors import InputError, ModelLoadError
from .inputs import check_text
from .options import Aggregation
from .pipeline import Pipeline
from .tokenization import Encoded
from .types import ArrayEq, Entity, NERDecoded, NERResult, TaggedToken, Task, Window
from .windows import build_windows

#: The choices, for command lines; Aggregation is the vocabulary.
AGGREGATIONS = tuple(Aggregation.choices())
#: transformers' default, for models whose metadata names none.
DEFAULT_AGGREGATION = Aggregation.SIMPLE


@dataclass(frozen=True)
class NEROptions:
    """Options of one NER request; aggregation means what it does in transformers.

    ``aggregation=None`` takes the model's own default (``qa_demo.json``), else "simple".
    """

    aggregation: Aggregation | None = None
    max_seq_len: int = 512
    #: Tokens shared by neighbouring windows; the same name and meaning as in QAOptions.
    doc_stride: int = 128

    def __post_init__(self) -> None:
        if self.aggregation is not None:
            object.__setattr__(self, "aggregation", Aggregation.parse(self.aggregation))
        for name in ("max_seq_len", "doc_stride"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise InputError(f"{name} must be an integer, got {value!r}.")
        if not 16 <= self.max_seq_len <= 4096:
            raise InputError(f"max_seq_len must be between 16 and 4096, got {self.max_seq_len}.")
        if not 0 <= self.doc_stride < self.max_seq_len - 2:
            raise InputError(
                f"doc_stride must be between 0 and max_seq_len - 3, got {self.doc_stride}."
            )


@dataclass(frozen=True, eq=False)
class NERPrepared(ArrayEq):
    """The preprocess stage's output: the text's encoding and its windows."""

    encoding: Encoded
    windows: list[Window]
    segment_ms: float


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
    result_type = NERResult

    def __init__(self, *args, options: NEROptions | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.options = options or NEROptions()
        #: What ``aggregation=None`` means for this model.
        try:
            self.default_aggregation = Aggregation.parse(
                self.model.aggregation or DEFAULT_AGGREGATION, "aggregation"
            )
        except InputError as exc:
            raise ModelLoadError(f"{self.model.path}/qa_demo.json: {exc}") from None
        labels = self.model.id2label
        if not labels:
            raise ModelLoadError(f"{self.model.path}/config.json has no id2label for NER.")
        self.labels = [labels[i] for i in range(len(labels))]
        try:
            self.scheme = check_scheme(self.labels)
        except ValueError as exc:
            raise ModelLoadError(f"{self.model.path}/config.json: {exc}") from None

    def tag(self, text: str, **overrides) -> NERResult:
        """Check the text, then tag it; ``overrides`` replace fields of the options."""
        check_text(text, "text")
        opts = replace(self.options, **overrides) if overrides else self.options
        return self.tag_text(text, opts)

    def tag_text(self, text: str, options: NEROptions | None = None) -> NERResult:
        """Run the stages on a text already checked (the app checks it once, at its edge)."""
        opts = options or self.options
        if opts.aggregation is None:
            opts = replace(opts, aggregation=self.default_aggregation)
        self.check_seq_len(opts.max_seq_len)
        return self.run(text, opts)

    # -- stages -------------------------------------------------------------------------------
    def preprocess(self, text: str, opts: NEROptions) -> NERPrepared:
        enc, seg_ms = self.encode_timed(text)
        windows = build_windows(self.tokenizer, enc, opts.max_seq_len, opts.doc_stride)
        return NERPrepared(enc, windows, seg_ms)

    def infer(self, prepared: NERPrepared) -> list[np.ndarray]:
        outputs = self.infer_windows(prepared.windows)
        name = "logits" if "logits" in outputs[0] else next(iter(outputs[0]))
        logits = [o[name] for o in outputs]
        if logits[0].shape[-1] != len(self.labels):
            raise ModelLoadError(
                f"The model outputs {logits[0].shape[-1]} classes but config.json has "
                f"{len(self.labels)} labels."
            )
        return logits

    def postprocess(
        self, text: str, prepared: NERPrepared, logits: list[np.ndarray], opts: NEROptions
    ) -> NERDecoded:
        entities, tokens = self.decode(text, prepared.encoding, prepared.windows, logits, opts)
        return NERDecoded(tuple(entities), tuple(tokens), prepared.encoding)

    def decode(
        self,
        text: str,
        enc: Encoded,
        windows: list[Window],
        logits: list[np.ndarray],
        opts: NEROptions,
    ) -> tuple[list[Entity], list[TaggedToken]]:
        """Per-token tags (each token from the window where it sits furthest from an edge),
        then entities by the aggregation asked for."""
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
        # Tokens that share an original character (NFKC expands ㈱ to "(株)", ㍻ to "平成")
        # are one unit: an entity never holds part of a character, and never overlaps another.
        groups = char_groups(enc.offsets)
        if opts.aggregation not in (Aggregation.NONE, Aggregation.SIMPLE):
            groups = self._word_groups(enc, groups)
        units = [self._merge([units[i] for i in g], opts.aggregation) for g in groups]
        if opts.aggregation is Aggregation.NONE:
            entities = [
                Entity(u.label, text[u.start : u.end], u.start, u.end, u.score)
                for u in units
                if u.label != OUTSIDE
            ]
            return entities, tokens
        spans = group_tags([u.label for u in units], [u.score for u in units])
        entities = []
        for span in spans:
            start, end = units[span.first].start, units[span.last].end
            entities.append(Entity(span.label, text[start:end], start, end, span.score))
        return entities, tokens

    def _word_groups(self, enc: Encoded, groups: list[list[int]]) -> list[list[int]]:
        """Join WordPiece continuation pieces to their word, as transformers' aggregate_word."""
        words: list[list[int]] = []
        for g in groups:
            first = g[0]
            is_subword = (
                enc.pieces[first].startswith("##") and enc.ids[first] != self.tokenizer.unk_id
            )
            if words and is_subword:
                words[-1].extend(g)
            else:
                words.append(list(g))
        return words

    def _merge(self, members: list[_Unit], strategy: Aggregation) -> _Unit:
        """One unit from several tokens: by the word strategy, else the most confident one."""
        if len(members) == 1:
            return members[0]
        if strategy is Aggregation.FIRST:
            p = members[0].probs
        elif strategy is Aggregation.AVERAGE:
            p = np.nanmean(np.stack([u.probs for u in members]), axis=0)
        else:  # max; also for the pieces of one character under none/simple
            p = max(members, key=lambda u: u.probs.max()).probs
        k = int(np.argmax(p))
        end = max(u.end for u in members)
        return _Unit(members[0].start, end, p, self.labels[k], float(p[k]))
