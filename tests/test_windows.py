"""windows.py: windows of one length share an infer call, static shape buckets give the
dynamic answers, and a window longer than every bucket is refused."""

import numpy as np
import pytest

from conftest import JA_CONTEXTS
from qa_demo import InputError, QAOptions, QuestionAnswerer
from qa_demo.types import Window


def test_length_groups_and_static_buckets():
    from qa_demo.windows import batch, bucket_width, length_groups

    def win(n):
        ids = np.arange(n, dtype=np.int64)
        return Window(
            index=0,
            input_ids=ids,
            token_type_ids=ids * 0,
            attention_mask=ids * 0 + 1,
            offsets=(None,) * n,
            word_ids=(None,) * n,
            sequence_ids=(None,) * n,
            char_start=0,
            char_end=0,
        )

    windows = [win(8), win(8), win(5), win(8)]
    assert length_groups(windows) == [[0, 1, 3], [2]]
    assert bucket_width(5, (16, 8)) == 8 and bucket_width(9, (8, 16)) == 16
    with pytest.raises(InputError, match="static shapes"):
        bucket_width(17, (8, 16))
    padded = batch([windows[2]], pad_id=0, width=8)
    assert padded["input_ids"].shape == (1, 8) and padded["attention_mask"][0].sum() == 5
    with pytest.raises(ValueError):
        batch(windows, pad_id=0, width=4)


def _per_window_logits(qa, windows):
    """Reference: each window alone, unpadded, in its own call."""
    from qa_demo.windows import batch

    start, end = [], []
    for w in windows:
        out = qa.compiled.infer(batch([w], qa.tokenizer.pad_id))
        names = qa.compiled.output_names
        start.append(out[names[0]][0])
        end.append(out[names[-1]][0])
    return start, end


def test_windows_of_each_length_share_one_call_and_match_single_window_logits(ja_qa):
    from qa_demo.qa import QAInput

    prepared = ja_qa.preprocess(QAInput("区別する？", JA_CONTEXTS[3]), ja_qa.options)
    lengths = [len(w) for w in prepared.windows]
    assert len(set(lengths)) == 2  # full windows and a shorter last one
    start, end = ja_qa.infer(prepared)
    ref_start, ref_end = _per_window_logits(ja_qa, prepared.windows)
    for got, ref, n in zip(start + end, ref_start + ref_end, lengths + lengths, strict=True):
        assert got.shape == (n,)
        np.testing.assert_allclose(got, ref, atol=1e-5)


@pytest.mark.parametrize("context", [JA_CONTEXTS[0], JA_CONTEXTS[3]])
def test_static_shape_buckets_give_the_dynamic_answers(ja_qa_dir, ja_qa, context):
    static = QuestionAnswerer.load(ja_qa_dir, options=ja_qa.options, static_buckets=(64, 128))
    got = static.ask("何を区別する？", context)
    want = ja_qa.ask("何を区別する？", context)
    assert [(a.start, a.end) for a in got.answers] == [(a.start, a.end) for a in want.answers]
    for g, w in zip(got.start_logits, want.start_logits, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-4)
    shapes = {
        c.model.inputs[0].get_partial_shape().to_string() for c in static.engine.compiled_models()
    }
    assert shapes == {"[1,64]", "[1,128]"}  # warm_up compiled every bucket


def test_static_shapes_refuse_a_window_longer_than_every_bucket(ja_qa_dir):
    qa = QuestionAnswerer.load(
        ja_qa_dir, static_buckets=(16,), options=QAOptions(max_seq_len=64, doc_stride=16)
    )
    with pytest.raises(InputError, match="static shapes"):
        qa.ask("何？", JA_CONTEXTS[3])
