"""Every catalog entry as a tiny local replica: its tokenizer config and its architecture with
random weights, exported to IR and asked. Our tokenizer must give transformers' ids on it.
And fetching: offline it says how to do it by hand; it pins the dictionary the catalog states.

Nothing is downloaded: vocabularies are trained here on a few sentences.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import english_corpus, japanese_texts, tiny_bert_config
from qa_demo.app.catalog import CATALOG, CatalogEntry, TokenizerSpec, fetch, find_entry
from qa_demo.errors import ModelLoadError
from qa_demo.types import Language, Task

EN_TEXT = "Ada Lovelace wrote the report in London in 1843. The bridge was built by the king."
JA_TEXT = "富士山は日本で最も高い山であり、標高は３７７６メートルである。東京で発表した。"
QUESTIONS = {Language.EN: "Who wrote the report?", Language.JA: "富士山の標高は？"}
#: transformers' mecab_dic names -> ours.
DICTIONARIES = {"unidic_lite": "unidic-lite", "ipadic": "ipadic"}


def replica_tokenizer(out: Path, spec: TokenizerSpec):
    """A tokenizer of the entry's class and settings over a small vocabulary trained here."""
    import transformers

    if spec.mecab_dic:
        from qa_demo.tokenization import train_japanese_vocab, write_japanese_tokenizer_files

        dictionary = DICTIONARIES[spec.mecab_dic]
        if dictionary == "ipadic":
            pytest.importorskip("ipadic", reason="the ipadic replica needs: pip install ipadic")
        vocab = train_japanese_vocab(japanese_texts(), 1200, dictionary, min_frequency=1)
        write_japanese_tokenizer_files(out, vocab, dictionary)
        return transformers.BertJapaneseTokenizer.from_pretrained(out)
    from tokenizers import BertWordPieceTokenizer

    wordpiece = BertWordPieceTokenizer(lowercase=spec.do_lower_case)
    corpus = [*english_corpus(200), EN_TEXT]
    wordpiece.train_from_iterator(corpus, vocab_size=500, min_frequency=1, show_progress=False)
    out.mkdir(parents=True, exist_ok=True)
    wordpiece.save_model(str(out))
    cls = getattr(transformers, f"{spec.tokenizer_class}Fast")
    return cls(vocab_file=str(out / "vocab.txt"), do_lower_case=spec.do_lower_case)


def replica_model(entry: CatalogEntry, vocab_size: int):
    """The entry's architecture, tiny, with random weights (and its label set for NER)."""
    import torch
    import transformers

    labels: dict = {}
    if entry.task is Task.NER:
        names = ["O", *(f"{p}-{t}" for t in entry.entity_types for p in "BI")]
        labels = {
            "num_labels": len(names),
            "id2label": dict(enumerate(names)),
            "label2id": {n: i for i, n in enumerate(names)},
        }
    torch.manual_seed(0)
    if entry.architecture.startswith("DistilBert"):
        config = transformers.DistilBertConfig(
            vocab_size=vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64, **labels
        )
    else:
        config = tiny_bert_config(vocab_size, **labels)
    config.architectures = [entry.architecture]  # as the checkpoint's config.json says
    return getattr(transformers, entry.architecture)(config).eval()


@pytest.mark.slow
@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.hub_id)
def test_catalog_entry_replica_exports_and_runs(entry: CatalogEntry, tmp_path):
    from qa_demo import EntityTagger, QuestionAnswerer
    from qa_demo.model_dir import load_model_dir
    from qa_demo.tokenization import load_tokenizer
    from qa_demo.tools.export import export

    text = JA_TEXT if entry.language is Language.JA else EN_TEXT
    tok = replica_tokenizer(tmp_path / "tokenizer", entry.tokenizer)
    model = replica_model(entry, tok.vocab_size)
    out = tmp_path / entry.dir_name
    export(entry.hub_id, out, entry.task, model=model, tokenizer=tok, log=lambda m: None)

    found = load_model_dir(out)
    assert (found.task, found.language) == (entry.task, entry.language)
    assert found.config["architectures"] == [entry.architecture]
    ours = load_tokenizer(out)
    assert [int(i) for i in ours.encode(text).ids] == tok(text, add_special_tokens=False).input_ids
    if entry.task is Task.QA:
        result = QuestionAnswerer.load(out).ask(QUESTIONS[entry.language], text, top_k=3)
        assert result.answers and all(a.text == text[a.start : a.end] for a in result.answers)
    else:
        result = EntityTagger.load(out).tag(text)
        assert result.tokens and all(e.text == text[e.start : e.end] for e in result.entities)
        types = {e.label for e in result.entities}
        assert types <= set(entry.entity_types)


def test_catalog_states_tokenizer_and_architecture():
    for entry in CATALOG:
        assert entry.architecture.endswith(
            "ForQuestionAnswering" if entry.task is Task.QA else "ForTokenClassification"
        )
        assert (entry.tokenizer.mecab_dic is not None) == (entry.language is Language.JA)
        assert (entry.task is Task.NER) == bool(entry.entity_types)
    jaquad = find_entry("SkelterLabsInc/bert-base-japanese-jaquad")
    assert jaquad.tokenizer.describe() == "BertJapaneseTokenizer: MeCab (ipadic) + WordPiece"


def test_unverified_checkpoint_is_not_offered():
    with pytest.raises(ModelLoadError):
        find_entry("llm-book/bert-base-japanese-v3-jsquad")


def test_ir_entries_state_repository_revision_licence_and_published_score():
    ir = [e for e in CATALOG if e.kind == "IR on the Hub"]
    assert {e.hub_id for e in ir} >= {
        "distilbert/distilbert-base-cased-distilled-squad",
        "echarlaix/distilbert-base-uncased-distilled-squad-openvino-8bit",
    }
    for entry in ir:
        assert entry.ir_revision and entry.licence and "SQuAD" in entry.published_score
        assert entry.export_command("models").startswith(f"qa-demo fetch {entry.hub_id}")
    assert all(e.kind == "export" for e in CATALOG if e not in ir)


def test_fetch_offline_says_how_to_do_it_by_hand(tmp_path):
    entry = next(e for e in CATALOG if e.kind == "export")
    with pytest.raises(ModelLoadError) as info:
        fetch(entry, tmp_path, reachable=lambda: False)
    assert "needs network" in str(info.value) and f"qa-demo export {entry.hub_id}" in str(
        info.value
    )
    assert not (tmp_path / entry.dir_name).exists()


@pytest.mark.slow
def test_fetch_pins_the_dictionary_the_catalog_states(tmp_path, monkeypatch):
    """A Hub tokenizer_config without mecab_kwargs loads as unidic-lite in transformers 4.57;
    the JaQuAD baseline was trained on ipadic, so fetch pins what the catalog states."""
    pytest.importorskip("ipadic", reason="needs: pip install ipadic")
    import qa_demo.tools.export as export_module
    from qa_demo.app.catalog import fetch
    from qa_demo.model_dir import load_model_dir

    real_export = export_module.export
    entry = find_entry("SkelterLabsInc/bert-base-japanese-jaquad")
    unidic = TokenizerSpec("BertJapaneseTokenizer", mecab_dic="unidic_lite")

    def fake_export(src, out, task, **kwargs):  # a replica whose config says unidic_lite
        tok = replica_tokenizer(tmp_path / "tok", unidic)
        model = replica_model(entry, tok.vocab_size)
        return real_export(src, out, task, model=model, tokenizer=tok, log=kwargs["log"])

    monkeypatch.setattr(export_module, "export", fake_export)
    logged: list[str] = []
    out = fetch(entry, tmp_path / "models", log=logged.append, reachable=lambda: True)
    assert load_model_dir(out).dictionary == "ipadic"
    assert any("ipadic" in line for line in logged)
