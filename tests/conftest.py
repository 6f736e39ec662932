"""What the tests share: tiny models and vocabularies built once per test session, a models/
directory of them for the app, launching the app, and the data several test files use.

Test files mirror the modules (``qa_demo/x.py`` -> ``tests/test_x.py``, ``qa_demo/app/x.py`` ->
``tests/app/test_x.py``, ``qa_demo/tools/x.py`` -> ``tests/tools/test_x.py``); pytest puts this
directory on ``sys.path``, so a test file at any depth imports ``from conftest import ...``.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Tests never reach the Hugging Face Hub: everything they load is built here.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: The checkout, and the models it ships (tests of the shipped models skip when absent).
REPO = Path(__file__).resolve().parents[1]
#: The stages a run's "timings_ms" JSON names (network: of infer, on the wire to a server).
TIMING_KEYS = {"segment", "tokenize", "infer", "postprocess", "network", "total"}
MODELS = REPO / "models"
#: ../shared/data beside the checkout; tests that need it skip when it is absent.
SHARED_DATA = Path(os.environ.get("QA_DEMO_SHARED_DATA", REPO.parent / "shared" / "data"))

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


# -- the app's models/ and a launched app ---------------------------------------------------------

#: The session fixture of each tiny model, by the directory name the app gives it.
MODEL_FIXTURES = {
    "en-qa": "en_qa_dir",
    "en-ner": "en_ner_dir",
    "ja-qa": "ja_qa_dir",
    "ja-ner": "ja_ner_dir",
}


@pytest.fixture(scope="session")
def models_root(request, tmp_path_factory) -> Callable[..., Path]:
    """``models_root(*names)``: a directory holding the named tiny models (default: all four)
    as the app's models/ holds them, symlinked, built once a session per set of names. Nothing
    may write into it: a test that edits a model directory copies it to its own tmp_path."""
    roots: dict[tuple[str, ...], Path] = {}

    def make(*names: str) -> Path:
        key = names or tuple(MODEL_FIXTURES)
        if key not in roots:
            root = tmp_path_factory.mktemp("models")
            for name in key:
                src = request.getfixturevalue(MODEL_FIXTURES[name])
                (root / name).symlink_to(src, target_is_directory=True)
            roots[key] = root
        return roots[key]

    return make


@pytest.fixture(scope="module")
def service(models_root):
    """A ``DemoService`` over the four tiny models (one per test module, as one per app)."""
    from qa_demo.app.registry import ModelRegistry
    from qa_demo.app.service import DemoService

    return DemoService(ModelRegistry(models_root()))


@pytest.fixture(scope="module")
def en_qa_service(models_root):
    """A ``DemoService`` over en-qa alone."""
    from qa_demo.app.registry import ModelRegistry
    from qa_demo.app.service import DemoService

    return DemoService(ModelRegistry(models_root("en-qa")))


@pytest.fixture(scope="session")
def int8_only_root(tmp_path_factory, en_qa_dir, en_ner_checkpoint) -> Path:
    """en-qa, and an en-ner shipped INT8-only (as models/en-ner is): an NNCF export."""
    from qa_demo.tools.export import export

    root = tmp_path_factory.mktemp("int8_only")
    (root / "en-qa").symlink_to(en_qa_dir, target_is_directory=True)
    export(str(en_ner_checkpoint), root / "en-ner", "ner", int8=True, log=lambda m: None)
    for name in ("openvino_model.xml", "openvino_model.bin"):
        (root / "en-ner" / name).unlink()
    return root


@pytest.fixture(scope="module")
def int8_service(int8_only_root):
    from qa_demo.app.registry import ModelRegistry
    from qa_demo.app.service import DemoService

    return DemoService(ModelRegistry(int8_only_root))


@contextmanager
def launched(demo) -> Iterator[str]:
    """The Blocks ``demo`` launched on 127.0.0.1 at a free port without blocking: its URL.
    Closed on leaving the block."""
    from qa_demo.app.serve import launch
    from qa_demo.tools.loadtest import free_port

    port = free_port()
    launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def wait_ready(url: str, proc) -> None:
    from qa_demo.tools.model_server import wait_ready as ready

    ready(url, proc)


@contextmanager
def model_server(*dirs: Path) -> Iterator[tuple[str, object]]:
    """``qa-demo model-server DIR...`` on a free loopback port: (its URL, its process)."""
    from qa_demo.tools.model_server import spawned

    with spawned(list(dirs)) as running:
        yield running


# -- pipelines and data several test files use -----------------------------------------------------

JA_CONTEXTS = [
    "ｱｯﾌﾟﾙ㈱は２０２４年に東京で新製品を発表した。",
    "富士山😀は日本で最も高い山であり、\n標高は３７７６メートルである。🗻🎌",
    "ﾊﾟﾝ屋の㈲ﾔﾏﾀﾞは\r\n１９９９年創業。👨‍👩‍👧 家族経営です。\u200f",
    "株式会社\u3000テスト\tは e\u0301 と Ｅ を区別する。" * 30,
]


@pytest.fixture(scope="module")
def ja_qa(ja_qa_dir):
    """The tiny Japanese QA model with short windows (the last context needs several)."""
    from qa_demo import QAOptions, QuestionAnswerer

    return QuestionAnswerer.load(
        ja_qa_dir, options=QAOptions(top_k=20, max_seq_len=128, doc_stride=32)
    )


#: Parity with transformers' pipelines: how far a score may be from the reference's.
SCORE_TOL = 1e-3


def random_contexts(n: int, seed: int = 7) -> list[str]:
    """EN_CONTEXTS, then random word salad with punctuation, some several windows long."""
    rng = random.Random(seed)
    out = list(EN_CONTEXTS)
    while len(out) < n:
        n_words = rng.choice([10, 40, 120, 400])  # 400 words span several 64-token windows
        words = [rng.choice(WORDS) for _ in range(n_words)]
        text = " ".join(words)
        for _ in range(n_words // 8):
            i = rng.randrange(len(text))
            text = text[:i] + rng.choice([",", ".", " 1999", "'s", " -", "!"]) + text[i:]
        out.append(text.capitalize())
    return out


@pytest.fixture(scope="session")
def bench_work(tmp_path_factory) -> Path:
    """One work directory for the bench tests, so the tiny model is exported once."""
    return tmp_path_factory.mktemp("bench-work")


# -- training data ---------------------------------------------------------------------------------

SQUAD_CONTEXTS = [
    (
        "Lovelace",
        "Ada Lovelace wrote the report in London in 1843.",
        [
            ("Who wrote the report?", "Ada Lovelace"),
            ("Where was the report written?", "London"),
            ("When was the report written?", "1843"),
        ],
    ),
    (
        "Bridge",
        "The bridge over the river was built by the king in 1999.",
        [("Who built the bridge?", "the king"), ("When was the bridge built?", "1999")],
    ),
    (
        "Tokyo",
        "Tokyo station was opened in 1914 by the company.",
        [("When was Tokyo station opened?", "1914"), ("Who opened the station?", "the company")],
    ),
]

JA_NER = [
    {"curid": str(i), "text": text, "entities": ents}
    for i, (text, ents) in enumerate(
        [
            (
                "東京で山田太郎が話した。",
                [
                    {"name": "東京", "span": [0, 2], "type": "地名"},
                    {"name": "山田太郎", "span": [3, 7], "type": "人名"},
                ],
            ),
            ("大阪の会社に勤める。", [{"name": "大阪", "span": [0, 2], "type": "地名"}]),
            (
                "田中花子は京都に住む。",
                [
                    {"name": "田中花子", "span": [0, 4], "type": "人名"},
                    {"name": "京都", "span": [5, 7], "type": "地名"},
                ],
            ),
        ]
        * 4
    )
]


def squad_file(tmp_path: Path) -> Path:
    """SQUAD_CONTEXTS as a SQuAD v1.1 file: 7 questions on 3 articles."""
    data = []
    for title, context, qas in SQUAD_CONTEXTS:
        items = [
            {
                "id": f"{title}-{i}",
                "question": q,
                "answers": [{"text": a, "answer_start": context.index(a)}],
            }
            for i, (q, a) in enumerate(qas)
        ]
        data.append({"title": title, "paragraphs": [{"context": context, "qas": items}]})
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"version": "1.1", "data": data}), encoding="utf-8")
    return path
