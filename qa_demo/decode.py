"""Pure numpy decoding: stable softmax, best answer spans, and BIO/BIOES tag grouping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Index of [CLS] in a BERT window; its start/end probabilities form the "no answer" score.
CLS_INDEX = 0
OUTSIDE = "O"


def softmax(logits: np.ndarray, mask: np.ndarray | None = None, axis: int = -1) -> np.ndarray:
    """Softmax that subtracts the max first; masked-out positions get probability exactly 0."""
    x = np.asarray(logits, dtype=np.float64)
    if mask is not None:
        x = np.where(mask, x, -np.inf)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


@dataclass(frozen=True)
class Spans:
    """Top spans of one window, best first. Token indices are window positions."""

    starts: np.ndarray
    ends: np.ndarray
    scores: np.ndarray
    null_score: float


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    candidate_mask: np.ndarray,
    max_answer_len: int = 30,
    top_k: int = 1,
    cls_index: int | None = CLS_INDEX,
) -> Spans:
    """Best ``top_k`` spans with start <= end < start + max_answer_len, inside the mask.

    The softmax runs over the candidate tokens plus [CLS] (as transformers' pipeline does), so
    scores are comparable to its own and the [CLS] pair gives the SQuAD 2.0 null score.
    """
    if max_answer_len < 1:
        raise ValueError(f"max_answer_len must be >= 1, got {max_answer_len}")
    candidate_mask = np.asarray(candidate_mask, dtype=bool)
    norm_mask = candidate_mask.copy()
    if cls_index is not None:
        norm_mask[cls_index] = True
    p_start = softmax(start_logits, norm_mask)
    p_end = softmax(end_logits, norm_mask)
    null_score = float(p_start[cls_index] * p_end[cls_index]) if cls_index is not None else 0.0
    p_start = np.where(candidate_mask, p_start, 0.0)
    p_end = np.where(candidate_mask, p_end, 0.0)

    outer = np.outer(p_start, p_end)
    # Keep end >= start and end - start < max_answer_len: a band above the diagonal.
    band = np.triu(np.tril(outer, max_answer_len - 1))
    flat = band.ravel()
    # Only finite, positive scores are candidates: a NaN sorts last in argpartition, so with
    # NaN logits the zeros outside the band were picked, and an answer ended before it began.
    candidates = np.flatnonzero(np.isfinite(flat) & (flat > 0))
    n = int(min(top_k, candidates.size))
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Spans(empty, empty, np.zeros(0), null_score)
    idx = candidates
    if n < idx.size:
        idx = idx[np.argpartition(-flat[idx], n - 1)[:n]]
    idx = idx[np.argsort(-flat[idx], kind="stable")][:n]
    starts, ends = np.unravel_index(idx, band.shape)
    return Spans(starts.astype(np.int64), ends.astype(np.int64), flat[idx], null_score)


# -- tags ---------------------------------------------------------------------------------------


def split_tag(tag: str) -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', ''); a bare 'PER' is a continuation ('I', 'PER')."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIESLU":
        prefix = {"L": "E", "U": "S"}.get(tag[0], tag[0])  # BILOU is BIOES by other names
        return prefix, tag[2:]
    return "I", tag


def detect_scheme(labels) -> str:
    prefixes = {split_tag(lab)[0] for lab in labels}
    return "BIOES" if prefixes & {"E", "S"} else "BIO"


def check_scheme(labels) -> str:
    """The scheme of a label set, or ValueError naming the label that fits none."""
    for lab in labels:
        if lab != OUTSIDE and not (len(lab) > 2 and lab[1] in "-_" and lab[0] in "BIESLU"):
            raise ValueError(f"Unknown tag {lab!r}: expected O or B-/I-/E-/S- followed by a type.")
    return detect_scheme(labels)


@dataclass(frozen=True)
class TagSpan:
    """A run of units (tokens or words) ``[first, last]`` that forms one entity."""

    label: str
    first: int
    last: int
    score: float


def group_tags(tags: list[str], scores) -> list[TagSpan]:
    """Group per-unit tags into entities; BIO/IOB2 and BIOES (or BILOU) alike.

    Matches transformers' ``group_entities`` on BIO tags: an I- tag continues the open entity
    of the same type and otherwise starts a new one. In BIOES, S- is a one-unit entity and E-
    closes the entity it ends.
    """
    spans: list[TagSpan] = []
    label, first, members, closed = None, 0, [], True

    def flush(last: int) -> None:
        if label:
            spans.append(TagSpan(label, first, last, float(np.nanmean(members))))

    for i, (tag, score) in enumerate(zip(tags, scores, strict=True)):
        prefix, kind = split_tag(tag)
        continues = prefix in ("I", "E") and label == kind and not closed and prefix != OUTSIDE
        if continues:
            members.append(score)
        else:
            flush(i - 1)
            label, first, members = (kind or None), i, [score]
        closed = prefix in ("E", "S") or prefix == OUTSIDE
    flush(len(tags) - 1)
    return spans


def char_groups(offsets) -> list[list[int]]:
    """Token indexes grouped so that tokens sharing original characters form one group.

    NFKC expands one character into several (㈱ -> "(株)", ㍻ -> "平成", ﬁ -> "fi"), and each
    resulting token points at that same character; such tokens must decide one tag together.
    """
    groups: list[list[int]] = []
    end = -1
    for i, (start, stop) in enumerate(offsets):
        if groups and start < end:
            groups[-1].append(i)
            end = max(end, stop)
        else:
            groups.append([i])
            end = stop
    return groups
