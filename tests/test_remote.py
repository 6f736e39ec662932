"""The remote backend against a real ``qa-demo model-server`` (kserve) on loopback."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import model_server
from qa_demo.cli import main
from qa_demo.ner import EntityTagger
from qa_demo.qa import QuestionAnswerer
from qa_demo.remote import RemoteBackend, RemoteError, check_tensors
from qa_demo.tools.loadtest import free_port

pytest.importorskip("kserve")
pytest.importorskip("tritonclient.http")
pytestmark = pytest.mark.slow

EN_CONTEXT = "Ada Lovelace wrote the report in London in 1843. Tokyo station opened in 1914."
JA_CONTEXT = "山田太郎氏は東京都内で記者会見を開き、新しい工場を大阪に建設すると発表した。"


SERVED = ("en-qa", "en-ner", "ja-qa", "ja-ner")


@pytest.fixture(scope="module")
def server(models_root):
    root = models_root(*SERVED)
    with model_server(*(root / n for n in SERVED)) as (url, proc):
        yield url, root, proc


def test_answers_through_the_server_equal_local_answers(server):
    url, root, _ = server
    for name, question, context in (
        ("en-qa", "Who wrote the report?", EN_CONTEXT),
        ("ja-qa", "どこに工場を建設しますか？", JA_CONTEXT),
    ):
        local = QuestionAnswerer.load(root / name, precision="FP32").ask(question, context, top_k=3)
        remote = QuestionAnswerer.load(root / name, engine=RemoteBackend(url)).ask(
            question, context, top_k=3
        )
        assert [(a.text, a.start, a.end) for a in remote.answers] == [
            (a.text, a.start, a.end) for a in local.answers
        ]
        for a, b in zip(remote.answers, local.answers, strict=True):
            assert abs(a.score - b.score) < 1e-4
        assert remote.device == "REMOTE" and url in remote.precision.executed
    for name, text in (("en-ner", EN_CONTEXT), ("ja-ner", JA_CONTEXT)):
        local = EntityTagger.load(root / name, precision="FP32").tag(text)
        remote = EntityTagger.load(root / name, engine=RemoteBackend(url)).tag(text)
        assert [(e.label, e.start, e.end) for e in remote.entities] == [
            (e.label, e.start, e.end) for e in local.entities
        ]
        assert [t.tag for t in remote.tokens] == [t.tag for t in local.tokens]
        for a, b in zip(remote.tokens, local.tokens, strict=True):
            assert abs(a.score - b.score) < 1e-4


def test_timings_show_the_network_apart(server):
    url, root, _ = server
    result = QuestionAnswerer.load(root / "en-qa", engine=RemoteBackend(url)).ask(
        "Who wrote the report?", EN_CONTEXT
    )
    assert 0 < result.timings.network < result.timings.infer
    local = QuestionAnswerer.load(root / "en-qa", precision="FP32").ask("Who?", EN_CONTEXT)
    assert local.timings.network == 0


def test_the_server_listens_on_loopback_only(server):
    url = server[0]
    port = int(url.rsplit(":", 1)[1])
    out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    mine = [line for line in out.splitlines() if f":{port} " in line]
    if not mine:
        pytest.skip("ss shows no sockets here")
    assert all("127.0.0.1:" in line for line in mine), mine


def test_cli_ask_and_ner_through_the_server(server, capsys):
    url, root, _ = server
    argv = ["ask", "--model", str(root / "en-qa"), "--question", "Who?", "--context", EN_CONTEXT]
    assert main([*argv, "--remote", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    best = data["answers"][0]
    assert best["text"] == EN_CONTEXT[best["start"] : best["end"]]
    argv = ["ner", "--model", str(root / "en-ner"), "--text", EN_CONTEXT, "--remote", url]
    assert main([*argv, "--json"]) == 0


# -- failures: each one clear line, exit 2, nothing hung ----------------------------------------
def _ask(model: Path, *extra: str) -> list[str]:
    return ["ask", "--model", str(model), "--question", "Who?", "--context", EN_CONTEXT, *extra]


def test_server_down(en_qa_dir, capsys):
    assert main(_ask(en_qa_dir, "--remote", f"http://127.0.0.1:{free_port()}")) == 2
    err = capsys.readouterr().err.strip()
    assert "Cannot reach the model server" in err and "\n" not in err


def test_wrong_model_name_gives_the_servers_message(server, capsys):
    url, root, _ = server
    assert main(_ask(root / "en-qa", "--remote", url, "--remote-model", "nope")) == 2
    err = capsys.readouterr().err.strip()
    assert "refused model 'nope'" in err and "nope" in err.split("refused", 1)[1]


def test_time_out(en_qa_dir, capsys):
    # A server that accepts the connection and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        accepted = []
        threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        t0 = time.monotonic()
        assert main(_ask(en_qa_dir, "--remote", url, "--timeout", "1")) == 2
        assert time.monotonic() - t0 < 30  # nothing hung (the limit is --timeout, 1 s)
    err = capsys.readouterr().err.strip()
    assert url in err and "\n" not in err


def test_vocabulary_that_does_not_match_the_local_model(server, tmp_path, capsys):
    url, root, _ = server
    local = tmp_path / "en-qa"
    shutil.copytree(root / "en-qa", local)
    config = json.loads((local / "config.json").read_text())
    config["vocab_size"] += 7
    (local / "config.json").write_text(json.dumps(config))
    assert main(_ask(local, "--remote", url)) == 2
    assert "vocabulary rows" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("declared", "needle"),
    [
        (
            [{"name": "input_ids", "datatype": "INT64", "shape": [-1, -1]}],
            "needs ['attention_mask']",
        ),
        (
            [
                {"name": "input_ids", "datatype": "FP32", "shape": [-1, -1]},
                {"name": "attention_mask", "datatype": "INT64", "shape": [-1, -1]},
            ],
            "input_ids is FP32, expected INT64",
        ),
        (
            [
                {"name": "input_ids", "datatype": "INT64", "shape": [-1]},
                {"name": "attention_mask", "datatype": "INT64", "shape": [-1, -1]},
            ],
            "has shape [-1]",
        ),
    ],
)
def test_input_name_datatype_or_shape_mismatch(declared, needle):
    expected = {"input_ids": "INT64", "attention_mask": "INT64"}
    with pytest.raises(RemoteError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        check_tensors(declared, expected, "m", "http://x")
