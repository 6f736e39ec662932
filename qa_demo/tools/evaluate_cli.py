"""``qa-demo eval``: its arguments, and the scores of a model on QA or NER data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import InputError
from ..options import Aggregation, Int8Route, Precision
from ..precision import Choice
from .evaluate import (
    answer_agreement,
    data_language,
    evaluate_ner_examples,
    predict_qa_with,
    prediction_texts,
    write_predictions,
)
from .scoring import format_ner, format_qa, score_qa


def _select_split(items, holdout: float | None, part: str, key, limit: int | None) -> list:
    from itertools import islice

    from .datasets import split_examples

    try:
        return list(islice(split_examples(items, holdout, part, key), limit))
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _record(args, items: list, path: Path) -> None:
    """--record-agreement: measure on the data just scored, write it into qa_demo.json."""
    from .agreement import measure_agreement, record_agreement

    agreement = measure_agreement(args.model, items)
    part = f", {args.part} part of --holdout {args.holdout}" if args.holdout else ""
    record_agreement(args.model, agreement, len(items), f"{path.name}{part}")
    print(
        "agreement with FP32 recorded: " + ", ".join(f"{k} {v:.1%}" for k, v in agreement.items()),
        file=sys.stderr,
    )


def _precision(args):
    """--precision as given (default: the model's ``reference_precision``, so eval runs on
    every shipped model), or with --emulated a BF16 Choice that skips the device check."""
    if args.precision is None:
        from ..model_dir import load_model_dir

        args.precision = load_model_dir(args.model).reference_precision.value
    if getattr(args, "emulated", False):
        if Precision.parse(args.precision) is not Precision.BF16:
            raise InputError("--emulated goes with --precision BF16.")
        return Choice(Precision.BF16, Precision.BF16, None, "emulated where not native")
    return args.precision


def cmd_eval_qa(args) -> None:
    from .datasets import qa_group, read_squad, squad_version

    path = Path(args.data)
    version = squad_version(path)
    examples = _select_split(read_squad(path), args.holdout, args.part, qa_group, args.limit)
    options = {
        "max_seq_len": args.max_seq_len,
        "doc_stride": args.doc_stride,
        "max_answer_len": args.max_answer_len,
    }
    language = args.language or data_language(examples)
    run = (args.device, _precision(args), args.dictionary)
    preds = predict_qa_with(args.model, examples, True, options, *run, args.int8_route)
    out = Path(args.predictions) if args.predictions else None
    if out:
        write_predictions(out, preds)
    scores = score_qa(examples, prediction_texts(preds), version, language)
    if args.record_agreement:
        _record(args, [(ex.question, ex.context) for ex in examples], path)
    agreement = None
    if args.agreement_with and args.agreement_with != args.precision:
        reference = predict_qa_with(
            args.model, examples, True, options, args.device, args.agreement_with, args.dictionary
        )
        agreement = answer_agreement(preds, reference)
    _print_qa(args, path, scores, version, language, agreement, out)


def _print_qa(args, path, scores, version, language, agreement, out) -> None:
    if args.json:
        summary = scores.summary() | {"precision": args.precision}
        if agreement:
            summary[f"agreement_with_{args.agreement_with}"] = list(agreement)
        print(json.dumps(summary, indent=2))
        return
    kind = "JSQuAD-style (character F1)" if language == "ja" else f"SQuAD v{version}"
    print(f"{path.name}: {scores.total} questions, scored as {kind}")
    print(format_qa(scores))
    if agreement:
        same, total = agreement
        print(
            f"top answer identical to {args.agreement_with}: {same}/{total} "
            f"({100 * same / max(total, 1):.1f}%)"
        )
    if out:
        print(f"predictions: {out}")


def cmd_eval_ner(args) -> None:
    from .datasets import read_ner

    path = Path(args.data)
    examples = _select_split(read_ner(path), args.holdout, args.part, lambda e: e.group, args.limit)
    options = {"max_seq_len": args.max_seq_len, "aggregation": args.aggregation}
    scores = evaluate_ner_examples(
        args.model,
        examples,
        True,
        options,
        args.device,
        _precision(args),
        args.dictionary,
        args.int8_route,
    )
    if args.record_agreement:
        _record(args, [ex.text for ex in examples if ex.text.strip()], path)
    if args.json:
        summary = scores.summary() | {"precision": args.precision}
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    print(f"{path.name}: strict entity-level scores (exact span and type)")
    print(format_ner(scores))


def _data_arguments(q) -> None:
    q.add_argument("--model", required=True, help="model directory")
    q.add_argument("--data", required=True)
    q.add_argument("--limit", type=int, help="only the first N questions/sentences")
    q.add_argument(
        "--holdout", type=float, help="use the articles/pages `train --holdout PCT` held out"
    )
    q.add_argument(
        "--part",
        default="heldout",
        choices=["heldout", "train"],
        help="with --holdout: which side of the split",
    )
    q.add_argument("--dictionary", help="MeCab dictionary for Japanese models")
    q.add_argument("--json", action="store_true", help="print the scores as JSON")


def _precision_arguments(q) -> None:
    q.add_argument("--device", default="CPU")
    q.add_argument(
        "--precision",
        default=None,
        choices=Precision.choices(),
        type=lambda v: Precision.parse(v).value,
        help="FP32, BF16, FP16, INT8 or AUTO (default: FP32, which model cards quote, "
        "or INT8 for a model that ships only INT8); the precision run is printed",
    )
    q.add_argument(
        "--int8-route",
        choices=Int8Route.choices(),
        help="with --precision INT8: which INT8 IR (default: the one this CPU runs fastest)",
    )
    q.add_argument(
        "--emulated",
        action="store_true",
        help="with --precision BF16: run it even where the device does not list "
        "it (OpenVINO emulates bf16 on AVX-512), to score the numerics a "
        "native-bf16 CPU would give; the executed precision is checked",
    )
    q.add_argument(
        "--record-agreement",
        action="store_true",
        help="measure every faster route's agreement with FP32 on this data "
        "and record it in the model's qa_demo.json (what AUTO goes by)",
    )


def _qa_parser(tasks) -> None:
    q = tasks.add_parser("qa", help="SQuAD v1.1/v2.0 (nested or flat) or JSQuAD: EM and F1")
    _data_arguments(q)
    _precision_arguments(q)
    q.add_argument(
        "--predictions",
        default="predictions.json",
        help="write {qid: answer} here (official format); '' to skip",
    )
    q.add_argument("--language", choices=["en", "ja"], help="scoring rules (default: detected)")
    q.add_argument("--max-seq-len", type=int, default=384)
    q.add_argument("--doc-stride", type=int, default=128)
    q.add_argument(
        "--max-answer-len", type=int, help="longest answer in tokens (default: the model's own)"
    )
    q.add_argument(
        "--agreement-with",
        choices=Precision.choices(),
        help="also run this precision and count identical top answers "
        "(e.g. --precision INT8 --agreement-with FP32)",
    )
    q.set_defaults(func=cmd_eval_qa)


def _ner_parser(tasks) -> None:
    q = tasks.add_parser("ner", help="CoNLL or Stockmark JSON: entity precision, recall, F1")
    _data_arguments(q)
    _precision_arguments(q)
    q.add_argument("--max-seq-len", type=int, default=512)
    q.add_argument(
        "--aggregation",
        default=None,
        choices=Aggregation.choices(),
        help="how word pieces form words (default: the model's own, else simple)",
    )
    q.set_defaults(func=cmd_eval_ner)


def add_subcommands(sub) -> None:
    p = sub.add_parser("eval", help="score a model on QA or NER data")
    tasks = p.add_subparsers(dest="eval_task", required=True)
    _qa_parser(tasks)
    _ner_parser(tasks)
