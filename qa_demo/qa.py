"""Extractive question answering: preprocess (windows) -> infer -> postprocess (spans)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from .decode import best_spans
from .errors import InputError, ModelLoadError
from .inputs import MAX_ANSWER_TOKENS, MAX_QUESTION_CHARS, MAX_TOP_K, check_text
from .model_dir import ModelDir
from .options import Hint
from .pipeline import Pipeline
from .tokenization import Encoded
from .types import Answer, ArrayEq, QADecoded, QAResult, Task, Window
from .windows import batch, build_windows

#: Extra candidates per window when answers are widened to words (transformers uses 2k + 10).
ALIGN_EXTRA_CANDIDATES = 10


def candidate_mask(window: Window, special_ids: np.ndarray) -> np.ndarray:
    """The window's tokens an answer may start or end on: context tokens, except special
    tokens written in the context (JSQuAD's "title [SEP] paragraph"), which are boundaries.
    The span search and the probability plot both use it."""
    special = np.isin(window.input_ids, special_ids)
    return np.array([sid == 1 for sid in window.sequence_ids], dtype=bool) & ~special


#: Longest answer in tokens for a model whose qa_demo.json sets none (transformers' run_qa).
DEFAULT_MAX_ANSWER_LEN = 30


@dataclass(frozen=True)
class QAOptions:
    """Options of one QA request, validated once when built."""

    max_seq_len: int = 384
    doc_stride: int = 128
    max_question_len: int = 64
    #: None: the model's own limit (``max_answer_len`` in qa_demo.json, which ``train qa``
    #: sets from its training answers), else DEFAULT_MAX_ANSWER_LEN.
    max_answer_len: int | None = None
    top_k: int = 1
    #: Return "no answer" when null score - best score exceeds this. None: only for models
    #: trained with unanswerable questions (SQuAD 2.0), with threshold 0.
    null_threshold: float | None = None
    #: Widen answers to whole words (morphemes for Japanese), like transformers' pipeline.
    align_to_words: bool = True

    def __post_init__(self) -> None:
        for name in ("max_seq_len", "doc_stride", "max_question_len", "max_answer_len", "top_k"):
            value = getattr(self, name)
            if value is None and name == "max_answer_len":
                continue
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise InputError(f"{name} must be an integer, got {value!r}.")
        if not 16 <= self.max_seq_len <= 4096:
            raise InputError(f"max_seq_len must be between 16 and 4096, got {self.max_seq_len}.")
        if self.doc_stride < 0:
            raise InputError(f"doc_stride must be >= 0, got {self.doc_stride}.")
        counts = {
            "max_question_len": self.max_question_len,
            "max_answer_len": self.max_answer_len,
            "top_k": self.top_k,
        }
        below = [
            f"{name} {value}" for name, value in counts.items() if value is not None and value < 1
        ]
        if below:
            raise InputError(
                f"max_question_len, max_answer_len and top_k must be >= 1, got {', '.join(below)}."
            )
        if self.top_k > MAX_TOP_K:
            raise InputError(f"top_k must be at most {MAX_TOP_K}, got {self.top_k}.")
        if (self.max_answer_len or 0) > MAX_ANSWER_TOKENS:
            raise InputError(
                f"max_answer_len must be at most {MAX_ANSWER_TOKENS} tokens, got "
                f"{self.max_answer_len}."
            )

    def for_model(self, model: ModelDir) -> QAOptions:
        """These options with ``model``'s own answer-length limit where none was asked for."""
        if self.max_answer_len is not None:
            return self
        return replace(self, max_answer_len=model.max_answer_len or DEFAULT_MAX_ANSWER_LEN)


@dataclass(frozen=True, eq=False)
class QAPrepared(ArrayEq):
    """The preprocess stage's output: both encodings and the windows built from them."""

    question: Encoded
    context: Encoded
    windows: list[Window]
    segment_ms: float


@dataclass(frozen=True)
class QAInput:
    question: str
    context: str


#: (start logits, end logits) per window, unpadded.
Logits = tuple[list[np.ndarray], list[np.ndarray]]


class QuestionAnswerer(Pipeline):
    """``QuestionAnswerer.load("models/x").ask(question, context)`` -> QAResult."""

    task = Task.QA
    result_type = QAResult

    def __init__(
        self, *args, options: QAOptions | None = None, parallel_windows: bool = False, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.options = options or QAOptions()
        tok = self.tokenizer
        self._special_ids = np.array([tok.cls_id, tok.sep_id, tok.pad_id], dtype=np.int64)
        #: On CPU, run the windows of a long context as parallel requests on a second,
        #: THROUGHPUT compile instead of one padded batch. Off by default: it was faster only
        #: while the machine was busy (README, Performance) and costs ~0.4 GB more memory.
        self.parallel_windows = parallel_windows

    def ask(self, question: str, context: str, **overrides) -> QAResult:
        """Check the texts, then answer; ``overrides`` replace fields of the options."""
        check_text(question, "question", MAX_QUESTION_CHARS)
        check_text(context, "context")
        opts = replace(self.options, **overrides) if overrides else self.options
        return self.answer(QAInput(question, context), opts)

    def answer(self, inputs: QAInput, options: QAOptions | None = None) -> QAResult:
        """Run the stages on texts already checked (the app checks them once, at its edge)."""
        opts = options or self.options
        self.check_seq_len(opts.max_seq_len)
        return self.run(inputs, opts)

    def answer_limit(self, opts: QAOptions) -> int:
        """The longest answer in tokens: as asked, else the model's own, else the default
        (read here, not by rebuilding the options: they are validated once)."""
        return opts.max_answer_len or self.model.max_answer_len or DEFAULT_MAX_ANSWER_LEN

    # -- stages -------------------------------------------------------------------------------
    def preprocess(self, inputs: QAInput, opts: QAOptions) -> QAPrepared:
        q, q_seg = self.encode_timed(inputs.question)
        q = q.head(opts.max_question_len)
        c, c_seg = self.encode_timed(inputs.context)
        windows = build_windows(self.tokenizer, c, opts.max_seq_len, opts.doc_stride, question=q)
        return QAPrepared(q, c, windows, q_seg + c_seg)

    def infer(self, prepared: QAPrepared) -> Logits:
        """All windows of a question; returns per-window logits, unpadded.

        By default, one batched call per window length on the LATENCY compile
        (``Pipeline.infer_windows``). With ``parallel_windows`` on CPU, several windows go as
        one request each, unpadded, to a THROUGHPUT compile of the same IR.
        """
        windows = prepared.windows
        if len(windows) > 1 and self._parallel():
            runner = self.runner(None, Hint.THROUGHPUT)
            feeds = [batch([w], self.tokenizer.pad_id) for w in windows]
            per_window = [self.checked(runner, o) for o in runner.infer_each(feeds)]
            start_name, end_name = self._logit_names(runner)
            return ([o[start_name][0] for o in per_window], [o[end_name][0] for o in per_window])
        outputs = self.infer_windows(windows)
        start_name, end_name = self._logit_names(self.compiled)
        return [o[start_name] for o in outputs], [o[end_name] for o in outputs]

    def _parallel(self) -> bool:
        return self.parallel_windows and self.device.startswith("CPU") and not self.static_buckets

    def warm_up(self) -> float:
        """Compile now (both compiles with ``parallel_windows``); returns the ms it took."""
        t0 = time.perf_counter()
        super().warm_up()
        if self._parallel():
            self.runner(None, Hint.THROUGHPUT)
        return (time.perf_counter() - t0) * 1000

    @staticmethod
    def _logit_names(compiled) -> tuple[str, str]:
        names = compiled.output_names
        start_name = "start_logits" if "start_logits" in names else names[0]
        end_name = "end_logits" if "end_logits" in names else names[-1]
        if start_name == end_name:
            raise ModelLoadError(
                f"A QA model needs start and end logits; the model outputs {list(names)}."
            )
        return start_name, end_name

    def postprocess(
        self, inputs: QAInput, prepared: QAPrepared, raw: Logits, opts: QAOptions
    ) -> QADecoded:
        start_logits, end_logits = raw
        masks = [candidate_mask(w, self._special_ids) for w in prepared.windows]
        answers, null_score = self.spans(
            prepared, inputs.context, start_logits, end_logits, masks, opts
        )
        return QADecoded(
            answers=tuple(answers),
            windows=tuple(prepared.windows),
            start_logits=tuple(start_logits),
            end_logits=tuple(end_logits),
            candidate_masks=tuple(masks),
            null_score=null_score,
            question_encoding=prepared.question,
            context_encoding=prepared.context,
        )

    def spans(
        self,
        prepared: QAPrepared,
        context: str,
        start_logits: list[np.ndarray],
        end_logits: list[np.ndarray],
        masks: list[np.ndarray],
        opts: QAOptions,
    ) -> tuple[list[Answer], float]:
        """The top answers over all windows, sliced from ``context``, and the null score."""
        # As transformers' pipeline: with word alignment several token spans can widen to the
        # same words, so look deeper than top_k and pool the probability of equal answers.
        aligned = opts.align_to_words and self.tokenizer.words_are_units
        depth = opts.top_k * 2 + ALIGN_EXTRA_CANDIDATES if aligned else opts.top_k
        candidates: dict[str, Answer] = {}
        null_score = 1.0
        limit = self.answer_limit(opts)
        per_window = zip(prepared.windows, start_logits, end_logits, masks, strict=True)
        for window, s_log, e_log, mask in per_window:
            spans = best_spans(s_log, e_log, mask, limit, depth)
            null_score = min(null_score, spans.null_score)
            special = np.isin(window.input_ids, self._special_ids)
            for s, e, score in zip(spans.starts, spans.ends, spans.scores, strict=True):
                if special[s : e + 1].any():  # no answer runs across a literal [SEP]
                    continue
                start, end = trim_space(context, *self._chars(window, int(s), int(e), aligned))
                if start == end:
                    continue  # a span of whitespace alone (a bare SentencePiece "▁")
                key = context[start:end].lower()
                prev = candidates.get(key)
                if prev is None:
                    text = context[start:end]
                    candidates[key] = Answer(text, start, end, float(score), window.index)
                else:
                    candidates[key] = replace(prev, score=prev.score + float(score))
        answers = sorted(candidates.values(), key=lambda a: -a.score)
        threshold = opts.null_threshold
        if threshold is None and self.model.version_2_with_negative:
            threshold = 0.0
        if threshold is not None and (not answers or null_score - answers[0].score > threshold):
            answers.insert(0, Answer("", 0, 0, null_score, -1))
        return answers[: opts.top_k], null_score

    @staticmethod
    def _chars(window: Window, s: int, e: int, align_to_words: bool) -> tuple[int, int]:
        """Character span of tokens s..e, widened to whole words when asked."""
        if align_to_words:
            words = window.word_ids
            while s > 0 and window.sequence_ids[s - 1] == 1 and words[s - 1] == words[s]:
                s -= 1
            last = len(words) - 1
            while e < last and window.sequence_ids[e + 1] == 1 and words[e + 1] == words[e]:
                e += 1
        start = window.offsets[s][0]
        end = max(window.offsets[i][1] for i in range(s, e + 1))
        return start, end


def trim_space(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` without whitespace at either end: a SentencePiece piece may be a bare
    "▁" (the space before a word), and an answer must not begin or end with it."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
