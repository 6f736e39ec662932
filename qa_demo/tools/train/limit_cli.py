"""``qa-demo answer-length``: the answer-length limit a QA model's training answers imply.

`train qa` sets it for the models it writes; this recomputes it the same way
(``answer_length_limit`` over the same windows) for a model trained before, and ``--write``
stores it in the model's qa_demo.json, where ``ask``, ``eval`` and the app take it as their
default.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import DataError, InputError
from ...types import Task

#: Window settings when neither the command line nor the model's training record gives them:
#: serving's defaults.
DEFAULT_WINDOWS = {"max_seq_len": 384, "doc_stride": 128, "answer_windows_only": False}


def _windows(args, meta: dict) -> dict:
    """The command line's window settings, else the model's training run's, else serving's."""
    trained = (meta.get("training") or {}).get("params") or {}
    given = {
        "max_seq_len": args.max_seq_len,
        "doc_stride": args.doc_stride,
        "answer_windows_only": True if args.answer_windows_only else None,
    }
    return {
        k: given[k] if given[k] is not None else trained.get(k, DEFAULT_WINDOWS[k])
        for k in DEFAULT_WINDOWS
    }


def cmd_answer_length(args) -> None:
    from ...model_dir import META_FILE, load_model_dir, write_meta
    from ...qa import QAOptions
    from ...tokenization import load_tokenizer
    from .data import ANSWER_LEN_COVERAGE, answer_length_limit, load_training_examples, qa_features

    md = load_model_dir(args.model)
    if md.task is not Task.QA:
        raise InputError(f"{md.path} is a {md.task.value} model; answer lengths are for QA.")
    meta_path = md.path / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    win = _windows(args, meta)
    examples = load_training_examples(
        Task.QA,
        tuple(Path(d) for d in args.data),
        args.holdout,
        "train",
        None,
        tuple(args.exclude_title or ()),
    )
    tok = load_tokenizer(md.path)
    feats = qa_features(
        tok, examples, win["max_seq_len"], win["doc_stride"], win["answer_windows_only"]
    )
    limit = answer_length_limit(feats)
    if limit is None:
        raise DataError(f"{', '.join(args.data)}: no answers to measure.")
    QAOptions(max_answer_len=limit)  # within serving's bounds
    answers = sum(f.labels[0] > 0 for f in feats)
    print(
        f"{limit} tokens: what {ANSWER_LEN_COVERAGE:.0%} of {answers} training answers need "
        f"(windows of {win['max_seq_len']}, stride {win['doc_stride']}"
        + (", answer windows only)" if win["answer_windows_only"] else ")")
    )
    if args.write:
        write_meta(md.path, max_answer_len=limit)
        print(f"written to {meta_path} (was {md.max_answer_len})")


def add_subcommands(sub) -> None:
    p = sub.add_parser(
        "answer-length",
        help="the answer-length limit a QA model's training answers imply (as `train qa` sets it)",
    )
    p.add_argument("model", help="QA model directory")
    p.add_argument("--data", required=True, action="append", help="its training data; repeatable")
    p.add_argument("--exclude-title", action="append", help="articles training left out")
    p.add_argument("--holdout", type=float, help="the --holdout PCT training used (train side)")
    p.add_argument("--max-seq-len", type=int, help="default: the model's training run's, or 384")
    p.add_argument("--doc-stride", type=int, help="default: the model's training run's, or 128")
    p.add_argument(
        "--answer-windows-only",
        action="store_true",
        help="default: as the model's training run did",
    )
    p.add_argument("--write", action="store_true", help="store it in the model's qa_demo.json")
    p.set_defaults(func=cmd_answer_length)
