"""kernels.py: what a compiled model executes, read back from it (matmul primitives, hint)."""

from __future__ import annotations

from qa_demo import QuestionAnswerer
from qa_demo.kernels import executed_precision
from qa_demo.options import Precision
from qa_demo.runtime import Engine


def test_executed_precision_is_read_back_from_the_compiled_model(en_qa_dir, tmp_path):
    engine = Engine(cache_dir=tmp_path)
    qa = QuestionAnswerer.load(en_qa_dir, engine=engine, precision="INT8")
    assert qa.compiled.executed_precision == executed_precision(qa.compiled.model)
    auto = QuestionAnswerer.load(en_qa_dir, engine=engine)
    assert auto.choice.requested is Precision.AUTO and auto.choice.reason


def test_executed_precision_names_the_matmuls_type_where_it_differs_from_the_hint():
    from qa_demo.kernels import _float_matmuls

    assert _float_matmuls({("undef_bf16", "bf16"): 37}, "bf16") == "bf16"
    assert _float_matmuls({("brgemm_avx512_amx_f32", "f32"): 3}, "f16") == "f32 matmuls (f16 asked)"
    # f16-compressed weights show as runtime precision f16; the primitive says f32 math ran.
    assert _float_matmuls({("undef_f32", "f16"): 37}, "f32") == "f32"
    assert _float_matmuls({("brgemm_avx512_amx", "bf16"): 3}, "bf16") == "bf16"
