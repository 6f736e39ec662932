"""tools/bench/machine.py: peak ratios per ISA."""

from __future__ import annotations

import pytest

from qa_demo.tools.bench.machine import ISA_FLAGS, peak_ratio

pytest.importorskip("onnxruntime")


def test_peak_ratios_per_isa():
    none = dict.fromkeys(ISA_FLAGS, False)
    assert peak_ratio("int8", {**none, "avx2": True})[0] == 2.0
    assert peak_ratio("int8", {**none, "avx512f": True, "avx512_vnni": True})[0] == 4.0
    assert peak_ratio("bf16", {**none, "avx512f": True, "avx512_vnni": True})[0] == 1.0
    assert peak_ratio("bf16", {**none, "avx512_bf16": True})[0] == 2.0
    assert peak_ratio("int8", {**none, "amx_int8": True})[0] > 4.0
    assert peak_ratio("f32", none)[0] == 1.0
