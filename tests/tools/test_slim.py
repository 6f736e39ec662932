"""tools/slim.py, `qa-demo slim`: a copy of a model directory with only the kept IRs and the
metadata about them, swapped in whole."""

from __future__ import annotations

import json

from qa_demo.cli import main
from qa_demo.model_dir import load_model_dir
from qa_demo.options import Precision


def test_slim_keeps_only_the_named_ir_and_its_metadata(en_qa_dir, tmp_path, capsys):
    meta = json.loads((en_qa_dir / "qa_demo.json").read_text(encoding="utf-8"))
    assert {"FP32", "INT8-weights", "INT8-static"} <= set(meta["precisions"])
    out = tmp_path / "models" / "en-qa"
    keep = ["--keep", "INT8-weights", "--description", "Small demo model (F1 1.0)."]
    assert main(["slim", str(en_qa_dir), "--out", str(out), *keep]) == 0
    assert "Wrote" in capsys.readouterr().out
    files = {p.name for p in out.iterdir()}
    assert {"openvino_model_int8.xml", "openvino_model_int8.bin"} <= files
    assert not {"openvino_model.xml", "openvino_model_int8_static.xml"} & files
    slim = json.loads((out / "qa_demo.json").read_text(encoding="utf-8"))
    assert slim["precisions"] == ["INT8-weights"] and slim["int8_routes"] == ["weights"]
    assert slim["description"] == "Small demo model (F1 1.0)."
    # Agreement and parity of routes that are gone (BF16 runs the FP32 IR) are gone too.
    assert set(slim["agreement"]) <= {"INT8-weights"}
    assert set(slim["parity_max_abs_diff"]) == {"INT8-weights"}
    model = load_model_dir(out)
    assert not model.has_ir(Precision.FP32) and model.reference_precision is Precision.INT8
    assert not list(out.parent.glob(".*"))  # nothing half-written left beside it


def test_slim_refuses_a_precision_the_directory_lacks(en_qa_dir, tmp_path, capsys):
    once = tmp_path / "once"
    assert main(["slim", str(en_qa_dir), "--out", str(once), "--keep", "INT8-weights"]) == 0
    capsys.readouterr()
    assert main(["slim", str(once), "--out", str(tmp_path / "x"), "--keep", "FP32"]) == 2
    assert "cannot keep ['FP32']; it has: INT8-weights" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["slim", str(once), "--out", str(once), "--keep", "INT8-weights"]) == 2
    assert "--out must differ" in capsys.readouterr().err
