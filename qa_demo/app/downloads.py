"""The per-run JSON downloads: one temp directory per app process, bounded, removed at exit."""

from __future__ import annotations

import atexit
import itertools
import json
import shutil
import tempfile
import threading
import uuid
from collections import deque
from pathlib import Path

#: Run files kept per app process; past this the oldest is removed first. A download link
#: older than the last MAX_RUN_FILES answers may then be gone (gradio serves its own copy).
MAX_RUN_FILES = 32


class RunFiles:
    """JSON files in one directory, at most ``limit`` of them, each with a unique name."""

    def __init__(self, directory: str | Path | None = None, limit: int = MAX_RUN_FILES) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}.")
        self.dir = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="qa-demo-runs-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        self._kept: deque[Path] = deque()
        self._lock = threading.Lock()
        self._serial = itertools.count(1)

    def write(self, record: dict) -> Path:
        """Write ``record``; the name is a serial number plus a random part, never reused."""
        with self._lock:
            serial = next(self._serial)
        path = self.dir / f"run-{serial:06d}-{uuid.uuid4().hex[:12]}.json"
        path.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        with self._lock:
            self._kept.append(path)
            while len(self._kept) > self.limit:
                self._kept.popleft().unlink(missing_ok=True)
        return path

    def files(self) -> list[Path]:
        with self._lock:
            return list(self._kept)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


_process_files: RunFiles | None = None
_process_lock = threading.Lock()


def run_files() -> RunFiles:
    """This process's RunFiles: made on first use, deleted when the process exits."""
    global _process_files
    with _process_lock:
        if _process_files is None:
            _process_files = RunFiles()
            atexit.register(_process_files.remove)
        return _process_files
