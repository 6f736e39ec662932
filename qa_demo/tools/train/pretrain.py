"""Masked-LM pretraining of a small Japanese BERT on the CPU (``qa-demo pretrain``).

The encoder learns Japanese from the licence-clean training text (QA contexts, NER sentences
outside the NER held-out pages) before ``qa-demo train --base <dir>`` fine-tunes it. Masking is
whole-morpheme: MeCab morphemes are the pre-tokens of the project's Japanese tokenizer, so all
WordPiece pieces of one morpheme (one ``word_id``) are chosen together, then 80% of the chosen
pieces become [MASK], 10% a random piece and 10% stay.

Everything a step needs is a function of (seed, step): the batch order of an epoch and the masks
of a step come from their own seeded generators, dropout from the torch RNG saved in the
checkpoint. A run stopped by ``--max-minutes`` and continued with ``--resume`` therefore ends
with the same weights as one uninterrupted run.

torch and transformers are imported inside functions: ``qa-demo --help`` must stay fast.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError, require
from .checkpoint import (
    CORPUS_FILE,
    META_FILE,
    STATE_FILE,
    deferred_interrupt,
    restore_rng,
    save_checkpoint,
)
from .config import PretrainConfig, log_stderr
from .mlm_data import (
    Corpus,
    batch_indices,
    canonical_vocab,
    corpus_texts,
    mask_batch,
    pack_corpus,
)
from .mlm_model import (
    body_shape,
    build_optimizer,
    earlier_encoder,
    freeze_body,
    read_vocab,
    starting_model,
)

#: Files of the resumable state inside the checkpoint directory (beside the HF model files).
#: Fields a ``--resume`` may change; everything else is read back from the checkpoint.
RUN_CONTROL = ("max_minutes", "stop_at", "save_every", "log_every", "threads")


@dataclass
class Run:
    """A pretraining run in progress: what a checkpoint saves and ``--resume`` reads back."""

    cfg: PretrainConfig
    model: Any
    opt: Any
    sched: Any
    step: int
    vocab: dict[str, int]
    corpus: Corpus
    history: list[dict] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.step >= self.cfg.steps

    def save(self) -> None:
        save_checkpoint(
            self.cfg,
            self.model,
            self.opt,
            self.sched,
            self.step,
            self.vocab,
            self.corpus,
            self.history,
            self.done,
        )


# -- fresh run or resumed run -------------------------------------------------------------------


def restore(cfg: PretrainConfig, log) -> Run:
    """The run saved in ``cfg.out``, with the run-control fields of ``cfg`` (RUN_CONTROL)."""
    import torch
    import transformers

    meta = json.loads((cfg.out / META_FILE).read_text(encoding="utf-8"))
    stored = dict(meta["config"])
    names = {f.name for f in fields(PretrainConfig)}
    for key in ("squad", "ner", "exclude_titles"):
        stored[key] = tuple(stored[key])
    if stored.get("init_from"):
        stored["init_from"] = Path(stored["init_from"])
    stored = {k: v for k, v in stored.items() if k in names and k not in RUN_CONTROL}
    cfg = replace(cfg, **{**stored, "out": cfg.out})
    model = transformers.BertForMaskedLM.from_pretrained(str(cfg.out))
    if cfg.freeze_body:
        freeze_body(model)
    opt, sched = build_optimizer(model, cfg)
    state = torch.load(cfg.out / STATE_FILE, weights_only=False)
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    restore_rng(state)
    vocab = read_vocab(cfg.out)
    with np.load(cfg.out / CORPUS_FILE) as z:
        corpus = Corpus(z["ids"], z["words"], int(z["texts"]))
    log(f"Resuming {cfg.out} at step {state['step']}/{cfg.steps}")
    return Run(cfg, model, opt, sched, int(state["step"]), vocab, corpus, meta["history"])


def prepare(cfg: PretrainConfig, log) -> Run:
    """A fresh run: corpus text, vocabulary, packed blocks and a seeded new (or earlier) model."""
    import torch

    from ...tokenization import japanese_tokenizer, train_japanese_vocab

    if cfg.out.exists() and any(cfg.out.iterdir()):
        raise InputError(f"{cfg.out} is not empty; pass --resume to continue it.")
    t0 = time.perf_counter()
    texts = corpus_texts(cfg)
    log(f"{len(texts)} texts, {sum(map(len, texts)):,} characters")
    if cfg.init_from is not None:
        cfg = earlier_encoder(cfg)
        vocab = read_vocab(cfg.init_from)
    else:
        cfg = body_shape(cfg) if cfg.body is not None else cfg
        vocab = canonical_vocab(train_japanese_vocab(texts, cfg.vocab_size, cfg.dictionary))
    tok = japanese_tokenizer(vocab, cfg.dictionary)
    corpus = pack_corpus(tok, texts, cfg.max_seq_len)
    log(
        f"{len(vocab)}-piece vocab; {len(corpus.ids)} blocks of {cfg.max_seq_len} "
        f"({corpus.ids.size:,} tokens) in {time.perf_counter() - t0:.0f} s"
    )
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = starting_model(cfg, len(vocab), log)
    opt, sched = build_optimizer(model, cfg)
    return Run(cfg, model, opt, sched, 0, vocab, corpus)


# -- training loop --------------------------------------------------------------------------------


def mlm_step(model, corpus: Corpus, cfg: PretrainConfig, step: int, special: tuple[int, int, int]):
    """Loss and accuracy of one batch; the vocabulary head runs on the masked pieces only."""
    import torch

    mask_id, vocab_low, vocab_size = special
    idx = batch_indices(len(corpus.ids), cfg.batch_size, cfg.seed, step)
    ids = corpus.ids[idx]
    rng = np.random.default_rng((cfg.seed, 1, step))
    inputs, chosen = mask_batch(
        ids, corpus.words[idx], rng, mask_id, vocab_low, vocab_size, cfg.mask_prob
    )
    hidden = model.bert(input_ids=torch.from_numpy(inputs)).last_hidden_state
    sel = torch.from_numpy(chosen)
    logits = model.cls(hidden[sel])
    target = torch.from_numpy(ids.astype(np.int64))[sel]
    loss = torch.nn.functional.cross_entropy(logits, target)
    acc = float((logits.argmax(-1) == target).float().mean())
    return loss, acc


def train_steps(
    run: Run,
    stop: int,
    t_start: float,
    log: Callable[[str], None],
    interrupted: Callable[[], bool] = lambda: False,
) -> str:
    """Optimizer steps up to ``stop`` with progress and checkpoints; why it stopped."""
    import torch

    cfg, vocab = run.cfg, run.vocab
    specials = [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")]
    special = (vocab["[MASK]"], max(specials) + 1, len(vocab))
    run.model.train()
    t0, first, losses, accs = time.perf_counter(), run.step, [], []
    while run.step < stop:
        loss, acc = mlm_step(run.model, run.corpus, cfg, run.step, special)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
        run.opt.step()
        run.sched.step()
        run.opt.zero_grad()
        run.step += 1
        losses.append(float(loss.detach()))
        accs.append(acc)
        if run.step % cfg.log_every == 0 or run.step == stop:
            seconds = time.perf_counter() - t0
            run.history.append(
                {
                    "step": run.step,
                    "loss": round(float(np.mean(losses[-cfg.log_every :])), 4),
                    "acc": round(float(np.mean(accs[-cfg.log_every :])), 4),
                }
            )
            log(progress_line(run, seconds / (run.step - first)))
        if cfg.max_minutes is not None and time.perf_counter() - t_start > cfg.max_minutes * 60:
            return "time budget" if run.step < stop else "done"
        if interrupted() and run.step < stop:
            return "interrupted"
        if run.step % cfg.save_every == 0 and run.step < stop:
            run.save()
    return "done"


def progress_line(run: Run, step_seconds: float) -> str:
    cfg, last = run.cfg, run.history[-1]
    tokens = cfg.batch_size * cfg.max_seq_len
    return (
        f"  step {run.step}/{cfg.steps} loss {last['loss']:.4f} acc {last['acc']:.3f} "
        f"lr {run.sched.get_last_lr()[0]:.2e} {tokens / step_seconds:,.0f} tok/s "
        f"({step_seconds:.2f} s/step, ETA {(cfg.steps - run.step) * step_seconds / 60:.0f} min)"
    )


def pretrain(
    cfg: PretrainConfig, resume: bool = False, log: Callable[[str], None] = log_stderr
) -> dict:
    """Train until ``cfg.steps``, the time budget or ``stop_at``; save and return a summary."""
    torch = require("torch", "pretrain")
    require("transformers", "pretrain")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t_start = time.perf_counter()
    if resume and not (cfg.out / STATE_FILE).exists():
        raise InputError(f"{cfg.out} has no {STATE_FILE} to resume from.")
    run = restore(cfg, log) if resume else prepare(cfg, log)
    cfg = run.cfg
    stop = min(cfg.steps, cfg.stop_at or cfg.steps)
    n_params = sum(p.numel() for p in run.model.bert.encoder.parameters())
    log(
        f"BERT {cfg.num_layers} layers x {cfg.hidden_size} ({n_params / 1e6:.1f}M in layers), "
        f"steps {run.step}->{stop} of {cfg.steps}, batch {cfg.batch_size}x{cfg.max_seq_len}, "
        f"lr {cfg.lr:g}"
    )
    with deferred_interrupt(log) as interrupted:
        reason = train_steps(run, stop, t_start, log, interrupted)
    if not run.done and reason == "done":
        reason = "stop-at"
    run.save()
    seconds = time.perf_counter() - t_start
    log(
        f"Saved {cfg.out} at step {run.step}/{cfg.steps} ({reason}, {seconds:.0f} s)"
        + ("" if run.done else "; continue with --resume")
    )
    return {
        "out": str(cfg.out),
        "step": run.step,
        "steps": cfg.steps,
        "done": run.done,
        "stopped_by": reason,
        "loss": run.history[-1]["loss"] if run.history else None,
        "texts": run.corpus.texts,
        "tokens": int(run.corpus.ids.size),
        "seconds": round(seconds, 1),
    }
