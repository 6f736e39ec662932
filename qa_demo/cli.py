"""The ``qa-demo`` command line. Errors are one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
from pathlib import Path

from .errors import InputError, QADemoError
from .options import Aggregation, Dictionary, Int8Route, Precision
from .windows import STATIC_BUCKETS

EXIT_USER_ERROR = 2
#: Modules with an ``add_subcommands(subparsers)`` function: serve, eval, train, bench.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "qa_demo.tools.evaluate_cli",
    "qa_demo.tools.train.cli",
    "qa_demo.tools.train.pretrain_cli",
    "qa_demo.tools.train.limit_cli",
    "qa_demo.tools.bench.cli",
    "qa_demo.app.serve",
    "qa_demo.tools.loadtest",
    "qa_demo.tools.model_server",
    "qa_demo.tools.export_serving",
    "qa_demo.tools.slim",
    "qa_demo.app.hub",
)


def _read_text(text: str | None, path: str | None, what: str) -> str:
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise QADemoError(f"Cannot read the {what} file {path}: {exc}") from exc
    return text or ""


def _print(obj: dict, as_json: bool, human: str) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False, indent=2))
    else:
        print(human)


def cmd_devices(args) -> None:
    """Each device with the precisions it offers, its fastest route, and the CPU's ISA."""
    from .precision import cpu_flags, speed_order
    from .runtime import Engine

    engine = Engine()
    devices = []
    for d in engine.devices():
        caps = engine.capabilities(d)
        devices.append(
            {
                "device": d,
                "name": engine.device_name(d),
                "precisions": [p.value for p in caps.supported()],
                "int8_dot_product": caps.int8_dot,
                "fastest_first": [
                    f"{p.value}-{r.value}" if r else p.value for p, r in speed_order(caps)
                ],
            }
        )
    isa = sorted(f for f in cpu_flags() if f.startswith(("avx", "amx")))
    human = "\n".join(
        f"{d['device']}\t{d['name']}\tprecisions {', '.join(d['precisions'])}"
        f"\tfastest first: {' > '.join(d['fastest_first'])}"
        for d in devices
    )
    _print({"devices": devices, "cpu_isa": isa}, args.json, human + f"\nCPU ISA: {' '.join(isa)}")


def cmd_tokenize(args) -> None:
    from .inputs import check_text
    from .model_dir import load_model_dir
    from .tokenization import load_tokenizer

    text = check_text(_read_text(args.text, args.text_file, "text"))
    try:
        tok = load_model_dir(args.model).tokenizer(args.dictionary)
    except QADemoError:
        tok = load_tokenizer(args.model, args.dictionary)  # tokenizer files alone are enough
    morphemes = tok.morphemes(text)
    if args.question is not None:
        check_text(args.question, "question")
        tokens = tok.pair_tokens(args.question, text)
    else:
        tokens = tok.single_tokens(text)
    out = {
        "language": tok.language.value,
        "tokenizer": tok.kind.value,
        "dictionary": tok.dictionary,
        "morphemes": [
            {"surface": m.surface, "pos": m.pos, "start": m.start, "end": m.end} for m in morphemes
        ],
        "tokens": [{"piece": t.piece, "id": t.id, "start": t.start, "end": t.end} for t in tokens],
    }
    human = " ".join(t.piece for t in tokens)
    _print(out, args.json, human)


def _engine_kwargs(args) -> dict:
    """Device, precision and shapes; with ``--onnx``, the ONNX Runtime backend instead of
    OpenVINO (the same pre- and post-processing: only the runtime differs)."""
    buckets = STATIC_BUCKETS if args.static_shapes else None
    kwargs = {"device": args.device, "precision": args.precision, "static_buckets": buckets}
    if args.onnx and args.remote:
        raise InputError("--onnx and --remote both choose the runtime; give one.")
    if args.onnx:
        from .ort import OrtEngine

        precision = Precision.parse(args.onnx_precision)
        kwargs |= {"engine": OrtEngine({precision: args.onnx}), "precision": precision}
    if args.remote:
        from .remote import RemoteBackend

        if args.timeout <= 0:
            raise InputError(f"--timeout must be positive, got {args.timeout}.")
        kwargs["engine"] = RemoteBackend(args.remote, args.remote_model, args.timeout)
    return kwargs


def cmd_ask(args) -> None:
    from .qa import QAOptions, QuestionAnswerer

    context = _read_text(args.context, args.context_file, "context")
    options = QAOptions(
        top_k=args.top_k,
        max_seq_len=args.max_seq_len,
        doc_stride=args.doc_stride,
        max_answer_len=args.max_answer_len,
        null_threshold=args.null_threshold,
    )
    qa = QuestionAnswerer.load(
        args.model, options=options, dictionary=args.dictionary, **_engine_kwargs(args)
    )
    result = qa.ask(args.question, context)
    lines = [f"{a.score:.4f}\t[{a.start}:{a.end}]\t{a.text}" for a in result.answers]
    lines.append(f"({result.timings.total:.1f} ms on {result.device}, {result.precision})")
    _print(result.to_json(), args.json, "\n".join(lines))


def cmd_ner(args) -> None:
    from .ner import EntityTagger, NEROptions

    text = _read_text(args.text, args.text_file, "text")
    tagger = EntityTagger.load(
        args.model,
        options=NEROptions(aggregation=args.aggregation),
        dictionary=args.dictionary,
        **_engine_kwargs(args),
    )
    result = tagger.tag(text)
    lines = [f"{e.label}\t[{e.start}:{e.end}]\t{e.text}\t{e.score:.3f}" for e in result.entities]
    _print(result.to_json(), args.json, "\n".join(lines) or "(no entities)")


def cmd_export(args) -> None:
    from .tools.export import DEFAULT_INT8_ROUTES, export

    both = args.int8_route == "both"
    routes = DEFAULT_INT8_ROUTES if both else (Int8Route.parse(args.int8_route),)
    # Progress from NNCF and transformers goes to stderr so stdout stays valid JSON.
    with contextlib.redirect_stdout(sys.stderr):
        report = export(
            args.src,
            args.out,
            args.task,
            int8=args.int8,
            int8_routes=routes,
            calibration=args.calibration,
            language=args.language,
            overwrite=args.overwrite,
        )
    print(
        json.dumps(
            {
                "out": str(report.out_dir),
                "precisions": list(report.precisions),
                "max_abs_diff": report.max_abs_diff,
            },
            indent=2,
        )
    )


def cmd_quantize(args) -> None:
    from .tools.export import DEFAULT_INT8_ROUTES
    from .tools.quantize import quantize_dir

    both = args.int8_route == "both"
    routes = DEFAULT_INT8_ROUTES if both else (Int8Route.parse(args.int8_route),)
    with contextlib.redirect_stdout(sys.stderr):
        agreement = quantize_dir(args.model, routes, args.calibration, holdout=args.holdout)
    print(json.dumps({"model": args.model, "agreement": agreement}, indent=2))


def _model_args(p: argparse.ArgumentParser, with_device: bool = True) -> None:
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument(
        "--dictionary",
        type=lambda v: Dictionary.parse(v).value,
        help=f"MeCab dictionary: {', '.join(Dictionary.choices())}",
    )
    if with_device:
        p.add_argument("--device", default="CPU", help="CPU, GPU, NPU, AUTO ...")
        p.add_argument(
            "--precision",
            default=Precision.AUTO.value,
            type=lambda v: Precision.parse(v).value,
            choices=Precision.choices(),
            help="AUTO (default): the fastest precision measured to agree with "
            "FP32 for this model on this device",
        )
        p.add_argument(
            "--onnx",
            help="run this ONNX file on ONNX Runtime instead of the directory's IR (the "
            "tokenizer and qa_demo.json still come from --model; needs the bench extra)",
        )
        p.add_argument(
            "--onnx-precision",
            default=Precision.FP32.value,
            choices=[Precision.FP32.value, Precision.INT8.value],
            help="what the --onnx file is: FP32, or INT8 (dynamically quantized)",
        )
        p.add_argument(
            "--remote",
            metavar="URL",
            help="run the model on this KServe v2 server (qa-demo model-server, OpenVINO Model "
            "Server, KServe, Triton); tokenizer and decoding stay local (needs the serve extra)",
        )
        p.add_argument(
            "--remote-model", help="the model's name on the server (default: --model's name)"
        )
        p.add_argument("--timeout", type=float, default=30.0, help="seconds a server call may take")
        p.add_argument(
            "--static-shapes",
            action="store_true",
            help="compile static shapes (128/256/384/512 tokens), as NPU needs; automatic on NPU",
        )
    p.add_argument("--json", action="store_true", help="print JSON")


def _text_args(p: argparse.ArgumentParser, name: str = "text") -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument(f"--{name}")
    g.add_argument(f"--{name}-file")


def _add_serving_commands(sub) -> None:
    p = sub.add_parser("devices", help="list OpenVINO devices, their precisions and routes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("tokenize", help="show morphemes and WordPiece tokens with offsets")
    _model_args(p, with_device=False)
    _text_args(p)
    p.add_argument("--question")
    p.set_defaults(func=cmd_tokenize)

    p = sub.add_parser("ask", help="answer a question about a context")
    _model_args(p)
    p.add_argument("--question", required=True)
    _text_args(p, "context")
    p.add_argument("--top-k", type=int, default=1)
    p.add_argument("--max-seq-len", type=int, default=384)
    p.add_argument("--doc-stride", type=int, default=128)
    p.add_argument(
        "--max-answer-len", type=int, help="longest answer in tokens (default: the model's own)"
    )
    p.add_argument("--null-threshold", type=float, default=None)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("ner", help="tag named entities")
    _model_args(p)
    _text_args(p)
    p.add_argument(
        "--aggregation",
        default=None,
        choices=Aggregation.choices(),
        help="how word pieces form words (default: the model's own, else simple)",
    )
    p.set_defaults(func=cmd_ner)


def _add_export_commands(sub) -> None:
    routes = ["both", *Int8Route.choices()]
    p = sub.add_parser("export", help="convert a Hugging Face checkpoint to OpenVINO IR")
    p.add_argument("src", help="local checkpoint directory or Hub id")
    p.add_argument("out", help="output model directory")
    p.add_argument("--task", required=True, choices=["qa", "ner"])
    p.add_argument(
        "--int8",
        action="store_true",
        help="also write NNCF INT8 models and measure their agreement with FP32",
    )
    p.add_argument(
        "--int8-route",
        choices=routes,
        default="both",
        help="static (post-training quantization: fastest with VNNI/AMX), weights "
        "(weight-only: the route for AVX2 CPUs) or both (default; the runtime picks)",
    )
    p.add_argument(
        "--calibration",
        help="SQuAD JSON or plain-text file for INT8 calibration (default: a small built-in set)",
    )
    p.add_argument("--language", choices=["ja", "en"])
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("quantize", help="add INT8 IRs to a model directory from its FP32 IR")
    p.add_argument("model", help="model directory with openvino_model.xml")
    p.add_argument("--int8-route", choices=routes, default="both")
    p.add_argument("--calibration", help="SQuAD JSON or plain-text file (default: built-in set)")
    p.add_argument(
        "--holdout",
        type=float,
        help="calibrate on the training side of `train --holdout PCT`'s split",
    )
    p.set_defaults(func=cmd_quantize)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa-demo", description="Japanese/English QA and NER on OpenVINO."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serving_commands(sub)
    _add_export_commands(sub)
    for name in SUBCOMMAND_MODULES:
        # Each module adds its own subcommands; its top-level imports are kept light so
        # `qa-demo --help` stays fast.
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # an optional part not shipped in this build
        module.add_subcommands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except QADemoError as exc:
        print(f"qa-demo: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
