"""``qa-demo loadtest``: many users at once against a launched app, through gradio_client.

The app runs as a subprocess (``python -m qa_demo serve``, QA_DEMO_MODELS set): the server a
class would use, with its queue, concurrency limit and memory. Stages: launch -> the sequential
answers, one at a time (also the warm-up: every model compiled, every shape seen) -> N users in
parallel, each its own Client, over English and Japanese QA, NER, tokenize and a long context.
It fails (exit 2, one line) on an error or time-out, an answer unlike the sequential one, or
server RSS after the run more than ``MAX_RSS_GROWTH`` above RSS after warm-up (a leak, or a
pool that is not bounded).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import QADemoError
from .loadtest_mix import Case, cases, remote_picks

DEFAULT_USERS = 40
DEFAULT_REQUESTS = 25
#: RSS after the run may exceed RSS after warm-up by at most this share.
MAX_RSS_GROWTH = 0.10
#: Seconds the app may take to start (imports, reading models) before the test gives up.
READY_TIMEOUT_S = 300.0
#: Seconds one request may take, queueing included, before it counts as timed out.
REQUEST_TIMEOUT_S = 300.0
#: Keys whose values change from run to run (wall-clock times); left out of the comparison.
VOLATILE_KEYS = frozenset({"timings_ms"})


def canonical(value: Any) -> Any:
    """``value`` without its wall-clock timings: what must equal the sequential answer."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


# -- the server ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """``key`` (VmRSS now, VmHWM the peak) of process ``pid`` from /proc, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise QADemoError(f"/proc/{pid}/status has no {key}.")


class Server:
    """The app as a subprocess on a free port; its output goes to a log file."""

    def __init__(self, models: Path, port: int | None = None, remote: str | None = None) -> None:
        self.models = models
        self.remote = remote
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = Path(tempfile.mkstemp(prefix="qa-demo-loadtest-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        env = {**os.environ, "QA_DEMO_MODELS": str(self.models), "PYTHONUNBUFFERED": "1",
               "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
        if self.remote:
            env["QA_DEMO_REMOTE"] = self.remote
        cmd = [sys.executable, "-m", "qa_demo", "serve", "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.unlink(missing_ok=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None  # set in __enter__
        return self.proc.pid

    def log_tail(self, lines: int = 15) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").strip()
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Seconds until the app answers HTTP; a server that exits or hangs is an error."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise QADemoError(
                    f"The app exited with code {self.proc.returncode} before it was ready:\n"
                    + self.log_tail()
                )
            try:
                with urllib.request.urlopen(self.url + "config", timeout=5) as resp:
                    if resp.status == 200:
                        return time.perf_counter() - t0
            except OSError:  # not listening yet
                pass
            time.sleep(0.5)
        raise QADemoError(f"The app was not ready after {timeout:.0f} s:\n" + self.log_tail())


@contextlib.contextmanager
def peak_rss(pid: int, every_s: float = 0.05) -> Iterator[list[float]]:
    """The server's RSS sampled in a thread meanwhile; the list's one item is the peak."""
    peak, stop = [rss_mb(pid)], threading.Event()

    def sample() -> None:
        while not stop.wait(every_s):
            with contextlib.suppress(OSError, QADemoError):  # gone: the run will say so
                peak[0] = max(peak[0], rss_mb(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


# -- the clients -----------------------------------------------------------------------------------
def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


def sequential_answers(url: str, mix: list[Case], timeout: float) -> dict[str, Any]:
    """Each case once, one after another: the answers every parallel request must equal."""
    c = client(url)
    try:
        return {
            case.name: canonical(c.submit(*case.args, api_name=case.api_name).result(timeout))
            for case in mix
        }
    finally:
        c.close()


@dataclass
class Outcome:
    """One parallel request: which case, how long it took, and what went wrong, if anything."""

    case: str
    seconds: float
    error: str = ""  # "" when answered and equal to the sequential answer
    kind: str = ""  # "error", "timeout" or "mismatch"


def one_request(c, case: Case, expected: Any, timeout: float) -> Outcome:
    """Send ``case``; its Outcome, compared with the sequential answer ``expected``."""
    from concurrent.futures import TimeoutError as FutureTimeout

    t0 = time.perf_counter()
    try:
        got = canonical(c.submit(*case.args, api_name=case.api_name).result(timeout))
    except (TimeoutError, FutureTimeout):
        return Outcome(case.name, time.perf_counter() - t0, "no answer in time", "timeout")
    except Exception as exc:  # every failure is counted, not raised
        return Outcome(case.name, time.perf_counter() - t0, f"{exc!r:.300}", "error")
    seconds = time.perf_counter() - t0
    if got != expected:
        return Outcome(case.name, seconds, "differs from the sequential answer", "mismatch")
    return Outcome(case.name, seconds)


def run_users(
    url: str, mix: list[Case], expected: dict[str, Any], users: int, requests: int, timeout: float
) -> tuple[list[Outcome], float]:
    """``users`` threads, each its own Client, all starting together; (outcomes, wall s)."""
    start = threading.Barrier(users + 1)
    outcomes: list[list[Outcome]] = [[] for _ in range(users)]

    def user(u: int) -> None:
        try:
            c = client(url)
        except Exception as exc:  # a user that cannot connect is a failure, not a crash
            start.abort()
            outcomes[u].append(Outcome("connect", 0.0, f"{exc!r:.300}", "error"))
            return
        try:
            start.wait()  # each user starts at another case of the mix
            for case in (mix[(u + i) % len(mix)] for i in range(requests)):
                outcomes[u].append(one_request(c, case, expected[case.name], timeout))
        except threading.BrokenBarrierError:
            pass
        finally:
            c.close()

    threads = [threading.Thread(target=user, args=(u,), daemon=True) for u in range(users)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a user could not connect
        start.wait()  # every Client connected: the clock starts
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return [o for user_outcomes in outcomes for o in user_outcomes], time.perf_counter() - t0


# -- the report ------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between ranks; 0 for no values."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def latency_ms(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    top = ms[-1] if ms else 0.0
    return {k: round(v, 1) for k, v in (("p50", percentile(ms, 50)),
                                        ("p95", percentile(ms, 95)), ("max", top))}  # fmt: skip


def build_report(
    args, outcomes: list[Outcome], wall_s: float, rss: dict[str, float], ready_s: float
) -> dict[str, Any]:
    from .bench.machine import cpu_name

    failed = [o for o in outcomes if o.kind]
    by_case: dict[str, list[float]] = {}
    for o in outcomes:
        by_case.setdefault(o.case, []).append(o.seconds)
    growth = rss["after"] / rss["after_warmup"] - 1 if rss["after_warmup"] else 0.0
    return {
        "users": args.users,
        "requests_per_user": args.requests,
        "requests": len(outcomes),
        "expected": args.users * args.requests,
        "answered": len(outcomes) - len(failed),
        "failures": {k: sum(o.kind == k for o in failed) for k in ("error", "timeout", "mismatch")},
        "first_failures": [f"{o.case}: {o.kind}: {o.error}" for o in failed[:5]],
        "latency_ms": latency_ms([o.seconds for o in outcomes]),
        "latency_ms_by_case": {k: latency_ms(v) for k, v in sorted(by_case.items())},
        "throughput_rps": round(len(outcomes) / wall_s, 2) if wall_s else 0.0,
        "wall_s": round(wall_s, 2),
        "ready_s": round(ready_s, 1),
        "rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "rss_growth_pct": round(100 * growth, 1),
        "rss_growth_limit_pct": round(100 * MAX_RSS_GROWTH, 1),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "load_1m": os.getloadavg()[0]},
        "models": str(args.models),
        "remote": args.remote,
    }


def human(report: dict[str, Any]) -> str:
    r, lat, rss, fails, m = (report, report["latency_ms"], report["rss_mb"], report["failures"],
                             report["machine"])  # fmt: skip
    return "\n".join([
        f"{r['users']} users x {r['requests_per_user']} requests = {r['requests']} in "
        f"{r['wall_s']} s ({r['throughput_rps']} requests/s); app ready in {r['ready_s']} s",
        f"answered {r['answered']}; errors {fails['error']}, time-outs {fails['timeout']}, "
        f"answers unlike the sequential ones {fails['mismatch']}",
        f"latency p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms, max {lat['max']:.0f} ms",
        *(f"  {k:<12} p50 {v['p50']:>7.0f} ms  p95 {v['p95']:>7.0f} ms"
          for k, v in r["latency_ms_by_case"].items()),
        f"server RSS: {rss['after_warmup']:.0f} MB after warm-up, {rss['peak']:.0f} MB peak, "
        f"{rss['after']:.0f} MB after the run ({r['rss_growth_pct']:+.1f}%; limit "
        f"+{r['rss_growth_limit_pct']:.0f}%)",
        f"machine: {m['cpu']}, {m['cores']} cores, load {m['load_1m']:.2f}",
        *r["first_failures"],
    ])  # fmt: skip


def verdict(report: dict[str, Any]) -> str | None:
    """The one line that fails the run, or None when it passed."""
    asked = report.get("expected", report["requests"])
    failed = asked - report["answered"]
    if failed:
        kinds = ", ".join(f"{n} {k}" for k, n in report["failures"].items() if n) or "no answer"
        return f"loadtest failed: {failed} of {asked} requests failed ({kinds})."
    if report["rss_growth_pct"] > report["rss_growth_limit_pct"]:
        rss = report["rss_mb"]
        return (
            f"loadtest failed: server RSS after the run ({rss['after']:.0f} MB) is "
            f"{report['rss_growth_pct']:.1f}% above RSS after warm-up ({rss['after_warmup']:.0f} "
            f"MB); the limit is {report['rss_growth_limit_pct']:.0f}%."
        )
    return None


# -- qa-demo loadtest ------------------------------------------------------------------------------
def loadtest(args) -> dict[str, Any]:
    """Launch, warm up with the sequential answers, run the users; the report."""
    models = Path(args.models)
    if not models.is_dir():
        raise QADemoError(f"The models directory {models} does not exist.")
    mix = cases(remote_picks(models, args.remote) if args.remote else None)
    with Server(models.resolve(), remote=args.remote) as server:
        ready_s = server.wait_ready()
        expected = sequential_answers(server.url, mix, args.timeout)
        rss = {"after_warmup": rss_mb(server.pid)}
        with peak_rss(server.pid) as peak:
            outcomes, wall_s = run_users(
                server.url, mix, expected, args.users, args.requests, args.timeout
            )
        time.sleep(1.0)  # let the last responses' buffers go before reading RSS
        rss["peak"] = max(peak[0], rss_mb(server.pid))
        rss["after"] = rss_mb(server.pid)
        rss["lifetime_peak"] = rss_mb(server.pid, "VmHWM")
    return build_report(args, outcomes, wall_s, rss, ready_s)


def cmd_loadtest(args) -> None:
    if args.users < 1 or args.requests < 1:
        raise QADemoError("--users and --requests must be at least 1.")
    report = loadtest(args)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(human(report))
    failure = verdict(report)
    if failure:
        raise QADemoError(failure)


def add_subcommands(sub) -> None:
    p = sub.add_parser("loadtest", help="launch the app, send it parallel users' requests: "
                       "errors, equal answers, latency, throughput, server memory")  # fmt: skip
    p.add_argument("--users", type=int, default=DEFAULT_USERS, help="parallel users (threads)")
    p.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="requests per user")
    p.add_argument(
        "--models",
        default=os.environ.get("QA_DEMO_MODELS") or "models",
        help="models directory the app serves (default: $QA_DEMO_MODELS or models/)",
    )
    p.add_argument("--timeout", type=float, default=REQUEST_TIMEOUT_S,
                   help="seconds one request may take, queueing included")  # fmt: skip
    p.add_argument(
        "--remote",
        metavar="URL",
        help="run the mix's models on this KServe v2 server (a model-server, or nginx in front "
        "of several): the app is started with QA_DEMO_REMOTE and picks them as remote models",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_loadtest)
