"""tools/quantize.py: `qa-demo quantize` adds INT8 IRs to an FP32-only model directory."""

import json

import pytest

from qa_demo import load_model_dir
from qa_demo.cli import main
from qa_demo.options import Int8Route


@pytest.mark.slow
def test_quantize_adds_int8_irs_to_an_fp32_directory(en_qa_dir, tmp_path, capsys):
    import shutil

    model = tmp_path / "m"
    shutil.copytree(en_qa_dir, model)
    for f in model.glob("openvino_model_int8*"):
        f.unlink()
    assert main(["quantize", str(model), "--int8-route", "static"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["agreement"]) >= {"INT8-static"}
    assert load_model_dir(model).int8_files == {
        Int8Route.STATIC: model / "openvino_model_int8_static.xml"
    }
    assert not list(model.glob(".*"))  # nothing half-written left behind
