"""A model directory: OpenVINO IR + tokenizer files + config.json + qa_demo.json.

The layout is the one optimum-intel saves (``openvino_model.xml``/``.bin``, tokenizer files,
``config.json``), so its exports load unchanged. ``qa_demo.json`` adds what the app needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelLoadError, QADemoError
from .options import Int8Route, Precision
from .precision import MIN_AGREEMENT_ITEMS
from .tokenization import (
    TextTokenizer,
    is_japanese_tokenizer,
    load_tokenizer,
    read_tokenizer_config,
)
from .types import Language, Task

META_FILE = "qa_demo.json"
#: IR file per precision. FP32 is optimum-intel's name (the directory stays loadable by it);
#: "INT8" is the weight-only INT8 IR (or, in older directories, the route qa_demo.json names).
PRECISION_FILES = {"FP32": "openvino_model.xml", "INT8": "openvino_model_int8.xml"}
#: The INT8 IR of each route. BF16 and FP16 run the FP32 IR with another inference hint.
INT8_FILES = {
    Int8Route.WEIGHTS: "openvino_model_int8.xml",
    Int8Route.STATIC: "openvino_model_int8_static.xml",
}


@dataclass(frozen=True)
class ModelDir:
    path: Path
    task: Task
    language: Language
    config: dict
    dictionary: str | None = None
    description: str = ""
    precisions: dict[str, Path] = field(default_factory=dict)  # "FP32"/"INT8" -> IR
    version_2_with_negative: bool = False
    aggregation: str | None = None  # NER: the word aggregation the model was tuned with
    max_answer_len: int | None = None  # QA: longest answer in tokens (set from training data)
    #: INT8 route -> IR; ``precisions["INT8"]`` is one of these.
    int8_files: dict[Int8Route, Path] = field(default_factory=dict)
    #: Route key ("BF16", "INT8-static", ...) -> share of top answers (QA) or entities (NER)
    #: equal to FP32's, measured at export or training time on >= MIN_AGREEMENT_ITEMS items;
    #: what Precision.AUTO goes by.
    agreement: dict[str, float] = field(default_factory=dict)
    #: Every language it was trained for, ``language`` first (one bilingual QA model may
    #: serve both); the app offers it for each.
    languages: tuple[Language, ...] = ()

    def __post_init__(self) -> None:
        rest = tuple(lang for lang in self.languages if lang is not self.language)
        object.__setattr__(self, "languages", (self.language, *rest))

    @property
    def name(self) -> str:
        return self.path.name

    def serves(self, language: Language) -> bool:
        return language in self.languages

    @property
    def languages_label(self) -> str:
        """``ja`` or ``ja+en``: how lists name what it serves."""
        return "+".join(lang.value for lang in self.languages)

    @property
    def id2label(self) -> dict[int, str]:
        raw = self.config.get("id2label") or {}
        return {int(k): v for k, v in raw.items()}

    def has_ir(self, precision: Precision) -> bool:
        """Whether this directory has the IR ``precision`` runs (AUTO runs whatever it has)."""
        return precision is Precision.AUTO or ir_precision(precision).value in self.precisions

    @property
    def reference_precision(self) -> Precision:
        """The precision its scores are quoted at: FP32 where it has that IR, else INT8 (a
        model shipped INT8-only). What eval scores and a model server runs by default."""
        return Precision.FP32 if self.has_ir(Precision.FP32) else Precision.INT8

    def tokenizer(self, dictionary: str | None = None) -> TextTokenizer:
        """This model's tokenizer, in its language; ``dictionary`` overrides its MeCab one."""
        return load_tokenizer(self.path, dictionary or self.dictionary, self.language)

    def xml(self, precision: Precision = Precision.FP32, route: Int8Route | None = None) -> Path:
        """The IR for ``precision`` (``ir_precision``), of ``route`` for INT8."""
        precision = ir_precision(precision)
        if route is not None and precision is Precision.INT8:
            if route not in self.int8_files:
                raise ModelLoadError(f"{self.path} has no INT8 {route.value} model.")
            return self.int8_files[route]
        if precision.value not in self.precisions:
            raise ModelLoadError(
                f"{self.path} has no {precision.value} model; it has {', '.join(self.precisions)}."
            )
        return self.precisions[precision.value]


def ir_precision(precision: Precision) -> Precision:
    """The IR a precision runs: BF16 and FP16 are inference hints over the FP32 IR."""
    return Precision.FP32 if precision in (Precision.BF16, Precision.FP16) else precision


def _task_from_config(config: dict) -> Task | None:
    archs = " ".join(config.get("architectures") or [])
    if "QuestionAnswering" in archs:
        return Task.QA
    if "TokenClassification" in archs:
        return Task.NER
    return None


def load_model_dir(path: str | Path) -> ModelDir:
    path = Path(path)
    if not path.is_dir():
        raise ModelLoadError(f"Model directory {path} does not exist.")
    precisions = {p: path / f for p, f in PRECISION_FILES.items() if (path / f).exists()}
    if not precisions and not any((path / f).exists() for f in INT8_FILES.values()):
        raise ModelLoadError(
            f"{path} has no OpenVINO model; expected {PRECISION_FILES['FP32']} "
            f"(export one with: qa-demo export CHECKPOINT {path} --task qa)."
        )
    config_path = path / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"Cannot read {config_path}: {exc}") from exc
    meta_path = path / META_FILE
    meta: dict = {}
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"Cannot read {meta_path}: {exc}") from exc
    for what, value in ((config_path, config), (meta_path, meta)):
        if not isinstance(value, dict):
            raise ModelLoadError(f"{what}: expected a JSON object, got {type(value).__name__}.")
    task_name = meta.get("task") or (_task_from_config(config) or Task.QA).value
    try:
        task = Task(task_name)
    except ValueError:
        raise ModelLoadError(
            f"{meta_path}: unknown task {task_name!r}; expected qa or ner."
        ) from None
    int8_files = _int8_files(path, meta)
    if int8_files and "INT8" not in precisions:
        precisions["INT8"] = next(iter(int8_files.values()))
    default_lang = "ja" if is_japanese_tokenizer(read_tokenizer_config(path)) else "en"
    try:
        language = Language(meta.get("language", default_lang))
    except ValueError:
        raise ModelLoadError(
            f"{meta_path}: unknown language {meta.get('language')!r}; expected ja or en."
        ) from None
    return ModelDir(
        path=path,
        task=task,
        language=language,
        languages=_languages(meta.get("languages", []), meta_path),
        config=config,
        dictionary=meta.get("dictionary"),
        description=meta.get("description", ""),
        precisions=precisions,
        version_2_with_negative=bool(meta.get("version_2_with_negative", False)),
        aggregation=meta.get("aggregation"),
        max_answer_len=_positive_int(meta.get("max_answer_len"), "max_answer_len", meta_path),
        int8_files=int8_files,
        agreement=_agreement(meta, meta_path),
    )


def _int8_files(path: Path, meta: dict) -> dict[Int8Route, Path]:
    """INT8 IR per route; an older directory's single INT8 IR is the route its meta names."""
    found = {r: path / f for r, f in INT8_FILES.items() if (path / f).exists()}
    legacy = meta.get("int8_route")
    if legacy == Int8Route.STATIC.value and Int8Route.STATIC not in found and found:
        found = {Int8Route.STATIC: found.pop(Int8Route.WEIGHTS)}
    return found


def _languages(raw, meta_path: Path) -> tuple[Language, ...]:
    """qa_demo.json's optional ``languages`` list (a bilingual model's)."""
    try:
        if isinstance(raw, str):
            raise TypeError(raw)
        return tuple(Language(lang) for lang in raw or ())
    except (TypeError, ValueError):
        raise ModelLoadError(
            f"{meta_path}: languages must be a list of ja/en, got {raw!r}."
        ) from None


def _positive_int(value, key: str, meta_path: Path) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelLoadError(f"{meta_path}: {key!r} must be a whole number >= 1, got {value!r}.")
    return value


def _agreement(meta: dict, meta_path: Path) -> dict[str, float]:
    """Route key -> share, for the routes measured on enough items to go by (AUTO)."""
    raw = meta.get("agreement") or {}
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{meta_path}: 'agreement' must map route names to measurements.")
    out = {}
    for key, value in raw.items():
        if not (
            isinstance(value, dict)
            and isinstance(value.get("share"), (int, float))
            and isinstance(value.get("items"), int)
        ):
            raise ModelLoadError(
                f"{meta_path}: agreement[{key!r}] must be {{'share': 0-1, 'items': N, ...}}, "
                f"got {value!r}."
            )
        if value["items"] >= MIN_AGREEMENT_ITEMS:
            out[str(key)] = float(value["share"])
    return out


def write_meta(path: Path, **meta) -> None:
    meta_path = path / META_FILE
    existing = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    existing.update({k: v for k, v in meta.items() if v is not None})
    # Written beside and renamed over: a reader (the app) never sees half a file.
    tmp = meta_path.with_name(f".{META_FILE}.tmp")
    tmp.write_text(json.dumps(existing, ensure_ascii=False, indent=2) + "\n", "utf-8")
    tmp.replace(meta_path)


def discover_models(root: str | Path) -> list[ModelDir]:
    """Every loadable model directory directly under ``root``, sorted by name."""
    root = Path(root)
    found = []
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if child.name.startswith("."):
            continue  # an export or training run still writing (moved into place when done)
        if any((child / f).exists() for f in (*PRECISION_FILES.values(), *INT8_FILES.values())):
            try:
                found.append(load_model_dir(child))
            except QADemoError:
                continue  # a half-written directory must not stop the app from starting
    return found
