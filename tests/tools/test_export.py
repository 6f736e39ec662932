"""tools/export.py: checkpoint -> IR (FP32, both INT8 routes) checked against PyTorch, the
built-in calibration set, offline Hub ids, and no half-written model left behind."""

import json

import pytest

from qa_demo import ModelLoadError, load_model_dir
from qa_demo.cli import main
from qa_demo.model_dir import discover_models
from qa_demo.options import Int8Route


@pytest.mark.slow
def test_export_cli_with_int8_and_calibration(capsys, en_checkpoint, tmp_path):
    calib = tmp_path / "calib.json"
    calib.write_text(
        json.dumps(
            {
                "version": "1.1",
                "data": [
                    {
                        "title": "t",
                        "paragraphs": [
                            {
                                "context": "The bridge was built in 1843 by the king.",
                                "qas": [
                                    {
                                        "id": "q1",
                                        "question": "When?",
                                        "answers": [{"text": "1843", "answer_start": 24}],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "model"
    code = main(
        [
            "export",
            str(en_checkpoint),
            str(out),
            "--task",
            "qa",
            "--int8",
            "--calibration",
            str(calib),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "FP32 IR vs PyTorch: max abs logit difference" in captured.err
    report = json.loads(captured.out)
    assert report["precisions"] == ["FP32", "INT8-static", "INT8-weights"]
    assert report["max_abs_diff"]["FP32"] < 1e-4
    # The layout optimum-intel writes (FP32 where it expects it), plus both INT8 routes.
    for name in (
        "openvino_model.xml",
        "openvino_model.bin",
        "openvino_model_int8.xml",
        "openvino_model_int8_static.xml",
        "config.json",
        "tokenizer.json",
        "qa_demo.json",
    ):
        assert (out / name).exists(), name
    model = load_model_dir(out)
    assert model.task.value == "qa" and set(model.precisions) == {"FP32", "INT8"}
    assert set(model.int8_files) == {Int8Route.STATIC, Int8Route.WEIGHTS}
    # Agreement with FP32 was measured on the calibration texts and recorded, with how many
    # items it rests on; one question is too few for AUTO to go by.
    table = json.loads((out / "qa_demo.json").read_text(encoding="utf-8"))["agreement"]
    assert {"INT8-static", "INT8-weights"} <= set(table)
    assert all(0.0 <= v["share"] <= 1.0 and v["items"] == 1 for v in table.values())
    assert model.agreement == {}
    assert [m.name for m in discover_models(tmp_path)] == ["model"]
    # A second export into the same directory needs --overwrite.
    code = main(["export", str(en_checkpoint), str(out), "--task", "qa"])
    assert code == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_offline_hub_id_fails_fast_with_instructions(monkeypatch):
    import qa_demo.tools.export as export_mod

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(export_mod, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(ModelLoadError, match="qa-demo export DIR OUT --task qa"):
        export_mod.load_checkpoint("someone/some-model", export_mod.Task.QA)


@pytest.mark.slow
def test_export_without_calibration_uses_the_built_in_set(en_checkpoint, tmp_path):
    from qa_demo.tools.export import export

    logs: list[str] = []
    export(
        "tiny",
        tmp_path / "m",
        "qa",
        int8=True,
        model=en_checkpoint_model(en_checkpoint)[0],
        tokenizer=en_checkpoint_model(en_checkpoint)[1],
        log=logs.append,
    )
    meta = json.loads((tmp_path / "m" / "qa_demo.json").read_text(encoding="utf-8"))
    assert "built-in calibration set" in meta["agreement"]["INT8-static"]["data"]
    assert any("agreement with FP32, INT8-static" in line for line in logs)


def test_interrupted_export_leaves_no_model_behind(en_checkpoint, tmp_path, monkeypatch):
    import qa_demo.tools.export as export_mod

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_mod, "max_abs_diff", boom)
    model, tok = en_checkpoint_model(en_checkpoint)
    with pytest.raises(RuntimeError, match="disk full"):
        export_mod.export(
            "tiny", tmp_path / "m", "qa", model=model, tokenizer=tok, log=lambda m: None
        )
    assert list(tmp_path.iterdir()) == []  # nothing half-written, not even a hidden staging dir
    assert discover_models(tmp_path) == []


def en_checkpoint_model(path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    return AutoModelForQuestionAnswering.from_pretrained(
        path
    ).eval(), AutoTokenizer.from_pretrained(path)
