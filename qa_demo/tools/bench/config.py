"""What a bench run is asked to do (``BenchConfig``) and the names and sizes it knows."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError

ENGINES = (
    "pytorch",
    "ort-fp32",
    "ort-int8",
    "ov-fp32",
    "ov-fp32-parallel",
    "ov-bf16",
    "ov-int8-weights",
    "ov-int8-static",
    "ov-auto",
    "ov-remote",
    "optimum",
)
REFERENCE = "pytorch"
#: Real sizes; vocab sizes of bert-base-uncased and of cl-tohoku/bert-base-japanese-v3.
VOCAB_SIZES = {"en": 30522, "ja": 32768}
ARCHS = {
    "tiny": {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
    },
    "minilm": {
        "hidden_size": 384,
        "num_hidden_layers": 6,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
    },
    "distilbert": {},  # DistilBertConfig() defaults: 6 layers, hidden 768
    "bert-base": {},  # BertConfig() defaults: 12 layers, hidden 768
}
#: Random QA heads give near-flat logits and arbitrary near-ties; a larger head gives a clear
#: best span, so engines can be compared on their top answer.
QA_HEAD_SCALE = 10.0
#: Window length for the model-only time and the FLOP bound.
WINDOW_TOKENS = 384
DEFAULT_WORK_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa_demo" / "bench"
)
JSQUAD = "jsquad/valid-v1.3.json"
#: SQuAD-format questions (under the shared data directory) that the bench measures each
#: route's agreement with FP32 on, for Precision.AUTO (not the bench's own texts).
AGREEMENT_DATA = {"en": "squad_en/xquad.en.json", "ja": "jsquad/test-v1.3.json"}


@dataclass(frozen=True)
class BenchConfig:
    arch: str | None = "distilbert"
    model: Path | None = None
    lang: str = "en"
    contexts: str = "both"
    engines: tuple[str, ...] = ENGINES
    repeat: int = 3
    threads: int = 0  # 0: every CPU this process may use
    work_dir: Path = DEFAULT_WORK_DIR
    out_dir: Path = Path("bench-results")
    shared_data: Path | None = None
    startup: bool = False

    def __post_init__(self) -> None:
        if (self.arch is None) == (self.model is None):
            raise InputError("Give exactly one of --arch and --model.")
        if self.arch is not None and self.arch not in ARCHS:
            raise InputError(f"Unknown --arch {self.arch!r}; expected one of {tuple(ARCHS)}.")
        if self.lang not in VOCAB_SIZES:
            raise InputError(f"--language must be en or ja, got {self.lang!r}.")
        if self.contexts not in ("short", "long", "both"):
            raise InputError(f"--contexts must be short, long or both, got {self.contexts!r}.")
        unknown = [e for e in self.engines if e not in ENGINES]
        if unknown:
            raise InputError(f"Unknown engines {unknown}; expected some of {ENGINES}.")
        if self.repeat < 1:
            raise InputError(f"--repeat must be >= 1, got {self.repeat}.")

    @property
    def n_threads(self) -> int:
        return self.threads or len(os.sched_getaffinity(0))
