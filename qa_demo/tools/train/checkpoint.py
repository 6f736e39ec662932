"""Checkpoints of `qa-demo pretrain` (and what `train --checkpoint` shares with it: the swap,
the RNG states, a Ctrl-C that stops at a step boundary), swapped in whole so no reader sees a
half-written one.

A pretraining checkpoint directory is a transformers checkpoint (config.json, model.safetensors, the
BertJapaneseTokenizer files) that `train --base` reads, plus what `--resume` needs: optimizer,
scheduler, RNG states and step (``training_state.pt``), the packed corpus and a JSON record.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import libc, swap_dirs

if TYPE_CHECKING:
    from .mlm_data import Corpus

STATE_FILE = "training_state.pt"
CORPUS_FILE = "corpus.npz"
META_FILE = "pretrain.json"


def rng_states() -> dict:
    """The global torch, numpy and python RNG states: dropout and masking draw from them, so a
    resumed run needs them to repeat an uninterrupted one."""
    import torch

    return {
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
    }


def restore_rng(state: dict) -> None:
    import torch

    torch.set_rng_state(state["torch_rng"])
    if "numpy_rng" in state:  # fine-tuning checkpoints saved before 2026-11-25 hold none
        np.random.set_state(state["numpy_rng"])
    random.setstate(state["python_rng"])


@contextmanager
def deferred_interrupt(log: Callable[[str], None]) -> Iterator[Callable[[], bool]]:
    """Yield ``interrupted()``: inside the block a first Ctrl-C only sets it, so the loop can
    stop after the step it is in and save a consistent checkpoint (a KeyboardInterrupt in the
    middle of ``opt.step()`` would leave half-updated weights); a second Ctrl-C interrupts at
    once. Outside the main thread signals cannot be caught, and Ctrl-C behaves as usual."""
    hit = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield hit.is_set
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum, frame) -> None:
        if hit.is_set():
            raise KeyboardInterrupt
        hit.set()
        log("Interrupted: saving a checkpoint after this step (Ctrl-C again to quit without it)")

    signal.signal(signal.SIGINT, on_sigint)
    handle_sigint_off_the_alternate_stack()
    try:
        yield hit.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


#: struct sigaction's flag that runs a handler on the thread's alternate signal stack (Linux).
SA_ONSTACK = 0x08000000


class _Sigaction(ctypes.Structure):
    """glibc's struct sigaction on 64-bit Linux (handler, 1024-bit mask, flags, restorer)."""

    _fields_ = (
        ("handler", ctypes.c_void_p),
        ("mask", ctypes.c_ulong * 16),
        ("flags", ctypes.c_int),
        ("restorer", ctypes.c_void_p),
    )


def handle_sigint_off_the_alternate_stack() -> bool:
    """Re-install the current SIGINT handler without SA_ONSTACK; True where that was done.

    Why: Python installs its handlers with SA_ONSTACK, and OpenVINO's CPU plugin (2026.4) sets
    an alternate signal stack on the thread that compiles a model and, when two compiled
    models are released out of order, puts back one it has already freed. The next Ctrl-C is
    then handled on freed memory and the process dies of SIGSEGV instead of saving its
    checkpoint. On the thread's own stack the handler cannot meet that stack. The signal
    module has no way to set sigaction flags, hence ctypes; elsewhere than 64-bit Linux this
    does nothing.
    """
    if not (sys.platform == "linux" and ctypes.sizeof(ctypes.c_void_p) == 8):
        return False
    action = _Sigaction()
    if libc().sigaction(signal.SIGINT, None, ctypes.byref(action)) != 0:
        return False
    action.flags &= ~SA_ONSTACK
    return libc().sigaction(signal.SIGINT, ctypes.byref(action), None) == 0


def save_checkpoint(
    cfg,
    model,
    opt,
    sched,
    step: int,
    vocab: dict[str, int],
    corpus: Corpus,
    history: list[dict],
    done: bool,
) -> None:
    """The HF checkpoint (what `train --base` reads) plus the state `--resume` needs."""
    import torch

    from ...tokenization import write_japanese_tokenizer_files

    out = cfg.out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    write_japanese_tokenizer_files(tmp, vocab, cfg.dictionary)
    (tmp / "special_tokens_map.json").write_text(
        json.dumps(
            {
                k: f"[{k.split('_')[0].upper()}]"
                for k in ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token")
            }
        )
    )
    torch.save(
        {
            "step": step,
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            **rng_states(),
        },
        tmp / STATE_FILE,
    )
    if (out / CORPUS_FILE).exists():
        os.link(out / CORPUS_FILE, tmp / CORPUS_FILE)  # unchanged: no 25 MB rewrite per save
    else:
        np.savez(tmp / CORPUS_FILE, ids=corpus.ids, words=corpus.words, texts=corpus.texts)
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    meta = {
        "config": params,
        "step": step,
        "done": done,
        "blocks": len(corpus.ids),
        "texts": int(corpus.texts),
        "tokens": int(corpus.ids.size),
        "history": history,
    }
    (tmp / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    swap_dirs(tmp, out)
