"""Reporting: per-engine summaries, answer checks, the Markdown table and the chart."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import REFERENCE, WINDOW_TOKENS
from .contexts import BenchCase
from .engines import TopAnswer
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


@dataclass
class BenchReport:
    config: dict
    machine: dict
    engines: list[EngineSummary]
    skipped: dict[str, str]
    disagreements: list[str]
    known_differences: list[str]  # the Japanese pipeline's word widening, see run()
    int8_agreement: dict[str, float]
    flops_per_window: float
    sgemm_gflops: float
    bound_ms: float
    bound_ratio: dict[str, float]  # model-only time / FLOP bound, median of per-round ratios
    cases: list[dict]
    kernels: dict[str, dict[str, int]] = field(default_factory=dict)
    startup: dict = field(default_factory=dict)
    #: Reference time / FLOP bound of the (unpadded) windows it runs, per context length: the
    #: largest speed-up any FP32 engine could show at the measured sgemm rate.
    ceiling: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        out["engines"] = [asdict(e) for e in self.engines]
        return out



def summarize(engines: list[str], cases: tuple[BenchCase, ...], samples: list[Sample],
              window: dict[str, list[float]]) -> list[EngineSummary]:
    def per_round(name: str, length: str) -> dict[int, float]:
        totals: dict[int, float] = {}
        for s in samples:
            if s.engine == name and cases[s.case].length == length:
                totals[s.round] = totals.get(s.round, 0.0) + s.total_ms
        return totals

    out = []
    for name in engines:
        row: dict[str, float | None] = {}
        for length in ("short", "long"):
            ms = [s.total_ms for s in samples
                  if s.engine == name and cases[s.case].length == length]
            row[f"{length}_ms"] = statistics.median(ms) if ms else None
            mine, ref = per_round(name, length), per_round(REFERENCE, length)
            ratios = [ref[r] / mine[r] for r in mine if r in ref]
            row[f"speedup_{length}"] = statistics.median(ratios) if ratios else None
        over = [(s.overhead_ms, s.total_ms) for s in samples if s.engine == name and s.overhead_ms]
        pct = 100 * sum(o for o, _ in over) / sum(t for _, t in over) if over else None
        win = statistics.median(window[name]) if window.get(name) else None
        out.append(EngineSummary(name, row["short_ms"], row["long_ms"], row["speedup_short"],
                                 row["speedup_long"], win, pct))
    return out


def check_answers(cases: tuple[BenchCase, ...], samples: list[Sample],
                  reference: str = REFERENCE) -> tuple[list[str], dict]:
    """FP32 engines must agree with ``reference``; INT8 agreement with ov-fp32 is a rate."""
    first: dict[tuple[str, int], TopAnswer] = {}
    for s in samples:
        first.setdefault((s.engine, s.case), s.answer)
    names = sorted({e for e, _ in first})
    disagreements = []
    agreement: dict[str, float] = {}
    for name in names:
        if "int8" in name:
            base = "ov-fp32" if "ov-fp32" in names else REFERENCE
            same = [first[(name, i)] == first.get((base, i)) for i in range(len(cases))]
            agreement[f"{name} vs {base}"] = 100.0 * sum(same) / len(same)
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



def _fmt(v: float | None, spec: str = ".0f", suffix: str = "") -> str:
    return "–" if v is None else f"{v:{spec}}{suffix}"


def markdown(report: BenchReport) -> str:
    lines = [
        "| engine | short ms/question | long ms/question | speed-up short | speed-up long "
        "| model only ms/window | tokenize+post % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e in report.engines:
        lines.append(
            f"| {e.engine} | {_fmt(e.short_ms)} | {_fmt(e.long_ms)} | "
            f"{_fmt(e.speedup_short, '.2f', 'x')} | {_fmt(e.speedup_long, '.2f', 'x')} | "
            f"{_fmt(e.window_ms)} | {_fmt(e.overhead_pct, '.1f')} |"
        )
    lines.append("")
    lines.append(
        f"FLOP lower bound: {report.flops_per_window / 1e9:.1f} GFLOP per {WINDOW_TOKENS}-token "
        f"window / sgemm peak {report.sgemm_gflops:.0f} GFLOP/s = {report.bound_ms:.0f} ms."
    )
    lines.append("Model only / bound (median of per-round ratios): " + ", ".join(
        f"{name} {ratio:.2f}x" for name, ratio in report.bound_ratio.items()) + ".")
    if report.ceiling:
        lines.append(
            "Ceiling: the reference's time / the FLOP bound of the windows it runs (unpadded): "
            + ", ".join(f"{k} {v:.2f}x" for k, v in report.ceiling.items())
            + "; no FP32 engine at the measured sgemm rate can be faster than this."
        )
    for name, why in report.skipped.items():
        lines.append(f"skipped {name}: {why}")
    for name, pct in report.int8_agreement.items():
        lines.append(f"top-answer agreement {name}: {pct:.0f}%")
    if report.config["lang"] == "ja":
        lines.append("Japanese: FP32 engines are checked against ov-fp32; transformers' pipeline "
                     "(slow BertJapaneseTokenizer) widens answers to whitespace-separated words.")
    if report.disagreements:
        lines.append("DISAGREEMENTS:")
        lines.extend(f"  {d}" for d in report.disagreements)
    else:
        lines.append("All FP32 engines gave the same top answers.")
    for key, value in report.startup.items():
        lines.append(f"{key}: {value}")
    m = report.machine
    lines.append(f"Machine: {m['cpu']}, {m['threads']} threads, ISA {'/'.join(m['isa'])}, "
                 f"load average at start {m['load_average_at_start']:.1f}.")
    return "\n".join(lines)


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
    for off, attr, label in ((-0.2, "speedup_short", "short (500–1,000 chars)"),
                             (0.2, "speedup_long", "long (4,000–5,000 chars)")):
        vals = [getattr(e, attr) or 0.0 for e in rows]
        bars = ax.bar(x + off, vals, 0.4, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(1.0, color="grey", lw=0.8)
    top = max([getattr(e, a) or 0.0 for e in rows for a in ("speedup_short", "speedup_long")])
    ax.set_ylim(0, top * 1.3)  # room for the legend above the bars
    ax.set_xticks(x, [e.engine for e in rows], rotation=20, fontsize=8)
    ax.set_ylabel("speed-up vs transformers pipeline")
    cfg = report.config
    ax.set_title(f"{cfg['arch'] or 'model'} ({cfg['lang']}), end to end, {cfg['threads']} "
                 "threads, median of per-round ratios", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", ncols=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

