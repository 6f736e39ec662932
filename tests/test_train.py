"""Training end to end on tiny models: train a few steps, export, load, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa_demo.cli import main
from qa_demo.errors import InputError
from qa_demo.model_dir import INT8_FILES, PRECISION_FILES
from qa_demo.options import Int8Route, TagScheme
from qa_demo.tools.train import SCRATCH_JA, ScratchConfig, TrainConfig, train
from qa_demo.types import Task

CONTEXTS = [
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
    data = []
    for title, context, qas in CONTEXTS:
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


def test_qa_trains_exports_and_evaluates(en_checkpoint, tmp_path, capsys):
    data = squad_file(tmp_path)
    out = tmp_path / "model"
    assert (
        main(
            [
                "train",
                "qa",
                "--base",
                str(en_checkpoint),
                "--data",
                str(data),
                "--eval",
                str(data),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--batch-size",
                "4",
                "--lr",
                "1e-3",
                "--max-seq-len",
                "64",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "epoch 1: loss" in captured.err and "epoch 2: loss" in captured.err
    # NNCF may print its own progress to stdout; the report is the last thing printed.
    report = json.loads(captured.out[captured.out.rindex('{\n  "out"') :])
    assert set(report["eval"]) >= {"exact", "f1", "total"} and report["eval"]["total"] == 7
    assert (out / "openvino_model.xml").exists() and (out / "openvino_model_int8.xml").exists()
    meta = json.loads((out / "qa_demo.json").read_text(encoding="utf-8"))
    assert meta["task"] == "qa" and "demo" in meta["description"]
    assert meta["training"]["params"]["lr"] == 1e-3
    # The answer-length limit learnt from the training answers; eval below reproduces the
    # training-time score only if it is the model's default.
    assert isinstance(meta["max_answer_len"], int) and 1 <= meta["max_answer_len"] <= 30
    # The written directory is what the app loads; `qa-demo eval` reproduces the number.
    assert (
        main(
            [
                "eval",
                "qa",
                "--model",
                str(out),
                "--data",
                str(data),
                "--json",
                "--max-seq-len",
                "64",
                "--doc-stride",
                "21",
                "--predictions",
                str(tmp_path / "p.json"),
            ]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert again["f1"] == pytest.approx(report["eval"]["f1"])


def test_training_refuses_a_non_empty_out_dir(en_checkpoint, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert (
        main(
            [
                "train",
                "qa",
                "--base",
                str(en_checkpoint),
                "--data",
                str(squad_file(tmp_path)),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


def test_same_seed_same_losses(en_checkpoint, tmp_path):
    cfg = TrainConfig(
        Task.QA,
        str(en_checkpoint),
        squad_file(tmp_path),
        None,
        epochs=2,
        batch_size=2,
        lr=1e-3,
        max_seq_len=64,
        doc_stride=16,
        seed=7,
    )
    first = [h.loss for h in train(cfg, log=lambda m: None).history]
    second = [h.loss for h in train(cfg, log=lambda m: None).history]
    assert first == second and all(np.isfinite(first))


def test_int8_only_model_when_fp32_is_left_out(en_checkpoint, tmp_path):
    from qa_demo.qa import QuestionAnswerer

    out = tmp_path / "int8-only"
    cfg = TrainConfig(
        Task.QA,
        str(en_checkpoint),
        squad_file(tmp_path),
        out,
        epochs=1,
        batch_size=4,
        lr=1e-3,
        max_seq_len=64,
        doc_stride=16,
        fp32=False,
    )
    train(cfg, log=lambda m: None)
    assert not (out / "openvino_model.xml").exists() and not (out / "openvino_model.bin").exists()
    meta = json.loads((out / "qa_demo.json").read_text(encoding="utf-8"))
    # Only INT8 IRs (one per route export writes), no FP32.
    assert meta["precisions"] and all(p.startswith("INT8") for p in meta["precisions"])
    context = "Ada Lovelace wrote the report in London."
    best = QuestionAnswerer.load(out, precision="INT8").ask("Who?", context).best
    assert best.text == context[best.start : best.end]
    with pytest.raises(InputError, match="no model"):
        TrainConfig(Task.QA, str(en_checkpoint), squad_file(tmp_path), out, int8=False, fp32=False)


def test_japanese_ner_from_scratch_with_holdout(tmp_path):
    data = tmp_path / "ner.json"
    data.write_text(json.dumps(JA_NER, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "ja-ner"
    cfg = TrainConfig(
        Task.NER,
        SCRATCH_JA,
        data,
        out,
        eval_data=data,
        epochs=2,
        batch_size=4,
        lr=1e-3,
        max_seq_len=64,
        doc_stride=16,
        int8=False,
        fp16_weights=True,
        aggregation="max",
        scratch=ScratchConfig(
            vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64
        ),
    )
    result = train(cfg, log=lambda m: None)
    assert result.final_eval["support"] == 20
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert set(config["id2label"].values()) == {"O", "B-人名", "I-人名", "B-地名", "I-地名"}
    tok_config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_config["tokenizer_class"] == "BertJapaneseTokenizer"
    from qa_demo.ner import EntityTagger

    tagger = EntityTagger.load(out)
    assert tagger.language.value == "ja"
    assert tagger.default_aggregation == "max"  # the aggregation it was evaluated with
    tagger.tag("東京で山田太郎が話した。")  # loads and runs on the serving path
    with pytest.raises(InputError, match="--overwrite"):
        train(cfg, log=lambda m: None)


def test_lr_search_prints_trials_and_saves_a_plot(en_checkpoint, tmp_path, capsys):
    plot = tmp_path / "lr.png"
    data = squad_file(tmp_path)
    assert (
        main(
            [
                "train",
                "qa",
                "--base",
                str(en_checkpoint),
                "--data",
                str(data),
                "--eval",
                str(data),
                "--search",
                "lr",
                "--trials",
                "2",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--max-seq-len",
                "64",
                "--plot",
                str(plot),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "best learning rate" in out and out.count("e-0") >= 2
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_config_parses_tag_scheme_and_aggregation_once():
    from qa_demo.options import Aggregation

    cfg = TrainConfig(Task.NER, "b", Path("d"), None, tag_scheme="io", aggregation="MAX")
    assert cfg.tag_scheme is TagScheme.IO and cfg.aggregation is Aggregation.MAX
    with pytest.raises(InputError, match="Training tags are BIO or IO; got 'BIOES'"):
        TrainConfig(Task.NER, "b", Path("d"), None, tag_scheme="BIOES")
    with pytest.raises(InputError, match="Unknown aggregation 'mean'"):
        TrainConfig(Task.NER, "b", Path("d"), None, aggregation="mean")


def test_ner_labels_follow_char_spans_in_bio_and_io(en_ner_checkpoint):
    from qa_demo.tokenization import load_tokenizer
    from qa_demo.tools.datasets import EntitySpan, NERExample
    from qa_demo.tools.train.data import ner_features, ner_labels

    tok = load_tokenizer(en_ner_checkpoint)
    ex = NERExample(
        "1", "Ada Lovelace went to London", (EntitySpan(0, 12, "PER"), EntitySpan(21, 27, "LOC"))
    )
    for scheme, want in (
        (TagScheme.BIO, ["B-PER", "I-PER", "O", "O", "B-LOC"]),
        (TagScheme.IO, ["I-PER", "I-PER", "O", "O", "I-LOC"]),
    ):
        labels = ner_labels([ex], scheme)
        (feat,) = ner_features(tok, [ex], {lab: i for i, lab in enumerate(labels)}, 64, 16)
        enc = tok.encode(ex.text)
        # One tag per word's first piece is enough to check; pieces of a word share its tag.
        words = {}
        for i, w in enumerate(enc.word_ids):
            words.setdefault(w, labels[feat.labels[1 + i]])
        assert list(words.values()) == want
        assert feat.labels[0] == -100 and feat.labels[-1] == -100  # [CLS], [SEP] not scored


# -- the shipped models ---------------------------------------------------------------------------

MODELS = Path(__file__).resolve().parents[1] / "models"
SHIPPED = ("ja-ner", "ja-qa", "en-qa", "en-ner")
#: Quick checks a card must have (default 1): ja-qa is scored on JSQuAD test and JaQuAD dev.
QUICK_CHECKS = {"ja-qa": 2}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_card_quick_check_reproduces(name, capsys, monkeypatch):
    """Each card has a `--limit` quick check; `qa-demo eval` must print the same lines."""
    import re
    import shlex

    from conftest import SHARED_DATA

    model = MODELS / name
    if not (model / "README.md").exists():
        pytest.skip(f"{model} is not shipped in this checkout")
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent")
    meta = json.loads((model / "qa_demo.json").read_text(encoding="utf-8"))
    assert "demo" in meta["description"].lower()
    # INT8 everywhere; FP32 where the 150 MB budget has room (the card says which).
    int8 = [p for p in meta["precisions"] if p.startswith("INT8")]
    assert int8 and set(meta["precisions"]) - set(int8) <= {"FP32"}
    for precision in meta["precisions"]:
        route = precision.partition("-")[2]  # "INT8-static" -> "static"; older dirs say "INT8"
        ir = INT8_FILES[Int8Route(route)] if route else PRECISION_FILES[precision]
        assert (model / ir).exists(), precision
    card = (model / "README.md").read_text(encoding="utf-8")
    section = re.search(r"## Quick check.*?(?=\n## |\Z)", card, re.S)
    assert section, f"{name}/README.md has no Quick check section"
    blocks = re.findall(r"```\n\$ (qa-demo [^\n]+)\n(.*?)```", section.group(0), re.S)
    # Every block of the section is run: ja-qa has one per held-out set (JSQuAD test, JaQuAD dev).
    assert len(blocks) >= QUICK_CHECKS.get(name, 1), f"{name}/README.md: too few quick checks"
    monkeypatch.chdir(MODELS.parent)
    for command, expected in blocks:
        argv = shlex.split(command)[1:]
        argv = [a.replace("../shared/data", str(SHARED_DATA)) for a in argv]
        assert main(argv) == 0, command
        printed = capsys.readouterr().out.strip().splitlines()
        assert printed == expected.strip().splitlines(), command


#: The issue's budget for everything under models/ (decimal megabytes).
MODELS_BUDGET_BYTES = 150_000_000


def test_shipped_models_fit_the_size_budget():
    if not MODELS.exists():
        pytest.skip("no models/ in this checkout")
    total = sum(f.stat().st_size for f in MODELS.rglob("*") if f.is_file())
    assert total < MODELS_BUDGET_BYTES, f"models/ holds {total / 1e6:.1f} MB"


#: Plain factoid questions of the kind the issue's outside set holds (who founded it, in what
#: year, which city), written for this test after the shipped ja-qa was trained (CC0).
JA_FACTOIDS = (
    (
        "青葉天文台は1931年に天文学者の佐伯ハルが設立した。天文台は仙台市の郊外にある。",
        (
            ("誰が設立しましたか？", "佐伯ハル"),
            ("何年に設立されましたか？", "1931年"),
            ("天文台はどの都市にありますか？", "仙台市"),
        ),
    ),
    (
        "港大橋は技師の村上誠が設計し、1978年に開通した。全長は980メートルである。",
        (
            ("橋を設計したのは誰ですか？", "村上誠"),
            ("橋は何年に開通しましたか？", "1978年"),
            ("全長は何メートルですか？", "980メートル"),
        ),
    ),
    (
        "北斗製菓は1952年に創業した菓子メーカーで、本社は札幌市にある。創業者は石田勇である。",
        (
            ("会社の本社はどこにありますか？", "札幌市"),
            ("創業者は誰ですか？", "石田勇"),
            ("北斗製菓は何年に創業しましたか？", "1952年"),
        ),
    ),
)


#: Case particles a SentencePiece piece may carry after an answer (年に, 仙台市の).
PARTICLES = ("に", "の", "は", "が", "を", "で", "と")


def test_shipped_ja_qa_got_plain_factoid_questions_wrong():
    """Regression: the ja-qa of 2026-11-24 answered 0 of 9 plain factoid questions (long wrong
    spans); the 4-layer model after it 5 of these 9. The shipped model must get most right."""
    from qa_demo.qa import QuestionAnswerer

    model = MODELS / "ja-qa"
    if not (model / "qa_demo.json").exists():
        pytest.skip(f"{model} is not shipped in this checkout")
    qa = QuestionAnswerer.load(model, device="CPU")
    got = [
        (question, qa.ask(question, context).best.text, gold)
        for context, pairs in JA_FACTOIDS
        for question, gold in pairs
    ]
    # The e5 ja-qa's SentencePiece pieces can join a word and its particle (年に, 市の), so a
    # span may end one particle late; that is still the answer (held-out EM counts it wrong).
    right = [q for q, answer, gold in got if answer in {gold, *(gold + p for p in PARTICLES)}]
    assert len(right) >= 7, got
