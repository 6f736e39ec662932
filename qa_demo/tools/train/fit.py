"""The optimisation loop of `qa-demo train`: seeded length-bucketed batches, AdamW with warm-up
and decay, and a checkpoint every ``save_every`` steps that ``--resume`` continues exactly."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError
from ...types import Task
from ..atomic import swap_dirs
from ..export import uses_token_types
from .checkpoint import STATE_FILE, deferred_interrupt, restore_rng, rng_states
from .config import WARMUP_FRACTION, EpochLog, Feature, TrainConfig
from .data import collate

#: A fine-tuning checkpoint's record: the run's parameters and where it stands.
RUN_FILE = "train_run.json"
#: TrainConfig fields a ``--resume`` may change; the others must match the checkpoint's.
RUN_CONTROL = (
    "out",
    "overwrite",
    "threads",
    "description",
    "checkpoint",
    "save_every",
    "max_minutes",
    "stop_at",
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


@dataclass
class Progress:
    """Where a run stands: what a checkpoint saves and ``--resume`` reads back."""

    step: int = 0
    epoch: int = 1  # the epoch in progress
    batch: int = 0  # batches of it done
    epoch_rng: dict | None = None  # the batch RNG's state when that epoch's order was drawn
    losses: list[float] = field(default_factory=list)  # this epoch's so far
    epoch_seconds: float = 0.0  # spent on this epoch before the last save
    history: list[EpochLog] = field(default_factory=list)
    finished: bool = False


def run_params(cfg: TrainConfig) -> dict:
    """The run's parameters as JSON (qa_demo.json and the checkpoint's record)."""
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    params["extra_data"] = [str(p) for p in cfg.extra_data]
    params["exclude_titles"] = list(cfg.exclude_titles)
    params["task"] = cfg.task.value
    for key in ("tag_scheme", "aggregation"):
        params[key] = getattr(params[key], "value", params[key])
    return params


def check_resumable(cfg: TrainConfig, params: dict) -> None:
    """Refuse to continue a checkpoint under different training parameters."""
    for name in (RUN_FILE, STATE_FILE):
        if not (cfg.checkpoint / name).exists():
            raise InputError(f"{cfg.checkpoint} has no {name} to resume from.")
    saved = json.loads((cfg.checkpoint / RUN_FILE).read_text(encoding="utf-8"))["params"]
    differ = sorted(k for k, v in params.items() if k not in RUN_CONTROL and saved.get(k, v) != v)
    if differ:
        shown = ", ".join(f"{k}: {saved[k]!r} there, {params[k]!r} now" for k in differ)
        raise InputError(
            f"{cfg.checkpoint} holds a run with other parameters ({shown}); run the same "
            "command to resume it, or give another --checkpoint."
        )


def load_run(cfg: TrainConfig, labels) -> tuple[Any, Any, dict, Progress]:
    """Model, tokenizer, optimizer state and progress saved in ``cfg.checkpoint``."""
    import torch
    import transformers

    path = cfg.checkpoint
    cls = (
        transformers.AutoModelForQuestionAnswering
        if cfg.task is Task.QA
        else transformers.AutoModelForTokenClassification
    )
    model = cls.from_pretrained(str(path))
    if labels is not None and list(model.config.id2label.values()) != list(labels):
        raise InputError(f"{path}: its labels differ from the training data's.")
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(path))
    state = torch.load(path / STATE_FILE, weights_only=False)
    run = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))["progress"]
    run["history"] = [EpochLog(**h) for h in run["history"]]
    return model, hf_tok, state, Progress(**run)


def save_run(cfg: TrainConfig, params: dict, model, hf_tok, opt, sched, p: Progress) -> None:
    """Write the checkpoint beside its place and swap it in: never half-visible."""
    import torch

    out = cfg.checkpoint
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    hf_tok.save_pretrained(str(tmp))
    state = {
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        **rng_states(),
    }
    torch.save(state, tmp / STATE_FILE)
    record = {"params": params, "progress": asdict(p)}
    (tmp / RUN_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=2), "utf-8")
    swap_dirs(tmp, out)


def adamw_linear(model, lr: float, weight_decay: float, total_steps: int, warmup_fraction: float):
    """AdamW over the trainable parameters (no decay on biases and LayerNorm weights), with a
    linear warm-up over ``warmup_fraction`` of the steps and a linear decay to 0 at the end;
    `train` and `pretrain` both use it."""
    import torch

    warmup = max(1, int(total_steps * warmup_fraction))
    no_decay = ("bias", "LayerNorm.weight")
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {
            "params": [p for n, p in params if not n.endswith(no_decay)],
            "weight_decay": weight_decay,
        },
        {"params": [p for n, p in params if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))),
    )
    return opt, sched


class Fit:
    """AdamW with linear warm-up and decay over a seeded shuffle, so runs (and resumed runs)
    repeat exactly; ``evaluate(model)`` scores the model after each epoch."""

    def __init__(self, model, hf_tok, feats, pad_id, cfg: TrainConfig, params: dict, log):
        self.model, self.hf_tok, self.feats, self.pad_id = model, hf_tok, feats, pad_id
        self.cfg, self.params, self.log = cfg, params, log
        self.steps_per_epoch = math.ceil(len(feats) / cfg.batch_size)
        self.total_steps = max(1, round(self.steps_per_epoch * cfg.epochs))
        self.opt, self.sched = adamw_linear(
            model, cfg.lr, cfg.weight_decay, self.total_steps, WARMUP_FRACTION
        )
        self.progress = Progress()
        self.interrupted: Callable[[], bool] = lambda: False  # set by run()

    def restore(self, state: dict, progress: Progress) -> None:
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        restore_rng(state)
        self.progress = progress
        self.log(f"Resuming {self.cfg.checkpoint} at step {progress.step}/{self.total_steps}")

    def save(self) -> None:
        if self.cfg.checkpoint is not None:
            p = self.progress
            save_run(self.cfg, self.params, self.model, self.hf_tok, self.opt, self.sched, p)

    def run(self, evaluate) -> Progress:
        """Train to the end, or until ``max_minutes`` / ``stop_at`` (then save and return)."""
        cfg, p = self.cfg, self.progress
        self.rng = rng = np.random.default_rng(cfg.seed)
        if p.epoch_rng is not None:
            rng.bit_generator.state = p.epoch_rng
        self.log(
            f"Training {self.total_steps} steps ({cfg.epochs} epochs of {self.steps_per_epoch}),"
            f" batch {cfg.batch_size}, lr {cfg.lr:g}"
        )
        t_start = time.perf_counter()
        # Without a checkpoint there is nothing to save, so Ctrl-C stops at once as usual.
        guard = deferred_interrupt(self.log) if cfg.checkpoint else nullcontext(lambda: False)
        with guard as self.interrupted:
            for epoch in range(p.epoch, math.ceil(cfg.epochs) + 1):
                p.epoch, p.epoch_rng = epoch, rng.bit_generator.state
                batches = length_batches(self.feats, cfg.batch_size, rng)
                if not self._epoch(batches, t_start):
                    return p
                self._end_epoch(evaluate, last=epoch == math.ceil(cfg.epochs))
        p.finished = True
        self.save()
        self.model.eval()
        return p

    def _epoch(self, batches, t_start: float) -> bool:
        """Train the rest of one epoch; False if stopped (checkpoint saved) before its end."""
        import torch

        cfg, p, model = self.cfg, self.progress, self.model
        token_types = uses_token_types(model)
        model.train()
        t0 = time.perf_counter() - p.epoch_seconds
        for b in range(p.batch, len(batches)):
            if p.step >= self.total_steps:
                break
            feats = [self.feats[i] for i in batches[b]]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                loss = model(**collate(feats, self.pad_id, cfg.task, token_types)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            self.opt.step()
            self.sched.step()
            self.opt.zero_grad()
            p.losses.append(float(loss.detach()))
            p.step, p.batch = p.step + 1, b + 1
            p.epoch_seconds = time.perf_counter() - t0
            if p.step % 20 == 0 or p.step == self.total_steps:
                self.log(
                    f"  epoch {p.epoch} step {p.step}/{self.total_steps} "
                    f"loss {np.mean(p.losses[-20:]):.4f} ({p.epoch_seconds / p.batch:.2f} s/step)"
                )
            out_of_time = (
                cfg.max_minutes is not None and time.perf_counter() - t_start > cfg.max_minutes * 60
            )
            stop_asked = cfg.stop_at is not None and p.step >= cfg.stop_at
            if stop_asked or out_of_time or self.interrupted():
                self.save()
                self.log(f"Stopped at step {p.step}/{self.total_steps}; continue with --resume")
                return False
            if cfg.save_every and p.step % cfg.save_every == 0:
                self.save()
        return True

    def _end_epoch(self, evaluate, last: bool) -> None:
        p = self.progress
        scores = evaluate(self.model) if self.cfg.eval_every_epoch or last else None
        loss = float(np.mean(p.losses)) if p.losses else float("nan")
        p.history.append(EpochLog(p.epoch, loss, p.epoch_seconds, scores))
        summary = f"epoch {p.epoch}: loss {loss:.4f}"
        if scores:
            summary += "  " + "  ".join(
                f"{k} {v:.2f}"
                for k, v in scores.items()
                if k in ("exact", "f1", "precision", "recall")
            )
        self.log(summary)
        p.epoch, p.batch, p.losses, p.epoch_seconds = p.epoch + 1, 0, [], 0.0
        p.epoch_rng = self.rng.bit_generator.state  # where the next epoch's order is drawn
        self.save()
