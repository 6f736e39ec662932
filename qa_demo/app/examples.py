"""The bundled examples (assets/examples.json), one per language and length."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


# -- examples --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    title_en: str
    title_ja: str
    language: str
    question: str
    context: str

    @property
    def label(self) -> str:
        # Each example exists in both languages; lead with the example's own language.
        if self.language == "ja":
            return f"🇯🇵 {self.title_ja}"
        return f"🇬🇧 {self.title_en}"


def load_examples(path: str | Path | None = None) -> list[Example]:
    """Examples from assets/examples.json; none (not an error) if the file is absent."""
    if path is None or not Path(path).exists():
        return []
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        Example(e["title_en"], e["title_ja"], e["language"], e["question"], e["context"])
        for e in data["examples"]
    ]
