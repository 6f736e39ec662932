"""WordPiece and SentencePiece through the ``tokenizers`` library, offsets into the original text.

A model directory has either ``tokenizer.json`` (fast tokenizers) or ``vocab.txt`` +
``tokenizer_config.json`` (including ``BertJapaneseTokenizer`` with MeCab). For Japanese, a
custom pre-tokenizer runs MeCab on the NFKC-normalized string and splits the NormalizedString,
so every token keeps its offsets into the original text: before WordPiece, or after
SentencePiece's own whitespace step when tokenizer_config.json says
``subword_tokenizer_type: sentencepiece``. Custom pre-tokenizers cannot be serialized, so MeCab
is attached after loading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import Unigram, WordPiece

from .errors import InputError, ModelLoadError
from .options import Dictionary, TokenizerKind
from .segment import (
    MecabAfterMetaspace,
    MecabSegmenter,
    english_words,
    mecab,
    normalize_dictionary,
)
from .types import ArrayEq, Language, Morpheme, Token

#: transformers' WordpieceTokenizer turns longer words into [UNK].
MAX_INPUT_CHARS_PER_WORD = 100
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclass(frozen=True, eq=False)
class Encoded(ArrayEq):
    """One text's WordPiece tokens (no special tokens), offsets into the original text."""

    ids: np.ndarray
    pieces: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]
    word_ids: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.pieces)

    def head(self, n: int) -> Encoded:
        """The first ``n`` tokens (a question cut to ``max_question_len``)."""
        if len(self) <= n:
            return self
        return Encoded(self.ids[:n], self.pieces[:n], self.offsets[:n], self.word_ids[:n])


def repair_offsets(text: str, offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Give back characters that normalization folded into a neighbour.

    NFKC composes half-width ``ﾌﾟ`` into ``プ`` and aligns the result with ``ﾌ`` only, so the
    ``ﾟ`` belongs to no token and an answer ending there would lose it. Any non-space
    characters between one token's end and the next token's start belong to the earlier token.
    """
    # SentencePiece's "▁" stands for the space before a word and maps to it: the piece
    # "▁Tom" covers " Tom". An answer must not start with that space.
    fixed = [_skip_space(text, start, end) for start, end in offsets]
    for i, (start, end) in enumerate(fixed):
        limit = fixed[i + 1][0] if i + 1 < len(fixed) else len(text)
        stop = end
        while stop < limit and not text[stop].isspace():
            stop += 1
        if stop != end and (i + 1 >= len(fixed) or fixed[i + 1][0] >= stop):
            fixed[i] = (start, stop)
    return fixed


def _skip_space(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without its leading whitespace (kept whole if it is only whitespace)."""
    stop = start
    while stop < end - 1 and text[stop].isspace():
        stop += 1
    return (stop, end) if not text[stop].isspace() else (start, end)


@dataclass
class TextTokenizer:
    """A ``tokenizers.Tokenizer`` plus what the pipelines need to know about it."""

    tokenizer: Tokenizer
    kind: TokenizerKind
    #: The language of the model it belongs to (a SentencePiece vocabulary may serve either).
    language: Language
    dictionary: str | None = None  # the MeCab dictionary of a MECAB_* tokenizer

    def __post_init__(self) -> None:
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

        def special(name: str) -> int:
            tid = self.tokenizer.token_to_id(name)
            if tid is None:
                raise ModelLoadError(f"The vocabulary has no {name} token; expected a BERT vocab.")
            return tid

        self.cls_id = special("[CLS]")
        self.sep_id = special("[SEP]")
        self.pad_id = special("[PAD]")
        self.unk_id = special("[UNK]")

    @property
    def words_are_units(self) -> bool:
        return self.kind.words_are_units

    def morphemes(self, text: str) -> list[Morpheme]:
        """The words the token table shows: MeCab with this tokenizer's dictionary, MeCab
        (unidic-lite) for a Japanese model whose tokenizer uses none, else English words."""
        if self.dictionary:
            return mecab(self.dictionary).segment(text)
        if self.language is Language.JA:
            return mecab().segment(text)
        return english_words(text)

    def encode(self, text: str) -> Encoded:
        """Encode one text without special tokens; offsets are chars of ``text``."""
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        return Encoded(
            ids=np.asarray(enc.ids, dtype=np.int64),
            pieces=tuple(enc.tokens),
            offsets=tuple(repair_offsets(text, enc.offsets)),
            word_ids=tuple(-1 if w is None else w for w in enc.word_ids),
        )

    def tokens(self, text: str, sequence: int = 0) -> list[Token]:
        enc = self.encode(text)
        return [
            Token(piece, int(tid), start, end, sequence)
            for piece, tid, (start, end) in zip(enc.pieces, enc.ids, enc.offsets, strict=True)
        ]

    def single_tokens(self, text: str) -> list[Token]:
        """[CLS] text [SEP], specials with null offsets."""
        cls = Token("[CLS]", self.cls_id, None, None, None)
        sep = Token("[SEP]", self.sep_id, None, None, None)
        return [cls, *self.tokens(text, 0), sep]

    def pair_tokens(self, question: str, text: str) -> list[Token]:
        """[CLS] question [SEP] text [SEP], specials with null offsets."""
        cls = Token("[CLS]", self.cls_id, None, None, None)
        sep = Token("[SEP]", self.sep_id, None, None, None)
        return [cls, *self.tokens(question, 0), sep, *self.tokens(text, 1), sep]

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def save_vocab(self, path: Path) -> None:
        vocab = self.tokenizer.get_vocab()
        path.write_text("".join(t + "\n" for t, _ in sorted(vocab.items(), key=lambda x: x[1])))


def attach_mecab(tokenizer: Tokenizer, segmenter: MecabSegmenter) -> None:
    tokenizer.pre_tokenizer = pre_tokenizers.PreTokenizer.custom(segmenter)


def japanese_tokenizer(
    vocab: dict[str, int] | str, dictionary: str = "unidic-lite", lowercase: bool = False
) -> TextTokenizer:
    """NFKC + MeCab + WordPiece, equal to BertJapaneseTokenizer(mecab, wordpiece)."""
    model = (
        WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD)
        if isinstance(vocab, dict)
        else WordPiece.from_file(
            vocab, unk_token="[UNK]", max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD
        )
    )
    tok = Tokenizer(model)
    steps = [normalizers.NFKC()]
    if lowercase:
        steps.append(normalizers.Lowercase())
    tok.normalizer = normalizers.Sequence(steps)
    attach_mecab(tok, mecab(dictionary))
    # Special tokens written literally in the text (JSQuAD contexts contain " [SEP] ") are
    # matched before normalization, as transformers does.
    tok.add_special_tokens([t for t in SPECIAL_TOKENS if t in tok.get_vocab()])
    return TextTokenizer(
        tok, TokenizerKind.MECAB_WORDPIECE, Language.JA, normalize_dictionary(dictionary)
    )


def mecab_sentencepiece(tok: Tokenizer, dictionary: str, language: Language) -> TextTokenizer:
    """A SentencePiece ``tokenizer.json`` whose pieces stay within MeCab morphemes.

    MeCab runs after SentencePiece's own Metaspace step (custom pre-tokenizers cannot be
    serialized, so it is attached here, on loading); the Unigram model then segments each
    morpheme on its own, and the offsets still point into the original text.
    """
    if not isinstance(tok.model, Unigram) or tok.pre_tokenizer is None:
        raise ModelLoadError("A MeCab + SentencePiece tokenizer needs a Unigram tokenizer.json.")
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            tok.pre_tokenizer,
            pre_tokenizers.PreTokenizer.custom(MecabAfterMetaspace(mecab(dictionary))),
        ]
    )
    return TextTokenizer(
        tok, TokenizerKind.MECAB_SENTENCEPIECE, language, normalize_dictionary(dictionary)
    )


def mecab_sentencepiece_config(dictionary: str = "unidic-lite") -> dict:
    """The tokenizer_config.json fields that make ``load_tokenizer`` attach MeCab to a
    tokenizer.json (BertJapaneseTokenizer's names for "MeCab words, SentencePiece pieces")."""
    return {
        "word_tokenizer_type": "mecab",
        "subword_tokenizer_type": "sentencepiece",
        "mecab_kwargs": {"mecab_dic": Dictionary.parse(dictionary).transformers_name},
    }


def bert_tokenizer(
    vocab_file: str, config: dict, language: Language = Language.EN
) -> TextTokenizer:
    """The same pipeline transformers' convert_slow_tokenizer builds for BertTokenizer."""
    tok = Tokenizer(
        WordPiece.from_file(
            vocab_file, unk_token="[UNK]", max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD
        )
    )
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=config.get("tokenize_chinese_chars", True),
        strip_accents=config.get("strip_accents"),
        lowercase=config.get("do_lower_case", True),
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.add_special_tokens([t for t in SPECIAL_TOKENS if t in tok.get_vocab()])
    return TextTokenizer(tok, TokenizerKind.WORDPIECE, language)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"Cannot read {path}: {exc}") from exc


def dictionary_from_transformers(mecab_dic: str) -> str:
    """Our name for BertJapaneseTokenizer's ``mecab_dic``; an unknown one (a path) as it is."""
    try:
        return normalize_dictionary(mecab_dic)
    except InputError:
        return mecab_dic


def is_japanese_tokenizer(config: dict) -> bool:
    """Whether a tokenizer_config.json is a MeCab one (BertJapaneseTokenizer): decided here only."""
    return (
        config.get("tokenizer_class") == "BertJapaneseTokenizer"
        or config.get("word_tokenizer_type") == "mecab"
    )


def read_tokenizer_config(model_dir: str | Path) -> dict:
    config_path = Path(model_dir) / "tokenizer_config.json"
    return _read_json(config_path) if config_path.exists() else {}


def _tokenizer_json(model_dir: Path) -> Tokenizer:
    path = model_dir / "tokenizer.json"
    if not path.exists():
        raise ModelLoadError(f"{model_dir} has no tokenizer.json for its SentencePiece pieces.")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception on a bad file
        raise ModelLoadError(f"Cannot load {path}: {exc}") from exc


def load_tokenizer(
    model_dir: str | Path, dictionary: str | None = None, language: Language = Language.EN
) -> TextTokenizer:
    """Load the tokenizer of a model directory; ``dictionary`` overrides a Japanese model's.

    ``language`` is the model's (``ModelDir.language``) for tokenizers that do not say it
    themselves: tokenizer.json and vocab.txt serve either language; a MeCab one is Japanese.
    """
    model_dir = Path(model_dir)
    config_path = model_dir / "tokenizer_config.json"
    config = read_tokenizer_config(model_dir)
    if is_japanese_tokenizer(config):
        if config.get("word_tokenizer_type", "mecab") != "mecab":
            raise ModelLoadError(
                f"{config_path}: word_tokenizer_type {config['word_tokenizer_type']!r} is not "
                "supported; expected 'mecab'."
            )
        subword = config.get("subword_tokenizer_type", "wordpiece")
        if subword not in ("wordpiece", "sentencepiece"):
            raise ModelLoadError(
                f"{config_path}: subword_tokenizer_type {subword!r} is not supported; expected "
                "'wordpiece' or 'sentencepiece'."
            )
        hf_dic = (config.get("mecab_kwargs") or {}).get("mecab_dic") or "unidic_lite"
        dic = dictionary or dictionary_from_transformers(hf_dic)
        if subword == "sentencepiece":
            return mecab_sentencepiece(_tokenizer_json(model_dir), dic, language)
        vocab = model_dir / "vocab.txt"
        if not vocab.exists():
            raise ModelLoadError(f"{model_dir} has no vocab.txt for its BertJapaneseTokenizer.")
        return japanese_tokenizer(str(vocab), dic, lowercase=config.get("do_lower_case", False))
    if (model_dir / "tokenizer.json").exists():
        tok = _tokenizer_json(model_dir)
        unigram = isinstance(tok.model, Unigram)
        kind = TokenizerKind.SENTENCEPIECE if unigram else TokenizerKind.WORDPIECE
        return TextTokenizer(tok, kind, language)
    if (model_dir / "vocab.txt").exists():
        return bert_tokenizer(str(model_dir / "vocab.txt"), config, language)
    raise ModelLoadError(
        f"{model_dir} has no tokenizer: expected tokenizer.json, or vocab.txt with "
        "tokenizer_config.json."
    )


def train_japanese_vocab(
    texts, vocab_size: int = 8000, dictionary: str = "unidic-lite", min_frequency: int = 2
) -> dict[str, int]:
    """A WordPiece vocab learnt with our MeCab pre-tokenizer (BertJapaneseTokenizer-compatible)."""
    from tokenizers.trainers import WordPieceTrainer

    tok = Tokenizer(WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.NFKC()
    attach_mecab(tok, mecab(dictionary))
    trainer = WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok.get_vocab()


def write_japanese_tokenizer_files(
    out_dir: Path, vocab: dict[str, int], dictionary: str = "unidic-lite"
) -> None:
    """vocab.txt + tokenizer_config.json that transformers loads as BertJapaneseTokenizer."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(vocab.items(), key=lambda kv: kv[1])
    (out_dir / "vocab.txt").write_text("".join(t + "\n" for t, _ in ordered), encoding="utf-8")
    hf_dic = Dictionary.parse(normalize_dictionary(dictionary)).transformers_name
    config = {
        "tokenizer_class": "BertJapaneseTokenizer",
        "do_lower_case": False,
        "word_tokenizer_type": "mecab",
        "subword_tokenizer_type": "wordpiece",
        "mecab_kwargs": {"mecab_dic": hf_dic},
        "model_max_length": 512,
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "mask_token": "[MASK]",
    }
    (out_dir / "tokenizer_config.json").write_text(
        json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8"
    )
