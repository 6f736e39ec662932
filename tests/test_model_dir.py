"""model_dir.py: a model directory and its metadata; a broken one gives a specific message,
and the other models keep working."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa_demo import EntityTagger, ModelLoadError, QuestionAnswerer
from qa_demo.model_dir import discover_models, load_model_dir
from qa_demo.runtime import Engine

CONTEXT = "Ada Lovelace wrote the report in London."


def _copy(src: Path, root: Path, name: str) -> Path:
    out = root / name
    shutil.copytree(src, out)
    return out


def _edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_missing_bin_is_named(en_qa_dir, tmp_path):
    model = _copy(en_qa_dir, tmp_path, "m")
    (model / "openvino_model.bin").unlink()
    qa = QuestionAnswerer.load(model, engine=Engine(cache_dir=tmp_path / "c"), precision="FP32")
    with pytest.raises(ModelLoadError, match=r"openvino_model\.bin is missing"):
        qa.ask("Who?", CONTEXT)


def test_truncated_xml_is_named(en_qa_dir, tmp_path):
    model = _copy(en_qa_dir, tmp_path, "m")
    xml = model / "openvino_model.xml"
    xml.write_bytes(xml.read_bytes()[:500])
    qa = QuestionAnswerer.load(model, engine=Engine(cache_dir=tmp_path / "c"), precision="FP32")
    with pytest.raises(ModelLoadError, match="truncated or corrupt"):
        qa.ask("Who?", CONTEXT)


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("qa_demo.json", "{not json", "Cannot read"),
        ("qa_demo.json", '{"language": "fr"}', "unknown language 'fr'"),
        ("qa_demo.json", "[1, 2]", "expected a JSON object"),
        ("config.json", "", "Cannot read"),
    ],
)
def test_bad_metadata_is_refused_and_the_other_models_still_load(
    en_qa_dir, tmp_path, file, content, message
):
    good = _copy(en_qa_dir, tmp_path, "a-good")
    bad = _copy(en_qa_dir, tmp_path, "b-bad")
    (bad / file).write_text(content, encoding="utf-8")
    with pytest.raises(ModelLoadError, match=message):
        load_model_dir(bad)
    assert [m.path for m in discover_models(tmp_path)] == [good]


def test_labels_that_do_not_match_the_output_size(en_ner_dir, tmp_path):
    model = _copy(en_ner_dir, tmp_path, "m")
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    labels = {str(i): lab for i, lab in enumerate(["O", "B-PER", "I-PER"])}
    config.update(id2label=labels, label2id={v: int(k) for k, v in labels.items()})
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    tagger = EntityTagger.load(model, engine=Engine(cache_dir=tmp_path / "c"))
    with pytest.raises(ModelLoadError, match=r"outputs 7 classes but config\.json has 3 labels"):
        tagger.tag(CONTEXT)


def test_vocab_larger_than_the_embedding(en_qa_dir, tmp_path):
    model = _copy(en_qa_dir, tmp_path, "m")
    _edit_json(model / "config.json", vocab_size=10)
    with pytest.raises(ModelLoadError, match="embedding has 10 rows"):
        QuestionAnswerer.load(model)


def test_optimum_layout_without_our_metadata_loads(en_qa_dir, tmp_path):
    import shutil

    plain = tmp_path / "optimum_style"
    shutil.copytree(en_qa_dir, plain)
    (plain / "qa_demo.json").unlink()
    qa = QuestionAnswerer.load(plain)
    assert qa.model.task.value == "qa"
    assert qa.ask("Who?", "Ada wrote it.").best is not None


@pytest.mark.parametrize("bad", [0, -3, 2.5, "12", True])
def test_bad_max_answer_len_in_qa_demo_json_is_a_load_error(en_qa_dir, tmp_path, bad):
    own = tmp_path / "model"
    shutil.copytree(en_qa_dir, own)
    meta = json.loads((own / "qa_demo.json").read_text(encoding="utf-8"))
    meta["max_answer_len"] = bad
    (own / "qa_demo.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="'max_answer_len' must be a whole number >= 1"):
        load_model_dir(own)


def test_auto_goes_only_by_agreement_measured_on_enough_items(en_qa_dir, tmp_path):
    import json
    import shutil

    from qa_demo.model_dir import load_model_dir

    model = tmp_path / "m"
    shutil.copytree(en_qa_dir, model)
    meta_path = model / "qa_demo.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["agreement"] = {
        "INT8-weights": {"share": 1.0, "items": 12, "data": "tiny"},
        "BF16": {"share": 0.99, "items": 500, "data": "held-out"},
    }
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    assert load_model_dir(model).agreement == {"BF16": 0.99}
    meta["agreement"] = {"BF16": 0.99}  # not a measurement: refused with what was expected
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(Exception, match=r"agreement\['BF16'\] must be"):
        load_model_dir(model)


def test_a_bilingual_model_serves_each_of_its_languages(en_qa_dir, tmp_path):
    from qa_demo.types import Language

    own = _copy(en_qa_dir, tmp_path, "qa")
    _edit_json(own / "qa_demo.json", language="ja", languages=["ja", "en"])
    model = load_model_dir(own)
    assert model.languages == (Language.JA, Language.EN) and model.languages_label == "ja+en"
    assert model.serves(Language.EN) and model.language is Language.JA
    _edit_json(own / "qa_demo.json", languages=None)
    assert load_model_dir(own).languages == (Language.JA,)  # a one-language model


@pytest.mark.parametrize("bad", ["ja", ["ja", "fr"], 3])
def test_bad_languages_in_qa_demo_json_is_a_load_error(en_qa_dir, tmp_path, bad):
    own = _copy(en_qa_dir, tmp_path, "qa")
    _edit_json(own / "qa_demo.json", languages=bad)
    with pytest.raises(ModelLoadError, match="languages must be a list of ja/en"):
        load_model_dir(own)
