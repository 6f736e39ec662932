"""Tiny models and vocabularies, built once per test session."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

# Tests never reach the Hugging Face Hub: everything they load is built here.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: ../shared/data beside the checkout; tests that need it skip when it is absent.
SHARED_DATA = Path(
    os.environ.get("QA_DEMO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "was",
    "he",
    "for",
    "it",
    "with",
    "as",
    "his",
    "on",
    "be",
    "at",
    "by",
    "had",
    "are",
    "but",
    "from",
    "or",
    "have",
    "an",
    "they",
    "which",
    "one",
    "you",
    "were",
    "her",
    "all",
    "she",
    "there",
    "would",
    "their",
    "we",
    "him",
    "been",
    "has",
    "when",
    "who",
    "will",
    "more",
    "no",
    "if",
    "out",
    "so",
    "said",
    "what",
    "up",
    "its",
    "about",
    "into",
    "than",
    "them",
    "can",
    "only",
    "other",
    "new",
    "some",
    "could",
    "time",
    "these",
    "two",
    "may",
    "then",
    "do",
    "first",
    "any",
    "my",
    "now",
    "such",
    "like",
    "our",
    "over",
    "man",
    "me",
    "even",
    "most",
    "made",
    "after",
    "also",
    "did",
    "many",
    "before",
    "must",
    "through",
    "back",
    "years",
    "where",
    "much",
    "your",
    "way",
    "well",
    "down",
    "should",
    "because",
    "each",
    "just",
    "those",
    "people",
    "mr",
    "how",
    "too",
    "little",
    "state",
    "good",
    "very",
    "make",
    "world",
    "still",
    "own",
    "see",
    "men",
    "work",
    "long",
    "get",
    "here",
    "between",
    "both",
    "life",
    "being",
    "under",
    "never",
    "day",
    "same",
    "another",
    "know",
    "while",
    "last",
    "might",
    "us",
    "great",
    "old",
    "year",
    "off",
    "come",
    "since",
    "against",
    "go",
    "came",
    "right",
    "used",
    "take",
    "three",
    "london",
    "paris",
    "tokyo",
    "river",
    "bridge",
    "castle",
    "king",
    "queen",
    "university",
    "museum",
    "station",
    "company",
    "founded",
    "built",
    "opened",
    "written",
    "composed",
    "born",
    "died",
    "ada",
    "lovelace",
    "report",
    "1843",
    "1999",
    "2024",
]

EN_CONTEXTS = [
    "The bridge over the river was built in 1843 by the king. It opened to people in 1999.",
    "Ada Lovelace wrote the report in London. She was born in 1815 and died in 1852.",
    "Tokyo station was opened in 1914; the museum next to it was founded much later.",
]

TINY_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def english_corpus(n: int = 400, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    sents = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 25))]
        sents.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", ","]))
    return sents + EN_CONTEXTS


def build_english_tokenizer(out: Path):
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(english_corpus(), vocab_size=600, min_frequency=1, show_progress=False)
    out.mkdir(parents=True, exist_ok=True)
    wp.save_model(str(out))
    tok = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(out)
    return tok


def tiny_bert_config(vocab_size: int, **kw):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        **kw,
    )


@pytest.fixture(scope="session")
def en_checkpoint(tmp_path_factory) -> Path:
    """A tiny random-weight BERT QA checkpoint with a fast tokenizer."""
    import torch
    from transformers import BertForQuestionAnswering

    out = tmp_path_factory.mktemp("en_ckpt")
    tok = build_english_tokenizer(out)
    torch.manual_seed(0)
    model = BertForQuestionAnswering(tiny_bert_config(tok.vocab_size))
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def en_qa_dir(en_checkpoint, tmp_path_factory) -> Path:
    from qa_demo.tools.export import export

    out = tmp_path_factory.mktemp("en_qa") / "model"
    export(str(en_checkpoint), out, "qa", int8=True, log=lambda m: None)
    return out


@pytest.fixture(scope="session")
def en_ner_checkpoint(tmp_path_factory) -> Path:
    import torch
    from transformers import BertForTokenClassification

    out = tmp_path_factory.mktemp("en_ner_ckpt")
    tok = build_english_tokenizer(out)
    torch.manual_seed(1)
    config = tiny_bert_config(
        tok.vocab_size,
        num_labels=len(TINY_LABELS),
        id2label=dict(enumerate(TINY_LABELS)),
        label2id={lab: i for i, lab in enumerate(TINY_LABELS)},
    )
    model = BertForTokenClassification(config)
    # Random logits are nearly flat; a larger classifier gives varied, confident tags.
    with torch.no_grad():
        model.classifier.weight.mul_(40)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def en_ner_dir(en_ner_checkpoint, tmp_path_factory) -> Path:
    from qa_demo.tools.export import export

    out = tmp_path_factory.mktemp("en_ner") / "model"
    export(str(en_ner_checkpoint), out, "ner", log=lambda m: None)
    return out


def japanese_texts() -> list[str]:
    path = SHARED_DATA / "jsquad" / "valid-v1.3.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        return [p["context"] for a in data["data"][:10] for p in a["paragraphs"]]
    return [
        "アップル㈱は２０２４年に東京で新製品を発表した。",
        "富士山は日本で最も高い山であり、標高は３７７６メートルである。",
        "ｱｲｳｴｵ、カタカナの練習をしました。😀 明日も続けます。",
    ] * 20


@pytest.fixture(scope="session")
def ja_vocab_dir(tmp_path_factory) -> Path:
    from qa_demo.tokenization import train_japanese_vocab, write_japanese_tokenizer_files

    out = tmp_path_factory.mktemp("ja_vocab")
    write_japanese_tokenizer_files(out, train_japanese_vocab(japanese_texts(), 3000))
    return out


@pytest.fixture(scope="session")
def ja_qa_dir(ja_vocab_dir, tmp_path_factory) -> Path:
    """A tiny random-weight Japanese QA model (BertJapaneseTokenizer files) exported to IR."""
    import torch
    from transformers import BertForQuestionAnswering, BertJapaneseTokenizer

    from qa_demo.tools.export import export

    tok = BertJapaneseTokenizer.from_pretrained(ja_vocab_dir)
    torch.manual_seed(2)
    model = BertForQuestionAnswering(tiny_bert_config(tok.vocab_size)).eval()
    out = tmp_path_factory.mktemp("ja_qa") / "model"
    export("tiny-ja", out, "qa", model=model, tokenizer=tok, log=lambda m: None)
    return out


@pytest.fixture(scope="session")
def ja_ner_dir(ja_vocab_dir, tmp_path_factory) -> Path:
    """A tiny random-weight Japanese NER model (BertJapaneseTokenizer files) exported to IR."""
    import torch
    from transformers import BertForTokenClassification, BertJapaneseTokenizer

    from qa_demo.tools.export import export

    tok = BertJapaneseTokenizer.from_pretrained(ja_vocab_dir)
    torch.manual_seed(3)
    config = tiny_bert_config(
        tok.vocab_size,
        num_labels=len(TINY_LABELS),
        id2label=dict(enumerate(TINY_LABELS)),
        label2id={lab: i for i, lab in enumerate(TINY_LABELS)},
    )
    model = BertForTokenClassification(config).eval()
    # As in en_ner_checkpoint: a larger classifier gives varied, confident tags.
    with torch.no_grad():
        model.classifier.weight.mul_(40)
    out = tmp_path_factory.mktemp("ja_ner") / "model"
    export("tiny-ja-ner", out, "ner", model=model, tokenizer=tok, log=lambda m: None)
    return out
