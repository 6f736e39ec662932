"""pipeline.py: the stage contract (timed stages), loading a model for a task, a device and a
precision, and feeding only the inputs the graph has."""

import pytest

from conftest import JA_CONTEXTS, TIMING_KEYS
from qa_demo import DeviceError, EntityTagger, InputError, ModelLoadError, QuestionAnswerer


def test_timings_are_reported(ja_qa):
    t = ja_qa.ask("何？", JA_CONTEXTS[0]).timings
    assert t.segment > 0 and t.tokenize > 0 and t.infer > 0 and t.postprocess > 0
    assert t.total == pytest.approx(t.segment + t.tokenize + t.infer + t.postprocess)
    assert set(t.to_json()) == TIMING_KEYS


def test_unknown_device_and_precision(en_qa_dir, ja_qa_dir):
    with pytest.raises(DeviceError, match="Unknown device 'TPU'"):
        QuestionAnswerer.load(en_qa_dir, device="TPU")
    with pytest.raises(ModelLoadError, match="has no INT8 model"):
        QuestionAnswerer.load(ja_qa_dir, precision="INT8")
    with pytest.raises(ModelLoadError, match="does not exist"):
        QuestionAnswerer.load(en_qa_dir / "missing")


def test_wrong_task_is_refused(en_qa_dir):
    with pytest.raises(InputError, match="is a qa model; expected a ner model"):
        EntityTagger.load(en_qa_dir)


def test_model_without_token_type_ids(tmp_path, en_checkpoint):
    """DistilBERT has no token_type_ids input: feed only what the graph has."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForQuestionAnswering

    from qa_demo.tools.export import export

    tok = AutoTokenizer.from_pretrained(en_checkpoint)
    torch.manual_seed(0)
    model = DistilBertForQuestionAnswering(
        DistilBertConfig(vocab_size=tok.vocab_size, dim=32, n_layers=1, n_heads=2, hidden_dim=64)
    ).eval()
    export("tiny-distilbert", tmp_path / "m", "qa", model=model, tokenizer=tok, log=lambda m: None)
    qa = QuestionAnswerer.load(tmp_path / "m")
    assert "token_type_ids" not in qa.compiled.input_names
    context = "The bridge was built in 1843."
    best = qa.ask("When?", context).best
    assert best.text == context[best.start : best.end]
