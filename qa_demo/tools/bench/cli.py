"""``qa-demo bench``: the same questions, contexts and weights through several QA engines.

Stages: build or load the weights (``weights.prepare``) -> make the engines
(``engines.make_engines``) -> interleaved rounds (``measure.measure``) -> report
(``report``: Markdown, JSON, PNG). Engines run one after another in each round, in a rotating
order, so a slow spell on a shared machine hits every engine alike; speed-ups against the
transformers pipeline are computed per round, then the median is taken. Each engine's
model-only time is set against the FLOP bound of the precision it runs (``machine``).

torch, transformers and onnxruntime are imported lazily: the bench is a development tool
(``pip install qa-demo[bench]``), never on the serving path.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ...errors import InputError
from ...qa import QAInput
from .config import ARCHS, DEFAULT_WORK_DIR, ENGINES, REFERENCE, BenchConfig
from .contexts import BenchCase
from .engines import BenchEngine, OursEngine, kernel_summary, make_engines, window_feed
from .machine import isa_flags, machine_info, peak_ratio
from .measure import Measured, Sample, bound_ms, bound_ratios, ceiling, flops_per_window, measure
from .report import BenchReport, EngineSummary, chart, check_answers, markdown, summarize
from .startup import measure_startup
from .weights import BenchSetup, prepare


def run(cfg: BenchConfig, log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)):
    """The whole bench; writes bench.json and bench.png under ``cfg.out_dir``."""
    load = os.getloadavg()[0]
    prep = prepare(cfg, log)
    engines, skipped = make_engines(cfg, prep, log)
    if not engines:
        raise InputError("No engine can run here: " + "; ".join(skipped.values()))
    log(
        f"Engines: {', '.join(e.name for e in engines)}; {len(prep.cases)} cases; "
        f"{cfg.repeat} rounds; {cfg.n_threads} threads"
    )
    measured = measure(engines, prep.cases, window_feed(prep), cfg.repeat, cfg.n_threads, log)
    report = build_report(cfg, prep, engines, skipped, measured, load)
    if cfg.startup:
        report.startup = measure_startup(cfg, prep, log)
    write_outputs(report, cfg.out_dir)
    return report


def build_report(
    cfg: BenchConfig,
    prep: BenchSetup,
    engines: list[BenchEngine],
    skipped: dict[str, str],
    measured: Measured,
    load_at_start: float | None = None,
) -> BenchReport:
    names = [e.name for e in engines]
    flops = flops_per_window(prep.params_non_embedding, prep.hidden_size, prep.layers)
    disagreements, known, agreement = _answers(cfg, prep.cases, engines, measured.samples)
    ratios = bound_ratios(engines, measured, flops)
    rates = _rates(measured, flops)
    case_windows = _case_windows(engines, prep.cases)
    return BenchReport(
        config={
            "arch": cfg.arch,
            "model": str(cfg.model) if cfg.model else None,
            "lang": cfg.lang,
            "contexts": cfg.contexts,
            "repeat": cfg.repeat,
            "threads": cfg.n_threads,
            "engines": names,
        },
        machine=machine_info(cfg.n_threads, load_at_start),
        engines=_summaries(engines, prep.cases, measured, ratios),
        skipped=skipped,
        disagreements=disagreements,
        known_differences=known,
        agreement=agreement,
        flops_per_window=flops,
        sgemm_gflops=rates["f32"]["gflops"],
        bound_ms=rates["f32"]["bound_ms"],
        rates=rates,
        bound_ratio=ratios,
        cases=_case_rows(prep.cases, measured.samples, names, case_windows),
        auto_agreement=prep.agreement,
        auto_agreement_data=prep.agreement_data,
        kernels={e.name: k for e in engines if (k := kernel_summary(e)) is not None},
        ceiling=_ceilings(prep, case_windows, measured, names),
    )


def _answers(
    cfg: BenchConfig,
    cases: tuple[BenchCase, ...],
    engines: list[BenchEngine],
    samples: list[Sample],
) -> tuple[list[str], list[str], dict[str, float]]:
    """(disagreements, known differences, agreement rates of the bf16/int8 engines)."""
    # transformers' Japanese tokenizer is a slow one; its pipeline then widens answers to
    # whitespace-separated words, i.e. whole sentences: our FP32 engines are checked against
    # each other, and the pipeline's answers are listed as a known difference.
    reference = REFERENCE if cfg.lang == "en" else "ov-fp32"
    approximate = {e.name for e in engines if not e.exact}
    disagreements, agreement = check_answers(cases, samples, reference, approximate)
    known = [d for d in disagreements if f": {REFERENCE} " in d] if cfg.lang == "ja" else []
    return [d for d in disagreements if d not in known], known, agreement


def _summaries(
    engines: list[BenchEngine],
    cases: tuple[BenchCase, ...],
    measured: Measured,
    ratios: dict[str, float],
) -> list[EngineSummary]:
    rows = summarize([e.name for e in engines], cases, measured.samples, measured.window)
    return [
        replace(
            row,
            runtime=e.runtime,
            executed_precision=e.executed_precision,
            bound=e.bound,
            bound_ratio=ratios[e.name],
            note=e.note,
        )
        for row, e in zip(rows, engines, strict=True)
    ]


def _rates(measured: Measured, flops: float) -> dict[str, dict]:
    """Per precision: median rate, where it came from, its ratio to f32 and its bound."""
    isa = isa_flags()
    out = {}
    for precision, per_round in measured.rates.items():
        gflops = statistics.median(per_round)
        vs_f32 = statistics.median(
            g / f for g, f in zip(per_round, measured.rates["f32"], strict=True)
        )
        peak, why = peak_ratio(precision, isa)
        out[precision] = {
            "gflops": gflops,
            "per_round": per_round,
            "source": measured.rate_sources[precision],
            "vs_f32": vs_f32,
            "isa_peak_vs_f32": peak,
            "isa_reason": why,
            "bound_ms": bound_ms(flops, gflops),
        }
    return out


def _ceilings(
    prep: BenchSetup, case_windows: list[list], measured: Measured, names: list[str]
) -> dict[str, dict[str, float]]:
    """Per precision measured: the reference's time / the bound of the windows it runs."""
    if not case_windows or REFERENCE not in names:
        return {}
    case_flops = [
        sum(
            flops_per_window(prep.params_non_embedding, prep.hidden_size, prep.layers, len(w))
            for w in ws
        )
        for ws in case_windows
    ]
    return {
        precision: ceiling(prep.cases, case_flops, measured.samples, per_round)
        for precision, per_round in measured.rates.items()
    }


def _case_windows(engines: list[BenchEngine], cases: tuple[BenchCase, ...]) -> list[list]:
    """The windows our preprocessing builds for each case (none without one of ours)."""
    ours = next((e.qa for e in engines if isinstance(e, OursEngine)), None)
    if ours is None:
        return []
    return [ours.preprocess(QAInput(c.question, c.context), ours.options).windows for c in cases]


def _case_rows(
    cases: tuple[BenchCase, ...], samples: list[Sample], names: list[str], case_windows: list[list]
) -> list[dict]:
    first = {(s.engine, s.case): s.answer for s in reversed(samples)}
    return [
        {
            "question": c.question,
            "chars": len(c.context),
            "length": c.length,
            **({"windows": [len(w) for w in case_windows[i]]} if case_windows else {}),
            "answers": {n: first[(n, i)].text for n in names},
        }
        for i, c in enumerate(cases)
    ]


def write_outputs(report: BenchReport, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(
        json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
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
    p.add_argument(
        "--arch",
        default="distilbert",
        choices=list(ARCHS),
        help="random-weight model of this real size (default: distilbert)",
    )
    p.add_argument(
        "--language",
        "--lang",
        dest="lang",
        default="en",
        choices=["en", "ja"],
        help="contexts and vocabulary (--lang is the old spelling)",
    )
    p.add_argument("--contexts", default="both", choices=["short", "long", "both"])
    p.add_argument("--engines", nargs="+", choices=ENGINES, help="default: all")
    p.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--threads", type=int, default=0, help="threads per engine (default: all)")
    p.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="built models are kept here")
    p.add_argument("--out", default="bench-results", help="bench.json and bench.png go here")
    p.add_argument(
        "--startup", action="store_true", help="also measure compile, app start-up and peak memory"
    )
    p.add_argument("--json", action="store_true", help="also print the JSON report")
    p.set_defaults(func=cmd_bench)
