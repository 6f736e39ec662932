"""precision.py: the precision and INT8 route a request runs, per device (CPU kinds, GPU)."""

from __future__ import annotations

import pytest

from qa_demo import DeviceError
from qa_demo.options import Int8Route, Precision
from qa_demo.precision import DeviceCaps, choose, speed_order

# The CPU kinds this project meets, as OpenVINO and /proc/cpuinfo describe them.
AVX2 = DeviceCaps("CPU", frozenset({"FP32", "INT8", "BIN", "EXPORT_IMPORT"}), int8_dot=False)
AVX512_VNNI = DeviceCaps("CPU", frozenset({"FP32", "INT8", "BIN"}), int8_dot=True)
AVX512_VNNI_BF16 = DeviceCaps("CPU", frozenset({"FP32", "BF16", "INT8", "BIN"}), int8_dot=True)
#: Sapphire Rapids and later (amx_int8, amx_bf16, avx512_fp16): OpenVINO 2026.4 lists FP16 too.
AMX = DeviceCaps("CPU", frozenset({"FP32", "BF16", "FP16", "INT8", "BIN"}), int8_dot=True)
CPU_KINDS = {"AVX2": AVX2, "AVX512_VNNI": AVX512_VNNI, "BF16": AVX512_VNNI_BF16, "AMX": AMX}
GPU = DeviceCaps("GPU", frozenset({"FP32", "FP16", "INT8"}), int8_dot=True)
BOTH = {Int8Route.STATIC, Int8Route.WEIGHTS}
AGREED = {"BF16": 0.999, "INT8-static": 0.99, "INT8-weights": 0.995}


def test_fastest_route_first_on_each_cpu_kind():
    assert speed_order(AVX2) == [(Precision.FP32, None)]
    assert speed_order(AVX512_VNNI_BF16) == [
        (Precision.INT8, Int8Route.STATIC),
        (Precision.INT8, Int8Route.WEIGHTS),
        (Precision.BF16, None),
        (Precision.FP32, None),
    ]
    assert speed_order(GPU)[:2] == [(Precision.INT8, Int8Route.STATIC), (Precision.FP16, None)]


#: What each kind runs, for a model with every IR and every route agreeing >= 98%, and with only
#: BF16 and FP16 agreeing (INT8 below the bar).
AUTO_PER_KIND = {
    "AVX2": ((Precision.FP32, None), (Precision.FP32, None)),
    "AVX512_VNNI": ((Precision.INT8, Int8Route.STATIC), (Precision.FP32, None)),
    "BF16": ((Precision.INT8, Int8Route.STATIC), (Precision.BF16, None)),
    "AMX": ((Precision.INT8, Int8Route.STATIC), (Precision.BF16, None)),
}


@pytest.mark.parametrize("kind", CPU_KINDS)
def test_auto_on_each_cpu_kind(kind):
    caps = CPU_KINDS[kind]
    everything, floats_only = AUTO_PER_KIND[kind]
    agreed = {**AGREED, "FP16": 0.999}
    pick = choose(Precision.AUTO, caps, True, BOTH, agreed)
    assert (pick.precision, pick.route) == everything
    low_int8 = {**agreed, "INT8-static": 0.9, "INT8-weights": 0.9}
    pick = choose(Precision.AUTO, caps, True, BOTH, low_int8)
    assert (pick.precision, pick.route) == floats_only


@pytest.mark.parametrize("kind", CPU_KINDS)
def test_explicit_precisions_on_each_cpu_kind(kind):
    caps = CPU_KINDS[kind]
    for precision in (Precision.BF16, Precision.FP16):
        if caps.supports(precision):
            assert choose(precision, caps, True, BOTH).precision is precision
        else:
            with pytest.raises(DeviceError, match=f"{precision.value} is not supported"):
                choose(precision, caps, True, BOTH)
    int8 = choose(Precision.INT8, caps, True, BOTH)
    assert int8.route is (Int8Route.STATIC if caps.int8_dot else Int8Route.WEIGHTS)
    only_int8 = choose(Precision.AUTO, caps, False, BOTH)
    assert only_int8.precision is Precision.INT8 and only_int8.route is int8.route


def test_fp16_is_left_out_of_auto_on_cpus():
    # Not measured on a CPU with fp16 kernels (see precision.speed_order): AUTO never picks it
    # there, even with FP16 measured to agree, while explicit FP16 stays available.
    assert all(p is not Precision.FP16 for p, _ in speed_order(AMX))
    pick = choose(Precision.AUTO, AMX, True, set(), {"FP16": 1.0})
    assert pick.precision is Precision.FP32


def test_auto_picks_static_int8_only_where_vnni_makes_it_fast():
    vnni = choose(Precision.AUTO, AVX512_VNNI_BF16, True, BOTH, AGREED)
    assert (vnni.precision, vnni.route) == (Precision.INT8, Int8Route.STATIC)
    assert "99.0%" in vnni.reason and vnni.label == "AUTO → INT8 (static)"
    avx2 = choose(Precision.AUTO, AVX2, True, BOTH, AGREED)
    assert avx2.precision is Precision.FP32 and "no faster precision" in avx2.reason


def test_auto_skips_a_route_whose_agreement_is_below_98_percent():
    agreed = {"INT8-static": 0.95, "INT8-weights": 0.985, "BF16": 0.999}
    pick = choose(Precision.AUTO, AVX512_VNNI_BF16, True, BOTH, agreed)
    assert (pick.precision, pick.route) == (Precision.INT8, Int8Route.WEIGHTS)
    pick = choose(Precision.AUTO, AVX512_VNNI_BF16, True, BOTH, {"BF16": 0.999})
    assert pick.precision is Precision.BF16
    unmeasured = choose(Precision.AUTO, AVX512_VNNI_BF16, True, BOTH, {})
    assert unmeasured.precision is Precision.FP32 and "98%" in unmeasured.reason


def test_auto_on_an_int8_only_model_runs_int8():
    pick = choose(Precision.AUTO, AVX2, False, {Int8Route.WEIGHTS}, {})
    assert (pick.precision, pick.route) == (Precision.INT8, Int8Route.WEIGHTS)


def test_int8_runs_static_with_vnni_and_weight_only_without():
    assert choose(Precision.INT8, AVX512_VNNI, True, BOTH).route is Int8Route.STATIC
    assert choose(Precision.INT8, AVX2, True, BOTH).route is Int8Route.WEIGHTS
    assert choose(Precision.INT8, AVX2, True, {Int8Route.STATIC}).route is Int8Route.STATIC


def test_explicit_int8_takes_weight_only_where_static_agrees_worse():
    """en-qa: static PTQ 94.1%, weight-only 95.5% agreement; INT8 ran static anyway."""
    en_qa = {"INT8-static": 0.941, "INT8-weights": 0.955}
    pick = choose(Precision.INT8, AVX512_VNNI, True, BOTH, en_qa)
    assert pick.route is Int8Route.WEIGHTS and "94.1%" in pick.reason
    # Static stays where it meets the bar, where weight-only is not better, or is not shipped.
    for agreed in (AGREED, {"INT8-static": 0.95, "INT8-weights": 0.94}, {"INT8-static": 0.9}):
        assert choose(Precision.INT8, AVX512_VNNI, True, BOTH, agreed).route is Int8Route.STATIC
    only_static = choose(Precision.INT8, AVX512_VNNI, True, {Int8Route.STATIC}, en_qa)
    assert only_static.route is Int8Route.STATIC


def test_bf16_counts_only_where_it_executes_bf16():
    """Agreement and eval refuse a "BF16" that the device ran as f32 (it would be FP32's)."""
    from qa_demo.precision import runs_as_chosen

    assert runs_as_chosen(Precision.BF16, "bf16")
    assert not runs_as_chosen(Precision.BF16, "f32")
    assert runs_as_chosen(Precision.INT8, "int8 matmuls, f32 rest")
    assert runs_as_chosen(Precision.FP32, "f32")
    assert runs_as_chosen(Precision.FP16, "f16")
    assert not runs_as_chosen(Precision.FP16, "bf16")
    assert not runs_as_chosen(Precision.FP16, "bf16 matmuls (f16 asked)")


def test_bf16_where_unsupported_is_one_line_naming_what_the_device_supports():
    with pytest.raises(DeviceError) as err:
        choose(Precision.BF16, AVX2, True, BOTH)
    assert str(err.value) == "BF16 is not supported on CPU; it supports FP32, INT8."
    assert choose(Precision.BF16, AVX512_VNNI_BF16, True, BOTH).precision is Precision.BF16
    assert choose(Precision.FP16, GPU, True, BOTH).precision is Precision.FP16
