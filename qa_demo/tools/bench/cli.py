"""``qa-demo bench``: the same questions, contexts and weights through several QA engines.

Stages: build or load the weights (``weights.prepare``) -> make the engines
(``engines.make_engines``) -> interleaved rounds (``measure.measure``) -> report
(``report``: Markdown, JSON, PNG). Engines run one after another in each round, in a rotating
order, so a slow spell on a shared machine hits every engine alike; speed-ups against the
transformers pipeline are computed per round, then the median is taken.

torch, transformers and onnxruntime are imported lazily: the bench is a development tool
(``pip install qa-demo[bench]``), never on the serving path.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from ...errors import InputError
from ...qa import QAInput
from .config import ARCHS, DEFAULT_WORK_DIR, ENGINES, REFERENCE, BenchConfig
from .engines import BenchEngine, OursEngine, kernel_summary, make_engines, window_feed
from .measure import Sample, bound_ratios, ceiling, flops_per_window, machine_info, measure
from .report import BenchReport, chart, check_answers, markdown, summarize
from .startup import measure_startup
from .weights import Prepared, prepare


def run(cfg: BenchConfig, log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)):
    """The whole bench; writes bench.json and bench.png under ``cfg.out_dir``."""
    prep = prepare(cfg, log)
    engines, skipped = make_engines(cfg, prep, log)
    if not engines:
        raise InputError("No engine can run here: " + "; ".join(skipped.values()))
    log(f"Engines: {', '.join(e.name for e in engines)}; {len(prep.cases)} cases; "
        f"{cfg.repeat} rounds")
    samples, window = measure(engines, prep.cases, window_feed(prep), cfg.repeat,
                              cfg.n_threads, log)
    report = build_report(cfg, prep, engines, skipped, samples, window)
    if cfg.startup:
        report.startup = measure_startup(cfg, prep, log)
    write_outputs(report, cfg.out_dir)
    return report


def build_report(cfg: BenchConfig, prep: Prepared, engines: list[BenchEngine],
                 skipped: dict[str, str], samples: list[Sample],
                 window: dict[str, list[float]]) -> BenchReport:
    names = [e.name for e in engines]
    # transformers' Japanese tokenizer is a slow one; its pipeline then widens answers to
    # whitespace-separated words, i.e. whole sentences: our FP32 engines are checked against
    # each other, and the pipeline's answers are listed as a known difference.
    reference = REFERENCE if cfg.lang == "en" else "ov-fp32"
    disagreements, agreement = check_answers(prep.cases, samples, reference)
    known = [d for d in disagreements if f": {REFERENCE} " in d] if cfg.lang == "ja" else []
    flops = flops_per_window(prep.params_non_embedding, prep.hidden_size, prep.layers)
    peak = statistics.median(window["sgemm"])
    case_windows = _case_windows(engines, prep.cases)
    case_flops = [sum(flops_per_window(prep.params_non_embedding, prep.hidden_size,
                                       prep.layers, len(w)) for w in ws) for ws in case_windows]
    return BenchReport(
        config={"arch": cfg.arch, "model": str(cfg.model) if cfg.model else None,
                "lang": cfg.lang, "contexts": cfg.contexts, "repeat": cfg.repeat,
                "threads": cfg.n_threads, "engines": names},
        machine=machine_info(cfg.n_threads),
        engines=summarize(names, prep.cases, samples, window),
        skipped=skipped,
        disagreements=[d for d in disagreements if d not in known],
        known_differences=known,
        int8_agreement=agreement,
        flops_per_window=flops,
        sgemm_gflops=peak,
        bound_ms=flops / (peak * 1e9) * 1000,
        bound_ratio=bound_ratios(names, window, flops),
        cases=_case_rows(prep.cases, samples, names, case_windows),
        kernels={e.name: kernel_summary(e.qa.compiled) for e in engines
                 if isinstance(e, OursEngine) and e.name.startswith("ov-")},
        ceiling=(ceiling(prep.cases, case_flops, samples, window["sgemm"])
                 if case_flops and REFERENCE in names else {}),
    )


def _case_windows(engines: list[BenchEngine], cases) -> list[list]:
    """The windows our preprocessing builds for each case (none without one of ours)."""
    ours = next((e.qa for e in engines if isinstance(e, OursEngine)), None)
    if ours is None:
        return []
    return [ours.preprocess(QAInput(c.question, c.context), ours.options).windows
            for c in cases]


def _case_rows(cases, samples: list[Sample], names: list[str], case_windows) -> list[dict]:
    first = {(s.engine, s.case): s.answer for s in reversed(samples)}
    return [{"question": c.question, "chars": len(c.context), "length": c.length,
             **({"windows": [len(w) for w in case_windows[i]]} if case_windows else {}),
             "answers": {n: first[(n, i)].text for n in names}}
            for i, c in enumerate(cases)]


def write_outputs(report: BenchReport, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(
        json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    chart(report, out_dir / "bench.png")


# -- command line -----------------------------------------------------------------------------
def cmd_bench(args) -> None:
    engines = tuple(args.engines) if args.engines else ENGINES
    cfg = BenchConfig(
        arch=None if args.model else args.arch,
        model=Path(args.model) if args.model else None,
        lang=args.lang,
        contexts=args.contexts,
        engines=engines,
        repeat=args.repeat,
        threads=args.threads,
        work_dir=Path(args.work_dir),
        out_dir=Path(args.out),
        startup=args.startup,
    )
    report = run(cfg)
    print(markdown(report))
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))


def add_subcommands(sub) -> None:
    p = sub.add_parser("bench", help="compare QA engines on the same weights and texts")
    p.add_argument("--model", help="transformers QA checkpoint directory (instead of --arch)")
    p.add_argument("--arch", default="distilbert", choices=list(ARCHS),
                   help="random-weight model of this real size (default: distilbert)")
    p.add_argument("--lang", default="en", choices=["en", "ja"])
    p.add_argument("--contexts", default="both", choices=["short", "long", "both"])
    p.add_argument("--engines", nargs="+", choices=ENGINES, help="default: all")
    p.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--threads", type=int, default=0, help="threads per engine (default: all)")
    p.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="built models are kept here")
    p.add_argument("--out", default="bench-results", help="bench.json and bench.png go here")
    p.add_argument("--startup", action="store_true",
                   help="also measure compile, app start-up and peak memory")
    p.add_argument("--json", action="store_true", help="also print the JSON report")
    p.set_defaults(func=cmd_bench)
