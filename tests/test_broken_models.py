"""A broken model or environment gives a specific message; the other models keep working."""

from __future__ import annotations

import json
import os
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


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_read_only_cache_runs_without_it_and_says_so(en_qa_dir, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o500)
    engine = Engine(cache_dir=cache)
    qa = QuestionAnswerer.load(en_qa_dir, engine=engine, precision="FP32")
    assert qa.ask("Who?", CONTEXT).best is not None
    assert any("not writable" in n for n in engine.notes)


def test_unwritable_cache_runs_without_it_and_says_so(en_qa_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    engine = Engine(cache_dir=blocker / "cache")
    qa = QuestionAnswerer.load(en_qa_dir, engine=engine, precision="FP32")
    assert qa.ask("Who?", CONTEXT).best is not None
    assert any("not writable" in n for n in engine.notes)


def test_corrupt_cache_is_rebuilt(en_qa_dir, tmp_path):
    cache = tmp_path / "cache"
    QuestionAnswerer.load(en_qa_dir, engine=Engine(cache_dir=cache), precision="FP32").warm_up()
    blobs = list(cache.rglob("*.blob"))
    assert blobs
    for blob in blobs:
        blob.write_bytes(b"\x00garbage" * 10)
    qa = QuestionAnswerer.load(en_qa_dir, engine=Engine(cache_dir=cache), precision="FP32")
    best = qa.ask("Who?", CONTEXT).best
    assert best.text == CONTEXT[best.start : best.end]
