"""Model directories under one root plus the catalog; pipelines built lazily and shared."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelLoadError, QADemoError
from ..model_dir import ModelDir, discover_models
from ..options import Precision
from ..precision import DeviceCaps, device_kind
from ..types import Language, Task
from .catalog import CATALOG, CatalogEntry, fetch, find_entry, hub_dir_name
from .messages import AppError

AUTO = "auto"
HUB_PREFIX = "hub:"
#: Dropdown values of models run on the model server: "remote:<local directory name>".
REMOTE_PREFIX = "remote:"


@dataclass(frozen=True)
class Selection:
    """A resolved model choice: a model directory, on a device, at a precision."""

    model: ModelDir
    device: str
    precision: Precision
    dictionary: str | None
    #: Run on the model server (``--remote``): the local directory gives only the tokenizer.
    remote: bool = False


class ModelRegistry:
    """Model directories under one root, plus the catalog; pipelines built lazily and shared."""

    def __init__(
        self,
        models_root: str | Path,
        engine=None,
        catalog: Sequence[CatalogEntry] = CATALOG,
        remote=None,
    ) -> None:
        """``remote``: a ``remote.RemoteBackend``; its models are listed beside the local ones,
        each paired with the local directory of the same name for its tokenizer."""
        from ..runtime import Engine

        self.root = Path(models_root)
        self.engine = engine or Engine()
        self.catalog = tuple(catalog)
        self.remote = remote
        #: (task, language) -> the model "auto" picks first (a preloaded full-size model).
        self.preferred: dict[tuple[Task, Language], str] = {}
        #: How a background preload went, for the user (message key and fields), once done.
        self.preload_notes: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self._pipelines: dict[tuple, object] = {}
        self._models: dict[str, ModelDir] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-read the root: after a download, or when a helper drops a model there."""
        found = {m.name: m for m in discover_models(self.root)}
        with self._lock:
            self._models = found

    # -- listing ---------------------------------------------------------------------------
    def models(self, task: Task | None = None, language: Language | None = None) -> list[ModelDir]:
        return [
            m
            for m in self._models.values()
            if (task is None or m.task is task) and (language is None or m.serves(language))
        ]

    def catalog_entries(self, task: Task) -> list[CatalogEntry]:
        return [e for e in self.catalog if e.task is task]

    def choices(self, task: Task) -> list[tuple[str, str]]:
        """Dropdown (label, value) pairs: auto, local models, then catalog models not yet local."""
        out = [("auto", AUTO)]
        for m in self.models(task):
            out.append((f"{m.name}  [{m.languages_label}, {'/'.join(m.precisions)}]", m.name))
        for m in self.remote_models(task):
            out.append((f"{m.name}  [{m.languages_label}, remote]", REMOTE_PREFIX + m.name))
        for e in self.catalog_entries(task):
            if e.dir_name not in self._models:
                out.append((f"⬇ {e.hub_id}  [{e.language.value}, Hub]", HUB_PREFIX + e.hub_id))
        return out

    def remote_models(self, task: Task | None = None) -> list[ModelDir]:
        """Local directories whose model the server has ready (none without a server)."""
        if self.remote is None:
            return []
        return [m for m in self.models(task) if self.remote.serves(m.name)]

    def devices(self) -> list[str]:
        return self.engine.devices()

    def capabilities(self, device: str) -> DeviceCaps:
        return self.engine.capabilities(device)

    def precision_choices(self, device: str) -> list[str]:
        """AUTO, then what ``device`` supports (FP32, BF16/FP16 where native, INT8)."""
        try:
            supported = self.capabilities(device).supported()
        except QADemoError:  # an unknown device: the request will say so
            supported = [Precision.FP32]
        return [Precision.AUTO.value, *(p.value for p in supported)]

    def has_device(self, device: str) -> bool:
        """Whether ``device`` (GPU, GPU.1, NPU, ...) is on this machine, AUTO included."""
        return device_kind(device) in {device_kind(d) for d in self.devices()}

    def dictionaries(self) -> list[str]:
        from ..segment import available_dictionaries

        return available_dictionaries()

    def find(self, name: str | None) -> ModelDir | None:
        """A local model by directory name, or None."""
        return self._models.get(name) if name else None

    # -- resolving a choice -------------------------------------------------------------------
    def model(self, name: str, task: Task, language: Language) -> ModelDir:
        """The model directory for a dropdown value ("auto", a local name or "hub:<id>")."""
        if name in (None, "", AUTO):
            preferred = self._models.get(self.preferred.get((task, language), ""))
            if preferred is not None:
                return preferred
            candidates = self.models(task, language) or self.models(task)
            if not candidates:
                raise AppError(
                    "no_model", task=task.value.upper(), language=language.value, root=self.root
                )
            return candidates[0]
        if name.startswith(REMOTE_PREFIX):
            name = name[len(REMOTE_PREFIX) :]
            if self.remote is None:
                raise ModelLoadError(f"{name} is a remote model, but no model server is set.")
        if name.startswith(HUB_PREFIX):
            entry = find_entry(name[len(HUB_PREFIX) :], self.catalog)
            if entry.task is not task:
                raise ModelLoadError(
                    f"{entry.hub_id} is a {entry.task.value} model, not a {task.value} model."
                )
            if entry.dir_name in self._models:
                return self._models[entry.dir_name]
            raise AppError(
                "not_downloaded", hub_id=entry.hub_id, command=entry.export_command(self.root)
            )
        if name not in self._models:
            known = ", ".join(self._models) or "none"
            raise ModelLoadError(f"Unknown model {name!r}; the models in {self.root} are: {known}.")
        found = self._models[name]
        if found.task is not task:
            raise ModelLoadError(f"{name} is a {found.task.value} model, not a {task.value} model.")
        return found

    def pipeline(self, task: Task, sel: Selection):
        """The QuestionAnswerer/EntityTagger for a selection, built on first use."""
        from ..ner import EntityTagger
        from ..qa import QuestionAnswerer

        dictionary = sel.dictionary if sel.model.language is Language.JA else None
        key = (task, str(sel.model.path), sel.device.upper(), sel.precision.value, dictionary)
        key += (sel.remote,)
        with self._lock:
            if key not in self._pipelines:
                cls = QuestionAnswerer if task is Task.QA else EntityTagger
                self._pipelines[key] = cls(
                    sel.model,
                    engine=self.remote if sel.remote else self.engine,
                    device=sel.device,
                    precision=sel.precision,
                    dictionary=dictionary,
                )
            return self._pipelines[key]

    def preload(self, repo_id: str) -> threading.Thread:
        """Fetch ``repo_id``'s IR in the background (a Space's ``QA_DEMO_PRELOAD``): the app
        serves the bundled models meanwhile; once the model loads it becomes the default of
        its task and language. Either way a note says how it went."""
        # Imported here, not in the thread: CPython 3.11 may fail compiling a module in one
        # thread while another compiles ("AST constructor recursion depth mismatch").
        from .hub import fetch_ir

        def run() -> None:
            try:
                entry = next((e for e in self.catalog if e.hub_id == repo_id), None)
                if entry is not None:
                    found = self.fetch(repo_id)
                else:
                    out = self.root / hub_dir_name(repo_id)
                    if not out.exists():
                        fetch_ir(repo_id, self.root, out=out)
                    self.refresh()
                    found = self._models[out.name]
            except QADemoError as exc:
                self.preload_notes.append(("preload_failed", {"repo": repo_id, "why": str(exc)}))
                return
            with self._lock:
                for language in found.languages:
                    self.preferred[(found.task, language)] = found.name
            self.preload_notes.append(("preload_ready", {"repo": repo_id, "name": found.name}))

        thread = threading.Thread(target=run, name=f"preload {repo_id}", daemon=True)
        thread.start()
        return thread

    def fetch(self, hub_id: str, log: Callable[[str], None] = lambda m: None) -> ModelDir:
        """A catalog model into the root: its IR downloaded as it is, or exported."""
        entry = find_entry(hub_id, self.catalog)
        out = self.root / entry.dir_name
        if entry.ir_revision and not out.exists():
            from .hub import fetch_ir

            fetch_ir(entry.hub_id, self.root, entry.ir_revision, out, log=log)
            path = out
        else:
            path = fetch(entry, self.root, log=log)
        self.refresh()
        return self._models[path.name]
