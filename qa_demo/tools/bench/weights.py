"""The weights every engine shares: a checkpoint (built or given), its IR and ONNX files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DataError, InputError, require
from ...model_dir import INT8_FILES, META_FILE, PRECISION_FILES, load_model_dir
from ...options import Int8Route
from ...precision import MIN_AGREEMENT_ITEMS
from ...runtime import Engine
from ...types import Task
from .config import AGREEMENT_DATA, ARCHS, JSQUAD, QA_HEAD_SCALE, VOCAB_SIZES, BenchConfig
from .contexts import BenchCase, english_cases, japanese_cases


@dataclass(frozen=True)
class BenchSetup:
    """Everything the engines share: one checkpoint, its IR files and the cases."""

    checkpoint: Path  # transformers checkpoint (config, weights, tokenizer)
    model_dir: Path  # qa-demo model directory: FP32 IR + tokenizer + qa_demo.json
    int8_files: dict[Int8Route, Path]  # route -> IR
    onnx_files: dict[str, Path]  # "fp32"/"int8" -> ONNX
    cases: tuple[BenchCase, ...]
    params_non_embedding: int
    hidden_size: int
    layers: int
    #: Route key -> agreement with FP32, from qa_demo.json: what Precision.AUTO goes by.
    agreement: dict[str, float] = field(default_factory=dict)
    agreement_data: str = ""  # what it was measured on, or why there is none


def _english_vocab(texts: list[str], size: int) -> list[str]:
    from tokenizers import BertWordPieceTokenizer

    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(texts, vocab_size=min(size, 8000), min_frequency=1, show_progress=False)
    vocab = sorted(wp.get_vocab().items(), key=lambda kv: kv[1])
    return [t for t, _ in vocab]


def _pad_vocab(tokens: list[str], size: int) -> list[str]:
    """Synthetic entries up to the real vocab size, so the embedding has its real shape."""
    return tokens + [f"[unused{i}]" for i in range(size - len(tokens))]


def _write_tokenizer(out: Path, lang: str, cases: list[BenchCase], vocab_size: int, arch: str):
    """A real WordPiece vocab learnt on the bench texts, padded to the real size."""
    texts = [c.context for c in cases] + [c.question for c in cases]
    if lang == "en":
        from transformers import BertTokenizerFast, DistilBertTokenizerFast

        tokens = _pad_vocab(_english_vocab(texts, vocab_size), vocab_size)
        out.mkdir(parents=True, exist_ok=True)
        (out / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
        # DistilBERT's tokenizer gives no token_type_ids, which its forward() would refuse.
        cls = DistilBertTokenizerFast if arch == "distilbert" else BertTokenizerFast
        tok = cls(vocab_file=str(out / "vocab.txt"), do_lower_case=True)
        tok.save_pretrained(out)
        return tok
    from transformers import BertJapaneseTokenizer

    from ...tokenization import train_japanese_vocab, write_japanese_tokenizer_files

    learnt = train_japanese_vocab(texts, 8000, min_frequency=1)
    tokens = _pad_vocab([t for t, _ in sorted(learnt.items(), key=lambda kv: kv[1])], vocab_size)
    write_japanese_tokenizer_files(out, {t: i for i, t in enumerate(tokens)})
    if arch != "distilbert":
        return BertJapaneseTokenizer.from_pretrained(out)
    names = ["input_ids", "attention_mask"]
    tok = BertJapaneseTokenizer.from_pretrained(out, model_input_names=names)
    tok.save_pretrained(out)
    return tok


def build_checkpoint(arch: str, lang: str, cases: list[BenchCase], out: Path, task: Task = Task.QA):
    """A random-weight model of the real size of ``arch``; nothing is downloaded."""
    torch = require("torch", "bench")
    transformers = require("transformers", "bench")

    tok = _write_tokenizer(out, lang, cases, VOCAB_SIZES[lang], arch)
    vocab = len(tok.get_vocab())
    extra = {}
    if task is Task.NER:
        labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
        extra = {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {lab: i for i, lab in enumerate(labels)},
        }
    if arch == "distilbert":
        config = transformers.DistilBertConfig(vocab_size=vocab, **extra)
    else:
        config = transformers.BertConfig(vocab_size=vocab, **ARCHS[arch], **extra)
    cls = (
        transformers.AutoModelForQuestionAnswering
        if task is Task.QA
        else transformers.AutoModelForTokenClassification
    )
    torch.manual_seed(0)
    model = cls.from_config(config).eval()
    if task is Task.QA:
        with torch.no_grad():
            model.qa_outputs.weight.mul_(QA_HEAD_SCALE)
    model.save_pretrained(out)
    return model, tok


def load_cases(lang: str, contexts: str, shared_data: Path | None) -> list[BenchCase]:
    if lang == "en":
        return english_cases(contexts)
    path = (shared_data or _default_shared_data()) / JSQUAD
    if not path.exists():
        raise DataError(f"Japanese bench contexts come from {path}, which is missing.")
    return japanese_cases(path, contexts)


def _default_shared_data() -> Path:
    """$QA_DEMO_SHARED_DATA, else ../shared/data beside the working directory or checkout."""
    if os.environ.get("QA_DEMO_SHARED_DATA"):
        return Path(os.environ["QA_DEMO_SHARED_DATA"])
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (base.parent / "shared" / "data").is_dir():
            return base.parent / "shared" / "data"
    return Path.cwd().parent / "shared" / "data"


def prepare(cfg: BenchConfig, log: Callable[[str], None]) -> BenchSetup:
    """Build (or reuse) the checkpoint, its model directory (FP32 IR, both INT8 routes and
    their agreement with FP32, as ``export --int8`` writes them) and the ONNX files."""
    require("torch", "bench")
    transformers = require("transformers", "bench")
    cases = load_cases(cfg.lang, cfg.contexts, cfg.shared_data)
    ckpt, work = _checkpoint(cfg, log)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(ckpt).eval()
    tok = transformers.AutoTokenizer.from_pretrained(ckpt)
    ir = work / "ir"
    if not _ir_complete(ir):
        _export_ir(ckpt, ir, model, tok, cfg.lang, log)
    onnx = {"fp32": work / "model.onnx", "int8": work / "model_int8.onnx"}
    if any(e.startswith("ort") for e in cfg.engines) and not onnx["int8"].exists():
        log("Exporting to ONNX (FP32) and quantizing dynamically (INT8) ...")
        export_onnx(model, onnx["fp32"], onnx["int8"])
    params, hidden, layers = count_params(model)
    note = _auto_agreement(cfg, ir, log)
    md = load_model_dir(ir)
    return BenchSetup(
        ckpt,
        ir,
        dict(md.int8_files),
        onnx,
        tuple(cases),
        params,
        hidden,
        layers,
        dict(md.agreement),
        note,
    )


def _checkpoint(cfg: BenchConfig, log) -> tuple[Path, Path]:
    """(checkpoint, work directory): a built random-weight one for --arch, else --model."""
    if cfg.arch:
        work = cfg.work_dir / f"{cfg.arch}-{cfg.lang}"
        ckpt = work / "checkpoint"
        if not (ckpt / "config.json").exists():
            log(f"Building a random-weight {cfg.arch} ({cfg.lang}) in {ckpt} ...")
            # The vocab sees every text, short and long.
            build_checkpoint(
                cfg.arch, cfg.lang, load_cases(cfg.lang, "both", cfg.shared_data), ckpt
            )
    else:
        ckpt = Path(cfg.model)
        weights = [
            ckpt / f for f in ("model.safetensors", "pytorch_model.bin") if (ckpt / f).exists()
        ]
        if not weights:
            raise InputError(
                f"{ckpt} has no transformers weights (model.safetensors); the bench compares "
                "engines on one checkpoint, so give the checkpoint a model was exported from."
            )
        # Keyed by the weights' mtime, so a retrained checkpoint is exported again.
        work = cfg.work_dir / f"model-{ckpt.resolve().name}-{int(weights[0].stat().st_mtime)}"
    work.mkdir(parents=True, exist_ok=True)
    return ckpt, work


def _ir_complete(ir: Path) -> bool:
    """FP32, both INT8 routes and an agreement table (older bench work dirs lack the last)."""
    files = [PRECISION_FILES["FP32"], *INT8_FILES.values()]
    if not all((ir / f).exists() for f in files) or not (ir / META_FILE).exists():
        return False
    return "agreement" in json.loads((ir / META_FILE).read_text(encoding="utf-8"))


def _export_ir(ckpt: Path, ir: Path, model, tok, lang: str, log) -> None:
    """``export --int8`` as a user runs it: both INT8 routes, calibrated on the built-in set,
    and each faster route's agreement with FP32 recorded for Precision.AUTO."""
    from ..export import export

    log("Exporting to OpenVINO IR (FP32, INT8 static, INT8 weights-only, agreement) ...")
    export(
        str(ckpt),
        ir,
        "qa",
        int8=True,
        model=model,
        tokenizer=tok,
        overwrite=True,
        log=log,
        language=lang,
    )


def _auto_agreement(cfg: BenchConfig, ir: Path, log) -> str:
    """Give AUTO a table to go by, as ``eval --record-agreement`` does: each faster route's
    agreement with FP32 on MIN_AGREEMENT_ITEMS held-out questions (export's own measurement,
    on the 12-item calibration set, is too small for AUTO). Returns what it rests on."""
    from ..agreement import measure_agreement, record_agreement
    from ..export import read_calibration_texts

    md = load_model_dir(ir)
    path = (cfg.shared_data or _default_shared_data()) / AGREEMENT_DATA[cfg.lang]
    if md.agreement:
        return _agreement_data(ir)
    if not path.exists():
        return (
            f"{path} is missing, so no agreement was measured on >= {MIN_AGREEMENT_ITEMS} "
            "questions: AUTO runs FP32"
        )
    items = read_calibration_texts(path, Task.QA, MIN_AGREEMENT_ITEMS)
    log(f"Measuring each route's agreement with FP32 on {len(items)} questions of {path} ...")
    engine = Engine(
        cache_dir=cfg.work_dir / "ov_cache", config={"INFERENCE_NUM_THREADS": cfg.n_threads}
    )
    found = measure_agreement(ir, items, engine=engine, log=log)
    record_agreement(ir, found, len(items), f"{len(items)} questions from {path.name}")
    return _agreement_data(ir)


def _agreement_data(ir: Path) -> str:
    meta = json.loads((ir / META_FILE).read_text(encoding="utf-8"))
    table = meta.get("agreement") or {}
    return "; ".join(
        f"{k}: {v.get('share', 0):.1%} of {v.get('items')} ({v.get('data')})"
        for k, v in table.items()
        if isinstance(v, dict)
    )


def export_onnx(model, fp32: Path, int8: Path) -> None:
    import torch

    from ..export import _example_inputs

    require("onnxruntime", "bench")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    example = _example_inputs(model, 1, 16)
    axes = {k: {0: "batch", 1: "sequence"} for k in example}
    axes.update(
        {"start_logits": {0: "batch", 1: "sequence"}, "end_logits": {0: "batch", 1: "sequence"}}
    )
    with torch.no_grad():
        # dynamo=False: the TorchScript exporter needs no onnxscript.
        torch.onnx.export(
            model,
            (dict(example),),
            str(fp32),
            input_names=list(example),
            output_names=["start_logits", "end_logits"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)


def count_params(model) -> tuple[int, int, int]:
    """Non-embedding parameters (the matmul weights), hidden size and layer count."""
    total = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    config = model.config
    hidden = getattr(config, "hidden_size", None) or config.dim
    layers = getattr(config, "num_hidden_layers", None) or config.n_layers
    return int(total), int(hidden), int(layers)
