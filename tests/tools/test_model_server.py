"""``qa-demo model-server`` as a fleet: two servers behind a real nginx, one killed mid-run."""

from __future__ import annotations

import shutil
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
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


@pytest.fixture
def fleet(en_qa_dir, tmp_path):
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run installs it)")
    model = tmp_path / "en-qa"
    model.symlink_to(en_qa_dir, target_is_directory=True)
    with ExitStack() as stack:
        servers = [stack.enter_context(model_server(model)) for _ in range(2)]
        ports = [int(u.rsplit(":", 1)[1]) for u, _ in servers]
        port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp_path, a=ports[0], b=ports[1], port=port))
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)])
        stack.callback(nginx.wait, 30)
        stack.callback(nginx.terminate)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, nginx)
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
