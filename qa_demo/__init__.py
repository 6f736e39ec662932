"""Japanese/English extractive QA and NER on OpenVINO, with exact character offsets.

qa = qa_demo.QuestionAnswerer.load("models/x", device="CPU")
result = qa.ask(question, context)
result.best.text == context[result.best.start:result.best.end]
"""

from .errors import (
    DataError,
    DeviceError,
    InputError,
    MissingDependencyError,
    ModelLoadError,
    QADemoError,
)
from .inputs import MAX_TEXT_CHARS
from .model_dir import ModelDir, discover_models, load_model_dir
from .ner import EntityTagger, NEROptions
from .qa import QAOptions, QuestionAnswerer
from .runtime import Engine
from .segment import detect_language, segment
from .tokenization import TextTokenizer, load_tokenizer
from .types import (
    Answer,
    Entity,
    Language,
    Morpheme,
    NERResult,
    QAResult,
    TaggedToken,
    Task,
    Timings,
    Token,
    Window,
)

__version__ = "0.1.0"
__all__ = [
    "MAX_TEXT_CHARS",
    "Answer",
    "DataError",
    "DeviceError",
    "Engine",
    "Entity",
    "EntityTagger",
    "InputError",
    "Language",
    "MissingDependencyError",
    "ModelDir",
    "ModelLoadError",
    "Morpheme",
    "NEROptions",
    "NERResult",
    "QADemoError",
    "QAOptions",
    "QAResult",
    "QuestionAnswerer",
    "TaggedToken",
    "Task",
    "TextTokenizer",
    "Timings",
    "Token",
    "Window",
    "detect_language",
    "discover_models",
    "load_model_dir",
    "load_tokenizer",
    "segment",
]
