"""Reporting: per-engine summaries, answer checks, the Markdown tables and the chart."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ...types import Task
from ..agreement import TopAnswer, share_equal
from .config import REFERENCE, WINDOW_TOKENS
from .contexts import BenchCase
from .machine import ISA_FLAGS
from .measure import Sample


@dataclass(frozen=True)
class EngineSummary:
    engine: str
    short_ms: float | None  # median per question
    long_ms: float | None
    speedup_short: float | None  # median over rounds of reference time / engine time
    speedup_long: float | None
    window_ms: float | None  # model only, one 384-token window, batch 1
    overhead_pct: float | None  # tokenize + post-process, % of end to end
    note: str = ""
    runtime: str = ""  # "pytorch", "onnxruntime", "openvino": which library ran it
    executed_precision: str = ""  # read back from the runtime (Runner.executed_precision)
    bound: str = "f32"  # the precision whose GEMM rate bounds its model-only time
    bound_ratio: float | None = None  # model only / that bound, median of per-round ratios


@dataclass
class BenchReport:
    config: dict
    machine: dict
    engines: list[EngineSummary]
    skipped: dict[str, str]
    disagreements: list[str]
    known_differences: list[str]  # the Japanese pipeline's word widening, see cli.build_report
    #: Top-answer agreement with ov-fp32 (%) of the engines that do not execute f32.
    agreement: dict[str, float]
    flops_per_window: float
    sgemm_gflops: float  # the f32 rate (median over rounds)
    bound_ms: float  # the f32 bound of one window
    #: Per precision: {"gflops", "source" (measured, or the ISA peak ratio), "vs_f32",
    #: "isa_peak_vs_f32", "isa_reason", "bound_ms"}.
    rates: dict[str, dict]
    bound_ratio: dict[str, float]  # engine -> model-only time / the bound at its precision
    cases: list[dict]
    #: What Precision.AUTO went by: qa_demo.json's agreement table, written by export --int8.
    auto_agreement: dict[str, float] = field(default_factory=dict)
    auto_agreement_data: str = ""  # what that table rests on, or why there is none
    kernels: dict[str, dict[str, int]] = field(default_factory=dict)
    startup: dict = field(default_factory=dict)
    #: Per precision, per context length: the reference's end-to-end time / the FLOP bound of
    #: the (unpadded) windows it runs at that precision's GEMM rate; the largest speed-up an
    #: engine computing at that precision, with no overhead at all, could show. It bounds
    #: only the engines of that precision ("f32": FP32 engines only).
    ceiling: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        out["engines"] = [asdict(e) for e in self.engines]
        return out


def summarize(
    engines: list[str],
    cases: tuple[BenchCase, ...],
    samples: list[Sample],
    window: dict[str, list[float]],
) -> list[EngineSummary]:
    """Per engine: median ms per question, speed-ups (median of per-round ratios), model only."""
    out = []
    for name in engines:
        row: dict[str, float | None] = {}
        for length in ("short", "long"):
            ms = [
                s.total_ms for s in samples if s.engine == name and cases[s.case].length == length
            ]
            row[f"{length}_ms"] = statistics.median(ms) if ms else None
            mine = _per_round(samples, cases, name, length)
            ref = _per_round(samples, cases, REFERENCE, length)
            ratios = [ref[r] / mine[r] for r in mine if r in ref]
            row[f"speedup_{length}"] = statistics.median(ratios) if ratios else None
        over = [(s.overhead_ms, s.total_ms) for s in samples if s.engine == name and s.overhead_ms]
        pct = 100 * sum(o for o, _ in over) / sum(t for _, t in over) if over else None
        win = statistics.median(window[name]) if window.get(name) else None
        out.append(
            EngineSummary(
                name,
                row["short_ms"],
                row["long_ms"],
                row["speedup_short"],
                row["speedup_long"],
                win,
                pct,
            )
        )
    return out


def _per_round(
    samples: list[Sample], cases: tuple[BenchCase, ...], name: str, length: str
) -> dict[int, float]:
    totals: dict[int, float] = {}
    for s in samples:
        if s.engine == name and cases[s.case].length == length:
            totals[s.round] = totals.get(s.round, 0.0) + s.total_ms
    return totals


def check_answers(
    cases: tuple[BenchCase, ...],
    samples: list[Sample],
    reference: str = REFERENCE,
    approximate: set[str] | None = None,
) -> tuple[list[str], dict]:
    """Engines that execute f32 must agree with ``reference`` (and with themselves from round
    to round); the ``approximate`` ones (bf16, int8; default: names with "int8") get a rate of
    top answers equal to ov-fp32's."""
    first: dict[tuple[str, int], TopAnswer] = {}
    for s in samples:
        first.setdefault((s.engine, s.case), s.answer)
    names = sorted({e for e, _ in first})
    approximate = {n for n in names if "int8" in n} if approximate is None else approximate
    disagreements = []
    agreement: dict[str, float] = {}
    for name in names:
        if name in approximate:
            base = "ov-fp32" if "ov-fp32" in names else REFERENCE
            got = [first[(name, i)] for i in range(len(cases))]
            ref = [first.get((base, i)) for i in range(len(cases))]
            agreement[f"{name} vs {base}"] = 100.0 * share_equal(Task.QA, got, ref)
            continue
        ref = reference if reference in names else "ov-fp32"
        for i in range(len(cases)):
            a, b = first[(name, i)], first.get((ref, i))
            if b is not None and a != b:
                disagreements.append(f"case {i}: {name} {a} != {ref} {b}")
        for s in samples:  # an engine must also agree with itself between rounds
            if s.engine == name and s.answer != first[(name, s.case)]:
                disagreements.append(f"case {s.case}: {name} changed its answer in round {s.round}")
    return disagreements, agreement


# -- Markdown ---------------------------------------------------------------------------------
def _fmt(v: float | None, spec: str = ".0f", suffix: str = "") -> str:
    return "–" if v is None else f"{v:{spec}}{suffix}"


def markdown(report: BenchReport) -> str:
    return "\n".join(
        [
            *_engine_table(report),
            "",
            *_machine_table(report),
            "",
            *_bounds(report),
            *_checks(report),
            *(f"{k}: {v}" for k, v in report.startup.items()),
        ]
    )


def _engine_table(report: BenchReport) -> list[str]:
    lines = [
        "| engine | runtime | executed | short ms/question | long ms/question | speed-up short "
        "| speed-up long | model only ms/window | bound | model only / bound | tokenize+post % |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for e in report.engines:
        lines.append(
            f"| {e.engine} | {e.runtime} | {e.executed_precision} | {_fmt(e.short_ms)} | "
            f"{_fmt(e.long_ms)} | {_fmt(e.speedup_short, '.2f', 'x')} | "
            f"{_fmt(e.speedup_long, '.2f', 'x')} | {_fmt(e.window_ms)} | {e.bound} | "
            f"{_fmt(e.bound_ratio, '.2f', 'x')} | {_fmt(e.overhead_pct, '.1f')} |"
        )
    return lines


def _machine_table(report: BenchReport) -> list[str]:
    m = report.machine
    isa = m.get("isa") or {}
    return [
        "| CPU | threads (visible) | load at start | "
        + " | ".join(ISA_FLAGS)
        + " | OpenVINO OPTIMIZATION_CAPABILITIES |",
        "|---|---:|---:|" + "---|" * len(ISA_FLAGS) + "---|",
        f"| {m['cpu']} | {m['threads']} ({m['cpus_visible']}) | "
        f"{m['load_average_at_start']:.1f} | "
        + " | ".join("yes" if isa.get(f) else "no" for f in ISA_FLAGS)
        + f" | {', '.join(m.get('ov_capabilities') or [])} |",
    ]


def _bounds(report: BenchReport) -> list[str]:
    lines = [
        f"FLOP lower bounds per {WINDOW_TOKENS}-token window "
        f"({report.flops_per_window / 1e9:.1f} GFLOP), by precision (median rate over "
        "rounds):"
    ]
    for precision, r in report.rates.items():
        unit = "GOP/s" if precision == "int8" else "GFLOP/s"
        lines.append(
            f"- {precision}: {r['gflops']:.0f} {unit} ({r['source']}; {r['vs_f32']:.1f}x f32, "
            f"ISA peak {r['isa_peak_vs_f32']:g}x: {r['isa_reason']}) = {r['bound_ms']:.0f} ms"
        )
    lines.append(
        "Model only / bound: each engine against the bound of the precision it runs "
        "(the bound column)."
    )
    for precision, per_length in report.ceiling.items():
        engines = ", ".join(e.engine for e in report.engines if e.bound == precision)
        lines.append(
            f"Ceiling at {precision} (the reference's end-to-end time / the {precision} FLOP "
            "bound of the windows it runs; bounds only engines computing at "
            f"{precision}: {engines or 'none ran'}): "
            + ", ".join(f"{k} {v:.2f}x" for k, v in per_length.items())
            + "."
        )
    return lines


def _checks(report: BenchReport) -> list[str]:
    lines = [f"skipped {name}: {why}" for name, why in report.skipped.items()]
    lines += [e.engine + ": " + e.note for e in report.engines if e.note]
    table = ", ".join(f"{k} {v:.1%}" for k, v in report.auto_agreement.items())
    lines.append(
        f"Agreement with FP32 that AUTO went by: {table or 'none'} "
        f"({report.auto_agreement_data or 'nothing measured'})."
    )
    lines += [f"top-answer agreement {name}: {pct:.0f}%" for name, pct in report.agreement.items()]
    if report.config["lang"] == "ja":
        lines.append(
            "Japanese: FP32 engines are checked against ov-fp32; transformers' pipeline "
            "(slow BertJapaneseTokenizer) widens answers to whitespace-separated words."
        )
    if report.disagreements:
        lines.append("DISAGREEMENTS:")
        lines.extend(f"  {d}" for d in report.disagreements)
    else:
        lines.append("All FP32 engines gave the same top answers.")
    return lines


# -- chart ------------------------------------------------------------------------------------
def chart(report: BenchReport, path: Path) -> Path | None:
    """Bars: speed-up against the transformers pipeline, short and long contexts."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [e for e in report.engines if e.speedup_short or e.speedup_long]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    for off, attr, label in (
        (-0.2, "speedup_short", "short (500–1,000 chars)"),
        (0.2, "speedup_long", "long (4,000–5,000 chars)"),
    ):
        vals = [getattr(e, attr) or 0.0 for e in rows]
        bars = ax.bar(x + off, vals, 0.4, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(1.0, color="grey", lw=0.8)
    top = max([getattr(e, a) or 0.0 for e in rows for a in ("speedup_short", "speedup_long")])
    ax.set_ylim(0, top * 1.3)  # room for the legend above the bars
    ax.set_xticks(x, [e.engine for e in rows], rotation=20, fontsize=8)
    ax.set_ylabel("speed-up vs transformers pipeline")
    cfg = report.config
    threads = f"{cfg['threads']} thread{'s' if cfg['threads'] != 1 else ''}"
    isa = "+".join(f for f, on in (report.machine.get("isa") or {}).items() if on) or "?"
    ax.set_title(
        f"{cfg['arch'] or 'model'} ({cfg['lang']}), end to end, {threads}, {isa}; "
        "median of per-round ratios",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="upper left", ncols=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
