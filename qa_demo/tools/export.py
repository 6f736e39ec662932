"""Hugging Face checkpoint -> OpenVINO IR (FP32, INT8), checked against PyTorch.

We use ``openvino.convert_model`` directly rather than optimum-intel: optimum-intel pins an
older transformers than the 4.57 line our parity tests need, while convert_model needs only
torch. The directory we write has optimum-intel's layout, so either tool's output loads.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import DataError, InputError, ModelLoadError, require
from ..model_dir import INT8_FILES, PRECISION_FILES, load_model_dir, write_meta
from ..options import Int8Route, Precision
from ..precision import INFERENCE_HINTS
from ..segment import detect_language
from ..tokenization import (
    dictionary_from_transformers,
    is_japanese_tokenizer,
    load_tokenizer,
    read_tokenizer_config,
)
from ..types import Task
from ..windows import batch, build_windows
from .atomic import swap_dirs

#: Windows fed to NNCF when calibrating INT8; NNCF's default subset size is 300.
CALIBRATION_SAMPLES = 100
#: Texts used to check the IR against PyTorch when no calibration file is given.
PARITY_TEXTS = (
    ("Who wrote it?", "The report was written by Ada Lovelace in London in 1843."),
    ("誰が書いた？", "この報告書は１８４３年にロンドンでエイダ・ラブレスが書いた。"),
)


@dataclass(frozen=True)
class ExportReport:
    out_dir: Path
    precisions: tuple[str, ...]
    max_abs_diff: dict[str, float]


def _auto_class(task: Task):
    transformers = require("transformers", "export")
    return (
        transformers.AutoModelForQuestionAnswering
        if task is Task.QA
        else transformers.AutoModelForTokenClassification
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """True if the Hub's host answers; checked first so offline use fails in seconds.

    transformers retries an unreachable Hub with back-off for about a minute before it gives
    up, which looks like a hang to someone in a classroom without network.
    """
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def offline_message(src: str, task: Task) -> str:
    return (
        f"Cannot download {src!r}: the Hugging Face Hub is not reachable from this machine. "
        "Download it where there is network (huggingface-cli download "
        f"{src} --local-dir DIR), copy DIR here and run: qa-demo export DIR OUT --task "
        f"{task.value}"
    )


def load_checkpoint(src: str, task: Task):
    """A transformers model and tokenizer from a local directory or a Hub id."""
    transformers = require("transformers", "export")
    require("torch", "export")
    is_local = Path(src).exists()
    if not is_local and os.environ.get("HF_HUB_OFFLINE") != "1" and not hub_reachable():
        raise ModelLoadError(offline_message(src, task))
    try:
        model = _auto_class(task).from_pretrained(src)
        tokenizer = transformers.AutoTokenizer.from_pretrained(src)
    except OSError as exc:
        if is_local:
            raise ModelLoadError(f"Cannot load the checkpoint in {src}: {exc}") from exc
        raise ModelLoadError(f"{offline_message(src, task)} ({exc})") from exc
    model.eval()
    return model, tokenizer


def _example_inputs(model, n: int = 2, seq: int = 16) -> dict:
    import torch

    inputs = {
        "input_ids": torch.ones((n, seq), dtype=torch.long),
        "attention_mask": torch.ones((n, seq), dtype=torch.long),
    }
    if uses_token_types(model):
        inputs["token_type_ids"] = torch.zeros((n, seq), dtype=torch.long)
    return inputs


def uses_token_types(model) -> bool:
    """Whether ``model.forward`` takes token_type_ids (BERT does; DistilBERT has none)."""
    import inspect

    return (
        "token_type_ids" in inspect.signature(model.forward).parameters
        and getattr(model.config, "type_vocab_size", 0) > 0
    )


def convert(model, task: Task):
    """torch module -> ov.Model with dynamic batch and sequence, named inputs and outputs."""
    import openvino as ov
    import torch

    example = _example_inputs(model)
    outputs = ["start_logits", "end_logits"] if task is Task.QA else ["logits"]
    with torch.no_grad():
        # The example fixes only the trace; batch and sequence stay dynamic in the IR.
        ov_model = ov.convert_model(model, example_input=example)
    for port, name in zip(ov_model.inputs, example, strict=True):
        port.get_tensor().set_names({name})  # the tracer adds numeric aliases; drop them
    for port, name in zip(ov_model.outputs, outputs, strict=True):
        port.get_tensor().set_names({name})
    return ov_model


#: Parity checks need only short windows; calibration sees the windows the app serves.
PARITY_WINDOW = (128, 32)
CALIBRATION_WINDOW = (384, 128)


def parity_feeds(
    out_dir: Path, texts: Iterable[tuple[str, str]], window: tuple[int, int] = PARITY_WINDOW
) -> list[dict[str, np.ndarray]]:
    """Model inputs built by our own preprocessing, for parity checks and calibration."""
    meta = load_model_dir(out_dir)
    tok = load_tokenizer(out_dir, meta.dictionary)
    feeds = []
    for question, context in texts:
        q = tok.encode(question) if meta.task is Task.QA else None
        windows = build_windows(tok, tok.encode(context), *window, question=q)
        for w in windows:
            feeds.append(batch([w], tok.pad_id))
    return feeds


def max_abs_diff(model, xml: Path, feeds: list[dict[str, np.ndarray]]) -> float:
    """Largest |IR - PyTorch| over all logits of the given inputs.

    Compiled with f32 inference precision: on CPUs with native bf16 the plugin's default
    would run bf16 and report bf16 rounding as an export error.
    """
    import openvino as ov
    import torch

    compiled = ov.Core().compile_model(
        str(xml), "CPU", {"INFERENCE_PRECISION_HINT": INFERENCE_HINTS[Precision.FP32]}
    )
    wanted = {p.any_name for p in compiled.inputs}
    worst = 0.0
    for feed in feeds:
        feed = {k: v for k, v in feed.items() if k in wanted}
        with torch.no_grad():
            ref = model(**{k: torch.from_numpy(v) for k, v in feed.items()}, return_dict=True)
        got = compiled(feed)
        for port in compiled.outputs:
            expected = ref[port.any_name].numpy()
            worst = max(worst, float(np.max(np.abs(got[port] - expected))))
    return worst


def read_calibration_texts(
    path: Path, task: Task, limit: int = CALIBRATION_SAMPLES, holdout: float | None = None
):
    """(question, context) pairs from SQuAD JSON, or ("", line) from a plain-text file.

    ``holdout``: take only the training side of ``train --holdout PCT``'s split, so that the
    agreement later measured on the held-out side is not measured on calibration data.
    """
    if path.suffix == ".json":
        from .datasets import qa_group, read_squad, split_examples

        items = read_squad(path)
        if holdout:
            items = list(split_examples(items, holdout, "train", qa_group))
        return [(ex.question, ex.context) for ex in items[:limit]]
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{path}: no calibration text found.")
    q = "What is it?" if task is Task.QA else ""
    return [(q, ln) for ln in lines[:limit]]


#: INT8 routes (``Int8Route``). "weights": NNCF weight-only INT8 (asymmetric, per channel); the CPU
#: plugin quantizes activations on the fly where it has int8 dot-product instructions (VNNI,
#: AMX) and decompresses weights to f32 elsewhere. "static": NNCF post-training quantization of
#: weights and activations, calibrated on real windows: fastest with VNNI/AMX, slower than FP32
#: on AVX2 (jit_gemm_i8). ``export --int8`` writes both; the runtime picks per CPU (precision.py).
DEFAULT_INT8_ROUTES = (Int8Route.STATIC, Int8Route.WEIGHTS)


def compress_int8_weights(ov_model):
    """Weight-only INT8; needs no calibration data."""
    nncf = require("nncf", "export")
    return nncf.compress_weights(ov_model, mode=nncf.CompressWeightsMode.INT8_ASYM)


def make_int8(ov_model, feeds: list[dict[str, np.ndarray]], route: Int8Route | str):
    """The INT8 model of ``route``."""
    route = Int8Route.parse(route, "INT8 route")
    if route is Int8Route.WEIGHTS:
        return compress_int8_weights(ov_model)
    return quantize_int8(ov_model, feeds)


def quantize_int8(ov_model, feeds: list[dict[str, np.ndarray]]):
    """NNCF post-training quantization (transformer preset) on real model inputs."""
    nncf = require("nncf", "export")
    names = [p.any_name for p in ov_model.inputs]
    dataset = nncf.Dataset(feeds, lambda f: {k: f[k] for k in names})
    return nncf.quantize(
        ov_model,
        dataset,
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=min(len(feeds), CALIBRATION_SAMPLES),
    )


def calibration_texts(
    calibration: str | Path | None, task: Task, lang: str, holdout: float | None = None
):
    """(question, context) pairs: from the file given, else the built-in set of ``lang``."""
    if calibration:
        return read_calibration_texts(Path(calibration), task, holdout=holdout)
    from .calibration import calibration_pairs

    return calibration_pairs(lang)


def export(
    src: str,
    out: str | Path,
    task: Task | str,
    int8: bool = False,
    calibration: str | Path | None = None,
    language: str | None = None,
    description: str = "",
    overwrite: bool = False,
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
    model=None,
    tokenizer=None,
    int8_routes: tuple[Int8Route, ...] = DEFAULT_INT8_ROUTES,
) -> ExportReport:
    """Write ``out``: IR + tokenizer + config + qa_demo.json; print the IR/PyTorch difference.

    Everything is written to a hidden directory beside ``out`` and moved into place only when
    complete, so an interrupted export never leaves a half-written model the app would list.
    With ``int8``, each faster route's agreement with FP32 is measured on the calibration texts
    and recorded for Precision.AUTO.
    """
    task = Task(task)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out} is not empty; pass --overwrite to replace its model files.")
    if model is None:
        log(f"Loading {src} ...")
        model, tokenizer = load_checkpoint(src, task)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        report = _write(
            src,
            staging,
            task,
            model,
            tokenizer,
            int8,
            calibration,
            language,
            description,
            int8_routes,
            log,
        )
        swap_dirs(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return replace(report, out_dir=out)


def _write(
    src,
    out: Path,
    task: Task,
    model,
    tokenizer,
    int8: bool,
    calibration,
    language: str | None,
    description: str,
    int8_routes,
    log,
) -> ExportReport:
    import openvino as ov

    tokenizer.save_pretrained(out)
    model.config.save_pretrained(out)
    lang, dictionary = tokenizer_language(out, language)
    write_meta(
        out,
        task=task.value,
        language=lang,
        dictionary=dictionary,
        description=description or f"{task.value.upper()} model exported from {src}",
        source=str(src),
    )
    log("Converting to OpenVINO IR ...")
    ov_model = convert(model, task)
    ov.save_model(ov_model, out / PRECISION_FILES["FP32"], compress_to_fp16=False)
    texts = list(PARITY_TEXTS)
    if int8 or calibration:
        texts = calibration_texts(calibration, task, lang)
    texts = [t for t in texts if detect_language(t[1]).value == lang] or texts
    feeds = parity_feeds(out, texts)
    diffs = {"FP32": max_abs_diff(model, out / PRECISION_FILES["FP32"], feeds)}
    log(f"FP32 IR vs PyTorch: max abs logit difference {diffs['FP32']:.3g}")
    precisions = ["FP32"]
    if int8:
        calib = parity_feeds(out, texts, CALIBRATION_WINDOW)
        precisions += _quantize(ov_model, model, out, calib, feeds, int8_routes, diffs, log)
    write_meta(
        out,
        precisions=precisions,
        parity_max_abs_diff=diffs,
        int8_routes=[r.value for r in int8_routes] if int8 else None,
    )
    if int8:
        from .agreement import measure_agreement, record_agreement

        items = texts if task is Task.QA else [c for _, c in texts]
        agreement = measure_agreement(out, items, log=log)
        where = f"{calibration}" if calibration else "the built-in calibration set"
        record_agreement(out, agreement, len(items), f"calibration items from {where}")
    return ExportReport(out, tuple(precisions), diffs)


def _quantize(ov_model, model, out: Path, calib, feeds, routes, diffs: dict, log) -> list[str]:
    """An INT8 IR per route (NNCF), each checked against PyTorch; returns the precisions."""
    import openvino as ov

    made = []
    for route in routes:
        log(f"Quantizing to INT8 with NNCF ({route.value} route) ...")
        xml = out / INT8_FILES[route]
        ov.save_model(make_int8(ov_model, calib, route), xml)
        key = f"INT8-{route.value}"
        diffs[key] = max_abs_diff(model, xml, feeds)
        log(f"INT8 {route.value} IR vs PyTorch: max abs logit difference {diffs[key]:.3g}")
        made.append(key)
    return made


def tokenizer_language(out: Path, language: str | None) -> tuple[str, str | None]:
    """("ja"/"en", MeCab dictionary or None) of the tokenizer files saved in ``out``; "is this
    model Japanese" is ``tokenization.is_japanese_tokenizer``'s call, as when serving."""
    config = read_tokenizer_config(out)
    is_japanese = is_japanese_tokenizer(config)
    lang = language or ("ja" if is_japanese else "en")
    if not is_japanese:
        return lang, None
    dic = (config.get("mecab_kwargs") or {}).get("mecab_dic") or "unidic_lite"
    return lang, dictionary_from_transformers(dic)
