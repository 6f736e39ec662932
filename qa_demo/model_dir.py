"""A model directory: OpenVINO IR + tokenizer files + config.json + qa_demo.json.

The layout is the one optimum-intel saves (``openvino_model.xml``/``.bin``, tokenizer files,
``config.json``), so its exports load unchanged. ``qa_demo.json`` adds what the app needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelLoadError
from .types import Language, Task

META_FILE = "qa_demo.json"
#: IR file per precision. FP32 is optimum-intel's name; INT8 sits beside it.
PRECISION_FILES = {"FP32": "openvino_model.xml", "INT8": "openvino_model_int8.xml"}


@dataclass(frozen=True)
class ModelDir:
    path: Path
    task: Task
    language: Language
    config: dict
    dictionary: str | None = None
    description: str = ""
    precisions: dict[str, Path] = field(default_factory=dict)
    version_2_with_negative: bool = False
    aggregation: str | None = None  # NER: the word aggregation the model was tuned with

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def id2label(self) -> dict[int, str]:
        raw = self.config.get("id2label") or {}
        return {int(k): v for k, v in raw.items()}

    def xml(self, precision: str = "FP32") -> Path:
        precision = precision.upper()
        if precision not in self.precisions:
            raise ModelLoadError(
                f"{self.path} has no {precision} model; it has {', '.join(self.precisions)}."
            )
        return self.precisions[precision]


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
    if not precisions:
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
    task_name = meta.get("task") or (_task_from_config(config) or Task.QA).value
    try:
        task = Task(task_name)
    except ValueError:
        raise ModelLoadError(
            f"{meta_path}: unknown task {task_name!r}; expected qa or ner."
        ) from None
    tok_config = path / "tokenizer_config.json"
    default_lang = "en"
    if tok_config.exists() and "BertJapaneseTokenizer" in tok_config.read_text(encoding="utf-8"):
        default_lang = "ja"
    return ModelDir(
        path=path,
        task=task,
        language=Language(meta.get("language", default_lang)),
        config=config,
        dictionary=meta.get("dictionary"),
        description=meta.get("description", ""),
        precisions=precisions,
        version_2_with_negative=bool(meta.get("version_2_with_negative", False)),
        aggregation=meta.get("aggregation"),
    )


def write_meta(path: Path, **meta) -> None:
    meta_path = path / META_FILE
    existing = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    existing.update({k: v for k, v in meta.items() if v is not None})
    meta_path.write_text(json.dumps(existing, ensure_ascii=False, indent=2) + "\n", "utf-8")


def discover_models(root: str | Path) -> list[ModelDir]:
    """Every loadable model directory directly under ``root``, sorted by name."""
    root = Path(root)
    found = []
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if (child / PRECISION_FILES["FP32"]).exists() or (child / PRECISION_FILES["INT8"]).exists():
            try:
                found.append(load_model_dir(child))
            except ModelLoadError:
                continue  # a half-written directory must not stop the app from starting
    return found
