"""How often each faster route gives FP32's answer: what Precision.AUTO goes by.

QA: the share of questions whose top answer (text and span) equals FP32's. NER: entities in
common over entities in either (exact span and label), over all texts. Measured at export and
training time on the calibration or eval data, and recorded in ``qa_demo.json`` ("agreement").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import QADemoError
from ..model_dir import META_FILE, load_model_dir, write_meta
from ..ner import EntityTagger
from ..options import Precision
from ..precision import MIN_AGREEMENT_ITEMS, Choice, runs_as_chosen
from ..qa import QuestionAnswerer
from ..runtime import Engine
from ..types import Answer, Task

#: Inputs: (question, context) pairs for QA, texts for NER.
Items = Sequence[tuple[str, str]] | Sequence[str]


def candidate_routes(model_dir) -> list[Choice]:
    """Every faster route the model has: its INT8 IRs, and BF16 on its FP32 IR."""
    md = load_model_dir(model_dir)
    routes = [Choice(Precision.INT8, Precision.INT8, r, "measured") for r in sorted(md.int8_files)]
    if "FP32" in md.precisions:
        routes.append(Choice(Precision.BF16, Precision.BF16, None, "measured"))
    return routes


@dataclass(frozen=True)
class TopAnswer:
    """A question's top answer as agreement compares it: the text and its span."""

    text: str
    start: int
    end: int


def top_answer(best: Answer | None) -> TopAnswer | None:
    return TopAnswer(best.text, best.start, best.end) if best is not None else None


def _outputs(pipeline, items: Items) -> list:
    if isinstance(pipeline, QuestionAnswerer):
        return [top_answer(pipeline.ask(q, c).best) for q, c in items]
    return [{(e.start, e.end, e.label) for e in pipeline.tag(text).entities} for text in items]


def share_equal(task: Task, got: list, reference: list) -> float:
    """The one agreement measure (AUTO's, the cards', eval's and the bench's).

    QA: identical top answers (``TopAnswer``: text and span) / questions. NER: common
    entities / entities in either (exact span and label)."""
    if task is Task.QA:
        return sum(a == b for a, b in zip(got, reference, strict=True)) / max(len(reference), 1)
    common = sum(len(a & b) for a, b in zip(got, reference, strict=True))
    either = sum(len(a | b) for a, b in zip(got, reference, strict=True))
    return common / either if either else 1.0


def measure_agreement(
    model_dir: str | Path,
    items: Items,
    engine: Engine | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, float]:
    """{route key: agreement with FP32} for each route that runs here as what it names.

    BF16 is measured only where the compiled model reports bf16 execution (native bf16, or
    OpenVINO's emulation on AVX-512); elsewhere it would silently run f32 and prove nothing.
    """
    md = load_model_dir(model_dir)
    if "FP32" not in md.precisions or not items:
        return {}
    engine = engine or Engine()
    cls = QuestionAnswerer if md.task is Task.QA else EntityTagger
    reference = _outputs(cls(md, engine=engine, precision=Precision.FP32), items)
    found: dict[str, float] = {}
    for choice in candidate_routes(model_dir):
        try:
            pipeline = cls(md, engine=engine, precision=choice)
            executed = pipeline.compiled.executed_precision
        except QADemoError as exc:
            log(f"agreement: {choice.key} cannot run here ({exc})")
            continue
        if not runs_as_chosen(choice.precision, executed):
            log(f"agreement: BF16 not measured (this CPU executes it as {executed})")
            continue
        found[choice.key] = round(share_equal(md.task, _outputs(pipeline, items), reference), 4)
        log(
            f"agreement with FP32, {choice.key} ({executed}): {found[choice.key]:.1%} "
            f"of {len(items)} {'questions' if md.task is Task.QA else 'texts'}"
        )
    return found


def record_agreement(
    model_dir: str | Path, agreement: dict[str, float], items: int, data: str
) -> None:
    """Merge ``agreement`` into qa_demo.json with how many items of which data it rests on.

    AUTO goes only by measurements on >= MIN_AGREEMENT_ITEMS items (see model_dir)."""
    path = Path(model_dir) / META_FILE
    meta = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    table = meta.get("agreement") if isinstance(meta.get("agreement"), dict) else {}
    for key, share in agreement.items():
        table[key] = {"share": share, "items": items, "data": data}
    write_meta(Path(model_dir), agreement=table)
    if items < MIN_AGREEMENT_ITEMS:
        print(
            f"agreement measured on {items} items (< {MIN_AGREEMENT_ITEMS}): recorded, but "
            "AUTO will not go by it; measure on more data with qa-demo eval "
            "--record-agreement",
            file=sys.stderr,
        )
