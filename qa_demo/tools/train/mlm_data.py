"""Data for masked-LM pretraining: the corpus text, packed blocks and whole-morpheme masks.

MeCab morphemes are the pre-tokens of the project's Japanese tokenizer, so the WordPiece pieces
of one morpheme share a ``word_id``; masking chooses morphemes, never single pieces of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import DataError

if TYPE_CHECKING:
    from .config import PretrainConfig


@dataclass(frozen=True)
class Corpus:
    """Packed blocks: ``ids`` [n, L] piece ids; ``words`` [n, L] morpheme index in the block
    (dense from 0; -1 for [CLS]/[SEP], which are never masked)."""

    ids: np.ndarray
    words: np.ndarray
    texts: int


def _json_files(path: Path) -> list[Path]:
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no .json files.")
    return files


def corpus_texts(cfg: PretrainConfig) -> list[str]:
    """QA contexts (each once, excluded titles dropped) and NER sentences of the train pages."""
    from ..datasets import qa_group, read_ner, read_squad, split_examples

    texts: list[str] = []
    seen: set[str] = set()
    excluded = set(cfg.exclude_titles)
    for n, spec in enumerate(cfg.squad):
        holdout = cfg.squad_holdout if n == 0 else None
        for path in _json_files(Path(spec)):
            for ex in split_examples(read_squad(path), holdout, "train", qa_group):
                if ex.title in excluded:
                    continue
                parts = [ex.context] + ([ex.question] if cfg.questions else [])
                for t in parts:
                    if t not in seen:
                        seen.add(t)
                        texts.append(t)
    for spec in cfg.ner:
        # The same split function and key as `train ner --holdout` / `eval ner --holdout`:
        # no sentence of a held-out page is ever seen here.
        for ex in split_examples(read_ner(spec), cfg.holdout, "train", lambda e: e.group):
            if ex.text not in seen:
                seen.add(ex.text)
                texts.append(ex.text)
    if not texts:
        raise DataError("No pretraining text: pass --squad and/or --ner.")
    return texts


def _block_words(words: np.ndarray) -> np.ndarray:
    """Morpheme ids of one block made dense (0..k-1), specials stay -1."""
    out = np.full_like(words, -1)
    real = words >= 0
    out[real] = np.unique(words[real], return_inverse=True)[1]
    return out


def pack_corpus(tok, texts: list[str], seq_len: int) -> Corpus:
    """Texts joined by [SEP] and cut into full [CLS] ... [SEP] blocks (no padding needed)."""
    ids: list[int] = []
    words: list[int] = []
    next_word = 0
    for text in texts:
        enc = tok.encode(text)
        if not len(enc):
            continue
        ids += [*enc.ids.tolist(), tok.sep_id]
        words += [next_word + w for w in enc.word_ids] + [-1]
        next_word += max(enc.word_ids) + 1
    body = seq_len - 2
    n = len(ids) // body
    if n == 0:
        raise DataError(f"The corpus has {len(ids)} tokens: less than one {seq_len}-token block.")
    arr_ids = np.asarray(ids[: n * body], np.int32).reshape(n, body)
    arr_words = np.asarray(words[: n * body], np.int32).reshape(n, body)
    cls = np.full((n, 1), tok.cls_id, np.int32)
    sep = np.full((n, 1), tok.sep_id, np.int32)
    none = np.full((n, 1), -1, np.int32)
    block_ids = np.concatenate([cls, arr_ids, sep], axis=1)
    block_words = np.concatenate([none, arr_words, none], axis=1)
    block_words = np.stack([_block_words(w) for w in block_words])
    return Corpus(block_ids, block_words, len(texts))


def mask_batch(
    ids: np.ndarray,
    words: np.ndarray,
    rng,
    mask_id: int,
    vocab_low: int,
    vocab_size: int,
    prob: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-morpheme masking: (inputs, selected) where ``selected`` marks the scored pieces.

    Each morpheme is chosen with ``prob`` (so about ``prob`` of the pieces are), then one draw
    per chosen morpheme decides [MASK] (80%), a random piece (10%) or unchanged (10%), so the
    pieces of one morpheme are treated alike.
    """
    b, length = ids.shape
    real = words >= 0
    w = np.where(real, words, 0)
    chosen = np.take_along_axis(rng.random((b, length)) < prob, w, axis=1) & real
    if not chosen.any():
        chosen[0, 1] = True  # a batch without a target has no loss; score one piece
    action = np.take_along_axis(rng.random((b, length)), w, axis=1)
    random_ids = rng.integers(vocab_low, vocab_size, size=(b, length), dtype=np.int64)
    inputs = ids.astype(np.int64)
    inputs = np.where(chosen & (action < 0.8), mask_id, inputs)
    inputs = np.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, inputs)
    return inputs, chosen


def batch_indices(n_blocks: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """The blocks of ``step``: epochs walk a permutation seeded by (seed, epoch)."""
    per_epoch = max(1, n_blocks // batch_size)
    epoch, k = divmod(step, per_epoch)
    order = np.random.default_rng((seed, 0, epoch)).permutation(n_blocks)
    return order[k * batch_size : (k + 1) * batch_size]


def canonical_vocab(vocab: dict[str, int]) -> dict[str, int]:
    """Specials first, then the pieces sorted: the trainer numbers equally frequent characters
    in hash order, which differs between processes, and ids must not for a seeded run."""
    from ...tokenization import SPECIAL_TOKENS

    head = [t for t in SPECIAL_TOKENS if t in vocab]
    rest = sorted(t for t in vocab if t not in head)
    return {t: i for i, t in enumerate(head + rest)}
