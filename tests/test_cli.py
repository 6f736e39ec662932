"""cli.py: the `qa-demo` command's JSON contracts and exit codes, and hostile or odd input
through `qa-demo ask/ner` (one clear line and exit 2, or offsets true to the text)."""

import json
import subprocess
import sys

import pytest
from hostile import (
    BAD_OPTIONS,
    CONTEXT,
    QUESTION,
    REFUSED,
    TEXTS,
    TOO_LONG_QUESTION,
    WRONG_TYPES,
    check_offsets,
)

from conftest import MODELS, TIMING_KEYS
from qa_demo.cli import EXIT_USER_ERROR, main

JA_CONTEXT = "ｱｯﾌﾟﾙ㈱は２０２４年に東京で😀新製品を発表した。"
SHIPPED_QA = MODELS / "ja-en-qa"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_devices(capsys):
    code, out, _ = run(capsys, "devices", "--json")
    assert code == 0
    names = [d["device"] for d in json.loads(out)["devices"]]
    assert "CPU" in names and "AUTO" in names


def test_tokenize_json_contract(capsys, ja_qa_dir):
    code, out, _ = run(
        capsys,
        "tokenize",
        "--model",
        str(ja_qa_dir),
        "--text",
        JA_CONTEXT,
        "--question",
        "何？",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"language", "tokenizer", "dictionary", "morphemes", "tokens"}
    assert (data["language"], data["tokenizer"]) == ("ja", "mecab-wordpiece")
    for m in data["morphemes"]:
        assert set(m) == {"surface", "pos", "start", "end"}
    assert data["morphemes"][0]["surface"] == "アップル"
    assert JA_CONTEXT[data["morphemes"][0]["start"] : data["morphemes"][0]["end"]] == "ｱｯﾌﾟﾙ"
    tokens = data["tokens"]
    assert all(set(t) == {"piece", "id", "start", "end"} for t in tokens)
    assert tokens[0] == {"piece": "[CLS]", "id": tokens[0]["id"], "start": None, "end": None}
    assert tokens[-1]["start"] is None and tokens[-1]["piece"] == "[SEP]"


@pytest.mark.skipif(not SHIPPED_QA.exists(), reason="the shipped ja-en-qa is absent")
def test_regression_tokenize_sentencepiece_qa_model_lists_mecab_morphemes(capsys):
    # The shipped e5 QA model's tokenizer.json (SentencePiece) was once taken for English:
    # `qa-demo tokenize --model ...`, the README's example, listed whitespace "words".
    text = "東京都に住んでいます。"
    code, out, _ = run(capsys, "tokenize", "--model", str(SHIPPED_QA), "--text", text, "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["language"], data["tokenizer"]) == ("ja", "mecab-sentencepiece")
    surfaces = [m["surface"] for m in data["morphemes"]]
    assert surfaces[:2] == ["東京", "都"] and len(surfaces) > 4
    assert all(m["pos"] for m in data["morphemes"])  # MeCab's parts of speech
    # Regression 1998年に: no piece runs past a morpheme (a piece may split one).
    bounds = {m["start"] for m in data["morphemes"]}
    assert not [
        t
        for t in data["tokens"]
        if t["start"] is not None and any(t["start"] < b < t["end"] for b in bounds)
    ]


def test_ask_json_contract(capsys, en_qa_dir):
    context = "Ada Lovelace wrote the report in London in 1843."
    code, out, _ = run(
        capsys,
        "ask",
        "--model",
        str(en_qa_dir),
        "--question",
        "Who?",
        "--context",
        context,
        "--top-k",
        "2",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"answers", "timings_ms", "device", "precision"}
    # Chosen and executed precision, read back from the compiled model.
    assert set(data["precision"]) == {"requested", "chosen", "executed", "reason"}
    assert data["precision"]["requested"] == "AUTO"
    assert len(data["answers"]) == 2
    for a in data["answers"]:
        assert set(a) == {"text", "start", "end", "score"}
        assert context[a["start"] : a["end"]] == a["text"]
    assert set(data["timings_ms"]) == TIMING_KEYS
    assert data["device"] == "CPU"


def test_ask_static_shapes_gives_the_dynamic_answer(capsys, en_qa_dir):
    context = "Ada Lovelace wrote the report in London in 1843."
    answers = []
    for extra in ([], ["--static-shapes"]):
        code, out, _ = run(
            capsys,
            "ask",
            "--model",
            str(en_qa_dir),
            "--question",
            "Who?",
            "--context",
            context,
            "--json",
            *extra,
        )
        assert code == 0
        answers.append([(a["start"], a["end"]) for a in json.loads(out)["answers"]])
    assert answers[0] == answers[1]


def test_ask_reads_context_file(capsys, en_qa_dir, tmp_path):
    f = tmp_path / "ctx.txt"
    f.write_text("The bridge was built in 1843.", encoding="utf-8")
    code, out, _ = run(
        capsys, "ask", "--model", str(en_qa_dir), "--question", "When?", "--context-file", str(f)
    )
    assert code == 0 and "ms on CPU" in out


def test_ner_json_contract(capsys, en_ner_dir):
    text = "Ada Lovelace lived in London and Paris with the king."
    code, out, _ = run(capsys, "ner", "--model", str(en_ner_dir), "--text", text, "--json")
    assert code == 0
    data = json.loads(out)
    assert {"entities", "tokens", "timings_ms"} <= set(data)
    for e in data["entities"]:
        assert set(e) == {"text", "label", "start", "end", "score"}
        assert text[e["start"] : e["end"]] == e["text"]
    for t in data["tokens"]:
        assert set(t) == {"piece", "start", "end", "tag", "score"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "--question", "Who?", "--context", "  "], "context is empty"),
        (["ask", "--question", " ", "--context", "x"], "question is empty"),
        (["ask", "--question", "Who?", "--context", "x", "--device", "NPU9"], "Unknown device"),
        (["ner", "--text", "\n\n"], "text is empty"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, en_qa_dir, en_ner_dir, argv, message):
    model = en_ner_dir if argv[0] == "ner" else en_qa_dir
    code, _, err = run(capsys, argv[0], "--model", str(model), *argv[1:])
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_model_dir_subprocess(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_demo",
            "ask",
            "--model",
            str(tmp_path / "nope"),
            "--question",
            "Who?",
            "--context",
            "text",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("does not exist.")
    assert "Traceback" not in proc.stderr


def test_huge_input_subprocess(tmp_path, en_qa_dir):
    f = tmp_path / "big.txt"
    f.write_text("word " * 30_000, encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_demo",
            "ask",
            "--model",
            str(en_qa_dir),
            "--question",
            "Who?",
            "--context-file",
            str(f),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "limit is 100,000 characters" in proc.stderr and "Traceback" not in proc.stderr


# -- hostile and odd input ------------------------------------------------------------------


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refuses a wrong type itself
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", TEXTS)
def test_cli_ask_and_ner(name, en_qa_dir, en_ner_dir, capsys):
    text = TEXTS[name]
    code, out, err = cli(capsys, "ask", "--model", str(en_qa_dir), "--question", QUESTION,
                         "--context", text, "--top-k", "3", "--json")  # fmt: skip
    ner_code, ner_out, ner_err = cli(capsys, "ner", "--model", str(en_ner_dir), "--text", text,
                                     "--json")  # fmt: skip
    if name in REFUSED:
        expected = REFUSED[name][0]
        assert code == ner_code == EXIT_USER_ERROR
        assert expected in err and expected.replace("context", "text") in ner_err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + ner_err
        return
    assert code == ner_code == 0, err + ner_err
    check_offsets(text, json.loads(out)["answers"])
    check_offsets(text, json.loads(ner_out)["entities"])


@pytest.mark.parametrize("name", [n for n in TEXTS if n != "1mb"])
def test_cli_odd_questions(name, en_qa_dir, capsys):
    question = TEXTS[name]
    code, out, err = cli(capsys, "ask", "--model", str(en_qa_dir), "--question", question,
                         "--context", CONTEXT, "--json")  # fmt: skip
    if name in REFUSED:
        assert code == EXIT_USER_ERROR
        assert REFUSED[name][0].replace("context", "question") in err
        return
    if name in TOO_LONG_QUESTION:
        assert code == EXIT_USER_ERROR and TOO_LONG_QUESTION[name] in err
        return
    assert code == 0, err
    check_offsets(CONTEXT, json.loads(out)["answers"])


def test_cli_question_over_the_limit(en_qa_dir, capsys):
    code, _, err = cli(capsys, "ask", "--model", str(en_qa_dir), "--question", "why " * 300,
                       "--context", CONTEXT)  # fmt: skip
    assert code == EXIT_USER_ERROR
    assert "question is 1,200 characters long; the limit is 1,000" in err


@pytest.mark.parametrize(("options", "expected"), BAD_OPTIONS + WRONG_TYPES[:2])
def test_cli_options_out_of_range_or_wrong_type(options, expected, en_qa_dir, capsys):
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    code, _, err = cli(capsys, "ask", "--model", str(en_qa_dir), "--question", QUESTION,
                       "--context", CONTEXT, *flags)  # fmt: skip
    assert code == EXIT_USER_ERROR and "Traceback" not in err
    if isinstance(next(iter(options.values())), int):
        assert expected in err
    else:  # argparse's own words for a value that is not an int
        assert "invalid int value" in err
