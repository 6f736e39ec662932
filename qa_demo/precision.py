"""Which precision runs: pure choice logic, fed with what a device reports.

The fastest route depends on the CPU (measured, README Performance and DESIGN.md):

* AVX-512 VNNI, AVX-VNNI or AMX (int8 dot products): NNCF static INT8 is fastest, then the
  weight-only INT8, then BF16 where the CPU has it natively, then FP32.
* AVX2 only: static INT8 ran 0.64x FP32 (oneDNN falls back to jit_gemm_i8), weight-only INT8
  1.04x, BF16 runs as FP32: FP32 is the route.
* GPU: FP16 is native.
* FP16 on a CPU that lists it (Sapphire Rapids and later report FP16): left out of AUTO. An f16
  hint on a CPU without fp16 matmul kernels runs bf16 (AVX512_BF16, OpenVINO 2026.4.1: matmul
  primitives "undef_bf16"); on AMX the plugin reports f16, yet the scores matched FP32 to four
  digits (issue 20), and its kernels, speed and agreement are unmeasured. Explicit FP16 stays
  available, and ``kernels.executed_precision`` reports what its matmuls ran.

``AUTO`` takes the first route in that order that the device supports and whose agreement with
FP32 (top answers for QA, entities for NER) was measured at >= AGREEMENT_THRESHOLD for the model
(``qa_demo.json`` "agreement", written by export and train); otherwise FP32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DeviceError, ModelLoadError
from .options import Int8Route, Precision
from .types import precision_label

if TYPE_CHECKING:  # model_dir imports this module (MIN_AGREEMENT_ITEMS)
    from .model_dir import ModelDir

#: Agreement with FP32 that AUTO requires before it picks a faster precision.
AGREEMENT_THRESHOLD = 0.98
#: ... measured on at least this many questions or texts: on a dozen, 98% means nothing.
MIN_AGREEMENT_ITEMS = 100
#: CPU flags (/proc/cpuinfo) that give int8 dot-product instructions.
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
#: CPU flags that give native bf16 arithmetic (OpenVINO defaults to bf16 with these).
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: OpenVINO INFERENCE_PRECISION_HINT per floating-point precision.
INFERENCE_HINTS = {Precision.FP32: "f32", Precision.BF16: "bf16", Precision.FP16: "f16"}


@dataclass(frozen=True)
class DeviceCaps:
    """What a device offers: OPTIMIZATION_CAPABILITIES, plus int8 dot products on a CPU."""

    device: str
    capabilities: frozenset[str]
    int8_dot: bool = False
    name: str = ""

    @property
    def kind(self) -> str:
        return device_kind(self.device)

    def supports(self, precision: Precision) -> bool:
        if precision in (Precision.FP32, Precision.AUTO):
            return True
        return precision.value in self.capabilities

    def supported(self) -> list[Precision]:
        return [p for p in Precision if p is not Precision.AUTO and self.supports(p)]


@dataclass(frozen=True)
class Choice:
    """The precision a request runs at, the INT8 route if any, and why."""

    requested: Precision
    precision: Precision
    route: Int8Route | None = None
    reason: str = ""

    @property
    def key(self) -> str:
        """The name of this route in ``qa_demo.json``'s agreement table."""
        return agreement_key(self.precision, self.route)

    @property
    def chosen(self) -> str:
        """What runs: e.g. "INT8 (static)", "BF16"."""
        return self.precision.value + (f" ({self.route.value})" if self.route else "")

    @property
    def label(self) -> str:
        """E.g. "INT8 (static)", or "AUTO → BF16" when AUTO chose it."""
        return precision_label(self.requested.value, self.chosen)


def agreement_key(precision: Precision, route: Int8Route | None = None) -> str:
    return f"{precision.value}-{route.value}" if route else precision.value


def speed_order(caps: DeviceCaps) -> list[tuple[Precision, Int8Route | None]]:
    """Routes from fastest to slowest on this device (see the module docstring)."""
    if caps.kind == "CPU":
        order: list[tuple[Precision, Int8Route | None]] = []
        if caps.int8_dot and caps.supports(Precision.INT8):
            order += [(Precision.INT8, Int8Route.STATIC), (Precision.INT8, Int8Route.WEIGHTS)]
        if caps.supports(Precision.BF16):
            order.append((Precision.BF16, None))
        return [*order, (Precision.FP32, None)]
    order = []
    if caps.supports(Precision.INT8):
        order.append((Precision.INT8, Int8Route.STATIC))
    if caps.supports(Precision.FP16):
        order.append((Precision.FP16, None))
    return [*order, (Precision.FP32, None)]


def int8_route(caps: DeviceCaps, routes: set[Int8Route]) -> Int8Route:
    """The INT8 IR for this device: static where int8 dot products make it fast."""
    if not routes:
        raise ModelLoadError("The model has no INT8 model (export it with --int8).")
    if Int8Route.STATIC in routes and (caps.int8_dot or caps.kind != "CPU"):
        return Int8Route.STATIC
    return Int8Route.WEIGHTS if Int8Route.WEIGHTS in routes else Int8Route.STATIC


def unsupported_message(precision: Precision, caps: DeviceCaps) -> str:
    supported = ", ".join(p.value for p in caps.supported())
    return (
        f"{precision.value} is not supported on {caps.device}"
        f"{f' ({caps.name})' if caps.name else ''}; it supports {supported}."
    )


def choose(
    requested: Precision,
    caps: DeviceCaps,
    has_fp32: bool,
    int8_routes: set[Int8Route],
    agreement: dict[str, float] | None = None,
) -> Choice:
    """The route for ``requested`` on ``caps`` for a model with these IR files."""
    agreement = agreement or {}
    if requested is Precision.INT8:
        if not caps.supports(Precision.INT8):
            raise DeviceError(unsupported_message(requested, caps))
        return _int8(caps, int8_routes, agreement)
    if requested is not Precision.AUTO:
        if not caps.supports(requested):
            raise DeviceError(unsupported_message(requested, caps))
        if not has_fp32:
            raise ModelLoadError(f"{requested.value} runs the FP32 IR, which this model lacks.")
        return Choice(requested, requested, None, f"{requested.value} as asked")
    return _auto(caps, has_fp32, int8_routes, agreement)


def choose_for(model: ModelDir, caps: DeviceCaps, requested: Precision) -> Choice:
    """``choose`` for a model directory: its IRs and its measured agreement."""
    return choose(
        requested,
        caps,
        has_fp32=model.has_ir(Precision.FP32),
        int8_routes=set(model.int8_files),
        agreement=model.agreement,
    )


def _int8(caps: DeviceCaps, int8_routes: set[Int8Route], agreement: dict[str, float]) -> Choice:
    """INT8 as asked: the fast route, unless it missed the agreement bar where weight-only did
    better (static PTQ of en-qa: 94.1% against weight-only's 95.5%)."""
    route = int8_route(caps, int8_routes)
    static = agreement.get(agreement_key(Precision.INT8, Int8Route.STATIC))
    weights = agreement.get(agreement_key(Precision.INT8, Int8Route.WEIGHTS))
    if (
        route is Int8Route.STATIC
        and Int8Route.WEIGHTS in int8_routes
        and static is not None
        and weights is not None
        and static < AGREEMENT_THRESHOLD
        and weights > static
    ):
        return Choice(
            Precision.INT8,
            Precision.INT8,
            Int8Route.WEIGHTS,
            f"INT8 weights: {weights:.1%} agreement with FP32 against static's {static:.1%} "
            f"(< {AGREEMENT_THRESHOLD:.0%})",
        )
    why = "int8 dot products" if route is Int8Route.STATIC and caps.int8_dot else "the IR"
    return Choice(Precision.INT8, Precision.INT8, route, f"INT8 {route.value}: {why}")


def _auto(
    caps: DeviceCaps, has_fp32: bool, int8_routes: set[Int8Route], agreement: dict[str, float]
) -> Choice:
    if not has_fp32:  # an INT8-only model (a size budget): INT8 is all there is
        route = int8_route(caps, int8_routes)
        return Choice(Precision.AUTO, Precision.INT8, route, "the model ships only INT8")
    for precision, route in speed_order(caps):
        if precision is Precision.FP32:
            break
        if route is not None and route not in int8_routes:
            continue
        share = agreement.get(agreement_key(precision, route))
        if share is not None and share >= AGREEMENT_THRESHOLD:
            what = agreement_key(precision, route)
            return Choice(
                Precision.AUTO,
                precision,
                route,
                f"fastest on {caps.device} with {share:.1%} agreement with FP32 "
                f"(>= {AGREEMENT_THRESHOLD:.0%}) for {what}",
            )
    faster = [agreement_key(p, r) for p, r in speed_order(caps) if p is not Precision.FP32]
    why = (
        "no faster precision on this device"
        if not faster
        else f"no faster route ({', '.join(faster)}) measured >= {AGREEMENT_THRESHOLD:.0%} "
        "agreement for this model"
    )
    return Choice(Precision.AUTO, Precision.FP32, None, why)


def runs_as_chosen(chosen: Precision, executed: str) -> bool:
    """False where BF16 or FP16 was chosen but the compiled model runs another type (f32 on a
    device without bf16; bf16 for an f16 hint): measuring or scoring it would measure another
    precision under this one's name."""
    hint = INFERENCE_HINTS.get(chosen)
    return chosen not in (Precision.BF16, Precision.FP16) or executed == hint


def device_kind(device: str) -> str:
    """The plugin a device name belongs to: "GPU.1" -> "GPU", "HETERO:GPU,CPU" -> "HETERO"."""
    return device.strip().upper().split(":", 1)[0].split(".", 1)[0]


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's ISA flags (empty where /proc/cpuinfo is not readable)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def int8_dot_product(flags: frozenset[str]) -> bool:
    return any(f in flags for f in INT8_DOT_FLAGS)
