"""Recommended full-size Hub models, and fetching one into ``models/`` on request.

Only BERT-family checkpoints with a WordPiece vocabulary (English ``BertTokenizer``-style, or
Japanese ``BertJapaneseTokenizer`` with MeCab + WordPiece) are listed: those are the tokenizers
``qa_demo.tokenization`` reproduces with exact offsets. Each entry states its architecture and
tokenizer as its Hub files declare them (config.json ``architectures``, tokenizer_config.json),
and tests/app/test_catalog.py exports and runs a tiny random-weight replica of each. Nothing
here touches the network until ``fetch`` is called.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelLoadError, require
from ..types import Language, Task

#: Where ``fetch`` checks for network before starting a multi-minute download.
HUB_HOST = "huggingface.co"
#: Seconds to wait for that check; offline machines fail at DNS in milliseconds anyway.
NETWORK_CHECK_TIMEOUT_S = 3.0


def hub_dir_name(hub_id: str) -> str:
    """``owner/name`` -> ``owner--name``: one flat, filesystem-safe directory per model (the
    catalog's exports and ``qa-demo fetch`` alike)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", hub_id.replace("/", "--"))


@dataclass(frozen=True)
class TokenizerSpec:
    """A checkpoint's tokenizer as transformers loads it (tokenizer_config.json)."""

    tokenizer_class: str  # BertTokenizer, DistilBertTokenizer or BertJapaneseTokenizer
    do_lower_case: bool = False
    #: BertJapaneseTokenizer: word_tokenizer_type "mecab" with mecab_kwargs["mecab_dic"] this
    #: dictionary, then WordPiece; None for the English BERT WordPiece tokenizers.
    mecab_dic: str | None = None

    def describe(self) -> str:
        if self.mecab_dic:
            return f"{self.tokenizer_class}: MeCab ({self.mecab_dic}) + WordPiece"
        case = "uncased" if self.do_lower_case else "cased"
        return f"{self.tokenizer_class}: WordPiece, {case}"


@dataclass(frozen=True)
class CatalogEntry:
    """One recommended Hub checkpoint and the directory name it is cached under."""

    hub_id: str
    task: Task
    language: Language
    description: str
    architecture: str  # config.json "architectures"[0], a transformers class
    tokenizer: TokenizerSpec
    #: NER: the entity types of its B-/I- (BIO) labels; QA: empty.
    entity_types: tuple[str, ...] = ()
    int8: bool = True
    #: "IR on the Hub" entries: the repository holds OpenVINO IR in optimum-intel's layout and
    #: is downloaded as it is (``hub.fetch_ir``, no torch); None: exported (the export extra).
    ir_revision: str | None = None
    licence: str = ""
    #: The score its publisher states, quoted as published (not measured here).
    published_score: str = ""

    @property
    def kind(self) -> str:
        return "IR on the Hub" if self.ir_revision else "export"

    @property
    def dir_name(self) -> str:
        return hub_dir_name(self.hub_id)

    def export_command(self, models_root: str | Path = "models") -> str:
        """What to run by hand on a machine with network."""
        if self.ir_revision:
            out = Path(models_root) / self.dir_name
            return f"qa-demo fetch {self.hub_id} --revision {self.ir_revision} --out {out}"
        flag = " --int8" if self.int8 else ""
        return (
            f"qa-demo export {self.hub_id} {Path(models_root) / self.dir_name} "
            f"--task {self.task.value}{flag}"
        )


_CASED_BERT = TokenizerSpec("BertTokenizer")

_DISTILBERT_QA = "DistilBertForQuestionAnswering"

CATALOG: tuple[CatalogEntry, ...] = (
    # -- IR on the Hub: downloaded as it is, no torch (their Hub files: openvino_model.xml/.bin,
    # config.json, tokenizer files; the main branches as of 2026-12-05) --------------------------
    CatalogEntry(
        "distilbert/distilbert-base-cased-distilled-squad",
        Task.QA,
        Language.EN,
        "DistilBERT (cased) distilled on SQuAD 1.1, as OpenVINO IR (FP32, added to the repository "
        "by the optimum-intel maintainers): full-size English QA without torch.",
        _DISTILBERT_QA,
        TokenizerSpec("DistilBertTokenizer"),
        ir_revision="main",
        licence="apache-2.0",
        published_score="SQuAD v1.1 dev F1 87.1 (its model card)",
    ),
    CatalogEntry(
        "echarlaix/distilbert-base-uncased-distilled-squad-openvino-8bit",
        Task.QA,
        Language.EN,
        "DistilBERT (uncased) on SQuAD 1.1, OpenVINO IR with 8-bit weights (NNCF): the smallest "
        "full-size English QA.",
        _DISTILBERT_QA,
        TokenizerSpec("DistilBertTokenizer", do_lower_case=True),
        ir_revision="main",
        licence="apache-2.0",
        published_score="SQuAD v1.1 dev F1 86.9 for the FP32 model it was quantized from",
    ),
    CatalogEntry(
        "helenai/distilbert-base-uncased-distilled-squad-ov-fp32",
        Task.QA,
        Language.EN,
        "DistilBERT (uncased) on SQuAD 1.1, OpenVINO IR in FP32.",
        _DISTILBERT_QA,
        TokenizerSpec("DistilBertTokenizer", do_lower_case=True),
        ir_revision="main",
        licence="apache-2.0",
        published_score="SQuAD v1.1 dev F1 86.9 (distilbert-base-uncased-distilled-squad's card)",
    ),
    # -- exported here from their checkpoints (the export extra) ---------------------------------
    CatalogEntry(
        "distilbert-base-cased-distilled-squad",
        Task.QA,
        Language.EN,
        "DistilBERT (cased) distilled on SQuAD 1.1: small and fast English QA.",
        "DistilBertForQuestionAnswering",
        TokenizerSpec("DistilBertTokenizer"),
    ),
    CatalogEntry(
        "deepset/bert-base-cased-squad2",
        Task.QA,
        Language.EN,
        "BERT base (cased) on SQuAD 2.0: also says when there is no answer.",
        "BertForQuestionAnswering",
        _CASED_BERT,
    ),
    CatalogEntry(
        "SkelterLabsInc/bert-base-japanese-jaquad",
        Task.QA,
        Language.JA,
        "Tohoku BERT (whole word masking; MeCab ipadic + WordPiece) fine-tuned on JaQuAD: "
        "the JaQuAD baseline, Japanese QA.",
        "BertForQuestionAnswering",
        TokenizerSpec("BertJapaneseTokenizer", mecab_dic="ipadic"),
    ),
    CatalogEntry(
        "dslim/bert-base-NER",
        Task.NER,
        Language.EN,
        "BERT base (cased) on CoNLL-2003: PER, ORG, LOC, MISC.",
        "BertForTokenClassification",
        _CASED_BERT,
        entity_types=("MISC", "PER", "ORG", "LOC"),
    ),
    CatalogEntry(
        "llm-book/bert-base-japanese-v3-ner-wikipedia-dataset",
        Task.NER,
        Language.JA,
        "Tohoku BERT v3 (MeCab unidic-lite + WordPiece) on the Stockmark Wikipedia NER data "
        "set: 8 Japanese entity types.",
        "BertForTokenClassification",
        TokenizerSpec("BertJapaneseTokenizer", mecab_dic="unidic_lite"),
        entity_types=(
            "人名",
            "法人名",
            "政治的組織名",
            "その他の組織名",
            "地名",
            "施設名",
            "製品名",
            "イベント名",
        ),
    ),
)


def find_entry(hub_id: str, catalog: tuple[CatalogEntry, ...] = CATALOG) -> CatalogEntry:
    for entry in catalog:
        if entry.hub_id == hub_id:
            return entry
    known = ", ".join(e.hub_id for e in catalog)
    raise ModelLoadError(f"{hub_id!r} is not in the model catalog; it has {known}.")


def hub_reachable(timeout: float = NETWORK_CHECK_TIMEOUT_S) -> bool:
    """True if a TCP connection to the Hub ($HF_ENDPOINT) opens; export's one check."""
    from ..tools.export import hub_reachable as reachable

    return reachable(timeout)


def fetch(
    entry: CatalogEntry,
    models_root: str | Path,
    log: Callable[[str], None] = lambda msg: None,
    reachable: Callable[[], bool] = hub_reachable,
) -> Path:
    """Download ``entry`` from the Hub and export it to ``models_root/entry.dir_name``.

    Raises MissingDependencyError without torch/transformers (the ``export`` extra), and
    ModelLoadError with the manual steps when the Hub cannot be reached.
    """
    out = Path(models_root) / entry.dir_name
    if (out / "openvino_model.xml").exists():
        return out
    # Checked first so that a machine without the extra is told so before anything else.
    require("torch", "export")
    require("transformers", "export")
    if not reachable():
        raise ModelLoadError(
            f"Downloading {entry.hub_id} needs network access to {HUB_HOST}, which this machine "
            "does not have. On a machine with network run: "
            f"{entry.export_command(models_root)} and copy the directory {out} here."
        )
    from ..tools.export import export

    existed = out.exists()
    try:
        export(
            entry.hub_id, out, entry.task, int8=entry.int8, description=entry.description, log=log
        )
    except BaseException:
        # A half-written directory would make the next try fail with "not empty".
        if not existed:
            shutil.rmtree(out, ignore_errors=True)
        raise
    pin_dictionary(entry, out, log)
    return out


def pin_dictionary(entry: CatalogEntry, out: Path, log: Callable[[str], None]) -> None:
    """Run a Japanese model with the MeCab dictionary it was trained with, as the catalog
    states it: a tokenizer_config.json without ``mecab_kwargs`` reads as unidic-lite."""
    from ..model_dir import load_model_dir, write_meta
    from ..options import Dictionary

    if entry.tokenizer.mecab_dic is None:
        return
    stated = Dictionary.parse(entry.tokenizer.mecab_dic).value
    found = load_model_dir(out).dictionary
    if found != stated:
        log(f"{entry.hub_id}: its tokenizer config names {found}; using {stated}, as trained.")
        write_meta(out, dictionary=stated)
