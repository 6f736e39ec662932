"""tools/train/pretrain.py: `qa-demo pretrain`: whole-morpheme MLM on a tiny corpus,
stop/resume, Ctrl-C, a pretrained body, and `train --base` on its output."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa_demo.cli import main
from qa_demo.tools.datasets import in_holdout
from qa_demo.tools.train.config import PretrainConfig
from qa_demo.tools.train.mlm_data import corpus_texts
from qa_demo.tools.train.pretrain import pretrain

CONTEXTS = [
    (
        "東京",
        "東京都は日本の首都であり、多くの企業が本社を置いている。人口は約千四百万人である。",
        "日本の首都はどこ?",
        "東京都",
    ),
    (
        "大阪",
        "大阪府は西日本の中心で、商業の町として知られる。大阪城は豊臣秀吉が築いた。",
        "大阪城を築いたのは誰?",
        "豊臣秀吉",
    ),
    (
        "京都",
        "京都市には多くの寺院があり、毎年多くの観光客が訪れる。金閣寺は有名である。",
        "有名な寺はどれ?",
        "金閣寺",
    ),
    (
        "名古屋",
        "名古屋市は愛知県の県庁所在地で、自動車産業が盛んな地域の中心である。",
        "名古屋市はどこの県庁所在地?",
        "愛知県",
    ),
]
NER = [
    {
        "curid": str(i),
        "text": f"{name}は{place}で生まれた{i}人目の選手である。",
        "entities": [{"name": name, "span": [0, len(name)], "type": "人名"}],
    }
    for i, (name, place) in enumerate(
        [("山田太郎", "東京"), ("田中花子", "大阪"), ("佐藤次郎", "京都"), ("鈴木一郎", "札幌")] * 5
    )
]
TINY = dict(
    vocab_size=400,
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    intermediate_size=64,
    max_seq_len=32,
    batch_size=4,
    steps=6,
    lr=1e-3,
    save_every=2,
    log_every=2,
    threads=1,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("corpus")
    data = []
    for title, context, question, answer in CONTEXTS:
        qa = {
            "id": title,
            "question": question,
            "answers": [{"text": answer, "answer_start": context.index(answer)}],
        }
        data.append({"title": title, "paragraphs": [{"context": context, "qas": [qa]}]})
    squad = root / "squad.json"
    squad.write_text(
        json.dumps({"version": "1.1", "data": data}, ensure_ascii=False), encoding="utf-8"
    )
    ner = root / "ner.json"
    ner.write_text(json.dumps(NER, ensure_ascii=False), encoding="utf-8")
    return squad, ner


def config(corpus, out: Path, **kw) -> PretrainConfig:
    squad, ner = corpus
    return PretrainConfig(
        out=out, squad=(str(squad),), ner=(str(ner),), holdout=30, **{**TINY, **kw}
    )


def weights(out: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(out / "model.safetensors"))


def test_corpus_leaves_out_held_out_pages_and_excluded_titles(corpus, tmp_path):
    texts = corpus_texts(config(corpus, tmp_path / "x", exclude_titles=("京都",)))
    held = [item["text"] for item in NER if in_holdout(item["curid"], 30)]
    kept = [item["text"] for item in NER if not in_holdout(item["curid"], 30)]
    assert held and kept  # the 30% split puts pages on both sides
    assert not set(held) & set(texts) and set(kept) <= set(texts)
    assert not any("京都市" in t for t in texts) and any("東京都" in t for t in texts)


@pytest.mark.slow
def test_resumed_run_matches_an_uninterrupted_one(corpus, tmp_path, capsys):
    ref = tmp_path / "ref"
    full = pretrain(config(corpus, ref), log=lambda m: None)
    assert full["done"] and full["step"] == 6
    part = tmp_path / "part"
    first = pretrain(config(corpus, part, stop_at=3), log=lambda m: None)
    assert first["step"] == 3 and not first["done"]
    assert json.loads((part / "pretrain.json").read_text())["step"] == 3
    # Through the CLI: the stored config wins, progress goes to stderr.
    assert main(["pretrain", "--out", str(part), "--resume", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert "Resuming" in captured.err and "tok/s" in captured.err and "loss" in captured.err
    assert json.loads(captured.out)["step"] == 6
    a, b = weights(ref), weights(part)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    # No temp or backup directory is left beside the checkpoint.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part", "ref"]


def test_a_fresh_run_refuses_a_used_dir_and_resume_needs_a_checkpoint(corpus, tmp_path):
    from qa_demo.errors import InputError

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("mine")
    with pytest.raises(InputError, match="--resume"):
        pretrain(config(corpus, busy), log=lambda m: None)
    with pytest.raises(InputError, match="resume"):
        pretrain(config(corpus, tmp_path / "none"), resume=True, log=lambda m: None)


@pytest.mark.slow
def test_train_qa_accepts_the_pretrained_dir(corpus, tmp_path, capsys):
    base = tmp_path / "base"
    pretrain(config(corpus, base, steps=2), log=lambda m: None)
    squad, _ = corpus
    out = tmp_path / "ja-qa"
    assert (
        main(
            [
                "train",
                "qa",
                "--base",
                str(base),
                "--data",
                str(squad),
                "--data",
                str(squad),
                "--exclude-title",
                "京都",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--max-seq-len",
                "48",
                "--no-int8",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    # Both --data files are read, each without the excluded article.
    assert "6 training examples" in capsys.readouterr().err
    meta = json.loads((out / "qa_demo.json").read_text(encoding="utf-8"))
    assert meta["language"] == "ja" and meta["dictionary"] == "unidic-lite"
    # The fine-tuned model keeps the pretrained vocabulary.
    assert (out / "vocab.txt").read_text() == (base / "vocab.txt").read_text()
    from qa_demo.qa import QuestionAnswerer

    context = CONTEXTS[0][1]
    best = QuestionAnswerer.load(out).ask("日本の首都はどこ?", context).best
    assert best is None or best.text == context[best.start : best.end]


@pytest.mark.slow
def test_init_from_continues_the_earlier_encoder_with_a_new_schedule(corpus, tmp_path):
    base = tmp_path / "base"
    pretrain(config(corpus, base, steps=2), log=lambda m: None)
    more = tmp_path / "more"
    # Shape flags that disagree with the earlier encoder are replaced by its own.
    cfg = config(corpus, more, steps=2, lr=1e-12, seed=7, hidden_size=64, init_from=base)
    result = pretrain(cfg, log=lambda m: None)
    assert result["done"] and result["step"] == 2
    assert (more / "vocab.txt").read_text() == (base / "vocab.txt").read_text()
    meta = json.loads((more / "pretrain.json").read_text())["config"]
    assert meta["init_from"] == str(base) and meta["hidden_size"] == 32
    a, b = weights(base), weights(more)
    for name in a:  # a learning rate of 1e-12 leaves the loaded weights where they were
        np.testing.assert_allclose(a[name], b[name], atol=1e-6, err_msg=name)


def test_init_from_needs_a_pretrain_output(corpus, tmp_path):
    from qa_demo.errors import InputError

    with pytest.raises(InputError, match=r"pretrain\.json"):
        pretrain(config(corpus, tmp_path / "x", init_from=tmp_path), log=lambda m: None)


@pytest.fixture(scope="module")
def english_body(tmp_path_factory) -> Path:
    """A tiny 'pretrained' BERT of another vocabulary, as all-MiniLM-L6-v2 stands to Japanese."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=120,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=96,
        max_position_embeddings=512,
    )
    out = tmp_path_factory.mktemp("body")
    transformers.BertModel(config).save_pretrained(str(out))
    return out


@pytest.mark.slow
def test_body_layers_stay_frozen_while_new_embeddings_learn(corpus, english_body, tmp_path):
    out = tmp_path / "ja"
    cfg = config(corpus, out, steps=4, stop_at=2, body=str(english_body), freeze_body=True)
    pretrain(cfg, log=lambda m: None)
    pretrain(replace(cfg, stop_at=None), resume=True, log=lambda m: None)  # freezing survives
    meta = json.loads((out / "pretrain.json").read_text())
    assert meta["step"] == 4 and meta["config"]["hidden_size"] == 48
    assert meta["config"]["num_layers"] == 2
    body, got = weights(english_body), weights(out)
    layers = [k for k in body if k.startswith("encoder.")]
    assert layers
    for name in layers:
        np.testing.assert_array_equal(body[name], got[f"bert.{name}"], err_msg=name)
    vocab = (out / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert got["bert.embeddings.word_embeddings.weight"].shape == (len(vocab), 48)
    assert "東京" in vocab or "##京" in vocab or "京" in vocab  # the Japanese vocabulary


@pytest.mark.slow
def test_body_without_freezing_trains_its_layers(corpus, english_body, tmp_path):
    out = tmp_path / "ja"
    pretrain(config(corpus, out, steps=2, body=str(english_body)), log=lambda m: None)
    body, got = weights(english_body), weights(out)
    name = "encoder.layer.0.attention.self.query.weight"
    assert not np.array_equal(body[name], got[f"bert.{name}"])


def test_model_choices_are_checked_once_at_the_edge(corpus, tmp_path):
    from qa_demo.errors import InputError

    with pytest.raises(InputError, match="give one"):
        config(corpus, tmp_path / "x", body="b", init_from=tmp_path)
    with pytest.raises(InputError, match="--freeze-body needs"):
        config(corpus, tmp_path / "x", freeze_body=True)
    with pytest.raises(InputError, match="not a BERT checkpoint"):
        pretrain(config(corpus, tmp_path / "y", body=str(tmp_path / "none")), log=lambda m: None)


@pytest.mark.slow
def test_ctrl_c_during_pretrain_saves_at_a_step_boundary(corpus, tmp_path, monkeypatch):
    """Regression (like `train`'s): a Ctrl-C stops after the step it is in, with a checkpoint
    that resumes to the uninterrupted run's weights."""
    import os
    import signal

    from qa_demo.tools.train import pretrain as module

    ref = tmp_path / "ref"
    pretrain(config(corpus, ref), log=lambda m: None)
    step, calls = module.mlm_step, []

    def step_then_ctrl_c(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return step(*args, **kwargs)

    monkeypatch.setattr(module, "mlm_step", step_then_ctrl_c)
    part = tmp_path / "part"
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN under a background job
    stopped = pretrain(config(corpus, part), log=lambda m: None)
    assert stopped["stopped_by"] == "interrupted" and stopped["step"] == 2
    assert signal.getsignal(signal.SIGINT) is before  # handler put back
    monkeypatch.setattr(module, "mlm_step", step)
    assert pretrain(config(corpus, part), resume=True, log=lambda m: None)["done"]
    a, b = weights(ref), weights(part)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
