"""The training loop: seeded, length-bucketed batches, eval through the exported IR, and
the model directory written beside its target and swapped in at the end."""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ...errors import DataError, InputError, require
from ...types import Task
from ..export import uses_token_types
from .config import (
    CALIBRATION_TEXTS,
    SCRATCH_JA,
    WARMUP_FRACTION,
    EpochLog,
    Feature,
    TrainConfig,
    TrainResult,
    log_stderr,
)
from .data import (
    ANSWER_LEN_COVERAGE,
    answer_length_limit,
    collate,
    data_files,
    load_training_examples,
    ner_features,
    ner_labels,
    qa_features,
)
from .models import build_scratch_japanese, load_pretrained, set_seed

# -- training -------------------------------------------------------------------------------------


def check_out_dir(out: Path | None, overwrite: bool) -> None:
    if out is not None and out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out} is not empty; pass --overwrite to replace it.")


def train(cfg: TrainConfig, log: Callable[[str], None] = log_stderr) -> TrainResult:
    """Fine-tune, evaluate, export FP32 (+ INT8) IR into ``cfg.out``; returns the history."""
    torch = require("torch", "train")
    check_out_dir(cfg.out, cfg.overwrite)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t_start = time.perf_counter()
    set_seed(cfg.seed)
    task = cfg.task
    train_ex = load_training_examples(
        task, (cfg.data, *cfg.extra_data), cfg.holdout, "train", cfg.limit, cfg.exclude_titles
    )
    if not train_ex:
        raise DataError(f"{cfg.data}: no training examples.")
    eval_path, eval_part = (
        (cfg.eval_data, "all")
        if cfg.eval_data
        else ((cfg.data, "heldout") if cfg.holdout else (None, "all"))
    )
    eval_ex = (
        load_training_examples(
            task,
            eval_path,
            cfg.holdout if eval_part == "heldout" else None,
            eval_part,
            cfg.eval_limit,
        )
        if eval_path
        else []
    )
    labels = ner_labels(train_ex, cfg.tag_scheme) if task is Task.NER else None
    log(
        f"{len(train_ex)} training examples from {cfg.data}"
        + (f", {len(eval_ex)} eval examples from {eval_path}" if eval_ex else "")
    )

    with tempfile.TemporaryDirectory(prefix="qa-demo-train-") as tmp:
        work = Path(tmp)
        tok_dir = work / "tokenizer"
        if cfg.base == SCRATCH_JA:
            texts = (
                [t for ex in train_ex for t in (ex.question, ex.context)]
                if task is Task.QA
                else [ex.text for ex in train_ex]
            )
            log(f"Training a {cfg.scratch.vocab_size}-piece Japanese WordPiece vocab ...")
            model, hf_tok = build_scratch_japanese(cfg, tok_dir, texts, labels)
        else:
            model, hf_tok = load_pretrained(cfg, labels)
            hf_tok.save_pretrained(str(tok_dir))
        from ...tokenization import load_tokenizer

        tok = load_tokenizer(tok_dir)
        t0 = time.perf_counter()
        if task is Task.QA:
            feats = qa_features(
                tok, train_ex, cfg.max_seq_len, cfg.doc_stride, cfg.answer_windows_only
            )
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

        history = fit(model, feats, tok.pad_id, cfg, eval_ex, hf_tok, work, log)
        final_eval = history[-1].eval if history and history[-1].eval else None
        if eval_ex and final_eval is None:
            final_eval = evaluate_checkpoint(model, hf_tok, cfg, eval_ex, work, log)
        if cfg.out is not None:
            write_model(
                model,
                hf_tok,
                cfg,
                train_ex,
                work,
                history,
                final_eval,
                len(feats),
                len(eval_ex),
                eval_path,
                log,
            )
    return TrainResult(
        cfg.out,
        tuple(history),
        final_eval,
        len(train_ex),
        len(feats),
        time.perf_counter() - t_start,
    )


#: Batches are formed within pools of this many batches sorted by length, so little of a
#: batch is padding; the pools and the batch order are still shuffled every epoch.
LENGTH_POOL_BATCHES = 50


def length_batches(feats: list[Feature], batch_size: int, rng) -> list[np.ndarray]:
    order = rng.permutation(len(feats))
    pool = batch_size * LENGTH_POOL_BATCHES
    batches = []
    for p in range(0, len(order), pool):
        chunk = order[p : p + pool]
        chunk = chunk[np.argsort([len(feats[i].input_ids) for i in chunk], kind="stable")]
        batches += [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fit(model, feats, pad_id, cfg: TrainConfig, eval_ex, hf_tok, work, log) -> list[EpochLog]:
    """AdamW with linear warm-up and decay; a seeded shuffle, so runs repeat exactly."""
    import torch

    steps_per_epoch = math.ceil(len(feats) / cfg.batch_size)
    total_steps = max(1, round(steps_per_epoch * cfg.epochs))
    warmup = max(1, int(total_steps * WARMUP_FRACTION))
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": cfg.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
            "weight_decay": 0.0,
        },
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))),
    )
    rng = np.random.default_rng(cfg.seed)
    token_types = uses_token_types(model)
    history: list[EpochLog] = []
    step = 0
    n_epochs = math.ceil(cfg.epochs)
    log(
        f"Training {total_steps} steps ({cfg.epochs} epochs of {steps_per_epoch}), "
        f"batch {cfg.batch_size}, lr {cfg.lr:g}"
    )
    for epoch in range(1, n_epochs + 1):
        model.train()
        batches = length_batches(feats, cfg.batch_size, rng)
        t0 = time.perf_counter()
        losses = []
        for b, idx in enumerate(batches):
            if step >= total_steps:
                break
            batch = collate([feats[i] for i in idx], pad_id, cfg.task, token_types)
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(float(loss.detach()))
            step += 1
            if step % 20 == 0 or step == total_steps:
                rate = (time.perf_counter() - t0) / (b + 1)
                log(
                    f"  epoch {epoch} step {step}/{total_steps} loss {np.mean(losses[-20:]):.4f} "
                    f"({rate:.2f} s/step)"
                )
        scores = None
        last = epoch == n_epochs
        if eval_ex and (cfg.eval_every_epoch or last):
            scores = evaluate_checkpoint(model, hf_tok, cfg, eval_ex, work, log)
        history.append(
            EpochLog(
                epoch,
                float(np.mean(losses)) if losses else float("nan"),
                time.perf_counter() - t0,
                scores,
            )
        )
        summary = f"epoch {epoch}: loss {history[-1].loss:.4f}"
        if scores:
            summary += "  " + "  ".join(
                f"{k} {v:.2f}"
                for k, v in scores.items()
                if k in ("exact", "f1", "precision", "recall")
            )
        log(summary)
    model.eval()
    return history


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


def write_model(
    model,
    hf_tok,
    cfg: TrainConfig,
    train_ex,
    work: Path,
    history,
    final_eval,
    n_windows: int,
    n_eval: int,
    eval_path,
    log,
) -> None:
    """Export into a temp dir beside ``out``, then swap it in: a failure loses nothing."""
    from ...model_dir import PRECISION_FILES, write_meta
    from ..export import export, swap_into_place

    out = cfg.out
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        target = staging / "model"
        log("Exporting to OpenVINO IR ...")
        report = export(
            cfg.base,
            target,
            cfg.task,
            int8=cfg.int8,
            model=model,
            tokenizer=hf_tok,
            calibration=_calibration_file(cfg, train_ex, work),
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
        training = {
            "params": _params(cfg),
            "train_examples": len(train_ex),
            "train_windows": n_windows,
            "eval_data": str(eval_path) if eval_path else None,
            "eval_examples": n_eval,
            "history": [asdict(h) for h in history],
            "eval": final_eval,
        }
        kind = "trained from scratch" if cfg.base == SCRATCH_JA else f"fine-tuned from {cfg.base}"
        write_meta(
            target,
            description=cfg.description
            or f"Small demo {cfg.task.value.upper()} model, {kind} on {cfg.data.name}.",
            source=cfg.base,
            precisions=precisions,
            aggregation=cfg.aggregation if cfg.task is Task.NER else None,
            max_answer_len=cfg.max_answer_len if cfg.task is Task.QA else None,
            # Only a model that saw unanswerable questions may answer "no answer".
            version_2_with_negative=(
                True if cfg.task is Task.QA and any(ex.is_impossible for ex in train_ex) else None
            ),
            training=training,
        )
        swap_into_place(target, out)
        log(f"Wrote {out}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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


def _params(cfg: TrainConfig) -> dict:
    """The run's parameters as JSON, for qa_demo.json."""
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    params["extra_data"] = [str(p) for p in cfg.extra_data]
    params["task"] = cfg.task.value
    if cfg.base != SCRATCH_JA:
        params.pop("scratch")
    return params


def compress_fp32_to_fp16(xml: Path) -> None:
    """Re-save an IR with FP16 weights (computation stays FP32 on CPU; half the .bin size)."""
    import openvino as ov

    core = ov.Core()
    tmp = xml.with_name("fp16_" + xml.name)
    ov.save_model(core.read_model(str(xml)), str(tmp), compress_to_fp16=True)
    for suffix in (".xml", ".bin"):
        tmp.with_suffix(suffix).replace(xml.with_suffix(suffix))
