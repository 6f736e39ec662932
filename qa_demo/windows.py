"""Cutting encoded text into model windows with a stride, as ``tokenizers`` truncation does."""

from __future__ import annotations

import numpy as np

from .errors import InputError, ModelLoadError
from .tokenization import Encoded, TextTokenizer
from .types import Window


def window_ranges(n_tokens: int, window_len: int, stride: int) -> list[tuple[int, int]]:
    """[start, stop) token ranges: windows of ``window_len`` overlapping by ``stride``.

    The same walk as ``tokenizers``' overflowing truncation (step = window_len - stride, stop at
    the first window that reaches the end), so windows equal transformers' fast tokenizers.
    """
    if window_len <= 0:
        raise InputError(f"No room for text in a window (window length {window_len}).")
    if stride >= window_len:
        raise InputError(
            f"doc_stride ({stride}) must be smaller than the text part of a window "
            f"({window_len} tokens); lower doc_stride or raise max_seq_len."
        )
    if n_tokens == 0:
        return [(0, 0)]
    ranges = []
    for start in range(0, n_tokens, window_len - stride):
        stop = min(start + window_len, n_tokens)
        ranges.append((start, stop))
        if stop == n_tokens:
            break
    return ranges


def build_windows(
    tok: TextTokenizer,
    text: Encoded,
    max_seq_len: int,
    stride: int,
    question: Encoded | None = None,
) -> list[Window]:
    """[CLS] question [SEP] text[a:b] [SEP] (QA) or [CLS] text[a:b] [SEP] (NER) per window."""
    q_len = len(question) if question is not None else 0
    n_special = 3 if question is not None else 2
    ranges = window_ranges(len(text), max_seq_len - q_len - n_special, stride)
    cls = np.array([tok.cls_id], dtype=np.int64)
    sep = np.array([tok.sep_id], dtype=np.int64)
    windows = []
    for index, (a, b) in enumerate(ranges):
        if question is not None:
            head = np.concatenate([cls, question.ids, sep])
            head_offsets = [None, *question.offsets, None]
            head_words = [None, *question.word_ids, None]
            head_seq = [None, *([0] * q_len), None]
            text_seq = 1
        else:
            head, head_offsets, head_words, head_seq, text_seq = cls, [None], [None], [None], 0
        ids = np.concatenate([head, text.ids[a:b], sep])
        n_text = b - a
        type_ids = np.concatenate(
            [np.zeros(len(head), np.int64), np.full(n_text + 1, text_seq, np.int64)]
        )
        offsets = (*head_offsets, *text.offsets[a:b], None)
        chars = text.offsets[a:b]
        windows.append(
            Window(
                index=index,
                input_ids=ids,
                token_type_ids=type_ids,
                attention_mask=np.ones_like(ids),
                offsets=offsets,
                word_ids=(*head_words, *text.word_ids[a:b], None),
                sequence_ids=(*head_seq, *([text_seq] * n_text), None),
                char_start=chars[0][0] if chars else 0,
                char_end=chars[-1][1] if chars else 0,
                token_start=a,
            )
        )
    return windows


#: Sequence lengths a static-shape compile is made for (devices such as the NPU cannot run
#: dynamic shapes); a window is padded to the smallest bucket that holds it.
STATIC_BUCKETS = (128, 256, 384, 512)


def bucket_width(length: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket that holds ``length`` tokens."""
    for width in sorted(buckets):
        if length <= width:
            return width
    raise InputError(
        f"A window of {length} tokens does not fit the static shapes {sorted(buckets)}; "
        "lower max_seq_len or add a larger bucket."
    )


def length_groups(windows: list[Window]) -> list[list[int]]:
    """Window indices grouped by length, in order of first appearance.

    All windows of a long context but the last are full; batching the short last one with
    them would pad it and spend compute on padding, so each length gets its own call.
    """
    groups: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        groups.setdefault(len(w), []).append(i)
    return list(groups.values())


def batch(windows: list[Window], pad_id: int, width: int | None = None) -> dict[str, np.ndarray]:
    """Stack windows, padded to ``width`` or else only to the longest one (not max_seq_len)."""
    longest = max(len(w) for w in windows)
    width = longest if width is None else width
    if width < longest:
        raise ValueError(f"width {width} is shorter than the longest window ({longest})")
    out = {
        "input_ids": np.full((len(windows), width), pad_id, np.int64),
        "attention_mask": np.zeros((len(windows), width), np.int64),
        "token_type_ids": np.zeros((len(windows), width), np.int64),
    }
    for i, w in enumerate(windows):
        out["input_ids"][i, : len(w)] = w.input_ids
        out["attention_mask"][i, : len(w)] = w.attention_mask
        out["token_type_ids"][i, : len(w)] = w.token_type_ids
    return out


def check_feeds(
    input_names: tuple[str, ...], feeds: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Keep only the inputs the graph has; fail clearly if one it needs is missing."""
    missing = [n for n in input_names if n not in feeds]
    if missing:
        raise ModelLoadError(
            f"The model expects inputs {list(input_names)} but got {sorted(feeds)}."
        )
    return {n: feeds[n] for n in input_names}
