"""tools/train/mlm_data.py: whole morphemes are masked together."""

from __future__ import annotations

import numpy as np

from qa_demo.tools.train.mlm_data import mask_batch


def test_mask_batch_masks_whole_morphemes():
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 100, size=(64, 40))
    words = np.tile(np.repeat(np.arange(20), 2), (64, 1))  # every morpheme has 2 pieces
    words[:, 0] = words[:, -1] = -1  # [CLS]/[SEP]
    inputs, chosen = mask_batch(ids, words, rng, mask_id=4, vocab_low=5, vocab_size=100, prob=0.15)
    assert not chosen[:, 0].any() and not chosen[:, -1].any()
    pairs = chosen[:, 2:-2].reshape(64, -1, 2)  # tokens 2-3, 4-5, ... share a morpheme
    assert (pairs[..., 0] == pairs[..., 1]).all()
    assert 0.08 < chosen.mean() < 0.22
    masked = inputs == 4
    assert masked[~chosen].sum() == 0 and 0.65 < masked[chosen].mean() < 0.95


def test_squad_holdout_leaves_out_the_held_out_articles_of_the_first_file(tmp_path):
    import json
    from pathlib import Path

    from qa_demo.tools.datasets import in_holdout
    from qa_demo.tools.train.config import PretrainConfig
    from qa_demo.tools.train.mlm_data import corpus_texts

    titles = [f"Article {i}" for i in range(40)]
    qas = [{"id": "q", "question": "What?", "answers": [{"text": "Article", "answer_start": 0}]}]
    data = [{"title": t, "paragraphs": [{"context": f"{t} text.", "qas": qas}]} for t in titles]
    squad = tmp_path / "en.json"
    squad.write_text(json.dumps({"version": "1.1", "data": data}), encoding="utf-8")
    cfg = PretrainConfig(out=Path(tmp_path / "x"), squad=(str(squad),), squad_holdout=20.0)
    kept = corpus_texts(cfg)
    assert kept == [f"{t} text." for t in titles if not in_holdout(t, 20)]
