"""The encoder `qa-demo pretrain` trains and its optimizer: a new small BERT, an earlier
pretrain output continued (``--init-from``), or a pretrained body with new Japanese word
embeddings (``--body``).

The body route is the cross-lingual transfer of Artetxe et al. (the XQuAD paper): keep a
pretrained English transformer, learn embeddings for the new vocabulary by masked LM, with the
body frozen (``--freeze-body``) or not.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InputError, require
from .checkpoint import META_FILE
from .models import resolve_base

if TYPE_CHECKING:
    from .config import PretrainConfig

#: What ``--init-from`` takes from the earlier encoder: its shape and its vocabulary.
ARCHITECTURE = (
    "vocab_size",
    "dictionary",
    "hidden_size",
    "num_layers",
    "num_heads",
    "intermediate_size",
)
#: Body parameters that a new vocabulary cannot use.
VOCAB_PARAMS = ("embeddings.word_embeddings.",)


def read_vocab(path: Path) -> dict[str, int]:
    lines = (path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return {t: i for i, t in enumerate(lines)}


def earlier_encoder(cfg: PretrainConfig) -> PretrainConfig:
    """``cfg`` with the shape and vocabulary of the ``init_from`` encoder it continues."""
    src = cfg.init_from
    assert src is not None
    if not (src / META_FILE).is_file():
        raise InputError(
            f"--init-from expects a `qa-demo pretrain` output; {src} has no {META_FILE}."
        )
    stored = json.loads((src / META_FILE).read_text(encoding="utf-8"))["config"]
    return replace(cfg, **{k: stored[k] for k in ARCHITECTURE})


def body_shape(cfg: PretrainConfig) -> PretrainConfig:
    """``cfg`` with the layer shape of the ``body`` checkpoint."""
    transformers = require("transformers", "pretrain")
    assert cfg.body is not None
    try:
        bc = transformers.AutoConfig.from_pretrained(resolve_base(cfg.body))
    except OSError as exc:
        raise InputError(f"--body {cfg.body!r} is not a BERT checkpoint here: {exc}") from exc
    if bc.model_type != "bert":
        raise InputError(f"--body expects a BERT checkpoint; {cfg.body!r} is {bc.model_type}.")
    return replace(
        cfg,
        hidden_size=bc.hidden_size,
        num_layers=bc.num_hidden_layers,
        num_heads=bc.num_attention_heads,
        intermediate_size=bc.intermediate_size,
    )


def build_model(cfg: PretrainConfig, vocab_size: int) -> Any:
    """A seeded new BertForMaskedLM; with ``cfg.body``, that body's layers in it."""
    transformers = require("transformers", "pretrain")
    config = transformers.BertConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size or 4 * cfg.hidden_size,
        max_position_embeddings=512,
    )
    model = transformers.BertForMaskedLM(config)
    if cfg.body is not None:
        src = transformers.BertModel.from_pretrained(resolve_base(cfg.body))
        state = {
            k: v
            for k, v in src.state_dict().items()
            if not k.startswith(VOCAB_PARAMS) and not k.startswith("pooler.")
        }
        missing, unexpected = model.bert.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not k.startswith(VOCAB_PARAMS)]:
            raise InputError(f"--body {cfg.body!r} does not fit: {missing + unexpected}")
    return model


def freeze_body(model: Any) -> None:
    """Only the embeddings and the MLM head learn (``--freeze-body``)."""
    for p in model.bert.encoder.parameters():
        p.requires_grad_(False)


def build_optimizer(model: Any, cfg: PretrainConfig) -> tuple[Any, Any]:
    """AdamW over the trainable parameters, linear warm-up and decay to 0 at ``cfg.steps``."""
    from .fit import adamw_linear

    return adamw_linear(model, cfg.lr, cfg.weight_decay, cfg.steps, cfg.warmup)


def starting_model(cfg: PretrainConfig, vocab_size: int, log) -> Any:
    """The model a fresh run starts from (new, earlier or with a body), frozen as asked."""
    if cfg.init_from is not None:
        transformers = require("transformers", "pretrain")
        model = transformers.BertForMaskedLM.from_pretrained(str(cfg.init_from))
        log(f"Continuing the encoder of {cfg.init_from} with a new schedule")
    else:
        model = build_model(cfg, vocab_size)
        if cfg.body is not None:
            log(f"Layers from {cfg.body}; new word embeddings for {vocab_size} pieces")
    if cfg.freeze_body:
        freeze_body(model)
    return model
