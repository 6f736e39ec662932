"""One small exception hierarchy: everything the user can cause is a QADemoError."""

from __future__ import annotations


class QADemoError(Exception):
    """Base class for every error this package raises on purpose."""


class InputError(QADemoError, ValueError):
    """The text, question or an option given by the caller is not acceptable."""


class TextError(InputError):
    """A text the caller gave cannot be used; ``problem`` says why, for translation at the edge."""

    def __init__(self, message: str, what: str, problem: str, **details: int) -> None:
        super().__init__(message)
        self.what = what  # "question", "context", "text"
        self.problem = problem  # "not_text", "empty", "too_long", "invisible"
        self.details = details


class ModelLoadError(QADemoError):
    """A model directory or checkpoint is missing, incomplete or malformed."""


class DeviceError(QADemoError):
    """The requested OpenVINO device does not exist or cannot run the model."""


class NonFiniteOutputError(DeviceError):
    """A model returned NaN or infinite logits: a runtime fault on that device and precision."""


class DataError(QADemoError):
    """An evaluation or training data file is malformed."""


class MissingDependencyError(QADemoError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


def require(module: str, extra: str):
    """Import an optional module lazily, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module!r} is needed for this command but is not installed; "
            f"install it with: pip install 'qa-demo[{extra}]'"
        ) from exc
