"""``qa-demo model-server`` as a fleet: two servers behind a real nginx, one killed mid-run."""

from __future__ import annotations

import shutil
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from conftest import model_server, wait_ready
from qa_demo.errors import InputError
from qa_demo.qa import QuestionAnswerer
from qa_demo.remote import RemoteBackend
from qa_demo.tools.loadtest import free_port
from qa_demo.tools.model_server import serve

pytest.importorskip("kserve")
pytest.importorskip("tritonclient.http")
pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONTEXT = "Ada Lovelace wrote the report in London in 1843. Tokyo station opened in 1914."
QUESTIONS = ("Who wrote the report?", "Where was it written?", "When did the station open?")

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream fleet {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=30s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=30s;
    }}
    # Bodies in memory: the worker (user nobody) cannot write temp files under the test's
    # root-only tmp directory, and a window batch is tens of kB.
    client_max_body_size 64m;
    client_body_buffer_size 64m;
    proxy_max_temp_file_size 0;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fleet;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Inference is idempotent: a POST that failed on one server is sent to the other.
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_connect_timeout 2s;
        }}
    }}
}}
"""


@contextmanager
def running_fleet(models: list[Path], tmp_path: Path):
    """Two model servers of ``models`` behind nginx on loopback: (nginx URL, the servers)."""
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run installs it)")
    with ExitStack() as stack:
        servers = [stack.enter_context(model_server(*models)) for _ in range(2)]
        ports = [int(u.rsplit(":", 1)[1]) for u, _ in servers]
        port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp_path, a=ports[0], b=ports[1], port=port))
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)])
        stack.callback(nginx.wait, 30)
        stack.callback(nginx.terminate)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, nginx)
        yield url, servers


@pytest.fixture
def fleet(en_qa_dir, tmp_path):
    model = tmp_path / "en-qa"
    model.symlink_to(en_qa_dir, target_is_directory=True)
    with running_fleet([model], tmp_path) as (url, servers):
        yield url, model, servers


def test_a_killed_server_loses_no_request(fleet):
    url, model, servers = fleet
    local = QuestionAnswerer.load(model, precision="FP32")
    expected = {q: local.ask(q, CONTEXT).best for q in QUESTIONS}
    remote = QuestionAnswerer.load(model, engine=RemoteBackend(url, timeout_s=30))

    def ask(i: int):
        if i == 20:  # mid-run: one of the two servers dies without a word
            servers[0][1].kill()
        question = QUESTIONS[i % len(QUESTIONS)]
        return question, remote.ask(question, CONTEXT).best

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, range(60)))
    assert servers[0][1].wait(10) is not None  # it really died
    assert len(answers) == 60
    mismatches = [
        (q, a)
        for q, a in answers
        if (a.text, a.start, a.end) != (expected[q].text, expected[q].start, expected[q].end)
    ]
    assert not mismatches


def test_sigterm_stops_the_server_cleanly(en_qa_dir):
    with model_server(en_qa_dir) as (_, proc):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_grpc_on_loopback_is_refused_with_the_reason(en_qa_dir):
    with pytest.raises(InputError, match="gRPC server always listens on every address"):
        serve([en_qa_dir], host="127.0.0.1", grpc_port=free_port())


def test_loadtest_through_the_fleet_with_one_server_killed(
    models_root, tmp_path, monkeypatch, capsys
):
    """``qa-demo loadtest --remote``: the app runs its models on the fleet; one of the two
    servers is killed after the sequential pass, as the parallel users start."""
    import json

    from qa_demo.cli import main
    from qa_demo.tools import loadtest

    root = models_root()
    with running_fleet([root / n for n in ("en-qa", "en-ner", "ja-qa", "ja-ner")], tmp_path) as (
        url,
        servers,
    ):
        real_run_users = loadtest.run_users

        def kill_then_run(*args, **kwargs):
            servers[0][1].kill()
            servers[0][1].wait(10)
            return real_run_users(*args, **kwargs)

        monkeypatch.setattr(loadtest, "run_users", kill_then_run)
        argv = ["loadtest", "--users", "3", "--requests", "4", "--models", str(root)]
        code = main([*argv, "--remote", url, "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        report = json.loads(out)
    assert servers[0][1].returncode is not None  # the first server really died
    assert report["remote"] == url
    assert report["requests"] == report["answered"] == 12
    assert report["failures"] == {"error": 0, "timeout": 0, "mismatch": 0}
