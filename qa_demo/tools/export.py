"""Hugging Face checkpoint -> OpenVINO IR (FP32, INT8), checked against PyTorch.

We use ``openvino.convert_model`` directly rather than optimum-intel: optimum-intel pins an
older transformers than the 4.57 line our parity tests need, while convert_model needs only
torch. The directory we write has optimum-intel's layout, so either tool's output loads.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, InputError, ModelLoadError, require
from ..model_dir import PRECISION_FILES, load_model_dir, write_meta
from ..segment import detect_language
from ..tokenization import load_tokenizer
from ..types import Task
from ..windows import batch, build_windows

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
    if _uses_token_types(model):
        inputs["token_type_ids"] = torch.zeros((n, seq), dtype=torch.long)
    return inputs


def _uses_token_types(model) -> bool:
    import inspect

    return "token_type_ids" in inspect.signature(model.forward).parameters and getattr(
        model.config, "type_vocab_size", 0
    ) > 0


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


def parity_feeds(out_dir: Path, texts: Iterable[tuple[str, str]]) -> list[dict[str, np.ndarray]]:
    """Model inputs built by our own preprocessing, for parity checks and calibration."""
    meta = load_model_dir(out_dir)
    tok = load_tokenizer(out_dir, meta.dictionary)
    feeds = []
    for question, context in texts:
        q = tok.encode(question) if meta.task is Task.QA else None
        windows = build_windows(tok, tok.encode(context), 128, 32, question=q)
        for w in windows:
            feeds.append(batch([w], tok.pad_id))
    return feeds


def max_abs_diff(model, xml: Path, feeds: list[dict[str, np.ndarray]]) -> float:
    """Largest |IR - PyTorch| over all logits of the given inputs."""
    import openvino as ov
    import torch

    compiled = ov.Core().compile_model(str(xml), "CPU")
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


def read_calibration_texts(path: Path, task: Task, limit: int = CALIBRATION_SAMPLES):
    """(question, context) pairs from SQuAD JSON, or ("", line) from a plain-text file."""
    if path.suffix == ".json":
        from .datasets import read_squad

        items = read_squad(path)
        return [(ex.question, ex.context) for ex in items[:limit]]
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{path}: no calibration text found.")
    q = "What is it?" if task is Task.QA else ""
    return [(q, ln) for ln in lines[:limit]]


#: INT8 routes. "weights": NNCF weight-only INT8 (asymmetric, per channel); the CPU plugin
#: quantizes activations on the fly where it has int8 dot-product instructions (VNNI, AMX) and
#: decompresses weights to f32 elsewhere. "static": NNCF post-training quantization of weights
#: and activations, calibrated on real windows. ``qa-demo bench`` measures both.
INT8_ROUTES = ("weights", "static")
#: On the AVX2 machine of the README's Performance section, "weights" ran at about FP32
#: speed and "static" slower (no VNNI: oneDNN falls back to jit_gemm_i8); see README.
DEFAULT_INT8_ROUTE = "weights"


def compress_int8_weights(ov_model):
    """Weight-only INT8; needs no calibration data."""
    nncf = require("nncf", "export")
    return nncf.compress_weights(ov_model, mode=nncf.CompressWeightsMode.INT8_ASYM)


def make_int8(ov_model, feeds: list[dict[str, np.ndarray]], route: str = DEFAULT_INT8_ROUTE):
    """The INT8 model of ``route`` (see INT8_ROUTES)."""
    if route not in INT8_ROUTES:
        raise InputError(f"Unknown INT8 route {route!r}; expected one of {INT8_ROUTES}.")
    return compress_int8_weights(ov_model) if route == "weights" else quantize_int8(ov_model, feeds)


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
    int8_route: str = DEFAULT_INT8_ROUTE,
) -> ExportReport:
    """Write ``out``: IR + tokenizer + config + qa_demo.json; print the IR/PyTorch difference."""
    import openvino as ov

    task = Task(task)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out} is not empty; pass --overwrite to replace its model files.")
    if model is None:
        log(f"Loading {src} ...")
        model, tokenizer = load_checkpoint(src, task)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.config.save_pretrained(out)
    is_japanese = type(tokenizer).__name__ == "BertJapaneseTokenizer"
    lang = language or ("ja" if is_japanese else "en")
    dictionary = None
    if is_japanese:
        dic = (getattr(tokenizer, "mecab_kwargs", None) or {}).get("mecab_dic") or "unidic_lite"
        dictionary = {"unidic_lite": "unidic-lite"}.get(dic, dic)
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
    if calibration:
        texts = read_calibration_texts(Path(calibration), task)
    texts = [t for t in texts if detect_language(t[1]).value == lang] or texts
    feeds = parity_feeds(out, texts)
    diffs = {"FP32": max_abs_diff(model, out / PRECISION_FILES["FP32"], feeds)}
    log(f"FP32 IR vs PyTorch: max abs logit difference {diffs['FP32']:.3g}")
    precisions = ["FP32"]
    if int8:
        log(f"Quantizing to INT8 with NNCF ({int8_route} route) ...")
        q_model = make_int8(ov_model, feeds, int8_route)
        ov.save_model(q_model, out / PRECISION_FILES["INT8"])
        diffs["INT8"] = max_abs_diff(model, out / PRECISION_FILES["INT8"], feeds)
        log(f"INT8 IR vs PyTorch: max abs logit difference {diffs['INT8']:.3g}")
        precisions.append("INT8")
    write_meta(out, precisions=precisions, parity_max_abs_diff=diffs,
               int8_route=int8_route if int8 else None)
    return ExportReport(out, tuple(precisions), diffs)


def remove_model_files(out: Path) -> None:
    """Delete a model directory written by ``export`` (used by --overwrite in training)."""
    if (out / "qa_demo.json").exists() or (out / PRECISION_FILES["FP32"]).exists():
        shutil.rmtree(out)
    else:
        raise InputError(f"Refusing to delete {out}: it does not look like a model directory.")
