"""``qa-demo quantize``: add INT8 IRs to a model directory that has an FP32 IR (no checkpoint
needed, e.g. an optimum-intel export), and record their agreement with FP32."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from ..model_dir import INT8_FILES, load_model_dir
from ..options import Int8Route, Precision
from ..types import Task
from .export import (
    CALIBRATION_WINDOW,
    DEFAULT_INT8_ROUTES,
    calibration_texts,
    make_int8,
    parity_feeds,
)


def quantize_dir(
    model_dir: str | Path,
    routes: tuple[Int8Route, ...] = DEFAULT_INT8_ROUTES,
    calibration: str | Path | None = None,
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
    holdout: float | None = None,
) -> dict[str, float]:
    """Add INT8 IRs to a model directory from its FP32 IR (no checkpoint needed, e.g. an
    optimum-intel export), and record their agreement with FP32 on the calibration texts."""
    import openvino as ov

    from .agreement import measure_agreement, record_agreement

    md = load_model_dir(model_dir)
    fp32 = md.xml(Precision.FP32)
    texts = calibration_texts(calibration, md.task, md.language.value, holdout)
    feeds = parity_feeds(md.path, texts, CALIBRATION_WINDOW)
    for route in routes:
        log(f"Quantizing {fp32.name} to INT8 with NNCF ({route.value} route) ...")
        xml = md.path / INT8_FILES[route]
        tmp = xml.with_name(f".{xml.stem}.partial.xml")
        ov.save_model(make_int8(ov.Core().read_model(fp32), feeds, route), tmp)
        tmp.with_suffix(".bin").replace(xml.with_suffix(".bin"))
        tmp.replace(xml)
    items = texts if md.task is Task.QA else [c for _, c in texts]
    agreement = measure_agreement(md.path, items, log=log)
    where = f"{calibration}" if calibration else "the built-in calibration set"
    record_agreement(md.path, agreement, len(items), f"calibration items from {where}")
    return agreement
