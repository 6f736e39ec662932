"""Issue 20 in plain OpenVINO: one CACHE_DIR, one IR compiled f32 and then bf16.

    python docs/repro_ov_cache_bf16_nan.py [IR.xml]     (default: models/en-qa/openvino_model.xml)

On an AMX CPU (Sapphire Rapids and later; OpenVINO 2026.4.1) the bf16 line printed "71 of 71"
non-finite (or the process died of SIGSEGV); on AVX2, AVX-512 VNNI and Zen 4 (AVX512_BF16) both
lines say 0. qa-demo keeps one cache directory per inference precision (runtime.cache_namespace).
"""

import sys
import tempfile

import numpy as np
import openvino as ov

xml = sys.argv[1] if len(sys.argv) > 1 else "models/en-qa/openvino_model.xml"
core = ov.Core()
cache = tempfile.mkdtemp()
ids = np.array([[101, *range(2000, 2069), 102]], dtype=np.int64)
values = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": 0 * ids}
for hint in ("f32", "bf16"):
    model = core.read_model(xml)
    feeds = {p.any_name: values[p.any_name] for p in model.inputs}
    props = {"CACHE_DIR": cache, "INFERENCE_PRECISION_HINT": hint}
    out = core.compile_model(model, "CPU", props).create_infer_request().infer(feeds)
    logits = np.concatenate([np.asarray(v).ravel() for v in out.values()])
    print(f"{hint}: {int((~np.isfinite(logits)).sum())} of {logits.size} logits non-finite")
