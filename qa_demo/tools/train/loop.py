"""The training loop: seeded, length-bucketed batches, eval through the exported IR, and
the model directory written beside its target and swapped in at the end."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ...errors import DataError, InputError, require
from ...types import Task
from .config import (
    CALIBRATION_TEXTS,
    SCRATCH_JA,
    TrainConfig,
    TrainResult,
    log_stderr,
)
from .data import (
    ANSWER_LEN_COVERAGE,
    answer_length_limit,
    data_files,
    load_training_examples,
    ner_features,
    ner_labels,
    qa_features,
)
from .fit import Fit, check_resumable, load_run, run_params
from .models import build_scratch_japanese, load_pretrained, set_seed

# -- training -------------------------------------------------------------------------------------


def check_out_dir(out: Path | None, overwrite: bool) -> None:
    if out is not None and out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out} is not empty; pass --overwrite to replace it.")


def check_checkpoint_dir(cfg: TrainConfig, resume: bool, params: dict) -> None:
    if resume and cfg.checkpoint is None:
        raise InputError("--resume continues the run in --checkpoint DIR; give it.")
    if resume:
        check_resumable(cfg, params)
    elif cfg.checkpoint is not None and cfg.checkpoint.exists() and any(cfg.checkpoint.iterdir()):
        raise InputError(f"{cfg.checkpoint} is not empty; pass --resume to continue that run.")


def train(
    cfg: TrainConfig, resume: bool = False, log: Callable[[str], None] = log_stderr
) -> TrainResult:
    """Fine-tune, evaluate, export FP32 (+ INT8) IR into ``cfg.out``; returns the history.

    With ``cfg.checkpoint`` the run is saved every ``save_every`` steps and at each epoch's end;
    ``resume`` continues it from there exactly as if it had not stopped."""
    torch = require("torch", "train")
    check_out_dir(cfg.out, cfg.overwrite)
    params = run_params(cfg)
    check_checkpoint_dir(cfg, resume, params)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t_start = time.perf_counter()
    set_seed(cfg.seed)
    train_ex, eval_ex, eval_path = _examples(cfg)
    labels = ner_labels(train_ex, cfg.tag_scheme) if cfg.task is Task.NER else None
    sources = (cfg.data, *cfg.extra_data)
    log(
        f"{len(train_ex)} training examples from {', '.join(map(str, sources))}"
        + (f", {len(eval_ex)} eval examples from {eval_path}" if eval_ex else "")
    )
    with tempfile.TemporaryDirectory(prefix="qa-demo-train-") as tmp:
        work = Path(tmp)
        model, hf_tok, saved = _starting_model(cfg, resume, train_ex, labels, work, log)
        cfg, feats, pad_id = _features(cfg, work, train_ex, labels, log)
        fitter = Fit(model, hf_tok, feats, pad_id, cfg, params, log)
        if saved is not None:
            fitter.restore(*saved)

        def evaluate(m):
            return evaluate_checkpoint(m, hf_tok, cfg, eval_ex, work, log) if eval_ex else None

        progress = fitter.run(evaluate)
        history = progress.history
        final_eval = history[-1].eval if history and history[-1].eval else None
        if progress.finished and eval_ex and final_eval is None:
            final_eval = evaluate(model)
        if progress.finished and cfg.out is not None:
            done = Finished(model, hf_tok, train_ex, history, final_eval, len(feats), eval_path)
            write_model(done, cfg, work, len(eval_ex), log)
    return TrainResult(
        cfg.out if progress.finished else None,
        tuple(history),
        final_eval,
        len(train_ex),
        len(feats),
        time.perf_counter() - t_start,
        finished=progress.finished,
    )


def _examples(cfg: TrainConfig) -> tuple[list, list, Path | None]:
    """Training examples, eval examples (``--eval`` or the held-out part) and their path."""
    train_ex = load_training_examples(
        cfg.task, (cfg.data, *cfg.extra_data), cfg.holdout, "train", cfg.limit, cfg.exclude_titles
    )
    if not train_ex:
        raise DataError(f"{cfg.data}: no training examples.")
    eval_path, eval_part = (
        (cfg.eval_data, "all")
        if cfg.eval_data
        else ((cfg.data, "heldout") if cfg.holdout else (None, "all"))
    )
    if eval_path is None:
        return train_ex, [], None
    holdout = cfg.holdout if eval_part == "heldout" else None
    eval_ex = load_training_examples(cfg.task, eval_path, holdout, eval_part, cfg.eval_limit)
    return train_ex, eval_ex, eval_path


def _starting_model(cfg: TrainConfig, resume: bool, train_ex, labels, work: Path, log):
    """The model and tokenizer to train (saved under ``work``), and any checkpoint state."""
    tok_dir = work / "tokenizer"
    saved = None
    if resume:
        model, hf_tok, *saved = load_run(cfg, labels)
    elif cfg.base == SCRATCH_JA:
        texts = (
            [t for ex in train_ex for t in (ex.question, ex.context)]
            if cfg.task is Task.QA
            else [ex.text for ex in train_ex]
        )
        log(f"Training a {cfg.scratch.vocab_size}-piece Japanese WordPiece vocab ...")
        return (*build_scratch_japanese(cfg, tok_dir, texts, labels), None)
    else:
        model, hf_tok = load_pretrained(cfg, labels)
    hf_tok.save_pretrained(str(tok_dir))
    return model, hf_tok, saved


def _features(cfg: TrainConfig, work: Path, train_ex, labels, log):
    """Training windows (and, for QA without ``max_answer_len``, the limit they imply)."""
    from ...tokenization import load_tokenizer

    tok = load_tokenizer(work / "tokenizer")
    t0 = time.perf_counter()
    if cfg.task is Task.QA:
        feats = qa_features(tok, train_ex, cfg.max_seq_len, cfg.doc_stride, cfg.answer_windows_only)
        if cfg.max_answer_len is None:
            cfg = replace(cfg, max_answer_len=answer_length_limit(feats))
            log(
                f"answer-length limit: {cfg.max_answer_len} tokens "
                f"({ANSWER_LEN_COVERAGE:.0%} of training answers)"
            )
    else:
        label2id = {lab: i for i, lab in enumerate(labels)}
        feats = ner_features(tok, train_ex, label2id, cfg.max_seq_len, cfg.doc_stride)
    log(f"{len(feats)} training windows ({time.perf_counter() - t0:.1f} s to tokenize)")
    return cfg, feats, tok.pad_id


def evaluate_checkpoint(model, hf_tok, cfg: TrainConfig, eval_ex, work: Path, log) -> dict:
    """Export to a scratch IR and score it with the serving pipeline (what the app will do)."""
    from ..evaluate import evaluate_ner_examples, evaluate_qa_examples
    from ..export import export

    model.eval()
    ir = work / "eval_ir"
    if ir.exists():
        shutil.rmtree(ir)
    export("training checkpoint", ir, cfg.task, model=model, tokenizer=hf_tok, log=lambda m: None)
    if cfg.task is Task.QA:
        scores = evaluate_qa_examples(
            ir,
            eval_ex,
            progress=False,
            options={
                "max_seq_len": cfg.max_seq_len,
                "doc_stride": cfg.doc_stride,
                "max_answer_len": cfg.max_answer_len,
            },
        )
    else:
        scores = evaluate_ner_examples(
            ir,
            eval_ex,
            progress=False,
            options={
                "max_seq_len": cfg.max_seq_len,
                "doc_stride": cfg.doc_stride,
                "aggregation": cfg.aggregation,
            },
        )
    return scores.summary()


@dataclass(frozen=True)
class Finished:
    """A finished fine-tune, as ``write_model`` turns it into a model directory."""

    model: Any
    tokenizer: Any  # the Hugging Face tokenizer it was trained with
    train_ex: list
    history: list
    final_eval: dict | None
    n_windows: int
    eval_path: Path | None


def write_model(done: Finished, cfg: TrainConfig, work: Path, n_eval: int, log) -> None:
    """Export into a temp dir beside ``out``, then swap it in: a failure loses nothing."""
    from ..atomic import swap_dirs

    out = cfg.out
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        target = staging / "model"
        precisions = _export(done, cfg, target, work, log)
        _write_training_meta(done, cfg, target, precisions, n_eval)
        swap_dirs(target, out)
        log(f"Wrote {out}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _export(done: Finished, cfg: TrainConfig, target: Path, work: Path, log) -> list[str]:
    """FP32 (+ INT8) IR of the trained model in ``target``; returns the precisions shipped."""
    from ...model_dir import PRECISION_FILES
    from ..export import export

    log("Exporting to OpenVINO IR ...")
    report = export(
        cfg.base,
        target,
        cfg.task,
        int8=cfg.int8,
        model=done.model,
        tokenizer=done.tokenizer,
        calibration=_calibration_file(cfg, done.train_ex, work),
        log=log,
    )
    if cfg.fp16_weights and cfg.fp32:
        compress_fp32_to_fp16(target / PRECISION_FILES["FP32"])
    precisions = list(report.precisions)
    if not cfg.fp32:
        xml = target / PRECISION_FILES["FP32"]
        xml.unlink()
        xml.with_suffix(".bin").unlink()
        precisions.remove("FP32")
    return precisions


def _write_training_meta(
    done: Finished, cfg: TrainConfig, target: Path, precisions: list[str], n_eval: int
) -> None:
    """qa_demo.json: the model's defaults and how it was trained."""
    from ...model_dir import write_meta

    training = {
        "params": _shipped_params(cfg),
        "train_examples": len(done.train_ex),
        "train_windows": done.n_windows,
        "eval_data": str(done.eval_path) if done.eval_path else None,
        "eval_examples": n_eval,
        "history": [asdict(h) for h in done.history],
        "eval": done.final_eval,
    }
    kind = "trained from scratch" if cfg.base == SCRATCH_JA else f"fine-tuned from {cfg.base}"
    impossible = cfg.task is Task.QA and any(ex.is_impossible for ex in done.train_ex)
    write_meta(
        target,
        description=cfg.description
        or f"Small demo {cfg.task.value.upper()} model, {kind} on {cfg.data.name}.",
        source=cfg.base,
        precisions=precisions,
        aggregation=cfg.aggregation if cfg.task is Task.NER else None,
        max_answer_len=cfg.max_answer_len if cfg.task is Task.QA else None,
        # Only a model that saw unanswerable questions may answer "no answer".
        version_2_with_negative=True if impossible else None,
        languages=training_languages(done.train_ex, cfg.task) or None,
        training=training,
    )


#: A language with at least this share of the training examples is one the model serves.
MIN_LANGUAGE_SHARE = 0.01


def training_languages(train_ex, task: Task) -> list[str]:
    """The languages of the training texts (most examples first), for a model trained on
    more than one; empty for a one-language model, whose tokenizer decides its language."""
    from collections import Counter

    from ...segment import detect_language

    counts = Counter(
        detect_language(ex.context if task is Task.QA else ex.text).value for ex in train_ex
    )
    kept = [lang for lang, n in counts.most_common() if n >= MIN_LANGUAGE_SHARE * len(train_ex)]
    return kept if len(kept) > 1 else []


def _calibration_file(cfg: TrainConfig, train_ex, work: Path) -> Path | None:
    """INT8 calibration (and agreement) data: the training file for QA, texts for NER."""
    if not cfg.int8:
        return None
    if cfg.task is Task.QA:
        return data_files(cfg.data)[0]
    path = work / "calibration.txt"
    texts = [ex.text for ex in train_ex[:CALIBRATION_TEXTS]]
    path.write_text("\n".join(t.replace("\n", " ") for t in texts), encoding="utf-8")
    return path


def _shipped_params(cfg: TrainConfig) -> dict:
    params = run_params(cfg)
    if cfg.base != SCRATCH_JA:
        params.pop("scratch")
    for key in ("checkpoint", "save_every", "max_minutes", "stop_at"):
        params.pop(key)  # how the run was checkpointed is no part of the model
    return params


def compress_fp32_to_fp16(xml: Path) -> None:
    """Re-save an IR with FP16 weights (computation stays FP32 on CPU; half the .bin size)."""
    import openvino as ov

    core = ov.Core()
    tmp = xml.with_name("fp16_" + xml.name)
    ov.save_model(core.read_model(str(xml)), str(tmp), compress_to_fp16=True)
    for suffix in (".xml", ".bin"):
        tmp.with_suffix(suffix).replace(xml.with_suffix(suffix))
