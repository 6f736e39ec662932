"""Training data: examples from SQuAD/JSQuAD/JaQuAD or NER files, and the windows the
serving pipeline would build, labelled from character spans."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import DataError
from ...options import TagScheme
from ...types import Task
from .config import MAX_QUESTION_TOKENS, Feature

#: A QA model's own answer-length limit covers this share of its training answers.
ANSWER_LEN_COVERAGE = 0.99

# -- data -----------------------------------------------------------------------------------------


def data_files(path: Path) -> list[Path]:
    """A data file, or the sorted *.json files of a directory (JaQuAD ships 30 parts)."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no .json files.")
    return files


def load_training_examples(
    task: Task,
    path: Path | tuple[Path, ...],
    holdout: float | None,
    part: str,
    limit: int | None,
    exclude_titles: tuple[str, ...] = (),
):
    from itertools import chain, islice

    from ..datasets import qa_group, read_ner, read_squad, split_examples

    specs = path if isinstance(path, tuple) else (path,)
    read = read_squad if task is Task.QA else read_ner
    key = qa_group if task is Task.QA else (lambda ex: ex.group)
    # The holdout splits the first --data only: the others (more languages, more sets) are
    # read whole, or left out whole by `part == "heldout"`.
    parts = [
        split_examples(chain.from_iterable(map(read, data_files(spec))), holdout, part, key)
        if n == 0
        else chain.from_iterable(map(read, data_files(spec)))
        for n, spec in enumerate(specs)
        if n == 0 or part != "heldout"
    ]
    items = chain.from_iterable(parts)
    if task is Task.QA:
        excluded = set(exclude_titles)
        items = (ex for ex in items if ex.title not in excluded)
    return list(islice(items, limit))


def qa_features(
    tok, examples, max_seq_len: int, stride: int, answer_windows_only: bool = False
) -> list[Feature]:
    """Windows exactly as QuestionAnswerer builds them, labelled with the first gold answer.

    A window that does not hold the whole answer points at [CLS] (position 0), as in the
    transformers recipe, so the model also learns which windows have no answer.
    """
    from ...tokenization import Encoded
    from ...windows import build_windows

    feats = []
    for ex in examples:
        q = tok.encode(ex.question)
        if len(q) > MAX_QUESTION_TOKENS:
            n = MAX_QUESTION_TOKENS
            q = Encoded(q.ids[:n], q.pieces[:n], q.offsets[:n], q.word_ids[:n])
        c = tok.encode(ex.context)
        windows = build_windows(tok, c, max_seq_len, stride, question=q)
        a_start, a_end = (
            (ex.answers[0][1], ex.answers[0][1] + len(ex.answers[0][0])) if ex.answers else (-1, -1)
        )
        kept = []
        for w in windows:
            start = end = 0
            if a_start >= 0:
                ctx = [i for i, s in enumerate(w.sequence_ids) if s == 1]
                first = next((i for i in ctx if w.offsets[i][1] > a_start), None)
                last = next((i for i in reversed(ctx) if w.offsets[i][0] < a_end), None)
                inside = (
                    ctx
                    and first is not None
                    and last is not None
                    and first <= last
                    and w.offsets[ctx[0]][0] <= a_start
                    and w.offsets[ctx[-1]][1] >= a_end
                )
                if inside:
                    start, end = first, last
            kept.append(Feature(w.input_ids, w.token_type_ids, np.array([start, end])))
        if answer_windows_only and ex.answers:
            kept = [f for f in kept if f.labels[0] > 0][:1]
        feats += kept
    return feats


def answer_length_limit(feats: list[Feature]) -> int | None:
    """Tokens that cover ANSWER_LEN_COVERAGE of the answers in ``feats`` (None: no answers).

    A small model's spans run on into the next clause; capping them at what the training
    answers need cut that (JSQuAD test F1 +2 for ja-qa) without looking at held-out data.
    """
    lengths = np.array([f.labels[1] - f.labels[0] + 1 for f in feats if f.labels[0] > 0])
    if lengths.size == 0:
        return None
    return int(np.ceil(np.quantile(lengths, ANSWER_LEN_COVERAGE)))


def ner_labels(examples, scheme: TagScheme = TagScheme.BIO) -> list[str]:
    """O, then B-/I- (or I- only) of every entity type in the training data, sorted."""
    types = sorted({e.label for ex in examples for e in ex.entities})
    prefixes = ("I",) if scheme is TagScheme.IO else ("B", "I")
    return ["O"] + [f"{p}-{t}" for t in types for p in prefixes]


def ner_features(tok, examples, label2id: dict[str, int], max_seq_len: int, stride: int):
    """Tokens get B- where an entity starts, I- inside it, O elsewhere (from char spans).

    A token is inside an entity when its first character is; overlapping windows label only
    the tokens they hold, so every window is a plain training sequence.
    """
    from ...windows import build_windows

    feats = []
    for ex in examples:
        enc = tok.encode(ex.text)
        char_tag = [None] * len(ex.text)
        for ent in ex.entities:
            for k in range(ent.start, ent.end):
                char_tag[k] = (ent.label, k == ent.start)
        tags = []
        prev_entity = None
        for start, _end in enc.offsets:
            mark = char_tag[start] if start < len(char_tag) else None
            if mark is None:
                tags.append(0)
                prev_entity = None
                continue
            label, is_first = mark
            # A token that starts mid-entity after an O token (MeCab split differently from the
            # annotation) still has to open the entity.
            begin = is_first or prev_entity != label
            tags.append(
                label2id.get(f"B-{label}", 0)
                if begin and f"B-{label}" in label2id
                else label2id.get(f"I-{label}", 0)
            )
            prev_entity = label
        for w in build_windows(tok, enc, max_seq_len, stride):
            a = w.token_start
            n_text = len(w) - 2
            labels = np.full(len(w), -100, dtype=np.int64)
            labels[1 : 1 + n_text] = tags[a : a + n_text]
            feats.append(Feature(w.input_ids, w.token_type_ids, labels))
    return feats


def collate(feats: list[Feature], pad_id: int, task: Task, token_types: bool = True):
    """A padded torch batch. ``token_types=False`` leaves out token_type_ids, which models
    without segment embeddings (DistilBERT) refuse."""
    import torch

    width = max(len(f.input_ids) for f in feats)
    n = len(feats)
    ids = np.full((n, width), pad_id, np.int64)
    types = np.zeros((n, width), np.int64)
    mask = np.zeros((n, width), np.int64)
    labels = np.full((n, width), -100, np.int64) if task is Task.NER else None
    for i, f in enumerate(feats):
        k = len(f.input_ids)
        ids[i, :k], types[i, :k], mask[i, :k] = f.input_ids, f.token_type_ids, 1
        if labels is not None:
            labels[i, :k] = f.labels
    batch = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
    if token_types:
        batch["token_type_ids"] = torch.from_numpy(types)
    if task is Task.QA:
        spans = np.stack([f.labels for f in feats])
        batch["start_positions"] = torch.from_numpy(spans[:, 0])
        batch["end_positions"] = torch.from_numpy(spans[:, 1])
    else:
        batch["labels"] = torch.from_numpy(labels)
    return batch
