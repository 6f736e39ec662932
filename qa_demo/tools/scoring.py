"""Scoring: SQuAD v1.1/v2.0 EM and F1 (official rules), JSQuAD character F1, NER entity F1,
and the score lines `qa-demo eval` prints.

Pure functions over strings and spans. The rules follow the official scripts as
../shared/data/SOURCES.md describes them.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_JA_TRAILING_STOP = "。"


# -- QA scorers -----------------------------------------------------------------------------------


def normalize_en(s: str) -> str:
    """Official SQuAD: lowercase, drop ASCII punctuation, drop a/an/the, collapse whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def normalize_ja(s: str) -> str:
    """JGLUE's JSQuAD patch: lowercase, strip trailing "。", collapse whitespace; no NFKC."""
    s = s.lower().rstrip(_JA_TRAILING_STOP)
    return " ".join(s.split())


def _units(s: str, language: str) -> list[str]:
    """Tokens for F1: words in English, single characters (spaces included) in Japanese."""
    return list(normalize_ja(s)) if language == "ja" else normalize_en(s).split()


def exact_match(prediction: str, gold: str, language: str = "en") -> float:
    norm = normalize_ja if language == "ja" else normalize_en
    return float(norm(prediction) == norm(gold))


def f1_score(prediction: str, gold: str, language: str = "en", v2: bool = True) -> float:
    """Token (en) or character (ja) F1 with a multiset overlap.

    ``v2``: the v2.0 rule that two empty answers agree (F1 1). The v1.1 script has no such
    rule, so there an empty pair scores 0.
    """
    pred, ref = _units(prediction, language), _units(gold, language)
    if v2 and (not pred or not ref):
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def gold_texts(answers: Iterable[str], language: str, v2: bool) -> list[str]:
    """v2.0 drops gold answers that normalize to nothing; none left means the answer is ""."""
    answers = list(answers)
    if not v2:
        return answers
    norm = normalize_ja if language == "ja" else normalize_en
    kept = [a for a in answers if norm(a)]
    return kept or [""]


@dataclass(frozen=True)
class QAScores:
    """Means over questions, times 100, as the official scripts print them."""

    exact: float
    f1: float
    total: int
    missing: int = 0
    has_ans_exact: float | None = None
    has_ans_f1: float | None = None
    has_ans_total: int = 0
    no_ans_exact: float | None = None
    no_ans_f1: float | None = None
    no_ans_total: int = 0
    version: str = "1.1"
    language: str = "en"

    def summary(self) -> dict:
        return {
            k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in asdict(self).items()
            if v is not None
        }


def score_qa(
    examples, predictions: dict[str, str], version: str = "1.1", language: str = "en"
) -> QAScores:
    """Score ``{qid: text}`` against QAExamples.

    English v1.1: every question counts and a missing prediction scores 0. v2.0 (and JSQuAD,
    whose scorer is the patched v2.0 code): missing predictions are skipped, empty gold answers
    are dropped, unanswerable questions have the gold answer "", and HasAns/NoAns are split out.
    """
    v2 = version.startswith("2") or language == "ja"
    split = version.startswith("2")
    ems: dict[str, float] = {}
    f1s: dict[str, float] = {}
    has_ans: dict[str, bool] = {}
    missing = 0
    for ex in examples:
        if ex.id not in predictions:
            missing += 1
            if v2:
                continue
            ems[ex.id] = f1s[ex.id] = 0.0
            has_ans[ex.id] = bool(ex.answers)
            continue
        pred = predictions[ex.id]
        golds = gold_texts((t for t, _ in ex.answers), language, v2)
        ems[ex.id] = max(exact_match(pred, g, language) for g in golds)
        f1s[ex.id] = max(f1_score(pred, g, language, v2) for g in golds)
        has_ans[ex.id] = bool(ex.answers)

    def mean(values) -> float:
        values = list(values)
        return 100.0 * sum(values) / len(values) if values else 0.0

    scores = {"exact": mean(ems.values()), "f1": mean(f1s.values()), "total": len(ems)}
    if split:
        for name, want in (("has_ans", True), ("no_ans", False)):
            ids = [q for q, h in has_ans.items() if h is want]
            if ids:
                scores[f"{name}_exact"] = mean(ems[q] for q in ids)
                scores[f"{name}_f1"] = mean(f1s[q] for q in ids)
            scores[f"{name}_total"] = len(ids)
    return QAScores(missing=missing, version=version, language=language, **scores)


# -- NER scorer -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    support: int  # gold entities
    predicted: int


def _prf(tp: int, n_pred: int, n_gold: int) -> PRF:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(p, r, f, n_gold, n_pred)


@dataclass(frozen=True)
class NERScores:
    """Strict entity-level scores (exact span and type), micro-averaged, fractions 0..1."""

    overall: PRF
    per_type: dict[str, PRF] = field(default_factory=dict)
    sentences: int = 0

    def summary(self) -> dict:
        out = {
            k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self.overall).items()
        }
        out["sentences"] = self.sentences
        out["per_type"] = {
            t: {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(s).items()}
            for t, s in self.per_type.items()
        }
        return out


def score_ner(
    gold: Iterable[Iterable[tuple[int, int, str]]],
    predicted: Iterable[Iterable[tuple[int, int, str]]],
) -> NERScores:
    """Per sentence, sets of (start, end, type); an entity counts only if all three match."""
    tp: Counter = Counter()
    n_gold: Counter = Counter()
    n_pred: Counter = Counter()
    sentences = 0
    for g, p in zip(gold, predicted, strict=True):
        g, p = set(g), set(p)
        sentences += 1
        for _, _, t in g:
            n_gold[t] += 1
        for _, _, t in p:
            n_pred[t] += 1
        for _, _, t in g & p:
            tp[t] += 1
    types = sorted(set(n_gold) | set(n_pred))
    per_type = {t: _prf(tp[t], n_pred[t], n_gold[t]) for t in types}
    overall = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return NERScores(overall, per_type, sentences)


def majority_baseline(examples) -> NERScores:
    """Tagging every token with the majority tag ("O") finds no entity: the floor to beat."""
    exs = list(examples)
    return score_ner(
        ([(e.start, e.end, e.label) for e in ex.entities] for ex in exs), ([] for _ in exs)
    )


# -- the lines `qa-demo eval` prints ------------------------------------------------------------


def format_qa(scores: QAScores) -> str:
    lines = [
        f"exact {scores.exact:.2f}  f1 {scores.f1:.2f}  total {scores.total}"
        + (f"  (missing predictions: {scores.missing})" if scores.missing else "")
    ]
    if scores.has_ans_total or scores.no_ans_total:
        for name in ("has_ans", "no_ans"):
            total = getattr(scores, f"{name}_total")
            if total:
                label = "HasAns" if name == "has_ans" else "NoAns"
                lines.append(
                    f"{label:6s} exact {getattr(scores, f'{name}_exact'):.2f}  "
                    f"f1 {getattr(scores, f'{name}_f1'):.2f}  total {total}"
                )
    return "\n".join(lines)


def format_ner(scores: NERScores) -> str:
    rows = [("type", "precision", "recall", "f1", "gold", "predicted")]
    for name, s in [*scores.per_type.items(), ("overall", scores.overall)]:
        rows.append(
            (
                name,
                f"{s.precision:.4f}",
                f"{s.recall:.4f}",
                f"{s.f1:.4f}",
                str(s.support),
                str(s.predicted),
            )
        )
    width = max(_display_width(r[0]) for r in rows) + 2
    return (
        "\n".join(
            r[0] + " " * (width - _display_width(r[0])) + "".join(f"{c:>11s}" for c in r[1:])
            for r in rows
        )
        + f"\n({scores.sentences} sentences)"
    )


def _display_width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
